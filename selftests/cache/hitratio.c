// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Hit ratios. Request streams are replayed through the cache as
 * get-or-insert (sc_cache_find(), and sc_cache_insert() at cost 1 on a
 * miss) at a limit of N entries, and through a reference model of the same
 * policy at N entries: exact LRU (a doubly-linked list over dense object
 * ids, the least recently used evicted), SIEVE as in the paper (a FIFO
 * queue, a visited bit set on a hit, a hand that moves from the oldest
 * entry towards the newest clearing bits and evicts the first entry not
 * visited, wrapping to the oldest, persisting between evictions; a miss
 * evicts before it inserts), or S3-FIFO as Documentation/policy.rst
 * specifies it ("Algorithm", written again here from the text: two FIFO
 * lists, a frequency per object, the ghost's buckets). Every request must
 * hit or miss in the cache exactly as in its model, and the cache's own
 * counters must agree.
 *
 * The same replays are then compared with the Python models of
 * selftests/policy (which share no code with the library or these
 * references): the lines replay.py prints (misses, evictions and an
 * FNV-1a digest of every request's hit bit) must be the very same, on the
 * samples of selftests/policy/expected.txt, on an S3-FIFO replay with
 * another hash seed run now, and with SC_POLICY_FULL=1 on every stream in
 * full at 1, 5, 10 and 30 %. S3-FIFO hashes keys, so the cache's seed is
 * set for the replay (sc_cache_set_hash_seed(), white-box).
 *
 * Streams: a Zipf 0.99 stream from YCSB's generator (Gray et al.,
 * "Quickly generating billion-record synthetic databases") with a fixed
 * seed, at a cache of 1% of the key space, where SIEVE must miss at most
 * 0.85 times as often as LRU (a deterministic property of this stream, not
 * a timing); and the real traces in selftests/traces (see its README.md
 * for their sources and citations), read from $SC_TRACES if set, else
 * $SC_SRCTREE/selftests/traces or, without SC_SRCTREE, selftests/traces
 * from the current directory. They are part of the tree, so a missing
 * trace or a missing zstd (a dependency of make check) fails the test: it
 * never skips.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <unistd.h>

#include "core/internal.h"
#include "helpers.h"
#include "../idlist.h"
#include "../zipf.h"
#include "../trace_read.h"

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

/* selftests/zipf.h's stream: a fixed seed, a fixed stream. */
static void stream_zipf(struct stream *s, uint32_t items, size_t n,
			double theta, uint64_t seed)
{
	struct zipf z;

	zipf_init(&z, items, theta, seed);
	for (size_t r = 0; r < n; r++)
		stream_push(s, (uint32_t)zipf_next(&z));
	s->nr_objects = items;
}

/* ------------------------------------------------------------- traces */

static bool trace_path(char *buf, size_t size, const char *file)
{
	const char *src = getenv("SC_SRCTREE"), *dir = getenv("SC_TRACES");

	if (dir && *dir)
		snprintf(buf, size, "%s/%s", dir, file);
	else if (src && *src)
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

struct trace_ctx {
	struct stream *s;
	struct idmap map;
};

static void trace_push(void *ctx, uint64_t id)
{
	struct trace_ctx *t = ctx;

	stream_push(t->s, idmap_get(&t->map, id));
}

/*
 * Load a trace (selftests/trace_read.h): ids are mapped to dense object
 * numbers in the order they first appear. Fails the test when it cannot
 * be read.
 */
static void stream_trace(struct stream *s, const char *file, bool arc)
{
	struct trace_ctx t = { s, { 0 } };
	char path[4096];
	long long n;

	if (!trace_path(path, sizeof(path), file))
		cr_assert_fail("trace %s missing: it is part of the tree "
			       "(selftests/traces)",
			       path);
	if (strstr(file, ".zst") && !in_path("zstd"))
		cr_assert_fail(
			"zstd not installed: cannot read %s (scripts/deps.sh "
			"--check installs it)",
			file);
	n = trace_read(path, arc, 0, trace_push, &t);
	cr_assert_geq(n, 0, "%s: %s", path, strerror((int)-n));
	cr_assert_gt(s->n, 0, "%s: no requests", path);
	s->nr_objects = (uint32_t)t.map.n;
	idmap_free(&t.map);
}

/* ---------------------------------------------------- reference models */

enum pol { P_LRU, P_SIEVE, P_S3FIFO, NR_POL };
static const char *const pol_name[NR_POL] = { "lru", "sieve", "s3fifo" };
static const unsigned int pol_flag[NR_POL] = { 0, SC_CACHE_POLICY_SIEVE,
					       SC_CACHE_POLICY_S3FIFO };

#define GHOST_WAYS 16

struct ref {
	enum pol pol;
	uint32_t cap, count;
	struct idlinks links;
	uint8_t *in, *mark; /* mark: SIEVE's visited bit, S3-FIFO's freq */
	uint8_t *queue; /* S3-FIFO: 0 small, 1 main */
	struct idlist q[2]; /* LRU, SIEVE: q[0]; S3-FIFO: S and M */
	uint32_t hand; /* SIEVE; NIL: start at the oldest */
	unsigned long long evictions;
	/* S3-FIFO */
	uint64_t seed, *hash;
	uint8_t *hashed;
	uint32_t small_max, small_target, main_max;
	uint32_t (*ghost)[GHOST_WAYS]; /* NULL: none */
	size_t ghost_nr[2]; /* slots holding keys that left S, M */
	uint8_t *cursor;
	size_t buckets, sized;
};

static void ref_init(struct ref *r, enum pol pol, uint32_t cap,
		     uint32_t nr_objects, uint64_t seed)
{
	*r = (struct ref){ .pol = pol, .cap = cap, .seed = seed };
	r->links.newer = malloc(nr_objects * sizeof(*r->links.newer));
	r->links.older = malloc(nr_objects * sizeof(*r->links.older));
	r->in = calloc(nr_objects, 1);
	r->mark = calloc(nr_objects, 1);
	r->queue = calloc(nr_objects, 1);
	r->hash = malloc(nr_objects * sizeof(*r->hash));
	r->hashed = calloc(nr_objects, 1);
	cr_assert(r->links.newer && r->links.older && r->in && r->mark &&
		  r->queue && r->hash && r->hashed);
	for (int i = 0; i < 2; i++)
		r->q[i] = IDLIST_EMPTY;
	r->hand = NIL;
	/* Documentation/policy.rst: S gets a tenth of the limit at first */
	r->small_max = cap / 10;
	r->small_target = r->small_max;
	r->main_max = cap - r->small_target;
}

static void ref_fini(struct ref *r)
{
	free(r->links.newer);
	free(r->links.older);
	free(r->in);
	free(r->mark);
	free(r->queue);
	free(r->hash);
	free(r->hashed);
	free(r->ghost);
	free(r->cursor);
}

/* "o" and the id in decimal: snprintf would cost as much as the cache. */
static size_t obj_key(char *buf, uint32_t id)
{
	char tmp[10], *p = buf;
	int n = 0;

	do
		tmp[n++] = (char)('0' + id % 10);
	while (id /= 10);
	*p++ = 'o';
	while (n)
		*p++ = tmp[--n];
	*p = '\0';
	return (size_t)(p - buf);
}

/* S3-FIFO's policy hash of object @id: the key hash of "o<id>". */
static uint64_t ref_hash(struct ref *r, uint32_t id)
{
	if (!r->hashed[id]) {
		char key[32];
		size_t len = obj_key(key, id);

		r->hash[id] = sc_key_hash(r->seed, key, len);
		r->hashed[id] = 1;
	}
	return r->hash[id];
}

static size_t ghost_bucket(const struct ref *r, uint64_t h)
{
	return (size_t)(((h >> 32) * r->buckets) >> 32);
}

/* bit 0 is the tag: the queue the key left (1: M) */
static uint32_t ghost_fp(uint64_t h)
{
	return ((uint32_t)h & ~1u) ? ((uint32_t)h & ~1u) : 2;
}

static void ghost_add(struct ref *r, uint64_t h, unsigned int tag)
{
	size_t b = ghost_bucket(r, h);
	uint32_t *slot = &r->ghost[b][r->cursor[b]];

	if (*slot)
		r->ghost_nr[*slot & 1]--;
	*slot = ghost_fp(h) | tag;
	r->ghost_nr[tag]++;
	r->cursor[b] = (uint8_t)((r->cursor[b] + 1) % GHOST_WAYS);
}

/*
 * A new key that the ghost held: S's share moves towards the queue it
 * left, by the ratio of the other tag's slots to its own (the key's
 * counted), at least 1; between 0 and half the limit. Cost 1.
 */
static void ref_adapt(struct ref *r, unsigned int tag)
{
	size_t step;

	if (!tag) {
		step = r->ghost_nr[1] / r->ghost_nr[0];
		step = step ? step : 1;
		r->small_target = r->small_target + step > r->cap / 2 ?
					  r->cap / 2 :
					  (uint32_t)(r->small_target + step);
	} else {
		step = r->ghost_nr[0] / r->ghost_nr[1];
		step = step ? step : 1;
		r->small_target = r->small_target > step ?
					  (uint32_t)(r->small_target - step) :
					  0;
	}
	r->main_max = r->cap - r->small_target;
}

static bool ghost_take(struct ref *r, uint64_t h)
{
	size_t b = ghost_bucket(r, h);

	for (int i = 0; i < GHOST_WAYS; i++) {
		uint32_t s = r->ghost[b][i];

		if ((s & ~1u) == ghost_fp(h)) {
			ref_adapt(r, s & 1);
			r->ghost[b][i] = 0;
			r->ghost_nr[s & 1]--;
			return true;
		}
	}
	return false;
}

/*
 * After a stored insert (every entry costs 1, so the mean cost is 1 and
 * the ghost is sized for the limit when the cache is half full).
 */
static void ghost_size(struct ref *r)
{
	size_t sized, entries;

	if (r->ghost ? r->count <= r->sized : 2 * r->count < r->cap)
		return;
	sized = r->cap > r->count ? r->cap : r->count;
	if (sized > 2 * (size_t)r->count)
		sized = 2 * (size_t)r->count;
	entries = sized * 50 / 100 ? sized * 50 / 100 : 1;
	free(r->ghost);
	free(r->cursor);
	r->buckets = (entries + GHOST_WAYS - 1) / GHOST_WAYS;
	r->ghost = calloc(r->buckets, sizeof(*r->ghost));
	r->cursor = calloc(r->buckets, 1);
	r->ghost_nr[0] = r->ghost_nr[1] = 0;
	cr_assert(r->ghost && r->cursor);
	r->sized = sized;
}

static void ref_drop(struct ref *r, uint32_t v)
{
	r->in[v] = 0;
	r->count--;
	r->evictions++;
}

/* S3-FIFO, "One eviction" of Documentation/policy.rst. */
static void ref_evict_s3fifo(struct ref *r)
{
	struct idlist *s = &r->q[0], *m = &r->q[1];

	for (;;) {
		uint32_t v;

		if (m->n > r->main_max || s->oldest == NIL) {
			v = m->oldest;
			idlist_del(&r->links, m, v);
			if (r->mark[v]) {
				r->mark[v]--;
				idlist_push(&r->links, m, v);
				continue;
			}
			if (r->ghost)
				ghost_add(r, ref_hash(r, v), 1);
			ref_drop(r, v);
			return;
		}
		v = s->oldest;
		idlist_del(&r->links, s, v);
		if (r->mark[v] >= 2) {
			r->mark[v] = 0;
			r->queue[v] = 1;
			idlist_push(&r->links, m, v);
			continue;
		}
		if (r->ghost)
			ghost_add(r, ref_hash(r, v), 0);
		ref_drop(r, v);
		return;
	}
}

static void ref_evict(struct ref *r)
{
	struct idlist *l = &r->q[0];
	uint32_t v = l->oldest;

	if (r->pol == P_S3FIFO) {
		ref_evict_s3fifo(r);
		return;
	}
	if (r->pol == P_SIEVE) {
		v = r->hand != NIL ? r->hand : l->oldest;
		while (r->mark[v]) {
			r->mark[v] = 0;
			v = r->links.newer[v] != NIL ? r->links.newer[v] :
						       l->oldest;
		}
		r->hand = r->links.newer[v]; /* NIL past the newest: wrap */
	}
	idlist_del(&r->links, l, v);
	ref_drop(r, v);
}

/* One request; true on a hit. */
static bool ref_access(struct ref *r, uint32_t id)
{
	unsigned int q = 0;

	if (r->in[id]) {
		if (r->pol == P_SIEVE) {
			r->mark[id] = 1;
		} else if (r->pol == P_S3FIFO) {
			if (r->mark[id] < 7)
				r->mark[id]++;
		} else {
			idlist_del(&r->links, &r->q[0], id);
			idlist_push(&r->links, &r->q[0], id);
		}
		return true;
	}
	if (r->pol == P_S3FIFO) {
		/* a new key: M if the ghost remembers it; cost 1 */
		if (!r->ghost) {
			q = 1 > r->small_max;
		} else if (ghost_take(r, ref_hash(r, id))) {
			q = 1;
		} else if (1 > r->small_max) {
			ghost_add(r, ref_hash(r, id), 0);
			return false; /* not admitted */
		}
	}
	if (r->count == r->cap)
		ref_evict(r);
	idlist_push(&r->links, &r->q[q], id);
	r->in[id] = 1;
	r->mark[id] = 0;
	r->queue[id] = (uint8_t)q;
	r->count++;
	if (r->pol == P_S3FIFO)
		ghost_size(r);
	return false;
}

/* -------------------------------------------------------------- replay */

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

struct result {
	unsigned long long misses, evictions;
	uint64_t digest; /* FNV-1a 64 over the hit bits, 8 to a byte */
};

/*
 * Replay @s through a cache of @cap entries with @pol (its hash seed set
 * to @seed) and through the reference model; every request must hit or
 * miss in both alike (the test fails at the first that does not).
 */
static struct result replay(const struct stream *s, uint32_t cap, enum pol pol,
			    uint64_t seed)
{
	struct sc_cache *c = mk_cache_flags(cap, NULL, pol_flag[pol]);
	struct result res = { .digest = FNV_OFFSET };
	struct sc_cache_stats st;
	unsigned long long refused = 0;
	size_t first_diff = SIZE_MAX;
	unsigned int bits = 0;
	struct ref r;
	char key[32];

	cr_assert_not_null(c);
	cr_assert_eq(sc_cache_set_hash_seed(c, seed), 0);
	ref_init(&r, pol, cap, s->nr_objects, seed);
	for (size_t i = 0; i < s->n; i++) {
		uint32_t id = s->req[i];
		bool hit, ref_hit = ref_access(&r, id);

		obj_key(key, id);
		hit = sc_cache_find(c, key) != NULL;
		if (!hit) {
			int ret = sc_cache_insert(c, key, VAL(id), 1);

			res.misses++;
			cr_assert(ret == 0 || (ret == SC_CACHE_NOT_ADMITTED &&
					       pol == P_S3FIFO),
				  "insert: %d", ret);
			refused += ret != 0;
		}
		if (hit != ref_hit && first_diff == SIZE_MAX)
			first_diff = i;
		bits |= (unsigned int)hit << (i & 7);
		if ((i & 7) == 7 || i + 1 == s->n) {
			res.digest = (res.digest ^ bits) * FNV_PRIME;
			bits = 0;
		}
	}
	cr_assert_eq(first_diff, SIZE_MAX,
		     "%s at %u entries: request %zu differs from the model",
		     pol_name[pol], cap, first_diff);
	sc_cache_stats(c, &st);
	cr_assert_eq(st.misses, res.misses);
	cr_assert_eq(st.hits + st.misses, s->n);
	cr_assert_eq(st.evictions, r.evictions);
	cr_assert_eq(st.count, r.count);
	cr_assert_eq(st.inserts, res.misses - refused);
	cr_assert_eq(sc_cache_check(c, NULL), 0);
	res.evictions = st.evictions;
	sc_cache_destroy(c);
	ref_fini(&r);
	return res;
}

/* The line replay.py prints for the same replay. */
static void result_line(char *buf, size_t size, const char *stream,
			enum pol pol, uint32_t cap, size_t n,
			const struct result *res)
{
	snprintf(buf, size, "%s %s %u %zu %llu %llu %016llx", stream,
		 pol_name[pol], cap, n, res->misses, res->evictions,
		 (unsigned long long)res->digest);
}

/* Replay every policy at each size; log the miss ratios. */
static void replay_sizes(const char *name, const struct stream *s,
			 const uint32_t *sizes, size_t nr_sizes)
{
	for (size_t i = 0; i < nr_sizes; i++) {
		struct result res[NR_POL];

		for (int p = 0; p < NR_POL; p++)
			res[p] = replay(s, sizes[i], (enum pol)p, 0);
		cr_log_info("%s (%zu requests, %u objects) at %u entries: "
			    "miss ratio LRU %.4f, SIEVE %.4f (%.3fx), "
			    "S3-FIFO %.4f (%.3fx)",
			    name, s->n, s->nr_objects, sizes[i],
			    (double)res[P_LRU].misses / (double)s->n,
			    (double)res[P_SIEVE].misses / (double)s->n,
			    (double)res[P_SIEVE].misses /
				    (double)res[P_LRU].misses,
			    (double)res[P_S3FIFO].misses / (double)s->n,
			    (double)res[P_S3FIFO].misses /
				    (double)res[P_LRU].misses);
	}
}

#define ZIPF_REQUESTS 1000000ul
#define ZIPF_ITEMS 100000u

Test(cache_hitratio, zipf_policies)
{
	struct stream s = { 0 };
	struct result lru, sieve, s3;

	stream_zipf(&s, ZIPF_ITEMS, ZIPF_REQUESTS, 0.99, ZIPF_SEED);
	lru = replay(&s, ZIPF_ITEMS / 100, P_LRU, 0);
	sieve = replay(&s, ZIPF_ITEMS / 100, P_SIEVE, 0);
	s3 = replay(&s, ZIPF_ITEMS / 100, P_S3FIFO, 0);
	cr_log_info("Zipf 0.99, %lu requests over %u keys, cache 1%%: miss "
		    "ratio LRU %.4f, SIEVE %.4f (%.3fx), S3-FIFO %.4f (%.3fx)",
		    ZIPF_REQUESTS, ZIPF_ITEMS,
		    (double)lru.misses / ZIPF_REQUESTS,
		    (double)sieve.misses / ZIPF_REQUESTS,
		    (double)sieve.misses / (double)lru.misses,
		    (double)s3.misses / ZIPF_REQUESTS,
		    (double)s3.misses / (double)lru.misses);
	cr_assert_leq(sieve.misses * 100, lru.misses * 85,
		      "SIEVE misses %llu times, LRU %llu: more than 0.85x",
		      sieve.misses, lru.misses);
	/* the target: 0.799x at seed 0 (Documentation/policy.rst) */
	cr_assert_leq(s3.misses * 10, lru.misses * 8,
		      "S3-FIFO misses %llu times, LRU %llu: more than 0.8x",
		      s3.misses, lru.misses);
	free(s.req);
}

Test(cache_hitratio, zipf08_policies)
{
	static const uint32_t sizes[] = { ZIPF_ITEMS / 100 };
	struct stream s = { 0 };

	stream_zipf(&s, ZIPF_ITEMS, ZIPF_REQUESTS, 0.8, ZIPF_SEED);
	replay_sizes("Zipf 0.8", &s, sizes, 1);
	free(s.req);
}

/* The target: S3-FIFO never below LRU on cloudPhysicsIO and P3. */
static void assert_not_below_lru(const struct stream *s, uint32_t cap)
{
	struct result lru = replay(s, cap, P_LRU, 0),
		      s3 = replay(s, cap, P_S3FIFO, 0);

	cr_assert_leq(s3.misses, lru.misses,
		      "S3-FIFO misses more than LRU at %u: %llu against %llu",
		      cap, s3.misses, lru.misses);
}

Test(cache_hitratio, trace_cloudphysics)
{
	static const uint32_t sizes[] = { 500, 2500, 5000 };
	struct stream s = { 0 };

	stream_trace(&s, "cloudPhysicsIO.txt", false);
	cr_assert_eq(s.n, 113872);
	cr_assert_eq(s.nr_objects, 48974);
	replay_sizes("cloudPhysicsIO", &s, sizes, 3);
	assert_not_below_lru(&s, 14692); /* 30 % */
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

/* ------------------------------------------- against the Python models */

static const char *srctree(void)
{
	const char *src = getenv("SC_SRCTREE");

	return src && *src ? src : ".";
}

/* Does file @path hold the line @want? */
static bool file_has_line(const char *path, const char *want)
{
	char line[256];
	bool found = false;
	FILE *fp = fopen(path, "r");

	cr_assert_not_null(fp, "%s", path);
	while (!found && fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = '\0';
		found = !strcmp(line, want);
	}
	fclose(fp);
	return found;
}

/*
 * What replay.py prints for @args (python3 selftests/policy/replay.py),
 * into @out; false when python3 is missing.
 */
static bool py_replay(char *out, size_t size, const char *args)
{
	char cmd[1024];
	size_t len = 0;
	FILE *fp;

	if (!in_path("python3"))
		return false;
	snprintf(cmd, sizeof(cmd),
		 "PYTHONDONTWRITEBYTECODE=1 python3 "
		 "'%s/selftests/policy/replay.py' %s",
		 srctree(), args);
	fp = popen(cmd, "r");
	cr_assert_not_null(fp, "%s", cmd);
	while (len + 1 < size && fgets(out + len, (int)(size - len), fp))
		len += strlen(out + len);
	cr_assert_eq(pclose(fp), 0, "%s failed", cmd);
	return true;
}

struct sample {
	const char *py; /* replay.py's --stream */
	const char *name; /* its name in the lines */
	const char *file; /* a trace, or NULL: Zipf 0.99 */
	bool arc;
	size_t requests;
	uint32_t sizes[2];
};

static const struct sample samples[] = {
	{ "zipf0.99", "zipf0.99", NULL, false, 100000, { 1000, 5000 } },
	{ "cloudphysics",
	  "cloudPhysicsIO",
	  "cloudPhysicsIO.txt",
	  false,
	  40000,
	  { 500, 2500 } },
	{ "oltp", "OLTP", "OLTP.lis.zst", true, 100000, { 1000, 5000 } },
};

static void sample_stream(struct stream *s, const struct sample *sm)
{
	if (sm->file) {
		stream_trace(s, sm->file, sm->arc);
		cr_assert_geq(s->n, sm->requests);
		s->n = sm->requests; /* dense ids are first-seen: a prefix */
	} else {
		stream_zipf(s, ZIPF_ITEMS, sm->requests, 0.99, ZIPF_SEED);
	}
}

/*
 * The samples of selftests/policy/expected.txt (seed 0), which
 * test_models.py checks the Python models against: the cache and its C
 * references must print the very same lines, for every policy.
 */
Test(cache_hitratio, samples_match_python_models)
{
	char path[4096], line[256];

	snprintf(path, sizeof(path), "%s/selftests/policy/expected.txt",
		 srctree());
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const struct sample *sm = &samples[i];
		struct stream s = { 0 };

		sample_stream(&s, sm);
		for (int p = 0; p < NR_POL; p++) {
			for (int z = 0; z < 2; z++) {
				struct result res = replay(&s, sm->sizes[z],
							   (enum pol)p, 0);

				result_line(line, sizeof(line), sm->name,
					    (enum pol)p, sm->sizes[z], s.n,
					    &res);
				cr_assert(file_has_line(path, line),
					  "not in %s: %s", path, line);
			}
		}
		free(s.req);
	}
}

/*
 * The S3-FIFO model itself, run now with another hash seed (the ghost's
 * buckets and fingerprints all change): the same lines again.
 */
Test(cache_hitratio, s3fifo_matches_python_model_seeded)
{
	static const uint64_t seed = 0x0123456789abcdefull;
	char want[1024], got[1024], args[256];

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const struct sample *sm = &samples[i];
		struct stream s = { 0 };
		size_t len = 0;

		if (sm->arc)
			continue; /* two streams are enough; OLTP is slow */
		sample_stream(&s, sm);
		snprintf(args, sizeof(args),
			 "--stream %s --requests %zu --sizes %u,%u "
			 "--policy s3fifo --seed %#llx",
			 sm->py, sm->requests, sm->sizes[0], sm->sizes[1],
			 (unsigned long long)seed);
		if (!py_replay(want, sizeof(want), args))
			cr_skip_test("python3 not installed");
		for (int z = 0; z < 2; z++) {
			struct result res =
				replay(&s, sm->sizes[z], P_S3FIFO, seed);

			result_line(got + len, sizeof(got) - len, sm->name,
				    P_S3FIFO, sm->sizes[z], s.n, &res);
			len += strlen(got + len);
			got[len++] = '\n';
			got[len] = '\0';
		}
		cr_assert_str_eq(got, want, "replay.py %s", args);
		free(s.req);
	}
}

/*
 * Every stream in full, at 1, 5, 10 and 30 % (of the key space for the
 * Zipf streams), every policy, against replay.py run now: the agreement
 * claimed in Documentation/policy.rst. Python replays the 3.9M requests
 * of P3 for a few minutes, so this runs only with SC_POLICY_FULL=1.
 */
Test(cache_hitratio, full_streams_match_python_models)
{
	static const struct {
		const char *py, *name, *file;
		bool arc;
		double theta;
	} st[] = {
		{ "zipf0.8", "zipf0.8", NULL, false, 0.8 },
		{ "zipf0.99", "zipf0.99", NULL, false, 0.99 },
		{ "cloudphysics", "cloudPhysicsIO", "cloudPhysicsIO.txt", false,
		  0 },
		{ "oltp", "OLTP", "OLTP.lis.zst", true, 0 },
		{ "p3", "P3", "P3.lis.zst", true, 0 },
	};
	static const double pct[] = { 1, 5, 10, 30 };
	const char *only = getenv("SC_POLICY_FULL");

	if (!only || !*only || !strcmp(only, "0"))
		cr_skip_test("set SC_POLICY_FULL=1 (or a stream name) to run");
	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		char *want = calloc(1, 65536), *got = calloc(1, 65536);
		char args[256], sizes[128];
		struct stream s = { 0 };
		size_t len = 0, sl = 0;
		uint32_t cap[4];

		cr_assert(want && got);
		if (strcmp(only, "1") && strcmp(only, st[i].py))
			continue;
		if (st[i].file)
			stream_trace(&s, st[i].file, st[i].arc);
		else
			stream_zipf(&s, ZIPF_ITEMS, ZIPF_REQUESTS, st[i].theta,
				    ZIPF_SEED);
		for (int z = 0; z < 4; z++) {
			uint32_t base = st[i].file ? s.nr_objects : ZIPF_ITEMS;

			/* replay.py rounds; no size here is a tie */
			cap[z] = (uint32_t)llround(base * pct[z] / 100);
			sl += (size_t)snprintf(sizes + sl, sizeof(sizes) - sl,
					       "%s%u", z ? "," : "", cap[z]);
		}
		snprintf(args, sizeof(args),
			 "--stream %s --sizes %s --policy lru,sieve,s3fifo",
			 st[i].py, sizes);
		if (!py_replay(want, 65536, args))
			cr_skip_test("python3 not installed");
		for (int p = 0; p < NR_POL; p++) {
			for (int z = 0; z < 4; z++) {
				struct result res =
					replay(&s, cap[z], (enum pol)p, 0);

				result_line(got + len, 65536 - len, st[i].name,
					    (enum pol)p, cap[z], s.n, &res);
				len += strlen(got + len);
				got[len++] = '\n';
			}
		}
		cr_assert_str_eq(got, want, "replay.py %s", args);
		cr_log_info("%s:\n%s", st[i].name, got);
		free(s.req);
		free(want);
		free(got);
	}
}
