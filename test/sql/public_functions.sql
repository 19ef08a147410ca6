-- No function PUBLIC can execute crashes the server or acts on tables the
-- caller does not own, and the internals that run only as triggers, as
-- event triggers or for DROP EXTENSION are not executable by PUBLIC.
\set SHOW_CONTEXT never
\set VERBOSITY terse
SELECT pg_postmaster_start_time() AS started \gset
DROP ROLE IF EXISTS basemodel_regress_anyone;
CREATE ROLE basemodel_regress_anyone;
CREATE SCHEMA anyone AUTHORIZATION basemodel_regress_anyone;
-- someone else's registered table
CREATE TABLE not_anyones (v int);
SELECT basemodel.register('not_anyones');
SET ROLE basemodel_regress_anyone;

-- the functions PUBLIC may execute: the user API, the trigger function, and
-- the helpers it calls as the current role (README, Security)
SELECT p.oid::regprocedure AS executable
  FROM pg_proc p
 WHERE p.pronamespace = 'basemodel'::regnamespace
   AND has_function_privilege(p.oid, 'EXECUTE')
 ORDER BY p.oid::regprocedure::text;
SELECT p.oid::regprocedure AS not_executable
  FROM pg_proc p
 WHERE p.pronamespace = 'basemodel'::regnamespace
   AND NOT has_function_privilege(p.oid, 'EXECUTE')
 ORDER BY p.oid::regprocedure::text;

-- DROP EXTENSION's helper is not PUBLIC's to call
SELECT basemodel._release_tables();
\echo :LAST_ERROR_SQLSTATE

-- before_update on tables of every shape, fired every way: clean errors
CREATE TABLE anyone.one (v int);
INSERT INTO anyone.one VALUES (1);
CREATE TRIGGER t BEFORE UPDATE ON anyone.one
    FOR EACH ROW EXECUTE FUNCTION basemodel.before_update();
UPDATE anyone.one SET v = 2;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER t ON anyone.one;
CREATE TRIGGER t BEFORE UPDATE ON anyone.one
    FOR EACH STATEMENT EXECUTE FUNCTION basemodel.before_update();
UPDATE anyone.one SET v = 2;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER t ON anyone.one;
CREATE TRIGGER t AFTER UPDATE OR INSERT OR DELETE ON anyone.one
    FOR EACH ROW EXECUTE FUNCTION basemodel.before_update();
UPDATE anyone.one SET v = 2;
\echo :LAST_ERROR_SQLSTATE
INSERT INTO anyone.one VALUES (3);
\echo :LAST_ERROR_SQLSTATE
DELETE FROM anyone.one;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER t ON anyone.one;
CREATE TRIGGER t BEFORE TRUNCATE ON anyone.one
    FOR EACH STATEMENT EXECUTE FUNCTION basemodel.before_update();
TRUNCATE anyone.one;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER t ON anyone.one;
CREATE VIEW anyone.v AS SELECT v FROM anyone.one;
CREATE TRIGGER t INSTEAD OF UPDATE ON anyone.v
    FOR EACH ROW EXECUTE FUNCTION basemodel.before_update();
UPDATE anyone.v SET v = 2;
\echo :LAST_ERROR_SQLSTATE
-- a table of one's own that copies a registered table's columns is still
-- not registered
CREATE TABLE anyone.lookalike (v int, id bigint, created_at timestamptz, updated_at timestamptz);
INSERT INTO anyone.lookalike VALUES (1, 1, now(), now());
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON anyone.lookalike
    FOR EACH ROW EXECUTE FUNCTION basemodel.before_update();
UPDATE anyone.lookalike SET id = 2;
\echo :LAST_ERROR_SQLSTATE

-- trigger and event trigger functions called directly
SELECT basemodel.before_update();
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel._on_drop_extension();
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel._on_ddl_command_end();
\echo :LAST_ERROR_SQLSTATE

-- to_dict on odd values
SELECT basemodel.to_dict(ROW());
SELECT basemodel.to_dict(ROW(1, 'a'));
SELECT basemodel.to_dict(ROW(1, 'a'), '{f1, NULL}');
SELECT basemodel.to_dict(NULL::record);
SELECT basemodel.to_dict(o) FROM anyone.one o;
SELECT basemodel.to_dict(w) FROM anyone.v w;

-- DROP EXTENSION by a role that does not own it: PostgreSQL's own error,
-- not one about some table
DROP EXTENSION basemodel;
RESET ROLE;
SELECT count(*) AS extension_still_there FROM pg_extension WHERE extname = 'basemodel';
SELECT count(*) AS triggers_still_there FROM pg_trigger WHERE tgname = 'zzz_basemodel_update';

SELECT pg_postmaster_start_time() = :'started'::timestamptz AS same_postmaster;
DROP SCHEMA anyone CASCADE;
DROP TABLE not_anyones;
DROP ROLE basemodel_regress_anyone;
