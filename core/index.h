/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_CORE_INDEX_H
#define SC_CORE_INDEX_H

/*
 * The string index (core/index.c): its layout, and the lookup, which runs
 * without the cache lock inside an RCU read-side section.
 */
#include "core/cache_internal.h"

/* Slots: see sc_slot_make(). */
#define SC_SLOT_PTR_MASK ((UINT64_C(1) << 45) - 1)
#define SC_SLOT_DISP_SHIFT 45
#define SC_SLOT_DISP_MAX 255u
#define SC_SLOT_DISP_FIELD ((uint64_t)SC_SLOT_DISP_MAX << SC_SLOT_DISP_SHIFT)
#define SC_SLOT_TAG_SHIFT 53

/*
 * A slot's home is the low 32 bits of the hash scaled to the table
 * (Lemire's multiply-shift reduction: no division); the top bits are the
 * slot's tag, independent of the home.
 */
static inline size_t sc_index_home(uint64_t hash, size_t cap)
{
	return (size_t)(((uint64_t)(uint32_t)hash * cap) >> 32);
}

static inline size_t sc_index_next(size_t i, size_t cap)
{
	return ++i == cap ? 0 : i;
}

static inline struct sc_entry *sc_slot_entry(uint64_t s)
{
	return (struct sc_entry *)(uintptr_t)((s & SC_SLOT_PTR_MASK) << 3);
}

static inline bool sc_slot_is(uint64_t s, const struct sc_entry *e)
{
	return (s & SC_SLOT_PTR_MASK) == (uint64_t)(uintptr_t)e >> 3;
}

/* Key equality; 8 to 16 bytes (the common case) without a call. */
static inline bool sc_key_equal(const char *a, const char *b, size_t len)
{
	const unsigned char *x = (const unsigned char *)a;
	const unsigned char *y = (const unsigned char *)b;

	if (len >= 8 && len <= 16)
		return sc_hash_rd64(x) == sc_hash_rd64(y) &&
		       sc_hash_rd64(x + len - 8) == sc_hash_rd64(y + len - 8);
	return !memcmp(a, b, len);
}

/* Whether string entry @e's key is the @len bytes at @key. */
static inline bool sc_entry_key_is(const struct sc_entry *e, const char *key,
				   size_t len)
{
	/* an inline key's length never equals SC_KEY_LEN_EXT */
	if (len <= SC_KEY_INLINE_MAX)
		return e->key_len == len && sc_key_equal(e->key, key, len);
	return e->key_len == SC_KEY_LEN_EXT && sc_entry_key_len(e) == len &&
	       sc_key_equal(sc_entry_key(e), key, len);
}

/*
 * The entry under @key in table @t, or NULL; *@pos is its slot. Slots are
 * read with acquire loads: an entry is written before its slot is
 * published (release), so what the slot points to is complete. Under the
 * cache lock the same loop finds the slot to delete at.
 */
static inline struct sc_entry *
sc_index_probe_pos(const struct sc_index_table *t, const char *key, size_t len,
		   uint64_t hash, size_t *pos)
{
	uint64_t tag = hash >> SC_SLOT_TAG_SHIFT;
	size_t cap = t->cap, i;

	for (i = sc_index_home(hash, cap);; i = sc_index_next(i, cap)) {
		uint64_t s = atomic_load_explicit(
			&((struct sc_index_table *)t)->slots[i],
			memory_order_acquire);
		struct sc_entry *e;

		if (!s)
			return NULL;
		if ((s >> SC_SLOT_TAG_SHIFT) != tag)
			continue;
		e = sc_slot_entry(s);
		if (sc_entry_key_is(e, key, len)) {
			*pos = i;
			return e;
		}
	}
}

/* The entry under @key in table @t, or NULL. */
static inline struct sc_entry *sc_index_probe(const struct sc_index_table *t,
					      const char *key, size_t len,
					      uint64_t hash)
{
	size_t pos;

	return sc_index_probe_pos(t, key, len, hash, &pos);
}

/* sc_index_lookup() could not get a stable answer: ask under the lock. */
#define SC_INDEX_RETRY SC_LOOKUP_RETRY

/* One try: the entry or NULL, and the sequence it read first. */
static inline struct sc_entry *sc_index_lookup_once(struct sc_cache *c,
						    const char *key, size_t len,
						    uint64_t hash,
						    unsigned int *seq)
{
	const struct sc_index_table *t;

	*seq = sc_cache_read_begin(c);
	t = atomic_load_explicit(&c->index, memory_order_acquire);
	return t ? sc_index_probe(t, key, len, hash) : NULL;
}

/* The tries after the first (core/index.c): out of line, off the hit path. */
SC_HIDDEN struct sc_entry *sc_index_lookup_again(struct sc_cache *c,
						 const char *key, size_t len,
						 uint64_t hash);

/*
 * sc_index_lookup() - Find a string key without the cache lock.
 *
 * Neither a hit nor a miss is trusted by itself. A miss: deleting shifts
 * later entries of a probe chain back (core/index.c), and a lookup that
 * read the chain half before and half after a shift could pass over a
 * key that was there all along. A hit or a miss: a write that changes
 * several keys (an insert that evicts, a shrink, a clear) changes them
 * one store at a time, and a lookup that saw one change must not be
 * followed by one that misses another. Both make index_seq odd around
 * their stores, and the answer stands only if the sequence was even and
 * unchanged around the probe (sc_cache_read_valid()). On a hit that
 * costs one more load of the line the table pointer is on.
 *
 * Context: inside an RCU read-side section.
 * Return: the entry, NULL when absent, or %SC_INDEX_RETRY when writes
 * kept overlapping the lookup (or a writer was stopped in one): only the
 * cache lock can answer then.
 */
static inline struct sc_entry *
sc_index_lookup(struct sc_cache *c, const char *key, size_t len, uint64_t hash)
{
	unsigned int seq;
	struct sc_entry *e = sc_index_lookup_once(c, key, len, hash, &seq);

	if (sc_likely(sc_cache_read_valid(c, seq)))
		return e;
	return sc_index_lookup_again(c, key, len, hash);
}

/* ----------------------------------------------------------- index.c */

/* Context for all: cache lock held. */
SC_HIDDEN struct sc_entry *__sc_index_find_locked(struct sc_cache *c,
						  const char *key, size_t len,
						  uint64_t hash);
/*
 * Where a key that is not in the index would go: the empty slot that
 * ended a missed probe, and its distance from home. Valid while the
 * lock is held and the table is the same (reserving room may replace it).
 */
struct sc_index_spot {
	struct sc_index_table *table;
	size_t pos, dist;
};

/* As __sc_index_find_locked(); on a miss, also the spot to insert at. */
SC_HIDDEN struct sc_entry *
__sc_index_find_spot_locked(struct sc_cache *c, const char *key, size_t len,
			    uint64_t hash, struct sc_index_spot *spot);
/* Insert @e at @spot, found by the miss above under the same lock. */
SC_HIDDEN void __sc_index_insert_spot_locked(struct sc_cache *c,
					     struct sc_entry *e, uint64_t hash,
					     const struct sc_index_spot *spot);
SC_HIDDEN int __sc_index_reserve_locked(struct sc_cache *c);
SC_HIDDEN void __sc_index_replace_locked(struct sc_cache *c,
					 struct sc_entry *old,
					 struct sc_entry *e, uint64_t hash);
SC_HIDDEN void __sc_index_del_locked(struct sc_cache *c, struct sc_entry *e,
				     uint64_t hash);
/*
 * As __sc_index_find_locked(), and the slot it found the entry in, for
 * __sc_index_del_at_locked() under the same lock: a remove then neither
 * hashes the key again nor probes twice.
 */
SC_HIDDEN struct sc_entry *__sc_index_find_pos_locked(struct sc_cache *c,
						      const char *key,
						      size_t len, uint64_t hash,
						      size_t *pos);
SC_HIDDEN void __sc_index_del_at_locked(struct sc_cache *c, size_t pos);
SC_HIDDEN void __sc_index_trim_locked(struct sc_cache *c);
SC_HIDDEN void __sc_index_clear_locked(struct sc_cache *c);
SC_HIDDEN size_t sc_index_bytes(size_t cap);

/* Start the miss on the home slot of @hash. */
static inline void __sc_index_prefetch_hash_locked(struct sc_cache *c,
						   uint64_t hash)
{
	struct sc_index_table *t =
		atomic_load_explicit(&c->index, memory_order_relaxed);

	if (t)
		__builtin_prefetch(&t->slots[sc_index_home(hash, t->cap)], 1);
}

/* Start the miss on the slot that removing string entry @e will touch. */
static inline void __sc_index_prefetch_locked(struct sc_cache *c,
					      const struct sc_entry *e)
{
	__sc_index_prefetch_hash_locked(c, sc_entry_hash(c, e));
}

#endif /* SC_CORE_INDEX_H */
