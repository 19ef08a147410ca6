-- CREATE EXTENSION puts everything into the schema basemodel, and DROP
-- EXTENSION takes all of it away again.
SELECT extname, extversion, extnamespace::regnamespace AS pinned_to
  FROM pg_extension WHERE extname = 'basemodel';

SELECT basemodel.tablename('User');

-- every object of the extension lives in the schema basemodel
SELECT count(*) AS objects_outside_schema
  FROM pg_depend d
  JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'basemodel')
   AND p.pronamespace <> 'basemodel'::regnamespace;

DROP EXTENSION basemodel;
SELECT count(*) AS schemas_left FROM pg_namespace WHERE nspname = 'basemodel';
SELECT count(*) AS functions_left FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'basemodel';

CREATE EXTENSION basemodel;
SELECT extversion FROM pg_extension WHERE extname = 'basemodel';
