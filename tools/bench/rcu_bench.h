/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_BENCH_RCU_BENCH_H
#define SC_BENCH_RCU_BENCH_H

/* sc-bench-rcu's view of liburcu (tools/bench/rcu_urcu.c). */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

void urcu_reader_register(void);
void urcu_reader_unregister(void);
/* @n read-side sections, each loading @word; returns the sum (kept). */
uint64_t urcu_read_loop(const _Atomic uint64_t *word, uint64_t n);
void urcu_synchronize(void);
/* true when liburcu's readers run a barrier of their own */
bool urcu_readers_fence(void);

#endif /* SC_BENCH_RCU_BENCH_H */
