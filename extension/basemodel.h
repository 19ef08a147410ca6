/*
 * basemodel.h
 *	  Declarations shared by the files of the basemodel server module.
 */
#ifndef BASEMODEL_H
#define BASEMODEL_H

#include "compat.h"

/* the name of the BEFORE UPDATE trigger register installs (see README) */
#define BASEMODEL_TRIGGER_NAME "zzz_basemodel_update"

/* columns of basemodel.registry, by position (new ones go at the end) */
#define Anum_registry_tbl				1
#define Anum_registry_id_column			2
#define Anum_registry_created_column	3
#define Anum_registry_updated_column	4
#define Anum_registry_hidden			5
#define Anum_registry_ignore_columns	6
#define Anum_registry_skip_unchanged	7
#define Anum_registry_added_columns		8
#define Natts_registry					8

/* One table's registration, as read from basemodel.registry. */
typedef struct BaseModelRegistration
{
	Oid			regrelid;		/* the registered table: the relation itself
								 * or, for a partition, an ancestor */
	char	   *id_column;		/* NULL when the table has none */
	char	   *created_column;
	char	   *updated_column;
	int			nhidden;
	char	  **hidden;
	int			nignored;
	char	  **ignored;
	bool		skip_unchanged;
} BaseModelRegistration;

/* value of the basemodel.allow_base_column_updates setting */
extern bool BaseModelAllowBaseColumnUpdates;

extern void _PG_init(void);

/* registry.c */
extern uint64 BaseModelCacheGeneration;
extern void BaseModelRegistryInit(void);
extern bool BaseModelFindRegistration(Oid relid, MemoryContext mcxt,
									  BaseModelRegistration *reg);
extern int	BaseModelFindColumn(TupleDesc tupdesc, const char *name);

/* trigger.c */
extern void BaseModelTriggerInit(void);

#endif							/* BASEMODEL_H */
