-- Empty column names are refused as bad parameters (22023), not passed on
-- to generated SQL where they were a syntax error.
\set SHOW_CONTEXT never
\set VERBOSITY terse
CREATE TABLE named (v int);
SELECT basemodel.register('named', id_column => '');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.register('named', created_column => '');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.register('named', updated_column => '');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.register('named', hidden => '{""}');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS registered FROM basemodel.models;
DROP TABLE named;
