// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Ports of qtbase tests/auto/corelib/tools/qcache/tst_qcache.cpp, one Test
 * per Qt test function, named after it. QCache's integer keys become
 * decimal strings; Foo::count (live objects) becomes "values taken minus
 * values released". Where Qt uses negative costs or limits (a size_t
 * cannot be negative) the test says what it checks instead.
 */
#include <criterion/criterion.h>

#include "helpers.h"

/* Values taken and not yet released: Qt's Foo::count. */
struct live {
	struct rel rel;
	unsigned long taken;
};

static unsigned long live_count(struct live *l)
{
	return l->taken - atomic_load(&l->rel.total);
}

static int ins(struct sc_cache *c, struct live *l, const char *key,
	       unsigned long id, size_t cost)
{
	int ret = sc_cache_insert(c, key, VAL(id), cost);

	if (!ret)
		l->taken++;
	return ret;
}

static bool contains(struct sc_cache *c, const char *key)
{
	return sc_cache_find(c, key) != NULL;
}

Test(qcache, empty)
{
	struct sc_cache *c = mk_cache(0, NULL);

	cr_assert_eq(sc_cache_count(c), 0);
	cr_assert_eq(sc_cache_total_cost(c), 0);
	cr_assert_not(contains(c, "1"));
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(sc_cache_remove(c, "1"), -ENOENT);
	cr_assert_null(sc_cache_get(c, "1"));
	cr_assert_null(sc_cache_find_key(c, SC_KEY_NONE));
	sc_cache_destroy(c);
}

Test(qcache, maxCost)
{
	struct sc_cache *c1 = mk_cache(100, NULL), *c2 = mk_cache(200, NULL);

	cr_assert_eq(sc_cache_limit(c1), 100);
	cr_assert_eq(sc_cache_limit(c2), 200);

	sc_cache_set_limit(c1, 101);
	cr_assert_eq(sc_cache_limit(c1), 101);
	cr_assert_eq(sc_cache_insert(c1, "one", VAL(1), 1), 0);
	cr_assert_eq(sc_cache_insert(c1, "two", VAL(2), 1), 0);
	cr_assert_eq(sc_cache_total_cost(c1), 2);
	cr_assert_eq(sc_cache_count(c1), 2);
	cr_assert_eq(sc_cache_limit(c1), 101);

	cr_assert_eq(sc_cache_insert(c1, "three", VAL(3), 98), 0);
	cr_assert_eq(sc_cache_total_cost(c1), 100);
	cr_assert_eq(sc_cache_count(c1), 3);

	cr_assert_eq(sc_cache_insert(c1, "four", VAL(4), 1), 0);
	cr_assert_eq(sc_cache_total_cost(c1), 101);
	cr_assert_eq(sc_cache_count(c1), 4);

	cr_assert_eq(sc_cache_insert(c1, "five", VAL(5), 1), 0);
	cr_assert_eq(sc_cache_total_cost(c1), 101);
	cr_assert_eq(sc_cache_count(c1), 4);
	cr_assert_not(contains(c1, "one"), "the least recently used went");
	cr_assert_eq(sc_cache_limit(c1), 101);

	/* Qt: setMaxCost(-1); here 0 is the smallest limit */
	sc_cache_set_limit(c1, 0);
	cr_assert_eq(sc_cache_total_cost(c1), 0);
	cr_assert_eq(sc_cache_count(c1), 0);
	cr_assert_eq(sc_cache_limit(c1), 0);

	sc_cache_set_limit(c2, 202);
	cr_assert_eq(sc_cache_limit(c2), 202);
	sc_cache_destroy(c1);
	sc_cache_destroy(c2);
}

Test(qcache, setMaxCost)
{
	struct live l = { .taken = 0 };
	struct sc_cache *c;

	rel_init(&l.rel, 8);
	c = mk_cache(2, &l.rel);
	ins(c, &l, "1", 1, 1);
	ins(c, &l, "2", 2, 1);
	cr_assert_eq(sc_cache_total_cost(c), 2);
	cr_assert_eq(live_count(&l), 2);

	ins(c, &l, "3", 3, 1);
	cr_assert_eq(sc_cache_total_cost(c), 2);
	cr_assert_eq(live_count(&l), 2);
	cr_assert_eq(rel_count(&l.rel, 1), 1);

	sc_cache_set_limit(c, 3);
	cr_assert_eq(sc_cache_total_cost(c), 2);
	cr_assert_eq(live_count(&l), 2);
	sc_cache_set_limit(c, 2);
	cr_assert_eq(sc_cache_total_cost(c), 2);
	cr_assert_eq(live_count(&l), 2);
	sc_cache_set_limit(c, 1);
	cr_assert_eq(sc_cache_total_cost(c), 1);
	cr_assert_eq(live_count(&l), 1);
	sc_cache_set_limit(c, 0);
	cr_assert_eq(sc_cache_total_cost(c), 0);
	cr_assert_eq(live_count(&l), 0);
	sc_cache_destroy(c);
	rel_fini(&l.rel);
}

Test(qcache, totalCost)
{
	struct sc_cache *c = mk_cache(100, NULL);

	cr_assert_eq(sc_cache_total_cost(c), 0);
	cr_assert_eq(sc_cache_insert(c, "one", VAL(1), 0), 0);
	cr_assert_eq(sc_cache_total_cost(c), 0);
	cr_assert_eq(sc_cache_insert(c, "two", VAL(2), 1), 0);
	cr_assert_eq(sc_cache_total_cost(c), 1);
	cr_assert_eq(sc_cache_insert(c, "three", VAL(3), 2), 0);
	cr_assert_eq(sc_cache_total_cost(c), 3);
	cr_assert_eq(sc_cache_insert(c, "four", VAL(4), 10000), -EFBIG);
	cr_assert_eq(sc_cache_total_cost(c), 3);
	cr_assert_not(contains(c, "four"));
	/* Qt inserts "five" at cost -5 here: no negative costs for us */
	cr_assert_eq(sc_cache_insert(c, "six", VAL(6), 101), -EFBIG);
	cr_assert_eq(sc_cache_total_cost(c), 3);

	/* "seven" fills the cache: everything older is evicted */
	cr_assert_eq(sc_cache_insert(c, "seven", VAL(7), 100), 0);
	cr_assert_eq(sc_cache_total_cost(c), 100);
	cr_assert_eq(sc_cache_count(c), 1);
	cr_assert_eq(sc_cache_insert(c, "eight", VAL(8), 2), 0);
	cr_assert_eq(sc_cache_total_cost(c), 2);
	cr_assert_eq(sc_cache_count(c), 1);
	cr_assert_eq(sc_cache_insert(c, "zero", VAL(9), 0), 0);
	cr_assert_eq(sc_cache_total_cost(c), 2);
	cr_assert_eq(sc_cache_count(c), 2);
	sc_cache_destroy(c);
}

Test(qcache, clear)
{
	struct live l = { .taken = 0 };
	struct sc_cache *c;
	char buf[16];

	rel_init(&l.rel, 32);
	c = mk_cache(200, &l.rel);
	cr_assert_eq(sc_cache_total_cost(c), 0);
	/* Qt: costs -3 .. 8 (sum 30); here 0 .. 11 (sum 66) */
	for (int i = 0; i < 12; i++)
		ins(c, &l, kstr(buf, sizeof(buf), "", i), i, i);
	cr_assert_eq(sc_cache_total_cost(c), 66);
	cr_assert_eq(sc_cache_count(c), 12);
	sc_cache_set_limit(c, 300);
	for (int j = 0; j < 3; j++) {
		sc_cache_clear(c);
		cr_assert_eq(sc_cache_total_cost(c), 0);
		cr_assert_eq(sc_cache_count(c), 0);
		cr_assert_eq(live_count(&l), 0);
		cr_assert_eq(sc_cache_limit(c), 300);
	}
	ins(c, &l, "10", 20, 10);
	cr_assert_eq(sc_cache_count(c), 1);
	sc_cache_set_limit(c, 9);
	cr_assert_eq(sc_cache_count(c), 0);
	ins(c, &l, "11", 21, 9);
	cr_assert_eq(sc_cache_count(c), 1);
	cr_assert_eq(live_count(&l), 1);
	sc_cache_destroy(c);
	cr_assert_eq(live_count(&l), 0);
	rel_fini(&l.rel);
}

Test(qcache, insert)
{
	struct live l = { .taken = 0 };
	struct sc_cache *c;

	rel_init(&l.rel, 8);
	c = mk_cache(100, &l.rel);
	ins(c, &l, "one", 1, 1);
	cr_assert(contains(c, "one"));
	ins(c, &l, "two", 2, 2);
	cr_assert(contains(c, "two"));
	cr_assert_eq(sc_cache_count(c), 2);
	ins(c, &l, "two", 3, 2);
	cr_assert(contains(c, "two"));
	cr_assert_eq(sc_cache_count(c), 2);
	cr_assert_eq(sc_cache_find(c, "two"), VAL(3));
	cr_assert_eq(live_count(&l), 2);

	/*
	 * If the new item is too big, any item with the same name must
	 * still be removed, otherwise the application might get bad results.
	 */
	cr_assert_eq(ins(c, &l, "two", 4, 10000), -EFBIG);
	cr_assert_not(contains(c, "two"));
	cr_assert_eq(sc_cache_count(c), 1);
	cr_assert_eq(live_count(&l), 1);
	cr_assert_eq(rel_count(&l.rel, 4), 0, "the refused value not taken");
	sc_cache_destroy(c);
	rel_fini(&l.rel);
}

Test(qcache, contains)
{
	struct sc_cache *c = mk_cache(100, NULL);

	cr_assert_not(contains(c, "0"));
	cr_assert_not(contains(c, "1"));
	sc_cache_insert(c, "1", VAL(1), 1);
	cr_assert_not(contains(c, "0"));
	cr_assert(contains(c, "1"));
	sc_cache_remove(c, "0");
	sc_cache_remove(c, "1");
	cr_assert_not(contains(c, "0"));
	cr_assert_not(contains(c, "1"));
	sc_cache_insert(c, "1", VAL(1), 1);
	cr_assert_not(contains(c, "0"));
	cr_assert(contains(c, "1"));
	sc_cache_clear(c);
	cr_assert_not(contains(c, "0"));
	cr_assert_not(contains(c, "1"));
	sc_cache_destroy(c);
}

Test(qcache, operator_bracket_bracket)
{
	struct sc_cache *c = mk_cache(100, NULL);

	sc_cache_insert(c, "1", VAL(2), 1);
	cr_assert_null(sc_cache_find(c, "0"));
	cr_assert_eq(sc_cache_find(c, "1"), VAL(2));
	sc_cache_insert(c, "1", VAL(4), 1);
	cr_assert_eq(sc_cache_find(c, "1"), VAL(4));
	/* a lookup does not remove the item */
	cr_assert_eq(sc_cache_find(c, "1"), VAL(4));
	sc_cache_remove(c, "1");
	cr_assert_null(sc_cache_find(c, "1"));
	sc_cache_destroy(c);
}

Test(qcache, remove)
{
	struct sc_cache *c = mk_cache(100, NULL);

	cr_assert_eq(sc_cache_remove(c, ""), -EINVAL); /* Qt: QString() */
	cr_assert_eq(sc_cache_remove(c, "alpha"), -ENOENT);
	cr_assert_eq(sc_cache_count(c), 0);
	sc_cache_insert(c, "alpha", VAL(1), 10);
	cr_assert_eq(sc_cache_count(c), 1);
	sc_cache_insert(c, "beta", VAL(2), 20);
	cr_assert_eq(sc_cache_count(c), 2);
	for (int i = 0; i < 10; i++) {
		sc_cache_remove(c, "alpha");
		cr_assert_eq(sc_cache_count(c), 1);
		cr_assert_eq(sc_cache_total_cost(c), 20);
	}
	sc_cache_set_limit(c, 1);
	cr_assert_eq(sc_cache_count(c), 0);
	cr_assert_eq(sc_cache_remove(c, "beta"), -ENOENT);
	cr_assert_eq(sc_cache_count(c), 0);
	sc_cache_destroy(c);
}

/*
 * QCache::take() hands the object out of the cache. We have no take: a
 * value belongs to the cache until it lets go. The equivalent is a pinned
 * get followed by a remove: the caller keeps the value alive until put.
 */
Test(qcache, take)
{
	struct sc_cache_stats st;
	struct live l = { .taken = 0 };
	struct sc_entry *e;
	struct sc_cache *c;

	rel_init(&l.rel, 8);
	c = mk_cache(100, &l.rel);
	cr_assert_null(sc_cache_get(c, ""));
	cr_assert_null(sc_cache_get(c, "alpha"));
	ins(c, &l, "alpha", 1, 10);
	ins(c, &l, "beta", 2, 20);
	cr_assert_eq(sc_cache_count(c), 2);

	e = sc_cache_get(c, "alpha");
	cr_assert_not_null(e);
	cr_assert_eq(sc_entry_value(e), VAL(1));
	cr_assert_eq(sc_cache_remove(c, "alpha"), 0);
	cr_assert_eq(sc_cache_count(c), 1);
	cr_assert_eq(sc_cache_total_cost(c), 20);
	cr_assert_eq(live_count(&l), 2, "still held by the pin");
	sc_cache_stats(c, &st);
	cr_assert_eq(st.pinned, 1);
	sc_entry_put(e);
	cr_assert_eq(live_count(&l), 1);
	sc_cache_stats(c, &st);
	cr_assert_eq(st.pinned, 0);

	cr_assert_null(sc_cache_get(c, "alpha"));
	cr_assert_eq(sc_cache_count(c), 1);
	sc_cache_set_limit(c, 1);
	cr_assert_eq(sc_cache_count(c), 0);
	cr_assert_null(sc_cache_get(c, "beta"));
	sc_cache_destroy(c);
	cr_assert_eq(live_count(&l), 0);
	rel_fini(&l.rel);
}

/*
 * Qt checks the minimal requirements on the key type. Ours is a byte
 * string: check that keys differing in one byte anywhere, in length only,
 * or in bytes the hash reads twice (overlapping tail loads) stay distinct,
 * at every length around the hash's load sizes.
 */
Test(qcache, axioms_on_key_type)
{
	struct sc_cache *c = mk_cache(SIZE_MAX, NULL);
	char a[200], b[200];
	unsigned long id = 0;

	for (size_t len = 1; len < 150; len++) {
		memset(a, 'k', len);
		a[len] = '\0';
		cr_assert_eq(sc_cache_insert(c, a, VAL(id), 1), 0);
		id++;
		for (size_t pos = 0; pos < len; pos++) {
			memcpy(b, a, len + 1);
			b[pos] = 'j';
			cr_assert_null(sc_cache_find(c, b), "len %zu pos %zu",
				       len, pos);
		}
	}
	id = 0;
	for (size_t len = 1; len < 150; len++, id++) {
		memset(a, 'k', len);
		a[len] = '\0';
		cr_assert_eq(sc_cache_find(c, a), VAL(id), "len %zu", len);
	}
	cr_assert_eq(sc_cache_count(c), 149);
	sc_cache_destroy(c);
}

Test(qcache, largeCache)
{
	struct sc_cache *c = mk_cache(500, NULL);
	char buf[16];

	for (int i = 0; i < 1000; i++) {
		for (int j = 0; j < (i > 500 ? i - 500 : 0); j++)
			cr_assert_not(
				contains(c, kstr(buf, sizeof(buf), "", j)));
		for (int j = i > 500 ? i - 500 : 0; j < i; j++)
			cr_assert(contains(c, kstr(buf, sizeof(buf), "", j)));
		sc_cache_insert(c, kstr(buf, sizeof(buf), "", i), VAL(i), 1);
	}
	sc_cache_clear(c);
	cr_assert_eq(sc_cache_count(c), 0);
	sc_cache_destroy(c);
}

Test(qcache, internalChainOrderAfterEntryUpdate)
{
	struct sc_cache *c = mk_cache(20, NULL);

	sc_cache_insert(c, "1", VAL(1), 1);
	sc_cache_insert(c, "2", VAL(2), 1);
	sc_cache_insert(c, "1", VAL(3), 1);
	/* if the chain is still in order, limit 0 removes everything */
	sc_cache_set_limit(c, 0);
	cr_assert_eq(sc_cache_count(c), 0);
	cr_assert_eq(sc_cache_total_cost(c), 0);
	sc_cache_destroy(c);
}

Test(qcache, emplaceLowerCost)
{
	struct sc_cache *c = mk_cache(5, NULL);

	sc_cache_insert(c, "a", VAL(1), 3);
	sc_cache_insert(c, "a", VAL(2), 1);
	cr_assert_eq(sc_cache_total_cost(c), 1);
	sc_cache_remove(c, "a");
	cr_assert_eq(sc_cache_total_cost(c), 0);
	cr_assert_eq(sc_cache_count(c), 0);
	sc_cache_destroy(c);
}

/*
 * Qt: trimming must not lose a node that the hash table moves meanwhile.
 * Our index moves slots back on every deletion (backward shift): evict
 * and remove in scattered order, at every load up to the growth point,
 * and check after each step that every remaining key is still found.
 */
Test(qcache, trimWithMovingAcrossSpans)
{
	enum { N = 700 };
	struct sc_cache *c = mk_cache(N, NULL);
	static bool present[N];
	char buf[16];
	unsigned int i, step;

	for (i = 0; i < N; i++) {
		sc_cache_insert(c, kstr(buf, sizeof(buf), "", i), VAL(i), 1);
		present[i] = true;
	}
	for (step = 0; step < N; step++) {
		i = (step * 337) % N; /* 337 is coprime with 700 */
		cr_assert_eq(sc_cache_remove(c, kstr(buf, sizeof(buf), "", i)),
			     0);
		present[i] = false;
		if (step % 7)
			continue;
		for (unsigned int j = 0; j < N; j++)
			cr_assert_eq(sc_cache_find(c, kstr(buf, sizeof(buf), "",
							   j)) != NULL,
				     present[j], "key %u after %u removals", j,
				     step + 1);
	}
	cr_assert_eq(sc_cache_count(c), 0);
	for (i = 0; i < N; i++)
		sc_cache_insert(c, kstr(buf, sizeof(buf), "", i), VAL(i), 1);
	sc_cache_set_limit(c, 0);
	cr_assert_eq(sc_cache_count(c), 0);
	sc_cache_destroy(c);
}

/*
 * Where we differ on purpose: Qt 6's QCache evicts for the new cost before
 * giving back the old value's cost, so re-inserting a key at the same cost
 * in a full cache evicts another entry. We give the old cost back first.
 */
Test(qcache, reinsertSameCostEvictsNothing)
{
	struct sc_cache *c = mk_cache(3, NULL);

	sc_cache_insert(c, "a", VAL(1), 1);
	sc_cache_insert(c, "b", VAL(2), 1);
	sc_cache_insert(c, "c", VAL(3), 1);
	cr_assert_eq(sc_cache_insert(c, "a", VAL(4), 1), 0);
	cr_assert_eq(sc_cache_count(c), 3);
	cr_assert(contains(c, "b"));
	cr_assert(contains(c, "c"));
	cr_assert_eq(sc_cache_find(c, "a"), VAL(4));
	sc_cache_destroy(c);
}
