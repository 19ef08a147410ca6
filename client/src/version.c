/*
 * version.c
 *	  The library's version: BM_VERSION of the header it was built with.
 */
#include "util.h"

/* version of the library, "MAJOR.MINOR.PATCH" */
BM_EXPORT const char *
bm_version(void)
{
	return BM_VERSION;
}
