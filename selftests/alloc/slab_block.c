// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Slab blocks (alloc/block.c): slabs under SC_BLOCK_SIZE are cut from
 * shared blocks of that size, and free slabs go back to the system in as
 * few calls as their layout allows. The block layer's counters
 * (sc_block_get_stats()) say how many blocks, ranges, system calls and
 * bytes; /proc/self/statm says whether the memory really went. Each test
 * runs in its own process, so the counters start at zero.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config.h"
#include "alloc/alloc.h"
#include "alloc/block.h"
#include <slabcache/slab.h>

#include "fill.h"
#include "statm.h"

#define OBJ 4096 /* 15 objects per 64 KiB slab */

static struct sc_block_stats stats(void)
{
	struct sc_block_stats st;

	sc_block_get_stats(&st);
	return st;
}

static struct sc_slab_info info_of(struct sc_slab *s)
{
	struct sc_slab_info info;

	cr_assert_eq(sc_slab_info(s, &info), 0);
	return info;
}

/*
 * One object in a slab of its own cache: the first slab of a block of
 * OBJ's slab size, so that block never empties whole during the test.
 */
static struct sc_slab *pin_block(void **kept)
{
	struct sc_slab *keep = sc_slab_create("blk-pin", OBJ, 0, 0);

	cr_assert_not_null(keep);
	*kept = sc_slab_alloc(keep);
	cr_assert_not_null(*kept);
	return keep;
}

/* The end of a test that pinned a block: everything goes, blocks too. */
static void unpin_and_destroy(struct sc_slab *keep, void *kept,
			      struct sc_slab *s, void **objs)
{
	sc_slab_free(keep, kept);
	free(objs);
	sc_slab_destroy(s);
	sc_slab_destroy(keep);
	cr_assert_eq(stats().blocks, 0);
}

/*
 * Free every object of the even slabs of @objs (@per_slab to a slab, in
 * order), as one deferred release, so that the block is flushed once:
 * every other slab empty, the odd ones still in use.
 */
static void free_even_slabs(struct sc_slab *s, void **objs, size_t n,
			    size_t per_slab)
{
	sc_alloc_defer_release();
	for (size_t i = 0; i < n; i++) {
		if ((i / per_slab) % 2)
			continue; /* odd slabs stay in use */
		sc_slab_free(s, objs[i]);
		objs[i] = NULL;
	}
	sc_alloc_reclaim_deferred();
}

/*
 * The live objects of @objs (NULL where freed already) kept their
 * contents (0x5a at both ends); free them, the array and @s.
 */
static void free_live_and_destroy(struct sc_slab *s, void **objs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = objs[i];

		if (!p)
			continue;
		cr_assert_eq(p[0], 0x5a);
		cr_assert_eq(p[OBJ - 1], 0x5a);
		sc_slab_free(s, objs[i]);
	}
	free(objs);
	sc_slab_destroy(s);
}

static uintptr_t block_of(const void *p)
{
	return (uintptr_t)p & ~(uintptr_t)(SC_BLOCK_SIZE - 1);
}

Test(alloc_block, slabs_of_one_size_share_a_block)
{
	struct sc_slab *a = sc_slab_create("blk-a", OBJ, 0, 0);
	struct sc_slab *b = sc_slab_create("blk-b", OBJ, 0, 0);
	void *pa, *pb;

	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_eq(info_of(a).slab_size, 64 << 10);
	pa = sc_slab_alloc(a);
	pb = sc_slab_alloc(b);
	cr_assert_not_null(pa);
	cr_assert_not_null(pb);
	/* two caches, two slabs, one block */
	cr_assert_eq(block_of(pa), block_of(pb));
	cr_assert_eq(stats().blocks, 1);
	cr_assert_eq(stats().slabs, 2);
	sc_slab_free(a, pa);
	sc_slab_free(b, pb);
	sc_slab_destroy(a);
	sc_slab_destroy(b);
	cr_assert_eq(stats().blocks, 0, "the empty block went back");
	cr_assert_eq(stats().blocks_freed, 1);
}

/* A block whose slabs are all free goes back whole: no madvise at all. */
Test(alloc_block, empty_block_goes_back_whole)
{
	struct sc_slab *s = sc_slab_create("blk-whole", OBJ, 0, 0);
	size_t n, per_block = SC_BLOCK_SIZE / (64 << 10);
	void **objs;

	cr_assert_not_null(s);
	objs = fill_slabs(s, per_block, &n);
	cr_assert_eq(stats().blocks, 1);
	cr_assert_eq(stats().slabs, per_block);
	sc_alloc_defer_release();
	for (size_t i = 0; i < n; i++)
		sc_slab_free(s, objs[i]);
	sc_alloc_reclaim_deferred();
	cr_assert_eq(info_of(s).slabs, 0);
	cr_assert_eq(stats().blocks, 0);
	cr_assert_eq(stats().blocks_freed, 1);
	cr_assert_eq(stats().purges, 0);
	free(objs);
	sc_slab_destroy(s);
}

/*
 * 31 neighbouring slabs freed together, one slab of the block still in
 * use: their pages go back in one madvise() call, and RSS falls.
 */
Test(alloc_block, neighbouring_free_slabs_go_back_in_one_call)
{
	struct sc_slab *s = sc_slab_create("blk-run", OBJ, 0, 0);
	void *kept;
	struct sc_slab *keep = pin_block(&kept);
	size_t n, per_block = SC_BLOCK_SIZE / (64 << 10), before, after;
	void **objs;

	cr_assert_not_null(s);
	objs = fill_slabs(s, per_block - 1, &n);
	cr_assert_eq(stats().blocks, 1);
	before = rss_bytes();
	sc_alloc_defer_release();
	for (size_t i = 0; i < n; i++)
		sc_slab_free(s, objs[i]);
	sc_alloc_reclaim_deferred();
	after = rss_bytes();
	cr_assert_eq(stats().blocks, 1, "one slab keeps the block");
	cr_assert_eq(stats().purges, 1);
	cr_assert_eq(stats().purged_bytes, (per_block - 1) * (64 << 10));
	cr_assert_lt(after + (per_block - 1) * (64 << 10) * 3 / 4, before,
		     "RSS %zu KiB before, %zu KiB after", before >> 10,
		     after >> 10);
	unpin_and_destroy(keep, kept, s, objs);
}

/*
 * Outside a pressure pass, freed slabs wait until a block's worth has
 * gathered, then go back together: slabs emptied one at a time still
 * go back in runs, and at most a block's worth of them stays resident
 * meanwhile.
 * A reclaim takes the rest at once. Without decay time, so that slabs
 * go to their block as they empty (the block layer is the subject).
 */
Test(alloc_block, freed_slabs_wait_for_a_block_worth)
{
	unsigned int decay = sc_alloc_set_decay_ms(0);
	struct sc_slab *s = sc_slab_create("blk-lazy", OBJ, 0, 0);
	void *kept;
	struct sc_slab *keep = pin_block(&kept);
	size_t n, per_slab, slab = 64 << 10, i;
	size_t per_block = SC_BLOCK_SIZE / slab;
	void **objs;

	cr_assert_not_null(s);
	per_slab = info_of(s).objects_per_slab;
	objs = fill_slabs(s, 48, &n);
	/* 5/8 of a block's slabs' objects: less than a block */
	for (i = 0; i < per_block * 5 / 8 * per_slab; i++)
		sc_slab_free(s, objs[i]);
	cr_assert_lt(stats().dirty_bytes, SC_BLOCK_SIZE);
	cr_assert_eq(stats().purges, 0, "nothing went back yet");
	cr_assert_eq(stats().blocks_freed, 0);
	/* the rest: past a block's worth, they go back in a few runs */
	for (; i < n; i++)
		sc_slab_free(s, objs[i]);
	cr_assert_gt(stats().purges, 0);
	cr_assert_lt(stats().purges, 8, "%lu calls for 46 slabs",
		     (unsigned long)stats().purges);
	/* what is left (under a block, and the two kept) goes on a reclaim */
	sc_alloc_reclaim();
	cr_assert_eq(stats().slabs, 1, "only the pinned slab is out");
	cr_assert_eq(info_of(s).slabs, 0);
	cr_assert_geq(stats().purged_bytes +
			      stats().blocks_freed * SC_BLOCK_SIZE,
		      47 * slab - slab);
	unpin_and_destroy(keep, kept, s, objs);
	sc_alloc_set_decay_ms(decay);
}

/*
 * Every other slab free: one range per run, never one across a used slab,
 * and all of them in one process_madvise() call where the kernel takes
 * it (else one madvise() each). Either way the freed slabs' memory goes
 * and the live objects keep their contents.
 */
Test(alloc_block, runs_split_at_slabs_in_use)
{
	struct sc_slab *s = sc_slab_create("blk-alt", OBJ, 0, 0);
	size_t n, per_block = SC_BLOCK_SIZE / (64 << 10), per_slab;
	size_t before, after;
	void **objs;

	cr_assert_not_null(s);
	per_slab = info_of(s).objects_per_slab;
	objs = fill_slabs(s, per_block, &n);
	before = rss_bytes();
	free_even_slabs(s, objs, n, per_slab);
	cr_assert_eq(info_of(s).slabs, per_block / 2);
	after = rss_bytes();
	cr_assert_eq(stats().purges, per_block / 2);
	cr_assert_eq(stats().purged_bytes, per_block / 2 * (64 << 10));
	cr_log_info("%zu ranges in %llu system calls (%s)", per_block / 2,
		    (unsigned long long)stats().purge_calls,
		    sc_block_purge_batched() ? "process_madvise" : "madvise");
	cr_assert_eq(stats().purge_calls,
		     sc_block_purge_batched() ? 1 : per_block / 2);
	cr_assert_lt(after + per_block / 2 * (64 << 10) * 3 / 4, before,
		     "RSS %zu KiB before, %zu KiB after", before >> 10,
		     after >> 10);
	free_live_and_destroy(s, objs, n);
	cr_assert_eq(stats().blocks, 0);
}

/* A slab freed and taken again before any flush is reused as it is. */
Test(alloc_block, slab_freed_then_taken_before_a_flush_is_reused)
{
	struct sc_slab *s = sc_slab_create("blk-reuse", OBJ, 0, 0);
	size_t n, kept_slabs, slabs;
	void **objs, *p;

	cr_assert_not_null(s);
	/* more slabs than a cache keeps empty, so some go to the block */
	objs = fill_slabs(s, 8, &n);
	sc_alloc_defer_release();
	for (size_t i = 0; i < n; i++)
		sc_slab_free(s, objs[i]);
	kept_slabs = info_of(s).empty_slabs;
	cr_assert_eq(kept_slabs, 8);
	sc_alloc_reclaim_deferred();
	cr_assert_eq(stats().blocks, 0);
	/* now a fresh block: slabs come from it in address order */
	p = sc_slab_alloc(s);
	cr_assert_not_null(p);
	slabs = stats().slabs;
	cr_assert_eq(slabs, 1);
	cr_assert_eq((uintptr_t)p & (SC_BLOCK_SIZE - 1) & ~(uintptr_t)0xffff, 0,
		     "the lowest slab of the block");
	sc_slab_free(s, p);
	free(objs);
	sc_slab_destroy(s);
}

/*
 * Slabs of a block's size and more come from the backend directly: an
 * eighth of it is an object whose slab is that size (7 objects to a slab).
 */
Test(alloc_block, big_slabs_bypass_blocks)
{
	struct sc_slab *s = sc_slab_create("blk-big", SC_BLOCK_SIZE / 8, 0, 0);
	void *p;

	cr_assert_not_null(s);
	cr_assert_eq(info_of(s).slab_size, SC_BLOCK_SIZE);
	p = sc_slab_alloc(s);
	cr_assert_not_null(p);
	memset(p, 1, SC_BLOCK_SIZE / 8);
	cr_assert_eq(stats().blocks, 0);
	cr_assert_eq(stats().slabs, 0);
	sc_slab_free(s, p);
	cr_assert_gt(sc_slab_shrink(s), 0);
	sc_slab_destroy(s);
}

/*
 * The backend refusing a block (the address space is full): the
 * allocation fails with ENOMEM and counts as a failure; slabs already
 * in the block are still handed out, and the next block comes once
 * memory is there again.
 */
Test(alloc_block, backend_refusing_a_block_fails_cleanly)
{
	struct sc_slab *s;
	size_t per_block = SC_BLOCK_SIZE / (64 << 10), n, per_slab;
	size_t vm_bytes;
	struct rlimit old, lim;
	void **objs, *p;

	setenv("SC_ALLOC_BACKEND", "libc", 1);
	s = sc_slab_create("blk-as", OBJ, 0, 0);
	cr_assert_not_null(s);
	per_slab = info_of(s).objects_per_slab;
	objs = fill_slabs(s, 1, &n);

	statm_read(&vm_bytes, NULL);
	cr_assert_eq(getrlimit(RLIMIT_AS, &old), 0);
	lim = old;
	/* room for the process as it is, not for one more block */
	lim.rlim_cur = (rlim_t)vm_bytes + SC_BLOCK_SIZE / 2;
	cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);

	/* the rest of the block's slabs need no new memory */
	for (size_t i = 0; i < (per_block - 1) * per_slab; i++)
		cr_assert_not_null(sc_slab_alloc(s), "object %zu", i);
	errno = 0;
	p = sc_slab_alloc(s);
	cr_assert_null(p);
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(info_of(s).alloc_failures, 1);
	cr_assert_eq(info_of(s).slabs, per_block);
	cr_assert_eq(stats().blocks, 1);
	cr_assert_eq(stats().blocks_allocated, 1);

	cr_assert_eq(setrlimit(RLIMIT_AS, &old), 0);
	p = sc_slab_alloc(s);
	cr_assert_not_null(p);
	cr_assert_eq(stats().blocks, 2);
	cr_assert_eq(info_of(s).slabs, per_block + 1);
	free(objs);
	sc_slab_destroy(s); /* takes every slab with it */
	cr_assert_eq(stats().blocks, 0);
}

/*
 * Transparent huge pages: the flags the kernel shows for the mapping
 * that holds @addr (the VmFlags line of /proc/self/smaps), "hg" for
 * MADV_HUGEPAGE and "nh" for MADV_NOHUGEPAGE; and the AnonHugePages of
 * that mapping, in KiB.
 */
static bool vma_has_flag(const void *addr, const char *flag,
			 unsigned long *huge_kb)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	uintptr_t a = (uintptr_t)addr;
	unsigned long lo, hi;
	bool in = false, found = false;
	char line[512];

	cr_assert_not_null(f);
	*huge_kb = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = a >= lo && a < hi;
			continue;
		}
		if (!in)
			continue;
		if (!strncmp(line, "AnonHugePages:", 14))
			cr_assert_eq(sscanf(line + 14, "%lu", huge_kb), 1);
		if (!strncmp(line, "VmFlags:", 8)) {
			char *tok, *save;

			for (tok = strtok_r(line + 8, " \n", &save); tok;
			     tok = strtok_r(NULL, " \n", &save))
				found |= !strcmp(tok, flag);
			break;
		}
	}
	fclose(f);
	return found;
}

/* Whether this kernel has transparent huge pages (MADV_HUGEPAGE works). */
static bool kernel_has_thp(void)
{
	return access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;
}

#define HUGE_AFTER 4 /* BLOCK_HUGE_AFTER in alloc/block.c */

/*
 * The first HUGE_AFTER blocks of 64 KiB slabs are not advised: with
 * @base, a cache that fills them, and their objects in *@base_objs.
 */
static struct sc_slab *fill_unadvised_blocks(void ***base_objs, size_t *n)
{
	struct sc_slab *base = sc_slab_create("blk-base", OBJ, 0, 0);
	size_t per_block = SC_BLOCK_SIZE / (64 << 10);
	unsigned long huge_kb;

	cr_assert_not_null(base);
	*base_objs = fill_slabs(base, HUGE_AFTER * per_block, n);
	cr_assert_eq(stats().blocks, HUGE_AFTER);
	cr_assert_eq(stats().huge_blocks, 0, "the first blocks are not");
	cr_assert_not(vma_has_flag((*base_objs)[0], "hg", &huge_kb));
	return base;
}

static void free_all(struct sc_slab *s, void **objs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sc_slab_free(s, objs[i]);
	free(objs);
	sc_slab_destroy(s);
}

/*
 * A new block of 64 KiB slabs beyond the first HUGE_AFTER is taken
 * SC_BLOCK_HUGE_SIZE long (one huge page: its slabs share one aligned
 * range of that size) and advised MADV_HUGEPAGE; the first flush that
 * returns part of it withdraws the advice before its ranges go (so that
 * khugepaged cannot fill them again), RSS falls all the same and the live
 * objects keep their contents; a block given back whole needs nothing
 * withdrawn.
 */
static void huge_block_cycle(const char *backend)
{
	struct sc_slab *s, *base;
	size_t n, per_block = SC_BLOCK_HUGE_SIZE / (64 << 10), per_slab, base_n;
	size_t before, after;
	unsigned long huge_kb;
	void **objs, **base_objs, *first;
	uintptr_t huge_mask = ~(uintptr_t)(SC_BLOCK_HUGE_SIZE - 1);

	setenv("SC_ALLOC_BACKEND", backend, 1);
	setenv("SC_ALLOC_THP", "1", 1);
	s = sc_slab_create("blk-thp", OBJ, 0, 0);
	cr_assert_not_null(s);
	cr_assert_str_eq(sc_alloc_backend(), backend);
	base = fill_unadvised_blocks(&base_objs, &base_n);
	if (!kernel_has_thp()) {
		/* madvise() says EINVAL: the blocks are used as they are */
		objs = fill_slabs(s, 1, &n);
		cr_assert_eq(stats().huge_blocks, 0);
		goto out;
	}
	per_slab = info_of(s).objects_per_slab;
	objs = fill_slabs(s, per_block, &n);
	first = objs[0];
	cr_assert_eq(stats().blocks, HUGE_AFTER + 1);
	cr_assert_eq(stats().huge_blocks, 1);
	cr_assert_eq((uintptr_t)objs[n - 1] & huge_mask,
		     (uintptr_t)first & huge_mask,
		     "the block's slabs are one aligned huge page's range");
	cr_assert(vma_has_flag(first, "hg", &huge_kb),
		  "the block is advised MADV_HUGEPAGE");
	cr_assert(vma_has_flag(objs[n - 1], "hg", &huge_kb));
	/* whether the kernel found a free 2 MiB page is its business */
	cr_log_info("%s: %lu KiB of huge pages in the block's mapping", backend,
		    huge_kb);

	before = rss_bytes();
	free_even_slabs(s, objs, n, per_slab);
	after = rss_bytes();
	cr_assert_eq(stats().purges, per_block / 2);
	cr_assert_eq(stats().huge_blocks, 0);
	cr_assert_eq(stats().huge_withdrawn, 1);
	cr_assert_not(vma_has_flag(first, "hg", &huge_kb));
	cr_assert(vma_has_flag(first, "nh", &huge_kb),
		  "the advice is withdrawn before the ranges go");
	cr_assert_lt(after + per_block / 2 * (64 << 10) * 3 / 4, before,
		     "RSS %zu KiB before, %zu KiB after", before >> 10,
		     after >> 10);
	free_live_and_destroy(s, objs, n);
	cr_assert_eq(stats().blocks, HUGE_AFTER);

	/* the next block is advised again; whole, it goes back as it is */
	s = sc_slab_create("blk-thp2", OBJ, 0, 0);
	cr_assert_not_null(s);
	objs = fill_slabs(s, 1, &n);
	cr_assert_eq(stats().huge_blocks, 1);
	cr_assert(vma_has_flag(objs[0], "hg", &huge_kb));
out:
	free_all(s, objs, n);
	cr_assert_eq(stats().blocks, HUGE_AFTER);
	cr_assert_eq(stats().huge_blocks, 0);
	free_all(base, base_objs, base_n);
	cr_assert_eq(stats().blocks, 0);
	cr_assert_eq(stats().huge_withdrawn, kernel_has_thp() ? 1 : 0);
}

Test(alloc_block, huge_pages_libc)
{
	huge_block_cycle("libc");
}

#ifdef CONFIG_JEMALLOC
Test(alloc_block, huge_pages_jemalloc)
{
	huge_block_cycle("jemalloc");
}
#endif

/*
 * Without SC_ALLOC_THP=1 (the default, and any other value) blocks are
 * not advised, and nothing is withdrawn.
 */
Test(alloc_block, huge_pages_off_by_default)
{
	struct sc_slab *s, *base;
	unsigned long huge_kb;
	size_t n, per_block = SC_BLOCK_SIZE / (64 << 10), per_slab, base_n;
	void **objs, **base_objs;

	setenv("SC_ALLOC_THP", "yes", 1);
	base = fill_unadvised_blocks(&base_objs, &base_n);
	s = sc_slab_create("blk-nothp", OBJ, 0, 0);
	cr_assert_not_null(s);
	per_slab = info_of(s).objects_per_slab;
	objs = fill_slabs(s, per_block, &n);
	cr_assert_eq(stats().huge_blocks, 0);
	cr_assert_not(vma_has_flag(objs[0], "hg", &huge_kb));
	sc_alloc_defer_release();
	for (size_t i = 0; i < n; i++) {
		if ((i / per_slab) % 2)
			continue;
		sc_slab_free(s, objs[i]);
		objs[i] = NULL;
	}
	sc_alloc_reclaim_deferred();
	cr_assert_eq(stats().purges, per_block / 2);
	cr_assert_eq(stats().huge_withdrawn, 0);
	cr_assert_not(vma_has_flag(objs[per_slab], "nh", &huge_kb));
	free_all(s, objs, n);
	free_all(base, base_objs, base_n);
	cr_assert_eq(stats().blocks, 0);
}

/*
 * Blocks of larger slabs (objects of 16 KiB: 128 KiB slabs) stay in
 * 4 KiB pages however many there are: a huge page would hold the slabs
 * of a block not handed out yet resident, and few big objects fill a
 * slab.
 */
Test(alloc_block, huge_pages_only_for_64k_slabs)
{
	struct sc_slab *s;
	size_t n, per_block;
	unsigned long huge_kb;
	void **objs;

	setenv("SC_ALLOC_THP", "1", 1);
	s = sc_slab_create("blk-big-slabs", 16 << 10, 0, 0);
	cr_assert_not_null(s);
	cr_assert_eq(info_of(s).slab_size, 128 << 10);
	per_block = SC_BLOCK_SIZE / (128 << 10);
	objs = fill_slabs(s, (HUGE_AFTER + 2) * per_block, &n);
	cr_assert_eq(stats().blocks, HUGE_AFTER + 2);
	cr_assert_eq(stats().huge_blocks, 0);
	cr_assert_not(vma_has_flag(objs[n - 1], "hg", &huge_kb));
	free_all(s, objs, n);
	cr_assert_eq(stats().blocks, 0);
}
