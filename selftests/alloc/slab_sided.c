// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Sided slab caches (sc_slab_create_sided(), alloc/alloc.h): each object
 * has a 16-byte side record in an array at the end of its slab, found
 * from the object and back without the cache (sc_slab_side(),
 * sc_slab_side_obj()). Every object of many whole slabs is checked, for
 * every slot size from 32 to 128 bytes, plain and with debug flags, over
 * the colours and header places those slabs take.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "alloc/alloc.h"
#include <slabcache/slab.h>

#define DEBUG_FLAGS (SC_SLAB_POISON | SC_SLAB_RED_ZONE)
#define LINE 64
#define SLABS 40 /* whole slabs per cache: many colours and places */

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

static uintptr_t base_of(uintptr_t p)
{
	return p & ~(uintptr_t)(SC_SLAB_SIDED_SIZE - 1);
}

/* A byte that differs between neighbouring objects and between passes. */
static unsigned char pattern(size_t i, unsigned int pass)
{
	return (unsigned char)(i * 131 + pass * 37 + 1);
}

static void fill_sides(uintptr_t *objs, size_t n, size_t from, size_t step,
		       unsigned int pass)
{
	for (size_t i = from; i < n; i += step)
		memset(sc_slab_side((void *)objs[i]), pattern(i, pass),
		       SC_SLAB_SIDE_BYTES);
}

static void check_bytes(const void *p, unsigned char c, size_t len,
			const char *what, size_t i)
{
	const unsigned char *b = p;

	for (size_t k = 0; k < len; k++)
		cr_assert_eq(b[k], c, "%s of object %zu, byte %zu", what, i, k);
}

/*
 * What check_layout() saw in full slabs: distinct grid offsets, distinct
 * first slots of the header's hole (SIZE_MAX: in front), and whether any
 * had its header in a hole.
 */
struct sided_seen {
	size_t full_slabs, grids, holes;
	bool hole;
};

static bool remember(uintptr_t *seen, size_t *nseen, uintptr_t v)
{
	for (size_t k = 0; k < *nseen; k++)
		if (seen[k] == v)
			return false;
	seen[(*nseen)++] = v;
	return true;
}

/*
 * @objs: every object of whole slabs, sorted by address. Each object is
 * on its slab's grid; its record is at its slot's place in the side
 * array, after every object of the slab and before the descriptor's
 * line, 16-aligned; the records of objects in address order are in
 * address order, 16 bytes apart at least (none overlaps another). The
 * slots of a full slab that no object has hold the header: they are
 * counted as the slab's hole, and are before the side array too.
 */
static void check_layout(const uintptr_t *objs, size_t n, size_t slot,
			 size_t per_slab, struct sided_seen *seen)
{
	uintptr_t grids[SLABS], holes[SLABS + 1];
	size_t i = 0;

	memset(seen, 0, sizeof(*seen));
	while (i < n) {
		uintptr_t base = base_of(objs[i]), side, prev_side = 0;
		const struct sc_slab_sided_desc *d = SC_SLAB_SIDED_DESC(base);
		size_t k, idx, expect = 0, hole = SIZE_MAX;

		cr_assert_eq(d->slot, slot);
		cr_assert_eq(d->side % LINE, 0);
		cr_assert_leq(d->side, SC_SLAB_SIDED_SIZE - LINE);
		for (k = i; k < n && base_of(objs[k]) == base; k++) {
			uintptr_t off = objs[k] - base - d->grid;

			cr_assert_geq(objs[k], base + d->grid);
			cr_assert_eq(off % slot, 0, "object %zu on the grid",
				     k);
			idx = off / slot;
			if (idx != expect && hole == SIZE_MAX)
				hole = expect; /* the header's first slot */
			expect = idx + 1;
			cr_assert_leq(objs[k] + slot, base + d->side,
				      "object %zu before the side array", k);
			side = (uintptr_t)sc_slab_side((void *)objs[k]);
			cr_assert_eq(side % SC_SLAB_SIDE_BYTES, 0);
			cr_assert_eq(side,
				     base + d->side + idx * SC_SLAB_SIDE_BYTES);
			cr_assert_leq(side + SC_SLAB_SIDE_BYTES,
				      base + SC_SLAB_SIDED_SIZE - LINE,
				      "record %zu before the descriptor", k);
			cr_assert_eq((uintptr_t)sc_slab_side_obj((void *)side),
				     objs[k], "round trip of object %zu", k);
			cr_assert_gt(side, prev_side);
			cr_assert_geq(side - prev_side, SC_SLAB_SIDE_BYTES);
			prev_side = side;
		}
		if (k - i == per_slab) {
			/* a hole: the header's slots, all before the records */
			if (hole != SIZE_MAX)
				cr_assert_leq(base + d->grid +
						      (hole + 1) * slot,
					      base + d->side);
			seen->full_slabs++;
			seen->hole |= hole != SIZE_MAX;
			seen->grids += remember(grids, &(size_t){ seen->grids },
						d->grid);
			seen->holes +=
				remember(holes, &(size_t){ seen->holes }, hole);
		}
		i = k;
	}
}

/*
 * Fill SLABS whole slabs of a sided cache of @size-byte objects made with
 * @align and @flags, whose slot must be @slot, and check everything of
 * every object; then that writing every record leaves every object,
 * every free object's poison and every slab header whole.
 */
static struct sided_seen check_sided(size_t size, size_t align,
				     unsigned int flags, size_t slot)
{
	struct sc_slab *s = sc_slab_create_sided("sided", size, align, flags);
	struct sc_slab_info info;
	struct sided_seen seen;
	size_t n, i, half;
	uintptr_t *objs;

	cr_assert_not_null(s, "size %zu align %zu flags %#x", size, align,
			   flags);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.slot_size, slot + SC_SLAB_SIDE_BYTES,
		     "info counts the record: size %zu", size);
	cr_assert_eq(sc_slab_slot_size(s), info.slot_size);
	cr_assert_eq(info.slab_size, SC_SLAB_SIDED_SIZE);
	cr_assert_leq(info.objects_per_slab * info.slot_size,
		      SC_SLAB_SIDED_SIZE - LINE);
	n = SLABS * info.objects_per_slab;
	objs = calloc(n, sizeof(*objs));
	cr_assert_not_null(objs);
	for (i = 0; i < n; i++) {
		objs[i] = (uintptr_t)sc_slab_alloc(s);
		cr_assert_neq(objs[i], 0);
	}
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.slabs, SLABS);
	qsort(objs, n, sizeof(*objs), cmp_ptr);
	check_layout(objs, n, slot, info.objects_per_slab, &seen);
	cr_assert_eq(seen.full_slabs, SLABS);

	/* fill both, check both */
	for (i = 0; i < n; i++)
		memset((void *)objs[i], pattern(i, 0), size);
	fill_sides(objs, n, 0, 1, 1);
	for (i = 0; i < n; i++) {
		check_bytes((void *)objs[i], pattern(i, 0), size, "object", i);
		check_bytes(sc_slab_side((void *)objs[i]), pattern(i, 1),
			    SC_SLAB_SIDE_BYTES, "record", i);
	}

	/*
	 * Half freed (poisoned, in a debug cache; their red zones checked),
	 * the other half's records written again, the first half allocated
	 * again (their poison checked): the same objects, from the same
	 * slabs, whose headers so kept their free stacks.
	 */
	for (i = 0; i < n; i += 2)
		sc_slab_free(s, (void *)objs[i]);
	fill_sides(objs, n, 1, 2, 2);
	half = (n + 1) / 2;
	for (i = 0; i < n; i += 2) {
		objs[i] = (uintptr_t)sc_slab_alloc(s);
		cr_assert_neq(objs[i], 0);
	}
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.slabs, SLABS, "no slab lost its free objects");
	cr_assert_eq(info.active_objects, n);
	for (i = 1; i < n; i += 2) {
		check_bytes((void *)objs[i], pattern(i, 0), size, "object", i);
		check_bytes(sc_slab_side((void *)objs[i]), pattern(i, 2),
			    SC_SLAB_SIDE_BYTES, "record", i);
	}
	qsort(objs, n, sizeof(*objs), cmp_ptr);
	check_layout(objs, n, slot, info.objects_per_slab, &seen);
	cr_assert_eq(seen.full_slabs, SLABS);
	for (i = 0; i < n; i++)
		sc_slab_free(s, (void *)objs[i]);
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(info.allocs, n + half);
	cr_assert_eq(info.frees, n + half);
	free(objs);
	sc_slab_destroy(s);
	return seen;
}

/*
 * Default alignment: coloured slabs. Each whole slab has its header in
 * front or at one of several places among its slots, and 40 slabs from
 * the same blocks take more than one colour, and more than one place
 * when the header is among the slots.
 */
Test(alloc_sided, every_object_of_every_slot_size)
{
	for (size_t slot = 32; slot <= 128; slot += 8) {
		struct sided_seen seen = check_sided(slot, 0, 0, slot);

		cr_assert_geq(seen.grids, 2, "slot %zu: %zu colours", slot,
			      seen.grids);
		if (seen.hole)
			cr_assert_geq(seen.holes, 2,
				      "slot %zu: %zu header places", slot,
				      seen.holes);
	}
}

Test(alloc_sided, every_object_of_every_slot_size_debug)
{
	/* the red zone's 8 bytes make up the slot */
	for (size_t slot = 32; slot <= 128; slot += 8) {
		struct sided_seen seen =
			check_sided(slot - 8, 0, DEBUG_FLAGS, slot);

		cr_assert_geq(seen.grids, 2, "slot %zu: %zu colours", slot,
			      seen.grids);
	}
	check_sided(100, 0, SC_SLAB_POISON, 104);
}

Test(alloc_sided, aligned_objects)
{
	struct sided_seen seen;

	check_sided(40, 0, SC_SLAB_HWCACHE_ALIGN, 64);
	check_sided(24, 32, DEBUG_FLAGS, 32);
	/* beyond a line: not coloured, the grid where the header leaves it */
	seen = check_sided(100, 128, 0, 128);
	cr_assert_eq(seen.grids, 1);
	check_sided(1024, 1024, 0, 1024);
	check_sided(1016, 0, SC_SLAB_RED_ZONE, 1024);
}

/*
 * The objects per 64 KiB slab: never more than (64 KiB - line) /
 * (slot + 16), and within 1/40 of those of an ordinary cache of slots 16
 * bytes larger, whose objects take as many bytes: the sided slab loses
 * only the records of its header's slots, when its header is among them
 * (Documentation/slab.rst, "Sided caches": 26 objects of 1300 at slot
 * 32, the most).
 */
Test(alloc_sided, objects_per_slab)
{
	for (size_t slot = 32; slot <= SC_SLAB_SIDED_MAX_SLOT; slot += 8) {
		struct sc_slab *s = sc_slab_create_sided("sided", slot, 0, 0);
		struct sc_slab *o = sc_slab_create("plain", slot + 16, 0, 0);
		struct sc_slab_info si, oi;
		size_t bound = (SC_SLAB_SIDED_SIZE - LINE) /
			       (slot + SC_SLAB_SIDE_BYTES);

		cr_assert(s && o);
		cr_assert_eq(sc_slab_info(s, &si), 0);
		cr_assert_eq(sc_slab_info(o, &oi), 0);
		cr_assert_leq(si.objects_per_slab, bound);
		cr_assert_eq(oi.slab_size, SC_SLAB_SIDED_SIZE);
		cr_assert_geq(si.objects_per_slab * 40,
			      oi.objects_per_slab * 39,
			      "slot %zu: %zu objects, %zu in an ordinary slab",
			      slot, si.objects_per_slab, oi.objects_per_slab);
		sc_slab_destroy(s);
		sc_slab_destroy(o);
	}
}

/* Refused with EINVAL before anything is allocated: no attempt counted. */
static void refused(const char *name, size_t size, size_t align,
		    unsigned int flags)
{
	unsigned long before = sc_fault_allocations();

	errno = 0;
	cr_assert_null(sc_slab_create_sided(name, size, align, flags),
		       "size %zu align %zu flags %#x", size, align, flags);
	cr_assert_eq(errno, EINVAL, "size %zu align %zu flags %#x", size, align,
		     flags);
	cr_assert_eq(sc_fault_allocations(), before, "nothing created");
}

Test(alloc_sided, refuses_what_a_sided_slab_cannot_serve)
{
	FILE *devnull = fopen("/dev/null", "w");

	cr_assert_not_null(devnull);
	refused(NULL, 64, 0, 0);
	refused("", 64, 0, 0);
	refused("s", 0, 0, 0);
	refused("s", 64, 24, 0);
	refused("s", 64, 0, 0x80);
	refused("s", SC_SLAB_SIDED_MAX_SLOT + 1, 0, 0);
	refused("s", (size_t)1 << 30, 0, 0);
	refused("s", SIZE_MAX, 0, 0);
	/* the red zone, or the alignment, takes the slot beyond the bound */
	refused("s", SC_SLAB_SIDED_MAX_SLOT, 0, SC_SLAB_RED_ZONE);
	refused("s", SC_SLAB_SIDED_MAX_SLOT - 4, 0, DEBUG_FLAGS);
	refused("s", 8, 2048, 0);
	refused("s", 1020, 0, SC_SLAB_HWCACHE_ALIGN | SC_SLAB_RED_ZONE);
	cr_assert_eq(sc_slabinfo_write(devnull), 0, "no cache is listed");
	fclose(devnull);
}

Test(alloc_sided, create_is_counted_and_fails_cleanly)
{
	FILE *devnull = fopen("/dev/null", "w");
	unsigned long before = sc_fault_allocations();
	struct sc_slab *s = sc_slab_create_sided("f", 64, 0, 0);

	cr_assert_not_null(devnull);
	cr_assert_not_null(s);
	cr_assert_eq(sc_fault_allocations(), before + 1);
	sc_slab_destroy(s);
	sc_fault_inject(1);
	errno = 0;
	cr_assert_null(sc_slab_create_sided("f", 64, 0, 0));
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(sc_slabinfo_write(devnull), 0,
		     "no half-made cache is listed");
	fclose(devnull);
}

/* Each attempt of create and three allocations failed in turn. */
Test(alloc_sided, sweep_create_and_allocate)
{
	for (unsigned long n = 1; n < 16; n++) {
		void *objs[3] = { NULL, NULL, NULL };
		struct sc_slab_info info;
		struct sc_slab *s;
		int ok = 0;

		sc_fault_inject(n);
		s = sc_slab_create_sided("sweep", 100, 0, SC_SLAB_POISON);
		if (!s) {
			cr_assert_eq(n, 1, "only the first attempt is create");
			cr_assert_eq(errno, ENOMEM);
			sc_fault_inject(0);
			continue;
		}
		for (int i = 0; i < 3; i++) {
			objs[i] = sc_slab_alloc(s);
			if (!objs[i])
				continue;
			ok++;
			memset(sc_slab_side(objs[i]), 0xee, SC_SLAB_SIDE_BYTES);
			cr_assert_eq(sc_slab_side_obj(sc_slab_side(objs[i])),
				     objs[i]);
		}
		cr_assert_eq(ok, n <= 5 ? 2 : 3);
		cr_assert_eq(sc_slab_info(s, &info), 0);
		cr_assert_eq(info.active_objects, (size_t)ok);
		for (int i = 0; i < 3; i++)
			sc_slab_free(s, objs[i]);
		sc_slab_destroy(s);
		sc_fault_inject(0);
	}
}

#ifdef CONFIG_SC_ASAN
#include <sanitizer/asan_interface.h>

/*
 * Under ASan free objects are poisoned as in an ordinary cache; the
 * records are not, whatever their object's state: they are the
 * caller's.
 */
Test(alloc_sided, asan_poisons_free_objects_not_records)
{
	struct sc_slab *s = sc_slab_create_sided("asan", 64, 0, 0);
	char *a, *b, *side_b;

	cr_assert_not_null(s);
	a = sc_slab_alloc(s);
	b = sc_slab_alloc(s);
	side_b = sc_slab_side(b);
	cr_assert_not(__asan_region_is_poisoned(a, 64));
	cr_assert(__asan_address_is_poisoned(b + 64), "next free object");
	sc_slab_free(s, a);
	cr_assert(__asan_address_is_poisoned(a));
	cr_assert_not(
		__asan_region_is_poisoned(sc_slab_side(a), SC_SLAB_SIDE_BYTES));
	cr_assert_not(__asan_region_is_poisoned(side_b, SC_SLAB_SIDE_BYTES));
	sc_slab_free(s, b);
	sc_slab_destroy(s);
}
#endif
