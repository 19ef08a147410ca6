#!/usr/bin/perl
# Building and installing libbasemodel like a library: `make -C client` in a
# scratch copy of the tree needs a compiler and libpq only (no pg_config, no
# server headers); `make install` after a plain `make` honours PREFIX and
# DESTDIR, writes a .pc that names the install's PREFIX, installs man pages
# that `man` renders; a program compiles and links against the installed .pc;
# `make uninstall` removes everything install put there; a user who is not
# root installs into a PREFIX of their own.  And the top-level
# `make install DESTDIR=... PREFIX=/usr` stages both halves, and a VPATH build
# with WITH_CLIENT=no the extension alone, as package builds do.
use strict;
use warnings;
use Cwd qw(getcwd);
use File::Find;
use File::Temp qw(tempdir);
use Test::More;

my $top = getcwd();
my $tmp = tempdir(CLEANUP => 1);

# run a shell command; its output (stdout and stderr) and whether it exited 0
sub run
{
	my ($cmd) = @_;
	my $out = `$cmd 2>&1`;
	return ($out, $? == 0);
}

# the files and symbolic links under a directory, relative to it, sorted
sub tree
{
	my ($dir) = @_;
	my @found;
	return () unless -d $dir;
	find({ no_chdir => 1, wanted => sub { push @found, substr($_, length($dir) + 1) if -f $_ || -l $_ } }, $dir);
	return sort @found;
}

chomp(my $version = `cat $top/VERSION`);
my @adapters = map { s{.*/}{}r } glob("$top/client/adapters/*.h");
my @pages = map { s{.*/}{}r } glob("$top/client/man/*.3");
ok(grep({ $_ eq 'bm_engine_create.3' } @pages), 'the build made man pages') or diag("pages: @pages");

# a scratch copy of what the client build reads, without build products
my $src = "$tmp/src";
my ($out, $ok) = run("mkdir -p $src && cp -r $top/VERSION $top/client $src/ && make -s -C $src/client clean");
ok($ok, 'a scratch copy of client/ and VERSION') or BAIL_OUT($out);

# The build may not ask pg_config (PostgreSQL's server-side build tool)
# anything, and no compile line may name the server's include directory.
chomp(my $server_inc = `pg_config --includedir-server`);
($out, $ok) = run("make -C $src/client PG_CONFIG=/nonexistent/pg_config");
ok($ok, 'make -C client builds with a compiler and libpq, without pg_config') or diag($out);
my @compiles = grep { /\s-c\s/ } split /\n/, $out;
ok(@compiles > 0, 'make -C client prints its compile lines') or diag($out);
is_deeply([ grep { /\Q$server_inc\E|postgresql\/\d+\/server|clang/ } @compiles ], [],
	"no compile line uses the server headers ($server_inc) or clang");

# install after a plain make: DESTDIR staging with another PREFIX
my $stage = "$tmp/stage";
($out, $ok) = run("make -C $src/client install PREFIX=/opt/x DESTDIR=$stage");
ok($ok, 'make install PREFIX=/opt/x DESTDIR=... after make') or diag($out);
is_deeply([ tree($stage) ], [ sort(
	'opt/x/include/basemodel.h',
	(map { "opt/x/include/basemodel/adapters/$_" } @adapters),
	"opt/x/lib/libbasemodel.so.$version", 'opt/x/lib/libbasemodel.so.0', 'opt/x/lib/libbasemodel.so',
	'opt/x/lib/libbasemodel.a', 'opt/x/lib/pkgconfig/basemodel.pc',
	(map { "opt/x/share/man/man3/$_" } @pages)) ],
	'DESTDIR holds the header, the adapters, the libraries, the .pc and the man pages under PREFIX');
is(readlink("$stage/opt/x/lib/libbasemodel.so.0"), "libbasemodel.so.$version", 'libbasemodel.so.0 links to the versioned file');
is(readlink("$stage/opt/x/lib/libbasemodel.so"), 'libbasemodel.so.0', 'libbasemodel.so links to the SONAME');
($out) = run("readelf -d $stage/opt/x/lib/libbasemodel.so.$version");
like($out, qr/\(SONAME\)\s+Library soname: \[libbasemodel\.so\.0\]/, 'the SONAME is libbasemodel.so.0');
my $pc = do { local (@ARGV, $/) = ("$stage/opt/x/lib/pkgconfig/basemodel.pc"); <> } // '';
like($pc, qr{^prefix=/opt/x$}m, 'the .pc says the PREFIX of the install, not of the build');
like($pc, qr{^libdir=/opt/x/lib$}m, 'and its libdir');
like($pc, qr{^Version: \Q$version\E$}m, 'and the VERSION file\'s version');
($out, $ok) = run("make -C $src/client uninstall PREFIX=/opt/x DESTDIR=$stage");
ok($ok, 'make uninstall with the same PREFIX and DESTDIR') or diag($out);
is_deeply([ tree($stage) ], [], 'uninstall removes every file install put in DESTDIR');

# a real install under a PREFIX, used through pkg-config like any library
my $prefix = "$tmp/prefix";
($out, $ok) = run("make -C $src/client install PREFIX=$prefix");
ok($ok, 'make install PREFIX=<scratch>') or diag($out);
open(my $c, '>', "$tmp/hello.c") or die;
print $c <<'C';
#include <stdio.h>
#include <string.h>
#include <basemodel.h>
int main(void)
{
	bm_error err;
	bm_engine *e = bm_engine_create("dbname=none host=/nonexistent", NULL, &err);

	printf("%s %s %d\n", bm_version(), BM_VERSION, BM_VERSION_NUMBER >= BM_MAKE_VERSION(0, 1, 0));
	bm_engine_free(e);
	return strcmp(bm_version(), BM_VERSION) != 0;
}
C
close($c);
my $pkg = "PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config";
($out, $ok) = run("cc -Wall -Werror -o $tmp/hello $tmp/hello.c \$($pkg --cflags --libs basemodel)");
ok($ok, 'a program compiles and links against the installed basemodel.pc') or diag($out);
($out, $ok) = run("LD_LIBRARY_PATH=$prefix/lib $tmp/hello");
is($out, "$version $version 1\n", 'it runs on the installed library, whose bm_version() is BM_VERSION');
($out) = run("LD_LIBRARY_PATH=$prefix/lib ldd $tmp/hello");
like($out, qr{libbasemodel\.so\.0 => \Q$prefix\E/lib/libbasemodel\.so\.0}, 'and loads it from PREFIX');
($out, $ok) = run("MANPATH=$prefix/share/man MANWIDTH=200 man 3 bm_engine_create");
ok($ok, 'man 3 bm_engine_create finds the installed page') or diag($out);
like($out, qr/bm_engine_create - create an engine from a libpq URL/, 'its NAME line comes from the header comment');
like($out, qr/bm_engine \*bm_engine_create\(const char \*url, const bm_engine_options \*opts, bm_error \*err\);/,
	'its SYNOPSIS is the declaration');
($out) = run("MANWIDTH=200 man -l $prefix/share/man/man3/basemodel.3");
like($out, qr/Every accepted bm_session_execute/, 'basemodel(3) has the rules of the header');
like($out, qr/bm_session_open\(3\)/, 'and lists the functions');
($out, $ok) = run("make -C $src/client uninstall PREFIX=$prefix");
ok($ok, 'make uninstall PREFIX=<scratch>') or diag($out);
is_deeply([ tree($prefix) ], [], 'uninstall leaves no file behind');

# A user who is not root installs into a PREFIX of their own, with sbin on
# PATH: install may not run ldconfig, which only root can.
SKIP:
{
	skip 'not root: cannot switch to nobody', 3 if $> != 0;
	my ($setpriv) = grep { -x } map { "$_/setpriv" } split /:/, $ENV{PATH};
	skip 'setpriv is not installed', 3 unless $setpriv;
	my $user = "$tmp/user";
	($out, $ok) = run("chmod 755 $tmp && mkdir -p $user/src && cp -a $src/VERSION $src/client $user/src/"
		  . " && chown -R nobody:nogroup $user");
	ok($ok, 'a copy of the client build owned by nobody') or diag($out);
	($out, $ok) = run("$setpriv --reuid=nobody --regid=nogroup --clear-groups"
		  . " env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=$user"
		  . " make -C $user/src/client install PREFIX=$user/home");
	ok($ok, 'make install PREFIX=<home> as nobody, ldconfig on PATH') or diag($out);
	ok(-f "$user/home/lib/libbasemodel.so.$version", 'the library is installed under the home PREFIX');
}

# The top-level Makefile, as a package build runs it: the extension under
# pg_config's directories and the library under PREFIX, all inside DESTDIR.
my $pkgstage = "$tmp/pkg";
($out, $ok) = run("make -s -C $top install DESTDIR=$pkgstage PREFIX=/usr");
ok($ok, 'make install DESTDIR=... PREFIX=/usr at the top') or diag($out);
chomp(my $pkglibdir = `pg_config --pkglibdir`);
chomp(my $sharedir = `pg_config --sharedir`);
my @staged = tree($pkgstage);
my %staged = map { $_ => 1 } @staged;
ok($staged{ substr("$pkglibdir/basemodel.so", 1) }, 'the server module is staged in pg_config --pkglibdir')
  or diag(join("\n", @staged));
ok($staged{ substr("$sharedir/extension/basemodel.control", 1) }, 'the control file in pg_config --sharedir');
ok((grep { m{^\Q${\ substr($sharedir, 1)}\E/extension/basemodel--[\d.]+\.sql$} } @staged),
	'the SQL scripts beside it');
ok($staged{"usr/lib/libbasemodel.so.$version"} && $staged{'usr/include/basemodel.h'}
	  && $staged{'usr/lib/pkgconfig/basemodel.pc'} && $staged{'usr/share/man/man3/bm_engine_create.3'},
	'the library, header, .pc and man pages under /usr');
($out, $ok) = run("make -s -C $top uninstall DESTDIR=$pkgstage PREFIX=/usr");
ok($ok, 'make uninstall DESTDIR=... PREFIX=/usr at the top') or diag($out);
is_deeply([ tree($pkgstage) ], [], 'uninstall at the top removes both halves');

# pg_buildext's way: a VPATH build of a clean source tree in a directory of
# its own, extension only
my $clean = "$tmp/clean";
my $vpath = "$tmp/build-15";
my $extstage = "$tmp/ext";
mkdir $vpath or die;
($out, $ok) = run("mkdir $clean && cp -r $top/Makefile $top/VERSION $top/extension $top/sql $clean/"
	  . " && make -s -C $clean clean WITH_CLIENT=no");
ok($ok, 'a clean copy of the extension\'s sources') or diag($out);
($out, $ok) = run("make -s -C $vpath -f $clean/Makefile VPATH=$clean USE_PGXS=1 WITH_CLIENT=no"
	  . " && make -s -C $vpath -f $clean/Makefile VPATH=$clean USE_PGXS=1 WITH_CLIENT=no install DESTDIR=$extstage");
ok($ok, 'a VPATH build with WITH_CLIENT=no builds and stages the extension') or diag($out);
@staged = tree($extstage);
ok((grep { m{/basemodel\.so$} } @staged) && (grep { m{/extension/basemodel\.control$} } @staged),
	'it stages the server module and the control file') or diag(join("\n", @staged));
is_deeply([ grep { /libbasemodel|basemodel\.h|\.pc$|man3/ } @staged ], [], 'and nothing of the client library');

done_testing();
