// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Memory really goes back: allocate and free 64 MiB of objects, shrink
 * or not, and check the process's resident set fell by most of it, on
 * each backend (SC_ALLOC_BACKEND selects libc in a build with jemalloc).
 * Without a shrink and with no decay time, slabs that empty beyond the
 * two kept per shard go back as they empty; with one, they go once it
 * has passed (selftests/alloc/slab_decay.c): a daemon's RSS must follow
 * its evictions.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config.h"
#include "alloc/alloc.h"
#include <slabcache/slab.h>

#include "statm.h"

#define RSS_BYTES ((size_t)64 << 20)
#define RSS_OBJ 256

static void rss_drop_after_free(const char *backend, bool shrink)
{
	size_t n = RSS_BYTES / RSS_OBJ, i, peak, after;
	struct sc_slab_info info;
	struct sc_slab *s;
	void **objs;

	if (!shrink)
		sc_alloc_set_decay_ms(0);
	s = sc_slab_create("rss", RSS_OBJ, 0, 0);
	cr_assert_not_null(s);
	cr_assert_str_eq(sc_alloc_backend(), backend);
	objs = malloc(n * sizeof(*objs));
	cr_assert_not_null(objs);
	memset(objs, 0, n * sizeof(*objs));
	for (i = 0; i < n; i++) {
		objs[i] = sc_slab_alloc(s);
		cr_assert_not_null(objs[i]);
		memset(objs[i], 0x33, RSS_OBJ); /* make it resident */
	}
	peak = rss_bytes();
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_geq(info.slabs * info.slab_size, RSS_BYTES);

	for (i = 0; i < n; i++)
		sc_slab_free(s, objs[i]);
	if (shrink)
		sc_slab_shrink(s);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.slabs, shrink ? 0 : info.empty_slabs);
	cr_assert_leq(info.empty_slabs, 2);
	cr_assert_eq(info.active_objects, 0);
	after = rss_bytes();
	cr_log_info("%s backend: RSS %zu KiB at peak, %zu KiB after %s",
		    backend, peak >> 10, after >> 10,
		    shrink ? "shrink" : "free");
	cr_assert_lt(after + RSS_BYTES * 3 / 4, peak,
		     "RSS %zu KiB at peak, %zu KiB after %s", peak >> 10,
		     after >> 10, shrink ? "shrink" : "free");
	free(objs);
	sc_slab_destroy(s);
}

static const char *default_backend(void)
{
	unsetenv("SC_ALLOC_BACKEND");
#ifdef CONFIG_JEMALLOC
	return "jemalloc";
#else
	return "libc";
#endif
}

Test(alloc_rss, drops_after_shrink_libc)
{
	setenv("SC_ALLOC_BACKEND", "libc", 1);
	rss_drop_after_free("libc", true);
}

Test(alloc_rss, drops_after_shrink_default_backend)
{
	rss_drop_after_free(default_backend(), true);
}

Test(alloc_rss, drops_after_free_libc)
{
	setenv("SC_ALLOC_BACKEND", "libc", 1);
	rss_drop_after_free("libc", false);
}

Test(alloc_rss, drops_after_free_default_backend)
{
	rss_drop_after_free(default_backend(), false);
}

/* Kept empty slabs too go back on shrink: free all but one per slab. */
Test(alloc_rss, shrink_returns_kept_empty_slabs)
{
	struct sc_slab *s = sc_slab_create("kept", 1024, 0, 0);
	struct sc_slab_info info;
	void *objs[256];

	cr_assert_not_null(s);
	for (int i = 0; i < 256; i++)
		cr_assert_not_null(objs[i] = sc_slab_alloc(s));
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_gt(info.slabs, 2);
	for (int i = 0; i < 256; i++)
		sc_slab_free(s, objs[i]);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_gt(info.empty_slabs, 0);
	cr_assert_eq(info.slabs, info.empty_slabs);
	cr_assert_eq(sc_slab_shrink(NULL), info.slabs * info.slab_size);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.slabs, 0);
	sc_slab_destroy(s);
}

/*
 * Inside a pressure pass (sc_alloc_defer_release()), slabs that empty are
 * all kept, to go back in one run when the pass ends, even with no decay
 * time.
 */
Test(alloc_rss, deferred_release_keeps_empties_until_reclaim)
{
	unsigned int decay = sc_alloc_set_decay_ms(0);
	struct sc_slab *s = sc_slab_create("deferred", 1024, 0, 0);
	struct sc_slab_info info;
	size_t slabs, bytes;
	void *objs[512];

	cr_assert_not_null(s);
	for (int i = 0; i < 512; i++)
		cr_assert_not_null(objs[i] = sc_slab_alloc(s));
	cr_assert_eq(sc_slab_info(s, &info), 0);
	slabs = info.slabs;
	cr_assert_gt(slabs, 4);
	sc_alloc_defer_release();
	for (int i = 0; i < 512; i++)
		sc_slab_free(s, objs[i]);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.empty_slabs, slabs, "all %zu kept", slabs);
	bytes = sc_alloc_reclaim_deferred();
	cr_assert_geq(bytes, slabs * info.slab_size);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.slabs, 0);

	/* the window is closed: past the two kept, empties go at once */
	for (int i = 0; i < 512; i++)
		cr_assert_not_null(objs[i] = sc_slab_alloc(s));
	for (int i = 0; i < 512; i++)
		sc_slab_free(s, objs[i]);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.empty_slabs, 2);
	cr_assert_eq(info.slabs, 2);
	sc_slab_destroy(s);
	sc_alloc_set_decay_ms(decay);
}
