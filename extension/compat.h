/*
 * compat.h
 *	  The one place where basemodel's server code differs by PostgreSQL major
 *	  version (14 to 17).
 */
#ifndef BASEMODEL_COMPAT_H
#define BASEMODEL_COMPAT_H

#include "utils/guc.h"

/* MarkGUCPrefixReserved appeared in 15; 14 had EmitWarningsOnPlaceholders. */
#if PG_VERSION_NUM < 150000
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

#endif							/* BASEMODEL_COMPAT_H */
