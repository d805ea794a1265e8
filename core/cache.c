// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The cost-bounded cache: QPixmapCache/QCache semantics over slabs.
 *
 * Entries. One struct sc_entry per value, from a per-cache slab whose
 * object size fits the key inline (entry classes of 48 to 128 bytes, so
 * keys up to SC_KEY_INLINE_MAX bytes live in the entry's own cache lines).
 * Longer keys live in a key slab of a size class (128, 192, 256, 384, ...
 * 64 KiB) and the entry holds a pointer to them. All 27 slab caches are
 * created with the cache (they hold no memory until used), so that no
 * call but create ever creates one.
 * Handle entries (sc_cache_add) have no string key: the key area holds
 * their key-array slot.
 *
 * String index. An open-addressing table of 8-byte slots, each holding
 * the entry's address (>> 3: 45 bits cover the 48-bit user address space
 * on Linux unless a mapping asked for more; an entry that does not fit is
 * refused with ENOMEM), its distance from its home slot (8 bits,
 * saturating) and an 11-bit tag from the top of the hash. Linear probing
 * from hash & mask, backward-shift deletion (no tombstones), load at most
 * 3/4, doubling. A hit costs the slot line and the entry line, and the tag
 * makes false compares rare (1 in 2048 foreign slots). Entries do not
 * store their hash: the stored distance lets a backward shift decide
 * without reading the entries it moves, and rehashing recomputes the hash
 * from the key, which sits in the entry line it reads anyway; that keeps
 * the entry header at 40 bytes, so a 16-byte key fits a 56-byte entry.
 *
 * Handle keys. One array of slots with a LIFO free list, as QPMCache's
 * keyArray/freeKey. A handle is cache id (16 bits) | slot generation (16
 * bits) | slot + 1 (32 bits). The generation is bumped each time a slot is
 * freed; a slot whose generation would wrap is retired (never reused), so
 * a stale handle can never reach a later value. Cache ids are unique among
 * live caches, so a handle of another live cache never validates.
 *
 * LRU. A circular doubly-linked list intrusive in the entry; head->next is
 * the most recently used. Exact LRU order, as QCache: the default, because
 * QPixmapCache/QCache semantics (and the tests ported from Qt) depend on it.
 *
 * SIEVE (SC_CACHE_POLICY_SIEVE; Zhang et al., NSDI '24). The same list
 * holds insertion order instead: head->next is the newest entry, and a hit
 * only sets SC_ENTRY_VISITED in the entry's flags (once: an entry already
 * visited is not written again), so a hit writes neither LRU neighbour.
 * c->hand is the next entry eviction looks at (NULL: the oldest). It moves
 * from the oldest end towards the newest, clearing visited bits, and evicts
 * the first entry not visited; past the newest it wraps to the oldest. It
 * persists between evictions; unlinking the entry it points at moves it
 * one step on, so it never points at an entry that has left. Every
 * eviction path (limit, set_limit, shrink, shrinkers, age) takes its victim
 * from __sc_cache_victim_locked(), so all of them follow the hand; clear
 * and destroy release oldest first, as with LRU. Inserting over an existing
 * key, and replace, put the new value at the newest end, not visited: it
 * is a new entry. The visited bit is written under the cache lock, so
 * evictions (which read and clear it under the same lock) never race it.
 *
 * References. An entry's refs counts one reference for the cache while it
 * is linked plus one per sc_cache_get(). Gets take references under the
 * cache lock; sc_entry_put() drops them with an atomic decrement and needs
 * the lock only for the last reference of an entry that has left the
 * cache. Dropping an entry from the cache (evict, remove, replace, clear)
 * records the owner cache in the entry and counts it in c->pinned until
 * the last put; the cache struct and its slabs outlive sc_cache_destroy()
 * until that count is zero, so sc_entry_put() works after destroy.
 *
 * Release deferral. Entries dropped under the lock are collected on a
 * local list (through lru.next), in the order dropped: least recently
 * used first. The lock is dropped; then each value is released and its
 * entry freed to its slab. No user code ever runs with the cache lock
 * held, so a release callback may call back into the cache.
 *
 * Failure atomicity. The entry and its key copy are allocated before the
 * lock is taken; under the lock, every check and growth (key array, index)
 * happens before the first visible change.
 *
 * Lock order (outermost first): shrinker registry lock > cache lock >
 * slab lock > backend. The cache lock is never held across user code; the
 * shrinker registry is never entered with the cache lock held
 * (sc_shrinker_free() in destroy runs before the lock is taken). The
 * global cache-id lock is a leaf, taken without any other lock.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "alloc/alloc.h"
#include "alloc/lock.h"
#include "internal.h"
#include <slabcache.h>

#define SC_KEY_MAX_LEN 65535u

/* Entry slab classes: object sizes. The key is inline up to the last. */
#define SC_NR_ENTRY_CLASSES 11
static const uint16_t sc_entry_class_size[SC_NR_ENTRY_CLASSES] = {
	48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128,
};

/* Key slab classes: 128 << i/2, times 1.5 for odd i; the last is 64 KiB. */
#define SC_NR_KEY_CLASSES 19

#define SC_SLAB_NAME_MAX 64

/* Index slots: see sc_slot_make(). */
#define SC_SLOT_PTR_MASK ((UINT64_C(1) << 45) - 1)
#define SC_SLOT_DISP_SHIFT 45
#define SC_SLOT_DISP_MAX 255u
#define SC_SLOT_DISP_FIELD ((uint64_t)SC_SLOT_DISP_MAX << SC_SLOT_DISP_SHIFT)
#define SC_SLOT_TAG_SHIFT 53
#define SC_INDEX_MIN_CAP 16
#define SC_INDEX_MAX_CAP (UINT64_C(1) << 32)

/* Handle layout. */
#define SC_HANDLE_GEN_MAX 0xffffu
#define SC_KEY_SLOTS_MAX (UINT32_MAX - 1)

#define SC_ENTRY_EXT_KEY 0x1u /* key[] holds a pointer to a key slab object */
#define SC_ENTRY_HANDLE 0x2u /* key[] holds the key-array slot */
#define SC_ENTRY_VISITED 0x4u /* SIEVE: used since the hand last passed */

#define SC_CACHE_FLAGS (SC_CACHE_NO_SHRINKER | SC_CACHE_POLICY_SIEVE)

struct sc_lru {
	struct sc_lru *prev, *next;
};

struct sc_entry {
	/*
	 * Linked: LRU neighbours. Collected for release: next is the list
	 * link. Dropped while pinned: owner is the cache to free into.
	 */
	union {
		struct sc_lru lru;
		struct {
			struct sc_cache *owner;
			struct sc_entry *collect_next;
		};
	};
	void *value;
	size_t cost;
	atomic_uint refs; /* 1 for the cache while linked, +1 per get */
	uint16_t key_len;
	uint8_t entry_class;
	uint8_t flags; /* SC_ENTRY_* */
	char key[]; /* inline key, a key slab pointer, or the handle slot */
};

#define SC_ENTRY_HDR offsetof(struct sc_entry, key)
#define SC_KEY_INLINE_MAX (128 - SC_ENTRY_HDR)

struct sc_key_slot {
	struct sc_entry *entry; /* NULL when free or retired */
	uint32_t gen;
	uint32_t next_free; /* free list: slot + 1, 0 ends it */
};

/* LRU hits kept to apply in one batch; see __sc_lru_drain_locked() */
#define SC_TOUCH_LOG 64
/* entries given back to their slab per lock when many are dropped */
#define SC_FREE_BATCH 32
/* how many entries ahead the batch prefetches the neighbours */
#define SC_TOUCH_PREFETCH 12

struct sc_cache {
	struct sc_mutex lock;
	struct sc_lru lru; /* next: most recently used (SIEVE: newest) */
	struct sc_lru *hand; /* SIEVE: next to examine; NULL: the oldest */
	/* LRU hits not yet applied to the list, oldest first: see "LRU" */
	unsigned int nr_touched;
	struct sc_entry *touched[SC_TOUCH_LOG];

	/* string index */
	uint64_t *table;
	size_t table_cap; /* 0 or a power of two */
	size_t nr_strings;
	uint64_t seed;

	/* handle keys */
	struct sc_key_slot *keys;
	size_t key_cap, keys_used;
	uint32_t key_free; /* slot + 1 of the first free slot, 0: none */
	uint16_t id;

	size_t count, total_cost, limit;
	size_t pinned; /* dropped entries still referenced */
	size_t age_cost; /* total_cost after the last age step; 0 at first */
	bool dead; /* destroyed; freed with the last pinned entry */

	void (*release)(void *value, void *priv);
	void *priv;
	unsigned int flags;
	struct sc_shrinker *shrinker;

	unsigned long long hits, misses, inserts, replaces, removes;
	unsigned long long evictions, shrunk, insert_failures;

	struct sc_slab *entry_slabs[SC_NR_ENTRY_CLASSES];
	struct sc_slab *key_slabs[SC_NR_KEY_CLASSES];
	char name[SC_SLAB_NAME_MAX];
};

#define SC_NR_SLABS (SC_NR_ENTRY_CLASSES + SC_NR_KEY_CLASSES)

/* Slab cache @i of a cache: entry classes first, then key classes. */
static inline struct sc_slab **sc_cache_slab_ref(struct sc_cache *c,
						 unsigned int i)
{
	return i < SC_NR_ENTRY_CLASSES ? &c->entry_slabs[i] :
					 &c->key_slabs[i - SC_NR_ENTRY_CLASSES];
}

static inline struct sc_slab *sc_cache_slab(struct sc_cache *c, unsigned int i)
{
	return *sc_cache_slab_ref(c, i);
}

/* Where dropped entries are collected under the lock. */
struct sc_collect {
	struct sc_entry *head, **tail; /* in the order dropped */
};

#define SC_COLLECT_INIT(name)      \
	{                          \
		NULL, &(name).head \
	}

/* ------------------------------------------------------------ cache ids */

/*
 * Ids of live caches, so that a handle of one live cache never validates
 * in another. Id 0 is never used. The cursor rotates, so a destroyed
 * cache's id is not handed out again soon.
 */
static struct sc_mutex sc_cache_id_lock = SC_MUTEX_INITIALIZER;
static uint64_t sc_cache_id_used[65536 / 64];
static unsigned int sc_cache_id_cursor;

static int sc_cache_id_alloc(uint16_t *id)
{
	unsigned int i, n;
	int ret = -ENOMEM;

	sc_mutex_lock(&sc_cache_id_lock);
	for (i = 0; i < 65535; i++) {
		n = (sc_cache_id_cursor + i) % 65535 + 1;
		if (!(sc_cache_id_used[n / 64] & (UINT64_C(1) << (n % 64)))) {
			sc_cache_id_used[n / 64] |= UINT64_C(1) << (n % 64);
			sc_cache_id_cursor = n;
			*id = (uint16_t)n;
			ret = 0;
			break;
		}
	}
	sc_mutex_unlock(&sc_cache_id_lock);
	return ret;
}

static void sc_cache_id_free(uint16_t id)
{
	sc_mutex_lock(&sc_cache_id_lock);
	sc_cache_id_used[id / 64] &= ~(UINT64_C(1) << (id % 64));
	sc_mutex_unlock(&sc_cache_id_lock);
}

/* ------------------------------------------------------------- helpers */

static inline void sc_cache_lock(const struct sc_cache *c)
{
	sc_mutex_lock(&((struct sc_cache *)c)->lock);
}

static inline void sc_cache_unlock(const struct sc_cache *c)
{
	sc_mutex_unlock(&((struct sc_cache *)c)->lock);
}

static inline void *sc_err_ptr(int err)
{
	errno = err;
	return NULL;
}

static inline const char *sc_entry_key(const struct sc_entry *e)
{
	const char *p;

	if (!(e->flags & SC_ENTRY_EXT_KEY))
		return e->key;
	memcpy(&p, e->key, sizeof(p));
	return p;
}

static inline uint32_t sc_entry_slot(const struct sc_entry *e)
{
	uint32_t slot;

	memcpy(&slot, e->key, sizeof(slot));
	return slot;
}

static inline void sc_entry_set_slot(struct sc_entry *e, uint32_t slot)
{
	memcpy(e->key, &slot, sizeof(slot));
}

/* The key hash of a string entry, recomputed: entries do not store it. */
static inline uint64_t sc_entry_hash(const struct sc_cache *c,
				     const struct sc_entry *e)
{
	return sc_key_hash(c->seed, sc_entry_key(e), e->key_len);
}

static size_t sc_key_class_size(unsigned int i)
{
	size_t base = (size_t)128 << (i / 2);

	return i & 1 ? base + base / 2 : base;
}

static unsigned int sc_key_class(size_t len)
{
	unsigned int i = 0;

	while (sc_key_class_size(i) < len)
		i++;
	return i;
}

static unsigned int sc_entry_class(size_t size)
{
	unsigned int i = 0;

	while (sc_entry_class_size[i] < size)
		i++;
	return i;
}

/* Validate a string key: 0 and its length, or a negative errno. */
static int sc_key_check(const char *key, size_t *len)
{
	size_t n;

	if (!key || !*key)
		return -EINVAL;
	n = strnlen(key, SC_KEY_MAX_LEN + 1);
	if (n > SC_KEY_MAX_LEN)
		return -ENAMETOOLONG;
	*len = n;
	return 0;
}

/* -------------------------------------------------- entry alloc / free */

/*
 * Allocate an entry for @value (string key @key of @len bytes, or a handle
 * entry when @key is NULL). Nothing is linked. Context: no lock held.
 */
static struct sc_entry *sc_entry_new(struct sc_cache *c, const char *key,
				     size_t len, void *value, size_t cost)
{
	struct sc_entry *e;
	char *kp = NULL;
	unsigned int cls;
	size_t need;

	if (!key)
		need = SC_ENTRY_HDR + sizeof(uint32_t);
	else if (len <= SC_KEY_INLINE_MAX)
		need = SC_ENTRY_HDR + len;
	else
		need = SC_ENTRY_HDR + sizeof(char *);
	cls = sc_entry_class(need);

	e = sc_slab_alloc(c->entry_slabs[cls]);
	if (!e)
		goto err;
	if ((uintptr_t)e >> 48 || (uintptr_t)e & 7)
		goto err_free_entry; /* cannot be indexed: see the top */
	if (key && len > SC_KEY_INLINE_MAX) {
		kp = sc_slab_alloc(c->key_slabs[sc_key_class(len)]);
		if (!kp)
			goto err_free_entry;
	}

	e->value = value;
	e->cost = cost;
	atomic_init(&e->refs, 1);
	e->key_len = (uint16_t)len;
	e->entry_class = (uint8_t)cls;
	e->flags = 0;
	if (!key) {
		e->flags = SC_ENTRY_HANDLE;
		e->key_len = 0;
	} else if (kp) {
		memcpy(kp, key, len);
		memcpy(e->key, &kp, sizeof(kp));
		e->flags = SC_ENTRY_EXT_KEY;
	} else {
		memcpy(e->key, key, len);
	}
	return e;

err_free_entry:
	sc_slab_free(c->entry_slabs[cls], e);
err:
	errno = ENOMEM;
	return NULL;
}

/* Free a key that lives outside its entry (too long to sit inside). */
static void sc_entry_free_ext_key(struct sc_cache *c, struct sc_entry *e)
{
	if (e->flags & SC_ENTRY_EXT_KEY) {
		char *kp;

		memcpy(&kp, e->key, sizeof(kp));
		sc_slab_free(c->key_slabs[sc_key_class(e->key_len)], kp);
	}
}

/* Give an entry and its key copy back to their slabs. Context: any. */
static void sc_entry_free(struct sc_cache *c, struct sc_entry *e)
{
	sc_entry_free_ext_key(c, e);
	sc_slab_free(c->entry_slabs[e->entry_class], e);
}

/* --------------------------------------------------------------- LRU */

static inline void sc_lru_del(struct sc_entry *e)
{
	e->lru.prev->next = e->lru.next;
	e->lru.next->prev = e->lru.prev;
}

static inline void sc_lru_add_mru(struct sc_cache *c, struct sc_entry *e)
{
	e->lru.next = c->lru.next;
	e->lru.prev = &c->lru;
	c->lru.next->prev = &e->lru;
	c->lru.next = &e->lru;
}

static inline void sc_lru_touch(struct sc_cache *c, struct sc_entry *e)
{
	if (c->lru.next == &e->lru)
		return;
	sc_lru_del(e);
	sc_lru_add_mru(c, e);
}

static inline struct sc_entry *sc_lru_oldest(struct sc_cache *c)
{
	if (c->lru.prev == &c->lru)
		return NULL;
	return sc_container_of(c->lru.prev, struct sc_entry, lru);
}

/*
 * Apply the logged hits, oldest first. Moving an entry to the front
 * writes its two neighbours, which at scale are two DRAM misses a hit
 * would otherwise wait for under the lock, before the next lookup can
 * start. Applied together, the neighbours of the entries a few places
 * ahead are prefetched while the current one moves, so the misses
 * overlap. The list comes out exactly as if each hit had moved its entry
 * at once: the same moves in the same order, and nothing else reads or
 * changes the list before they are applied (every other list operation
 * drains first).
 * Context: cache lock held.
 */
static inline void sc_lru_prefetch_neighbours(const struct sc_entry *e)
{
	__builtin_prefetch(e->lru.prev, 1);
	__builtin_prefetch(e->lru.next, 1);
}

static void __sc_lru_drain_locked(struct sc_cache *c)
{
	unsigned int i, n = c->nr_touched;

	for (i = 0; i < n && i < SC_TOUCH_PREFETCH; i++)
		sc_lru_prefetch_neighbours(c->touched[i]);
	for (i = 0; i < n; i++) {
		if (i + SC_TOUCH_PREFETCH < n)
			sc_lru_prefetch_neighbours(
				c->touched[i + SC_TOUCH_PREFETCH]);
		sc_lru_touch(c, c->touched[i]);
	}
	c->nr_touched = 0;
}

static inline void sc_lru_sync(struct sc_cache *c)
{
	if (sc_unlikely(c->nr_touched))
		__sc_lru_drain_locked(c);
}

/* A hit under exact LRU: log it; the list moves in batches. */
static inline void sc_lru_hit(struct sc_cache *c, struct sc_entry *e)
{
	unsigned int n = c->nr_touched;

	/* already the most recently used, counting the logged hits */
	if (n ? c->touched[n - 1] == e : c->lru.next == &e->lru)
		return;
	if (sc_unlikely(n == SC_TOUCH_LOG)) {
		__sc_lru_drain_locked(c);
		n = 0;
	}
	c->touched[n] = e;
	c->nr_touched = n + 1;
}

static inline bool sc_cache_sieve(const struct sc_cache *c)
{
	return c->flags & SC_CACHE_POLICY_SIEVE;
}

/*
 * Take a linked entry off the list. A SIEVE hand on it moves one step
 * towards the newest end, where the paper's hand goes after an eviction.
 * Context: cache lock held.
 */
static inline void __sc_queue_del_locked(struct sc_cache *c, struct sc_entry *e)
{
	sc_lru_sync(c);
	if (sc_unlikely(c->hand == &e->lru))
		c->hand = e->lru.prev != &c->lru ? e->lru.prev : NULL;
	sc_lru_del(e);
}

/* A hit: most recently used, or (SIEVE) visited. Context: cache lock. */
static inline void __sc_entry_touch_locked(struct sc_cache *c,
					   struct sc_entry *e)
{
	if (sc_cache_sieve(c)) {
		/* no store when already set: the line stays clean */
		if (!(e->flags & SC_ENTRY_VISITED))
			e->flags |= SC_ENTRY_VISITED;
		return;
	}
	sc_lru_hit(c, e);
}

static inline size_t sc_index_home(uint64_t hash, size_t cap);

/*
 * Exact LRU evicts down the list in order, so as @e is chosen, start the
 * misses of the evictions to come: the index slot of the next victim
 * (whose entry this prefetched one eviction earlier, so its key is at
 * hand to hash) and the entry of the one after it. In a cache that
 * inserts into a full table, the victim's slot is otherwise a DRAM miss
 * that each insert waits for under the lock.
 */
static inline void __sc_victim_prefetch_locked(struct sc_cache *c,
					       const struct sc_entry *e)
{
	const struct sc_lru *next = e->lru.prev;
	const struct sc_entry *n;

	if (next == &c->lru)
		return;
	if (next->prev != &c->lru) {
		const char *after = (const char *)sc_container_of(
			next->prev, struct sc_entry, lru);

		/* both lines: a 56-byte entry mostly straddles two */
		__builtin_prefetch(after);
		__builtin_prefetch(after + 63);
	}
	n = sc_container_of(next, struct sc_entry, lru);
	if (!(n->flags & SC_ENTRY_HANDLE))
		__builtin_prefetch(&c->table[sc_index_home(sc_entry_hash(c, n),
							   c->table_cap)],
				   1);
}

/*
 * The entry to evict next, or NULL when empty: the least recently used,
 * or the first entry not visited from SIEVE's hand on, clearing the
 * visited bits it passes. One lap at most: the bits it clears stay clear.
 * The caller evicts it, which moves the hand past it.
 * Context: cache lock held.
 */
static struct sc_entry *__sc_cache_victim_locked(struct sc_cache *c)
{
	struct sc_lru *l;
	struct sc_entry *e;

	if (!sc_cache_sieve(c)) {
		sc_lru_sync(c);
		e = sc_lru_oldest(c);
		if (e)
			__sc_victim_prefetch_locked(c, e);
		return e;
	}
	if (c->lru.prev == &c->lru)
		return NULL;
	for (l = c->hand ? c->hand : c->lru.prev;; l = l->prev) {
		if (l == &c->lru)
			l = c->lru.prev; /* past the newest: wrap */
		e = sc_container_of(l, struct sc_entry, lru);
		if (!(e->flags & SC_ENTRY_VISITED))
			break;
		e->flags &= (uint8_t)~SC_ENTRY_VISITED;
	}
	c->hand = l;
	return e;
}

/* -------------------------------------------------------- string index */

/*
 * Table sizes are 2^k and 1.5 * 2^k slots (16, 24, 32, 48, ...): growing
 * at a load of 3/4 by 1.5x or 4/3x leaves it at 1/2 or 9/16, where
 * doubling left it at 3/8, so the index costs 8 B / 0.62 = 13 B per entry
 * on average instead of 15 (at most 16 B instead of 21). A slot's home is
 * the low 32 bits of the hash scaled to the table (Lemire's multiply-shift
 * reduction: no division); the top bits are the slot's tag, independent
 * of the home.
 */
static inline size_t sc_index_home(uint64_t hash, size_t cap)
{
	return (size_t)(((uint64_t)(uint32_t)hash * cap) >> 32);
}

static inline size_t sc_index_next(size_t i, size_t cap)
{
	return ++i == cap ? 0 : i;
}

/* Slots from @from forward to @to, wrapping. */
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

/*
 * Slot layout: bits 0-44 the entry address >> 3 (entries are 8-aligned
 * and below 2^48), bits 45-52 the distance from the home slot (saturated
 * at SC_SLOT_DISP_MAX: then recomputed from the key), bits 53-63 a tag,
 * the top 11 bits of the hash. 0 is an empty slot.
 */
static inline struct sc_entry *sc_slot_entry(uint64_t s)
{
	return (struct sc_entry *)(uintptr_t)((s & SC_SLOT_PTR_MASK) << 3);
}

static inline uint64_t sc_slot_make(uint64_t hash, const struct sc_entry *e,
				    size_t disp)
{
	if (disp > SC_SLOT_DISP_MAX)
		disp = SC_SLOT_DISP_MAX;
	return (hash >> SC_SLOT_TAG_SHIFT << SC_SLOT_TAG_SHIFT) |
	       (uint64_t)disp << SC_SLOT_DISP_SHIFT |
	       (uint64_t)(uintptr_t)e >> 3;
}

static inline bool sc_slot_is(uint64_t s, const struct sc_entry *e)
{
	return (s & SC_SLOT_PTR_MASK) == (uint64_t)(uintptr_t)e >> 3;
}

/* Distance of slot value @s at @pos from its home slot. */
static inline size_t sc_slot_disp(const struct sc_cache *c, uint64_t s,
				  size_t pos)
{
	size_t d = (s >> SC_SLOT_DISP_SHIFT) & SC_SLOT_DISP_MAX;

	if (sc_likely(d < SC_SLOT_DISP_MAX))
		return d;
	return sc_index_dist(sc_index_home(sc_entry_hash(c, sc_slot_entry(s)),
					   c->table_cap),
			     pos, c->table_cap);
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

/* Context: cache lock held. */
static inline struct sc_entry *__sc_index_find_locked(struct sc_cache *c,
						      const char *key,
						      size_t len, uint64_t hash)
{
	uint64_t tag = hash >> SC_SLOT_TAG_SHIFT;
	size_t cap, i;

	if (!c->table)
		return NULL;
	cap = c->table_cap;
	for (i = sc_index_home(hash, cap);; i = sc_index_next(i, cap)) {
		uint64_t s = c->table[i];
		struct sc_entry *e;

		if (!s)
			return NULL;
		if ((s >> SC_SLOT_TAG_SHIFT) != tag)
			continue;
		e = sc_slot_entry(s);
		if (e->key_len == len &&
		    sc_key_equal(sc_entry_key(e), key, len))
			return e;
	}
}

/* Place an entry in a table known not to hold it. */
static void sc_index_place(uint64_t *table, size_t cap, struct sc_entry *e,
			   uint64_t hash)
{
	size_t i, d = 0;

	for (i = sc_index_home(hash, cap); table[i]; i = sc_index_next(i, cap))
		d++;
	table[i] = sc_slot_make(hash, e, d);
}

static size_t __sc_index_pos_locked(struct sc_cache *c,
				    const struct sc_entry *e, uint64_t hash)
{
	size_t cap = c->table_cap, i;

	for (i = sc_index_home(hash, cap); !sc_slot_is(c->table[i], e);
	     i = sc_index_next(i, cap))
		;
	return i;
}

/* Resize the table to @cap slots (one of the sizes above, >= count / load). */
static int __sc_index_resize_locked(struct sc_cache *c, size_t cap)
{
	uint64_t *table;
	size_t bytes, i;

	if (cap > SC_INDEX_MAX_CAP || !sc_size_mul(cap, sizeof(*table), &bytes))
		return -ENOMEM;
	table = sc_mem_zalloc(bytes);
	if (!table)
		return -ENOMEM;
	for (i = 0; i < c->table_cap; i++) {
		struct sc_entry *e;

		if (!c->table[i])
			continue;
		e = sc_slot_entry(c->table[i]);
		sc_index_place(table, cap, e, sc_entry_hash(c, e));
	}
	if (c->table)
		sc_mem_free(c->table, c->table_cap * sizeof(*table));
	c->table = table;
	c->table_cap = cap;
	return 0;
}

/* Make room for one more string entry: load stays <= 3/4. */
static int __sc_index_reserve_locked(struct sc_cache *c)
{
	size_t cap = c->table_cap;

	if (c->nr_strings + 1 <= cap - cap / 4)
		return 0;
	return __sc_index_resize_locked(c, cap ? sc_index_cap_up(cap) :
						 SC_INDEX_MIN_CAP);
}

/*
 * After a shrink: give the index memory back when it is mostly empty. A
 * failed smaller allocation just keeps the old table.
 */
static void __sc_index_trim_locked(struct sc_cache *c)
{
	size_t cap = c->table_cap;

	if (!c->table)
		return;
	if (!c->nr_strings) {
		sc_mem_free(c->table, c->table_cap * sizeof(*c->table));
		c->table = NULL;
		c->table_cap = 0;
		return;
	}
	if (cap <= SC_INDEX_MIN_CAP * 4 || c->nr_strings >= cap / 16)
		return;
	/* while at most 3/16 full: one size down is then at most 9/32 */
	while (cap > SC_INDEX_MIN_CAP && c->nr_strings <= cap / 4 * 3 / 4)
		cap = sc_index_cap_down(cap);
	__sc_index_resize_locked(c, cap);
}

static void __sc_index_insert_locked(struct sc_cache *c, struct sc_entry *e,
				     uint64_t hash)
{
	sc_index_place(c->table, c->table_cap, e, hash);
	c->nr_strings++;
}

/* Backward-shift deletion: no tombstones, probe chains stay short. */
static void __sc_index_del_locked(struct sc_cache *c, struct sc_entry *e,
				  uint64_t hash)
{
	size_t cap = c->table_cap;
	size_t hole = __sc_index_pos_locked(c, e, hash), j = hole;

	for (;;) {
		uint64_t s;
		size_t d, dist;

		j = sc_index_next(j, cap);
		s = c->table[j];
		if (!s)
			break;
		/*
		 * s may move back to the hole unless its home lies in
		 * (hole, j]; its stored distance says where home is without
		 * reading the entry.
		 */
		d = sc_slot_disp(c, s, j);
		dist = sc_index_dist(hole, j, cap);
		if (d >= dist) {
			d -= dist;
			if (d > SC_SLOT_DISP_MAX)
				d = SC_SLOT_DISP_MAX;
			c->table[hole] = (s & ~SC_SLOT_DISP_FIELD) |
					 (uint64_t)d << SC_SLOT_DISP_SHIFT;
			hole = j;
		}
	}
	c->table[hole] = 0;
	c->nr_strings--;
}

/* ---------------------------------------------------------- handle keys */

static inline sc_key_t sc_handle_make(const struct sc_cache *c, uint32_t slot,
				      uint32_t gen)
{
	return (sc_key_t){ .id = (uint64_t)c->id << 48 | (uint64_t)gen << 32 |
				 ((uint64_t)slot + 1) };
}

/* The entry a handle refers to, or NULL. Context: cache lock held. */
static struct sc_entry *__sc_handle_find_locked(const struct sc_cache *c,
						sc_key_t key)
{
	uint32_t slot1 = (uint32_t)key.id;
	uint32_t gen = (uint32_t)(key.id >> 32) & 0xffff;
	const struct sc_key_slot *ks;

	if ((key.id >> 48) != c->id || !slot1 || slot1 > c->keys_used)
		return NULL;
	ks = &c->keys[slot1 - 1];
	if (ks->gen != gen)
		return NULL;
	return ks->entry;
}

/* Make sure a slot can be taken; the only fallible handle step. */
static int __sc_handle_reserve_locked(struct sc_cache *c)
{
	void *keys = c->keys;
	int ret;

	if (c->key_free || c->keys_used < c->key_cap)
		return 0;
	ret = sc_mem_grow(&keys, &c->key_cap, c->keys_used + 1,
			  sizeof(struct sc_key_slot), SC_KEY_SLOTS_MAX);
	if (ret)
		return -ENOMEM;
	c->keys = keys;
	return 0;
}

static uint32_t __sc_handle_take_locked(struct sc_cache *c, struct sc_entry *e)
{
	uint32_t slot;

	if (c->key_free) {
		slot = c->key_free - 1;
		c->key_free = c->keys[slot].next_free;
	} else {
		slot = (uint32_t)c->keys_used++;
	}
	c->keys[slot].entry = e;
	c->keys[slot].next_free = 0;
	sc_entry_set_slot(e, slot);
	return slot;
}

static void __sc_handle_put_locked(struct sc_cache *c, uint32_t slot)
{
	struct sc_key_slot *ks = &c->keys[slot];

	ks->entry = NULL;
	if (ks->gen == SC_HANDLE_GEN_MAX)
		return; /* retired: its generations are used up */
	ks->gen++;
	ks->next_free = c->key_free;
	c->key_free = slot + 1;
}

/* ------------------------------------------------- unlink, drop, evict */

static inline void sc_collect_add(struct sc_collect *col, struct sc_entry *e)
{
	e->collect_next = NULL;
	*col->tail = e;
	col->tail = &e->collect_next;
}

/*
 * The cache lets go of @e: it is no longer linked anywhere. Its cache
 * reference is dropped; if that was the last one it goes on @col for
 * release after the lock is dropped, else the last sc_entry_put() releases
 * it. Context: cache lock held.
 */
static void __sc_entry_drop_locked(struct sc_cache *c, struct sc_entry *e,
				   struct sc_collect *col)
{
	/*
	 * Gets take references only under the lock, so 1 here means no pin
	 * exists and none can appear: no atomic read-modify-write needed.
	 */
	if (atomic_load_explicit(&e->refs, memory_order_acquire) == 1) {
		atomic_store_explicit(&e->refs, 0, memory_order_relaxed);
		sc_collect_add(col, e);
		return;
	}
	e->owner = c;
	c->pinned++;
	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
		/* the last pin was put meanwhile: ours after all */
		c->pinned--;
		sc_collect_add(col, e);
	}
}

/* Take @e out of the LRU, the index or key array, and the accounting. */
static void __sc_entry_unlink_locked(struct sc_cache *c, struct sc_entry *e)
{
	__sc_queue_del_locked(c, e);
	if (e->flags & SC_ENTRY_HANDLE)
		__sc_handle_put_locked(c, sc_entry_slot(e));
	else
		__sc_index_del_locked(c, e, sc_entry_hash(c, e));
	c->count--;
	c->total_cost -= e->cost;
}

static void __sc_entry_remove_locked(struct sc_cache *c, struct sc_entry *e,
				     struct sc_collect *col)
{
	__sc_entry_unlink_locked(c, e);
	__sc_entry_drop_locked(c, e, col);
}

/* Evict (LRU end, or SIEVE's hand) until the total fits @limit. */
static unsigned long __sc_cache_evict_locked(struct sc_cache *c, size_t limit,
					     struct sc_collect *col)
{
	unsigned long n = 0;
	struct sc_entry *e;

	while (c->total_cost > limit && (e = __sc_cache_victim_locked(c))) {
		__sc_entry_remove_locked(c, e, col);
		n++;
	}
	return n;
}

/* Evict up to @nr entries (LRU end, or SIEVE's hand). */
static unsigned long __sc_cache_evict_nr_locked(struct sc_cache *c,
						unsigned long nr,
						struct sc_collect *col)
{
	unsigned long n = 0;
	struct sc_entry *e;

	while (n < nr && (e = __sc_cache_victim_locked(c))) {
		__sc_entry_remove_locked(c, e, col);
		n++;
	}
	return n;
}

/*
 * Release the values of collected entries and free the entries.
 * Context: cache lock not held.
 */
static void sc_cache_release_collected(struct sc_cache *c,
				       struct sc_collect *col)
{
	struct sc_entry *e = col->head, *next;
	void *batch[SC_FREE_BATCH];
	unsigned int nb = 0, cls = 0;

	/* one entry (a remove, an insert evicting one): the magazine */
	if (e && !e->collect_next) {
		if (c->release)
			c->release(e->value, c->priv);
		sc_entry_free(c, e);
		col->head = NULL;
		col->tail = &col->head;
		return;
	}
	/*
	 * Many: straight back to their slabs, a batch per lock. Through the
	 * magazine, the next inserts would take these entries' places, one
	 * in each slab the evictions passed through, and keep all of those
	 * slabs from going back.
	 */
	for (; e; e = next) {
		next = e->collect_next;
		if (c->release)
			c->release(e->value, c->priv);
		sc_entry_free_ext_key(c, e);
		if (nb && (nb == SC_FREE_BATCH || e->entry_class != cls)) {
			sc_slab_free_bulk(c->entry_slabs[cls], batch, nb);
			nb = 0;
		}
		cls = e->entry_class;
		batch[nb++] = e;
	}
	if (nb)
		sc_slab_free_bulk(c->entry_slabs[cls], batch, nb);
	col->head = NULL;
	col->tail = &col->head;
}

/*
 * Link a new entry as the most recently used (SIEVE: the newest). Callers
 * evict down to limit - cost before, not after: SIEVE's hand reaches the
 * newest entry too, and a value just stored must not be its own victim.
 * For LRU both orders evict the same entries.
 */
static void __sc_entry_link_locked(struct sc_cache *c, struct sc_entry *e)
{
	sc_lru_sync(c);
	sc_lru_add_mru(c, e);
	c->count++;
	c->total_cost += e->cost;
}

/* ------------------------------------------------------- create/destroy */

static unsigned long sc_cache_shrinker_count(struct sc_shrinker *s,
					     struct sc_shrink_control *sc)
{
	struct sc_cache *c = s->private_data;
	size_t n;

	sc_cache_lock(c);
	n = c->count;
	sc_cache_unlock(c);
	return n ? n : SC_SHRINK_EMPTY;
}

static void __sc_cache_clear_locked(struct sc_cache *c, struct sc_collect *col);

/*
 * CRITICAL asks for every entry. Evicting them in batches would unlink
 * each one from the index (a random slot line per entry) and from the
 * LRU list (two neighbour lines); emptying the cache at once walks the
 * list only and drops the index wholesale, as clear does. nr_scanned
 * tells the registry the whole cache was scanned, so it stops calling.
 */
static unsigned long sc_cache_shrink_all(struct sc_cache *c,
					 struct sc_shrink_control *sc)
{
	struct sc_collect col = SC_COLLECT_INIT(col);
	unsigned long n;

	sc_cache_lock(c);
	n = c->count;
	__sc_cache_clear_locked(c, &col);
	c->shrunk += n;
	sc_cache_unlock(c);
	sc_cache_release_collected(c, &col);
	if (n > sc->nr_scanned)
		sc->nr_scanned = n;
	return n;
}

static unsigned long sc_cache_shrinker_scan(struct sc_shrinker *s,
					    struct sc_shrink_control *sc)
{
	if (sc->level == SC_PRESSURE_CRITICAL)
		return sc_cache_shrink_all(s->private_data, sc);
	return sc_cache_shrink(s->private_data, sc->nr_to_scan);
}

static uint64_t sc_cache_seed(const struct sc_cache *c)
{
	uint64_t seed;
	struct timespec ts;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == sizeof(seed))
		return seed;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return sc_hash_fmix64((uint64_t)(uintptr_t)c ^
			      (uint64_t)ts.tv_nsec * SC_HASH_K1 ^
			      (uint64_t)ts.tv_sec);
}

/* Free what a cache owns; every entry is gone. */
static void sc_cache_free(struct sc_cache *c)
{
	unsigned int i;

	for (i = 0; i < SC_NR_SLABS; i++)
		sc_slab_destroy(sc_cache_slab(c, i));
	if (c->table)
		sc_mem_free(c->table, c->table_cap * sizeof(*c->table));
	if (c->keys)
		sc_mem_free(c->keys, c->key_cap * sizeof(*c->keys));
	sc_cache_id_free(c->id);
	sc_mutex_destroy(&c->lock);
	sc_mem_free(c, sizeof(*c));
}

SC_API struct sc_cache *sc_cache_create(const struct sc_cache_config *cfg)
{
	static const struct sc_cache_config defaults;
	struct sc_cache *c;
	char name[SC_SLAB_NAME_MAX + 16];
	unsigned int i;
	int err;

	if (!cfg)
		cfg = &defaults;
	if (cfg->flags & ~SC_CACHE_FLAGS)
		return sc_err_ptr(EINVAL);

	c = sc_mem_zalloc(sizeof(*c));
	if (!c)
		return sc_err_ptr(ENOMEM);
	snprintf(c->name, sizeof(c->name), "%s",
		 cfg->name && *cfg->name ? cfg->name : "sc_cache");
	c->lru.next = c->lru.prev = &c->lru;
	c->limit = cfg->limit ? cfg->limit : SC_CACHE_DEFAULT_LIMIT;
	c->release = cfg->ops ? cfg->ops->release : NULL;
	c->priv = cfg->priv;
	c->flags = cfg->flags;
	c->seed = sc_cache_seed(c);

	err = sc_mutex_init(&c->lock);
	if (err)
		goto err_free;
	if (sc_cache_id_alloc(&c->id)) {
		err = ENOMEM;
		goto err_mutex;
	}
	/*
	 * Every slab cache now, key classes too: created lazily, a failed
	 * insert could leave one behind. They hold no memory until used.
	 */
	for (i = 0; i < SC_NR_SLABS; i++) {
		size_t size =
			i < SC_NR_ENTRY_CLASSES ?
				sc_entry_class_size[i] :
				sc_key_class_size(i - SC_NR_ENTRY_CLASSES);

		snprintf(name, sizeof(name), "%s-%s-%zu", c->name,
			 i < SC_NR_ENTRY_CLASSES ? "entry" : "key", size);
		*sc_cache_slab_ref(c, i) = sc_slab_create(name, size, 0, 0);
		if (!sc_cache_slab(c, i)) {
			err = ENOMEM;
			goto err_slabs;
		}
	}
	if (!(cfg->flags & SC_CACHE_NO_SHRINKER)) {
		c->shrinker = sc_shrinker_alloc(0, "sc_cache-%s", c->name);
		if (!c->shrinker) {
			err = ENOMEM;
			goto err_slabs;
		}
		c->shrinker->count_objects = sc_cache_shrinker_count;
		c->shrinker->scan_objects = sc_cache_shrinker_scan;
		c->shrinker->seeks = SC_DEFAULT_SEEKS;
		c->shrinker->private_data = c;
		sc_shrinker_register(c->shrinker);
	}
	return c;

err_slabs:
	while (i--)
		sc_slab_destroy(sc_cache_slab(c, i));
	sc_cache_id_free(c->id);
err_mutex:
	sc_mutex_destroy(&c->lock);
err_free:
	sc_mem_free(c, sizeof(*c));
	return sc_err_ptr(err);
}

/* Drop every entry onto @col and invalidate every handle. */
static void __sc_cache_clear_locked(struct sc_cache *c, struct sc_collect *col)
{
	struct sc_lru *l, *next;

	/* least recently used first, the order evictions release in */
	sc_lru_sync(c);
	for (l = c->lru.prev; l != &c->lru; l = next) {
		struct sc_entry *e = sc_container_of(l, struct sc_entry, lru);

		next = l->prev;
		if (e->flags & SC_ENTRY_HANDLE)
			__sc_handle_put_locked(c, sc_entry_slot(e));
		__sc_entry_drop_locked(c, e, col);
	}
	c->lru.next = c->lru.prev = &c->lru;
	c->hand = NULL;
	/* the index is emptied wholesale and its memory given back */
	if (c->table)
		sc_mem_free(c->table, c->table_cap * sizeof(*c->table));
	c->table = NULL;
	c->table_cap = 0;
	c->nr_strings = 0;
	c->count = 0;
	c->total_cost = 0;
}

SC_API void sc_cache_destroy(struct sc_cache *c)
{
	struct sc_collect col = SC_COLLECT_INIT(col);
	bool last;

	if (!c)
		return;
	/* registry lock > cache lock: never with the cache lock held */
	sc_shrinker_free(c->shrinker);
	c->shrinker = NULL;

	sc_cache_lock(c);
	__sc_cache_clear_locked(c, &col);
	sc_cache_unlock(c);
	sc_cache_release_collected(c, &col);

	/* Pinned entries keep the cache (slabs, lock) until their last put. */
	sc_cache_lock(c);
	c->dead = true;
	last = !c->pinned;
	sc_cache_unlock(c);
	if (last)
		sc_cache_free(c);
}

/* ------------------------------------------------------------ string keys */

SC_API int sc_cache_insert(struct sc_cache *c, const char *key, void *value,
			   size_t cost)
{
	struct sc_collect col = SC_COLLECT_INIT(col);
	struct sc_entry *e, *old;
	size_t len, base, sum;
	uint64_t hash;
	int ret;

	if (!c)
		return sc_err(EINVAL);
	ret = sc_key_check(key, &len);
	if (!ret && !value)
		ret = -EINVAL;
	if (ret)
		goto err_count;

	hash = sc_key_hash(c->seed, key, len);
	e = sc_entry_new(c, key, len, value, cost);
	if (!e) {
		ret = -ENOMEM;
		goto err_count;
	}

	sc_cache_lock(c);
	old = __sc_index_find_locked(c, key, len, hash);
	if (cost > c->limit) {
		/* as QCache: the old entry under the key goes too */
		if (old)
			__sc_entry_remove_locked(c, old, &col);
		ret = -EFBIG;
		goto err_unlock;
	}
	base = c->total_cost - (old ? old->cost : 0);
	if (!sc_size_add(base, cost, &sum)) {
		ret = -EOVERFLOW;
		goto err_unlock;
	}
	if (!old && __sc_index_reserve_locked(c)) {
		ret = -ENOMEM;
		goto err_unlock;
	}

	/* commit: nothing below can fail */
	if (old) {
		/* same key, same slot: only the address changes */
		size_t pos = __sc_index_pos_locked(c, old, hash);

		c->table[pos] = (c->table[pos] & ~SC_SLOT_PTR_MASK) |
				(uint64_t)(uintptr_t)e >> 3;
		__sc_queue_del_locked(c, old);
		c->count--;
		c->total_cost -= old->cost;
		__sc_entry_drop_locked(c, old, &col);
		c->replaces++;
	} else {
		__sc_index_insert_locked(c, e, hash);
	}
	/* room first (cost <= limit), so the new entry is never a victim */
	c->evictions += __sc_cache_evict_locked(c, c->limit - cost, &col);
	__sc_entry_link_locked(c, e);
	c->inserts++;
	sc_cache_unlock(c);
	sc_cache_release_collected(c, &col);
	return 0;

err_unlock:
	c->insert_failures++;
	sc_cache_unlock(c);
	sc_entry_free(c, e);
	sc_cache_release_collected(c, &col);
	return sc_err(-ret);

err_count:
	sc_cache_lock(c);
	c->insert_failures++;
	sc_cache_unlock(c);
	return sc_err(-ret);
}

/* Look @key up and mark it used; NULL and errno when absent or bad. */
static struct sc_entry *__sc_cache_lookup_locked(struct sc_cache *c,
						 const char *key, size_t len,
						 uint64_t hash)
{
	struct sc_entry *e = __sc_index_find_locked(c, key, len, hash);

	if (!e) {
		c->misses++;
		return NULL;
	}
	c->hits++;
	__sc_entry_touch_locked(c, e);
	return e;
}

SC_API void *sc_cache_find(struct sc_cache *c, const char *key)
{
	struct sc_entry *e;
	uint64_t hash;
	size_t len;
	void *v = NULL;

	if (!c || sc_key_check(key, &len))
		return sc_err_ptr(EINVAL);
	hash = sc_key_hash(c->seed, key, len);
	sc_cache_lock(c);
	e = __sc_cache_lookup_locked(c, key, len, hash);
	if (e)
		v = e->value;
	sc_cache_unlock(c);
	if (!v)
		errno = ENOENT;
	return v;
}

SC_API int sc_cache_remove(struct sc_cache *c, const char *key)
{
	struct sc_collect col = SC_COLLECT_INIT(col);
	struct sc_entry *e;
	uint64_t hash;
	size_t len;

	if (!c || sc_key_check(key, &len))
		return sc_err(EINVAL);
	hash = sc_key_hash(c->seed, key, len);
	sc_cache_lock(c);
	e = __sc_index_find_locked(c, key, len, hash);
	if (e) {
		__sc_entry_remove_locked(c, e, &col);
		c->removes++;
	}
	sc_cache_unlock(c);
	if (!e)
		return sc_err(ENOENT);
	sc_cache_release_collected(c, &col);
	return 0;
}

SC_API struct sc_entry *sc_cache_get(struct sc_cache *c, const char *key)
{
	struct sc_entry *e;
	uint64_t hash;
	size_t len;
	int err = ENOENT;

	if (!c || sc_key_check(key, &len))
		return sc_err_ptr(EINVAL);
	hash = sc_key_hash(c->seed, key, len);
	sc_cache_lock(c);
	e = __sc_cache_lookup_locked(c, key, len, hash);
	if (e) {
		if (atomic_load_explicit(&e->refs, memory_order_relaxed) ==
		    UINT_MAX) {
			e = NULL;
			err = EOVERFLOW;
		} else {
			atomic_fetch_add_explicit(&e->refs, 1,
						  memory_order_relaxed);
		}
	}
	sc_cache_unlock(c);
	if (!e)
		errno = err;
	return e;
}

/* ------------------------------------------------------------ handle keys */

SC_API sc_key_t sc_cache_add(struct sc_cache *c, void *value, size_t cost)
{
	struct sc_collect col = SC_COLLECT_INIT(col);
	struct sc_entry *e;
	uint32_t slot;
	size_t sum;
	sc_key_t key;
	int err;

	if (!c) {
		errno = EINVAL;
		return SC_KEY_NONE;
	}
	if (!value) {
		err = EINVAL;
		goto err_count;
	}
	e = sc_entry_new(c, NULL, 0, value, cost);
	if (!e) {
		err = ENOMEM;
		goto err_count;
	}

	sc_cache_lock(c);
	if (cost > c->limit) {
		err = EFBIG;
		goto err_unlock;
	}
	if (!sc_size_add(c->total_cost, cost, &sum)) {
		err = EOVERFLOW;
		goto err_unlock;
	}
	if (__sc_handle_reserve_locked(c)) {
		err = ENOMEM;
		goto err_unlock;
	}

	/* commit */
	slot = __sc_handle_take_locked(c, e);
	key = sc_handle_make(c, slot, c->keys[slot].gen);
	/* room first (cost <= limit), so the new entry is never a victim */
	c->evictions += __sc_cache_evict_locked(c, c->limit - cost, &col);
	__sc_entry_link_locked(c, e);
	c->inserts++;
	sc_cache_unlock(c);
	sc_cache_release_collected(c, &col);
	return key;

err_unlock:
	c->insert_failures++;
	sc_cache_unlock(c);
	sc_entry_free(c, e);
	errno = err;
	return SC_KEY_NONE;

err_count:
	sc_cache_lock(c);
	c->insert_failures++;
	sc_cache_unlock(c);
	errno = err;
	return SC_KEY_NONE;
}

SC_API void *sc_cache_find_key(struct sc_cache *c, sc_key_t key)
{
	struct sc_entry *e;
	void *v = NULL;

	if (!c)
		return sc_err_ptr(EINVAL);
	sc_cache_lock(c);
	e = __sc_handle_find_locked(c, key);
	if (e) {
		c->hits++;
		__sc_entry_touch_locked(c, e);
		v = e->value;
	} else {
		c->misses++;
	}
	sc_cache_unlock(c);
	if (!v)
		errno = ENOENT;
	return v;
}

SC_API int sc_cache_replace(struct sc_cache *c, sc_key_t key, void *value,
			    size_t cost)
{
	struct sc_collect col = SC_COLLECT_INIT(col);
	struct sc_entry *e, *old;
	uint32_t slot;
	size_t sum;
	int err;

	if (!c)
		return sc_err(EINVAL);
	if (!value) {
		err = EINVAL;
		goto err_count;
	}
	e = sc_entry_new(c, NULL, 0, value, cost);
	if (!e) {
		err = ENOMEM;
		goto err_count;
	}

	sc_cache_lock(c);
	old = __sc_handle_find_locked(c, key);
	if (!old) {
		err = ENOENT;
		goto err_unlock;
	}
	if (cost > c->limit) {
		/* as QPixmapCache: the entry goes, the handle is invalid */
		__sc_entry_remove_locked(c, old, &col);
		err = EFBIG;
		goto err_unlock;
	}
	if (!sc_size_add(c->total_cost - old->cost, cost, &sum)) {
		err = EOVERFLOW;
		goto err_unlock;
	}

	/* commit: the new entry takes the slot; the handle stays valid */
	slot = sc_entry_slot(old);
	c->keys[slot].entry = e;
	sc_entry_set_slot(e, slot);
	__sc_queue_del_locked(c, old);
	c->count--;
	c->total_cost -= old->cost;
	__sc_entry_drop_locked(c, old, &col);
	/* room first (cost <= limit), so the new entry is never a victim */
	c->evictions += __sc_cache_evict_locked(c, c->limit - cost, &col);
	__sc_entry_link_locked(c, e);
	c->replaces++;
	sc_cache_unlock(c);
	sc_cache_release_collected(c, &col);
	return 0;

err_unlock:
	c->insert_failures++;
	sc_cache_unlock(c);
	sc_entry_free(c, e);
	sc_cache_release_collected(c, &col);
	return sc_err(err);

err_count:
	sc_cache_lock(c);
	c->insert_failures++;
	sc_cache_unlock(c);
	return sc_err(err);
}

SC_API int sc_cache_remove_key(struct sc_cache *c, sc_key_t key)
{
	struct sc_collect col = SC_COLLECT_INIT(col);
	struct sc_entry *e;

	if (!c)
		return sc_err(EINVAL);
	sc_cache_lock(c);
	e = __sc_handle_find_locked(c, key);
	if (e) {
		__sc_entry_remove_locked(c, e, &col);
		c->removes++;
	}
	sc_cache_unlock(c);
	if (!e)
		return sc_err(ENOENT);
	sc_cache_release_collected(c, &col);
	return 0;
}

SC_API bool sc_cache_key_valid(const struct sc_cache *c, sc_key_t key)
{
	bool valid;

	if (!c)
		return false;
	sc_cache_lock(c);
	valid = __sc_handle_find_locked(c, key) != NULL;
	sc_cache_unlock(c);
	return valid;
}

SC_API struct sc_entry *sc_cache_get_key(struct sc_cache *c, sc_key_t key)
{
	struct sc_entry *e;
	int err = ENOENT;

	if (!c)
		return sc_err_ptr(EINVAL);
	sc_cache_lock(c);
	e = __sc_handle_find_locked(c, key);
	if (e &&
	    atomic_load_explicit(&e->refs, memory_order_relaxed) == UINT_MAX) {
		e = NULL;
		err = EOVERFLOW;
	} else if (e) {
		c->hits++;
		__sc_entry_touch_locked(c, e);
		atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
	} else {
		c->misses++;
	}
	sc_cache_unlock(c);
	if (!e)
		errno = err;
	return e;
}

/* ------------------------------------------------------------- pinning */

SC_API void *sc_entry_value(const struct sc_entry *e)
{
	return e ? e->value : NULL;
}

SC_API size_t sc_entry_cost(const struct sc_entry *e)
{
	return e ? e->cost : 0;
}

SC_API void sc_entry_put(struct sc_entry *e)
{
	struct sc_cache *c;
	bool last;

	if (!e)
		return;
	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
		return;
	/*
	 * The cache dropped its reference before us, so the entry is
	 * unlinked and owner is set (ordered by the acq_rel decrements).
	 * c->pinned still counts it: the cache and its slabs stay alive.
	 */
	c = e->owner;
	if (c->release)
		c->release(e->value, c->priv);
	sc_entry_free(c, e);
	sc_cache_lock(c);
	c->pinned--;
	last = c->dead && !c->pinned;
	sc_cache_unlock(c);
	if (last)
		sc_cache_free(c);
}

/* ---------------------------------------------------- limit, accounting */

SC_API int sc_cache_set_limit(struct sc_cache *c, size_t limit)
{
	struct sc_collect col = SC_COLLECT_INIT(col);

	if (!c)
		return sc_err(EINVAL);
	sc_cache_lock(c);
	c->limit = limit;
	/* 0 evicts everything, zero-cost entries too (rule 9) */
	if (!limit)
		c->evictions += __sc_cache_evict_nr_locked(c, ULONG_MAX, &col);
	else
		c->evictions += __sc_cache_evict_locked(c, limit, &col);
	sc_cache_unlock(c);
	sc_cache_release_collected(c, &col);
	return 0;
}

/* One field of @c read under its lock, for the accessors below. */
static size_t sc_cache_read(const struct sc_cache *c, const size_t *field)
{
	size_t v;

	sc_cache_lock(c);
	v = *field;
	sc_cache_unlock(c);
	return v;
}

SC_API size_t sc_cache_limit(const struct sc_cache *c)
{
	return c ? sc_cache_read(c, &c->limit) : 0;
}

SC_API size_t sc_cache_total_cost(const struct sc_cache *c)
{
	return c ? sc_cache_read(c, &c->total_cost) : 0;
}

SC_API size_t sc_cache_count(const struct sc_cache *c)
{
	return c ? sc_cache_read(c, &c->count) : 0;
}

SC_API void sc_cache_clear(struct sc_cache *c)
{
	struct sc_collect col = SC_COLLECT_INIT(col);

	if (!c)
		return;
	sc_cache_lock(c);
	__sc_cache_clear_locked(c, &col);
	sc_cache_unlock(c);
	sc_cache_release_collected(c, &col);
}

SC_API unsigned long sc_cache_shrink(struct sc_cache *c,
				     unsigned long nr_to_scan)
{
	struct sc_collect col = SC_COLLECT_INIT(col);
	unsigned long n;

	if (!c)
		return 0;
	sc_cache_lock(c);
	n = __sc_cache_evict_nr_locked(c, nr_to_scan, &col);
	c->shrunk += n;
	if (n)
		__sc_index_trim_locked(c);
	sc_cache_unlock(c);
	sc_cache_release_collected(c, &col);
	return n;
}

SC_API unsigned long sc_cache_age(struct sc_cache *c)
{
	struct sc_collect col = SC_COLLECT_INIT(col);
	unsigned long n;

	if (!c)
		return 0;
	sc_cache_lock(c);
	if (c->age_cost == c->total_cost) {
		/* idle since the last step: down to 3/4, at least one */
		n = __sc_cache_evict_locked(
			c, c->total_cost / 4 * 3 + c->total_cost % 4 * 3 / 4,
			&col);
		if (!n)
			n = __sc_cache_evict_nr_locked(c, 1, &col);
	} else {
		n = __sc_cache_evict_nr_locked(c, 1, &col);
	}
	c->evictions += n;
	c->age_cost = c->total_cost;
	sc_cache_unlock(c);
	sc_cache_release_collected(c, &col);
	return n;
}

SC_API int sc_cache_stats(const struct sc_cache *c, struct sc_cache_stats *st)
{
	if (!c || !st)
		return sc_err(EINVAL);
	sc_cache_lock(c);
	*st = (struct sc_cache_stats){
		.hits = c->hits,
		.misses = c->misses,
		.inserts = c->inserts,
		.replaces = c->replaces,
		.removes = c->removes,
		.evictions = c->evictions,
		.shrunk = c->shrunk,
		.insert_failures = c->insert_failures,
		.count = c->count,
		.total_cost = c->total_cost,
		.limit = c->limit,
		.key_slots = c->key_cap,
		.pinned = c->pinned,
	};
	sc_cache_unlock(c);
	return 0;
}

SC_API size_t sc_cache_memory(const struct sc_cache *c)
{
	struct sc_slab_info info;
	struct sc_slab *s;
	size_t bytes;
	unsigned int i;

	if (!c)
		return 0;
	sc_cache_lock(c);
	bytes = sizeof(*c) + c->table_cap * sizeof(*c->table) +
		c->key_cap * sizeof(*c->keys);
	for (i = 0; i < SC_NR_SLABS; i++) {
		s = sc_cache_slab((struct sc_cache *)c, i);
		if (!sc_slab_info(s, &info))
			bytes += info.slabs * info.slab_size;
	}
	sc_cache_unlock(c);
	return bytes;
}

SC_API size_t sc_cache_entry_memory(const struct sc_cache *c, size_t key_len)
{
	size_t need, bytes;

	if (!c || key_len > SC_KEY_MAX_LEN)
		return 0;
	if (!key_len)
		need = SC_ENTRY_HDR + sizeof(uint32_t);
	else if (key_len <= SC_KEY_INLINE_MAX)
		need = SC_ENTRY_HDR + key_len;
	else
		need = SC_ENTRY_HDR + sizeof(char *);
	/* slab caches are made at create time and live as long as @c */
	bytes = sc_slab_slot_size(c->entry_slabs[sc_entry_class(need)]);
	if (key_len > SC_KEY_INLINE_MAX)
		bytes += sc_slab_slot_size(c->key_slabs[sc_key_class(key_len)]);
	/* a handle's key array slot; a string key's index slots at load 1/2 */
	if (!key_len)
		bytes += sizeof(*c->keys);
	else
		bytes += 2 * sizeof(*c->table);
	return bytes;
}

uint64_t sc_cache_hash_seed(const struct sc_cache *c)
{
	return c->seed;
}

static const char *__sc_cache_check_locked(struct sc_cache *c)
{
	size_t n = 0, strings = 0, handles = 0, used = 0, i;
	struct sc_lru *l;
	size_t total = 0;
	bool hand_seen = false;
	uint32_t f;

	if (!sc_cache_sieve(c) && c->hand)
		return "a hand without SIEVE";
	if (sc_cache_sieve(c) && c->nr_touched)
		return "logged LRU hits under SIEVE";
	if (c->nr_touched > SC_TOUCH_LOG)
		return "LRU hit log overflowed";
	/* a logged hit is applied later: its entry must still be listed */
	for (i = 0; i < c->nr_touched; i++) {
		l = &c->touched[i]->lru;
		if (l->next->prev != l || l->prev->next != l)
			return "a logged LRU hit on an entry off the list";
	}
	for (l = c->lru.next; l != &c->lru; l = l->next) {
		struct sc_entry *e = sc_container_of(l, struct sc_entry, lru);

		if (l->next->prev != l || l->prev->next != l)
			return "LRU links";
		if (++n > c->count)
			return "LRU longer than count";
		hand_seen |= l == c->hand;
		if (!sc_cache_sieve(c) && (e->flags & SC_ENTRY_VISITED))
			return "a visited bit without SIEVE";
		if (atomic_load(&e->refs) < 1)
			return "linked entry without the cache's reference";
		if (!sc_size_add(total, e->cost, &total))
			return "cost sum overflows";
		if (e->flags & SC_ENTRY_HANDLE) {
			uint32_t slot = sc_entry_slot(e);

			if (slot >= c->keys_used || c->keys[slot].entry != e)
				return "handle entry not in its key slot";
			handles++;
			continue;
		}
		if (!c->table)
			return "string entry without an index";
		{
			uint64_t h = sc_entry_hash(c, e), s;
			size_t cap = c->table_cap, d;

			for (i = sc_index_home(h, cap), d = 0;;
			     i = sc_index_next(i, cap), d++) {
				if (d >= cap)
					return "string entry not in the index";
				s = c->table[i];
				if (!s)
					return "hole before an entry's slot";
				if (sc_slot_is(s, e))
					break;
			}
			if ((s >> SC_SLOT_TAG_SHIFT) !=
			    (h >> SC_SLOT_TAG_SHIFT))
				return "slot tag";
			if (((s >> SC_SLOT_DISP_SHIFT) & SC_SLOT_DISP_MAX) !=
			    (d < SC_SLOT_DISP_MAX ? d : SC_SLOT_DISP_MAX))
				return "slot distance";
		}
		strings++;
	}
	if (n != c->count)
		return "count";
	if (c->hand && !hand_seen)
		return "SIEVE hand not on an entry of the queue";
	if (total != c->total_cost)
		return "total cost";
	if (c->total_cost > c->limit)
		return "total cost over the limit";
	if (strings != c->nr_strings)
		return "string entry count";
	for (i = 0; i < c->table_cap; i++)
		used += c->table[i] != 0;
	if (used != c->nr_strings)
		return "index occupancy";
	if (c->table_cap && c->nr_strings > c->table_cap - c->table_cap / 4)
		return "index load";
	if (c->keys_used > c->key_cap)
		return "key array use";
	for (i = 0, used = 0; i < c->keys_used; i++)
		used += c->keys[i].entry != NULL;
	if (used != handles)
		return "live key slots";
	for (f = c->key_free, n = 0; f; f = c->keys[f - 1].next_free) {
		if (f > c->keys_used || ++n > c->keys_used)
			return "key free list";
		if (c->keys[f - 1].entry ||
		    c->keys[f - 1].gen > SC_HANDLE_GEN_MAX)
			return "free key slot";
	}
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
	return bad ? sc_err(EUCLEAN) : 0;
}
