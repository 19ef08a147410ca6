-- Registering a partitioned table covers every partition, present and future.
\set SHOW_CONTEXT never
CREATE TABLE measurements (sensor int, taken date, value numeric) PARTITION BY RANGE (taken);
CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO measurements VALUES (1, '2024-05-01', 1.5);
SELECT basemodel.register('measurements', hidden => '{sensor}');
-- PostgreSQL 15 cannot add an identity column to a partitioned table (nor a
-- unique index without the partition key): id comes from a sequence owned by it
SELECT attname, format_type(atttypid, atttypmod), attnotnull, pg_get_expr(d.adbin, d.adrelid) AS default
  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE attrelid = 'measurements'::regclass AND attnum > 0 ORDER BY attnum;
SELECT pg_get_serial_sequence('measurements', 'id');
-- a partition created later gets the columns, the defaults and the trigger
CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
SELECT tgrelid::regclass, tgname, tgparentid <> 0 AS cloned
  FROM pg_trigger WHERE tgname = 'zzz_basemodel_update' ORDER BY tgrelid::regclass::text COLLATE "C";
BEGIN;
INSERT INTO measurements (sensor, taken, value) VALUES (2, '2025-03-01', 2.5);
INSERT INTO measurements_2025 (sensor, taken, value) VALUES (3, '2025-04-01', 3.5);
SELECT id, sensor, created_at = now() AS created_now FROM measurements ORDER BY id;
COMMIT;
-- updates through the parent and on a partition bump updated_at
UPDATE measurements SET value = value + 1 WHERE sensor = 2 RETURNING updated_at = now() AS bumped;
UPDATE measurements_2024 SET value = value + 1 RETURNING updated_at = now() AS bumped;
-- a row that moves to another partition keeps id and created_at
UPDATE measurements SET taken = '2025-06-01' WHERE sensor = 1 RETURNING tableoid::regclass, id;
UPDATE measurements SET id = 99 WHERE sensor = 1;
\echo :LAST_ERROR_SQLSTATE
-- to_dict of a partition's row honours the parent's hidden columns
SELECT basemodel.to_dict(p) ? 'sensor' AS shows_hidden FROM measurements_2024 p UNION ALL
SELECT basemodel.to_dict(p) ? 'sensor' FROM measurements_2025 p LIMIT 1;
SELECT bool_and(basemodel.to_dict(m) = to_jsonb(m) - 'sensor') AS equal FROM measurements m;
-- renaming a managed column of the parent renames it everywhere, and is followed
ALTER TABLE measurements RENAME COLUMN updated_at TO touched;
UPDATE measurements SET value = value + 1 WHERE sensor = 2 RETURNING touched = now() AS bumped;
ALTER TABLE measurements RENAME COLUMN touched TO updated_at;
-- a partition cannot be registered on its own
SELECT basemodel.register('measurements_2024');
\echo :LAST_ERROR_SQLSTATE
-- a partition's trigger cannot be dropped (PostgreSQL's rule); dropping the
-- parent's unregisters the whole tree
DROP TRIGGER zzz_basemodel_update ON measurements_2024;
\echo :LAST_ERROR_SQLSTATE
BEGIN;
DROP TRIGGER zzz_basemodel_update ON measurements;
SELECT count(*) AS registrations FROM basemodel.registry;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgname = 'zzz_basemodel_update';
ROLLBACK;
-- dropping a partition is fine; detaching one takes the cloned trigger away
DROP TABLE measurements_2024;
ALTER TABLE measurements DETACH PARTITION measurements_2025;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'measurements_2025'::regclass;
-- unregister removes the triggers of every partition; drop_columns drops the sequence too
ALTER TABLE measurements ATTACH PARTITION measurements_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
SELECT basemodel.unregister('measurements', drop_columns => true);
SELECT count(*) AS triggers FROM pg_trigger WHERE tgname = 'zzz_basemodel_update';
SELECT count(*) AS sequences FROM pg_class WHERE relkind = 'S' AND relname LIKE 'measurements%';
SELECT attname FROM pg_attribute WHERE attrelid = 'measurements_2025'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
DROP TABLE measurements, measurements_2025;

-- a partitioned table whose partition is registered on its own cannot be
-- registered (the partition's trigger would clash with the clone), and
-- nothing is left half-done
CREATE TABLE rooms (wing text, created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now()) PARTITION BY LIST (wing);
CREATE TABLE rooms_east PARTITION OF rooms FOR VALUES IN ('east');
CREATE TABLE rooms_west PARTITION OF rooms FOR VALUES IN ('west');
SELECT basemodel.register('rooms_west', id_column => NULL);
SELECT basemodel.register('rooms');
\echo :LAST_ERROR_SQLSTATE
SELECT model FROM basemodel.models WHERE model::text LIKE 'rooms%' ORDER BY 1;
SELECT attname FROM pg_attribute WHERE attrelid = 'rooms'::regclass AND attnum > 0 ORDER BY attnum;
SELECT basemodel.unregister('rooms_west');
SELECT basemodel.register('rooms', id_column => NULL);
SELECT count(*) AS triggers FROM pg_trigger WHERE tgname = 'zzz_basemodel_update' AND tgrelid::regclass::text LIKE 'rooms%';
DROP TABLE rooms;

-- a partition of an unregistered table lacking the base columns: the
-- columns would have to go on the parent, and the error says so
CREATE TABLE halls (wing text) PARTITION BY LIST (wing);
CREATE TABLE halls_north PARTITION OF halls FOR VALUES IN ('north');
SELECT basemodel.register('halls_north');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS registered FROM basemodel.models WHERE model = 'halls_north'::regclass;
DROP TABLE halls;

-- the id sequence of a table with a long non-ASCII name: its name is clipped
-- by bytes, so the number that makes it new is never cut off
CREATE TABLE "измерения_температуры_воздуха" (v int) PARTITION BY RANGE (v);
CREATE SEQUENCE "измерения_темпе_id_seq";
SELECT basemodel.register('"измерения_температуры_воздуха"');
SELECT pg_get_serial_sequence('"измерения_температуры_воздуха"', 'id');
DROP TABLE "измерения_температуры_воздуха";
DROP SEQUENCE "измерения_темпе_id_seq";
