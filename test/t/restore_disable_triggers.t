#!/usr/bin/perl
# A data-only restore with pg_restore --disable-triggers brackets each table
# with ALTER TABLE ... DISABLE TRIGGER ALL / ENABLE TRIGGER ALL.  basemodel
# must let this through, and the trigger must be enabled afterwards.
# Runs against the server named by the PG* environment variables, in
# scratch databases it drops.
use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use BMTest qw(psql);

my $src = "basemodel_distrig_src_$$";
my $dst = "basemodel_distrig_dst_$$";
my $dir = tempdir(CLEANUP => 1);

END
{
	local $?;
	system('dropdb', '--if-exists', $src);
	system('dropdb', '--if-exists', $dst);
}

my $schema = q{
	SET client_min_messages = warning;
	CREATE EXTENSION IF NOT EXISTS basemodel;
	CREATE TABLE notes (body text);
	SELECT basemodel.register('notes');
};
for my $db ($src, $dst)
{
	system('createdb', $db) == 0 or BAIL_OUT("cannot create database $db");
	psql($db, $schema);
}
psql($src, q{INSERT INTO notes (body) VALUES ('a'), ('b')});

my $dump = "$dir/data.dump";
system('pg_dump', '-Fc', '--data-only', '-t', 'notes', '-f', $dump, $src) == 0
  or BAIL_OUT('pg_dump --data-only failed');
my $log = "$dir/restore.log";
my $rc = system("pg_restore --data-only --disable-triggers --exit-on-error -d $dst $dump >$log 2>&1");
my $err = do { local (@ARGV, $/) = $log; <> } // '';
is($rc, 0, 'pg_restore --data-only --disable-triggers succeeds on a registered table')
  or diag("pg_restore said:\n$err");
is(psql($dst, 'SELECT count(*) FROM notes'), '2', 'the rows were restored');
is(psql($dst, q{SELECT tgenabled FROM pg_trigger WHERE tgname = 'zzz_basemodel_update'}),
	'O', 'the trigger is enabled again after the restore');
is(psql($dst, q{UPDATE notes SET body = 'c' WHERE body = 'a' RETURNING updated_at = now()}),
	't', 'an UPDATE after the restore bumps updated_at');

done_testing();
