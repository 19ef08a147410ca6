/*
 * version.c
 *	  The library's version, as the build's EXTVERSION names it.
 */
#include "util.h"

/* version of the library, "MAJOR.MINOR" */
BM_EXPORT const char *
bm_version(void)
{
	return BM_VERSION;
}
