-- DDL on registered tables: DROP TABLE forgets them, dropping a managed
-- column or our trigger fails, renames of tables and columns keep working.
\set SHOW_CONTEXT never
CREATE TABLE shop (name text, price numeric, secret text, views int DEFAULT 0);
SELECT basemodel.register('shop', hidden => '{secret}', ignore_columns => '{views}');
INSERT INTO shop (name, price, secret) VALUES ('pen', 1.5, 's');

-- dropping a managed column, or the trigger, fails and names basemodel.unregister
ALTER TABLE shop DROP COLUMN created_at;
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE shop DROP COLUMN id CASCADE;
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER zzz_basemodel_update ON shop;
\echo :LAST_ERROR_SQLSTATE
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
