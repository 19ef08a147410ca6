-- PUBLIC executes exactly the documented user API, and no function PUBLIC
-- can execute crashes the server or acts on tables the caller does not own.
\set SHOW_CONTEXT never
\set VERBOSITY terse
SELECT pg_postmaster_start_time() AS started \gset
DROP ROLE IF EXISTS basemodel_regress_anyone;
CREATE ROLE basemodel_regress_anyone;
CREATE SCHEMA anyone AUTHORIZATION basemodel_regress_anyone;
-- someone else's registered table
CREATE TABLE not_anyones (v int);
SELECT basemodel.register('not_anyones');

-- every function of the extension, and whether PUBLIC is granted EXECUTE:
-- the user API and the trigger function (README, Security), nothing else
SELECT p.oid::regprocedure AS function,
       EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') AS public_execute
  FROM pg_proc p
 WHERE p.pronamespace = 'basemodel'::regnamespace
 ORDER BY public_execute DESC, p.oid::regprocedure::text;
SET ROLE basemodel_regress_anyone;

-- DROP EXTENSION's helper is not PUBLIC's to call
SELECT basemodel._release_tables();
\echo :LAST_ERROR_SQLSTATE

-- CREATE TRIGGER refuses before_update in any shape but register's
CREATE TABLE anyone.one (v int);
INSERT INTO anyone.one VALUES (1);
CREATE TRIGGER t BEFORE UPDATE ON anyone.one
    FOR EACH STATEMENT EXECUTE FUNCTION basemodel.before_update();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- past the event trigger (a superuser can disable it), before_update checks
-- the context it is called in: attached in every wrong shape and fired,
-- each gives a clean error and the server stays up
ALTER EVENT TRIGGER basemodel_ddl_command_end DISABLE;
CREATE TABLE wrong (v int);
INSERT INTO wrong VALUES (1);
CREATE TRIGGER t BEFORE UPDATE ON wrong
    FOR EACH STATEMENT EXECUTE FUNCTION basemodel.before_update();
UPDATE wrong SET v = 2;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER t ON wrong;
CREATE TRIGGER t AFTER UPDATE OR INSERT OR DELETE ON wrong
    FOR EACH ROW EXECUTE FUNCTION basemodel.before_update();
UPDATE wrong SET v = 2;
\echo :LAST_ERROR_SQLSTATE
INSERT INTO wrong VALUES (3);
\echo :LAST_ERROR_SQLSTATE
DELETE FROM wrong;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER t ON wrong;
CREATE TRIGGER t BEFORE INSERT ON wrong
    FOR EACH ROW EXECUTE FUNCTION basemodel.before_update();
INSERT INTO wrong VALUES (3);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER t ON wrong;
CREATE TRIGGER t BEFORE TRUNCATE ON wrong
    FOR EACH STATEMENT EXECUTE FUNCTION basemodel.before_update();
TRUNCATE wrong;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER t ON wrong;
CREATE VIEW wrong_view AS SELECT v FROM wrong;
CREATE TRIGGER t INSTEAD OF UPDATE ON wrong_view
    FOR EACH ROW EXECUTE FUNCTION basemodel.before_update();
UPDATE wrong_view SET v = 2;
\echo :LAST_ERROR_SQLSTATE
-- a table without columns cannot be updated; once it has one, the
-- registration names columns it lacks
CREATE TABLE zero ();
INSERT INTO zero DEFAULT VALUES;
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON zero
    FOR EACH ROW EXECUTE FUNCTION basemodel.before_update(
        '{"version": 1, "id_column": "id", "created_column": "created_at", "updated_column": "updated_at", "hidden": [], "ignore_columns": [], "skip_unchanged": false, "added_columns": []}');
ALTER TABLE zero ADD COLUMN v int;
UPDATE zero SET v = 1;
\echo :LAST_ERROR_SQLSTATE
-- the registration names columns the table lacks, or maps one of the wrong type
CREATE TABLE missing (v int);
INSERT INTO missing VALUES (1);
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON missing
    FOR EACH ROW EXECUTE FUNCTION basemodel.before_update(
        '{"version": 1, "id_column": "v", "created_column": "created_at", "updated_column": null, "hidden": [], "ignore_columns": [], "skip_unchanged": false, "added_columns": []}');
UPDATE missing SET v = 2;
\echo :LAST_ERROR_SQLSTATE
CREATE OR REPLACE TRIGGER zzz_basemodel_update BEFORE UPDATE ON missing
    FOR EACH ROW EXECUTE FUNCTION basemodel.before_update(
        '{"version": 1, "id_column": null, "created_column": null, "updated_column": "v", "hidden": [], "ignore_columns": [], "skip_unchanged": false, "added_columns": []}');
UPDATE missing SET v = 2;
\echo :LAST_ERROR_SQLSTATE
-- no argument at all
CREATE OR REPLACE TRIGGER zzz_basemodel_update BEFORE UPDATE ON missing
    FOR EACH ROW EXECUTE FUNCTION basemodel.before_update();
UPDATE missing SET v = 2;
\echo :LAST_ERROR_SQLSTATE
ALTER EVENT TRIGGER basemodel_ddl_command_end ENABLE;
SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'basemodel_ddl_command_end';
-- the event trigger functions (C) check that they fire on their own event,
-- whoever calls them
SELECT basemodel._on_ddl_command_end();
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel._on_sql_drop();
\echo :LAST_ERROR_SQLSTATE
CREATE EVENT TRIGGER wrong_event ON ddl_command_start
    EXECUTE FUNCTION basemodel._on_ddl_command_end();
CREATE TABLE never_made (v int);
\echo :LAST_ERROR_SQLSTATE
DROP EVENT TRIGGER wrong_event;
CREATE EVENT TRIGGER wrong_event ON ddl_command_end
    EXECUTE FUNCTION basemodel._on_drop_extension();
CREATE TABLE never_made (v int);
\echo :LAST_ERROR_SQLSTATE
DROP EVENT TRIGGER wrong_event;
DROP TABLE wrong, zero, missing CASCADE;
SET ROLE basemodel_regress_anyone;

-- trigger and event trigger functions called directly
SELECT basemodel.before_update();
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel._on_drop_extension();
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel._on_ddl_command_end();
\echo :LAST_ERROR_SQLSTATE

-- to_dict on odd values
CREATE VIEW anyone.v AS SELECT v FROM anyone.one;
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
