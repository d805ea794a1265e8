/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_ALLOC_BLOCK_H
#define SC_ALLOC_BLOCK_H

/*
 * Slab blocks: the layer between the slab caches and the backend.
 *
 * Slabs smaller than SC_BLOCK_SIZE are carved out of blocks of
 * SC_BLOCK_SIZE bytes (aligned to it; SC_BLOCK_HUGE_SIZE for a block of
 * 64 KiB slabs advised MADV_HUGEPAGE) taken from the backend, each block
 * holding slabs of one size, shared by every cache of that slab size.
 * A slab given back stays in its block; once a block's worth of them has
 * gathered, sc_block_flush() returns the pages of all of them (and
 * sc_block_purge() does whatever their amount), neighbours together as
 * one range and all the ranges of a flush in one process_madvise() call
 * where the kernel has it (else one madvise() per range), and a block
 * whose slabs are all free goes back to the backend whole. Giving back a
 * gigabyte of slabs so costs a few hundred system calls instead of one
 * per slab (with the TLB shootdown each one costs in a multi-threaded
 * process), and one shootdown per flush where the vector is taken.
 *
 * Slabs of SC_BLOCK_SIZE and larger go to and from the backend directly.
 *
 * Lock order: innermost. The slab layer calls in with a cache lock held
 * (new slab) or with none (slabs going back, flush); the backend and
 * madvise() are called with no block lock held, except for a new block.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc/alloc.h"

/*
 * 1 MiB: a block held for a cache's last few slabs costs at most 1 MiB
 * (Documentation/performance.rst, "Slab blocks of 1 MiB").
 */
#define SC_BLOCK_SHIFT 20
#define SC_BLOCK_SIZE ((size_t)1 << SC_BLOCK_SHIFT)
/*
 * A block advised MADV_HUGEPAGE (SC_ALLOC_THP=1) is one huge page of
 * x86-64 and arm64 with 4 KiB pages, whatever SC_BLOCK_SIZE is: a block
 * smaller than that could never be one.
 */
#define SC_BLOCK_HUGE_SIZE ((size_t)2 << 20)

struct sc_block;

/**
 * struct sc_block_stats - What the block layer holds and has done.
 * @blocks: Blocks held now.
 * @slabs: Slabs handed out of blocks now.
 * @blocks_allocated: Blocks taken from the backend, ever.
 * @blocks_freed: Blocks given back to the backend whole, ever.
 * @purges: Ranges of free slabs whose pages were returned, ever (one
 *          per run of neighbouring slabs).
 * @purge_calls: System calls that returned them, ever: one per flush
 *               with process_madvise(), else one per range.
 * @purged_bytes: Bytes those ranges covered, ever.
 * @dirty_bytes: Bytes of free slabs whose pages are still resident.
 * @huge_blocks: Blocks held now that are advised MADV_HUGEPAGE (with
 *               SC_ALLOC_THP=1, new blocks of 64 KiB slabs beyond the
 *               first few, unless the kernel refuses). A block taken
 *               for the advice is SC_BLOCK_HUGE_SIZE bytes, the others
 *               SC_BLOCK_SIZE.
 * @huge_withdrawn: Blocks whose advice a flush withdrew before returning
 *                  part of them, ever.
 */
struct sc_block_stats {
	size_t blocks, slabs, dirty_bytes, huge_blocks;
	uint64_t blocks_allocated, blocks_freed, purges, purge_calls,
		purged_bytes, huge_withdrawn;
};

/*
 * sc_block_slab_alloc() - A slab of @size bytes aligned to @size.
 * @size: A power of two, at least 64 KiB.
 * @block: Out: the block it came from, to pass to sc_block_slab_free();
 *         NULL for a slab straight from the backend.
 *
 * The slab's contents are undefined (zero when its pages were returned).
 * Return: the slab, or NULL (out of memory) when the backend has no block.
 */
SC_HIDDEN void *sc_block_slab_alloc(size_t size, struct sc_block **block);

/*
 * sc_block_slab_free() - Give back a slab from sc_block_slab_alloc().
 *
 * Its pages stay resident until the next flush that acts; a slab handed
 * out again before then is reused as it is.
 */
SC_HIDDEN void sc_block_slab_free(void *slab, size_t size,
				  struct sc_block *block);

/*
 * sc_block_flush() - Once SC_BLOCK_SIZE bytes of freed slabs have
 * gathered, return to the system the pages of every slab freed since the
 * last flush that acted, and the blocks left with no slab in use; below
 * that, nothing (at most that much stays resident). Call it
 * after each run of sc_block_slab_free() calls. It never waits for a
 * flush another thread is running: that thread flushes again for it.
 */
SC_HIDDEN void sc_block_flush(void);

/*
 * sc_block_purge() - The same as sc_block_flush() however little was
 * freed, then the backend's purge(): for reclaims.
 */
SC_HIDDEN void sc_block_purge(void);

/*
 * sc_block_purge_batched() - Whether flushes return their ranges with one
 * process_madvise() call: known after the first flush of two or more
 * ranges (false until then, and for good on kernels without it).
 */
SC_HIDDEN bool sc_block_purge_batched(void);

/* sc_block_get_stats() - A consistent copy of the counters. */
SC_HIDDEN void sc_block_get_stats(struct sc_block_stats *stats);

#endif /* SC_ALLOC_BLOCK_H */
