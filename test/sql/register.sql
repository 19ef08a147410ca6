-- register adds the missing base columns, adopts existing ones, follows a
-- mapping, and unregister takes it all back.
\set SHOW_CONTEXT never

-- a table with none of the base columns, and rows in it
CREATE TABLE notes (body text);
INSERT INTO notes VALUES ('first'), ('second');
SELECT basemodel.register('notes');
SELECT attname, format_type(atttypid, atttypmod), attnotnull, attidentity
  FROM pg_attribute WHERE attrelid = 'notes'::regclass AND attnum > 0 ORDER BY attnum;
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'notes'::regclass;
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'notes'::regclass;
-- users rely on the trigger's name (README), which the SQL takes from the C constant
SELECT basemodel.trigger_name();
-- existing rows got ids and timestamps
SELECT id, body, created_at IS NOT NULL AS has_created, updated_at = created_at AS same
  FROM notes ORDER BY id;
INSERT INTO notes (body) VALUES ('third') RETURNING id, created_at = now() AS created_now;

-- adding only the timestamps does not rewrite the table (a stable default is stored once)
CREATE TABLE events (id bigint PRIMARY KEY, kind text);
INSERT INTO events SELECT g, 'k' FROM generate_series(1, 1000) g;
SELECT pg_relation_filenode('events') AS before_filenode \gset
SELECT basemodel.register('events');
SELECT pg_relation_filenode('events') = :before_filenode AS not_rewritten;
SELECT count(*) FILTER (WHERE created_at IS NULL OR updated_at IS NULL) AS null_timestamps FROM events;

-- adoption: an existing id of another type (unique and not null), and timestamps
CREATE TABLE accounts (
    id uuid NOT NULL UNIQUE,
    name text,
    created_at timestamp,
    updated_at timestamptz NOT NULL DEFAULT now()
);
SELECT pg_relation_filenode('accounts') AS before_filenode \gset
SELECT basemodel.register('accounts');
SELECT pg_relation_filenode('accounts') = :before_filenode AS not_rewritten;
-- nothing added; the adopted created_at got a default
SELECT attname, format_type(atttypid, atttypmod), pg_get_expr(d.adbin, d.adrelid) AS default
  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE attrelid = 'accounts'::regclass AND attnum > 0 ORDER BY attnum;
SELECT model, id_column, created_column, updated_column, added_columns
  FROM basemodel.models WHERE model = 'accounts'::regclass;

-- the mapping adopts columns with other names; NULL means no such column
CREATE TABLE users (user_id int PRIMARY KEY, name text, last_update timestamptz);
SELECT basemodel.register('users', id_column => 'user_id', created_column => NULL,
                          updated_column => 'last_update', hidden => '{name}',
                          ignore_columns => '{name}', skip_unchanged => true);
SELECT attname FROM pg_attribute WHERE attrelid = 'users'::regclass AND attnum > 0 ORDER BY attnum;
SELECT id_column, created_column, updated_column, hidden, ignore_columns, skip_unchanged, added_columns
  FROM basemodel.models WHERE model = 'users'::regclass;

-- a mapping to a missing column adds it under that name
CREATE TABLE posts (title text);
SELECT basemodel.register('posts', id_column => 'post_id', created_column => 'born', updated_column => 'touched');
SELECT attname FROM pg_attribute WHERE attrelid = 'posts'::regclass AND attnum > 0 ORDER BY attnum;

-- a table that already has another primary key gets a unique id
CREATE TABLE tags (tag text PRIMARY KEY);
SELECT basemodel.register('tags');
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'tags'::regclass ORDER BY 1;

-- registering again with the same options is a no-op
SELECT xmin AS before_xmin FROM pg_trigger
 WHERE tgrelid = 'users'::regclass AND tgname = 'zzz_basemodel_update' \gset
SELECT basemodel.register('users', id_column => 'user_id', created_column => NULL,
                          updated_column => 'last_update', hidden => '{name}',
                          ignore_columns => '{name}', skip_unchanged => true);
SELECT xmin = :'before_xmin'::xid AS untouched FROM pg_trigger
 WHERE tgrelid = 'users'::regclass AND tgname = 'zzz_basemodel_update';
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'users'::regclass;
-- with different options it updates the registration
SELECT basemodel.register('users', id_column => 'user_id', created_column => NULL,
                          updated_column => 'last_update');
SELECT hidden, ignore_columns, skip_unchanged FROM basemodel.models WHERE model = 'users'::regclass;

-- unregister removes the trigger and the catalog row, and keeps the columns
SELECT basemodel.unregister('events');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'events'::regclass;
SELECT count(*) AS rows FROM basemodel.models WHERE model = 'events'::regclass;
SELECT count(*) AS columns FROM pg_attribute WHERE attrelid = 'events'::regclass AND attnum > 0;
-- drop_columns drops only what register added
SELECT basemodel.unregister('notes', drop_columns => true);
SELECT attname FROM pg_attribute WHERE attrelid = 'notes'::regclass AND attnum > 0 AND NOT attisdropped;
SELECT basemodel.unregister('accounts', drop_columns => true);
SELECT attname FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attnum > 0 AND NOT attisdropped;
-- a table can be registered again afterwards
SELECT basemodel.register('notes');
SELECT count(*) AS ids FROM notes WHERE id IS NOT NULL;
SELECT basemodel.unregister('notes');
SELECT basemodel.unregister('notes');
\echo :LAST_ERROR_SQLSTATE

-- odd identifiers: spaces, quotes, upper case, Unicode
CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema"."Odd ""Table"" ñ" ("Value" int, "naïve col" text);
INSERT INTO "My Schema"."Odd ""Table"" ñ" VALUES (1, 'x');
SELECT basemodel.register('"My Schema"."Odd ""Table"" ñ"', id_column => 'Ident ""x""',
                          created_column => 'Créé', updated_column => 'UPDATED at',
                          hidden => '{naïve col}', ignore_columns => '{Value}');
SELECT attname FROM pg_attribute WHERE attrelid = '"My Schema"."Odd ""Table"" ñ"'::regclass AND attnum > 0 ORDER BY attnum;
SELECT schema_name, table_name, model FROM basemodel.models WHERE schema_name = 'My Schema';
SELECT basemodel.to_dict(t) - 'Créé' - 'UPDATED at' AS dict FROM "My Schema"."Odd ""Table"" ñ" t;
UPDATE "My Schema"."Odd ""Table"" ñ" SET "naïve col" = 'y' RETURNING "UPDATED at" = now() AS bumped;
SELECT basemodel.unregister('"My Schema"."Odd ""Table"" ñ"', true);
SELECT attname FROM pg_attribute WHERE attrelid = '"My Schema"."Odd ""Table"" ñ"'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;

DROP SCHEMA "My Schema" CASCADE;
DROP TABLE notes, events, accounts, users, posts, tags;
SELECT count(*) AS registrations_left FROM basemodel.registry;
