# BMPgBouncer: a PgBouncer of a TAP test's own, on loopback, in front of
# the test server (scripts/with-server's PGHOST, PGPORT, PGUSER,
# PGPASSWORD).
#
#   my $bouncer = BMPgBouncer->start(pool_mode => 'transaction', pool_size => 2);
#   my $url = $bouncer->url($dbname);     # a libpq URL through it
#   $bouncer->stop;                       # also done when the object goes
#
# It listens on a free port of 127.0.0.1 (no Unix socket), lets the server's
# user in without a password (auth_type trust) and logs in to the server
# with PGPASSWORD.  PgBouncer refuses to run as root, so as root it runs as
# the postgres user (-u), its files in a temporary directory that user owns.
package BMPgBouncer;

use strict;
use warnings;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep);

# a TCP port of 127.0.0.1 that nothing listens on now
sub free_port
{
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp', Listen => 1)
	  or die "cannot find a free port: $!";
	my $port = $s->sockport;
	close $s;
	return $port;
}

# Start a PgBouncer: pool_mode (session, transaction, statement; default
# transaction), pool_size (server connections per database and user;
# default 2), max_client_conn (default 200).  Dies when it does not come up.
sub start
{
	my ($class, %opt) = @_;
	my $self = bless {
		pool_mode => $opt{pool_mode} // 'transaction',
		pool_size => $opt{pool_size} // 2,
		user => $ENV{PGUSER} // 'postgres',
		dir => tempdir(CLEANUP => 1),
	}, $class;
	my $dir = $self->{dir};
	my $host = $ENV{PGHOST} // 'localhost';
	my $server_port = $ENV{PGPORT} // 5432;
	my $password = $ENV{PGPASSWORD} // '';
	$host = '127.0.0.1' if $host eq 'localhost';
	$self->{port} = free_port();

	(my $quoted = $password) =~ s/"/""/g;
	write_file("$dir/userlist.txt", qq{"$self->{user}" "$quoted"\n});
	write_file("$dir/pgbouncer.ini", <<"INI");
[databases]
* = host=$host port=$server_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $self->{port}
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = $self->{pool_mode}
default_pool_size = $self->{pool_size}
max_client_conn = @{[ $opt{max_client_conn} // 200 ]}
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
	my @cmd = ('pgbouncer');
	if ($> == 0)
	{
		my (undef, undef, $uid, $gid) = getpwnam('postgres') or die "no postgres user to run PgBouncer as\n";
		chown $uid, $gid, $dir, glob("$dir/*");
		push @cmd, '-u', 'postgres';
	}
	push @cmd, "$dir/pgbouncer.ini";
	my $pid = fork // die "fork: $!";
	if ($pid == 0)
	{
		open(STDOUT, '>', "$dir/stdout") or die;
		open(STDERR, '>&', \*STDOUT) or die;
		exec @cmd or die "exec pgbouncer: $!";
	}
	$self->{pid} = $pid;
	for (1 .. 200)
	{
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Proto => 'tcp');
		if ($s) { close $s; return $self; }
		last if waitpid($pid, WNOHANG) == $pid;
		sleep 0.05;
	}
	my $log = $self->log;
	$self->stop;
	die "PgBouncer did not start:\n$log\n";
}

sub write_file
{
	my ($file, $text) = @_;
	open(my $fh, '>', $file) or die "cannot write $file: $!";
	print $fh $text;
	close $fh;
}

# a libpq URL of database dbname through this PgBouncer
sub url
{
	my ($self, $dbname) = @_;
	return "postgresql://$self->{user}\@127.0.0.1:$self->{port}/$dbname?sslmode=disable";
}

# the port it listens on
sub port { return $_[0]{port}; }

# what it logged (its log file and its own output)
sub log
{
	my ($self) = @_;
	my $text = '';
	for my $f ("$self->{dir}/pgbouncer.log", "$self->{dir}/stdout")
	{
		open(my $fh, '<', $f) or next;
		local $/;
		$text .= <$fh> // '';
	}
	return $text;
}

# stop it and wait until it is gone
sub stop
{
	my ($self) = @_;
	my $pid = delete $self->{pid} or return;
	kill 'TERM', $pid;
	for (1 .. 100)
	{
		return if waitpid($pid, WNOHANG) == $pid;
		sleep 0.05;
	}
	kill 'KILL', $pid;
	waitpid($pid, 0);
}

sub DESTROY { $_[0]->stop; }

1;
