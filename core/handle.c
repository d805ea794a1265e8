// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Handle keys: one array of slots with a LIFO free list, as QPMCache's
 * keyArray/freeKey. The generation is bumped each time a slot is freed; a
 * slot whose generation would wrap is retired (never reused), so a stale
 * handle can never reach a later value. Cache ids are unique among live
 * caches, so a handle of another live cache never validates.
 *
 * Concurrency: lookups (core/handle.h) read the array without the cache
 * lock; everything here runs under it. A slot's word (generation and
 * entry address) is written with one release store. The array grows by
 * doubling into a new array, published with a release store; the old one
 * is retired to the limbo and freed after a grace period, so a lookup
 * still reading it reads memory that stays valid, and a word it reads
 * there was that slot's word at some point during the lookup.
 */
#include <errno.h>

#include "core/handle.h"

#define SC_KEY_SLOTS_MAX (UINT32_MAX - 1)

size_t sc_handle_table_bytes(size_t cap)
{
	return sizeof(struct sc_key_table) + cap * sizeof(struct sc_key_slot);
}

static inline struct sc_key_table *sc_handle_table(struct sc_cache *c)
{
	return atomic_load_explicit(&c->keys, memory_order_relaxed);
}

/* Make sure a slot can be taken; the only fallible handle step. */
int __sc_handle_reserve_locked(struct sc_cache *c)
{
	struct sc_key_table *old = sc_handle_table(c), *t;
	size_t cap = old ? old->cap : 0;
	int err;

	sc_cache_assert_locked(c);
	if (c->key_free || c->keys_used < cap)
		return 0;
	err = sc_mem_grow_new((void **)&t, &cap, c->keys_used + 1,
			      sizeof(t->slots[0]), SC_KEY_SLOTS_MAX,
			      sizeof(*t));
	if (err)
		return err;
	t->cap = cap;
	if (old)
		memcpy(t->slots, old->slots, old->cap * sizeof(old->slots[0]));
	atomic_store_explicit(&c->keys, t, memory_order_release);
	if (old)
		__sc_limbo_add_key_table_locked(c, old);
	return 0;
}

sc_key_t __sc_handle_take_locked(struct sc_cache *c, struct sc_entry *e)
{
	struct sc_key_table *t = sc_handle_table(c);
	uint32_t slot;

	sc_cache_assert_locked(c);
	if (c->key_free) {
		slot = c->key_free - 1;
		c->key_free = t->slots[slot].next_free;
	} else {
		slot = (uint32_t)c->keys_used++;
	}
	t->slots[slot].next_free = 0;
	memcpy(e->key, &slot, sizeof(slot));
	atomic_store_explicit(&t->slots[slot].word,
			      sc_handle_word(t->slots[slot].gen, e),
			      memory_order_release);
	return sc_handle_make(c, slot, t->slots[slot].gen);
}

/* replace: the slot keeps its generation and now holds @e */
void __sc_handle_set_locked(struct sc_cache *c, uint32_t slot,
			    struct sc_entry *e)
{
	struct sc_key_table *t = sc_handle_table(c);

	sc_cache_assert_locked(c);
	memcpy(e->key, &slot, sizeof(slot));
	atomic_store_explicit(&t->slots[slot].word,
			      sc_handle_word(t->slots[slot].gen, e),
			      memory_order_release);
}

void __sc_handle_put_locked(struct sc_cache *c, uint32_t slot)
{
	struct sc_key_table *t = sc_handle_table(c);
	struct sc_key_slot *ks = &t->slots[slot];

	sc_cache_assert_locked(c);
	atomic_store_explicit(&ks->word, 0, memory_order_release);
	if (ks->gen == SC_HANDLE_GEN_MAX)
		return; /* retired: its generations are used up */
	ks->gen++;
	ks->next_free = c->key_free;
	c->key_free = slot + 1;
}

/* The tries of sc_handle_lookup_rcu() after the first, out of line. */
struct sc_entry *sc_handle_lookup_again(const struct sc_cache *c, sc_key_t key)
{
	unsigned int tries;

	for (tries = 1; tries < SC_READ_TRIES; tries++) {
		unsigned int seq = sc_cache_read_begin(c);
		struct sc_entry *e = sc_handle_lookup(c, key);

		if (sc_cache_read_valid(c, seq))
			return e;
	}
	return SC_LOOKUP_RETRY;
}
