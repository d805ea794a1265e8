// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The eviction order: one circular doubly-linked list intrusive in the
 * entries, under the cache lock, and the per-thread hit logs that lookups
 * write instead of taking that lock.
 *
 * LRU. head->next is the most recently used. Exact LRU order, as QCache:
 * the default, because QPixmapCache/QCache semantics (and the tests ported
 * from Qt) depend on it.
 *
 * SIEVE (SC_CACHE_POLICY_SIEVE; Zhang et al., NSDI '24). The same list
 * holds insertion order instead: head->next is the newest entry, and a hit
 * only sets SC_ENTRY_VISITED in the entry's flags (once: an entry already
 * visited is not written again), so a hit writes neither list neighbour.
 * c->hand is the next entry eviction looks at (NULL: the oldest). It moves
 * from the oldest end towards the newest, clearing visited bits, and evicts
 * the first entry not visited; past the newest it wraps to the oldest. It
 * persists between evictions; unlinking the entry it points at moves it
 * one step on, so it never points at an entry that has left. Every
 * eviction path (limit, set_limit, shrink, shrinkers, age) takes its victim
 * from __sc_queue_victim_locked(), so all of them follow the hand; clear
 * and destroy release oldest first. Inserting over an existing key, and
 * replace, put the new value at the newest end, not visited: it is a new
 * entry. Lookups set the visited bit with an atomic or, without the lock;
 * the hand clears it with an atomic and: neither update can be lost, and a
 * hit that returned before an eviction started is seen by it.
 *
 * S3-FIFO (SC_CACHE_POLICY_S3FIFO; Yang et al., SOSP '23, with costs, as
 * Documentation/policy.rst specifies it step by step). Two FIFO queues
 * through the same links: S (small, c->lru, a share of the limit that
 * starts at a tenth and adapts, c->small_target) and M (main, c->main,
 * the rest), each with its new end at head->next; SC_ENTRY_MAIN says
 * which, c->small_cost and c->main_cost are their costs. A hit adds one
 * to the entry's 3-bit frequency (SC_ENTRY_FREQ), with a
 * compare-and-swap and no write at 7, and moves nothing. Eviction
 * (__sc_s3fifo_victim_locked()): from M when M holds more than its share
 * or S is empty, else from S. S's oldest entry goes to M's new end with
 * frequency 0 when it was hit twice or more, else it is the victim. M's
 * oldest goes back to M's new end with one hit less until one with none
 * is found. A victim's key goes to the ghost (core/ghost.c) tagged with
 * the queue it left (the caller adds it, as it hashes the key anyway to
 * unlink it from the index). New keys enter S, or M when the ghost
 * remembers them, and then S's share moves towards the queue the key
 * had left (__sc_queue_adapt_locked()); a new key above a tenth of the
 * limit that the ghost does not know is refused (SC_CACHE_NOT_ADMITTED)
 * and remembered. The lock holder lowers frequencies with an atomic
 * subtract and moves entries to M with a compare-and-swap, so a lookup's
 * increment is never lost; a hit that returned before an eviction began
 * is seen by it (Documentation/concurrency.rst).
 *
 * Hit logs (LRU). A hit must move its entry to the front, which writes the
 * entry and both its neighbours: lines that every thread's hits share.
 * Instead, each thread appends its hits to a log of its own per cache
 * (struct sc_hitlog: chunks of SC_HITLOG_CHUNK entries), and whoever holds
 * the cache lock applies every log before anything reads or changes the
 * order: every operation that inserts, evicts or unlinks starts with
 * __sc_queue_sync_locked(), except an insert that chooses no victims
 * while another thread's log holds hits, which records where each log
 * stands and is linked at the next drain, after the hits before that
 * place and before the later ones (__sc_queue_defer_add_locked()): the
 * same order. The
 * guarantee (Documentation/concurrency.rst):
 *  - one thread alone sees exact LRU: its hits are applied in its order
 *    before its next insert, as if each had moved its entry at once;
 *  - a hit that returned before an insert (or any eviction) started is
 *    applied before that insert chooses victims, and no hit is dropped;
 *  - hits of different threads that are pending together are applied log
 *    by log, each log in its thread's order, the logs in the order their
 *    pending hits began: a thread whose hits all returned before another
 *    thread's began comes first. Hits of threads running at the same time
 *    are not ordered hit by hit across threads (that would take a clock
 *    read on every hit: see Documentation/concurrency.rst).
 * Applied together, the hits also run faster: the neighbours of entries a
 * few places ahead are prefetched while the current one moves, so the
 * misses overlap instead of each waiting under the lock.
 *
 * Lazily applied hits (LRU). Moving a drained hit's entry writes its links,
 * its neighbours' and the old first entry's: lines that the other threads'
 * lookups read for the key compare, so with two threads each move costs
 * the other core a line transfer on its lookup path. Once a second thread
 * logs hits (c->logs_shared), and while the cache holds fewer than
 * SC_DIRTY_MAX entries, the drain moves nothing: it records each hit, in
 * the drain's order, in a set of the cache's own (each
 * entry once, stamped with a per-cache sequence number at its last hit;
 * memory that no lookup reads). Anything that reads or changes the order
 * applies the set first (__sc_dirty_apply_locked(): the entries sorted by
 * stamp, moved to the front in that order): the victim and the oldest
 * entry, clear, and a hit applied at once under the lock (which joins the
 * set instead). Moves to the front leave the entries moved at the front,
 * each once, newest last move first, the others behind in their old
 * order, so the list is then exactly what today's moves at each drain
 * would have made. An insert with hits pending joins the set with the next
 * stamp: newer than every pending hit, older than the hits drained after
 * it. An entry that leaves the list leaves the set (its memory goes back
 * through the limbo, and a later entry at its address must not inherit
 * its place). A full set, or one whose 32-bit stamps ran out, is applied
 * and started over; without memory for one, hits move at once, as with
 * one thread: no hit is lost either way.
 * A log with a backlog of a chunk and a half (SC_HITLOG_LAZY_BACKLOG while
 * the order is lazy) drains itself, and the logs whose runs began before
 * its own, if the lock is
 * free (a thread that only reads still gets its hits applied); if not, it
 * goes on into a further chunk, so a reader never waits for a lock holder
 * that was preempted, up to SC_HITLOG_MAX_CHUNKS (524,288 pending hits);
 * beyond that (or without memory for a chunk) it waits for the lock and
 * drains. The next drain takes all its chunks, and hands each finished
 * one back on the log's stack, where the thread takes it again: a log
 * allocates only while its backlog grows past what it has held before,
 * and keeps at most SC_HITLOG_KEEP_CHUNKS.
 *
 * A log's entry pointers are safe to follow at the drain: the hit was
 * appended inside the read-side section that found the entry, and the
 * cache frees an entry it dropped only after a grace period and a drain
 * of every log (core/cache.c, "Deferred frees"). Entries that left the
 * cache meanwhile carry SC_ENTRY_UNLINKED and are skipped.
 *
 * Lifetime of a log: made at a thread's first lookup on a cache, linked
 * on c->logs, reached through the thread's table of logs indexed by
 * c->tls_idx (an index unique among live caches, checked against
 * c->serial). The thread and the cache each let go of it (thread exit,
 * cache freed): whichever comes second frees it. A cache frees the logs
 * of threads that have exited when it drains them.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "core/ghost.h"
#include "core/index.h"
#include "core/queue.h"
#include "core/rcu.h"

/* how many entries ahead a drain prefetches the neighbours */
#define SC_TOUCH_PREFETCH 12

__thread struct sc_thread_logs sc_thread_logs;

static pthread_key_t sc_hitlog_key;
static pthread_once_t sc_hitlog_once = PTHREAD_ONCE_INIT;
static bool sc_hitlog_key_ok;

/* --------------------------------------------------------------- list */

static inline void sc_lru_del(struct sc_entry *e)
{
	struct sc_lru *l = sc_entry_lru(e);

	l->prev->next = l->next;
	l->next->prev = l->prev;
}

/* Link @e at the new end of the list at @head. */
static inline void sc_list_add(struct sc_lru *head, struct sc_entry *e)
{
	struct sc_lru *l = sc_entry_lru(e);

	l->next = head->next;
	l->prev = head;
	head->next->prev = l;
	head->next = l;
}

static inline void sc_lru_add_mru(struct sc_cache *c, struct sc_entry *e)
{
	sc_list_add(&c->lru, e);
}

static inline void sc_lru_move_mru(struct sc_cache *c, struct sc_entry *e)
{
	if (c->lru.next == sc_entry_lru(e))
		return;
	sc_lru_del(e);
	sc_lru_add_mru(c, e);
}

/* The neighbours' links, which moving @e writes (wherever they live). */
static inline void sc_lru_prefetch_neighbours(const struct sc_entry *e)
{
	const struct sc_lru *l = sc_entry_lru(e);

	__builtin_prefetch(l->prev, 1);
	__builtin_prefetch(l->next, 1);
}

/* Move @n entries to the front in order, their misses overlapped. */
static inline __attribute__((always_inline)) void
__sc_lru_apply_locked(struct sc_cache *c, struct sc_entry **hits,
		      unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n && i < SC_TOUCH_PREFETCH; i++)
		sc_lru_prefetch_neighbours(hits[i]);
	for (i = 0; i < n; i++) {
		if (i + SC_TOUCH_PREFETCH < n)
			sc_lru_prefetch_neighbours(hits[i + SC_TOUCH_PREFETCH]);
		sc_lru_move_mru(c, hits[i]);
	}
}

/* ------------------------------------------------- lazily applied hits */

/*
 * Capacity: every entry of the cache and a quarter more, at least
 * SC_DIRTY_MIN, at most SC_DIRTY_MAX elements (24 bytes each with the
 * hash: 384 KiB). A set smaller than the cache saves few moves (under
 * uniform hits, one of half the cache's entries fills after 0.69 hits
 * per entry: 0.72 moves per hit against 1), so a cache of more entries
 * moves at once instead. The ceiling keeps the set in a core's L2 next
 * to the entries: a set of 100k entries (3 MiB) cost a lookup that hit
 * 0.7 more simulated LL misses than the move it replaced (callgrind,
 * 2M find-hits) and measured slower with two threads too; and in such
 * caches the other core holds few of the lines a move writes (find-hit
 * at 1M entries scales with moves).
 */
#define SC_DIRTY_MIN 64u
/* an element: its entry, its stamp, its hash slot (three arrays) */
#define SC_DIRTY_ELEM (sizeof(struct sc_entry *) + 2 * sizeof(uint32_t))

static inline size_t sc_dirty_bytes(uint32_t cap)
{
	return cap ? (size_t)cap * SC_DIRTY_ELEM +
			       (size_t)cap * 2 * sizeof(uint32_t) :
		     0;
}

/* Lazy once a second thread logs hits, and while the set can hold all. */
static inline bool __sc_lru_lazy_locked(const struct sc_cache *c)
{
	return atomic_load_explicit(&((struct sc_cache *)c)->logs_shared,
				    memory_order_relaxed) &&
	       c->count < SC_DIRTY_MAX;
}

static inline uint32_t sc_dirty_want(const struct sc_cache *c)
{
	size_t n = c->count + c->count / 4, cap = SC_DIRTY_MIN;

	while (cap < n && cap < SC_DIRTY_MAX)
		cap *= 2;
	return (uint32_t)cap;
}

/* Context: cache lock held, or the cache is being freed. */
static void sc_dirty_free(struct sc_cache *c)
{
	if (!c->dirty_cap)
		return;
	sc_mem_free(c->dirty, (size_t)c->dirty_cap * SC_DIRTY_ELEM);
	sc_mem_free(c->dirty_hash,
		    (size_t)c->dirty_cap * 2 * sizeof(*c->dirty_hash));
	c->dirty = NULL;
	c->dirty_stamp = c->dirty_slot = NULL;
	c->dirty_hash = NULL;
	c->nr_dirty = c->dirty_cap = c->dirty_mask = 0;
}

static void __sc_dirty_free_locked(struct sc_cache *c)
{
	sc_cache_assert_locked(c);
	sc_dirty_free(c);
}

/*
 * An empty set of @cap elements in place of the current one (empty too).
 * Return: false if it could not be allocated; the current one stays.
 */
static bool __sc_dirty_resize_locked(struct sc_cache *c, uint32_t cap)
{
	struct sc_entry **d;
	uint32_t *h;

	sc_cache_assert_locked(c);
	d = sc_mem_alloc((size_t)cap * SC_DIRTY_ELEM);
	if (!d)
		return false;
	h = sc_mem_zalloc((size_t)cap * 2 * sizeof(*h));
	if (!h) {
		sc_mem_free(d, (size_t)cap * SC_DIRTY_ELEM);
		return false;
	}
	__sc_dirty_free_locked(c);
	c->dirty = d;
	c->dirty_stamp = (uint32_t *)(d + cap);
	c->dirty_slot = c->dirty_stamp + cap;
	c->dirty_hash = h;
	c->dirty_cap = cap;
	c->dirty_mask = cap * 2 - 1;
	return true;
}

/* The entries and their stamps, sorted together. */
struct sc_dirty_sort {
	struct sc_entry **e;
	uint32_t *stamp;
};

static inline void sc_dirty_swap(const struct sc_dirty_sort *d, size_t a,
				 size_t b)
{
	struct sc_entry *e = d->e[a];
	uint32_t s = d->stamp[a];

	d->e[a] = d->e[b];
	d->stamp[a] = d->stamp[b];
	d->e[b] = e;
	d->stamp[b] = s;
}

static void sc_dirty_sift(const struct sc_dirty_sort *d, size_t i, size_t n)
{
	size_t k;

	while ((k = 2 * i + 1) < n) {
		if (k + 1 < n && d->stamp[k + 1] > d->stamp[k])
			k++;
		if (d->stamp[i] >= d->stamp[k])
			return;
		sc_dirty_swap(d, i, k);
		i = k;
	}
}

/*
 * Sort by stamp (all distinct): quicksort on the median of three, the
 * smaller side first, insertion sort below 16, heapsort past a depth of
 * twice log2(n). In place: an apply must not need memory.
 */
static void sc_dirty_sort(struct sc_dirty_sort d, size_t n, unsigned int depth)
{
	size_t i, j;

	while (n > 16) {
		uint32_t p;

		if (!depth--) {
			for (i = n / 2; i--;)
				sc_dirty_sift(&d, i, n);
			for (i = n; --i;) {
				sc_dirty_swap(&d, 0, i);
				sc_dirty_sift(&d, 0, i);
			}
			return;
		}
		/* d[0] < d[n/2] < d[n - 1]: sentinels for both scans */
		if (d.stamp[n / 2] < d.stamp[0])
			sc_dirty_swap(&d, n / 2, 0);
		if (d.stamp[n - 1] < d.stamp[n / 2]) {
			sc_dirty_swap(&d, n - 1, n / 2);
			if (d.stamp[n / 2] < d.stamp[0])
				sc_dirty_swap(&d, n / 2, 0);
		}
		p = d.stamp[n / 2];
		for (i = (size_t)-1, j = n;;) {
			do
				i++;
			while (d.stamp[i] < p);
			do
				j--;
			while (d.stamp[j] > p);
			if (i >= j)
				break;
			sc_dirty_swap(&d, i, j);
		}
		/* [0, j] and [j + 1, n): neither empty, stamps being distinct */
		if (j + 1 < n - j - 1) {
			sc_dirty_sort(d, j + 1, depth);
			d.e += j + 1;
			d.stamp += j + 1;
			n -= j + 1;
		} else {
			sc_dirty_sort((struct sc_dirty_sort){ d.e + j + 1,
							      d.stamp + j + 1 },
				      n - j - 1, depth);
			n = j + 1;
		}
	}
	for (i = 1; i < n; i++) {
		struct sc_entry *e = d.e[i];
		uint32_t t = d.stamp[i];

		for (j = i; j && d.stamp[j - 1] > t; j--) {
			d.e[j] = d.e[j - 1];
			d.stamp[j] = d.stamp[j - 1];
		}
		d.e[j] = e;
		d.stamp[j] = t;
	}
}

/*
 * Apply the set: its entries to the front in the order of their last
 * hits, the last one first in the list. The list then is what moving
 * each hit's entry at its drain would have made: after any sequence of
 * moves to the front, the front holds the entries moved, each once, by
 * their last move, newest first, and behind them the others in their old
 * order. Context: cache lock held.
 */
static __attribute__((noinline)) void
__sc_dirty_apply_locked(struct sc_cache *c)
{
	struct sc_entry **d = c->dirty;
	uint32_t n = c->nr_dirty, i, depth = 0;

	sc_cache_assert_locked(c);
	if (!n)
		return;
	for (i = 0; i < n; i++)
		c->dirty_hash[c->dirty_slot[i]] = 0;
	for (i = n; i; i >>= 1)
		depth += 2;
	sc_dirty_sort((struct sc_dirty_sort){ d, c->dirty_stamp }, n, depth);
	for (i = 0; i < n && i < SC_TOUCH_PREFETCH; i++)
		sc_lru_prefetch_neighbours(d[i]);
	for (i = 0; i < n; i++) {
		if (i + SC_TOUCH_PREFETCH < n)
			sc_lru_prefetch_neighbours(d[i + SC_TOUCH_PREFETCH]);
		sc_lru_move_mru(c, d[i]);
	}
	c->nr_dirty = 0;
}

/*
 * Room for one more element: the set applied when it is full or its
 * stamps have run out, and then sized for the cache as it is now.
 */
static void __sc_dirty_make_room_locked(struct sc_cache *c)
{
	uint32_t want;

	if (sc_likely(c->nr_dirty < c->dirty_cap && c->dirty_seq != UINT32_MAX))
		return;
	__sc_dirty_apply_locked(c);
	c->dirty_seq = 0;
	want = sc_dirty_want(c);
	if (want > c->dirty_cap || want < c->dirty_cap / 4)
		__sc_dirty_resize_locked(c, want); /* else keep this one */
}

/* Add @e, not in the set, which has room, at hash slot @i. */
static inline void __sc_dirty_insert_locked(struct sc_cache *c,
					    struct sc_entry *e, uint32_t i)
{
	uint32_t n = c->nr_dirty;

	c->dirty[n] = e;
	c->dirty_stamp[n] = ++c->dirty_seq;
	c->dirty_slot[n] = i;
	c->dirty_hash[i] = ++c->nr_dirty;
}

/* A drained hit on the linked entry @e, recorded. */
static inline void __sc_dirty_note_locked(struct sc_cache *c,
					  struct sc_entry *e)
{
	uint32_t i = sc_dirty_probe(c, e), v = c->dirty_hash[i];

	if (v && sc_likely(c->dirty_seq != UINT32_MAX)) {
		c->dirty_stamp[v - 1] = ++c->dirty_seq;
		return;
	}
	if (sc_unlikely(c->nr_dirty == c->dirty_cap ||
			c->dirty_seq == UINT32_MAX)) {
		__sc_dirty_make_room_locked(c); /* @e is no longer in it */
		i = sc_dirty_probe(c, e);
	}
	__sc_dirty_insert_locked(c, e, i);
}

/*
 * @e leaves the list: out of the set, if it is in it. The hash closes
 * the gap by shifting back (no tombstones), the last element fills the
 * hole in the vector.
 */
static __attribute__((noinline)) void
__sc_dirty_forget_locked(struct sc_cache *c, struct sc_entry *e)
{
	uint32_t i = sc_dirty_probe(c, e), j, v, idx, last;

	v = c->dirty_hash[i];
	if (!v)
		return;
	idx = v - 1;
	for (j = i;;) {
		uint32_t home;

		j = (j + 1) & c->dirty_mask;
		v = c->dirty_hash[j];
		if (!v)
			break;
		home = sc_dirty_home(c, c->dirty[v - 1]);
		/* it may move to i if i lies between its home and j */
		if (((j - home) & c->dirty_mask) >= ((j - i) & c->dirty_mask)) {
			c->dirty_hash[i] = v;
			c->dirty_slot[v - 1] = i;
			i = j;
		}
	}
	c->dirty_hash[i] = 0;
	last = --c->nr_dirty;
	if (idx != last) {
		c->dirty[idx] = c->dirty[last];
		c->dirty_stamp[idx] = c->dirty_stamp[last];
		c->dirty_slot[idx] = c->dirty_slot[last];
		c->dirty_hash[c->dirty_slot[idx]] = idx + 1;
	}
}

/*
 * Link the new entry @e with hits pending: it is newer than all of them,
 * so it joins them with the next stamp (the set applied first if it has
 * no room).
 */
static __attribute__((noinline)) void __sc_dirty_add_locked(struct sc_cache *c,
							    struct sc_entry *e)
{
	__sc_dirty_make_room_locked(c);
	sc_lru_add_mru(c, e);
	if (c->nr_dirty)
		__sc_dirty_insert_locked(c, e, sc_dirty_probe(c, e));
}

/*
 * Hits drained in order, under the lock: recorded in the set while the
 * order is lazy, else (or without memory for a set) moved at once, after
 * whatever the set still holds.
 */
static __attribute__((noinline)) void
__sc_lru_hits_slow_locked(struct sc_cache *c, struct sc_entry **hits,
			  unsigned int n)
{
	unsigned int i;

	if (__sc_lru_lazy_locked(c) &&
	    (c->dirty_cap || __sc_dirty_resize_locked(c, sc_dirty_want(c)))) {
		/*
		 * The slot of a hit a few ahead, then the stamp that its
		 * slot names (the line the other core's drain wrote last):
		 * the misses overlap, as the moves' do.
		 */
		for (i = 0; i < n; i++) {
			uint32_t v;

			if (i + SC_TOUCH_PREFETCH < n)
				__builtin_prefetch(&c->dirty_hash[sc_dirty_home(
					c, hits[i + SC_TOUCH_PREFETCH])]);
			if (i + SC_TOUCH_PREFETCH / 2 < n &&
			    (v = c->dirty_hash[sc_dirty_home(
				     c, hits[i + SC_TOUCH_PREFETCH / 2])]))
				__builtin_prefetch(&c->dirty_stamp[v - 1], 1);
			__sc_dirty_note_locked(c, hits[i]);
		}
		return;
	}
	if (c->dirty_cap) {
		__sc_dirty_apply_locked(c);
		if (!__sc_lru_lazy_locked(c))
			__sc_dirty_free_locked(c);
	}
	__sc_lru_apply_locked(c, hits, n);
}

/* One thread's hits, with no set: moved at once, as few steps as before. */
static inline void __sc_lru_hits_locked(struct sc_cache *c,
					struct sc_entry **hits, unsigned int n)
{
	sc_cache_assert_locked(c);
	if (sc_likely(!c->dirty_cap) && !__sc_lru_lazy_locked(c))
		__sc_lru_apply_locked(c, hits, n);
	else
		__sc_lru_hits_slow_locked(c, hits, n);
}

/* ---------------------------------------------------------- hit logs */

static void sc_hitlog_free_chunk(struct sc_hitlog *l,
				 struct sc_hitlog_chunk *ch)
{
	if (ch == &l->first)
		return;
	atomic_fetch_sub_explicit(&l->nr_chunks, 1, memory_order_relaxed);
	sc_mem_free(ch, sizeof(*ch));
}

/*
 * A chunk the consumer has finished (the thread writes a later one):
 * pushed on the log's stack of finished chunks, for its thread to write
 * again, unless the log holds more than SC_HITLOG_KEEP_CHUNKS (after a
 * long run): then freed. The embedded first chunk is always kept.
 * Consumers hold the cache lock, so one pushes at a time; the thread
 * only takes the whole stack (sc_hitlog_take_chunk()): no ABA.
 * Context: cache lock held.
 */
static void sc_hitlog_recycle(struct sc_hitlog *l, struct sc_hitlog_chunk *ch)
{
	struct sc_hitlog_chunk *top;

	if (ch != &l->first &&
	    atomic_load_explicit(&l->nr_chunks, memory_order_relaxed) >
		    SC_HITLOG_KEEP_CHUNKS) {
		sc_hitlog_free_chunk(l, ch);
		return;
	}
	top = atomic_load_explicit(&l->freed, memory_order_relaxed);
	do
		atomic_store_explicit(&ch->next, top, memory_order_relaxed);
	/* release: the hits were read before the thread writes them again */
	while (!atomic_compare_exchange_weak_explicit(&l->freed, &top, ch,
						      memory_order_release,
						      memory_order_relaxed));
}

/* Free a stack of finished chunks linked through their next. */
static void sc_hitlog_free_stack(struct sc_hitlog *l,
				 struct sc_hitlog_chunk *ch)
{
	struct sc_hitlog_chunk *next;

	for (; ch; ch = next) {
		next = atomic_load_explicit(&ch->next, memory_order_relaxed);
		sc_hitlog_free_chunk(l, ch);
	}
}

static void sc_hitlog_free(struct sc_hitlog *l)
{
	/* the chunks from the consumer's on, then the finished ones */
	sc_hitlog_free_stack(l, l->rchunk);
	sc_hitlog_free_stack(l, atomic_load_explicit(&l->freed,
						     memory_order_acquire));
	sc_hitlog_free_stack(l, l->free_own);
	sc_mem_free(l, sizeof(*l));
}

/*
 * Apply the hits @l published before position @upto (at most its head).
 * Context: cache lock held.
 */
static void __sc_hitlog_consume_to_locked(struct sc_cache *c,
					  struct sc_hitlog *l, uint64_t head)
{
	uint64_t tail = atomic_load_explicit(&l->tail, memory_order_relaxed);
	struct sc_entry *batch[SC_HITLOG_CHUNK];

	sc_cache_assert_locked(c);
	while (tail < head) {
		unsigned int n = 0;

		while (tail < head && n < SC_HITLOG_CHUNK) {
			struct sc_entry *e;

			if (l->rpos == SC_HITLOG_CHUNK) {
				struct sc_hitlog_chunk *done = l->rchunk;

				/* published before the hits written in it */
				l->rchunk = atomic_load_explicit(
					&done->next, memory_order_acquire);
				l->rpos = 0;
				sc_hitlog_recycle(l, done);
			}
			e = l->rchunk->hits[l->rpos++];
			tail++;
			if (!(sc_entry_flags(e) & SC_ENTRY_UNLINKED))
				batch[n++] = e;
		}
		__sc_lru_hits_locked(c, batch, n);
	}
	atomic_store_explicit(&l->tail, tail, memory_order_release);
	atomic_store_explicit(&l->backlog_max,
			      c->dirty_cap && __sc_lru_lazy_locked(c) ?
				      SC_HITLOG_LAZY_BACKLOG :
				      SC_HITLOG_BACKLOG,
			      memory_order_relaxed);
}

/* Apply every hit @l has published. Context: cache lock held. */
static void __sc_hitlog_consume_locked(struct sc_cache *c, struct sc_hitlog *l)
{
	__sc_hitlog_consume_to_locked(
		c, l, atomic_load_explicit(&l->head, memory_order_acquire));
}

void sc_hitlog_start_run(struct sc_hitlog *l)
{
	/* the vDSO's clock reads the TSC in order with earlier loads */
	atomic_store_explicit(&l->run_start, sc_clock_ns(),
			      memory_order_relaxed);
}

/* Logs with pending hits, ordered by when their hits began to gather. */
#define SC_SYNC_SORTED 64

void __sc_queue_defer_add_locked(struct sc_cache *c, struct sc_entry *e)
{
	unsigned int k = c->nr_deferred;
	struct sc_hitlog *l;

	sc_cache_assert_locked(c);
	for (l = c->logs; l; l = l->next) {
		uint64_t head =
			atomic_load_explicit(&l->head, memory_order_acquire);

		l->defer_head[k] = head;
		/*
		 * The start of the run these hits belong to, read before
		 * the thread can start another: it starts one at @head only
		 * after its acquire load of restart has seen this store.
		 */
		l->defer_run[k] = atomic_load_explicit(&l->run_start,
						       memory_order_relaxed);
		atomic_store_explicit(&l->restart, head, memory_order_release);
	}
	sc_entry_lru(e)->next = NULL; /* off the list until linked */
	sc_entry_lru(e)->prev = NULL;
	c->deferred[k] = e;
	c->nr_deferred = k + 1;
}

/*
 * Link the deferred inserts, each after the hits published before it was
 * made, in the order a drain at that moment would have applied them (log
 * by log, by the start of their run), and before the hits published
 * after: the order a drain at each insert would have made.
 */
static void __sc_queue_link_deferred_locked(struct sc_cache *c)
{
	struct sc_hitlog *l, *sorted[SC_SYNC_SORTED];
	unsigned int k, n, i, j;

	for (k = 0; k < c->nr_deferred; k++) {
		n = 0;
		for (l = c->logs; l; l = l->next) {
			if (atomic_load_explicit(&l->tail,
						 memory_order_relaxed) >=
			    l->defer_head[k])
				continue;
			if (n == SC_SYNC_SORTED) {
				__sc_hitlog_consume_to_locked(c, l,
							      l->defer_head[k]);
				continue;
			}
			for (j = n++;
			     j && sorted[j - 1]->defer_run[k] > l->defer_run[k];
			     j--)
				sorted[j] = sorted[j - 1];
			sorted[j] = l;
		}
		for (i = 0; i < n; i++)
			__sc_hitlog_consume_to_locked(c, sorted[i],
						      sorted[i]->defer_head[k]);
		__sc_queue_add_locked(c, c->deferred[k]);
		c->deferred[k] = NULL;
	}
	c->nr_deferred = 0;
}

/*
 * The drain behind __sc_queue_sync_locked(), once a log has something:
 * every pending log applied, in the order its run began, and the logs of
 * exited threads freed. Context: cache lock held.
 */
void __sc_queue_drain_logs_locked(struct sc_cache *c)
{
	struct sc_hitlog **lp, *l, *sorted[SC_SYNC_SORTED];
	unsigned int n = 0, i, j, gone = 0;

	sc_cache_assert_locked(c);
	if (sc_unlikely(c->nr_deferred))
		__sc_queue_link_deferred_locked(c);
	for (l = c->logs; l; l = l->next) {
		gone |= atomic_load_explicit(&l->state, memory_order_acquire) &
			SC_HITLOG_THREAD_GONE;
		if (!sc_hitlog_pending(l))
			continue;
		if (n == SC_SYNC_SORTED) {
			/* more threads than that: list order */
			__sc_hitlog_consume_locked(c, l);
			continue;
		}
		/* insertion sort: few logs are pending at once */
		for (j = n++;
		     j && atomic_load_explicit(&sorted[j - 1]->run_start,
					       memory_order_relaxed) >
				  atomic_load_explicit(&l->run_start,
						       memory_order_relaxed);
		     j--)
			sorted[j] = sorted[j - 1];
		sorted[j] = l;
	}
	for (i = 0; i < n; i++)
		__sc_hitlog_consume_locked(c, sorted[i]);
	if (sc_likely(!gone))
		return;
	/* logs of exited threads: consumed above, their counts kept */
	for (lp = &c->logs; (l = *lp);) {
		if (!(atomic_load_explicit(&l->state, memory_order_acquire) &
		      SC_HITLOG_THREAD_GONE)) {
			lp = &l->next;
			continue;
		}
		__sc_hitlog_consume_locked(c, l); /* exited since the look */
		c->hits += atomic_load_explicit(&l->hits, memory_order_relaxed);
		c->misses +=
			atomic_load_explicit(&l->misses, memory_order_relaxed);
		*lp = l->next;
		c->nr_logs--;
		sc_hitlog_free(l);
	}
}

/*
 * A reader's own drain: its log @own, after every pending log whose run
 * began before its own, in the order they began. Runs that began later
 * stay for their own thread's drain or the next write: every run drained
 * after this one began after @own's (it was pending with a later start,
 * or began after this drain), so the runs are still applied in the order
 * they began, across drains as within one. The other threads' log lines
 * then stay with their threads. The logs of exited threads, or more
 * earlier runs than the sort holds, take the full drain, and so do
 * deferred inserts: linking one needs every log applied up to the place
 * it was made, before @own is applied past it.
 * Context: cache lock held.
 */
static void __sc_queue_drain_own_locked(struct sc_cache *c,
					struct sc_hitlog *own)
{
	uint64_t mine =
		atomic_load_explicit(&own->run_start, memory_order_relaxed);
	struct sc_hitlog *l, *sorted[SC_SYNC_SORTED];
	unsigned int n = 0, i, j;

	sc_cache_assert_locked(c);
	if (sc_unlikely(c->nr_deferred)) {
		__sc_queue_drain_logs_locked(c);
		return;
	}
	for (l = c->logs; l; l = l->next) {
		uint64_t start;

		if (atomic_load_explicit(&l->state, memory_order_acquire) &
		    SC_HITLOG_THREAD_GONE) {
			__sc_queue_drain_logs_locked(c);
			return;
		}
		if (l == own || !sc_hitlog_pending(l))
			continue;
		start = atomic_load_explicit(&l->run_start,
					     memory_order_relaxed);
		if (start >= mine)
			continue;
		if (n == SC_SYNC_SORTED) {
			__sc_queue_drain_logs_locked(c);
			return;
		}
		for (j = n++;
		     j && atomic_load_explicit(&sorted[j - 1]->run_start,
					       memory_order_relaxed) > start;
		     j--)
			sorted[j] = sorted[j - 1];
		sorted[j] = l;
	}
	for (i = 0; i < n; i++)
		__sc_hitlog_consume_locked(c, sorted[i]);
	__sc_hitlog_consume_locked(c, own);
}

void sc_queue_drain_try(struct sc_cache *c, struct sc_hitlog *own)
{
	if (!sc_cache_trylock(c))
		return;
	__sc_queue_drain_own_locked(c, own);
	sc_cache_unlock(c);
}

/*
 * Drain with the lock, then start the calling thread's log over in the
 * chunk it is on: nothing of it is pending any more.
 */
static void sc_hitlog_drain_wait(struct sc_cache *c, struct sc_hitlog *l)
{
	sc_cache_lock(c);
	__sc_queue_sync_locked(c);
	l->rchunk = l->wchunk;
	l->rpos = l->wpos = 0;
	sc_cache_unlock(c);
}

/*
 * A finished chunk for the calling thread's log, or NULL: its own stack
 * first, else all that consumers have pushed since it last looked.
 */
static inline struct sc_hitlog_chunk *sc_hitlog_take_chunk(struct sc_hitlog *l)
{
	struct sc_hitlog_chunk *n = l->free_own;

	if (!n) {
		if (!atomic_load_explicit(&l->freed, memory_order_relaxed))
			return NULL;
		/* acquire: pairs with the push's release */
		n = atomic_exchange_explicit(&l->freed, NULL,
					     memory_order_acquire);
	}
	l->free_own = atomic_load_explicit(&n->next, memory_order_relaxed);
	return n;
}

/*
 * Ask for every line of @ch for writing, all at once. A chunk that a drain
 * on another core consumed was read there: each of its nine lines is a
 * write miss for this thread, one per eight hits. A find's stores wait for
 * those in the store buffer unseen, but a get's and a put's locked
 * instructions wait for the buffer to empty, so each miss cost them its
 * full latency (Documentation/performance.rst, "get/put with two threads:
 * the hit log's write misses"). Asked for together, the nine overlap.
 */
static inline void sc_hitlog_prefetch_chunk(struct sc_hitlog_chunk *ch)
{
	const char *p = (const char *)ch;
	size_t off;

	for (off = 0; off < sizeof(*ch); off += 64)
		sc_prefetchw(p + off);
}

bool sc_hitlog_next_chunk(struct sc_cache *c, struct sc_hitlog *l)
{
	struct sc_hitlog_chunk *n;

	n = sc_hitlog_take_chunk(l);
	if (n)
		sc_hitlog_prefetch_chunk(n);
	if (!n && atomic_load_explicit(&l->nr_chunks, memory_order_relaxed) <
			  SC_HITLOG_MAX_CHUNKS) {
		n = sc_mem_alloc(sizeof(*n));
		if (n)
			atomic_fetch_add_explicit(&l->nr_chunks, 1,
						  memory_order_relaxed);
	}
	if (!n) {
		/* a backlog this long, or no memory: wait for the lock */
		sc_hitlog_drain_wait(c, l);
		return true;
	}
	atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
	/* the consumer may follow the link once a hit in n is published */
	atomic_store_explicit(&l->wchunk->next, n, memory_order_release);
	l->wchunk = n;
	l->wpos = 0;
	if (sc_hitlog_backlog(l))
		sc_queue_drain_try(c, l);
	return true;
}

/* Thread exit: let go of every log of this thread. */
static void sc_hitlog_thread_exit(void *arg)
{
	struct sc_thread_logs *tl = arg;
	size_t i;

	for (i = 0; i < tl->cap; i++) {
		struct sc_hitlog *l = tl->slots[i].log;

		if (l &&
		    atomic_fetch_or_explicit(&l->state, SC_HITLOG_THREAD_GONE,
					     memory_order_acq_rel) &
			    SC_HITLOG_CACHE_GONE)
			sc_hitlog_free(l);
	}
	sc_mem_free(tl->slots, tl->cap * sizeof(tl->slots[0]));
	tl->slots = NULL;
	tl->cap = 0;
}

static void sc_hitlog_key_init(void)
{
	sc_hitlog_key_ok =
		!pthread_key_create(&sc_hitlog_key, sc_hitlog_thread_exit);
}

struct sc_hitlog *sc_hitlog_get_slow(struct sc_cache *c)
{
	struct sc_thread_logs *tl = &sc_thread_logs;
	struct sc_thread_log_slot *slot;
	struct sc_hitlog *l, *old;

	if (c->tls_idx >= tl->cap) {
		size_t cap = tl->cap;
		void *slots = tl->slots;

		if (sc_mem_grow(&slots, &cap, (size_t)c->tls_idx + 1,
				sizeof(tl->slots[0]), 65536))
			return NULL;
		if (!tl->slots) {
			pthread_once(&sc_hitlog_once, sc_hitlog_key_init);
			if (sc_hitlog_key_ok)
				pthread_setspecific(sc_hitlog_key, tl);
		}
		tl->slots = slots;
		tl->cap = cap;
	}
	l = sc_mem_zalloc(sizeof(*l));
	if (!l)
		return NULL;
	l->wchunk = l->rchunk = &l->first;
	atomic_init(&l->backlog_max, SC_HITLOG_BACKLOG);

	slot = &tl->slots[c->tls_idx];
	old = slot->log;
	/* the slot's last cache is gone: it let go of its side already */
	if (old && atomic_fetch_or_explicit(&old->state, SC_HITLOG_THREAD_GONE,
					    memory_order_acq_rel) &
			   SC_HITLOG_CACHE_GONE)
		sc_hitlog_free(old);

	sc_cache_lock(c);
	l->next = c->logs;
	c->logs = l;
	if (c->nr_logs++ &&
	    !atomic_load_explicit(&c->logs_shared, memory_order_relaxed)) {
		atomic_store_explicit(&c->logs_shared, true,
				      memory_order_relaxed);
		/*
		 * Visible to every thread before this one logs a hit: a
		 * thread that starts a run without seeing it started it
		 * before any of this thread's hits (sc_hitlog_add()).
		 */
		sc_smp_mb();
	}
	sc_cache_unlock(c);
	slot->log = l;
	slot->serial = c->serial;
	return l;
}

void sc_hitlog_release_all(struct sc_cache *c)
{
	struct sc_hitlog *l, *next;

	for (l = c->logs; l; l = next) {
		next = l->next;
		if (atomic_fetch_or_explicit(&l->state, SC_HITLOG_CACHE_GONE,
					     memory_order_acq_rel) &
		    SC_HITLOG_THREAD_GONE)
			sc_hitlog_free(l);
	}
	c->logs = NULL;
	c->nr_logs = 0;
	sc_dirty_free(c);
}

void __sc_hitlog_counts_locked(struct sc_cache *c, unsigned long long *hits,
			       unsigned long long *misses)
{
	struct sc_hitlog *l;

	sc_cache_assert_locked(c);
	*hits = c->hits;
	*misses = c->misses;
	for (l = c->logs; l; l = l->next) {
		*hits += atomic_load_explicit(&l->hits, memory_order_relaxed);
		*misses +=
			atomic_load_explicit(&l->misses, memory_order_relaxed);
	}
}

size_t __sc_hitlog_bytes_locked(struct sc_cache *c)
{
	struct sc_hitlog *l;
	size_t bytes = 0;

	sc_cache_assert_locked(c);
	for (l = c->logs; l; l = l->next)
		bytes += sizeof(*l) +
			 atomic_load_explicit(&l->nr_chunks,
					      memory_order_relaxed) *
				 sizeof(struct sc_hitlog_chunk);
	return bytes + sc_dirty_bytes(c->dirty_cap);
}

/* ------------------------------------------------------------- order */

/*
 * A hit applied at once, under the lock: lookups that could not log. The
 * entry may have left since the lookup found it.
 * Context: cache lock held.
 */
void __sc_queue_touch_locked(struct sc_cache *c, struct sc_entry *e)
{
	sc_cache_assert_locked(c);
	if (sc_cache_hits_in_flags(c)) {
		sc_policy_hit(c, e);
		return;
	}
	__sc_queue_sync_locked(c);
	if (!(sc_entry_flags(e) & SC_ENTRY_UNLINKED))
		__sc_lru_hits_locked(c, &e, 1);
}

/*
 * Link a new entry as the most recently used (SIEVE: the newest; S3-FIFO:
 * the newest of the queue its SC_ENTRY_MAIN flag names).
 * Context: cache lock held.
 */
void __sc_queue_add_locked(struct sc_cache *c, struct sc_entry *e)
{
	sc_cache_assert_locked(c);
	if (sc_cache_s3fifo(c)) {
		if (sc_entry_flags(e) & SC_ENTRY_MAIN) {
			sc_list_add(&c->main, e);
			c->main_cost += sc_entry_cost_of(e);
			c->main_count++;
		} else {
			sc_list_add(&c->lru, e);
			c->small_cost += sc_entry_cost_of(e);
		}
		return;
	}
	if (sc_unlikely(c->nr_dirty))
		__sc_dirty_add_locked(c, e);
	else
		sc_lru_add_mru(c, e);
}

/*
 * Pending hits on @e are skipped from now on. Only SIEVE's and S3-FIFO's
 * lookups write flags: for exact LRU, no lock prefix.
 */
static inline void sc_entry_mark_unlinked(struct sc_cache *c,
					  struct sc_entry *e)
{
	if (sc_cache_hits_in_flags(c))
		atomic_fetch_or_explicit(&e->flags, SC_ENTRY_UNLINKED,
					 memory_order_relaxed);
	else
		atomic_store_explicit(&e->flags,
				      sc_entry_flags(e) | SC_ENTRY_UNLINKED,
				      memory_order_relaxed);
}

/*
 * Take a linked entry off the list. A SIEVE hand on it moves one step
 * towards the newest end, where the paper's hand goes after an eviction.
 * Pending hits on it are skipped from now on. Context: cache lock held.
 */
void __sc_queue_del_locked(struct sc_cache *c, struct sc_entry *e)
{
	struct sc_lru *l = sc_entry_lru(e);

	sc_cache_assert_locked(c);
	if (sc_unlikely(c->hand == l))
		c->hand = l->prev != &c->lru ? l->prev : NULL;
	sc_lru_del(e);
	if (sc_cache_s3fifo(c)) {
		if (sc_entry_flags(e) & SC_ENTRY_MAIN) {
			c->main_cost -= sc_entry_cost_of(e);
			c->main_count--;
		} else {
			c->small_cost -= sc_entry_cost_of(e);
		}
	}
	if (sc_unlikely(c->nr_dirty))
		__sc_dirty_forget_locked(c, e);
	sc_entry_mark_unlinked(c, e);
}

struct sc_entry *__sc_queue_oldest_locked(struct sc_cache *c)
{
	sc_cache_assert_locked(c);
	if (sc_unlikely(c->nr_dirty))
		__sc_dirty_apply_locked(c);
	if (c->lru.prev == &c->lru) {
		/* S3-FIFO: S from its oldest, then M from its oldest */
		if (sc_cache_s3fifo(c) && c->main.prev != &c->main)
			return sc_node_entry(c->main.prev);
		return NULL;
	}
	return sc_node_entry(c->lru.prev);
}

struct sc_entry *__sc_queue_pop_oldest_locked(struct sc_cache *c)
{
	struct sc_lru *l;
	struct sc_entry *e;

	sc_cache_assert_locked(c);
	if (sc_unlikely(c->nr_dirty))
		__sc_dirty_apply_locked(c);
	l = c->lru.prev;
	if (l == &c->lru) {
		/* S3-FIFO: S from its oldest, then M from its oldest */
		if (!sc_cache_s3fifo(c) || c->main.prev == &c->main)
			return NULL;
		l = c->main.prev;
	}
	e = sc_node_entry(l);
	sc_lru_del(e);
	sc_entry_mark_unlinked(c, e);
	return e;
}

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
	const struct sc_lru *next = sc_entry_lru(e)->prev;
	const struct sc_entry *n;

	if (next == &c->lru)
		return;
	if (next->prev != &c->lru) {
		const char *after = (const char *)sc_node_entry(next->prev);

		/* both lines: an entry not a divisor of 64 often straddles two */
		__builtin_prefetch(after);
		__builtin_prefetch(after + 63);
	}
	n = sc_node_entry(next);
	if (!(sc_entry_flags(n) & SC_ENTRY_HANDLE))
		__sc_index_prefetch_locked(c, n);
}

/* ------------------------------------------------------------ S3-FIFO */

/* The tunables of Documentation/policy.rst ("Constants"). */
#define SC_S3FIFO_SMALL_PCT 10
#define SC_S3FIFO_MOVE_HITS 2
#define SC_S3FIFO_FREQ_MAX 7
#define SC_S3FIFO_GHOST_PCT 50

/* floor(a * b / d), exactly. */
static inline size_t sc_mul_div(size_t a, size_t b, size_t d)
{
	return (size_t)((unsigned __int128)a * b / d);
}

void __sc_queue_set_limit_locked(struct sc_cache *c)
{
	sc_cache_assert_locked(c);
	c->small_max = sc_mul_div(c->limit, SC_S3FIFO_SMALL_PCT, 100);
	c->small_target = c->small_max;
	c->main_max = c->limit - c->small_target;
}

/*
 * A key the ghost held is back (Documentation/policy.rst, "Adaptation"):
 * had S been larger (the key left S) or M (it left M), it would have hit.
 * S's share moves that way as ARC moves its target: by the ratio of the
 * ghost's keys of the other queue to those of this one, at least 1, times
 * the key's cost; between 0 and half the limit. The counts include the
 * key's own slot, which is not yet forgotten, so neither divisor is 0.
 */
void __sc_queue_adapt_locked(struct sc_cache *c, bool left_main, size_t cost)
{
	const size_t *nr = c->ghost->nr_tag;
	size_t ratio = left_main ? nr[0] / nr[1] : nr[1] / nr[0], step;

	sc_cache_assert_locked(c);
	if (!sc_size_mul(ratio ? ratio : 1, cost, &step))
		step = SIZE_MAX;
	if (left_main)
		c->small_target =
			c->small_target > step ? c->small_target - step : 0;
	else if (c->small_target + step < c->small_target ||
		 c->small_target + step > c->limit / 2)
		c->small_target = c->limit / 2;
	else
		c->small_target += step;
	c->main_max = c->limit - c->small_target;
}

struct sc_ghost *__sc_queue_ghost_set_locked(struct sc_cache *c,
					     struct sc_ghost *g, size_t sized)
{
	struct sc_ghost *old = c->ghost;

	sc_cache_assert_locked(c);
	c->ghost = g;
	c->ghost_sized = sized;
	/* for sc_queue_ghost_prefetch(), without the lock */
	atomic_store_explicit(&c->ghost_hint_slots, g ? g->slots : NULL,
			      memory_order_relaxed);
	atomic_store_explicit(&c->ghost_hint_buckets, g ? g->nr_buckets : 0,
			      memory_order_relaxed);
	return old;
}

struct sc_ghost *__sc_queue_ghost_resize_locked(struct sc_cache *c, bool grow)
{
	struct sc_ghost *old = c->ghost, *g;
	size_t sized, twice;

	sc_cache_assert_locked(c);
	if (!c->count)
		return __sc_queue_ghost_set_locked(c, NULL, 0);
	if (!grow || !sc_cache_s3fifo(c))
		return NULL;
	if (!old) {
		/* from half the limit on (total <= limit) */
		if (!c->total_cost || c->total_cost < c->limit - c->total_cost)
			return NULL;
	} else if (c->count <= c->ghost_sized) {
		return NULL;
	}
	/*
	 * The entries the cache holds at its limit at today's mean cost,
	 * at most twice those it holds (a mean far below the limit's would
	 * size it for entries the cache may never hold).
	 */
	sized = c->count;
	if (c->total_cost) {
		size_t at_limit = sc_mul_div(c->count, c->limit, c->total_cost);

		if (!sc_size_mul(c->count, 2, &twice))
			twice = SIZE_MAX;
		sized = at_limit < c->count ? c->count :
			at_limit > twice    ? twice :
					      at_limit;
	}
	g = sc_ghost_new(sc_mul_div(sized, SC_S3FIFO_GHOST_PCT, 100) ?: 1);
	if (!g)
		return NULL; /* keep the old one; the next insert tries again */
	return __sc_queue_ghost_set_locked(c, g, sized);
}

size_t __sc_queue_ghost_bytes_locked(struct sc_cache *c)
{
	sc_cache_assert_locked(c);
	return c->ghost ? c->ghost->bytes : 0;
}

/*
 * As LRU's victim prefetch: the next entry of the queue @e leaves from is
 * the likely next victim, so start the misses of its eviction now (its
 * index slot, its ghost bucket) and of the entry after.
 */
static inline void __sc_s3fifo_prefetch_locked(struct sc_cache *c,
					       const struct sc_entry *e,
					       const struct sc_lru *head)
{
	const struct sc_lru *next = sc_entry_lru(e)->prev;
	const struct sc_entry *n;
	uint64_t hash;

	if (next == head)
		return;
	if (next->prev != head) {
		const char *after = (const char *)sc_node_entry(next->prev);

		__builtin_prefetch(after);
		__builtin_prefetch(after + 63);
	}
	n = sc_node_entry(next);
	if (sc_entry_flags(n) & SC_ENTRY_HANDLE)
		return;
	hash = sc_entry_hash(c, n);
	__sc_index_prefetch_hash_locked(c, hash);
	if (c->ghost) /* a victim of either queue goes to the ghost */
		sc_ghost_prefetch(c->ghost, hash);
}

/* S's oldest, hit twice or more, moves to M's new end, frequency 0. */
static void __sc_s3fifo_to_main_locked(struct sc_cache *c, struct sc_entry *e)
{
	uint8_t f = atomic_load_explicit(&e->flags, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(
		&e->flags, &f, (uint8_t)((f & ~SC_ENTRY_FREQ) | SC_ENTRY_MAIN),
		memory_order_relaxed, memory_order_relaxed))
		;
	sc_lru_del(e);
	sc_list_add(&c->main, e);
	c->small_cost -= sc_entry_cost_of(e);
	c->main_cost += sc_entry_cost_of(e);
	c->main_count++;
}

/*
 * The frequency M's oldest @e counts for in round @rounds of a write
 * (rounds of M this write completed before meeting @e): at most
 * SC_S3FIFO_FREQ_MAX - @rounds. Each round this write lowered @e's
 * frequency by one, so that is what a frequency of 7 when the write
 * first met @e has left; the frequency can read more only if a hit
 * landed between two rounds. Below the cap such a hit counts as one
 * before the write does (one more, one round later); on an entry the
 * write met at 7 it would have been lost to the cap before the write and
 * unseen after it, so it must not count within the write: the cap
 * decides. One thread sees no change (no hit lands during its write).
 */
static inline unsigned int sc_s3fifo_freq_in_round(unsigned int f,
						   unsigned int rounds)
{
	unsigned int cap =
		rounds < SC_S3FIFO_FREQ_MAX ? SC_S3FIFO_FREQ_MAX - rounds : 0;

	f = (f & SC_ENTRY_FREQ) / SC_ENTRY_FREQ_ONE;
	return f < cap ? f : cap;
}

/*
 * The next S3-FIFO victim, or NULL when empty (Documentation/policy.rst,
 * "One eviction"): entries it passes move (S to M, or round M) as it
 * goes; the one it returns is still linked, the caller evicts it. @w
 * counts the rounds of M this write has walked
 * (__sc_queue_walk_begin_locked() before its first victim): a round ends
 * once the entries M held when it began have been met. An entry counts
 * for at most 7 less the rounds done (sc_s3fifo_freq_in_round()), so M's
 * rounds end within 7 per write, however lookups on other threads keep
 * raising frequencies.
 */
static struct sc_entry *__sc_s3fifo_victim_locked(struct sc_cache *c,
						  struct sc_queue_walk *w)
{
	for (;;) {
		struct sc_entry *e;
		unsigned int f;

		if (c->main_cost > c->main_max || c->lru.prev == &c->lru) {
			if (c->main.prev == &c->main)
				return NULL;
			if (!w->main_unseen) {
				w->main_rounds++;
				w->main_unseen = c->main_count;
			}
			w->main_unseen--;
			e = sc_node_entry(c->main.prev);
			f = sc_entry_flags(e);
			if (!sc_s3fifo_freq_in_round(f, w->main_rounds)) {
				__sc_s3fifo_prefetch_locked(c, e, &c->main);
				return e;
			}
			atomic_fetch_sub_explicit(&e->flags, SC_ENTRY_FREQ_ONE,
						  memory_order_relaxed);
			sc_lru_del(e);
			sc_list_add(&c->main, e);
			continue;
		}
		e = sc_node_entry(c->lru.prev);
		f = sc_entry_flags(e);
		if ((f & SC_ENTRY_FREQ) >=
		    SC_S3FIFO_MOVE_HITS * SC_ENTRY_FREQ_ONE) {
			__sc_s3fifo_to_main_locked(c, e);
			continue;
		}
		__sc_s3fifo_prefetch_locked(c, e, &c->lru);
		return e;
	}
}

/*
 * The entry to evict next, or NULL when empty: the least recently used,
 * S3-FIFO's victim (above), or the first entry not visited from SIEVE's
 * hand on, clearing the visited bits it passes. @w is the write's walk
 * (__sc_queue_walk_begin_locked() before its first victim): the hand
 * reads an entry's bit only the first time it meets the entry in a
 * write. Met again (the hand wrapped past where the write began), the
 * entry is the victim whatever its bit: this write cleared it, so a bit
 * set since is a hit that landed after the hand passed, which a write
 * applied at one instant cannot see (its lookup is ordered after the
 * write, and its hit is lost with the entry). One thread sees no change:
 * a bit the write cleared is still clear when the hand meets it again.
 * The same rule bounds the walk: lookups that keep every entry busy
 * cannot keep an eviction going round, each write's hand goes round at
 * most once. The caller evicts the entry, which moves the hand past it.
 * Callers have synced the logs. Context: cache lock held.
 */
struct sc_entry *__sc_queue_victim_locked(struct sc_cache *c,
					  struct sc_queue_walk *w)
{
	struct sc_lru *l;
	struct sc_entry *e;

	sc_cache_assert_locked(c);
	if (sc_cache_s3fifo(c))
		return __sc_s3fifo_victim_locked(c, w);
	if (!sc_cache_sieve(c)) {
		e = __sc_queue_oldest_locked(c);
		if (e)
			__sc_victim_prefetch_locked(c, e);
		return e;
	}
	if (c->lru.prev == &c->lru)
		return NULL;
	for (l = c->hand ? c->hand : c->lru.prev;; l = l->prev) {
		if (l == &c->lru)
			l = c->lru.prev; /* past the newest: wrap */
		e = sc_node_entry(l);
		if (!w->unseen)
			break; /* met again in this write */
		w->unseen--;
		if (!(sc_entry_flags(e) & SC_ENTRY_VISITED))
			break;
		atomic_fetch_and_explicit(&e->flags, (uint8_t)~SC_ENTRY_VISITED,
					  memory_order_relaxed);
	}
	c->hand = l;
	return e;
}

/* Empty the list (the entries were dropped). Context: cache lock held. */
void __sc_queue_clear_locked(struct sc_cache *c)
{
	sc_cache_assert_locked(c);
	c->lru.next = c->lru.prev = &c->lru;
	c->main.next = c->main.prev = &c->main;
	c->small_cost = c->main_cost = 0;
	c->main_count = 0;
	c->hand = NULL;
	/* emptied oldest first, which applied the set; its memory goes too */
	__sc_dirty_free_locked(c);
}
