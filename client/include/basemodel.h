/*
 * basemodel.h
 *	  The public interface of libbasemodel, the C client of basemodel.
 */
#ifndef BASEMODEL_CLIENT_H
#define BASEMODEL_CLIENT_H

#ifdef __cplusplus
extern "C" {
#endif

/* version of the library, "MAJOR.MINOR" */
const char *bm_version(void);

#ifdef __cplusplus
}
#endif

#endif /* BASEMODEL_CLIENT_H */
