// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Hit logs seen from one more thread. A thread that cannot make its hit
 * log (no memory at its first lookup) applies its hits and misses under
 * the cache lock, so none is lost; the log of a thread that has exited is freed
 * with its cache.
 */
#include <criterion/criterion.h>
#include <pthread.h>

#include "config.h"
#include "core/cache_internal.h"
#include "core/internal.h"
#include "helpers.h"

#ifdef CONFIG_SC_ASAN
#include <sanitizer/lsan_interface.h>
#endif

struct finder {
	struct sc_cache *c;
	bool fail_log;
	void *found, *missed;
	unsigned int logs_seen;
};

static void *finder_main(void *arg)
{
	struct finder *f = arg;

	if (f->fail_log)
		sc_fault_inject(1); /* the log's first allocation */
	f->found = sc_cache_find(f->c, "old");
	sc_fault_inject(0);
	if (f->fail_log) {
		/* and a miss, still without a log */
		sc_fault_inject(1);
		f->missed = sc_cache_find(f->c, "absent");
		sc_fault_inject(0);
	}
	sc_cache_lock(f->c);
	f->logs_seen = f->c->nr_logs;
	sc_cache_unlock(f->c);
	return NULL;
}

static void find_from_thread(struct finder *f)
{
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, finder_main, f), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
}

Test(cache_hitlog, thread_without_a_log_applies_hits_under_the_lock)
{
	struct rel r;
	struct sc_cache_config cfg = { .name = "hitlog",
				       .limit = 10,
				       .ops = &rel_ops,
				       .priv = &r,
				       .flags = SC_CACHE_NO_SHRINKER };
	struct finder f = { .fail_log = true };
	struct sc_cache_stats st0, st;

	rel_init(&r, 4);
	f.c = sc_cache_create(&cfg);
	cr_assert_not_null(f.c);
	cr_assert_eq(sc_cache_insert(f.c, "old", VAL(1), 1), 0);
	cr_assert_eq(sc_cache_insert(f.c, "new", VAL(2), 1), 0);
	cr_assert_eq(sc_cache_stats(f.c, &st0), 0);

	find_from_thread(&f);
	cr_assert_eq(f.found, VAL(1));
	cr_assert_eq(f.logs_seen, 1, "the thread made no log of its own");
	cr_assert_eq(sc_cache_stats(f.c, &st), 0);
	cr_assert_eq(st.hits, st0.hits + 1);
	cr_assert_null(f.missed);
	cr_assert_eq(st.misses, st0.misses + 1);
	/* the hit moved "old" ahead: "new" is the one evicted */
	cr_assert_eq(sc_cache_set_limit(f.c, 1), 0);
	cr_assert_eq(rel_count(&r, 2), 1, "the hit was lost");
	cr_assert_eq(rel_count(&r, 1), 0);
	sc_cache_destroy(f.c);
	rel_fini(&r);
}

Test(cache_hitlog, exited_threads_log_freed_with_the_cache)
{
	struct sc_cache_config cfg = { .name = "hitlog",
				       .flags = SC_CACHE_NO_SHRINKER };
	struct finder f = { 0 };
	struct sc_cache_stats st;

	f.c = sc_cache_create(&cfg);
	cr_assert_not_null(f.c);
	cr_assert_eq(sc_cache_insert(f.c, "old", VAL(1), 1), 0);
	find_from_thread(&f);
	cr_assert_eq(f.found, VAL(1));
	cr_assert_eq(f.logs_seen, 2, "the thread has a log");
	/* its hit outlives it */
	cr_assert_eq(sc_cache_stats(f.c, &st), 0);
	cr_assert_eq(st.hits, 1);
	sc_cache_destroy(f.c);
#ifdef CONFIG_SC_ASAN
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0);
#endif
}

struct one_hit {
	struct sc_cache *c;
	const char *key;
	void *found;
};

static void *one_hit_main(void *arg)
{
	struct one_hit *h = arg;

	h->found = sc_cache_find(h->c, h->key);
	return NULL;
}

/*
 * More threads with hits pending at once than the drain sorts by when
 * their hits began (64): each of 70 threads finds one of the 70 oldest
 * of 100 entries and exits with its hit still in its log. The next
 * writer applies all 70, the logs past the sorted ones in list order:
 * lowering the limit to 70 then evicts exactly the 30 entries nobody
 * found, and every hit is counted.
 */
Test(cache_hitlog, more_pending_logs_than_sorted_all_applied)
{
	enum { N = 100, HIT = 70 };
	struct rel r;
	struct sc_cache_config cfg = { .name = "hitlog",
				       .limit = N,
				       .ops = &rel_ops,
				       .priv = &r,
				       .flags = SC_CACHE_NO_SHRINKER };
	static char keys[N][8];
	struct sc_cache_stats st;
	struct sc_cache *c;

	rel_init(&r, N);
	c = sc_cache_create(&cfg);
	cr_assert_not_null(c);
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		cr_assert_eq(sc_cache_insert(c, keys[i], VAL(i), 1), 0);
	}
	for (int i = 0; i < HIT; i++) {
		struct one_hit h = { .c = c, .key = keys[i] };
		pthread_t t;

		cr_assert_eq(pthread_create(&t, NULL, one_hit_main, &h), 0);
		cr_assert_eq(pthread_join(t, NULL), 0);
		cr_assert_eq(h.found, VAL(i));
	}
	sc_cache_lock(c);
	cr_assert_eq(c->nr_logs, 1 + HIT, "each thread's log waits");
	sc_cache_unlock(c);

	cr_assert_eq(sc_cache_set_limit(c, HIT), 0);
	for (int i = 0; i < N; i++)
		cr_assert_eq(rel_count(&r, (size_t)i), i < HIT ? 0 : 1,
			     "%s: a hit was lost or misapplied", keys[i]);
	cr_assert_eq(sc_cache_stats(c, &st), 0);
	cr_assert_eq(st.hits, HIT);
	sc_cache_lock(c);
	cr_assert_eq(c->nr_logs, 1, "the exited threads' logs are freed");
	sc_cache_unlock(c);
	sc_cache_destroy(c);
	rel_fini(&r);
}
