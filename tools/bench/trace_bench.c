// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sc-bench-trace: replay real cache traces (selftests/traces: OLTP and P3
 * from the ARC paper, a CloudPhysics sample) and synthetic Zipf streams
 * through slabcache under each of its eviction policies (exact LRU, the
 * default; SC_CACHE_POLICY_SIEVE; SC_CACHE_POLICY_S3FIFO), and through two
 * reference models, exact LRU and ARC, at the same cache sizes. Every
 * request is a get-or-insert of an entry of cost 1 under a limit of the
 * cache size in entries.
 *
 * The default policy is exact LRU (Qt semantics), so its miss count must
 * equal the exact-LRU model's: the program exits 1 if any replay differs
 * (a wrong LRU order is a bug, not a slow run). The SIEVE and S3-FIFO
 * replays are checked request by request against their own reference
 * models by selftests/cache/hitratio.c; here they are measured.
 *
 * The models share no code with the library. LRU keeps its list in two
 * arrays indexed by dense id; at the ARC paper's OLTP cache sizes (1000 to
 * 15000 pages) it gives the LRU hit ratios of the paper's OLTP table. ARC
 * is the paper's pseudo-code (Megiddo and Modha, FAST '03, Fig. 4), as
 * selftests/policy/models.py has it: 38.95, 46.08, 55.25, 61.87 and
 * 65.40 % on OLTP at those sizes, within 0.2 points of the paper.
 *
 * The Zipf streams are YCSB's generator with selftests/cache/hitratio.c's
 * seed (the streams of the tests and of Documentation/policy.rst); their
 * sizes are shares of the key space, a trace's of its distinct ids.
 * --scans adds the scan-resistance stream: Zipf 0.99 with, after each of
 * its first nine blocks of 100,000 requests, 50,000 keys never seen
 * before; its hit ratio counts the Zipf requests only, and "kept" is that
 * ratio over the plain stream's at the same size.
 *
 * Single-threaded; no locks.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <slabcache.h>

#include "harness.h"
#include "selftests/idlist.h"
#include "selftests/zipf.h"
#include "selftests/trace_read.h"

#define KEY_SLOT 24
#define MAX_LIST 16
#define SCAN_BLOCK 100000u
#define SCAN_KEYS 50000u

enum pol { P_LRU, P_SIEVE, P_S3FIFO, NR_POL };
static const char *const pol_key[NR_POL] = { "lru", "sieve", "s3fifo" };
static const unsigned int pol_flag[NR_POL] = { 0, SC_CACHE_POLICY_SIEVE,
					       SC_CACHE_POLICY_S3FIFO };

struct trace {
	char name[64];
	uint64_t *ids; /* as in the trace */
	uint32_t *dense;
	uint8_t *scan; /* 1: a scan request (not counted), or NULL */
	size_t n, cap, unique, key_space, nr_scan;
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

static void trace_push_id(void *ctx, uint64_t id)
{
	trace_push(ctx, id);
}

/* ARC ".lis" files hold "start count 0 seq" lines; others one id a line. */
static int trace_load(struct trace *t, const char *path, size_t limit)
{
	const char *base = strrchr(path, '/');
	long long n;

	snprintf(t->name, sizeof(t->name), "%s", base ? base + 1 : path);
	n = trace_read(path, strstr(path, ".lis") != NULL, limit, trace_push_id,
		       t);
	if (n < 0)
		return (int)n;
	return t->n ? 0 : -ENODATA;
}

/* The stream of selftests/zipf.h, as the hit-ratio test draws it. */
static void zipf_draw(uint64_t *out, size_t items, size_t n, double theta)
{
	struct zipf z;

	zipf_init(&z, items, theta, ZIPF_SEED);
	for (size_t r = 0; r < n; r++)
		out[r] = zipf_next(&z);
}

static void trace_zipf(struct trace *t, size_t keys, size_t n, double theta,
		       bool scans)
{
	uint64_t *z = bench_xmalloc(n * sizeof(*z)), fresh = keys;

	snprintf(t->name, sizeof(t->name), "zipf %.2f%s (%zu keys)", theta,
		 scans ? " + scans" : "", keys);
	zipf_draw(z, keys, n, theta);
	t->key_space = keys;
	for (size_t b = 0; b < n; b += SCAN_BLOCK) {
		for (size_t i = b; i < n && i < b + SCAN_BLOCK; i++)
			trace_push(t, z[i]);
		if (!scans || b + SCAN_BLOCK >= n)
			continue;
		for (unsigned int i = 0; i < SCAN_KEYS; i++) {
			trace_push(t, fresh++);
			t->nr_scan++;
		}
	}
	if (scans) {
		/* mark the scan requests: they follow each full block */
		size_t i = 0;

		t->scan = realloc(t->scan, t->n);
		if (!t->scan) {
			fprintf(stderr, "sc-bench-trace: out of memory\n");
			exit(2);
		}
		for (size_t b = 0; b < n; b += SCAN_BLOCK) {
			size_t len = n - b < SCAN_BLOCK ? n - b : SCAN_BLOCK;

			memset(t->scan + i, 0, len);
			i += len;
			if (b + SCAN_BLOCK < n) {
				memset(t->scan + i, 1, SCAN_KEYS);
				i += SCAN_KEYS;
			}
		}
	}
	free(z);
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
	free(t->scan);
}

/* ------------------------------------------------------------- models */

static void links_init(struct idlinks *l, size_t n)
{
	l->newer = bench_xmalloc(n * sizeof(*l->newer));
	l->older = bench_xmalloc(n * sizeof(*l->older));
}

static void links_free(struct idlinks *l)
{
	free(l->newer);
	free(l->older);
}

/* The exact-LRU reference: misses counted over the requests counted. */
static size_t lru_model_misses(const struct trace *t, size_t size)
{
	struct idlinks l;
	struct idlist q = IDLIST_EMPTY;
	uint8_t *in = calloc(t->unique, 1);
	size_t misses = 0;

	if (!in) {
		fprintf(stderr, "sc-bench-trace: out of memory\n");
		exit(2);
	}
	links_init(&l, t->unique);
	for (size_t i = 0; i < t->n; i++) {
		uint32_t id = t->dense[i];

		if (in[id]) {
			idlist_del(&l, &q, id);
		} else {
			misses++;
			if (q.n == size)
				in[idlist_pop(&l, &q)] = 0;
			in[id] = 1;
		}
		idlist_push(&l, &q, id);
	}
	links_free(&l);
	free(in);
	return misses;
}

enum { A_NONE, A_T1, A_T2, A_B1, A_B2 };

struct arc {
	struct idlinks l;
	struct idlist q[5]; /* by A_* */
	uint8_t *where;
	double p;
	uint32_t c;
};

static void arc_move(struct arc *a, uint32_t id, int to)
{
	if (a->where[id] != A_NONE)
		idlist_del(&a->l, &a->q[a->where[id]], id);
	a->where[id] = (uint8_t)to;
	if (to != A_NONE)
		idlist_push(&a->l, &a->q[to], id);
}

/* REPLACE(x, p): T1's LRU page to B1, or T2's to B2. */
static void arc_replace(struct arc *a, bool in_b2)
{
	uint32_t t1 = a->q[A_T1].n;

	if (t1 && ((in_b2 && (double)t1 == a->p) || (double)t1 > a->p))
		arc_move(a, a->q[A_T1].oldest, A_B1);
	else
		arc_move(a, a->q[A_T2].oldest, A_B2);
}

/* One request; true on a hit. */
static bool arc_access(struct arc *a, uint32_t id)
{
	uint32_t *n = (uint32_t[5]){ 0 };
	double d;

	for (int i = 1; i < 5; i++)
		n[i] = a->q[i].n;
	switch (a->where[id]) {
	case A_T1:
	case A_T2:
		arc_move(a, id, A_T2);
		return true;
	case A_B1:
		d = n[A_B1] >= n[A_B2] ? 1.0 : (double)n[A_B2] / n[A_B1];
		a->p = fmin((double)a->c, a->p + d);
		arc_replace(a, false);
		arc_move(a, id, A_T2);
		return false;
	case A_B2:
		d = n[A_B2] >= n[A_B1] ? 1.0 : (double)n[A_B1] / n[A_B2];
		a->p = fmax(0.0, a->p - d);
		arc_replace(a, true);
		arc_move(a, id, A_T2);
		return false;
	}
	if (n[A_T1] + n[A_B1] == a->c) {
		if (n[A_T1] < a->c) {
			arc_move(a, a->q[A_B1].oldest, A_NONE);
			arc_replace(a, false);
		} else {
			arc_move(a, a->q[A_T1].oldest, A_NONE);
		}
	} else if (n[A_T1] + n[A_B1] + n[A_T2] + n[A_B2] >= a->c) {
		if (n[A_T1] + n[A_B1] + n[A_T2] + n[A_B2] == 2 * a->c)
			arc_move(a, a->q[A_B2].oldest, A_NONE);
		arc_replace(a, false);
	}
	arc_move(a, id, A_T1);
	return false;
}

/* ARC's misses (of the counted requests) at @size pages. */
static size_t arc_model_misses(const struct trace *t, size_t size,
			       size_t *counted_hits)
{
	struct arc a = { .c = (uint32_t)size };
	size_t misses = 0;

	a.where = calloc(t->unique, 1);
	if (!a.where) {
		fprintf(stderr, "sc-bench-trace: out of memory\n");
		exit(2);
	}
	links_init(&a.l, t->unique);
	for (int i = 0; i < 5; i++)
		a.q[i] = IDLIST_EMPTY;
	*counted_hits = 0;
	for (size_t i = 0; i < t->n; i++) {
		bool hit = arc_access(&a, t->dense[i]);

		misses += !hit;
		if (hit && !(t->scan && t->scan[i]))
			++*counted_hits;
	}
	links_free(&a.l);
	free(a.where);
	return misses;
}

/* ------------------------------------------------------------- replays */

static char value[1];

struct replay {
	size_t misses, counted_hits; /* counted: not a scan request */
	double ns_per_req;
};

static struct replay slabcache_replay(const struct trace *t, size_t size,
				      enum pol pol)
{
	struct sc_cache_config cfg = {
		.name = "bench-trace",
		.limit = size,
		.flags = SC_CACHE_NO_SHRINKER | pol_flag[pol],
	};
	struct sc_cache *c = sc_cache_create(&cfg);
	struct replay r = { 0 };
	uint64_t t0;

	if (!c) {
		fprintf(stderr, "sc-bench-trace: sc_cache_create: %s\n",
			strerror(errno));
		exit(2);
	}
	t0 = bench_now_ns();
	for (size_t i = 0; i < t->n; i++) {
		const char *k = t->keys + i * KEY_SLOT;
		int ret;

		if (sc_cache_find(c, k)) {
			r.counted_hits += !(t->scan && t->scan[i]);
			continue;
		}
		r.misses++;
		/* cost 1 under a limit of 10 or more: never refused */
		ret = sc_cache_insert(c, k, value, 1);
		if (ret && ret != SC_CACHE_NOT_ADMITTED) {
			fprintf(stderr, "sc-bench-trace: insert: %s\n",
				strerror(-ret));
			exit(2);
		}
	}
	r.ns_per_req = (double)(bench_now_ns() - t0) / (double)t->n;
	sc_cache_destroy(c);
	return r;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sc-bench-trace [options] [TRACE...]\n"
		"  TRACE           ARC .lis(.zst) or one-id-per-line file\n"
		"  --sizes LIST    cache sizes in entries (default: 1%%, 5%%, 10%%\n"
		"                  and 30%% of the trace's unique ids, of the key\n"
		"                  space for Zipf)\n"
		"  --limit N       replay only the first N requests of each file\n"
		"  --zipf N        add Zipf 0.8 and 0.99 streams of N requests\n"
		"                  over N/10 keys (default 1M; 0: none)\n"
		"  --scans         add Zipf 0.99 with one-time scans (--zipf N\n"
		"                  requests, nine scans of 50k new keys)\n"
		"  --no-arc        leave out the ARC model\n"
		"  --csv FILE      write the results as CSV\n");
}

static double pct(size_t part, size_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

int main(int argc, char **argv)
{
	size_t sizes[MAX_LIST], nr_sizes = 0, limit = 0, zipf_n = 1000000;
	const char *files[MAX_LIST], *csv_path = NULL;
	size_t nr_files = 0, nr_traces = 0, differ = 0;
	struct trace traces[MAX_LIST + 3];
	bool scans = false, arc = true;
	/* Zipf 0.99's hit ratios, and with scans, per size and column */
	double plain[MAX_LIST][NR_POL + 1], scanned[MAX_LIST][NR_POL + 1];
	size_t scan_sizes[MAX_LIST], nr_scan_sizes = 0;
	FILE *csv = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = true;

		if (!strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--scans")) {
			scans = true;
			continue;
		}
		if (!strcmp(a, "--no-arc")) {
			arc = false;
			continue;
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
		trace_zipf(&traces[nr_traces++], zipf_n / 10, zipf_n, 0.8,
			   false);
		trace_zipf(&traces[nr_traces++], zipf_n / 10, zipf_n, 0.99,
			   false);
		if (scans)
			trace_zipf(&traces[nr_traces++], zipf_n / 10, zipf_n,
				   0.99, true);
	}

	printf("## Trace replay: slabcache's policies vs reference models\n\n");
	bench_print_machine(stdout, "");
	printf("\nHit ratios in %% (a scan stream's: of its Zipf requests), "
	       "cost 1 per entry. LRU = model: slabcache's exact LRU against "
	       "the exact-LRU model. ns: slabcache per request, "
	       "LRU/SIEVE/S3-FIFO.\n\n| trace | requests | unique | cache "
	       "entries | LRU | SIEVE | S3-FIFO |%s S3-FIFO misses / LRU's | "
	       "LRU = model | ns |\n|---|---|---|---|---|---|---|%s---|---|---|"
	       "\n",
	       arc ? " ARC (model) |" : "", arc ? "---|" : "");
	if (csv_path) {
		csv = fopen(csv_path, "w");
		if (csv) {
			bench_print_machine(csv, "# ");
			fprintf(csv, "trace,requests,unique,size,policy,misses,"
				     "hit_ratio,ns_per_request\n");
		}
	}
	for (size_t ti = 0; ti < nr_traces; ti++) {
		struct trace *t = &traces[ti];
		size_t sz[MAX_LIST], nsz = nr_sizes, counted;

		trace_prepare(t);
		counted = t->n - t->nr_scan;
		if (nr_sizes) {
			memcpy(sz, sizes, nr_sizes * sizeof(sizes[0]));
		} else {
			static const double frac[] = { 0.01, 0.05, 0.1, 0.3 };
			size_t base = t->key_space ? t->key_space : t->unique;

			for (nsz = 0; nsz < 4; nsz++) {
				sz[nsz] = (size_t)llround(frac[nsz] *
							  (double)base);
				if (!sz[nsz])
					sz[nsz] = 1;
			}
		}
		for (size_t si = 0; si < nsz; si++) {
			struct replay r[NR_POL];
			size_t ref = lru_model_misses(t, sz[si]), arc_hits = 0;
			char arc_col[32] = "";

			for (int p = 0; p < NR_POL; p++)
				r[p] = slabcache_replay(t, sz[si], (enum pol)p);
			differ += r[P_LRU].misses != ref;
			if (arc) {
				arc_model_misses(t, sz[si], &arc_hits);
				snprintf(arc_col, sizeof(arc_col), " %.2f |",
					 pct(arc_hits, counted));
			}
			for (int p = 0; p <= NR_POL && si < MAX_LIST; p++) {
				double hr = pct(p < NR_POL ? r[p].counted_hits :
							     arc_hits,
						counted);

				if (strstr(t->name, "0.99 + scans")) {
					scanned[si][p] = hr;
					scan_sizes[si] = sz[si];
					nr_scan_sizes = si + 1;
				} else if (strstr(t->name, "zipf 0.99")) {
					plain[si][p] = hr;
				}
			}
			printf("| %s | %zu | %zu | %zu | %.2f | %.2f | %.2f "
			       "|%s %.3f | %s | %.0f/%.0f/%.0f |\n",
			       t->name, t->n, t->unique, sz[si],
			       pct(r[P_LRU].counted_hits, counted),
			       pct(r[P_SIEVE].counted_hits, counted),
			       pct(r[P_S3FIFO].counted_hits, counted), arc_col,
			       (double)r[P_S3FIFO].misses /
				       (double)r[P_LRU].misses,
			       r[P_LRU].misses == ref ? "yes" : "NO",
			       r[P_LRU].ns_per_req, r[P_SIEVE].ns_per_req,
			       r[P_S3FIFO].ns_per_req);
			for (int p = 0; csv && p < NR_POL + arc; p++) {
				bool is_arc = p == NR_POL;

				fprintf(csv,
					"\"%s\",%zu,%zu,%zu,%s,%zu,%.6f,%.1f\n",
					t->name, t->n, t->unique, sz[si],
					is_arc ? "arc" : pol_key[p],
					is_arc ? counted - arc_hits :
						 r[p].misses,
					(is_arc ? (double)arc_hits :
						  (double)r[p].counted_hits) /
						(double)counted,
					is_arc ? 0.0 : r[p].ns_per_req);
			}
		}
		fflush(stdout);
		trace_free(t);
	}
	if (csv)
		fclose(csv);
	if (nr_scan_sizes) {
		printf("\nScan resistance: Zipf 0.99's hit ratio with scans, "
		       "%% of the same stream's without\n\n| cache entries | "
		       "LRU | SIEVE | S3-FIFO |%s\n|---|---|---|---|%s\n",
		       arc ? " ARC (model) |" : "", arc ? "---|" : "");
		for (size_t si = 0; si < nr_scan_sizes; si++) {
			printf("| %zu |", scan_sizes[si]);
			for (int p = 0; p < NR_POL + arc; p++)
				printf(" %.2f |",
				       100 * scanned[si][p] / plain[si][p]);
			printf("\n");
		}
	}
	if (differ) {
		fprintf(stderr,
			"sc-bench-trace: %zu replay(s) where slabcache's exact "
			"LRU misses differ from the LRU model\n",
			differ);
		return 1;
	}
	printf("\nslabcache's exact LRU equals the exact-LRU model on every "
	       "replay\n");
	return 0;
}
