-- Registering a partitioned table that lacks an id creates a sequence for
-- it; the sequence belongs to the table's owner, so registering works for a
-- member of the owning role and for a superuser, not only for the owner.
\set SHOW_CONTEXT never
\set VERBOSITY terse
DROP ROLE IF EXISTS basemodel_regress_pgowners;
DROP ROLE IF EXISTS basemodel_regress_pgmember;
CREATE ROLE basemodel_regress_pgowners;
CREATE ROLE basemodel_regress_pgmember IN ROLE basemodel_regress_pgowners;
CREATE SCHEMA parted AUTHORIZATION basemodel_regress_pgowners;

-- a superuser registers a table another role owns
CREATE TABLE parted.by_super (day int) PARTITION BY RANGE (day);
CREATE TABLE parted.by_super_1 PARTITION OF parted.by_super FOR VALUES FROM (1) TO (10);
ALTER TABLE parted.by_super OWNER TO basemodel_regress_pgowners;
ALTER TABLE parted.by_super_1 OWNER TO basemodel_regress_pgowners;
SELECT basemodel.register('parted.by_super');

-- a member of the owning role registers it
SET ROLE basemodel_regress_pgmember;
CREATE TABLE parted.by_member (day int) PARTITION BY RANGE (day);
ALTER TABLE parted.by_member OWNER TO basemodel_regress_pgowners;
CREATE TABLE parted.by_member_1 PARTITION OF parted.by_member FOR VALUES FROM (1) TO (10);
SELECT basemodel.register('parted.by_member');
RESET ROLE;

SELECT c.relname AS seq, pg_get_userbyid(c.relowner) AS owner,
       pg_get_serial_sequence(t.tbl, 'id') IS NOT NULL AS owned_by_id
  FROM (VALUES ('parted.by_super'), ('parted.by_member')) t(tbl)
  JOIN pg_class c ON c.oid = pg_get_serial_sequence(t.tbl, 'id')::regclass
 ORDER BY 1;

-- the owner's inserts draw ids from it
SET ROLE basemodel_regress_pgowners;
INSERT INTO parted.by_super (day) VALUES (1), (2);
INSERT INTO parted.by_member (day) VALUES (3);
SELECT id, day FROM parted.by_super ORDER BY id;
SELECT id, day FROM parted.by_member ORDER BY id;
RESET ROLE;

DROP SCHEMA parted CASCADE;
DROP ROLE basemodel_regress_pgmember;
DROP ROLE basemodel_regress_pgowners;
