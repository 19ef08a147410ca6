/*
 * registry.c
 *	  Reading basemodel.registry from C, and keeping the per-relation caches
 *	  of other backends honest when a row of it changes.
 *
 * The C code reads the catalog table directly (not through SPI): it needs no
 * privilege on it, ignores row level security, and runs only when a cache
 * is filled, never per row.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "basemodel.h"

PG_FUNCTION_INFO_V1(basemodel_registry_changed);

/*
 * Counts relcache invalidations seen by this backend.  A registry change
 * invalidates its table (see basemodel_registry_changed), and so does any
 * change of a row type, so a cache that remembers the generation it was
 * built in knows, without a lookup, when it may be stale.
 */
uint64		BaseModelCacheGeneration = 0;

/* Any relcache invalidation may be a registration's: move the generation on. */
static void
BaseModelCacheCallback(Datum arg, Oid relid)
{
	BaseModelCacheGeneration++;
}

/* Called from _PG_init, before the callbacks of the caches that read the generation. */
void
BaseModelRegistryInit(void)
{
	CacheRegisterRelcacheCallback(BaseModelCacheCallback, (Datum) 0);
}

/* A name column of the registry row, copied into mcxt; NULL stays NULL. */
static char *
RegistryName(HeapTuple tuple, TupleDesc tupdesc, int attnum, MemoryContext mcxt)
{
	bool		isnull;
	Datum		value = heap_getattr(tuple, attnum, tupdesc, &isnull);

	if (isnull)
		return NULL;
	return MemoryContextStrdup(mcxt, NameStr(*DatumGetName(value)));
}

/* A name[] column of the registry row, copied into mcxt; NULL elements are skipped. */
static int
RegistryNames(HeapTuple tuple, TupleDesc tupdesc, int attnum, MemoryContext mcxt,
			  char ***names)
{
	bool		isnull;
	Datum		value = heap_getattr(tuple, attnum, tupdesc, &isnull);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			n = 0;

	*names = NULL;
	if (isnull)
		return 0;
	deconstruct_array(DatumGetArrayTypeP(value), NAMEOID, NAMEDATALEN, false,
					  TYPALIGN_CHAR, &elems, &nulls, &nelems);
	if (nelems == 0)
		return 0;
	*names = MemoryContextAlloc(mcxt, sizeof(char *) * nelems);
	for (int i = 0; i < nelems; i++)
	{
		if (nulls[i])
			continue;
		(*names)[n++] = MemoryContextStrdup(mcxt, NameStr(*DatumGetName(elems[i])));
	}
	return n;
}

/* Look for relid's own row in the registry; fill reg when there is one. */
static bool
ReadRegistryRow(Relation registry, Oid relid, MemoryContext mcxt,
				BaseModelRegistration *reg)
{
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Snapshot	snapshot;
	bool		found = false;

	ScanKeyInit(&key, Anum_registry_tbl, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	/*
	 * The latest snapshot, so that a trigger sees a registration committed
	 * while its statement waited for register's lock (also under REPEATABLE
	 * READ, where the table's new columns are visible too); parallel workers
	 * (to_dict is parallel safe) may not take one and use the active snapshot.
	 */
	snapshot = RegisterSnapshot(IsInParallelMode() ? GetActiveSnapshot() : GetLatestSnapshot());
	scan = systable_beginscan(registry, InvalidOid, false, snapshot, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		TupleDesc	tupdesc = RelationGetDescr(registry);
		bool		isnull;
		Datum		skip;

		found = true;
		reg->regrelid = relid;
		reg->id_column = RegistryName(tuple, tupdesc, Anum_registry_id_column, mcxt);
		reg->created_column = RegistryName(tuple, tupdesc, Anum_registry_created_column, mcxt);
		reg->updated_column = RegistryName(tuple, tupdesc, Anum_registry_updated_column, mcxt);
		reg->nhidden = RegistryNames(tuple, tupdesc, Anum_registry_hidden, mcxt,
									 &reg->hidden);
		reg->nignored = RegistryNames(tuple, tupdesc, Anum_registry_ignore_columns, mcxt,
									  &reg->ignored);
		skip = heap_getattr(tuple, Anum_registry_skip_unchanged, tupdesc, &isnull);
		reg->skip_unchanged = !isnull && DatumGetBool(skip);
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	return found;
}

/*
 * Find the registration that covers relation relid: its own, or for a
 * partition the one of its nearest registered ancestor.  Strings are
 * allocated in mcxt.  Returns false when the relation is not registered (or
 * the extension's schema is missing, as while it is being dropped).
 */
bool
BaseModelFindRegistration(Oid relid, MemoryContext mcxt, BaseModelRegistration *reg)
{
	Oid			nspid;
	Oid			registryid;
	Relation	registry;
	bool		found;

	memset(reg, 0, sizeof(*reg));
	nspid = get_namespace_oid("basemodel", true);
	if (!OidIsValid(nspid))
		return false;
	registryid = get_relname_relid("registry", nspid);
	if (!OidIsValid(registryid))
		return false;

	registry = table_open(registryid, AccessShareLock);
	found = ReadRegistryRow(registry, relid, mcxt, reg);
	if (!found && get_rel_relispartition(relid))
	{
		List	   *ancestors = get_partition_ancestors(relid);
		ListCell   *lc;

		foreach(lc, ancestors)
		{
			if ((found = ReadRegistryRow(registry, lfirst_oid(lc), mcxt, reg)))
				break;
		}
		list_free(ancestors);
	}
	table_close(registry, AccessShareLock);
	return found;
}

/* The attnum of the live column called name, or 0. */
int
BaseModelFindColumn(TupleDesc tupdesc, const char *name)
{
	if (name == NULL)
		return 0;
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i + 1;
	}
	return 0;
}

/* Invalidate the relcache entry of the table a registry row names, if it still exists. */
static void
InvalidateRegisteredTable(HeapTuple tuple, TupleDesc tupdesc)
{
	bool		isnull;
	Datum		relid = heap_getattr(tuple, Anum_registry_tbl, tupdesc, &isnull);

	if (!isnull && SearchSysCacheExists1(RELOID, relid))
		CacheInvalidateRelcacheByRelid(DatumGetObjectId(relid));
}

/*
 * AFTER row trigger of basemodel.registry: every change to a registration
 * (register, unregister, a followed rename, pg_restore's COPY) invalidates
 * the table, so that each backend's trigger cache reloads it.
 */
Datum
basemodel_registry_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("basemodel._registry_changed() must be called as a trigger")));

	tupdesc = RelationGetDescr(trigdata->tg_relation);
	if (trigdata->tg_trigtuple)
		InvalidateRegisteredTable(trigdata->tg_trigtuple, tupdesc);
	if (trigdata->tg_newtuple)
		InvalidateRegisteredTable(trigdata->tg_newtuple, tupdesc);
	return PointerGetDatum(NULL);
}
