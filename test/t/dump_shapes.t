#!/usr/bin/perl
# Every way people dump and restore brings back working tables: the trigger
# is the registration, so any dump that holds a table holds its registration.
# For each shape (whole database plain and custom, -n with and without
# --extension, --schema-only on either side, -t, and pg_restore --clean
# --if-exists with --single-transaction or --exit-on-error over a database
# with registered tables) the restored tables bump updated_at, guard
# created_at and hide their hidden columns; a trigger disabled when the dump
# is taken comes back disabled.  Runs against the server named
# by the PG* environment variables, in scratch databases it drops.
use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;

my $src = "basemodel_shapes_src_$$";
my $dir = tempdir(CLEANUP => 1);
my @dbs = ($src);

# Run SQL in a database; return its output (unaligned, tuples only), die on error.
sub psql
{
	my ($db, $sql) = @_;
	open(my $fh, '-|', 'psql', '-X', '-qAt', '-v', 'ON_ERROR_STOP=1', '-d', $db, '-c', $sql)
	  or die "cannot run psql: $!";
	local $/;
	my $out = <$fh>;
	close($fh) or die "psql failed in $db: $sql\n";
	$out =~ s/^\s+|\s+$//g;
	return $out;
}

# Run SQL; return its output, or its error text when it fails.
sub try_psql
{
	my ($db, $sql) = @_;
	my $pid = open(my $fh, '-|');
	defined $pid or die "cannot fork: $!";
	if ($pid == 0)
	{
		open(STDERR, '>&', \*STDOUT);
		exec('psql', '-X', '-qAt', '-v', 'ON_ERROR_STOP=1', '-d', $db, '-c', $sql);
	}
	local $/;
	my $out = <$fh>;
	my $ok = close($fh);
	$out =~ s/^\s+|\s+$//g;
	return ($out, $ok);
}

# Run SQL that must fail; return the error text ('' when it succeeded).
sub psql_error
{
	my ($out, $ok) = try_psql(@_);
	return $ok ? '' : $out;
}

# Run SQL in a database; return its output, or its error text (the test fails, the script goes on).
sub query
{
	my ($out) = try_psql(@_);
	return $out;
}

# Run a command quietly; whether it exited 0 (its output goes to the TAP log when not).
sub run
{
	my $out = `@_ 2>&1`;
	diag("$_[0] said:\n$out") if $? != 0;
	return $? == 0;
}

# A fresh database, optionally with the extension created first.
sub fresh
{
	my ($name, $with_extension) = @_;
	my $db = "basemodel_shapes_${name}_$$";
	push @dbs, $db;
	system('createdb', $db) == 0 or BAIL_OUT("cannot create database $db");
	psql($db, 'CREATE EXTENSION basemodel') if $with_extension;
	return $db;
}

my $role = "basemodel_shapes_owner_$$";

END
{
	local $?;
	system('dropdb', '--if-exists', $_) for @dbs;
	system('psql', '-X', '-q', '-d', 'postgres', '-c', "DROP ROLE IF EXISTS $role");
}

system('createdb', $src) == 0 or BAIL_OUT("cannot create database $src");
psql($src, q{
	SET client_min_messages = warning;
	CREATE EXTENSION basemodel;
	CREATE SCHEMA app;
	CREATE TABLE app.users (junk int, name text, password_hash text);
	ALTER TABLE app.users DROP COLUMN junk;
	INSERT INTO app.users (name, password_hash) VALUES ('ann', 'h');
	SELECT basemodel.register('app.users', hidden => '{password_hash}');
	ALTER TABLE app.users RENAME COLUMN updated_at TO "Modified At";
	CREATE TABLE app.events (k int, v int) PARTITION BY LIST (k);
	CREATE TABLE app.events_1 PARTITION OF app.events FOR VALUES IN (1);
	INSERT INTO app.events (k, v) VALUES (1, 1);
	SELECT basemodel.register('app.events');
	SELECT basemodel.auto_register('app');
	-- a registered table outside the schema that -n app dumps
	CREATE TABLE public.elsewhere (v int);
	SELECT basemodel.register('public.elsewhere');
	INSERT INTO public.elsewhere VALUES (1);
});

my $whole_plain = "$dir/whole.sql";
my $whole_custom = "$dir/whole.dump";
my $app_plain = "$dir/app.sql";
my $app_custom = "$dir/app.dump";
my $app_ext_plain = "$dir/app_ext.sql";
my $app_ext_custom = "$dir/app_ext.dump";
my $schema_only = "$dir/schema.sql";
my $table_only = "$dir/table.sql";
ok(run("pg_dump -Fp -f $whole_plain $src"), 'pg_dump of the whole database (plain)');
ok(run("pg_dump -Fc -f $whole_custom $src"), 'pg_dump of the whole database (custom)');
ok(run("pg_dump -n app -Fp -f $app_plain $src"), 'pg_dump -n app (plain)');
ok(run("pg_dump -n app -Fc -f $app_custom $src"), 'pg_dump -n app (custom)');
ok(run("pg_dump -n app --extension=basemodel -Fp -f $app_ext_plain $src"),
	'pg_dump -n app --extension=basemodel (plain)');
ok(run("pg_dump -n app --extension=basemodel -Fc -f $app_ext_custom $src"),
	'pg_dump -n app --extension=basemodel (custom)');
ok(run("pg_dump --schema-only -Fp -f $schema_only $src"), 'pg_dump --schema-only');
ok(run("pg_dump -t app.users -Fp -f $table_only $src"), 'pg_dump -t app.users');

# The restored app.users works as registered: an UPDATE bumps the renamed
# updated column, created_at cannot change, to_dict hides password_hash; so
# does the partitioned app.events when the dump holds it.  auto_register of
# app comes back when the shape brings extension configuration ($auto).
sub check_restored
{
	my ($db, $shape, %opt) = @_;
	if ($opt{empty})
	{
		query($db, q{INSERT INTO app.users (name, password_hash) VALUES ('ann', 'h')});
		query($db, q{INSERT INTO app.events (k, v) VALUES (1, 1)}) if $opt{events};
	}
	is(query($db, q{UPDATE app.users SET name = 'anne' RETURNING "Modified At" = now()}), 't',
		"$shape: an UPDATE bumps updated_at");
	like(psql_error($db, q{UPDATE app.users SET created_at = now() - interval '1 day'}),
		qr/column "created_at" of relation "users" cannot be changed/,
		"$shape: created_at cannot be changed");
	is(query($db, q{SELECT basemodel.to_dict(u) ? 'password_hash' FROM app.users u}), 'f',
		"$shape: to_dict hides the hidden column");
	if ($opt{events})
	{
		is(query($db, q{UPDATE app.events SET v = v + 1 RETURNING updated_at = now()}), 't',
			"$shape: a partition of a registered table bumps updated_at");
	}
	is(query($db, q{SELECT string_agg(tbl::text, ',' ORDER BY tbl::text) FROM basemodel.registry}),
		$opt{registered}, "$shape: basemodel.registry lists the restored tables");
	is(query($db, q{SELECT coalesce(string_agg(schema_name, ','), '') FROM basemodel.auto_schemas}),
		$opt{auto} ? 'app' : '', "$shape: auto_register " . ($opt{auto} ? 'comes back' : 'stays off'));
}

my $all = 'app.events,app.users,elsewhere';
my $app = 'app.events,app.users';
my $db;

$db = fresh('whole_plain', 0);
ok(run("psql -X -q -v ON_ERROR_STOP=1 -d $db -f $whole_plain"), 'whole plain dump restores');
check_restored($db, 'whole plain', events => 1, registered => $all, auto => 1);

$db = fresh('whole_custom', 0);
ok(run("pg_restore --exit-on-error -d $db $whole_custom"), 'whole custom dump restores');
check_restored($db, 'whole custom', events => 1, registered => $all, auto => 1);

$db = fresh('app_plain', 1);
ok(run("psql -X -q -v ON_ERROR_STOP=1 -d $db -f $app_plain"),
	'-n app (plain) restores into a database with the extension');
check_restored($db, '-n app plain', events => 1, registered => $app);

$db = fresh('app_custom', 1);
ok(run("pg_restore --exit-on-error -d $db $app_custom"),
	'-n app (custom) restores into a database with the extension');
check_restored($db, '-n app custom', events => 1, registered => $app);

$db = fresh('app_ext_plain', 0);
ok(run("psql -X -q -v ON_ERROR_STOP=1 -d $db -f $app_ext_plain"),
	'-n app --extension=basemodel (plain) restores into an empty database');
check_restored($db, '-n app --extension plain', events => 1, registered => $app, auto => 1);

$db = fresh('app_ext_custom', 0);
ok(run("pg_restore --exit-on-error -d $db $app_ext_custom"),
	'-n app --extension=basemodel (custom) restores into an empty database');
check_restored($db, '-n app --extension custom', events => 1, registered => $app, auto => 1);

$db = fresh('schema_only', 0);
ok(run("psql -X -q -v ON_ERROR_STOP=1 -d $db -f $schema_only"), 'pg_dump --schema-only restores');
check_restored($db, 'pg_dump --schema-only', empty => 1, events => 1, registered => $all);

$db = fresh('restore_schema_only', 0);
ok(run("pg_restore --schema-only --exit-on-error -d $db $whole_custom"),
	'pg_restore --schema-only restores');
check_restored($db, 'pg_restore --schema-only', empty => 1, events => 1, registered => $all);

$db = fresh('table_only', 1);
psql($db, 'CREATE SCHEMA app');
ok(run("psql -X -q -v ON_ERROR_STOP=1 -d $db -f $table_only"),
	'-t app.users restores into a database with the extension and the schema');
check_restored($db, '-t app.users', registered => 'app.users');

# a table restored into a schema with auto_register on keeps its own
# registration (auto_register waits while a restore runs), and tables
# created afterwards are registered again
$db = fresh('table_auto', 1);
psql($db, q{CREATE SCHEMA app; SELECT basemodel.auto_register('app')});
ok(run("psql -X -q -v ON_ERROR_STOP=1 -d $db -f $table_only"),
	'-t app.users restores into a schema with auto_register on');
check_restored($db, '-t into an auto-registered schema', registered => 'app.users', auto => 1);
is(query($db, q{CREATE TABLE app.later (v int);
	SELECT count(*) FROM basemodel.registry WHERE tbl = 'app.later'::regclass}), '1',
	'-t into an auto-registered schema: a table created afterwards is registered');

# --clean --if-exists over databases that hold the registered tables already
$db = fresh('clean_1', 0);
ok(run("pg_restore --exit-on-error -d $db $whole_custom"), 'a database to restore over');
ok(run("pg_restore --clean --if-exists --single-transaction -d $db $whole_custom"),
	'pg_restore --clean --if-exists --single-transaction over registered tables');
check_restored($db, '--clean -1', events => 1, registered => $all, auto => 1);
ok(run("pg_restore --clean --if-exists --exit-on-error -d $db $whole_custom"),
	'pg_restore --clean --if-exists --exit-on-error over registered tables');
check_restored($db, '--clean --exit-on-error', events => 1, registered => $all, auto => 1);

$db = fresh('clean_app', 1);
ok(run("pg_restore --exit-on-error -d $db $app_custom"), 'a database with app to restore over');
ok(run("pg_restore --clean --if-exists --single-transaction -d $db $app_custom"),
	'pg_restore --clean --if-exists -1 of -n app over registered tables');
check_restored($db, '--clean -1 of -n app', events => 1, registered => $app);

# pg_restore run by the tables' owner, not a superuser, may create the
# trigger (only owners may), and the restored table works.
psql('postgres', qq{CREATE ROLE $role LOGIN PASSWORD 'owner'});
my $owner_src = fresh('owner_src', 1);
psql($owner_src, qq{CREATE SCHEMA mine AUTHORIZATION $role});
{
	local $ENV{PGUSER} = $role;
	local $ENV{PGPASSWORD} = 'owner';
	psql($owner_src, q{CREATE TABLE mine.notes (body text, secret text);
		SELECT basemodel.register('mine.notes', hidden => '{secret}');
		INSERT INTO mine.notes (body, secret) VALUES ('b', 's')});
	ok(run("pg_dump -n mine -Fc -f $dir/mine.dump $owner_src"), 'the owner dumps its schema');
}
my $owner_dst = fresh('owner_dst', 1);
psql($owner_dst, qq{GRANT CREATE ON DATABASE $owner_dst TO $role});
{
	local $ENV{PGUSER} = $role;
	local $ENV{PGPASSWORD} = 'owner';
	ok(run("pg_restore --exit-on-error -d $owner_dst $dir/mine.dump"),
		'the owner, not a superuser, restores it (creating the trigger)');
	is(query($owner_dst, q{UPDATE mine.notes SET body = 'c' RETURNING updated_at = now()}), 't',
		'owner restore: an UPDATE bumps updated_at');
	is(query($owner_dst, q{SELECT basemodel.to_dict(n) ? 'secret' FROM mine.notes n}), 'f',
		'owner restore: to_dict hides the hidden column');
}

# a table whose trigger is disabled when the dump is taken: pg_dump writes
# ALTER TABLE ... DISABLE TRIGGER, which the restore follows (it is not
# refused), and the restored registration says it is not enabled
my $paused_src = fresh('paused_src', 1);
psql($paused_src, q{CREATE TABLE paused (v int);
	SELECT basemodel.register('paused');
	ALTER TABLE paused DISABLE TRIGGER zzz_basemodel_update});
ok(run("pg_dump -Fp -f $dir/paused.sql $paused_src"), 'pg_dump with a disabled trigger (plain)');
ok(run("pg_dump -Fc -f $dir/paused.dump $paused_src"), 'pg_dump with a disabled trigger (custom)');
for my $shape (['plain', "psql -X -q -v ON_ERROR_STOP=1 -d %s -f $dir/paused.sql"],
	['custom', "pg_restore --exit-on-error -d %s $dir/paused.dump"])
{
	my ($name, $command) = @$shape;
	$db = fresh("paused_$name", 0);
	ok(run(sprintf($command, $db)), "a dump with a disabled trigger ($name) restores");
	is(query($db, q{SELECT tgenabled FROM pg_trigger
		WHERE tgrelid = 'paused'::regclass AND tgname = 'zzz_basemodel_update'}), 'D',
		"disabled trigger ($name): the restored trigger is still disabled");
	is(query($db, q{SELECT tbl || ' ' || enabled FROM basemodel.registry}), 'paused false',
		"disabled trigger ($name): basemodel.registry shows enabled = false");
}

done_testing();
