#!/usr/bin/perl
# pg_dump / pg_restore round trip: registrations, triggers and behaviour of
# basemodel come back intact in a fresh database.  Runs against the server
# named by the PG* environment variables, in scratch databases it drops.
use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use BMTest qw(psql);

my $src = "basemodel_dump_src_$$";
my $dst = "basemodel_dump_dst_$$";
my $dir = tempdir(CLEANUP => 1);
my $dump = "$dir/src.dump";

# Run SQL that must fail; return the error text.
sub psql_error
{
	my ($db, $sql) = @_;
	my $out = `psql -X -qAt -v ON_ERROR_STOP=1 -d $db -c "$sql" 2>&1`;
	return $? == 0 ? '' : $out;
}

END
{
	local $?;
	system('dropdb', '--if-exists', $src);
	system('dropdb', '--if-exists', $dst);
}

system('createdb', $src) == 0 or BAIL_OUT("cannot create database $src");
psql($src, q{
	SET client_min_messages = warning;
	CREATE EXTENSION basemodel;
	-- a dropped column before the base columns: attnums differ after restore
	CREATE TABLE users (junk int, name text, password_hash text, last_seen int);
	ALTER TABLE users DROP COLUMN junk;
	INSERT INTO users (name, password_hash, last_seen) VALUES ('ann', 'h', 0);
	SELECT basemodel.register('users', hidden => '{password_hash}',
	                          ignore_columns => '{last_seen}', skip_unchanged => true);
	-- renamed managed columns
	ALTER TABLE users RENAME COLUMN updated_at TO "Modified At";
	CREATE TABLE legacy (user_id int PRIMARY KEY, body text, last_update timestamptz);
	INSERT INTO legacy VALUES (1, 'b', '2000-01-01');
	SELECT basemodel.register('legacy', id_column => 'user_id', created_column => NULL,
	                          updated_column => 'last_update');
	-- a partitioned table, odd identifiers, an auto-registered schema
	CREATE TABLE events (k int, v int) PARTITION BY LIST (k);
	CREATE TABLE events_1 PARTITION OF events FOR VALUES IN (1);
	INSERT INTO events (k, v) VALUES (1, 1);
	SELECT basemodel.register('events');
	CREATE SCHEMA "Bot Ñ";
	CREATE TABLE "Bot Ñ"."Chat ""x""" (title text);
	SELECT basemodel.register('"Bot Ñ"."Chat ""x"""');
	INSERT INTO "Bot Ñ"."Chat ""x""" (title) VALUES ('hello');
	SELECT basemodel.auto_register('Bot Ñ');
	CREATE TABLE "Bot Ñ".messages (body text);
});

my $models_sql = q{SELECT model::text, id_column, created_column, updated_column, hidden,
                          ignore_columns, skip_unchanged, added_columns
                     FROM basemodel.models ORDER BY model::text};
my $triggers_sql = q{SELECT tgrelid::regclass::text || ' ' || tgname FROM pg_trigger
                      WHERE tgname = 'zzz_basemodel_update' ORDER BY 1};
my $models = psql($src, $models_sql);
my $triggers = psql($src, $triggers_sql);
my $schemas = psql($src, 'SELECT schema_name FROM basemodel.auto_schemas');
my $dicts = psql($src, 'SELECT basemodel.to_dict(u) - \'created_at\' - \'Modified At\' FROM users u');

is(system('pg_dump', '-Fc', '-f', $dump, $src), 0, 'pg_dump of the source database succeeds');
system('createdb', $dst) == 0 or BAIL_OUT("cannot create database $dst");
is(system('pg_restore', '--exit-on-error', '-d', $dst, $dump), 0,
	'pg_restore into a fresh database succeeds');

is(psql($dst, $models_sql), $models, 'the registrations come back with their options');
is(psql($dst, $triggers_sql), $triggers, 'the triggers come back, also on partitions');
is(psql($dst, 'SELECT schema_name FROM basemodel.auto_schemas'), $schemas,
	'auto-registration of the schema comes back');
is(psql($dst, 'SELECT basemodel.to_dict(u) - \'created_at\' - \'Modified At\' FROM users u'), $dicts,
	'to_dict leaves out the hidden columns');

# behaviour
is(psql($dst, 'UPDATE users SET name = \'anne\' RETURNING "Modified At" = now()'), 't',
	'an update bumps the renamed updated column');
is(psql($dst, q{SET basemodel.allow_base_column_updates = on;
	UPDATE users SET "Modified At" = '2000-01-01';
	RESET basemodel.allow_base_column_updates;
	UPDATE users SET last_seen = last_seen + 1 RETURNING "Modified At" = '2000-01-01'}), 't',
	'an ignored column does not bump after restore');
is(psql($dst, q{UPDATE users SET name = name RETURNING "Modified At" = '2000-01-01'}), 't',
	'skip_unchanged holds after restore');
like(psql_error($dst, 'UPDATE users SET created_at = now() - interval \'1 day\''),
	qr/column "created_at" of relation "users" cannot be changed/,
	'created_at stays immutable after restore');
is(psql($dst, 'UPDATE legacy SET body = \'c\' RETURNING last_update = now()'), 't',
	'a mapped table keeps its mapping');
is(psql($dst, 'INSERT INTO events (k, v) VALUES (1, 2) RETURNING id'), '2',
	'the id sequence of a partitioned table continues');
is(psql($dst, 'UPDATE events SET v = 3 WHERE id = 1 RETURNING updated_at = now()'), 't',
	'a partition keeps its trigger');
is(psql($dst, q{UPDATE "Bot Ñ"."Chat ""x""" SET title = 't' RETURNING updated_at = now()}), 't',
	'a table with odd identifiers keeps its trigger');
is(psql($dst, q{CREATE TABLE "Bot Ñ".later (v int);
	SELECT count(*) FROM basemodel.models WHERE model = '"Bot Ñ".later'::regclass}), '1',
	'a new table in the auto-registered schema is registered');
is(psql($dst, q{ALTER TABLE users RENAME COLUMN "Modified At" TO touched;
	UPDATE users SET name = 'ann' RETURNING touched = now()}), 't',
	'renames are followed in the restored database');
like(psql_error($dst, 'ALTER TABLE users DROP COLUMN created_at'),
	qr/basemodel\.unregister/, 'a managed column cannot be dropped after restore');
is(psql($dst, q{SELECT basemodel.unregister('users', true);
	SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
	 WHERE attrelid = 'users'::regclass AND attnum > 0 AND NOT attisdropped}),
	'name,password_hash,last_seen', 'unregister drops the columns register added');

# A role that is not a superuser dumps its own database: basemodel.auto_schemas
# has row level security, which pg_dump refuses unless told to apply it.
my $role = "basemodel_dumper_$$";
my $own = "basemodel_dump_own_$$";
my $own_dst = "basemodel_dump_own_dst_$$";
my $own_dump = "$dir/own.dump";
psql('postgres', qq{CREATE ROLE $role LOGIN PASSWORD 'dump'});
system('createdb', '-O', $role, $own) == 0 or BAIL_OUT("cannot create database $own");
END
{
	local $?;
	system('dropdb', '--if-exists', $own);
	system('dropdb', '--if-exists', $own_dst);
	system('psql', '-X', '-q', '-d', 'postgres', '-c', "DROP ROLE IF EXISTS $role");
}
psql($own, q{CREATE EXTENSION basemodel});
{
	local $ENV{PGUSER} = $role;
	local $ENV{PGPASSWORD} = 'dump';
	psql($own, q{CREATE TABLE notes (body text); SELECT basemodel.register('notes', hidden => '{body}')});
	isnt(system("pg_dump -Fc -f $own_dump $own 2>/dev/null"), 0,
		'a role that is not a superuser cannot dump without --enable-row-security');
	is(system('pg_dump', '--enable-row-security', '-Fc', '-f', $own_dump, $own), 0,
		'with --enable-row-security it can');
}
system('createdb', $own_dst) == 0 or BAIL_OUT("cannot create database $own_dst");
is(system('pg_restore', '--exit-on-error', '--no-owner', '-d', $own_dst, $own_dump), 0,
	'and its dump restores');
is(psql($own_dst, q{SELECT model::text || ' ' || hidden::text FROM basemodel.models}), 'notes {body}',
	'with the registration it made');

done_testing();
