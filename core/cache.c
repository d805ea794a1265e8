// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The cost-bounded cache: QPixmapCache/QCache semantics over slabs.
 *
 * Entries. One struct sc_entry per value, from a per-cache slab whose
 * object size fits the key inline (entry classes in steps of 8 bytes from
 * the smallest entry to 128, SC_ENTRY_CLASS_MIN to SC_ENTRY_CLASS_MAX, so
 * keys up to SC_KEY_INLINE_MAX bytes live in the entry's own cache lines).
 * Longer keys live in a key slab of a size class (128, 192, 256, 384, ...
 * 64 KiB) and the entry holds a pointer to them. All SC_NR_SLABS slab
 * caches are created with the cache (they hold no memory until used), so
 * that no call but create ever creates one. Handle entries
 * (sc_cache_add) have no string key: the key area holds their key-array
 * slot.
 *
 * The parts: the string index (core/index.c), the handle keys
 * (core/handle.c), the eviction order and the hit logs (core/queue.c),
 * grace periods (core/rcu.c). This file holds the API, accounting,
 * release and the deferred frees.
 *
 * Lookups (find, get, find_key, get_key, key_valid, contains) take no
 * lock: inside an RCU read-side section they read the index or the key
 * array, and report a hit in their thread's hit log (LRU), by setting
 * the entry's visited bit (SIEVE) or by raising its frequency (S3-FIFO). A
 * get pins the entry in a slot of its thread's pin set (core/pin.h), or,
 * when the slots are full, takes a counted reference with a
 * compare-and-swap that never revives a count of 0. What they write: their
 * thread's reader line, log and pin set (and for SIEVE, once per lap of
 * the hand, for S3-FIFO at most three times per round of its queue, the
 * entry's flags; refs only for a counted pin).
 * Documentation/concurrency.rst lists the lines each operation writes and
 * the ordering argument of each lock-free step.
 *
 * Writes (insert, add, replace, remove, set_limit, clear, shrink, age,
 * shrinkers, destroy) take the cache lock, first apply every thread's
 * pending hits (__sc_queue_sync_locked()), then do their work as before.
 * An LRU insert that chooses no victims while another thread logs hits
 * leaves them to the next drain and is linked there, at the place the
 * logs had reached (__sc_queue_defer_add_locked()).
 *
 * References. An entry's refs counts one reference for the cache while it
 * is linked plus its counted pins; most pins are slot pins, which it does
 * not count (core/pin.h). Dropping an entry from the cache (evict, remove,
 * replace, clear) sets its owner and SC_REFS_DROPPED, makes every slot pin
 * of it counted, then drops the cache's reference with an atomic
 * decrement (a plain store when no other thread can pin it, see
 * __sc_entry_drop_as_locked()): if that was the last, the value is
 * released after the lock is dropped; else the entry counts in c->pinned
 * and the last sc_entry_put() releases it. The cache
 * struct and its slabs outlive sc_cache_destroy() until pinned is zero, so
 * sc_entry_put() works after destroy.
 *
 * Release deferral. Entries dropped under the lock are collected on a
 * local list (through collect_next), in the order dropped: least recently
 * used first. The lock is dropped; then each value is released. No user
 * code ever runs with the cache lock held, so a release callback may call
 * back into the cache.
 *
 * Deferred frees (the limbo). A lookup may still be reading an entry that
 * was just dropped, or an index or key table that was just replaced, so
 * their memory is given back only after a grace period (core/rcu.h), and
 * entries only after a drain of the hit logs that follows it (a log may
 * hold the last reference to an entry, appended by a lookup that ended
 * inside the grace period). Released entries are pushed, without the
 * lock, onto c->limbo_pending; writers move them into the open batch,
 * close a batch every SC_LIMBO_BATCH entries with a grace-period ticket,
 * and poll the oldest batch now and then; a batch whose grace period has
 * passed is detached, the logs drained, and its memory freed after the
 * lock is dropped. Nothing on a writer's path waits for readers, except
 * when SC_LIMBO_MAX entries are waiting (a reader preempted inside its
 * section for that long), and memory-pressure passes and destroy, which
 * wait so that the memory really goes back.
 *
 * Failure atomicity. The entry and its key copy are allocated before the
 * lock is taken; under the lock, every check and growth (key array, index)
 * happens before the first visible change.
 *
 * Lock order (outermost first): shrinker registry lock > cache lock >
 * slab lock > backend. The cache lock is never held across user code, nor
 * while waiting for a grace period (a reader inside its section may be
 * waiting for this lock to apply its hits); the shrinker registry is never
 * entered with the cache lock held (sc_shrinker_free() in destroy runs
 * before the lock is taken). The global cache-id lock and the grace-period
 * registry lock are leaves, taken without any other lock held.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

#include "core/ghost.h"
#include "core/handle.h"
#include "core/index.h"
#include "core/pin.h"
#include "core/queue.h"
#include "core/rcu.h"

#define SC_CACHE_POLICIES (SC_CACHE_POLICY_SIEVE | SC_CACHE_POLICY_S3FIFO)
#define SC_CACHE_FLAGS (SC_CACHE_NO_SHRINKER | SC_CACHE_POLICIES)

/*
 * Entries per limbo batch: at most SC_LIMBO_BATCH, and about 1/32 of the
 * cache, so that what waits for a grace period stays a small share of a
 * small cache's memory. Beyond SC_LIMBO_MAX waiting, writers wait.
 */
#define SC_LIMBO_BATCH 256
#define SC_LIMBO_BATCH_MIN 8
#define SC_LIMBO_MAX 65536
/* Write operations between two looks at the oldest batch. */
#define SC_LIMBO_POLL_EVERY 16

/* --------------------------------------------------------- solo mode */

atomic_uint sc_solo_ended;
atomic_uint sc_solo_depth;
__thread signed char sc_solo_self __attribute__((tls_model("initial-exec")));
/* the solo thread's sc_solo_self, as a token; 0: none yet */
static atomic_uintptr_t sc_solo_thread;

/*
 * End solo mode and wait until the solo thread holds no cache lock
 * without the mutex. Every caller waits for the membarrier(2), not only
 * the one that runs it: before it returns, the solo thread may still
 * enter a section without seeing the end.
 */
static void sc_cache_solo_end(void)
{
	unsigned int on = SC_SOLO_ON;

	if (atomic_compare_exchange_strong_explicit(
		    &sc_solo_ended, &on, SC_SOLO_ENDING, memory_order_seq_cst,
		    memory_order_acquire)) {
		/*
		 * Refused after it was registered (a seccomp filter installed
		 * since): no barrier was run, so give the solo thread's store
		 * of the depth, which its CPU may still hold, far longer than
		 * a store buffer keeps one before the depth is read.
		 */
		if (!sc_rcu_membarrier()) {
			struct timespec ms = { 0, 1000 * 1000 };

			nanosleep(&ms, NULL);
		}
		atomic_store_explicit(&sc_solo_ended, SC_SOLO_ENDED,
				      memory_order_release);
	}
	while (atomic_load_explicit(&sc_solo_ended, memory_order_acquire) !=
	       SC_SOLO_ENDED)
		sched_yield();
	while (atomic_load_explicit(&sc_solo_depth, memory_order_acquire))
		sched_yield();
}

void sc_cache_solo_claim(void)
{
	uintptr_t owner = 0, me = (uintptr_t)&sc_solo_self;

	/*
	 * Without membarrier(2) no thread was ever solo (a fork child that
	 * loses it ends the mode itself): nothing to end or wait for.
	 */
	if (!sc_rcu_expedited()) {
		atomic_store_explicit(&sc_solo_ended, SC_SOLO_ENDED,
				      memory_order_relaxed);
		sc_solo_self = -1;
		return;
	}
	/* the first thread, or one that reuses an exited solo thread's TLS */
	if (atomic_load_explicit(&sc_solo_ended, memory_order_acquire) ==
		    SC_SOLO_ON &&
	    (atomic_compare_exchange_strong_explicit(&sc_solo_thread, &owner,
						     me, memory_order_acq_rel,
						     memory_order_acquire) ||
	     owner == me)) {
		sc_solo_self = 1;
		return;
	}
	sc_cache_solo_end();
	sc_solo_self = -1;
}

void sc_cache_solo_atfork_child(bool expedited)
{
	/* the one thread left holds no cache lock: fork() is not called in one */
	atomic_store_explicit(&sc_solo_depth, 0, memory_order_relaxed);
	if (sc_solo_self <= 0)
		atomic_store_explicit(&sc_solo_thread, 0, memory_order_relaxed);
	if (!expedited) {
		/* no membarrier(2) to end it with: end it now, alone */
		atomic_store_explicit(&sc_solo_ended, SC_SOLO_ENDED,
				      memory_order_relaxed);
		if (sc_solo_self > 0)
			sc_solo_self = -1;
	}
}

void sc_cache_lock_contended(struct sc_cache *c)
{
	unsigned int threads =
		atomic_load_explicit(&sc_rcu_nr_readers, memory_order_relaxed);

	sc_mutex_lock_spin(
		&c->lock, sc_lock_spin_ok(threads) ? SC_CACHE_LOCK_SPIN_NS : 0);
}

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

/* ----------------------------------------------------- ids and indexes */

/*
 * Ids of live caches, so that a handle of one live cache never validates
 * in another. Id 0 is never used. The cursor rotates, so a destroyed
 * cache's id is not handed out again soon. The thread-log index is dense
 * instead (the lowest free), since each thread keeps a table of logs
 * indexed by it; a reused index is told apart by the cache's serial.
 */
static struct sc_mutex sc_cache_id_lock = SC_MUTEX_INITIALIZER;
static uint64_t sc_cache_id_used[65536 / 64];
static uint64_t sc_cache_idx_used[65536 / 64];
static unsigned int sc_cache_id_cursor;
static uint64_t sc_cache_next_serial = 1;

static bool sc_bitmap_test(const uint64_t *map, unsigned int n)
{
	return map[n / 64] & (UINT64_C(1) << (n % 64));
}

static void sc_bitmap_flip(uint64_t *map, unsigned int n)
{
	map[n / 64] ^= UINT64_C(1) << (n % 64);
}

static int sc_cache_id_alloc(struct sc_cache *c)
{
	unsigned int i, n, id = 0;
	int ret = -ENOMEM;

	sc_mutex_lock(&sc_cache_id_lock);
	for (i = 0; i < 65535; i++) {
		n = (sc_cache_id_cursor + i) % 65535 + 1;
		if (!sc_bitmap_test(sc_cache_id_used, n)) {
			id = n;
			break;
		}
	}
	for (i = 0; id && i < 65535; i++) {
		if (!sc_bitmap_test(sc_cache_idx_used, i)) {
			sc_bitmap_flip(sc_cache_id_used, id);
			sc_bitmap_flip(sc_cache_idx_used, i);
			sc_cache_id_cursor = id;
			c->id = (uint16_t)id;
			c->tls_idx = (uint16_t)i;
			c->serial = sc_cache_next_serial++;
			ret = 0;
			break;
		}
	}
	sc_mutex_unlock(&sc_cache_id_lock);
	return ret;
}

static void sc_cache_id_free(struct sc_cache *c)
{
	sc_mutex_lock(&sc_cache_id_lock);
	sc_bitmap_flip(sc_cache_id_used, c->id);
	sc_bitmap_flip(sc_cache_idx_used, c->tls_idx);
	sc_mutex_unlock(&sc_cache_id_lock);
}

/* ------------------------------------------------------------- helpers */

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
 * Return: The entry, or NULL: out of memory (-ENOMEM to the caller).
 */
static struct sc_entry *sc_entry_new(struct sc_cache *c, const char *key,
				     size_t len, void *value, size_t cost)
{
	struct sc_entry *e;
	char *kp = NULL;
	unsigned int cls;

	cls = sc_entry_class_for(sc_entry_need(!key, len, cost));

	e = sc_slab_alloc(c->entry_slabs[cls]);
	if (!e)
		goto err;
	if ((uintptr_t)e >> 48 || (uintptr_t)e & 7)
		goto err_free_entry; /* cannot be indexed: see core/index.c */
	if (key && len > SC_KEY_INLINE_MAX) {
		kp = sc_slab_alloc(c->key_slabs[sc_key_class(len)]);
		if (!kp)
			goto err_free_entry;
	}

	e->value = value;
	atomic_init(&e->refs, 1);
	if (!key) {
		atomic_init(&e->flags, SC_ENTRY_HANDLE);
		e->key_len = 0;
	} else if (kp) {
		uint16_t len16 = (uint16_t)len;

		memcpy(kp, key, len);
		memcpy(e->key, &kp, sizeof(kp));
		memcpy(e->key + sizeof(kp), &len16, sizeof(len16));
		atomic_init(&e->flags, SC_ENTRY_EXT_KEY);
		e->key_len = SC_KEY_LEN_EXT;
	} else {
		memcpy(e->key, key, len);
		atomic_init(&e->flags, 0);
		e->key_len = (uint8_t)len;
	}
	if (cost < SC_COST_SPILLED) {
		e->cost = (uint16_t)cost;
	} else {
		e->cost = SC_COST_SPILLED;
		memcpy(e->key + sc_entry_cost_offset(!key, len), &cost,
		       sizeof(cost));
	}
	return e;

err_free_entry:
	sc_slab_free(c->entry_slabs[cls], e);
err:
	return NULL;
}

/* Free a key that lives outside its entry (too long to sit inside). */
static void sc_entry_free_ext_key(struct sc_cache *c, struct sc_entry *e)
{
	if (sc_entry_flags(e) & SC_ENTRY_EXT_KEY) {
		char *kp;

		memcpy(&kp, e->key, sizeof(kp));
		sc_slab_free(c->key_slabs[sc_key_class(sc_entry_key_len(e))],
			     kp);
	}
}

/*
 * Give an entry that no lookup has seen back to its slabs (a failed
 * insert). Context: any.
 */
static void sc_entry_free(struct sc_cache *c, struct sc_entry *e)
{
	sc_entry_free_ext_key(c, e);
	sc_slab_free(c->entry_slabs[sc_entry_class_of(e)], e);
}

/* --------------------------------------------------------------- limbo */

/*
 * A batch's memory, freed after its grace period and a drain. Entries
 * that writes dropped one at a time (an insert evicting one, a remove)
 * go through the thread's magazine, whose next allocations take them
 * again, as the single-lock cache did. Larger hauls (a clear, a big
 * shrink, an insert evicting several) and entries whose last pin was put
 * later go straight back to their slabs, a batch per slab lock: through
 * the magazine, the next inserts would take these entries' places, one
 * in each slab the evictions passed through, and keep all of those slabs
 * from going back.
 */
#define SC_FREE_BATCH 32

static void sc_limbo_free(struct sc_cache *c, struct sc_limbo_batch *b)
{
	struct sc_entry *e, *next;
	struct sc_index_table *t, *tn;
	struct sc_key_table *k, *kn;
	void *batch[SC_FREE_BATCH];
	unsigned int nb = 0, cls = 0;

	for (e = b->singles; e; e = next) {
		next = sc_entry_next_collected(e);
		sc_entry_free(c, e);
	}
	for (e = b->entries; e; e = next) {
		unsigned int ecls = sc_entry_class_of(e);

		next = sc_entry_next_collected(e);
		sc_entry_free_ext_key(c, e);
		if (nb && (nb == SC_FREE_BATCH || ecls != cls)) {
			sc_slab_free_bulk(c->entry_slabs[cls], batch, nb);
			nb = 0;
		}
		cls = ecls;
		batch[nb++] = e;
	}
	if (nb)
		sc_slab_free_bulk(c->entry_slabs[cls], batch, nb);
	for (t = b->tables; t; t = tn) {
		tn = t->limbo_next;
		sc_mem_free(t, sc_index_bytes(t->cap));
	}
	for (k = b->key_tables; k; k = kn) {
		kn = k->limbo_next;
		sc_mem_free(k, sc_handle_table_bytes(k->cap));
	}
	*b = (struct sc_limbo_batch){ 0 };
}

static inline bool sc_limbo_batch_empty(const struct sc_limbo_batch *b)
{
	return !b->entries && !b->singles && !b->tables && !b->key_tables;
}

/* Move everything of @from to @to; walks @from's lists, not @to's. */
static void sc_limbo_splice(struct sc_limbo_batch *to,
			    struct sc_limbo_batch *from)
{
	struct sc_entry **ep = &from->entries, **sp = &from->singles;
	struct sc_index_table **tp = &from->tables;
	struct sc_key_table **kp = &from->key_tables;

	while (*ep)
		ep = sc_entry_collect_link(*ep);
	*ep = to->entries;
	to->entries = from->entries;
	while (*sp)
		sp = sc_entry_collect_link(*sp);
	*sp = to->singles;
	to->singles = from->singles;
	while (*tp)
		tp = &(*tp)->limbo_next;
	*tp = to->tables;
	to->tables = from->tables;
	while (*kp)
		kp = &(*kp)->limbo_next;
	*kp = to->key_tables;
	to->key_tables = from->key_tables;
	to->nr += from->nr;
	*from = (struct sc_limbo_batch){ 0 };
}

void __sc_limbo_add_table_locked(struct sc_cache *c, struct sc_index_table *t)
{
	sc_cache_assert_locked(c);
	t->limbo_next = c->open.tables;
	c->open.tables = t;
}

void __sc_limbo_add_key_table_locked(struct sc_cache *c, struct sc_key_table *t)
{
	sc_cache_assert_locked(c);
	t->limbo_next = c->open.key_tables;
	c->open.key_tables = t;
}

/* Entries released after the lock: no lock needed to hand them over. */
static void sc_limbo_push(struct sc_cache *c, struct sc_entry *head,
			  struct sc_entry **tail)
{
	struct sc_entry *old =
		atomic_load_explicit(&c->limbo_pending, memory_order_relaxed);

	do {
		*tail = old;
	} while (!atomic_compare_exchange_weak_explicit(
		&c->limbo_pending, &old, head, memory_order_release,
		memory_order_relaxed));
}

/* Move the pending entries into the open batch. */
static void __sc_limbo_take_pending_locked(struct sc_cache *c)
{
	struct sc_entry *e = atomic_exchange_explicit(&c->limbo_pending, NULL,
						      memory_order_acquire);
	struct sc_entry *next;

	for (; e; e = next) {
		next = sc_entry_next_collected(e);
		*sc_entry_collect_link(e) = c->open.entries;
		c->open.entries = e;
		c->open.nr++;
		c->limbo_entries++;
	}
}

static size_t sc_limbo_batch_size(const struct sc_cache *c)
{
	size_t n = c->count / 32;

	return n < SC_LIMBO_BATCH_MIN ? SC_LIMBO_BATCH_MIN :
	       n > SC_LIMBO_BATCH     ? SC_LIMBO_BATCH :
					n;
}

/*
 * Limbo upkeep at the start of a write: close the open batch when it is
 * big enough (or holds a table), and now and then look at the oldest
 * batches; those whose grace period has passed move to @done, to be
 * freed after the caller syncs the logs and drops the lock. @reap: close
 * and look now, whatever the sizes (an idle cache's age step).
 * The open batch's size is fixed when it opens (limbo_close_at), and the
 * next look is counted down (limbo_poll_in), so that a write with nothing
 * to close or look at compares a few fields and goes on.
 * Context: cache lock held.
 */
static __attribute__((noinline)) void
__sc_limbo_upkeep_locked(struct sc_cache *c, struct sc_limbo_batch *done,
			 uint64_t *barrier, bool reap)
{
	size_t size = sc_limbo_batch_size(c);

	sc_cache_assert_locked(c);
	if (sc_unlikely(atomic_load_explicit(&c->limbo_pending,
					     memory_order_relaxed)))
		__sc_limbo_take_pending_locked(c);
	if ((c->open.nr >= c->limbo_close_at || c->open.tables ||
	     c->open.key_tables || (reap && c->open.nr)) &&
	    c->nr_batches < SC_LIMBO_BATCHES) {
		struct sc_limbo_batch *b =
			&c->batches[(c->batch_first + c->nr_batches++) %
				    SC_LIMBO_BATCHES];

		*b = c->open;
		b->gp = sc_rcu_start();
		c->open = (struct sc_limbo_batch){ 0 };
		c->limbo_close_at = size;
	}
	if (sc_likely(!c->nr_batches))
		return;
	/* every SC_LIMBO_POLL_EVERY writes; sooner with three batches */
	if (!reap && c->limbo_poll_in && c->limbo_entries <= 2 * size)
		return;
	c->limbo_poll_in = SC_LIMBO_POLL_EVERY;
	while (c->nr_batches) {
		struct sc_limbo_batch *b = &c->batches[c->batch_first];
		enum sc_rcu_poll r =
			sc_rcu_poll(b->gp, c->limbo_entries > 4 * size);

		if (r == SC_RCU_BARRIER) {
			/*
			 * The readers' barrier interrupts every CPU of the
			 * process: the caller runs it after the unlock, and
			 * the next write looks again.
			 */
			*barrier = b->gp;
			c->limbo_poll_in = 1;
			break;
		}
		if (r != SC_RCU_PASSED)
			break;
		c->limbo_entries -= b->nr;
		sc_limbo_splice(done, b);
		c->batch_first = (c->batch_first + 1) % SC_LIMBO_BATCHES;
		c->nr_batches--;
	}
}

static inline void __sc_limbo_tick_locked(struct sc_cache *c,
					  struct sc_limbo_batch *done,
					  uint64_t *barrier, bool reap)
{
	sc_cache_assert_locked(c);
	if (sc_likely(!reap &&
		      !atomic_load_explicit(&c->limbo_pending,
					    memory_order_relaxed) &&
		      c->open.nr < c->limbo_close_at && !c->open.tables &&
		      !c->open.key_tables &&
		      (!c->nr_batches || --c->limbo_poll_in)))
		return;
	__sc_limbo_upkeep_locked(c, done, barrier, reap);
}

/* Take everything waiting in limbo into @all. Context: cache lock held. */
static void __sc_limbo_take_all_locked(struct sc_cache *c,
				       struct sc_limbo_batch *all)
{
	sc_cache_assert_locked(c);
	__sc_limbo_take_pending_locked(c);
	sc_limbo_splice(all, &c->open);
	while (c->nr_batches) {
		sc_limbo_splice(all, &c->batches[c->batch_first]);
		c->batch_first = (c->batch_first + 1) % SC_LIMBO_BATCHES;
		c->nr_batches--;
	}
	c->limbo_entries = 0;
}

/*
 * Free @all once a grace period has passed and the logs are drained,
 * every entry straight back to its slab: memory going back, no magazine
 * keeps any of it. Context: no cache lock held, not inside a read-side
 * section.
 */
static void sc_limbo_free_now(struct sc_cache *c, struct sc_limbo_batch *all)
{
	uint64_t gp;

	if (sc_limbo_batch_empty(all))
		return;
	gp = sc_rcu_start();
	sc_rcu_wait(gp);
	sc_cache_lock(c);
	__sc_queue_sync_locked(c);
	sc_cache_unlock(c);
	if (all->singles) {
		struct sc_entry **ep = &all->singles;

		while (*ep)
			ep = sc_entry_collect_link(*ep);
		*ep = all->entries;
		all->entries = all->singles;
		all->singles = NULL;
	}
	sc_limbo_free(c, all);
}

/*
 * Free everything in limbo: wait for a grace period (no lock held), then
 * drain the logs and free. For memory-pressure passes, the last put after
 * destroy, and the rare writer that finds SC_LIMBO_MAX entries waiting.
 * Context: no cache lock held, not inside a read-side section.
 */
static void sc_limbo_flush(struct sc_cache *c)
{
	struct sc_limbo_batch all = { 0 };

	sc_cache_lock(c);
	__sc_limbo_take_all_locked(c, &all);
	sc_cache_unlock(c);
	sc_limbo_free_now(c, &all);
}

/* ------------------------------------------------------ write sections */

/*
 * Every write runs between these: the lock, limbo upkeep, the hit logs
 * applied; then the lock dropped, collected values released, and the
 * memory whose grace period has passed freed.
 */
#define SC_WRITE_STASH 16

struct sc_write {
	struct sc_collect col;
	struct sc_limbo_batch done;
	/* a grace period's ticket whose readers' barrier is due, or 0 */
	uint64_t barrier;
	bool stored; /* an insert, add or replace stored its value */
	bool flush; /* then free everything in limbo (sc_write_end_flush()) */
	unsigned int nr_stashed;
	void *stash[SC_WRITE_STASH]; /* values of entries already in limbo */
};

/*
 * Set up @w field by field: an initializer would clear the stash too, a
 * tenth of an insert's instructions for slots that are written before
 * they are read.
 */
static inline void sc_write_init(struct sc_write *w)
{
	w->col.head = NULL;
	w->col.tail = &w->col.head;
	w->done = (struct sc_limbo_batch){ 0 };
	w->barrier = 0;
	w->stored = false;
	w->flush = false;
	w->nr_stashed = 0;
}

static void sc_write_begin_reap(struct sc_cache *c, struct sc_write *w,
				bool reap)
{
	sc_write_init(w);
	sc_cache_lock(c);
	__sc_limbo_tick_locked(c, &w->done, &w->barrier, reap);
	/* after the poll: no log can name a batch in done once drained */
	__sc_queue_sync_locked(c);
}

static void sc_write_begin(struct sc_cache *c, struct sc_write *w)
{
	sc_write_begin_reap(c, w, false);
}

/*
 * The start of an insert: as sc_write_begin(), but the hit logs are left
 * for the caller, which drains them (__sc_queue_sync_locked()) unless it
 * will choose no victims and may link its entry later
 * (__sc_insert_may_defer_locked()).
 */
static void sc_write_begin_insert(struct sc_cache *c, struct sc_write *w)
{
	sc_write_init(w);
	sc_cache_lock(c);
	__sc_limbo_tick_locked(c, &w->done, &w->barrier, false);
}

/*
 * Release the values of collected entries, then hand the entries to the
 * limbo. Context: cache lock not held.
 */
static void sc_cache_release_collected(struct sc_cache *c,
				       struct sc_collect *col)
{
	struct sc_entry *e;

	if (!col->head)
		return;
	if (c->release)
		for (e = col->head; e; e = sc_entry_next_collected(e))
			c->release(e->value, c->priv);
	sc_limbo_push(c, col->head, col->tail);
	col->head = NULL;
	col->tail = &col->head;
}

/*
 * The first entries collected go to the open batch at once, under the
 * lock, their values stashed for release: a write that evicts a few
 * entries then needs no handover. A larger haul (clear, a big shrink) is
 * released from the entries and handed over without the lock after.
 * One entry alone (an insert evicting one, a remove) joins the batch's
 * singles, which go back through the magazine (sc_limbo_free()).
 */
static void __sc_write_stash_locked(struct sc_cache *c, struct sc_write *w)
{
	struct sc_entry *e = w->col.head;

	sc_cache_assert_locked(c);
	if (!sc_entry_next_collected(e)) {
		w->stash[w->nr_stashed++] = e->value;
		*sc_entry_collect_link(e) = c->open.singles;
		c->open.singles = e;
		c->open.nr++;
		c->limbo_entries++;
		w->col.head = NULL;
		w->col.tail = &w->col.head;
		return;
	}
	while ((e = w->col.head) && w->nr_stashed < SC_WRITE_STASH) {
		w->col.head = sc_entry_next_collected(e);
		w->stash[w->nr_stashed++] = e->value;
		*sc_entry_collect_link(e) = c->open.entries;
		c->open.entries = e;
		c->open.nr++;
		c->limbo_entries++;
	}
	if (!w->col.head)
		w->col.tail = &w->col.head;
}

/*
 * The end of a write that gives memory back (clear, destroy, a CRITICAL
 * pass): what it dropped joins everything waiting in limbo without a
 * handover through the pending list, and is walked once more only to be
 * freed, after a grace period. Context: cache lock held; dropped.
 */
static __attribute__((noinline)) void sc_write_end_flush(struct sc_cache *c,
							 struct sc_write *w)
{
	struct sc_limbo_batch all = { 0 };
	struct sc_ghost *ghost = NULL;
	struct sc_entry *e;

	__sc_limbo_take_all_locked(c, &all);
	if (sc_cache_s3fifo(c) && __sc_queue_ghost_resize_needed(c, w->stored))
		ghost = __sc_queue_ghost_resize_locked(c, w->stored);
	sc_cache_unlock(c);
	if (ghost)
		sc_ghost_free(ghost);
	if (w->col.head) {
		if (c->release)
			for (e = w->col.head; e; e = sc_entry_next_collected(e))
				c->release(e->value, c->priv);
		*w->col.tail = all.entries;
		all.entries = w->col.head;
	}
	sc_limbo_splice(&all, &w->done);
	sc_limbo_free_now(c, &all);
}

/*
 * Can what this write dropped be freed at once? Only if no other thread
 * can be reading it or hold a logged hit on it: no thread but this one is
 * registered for read-side sections (sc_rcu_alone(), whose argument covers
 * a thread that registers meanwhile), and no other thread has a log of
 * this cache (this thread's own was drained when the write began, and it
 * looks nothing up until the write ends), or no log holds a hit at all
 * (nor belongs to a thread that has exited, nor waits for a deferred
 * insert): the logs of threads that are not registered, such as the one
 * sc_cache_create() gives the creating thread, which may never look the
 * cache up. A hit is logged inside a section, so only by a registered
 * thread; one that has unregistered since (at its exit) lowered the count
 * with a release, which sc_rcu_alone()'s acquire load pairs with: its
 * head, and everything its sections read, are visible here before the
 * logs are looked at and the entries freed. A program with one thread,
 * or one thread working on a cache another thread created, then frees as
 * the single-lock cache did: no limbo, the entry back in the magazine
 * while its lines are hot. Context: cache lock held, after the entries
 * were unlinked.
 */
static inline bool __sc_write_alone_locked(struct sc_cache *c)
{
	return sc_rcu_alone() && (__sc_hitlog_only_mine_locked(c) ||
				  __sc_hitlog_none_pending_locked(c));
}

/* Release and free what a write that is alone dropped. Lock not held. */
static void sc_write_free_alone(struct sc_cache *c, struct sc_collect *col)
{
	struct sc_limbo_batch b;
	struct sc_entry *e;

	if (c->release)
		for (e = col->head; e; e = sc_entry_next_collected(e))
			c->release(e->value, c->priv);
	/* one entry through the magazine, a haul back to its slabs */
	if (!sc_entry_next_collected(col->head)) {
		sc_entry_free(c, col->head);
		return;
	}
	b = (struct sc_limbo_batch){ .entries = col->head };
	sc_limbo_free(c, &b);
}

/*
 * A write that changes several keys ends with index_seq even again
 * (sc_write_end_multi()): the caller opened it with
 * __sc_cache_multi_begin_locked(), and only those callers pay for the
 * close. A write that ends without it left index_seq as it found it.
 */
static void sc_write_end(struct sc_cache *c, struct sc_write *w)
{
	struct sc_ghost *ghost = NULL;
	bool full, alone = false;
	unsigned int i;

	if (sc_unlikely(w->flush)) {
		/* clear, destroy, a CRITICAL pass: several keys changed */
		__sc_cache_multi_end_locked(c);
		sc_write_end_flush(c, w);
		return;
	}
	if (w->col.head) {
		alone = __sc_write_alone_locked(c);
		if (!alone)
			__sc_write_stash_locked(c, w);
	}
	if (sc_cache_s3fifo(c) && __sc_queue_ghost_resize_needed(c, w->stored))
		ghost = __sc_queue_ghost_resize_locked(c, w->stored);
	full = c->limbo_entries >= SC_LIMBO_MAX;
	sc_cache_unlock(c);
	/* only writers read the ghost, under the lock: no grace period */
	if (ghost)
		sc_ghost_free(ghost);
	if (c->release)
		for (i = 0; i < w->nr_stashed; i++)
			c->release(w->stash[i], c->priv);
	if (alone)
		sc_write_free_alone(c, &w->col);
	else if (w->col.head)
		sc_cache_release_collected(c, &w->col);
	if (sc_unlikely(!sc_limbo_batch_empty(&w->done)))
		sc_limbo_free(c, &w->done);
	if (sc_unlikely(w->barrier))
		sc_rcu_barrier(w->barrier);
	if (sc_unlikely(full))
		sc_limbo_flush(c);
}

/* The end of a write that may have changed several keys. */
static inline void sc_write_end_multi(struct sc_cache *c, struct sc_write *w)
{
	__sc_cache_multi_end_locked(c);
	sc_write_end(c, w);
}

/* ------------------------------------------------- unlink, drop, evict */

/*
 * The cache lets go of @e: it is no longer linked anywhere. Its cache
 * reference is dropped; if that was the last one it goes on @col for
 * release after the lock is dropped, else the last sc_entry_put() releases
 * it. Context: cache lock held.
 *
 * A locked decrement per entry serializes a clear or a run of evictions
 * (each waits for the last one's line: a quarter of a cache-resident
 * clear). It is needed only while a lookup may take a pin at the same
 * moment. Pins are taken under this lock or by a lookup inside a
 * read-side section; one that found @e did so before @e was unlinked.
 * When no other thread is registered for read-side sections
 * (sc_rcu_alone(), after the unlink: the same argument as for freeing
 * at once), none can; when no other thread has a pin set either
 * (sc_pin_alone()) and none of this thread's slots holds @e, refs of 1
 * means no pin exists or can appear: a plain store, as when gets pinned
 * only under the lock. A pin that is put meanwhile drops refs from 2,
 * which the load sees, or clears its slot (a put from a thread that
 * never looked up), which the compare-and-swap of a conversion sees.
 *
 * Otherwise the store-buffering pair of core/pin.h: SC_REFS_DROPPED
 * (sequentially consistent), then the slots: every slot pin of @e either
 * is seen and made counted, or its get sees the bit and takes it back.
 */
/* The drop of an entry other threads may pin: see above. */
static void __sc_entry_drop_shared_locked(struct sc_cache *c,
					  struct sc_entry *e,
					  struct sc_collect *col)
{
	sc_cache_assert_locked(c);
	/* for the last put, which may come at any moment once refs drops */
	sc_entry_set_owner(e, c);
	c->pinned++;
	atomic_fetch_or_explicit(&e->refs, SC_REFS_DROPPED,
				 memory_order_seq_cst);
	sc_pin_convert(e, &e->refs);
	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) ==
	    (SC_REFS_DROPPED | 1)) {
		/* no pin: ours to release; a get can no longer take one */
		c->pinned--;
		sc_collect_add(col, e);
	}
}

static inline __attribute__((always_inline)) void
__sc_entry_drop_as_locked(struct sc_cache *c, struct sc_entry *e,
			  struct sc_collect *col, bool alone)
{
	sc_cache_assert_locked(c);
	if (alone && !sc_pin_mine(e) &&
	    atomic_load_explicit(&e->refs, memory_order_acquire) == 1) {
		atomic_store_explicit(&e->refs, SC_REFS_DROPPED,
				      memory_order_relaxed);
		sc_collect_add(col, e);
		return;
	}
	__sc_entry_drop_shared_locked(c, e, col);
}

/*
 * No other thread can pin what the caller unlinked, nor holds a pin set
 * (__sc_entry_drop_as_locked()). Lasts until the caller's next lookup:
 * a thread that takes a set registers for read-side sections first.
 */
static inline bool sc_drop_alone(void)
{
	return sc_rcu_alone() && sc_pin_alone();
}

static inline __attribute__((always_inline)) void
__sc_entry_drop_locked(struct sc_cache *c, struct sc_entry *e,
		       struct sc_collect *col)
{
	__sc_entry_drop_as_locked(c, e, col, sc_drop_alone());
}

/* Take @e out of the order, the index or key array, and the accounting. */
static void __sc_entry_unlink_locked(struct sc_cache *c, struct sc_entry *e)
{
	sc_cache_assert_locked(c);
	__sc_queue_del_locked(c, e);
	if (sc_entry_flags(e) & SC_ENTRY_HANDLE)
		__sc_handle_put_locked(c, sc_entry_slot(e));
	else
		__sc_index_del_locked(c, e, sc_entry_hash(c, e));
	c->count--;
	c->total_cost -= sc_entry_cost_of(e);
}

static void __sc_entry_remove_locked(struct sc_cache *c, struct sc_entry *e,
				     struct sc_collect *col)
{
	__sc_entry_unlink_locked(c, e);
	__sc_entry_drop_locked(c, e, col);
}

/*
 * Remove the victim @e: as a remove, but the policy hears of it (S3-FIFO's
 * ghost remembers a key leaving its small queue), from the hash that
 * finding its index slot needs anyway.
 */
static void __sc_entry_evict_locked(struct sc_cache *c, struct sc_entry *e,
				    struct sc_collect *col)
{
	sc_cache_assert_locked(c);
	__sc_queue_del_locked(c, e);
	if (sc_entry_flags(e) & SC_ENTRY_HANDLE) {
		__sc_handle_put_locked(c, sc_entry_slot(e));
	} else {
		uint64_t hash = sc_entry_hash(c, e);

		__sc_queue_evicted_locked(c, e, hash);
		__sc_index_del_locked(c, e, hash);
	}
	c->count--;
	c->total_cost -= sc_entry_cost_of(e);
	__sc_entry_drop_locked(c, e, col);
}

/*
 * Evict in the policy's order until the total fits @limit. The caller
 * has made index_seq odd if victims may go (__sc_cache_multi_begin()):
 * evictions are a write that changes several keys.
 */
static unsigned long __sc_cache_evict_locked(struct sc_cache *c, size_t limit,
					     struct sc_collect *col)
{
	struct sc_queue_walk walk;
	unsigned long n = 0;
	struct sc_entry *e;

	sc_cache_assert_locked(c);
	__sc_queue_walk_begin_locked(c, &walk);
	while (c->total_cost > limit &&
	       (e = __sc_queue_victim_locked(c, &walk))) {
		__sc_entry_evict_locked(c, e, col);
		n++;
	}
	return n;
}

/* Evict up to @nr entries in the policy's order; as above. */
static unsigned long __sc_cache_evict_nr_locked(struct sc_cache *c,
						unsigned long nr,
						struct sc_collect *col)
{
	struct sc_queue_walk walk;
	unsigned long n = 0;
	struct sc_entry *e;

	sc_cache_assert_locked(c);
	__sc_queue_walk_begin_locked(c, &walk);
	while (n < nr && (e = __sc_queue_victim_locked(c, &walk))) {
		__sc_entry_evict_locked(c, e, col);
		n++;
	}
	return n;
}

/*
 * Evict every entry in the policy's order. S3-FIFO's ghost goes first
 * (into *@ghost, to free after the lock): it goes with the last entry
 * anyway, and remembering each key on the way would cost a miss each.
 */
static unsigned long __sc_cache_evict_all_locked(struct sc_cache *c,
						 struct sc_collect *col,
						 struct sc_ghost **ghost)
{
	sc_cache_assert_locked(c);
	*ghost = __sc_queue_ghost_set_locked(c, NULL, 0);
	return __sc_cache_evict_nr_locked(c, ULONG_MAX, col);
}

/*
 * Link a new entry as the most recently used (SIEVE: the newest). Callers
 * evict down to limit - cost before, not after: SIEVE's hand reaches the
 * newest entry too, and a value just stored must not be its own victim.
 * For LRU both orders evict the same entries.
 */
static void __sc_entry_link_locked(struct sc_cache *c, struct sc_entry *e)
{
	sc_cache_assert_locked(c);
	__sc_queue_add_locked(c, e);
	c->count++;
	c->total_cost += sc_entry_cost_of(e);
}

/* Drop every entry onto @col and invalidate every handle. */
static void __sc_cache_clear_locked(struct sc_cache *c, struct sc_collect *col)
{
	struct sc_entry *e;
	bool alone;

	sc_cache_assert_locked(c);
	/* string keys go at once, handles one by one: one step to lookups */
	__sc_cache_multi_begin_locked(c);
	/*
	 * The index is emptied wholesale and its memory given back; first,
	 * so that every string entry is unlinked before it is dropped.
	 */
	__sc_index_clear_locked(c);
	alone = sc_drop_alone();
	/* least recently used first, the order evictions release in */
	while ((e = __sc_queue_pop_oldest_locked(c))) {
		if (sc_entry_flags(e) & SC_ENTRY_HANDLE) {
			/* its unlink is now: ask again after it */
			__sc_handle_put_locked(c, sc_entry_slot(e));
			__sc_entry_drop_locked(c, e, col);
		} else {
			__sc_entry_drop_as_locked(c, e, col, alone);
		}
	}
	__sc_queue_clear_locked(c);
	c->count = 0;
	c->total_cost = 0;
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

/*
 * CRITICAL asks for every entry. Evicting them in batches would unlink
 * each one from the index (a random slot line per entry) and from the
 * LRU list (two neighbour lines); emptying the cache at once walks the
 * list only and drops the index wholesale, as clear does, in the same
 * order as eviction (the least recently used first). SIEVE and S3-FIFO
 * evict in an order that clear does not follow, so they evict one by one.
 * nr_scanned tells the registry the whole cache was scanned, so it stops
 * calling.
 */
static unsigned long sc_cache_shrink_all(struct sc_cache *c,
					 struct sc_shrink_control *sc)
{
	struct sc_write w;
	struct sc_ghost *ghost = NULL;
	unsigned long n;

	sc_write_begin(c, &w);
	n = c->count;
	if (sc_cache_hits_in_flags(c)) {
		__sc_cache_multi_begin_locked(c);
		__sc_cache_evict_all_locked(c, &w.col, &ghost);
		__sc_index_trim_locked(c);
	} else {
		__sc_cache_clear_locked(c, &w.col);
	}
	c->shrunk += n;
	/* CRITICAL: the memory goes back now (the scan's flush finds none) */
	w.flush = true;
	sc_write_end(c, &w);
	sc_ghost_free(ghost);
	if (n > sc->nr_scanned)
		sc->nr_scanned = n;
	return n;
}

static unsigned long sc_cache_shrinker_scan(struct sc_shrinker *s,
					    struct sc_shrink_control *sc)
{
	struct sc_cache *c = s->private_data;
	unsigned long n;

	if (sc->level == SC_PRESSURE_CRITICAL)
		n = sc_cache_shrink_all(c, sc);
	else
		n = sc_cache_shrink(c, sc->nr_to_scan);
	/* the registry gives empty slabs back after MEDIUM and CRITICAL */
	if (sc->level >= SC_PRESSURE_MEDIUM)
		sc_limbo_flush(c);
	return n;
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

/* Free what a cache owns; every entry is gone and nobody looks it up. */
static void sc_cache_free(struct sc_cache *c)
{
	struct sc_index_table *t;
	struct sc_key_table *k;
	unsigned int i;

	sc_limbo_flush(c);
	sc_hitlog_release_all(c);
	t = atomic_load_explicit(&c->index, memory_order_relaxed);
	if (t)
		sc_mem_free(t, sc_index_bytes(t->cap));
	k = atomic_load_explicit(&c->keys, memory_order_relaxed);
	if (k)
		sc_mem_free(k, sc_handle_table_bytes(k->cap));
	for (i = 0; i < SC_NR_SLABS; i++)
		sc_slab_destroy(sc_cache_slab(c, i));
	sc_cache_id_free(c);
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
	if (cfg->flags & ~SC_CACHE_FLAGS ||
	    (cfg->flags & SC_CACHE_POLICIES) == SC_CACHE_POLICIES)
		return sc_err_ptr(-EINVAL);

	c = sc_mem_zalloc(sizeof(*c));
	if (!c)
		return sc_err_ptr(-ENOMEM);
	snprintf(c->name, sizeof(c->name), "%s",
		 cfg->name && *cfg->name ? cfg->name : "sc_cache");
	c->lru.next = c->lru.prev = &c->lru;
	c->main.next = c->main.prev = &c->main;
	c->limit = cfg->limit ? cfg->limit : SC_CACHE_DEFAULT_LIMIT;
	c->release = cfg->ops ? cfg->ops->release : NULL;
	c->priv = cfg->priv;
	c->flags = cfg->flags;
	c->seed = sc_cache_seed(c);
	c->limbo_close_at = SC_LIMBO_BATCH_MIN;

	/* writers hold it briefly, often from two CPUs at once */
	err = -sc_mutex_init_spin(&c->lock);
	if (err)
		goto err_free;
	sc_cache_lock(c);
	__sc_queue_set_limit_locked(c);
	sc_cache_unlock(c);
	if (sc_cache_id_alloc(c)) {
		err = -ENOMEM;
		goto err_mutex;
	}
	/*
	 * Every slab cache now, key classes too: created lazily, a failed
	 * insert could leave one behind. They hold no memory until used.
	 */
	for (i = 0; i < SC_NR_SLABS; i++) {
		size_t size =
			i < SC_NR_ENTRY_CLASSES ?
				sc_entry_class_size(i) :
				sc_key_class_size(i - SC_NR_ENTRY_CLASSES);

		snprintf(name, sizeof(name), "%s-%s-%zu", c->name,
			 i < SC_NR_ENTRY_CLASSES ? "entry" : "key", size);
		*sc_cache_slab_ref(c, i) = sc_slab_create(name, size, 0, 0);
		if (!sc_cache_slab(c, i)) {
			err = -ENOMEM;
			goto err_slabs;
		}
	}
	if (!(cfg->flags & SC_CACHE_NO_SHRINKER)) {
		c->shrinker = sc_shrinker_alloc(0, "sc_cache-%s", c->name);
		if (!c->shrinker) {
			err = -ENOMEM;
			goto err_slabs;
		}
		c->shrinker->count_objects = sc_cache_shrinker_count;
		c->shrinker->scan_objects = sc_cache_shrinker_scan;
		c->shrinker->seeks = SC_DEFAULT_SEEKS;
		c->shrinker->private_data = c;
	}
	/*
	 * The creating thread's hit log, now: its lookups then never
	 * allocate. Other threads make theirs at their first lookup (and a
	 * lookup that cannot make one applies its hit under the lock).
	 */
	if (!sc_hitlog_get_slow(c)) {
		err = -ENOMEM;
		goto err_shrinker;
	}
	if (c->shrinker)
		sc_shrinker_register(c->shrinker);
	return c;

err_shrinker:
	sc_shrinker_free(c->shrinker);
err_slabs:
	while (i--)
		sc_slab_destroy(sc_cache_slab(c, i));
	sc_cache_id_free(c);
err_mutex:
	sc_mutex_destroy(&c->lock);
err_free:
	sc_mem_free(c, sizeof(*c));
	return sc_err_ptr(err);
}

SC_API void sc_cache_destroy(struct sc_cache *c)
{
	struct sc_write w;
	bool last;

	if (!c)
		return;
	/* registry lock > cache lock: never with the cache lock held */
	sc_shrinker_free(c->shrinker);
	c->shrinker = NULL;

	sc_write_begin(c, &w);
	__sc_cache_clear_locked(c, &w.col);
	w.flush = true;
	sc_write_end(c, &w);

	/* Pinned entries keep the cache (slabs, lock) until their last put. */
	sc_cache_lock(c);
	c->dead = true;
	last = !c->pinned;
	sc_cache_unlock(c);
	if (last)
		sc_cache_free(c);
}

/* ------------------------------------------------------------ string keys */

/*
 * A failed insert, add or replace on a valid cache counts.
 * Return: @err, a negative errno, also in errno.
 */
/*
 * May this insert of @cost over @old (or NULL) leave the hit logs alone
 * and link its entry at the next drain? Only if it will choose no
 * victims (the guarantee asks the hits that returned before it to be
 * applied before an insert chooses victims, and nothing else reads the
 * order before the next drain: every other write drains first), if the
 * limbo frees nothing now (a drain must come between a grace period and
 * the free: "Hit logs" in Documentation/concurrency.rst), and if the
 * order allows it (__sc_queue_may_defer_locked()).
 */
static bool __sc_insert_may_defer_locked(struct sc_cache *c,
					 const struct sc_write *w,
					 const struct sc_entry *old,
					 size_t cost)
{
	size_t base;

	sc_cache_assert_locked(c);
	if (!sc_limbo_batch_empty(&w->done) || cost > c->limit)
		return false;
	base = c->total_cost - (old ? sc_entry_cost_of(old) : 0);
	return base <= c->limit - cost && __sc_queue_may_defer_locked(c, old);
}

static int sc_cache_insert_failed(struct sc_cache *c, int err)
{
	sc_cache_lock(c);
	c->insert_failures++;
	sc_cache_unlock(c);
	return sc_err(err);
}

SC_API int sc_cache_insert(struct sc_cache *c, const char *key, void *value,
			   size_t cost)
{
	struct sc_write w;
	struct sc_index_spot spot;
	struct sc_entry *e, *old;
	size_t len, base, sum;
	long ghost_slot = -1;
	uint64_t hash;
	int ret, admit;
	bool multi, defer;

	if (!c)
		return sc_err(-EINVAL);
	ret = sc_key_check(key, &len);
	if (!ret && !value)
		ret = -EINVAL;
	if (ret)
		return sc_cache_insert_failed(c, ret);

	hash = sc_key_hash(c->seed, key, len);
	sc_queue_ghost_prefetch(c, hash);
	e = sc_entry_new(c, key, len, value, cost);
	if (!e)
		return sc_cache_insert_failed(c, -ENOMEM);

	sc_write_begin_insert(c, &w);
	/* a miss leaves the spot to insert at: one probe, not two */
	old = __sc_index_find_spot_locked(c, key, len, hash, &spot);
	defer = __sc_insert_may_defer_locked(c, &w, old, cost);
	if (!defer)
		__sc_queue_sync_locked(c);
	if (cost > c->limit) {
		/* as QCache: the old entry under the key goes too */
		if (old)
			__sc_entry_remove_locked(c, old, &w.col);
		ret = -EFBIG;
		goto err_unlock;
	}
	base = c->total_cost - (old ? sc_entry_cost_of(old) : 0);
	if (!sc_size_add(base, cost, &sum)) {
		ret = -EOVERFLOW;
		goto err_unlock;
	}
	/* S3-FIFO: an update keeps its queue and frequency */
	admit = old ? (int)(sc_entry_flags(old) &
			    (SC_ENTRY_MAIN | SC_ENTRY_FREQ)) :
		      __sc_queue_admit_locked(c, hash, cost, &ghost_slot);
	if (admit < 0) {
		/* refused: the value stays the caller's, nothing else moved */
		sc_write_end(c, &w);
		sc_entry_free(c, e);
		return SC_CACHE_NOT_ADMITTED;
	}
	if (!old && __sc_index_reserve_locked(c)) {
		ret = -ENOMEM;
		goto err_unlock;
	}

	/* commit: nothing below can fail */
	/* the key and its victims change as one (sum - cost is base) */
	multi = sum > c->limit;
	if (multi)
		__sc_cache_multi_begin_locked(c);
	/* before the entry is published: lookups may raise its frequency */
	atomic_store_explicit(&e->flags,
			      sc_entry_flags(e) | (unsigned int)admit,
			      memory_order_relaxed);
	__sc_queue_admitted_locked(c, hash, ghost_slot, cost);
	/*
	 * No victims: the entry joins the order at the next drain, where
	 * the logs stand now. Before it is published, so that no hit on it
	 * is logged before that place.
	 */
	if (defer)
		__sc_queue_defer_add_locked(c, e);
	if (old) {
		/* same key, same slot: only the address changes */
		__sc_index_replace_locked(c, old, e, hash);
		__sc_queue_del_locked(c, old);
		c->count--;
		c->total_cost -= sc_entry_cost_of(old);
		__sc_entry_drop_locked(c, old, &w.col);
		c->replaces++;
	} else {
		__sc_index_insert_spot_locked(c, e, hash, &spot);
	}
	if (defer) {
		c->count++;
		c->total_cost += sc_entry_cost_of(e);
	} else {
		/* room first (cost <= limit): the new entry is never a victim */
		c->evictions +=
			__sc_cache_evict_locked(c, c->limit - cost, &w.col);
		__sc_entry_link_locked(c, e);
	}
	c->inserts++;
	w.stored = true;
	if (multi)
		sc_write_end_multi(c, &w);
	else
		sc_write_end(c, &w);
	return 0;

err_unlock:
	c->insert_failures++;
	sc_write_end(c, &w);
	sc_entry_free(c, e);
	return sc_err(ret);
}

/* A hit that its thread could not log: applied at once, under the lock. */
static void sc_cache_hit_locked_path(struct sc_cache *c, struct sc_entry *e)
{
	sc_cache_lock(c);
	c->hits++;
	__sc_queue_touch_locked(c, e);
	sc_cache_unlock(c);
}

/*
 * Count a hit and report it to the eviction order. Context: inside the
 * read-side section that found @e; @l is NULL when the thread has no log.
 */
static inline void sc_cache_hit(struct sc_cache *c, struct sc_hitlog *l,
				struct sc_entry *e)
{
	if (sc_unlikely(!l)) {
		sc_cache_hit_locked_path(c, e);
		return;
	}
	sc_hitlog_count(&l->hits);
	if (sc_cache_hits_in_flags(c))
		sc_policy_hit(c, e);
	else if (sc_unlikely(!sc_hitlog_add(c, l, e)))
		sc_cache_hit_locked_path(c, e);
}

static void sc_cache_miss(struct sc_cache *c, struct sc_hitlog *l)
{
	if (sc_likely(l)) {
		sc_hitlog_count(&l->misses);
		return;
	}
	sc_cache_lock(c);
	c->misses++;
	sc_cache_unlock(c);
}

/*
 * Find @key. Context: inside a read-side section, which the caller ends
 * after it is done with the entry. SC_INDEX_RETRY: the index kept moving
 * (a writer was stopped mid-shift or mid-way through a write that changes
 * several keys), so look under the lock.
 */
static inline struct sc_entry *
sc_cache_lookup(struct sc_cache *c, const char *key, size_t len, uint64_t hash)
{
	struct sc_entry *e = sc_index_lookup(c, key, len, hash);

	if (sc_unlikely(e == SC_INDEX_RETRY)) {
		sc_cache_lock(c);
		e = __sc_index_find_locked(c, key, len, hash);
		sc_cache_unlock(c);
	}
	return e;
}

/* Find handle @key; as sc_cache_lookup(). */
static inline struct sc_entry *sc_cache_lookup_handle(struct sc_cache *c,
						      sc_key_t key)
{
	struct sc_entry *e = sc_handle_lookup_rcu(c, key);

	if (sc_unlikely(e == SC_LOOKUP_RETRY)) {
		sc_cache_lock(c);
		e = sc_handle_lookup(c, key);
		sc_cache_unlock(c);
	}
	return e;
}

/*
 * Take a counted reference on an entry found without the lock, unless the
 * cache has already dropped it and no pin is left (a count of 0: it is
 * leaving, as if not found).
 * Return: 0, -ENOENT, or -EOVERFLOW.
 */
static inline int sc_entry_tryget(struct sc_entry *e)
{
	unsigned int refs =
		atomic_load_explicit(&e->refs, memory_order_relaxed);

	do {
		if (!(refs & SC_REFS_COUNT))
			return -ENOENT;
		if ((refs & SC_REFS_COUNT) >= SC_REFS_MAX)
			return -EOVERFLOW;
	} while (!atomic_compare_exchange_weak_explicit(
		&e->refs, &refs, refs + 1, memory_order_acquire,
		memory_order_relaxed));
	return 0;
}

/*
 * Pin an entry found without the lock: in a free slot of this thread's
 * set, else counted. The slot is stored and refs loaded sequentially
 * consistent (core/pin.h): a drop that set SC_REFS_DROPPED before the
 * load either saw the slot, and made it counted, or did not, and the slot
 * is taken back: the entry is leaving, as if not found.
 * Context: inside the read-side section that found @e.
 * Return: 0, -ENOENT, or -EOVERFLOW.
 */
static inline int sc_entry_pin(struct sc_entry *e)
{
	struct sc_pin_set *s = sc_pin_self;
	uintptr_t want = (uintptr_t)e;
	unsigned int i, refs;

	if (sc_unlikely(!s))
		s = sc_pin_set_take();
	if (sc_likely(s && s != SC_PIN_NO_SET)) {
		for (i = 0; i < SC_PIN_SLOTS; i++) {
			if (atomic_load_explicit(&s->slot[i],
						 memory_order_relaxed))
				continue;
			atomic_store_explicit(&s->slot[i], want,
					      memory_order_seq_cst);
			refs = atomic_load_explicit(&e->refs,
						    memory_order_seq_cst);
			if (sc_likely(!(refs & SC_REFS_DROPPED))) {
				sc_pin_held++;
				return 0;
			}
			if (atomic_compare_exchange_strong_explicit(
				    &s->slot[i], &want, 0, memory_order_relaxed,
				    memory_order_relaxed))
				return -ENOENT;
			/* made counted meanwhile: the drop counts this pin */
			sc_pin_held++;
			return 0;
		}
	}
	return sc_entry_tryget(e);
}

SC_API void *sc_cache_find(struct sc_cache *c, const char *key)
{
	struct sc_hitlog *l;
	struct sc_entry *e;
	uint64_t hash;
	size_t len;
	void *v = NULL;

	if (!c || sc_key_check(key, &len))
		return sc_err_ptr(-EINVAL);
	hash = sc_key_hash(c->seed, key, len);
	l = sc_hitlog_get(c);
	sc_rcu_read_lock();
	e = sc_cache_lookup(c, key, len, hash);
	if (e) {
		v = e->value;
		sc_cache_hit(c, l, e);
	} else {
		sc_cache_miss(c, l);
	}
	sc_rcu_read_unlock();
	return v ? v : sc_err_ptr(-ENOENT);
}

SC_API bool sc_cache_contains(const struct sc_cache *c, const char *key)
{
	struct sc_cache *cc = (struct sc_cache *)c;
	uint64_t hash;
	size_t len;
	bool found;

	if (!c || sc_key_check(key, &len))
		return false;
	hash = sc_key_hash(c->seed, key, len);
	sc_rcu_read_lock();
	found = sc_cache_lookup(cc, key, len, hash) != NULL;
	sc_rcu_read_unlock();
	return found;
}

SC_API int sc_cache_remove(struct sc_cache *c, const char *key)
{
	struct sc_write w;
	struct sc_entry *e;
	uint64_t hash;
	size_t len, pos;

	if (!c || sc_key_check(key, &len))
		return sc_err(-EINVAL);
	hash = sc_key_hash(c->seed, key, len);
	sc_write_begin(c, &w);
	e = __sc_index_find_pos_locked(c, key, len, hash, &pos);
	if (e) {
		/* as __sc_entry_remove_locked(), from the slot just found */
		__sc_queue_del_locked(c, e);
		__sc_index_del_at_locked(c, pos);
		c->count--;
		c->total_cost -= sc_entry_cost_of(e);
		__sc_entry_drop_locked(c, e, &w.col);
		c->removes++;
	}
	sc_write_end(c, &w);
	if (!e)
		return sc_err(-ENOENT);
	return 0;
}

/* What a get looks up: a string key, or a handle. */
struct sc_lookup {
	const char *key;
	size_t len;
	uint64_t hash;
	sc_key_t handle;
	bool is_handle;
};

static inline struct sc_entry *sc_lookup_entry(struct sc_cache *c,
					       const struct sc_lookup *k)
{
	return k->is_handle ? sc_cache_lookup_handle(c, k->handle) :
			      sc_cache_lookup(c, k->key, k->len, k->hash);
}

/*
 * Writers kept dropping what the lookups found: pin under the lock, where
 * a linked entry always holds the cache's reference.
 * Return: 0 and the entry in *@ep, -ENOENT or -EOVERFLOW.
 */
static int sc_cache_pin_locked_path(struct sc_cache *c,
				    const struct sc_lookup *k,
				    struct sc_entry **ep)
{
	struct sc_entry *e;
	int err = -ENOENT;

	sc_cache_lock(c);
	e = k->is_handle ? sc_handle_lookup(c, k->handle) :
			   __sc_index_find_locked(c, k->key, k->len, k->hash);
	if (e && (atomic_load_explicit(&e->refs, memory_order_relaxed) &
		  SC_REFS_COUNT) >= SC_REFS_MAX) {
		e = NULL;
		err = -EOVERFLOW;
	} else if (e) {
		atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
		c->hits++;
		__sc_queue_touch_locked(c, e);
	} else {
		c->misses++;
	}
	sc_cache_unlock(c);
	*ep = e;
	return e ? 0 : err;
}

/*
 * get and get_key. An entry whose count is 0 has been dropped since the
 * lookup read its slot; if a replace put a new entry under the same key,
 * the key never left, so look again rather than report a miss.
 * Context: inside a read-side section.
 * Return: 0 and the entry in *@ep, -ENOENT or -EOVERFLOW.
 */
static inline __attribute__((always_inline)) int
sc_cache_pin(struct sc_cache *c, struct sc_hitlog *l, const struct sc_lookup *k,
	     struct sc_entry **ep)
{
	unsigned int tries;

	for (tries = 0; tries < 4; tries++) {
		struct sc_entry *e = sc_lookup_entry(c, k);
		int err;

		if (!e) {
			sc_cache_miss(c, l);
			return -ENOENT;
		}
		err = sc_entry_pin(e);
		if (!err) {
			sc_cache_hit(c, l, e);
			*ep = e;
			return 0;
		}
		if (err == -EOVERFLOW)
			return err;
	}
	return sc_cache_pin_locked_path(c, k, ep);
}

SC_API struct sc_entry *sc_cache_get(struct sc_cache *c, const char *key)
{
	struct sc_lookup k = { .key = key };
	struct sc_hitlog *l;
	struct sc_entry *e;
	int err;

	if (!c || sc_key_check(key, &k.len))
		return sc_err_ptr(-EINVAL);
	k.hash = sc_key_hash(c->seed, key, k.len);
	l = sc_hitlog_get(c);
	sc_rcu_read_lock();
	err = sc_cache_pin(c, l, &k, &e);
	sc_rcu_read_unlock();
	return err ? sc_err_ptr(err) : e;
}

/* ------------------------------------------------------------ handle keys */

SC_API sc_key_t sc_cache_add(struct sc_cache *c, void *value, size_t cost)
{
	struct sc_write w;
	struct sc_entry *e;
	size_t sum;
	sc_key_t key;
	bool multi;
	int err;

	if (!c) {
		sc_err(-EINVAL);
		return SC_KEY_NONE;
	}
	if (!value) {
		sc_cache_insert_failed(c, -EINVAL);
		return SC_KEY_NONE;
	}
	e = sc_entry_new(c, NULL, 0, value, cost);
	if (!e) {
		sc_cache_insert_failed(c, -ENOMEM);
		return SC_KEY_NONE;
	}

	sc_write_begin(c, &w);
	if (cost > c->limit) {
		err = -EFBIG;
		goto err_unlock;
	}
	if (!sc_size_add(c->total_cost, cost, &sum)) {
		err = -EOVERFLOW;
		goto err_unlock;
	}
	err = __sc_handle_reserve_locked(c);
	if (err)
		goto err_unlock;

	/* commit; the new handle and its victims change as one */
	multi = sum > c->limit;
	if (multi)
		__sc_cache_multi_begin_locked(c);
	/* the policy's flags before the handle publishes @e */
	atomic_store_explicit(&e->flags,
			      sc_entry_flags(e) |
				      __sc_queue_admit_handle_locked(c, cost),
			      memory_order_relaxed);
	key = __sc_handle_take_locked(c, e);
	/* room first (cost <= limit), so the new entry is never a victim */
	c->evictions += __sc_cache_evict_locked(c, c->limit - cost, &w.col);
	__sc_entry_link_locked(c, e);
	c->inserts++;
	w.stored = true;
	if (multi)
		sc_write_end_multi(c, &w);
	else
		sc_write_end(c, &w);
	return key;

err_unlock:
	c->insert_failures++;
	sc_write_end(c, &w);
	sc_entry_free(c, e);
	sc_err(err);
	return SC_KEY_NONE;
}

SC_API void *sc_cache_find_key(struct sc_cache *c, sc_key_t key)
{
	struct sc_hitlog *l;
	struct sc_entry *e;
	void *v = NULL;

	if (!c)
		return sc_err_ptr(-EINVAL);
	l = sc_hitlog_get(c);
	sc_rcu_read_lock();
	e = sc_cache_lookup_handle(c, key);
	if (e) {
		v = e->value;
		sc_cache_hit(c, l, e);
	} else {
		sc_cache_miss(c, l);
	}
	sc_rcu_read_unlock();
	return v ? v : sc_err_ptr(-ENOENT);
}

SC_API int sc_cache_replace(struct sc_cache *c, sc_key_t key, void *value,
			    size_t cost)
{
	struct sc_write w;
	struct sc_entry *e, *old;
	size_t sum;
	bool multi;
	int err;

	if (!c)
		return sc_err(-EINVAL);
	if (!value)
		return sc_cache_insert_failed(c, -EINVAL);
	e = sc_entry_new(c, NULL, 0, value, cost);
	if (!e)
		return sc_cache_insert_failed(c, -ENOMEM);

	sc_write_begin(c, &w);
	old = sc_handle_lookup(c, key);
	if (!old) {
		err = -ENOENT;
		goto err_unlock;
	}
	if (cost > c->limit) {
		/* as QPixmapCache: the entry goes, the handle is invalid */
		__sc_entry_remove_locked(c, old, &w.col);
		err = -EFBIG;
		goto err_unlock;
	}
	if (!sc_size_add(c->total_cost - sc_entry_cost_of(old), cost, &sum)) {
		err = -EOVERFLOW;
		goto err_unlock;
	}

	/* commit: the new entry takes the slot; the handle stays valid */
	/* the new value and its victims change as one */
	multi = sum > c->limit;
	if (multi)
		__sc_cache_multi_begin_locked(c);
	/* S3-FIFO: its queue and frequency, before the slot publishes it */
	atomic_store_explicit(&e->flags,
			      sc_entry_flags(e) |
				      (sc_entry_flags(old) &
				       (SC_ENTRY_MAIN | SC_ENTRY_FREQ)),
			      memory_order_relaxed);
	__sc_handle_set_locked(c, sc_entry_slot(old), e);
	__sc_queue_del_locked(c, old);
	c->count--;
	c->total_cost -= sc_entry_cost_of(old);
	__sc_entry_drop_locked(c, old, &w.col);
	/* room first (cost <= limit), so the new entry is never a victim */
	c->evictions += __sc_cache_evict_locked(c, c->limit - cost, &w.col);
	__sc_entry_link_locked(c, e);
	c->replaces++;
	w.stored = true;
	if (multi)
		sc_write_end_multi(c, &w);
	else
		sc_write_end(c, &w);
	return 0;

err_unlock:
	c->insert_failures++;
	sc_write_end(c, &w);
	sc_entry_free(c, e);
	return sc_err(err);
}

SC_API int sc_cache_remove_key(struct sc_cache *c, sc_key_t key)
{
	struct sc_write w;
	struct sc_entry *e;

	if (!c)
		return sc_err(-EINVAL);
	sc_write_begin(c, &w);
	e = sc_handle_lookup(c, key);
	if (e) {
		__sc_entry_remove_locked(c, e, &w.col);
		c->removes++;
	}
	sc_write_end(c, &w);
	if (!e)
		return sc_err(-ENOENT);
	return 0;
}

SC_API bool sc_cache_key_valid(const struct sc_cache *c, sc_key_t key)
{
	bool valid;

	if (!c)
		return false;
	sc_rcu_read_lock();
	valid = sc_cache_lookup_handle((struct sc_cache *)c, key) != NULL;
	sc_rcu_read_unlock();
	return valid;
}

SC_API struct sc_entry *sc_cache_get_key(struct sc_cache *c, sc_key_t key)
{
	struct sc_lookup k = { .handle = key, .is_handle = true };
	struct sc_hitlog *l;
	struct sc_entry *e;
	int err;

	if (!c)
		return sc_err_ptr(-EINVAL);
	l = sc_hitlog_get(c);
	sc_rcu_read_lock();
	err = sc_cache_pin(c, l, &k, &e);
	sc_rcu_read_unlock();
	return err ? sc_err_ptr(err) : e;
}

/* ------------------------------------------------------------- pinning */

SC_API void *sc_entry_value(const struct sc_entry *e)
{
	return e ? e->value : NULL;
}

SC_API size_t sc_entry_cost(const struct sc_entry *e)
{
	return e ? sc_entry_cost_of(e) : 0;
}

void sc_entry_put_counted(struct sc_entry *e)
{
	struct sc_cache *c;
	bool last;

	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) !=
	    (SC_REFS_DROPPED | 1))
		return;
	/*
	 * The cache dropped its reference before us, so the entry is
	 * unlinked and owner is set (ordered by the acq_rel decrements).
	 * c->pinned still counts it: the cache and its slabs stay alive.
	 */
	c = sc_entry_owner(e);
	if (c->release)
		c->release(e->value, c->priv);
	*sc_entry_collect_link(e) = NULL;
	sc_limbo_push(c, e, sc_entry_collect_link(e));
	sc_cache_lock(c);
	c->pinned--;
	last = c->dead && !c->pinned;
	sc_cache_unlock(c);
	if (last)
		sc_cache_free(c);
}

/*
 * A slot of this thread's set first: the exchange, not a plain store,
 * because a drop may be making the slot counted at the same moment.
 * Else a slot of any thread (the pin was got there), else a counted pin.
 */
SC_API void sc_entry_put(struct sc_entry *e)
{
	struct sc_pin_set *s = sc_pin_self;
	uintptr_t want = (uintptr_t)e;
	unsigned int i;
	int taken;

	if (!e)
		return;
	if (sc_likely(s && s != SC_PIN_NO_SET)) {
		for (i = 0; i < SC_PIN_SLOTS; i++) {
			uintptr_t v = atomic_load_explicit(
				&s->slot[i], memory_order_relaxed);

			if ((v & ~SC_PIN_COUNTED) != want)
				continue;
			v = atomic_exchange_explicit(&s->slot[i], 0,
						     memory_order_acq_rel);
			sc_pin_held--;
			if (sc_likely(v == want))
				return;
			if (v)
				goto counted;
			/* taken by a put on another thread: look on */
		}
	}
	taken = sc_pin_take_any(e);
	if (taken == 1)
		return;
counted:
	sc_entry_put_counted(e);
}

/* ---------------------------------------------------- limit, accounting */

SC_API int sc_cache_set_limit(struct sc_cache *c, size_t limit)
{
	struct sc_write w;
	struct sc_ghost *ghost = NULL;

	if (!c)
		return sc_err(-EINVAL);
	sc_write_begin(c, &w);
	c->limit = limit;
	__sc_queue_set_limit_locked(c);
	if (c->count)
		__sc_cache_multi_begin_locked(c);
	/* 0 evicts everything, zero-cost entries too (rule 9) */
	if (!limit)
		c->evictions += __sc_cache_evict_all_locked(c, &w.col, &ghost);
	else
		c->evictions += __sc_cache_evict_locked(c, limit, &w.col);
	sc_write_end_multi(c, &w);
	sc_ghost_free(ghost);
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
	struct sc_write w;

	if (!c)
		return;
	sc_write_begin(c, &w);
	__sc_cache_clear_locked(c, &w.col);
	/* clearing is how a program gives a cache's memory back: now */
	w.flush = true;
	sc_write_end(c, &w);
}

SC_API unsigned long sc_cache_shrink(struct sc_cache *c,
				     unsigned long nr_to_scan)
{
	struct sc_write w;
	unsigned long n;

	if (!c)
		return 0;
	sc_write_begin(c, &w);
	if (nr_to_scan && c->count)
		__sc_cache_multi_begin_locked(c);
	n = __sc_cache_evict_nr_locked(c, nr_to_scan, &w.col);
	c->shrunk += n;
	if (n)
		__sc_index_trim_locked(c);
	sc_write_end_multi(c, &w);
	return n;
}

SC_API unsigned long sc_cache_age(struct sc_cache *c)
{
	struct sc_write w;
	unsigned long n;

	if (!c)
		return 0;
	/* a daemon's idle timer: also the time to free what waited */
	sc_write_begin_reap(c, &w, true);
	if (c->count)
		__sc_cache_multi_begin_locked(c);
	if (c->age_cost == c->total_cost) {
		/* idle since the last step: down to 3/4, at least one */
		n = __sc_cache_evict_locked(
			c, c->total_cost / 4 * 3 + c->total_cost % 4 * 3 / 4,
			&w.col);
		if (!n)
			n = __sc_cache_evict_nr_locked(c, 1, &w.col);
	} else {
		n = __sc_cache_evict_nr_locked(c, 1, &w.col);
	}
	c->evictions += n;
	c->age_cost = c->total_cost;
	sc_write_end_multi(c, &w);
	return n;
}

SC_API int sc_cache_stats(const struct sc_cache *c, struct sc_cache_stats *st)
{
	struct sc_key_table *k;
	unsigned long long hits, misses;

	if (!c || !st)
		return sc_err(-EINVAL);
	sc_cache_lock(c);
	__sc_hitlog_counts_locked((struct sc_cache *)c, &hits, &misses);
	k = atomic_load_explicit(&((struct sc_cache *)c)->keys,
				 memory_order_relaxed);
	*st = (struct sc_cache_stats){
		.hits = hits,
		.misses = misses,
		.inserts = c->inserts,
		.replaces = c->replaces,
		.removes = c->removes,
		.evictions = c->evictions,
		.shrunk = c->shrunk,
		.insert_failures = c->insert_failures,
		.count = c->count,
		.total_cost = c->total_cost,
		.limit = c->limit,
		.key_slots = k ? k->cap : 0,
		.pinned = c->pinned,
	};
	sc_cache_unlock(c);
	return 0;
}

SC_API size_t sc_cache_memory(const struct sc_cache *c)
{
	struct sc_cache *cc = (struct sc_cache *)c;
	struct sc_slab_info info;
	struct sc_index_table *t;
	struct sc_key_table *k;
	size_t bytes;
	unsigned int i;

	if (!c)
		return 0;
	sc_cache_lock(c);
	t = atomic_load_explicit(&cc->index, memory_order_relaxed);
	k = atomic_load_explicit(&cc->keys, memory_order_relaxed);
	bytes = sizeof(*c) + (t ? sc_index_bytes(t->cap) : 0) +
		(k ? sc_handle_table_bytes(k->cap) : 0) +
		__sc_hitlog_bytes_locked(cc) +
		__sc_queue_ghost_bytes_locked(cc);
	for (i = 0; i < SC_NR_SLABS; i++) {
		if (!sc_slab_info(sc_cache_slab(cc, i), &info))
			bytes += info.slabs * info.slab_size;
	}
	sc_cache_unlock(c);
	return bytes;
}

SC_API size_t sc_cache_entry_memory_cost(const struct sc_cache *c,
					 size_t key_len, size_t cost)
{
	unsigned int cls;
	size_t bytes;

	if (!c || key_len > SC_KEY_MAX_LEN)
		return 0;
	/*
	 * Slab caches are made at create time and live as long as @c. The
	 * entry's node adds what it takes outside the entry's slab object.
	 */
	cls = sc_entry_class_for(sc_entry_need(!key_len, key_len, cost));
	bytes = sc_slab_slot_size(c->entry_slabs[cls]) + sc_entry_node_bytes();
	if (key_len > SC_KEY_INLINE_MAX)
		bytes += sc_slab_slot_size(c->key_slabs[sc_key_class(key_len)]);
	/* a handle's key array slot; a string key's index slots at load 1/2 */
	if (!key_len)
		bytes += sizeof(struct sc_key_slot);
	else
		bytes += 2 * sizeof(uint64_t);
	/* S3-FIFO's ghost: 0.5 x (4 + 1/16) bytes per entry of a full cache */
	if (sc_cache_s3fifo(c))
		bytes += 2;
	return bytes;
}

SC_API size_t sc_cache_entry_memory(const struct sc_cache *c, size_t key_len)
{
	return sc_cache_entry_memory_cost(c, key_len, 1);
}

uint64_t sc_cache_hash_seed(const struct sc_cache *c)
{
	return c->seed;
}

int sc_cache_set_hash_seed(struct sc_cache *c, uint64_t seed)
{
	int ret = 0;

	sc_cache_lock(c);
	if (c->count || c->nr_strings || c->pinned)
		ret = -EBUSY;
	else
		c->seed = seed;
	sc_cache_unlock(c);
	return ret;
}
