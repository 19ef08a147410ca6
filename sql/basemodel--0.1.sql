-- basemodel 0.1: the install script.
\echo Use "CREATE EXTENSION basemodel" to load this file. \quit

-- Everything lives in the schema basemodel, which belongs to the extension so
-- that DROP EXTENSION removes it; the control file names pg_catalog only to
-- pin the extension itself.  Every object below is schema-qualified.
CREATE SCHEMA basemodel;
GRANT USAGE ON SCHEMA basemodel TO PUBLIC;
COMMENT ON SCHEMA basemodel IS 'objects of the basemodel extension';

-- the __tablename__ rule of the Python models basemodel replaces
CREATE FUNCTION basemodel.tablename(class_name text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN lower(class_name) || 's';

COMMENT ON FUNCTION basemodel.tablename(text) IS
    'table name for a model class: lower case plus "s" (''User'' -> ''users'')';

-- ---------------------------------------------------------------------------
-- The catalog
-- ---------------------------------------------------------------------------

-- Registrations are not kept in a table: a table is registered exactly when
-- it has the trigger named by basemodel.trigger_name() (zzz_basemodel_update),
-- whose one argument holds the options (see basemodel.registry below, and
-- extension/registry.c for the format).  Every dump that holds a table holds its trigger, so the two can
-- never drift apart.

-- Schemas whose new tables are registered at creation: a per-schema setting,
-- dumped as extension configuration.  Stored by name (regnamespace would
-- block pg_upgrade); ALTER SCHEMA ... RENAME is followed, and a schema
-- created under the name of a stale entry (one restored from a dump that
-- did not hold the schema) drops it.
CREATE TABLE basemodel.auto_schemas (
    schema_name name PRIMARY KEY
);
SELECT pg_catalog.pg_extension_config_dump('basemodel.auto_schemas', '');
COMMENT ON TABLE basemodel.auto_schemas IS
    'schemas where CREATE TABLE registers the new table; see basemodel.auto_register';

-- Nothing here is SECURITY DEFINER: auto_register runs as its caller, and
-- row level security lets a role change only the entries of the schemas it
-- owns.  The policies call built-in functions only (a policy's functions
-- need EXECUTE by the current role, and basemodel's internal functions are
-- not PUBLIC's): the subquery is NULL when the schema does not exist.
ALTER TABLE basemodel.auto_schemas ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, DELETE, UPDATE ON basemodel.auto_schemas TO PUBLIC;
CREATE POLICY auto_schemas_read ON basemodel.auto_schemas FOR SELECT USING (true);
CREATE POLICY auto_schemas_insert ON basemodel.auto_schemas FOR INSERT
    WITH CHECK (coalesce((SELECT pg_catalog.pg_has_role(n.nspowner, 'USAGE')
                            FROM pg_catalog.pg_namespace n WHERE n.nspname = schema_name), false));
CREATE POLICY auto_schemas_update ON basemodel.auto_schemas FOR UPDATE
    USING (coalesce((SELECT pg_catalog.pg_has_role(n.nspowner, 'USAGE')
                       FROM pg_catalog.pg_namespace n WHERE n.nspname = schema_name), true))
    WITH CHECK (coalesce((SELECT pg_catalog.pg_has_role(n.nspowner, 'USAGE')
                            FROM pg_catalog.pg_namespace n WHERE n.nspname = schema_name), false));
CREATE POLICY auto_schemas_delete ON basemodel.auto_schemas FOR DELETE
    USING (coalesce((SELECT pg_catalog.pg_has_role(n.nspowner, 'USAGE')
                       FROM pg_catalog.pg_namespace n WHERE n.nspname = schema_name), true));

COMMENT ON POLICY auto_schemas_read ON basemodel.auto_schemas IS
    'everyone sees which schemas register new tables';
COMMENT ON POLICY auto_schemas_insert ON basemodel.auto_schemas IS
    'only the owner of an existing schema turns auto-registration on';
COMMENT ON POLICY auto_schemas_update ON basemodel.auto_schemas IS
    'only the owner of a schema changes its entry (renames are followed)';
COMMENT ON POLICY auto_schemas_delete ON basemodel.auto_schemas IS
    'only the owner of a schema, or anyone once the schema is gone, removes its entry';

-- ---------------------------------------------------------------------------
-- The trigger and to_dict (C)
-- ---------------------------------------------------------------------------

CREATE FUNCTION basemodel.before_update() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'basemodel_before_update';
COMMENT ON FUNCTION basemodel.before_update() IS
    'BEFORE UPDATE row trigger of registered tables: keeps updated_at current, guards id and created_at';

CREATE FUNCTION basemodel.to_dict(record) RETURNS jsonb
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'basemodel_to_dict';
COMMENT ON FUNCTION basemodel.to_dict(record) IS
    'the row as jsonb, like to_jsonb(row), minus the hidden columns of its table';

CREATE FUNCTION basemodel.to_dict(record, exclude text[]) RETURNS jsonb
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'basemodel_to_dict_exclude';
COMMENT ON FUNCTION basemodel.to_dict(record, text[]) IS
    'the row as jsonb, like to_jsonb(row), minus the hidden columns of its table and the excluded ones';

-- ---------------------------------------------------------------------------
-- Registrations: the argument of each table's trigger
-- ---------------------------------------------------------------------------

-- The name of the trigger that holds a registration, from the C constant
-- BASEMODEL_TRIGGER_NAME: the one place it is spelt.  User API (README,
-- Security): basemodel.registry calls it as its reader.
CREATE FUNCTION basemodel.trigger_name() RETURNS name
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'basemodel_trigger_name';
COMMENT ON FUNCTION basemodel.trigger_name() IS
    'the name of the trigger register installs, which holds the registration';

-- User API (README, Security): basemodel.registry calls it as its reader.
-- Read-only, and it reveals nothing pg_trigger (readable by all) does not.
CREATE FUNCTION basemodel.registration(tbl oid,
    OUT id_column name, OUT created_column name, OUT updated_column name,
    OUT hidden name[], OUT ignore_columns name[], OUT skip_unchanged boolean,
    OUT added_columns name[])
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'basemodel_registration';
COMMENT ON FUNCTION basemodel.registration(oid) IS
    'the registration of a table, decoded from its trigger; NULL when it has none';

-- Not a security barrier and not filtered: a registration is as public as
-- the trigger that holds it (pg_trigger and pg_get_triggerdef are readable
-- by all), the internal checks must see every registration whatever the
-- current role may see, and without a barrier a condition on tbl reaches
-- the scan of pg_trigger, so that only the registrations asked for are
-- decoded.  ENABLED is false while the trigger is disabled (ALTER TABLE ...
-- DISABLE TRIGGER, or ENABLE REPLICA outside replication) on the table or,
-- for a partitioned table, on any partition (only the partitions' copies
-- fire): some rows are then registered but not guarded.
CREATE VIEW basemodel.registry AS
SELECT t.tgrelid::pg_catalog.regclass AS tbl,
       r.id_column,
       r.created_column,
       r.updated_column,
       r.hidden,
       r.ignore_columns,
       r.skip_unchanged,
       r.added_columns,
       NOT EXISTS (SELECT FROM pg_catalog.pg_trigger c
                     JOIN pg_catalog.pg_class k ON k.oid = c.tgrelid
                    WHERE c.tgname = t.tgname AND k.relkind <> 'p'
                      AND c.tgenabled NOT IN ('O', 'A')
                      AND (c.tgrelid = t.tgrelid
                           OR c.tgrelid IN (SELECT pt.relid FROM pg_catalog.pg_partition_tree(t.tgrelid) pt))) AS enabled
  FROM pg_catalog.pg_trigger t
 CROSS JOIN LATERAL basemodel.registration(t.tgrelid) r
 WHERE t.tgname = basemodel.trigger_name()
   AND t.tgfoid = 'basemodel.before_update()'::pg_catalog.regprocedure
   AND t.tgparentid = 0;
GRANT SELECT ON basemodel.registry TO PUBLIC;
COMMENT ON VIEW basemodel.registry IS
    'registered tables and their options, read from their triggers (as public as pg_trigger); change them through basemodel.register and basemodel.unregister';

-- Write a registration: create the trigger, or replace its argument (CREATE
-- OR REPLACE keeps the trigger and its clones on partitions, and needs no
-- stronger lock than CREATE TRIGGER).  CREATE OR REPLACE enables the trigger
-- and every copy of it on partitions again; each one that was disabled (or
-- enabled for replication) is set back, table by table, so that following a
-- rename or a dropped column does not change which rows are guarded.  The
-- enabled field of REG is not read.
CREATE FUNCTION basemodel._write_registration(reg basemodel.registry) RETURNS void
    LANGUAGE plpgsql VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rels regclass[];
    states "char"[];
BEGIN
    IF reg.tbl IS NULL THEN
        RAISE EXCEPTION 'registration must name a table' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT array_agg(t.tgrelid::regclass), array_agg(t.tgenabled) INTO rels, states
      FROM pg_trigger t
     WHERE (t.tgrelid = reg.tbl OR t.tgrelid IN (SELECT pt.relid FROM pg_partition_tree(reg.tbl) pt))
       AND t.tgname = basemodel.trigger_name()
       AND t.tgfoid = 'basemodel.before_update()'::regprocedure
       AND t.tgenabled IN ('D', 'R');
    EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE UPDATE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION basemodel.before_update(%L)',
                   basemodel.trigger_name(), reg.tbl,
                   json_build_object('version', 1,
                                      'id_column', reg.id_column,
                                      'created_column', reg.created_column,
                                      'updated_column', reg.updated_column,
                                      'hidden', coalesce(reg.hidden, '{}'),
                                      'ignore_columns', coalesce(reg.ignore_columns, '{}'),
                                      'skip_unchanged', coalesce(reg.skip_unchanged, false),
                                      'added_columns', coalesce(reg.added_columns, '{}'))::text);
    FOR i IN 1 .. coalesce(cardinality(rels), 0) LOOP
        EXECUTE format('ALTER TABLE ONLY %s %s TRIGGER %I', rels[i],
                       CASE states[i] WHEN 'D' THEN 'DISABLE' ELSE 'ENABLE REPLICA' END,
                       basemodel.trigger_name());
    END LOOP;
END;
$$;
COMMENT ON FUNCTION basemodel._write_registration(basemodel.registry) IS
    'internal: writes a registration as the argument of the table''s trigger';

-- A trigger calling basemodel.before_update() registers its table, so only
-- the table's owner may create one (pg_restore runs as the owner or a
-- superuser), only in the shape register gives it, and only with a
-- registration register would have written: the trigger's table is
-- returned for the ddl_command_end trigger (C) to check its registration
-- as register would, or NULL when there is nothing more to check.  Whatever function it
-- calls, a trigger named zzz_basemodel_update replaces a registration
-- (CREATE OR REPLACE TRIGGER), which is the owner's to do.
CREATE FUNCTION basemodel._check_trigger(trigger oid) RETURNS oid
    LANGUAGE plpgsql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    trg record;
BEGIN
    SELECT t.tgrelid, t.tgname, t.tgtype, t.tgqual IS NOT NULL AS has_when,
           cardinality(t.tgattr::int2[]) > 0 AS has_columns, c.relowner, c.relname,
           t.tgfoid = 'basemodel.before_update()'::regprocedure AS ours
      INTO trg
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE t.oid = $1
       AND (t.tgfoid = 'basemodel.before_update()'::regprocedure OR t.tgname = basemodel.trigger_name());
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF NOT pg_has_role(trg.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', trg.relname
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = CASE WHEN trg.ours
                                THEN 'A trigger calling basemodel.before_update() registers the table.'
                                ELSE format('basemodel reserves the trigger name "%s" for the registration of the table.', basemodel.trigger_name()) END,
                  HINT = format('The owner of the table calls basemodel.register(%L).', trg.tgrelid::regclass);
    END IF;
    IF NOT trg.ours THEN
        RETURN NULL;
    END IF;
    -- 19: TRIGGER_TYPE_ROW | TRIGGER_TYPE_BEFORE | TRIGGER_TYPE_UPDATE
    IF trg.tgname <> basemodel.trigger_name() OR trg.tgtype <> 19 OR trg.has_when OR trg.has_columns THEN
        RAISE EXCEPTION 'trigger "%" on table "%" cannot call basemodel.before_update()',
                        trg.tgname, trg.relname
            USING ERRCODE = 'invalid_object_definition',
                  DETAIL = format('basemodel.before_update() runs only as the trigger "%s" BEFORE UPDATE FOR EACH ROW, without WHEN or a column list.',
                                  basemodel.trigger_name()),
                  HINT = format('Call basemodel.register(%L) to install it.', trg.tgrelid::regclass);
    END IF;
    RETURN trg.tgrelid;
END;
$$;
COMMENT ON FUNCTION basemodel._check_trigger(oid) IS
    'internal: refuses a trigger calling basemodel.before_update() in a shape register would not have made, or on a table the current role does not own';

-- ---------------------------------------------------------------------------
-- register / unregister
-- ---------------------------------------------------------------------------

-- Check that TBL may be registered by the current role, and return its kind.
CREATE FUNCTION basemodel._check_table(tbl regclass) RETURNS "char"
    LANGUAGE plpgsql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel record;
BEGIN
    SELECT c.relname, c.relkind, c.relpersistence, c.relowner, n.nspname
      INTO rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid
            USING ERRCODE = 'undefined_table';
    END IF;
    IF rel.nspname IN ('pg_catalog', 'information_schema', 'pg_toast') THEN
        RAISE EXCEPTION 'permission denied: "%" is a system catalog', rel.relname
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF rel.nspname = 'basemodel' THEN
        RAISE EXCEPTION 'permission denied: "%" belongs to the extension basemodel', rel.relname
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The extension''s own objects are not models: the extension manages them.';
    END IF;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%" is not a table', rel.relname
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = format('basemodel registers ordinary and partitioned tables; "%s" is %s.',
                                  rel.relname, CASE rel.relkind
                                           WHEN 'v' THEN 'a view'
                                           WHEN 'm' THEN 'a materialized view'
                                           WHEN 'f' THEN 'a foreign table'
                                           WHEN 'S' THEN 'a sequence'
                                           WHEN 'i' THEN 'an index'
                                           WHEN 'I' THEN 'a partitioned index'
                                           WHEN 'c' THEN 'a composite type'
                                           ELSE 'not a table' END);
    END IF;
    IF rel.relpersistence = 't' THEN
        RAISE EXCEPTION 'cannot register temporary table "%"', rel.relname
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'basemodel registers the tables every session shares; a temporary table belongs to one session.';
    END IF;
    IF NOT pg_has_role(rel.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', rel.relname
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN rel.relkind;
END;
$$;
COMMENT ON FUNCTION basemodel._check_table(regclass) IS
    'internal: raises the error for a relation the current role may not register';

-- The longest prefix of a name that fits in the given number of bytes,
-- never cutting a character in two.  In a SQL_ASCII database a character is
-- a byte, so the cut may fall inside a UTF-8 character (what clients send
-- there as a rule): its first bytes are dropped too.
CREATE FUNCTION basemodel._clip(str text, max_bytes int) RETURNS text
    LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    WHILE octet_length(str) > max_bytes LOOP
        str := left(str, -1);
    END LOOP;
    IF getdatabaseencoding() = 'SQL_ASCII' THEN
        str := regexp_replace(str, '(?:[\xC0-\xDF]|[\xE0-\xEF][\x80-\xBF]?|[\xF0-\xF7][\x80-\xBF]{0,2})$', '');
    END IF;
    RETURN str;
END;
$$;
COMMENT ON FUNCTION basemodel._clip(text, int) IS
    'internal: the longest prefix of a string that fits in max_bytes bytes';

-- Create the sequence of an id column added to a partitioned table, named
-- like the one of a serial column, and return its quoted name.  BASE is the
-- name without the number that makes it new: register (C) builds it from
-- the table's and the column's names clipped by basemodel._clip (a name
-- holds 63 bytes, and the number must never be cut off).
CREATE FUNCTION basemodel._new_sequence(tbl regclass, base text) RETURNS text
    LANGUAGE plpgsql VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    nsp name;
    owner name;
    candidate name;
    n int := 0;
BEGIN
    SELECT n.nspname, pg_get_userbyid(c.relowner) INTO nsp, owner
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
    LOOP
        candidate := base || CASE WHEN n > 0 THEN n::text ELSE '' END;
        EXIT WHEN NOT EXISTS (SELECT FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
                               WHERE s.nspname = nsp AND c.relname = candidate);
        n := n + 1;
    END LOOP;
    EXECUTE format('CREATE SEQUENCE %I.%I AS bigint', nsp, candidate);
    -- OWNED BY needs the table's owner; the caller may be a member of that
    -- role or a superuser
    IF owner <> current_user THEN
        EXECUTE format('ALTER SEQUENCE %I.%I OWNER TO %I', nsp, candidate, owner);
    END IF;
    RETURN format('%I.%I', nsp, candidate);
END;
$$;
COMMENT ON FUNCTION basemodel._new_sequence(regclass, text) IS
    'internal: creates the sequence for an id column added to a partitioned table';

-- Whether register will have to ALTER the table: a mapped column is missing,
-- or a mapped timestamp column has no default.  Read before locking, so a
-- concurrent change can still make register upgrade its lock; it only has
-- to be right in the common case.
CREATE FUNCTION basemodel._needs_alter(tbl regclass, id_column name, created_column name, updated_column name)
RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    RETURN EXISTS (SELECT FROM unnest(ARRAY[id_column, created_column, updated_column],
                                      ARRAY[false, true, true]) m(col, stamp)
                    WHERE m.col IS NOT NULL
                      AND NOT EXISTS (SELECT FROM pg_attribute a
                                       WHERE a.attrelid = tbl AND a.attname = m.col
                                         AND a.attnum > 0 AND NOT a.attisdropped
                                         AND (a.atthasdef OR NOT m.stamp)));
COMMENT ON FUNCTION basemodel._needs_alter(regclass, name, name, name) IS
    'internal: register will add a column or a default to the table';

-- Whether the column's default is nextval of the sequence it owns (OWNED BY
-- alone says nothing of what fills the column: SET DEFAULT 1 keeps it).
CREATE FUNCTION basemodel._fills_from_own_sequence(tbl regclass, col name) RETURNS boolean
    LANGUAGE sql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
    RETURN coalesce((SELECT pg_get_expr(d.adbin, d.adrelid)
                            = format('nextval(%L::regclass)', pg_get_serial_sequence(tbl::text, col))
                       FROM pg_attribute a
                       JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                      WHERE a.attrelid = tbl AND a.attname = col
                        AND a.attnum > 0 AND NOT a.attisdropped), false);
COMMENT ON FUNCTION basemodel._fills_from_own_sequence(regclass, name) IS
    'internal: the column''s default is nextval of the sequence the column owns';

-- Whether the column is a usable id: not null, and the only key column of
-- a valid, immediate, plain unique index; in a partitioned table, where a
-- unique index must include the partition key, any column of one, or a
-- column filled from its own identity, or by default from the sequence it
-- owns (FILLS_FROM_OWN_SEQUENCE: what basemodel._fills_from_own_sequence
-- says of it, which the C caller asks first).
CREATE FUNCTION basemodel._id_is_unique(tbl regclass, col name, fills_from_own_sequence boolean)
RETURNS boolean
    LANGUAGE sql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
    RETURN EXISTS (
        SELECT FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0
           AND NOT a.attisdropped AND a.attnotnull
           AND (EXISTS (SELECT FROM pg_index i
                         WHERE i.indrelid = tbl AND i.indisunique AND i.indisvalid AND i.indimmediate
                           AND i.indpred IS NULL AND i.indexprs IS NULL
                           AND (i.indnkeyatts = 1 AND i.indkey[0] = a.attnum
                                OR c.relkind = 'p' AND a.attnum = ANY (i.indkey::int2[])))
                OR c.relkind = 'p' AND (a.attidentity <> '' OR fills_from_own_sequence)));
COMMENT ON FUNCTION basemodel._id_is_unique(regclass, name, boolean) IS
    'internal: the column can serve as the id of a registered table';

-- basemodel covers the partitions of a registered table, not inheritance
-- children (rows updated through a parent would not fire the trigger of a
-- child's registration, nor the parent's on a child), so no registered table
-- takes part in inheritance.  REGISTERING: tbl is about to be registered.
CREATE FUNCTION basemodel._refuse_inheritance(tbl oid, registering boolean) RETURNS void
    LANGUAGE plpgsql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    link record;
BEGIN
    SELECT i.inhparent, i.inhrelid,
           (SELECT r.tbl FROM basemodel.registry r
             WHERE r.tbl IN (i.inhparent, i.inhrelid) LIMIT 1) AS registered
      INTO link
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE NOT c.relispartition AND $1 IN (i.inhparent, i.inhrelid)
       AND ($2 OR EXISTS (SELECT FROM basemodel.registry r
                           WHERE r.tbl IN (i.inhparent, i.inhrelid)))
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'table "%" inherits from table "%", and basemodel does not manage inheritance',
                        (SELECT rn.relname FROM pg_class rn WHERE rn.oid = link.inhrelid), (SELECT rn.relname FROM pg_class rn WHERE rn.oid = link.inhparent)
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'A registered table can be a partitioned table or a partition, not an inheritance parent or child.',
                  HINT = CASE WHEN link.registered IS NULL
                              THEN 'Use a partitioned table, or end the inheritance (ALTER TABLE ... NO INHERIT) before registering.'
                              ELSE format('Use a partitioned table, or call basemodel.unregister(%L) first.',
                                          link.registered::regclass) END;
    END IF;
END;
$$;
COMMENT ON FUNCTION basemodel._refuse_inheritance(oid, boolean) IS
    'internal: refuses inheritance links that involve a registered table (or one being registered)';

-- register's steps, in the order it (C, extension/register.c) takes them.
-- Each runs as the caller and does nothing the caller could not do in
-- plain SQL; none is PUBLIC's to call alone, so none checks the table
-- again: register has checked and locked it.

-- Step: one registration per branch of a partition tree.  A registered table
-- covers its partitions, and a registered partition's own trigger would
-- clash with the clone of its parent's.
CREATE FUNCTION basemodel._check_partition_branch(tbl regclass) RETURNS void
    LANGUAGE plpgsql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    other record;
BEGIN
    SELECT r.tbl, a.relid IS NOT NULL AS above INTO other
      FROM basemodel.registry r
      LEFT JOIN pg_partition_ancestors(_check_partition_branch.tbl) a ON a.relid = r.tbl
     WHERE r.tbl <> _check_partition_branch.tbl
       AND (a.relid IS NOT NULL OR r.tbl IN (SELECT t.relid FROM pg_partition_tree(_check_partition_branch.tbl) t))
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'invalid_table_definition',
            MESSAGE = CASE WHEN other.above
                           THEN format('table "%s" is a partition of registered table "%s"',
                                       (SELECT rn.relname FROM pg_class rn WHERE rn.oid = tbl), (SELECT rn.relname FROM pg_class rn WHERE rn.oid = other.tbl))
                           ELSE format('partition "%s" of table "%s" is registered on its own',
                                       (SELECT rn.relname FROM pg_class rn WHERE rn.oid = other.tbl), (SELECT rn.relname FROM pg_class rn WHERE rn.oid = tbl)) END,
            DETAIL = 'Registering a partitioned table covers all of its partitions.',
            HINT = CASE WHEN other.above
                        THEN format('Call basemodel.register(%L) to change the options of the whole tree.', other.tbl)
                        ELSE format('Call basemodel.unregister(%L) first.', other.tbl) END;
    END IF;
END;
$$;
COMMENT ON FUNCTION basemodel._check_partition_branch(regclass) IS
    'internal: register''s step that refuses a second registration in one partition tree';

-- The last of register's checks that the ddl_command_end trigger (C) runs
-- on the registration of a trigger written by hand (or restored: pg_dump
-- creates triggers after constraints and indexes, so a dumped registration
-- passes), after basemodel._check_table, basemodel._refuse_inheritance and
-- basemodel._check_partition_branch: the mapped columns exist with the
-- types register requires.  ID_IS_UNIQUE is what basemodel._id_is_unique
-- says of the id column, which the C caller asks first.
CREATE FUNCTION basemodel._check_mapped_columns(tbl oid, id_is_unique boolean) RETURNS void
    LANGUAGE plpgsql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    reg record;
    bad record;
BEGIN
    SELECT * INTO reg FROM basemodel.registration($1);
    SELECT m.col, m.stamp, a.attnum, a.attgenerated, a.atttypid INTO bad
      FROM unnest(ARRAY[reg.id_column, reg.created_column, reg.updated_column],
                  ARRAY[false, true, true]) m(col, stamp)
      LEFT JOIN pg_attribute a ON a.attrelid = $1 AND a.attname = m.col
                              AND a.attnum > 0 AND NOT a.attisdropped
     WHERE m.col IS NOT NULL
       AND (a.attnum IS NULL OR a.attgenerated <> ''
            OR m.stamp AND a.atttypid NOT IN ('timestamptz'::regtype, 'timestamp'::regtype)
            OR NOT m.stamp AND NOT id_is_unique)
     LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF bad.attnum IS NULL THEN
        RAISE EXCEPTION 'column "%" of relation "%" does not exist', bad.col, (SELECT rn.relname FROM pg_class rn WHERE rn.oid = $1)
            USING ERRCODE = 'undefined_column',
                  DETAIL = format('It is mapped by the registration in the trigger "%s".', basemodel.trigger_name()),
                  HINT = format('Call basemodel.register(%L), which adds missing columns.', $1::regclass);
    ELSIF bad.attgenerated <> '' THEN
        RAISE EXCEPTION 'column "%" of relation "%" is a generated column', bad.col, (SELECT rn.relname FROM pg_class rn WHERE rn.oid = $1)
            USING ERRCODE = 'invalid_table_definition',
                  DETAIL = 'basemodel cannot manage a generated column.';
    ELSIF bad.stamp THEN
        RAISE EXCEPTION 'column "%" of relation "%" is of type %, not timestamptz or timestamp',
                        bad.col, (SELECT rn.relname FROM pg_class rn WHERE rn.oid = $1), format_type(bad.atttypid, NULL)
            USING ERRCODE = 'datatype_mismatch';
    ELSE
        RAISE EXCEPTION 'column "%" of relation "%" is not unique', bad.col, (SELECT rn.relname FROM pg_class rn WHERE rn.oid = $1)
            USING ERRCODE = 'invalid_table_definition',
                  DETAIL = 'The id column of a registration must be the primary key, or unique and not null.';
    END IF;
END;
$$;
COMMENT ON FUNCTION basemodel._check_mapped_columns(oid, boolean) IS
    'internal: refuses a registration in a trigger whose mapped columns register would have refused';

-- Step: check the mapping (each managed column at most once) and each
-- mapped column of a table of kind KIND, and plan the ALTER TABLE clauses
-- that add or adopt them.  MAPPED lists the mapped columns, MISSING those
-- to add, CLAUSES what adds them; a missing id of a partitioned table
-- NEEDS_SEQUENCE instead of a clause (PostgreSQL 15 cannot add an identity
-- column to a partitioned table, and a unique index would have to include
-- the partition key).  ID_IS_UNIQUE is what basemodel._id_is_unique says of
-- the id column, which the C caller asks first.
CREATE FUNCTION basemodel._plan_columns(tbl regclass, kind "char", id_column name,
    created_column name, updated_column name, id_is_unique boolean,
    OUT mapped name[], OUT missing name[], OUT clauses text[], OUT needs_sequence boolean)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    role text;
    col name;
    att record;
BEGIN
    missing := '{}';
    clauses := '{}';
    needs_sequence := false;
    FOREACH role IN ARRAY ARRAY['id', 'created', 'updated'] LOOP
        col := CASE role WHEN 'id' THEN id_column
                         WHEN 'created' THEN created_column
                         ELSE updated_column END;
        CONTINUE WHEN col IS NULL;
        IF col = '' THEN
            RAISE EXCEPTION '%_column must not be an empty name', role
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('Name a column, or pass NULL when the table has no %s column.', role);
        END IF;
        IF col = ANY (mapped) THEN
            RAISE EXCEPTION 'column "%" is mapped to more than one base column', col
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'id_column, created_column and updated_column must name different columns.';
        END IF;
        mapped := mapped || col;

        SELECT a.attnum, a.atttypid, a.attgenerated, a.atthasdef,
               format_type(a.atttypid, a.atttypmod) AS typname
          INTO att
          FROM pg_attribute a
         WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            missing := missing || col;
            IF role <> 'id' THEN
                clauses := clauses || format('ADD COLUMN %I timestamptz NOT NULL DEFAULT now()', col);
            ELSIF kind = 'p' THEN
                needs_sequence := true;
            ELSIF EXISTS (SELECT FROM pg_constraint WHERE conrelid = tbl AND contype = 'p') THEN
                clauses := clauses || format('ADD COLUMN %I bigint GENERATED BY DEFAULT AS IDENTITY UNIQUE', col);
            ELSE
                clauses := clauses || format('ADD COLUMN %I bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY', col);
            END IF;
            CONTINUE;
        END IF;

        IF att.attgenerated <> '' THEN
            RAISE EXCEPTION 'column "%" of relation "%" is a generated column', col,
                            (SELECT rn.relname FROM pg_class rn WHERE rn.oid = tbl)
                USING ERRCODE = 'invalid_table_definition',
                      DETAIL = 'basemodel cannot manage a generated column.';
        END IF;
        IF role = 'id' THEN
            IF NOT id_is_unique THEN
                RAISE EXCEPTION 'column "%" of relation "%" is not unique', col,
                                (SELECT rn.relname FROM pg_class rn WHERE rn.oid = tbl)
                    USING ERRCODE = 'invalid_table_definition',
                          DETAIL = CASE WHEN kind = 'p'
                                        THEN 'An id column of a partitioned table must be not null, and in a unique key or filled from its own sequence.'
                                        ELSE 'An id column must be the primary key, or unique and not null.' END,
                          HINT = 'Add a primary key or a unique constraint on it, or map id_column to another column.';
            END IF;
        ELSE
            IF att.atttypid NOT IN ('timestamptz'::regtype, 'timestamp'::regtype) THEN
                RAISE EXCEPTION 'column "%" of relation "%" is of type %, not timestamptz or timestamp', col,
                                (SELECT rn.relname FROM pg_class rn WHERE rn.oid = tbl), att.typname
                    USING ERRCODE = 'datatype_mismatch',
                          HINT = format('Map %s_column to another column, or change the type of "%s".', role, col);
            END IF;
            IF NOT att.atthasdef THEN
                clauses := clauses || format('ALTER COLUMN %I SET DEFAULT now()', col);
            END IF;
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION basemodel._plan_columns(regclass, "char", name, name, name, boolean) IS
    'internal: register''s step that checks the mapping and plans the ALTER TABLE clauses';

-- Step: hidden and ignored columns must exist (or be about to: MISSING).
CREATE FUNCTION basemodel._check_listed_columns(tbl regclass, missing name[], hidden name[],
    ignore_columns name[]) RETURNS void
    LANGUAGE plpgsql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    list record;
    col name;
BEGIN
    FOR list IN SELECT * FROM (VALUES ('hidden', hidden),
                                      ('ignore_columns', ignore_columns)) v(argname, cols) LOOP
        FOREACH col IN ARRAY list.cols LOOP
            IF col IS NULL THEN
                RAISE EXCEPTION '% must not contain NULL', list.argname
                    USING ERRCODE = 'null_value_not_allowed';
            END IF;
            IF NOT (col = ANY (missing) OR EXISTS (
                    SELECT FROM pg_attribute a
                     WHERE a.attrelid = tbl AND a.attname = col
                       AND a.attnum > 0 AND NOT a.attisdropped)) THEN
                RAISE EXCEPTION 'column "%" of relation "%" does not exist', col, (SELECT rn.relname FROM pg_class rn WHERE rn.oid = tbl)
                    USING ERRCODE = 'undefined_column',
                          DETAIL = format('It is named in %s.', list.argname);
            END IF;
        END LOOP;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION basemodel._check_listed_columns(regclass, name[], name[], name[]) IS
    'internal: register''s step that checks the hidden and ignored columns exist';

-- Step: apply the plan of _plan_columns with one ALTER TABLE, after refusing
-- to add columns to a partition (it has those of its partitioned table).
-- SEQ is the sequence basemodel._new_sequence made when the plan needed
-- one: the id column is added first, filled from it.
CREATE FUNCTION basemodel._apply_columns(tbl regclass, id_column name, missing name[],
    clauses text[], seq text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    has_rows boolean;
BEGIN
    IF cardinality(missing) > 0 AND (SELECT c.relispartition FROM pg_class c WHERE c.oid = tbl) THEN
        RAISE EXCEPTION 'cannot add column "%" to partition "%"', missing[1], (SELECT rn.relname FROM pg_class rn WHERE rn.oid = tbl)
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'A partition has the columns of its partitioned table.',
                  HINT = format('Register the partitioned table %s instead, or map the missing columns to existing ones.',
                                (SELECT i.inhparent::regclass FROM pg_inherits i WHERE i.inhrelid = tbl));
    END IF;

    IF seq IS NOT NULL THEN
        clauses := format('ADD COLUMN %I bigint NOT NULL DEFAULT nextval(%L::regclass)', id_column, seq)
                   || clauses;
    END IF;
    IF cardinality(clauses) > 0 THEN
        -- from the size of the files, not a query: a query of the table could
        -- run code of its owner (rules, policies) with the caller's rights
        IF id_column = ANY (missing) THEN
            -- a registered table takes part in no inheritance, and
            -- pg_partition_tree is empty for a table that is no partition
            has_rows := EXISTS (SELECT FROM pg_class c
                                 WHERE (c.oid = tbl OR c.oid IN (SELECT t.relid FROM pg_partition_tree(tbl) t))
                                   AND c.relkind = 'r' AND pg_relation_size(c.oid) > 0);
            IF has_rows THEN
                RAISE NOTICE 'adding column "%" to table "%" rewrites the table', id_column, (SELECT rn.relname FROM pg_class rn WHERE rn.oid = tbl);
            END IF;
        END IF;
        EXECUTE format('ALTER TABLE %s %s', tbl, array_to_string(clauses, ', '));
        IF seq IS NOT NULL THEN
            EXECUTE format('ALTER SEQUENCE %s OWNED BY %s.%I', seq, tbl, id_column);
        END IF;
    END IF;
END;
$$;
COMMENT ON FUNCTION basemodel._apply_columns(regclass, name, name[], text[], text) IS
    'internal: register''s step that runs the planned ALTER TABLE';

-- Step: the registration to write as the trigger's argument, NULL when it
-- would not change (register passes it to basemodel._write_registration).
-- added_columns keeps the columns added now, plus those added before that
-- are still mapped.
CREATE FUNCTION basemodel._store_registration(tbl regclass, id_column name, created_column name,
    updated_column name, hidden name[], ignore_columns name[], skip_unchanged boolean,
    mapped name[], missing name[]) RETURNS basemodel.registry
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    trigger_function oid;
    prev basemodel.registry;
    added name[];
BEGIN
    SELECT t.tgfoid INTO trigger_function FROM pg_trigger t
     WHERE t.tgrelid = tbl AND t.tgname = basemodel.trigger_name();
    IF FOUND AND trigger_function <> 'basemodel.before_update()'::regprocedure THEN
        RAISE EXCEPTION 'trigger "%" for relation "%" already exists', basemodel.trigger_name(), (SELECT rn.relname FROM pg_class rn WHERE rn.oid = tbl)
            USING ERRCODE = 'duplicate_object',
                  DETAIL = format('It calls %s, not basemodel.before_update().', trigger_function::regprocedure),
                  HINT = 'Rename that trigger: basemodel needs the name.';
    END IF;

    SELECT * INTO prev FROM basemodel.registry r WHERE r.tbl = _store_registration.tbl;
    SELECT coalesce(array_agg(DISTINCT c ORDER BY c), '{}') INTO added
      FROM unnest(missing || ARRAY(SELECT unnest(prev.added_columns)
                                   INTERSECT SELECT unnest(mapped))) c;
    IF prev.tbl IS NULL
       OR (prev.id_column, prev.created_column, prev.updated_column, prev.hidden,
           prev.ignore_columns, prev.skip_unchanged, prev.added_columns)
          IS DISTINCT FROM (id_column, created_column, updated_column, hidden,
                            ignore_columns, skip_unchanged, added) THEN
        RETURN ROW(tbl, id_column, created_column, updated_column, hidden,
                   ignore_columns, skip_unchanged, added, NULL)::basemodel.registry;
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION basemodel._store_registration(regclass, name, name, name, name[], name[], boolean, name[], name[]) IS
    'internal: register''s step that gives the registration to write, NULL when it did not change';

-- register and unregister are C (extension/register.c): they lock the table
-- and run the steps above, which are not PUBLIC's, calling them directly
-- (a call from C checks no EXECUTE privilege).  Everything runs as the
-- caller.
CREATE FUNCTION basemodel.register(
    tbl regclass,
    id_column name DEFAULT 'id',
    created_column name DEFAULT 'created_at',
    updated_column name DEFAULT 'updated_at',
    hidden name[] DEFAULT '{}',
    ignore_columns name[] DEFAULT '{}',
    skip_unchanged boolean DEFAULT false)
RETURNS void
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'basemodel_register';
COMMENT ON FUNCTION basemodel.register(regclass, name, name, name, name[], name[], boolean) IS
    'adds or adopts id, created_at and updated_at, and installs the trigger that holds the registration';

-- unregister's step once the table is locked: drop the trigger, which is
-- the registration (it goes first, as the sql_drop trigger refuses to drop
-- a managed column of a registered table), and return what it held.
CREATE FUNCTION basemodel._drop_registration(tbl regclass) RETURNS basemodel.registry
    LANGUAGE plpgsql VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    reg basemodel.registry;
BEGIN
    SELECT * INTO reg FROM basemodel.registry r WHERE r.tbl = _drop_registration.tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table "%" is not registered', (SELECT rn.relname FROM pg_class rn WHERE rn.oid = tbl)
            USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE format('DROP TRIGGER %I ON %s', basemodel.trigger_name(), tbl);
    RETURN reg;
END;
$$;
COMMENT ON FUNCTION basemodel._drop_registration(regclass) IS
    'internal: unregister''s step that drops the trigger and returns the registration it held';

-- unregister's step for drop_columns: drop the columns REG says register
-- added.  added_columns names only mapped columns (the decoder checks it);
-- a trigger written by hand may name columns register did not add, so only
-- a column that still has the shape register gives it is dropped: an id is
-- a bigint identity, or a bigint filled from the sequence it owns
-- (ID_FILLS_FROM_OWN_SEQUENCE: what basemodel._fills_from_own_sequence says
-- of it, which the C caller asks first); a timestamp is timestamptz (or
-- timestamp, which the owner may change it to) with the default now().
CREATE FUNCTION basemodel._drop_added_columns(tbl regclass, reg basemodel.registry,
    id_fills_from_own_sequence boolean) RETURNS void
    LANGUAGE plpgsql VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col record;
    clauses text[];
BEGIN
    FOR col IN SELECT a.attname,
                      CASE WHEN a.attname IS NOT DISTINCT FROM reg.id_column
                           THEN a.atttypid = 'bigint'::regtype
                                AND (a.attidentity <> '' OR id_fills_from_own_sequence)
                           ELSE a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype)
                                AND pg_get_expr(d.adbin, d.adrelid) IS NOT DISTINCT FROM 'now()' END AS added_shape
                 FROM pg_attribute a
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE a.attrelid = tbl AND a.attname = ANY (reg.added_columns)
                  AND a.attnum > 0 AND NOT a.attisdropped
                ORDER BY a.attnum LOOP
        IF col.added_shape THEN
            clauses := clauses || format('DROP COLUMN %I', col.attname);
        ELSE
            RAISE NOTICE 'column "%" of table "%" is kept', col.attname, (SELECT rn.relname FROM pg_class rn WHERE rn.oid = tbl)
                USING DETAIL = 'It does not have the type and default basemodel.register gives the columns it adds.';
        END IF;
    END LOOP;
    IF clauses IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s %s', tbl, array_to_string(clauses, ', '));
    END IF;
END;
$$;
COMMENT ON FUNCTION basemodel._drop_added_columns(regclass, basemodel.registry, boolean) IS
    'internal: unregister''s step that drops the columns register added, if they still have the shape it gave them';

CREATE FUNCTION basemodel.unregister(tbl regclass, drop_columns boolean DEFAULT false)
RETURNS void
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'basemodel_unregister';
COMMENT ON FUNCTION basemodel.unregister(regclass, boolean) IS
    'removes the trigger, which is the registration; drops the columns register added when drop_columns';

-- ---------------------------------------------------------------------------
-- The models view
-- ---------------------------------------------------------------------------

-- The tables the current role can see, by the rule of
-- information_schema.tables: it owns them or has some privilege on them.
CREATE VIEW basemodel.models WITH (security_barrier) AS
SELECT r.tbl AS model,
       n.nspname AS schema_name,
       c.relname AS table_name,
       r.id_column,
       r.created_column,
       r.updated_column,
       r.hidden,
       r.ignore_columns,
       r.skip_unchanged,
       r.added_columns,
       c.relkind = 'p' AS partitioned,
       r.enabled
  FROM basemodel.registry r
  JOIN pg_catalog.pg_class c ON c.oid = r.tbl
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE pg_catalog.pg_has_role(c.relowner, 'USAGE')
    OR pg_catalog.has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
    OR pg_catalog.has_any_column_privilege(c.oid, 'SELECT, INSERT, UPDATE, REFERENCES');
GRANT SELECT ON basemodel.models TO PUBLIC;
COMMENT ON VIEW basemodel.models IS
    'registered tables and their options, for tables the current role can see';

-- ---------------------------------------------------------------------------
-- Automatic registration
-- ---------------------------------------------------------------------------

-- auto_register and auto_register_off (C, extension/register.c) call this,
-- as the caller: ENABLE adds the schema's entry, or else removes it.
CREATE FUNCTION basemodel._set_auto_register(schema_name name, enable boolean) RETURNS void
    LANGUAGE plpgsql VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner oid;
BEGIN
    SELECT n.nspowner INTO owner FROM pg_namespace n WHERE n.nspname = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'schema "%" does not exist', $1
            USING ERRCODE = 'invalid_schema_name';
    END IF;
    IF NOT pg_has_role(owner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of schema %', quote_ident($1)
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF $2 THEN
        INSERT INTO basemodel.auto_schemas VALUES ($1) ON CONFLICT DO NOTHING;
    ELSE
        DELETE FROM basemodel.auto_schemas a WHERE a.schema_name = $1;
    END IF;
END;
$$;
COMMENT ON FUNCTION basemodel._set_auto_register(name, boolean) IS
    'internal: turns auto-registration of a schema the current role owns on or off';

CREATE FUNCTION basemodel.auto_register(schema name) RETURNS void
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'basemodel_auto_register';
COMMENT ON FUNCTION basemodel.auto_register(name) IS
    'registers, with the default options, every table created in the schema from now on';

CREATE FUNCTION basemodel.auto_register_off(schema name) RETURNS void
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'basemodel_auto_register_off';
COMMENT ON FUNCTION basemodel.auto_register_off(name) IS
    'stops registering new tables of the schema; registered tables stay registered';

-- ---------------------------------------------------------------------------
-- DDL follow-up: event triggers
-- ---------------------------------------------------------------------------

-- A column of the table was renamed to newname (in a child of an
-- inheritance or partition tree, through its parent, so the attnum may
-- differ): the table's registration with the one name that no longer
-- exists replaced by the new one, for basemodel._write_registration; NULL
-- when there is nothing to replace.
CREATE FUNCTION basemodel._follow_column_rename(tbl oid, newname name) RETURNS basemodel.registry
    LANGUAGE plpgsql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    reg basemodel.registry;
    oldname name;
    gone name[];
BEGIN
    SELECT * INTO reg FROM basemodel.registry r WHERE r.tbl = $1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(DISTINCT n) INTO gone
      FROM unnest(ARRAY[reg.id_column, reg.created_column, reg.updated_column]
                  || reg.hidden || reg.ignore_columns || reg.added_columns) n
     WHERE n IS NOT NULL
       AND NOT EXISTS (SELECT FROM pg_attribute a
                        WHERE a.attrelid = $1 AND a.attname = n
                          AND a.attnum > 0 AND NOT a.attisdropped);
    IF cardinality(gone) IS DISTINCT FROM 1 THEN
        RETURN NULL;
    END IF;
    oldname := gone[1];
    reg.id_column := CASE WHEN reg.id_column = oldname THEN newname ELSE reg.id_column END;
    reg.created_column := CASE WHEN reg.created_column = oldname THEN newname ELSE reg.created_column END;
    reg.updated_column := CASE WHEN reg.updated_column = oldname THEN newname ELSE reg.updated_column END;
    reg.hidden := array_replace(reg.hidden, oldname, newname);
    reg.ignore_columns := array_replace(reg.ignore_columns, oldname, newname);
    reg.added_columns := array_replace(reg.added_columns, oldname, newname);
    RETURN reg;
END;
$$;
COMMENT ON FUNCTION basemodel._follow_column_rename(oid, name) IS
    'internal: the registration that follows ALTER TABLE ... RENAME COLUMN, NULL when it needs no change';

-- After ALTER TABLE on a registered table: the managed timestamp columns
-- must still be timestamps (the trigger writes them).
CREATE FUNCTION basemodel._check_managed_types(tbl oid) RETURNS void
    LANGUAGE plpgsql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad record;
BEGIN
    SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS typname INTO bad
      FROM basemodel.registry r
      JOIN pg_attribute a ON a.attrelid = r.tbl
                         AND a.attname IN (r.created_column, r.updated_column)
     WHERE r.tbl = $1 AND NOT a.attisdropped
       AND a.atttypid NOT IN ('timestamptz'::regtype, 'timestamp'::regtype)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'column "%" of relation "%" must stay of type timestamptz or timestamp',
                        bad.attname, (SELECT rn.relname FROM pg_class rn WHERE rn.oid = $1)
            USING ERRCODE = 'datatype_mismatch',
                  DETAIL = format('basemodel manages it; the new type would be %s.', bad.typname),
                  HINT = format('Call basemodel.unregister(%L) first, or register the table with another mapping.', $1::regclass);
    END IF;
END;
$$;
COMMENT ON FUNCTION basemodel._check_managed_types(oid) IS
    'internal: refuses ALTER TABLE that changes a managed timestamp column to another type';

-- A table attached as a partition of a registered table keeps its own
-- defaults, which ATTACH PARTITION does not copy: give each managed column
-- that has none the parent's, so that an INSERT into the partition itself
-- fills them as one through the parent does.
CREATE FUNCTION basemodel._copy_managed_defaults(tbl oid) RETURNS void
    LANGUAGE plpgsql VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d record;
BEGIN
    FOR d IN SELECT p.inhrelid::regclass AS part, a.attname, pg_get_expr(ad.adbin, ad.adrelid) AS expr
               FROM basemodel.registry r
               JOIN pg_inherits p ON p.inhparent = r.tbl
               JOIN pg_attribute a ON a.attrelid = r.tbl AND NOT a.attisdropped
                                  AND a.attname IN (r.id_column, r.created_column, r.updated_column)
               JOIN pg_attrdef ad ON ad.adrelid = r.tbl AND ad.adnum = a.attnum
               JOIN pg_attribute pa ON pa.attrelid = p.inhrelid AND pa.attname = a.attname
              WHERE r.tbl = $1 AND NOT pa.atthasdef AND pa.attidentity = '' LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET DEFAULT %s', d.part, d.attname, d.expr);
    END LOOP;
END;
$$;
COMMENT ON FUNCTION basemodel._copy_managed_defaults(oid) IS
    'internal: gives the partitions of a registered table the defaults of its managed columns';

-- The ddl_command_end trigger's test for a new table (CREATE TABLE, CREATE
-- TABLE AS, SELECT INTO): whether auto_register covers it, so that it
-- calls basemodel.register on it.  basemodel.auto_schemas has row level
-- security, which pg_dump's scripts and pg_restore turn off; that would
-- make this read fail for a role that is not a superuser, so it is turned
-- back on here: the policies, not the restore, decide what is seen.
CREATE FUNCTION basemodel._auto_registers(tbl oid) RETURNS boolean
    LANGUAGE sql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
    SET row_security = on
    RETURN EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.oid = tbl AND c.relkind IN ('r', 'p')
                      AND NOT c.relispartition AND c.relpersistence <> 't'
                      AND n.nspname IN (SELECT a.schema_name FROM basemodel.auto_schemas a))
       AND NOT EXISTS (SELECT FROM basemodel.registry r WHERE r.tbl = _auto_registers.tbl);
COMMENT ON FUNCTION basemodel._auto_registers(oid) IS
    'internal: a new table is in a schema auto_register covers, and of a kind it registers';

-- After ALTER TRIGGER ... RENAME: basemodel finds its trigger by name.
CREATE FUNCTION basemodel._check_trigger_rename(trigger oid) RETURNS void
    LANGUAGE plpgsql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    renamed record;
BEGIN
    SELECT t.tgrelid::regclass AS tbl, c.relname INTO renamed
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE t.oid = $1 AND t.tgfoid = 'basemodel.before_update()'::regprocedure
       AND t.tgname <> basemodel.trigger_name();
    IF FOUND THEN
        RAISE EXCEPTION 'cannot rename trigger "%" on table "%" because basemodel manages it',
                        basemodel.trigger_name(), renamed.relname
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'basemodel finds its trigger by name.',
                  HINT = format('Call basemodel.unregister(%L) first.', renamed.tbl);
    END IF;
END;
$$;
COMMENT ON FUNCTION basemodel._check_trigger_rename(oid) IS
    'internal: refuses to rename basemodel''s trigger';

-- After CREATE SCHEMA, or ALTER SCHEMA (OLDNAME: the old name of a renamed
-- schema, NULL when it was not renamed): an entry under the schema's new
-- name is stale, as the schema did not exist under it when the entry was
-- made; a renamed schema's entry follows it.  Row level security as in
-- basemodel._auto_registers.
CREATE FUNCTION basemodel._follow_schema(schema oid, created boolean, oldname name) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    SET row_security = on
AS $$
DECLARE
    newname name;
BEGIN
    SELECT n.nspname INTO newname FROM pg_namespace n WHERE n.oid = schema;
    IF created OR oldname IS NOT NULL THEN
        DELETE FROM basemodel.auto_schemas a WHERE a.schema_name = newname;
    END IF;
    IF oldname IS NOT NULL THEN
        UPDATE basemodel.auto_schemas a SET schema_name = newname
         WHERE a.schema_name = oldname;
    END IF;
END;
$$;
COMMENT ON FUNCTION basemodel._follow_schema(oid, boolean, name) IS
    'internal: follows CREATE SCHEMA and ALTER SCHEMA ... RENAME in basemodel.auto_schemas';

-- The sql_drop trigger's work: forget the entries of dropped schemas, refuse
-- to drop a managed column, and return the registrations that named dropped
-- hidden or ignored columns, without them, for basemodel._write_registration
-- (dropped tables take their triggers, and so their registrations, with
-- them; dropping the trigger is unregistering).  Row level security as in
-- basemodel._auto_registers.
CREATE FUNCTION basemodel._forget_dropped() RETURNS basemodel.registry[]
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    SET row_security = on
AS $$
DECLARE
    relid oid;
    dropped name[];
    reg basemodel.registry;
    col name;
    changed boolean;
    result basemodel.registry[] := '{}';
BEGIN
    DELETE FROM basemodel.auto_schemas a
     USING pg_event_trigger_dropped_objects() o
     WHERE o.object_type = 'schema' AND a.schema_name = o.object_name;

    FOR relid, dropped IN SELECT o.objid, array_agg(o.address_names[3])
                            FROM pg_event_trigger_dropped_objects() o
                           WHERE o.object_type = 'table column'
                           GROUP BY o.objid LOOP
        SELECT * INTO reg FROM basemodel.registry r WHERE r.tbl = relid;
        CONTINUE WHEN NOT FOUND;
        changed := false;
        FOREACH col IN ARRAY dropped LOOP
            IF col IN (reg.id_column, reg.created_column, reg.updated_column) THEN
                RAISE EXCEPTION 'cannot drop column "%" of table "%" because basemodel manages it',
                                col, (SELECT rn.relname FROM pg_class rn WHERE rn.oid = relid)
                    USING ERRCODE = 'dependent_objects_still_exist',
                          HINT = format('Call basemodel.unregister(%L) first, or register the table with another mapping.', reg.tbl);
            END IF;
            IF col = ANY (reg.hidden || reg.ignore_columns) THEN
                reg.hidden := array_remove(reg.hidden, col);
                reg.ignore_columns := array_remove(reg.ignore_columns, col);
                changed := true;
            END IF;
        END LOOP;
        IF changed THEN
            result := result || reg;
        END IF;
    END LOOP;
    RETURN result;
END;
$$;
COMMENT ON FUNCTION basemodel._forget_dropped() IS
    'internal: forgets dropped schemas, refuses drops of managed columns, and gives the registrations that lose dropped columns';

-- The event triggers are C (extension/ddl.c): they read what only C can
-- (the statement's parse tree) and call the functions above directly.
CREATE FUNCTION basemodel._on_ddl_command_end() RETURNS event_trigger
    LANGUAGE c
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'basemodel_on_ddl_command_end';
COMMENT ON FUNCTION basemodel._on_ddl_command_end() IS
    'internal: auto-registration of new tables, renames of columns and schemas, checked ALTER TABLE, defaults of attached partitions, checked triggers, refused trigger renames';

CREATE EVENT TRIGGER basemodel_ddl_command_end ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE', 'CREATE SCHEMA',
                 'ALTER SCHEMA', 'CREATE TRIGGER', 'ALTER TRIGGER')
    EXECUTE FUNCTION basemodel._on_ddl_command_end();
COMMENT ON EVENT TRIGGER basemodel_ddl_command_end IS
    'auto-registration, renames, attached partitions, checked triggers';

CREATE FUNCTION basemodel._on_sql_drop() RETURNS event_trigger
    LANGUAGE c
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'basemodel_on_sql_drop';
COMMENT ON FUNCTION basemodel._on_sql_drop() IS
    'internal: forgets dropped columns and schemas, refuses to drop managed columns';

CREATE EVENT TRIGGER basemodel_sql_drop ON sql_drop
    EXECUTE FUNCTION basemodel._on_sql_drop();
COMMENT ON EVENT TRIGGER basemodel_sql_drop IS
    'forgets dropped columns and schemas, refuses drops of managed columns';

-- DROP EXTENSION basemodel must leave user tables working: before it runs,
-- remove our trigger from every table (the C function reads the statement to
-- act only when this extension is the one being dropped).
CREATE FUNCTION basemodel._release_tables() RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    trg record;
BEGIN
    FOR trg IN SELECT t.tgrelid::regclass AS tbl, t.tgname
                 FROM pg_trigger t
                WHERE t.tgfoid = 'basemodel.before_update()'::regprocedure
                  AND t.tgparentid = 0 LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trg.tgname, trg.tbl);
    END LOOP;
END;
$$;
COMMENT ON FUNCTION basemodel._release_tables() IS
    'internal: removes basemodel''s triggers from every table (before DROP EXTENSION)';

CREATE FUNCTION basemodel._on_drop_extension() RETURNS event_trigger
    LANGUAGE c
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'basemodel_on_drop_extension';
COMMENT ON FUNCTION basemodel._on_drop_extension() IS
    'internal: calls basemodel._release_tables() when DROP EXTENSION names basemodel';

CREATE EVENT TRIGGER basemodel_drop_extension ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION')
    EXECUTE FUNCTION basemodel._on_drop_extension();
COMMENT ON EVENT TRIGGER basemodel_drop_extension IS
    'removes basemodel''s triggers from user tables before DROP EXTENSION basemodel';

-- ---------------------------------------------------------------------------
-- Who may execute what
-- ---------------------------------------------------------------------------

-- PUBLIC executes the user API (README, Security) and nothing else.  The
-- internal functions run only when C calls them (register, unregister,
-- auto_register, auto_register_off and the event triggers, which check
-- the caller's rights first and call them directly: a call from C checks
-- no EXECUTE privilege) or as event triggers; views and policies call
-- only the user API and built-in functions, as their functions need
-- EXECUTE by the current role.  before_update stays PUBLIC's because
-- CREATE TRIGGER checks EXECUTE on it (pg_restore creates the trigger as
-- the table's owner).
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA basemodel FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    basemodel.tablename(text),
    basemodel.register(regclass, name, name, name, name[], name[], boolean),
    basemodel.unregister(regclass, boolean),
    basemodel.auto_register(name),
    basemodel.auto_register_off(name),
    basemodel.to_dict(record),
    basemodel.to_dict(record, text[]),
    basemodel.registration(oid),
    basemodel.trigger_name(),
    basemodel.before_update()
    TO PUBLIC;
