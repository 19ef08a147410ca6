#!/usr/bin/perl
# basemodel in a SQL_ASCII database (legal, and what initdb makes when LANG
# is unset): register, the trigger and to_dict work on non-ASCII names and
# data, byte for byte; the sequence of a partitioned table with a long
# non-ASCII name never ends inside a UTF-8 character.  Runs against the server
# named by the PG* environment variables, in a scratch database it drops.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use BMTest qw(psql);

my $db = "basemodel_sql_ascii_$$";

# Run SQL in the scratch database; return its output as bytes (unaligned,
# tuples only), die on error.
sub sql
{
	my ($sql) = @_;
	local $ENV{PGCLIENTENCODING} = 'SQL_ASCII';
	return psql($db, $sql, bytes => 1);
}

# whether bytes are well-formed UTF-8
sub is_utf8
{
	my ($bytes) = @_;
	return utf8::decode(my $copy = $bytes);
}

END
{
	local $?;
	system('dropdb', '--if-exists', $db);
}

system('psql', '-X', '-qAt', '-d', 'postgres', '-c',
	"CREATE DATABASE $db TEMPLATE template0 ENCODING 'SQL_ASCII' LOCALE 'C'") == 0
  or BAIL_OUT("cannot create the SQL_ASCII database $db");
is(sql('SHOW server_encoding'), 'SQL_ASCII', 'the scratch database is SQL_ASCII');
sql('SET client_min_messages = warning; CREATE EXTENSION basemodel');

# the source is UTF-8, as clients send it; psql passes the bytes through
my $table = "Bestellübersicht";
my $col = "größe";
sql(qq{CREATE TABLE "$table" ("$col" text, "geheim" text);
	SELECT basemodel.register('"$table"', hidden => '{geheim}');
	INSERT INTO "$table" VALUES ('straße', 'x')});
is(sql(qq{SELECT basemodel.to_dict(t) - 'created_at' - 'updated_at' FROM "$table" t}),
	qq({"id": 1, "$col": "straße"}),
	'to_dict gives non-ASCII column names and values byte for byte, without the hidden column');
is(sql(qq{SELECT basemodel.to_dict(t)::text = (to_jsonb(t) - 'geheim')::text FROM "$table" t}),
	't', 'to_dict equals to_jsonb minus the hidden column');
sql(qq{UPDATE "$table" SET "$col" = 'weg'});
is(sql(qq{SELECT updated_at > created_at FROM "$table"}), 't',
	'the trigger moves updated_at on a table with a non-ASCII name');
is(sql(q{SELECT count(*) FROM basemodel.models}), '1', 'basemodel.models lists it');

# A name longer than the sequence name's share of 63 bytes: the 30 bytes
# kept end in the middle of a two-byte "ü" (byte 30 is its first half).
my $long = ('x' x 29) . 'üüü_Ereignisse';
sql(qq{CREATE TABLE "$long" (k int, v text) PARTITION BY LIST (k);
	CREATE TABLE "${long}_1" PARTITION OF "$long" FOR VALUES IN (1);
	SELECT basemodel.register('"$long"')});
my $seq = sql(qq{SELECT pg_get_serial_sequence('"$long"', 'id')});
ok(is_utf8($seq), 'the id sequence of a long non-ASCII name is well-formed UTF-8')
  or diag("sequence: $seq");
like($seq, qr/^public\.x{29}_id_seq$/,
	'it is named by bytes, without the half character') or diag("sequence: $seq");
sql(qq{INSERT INTO "$long" (k, v) VALUES (1, 'ä')});
is(sql(qq{SELECT basemodel.to_dict(t) ->> 'v' FROM "$long" t}), 'ä',
	'a partition of the registered table takes rows and gives them back');

done_testing();
