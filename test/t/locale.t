#!/usr/bin/perl
# Results do not depend on the caller's locale.  The throwaway cluster of
# `make test` is UTF8 with the C.UTF-8 locale, also when the caller has no
# LANG (run `env -u LANG -u LC_ALL make test` to see that check fail without
# the pin in scripts/with-server).  And the regress tests whose expected
# output holds non-ASCII names pass in a SQL_ASCII database (what initdb
# makes without a locale) run by `make installcheck` from a shell with
# LANG=C, where psql would count bytes, not characters.  Runs against the
# server named by the PG* environment variables, in a scratch database it
# drops.
use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;

my $tmp = tempdir(CLEANUP => 1);
my $db = "basemodel_locale_$$";

SKIP:
{
	skip 'DATABASE_URL names the server: its locale is its own', 1
	  unless ($ENV{BM_THROWAWAY_CLUSTER} // '') eq '1';
	my $out = `psql -X -qAt -d postgres -c 'SHOW server_encoding' -c 'SHOW lc_ctype' 2>&1`;
	is($out, "UTF8\nC.UTF-8\n", 'the throwaway cluster is UTF8 with the C.UTF-8 locale');
}

END
{
	local $?;
	system('dropdb', '--if-exists', $db);
}

# the database pg_regress would make, but SQL_ASCII (pg_regress's own
# settings for it, and the extension it loads)
my $setup = `psql -X -q -v ON_ERROR_STOP=1 -d postgres 2>&1 <<'SQL'
CREATE DATABASE $db TEMPLATE template0 ENCODING 'SQL_ASCII' LOCALE 'C';
ALTER DATABASE $db SET lc_messages TO 'C';
ALTER DATABASE $db SET lc_monetary TO 'C';
ALTER DATABASE $db SET lc_numeric TO 'C';
ALTER DATABASE $db SET lc_time TO 'C';
ALTER DATABASE $db SET bytea_output TO 'hex';
ALTER DATABASE $db SET timezone_abbreviations TO 'Default';
\\c $db
SET client_min_messages = warning;
CREATE EXTENSION basemodel;
SQL`;
is($?, 0, 'a SQL_ASCII database like the one pg_regress makes') or BAIL_OUT($setup);

my $out = `env -u LC_ALL -u LANGUAGE LANG=C make -s installcheck REGRESS="ddl partitioned register todict" ISOLATION= CONTRIB_TESTDB=$db EXTRA_REGRESS_OPTS="--use-existing --outputdir=$tmp" 2>&1`;
ok($? == 0, 'make installcheck with LANG=C in a SQL_ASCII database passes ddl, partitioned, register and todict')
  or diag($out, `head -80 $tmp/regression.diffs 2>/dev/null`);

done_testing();
