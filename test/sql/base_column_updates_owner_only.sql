-- basemodel.allow_base_column_updates is a setting any role can change: it
-- opens the guard only for the table's owner (a member of the owning role)
-- or a superuser.  A role with UPDATE privilege alone still cannot change
-- id or created_at, nor write updated_at.
\set SHOW_CONTEXT never
\set VERBOSITY terse
DROP ROLE IF EXISTS basemodel_regress_writer;
DROP ROLE IF EXISTS basemodel_regress_owners;
DROP ROLE IF EXISTS basemodel_regress_member;
CREATE ROLE basemodel_regress_writer;
CREATE ROLE basemodel_regress_owners;
CREATE ROLE basemodel_regress_member IN ROLE basemodel_regress_owners;
CREATE SCHEMA fixes AUTHORIZATION basemodel_regress_owners;
CREATE TABLE fixes.orders (v int);
ALTER TABLE fixes.orders OWNER TO basemodel_regress_owners;
SELECT basemodel.register('fixes.orders');
INSERT INTO fixes.orders (v) VALUES (1);
GRANT USAGE ON SCHEMA fixes TO basemodel_regress_writer;
GRANT SELECT, UPDATE ON fixes.orders TO basemodel_regress_writer;

-- UPDATE privilege only: the setting does not open the guard
SET ROLE basemodel_regress_writer;
SET basemodel.allow_base_column_updates = on;
UPDATE fixes.orders SET id = 42;
\echo :LAST_ERROR_SQLSTATE
UPDATE fixes.orders SET created_at = '2000-01-01';
\echo :LAST_ERROR_SQLSTATE
-- nor does it let the role write updated_at: the trigger sets it
UPDATE fixes.orders SET updated_at = '2000-01-01'
 RETURNING id, updated_at = now() AS bumped;
-- ordinary updates go on working with the setting on
UPDATE fixes.orders SET v = 2 RETURNING id, v;
RESET basemodel.allow_base_column_updates;
RESET ROLE;
SELECT id, created_at > '2001-01-01' AS created_kept FROM fixes.orders;

-- a member of the owning role may use it
SET ROLE basemodel_regress_member;
SET basemodel.allow_base_column_updates = on;
UPDATE fixes.orders SET id = 42, created_at = '2000-01-01'
 RETURNING id, created_at = '2000-01-01' AS created_fixed;
RESET basemodel.allow_base_column_updates;
RESET ROLE;

-- and so may a superuser
SET basemodel.allow_base_column_updates = on;
UPDATE fixes.orders SET id = 7 RETURNING id;
RESET basemodel.allow_base_column_updates;

DROP SCHEMA fixes CASCADE;
DROP ROLE basemodel_regress_writer;
DROP ROLE basemodel_regress_member;
DROP ROLE basemodel_regress_owners;
