-- to_dict's per-call-site cache follows registration changes and row type
-- changes that happen while the call site lives: later in the same query,
-- or later in the same transaction through a PL/pgSQL expression.
\set SHOW_CONTEXT never

CREATE TABLE accounts (name text, secret text);
INSERT INTO accounts VALUES ('ann', 's3cr3t');
SELECT basemodel.register('accounts');
CREATE FUNCTION hide_secret() RETURNS int LANGUAGE sql
    AS $$ SELECT basemodel.register('accounts', hidden => '{secret}'); SELECT 1 $$;

-- the registration changes at the second row of one query (no ORDER BY:
-- a sort would run to_dict on every row before hide_secret)
SELECT i, CASE WHEN i = 2 THEN hide_secret() END AS hid,
       basemodel.to_dict(a) ? 'secret' AS shows_secret
  FROM accounts a, generate_series(1, 3) i;

-- a PL/pgSQL expression keeps its call site for the whole transaction
SELECT basemodel.register('accounts', hidden => '{}');
CREATE FUNCTION show_account(r accounts) RETURNS jsonb LANGUAGE plpgsql
    AS $$ BEGIN RETURN basemodel.to_dict(r); END $$;
BEGIN;
SELECT show_account(a) ? 'secret' AS shows_secret FROM accounts a;
SELECT basemodel.register('accounts', hidden => '{secret}');
SELECT show_account(a) ? 'secret' AS shows_secret FROM accounts a;
SELECT basemodel.unregister('accounts');
SELECT show_account(a) ? 'secret' AS shows_secret FROM accounts a;
COMMIT;

-- the row type changes in the same transaction
CREATE TABLE shapes (a int, b int);
INSERT INTO shapes VALUES (1, 2);
CREATE FUNCTION show_shape(r shapes) RETURNS jsonb LANGUAGE plpgsql
    AS $$ BEGIN RETURN basemodel.to_dict(r); END $$;
BEGIN;
SELECT show_shape(s), show_shape(s) = to_jsonb(s) AS equal FROM shapes s;
ALTER TABLE shapes ALTER COLUMN b TYPE text USING repeat('z', b);
SELECT show_shape(s), show_shape(s) = to_jsonb(s) AS equal FROM shapes s;
ALTER TABLE shapes DROP COLUMN a, ADD COLUMN c numeric DEFAULT 'NaN';
SELECT show_shape(s), show_shape(s) = to_jsonb(s) AS equal FROM shapes s;
COMMIT;

-- anonymous record types that alternate at one call site, row after row
CREATE FUNCTION some_row(i int) RETURNS record LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    IF i % 2 = 0 THEN SELECT i AS n, 'even' AS kind INTO r;
    ELSE SELECT i::text AS label, i > 2 AS big, ARRAY[i] AS list INTO r; END IF;
    RETURN r;
END $$;
SELECT count(*) AS rows, bool_and(basemodel.to_dict(some_row(i)) = to_jsonb(some_row(i))) AS equal
  FROM generate_series(1, 1000) i;

-- DDL on the same table, at a call site that lives through it: renaming a
-- hidden column keeps it hidden under its new name, and DDL on another
-- table in between changes nothing
CREATE TABLE people (name text, pin text, note text);
INSERT INTO people VALUES ('bo', '1234', 'hi');
SELECT basemodel.register('people', hidden => '{pin}');
CREATE TABLE unrelated (x int);
CREATE FUNCTION show_person(r people) RETURNS jsonb LANGUAGE plpgsql
    AS $$ BEGIN RETURN basemodel.to_dict(r); END $$;
BEGIN;
SELECT show_person(p) - '{created_at,updated_at}'::text[] AS person FROM people p;
ALTER TABLE unrelated ADD COLUMN y int;
SELECT show_person(p) - '{created_at,updated_at}'::text[] AS person FROM people p;
ALTER TABLE people RENAME COLUMN pin TO code;
SELECT show_person(p) - '{created_at,updated_at}'::text[] AS person FROM people p;
SELECT basemodel.register('people', hidden => '{note}');
SELECT show_person(p) - '{created_at,updated_at}'::text[] AS person FROM people p;
ALTER TABLE unrelated DROP COLUMN y;
ALTER TABLE people DROP COLUMN note;
SELECT show_person(p) - '{created_at,updated_at}'::text[] AS person FROM people p;
COMMIT;

-- a composite type (no registration) that changes under a call site
CREATE TYPE pair AS (a int, b text);
CREATE FUNCTION show_pair(r pair) RETURNS jsonb LANGUAGE plpgsql
    AS $$ BEGIN RETURN basemodel.to_dict(r); END $$;
BEGIN;
SELECT show_pair(ROW(1, 'x')::pair);
ALTER TYPE pair ADD ATTRIBUTE c boolean;
SELECT show_pair(ROW(1, 'x', true)::pair);
ALTER TYPE pair RENAME ATTRIBUTE a TO first;
SELECT show_pair(ROW(1, 'x', true)::pair);
COMMIT;

DROP FUNCTION hide_secret(), show_account(accounts), show_shape(shapes), some_row(int),
    show_person(people), show_pair(pair);
DROP TABLE accounts, shapes, people, unrelated;
DROP TYPE pair;
