// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The cache's invariant checker, for white-box tests and DEBUG=1 builds:
 * it is linked into the test programs, and into the library only when
 * DEBUG=1 (core/Kbuild), so a release library carries none of it.
 */
#include <errno.h>

#include "core/ghost.h"
#include "core/handle.h"
#include "core/index.h"
#include "core/queue.h"

/* Is @e one of the entries waiting in limbo? O(limbo). */
static bool sc_check_in_limbo(struct sc_cache *c, const struct sc_entry *e)
{
	const struct sc_entry *x;
	unsigned int i;

	for (x = c->open.entries; x; x = sc_entry_next_collected(x))
		if (x == e)
			return true;
	for (x = c->open.singles; x; x = sc_entry_next_collected(x))
		if (x == e)
			return true;
	for (i = 0; i < c->nr_batches; i++) {
		const struct sc_limbo_batch *b =
			&c->batches[(c->batch_first + i) % SC_LIMBO_BATCHES];

		for (x = b->entries; x; x = sc_entry_next_collected(x))
			if (x == e)
				return true;
		for (x = b->singles; x; x = sc_entry_next_collected(x))
			if (x == e)
				return true;
	}
	for (x = atomic_load(&c->limbo_pending); x;
	     x = sc_entry_next_collected(x))
		if (x == e)
			return true;
	return false;
}

/* Do @e's neighbours link back to it? */
static bool sc_check_on_list(const struct sc_entry *e)
{
	const struct sc_lru *l = sc_entry_lru(e);

	return l->next->prev == l && l->prev->next == l;
}

/* Off every list: both links NULL (a deferred insert). */
static bool sc_check_off_list(const struct sc_entry *e)
{
	return !sc_entry_lru(e)->next && !sc_entry_lru(e)->prev;
}

/* Is @e an insert waiting for the next drain to be linked? */
static bool sc_check_deferred(const struct sc_cache *c,
			      const struct sc_entry *e)
{
	unsigned int k;

	for (k = 0; k < c->nr_deferred; k++)
		if (c->deferred[k] == e)
			return sc_check_off_list(e);
	return false;
}

/* Every logged, not yet applied hit names a linked or a limbo entry. */
static const char *sc_check_logs(struct sc_cache *c)
{
	struct sc_hitlog *l;
	unsigned int n = 0;

	for (l = c->logs; l; l = l->next) {
		uint64_t head = atomic_load(&l->head),
			 tail = atomic_load(&l->tail);
		struct sc_hitlog_chunk *ch = l->rchunk;
		unsigned int pos = l->rpos;

		if (++n > c->nr_logs)
			return "more hit logs than counted";
		if (tail > head)
			return "hit log consumed past its head";
		if (sc_cache_hits_in_flags(c) && head)
			return "logged hits under SIEVE or S3-FIFO";
		for (; tail < head; tail++) {
			struct sc_entry *e;

			if (pos == SC_HITLOG_CHUNK) {
				ch = atomic_load(&ch->next);
				pos = 0;
				if (!ch)
					return "hit log chunk missing";
			}
			e = ch->hits[pos++];
			if (sc_entry_flags(e) & SC_ENTRY_UNLINKED) {
				/* waiting in limbo, or pinned: not freed */
				if (!sc_check_in_limbo(c, e) &&
				    !(atomic_load(&e->refs) & SC_REFS_COUNT))
					return "a logged hit on a freed entry";
				continue;
			}
			if (sc_check_deferred(c, e))
				continue;
			if (!sc_check_on_list(e))
				return "a logged LRU hit on an entry off the list";
		}
	}
	if (n != c->nr_logs)
		return "fewer hit logs than counted";
	return NULL;
}

/*
 * LRU's set of hits not yet applied: within its capacity, each element a
 * linked entry that its hash slot finds, stamped at most the sequence
 * number; each hash slot in use names an element.
 */
static const char *sc_check_dirty(struct sc_cache *c)
{
	uint32_t i, used = 0;

	if (!c->dirty_cap)
		return c->nr_dirty || c->dirty || c->dirty_hash ?
			       "a dirty set without memory" :
			       NULL;
	if (sc_cache_hits_in_flags(c))
		return "a dirty set under SIEVE or S3-FIFO";
	if (c->nr_dirty > c->dirty_cap || c->dirty_mask != c->dirty_cap * 2 - 1)
		return "dirty set size";
	for (i = 0; i < c->nr_dirty; i++) {
		const struct sc_entry *e = c->dirty[i];
		uint32_t slot = c->dirty_slot[i], stamp = c->dirty_stamp[i];

		if (sc_entry_flags(e) & SC_ENTRY_UNLINKED ||
		    !sc_check_on_list(e))
			return "a dirty entry off the list";
		if (slot > c->dirty_mask || c->dirty_hash[slot] != i + 1 ||
		    sc_dirty_probe(c, e) != slot)
			return "a dirty entry its hash does not find";
		if (!stamp || stamp > c->dirty_seq)
			return "a dirty stamp past the sequence";
	}
	for (i = 0; i <= c->dirty_mask; i++)
		used += c->dirty_hash[i] != 0;
	if (used != c->nr_dirty)
		return "dirty hash occupancy";
	return NULL;
}

static const char *sc_check_index_entry(struct sc_cache *c,
					struct sc_index_table *t,
					const struct sc_entry *e)
{
	uint64_t h = sc_entry_hash(c, e), s;
	size_t cap = t->cap, i, d;

	for (i = sc_index_home(h, cap), d = 0;;
	     i = sc_index_next(i, cap), d++) {
		if (d >= cap)
			return "string entry not in the index";
		s = atomic_load(&t->slots[i]);
		if (!s)
			return "hole before an entry's slot";
		if (sc_slot_is(s, e))
			break;
	}
	if ((s >> SC_SLOT_TAG_SHIFT) != (h >> SC_SLOT_TAG_SHIFT))
		return "slot tag";
	if (((s >> SC_SLOT_DISP_SHIFT) & SC_SLOT_DISP_MAX) !=
	    (d < SC_SLOT_DISP_MAX ? d : SC_SLOT_DISP_MAX))
		return "slot distance";
	return NULL;
}

/* S3-FIFO's ghost: sized, cursors in range; none without entries. */
static const char *sc_check_ghost(struct sc_cache *c)
{
	const struct sc_ghost *g = c->ghost;
	size_t b, i, want, nr[2] = { 0, 0 };

	if (!g)
		return NULL;
	if (!sc_cache_s3fifo(c))
		return "a ghost without S3-FIFO";
	if (!c->count)
		return "a ghost in an empty cache";
	want = (size_t)((unsigned __int128)c->ghost_sized * 50 / 100);
	if (!want)
		want = 1;
	if (g->nr_buckets != (want + SC_GHOST_WAYS - 1) / SC_GHOST_WAYS)
		return "ghost size";
	if ((uintptr_t)g->slots % 64)
		return "ghost buckets not aligned";
	for (b = 0; b < g->nr_buckets; b++) {
		if (g->cursor[b] >= SC_GHOST_WAYS)
			return "ghost cursor";
		for (i = 0; i < SC_GHOST_WAYS; i++)
			if (g->slots[b][i])
				nr[g->slots[b][i] & SC_GHOST_TAG_MAIN]++;
	}
	if (nr[0] != g->nr_tag[0] || nr[1] != g->nr_tag[1])
		return "ghost tag counts";
	return NULL;
}

static const char *__sc_cache_check_locked(struct sc_cache *c)
{
	struct sc_index_table *t = atomic_load(&c->index);
	struct sc_key_table *k = atomic_load(&c->keys);
	size_t n = 0, strings = 0, handles = 0, used = 0, i, total = 0;
	size_t key_cap = k ? k->cap : 0, qcost[2] = { 0, 0 }, main_count = 0;
	bool hand_seen = false, s3fifo = sc_cache_s3fifo(c);
	struct sc_lru *heads[2] = { &c->lru, &c->main }, *l;
	const char *why;
	unsigned int q;
	uint32_t f;

	if (!sc_cache_sieve(c) && c->hand)
		return "a hand without SIEVE";
	if (atomic_load(&c->index_seq) & 1)
		return "index shift left unfinished";
	why = sc_check_logs(c);
	if (why)
		return why;
	why = sc_check_dirty(c);
	if (why)
		return why;
	why = sc_check_ghost(c);
	if (why)
		return why;
	if (!s3fifo && c->main.next != &c->main)
		return "a main queue without S3-FIFO";
	if (c->small_max != c->limit / 100 * 10 + c->limit % 100 * 10 / 100 ||
	    c->small_target > c->limit / 2 ||
	    (!s3fifo && c->small_target != c->small_max) ||
	    c->main_max != c->limit - c->small_target)
		return "S3-FIFO queue shares";
	/* the list, or S3-FIFO's small queue and then its main queue */
	for (q = 0, l = heads[0]->next;; l = l->next) {
		struct sc_entry *e;
		unsigned int flags;

		if (l == heads[q]) {
			if (++q == 2)
				break;
			l = heads[q];
			continue;
		}
		e = sc_node_entry(l);
		flags = sc_entry_flags(e);

		if (l->next->prev != l || l->prev->next != l)
			return "LRU links";
		if (++n > c->count)
			return "LRU longer than count";
		hand_seen |= l == c->hand;
		if (!sc_cache_sieve(c) && (flags & SC_ENTRY_VISITED))
			return "a visited bit without SIEVE";
		if (!s3fifo && (flags & (SC_ENTRY_MAIN | SC_ENTRY_FREQ)))
			return "S3-FIFO bits without S3-FIFO";
		if (!!(flags & SC_ENTRY_MAIN) != q)
			return "an entry on the other S3-FIFO queue";
		qcost[q] += sc_entry_cost_of(e);
		main_count += q;
		if (flags & SC_ENTRY_UNLINKED)
			return "a linked entry marked unlinked";
		if (atomic_load(&e->refs) & SC_REFS_DROPPED)
			return "a linked entry marked dropped";
		if (!(atomic_load(&e->refs) & SC_REFS_COUNT))
			return "linked entry without the cache's reference";
		if (!sc_size_add(total, sc_entry_cost_of(e), &total))
			return "cost sum overflows";
		if (flags & SC_ENTRY_HANDLE) {
			uint32_t slot = sc_entry_slot(e);
			uint64_t w;

			if (slot >= c->keys_used || slot >= key_cap)
				return "handle entry not in its key slot";
			w = atomic_load(&k->slots[slot].word);
			if ((w & SC_HANDLE_PTR_MASK) !=
				    (uint64_t)(uintptr_t)e >> 3 ||
			    (w >> 48) != k->slots[slot].gen)
				return "handle entry not in its key slot";
			handles++;
			continue;
		}
		if (!t)
			return "string entry without an index";
		why = sc_check_index_entry(c, t, e);
		if (why)
			return why;
		strings++;
	}
	/* inserts still to be linked: as linked entries, off the list */
	if (c->nr_deferred > SC_QUEUE_DEFER_MAX ||
	    (c->nr_deferred && sc_cache_hits_in_flags(c)))
		return "deferred inserts";
	for (q = 0; q < c->nr_deferred; q++) {
		struct sc_entry *e = c->deferred[q];

		if (!e || !sc_check_off_list(e))
			return "a deferred insert on the list";
		if (sc_entry_flags(e) & (SC_ENTRY_UNLINKED | SC_ENTRY_HANDLE))
			return "a deferred insert unlinked or a handle";
		if (atomic_load(&e->refs) & SC_REFS_DROPPED ||
		    !(atomic_load(&e->refs) & SC_REFS_COUNT))
			return "a deferred insert without the cache's reference";
		if (++n > c->count)
			return "LRU longer than count";
		if (!sc_size_add(total, sc_entry_cost_of(e), &total))
			return "cost sum overflows";
		if (!t)
			return "string entry without an index";
		why = sc_check_index_entry(c, t, e);
		if (why)
			return why;
		strings++;
	}
	if (n != c->count)
		return "count";
	if (s3fifo && (qcost[0] != c->small_cost || qcost[1] != c->main_cost))
		return "S3-FIFO queue costs";
	if (s3fifo && main_count != c->main_count)
		return "S3-FIFO main queue count";
	if (c->hand && !hand_seen)
		return "SIEVE hand not on an entry of the queue";
	if (total != c->total_cost)
		return "total cost";
	if (c->total_cost > c->limit)
		return "total cost over the limit";
	if (strings != c->nr_strings)
		return "string entry count";
	for (i = 0; t && i < t->cap; i++)
		used += atomic_load(&t->slots[i]) != 0;
	if (used != c->nr_strings)
		return "index occupancy";
	if (t && c->nr_strings > t->cap - t->cap / 4)
		return "index load";
	if (c->keys_used > key_cap)
		return "key array use";
	for (i = 0, used = 0; i < c->keys_used; i++)
		used += (atomic_load(&k->slots[i].word) & SC_HANDLE_PTR_MASK) !=
			0;
	if (used != handles)
		return "live key slots";
	for (f = c->key_free, n = 0; f; f = k->slots[f - 1].next_free) {
		if (f > c->keys_used || ++n > c->keys_used)
			return "key free list";
		if (atomic_load(&k->slots[f - 1].word) ||
		    k->slots[f - 1].gen > SC_HANDLE_GEN_MAX)
			return "free key slot";
	}
	if (c->nr_batches > SC_LIMBO_BATCHES)
		return "limbo batches";
	return NULL;
}

int sc_cache_check(struct sc_cache *c, const char **why)
{
	const char *bad;

	sc_cache_lock(c);
	bad = __sc_cache_check_locked(c);
	sc_cache_unlock(c);
	if (why)
		*why = bad;
	return bad ? -EUCLEAN : 0;
}

void sc_cache_s3fifo_state(struct sc_cache *c, struct sc_s3fifo_state *st)
{
	const struct sc_ghost *g;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t b, i;

	sc_cache_lock(c);
	g = c->ghost;
	st->small_cost = c->small_cost;
	st->small_target = c->small_target;
	st->main_cost = c->main_cost;
	st->ghost_buckets = g ? g->nr_buckets : 0;
	for (b = 0; g && b < g->nr_buckets; b++) {
		for (i = 0; i < SC_GHOST_WAYS; i++)
			h = (h ^ g->slots[b][i]) * 0x100000001b3ull;
		h = (h ^ g->cursor[b]) * 0x100000001b3ull;
	}
	st->ghost_digest = h;
	sc_cache_unlock(c);
}
