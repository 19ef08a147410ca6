-- Every bad input gets its own error (SQLSTATE and text), and leaves the
-- table exactly as it was: register is all or nothing.
\set SHOW_CONTEXT never

-- a table's shape, to check that a failed register changed nothing
CREATE FUNCTION shape(tbl regclass) RETURNS text LANGUAGE sql AS $$
    SELECT pg_relation_filenode(tbl)::text || ' '
        || coalesce((SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod)
                                       || ':' || attnotnull::text, ', ' ORDER BY attnum)
                       FROM pg_attribute WHERE attrelid = tbl AND attnum > 0 AND NOT attisdropped), '')
        || ' triggers=' || (SELECT count(*) FROM pg_trigger WHERE tgrelid = tbl)::text
        || ' constraints=' || (SELECT count(*) FROM pg_constraint WHERE conrelid = tbl)::text
        || ' registered=' || (SELECT count(*) FROM basemodel.registry WHERE registry.tbl = shape.tbl)::text
$$;

-- a table that does not exist
SELECT basemodel.register('no_such_table');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.register(NULL);
\echo :LAST_ERROR_SQLSTATE

-- relations that are not tables
CREATE TABLE base (a int, created_at text, dup int, ok_ts timestamptz);
INSERT INTO base VALUES (1, 'x', 1, now()), (2, 'y', 1, now());
CREATE VIEW a_view AS SELECT * FROM base;
CREATE MATERIALIZED VIEW a_matview AS SELECT * FROM base;
CREATE SEQUENCE a_sequence;
CREATE INDEX an_index ON base (a);
CREATE TYPE a_type AS (x int);
CREATE FOREIGN DATA WRAPPER dummy_fdw;
CREATE SERVER dummy_server FOREIGN DATA WRAPPER dummy_fdw;
CREATE FOREIGN TABLE a_foreign_table (a int) SERVER dummy_server;
SELECT basemodel.register('a_view');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.register('a_matview');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.register('a_foreign_table');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.register('a_sequence');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.register('an_index');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.register('a_type'::regtype::text::regclass);
\echo :LAST_ERROR_SQLSTATE
-- a system catalog
SELECT basemodel.register('pg_catalog.pg_class');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.register('information_schema.sql_features');
\echo :LAST_ERROR_SQLSTATE
-- a temporary table (refused: it belongs to one session)
CREATE TEMPORARY TABLE a_temp (a int);
SELECT shape('a_temp') AS before \gset
SELECT basemodel.register('a_temp');
\echo :LAST_ERROR_SQLSTATE
SELECT shape('a_temp') = :'before' AS unchanged;
-- the extension's own tables
SELECT basemodel.register('basemodel.registry');
\echo :LAST_ERROR_SQLSTATE

SELECT shape('base') AS before \gset
-- an id column that is not unique
SELECT basemodel.register('base', id_column => 'dup', created_column => 'ok_ts');
\echo :LAST_ERROR_SQLSTATE
-- unique but nullable is not enough either
CREATE UNIQUE INDEX base_dup ON base (a);
SELECT basemodel.register('base', id_column => 'a', created_column => 'ok_ts');
\echo :LAST_ERROR_SQLSTATE
DROP INDEX base_dup;
-- an invalid unique index (a failed CREATE UNIQUE INDEX CONCURRENTLY leaves
-- one behind) proves nothing
CREATE UNIQUE INDEX base_a_invalid ON base (a);
ALTER TABLE base ALTER COLUMN a SET NOT NULL;
UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'base_a_invalid'::regclass;
SELECT basemodel.register('base', id_column => 'a', created_column => 'ok_ts');
\echo :LAST_ERROR_SQLSTATE
DROP INDEX base_a_invalid;
ALTER TABLE base ALTER COLUMN a DROP NOT NULL;
-- a timestamp column of another type
SELECT basemodel.register('base');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.register('base', created_column => 'ok_ts', updated_column => 'a');
\echo :LAST_ERROR_SQLSTATE
-- a mapping that names the same column twice
SELECT basemodel.register('base', created_column => 'ok_ts', updated_column => 'ok_ts');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.register('base', id_column => 'stamp', created_column => 'stamp', updated_column => NULL);
\echo :LAST_ERROR_SQLSTATE
-- a hidden or ignored column that does not exist
SELECT basemodel.register('base', created_column => 'ok_ts', hidden => '{a, nope}');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.register('base', created_column => 'ok_ts', ignore_columns => '{"A"}');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.register('base', created_column => 'ok_ts', hidden => '{NULL}');
\echo :LAST_ERROR_SQLSTATE
-- after all of these the table is exactly as it was
SELECT shape('base') = :'before' AS unchanged;
-- a generated column
ALTER TABLE base ADD COLUMN gen timestamptz GENERATED ALWAYS AS ('2020-01-01'::timestamptz) STORED;
SELECT shape('base') AS before \gset
SELECT basemodel.register('base', created_column => 'ok_ts', updated_column => 'gen');
\echo :LAST_ERROR_SQLSTATE
-- after all of these the table is exactly as it was
SELECT shape('base') = :'before' AS unchanged;
-- a failure late in register (here: the trigger name is taken) undoes the columns it added
CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON base FOR EACH ROW EXECUTE FUNCTION noop();
SELECT shape('base') AS before \gset
SELECT basemodel.register('base', created_column => 'ok_ts', updated_column => 'changed_at');
\echo :LAST_ERROR_SQLSTATE
SELECT shape('base') = :'before' AS unchanged;
DROP TRIGGER zzz_basemodel_update ON base;

-- unregister: a table that is not registered, or not a table
SELECT basemodel.unregister('base');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.unregister('a_view');
\echo :LAST_ERROR_SQLSTATE
-- auto_register: a schema that does not exist
SELECT basemodel.auto_register('no_such_schema');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.auto_register_off('no_such_schema');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.auto_register(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.auto_register_off(NULL);
\echo :LAST_ERROR_SQLSTATE

-- to_dict only takes composite values
SELECT basemodel.to_dict(1);
\echo :LAST_ERROR_SQLSTATE

DROP VIEW a_view;
DROP MATERIALIZED VIEW a_matview;
DROP FOREIGN TABLE a_foreign_table;
DROP SERVER dummy_server;
DROP FOREIGN DATA WRAPPER dummy_fdw;
DROP SEQUENCE a_sequence;
DROP TYPE a_type;
DROP TABLE base, a_temp;
DROP FUNCTION shape(regclass), noop();
