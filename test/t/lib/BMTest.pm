# BMTest: what the TAP scripts in test/t share.
package BMTest;

use strict;
use warnings;
use Exporter qw(import);
use IO::Socket::INET;

our @EXPORT_OK = qw(psql free_port);

# Run SQL with psql in a database (a name or a libpq URL) and return its
# output, unaligned and tuples only, without surrounding white space; die
# with the statement when psql fails.  bytes => 1 returns the raw bytes (for
# a client encoding that is not UTF-8).
sub psql
{
	my ($db, $sql, %opt) = @_;
	open(my $fh, '-|', 'psql', '-X', '-qAt', '-v', 'ON_ERROR_STOP=1', '-d', $db, '-c', $sql)
	  or die "cannot run psql: $!";
	binmode($fh) if $opt{bytes};
	local $/;
	my $out = <$fh> // '';
	close($fh) or die "psql failed in $db: $sql\n";
	$out =~ s/^\s+|\s+$//g;
	return $out;
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

1;
