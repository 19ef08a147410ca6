/*
 * params.c
 *	  bm_params: a statement's parameters in text form, built from integers,
 *	  doubles and booleans without the caller's snprintf.  Text is what the
 *	  library sends (the server converts it to the parameter's type), so
 *	  numbers are written exactly: a double in 17 significant digits reads
 *	  back as the same double.  Calls util only.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

BM_EXPORT void
bm_params_init(bm_params *p)
{
	if (p != NULL)
		p->n = 0;
}

/* the next slot's buffer, or NULL (and why) when there is none */
static char *
next_slot(bm_params *p, const char *what)
{
	if (p == NULL)
	{
		set_last_error(BM_ERR_USAGE, "%s: params is NULL", what);
		return NULL;
	}
	if (p->n < 0 || p->n >= BM_PARAMS_MAX)
	{
		set_last_error(BM_ERR_USAGE, "%s: bm_params holds at most " BM_STR(BM_PARAMS_MAX)
					   " parameters", what);
		return NULL;
	}
	return p->text[p->n];
}

BM_EXPORT int
bm_params_int64(bm_params *p, long long v)
{
	char	   *buf = next_slot(p, "bm_params_int64");

	if (buf == NULL)
		return -1;
	snprintf(buf, sizeof(p->text[0]), "%lld", v);
	p->values[p->n++] = buf;
	return 0;
}

BM_EXPORT int
bm_params_double(bm_params *p, double v)
{
	char	   *buf = next_slot(p, "bm_params_double");

	if (buf == NULL)
		return -1;
	if (isnan(v))
		strcpy(buf, "NaN");
	else if (isinf(v))
		strcpy(buf, v > 0 ? "Infinity" : "-Infinity");
	else
		snprintf(buf, sizeof(p->text[0]), "%.17g", v);
	p->values[p->n++] = buf;
	return 0;
}

BM_EXPORT int
bm_params_bool(bm_params *p, int v)
{
	if (next_slot(p, "bm_params_bool") == NULL)
		return -1;
	p->values[p->n++] = v ? "true" : "false";
	return 0;
}

BM_EXPORT int
bm_params_text(bm_params *p, const char *v)
{
	if (next_slot(p, "bm_params_text") == NULL)
		return -1;
	p->values[p->n++] = v;
	return 0;
}
