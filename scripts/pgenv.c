/*
 * pgenv.c
 *	  Turn a libpq connection string or URL into PG* environment settings, so
 *	  that tools without a connection-string option (pg_regress, the
 *	  isolation tester) reach the same server.  Prints shell assignments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

/* libpq's keyword for each environment variable we export */
static const struct
{
	const char *keyword;
	const char *envvar;
}			mapping[] = {
	{"host", "PGHOST"}, {"hostaddr", "PGHOSTADDR"}, {"port", "PGPORT"},
	{"user", "PGUSER"}, {"password", "PGPASSWORD"}, {"dbname", "PGDATABASE"},
	{"sslmode", "PGSSLMODE"}, {"passfile", "PGPASSFILE"},
	{"options", "PGOPTIONS"}, {"service", "PGSERVICE"},
};

/* Print value as one shell word in single quotes. */
static void
print_quoted(const char *value)
{
	putchar('\'');
	for (const char *p = value; *p; p++)
	{
		if (*p == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*p);
	}
	putchar('\'');
}

/* Parse argv[1] and print "export NAME=value" for each setting it makes. */
int
main(int argc, char **argv)
{
	char	   *errmsg = NULL;
	PQconninfoOption *options;

	if (argc != 2)
	{
		fprintf(stderr, "usage: pgenv CONNINFO\n");
		return 2;
	}
	options = PQconninfoParse(argv[1], &errmsg);
	if (options == NULL)
	{
		fprintf(stderr, "pgenv: invalid connection string: %s", errmsg ? errmsg : "out of memory\n");
		PQfreemem(errmsg);
		return 1;
	}
	for (PQconninfoOption *o = options; o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		for (size_t i = 0; i < sizeof(mapping) / sizeof(mapping[0]); i++)
		{
			if (strcmp(o->keyword, mapping[i].keyword) != 0)
				continue;
			printf("export %s=", mapping[i].envvar);
			print_quoted(o->val);
			putchar('\n');
		}
	}
	PQconninfoFree(options);
	return 0;
}
