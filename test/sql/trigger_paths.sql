-- The trigger writes updated_at into the executor's new row (see
-- StoreInPlace in trigger.c).  Every path that reads that row must see the
-- new value: indexes, stored generated columns, earlier BEFORE triggers
-- (including one that returns OLD), AFTER row triggers and transition
-- tables, partition routing and row movement, ON CONFLICT DO UPDATE.
\set SHOW_CONTEXT never
SET timezone = 'UTC';

CREATE TABLE paths (
    k int PRIMARY KEY,
    v text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_utc timestamp GENERATED ALWAYS AS (updated_at AT TIME ZONE 'UTC') STORED
);
CREATE INDEX paths_updated_at ON paths (updated_at);
INSERT INTO paths (k, v, updated_at) VALUES (1, 'a', '2000-01-01'), (2, 'b', '2000-01-01'),
    (3, 'c', '2000-01-01');
SELECT basemodel.register('paths', id_column => 'k', created_column => NULL);

-- an AFTER row trigger and transition tables see the new updated_at
CREATE TABLE seen (k int, old_at timestamptz, new_at timestamptz, source text);
CREATE FUNCTION note_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO seen VALUES (NEW.k, OLD.updated_at, NEW.updated_at, 'row');
    RETURN NULL;
END $$;
CREATE FUNCTION note_table() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO seen SELECT n.k, o.updated_at, n.updated_at, 'table'
      FROM old_rows o JOIN new_rows n USING (k);
    RETURN NULL;
END $$;
CREATE TRIGGER note_row AFTER UPDATE ON paths FOR EACH ROW EXECUTE FUNCTION note_row();
CREATE TRIGGER note_table AFTER UPDATE ON paths REFERENCING OLD TABLE AS old_rows
    NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION note_table();

BEGIN;
UPDATE paths SET v = v || '!' WHERE k = 1
    RETURNING k, v, updated_at = now() AS bumped, updated_utc = now() AT TIME ZONE 'UTC' AS generated;
SELECT k, old_at = '2000-01-01' AS old_kept, new_at = now() AS new_bumped, source
  FROM seen ORDER BY source;
-- the index on updated_at has the new value
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT k FROM paths WHERE updated_at = now();
SELECT k FROM paths WHERE updated_at = now();
SELECT k FROM paths WHERE updated_at = '2000-01-01' ORDER BY k;
COMMIT;
TRUNCATE seen;

-- earlier BEFORE triggers: one that changes NEW, one that returns OLD
CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.v := upper(NEW.v);
    RETURN NEW;
END $$;
CREATE FUNCTION keep_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.v = 'KEEP' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER a_shout BEFORE UPDATE ON paths FOR EACH ROW EXECUTE FUNCTION shout();
CREATE TRIGGER b_keep_old BEFORE UPDATE ON paths FOR EACH ROW EXECUTE FUNCTION keep_old();
BEGIN;
UPDATE paths SET v = 'loud' WHERE k = 2
    RETURNING k, v, updated_at = now() AS bumped, updated_utc = now() AT TIME ZONE 'UTC' AS generated;
UPDATE paths SET v = 'keep' WHERE k = 3
    RETURNING k, v, updated_at = now() AS bumped, updated_utc = now() AT TIME ZONE 'UTC' AS generated;
SELECT k, new_at = now() AS new_bumped, source FROM seen ORDER BY k, source;
COMMIT;
DROP TRIGGER a_shout ON paths;
DROP TRIGGER b_keep_old ON paths;

-- ON CONFLICT DO UPDATE
BEGIN;
INSERT INTO paths (k, v) VALUES (1, 'dup'), (4, 'new')
    ON CONFLICT (k) DO UPDATE SET v = excluded.v
    RETURNING k, v, updated_at = now() AS bumped, updated_utc = now() AT TIME ZONE 'UTC' AS generated;
COMMIT;

-- rows written before register added created_at (no rewrite: the value is
-- the stored default, not in the tuple), an adopted nullable updated column
-- holding NULL, and an earlier trigger returning such an old row
CREATE TABLE legacy (k int PRIMARY KEY, v text, last_update timestamptz);
INSERT INTO legacy VALUES (1, 'a', NULL), (2, 'b', '2000-01-01');
SELECT basemodel.register('legacy', id_column => 'k', updated_column => 'last_update');
CREATE TRIGGER b_keep_old BEFORE UPDATE ON legacy FOR EACH ROW EXECUTE FUNCTION keep_old();
BEGIN;
UPDATE legacy SET v = v || '!' RETURNING k, v, last_update = now() AS bumped,
    created_at < now() AS created_kept;
UPDATE legacy SET v = 'KEEP' WHERE k = 1 RETURNING k, v, last_update = now() AS bumped;
COMMIT;

-- partitioned: an update inside a partition, and one that moves the row
CREATE TABLE routed (k int, zone text, v text, updated_at timestamptz NOT NULL)
    PARTITION BY LIST (zone);
CREATE TABLE routed_a PARTITION OF routed FOR VALUES IN ('a');
CREATE TABLE routed_b PARTITION OF routed FOR VALUES IN ('b');
INSERT INTO routed VALUES (1, 'a', 'x', '2000-01-01'), (2, 'a', 'y', '2000-01-01');
SELECT basemodel.register('routed', id_column => NULL, created_column => NULL);
BEGIN;
UPDATE routed SET v = 'x2' WHERE k = 1
    RETURNING tableoid::regclass, k, updated_at = now() AS bumped;
UPDATE routed SET zone = 'b' WHERE k = 2
    RETURNING tableoid::regclass, k, updated_at = now() AS bumped;
SELECT tableoid::regclass, k, zone, updated_at = now() AS bumped FROM routed ORDER BY k;
COMMIT;
-- a partition with another column order (tuple conversion on the way in and out)
CREATE TABLE routed_d (updated_at timestamptz NOT NULL, v text, zone text, k int);
ALTER TABLE routed ATTACH PARTITION routed_d FOR VALUES IN ('d');
BEGIN;
UPDATE routed SET zone = 'd' WHERE k = 1
    RETURNING tableoid::regclass, k, v, updated_at = now() AS bumped;
UPDATE routed SET v = 'x3' WHERE k = 1
    RETURNING tableoid::regclass, k, v, updated_at = now() AS bumped;
COMMIT;

DROP TABLE paths, seen, legacy, routed;
DROP FUNCTION note_row(), note_table(), shout(), keep_old();
RESET timezone;
