// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The measuring harness of the bench programs: timers, round statistics,
 * the latency histogram, random streams (uniform, YCSB Zipf), request
 * keys, memory accounting and the report (markdown + CSV). See harness.h
 * for the method. No locks: only a bench program's main thread calls it,
 * except bench_now_ns()/bench_tsc(), which any thread may call.
 */
#include "harness.h"

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include <slabcache.h>

#ifdef CONFIG_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

/* ------------------------------------------------------------- timers */

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double tsc_per_ns;
static uint64_t tsc_overhead;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void bench_tsc_calibrate(void)
{
	enum { PAIRS = 10001 };
	static uint64_t d[PAIRS];
	uint64_t t0, c0, t1, c1;

	if (tsc_per_ns > 0)
		return;
	t0 = bench_now_ns();
	c0 = bench_tsc();
	do
		t1 = bench_now_ns();
	while (t1 - t0 < 20000000u);
	c1 = bench_tsc();
	tsc_per_ns = (double)(c1 - c0) / (double)(t1 - t0);
	if (!(tsc_per_ns > 0))
		tsc_per_ns = 1;
	for (size_t i = 0; i < PAIRS; i++) {
		uint64_t a = bench_tsc();
		uint64_t b = bench_tsc();

		d[i] = b - a;
	}
	qsort(d, PAIRS, sizeof(d[0]), cmp_u64);
	tsc_overhead = d[PAIRS / 2];
}

double bench_tsc_per_ns(void)
{
	bench_tsc_calibrate();
	return tsc_per_ns;
}

uint64_t bench_tsc_overhead(void)
{
	bench_tsc_calibrate();
	return tsc_overhead;
}

uint64_t bench_ticks_to_ns(uint64_t ticks)
{
	if (ticks <= tsc_overhead)
		return 0;
	return (uint64_t)((double)(ticks - tsc_overhead) / tsc_per_ns + 0.5);
}

/* ------------------------------------------------------------- samples */

void bench_samples_add(struct bench_samples *s, double v)
{
	if (s->n < BENCH_MAX_ROUNDS)
		s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bench_samples_min(const struct bench_samples *s)
{
	double m = NAN;

	for (unsigned int i = 0; i < s->n; i++)
		if (isnan(m) || s->v[i] < m)
			m = s->v[i];
	return m;
}

double bench_samples_max(const struct bench_samples *s)
{
	double m = NAN;

	for (unsigned int i = 0; i < s->n; i++)
		if (isnan(m) || s->v[i] > m)
			m = s->v[i];
	return m;
}

double bench_samples_median(const struct bench_samples *s)
{
	double v[BENCH_MAX_ROUNDS];

	if (!s->n)
		return NAN;
	memcpy(v, s->v, s->n * sizeof(v[0]));
	qsort(v, s->n, sizeof(v[0]), cmp_double);
	if (s->n & 1)
		return v[s->n / 2];
	return (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
}

/* ------------------------------------------------------------ histogram */

static unsigned int hist_index(uint64_t ns)
{
	unsigned int k;

	if (ns < 32)
		return (unsigned int)ns;
	k = 63 - (unsigned int)__builtin_clzll(ns); /* 5.. */
	if (k > 40)
		return BENCH_HIST_BUCKETS - 1;
	return 32 + (k - 5) * BENCH_HIST_SUB +
	       (unsigned int)((ns >> (k - 4)) & (BENCH_HIST_SUB - 1));
}

static double hist_upper(unsigned int idx)
{
	unsigned int k, sub;

	if (idx < 32)
		return idx;
	k = (idx - 32) / BENCH_HIST_SUB + 5;
	sub = (idx - 32) % BENCH_HIST_SUB;
	return ldexp(1.0, (int)k) + ldexp((double)(sub + 1), (int)k - 4) - 1;
}

void bench_hist_record(struct bench_hist *h, uint64_t ns)
{
	h->count[hist_index(ns)]++;
	h->total++;
}

double bench_hist_quantile(const struct bench_hist *h, double q)
{
	uint64_t want, seen = 0;

	if (!h->total)
		return 0;
	want = (uint64_t)ceil(q * (double)h->total);
	if (want < 1)
		want = 1;
	for (unsigned int i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= want)
			return hist_upper(i);
	}
	return hist_upper(BENCH_HIST_BUCKETS - 1);
}

/* ------------------------------------------------------------ randomness */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void bench_rng_seed(struct bench_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
uint64_t bench_rng_next(struct bench_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t bench_rng_below(struct bench_rng *r, uint64_t n)
{
	/* Lemire's multiply-shift; the bias is below 2^-32 for our n. */
	return (uint64_t)(((unsigned __int128)bench_rng_next(r) * n) >> 64);
}

double bench_rng_double(struct bench_rng *r)
{
	return (double)(bench_rng_next(r) >> 11) * 0x1.0p-53;
}

void bench_perm(uint32_t *p, size_t n, struct bench_rng *r)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint32_t)i;
	for (size_t i = n; i > 1; i--) {
		size_t j = bench_rng_below(r, i);
		uint32_t t = p[i - 1];

		p[i - 1] = p[j];
		p[j] = t;
	}
}

static double zeta(uint64_t n, double theta)
{
	double sum = 0;

	for (uint64_t i = 1; i <= n; i++)
		sum += 1.0 / pow((double)i, theta);
	return sum;
}

void bench_zipf_init(struct bench_zipf *z, uint64_t n, double theta)
{
	double zeta2 = zeta(2, theta);

	z->n = n;
	z->theta = theta;
	z->alpha = 1.0 / (1.0 - theta);
	z->zetan = zeta(n, theta);
	z->eta = (1.0 - pow(2.0 / (double)n, 1.0 - theta)) /
		 (1.0 - zeta2 / z->zetan);
	z->half_pow_theta = 1.0 + pow(0.5, theta);
}

uint64_t bench_zipf_next(const struct bench_zipf *z, struct bench_rng *r)
{
	double u = bench_rng_double(r);
	double uz = u * z->zetan;
	uint64_t v;

	if (uz < 1.0)
		return 0;
	if (uz < z->half_pow_theta)
		return 1;
	v = (uint64_t)((double)z->n * pow(z->eta * u - z->eta + 1.0, z->alpha));
	return v < z->n ? v : z->n - 1;
}

/* ----------------------------------------------------------------- keys */

/* 48 characters: a 64-byte slot holds it and the 15-character tail */
static const char key_prefix[] =
	"/usr/share/icons/hicolor/scalable/apps/icon-set/";

void bench_key_format(char *buf, size_t slot, uint32_t id)
{
	size_t pre = slot - 1 - 15;
	char *tail = buf + pre;

	/* "key:" + 11 digits = 15 characters, unique per id */
	memset(buf, '_', pre);
	memcpy(buf, key_prefix,
	       pre < sizeof(key_prefix) - 1 ? pre : sizeof(key_prefix) - 1);
	memcpy(tail, "key:", 4);
	for (int i = 14; i >= 4; i--) {
		tail[i] = (char)('0' + id % 10);
		id /= 10;
	}
	buf[slot - 1] = '\0';
}

void *bench_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p) {
		fprintf(stderr, "bench: out of memory (%zu bytes)\n", size);
		exit(2);
	}
	return p;
}

char *bench_keys_alloc(const uint32_t *ids, size_t n, size_t slot)
{
	char *buf = bench_xmalloc(n * slot);

	for (size_t i = 0; i < n; i++)
		bench_key_format(buf + i * slot, slot, ids[i]);
	return buf;
}

/* --------------------------------------------------------------- memory */

#ifdef CONFIG_JEMALLOC
size_t bench_heap_allocated(void)
{
	uint64_t epoch = 1;
	size_t allocated = 0, sz = sizeof(allocated), esz = sizeof(epoch);

	mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	mallctl("epoch", &epoch, &esz, &epoch, esz);
	if (mallctl("stats.allocated", &allocated, &sz, NULL, 0))
		return 0;
	return allocated;
}

const char *bench_heap_source(void)
{
	return "jemalloc stats.allocated";
}
#else
size_t bench_heap_allocated(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

const char *bench_heap_source(void)
{
	return "glibc mallinfo2";
}
#endif

void bench_heap_purge(void)
{
#ifdef CONFIG_JEMALLOC
	/* 4096 is MALLCTL_ARENAS_ALL */
	mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
#endif
	malloc_trim(0);
}

size_t bench_rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * (size_t)sysconf(_SC_PAGESIZE);
}

size_t bench_slab_bytes(void)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0, total = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return 0;
	if (sc_slabinfo_write(f) < 0) {
		fclose(f);
		free(text);
		return 0;
	}
	fclose(f);
	/* name active_objs num_objs objsize objperslab slabsize slabs empty */
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[128];
		unsigned long long a, b, c, d, slabsize, slabs;

		if (line[0] == '#')
			continue;
		if (sscanf(line, "%127s %llu %llu %llu %llu %llu %llu", name,
			   &a, &b, &c, &d, &slabsize, &slabs) == 7)
			total += slabsize * slabs;
	}
	free(text);
	return total;
}

/* ----------------------------------------------------------------- rows */

static struct bench_row *rows;
static size_t nr_rows, cap_rows;

struct bench_row *bench_row(const char *bench, const char *phase,
			    const char *workload, const char *peer, size_t n,
			    size_t size, unsigned int threads)
{
	struct bench_row *r;

	for (size_t i = 0; i < nr_rows; i++) {
		r = &rows[i];
		if (r->n == n && r->size == size && r->threads == threads &&
		    !strcmp(r->bench, bench) && !strcmp(r->phase, phase) &&
		    !strcmp(r->workload, workload) && !strcmp(r->peer, peer))
			return r;
	}
	if (nr_rows == cap_rows) {
		size_t cap = cap_rows ? cap_rows * 2 : 64;
		struct bench_row *tmp = realloc(rows, cap * sizeof(*tmp));

		if (!tmp) {
			fprintf(stderr, "bench: out of memory\n");
			exit(2);
		}
		rows = tmp;
		cap_rows = cap;
	}
	r = &rows[nr_rows++];
	memset(r, 0, sizeof(*r));
	snprintf(r->bench, sizeof(r->bench), "%s", bench);
	snprintf(r->phase, sizeof(r->phase), "%s", phase);
	snprintf(r->workload, sizeof(r->workload), "%s", workload);
	snprintf(r->peer, sizeof(r->peer), "%s", peer);
	r->n = n;
	r->size = size;
	r->threads = threads;
	r->p50 = r->p99 = r->p999 = NAN;
	r->bytes_per_entry = r->hit_ratio = r->extra = NAN;
	return r;
}

/*
 * Targets: how much faster (peer median / ours median) the library is to
 * be, as the benchmark issues state them; a target below 1 bounds how much
 * slower it may be. n == 0 matches every n, threads == 0 every thread
 * count; a NULL phase or workload matches every one. A "status" of
 * "below" is information for the developers, not a test result.
 */
struct bench_target {
	const char *bench, *phase, *workload, *peer_prefix;
	size_t n;
	double speedup;
	unsigned int threads;
};

static const struct bench_target targets[] = {
	/* find-hit at 1M, 16-byte keys, uniform: 1.5x QCache and uthash */
	{ "cache", "find-hit", "uniform", "QCache", 1000000, 1.5, 0 },
	{ "cache", "find-hit", "uniform", "uthash", 1000000, 1.5, 0 },
	/* find-hit at 1k (QPixmapCache-sized), lock included: 1.8x QCache */
	{ "cache", "find-hit", "uniform", "QCache", 1000, 1.8, 0 },
	/* insert with eviction: 3x QCache and 1.5x uthash at 1M; 1.8x at 1k */
	{ "cache", "insert-evict", NULL, "QCache", 1000000, 3.0, 0 },
	{ "cache", "insert-evict", NULL, "uthash", 1000000, 1.5, 0 },
	{ "cache", "insert-evict", NULL, "QCache", 1000, 1.8, 0 },
	/* get-or-insert, Zipf 0.8 over 4x capacity: 2x QCache */
	{ "cache", "get-or-insert", "zipf0.8", "QCache", 0, 2.0, 0 },
	/*
	 * Threads sharing one cache, at 2 threads: 3x uthash+utlist behind
	 * one mutex, 1.5x the 64-way striped one, on the lookups.
	 */
	{ "cache", "find-hit shared", NULL, "uthash", 0, 3.0, 2 },
	{ "cache", "get/put shared", NULL, "uthash", 0, 3.0, 2 },
	{ "cache", "find-hit shared", NULL, "64-way striped", 0, 1.5, 2 },
	{ "cache", "get/put shared", NULL, "64-way striped", 0, 1.5, 2 },
	/* two builds in one run: single-thread figures at most 5 % slower */
	{ "cache", NULL, NULL, "slabcache@", 0, 0.95, 1 },
	/* sc_slab: hot pair no slower than jemalloc while thread-safe */
	{ "alloc", "hot pair", NULL, "jemalloc", 0, 1.0, 0 },
	/* batch allocation and random-order free: 2x jemalloc */
	{ "alloc", "alloc", "fresh pages", "jemalloc", 0, 2.0, 0 },
	{ "alloc", "alloc", "warm after lifo free", "jemalloc", 0, 2.0, 0 },
	{ "alloc", "free", "random", "jemalloc", 0, 2.0, 0 },
	/* a free from another thread: no slower than jemalloc */
	{ "alloc", "free", "cross-thread", "jemalloc", 0, 1.0, 0 },
	/* allocation right after random-order frees: never worse than 2x */
	{ "alloc", "alloc-after-random-free", NULL, "jemalloc", 0, 0.5, 0 },
};

static const struct bench_target *target_for(const struct bench_row *r)
{
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		const struct bench_target *t = &targets[i];

		if (!strcmp(t->bench, r->bench) &&
		    (!t->phase || !strcmp(t->phase, r->phase)) &&
		    (!t->workload || !strcmp(t->workload, r->workload)) &&
		    !strncmp(t->peer_prefix, r->peer, strlen(t->peer_prefix)) &&
		    (!t->n || t->n == r->n) &&
		    (!t->threads || t->threads == r->threads))
			return &targets[i];
	}
	return NULL;
}

static bool same_group(const struct bench_row *a, const struct bench_row *b)
{
	return a->n == b->n && a->size == b->size && a->threads == b->threads &&
	       !strcmp(a->bench, b->bench) && !strcmp(a->phase, b->phase) &&
	       !strcmp(a->workload, b->workload);
}

static void fmt_num(char *buf, size_t len, double v, int prec)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.*f", prec, v);
}

static bool is_ours(const struct bench_row *r, const char *ours)
{
	return !strcmp(r->peer, ours);
}

static double group_ours_median(size_t first, const char *ours)
{
	for (size_t j = first; j < nr_rows; j++)
		if (same_group(&rows[first], &rows[j]) &&
		    is_ours(&rows[j], ours))
			return bench_samples_median(&rows[j].ns);
	return NAN;
}

static double group_best_peer(size_t first, const char *ours)
{
	double best = NAN;

	for (size_t j = first; j < nr_rows; j++) {
		double m;

		if (!same_group(&rows[first], &rows[j]) ||
		    is_ours(&rows[j], ours))
			continue;
		m = bench_samples_median(&rows[j].ns);
		if (isnan(best) || m < best)
			best = m;
	}
	return best;
}

static void print_group(FILE *out, size_t first, const char *ours,
			const char *size_name)
{
	const struct bench_row *g = &rows[first];
	double ours_med = group_ours_median(first, ours);
	double best = group_best_peer(first, ours);
	bool any_lat = false, any_mem = false, any_hit = false, any_x = false;
	bool any_cpus = false;
	const char *xname = "";

	for (size_t j = first; j < nr_rows; j++) {
		const struct bench_row *r = &rows[j];

		if (!same_group(g, r))
			continue;
		any_lat |= !isnan(r->p50);
		any_mem |= !isnan(r->bytes_per_entry);
		any_hit |= !isnan(r->hit_ratio);
		any_cpus |= r->cpus.n > 0;
		if (!isnan(r->extra)) {
			any_x = true;
			xname = r->extra_name;
		}
	}
	fprintf(out, "\n#### %s %s, %s, n=%zu, %s %zu, %u thread%s\n\n",
		g->bench, g->phase, g->workload, g->n, size_name, g->size,
		g->threads, g->threads == 1 ? "" : "s");
	fprintf(out, "| peer | ns/op min | median | max | Mops/s |");
	if (any_lat)
		fprintf(out, " p50 ns | p99 ns | p99.9 ns |");
	if (any_mem)
		fprintf(out, " B/entry |");
	if (any_hit)
		fprintf(out, " hit ratio |");
	if (any_x)
		fprintf(out, " %s |", xname);
	if (any_cpus)
		fprintf(out, " CPUs busy |");
	fprintf(out,
		" ours faster by | target | status |\n|---|---|---|---|---|");
	if (any_lat)
		fprintf(out, "---|---|---|");
	if (any_mem)
		fprintf(out, "---|");
	if (any_hit)
		fprintf(out, "---|");
	if (any_x)
		fprintf(out, "---|");
	if (any_cpus)
		fprintf(out, "---|");
	fprintf(out, "---|---|---|\n");
	for (size_t j = first; j < nr_rows; j++) {
		const struct bench_row *r = &rows[j];
		const struct bench_target *t;
		double med = bench_samples_median(&r->ns);
		double speedup = med / ours_med;
		char a[32], b[32], c[32], d[32];

		if (!same_group(g, r))
			continue;
		fmt_num(a, sizeof(a), bench_samples_min(&r->ns), 1);
		fmt_num(b, sizeof(b), med, 1);
		fmt_num(c, sizeof(c), bench_samples_max(&r->ns), 1);
		fmt_num(d, sizeof(d), med > 0 ? 1000.0 / med : NAN, 2);
		fprintf(out, "| %s | %s | %s | %s | %s |", r->peer, a, b, c, d);
		if (any_lat) {
			fmt_num(a, sizeof(a), r->p50, 0);
			fmt_num(b, sizeof(b), r->p99, 0);
			fmt_num(c, sizeof(c), r->p999, 0);
			fprintf(out, " %s | %s | %s |", a, b, c);
		}
		if (any_mem) {
			fmt_num(a, sizeof(a), r->bytes_per_entry, 1);
			fprintf(out, " %s |", a);
		}
		if (any_hit) {
			fmt_num(a, sizeof(a), r->hit_ratio, 4);
			fprintf(out, " %s |", a);
		}
		if (any_x) {
			fmt_num(a, sizeof(a), r->extra, 2);
			fprintf(out, " %s |", a);
		}
		if (any_cpus) {
			fmt_num(a, sizeof(a), bench_samples_median(&r->cpus),
				2);
			fprintf(out, " %s |", a);
		}
		if (is_ours(r, ours)) {
			if (isnan(best)) {
				fprintf(out, " (no peer) | | |\n");
				continue;
			}
			fmt_num(a, sizeof(a), best / ours_med, 2);
			fprintf(out, " %sx vs best peer | | |\n", a);
			continue;
		}
		t = target_for(r);
		if (isnan(speedup))
			snprintf(a, sizeof(a), "-");
		else
			snprintf(a, sizeof(a), "%.2fx", speedup);
		if (t && !isnan(speedup))
			fprintf(out, " %s | >= %.2fx | %s |\n", a, t->speedup,
				speedup >= t->speedup ? "meets" : "below");
		else
			fprintf(out, " %s | | |\n", a);
	}
}

static void write_csv(const char *path, const char *ours)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "bench: cannot write %s: %s\n", path,
			strerror(errno));
		return;
	}
	bench_print_machine(f, "# ");
	fprintf(f, "bench,phase,workload,peer,n,size,threads,rounds,ns_min,"
		   "ns_median,ns_max,mops,p50_ns,p99_ns,p999_ns,"
		   "bytes_per_entry,hit_ratio,extra_name,extra,"
		   "speedup_vs_peer,ours_over_peer,target,cpus_median,"
		   "ns_rounds\n");
	for (size_t i = 0; i < nr_rows; i++) {
		const struct bench_row *r = &rows[i];
		const struct bench_target *t = target_for(r);
		size_t first = 0;
		double med = bench_samples_median(&r->ns);
		double ours_med;

		while (!same_group(&rows[first], r))
			first++;
		ours_med = group_ours_median(first, ours);
		fprintf(f,
			"%s,%s,%s,\"%s\",%zu,%zu,%u,%u,%.2f,%.2f,%.2f,%.3f,"
			"%.0f,%.0f,%.0f,%.2f,%.5f,%s,%.3f,%.3f,%.3f,%.2f,%.2f,",
			r->bench, r->phase, r->workload, r->peer, r->n, r->size,
			r->threads, r->ns.n, bench_samples_min(&r->ns), med,
			bench_samples_max(&r->ns), med > 0 ? 1000.0 / med : NAN,
			r->p50, r->p99, r->p999, r->bytes_per_entry,
			r->hit_ratio, r->extra_name, r->extra,
			is_ours(r, ours) ? NAN : med / ours_med,
			is_ours(r, ours) ? NAN : ours_med / med,
			t ? t->speedup : NAN, bench_samples_median(&r->cpus));
		/* every round's figure, in round order, for paired ratios */
		for (unsigned int k = 0; k < r->ns.n; k++)
			fprintf(f, "%s%.2f", k ? ";" : "", r->ns.v[k]);
		fputc('\n', f);
	}
	fclose(f);
}

int bench_report(FILE *out, const char *csv_path, const char *ours,
		 const char *size_name)
{
	bool *done = calloc(nr_rows ? nr_rows : 1, sizeof(*done));

	if (!done)
		return -ENOMEM;
	for (size_t i = 0; i < nr_rows; i++) {
		if (done[i])
			continue;
		print_group(out, i, ours, size_name);
		for (size_t j = i; j < nr_rows; j++)
			if (same_group(&rows[i], &rows[j]))
				done[j] = true;
	}
	free(done);
	if (csv_path)
		write_csv(csv_path, ours);
	return 0;
}

/*
 * The share of the last minute in which some runnable task waited for a
 * CPU (PSI, /proc/pressure/cpu "some avg60"), in percent; NAN without PSI.
 * Near 100 means the machine was oversubscribed: other programs' tasks
 * and this one's took turns.
 */
static double cpu_pressure(void)
{
	FILE *f = fopen("/proc/pressure/cpu", "r");
	double avg10, avg60 = NAN;

	if (!f)
		return NAN;
	if (fscanf(f, "some avg10=%lf avg60=%lf", &avg10, &avg60) != 2)
		avg60 = NAN;
	fclose(f);
	return avg60;
}

void bench_print_machine(FILE *out, const char *prefix)
{
	char host[64] = "?", date[64] = "?";
	double load[1] = { NAN };
	time_t now = time(NULL);
	struct tm tm;

	gethostname(host, sizeof(host) - 1);
	if (gmtime_r(&now, &tm))
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm);
	getloadavg(load, 1);
	fprintf(out,
		"%s%s, host %s, %ld cpus, load %.2f, cpu pressure %.0f %%, "
		"slabcache %s, backend %s\n",
		prefix, date, host, sysconf(_SC_NPROCESSORS_ONLN), load[0],
		cpu_pressure(), sc_version_string(), sc_alloc_backend());
}

size_t bench_parse_size(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return 0;
	if (!strcmp(end, "k") || !strcmp(end, "K"))
		v *= 1e3;
	else if (!strcmp(end, "M"))
		v *= 1e6;
	else if (!strcmp(end, "G"))
		v *= 1e9;
	else if (!strcmp(end, "KiB"))
		v *= 1024.0;
	else if (!strcmp(end, "MiB"))
		v *= 1024.0 * 1024;
	else if (!strcmp(end, "GiB"))
		v *= 1024.0 * 1024 * 1024;
	else if (*end)
		return 0;
	return (size_t)v;
}

size_t bench_parse_list(const char *s, size_t *out, size_t max)
{
	char buf[256], *tok, *save = NULL;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok && n < max;
	     tok = strtok_r(NULL, ",", &save)) {
		out[n] = bench_parse_size(tok);
		if (!out[n])
			return 0;
		n++;
	}
	return n;
}
