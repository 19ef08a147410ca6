/*
 * todict.c
 *	  basemodel.to_dict(record [, exclude text[]]): the row as jsonb, equal to
 *	  to_jsonb(row) minus the hidden columns of its table and the excluded ones.
 *
 * to_jsonb looks up, for every column of every row, how to convert its type
 * (several syscache lookups) and converts integers through their text form.
 * to_dict does the lookups once per call site (in fn_extra) and converts the
 * common types directly; the value of each type is what to_jsonb makes of
 * it.  Types to_jsonb converts in ways not worth repeating here (json,
 * composites, arrays of those, user-defined types that may have a cast to
 * json) go through to_jsonb itself, one value at a time.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/typcache.h"

#include "basemodel.h"

PG_FUNCTION_INFO_V1(basemodel_to_dict);
PG_FUNCTION_INFO_V1(basemodel_to_dict_exclude);

/* How a value of one type becomes jsonb, decided once per call site. */
typedef enum DictCategory
{
	DICT_BOOL,					/* true / false */
	DICT_INTEGER,				/* int2, int4, int8: a number */
	DICT_NUMERIC,				/* a number, or a string for NaN and infinities */
	DICT_FLOAT,					/* float4, float8: as to_jsonb, through the text form */
	DICT_DATETIME,				/* date, timestamp, timestamptz: ISO 8601 strings */
	DICT_TEXT,					/* text, varchar, bpchar: the string itself */
	DICT_OUTPUT,				/* other built-in types: the output function's string */
	DICT_JSONB,					/* jsonb: the value itself */
	DICT_ARRAY,					/* arrays of the above: nested jsonb arrays */
	DICT_TO_JSONB				/* anything else: to_jsonb(value) */
} DictCategory;

typedef struct DictType
{
	DictCategory category;
	Oid			basetype;		/* after looking through domains */
	FmgrInfo	func;			/* output function, or to_jsonb for DICT_TO_JSONB */
	/* arrays */
	struct DictType *element;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
} DictType;

typedef struct DictColumn
{
	bool		dropped;
	bool		hidden;
	JsonbValue	key;
	DictType	type;
} DictColumn;

/* The per-call-site cache, in a memory context of its own under fn_mcxt. */
typedef struct DictCache
{
	MemoryContext mcxt;
	Oid			typid;			/* the row type the cache was built for */
	int32		typmod;
	BaseModelTable *table;		/* registry.c's entry of the row type's relation, or NULL */
	uint64		generation;		/* the generation of table the cache was built from */
	TupleDesc	tupdesc;
	int			natts;
	DictColumn *columns;
	int		   *order;			/* columns in jsonb key order (length, then bytes) */
	bool	   *skip;			/* hidden, excluded or dropped, per column */
	Datum	   *values;
	bool	   *nulls;
	struct varlena *exclude;	/* the exclude array skip was computed for */
} DictCache;

static void ClassifyType(DictType *type, Oid typid, int32 typmod, Oid collation,
						 MemoryContext mcxt);
static void PushValue(JsonbParseState **state, JsonbIteratorToken seq,
					  DictType *type, Datum value, bool isnull);

/* Prepare the call to to_jsonb(value of typid), which finds its argument type from fn_expr. */
static void
PrepareToJsonb(DictType *type, Oid typid, int32 typmod, Oid collation, MemoryContext mcxt)
{
	MemoryContext old = MemoryContextSwitchTo(mcxt);

	type->category = DICT_TO_JSONB;
	fmgr_info_cxt(F_TO_JSONB, &type->func, mcxt);
	type->func.fn_expr = (Node *)
		makeFuncExpr(F_TO_JSONB, JSONBOID,
					 list_make1(makeNullConst(typid, typmod, collation)),
					 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	MemoryContextSwitchTo(old);
}

/* Convert a value of this type with its output function, as a JSON string. */
static void
PrepareOutput(DictType *type, MemoryContext mcxt)
{
	Oid			outfunc;
	bool		isvarlena;

	getTypeOutputInfo(type->basetype, &outfunc, &isvarlena);
	fmgr_info_cxt(outfunc, &type->func, mcxt);
}

/* Decide, as to_jsonb does for each value, how values of typid convert. */
static void
ClassifyType(DictType *type, Oid typid, int32 typmod, Oid collation, MemoryContext mcxt)
{
	Oid			base = getBaseType(typid);
	Oid			element;

	memset(type, 0, sizeof(*type));
	type->basetype = base;
	switch (base)
	{
		case BOOLOID:
			type->category = DICT_BOOL;
			return;
		case INT2OID:
		case INT4OID:
		case INT8OID:
			type->category = DICT_INTEGER;
			return;
		case NUMERICOID:
			type->category = DICT_NUMERIC;
			PrepareOutput(type, mcxt);
			return;
		case FLOAT4OID:
		case FLOAT8OID:
			type->category = DICT_FLOAT;
			PrepareOutput(type, mcxt);
			return;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			type->category = DICT_DATETIME;
			return;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			type->category = DICT_TEXT;
			return;
		case JSONBOID:
			type->category = DICT_JSONB;
			return;
		case JSONOID:
			PrepareToJsonb(type, typid, typmod, collation, mcxt);
			return;
		default:
			break;
	}

	element = get_element_type(base);
	if (OidIsValid(element))
	{
		DictType   *elemtype = MemoryContextAlloc(mcxt, sizeof(DictType));

		ClassifyType(elemtype, element, -1, collation, mcxt);
		if (elemtype->category == DICT_TO_JSONB || elemtype->category == DICT_ARRAY)
		{
			PrepareToJsonb(type, typid, typmod, collation, mcxt);
			return;
		}
		type->category = DICT_ARRAY;
		type->element = elemtype;
		get_typlenbyvalalign(element, &type->elmlen, &type->elmbyval, &type->elmalign);
		return;
	}

	/* composites, pseudo-arrays and user types (which may cast to json) */
	if (type_is_rowtype(base) || base == ANYARRAYOID || base == ANYCOMPATIBLEARRAYOID ||
		base == RECORDARRAYOID || base >= FirstNormalObjectId)
	{
		PrepareToJsonb(type, typid, typmod, collation, mcxt);
		return;
	}
	type->category = DICT_OUTPUT;
	PrepareOutput(type, mcxt);
}

/* Push a jsonb value where to_jsonb would: a scalar as such, a container token by token. */
static void
PushJsonb(JsonbParseState **state, JsonbIteratorToken seq, Jsonb *jsonb)
{
	JsonbIterator *it = JsonbIteratorInit(&jsonb->root);
	JsonbIteratorToken tok;
	JsonbValue	v;

	if (JB_ROOT_IS_SCALAR(jsonb))
	{
		(void) JsonbIteratorNext(&it, &v, true);	/* the raw scalar's array */
		(void) JsonbIteratorNext(&it, &v, true);
		pushJsonbValue(state, seq, &v);
		return;
	}
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
		pushJsonbValue(state, tok,
					   (tok == WJB_KEY || tok == WJB_VALUE || tok == WJB_ELEM) ? &v : NULL);
}

/* Push a string value (a key or an element) of len bytes. */
static void
PushString(JsonbParseState **state, JsonbIteratorToken seq, char *str, int len)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = str;
	v.val.string.len = len;
	pushJsonbValue(state, seq, &v);
}

/* One dimension of an array, as nested jsonb arrays (to_jsonb's layout). */
static void
PushArrayDim(JsonbParseState **state, DictType *type, int dim, int ndim, int *dims,
			 Datum *elems, bool *nulls, int *index)
{
	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < dims[dim]; i++)
	{
		if (dim + 1 == ndim)
		{
			PushValue(state, WJB_ELEM, type->element, elems[*index], nulls[*index]);
			(*index)++;
		}
		else
			PushArrayDim(state, type, dim + 1, ndim, dims, elems, nulls, index);
	}
	pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/* Push an array value as nested JSON arrays, one level per dimension. */
static void
PushArray(JsonbParseState **state, DictType *type, Datum value)
{
	ArrayType  *array = DatumGetArrayTypeP(value);
	int			ndim = ARR_NDIM(array);
	int		   *dims = ARR_DIMS(array);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			index = 0;

	if (ArrayGetNItems(ndim, dims) <= 0)
	{
		pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
		pushJsonbValue(state, WJB_END_ARRAY, NULL);
		return;
	}
	deconstruct_array(array, ARR_ELEMTYPE(array), type->elmlen, type->elmbyval,
					  type->elmalign, &elems, &nulls, &nelems);
	PushArrayDim(state, type, 0, ndim, dims, elems, nulls, &index);
}

/* Push one column's value, converted the way its type was classified. */
static void
PushValue(JsonbParseState **state, JsonbIteratorToken seq, DictType *type,
		  Datum value, bool isnull)
{
	JsonbValue	v;

	if (isnull)
	{
		v.type = jbvNull;
		pushJsonbValue(state, seq, &v);
		return;
	}

	switch (type->category)
	{
		case DICT_BOOL:
			v.type = jbvBool;
			v.val.boolean = DatumGetBool(value);
			break;
		case DICT_INTEGER:
			v.type = jbvNumeric;
			v.val.numeric = int64_to_numeric(type->basetype == INT8OID ? DatumGetInt64(value) :
											 type->basetype == INT4OID ? DatumGetInt32(value) :
											 DatumGetInt16(value));
			break;
		case DICT_NUMERIC:
			{
				Numeric		num = DatumGetNumeric(value);

				if (numeric_is_nan(num) || numeric_is_inf(num))
				{
					char	   *str = OutputFunctionCall(&type->func, value);

					PushString(state, seq, str, strlen(str));
					return;
				}
				v.type = jbvNumeric;
				v.val.numeric = num;
				break;
			}
		case DICT_FLOAT:
			{
				char	   *str = OutputFunctionCall(&type->func, value);

				/* to_jsonb's rule: NaN and the infinities stay strings */
				if (strchr(str, 'N') != NULL || strchr(str, 'n') != NULL)
				{
					PushString(state, seq, str, strlen(str));
					return;
				}
				v.type = jbvNumeric;
				v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																	CStringGetDatum(str),
																	ObjectIdGetDatum(InvalidOid),
																	Int32GetDatum(-1)));
				break;
			}
		case DICT_DATETIME:
			{
				char	   *str = JsonEncodeDateTime(NULL, value, type->basetype, NULL);

				PushString(state, seq, str, strlen(str));
				return;
			}
		case DICT_TEXT:
			{
				text	   *t = DatumGetTextPP(value);

				PushString(state, seq, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
				return;
			}
		case DICT_OUTPUT:
			{
				char	   *str = OutputFunctionCall(&type->func, value);

				PushString(state, seq, str, strlen(str));
				return;
			}
		case DICT_JSONB:
			PushJsonb(state, seq, DatumGetJsonbP(value));
			return;
		case DICT_ARRAY:
			PushArray(state, type, value);
			return;
		case DICT_TO_JSONB:
			PushJsonb(state, seq, DatumGetJsonbP(FunctionCall1(&type->func, value)));
			return;
	}
	pushJsonbValue(state, seq, &v);
}

/*
 * jsonb keeps object keys sorted by length, then bytes; pushing them in that
 * order makes the sort at the end of each object a check.  Equal names keep
 * their column order, so duplicates resolve as in to_jsonb.
 */
static int
CompareKeys(const void *a, const void *b, void *arg)
{
	DictColumn *columns = (DictColumn *) arg;
	int			ia = *(const int *) a;
	int			ib = *(const int *) b;
	JsonbValue *ka = &columns[ia].key;
	JsonbValue *kb = &columns[ib].key;
	int			cmp;

	if (ka->val.string.len != kb->val.string.len)
		return ka->val.string.len < kb->val.string.len ? -1 : 1;
	cmp = memcmp(ka->val.string.val, kb->val.string.val, ka->val.string.len);
	if (cmp != 0)
		return cmp;
	return ia < ib ? -1 : (ia > ib ? 1 : 0);
}

/* Whether the role owns the relation or has some privilege on it or on one of its columns. */
static bool
HasAnyPrivilege(Oid relid, Oid roleid)
{
	return BaseModelOwnsRelation(relid, roleid) ||
		pg_class_aclmask(relid, roleid, ACL_ALL_RIGHTS_RELATION, ACLMASK_ANY) != 0 ||
		pg_attribute_aclcheck_all(relid, roleid, ACL_SELECT | ACL_INSERT | ACL_UPDATE | ACL_REFERENCES,
								  ACLMASK_ANY) == ACLCHECK_OK;
}

/*
 * Whether the relation to_dict got a row of is a table, which may have a
 * registration, that the current role may learn: it has some privilege on
 * the table or one of its columns, or owns it (the rule of
 * basemodel.models); for a partition, privileges on
 * an ancestor count, as rows reach a partition's triggers through its
 * parent.  A role that has none gets 42501, whether or not the table is
 * registered: to_dict does not serve rows of a table the caller cannot
 * read.  Composite types and views have no registration and need no
 * privilege.
 */
static bool
IsVisibleTable(Oid relid)
{
	Oid			roleid = GetUserId();
	char		relkind = get_rel_relkind(relid);
	bool		visible;

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		return false;
	visible = HasAnyPrivilege(relid, roleid);
	if (!visible && get_rel_relispartition(relid))
	{
		List	   *ancestors = get_partition_ancestors(relid);
		ListCell   *lc;

		foreach(lc, ancestors)
		{
			if ((visible = HasAnyPrivilege(lfirst_oid(lc), roleid)))
				break;
		}
		list_free(ancestors);
	}
	if (!visible)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(relid));
	return true;
}

/*
 * Build the cache for rows of typid/typmod, in a new context: the one of a
 * cache it replaces (another row type at the same call site, or a stale
 * one) goes away with it.
 */
static DictCache *
BuildDictCache(FunctionCallInfo fcinfo, Oid typid, int32 typmod)
{
	MemoryContext mcxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
											   "basemodel to_dict cache",
											   ALLOCSET_SMALL_SIZES);
	DictCache  *cache = MemoryContextAllocZero(mcxt, sizeof(DictCache));
	TupleDesc	tupdesc;
	Oid			relid = get_typ_typrelid(typid);
	bool		visible = false;
	BaseModelRegistration *reg = NULL;
	MemoryContext old;

	cache->mcxt = mcxt;
	cache->typid = typid;
	cache->typmod = typmod;

	/*
	 * Any relation's entry, registered or not, also tells when the row type
	 * of a composite type or view changed (anonymous record types cannot),
	 * so the row type is looked up after it.
	 */
	if (OidIsValid(relid))
	{
		visible = IsVisibleTable(relid);
		cache->table = BaseModelGetTable(relid);
		cache->generation = cache->table->generation;
		if (visible)
			reg = &cache->table->reg;
	}

	tupdesc = lookup_rowtype_tupdesc(typid, typmod);
	old = MemoryContextSwitchTo(mcxt);
	/* with the missing values of added columns, for composites stored before */
	cache->tupdesc = CreateTupleDescCopyConstr(tupdesc);
	MemoryContextSwitchTo(old);
	ReleaseTupleDesc(tupdesc);
	tupdesc = cache->tupdesc;
	cache->natts = tupdesc->natts;
	cache->columns = MemoryContextAllocZero(mcxt, sizeof(DictColumn) * Max(cache->natts, 1));
	cache->skip = MemoryContextAllocZero(mcxt, sizeof(bool) * Max(cache->natts, 1));
	cache->values = MemoryContextAlloc(mcxt, sizeof(Datum) * Max(cache->natts, 1));
	cache->nulls = MemoryContextAlloc(mcxt, sizeof(bool) * Max(cache->natts, 1));

	for (int i = 0; i < cache->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		DictColumn *col = &cache->columns[i];

		col->dropped = att->attisdropped;
		if (col->dropped)
			continue;
		col->key.type = jbvString;
		col->key.val.string.val = NameStr(att->attname);
		col->key.val.string.len = strlen(NameStr(att->attname));
		for (int h = 0; reg != NULL && h < reg->nhidden; h++)
		{
			if (strcmp(reg->hidden[h], NameStr(att->attname)) == 0)
				col->hidden = true;
		}
		ClassifyType(&col->type, att->atttypid, att->atttypmod, att->attcollation, mcxt);
	}
	cache->order = MemoryContextAlloc(mcxt, sizeof(int) * Max(cache->natts, 1));
	for (int i = 0; i < cache->natts; i++)
		cache->order[i] = i;
	qsort_arg(cache->order, cache->natts, sizeof(int), CompareKeys, cache->columns);
	return cache;
}

/* Recompute which columns to leave out, for this exclude array (or none). */
static void
ComputeSkip(DictCache *cache, ArrayType *exclude, MemoryContext mcxt)
{
	Datum	   *names = NULL;
	bool	   *nulls = NULL;
	int			nnames = 0;

	if (exclude != NULL)
		deconstruct_array(exclude, TEXTOID, -1, false, TYPALIGN_INT,
						  &names, &nulls, &nnames);
	for (int i = 0; i < cache->natts; i++)
	{
		DictColumn *col = &cache->columns[i];

		cache->skip[i] = col->dropped || col->hidden;
		for (int n = 0; n < nnames && !cache->skip[i]; n++)
		{
			text	   *name;

			if (nulls[n])
				continue;
			name = DatumGetTextPP(names[n]);
			if ((int) VARSIZE_ANY_EXHDR(name) == col->key.val.string.len &&
				memcmp(VARDATA_ANY(name), col->key.val.string.val,
					   col->key.val.string.len) == 0)
				cache->skip[i] = true;
		}
	}
	if (cache->exclude)
		pfree(cache->exclude);
	cache->exclude = NULL;
	if (exclude != NULL)
	{
		cache->exclude = MemoryContextAlloc(mcxt, VARSIZE(exclude));
		memcpy(cache->exclude, exclude, VARSIZE(exclude));
	}
}

/* The row as a jsonb object, minus hidden columns and those in exclude (may be NULL). */
static Datum
ToDict(FunctionCallInfo fcinfo, ArrayType *exclude)
{
	HeapTupleHeader td = PG_GETARG_HEAPTUPLEHEADER(0);
	Oid			typid = HeapTupleHeaderGetTypeId(td);
	int32		typmod = HeapTupleHeaderGetTypMod(td);
	DictCache  *cache = (DictCache *) fcinfo->flinfo->fn_extra;
	HeapTupleData tuple;
	JsonbParseState *state = NULL;
	JsonbValue *result;

	/*
	 * A relcache invalidation of the row type's relation since the cache was
	 * built may have changed the registration (the hidden columns) or the
	 * row type itself (an ALTER TABLE earlier in the same transaction, seen
	 * by a PL/pgSQL expression that keeps its call site); other relations'
	 * invalidations leave the cache alone.
	 */
	if (cache == NULL || cache->typid != typid || cache->typmod != typmod ||
		(cache->table != NULL &&
		 (!cache->table->valid || cache->table->generation != cache->generation)))
	{
		if (cache != NULL)
			MemoryContextDelete(cache->mcxt);
		fcinfo->flinfo->fn_extra = NULL;
		cache = BuildDictCache(fcinfo, typid, typmod);
		fcinfo->flinfo->fn_extra = cache;
		ComputeSkip(cache, exclude, cache->mcxt);
	}
	else if (exclude != NULL &&
			 (cache->exclude == NULL || VARSIZE(cache->exclude) != VARSIZE(exclude) ||
			  memcmp(cache->exclude, exclude, VARSIZE(exclude)) != 0))
		ComputeSkip(cache, exclude, cache->mcxt);

	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = td;
	heap_deform_tuple(&tuple, cache->tupdesc, cache->values, cache->nulls);

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int n = 0; n < cache->natts; n++)
	{
		int			i = cache->order[n];
		DictColumn *col = &cache->columns[i];

		if (cache->skip[i])
			continue;
		pushJsonbValue(&state, WJB_KEY, &col->key);
		PushValue(&state, WJB_VALUE, &col->type, cache->values[i], cache->nulls[i]);
	}
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(result));
}

/* basemodel.to_dict(record) */
Datum
basemodel_to_dict(PG_FUNCTION_ARGS)
{
	return ToDict(fcinfo, NULL);
}

/* basemodel.to_dict(record, exclude text[]) */
Datum
basemodel_to_dict_exclude(PG_FUNCTION_ARGS)
{
	return ToDict(fcinfo, PG_GETARG_ARRAYTYPE_P(1));
}
