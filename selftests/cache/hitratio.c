// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Hit ratios. Request streams are replayed through the cache as
 * get-or-insert (sc_cache_find(), and sc_cache_insert() at cost 1 on a
 * miss) at a limit of N entries, and through a reference model of the same
 * policy at N entries: exact LRU (a doubly-linked list over dense object
 * ids, the least recently used evicted), or SIEVE as in the paper (a FIFO
 * queue, a visited bit set on a hit, a hand that moves from the oldest
 * entry towards the newest clearing bits and evicts the first entry not
 * visited, wrapping to the oldest, persisting between evictions; a miss
 * evicts before it inserts). Every request must hit or miss in the cache
 * exactly as in its model, and the cache's own counters must agree.
 *
 * Streams: a Zipf 0.99 stream from YCSB's generator (Gray et al.,
 * "Quickly generating billion-record synthetic databases") with a fixed
 * seed, at a cache of 1% of the key space, where SIEVE must miss at most
 * 0.85 times as often as LRU (a deterministic property of this stream, not
 * a timing); and the real traces in selftests/traces (see its README.md
 * for their sources and citations), read from $SC_SRCTREE/selftests/traces
 * or, without SC_SRCTREE, selftests/traces from the current directory.
 * They are part of the tree, so a missing trace or a missing zstd (a
 * dependency of make check) fails the test: it never skips.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <unistd.h>

#include "helpers.h"

#define NIL UINT32_MAX

/* ------------------------------------------------------------ streams */

struct stream {
	uint32_t *req; /* dense object ids */
	size_t n, cap;
	uint32_t nr_objects;
};

static void stream_push(struct stream *s, uint32_t id)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1 << 16;
		s->req = realloc(s->req, s->cap * sizeof(*s->req));
		cr_assert_not_null(s->req);
	}
	s->req[s->n++] = id;
}

/* Trace object ids (any 64-bit number) to dense ids, first seen first. */
struct idmap {
	uint64_t *key;
	uint32_t *val;
	size_t cap, n;
};

static uint64_t mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

static void idmap_resize(struct idmap *m, size_t cap)
{
	struct idmap old = *m;

	m->key = calloc(cap, sizeof(*m->key));
	m->val = calloc(cap, sizeof(*m->val));
	cr_assert(m->key && m->val);
	m->cap = cap;
	for (size_t i = 0; i < old.cap; i++) {
		size_t j;

		if (!old.val[i])
			continue;
		for (j = mix64(old.key[i]) & (cap - 1); m->val[j];
		     j = (j + 1) & (cap - 1))
			;
		m->key[j] = old.key[i];
		m->val[j] = old.val[i];
	}
	free(old.key);
	free(old.val);
}

/* The dense id of @key, a new one for a key not seen before. */
static uint32_t idmap_get(struct idmap *m, uint64_t key)
{
	size_t j;

	if ((m->n + 1) * 2 > m->cap)
		idmap_resize(m, m->cap ? m->cap * 2 : 1 << 16);
	for (j = mix64(key) & (m->cap - 1); m->val[j];
	     j = (j + 1) & (m->cap - 1))
		if (m->key[j] == key)
			return m->val[j] - 1; /* val: id + 1, 0: empty */
	m->key[j] = key;
	m->val[j] = (uint32_t)++m->n;
	return m->val[j] - 1;
}

static void idmap_free(struct idmap *m)
{
	free(m->key);
	free(m->val);
}

/*
 * YCSB's ZipfianGenerator: item 0 the most popular, P(i) ~ 1 / (i+1)^theta.
 * xorshift64* for the uniform numbers: a fixed seed, a fixed stream.
 */
static void stream_zipf(struct stream *s, uint32_t items, size_t n,
			double theta, uint64_t seed)
{
	double zetan = 0, zeta2 = 1 + pow(0.5, theta), alpha, eta;
	uint64_t x = seed;

	for (uint32_t i = 1; i <= items; i++)
		zetan += 1 / pow(i, theta);
	alpha = 1 / (1 - theta);
	eta = (1 - pow(2.0 / items, 1 - theta)) / (1 - zeta2 / zetan);
	for (size_t r = 0; r < n; r++) {
		double u, uz;
		uint32_t id;

		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		u = (double)((x * 0x2545f4914f6cdd1dull) >> 11) * 0x1p-53;
		uz = u * zetan;
		if (uz < 1)
			id = 0;
		else if (uz < zeta2)
			id = 1;
		else
			id = (uint32_t)(items * pow(eta * u - eta + 1, alpha));
		if (id >= items)
			id = items - 1;
		stream_push(s, id);
	}
	s->nr_objects = items;
}

/* ------------------------------------------------------------- traces */

static bool trace_path(char *buf, size_t size, const char *file)
{
	const char *src = getenv("SC_SRCTREE");

	if (src && *src)
		snprintf(buf, size, "%s/selftests/traces/%s", src, file);
	else
		snprintf(buf, size, "selftests/traces/%s", file);
	return access(buf, R_OK) == 0;
}

static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char dir[4096];

	while (path && *path) {
		size_t len = strcspn(path, ":");

		snprintf(dir, sizeof(dir), "%.*s/%s", (int)len, path, prog);
		if (len && access(dir, X_OK) == 0)
			return true;
		path += len + (path[len] == ':');
	}
	return false;
}

/*
 * Load a trace: "id" per line (plain text), or the ARC format "start count
 * 0 seq" per line (pages start .. start+count-1, one request each),
 * decompressed by zstd. Fails the test when it cannot be read.
 */
static void stream_trace(struct stream *s, const char *file, bool arc)
{
	struct idmap map = { 0 };
	char path[4096], cmd[4200], line[256];
	bool zst = strstr(file, ".zst") != NULL;
	FILE *fp;

	if (!trace_path(path, sizeof(path), file))
		cr_assert_fail("trace %s missing: it is part of the tree "
			       "(selftests/traces)",
			       path);
	if (zst && !in_path("zstd"))
		cr_assert_fail(
			"zstd not installed: cannot read %s (scripts/deps.sh "
			"--check installs it)",
			file);
	if (zst) {
		snprintf(cmd, sizeof(cmd), "zstd -dc -- '%s'", path);
		fp = popen(cmd, "r");
	} else {
		fp = fopen(path, "r");
	}
	cr_assert_not_null(fp, "%s", path);
	while (fgets(line, sizeof(line), fp)) {
		unsigned long long start, count = 1;

		if (arc ? sscanf(line, "%llu %llu", &start, &count) != 2 :
			  sscanf(line, "%llu", &start) != 1)
			continue;
		for (unsigned long long p = 0; p < count; p++)
			stream_push(s, idmap_get(&map, start + p));
	}
	if (zst)
		cr_assert_eq(pclose(fp), 0, "zstd -dc %s failed", path);
	else
		fclose(fp);
	cr_assert_gt(s->n, 0, "%s: no requests", path);
	s->nr_objects = (uint32_t)map.n;
	idmap_free(&map);
}

/* ---------------------------------------------------- reference models */

struct ref {
	bool sieve;
	uint32_t cap, count;
	uint32_t *newer, *older; /* list links by object id */
	uint8_t *in, *visited;
	uint32_t newest, oldest, hand; /* hand NIL: start at the oldest */
	unsigned long long evictions;
};

static void ref_init(struct ref *r, bool sieve, uint32_t cap,
		     uint32_t nr_objects)
{
	*r = (struct ref){ .sieve = sieve, .cap = cap };
	r->newer = malloc(nr_objects * sizeof(*r->newer));
	r->older = malloc(nr_objects * sizeof(*r->older));
	r->in = calloc(nr_objects, 1);
	r->visited = calloc(nr_objects, 1);
	cr_assert(r->newer && r->older && r->in && r->visited);
	r->newest = r->oldest = r->hand = NIL;
}

static void ref_fini(struct ref *r)
{
	free(r->newer);
	free(r->older);
	free(r->in);
	free(r->visited);
}

static void ref_unlink(struct ref *r, uint32_t id)
{
	if (r->newer[id] != NIL)
		r->older[r->newer[id]] = r->older[id];
	else
		r->newest = r->older[id];
	if (r->older[id] != NIL)
		r->newer[r->older[id]] = r->newer[id];
	else
		r->oldest = r->newer[id];
}

static void ref_push_newest(struct ref *r, uint32_t id)
{
	r->older[id] = r->newest;
	r->newer[id] = NIL;
	if (r->newest != NIL)
		r->newer[r->newest] = id;
	else
		r->oldest = id;
	r->newest = id;
}

static void ref_evict(struct ref *r)
{
	uint32_t v = r->oldest;

	if (r->sieve) {
		v = r->hand != NIL ? r->hand : r->oldest;
		while (r->visited[v]) {
			r->visited[v] = 0;
			v = r->newer[v] != NIL ? r->newer[v] : r->oldest;
		}
		r->hand = r->newer[v]; /* NIL past the newest: wrap */
	}
	ref_unlink(r, v);
	r->in[v] = 0;
	r->count--;
	r->evictions++;
}

/* One request; true on a hit. */
static bool ref_access(struct ref *r, uint32_t id)
{
	if (r->in[id]) {
		if (r->sieve) {
			r->visited[id] = 1;
		} else {
			ref_unlink(r, id);
			ref_push_newest(r, id);
		}
		return true;
	}
	if (r->count == r->cap)
		ref_evict(r);
	ref_push_newest(r, id);
	r->in[id] = 1;
	r->visited[id] = 0;
	r->count++;
	return false;
}

/* -------------------------------------------------------------- replay */

/* "o" and the id in decimal: snprintf would cost as much as the cache. */
static void obj_key(char *buf, uint32_t id)
{
	char tmp[10];
	int n = 0;

	do
		tmp[n++] = (char)('0' + id % 10);
	while (id /= 10);
	*buf++ = 'o';
	while (n)
		*buf++ = tmp[--n];
	*buf = '\0';
}

/*
 * Replay @s through a cache of @cap entries with @policy and through the
 * reference model; return the misses (equal in both, or the test fails).
 */
static unsigned long long replay(const struct stream *s, uint32_t cap,
				 unsigned int policy)
{
	struct sc_cache *c = mk_cache_flags(cap, NULL, policy);
	struct sc_cache_stats st;
	unsigned long long misses = 0;
	size_t first_diff = SIZE_MAX;
	struct ref r;
	char key[16];

	cr_assert_not_null(c);
	ref_init(&r, policy & SC_CACHE_POLICY_SIEVE, cap, s->nr_objects);
	for (size_t i = 0; i < s->n; i++) {
		uint32_t id = s->req[i];
		bool hit, ref_hit = ref_access(&r, id);

		obj_key(key, id);
		hit = sc_cache_find(c, key) != NULL;
		if (!hit) {
			misses++;
			cr_assert_eq(sc_cache_insert(c, key, VAL(id), 1), 0);
		}
		if (hit != ref_hit && first_diff == SIZE_MAX)
			first_diff = i;
	}
	cr_assert_eq(first_diff, SIZE_MAX,
		     "%s at %u entries: request %zu differs from the model",
		     policy ? "SIEVE" : "LRU", cap, first_diff);
	sc_cache_stats(c, &st);
	cr_assert_eq(st.misses, misses);
	cr_assert_eq(st.hits + st.misses, s->n);
	cr_assert_eq(st.evictions, r.evictions);
	cr_assert_eq(st.count, r.count);
	sc_cache_destroy(c);
	ref_fini(&r);
	return misses;
}

/* Replay both policies at each size; log the miss ratios. */
static void replay_sizes(const char *name, const struct stream *s,
			 const uint32_t *sizes, size_t nr_sizes)
{
	for (size_t i = 0; i < nr_sizes; i++) {
		unsigned long long lru = replay(s, sizes[i], 0);
		unsigned long long sieve =
			replay(s, sizes[i], SC_CACHE_POLICY_SIEVE);

		cr_log_info("%s (%zu requests, %u objects) at %u entries: "
			    "miss ratio LRU %.4f, SIEVE %.4f (%.3fx)",
			    name, s->n, s->nr_objects, sizes[i],
			    (double)lru / (double)s->n,
			    (double)sieve / (double)s->n,
			    (double)sieve / (double)lru);
	}
}

#define ZIPF_REQUESTS 1000000ul
#define ZIPF_ITEMS 100000u

Test(cache_hitratio, zipf_sieve_vs_lru)
{
	struct stream s = { 0 };
	unsigned long long lru, sieve;

	stream_zipf(&s, ZIPF_ITEMS, ZIPF_REQUESTS, 0.99, 0x5eed5eed5eedull);
	lru = replay(&s, ZIPF_ITEMS / 100, 0);
	sieve = replay(&s, ZIPF_ITEMS / 100, SC_CACHE_POLICY_SIEVE);
	cr_log_info("Zipf 0.99, %lu requests over %u keys, cache 1%%: miss "
		    "ratio LRU %.4f, SIEVE %.4f (%.3fx)",
		    ZIPF_REQUESTS, ZIPF_ITEMS, (double)lru / ZIPF_REQUESTS,
		    (double)sieve / ZIPF_REQUESTS, (double)sieve / (double)lru);
	cr_assert_leq(sieve * 100, lru * 85,
		      "SIEVE misses %llu times, LRU %llu: more than 0.85x",
		      sieve, lru);
	free(s.req);
}

Test(cache_hitratio, trace_cloudphysics)
{
	static const uint32_t sizes[] = { 500, 2500, 5000 };
	struct stream s = { 0 };

	stream_trace(&s, "cloudPhysicsIO.txt", false);
	cr_assert_eq(s.n, 113872);
	cr_assert_eq(s.nr_objects, 48974);
	replay_sizes("cloudPhysicsIO", &s, sizes, 3);
	free(s.req);
}

/*
 * ARC's OLTP at two of the ARC paper's sizes (its Table V: LRU hit ratios
 * 32.83% and 60.70%; this replay gives the same).
 */
Test(cache_hitratio, trace_oltp)
{
	static const uint32_t sizes[] = { 1000, 10000 };
	struct stream s = { 0 };

	stream_trace(&s, "OLTP.lis.zst", true);
	cr_assert_eq(s.n, 914145);
	cr_assert_eq(s.nr_objects, 186880);
	replay_sizes("OLTP", &s, sizes, 2);
	free(s.req);
}

/* P3 is 3.9M requests, about 10 s: only on request. */
Test(cache_hitratio, trace_p3)
{
	static const uint32_t sizes[] = { 32768, 131072 };
	struct stream s = { 0 };

	stream_trace(&s, "P3.lis.zst", true);
	cr_assert_eq(s.n, 3912296);
	cr_assert_eq(s.nr_objects, 762543);
	replay_sizes("P3", &s, sizes, 2);
	free(s.req);
}
