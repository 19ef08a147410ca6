/*
 * call.c
 *	  Calling the install script's internal functions from C.
 *
 * The internal functions of schema basemodel are not executable by PUBLIC:
 * only the user API is.  PostgreSQL checks EXECUTE against the current
 * role wherever SQL names a function (in plpgsql, views and policies too),
 * so the user API and the event triggers that compose the internal steps
 * are C, and call them through fmgr, which checks no privilege.  They run
 * as the caller all the same (none is SECURITY DEFINER): the C callers
 * check the caller's rights on the table first, as the SQL did.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "utils/catcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "basemodel.h"

/* the most arguments an internal function takes */
#define MAX_INTERNAL_ARGS 10

/*
 * The OID of basemodel.<name> taking nargs arguments.  Internal functions
 * are not overloaded; only the install script creates functions in schema
 * basemodel (no one else may create there), so a missing one can't happen.
 */
static Oid
InternalFunction(const char *name, int nargs)
{
	Oid			nspid = get_namespace_oid("basemodel", false);
	CatCList   *candidates = SearchSysCacheList1(PROCNAMEARGSNSP, CStringGetDatum(name));
	Oid			funcid = InvalidOid;

	for (int i = 0; i < candidates->n_members; i++)
	{
		Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(&candidates->members[i]->tuple);

		if (proc->pronamespace == nspid && proc->pronargs == nargs && !proc->proretset)
		{
			funcid = proc->oid;
			break;
		}
	}
	ReleaseSysCacheList(candidates);
	if (!OidIsValid(funcid))
		elog(ERROR, "function basemodel.%s of %d arguments does not exist", name, nargs);
	return funcid;
}

/*
 * Call basemodel.<name>(args) as the current role, without checking EXECUTE
 * on it; nulls may be NULL when no argument is.  A strict function given a
 * NULL returns NULL without running, as from SQL.  *isnull tells whether
 * the result is NULL.
 */
Datum
BaseModelCall(const char *name, int nargs, const Datum *args, const bool *nulls,
			  bool *isnull)
{
	LOCAL_FCINFO(fcinfo, MAX_INTERNAL_ARGS);
	FmgrInfo	flinfo;
	Oid			funcid;
	Datum		result;

	if (nargs > MAX_INTERNAL_ARGS)
		elog(ERROR, "basemodel.%s cannot take %d arguments", name, nargs);
	funcid = InternalFunction(name, nargs);
	fmgr_info(funcid, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, nargs, InvalidOid, NULL, NULL);
	for (int i = 0; i < nargs; i++)
	{
		fcinfo->args[i].value = args[i];
		fcinfo->args[i].isnull = nulls != NULL && nulls[i];
		if (fcinfo->args[i].isnull && flinfo.fn_strict)
		{
			*isnull = true;
			return (Datum) 0;
		}
	}
	InvokeFunctionExecuteHook(funcid);

	/*
	 * As a statement of a volatile PL/pgSQL function would: see what this
	 * transaction did so far and, under READ COMMITTED, what others
	 * committed (register checks the table again once it holds the lock).
	 */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	result = FunctionCallInvoke(fcinfo);
	PopActiveSnapshot();
	*isnull = fcinfo->isnull;
	return result;
}

/* BaseModelCall for a function whose result is not used (void, or checks that raise). */
void
BaseModelRun(const char *name, int nargs, const Datum *args, const bool *nulls)
{
	bool		isnull;

	(void) BaseModelCall(name, nargs, args, nulls, &isnull);
}

/* BaseModelCall for a function returning boolean: false for NULL. */
bool
BaseModelCallBool(const char *name, int nargs, const Datum *args, const bool *nulls)
{
	bool		isnull;
	Datum		result = BaseModelCall(name, nargs, args, nulls, &isnull);

	return !isnull && DatumGetBool(result);
}
