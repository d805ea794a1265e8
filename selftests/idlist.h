/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_SELFTESTS_IDLIST_H
#define SC_SELFTESTS_IDLIST_H

/*
 * Doubly linked lists over dense object ids, for the reference models of
 * the hit-ratio test and sc-bench-trace: the links of every object live
 * in two arrays indexed by id, so a model of millions of objects needs
 * no allocation per request, and several lists (LRU, FIFO queues, ghost
 * lists) can share one pair of arrays.
 */
#include <stdint.h>

#define IDLIST_NIL UINT32_MAX

struct idlist {
	uint32_t newest, oldest, n;
};

/* An empty list. */
#define IDLIST_EMPTY ((struct idlist){ IDLIST_NIL, IDLIST_NIL, 0 })

/* The links, by object id: each object is on at most one list at a time. */
struct idlinks {
	uint32_t *newer, *older;
};

static inline void idlist_del(struct idlinks *k, struct idlist *l, uint32_t id)
{
	if (k->newer[id] != IDLIST_NIL)
		k->older[k->newer[id]] = k->older[id];
	else
		l->newest = k->older[id];
	if (k->older[id] != IDLIST_NIL)
		k->newer[k->older[id]] = k->newer[id];
	else
		l->oldest = k->newer[id];
	l->n--;
}

/* Add @id as the newest of @l. */
static inline void idlist_push(struct idlinks *k, struct idlist *l, uint32_t id)
{
	k->older[id] = l->newest;
	k->newer[id] = IDLIST_NIL;
	if (l->newest != IDLIST_NIL)
		k->newer[l->newest] = id;
	else
		l->oldest = id;
	l->newest = id;
	l->n++;
}

/* Take the oldest of @l, which must not be empty. */
static inline uint32_t idlist_pop(struct idlinks *k, struct idlist *l)
{
	uint32_t id = l->oldest;

	idlist_del(k, l, id);
	return id;
}

#endif /* SC_SELFTESTS_IDLIST_H */
