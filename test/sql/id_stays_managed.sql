-- A registered table's id stays unique and filled: ALTER TABLE that would
-- silently end that is refused with a hint naming basemodel.unregister.
-- Disabling the trigger is followed, not refused (pg_dump writes DISABLE
-- TRIGGER for a disabled one): the registry says enabled = false.
\set SHOW_CONTEXT never
\set VERBOSITY default
CREATE TABLE managed (v int);
SELECT basemodel.register('managed');
CREATE TABLE adopted (id int PRIMARY KEY, v int);
SELECT basemodel.register('adopted');

-- the primary key
ALTER TABLE managed DROP CONSTRAINT managed_pkey;
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE adopted DROP CONSTRAINT adopted_pkey;
\echo :LAST_ERROR_SQLSTATE
-- the identity
ALTER TABLE managed ALTER COLUMN id DROP IDENTITY;
\echo :LAST_ERROR_SQLSTATE
-- the type
ALTER TABLE adopted ALTER COLUMN id TYPE text;
\echo :LAST_ERROR_SQLSTATE
-- the trigger: disabled is registered but not guarded, and stays disabled
-- when basemodel rewrites the registration (a renamed column, a new option)
INSERT INTO managed (v) VALUES (1);
ALTER TABLE managed DISABLE TRIGGER zzz_basemodel_update;
SELECT tbl, enabled FROM basemodel.registry WHERE tbl = 'managed'::regclass;
SELECT model, enabled FROM basemodel.models WHERE model = 'managed'::regclass;
UPDATE managed SET id = id + 100 RETURNING id;
SELECT basemodel.register('managed', hidden => '{v}');
ALTER TABLE managed RENAME COLUMN v TO w;
SELECT tbl, hidden, enabled FROM basemodel.registry WHERE tbl = 'managed'::regclass;
ALTER TABLE managed RENAME COLUMN w TO v;
ALTER TABLE managed ENABLE REPLICA TRIGGER zzz_basemodel_update;
SELECT basemodel.register('managed');
SELECT tbl, hidden, enabled FROM basemodel.registry WHERE tbl = 'managed'::regclass;
SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'managed'::regclass AND tgname = 'zzz_basemodel_update';
ALTER TABLE managed ENABLE TRIGGER zzz_basemodel_update;
SELECT tbl, enabled FROM basemodel.registry WHERE tbl = 'managed'::regclass;
UPDATE managed SET id = id + 100;
\echo :LAST_ERROR_SQLSTATE
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid IN ('managed'::regclass, 'adopted'::regclass) ORDER BY 1;
SELECT attrelid::regclass, attname, format_type(atttypid, atttypmod), attidentity
  FROM pg_attribute WHERE attrelid IN ('managed'::regclass, 'adopted'::regclass)
   AND attname = 'id' ORDER BY 1;

-- what pg_restore --disable-triggers does is allowed, and so are other
-- changes of the table
ALTER TABLE managed DISABLE TRIGGER ALL;
ALTER TABLE managed ENABLE TRIGGER ALL;
ALTER TABLE managed DISABLE TRIGGER USER;
ALTER TABLE managed ENABLE TRIGGER USER;
ALTER TABLE managed ENABLE ALWAYS TRIGGER zzz_basemodel_update;
ALTER TABLE managed ENABLE TRIGGER zzz_basemodel_update;
ALTER TABLE adopted ADD CONSTRAINT adopted_v UNIQUE (v);
ALTER TABLE adopted DROP CONSTRAINT adopted_v;
SELECT tgrelid::regclass, tgenabled FROM pg_trigger
 WHERE tgname = 'zzz_basemodel_update' ORDER BY 1;

-- a table that adopted a unique key other than the primary key keeps it
CREATE TABLE keyed (code text NOT NULL, v int, CONSTRAINT keyed_code UNIQUE (code));
SELECT basemodel.register('keyed', id_column => 'code');
ALTER TABLE keyed DROP CONSTRAINT keyed_code;
\echo :LAST_ERROR_SQLSTATE

-- the trigger of a partition of a registered table
CREATE TABLE parted (k int) PARTITION BY LIST (k);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES IN (1);
SELECT basemodel.register('parted');
ALTER TABLE parted DISABLE TRIGGER zzz_basemodel_update;
SELECT tbl, enabled FROM basemodel.registry WHERE tbl = 'parted'::regclass;
ALTER TABLE parted ENABLE TRIGGER zzz_basemodel_update;
-- only the partitions' copies fire: one of them disabled makes the tree
-- unguarded there, the parent's own trigger disabled changes nothing; a new
-- registration keeps each copy as it was
CREATE TABLE parted_2 PARTITION OF parted FOR VALUES IN (2);
ALTER TABLE parted_2 DISABLE TRIGGER zzz_basemodel_update;
SELECT tbl, enabled FROM basemodel.registry WHERE tbl = 'parted'::regclass;
ALTER TABLE ONLY parted ENABLE REPLICA TRIGGER zzz_basemodel_update;
SELECT basemodel.register('parted', skip_unchanged => true);
SELECT tgrelid::regclass, tgenabled FROM pg_trigger
 WHERE tgname = 'zzz_basemodel_update' AND tgrelid::regclass::text LIKE 'parted%' ORDER BY tgrelid::regclass::text COLLATE "C";
ALTER TABLE parted_2 ENABLE TRIGGER zzz_basemodel_update;
SELECT tbl, enabled FROM basemodel.registry WHERE tbl = 'parted'::regclass;
ALTER TABLE ONLY parted ENABLE TRIGGER zzz_basemodel_update;

-- the id of a partitioned table is unique through its sequence only while
-- the sequence fills it
ALTER TABLE parted ALTER COLUMN id SET DEFAULT 1;
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE parted ALTER COLUMN id DROP DEFAULT;
\echo :LAST_ERROR_SQLSTATE
SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef
 WHERE adrelid = 'parted'::regclass
   AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'parted'::regclass AND attname = 'id');

-- after unregister, all of it is the owner's business again
SELECT basemodel.unregister('managed');
ALTER TABLE managed DROP CONSTRAINT managed_pkey;
ALTER TABLE managed ALTER COLUMN id DROP IDENTITY;
DROP TABLE managed, adopted, keyed, parted;
