-- basemodel covers the partitions of a registered table but not inheritance
-- children: rows of a child updated through its parent would keep their
-- updated_at and accept a changed created_at.  So a registered table takes
-- no part in inheritance: register refuses parents and children, and
-- CREATE TABLE ... INHERITS and ALTER TABLE ... INHERIT refuse registered
-- tables.
\set SHOW_CONTEXT never
\set VERBOSITY default
CREATE TABLE animals (name text);
CREATE TABLE cats (lives int) INHERITS (animals);
SELECT basemodel.register('animals');
\echo :LAST_ERROR_SQLSTATE
SELECT basemodel.register('cats');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS registered FROM basemodel.models;

CREATE TABLE pets (name text);
SELECT basemodel.register('pets');
CREATE TABLE dogs (tricks int) INHERITS (pets);
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE birds (name text, id bigint NOT NULL, created_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL);
ALTER TABLE birds INHERIT pets;
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE creatures (name text);
ALTER TABLE pets INHERIT creatures;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS inheritance_links FROM pg_inherits;

-- partitions are still covered
CREATE TABLE visits (day int) PARTITION BY RANGE (day);
CREATE TABLE visits_1 PARTITION OF visits FOR VALUES FROM (1) TO (10);
SELECT basemodel.register('visits');
CREATE TABLE visits_2 PARTITION OF visits FOR VALUES FROM (10) TO (20);
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'visits'::regclass;

DROP TABLE animals, cats, pets, birds, creatures, visits;
