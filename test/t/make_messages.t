#!/usr/bin/perl
# What make says on a machine that lacks the build dependencies (simulated
# with a pg_config or compiler that does not exist): `make demo` and `make
# test` start without noise (they install the dependencies first), and a
# build stops with a message that names `make deps` instead of failing
# inside a compile line.  Dry runs (-n) and parse-time checks: nothing is
# built or installed.
use strict;
use warnings;
use Test::More;

# run make with arguments; its stdout, its stderr and whether it exited 0
sub make
{
	my ($args) = @_;
	my $out = `make --no-print-directory $args 2>/dev/null`;
	my $ok = $? == 0;
	my $err = `make --no-print-directory $args 2>&1 >/dev/null`;
	return ($out, $err, $ok);
}

for my $goal (qw(demo test))
{
	my ($out, $err, $ok) = make("-n $goal PG_CONFIG=/nonexistent/pg_config");
	ok($ok, "make -n $goal without pg_config") or diag($err);
	is($err, '', "make $goal without pg_config says nothing before it installs the dependencies");
	like($out, qr{^scripts/install-deps$}m, "make $goal installs the dependencies first");
}

my ($out, $err, $ok) = make('-n PG_CONFIG=/nonexistent/pg_config');
ok(!$ok, 'make without pg_config stops');
like($err, qr{/nonexistent/pg_config is not installed: run `make deps`}, 'and says to run make deps') or diag($err);

($out, $err, $ok) = make('-n CC=/nonexistent/cc');
ok(!$ok, 'make without a C compiler stops');
like($err, qr{the C compiler "/nonexistent/cc" is not installed: run `make deps`}, 'and says to run make deps')
  or diag($err);
is($out, '', 'before any compile line');

($out, $err, $ok) = make('-n -C client CC=/nonexistent/cc');
ok(!$ok, 'make -C client without a C compiler stops');
like($err, qr{the C compiler "/nonexistent/cc" is not installed: run `make deps`.*or install gcc and libpq-dev},
	'and names make deps and the two packages') or diag($err);

($out, $err, $ok) = make('-n -C client PKG_CONFIG=/nonexistent/pkg-config PG_CONFIG=/nonexistent/pg_config');
ok(!$ok, 'make -C client without libpq stops');
like($err, qr{libpq's headers are not installed.*libpq-dev}, 'and names libpq-dev') or diag($err);

done_testing();
