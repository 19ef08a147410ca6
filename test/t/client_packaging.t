# How libbasemodel is packaged, as installed: the shared library exports
# exactly the functions basemodel.h declares; the header and the libuv adapter
# compile in a C++ translation unit; the static library links through
# pkg-config and hides its internal names, so a program may have functions
# of the same names.
use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;

my $tmp = tempdir(CLEANUP => 1);
chomp(my $libdir = `pkg-config --variable=libdir basemodel`);
chomp(my $incdir = `pkg-config --variable=includedir basemodel`);
ok($libdir ne '', 'pkg-config finds basemodel') or BAIL_OUT('basemodel is not installed');

# run a command; its output (stdout and stderr) and whether it exited 0
sub run
{
	my $out = `@_ 2>&1`;
	return ($out, $? == 0);
}

# functions declared in the header
open(my $h, '<', "$incdir/basemodel.h") or die "basemodel.h: $!";
my %declared = map { $_ => 1 } do { local $/; <$h> } =~ /\b(bm_[a-z0-9_]+)\s*\(/g;
my ($nm) = run("nm -D --defined-only $libdir/libbasemodel.so");
my %exported = map { $_ => 1 } $nm =~ /^\S+\s+T\s+(\S+)$/mg;
is_deeply([ sort keys %exported ], [ sort keys %declared ],
	'the shared library exports exactly the functions basemodel.h declares');

# C++: the header and the libuv adapter, with warnings as errors
open(my $cc, '>', "$tmp/uv.cc") or die;
print $cc <<'CXX';
#include <basemodel.h>
#include <basemodel/adapters/libuv.h>
int main()
{
	bm_engine *e = bm_engine_create("dbname=none host=/nonexistent", nullptr, nullptr);
	int rc = bm_libuv_attach(e, uv_default_loop());
	bm_engine_free(e);
	uv_run(uv_default_loop(), UV_RUN_DEFAULT);
	return rc == 0 ? 0 : 1;
}
CXX
close($cc);
my ($out, $ok) = run("g++ -std=c++11 -Wall -Wextra -Werror -o $tmp/uv $tmp/uv.cc"
	  . " \$(pkg-config --cflags --libs basemodel libuv)");
ok($ok, 'basemodel.h and the libuv adapter compile and link in C++') or diag($out);
($out, $ok) = run("$tmp/uv");
ok($ok, 'the C++ program attaches an engine to libuv and frees it') or diag($out);

# static: the archive, linked with pkg-config's flags, next to a program with
# functions named like the library's internal ones
open(my $c, '>', "$tmp/clash.c") or die;
print $c <<'C';
#include <stdio.h>
#include <basemodel.h>
long now_ms(void) { return 7; }
int pool_pick(void) { return 8; }
int err_set(void) { return 9; }
int main(void)
{
	bm_error err;
	bm_engine *e = bm_engine_create("dbname=none host=/nonexistent", NULL, &err);

	printf("%s %ld %d %d %s\n", bm_version(), now_ms(), pool_pick(), err_set(), e ? "engine" : err.message);
	bm_engine_free(e);
	return 0;
}
C
close($c);
# Debian's libpq.pc lists static libraries it does not ship, so libpq stays shared
($out, $ok) = run("cc -Wall -Werror -o $tmp/clash $tmp/clash.c \$(pkg-config --cflags basemodel)"
	  . " -Wl,-Bstatic \$(pkg-config --static --libs-only-l basemodel | grep -o -- -lbasemodel) -Wl,-Bdynamic"
	  . " \$(pkg-config --static --libs-only-L basemodel) \$(pkg-config --libs libpq)");
ok($ok, 'the static library links, beside functions named like its internal ones') or diag($out);
($out) = run("$tmp/clash");
like($out, qr/^\d+\.\d+\.\d+ 7 8 9 engine$/, 'the statically linked program runs with its own functions')
  or diag($out);
($out) = run("ldd $tmp/clash");
unlike($out, qr/libbasemodel/, 'and does not load the shared library');

done_testing();
