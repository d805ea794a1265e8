/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_CORE_HANDLE_H
#define SC_CORE_HANDLE_H

/*
 * Handle keys (core/handle.c). A handle is cache id (16 bits) | slot
 * generation (16 bits) | slot + 1 (32 bits). Its slot holds the
 * generation and the entry address in one word, so a lookup reads both
 * with one load and needs no lock.
 */
#include "core/cache_internal.h"

#define SC_HANDLE_GEN_MAX 0xffffu
#define SC_HANDLE_PTR_MASK ((UINT64_C(1) << 45) - 1)

static inline sc_key_t sc_handle_make(const struct sc_cache *c, uint32_t slot,
				      uint32_t gen)
{
	return (sc_key_t){ .id = (uint64_t)c->id << 48 | (uint64_t)gen << 32 |
				 ((uint64_t)slot + 1) };
}

static inline uint64_t sc_handle_word(uint32_t gen, const struct sc_entry *e)
{
	return (uint64_t)gen << 48 | (uint64_t)(uintptr_t)e >> 3;
}

/*
 * The entry a handle refers to, or NULL. The word is read with an acquire
 * load: the entry was complete before it was stored (release). A slot
 * freed and taken again has a new generation in the same word, so a
 * stale handle never matches, whatever it races with.
 * Context: inside an RCU read-side section, or the cache lock held.
 */
static inline struct sc_entry *sc_handle_lookup(const struct sc_cache *c,
						sc_key_t key)
{
	uint32_t slot1 = (uint32_t)key.id;
	uint64_t gen = (key.id >> 32) & 0xffff;
	const struct sc_key_table *t;
	uint64_t w;

	if ((key.id >> 48) != c->id || !slot1)
		return NULL;
	t = atomic_load_explicit(&((struct sc_cache *)c)->keys,
				 memory_order_acquire);
	if (!t || slot1 > t->cap)
		return NULL;
	w = atomic_load_explicit(
		&((struct sc_key_table *)t)->slots[slot1 - 1].word,
		memory_order_acquire);
	if (!(w & SC_HANDLE_PTR_MASK) || (w >> 48) != gen)
		return NULL;
	return (struct sc_entry *)(uintptr_t)((w & SC_HANDLE_PTR_MASK) << 3);
}

/*
 * sc_handle_lookup_rcu() - Find a handle without the cache lock.
 *
 * As sc_index_lookup(): the word is trusted only if index_seq was even
 * and unchanged around its load, so a lookup never sees half of a write
 * that drops several entries (a handle gone, a string key it dropped
 * after still there).
 *
 * Context: inside an RCU read-side section.
 * Return: the entry, NULL, or %SC_LOOKUP_RETRY: ask under the lock.
 */
SC_HIDDEN struct sc_entry *sc_handle_lookup_again(const struct sc_cache *c,
						  sc_key_t key);

static inline struct sc_entry *sc_handle_lookup_rcu(const struct sc_cache *c,
						    sc_key_t key)
{
	unsigned int seq = sc_cache_read_begin(c);
	struct sc_entry *e = sc_handle_lookup(c, key);

	if (sc_likely(sc_cache_read_valid(c, seq)))
		return e;
	return sc_handle_lookup_again(c, key);
}

/* ---------------------------------------------------------- handle.c */

/* Context for all: cache lock held. */
SC_HIDDEN int __sc_handle_reserve_locked(struct sc_cache *c);
SC_HIDDEN sc_key_t __sc_handle_take_locked(struct sc_cache *c,
					   struct sc_entry *e);
SC_HIDDEN void __sc_handle_set_locked(struct sc_cache *c, uint32_t slot,
				      struct sc_entry *e);
SC_HIDDEN void __sc_handle_put_locked(struct sc_cache *c, uint32_t slot);
SC_HIDDEN size_t sc_handle_table_bytes(size_t cap);

#endif /* SC_CORE_HANDLE_H */
