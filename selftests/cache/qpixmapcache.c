// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Ports of qtbase tests/auto/gui/image/qpixmapcache/tst_qpixmapcache.cpp,
 * one Test per Qt test function, named after it. A pixmap of w x h at 32
 * bits becomes a value of cost w * h * 4 bytes; Qt's limits in KiB become
 * bytes. Where Qt inspects its private key numbers (getPrivate(key)->key),
 * we check what that stands for: the key slot is reused (key_slots does
 * not grow) and the old handle stays invalid because of the generation.
 */
#include <criterion/criterion.h>
#include <limits.h>

#include "helpers.h"

#define PIX(w, h) ((size_t)(w) * (h)*4)
#define KIB 1024u

Test(qpixmapcache, cacheLimit)
{
	struct sc_cache *c = mk_cache(0, NULL);

	/* Qt: the default is between 1024 and 20480 KiB (it is 10240) */
	cr_assert_eq(sc_cache_limit(c), SC_CACHE_DEFAULT_LIMIT);
	cr_assert(sc_cache_limit(c) >= 1024 * KIB &&
		  sc_cache_limit(c) <= 20480 * KIB);

	cr_assert_eq(sc_cache_set_limit(c, SIZE_MAX), 0);
	cr_assert_eq(sc_cache_limit(c), SIZE_MAX);
	cr_assert_eq(sc_cache_set_limit(c, 100), 0);
	cr_assert_eq(sc_cache_limit(c), 100);
	/* Qt accepts -50; a size_t limit cannot be negative: 0 is the floor */
	cr_assert_eq(sc_cache_set_limit(c, 0), 0);
	cr_assert_eq(sc_cache_limit(c), 0);
	sc_cache_destroy(c);
}

Test(qpixmapcache, setCacheLimit)
{
	struct sc_cache_stats st;
	struct rel r;
	struct sc_cache *c;
	sc_key_t key, key2, key3;
	size_t slots;
	int i;

	rel_init(&r, 64);
	c = mk_cache(0, &r);
	cr_assert_eq(sc_cache_insert(c, "P1", VAL(1), PIX(2, 3)), 0);
	cr_assert_eq(sc_cache_find(c, "P1"), VAL(1));
	cr_assert_eq(sc_cache_set_limit(c, 0), 0);
	cr_assert_null(sc_cache_find(c, "P1"));
	cr_assert_eq(rel_count(&r, 1), 1);

	cr_assert_eq(sc_cache_set_limit(c, 1000 * KIB), 0);
	cr_assert_eq(sc_cache_insert(c, "P1", VAL(2), PIX(2, 3)), 0);
	cr_assert_eq(sc_cache_find(c, "P1"), VAL(2));

	/* the handle part of the API */
	key = sc_cache_add(c, VAL(3), PIX(2, 3));
	cr_assert_eq(sc_cache_find_key(c, key), VAL(3));
	cr_assert_eq(sc_cache_set_limit(c, 0), 0);
	cr_assert_null(sc_cache_find_key(c, key));
	cr_assert_eq(sc_cache_set_limit(c, 1000 * KIB), 0);
	cr_assert_eq(sc_cache_replace(c, key, VAL(4), PIX(2, 3)), -ENOENT);
	cr_assert_null(sc_cache_find_key(c, key));
	cr_assert_eq(rel_count(&r, 4), 0, "a refused value is not taken");

	/* keys are released when the cache is flushed, and reused */
	sc_cache_clear(c);
	key = sc_cache_add(c, VAL(5), PIX(2, 3));
	cr_assert_eq(sc_cache_find_key(c, key), VAL(5));
	sc_cache_stats(c, &st);
	slots = st.key_slots;
	cr_assert_eq(sc_cache_set_limit(c, 0), 0);
	cr_assert_null(sc_cache_find_key(c, key));
	cr_assert_eq(sc_cache_set_limit(c, 1000 * KIB), 0);
	key2 = sc_cache_add(c, VAL(6), PIX(2, 3));
	cr_assert(sc_cache_key_valid(c, key2));
	sc_cache_stats(c, &st);
	cr_assert_eq(st.key_slots, slots, "the freed slot is reused");

	/* removing old entries does not let you get the wrong value */
	cr_assert_neq(key2.id, key.id);
	cr_assert_not(sc_cache_key_valid(c, key));
	cr_assert_null(sc_cache_find_key(c, key));
	cr_assert_eq(sc_cache_find_key(c, key2), VAL(6));

	/* the idle flush: aging drains an idle cache, handles go stale */
	sc_cache_clear(c);
	cr_assert_eq(sc_cache_set_limit(c, SC_CACHE_DEFAULT_LIMIT), 0);
	key = sc_cache_add(c, VAL(7), PIX(300, 300));
	key2 = sc_cache_add(c, VAL(8), PIX(300, 300));
	key2 = sc_cache_add(c, VAL(9), PIX(300, 300));
	key3 = sc_cache_add(c, VAL(10), PIX(300, 300));
	for (i = 0; i < 100 && sc_cache_count(c); i++)
		sc_cache_age(c);
	cr_assert_eq(sc_cache_count(c), 0);
	key2 = sc_cache_add(c, VAL(11), PIX(300, 300));
	cr_assert(sc_cache_key_valid(c, key2));
	cr_assert_not(sc_cache_key_valid(c, key));
	cr_assert_not(sc_cache_key_valid(c, key3));
	cr_assert_null(sc_cache_find_key(c, key));
	sc_cache_destroy(c);
	for (i = 1; i <= 11; i++)
		cr_assert_eq(rel_count(&r, i), i == 4 ? 0 : 1, "value %d", i);
	rel_fini(&r);
}

Test(qpixmapcache, find)
{
	struct rel r;
	struct sc_cache *c;
	sc_key_t key;
	int i;

	rel_init(&r, 8192);
	c = mk_cache(0, &r);
	cr_assert_eq(sc_cache_insert(c, "P1", VAL(1), PIX(10, 10)), 0);
	cr_assert_eq(sc_cache_find(c, "P1"), VAL(1));

	key = sc_cache_add(c, VAL(2), PIX(10, 10));
	cr_assert_eq(sc_cache_find_key(c, key), VAL(2));

	sc_cache_clear(c);
	sc_cache_set_limit(c, 128 * KIB);
	key = sc_cache_add(c, VAL(3), PIX(10, 10));
	for (i = 0; i < 4000; i++)
		cr_assert_neq(sc_cache_add(c, VAL(10 + i), PIX(10, 10)).id, 0);
	/* the first key was evicted for lack of room */
	cr_assert_null(sc_cache_find_key(c, key));
	cr_assert_not(sc_cache_key_valid(c, key));
	cr_assert_leq(sc_cache_total_cost(c), 128 * KIB);
	sc_cache_destroy(c);
	rel_fini(&r);
}

Test(qpixmapcache, insert)
{
	size_t est = SC_CACHE_DEFAULT_LIMIT / PIX(10, 10);
	size_t n = est + 1000, k, num;
	sc_key_t *keys;
	struct rel r;
	struct sc_cache *c;
	char buf[32];

	rel_init(&r, 4 * n + 16);
	c = mk_cache(0, &r);
	/* make sure it doesn't explode: one key, many values */
	for (k = 0; k < n; k++)
		cr_assert_eq(sc_cache_insert(c, "0", VAL(k), PIX(10, 10)), 0);
	cr_assert_eq(sc_cache_count(c), 1);
	cr_assert_eq(atomic_load(&r.total), n - 1);

	for (k = 0; k < n; k++)
		cr_assert_eq(sc_cache_insert(c, kstr(buf, sizeof(buf), "", k),
					     VAL(n + k), PIX(10, 10)),
			     0);
	num = 0;
	for (k = 0; k < n; k++)
		if (sc_cache_find(c, kstr(buf, sizeof(buf), "", k)))
			num++;
	cr_assert_leq(num, est);
	cr_assert_eq(num, est, "exactly what fits stays (no over-eviction)");

	/* a null pixmap: a NULL value is refused */
	cr_assert_eq(sc_cache_insert(c, "null", NULL, 0), -EINVAL);

	cr_assert_eq(sc_cache_insert(c, "custom", VAL(2 * n), PIX(10, 10)), 0);
	cr_assert_eq(rel_count(&r, 2 * n), 0);
	cr_assert_eq(sc_cache_insert(c, "custom", VAL(2 * n + 1), PIX(10, 10)),
		     0);
	/* the old value under the same key was released */
	cr_assert_eq(rel_count(&r, 2 * n), 1);

	/* the handle part of the API */
	keys = calloc(n, sizeof(*keys));
	for (k = 0; k < n; k++) {
		keys[k] = sc_cache_add(c, VAL(2 * n + 2 + k), PIX(10, 10));
		cr_assert(sc_cache_key_valid(c, keys[k]));
	}
	num = 0;
	for (k = 0; k < n; k++)
		if (sc_cache_find_key(c, keys[k]))
			num++;
	cr_assert_leq(num, est);
	free(keys);
	sc_cache_destroy(c);
	for (k = 0; k < 3 * n + 2; k++)
		cr_assert_eq(rel_count(&r, k), 1, "value %zu", k);
	cr_assert_eq(atomic_load(&r.out_of_range), 0);
	rel_fini(&r);
}

Test(qpixmapcache, failedInsertReturnsInvalidKey)
{
	struct sc_cache_stats st;
	struct rel r;
	struct sc_cache *c;
	sc_key_t key;

	rel_init(&r, 8);
	c = mk_cache(20 * KIB, &r);
	cr_assert_gt(PIX(256, 256), sc_cache_limit(c));

	cr_assert_eq(sc_cache_insert(c, "foo", VAL(1), PIX(256, 256)), -EFBIG);
	cr_assert_eq(errno, EFBIG);
	cr_assert_null(sc_cache_find(c, "foo"));
	errno = 0;
	key = sc_cache_add(c, VAL(2), PIX(256, 256));
	cr_assert_eq(key.id, SC_KEY_NONE.id);
	cr_assert_eq(errno, EFBIG);
	cr_assert_not(sc_cache_key_valid(c, key));
	sc_cache_stats(c, &st);
	cr_assert_eq(st.insert_failures, 2);
	cr_assert_eq(st.count, 0);
	sc_cache_destroy(c);
	/* failed inserts do not take the value */
	cr_assert_eq(atomic_load(&r.total), 0);
	rel_fini(&r);
}

Test(qpixmapcache, replace)
{
	struct rel r;
	struct sc_cache *c;
	sc_key_t key, before;

	rel_init(&r, 8);
	c = mk_cache(0, &r);
	key = sc_cache_add(c, VAL(1), PIX(10, 10));
	cr_assert(sc_cache_key_valid(c, key));
	cr_assert_eq(sc_cache_find_key(c, key), VAL(1));
	before = key;

	cr_assert_eq(sc_cache_replace(c, key, VAL(2), PIX(10, 10)), 0);
	cr_assert_eq(rel_count(&r, 1), 1);
	cr_assert_eq(sc_cache_find_key(c, key), VAL(2));
	cr_assert(sc_cache_key_valid(c, key));
	cr_assert_eq(key.id, before.id, "the handle is unchanged");
	cr_assert_eq(sc_cache_count(c), 1);
	cr_assert_eq(sc_cache_total_cost(c), PIX(10, 10));

	/* broken keys */
	cr_assert_eq(sc_cache_replace(c, SC_KEY_NONE, VAL(3), PIX(10, 10)),
		     -ENOENT);
	cr_assert_eq(rel_count(&r, 3), 0);
	sc_cache_destroy(c);
	cr_assert_eq(rel_count(&r, 2), 1);
	rel_fini(&r);
}

Test(qpixmapcache, remove)
{
	struct sc_cache_stats st;
	struct rel r;
	struct sc_cache *c;
	sc_key_t key, key2;
	size_t slots;

	rel_init(&r, 16);
	c = mk_cache(0, &r);
	cr_assert_eq(sc_cache_insert(c, "red", VAL(1), PIX(10, 10)), 0);
	cr_assert_eq(sc_cache_find(c, "red"), VAL(1));
	cr_assert_eq(sc_cache_remove(c, "red"), 0);
	cr_assert_eq(rel_count(&r, 1), 1);
	cr_assert_null(sc_cache_find(c, "red"));
	cr_assert_eq(sc_cache_remove(c, "red"), -ENOENT);
	cr_assert_null(sc_cache_find(c, "red"));
	cr_assert_eq(sc_cache_remove(c, "green"), -ENOENT);
	cr_assert_null(sc_cache_find(c, "green"));

	/* the handle part of the API */
	sc_cache_clear(c);
	key = sc_cache_add(c, VAL(2), PIX(10, 10));
	cr_assert_eq(sc_cache_find_key(c, key), VAL(2));
	cr_assert_eq(sc_cache_remove_key(c, key), 0);
	cr_assert_null(sc_cache_find_key(c, key));

	/* broken key */
	cr_assert_eq(sc_cache_remove_key(c, SC_KEY_NONE), -ENOENT);
	cr_assert_null(sc_cache_find_key(c, SC_KEY_NONE));

	/* keys are released: the slot is reused, the old handle is dead */
	sc_cache_clear(c);
	key = sc_cache_add(c, VAL(3), PIX(10, 10));
	sc_cache_stats(c, &st);
	slots = st.key_slots;
	cr_assert_eq(sc_cache_remove_key(c, key), 0);
	key2 = sc_cache_add(c, VAL(4), PIX(10, 10));
	sc_cache_stats(c, &st);
	cr_assert_eq(st.key_slots, slots);
	cr_assert_not(sc_cache_key_valid(c, key));
	cr_assert(sc_cache_key_valid(c, key2));

	/* values are released at once */
	sc_cache_clear(c);
	key = sc_cache_add(c, VAL(5), PIX(10, 10));
	cr_assert_eq(sc_cache_find_key(c, key), VAL(5));
	cr_assert_eq(sc_cache_remove_key(c, key), 0);
	cr_assert_eq(rel_count(&r, 5), 1);

	/* both parts of the API mixed */
	sc_cache_clear(c);
	cr_assert_eq(sc_cache_insert(c, "red", VAL(6), PIX(10, 10)), 0);
	key = sc_cache_add(c, VAL(7), PIX(10, 10));
	cr_assert_eq(sc_cache_remove_key(c, key), 0);
	cr_assert_null(sc_cache_find_key(c, key));
	cr_assert_eq(sc_cache_find(c, "red"), VAL(6));
	sc_cache_destroy(c);
	for (int i = 1; i <= 7; i++)
		cr_assert_eq(rel_count(&r, i), 1, "value %d", i);
	rel_fini(&r);
}

Test(qpixmapcache, clear)
{
	size_t est = SC_CACHE_DEFAULT_LIMIT / PIX(10, 10);
	size_t n = est + 1000, k, num = 0;
	sc_key_t *keys;
	struct rel r;
	struct sc_cache *c;
	char buf[32];

	rel_init(&r, 2 * n);
	c = mk_cache(0, &r);
	for (k = 0; k < n; k++)
		cr_assert_null(
			sc_cache_find(c, kstr(buf, sizeof(buf), "x", k)));
	for (k = 0; k < n; k++)
		sc_cache_insert(c, kstr(buf, sizeof(buf), "", k), VAL(k),
				PIX(10, 10));
	for (k = 0; k < n; k++)
		if (sc_cache_find(c, kstr(buf, sizeof(buf), "", k)))
			num++;
	cr_assert_gt(num, 0);

	sc_cache_clear(c);
	for (k = 0; k < n; k++)
		cr_assert_null(sc_cache_find(c, kstr(buf, sizeof(buf), "", k)));
	cr_assert_eq(atomic_load(&r.total), n);

	/* the handle part of the API */
	keys = calloc(n, sizeof(*keys));
	for (k = 0; k < n; k++)
		keys[k] = sc_cache_add(c, VAL(n + k), PIX(10, 10));
	sc_cache_clear(c);
	for (k = 0; k < n; k++) {
		cr_assert_null(sc_cache_find_key(c, keys[k]));
		cr_assert_not(sc_cache_key_valid(c, keys[k]));
	}
	cr_assert_eq(sc_cache_count(c), 0);
	cr_assert_eq(sc_cache_total_cost(c), 0);
	free(keys);
	sc_cache_destroy(c);
	for (k = 0; k < 2 * n; k++)
		cr_assert_eq(rel_count(&r, k), 1);
	rel_fini(&r);
}

/*
 * Qt tests the reference counting of QPixmapCache::Key's shared d-pointer.
 * Our handle is a plain value: copies are equal and equally valid, the
 * default (SC_KEY_NONE) is never valid, and handles are never reused.
 */
Test(qpixmapcache, pixmapKey)
{
	struct sc_cache *c = mk_cache(0, NULL);
	sc_key_t key, key2, key3, key4;

	key = SC_KEY_NONE;
	cr_assert_eq(key.id, 0);
	cr_assert_not(sc_cache_key_valid(c, key));

	key2 = sc_cache_add(c, VAL(1), 1);
	key = key2;
	cr_assert_eq(key.id, key2.id);
	cr_assert(sc_cache_key_valid(c, key));
	cr_assert(sc_cache_key_valid(c, key2));
	key3 = sc_cache_add(c, VAL(2), 1);
	cr_assert_neq(key3.id, key2.id);
	key4 = key3;
	key4 = key;
	cr_assert_eq(key4.id, key2.id);
	cr_assert(sc_cache_key_valid(c, key3));

	/* a removed handle is dead in every copy, and never comes back */
	cr_assert_eq(sc_cache_remove_key(c, key2), 0);
	cr_assert_not(sc_cache_key_valid(c, key));
	cr_assert_not(sc_cache_key_valid(c, key4));
	for (int i = 0; i < 1000; i++) {
		sc_key_t k = sc_cache_add(c, VAL(3 + i), 1);

		cr_assert_neq(k.id, key2.id);
		cr_assert_not(sc_cache_key_valid(c, key2));
		sc_cache_remove_key(c, k);
	}
	sc_cache_destroy(c);
}

Test(qpixmapcache, noLeak)
{
	struct sc_cache_stats st;
	struct rel r;
	struct sc_cache *c;
	size_t old_slots;
	sc_key_t key;
	size_t before;

	rel_init(&r, 128);
	c = mk_cache(0, &r);
	/* the same cost as below: a cost of 65535 or more takes 8 bytes more */
	key = sc_cache_add(c, VAL(100), PIX(128, 128));
	sc_cache_remove_key(c, key);
	sc_cache_stats(c, &st);
	old_slots = st.key_slots;
	before = sc_cache_memory(c);
	for (int i = 0; i < 100; i++) {
		key = sc_cache_add(c, VAL(i), PIX(128, 128));
		cr_assert_eq(sc_cache_remove_key(c, key), 0);
	}
	sc_cache_stats(c, &st);
	cr_assert_eq(st.key_slots, old_slots);
	cr_assert_eq(st.count, 0);
	cr_assert_eq(sc_cache_memory(c), before);
	cr_assert_eq(atomic_load(&r.total), 101);
	sc_cache_destroy(c);
	rel_fini(&r);
}

/* Count the active objects of the slab caches whose name starts so. */
static size_t slab_active(const char *prefix)
{
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0, active = 0, n;
	FILE *f = open_memstream(&buf, &len);
	char name[128];

	cr_assert_not_null(f);
	cr_assert_geq(sc_slabinfo_write(f), 0);
	fclose(f);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%127s %zu", name, &n) == 2 &&
		    !strncmp(name, prefix, strlen(prefix)))
			active += n;
	}
	free(buf);
	return active;
}

Test(qpixmapcache, clearDoesNotLeakStringKeys)
{
	struct sc_cache_config cfg = { .name = "leakkey",
				       .limit = 20 * KIB,
				       .flags = SC_CACHE_NO_SHRINKER };
	struct sc_cache *c = sc_cache_create(&cfg);
	char key[6 * 20 + 1] = "";

	cr_assert_lt(PIX(64, 64), 20 * KIB);
	for (int i = 0; i < 20; i++)
		strcat(key, "theKey"); /* too long to sit inline */
	cr_assert_eq(sc_cache_insert(c, key, VAL(1), PIX(64, 64)), 0);
	cr_assert_eq(slab_active("leakkey-key-"), 1, "the key was copied");
	key[0] = 'X'; /* the caller's string is not kept */
	cr_assert_null(sc_cache_find(c, key));
	key[0] = 't';
	cr_assert_eq(sc_cache_find(c, key), VAL(1));

	sc_cache_clear(c);
	cr_assert_eq(slab_active("leakkey-key-"), 0);
	cr_assert_eq(slab_active("leakkey-entry-"), 0);
	cr_assert_null(sc_cache_find(c, key));
	sc_cache_destroy(c);
}

Test(qpixmapcache, strictCacheLimit)
{
	const size_t limit = 1024 * KIB;
	struct sc_cache *c = mk_cache(limit, NULL);
	char buf[32];

	for (int i = 0; i < 200; i++) {
		snprintf(buf, sizeof(buf), "%d-a", i);
		cr_assert_eq(sc_cache_insert(c, buf, VAL(i), PIX(64, 64)), 0);
		snprintf(buf, sizeof(buf), "%d-b", i);
		cr_assert_eq(sc_cache_insert(c, buf, VAL(i), PIX(64, 64)), 0);
		cr_assert_leq(sc_cache_total_cost(c), limit);
	}
	cr_assert_eq(sc_cache_total_cost(c), limit, "full, not over-evicted");
	sc_cache_destroy(c);
}

Test(qpixmapcache, noCrashOnLargeInsert)
{
	struct sc_cache *c = mk_cache(100 * KIB, NULL);

	cr_assert_eq(sc_cache_insert(c, "test", VAL(1), PIX(500, 500)), -EFBIG);
	cr_assert_eq(sc_cache_count(c), 0);
	sc_cache_destroy(c);
}
