// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sc-bench-shrink: how fast a full cache gives its memory back.
 *
 * A cache (with its shrinker registered, as by default) is filled with
 * --size bytes of values (default 1 GiB in 1 KiB values). The values come
 * from an sc_slab and are written, so they are resident; the cache's
 * release callback frees them to that slab. Then one
 * sc_shrink_memory(SC_PRESSURE_CRITICAL) must evict everything, give the
 * empty slabs back and purge the backend: its wall time, the RSS before
 * and after, and the RSS sampled every --sample-us by a thread (CSV, for
 * the plot) are reported. The same program is built against both
 * backends (jemalloc; libc, from a CONFIG_JEMALLOC=n build of the
 * library); sc_alloc_backend() names the one in use.
 *
 * Threads: the main thread fills and shrinks; one sampler thread reads
 * /proc/self/statm. They share only atomics and the sample array, whose
 * slots the sampler alone writes before the final join.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <slabcache.h>

#include "harness.h"

struct sample {
	uint64_t t_ns;
	size_t rss;
};

struct sampler {
	pthread_t tid;
	atomic_bool stop;
	unsigned int interval_us;
	struct sample *v;
	size_t cap;
	atomic_size_t n;
};

static void *sampler_main(void *arg)
{
	struct sampler *s = arg;

	while (!atomic_load(&s->stop)) {
		size_t i = atomic_load(&s->n);

		if (i < s->cap) {
			s->v[i].t_ns = bench_now_ns();
			s->v[i].rss = bench_rss_bytes();
			atomic_store(&s->n, i + 1);
		}
		usleep(s->interval_us);
	}
	return NULL;
}

static void release_value(void *value, void *priv)
{
	sc_slab_free(priv, value);
}

struct result {
	uint64_t t_shrink; /* CLOCK_MONOTONIC at the shrink's start */
	double fill_s, shrink_ms;
	size_t entries, freed, count_after;
	size_t rss_start, rss_filled, rss_shrunk, rss_later;
	size_t slab_filled, slab_shrunk;
};

static int run(size_t total, size_t value_size, struct result *res)
{
	struct sc_slab *values;
	struct sc_cache *c;
	struct sc_cache_ops ops = { .release = release_value };
	struct sc_cache_config cfg = { .name = "bench-shrink", .ops = &ops };
	size_t entries = total / value_size;
	char key[32];
	uint64_t t0;

	values = sc_slab_create("bench-values", value_size, 0, 0);
	if (!values)
		return -errno;
	cfg.priv = values;
	cfg.limit = entries * value_size;
	c = sc_cache_create(&cfg);
	if (!c) {
		sc_slab_destroy(values);
		return -errno;
	}
	res->entries = entries;
	res->rss_start = bench_rss_bytes();
	t0 = bench_now_ns();
	for (size_t i = 0; i < entries; i++) {
		void *v = sc_slab_alloc(values);

		if (!v)
			return -ENOMEM;
		memset(v, (int)(i & 0xff) | 1, value_size);
		snprintf(key, sizeof(key), "v:%zu", i);
		if (sc_cache_insert(c, key, v, value_size)) {
			sc_slab_free(values, v);
			return -ENOMEM;
		}
	}
	res->fill_s = (double)(bench_now_ns() - t0) / 1e9;
	res->rss_filled = bench_rss_bytes();
	res->slab_filled = bench_slab_bytes();

	t0 = bench_now_ns();
	res->t_shrink = t0;
	res->freed = sc_shrink_memory(SC_PRESSURE_CRITICAL);
	res->shrink_ms = (double)(bench_now_ns() - t0) / 1e6;
	res->rss_shrunk = bench_rss_bytes();
	res->slab_shrunk = bench_slab_bytes();
	res->count_after = sc_cache_count(c);
	usleep(100000);
	res->rss_later = bench_rss_bytes();

	sc_cache_destroy(c);
	sc_slab_destroy(values);
	bench_heap_purge();
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sc-bench-shrink [options]\n"
		   "  --size BYTES      values to fill, default 1GiB\n"
		   "  --value BYTES     bytes per value, default 1024\n"
		   "  --rounds R        default 3\n"
		   "  --sample-us US    RSS sampling period, default 1000\n"
		   "  --samples FILE    write the RSS samples as CSV\n"
		   "  --csv FILE        write the results as CSV\n");
}

static double mib(size_t b)
{
	return (double)b / (1024.0 * 1024.0);
}

int main(int argc, char **argv)
{
	size_t total = 1024ul * 1024 * 1024, value_size = 1024;
	unsigned int rounds = 3, interval = 1000;
	const char *samples_path = NULL, *csv_path = NULL;
	struct sampler smp = { 0 };
	struct bench_samples shrink_ms = { 0 };
	struct result res[BENCH_MAX_ROUNDS];
	uint64_t t_base;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = true;

		if (!strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (!v) {
			usage(stderr);
			return 2;
		}
		i++;
		if (!strcmp(a, "--size"))
			ok = (total = bench_parse_size(v)) != 0;
		else if (!strcmp(a, "--value"))
			ok = (value_size = bench_parse_size(v)) >= 8;
		else if (!strcmp(a, "--rounds"))
			ok = (rounds = (unsigned int)atoi(v)) > 0 &&
			     rounds < BENCH_MAX_ROUNDS;
		else if (!strcmp(a, "--sample-us"))
			ok = (interval = (unsigned int)atoi(v)) > 0;
		else if (!strcmp(a, "--samples"))
			samples_path = v;
		else if (!strcmp(a, "--csv"))
			csv_path = v;
		else
			ok = false;
		if (!ok || total < value_size) {
			fprintf(stderr, "sc-bench-shrink: bad option %s %s\n",
				a, v);
			usage(stderr);
			return 2;
		}
	}

	smp.interval_us = interval;
	smp.cap = 1u << 20;
	smp.v = bench_xmalloc(smp.cap * sizeof(*smp.v));
	t_base = bench_now_ns();
	if (pthread_create(&smp.tid, NULL, sampler_main, &smp)) {
		fprintf(stderr, "sc-bench-shrink: pthread_create failed\n");
		return 2;
	}
	for (unsigned int r = 0; r < rounds; r++) {
		int err = run(total, value_size, &res[r]);

		if (err) {
			fprintf(stderr, "sc-bench-shrink: round %u: %s\n", r,
				strerror(-err));
			return 1;
		}
		bench_samples_add(&shrink_ms, res[r].shrink_ms);
	}
	atomic_store(&smp.stop, true);
	pthread_join(smp.tid, NULL);

	printf("## Shrink bench: sc_shrink_memory(SC_PRESSURE_CRITICAL), "
	       "backend %s\n\n",
	       sc_alloc_backend());
	bench_print_machine(stdout, "");
	printf("%zu MiB in %zu B values, %u rounds (no warm-up: each round "
	       "starts from an empty cache)\n\n",
	       total >> 20, value_size, rounds);
	printf("| round | entries | fill s | shrink ms | objects freed | "
	       "left | RSS start MiB | RSS full MiB | RSS after MiB | "
	       "+100 ms MiB | slab MiB full | slab MiB after |\n"
	       "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (unsigned int r = 0; r < rounds; r++)
		printf("| %u | %zu | %.2f | %.1f | %zu | %zu | %.0f | %.0f | "
		       "%.0f | %.0f | %.0f | %.0f |\n",
		       r + 1, res[r].entries, res[r].fill_s, res[r].shrink_ms,
		       res[r].freed, res[r].count_after, mib(res[r].rss_start),
		       mib(res[r].rss_filled), mib(res[r].rss_shrunk),
		       mib(res[r].rss_later), mib(res[r].slab_filled),
		       mib(res[r].slab_shrunk));
	printf("\nshrink ms min/median/max: %.1f / %.1f / %.1f (%s)\n",
	       bench_samples_min(&shrink_ms), bench_samples_median(&shrink_ms),
	       bench_samples_max(&shrink_ms), sc_alloc_backend());

	if (csv_path && (f = fopen(csv_path, "w"))) {
		bench_print_machine(f, "# ");
		fprintf(f, "backend,round,entries,value_size,fill_s,shrink_ms,"
			   "freed,left,rss_start,rss_filled,rss_shrunk,"
			   "rss_later,slab_filled,slab_shrunk\n");
		for (unsigned int r = 0; r < rounds; r++)
			fprintf(f,
				"%s,%u,%zu,%zu,%.3f,%.3f,%zu,%zu,%zu,%zu,%zu,"
				"%zu,%zu,%zu\n",
				sc_alloc_backend(), r + 1, res[r].entries,
				value_size, res[r].fill_s, res[r].shrink_ms,
				res[r].freed, res[r].count_after,
				res[r].rss_start, res[r].rss_filled,
				res[r].rss_shrunk, res[r].rss_later,
				res[r].slab_filled, res[r].slab_shrunk);
		fclose(f);
	}
	if (samples_path && (f = fopen(samples_path, "w"))) {
		size_t n = atomic_load(&smp.n);

		fprintf(f, "# backend %s: seconds since start, RSS MiB\n",
			sc_alloc_backend());
		for (unsigned int r = 0; r < rounds; r++)
			fprintf(f,
				"# round %u: shrink at %.4f s, took %.1f ms\n",
				r + 1, (double)(res[r].t_shrink - t_base) / 1e9,
				res[r].shrink_ms);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%.4f %.2f\n",
				(double)(smp.v[i].t_ns - t_base) / 1e9,
				mib(smp.v[i].rss));
		fclose(f);
	}
	free(smp.v);
	return 0;
}
