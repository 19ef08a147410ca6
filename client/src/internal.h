/*
 * internal.h
 *	  Declarations shared by the files of libbasemodel and hidden from users.
 */
#ifndef BM_INTERNAL_H
#define BM_INTERNAL_H

/* marks a function the public header declares: everything else is hidden */
#define BM_EXPORT __attribute__((visibility("default")))

#endif /* BM_INTERNAL_H */
