/*
 * timeout.c
 *	  Timeouts are BM_ERR_TIMEOUT: a statement over statement_timeout_ms (the
 *	  connection stays usable), a server that never answers a statement (the
 *	  client-side guard drops the connection: BM_ERR_OUTCOME_UNKNOWN once the
 *	  COMMIT was sent), and a server that accepts the
 *	  TCP connection but never answers the handshake (connect_timeout_ms).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bmtest.h"

static bmt_rec off = {0},
			hang = {0},
			c2 = {0};

/* once the server's timeout is off, a statement that outlives the guard */
static void
on_timeout_off(bm_session *s, const bm_result *res, const bm_error *err, void *arg)
{
	bmt_result_cb(s, res, err, arg);
	bm_session_execute(s, "SELECT pg_sleep(4)", 0, NULL, bmt_result_cb, &hang);
	bm_session_commit(s, bmt_done_cb, &c2);
}

static void
test_statement_timeout(PGconn *check)
{
	bm_engine_options opts = {.pool_size = 1, .statement_timeout_ms = 300,
	.application_name = "bm_timeout_test"};
	bm_engine  *e = bmt_engine(&opts);
	bm_sessionmaker *m = bm_sessionmaker_create(e, NULL);
	bm_session *s = bm_session_open(m);
	bmt_rec		slow = {0},
				after = {0},
				r[3] = {{0}},
				c = {0};
	bm_engine_stats st;

	bm_engine_execute(e, "SELECT pg_sleep(10)", 0, NULL, bmt_result_cb, &slow);
	bm_engine_execute(e, "SELECT 42", 0, NULL, bmt_result_cb, &after);
	bm_engine_run(e);
	BMT_REC_IS(slow, BM_ERR_TIMEOUT, "statement timeout: a slow autocommit statement gets BM_ERR_TIMEOUT");
	TAP_STR_EQ(slow.sqlstate, "57014", "statement timeout: with the server's SQLSTATE 57014");
	BMT_REC_IS(after, BM_OK, "statement timeout: the next statement runs");
	TAP_STR_EQ(after.value, "42", "statement timeout: and answers");

	bm_session_execute(s, "SELECT 1", 0, NULL, bmt_result_cb, &r[0]);
	bm_session_execute(s, "SELECT pg_sleep(10)", 0, NULL, bmt_result_cb, &r[1]);
	bm_session_execute(s, "SELECT 2", 0, NULL, bmt_result_cb, &r[2]);
	bm_session_commit(s, bmt_done_cb, &c);
	bm_engine_run(e);
	BMT_REC_IS(r[0], BM_OK, "statement timeout: in a session, the statement before runs");
	BMT_REC_IS(r[1], BM_ERR_TIMEOUT, "statement timeout: the slow one gets BM_ERR_TIMEOUT");
	BMT_REC_IS(r[2], BM_ERR_ABORTED, "statement timeout: the one after is aborted");
	BMT_REC_IS(c, BM_ERR_TIMEOUT, "statement timeout: the commit reports the timeout");
	bm_engine_get_stats(e, &st);
	TAP_INT_EQ(st.connects, 1, "statement timeout: the connection was kept");

	/* the server's own timeout switched off: the client-side guard fires */
	{
		bmt_rec		later = {0};

		bm_session_execute(s, "SET LOCAL statement_timeout = 0", 0, NULL, on_timeout_off, &off);
		bm_engine_run(e);
		BMT_REC_IS(off, BM_OK, "client guard: the server's timeout is off for this transaction");
		/* its COMMIT went out with it: the server may yet commit */
		BMT_REC_IS(hang, BM_ERR_OUTCOME_UNKNOWN, "client guard: a statement the server never answers, COMMIT sent, gets BM_ERR_OUTCOME_UNKNOWN");
		tap_ok(c2.calls == 1 && c2.code != BM_OK, "client guard: the commit fails", "got %s", bmt_code(c2.code));
		bm_engine_execute(e, "SELECT 7", 0, NULL, bmt_result_cb, &later);
		bm_engine_run(e);
		BMT_REC_IS(later, BM_OK, "client guard: the engine reconnects and runs new work");
		bm_engine_get_stats(e, &st);
		TAP_INT_EQ(st.disconnects, 1, "client guard: the hung connection was dropped");
	}
	bm_engine_free(e);
	/* leave no backend behind: the dropped one is still sleeping */
	bmt_exec(check, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
			 "WHERE application_name = 'bm_timeout_test'");
	while (bmt_long(check, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bm_timeout_test'") > 0)
		usleep(10000);
}

/*
 * The timeout is set inside each transaction, not for the connection: every
 * statement sees it, in a session and in autocommit, and a statement that
 * must run alone in its transaction (VACUUM: "cannot be executed within a
 * pipeline") still runs.
 */
static void
test_timeout_per_transaction(void)
{
	bm_engine_options opts = {.pool_size = 1, .statement_timeout_ms = 1500, .statement_cache_size = -1};
	bm_engine  *e = bmt_engine(&opts);
	bm_session *s = bm_session_open(bm_sessionmaker_create(e, NULL));
	bmt_rec		show_auto = {0},
				show_unit = {0},
				show_later = {0},
				vacuum = {0},
				c = {0};

	bm_engine_execute(e, "SHOW statement_timeout", 0, NULL, bmt_result_cb, &show_auto);
	bm_engine_execute(e, "VACUUM pg_class", 0, NULL, bmt_result_cb, &vacuum);
	bm_session_execute(s, "SELECT 1", 0, NULL, NULL, NULL);
	bm_session_execute(s, "SHOW statement_timeout", 0, NULL, bmt_result_cb, &show_unit);
	bm_session_commit(s, bmt_done_cb, &c);
	bm_engine_run(e);
	TAP_STR_EQ(show_auto.value, "1500ms", "timeout per transaction: an autocommit statement runs under it");
	TAP_STR_EQ(show_unit.value, "1500ms", "timeout per transaction: so does a session's second statement");
	BMT_REC_IS(vacuum, BM_OK, "timeout per transaction: VACUUM, which must run alone, runs");
	BMT_REC_IS(c, BM_OK, "timeout per transaction: the session commits");
	bm_engine_execute(e, "SHOW statement_timeout", 0, NULL, bmt_result_cb, &show_later);
	bm_engine_run(e);
	TAP_STR_EQ(show_later.value, "1500ms", "timeout per transaction: and the next transaction too");
	bm_engine_free(e);
}

/* a TCP port that completes the handshake (listen backlog) but never speaks */
static int
silent_listener(int *port)
{
	struct sockaddr_in addr = {0};
	socklen_t	len = sizeof(addr);
	int			fd = socket(AF_INET, SOCK_STREAM, 0);

	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *) &addr, sizeof(addr)) != 0 || listen(fd, 16) != 0 ||
		getsockname(fd, (struct sockaddr *) &addr, &len) != 0)
		tap_bail("cannot make a listening socket");
	*port = ntohs(addr.sin_port);
	return fd;
}

static void
test_connect_timeout(void)
{
	int			port,
				fd = silent_listener(&port);
	char		url[200];
	bm_engine_options opts = {.pool_size = 1, .connect_timeout_ms = 300};
	bm_error	err;
	bm_engine  *e;
	bm_sessionmaker *m;
	bm_session *s;
	bmt_rec		x = {0},
				a = {0},
				b = {0},
				c = {0};

	snprintf(url, sizeof(url), "postgresql://nobody@127.0.0.1:%d/nothing?sslmode=disable", port);
	e = bm_engine_create(url, &opts, &err);
	tap_ok(e != NULL, "connect timeout: the engine is created", "%s", err.message);
	m = bm_sessionmaker_create(e, NULL);
	s = bm_session_open(m);
	bm_engine_execute(e, "SELECT 1", 0, NULL, bmt_result_cb, &x);
	bm_session_execute(s, "SELECT 1", 0, NULL, bmt_result_cb, &a);
	bm_session_execute(s, "SELECT 2", 0, NULL, bmt_result_cb, &b);
	bm_session_commit(s, bmt_done_cb, &c);
	TAP_INT_EQ(bm_engine_run(e), 0, "connect timeout: bm_engine_run returns");
	BMT_REC_IS(x, BM_ERR_TIMEOUT, "connect timeout: bm_engine_execute gets BM_ERR_TIMEOUT");
	BMT_REC_IS(a, BM_ERR_TIMEOUT, "connect timeout: the session's first statement gets BM_ERR_TIMEOUT");
	BMT_REC_IS(b, BM_ERR_ABORTED, "connect timeout: its second BM_ERR_ABORTED");
	BMT_REC_IS(c, BM_ERR_TIMEOUT, "connect timeout: its commit reports the timeout");
	tap_ok(strstr(x.message, "timed out") != NULL, "connect timeout: the message says so", "got \"%s\"", x.message);
	bm_engine_free(e);
	close(fd);
}

int
main(void)
{
	PGconn	   *check;

	bmt_guard(90);
	check = bmt_check_conn();
	test_statement_timeout(check);
	test_timeout_per_transaction();
	test_connect_timeout();
	PQfinish(check);
	return tap_done();
}
