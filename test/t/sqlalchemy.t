#!/usr/bin/perl
# examples/sqlalchemy against a real server with Debian's SQLAlchemy 1.4,
# asyncpg and Alembic: alembic upgrade creates and registers the tables, the
# ORM inserts, updates, merges and bulk-updates them (test/t/sqlalchemy_orm.py
# measures, this script judges), refusals arrive as IntegrityError with the
# server's detail and hint, and autogenerate finds nothing to do.  Works in a
# copy of the example (autogenerate writes files) and scratch databases.
use strict;
use warnings;
use File::Temp qw(tempdir);
use FindBin;
use lib "$FindBin::Bin/lib";
use BMTest qw(psql);
use JSON::PP;
use Test::More;

my $top = "$FindBin::Bin/../..";
my $python = '/usr/bin/python3';    # Debian's, which sees python3-sqlalchemy and alembic
my $tmp = tempdir(CLEANUP => 1);
my $app = "$tmp/app";
my @dbs = ("basemodel_sqlalchemy_$$", "basemodel_sqlalchemy_create_all_$$");

END {
	local $?;
	system('dropdb', '--if-exists', '--force', $_) for @dbs;
}

system('cp', '-r', "$top/examples/sqlalchemy", $app) == 0 or BAIL_OUT('cannot copy examples/sqlalchemy');
for (@dbs) {
	system('createdb', $_) == 0 or BAIL_OUT("cannot create database $_");
	system('psql', '-XqAt', '-d', $_, '-c', 'CREATE EXTENSION basemodel') == 0
	  or BAIL_OUT("cannot create the extension in $_");
}
# asyncpg takes host, port, user and password from the PG* variables, as libpq does
$ENV{DATABASE_URL} = "postgresql+asyncpg:///$dbs[0]";
$ENV{CREATE_ALL_URL} = "postgresql+asyncpg:///$dbs[1]";

# Run a command in the copy of the example; its exit status, stdout and stderr.
sub run_in_app
{
	my (@cmd) = @_;
	my $quoted = join ' ', map { "'$_'" } @cmd;
	my $out = `cd '$app' && PYTHONPATH=. $quoted 2>'$tmp/stderr'`;
	my $rc = $? >> 8;
	open(my $fh, '<', "$tmp/stderr") or die "$tmp/stderr: $!";
	local $/;
	my $err = <$fh> // '';
	close $fh;
	return ($rc, $out, $err);
}

# One value or rows of a query in the migrated database.
sub sql { return psql($dbs[0], $_[0]); }

# The upgrade() and downgrade() bodies of a migration file, without comments and blank lines.
sub migration_ops
{
	my ($file) = @_;
	open(my $fh, '<', $file) or return "no file $file";
	local $/;
	my $text = <$fh>;
	close $fh;
	my @ops = grep { !/^\s*(#.*)?$/ } split /\n/, ($text =~ /^def upgrade\(\).*?\n(.*)\z/ms)[0] // '';
	@ops = grep { !/^def downgrade/ } @ops;
	return join "\n", map { s/^\s+//r } @ops;
}

# --- alembic upgrade --sql: the script a DBA would read
my ($rc, $out, $err) = run_in_app($python, '-m', 'alembic', 'upgrade', 'head', '--sql');
is($rc, 0, 'alembic upgrade head --sql succeeds') or diag $out, $err;
like($out, qr/^SELECT basemodel\.register\('users', hidden => '\{password_hash\}'\);$/m,
	'... and its script registers users');

# --- alembic upgrade: the migration creates the tables and registers them
($rc, $out, $err) = run_in_app($python, '-m', 'alembic', 'upgrade', 'head');
is($rc, 0, 'alembic upgrade head succeeds') or diag $out, $err;
is(sql(q{SELECT string_agg(concat_ws(' ', model, id_column, created_column, updated_column, hidden),
                           ', ' ORDER BY model::text) FROM basemodel.models}),
	'tags id created_at updated_at {}, users id created_at updated_at {password_hash}',
	'the migration registered users (password_hash hidden) and tags');
is(sql(q{SELECT string_agg(attname, ' ' ORDER BY attnum) FROM pg_attribute
          WHERE attrelid = 'users'::regclass AND attnum > 0 AND NOT attisdropped}),
	'name password_hash visits id created_at updated_at',
	'register added id, created_at and updated_at to the columns the migration created');

# --- the ORM
($rc, $out, $err) = run_in_app($python, "$FindBin::Bin/sqlalchemy_orm.py");
is($rc, 0, 'the ORM script runs') or diag $out, $err;
my $m = eval { JSON::PP->new->decode($out) };
unless ($m) {
	fail('the ORM script prints what it measured');
	done_testing();
	exit 1;
}
my %m = %$m;

is_deeply($m{insert}{in_memory}, $m{insert}{stored},
	'after an INSERT and commit, created_at and updated_at in memory are the stored ones (RETURNING)');
my $u = $m{update};
cmp_ok($u->{after_flush}, 'gt', $u->{inserted}, 'after an UPDATE and flush, updated_at in memory moved');
is($u->{after_flush}, $u->{stored_after_flush}, '... to the value the trigger stored');
cmp_ok($u->{after_commit}, 'gt', $u->{after_flush}, 'after the next UPDATE and commit, it moved again');
is_deeply($u->{in_memory}, $u->{stored}, '... to the stored value; created_at in memory is the stored one');
is($u->{stored}[0], $m{insert}{stored}[0], 'created_at is still the inserted one');

my $g = $m{merge};
is($g->{name}, 'ann merged', 'merge of a detached object updates the row');
cmp_ok($g->{in_memory}, 'gt', $g->{before}, 'merge: updated_at in memory moved');
is($g->{in_memory}, $g->{stored}, 'merge: ... to the stored value');
ok($g->{new_id} && $g->{new_in_memory}[0] && $g->{new_in_memory}[0] eq $g->{new_in_memory}[1],
	'merge of a new object inserts it, with id and timestamps from the database');

my $b = $m{bulk_update};
is_deeply($b->{visits}, [6, 1], 'a bulk UPDATE statement changes every row');
ok(!grep({ $b->{after}[$_] le $b->{before}[$_] } 0 .. $#{ $b->{before} }),
	'bulk update: the trigger moved updated_at of every row')
  or diag explain $b;
is_deeply($b->{returned}, $b->{after}, 'bulk update: RETURNING updated_at gives the stored values');
# what the README says: a bulk UPDATE does not refresh loaded objects' updated_at
is($b->{in_memory}, $b->{before}[0], 'bulk update: a loaded object keeps its old updated_at');

for my $column ('created_at', 'id') {
	my $r = $m{refusals}{$column};
	is($r->{error}, 'IntegrityError', "changing $column raises IntegrityError");
	is($r->{sqlstate}, '23000', "... with SQLSTATE 23000 in e.orig.sqlstate");
	is($r->{message}, qq{column "$column" of relation "users" cannot be changed}, '... the message');
	like($r->{detail} // '', qr/^basemodel keeps the id and created columns/, '... the detail');
	is($r->{hint}, 'For a data fix, SET basemodel.allow_base_column_updates = on.', '... and the hint');
}

is_deeply($m{refusals}{missing_table}, { error => 'ProgrammingError', sqlstate => '42P01' },
	'register of a missing table raises ProgrammingError with SQLSTATE 42P01');

my $d = $m{to_dict};
is_deeply($d->{python_keys}, [qw(id created_at updated_at name password_hash visits)],
	'Python to_dict: the mapped attributes, base columns first, hidden ones included');
is_deeply($d->{sql_keys}, [qw(id name visits created_at updated_at)],
	'SQL to_dict: jsonb key order (shorter keys first), hidden password_hash left out');
is_deeply($d->{sql_excluding_keys}, [qw(id name created_at updated_at)], 'SQL to_dict with exclude');
is_deeply([map { $d->{python_types}{$_} } qw(id created_at name)], [qw(int datetime str)],
	'Python to_dict gives Python values (datetime)');
like($d->{sql}{created_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?\+00:00$/,
	'SQL to_dict gives ISO 8601 strings in the session time zone (UTC here)');
like($d->{sql_moscow}{created_at}, qr/\+03:00$/, '... and in Europe/Moscow with SET TimeZone');
ok($d->{same_instants}, 'both give the same instants');
is_deeply($d->{imported}, ['2026-01-01T00:00:00.500000+00:00', '2026-01-01T00:00:00.5+00:00'],
	'Python isoformat() keeps six digits of the fraction, SQL to_dict drops trailing zeros');
is($d->{sql}{id}, $m{insert}{id}, 'SQL to_dict of the object\'s own row');
like($d->{tags}, qr/^urgent \d+$/, 'a model that maps only its own columns inserts; the database fills id');

is($m{tablename}{users_table}, 'users', "User's __tablename__ is users");
is_deeply([map { $_->[0] } values %{ $m{tablename}{rule} }], [map { $_->[1] } values %{ $m{tablename}{rule} }],
	'the Python __tablename__ rule gives what basemodel.tablename gives');

# the two settings of the recipe, each left out: the value in memory is stale or cannot be read
my $s = $m{without_fetchedvalue};
cmp_ok($s->{stored}, 'gt', $s->{before}, 'without FetchedValue the stored updated_at moves');
is($s->{in_memory}, $s->{before}, '... but the one in memory stays as it was');
$s = $m{without_eager_defaults};
cmp_ok($s->{stored}, 'gt', $s->{before}, 'without eager_defaults the stored updated_at moves');
is($s->{in_memory}, 'error: MissingGreenlet', '... but the one in memory is expired: reading it fails');

is($m{create_all}{models}, 'tags id created_at updated_at, users id created_at updated_at',
	'metadata.create_all registers the tables it creates (the after_create event)');
ok($m{create_all}{insert}[0] && $m{create_all}{insert}[1], '... and the ORM inserts into them');

# --- autogenerate: nothing to do
($rc, $out, $err) = run_in_app($python, '-m', 'alembic', 'revision', '--autogenerate', '-m', 'check', '--rev-id', 'check');
is($rc, 0, 'alembic revision --autogenerate succeeds') or diag $out, $err;
is(migration_ops("$app/migrations/versions/check_check.py"), "pass\npass",
	'autogenerate writes an empty migration (compare_type and compare_server_default on)');

# without the include_object filter, the columns register added to tags (whose
# model does not map them) would be dropped; users' model maps them
unlink "$app/migrations/versions/check_check.py";
system('sed', '-i', '/include_object=/d', "$app/migrations/env.py") == 0 or die 'sed';
($rc, $out, $err) = run_in_app($python, '-m', 'alembic', 'revision', '--autogenerate', '-m', 'nofilter', '--rev-id', 'nofilter');
my $ops = migration_ops("$app/migrations/versions/nofilter_nofilter.py");
note $ops;
like($ops, qr/op\.drop_column\('tags', '$_'\)/, "without the filter autogenerate drops tags.$_")
  for qw(id created_at updated_at);
like($ops, qr/op\.drop_constraint\('tags_id_key', 'tags', type_='unique'\)/,
	'... and the UNIQUE constraint register put on tags.id');
unlike($ops, qr/'users'/, '... and leaves users alone: its model maps the base columns');

# what the ORM script measured, when something failed
diag explain \%m unless Test::More->builder->is_passing;
done_testing();
