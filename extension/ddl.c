/*
 * ddl.c
 *	  What the event triggers need from the parse tree, which only C can
 *	  read: the ddl_command_start event trigger that lets DROP EXTENSION
 *	  basemodel leave user tables working, and the old name of a renamed
 *	  schema for the ddl_command_end trigger.
 *
 * Our triggers on user tables call an extension function, so DROP EXTENSION
 * would refuse to run (or, with CASCADE, drop them anyway).  Only C can see
 * which extensions a DROP EXTENSION names, so this function reads the parse
 * tree and, when basemodel is one of them, has basemodel._release_tables()
 * drop our triggers first.  The other event triggers are PL/pgSQL (see the
 * install script).
 */
#include "postgres.h"

#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/deparse_utility.h"
#include "utils/builtins.h"

#include "basemodel.h"

PG_FUNCTION_INFO_V1(basemodel_on_drop_extension);
PG_FUNCTION_INFO_V1(basemodel_renamed_schema);

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
	EventTriggerData *trigdata;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("basemodel._on_drop_extension() must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	if (!DropsThisExtension(trigdata->parsetree))
		PG_RETURN_VOID();
	CheckExtensionOwner();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT basemodel._release_tables()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed for basemodel._release_tables()");
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * basemodel._renamed_schema(pg_ddl_command): the old name of the schema an
 * ALTER SCHEMA ... RENAME TO renamed, NULL for any other command (ALTER
 * SCHEMA ... OWNER TO above all, which the command tag does not tell apart).
 * A pg_ddl_command comes only from pg_event_trigger_ddl_commands().
 */
Datum
basemodel_renamed_schema(PG_FUNCTION_ARGS)
{
	CollectedCommand *cmd = (CollectedCommand *) PG_GETARG_POINTER(0);
	RenameStmt *stmt;

	if (cmd == NULL || cmd->parsetree == NULL || !IsA(cmd->parsetree, RenameStmt))
		PG_RETURN_NULL();
	stmt = (RenameStmt *) cmd->parsetree;
	if (stmt->renameType != OBJECT_SCHEMA || stmt->subname == NULL)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(DirectFunctionCall1(namein, CStringGetDatum(stmt->subname)));
}
