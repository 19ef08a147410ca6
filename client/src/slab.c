/*
 * slab.c
 *	  Objects of one size carved from chunks of SLAB_CHUNK bytes, each
 *	  mapped on its own and aligned to its size: an object carries no header
 *	  (its chunk is found by masking its address), so thousands of small
 *	  objects waiting at once (requests, sessions) cost their size alone.  A
 *	  chunk is carved as it is used (the pages of a fresh chunk stay
 *	  untouched), freed objects go back to their chunk, and a chunk whose
 *	  objects are all free is unmapped, except one kept for the next burst.
 *	  Under AddressSanitizer and valgrind free objects are marked
 *	  inaccessible, so a use after free is reported as with malloc.  Calls
 *	  util only.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ASAN_HIDE(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define ASAN_SHOW(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ASAN_HIDE(p, n) ((void) 0)
#define ASAN_SHOW(p, n) ((void) 0)
#endif

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif
#endif
#ifndef VALGRIND_CREATE_MEMPOOL
#define VALGRIND_CREATE_MEMPOOL(pool, rz, zeroed) ((void) 0)
#define VALGRIND_DESTROY_MEMPOOL(pool) ((void) 0)
#define VALGRIND_MEMPOOL_ALLOC(pool, p, n) ((void) 0)
#define VALGRIND_MEMPOOL_FREE(pool, p) ((void) 0)
#define VALGRIND_MAKE_MEM_NOACCESS(p, n) ((void) 0)
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void) 0)
#endif

/* the head of every chunk; its objects follow at SLAB_HEADER */
typedef struct SlabChunk
{
	Slab	   *slab;
	DLink		link;			/* the slab's chunks */
	DLink		partial_link;	/* the slab's chunks with a free object */
	void	   *free;			/* freed objects, each holding the next's address */
	uint32_t	used;			/* objects handed out */
	uint32_t	carved;			/* objects ever handed out; the rest never touched */
} SlabChunk;

#define SLAB_HEADER (((sizeof(SlabChunk) + SLAB_ALIGN - 1) / SLAB_ALIGN) * SLAB_ALIGN)

/* the chunk an object was carved from */
static inline SlabChunk *
chunk_of(const void *p)
{
	return (SlabChunk *) ((uintptr_t) p & ~(uintptr_t) (SLAB_CHUNK - 1));
}

/* an empty slab of objects of size bytes (rounded up to SLAB_ALIGN) */
void
slab_init(Slab *s, size_t size)
{
	s->size = (size + SLAB_ALIGN - 1) / SLAB_ALIGN * SLAB_ALIGN;
	s->capacity = (SLAB_CHUNK - SLAB_HEADER) / s->size;
	s->chunks.first = s->chunks.last = NULL;
	s->partial.first = s->partial.last = NULL;
	s->spare = NULL;
	VALGRIND_CREATE_MEMPOOL(s, 0, false);
}

/* a new chunk aligned to its size (a mapping twice as large, trimmed), or NULL */
static SlabChunk *
chunk_new(Slab *s)
{
	char	   *map = mmap(NULL, 2 * SLAB_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char	   *start;
	size_t		head;
	SlabChunk  *c;

	if (map == MAP_FAILED)
		return NULL;
	start = (char *) (((uintptr_t) map + SLAB_CHUNK - 1) & ~(uintptr_t) (SLAB_CHUNK - 1));
	head = (size_t) (start - map);
	if (head > 0)
		munmap(map, head);
	munmap(start + SLAB_CHUNK, SLAB_CHUNK - head);
	c = (SlabChunk *) start;
	c->slab = s;
	c->free = NULL;
	c->used = c->carved = 0;
	ASAN_HIDE(start + SLAB_HEADER, SLAB_CHUNK - SLAB_HEADER);
	VALGRIND_MAKE_MEM_NOACCESS(start + SLAB_HEADER, SLAB_CHUNK - SLAB_HEADER);
	dlist_push(&s->chunks, &c->link);
	dlist_push(&s->partial, &c->partial_link);
	return c;
}

/* unmap a chunk none of whose objects is in use */
static void
chunk_release(Slab *s, SlabChunk *c)
{
	dlist_remove(&s->chunks, &c->link);
	dlist_remove(&s->partial, &c->partial_link);
	/* a later mapping at the same address must not inherit the marks */
	ASAN_SHOW((char *) c, SLAB_CHUNK);
	munmap(c, SLAB_CHUNK);
}

/* an object of the slab's size, not zeroed, or NULL when out of memory */
void *
slab_alloc(Slab *s)
{
	SlabChunk  *c = DLIST_FIRST(&s->partial, SlabChunk, partial_link);
	char	   *p;

	if (c == NULL && (c = chunk_new(s)) == NULL)
		return NULL;
	if (c->free)
	{
		p = c->free;
		ASAN_SHOW(p, sizeof(void *));
		VALGRIND_MAKE_MEM_DEFINED(p, sizeof(void *));
		c->free = *(void **) p;
	}
	else
		p = (char *) c + SLAB_HEADER + (size_t) c->carved++ * s->size;
	if (c == s->spare)
		s->spare = NULL;
	if (++c->used == s->capacity)
		dlist_remove(&s->partial, &c->partial_link);
	ASAN_SHOW(p, s->size);
	VALGRIND_MEMPOOL_ALLOC(s, p, s->size);
	return p;
}

/* give an object back to its chunk (NULL: nothing) */
void
slab_free(void *p)
{
	SlabChunk  *c;
	Slab	   *s;

	if (p == NULL)
		return;
	c = chunk_of(p);
	s = c->slab;
	*(void **) p = c->free;
	c->free = p;
	VALGRIND_MEMPOOL_FREE(s, p);
	ASAN_HIDE(p, s->size);
	if (c->used-- == s->capacity)
		dlist_push(&s->partial, &c->partial_link);
	if (c->used > 0)
		return;
	if (s->spare == NULL)
		s->spare = c;
	else
		chunk_release(s, c);
}

/* unmap every chunk of the slab; its objects must not be used any more */
void
slab_destroy(Slab *s)
{
	SlabChunk  *c;

	while ((c = DLIST_FIRST(&s->chunks, SlabChunk, link)) != NULL)
	{
		/* a full chunk is on no partial list: put it there for chunk_release */
		if (c->used == s->capacity)
			dlist_push(&s->partial, &c->partial_link);
		chunk_release(s, c);
	}
	s->spare = NULL;
	VALGRIND_DESTROY_MEMPOOL(s);
}
