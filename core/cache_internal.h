/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_CORE_CACHE_INTERNAL_H
#define SC_CORE_CACHE_INTERNAL_H

/*
 * The cache's private types, shared by its modules:
 *
 *   core/cache.c   the public API, create/destroy, release and deferred
 *                  frees (limbo), accounting
 *   core/index.c   the string index (index.h: the lock-free lookup)
 *   core/handle.c  the handle-key array (handle.h: the lock-free lookup)
 *   core/queue.c   the eviction order (LRU, SIEVE or S3-FIFO and its
 *                  ghost) and the per-thread hit logs that LRU lookups
 *                  write instead of the list
 *   core/check.c   the invariant checker, for tests and DEBUG=1 builds
 *   core/rcu.c     grace periods
 *
 * Documentation/concurrency.rst describes the design as a whole: which
 * lines each operation writes, the memory-ordering argument for every
 * lock-free step, and the lock order.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alloc/alloc.h"
#include "alloc/lock.h"
#include "core/internal.h"
#include "core/pin.h"
#include <slabcache.h>

#define SC_KEY_MAX_LEN 65535u

/* Key slab classes: 128 << i/2, times 1.5 for odd i; the last is 64 KiB. */
#define SC_NR_KEY_CLASSES 19
#define SC_SLAB_NAME_MAX 64

/* Entry flags: the first two are fixed at creation. */
#define SC_ENTRY_EXT_KEY 0x1u /* key[] holds a pointer to a key slab object */
#define SC_ENTRY_HANDLE 0x2u /* key[] holds the key-array slot */
#define SC_ENTRY_VISITED 0x4u /* SIEVE: used since the hand last passed */
#define SC_ENTRY_UNLINKED 0x8u /* left the cache: hit logs skip it */
#define SC_ENTRY_MAIN 0x10u /* S3-FIFO: on the main queue (clear: small) */
/* S3-FIFO: hits since the entry entered its queue, 0 to 3 */
#define SC_ENTRY_FREQ_SHIFT 5
#define SC_ENTRY_FREQ_ONE (1u << SC_ENTRY_FREQ_SHIFT)
#define SC_ENTRY_FREQ (7u << SC_ENTRY_FREQ_SHIFT)

struct sc_lru {
	struct sc_lru *prev, *next;
};

struct sc_entry;

/*
 * An entry's node: the 16 bytes the cache lock's lists write. Linked:
 * lru, the neighbours on the list (cache lock). Collected for release:
 * collect_next is the list link. Dropped while pinned: owner is the
 * cache to free into. Every access goes through sc_entry_node() and
 * sc_node_entry() (and the helpers below built on them), never through
 * the entry's layout: where the node lives is those two functions' choice
 * alone, and sc_entry_node_bytes() says what it adds to an entry's
 * memory outside the entry's slab object.
 */
union sc_entry_node {
	struct sc_lru lru;
	struct {
		struct sc_cache *owner;
		struct sc_entry *collect_next;
	};
};

_Static_assert(sizeof(union sc_entry_node) == 16,
	       "an entry's node is two pointers");

/*
 * One value. Everything a lookup reads (value, cost, key_len, flags, the
 * key) is written before the entry is published in the index or the key
 * array (a release store) and never changes while it is reachable; an
 * entry that leaves is freed only after a grace period (core/rcu.h), so a
 * lookup that found it may read it to the end of its section. refs and
 * flags (SIEVE's VISITED bit, S3-FIFO's frequency) are the two fields
 * lookups may write, flags only with atomic read-modify-writes; a get
 * writes refs only when it cannot pin in its thread's slots (core/pin.h).
 *
 * The header is 32 bytes, so a 16-byte key's entry is 48. The two fields
 * most entries need little of say where the rest is: key_len holds an
 * inline key's length (at most SC_KEY_INLINE_MAX) or SC_KEY_LEN_EXT, and
 * then key[] holds the key slab pointer and the 16-bit length after it;
 * cost holds a cost below SC_COST_SPILLED, or SC_COST_SPILLED, and then
 * the cost is the size_t after the key's room (sc_entry_key_room()), in
 * 8 bytes more of the entry's own object. Only an entry whose cost is
 * 65,535 or more pays for them, where the value it stands for is large.
 */
struct sc_entry {
	union sc_entry_node node; /* only through sc_entry_node() */
	void *value;
	/*
	 * 1 for the cache while linked, +1 per counted pin (core/pin.h:
	 * most gets pin in their thread's slots instead); SC_REFS_DROPPED
	 * once the cache let go
	 */
	atomic_uint refs;
	_Atomic uint8_t flags; /* SC_ENTRY_* */
	uint8_t key_len; /* only through sc_entry_key_len() */
	uint16_t cost; /* only through sc_entry_cost_of() */
	char key[]; /* inline key, a key slab pointer, or the handle slot */
};

/* key_len of an entry whose key lives in a key slab */
#define SC_KEY_LEN_EXT 0xffu
/* cost of an entry whose cost lives after its key */
#define SC_COST_SPILLED 0xffffu

/* @e's node (links, owner, collect_next), wherever it lives. */
static inline union sc_entry_node *sc_entry_node(const struct sc_entry *e)
{
	return (union sc_entry_node *)&e->node;
}

/* The entry whose node's links are @l: sc_entry_node()'s inverse. */
static inline struct sc_entry *sc_node_entry(const struct sc_lru *l)
{
	return sc_container_of(l, struct sc_entry, node);
}

/* Bytes an entry's node takes outside its slab object: none, it is inside. */
static inline size_t sc_entry_node_bytes(void)
{
	return 0;
}

/* @e's links on the list it is on (cache lock). */
static inline struct sc_lru *sc_entry_lru(const struct sc_entry *e)
{
	return &sc_entry_node(e)->lru;
}

/* The link that follows @e on a collect or limbo list. */
static inline struct sc_entry **sc_entry_collect_link(const struct sc_entry *e)
{
	return &sc_entry_node(e)->collect_next;
}

static inline struct sc_entry *sc_entry_next_collected(const struct sc_entry *e)
{
	return sc_entry_node(e)->collect_next;
}

/* The cache a dropped, pinned @e is freed into. */
static inline struct sc_cache *sc_entry_owner(const struct sc_entry *e)
{
	return sc_entry_node(e)->owner;
}

static inline void sc_entry_set_owner(struct sc_entry *e, struct sc_cache *c)
{
	sc_entry_node(e)->owner = c;
}

/*
 * Entry slab classes: object sizes in steps of 8 bytes, from the smallest
 * entry (the header and a handle's 4-byte key-array slot) to
 * SC_ENTRY_CLASS_MAX. A string key is inline up to SC_KEY_INLINE_MAX.
 */
#define SC_ENTRY_HDR offsetof(struct sc_entry, key)
#define SC_ENTRY_CLASS_STEP 8
#define SC_ENTRY_CLASS_MIN                                             \
	((SC_ENTRY_HDR + sizeof(uint32_t) + SC_ENTRY_CLASS_STEP - 1) / \
	 SC_ENTRY_CLASS_STEP * SC_ENTRY_CLASS_STEP)
#define SC_ENTRY_CLASS_MAX 128
#define SC_NR_ENTRY_CLASSES \
	((SC_ENTRY_CLASS_MAX - SC_ENTRY_CLASS_MIN) / SC_ENTRY_CLASS_STEP + 1)
/* an inline key leaves room for a spilled cost in the largest class */
#define SC_KEY_INLINE_MAX (SC_ENTRY_CLASS_MAX - SC_ENTRY_HDR - sizeof(size_t))
/* an external key: its slab pointer and its length */
#define SC_KEY_EXT_ROOM (sizeof(char *) + sizeof(uint16_t))
#define SC_NR_SLABS (SC_NR_ENTRY_CLASSES + SC_NR_KEY_CLASSES)

_Static_assert(SC_ENTRY_HDR == 32, "a 16-byte key's entry is 48 bytes");
_Static_assert(SC_ENTRY_HDR % sizeof(size_t) == 0, "the key is aligned");
_Static_assert(SC_KEY_INLINE_MAX < SC_KEY_LEN_EXT, "key_len tells them apart");
_Static_assert(SC_KEY_MAX_LEN <= UINT16_MAX, "an external key's length");
_Static_assert(SC_ENTRY_HDR + (SC_KEY_EXT_ROOM + 7) / 8 * 8 + sizeof(size_t) <=
		       SC_ENTRY_CLASS_MAX,
	       "an external key and a spilled cost fit the largest entry");
_Static_assert(SC_ENTRY_CLASS_MAX % SC_ENTRY_CLASS_STEP == 0,
	       "the largest entry is a class");

/* The object size of entry class @i. */
static inline size_t sc_entry_class_size(unsigned int i)
{
	return SC_ENTRY_CLASS_MIN + (size_t)i * SC_ENTRY_CLASS_STEP;
}

/*
 * The smallest entry class whose objects hold @need bytes. Every entry
 * needs at least the header and one byte, so the subtraction cannot wrap.
 */
static inline unsigned int sc_entry_class_for(size_t need)
{
	return (unsigned int)((need + SC_ENTRY_CLASS_STEP - 1 -
			       SC_ENTRY_CLASS_MIN) /
			      SC_ENTRY_CLASS_STEP);
}

_Static_assert(SC_ENTRY_HDR + 1 + SC_ENTRY_CLASS_STEP - 1 >= SC_ENTRY_CLASS_MIN,
	       "sc_entry_class_for() of the smallest need is class 0");

/*
 * The bytes of key[] the key takes: a handle's 4-byte slot, a string key
 * of @len bytes inline, or a key slab pointer and the length (beyond
 * SC_KEY_INLINE_MAX).
 */
static inline size_t sc_entry_key_room(bool handle, size_t len)
{
	if (handle)
		return sizeof(uint32_t);
	if (len <= SC_KEY_INLINE_MAX)
		return len;
	return SC_KEY_EXT_ROOM;
}

/* Where a spilled cost sits in key[]: after the key's room, aligned. */
static inline size_t sc_entry_cost_offset(bool handle, size_t len)
{
	return (sc_entry_key_room(handle, len) + sizeof(size_t) - 1) /
	       sizeof(size_t) * sizeof(size_t);
}

/* The object an entry of that key and @cost needs. */
static inline size_t sc_entry_need(bool handle, size_t len, size_t cost)
{
	if (cost >= SC_COST_SPILLED)
		return SC_ENTRY_HDR + sc_entry_cost_offset(handle, len) +
		       sizeof(size_t);
	return SC_ENTRY_HDR + sc_entry_key_room(handle, len);
}

/*
 * The string index: an open-addressing table published by pointer. A
 * table is never changed in size; growing or trimming builds a new one
 * and retires the old one through the limbo. limbo_next is the writer's
 * link for that and is the only field a lookup never reads.
 */
struct sc_index_table {
	struct sc_index_table *limbo_next;
	size_t cap; /* one of the sizes of core/index.c */
	_Atomic uint64_t slots[];
};

/* A handle-key slot: generation << 48 | entry address >> 3; 0: free. */
struct sc_key_slot {
	_Atomic uint64_t word;
	uint32_t next_free; /* free list: slot + 1, 0 ends it (cache lock) */
	uint32_t gen; /* the slot's generation (cache lock) */
};

struct sc_key_table {
	struct sc_key_table *limbo_next;
	size_t cap;
	struct sc_key_slot slots[];
};

struct sc_hitlog;
struct sc_ghost;

/* Inserts linked late at most, per cache (struct sc_cache.deferred). */
#define SC_QUEUE_DEFER_MAX 8
/*
 * Logs beyond which an insert drains instead of waiting to be linked: a
 * waiting insert reads every log's head and stores its restart, two
 * lines per thread that the threads write and read on every hit, where
 * a drain reads only what the threads logged, which some drain must
 * read anyway (Documentation/concurrency.rst, "Larger machines").
 */
#define SC_QUEUE_DEFER_LOGS 8

/* Entries and tables waiting for their grace period, oldest first. */
#define SC_LIMBO_BATCHES 8
struct sc_limbo_batch {
	uint64_t gp; /* sc_rcu_start() ticket */
	struct sc_entry *entries; /* through collect_next */
	/* dropped one per write: freed through the thread's magazine */
	struct sc_entry *singles;
	struct sc_index_table *tables;
	struct sc_key_table *key_tables;
	size_t nr;
};

struct sc_cache {
	/*
	 * Read by every lookup, written only by create, resizes (table
	 * pointers), deletions that shift and writes that change more than
	 * one key (index_seq): one line for all of it.
	 */
	_Atomic(struct sc_index_table *) index;
	/*
	 * odd while entries shift in the index, and while a write changes
	 * more than one key (string or handle): sc_cache_read_begin()
	 */
	atomic_uint index_seq;
	_Atomic(struct sc_key_table *) keys;
	uint64_t seed;
	unsigned int flags;
	uint16_t id; /* in handles */
	uint16_t tls_idx; /* this cache's slot in each thread's hit logs */
	uint64_t serial; /* unique for the process's life */
	/* a second thread made a log: runs of hits need their start time */
	atomic_bool logs_shared;

	/* ----- everything below: the cache lock */
	struct sc_mutex lock __attribute__((aligned(64)));
	/* held in solo mode, without the mutex: sc_cache_lock() */
	bool solo_held;
	/* next: most recently used (SIEVE, S3-FIFO's small queue: newest) */
	struct sc_lru lru;
	struct sc_lru *hand; /* SIEVE: next to examine; NULL: the oldest */
	/* S3-FIFO (core/queue.c): the main queue, the queues' costs, shares */
	struct sc_lru main;
	/*
	 * small_max: a tenth of the limit (the admission bar); small_target:
	 * S's share, adapted on ghost hits; main_max = limit - small_target
	 */
	size_t small_cost, main_cost, small_max, small_target, main_max;
	size_t main_count; /* entries on M: a write's rounds of M */
	struct sc_ghost *ghost; /* or NULL */
	size_t ghost_sized; /* the entries the ghost was sized for */
	/* its buckets, read without the lock to prefetch (core/queue.h) */
	_Atomic(uint32_t (*)[16]) ghost_hint_slots;
	atomic_size_t ghost_hint_buckets;
	struct sc_hitlog *logs; /* every thread's hit log of this cache */
	unsigned int nr_logs;
	/*
	 * LRU with two threads' logs: inserts that chose no victims and did
	 * not drain the logs, oldest first, each linked at the next drain
	 * where the logs stood when it was made (core/queue.c, "Inserts
	 * that choose no victims"). Counted in count and total_cost, off
	 * the list (links NULL) until then.
	 */
	unsigned int nr_deferred;
	struct sc_entry *deferred[SC_QUEUE_DEFER_MAX];
	/*
	 * LRU, once two threads log hits: the hits drained but not yet
	 * applied to the list, each entry once with the drain sequence
	 * number of its last hit (core/queue.c, "Lazily applied hits").
	 */
	struct sc_entry **dirty;
	uint32_t *dirty_stamp, *dirty_slot; /* in dirty's block */
	uint32_t *dirty_hash; /* index + 1 into dirty[], 0: empty */
	uint32_t nr_dirty, dirty_cap, dirty_mask, dirty_seq;

	size_t nr_strings; /* entries in the index */
	size_t keys_used; /* slots ever taken */
	uint32_t key_free; /* slot + 1 of the first free slot, 0: none */

	size_t count, total_cost, limit;
	size_t pinned; /* dropped entries still referenced */
	size_t age_cost; /* total_cost after the last age step; 0 at first */
	bool dead; /* destroyed; freed with the last pinned entry */

	/* limbo: see "Deferred frees" in core/cache.c */
	struct sc_limbo_batch open;
	struct sc_limbo_batch batches[SC_LIMBO_BATCHES];
	unsigned int batch_first, nr_batches;
	unsigned int limbo_poll_in; /* writes until the next poll */
	size_t limbo_close_at; /* entries that close the open batch */
	size_t limbo_entries; /* in open and batches */
	/* dropped after the lock, waiting to join the open batch */
	_Atomic(struct sc_entry *) limbo_pending;

	void (*release)(void *value, void *priv);
	void *priv;
	struct sc_shrinker *shrinker;

	/* hits and misses of logs that are gone; live logs count their own */
	unsigned long long hits, misses, inserts, replaces, removes;
	unsigned long long evictions, shrunk, insert_failures;

	struct sc_slab *entry_slabs[SC_NR_ENTRY_CLASSES];
	struct sc_slab *key_slabs[SC_NR_KEY_CLASSES];
	char name[SC_SLAB_NAME_MAX];
};

/* Where dropped entries are collected under the lock. */
struct sc_collect {
	struct sc_entry *head, **tail; /* in the order dropped */
};

#define SC_COLLECT_INIT(name)      \
	{                          \
		NULL, &(name).head \
	}

/*
 * How long a writer that finds the cache lock taken spins before it
 * sleeps (alloc/lock.h, sc_mutex_lock_spin()): several holds of a write
 * that shares the cache with another thread's writes, and less than a
 * futex sleep and wake cost under a hypervisor
 * (Documentation/performance.rst, "The cache lock's waiters spin").
 */
#define SC_CACHE_LOCK_SPIN_NS 10000

SC_HIDDEN void sc_cache_lock_contended(struct sc_cache *c);

/*
 * Solo mode: the cache locks of a program that takes them from one thread
 * only cost no atomic instruction. The first thread to take a cache lock
 * becomes the solo thread (sc_cache_solo_claim()); while no other thread
 * has taken one, it enters a cache's critical section by raising
 * sc_solo_depth and checking sc_solo_ended, with plain loads and stores,
 * and leaves it by lowering the depth (a release). The first lock by
 * any other thread ends solo mode for the process's life
 * (sc_cache_solo_end()): it sets sc_solo_ended, runs membarrier(2),
 * which puts a full barrier into the solo thread's stream wherever it
 * is, and waits for the depth to reach 0. Either the solo thread's
 * raise of the depth was before that barrier, and the ender sees it and
 * waits, or its check of sc_solo_ended was after it, and it sees the end
 * and takes the mutex: the asymmetric Dekker pair of liburcu's
 * membarrier flavour. From then on every thread takes the mutex. The
 * ender's acquire of a depth of 0 pairs with the solo thread's release,
 * so what the solo sections wrote is visible to it. Without membarrier(2)
 * there is no solo thread. A lock and its unlock cost 10.8 ns a pair
 * uncontended on this project's VMs, plus the stores before the lock
 * that it waits for (Documentation/performance.rst, "A ninth run").
 */
#define SC_SOLO_ON 0 /* sc_solo_ended: a solo thread may skip the mutex */
#define SC_SOLO_ENDING 1 /* set; the membarrier(2) has not returned yet */
#define SC_SOLO_ENDED 2 /* every thread takes the mutex */
SC_HIDDEN extern atomic_uint sc_solo_ended;
SC_HIDDEN extern atomic_uint sc_solo_depth;
/*
 * 1: this thread is the solo thread; -1: it takes the mutex; 0: unknown.
 * Initial-exec, as the slabs' thread data: a plain %fs offset at every
 * cache lock, in the shared library too.
 */
SC_HIDDEN extern __thread signed char sc_solo_self
	__attribute__((tls_model("initial-exec")));

/* The calling thread's first cache lock: sc_solo_self becomes 1 or -1. */
SC_HIDDEN void sc_cache_solo_claim(void);
/* After fork(): the child's one thread, in the state its parent left. */
SC_HIDDEN void sc_cache_solo_atfork_child(bool expedited);

/* Enter @c's critical section in solo mode, or say that it has ended. */
static inline bool sc_cache_solo_enter(struct sc_cache *c)
{
	unsigned int depth =
		atomic_load_explicit(&sc_solo_depth, memory_order_relaxed);

	atomic_store_explicit(&sc_solo_depth, depth + 1, memory_order_relaxed);
	/* the compiler's order only: membarrier(2) is the CPU's fence */
	atomic_signal_fence(memory_order_seq_cst);
	if (sc_likely(atomic_load_explicit(&sc_solo_ended,
					   memory_order_relaxed) ==
		      SC_SOLO_ON)) {
		c->solo_held = true;
		sc_mutex_set_owner(&c->lock, sc_lock_self());
		return true;
	}
	atomic_store_explicit(&sc_solo_depth, depth, memory_order_release);
	sc_solo_self = -1;
	return false;
}

/* Take @c's lock in solo mode if this thread may: true if it did. */
static inline bool sc_cache_solo_lock(struct sc_cache *c)
{
	if (sc_solo_self < 0)
		return false;
	if (!sc_solo_self)
		sc_cache_solo_claim();
	return sc_solo_self > 0 && sc_cache_solo_enter(c);
}

/*
 * The cache lock, for writers. In solo mode, no atomic at all (above).
 * Else, uncontended, one trylock. A waiter spins
 * only while no other thread waits for a CPU (sc_lock_spin_ok()): while
 * the threads that use caches (sc_rcu_nr_readers) are no more than the
 * CPUs, or, when there are more, while the system's runnable tasks are:
 * then the holder is most likely running and about to let go. With more
 * threads running than CPUs it may be preempted, and a spinning waiter
 * would take the CPU it needs; threads that only sleep (a pool's idle
 * workers) take none.
 */
static inline void sc_cache_lock(const struct sc_cache *c)
{
	struct sc_cache *w = (struct sc_cache *)c;

	sc_lockdep_assert_not_held(&w->lock);
	if (sc_cache_solo_lock(w))
		return;
	if (sc_likely(sc_mutex_trylock(&w->lock)))
		return;
	sc_cache_lock_contended(w);
}

/* Return: true if the cache lock was taken. */
static inline bool sc_cache_trylock(const struct sc_cache *c)
{
	struct sc_cache *w = (struct sc_cache *)c;

	return sc_cache_solo_lock(w) || sc_mutex_trylock(&w->lock);
}

static inline void sc_cache_unlock(const struct sc_cache *c)
{
	struct sc_cache *w = (struct sc_cache *)c;

	if (w->solo_held) {
		sc_lockdep_assert_held(&w->lock);
		w->solo_held = false;
		sc_mutex_set_owner(&w->lock, 0);
		/* release: the next holder sees this section's writes */
		atomic_store_explicit(
			&sc_solo_depth,
			atomic_load_explicit(&sc_solo_depth,
					     memory_order_relaxed) -
				1,
			memory_order_release);
		return;
	}
	sc_mutex_unlock(&w->lock);
}

#define sc_cache_assert_locked(c) \
	sc_lockdep_assert_held(&((struct sc_cache *)(c))->lock)

/*
 * The read side of index_seq, for every lock-free lookup (string keys:
 * core/index.h, handles: core/handle.h). A lookup trusts what it found,
 * hit or miss, only if sc_cache_read_valid() says the sequence was even
 * and unchanged around it: then no deletion shifted the entries it probed
 * and no write that changes several keys was half done while it looked.
 * (The sequence only grows, by one per odd or even step: a wrap of 2^32
 * steps within one lookup is not a case.) The load here is an acquire: if it reads the even value a write ended
 * with, the lookup sees all of that write. The lookup's own loads of
 * slots and table pointers are acquires, so the re-read in
 * sc_cache_read_valid() comes after them; it may be relaxed. A writer's
 * stores are release stores made after it made the sequence odd, so a
 * lookup that read any of them re-reads an odd or later value.
 * Documentation/concurrency.rst, "Writes that change several keys".
 */
static inline unsigned int sc_cache_read_begin(const struct sc_cache *c)
{
	/*
	 * An odd value (a write under way) comes back as the even one
	 * before it, which the re-read can no longer return: the check
	 * after the lookup is then a single compare.
	 */
	return atomic_load_explicit(&((struct sc_cache *)c)->index_seq,
				    memory_order_acquire) &
	       ~1u;
}

static inline bool sc_cache_read_valid(const struct sc_cache *c,
				       unsigned int seq)
{
	return atomic_load_explicit(&((struct sc_cache *)c)->index_seq,
				    memory_order_relaxed) == seq;
}

/* Lookups that found the sequence moving this often ask the lock. */
#define SC_READ_TRIES 8

/* A lock-free lookup could not get a stable answer: ask under the lock. */
#define SC_LOOKUP_RETRY ((struct sc_entry *)1)

/*
 * The write side: a write that will change more than one key makes the
 * sequence odd before its first change (index slot, handle word or table
 * pointer; all release stores) and even again after its last, before it
 * drops the lock. Context: cache lock held.
 */
static inline void __sc_cache_multi_begin_locked(struct sc_cache *c)
{
	unsigned int seq =
		atomic_load_explicit(&c->index_seq, memory_order_relaxed);

	sc_lockdep_assert_held(&c->lock);
	if (!(seq & 1))
		atomic_store_explicit(&c->index_seq, seq + 1,
				      memory_order_relaxed);
}

static inline void __sc_cache_multi_end_locked(struct sc_cache *c)
{
	unsigned int seq =
		atomic_load_explicit(&c->index_seq, memory_order_relaxed);

	sc_lockdep_assert_held(&c->lock);
	if (seq & 1)
		atomic_store_explicit(&c->index_seq, seq + 1,
				      memory_order_release);
}

static inline unsigned int sc_entry_flags(const struct sc_entry *e)
{
	return atomic_load_explicit(&((struct sc_entry *)e)->flags,
				    memory_order_relaxed);
}

static inline const char *sc_entry_key(const struct sc_entry *e)
{
	const char *p;

	if (!(sc_entry_flags(e) & SC_ENTRY_EXT_KEY))
		return e->key;
	memcpy(&p, e->key, sizeof(p));
	return p;
}

/* @e's key length: 0 for a handle entry. */
static inline size_t sc_entry_key_len(const struct sc_entry *e)
{
	uint16_t len;

	if (e->key_len != SC_KEY_LEN_EXT)
		return e->key_len;
	memcpy(&len, e->key + sizeof(char *), sizeof(len));
	return len;
}

/* @e's cost, wherever it sits (struct sc_entry). */
static inline size_t sc_entry_cost_of(const struct sc_entry *e)
{
	size_t cost;

	if (e->cost != SC_COST_SPILLED)
		return e->cost;
	memcpy(&cost,
	       e->key +
		       sc_entry_cost_offset(sc_entry_flags(e) & SC_ENTRY_HANDLE,
					    sc_entry_key_len(e)),
	       sizeof(cost));
	return cost;
}

/* The entry class @e was allocated from, from what it holds. */
static inline unsigned int sc_entry_class_of(const struct sc_entry *e)
{
	unsigned int handle = sc_entry_flags(e) & SC_ENTRY_HANDLE;

	/*
	 * An inline key: key_len is its length, and a handle's is 0 where
	 * its 4-byte slot sits (the flag times 2), without a branch.
	 */
	if (e->cost != SC_COST_SPILLED && e->key_len != SC_KEY_LEN_EXT)
		return sc_entry_class_for(SC_ENTRY_HDR + e->key_len +
					  handle * 2);
	return sc_entry_class_for(sc_entry_need(handle, sc_entry_key_len(e),
						sc_entry_cost_of(e)));
}

_Static_assert(SC_ENTRY_HANDLE * 2 == sizeof(uint32_t),
	       "sc_entry_class_of(): a handle's slot is the flag times 2");

static inline uint32_t sc_entry_slot(const struct sc_entry *e)
{
	uint32_t slot;

	memcpy(&slot, e->key, sizeof(slot));
	return slot;
}

/* The key hash of a string entry, recomputed: entries do not store it. */
static inline uint64_t sc_entry_hash(const struct sc_cache *c,
				     const struct sc_entry *e)
{
	return sc_key_hash(c->seed, sc_entry_key(e), sc_entry_key_len(e));
}

static inline bool sc_cache_sieve(const struct sc_cache *c)
{
	return c->flags & SC_CACHE_POLICY_SIEVE;
}

static inline bool sc_cache_s3fifo(const struct sc_cache *c)
{
	return c->flags & SC_CACHE_POLICY_S3FIFO;
}

/* Lookups report hits in the entry's flags, not in the hit logs. */
static inline bool sc_cache_hits_in_flags(const struct sc_cache *c)
{
	return c->flags & (SC_CACHE_POLICY_SIEVE | SC_CACHE_POLICY_S3FIFO);
}

static inline void sc_collect_add(struct sc_collect *col, struct sc_entry *e)
{
	*sc_entry_collect_link(e) = NULL;
	*col->tail = e;
	col->tail = sc_entry_collect_link(e);
}

/* ---------------------------------------------------------- cache.c */

/*
 * Put a counted pin of @e (core/pin.h); the last one of a dropped entry
 * releases its value and frees it. Context: no cache lock held, not
 * inside a read-side section.
 */
SC_HIDDEN void sc_entry_put_counted(struct sc_entry *e);

/* Retire an index or key table: freed after a grace period. */
SC_HIDDEN void __sc_limbo_add_table_locked(struct sc_cache *c,
					   struct sc_index_table *t);
SC_HIDDEN void __sc_limbo_add_key_table_locked(struct sc_cache *c,
					       struct sc_key_table *t);

#endif /* SC_CORE_CACHE_INTERNAL_H */
