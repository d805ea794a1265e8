// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Shrinker registry: the amounts asked per level and seeks follow the
 * formula of Documentation/shrinker.rst, batching, SHRINK_STOP,
 * SHRINK_EMPTY, carried (deferred) work, freeing from callbacks, bad
 * arguments, allocation failure, and memory really given back.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <slabcache.h>

/* A test shrinker over a counter of "objects". */
struct tshr {
	struct sc_shrinker *s;
	unsigned long freeable; /* what count_objects reports */
	bool consume; /* scan frees from freeable */
	unsigned long count_calls, scan_calls, asked, max_ask;
	unsigned long ask[64]; /* nr_to_scan of the first calls */
	enum sc_pressure_level seen_level;
	unsigned long stop_after; /* SHRINK_STOP from this call on (1-based) */
	unsigned long scanned_factor; /* nr_scanned = nr_to_scan * factor */
	struct sc_shrinker *free_in_scan; /* freed from inside scan */
	bool free_self_in_count;
};

static unsigned long t_count(struct sc_shrinker *s,
			     struct sc_shrink_control *sc)
{
	struct tshr *t = s->private_data;

	t->count_calls++;
	t->seen_level = sc->level;
	if (t->free_self_in_count) {
		t->s = NULL;
		sc_shrinker_free(s);
	}
	return t->freeable;
}

static unsigned long t_scan(struct sc_shrinker *s, struct sc_shrink_control *sc)
{
	struct tshr *t = s->private_data;
	unsigned long n = sc->nr_to_scan;

	if (t->scan_calls < 64)
		t->ask[t->scan_calls] = n;
	t->scan_calls++;
	t->asked += n;
	if (n > t->max_ask)
		t->max_ask = n;
	cr_assert_eq(sc->nr_scanned, n, "nr_scanned preset to nr_to_scan");
	cr_assert_eq(sc->level, t->seen_level);
	if (t->free_in_scan) {
		struct sc_shrinker *victim = t->free_in_scan;

		t->free_in_scan = NULL;
		if (victim == s)
			t->s = NULL;
		sc_shrinker_free(victim);
	}
	if (t->stop_after && t->scan_calls >= t->stop_after)
		return SC_SHRINK_STOP;
	if (t->scanned_factor)
		sc->nr_scanned = n * t->scanned_factor;
	if (t->consume) {
		if (n > t->freeable)
			n = t->freeable;
		t->freeable -= n;
	}
	return n;
}

static struct sc_shrinker *t_new(struct tshr *t, unsigned long freeable,
				 long batch, int seeks)
{
	struct sc_shrinker *s = sc_shrinker_alloc(0, "test-%lu", freeable);

	cr_assert_not_null(s);
	cr_assert_eq(s->seeks, SC_DEFAULT_SEEKS, "alloc sets default seeks");
	t->s = s;
	t->freeable = freeable;
	s->count_objects = t_count;
	s->scan_objects = t_scan;
	s->batch = batch;
	s->seeks = seeks;
	s->private_data = t;
	return s;
}

static void t_reset(struct tshr *t)
{
	t->count_calls = t->scan_calls = t->asked = t->max_ask = 0;
}

/* The documented amount for one pass without carried work. */
static unsigned long expected_ask(unsigned long freeable,
				  enum sc_pressure_level level, int seeks)
{
	int prio = level == SC_PRESSURE_LOW ? 9 : 6;

	if (level == SC_PRESSURE_CRITICAL || seeks == 0)
		return freeable;
	return (freeable >> prio) * 4 / (unsigned long)seeks;
}

struct amount_param {
	unsigned long freeable;
	enum sc_pressure_level level;
	int seeks;
	unsigned long want; /* worked out by hand from the formula */
};

ParameterizedTestParameters(shrinker, amount_per_level_and_seeks)
{
	static struct amount_param p[] = {
		{ 65536, SC_PRESSURE_LOW, 2, 256 },
		{ 65536, SC_PRESSURE_LOW, 1, 512 },
		{ 65536, SC_PRESSURE_LOW, 4, 128 },
		{ 65536, SC_PRESSURE_LOW, 8, 64 },
		{ 65536, SC_PRESSURE_MEDIUM, 2, 2048 },
		{ 65536, SC_PRESSURE_MEDIUM, 1, 4096 },
		{ 65536, SC_PRESSURE_MEDIUM, 8, 512 },
		{ 65536, SC_PRESSURE_CRITICAL, 2, 65536 },
		{ 65536, SC_PRESSURE_CRITICAL, 8, 65536 },
		{ 65536, SC_PRESSURE_LOW, 0, 65536 },
		{ 65536, SC_PRESSURE_MEDIUM, 0, 65536 },
		{ 100000, SC_PRESSURE_LOW, 2, 390 },
		{ 100000, SC_PRESSURE_MEDIUM, 3, 2082 },
		{ 511, SC_PRESSURE_LOW, 2, 0 },
		{ 999, SC_PRESSURE_CRITICAL, 2, 999 },
	};

	return cr_make_param_array(struct amount_param, p,
				   sizeof(p) / sizeof(p[0]));
}

/*
 * Batch 1, so that no remainder waits for a whole batch: the amount asked
 * in one pass is exactly the formula.
 */
ParameterizedTest(struct amount_param *p, shrinker, amount_per_level_and_seeks)
{
	struct tshr t = { 0 };
	struct sc_shrinker *s = t_new(&t, p->freeable, 1, p->seeks);

	cr_assert_eq(expected_ask(p->freeable, p->level, p->seeks), p->want);
	sc_shrinker_register(s);
	sc_shrink_memory(p->level);
	cr_assert_eq(t.count_calls, 1);
	cr_assert_eq(t.asked, p->want, "freeable %lu level %d seeks %d: %lu",
		     p->freeable, p->level, p->seeks, t.asked);
	cr_assert_eq(t.scan_calls, p->want);
	cr_assert_leq(t.max_ask, 1);
	sc_shrinker_free(s);
}

Test(shrinker, levels_ask_more_as_pressure_grows)
{
	unsigned long asked[4] = { 0 };

	for (int level = SC_PRESSURE_NONE; level <= SC_PRESSURE_CRITICAL;
	     level++) {
		struct tshr t = { 0 };
		struct sc_shrinker *s = t_new(&t, 1 << 20, 1, 2);

		sc_shrinker_register(s);
		sc_shrink_memory(level);
		asked[level] = t.asked;
		sc_shrinker_free(s);
	}
	cr_assert_eq(asked[SC_PRESSURE_NONE], 0);
	cr_assert_lt(asked[SC_PRESSURE_NONE], asked[SC_PRESSURE_LOW]);
	cr_assert_lt(asked[SC_PRESSURE_LOW], asked[SC_PRESSURE_MEDIUM]);
	cr_assert_lt(asked[SC_PRESSURE_MEDIUM], asked[SC_PRESSURE_CRITICAL]);
	cr_assert_eq(asked[SC_PRESSURE_CRITICAL], 1 << 20);
}

Test(shrinker, none_and_bad_level_do_nothing)
{
	struct tshr t = { 0 };
	struct sc_shrinker *s = t_new(&t, 1000, 0, 2);

	t.consume = true;
	sc_shrinker_register(s);
	cr_assert_eq(sc_shrink_memory(SC_PRESSURE_NONE), 0);
	cr_assert_eq(sc_shrink_memory((enum sc_pressure_level)4), 0);
	cr_assert_eq(sc_shrink_memory((enum sc_pressure_level) - 1), 0);
	cr_assert_eq(t.count_calls, 0);
	cr_assert_eq(t.scan_calls, 0);
	/* The same shrinker does answer a real level. */
	cr_assert_eq(sc_shrink_memory(SC_PRESSURE_CRITICAL), 1000);
	cr_assert_eq(t.freeable, 0);
	sc_shrinker_free(s);
}

Test(shrinker, return_value_sums_freed_over_shrinkers)
{
	struct tshr a = { 0 }, b = { 0 };
	struct sc_shrinker *sa = t_new(&a, 300, 0, 2);
	struct sc_shrinker *sb = t_new(&b, 700, 0, 2);

	a.consume = b.consume = true;
	sc_shrinker_register(sa);
	sc_shrinker_register(sb);
	cr_assert_eq(sc_shrink_memory(SC_PRESSURE_CRITICAL), 1000);
	cr_assert_eq(a.freeable + b.freeable, 0);
	/* Nothing left: count says 0, scan is not called. */
	t_reset(&a);
	t_reset(&b);
	cr_assert_eq(sc_shrink_memory(SC_PRESSURE_CRITICAL), 0);
	cr_assert_eq(a.count_calls + b.count_calls, 2);
	cr_assert_eq(a.scan_calls + b.scan_calls, 0);
	sc_shrinker_free(sa);
	sc_shrinker_free(sb);
}

Test(shrinker, batches_of_the_given_size)
{
	struct tshr t = { 0 };
	struct sc_shrinker *s = t_new(&t, 1000, 100, 2);

	sc_shrinker_register(s);
	sc_shrink_memory(SC_PRESSURE_CRITICAL);
	cr_assert_eq(t.scan_calls, 10);
	cr_assert_eq(t.asked, 1000);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(t.ask[i], 100);
	sc_shrinker_free(s);
}

Test(shrinker, batch_zero_means_128_and_critical_flushes_the_tail)
{
	struct tshr t = { 0 };
	struct sc_shrinker *s = t_new(&t, 1000, 0, 2);

	sc_shrinker_register(s);
	sc_shrink_memory(SC_PRESSURE_CRITICAL);
	/* 7 * 128 + 104 */
	cr_assert_eq(t.scan_calls, 8);
	cr_assert_eq(t.max_ask, 128);
	cr_assert_eq(t.ask[7], 104);
	cr_assert_eq(t.asked, 1000);
	sc_shrinker_free(s);
}

Test(shrinker, negative_batch_means_128)
{
	struct tshr t = { 0 };
	struct sc_shrinker *s = t_new(&t, 256, -5, 2);

	sc_shrinker_register(s);
	sc_shrink_memory(SC_PRESSURE_CRITICAL);
	cr_assert_eq(t.scan_calls, 2);
	cr_assert_eq(t.max_ask, 128);
	sc_shrinker_free(s);
}

Test(shrinker, medium_scans_whole_batches_and_defers_the_rest)
{
	struct tshr t = { 0 };
	struct sc_shrinker *s = t_new(&t, 100000, 0, 2);

	sc_shrinker_register(s);
	sc_shrink_memory(SC_PRESSURE_MEDIUM);
	/* (100000 >> 6) * 4 / 2 = 3124 = 24 * 128 + 52: the 52 wait. */
	cr_assert_eq(t.scan_calls, 24);
	cr_assert_eq(t.asked, 24 * 128);
	cr_assert_eq(t.max_ask, 128);
	sc_shrinker_free(s);
}

/*
 * Carried work: 1000 objects, batch 16, MEDIUM asks (1000 >> 6) * 2 = 30
 * each pass: one batch of 16 is scanned and 14 carried. The carried work
 * counts as nr_deferred >> 6, so from 64 carried on a pass asks 31, and
 * once 128 are carried (the 11th pass carries 140) it asks 32: two
 * batches. Without carrying, every pass would scan exactly 16.
 */
Test(shrinker, deferred_work_is_carried_between_passes)
{
	struct tshr t = { 0 };
	struct sc_shrinker *s = t_new(&t, 1000, 16, 2);

	sc_shrinker_register(s);
	for (int pass = 1; pass <= 10; pass++) {
		t_reset(&t);
		sc_shrink_memory(SC_PRESSURE_MEDIUM);
		cr_assert_eq(t.asked, 16, "pass %d asked %lu", pass, t.asked);
	}
	t_reset(&t);
	sc_shrink_memory(SC_PRESSURE_MEDIUM);
	cr_assert_eq(t.scan_calls, 2);
	cr_assert_eq(t.asked, 32);
	sc_shrinker_free(s);
}

/*
 * The carried work is capped at twice the freeable count: 100 stopped
 * passes at MEDIUM would carry 3000 but keep 2000, so the next pass asks
 * (2000 >> 6) + 30 = 61 (three batches of 16), not (3000 >> 6) + 30 = 76
 * (four).
 */
Test(shrinker, deferred_work_is_capped_at_twice_freeable)
{
	struct tshr t = { 0 };
	struct sc_shrinker *s = t_new(&t, 1000, 16, 2);

	sc_shrinker_register(s);
	t.stop_after = 1;
	for (int pass = 0; pass < 100; pass++)
		sc_shrink_memory(SC_PRESSURE_MEDIUM);
	cr_assert_eq(t.scan_calls, 100, "one stopped call per pass");
	t.stop_after = 0;
	t_reset(&t);
	sc_shrink_memory(SC_PRESSURE_MEDIUM);
	cr_assert_eq(t.scan_calls, 3);
	cr_assert_eq(t.asked, 48);
	sc_shrinker_free(s);
}

/*
 * The amount asked in one pass is capped at twice the freeable count
 * too, as do_shrink_slab() caps total_scan: a shrinker that carried work
 * while it had 100000 objects and has 10 left is asked for 20, not for
 * the (3124 >> 6) = 48 the carried work alone would ask. What is carried
 * past that pass is capped at 20 as well: (20 >> 6) asks nothing more.
 */
Test(shrinker, one_pass_is_capped_at_twice_freeable)
{
	struct tshr t = { 0 };
	struct sc_shrinker *s = t_new(&t, 100000, 1, 2);

	sc_shrinker_register(s);
	t.stop_after = 1;
	sc_shrink_memory(SC_PRESSURE_MEDIUM);
	cr_assert_eq(t.scan_calls, 1, "stopped at once: 3124 carried");
	t.stop_after = 0;
	t.freeable = 10;
	t_reset(&t);
	sc_shrink_memory(SC_PRESSURE_MEDIUM);
	cr_assert_eq(t.asked, 20, "asked %lu, not twice freeable", t.asked);
	cr_assert_eq(t.scan_calls, 20, "batches of 1");
	t_reset(&t);
	sc_shrink_memory(SC_PRESSURE_MEDIUM);
	cr_assert_eq(t.count_calls, 1);
	cr_assert_eq(t.asked, 0, "the carried work was capped at 20");
	sc_shrinker_free(s);
}

Test(shrinker, shrink_stop_ends_only_that_shrinker)
{
	struct tshr a = { 0 }, b = { 0 };
	struct sc_shrinker *sa = t_new(&a, 1000, 100, 2);
	struct sc_shrinker *sb = t_new(&b, 1000, 100, 2);

	a.stop_after = 3;
	sc_shrinker_register(sa);
	sc_shrinker_register(sb);
	cr_assert_eq(sc_shrink_memory(SC_PRESSURE_CRITICAL), 200 + 1000);
	cr_assert_eq(a.scan_calls, 3);
	cr_assert_eq(b.scan_calls, 10);
	/* The next pass asks the stopped one again. */
	t_reset(&a);
	a.stop_after = 0;
	sc_shrink_memory(SC_PRESSURE_CRITICAL);
	cr_assert_eq(a.scan_calls, 10);
	sc_shrinker_free(sa);
	sc_shrinker_free(sb);
}

Test(shrinker, shrink_empty_and_zero_skip_the_scan)
{
	struct tshr a = { 0 }, b = { 0 };
	struct sc_shrinker *sa = t_new(&a, SC_SHRINK_EMPTY, 0, 2);
	struct sc_shrinker *sb = t_new(&b, 0, 0, 0);

	sc_shrinker_register(sa);
	sc_shrinker_register(sb);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(sc_shrink_memory(SC_PRESSURE_CRITICAL), 0);
	cr_assert_eq(a.count_calls, 3);
	cr_assert_eq(b.count_calls, 3);
	cr_assert_eq(a.scan_calls + b.scan_calls, 0);
	/* Nothing was carried: a real count now gets the plain amount. */
	a.freeable = 65536;
	a.s->batch = 1;
	sc_shrink_memory(SC_PRESSURE_MEDIUM);
	cr_assert_eq(a.asked, 2048);
	sc_shrinker_free(sa);
	sc_shrinker_free(sb);
}

Test(shrinker, nr_scanned_is_honoured)
{
	struct tshr t = { 0 };
	struct sc_shrinker *s = t_new(&t, 1000, 100, 2);

	t.scanned_factor = 2; /* each call reports 200 scanned */
	sc_shrinker_register(s);
	sc_shrink_memory(SC_PRESSURE_CRITICAL);
	cr_assert_eq(t.scan_calls, 5);
	cr_assert_eq(t.asked, 500);
	sc_shrinker_free(s);
}

static unsigned long scan_reports_nothing(struct sc_shrinker *s,
					  struct sc_shrink_control *sc)
{
	struct tshr *t = s->private_data;

	t->scan_calls++;
	sc->nr_scanned = 0;
	return 0;
}

Test(shrinker, zero_scanned_ends_the_shrinker_pass)
{
	struct tshr t = { 0 };
	struct sc_shrinker *s = t_new(&t, 1000, 100, 2);

	s->scan_objects = scan_reports_nothing;
	sc_shrinker_register(s);
	sc_shrink_memory(SC_PRESSURE_CRITICAL);
	cr_assert_eq(t.scan_calls, 1);
	sc_shrinker_free(s);
}

Test(shrinker, free_self_from_scan)
{
	struct tshr t = { 0 }, other = { 0 };
	struct sc_shrinker *s = t_new(&t, 1000, 100, 2);
	struct sc_shrinker *o = t_new(&other, 1000, 100, 2);

	sc_shrinker_register(s);
	sc_shrinker_register(o);
	t.free_in_scan = s;
	sc_shrink_memory(SC_PRESSURE_CRITICAL);
	/* No call after the free; the walk went on to the next one. */
	cr_assert_eq(t.scan_calls, 1);
	cr_assert_null(t.s);
	cr_assert_eq(other.scan_calls, 10);
	t_reset(&t);
	sc_shrink_memory(SC_PRESSURE_CRITICAL);
	cr_assert_eq(t.count_calls, 0);
	cr_assert_eq(other.count_calls, 2);
	sc_shrinker_free(o);
}

Test(shrinker, free_self_from_count)
{
	struct tshr t = { 0 };
	struct sc_shrinker *s = t_new(&t, 1000, 100, 2);

	sc_shrinker_register(s);
	t.free_self_in_count = true;
	cr_assert_eq(sc_shrink_memory(SC_PRESSURE_CRITICAL), 0);
	cr_assert_eq(t.count_calls, 1);
	cr_assert_eq(t.scan_calls, 0);
	t.free_self_in_count = false;
	sc_shrink_memory(SC_PRESSURE_CRITICAL);
	cr_assert_eq(t.count_calls, 1);
}

Test(shrinker, free_other_from_scan)
{
	struct tshr a = { 0 }, b = { 0 }, c = { 0 };
	struct sc_shrinker *sa = t_new(&a, 1000, 100, 2);
	struct sc_shrinker *sb = t_new(&b, 1000, 100, 2);
	struct sc_shrinker *sc = t_new(&c, 1000, 100, 2);

	sc_shrinker_register(sa);
	sc_shrinker_register(sb);
	sc_shrinker_register(sc);
	/* b is the next in the walk; a frees it: b is skipped, c is asked. */
	a.free_in_scan = sb;
	sc_shrink_memory(SC_PRESSURE_CRITICAL);
	cr_assert_eq(a.scan_calls, 10);
	cr_assert_eq(b.count_calls, 0);
	cr_assert_eq(c.scan_calls, 10);
	/* c frees a, which was asked already this pass. */
	c.free_in_scan = sa;
	t_reset(&a);
	t_reset(&c);
	sc_shrink_memory(SC_PRESSURE_CRITICAL);
	cr_assert_eq(a.count_calls, 1);
	t_reset(&a);
	sc_shrink_memory(SC_PRESSURE_CRITICAL);
	cr_assert_eq(a.count_calls, 0);
	cr_assert_eq(c.count_calls, 2);
	sc_shrinker_free(sc);
}

static unsigned long nested_scan(struct sc_shrinker *s,
				 struct sc_shrink_control *sc)
{
	struct tshr *t = s->private_data;

	t->scan_calls++;
	/* A callback may start another pass; it must not deadlock. */
	if (t->scan_calls == 1)
		t->asked = sc_shrink_memory(SC_PRESSURE_LOW);
	return sc->nr_to_scan;
}

Test(shrinker, callback_may_start_a_pass)
{
	struct tshr t = { 0 };
	struct sc_shrinker *s = t_new(&t, 1000, 100, 2);

	s->scan_objects = nested_scan;
	sc_shrinker_register(s);
	sc_shrink_memory(SC_PRESSURE_CRITICAL);
	/* The outer pass: 10 calls; the nested LOW one asks nothing. */
	cr_assert_eq(t.scan_calls, 10);
	cr_assert_eq(t.count_calls, 2);
	sc_shrinker_free(s);
}

Test(shrinker, bad_arguments)
{
	struct sc_shrinker *s;
	struct tshr t = { 0 };

	errno = 0;
	cr_assert_null(sc_shrinker_alloc(1, "x"));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(sc_shrinker_alloc(0x80000000u, "x"));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(sc_shrinker_alloc(0, NULL));
	cr_assert_eq(errno, EINVAL);

	/* Ignored: NULL, no callbacks, registering twice. */
	sc_shrinker_register(NULL);
	sc_shrinker_free(NULL);
	s = sc_shrinker_alloc(0, "no-callbacks");
	cr_assert_not_null(s);
	sc_shrinker_register(s);
	cr_assert_eq(sc_shrink_memory(SC_PRESSURE_CRITICAL), 0);
	sc_shrinker_free(s);

	s = t_new(&t, 100, 0, 2);
	sc_shrinker_register(s);
	sc_shrinker_register(s);
	sc_shrink_memory(SC_PRESSURE_CRITICAL);
	cr_assert_eq(t.count_calls, 1, "registered once");
	sc_shrinker_free(s);

	/* A name the C library cannot format: an é in the C locale. */
	errno = 0;
	cr_assert_null(sc_shrinker_alloc(0, "%ls", L"caf\u00e9"));
	cr_assert_eq(errno, EINVAL);

	/* Freeing one that was never registered is fine. */
	s = sc_shrinker_alloc(0, "never-registered-%d", 1);
	cr_assert_not_null(s);
	sc_shrinker_free(s);
}

Test(shrinker, negative_seeks_mean_default)
{
	struct tshr t = { 0 };
	struct sc_shrinker *s = t_new(&t, 65536, 1, -3);

	sc_shrinker_register(s);
	sc_shrink_memory(SC_PRESSURE_MEDIUM);
	cr_assert_eq(t.asked, 2048);
	sc_shrinker_free(s);
}

Test(shrinker, alloc_failure)
{
	struct sc_shrinker *s;
	struct tshr t = { 0 };

	sc_fault_inject(1);
	errno = 0;
	cr_assert_null(sc_shrinker_alloc(0, "fails"));
	cr_assert_eq(errno, ENOMEM);
	/* Nothing was registered or leaked; the next one works. */
	cr_assert_eq(sc_shrink_memory(SC_PRESSURE_CRITICAL), 0);
	s = t_new(&t, 10, 0, 2);
	sc_shrinker_register(s);
	cr_assert_eq(sc_shrink_memory(SC_PRESSURE_CRITICAL), 10);
	sc_shrinker_free(s);
}

Test(shrinker, long_name)
{
	char big[5000];
	struct sc_shrinker *s;

	memset(big, 'n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	s = sc_shrinker_alloc(0, "%s-%d", big, 7);
	cr_assert_not_null(s);
	sc_shrinker_free(s);
}

/*
 * Memory really goes back: a shrinker holds objects of an sc_slab and
 * frees the oldest when asked. After a MEDIUM pass the emptied slabs are
 * gone (not kept as empty slabs) and the process's RSS fell.
 */
struct slab_holder {
	struct sc_slab *slab;
	void **objs;
	size_t n, head; /* objs[head..n) are live */
};

static unsigned long holder_count(struct sc_shrinker *s,
				  struct sc_shrink_control *sc)
{
	struct slab_holder *h = s->private_data;

	return h->n - h->head;
}

static unsigned long holder_scan(struct sc_shrinker *s,
				 struct sc_shrink_control *sc)
{
	struct slab_holder *h = s->private_data;
	unsigned long freed = 0;

	while (freed < sc->nr_to_scan && h->head < h->n) {
		sc_slab_free(h->slab, h->objs[h->head++]);
		freed++;
	}
	return freed;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

Test(shrinker, medium_gives_slab_memory_back, .timeout = 30)
{
	const size_t obj_size = 4096, n = 16384; /* 64 MiB */
	struct slab_holder h = { 0 };
	struct sc_slab_info before, after;
	struct sc_shrinker *s;
	long rss0, rss1;

	h.slab = sc_slab_create("shrinker-test", obj_size, 0, 0);
	cr_assert_not_null(h.slab);
	h.objs = calloc(n, sizeof(void *));
	cr_assert_not_null(h.objs);
	for (h.n = 0; h.n < n; h.n++) {
		h.objs[h.n] = sc_slab_alloc(h.slab);
		cr_assert_not_null(h.objs[h.n]);
		memset(h.objs[h.n], 0x5a, obj_size); /* make it resident */
	}
	s = sc_shrinker_alloc(0, "slab-holder");
	cr_assert_not_null(s);
	s->count_objects = holder_count;
	s->scan_objects = holder_scan;
	s->seeks = 0; /* cheap objects: give all of them */
	s->private_data = &h;
	sc_shrinker_register(s);

	cr_assert_eq(sc_slab_info(h.slab, &before), 0);
	rss0 = rss_kib();
	cr_assert_eq(sc_shrink_memory(SC_PRESSURE_MEDIUM), n);
	rss1 = rss_kib();
	cr_assert_eq(sc_slab_info(h.slab, &after), 0);

	cr_assert_eq(after.active_objects, 0);
	cr_assert_eq(after.empty_slabs, 0, "empty slabs were given back");
	cr_assert_eq(after.slabs, 0);
	cr_assert_gt(before.slabs, 0);
	cr_log_info("RSS %ld kB -> %ld kB", rss0, rss1);
	/* 64 MiB of objects: at least half of it must leave the RSS. */
	cr_assert_lt(rss1, rss0 - 32 * 1024, "RSS %ld kB -> %ld kB", rss0,
		     rss1);
	sc_shrinker_free(s);
	sc_slab_destroy(h.slab);
	free(h.objs);
}

/*
 * A MEDIUM pass at a real (non-zero) seeks frees only a share, oldest
 * first: the slabs it emptied are returned, the rest stay.
 */
Test(shrinker, medium_share_returns_emptied_slabs, .timeout = 30)
{
	const size_t obj_size = 256, n = 65536;
	struct slab_holder h = { 0 };
	struct sc_slab_info before, after;
	struct sc_shrinker *s;
	unsigned long freed;

	h.slab = sc_slab_create("shrinker-share", obj_size, 0, 0);
	cr_assert_not_null(h.slab);
	h.objs = calloc(n, sizeof(void *));
	cr_assert_not_null(h.objs);
	for (h.n = 0; h.n < n; h.n++) {
		h.objs[h.n] = sc_slab_alloc(h.slab);
		cr_assert_not_null(h.objs[h.n]);
	}
	s = sc_shrinker_alloc(0, "slab-share");
	cr_assert_not_null(s);
	s->count_objects = holder_count;
	s->scan_objects = holder_scan;
	s->private_data = &h;
	sc_shrinker_register(s);

	cr_assert_eq(sc_slab_info(h.slab, &before), 0);
	freed = sc_shrink_memory(SC_PRESSURE_MEDIUM);
	cr_assert_eq(sc_slab_info(h.slab, &after), 0);
	cr_assert_eq(freed, 2048, "(65536 >> 6) * 4 / 2");
	cr_assert_eq(after.active_objects, n - freed);
	cr_assert_eq(after.empty_slabs, 0);
	cr_assert_lt(after.slabs, before.slabs);
	cr_assert_geq(after.slabs * after.objects_per_slab, n - freed);
	sc_shrinker_free(s);
	while (h.head < h.n)
		sc_slab_free(h.slab, h.objs[h.head++]);
	sc_slab_destroy(h.slab);
	free(h.objs);
}
