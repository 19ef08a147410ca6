-- DDL on registered tables: DROP TABLE forgets them, dropping a managed
-- column fails, dropping our trigger unregisters, renames of tables and
-- columns keep working.
\set SHOW_CONTEXT never
CREATE TABLE shop (name text, price numeric, secret text, views int DEFAULT 0);
SELECT basemodel.register('shop', hidden => '{secret}', ignore_columns => '{views}');
INSERT INTO shop (name, price, secret) VALUES ('pen', 1.5, 's');

-- dropping a managed column fails and names basemodel.unregister
ALTER TABLE shop DROP COLUMN created_at;
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE shop DROP COLUMN id CASCADE;
\echo :LAST_ERROR_SQLSTATE
-- the trigger is the registration: dropping it unregisters the table (as
-- pg_restore --clean does), and the columns stay
BEGIN;
DROP TRIGGER zzz_basemodel_update ON shop;
SELECT count(*) AS registrations FROM basemodel.registry WHERE tbl = 'shop'::regclass;
UPDATE shop SET created_at = '2000-01-01' RETURNING created_at = '2000-01-01' AS changed;
ROLLBACK;
-- dropping another column is fine, also a hidden or ignored one
ALTER TABLE shop DROP COLUMN secret;
SELECT hidden, ignore_columns FROM basemodel.models WHERE model = 'shop'::regclass;

-- renaming the table and the managed columns keeps everything working
ALTER TABLE shop RENAME TO "Shop Ñ";
ALTER TABLE "Shop Ñ" RENAME COLUMN updated_at TO "Modified At";
ALTER TABLE "Shop Ñ" RENAME COLUMN created_at TO born;
ALTER TABLE "Shop Ñ" RENAME COLUMN id TO shop_id;
ALTER TABLE "Shop Ñ" RENAME COLUMN views TO hits;
SELECT model, id_column, created_column, updated_column, ignore_columns, added_columns
  FROM basemodel.models;
UPDATE "Shop Ñ" SET price = 2 RETURNING "Modified At" = now() AS bumped;
BEGIN;
UPDATE "Shop Ñ" SET hits = hits + 1 RETURNING "Modified At" = now() AS bumped;
ROLLBACK;
UPDATE "Shop Ñ" SET born = now() - interval '1 day';
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE "Shop Ñ" DROP COLUMN "Modified At";
\echo :LAST_ERROR_SQLSTATE
-- a managed timestamp column must stay a timestamp; timestamp without time zone is fine
ALTER TABLE "Shop Ñ" ALTER COLUMN "Modified At" TYPE text;
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE "Shop Ñ" ALTER COLUMN born TYPE timestamp;
UPDATE "Shop Ñ" SET price = 2.5 RETURNING "Modified At" = now() AS bumped;
-- moving it to another schema too
CREATE SCHEMA other;
ALTER TABLE "Shop Ñ" SET SCHEMA other;
UPDATE other."Shop Ñ" SET price = 3 RETURNING "Modified At" = now() AS bumped;
SELECT schema_name, table_name FROM basemodel.models;
-- unregister after the renames drops the right columns
SELECT basemodel.unregister('other."Shop Ñ"', drop_columns => true);
SELECT attname FROM pg_attribute WHERE attrelid = 'other."Shop Ñ"'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;

-- DROP TABLE forgets the registration, also with the schema
SELECT basemodel.register('other."Shop Ñ"');
CREATE TABLE gone (v int);
SELECT basemodel.register('gone');
SELECT count(*) AS registrations FROM basemodel.registry;
DROP TABLE gone;
SELECT count(*) AS registrations FROM basemodel.registry;
DROP SCHEMA other CASCADE;
SELECT count(*) AS registrations FROM basemodel.registry;
-- a table created again under the old name is not registered
CREATE TABLE gone (v int);
SELECT count(*) AS registrations FROM basemodel.registry;
DROP TABLE gone;

-- a rename through a parent reaches a child registered on its own (a
-- partition of an unregistered table; inheritance children cannot be
-- registered, see inheritance_refused)
CREATE TABLE rooms (wing text, updated_at timestamptz NOT NULL DEFAULT now(),
                    created_at timestamptz NOT NULL DEFAULT now()) PARTITION BY LIST (wing);
CREATE TABLE rooms_west PARTITION OF rooms FOR VALUES IN ('west');
SELECT basemodel.register('rooms_west', id_column => NULL);
ALTER TABLE rooms RENAME COLUMN updated_at TO touched_at;
SELECT updated_column FROM basemodel.models WHERE model = 'rooms_west'::regclass;
INSERT INTO rooms VALUES ('west');
UPDATE rooms SET wing = 'west' RETURNING touched_at = now() AS bumped;
-- and a type change through the parent is refused as on the table itself
ALTER TABLE rooms ALTER COLUMN touched_at TYPE text;
\echo :LAST_ERROR_SQLSTATE
DROP TABLE rooms;

-- renaming our trigger is refused: basemodel finds it by name
CREATE TABLE named (v int);
SELECT basemodel.register('named');
ALTER TRIGGER zzz_basemodel_update ON named RENAME TO mine;
\echo :LAST_ERROR_SQLSTATE
SELECT tgname FROM pg_trigger WHERE tgrelid = 'named'::regclass;
DROP TABLE named;

-- a table attached as a partition of a registered table gets the defaults
-- of the managed columns, so an INSERT into the partition itself fills them
CREATE TABLE readings (day int, v int) PARTITION BY RANGE (day);
SELECT basemodel.register('readings');
CREATE TABLE readings_1 (day int, v int, id bigint NOT NULL,
                         created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
ALTER TABLE readings ATTACH PARTITION readings_1 FOR VALUES FROM (1) TO (10);
SELECT attname, pg_get_expr(d.adbin, d.adrelid) AS default_value
  FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
 WHERE d.adrelid = 'readings_1'::regclass ORDER BY a.attnum;
INSERT INTO readings_1 (day, v) VALUES (1, 1) RETURNING id > 0 AS has_id, created_at = now() AS stamped;
INSERT INTO readings (day, v) VALUES (2, 2) RETURNING id > 0 AS has_id, created_at = now() AS stamped;
DROP TABLE readings;
