# The demo bot end to end: examples/bot/bot against the stand-in for the Bot
# API (examples/bot/standin), on scratch databases.  First the demo's
# conversation (examples/bot/conversation.json), stopped with SIGTERM half
# way and started again; then a crash (SIGKILL) while a reply is on its way,
# and database connections cut under the bot.  The checks read the database
# and what the stand-in recorded.
use strict;
use warnings;
use Encode qw(encode);
use File::Temp qw(tempdir);
use FindBin;
use lib "$FindBin::Bin/lib";
use BMTest qw(psql);
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep);

my $top = "$FindBin::Bin/../..";
my $dir = "$top/examples/bot";
my $json = JSON::PP->new->utf8;
my $tmp = tempdir(CLEANUP => 1);
my $base = $ENV{BM_URL_BASE} // die "BM_URL_BASE is not set: run through test/run\n";
my @dbs = ("basemodel_bot_$$", "basemodel_bot_crash_$$");
my $url = $base . $dbs[0];

system('make', '-s', '-C', $dir, 'bot') == 0 or BAIL_OUT('cannot build examples/bot');
for (@dbs) { system('createdb', $_) == 0 or BAIL_OUT("cannot create database $_"); }

my @children;
END {
	kill 'KILL', $_ for @children;
	system('dropdb', '--if-exists', $_) for @dbs;
}

# One value or rows of a query, as psql prints them unaligned.
sub sql { return psql($url, $_[0]); }

sub sql_file {
	my ($query) = @_;
	my $file = "$tmp/query.sql";
	open(my $fh, '>:encoding(UTF-8)', $file) or die;
	print $fh $query;
	close $fh;
	open($fh, '-|', 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $url, '-f', $file) or die "psql: $!";
	local $/;
	my $out = <$fh> // '';
	close $fh;
	$out =~ s/\n+\z//;
	return $out;
}

sub spawn {
	my ($out, @cmd) = @_;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open(STDOUT, '>', $out) or die;
		open(STDERR, '>&', \*STDOUT) or die;
		exec @cmd or die "exec $cmd[0]: $!";
	}
	push @children, $pid;
	return $pid;
}

my $record;
sub events {
	open(my $fh, '<', $record) or return ();
	return map { $json->decode($_) } <$fh>;
}

# Start a stand-in serving SCRIPT to a bot on database URL; NAME names its files.
sub start_standin {
	my ($name, $script) = @_;
	$record = "$tmp/$name.jsonl";
	my $pid = spawn("$tmp/$name.standin.out", "$dir/standin", '--script', $script,
		'--record', $record, '--port-file', "$tmp/$name.port", '--check-db', $url);
	for (1 .. 100) { last if -s "$tmp/$name.port"; sleep 0.05; }
	-s "$tmp/$name.port" or BAIL_OUT('the stand-in did not start');
	my $port = do { open(my $fh, '<', "$tmp/$name.port") or die; <$fh> };
	chomp $port;
	$ENV{DATABASE_URL} = $url;
	$ENV{BOT_API_URL} = "http://127.0.0.1:$port";
	$ENV{BOT_TOKEN} = 'demo-token';
	return $pid;
}

start_standin('demo', "$dir/conversation.json");

# Run the bot until the stand-in records an entry for which WANT is true,
# then send it SIGNAL (TERM); its exit status.
sub run_bot_until {
	my ($event, $out, $signal, $want, @wrapper) = @_;
	$want //= sub { ($_[0]{event} // '') eq $event };
	my $pid = spawn($out, @wrapper, "$dir/bot");
	my $reached = 0;
	for (1 .. 600) {
		if (grep { $want->($_) } events()) { $reached = 1; last; }
		last if waitpid($pid, WNOHANG) == $pid;
		sleep 0.1;
	}
	ok($reached, "the conversation reaches \"$event\"") or diag(slurp($out));
	kill $signal // 'TERM', $pid;
	waitpid($pid, 0);
	@children = grep { $_ != $pid } @children;
	return $?;
}

# From a run's summary: the engine's round trips cover one per update (its
# session's statements and commit, pipelined), two per reply (marked
# "sending", then "sent") and four to start and stop -- not one per statement.
sub pipelined {
	my ($out) = @_;
	my $text = slurp($out);
	my ($handled, $sent) = $text =~ /^-- stopped: (\d+) updates handled.*, (\d+) replies sent/m;
	my ($trips) = $text =~ /^-- database: (\d+) round trips/m;
	ok(defined $trips && $handled > 0 && $trips <= $handled + 2 * $sent + 4,
		'each update is stored in one round trip: statements and commit pipelined')
	  or diag("updates $handled, replies $sent, round trips " . ($trips // 'not reported'));
}

sub slurp { open(my $fh, '<', shift) or return ''; local $/; return <$fh>; }

# --- first run, up to the checkpoint -----------------------------------------------
my $status = run_bot_until('checkpoint', "$tmp/bot1.out");
is($status, 0, 'SIGTERM: the bot finishes what is in flight and exits 0');
pipelined("$tmp/bot1.out");

my ($checkpoint) = grep { ($_->{event} // '') eq 'checkpoint' } events();
my $stored_max = sql('SELECT max(update_id) FROM bot.updates');
is($stored_max + 1, $checkpoint->{next_update_id},
	'at the stop, the last stored update_id is the last update served');
my $question_before = sql("SELECT created_at || ' ' || updated_at FROM bot.messages"
	. " WHERE chat_tg_id = -1001987654321 AND message_id = 5100");
like($question_before, qr/\d/, 'the message that will be edited is stored');

# --- second run, to the end --------------------------------------------------------------
# The second run is under valgrind: no invalid access, no leak (exit 99 otherwise).
my @valgrind = system('valgrind --version >/dev/null 2>&1') == 0
  ? ('valgrind', '-q', '--error-exitcode=99', '--leak-check=full', '--errors-for-leak-kinds=definite') : ();
diag('valgrind is missing: the second run is not checked for memory errors') unless @valgrind;
$status = run_bot_until('done', "$tmp/bot2.out", 'TERM', undef, @valgrind);
is($status, 0, 'SIGTERM after the restart: exit 0 again' . (@valgrind ? ', with no memory error under valgrind' : ''))
  or diag(slurp("$tmp/bot2.out"));
pipelined("$tmp/bot2.out");

my @events = events();
my @requests = grep { $_->{method} } @events;
my @released = map { @{ $_->{updates} } } grep { ($_->{event} // '') eq 'released' } @events;
my @sends = grep { $_->{method} eq 'sendMessage' && $_->{status} == 200 } @requests;

# restart resumes at the stored offset
my @gets = grep { $_->{method} eq 'getUpdates' } @requests;
my ($hello) = grep { $_->{method} eq 'getMe' && $_->{released_checkpoint} } @requests;
my ($first_after) = grep { $_->{t} > $hello->{t} } @gets;
is($first_after->{params}{offset}, $stored_max + 1,
	'after the restart, the first getUpdates asks from the stored last update_id + 1');

# every update stored once
my %served = map { $_->{update_id} => $_ } @released;
my $stored = sql('SELECT string_agg(update_id::text, \' \' ORDER BY update_id) FROM bot.updates');
is($stored, join(' ', sort { $a <=> $b } keys %served), 'every update served is stored exactly once');

# the server error was survived: the same offset asked again, then the script went on
my ($error_at) = grep { $_->{method} eq 'getUpdates' && $_->{status} == 500 } @requests;
ok($error_at, 'the stand-in answered one getUpdates with HTTP 500');
my ($after_error) = grep { $_->{method} eq 'getUpdates' && $_->{t} > $error_at->{t} } @requests;
is($after_error->{params}{offset}, $error_at->{params}{offset},
	'after the 500 the bot asks again from the same offset (nothing lost, nothing skipped)');
my $logs = slurp("$tmp/bot1.out") . slurp("$tmp/bot2.out");
is(scalar(() = $logs =~ /^bot: getUpdates: HTTP 500/mg), 1, 'the 500 is logged on one line');

# the malformed update
my ($malformed) = grep { ref $_->{message} eq 'HASH' && ($_->{message}{message_id} // '') eq 'seven' } @released;
is(sql("SELECT kind || ' ' || reply_state FROM bot.updates WHERE update_id = $malformed->{update_id}"),
	'malformed none', 'the malformed update is stored as malformed and not answered');
is(scalar(() = $logs =~ /^bot: update $malformed->{update_id} is malformed/mg), 1,
	'the malformed update is logged on one line');
ok(sql("SELECT raw->'message'->>'message_id' FROM bot.updates WHERE update_id = $malformed->{update_id}") eq 'seven',
	'the malformed update is kept as it came');

# replies: one per message, none for edits or the malformed update, each after its commit
my @messages = grep { ref $_->{message} eq 'HASH' && $_ != $malformed } @released;
my %sends_for;
push @{ $sends_for{"$_->{params}{chat_id}/$_->{reply_to}"} }, $_ for @sends;
my @unanswered = grep { @{ $sends_for{"$_->{message}{chat}{id}/$_->{message}{message_id}"} // [] } != 1 } @messages;
is(scalar @unanswered, 0, 'every message got exactly one reply')
  or diag('not answered once: ' . join(' ', map { $_->{update_id} } @unanswered));
is(scalar @sends, scalar @messages, 'no other reply was sent (none for the edit or the malformed update)');
my @early = grep { ($_->{db_reply_state} // '') ne 'sending' } @sends;
is(scalar @early, 0, 'every reply arrived after its transaction committed (another connection saw it "sending")')
  or diag(join "\n", map { "reply to $_->{reply_to}: $_->{db_reply_state}" } @early);
is(sql("SELECT count(*) FROM bot.updates WHERE kind = 'message' AND reply_state <> 'sent'"), 0,
	'every reply is marked sent in the database');

# edits move updated_at and keep created_at
my ($created_before, $updated_before) = $question_before =~ /^(.+?) (\d{4}-.+)$/;
my $question_after = sql("SELECT created_at || '|' || updated_at || '|' || text || '|' || (edited_at IS NOT NULL)"
	. " FROM bot.messages WHERE chat_tg_id = -1001987654321 AND message_id = 5100");
my ($created_after, $updated_after, $text, $edited) = split /\|/, $question_after;
is($created_after, $created_before, 'the edit kept created_at');
ok(sql("SELECT '$updated_after'::timestamptz > '$updated_before'::timestamptz") eq 't',
	'the edit moved updated_at') or diag("before $updated_before, after $updated_after");
is("$text|$edited", 'Has everyone finished chapter 4?|true', 'the edit changed the text and set edited_at');

# /me is basemodel.to_dict of the user's row, without the hidden column
my @me = grep { $_->{params}{text} =~ /^\{/ } @sends;
is(scalar @me, 2, 'two /me replies');
for my $reply (@me) {
	my $user = $json->decode(encode('UTF-8', $reply->{params}{text}));
	my $text_sql = $reply->{params}{text} =~ s/'/''/gr;
	is(sql_file("SELECT '$text_sql'::jsonb = basemodel.to_dict(u) FROM bot.users u WHERE tg_id = $user->{tg_id}"),
		't', "/me of user $user->{tg_id} equals basemodel.to_dict of the row");
	ok(!exists $user->{language_code} && exists $user->{created_at} && exists $user->{updated_at} && exists $user->{id},
		"/me of user $user->{tg_id} has the base columns and not the hidden language_code");
}

# /forget and /stats
my ($forget) = grep { $_->{params}{text} =~ /^Done: I forgot/ } @sends;
like($forget->{params}{text}, qr/forgot 5 of your messages/, "/forget deleted Bob's five messages");
is(sql('SELECT count(*) FROM bot.messages WHERE user_tg_id = 222222222'), 2,
	'after /forget only what Bob said later is kept');
my @stats = map { $_->{params}{text} } grep { $_->{params}{text} =~ / in this chat: / } @sends;
is_deeply(\@stats, ['5 messages in this chat: Bob 2, Chen 2, Alice 1.', '1 message in this chat: Bob 1.',
	'6 messages in this chat: Chen 3, Alice 2, Bob 1.'], '/stats counts the messages of the chat');

# the base columns come from basemodel, not from the bot's DDL
for my $table (qw(users chats messages updates)) {
	is(sql("SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'bot.$table'::regclass"
		. " AND attnum > (SELECT max(attnum) FROM pg_attribute WHERE attrelid = 'bot.$table'::regclass"
		. "  AND NOT attisdropped AND attname NOT IN ('id', 'created_at', 'updated_at'))"), 'id,created_at,updated_at',
		"bot.$table gets id, created_at, updated_at from basemodel.register, after its own columns");
}

# --- a crash while a reply is on its way, and connections cut ---------------------------
$url = $base . $dbs[1];
my $script = {
	bot => { id => 7000000002, first_name => 'Crash Test', username => 'crash_test_bot' },
	first_update_id => 5001,
	users => { alice => { id => 111111111, first_name => 'Alice', language_code => 'en' } },
	chats => {},
	steps => [
		{ say => [ { from => 'alice', chat => 'alice', text => '/start' } ] },
		{ say => [ { from => 'alice', chat => 'alice', text => 'Are you there?', stall_reply => JSON::PP::true } ] },
		{ checkpoint => 'crash' },
		{ say => [ { from => 'alice', chat => 'alice', text => '/stats' } ] },
		{ sql => "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
			. " WHERE application_name = 'basemodel-demo-bot' AND datname = current_database()" },
		{ say => [ { from => 'alice', chat => 'alice', text => 'Still there?' } ] },
		{ checkpoint => 'window' },
		{ say => [ { from => 'alice', chat => 'alice', text => 'Last one' } ] },
	],
};
open(my $fh, '>', "$tmp/crash.json") or die;
print $fh $json->encode($script);
close $fh;
start_standin('crash', "$tmp/crash.json");

$status = run_bot_until('a stalled reply', "$tmp/crash1.out", 'KILL', sub { $_[0]{stalled} });
is($status & 127, 9, 'the bot is killed (SIGKILL) while its reply to update 5002 is in flight');
my ($stalled) = grep { $_->{stalled} } events();
is($stalled->{db_reply_state}, 'sending', 'the stalled reply had been marked "sending" and committed before it left');

$status = run_bot_until('window', "$tmp/crash2.out", 'TERM', sub { ($_[0]{name} // '') eq 'window' });
is($status, 0, 'the restarted bot stops with exit 0');
@events = events();
@sends = grep { ($_->{method} // '') eq 'sendMessage' } @events;
my @to_stalled = grep { $_->{reply_to} == $stalled->{reply_to} } @sends;
is(scalar @to_stalled, 1, 'the reply that may have been delivered is not sent again after the restart');
is(sql("SELECT reply_state FROM bot.updates WHERE update_id = 5002"), 'unknown',
	'its state says it may or may not have been delivered');
$logs = slurp("$tmp/crash2.out");
is(scalar(() = $logs =~ /^bot: reply to update 5002 was being sent when the bot stopped/mg), 1,
	'the restart logs that reply on one line');
my ($cut) = grep { ($_->{event} // '') eq 'sql' } @events;
cmp_ok($cut->{output}, '>=', 1, "the bot's database connections were cut (pg_terminate_backend)");
is(sql('SELECT string_agg(update_id || kind || reply_state, \' \' ORDER BY update_id) FROM bot.updates'),
	'5001messagesent 5002messageunknown 5003messagesent 5004messagesent',
	'every update is stored once and answered once, also the one after the connections were cut');
is(scalar(grep { $_->{status} == 200 } @sends), 3, 'three replies delivered in all: one per answered update');

# The other crash window: after the commit, before the reply is marked
# "sending".  A trigger holds the bot's "sending" UPDATE in the database
# while the bot is killed, so the reply stays "pending": never attempted.
sql("CREATE FUNCTION public.hold_sending() RETURNS trigger LANGUAGE plpgsql AS"
	. " \$\$BEGIN PERFORM pg_sleep(60); RETURN NEW; END\$\$");
sql("CREATE TRIGGER hold_sending BEFORE UPDATE ON bot.updates FOR EACH ROW"
	. " WHEN (OLD.reply_state = 'pending' AND NEW.reply_state = 'sending') EXECUTE FUNCTION public.hold_sending()");
my $bot = spawn("$tmp/crash3.out", "$dir/bot");
my $held;
for (1 .. 300) {
	$held = sql("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
		. " AND application_name = 'basemodel-demo-bot' AND wait_event = 'PgSleep'");
	last if $held;
	sleep 0.1;
}
ok($held, 'the bot has stored update 5005 and is marking its reply "sending"') or diag(slurp("$tmp/crash3.out"));
kill 'KILL', $bot;
waitpid($bot, 0);
@children = grep { $_ != $bot } @children;
sql("SELECT pg_terminate_backend($held)") if $held;
sql('DROP TRIGGER hold_sending ON bot.updates');
sql('DROP FUNCTION public.hold_sending()');
is(sql('SELECT reply_state FROM bot.updates WHERE update_id = 5005'), 'pending',
	'killed there, the reply is committed as "pending"');

$status = run_bot_until('the pending reply', "$tmp/crash4.out", 'TERM',
	sub { ($_[0]{method} // '') eq 'sendMessage' && $_[0]{params}{text} eq 'Last one' });
is($status, 0, 'the bot started again stops with exit 0') or diag(slurp("$tmp/crash4.out"));
@sends = grep { ($_->{method} // '') eq 'sendMessage' && $_->{params}{text} eq 'Last one' } events();
is(scalar @sends, 1, 'the pending reply is sent once after the restart');
is($sends[0]{db_reply_state}, 'sending', 'and marked "sending" before it left');
is(sql('SELECT reply_state FROM bot.updates WHERE update_id = 5005'), 'sent', 'and marked "sent" after');

done_testing();
