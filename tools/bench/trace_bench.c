// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sc-bench-trace: replay real cache traces (selftests/traces: OLTP and P3
 * from the ARC paper, a CloudPhysics sample) and synthetic Zipf traces
 * through slabcache's default policy, and through an exact-LRU reference
 * model, at the same cache sizes. Every request is a get-or-insert of an
 * entry of cost 1 under a limit of the cache size in entries.
 *
 * The default policy is exact LRU (Qt semantics), so the two miss ratios
 * must be equal: the program prints both, and exits 1 if any pair differs
 * by 0.0005 or more (3 decimals, perf notes §6.2.5) — a wrong LRU order
 * is a bug, not a slow run.
 *
 * The reference model maps trace ids to dense ids once, then keeps the
 * LRU list in two arrays indexed by dense id: obviously right, and shares
 * no code with the library. At the ARC paper's OLTP cache sizes (1000 to
 * 15000 pages) it gives the LRU hit ratios of the paper's OLTP table.
 *
 * Single-threaded; no locks.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <slabcache.h>

#include "harness.h"

#define KEY_SLOT 24
#define MAX_LIST 16

struct trace {
	char name[64];
	uint64_t *ids; /* as in the trace */
	uint32_t *dense;
	size_t n, cap, unique;
	char *keys; /* n keys of KEY_SLOT bytes */
};

static void trace_push(struct trace *t, uint64_t id)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1u << 16;
		uint64_t *tmp = realloc(t->ids, cap * sizeof(*tmp));

		if (!tmp) {
			fprintf(stderr, "sc-bench-trace: out of memory\n");
			exit(2);
		}
		t->ids = tmp;
		t->cap = cap;
	}
	t->ids[t->n++] = id;
}

/*
 * ARC ".lis" lines are "start count 0 seq": pages start..start+count-1;
 * other files hold one id per line. ".zst" files go through zstd -dc.
 */
static int trace_load(struct trace *t, const char *path, size_t limit)
{
	const char *base = strrchr(path, '/');
	bool zst = strstr(path, ".zst") != NULL;
	bool lis = strstr(path, ".lis") != NULL;
	char line[256];
	FILE *f;

	snprintf(t->name, sizeof(t->name), "%s", base ? base + 1 : path);
	if (zst) {
		char cmd[4200];

		snprintf(cmd, sizeof(cmd), "zstd -dc -- '%s'", path);
		f = popen(cmd, "r");
	} else {
		f = fopen(path, "r");
	}
	if (!f)
		return -errno;
	while ((!limit || t->n < limit) && fgets(line, sizeof(line), f)) {
		unsigned long long start, count;

		if (lis) {
			if (sscanf(line, "%llu %llu", &start, &count) != 2)
				continue;
			for (unsigned long long i = 0;
			     i < count && (!limit || t->n < limit); i++)
				trace_push(t, start + i);
		} else if (sscanf(line, "%llu", &start) == 1) {
			trace_push(t, start);
		}
	}
	if (zst) {
		/* stopping early closes the pipe under zstd: not an error */
		int st = pclose(f);

		if (st && !limit)
			return -EIO;
	} else {
		fclose(f);
	}
	return t->n ? 0 : -ENODATA;
}

static void trace_zipf(struct trace *t, size_t keys, size_t n, double theta,
		       uint64_t seed)
{
	struct bench_rng rng;
	struct bench_zipf z;
	uint32_t *perm = bench_xmalloc(keys * sizeof(*perm));

	snprintf(t->name, sizeof(t->name), "zipf %.2f (%zu keys)", theta, keys);
	bench_rng_seed(&rng, seed);
	bench_perm(perm, keys, &rng);
	bench_zipf_init(&z, keys, theta);
	for (size_t i = 0; i < n; i++)
		trace_push(t, perm[bench_zipf_next(&z, &rng)]);
	free(perm);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void trace_prepare(struct trace *t)
{
	uint64_t *sorted = bench_xmalloc(t->n * sizeof(*sorted));
	size_t u = 0;

	memcpy(sorted, t->ids, t->n * sizeof(*sorted));
	qsort(sorted, t->n, sizeof(*sorted), cmp_u64);
	for (size_t i = 0; i < t->n; i++)
		if (!u || sorted[u - 1] != sorted[i])
			sorted[u++] = sorted[i];
	t->unique = u;
	t->dense = bench_xmalloc(t->n * sizeof(*t->dense));
	t->keys = bench_xmalloc(t->n * KEY_SLOT);
	for (size_t i = 0; i < t->n; i++) {
		size_t lo = 0, hi = u;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (sorted[mid] < t->ids[i])
				lo = mid + 1;
			else
				hi = mid;
		}
		t->dense[i] = (uint32_t)lo;
		snprintf(t->keys + i * KEY_SLOT, KEY_SLOT, "t:%llu",
			 (unsigned long long)t->ids[i]);
	}
	free(sorted);
}

static void trace_free(struct trace *t)
{
	free(t->ids);
	free(t->dense);
	free(t->keys);
}

/* The exact-LRU reference: doubly linked list over dense ids. */
static size_t lru_model_misses(const struct trace *t, size_t size)
{
	const uint32_t none = UINT32_MAX;
	uint32_t *prev = bench_xmalloc(t->unique * sizeof(*prev));
	uint32_t *next = bench_xmalloc(t->unique * sizeof(*next));
	bool *in = calloc(t->unique, sizeof(*in));
	uint32_t head = none, tail = none;
	size_t count = 0, misses = 0;

	if (!in) {
		fprintf(stderr, "sc-bench-trace: out of memory\n");
		exit(2);
	}
	for (size_t i = 0; i < t->n; i++) {
		uint32_t id = t->dense[i];

		if (in[id]) {
			if (head == id)
				continue;
			/* unlink (id is not the head, so prev exists) */
			next[prev[id]] = next[id];
			if (next[id] != none)
				prev[next[id]] = prev[id];
			else
				tail = prev[id];
		} else {
			misses++;
			if (count == size) {
				uint32_t victim = tail;

				tail = prev[victim];
				if (tail != none)
					next[tail] = none;
				else
					head = none;
				in[victim] = false;
				count--;
			}
			in[id] = true;
			count++;
		}
		/* push at the head */
		prev[id] = none;
		next[id] = head;
		if (head != none)
			prev[head] = id;
		head = id;
		if (tail == none)
			tail = id;
	}
	free(prev);
	free(next);
	free(in);
	return misses;
}

static char value[1];

static size_t slabcache_misses(const struct trace *t, size_t size,
			       double *ns_per_req)
{
	struct sc_cache_config cfg = {
		.name = "bench-trace",
		.limit = size,
		.flags = SC_CACHE_NO_SHRINKER,
	};
	struct sc_cache *c = sc_cache_create(&cfg);
	size_t misses = 0;
	uint64_t t0;

	if (!c) {
		fprintf(stderr, "sc-bench-trace: sc_cache_create: %s\n",
			strerror(errno));
		exit(2);
	}
	t0 = bench_now_ns();
	for (size_t i = 0; i < t->n; i++) {
		const char *k = t->keys + i * KEY_SLOT;

		if (!sc_cache_find(c, k)) {
			misses++;
			if (sc_cache_insert(c, k, value, 1)) {
				fprintf(stderr, "sc-bench-trace: insert: %s\n",
					strerror(errno));
				exit(2);
			}
		}
	}
	*ns_per_req = (double)(bench_now_ns() - t0) / (double)t->n;
	sc_cache_destroy(c);
	return misses;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sc-bench-trace [options] [TRACE...]\n"
		"  TRACE           ARC .lis(.zst) or one-id-per-line file\n"
		"  --sizes LIST    cache sizes in entries (default: 1%%, 5%%, 10%%\n"
		"                  and 30%% of the trace's unique ids)\n"
		"  --limit N       replay only the first N requests of each file\n"
		"  --zipf N        add synthetic Zipf 0.8 and 0.99 traces of N\n"
		"                  requests over N/10 keys (default 1M; 0: none)\n"
		"  --csv FILE      write the results as CSV\n");
}

int main(int argc, char **argv)
{
	size_t sizes[MAX_LIST], nr_sizes = 0, limit = 0, zipf_n = 1000000;
	const char *files[MAX_LIST], *csv_path = NULL;
	size_t nr_files = 0, nr_traces = 0, differ = 0;
	struct trace traces[MAX_LIST + 2];
	FILE *csv = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = true;

		if (!strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (a[0] != '-') {
			if (nr_files < MAX_LIST)
				files[nr_files++] = a;
			continue;
		}
		if (!v) {
			usage(stderr);
			return 2;
		}
		i++;
		if (!strcmp(a, "--sizes"))
			ok = (nr_sizes = bench_parse_list(v, sizes,
							  MAX_LIST)) != 0;
		else if (!strcmp(a, "--limit"))
			ok = (limit = bench_parse_size(v)) != 0;
		else if (!strcmp(a, "--zipf"))
			zipf_n = strcmp(v, "0") ? bench_parse_size(v) : 0;
		else if (!strcmp(a, "--csv"))
			csv_path = v;
		else
			ok = false;
		if (!ok) {
			fprintf(stderr, "sc-bench-trace: bad option %s %s\n", a,
				v);
			usage(stderr);
			return 2;
		}
	}

	memset(traces, 0, sizeof(traces));
	for (size_t i = 0; i < nr_files; i++) {
		int err = trace_load(&traces[nr_traces], files[i], limit);

		if (err) {
			fprintf(stderr, "sc-bench-trace: %s: %s\n", files[i],
				strerror(-err));
			return 2;
		}
		nr_traces++;
	}
	if (zipf_n >= 100) {
		trace_zipf(&traces[nr_traces++], zipf_n / 10, zipf_n, 0.8, 1);
		trace_zipf(&traces[nr_traces++], zipf_n / 10, zipf_n, 0.99, 2);
	}

	printf("## Trace replay: slabcache default policy vs exact LRU\n\n");
	bench_print_machine(stdout, "");
	printf("\n| trace | requests | unique | cache entries | slabcache "
	       "miss ratio | exact LRU miss ratio | equal | slabcache "
	       "ns/request |\n|---|---|---|---|---|---|---|---|\n");
	if (csv_path) {
		csv = fopen(csv_path, "w");
		if (csv) {
			bench_print_machine(csv, "# ");
			fprintf(csv, "trace,requests,unique,size,sc_misses,"
				     "lru_misses,sc_miss_ratio,lru_miss_ratio,"
				     "ns_per_request\n");
		}
	}
	for (size_t ti = 0; ti < nr_traces; ti++) {
		struct trace *t = &traces[ti];
		size_t sz[MAX_LIST], nsz = nr_sizes;

		trace_prepare(t);
		if (nr_sizes) {
			memcpy(sz, sizes, nr_sizes * sizeof(sizes[0]));
		} else {
			static const double frac[] = { 0.01, 0.05, 0.1, 0.3 };

			for (nsz = 0; nsz < 4; nsz++) {
				sz[nsz] = (size_t)(frac[nsz] * t->unique);
				if (!sz[nsz])
					sz[nsz] = 1;
			}
		}
		for (size_t si = 0; si < nsz; si++) {
			double ns;
			size_t sc = slabcache_misses(t, sz[si], &ns);
			size_t ref = lru_model_misses(t, sz[si]);
			double scr = (double)sc / t->n,
			       refr = (double)ref / t->n;
			bool equal = fabs(scr - refr) < 0.0005;

			differ += !equal;
			printf("| %s | %zu | %zu | %zu | %.4f | %.4f | %s | "
			       "%.0f |\n",
			       t->name, t->n, t->unique, sz[si], scr, refr,
			       sc == ref ? "yes (same count)" :
			       equal	 ? "to 3 decimals" :
					   "NO",
			       ns);
			if (csv)
				fprintf(csv,
					"\"%s\",%zu,%zu,%zu,%zu,%zu,%.6f,"
					"%.6f,%.1f\n",
					t->name, t->n, t->unique, sz[si], sc,
					ref, scr, refr, ns);
		}
		fflush(stdout);
		trace_free(t);
	}
	if (csv)
		fclose(csv);
	if (differ) {
		fprintf(stderr,
			"sc-bench-trace: %zu replay(s) where slabcache's miss "
			"ratio differs from exact LRU\n",
			differ);
		return 1;
	}
	printf("\nslabcache's miss ratio equals exact LRU's on every "
	       "replay\n");
	return 0;
}
