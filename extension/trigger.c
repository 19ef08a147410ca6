/*
 * trigger.c
 *	  basemodel.before_update(): the BEFORE UPDATE row trigger of registered
 *	  tables.  It sets the updated column to the transaction timestamp
 *	  (honouring ignore_columns and skip_unchanged) and refuses changes to the
 *	  id and created columns unless basemodel.allow_base_column_updates is on.
 *
 * Everything that does not change from row to row (the registration, the
 * attnums, which columns are ignored) comes from registry.c's per-table
 * cache, shared with to_dict, which a relcache invalidation of the relation
 * drops; the call site keeps a pointer to the entry and checks it again
 * when the entry was filled again.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "access/tupmacs.h"
#include "access/sysattr.h"
#include "access/xact.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "basemodel.h"

PG_FUNCTION_INFO_V1(basemodel_before_update);

/*
 * What one call site of the trigger keeps (in fn_extra): registry.c's
 * entry of its table, which never moves, and the generation of it that
 * GetCheckedTable checked.
 */
typedef struct TriggerCallSite
{
	BaseModelTable *table;
	uint64		generation;
	bool		after_other;	/* another BEFORE UPDATE row trigger fires first */
} TriggerCallSite;

/*
 * Whether a BEFORE UPDATE row trigger of the relation fires before ours
 * (they fire in name order, the order of rel->trigdesc): it may change any
 * column of the new row, so the columns the UPDATE assigns
 * (tg_updatedcols) no longer bound the columns that changed.  Disabled
 * ones count too, as session_replication_role may make them fire.  A
 * relcache invalidation of the relation, which CREATE, DROP and ALTER
 * TRIGGER send, makes the call site ask again.
 */
static bool
FiresAfterOtherTrigger(Relation rel, const Trigger *ours)
{
	TriggerDesc *trigdesc = rel->trigdesc;

	for (int i = 0; trigdesc != NULL && i < trigdesc->numtriggers; i++)
	{
		const Trigger *trigger = &trigdesc->triggers[i];

		if (trigger->tgoid == ours->tgoid)
			return false;
		if (TRIGGER_TYPE_MATCHES(trigger->tgtype, TRIGGER_TYPE_ROW, TRIGGER_TYPE_BEFORE,
								 TRIGGER_TYPE_UPDATE))
			return true;
	}
	return true;
}

/*
 * Whether the columns the UPDATE assigns (tg_updatedcols) are the only ones
 * whose new value may differ from the old: not when another trigger ran
 * first, nor when PostgreSQL did not say which columns the UPDATE assigns.
 * Columns it leaves alone hold the old row's values (PostgreSQL 14 on
 * builds the new row from the old one, also when it follows a concurrent
 * update), and stored generated columns, which it lists, are computed only
 * after the BEFORE triggers.
 */
static inline bool
AssignedColumnsBoundChanges(const TriggerData *trigdata, const TriggerCallSite *site)
{
	return !site->after_other && trigdata->tg_updatedcols != NULL;
}

/* Whether column attnum of the new row may differ from the old one. */
static inline bool
MayHaveChanged(const TriggerData *trigdata, const TriggerCallSite *site, AttrNumber attnum)
{
	return !AssignedColumnsBoundChanges(trigdata, site) ||
		bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, trigdata->tg_updatedcols);
}

/*
 * The column after attnum (0 to start) whose new value may differ from the
 * old, 0 after the last: the next assigned one, or the next of all when the
 * assigned ones do not bound the changes.
 */
static inline AttrNumber
NextMaybeChangedColumn(const TriggerData *trigdata, const TriggerCallSite *site,
					   int natts, AttrNumber attnum)
{
	int			member;

	if (!AssignedColumnsBoundChanges(trigdata, site))
		return attnum < natts ? attnum + 1 : 0;
	member = bms_next_member(trigdata->tg_updatedcols, attnum - FirstLowInvalidHeapAttributeNumber);
	return member < 0 ? 0 : member + FirstLowInvalidHeapAttributeNumber;
}

/* Fail clearly when a managed column of the registration does not exist. */
static void
CheckManagedColumn(Relation rel, const char *name, AttrNumber attnum)
{
	if (name != NULL && attnum == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						name, RelationGetRelationName(rel)),
				 errdetail("basemodel's registration of the table names it."),
				 errhint("Call basemodel.register again with the right mapping.")));
}

/*
 * The table's registration, from registry.c's cache, with its managed
 * columns checked against the relation: they exist, and the updated column
 * is a timestamp.  Runs again after each invalidation of the relation.
 */
static BaseModelTable *
GetCheckedTable(Relation rel)
{
	BaseModelTable *table = BaseModelGetTable(RelationGetRelid(rel));

	/* the executor's lock keeps the row type as the entry resolved it */
	if (table->natts != RelationGetDescr(rel)->natts)
		elog(ERROR, "basemodel's cache of relation \"%s\" does not match it",
			 RelationGetRelationName(rel));
	if (!table->registered)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("basemodel.before_update() must be fired as trigger \"%s\"",
						BASEMODEL_TRIGGER_NAME)));
	CheckManagedColumn(rel, table->reg.id_column, table->id_attnum);
	CheckManagedColumn(rel, table->reg.created_column, table->created_attnum);
	CheckManagedColumn(rel, table->reg.updated_column, table->updated_attnum);
	if (table->updated_attnum != 0 && table->updated_typid != TIMESTAMPTZOID &&
		table->updated_typid != TIMESTAMPOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of relation \"%s\" is of type %s, not timestamptz or timestamp",
						table->reg.updated_column, RelationGetRelationName(rel),
						format_type_be(table->updated_typid))));
	return table;
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
		/* not VARATT_IS_SHORT: an out-of-line pointer has a one-byte header too */
		if (VARATT_IS_EXTERNAL(va) || VARATT_IS_COMPRESSED(va))
			va = detoast_attr(va);
		if (VARATT_IS_EXTERNAL(vb) || VARATT_IS_COMPRESSED(vb))
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
 * Whether the UPDATE sets the updated column under ignore_columns and
 * skip_unchanged: a changed column that is not ignored sets it; failing
 * one, a changed ignored column keeps it, and so does an unchanged row
 * under skip_unchanged (so ignored columns then need no comparing).  Only
 * the columns that may have changed are compared, each read from the
 * trigger's old and new slots, which deform no further than the column read.
 */
static bool
UpdateSetsUpdatedColumn(const TriggerData *trigdata, const TriggerCallSite *site)
{
	const BaseModelTable *table = site->table;
	TupleDesc	tupdesc = RelationGetDescr(trigdata->tg_relation);
	bool		keep = table->reg.skip_unchanged;

	for (AttrNumber attnum = NextMaybeChangedColumn(trigdata, site, tupdesc->natts, 0);
		 attnum != 0;
		 attnum = NextMaybeChangedColumn(trigdata, site, tupdesc->natts, attnum))
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, attnum - 1);
		bool		ignored = table->ignored[attnum - 1];
		bool		oldnull;
		bool		newnull;
		Datum		oldval;
		Datum		newval;

		/* a stored generated column follows the others (and is not yet computed) */
		if (att->attisdropped || att->attgenerated || attnum == table->updated_attnum ||
			(ignored && keep))
			continue;
		oldval = slot_getattr(trigdata->tg_trigslot, attnum, &oldnull);
		newval = slot_getattr(trigdata->tg_newslot, attnum, &newnull);
		if (SameValue(oldval, oldnull, newval, newnull, att))
			continue;
		if (!ignored)
			return true;
		keep = true;
	}
	return !keep;
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
	TriggerCallSite *site;
	BaseModelTable *table;
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
	site = (TriggerCallSite *) fcinfo->flinfo->fn_extra;
	if (site == NULL)
	{
		site = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(TriggerCallSite));
		fcinfo->flinfo->fn_extra = site;
	}
	table = site->table;
	if (table == NULL || table->relid != RelationGetRelid(rel) || !table->valid ||
		table->generation != site->generation || table->natts != tupdesc->natts)
	{
		site->table = NULL;
		table = GetCheckedTable(rel);
		site->table = table;
		site->generation = table->generation;
		site->after_other = FiresAfterOtherTrigger(rel, trigdata->tg_trigger);
	}
	oldtup = trigdata->tg_trigtuple;
	newtup = trigdata->tg_newtuple;

	escape = EscapeHatchOpen(rel);
	if (!escape)
	{
		/* an UPDATE that does not assign them cannot change them */
		if (table->id_attnum != 0 && MayHaveChanged(trigdata, site, table->id_attnum))
			CheckImmutable(rel, table->id_attnum, oldtup, newtup);
		if (table->created_attnum != 0 && MayHaveChanged(trigdata, site, table->created_attnum))
			CheckImmutable(rel, table->created_attnum, oldtup, newtup);
	}
	if (table->updated_attnum == 0)
		return PointerGetDatum(newtup);
	attnum = table->updated_attnum;

	if (table->reg.skip_unchanged || table->reg.nignored > 0)
		bump = UpdateSetsUpdatedColumn(trigdata, site);

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

		value = table->updated_typid == TIMESTAMPTZOID ? TimestampTzGetDatum(now) :
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
