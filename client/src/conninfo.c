/*
 * conninfo.c
 *	  Connection parameters beyond what the URL says, as arrays of keywords
 *	  and values for PQconnectStartParams: TCP keepalive defaults, one set
 *	  of values per host of a multi-host URL (so that each host can be tried
 *	  on its own, with its own connect timeout), and the server's SQLSTATE
 *	  of a refused connection, which libpq shows only in a verbose message.
 *	  A utility of the pool layer; calls nothing of the library.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/*
 * TCP keepalives, unless the URL sets them: libpq leaves the system's
 * (two hours of silence before the first probe), so that a connection
 * whose server vanished (a network cut, a host gone) would hold its work
 * for hours when no timeout is set.  With these a silent peer is found
 * within about 15 + 3 * 5 seconds.
 */
static const char *const keepalive_defaults[][2] = {
	{"keepalives_idle", "15"},
	{"keepalives_interval", "5"},
	{"keepalives_count", "3"},
};

#define NKEEPALIVE (sizeof(keepalive_defaults) / sizeof(keepalive_defaults[0]))

/*
 * Add the keepalive settings the URL does not set to *keywords and *values
 * (NULL-terminated, malloc'ed, and so are their strings); 0, or -1 when out
 * of memory.
 */
int
conninfo_add_keepalives(const char ***keywords, const char ***values)
{
	const char **k,
			  **v;
	size_t		n,
				d;

	for (n = 0; (*keywords)[n]; n++)
		;
	if ((k = realloc(*keywords, (n + NKEEPALIVE + 1) * sizeof(char *))) == NULL)
		return -1;
	*keywords = k;
	if ((v = realloc(*values, (n + NKEEPALIVE + 1) * sizeof(char *))) == NULL)
		return -1;
	*values = v;
	for (d = 0; d < NKEEPALIVE; d++)
	{
		size_t		i;

		for (i = 0; i < n && strcmp(k[i], keepalive_defaults[d][0]) != 0; i++)
			;
		if (i < n)
			continue;
		k[n] = strdup(keepalive_defaults[d][0]);
		v[n] = strdup(keepalive_defaults[d][1]);
		k[n + 1] = v[n + 1] = NULL;
		if (k[n++] == NULL || v[n - 1] == NULL)
			return -1;
	}
	return 0;
}

/* the n-th element (from 0) of a comma-separated list, or all of a list without commas */
static char *
list_element(const char *list, int n)
{
	const char *end;

	if (strchr(list, ',') == NULL)
		return strdup(list);
	while (n-- > 0 && (list = strchr(list, ',')) != NULL)
		list++;
	if (list == NULL)
		return strdup("");
	end = strchr(list, ',');
	return end ? strndup(list, end - list) : strdup(list);
}

/* the number of elements of a comma-separated list */
static int
list_length(const char *list)
{
	int			n = 1;

	while ((list = strchr(list, ',')) != NULL)
		n++, list++;
	return n;
}

/*
 * A URL with several hosts: one array of values per host, with that host
 * alone (its host, hostaddr and port), so that each host is tried on its
 * own, with its own connect timeout (as libpq does when it blocks; when it
 * does not, a host that never answers would hold up the rest).  NULL with
 * *nhosts 1 for a single host; NULL with *nhosts -1 when out of memory.
 */
const char ***
conninfo_split_hosts(const char *const *keywords, const char *const *values, int *nhosts)
{
	const char ***hv;
	int			i,
				h,
				n = 1,
				nkw;

	for (nkw = 0; keywords[nkw]; nkw++)
		if ((strcmp(keywords[nkw], "host") == 0 || strcmp(keywords[nkw], "hostaddr") == 0) &&
			list_length(values[nkw]) > n)
			n = list_length(values[nkw]);
	*nhosts = n;
	if (n == 1)
		return NULL;
	if ((hv = calloc(n, sizeof(char **))) == NULL)
		goto nomem;
	for (h = 0; h < n; h++)
	{
		if ((hv[h] = calloc(nkw + 1, sizeof(char *))) == NULL)
			goto nomem;
		for (i = 0; i < nkw; i++)
		{
			bool		listed = strcmp(keywords[i], "host") == 0 ||
				strcmp(keywords[i], "hostaddr") == 0 || strcmp(keywords[i], "port") == 0;
			char	   *v = listed ? list_element(values[i], h) : strdup(values[i]);

			if (v == NULL)
				goto nomem;
			hv[h][i] = v;
		}
	}
	return hv;

nomem:
	conninfo_free_hosts(hv, n);
	*nhosts = -1;
	return NULL;
}

/* the per-host values go */
void
conninfo_free_hosts(const char ***hv, int nhosts)
{
	int			h,
				i;

	for (h = 0; hv && h < nhosts; h++)
	{
		for (i = 0; hv[h] && hv[h][i]; i++)
			free((char *) hv[h][i]);
		free(hv[h]);
	}
	free(hv);
}

/* a sqlstate: five digits or upper-case letters */
static bool
is_sqlstate(const char *s)
{
	int			i;

	for (i = 0; i < 5; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	return true;
}

/* a verbose message's source line ("LOCATION:  auth_failed, auth.c:326", in any language) */
static bool
is_location_line(const char *line, size_t len)
{
	const char *c = memchr(line, ',', len);
	size_t		i = len;

	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
		i--;
	return c != NULL && i < len && i >= 3 && strncmp(line + i - 3, ".c:", 3) == 0 &&
		memchr(line, ' ', len) != NULL && strstr(line, ":  ") != NULL && strstr(line, ":  ") < c;
}

/*
 * The message of a failed connection attempt (after "cannot connect: "),
 * and the server's SQLSTATE in it, "" if none.  The attempt runs with
 * PQERRORS_VERBOSE, which puts the SQLSTATE after the severity ("FATAL:
 * 28P01: password authentication failed ...") and a source line after the
 * message: the SQLSTATE (the last host's, of several) is kept, the message
 * loses both.
 */
void
conninfo_refusal(PGconn *pg, char *msg, size_t len, char *sqlstate)
{
	const char *start = PQerrorMessage(pg),
			   *src = start;
	size_t		o = (size_t) snprintf(msg, len, "cannot connect: ");

	sqlstate[0] = '\0';
	while (*src && o + 4 < len)
	{
		const char *eol = strchr(src, '\n');
		size_t		n = eol ? (size_t) (eol - src) : strlen(src);

		if ((src == start || src[-1] == '\n') && is_location_line(src, n))
		{
			src += n + (eol ? 1 : 0);
			continue;
		}
		if (strncmp(src, ":  ", 3) == 0 && is_sqlstate(src + 3) && strncmp(src + 8, ": ", 2) == 0)
		{
			memcpy(sqlstate, src + 3, 5);
			sqlstate[5] = '\0';
			memcpy(msg + o, ":  ", 3);
			o += 3;
			src += 10;
			continue;
		}
		msg[o++] = *src++;
	}
	msg[o] = '\0';
}
