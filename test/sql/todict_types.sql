-- to_dict equals to_jsonb for the types todict.sql does not cover: ranges
-- and multiranges (built-in and user-defined), domains over composites,
-- arrays and jsonb, arrays of domains and of enums, money, bit strings, and
-- rows read through a partitioned parent or one of its partitions.
\set SHOW_CONTEXT never
SET timezone = 'UTC';

CREATE TYPE floatrange AS RANGE (subtype = float8);
CREATE TYPE hue AS ENUM ('red', 'green');
CREATE TYPE point2 AS (x int, y int);
CREATE DOMAIN checked_point AS point2 CHECK ((VALUE).x >= 0);
CREATE DOMAIN doc AS jsonb;
CREATE DOMAIN small AS int CHECK (VALUE < 100);
CREATE DOMAIN smalls AS int[];
CREATE TABLE more_kinds (
    r int4range, tr tstzrange, mr int4multirange, fr floatrange, rs int4range[],
    cp checked_point, cps checked_point[], dj doc, sm small[], sms smalls, hs hue[],
    mo money, bits bit varying, xm xml, ch "char", oi oid, rc regclass
);
INSERT INTO more_kinds VALUES
    ('[1,5)', '[2024-01-01,infinity)', '{[1,2),[5,9)}', '(1.5,2.5]', '{"[1,2)",empty}',
     ROW(1, 2), ARRAY[ROW(3, 4)::checked_point], '{"k": [1, {"n": null}]}', '{1,NULL}',
     '{7,8}', '{green,red}', 12.5, B'1011', '<a>x</a>', 'c', 42, 'more_kinds'),
    ('empty', NULL, '{}', 'empty', '{}', NULL, '{}', '"s"', '{}', NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL);
SELECT count(*) AS rows, count(*) FILTER (WHERE basemodel.to_dict(k) = to_jsonb(k)) AS equal,
       count(*) FILTER (WHERE basemodel.to_dict(k)::text = to_jsonb(k)::text) AS equal_text
  FROM more_kinds k;
SELECT key, d.value AS to_dict, j.value AS to_jsonb
  FROM more_kinds k, jsonb_each(basemodel.to_dict(k)) d FULL JOIN jsonb_each(to_jsonb(k)) j USING (key)
 WHERE d.value IS DISTINCT FROM j.value;

-- the same rows, registered with hidden columns, through a partitioned
-- parent (the parent's row type) and through a partition (its own row type,
-- with another column order), and through a subquery (an anonymous record)
CREATE TABLE readings (zone text, secret text, v numeric) PARTITION BY LIST (zone);
CREATE TABLE readings_a PARTITION OF readings FOR VALUES IN ('a');
CREATE TABLE readings_b (v numeric, secret text, zone text);
ALTER TABLE readings ATTACH PARTITION readings_b FOR VALUES IN ('b');
SELECT basemodel.register('readings', id_column => NULL, hidden => '{secret}');
INSERT INTO readings (zone, secret, v) VALUES ('a', 's', 'NaN'), ('b', 't', '-Infinity');
SELECT tableoid::regclass, basemodel.to_dict(r) - 'created_at' - 'updated_at' AS dict,
       basemodel.to_dict(r) = to_jsonb(r) - 'secret' AS equal
  FROM readings r ORDER BY zone;
SELECT basemodel.to_dict(b) - 'created_at' - 'updated_at' AS dict,
       basemodel.to_dict(b) = to_jsonb(b) - 'secret' AS equal
  FROM readings_b b;
SELECT basemodel.to_dict(x) = to_jsonb(x) AS record_equal, basemodel.to_dict(x) ? 'secret' AS shows
  FROM (SELECT zone, secret FROM readings_a) x;

DROP TABLE more_kinds, readings;
DROP DOMAIN checked_point, doc, small, smalls;
DROP TYPE floatrange, hue, point2;
RESET timezone;
