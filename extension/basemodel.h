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
	Oid			regrelid;		/* the registered table: for a partition, the
								 * ancestor whose trigger its own was cloned from */
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

/*
 * What the trigger and to_dict need of one relation, kept per relid by
 * registry.c until a relcache invalidation of that relation.  Entries never
 * move or go away, so a call site may keep a pointer to one and compare
 * generation to know whether what it derived from it is still current.
 */
typedef struct BaseModelTable
{
	Oid			relid;			/* hash key */
	bool		valid;			/* false once an invalidation of relid came */
	uint64		invalidations;	/* counts them, to notice one during a fill */
	uint64		generation;		/* changes every time the entry is filled */
	MemoryContext mcxt;			/* holds reg's strings and the arrays below */
	bool		registered;		/* the relation has basemodel's trigger */
	BaseModelRegistration reg;	/* all empty when not registered */
	int			natts;			/* of the row type the columns were resolved in */
	AttrNumber	id_attnum;		/* 0: not mapped, or no such live column */
	AttrNumber	created_attnum;
	AttrNumber	updated_attnum;
	Oid			updated_typid;	/* type of the updated column, when there is one */
	bool	   *ignored;		/* [natts]: named in ignore_columns */
} BaseModelTable;

/* value of the basemodel.allow_base_column_updates setting */
extern bool BaseModelAllowBaseColumnUpdates;

extern void _PG_init(void);

/* registry.c */
extern void BaseModelRegistryInit(void);
extern BaseModelTable *BaseModelGetTable(Oid relid);
extern bool BaseModelFindRegistration(Oid relid, MemoryContext mcxt,
									  BaseModelRegistration *reg);
extern Datum BaseModelNameOrNull(const char *name, bool *isnull);

/* call.c: the install script's internal functions, called without an EXECUTE check */
extern Datum BaseModelCall(const char *name, int nargs, const Datum *args,
						   const bool *nulls, bool *isnull);
extern void BaseModelRun(const char *name, int nargs, const Datum *args,
						 const bool *nulls);
extern bool BaseModelCallBool(const char *name, int nargs, const Datum *args,
							  const bool *nulls);

/* guard.c */
struct CollectedCommand;
extern void BaseModelLockTable(Oid relid, bool exclusive);
extern void BaseModelCheckAlterTable(struct CollectedCommand *cmd);
extern void BaseModelCheckIdUnique(Oid relid);

/* register.c */
extern bool BaseModelIdIsUnique(Oid relid, const char *col);
extern void BaseModelWriteRegistration(Datum reg);
extern void BaseModelCheckRegistration(Oid relid);

#endif							/* BASEMODEL_H */
