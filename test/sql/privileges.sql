-- Registration needs ownership of the table; nothing runs with more rights
-- than its caller; the models view shows only tables the role can see.
\set SHOW_CONTEXT never
DROP ROLE IF EXISTS basemodel_regress_owner;
DROP ROLE IF EXISTS basemodel_regress_other;
DROP ROLE IF EXISTS basemodel_regress_member;
CREATE ROLE basemodel_regress_owner;
CREATE ROLE basemodel_regress_other;
CREATE ROLE basemodel_regress_member IN ROLE basemodel_regress_owner;
CREATE SCHEMA priv AUTHORIZATION basemodel_regress_owner;
GRANT USAGE ON SCHEMA priv TO basemodel_regress_other, basemodel_regress_member;

-- no function of the extension is SECURITY DEFINER, and all set search_path
SELECT count(*) FILTER (WHERE prosecdef) AS security_definer,
       count(*) FILTER (WHERE NOT EXISTS (SELECT FROM unnest(proconfig) c WHERE c LIKE 'search_path=%')
                          AND prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')) AS without_search_path
  FROM pg_proc WHERE pronamespace = 'basemodel'::regnamespace;

SET ROLE basemodel_regress_owner;
CREATE TABLE priv.mine (v int, secret text);
INSERT INTO priv.mine (v) VALUES (1);
CREATE TABLE priv.shared (v int);
SELECT basemodel.register('priv.mine', hidden => '{secret}');
RESET ROLE;
GRANT SELECT, UPDATE ON priv.mine TO basemodel_regress_other;

-- a non-owner can neither register, nor change a registration, nor unregister
SET ROLE basemodel_regress_other;
SELECT basemodel.register('priv.shared');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.register('priv.mine', hidden => '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.unregister('priv.mine');
\echo :LAST_ERROR_SQLSTATE
-- nor get around the functions by writing the catalog directly
INSERT INTO basemodel.registry (tbl) VALUES ('priv.shared');
\echo :LAST_ERROR_SQLSTATE
UPDATE basemodel.registry SET hidden = '{}' WHERE tbl = 'priv.mine'::regclass;
DELETE FROM basemodel.registry WHERE tbl = 'priv.mine'::regclass;
-- nor turn on auto-registration for someone else's schema
SELECT basemodel.auto_register('priv');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO basemodel.auto_schemas VALUES ('priv');
\echo :LAST_ERROR_SQLSTATE
-- but it can use the table as its privileges allow: the trigger runs for it
UPDATE priv.mine SET v = 2 RETURNING v, updated_at = now() AS bumped;
SELECT basemodel.to_dict(m) ? 'secret' AS shows_secret FROM priv.mine m;
-- and it sees the registration of a table it has privileges on
SELECT model, hidden FROM basemodel.models;
RESET ROLE;
SELECT hidden FROM basemodel.registry WHERE tbl = 'priv.mine'::regclass;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'priv.shared'::regclass;

-- a role without any privilege on the table does not see it in models
REVOKE ALL ON priv.mine FROM basemodel_regress_other;
SET ROLE basemodel_regress_other;
SELECT count(*) AS visible FROM basemodel.models;
-- the registry is as public as pg_trigger, which holds it
SELECT tbl, hidden FROM basemodel.registry WHERE tbl = 'priv.mine'::regclass;
-- nor can to_dict of a row it builds tell it which columns are hidden:
-- 42501 whether or not the table is registered (priv.shared is not)
SELECT basemodel.to_dict(ROW(1, 'x', 1, now(), now())::priv.mine);
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.to_dict(ROW(1)::priv.shared);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- one column privilege is enough
GRANT SELECT (v) ON priv.mine TO basemodel_regress_other;
SET ROLE basemodel_regress_other;
SELECT basemodel.to_dict(ROW(1, 'x', 1, now(), now())::priv.mine) ? 'secret' AS shows_secret;
RESET ROLE;
REVOKE ALL ON priv.mine FROM basemodel_regress_other;
-- for a partition, a privilege on an ancestor counts (rows reach the
-- partition's triggers through the parent)
SET ROLE basemodel_regress_owner;
CREATE TABLE priv.parted (k int, secret text) PARTITION BY LIST (k);
CREATE TABLE priv.parted_1 PARTITION OF priv.parted FOR VALUES IN (1);
SELECT basemodel.register('priv.parted', hidden => '{secret}');
GRANT INSERT ON priv.parted TO basemodel_regress_other;
SET ROLE basemodel_regress_other;
SELECT basemodel.to_dict(ROW(1, 's', 1, now(), now())::priv.parted_1) ? 'secret' AS shows_secret;
RESET ROLE;
DROP TABLE priv.parted;

-- the trigger is the registration: a role with the TRIGGER privilege but
-- not the ownership cannot register a table by writing the trigger by hand
GRANT TRIGGER ON priv.shared TO basemodel_regress_other;
SET ROLE basemodel_regress_other;
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON priv.shared
    FOR EACH ROW EXECUTE FUNCTION basemodel.before_update(
        '{"version": 1, "id_column": null, "created_column": null, "updated_column": null,
          "hidden": ["v"], "ignore_columns": [], "skip_unchanged": false, "added_columns": []}');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE TRIGGER ON priv.shared FROM basemodel_regress_other;
-- nor remove a registration by replacing the trigger with one of its own,
-- nor take the name on a table that is not registered
CREATE FUNCTION public.priv_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
GRANT TRIGGER ON priv.mine, priv.shared TO basemodel_regress_other;
SET ROLE basemodel_regress_other;
CREATE OR REPLACE TRIGGER zzz_basemodel_update BEFORE UPDATE ON priv.mine
    FOR EACH ROW EXECUTE FUNCTION public.priv_noop();
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON priv.shared
    FOR EACH ROW EXECUTE FUNCTION public.priv_noop();
\echo :LAST_ERROR_SQLSTATE
-- other names stay the TRIGGER privilege's to use
CREATE TRIGGER priv_other BEFORE UPDATE ON priv.shared
    FOR EACH ROW EXECUTE FUNCTION public.priv_noop();
RESET ROLE;
DROP TRIGGER priv_other ON priv.shared;
REVOKE TRIGGER ON priv.mine, priv.shared FROM basemodel_regress_other;
DROP FUNCTION public.priv_noop();
SELECT tbl, enabled FROM basemodel.registry WHERE tbl = 'priv.mine'::regclass;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'priv.shared'::regclass;

-- and no registration can be written for a table that will vanish: the
-- owner of a temporary table cannot insert one (it would outlive the table)
SET ROLE basemodel_regress_owner;
BEGIN;
CREATE TEMP TABLE vanishing (v int) ON COMMIT DROP;
INSERT INTO basemodel.registry (tbl, added_columns) VALUES ('vanishing', '{v}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
RESET ROLE;

-- ownership through role membership counts
SET ROLE basemodel_regress_member;
SELECT basemodel.register('priv.shared');
SELECT basemodel.auto_register('priv');
CREATE TABLE priv.later (v int);
SELECT model FROM basemodel.models ORDER BY 1;
SELECT basemodel.auto_register_off('priv');
SELECT basemodel.unregister('priv.shared', drop_columns => true);
RESET ROLE;
-- the owner of the table owns what register added (the identity sequence)
SELECT pg_get_userbyid(c.relowner) AS sequence_owner
  FROM pg_class c WHERE c.oid = pg_get_serial_sequence('priv.mine', 'id')::regclass;

-- a managed column cannot be dropped behind the owner's back: dropping a
-- domain that is the id's type cascades to the column, and is refused
-- although the dropping role has no privilege on the table
CREATE DOMAIN public.priv_iddom AS bigint;
ALTER DOMAIN public.priv_iddom OWNER TO basemodel_regress_other;
SET ROLE basemodel_regress_owner;
CREATE TABLE priv.dom (id public.priv_iddom PRIMARY KEY, v int);
SELECT basemodel.register('priv.dom');
SET ROLE basemodel_regress_other;
DROP DOMAIN public.priv_iddom CASCADE;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) AS id_kept FROM pg_attribute
 WHERE attrelid = 'priv.dom'::regclass AND attname = 'id' AND NOT attisdropped;
DROP TABLE priv.dom;
DROP DOMAIN public.priv_iddom;

-- the event triggers follow the DDL of an owner who may execute nothing of
-- the extension but its user API: renamed and dropped hidden columns, a
-- refused drop of the id's key, defaults given to an attached partition, a
-- trigger written by hand, new tables of an auto-registered schema
SET ROLE basemodel_regress_owner;
ALTER TABLE priv.mine RENAME COLUMN secret TO hush;
SELECT hidden FROM basemodel.models WHERE model = 'priv.mine'::regclass;
ALTER TABLE priv.mine DROP COLUMN hush;
SELECT hidden FROM basemodel.models WHERE model = 'priv.mine'::regclass;
ALTER TABLE priv.mine DROP CONSTRAINT mine_pkey;
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE priv.parts (v int) PARTITION BY LIST (v);
SELECT basemodel.register('priv.parts');
CREATE TABLE priv.parts_1 (v int, id bigint NOT NULL, created_at timestamptz NOT NULL,
                           updated_at timestamptz NOT NULL);
ALTER TABLE priv.parts ATTACH PARTITION priv.parts_1 FOR VALUES IN (1);
SELECT count(*) AS defaults_copied FROM pg_attrdef WHERE adrelid = 'priv.parts_1'::regclass;
CREATE TABLE priv.by_hand (id bigint PRIMARY KEY, v int);
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON priv.by_hand
    FOR EACH ROW EXECUTE FUNCTION basemodel.before_update(
        '{"version": 1, "id_column": "id", "created_column": null, "updated_column": null, "hidden": ["v"], "ignore_columns": [], "skip_unchanged": false, "added_columns": []}');
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON priv.shared
    FOR EACH ROW EXECUTE FUNCTION basemodel.before_update(
        '{"version": 1, "id_column": "id", "created_column": null, "updated_column": null, "hidden": [], "ignore_columns": [], "skip_unchanged": false, "added_columns": []}');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.auto_register('priv');
CREATE TABLE priv.auto (v int);
SELECT basemodel.auto_register_off('priv');
SELECT model, hidden FROM basemodel.models ORDER BY 1;
SELECT basemodel.unregister('priv.auto', drop_columns => true);
SELECT basemodel.unregister('priv.by_hand');
DROP TABLE priv.parts, priv.auto, priv.by_hand;
RESET ROLE;

DROP SCHEMA priv CASCADE;
DROP ROLE basemodel_regress_member;
DROP ROLE basemodel_regress_owner;
DROP ROLE basemodel_regress_other;

-- nobody can switch auto-registration on for a schema that does not exist yet
CREATE ROLE basemodel_regress_other;
SET ROLE basemodel_regress_other;
INSERT INTO basemodel.auto_schemas VALUES ('future_schema');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE basemodel_regress_other;
