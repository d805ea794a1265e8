// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * liburcu's "memb" flavour for sc-bench-rcu, in a file of its own: its
 * headers map rcu_read_lock() and friends by macro, and the read-side
 * fast paths are inlined here (_LGPL_SOURCE) as they are in a program
 * that uses liburcu for its lookups.
 */
#define _LGPL_SOURCE
#include <urcu/urcu-memb.h>

#include "rcu_bench.h"

void urcu_reader_register(void)
{
	urcu_memb_register_thread();
}

void urcu_reader_unregister(void)
{
	urcu_memb_unregister_thread();
}

uint64_t urcu_read_loop(const _Atomic uint64_t *word, uint64_t n)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < n; i++) {
		urcu_memb_read_lock();
		sum += atomic_load_explicit(word, memory_order_relaxed);
		urcu_memb_read_unlock();
	}
	return sum;
}

void urcu_synchronize(void)
{
	urcu_memb_synchronize_rcu();
}

bool urcu_readers_fence(void)
{
	return !urcu_memb_has_sys_membarrier;
}
