# BMCluster: PostgreSQL servers of their own for the replication tests
# (test/t/replicas.t, test/t/patroni.t): a primary and streaming hot
# standbys on loopback, each in a scratch directory, run as the postgres user
# when the test runs as root (the server refuses root), and the driver
# program (test/t/lib/failover_driver.c) built against the installed
# libbasemodel.
package BMCluster;

use strict;
use warnings;
use Exporter qw(import);
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(as_server_user free_port build_driver wait_for read_lines);

chomp(my $bindir = `pg_config --bindir`);

# run a command as the user servers run as; its output, and whether it exited 0
sub as_server_user
{
	my (@cmd) = @_;
	unshift @cmd, 'runuser', '-u', 'postgres', '--' if $> == 0;
	my $quoted = join(' ', map { "'" . s/'/'\\''/gr . "'" } @cmd);
	my $out = `$quoted 2>&1`;
	return wantarray ? ($out, $? == 0) : $out;
}

# a TCP port on 127.0.0.1 that nothing listens on now
sub free_port
{
	my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1)
	  or die "cannot find a free port: $!";
	my $port = $s->sockport;
	close($s);
	return $port;
}

# a directory the server user may write, under the test's scratch directory
sub server_dir
{
	my ($path) = @_;
	mkdir($path) or die "cannot make $path: $!";
	if ($> == 0)
	{
		my ($uid, $gid) = (getpwnam('postgres'))[ 2, 3 ];
		chown($uid, $gid, $path) or die "cannot chown $path: $!";
	}
	chmod(0700, $path);
	return $path;
}

# build the driver program against the installed libbasemodel; its path
sub build_driver
{
	my ($tmp) = @_;
	my $bin = "$tmp/failover_driver";
	my $out = `cc -std=gnu11 -Wall -Wextra -Werror \$(pkg-config --cflags basemodel) -o $bin test/t/lib/failover_driver.c \$(pkg-config --libs basemodel libpq) 2>&1`;
	die "cannot build the driver:\n$out" if $?;
	return $bin;
}

# poll $cond (a sub) every 0.1 s for at most $seconds; whether it became true
sub wait_for
{
	my ($seconds, $cond) = @_;
	my $until = time() + $seconds;
	while (time() < $until)
	{
		return 1 if $cond->();
		sleep(0.1);
	}
	return $cond->() ? 1 : 0;
}

# the lines of a file written so far, each split on spaces
sub read_lines
{
	my ($path) = @_;
	open(my $fh, '<', $path) or return ();
	my @lines = map { chomp; [ split / / ] } <$fh>;
	close($fh);
	return @lines;
}

# a new server: initdb'ed in $tmp/$name, listening on 127.0.0.1 only
sub new_primary
{
	my ($class, $tmp, $name) = @_;
	my $self = bless { name => $name, dir => "$tmp/$name", port => free_port(), tmp => $tmp }, $class;
	server_dir($self->{dir});
	my ($out, $ok) = as_server_user("$bindir/initdb", '-D', "$self->{dir}/data", '-A', 'trust', '-U', 'postgres',
		'-E', 'UTF8', '--locale=C', '--no-sync');
	die "initdb failed:\n$out" unless $ok;
	$self->configure;
	return $self;
}

# a new streaming hot standby of $primary (pg_basebackup -R)
sub new_standby
{
	my ($class, $primary, $name) = @_;
	my $tmp = $primary->{tmp};
	my $self = bless { name => $name, dir => "$tmp/$name", port => free_port(), tmp => $tmp }, $class;
	server_dir($self->{dir});
	my ($out, $ok) = as_server_user("$bindir/pg_basebackup", '-h', '127.0.0.1', '-p', $primary->{port},
		'-U', 'postgres', '-D', "$self->{dir}/data", '-R', '-X', 'stream', '-c', 'fast', '--no-sync');
	die "pg_basebackup failed:\n$out" unless $ok;
	$self->configure;
	return $self;
}

# settings of a small test server (later lines win over the copied ones)
sub configure
{
	my ($self) = @_;
	my $conf = "$self->{dir}/data/postgresql.conf";
	open(my $fh, '>>', $conf) or die "cannot append to $conf: $!";
	print $fh "port = $self->{port}\nlisten_addresses = '127.0.0.1'\n",
	  "unix_socket_directories = '$self->{dir}'\nfsync = off\nshared_buffers = 16MB\n",
	  "max_connections = 40\nwal_keep_size = 128MB\nhot_standby = on\n",
	  "wal_receiver_status_interval = 1s\nlogging_collector = off\n";
	close($fh);
}

# pg_ctl with the server's data directory and log
sub pg_ctl
{
	my ($self, @args) = @_;
	my ($out, $ok) = as_server_user("$bindir/pg_ctl", '-D', "$self->{dir}/data", '-l', "$self->{dir}/log",
		'-w', '-t', '60', @args);
	die "pg_ctl @args ($self->{name}) failed:\n$out\n" . `tail -20 $self->{dir}/log` unless $ok;
}

sub start { $_[0]->pg_ctl('start') }
sub stop { $_[0]->pg_ctl('-m', 'fast', 'stop') }
sub promote { $_[0]->pg_ctl('promote') }

# a libpq conninfo for the server
sub conninfo
{
	my ($self) = @_;
	return "host=127.0.0.1 port=$self->{port} user=postgres dbname=postgres";
}

# run SQL on the server; its output (unaligned, tuples only); dies on failure
sub sql
{
	my ($self, $sql) = @_;
	open(my $fh, '-|', 'psql', '-X', '-qAt', '-v', 'ON_ERROR_STOP=1', '-d', $self->conninfo, '-c', $sql)
	  or die "cannot run psql: $!";
	local $/;
	my $out = <$fh> // '';
	close($fh) or die "psql failed on $self->{name}: $sql\n";
	$out =~ s/^\s+|\s+$//g;
	return $out;
}

# stop the server if it runs (the test's end)
sub teardown
{
	my ($self) = @_;
	as_server_user("$bindir/pg_ctl", '-D', "$self->{dir}/data", '-m', 'immediate', 'stop')
	  if -f "$self->{dir}/data/postmaster.pid";
}

1;
