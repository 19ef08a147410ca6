/*
 * compat.h
 *	  The one place where basemodel's server code differs by PostgreSQL major
 *	  version (14 to 17).
 */
#ifndef BASEMODEL_COMPAT_H
#define BASEMODEL_COMPAT_H

#include "utils/acl.h"
#include "utils/guc.h"

/* MarkGUCPrefixReserved appeared in 15; 14 had EmitWarningsOnPlaceholders. */
#if PG_VERSION_NUM < 150000
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/* 16 replaced the per-catalog ownership checks by object_ownercheck. */
#if PG_VERSION_NUM >= 160000
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#define BaseModelOwnsRelation(relid, roleid) \
	object_ownercheck(RelationRelationId, (relid), (roleid))
#define BaseModelOwnsExtension(extid, roleid) \
	object_ownercheck(ExtensionRelationId, (extid), (roleid))
#else
#define BaseModelOwnsRelation(relid, roleid) pg_class_ownercheck((relid), (roleid))
#define BaseModelOwnsExtension(extid, roleid) pg_extension_ownercheck((extid), (roleid))
#endif

#endif							/* BASEMODEL_COMPAT_H */
