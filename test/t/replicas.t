#!/usr/bin/perl
# Read replicas and primary switchover on real streaming replication: a
# primary and a hot standby of their own on loopback (test/t/lib/BMCluster.pm),
# and libbasemodel driven by test/t/lib/failover_driver.c.
# - read_url: read-only sessions run on the standby, the others on the
#   primary; with the standby stopped they fall back to the primary (and
#   succeed), and go back once it runs again.
# - switchover under a continuous write load, the main URL listing both
#   hosts with target_session_attrs=read-write: the primary stopped and the
#   standby promoted, writes resume on the new primary and every commit
#   reported BM_OK is there exactly once; then the new primary fenced
#   (default_transaction_read_only) and a fresh standby promoted: the
#   connections that found their server read-only are dropped and writes
#   reach the newest primary.  A read pool's connections to a standby that
#   was promoted are dropped too: its read-only sessions fall back to the main
#   pool while there is no standby.
# - PgBouncer in transaction mode in front of the primary
#   (test/t/lib/BMPgBouncer.pm): two writes drivers at once through it with
#   statement_cache_size = -1 and a parameter per insert; no session fails,
#   every commit is on the primary exactly once, and each client's
#   throughput is reported (not asserted).
use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;
use Time::HiRes qw(time sleep);

use lib 'test/t/lib';
use BMCluster qw(build_driver wait_for read_lines);
use BMPgBouncer;

my $tmp = tempdir(CLEANUP => 1);
chmod(0755, $tmp);
my @servers;

END
{
	local $?;
	$_->teardown for @servers;
}

my $driver = build_driver($tmp);
my $a = BMCluster->new_primary($tmp, 'a');
push @servers, $a;
$a->start;
$a->sql('CREATE TABLE failover_rows (id bigint NOT NULL)');
my $b = BMCluster->new_standby($a, 'b');
push @servers, $b;
$b->start;
ok(wait_for(30, sub { $b->sql('SELECT count(*) FROM pg_class WHERE relname = \'failover_rows\'') eq '1' }),
	'the standby replays the primary');

# start the driver in the background; its output goes to $log
sub start_driver
{
	my ($log, @args) = @_;
	my $pid = fork() // die "fork: $!";
	if ($pid == 0)
	{
		open(STDOUT, '>', $log) or die;
		open(STDERR, '>', "$log.err") or die;
		exec($driver, @args) or die "exec: $!";
	}
	return $pid;
}

# stop the driver through its stop file; whether it exited 0
sub stop_driver
{
	my ($pid, $stop) = @_;
	open(my $fh, '>', $stop) or die;
	close($fh);
	my $done = wait_for(60, sub { waitpid($pid, 1) == $pid });
	kill('KILL', $pid), waitpid($pid, 0) unless $done;
	return $done && $? == 0;
}

# the "stats" line of a driver's log as a hash
sub stats_of
{
	my ($log) = @_;
	my ($line) = grep { $_->[0] eq 'stats' } read_lines($log);
	return { map { split /=/ } @{$line}[ 1 .. $#$line ] } if $line;
	return {};
}

# lines of kind $kind, after $ms, that succeeded, on port $port (any if undef)
sub ok_lines
{
	my ($log, $kind, $ms, $port) = @_;
	return grep {
		$_->[0] eq $kind && $_->[1] > $ms && $_->[2] eq 'BM_OK' && (!defined $port || $_->[4] eq $port)
	} read_lines($log);
}

# --- read replicas -----------------------------------------------------------
{
	my $log = "$tmp/reads.log";
	my $pid = start_driver($log, 'reads', $a->conninfo, $b->conninfo, 2, "$tmp/reads.stop");
	ok(wait_for(30, sub { ok_lines($log, 'ro', 0) >= 10 && ok_lines($log, 'rw', 0) >= 10 }),
		'read-only and normal sessions run with read_url set');
	my @ro = grep { $_->[0] eq 'ro' && $_->[2] eq 'BM_OK' } read_lines($log);
	my @rw = grep { $_->[0] eq 'rw' && $_->[2] eq 'BM_OK' } read_lines($log);
	is_deeply([ grep { $_->[3] ne 't' || $_->[4] ne $b->{port} } @ro ], [],
		'every read-only session ran on the standby (pg_is_in_recovery() true, its port)');
	is_deeply([ grep { $_->[3] ne 'f' || $_->[4] ne $a->{port} } @rw ], [],
		'every normal session ran on the primary');

	$b->stop;
	my $stopped = time() * 1000;
	ok(wait_for(30, sub { ok_lines($log, 'ro', $stopped, $a->{port}) >= 10 }),
		'with the standby stopped, read-only sessions succeed on the primary');
	$b->start;
	my $started = time() * 1000;
	ok(wait_for(30, sub { ok_lines($log, 'ro', $started, $b->{port}) >= 5 }),
		'with the standby running again, read-only sessions are back on it');
	my ($back) = ok_lines($log, 'ro', $started, $b->{port});
	note(sprintf('first read-only session on the restarted standby %.0f ms after pg_ctl start returned',
		$back->[1] - $started)) if $back;
	ok(stop_driver($pid, "$tmp/reads.stop"), 'the reads driver exits 0')
	  or diag(`cat $log.err`);

	my $st = stats_of($log);
	my @failed = grep { $_->[0] =~ /^r[ow]$/ && $_->[2] ne 'BM_OK' } read_lines($log);
	cmp_ok($st->{replica_sessions} // 0, '>', 0, 'stats count replica_sessions');
	cmp_ok($st->{replica_fallbacks} // 0, '>', 0, 'stats count replica_fallbacks while the standby was down');
	# a unit in flight on a replica connection when the standby stops fails with it: one per connection
	ok(@failed <= 2 && !grep({ $_->[0] ne 'ro' || $_->[2] ne 'BM_ERR_CONNECTION' } @failed),
		'no session failed but read-only ones in flight when the standby stopped (at most 2, connection errors)')
	  or diag(join("\n", map { "@$_" } @failed));
	note("reads: replica_sessions=$st->{replica_sessions} replica_fallbacks=$st->{replica_fallbacks} failed="
		  . scalar(@failed));
}

# --- a multi-host read_url listing the primary first --------------------------
# The read pool asks for standbys (target_session_attrs=standby) on every
# host it tries, so the primary is passed over, not connected to and dropped.
{
	my $log = "$tmp/reads2.log";
	my $read_url = "host=127.0.0.1,127.0.0.1 port=$a->{port},$b->{port} user=postgres dbname=postgres";
	my $pid = start_driver($log, 'reads', $a->conninfo, $read_url, 2, "$tmp/reads2.stop");
	ok(wait_for(30, sub { ok_lines($log, 'ro', 0) >= 10 }),
		'multi-host read_url, primary first: read-only sessions run');
	my @ro = grep { $_->[0] eq 'ro' && $_->[2] eq 'BM_OK' } read_lines($log);
	is_deeply([ grep { $_->[3] ne 't' || $_->[4] ne $b->{port} } @ro ], [],
		'multi-host read_url, primary first: every read-only session ran on the standby');
	ok(stop_driver($pid, "$tmp/reads2.stop"), 'the second reads driver exits 0')
	  or diag(`cat $log.err`);
}

# The commits of a writes driver's log against the rows of $server: every
# BM_OK once, no row for a definite failure; a commit whose connection went
# may or may not be there (its outcome is unknown).
sub check_commits
{
	my ($log, $server, $what) = @_;
	my %count;
	for my $row (split /\n/, $server->sql('SELECT id, count(*) FROM failover_rows GROUP BY id'))
	{
		my ($id, $n) = split /\|/, $row;
		$count{$id} = $n;
	}
	my @commits = grep { $_->[0] eq 'commit' } read_lines($log);
	my @ok = grep { $_->[2] eq 'BM_OK' } @commits;
	my @lost = grep { $_->[2] ne 'BM_OK' && $_->[2] ne 'BM_ERR_SQL' && $_->[2] ne 'BM_ERR_ABORTED' } @commits;
	my @definite = grep { $_->[2] eq 'BM_ERR_SQL' || $_->[2] eq 'BM_ERR_ABORTED' } @commits;
	my @bad_ok = grep { ($count{ $_->[3] } // 0) != 1 } @ok;
	is_deeply([ map { "id $_->[3] present " . ($count{ $_->[3] } // 0) . ' times' } @bad_ok ], [],
		"$what: every commit reported BM_OK is on the primary exactly once (" . scalar(@ok) . ' commits)');
	is_deeply([ map { "id $_->[3] ($_->[2]) is present" } grep { $count{ $_->[3] } } @definite ], [],
		"$what: no row of a commit that definitely failed (" . scalar(@definite) . ' of them)');
	my $present_lost = grep { $count{ $_->[3] } } @lost;
	note("$what: $present_lost of " . scalar(@lost) . ' commits that failed on a lost connection are present');
	return @commits;
}

# a writes driver's first BM_OK commit after $ms
sub first_ok_after
{
	my ($log, $ms) = @_;
	my ($first) = ok_lines($log, 'commit', $ms);
	return $first ? $first->[1] - $ms : undef;
}

# --- PgBouncer in transaction mode in front of the primary -------------------
{
	my $bouncer = BMPgBouncer->start(pool_mode => 'transaction', pool_size => 4, server_host => '127.0.0.1',
		server_port => $a->{port}, user => 'postgres');
	my @clients = map { { log => "$tmp/bouncer$_.log", first => $_ * 1_000_000_000 + 1 } } 1, 2;
	$_->{pid} = start_driver($_->{log}, 'writes', $bouncer->url('postgres'), 4, "$tmp/bouncer.stop", $_->{first}, -1, 0)
	  for @clients;
	ok(wait_for(60, sub { !grep { ok_lines($_->{log}, 'commit', 0) < 1500 } @clients }),
		'PgBouncer (transaction mode): two clients with statement_cache_size -1 commit through it');
	for my $i (0, 1)
	{
		my $c = $clients[$i];
		my $n = $i + 1;
		ok(stop_driver($c->{pid}, "$tmp/bouncer.stop"), "PgBouncer: client $n exits 0")
		  or diag(`cat $c->{log}.err`);
		my @commits = check_commits($c->{log}, $a, "PgBouncer client $n");
		is_deeply([ map { "@$_" } grep { $_->[2] ne 'BM_OK' } @commits ], [],
			"PgBouncer client $n: no session failed");
		my @ok = grep { $_->[2] eq 'BM_OK' } @commits;
		my $ms = @ok > 1 ? $ok[-1][1] - $ok[0][1] : 0;
		note(sprintf('PgBouncer client %d: %d sessions in %d ms, %.0f sessions/s (4 at a time, the other client alongside)',
			$n, scalar(@ok), $ms, $ms ? @ok * 1000 / $ms : 0));
	}
	$bouncer->stop;
	$a->sql('TRUNCATE failover_rows');
}

# --- switchover: primary stopped, standby promoted ---------------------------
my $url = sprintf('host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=postgres target_session_attrs=read-write',
	$a->{port}, $b->{port});
{
	my $log = "$tmp/writes1.log";
	ok(wait_for(30, sub { $b->sql('SELECT pg_is_in_recovery()') eq 't' }), 'the standby is back in recovery');
	my $pid = start_driver($log, 'writes', $url, 4, "$tmp/writes1.stop");
	my $rlog = "$tmp/reads1.log";
	my $rpid = start_driver($rlog, 'reads', $url, $b->conninfo, 2, "$tmp/writes1.stop");
	ok(wait_for(30, sub { ok_lines($log, 'commit', 0) >= 40 && ok_lines($rlog, 'ro', 0, $b->{port}) >= 5 }),
		'writes commit on the primary, reads run on the standby');
	$a->stop;
	sleep(0.5);
	$b->promote;
	my $promoted = time() * 1000;
	ok(wait_for(60, sub { ok_lines($log, 'commit', $promoted) >= 40 }),
		'after the primary stopped and the standby was promoted, writes resume');
	my $after = first_ok_after($log, $promoted);
	ok(defined $after && $after < 30000, 'the first write succeeded within 30 s of the promote')
	  and note("switchover (stop + promote): first BM_OK commit ${after} ms after pg_ctl promote returned");
	ok(wait_for(30, sub { ok_lines($rlog, 'ro', $promoted + 2000) >= 5 }), 'read-only sessions run after the promote');
	ok(stop_driver($pid, "$tmp/writes1.stop"), 'the writes driver exits 0') or diag(`cat $log.err`);
	ok(wait_for(60, sub { waitpid($rpid, 1) == $rpid }) && $? == 0, 'the reads driver exits 0')
	  or diag(`cat $rlog.err`);
	check_commits($log, $b, 'stop + promote');
	# the read pool's connections to the promoted standby were dropped, and
	# with no standby left its read-only sessions ran on the main pool
	my $st = stats_of($rlog);
	cmp_ok($st->{replica_fallbacks} // 0, '>', 0,
		'read-only sessions left the promoted standby for the main pool (replica_fallbacks)');
}

# --- switchover: primary fenced read-only, a new standby promoted ------------
{
	my $c = BMCluster->new_standby($b, 'c');
	push @servers, $c;
	$c->start;
	$b->sql('TRUNCATE failover_rows');
	my $url2 = sprintf('host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=postgres target_session_attrs=read-write',
		$b->{port}, $c->{port});
	my $log = "$tmp/writes2.log";
	my $pid = start_driver($log, 'writes', $url2, 4, "$tmp/writes2.stop");
	ok(wait_for(30, sub { ok_lines($log, 'commit', 0) >= 40 }), 'writes commit on the second primary');
	$b->sql('ALTER SYSTEM SET default_transaction_read_only = on');
	$b->sql('SELECT pg_reload_conf()');
	my $fenced = time() * 1000;
	# a write fails with 25006, or its connection is dropped first because the
	# server reports default_transaction_read_only (which comes first is timing)
	ok(wait_for(30, sub { grep { $_->[0] eq 'commit' && $_->[1] > $fenced && $_->[2] ne 'BM_OK' } read_lines($log) }),
		'writes on the fenced primary fail (25006, or a connection dropped as read-only)');
	my $lsn = $b->sql('SELECT pg_current_wal_lsn()');
	ok(wait_for(30, sub { $c->sql("SELECT pg_last_wal_replay_lsn() >= '$lsn'") eq 't' }),
		'the new standby has replayed everything the fenced primary wrote');
	$c->promote;
	my $promoted = time() * 1000;
	ok(wait_for(60, sub { ok_lines($log, 'commit', $promoted) >= 40 }),
		'after the fence and the promote, writes resume: connections that found their server read-only were dropped');
	my $after = first_ok_after($log, $promoted);
	note("switchover (fence + promote): first BM_OK commit ${after} ms after pg_ctl promote returned")
	  if defined $after;
	ok(stop_driver($pid, "$tmp/writes2.stop"), 'the writes driver exits 0') or diag(`cat $log.err`);
	check_commits($log, $c, 'fence + promote');
	my $st = stats_of($log);
	cmp_ok($st->{disconnects} // 0, '>', 0, 'connections to the fenced primary were dropped');
}

done_testing();
