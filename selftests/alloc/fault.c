// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fault injection (sc_fault_inject, sc_fault_allocations) and the private
 * memory helpers of alloc/alloc.h that go through it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "alloc/alloc.h"
#include <slabcache/slab.h>

static struct sc_slab_info info_of(struct sc_slab *s)
{
	struct sc_slab_info info;

	cr_assert_eq(sc_slab_info(s, &info), 0);
	return info;
}

Test(alloc_fault, every_slab_alloc_is_counted)
{
	struct sc_slab *s = sc_slab_create("f", 64, 0, 0);
	unsigned long before;
	void *a, *b;

	cr_assert_not_null(s);
	before = sc_fault_allocations();
	a = sc_slab_alloc(s); /* the call + a new slab */
	cr_assert_eq(sc_fault_allocations(), before + 2);
	b = sc_slab_alloc(s); /* the call only: a free object is at hand */
	cr_assert_eq(sc_fault_allocations(), before + 3);
	sc_slab_free(s, a);
	sc_slab_free(s, b);
	cr_assert_eq(sc_fault_allocations(), before + 3, "frees not counted");
	sc_slab_destroy(s);
}

Test(alloc_fault, create_is_counted)
{
	unsigned long before = sc_fault_allocations();
	struct sc_slab *s = sc_slab_create("f", 64, 0, 0);

	cr_assert_not_null(s);
	cr_assert_eq(sc_fault_allocations(), before + 1);
	sc_slab_destroy(s);
}

Test(alloc_fault, nth_fails_exactly_the_nth)
{
	struct sc_slab *s = sc_slab_create("f", 64, 0, 0);
	void *objs[5];

	cr_assert_not_null(s);
	sc_slab_free(s, sc_slab_alloc(s)); /* an empty slab is at hand */
	sc_fault_inject(3);
	cr_assert_not_null(objs[0] = sc_slab_alloc(s));
	cr_assert_not_null(objs[1] = sc_slab_alloc(s));
	errno = 0;
	cr_assert_null(sc_slab_alloc(s));
	cr_assert_eq(errno, ENOMEM);
	/* one-shot */
	cr_assert_not_null(objs[2] = sc_slab_alloc(s));
	cr_assert_not_null(objs[3] = sc_slab_alloc(s));
	cr_assert_not_null(objs[4] = sc_slab_alloc(s));
	for (int i = 0; i < 5; i++)
		sc_slab_free(s, objs[i]);
	cr_assert_eq(info_of(s).alloc_failures, 1);
	cr_assert_eq(info_of(s).allocs, 6);
	cr_assert_eq(info_of(s).active_objects, 0);
	sc_slab_destroy(s);
}

Test(alloc_fault, failure_is_counted_as_an_attempt)
{
	struct sc_slab *s = sc_slab_create("f", 64, 0, 0);
	unsigned long before;

	cr_assert_not_null(s);
	sc_slab_free(s, sc_slab_alloc(s));
	before = sc_fault_allocations();
	sc_fault_inject(1);
	cr_assert_null(sc_slab_alloc(s));
	cr_assert_eq(sc_fault_allocations(), before + 1);
	sc_slab_destroy(s);
}

Test(alloc_fault, zero_turns_it_off)
{
	struct sc_slab *s = sc_slab_create("f", 64, 0, 0);
	void *objs[4];

	cr_assert_not_null(s);
	sc_fault_inject(2);
	sc_fault_inject(0);
	for (int i = 0; i < 4; i++)
		cr_assert_not_null(objs[i] = sc_slab_alloc(s));
	for (int i = 0; i < 4; i++)
		sc_slab_free(s, objs[i]);
	cr_assert_eq(info_of(s).alloc_failures, 0);
	sc_slab_destroy(s);
}

Test(alloc_fault, failed_alloc_changes_no_counter_but_failures)
{
	struct sc_slab *s = sc_slab_create("f", 64, 0, 0);
	struct sc_slab_info before, after;
	void *a;

	cr_assert_not_null(s);
	a = sc_slab_alloc(s);
	before = info_of(s);
	sc_fault_inject(1);
	cr_assert_null(sc_slab_alloc(s));
	after = info_of(s);
	cr_assert_eq(after.alloc_failures, before.alloc_failures + 1);
	after.alloc_failures = before.alloc_failures;
	cr_assert_eq(memcmp(&before, &after, sizeof(before)), 0);
	sc_slab_free(s, a);
	sc_slab_destroy(s);
}

Test(alloc_fault, failed_new_slab_changes_nothing)
{
	struct sc_slab *s = sc_slab_create("f", 64, 0, 0);
	struct sc_slab_info info;

	cr_assert_not_null(s);
	sc_fault_inject(2); /* the call passes, its new slab fails */
	errno = 0;
	cr_assert_null(sc_slab_alloc(s));
	cr_assert_eq(errno, ENOMEM);
	info = info_of(s);
	cr_assert_eq(info.slabs, 0);
	cr_assert_eq(info.total_objects, 0);
	cr_assert_eq(info.allocs, 0);
	cr_assert_eq(info.alloc_failures, 1);
	sc_slab_destroy(s);
}

Test(alloc_fault, create_fails_cleanly)
{
	FILE *devnull = fopen("/dev/null", "w");

	cr_assert_not_null(devnull);
	sc_fault_inject(1);
	errno = 0;
	cr_assert_null(sc_slab_create("f", 64, 0, 0));
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(sc_slabinfo_write(devnull), 0,
		     "no half-made cache is listed");
	fclose(devnull);
}

/* A sweep: fail each attempt of a short scenario in turn. */
Test(alloc_fault, sweep_create_and_allocate)
{
	for (unsigned long n = 1; n < 16; n++) {
		struct sc_slab *s;
		void *objs[3] = { NULL, NULL, NULL };
		int ok = 0;

		sc_fault_inject(n);
		s = sc_slab_create("sweep", 100, 0, SC_SLAB_POISON);
		if (s) {
			for (int i = 0; i < 3; i++)
				if ((objs[i] = sc_slab_alloc(s)))
					ok++;
			cr_assert_eq(ok, n <= 5 ? 2 : 3);
			cr_assert_eq(info_of(s).active_objects, (size_t)ok);
			for (int i = 0; i < 3; i++)
				sc_slab_free(s, objs[i]);
			cr_assert_eq(info_of(s).active_objects, 0);
			sc_slab_destroy(s);
		} else {
			cr_assert_eq(n, 1, "only the first attempt is create");
			cr_assert_eq(errno, ENOMEM);
		}
		sc_fault_inject(0);
	}
}

/* ------------------------------------------------ sc_mem_* */

Test(alloc_mem, alloc_and_zalloc_are_counted_and_failable)
{
	unsigned long before = sc_fault_allocations();
	unsigned char *p, *z;

	p = sc_mem_alloc(100);
	z = sc_mem_zalloc(100);
	cr_assert(p && z);
	cr_assert_eq(sc_fault_allocations(), before + 2);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(z[i], 0);
	sc_fault_inject(1);
	errno = 0;
	cr_assert_null(sc_mem_alloc(10));
	cr_assert_eq(errno, 0); /* internal: errno untouched */
	sc_fault_inject(1);
	errno = 0;
	cr_assert_null(sc_mem_zalloc(10));
	cr_assert_eq(errno, 0); /* internal: errno untouched */
	sc_mem_free(p, 100);
	sc_mem_free(z, 100);
	sc_mem_free(NULL, 0);
}

Test(alloc_mem, grow_zeroes_new_elements_and_keeps_old)
{
	uint32_t *arr = NULL;
	size_t cap = 0;

	cr_assert_eq(sc_mem_grow((void **)&arr, &cap, 3, sizeof(*arr), 1000),
		     0);
	cr_assert_geq(cap, 3);
	for (size_t i = 0; i < cap; i++)
		cr_assert_eq(arr[i], 0);
	for (size_t i = 0; i < cap; i++)
		arr[i] = (uint32_t)i + 1;
	size_t old = cap;
	cr_assert_eq(sc_mem_grow((void **)&arr, &cap, old + 1, sizeof(*arr),
				 1000),
		     0);
	cr_assert_geq(cap, old + 1);
	cr_assert_leq(cap, 1000);
	for (size_t i = 0; i < old; i++)
		cr_assert_eq(arr[i], i + 1);
	for (size_t i = old; i < cap; i++)
		cr_assert_eq(arr[i], 0);
	/* no growth needed: nothing is allocated */
	unsigned long before = sc_fault_allocations();
	cr_assert_eq(sc_mem_grow((void **)&arr, &cap, 2, sizeof(*arr), 1000),
		     0);
	cr_assert_eq(sc_fault_allocations(), before);
	sc_mem_free(arr, cap * sizeof(*arr));
}

Test(alloc_mem, grow_stops_at_the_cap)
{
	uint64_t *arr = NULL;
	size_t cap = 0;

	cr_assert_eq(sc_mem_grow((void **)&arr, &cap, 90, sizeof(*arr), 100),
		     0);
	cr_assert_geq(cap, 90);
	cr_assert_leq(cap, 100);
	cr_assert_eq(sc_mem_grow((void **)&arr, &cap, 100, sizeof(*arr), 100),
		     0);
	cr_assert_eq(cap, 100);
	sc_mem_free(arr, cap * sizeof(*arr));
}

static void fill(uint16_t *arr, size_t n)
{
	for (size_t i = 0; i < n; i++)
		arr[i] = (uint16_t)(0xbeef ^ i);
}

static void check_intact(uint16_t *arr, uint16_t *orig, size_t cap,
			 size_t orig_cap)
{
	cr_assert_eq(arr, orig, "array moved");
	cr_assert_eq(cap, orig_cap, "capacity changed");
	for (size_t i = 0; i < cap; i++)
		cr_assert_eq(arr[i], (uint16_t)(0xbeef ^ i));
}

Test(alloc_mem, grow_failures_leave_the_array_intact)
{
	uint16_t *arr = NULL, *orig;
	size_t cap = 0, orig_cap;

	cr_assert_eq(sc_mem_grow((void **)&arr, &cap, 8, sizeof(*arr), 64), 0);
	fill(arr, cap);
	orig = arr;
	orig_cap = cap;

	/* over the cap */
	errno = 0;
	cr_assert_eq(sc_mem_grow((void **)&arr, &cap, 65, sizeof(*arr), 64),
		     -EOVERFLOW);
	cr_assert_eq(errno, 0); /* internal: errno untouched */
	check_intact(arr, orig, cap, orig_cap);

	/* the byte size overflows */
	errno = 0;
	cr_assert_eq(sc_mem_grow((void **)&arr, &cap, SIZE_MAX / 2,
				 sizeof(*arr) * 4, SIZE_MAX),
		     -EOVERFLOW);
	cr_assert_eq(errno, 0); /* internal: errno untouched */
	check_intact(arr, orig, cap, orig_cap);

	/* the allocation fails */
	sc_fault_inject(1);
	errno = 0;
	cr_assert_eq(sc_mem_grow((void **)&arr, &cap, cap + 1, sizeof(*arr),
				 64),
		     -ENOMEM);
	cr_assert_eq(errno, 0); /* internal: errno untouched */
	check_intact(arr, orig, cap, orig_cap);

	sc_mem_free(arr, cap * sizeof(*arr));
}

/* The copy-and-publish growth of arrays that lock-free readers read. */
Test(alloc_mem, grow_new_returns_a_new_block_or_a_code_and_nothing_else)
{
	size_t cap = 4;
	void *block = NULL, *none = (void *)&cap;
	unsigned char *b;

	cr_assert_eq(sc_mem_grow_new(&block, &cap, 5, 8, 64, 16), 0);
	cr_assert_not_null(block);
	cr_assert_eq(cap, 8);
	b = block;
	for (size_t i = 0; i < 16 + cap * 8; i++)
		cr_assert_eq(b[i], 0);

	block = none;
	errno = 0;
	cr_assert_eq(sc_mem_grow_new(&block, &cap, 65, 8, 64, 16), -EOVERFLOW);
	cr_assert_eq(sc_mem_grow_new(&block, &cap, 9, 8, 64, SIZE_MAX),
		     -EOVERFLOW);
	sc_fault_inject(1);
	cr_assert_eq(sc_mem_grow_new(&block, &cap, 9, 8, 64, 16), -ENOMEM);
	cr_assert_eq(block, none);
	cr_assert_eq(cap, 8);
	cr_assert_eq(errno, 0); /* internal: errno untouched */
	sc_mem_free(b, 16 + 8 * 8);
}

/* ------------------------------------------------ large sc_mem_* blocks */

/* A block this big is mapped on its own (alloc/mem.c: SC_MEM_MAP_MIN). */
#define BIG_BLOCK ((size_t)4 << 20)

static bool range_mapped(const void *p, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char vec[1];
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(page - 1);

	(void)len;
	return mincore((void *)a, page, vec) == 0;
}

Test(alloc_mem, a_large_block_is_zeroed_failable_and_unmapped_when_freed)
{
	unsigned long before = sc_fault_allocations();
	unsigned char *z = sc_mem_zalloc(BIG_BLOCK);
	unsigned char *p = sc_mem_alloc(BIG_BLOCK + 1);

	cr_assert(z && p);
	cr_assert_eq(sc_fault_allocations(), before + 2);
	for (size_t i = 0; i < BIG_BLOCK; i += 4093)
		cr_assert_eq(z[i], 0);
	memset(z, 0xa5, BIG_BLOCK);
	memset(p, 0x5a, BIG_BLOCK + 1);
	cr_assert(range_mapped(z + BIG_BLOCK - 1, 1));
	sc_mem_free(z, BIG_BLOCK);
	/* its pages went back to the kernel, not to an allocator's free list */
	cr_assert_not(range_mapped(z, 1));
	cr_assert_not(range_mapped(z + BIG_BLOCK - 1, 1));
	cr_assert_eq(p[BIG_BLOCK], 0x5a);
	sc_mem_free(p, BIG_BLOCK + 1);
	cr_assert_not(range_mapped(p + BIG_BLOCK, 1));

	/* aligned: a mapping too, page aligned, zeroed, unmapped by size */
	z = sc_mem_zalloc_aligned(BIG_BLOCK, 128);
	cr_assert_not_null(z);
	cr_assert_eq((uintptr_t)z % 128, 0);
	for (size_t i = 0; i < BIG_BLOCK; i += 4093)
		cr_assert_eq(z[i], 0);
	z[BIG_BLOCK - 1] = 1;
	sc_mem_free(z, BIG_BLOCK);
	cr_assert_not(range_mapped(z + BIG_BLOCK - 1, 1));

	sc_fault_inject(1);
	errno = 0;
	cr_assert_null(sc_mem_zalloc(BIG_BLOCK));
	cr_assert_eq(errno, 0); /* internal: errno untouched */
	sc_fault_inject(1);
	errno = 0;
	cr_assert_null(sc_mem_zalloc_aligned(BIG_BLOCK, 64));
	cr_assert_eq(errno, 0); /* internal: errno untouched */
	/* more than the address space can hold: refused, not aborted */
	cr_assert_null(sc_mem_alloc(SIZE_MAX / 2));
}

Test(alloc_mem, grow_into_and_within_large_blocks_keeps_the_elements)
{
	uint64_t *arr = NULL, *orig;
	size_t cap = 0, n = BIG_BLOCK / sizeof(*arr), orig_cap;

	/* from malloc'ed memory into a mapping */
	cr_assert_eq(sc_mem_grow((void **)&arr, &cap, 1000, sizeof(*arr), n),
		     0);
	for (size_t i = 0; i < cap; i++)
		arr[i] = i * 7 + 1;
	size_t small = cap;
	cr_assert_eq(sc_mem_grow((void **)&arr, &cap, n / 2, sizeof(*arr), n),
		     0);
	cr_assert_geq(cap * sizeof(*arr), (size_t)256 * 1024);
	for (size_t i = 0; i < small; i++)
		cr_assert_eq(arr[i], i * 7 + 1);
	for (size_t i = small; i < cap; i++) {
		cr_assert_eq(arr[i], 0);
		arr[i] = i * 7 + 1;
	}
	/* a failed growth out of a mapping leaves it as it was */
	orig = arr;
	orig_cap = cap;
	sc_fault_inject(1);
	cr_assert_eq(sc_mem_grow((void **)&arr, &cap, n, sizeof(*arr), n),
		     -ENOMEM);
	cr_assert_eq(arr, orig);
	cr_assert_eq(cap, orig_cap);
	/* from one mapping into another; the old one is unmapped */
	cr_assert_eq(sc_mem_grow((void **)&arr, &cap, n, sizeof(*arr), n), 0);
	cr_assert_eq(cap, n);
	cr_assert_not(range_mapped(orig, 1));
	for (size_t i = 0; i < orig_cap; i++)
		cr_assert_eq(arr[i], i * 7 + 1);
	for (size_t i = orig_cap; i < cap; i++)
		cr_assert_eq(arr[i], 0);
	sc_mem_free(arr, cap * sizeof(*arr));
}
