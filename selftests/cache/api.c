// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The contract's rules one by one: invalid input gets its documented error
 * and changes nothing; handles (stale, foreign, retired generations);
 * overflow; pinned access and put after destroy; release callbacks that
 * call back into the cache; aging; statistics; the cache's own shrinker.
 */
#include <criterion/criterion.h>
#include <limits.h>

#include "core/internal.h"
#include "helpers.h"

/* A snapshot of everything observable without a use. */
struct snap {
	struct sc_cache_stats st;
	unsigned long released;
};

static void snap_take(struct sc_cache *c, struct rel *r, struct snap *s)
{
	cr_assert_eq(sc_cache_stats(c, &s->st), 0);
	s->released = atomic_load(&r->total);
}

static void snap_same(struct sc_cache *c, struct rel *r, const struct snap *s,
		      bool failure_counted, const char *what)
{
	struct snap now;

	snap_take(c, r, &now);
	if (failure_counted) {
		cr_assert_eq(now.st.insert_failures, s->st.insert_failures + 1,
			     "%s", what);
		now.st.insert_failures--;
	}
	cr_assert(!memcmp(&now.st, &s->st, sizeof(now.st)), "%s", what);
	cr_assert_eq(now.released, s->released, "%s: release ran", what);
}

Test(cache_api, invalid_create)
{
	struct sc_cache_config cfg = { .flags = 0x100 };

	errno = 0;
	cr_assert_null(sc_cache_create(&cfg));
	cr_assert_eq(errno, EINVAL);
	cfg.flags = SC_CACHE_POLICY_S3FIFO << 1; /* the next bit: unknown */
	cr_assert_null(sc_cache_create(&cfg));
	cr_assert_eq(errno, EINVAL);
	cfg.flags = SC_CACHE_POLICY_SIEVE | SC_CACHE_POLICY_S3FIFO;
	errno = 0;
	cr_assert_null(sc_cache_create(&cfg), "one policy at a time");
	cr_assert_eq(errno, EINVAL);
	cfg.flags = SC_CACHE_POLICY_SIEVE | SC_CACHE_NO_SHRINKER;
	struct sc_cache *c = sc_cache_create(&cfg);
	cr_assert_not_null(c);
	sc_cache_destroy(c);
	cfg.flags = 0;
	c = sc_cache_create(&cfg);
	cr_assert_not_null(c, "a zeroed config is valid");
	cr_assert_eq(sc_cache_limit(c), SC_CACHE_DEFAULT_LIMIT);
	sc_cache_destroy(c);
	c = sc_cache_create(NULL);
	cr_assert_not_null(c);
	sc_cache_destroy(c);
	sc_cache_destroy(NULL);
}

Test(cache_api, null_cache)
{
	struct sc_cache_stats st;

	cr_assert_eq(sc_cache_insert(NULL, "k", VAL(1), 1), -EINVAL);
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(sc_cache_find(NULL, "k"));
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(sc_cache_remove(NULL, "k"), -EINVAL);
	errno = 0;
	cr_assert_eq(sc_cache_add(NULL, VAL(1), 1).id, 0);
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(sc_cache_find_key(NULL, SC_KEY_NONE));
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(sc_cache_replace(NULL, SC_KEY_NONE, VAL(1), 1), -EINVAL);
	cr_assert_eq(sc_cache_remove_key(NULL, SC_KEY_NONE), -EINVAL);
	cr_assert_not(sc_cache_key_valid(NULL, SC_KEY_NONE));
	errno = 0;
	cr_assert_null(sc_cache_get(NULL, "k"));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(sc_cache_get_key(NULL, SC_KEY_NONE));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(sc_entry_value(NULL));
	cr_assert_eq(sc_entry_cost(NULL), 0);
	sc_entry_put(NULL);
	cr_assert_eq(sc_cache_set_limit(NULL, 1), -EINVAL);
	cr_assert_eq(sc_cache_limit(NULL), 0);
	cr_assert_eq(sc_cache_total_cost(NULL), 0);
	cr_assert_eq(sc_cache_count(NULL), 0);
	sc_cache_clear(NULL);
	cr_assert_eq(sc_cache_shrink(NULL, 10), 0);
	cr_assert_eq(sc_cache_age(NULL), 0);
	cr_assert_eq(sc_cache_stats(NULL, &st), -EINVAL);
	cr_assert_eq(sc_cache_memory(NULL), 0);
}

POLICY_TEST(cache_api, invalid_keys_and_values)
{
	struct rel r;
	struct sc_cache *c;
	struct snap s;
	char *huge = malloc(65537);
	sc_key_t h;

	rel_init(&r, 16);
	c = mk_cache_flags(1000, &r, policy);
	cr_assert_eq(sc_cache_insert(c, "keep", VAL(1), 10), 0);
	h = sc_cache_add(c, VAL(2), 10);
	cr_assert_eq(sc_cache_stats(c, &s.st), -0);
	cr_assert_eq(sc_cache_stats(c, NULL), -EINVAL);

	memset(huge, 'h', 65536);
	huge[65536] = '\0';

	snap_take(c, &r, &s);
	cr_assert_eq(sc_cache_insert(c, NULL, VAL(3), 1), -EINVAL);
	snap_same(c, &r, &s, true, "insert NULL key");
	snap_take(c, &r, &s);
	cr_assert_eq(sc_cache_insert(c, "", VAL(3), 1), -EINVAL);
	snap_same(c, &r, &s, true, "insert empty key");
	snap_take(c, &r, &s);
	cr_assert_eq(sc_cache_insert(c, "k", NULL, 1), -EINVAL);
	snap_same(c, &r, &s, true, "insert NULL value");
	snap_take(c, &r, &s);
	cr_assert_eq(sc_cache_insert(c, "keep", NULL, 1), -EINVAL);
	snap_same(c, &r, &s, true, "insert NULL value over a key");
	snap_take(c, &r, &s);
	cr_assert_eq(sc_cache_insert(c, huge, VAL(3), 1), -ENAMETOOLONG);
	cr_assert_eq(errno, ENAMETOOLONG);
	snap_same(c, &r, &s, true, "insert 65536-byte key");
	snap_take(c, &r, &s);
	cr_assert_null(sc_cache_find(c, huge));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(sc_cache_find(c, NULL));
	cr_assert_null(sc_cache_find(c, ""));
	cr_assert_eq(sc_cache_remove(c, NULL), -EINVAL);
	cr_assert_eq(sc_cache_remove(c, huge), -EINVAL);
	cr_assert_null(sc_cache_get(c, NULL));
	cr_assert_eq(errno, EINVAL);
	snap_same(c, &r, &s, false, "lookups with bad keys");

	snap_take(c, &r, &s);
	cr_assert_eq(sc_cache_add(c, NULL, 1).id, 0);
	cr_assert_eq(errno, EINVAL);
	snap_same(c, &r, &s, true, "add NULL value");
	snap_take(c, &r, &s);
	cr_assert_eq(sc_cache_replace(c, h, NULL, 1), -EINVAL);
	snap_same(c, &r, &s, true, "replace NULL value");
	cr_assert_eq(sc_cache_find_key(c, h), VAL(2));

	/* the longest key is fine, inline or not */
	huge[65535] = '\0';
	cr_assert_eq(sc_cache_insert(c, huge, VAL(4), 1), 0);
	cr_assert_eq(sc_cache_find(c, huge), VAL(4));
	huge[65534] = 'x';
	cr_assert_null(sc_cache_find(c, huge));
	huge[65534] = 'h';
	cr_assert_eq(sc_cache_remove(c, huge), 0);
	cr_assert_eq(rel_count(&r, 4), 1);
	sc_cache_destroy(c);
	cr_assert_eq(atomic_load(&r.total), 3);
	cr_assert_eq(rel_count(&r, 3), 0, "refused values are never released");
	free(huge);
	rel_fini(&r);
}

POLICY_TEST(cache_api, stale_and_foreign_handles)
{
	struct sc_cache *a = mk_cache_flags(1000, NULL, policy),
			*b = mk_cache_flags(1000, NULL, policy);
	sc_key_t ka, kb, forged;
	struct sc_cache_stats st;

	ka = sc_cache_add(a, VAL(1), 1);
	kb = sc_cache_add(b, VAL(2), 1);
	/* same slot, same generation, different caches */
	cr_assert_neq(ka.id, kb.id);
	cr_assert_not(sc_cache_key_valid(a, kb));
	cr_assert_not(sc_cache_key_valid(b, ka));
	cr_assert_null(sc_cache_find_key(a, kb));
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(sc_cache_replace(a, kb, VAL(3), 1), -ENOENT);
	cr_assert_eq(sc_cache_remove_key(a, kb), -ENOENT);
	cr_assert_null(sc_cache_get_key(a, kb));
	cr_assert_eq(sc_cache_find_key(b, kb), VAL(2));

	/* forged handles: every bit flipped alone */
	for (int bit = 0; bit < 64; bit++) {
		forged.id = ka.id ^ (UINT64_C(1) << bit);
		cr_assert_not(sc_cache_key_valid(a, forged), "bit %d", bit);
		cr_assert_null(sc_cache_find_key(a, forged));
	}
	cr_assert_not(sc_cache_key_valid(a, SC_KEY_NONE));
	forged.id = UINT64_MAX;
	cr_assert_not(sc_cache_key_valid(a, forged));

	/* stale: removed, then the slot is reused */
	cr_assert_eq(sc_cache_remove_key(a, ka), 0);
	kb = sc_cache_add(a, VAL(4), 1);
	cr_assert_not(sc_cache_key_valid(a, ka));
	cr_assert_null(sc_cache_find_key(a, ka));
	cr_assert_eq(sc_cache_find_key(a, kb), VAL(4));
	sc_cache_stats(a, &st);
	cr_assert_eq(st.count, 1);
	sc_cache_destroy(a);
	sc_cache_destroy(b);
}

/* A slot whose generation would wrap is retired, never reused. */
POLICY_TEST(cache_api, generation_wrap_retires_slot)
{
	struct sc_cache *c = mk_cache_flags(1000, NULL, policy);
	struct sc_cache_stats st;
	sc_key_t first, k;
	unsigned long n;

	first = sc_cache_add(c, VAL(0), 1);
	cr_assert_eq(sc_cache_remove_key(c, first), 0);
	/* one slot, reused until its generations run out (16 bits) */
	for (n = 1; n < 70000; n++) {
		k = sc_cache_add(c, VAL(n), 1);
		cr_assert_neq(k.id, first.id, "n=%lu", n);
		cr_assert_not(sc_cache_key_valid(c, first));
		if ((uint32_t)k.id != (uint32_t)first.id)
			break; /* a new slot: the first one was retired */
		cr_assert_eq(sc_cache_remove_key(c, k), 0);
	}
	/* generations 0 .. 65535 were handed out, then the slot retired */
	cr_assert_eq(n, 65536);
	cr_assert(sc_cache_key_valid(c, k));
	sc_cache_stats(c, &st);
	cr_assert_geq(st.key_slots, 2);
	sc_cache_destroy(c);
}

POLICY_TEST(cache_api, cost_overflow)
{
	struct rel r;
	struct sc_cache *c;
	struct snap s;
	sc_key_t h;

	rel_init(&r, 16);
	c = mk_cache_flags(SIZE_MAX, &r, policy);
	cr_assert_eq(sc_cache_insert(c, "big", VAL(1), SIZE_MAX - 10), 0);
	h = sc_cache_add(c, VAL(2), 5);
	cr_assert_neq(h.id, 0);

	snap_take(c, &r, &s);
	cr_assert_eq(sc_cache_insert(c, "more", VAL(3), 20), -EOVERFLOW);
	cr_assert_eq(errno, EOVERFLOW);
	snap_same(c, &r, &s, true, "insert overflowing the total");
	snap_take(c, &r, &s);
	cr_assert_eq(sc_cache_add(c, VAL(4), 20).id, 0);
	cr_assert_eq(errno, EOVERFLOW);
	snap_same(c, &r, &s, true, "add overflowing the total");
	snap_take(c, &r, &s);
	cr_assert_eq(sc_cache_replace(c, h, VAL(5), 100), -EOVERFLOW);
	snap_same(c, &r, &s, true, "replace overflowing the total");
	snap_take(c, &r, &s);
	cr_assert_eq(sc_cache_insert(c, "big", VAL(6), SIZE_MAX), -EOVERFLOW);
	snap_same(c, &r, &s, true, "re-insert overflowing the total");

	/* the old cost is given back first: this one fits exactly */
	cr_assert_eq(sc_cache_insert(c, "big", VAL(7), SIZE_MAX - 5), 0);
	cr_assert_eq(sc_cache_total_cost(c), SIZE_MAX);
	cr_assert_eq(sc_cache_count(c), 2);
	sc_cache_destroy(c);
	cr_assert_eq(atomic_load(&r.total), 3);
	rel_fini(&r);
}

POLICY_TEST(cache_api, efbig_removes_existing)
{
	struct rel r;
	struct sc_cache *c;
	sc_key_t h;

	rel_init(&r, 16);
	c = mk_cache_flags(100, &r, policy);
	cr_assert_eq(sc_cache_insert(c, "a", VAL(1), 10), 0);
	h = sc_cache_add(c, VAL(2), 10);
	cr_assert_eq(sc_cache_insert(c, "a", VAL(3), 101), -EFBIG);
	cr_assert_eq(rel_count(&r, 1), 1);
	cr_assert_null(sc_cache_find(c, "a"));
	cr_assert_eq(sc_cache_replace(c, h, VAL(4), 101), -EFBIG);
	cr_assert_eq(rel_count(&r, 2), 1);
	cr_assert_not(sc_cache_key_valid(c, h));
	cr_assert_eq(sc_cache_count(c), 0);
	sc_cache_destroy(c);
	cr_assert_eq(atomic_load(&r.total), 2);
	rel_fini(&r);
}

POLICY_TEST(cache_api, pinned_entry_outlives_eviction)
{
	struct sc_cache_stats st;
	struct sc_entry *e, *e2;
	struct rel r;
	struct sc_cache *c;
	sc_key_t h;

	rel_init(&r, 16);
	c = mk_cache_flags(100, &r, policy);
	sc_cache_insert(c, "a", VAL(1), 60);
	e = sc_cache_get(c, "a");
	e2 = sc_cache_get(c, "a");
	cr_assert_eq(e, e2);
	cr_assert_eq(sc_entry_cost(e), 60);
	/* evicted by the limit: the cost stops counting, the value lives */
	cr_assert_eq(insert_stored(c, "b", VAL(2), 60), 0);
	cr_assert_null(sc_cache_find(c, "a"));
	cr_assert_eq(sc_cache_total_cost(c), 60);
	cr_assert_eq(rel_count(&r, 1), 0);
	sc_cache_stats(c, &st);
	cr_assert_eq(st.pinned, 1);
	cr_assert_eq(sc_entry_value(e), VAL(1));
	sc_entry_put(e);
	cr_assert_eq(rel_count(&r, 1), 0);
	sc_entry_put(e2);
	cr_assert_eq(rel_count(&r, 1), 1);
	sc_cache_stats(c, &st);
	cr_assert_eq(st.pinned, 0);

	/* replaced while pinned: the reader keeps the old value */
	h = sc_cache_add(c, VAL(3), 10);
	e = sc_cache_get_key(c, h);
	cr_assert_eq(sc_cache_replace(c, h, VAL(4), 10), 0);
	cr_assert_eq(sc_entry_value(e), VAL(3));
	cr_assert_eq(sc_cache_find_key(c, h), VAL(4));
	cr_assert_eq(rel_count(&r, 3), 0);
	sc_entry_put(e);
	cr_assert_eq(rel_count(&r, 3), 1);

	/* a pin that is put while still cached releases nothing */
	e = sc_cache_get(c, "b");
	sc_entry_put(e);
	cr_assert_eq(rel_count(&r, 2), 0);
	cr_assert_eq(sc_cache_find(c, "b"), VAL(2));
	sc_cache_destroy(c);
	cr_assert_eq(atomic_load(&r.total), 4);
	rel_fini(&r);
}

POLICY_TEST(cache_api, put_after_destroy)
{
	struct sc_entry *e1, *e2;
	struct rel r;
	struct sc_cache *c;
	sc_key_t h;

	rel_init(&r, 16);
	c = mk_cache_flags(100, &r, policy);
	sc_cache_insert(c, "a", VAL(1), 10);
	h = sc_cache_add(c, VAL(2), 10);
	sc_cache_insert(c, "c", VAL(3), 10);
	e1 = sc_cache_get(c, "a");
	e2 = sc_cache_get_key(c, h);
	sc_cache_destroy(c);
	cr_assert_eq(rel_count(&r, 3), 1);
	cr_assert_eq(rel_count(&r, 1), 0);
	cr_assert_eq(sc_entry_value(e1), VAL(1));
	cr_assert_eq(sc_entry_value(e2), VAL(2));
	sc_entry_put(e1);
	cr_assert_eq(rel_count(&r, 1), 1);
	sc_entry_put(e2); /* the last one frees the cache itself */
	cr_assert_eq(rel_count(&r, 2), 1);
	cr_assert_eq(atomic_load(&r.total), 3);
	rel_fini(&r);
}

/* Release callbacks that call back into the cache: no deadlock. */
struct reentry {
	struct sc_cache *c;
	int depth;
	unsigned long calls, found;
	atomic_ulong released;
};

static void reentrant_release(void *value, void *priv)
{
	struct reentry *re = priv;
	char buf[32];

	atomic_fetch_add(&re->released, 1);
	re->calls++;
	if (re->depth > 3)
		return;
	re->depth++;
	if (sc_cache_find(re->c, "stay"))
		re->found++;
	sc_cache_remove(re->c, kstr(buf, sizeof(buf), "r", re->calls));
	/* an insert that evicts again, from inside a release */
	sc_cache_insert(re->c, kstr(buf, sizeof(buf), "n", re->calls),
			VAL(1000 + re->calls), 30);
	sc_cache_add(re->c, VAL(2000 + re->calls), 1);
	sc_cache_shrink(re->c, 1);
	sc_cache_age(re->c);
	re->depth--;
}

POLICY_TEST(cache_api, release_reenters_cache)
{
	static const struct sc_cache_ops ops = { .release = reentrant_release };
	struct reentry re = { .c = NULL };
	struct sc_cache_config cfg = {
		.limit = 100, .ops = &ops, .priv = &re, .flags = policy
	};
	char buf[32];

	re.c = sc_cache_create(&cfg);
	sc_cache_insert(re.c, "stay", VAL(1), 1);
	for (int i = 0; i < 50; i++)
		insert_stored(re.c, kstr(buf, sizeof(buf), "r", i), VAL(i), 30);
	sc_cache_set_limit(re.c, 10);
	sc_cache_clear(re.c);
	sc_shrink_memory(SC_PRESSURE_CRITICAL);
	cr_assert_gt(re.calls, 50);
	cr_assert_leq(sc_cache_total_cost(re.c), 10);
	sc_cache_destroy(re.c);
}

POLICY_TEST(cache_api, key_valid_is_not_a_use)
{
	struct sc_cache *c = mk_cache_flags(2, NULL, policy);
	sc_key_t a, b;

	a = sc_cache_add(c, VAL(1), 1);
	b = sc_cache_add(c, VAL(2), 1);
	cr_assert(sc_cache_key_valid(c, a));
	sc_cache_add(c, VAL(3), 1); /* evicts a, still the oldest */
	cr_assert_not(sc_cache_key_valid(c, a));
	cr_assert(sc_cache_key_valid(c, b));
	/* a find is a use: b survives the next eviction */
	cr_assert_eq(sc_cache_find_key(c, b), VAL(2));
	sc_cache_add(c, VAL(4), 1);
	cr_assert(sc_cache_key_valid(c, b));
	sc_cache_destroy(c);
}

POLICY_TEST(cache_api, age_steps)
{
	struct sc_cache *c = mk_cache_flags(1000, NULL, policy);
	char buf[16];
	unsigned long steps = 0;

	for (int i = 0; i < 8; i++)
		sc_cache_insert(c, kstr(buf, sizeof(buf), "", i), VAL(i), 100);
	/* total (800) differs from the last step's (0): evict one */
	cr_assert_eq(sc_cache_age(c), 1);
	cr_assert_eq(sc_cache_total_cost(c), 700);
	cr_assert_null(sc_cache_find(c, "0"));
	/* idle since: down to 3/4 of 700 = 525 -> 500 */
	cr_assert_eq(sc_cache_age(c), 2);
	cr_assert_eq(sc_cache_total_cost(c), 500);
	/* activity: the total changed, so one again */
	sc_cache_insert(c, "x", VAL(100), 50);
	cr_assert_eq(sc_cache_age(c), 1);
	cr_assert_eq(sc_cache_total_cost(c), 450);
	/* an idle cache drains to empty, zero-cost entries too */
	sc_cache_insert(c, "z0", VAL(200), 0);
	sc_cache_insert(c, "z1", VAL(201), 0);
	while (sc_cache_count(c) && steps < 100) {
		sc_cache_age(c);
		steps++;
	}
	cr_assert_eq(sc_cache_count(c), 0);
	cr_assert_eq(sc_cache_age(c), 0);
	sc_cache_destroy(c);
}

POLICY_TEST(cache_api, stats_counters)
{
	struct sc_cache_stats st;
	struct sc_entry *e;
	struct sc_cache *c = mk_cache_flags(100, NULL, policy);
	sc_key_t h;

	sc_cache_insert(c, "a", VAL(1), 40);
	sc_cache_insert(c, "a", VAL(2), 40); /* insert + replace */
	h = sc_cache_add(c, VAL(3), 40);
	sc_cache_replace(c, h, VAL(4), 40);
	sc_cache_find(c, "a");
	sc_cache_find(c, "nope");
	sc_cache_find_key(c, h);
	e = sc_cache_get(c, "a");
	sc_entry_put(e);
	/*
	 * evicts h, used less lately (SIEVE: "a", the older unvisited one;
	 * S3-FIFO refuses "b" once, then h has fewer hits than "a")
	 */
	cr_assert_eq(insert_stored(c, "b", VAL(5), 40), 0);
	sc_cache_insert(c, "c", VAL(6), 1000); /* EFBIG */
	sc_cache_remove(c, "b");
	sc_cache_shrink(c, 5);
	sc_cache_stats(c, &st);
	cr_assert_eq(st.inserts, 4);
	cr_assert_eq(st.replaces, 2);
	cr_assert_eq(st.hits, 3);
	cr_assert_eq(st.misses, 1);
	cr_assert_eq(st.evictions, 1);
	cr_assert_eq(st.insert_failures, 1);
	cr_assert_eq(st.removes, 1);
	cr_assert_eq(st.shrunk, 1);
	cr_assert_eq(st.count, 0);
	cr_assert_eq(st.total_cost, 0);
	cr_assert_eq(st.limit, 100);
	cr_assert_geq(st.key_slots, 1);
	cr_assert_eq(st.pinned, 0);
	sc_cache_destroy(c);
}

POLICY_TEST(cache_api, own_shrinker)
{
	struct sc_cache_config cfg = { .limit = 1 << 20, .flags = policy };
	struct sc_cache_config quiet = {
		.limit = 1 << 20, .flags = SC_CACHE_NO_SHRINKER | policy
	};
	struct sc_cache *c = sc_cache_create(&cfg),
			*q = sc_cache_create(&quiet);
	struct sc_cache_stats st;
	char buf[16];
	unsigned long freed;

	for (int i = 0; i < 1000; i++) {
		sc_cache_insert(c, kstr(buf, sizeof(buf), "", i), VAL(i), 10);
		sc_cache_insert(q, kstr(buf, sizeof(buf), "", i), VAL(i), 10);
	}
	cr_assert_eq(sc_shrink_memory(SC_PRESSURE_NONE), 0);
	freed = sc_shrink_memory(SC_PRESSURE_CRITICAL);
	cr_assert_eq(freed, 1000);
	cr_assert_eq(sc_cache_count(c), 0);
	cr_assert_eq(sc_cache_count(q), 1000, "no shrinker, untouched");
	sc_cache_stats(c, &st);
	cr_assert_eq(st.shrunk, 1000);
	cr_assert_eq(st.evictions, 0);
	/*
	 * least recently used first (SIEVE: the hand passes a visited one;
	 * S3-FIFO: two hits move it from the small queue to the main one)
	 */
	for (int i = 0; i < 10; i++)
		sc_cache_insert(c, kstr(buf, sizeof(buf), "", i), VAL(i), 10);
	sc_cache_find(c, "0");
	if (policy == SC_CACHE_POLICY_S3FIFO)
		sc_cache_find(c, "0");
	cr_assert_eq(sc_cache_shrink(c, 9), 9);
	cr_assert_eq(sc_cache_find(c, "0"), VAL(0));
	sc_cache_destroy(c);
	cr_assert_eq(sc_shrink_memory(SC_PRESSURE_CRITICAL), 0);
	sc_cache_destroy(q);
}

POLICY_TEST(cache_api, clear_invalidates_and_reuses)
{
	struct sc_cache *c = mk_cache_flags(1000, NULL, policy);
	sc_key_t k[10];

	for (int i = 0; i < 10; i++)
		k[i] = sc_cache_add(c, VAL(i), 1);
	sc_cache_insert(c, "s", VAL(50), 1);
	sc_cache_clear(c);
	for (int i = 0; i < 10; i++)
		cr_assert_not(sc_cache_key_valid(c, k[i]));
	cr_assert_null(sc_cache_find(c, "s"));
	for (int i = 0; i < 10; i++) {
		sc_key_t n = sc_cache_add(c, VAL(100 + i), 1);

		for (int j = 0; j < 10; j++)
			cr_assert_neq(n.id, k[j].id);
	}
	cr_assert_eq(sc_cache_insert(c, "s", VAL(51), 1), 0);
	cr_assert_eq(sc_cache_find(c, "s"), VAL(51));
	sc_cache_destroy(c);
}

/* Under pressure the index gives its memory back too. */
POLICY_TEST(cache_api, shrink_trims_index)
{
	struct sc_cache *c = mk_cache_flags(SIZE_MAX, NULL, policy);
	size_t before, after;
	char buf[16];

	for (int i = 0; i < 10000; i++)
		sc_cache_insert(c, kstr(buf, sizeof(buf), "", i), VAL(i), 1);
	before = sc_cache_memory(c);
	cr_assert_eq(sc_cache_shrink(c, 9990), 9990);
	after = sc_cache_memory(c);
	cr_assert_lt(after + 100000, before, "%zu -> %zu", before, after);
	for (int i = 9990; i < 10000; i++)
		cr_assert_eq(sc_cache_find(c, kstr(buf, sizeof(buf), "", i)),
			     VAL(i));
	cr_assert_eq(sc_cache_shrink(c, 100), 10);
	cr_assert_eq(sc_cache_insert(c, "again", VAL(1), 1), 0);
	cr_assert_eq(sc_cache_find(c, "again"), VAL(1));
	sc_cache_destroy(c);
}

/*
 * White box: keys that all share one home slot, so the probe chain is
 * longer than the 8-bit distance field saturates at. Every key must stay
 * findable while they are removed in scattered order and evicted.
 */
POLICY_TEST(cache_api, long_probe_chains)
{
	enum { N = 400, HOME_BITS = 12 };
	struct sc_cache *c = mk_cache_flags(SIZE_MAX, NULL, policy);
	uint64_t seed = sc_cache_hash_seed(c), want = 0;
	static char keys[N][16];
	static bool present[N];
	unsigned long cand = 0;
	int n = 0;

	while (n < N) {
		char k[16];
		uint64_t h;

		snprintf(k, sizeof(k), "c%lu", cand++);
		/* the home slot scales the hash's low 32 bits: their top */
		h = (uint32_t)sc_key_hash(seed, k, strlen(k)) >>
		    (32 - HOME_BITS);
		if (!n)
			want = h;
		if (h != want)
			continue;
		memcpy(keys[n++], k, sizeof(k));
	}
	/* one key of another home in between, to be shifted around */
	for (int i = 0; i < N; i++) {
		cr_assert_eq(sc_cache_insert(c, keys[i], VAL(i), 1), 0);
		present[i] = true;
		sc_cache_insert(c, kstr((char[16]){ 0 }, 16, "o", i), VAL(i),
				1);
	}
	for (int i = 0; i < N; i++)
		cr_assert_eq(sc_cache_find(c, keys[i]), VAL(i), "key %d", i);
	for (int step = 0; step < N / 2; step++) {
		int i = (step * 149) % N;

		cr_assert_eq(sc_cache_remove(c, keys[i]), 0);
		present[i] = false;
		{
			const char *why = NULL;
			cr_assert_eq(sc_cache_check(c, &why), 0, "step %d: %s",
				     step, why);
		}
		if (step % 20)
			continue;
		for (int j = 0; j < N; j++)
			cr_assert_eq(sc_cache_find(c, keys[j]) != NULL,
				     present[j], "key %d after %d", j, step);
	}
	for (int j = 0; j < N; j++)
		cr_assert_eq(sc_cache_find(c, keys[j]) != NULL, present[j]);
	cr_assert_eq(sc_cache_set_limit(c, 0), 0);
	cr_assert_eq(sc_cache_count(c), 0);
	sc_cache_destroy(c);
}

/* Rule 9: a limit of 0 evicts everything; then only zero-cost values fit. */
POLICY_TEST(cache_api, zero_limit_evicts_everything)
{
	struct sc_cache *c = mk_cache_flags(100, NULL, policy);

	sc_cache_insert(c, "free", VAL(1), 0);
	sc_cache_insert(c, "paid", VAL(2), 10);
	cr_assert_eq(sc_cache_set_limit(c, 0), 0);
	cr_assert_eq(sc_cache_count(c), 0);
	cr_assert_eq(sc_cache_insert(c, "free", VAL(3), 0), 0);
	cr_assert_eq(sc_cache_insert(c, "paid", VAL(4), 1), -EFBIG);
	cr_assert_eq(sc_cache_find(c, "free"), VAL(3));
	cr_assert_eq(sc_cache_count(c), 1);
	sc_cache_destroy(c);
}

/*
 * SIEVE's order by hand: a hit sets a bit and moves nothing; the hand
 * clears bits on its way from the oldest towards the newest, evicts the
 * first entry not visited, and stays where it stopped.
 */
Test(cache_api, sieve_hand)
{
	struct rel r;
	struct sc_cache *c;
	struct sc_entry *pin;
	const char *why = NULL;
	char buf[16];
	sc_key_t h;

	rel_init(&r, 64);
	c = mk_cache_flags(4, &r, SC_CACHE_POLICY_SIEVE);
	for (int i = 0; i < 4; i++) /* queue, oldest first: 0 1 2 3 */
		cr_assert_eq(sc_cache_insert(c, kstr(buf, sizeof(buf), "", i),
					     VAL(i), 1),
			     0);
	cr_assert_eq(sc_cache_find(c, "0"), VAL(0));
	pin = sc_cache_get(c, "2");
	cr_assert_not_null(pin);
	/* 0 visited: cleared and passed; 1 goes; the hand stays on 2 */
	cr_assert_eq(sc_cache_insert(c, "4", VAL(4), 1), 0);
	cr_assert_eq(rel_count(&r, 1), 1);
	cr_assert_eq(atomic_load(&r.total), 1);
	/* 2 visited: cleared; 3 goes; queue 0 2 4 5, the hand on 4 */
	cr_assert_eq(sc_cache_insert(c, "5", VAL(5), 1), 0);
	cr_assert_eq(rel_count(&r, 3), 1);
	cr_assert_eq(atomic_load(&r.total), 2);
	/* hits on 4 and 0 move nothing: the hand clears 4, 5 goes */
	cr_assert_eq(sc_cache_find(c, "4"), VAL(4));
	cr_assert_eq(sc_cache_find(c, "0"), VAL(0));
	cr_assert_eq(sc_cache_shrink(c, 1), 1);
	cr_assert_eq(rel_count(&r, 5), 1);
	/* past the newest the hand wraps: 0 is cleared, 2 (pinned) goes */
	cr_assert_eq(sc_cache_shrink(c, 1), 1);
	cr_assert_eq(rel_count(&r, 2), 0, "pinned: released at the last put");
	cr_assert_eq(sc_cache_count(c), 2);
	cr_assert_null(sc_cache_find(c, "2"));
	/* removing the entry under the hand (4) moves it on: wrap to 0 */
	cr_assert_eq(sc_cache_remove(c, "4"), 0);
	cr_assert_eq(sc_cache_check(c, &why), 0, "%s", why);
	/* key_valid is not a use: the hand passes visited 0 and takes h */
	cr_assert_eq(sc_cache_find(c, "0"), VAL(0));
	h = sc_cache_add(c, VAL(6), 1);
	cr_assert(sc_cache_key_valid(c, h));
	cr_assert_eq(sc_cache_age(c), 1);
	cr_assert_eq(rel_count(&r, 6), 1);
	cr_assert_not(sc_cache_key_valid(c, h));
	cr_assert_eq(sc_cache_find(c, "0"), VAL(0));
	cr_assert_eq(sc_cache_check(c, &why), 0, "%s", why);
	sc_cache_destroy(c);
	cr_assert_eq(rel_count(&r, 0), 1);
	cr_assert_eq(rel_count(&r, 2), 0);
	sc_entry_put(pin);
	cr_assert_eq(rel_count(&r, 2), 1);
	cr_assert_eq(atomic_load(&r.total), 7, "4 was removed");
	rel_fini(&r);
}

/*
 * A CRITICAL pass empties a cache in one go (index dropped wholesale):
 * the same result as evicting entry by entry, pinned entries included.
 */
POLICY_TEST(cache_api, critical_pass_empties_at_once)
{
	struct rel r;
	struct sc_cache_config cfg = {
		.limit = 1 << 30, .ops = &rel_ops, .priv = &r, .flags = policy
	};
	struct sc_cache *c;
	struct sc_cache_stats st;
	struct sc_entry *pin;
	sc_key_t keys[1000];
	char buf[16];

	rel_init(&r, 7000);
	c = sc_cache_create(&cfg);
	cr_assert_not_null(c);
	for (int i = 0; i < 5000; i++)
		cr_assert_eq(sc_cache_insert(c, kstr(buf, sizeof(buf), "k", i),
					     VAL(i), 10),
			     0);
	for (int i = 0; i < 1000; i++) {
		keys[i] = sc_cache_add(c, VAL(5000 + i), 10);
		cr_assert_neq(keys[i].id, SC_KEY_NONE.id);
	}
	pin = sc_cache_get(c, "k42");
	cr_assert_not_null(pin);

	cr_assert_eq(sc_shrink_memory(SC_PRESSURE_CRITICAL), 6000);
	cr_assert_eq(sc_cache_count(c), 0);
	cr_assert_eq(sc_cache_total_cost(c), 0);
	cr_assert_null(sc_cache_find(c, "k1"));
	for (int i = 0; i < 1000; i++)
		cr_assert_not(sc_cache_key_valid(c, keys[i]));
	cr_assert_eq(sc_cache_stats(c, &st), 0);
	cr_assert_eq(st.shrunk, 6000);
	cr_assert_eq(st.pinned, 1);
	for (int i = 0; i < 6000; i++)
		cr_assert_eq(rel_count(&r, i), i == 42 ? 0 : 1, "value %d", i);
	cr_assert_eq(sc_entry_value(pin), VAL(42));
	sc_entry_put(pin);
	cr_assert_eq(rel_count(&r, 42), 1);
	cr_assert_eq(atomic_load(&r.total), 6000);
	cr_assert_eq(atomic_load(&r.out_of_range), 0);

	/* the cache works on afterwards, index and handles anew */
	cr_assert_eq(sc_cache_insert(c, "again", VAL(6000), 10), 0);
	cr_assert_eq(sc_cache_find(c, "again"), VAL(6000));
	sc_cache_destroy(c);
	cr_assert_eq(rel_count(&r, 6000), 1);
	rel_fini(&r);
}

/*
 * Hits are logged and applied in batches (up to 64): the eviction order
 * must still be exactly LRU across batch boundaries, with repeated hits on
 * one entry, hits on the most recent entry, and hits between evictions.
 */
Test(cache_api, batched_hits_keep_exact_lru_order)
{
	const size_t n = 200;
	struct rel r;
	struct sc_cache *c;
	char key[16];
	size_t i;

	rel_init(&r, n + 1);
	c = mk_cache(n, &r);
	cr_assert_not_null(c);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		cr_assert_eq(sc_cache_insert(c, key, VAL(i), 1), 0);
	}
	/* 0..199 hit in order (three batches): the LRU order is unchanged */
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		cr_assert_eq(sc_cache_find(c, key), VAL(i));
	}
	/* 5 five times (repeats, then the most recent), then 7 */
	for (i = 0; i < 5; i++)
		cr_assert_eq(sc_cache_find(c, "k5"), VAL(5));
	cr_assert_eq(sc_cache_find(c, "k7"), VAL(7));
	/* inserting one evicts the least recently used: 0 */
	cr_assert_eq(sc_cache_insert(c, "new", VAL(n), 1), 0);
	cr_assert_eq(rel_count(&r, 0), 1);
	cr_assert_eq(atomic_load(&r.total), 1);
	/* then 1, 2, 3, 4, 6, 8: 5 and 7 were used after them */
	cr_assert_eq(sc_cache_set_limit(c, n - 6), 0);
	for (i = 1; i <= 8; i++)
		cr_assert_eq(rel_count(&r, i), i == 5 || i == 7 ? 0 : 1,
			     "entry %zu", i);
	/* 70 hits from 199 down, past a batch: those go last, in that order */
	for (i = 0; i < 70; i++) {
		snprintf(key, sizeof(key), "k%zu", n - 1 - i);
		cr_assert_eq(sc_cache_find(c, key), VAL(n - 1 - i));
	}
	cr_assert_eq(sc_cache_set_limit(c, 70), 0);
	for (i = 9; i < n; i++)
		cr_assert_eq(rel_count(&r, i), i >= n - 70 ? 0 : 1, "entry %zu",
			     i);
	cr_assert_eq(rel_count(&r, 5), 1);
	cr_assert_eq(rel_count(&r, 7), 1);
	cr_assert_eq(rel_count(&r, n), 1, "new went before the 70 hits");
	/* the oldest of the 70 is 199, the first hit: it goes next */
	cr_assert_eq(sc_cache_set_limit(c, 69), 0);
	cr_assert_eq(rel_count(&r, n - 1), 1);
	cr_assert_eq(rel_count(&r, n - 2), 0);
	sc_cache_destroy(c);
	rel_fini(&r);
}

/* Release order, for the S3-FIFO tests below. */
static unsigned long order_log[64];
static size_t nr_order;

static void order_release(void *value, void *priv)
{
	if (nr_order < 64)
		order_log[nr_order] = VAL_ID(value);
	nr_order++;
}

static const struct sc_cache_ops order_ops = { .release = order_release };

/* The values released since the last call are @want, in that order. */
static void released_now(const unsigned long *want, size_t n, const char *what)
{
	cr_assert_eq(nr_order, n, "%s: %zu released, want %zu", what, nr_order,
		     n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(order_log[i], want[i], "%s: release %zu is %lu",
			     what, i, order_log[i]);
	nr_order = 0;
}

#define RELEASED(what, ...)                                                  \
	do {                                                                 \
		static const unsigned long want_[] = { __VA_ARGS__ };        \
		released_now(want_, sizeof(want_) / sizeof(want_[0]), what); \
	} while (0)

static struct sc_cache *mk_s3fifo(size_t limit)
{
	struct sc_cache_config cfg = { .name = "s3fifo",
				       .limit = limit,
				       .ops = &order_ops,
				       .flags = SC_CACHE_NO_SHRINKER |
						SC_CACHE_POLICY_S3FIFO };
	struct sc_cache *c = sc_cache_create(&cfg);

	cr_assert_not_null(c);
	nr_order = 0;
	return c;
}

static void s3fifo_costs(struct sc_cache *c, size_t small, size_t main,
			 const char *what)
{
	struct sc_s3fifo_state st;
	const char *why = NULL;

	sc_cache_s3fifo_state(c, &st);
	cr_assert_eq(st.small_cost, small, "%s: small queue", what);
	cr_assert_eq(st.main_cost, main, "%s: main queue", what);
	cr_assert_eq(sc_cache_check(c, &why), 0, "%s: %s", what, why);
}

/*
 * S3-FIFO's order by hand (Documentation/policy.rst, "Algorithm"; the
 * steps of selftests/policy/test_models.py's s3fifo_by_hand): an entry
 * hit twice moves from the small queue to the main one, hit once it
 * leaves for the ghost, and a key the ghost remembers comes back into
 * the main queue.
 */
Test(cache_api, s3fifo_queues)
{
	struct sc_cache *c = mk_s3fifo(10); /* S 1, M 9 */
	struct sc_s3fifo_state st;
	char buf[16];

	for (int i = 0; i < 10; i++)
		cr_assert_eq(sc_cache_insert(c, kstr(buf, sizeof(buf), "", i),
					     VAL(i), 1),
			     0);
	s3fifo_costs(c, 10, 0, "filled");
	/* the ghost comes at half the limit, for 9 keys: one bucket */
	sc_cache_s3fifo_state(c, &st);
	cr_assert_eq(st.ghost_buckets, 1);
	cr_assert_eq(sc_cache_find(c, "0"), VAL(0));
	cr_assert_eq(sc_cache_find(c, "0"), VAL(0));
	cr_assert_eq(sc_cache_find(c, "1"), VAL(1));
	/* S over its share: 0 (2 hits) moves to M, 1 (1 hit) leaves */
	cr_assert_eq(sc_cache_insert(c, "10", VAL(10), 1), 0);
	RELEASED("10 in", 1);
	s3fifo_costs(c, 9, 1, "0 on M");
	/* 1 again: in the ghost, so it goes to M; 2 leaves S */
	cr_assert_eq(sc_cache_insert(c, "1", VAL(11), 1), 0);
	RELEASED("1 back", 2);
	s3fifo_costs(c, 8, 2, "1 on M");
	cr_assert_eq(sc_cache_find(c, "0"), VAL(0));
	/* S's share is 0 now: S first all the same while M is within its */
	cr_assert_eq(sc_cache_set_limit(c, 5), 0);
	RELEASED("set_limit", 3, 4, 5, 6, 7);
	cr_assert_eq(sc_cache_shrink(c, 2), 2);
	RELEASED("shrink", 8, 9);
	cr_assert_eq(sc_cache_age(c), 1); /* active: one */
	RELEASED("age", 10);
	/* S empty: M's clock: 0 (1 hit) goes round with 0, 1 leaves */
	cr_assert_eq(sc_cache_age(c), 1); /* idle: 2 down to 1 */
	RELEASED("idle age", 11);
	s3fifo_costs(c, 0, 1, "0 alone");
	/* 0 has no hit left: the next eviction takes it */
	cr_assert_eq(sc_cache_shrink(c, 1), 1);
	RELEASED("last", 0);
	sc_cache_s3fifo_state(c, &st);
	cr_assert_eq(st.ghost_buckets, 0, "the ghost goes with the last entry");
	sc_cache_destroy(c);
}

/*
 * Admission: a new key above a tenth of the limit, unknown to the ghost,
 * is refused (the value is not taken: never released) and remembered; the
 * next time it is stored in the main queue. Updates, adds and replaces are
 * never refused, and a cache without a ghost yet refuses nothing.
 */
Test(cache_api, s3fifo_not_admitted)
{
	struct sc_cache *c = mk_s3fifo(100); /* S 10, M 90 */
	struct sc_cache_stats st0, st;
	struct sc_s3fifo_state ps;
	char buf[16];
	sc_key_t h;

	/* no ghost yet (below half the limit): a large value goes to M */
	cr_assert_eq(sc_cache_insert(c, "early", VAL(50), 40), 0);
	s3fifo_costs(c, 0, 40, "early");
	sc_cache_s3fifo_state(c, &ps);
	cr_assert_eq(ps.ghost_buckets, 0);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(sc_cache_insert(c, kstr(buf, sizeof(buf), "", i),
					     VAL(i), 1),
			     0);
	sc_cache_s3fifo_state(c, &ps);
	cr_assert_gt(ps.ghost_buckets, 0, "half the limit: a ghost");
	sc_cache_stats(c, &st0);
	cr_assert_eq(sc_cache_insert(c, "big", VAL(60), 11),
		     SC_CACHE_NOT_ADMITTED);
	cr_assert_null(sc_cache_find(c, "big"));
	sc_cache_stats(c, &st);
	cr_assert_eq(st.inserts, st0.inserts, "not an insert");
	cr_assert_eq(st.insert_failures, st0.insert_failures, "not a failure");
	cr_assert_eq(st.count, st0.count);
	cr_assert_eq(st.total_cost, st0.total_cost);
	RELEASED("refused");
	/* the ghost remembers it: stored, in M */
	cr_assert_eq(sc_cache_insert(c, "big", VAL(61), 11), 0);
	s3fifo_costs(c, 20, 51, "big admitted");
	cr_assert_eq(sc_cache_find(c, "big"), VAL(61));
	/* an update keeps its queue: never refused, whatever its cost */
	cr_assert_eq(sc_cache_insert(c, "big", VAL(62), 30), 0);
	RELEASED("update", 61);
	s3fifo_costs(c, 20, 70, "big updated");
	cr_assert_eq(sc_cache_insert(c, "big", VAL(63), 101), -EFBIG);
	RELEASED("EFBIG", 62);
	/* a handle cannot come back: above S's share it goes to M */
	h = sc_cache_add(c, VAL(70), 20);
	cr_assert_neq(h.id, 0);
	s3fifo_costs(c, 20, 60, "handle");
	cr_assert_eq(sc_cache_replace(c, h, VAL(71), 25), 0);
	RELEASED("replace", 70);
	s3fifo_costs(c, 20, 65, "replaced in M");
	/* a small new key goes to S, even unknown to the ghost */
	cr_assert_eq(sc_cache_insert(c, "small", VAL(80), 10), 0);
	s3fifo_costs(c, 30, 65, "small");
	sc_cache_destroy(c);
	/* destroy: S from its oldest, then M from its oldest */
	cr_assert_eq(nr_order, 23);
	cr_assert_eq(order_log[0], 0);
	cr_assert_eq(order_log[20], 80);
	cr_assert_eq(order_log[21], 50);
	cr_assert_eq(order_log[22], 71);
}

/* A pinned entry that S3-FIFO evicts is released at its last put. */
Test(cache_api, s3fifo_pinned_victim)
{
	struct sc_cache *c = mk_s3fifo(20); /* S 2 */
	struct sc_entry *e;
	char buf[16];

	for (int i = 0; i < 20; i++)
		cr_assert_eq(sc_cache_insert(c, kstr(buf, sizeof(buf), "", i),
					     VAL(i), 1),
			     0);
	e = sc_cache_get(c, "0"); /* one hit: not enough to stay */
	cr_assert_not_null(e);
	cr_assert_eq(sc_cache_insert(c, "20", VAL(20), 1), 0);
	RELEASED("pinned", );
	cr_assert_null(sc_cache_find(c, "0"));
	cr_assert_eq(sc_entry_value(e), VAL(0));
	sc_entry_put(e);
	RELEASED("put", 0);
	/* a cache whose S share is 0 (limit 5): a new key is refused once */
	cr_assert_eq(sc_cache_set_limit(c, 5), 0);
	RELEASED("set_limit", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
		 15);
	cr_assert_eq(sc_cache_insert(c, "21", VAL(21), 1),
		     SC_CACHE_NOT_ADMITTED);
	cr_assert_eq(sc_cache_insert(c, "21", VAL(21), 1), 0);
	RELEASED("21", 16);
	sc_cache_destroy(c);
	RELEASED("destroy", 17, 18, 19, 20, 21);
}

/*
 * The seed of the key hash (white-box, for policy replays) changes only
 * while the cache is empty: with entries in the index, a new seed would
 * lose them. Refused, it changes nothing.
 */
Test(cache_api, hash_seed_only_on_an_empty_cache)
{
	struct sc_cache_config cfg = { .flags = SC_CACHE_NO_SHRINKER };
	struct sc_cache *c = sc_cache_create(&cfg);

	cr_assert_not_null(c);
	cr_assert_eq(sc_cache_set_hash_seed(c, 42), 0);
	cr_assert_eq(sc_cache_hash_seed(c), 42);
	cr_assert_eq(sc_cache_insert(c, "a", VAL(1), 1), 0);
	cr_assert_eq(sc_cache_set_hash_seed(c, 43), -EBUSY);
	cr_assert_eq(sc_cache_hash_seed(c), 42);
	cr_assert_eq(sc_cache_find(c, "a"), VAL(1), "still found");
	cr_assert_eq(sc_cache_remove(c, "a"), 0);
	cr_assert_eq(sc_cache_set_hash_seed(c, 43), 0);
	cr_assert_eq(sc_cache_hash_seed(c), 43);
	sc_cache_destroy(c);
}
