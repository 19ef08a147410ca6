-- CREATE EXTENSION puts everything into the schema basemodel, and DROP
-- EXTENSION takes all of it away again.
SELECT extname, extversion, extnamespace::regnamespace AS pinned_to
  FROM pg_extension WHERE extname = 'basemodel';

SELECT basemodel.tablename('User');

-- every object of the extension lives in the schema basemodel
SELECT count(*) AS objects_outside_schema
  FROM pg_depend d
  JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'basemodel')
   AND p.pronamespace <> 'basemodel'::regnamespace;

DROP EXTENSION basemodel;
SELECT count(*) AS schemas_left FROM pg_namespace WHERE nspname = 'basemodel';
SELECT count(*) AS functions_left FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'basemodel';

CREATE EXTENSION basemodel;
SELECT extversion FROM pg_extension WHERE extname = 'basemodel';

-- ALTER EXTENSION UPDATE from every released version (0.1 is the only one:
-- a no-op that must keep working as versions are added)
ALTER EXTENSION basemodel UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'basemodel';

-- DROP EXTENSION leaves user tables and data intact and removes our triggers
CREATE TABLE kept (v int);
INSERT INTO kept VALUES (1);
SELECT basemodel.register('kept');
CREATE TABLE kept_parted (k int) PARTITION BY LIST (k);
CREATE TABLE kept_parted_1 PARTITION OF kept_parted FOR VALUES IN (1);
SELECT basemodel.register('kept_parted');
INSERT INTO kept_parted (k) VALUES (1);
DROP EXTENSION basemodel;
SELECT count(*) AS our_triggers FROM pg_trigger WHERE tgname = 'zzz_basemodel_update';
SELECT id, v, created_at IS NOT NULL AS has_created FROM kept;
UPDATE kept SET v = 2, id = 5, created_at = '2000-01-01' RETURNING id, v;
UPDATE kept_parted SET k = 1 RETURNING id;
-- and the extension can come back and register them again
CREATE EXTENSION basemodel;
SELECT basemodel.register('kept');
SELECT basemodel.register('kept_parted');
SELECT count(*) AS our_triggers FROM pg_trigger WHERE tgname = 'zzz_basemodel_update';
-- dropping another extension leaves ours alone
CREATE EXTENSION moddatetime;
DROP EXTENSION moddatetime;
SELECT count(*) AS our_triggers FROM pg_trigger WHERE tgname = 'zzz_basemodel_update';
DROP TABLE kept, kept_parted;
