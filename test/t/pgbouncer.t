# The client through a real PgBouncer (Debian's), started here on loopback
# (test/t/lib/BMPgBouncer.pm).  In transaction mode with
# statement_cache_size = -1, and in session mode with the statement cache,
# two client processes at once run many sessions with parameters: every
# callback says BM_OK, and every committed key is in the tables exactly once
# (no 42P05/26000/08P01, no statement run in place of another).
# statement_timeout_ms works through it in every pool mode (PgBouncer
# refuses the "options" startup parameter): a pg_sleep longer than the
# timeout fails with 57014, and the timeout does not leak to a later client
# of the same server connection.  300 autocommit inserts with a duplicate in
# the middle: in batches (transaction and session mode) and with a Sync each
# (statement mode, autocommit_sync_each) only the duplicate fails; batched
# through statement mode the outcomes stay truthful.
use strict;
use warnings;
use File::Temp qw(tempdir);
use FindBin;
use lib "$FindBin::Bin/lib";
use BMPgBouncer;
use BMTest qw(psql);
use Test::More;

my $tmp = tempdir(CLEANUP => 1);
my $db = "basemodel_pgbouncer_$$";
my $direct = ($ENV{BM_URL_BASE} // die "BM_URL_BASE is not set: run through test/run\n") . $db;
my $load = "$tmp/pgbouncer_load";
my $SESSIONS = 300;

system("cc -std=gnu11 -Wall -Wextra -Werror \$(pkg-config --cflags basemodel) -o $load "
	. "$FindBin::Bin/pgbouncer_load.c \$(pkg-config --libs basemodel)") == 0
  or BAIL_OUT('cannot build test/t/pgbouncer_load.c');
system('createdb', $db) == 0 or BAIL_OUT("cannot create database $db");
END { system('dropdb', '--if-exists', '--force', $db) if $db; }
psql($direct, 'CREATE TABLE pb_a (k bigint, tag int); CREATE TABLE pb_b (k bigint); CREATE TABLE pb_c (k bigint); '
	. 'CREATE TABLE pb_u (k bigint PRIMARY KEY)');

# run the load program with ARGS; its output lines
sub run_load
{
	my (@args) = @_;
	open(my $fh, '-|', $load, @args) or die "cannot run $load: $!";
	my @lines = <$fh>;
	close $fh;
	chomp @lines;
	return (\@lines, $?);
}

# the keys of a table, each as often as it is there
sub keys_of
{
	my ($table) = @_;
	return [ sort { $a <=> $b } split /\n/, psql($direct, "SELECT k FROM $table") ];
}

# Two processes at once, SESSIONS sessions each, through URL with this
# statement cache and timeout; then what the tables hold against what the
# callbacks said.
sub two_clients
{
	my ($what, $url, $cache, $timeout) = @_;
	psql($direct, 'TRUNCATE pb_a, pb_b, pb_c');
	my @pids;
	for my $tag (1, 2)
	{
		my $pid = fork // die "fork: $!";
		if ($pid == 0)
		{
			open(STDOUT, '>', "$tmp/out.$tag") or die;
			open(STDERR, '>', "$tmp/err.$tag") or die;
			exec $load, $url, $cache, $timeout, 'load', $tag, $SESSIONS or die "exec: $!";
		}
		push @pids, $pid;
	}
	my @status = map { waitpid($_, 0); $? } @pids;
	my (@committed, @auto, @fail);
	for my $tag (1, 2)
	{
		open(my $fh, '<', "$tmp/out.$tag") or die;
		while (<$fh>)
		{
			chomp;
			push @committed, $1 if /^commit (\d+)$/;
			push @auto, $1 if /^auto (\d+)$/;
			push @fail, $_ if /^fail /;
		}
		my $err = '';
		if (open(my $efh, '<', "$tmp/err.$tag")) { local $/; $err = <$efh> // ''; }
		is($status[$tag - 1], 0, "$what: client $tag ran to the end") or diag($err);
	}
	is(scalar(@fail), 0, "$what: every callback said BM_OK")
	  or diag(join("\n", scalar(@fail) . ' failures, the first:', @fail[0 .. ($#fail < 9 ? $#fail : 9)]));
	my %states;
	$states{$1}++ for map { /^fail \S+ \S+ (\S+)/ ? $1 : () } @fail;
	is_deeply([ grep { /^(42P05|26000|08P01)$/ } sort keys %states ], [],
		"$what: no prepared-statement error (42P05, 26000, 08P01)");
	is(scalar(@committed), 2 * $SESSIONS, "$what: every session committed")
	  or diag(scalar(@committed) . ' of ' . 2 * $SESSIONS . ' sessions committed; SQLSTATEs of the failures: '
		  . join(', ', map { "$_ x$states{$_}" } sort keys %states));
	my @want = sort { $a <=> $b } @committed;
	is_deeply(keys_of('pb_a'), \@want, "$what: pb_a holds every committed key exactly once, and no other");
	is_deeply(keys_of('pb_b'), \@want, "$what: pb_b holds every committed key exactly once, and no other");
	is_deeply(keys_of('pb_c'), [ sort { $a <=> $b } @auto ],
		"$what: pb_c holds every key whose autocommit insert said BM_OK, once");
	cmp_ok(scalar(@auto), '==', 2 * int(($SESSIONS + 3) / 4), "$what: every autocommit insert said BM_OK");
}

# a pg_sleep of 3 s under a timeout of 300 ms through URL: 57014 in autocommit (and in a session unless statement mode)
sub sleep_times_out
{
	my ($what, $url, $cache, %opt) = @_;
	my ($lines, $status) = run_load($url, $cache, 300, 'sleep', 3);
	is($status, 0, "$what: the client ran") or diag(join("\n", @$lines));
	my %got = map { /^(\S+) (.*)$/ ? ($1, $2) : () } @$lines;
	is($got{auto}, 'BM_ERR_TIMEOUT 57014', "$what: an autocommit pg_sleep longer than statement_timeout_ms fails with 57014");
	is($got{session}, 'BM_ERR_TIMEOUT 57014', "$what: so does one in a session") unless $opt{no_sessions};
}

# 300 autocommit inserts queued at once through URL, the one in the middle a
# duplicate; what the client said of each: (keys said BM_OK, the failure lines)
sub run_batch
{
	my ($what, $url, $sync_each) = @_;
	psql($direct, 'TRUNCATE pb_u');
	my ($lines, $status) = run_load($url, -1, 10000, 'batch', 300, $sync_each);
	is($status, 0, "$what: the client ran") or diag(join("\n", @$lines));
	return ([ map { /^auto (\d+)$/ ? $1 : () } @$lines ], [ grep { /^fail / } @$lines ]);
}

# framed in batches (sync_each 0) or a Sync each: the duplicate alone fails,
# every other statement commits once (those the server skipped behind the
# duplicate were sent again)
sub batch_fails_alone
{
	my ($what, $url, $sync_each) = @_;
	my ($ok, $fail) = run_batch($what, $url, $sync_each);
	is(scalar(@$ok), 299, "$what: 299 of 300 autocommit inserts committed")
	  or diag(join("\n", @$fail[0 .. ($#$fail < 4 ? $#$fail : 4)]));
	like(join("\n", @$fail), qr/^fail auto:0 BM_ERR_SQL 23505 [^\n]*$/, "$what: the duplicate alone failed, with 23505");
	is_deeply(keys_of('pb_u'), [ 0 .. 149, 151 .. 299 ], "$what: pb_u holds each committed key once");
}

# Batched through statement mode, where PgBouncer closes the connection when a
# failure leaves the batch's transaction block open at its Sync: whether the
# statements behind the duplicate were read as skipped (and sent again) or
# are BM_ERR_OUTCOME_UNKNOWN depends on what the client read before the
# close.  Either way the callbacks tell the truth: every key said BM_OK is
# stored once, every stored key was said BM_OK or OUTCOME_UNKNOWN.
sub batch_outcomes_truthful
{
	my ($what, $url) = @_;
	my ($ok, $fail) = run_batch($what, $url, 0);
	my %said = map { $_ => 'BM_OK' } @$ok;
	for (@$fail) { $said{$1} //= $2 if /^fail auto:(\d+) (\S+)/; }
	my $stored = keys_of('pb_u');
	my %count;
	$count{$_}++ for @$stored;
	is_deeply([ grep { ($count{$_} // 0) != 1 } @$ok ], [], "$what: every key said BM_OK is stored once");
	my @wrong = grep { ($said{$_} // 'nothing') !~ /^(BM_OK|BM_ERR_OUTCOME_UNKNOWN)$/ } sort { $a <=> $b } keys %count;
	is_deeply(\@wrong, [], "$what: every stored key was said BM_OK or BM_ERR_OUTCOME_UNKNOWN")
	  or diag(join("\n", map { "key $_ stored, said " . ($said{$_} // 'nothing') } @wrong[0 .. ($#wrong < 4 ? $#wrong : 4)]),
		"\n", join("\n", grep { /^fail auto:(\d+) / && grep { $_ == $1 } @wrong } @$fail));
	is(scalar(keys %count), scalar(@$stored), "$what: no key is stored twice");
}

# statement_timeout as a later client of the same (single) server connection sees it
sub later_timeout
{
	my ($url) = @_;
	return psql($url, 'SHOW statement_timeout');
}

{
	my $bouncer = BMPgBouncer->start(pool_mode => 'transaction', pool_size => 2);
	two_clients('transaction mode, statement_cache_size -1', $bouncer->url($db), -1, 10000);
	is(later_timeout($bouncer->url($db)), '0',
		'transaction mode: a later client of the pooler sees the default statement_timeout');
	$bouncer->stop;
}
{
	my $bouncer = BMPgBouncer->start(pool_mode => 'session', pool_size => 8);
	two_clients('session mode, default statement cache', $bouncer->url($db), 0, 10000);
	$bouncer->stop;
}
for my $mode ('transaction', 'session', 'statement')
{
	# one server connection: the next client gets the very one the timeout ran on
	my $bouncer = BMPgBouncer->start(pool_mode => $mode, pool_size => 1);
	sleep_times_out("$mode mode", $bouncer->url($db), -1, no_sessions => $mode eq 'statement');
	batch_fails_alone("$mode mode, " . ($mode eq 'statement' ? 'a Sync each' : 'in batches'), $bouncer->url($db),
		$mode eq 'statement' ? 1 : 0);
	batch_outcomes_truthful("$mode mode, in batches", $bouncer->url($db)) if $mode eq 'statement';
	is(later_timeout($bouncer->url($db)), '0',
		"$mode mode: the next client on the same server connection sees the default statement_timeout");
	is(psql($bouncer->url($db), 'SELECT pg_sleep(0.5)::text'), '',
		"$mode mode: and a statement longer than the timeout runs to its end");
	$bouncer->stop;
}

done_testing();
