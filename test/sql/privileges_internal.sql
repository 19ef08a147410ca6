-- No internal function is executable by PUBLIC (see public_functions): a
-- role that calls one directly, on a table it does not own, is refused
-- before it runs; the C functions of the user API and the event triggers
-- call them on its behalf.  And auto-registration registers a table as the
-- role that created it: the schema's owner gains no rights over it.
\set SHOW_CONTEXT never
\set VERBOSITY terse
DROP ROLE IF EXISTS basemodel_regress_alice;
DROP ROLE IF EXISTS basemodel_regress_mallory;
CREATE ROLE basemodel_regress_alice;
CREATE ROLE basemodel_regress_mallory;
CREATE SCHEMA alice AUTHORIZATION basemodel_regress_alice;
CREATE SCHEMA mallory AUTHORIZATION basemodel_regress_mallory;
GRANT USAGE ON SCHEMA alice TO basemodel_regress_mallory;
GRANT USAGE, CREATE ON SCHEMA mallory TO basemodel_regress_alice;

SET ROLE basemodel_regress_alice;
CREATE TABLE alice.notes (body text, secret text);
INSERT INTO alice.notes (body) VALUES ('hi');
SELECT basemodel.register('alice.notes', hidden => '{secret}');
RESET ROLE;
GRANT SELECT, UPDATE ON alice.notes TO basemodel_regress_mallory;

SET ROLE basemodel_regress_mallory;
-- dropping every trigger of the extension is not for PUBLIC
SELECT basemodel._release_tables();
\echo :LAST_ERROR_SQLSTATE
-- a forged rename cannot rewrite someone else's registration: with the
-- event trigger off, alice's hidden column is renamed behind basemodel's
-- back, so that the registration names one column that no longer exists
RESET ROLE;
ALTER EVENT TRIGGER basemodel_ddl_command_end DISABLE;
ALTER TABLE alice.notes RENAME COLUMN secret TO secret2;
ALTER EVENT TRIGGER basemodel_ddl_command_end ENABLE;
SET ROLE basemodel_regress_mallory;
SELECT basemodel._follow_column_rename('alice.notes'::regclass, 'secret2');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT hidden AS still_hidden FROM basemodel.models WHERE model = 'alice.notes'::regclass;
ALTER EVENT TRIGGER basemodel_ddl_command_end DISABLE;
ALTER TABLE alice.notes RENAME COLUMN secret2 TO secret;
ALTER EVENT TRIGGER basemodel_ddl_command_end ENABLE;
SET ROLE basemodel_regress_mallory;
-- register's steps, which do not check the table again, cannot be called alone
SELECT basemodel._new_sequence('alice.notes', 'notes_id_seq');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel._plan_columns('alice.notes', 'r', 'id', NULL, NULL, false);
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel._apply_columns('alice.notes', 'id', '{id}', '{"ADD COLUMN id int"}', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel._store_registration('alice.notes', NULL, NULL, NULL, '{}', '{}', false, '{}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel._write_registration(ROW('alice.notes', NULL, NULL, NULL, '{}', '{}', false, '{}', NULL));
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel._drop_registration('alice.notes');
\echo :LAST_ERROR_SQLSTATE
-- nor can the writes of the event triggers
SELECT basemodel._follow_schema('alice'::regnamespace, true, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel._set_auto_register('alice', true);
\echo :LAST_ERROR_SQLSTATE
-- the trigger function cannot be put on someone else's table
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON alice.notes
    FOR EACH ROW EXECUTE FUNCTION basemodel.before_update();
\echo :LAST_ERROR_SQLSTATE
-- mallory switches auto-registration on for her own schema ...
SELECT basemodel.auto_register('mallory');
RESET ROLE;
SELECT model, hidden, added_columns FROM basemodel.models;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'alice.notes'::regclass;

-- ... alice creates a table there: it is registered as alice's table
SET ROLE basemodel_regress_alice;
CREATE TABLE mallory.alices (v int);
RESET ROLE;
SELECT model, pg_get_userbyid(c.relowner) AS owner
  FROM basemodel.models m JOIN pg_class c ON c.oid = m.model ORDER BY 1;
-- and mallory cannot change or drop that registration
SET ROLE basemodel_regress_mallory;
SELECT basemodel.register('mallory.alices', hidden => '{v}');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.unregister('mallory.alices');
\echo :LAST_ERROR_SQLSTATE
DELETE FROM basemodel.registry WHERE tbl = 'mallory.alices'::regclass;
RESET ROLE;
SELECT model, hidden FROM basemodel.models ORDER BY 1;

DROP SCHEMA alice CASCADE;
DROP SCHEMA mallory CASCADE;
DROP ROLE basemodel_regress_alice;
DROP ROLE basemodel_regress_mallory;
