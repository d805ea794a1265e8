// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sc-bench-cache: slabcache against Qt 6 QCache<QByteArray, T>, a uthash +
 * utlist LRU, the same striped 64 ways, and liburcu's cds_lfht (lookups
 * only), side by side, interleaved, in one process.
 *
 * Setup shared by every peer (perf notes §2 and §6.2):
 * - keys of 16 or 64 bytes (15 or 63 characters + NUL), pre-copied into
 *   sequential request buffers, so only the caches' own structures miss;
 * - cost 1 per entry, limit N, so every peer holds the same N keys;
 * - values are one opaque pointer, never allocated or dereferenced;
 * - Zipf streams (YCSB generator) map ranks to keys through one shared
 *   rank -> key permutation per key space.
 *
 * Per round, each peer in turn runs the whole script on a fresh cache:
 * fill, find-hit (uniform, Zipf 0.99), find-miss, isolated find latency,
 * insert with eviction and its isolated latency, clear; then remove; then
 * get-or-insert Zipf 0.8 over 4x the capacity (warm-up stream, then a
 * measured stream); then the shared-cache phases with each thread count
 * (peers that are not thread-safe get a mutex): find-hit, get/put, a
 * 95 % get / 5 % insert mix and get-or-insert; for slabcache alone, add
 * and find_key with handle keys. Round 0 is a warm-up and is not recorded.
 *
 * Bytes per entry are taken three times: after the fill, after the
 * insert-evict phase (the cache full, N entries evicted since), and after
 * the mix with the most threads; so memory that an entry holds only
 * after it has gone (deferred frees) or that only threads create
 * (per-thread structures) is counted too.
 *
 * --vg PHASE runs one phase of one peer once, for valgrind; with --vg-skip
 * it does everything but the measured loop, so the difference between
 * the two runs is the measured loop alone (tools/bench/vg-companion.sh).
 *
 * Threads and locks: only the shared phases start worker threads. They
 * share the cache under test and, for a peer that is not thread-safe, one
 * pthread mutex taken around each operation (the only lock here); each
 * writes its own struct worker, read by the main thread after the join.
 * A shared phase splits one request stream among its threads, so every
 * thread count does the same total work; with more threads than CPUs the
 * scheduler preempts threads in the middle of operations, lock holders
 * included, which is what the 4- and 8-thread figures are for.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <slabcache.h>

#include "cache_peers.h"
#include "harness.h"

char bench_cache_value[64];

#define MAX_LIST 8
#define MAX_THREADS 16

/* --peers names, in the default order */
static const struct {
	const char *key;
	const struct cache_peer *peer;
} all_peers[] = {
	{ "slabcache", &cache_peer_slabcache },
	{ "slabcache-sieve", &cache_peer_slabcache_sieve },
	{ "slabcache-s3fifo", &cache_peer_slabcache_s3fifo },
#ifdef SC_BENCH_WITH_REF
	{ "slabcache-ref", &cache_peer_slabcache_ref },
#endif
	{ "qcache", &cache_peer_qcache },
	{ "qcache-seed0", &cache_peer_qcache_seed0 },
	{ "uthash", &cache_peer_uthash },
	{ "striped", &cache_peer_striped },
	{ "lfht", &cache_peer_lfht },
};

#define NR_PEERS (sizeof(all_peers) / sizeof(all_peers[0]))

struct config {
	size_t ns[MAX_LIST], nr_ns;
	size_t slots[MAX_LIST], nr_slots;
	size_t threads[MAX_LIST], nr_threads;
	const struct cache_peer *peers[NR_PEERS];
	size_t nr_peers;
	size_t ops;
	size_t lat_ops;
	unsigned int rounds;
	uint64_t seed;
	const char *csv;
	const char *vg_phase;
	bool vg_skip;
	bool memory_only;
	bool shared_only; /* fill and shared phases only */
	unsigned int shared; /* SHARED_* bits: which shared phases run */
	/* threads that look up once, then wait out each shared step */
	unsigned int idle_readers;
};

/* The shared-cache (threaded) phases. */
enum shared_phase {
	SHARED_FIND,
	SHARED_GET,
	SHARED_MIX,
	SHARED_GOI,
	NR_SHARED,
};

static const struct {
	const char *key, *phase, *workload;
} shared_names[NR_SHARED] = {
	[SHARED_FIND] = { "find", "find-hit shared", "uniform" },
	[SHARED_GET] = { "get", "get/put shared", "uniform" },
	[SHARED_MIX] = { "mix", "mix shared", "95% get 5% insert" },
	[SHARED_GOI] = { "goi", "get-or-insert shared", "zipf0.8" },
};

/* Share of inserts in the mix, per mille. */
#define MIX_INSERT_PERMILLE 50

/* Request streams of one (N, key size) setting, shared by all peers. */
struct streams {
	size_t n, slot, ops;
	char *fill; /* n keys, fill order */
	char *remove; /* n keys, another order */
	char *uni; /* ops hits, uniform */
	uint32_t *uni_ids; /* their key ids, for the handle-key phase */
	char *zipf; /* ops hits, Zipf 0.99 over n */
	char *miss; /* ops keys never inserted */
	char *fresh; /* ops new keys, for insert with eviction */
	char *goi_warm, *goi; /* ops each, Zipf 0.8 over 4n */
	/* per request of the uniform stream: 1 to insert it (the mix) */
	uint8_t *mix_insert;
};

enum {
	S_FILL = 1 << 0,
	S_REMOVE = 1 << 1,
	S_UNI = 1 << 2,
	S_ZIPF = 1 << 3,
	S_MISS = 1 << 4,
	S_FRESH = 1 << 5,
	S_GOI = 1 << 6,
	S_MIX = 1 << 7,
	S_ALL = (1 << 8) - 1,
};

/* Each stream draws from its own generator, so building only some of them
 * (valgrind mode) gives the same keys as building all. */
static void stream_rng(struct bench_rng *rng, uint64_t seed, size_t n,
		       size_t slot, unsigned int stream)
{
	bench_rng_seed(rng, seed ^ (n * 131 + slot) ^ ((uint64_t)stream << 40));
}

static void streams_build(struct streams *s, size_t n, size_t slot, size_t ops,
			  uint64_t seed, unsigned int want)
{
	struct bench_rng rng;
	struct bench_zipf z;
	uint32_t *perm = bench_xmalloc(4 * n * sizeof(*perm));
	uint32_t *ids = bench_xmalloc((ops > n ? ops : n) * sizeof(*ids));

	memset(s, 0, sizeof(*s));
	s->n = n;
	s->slot = slot;
	s->ops = ops;
	if (want & S_FILL) {
		stream_rng(&rng, seed, n, slot, S_FILL);
		bench_perm(perm, n, &rng);
		s->fill = bench_keys_alloc(perm, n, slot);
	}
	if (want & S_REMOVE) {
		stream_rng(&rng, seed, n, slot, S_REMOVE);
		bench_perm(perm, n, &rng);
		s->remove = bench_keys_alloc(perm, n, slot);
	}
	if (want & S_UNI) {
		stream_rng(&rng, seed, n, slot, S_UNI);
		for (size_t i = 0; i < ops; i++)
			ids[i] = (uint32_t)bench_rng_below(&rng, n);
		s->uni = bench_keys_alloc(ids, ops, slot);
		s->uni_ids = bench_xmalloc(ops * sizeof(*s->uni_ids));
		memcpy(s->uni_ids, ids, ops * sizeof(*ids));
	}
	if (want & S_ZIPF) {
		/* one rank -> key permutation for the key space of n */
		stream_rng(&rng, seed, n, slot, S_ZIPF);
		bench_perm(perm, n, &rng);
		bench_zipf_init(&z, n, 0.99);
		for (size_t i = 0; i < ops; i++)
			ids[i] = perm[bench_zipf_next(&z, &rng)];
		s->zipf = bench_keys_alloc(ids, ops, slot);
	}
	if (want & S_MISS) {
		stream_rng(&rng, seed, n, slot, S_MISS);
		for (size_t i = 0; i < ops; i++)
			ids[i] = (uint32_t)(n + bench_rng_below(&rng, n));
		s->miss = bench_keys_alloc(ids, ops, slot);
	}
	if (want & S_FRESH) {
		for (size_t i = 0; i < ops; i++)
			ids[i] = (uint32_t)(2 * n + i);
		s->fresh = bench_keys_alloc(ids, ops, slot);
	}
	if (want & S_GOI) {
		/* both streams share the rank -> key permutation */
		stream_rng(&rng, seed, n, slot, S_GOI);
		bench_perm(perm, 4 * n, &rng);
		bench_zipf_init(&z, 4 * n, 0.8);
		for (size_t i = 0; i < ops; i++)
			ids[i] = perm[bench_zipf_next(&z, &rng)];
		s->goi_warm = bench_keys_alloc(ids, ops, slot);
		for (size_t i = 0; i < ops; i++)
			ids[i] = perm[bench_zipf_next(&z, &rng)];
		s->goi = bench_keys_alloc(ids, ops, slot);
	}
	if (want & S_MIX) {
		stream_rng(&rng, seed, n, slot, S_MIX);
		s->mix_insert = bench_xmalloc(ops);
		for (size_t i = 0; i < ops; i++)
			s->mix_insert[i] = bench_rng_below(&rng, 1000) <
					   MIX_INSERT_PERMILLE;
	}
	free(ids);
	free(perm);
}

static void streams_free(struct streams *s)
{
	free(s->fill);
	free(s->remove);
	free(s->uni);
	free(s->uni_ids);
	free(s->zipf);
	free(s->miss);
	free(s->fresh);
	free(s->goi_warm);
	free(s->goi);
	free(s->mix_insert);
}

/* ------------------------------------------------------------ recording */

/*
 * The process allocator's count, the bytes the library maps itself, and
 * slabcache's slab bytes, at a point.
 */
struct mem_mark {
	size_t heap, mapped, slab;
};

/* One peer's state through a round's steps. */
struct round_ctx {
	const struct config *cfg;
	const struct streams *s;
	const struct cache_peer *p;
	bool record;
	/* this peer's isolated-latency histograms: find-hit, insert-evict */
	struct bench_hist *lat_find, *lat_insert;
	/* the peer's full cache between steps, or NULL */
	void *c;
	/*
	 * Library bytes that c holds: the growth since before it was created,
	 * summed over this peer's own steps only (the other peers' steps run
	 * in between).
	 */
	double held;
};

/* slabcache under any policy: its slabs count in its bytes per entry */
static bool is_slabcache(const struct round_ctx *rc)
{
	return rc->p == &cache_peer_slabcache ||
	       rc->p == &cache_peer_slabcache_sieve ||
	       rc->p == &cache_peer_slabcache_s3fifo;
}

static struct mem_mark mem_mark(const struct round_ctx *rc)
{
	struct mem_mark m = { bench_heap_allocated(), bench_mapped_bytes(), 0 };

	if (is_slabcache(rc))
		m.slab = bench_slab_bytes();
	return m;
}

/*
 * Library bytes held since @m: the heap's growth, and what the library
 * mapped itself (its large blocks: index, handle array, ghost; with the
 * libc backend its slabs too), which the heap count does not see.
 * Everything counts: slabs, index, per-thread structures, and entries
 * already removed whose memory waits to be freed.
 */
static double bytes_since(const struct round_ctx *rc, const struct mem_mark *m)
{
	(void)rc;
	return (double)bench_heap_allocated() - (double)m->heap +
	       (double)bench_mapped_bytes() - (double)m->mapped;
}

static struct bench_row *row(const struct round_ctx *rc, const char *phase,
			     const char *workload, unsigned int threads)
{
	return bench_row("cache", phase, workload, rc->p->name, rc->s->n,
			 rc->s->slot, threads);
}

static void record(const struct round_ctx *rc, const char *phase,
		   const char *workload, unsigned int threads, uint64_t ns,
		   size_t ops, double hit_ratio)
{
	struct bench_row *r;

	if (!rc->record || !ops)
		return;
	r = row(rc, phase, workload, threads);
	bench_samples_add(&r->ns, (double)ns / (double)ops);
	if (!isnan(hit_ratio))
		r->hit_ratio = hit_ratio;
}

/*
 * Record bytes per entry of the peer's cache on a row: what it holds
 * (rc->held), and the peer's own count of its memory when it keeps one
 * (sc_cache_memory()).
 */
static void record_memory(const struct round_ctx *rc, const char *phase,
			  const char *workload, unsigned int threads)
{
	size_t count = rc->p->count(rc->c);
	double own = NAN;
	struct bench_row *r;

	if (!rc->record)
		return;
	if (rc->p->memory && count)
		own = (double)rc->p->memory(rc->c) / (double)count;
	r = row(rc, phase, workload, threads);
	r->bytes_per_entry = count ? rc->held / (double)count : NAN;
	if (!isnan(own)) {
		r->extra = own;
		snprintf(r->extra_name, sizeof(r->extra_name),
			 "own count B/entry");
	}
}

/*
 * An exact peer must see @want; the striped peer holds fewer keys. Each
 * (peer, phase, n) is reported once: a peer that misses does so in every
 * round (QCache's insert of a key it holds evicts another entry first,
 * so its mix misses a few gets).
 */
static void check_hits(const struct round_ctx *rc, const char *phase,
		       size_t got, size_t want)
{
	static char seen[64][128];
	static size_t nr_seen;
	char key[128];

	if (got == want || rc->p->inexact)
		return;
	snprintf(key, sizeof(key), "%s %s n=%zu", rc->p->name, phase, rc->s->n);
	for (size_t i = 0; i < nr_seen; i++)
		if (!strcmp(seen[i], key))
			return;
	if (nr_seen < sizeof(seen) / sizeof(seen[0]))
		memcpy(seen[nr_seen++], key, sizeof(key));
	fprintf(stderr, "note: %s: %zu of %zu expected (reported once)\n", key,
		got, want);
}

static void *create_or_die(const struct cache_peer *p, size_t limit)
{
	void *c = p->create(limit);

	if (!c) {
		fprintf(stderr, "bench: %s: create failed: %s\n", p->name,
			strerror(errno));
		exit(2);
	}
	return c;
}

/* Fill a fresh cache untimed. */
static void *filled(const struct round_ctx *rc)
{
	const struct streams *s = rc->s;
	void *c = create_or_die(rc->p, s->n);

	rc->p->insert_batch(c, s->fill, s->slot, s->n);
	return c;
}

/* Small caches repeat their O(n) phases up to this many operations. */
static size_t reps_for(const struct round_ctx *rc)
{
	size_t min_ops = rc->cfg->ops / 4;
	size_t reps = (min_ops + rc->s->n - 1) / rc->s->n;

	return reps ? reps : 1;
}

/* --------------------------------------------------------------- phases */

/* Fill a fresh cache, timed; it becomes rc->c, its bytes rc->held. */
static void phase_fill(struct round_ctx *rc)
{
	const struct streams *s = rc->s;
	const struct cache_peer *p = rc->p;
	size_t reps = reps_for(rc), stored = 0;
	struct mem_mark m = { 0 };
	uint64_t total = 0;
	void *c = NULL;

	for (size_t r = 0; r < reps; r++) {
		uint64_t t0;

		if (c)
			p->destroy(c);
		m = mem_mark(rc);
		c = create_or_die(p, s->n);
		t0 = bench_now_ns();
		stored = p->insert_batch(c, s->fill, s->slot, s->n);
		total += bench_now_ns() - t0;
	}
	rc->c = c;
	rc->held = bytes_since(rc, &m);
	if (rc->record) {
		/* measured before row() may grow the row table */
		double slab = ((double)bench_slab_bytes() - (double)m.slab) /
			      (double)s->n;
		struct bench_row *br = row(rc, "fill", "unique", 1);

		br->bytes_per_entry = rc->held / (double)s->n;
		if (is_slabcache(rc)) {
			br->extra = slab;
			snprintf(br->extra_name, sizeof(br->extra_name),
				 "slab B/entry");
		}
	}
	check_hits(rc, "fill", stored, s->n);
	record(rc, "fill", "unique", 1, total, reps * s->n, NAN);
}

/* A full cache for the shared phases, untimed, unless there is one. */
static void refill(struct round_ctx *rc)
{
	struct mem_mark m;

	if (rc->c)
		return;
	m = mem_mark(rc);
	rc->c = filled(rc);
	rc->held = bytes_since(rc, &m);
}

static void drop(struct round_ctx *rc)
{
	if (rc->c)
		rc->p->destroy(rc->c);
	rc->c = NULL;
	rc->held = 0;
}

static void phase_find(const struct round_ctx *rc, void *c, const char *reqs,
		       const char *phase, const char *workload, bool hit)
{
	const struct streams *s = rc->s;
	uint64_t t0 = bench_now_ns();
	size_t hits = rc->p->find_batch(c, reqs, s->slot, s->ops);
	uint64_t t = bench_now_ns() - t0;

	check_hits(rc, phase, hits, hit ? s->ops : 0);
	record(rc, phase, workload, 1, t, s->ops, (double)hits / s->ops);
}

static void phase_latency(const struct round_ctx *rc, void *c)
{
	const struct streams *s = rc->s;
	size_t n = rc->cfg->lat_ops < s->ops ? rc->cfg->lat_ops : s->ops;

	/* The uniform stream backwards: hits on keys in a random order. */
	for (size_t i = 0; i < n; i++) {
		const char *k = s->uni + (s->ops - 1 - i) * s->slot;
		uint64_t t0 = bench_tsc();
		bool hit = rc->p->find_one(c, k, s->slot - 1);
		uint64_t t1 = bench_tsc();

		bench_keep(hit);
		if (rc->record)
			bench_hist_record(rc->lat_find,
					  bench_ticks_to_ns(t1 - t0));
	}
}

/*
 * Single inserts into the full cache, each evicting one entry: keys of the
 * miss stream (never inserted before), one at a time through the batch
 * function with n = 1, the same call for every peer.
 */
static void phase_insert_latency(const struct round_ctx *rc, void *c)
{
	const struct streams *s = rc->s;
	size_t n = rc->cfg->lat_ops < s->ops ? rc->cfg->lat_ops : s->ops;

	for (size_t i = 0; i < n; i++) {
		const char *k = s->miss + i * s->slot;
		uint64_t t0 = bench_tsc();
		size_t stored = rc->p->insert_batch(c, k, s->slot, 1);
		uint64_t t1 = bench_tsc();

		bench_keep(stored);
		if (rc->record)
			bench_hist_record(rc->lat_insert,
					  bench_ticks_to_ns(t1 - t0));
	}
}

/* Inserts of new keys into the full cache, each evicting one entry. */
static void phase_insert_evict(const struct round_ctx *rc, void *c)
{
	const struct streams *s = rc->s;
	uint64_t t0 = bench_now_ns();
	size_t stored = rc->p->insert_batch(c, s->fresh, s->slot, s->ops);
	uint64_t t = bench_now_ns() - t0;

	check_hits(rc, "insert-evict", stored, s->ops);
	check_hits(rc, "insert-evict count", rc->p->count(c), s->n);
	record(rc, "insert-evict", "new keys", 1, t, s->ops, NAN);
}

static void phase_clear(const struct round_ctx *rc, void *c)
{
	size_t reps = reps_for(rc), cleared = 0;
	uint64_t total = 0;

	for (size_t r = 0; r < reps; r++) {
		uint64_t t0;
		size_t count;

		if (r)
			rc->p->insert_batch(c, rc->s->fill, rc->s->slot,
					    rc->s->n);
		count = rc->p->count(c);
		t0 = bench_now_ns();
		rc->p->clear(c);
		total += bench_now_ns() - t0;
		cleared += count;
	}
	check_hits(rc, "clear", rc->p->count(c), 0);
	record(rc, "clear", "per entry", 1, total, cleared, NAN);
}

static void phase_remove(const struct round_ctx *rc)
{
	const struct streams *s = rc->s;
	size_t reps = reps_for(rc), removed = 0;
	uint64_t total = 0;

	for (size_t r = 0; r < reps; r++) {
		void *c = filled(rc);
		uint64_t t0 = bench_now_ns();

		removed += rc->p->remove_batch(c, s->remove, s->slot, s->n);
		total += bench_now_ns() - t0;
		rc->p->destroy(c);
	}
	check_hits(rc, "remove", removed, reps * s->n);
	record(rc, "remove", "random order", 1, total, reps * s->n, NAN);
}

static void phase_get_or_insert(const struct round_ctx *rc)
{
	const struct streams *s = rc->s;
	void *c = create_or_die(rc->p, s->n);
	uint64_t t0, t;
	size_t hits;

	rc->p->get_or_insert_batch(c, s->goi_warm, s->slot, s->ops);
	t0 = bench_now_ns();
	hits = rc->p->get_or_insert_batch(c, s->goi, s->slot, s->ops);
	t = bench_now_ns() - t0;
	record(rc, "get-or-insert", "zipf0.8", 1, t, s->ops,
	       (double)hits / s->ops);
	rc->p->destroy(c);
}

/* ------------------------------------------------------ shared (threads) */

struct worker {
	pthread_t tid;
	const struct cache_peer *p;
	void *cache;
	pthread_mutex_t *lock; /* NULL for thread-safe peers */
	struct start_gate *start;
	const char *reqs;
	const uint8_t *insert; /* the mix: 1 where request i is an insert */
	size_t slot, n;
	enum shared_phase phase;
	size_t hits, gets;
	uint64_t t_start, t_end, cpu_ns;
};

/*
 * The workers of one step start together: each one arrives and yields
 * until all have. A pthread barrier put the late ones to sleep, and on
 * this VM a futex wake-up often took more than a millisecond, in steps
 * of 15 to 30 ms of wall time that run from the first start to the last
 * end: the thread count's figure then counted time one thread ran alone.
 */
struct start_gate {
	atomic_uint arrived;
	unsigned int n;
};

static void start_gate_wait(struct start_gate *g)
{
	atomic_fetch_add_explicit(&g->arrived, 1, memory_order_acq_rel);
	while (atomic_load_explicit(&g->arrived, memory_order_acquire) < g->n)
		sched_yield();
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct cache_peer *p = w->p;
	bool (*lookup)(void *, const char *, size_t) = p->get_one_mt;
	size_t hits = 0, gets = 0, len = w->slot - 1;

	if (w->phase == SHARED_FIND)
		lookup = p->find_one;
	else if (w->phase == SHARED_GOI)
		lookup = p->get_or_insert_one_mt;
	if (p->thread_enter)
		p->thread_enter();
	start_gate_wait(w->start);
	w->cpu_ns = bench_thread_cpu_ns();
	w->t_start = bench_now_ns();
	for (size_t i = 0; i < w->n; i++) {
		const char *k = w->reqs + i * w->slot;
		bool insert = w->insert && w->insert[i];

		if (w->lock)
			pthread_mutex_lock(w->lock);
		if (insert)
			p->insert_batch(w->cache, k, w->slot, 1);
		else
			hits += lookup(w->cache, k, len);
		if (w->lock)
			pthread_mutex_unlock(w->lock);
		gets += !insert;
	}
	w->t_end = bench_now_ns();
	w->cpu_ns = bench_thread_cpu_ns() - w->cpu_ns;
	if (p->thread_exit)
		p->thread_exit();
	w->hits = hits;
	w->gets = gets;
	return NULL;
}

/*
 * A pool's idle workers: each looks one key up (so that the library
 * knows it as a thread that uses the cache, as a daemon's worker that
 * served a request is) and then sleeps until the step's workers are
 * done, as a worker blocked in epoll_wait() does.
 */
struct idle_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	unsigned int ready;
	const struct cache_peer *p;
	void *cache;
	const char *key;
	size_t len;
};

static void *idle_main(void *arg)
{
	struct idle_pool *ip = arg;

	if (ip->p->thread_enter)
		ip->p->thread_enter();
	ip->p->find_one(ip->cache, ip->key, ip->len);
	pthread_mutex_lock(&ip->lock);
	ip->ready++;
	pthread_cond_broadcast(&ip->cond);
	while (!ip->done)
		pthread_cond_wait(&ip->cond, &ip->lock);
	pthread_mutex_unlock(&ip->lock);
	if (ip->p->thread_exit)
		ip->p->thread_exit();
	return NULL;
}

/* Start @n idle workers and wait until each has looked its key up. */
static void idle_start(struct idle_pool *ip, pthread_t *tids, unsigned int n)
{
	for (unsigned int t = 0; t < n; t++)
		if (pthread_create(&tids[t], NULL, idle_main, ip)) {
			fprintf(stderr, "bench: pthread_create failed\n");
			exit(2);
		}
	pthread_mutex_lock(&ip->lock);
	while (ip->ready < n)
		pthread_cond_wait(&ip->cond, &ip->lock);
	pthread_mutex_unlock(&ip->lock);
}

static void idle_stop(struct idle_pool *ip, pthread_t *tids, unsigned int n)
{
	pthread_mutex_lock(&ip->lock);
	ip->done = true;
	pthread_cond_broadcast(&ip->cond);
	pthread_mutex_unlock(&ip->lock);
	for (unsigned int t = 0; t < n; t++)
		pthread_join(tids[t], NULL);
}

/*
 * Run @reqs split among @nt threads; return the wall time in ns, from the
 * first worker's start to the last one's end (each worker reads the clock
 * itself: the main thread may be scheduled late on a loaded machine).
 * @insert marks the mix's inserts, NULL elsewhere. *@cpus: the threads'
 * CPU time over that wall time.
 */
static uint64_t run_shared(const struct round_ctx *rc, void *c,
			   const char *reqs, const uint8_t *insert,
			   enum shared_phase phase, unsigned int nt,
			   size_t *hits, size_t *gets, double *cpus)
{
	uint64_t cpu_ns = 0;
	struct worker w[MAX_THREADS];
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct start_gate start = { .n = nt };
	size_t per = rc->s->ops / nt;
	uint64_t first = UINT64_MAX, last = 0;
	unsigned int nr_idle = rc->p->thread_safe ? rc->cfg->idle_readers : 0;
	pthread_t idle[MAX_THREADS];
	struct idle_pool ip = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
		.p = rc->p,
		.cache = c,
		.key = reqs,
		.len = rc->s->slot - 1,
	};

	idle_start(&ip, idle, nr_idle);
	for (unsigned int t = 0; t < nt; t++) {
		w[t] = (struct worker){
			.p = rc->p,
			.cache = c,
			.lock = rc->p->thread_safe ? NULL : &lock,
			.start = &start,
			.reqs = reqs + t * per * rc->s->slot,
			.insert = insert ? insert + t * per : NULL,
			.slot = rc->s->slot,
			.n = per,
			.phase = phase,
		};
		if (pthread_create(&w[t].tid, NULL, worker_main, &w[t])) {
			fprintf(stderr, "bench: pthread_create failed\n");
			exit(2);
		}
	}
	*hits = *gets = 0;
	for (unsigned int t = 0; t < nt; t++) {
		pthread_join(w[t].tid, NULL);
		*hits += w[t].hits;
		*gets += w[t].gets;
		cpu_ns += w[t].cpu_ns;
		if (w[t].t_start < first)
			first = w[t].t_start;
		if (w[t].t_end > last)
			last = w[t].t_end;
	}
	idle_stop(&ip, idle, nr_idle);
	*cpus = last > first ? (double)cpu_ns / (double)(last - first) : NAN;
	return last - first;
}

static void shared_one(const struct round_ctx *rc, void *c,
		       enum shared_phase ph, unsigned int nt)
{
	const struct streams *s = rc->s;
	const char *reqs = ph == SHARED_GOI ? s->goi : s->uni;
	size_t per = s->ops / nt * nt, hits, gets;
	uint64_t t;
	double cpus;

	t = run_shared(rc, c, reqs, ph == SHARED_MIX ? s->mix_insert : NULL, ph,
		       nt, &hits, &gets, &cpus);
	/* every get hits: the mix's inserts replace keys of the N */
	if (ph != SHARED_GOI)
		check_hits(rc, shared_names[ph].phase, hits, gets);
	record(rc, shared_names[ph].phase, shared_names[ph].workload, nt, t,
	       per, gets ? (double)hits / (double)gets : NAN);
	if (rc->record && !isnan(cpus)) {
		struct bench_row *r = row(rc, shared_names[ph].phase,
					  shared_names[ph].workload, nt);

		bench_samples_add(&r->cpus, cpus);
	}
}

/*
 * slabcache only: handle keys (QPixmapCache::Key semantics), which no peer
 * has. add N values, then find_key on the uniform stream with its handles
 * pre-resolved into a sequential request array, as string keys are
 * pre-copied.
 */
static void phase_handle_keys(const struct round_ctx *rc)
{
	const struct streams *s = rc->s;
	sc_key_t *handles = bench_xmalloc(s->n * sizeof(*handles));
	sc_key_t *reqs = bench_xmalloc(s->ops * sizeof(*reqs));
	struct sc_cache_config cfg = {
		.name = "bench-keys",
		.limit = s->n,
		.flags = SC_CACHE_NO_SHRINKER,
	};
	struct sc_cache *c = sc_cache_create(&cfg);
	size_t hits = 0, added = 0;
	uint64_t t0, t;

	if (!c) {
		fprintf(stderr, "bench: sc_cache_create: %s\n",
			strerror(errno));
		exit(2);
	}
	t0 = bench_now_ns();
	for (size_t i = 0; i < s->n; i++) {
		handles[i] = sc_cache_add(c, bench_cache_value, 1);
		added += handles[i].id != SC_KEY_NONE.id;
	}
	t = bench_now_ns() - t0;
	check_hits(rc, "add (handle keys)", added, s->n);
	record(rc, "add (handle keys)", "unique", 1, t, s->n, NAN);

	for (size_t i = 0; i < s->ops; i++)
		reqs[i] = handles[s->uni_ids[i]];
	t0 = bench_now_ns();
	for (size_t i = 0; i < s->ops; i++)
		hits += sc_cache_find_key(c, reqs[i]) != NULL;
	t = bench_now_ns() - t0;
	check_hits(rc, "find-key (handle keys)", hits, s->ops);
	record(rc, "find-key (handle keys)", "uniform", 1, t, s->ops,
	       (double)hits / s->ops);
	sc_cache_destroy(c);
	free(reqs);
	free(handles);
}

/* ---------------------------------------------------------------- steps */

/*
 * A round is a script of steps; each step runs for every peer before the
 * next step starts (in reverse peer order every other round), so that the
 * peers' runs of one phase lie close together in time and a slow spell of
 * the host hits all of them, not one peer's whole script. Every peer keeps
 * its own cache (rc->c) from step to step.
 */
enum step_kind {
	ST_FILL, /* timed fill: rc->c */
	ST_FIND_UNI,
	ST_FIND_ZIPF,
	ST_FIND_MISS,
	ST_LATENCY,
	ST_INSERT_EVICT,
	ST_MEM_CHURN, /* bytes per entry after insert-evict */
	ST_INSERT_LATENCY,
	ST_CLEAR,
	ST_DROP, /* destroy rc->c */
	ST_REMOVE, /* on caches of their own */
	ST_GOI,
	ST_REFILL, /* a full rc->c for the shared lookups, if none */
	ST_SHARED, /* one shared phase at one thread count */
	ST_MIX_FILL, /* a fresh full rc->c for the mix */
	ST_MEM_MIX, /* bytes per entry after the mix, then drop */
	ST_HANDLE_KEYS, /* slabcache only */
};

struct step {
	enum step_kind kind;
	enum shared_phase ph;
	unsigned int nt;
};

#define MAX_STEPS (16 + NR_SHARED * MAX_LIST + 4)

static size_t script_add(struct step *sc, size_t n, enum step_kind kind,
			 enum shared_phase ph, unsigned int nt)
{
	sc[n] = (struct step){ .kind = kind, .ph = ph, .nt = nt };
	return n + 1;
}

static size_t script_build(const struct config *cfg, struct step *sc)
{
	size_t n = 0;
	unsigned int last_nt = 1;

	n = script_add(sc, n, ST_FILL, 0, 1);
	if (cfg->memory_only)
		return script_add(sc, n, ST_DROP, 0, 1);
	if (!cfg->shared_only) {
		static const enum step_kind single[] = {
			ST_FIND_UNI,	   ST_FIND_ZIPF,    ST_FIND_MISS,
			ST_LATENCY,	   ST_INSERT_EVICT, ST_MEM_CHURN,
			ST_INSERT_LATENCY, ST_CLEAR,	    ST_DROP,
			ST_REMOVE,	   ST_GOI,
		};

		for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++)
			n = script_add(sc, n, single[i], 0, 1);
	}
	for (int ph = 0; ph < NR_SHARED; ph++) {
		if (!(cfg->shared & (1u << ph)))
			continue;
		if (ph == SHARED_FIND || ph == SHARED_GET)
			n = script_add(sc, n, ST_REFILL, 0, 1);
		else if (ph == SHARED_MIX)
			n = script_add(sc, n, ST_MIX_FILL, ph, 1);
		for (size_t t = 0; t < cfg->nr_threads; t++) {
			last_nt = (unsigned int)cfg->threads[t];
			n = script_add(sc, n, ST_SHARED, ph, last_nt);
		}
		if (ph == SHARED_MIX)
			n = script_add(sc, n, ST_MEM_MIX, ph, last_nt);
	}
	n = script_add(sc, n, ST_DROP, 0, 1);
	if (!cfg->shared_only)
		n = script_add(sc, n, ST_HANDLE_KEYS, 0, 1);
	return n;
}

/* Steps that use the peer's cache: their memory growth is the cache's. */
static bool step_tracks_memory(const struct step *st)
{
	switch (st->kind) {
	case ST_FIND_UNI:
	case ST_FIND_ZIPF:
	case ST_FIND_MISS:
	case ST_LATENCY:
	case ST_INSERT_EVICT:
	case ST_INSERT_LATENCY:
		return true;
	case ST_SHARED:
		return st->ph != SHARED_GOI;
	default:
		return false;
	}
}

static bool step_runs(const struct round_ctx *rc, const struct step *st)
{
	const struct cache_peer *p = rc->p;

	switch (st->kind) {
	case ST_INSERT_EVICT:
	case ST_MEM_CHURN:
	case ST_INSERT_LATENCY:
	case ST_CLEAR:
	case ST_REMOVE:
	case ST_GOI:
	case ST_MIX_FILL:
	case ST_MEM_MIX:
		return !p->lookups_only;
	case ST_SHARED:
		return !p->lookups_only || st->ph == SHARED_FIND ||
		       st->ph == SHARED_GET;
	case ST_HANDLE_KEYS:
		return is_slabcache(rc);
	default:
		return true;
	}
}

static void run_step(struct round_ctx *rc, const struct step *st)
{
	const struct streams *s = rc->s;
	bool track = step_tracks_memory(st) && rc->c;
	struct mem_mark m = { 0 };

	if (!step_runs(rc, st))
		return;
	if (track)
		m = mem_mark(rc);
	switch (st->kind) {
	case ST_FILL:
		drop(rc);
		phase_fill(rc);
		break;
	case ST_FIND_UNI:
		phase_find(rc, rc->c, s->uni, "find-hit", "uniform", true);
		break;
	case ST_FIND_ZIPF:
		phase_find(rc, rc->c, s->zipf, "find-hit", "zipf0.99", true);
		break;
	case ST_FIND_MISS:
		phase_find(rc, rc->c, s->miss, "find-miss", "uniform", false);
		break;
	case ST_LATENCY:
		phase_latency(rc, rc->c);
		break;
	case ST_INSERT_EVICT:
		phase_insert_evict(rc, rc->c);
		break;
	case ST_MEM_CHURN:
		record_memory(rc, "insert-evict", "new keys", 1);
		break;
	case ST_INSERT_LATENCY:
		phase_insert_latency(rc, rc->c);
		break;
	case ST_CLEAR:
		phase_clear(rc, rc->c);
		break;
	case ST_DROP:
		drop(rc);
		break;
	case ST_REMOVE:
		phase_remove(rc);
		break;
	case ST_GOI:
		phase_get_or_insert(rc);
		break;
	case ST_REFILL:
		refill(rc);
		break;
	case ST_SHARED:
		if (st->ph == SHARED_GOI) {
			/* a fresh cache and its warm-up stream, each time */
			void *c = create_or_die(rc->p, s->n);

			rc->p->get_or_insert_batch(c, s->goi_warm, s->slot,
						   s->ops);
			shared_one(rc, c, st->ph, st->nt);
			rc->p->destroy(c);
		} else {
			shared_one(rc, rc->c, st->ph, st->nt);
		}
		break;
	case ST_MIX_FILL:
		drop(rc);
		refill(rc);
		break;
	case ST_MEM_MIX:
		record_memory(rc, shared_names[st->ph].phase,
			      shared_names[st->ph].workload, st->nt);
		drop(rc);
		break;
	case ST_HANDLE_KEYS:
		phase_handle_keys(rc);
		break;
	}
	if (track)
		rc->held += bytes_since(rc, &m);
}

static struct bench_hist lat_find[NR_PEERS], lat_insert[NR_PEERS];

/* Round @r (0: the warm-up, not recorded) of every peer, step by step. */
static void run_round(const struct config *cfg, const struct streams *s,
		      const struct step *script, size_t nr_steps,
		      unsigned int r)
{
	struct round_ctx rc[NR_PEERS];
	size_t np = cfg->nr_peers;

	for (size_t pi = 0; pi < np; pi++)
		rc[pi] = (struct round_ctx){
			.cfg = cfg,
			.s = s,
			.p = cfg->peers[pi],
			.record = r > 0,
			.lat_find = &lat_find[pi],
			.lat_insert = &lat_insert[pi],
		};
	/* forward on the first recorded round: rows keep the peer order */
	for (size_t i = 0; i < nr_steps; i++)
		for (size_t k = 0; k < np; k++)
			run_step(&rc[r & 1 ? k : np - 1 - k], &script[i]);
	for (size_t pi = 0; pi < np; pi++)
		drop(&rc[pi]);
	bench_heap_purge();
}

/* --------------------------------------------------------- valgrind mode */

/* The phases that run as the shared step of one thread runs them. */
static bool vg_shared_phase(const char *ph)
{
	return !strcmp(ph, "get") || !strcmp(ph, "mix") ||
	       !strcmp(ph, "replace");
}

/*
 * get/put, the mix, or inserts that all replace a key of the cache at
 * the same cost (replace), on the full cache @c, as the one-thread shared
 * step runs them: in one worker thread, while the thread that created and
 * filled the cache keeps its hit log on it, so that the inserts take the
 * path they take when timed.
 * With @run false the worker starts and ends with no requests, so that
 * the difference is the loop alone. Return: the operations of the loop.
 */
static size_t vg_shared(const struct config *cfg, const struct streams *s,
			void *c, const char *ph, bool run)
{
	const struct cache_peer *p = cfg->peers[0];
	struct streams loop = *s;
	struct round_ctx rc = { .cfg = cfg, .s = &loop, .p = p };
	const uint8_t *insert = NULL;
	uint8_t *all = NULL;
	enum shared_phase sp = SHARED_GET;
	size_t hits, gets;
	double cpus;

	p->insert_batch(c, s->fill, s->slot, s->n);
	if (!strcmp(ph, "mix")) {
		sp = SHARED_MIX;
		insert = s->mix_insert;
	} else if (!strcmp(ph, "replace")) {
		sp = SHARED_MIX;
		all = bench_xmalloc(s->ops);
		memset(all, 1, s->ops);
		insert = all;
	}
	if (!run)
		loop.ops = 0;
	run_shared(&rc, c, s->uni, insert, sp, 1, &hits, &gets, &cpus);
	if (run && hits != gets) {
		fprintf(stderr, "bench: --vg %s: %zu hits of %zu gets\n", ph,
			hits, gets);
		exit(2);
	}
	free(all);
	return s->ops;
}

static int vg_run(const struct config *cfg)
{
	const struct cache_peer *p = cfg->peers[0];
	const char *ph = cfg->vg_phase;
	struct streams s;
	size_t ops = 0, n = cfg->ns[0], slot = cfg->slots[0];
	void *c = NULL;
	bool run = !cfg->vg_skip;

	static const struct {
		const char *name;
		unsigned int want;
	} vg_phases[] = {
		{ "fill", S_FILL },
		{ "find-hit", S_FILL | S_UNI },
		{ "find-zipf", S_FILL | S_ZIPF },
		{ "find-miss", S_FILL | S_MISS },
		{ "insert-evict", S_FILL | S_FRESH },
		{ "remove", S_FILL | S_REMOVE },
		{ "clear", S_FILL },
		{ "get-or-insert", S_GOI },
		{ "get", S_FILL | S_UNI },
		{ "mix", S_FILL | S_UNI | S_MIX },
		{ "replace", S_FILL | S_UNI },
	};
	unsigned int want = 0;

	for (size_t i = 0; i < sizeof(vg_phases) / sizeof(vg_phases[0]); i++)
		if (!strcmp(ph, vg_phases[i].name))
			want = vg_phases[i].want;
	if (!want) {
		fprintf(stderr, "bench: unknown --vg phase %s\n", ph);
		return 2;
	}
	if (p->lookups_only && ((want & (S_FRESH | S_REMOVE | S_GOI)) ||
				!strcmp(ph, "mix") || !strcmp(ph, "replace"))) {
		fprintf(stderr, "bench: %s runs lookups only\n", p->name);
		return 2;
	}
	streams_build(&s, n, slot, cfg->ops, cfg->seed, want);
	c = create_or_die(p, n);
	if (vg_shared_phase(ph)) {
		ops = vg_shared(cfg, &s, c, ph, run);
	} else if (!strcmp(ph, "fill")) {
		if (run)
			p->insert_batch(c, s.fill, slot, n);
		ops = n;
	} else if (!strcmp(ph, "get-or-insert")) {
		p->get_or_insert_batch(c, s.goi_warm, slot, s.ops);
		if (run)
			p->get_or_insert_batch(c, s.goi, slot, s.ops);
		ops = s.ops;
	} else {
		p->insert_batch(c, s.fill, slot, n);
		ops = s.ops;
		if (!strcmp(ph, "find-hit") && run)
			p->find_batch(c, s.uni, slot, s.ops);
		else if (!strcmp(ph, "find-zipf") && run)
			p->find_batch(c, s.zipf, slot, s.ops);
		else if (!strcmp(ph, "find-miss") && run)
			p->find_batch(c, s.miss, slot, s.ops);
		else if (!strcmp(ph, "insert-evict") && run)
			p->insert_batch(c, s.fresh, slot, s.ops);
		else if (!strcmp(ph, "remove")) {
			if (run)
				p->remove_batch(c, s.remove, slot, n);
			ops = n;
		} else if (!strcmp(ph, "clear")) {
			/* per entry cleared, as the timed phase counts it */
			if (run)
				p->clear(c);
			ops = n;
		}
	}
	printf("ops=%zu\n", ops);
	fflush(stdout);
	/* No teardown: both runs must end identically after the loop. */
	_exit(0);
}

/* ----------------------------------------------------------------- main */

static void set_latency(struct bench_row *r, const struct bench_hist *h)
{
	r->p50 = bench_hist_quantile(h, 0.5);
	r->p99 = bench_hist_quantile(h, 0.99);
	r->p999 = bench_hist_quantile(h, 0.999);
}

/* "slabcache,qcache,...": the --peers names of this build */
static const char *peer_keys(void)
{
	static char buf[160];
	size_t len = 0;

	for (size_t i = 0; i < NR_PEERS && len < sizeof(buf); i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
					i ? "," : "", all_peers[i].key);
	return buf;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sc-bench-cache [options]\n"
		"  --n LIST        entries, default 1k,100k,1M (--large adds 10M)\n"
		"  --keys LIST     key slot bytes (key length + NUL), default 16,64\n"
		"  --ops N         operations per phase, default 2M\n"
		"  --lat-ops N     isolated-latency samples per round, default 200k\n"
		"  --rounds R      measured rounds after one warm-up, default 5\n"
		"  --threads LIST  shared-cache thread counts, default 1,2,4,8\n"
		"  --shared LIST   shared phases: find,get,mix,goi (default all),\n"
		"                  or none\n"
		"  --shared-only   the fill and the shared phases only\n"
		"  --idle-readers N  N more threads in each shared step that\n"
		"                  look one key up, then sleep until it ends\n"
		"                  (a pool's idle workers), default 0\n"
		"  --peers LIST    %s\n"
		"                  (default all)\n"
		"  --csv FILE      write the rows as CSV\n"
		"  --seed S        stream seed, default 42\n"
		"  --memory        only fill, once per peer: bytes per entry\n"
		"  --vg PHASE      valgrind companion: one phase of the first peer\n"
		"                  (fill find-hit find-zipf find-miss insert-evict\n"
		"                  remove clear get-or-insert; get mix replace:\n"
		"                  get/put, the mix, inserts that replace, in one\n"
		"                  worker thread as the shared step runs them),\n"
		"                  --vg-skip omits its loop\n",
		peer_keys());
}

static int parse_peers(struct config *cfg, const char *list)
{
	char buf[160], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	cfg->nr_peers = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		const struct cache_peer *p = NULL;

		for (size_t i = 0; i < NR_PEERS; i++)
			if (!strcmp(tok, all_peers[i].key))
				p = all_peers[i].peer;
		if (!p || cfg->nr_peers == NR_PEERS)
			return -1;
		cfg->peers[cfg->nr_peers++] = p;
	}
	return cfg->nr_peers ? 0 : -1;
}

static int parse_shared(struct config *cfg, const char *list)
{
	char buf[64], *tok, *save = NULL;

	cfg->shared = 0;
	if (!strcmp(list, "none"))
		return 0;
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int ph = NR_SHARED;

		for (int i = 0; i < NR_SHARED; i++)
			if (!strcmp(tok, shared_names[i].key))
				ph = i;
		if (ph == NR_SHARED)
			return -1;
		cfg->shared |= 1u << ph;
	}
	return cfg->shared ? 0 : -1;
}

/* A count from 0 to @max, digits only. Return: 0, or -1 for bad input. */
static int parse_count(const char *s, unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long n;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *end || n > max)
		return -1;
	*out = (unsigned int)n;
	return 0;
}

static int parse_args(struct config *cfg, int argc, char **argv)
{
	bool large = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = true;

		if (!strcmp(a, "--large")) {
			large = true;
			continue;
		}
		if (!strcmp(a, "--vg-skip")) {
			cfg->vg_skip = true;
			continue;
		}
		if (!strcmp(a, "--memory")) {
			cfg->memory_only = true;
			continue;
		}
		if (!strcmp(a, "--shared-only")) {
			cfg->shared_only = true;
			continue;
		}
		if (!strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!v) {
			usage(stderr);
			return -1;
		}
		i++;
		if (!strcmp(a, "--n"))
			ok = (cfg->nr_ns = bench_parse_list(v, cfg->ns,
							    MAX_LIST)) != 0;
		else if (!strcmp(a, "--keys"))
			ok = (cfg->nr_slots = bench_parse_list(v, cfg->slots,
							       MAX_LIST)) != 0;
		else if (!strcmp(a, "--threads"))
			ok = (cfg->nr_threads = bench_parse_list(
				      v, cfg->threads, MAX_LIST)) != 0;
		else if (!strcmp(a, "--ops"))
			ok = (cfg->ops = bench_parse_size(v)) != 0;
		else if (!strcmp(a, "--lat-ops"))
			ok = (cfg->lat_ops = bench_parse_size(v)) != 0;
		else if (!strcmp(a, "--rounds"))
			ok = (cfg->rounds = (unsigned int)atoi(v)) > 0 &&
			     cfg->rounds < BENCH_MAX_ROUNDS;
		else if (!strcmp(a, "--peers"))
			ok = !parse_peers(cfg, v);
		else if (!strcmp(a, "--shared"))
			ok = !parse_shared(cfg, v);
		else if (!strcmp(a, "--csv"))
			cfg->csv = v;
		else if (!strcmp(a, "--idle-readers"))
			ok = !parse_count(v, MAX_THREADS, &cfg->idle_readers);
		else if (!strcmp(a, "--seed"))
			cfg->seed = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--vg"))
			cfg->vg_phase = v;
		else
			ok = false;
		if (!ok) {
			fprintf(stderr, "sc-bench-cache: bad option %s %s\n", a,
				v);
			usage(stderr);
			return -1;
		}
	}
	for (size_t i = 0; i < cfg->nr_slots; i++)
		if (cfg->slots[i] < 16) {
			fprintf(stderr,
				"sc-bench-cache: keys of at least 16\n");
			return -1;
		}
	for (size_t i = 0; i < cfg->nr_threads; i++)
		if (cfg->threads[i] > MAX_THREADS) {
			fprintf(stderr, "sc-bench-cache: at most %d threads\n",
				MAX_THREADS);
			return -1;
		}
	if (large && cfg->nr_ns < MAX_LIST)
		cfg->ns[cfg->nr_ns++] = 10000000;
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg = {
		.ns = { 1000, 100000, 1000000 },
		.nr_ns = 3,
		.slots = { 16, 64 },
		.nr_slots = 2,
		.threads = { 1, 2, 4, 8 },
		.nr_threads = 4,
		.ops = 2000000,
		.lat_ops = 200000,
		.rounds = 5,
		.seed = 42,
		.shared = (1u << NR_SHARED) - 1,
	};
	struct step script[MAX_STEPS];
	size_t nr_steps;
	unsigned int want = S_ALL;

	for (size_t i = 0; i < NR_PEERS; i++)
		cfg.peers[i] = all_peers[i].peer;
	cfg.nr_peers = NR_PEERS;
	if (parse_args(&cfg, argc, argv))
		return 2;
	if (cfg.vg_phase)
		return vg_run(&cfg);
	nr_steps = script_build(&cfg, script);
	if (cfg.memory_only)
		want = S_FILL;
	else if (cfg.shared_only)
		want = S_FILL | S_UNI | S_MIX |
		       (cfg.shared & (1u << SHARED_GOI) ? S_GOI : 0);

	bench_tsc_calibrate();
	printf("## Cache bench:");
	for (size_t pi = 0; pi < cfg.nr_peers; pi++)
		printf("%s %s", pi ? "," : "", cfg.peers[pi]->name);
	printf("\n\n");
	bench_print_machine(stdout, "");
	printf("%zu ops per phase, %u rounds after a warm-up, interleaved; "
	       "heap figures from %s; empty timer %llu ticks, %.3f ticks/ns\n",
	       cfg.ops, cfg.rounds, bench_heap_source(),
	       (unsigned long long)bench_tsc_overhead(), bench_tsc_per_ns());
	if (cfg.shared) {
		printf("shared phases with");
		for (size_t t = 0; t < cfg.nr_threads; t++)
			printf("%s %zu", t ? "," : "", cfg.threads[t]);
		printf(" threads; ns/op there is wall time over all threads' "
		       "operations\n");
	}
	fflush(stdout);

	for (size_t si = 0; si < cfg.nr_slots; si++) {
		for (size_t ni = 0; ni < cfg.nr_ns; ni++) {
			/* --memory: one fill per peer, nothing to warm up */
			unsigned int last = cfg.memory_only ? 1 : cfg.rounds;
			struct streams s;

			streams_build(&s, cfg.ns[ni], cfg.slots[si], cfg.ops,
				      cfg.seed, want);
			memset(lat_find, 0, sizeof(lat_find));
			memset(lat_insert, 0, sizeof(lat_insert));
			for (unsigned int r = cfg.memory_only; r <= last; r++)
				run_round(&cfg, &s, script, nr_steps, r);
			for (size_t pi = 0;
			     pi < cfg.nr_peers && !cfg.memory_only &&
			     !cfg.shared_only;
			     pi++) {
				const struct cache_peer *p = cfg.peers[pi];

				set_latency(bench_row("cache", "find-hit",
						      "uniform", p->name, s.n,
						      s.slot, 1),
					    &lat_find[pi]);
				if (p->lookups_only)
					continue;
				set_latency(bench_row("cache", "insert-evict",
						      "new keys", p->name, s.n,
						      s.slot, 1),
					    &lat_insert[pi]);
			}
			streams_free(&s);
			/* progress, for long runs */
			fprintf(stderr, "  done: n=%zu key=%zu\n", s.n, s.slot);
		}
	}
	printf("\nat the end: ");
	bench_print_machine(stdout, "");
	bench_report(stdout, cfg.csv, "slabcache", "key B");
	return 0;
}
