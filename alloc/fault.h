/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_ALLOC_FAULT_H
#define SC_ALLOC_FAULT_H

/*
 * The fault-injection counter, inline for the slab fast path. Everything
 * outside alloc/ calls sc_fault_should_fail() from alloc/alloc.h, which is
 * the same code.
 *
 * While injection is off, each thread counts its attempts in its own
 * counter (no locked instruction on the fast path); sc_fault_allocations()
 * adds them up. While it is armed, every attempt goes through one
 * process-wide atomic counter, so "the nth attempt from now" is exact
 * across threads. See alloc/mem.c.
 */
#include <stdatomic.h>

#include "alloc/alloc.h"

struct sc_fault_thread {
	atomic_ulong attempts; /* written by its thread only */
	struct sc_fault_thread *prev, *next;
	bool registered;
};

/*
 * The calling thread's counter. It lives in alloc/slab.c's per-thread
 * block beside the magazines, so the slab fast path reaches both with one
 * TLS access.
 */
SC_HIDDEN struct sc_fault_thread *sc_fault_thread_self(void);
/* the armed-mode attempt number that fails; 0: injection off */
SC_HIDDEN extern atomic_ulong sc_fault_target;

/* Registration of a new thread, and every attempt while armed. */
SC_HIDDEN bool sc_fault_count_slow(struct sc_fault_thread *t);

/*
 * Count one allocation attempt of the thread whose counter is @t, if it
 * can be done here: a registered thread while injection is off.
 * Return: false if sc_fault_count_slow() must count it (and may fail it).
 */
static inline bool sc_fault_count_fast(struct sc_fault_thread *t)
{
	if (sc_likely(t->registered &&
		      !atomic_load_explicit(&sc_fault_target,
					    memory_order_relaxed))) {
		atomic_store_explicit(
			&t->attempts,
			atomic_load_explicit(&t->attempts,
					     memory_order_relaxed) +
				1,
			memory_order_relaxed);
		return true;
	}
	return false;
}

/*
 * Count one allocation attempt of the thread whose counter is @t.
 * Return: true if it must fail.
 */
static inline bool sc_fault_count_attempt(struct sc_fault_thread *t)
{
	if (sc_likely(sc_fault_count_fast(t)))
		return false;
	return sc_fault_count_slow(t);
}

#endif /* SC_ALLOC_FAULT_H */
