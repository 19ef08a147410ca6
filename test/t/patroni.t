#!/usr/bin/perl
# A Patroni cluster on loopback (Debian's patroni and etcd-server, installed
# by scripts/install-deps): one etcd, two PostgreSQL members.  Under a
# continuous write load and a stream of read-only and normal sessions (main
# URL: both members with target_session_attrs=read-write; read_url: both
# members, standbys by default), `patronictl switchover` moves the leader:
# writes resume on the new leader with every BM_OK commit there exactly
# once, and read-only sessions end up on the new standby (the old leader).
# It takes about 15 s, so it runs in every `make test`.
use strict;
use warnings;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use Test::More;
use Time::HiRes qw(time sleep);

use lib 'test/t/lib';
use BMCluster qw(as_server_user build_driver wait_for read_lines);
use BMTest qw(free_port);

for my $cmd (qw(patroni patronictl etcd))
{
	BAIL_OUT("$cmd is not installed (scripts/install-deps installs patroni and etcd-server)")
	  unless system("command -v $cmd >/dev/null") == 0;
}

my $tmp = tempdir(CLEANUP => 1);
chmod(0755, $tmp);
my @pids;

# stop what the test started, newest first: Patroni stops its PostgreSQL
END
{
	local $?;
	for my $pid (reverse @pids)
	{
		kill('TERM', $pid);
		wait_for(30, sub { waitpid($pid, 1) == $pid }) or kill('KILL', $pid);
	}
}

# run a program in the background (as the server user when $as_pg), output to
# $log, from the scratch directory: the server user may not enter ours (root's
# home on a fresh machine), and Patroni's worker processes chdir back to it
sub spawn
{
	my ($log, $as_pg, @cmd) = @_;
	unshift @cmd, 'runuser', '-u', 'postgres', '--' if $as_pg && $> == 0;
	my $pid = fork() // die "fork: $!";
	if ($pid == 0)
	{
		chdir($tmp) or die "chdir $tmp: $!";
		open(STDOUT, '>', $log) or die;
		open(STDERR, '>&', \*STDOUT) or die;
		exec(@cmd) or die "exec: $!";
	}
	push @pids, $pid;
	return $pid;
}

# stop the test with the last lines of a log on the screen (BAIL_OUT shows one line)
sub bail_with_log
{
	my ($why, $log) = @_;
	diag("last lines of $log:\n" . `tail -40 $log`);
	BAIL_OUT("$why (see $log above)");
}

my $driver = build_driver($tmp);
my ($etcd_client, $etcd_peer) = (free_port(), free_port());
spawn("$tmp/etcd.log", 0, 'etcd', '--name', 'bm', '--data-dir', "$tmp/etcd",
	'--listen-client-urls', "http://127.0.0.1:$etcd_client", '--advertise-client-urls', "http://127.0.0.1:$etcd_client",
	'--listen-peer-urls', "http://127.0.0.1:$etcd_peer", '--initial-advertise-peer-urls', "http://127.0.0.1:$etcd_peer",
	'--initial-cluster', "bm=http://127.0.0.1:$etcd_peer");
my $http = HTTP::Tiny->new(timeout => 5);
ok(wait_for(30, sub { $http->get("http://127.0.0.1:$etcd_client/health")->{success} }), 'etcd runs')
  or bail_with_log('etcd did not start', "$tmp/etcd.log");

chomp(my $bindir = `pg_config --bindir`);
my %member;
for my $name (qw(m1 m2))
{
	my $dir = "$tmp/$name";
	mkdir($dir);
	chmod(0700, $dir);
	my ($uid, $gid) = (getpwnam('postgres'))[ 2, 3 ];
	chown($uid, $gid, $dir) if $> == 0;
	my $m = { name => $name, dir => $dir, port => free_port(), rest => free_port(), conf => "$dir/patroni.yml" };
	open(my $fh, '>', $m->{conf}) or die;
	print $fh <<"YAML";
scope: bmtest
name: $name
restapi:
  listen: 127.0.0.1:$m->{rest}
  connect_address: 127.0.0.1:$m->{rest}
etcd3:
  hosts: 127.0.0.1:$etcd_client
bootstrap:
  dcs:
    ttl: 20
    loop_wait: 1
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: false
      parameters:
        wal_keep_size: 128MB
        hot_standby: 'on'
  initdb:
  - encoding: UTF8
  - locale: C
  pg_hba:
  - local all all trust
  - host all all 127.0.0.1/32 trust
  - host replication all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:$m->{port}
  connect_address: 127.0.0.1:$m->{port}
  data_dir: $dir/data
  bin_dir: $bindir
  pgpass: $dir/pgpass
  authentication:
    superuser:
      username: postgres
    replication:
      username: postgres
  parameters:
    unix_socket_directories: '$dir'
    shared_buffers: 16MB
    max_connections: 40
    fsync: 'off'
YAML
	close($fh);
	chown($uid, $gid, $m->{conf}) if $> == 0;
	$member{$name} = $m;
}

# the member's role as its REST API says: 'primary', 'replica' or ''
sub role
{
	my ($m) = @_;
	return 'primary' if $http->get("http://127.0.0.1:$m->{rest}/primary")->{status} == 200;
	return 'replica' if $http->get("http://127.0.0.1:$m->{rest}/replica")->{status} == 200;
	return '';
}

# SQL on a member (psql over TCP); undef when it fails
sub sql
{
	my ($m, $sql) = @_;
	my $out = `psql -X -qAt -v ON_ERROR_STOP=1 -d 'host=127.0.0.1 port=$m->{port} user=postgres dbname=postgres' -c "$sql" 2>/dev/null`;
	return undef if $?;
	$out =~ s/^\s+|\s+$//g;
	return $out;
}

my $started = time();
spawn("$member{m1}{dir}/patroni.log", 1, 'patroni', $member{m1}{conf});
ok(wait_for(90, sub { role($member{m1}) eq 'primary' }), 'the first member bootstraps and leads')
  or bail_with_log('the first member did not lead', "$member{m1}{dir}/patroni.log");
spawn("$member{m2}{dir}/patroni.log", 1, 'patroni', $member{m2}{conf});
ok(wait_for(90, sub { role($member{m2}) eq 'replica' && (sql($member{m1}, 'SELECT count(*) FROM pg_stat_replication') // '') eq '1' }),
	'the second member streams from it')
  or bail_with_log('the second member did not stream', "$member{m2}{dir}/patroni.log");
note(sprintf('cluster up in %.1f s', time() - $started));
is(sql($member{m1}, 'CREATE TABLE failover_rows (id bigint NOT NULL)'), '', 'a table on the leader');

my ($m1, $m2) = @member{qw(m1 m2)};
my $hosts = "host=127.0.0.1,127.0.0.1 port=$m1->{port},$m2->{port} user=postgres dbname=postgres connect_timeout=3";
my ($wlog, $rlog) = ("$tmp/writes.log", "$tmp/reads.log");
spawn($wlog, 0, $driver, 'writes', "$hosts target_session_attrs=read-write", 4, "$tmp/stop");
spawn($rlog, 0, $driver, 'reads', "$hosts target_session_attrs=read-write", $hosts, 2, "$tmp/stop");
my ($wpid, $rpid) = @pids[ -2, -1 ];

# lines of kind $kind after $ms that succeeded
sub ok_after
{
	my ($log, $kind, $ms) = @_;
	return grep { $_->[0] eq $kind && $_->[1] > $ms && $_->[2] eq 'BM_OK' } read_lines($log);
}

ok(wait_for(30, sub { ok_after($wlog, 'commit', 0) >= 40 && ok_after($rlog, 'ro', 0) >= 10 }),
	'writes commit and reads run before the switchover');
my @ro = ok_after($rlog, 'ro', 0);
my @rw = ok_after($rlog, 'rw', 0);
is_deeply([ grep { $_->[3] ne 't' || $_->[4] ne $m2->{port} } @ro ], [], 'read-only sessions run on the replica');
is_deeply([ grep { $_->[3] ne 'f' || $_->[4] ne $m1->{port} } @rw ], [], 'normal sessions run on the leader');

my $before = time() * 1000;
my $out = `patronictl -c $m1->{conf} switchover bmtest --leader m1 --candidate m2 --force 2>&1`;
my $after = time() * 1000;
ok($? == 0, 'patronictl switchover') or diag($out);
note(sprintf('patronictl switchover took %.0f ms', $after - $before));
ok(wait_for(90, sub { role($m2) eq 'primary' }), 'the second member leads');
ok(wait_for(90, sub { ok_after($wlog, 'commit', $after) >= 40 }), 'writes resume after the switchover');
# the writes' outage: from the first failed commit to the first BM_OK after the last failed one
my @during = grep { $_->[0] eq 'commit' && $_->[1] > $before } read_lines($wlog);
my ($first_fail) = grep { $_->[2] ne 'BM_OK' } @during;
my ($last_fail) = reverse grep { $_->[2] ne 'BM_OK' } @during;
my ($resumed) = $last_fail ? grep { $_->[2] eq 'BM_OK' && $_->[1] >= $last_fail->[1] } @during : ();
note(sprintf('writes failed for %.0f ms (first failed commit %.0f ms after patronictl started, first BM_OK after the last failure %.0f ms after it returned)',
	$resumed->[1] - $first_fail->[1], $first_fail->[1] - $before, $resumed->[1] - $after))
  if $first_fail && $resumed;
ok(wait_for(90, sub { role($m1) eq 'replica' }), 'the old leader follows as a replica');
my $rejoined = time() * 1000;
ok(wait_for(60, sub { grep { $_->[3] eq 't' && $_->[4] eq $m1->{port} } ok_after($rlog, 'ro', $rejoined) }),
	'read-only sessions reach the new replica (the old leader)');
ok(wait_for(30, sub { grep { $_->[3] eq 'f' && $_->[4] eq $m2->{port} } ok_after($rlog, 'rw', $rejoined) }),
	'normal sessions reach the new leader');

open(my $fh, '>', "$tmp/stop") or die;
close($fh);
ok(wait_for(60, sub { waitpid($wpid, 1) == $wpid }) && $? == 0, 'the writes driver exits 0');
ok(wait_for(60, sub { waitpid($rpid, 1) == $rpid }) && $? == 0, 'the reads driver exits 0');
@pids = grep { $_ != $wpid && $_ != $rpid } @pids;

my %count = map { split /\|/ } split /\n/, (sql($m2, 'SELECT id, count(*) FROM failover_rows GROUP BY id') // '');
my @commits = grep { $_->[0] eq 'commit' } read_lines($wlog);
my @ok = grep { $_->[2] eq 'BM_OK' } @commits;
my @definite = grep { $_->[2] eq 'BM_ERR_SQL' || $_->[2] eq 'BM_ERR_ABORTED' } @commits;
is_deeply([ map { "id $_->[3] present " . ($count{ $_->[3] } // 0) . ' times' } grep { ($count{ $_->[3] } // 0) != 1 } @ok ],
	[], 'every commit reported BM_OK is on the new leader exactly once (' . scalar(@ok) . ' commits)');
is_deeply([ map { "id $_->[3] ($_->[2])" } grep { $count{ $_->[3] } } @definite ], [],
	'no row of a commit that definitely failed (' . scalar(@definite) . ' of them)');
my @failed_reads = grep { $_->[0] =~ /^r[ow]$/ && $_->[2] ne 'BM_OK' } read_lines($rlog);
note(scalar(@commits) - scalar(@ok) . ' commits and ' . scalar(@failed_reads)
	  . ' read units failed during the switchover (connection lost or no leader yet)');
note(sprintf('whole test %.1f s', time() - $started));

done_testing();
