/*
 * trigger.c
 *	  basemodel.before_update(): the BEFORE UPDATE row trigger of registered
 *	  tables.  It sets the updated column to the transaction timestamp
 *	  (honouring ignore_columns and skip_unchanged) and refuses changes to the
 *	  id and created columns unless basemodel.allow_base_column_updates is on.
 *
 * Everything that does not change from row to row (the registration, read
 * from the trigger's own argument, the attnums, which columns are ignored)
 * is resolved once per trigger and kept in a hash table; a relcache
 * invalidation of the relation drops the entry.  Creating, replacing or
 * dropping a trigger sends one, and so does any change of the row type.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "access/tupmacs.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "basemodel.h"

PG_FUNCTION_INFO_V1(basemodel_before_update);

/* What the trigger knows about one relation's trigger. */
typedef struct ModelTriggerInfo
{
	Oid			tgoid;			/* hash key: the trigger (a partition has its own clone) */
	Oid			relid;			/* the relation it fires on */
	bool		valid;
	AttrNumber	id_attnum;		/* 0: no such managed column */
	AttrNumber	created_attnum;
	AttrNumber	updated_attnum;
	bool		updated_is_tz;	/* timestamptz rather than timestamp */
	bool		skip_unchanged;
	bool		compare;		/* must compare old and new rows column by column */
	int			natts;
	bool	   *ignored;		/* [natts], in TopMemoryContext */
} ModelTriggerInfo;

static HTAB *ModelTriggerCache = NULL;

/* Drop the cached information of the triggers of relid, or of all. */
static void
ModelTriggerCacheCallback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	ModelTriggerInfo *info;

	if (ModelTriggerCache == NULL)
		return;
	hash_seq_init(&status, ModelTriggerCache);
	while ((info = hash_seq_search(&status)) != NULL)
	{
		if (relid == InvalidOid || info->relid == relid)
			info->valid = false;
	}
}

/* Called from _PG_init. */
void
BaseModelTriggerInit(void)
{
	CacheRegisterRelcacheCallback(ModelTriggerCacheCallback, (Datum) 0);
}

/* Resolve a managed column of the registration, or fail clearly. */
static AttrNumber
ManagedColumn(Relation rel, const char *name)
{
	AttrNumber	attnum;

	if (name == NULL)
		return 0;
	attnum = BaseModelFindColumn(RelationGetDescr(rel), name);
	if (attnum == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						name, RelationGetRelationName(rel)),
				 errdetail("basemodel's registration of the table names it."),
				 errhint("Call basemodel.register again with the right mapping.")));
	return attnum;
}

/*
 * Resolve the table's managed and ignored columns once, from the arguments
 * of the trigger (its registration).  Nothing here reads the catalogs, so
 * no invalidation can arrive while it runs.
 */
static void
FillModelTriggerInfo(ModelTriggerInfo *info, Relation rel, Trigger *trigger)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	BaseModelRegistration reg;
	MemoryContext tmp;
	MemoryContext old;

	tmp = AllocSetContextCreate(CurrentMemoryContext, "basemodel registration",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(tmp);
	BaseModelParseRegistration(RelationGetRelationName(rel), trigger->tgnargs,
							   trigger->tgargs, tmp, &reg);

	info->id_attnum = ManagedColumn(rel, reg.id_column);
	info->created_attnum = ManagedColumn(rel, reg.created_column);
	info->updated_attnum = ManagedColumn(rel, reg.updated_column);
	info->updated_is_tz = true;
	if (info->updated_attnum != 0)
	{
		Oid			typid = TupleDescAttr(tupdesc, info->updated_attnum - 1)->atttypid;

		if (typid != TIMESTAMPTZOID && typid != TIMESTAMPOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of relation \"%s\" is of type %s, not timestamptz or timestamp",
							reg.updated_column, RelationGetRelationName(rel),
							format_type_be(typid))));
		info->updated_is_tz = (typid == TIMESTAMPTZOID);
	}
	info->skip_unchanged = reg.skip_unchanged;
	info->compare = reg.skip_unchanged || reg.nignored > 0;

	if (info->ignored)
		pfree(info->ignored);
	info->natts = tupdesc->natts;
	info->ignored = MemoryContextAllocZero(TopMemoryContext, sizeof(bool) * tupdesc->natts);
	for (int i = 0; i < reg.nignored; i++)
	{
		AttrNumber	attnum = BaseModelFindColumn(tupdesc, reg.ignored[i]);

		if (attnum > 0)
			info->ignored[attnum - 1] = true;
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	info->valid = true;
}

/* The cached column numbers for this trigger, filled again after an invalidation. */
static ModelTriggerInfo *
GetModelTriggerInfo(Relation rel, Trigger *trigger)
{
	ModelTriggerInfo *info;
	bool		found;

	if (ModelTriggerCache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(ModelTriggerInfo);
		ModelTriggerCache = hash_create("basemodel trigger cache", 64, &ctl,
										HASH_ELEM | HASH_BLOBS);
	}
	info = hash_search(ModelTriggerCache, &trigger->tgoid, HASH_ENTER, &found);
	if (!found)
	{
		info->valid = false;
		info->ignored = NULL;
		info->natts = 0;
	}
	info->relid = RelationGetRelid(rel);
	if (!info->valid || info->natts != RelationGetDescr(rel)->natts)
		FillModelTriggerInfo(info, rel, trigger);
	return info;
}

/*
 * Whether two values of a column are the same stored value.  Binary
 * comparison, after detoasting when either side is toasted: an UPDATE that
 * leaves a toasted column alone keeps the same toast pointer, and one that
 * sets it to the same text compares the detoasted bytes.
 */
static bool
SameValue(Datum a, bool anull, Datum b, bool bnull, Form_pg_attribute att)
{
	if (anull || bnull)
		return anull && bnull;
	if (att->attbyval)
		return a == b;
	if (att->attlen > 0)
		return memcmp(DatumGetPointer(a), DatumGetPointer(b), att->attlen) == 0;
	if (att->attlen == -1)
	{
		struct varlena *va = (struct varlena *) DatumGetPointer(a);
		struct varlena *vb = (struct varlena *) DatumGetPointer(b);
		bool		same;

		if (VARATT_IS_EXTERNAL(va) && VARATT_IS_EXTERNAL(vb) &&
			VARSIZE_EXTERNAL(va) == VARSIZE_EXTERNAL(vb) &&
			memcmp(va, vb, VARSIZE_EXTERNAL(va)) == 0)
			return true;
		if (VARATT_IS_EXTENDED(va) && !VARATT_IS_SHORT(va))
			va = detoast_attr(va);
		if (VARATT_IS_EXTENDED(vb) && !VARATT_IS_SHORT(vb))
			vb = detoast_attr(vb);
		same = VARSIZE_ANY_EXHDR(va) == VARSIZE_ANY_EXHDR(vb) &&
			memcmp(VARDATA_ANY(va), VARDATA_ANY(vb), VARSIZE_ANY_EXHDR(va)) == 0;
		return same;
	}
	return strcmp(DatumGetCString(a), DatumGetCString(b)) == 0;
}

/*
 * Whether basemodel.allow_base_column_updates applies to this UPDATE: the
 * setting is USERSET, so it counts only for the table's owner (membership
 * in the owning role counts) or a superuser.  Checked only when it is on.
 */
static bool
EscapeHatchOpen(Relation rel)
{
	return BaseModelAllowBaseColumnUpdates &&
		BaseModelOwnsRelation(RelationGetRelid(rel), GetUserId());
}

/* Refuse an UPDATE that changes a guarded column. */
static void
CheckImmutable(Relation rel, AttrNumber attnum, HeapTuple oldtup, HeapTuple newtup)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	Form_pg_attribute att = TupleDescAttr(tupdesc, attnum - 1);
	bool		oldnull;
	bool		newnull;
	Datum		oldval = heap_getattr(oldtup, attnum, tupdesc, &oldnull);
	Datum		newval = heap_getattr(newtup, attnum, tupdesc, &newnull);

	if (SameValue(oldval, oldnull, newval, newnull, att))
		return;
	/* the setting is on, but EscapeHatchOpen said not for this role */
	if (BaseModelAllowBaseColumnUpdates)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to change column \"%s\" of relation \"%s\"",
						NameStr(att->attname), RelationGetRelationName(rel)),
				 errdetail("basemodel.allow_base_column_updates is on, but only the table's owner or a superuser may use it."),
				 errhint("Ask the owner of \"%s\" to make the data fix.",
						 RelationGetRelationName(rel))));
	ereport(ERROR,
			(errcode(ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION),
			 errmsg("column \"%s\" of relation \"%s\" cannot be changed",
					NameStr(att->attname), RelationGetRelationName(rel)),
			 errdetail("basemodel keeps the id and created columns of a registered table as they were inserted."),
			 errhint("For a data fix, SET basemodel.allow_base_column_updates = on.")));
}

/*
 * Whether the UPDATE changes a column that counts: any column but the
 * updated column itself and the ignored ones.  *changed_any says whether it
 * changed any column at all.
 */
static bool
ChangesRelevantColumn(ModelTriggerInfo *info, TupleDesc tupdesc,
					  HeapTuple oldtup, HeapTuple newtup, bool *changed_any)
{
	int			natts = tupdesc->natts;
	Datum	   *oldvals = palloc(sizeof(Datum) * natts);
	Datum	   *newvals = palloc(sizeof(Datum) * natts);
	bool	   *oldnulls = palloc(sizeof(bool) * natts);
	bool	   *newnulls = palloc(sizeof(bool) * natts);
	bool		relevant = false;

	*changed_any = false;
	heap_deform_tuple(oldtup, tupdesc, oldvals, oldnulls);
	heap_deform_tuple(newtup, tupdesc, newvals, newnulls);
	for (int i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped || i + 1 == info->updated_attnum)
			continue;
		if (SameValue(oldvals[i], oldnulls[i], newvals[i], newnulls[i], att))
			continue;
		*changed_any = true;
		if (!info->ignored[i])
		{
			relevant = true;
			break;
		}
	}
	pfree(oldvals);
	pfree(newvals);
	pfree(oldnulls);
	pfree(newnulls);
	return relevant;
}

/* Byte offset of attribute attnum (not null in the tuple) within the tuple's data. */
static Size
AttributeOffset(HeapTuple tuple, TupleDesc tupdesc, int attnum)
{
	Form_pg_attribute att = TupleDescAttr(tupdesc, attnum - 1);
	bool		hasnulls = HeapTupleHasNulls(tuple);
	bits8	   *bp = tuple->t_data->t_bits;
	char	   *tp = (char *) tuple->t_data + tuple->t_data->t_hoff;
	Size		off = 0;

	if (!hasnulls && att->attcacheoff >= 0)
		return att->attcacheoff;
	for (int i = 0; i < attnum - 1; i++)
	{
		Form_pg_attribute prev = TupleDescAttr(tupdesc, i);

		if (hasnulls && att_isnull(i, bp))
			continue;
		off = att_align_pointer(off, prev->attalign, prev->attlen, tp + off);
		off = att_addlength_pointer(off, prev->attlen, tp + off);
	}
	return att_align_nominal(off, att->attalign);
}

/*
 * Store a timestamp into the new row without building a new tuple, when
 * that is safe: the tuple the trigger got is the new slot's own materialized
 * heap tuple (so the executor keeps using it), the column is a non-null
 * 8-byte pass-by-value one, and the slot forgets what it had deformed.
 * Otherwise the caller builds a modified copy, as any trigger does.
 *
 * Why the slot's own tuple is ours to write (PostgreSQL 15's trigger.c and
 * execTuples.c): ExecBRUpdateTriggers gets tg_newtuple from
 * ExecFetchSlotHeapTuple(newslot, materialize = true), which leaves a heap
 * or buffer heap slot owning a private copy (TTS_SHOULDFREE) and hands out
 * that very tuple; no buffer page, old row or earlier trigger's result is
 * shared with it (a tuple an earlier trigger returned, OLD included, is
 * stored into the slot and copied again by that materialization before we
 * run).  Every later reader (a later trigger, stored generated columns,
 * constraints, heap_update, AFTER triggers and transition tables, a row
 * moved to another partition, RETURNING) reads the slot, whose deformed
 * values are reset here.  A slot that does not own its tuple is never
 * written: the guard below keeps this true should a caller ever pass one.
 */
static bool
StoreInPlace(TriggerData *trigdata, TupleDesc tupdesc, int attnum, Datum value)
{
	TupleTableSlot *slot = trigdata->tg_newslot;
	HeapTuple	tuple = trigdata->tg_newtuple;
	Form_pg_attribute att = TupleDescAttr(tupdesc, attnum - 1);
	char	   *ptr;

	if (slot == NULL || !(TTS_IS_BUFFERTUPLE(slot) || TTS_IS_HEAPTUPLE(slot)) ||
		!TTS_SHOULDFREE(slot) || ((HeapTupleTableSlot *) slot)->tuple != tuple)
		return false;
	if (!att->attbyval || att->attlen != sizeof(int64) || attnum > HeapTupleHeaderGetNatts(tuple->t_data))
		return false;
	if (HeapTupleHasNulls(tuple) && att_isnull(attnum - 1, tuple->t_data->t_bits))
		return false;
	ptr = (char *) tuple->t_data + tuple->t_data->t_hoff + AttributeOffset(tuple, tupdesc, attnum);
	store_att_byval(ptr, value, sizeof(int64));
	slot->tts_nvalid = 0;
	return true;
}

/* basemodel.before_update(): the BEFORE UPDATE row trigger of a registered table. */
Datum
basemodel_before_update(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	tupdesc;
	ModelTriggerInfo *info;
	HeapTuple	oldtup;
	HeapTuple	newtup;
	bool		bump = true;
	bool		escape;
	Datum		value;
	bool		isnull;
	int			attnum;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("basemodel.before_update() must be called as a trigger")));
	if (!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("basemodel.before_update() must be fired BEFORE UPDATE FOR EACH ROW")));

	rel = trigdata->tg_relation;
	tupdesc = RelationGetDescr(rel);
	/* hash entries never move, so the call site can keep a pointer to one */
	info = (ModelTriggerInfo *) fcinfo->flinfo->fn_extra;
	if (info == NULL || info->tgoid != trigdata->tg_trigger->tgoid || !info->valid ||
		info->natts != tupdesc->natts)
	{
		info = GetModelTriggerInfo(rel, trigdata->tg_trigger);
		fcinfo->flinfo->fn_extra = info;
	}
	oldtup = trigdata->tg_trigtuple;
	newtup = trigdata->tg_newtuple;

	escape = EscapeHatchOpen(rel);
	if (!escape)
	{
		if (info->id_attnum != 0)
			CheckImmutable(rel, info->id_attnum, oldtup, newtup);
		if (info->created_attnum != 0)
			CheckImmutable(rel, info->created_attnum, oldtup, newtup);
	}
	if (info->updated_attnum == 0)
		return PointerGetDatum(newtup);
	attnum = info->updated_attnum;

	if (info->compare)
	{
		bool		changed_any;

		if (!ChangesRelevantColumn(info, tupdesc, oldtup, newtup, &changed_any))
			bump = changed_any ? false : !info->skip_unchanged;
	}

	if (escape)
	{
		bool		oldnull;
		Datum		oldval = heap_getattr(oldtup, attnum, tupdesc, &oldnull);
		Datum		newval = heap_getattr(newtup, attnum, tupdesc, &isnull);

		/* the escape hatch also lets a data fix set the updated column */
		if (!SameValue(oldval, oldnull, newval, isnull, TupleDescAttr(tupdesc, attnum - 1)))
			return PointerGetDatum(newtup);
	}

	if (bump)
	{
		TimestampTz now = GetCurrentTransactionStartTimestamp();

		value = info->updated_is_tz ? TimestampTzGetDatum(now) :
			DirectFunctionCall1(timestamptz_timestamp, TimestampTzGetDatum(now));
		isnull = false;
	}
	else
	{
		bool		newnull;
		Datum		newval = heap_getattr(newtup, attnum, tupdesc, &newnull);

		/* the trigger owns the column: keep what the row had */
		value = heap_getattr(oldtup, attnum, tupdesc, &isnull);
		if (SameValue(value, isnull, newval, newnull, TupleDescAttr(tupdesc, attnum - 1)))
			return PointerGetDatum(newtup);
	}
	if (!isnull && StoreInPlace(trigdata, tupdesc, attnum, value))
		return PointerGetDatum(newtup);
	newtup = heap_modify_tuple_by_cols(newtup, tupdesc, 1, &attnum, &value, &isnull);
	return PointerGetDatum(newtup);
}
