// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Corruption detection: each detection aborts through the default handler
 * (.signal = SIGABRT), and the same detections reach a replaced handler,
 * after which the offending operation is abandoned.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <criterion/criterion.h>

#include <slabcache/slab.h>

#define DEBUG_FLAGS (SC_SLAB_POISON | SC_SLAB_RED_ZONE)

/* ------------------------------------------------ default handler: abort */

Test(alloc_debug, double_free_aborts, .signal = SIGABRT)
{
	struct sc_slab *s = sc_slab_create("dbg", 32, 0, DEBUG_FLAGS);
	void *a = sc_slab_alloc(s), *b = sc_slab_alloc(s);

	sc_slab_free(s, a);
	sc_slab_free(s, b);
	sc_slab_free(s, a); /* not the last freed one: needs the state byte */
}

Test(alloc_debug, foreign_pointer_aborts, .signal = SIGABRT)
{
	struct sc_slab *s = sc_slab_create("dbg", 32, 0, DEBUG_FLAGS);
	struct sc_slab *other = sc_slab_create("other", 32, 0, 0);
	void *a = sc_slab_alloc(other);

	sc_slab_free(s, a);
}

Test(alloc_debug, interior_pointer_aborts, .signal = SIGABRT)
{
	struct sc_slab *s = sc_slab_create("dbg", 32, 0, DEBUG_FLAGS);
	char *a = sc_slab_alloc(s);

	sc_slab_free(s, a + 8);
}

Test(alloc_debug, red_zone_overwrite_aborts, .signal = SIGABRT)
{
	struct sc_slab *s = sc_slab_create("dbg", 24, 0, SC_SLAB_RED_ZONE);
	char *a = sc_slab_alloc(s);

	a[24] = 0; /* one byte past the end */
	sc_slab_free(s, a);
}

Test(alloc_debug, use_after_free_write_aborts_at_alloc, .signal = SIGABRT)
{
	struct sc_slab *s = sc_slab_create("dbg", 48, 0, SC_SLAB_POISON);
	char *a = sc_slab_alloc(s);

	sc_slab_free(s, a);
	a[47] = 1;
	sc_slab_alloc(s);
}

Test(alloc_debug, plain_double_free_of_last_freed_aborts, .signal = SIGABRT)
{
	struct sc_slab *s = sc_slab_create("plain", 32, 0, 0);
	void *a = sc_slab_alloc(s), *b = sc_slab_alloc(s);

	(void)b;
	sc_slab_free(s, a);
	sc_slab_free(s, a);
}

Test(alloc_debug, plain_double_free_in_empty_slab_aborts, .signal = SIGABRT)
{
	struct sc_slab *s = sc_slab_create("plain", 32, 0, 0);
	void *a = sc_slab_alloc(s);

	sc_slab_free(s, a);
	sc_slab_free(s, a);
}

Test(alloc_debug, plain_foreign_pointer_aborts, .signal = SIGABRT)
{
	struct sc_slab *s = sc_slab_create("plain", 32, 0, 0);
	struct sc_slab *other = sc_slab_create("other", 32, 0, 0);

	sc_slab_free(s, sc_slab_alloc(other));
	sc_slab_alloc(s); /* its owner is checked before it is handed out */
}

/* A correct program never trips the checks. */
Test(alloc_debug, clean_use_does_not_abort)
{
	struct sc_slab *s = sc_slab_create("dbg", 40, 0, DEBUG_FLAGS);
	struct sc_slab_info info;
	char *objs[64];

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 64; i++) {
			objs[i] = sc_slab_alloc(s);
			cr_assert_not_null(objs[i]);
			memset(objs[i], 0xee, 40);
		}
		for (int i = 63; i >= 0; i -= 2)
			sc_slab_free(s, objs[i]);
		for (int i = 0; i < 64; i += 2)
			sc_slab_free(s, objs[i]);
	}
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.active_objects, 0);
	cr_assert_eq(info.slot_size, 48, "40 bytes + 8 bytes of red zone");
	sc_slab_destroy(s);
}

/* ------------------------------------------------ replaced handler */

static struct {
	int calls;
	char slab[32];
	const void *obj;
	char what[128];
} seen;

static void record_corruption(const char *slab, const void *obj,
			      const char *what)
{
	seen.calls++;
	snprintf(seen.slab, sizeof(seen.slab), "%s", slab);
	seen.obj = obj;
	snprintf(seen.what, sizeof(seen.what), "%s", what);
}

static void install_handler(void)
{
	sc_slab_corruption_fn prev;

	memset(&seen, 0, sizeof(seen));
	prev = sc_slab_set_corruption_handler(record_corruption);
	cr_assert_not_null(prev, "the default handler is returned");
}

static struct sc_slab_info info_of(struct sc_slab *s)
{
	struct sc_slab_info info;

	cr_assert_eq(sc_slab_info(s, &info), 0);
	return info;
}

Test(alloc_debug_handler, set_returns_previous)
{
	sc_slab_corruption_fn def = sc_slab_set_corruption_handler(NULL);

	cr_assert_not_null(def);
	cr_assert_eq(sc_slab_set_corruption_handler(record_corruption), def);
	cr_assert_eq(sc_slab_set_corruption_handler(NULL), record_corruption);
	cr_assert_eq(sc_slab_set_corruption_handler(NULL), def);
}

Test(alloc_debug_handler, double_free_reported_and_abandoned)
{
	struct sc_slab *s = sc_slab_create("hdbl", 32, 0, SC_SLAB_POISON);
	void *a, *b;

	install_handler();
	a = sc_slab_alloc(s);
	b = sc_slab_alloc(s);
	sc_slab_free(s, a);
	sc_slab_free(s, b);
	sc_slab_free(s, a);
	cr_assert_eq(seen.calls, 1);
	cr_assert_str_eq(seen.slab, "hdbl");
	cr_assert_eq(seen.obj, a);
	cr_assert(strstr(seen.what, "double free"), "%s", seen.what);
	cr_assert_eq(info_of(s).frees, 2, "the bad free is not counted");
	cr_assert_eq(info_of(s).active_objects, 0);
	sc_slab_destroy(s);
}

Test(alloc_debug_handler, foreign_pointer_reported_and_abandoned)
{
	struct sc_slab *s = sc_slab_create("hfor", 32, 0, SC_SLAB_RED_ZONE);
	struct sc_slab *other = sc_slab_create("other", 32, 0, 0);
	char *a, *mine;

	install_handler();
	a = sc_slab_alloc(other);
	mine = sc_slab_alloc(s);
	sc_slab_free(s, a);
	cr_assert_eq(seen.calls, 1);
	cr_assert_str_eq(seen.slab, "hfor");
	cr_assert_eq(seen.obj, a);
	cr_assert(strstr(seen.what, "not from this slab"), "%s", seen.what);
	sc_slab_free(s, mine + 1);
	cr_assert_eq(seen.calls, 2);
	cr_assert_eq(seen.obj, mine + 1);
	cr_assert_eq(info_of(s).active_objects, 1);
	cr_assert_eq(info_of(other).active_objects, 1);
	sc_slab_free(s, mine);
	sc_slab_free(other, a);
	cr_assert_eq(seen.calls, 2);
	sc_slab_destroy(s);
	sc_slab_destroy(other);
}

Test(alloc_debug_handler, red_zone_reported_and_abandoned)
{
	struct sc_slab *s = sc_slab_create("hrz", 20, 0, SC_SLAB_RED_ZONE);
	char *a;

	install_handler();
	a = sc_slab_alloc(s);
	a[20] = 'x';
	sc_slab_free(s, a);
	cr_assert_eq(seen.calls, 1);
	cr_assert_str_eq(seen.slab, "hrz");
	cr_assert_eq(seen.obj, a);
	cr_assert(strstr(seen.what, "red zone"), "%s", seen.what);
	cr_assert_eq(info_of(s).active_objects, 1, "object not freed");
	sc_slab_destroy(s);
}

Test(alloc_debug_handler, use_after_free_reported_and_quarantined)
{
	struct sc_slab *s = sc_slab_create("huaf", 64, 0, SC_SLAB_POISON);
	char *a, *b;

	install_handler();
	a = sc_slab_alloc(s);
	sc_slab_free(s, a);
	a[10] = 0;
	b = sc_slab_alloc(s);
	cr_assert_eq(seen.calls, 1);
	cr_assert_str_eq(seen.slab, "huaf");
	cr_assert_eq(seen.obj, a);
	cr_assert(strstr(seen.what, "use after free"), "%s", seen.what);
	/* the damaged object is never handed out; another one is */
	cr_assert_not_null(b);
	cr_assert_neq(b, a);
	for (int i = 0; i < 64; i++)
		cr_assert_eq((unsigned char)b[i], 0x6b);
	cr_assert_eq(info_of(s).active_objects, 1);
	sc_slab_free(s, b);
	sc_slab_free(s, a); /* freeing the quarantined object is refused */
	cr_assert_eq(seen.calls, 2);
	cr_assert_eq(info_of(s).active_objects, 0);
	sc_slab_destroy(s);
}

Test(alloc_debug_handler, plain_double_free_reported_and_abandoned)
{
	struct sc_slab *s = sc_slab_create("hplain", 128, 0, 0);
	void *a, *b;

	install_handler();
	a = sc_slab_alloc(s);
	b = sc_slab_alloc(s);
	sc_slab_free(s, a);
	sc_slab_free(s, a);
	cr_assert_eq(seen.calls, 1);
	cr_assert_str_eq(seen.slab, "hplain");
	cr_assert_eq(seen.obj, a);
	cr_assert(strstr(seen.what, "double free"), "%s", seen.what);
	cr_assert_eq(info_of(s).frees, 1);
	cr_assert_eq(info_of(s).active_objects, 1);
	/* the object is handed out once, not twice */
	cr_assert_eq(sc_slab_alloc(s), a);
	cr_assert_neq(sc_slab_alloc(s), a);
	sc_slab_free(s, b);
	sc_slab_destroy(s);
}

/*
 * A free of the object a magazine handed out last keeps its check (its
 * pointer is still in the slot above the magazine's top). A pointer of a
 * destroyed cache left in such a slot when its magazines pass to a new
 * cache of the same index, misaligned for the new cache's slots, is
 * refused by the new cache, not taken as its object: by the time the
 * magazine is flushed (sc_slab_info()) at the latest.
 */
Test(alloc_debug_handler, stale_slot_of_a_destroyed_cache_is_not_trusted)
{
	struct sc_slab *old = sc_slab_create("hstale-old", 64, 0, 0);
	struct sc_slab *cur;
	void *p[64], *c;

	install_handler();
	cr_assert_not_null(old);
	/* one refill of 64: slot i holds the object handed out 63 - i-th */
	for (int i = 0; i < 64; i++)
		cr_assert_not_null(p[i] = sc_slab_alloc(old));
	sc_slab_destroy(old);
	cur = sc_slab_create("hstale-new", 4096, 0, 0);
	cr_assert_not_null(cur);
	cr_assert_eq(info_of(cur).objects_per_slab, 15);
	/* its magazine: 15 from one slab in slots 0-14; slot 15 is stale */
	c = sc_slab_alloc(cur);
	cr_assert_not_null(c);
	sc_slab_free(cur, c);
	sc_slab_free(cur, p[63 - 15]);
	cr_assert_eq(info_of(cur).active_objects, 0);
	cr_assert_eq(seen.calls, 1, "a pointer of the old cache is refused");
	cr_assert_str_eq(seen.slab, "hstale-new");
	sc_slab_destroy(cur);
}

/*
 * A double free after the slab went back to the system: the slab header
 * that the pointer masks to is unmapped (libc backend: munmap), so the
 * check must not read it before knowing the slab is one of the cache's.
 */
Test(alloc_debug_handler, double_free_after_slab_released_is_reported)
{
	struct sc_slab *s;
	void *a;

	setenv("SC_ALLOC_BACKEND", "libc", 1);
	s = sc_slab_create("hgone", 32, 0, SC_SLAB_POISON);
	install_handler();
	a = sc_slab_alloc(s);
	cr_assert_not_null(a);
	sc_slab_free(s, a);
	cr_assert_gt(sc_slab_shrink(s), 0, "the empty slab went back");
	sc_slab_free(s, a);
	cr_assert_eq(seen.calls, 1);
	cr_assert_eq(seen.obj, a);
	cr_assert_eq(info_of(s).frees, 1, "the bad free is not counted");
	cr_assert_eq(info_of(s).slabs, 0);
	sc_slab_destroy(s);
}

/* A pointer whose slab-aligned base is not mapped at all. */
Test(alloc_debug_handler, foreign_pointer_below_unmapped_base_is_reported)
{
	struct sc_slab *s = sc_slab_create("hmap", 32, 0, SC_SLAB_RED_ZONE);
	struct sc_slab_info info = info_of(s);
	size_t span = 2 * info.slab_size;
	char *map, *base, *obj;

	install_handler();
	map = mmap(NULL, 2 * span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		   0);
	cr_assert_neq(map, MAP_FAILED);
	base = (char *)(((uintptr_t)map + info.slab_size - 1) &
			~(uintptr_t)(info.slab_size - 1));
	/* only the last page of one slab-sized, slab-aligned span is mapped */
	obj = base + info.slab_size - 4096;
	cr_assert_eq(mprotect(obj, 4096, PROT_READ | PROT_WRITE), 0);
	sc_slab_free(s, obj + 64);
	cr_assert_eq(seen.calls, 1);
	cr_assert_eq(seen.obj, obj + 64);
	cr_assert(strstr(seen.what, "not from this slab"), "%s", seen.what);
	cr_assert_eq(info_of(s).frees, 0);
	munmap(map, 2 * span);
	sc_slab_destroy(s);
}

/*
 * @theirs, an object of @other, was freed into @s last: the next
 * allocation from @s refuses it, once, and hands out another object,
 * which is freed again; @s then holds @active objects, @other its one.
 */
static void foreign_refused_by_next_alloc(struct sc_slab *s,
					  struct sc_slab *other, char *theirs,
					  char *expect, size_t active)
{
	char *next = sc_slab_alloc(s);

	cr_assert_eq(seen.calls, 1);
	cr_assert_str_eq(seen.slab, info_of(s).name);
	cr_assert_eq(seen.obj, theirs);
	cr_assert(strstr(seen.what, "not from this slab"), "%s", seen.what);
	cr_assert_eq(next, expect, "the next object in the magazine instead");
	cr_assert_eq(info_of(s).active_objects, active + 1);
	cr_assert_eq(info_of(other).active_objects, 1, "theirs left alone");
	sc_slab_free(s, next);
	sc_slab_free(other, theirs);
	cr_assert_eq(seen.calls, 1);
	cr_assert_eq(info_of(s).active_objects, active);
	sc_slab_destroy(other);
}

/*
 * Without debug flags, a free checks the pointer's offset and its owner
 * (the slab header's cache) before the object is used again: the foreign
 * pointer waits in the magazine, unchecked, and is refused when the next
 * allocation would hand it out. It never is.
 */
Test(alloc_debug_handler, plain_foreign_pointer_refused_before_reuse)
{
	struct sc_slab *s = sc_slab_create("hpf", 64, 0, 0);
	struct sc_slab *other = sc_slab_create("hpf-other", 64, 0, 0);
	char *mine, *theirs;

	install_handler();
	mine = sc_slab_alloc(s);
	theirs = sc_slab_alloc(other);
	cr_assert(mine && theirs);
	sc_slab_free(s, mine);
	sc_slab_free(s, theirs);
	foreign_refused_by_next_alloc(s, other, theirs, mine, 0);
	cr_assert_eq(info_of(s).frees, 2, "the bad free is not counted");
	sc_slab_destroy(s);
}

/*
 * An interior pointer is refused before it is used: the offset is checked
 * with the owner, when the object leaves the magazine (at the free itself
 * under AddressSanitizer, which poisons the slot). The next allocation
 * would hand it out: it hands out the object below it instead.
 */
Test(alloc_debug_handler, plain_interior_pointer_refused_before_use)
{
	struct sc_slab *s = sc_slab_create("hpi", 64, 0, 0);
	char *a = sc_slab_alloc(s), *b = sc_slab_alloc(s), *next;

	install_handler();
	cr_assert(a && b);
	sc_slab_free(s, b);
	sc_slab_free(s, a + 8);
	next = sc_slab_alloc(s);
	cr_assert_eq(seen.calls, 1);
	cr_assert_eq(seen.obj, a + 8);
	cr_assert(strstr(seen.what, "inside an object"), "%s", seen.what);
	cr_assert_eq(next, b, "the next object in the magazine instead");
	cr_assert_eq(info_of(s).frees, 1, "the bad free is not counted");
	sc_slab_free(s, next);
	sc_slab_free(s, a);
	cr_assert_eq(info_of(s).active_objects, 0);
	cr_assert_eq(seen.calls, 1);
	sc_slab_destroy(s);
}

/*
 * The slot above a magazine's top keeps the check of the object last
 * handed out, so that an alloc/free pair checks nothing. A foreign
 * pointer freed over that slot takes its check away: the next
 * allocation checks it and refuses it rather than hand it out.
 */
Test(alloc_debug_handler, plain_foreign_pointer_over_a_checked_slot)
{
	struct sc_slab *s = sc_slab_create("hpc", 64, 0, 0);
	struct sc_slab *other = sc_slab_create("hpc-other", 64, 0, 0);
	char *a, *b, *theirs;

	install_handler();
	b = sc_slab_alloc(s);
	a = sc_slab_alloc(s);
	theirs = sc_slab_alloc(other);
	cr_assert(a && b && theirs);
	sc_slab_free(s, b);
	sc_slab_free(s, a);
	cr_assert_eq(sc_slab_alloc(s), a, "the pair: the same object again");
	sc_slab_free(s, theirs); /* into the slot @a left */
	cr_assert_eq(seen.calls, 0, "not checked at the free");
	foreign_refused_by_next_alloc(s, other, theirs, b, 1);
	sc_slab_free(s, a);
	sc_slab_destroy(s);
}

/*
 * Foreign pointers among many frees: the magazine fills and spills into
 * the slabs, and each foreign one is refused once, before the spill, while
 * every own object goes back. The other cache's objects stay its own.
 */
Test(alloc_debug_handler, plain_foreign_pointers_refused_before_spill)
{
	struct sc_slab *s = sc_slab_create("hps", 64, 0, 0);
	struct sc_slab *other = sc_slab_create("hps-other", 64, 0, 0);
	void *mine[200], *theirs[3];
	int i;

	install_handler();
	for (i = 0; i < 200; i++)
		cr_assert_not_null(mine[i] = sc_slab_alloc(s));
	for (i = 0; i < 3; i++)
		cr_assert_not_null(theirs[i] = sc_slab_alloc(other));
	for (i = 0; i < 200; i++) {
		sc_slab_free(s, mine[i]);
		if (i == 10 || i == 70 || i == 199)
			sc_slab_free(s, theirs[(i > 10) + (i > 70)]);
	}
	/* two spills checked the first two; sc_slab_info() flushes the rest */
	cr_assert_eq(info_of(s).active_objects, 0);
	cr_assert_eq(seen.calls, 3);
	cr_assert_eq(seen.obj, theirs[2]);
	cr_assert_eq(info_of(s).frees, 200);
	cr_assert_eq(info_of(other).active_objects, 3);
	for (i = 0; i < 3; i++)
		sc_slab_free(other, theirs[i]);
	cr_assert_eq(info_of(other).active_objects, 0);
	cr_assert_eq(seen.calls, 3);
	sc_slab_destroy(s);
	sc_slab_destroy(other);
}

#define DRAIN_OBJS 60 /* fewer than the smallest magazine tried here */

/*
 * Free DRAIN_OBJS objects of @s into the magazine with @bad (a pointer
 * that is not one of @s's objects) at position @at, and flush them with
 * sc_slab_info(): @bad is refused once, every object goes back, and only
 * the good frees are counted.
 */
static void drain_one_bad(struct sc_slab *s, void *const *mine, void *bad,
			  int at, const char *what)
{
	unsigned long long frees = info_of(s).frees;
	int calls = seen.calls;

	for (int i = 0; i <= DRAIN_OBJS; i++) {
		if (i == at)
			sc_slab_free(s, bad);
		if (i < DRAIN_OBJS)
			sc_slab_free(s, mine[i]);
	}
	cr_assert_eq(info_of(s).active_objects, 0, "at %d", at);
	cr_assert_eq(seen.calls, calls + 1, "at %d", at);
	cr_assert_eq(seen.obj, bad);
	cr_assert(strstr(seen.what, what), "at %d: %s", at, seen.what);
	cr_assert_eq(info_of(s).frees, frees + DRAIN_OBJS, "at %d", at);
}

/*
 * A magazine going back into its slabs checks the objects not checked
 * yet as it pushes them; one that fails (of another cache, inside an
 * object) is refused, wherever it is in the batch (first, in the middle,
 * last), and every other object goes back. For slots of a power of two
 * and not, with the slab header among the objects and in front.
 */
Test(alloc_debug_handler, plain_bad_pointers_anywhere_in_a_drain)
{
	static const size_t sizes[] = { 24, 64, 200, 1000 };
	static const int ats[] = { 0, 1, DRAIN_OBJS / 2, DRAIN_OBJS };
	void *mine[DRAIN_OBJS], *theirs;

	install_handler();
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct sc_slab *s = sc_slab_create("hdrain", sizes[k], 0, 0);
		struct sc_slab *other =
			sc_slab_create("hdrain-other", sizes[k], 0, 0);

		cr_assert(s && other);
		cr_assert_not_null(theirs = sc_slab_alloc(other));
		for (size_t a = 0; a < sizeof(ats) / sizeof(ats[0]); a++) {
			for (int i = 0; i < DRAIN_OBJS; i++)
				cr_assert_not_null(mine[i] = sc_slab_alloc(s));
			drain_one_bad(s, mine, theirs, ats[a],
				      "not from this slab");
			for (int i = 0; i < DRAIN_OBJS; i++)
				cr_assert_not_null(mine[i] = sc_slab_alloc(s));
			/* the object it points into is freed after it */
			drain_one_bad(s, mine, (char *)mine[DRAIN_OBJS - 1] + 8,
				      ats[a], "inside an object");
		}
		cr_assert_eq(info_of(other).active_objects, 1);
		sc_slab_free(other, theirs);
		cr_assert_eq(info_of(other).active_objects, 0);
		sc_slab_destroy(other);
		sc_slab_destroy(s);
	}
}

/*
 * Where the header of the slab holding @a (of @s, its only allocated
 * object) is, found from the outside: the longest run of the slab's bytes
 * that no object covers, once all its objects are out. The header and
 * its index stack are that run, in front of the objects or among them
 * (Documentation/slab.rst, "Colouring"). The objects taken are freed.
 */
static char *slab_header_of(struct sc_slab *s, char *a,
			    const struct sc_slab_info *info)
{
	size_t n = 2 * info->objects_per_slab, i, run = 0, best = 0, at = 0;
	uintptr_t base = (uintptr_t)a & ~(uintptr_t)(info->slab_size - 1);
	unsigned char *used = calloc(info->slab_size, 1);
	void **objs = calloc(n, sizeof(*objs));

	cr_assert(used && objs);
	memset(used + ((uintptr_t)a - base), 1, info->slot_size);
	for (i = 0; i < n; i++) {
		uintptr_t o = (uintptr_t)(objs[i] = sc_slab_alloc(s));

		cr_assert_neq(o, 0);
		if ((o & ~(uintptr_t)(info->slab_size - 1)) == base)
			memset(used + (o - base), 1, info->slot_size);
	}
	for (i = 0; i <= info->slab_size; i++) {
		if (i < info->slab_size && !used[i]) {
			run++;
			continue;
		}
		if (run > best) {
			best = run;
			at = i - run;
		}
		run = 0;
	}
	cr_assert_geq(best, 64, "a header's line at least");
	for (i = 0; i < n; i++)
		sc_slab_free(s, objs[i]);
	free(objs);
	free(used);
	return (char *)base + at;
}

/*
 * The offset check is one multiply, not a division: every interior offset
 * of a slot of odd size is refused, the start of the next slot is not,
 * and neither is anything below the first object. Each is refused by the
 * flush of sc_slab_info() at the latest.
 */
Test(alloc_debug_handler, plain_offsets_of_an_odd_slot_size)
{
	struct sc_slab *s = sc_slab_create("hodd", 24, 0, 0);
	struct sc_slab_info info = info_of(s);
	char *a = sc_slab_alloc(s), *header;
	size_t k;

	cr_assert_not_null(a);
	header = slab_header_of(s, a, &info);
	cr_assert_eq(info_of(s).active_objects, 1);
	install_handler();
	cr_assert_not_null(a);
	cr_assert_eq(info.slot_size, 24, "not a power of two");
	for (k = 1; k < info.slot_size; k++) {
		sc_slab_free(s, a + k);
		info_of(s);
		cr_assert_eq(seen.calls, (int)k);
		cr_assert_eq(seen.obj, a + k);
		cr_assert(strstr(seen.what, "inside an object"), "%zu: %s", k,
			  seen.what);
	}
	sc_slab_free(s, header + 8); /* the slab header */
	info_of(s);
	cr_assert_eq(seen.calls, (int)info.slot_size);
	cr_assert(strstr(seen.what, "not from this slab"), "%s", seen.what);
	cr_assert_eq(info_of(s).active_objects, 1, "nothing was freed");
	sc_slab_free(s, a);
	cr_assert_eq(info_of(s).active_objects, 0);
	cr_assert_eq(seen.calls, (int)info.slot_size);
	sc_slab_destroy(s);
}

/*
 * A slab header among the objects starts on a slot's boundary, and its
 * owner is the cache: only the check that a pointer is not into the
 * header's slots refuses a free of the header itself, or of any slot it
 * takes. Each goes through the magazine and is refused by the flush of
 * sc_slab_info(), and nothing is freed.
 */
Test(alloc_debug_handler, plain_free_of_the_header_slots_refused)
{
	struct sc_slab *s = sc_slab_create("hhdr", 64, 0, 0);
	struct sc_slab_info info = info_of(s);
	char *a = sc_slab_alloc(s), *header;
	int calls = 0;

	cr_assert_not_null(a);
	header = slab_header_of(s, a, &info);
	cr_assert_eq(((uintptr_t)header - (uintptr_t)a) % info.slot_size, 0,
		     "the header is among the objects, on a slot's start");
	install_handler();
	/* the header's line and its index stack: 64 + 2 * (objs - 10) */
	for (size_t off = 0; off < 64 + 2 * (info.objects_per_slab - 10);
	     off += info.slot_size) {
		sc_slab_free(s, header + off);
		info_of(s);
		calls++;
		cr_assert_eq(seen.calls, calls, "offset %zu", off);
		cr_assert_eq(seen.obj, header + off);
		cr_assert(strstr(seen.what, "not from this slab"), "%s",
			  seen.what);
		cr_assert_eq(info_of(s).active_objects, 1, "nothing freed");
	}
	sc_slab_free(s, a);
	cr_assert_eq(info_of(s).active_objects, 0);
	cr_assert_eq(seen.calls, calls);
	sc_slab_destroy(s);
}

/* One-byte slots (size 1, alignment 1): every offset is a slot's start. */
Test(alloc_debug_handler, plain_one_byte_slots_free_cleanly)
{
	struct sc_slab *s = sc_slab_create("hone", 1, 1, 0);
	char *objs[100];
	int i;

	install_handler();
	cr_assert_not_null(s);
	cr_assert_eq(info_of(s).slot_size, 1);
	for (i = 0; i < 100; i++)
		cr_assert_not_null(objs[i] = sc_slab_alloc(s));
	for (i = 0; i < 100; i++)
		sc_slab_free(s, objs[i]);
	cr_assert_eq(seen.calls, 0, "%s", seen.what);
	cr_assert_eq(info_of(s).active_objects, 0);
	sc_slab_destroy(s);
}
