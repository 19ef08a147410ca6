/*
 * util.h
 *	  The bottom layer of libbasemodel, hidden from users: errors with owned
 *	  strings (error.c), the result a callback reads (result.c), typed
 *	  parameters (params.c), notices on their way to the loop (notice.c),
 *	  interned SQL
 *	  texts and the statement cache (stmtcache.c), what a statement's leading
 *	  keywords say (sqlwords.c), where it ends (sqlsplit.c), connection
 *	  parameters (conninfo.c), the clock, the intrusive queues of list.h, and
 *	  objects of one size without malloc's header (slab.c).
 *	  Nothing here calls above util.
 *
 *	  Layers, each including only the header below it, so that the compiler
 *	  keeps calls going one way:
 *	    loop.c -> engine.h (engine.c, api.c) -> session.h, pool.h ->
 *	    proto.h (proto.c) -> util.h (error.c, result.c, params.c, stmtcache.c,
 *	    sqlwords.c, sqlsplit.c, conninfo.c, notice.c, slab.c)
 */
#ifndef BM_UTIL_H
#define BM_UTIL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#include "basemodel.h"
#include "list.h"

/* marks a function the public header declares: everything else is hidden */
#define BM_EXPORT __attribute__((visibility("default")))

#define BM_STR_(x) #x
#define BM_STR(x) BM_STR_(x)

/* milliseconds on the monotonic clock */
static inline int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* first and longest wait between failed connection attempts */
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000

/* the wait after the next failed connection attempt, given the last one (0: none yet) */
static inline int
backoff_next(int ms)
{
	return ms == 0 ? BACKOFF_MIN_MS : (ms >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : ms * 2);
}

/* move an attached loop's watch of fd from the events `from` to `to` */
static inline void
hook_events(const bm_ev_hooks *h, int fd, int from, int to)
{
	if ((from & BM_EV_READ) && !(to & BM_EV_READ) && h->del_read)
		h->del_read(h->data, fd);
	if ((from & BM_EV_WRITE) && !(to & BM_EV_WRITE) && h->del_write)
		h->del_write(h->data, fd);
	if (!(from & BM_EV_READ) && (to & BM_EV_READ) && h->add_read)
		h->add_read(h->data, fd);
	if (!(from & BM_EV_WRITE) && (to & BM_EV_WRITE) && h->add_write)
		h->add_write(h->data, fd);
}

/* error.c: an error with owned strings, turned into a bm_error for callbacks */
typedef struct ErrorBuf
{
	int			code;
	char		sqlstate[6];
	char	   *message;
	char	   *detail;
	char	   *hint;
	char	   *schema_name;
	char	   *table_name;
	char	   *column_name;
	char	   *constraint_name;
	int			position;
} ErrorBuf;

extern void err_set(ErrorBuf *eb, int code, const char *sqlstate,
					const char *message, const char *detail, const char *hint);
extern void err_set_fields(ErrorBuf *eb, const char *schema_name, const char *table_name,
						   const char *column_name, const char *constraint_name,
						   int position);
extern void err_copy(ErrorBuf *dst, const ErrorBuf *src);
extern void err_clear(ErrorBuf *eb);
extern void err_public(const ErrorBuf *eb, bm_error *out);
extern void set_last_error(int code, const char *fmt,...) __attribute__((format(printf, 2, 3)));
extern const bm_error *last_error_public(void);

/* result.c */
struct bm_result
{
	PGresult   *pg;
	long		affected;		/* AFFECTED_UNREAD: read pg's when asked */
};

#define AFFECTED_UNREAD LONG_MIN

/*
 * stmtcache.c: SQL texts, interned per engine (one refcounted copy of each
 * distinct text however many requests and caches use it), and per-connection
 * names of prepared statements, bounded, LRU.
 */
typedef struct SqlText
{
	struct SqlText *hnext;
	uint32_t	hash;
	uint32_t	refs;
	uint8_t		leaves;			/* sql_leaves of the text, read once */
	bool		refuses_block;	/* sql_refuses_block of the text, read once */
	char		text[];
} SqlText;

typedef struct SqlTable
{
	SqlText   **buckets;
	uint32_t	nbuckets;
	uint32_t	count;
	SqlText    *last;			/* the text asked for last, tried first */
} SqlTable;

extern SqlText *sqltext_get(SqlTable *st, const char *sql);
extern void sqltext_release(SqlTable *st, SqlText *t);
extern void sqltable_free(SqlTable *st);

typedef struct StmtEntry
{
	SqlText    *sql;			/* holds a reference */
	char		name[24];
	bool		confirmed;		/* the server answered the Parse */
	long		seg;			/* Sync segment the Parse was sent in */
	struct StmtEntry *hnext;
	DLink		lru;			/* in the cache's list, most recently used first */
} StmtEntry;

typedef struct StmtCache
{
	StmtEntry **buckets;
	int			nbuckets;
	int			count;
	int			capacity;
	long		next_id;
	DList		lru;			/* of StmtEntry (lru) */
	SqlTable   *texts;			/* the engine's, which the entries refer to */
} StmtCache;

extern int	stmtcache_init(StmtCache *sc, int capacity, SqlTable *texts);
extern void stmtcache_reset(StmtCache *sc);
extern void stmtcache_free(StmtCache *sc);
extern StmtEntry *stmtcache_lookup(StmtCache *sc, const SqlText *sql);
extern StmtEntry *stmtcache_add(StmtCache *sc, SqlText *sql, long seg);
extern StmtEntry *stmtcache_victim(StmtCache *sc);
extern void stmtcache_touch(StmtCache *sc, StmtEntry *se);
extern void stmtcache_remove(StmtCache *sc, StmtEntry *se);

/*
 * notice.c: notices of every connection, queued by libpq's notice receiver
 * (inside libpq, where no callback may run) until the loop delivers them
 */
typedef struct Notice
{
	QLink		link;
	char		sqlstate[6];
	const char *severity;		/* these point into the same allocation */
	const char *message;
	const char *detail;
	const char *hint;
} Notice;

typedef struct NoticeQueue
{
	Queue		queue;			/* of Notice (link) */
	bool		wanted;			/* a handler is set: false drops them */
} NoticeQueue;

extern void notice_receive(void *arg, const PGresult *res);
extern Notice *notice_pop(NoticeQueue *q);
extern void notice_public(const Notice *n, bm_error *out);
extern void notice_clear(NoticeQueue *q);

/* conninfo.c */
extern int	conninfo_add_keepalives(const char ***keywords, const char ***values);
extern const char ***conninfo_split_hosts(const char *const *keywords, const char *const *values,
										  int *nhosts);
extern void conninfo_free_hosts(const char ***host_values, int nhosts);
extern void conninfo_refusal(PGconn *pg, char *msg, size_t len, char *sqlstate);

/* sqlwords.c */
extern bool sql_resets_statements(const char *sql);
extern bool sql_runs_alone(const char *sql);
extern bool sql_refuses_block(const char *sql);
extern const char *sql_refused(const char *sql);
extern bool sql_is_copy(const char *sql);

/*
 * What a statement may leave on its connection after its transaction, and
 * so what the reset on release puts back (sql_leaves; proto.c's reset).
 */
#define LEAVES_SETTINGS	0x01	/* settings, role, session authorization (SET, set_config) */
#define LEAVES_TEMP		0x02	/* temporary tables and other temporary objects */
#define LEAVES_LOCKS	0x04	/* session-level advisory locks */
#define LEAVES_LISTEN	0x08	/* channels listened to */
#define LEAVES_CURSORS	0x10	/* cursors WITH HOLD */
#define LEAVES_PREPARED 0x20	/* statements the user PREPAREd */
#define LEAVES_RESET_ALL 0x3f	/* everything a reset puts back */
#define LEAVES_CLOSE	0x40	/* what no statement undoes (dblink, LOAD): the connection is closed */
#define LEAVES_BLOCK	0x80	/* an aborted transaction block: a framed autocommit statement failed */

extern uint8_t sql_leaves(const char *sql);

/*
 * slab.c: objects of one size (a multiple of SLAB_ALIGN) with no header each,
 * carved from chunks of SLAB_CHUNK bytes; a chunk goes back to the system
 * once its objects are all free, except one kept for the next burst.
 */
#define SLAB_CHUNK ((size_t) 64 * 1024)
#define SLAB_ALIGN 8

typedef struct Slab
{
	size_t		size;			/* of one object */
	uint32_t	capacity;		/* objects a chunk holds */
	DList		chunks;			/* of SlabChunk: all */
	DList		partial;		/* of SlabChunk: those with a free object */
	struct SlabChunk *spare;	/* a chunk with no object in use, kept, or NULL */
} Slab;

extern void slab_init(Slab *s, size_t size);
extern void *slab_alloc(Slab *s);
extern void slab_free(void *p);
extern void slab_destroy(Slab *s);

/* sqlsplit.c */
extern bool sql_has_several_statements(const char *sql);

#endif							/* BM_UTIL_H */
