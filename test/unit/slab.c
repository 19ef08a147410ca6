/*
 * slab.c
 *	  The slab allocator alone: objects are aligned and never overlap, a
 *	  freed object is handed out again before a new one is carved, chunks
 *	  whose objects are all free go back to the system but one, and a
 *	  destroyed slab holds nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "tap.h"

/* objects of three chunks' worth: more than one chunk is needed */
#define NOBJ 3000
#define OBJ_SIZE 60

/* the chunks the slab holds */
static int
count_chunks(const Slab *s)
{
	int			n = 0;
	const DLink *l;

	for (l = s->chunks.first; l; l = l->next)
		n++;
	return n;
}

/* aligned, and each object keeps what was written into all of its bytes */
static void
test_no_overlap(void)
{
	Slab		s;
	unsigned char **obj = calloc(NOBJ, sizeof(*obj));
	int			i,
				misaligned = 0,
				broken = 0;

	if (obj == NULL)
		tap_bail("out of memory");
	slab_init(&s, OBJ_SIZE);
	TAP_INT_EQ((int) s.size, 64, "size: 60 bytes are rounded up to a multiple of SLAB_ALIGN");
	for (i = 0; i < NOBJ; i++)
	{
		if ((obj[i] = slab_alloc(&s)) == NULL)
			tap_bail("out of memory");
		misaligned += (uintptr_t) obj[i] % SLAB_ALIGN != 0;
		memset(obj[i], i % 251, s.size);
	}
	TAP_INT_EQ(misaligned, 0, "alignment: every object is aligned to SLAB_ALIGN");
	for (i = 0; i < NOBJ; i++)
		for (size_t k = 0; k < s.size; k++)
			broken += obj[i][k] != i % 251;
	TAP_INT_EQ(broken, 0, "no overlap: every object keeps the bytes written into it");
	tap_ok(count_chunks(&s) == (NOBJ + (int) s.capacity - 1) / (int) s.capacity,
		   "chunks: as many as the objects need", "expected %d, got %d",
		   (NOBJ + (int) s.capacity - 1) / (int) s.capacity, count_chunks(&s));
	for (i = 0; i < NOBJ; i++)
		slab_free(obj[i]);
	TAP_INT_EQ(count_chunks(&s), 1, "chunks: once all objects are free, one chunk is kept");
	slab_destroy(&s);
	TAP_INT_EQ(count_chunks(&s), 0, "destroy: no chunk is left");
	free(obj);
}

/* the last freed object comes back first; a new chunk only when all are in use */
static void
test_reuse(void)
{
	Slab		s;
	void	   *a,
			   *b,
			   *c;

	slab_init(&s, 100);
	a = slab_alloc(&s);
	b = slab_alloc(&s);
	slab_free(a);
	c = slab_alloc(&s);
	tap_ok(c == a, "reuse: a freed object is handed out again", "freed %p, got %p", a, c);
	tap_ok(b != a, "reuse: an object in use is not handed out", "both are %p", b);
	slab_free(b);
	slab_free(c);
	c = slab_alloc(&s);
	tap_ok(c == b || c == a, "reuse: a kept chunk serves the next object", "got %p, not %p or %p", c, a, b);
	TAP_INT_EQ(count_chunks(&s), 1, "reuse: no new chunk while the kept one has room");
	slab_free(c);
	slab_free(NULL);
	slab_destroy(&s);
}

int
main(void)
{
	test_no_overlap();
	test_reuse();
	return tap_done();
}
