/*
 * basemodel.c
 *	  Module entry point: the magic block and the extension's settings.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "basemodel.h"

PG_MODULE_MAGIC;

/* basemodel.allow_base_column_updates: let UPDATE change id and created_at */
bool		BaseModelAllowBaseColumnUpdates = false;

/* Define the extension's settings, reserve their prefix, set up caches. */
void
_PG_init(void)
{
	DefineCustomBoolVariable("basemodel.allow_base_column_updates",
							 "Allows UPDATE to change the id and created_at columns of registered tables.",
							 "A data-fix escape hatch; leave it off in normal operation.",
							 &BaseModelAllowBaseColumnUpdates,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("basemodel");

	BaseModelRegistryInit();
}
