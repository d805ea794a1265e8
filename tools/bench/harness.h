/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_BENCH_HARNESS_H
#define SC_BENCH_HARNESS_H

/*
 * The measuring harness shared by the bench programs (tools/bench/).
 *
 * Method (Documentation/performance.rst, perf notes §6.2):
 * - throughput: CLOCK_MONOTONIC read around a whole batch of operations,
 *   never around one call; ns/op = batch time / batch ops;
 * - every peer runs once per round, rounds interleave the peers, the first
 *   round is a discarded warm-up; min, median and max over the rounds;
 * - ratios are taken between medians of the same run only;
 * - isolated latency: lfence-rdtsc-lfence around single operations, minus
 *   the median cost of an empty timed region, into a log-bucketed
 *   (HDR-style) histogram, read back as p50/p99/p99.9.
 *
 * Results are rows keyed by (bench, phase, workload, n, size, threads,
 * peer); bench_report() prints them as markdown tables grouped by
 * everything but the peer, with speed-up columns against "ours" and the
 * targets (the table in harness.c), and writes the same rows as CSV.
 *
 * Single-threaded by design: only the bench programs' main threads touch
 * the row table. No locks.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_MAX_ROUNDS 64

/* ------------------------------------------------------------- timers */

uint64_t bench_now_ns(void);
/* CPU time the calling thread has used, ns (CLOCK_THREAD_CPUTIME_ID). */
uint64_t bench_thread_cpu_ns(void);

#if defined(__x86_64__) || defined(__i386__)
static inline uint64_t bench_tsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("lfence\n\trdtsc\n\tlfence"
			     : "=a"(lo), "=d"(hi)::"memory");
	return ((uint64_t)hi << 32) | lo;
}
#else
static inline uint64_t bench_tsc(void)
{
	return bench_now_ns();
}
#endif

/*
 * bench_tsc_calibrate() - Measure TSC ticks per ns and the empty-timer
 * cost (median of many empty lfence-rdtsc pairs). Idempotent.
 */
void bench_tsc_calibrate(void);
double bench_tsc_per_ns(void);
uint64_t bench_tsc_overhead(void);

/* Keep the compiler from dropping a computed value. */
#define bench_keep(x) __asm__ __volatile__("" : : "g"(x) : "memory")

/* ------------------------------------------------------------- samples */

struct bench_samples {
	double v[BENCH_MAX_ROUNDS];
	unsigned int n;
};

void bench_samples_add(struct bench_samples *s, double v);
double bench_samples_min(const struct bench_samples *s);
double bench_samples_max(const struct bench_samples *s);
double bench_samples_median(const struct bench_samples *s);

/* ------------------------------------------------------------ histogram */

/*
 * Values below 32 ns are exact; above, each power of two is split in 16
 * sub-buckets (at most 6.25% relative error), up to 2^40 ns.
 */
#define BENCH_HIST_SUB 16
#define BENCH_HIST_BUCKETS (32 + 36 * BENCH_HIST_SUB)

struct bench_hist {
	uint64_t count[BENCH_HIST_BUCKETS];
	uint64_t total;
};

void bench_hist_record(struct bench_hist *h, uint64_t ns);
/* The upper bound of the bucket holding quantile @q (0..1); 0 if empty. */
double bench_hist_quantile(const struct bench_hist *h, double q);
/* Convert a tick delta into ns, less the empty-timer cost, floor 0. */
uint64_t bench_ticks_to_ns(uint64_t ticks);

/* ------------------------------------------------------------ randomness */

struct bench_rng {
	uint64_t s[4];
};

void bench_rng_seed(struct bench_rng *r, uint64_t seed);
uint64_t bench_rng_next(struct bench_rng *r);
/* Uniform in [0, n). */
uint64_t bench_rng_below(struct bench_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double bench_rng_double(struct bench_rng *r);
/* A random permutation of 0..n-1. */
void bench_perm(uint32_t *p, size_t n, struct bench_rng *r);

/*
 * YCSB's Zipfian generator (Gray et al., "Quickly generating billion-record
 * synthetic databases"): rank 0 is the most popular. theta must be < 1.
 */
struct bench_zipf {
	uint64_t n;
	double theta, alpha, zetan, eta, half_pow_theta;
};

void bench_zipf_init(struct bench_zipf *z, uint64_t n, double theta);
uint64_t bench_zipf_next(const struct bench_zipf *z, struct bench_rng *r);

/* ----------------------------------------------------------------- keys */

/*
 * Keys are fixed-size records of @slot bytes: slot - 1 characters and a
 * NUL. A slot of 16 gives "key:%011u"; larger slots put a constant
 * path-like prefix before it, as pixmap keys built from file names have.
 */
void bench_key_format(char *buf, size_t slot, uint32_t id);
/* A request buffer: ids[i]'s key at buf + i * slot. */
char *bench_keys_alloc(const uint32_t *ids, size_t n, size_t slot);

/* --------------------------------------------------------------- memory */

/* Bytes the process allocator has handed out (jemalloc stats.allocated,
 * or glibc mallinfo2 uordblks + hblkhd). */
size_t bench_heap_allocated(void);
const char *bench_heap_source(void);
/* Return free memory to the system: malloc_trim(0), jemalloc purge. */
void bench_heap_purge(void);
/* Resident set size from /proc/self/statm, bytes. */
size_t bench_rss_bytes(void);
/* Library slab memory held, summed from sc_slabinfo_write(), bytes. */
size_t bench_slab_bytes(void);
/*
 * Bytes the library holds in its own mappings (tools/bench/mapped.c):
 * only in programs linked with -Wl,--wrap=mmap,--wrap=munmap.
 */
size_t bench_mapped_bytes(void);

void *bench_xmalloc(size_t size);

/* ----------------------------------------------------------------- rows */

struct bench_row {
	char bench[16];
	char phase[32];
	char workload[32];
	char peer[48];
	size_t n;
	size_t size;
	unsigned int threads;
	struct bench_samples ns;
	/*
	 * Threaded phases: the threads' CPU time over the wall time, per
	 * round. Below the thread count (or the CPU count) when threads wait
	 * for a lock or other programs take the CPUs.
	 */
	struct bench_samples cpus;
	double p50, p99, p999;
	double bytes_per_entry;
	double hit_ratio;
	double extra; /* phase-specific figure, see extra_name */
	char extra_name[24];
};

/*
 * bench_row() - The row for this key, created on first use with its
 * figures unset (NAN).
 */
struct bench_row *bench_row(const char *bench, const char *phase,
			    const char *workload, const char *peer, size_t n,
			    size_t size, unsigned int threads);

/*
 * bench_report() - Print every row as markdown tables on @out and write
 * them as CSV to @csv_path (NULL: no CSV). @ours names the peer that the
 * speed-up columns are relative to. @size_name labels the size column
 * ("key B" or "object B").
 */
int bench_report(FILE *out, const char *csv_path, const char *ours,
		 const char *size_name);

/* "# <date> <host> <nproc> cpus load <1 min>" for reports. */
void bench_print_machine(FILE *out, const char *prefix);

/* Parse "1k", "100K", "1M", "1G" (powers of 1000 for k/M, 1024 for
 * KiB/MiB/GiB). Return 0 on error. */
size_t bench_parse_size(const char *s);
/* Parse a comma-separated list of sizes; return the count (max @max). */
size_t bench_parse_list(const char *s, size_t *out, size_t max);

#endif /* SC_BENCH_HARNESS_H */
