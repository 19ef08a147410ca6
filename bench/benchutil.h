/*
 * benchutil.h
 *	  What bmbench.c and pqpipe.c share, so that both sides of a comparison
 *	  pick ids, format them and read the clock the same way.
 */
#ifndef BM_BENCHUTIL_H
#define BM_BENCHUTIL_H

#include <stdint.h>
#include <time.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

/* a row id from 1 to rows: xorshift64, uniform enough and free of libc state */
static inline long
next_id(long rows)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return 1 + (long) (rng_state % (uint64_t) rows);
}

/* n in decimal into buf (24 bytes): snprintf would cost more than the rest of the loop */
static inline const char *
format_id(char *buf, long n)
{
	char	   *p = buf + 23;

	*p = '\0';
	do
	{
		*--p = (char) ('0' + n % 10);
		n /= 10;
	} while (n > 0);
	return p;
}

/* seconds on the monotonic clock */
static inline double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif							/* BM_BENCHUTIL_H */
