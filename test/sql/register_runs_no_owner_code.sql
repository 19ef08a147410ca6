-- register never queries the table it registers: a query would run code of
-- the table's owner with the caller's rights.  Here a row level security
-- policy (forced on the owner's role) logs who evaluates it; a member of
-- the owning role registers the table, and nothing runs as that member.
\set SHOW_CONTEXT never
\set VERBOSITY terse
DROP ROLE IF EXISTS basemodel_regress_team;
DROP ROLE IF EXISTS basemodel_regress_mallet;
DROP ROLE IF EXISTS basemodel_regress_admin;
CREATE ROLE basemodel_regress_team;
CREATE ROLE basemodel_regress_mallet IN ROLE basemodel_regress_team;
CREATE ROLE basemodel_regress_admin IN ROLE basemodel_regress_team;
CREATE SCHEMA team AUTHORIZATION basemodel_regress_team;

SET ROLE basemodel_regress_mallet;
CREATE TABLE team.evaluated_by (who name);
GRANT INSERT ON team.evaluated_by TO PUBLIC;
CREATE FUNCTION team.spy() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO team.evaluated_by VALUES (current_user);
    RETURN true;
END $$;
CREATE TABLE team.items (v int);
INSERT INTO team.items VALUES (1);
ALTER TABLE team.items OWNER TO basemodel_regress_team;
RESET ROLE;
SET ROLE basemodel_regress_team;
CREATE POLICY spy ON team.items USING (team.spy());
ALTER TABLE team.items ENABLE ROW LEVEL SECURITY;
ALTER TABLE team.items FORCE ROW LEVEL SECURITY;
RESET ROLE;

SET ROLE basemodel_regress_admin;
SELECT basemodel.register('team.items');
RESET ROLE;
SELECT who FROM team.evaluated_by;
SELECT id, v FROM team.items;

DROP SCHEMA team CASCADE;
DROP ROLE basemodel_regress_mallet;
DROP ROLE basemodel_regress_admin;
DROP ROLE basemodel_regress_team;
