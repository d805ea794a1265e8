// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Slab blocks (see alloc/block.h for the interface).
 *
 * A block is SC_BLOCK_SIZE bytes from the backend, aligned to that size,
 * cut into 2 to 16 slabs of one power-of-two size (SC_BLOCK_HUGE_SIZE
 * bytes, 32 slabs of 64 KiB, for one advised MADV_HUGEPAGE: below). Its
 * descriptor lives outside it (malloc), so every slab keeps its whole
 * size, and holds three bitmaps of its slabs:
 *
 *   used   handed out to a slab cache;
 *   dirty  free, pages still resident (freed since the last flush);
 *   busy   free, pages being returned by a flush running unlocked:
 *          not handed out until that madvise() is done.
 *
 * A slab not in any of them is free and clean (its pages were returned,
 * or never touched). Allocation prefers a dirty slab, whose pages are
 * still resident, then the lowest clean one. Blocks with a slab not in
 * use are on their size's avail list; a block that fills leaves it and
 * rejoins at its tail when a slab comes back, so allocation fills the
 * blocks that have been partly free longest and lets the others empty.
 *
 * Blocks with dirty slabs are on the dirty list until the next flush that
 * acts: sc_block_flush() waits until SC_BLOCK_SIZE bytes of dirty slabs
 * have gathered (slabs that empty one at a time then still go back in
 * runs, and at most that much stays resident meanwhile); sc_block_purge(),
 * for reclaims, acts on any amount.
 * The flush takes the list under the lock and then, unlocked, gives every
 * block with no slab in use back to the backend and returns the pages of
 * each run of neighbouring dirty slabs as one range of MADV_DONTNEED: at
 * most one range per two slabs of the block, one when its freed slabs
 * are neighbours, none when they are all free; the ranges of a flush go
 * in one process_madvise() call where the kernel has it (one TLB
 * shootdown), else one madvise() each.
 *
 * When the environment says SC_ALLOC_THP=1, a new block of 64 KiB slabs
 * is taken SC_BLOCK_HUGE_SIZE (2 MiB) bytes long and advised
 * MADV_HUGEPAGE once its class holds BLOCK_HUGE_AFTER blocks already, so
 * that with transparent huge pages in "madvise" or "always" mode its 32
 * slabs are one 2 MiB page (a block of SC_BLOCK_SIZE, 1 MiB, could
 * never be one; the other blocks keep that size, and a block's
 * descriptor says its own): a free in random order over a
 * million small objects looks up its slab's header through one TLB entry
 * per block instead of one per 4 KiB page. A huge page is resident whole from
 * its first fault, slabs not handed out yet included: the blocks of the
 * larger slab sizes (the few slabs of big objects), and the first blocks
 * of a process, stay in 4 KiB pages, so that what a huge page holds
 * unused is at most one block (the one being filled) among at least
 * BLOCK_HUGE_AFTER. It is not the default: on the reference VM it made
 * no difference to two threads' frees that could be told from the noise,
 * and a fault of a fresh huge page there took now a third of the time of
 * 512 small ones, now ten times as long (Documentation/slab.rst, "Huge
 * pages"), under the lock of the shard taking a slab. The first flush
 * that returns part of such a block withdraws the advice
 * (MADV_NOHUGEPAGE) before its ranges go: the kernel then splits the huge
 * page at the MADV_DONTNEED, as it would anyway, and khugepaged does not
 * collapse the block again, which would fill the ranges just returned
 * with zeroed pages while slabs of the block are in use. A block given
 * back whole needs nothing.
 *
 * Lock order: block_flush_lock (one flush at a time, so that a block's
 * busy bits belong to one flush; a free only tries it, see
 * sc_block_flush()), then block_lock, which is innermost:
 * taken under a slab cache's lock (new slab) or alone. The backend is
 * called under it only for a new block; madvise() and giving blocks back
 * run unlocked.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "alloc/backend.h"
#include "alloc/block.h"
#include "alloc/lock.h"

#define BLOCK_MIN_SHIFT 16 /* the smallest slab: 64 KiB */
#define BLOCK_CLASSES (SC_BLOCK_SHIFT - BLOCK_MIN_SHIFT)
/* a block's slabs are bits of a uint32_t */
_Static_assert((SC_BLOCK_SIZE >> BLOCK_MIN_SHIFT) <= 32 &&
		       (SC_BLOCK_HUGE_SIZE >> BLOCK_MIN_SHIFT) <= 32,
	       "at most 32 slabs a block");
_Static_assert(SC_BLOCK_HUGE_SIZE >= SC_BLOCK_SIZE,
	       "a block advised MADV_HUGEPAGE is no smaller than the others");
/* blocks of 64 KiB slabs held before new ones get huge pages */
#define BLOCK_HUGE_AFTER 4

struct sc_block {
	char *base;
	struct sc_block *prev, *next; /* on block_avail[class] */
	struct sc_block *dirty_next; /* on block_dirty */
	struct sc_block *flush_next; /* on a running flush's own lists */
	uint32_t used, dirty, busy;
	uint32_t all; /* one bit per slab */
	unsigned int shift; /* log2 of the slab size */
	/* SC_BLOCK_SIZE, or SC_BLOCK_HUGE_SIZE if taken for the advice */
	size_t size;
	bool on_dirty;
	/*
	 * Advised MADV_HUGEPAGE, not withdrawn yet: set at creation, then
	 * read and cleared under block_flush_lock only.
	 */
	bool huge;
};

static struct sc_mutex block_lock = SC_MUTEX_INITIALIZER;
/* one flush at a time: a block's busy bits belong to one flush */
static struct sc_mutex block_flush_lock = SC_MUTEX_INITIALIZER;
static struct sc_block *block_avail[BLOCK_CLASSES];
static struct sc_block *block_avail_tail[BLOCK_CLASSES];
static struct sc_block *block_dirty;
static atomic_bool block_backend_dirty; /* big slabs went back since */
static atomic_bool block_flush_wanted; /* see sc_block_flush() */
/* bytes of dirty slabs: a flush waits until a block's worth gathered */
static size_t block_dirty_bytes;
static struct sc_block_stats block_stats;
/* 1: blocks are advised MADV_HUGEPAGE, -1: not; 0: not read yet */
static int block_thp;
/* blocks held per class (slab size), under block_lock */
static size_t block_count[BLOCK_CLASSES];

/* ------------------------------------------------------------ lists */

/*
 * Context: block_lock held. A block is on its size's avail list exactly
 * while it has a slab not in use (used != all); it joins at the end.
 */
static void block_avail_add(struct sc_block *b)
{
	unsigned int cls = b->shift - BLOCK_MIN_SHIFT;

	sc_lockdep_assert_held(&block_lock);
	b->next = NULL;
	b->prev = block_avail_tail[cls];
	if (b->prev)
		b->prev->next = b;
	else
		block_avail[cls] = b;
	block_avail_tail[cls] = b;
}

/* Context: block_lock held. */
static void block_avail_del(struct sc_block *b)
{
	unsigned int cls = b->shift - BLOCK_MIN_SHIFT;

	sc_lockdep_assert_held(&block_lock);
	if (b->prev)
		b->prev->next = b->next;
	else
		block_avail[cls] = b->next;
	if (b->next)
		b->next->prev = b->prev;
	else
		block_avail_tail[cls] = b->prev;
	b->prev = b->next = NULL;
}

/* Context: block_lock held. */
static void block_dirty_add(struct sc_block *b)
{
	sc_lockdep_assert_held(&block_lock);
	if (b->on_dirty)
		return;
	b->on_dirty = true;
	b->dirty_next = block_dirty;
	block_dirty = b;
}

/* ------------------------------------------------------------ alloc */

/*
 * Context: block_lock held. Whether a new block of slabs of 1 << @shift
 * bytes gets MADV_HUGEPAGE: one of 64 KiB slabs once BLOCK_HUGE_AFTER
 * are held (see the top of this file), if the environment says
 * SC_ALLOC_THP=1, read once per process (as SC_ALLOC_BACKEND is) so that
 * one build can be measured both ways.
 */
static bool block_thp_wanted(unsigned int shift)
{
	const char *want;

	sc_lockdep_assert_held(&block_lock);
	if (shift != BLOCK_MIN_SHIFT ||
	    block_count[shift - BLOCK_MIN_SHIFT] < BLOCK_HUGE_AFTER)
		return false;
	if (!block_thp) {
		want = getenv("SC_ALLOC_THP");
		block_thp = want && !strcmp(want, "1") ? 1 : -1;
	}
	return block_thp > 0;
}

/* Context: block_lock held. A fresh block on the avail list, or NULL. */
static struct sc_block *block_new(unsigned int shift)
{
	struct sc_block *b;
	bool huge;

	sc_lockdep_assert_held(&block_lock);
	huge = block_thp_wanted(shift);
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->size = huge ? SC_BLOCK_HUGE_SIZE : SC_BLOCK_SIZE;
	b->base = sc_backend()->slab_alloc(b->size);
	if (!b->base) {
		free(b);
		return NULL;
	}
	/*
	 * Best effort: a kernel without transparent huge pages says EINVAL,
	 * and the block is used in 4 KiB pages; the blocks after it are
	 * taken SC_BLOCK_SIZE long again. The advice only marks the range
	 * (no page is touched); the huge page comes at the first fault in
	 * it, in "madvise" and "always" modes alike.
	 */
	if (huge) {
		if (!madvise(b->base, b->size, MADV_HUGEPAGE)) {
			b->huge = true;
			block_stats.huge_blocks++;
		} else if (errno == EINVAL) {
			block_thp = -1;
		}
	}
	b->shift = shift;
	b->all = (uint32_t)((1ull << (b->size >> shift)) - 1);
	block_avail_add(b);
	block_count[shift - BLOCK_MIN_SHIFT]++;
	block_stats.blocks++;
	block_stats.blocks_allocated++;
	return b;
}

void *sc_block_slab_alloc(size_t size, struct sc_block **block)
{
	unsigned int shift = (unsigned int)__builtin_ctzl(size);
	uint32_t free_slabs = 0, pick;
	struct sc_block *b;
	unsigned int i;

	*block = NULL;
	if (size >= SC_BLOCK_SIZE)
		return sc_backend()->slab_alloc(size);

	sc_mutex_lock(&block_lock);
	for (b = block_avail[shift - BLOCK_MIN_SHIFT]; b; b = b->next) {
		free_slabs = b->all & ~(b->used | b->busy);
		if (free_slabs)
			break;
	}
	if (!b) {
		b = block_new(shift);
		if (!b) {
			sc_mutex_unlock(&block_lock);
			return NULL;
		}
		free_slabs = b->all;
	}
	pick = free_slabs & b->dirty ? free_slabs & b->dirty : free_slabs;
	i = (unsigned int)__builtin_ctz(pick);
	b->used |= 1u << i;
	if (b->dirty & (1u << i))
		block_dirty_bytes -= (size_t)1 << shift;
	b->dirty &= ~(1u << i);
	if (b->used == b->all)
		block_avail_del(b);
	block_stats.slabs++;
	sc_mutex_unlock(&block_lock);

	*block = b;
	return b->base + ((size_t)i << shift);
}

/* ------------------------------------------------------------ free */

void sc_block_slab_free(void *slab, size_t size, struct sc_block *b)
{
	uint32_t bit;

	if (!b) {
		sc_backend()->slab_free(slab, size);
		atomic_store(&block_backend_dirty, true);
		return;
	}
	bit = 1u << (((char *)slab - b->base) >> b->shift);
	sc_mutex_lock(&block_lock);
	if (b->used == b->all)
		block_avail_add(b);
	b->used &= ~bit;
	b->dirty |= bit;
	block_dirty_bytes += size;
	block_dirty_add(b);
	block_stats.slabs--;
	sc_mutex_unlock(&block_lock);
}

/* ------------------------------------------------------------ flush */

/*
 * The runs of one flush go back in one process_madvise(2) call where the
 * kernel allows it (Linux 6.15 and later: PIDFD_SELF_THREAD_GROUP, and
 * any advice on the caller's own memory): since Linux 6.16 it zaps every
 * range of the vector under one TLB flush, so a flush costs one
 * shootdown instead of one per run. Elsewhere (an older kernel, or a
 * seccomp filter that refuses the call) each run gets its own madvise().
 */
#ifndef PIDFD_SELF_THREAD_GROUP
#define PIDFD_SELF_THREAD_GROUP -10001
#endif
#define BLOCK_PURGE_BATCH 64 /* ranges per call: 2 MiB of 64 KiB runs */

/* 1: process_madvise() works, -1: it does not, 0: not tried yet */
static atomic_int block_batch_state;

struct block_purge_batch {
	struct iovec iov[BLOCK_PURGE_BATCH];
	unsigned int n;
	uint64_t ranges, calls, bytes;
};

/* Context: block_flush_lock held. Return the batch's ranges, empty it. */
static void block_purge_submit(struct block_purge_batch *batch)
{
	size_t done = 0; /* bytes of the vector's head returned */
	unsigned int i;
	long ret;

	sc_lockdep_assert_held(&block_flush_lock);
#ifdef SYS_process_madvise
	if (batch->n > 1 && atomic_load_explicit(&block_batch_state,
						 memory_order_relaxed) >= 0) {
		ret = syscall(SYS_process_madvise, PIDFD_SELF_THREAD_GROUP,
			      batch->iov, (size_t)batch->n, MADV_DONTNEED, 0);
		if (ret >= 0) {
			atomic_store_explicit(&block_batch_state, 1,
					      memory_order_relaxed);
			batch->calls++;
			done = (size_t)ret;
		} else if (errno != EINTR && errno != EAGAIN &&
			   errno != ENOMEM) {
			/* not this kernel, or refused by a filter: for good */
			atomic_store_explicit(&block_batch_state, -1,
					      memory_order_relaxed);
		}
	}
#endif
	/* the ranges the call did not cover (all of them without it) */
	for (i = 0; i < batch->n; i++) {
		char *base = batch->iov[i].iov_base;
		size_t len = batch->iov[i].iov_len;

		if (done >= len) {
			done -= len;
			continue;
		}
		/* best effort, as a backend's purge: the pages stay valid */
		madvise(base + done, len - done, MADV_DONTNEED);
		batch->calls++;
		done = 0;
	}
	batch->n = 0;
}

/*
 * Context: block_flush_lock held, block_lock not (a busy run is the
 * flush's own). Queue each run of neighbouring slabs in @bits.
 */
static void block_purge_runs(struct block_purge_batch *batch,
			     struct sc_block *b, uint32_t bits)
{
	sc_lockdep_assert_held(&block_flush_lock);
	sc_lockdep_assert_not_held(&block_lock);
	while (bits) {
		unsigned int first = (unsigned int)__builtin_ctz(bits);
		/* the run's ones carry out: its length is the trailing zeros */
		unsigned int len = (unsigned int)__builtin_ctzll(
			((uint64_t)bits >> first) + 1);
		size_t off = (size_t)first << b->shift;
		size_t n = (size_t)len << b->shift;

		if (batch->n == BLOCK_PURGE_BATCH)
			block_purge_submit(batch);
		batch->iov[batch->n].iov_base = b->base + off;
		batch->iov[batch->n].iov_len = n;
		batch->n++;
		batch->ranges++;
		batch->bytes += n;
		bits &= ~(uint32_t)(((1ull << len) - 1) << first);
	}
}

/*
 * Context: block_flush_lock held, block_lock not. Withdraw @b's
 * MADV_HUGEPAGE before part of it is returned (see the top of this file).
 * A failure (no memory for the split of the mapping) leaves the advice:
 * the ranges still go, and the kernel splits the huge page for them.
 */
static void block_unhuge(struct sc_block *b)
{
	sc_lockdep_assert_held(&block_flush_lock);
	sc_lockdep_assert_not_held(&block_lock);
	madvise(b->base, b->size, MADV_NOHUGEPAGE);
	b->huge = false;
}

bool sc_block_purge_batched(void)
{
	return atomic_load_explicit(&block_batch_state, memory_order_relaxed) >
	       0;
}

/*
 * Context: block_flush_lock and block_lock held. Sort the dirty list into
 * blocks to give back whole (*@gone) and blocks with runs to purge
 * (*@purge, their runs moved from dirty to busy).
 */
static void block_take_dirty(struct sc_block **gone, struct sc_block **purge)
{
	struct sc_block *b, *next;

	sc_lockdep_assert_held(&block_lock);
	sc_lockdep_assert_held(&block_flush_lock);
	/* every block with dirty slabs is on the list: all are taken */
	block_dirty_bytes = 0;
	for (b = block_dirty, block_dirty = NULL; b; b = next) {
		next = b->dirty_next;
		b->on_dirty = false;
		/* flushes are serialized: no busy bits outside this one */
		if (!b->used) {
			block_avail_del(b);
			block_count[b->shift - BLOCK_MIN_SHIFT]--;
			block_stats.blocks--;
			block_stats.blocks_freed++;
			if (b->huge)
				block_stats.huge_blocks--;
			b->flush_next = *gone;
			*gone = b;
		} else if (b->dirty) {
			b->busy = b->dirty;
			b->dirty = 0;
			b->flush_next = *purge;
			*purge = b;
		}
	}
}

/* Context: block_flush_lock held. */
static void block_flush_locked(bool all)
{
	const struct sc_backend_ops *backend = sc_backend();
	struct sc_block *gone, *purge, *b, *next;
	struct block_purge_batch batch;
	size_t unhuged;
	bool freed;

	sc_lockdep_assert_held(&block_flush_lock);
	freed = atomic_exchange(&block_backend_dirty, false);
	sc_mutex_lock(&block_lock);
	/*
	 * Fewer than a block's worth of freed slabs wait for more, so that
	 * slabs freed one run at a time still go back in runs: the RSS that
	 * lags is at most SC_BLOCK_SIZE. A reclaim takes everything.
	 */
	if (!all && block_dirty_bytes < SC_BLOCK_SIZE)
		goto out_unlock;
	while (block_dirty) {
		gone = purge = NULL;
		block_take_dirty(&gone, &purge);
		sc_mutex_unlock(&block_lock);

		for (b = gone; b; b = next) {
			next = b->flush_next;
			backend->slab_free(b->base, b->size);
			free(b);
			freed = true;
		}
		batch.n = 0;
		batch.ranges = batch.calls = batch.bytes = 0;
		unhuged = 0;
		for (b = purge; b; b = b->flush_next) {
			if (b->huge) {
				block_unhuge(b);
				unhuged++;
			}
			block_purge_runs(&batch, b, b->busy);
		}
		block_purge_submit(&batch);

		sc_mutex_lock(&block_lock);
		block_stats.huge_blocks -= unhuged;
		block_stats.huge_withdrawn += unhuged;
		block_stats.purges += batch.ranges;
		block_stats.purge_calls += batch.calls;
		block_stats.purged_bytes += batch.bytes;
		for (b = purge; b; b = next) {
			next = b->flush_next;
			b->busy = 0;
			/* its last slab came back meanwhile: the block goes too */
			if (!b->used)
				block_dirty_add(b);
		}
	}
out_unlock:
	sc_mutex_unlock(&block_lock);
	if (freed && backend->flush)
		backend->flush();
}

/*
 * A thread that gives slabs back never waits for another thread's flush
 * (its madvise() calls can take long: a TLB shootdown on every CPU the
 * process runs on). It asks for a flush and tries the lock; the thread
 * that holds it looks for a request after letting go and flushes again,
 * so a request made while it flushed is not lost.
 */
void sc_block_flush(void)
{
	atomic_store(&block_flush_wanted, true);
	while (atomic_load(&block_flush_wanted) &&
	       sc_mutex_trylock(&block_flush_lock)) {
		atomic_store(&block_flush_wanted, false);
		block_flush_locked(false);
		sc_mutex_unlock(&block_flush_lock);
	}
}

void sc_block_purge(void)
{
	sc_mutex_lock(&block_flush_lock);
	block_flush_locked(true);
	sc_mutex_unlock(&block_flush_lock);
	sc_backend()->purge();
}

void sc_block_get_stats(struct sc_block_stats *stats)
{
	sc_mutex_lock(&block_lock);
	*stats = block_stats;
	stats->dirty_bytes = block_dirty_bytes;
	sc_mutex_unlock(&block_lock);
}
