-- The BEFORE UPDATE trigger: updated_at follows every change, ignored columns
-- and no-op updates follow the options, id and created_at are immutable
-- unless basemodel.allow_base_column_updates is on, and INSERT keeps SQL's rules.
\set SHOW_CONTEXT never

CREATE TABLE items (name text, qty int, seen int DEFAULT 0);
SELECT basemodel.register('items', ignore_columns => '{seen}');
-- INSERT: defaults fill what the statement omits, explicit values are kept
BEGIN;
INSERT INTO items (name, qty) VALUES ('a', 1);
INSERT INTO items (id, name, qty, created_at, updated_at)
     VALUES (100, 'imported', 2, '2020-01-01 00:00+00', '2020-06-01 00:00+00');
SELECT id, name, created_at = now() AS created_now, updated_at = now() AS updated_now
  FROM items ORDER BY id;
COMMIT;

-- an update that changes a column moves updated_at to the transaction timestamp
UPDATE items SET qty = qty + 1 WHERE id = 100
RETURNING id, updated_at = now() AS bumped, created_at = '2020-01-01 00:00+00' AS created_kept;
-- an update that changes nothing still bumps (skip_unchanged is off)
-- (the trigger owns updated_at: without the escape hatch a value set here is replaced)
UPDATE items SET updated_at = '2020-06-01 00:00+00' WHERE id = 100
RETURNING updated_at = now() AS bumped;
-- a change to an ignored column alone keeps updated_at
BEGIN;
UPDATE items SET seen = seen + 1 WHERE id = 100 RETURNING seen, updated_at = now() AS bumped;
ROLLBACK;
SET basemodel.allow_base_column_updates = on;
UPDATE items SET updated_at = '2020-06-01 00:00+00' WHERE id = 100;
RESET basemodel.allow_base_column_updates;
UPDATE items SET seen = seen + 1 WHERE id = 100
RETURNING seen, updated_at = '2020-06-01 00:00+00' AS kept;
-- an ignored column together with another one bumps
UPDATE items SET seen = seen + 1, qty = 7 WHERE id = 100
RETURNING updated_at = now() AS bumped;

-- skip_unchanged: an update that changes nothing keeps updated_at
CREATE TABLE docs (body text);
SELECT basemodel.register('docs', skip_unchanged => true);
SET basemodel.allow_base_column_updates = on;
INSERT INTO docs (body, updated_at) VALUES (repeat('x', 100000), '2020-01-01 00:00+00'), ('short', '2020-01-01 00:00+00');
RESET basemodel.allow_base_column_updates;
UPDATE docs SET body = body RETURNING updated_at = '2020-01-01 00:00+00' AS kept;
-- also when the same long (toasted) text is written again
UPDATE docs SET body = repeat('x', 100000) WHERE body <> 'short' RETURNING updated_at = '2020-01-01 00:00+00' AS kept;
UPDATE docs SET body = 'changed' WHERE body = 'short' RETURNING updated_at = now() AS bumped;

-- id and created_at cannot change through UPDATE
UPDATE items SET created_at = '1999-01-01 00:00+00' WHERE id = 100;
\echo :LAST_ERROR_SQLSTATE
UPDATE items SET id = 101 WHERE id = 100;
\echo :LAST_ERROR_SQLSTATE
-- setting them to the value they have is not a change
UPDATE items SET id = 100, created_at = created_at WHERE id = 100;
-- the escape hatch for data fixes
SET basemodel.allow_base_column_updates = on;
UPDATE items SET id = 101, created_at = '1999-01-01 00:00+00' WHERE id = 100
RETURNING id, created_at = '1999-01-01 00:00+00' AS fixed;
RESET basemodel.allow_base_column_updates;

-- the trigger runs after the user's own BEFORE UPDATE triggers (name order)
-- and sees their changes: a user trigger that only touches an ignored column
-- does not make the update count, one that changes a column does
CREATE FUNCTION touch_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.seen := NEW.seen + 1; RETURN NEW; END $$;
CREATE FUNCTION rename_item() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.name := NEW.name || '!'; RETURN NEW; END $$;
CREATE TRIGGER audit_seen BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch_seen();
SET basemodel.allow_base_column_updates = on;
UPDATE items SET updated_at = '2020-06-01 00:00+00' WHERE id = 101;
RESET basemodel.allow_base_column_updates;
UPDATE items SET seen = seen WHERE id = 101 RETURNING seen, updated_at = '2020-06-01 00:00+00' AS kept;
CREATE TRIGGER rename_it BEFORE UPDATE ON items FOR EACH ROW WHEN (OLD.qty = 0) EXECUTE FUNCTION rename_item();
UPDATE items SET qty = 0 WHERE id = 101;
UPDATE items SET seen = seen WHERE id = 101 RETURNING name, updated_at = now() AS bumped;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'items'::regclass ORDER BY tgname COLLATE "C";
DROP TRIGGER audit_seen ON items;
DROP TRIGGER rename_it ON items;
-- an UPDATE that does not assign created_at cannot change it, unless a
-- BEFORE trigger that fires first does: that is caught, however it is
-- added (the trigger only compares the columns an UPDATE assigns when no
-- other BEFORE UPDATE row trigger fires before it)
UPDATE items SET qty = qty + 1 WHERE id = 101 RETURNING updated_at = now() AS bumped;
CREATE FUNCTION backdate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.created_at := '1999-01-01 00:00+00'; NEW.id := NEW.id; RETURN NEW; END $$;
CREATE TRIGGER backdate BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION backdate();
UPDATE items SET qty = qty + 1 WHERE id = 101;
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE items DISABLE TRIGGER backdate;
UPDATE items SET qty = qty + 1 WHERE id = 101 RETURNING updated_at = now() AS bumped;
ALTER TABLE items ENABLE TRIGGER backdate;
UPDATE items SET qty = qty + 1 WHERE id = 101;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER backdate ON items;
DROP FUNCTION backdate();

-- a timestamp (without time zone) updated column gets the transaction time too
CREATE TABLE legacy (k int PRIMARY KEY, v int, modified timestamp NOT NULL DEFAULT '2000-01-01');
INSERT INTO legacy VALUES (1, 1);
SELECT basemodel.register('legacy', id_column => 'k', created_column => NULL, updated_column => 'modified');
UPDATE legacy SET v = 2 RETURNING modified = now()::timestamp AS bumped;

-- changing the options takes effect at once (the per-table cache is invalidated)
SELECT basemodel.register('legacy', id_column => 'k', created_column => NULL,
                          updated_column => 'modified', ignore_columns => '{v}');
BEGIN;
UPDATE legacy SET modified = '2000-01-01';
ROLLBACK;
SET basemodel.allow_base_column_updates = on;
UPDATE legacy SET modified = '2000-01-01';
RESET basemodel.allow_base_column_updates;
UPDATE legacy SET v = 3 RETURNING modified = '2000-01-01' AS kept;
-- and so does adding a column (the row type changes)
ALTER TABLE legacy ADD COLUMN extra text;
UPDATE legacy SET extra = 'x' RETURNING modified = now()::timestamp AS bumped;

-- an unregistered table keeps no trigger and gets no bump
SELECT basemodel.unregister('legacy');
SET basemodel.allow_base_column_updates = on;
UPDATE legacy SET modified = '2000-01-01';
RESET basemodel.allow_base_column_updates;
UPDATE legacy SET v = 4 RETURNING modified = '2000-01-01' AS kept;

-- a trigger calling basemodel.before_update() in any other shape than
-- register's is refused when it is created
CREATE TABLE misuse (a int);
INSERT INTO misuse VALUES (0);
CREATE TRIGGER wrong AFTER INSERT ON misuse FOR EACH ROW EXECUTE FUNCTION basemodel.before_update();
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE OF a ON misuse
    FOR EACH ROW EXECUTE FUNCTION basemodel.before_update('{"version": 1}');
\echo :LAST_ERROR_SQLSTATE
-- and so is one whose argument is not a registration
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON misuse FOR EACH ROW EXECUTE FUNCTION basemodel.before_update();
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON misuse FOR EACH ROW EXECUTE FUNCTION basemodel.before_update('{"version": 1');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON misuse FOR EACH ROW EXECUTE FUNCTION basemodel.before_update(
    '{"version": 1, "id_column": null, "created_column": null, "updated_column": "a",
      "hidden": [], "ignore_columns": [], "skip_unchanged": false, "added_columns": ["a", "b"]}');
\echo :LAST_ERROR_SQLSTATE
-- a trigger written by hand gets the checks register makes: the table's
-- kind, inheritance, and the mapped columns (their existence, type and,
-- for the id, uniqueness)
CREATE TABLE hand_parent (v int);
CREATE TABLE hand_child () INHERITS (hand_parent);
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON hand_parent FOR EACH ROW EXECUTE FUNCTION basemodel.before_update(
    '{"version": 1, "id_column": null, "created_column": null, "updated_column": null,
      "hidden": [], "ignore_columns": [], "skip_unchanged": false, "added_columns": []}');
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN DATA WRAPPER hand_fdw;
CREATE SERVER hand_server FOREIGN DATA WRAPPER hand_fdw;
CREATE FOREIGN TABLE hand_foreign (v int) SERVER hand_server;
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON hand_foreign FOR EACH ROW EXECUTE FUNCTION basemodel.before_update(
    '{"version": 1, "id_column": null, "created_column": null, "updated_column": null,
      "hidden": [], "ignore_columns": [], "skip_unchanged": false, "added_columns": []}');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE bogus (v int PRIMARY KEY, created_at timestamptz, note text);
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON bogus FOR EACH ROW EXECUTE FUNCTION basemodel.before_update(
    '{"version": 1, "id_column": "v", "created_column": "made", "updated_column": null,
      "hidden": [], "ignore_columns": [], "skip_unchanged": false, "added_columns": ["v"]}');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON bogus FOR EACH ROW EXECUTE FUNCTION basemodel.before_update(
    '{"version": 1, "id_column": "note", "created_column": null, "updated_column": null,
      "hidden": [], "ignore_columns": [], "skip_unchanged": false, "added_columns": []}');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON bogus FOR EACH ROW EXECUTE FUNCTION basemodel.before_update(
    '{"version": 1, "id_column": "v", "created_column": "note", "updated_column": null,
      "hidden": [], "ignore_columns": [], "skip_unchanged": false, "added_columns": []}');
\echo :LAST_ERROR_SQLSTATE
-- a registration that passes them but claims columns register did not
-- add: unregister keeps the owner's columns, naming them
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON bogus FOR EACH ROW EXECUTE FUNCTION basemodel.before_update(
    '{"version": 1, "id_column": "v", "created_column": "created_at", "updated_column": null,
      "hidden": [], "ignore_columns": [], "skip_unchanged": false, "added_columns": ["v", "created_at"]}');
INSERT INTO bogus VALUES (1, now(), 'kept');
SELECT basemodel.unregister('bogus', drop_columns => true);
SELECT v, note FROM bogus;
-- the columns register adds are dropped as before
CREATE TABLE fresh (v int);
SELECT basemodel.register('fresh');
SELECT basemodel.unregister('fresh', drop_columns => true);
SELECT attname FROM pg_attribute WHERE attrelid = 'fresh'::regclass AND attnum > 0 AND NOT attisdropped;
DROP TABLE hand_parent, hand_child, bogus, fresh;
DROP SERVER hand_server CASCADE;
DROP FOREIGN DATA WRAPPER hand_fdw;
-- writing a registration needs a table
SELECT basemodel._write_registration(ROW(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL));
\echo :LAST_ERROR_SQLSTATE

-- past the event trigger (a superuser can disable it), the function itself
-- refuses to run in any other way, and reads a bad argument without crashing
ALTER EVENT TRIGGER basemodel_ddl_command_end DISABLE;
CREATE TRIGGER wrong AFTER INSERT ON misuse FOR EACH ROW EXECUTE FUNCTION basemodel.before_update();
INSERT INTO misuse VALUES (1);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER wrong ON misuse;
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON misuse FOR EACH ROW EXECUTE FUNCTION basemodel.before_update('a', 'b');
UPDATE misuse SET a = 2;
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.to_dict(m) FROM misuse m;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER zzz_basemodel_update ON misuse;
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON misuse FOR EACH ROW EXECUTE FUNCTION basemodel.before_update('[1]');
UPDATE misuse SET a = 2;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER zzz_basemodel_update ON misuse;
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON misuse FOR EACH ROW EXECUTE FUNCTION basemodel.before_update(
    '{"version": 2, "id_column": null}');
UPDATE misuse SET a = 2;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER zzz_basemodel_update ON misuse;
CREATE TRIGGER zzz_basemodel_update BEFORE UPDATE ON misuse FOR EACH ROW EXECUTE FUNCTION basemodel.before_update(
    '{"version": 1, "id_column": null, "created_column": null, "updated_column": "a",
      "hidden": [""], "ignore_columns": [], "skip_unchanged": false, "added_columns": []}');
UPDATE misuse SET a = 2;
\echo :LAST_ERROR_SQLSTATE
ALTER EVENT TRIGGER basemodel_ddl_command_end ENABLE;

DROP TABLE items, docs, legacy, misuse;
DROP FUNCTION touch_seen(), rename_item();

-- the new updated_at reaches indexes, later triggers and RETURNING alike
CREATE TABLE indexed (v int);
SELECT basemodel.register('indexed');
CREATE INDEX indexed_updated ON indexed (updated_at);
CREATE FUNCTION times_ten() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.v := NEW.v * 10; RETURN NEW; END $$;
-- fires after ours (its name sorts later) and sees the bumped value
CREATE TRIGGER zzzz_after BEFORE UPDATE ON indexed FOR EACH ROW
    WHEN (NEW.updated_at = now()) EXECUTE FUNCTION times_ten();
INSERT INTO indexed (v) VALUES (1);
BEGIN;
UPDATE indexed SET v = 2 RETURNING v, updated_at = now() AS bumped;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT v FROM indexed WHERE updated_at = now();
COMMIT;
DROP TABLE indexed;
DROP FUNCTION times_ten();
