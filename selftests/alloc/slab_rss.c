// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Memory really goes back: allocate and free 64 MiB of objects, shrink,
 * and check the process's resident set fell by most of it, on each
 * backend (SC_ALLOC_BACKEND selects libc in a build with jemalloc).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config.h"
#include <slabcache/slab.h>

#define RSS_BYTES ((size_t)64 << 20)
#define RSS_OBJ 256

static size_t rss_bytes(void)
{
	unsigned long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");

	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%lu %lu", &size, &resident), 2);
	fclose(f);
	return resident * (size_t)sysconf(_SC_PAGESIZE);
}

static void rss_drop_after_shrink(const char *backend)
{
	size_t n = RSS_BYTES / RSS_OBJ, i, peak, after;
	struct sc_slab_info info;
	struct sc_slab *s;
	void **objs;

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
	sc_slab_shrink(s);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.slabs, 0);
	cr_assert_eq(info.active_objects, 0);
	after = rss_bytes();
	cr_log_info("%s backend: RSS %zu KiB at peak, %zu KiB after shrink",
		    backend, peak >> 10, after >> 10);
	cr_assert_lt(after + RSS_BYTES * 3 / 4, peak,
		     "RSS %zu KiB at peak, %zu KiB after shrink", peak >> 10,
		     after >> 10);
	free(objs);
	sc_slab_destroy(s);
}

Test(alloc_rss, drops_after_shrink_libc)
{
	setenv("SC_ALLOC_BACKEND", "libc", 1);
	rss_drop_after_shrink("libc");
}

Test(alloc_rss, drops_after_shrink_default_backend)
{
	unsetenv("SC_ALLOC_BACKEND");
#ifdef CONFIG_JEMALLOC
	rss_drop_after_shrink("jemalloc");
#else
	rss_drop_after_shrink("libc");
#endif
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
