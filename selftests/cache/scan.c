// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sc_cache_scan() and sc_entry_string_key(): a walk returns every entry
 * that stays in the cache exactly once, whatever happens between its
 * calls (inserts, removes, replaces, evictions, the index growing and
 * shrinking), with any batch size; it pins what it returns, is not a
 * use, allocates nothing, refuses bad arguments, and leaves the cursor
 * alone when it cannot pin.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdatomic.h>

#include "config.h"
#include "core/cache_internal.h"
#include "core/index.h"
#include "core/internal.h"
#include "helpers.h"

#define NKEYS 6000

/* What a walk saw: how often each value id, and whether keys matched. */
struct seen {
	unsigned char count[2 * NKEYS + 64];
	unsigned long total, calls, bad_keys;
};

static void kname(char *buf, size_t len, unsigned long id)
{
	snprintf(buf, len, "scan-%lu", id);
}

/* One call's entries: count each, check its key, put it. */
static void take(struct seen *s, struct sc_entry **v, int n)
{
	for (int i = 0; i < n; i++) {
		uintptr_t id = VAL_ID(sc_entry_value(v[i]));
		size_t len;
		const char *k = sc_entry_string_key(v[i], &len);

		cr_assert_lt(id, sizeof(s->count));
		s->count[id]++;
		s->total++;
		if (k) {
			char want[32];

			kname(want, sizeof(want), id % NKEYS);
			if (len != strlen(want) || memcmp(k, want, len))
				s->bad_keys++;
		}
		sc_entry_put(v[i]);
	}
	s->calls++;
}

/* A whole walk, @max at a time; @between runs after each call. */
static void walk(struct sc_cache *c, unsigned int max, struct seen *s,
		 void (*between)(struct sc_cache *, unsigned long, void *),
		 void *arg)
{
	struct sc_cache_cursor cur = SC_CACHE_CURSOR_INIT;
	struct sc_entry **v = calloc(max, sizeof(*v));
	int n;

	cr_assert_not_null(v);
	memset(s, 0, sizeof(*s));
	while ((n = sc_cache_scan(c, &cur, v, max)) > 0) {
		cr_assert_leq(n, (int)max);
		take(s, v, n);
		if (between)
			between(c, s->calls, arg);
		cr_assert_lt(s->calls, 10 * NKEYS, "the walk does not end");
	}
	cr_assert_eq(n, 0, "scan failed: %d", n);
	/* over is over */
	cr_assert_eq(sc_cache_scan(c, &cur, v, max), 0);
	free(v);
}

static void insert_id(struct sc_cache *c, unsigned long id)
{
	char k[32];

	kname(k, sizeof(k), id % NKEYS);
	cr_assert_eq(sc_cache_insert(c, k, VAL(id), 1), 0);
}

Test(cache_scan, bad_arguments_and_empty)
{
	struct sc_cache *c = mk_cache(1000, NULL);
	struct sc_cache_cursor cur = SC_CACHE_CURSOR_INIT, bad = { 0, 7 };
	struct sc_entry *v[4];

	cr_assert_not_null(c);
	errno = 0;
	cr_assert_eq(sc_cache_scan(NULL, &cur, v, 4), -EINVAL);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(sc_cache_scan(c, NULL, v, 4), -EINVAL);
	cr_assert_eq(sc_cache_scan(c, &cur, NULL, 4), -EINVAL);
	cr_assert_eq(sc_cache_scan(c, &cur, v, 0), -EINVAL);
	cr_assert_eq(sc_cache_scan(c, &bad, v, 4), -EINVAL);
	cr_assert_eq(bad.phase, 7, "a refused cursor is left alone");
	cr_assert_eq(cur.pos, 0);
	cr_assert_eq(cur.phase, 0);
	/* an empty cache: the walk is over at once */
	cr_assert_eq(sc_cache_scan(c, &cur, v, 4), 0);
	cr_assert_eq(sc_cache_scan(c, &cur, v, 4), 0);
	sc_cache_destroy(c);
}

Test(cache_scan, string_key)
{
	struct sc_cache *c = mk_cache(100000, NULL);
	char longkey[300];
	struct sc_entry *e;
	sc_key_t h;
	size_t len = 99;

	cr_assert_eq(sc_entry_string_key(NULL, &len), NULL);
	cr_assert_eq(len, 0);
	cr_assert_eq(sc_cache_insert(c, "short", VAL(1), 1), 0);
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	/* beyond what an entry holds inline: the key lives in a key slab */
	cr_assert_eq(sc_cache_insert(c, longkey, VAL(2), 1), 0);
	h = sc_cache_add(c, VAL(3), 1);
	cr_assert(h.id);

	e = sc_cache_get(c, "short");
	cr_assert_not_null(e);
	cr_assert_eq(memcmp(sc_entry_string_key(e, &len), "short", 5), 0);
	cr_assert_eq(len, 5);
	cr_assert_not_null(sc_entry_string_key(e, NULL), "len may be NULL");
	sc_entry_put(e);
	e = sc_cache_get(c, longkey);
	cr_assert_not_null(e);
	cr_assert_eq(memcmp(sc_entry_string_key(e, &len), longkey,
			    sizeof(longkey) - 1),
		     0);
	cr_assert_eq(len, sizeof(longkey) - 1);
	sc_entry_put(e);
	e = sc_cache_get_key(c, h);
	cr_assert_not_null(e);
	len = 99;
	cr_assert_eq(sc_entry_string_key(e, &len), NULL);
	cr_assert_eq(len, 0);
	sc_entry_put(e);
	sc_cache_destroy(c);
}

/* Every entry once, strings then handles, for batch sizes and counts. */
Test(cache_scan, every_entry_once)
{
	static const unsigned int maxes[] = { 1, 2, 3, 7, 64, 5000 };
	static const unsigned long counts[] = { 1, 5, 100, NKEYS };
	static struct seen s;

	for (size_t ci = 0; ci < sizeof(counts) / sizeof(counts[0]); ci++) {
		struct sc_cache *c = mk_cache(SIZE_MAX, NULL);
		unsigned long n = counts[ci], nh = n / 3 + 1;
		sc_key_t *h = calloc(nh, sizeof(*h));

		cr_assert_not_null(c);
		for (unsigned long i = 0; i < n; i++)
			insert_id(c, i);
		for (unsigned long i = 0; i < nh; i++) {
			h[i] = sc_cache_add(c, VAL(NKEYS + i), 1);
			cr_assert(h[i].id);
		}
		/* handles whose slots are freed leave holes in the array */
		for (unsigned long i = 0; i < nh; i += 4)
			cr_assert_eq(sc_cache_remove_key(c, h[i]), 0);
		for (size_t mi = 0; mi < sizeof(maxes) / sizeof(maxes[0]);
		     mi++) {
			walk(c, maxes[mi], &s, NULL, NULL);
			cr_assert_eq(s.bad_keys, 0);
			for (unsigned long i = 0; i < n; i++)
				cr_assert_eq(s.count[i], 1,
					     "n %lu max %u: key %lu seen %u", n,
					     maxes[mi], i, s.count[i]);
			for (unsigned long i = 0; i < nh; i++)
				cr_assert_eq(s.count[NKEYS + i], i % 4 ? 1 : 0,
					     "handle %lu", i);
			cr_assert_eq(s.total, sc_cache_count(c));
		}
		/* every pin was put */
		cr_assert_eq(sc_cache_check(c, NULL), 0);
		sc_cache_destroy(c);
		free(h);
	}
}

/*
 * Between calls: 300 keys stay (even ids below 600) while the 5,700
 * others come and go in bulk, so the index grows through several sizes
 * and is trimmed back; some staying keys get new values. Every staying
 * key is seen exactly once, each other key at most once.
 */
#define STABLE(i) ((i) < 600 && !((i) % 2))

static void churn_between(struct sc_cache *c, unsigned long calls, void *arg)
{
	char k[32];

	(void)arg;
	if (calls % 8 == 1) {
		for (unsigned long i = 0; i < NKEYS; i++)
			if (!STABLE(i))
				insert_id(c, i);
	} else if (calls % 8 == 5) {
		for (unsigned long i = 2; i < NKEYS; i++) {
			kname(k, sizeof(k), i);
			if (!STABLE(i))
				sc_cache_remove(c, k);
		}
		/* id 1 is the oldest now: shrinking evicts it, and trims */
		for (unsigned long i = 0; i < 600; i += 2) {
			kname(k, sizeof(k), i);
			cr_assert_not_null(sc_cache_find(c, k));
		}
		cr_assert_eq(sc_cache_shrink(c, 1), 1);
		kname(k, sizeof(k), 1);
		cr_assert_not(sc_cache_contains(c, k));
		insert_id(c, 1);
	} else if (calls % 8 == 3) {
		/* same key, new value */
		for (unsigned long i = 0; i < 600; i += 50)
			insert_id(c, i + NKEYS);
	}
}

Test(cache_scan, exactly_once_under_change)
{
	static const unsigned int maxes[] = { 1, 5, 64, 700 };
	static struct seen s;

	for (size_t mi = 0; mi < sizeof(maxes) / sizeof(maxes[0]); mi++) {
		struct sc_cache *c = mk_cache(SIZE_MAX, NULL);
		size_t cap_lo = SIZE_MAX, cap_hi = 0;

		insert_id(c, 1);
		for (unsigned long i = 0; i < 600; i += 2)
			insert_id(c, i);
		walk(c, maxes[mi], &s, churn_between, NULL);
		cr_assert_eq(s.bad_keys, 0);
		for (unsigned long i = 0; i < NKEYS; i++) {
			if (STABLE(i))
				cr_assert_eq(s.count[i] + s.count[i + NKEYS], 1,
					     "max %u: key %lu seen %u times",
					     maxes[mi], i,
					     s.count[i] + s.count[i + NKEYS]);
			else
				cr_assert_leq(s.count[i], 1, "key %lu", i);
		}
		/* the walk did see the index at several sizes */
		churn_between(c, 1, NULL);
		cap_hi = atomic_load(&c->index)->cap;
		churn_between(c, 5, NULL);
		cap_lo = atomic_load(&c->index)->cap;
		cr_assert_gt(cap_hi, 4 * cap_lo, "%zu, %zu", cap_hi, cap_lo);
		cr_assert_eq(sc_cache_check(c, NULL), 0);
		sc_cache_destroy(c);
	}
}

/*
 * An index whose every slot says "distance saturated" is still a valid
 * index (the distance is then recomputed from the key): the walk must
 * find each entry's home that way too.
 */
Test(cache_scan, saturated_distances)
{
	struct sc_cache *c = mk_cache(SIZE_MAX, NULL);
	struct sc_index_table *t;
	static struct seen s;

	for (unsigned long i = 0; i < 3000; i++)
		insert_id(c, i);
	sc_cache_lock(c);
	t = atomic_load(&c->index);
	for (size_t i = 0; i < t->cap; i++) {
		uint64_t w = atomic_load(&t->slots[i]);

		if (w)
			atomic_store(&t->slots[i], w | SC_SLOT_DISP_FIELD);
	}
	sc_cache_unlock(c);
	for (unsigned int max = 1; max <= 64; max *= 4) {
		walk(c, max, &s, NULL, NULL);
		for (unsigned long i = 0; i < 3000; i++)
			cr_assert_eq(s.count[i], 1, "max %u key %lu", max, i);
	}
	sc_cache_destroy(c);
}

/* Returned entries are pinned: an eviction keeps their values. */
Test(cache_scan, pins_outlive_eviction)
{
	struct rel r;
	struct sc_cache *c;
	struct sc_cache_cursor cur = SC_CACHE_CURSOR_INIT;
	struct sc_entry *v[8];
	struct sc_cache_stats st;
	int n;

	rel_init(&r, 64);
	c = mk_cache(1000, &r);
	for (unsigned long i = 0; i < 20; i++)
		insert_id(c, i);
	/* a call ends at a home slot boundary: 1 to 8 entries */
	n = sc_cache_scan(c, &cur, v, 8);
	cr_assert(n >= 1 && n <= 8, "%d", n);
	cr_assert_eq(sc_cache_set_limit(c, 0), 0);
	cr_assert_eq(sc_cache_count(c), 0);
	cr_assert_eq(r.total, 20 - (unsigned long)n,
		     "only the unpinned values are released");
	cr_assert_eq(sc_cache_stats(c, &st), 0);
	cr_assert_eq(st.pinned, (size_t)n);
	for (int i = 0; i < n; i++) {
		uintptr_t id = VAL_ID(sc_entry_value(v[i]));

		cr_assert_lt(id, 20);
		cr_assert_eq(rel_count(&r, id), 0);
		sc_entry_put(v[i]);
		cr_assert_eq(rel_count(&r, id), 1);
	}
	/* the rest of the walk: nothing is left */
	cr_assert_eq(sc_cache_scan(c, &cur, v, 8), 0);
	sc_cache_destroy(c);
	cr_assert_eq(r.total, 20);
	rel_fini(&r);
}

/* Not a use: the eviction order and the counters stay as they were. */
Test(cache_scan, not_a_use)
{
	struct sc_cache *c = mk_cache(10, NULL);
	struct sc_cache_stats st0, st;
	static struct seen s;
	char k[32];

	for (unsigned long i = 0; i < 10; i++)
		insert_id(c, i);
	cr_assert_eq(sc_cache_stats(c, &st0), 0);
	walk(c, 3, &s, NULL, NULL);
	cr_assert_eq(sc_cache_stats(c, &st), 0);
	cr_assert_eq(st.hits, st0.hits);
	cr_assert_eq(st.misses, st0.misses);
	/* the oldest goes first, as before the walk */
	insert_id(c, 10);
	kname(k, sizeof(k), 0);
	cr_assert_not(sc_cache_contains(c, k));
	kname(k, sizeof(k), 1);
	cr_assert(sc_cache_contains(c, k));
	sc_cache_destroy(c);
}

/* It allocates nothing: an armed injection is not consumed. */
Test(cache_scan, allocates_nothing)
{
	struct sc_cache *c = mk_cache(SIZE_MAX, NULL);
	static struct seen s;
	unsigned long before;

	for (unsigned long i = 0; i < 500; i++)
		insert_id(c, i);
	cr_assert(sc_cache_add(c, VAL(NKEYS), 1).id);
	sc_fault_inject(1);
	before = sc_fault_allocations();
	walk(c, 16, &s, NULL, NULL);
	cr_assert_eq(sc_fault_allocations(), before, "no allocation attempted");
	sc_fault_inject(0);
	cr_assert_eq(s.total, 501);
	sc_cache_destroy(c);
}

/* A reference count at its limit: nothing pinned, the cursor stays. */
Test(cache_scan, count_at_limit)
{
	struct sc_cache *c = mk_cache(SIZE_MAX, NULL);
	struct sc_cache_cursor cur = SC_CACHE_CURSOR_INIT, before;
	struct sc_entry *v[4], *e;
	char k[32];
	static struct seen s;
	int n;

	insert_id(c, 0);
	kname(k, sizeof(k), 0);
	e = sc_cache_get(c, k);
	cr_assert_not_null(e);
	atomic_store(&e->refs, SC_REFS_MAX);
	before = cur;
	errno = 0;
	cr_assert_eq(sc_cache_scan(c, &cur, v, 4), -EOVERFLOW);
	cr_assert_eq(errno, EOVERFLOW);
	cr_assert_eq(cur.pos, before.pos);
	cr_assert_eq(cur.phase, before.phase);
	cr_assert_eq(atomic_load(&e->refs), SC_REFS_MAX);
	atomic_store(&e->refs, 1); /* the cache's: the get's is a slot pin */
	n = sc_cache_scan(c, &cur, v, 4);
	cr_assert_eq(n, 1);
	memset(&s, 0, sizeof(s));
	take(&s, v, n);
	cr_assert_eq(s.count[0], 1);
	sc_entry_put(e);
	cr_assert_eq(sc_cache_check(c, NULL), 0);
	sc_cache_destroy(c);
}
