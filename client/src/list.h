/*
 * list.h
 *	  Intrusive queues and lists (util layer): the link lives inside the
 *	  element, so putting an element on a queue allocates nothing and an
 *	  element can sit on several queues through several links.  A Queue is a
 *	  FIFO (also used as a stack for free lists); a DList is doubly linked,
 *	  for elements that leave from the middle.  QUEUE_HEAD and QUEUE_POP give
 *	  back the element (or NULL), not the link.
 */
#ifndef BM_LIST_H
#define BM_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct QLink
{
	struct QLink *next;
} QLink;

typedef struct Queue
{
	QLink	   *head;
	QLink	   *tail;
} Queue;

typedef struct DLink
{
	struct DLink *prev;
	struct DLink *next;
} DLink;

typedef struct DList
{
	DLink	   *first;
	DLink	   *last;
} DList;

/* the element that holds the link at byte offset off, NULL for no link */
static inline void *
link_owner(const void *link, size_t off)
{
	return link ? (void *) ((char *) link - off) : NULL;
}

#define LINK_OWNER(link, type, member) ((type *) link_owner((link), offsetof(type, member)))
#define QUEUE_HEAD(q, type, member) LINK_OWNER((q)->head, type, member)
#define QUEUE_POP(q, type, member) LINK_OWNER(queue_pop(q), type, member)
#define QUEUE_NEXT(elem, type, member) LINK_OWNER((elem)->member.next, type, member)
#define DLIST_FIRST(l, type, member) LINK_OWNER((l)->first, type, member)
#define DLIST_NEXT(elem, type, member) LINK_OWNER((elem)->member.next, type, member)
#define DLIST_LAST(l, type, member) LINK_OWNER((l)->last, type, member)
#define DLIST_PREV(elem, type, member) LINK_OWNER((elem)->member.prev, type, member)

static inline bool
queue_empty(const Queue *q)
{
	return q->head == NULL;
}

/* append at the tail */
static inline void
queue_push(Queue *q, QLink *l)
{
	l->next = NULL;
	/* after the tail, or as the head of an empty queue */
	*(q->tail ? &q->tail->next : &q->head) = l;
	q->tail = l;
}

/* put at the head: what goes back to be taken first, or a free list's push */
static inline void
queue_push_front(Queue *q, QLink *l)
{
	l->next = q->head;
	q->head = l;
	if (q->tail == NULL)
		q->tail = l;
}

/* put right behind an element of the queue */
static inline void
queue_insert_after(Queue *q, QLink *after, QLink *l)
{
	l->next = after->next;
	after->next = l;
	if (q->tail == after)
		q->tail = l;
}

/* take the head off, NULL when empty */
static inline QLink *
queue_pop(Queue *q)
{
	QLink	   *l = q->head;

	if (l)
	{
		q->head = l->next;
		if (q->head == NULL)
			q->tail = NULL;
		l->next = NULL;
	}
	return l;
}

/* hand every element of src over to a new owner, leaving src empty */
static inline Queue
queue_take(Queue *src)
{
	Queue		q = *src;

	src->head = src->tail = NULL;
	return q;
}

/* put first */
static inline void
dlist_push(DList *l, DLink *n)
{
	n->prev = NULL;
	n->next = l->first;
	if (l->first)
		l->first->prev = n;
	else
		l->last = n;
	l->first = n;
}

/* take out from wherever it is */
static inline void
dlist_remove(DList *l, DLink *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->first = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->last = n->prev;
	n->prev = n->next = NULL;
}

#endif							/* BM_LIST_H */
