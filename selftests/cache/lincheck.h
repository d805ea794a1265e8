/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_SELFTESTS_CACHE_LINCHECK_H
#define SC_SELFTESTS_CACHE_LINCHECK_H

/*
 * A linearizability checker for recorded histories of one sc_cache, after
 * Wing & Gong with Lowe's just-in-time linearization and memoization of
 * (linearized set, model state), as porcupine and Knossos do it; the
 * sequential specification is a model of the cache written here from the
 * documented semantics (exact LRU, SIEVE or S3-FIFO with its ghost,
 * adaptive share and admission; costs, handles, pins, release callbacks),
 * not from the library's code.
 *
 * A history is a list of completed operations, each with the times of its
 * invocation and response, its arguments and its result: the return value
 * and the values whose release callback ran inside the call, in order.
 * Values are numbered; value 0 means "none".
 *
 * What "linearizable" means for hits (lincheck.c, "Hits"): in the default
 * mode a hit's effect on the eviction order (LRU move, SIEVE visited bit,
 * S3-FIFO frequency increment)
 * may be applied later than the lookup itself, but in each thread's order
 * and before any operation that starts after the hit returned chooses
 * victims or reports the order (insert, add, replace, set_limit, shrink,
 * age, clear, destroy). That is the cache's documented guarantee for
 * concurrent use. LIN_STRICT applies each hit at its lookup: plain
 * linearizability.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum lin_kind {
	LIN_INSERT, /* key, val, cost -> ret (1: not admitted); rel */
	LIN_FIND, /* key -> out_val */
	LIN_REMOVE, /* key -> ret; rel */
	LIN_ADD, /* val, cost -> handle (LIN_NONE on failure), ret = -errno */
	LIN_FIND_KEY, /* handle -> out_val */
	LIN_REPLACE, /* handle, val, cost -> ret; rel */
	LIN_REMOVE_KEY, /* handle -> ret; rel */
	LIN_KEY_VALID, /* handle -> ret (0/1) */
	LIN_GET, /* key -> out_val, out_cost */
	LIN_GET_KEY, /* handle -> out_val, out_cost */
	LIN_PUT, /* pin: the op index of the get -> rel */
	LIN_SET_LIMIT, /* arg -> ret; rel */
	LIN_LIMIT, /* -> ret */
	LIN_TOTAL_COST, /* -> ret */
	LIN_COUNT, /* -> ret */
	LIN_CLEAR, /* -> rel */
	LIN_SHRINK, /* arg -> ret; rel */
	LIN_AGE, /* -> ret; rel */
	LIN_STATS, /* -> ret, st */
	LIN_DESTROY, /* -> rel; only sc_entry_put may follow */
	LIN_BAD_ARG, /* a call refused for its arguments: ret == arg */
	LIN_CONTAINS, /* key -> ret (0/1) */
	LIN_NR_KINDS
};

/* The cache's counters, in struct sc_cache_stats order. */
enum lin_counter {
	LIN_HITS,
	LIN_MISSES,
	LIN_INSERTS,
	LIN_REPLACES,
	LIN_REMOVES,
	LIN_EVICTIONS,
	LIN_SHRUNK,
	LIN_INSERT_FAILURES,
	LIN_NR_COUNTERS
};

#define LIN_NONE UINT32_MAX /* no handle (SC_KEY_NONE, a failed add) */
#define LIN_MAX_REL 48 /* releases recorded per operation */
#define LIN_MAX_THREADS 8
#define LIN_MAX_OPS 1024 /* per history */

struct lin_op {
	uint64_t call, ret_time; /* any monotonic clock; equal = concurrent */
	uint8_t thread, kind;
	uint8_t nr_rel;
	bool rel_overflow; /* more than LIN_MAX_REL releases: never valid */
	uint32_t key; /* string key index, or handle index, or LIN_NONE */
	uint32_t val; /* value passed in */
	uint64_t arg; /* cost; limit; nr_to_scan; LIN_BAD_ARG: ret wanted */
	uint32_t pin; /* LIN_PUT: index of its LIN_GET/LIN_GET_KEY */
	uint32_t handle; /* LIN_ADD: handle index returned, or LIN_NONE */
	uint64_t raw_key; /* handle ops: sc_key_t.id, for messages */
	int64_t ret; /* return value, -errno, or the number read */
	uint32_t out_val; /* lookups: value found, 0 for a miss */
	uint64_t out_cost; /* gets: sc_entry_cost() */
	uint64_t st_count, st_total, st_limit, st_pinned; /* LIN_STATS */
	uint64_t st_counter[LIN_NR_COUNTERS];
	const char *what; /* LIN_BAD_ARG: the call, for messages */
	uint32_t rel[LIN_MAX_REL];
	/*
	 * When each release ran, on the clock of call and ret_time; 0 where
	 * not recorded. A release of a value the call dropped while pinned
	 * is accepted only with its time (see "Pins" in lincheck.c).
	 */
	uint64_t rel_time[LIN_MAX_REL];
};

struct lin_history {
	bool sieve; /* SC_CACHE_POLICY_SIEVE */
	bool s3fifo; /* SC_CACHE_POLICY_S3FIFO */
	/*
	 * S3-FIFO: each string key's hash under the cache's hash seed
	 * (sc_key_hash()), indexed as the keys are; [nr_keys].
	 */
	const uint64_t *key_hashes;
	uint64_t limit; /* at creation */
	uint32_t nr_ops;
	struct lin_op *ops; /* any order */
	/* for messages only (may be NULL) */
	const char *const *key_names;
	uint32_t nr_keys;
};

enum lin_mode {
	LIN_GUARANTEE, /* hits applied late but in time: the default */
	LIN_STRICT, /* hits applied at their lookup */
};

enum lin_verdict {
	LIN_OK = 1,
	LIN_FAIL = 0,
	LIN_UNKNOWN = -1, /* search budget exhausted or model bounds hit */
};

struct lin_stats {
	unsigned long long states; /* memoized (set, state) pairs */
	unsigned long long steps; /* model steps tried */
	unsigned long long backtracks;
	unsigned int max_depth;
	unsigned int max_succ; /* most successor states of one step */
	/* steps whose successors were cut at the checker's bound */
	unsigned long long truncated;
	const char *unknown_why; /* LIN_UNKNOWN: which bound */
};

/* Most memoized configurations per history before LIN_UNKNOWN. */
#define LIN_DEFAULT_BUDGET 4000000ull

/*
 * lin_check() - Is @h linearizable against the model in @mode?
 * @st may be NULL. @budget: 0 for LIN_DEFAULT_BUDGET.
 */
enum lin_verdict lin_check(const struct lin_history *h, enum lin_mode mode,
			   unsigned long long budget, struct lin_stats *st);

/*
 * lin_explain() - Print why @h is not linearizable: the shortest prefix
 * (operations in order of invocation) that is not, in readable form, the
 * longest linearization of it the search found, the model's state after
 * it, and why each operation that could come next was refused.
 */
void lin_explain(FILE *out, const struct lin_history *h, enum lin_mode mode);

/* Print @h, one operation per line, in order of invocation. */
void lin_print_history(FILE *out, const struct lin_history *h);

/*
 * lin_check_counters() - The counters of every LIN_STATS operation lie
 * between what the operations that returned before it must have counted
 * and what those invoked before it returned may have, and never go down
 * between two stats calls in real-time order. Returns the number of
 * violations, each printed to @out.
 */
unsigned int lin_check_counters(const struct lin_history *h, FILE *out);

/* The op's name ("insert", "find_key", ...). */
const char *lin_kind_name(unsigned int kind);

#endif /* SC_SELFTESTS_CACHE_LINCHECK_H */
