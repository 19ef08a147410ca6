/*
 * guard.c
 *	  The checks that keep register safe against a concurrent owner and keep
 *	  a registration truthful after ALTER TABLE.
 *
 * BaseModelLockTable() locks a table by OID, re-checks ownership once the
 * lock is held (an owner who held the lock may have changed the table
 * meanwhile) and, under REPEATABLE READ or SERIALIZABLE, refuses to go on
 * with a snapshot that cannot see what the lock holder committed.
 * BaseModelCheckAlterTable() reads the subcommands of an ALTER TABLE (only
 * C can) to refuse those that would leave a registered table's id
 * unmanaged: DROP IDENTITY or a type change of the id column; and
 * BaseModelCheckIdUnique() refuses one that leaves the id without its
 * unique key.  Disabling the trigger, in any form, is allowed and shown by
 * basemodel.registry's enabled column.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_attrdef.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "tcop/deparse_utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "basemodel.h"

/* Raise "must be owner" unless the current role owns relid (membership counts). */
static void
CheckOwner(Oid relid)
{
	char		relkind = get_rel_relkind(relid);

	if (relkind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (!BaseModelOwnsRelation(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(relkind),
					   get_rel_name(relid));
}

/*
 * The TIDs of the catalog rows, in one catalog, that describe relid, as the
 * snapshot sees them.  Rows come in index order, so two snapshots that see
 * the same rows give equal lists.
 */
static List *
CatalogRowsSeen(Oid catalog, Oid index, AttrNumber keyatt, Oid relid, Snapshot snapshot)
{
	Relation	rel = table_open(catalog, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	List	   *tids = NIL;

	ScanKeyInit(&key, keyatt, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, index, true, snapshot, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		ItemPointer tid = palloc(sizeof(ItemPointerData));

		*tid = tuple->t_self;
		tids = lappend(tids, tid);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return tids;
}

/* Whether the snapshot sees the same rows of one catalog for relid as the latest snapshot. */
static bool
CatalogUnchanged(Oid catalog, Oid index, AttrNumber keyatt, Oid relid, Snapshot snapshot)
{
	Snapshot	latest = RegisterSnapshot(GetLatestSnapshot());
	List	   *mine = CatalogRowsSeen(catalog, index, keyatt, relid, snapshot);
	List	   *now = CatalogRowsSeen(catalog, index, keyatt, relid, latest);
	bool		same = list_length(mine) == list_length(now);

	UnregisterSnapshot(latest);
	for (int i = 0; same && i < list_length(mine); i++)
		same = ItemPointerEquals(list_nth(mine, i), list_nth(now, i));
	list_free_deep(mine);
	list_free_deep(now);
	return same;
}

/*
 * Under REPEATABLE READ or SERIALIZABLE, the statements of register read
 * the catalogs through the transaction snapshot, which may predate the
 * lock it waited for: a concurrent register (or any ALTER TABLE) committed
 * meanwhile is invisible to it, and register would add a column or a
 * trigger twice.  Fail as a serialization failure instead, which a retry
 * resolves.
 */
static void
CheckSnapshotCurrent(Oid relid)
{
	Snapshot	snapshot;
	bool		same;

	if (!IsolationUsesXactSnapshot())
		return;
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	same = CatalogUnchanged(RelationRelationId, ClassOidIndexId,
							Anum_pg_class_oid, relid, snapshot) &&
		CatalogUnchanged(AttributeRelationId, AttributeRelidNumIndexId,
						 Anum_pg_attribute_attrelid, relid, snapshot) &&
		CatalogUnchanged(AttrDefaultRelationId, AttrDefaultIndexId,
						 Anum_pg_attrdef_adrelid, relid, snapshot) &&
		CatalogUnchanged(IndexRelationId, IndexIndrelidIndexId,
						 Anum_pg_index_indrelid, relid, snapshot) &&
		CatalogUnchanged(TriggerRelationId, TriggerRelidNameIndexId,
						 Anum_pg_trigger_tgrelid, relid, snapshot);
	UnregisterSnapshot(snapshot);
	if (!same)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to concurrent change of table \"%s\"",
						get_rel_name(relid)),
				 errdetail("The table's definition changed after this transaction's snapshot was taken."),
				 errhint("Retry the transaction.")));
}

/*
 * For register and unregister: lock the table (and its partitions) in
 * ACCESS EXCLUSIVE (exclusive) or SHARE ROW EXCLUSIVE mode by OID, checking
 * before and again after the lock that the current role owns it.  The first
 * check keeps other roles from locking tables they do not own; the second
 * sees whatever the previous lock holder committed.
 */
void
BaseModelLockTable(Oid relid, bool exclusive)
{
	LOCKMODE	mode = exclusive ? AccessExclusiveLock : ShareRowExclusiveLock;

	CheckOwner(relid);
	LockRelationOid(relid, mode);
	/* LockRelationOid has processed the invalidations of what we waited for */
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u was dropped while waiting for its lock", relid)));
	CheckOwner(relid);
	/* as LOCK TABLE does: partitions too, so that writers to them wait as well */
	list_free(find_all_inheritors(relid, mode, NULL));
	CheckSnapshotCurrent(relid);
}

/* The registered table as a quoted literal for a hint, as format('%L', tbl::regclass) gives it. */
static const char *
RegclassLiteral(Oid relid)
{
	return quote_literal_cstr(quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
														 get_rel_name(relid)));
}

/* The refusal for one subcommand of ALTER TABLE on a registered table. */
static void
RefuseSubcommand(AlterTableCmd *cmd, Oid relid, const BaseModelRegistration *reg)
{
	const char *relname = get_rel_name(relid);
	const char *regname = RegclassLiteral(reg->regrelid);
	bool		on_id = reg->id_column != NULL && cmd->name != NULL &&
		strcmp(cmd->name, reg->id_column) == 0;

	switch (cmd->subtype)
	{
		case AT_DropIdentity:
			if (on_id)
				ereport(ERROR,
						(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
						 errmsg("cannot drop identity of column \"%s\" of table \"%s\" because basemodel manages it",
								cmd->name, relname),
						 errdetail("basemodel relies on the id column filling itself."),
						 errhint("Call basemodel.unregister(%s) first.", regname)));
			break;
		case AT_AlterColumnType:
			if (on_id)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("cannot change the type of column \"%s\" of table \"%s\" because basemodel manages it",
								cmd->name, relname),
						 errdetail("basemodel keeps the id column of a registered table as it was registered."),
						 errhint("Call basemodel.unregister(%s) first.", regname)));
			break;
		default:
			break;
	}
}

/*
 * From the ddl_command_end trigger, for a command of
 * pg_event_trigger_ddl_commands(): refuse the subcommands of an ALTER TABLE that would leave a
 * registered table (or a partition of one) with an unmanaged id.  Disabling
 * the trigger is allowed (pg_dump writes DISABLE TRIGGER for a disabled one,
 * and pg_restore --disable-triggers brackets a data-only restore with it):
 * basemodel.registry reports it as enabled = false.
 */
void
BaseModelCheckAlterTable(CollectedCommand *cmd)
{
	BaseModelRegistration reg;
	MemoryContext tmp;
	MemoryContext old;
	ListCell   *lc;

	if (cmd->type != SCT_AlterTable)
		return;

	tmp = AllocSetContextCreate(CurrentMemoryContext, "basemodel alter table",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(tmp);
	if (BaseModelFindRegistration(cmd->d.alterTable.objectId, tmp, &reg))
	{
		foreach(lc, cmd->d.alterTable.subcmds)
		{
			CollectedATSubcmd *sub = lfirst(lc);

			if (sub->parsetree != NULL && IsA(sub->parsetree, AlterTableCmd))
				RefuseSubcommand((AlterTableCmd *) sub->parsetree,
								 cmd->d.alterTable.objectId, &reg);
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
}

/*
 * After ALTER TABLE on a registered table (or one in its partition tree,
 * which has its registration): its id must still be unique (DROP
 * CONSTRAINT of its primary key, say, is refused).  The registration is
 * read afresh, after a rename of the id column was followed.
 */
void
BaseModelCheckIdUnique(Oid relid)
{
	BaseModelRegistration reg;

	if (!BaseModelFindRegistration(relid, CurrentMemoryContext, &reg) ||
		reg.id_column == NULL ||
		BaseModelIdIsUnique(relid, reg.id_column))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 errmsg("column \"%s\" of relation \"%s\" must stay unique and not null because basemodel manages it",
					reg.id_column, get_rel_name(relid)),
			 errdetail("It is the id column of the table's registration."),
			 errhint("Call basemodel.unregister(%s) first.", RegclassLiteral(relid))));
}
