-- basemodel 0.1: the install script.
\echo Use "CREATE EXTENSION basemodel" to load this file. \quit

-- Everything lives in the schema basemodel, which belongs to the extension so
-- that DROP EXTENSION removes it; the control file names pg_catalog only to
-- pin the extension itself.  Every object below is schema-qualified.
CREATE SCHEMA basemodel;
GRANT USAGE ON SCHEMA basemodel TO PUBLIC;
COMMENT ON SCHEMA basemodel IS 'objects of the basemodel extension';

-- the __tablename__ rule of the Python models basemodel replaces
CREATE FUNCTION basemodel.tablename(class_name text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN lower(class_name) || 's';

COMMENT ON FUNCTION basemodel.tablename(text) IS
    'table name for a model class: lower case plus "s" (''User'' -> ''users'')';
