#!/usr/bin/perl
# Results do not depend on the caller's locale.  The throwaway cluster of
# `make test` is UTF8 with the C.UTF-8 locale even when LANG is unset; and
# `make installcheck` from a shell with LANG=C (psql would count bytes, not
# characters) passes the regress tests whose expected output holds non-ASCII
# names.  Runs against the server named by the PG* environment variables.
use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;

my $tmp = tempdir(CLEANUP => 1);
my $db = "basemodel_locale_$$";

SKIP:
{
	skip 'DATABASE_URL names the server: its locale is its own', 2
	  unless ($ENV{BM_THROWAWAY_CLUSTER} // '') eq '1';
	my $out = `psql -X -qAt -d postgres -c 'SHOW server_encoding' -c 'SHOW lc_ctype' 2>&1`;
	is($out, "UTF8\nC.UTF-8\n", 'the throwaway cluster is UTF8 with the C.UTF-8 locale');
	$out = `env -u LC_ALL -u LANG -u LANGUAGE locale 2>&1`;
	like($out, qr/^LC_CTYPE="?POSIX"?$/m, 'a shell without LANG is in the POSIX locale, as on a bare Debian');
}

# pg_regress from a caller in the C locale: psql would count bytes, not
# characters, in a SQL_ASCII client encoding
my $out = `env -u LC_ALL -u LANGUAGE LANG=C make -s installcheck REGRESS="register todict" ISOLATION= CONTRIB_TESTDB=$db EXTRA_REGRESS_OPTS=--outputdir=$tmp 2>&1`;
my $ok = $? == 0;
ok($ok, 'make installcheck with LANG=C passes register and todict') or diag($out, `cat $tmp/regression.diffs 2>/dev/null | head -60`);
system('dropdb', '--if-exists', $db);

done_testing();
