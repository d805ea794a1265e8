// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sc_slab_* API: invalid arguments, geometry, counters, and alignment and
 * distinctness of objects over a matrix of sizes x alignments x flags.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "config.h"
#include "alloc/alloc.h"
#include <slabcache/slab.h>

#define ALL_FLAGS (SC_SLAB_HWCACHE_ALIGN | SC_SLAB_POISON | SC_SLAB_RED_ZONE)

Test(alloc_api, create_refuses_null_name)
{
	errno = 0;
	cr_assert_null(sc_slab_create(NULL, 16, 0, 0));
	cr_assert_eq(errno, EINVAL);
}

Test(alloc_api, create_refuses_empty_name)
{
	errno = 0;
	cr_assert_null(sc_slab_create("", 16, 0, 0));
	cr_assert_eq(errno, EINVAL);
}

Test(alloc_api, create_refuses_size_zero)
{
	errno = 0;
	cr_assert_null(sc_slab_create("t", 0, 0, 0));
	cr_assert_eq(errno, EINVAL);
}

Test(alloc_api, create_refuses_align_not_pow2)
{
	static const size_t bad[] = { 3, 6, 12, 24, 100, 4097 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		cr_assert_null(sc_slab_create("t", 16, bad[i], 0),
			       "align %zu accepted", bad[i]);
		cr_assert_eq(errno, EINVAL);
	}
}

Test(alloc_api, create_refuses_unknown_flags)
{
	errno = 0;
	cr_assert_null(sc_slab_create("t", 16, 0, 0x8u));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(sc_slab_create("t", 16, 0, ALL_FLAGS | 0x80000000u));
	cr_assert_eq(errno, EINVAL);
}

Test(alloc_api, create_refuses_huge_objects)
{
	errno = 0;
	cr_assert_null(sc_slab_create("t", ((size_t)16 << 20) + 1, 0, 0));
	cr_assert_eq(errno, E2BIG);
	errno = 0;
	cr_assert_null(sc_slab_create("t", SIZE_MAX, 0, 0));
	cr_assert_eq(errno, E2BIG);
	errno = 0;
	cr_assert_null(sc_slab_create("t", 8, (size_t)1 << 40, 0));
	cr_assert_eq(errno, E2BIG);
}

Test(alloc_api, create_accepts_largest_object)
{
	struct sc_slab *s = sc_slab_create("big", (size_t)16 << 20, 0, 0);
	struct sc_slab_info info;
	char *p;

	cr_assert_not_null(s);
	p = sc_slab_alloc(s);
	cr_assert_not_null(p);
	p[0] = 1;
	p[((size_t)16 << 20) - 1] = 2;
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_geq(info.objects_per_slab, 2);
	cr_assert_geq(info.slab_size, info.objects_per_slab * info.slot_size);
	sc_slab_free(s, p);
	sc_slab_destroy(s);
}

/*
 * Documentation/slab.rst: the largest slab there is (256 MiB): 32 MiB
 * slots (16 MiB objects and their red zone, aligned to 16 MiB) after a
 * 16 MiB aligned header, 7 of them to fill 7/8 of the slab.
 */
Test(alloc_api, largest_slab_is_red_zoned_largest_alignment)
{
	size_t big = (size_t)16 << 20;
	struct sc_slab *s = sc_slab_create("big", big, big, SC_SLAB_RED_ZONE);
	struct sc_slab_info info;

	cr_assert_not_null(s);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.slot_size, 2 * big);
	cr_assert_eq(info.slab_size, (size_t)256 << 20);
	cr_assert_eq(info.objects_per_slab, 7);
	sc_slab_destroy(s);
}

/*
 * Slab geometry (Documentation/slab.rst, "Geometry"): at least 4 objects
 * per slab (2 for slots over 1 MiB), a power of two of 64 KiB or more,
 * and the bytes that hold no object and no object's index (header,
 * colour, padding, the tail) at most 1/8 of the slab. Over a sweep of
 * sizes (around every power of two, and pseudo-random ones) by
 * alignments by debug flags.
 */
static void geometry_check(size_t size, size_t align, unsigned int flags)
{
	size_t per_obj = flags ? 3 : 2, min_objs, unused;
	struct sc_slab *s = sc_slab_create("geom", size, align, flags);
	struct sc_slab_info info;

	cr_assert_not_null(s, "size %zu align %zu", size, align);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	min_objs = info.slot_size > ((size_t)1 << 20) ? 2 : 4;
	cr_assert_geq(info.objects_per_slab, min_objs, "size %zu align %zu",
		      size, align);
	cr_assert_eq(info.slab_size & (info.slab_size - 1), 0);
	cr_assert_geq(info.slab_size, 64 << 10);
	cr_assert_leq(info.objects_per_slab * (info.slot_size + per_obj),
		      info.slab_size);
	unused = info.slab_size -
		 info.objects_per_slab * (info.slot_size + per_obj);
	cr_assert_leq(unused, info.slab_size / 8,
		      "size %zu align %zu flags %#x: %zu of %zu unused "
		      "(%zu objects)",
		      size, align, flags, unused, info.slab_size,
		      info.objects_per_slab);
	sc_slab_destroy(s);
}

Test(alloc_api, geometry_fills_seven_eighths, .timeout = 120)
{
	static const size_t aligns[] = { 0,	  1,	   2,
					 16,	  64,	   4096,
					 1 << 16, 1 << 20, (size_t)16 << 20 };
	static const unsigned int flags[] = { 0, SC_SLAB_RED_ZONE };
	static const long deltas[] = { -64, -16, -8, -1, 0, 1, 8, 64 };
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (size_t a = 0; a < sizeof(aligns) / sizeof(aligns[0]); a++)
		for (size_t f = 0; f < 2; f++) {
			for (size_t p = 1; p <= (size_t)16 << 20; p <<= 1)
				for (size_t d = 0; d < 8; d++) {
					long sz = (long)p + deltas[d];

					if (sz >= 1 && sz <= 16l << 20)
						geometry_check((size_t)sz,
							       aligns[a],
							       flags[f]);
				}
			for (int i = 0; i < 200; i++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				/* log-uniform from 1 B to 16 MiB */
				geometry_check(((x >> 8) &
						((1ull << (x % 25)) - 1)) +
						       1,
					       aligns[a], flags[f]);
			}
		}
}

/*
 * The sizes that used to leave half of every slab (or a quarter) empty:
 * the colour lines were taken out after the slab size was chosen, and no
 * slab was doubled at or above 1 MiB. Each gets its full count now, and
 * a slab's objects are all usable.
 */
Test(alloc_api, geometry_of_sizes_just_under_a_power_of_two)
{
	static const struct {
		size_t size, objs, slab;
	} want[] = {
		{ 262128, 4, (size_t)1 << 20 },
		{ 1048512, 4, (size_t)4 << 20 },
		{ 2097088, 2, (size_t)4 << 20 },
		{ 4194240, 2, (size_t)8 << 20 },
		{ 16777152, 2, (size_t)32 << 20 },
	};

	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		struct sc_slab *s = sc_slab_create("under", want[k].size, 0, 0);
		struct sc_slab_info info;
		unsigned char *objs[4];

		cr_assert_not_null(s);
		cr_assert_eq(sc_slab_info(s, &info), 0);
		cr_assert_eq(info.objects_per_slab, want[k].objs, "size %zu",
			     want[k].size);
		cr_assert_eq(info.slab_size, want[k].slab, "size %zu",
			     want[k].size);
		for (size_t i = 0; i < want[k].objs; i++) {
			objs[i] = sc_slab_alloc(s);
			cr_assert_not_null(objs[i]);
			memset(objs[i], (int)i + 1, want[k].size);
		}
		for (size_t i = 0; i < want[k].objs; i++) {
			cr_assert_eq(objs[i][0], i + 1);
			cr_assert_eq(objs[i][want[k].size - 1], i + 1);
		}
		cr_assert_eq(sc_slab_info(s, &info), 0);
		cr_assert_eq(info.slabs, 1, "one slab holds them all");
		for (size_t i = 0; i < want[k].objs; i++)
			sc_slab_free(s, objs[i]);
		sc_slab_destroy(s);
	}
}

Test(alloc_api, alloc_null_slab)
{
	errno = 0;
	cr_assert_null(sc_slab_alloc(NULL));
	cr_assert_eq(errno, EINVAL);
}

Test(alloc_api, info_null_arguments)
{
	struct sc_slab *s = sc_slab_create("t", 16, 0, 0);
	struct sc_slab_info info;

	cr_assert_not_null(s);
	errno = 0;
	cr_assert_eq(sc_slab_info(NULL, &info), -EINVAL);
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_eq(sc_slab_info(s, NULL), -EINVAL);
	cr_assert_eq(errno, EINVAL);
	sc_slab_destroy(s);
}

Test(alloc_api, free_null_and_destroy_null_are_noops)
{
	struct sc_slab *s = sc_slab_create("t", 16, 0, 0);
	struct sc_slab_info info;

	cr_assert_not_null(s);
	sc_slab_free(s, NULL);
	sc_slab_free(NULL, NULL);
	sc_slab_destroy(NULL);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.frees, 0);
	cr_assert_eq(info.active_objects, 0);
	sc_slab_destroy(s);
}

Test(alloc_api, name_is_copied)
{
	char name[] = "copied-name";
	struct sc_slab *s = sc_slab_create(name, 16, 0, 0);
	struct sc_slab_info info;

	cr_assert_not_null(s);
	memset(name, 'x', sizeof(name) - 1);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_str_eq(info.name, "copied-name");
	sc_slab_destroy(s);
}

Test(alloc_api, backend_name)
{
	const char *b = sc_alloc_backend();

	cr_assert(!strcmp(b, "jemalloc") || !strcmp(b, "libc"), "%s", b);
}

Test(alloc_api, backend_env_selects_libc)
{
	setenv("SC_ALLOC_BACKEND", "libc", 1);
	cr_assert_str_eq(sc_alloc_backend(), "libc");
}

#ifdef CONFIG_JEMALLOC
Test(alloc_api, backend_defaults_to_jemalloc)
{
	unsetenv("SC_ALLOC_BACKEND");
	cr_assert_str_eq(sc_alloc_backend(), "jemalloc");
}
#endif

Test(alloc_api, counters_follow_alloc_and_free)
{
	struct sc_slab *s = sc_slab_create("count", 40, 0, 0);
	struct sc_slab_info info;
	void *objs[3000];
	size_t i, n = sizeof(objs) / sizeof(objs[0]);

	cr_assert_not_null(s);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.object_size, 40);
	cr_assert_eq(info.slot_size, 40);
	cr_assert_eq(info.slabs, 0);
	cr_assert_eq(info.total_objects, 0);
	cr_assert_geq(info.slab_size, 64 * 1024);
	cr_assert_eq(info.slab_size & (info.slab_size - 1), 0);

	for (i = 0; i < n; i++)
		cr_assert_not_null(objs[i] = sc_slab_alloc(s));
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.active_objects, n);
	cr_assert_eq(info.allocs, n);
	cr_assert_eq(info.frees, 0);
	cr_assert_eq(info.slabs,
		     (n + info.objects_per_slab - 1) / info.objects_per_slab);
	cr_assert_eq(info.total_objects, info.slabs * info.objects_per_slab);
	cr_assert_eq(info.empty_slabs, 0);

	for (i = 0; i < n; i++)
		sc_slab_free(s, objs[i]);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(info.frees, n);
	cr_assert_eq(info.alloc_failures, 0);
	/* a few empty slabs are kept for reuse, the rest went back */
	cr_assert_eq(info.slabs, info.empty_slabs);
	cr_assert_gt(info.empty_slabs, 0);
	cr_assert_eq(sc_slab_shrink(s), info.empty_slabs * info.slab_size);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.slabs, 0);
	cr_assert_eq(info.empty_slabs, 0);
	cr_assert_eq(sc_slab_shrink(s), 0);
	sc_slab_destroy(s);
}

Test(alloc_api, empty_slab_is_reused)
{
	struct sc_slab *s = sc_slab_create("reuse", 64, 0, 0);
	struct sc_slab_info info;
	void *a, *b;

	cr_assert_not_null(s);
	a = sc_slab_alloc(s);
	sc_slab_free(s, a);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.slabs, 1);
	cr_assert_eq(info.empty_slabs, 1);
	b = sc_slab_alloc(s);
	cr_assert_eq(a, b, "the kept empty slab hands out the same object");
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.slabs, 1);
	cr_assert_eq(info.empty_slabs, 0);
	sc_slab_free(s, b);
	sc_slab_destroy(s);
}

Test(alloc_api, shrink_null_covers_every_cache)
{
	struct sc_slab *a = sc_slab_create("a", 32, 0, 0);
	struct sc_slab *b = sc_slab_create("b", 512, 0, 0);
	struct sc_slab_info ia, ib;

	cr_assert(a && b);
	sc_slab_free(a, sc_slab_alloc(a));
	sc_slab_free(b, sc_slab_alloc(b));
	cr_assert_eq(sc_slab_info(a, &ia), 0);
	cr_assert_eq(sc_slab_info(b, &ib), 0);
	cr_assert_eq(sc_slab_shrink(NULL), ia.slab_size + ib.slab_size);
	cr_assert_eq(sc_slab_info(a, &ia), 0);
	cr_assert_eq(sc_slab_info(b, &ib), 0);
	cr_assert_eq(ia.slabs + ib.slabs, 0);
	sc_slab_destroy(a);
	sc_slab_destroy(b);
}

Test(alloc_api, shrink_keeps_slabs_in_use)
{
	struct sc_slab *s = sc_slab_create("inuse", 64, 0, 0);
	struct sc_slab_info info;
	void *a;

	cr_assert_not_null(s);
	a = sc_slab_alloc(s);
	cr_assert_eq(sc_slab_shrink(s), 0);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.slabs, 1);
	memset(a, 0x5a, 64);
	sc_slab_free(s, a);
	sc_slab_destroy(s);
}

Test(alloc_api, hwcache_align_defaults_to_cache_line)
{
	struct sc_slab *s = sc_slab_create("hw", 24, 0, SC_SLAB_HWCACHE_ALIGN);
	struct sc_slab_info info;

	cr_assert_not_null(s);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.slot_size, 64);
	for (int i = 0; i < 100; i++)
		cr_assert_eq((uintptr_t)sc_slab_alloc(s) % 64, 0);
	sc_slab_destroy(s);
}

/* ---------------------------------------------------------- the matrix */

struct matrix_param {
	size_t size, align;
	unsigned int flags;
};

static const size_t matrix_sizes[] = { 1,   7,	  8,	24,   64,   100,
				       256, 1000, 4096, 5000, 65536 };
static const size_t matrix_aligns[] = { 0, 8, 16, 64, 4096 };
static const unsigned int matrix_flags[] = { 0, SC_SLAB_HWCACHE_ALIGN,
					     SC_SLAB_POISON, SC_SLAB_RED_ZONE,
					     SC_SLAB_POISON | SC_SLAB_RED_ZONE |
						     SC_SLAB_HWCACHE_ALIGN };

#define NSIZES (sizeof(matrix_sizes) / sizeof(matrix_sizes[0]))
#define NALIGNS (sizeof(matrix_aligns) / sizeof(matrix_aligns[0]))
#define NFLAGS (sizeof(matrix_flags) / sizeof(matrix_flags[0]))

static void matrix_cleanup(struct criterion_test_params *crp)
{
	cr_free(crp->params);
}

ParameterizedTestParameters(alloc_matrix, aligned_and_distinct)
{
	size_t n = NSIZES * NALIGNS * NFLAGS, k = 0;
	struct matrix_param *p = cr_malloc(n * sizeof(*p));

	for (size_t i = 0; i < NSIZES; i++)
		for (size_t j = 0; j < NALIGNS; j++)
			for (size_t f = 0; f < NFLAGS; f++)
				p[k++] = (struct matrix_param){
					matrix_sizes[i], matrix_aligns[j],
					matrix_flags[f]
				};
	return cr_make_param_array(struct matrix_param, p, n, matrix_cleanup);
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

ParameterizedTest(struct matrix_param *mp, alloc_matrix, aligned_and_distinct)
{
	size_t want_align = mp->align ? mp->align : sizeof(void *);
	struct sc_slab_info info;
	struct sc_slab *s;
	uintptr_t *objs;
	size_t n, i;

	if ((mp->flags & SC_SLAB_HWCACHE_ALIGN) && want_align < 64)
		want_align = 64;
	s = sc_slab_create("matrix", mp->size, mp->align, mp->flags);
	cr_assert_not_null(s, "size %zu align %zu flags %#x", mp->size,
			   mp->align, mp->flags);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_geq(info.slot_size, mp->size);
	cr_assert_eq(info.slot_size % want_align, 0);
	cr_assert_geq(info.objects_per_slab, 2);

	/* two full slabs and one more object: crosses slab boundaries */
	n = 2 * info.objects_per_slab + 1;
	if (n > 2500)
		n = 2500;
	objs = malloc(n * sizeof(*objs));
	cr_assert_not_null(objs);
	for (i = 0; i < n; i++) {
		char *p = sc_slab_alloc(s);

		cr_assert_not_null(p);
		cr_assert_eq((uintptr_t)p % want_align, 0,
			     "object %p not aligned to %zu", (void *)p,
			     want_align);
		if (mp->flags & SC_SLAB_POISON)
			for (size_t b = 0; b < mp->size; b++)
				cr_assert_eq((unsigned char)p[b], 0x6b);
		memset(p, (int)(i & 0xff), mp->size);
		objs[i] = (uintptr_t)p;
	}
	/* every object is still intact: no two overlap */
	for (i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)objs[i];

		cr_assert_eq(p[0], i & 0xff);
		cr_assert_eq(p[mp->size - 1], i & 0xff);
	}
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.active_objects, n);

	for (i = 0; i < n; i++)
		sc_slab_free(s, (void *)objs[i]);
	qsort(objs, n, sizeof(*objs), cmp_ptr);
	for (i = 1; i < n; i++)
		cr_assert_geq(objs[i] - objs[i - 1], mp->size,
			      "objects overlap");
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(info.allocs, n);
	cr_assert_eq(info.frees, n);
	free(objs);
	sc_slab_destroy(s);
}

#ifdef CONFIG_SC_ASAN
#include <sanitizer/asan_interface.h>

/* Under ASan, free objects of caches without debug flags are poisoned. */
Test(alloc_api, asan_poisons_free_objects)
{
	struct sc_slab *s = sc_slab_create("asan", 64, 0, 0);
	char *a, *b;

	cr_assert_not_null(s);
	a = sc_slab_alloc(s);
	b = sc_slab_alloc(s);
	cr_assert_not(__asan_region_is_poisoned(a, 64));
	cr_assert(__asan_address_is_poisoned(b + 64), "next free object");
	sc_slab_free(s, a);
	cr_assert(__asan_address_is_poisoned(a));
	cr_assert(__asan_address_is_poisoned(a + 63));
	sc_slab_free(s, b);
	sc_slab_destroy(s);
}
#endif

/* ---------------------------------------------------------- magazines */

/* Many live caches used in turn: each keeps its own objects apart. */
Test(alloc_api, many_caches_used_in_turn)
{
	enum { NCACHES = 40, NOBJS = 100 };
	struct sc_slab *caches[NCACHES];
	void *objs[NCACHES][NOBJS];
	struct sc_slab_info info;

	for (int c = 0; c < NCACHES; c++) {
		char name[16];

		snprintf(name, sizeof(name), "many-%d", c);
		caches[c] = sc_slab_create(name, 32 + (size_t)c * 8, 0, 0);
		cr_assert_not_null(caches[c]);
	}
	for (int i = 0; i < NOBJS; i++)
		for (int c = 0; c < NCACHES; c++) {
			objs[c][i] = sc_slab_alloc(caches[c]);
			cr_assert_not_null(objs[c][i]);
			memset(objs[c][i], c, 32 + (size_t)c * 8);
		}
	for (int i = 0; i < NOBJS; i++)
		for (int c = 0; c < NCACHES; c++) {
			unsigned char *p = objs[c][i];

			cr_assert_eq(p[0], c);
			cr_assert_eq(p[31 + c * 8], c);
			sc_slab_free(caches[c], objs[c][i]);
		}
	for (int c = 0; c < NCACHES; c++) {
		cr_assert_eq(sc_slab_info(caches[c], &info), 0);
		cr_assert_eq(info.active_objects, 0, "cache %d", c);
		cr_assert_eq(info.allocs, NOBJS);
		cr_assert_eq(info.frees, NOBJS);
		cr_assert_eq(info.slabs, info.empty_slabs);
		sc_slab_destroy(caches[c]);
	}
}

/*
 * Without auxiliary memory (magazines and their tables) every operation
 * goes to the slabs: nothing fails for it, fault injection counts the
 * same attempts, counters stay exact, and the checks a magazine makes
 * (a foreign pointer, a double free of the last object freed) still
 * refuse. Magazines come back when memory does.
 */
static const void *aux_bad_obj;
static const char *aux_bad_what;

static void aux_record(const char *slab, const void *obj, const char *what)
{
	(void)slab;
	aux_bad_obj = obj;
	aux_bad_what = what;
}

static unsigned long aux_attempts(struct sc_slab *s, void **objs, int n)
{
	unsigned long before = sc_fault_allocations();

	for (int i = 0; i < n; i++)
		cr_assert_not_null(objs[i] = sc_slab_alloc(s));
	for (int i = 0; i < n; i++)
		sc_slab_free(s, objs[i]);
	return sc_fault_allocations() - before;
}

Test(alloc_api, no_auxiliary_memory_goes_to_the_slabs)
{
	struct sc_slab *a = sc_slab_create("aux-a", 64, 0, 0);
	struct sc_slab *b = sc_slab_create("aux-b", 64, 0, 0);
	struct sc_slab *c = sc_slab_create("aux-c", 64, 0, 0);
	struct sc_slab_info info;
	void *objs[200], *x, *y;
	unsigned long with, without;

	cr_assert(a && b && c);
	sc_slab_set_corruption_handler(aux_record);
	/* the same attempts with magazines (a) and without (b) */
	with = aux_attempts(a, objs, 200);
	sc_mem_aux_fail(true);
	without = aux_attempts(b, objs, 200);
	cr_assert_eq(with, without);
	cr_assert_eq(with, 201, "200 calls and one new slab");
	cr_assert_eq(sc_slab_info(b, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(info.allocs, 200);
	cr_assert_eq(info.frees, 200);

	/* the direct path's checks */
	x = sc_slab_alloc(b);
	y = sc_slab_alloc(c);
	cr_assert(x && y);
	sc_slab_free(b, x);
	cr_assert_null(aux_bad_obj);
	sc_slab_free(b, x);
	cr_assert_eq(aux_bad_obj, x);
	cr_assert_str_eq(aux_bad_what, "double free");
	aux_bad_obj = NULL;
	sc_slab_free(b, y);
	cr_assert_eq(aux_bad_obj, y);
	cr_assert_str_eq(aux_bad_what, "free of a pointer not from this slab");
	cr_assert_eq(sc_slab_info(b, &info), 0);
	cr_assert_eq(info.frees, 201, "refused frees are not counted");
	/* allocated again, the last freed object may be freed again */
	x = sc_slab_alloc(b);
	aux_bad_obj = NULL;
	sc_slab_free(b, x);
	cr_assert_null(aux_bad_obj);

	/* a cache that needs the table of caches to grow is refused */
	{
		struct sc_slab *more[20];
		int made = 0;

		errno = 0;
		for (; made < 20; made++) {
			more[made] = sc_slab_create("aux-more", 8, 0, 0);
			if (!more[made])
				break;
		}
		cr_assert_lt(made, 20);
		cr_assert_eq(errno, ENOMEM);
		sc_mem_aux_fail(false);
		cr_assert_not_null(more[made] = sc_slab_create("m", 8, 0, 0));
		for (int i = 0; i <= made; i++)
			sc_slab_destroy(more[i]);
	}

	/* memory is back: b gets its magazine, c keeps working */
	cr_assert_eq(aux_attempts(b, objs, 200), 200);
	cr_assert_eq(sc_slab_info(b, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(info.allocs, 402);
	cr_assert_eq(info.frees, 402);
	sc_slab_free(c, y);
	sc_slab_set_corruption_handler(NULL);
	sc_slab_destroy(a);
	sc_slab_destroy(b);
	sc_slab_destroy(c);
}

/*
 * The depot keeps at most SLAB_DEPOT_MAX full magazines, a thread at most
 * two magazines per cache, at every step of a long run of frees; info,
 * shrink and reclaim give the depot's objects back to the slabs.
 */
static struct sc_slab_held held_of(struct sc_slab *s)
{
	struct sc_slab_held h;

	sc_slab_get_held(s, &h);
	return h;
}

Test(alloc_api, depot_is_bounded_and_drained)
{
	struct sc_slab *s = sc_slab_create("depot", 64, 0, 0);
	struct sc_slab_info info;
	struct sc_slab_held h;
	size_t cap, n, i;
	void **objs;

	cr_assert_not_null(s);
	h = held_of(s);
	cap = h.mine_max / 2;
	cr_assert_eq(cap, 128);
	cr_assert_eq(h.depot_max, 8 * cap);
	n = 20 * cap;
	objs = calloc(n, sizeof(*objs));
	cr_assert_not_null(objs);
	for (int round = 0; round < 3; round++) {
		for (i = 0; i < n; i++)
			cr_assert_not_null(objs[i] = sc_slab_alloc(s));
		for (i = 0; i < n; i++) {
			sc_slab_free(s, objs[i]);
			h = held_of(s);
			cr_assert_leq(h.depot, h.depot_max);
			cr_assert_leq(h.mine, h.mine_max);
		}
		h = held_of(s);
		cr_assert_eq(h.depot, h.depot_max, "round %d", round);
		/* only frees: the thread keeps no more than one magazine */
		cr_assert_leq(h.mine, cap);
		if (round == 0) {
			cr_assert_eq(sc_slab_info(s, &info), 0);
			cr_assert_eq(info.active_objects, 0);
			cr_assert_eq(info.slabs, info.empty_slabs);
		} else if (round == 1) {
			cr_assert_gt(sc_slab_shrink(s), 0);
			cr_assert_eq(sc_slab_info(s, &info), 0);
			cr_assert_eq(info.slabs, 0);
		} else {
			cr_assert_gt(sc_alloc_reclaim(), 0);
		}
		h = held_of(s);
		cr_assert_eq(h.depot, 0);
		cr_assert_eq(h.mine, 0);
	}
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.allocs, 3 * n);
	cr_assert_eq(info.frees, 3 * n);
	free(objs);
	sc_slab_destroy(s);
}

/*
 * A cache that evicts old entries much faster than it inserts new ones
 * (ten frees for each allocation, oldest first) gathers the new objects
 * in a few slabs, so the old slabs go back as they empty. Reusing each
 * object just freed would put one new object in every old slab.
 */
Test(alloc_api, evicting_cache_gathers_new_objects)
{
	struct sc_slab *s = sc_slab_create("gather", 192, 0, 0);
	struct sc_slab_info info;
	size_t per, n, i, fresh = 0, nfresh;
	void **old, **young;

	cr_assert_not_null(s);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	per = info.objects_per_slab;
	n = 20 * per;
	nfresh = n / 10;
	old = calloc(n, sizeof(*old));
	young = calloc(nfresh, sizeof(*young));
	cr_assert(old && young);
	for (i = 0; i < n; i++)
		cr_assert_not_null(old[i] = sc_slab_alloc(s));
	for (i = 0; i < n; i++) {
		sc_slab_free(s, old[i]);
		if (i % 10 == 9)
			cr_assert_not_null(young[fresh++] = sc_slab_alloc(s));
	}
	cr_assert_eq(fresh, nfresh);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.active_objects, nfresh);
	/* 2 slabs' worth of new objects, in at most 4, and 2 kept empty */
	cr_assert_leq(info.slabs - info.empty_slabs, 4, "%zu slabs in use",
		      info.slabs - info.empty_slabs);
	for (i = 0; i < nfresh; i++)
		sc_slab_free(s, young[i]);
	free(old);
	free(young);
	sc_slab_destroy(s);
}

/* Magazines hold at most 64 KiB of slots; bigger objects go without. */
Test(alloc_api, magazine_size_follows_object_size)
{
	static const size_t sizes[] = { 8, 1024, 4096, 65536, 65537, 1 << 20 };
	static const size_t caps[] = { 128, 64, 16, 1, 0, 0 };

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct sc_slab *s = sc_slab_create("cap", sizes[k], 0, 0);
		struct sc_slab_info info;
		void *objs[5];

		cr_assert_not_null(s);
		cr_assert_eq(held_of(s).mine_max, 2 * caps[k], "size %zu",
			     sizes[k]);
		for (int i = 0; i < 5; i++)
			cr_assert_not_null(objs[i] = sc_slab_alloc(s));
		for (int i = 0; i < 5; i++)
			sc_slab_free(s, objs[i]);
		cr_assert_leq(held_of(s).mine, 2 * caps[k]);
		cr_assert_eq(sc_slab_info(s, &info), 0);
		cr_assert_eq(info.active_objects, 0);
		cr_assert_eq(info.allocs, 5);
		cr_assert_eq(info.frees, 5);
		sc_slab_destroy(s);
	}
}

/* Without magazines, the last object freed is still checked. */
Test(alloc_api, no_magazine_double_free_of_last)
{
	struct sc_slab *s = sc_slab_create("nomag", 100000, 0, 0);
	void *a, *b;

	cr_assert_not_null(s);
	cr_assert_eq(held_of(s).mine_max, 0);
	sc_slab_set_corruption_handler(aux_record);
	a = sc_slab_alloc(s);
	b = sc_slab_alloc(s);
	cr_assert(a && b);
	sc_slab_free(s, a);
	aux_bad_obj = NULL;
	sc_slab_free(s, a);
	cr_assert_eq(aux_bad_obj, a);
	cr_assert_str_eq(aux_bad_what, "double free");
	sc_slab_free(s, b);
	sc_slab_set_corruption_handler(NULL);
	sc_slab_destroy(s);
}

/*
 * A destroyed cache's objects in this thread's magazine are forgotten,
 * never handed out by a new cache that happens to get its address.
 */
Test(alloc_api, destroy_forgets_magazine)
{
	struct sc_slab *a = sc_slab_create("gone", 64, 0, 0), *b;
	struct sc_slab_info info;
	void *p, *q;

	cr_assert_not_null(a);
	p = sc_slab_alloc(a);
	sc_slab_free(a, p);
	sc_slab_destroy(a);
	b = sc_slab_create("new", 64, 0, 0);
	cr_assert_not_null(b);
	q = sc_slab_alloc(b);
	cr_assert_not_null(q);
	memset(q, 0x11, 64);
	cr_assert_eq(sc_slab_info(b, &info), 0);
	cr_assert_eq(info.active_objects, 1);
	cr_assert_eq(info.slabs, 1);
	sc_slab_free(b, q);
	cr_assert_eq(sc_slab_info(b, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	sc_slab_destroy(b);
}

/* ------------------------------------------------------------ bulk free */

static const void *bulk_bad_obj;
static const char *bulk_bad_what;

static void bulk_record(const char *slab, const void *obj, const char *what)
{
	(void)slab;
	bulk_bad_obj = obj;
	bulk_bad_what = what;
}

Test(alloc_bulk, null_arguments_are_noops)
{
	struct sc_slab *s = sc_slab_create("bulk-null", 64, 0, 0);
	void *objs[2] = { NULL, NULL };

	cr_assert_not_null(s);
	sc_slab_free_bulk(NULL, objs, 2);
	sc_slab_free_bulk(s, NULL, 2);
	sc_slab_free_bulk(s, objs, 2); /* NULL entries are skipped */
	sc_slab_free_bulk(s, objs, 0);
	sc_slab_destroy(s);
}

/*
 * Objects go straight back into their slabs: counted free at once, and
 * slabs that empty past the two kept go back (without decay time), with
 * no magazine between.
 */
static void bulk_frees_into_slabs(unsigned int flags)
{
	unsigned int decay = sc_alloc_set_decay_ms(0);
	struct sc_slab *s = sc_slab_create("bulk", 256, 0, flags);
	struct sc_slab_info info;
	size_t n, i;
	void **objs;

	cr_assert_not_null(s);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	n = 6 * info.objects_per_slab;
	objs = calloc(n, sizeof(*objs));
	cr_assert_not_null(objs);
	for (i = 0; i < n; i++)
		cr_assert_not_null(objs[i] = sc_slab_alloc(s));
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.slabs, 6);
	sc_slab_free_bulk(s, objs, n - 1);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.active_objects, 1);
	cr_assert_eq(info.frees, n - 1);
	cr_assert_eq(info.empty_slabs, 2);
	cr_assert_eq(info.slabs, 3, "1 partial, 2 kept empty: %zu", info.slabs);
	sc_slab_free_bulk(s, objs + n - 1, 1);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	free(objs);
	sc_slab_destroy(s);
	sc_alloc_set_decay_ms(decay);
}

Test(alloc_bulk, frees_into_slabs)
{
	bulk_frees_into_slabs(0);
}

Test(alloc_bulk, frees_into_slabs_debug)
{
	bulk_frees_into_slabs(SC_SLAB_POISON | SC_SLAB_RED_ZONE);
}

Test(alloc_bulk, foreign_pointer_reported_rest_freed)
{
	struct sc_slab *a = sc_slab_create("bulk-a", 128, 0, 0);
	struct sc_slab *b = sc_slab_create("bulk-b", 128, 0, 0);
	struct sc_slab_info info;
	void *objs[3];

	cr_assert_not_null(a);
	cr_assert_not_null(b);
	sc_slab_set_corruption_handler(bulk_record);
	objs[0] = sc_slab_alloc(a);
	objs[1] = sc_slab_alloc(b); /* not a's */
	objs[2] = sc_slab_alloc(a);
	cr_assert(objs[0] && objs[1] && objs[2]);
	sc_slab_free_bulk(a, objs, 3);
	cr_assert_eq(bulk_bad_obj, objs[1]);
	cr_assert_not_null(bulk_bad_what);
	cr_assert_eq(sc_slab_info(a, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(sc_slab_info(b, &info), 0);
	cr_assert_eq(info.active_objects, 1, "b's object is left alone");
	sc_slab_free(b, objs[1]);
	sc_slab_set_corruption_handler(NULL);
	sc_slab_destroy(a);
	sc_slab_destroy(b);
}

/*
 * A full slab that gets a free object goes to the end of the partial
 * list: allocation first fills the slab that was partial already. (A
 * debug cache has no magazine, so every allocation comes off the lists.)
 */
Test(alloc_api, refilled_slab_waits_behind_older_partial)
{
	struct sc_slab *s = sc_slab_create("order", 512, 0, SC_SLAB_POISON);
	struct sc_slab_info info;
	uintptr_t mask;
	size_t per, n, i;
	void **objs, **more, *o;

	cr_assert_not_null(s);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	per = info.objects_per_slab;
	mask = ~(uintptr_t)(info.slab_size - 1);
	n = 2 * per + 1; /* two full slabs, a third with one object */
	objs = calloc(n, sizeof(*objs));
	more = calloc(per, sizeof(*more));
	cr_assert(objs && more);
	for (i = 0; i < n; i++)
		cr_assert_not_null(objs[i] = sc_slab_alloc(s));
	sc_slab_free(s, objs[0]); /* the first slab: full -> partial */
	for (i = 0; i < per - 1; i++) {
		o = sc_slab_alloc(s);
		cr_assert_eq((uintptr_t)o & mask, (uintptr_t)objs[n - 1] & mask,
			     "allocation %zu went to the older partial slab",
			     i);
		more[i] = o;
	}
	o = sc_slab_alloc(s); /* that one is full now: the first slab's */
	cr_assert_eq(o, objs[0]);
	for (i = 0; i < n; i++)
		sc_slab_free(s, objs[i]);
	for (i = 0; i < per - 1; i++)
		sc_slab_free(s, more[i]);
	free(more);
	free(objs);
	sc_slab_destroy(s);
}

/*
 * Slab colouring: slabs are aligned to their size, so without it the
 * first object of every slab would sit at the same offset and every
 * slab header in the same CPU cache sets. Eight neighbouring slabs of one
 * cache start their objects at eight different line offsets; a cache
 * aligned beyond a line is not coloured, and keeps its alignment.
 */
Test(alloc_api, neighbouring_slabs_are_coloured)
{
	struct sc_slab *s = sc_slab_create("colour", 64, 0, 0);
	struct sc_slab *big = sc_slab_create("colour-4k", 64, 4096, 0);
	struct sc_slab_info info;
	size_t n, i, first[8], distinct = 0;
	void **objs;

	cr_assert(s && big);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	n = 8 * info.objects_per_slab;
	objs = calloc(n, sizeof(*objs));
	cr_assert_not_null(objs);
	for (i = 0; i < 8; i++)
		first[i] = info.slab_size;
	for (i = 0; i < n; i++) {
		uintptr_t a;
		size_t off, k;

		objs[i] = sc_slab_alloc(s);
		cr_assert_not_null(objs[i]);
		a = (uintptr_t)objs[i];
		off = a & (info.slab_size - 1);
		k = (a / info.slab_size) % 8;
		if (off < first[k])
			first[k] = off;
	}
	for (i = 0; i < 8; i++) {
		size_t j;

		cr_assert_lt(first[i], info.slab_size, "slab %zu unused", i);
		for (j = 0; j < i && first[j] != first[i]; j++)
			;
		distinct += j == i;
		cr_assert_eq((first[i] - first[0]) % 64, 0);
	}
	cr_assert_eq(distinct, 8, "first objects at %zu distinct offsets",
		     distinct);
	for (i = 0; i < n; i++)
		sc_slab_free(s, objs[i]);
	free(objs);

	for (i = 0; i < 64; i++) {
		void *p = sc_slab_alloc(big);

		cr_assert_not_null(p);
		cr_assert_eq((uintptr_t)p % 4096, 0);
	}
	sc_slab_destroy(s);
	sc_slab_destroy(big);
}

/*
 * The headers of many slabs, not eight: the eight small colours let a
 * thousand slabs' headers evict each other from eight sets of each CPU
 * cache, so where it costs no object the header sits among the objects,
 * at a place the slab's address picks (Documentation/slab.rst,
 * "Colouring"). Seen from outside: in each of 64 slabs of 64-byte
 * objects, the header is the longest run of bytes no object covers; its
 * line, modulo 4 KiB (the sets of a 48 KiB, 12-way L1), takes at least
 * 32 distinct values, where the small colours alone give 8. And the
 * objects per slab are as many as with the header in front.
 */
Test(alloc_api, slab_headers_spread_over_the_cache_sets)
{
	struct sc_slab *s = sc_slab_create("spread", 64, 0, 0);
	struct sc_slab_info info;
	size_t n, i, slabs = 0, distinct = 0;
	bool seen[64] = { false };
	uintptr_t *objs;

	cr_assert_not_null(s);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_geq(info.objects_per_slab, 985, "as many as in front");
	n = 64 * info.objects_per_slab;
	objs = calloc(n, sizeof(*objs));
	cr_assert_not_null(objs);
	for (i = 0; i < n; i++) {
		objs[i] = (uintptr_t)sc_slab_alloc(s);
		cr_assert_neq(objs[i], 0);
	}
	qsort(objs, n, sizeof(*objs), cmp_ptr);
	for (i = 0; i < n;) {
		uintptr_t base = objs[i] & ~(uintptr_t)(info.slab_size - 1);
		uintptr_t at = base, best = 0, best_at = 0, end;
		size_t k = i;

		/* the slab's objects, in address order: the runs between */
		for (; k <= n; k++) {
			end = k < n && (objs[k] & ~(uintptr_t)(info.slab_size -
							       1)) == base ?
				      objs[k] :
				      base + info.slab_size;
			if (end - at > best) {
				best = end - at;
				best_at = at;
			}
			if (end == base + info.slab_size)
				break;
			at = end + info.slot_size;
		}
		if (k - i == info.objects_per_slab) { /* a full slab */
			cr_assert_geq(best, 64, "a header's line at least");
			slabs++;
			if (!seen[(best_at % 4096) / 64]) {
				seen[(best_at % 4096) / 64] = true;
				distinct++;
			}
		}
		i = k;
	}
	cr_assert_geq(slabs, 60);
	cr_assert_geq(distinct, 32, "headers in %zu of 64 L1 sets, %zu slabs",
		      distinct, slabs);
	for (i = 0; i < n; i++)
		sc_slab_free(s, (void *)objs[i]);
	free(objs);
	sc_slab_destroy(s);
}
