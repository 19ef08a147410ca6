/*
 * ddl.c
 *	  The event triggers: following DDL on registered tables and schemas
 *	  (ddl_command_end, sql_drop), and letting DROP EXTENSION basemodel
 *	  leave user tables working (ddl_command_start).
 *
 * They are C because they read what only C can (a statement's parse tree),
 * and because they call the install script's internal steps, which are not
 * PUBLIC's, directly (call.c): an event trigger runs as the role whose
 * statement fired it, and so do the steps.
 *
 * Our triggers on user tables call an extension function, so DROP EXTENSION
 * would refuse to run (or, with CASCADE, drop them anyway).  Only C can see
 * which extensions a DROP EXTENSION names, so basemodel_on_drop_extension
 * reads the parse tree and, when basemodel is one of them, has
 * basemodel._release_tables() drop our triggers first.
 */
#include "postgres.h"

#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/deparse_utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "basemodel.h"

PG_FUNCTION_INFO_V1(basemodel_on_ddl_command_end);
PG_FUNCTION_INFO_V1(basemodel_on_sql_drop);
PG_FUNCTION_INFO_V1(basemodel_on_drop_extension);

/* Raise the error for an event trigger function called any other way. */
static void
CheckEventTrigger(FunctionCallInfo fcinfo, const char *event)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo) ||
		strcmp(((EventTriggerData *) fcinfo->context)->event, event) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired as an event trigger on %s",
						get_func_name(fcinfo->flinfo->fn_oid), event)));
}

/* Whether the statement is a DROP EXTENSION that names basemodel. */
static bool
DropsThisExtension(Node *parsetree)
{
	DropStmt   *stmt;
	ListCell   *lc;

	if (parsetree == NULL || !IsA(parsetree, DropStmt))
		return false;
	stmt = (DropStmt *) parsetree;
	if (stmt->removeType != OBJECT_EXTENSION)
		return false;
	foreach(lc, stmt->objects)
	{
		Node	   *name = lfirst(lc);

		if (IsA(name, String) && strcmp(strVal(name), "basemodel") == 0)
			return true;
	}
	return false;
}

/*
 * Raise PostgreSQL's own error for a role that may not drop the extension,
 * before releasing tables on its behalf would fail on someone's table.
 */
static void
CheckExtensionOwner(void)
{
	Oid			extoid = get_extension_oid("basemodel", false);

	if (!BaseModelOwnsExtension(extoid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_EXTENSION, "basemodel");
}

/* ddl_command_start trigger on DROP EXTENSION: release the tables when it names basemodel. */
Datum
basemodel_on_drop_extension(PG_FUNCTION_ARGS)
{
	CheckEventTrigger(fcinfo, "ddl_command_start");
	if (!DropsThisExtension(((EventTriggerData *) fcinfo->context)->parsetree))
		PG_RETURN_VOID();
	CheckExtensionOwner();
	BaseModelRun("_release_tables", 0, NULL, NULL);
	PG_RETURN_VOID();
}

/*
 * The old name of the schema an ALTER SCHEMA ... RENAME TO renamed, NULL
 * for any other command (ALTER SCHEMA ... OWNER TO above all, which the
 * command tag does not tell apart).
 */
static const char *
RenamedSchema(CollectedCommand *cmd)
{
	RenameStmt *stmt;

	if (cmd->parsetree == NULL || !IsA(cmd->parsetree, RenameStmt))
		return NULL;
	stmt = (RenameStmt *) cmd->parsetree;
	if (stmt->renameType != OBJECT_SCHEMA || stmt->subname == NULL)
		return NULL;
	return stmt->subname;
}

/*
 * After ALTER TABLE on relid: for relid and every table below it (ALTER
 * TABLE on a parent recurses into inheritance children and partitions)
 * that holds a registration of its own, follow a renamed column (objsubid),
 * check the managed columns, and give attached partitions the defaults of
 * the managed columns.
 */
static void
FollowAlterTable(Oid relid, int32 objsubid)
{
	const char *newname = objsubid > 0 ? get_attname(relid, objsubid, true) : NULL;
	ListCell   *lc;

	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		Oid			member = lfirst_oid(lc);
		BaseModelRegistration reg;
		Datum		args[2] = {ObjectIdGetDatum(member), (Datum) 0};
		bool		nulls[2] = {false, false};
		bool		isnull;

		if (!BaseModelFindRegistration(member, CurrentMemoryContext, &reg) ||
			reg.regrelid != member)
			continue;
		if (newname != NULL)
		{
			Datum		renamed;

			args[1] = BaseModelNameOrNull(newname, &nulls[1]);
			renamed = BaseModelCall("_follow_column_rename", 2, args, nulls, &isnull);
			if (!isnull)
				BaseModelWriteRegistration(renamed);
		}
		BaseModelRun("_check_managed_types", 1, args, NULL);
		BaseModelCheckIdUnique(member);
		BaseModelRun("_copy_managed_defaults", 1, args, NULL);
	}
}

/* Register the new table relid, with the default options, through the SQL function. */
static void
RegisterNewTable(Oid relid)
{
	Oid			argtype = REGCLASSOID;
	Datum		arg = ObjectIdGetDatum(relid);

	if (SPI_execute_with_args("SELECT basemodel.register($1)", 1, &argtype, &arg, NULL,
							  false, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed for basemodel.register");
}

/* Whether the command tag creates a table. */
static inline bool
CreatesTable(const char *tag)
{
	return strcmp(tag, "CREATE TABLE") == 0 || strcmp(tag, "CREATE TABLE AS") == 0 ||
		strcmp(tag, "SELECT INTO") == 0;
}

/*
 * Follow one command of pg_event_trigger_ddl_commands().  While a restore
 * runs, auto_register leaves new tables alone: the dump brings each
 * registered table's own trigger, and registering a table before its
 * primary key is restored would fail.
 */
static void
FollowCommand(const char *tag, const char *type, Oid objid, int32 objsubid,
			  bool in_extension, CollectedCommand *cmd, bool restoring)
{
	Datum		args[3] = {ObjectIdGetDatum(objid), (Datum) 0, (Datum) 0};
	bool		nulls[3] = {false, false, false};
	bool		isnull;

	if (strcmp(type, "table") == 0)
	{
		args[1] = BoolGetDatum(false);
		BaseModelRun("_refuse_inheritance", 2, args, NULL);
		if (CreatesTable(tag) && !in_extension && !restoring &&
			BaseModelCallBool("_auto_registers", 1, args, NULL))
			RegisterNewTable(objid);
	}
	if (strcmp(tag, "ALTER TABLE") == 0)
	{
		BaseModelCheckAlterTable(cmd);
		FollowAlterTable(objid, objsubid);
	}
	else if (strcmp(tag, "ALTER TRIGGER") == 0 && strcmp(type, "trigger") == 0)
		BaseModelRun("_check_trigger_rename", 1, args, NULL);
	else if (strcmp(tag, "CREATE TRIGGER") == 0 && strcmp(type, "trigger") == 0)
	{
		Datum		relid = BaseModelCall("_check_trigger", 1, args, NULL, &isnull);

		if (!isnull)
			BaseModelCheckRegistration(DatumGetObjectId(relid));
	}
	else if ((strcmp(tag, "CREATE SCHEMA") == 0 || strcmp(tag, "ALTER SCHEMA") == 0) &&
			 strcmp(type, "schema") == 0)
	{
		args[1] = BoolGetDatum(strcmp(tag, "CREATE SCHEMA") == 0);
		args[2] = BaseModelNameOrNull(RenamedSchema(cmd), &nulls[2]);
		BaseModelRun("_follow_schema", 3, args, nulls);
	}
}

/*
 * ddl_command_end trigger: auto-registration of new tables, renames of
 * columns and schemas, checked ALTER TABLE and CREATE TRIGGER, refused
 * renames of basemodel's trigger, defaults of attached partitions.
 */
Datum
basemodel_on_ddl_command_end(PG_FUNCTION_ARGS)
{
	/* pg_dump's scripts and pg_restore turn row_security off */
	bool		restoring;
	SPITupleTable *commands;
	uint64		ncommands;

	CheckEventTrigger(fcinfo, "ddl_command_end");
	restoring = strcmp(GetConfigOption("row_security", false, false), "off") == 0;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT command_tag, object_type, objid, objsubid, in_extension, command"
					"  FROM pg_catalog.pg_event_trigger_ddl_commands()", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed for pg_event_trigger_ddl_commands()");
	commands = SPI_tuptable;
	ncommands = SPI_processed;
	for (uint64 i = 0; i < ncommands; i++)
	{
		HeapTuple	tuple = commands->vals[i];
		TupleDesc	desc = commands->tupdesc;
		bool		isnull;
		char	   *tag = SPI_getvalue(tuple, desc, 1);
		char	   *type = SPI_getvalue(tuple, desc, 2);
		Oid			objid = DatumGetObjectId(SPI_getbinval(tuple, desc, 3, &isnull));
		int32		objsubid = DatumGetInt32(SPI_getbinval(tuple, desc, 4, &isnull));
		bool		in_extension = DatumGetBool(SPI_getbinval(tuple, desc, 5, &isnull));
		CollectedCommand *cmd = (CollectedCommand *) DatumGetPointer(SPI_getbinval(tuple, desc, 6, &isnull));

		if (tag != NULL && type != NULL && cmd != NULL)
			FollowCommand(tag, type, objid, objsubid, in_extension, cmd, restoring);
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * sql_drop trigger: forget dropped schemas and dropped hidden or ignored
 * columns, refuse drops of managed columns (basemodel._forget_dropped).
 */
Datum
basemodel_on_sql_drop(PG_FUNCTION_ARGS)
{
	bool		isnull;
	Datum		changed;
	ArrayType  *regs;
	Datum	   *elems;
	int			nelems;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	CheckEventTrigger(fcinfo, "sql_drop");
	changed = BaseModelCall("_forget_dropped", 0, NULL, NULL, &isnull);
	if (isnull)
		PG_RETURN_VOID();
	regs = DatumGetArrayTypeP(changed);
	get_typlenbyvalalign(ARR_ELEMTYPE(regs), &typlen, &typbyval, &typalign);
	deconstruct_array(regs, ARR_ELEMTYPE(regs), typlen, typbyval, typalign,
					  &elems, NULL, &nelems);
	for (int i = 0; i < nelems; i++)
		BaseModelWriteRegistration(elems[i]);
	PG_RETURN_VOID();
}
