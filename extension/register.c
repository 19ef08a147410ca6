/*
 * register.c
 *	  The user API that changes registrations (register, unregister,
 *	  auto_register, auto_register_off) and the checks of register that the
 *	  ddl_command_end trigger runs on a trigger written by hand.
 *
 * Each function checks the caller's rights on the table or schema and runs
 * the install script's internal steps through BaseModelCall (call.c), as
 * the caller.  register and unregister check the table, lock it, and check
 * it again under the lock: an owner who held the lock may have changed it
 * meanwhile (made it a view, given it away).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "basemodel.h"

PG_FUNCTION_INFO_V1(basemodel_register);
PG_FUNCTION_INFO_V1(basemodel_unregister);
PG_FUNCTION_INFO_V1(basemodel_auto_register);
PG_FUNCTION_INFO_V1(basemodel_auto_register_off);

/* Argument argno, which must not be NULL (argname names it in the error). */
static Datum
RequiredArg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", argname)));
	return PG_GETARG_DATUM(argno);
}

/* Raise the error for a relation the current role may not register; else its relkind. */
static char
CheckTable(Oid relid)
{
	Datum		arg = ObjectIdGetDatum(relid);
	bool		isnull;

	return DatumGetChar(BaseModelCall("_check_table", 1, &arg, NULL, &isnull));
}

/* Field of a row an internal function returned; *isnull tells whether it is NULL. */
static inline Datum
Field(Datum row, const char *name, bool *isnull)
{
	return GetAttributeByName(DatumGetHeapTupleHeader(row), name, isnull);
}

/* Whether basemodel._fills_from_own_sequence says col of relid is filled from its sequence. */
static bool
FillsFromOwnSequence(Oid relid, Datum col)
{
	Datum		args[2] = {ObjectIdGetDatum(relid), col};

	return BaseModelCallBool("_fills_from_own_sequence", 2, args, NULL);
}

/* Whether the column col can be the id of relid (basemodel._id_is_unique). */
bool
BaseModelIdIsUnique(Oid relid, const char *col)
{
	bool		isnull;
	Datum		args[3] = {ObjectIdGetDatum(relid), BaseModelNameOrNull(col, &isnull), (Datum) 0};

	args[2] = BoolGetDatum(FillsFromOwnSequence(relid, args[1]));
	return BaseModelCallBool("_id_is_unique", 3, args, NULL);
}

/* Write reg, a basemodel.registry row, as the argument of its table's trigger. */
void
BaseModelWriteRegistration(Datum reg)
{
	BaseModelRun("_write_registration", 1, &reg, NULL);
}

/* str clipped to max_bytes bytes by basemodel._clip. */
static char *
Clip(const char *str, int max_bytes)
{
	Datum		args[2] = {CStringGetTextDatum(str), Int32GetDatum(max_bytes)};
	bool		isnull;

	return TextDatumGetCString(BaseModelCall("_clip", 2, args, NULL, &isnull));
}

/*
 * Create the sequence for the id column col added to partitioned table
 * relid, named like a serial column's: a name holds 63 bytes, so the parts
 * are clipped, and the number basemodel._new_sequence appends is never cut.
 */
static Datum
NewSequence(Oid relid, Datum col)
{
	Datum		args[2];
	bool		isnull;

	args[0] = ObjectIdGetDatum(relid);
	args[1] = CStringGetTextDatum(psprintf("%s_%s_seq", Clip(get_rel_name(relid), 30),
										   Clip(NameStr(*DatumGetName(col)), 20)));
	return BaseModelCall("_new_sequence", 2, args, NULL, &isnull);
}

/*
 * basemodel.register(tbl, id_column, created_column, updated_column, hidden,
 * ignore_columns, skip_unchanged): add or adopt the managed columns and
 * write the registration, in the steps of the install script.
 */
Datum
basemodel_register(PG_FUNCTION_ARGS)
{
	Oid			relid = DatumGetObjectId(RequiredArg(fcinfo, 0, "table"));
	Datum		rel = ObjectIdGetDatum(relid);
	Datum		lists[2];		/* hidden, ignore_columns */
	bool		skip_unchanged = !PG_ARGISNULL(6) && PG_GETARG_BOOL(6);
	char		kind;
	bool		isnull;
	Datum		plan;
	Datum		mapped,
				missing,
				clauses,
				seq = (Datum) 0;
	bool		mapped_null,
				missing_null,
				clauses_null,
				seq_null = true;
	Datum		reg;

	for (int i = 0; i < 2; i++)
		lists[i] = PG_ARGISNULL(4 + i) ?
			PointerGetDatum(construct_empty_array(NAMEOID)) : PG_GETARG_DATUM(4 + i);

	/*
	 * Serialize with writers and with other registrations of this table.
	 * When ALTER TABLE will add a column or a default, its ACCESS EXCLUSIVE
	 * lock is taken now: upgrading a weaker lock later would deadlock with a
	 * transaction that read the table and then writes it.  The columns are
	 * arguments 1 to 3, each NULL when the table has none.
	 */
	CheckTable(relid);
	{
		Datum		args[4] = {rel, PG_GETARG_DATUM(1), PG_GETARG_DATUM(2), PG_GETARG_DATUM(3)};
		bool		nulls[4] = {false, PG_ARGISNULL(1), PG_ARGISNULL(2), PG_ARGISNULL(3)};

		BaseModelLockTable(relid, BaseModelCallBool("_needs_alter", 4, args, nulls));
	}
	kind = CheckTable(relid);
	{
		Datum		args[2] = {rel, BoolGetDatum(true)};

		BaseModelRun("_refuse_inheritance", 2, args, NULL);
		BaseModelRun("_check_partition_branch", 1, args, NULL);
	}

	{
		bool		id_is_unique = !PG_ARGISNULL(1) &&
			BaseModelIdIsUnique(relid, NameStr(*PG_GETARG_NAME(1)));
		Datum		args[6] = {rel, CharGetDatum(kind), PG_GETARG_DATUM(1), PG_GETARG_DATUM(2),
		PG_GETARG_DATUM(3), BoolGetDatum(id_is_unique)};
		bool		nulls[6] = {false, false, PG_ARGISNULL(1), PG_ARGISNULL(2), PG_ARGISNULL(3), false};

		plan = BaseModelCall("_plan_columns", 6, args, nulls, &isnull);
	}
	mapped = Field(plan, "mapped", &mapped_null);
	missing = Field(plan, "missing", &missing_null);
	clauses = Field(plan, "clauses", &clauses_null);
	{
		Datum		args[4] = {rel, missing, lists[0], lists[1]};
		bool		nulls[4] = {false, missing_null, false, false};

		BaseModelRun("_check_listed_columns", 4, args, nulls);
	}
	if (DatumGetBool(Field(plan, "needs_sequence", &isnull)))
	{
		seq = NewSequence(relid, PG_GETARG_DATUM(1));
		seq_null = false;
	}
	{
		Datum		args[5] = {rel, PG_GETARG_DATUM(1), missing, clauses, seq};
		bool		nulls[5] = {false, PG_ARGISNULL(1), missing_null, clauses_null, seq_null};

		BaseModelRun("_apply_columns", 5, args, nulls);
	}
	{
		Datum		args[9] = {rel, PG_GETARG_DATUM(1), PG_GETARG_DATUM(2), PG_GETARG_DATUM(3),
			lists[0], lists[1], BoolGetDatum(skip_unchanged), mapped, missing};
		bool		nulls[9] = {false, PG_ARGISNULL(1), PG_ARGISNULL(2), PG_ARGISNULL(3),
			false, false, false, mapped_null, missing_null};

		reg = BaseModelCall("_store_registration", 9, args, nulls, &isnull);
	}
	if (!isnull)
		BaseModelWriteRegistration(reg);
	PG_RETURN_VOID();
}

/*
 * basemodel.unregister(tbl, drop_columns): drop the trigger, which is the
 * registration, and with drop_columns the columns register added.
 */
Datum
basemodel_unregister(PG_FUNCTION_ARGS)
{
	Oid			relid = DatumGetObjectId(RequiredArg(fcinfo, 0, "table"));
	bool		drop_columns = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	Datum		args[3] = {ObjectIdGetDatum(relid), (Datum) 0, (Datum) 0};
	bool		isnull;
	Datum		id;

	CheckTable(relid);
	BaseModelLockTable(relid, drop_columns);
	CheckTable(relid);
	args[1] = BaseModelCall("_drop_registration", 1, args, NULL, &isnull);
	if (!drop_columns)
		PG_RETURN_VOID();
	id = Field(args[1], "id_column", &isnull);
	args[2] = BoolGetDatum(!isnull && FillsFromOwnSequence(relid, id));
	BaseModelRun("_drop_added_columns", 3, args, NULL);
	PG_RETURN_VOID();
}

/* auto_register (enable) or auto_register_off for the schema argument. */
static void
SetAutoRegister(FunctionCallInfo fcinfo, bool enable)
{
	Datum		args[2] = {RequiredArg(fcinfo, 0, "schema"), BoolGetDatum(enable)};

	BaseModelRun("_set_auto_register", 2, args, NULL);
}

/* basemodel.auto_register(schema): register the tables created in it from now on. */
Datum
basemodel_auto_register(PG_FUNCTION_ARGS)
{
	SetAutoRegister(fcinfo, true);
	PG_RETURN_VOID();
}

/* basemodel.auto_register_off(schema): stop registering the tables created in it. */
Datum
basemodel_auto_register_off(PG_FUNCTION_ARGS)
{
	SetAutoRegister(fcinfo, false);
	PG_RETURN_VOID();
}

/*
 * register's checks, run by the ddl_command_end trigger on the registration
 * in a trigger written by hand (or restored) on relid, once
 * basemodel._check_trigger has checked the trigger itself.
 */
void
BaseModelCheckRegistration(Oid relid)
{
	BaseModelRegistration reg;
	Datum		args[2] = {ObjectIdGetDatum(relid), BoolGetDatum(true)};

	/* decoding raises the error for a malformed registration */
	if (!BaseModelFindRegistration(relid, CurrentMemoryContext, &reg))
		return;
	CheckTable(relid);
	BaseModelRun("_refuse_inheritance", 2, args, NULL);
	BaseModelRun("_check_partition_branch", 1, args, NULL);
	args[1] = BoolGetDatum(reg.id_column != NULL && BaseModelIdIsUnique(relid, reg.id_column));
	BaseModelRun("_check_mapped_columns", 2, args, NULL);
}
