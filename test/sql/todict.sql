-- to_dict(row) equals to_jsonb(row) for any row, minus the hidden columns of
-- a registered table and the excluded ones.
\set SHOW_CONTEXT never
SET timezone = 'Europe/Berlin';

CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE DOMAIN label AS text;
CREATE TABLE kinds (
    i2 smallint, i4 int, i8 bigint, num numeric, num_scaled numeric(10, 3),
    f4 real, f8 double precision, b bool, t text, vc varchar(10), bp char(5), nm name,
    js json, jb jsonb, jb_scalar jsonb, ts timestamp, tstz timestamptz, d date,
    tm time, iv interval, u uuid, by bytea, ip inet,
    ints int[], texts text[], matrix int[][], nums numeric[], stamps timestamptz[],
    jbs jsonb[], pairs pair[], p pair, m mood, pos positive, lbl label, "Ünïcödé ключ" text
);
INSERT INTO kinds VALUES
    (1, -2, 9007199254740993, 123.4500, 1.5, 1.5, 0.1, true, 'text "quoted" \ back', 'vc', 'bp',
     'nm', '{"b": 1, "a": [1, 2]}', '{"z": {"y": null}, "a": 1}', '"scalar"',
     '2024-02-29 12:34:56.789', '2024-02-29 12:34:56.789+00', '2024-02-29',
     '12:34:56', '1 day 2 hours', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00ff', '192.168.0.1/24',
     '{1,NULL,3}', '{"a",NULL,"c d"}', '{{1,2},{3,4}}', '{1.10,NaN}', '{"2024-01-01 00:00+00"}',
     '{"{\"k\": 1}", "2"}', ARRAY[ROW(1, 'x')::pair], ROW(2, 'y'), 'happy', 5, 'lbl', 'ü'),
    (NULL, NULL, NULL, 'NaN', NULL, 'Infinity', '-Infinity', false, '', NULL, NULL,
     NULL, 'null', 'null', '1', 'infinity', '-infinity', 'infinity',
     NULL, NULL, NULL, NULL, NULL,
     '{}', '{}', NULL, '{Infinity}', NULL, NULL, NULL, ROW(NULL, NULL), NULL, NULL, NULL, NULL),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- an unregistered table: equal to to_jsonb, as jsonb and as text
SELECT count(*) AS rows, count(*) FILTER (WHERE basemodel.to_dict(k) = to_jsonb(k)) AS equal,
       count(*) FILTER (WHERE basemodel.to_dict(k)::text = to_jsonb(k)::text) AS equal_text
  FROM kinds k;
-- column by column, to show what differs if anything does
SELECT key, d.value AS to_dict, j.value AS to_jsonb
  FROM kinds k, jsonb_each(basemodel.to_dict(k)) d FULL JOIN jsonb_each(to_jsonb(k)) j USING (key)
 WHERE d.value IS DISTINCT FROM j.value;
SELECT key, value FROM kinds k, jsonb_each(basemodel.to_dict(k)) WHERE k.i2 = 1 ORDER BY key COLLATE "C";

-- any composite value: anonymous records, composite types, rows of views
SELECT basemodel.to_dict(ROW(1, 'two', NULL, ARRAY[1.5]))
     = to_jsonb(ROW(1, 'two', NULL, ARRAY[1.5])) AS record_equal;
SELECT basemodel.to_dict(ROW(3, 'z')::pair) AS composite;
CREATE VIEW kinds_view AS SELECT i4, t, jb FROM kinds;
SELECT bool_and(basemodel.to_dict(v) = to_jsonb(v)) AS view_rows_equal FROM kinds_view v;
-- duplicate names in a record resolve as in to_jsonb
SELECT basemodel.to_dict(x), basemodel.to_dict(x) = to_jsonb(x) AS equal
  FROM (SELECT 1 AS a, 2 AS a, 3 AS "B", 4 AS bb, 5 AS "Ä") x;
-- row types of different shapes through one call site
SELECT basemodel.to_dict(x) FROM (VALUES (ROW(1, 2)), (ROW(3, 4))) s(x);
SELECT basemodel.to_dict(CASE WHEN g = 1 THEN ROW(1)::record ELSE ROW('a', 'b')::record END)
  FROM generate_series(1, 2) g;

-- a registered table: hidden columns are left out
CREATE TABLE members (name text, password_hash text, token text, karma int);
SELECT basemodel.register('members', hidden => '{password_hash, token}');
INSERT INTO members (name, password_hash, token, karma) VALUES ('ann', 'x', 'y', 3);
SELECT basemodel.to_dict(m) = to_jsonb(m) - 'password_hash' - 'token' AS equal_minus_hidden,
       basemodel.to_dict(m) ? 'password_hash' AS shows_hidden
  FROM members m;
SELECT basemodel.to_dict(m) - 'created_at' - 'updated_at' AS dict FROM members m;
-- exclude leaves out more; unknown names and NULL elements are ignored
SELECT basemodel.to_dict(m, '{karma, nosuch, NULL}') - 'created_at' - 'updated_at' AS dict FROM members m;
SELECT basemodel.to_dict(m, '{}') = basemodel.to_dict(m) AS empty_exclude FROM members m;
-- a different exclude list per row at one call site
SELECT basemodel.to_dict(m, ARRAY[c]) - 'created_at' - 'updated_at' AS dict
  FROM members m, (VALUES ('name'), ('karma'), ('id')) x(c);
-- to_dict is strict
SELECT basemodel.to_dict(NULL::members) IS NULL AS null_row,
       basemodel.to_dict(m, NULL) IS NULL AS null_exclude FROM members m;
-- hidden columns that change follow at once
SELECT basemodel.register('members', hidden => '{password_hash}');
SELECT basemodel.to_dict(m) ? 'token' AS token_shown FROM members m;
-- a dropped column never shows
ALTER TABLE members DROP COLUMN token;
SELECT basemodel.to_dict(m) = to_jsonb(m) - 'password_hash' AS equal_after_drop FROM members m;

DROP VIEW kinds_view;
DROP TABLE kinds, members;
DROP TYPE mood, pair;
DROP DOMAIN positive, label;
RESET timezone;

-- to_dict is parallel safe: workers read the registration too
CREATE TABLE many (v int, secret text);
SELECT basemodel.register('many', hidden => '{secret}');
INSERT INTO many (v, secret) SELECT g, 's' FROM generate_series(1, 2000) g;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT count(*), bool_and(basemodel.to_dict(m) = to_jsonb(m) - 'secret') AS equal FROM many m;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE many;
