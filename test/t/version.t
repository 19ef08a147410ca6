#!/usr/bin/perl
# One version: the VERSION file (MAJOR.MINOR.PATCH) is what basemodel.h's
# BM_VERSION macros, META.json, the control file (MAJOR.MINOR, the
# extension's version) and the installed library, .pc and extension say.
# Runs against the server named by the PG* environment variables, in a
# scratch database it drops.
use strict;
use warnings;
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;

my $tmp = tempdir(CLEANUP => 1);
my $db = "basemodel_version_$$";

# the contents of a file
sub slurp
{
	my ($path) = @_;
	open(my $fh, '<', $path) or die "$path: $!";
	local $/;
	return <$fh>;
}

chomp(my $version = slurp('VERSION'));
like($version, qr/^\d+\.\d+\.\d+$/, 'VERSION holds MAJOR.MINOR.PATCH') or BAIL_OUT("VERSION: $version");
my ($major, $minor, $patch) = split /\./, $version;
my $extversion = "$major.$minor";

my $h = slurp('client/include/basemodel.h');
my %macro = $h =~ /^#define (BM_VERSION(?:_MAJOR|_MINOR|_PATCH)?) "?([^"\s]+)"?$/mg;
is_deeply(\%macro, { BM_VERSION_MAJOR => $major, BM_VERSION_MINOR => $minor, BM_VERSION_PATCH => $patch,
		BM_VERSION => $version }, 'basemodel.h: BM_VERSION_MAJOR, _MINOR, _PATCH and BM_VERSION');

my $meta = decode_json(slurp('META.json'));
is($meta->{version}, $version, 'META.json: the distribution version');
is($meta->{provides}{basemodel}{version}, $version, 'META.json: the extension it provides');
ok(-f $meta->{provides}{basemodel}{file}, "META.json's file exists ($meta->{provides}{basemodel}{file})");

like(slurp('extension/basemodel.control'), qr/^default_version = '\Q$extversion\E'$/m,
	"the control file's default_version is MAJOR.MINOR ($extversion)");
ok(-f "sql/basemodel--$extversion.sql", "its install script sql/basemodel--$extversion.sql exists");

# what make install put on the machine
chomp(my $modversion = `pkg-config --modversion basemodel`);
is($modversion, $version, 'pkg-config --modversion basemodel');
chomp(my $libdir = `pkg-config --variable=libdir basemodel`);
is(readlink("$libdir/libbasemodel.so.0"), "libbasemodel.so.$version", 'the installed libbasemodel.so.0 is this version');
open(my $c, '>', "$tmp/v.c") or die;
print $c qq{#include <stdio.h>\n#include <basemodel.h>\nint main(void) { printf("%s\\n", bm_version()); return 0; }\n};
close($c);
my $out = `cc -o $tmp/v $tmp/v.c \$(pkg-config --cflags --libs basemodel) 2>&1 && $tmp/v`;
is($out, "$version\n", 'bm_version() of the installed library');

system('createdb', $db) == 0 or BAIL_OUT("cannot create database $db");
$out = `psql -X -qAt -d $db -c 'CREATE EXTENSION basemodel' -c "SELECT extversion FROM pg_extension WHERE extname = 'basemodel'" 2>&1`;
is($out, "$extversion\n", 'CREATE EXTENSION installs MAJOR.MINOR');
system('dropdb', '--if-exists', $db);

done_testing();
