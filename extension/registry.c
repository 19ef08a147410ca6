/*
 * registry.c
 *	  Reading registrations: a table is registered exactly when it has the
 *	  trigger zzz_basemodel_update calling basemodel.before_update(), and the
 *	  trigger's one argument is the registration.
 *
 * Keeping the registration in the trigger means that every dump that holds
 * the table holds its registration too (pg_dump -n, -t, --schema-only,
 * pg_restore --clean), and that DROP TRIGGER is unregistering.  The argument
 * is a JSON object, version 1:
 *
 *	 {"version": 1, "id_column": "id", "created_column": "created_at",
 *	  "updated_column": "updated_at", "hidden": [...], "ignore_columns": [...],
 *	  "skip_unchanged": false, "added_columns": [...]}
 *
 * where a mapped column may be null (the table has none), and added_columns
 * (what register added, for unregister's drop_columns) may only name mapped
 * columns.  The install script writes it (basemodel._write_registration);
 * this file is its one reader, for the trigger, for to_dict and, through
 * basemodel.registration(), for SQL.
 *
 * The trigger and to_dict share one cache of it per relation (BaseModelTable,
 * with the column numbers resolved), dropped by a relcache invalidation of
 * that relation only: creating, replacing or dropping the trigger sends one,
 * and so does any change of the row type, while DDL on other tables leaves
 * the entry alone.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "basemodel.h"

PG_FUNCTION_INFO_V1(basemodel_registration);
PG_FUNCTION_INFO_V1(basemodel_trigger_name);

/* the version of the trigger argument this code writes and reads */
#define REGISTRATION_VERSION "1"

/* Raise the error for a trigger argument that is not a registration. */
static void
pg_attribute_noreturn()
InvalidRegistration(const char *relname, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid basemodel registration in trigger \"%s\" of relation \"%s\"",
					BASEMODEL_TRIGGER_NAME, relname),
			 errdetail_internal("%s", detail),
			 errhint("Drop the trigger and call basemodel.register on the table again.")));
}

/* Error context while the argument is parsed as JSON: which table it belongs to. */
static void
RegistrationErrorContext(void *arg)
{
	errcontext("basemodel registration of relation \"%s\"", (const char *) arg);
}

/* A key of the registration object, which must be there. */
static JsonbValue *
RegistrationKey(Jsonb *jb, const char *key, const char *relname)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&jb->root, key, strlen(key), NULL);

	if (v == NULL)
		InvalidRegistration(relname, psprintf("The key \"%s\" is missing.", key));
	return v;
}

/* A JSON string that can be a column name, copied into mcxt. */
static char *
RegistrationName(JsonbValue *v, const char *key, const char *relname, MemoryContext mcxt)
{
	char	   *name;

	if (v->type != jbvString || v->val.string.len == 0 ||
		v->val.string.len >= NAMEDATALEN)
		InvalidRegistration(relname,
							psprintf("\"%s\" must hold column names, non-empty strings shorter than %d bytes.",
									 key, NAMEDATALEN));
	name = MemoryContextAlloc(mcxt, v->val.string.len + 1);
	memcpy(name, v->val.string.val, v->val.string.len);
	name[v->val.string.len] = '\0';
	return name;
}

/* A mapped column: a name or null. */
static char *
RegistrationColumn(Jsonb *jb, const char *key, const char *relname, MemoryContext mcxt)
{
	JsonbValue *v = RegistrationKey(jb, key, relname);

	if (v->type == jbvNull)
		return NULL;
	return RegistrationName(v, key, relname, mcxt);
}

/* A list of column names: an array of strings. */
static int
RegistrationNames(Jsonb *jb, const char *key, const char *relname, MemoryContext mcxt,
				  char ***names)
{
	JsonbValue *v = RegistrationKey(jb, key, relname);
	JsonbContainer *array;
	int			n;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data) ||
		JsonContainerIsScalar(v->val.binary.data))
		InvalidRegistration(relname, psprintf("\"%s\" must be an array.", key));
	array = v->val.binary.data;
	n = JsonContainerSize(array);
	*names = n > 0 ? MemoryContextAlloc(mcxt, sizeof(char *) * n) : NULL;
	for (int i = 0; i < n; i++)
		(*names)[i] = RegistrationName(getIthJsonbValueFromContainer(array, i),
									   key, relname, mcxt);
	return n;
}

/* Whether name is one of the mapped columns of reg. */
static bool
IsMappedColumn(BaseModelRegistration *reg, const char *name)
{
	return (reg->id_column && strcmp(reg->id_column, name) == 0) ||
		(reg->created_column && strcmp(reg->created_column, name) == 0) ||
		(reg->updated_column && strcmp(reg->updated_column, name) == 0);
}

/*
 * Parse the arguments of basemodel's trigger on relation relname into reg,
 * with strings allocated in mcxt.  Anything but one well-formed version 1
 * argument raises an error (22023, or the JSON parser's own).
 */
static void
BaseModelParseRegistration(const char *relname, int nargs, char **args,
						   MemoryContext mcxt, BaseModelRegistration *reg)
{
	ErrorContextCallback errcallback;
	Jsonb	   *jb;
	JsonbValue *v;

	memset(reg, 0, sizeof(*reg));
	if (nargs != 1)
		InvalidRegistration(relname,
							psprintf("The trigger has %d arguments; it must have one.", nargs));

	errcallback.callback = RegistrationErrorContext;
	errcallback.arg = (void *) relname;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(args[0])));
	error_context_stack = errcallback.previous;

	if (!JB_ROOT_IS_OBJECT(jb))
		InvalidRegistration(relname, "The argument must be a JSON object.");
	v = RegistrationKey(jb, "version", relname);
	if (v->type != jbvNumeric ||
		strcmp(DatumGetCString(DirectFunctionCall1(numeric_out,
												   NumericGetDatum(v->val.numeric))),
			   REGISTRATION_VERSION) != 0)
		InvalidRegistration(relname, "Only version " REGISTRATION_VERSION " is known.");

	reg->id_column = RegistrationColumn(jb, "id_column", relname, mcxt);
	reg->created_column = RegistrationColumn(jb, "created_column", relname, mcxt);
	reg->updated_column = RegistrationColumn(jb, "updated_column", relname, mcxt);
	reg->nhidden = RegistrationNames(jb, "hidden", relname, mcxt, &reg->hidden);
	reg->nignored = RegistrationNames(jb, "ignore_columns", relname, mcxt, &reg->ignored);
	reg->nadded = RegistrationNames(jb, "added_columns", relname, mcxt, &reg->added);
	for (int i = 0; i < reg->nadded; i++)
	{
		if (!IsMappedColumn(reg, reg->added[i]))
			InvalidRegistration(relname,
								psprintf("\"added_columns\" names \"%s\", which is not a mapped column.",
										 reg->added[i]));
	}
	v = RegistrationKey(jb, "skip_unchanged", relname);
	if (v->type != jbvBool)
		InvalidRegistration(relname, "\"skip_unchanged\" must be true or false.");
	reg->skip_unchanged = v->val.boolean;
}

/* Whether funcoid is basemodel.before_update(). */
static bool
IsBaseModelTriggerFunction(Oid funcoid)
{
	char	   *name = get_func_name(funcoid);
	char	   *nspname;

	if (name == NULL || strcmp(name, "before_update") != 0)
		return false;
	nspname = get_namespace_name(get_func_namespace(funcoid));
	return nspname != NULL && strcmp(nspname, "basemodel") == 0;
}

/* Split a pg_trigger.tgargs value into its nargs NUL-terminated strings. */
static char **
TriggerArguments(bytea *tgargs, int nargs)
{
	char	   *p = VARDATA_ANY(tgargs);
	char	   *end = p + VARSIZE_ANY_EXHDR(tgargs);
	char	  **args = palloc(sizeof(char *) * Max(nargs, 1));

	for (int i = 0; i < nargs; i++)
	{
		char	   *nul = memchr(p, '\0', end - p);

		if (nul == NULL)
			elog(ERROR, "malformed tgargs of a trigger");
		args[i] = p;
		p = nul + 1;
	}
	return args;
}

/*
 * The relation whose trigger tuple's trigger is, or was cloned from: follow
 * tgparentid up to the trigger a partitioned table's registration created.
 */
static Oid
RegisteredRelation(Relation tgrel, HeapTuple tuple)
{
	Form_pg_trigger trigger = (Form_pg_trigger) GETSTRUCT(tuple);
	Oid			relid = trigger->tgrelid;
	Oid			parent = trigger->tgparentid;

	while (OidIsValid(parent))
	{
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	ptuple;

		ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(parent));
		scan = systable_beginscan(tgrel, TriggerOidIndexId, true, NULL, 1, &key);
		ptuple = systable_getnext(scan);
		if (!HeapTupleIsValid(ptuple))
			elog(ERROR, "cache lookup failed for trigger %u", parent);
		relid = ((Form_pg_trigger) GETSTRUCT(ptuple))->tgrelid;
		parent = ((Form_pg_trigger) GETSTRUCT(ptuple))->tgparentid;
		systable_endscan(scan);
	}
	return relid;
}

/*
 * Find the registration of relation relid: the arguments of its trigger
 * BASEMODEL_TRIGGER_NAME (for a partition, the clone of its registered
 * parent's).  Strings are allocated in mcxt.  Returns false when the
 * relation has no such trigger calling basemodel.before_update().
 */
bool
BaseModelFindRegistration(Oid relid, MemoryContext mcxt, BaseModelRegistration *reg)
{
	Relation	tgrel;
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found = false;

	memset(reg, 0, sizeof(*reg));
	tgrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&keys[0], Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	ScanKeyInit(&keys[1], Anum_pg_trigger_tgname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum(BASEMODEL_TRIGGER_NAME));
	scan = systable_beginscan(tgrel, TriggerRelidNameIndexId, true, NULL, 2, keys);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple) &&
		IsBaseModelTriggerFunction(((Form_pg_trigger) GETSTRUCT(tuple))->tgfoid))
	{
		Form_pg_trigger trigger = (Form_pg_trigger) GETSTRUCT(tuple);
		bool		isnull;
		Datum		tgargs = heap_getattr(tuple, Anum_pg_trigger_tgargs,
										  RelationGetDescr(tgrel), &isnull);
		char	   *relname = get_rel_name(relid);

		if (isnull)
			InvalidRegistration(relname, "The trigger has no arguments.");
		BaseModelParseRegistration(relname, trigger->tgnargs,
								   TriggerArguments(DatumGetByteaPP(tgargs), trigger->tgnargs),
								   mcxt, reg);
		reg->regrelid = RegisteredRelation(tgrel, tuple);
		found = true;
	}
	systable_endscan(scan);
	table_close(tgrel, AccessShareLock);
	return found;
}

/* A list of names as a name[] Datum. */
static Datum
NameArray(char **names, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = DirectFunctionCall1(namein, CStringGetDatum(names[i]));
	return PointerGetDatum(construct_array(elems, n, NAMEOID, NAMEDATALEN, false,
										   TYPALIGN_CHAR));
}

/* A column name as a name Datum; *isnull when there is none (NULL). */
Datum
BaseModelNameOrNull(const char *name, bool *isnull)
{
	*isnull = (name == NULL);
	return name ? DirectFunctionCall1(namein, CStringGetDatum(name)) : (Datum) 0;
}

/*
 * basemodel.registration(tbl oid): the registration of a table, decoded
 * from its trigger, as the columns of basemodel.registry; NULL when the
 * table is not registered.  It reveals nothing pg_trigger does not.
 */
Datum
basemodel_registration(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	TupleDesc	tupdesc;
	BaseModelRegistration reg;
	Datum		values[7];
	bool		nulls[7] = {false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE ||
		tupdesc->natts != lengthof(values))
		elog(ERROR, "basemodel.registration() must return a row of 7 columns");
	if (!BaseModelFindRegistration(relid, CurrentMemoryContext, &reg))
		PG_RETURN_NULL();

	values[0] = BaseModelNameOrNull(reg.id_column, &nulls[0]);
	values[1] = BaseModelNameOrNull(reg.created_column, &nulls[1]);
	values[2] = BaseModelNameOrNull(reg.updated_column, &nulls[2]);
	values[3] = NameArray(reg.hidden, reg.nhidden);
	values[4] = NameArray(reg.ignored, reg.nignored);
	values[5] = BoolGetDatum(reg.skip_unchanged);
	values[6] = NameArray(reg.added, reg.nadded);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/* basemodel.trigger_name(): BASEMODEL_TRIGGER_NAME, for SQL (user API). */
Datum
basemodel_trigger_name(PG_FUNCTION_ARGS)
{
	Name		name = (Name) palloc0(NAMEDATALEN);

	namestrcpy(name, BASEMODEL_TRIGGER_NAME);
	PG_RETURN_NAME(name);
}

/* The attnum of the live column called name, or 0. */
static int
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

/* Mark in columns[natts] the live columns of tupdesc that names lists. */
static bool *
MarkColumns(TupleDesc tupdesc, char **names, int n, MemoryContext mcxt)
{
	bool	   *columns = MemoryContextAllocZero(mcxt, sizeof(bool) * Max(tupdesc->natts, 1));

	for (int i = 0; i < n; i++)
	{
		AttrNumber	attnum = BaseModelFindColumn(tupdesc, names[i]);

		if (attnum > 0)
			columns[attnum - 1] = true;
	}
	return columns;
}

/* The cache of BaseModelTable entries, keyed by relid; created on first use. */
static HTAB *TableCache = NULL;

/* Hands out BaseModelTable.generation values, so that none repeats. */
static uint64 TableGenerations = 0;

/* Mark one entry stale. */
static inline void
InvalidateTable(BaseModelTable *table)
{
	table->valid = false;
	table->invalidations++;
}

/* A relcache invalidation: of relid's entry only, or of all for InvalidOid. */
static void
TableCacheCallback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	BaseModelTable *table;

	if (TableCache == NULL)
		return;
	if (OidIsValid(relid))
	{
		table = hash_search(TableCache, &relid, HASH_FIND, NULL);
		if (table != NULL)
			InvalidateTable(table);
		return;
	}
	hash_seq_init(&status, TableCache);
	while ((table = hash_seq_search(&status)) != NULL)
		InvalidateTable(table);
}

/* Called from _PG_init. */
void
BaseModelRegistryInit(void)
{
	CacheRegisterRelcacheCallback(TableCacheCallback, (Datum) 0);
}

/*
 * Read the registration of table->relid again and resolve its columns in
 * the relation's current row type, looked up after the registration so
 * that it is at least as new.  Reading the catalogs may take in
 * invalidations; one of this relation meanwhile leaves the entry stale
 * (used this once, filled again next time), and an error leaves it stale
 * too.
 */
static void
FillTable(BaseModelTable *table)
{
	uint64		invalidations = table->invalidations;
	BaseModelRegistration *reg = &table->reg;
	Oid			reltype;
	TupleDesc	tupdesc;

	table->valid = false;
	MemoryContextReset(table->mcxt);
	table->registered = BaseModelFindRegistration(table->relid, table->mcxt, reg);
	reltype = get_rel_type_id(table->relid);
	if (!OidIsValid(reltype))
		elog(ERROR, "relation %u has no row type", table->relid);
	tupdesc = lookup_rowtype_tupdesc(reltype, -1);
	table->natts = tupdesc->natts;
	table->id_attnum = BaseModelFindColumn(tupdesc, reg->id_column);
	table->created_attnum = BaseModelFindColumn(tupdesc, reg->created_column);
	table->updated_attnum = BaseModelFindColumn(tupdesc, reg->updated_column);
	table->updated_typid = table->updated_attnum == 0 ? InvalidOid :
		TupleDescAttr(tupdesc, table->updated_attnum - 1)->atttypid;
	table->ignored = MarkColumns(tupdesc, reg->ignored, reg->nignored, table->mcxt);
	ReleaseTupleDesc(tupdesc);
	table->generation = ++TableGenerations;
	table->valid = (table->invalidations == invalidations);
}

/*
 * The cached registration of relation relid (registered or not), with its
 * columns resolved in the relation's row type: filled again after an
 * invalidation of relid.  A caller that looks up the row type itself does
 * so after this call, and keeps the entry's generation: an invalidation
 * after the fill, which its row type may not show, makes the entry stale.
 */
BaseModelTable *
BaseModelGetTable(Oid relid)
{
	BaseModelTable *table;
	bool		found;

	if (TableCache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(BaseModelTable);
		ctl.hcxt = CacheMemoryContext;
		TableCache = hash_create("basemodel registration cache", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	table = hash_search(TableCache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		MemSet(table, 0, sizeof(BaseModelTable));
		table->relid = relid;
		table->mcxt = AllocSetContextCreate(CacheMemoryContext, "basemodel registration",
											ALLOCSET_SMALL_SIZES);
	}
	if (!table->valid)
		FillTable(table);
	return table;
}
