# BMTest: what the TAP scripts in test/t share.
package BMTest;

use strict;
use warnings;
use Exporter qw(import);

our @EXPORT_OK = qw(psql);

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

1;
