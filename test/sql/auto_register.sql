-- auto_register(schema): every table created in the schema is registered
-- with the default options, the analogue of "every model derives from Base".
\set SHOW_CONTEXT never
CREATE SCHEMA app;
CREATE TABLE app.before_on (v int);
SELECT basemodel.auto_register('app');
SELECT basemodel.auto_register('app');  -- already on: a no-op
SELECT * FROM basemodel.auto_schemas;
-- CREATE TABLE, CREATE TABLE AS and SELECT INTO
CREATE TABLE app.users (name text);
CREATE TABLE app.copied AS SELECT 1 AS v;
SELECT 2 AS v INTO app.selected;
-- a table that already has the base columns is adopted
CREATE TABLE app.complete (id bigint PRIMARY KEY, created_at timestamptz, updated_at timestamptz);
-- a partitioned table is registered, its partitions are covered through it
CREATE TABLE app.parted (k int) PARTITION BY LIST (k);
CREATE TABLE app.parted_1 PARTITION OF app.parted FOR VALUES IN (1);
-- tables elsewhere, and tables that existed before, are left alone
CREATE TABLE public.elsewhere (v int);
SELECT model, added_columns FROM basemodel.models ORDER BY model::text;
SELECT attname FROM pg_attribute WHERE attrelid = 'app.copied'::regclass AND attnum > 0 ORDER BY attnum;
INSERT INTO app.users (name) VALUES ('ann');
UPDATE app.users SET name = 'anne' RETURNING id, updated_at = now() AS bumped;
-- a table whose columns cannot be adopted is not created
CREATE TABLE app.bad (created_at text);
\echo :LAST_ERROR_SQLSTATE
SELECT to_regclass('app.bad') AS bad_table;
-- renaming the schema keeps auto-registration on
ALTER SCHEMA app RENAME TO app2;
SELECT * FROM basemodel.auto_schemas;
CREATE TABLE app2.after_rename (v int);
SELECT count(*) AS registered FROM basemodel.models WHERE model = 'app2.after_rename'::regclass;
-- off: new tables are no longer registered, registered ones stay
SELECT basemodel.auto_register_off('app2');
CREATE TABLE app2.after_off (v int);
SELECT count(*) FILTER (WHERE model = 'app2.after_off'::regclass) AS after_off,
       count(*) FILTER (WHERE model = 'app2.users'::regclass) AS users
  FROM basemodel.models;
-- dropping the schema forgets it and its tables
SELECT basemodel.auto_register('app2');
DROP SCHEMA app2 CASCADE;
SELECT count(*) AS schemas FROM basemodel.auto_schemas;
SELECT count(*) AS registrations FROM basemodel.registry;
DROP TABLE public.elsewhere;

-- a stale entry (a dump restores entries for schemas it does not hold) is
-- not taken for a renamed schema when another schema changes owner ...
INSERT INTO basemodel.auto_schemas VALUES ('ghost');
CREATE SCHEMA unrelated;
CREATE ROLE basemodel_regress_schema_owner;
ALTER SCHEMA unrelated OWNER TO basemodel_regress_schema_owner;
SELECT * FROM basemodel.auto_schemas ORDER BY 1;
CREATE TABLE unrelated.t1 (v int);
-- ... nor when it is renamed: a rename moves its own entry only
ALTER SCHEMA unrelated RENAME TO unrelated2;
SELECT * FROM basemodel.auto_schemas ORDER BY 1;
CREATE TABLE unrelated2.t2 (v int);
SELECT count(*) AS registered FROM basemodel.models WHERE schema_name LIKE 'unrelated%';
-- a schema created under the stale name does not inherit it
CREATE SCHEMA ghost;
SELECT count(*) AS stale FROM basemodel.auto_schemas;
CREATE TABLE ghost.t3 (v int);
SELECT count(*) AS registered FROM basemodel.models WHERE schema_name = 'ghost';
DROP SCHEMA ghost, unrelated2 CASCADE;
DROP ROLE basemodel_regress_schema_owner;
