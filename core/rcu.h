/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_CORE_RCU_H
#define SC_CORE_RCU_H

/*
 * Read-copy-update for the cache's lock-free lookups: readers mark a
 * read-side critical section in a line of their own thread, writers ask
 * whether every section that could still see something they unlinked has
 * ended (a grace period) before they free it. The grace periods are
 * polled, never waited for on a writer's fast path: core/cache.c keeps
 * what it unlinked in batches, each stamped with the grace period it
 * needs, and frees a batch when a later write finds it has passed.
 *
 * Reader:  ctr = gp (release); barrier; ...loads...; ctr = 0 (release)
 * Writer:  ...unlink (release stores)...; t = ++gp; barrier;
 *          passed(t) when every reader's ctr is 0 or >= t (acquire loads)
 *
 * Why it is safe (store buffering with a full barrier on each side): if
 * a reader's loads could see an object the writer unlinked before taking
 * t, the reader's ctr store precedes its loads and the writer's unlink
 * precedes its ctr loads, so the writer's load sees the reader's ctr,
 * which is < t (it was read from gp before the increment) and nonzero:
 * the grace period waits for it. A reader that reads gp only after the
 * increment (acquire, against the increment's release) stores a value
 * >= t and sees the unlink. The reader's ctr stores are release stores
 * and the writer's loads of them acquire loads, so everything a reader
 * did in its earlier sections happens before the writer's free (which is
 * also what ThreadSanitizer checks).
 *
 * The reader's side of the barrier: membarrier(2). Where the kernel has
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED (Linux 4.14 and later), a reader's
 * barrier is a compiler barrier only, and the writer asks the kernel to
 * run a full barrier on every CPU that runs a thread of this process
 * before it reads the readers' counters: the barrier sits between each
 * reader's earlier and later accesses, whichever side of its ctr store
 * it falls. One membarrier serves every grace period whose ticket it
 * follows, and polls ask for one at most once per SC_RCU_BARRIER_NS
 * (unless memory waiting on it has grown large, or a writer must wait),
 * so readers pay nothing and writers a few microseconds a millisecond at
 * most. Where it is missing (older kernels, seccomp filters that refuse
 * it), readers run a full barrier of their own (sc_smp_mb()) instead. A
 * process with one registered thread needs neither: the writer is the
 * only reader and is not inside a section while it writes.
 *
 * This is liburcu's "memb" flavour reduced to what the cache needs: no
 * nesting, no call_rcu thread (the cache polls from its own writes), and
 * a 64-bit counter, so one phase is enough (liburcu flips a phase bit
 * because its counter shares a word with the nesting count).
 * Documentation/concurrency.rst has the reasoning and the measurements.
 *
 * Readers register themselves at their first section (a list under
 * sc_rcu_lock) and leave at thread exit; with membarrier(2) a thread
 * that registers runs one before its first section, which lets a writer
 * that is the only registered thread free at once (sc_rcu_alone()). After fork(), the child keeps
 * only the forking thread.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "alloc/alloc.h"

/* One reader thread; alone in its cache line, written only by its thread. */
struct sc_rcu_reader {
	atomic_uint_fast64_t ctr; /* 0: outside; else gp at section start */
	bool registered;
	struct sc_rcu_reader *prev, *next; /* sc_rcu_readers, sc_rcu_lock */
} __attribute__((aligned(64)));

SC_HIDDEN extern __thread struct sc_rcu_reader sc_rcu_self;
SC_HIDDEN extern atomic_uint_fast64_t sc_rcu_gp;
/* Readers run their own full barrier: membarrier(2) is not available. */
SC_HIDDEN extern atomic_bool sc_rcu_reader_mb;

static inline bool sc_rcu_readers_fence(void)
{
	return atomic_load_explicit(&sc_rcu_reader_mb, memory_order_relaxed);
}

/* Registered readers (sc_rcu_lock; read without it by sc_rcu_alone()) */
SC_HIDDEN extern atomic_uint sc_rcu_nr_readers;

SC_HIDDEN void sc_rcu_register(struct sc_rcu_reader *r);

/*
 * sc_rcu_exit_hook() - Does a registered thread pass through
 * sc_pin_thread_exit() when it exits? (A thread-specific key: false only
 * if the process ran out of them.)
 */
SC_HIDDEN bool sc_rcu_exit_hook(void);

/*
 * sc_rcu_expedited() - Is membarrier(2)'s private expedited command
 * registered for the process? (Initializes the grace-period machinery.)
 */
SC_HIDDEN bool sc_rcu_expedited(void);

/*
 * sc_rcu_membarrier() - A full barrier in every running thread of the
 * process (membarrier(2), private expedited). Only after
 * sc_rcu_expedited() said yes.
 * Return: false if the call failed (a seccomp filter installed since).
 */
SC_HIDDEN bool sc_rcu_membarrier(void);

/*
 * sc_rcu_alone() - Can no other thread be inside a read-side section, now
 * or later, that saw what the caller unlinked before this call? True when
 * no thread but the caller has registered and readers need no barrier of
 * their own (membarrier(2)): a thread that registers after the load below
 * runs membarrier() between its registration and its first section, which
 * puts a full barrier in the caller's stream either after this load (then
 * the unlink, before it, is seen by every section of the new thread) or
 * before it (then the load sees the new count). Without membarrier(2):
 * false, the caller waits for grace periods as usual. The load is an
 * acquire: a thread that unregistered (at its exit) lowered the count
 * with a release, so what it logged and read in its sections is visible
 * to a caller that sees it gone (core/cache.c, __sc_write_alone_locked()).
 * Context: not inside a read-side section.
 */
static inline bool sc_rcu_alone(void)
{
	return !sc_rcu_readers_fence() &&
	       atomic_load_explicit(&sc_rcu_nr_readers, memory_order_acquire) <=
		       (sc_rcu_self.registered ? 1u : 0u);
}

/*
 * A full barrier: orders earlier stores before later loads. On x86-64 a
 * locked add to the stack is as strong as mfence and cheaper; elsewhere
 * the C11 fence. ThreadSanitizer does not model fences (nor does it need
 * this one: what it checks rests on the release/acquire pairs above).
 */
#if defined(__x86_64__) && !defined(CONFIG_SC_TSAN)
static inline void sc_smp_mb(void)
{
	__asm__ __volatile__("lock; addl $0,-4(%%rsp)" ::: "memory", "cc");
}
#else
#if defined(CONFIG_SC_TSAN) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
static inline void sc_smp_mb(void)
{
	atomic_thread_fence(memory_order_seq_cst);
}
#if defined(CONFIG_SC_TSAN) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

/*
 * Context: any thread, not nested, never across a call that can block on
 * a grace period (sc_rcu_synchronize()) or take a cache lock that a
 * writer holds while waiting for one.
 */
static inline void sc_rcu_read_lock(void)
{
	struct sc_rcu_reader *r = &sc_rcu_self;

	if (sc_unlikely(!r->registered))
		sc_rcu_register(r);
	atomic_store_explicit(
		&r->ctr, atomic_load_explicit(&sc_rcu_gp, memory_order_acquire),
		memory_order_release);
	if (sc_unlikely(sc_rcu_readers_fence()))
		sc_smp_mb();
	else
		atomic_signal_fence(memory_order_seq_cst);
}

static inline void sc_rcu_read_unlock(void)
{
	atomic_store_explicit(&sc_rcu_self.ctr, 0, memory_order_release);
}

/*
 * sc_rcu_start() - Start a grace period for everything unlinked so far.
 * Return: its ticket for sc_rcu_passed() and sc_rcu_wait().
 */
static inline uint64_t sc_rcu_start(void)
{
	uint64_t t =
		atomic_fetch_add_explicit(&sc_rcu_gp, 1, memory_order_release) +
		1;

	sc_smp_mb();
	return t;
}

/*
 * sc_rcu_passed() - Has the grace period @t ended? One look at every
 * reader, no waiting. @urgent: run the readers' barrier now if it is
 * due, however recent the last one.
 * Context: not inside a read-side section; takes sc_rcu_lock (a leaf).
 */
SC_HIDDEN bool sc_rcu_passed(uint64_t t, bool urgent);

enum sc_rcu_poll { SC_RCU_PASSED, SC_RCU_NOT_YET, SC_RCU_BARRIER };

/*
 * sc_rcu_poll() - sc_rcu_passed() without the readers' barrier: where
 * sc_rcu_passed() would run it, return SC_RCU_BARRIER instead, for the
 * caller to run it (sc_rcu_barrier()) where it can wait, and poll again.
 * For a poll under a lock that other CPUs want: the barrier interrupts
 * every CPU that runs the process, which under a hypervisor can take
 * tens of microseconds (Documentation/performance.rst, "The readers'
 * barrier after the cache lock").
 * Context: as sc_rcu_passed().
 */
SC_HIDDEN enum sc_rcu_poll sc_rcu_poll(uint64_t t, bool urgent);

/*
 * sc_rcu_barrier() - Run the readers' barrier for ticket @t, unless one
 * has run since @t was taken or none is needed.
 * Context: as sc_rcu_passed().
 */
SC_HIDDEN void sc_rcu_barrier(uint64_t t);

/*
 * sc_rcu_wait() - Wait until the grace period @t has ended.
 * Context: not inside a read-side section, no cache lock held.
 */
SC_HIDDEN void sc_rcu_wait(uint64_t t);

static inline void sc_rcu_synchronize(void)
{
	sc_rcu_wait(sc_rcu_start());
}

#endif /* SC_CORE_RCU_H */
