/*
 * link.c
 *	  The library links through `pkg-config basemodel` and talks to the test
 *	  server named by DATABASE_URL.
 */
#include <libpq-fe.h>

#include "basemodel.h"
#include "tap.h"

int
main(void)
{
	const char *url = getenv("DATABASE_URL");
	PGconn	   *conn;
	PGresult   *res;

	TAP_STR_EQ(bm_version(), BM_VERSION, "bm_version() of the installed library is the header's BM_VERSION");

	if (url == NULL)
		tap_bail("DATABASE_URL is not set");
	conn = PQconnectdb(url);
	tap_ok(PQstatus(conn) == CONNECTION_OK, "connects to DATABASE_URL",
		   "expected CONNECTION_OK, got: %s", PQerrorMessage(conn));
	res = PQexec(conn, "SELECT 40 + 2");
	tap_ok(PQresultStatus(res) == PGRES_TUPLES_OK, "runs one query",
		   "expected PGRES_TUPLES_OK, got: %s", PQresultErrorMessage(res));
	TAP_STR_EQ(PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : NULL, "42", "the query's answer comes back");
	PQclear(res);
	PQfinish(conn);
	return tap_done();
}
