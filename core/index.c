// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The string index: an open-addressing table of 8-byte slots, each holding
 * the entry's address (>> 3: 45 bits cover the 48-bit user address space
 * on Linux unless a mapping asked for more; an entry that does not fit is
 * refused with ENOMEM), its distance from its home slot (8 bits,
 * saturating) and an 11-bit tag from the top of the hash. Linear probing
 * from the home slot, backward-shift deletion (no tombstones), load at
 * most 3/4. A hit costs the slot line and the entry line, and the tag
 * makes false compares rare (1 in 2048 foreign slots). Entries do not
 * store their hash: the stored distance lets a backward shift decide
 * without reading the entries it moves, and rehashing recomputes the hash
 * from the key, which sits in the entry line it reads anyway; that keeps
 * 8 bytes out of every entry's header (SC_ENTRY_HDR): a 16-byte key's
 * entry is one class smaller.
 *
 * Table sizes are 2^k and 1.5 * 2^k slots (16, 24, 32, 48, ...): growing
 * at a load of 3/4 by 1.5x or 4/3x leaves it at 1/2 or 9/16, where
 * doubling left it at 3/8, so the index costs 8 B / 0.62 = 13 B per entry
 * on average instead of 15 (at most 16 B instead of 21).
 *
 * Concurrency. Lookups read the table without the cache lock
 * (core/index.h); everything here runs under it. Every slot store is a
 * release store, after the entry it points to is complete. A table never
 * changes size: growing or trimming builds a new table, publishes it with
 * one release store and retires the old one to the cache's limbo, which
 * frees it after a grace period. A lookup still reading the old table
 * sees it as it was when the new one was published, which is a state the
 * cache was in during the lookup. Inserting fills an empty slot (one
 * store), replacing swaps an address in place (one store): a lookup sees
 * the slot before or after. Only deletion moves entries: the backward
 * shift copies a later entry of the probe chain into the hole before
 * clearing its old slot, so a lookup can find an entry in either place,
 * but one that read the chain half before the shift and half after can
 * miss an entry that never left. index_seq is odd while a shift runs
 * (and while a write that changes several keys runs: core/cache.c holds
 * it odd then, and a shift inside leaves it so); a lookup trusts its
 * answer only when index_seq was even and unchanged around it (see
 * sc_index_lookup()).
 */
#include <errno.h>

#include "core/index.h"

#define SC_INDEX_MIN_CAP 16
#define SC_INDEX_MAX_CAP (UINT64_C(1) << 32)

static inline size_t sc_index_dist(size_t from, size_t to, size_t cap)
{
	return to >= from ? to - from : to + cap - from;
}

static inline bool sc_index_cap_pow2(size_t cap)
{
	return !(cap & (cap - 1));
}

/* The next size up, and down; sizes are >= SC_INDEX_MIN_CAP. */
static inline size_t sc_index_cap_up(size_t cap)
{
	return sc_index_cap_pow2(cap) ? cap + cap / 2 : cap / 3 * 4;
}

static inline size_t sc_index_cap_down(size_t cap)
{
	return sc_index_cap_pow2(cap) ? cap / 4 * 3 : cap / 3 * 2;
}

size_t sc_index_bytes(size_t cap)
{
	return sizeof(struct sc_index_table) + cap * sizeof(uint64_t);
}

/* The table as the cache lock holder sees it: nobody else changes it. */
static inline struct sc_index_table *sc_index_table(struct sc_cache *c)
{
	return atomic_load_explicit(&c->index, memory_order_relaxed);
}

static inline uint64_t sc_slot_get(struct sc_index_table *t, size_t i)
{
	return atomic_load_explicit(&t->slots[i], memory_order_relaxed);
}

static inline void sc_slot_set(struct sc_index_table *t, size_t i, uint64_t s)
{
	atomic_store_explicit(&t->slots[i], s, memory_order_release);
}

/*
 * Slot layout: bits 0-44 the entry address >> 3 (entries are 8-aligned
 * and below 2^48), bits 45-52 the distance from the home slot (saturated
 * at SC_SLOT_DISP_MAX: then recomputed from the key), bits 53-63 a tag,
 * the top 11 bits of the hash. 0 is an empty slot.
 */
static inline uint64_t sc_slot_make(uint64_t hash, const struct sc_entry *e,
				    size_t disp)
{
	if (disp > SC_SLOT_DISP_MAX)
		disp = SC_SLOT_DISP_MAX;
	return (hash >> SC_SLOT_TAG_SHIFT << SC_SLOT_TAG_SHIFT) |
	       (uint64_t)disp << SC_SLOT_DISP_SHIFT |
	       (uint64_t)(uintptr_t)e >> 3;
}

/* Distance of slot value @s at @pos from its home slot. */
static inline size_t sc_slot_disp(const struct sc_cache *c,
				  const struct sc_index_table *t, uint64_t s,
				  size_t pos)
{
	size_t d = (s >> SC_SLOT_DISP_SHIFT) & SC_SLOT_DISP_MAX;

	if (sc_likely(d < SC_SLOT_DISP_MAX))
		return d;
	return sc_index_dist(sc_index_home(sc_entry_hash(c, sc_slot_entry(s)),
					   t->cap),
			     pos, t->cap);
}

struct sc_entry *__sc_index_find_locked(struct sc_cache *c, const char *key,
					size_t len, uint64_t hash)
{
	struct sc_index_table *t = sc_index_table(c);

	sc_cache_assert_locked(c);
	return t ? sc_index_probe(t, key, len, hash) : NULL;
}

struct sc_entry *__sc_index_find_pos_locked(struct sc_cache *c, const char *key,
					    size_t len, uint64_t hash,
					    size_t *pos)
{
	struct sc_index_table *t = sc_index_table(c);

	sc_cache_assert_locked(c);
	return t ? sc_index_probe_pos(t, key, len, hash, pos) : NULL;
}

struct sc_entry *__sc_index_find_spot_locked(struct sc_cache *c,
					     const char *key, size_t len,
					     uint64_t hash,
					     struct sc_index_spot *spot)
{
	struct sc_index_table *t = sc_index_table(c);
	uint64_t tag = hash >> SC_SLOT_TAG_SHIFT;
	size_t cap, i, d = 0;

	sc_cache_assert_locked(c);
	spot->table = t;
	if (!t)
		return NULL;
	cap = t->cap;
	for (i = sc_index_home(hash, cap);; i = sc_index_next(i, cap), d++) {
		uint64_t s = sc_slot_get(t, i);
		struct sc_entry *e;

		if (!s)
			break;
		if ((s >> SC_SLOT_TAG_SHIFT) != tag)
			continue;
		e = sc_slot_entry(s);
		if (sc_entry_key_is(e, key, len))
			return e;
	}
	spot->pos = i;
	spot->dist = d;
	return NULL;
}

/* Place an entry in a table known not to hold it. */
static void sc_index_place(struct sc_index_table *t, struct sc_entry *e,
			   uint64_t hash)
{
	size_t i, d = 0;

	for (i = sc_index_home(hash, t->cap); sc_slot_get(t, i);
	     i = sc_index_next(i, t->cap))
		d++;
	sc_slot_set(t, i, sc_slot_make(hash, e, d));
}

static size_t sc_index_pos(struct sc_index_table *t, const struct sc_entry *e,
			   uint64_t hash)
{
	size_t i;

	for (i = sc_index_home(hash, t->cap); !sc_slot_is(sc_slot_get(t, i), e);
	     i = sc_index_next(i, t->cap))
		;
	return i;
}

/* Slots between the one rehashed and the one whose key is fetched. */
#define SC_INDEX_REHASH_AHEAD 16

/* Start the misses on what hashing the entry of slot value @s reads. */
static inline void sc_index_prefetch_key(uint64_t s)
{
	const struct sc_entry *e = sc_slot_entry(s);

	if (!s)
		return;
	/* key_len sits just before the key; an inline key may end a line on */
	__builtin_prefetch(&e->key_len);
	__builtin_prefetch(&e->key[sizeof(uint64_t) * 2 - 1]);
}

/* Replace the table by one of @cap slots (>= count / load); 0: none. */
static int __sc_index_resize_locked(struct sc_cache *c, size_t cap)
{
	struct sc_index_table *old = sc_index_table(c), *t = NULL;
	size_t bytes, i;

	sc_cache_assert_locked(c);
	if (cap) {
		if (cap > SC_INDEX_MAX_CAP ||
		    !sc_size_mul(cap, sizeof(uint64_t), &bytes) ||
		    !sc_size_add(bytes, sizeof(*t), &bytes))
			return -ENOMEM;
		t = sc_mem_zalloc_backed(bytes);
		if (!t)
			return -ENOMEM;
		t->cap = cap;
		for (i = 0; old && i < old->cap; i++) {
			uint64_t s = sc_slot_get(old, i);
			struct sc_entry *e;

			/*
			 * The old table is in hash order, its entries are
			 * not: each hash needs a key from a random line.
			 * Ask for it a few slots ahead, so that the misses
			 * overlap instead of queuing one behind the other.
			 */
			if (sc_likely(i + SC_INDEX_REHASH_AHEAD < old->cap))
				sc_index_prefetch_key(sc_slot_get(
					old, i + SC_INDEX_REHASH_AHEAD));
			if (!s)
				continue;
			e = sc_slot_entry(s);
			sc_index_place(t, e, sc_entry_hash(c, e));
		}
	}
	/* the slots of t are complete before a lookup can reach them */
	atomic_store_explicit(&c->index, t, memory_order_release);
	if (old)
		__sc_limbo_add_table_locked(c, old);
	return 0;
}

/* Make room for one more string entry: load stays <= 3/4. */
int __sc_index_reserve_locked(struct sc_cache *c)
{
	struct sc_index_table *t = sc_index_table(c);
	size_t cap = t ? t->cap : 0;

	sc_cache_assert_locked(c);
	if (c->nr_strings + 1 <= cap - cap / 4)
		return 0;
	return __sc_index_resize_locked(c, cap ? sc_index_cap_up(cap) :
						 SC_INDEX_MIN_CAP);
}

/*
 * After a shrink: give the index memory back when it is mostly empty. A
 * failed smaller allocation just keeps the old table.
 */
void __sc_index_trim_locked(struct sc_cache *c)
{
	struct sc_index_table *t = sc_index_table(c);
	size_t cap;

	sc_cache_assert_locked(c);
	if (!t)
		return;
	if (!c->nr_strings) {
		__sc_index_resize_locked(c, 0);
		return;
	}
	cap = t->cap;
	if (cap <= SC_INDEX_MIN_CAP * 4 || c->nr_strings >= cap / 16)
		return;
	/* while at most 3/16 full: one size down is then at most 9/32 */
	while (cap > SC_INDEX_MIN_CAP && c->nr_strings <= cap / 4 * 3 / 4)
		cap = sc_index_cap_down(cap);
	__sc_index_resize_locked(c, cap);
}

/* Drop the whole table: clear and destroy. */
void __sc_index_clear_locked(struct sc_cache *c)
{
	sc_cache_assert_locked(c);
	__sc_index_resize_locked(c, 0);
	c->nr_strings = 0;
}

void __sc_index_insert_spot_locked(struct sc_cache *c, struct sc_entry *e,
				   uint64_t hash,
				   const struct sc_index_spot *spot)
{
	struct sc_index_table *t = sc_index_table(c);

	sc_cache_assert_locked(c);
	if (sc_likely(spot->table == t))
		sc_slot_set(t, spot->pos, sc_slot_make(hash, e, spot->dist));
	else /* the table was replaced since (grown) */
		sc_index_place(t, e, hash);
	c->nr_strings++;
}

/* The same key, the same slot: only the address changes (one store). */
void __sc_index_replace_locked(struct sc_cache *c, struct sc_entry *old,
			       struct sc_entry *e, uint64_t hash)
{
	struct sc_index_table *t = sc_index_table(c);
	size_t pos;

	sc_cache_assert_locked(c);
	pos = sc_index_pos(t, old, hash);
	sc_slot_set(t, pos,
		    (sc_slot_get(t, pos) & ~SC_SLOT_PTR_MASK) |
			    (uint64_t)(uintptr_t)e >> 3);
}

/* Backward-shift deletion: no tombstones, probe chains stay short. */
static inline __attribute__((always_inline)) void
__sc_index_del_slot_locked(struct sc_cache *c, size_t pos)
{
	struct sc_index_table *t = sc_index_table(c);
	size_t cap = t->cap;
	size_t hole = pos, j = hole;
	unsigned int seq =
		atomic_load_explicit(&c->index_seq, memory_order_relaxed);
	bool shifting = false; /* this deletion made index_seq odd */

	sc_cache_assert_locked(c);
	for (;;) {
		uint64_t s;
		size_t d, dist;

		j = sc_index_next(j, cap);
		s = sc_slot_get(t, j);
		if (!s)
			break;
		/*
		 * s may move back to the hole unless its home lies in
		 * (hole, j]; its stored distance says where home is without
		 * reading the entry.
		 */
		d = sc_slot_disp(c, t, s, j);
		dist = sc_index_dist(hole, j, cap);
		if (d >= dist) {
			/* odd already: a write that changes several keys */
			if (!shifting && !(seq & 1)) {
				/* before the first moved slot is stored */
				atomic_store_explicit(&c->index_seq, seq + 1,
						      memory_order_relaxed);
				shifting = true;
			}
			d -= dist;
			if (d > SC_SLOT_DISP_MAX)
				d = SC_SLOT_DISP_MAX;
			sc_slot_set(t, hole,
				    (s & ~SC_SLOT_DISP_FIELD) |
					    (uint64_t)d << SC_SLOT_DISP_SHIFT);
			hole = j;
		}
	}
	sc_slot_set(t, hole, 0);
	if (shifting)
		atomic_store_explicit(&c->index_seq, seq + 2,
				      memory_order_release);
	c->nr_strings--;
}

struct sc_entry *sc_index_lookup_again(struct sc_cache *c, const char *key,
				       size_t len, uint64_t hash)
{
	unsigned int tries, seq;

	for (tries = 1; tries < SC_READ_TRIES; tries++) {
		struct sc_entry *e =
			sc_index_lookup_once(c, key, len, hash, &seq);

		if (sc_cache_read_valid(c, seq))
			return e;
	}
	return SC_INDEX_RETRY;
}

void __sc_index_del_at_locked(struct sc_cache *c, size_t pos)
{
	__sc_index_del_slot_locked(c, pos);
}

void __sc_index_del_locked(struct sc_cache *c, struct sc_entry *e,
			   uint64_t hash)
{
	sc_cache_assert_locked(c);
	__sc_index_del_slot_locked(c, sc_index_pos(sc_index_table(c), e, hash));
}
