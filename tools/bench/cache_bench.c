// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sc-bench-cache: slabcache against Qt 6 QCache<QByteArray, T> and a
 * uthash + utlist LRU, side by side, interleaved, in one process.
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
 * measured stream); then the
 * shared-cache phases with 1..T threads (peers that are not thread-safe
 * get a mutex); for slabcache alone, add and find_key with handle keys.
 * Round 0 is a warm-up and is not recorded.
 *
 * --vg PHASE runs one phase of one peer once, for valgrind; with --vg-skip
 * it does everything but the measured loop, so the difference between
 * the two runs is the measured loop alone (tools/bench/vg-companion.sh).
 *
 * Threads and locks: only the shared phases start worker threads. They
 * share the cache under test and, for a peer that is not thread-safe, one
 * pthread mutex taken around each operation (the only lock here); each
 * writes its own struct worker, read by the main thread after the join.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <slabcache.h>

#include "cache_peers.h"
#include "harness.h"

char bench_cache_value[64];

#define MAX_LIST 8

static const struct cache_peer *all_peers[] = {
	&cache_peer_slabcache,	      &cache_peer_slabcache_sieve,
	&cache_peer_slabcache_s3fifo, &cache_peer_qcache,
	&cache_peer_qcache_seed0,     &cache_peer_uthash,
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
};

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
};

enum {
	S_FILL = 1 << 0,
	S_REMOVE = 1 << 1,
	S_UNI = 1 << 2,
	S_ZIPF = 1 << 3,
	S_MISS = 1 << 4,
	S_FRESH = 1 << 5,
	S_GOI = 1 << 6,
	S_ALL = (1 << 7) - 1,
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
}

/* ------------------------------------------------------------ recording */

struct round_ctx {
	const struct config *cfg;
	const struct streams *s;
	const struct cache_peer *p;
	bool record;
	/* this peer's isolated-latency histograms: find-hit, insert-evict */
	struct bench_hist *lat_find, *lat_insert;
};

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

static void check_hits(const struct round_ctx *rc, const char *phase,
		       size_t got, size_t want)
{
	if (got != want)
		fprintf(stderr, "note: %s %s n=%zu: %zu of %zu expected\n",
			rc->p->name, phase, rc->s->n, got, want);
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

/* slabcache under any policy: its slabs count in its bytes per entry */
static bool is_slabcache(const struct cache_peer *p)
{
	return p == &cache_peer_slabcache || p == &cache_peer_slabcache_sieve ||
	       p == &cache_peer_slabcache_s3fifo;
}

static void *phase_fill(const struct round_ctx *rc)
{
	const struct streams *s = rc->s;
	const struct cache_peer *p = rc->p;
	size_t reps = reps_for(rc), stored = 0;
	uint64_t total = 0;
	void *c = NULL;

	for (size_t r = 0; r < reps; r++) {
		size_t heap0, heap1, slab0 = 0, slab1 = 0;
		uint64_t t0;

		if (c)
			p->destroy(c);
		heap0 = bench_heap_allocated();
		if (is_slabcache(p))
			slab0 = bench_slab_bytes();
		c = create_or_die(p, s->n);
		t0 = bench_now_ns();
		stored = p->insert_batch(c, s->fill, s->slot, s->n);
		total += bench_now_ns() - t0;
		heap1 = bench_heap_allocated();
		if (rc->record) {
			struct bench_row *br = row(rc, "fill", "unique", 1);

			br->bytes_per_entry =
				((double)heap1 - (double)heap0) / (double)s->n;
			if (is_slabcache(p)) {
				slab1 = bench_slab_bytes();
				br->extra = ((double)slab1 - (double)slab0) /
					    (double)s->n;
				snprintf(br->extra_name, sizeof(br->extra_name),
					 "slab B/entry");
				/*
				 * The libc backend maps slabs with mmap(),
				 * which the heap count does not see; the
				 * jemalloc backend takes them from jemalloc.
				 */
				if (!strcmp(sc_alloc_backend(), "libc"))
					br->bytes_per_entry += br->extra;
			}
		}
	}
	check_hits(rc, "fill", stored, s->n);
	record(rc, "fill", "unique", 1, total, reps * s->n, NAN);
	return c;
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
	pthread_barrier_t *start;
	const char *reqs;
	size_t slot, n;
	bool get_or_insert;
	size_t hits;
	uint64_t t_start, t_end;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	bool (*op)(void *, const char *, size_t) =
		w->get_or_insert ? w->p->get_or_insert_one_mt :
				   w->p->find_one_mt;
	size_t hits = 0;

	pthread_barrier_wait(w->start);
	w->t_start = bench_now_ns();
	for (size_t i = 0; i < w->n; i++) {
		const char *k = w->reqs + i * w->slot;

		if (w->lock)
			pthread_mutex_lock(w->lock);
		hits += op(w->cache, k, w->slot - 1);
		if (w->lock)
			pthread_mutex_unlock(w->lock);
	}
	w->t_end = bench_now_ns();
	w->hits = hits;
	return NULL;
}

/*
 * Run @reqs split among @nt threads; return the wall time in ns, from the
 * first worker's start to the last one's end (each worker reads the clock
 * itself: the main thread may be scheduled late on a loaded machine).
 */
static uint64_t run_shared(const struct round_ctx *rc, void *c,
			   const char *reqs, unsigned int nt, bool goi,
			   size_t *hits)
{
	struct worker w[MAX_LIST];
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_barrier_t start;
	size_t per = rc->s->ops / nt;
	uint64_t first = UINT64_MAX, last = 0;

	pthread_barrier_init(&start, NULL, nt + 1);
	for (unsigned int t = 0; t < nt; t++) {
		w[t] = (struct worker){
			.p = rc->p,
			.cache = c,
			.lock = rc->p->thread_safe ? NULL : &lock,
			.start = &start,
			.reqs = reqs + t * per * rc->s->slot,
			.slot = rc->s->slot,
			.n = per,
			.get_or_insert = goi,
		};
		if (pthread_create(&w[t].tid, NULL, worker_main, &w[t])) {
			fprintf(stderr, "bench: pthread_create failed\n");
			exit(2);
		}
	}
	pthread_barrier_wait(&start);
	*hits = 0;
	for (unsigned int t = 0; t < nt; t++) {
		pthread_join(w[t].tid, NULL);
		*hits += w[t].hits;
		if (w[t].t_start < first)
			first = w[t].t_start;
		if (w[t].t_end > last)
			last = w[t].t_end;
	}
	pthread_barrier_destroy(&start);
	return last - first;
}

static void phase_shared(const struct round_ctx *rc, unsigned int nt)
{
	const struct streams *s = rc->s;
	size_t per = s->ops / nt * nt, hits;
	void *c = filled(rc);
	uint64_t t;

	t = run_shared(rc, c, s->uni, nt, false, &hits);
	check_hits(rc, "find-hit shared", hits, per);
	record(rc, "find-hit shared", "uniform", nt, t, per,
	       (double)hits / per);
	rc->p->destroy(c);

	c = create_or_die(rc->p, s->n);
	rc->p->get_or_insert_batch(c, s->goi_warm, s->slot, s->ops);
	t = run_shared(rc, c, s->goi, nt, true, &hits);
	record(rc, "get-or-insert shared", "zipf0.8", nt, t, per,
	       (double)hits / per);
	rc->p->destroy(c);
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

static void peer_round(const struct round_ctx *rc)
{
	const struct streams *s = rc->s;
	void *c = phase_fill(rc);

	if (rc->cfg->memory_only) {
		rc->p->destroy(c);
		return;
	}
	phase_find(rc, c, s->uni, "find-hit", "uniform", true);
	phase_find(rc, c, s->zipf, "find-hit", "zipf0.99", true);
	phase_find(rc, c, s->miss, "find-miss", "uniform", false);
	phase_latency(rc, c);
	phase_insert_evict(rc, c);
	phase_insert_latency(rc, c);
	phase_clear(rc, c);
	rc->p->destroy(c);
	phase_remove(rc);
	phase_get_or_insert(rc);
	for (size_t t = 0; t < rc->cfg->nr_threads; t++)
		phase_shared(rc, (unsigned int)rc->cfg->threads[t]);
	if (rc->p == &cache_peer_slabcache)
		phase_handle_keys(rc);
}

/* --------------------------------------------------------- valgrind mode */

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
		{ "get-or-insert", S_GOI },
	};
	unsigned int want = 0;

	for (size_t i = 0; i < sizeof(vg_phases) / sizeof(vg_phases[0]); i++)
		if (!strcmp(ph, vg_phases[i].name))
			want = vg_phases[i].want;
	if (!want) {
		fprintf(stderr, "bench: unknown --vg phase %s\n", ph);
		return 2;
	}
	streams_build(&s, n, slot, cfg->ops, cfg->seed, want);
	c = create_or_die(p, n);
	if (!strcmp(ph, "fill")) {
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

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sc-bench-cache [options]\n"
		"  --n LIST        entries, default 1k,100k,1M (--large adds 10M)\n"
		"  --keys LIST     key slot bytes (key length + NUL), default 16,64\n"
		"  --ops N         operations per phase, default 2M\n"
		"  --lat-ops N     isolated-latency samples per round, default 200k\n"
		"  --rounds R      measured rounds after one warm-up, default 5\n"
		"  --threads LIST  shared-cache thread counts, default 1,2\n"
		"  --peers LIST    slabcache,slabcache-sieve,slabcache-s3fifo,\n"
		"                  qcache,qcache-seed0,uthash (default all)\n"
		"  --csv FILE      write the rows as CSV\n"
		"  --seed S        stream seed, default 42\n"
		"  --memory        only fill, once per peer: bytes per entry\n"
		"  --vg PHASE      valgrind companion: one phase of the first peer\n"
		"                  (fill find-hit find-zipf find-miss insert-evict\n"
		"                  remove get-or-insert), --vg-skip omits its loop\n");
}

static int parse_peers(struct config *cfg, const char *list)
{
	char buf[128], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	cfg->nr_peers = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		const struct cache_peer *p = NULL;

		if (!strcmp(tok, "slabcache"))
			p = &cache_peer_slabcache;
		else if (!strcmp(tok, "slabcache-sieve"))
			p = &cache_peer_slabcache_sieve;
		else if (!strcmp(tok, "slabcache-s3fifo"))
			p = &cache_peer_slabcache_s3fifo;
		else if (!strcmp(tok, "qcache"))
			p = &cache_peer_qcache;
		else if (!strcmp(tok, "qcache-seed0"))
			p = &cache_peer_qcache_seed0;
		else if (!strcmp(tok, "uthash"))
			p = &cache_peer_uthash;
		if (!p || cfg->nr_peers == NR_PEERS)
			return -1;
		cfg->peers[cfg->nr_peers++] = p;
	}
	return cfg->nr_peers ? 0 : -1;
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
		else if (!strcmp(a, "--csv"))
			cfg->csv = v;
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
		if (cfg->threads[i] > MAX_LIST) {
			fprintf(stderr, "sc-bench-cache: at most %d threads\n",
				MAX_LIST);
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
		.threads = { 1, 2 },
		.nr_threads = 2,
		.ops = 2000000,
		.lat_ops = 200000,
		.rounds = 5,
		.seed = 42,
	};
	static struct bench_hist lat_find[NR_PEERS], lat_insert[NR_PEERS];

	for (size_t i = 0; i < NR_PEERS; i++)
		cfg.peers[i] = all_peers[i];
	cfg.nr_peers = NR_PEERS;
	if (parse_args(&cfg, argc, argv))
		return 2;
	if (cfg.vg_phase)
		return vg_run(&cfg);

	bench_tsc_calibrate();
	printf("## Cache bench: slabcache vs QCache vs uthash+utlist\n\n");
	bench_print_machine(stdout, "");
	printf("%zu ops per phase, %u rounds after a warm-up, interleaved; "
	       "heap figures from %s; empty timer %llu ticks, %.3f ticks/ns\n",
	       cfg.ops, cfg.rounds, bench_heap_source(),
	       (unsigned long long)bench_tsc_overhead(), bench_tsc_per_ns());
	fflush(stdout);

	for (size_t si = 0; si < cfg.nr_slots; si++) {
		for (size_t ni = 0; ni < cfg.nr_ns; ni++) {
			/* --memory: one fill per peer, nothing to warm up */
			unsigned int last = cfg.memory_only ? 1 : cfg.rounds;
			struct streams s;

			streams_build(&s, cfg.ns[ni], cfg.slots[si], cfg.ops,
				      cfg.seed,
				      cfg.memory_only ? S_FILL : S_ALL);
			memset(lat_find, 0, sizeof(lat_find));
			memset(lat_insert, 0, sizeof(lat_insert));
			for (unsigned int r = cfg.memory_only; r <= last; r++) {
				for (size_t pi = 0; pi < cfg.nr_peers; pi++) {
					struct round_ctx rc = {
						.cfg = &cfg,
						.s = &s,
						.p = cfg.peers[pi],
						.record = r > 0,
						.lat_find = &lat_find[pi],
						.lat_insert = &lat_insert[pi],
					};

					peer_round(&rc);
					bench_heap_purge();
				}
			}
			for (size_t pi = 0;
			     pi < cfg.nr_peers && !cfg.memory_only; pi++) {
				set_latency(bench_row("cache", "find-hit",
						      "uniform",
						      cfg.peers[pi]->name, s.n,
						      s.slot, 1),
					    &lat_find[pi]);
				set_latency(bench_row("cache", "insert-evict",
						      "new keys",
						      cfg.peers[pi]->name, s.n,
						      s.slot, 1),
					    &lat_insert[pi]);
			}
			streams_free(&s);
			/* progress, for long runs */
			fprintf(stderr, "  done: n=%zu key=%zu\n", s.n, s.slot);
		}
	}
	bench_report(stdout, cfg.csv, "slabcache", "key B");
	return 0;
}
