// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fault-injection sweep over every cache operation: for n = 1, 2, ...
 * build the same cache state, arm sc_fault_inject(n), run the operation.
 * Until n passes the operation's allocations it must fail with ENOMEM and
 * leave everything identical: count, cost, stats (insert_failures aside),
 * every handle valid and finding its value, every string key finding its
 * value, the same LRU order, no release run, no slab object left behind.
 * Then it must succeed. Operations that allocate nothing must succeed with
 * an armed injection and not consume it. Every test runs once per eviction
 * policy: exact LRU, SC_CACHE_POLICY_SIEVE and SC_CACHE_POLICY_S3FIFO
 * (whose eviction orders after the "find everything" step below are
 * insertion order too: every entry then has one hit, and S3-FIFO's full
 * setup keeps them all on its small queue, which evicts oldest first).
 * S3-FIFO's ghost is one more allocation of a stored insert: its failure
 * must leave the insert stored (insert_allocates_ghost).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "config.h"
#include "core/internal.h"
#include "helpers.h"

#ifdef CONFIG_SC_ASAN
#include <sanitizer/lsan_interface.h>
#endif

#define LIMIT 1000
#define NAME "fault"

struct fent {
	bool handle;
	char key[128];
	sc_key_t h;
	unsigned long val;
};

struct fx {
	struct rel rel;
	struct fent ent[2048]; /* in LRU order, oldest first */
	size_t n;
	unsigned long next_val;
	unsigned int policy; /* 0 or an SC_CACHE_POLICY_* */
};

static const unsigned int policies[] = { 0, SC_CACHE_POLICY_SIEVE,
					 SC_CACHE_POLICY_S3FIFO };
#define NR_POLICIES (sizeof(policies) / sizeof(policies[0]))
#define POLICY_NAME(p)                               \
	((p) == SC_CACHE_POLICY_SIEVE  ? "SIEVE" :   \
	 (p) == SC_CACHE_POLICY_S3FIFO ? "S3-FIFO" : \
					 "LRU")

static struct sc_cache *fx_cache(struct fx *f)
{
	struct sc_cache_config cfg = { .name = NAME,
				       .limit = LIMIT,
				       .ops = &rel_ops,
				       .priv = &f->rel,
				       .flags = SC_CACHE_NO_SHRINKER |
						f->policy };

	return sc_cache_create(&cfg);
}

static void fx_insert(struct sc_cache *c, struct fx *f, const char *key,
		      size_t cost)
{
	struct fent *e = &f->ent[f->n++];

	e->handle = false;
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->val = f->next_val++;
	cr_assert_eq(sc_cache_insert(c, key, VAL(e->val), cost), 0);
}

static void fx_add(struct sc_cache *c, struct fx *f, size_t cost)
{
	struct fent *e = &f->ent[f->n++];

	e->handle = true;
	e->val = f->next_val++;
	e->h = sc_cache_add(c, VAL(e->val), cost);
	cr_assert_neq(e->h.id, 0);
}

static void setup_empty(struct sc_cache *c, struct fx *f)
{
}

/* 12 string keys (the index is full at load 3/4 of 16), 4 handles (the key
 * array is full at 4), one long key; total 850 of 1000. */
static void setup_full(struct sc_cache *c, struct fx *f)
{
	char buf[32];

	for (int i = 0; i < 11; i++)
		fx_insert(c, f, kstr(buf, sizeof(buf), "key", i), 50);
	fx_insert(c, f,
		  "a-long-key-that-lives-in-a-key-slab-of-its-own-size-class-"
		  "rather-than-inline-in-the-entry-itself",
		  50);
	for (int i = 0; i < 4; i++)
		fx_add(c, f, 50);
	/*
	 * S3-FIFO refuses "new" at 300 (above a tenth of the limit) the first
	 * time and remembers it, so that op_insert_short stores it in M.
	 */
	if (f->policy == SC_CACHE_POLICY_S3FIFO)
		cr_assert_eq(sc_cache_insert(c, "new", VAL(1000), 300),
			     SC_CACHE_NOT_ADMITTED);
}

/* Count the active objects of this test's slab caches. */
static size_t slab_active(size_t *nr_caches)
{
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0, active = 0, n;
	FILE *fp = open_memstream(&buf, &len);
	char name[128];

	cr_assert_geq(sc_slabinfo_write(fp), 0);
	fclose(fp);
	if (nr_caches)
		*nr_caches = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%127s %zu", name, &n) == 2 &&
		    !strncmp(name, NAME "-", strlen(NAME "-"))) {
			active += n;
			if (nr_caches)
				(*nr_caches)++;
		}
	}
	free(buf);
	return active;
}

/* The state left by setup, unchanged: see the file comment. */
static void verify_unchanged(struct sc_cache *c, struct fx *f,
			     const struct sc_cache_stats *st0,
			     const struct sc_s3fifo_state *ps0, size_t active0,
			     size_t caches0, unsigned long released0,
			     const char *what, unsigned long n)
{
	struct sc_s3fifo_state ps;
	struct sc_cache_stats st;
	size_t caches;

	/* S3-FIFO: the same queues, and the ghost remembers the same keys */
	sc_cache_s3fifo_state(c, &ps);
	cr_assert(!memcmp(&ps, ps0, sizeof(ps)), "%s n=%lu: S3-FIFO state",
		  what, n);
	sc_cache_stats(c, &st);
	cr_assert_eq(st.insert_failures, st0->insert_failures + 1, "%s n=%lu",
		     what, n);
	st.insert_failures = st0->insert_failures;
	cr_assert(!memcmp(&st, st0, sizeof(st)), "%s n=%lu: stats changed",
		  what, n);
	cr_assert_eq(atomic_load(&f->rel.total), released0,
		     "%s n=%lu: a release ran", what, n);
	cr_assert_eq(slab_active(&caches), active0, "%s n=%lu: slab objects",
		     what, n);
	cr_assert_eq(caches, caches0, "%s n=%lu: slab caches", what, n);
	cr_assert_eq(sc_cache_check(c, NULL), 0, "%s n=%lu: invariants", what,
		     n);
	for (size_t i = 0; i < f->n; i++)
		if (f->ent[i].handle)
			cr_assert(sc_cache_key_valid(c, f->ent[i].h),
				  "%s n=%lu: handle %zu", what, n, i);
	/* finding every entry oldest first leaves the LRU order as it was */
	for (size_t i = 0; i < f->n; i++) {
		void *v = f->ent[i].handle ? sc_cache_find_key(c, f->ent[i].h) :
					     sc_cache_find(c, f->ent[i].key);

		cr_assert_eq(v, VAL(f->ent[i].val), "%s n=%lu: entry %zu", what,
			     n, i);
	}
	/*
	 * The LRU order: evict one at a time. With SIEVE every entry is now
	 * visited and the hand (at the oldest: setup evicts nothing) clears
	 * them all in one lap, then evicts in insertion order.
	 */
	for (size_t i = 0; i < f->n; i++) {
		unsigned long before = atomic_load(&f->rel.total);

		cr_assert_eq(sc_cache_shrink(c, 1), 1);
		cr_assert_eq(atomic_load(&f->rel.total), before + 1);
		cr_assert_eq(rel_count(&f->rel, f->ent[i].val), 1,
			     "%s n=%lu: eviction order at %zu", what, n, i);
	}
	cr_assert_eq(sc_cache_count(c), 0);
}

typedef int (*op_fn)(struct sc_cache *c, struct fx *f);

static void sweep_policy(const char *what,
			 void (*setup)(struct sc_cache *, struct fx *),
			 op_fn op, unsigned int policy)
{
	unsigned long n;
	int ret = -ENOMEM;

	for (n = 1; n < 100 && ret; n++) {
		struct sc_cache_stats st0;
		struct sc_s3fifo_state ps0;
		struct fx f = { .next_val = 1, .policy = policy };
		struct sc_cache *c;
		size_t active0, caches0, caches;
		unsigned long released0;

		rel_init(&f.rel, 1024);
		c = fx_cache(&f);
		cr_assert_not_null(c);
		setup(c, &f);
		sc_cache_stats(c, &st0);
		sc_cache_s3fifo_state(c, &ps0);
		active0 = slab_active(&caches0);
		released0 = atomic_load(&f.rel.total);

		sc_fault_inject(n);
		ret = op(c, &f);
		sc_fault_inject(0);
		cr_assert_eq(sc_cache_check(c, NULL), 0, "%s n=%lu", what, n);
		if (ret) {
			cr_assert_eq(ret, -ENOMEM, "%s n=%lu: %d", what, n,
				     ret);
			verify_unchanged(c, &f, &st0, &ps0, active0, caches0,
					 released0, what, n);
		}
		sc_cache_destroy(c);
		/* nothing of the cache is left, every value released once */
		cr_assert_eq(slab_active(&caches), 0);
		cr_assert_eq(caches, 0, "%s n=%lu: slab caches left", what, n);
		for (unsigned long v = 1; v < f.next_val; v++)
			cr_assert_eq(rel_count(&f.rel, v), 1, "%s value %lu",
				     what, v);
		rel_fini(&f.rel);
	}
	cr_assert_eq(ret, 0, "%s never succeeded", what);
	cr_assert_gt(n, 2, "%s: no allocation failed", what);
	cr_log_info("%s (%s): succeeded at allocation %lu", what,
		    POLICY_NAME(policy), n - 1);
#ifdef CONFIG_SC_ASAN
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0);
#endif
}

static void sweep(const char *what,
		  void (*setup)(struct sc_cache *, struct fx *), op_fn op)
{
	for (size_t p = 0; p < NR_POLICIES; p++)
		sweep_policy(what, setup, op, policies[p]);
}

/* Record the entry an operation adds, so that destroy can be checked. */
static int op_insert(struct sc_cache *c, struct fx *f, const char *key,
		     size_t cost)
{
	unsigned long v = f->next_val;
	int ret = sc_cache_insert(c, key, VAL(v), cost);

	if (!ret)
		f->next_val++;
	else
		cr_assert_eq(errno, -ret);
	return ret;
}

static int op_insert_short(struct sc_cache *c, struct fx *f)
{
	/*
	 * Evicts 3 when it succeeds in the full setup. An empty S3-FIFO cache
	 * admits it too: it has no ghost yet, so it refuses nothing.
	 */
	return op_insert(c, f, "new", 300);
}

static int op_insert_long(struct sc_cache *c, struct fx *f)
{
	char key[5000];

	memset(key, 'L', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	return op_insert(c, f, key, 10);
}

static int op_insert_existing(struct sc_cache *c, struct fx *f)
{
	return op_insert(c, f, "key3", 60);
}

static int op_add(struct sc_cache *c, struct fx *f)
{
	unsigned long v = f->next_val;
	sc_key_t k = sc_cache_add(c, VAL(v), 300);

	if (!k.id) {
		cr_assert_eq(errno, ENOMEM);
		return -errno;
	}
	f->next_val++;
	cr_assert(sc_cache_key_valid(c, k));
	return 0;
}

static int op_replace(struct sc_cache *c, struct fx *f)
{
	unsigned long v = f->next_val;
	int ret = sc_cache_replace(c, f->ent[13].h, VAL(v), 300);

	if (!ret) {
		f->next_val++;
		cr_assert_eq(sc_cache_find_key(c, f->ent[13].h), VAL(v));
	}
	return ret;
}

Test(cache_fault, insert_into_empty)
{
	sweep("insert into an empty cache", setup_empty, op_insert_short);
}

Test(cache_fault, insert_grows_index)
{
	sweep("insert that grows the index", setup_full, op_insert_short);
}

Test(cache_fault, insert_long_key)
{
	sweep("insert of a long key", setup_full, op_insert_long);
}

Test(cache_fault, insert_existing_key)
{
	sweep("insert over an existing key", setup_full, op_insert_existing);
}

Test(cache_fault, add_into_empty)
{
	sweep("add into an empty cache", setup_empty, op_add);
}

Test(cache_fault, add_grows_key_array)
{
	sweep("add that grows the key array", setup_full, op_add);
}

Test(cache_fault, replace)
{
	sweep("replace", setup_full, op_replace);
}

static void create_policy(unsigned int policy)
{
	struct sc_cache *c = NULL;
	size_t caches;
	unsigned long n;

	for (n = 1; n < 200 && !c; n++) {
		struct sc_cache_config cfg = { .name = NAME, .flags = policy };

		sc_fault_inject(n);
		c = sc_cache_create(&cfg);
		sc_fault_inject(0);
		if (!c) {
			cr_assert_eq(errno, ENOMEM);
			slab_active(&caches);
			cr_assert_eq(caches, 0, "n=%lu: slab caches left", n);
			/* no shrinker left registered: a pass finds nothing */
			cr_assert_eq(sc_shrink_memory(SC_PRESSURE_CRITICAL), 0);
		}
	}
	cr_assert_not_null(c);
	cr_assert_gt(n, 2);
	cr_assert_eq(sc_cache_insert(c, "k", VAL(1), 1), 0);
	sc_cache_destroy(c);
	slab_active(&caches);
	cr_assert_eq(caches, 0);
#ifdef CONFIG_SC_ASAN
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0);
#endif
}

Test(cache_fault, create)
{
	for (size_t p = 0; p < NR_POLICIES; p++)
		create_policy(policies[p]);
}

/* Operations that allocate nothing: an armed injection is not consumed. */
static void non_allocating_ops_policy(unsigned int policy)
{
	struct fx f = { .next_val = 1, .policy = policy };
	struct sc_cache_stats st;
	struct sc_entry *e;
	struct sc_cache *c;
	unsigned long before;

	rel_init(&f.rel, 1024);
	c = fx_cache(&f);
	setup_full(c, &f);

	sc_fault_inject(1);
	before = sc_fault_allocations();
	cr_assert_eq(sc_cache_find(c, "key1"), VAL(f.ent[1].val));
	cr_assert_eq(sc_cache_find_key(c, f.ent[12].h), VAL(f.ent[12].val));
	cr_assert(sc_cache_key_valid(c, f.ent[13].h));
	e = sc_cache_get(c, "key2");
	cr_assert_not_null(e);
	sc_entry_put(e);
	e = sc_cache_get_key(c, f.ent[14].h);
	cr_assert_not_null(e);
	cr_assert_eq(sc_cache_remove(c, "key4"), 0);
	cr_assert_eq(sc_cache_remove_key(c, f.ent[15].h), 0);
	cr_assert_eq(sc_cache_set_limit(c, 500), 0);
	cr_assert_eq(sc_cache_shrink(c, 2), 2);
	cr_assert_geq(sc_cache_age(c), 1);
	cr_assert_eq(sc_cache_stats(c, &st), 0);
	sc_cache_clear(c);
	sc_entry_put(e);
	cr_assert_eq(sc_fault_allocations(), before, "no allocation attempted");
	sc_fault_inject(0);
	sc_cache_destroy(c);
	for (unsigned long v = 1; v < f.next_val; v++)
		cr_assert_eq(rel_count(&f.rel, v), 1);
	rel_fini(&f.rel);
}

Test(cache_fault, non_allocating_ops)
{
	for (size_t p = 0; p < NR_POLICIES; p++)
		non_allocating_ops_policy(policies[p]);
}

/*
 * A shrink that empties most of the index reallocates it smaller; when
 * that allocation fails the old table simply stays: the shrink still
 * evicts what it was asked to and every remaining key is found.
 */
static void shrink_trim_fails_policy(unsigned int policy)
{
	struct fx f = { .next_val = 1, .policy = policy };
	struct sc_cache *c;
	size_t before;
	char buf[32];

	rel_init(&f.rel, 4096);
	c = fx_cache(&f);
	sc_cache_set_limit(c, SIZE_MAX);
	for (int i = 0; i < 2000; i++)
		fx_insert(c, &f, kstr(buf, sizeof(buf), "t", i), 1);
	before = sc_cache_memory(c);
	sc_fault_inject(1);
	cr_assert_eq(sc_cache_shrink(c, 1990), 1990);
	sc_fault_inject(0);
	cr_assert_eq(sc_cache_memory(c), before, "the old table stays");
	cr_assert_eq(sc_cache_count(c), 10);
	for (int i = 1990; i < 2000; i++)
		cr_assert_eq(sc_cache_find(c, f.ent[i].key), VAL(f.ent[i].val));
	/* without injection the next shrink does give it back */
	cr_assert_eq(sc_cache_shrink(c, 1), 1);
	cr_assert_lt(sc_cache_memory(c), before);
	sc_cache_destroy(c);
	for (unsigned long v = 1; v < f.next_val; v++)
		cr_assert_eq(rel_count(&f.rel, v), 1);
	rel_fini(&f.rel);
}

Test(cache_fault, shrink_trim_fails)
{
	for (size_t p = 0; p < NR_POLICIES; p++)
		shrink_trim_fails_policy(policies[p]);
}

/*
 * S3-FIFO's ghost comes with the stored insert that brings the cache to
 * half its limit: one more allocation, after every other. Its failure is
 * not the insert's: the value is stored, there is no ghost yet, and the
 * next stored insert makes it.
 */
Test(cache_fault, insert_allocates_ghost)
{
	unsigned long n, last = 0;
	char buf[32];

	for (n = 1; n < 100; n++) {
		struct fx f = { .next_val = 1,
				.policy = SC_CACHE_POLICY_S3FIFO };
		struct sc_s3fifo_state ps;
		struct sc_cache *c;
		int ret;

		rel_init(&f.rel, 1024);
		c = fx_cache(&f);
		cr_assert_not_null(c);
		for (int i = 0; i < 9; i++)
			fx_insert(c, &f, kstr(buf, sizeof(buf), "key", i), 50);
		sc_cache_s3fifo_state(c, &ps);
		cr_assert_eq(ps.ghost_buckets, 0, "below half the limit");
		sc_fault_inject(n);
		ret = op_insert(c, &f, "half", 50);
		sc_fault_inject(0);
		cr_assert_eq(sc_cache_check(c, NULL), 0);
		sc_cache_s3fifo_state(c, &ps);
		if (ret) {
			cr_assert_eq(ret, -ENOMEM, "n=%lu", n);
			cr_assert_eq(ps.ghost_buckets, 0);
			cr_assert_eq(sc_cache_count(c), 9);
			last = n;
		} else if (ps.ghost_buckets) {
			/* no injection hit: the ghost is there */
			cr_assert_eq(sc_cache_count(c), 10);
			sc_cache_destroy(c);
			rel_fini(&f.rel);
			break;
		} else {
			/* the ghost's allocation failed: stored all the same */
			cr_assert_eq(n, last + 1, "n=%lu after %lu", n, last);
			cr_assert_eq(sc_cache_count(c), 10);
			cr_assert_eq(sc_cache_find(c, "half"),
				     VAL(f.next_val - 1));
			cr_assert_eq(op_insert(c, &f, "next", 50), 0);
			sc_cache_s3fifo_state(c, &ps);
			cr_assert_gt(ps.ghost_buckets, 0, "the next makes it");
			last = n;
		}
		sc_cache_destroy(c);
		for (unsigned long v = 1; v < f.next_val; v++)
			cr_assert_eq(rel_count(&f.rel, v), 1);
		rel_fini(&f.rel);
	}
	cr_assert_lt(n, 100, "the ghost never came");
	cr_assert_gt(last, 1, "no allocation failed");
	cr_log_info("S3-FIFO insert that makes the ghost: allocation %lu is "
		    "the ghost's",
		    last);
#ifdef CONFIG_SC_ASAN
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0);
#endif
}
