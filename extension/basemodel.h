/*
 * basemodel.h
 *	  Declarations shared by the files of the basemodel server module.
 */
#ifndef BASEMODEL_H
#define BASEMODEL_H

#include "compat.h"

/* value of the basemodel.allow_base_column_updates setting */
extern bool BaseModelAllowBaseColumnUpdates;

extern void _PG_init(void);

#endif							/* BASEMODEL_H */
