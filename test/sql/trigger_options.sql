-- ignore_columns and skip_unchanged compare only the columns an UPDATE
-- assigns (tg_updatedcols) while no other BEFORE UPDATE row trigger fires
-- before basemodel's, and every column when one does: the same answers
-- either way, NULLs, toasted values and partitions with another column
-- order included.
\set SHOW_CONTEXT never

-- sets updated_at of every row of tbl to 2000-01-01, so that a later
-- UPDATE shows whether it set it (bumped) or kept it
CREATE PROCEDURE stamp_old(tbl regclass) LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('basemodel.allow_base_column_updates', 'on', true);
    EXECUTE format('UPDATE %s SET updated_at = %L', tbl, '2000-01-01 00:00+00');
END $$;

-- ignore_columns alone: a change to ignored columns only keeps updated_at;
-- an UPDATE that changes nothing sets it (skip_unchanged is off)
CREATE TABLE opt_ign (a int, seen int);
SELECT basemodel.register('opt_ign', ignore_columns => '{seen}');
INSERT INTO opt_ign (a, seen) VALUES (1, 0);
CALL stamp_old('opt_ign');
UPDATE opt_ign SET seen = seen + 1 RETURNING 'seen changed' AS "update", updated_at = now() AS bumped;
UPDATE opt_ign SET seen = seen + 1, a = a RETURNING 'seen changed, a same', updated_at = now();
UPDATE opt_ign SET seen = seen RETURNING 'seen same', updated_at = now();
CALL stamp_old('opt_ign');
UPDATE opt_ign SET a = a + 1 RETURNING 'a changed', updated_at = now();
CALL stamp_old('opt_ign');
UPDATE opt_ign SET seen = seen + 1, a = a + 1 RETURNING 'seen and a changed', updated_at = now();
CALL stamp_old('opt_ign');
UPDATE opt_ign SET a = a RETURNING 'a same', updated_at = now();

-- skip_unchanged: the same value (NULL included) keeps updated_at, another
-- value sets it; a long text stored out of line compares by value
CREATE TABLE opt_skip (a int, body text, note text);
ALTER TABLE opt_skip ALTER body SET STORAGE EXTERNAL;
SELECT basemodel.register('opt_skip', skip_unchanged => true);
INSERT INTO opt_skip (a, body) VALUES (NULL, repeat('x', 100000));
SELECT pg_relation_size(reltoastrelid) > 0 AS body_out_of_line FROM pg_class WHERE oid = 'opt_skip'::regclass;
CALL stamp_old('opt_skip');
UPDATE opt_skip SET a = NULL RETURNING 'a NULL to NULL' AS "update", updated_at = now() AS bumped;
UPDATE opt_skip SET body = body RETURNING 'body same (its toast pointer)', updated_at = now();
UPDATE opt_skip SET body = repeat('x', 100000) RETURNING 'body same (written again)', updated_at = now();
UPDATE opt_skip SET a = 1 RETURNING 'a NULL to 1', updated_at = now();
CALL stamp_old('opt_skip');
UPDATE opt_skip SET a = 1 RETURNING 'a 1 to 1', updated_at = now();
UPDATE opt_skip SET a = NULL RETURNING 'a 1 to NULL', updated_at = now();
CALL stamp_old('opt_skip');
UPDATE opt_skip SET body = repeat('x', 99999) || 'y' RETURNING 'body changed', updated_at = now();

-- both options: only a change to a column that is not ignored counts
CREATE TABLE opt_both (a int, seen int);
SELECT basemodel.register('opt_both', ignore_columns => '{seen}', skip_unchanged => true);
INSERT INTO opt_both (a, seen) VALUES (1, 0);
CALL stamp_old('opt_both');
UPDATE opt_both SET seen = seen + 1 RETURNING 'seen changed' AS "update", updated_at = now() AS bumped;
UPDATE opt_both SET seen = seen + 1, a = a RETURNING 'seen changed, a same', updated_at = now();
UPDATE opt_both SET a = a + 1, seen = seen + 1 RETURNING 'seen and a changed', updated_at = now();

-- a BEFORE UPDATE trigger of the user's that fires before basemodel's (its
-- name sorts first) may change columns the UPDATE does not assign: such a
-- change counts, and one that changes nothing still does not
CREATE FUNCTION fill_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.note := coalesce(NEW.note, 'filled by a trigger'); RETURN NEW; END $$;
CALL stamp_old('opt_skip');
CREATE TRIGGER a_fill_note BEFORE UPDATE ON opt_skip FOR EACH ROW EXECUTE FUNCTION fill_note();
UPDATE opt_skip SET a = a RETURNING 'a same, the trigger fills note' AS "update", note, updated_at = now() AS bumped;
CALL stamp_old('opt_skip');
UPDATE opt_skip SET a = a RETURNING 'a same, note already filled', note, updated_at = now();
UPDATE opt_skip SET note = NULL RETURNING 'note to NULL, the trigger fills it again', note, updated_at = now();
DROP TRIGGER a_fill_note ON opt_skip;
-- the same under ignore_columns: the trigger changes a column that counts
-- while the UPDATE assigns only an ignored one
CREATE FUNCTION bump_a() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.a := NEW.a + 1; RETURN NEW; END $$;
CREATE TRIGGER a_bump_a BEFORE UPDATE ON opt_ign FOR EACH ROW EXECUTE FUNCTION bump_a();
CALL stamp_old('opt_ign');
UPDATE opt_ign SET seen = seen + 1 RETURNING 'seen changed, the trigger changes a' AS "update", updated_at = now() AS bumped;
DROP TRIGGER a_bump_a ON opt_ign;
-- once the trigger is gone, basemodel's compares the assigned columns again
CALL stamp_old('opt_ign');
UPDATE opt_ign SET seen = seen + 1 RETURNING 'seen changed, no other trigger' AS "update", updated_at = now() AS bumped;

-- a stored generated column: PL/pgSQL hands a BEFORE trigger NEW with it
-- NULL (it is computed after the BEFORE triggers), which is not a change
CREATE TABLE opt_gen (a int, twice int GENERATED ALWAYS AS (a * 2) STORED);
SELECT basemodel.register('opt_gen', skip_unchanged => true);
INSERT INTO opt_gen (a) VALUES (1);
CREATE FUNCTION pass() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CALL stamp_old('opt_gen');
UPDATE opt_gen SET a = a RETURNING 'a same' AS "update", twice, updated_at = now() AS bumped;
CREATE TRIGGER a_pass BEFORE UPDATE ON opt_gen FOR EACH ROW EXECUTE FUNCTION pass();
UPDATE opt_gen SET a = a RETURNING 'a same, a PL/pgSQL trigger first', twice, updated_at = now();
UPDATE opt_gen SET a = 2 RETURNING 'a changed, a PL/pgSQL trigger first', twice, updated_at = now();

-- a partition whose columns are in another order than its parent's (the
-- assigned columns are the partition's own), through the parent, on the
-- partition, and through INSERT ... ON CONFLICT DO UPDATE
CREATE TABLE opt_parts (k int, zone text, a int, seen int, updated_at timestamptz NOT NULL DEFAULT now(),
                        PRIMARY KEY (k, zone)) PARTITION BY LIST (zone);
CREATE TABLE opt_parts_r (updated_at timestamptz NOT NULL DEFAULT now(), seen int, k int NOT NULL,
                          a int, zone text NOT NULL);
ALTER TABLE opt_parts ATTACH PARTITION opt_parts_r FOR VALUES IN ('r');
SELECT basemodel.register('opt_parts', id_column => NULL, created_column => NULL,
                          ignore_columns => '{seen}', skip_unchanged => true);
INSERT INTO opt_parts (k, zone, a, seen) VALUES (1, 'r', 1, 0);
CALL stamp_old('opt_parts');
UPDATE opt_parts SET seen = seen + 1 RETURNING 'seen changed' AS "update", updated_at = now() AS bumped;
UPDATE opt_parts SET a = a RETURNING 'a same', updated_at = now();
UPDATE opt_parts SET a = a + 1 RETURNING 'a changed', updated_at = now();
CALL stamp_old('opt_parts');
UPDATE opt_parts_r SET a = a + 1 RETURNING 'a changed, on the partition', updated_at = now();
CALL stamp_old('opt_parts');
INSERT INTO opt_parts AS p (k, zone, a, seen) VALUES (1, 'r', 2, 5)
    ON CONFLICT (k, zone) DO UPDATE SET seen = excluded.seen
    RETURNING 'seen changed, ON CONFLICT' AS "update", updated_at = now() AS bumped;
INSERT INTO opt_parts AS p (k, zone, a, seen) VALUES (1, 'r', 10, 5)
    ON CONFLICT (k, zone) DO UPDATE SET a = excluded.a
    RETURNING 'a changed, ON CONFLICT', updated_at = now();

DROP TABLE opt_ign, opt_skip, opt_both, opt_gen, opt_parts;
DROP FUNCTION fill_note(), bump_a(), pass();
DROP PROCEDURE stamp_old(regclass);
