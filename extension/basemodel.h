/*
 * basemodel.h
 *	  Declarations shared by the files of the basemodel server module.
 */
#ifndef BASEMODEL_H
#define BASEMODEL_H

#include "compat.h"

/* the name of the BEFORE UPDATE trigger register installs (see README) */
#define BASEMODEL_TRIGGER_NAME "zzz_basemodel_update"

/* One table's registration, as read from the arguments of its trigger. */
typedef struct BaseModelRegistration
{
	Oid			regrelid;		/* the registered table (a partition's: the ancestor) */
	char	   *id_column;		/* NULL when the table has none */
	char	   *created_column;
	char	   *updated_column;
	int			nhidden;
	char	  **hidden;
	int			nignored;
	char	  **ignored;
	int			nadded;
	char	  **added;			/* columns register added: mapped ones only */
	bool		skip_unchanged;
} BaseModelRegistration;

/* value of the basemodel.allow_base_column_updates setting */
extern bool BaseModelAllowBaseColumnUpdates;

extern void _PG_init(void);

/* registry.c */
extern uint64 BaseModelCacheGeneration;
extern void BaseModelRegistryInit(void);
extern void BaseModelParseRegistration(const char *relname, int nargs, char **args,
									   MemoryContext mcxt, BaseModelRegistration *reg);
extern bool BaseModelFindRegistration(Oid relid, MemoryContext mcxt,
									  BaseModelRegistration *reg);
extern int	BaseModelFindColumn(TupleDesc tupdesc, const char *name);

/* trigger.c */
extern void BaseModelTriggerInit(void);

#endif							/* BASEMODEL_H */
