/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_CORE_QUEUE_H
#define SC_CORE_QUEUE_H

/*
 * The eviction order (core/queue.c) and the per-thread hit logs through
 * which lock-free lookups report their hits.
 */
#include "core/cache_internal.h"
#include "core/ghost.h"

#define SC_HITLOG_CHUNK 64
/*
 * The backlog at which a reader drains its own log if the cache lock is
 * free: a chunk and a half, or sixteen chunks while the cache's LRU order
 * is applied lazily (core/queue.c, "Lazily applied hits"), where a drain
 * writes a stamp line per sixteen entries and the lines of the set are
 * the same from one drain to the next: the longer the run, the fewer of
 * them move between cores per hit.
 */
#define SC_HITLOG_BACKLOG (SC_HITLOG_CHUNK * 3 / 2)
#define SC_HITLOG_LAZY_BACKLOG (SC_HITLOG_CHUNK * 16)
/*
 * The chunks a log may have allocated besides its first: 8,192 (4.1 MiB,
 * 524,288 pending hits) while a reader cannot take the lock for its own
 * drain, which it then waits for. With more threads than CPUs the holder
 * is preempted with the lock held for a scheduler slice or more (2 to 15
 * ms measured with 4 threads on 2 CPUs, 1k entries), and a reader of a
 * small cache makes 65,536 hits in about 2.6 ms: the bound is what a
 * reader of a small cache makes in some 20 ms, longer than those stops.
 * Of those, finished chunks beyond SC_HITLOG_KEEP_CHUNKS are freed rather
 * than kept for reuse: enough for a lazy backlog and the chunk being
 * written (about 12 KiB a log).
 */
#define SC_HITLOG_MAX_CHUNKS 8192
#define SC_HITLOG_KEEP_CHUNKS (SC_HITLOG_LAZY_BACKLOG / SC_HITLOG_CHUNK + 8)

struct sc_hitlog_chunk {
	struct sc_entry *hits[SC_HITLOG_CHUNK];
	/* the log's next chunk, set before hits go in it; or, free, the one below */
	_Atomic(struct sc_hitlog_chunk *) next;
};

/* sc_hitlog.state: who has let go of the log; the second one frees it */
#define SC_HITLOG_THREAD_GONE 0x1u
#define SC_HITLOG_CACHE_GONE 0x2u

/*
 * One thread's log of the hits it made on one cache: a queue of chunks
 * that the thread appends to and the cache lock holder consumes. The
 * thread's side and the consumer's side live in separate lines.
 */
struct sc_hitlog {
	/* the thread's side: written by its thread only */
	struct sc_hitlog_chunk *wchunk;
	unsigned int wpos;
	atomic_uint_fast64_t head; /* hits appended, published (release) */
	/* CLOCK_MONOTONIC ns when the pending hits began to gather */
	atomic_uint_fast64_t run_start;
	atomic_ullong hits, misses;
	/*
	 * Finished chunks, for the thread to write again: its own stack,
	 * and the one consumers push onto (under the cache lock), which
	 * the thread takes whole when its own is empty.
	 */
	struct sc_hitlog_chunk *free_own;
	_Atomic(struct sc_hitlog_chunk *) freed;

	/* the consumer's side: cache lock */
	struct sc_hitlog_chunk *rchunk __attribute__((aligned(64)));
	unsigned int rpos;
	atomic_uint_fast64_t tail; /* hits consumed; read by the thread */
	/*
	 * where the thread's next run starts when no drain came since: the
	 * head at the last insert that did not drain (read by the thread)
	 */
	atomic_uint_fast64_t restart;
	atomic_uint nr_chunks; /* allocated ones, the first excluded */
	atomic_uint state; /* SC_HITLOG_* */
	/* pending hits at which the thread drains if it can; the consumer's */
	atomic_uint backlog_max;
	struct sc_hitlog *next; /* c->logs */
	/* per deferred insert of the cache: the head then, its run's start */
	uint64_t defer_head[SC_QUEUE_DEFER_MAX];
	uint64_t defer_run[SC_QUEUE_DEFER_MAX];

	struct sc_hitlog_chunk first;
};

/* This thread's log of @c, made on first use; NULL if none can be made. */
SC_HIDDEN struct sc_hitlog *sc_hitlog_get_slow(struct sc_cache *c);

struct sc_thread_logs {
	size_t cap;
	struct sc_thread_log_slot {
		uint64_t serial;
		struct sc_hitlog *log;
	} * slots;
};

SC_HIDDEN extern __thread struct sc_thread_logs sc_thread_logs;

/* The calling thread's log of @c if it has one, else NULL (none made). */
static inline struct sc_hitlog *sc_hitlog_peek(struct sc_cache *c)
{
	struct sc_thread_logs *tl = &sc_thread_logs;

	if (c->tls_idx < tl->cap && tl->slots[c->tls_idx].serial == c->serial)
		return tl->slots[c->tls_idx].log;
	return NULL;
}

/*
 * The calling thread's log of @c, made at its first use; NULL: no memory.
 * The test of sc_hitlog_peek() again rather than a call to it: a log
 * found is never NULL, and testing what peek returned cost every lookup
 * one or two instructions (callgrind, find-hit at 100k: 304.7 and 305.7
 * against 303.6).
 */
static inline struct sc_hitlog *sc_hitlog_get(struct sc_cache *c)
{
	struct sc_thread_logs *tl = &sc_thread_logs;

	if (sc_likely(c->tls_idx < tl->cap &&
		      tl->slots[c->tls_idx].serial == c->serial))
		return tl->slots[c->tls_idx].log;
	return sc_hitlog_get_slow(c);
}

/* Counters are written by their thread only: no locked instruction. */
static inline void sc_hitlog_count(atomic_ullong *n)
{
	atomic_store_explicit(n,
			      atomic_load_explicit(n, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* A full chunk: a new one, and maybe a drain. false: could not log. */
SC_HIDDEN bool sc_hitlog_next_chunk(struct sc_cache *c, struct sc_hitlog *l);
/* The first hit since the last drain: note when. */
SC_HIDDEN void sc_hitlog_start_run(struct sc_hitlog *l);

/*
 * sc_hitlog_add() - Log a hit on @e: the list moves when the lock holder
 * next drains the logs (__sc_queue_sync_locked()), before anything reads
 * the order. Appending writes only this thread's lines (it reads the
 * consumer's tail, which changes once per drain).
 * Context: inside the RCU read-side section that found @e, so that @e is
 * not freed before a drain has seen this hit.
 * Return: false if the hit could not be logged (no memory for a chunk):
 * the caller applies it under the cache lock.
 */
static inline bool sc_hitlog_add(struct sc_cache *c, struct sc_hitlog *l,
				 struct sc_entry *e)
{
	uint64_t head = atomic_load_explicit(&l->head, memory_order_relaxed);

	if (sc_unlikely(l->wpos == SC_HITLOG_CHUNK) &&
	    !sc_hitlog_next_chunk(c, l))
		return false;
	/*
	 * The start of a run orders it against other threads' runs at the
	 * drain: a clock read, needed only once a second thread has a log.
	 * A log alone keeps an older start, which sorts it first, as it
	 * should: its run began before the flag was set, so before any hit
	 * of the thread that set it (core/queue.c, sc_hitlog_get_slow()).
	 */
	if ((head == atomic_load_explicit(&l->tail, memory_order_relaxed) ||
	     head == atomic_load_explicit(&l->restart, memory_order_acquire)) &&
	    atomic_load_explicit(&c->logs_shared, memory_order_relaxed))
		sc_hitlog_start_run(l);
	l->wchunk->hits[l->wpos++] = e;
	atomic_store_explicit(&l->head, head + 1, memory_order_release);
	return true;
}

/*
 * A SIEVE hit: set the visited bit, once. The hand clears it under the
 * cache lock with an atomic and, so neither update is lost.
 */
static inline void sc_sieve_visit(struct sc_entry *e)
{
	if (!(sc_entry_flags(e) & SC_ENTRY_VISITED))
		atomic_fetch_or_explicit(&e->flags, SC_ENTRY_VISITED,
					 memory_order_relaxed);
}

/*
 * An S3-FIFO hit: one more on the entry's 3-bit frequency, none at 7 (no
 * write at all then). The lock holder lowers it with an atomic subtract
 * or resets it with a compare-and-swap, so no update is lost.
 */
static inline void sc_s3fifo_hit(struct sc_entry *e)
{
	uint8_t f = atomic_load_explicit(&e->flags, memory_order_relaxed);

	while ((f & SC_ENTRY_FREQ) != SC_ENTRY_FREQ &&
	       !atomic_compare_exchange_weak_explicit(
		       &e->flags, &f, (uint8_t)(f + SC_ENTRY_FREQ_ONE),
		       memory_order_relaxed, memory_order_relaxed))
		;
}

/* A hit of a policy that keeps hits in the entry (sc_cache_hits_in_flags) */
static inline void sc_policy_hit(const struct sc_cache *c, struct sc_entry *e)
{
	if (sc_cache_sieve(c))
		sc_sieve_visit(e);
	else
		sc_s3fifo_hit(e);
}

/* Is the calling thread's log the only log of @c (or is there none)? */
static inline bool __sc_hitlog_only_mine_locked(struct sc_cache *c)
{
	struct sc_hitlog *l = c->logs;

	sc_cache_assert_locked(c);
	return !l || (!l->next && l == sc_hitlog_peek(c));
}

/*
 * Pending hits of @l beyond its backlog_max (a chunk and a half, or more
 * while the cache's order is applied lazily): time to drain.
 */
static inline bool sc_hitlog_backlog(const struct sc_hitlog *l)
{
	struct sc_hitlog *m = (struct sc_hitlog *)l;

	return atomic_load_explicit(&m->head, memory_order_relaxed) -
		       atomic_load_explicit(&m->tail, memory_order_relaxed) >
	       atomic_load_explicit(&m->backlog_max, memory_order_relaxed);
}

/*
 * LRU's set of entries hit since the list last moved (struct sc_cache's
 * dirty fields, core/queue.c "Lazily applied hits"): dirty[] holds each
 * entry once, dirty_stamp[] the drain sequence number of its last hit,
 * dirty_slot[] where dirty_hash holds it; dirty_hash finds an entry's
 * element, by open addressing with linear probing over twice the
 * elements' capacity. The stamps, the only part a drain writes per hit,
 * are an array of their own: a drain dirties as few lines as it can.
 * Cache lock.
 */
static inline uint32_t sc_dirty_home(const struct sc_cache *c,
				     const struct sc_entry *e)
{
	return (uint32_t)(((uint64_t)(uintptr_t)e * SC_HASH_K1) >> 32) &
	       c->dirty_mask;
}

/* The slot of dirty_hash that holds @e, or the empty one it would take. */
static inline uint32_t sc_dirty_probe(const struct sc_cache *c,
				      const struct sc_entry *e)
{
	uint32_t i = sc_dirty_home(c, e), v;

	while ((v = c->dirty_hash[i]) && c->dirty[v - 1] != e)
		i = (i + 1) & c->dirty_mask;
	return i;
}

/* ----------------------------------------------------------- queue.c */

/* Context for all __*_locked: cache lock held. */
SC_HIDDEN void __sc_queue_drain_logs_locked(struct sc_cache *c);

static inline bool sc_hitlog_pending(struct sc_hitlog *l)
{
	return atomic_load_explicit(&l->head, memory_order_acquire) !=
	       atomic_load_explicit(&l->tail, memory_order_relaxed);
}

/*
 * Has a log of another thread than the caller hits that no drain has
 * applied yet? An insert that chooses no victims waits for a drain only
 * then (__sc_queue_may_defer_locked()): with none, a drain now applies
 * the caller's own hits alone, read back from lines it has just written.
 * Context: cache lock held.
 */
static inline bool __sc_hitlog_others_pending_locked(struct sc_cache *c)
{
	struct sc_hitlog *l, *mine = sc_hitlog_peek(c);

	sc_cache_assert_locked(c);
	for (l = c->logs; l; l = l->next)
		if (l != mine && sc_hitlog_pending(l))
			return true;
	return false;
}

/*
 * Does no log of @c hold a hit, nor belong to a thread that has exited,
 * and does no insert wait to be linked? Then no log names an entry the
 * caller has just unlinked (a write that is alone: core/cache.c,
 * __sc_write_alone_locked()). Context: cache lock held.
 */
static inline bool __sc_hitlog_none_pending_locked(struct sc_cache *c)
{
	struct sc_hitlog *l;

	sc_cache_assert_locked(c);
	if (c->nr_deferred)
		return false;
	for (l = c->logs; l; l = l->next)
		if ((atomic_load_explicit(&l->state, memory_order_acquire) &
		     SC_HITLOG_THREAD_GONE) ||
		    sc_hitlog_pending(l))
			return false;
	return true;
}

/*
 * __sc_queue_sync_locked() - Apply every thread's pending hits, log by
 * log, and free the logs of threads that have exited. Most writes find
 * nothing to do (one thread that inserts, or a drain just ran): they make
 * the same loads as the drain, without its sorting, and no call.
 */
static inline void __sc_queue_sync_locked(struct sc_cache *c)
{
	struct sc_hitlog *l;

	sc_cache_assert_locked(c);
	if (sc_unlikely(c->nr_deferred)) {
		__sc_queue_drain_logs_locked(c);
		return;
	}
	for (l = c->logs; l; l = l->next)
		if ((atomic_load_explicit(&l->state, memory_order_acquire) &
		     SC_HITLOG_THREAD_GONE) ||
		    sc_hitlog_pending(l)) {
			__sc_queue_drain_logs_locked(c);
			return;
		}
}
SC_HIDDEN void __sc_queue_touch_locked(struct sc_cache *c, struct sc_entry *e);

/*
 * Entries at which LRU's drained hits stop waiting in the set of pending
 * hits and move at once (core/queue.c, "Lazily applied hits"), and at
 * which inserts stop being deferred.
 */
#define SC_DIRTY_MAX (1u << 14)

/*
 * May an insert that chooses no victims skip the drain and link its
 * entry later (__sc_queue_defer_add_locked())? Only for LRU while
 * another thread's log holds hits (the calling thread's own log alone is
 * cheap to drain, and a write that is alone frees what it drops at once,
 * which needs every log drained), with room for one more, and while the
 * cache has at most SC_QUEUE_DEFER_LOGS logs (so the walk of the logs
 * below is bounded too); @old, the entry the
 * insert replaces (or NULL), must be on the list. The caller also needs
 * no drain for the limbo (nothing whose grace period passed to free).
 * And only below SC_DIRTY_MAX entries, where a drain records hits in
 * the set: from there on it moves each hit's entry, a miss or two
 * apiece, and the ninth insert's drain of all that the eight before it
 * left made about one hold in ten several times longer than the rest,
 * which the other writers waited out (Documentation/performance.rst,
 * "Deferred inserts only where hits wait in the set").
 */
static inline bool __sc_queue_may_defer_locked(const struct sc_cache *c,
					       const struct sc_entry *old)
{
	sc_cache_assert_locked(c);
	return !sc_cache_hits_in_flags(c) && c->count < SC_DIRTY_MAX &&
	       c->nr_deferred < SC_QUEUE_DEFER_MAX &&
	       c->nr_logs <= SC_QUEUE_DEFER_LOGS &&
	       atomic_load_explicit(&((struct sc_cache *)c)->logs_shared,
				    memory_order_relaxed) &&
	       (!old || sc_entry_lru(old)->next) &&
	       __sc_hitlog_others_pending_locked((struct sc_cache *)c);
}

/*
 * Add @e, a new entry, to the order at the next drain, after the hits
 * every log has published by now and before those it publishes later:
 * where a drain now and a link now would have put it. Call it before @e
 * is published (index slot): a hit on @e then comes after the marks, so
 * the drain meets it only after @e is linked.
 */
SC_HIDDEN void __sc_queue_defer_add_locked(struct sc_cache *c,
					   struct sc_entry *e);
SC_HIDDEN void __sc_queue_add_locked(struct sc_cache *c, struct sc_entry *e);
SC_HIDDEN void __sc_queue_del_locked(struct sc_cache *c, struct sc_entry *e);
/*
 * One write's walk of the victim order (__sc_queue_victim_locked()):
 * SIEVE's hand meets each entry at most once per write with its bit read;
 * S3-FIFO counts the rounds of M the write has done, which cap what an
 * entry's frequency counts for.
 */
struct sc_queue_walk {
	size_t unseen; /* entries the hand has not met yet in this write */
	/* S3-FIFO: entries of M this round has still to meet, rounds done */
	size_t main_unseen;
	unsigned int main_rounds;
};

/* Before a write's first victim. Context: cache lock held. */
static inline void __sc_queue_walk_begin_locked(const struct sc_cache *c,
						struct sc_queue_walk *w)
{
	sc_cache_assert_locked(c);
	w->unseen = c->count;
	w->main_unseen = c->main_count;
	w->main_rounds = 0;
}

SC_HIDDEN struct sc_entry *__sc_queue_victim_locked(struct sc_cache *c,
						    struct sc_queue_walk *w);
SC_HIDDEN void __sc_queue_clear_locked(struct sc_cache *c);
/* The entry at the oldest end (clear order), or NULL. */
SC_HIDDEN struct sc_entry *__sc_queue_oldest_locked(struct sc_cache *c);
/*
 * Take the entry at the oldest end off the order, marked unlinked, or
 * NULL: for emptying the cache, which __sc_queue_clear_locked() ends (the
 * hand and the queue costs are reset there, not entry by entry).
 */
SC_HIDDEN struct sc_entry *__sc_queue_pop_oldest_locked(struct sc_cache *c);
/* The limit changed (or was set): S3-FIFO's queue shares follow it. */
SC_HIDDEN void __sc_queue_set_limit_locked(struct sc_cache *c);
/*
 * At the end of a write: S3-FIFO's ghost sized for the cache (@grow: a
 * stored insert, add or replace; only those allocate), or gone with the
 * last entry. Return: a ghost to free once the lock is dropped, or NULL.
 * __sc_queue_ghost_resize_needed() tells when there is anything to do.
 */
SC_HIDDEN struct sc_ghost *__sc_queue_ghost_resize_locked(struct sc_cache *c,
							  bool grow);
/* Put @g (sized for @sized entries) in place. Return: the old ghost. */
SC_HIDDEN struct sc_ghost *__sc_queue_ghost_set_locked(struct sc_cache *c,
						       struct sc_ghost *g,
						       size_t sized);
SC_HIDDEN size_t __sc_queue_ghost_bytes_locked(struct sc_cache *c);

static inline bool __sc_queue_ghost_resize_needed(const struct sc_cache *c,
						  bool grow)
{
	if (!c->count)
		return c->ghost;
	return grow && (!c->ghost || c->count > c->ghost_sized);
}

/*
 * S3-FIFO admission of a new string key of @cost, policy hash @hash: the
 * policy flags its entry starts with (0: the small queue, SC_ENTRY_MAIN),
 * or -1: refused (the ghost now remembers the key). *@slot is the ghost
 * slot that __sc_queue_admitted_locked() forgets once the insert commits.
 * Other policies: 0. Context: cache lock held.
 */
static inline int __sc_queue_admit_locked(struct sc_cache *c, uint64_t hash,
					  size_t cost, long *slot)
{
	sc_cache_assert_locked(c);
	*slot = -1;
	if (!sc_cache_s3fifo(c))
		return 0;
	if (!c->ghost) /* below half the limit: no contest yet, no ghost */
		return cost > c->small_max ? SC_ENTRY_MAIN : 0;
	*slot = sc_ghost_find(c->ghost, hash);
	if (*slot >= 0)
		return SC_ENTRY_MAIN;
	if (cost > c->small_max) {
		sc_ghost_add(c->ghost, hash, false);
		return -1;
	}
	return 0;
}

SC_HIDDEN void __sc_queue_adapt_locked(struct sc_cache *c, bool left_main,
				       size_t cost);

/*
 * An admitted key of @cost that the ghost held in @slot (>= 0): S's share
 * moves towards the queue it left, and the ghost forgets it.
 */
static inline void __sc_queue_admitted_locked(struct sc_cache *c, uint64_t hash,
					      long slot, size_t cost)
{
	sc_cache_assert_locked(c);
	if (slot < 0)
		return;
	__sc_queue_adapt_locked(c, sc_ghost_left_main(c->ghost, hash, slot),
				cost);
	sc_ghost_forget(c->ghost, hash, slot);
}

/* A handle entry's starting policy flags: it never comes back. */
static inline unsigned int __sc_queue_admit_handle_locked(struct sc_cache *c,
							  size_t cost)
{
	sc_cache_assert_locked(c);
	return sc_cache_s3fifo(c) && cost > c->small_max ? SC_ENTRY_MAIN : 0;
}

/*
 * A string entry the victim order chose has been unlinked: S3-FIFO's
 * ghost remembers it, and the queue it left. @hash: its policy hash.
 */
static inline void __sc_queue_evicted_locked(struct sc_cache *c,
					     const struct sc_entry *e,
					     uint64_t hash)
{
	sc_cache_assert_locked(c);
	if (c->ghost)
		sc_ghost_add(c->ghost, hash, sc_entry_flags(e) & SC_ENTRY_MAIN);
}

/*
 * An insert's ghost bucket, prefetched as soon as the key is hashed,
 * before the lock: the miss overlaps the entry's allocation and the
 * lock. The hints are written under the lock when the ghost changes and
 * read here without it: a stale pair prefetches a line that is not the
 * bucket, or one freed, which costs nothing (a prefetch never faults).
 */
static inline void sc_queue_ghost_prefetch(struct sc_cache *c, uint64_t hash)
{
	uint32_t(*slots)[SC_GHOST_WAYS];
	size_t nb;

	if (!sc_cache_s3fifo(c))
		return;
	nb = atomic_load_explicit(&c->ghost_hint_buckets, memory_order_relaxed);
	slots = atomic_load_explicit(&c->ghost_hint_slots,
				     memory_order_relaxed);
	if (slots && nb)
		__builtin_prefetch(slots[sc_ghost_bucket_of(nb, hash)], 1);
}
/* Sum of the live logs' counters. */
SC_HIDDEN void __sc_hitlog_counts_locked(struct sc_cache *c,
					 unsigned long long *hits,
					 unsigned long long *misses);
SC_HIDDEN size_t __sc_hitlog_bytes_locked(struct sc_cache *c);
/* sc_cache_free(): let go of every log. */
SC_HIDDEN void sc_hitlog_release_all(struct sc_cache *c);
/*
 * A reader's backlog: drain its log @own now, if the lock is free, and
 * the logs whose runs began before its own (core/queue.c).
 */
SC_HIDDEN void sc_queue_drain_try(struct sc_cache *c, struct sc_hitlog *own);

#endif /* SC_CORE_QUEUE_H */
