/*
 * tap.h
 *	  A few TAP helpers for the client tests: each check prints "ok N - what"
 *	  or "not ok N - what" with what was expected and what came instead.
 */
#ifndef BM_TEST_TAP_H
#define BM_TEST_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	tap_count = 0;
static int	tap_failed = 0;

/* Report one check; on failure print the printf-style explanation. */
static inline int
tap_ok(int passed, const char *name, const char *fmt, ...)
{
	tap_count++;
	printf("%sok %d - %s\n", passed ? "" : "not ", tap_count, name);
	if (!passed)
	{
		va_list		ap;

		tap_failed++;
		printf("#   ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
	return passed;
}

/* Check that two strings are equal (NULL counts as a value). */
#define TAP_STR_EQ(got, want, name) \
	do { const char *g_ = (got), *w_ = (want); \
		tap_ok((g_ == NULL && w_ == NULL) || (g_ && w_ && strcmp(g_, w_) == 0), (name), \
			   "expected \"%s\", got \"%s\"", w_ ? w_ : "(null)", g_ ? g_ : "(null)"); \
	} while (0)

/* Check that two integers are equal. */
#define TAP_INT_EQ(got, want, name) \
	do { long long g_ = (got), w_ = (want); \
		tap_ok(g_ == w_, (name), "expected %lld, got %lld", w_, g_); \
	} while (0)

/* Print the plan and return the process's exit status. */
static inline int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

/* Stop the test at once: the rest cannot run. */
static inline void
tap_bail(const char *why)
{
	printf("Bail out! %s\n", why);
	exit(1);
}

#endif /* BM_TEST_TAP_H */
