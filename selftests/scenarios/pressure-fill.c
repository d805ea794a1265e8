// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Helper of selftests/scenarios/pressure-cgroup.sh: run inside a memory
 * cgroup, fill an sc_cache with values from an sc_slab, watch memory
 * pressure with sc_pressure_open(AUTO) and the library's own thread, then
 * start a memory hog (anonymous memory growing step by step) or a file
 * thrasher (re-reading a file larger than the cgroup) as a child process
 * in the same cgroup, and report what happened as key=value lines.
 *
 * Usage:
 *   pressure-fill <fill_mib> <stall_us> <duration_ms> hog <mib> <step_ms>
 *   pressure-fill <fill_mib> <stall_us> <duration_ms> thrash <file>
 *
 * The hog and the thrasher run as "pressure-fill --child hog|thrash ...",
 * executed afresh in a child process. With SC_FILL_LOOP=poll the helper
 * dispatches from its own poll() loop instead of the library's thread.
 *
 * Exit status 0 when it ran to the end (whatever it observed); the
 * script judges the figures.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <slabcache.h>

#define VALUE_SIZE 16384

static struct sc_slab *values;
static atomic_llong armed_at_ns; /* hog start; 0 = not armed */
static atomic_llong first_pass_ns;
static atomic_int first_pass_level;
/* Every pass after the hog started: when and at which level. */
#define PASS_LOG 32
static long long pass_ns[PASS_LOG];
static int pass_level[PASS_LOG];
static atomic_int nr_passes;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void release_value(void *value, void *priv)
{
	sc_slab_free(values, value);
}

/* Registered first, so asked first in every pass: notes when it began. */
static unsigned long probe_count(struct sc_shrinker *s,
				 struct sc_shrink_control *sc)
{
	long long zero = 0;

	long long t = now_ns();
	int i;

	if (!atomic_load(&armed_at_ns))
		return 0;
	if (atomic_compare_exchange_strong(&first_pass_ns, &zero, t))
		atomic_store(&first_pass_level, (int)sc->level);
	i = atomic_fetch_add(&nr_passes, 1);
	if (i < PASS_LOG) {
		pass_ns[i] = t;
		pass_level[i] = (int)sc->level;
	}
	return 0;
}

/* Registered last, so asked last: notes when a pass ended. */
static long long pass_end_ns[PASS_LOG];
static atomic_int nr_pass_ends;

static unsigned long probe_end_count(struct sc_shrinker *s,
				     struct sc_shrink_control *sc)
{
	int i;

	if (!atomic_load(&armed_at_ns))
		return 0;
	i = atomic_fetch_add(&nr_pass_ends, 1);
	if (i < PASS_LOG)
		pass_end_ns[i] = now_ns();
	return 0;
}

static unsigned long probe_scan(struct sc_shrinker *s,
				struct sc_shrink_control *sc)
{
	return 0;
}

static void run_hog(long mib, long step_ms)
{
	struct timespec step = { step_ms / 1000, (step_ms % 1000) * 1000000 };

	for (long i = 0; i < mib; i++) {
		char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED)
			_exit(3);
		memset(m, 0x77, 1 << 20);
		nanosleep(&step, NULL);
	}
	step.tv_sec = 0;
	step.tv_nsec = 300000000;
	nanosleep(&step, NULL);
	_exit(0);
}

static void run_thrash(const char *file)
{
	static char buf[1 << 20];
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		_exit(4);
	/* Pages cached by whoever wrote the file are charged elsewhere. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0)
			_exit(5);
		if (n == 0)
			lseek(fd, 0, SEEK_SET);
	}
}

static const char *const src_names[] = { "psi", "psi_cgroup", "cgroup_v1",
					 "systemd", "usage" };

int main(int argc, char **argv)
{
	struct sc_pressure_config cfg = { 0 };
	struct sc_cache_config ccfg = { 0 };
	struct sc_cache_ops ops = { .release = release_value };
	struct sc_pressure_stats st;
	struct sc_cache_stats cs;
	struct sc_shrinker *probe, *probe_end;
	struct sc_pressure *p;
	struct sc_cache *cache;
	long fill_mib, duration_ms, rss_before, rss_min, filled = 0;
	size_t cost_before, cost_min;
	int status = -1;
	bool reaped = false, own_loop;
	long long t0, reaped_ns = 0;
	pid_t child;

	if (argc == 5 && !strcmp(argv[1], "--child")) {
		if (!strcmp(argv[2], "hog"))
			run_hog(atol(argv[3]), atol(argv[4]));
		if (!strcmp(argv[2], "thrash"))
			run_thrash(argv[3]);
		return 2;
	}
	if (argc < 6) {
		fprintf(stderr, "usage: see the source\n");
		return 2;
	}
	fill_mib = atol(argv[1]);
	cfg.stall_us = (unsigned int)atol(argv[2]);
	duration_ms = atol(argv[3]);

	p = sc_pressure_open(&cfg);
	if (!p) {
		perror("sc_pressure_open");
		return 1;
	}
	printf("sources=0x%x\n", sc_pressure_sources(p));
	for (int i = 0; i < 5; i++)
		printf("source_errno_%s=%d\n", src_names[i],
		       sc_pressure_source_errno(p, 1u << i));

	probe = sc_shrinker_alloc(0, "probe");
	if (!probe)
		return 1;
	probe->count_objects = probe_count;
	probe->scan_objects = probe_scan;
	sc_shrinker_register(probe);

	values = sc_slab_create("fill-values", VALUE_SIZE, 0, 0);
	ccfg.name = "fill";
	ccfg.limit = (size_t)fill_mib << 21; /* twice the fill */
	ccfg.ops = &ops;
	cache = values ? sc_cache_create(&ccfg) : NULL;
	if (!cache) {
		perror("cache");
		return 1;
	}
	while (sc_cache_total_cost(cache) < (size_t)fill_mib << 20) {
		void *v = sc_slab_alloc(values);

		if (!v)
			break;
		memset(v, (int)filled, VALUE_SIZE);
		if (sc_cache_add(cache, v, VALUE_SIZE).id == 0) {
			sc_slab_free(values, v);
			break;
		}
		filled++;
	}
	probe_end = sc_shrinker_alloc(0, "probe-end");
	if (!probe_end)
		return 1;
	probe_end->count_objects = probe_end_count;
	probe_end->scan_objects = probe_scan;
	sc_shrinker_register(probe_end);
	/*
	 * SC_FILL_LOOP=poll: no library thread; this loop polls the fd and
	 * dispatches, as a program that embeds the fd in its own loop does.
	 */
	own_loop = getenv("SC_FILL_LOOP") &&
		   !strcmp(getenv("SC_FILL_LOOP"), "poll");
	printf("loop=%s\n", own_loop ? "poll" : "thread");
	if (!own_loop && sc_pressure_start_thread(p)) {
		perror("sc_pressure_start_thread");
		return 1;
	}
	rss_before = rss_min = rss_kib();
	cost_before = cost_min = sc_cache_total_cost(cache);
	printf("filled_values=%ld\nrss_before_kb=%ld\ncost_before=%zu\n",
	       filled, rss_before, cost_before);
	fflush(stdout);

	t0 = now_ns();
	atomic_store(&armed_at_ns, t0);
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		/*
		 * A fresh program, not a fork: forked pages would be shared
		 * copy-on-write with the cache, so freeing the cache would
		 * not uncharge them.
		 */
		execl("/proc/self/exe", argv[0], "--child", argv[4], argv[5],
		      argc >= 7 ? argv[6] : "0", (char *)NULL);
		_exit(2);
	}
	printf("child_pid=%d\n", (int)child);
	fflush(stdout);

	while (now_ns() - t0 < duration_ms * 1000000LL) {
		struct timespec tick = { 0, 5000000 };
		long rss = rss_kib();
		size_t cost = sc_cache_total_cost(cache);

		if (rss < rss_min)
			rss_min = rss;
		if (cost < cost_min)
			cost_min = cost;
		if (waitpid(child, &status, WNOHANG) == child) {
			reaped = true;
			reaped_ns = now_ns();
			break;
		}
		if (own_loop) {
			struct pollfd pfd = { .fd = sc_pressure_fd(p),
					      .events = POLLIN };

			if (poll(&pfd, 1, 5) == 1)
				sc_pressure_dispatch(p);
		} else {
			nanosleep(&tick, NULL);
		}
	}
	if (reaped) {
		printf("child_ended_ms=%.1f\n", (double)(reaped_ns - t0) / 1e6);
	} else {
		/* Still running at the end (the thrasher always is). */
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		printf("child_killed_by_helper=1\n");
	}
	if (WIFEXITED(status))
		printf("child_exit=%d\n", WEXITSTATUS(status));
	else
		printf("child_signal=%d\n", WTERMSIG(status));
	{
		struct timespec settle = { 0, 100000000 };

		nanosleep(&settle, NULL);
	}

	sc_pressure_stats(p, &st);
	sc_cache_stats(cache, &cs);
	if (atomic_load(&first_pass_ns))
		printf("first_shrink_ms=%.1f\nfirst_shrink_level=%d\n",
		       (double)(atomic_load(&first_pass_ns) - t0) / 1e6,
		       atomic_load(&first_pass_level));
	printf("rss_after_kb=%ld\nrss_min_kb=%ld\ncost_after=%zu\n", rss_kib(),
	       rss_min, sc_cache_total_cost(cache));
	printf("cost_min=%zu\nshrunk=%llu\n", cost_min, cs.shrunk);
	printf("events=%llu\n", st.events);
	for (int i = 0; i < 5; i++)
		printf("events_%s=%llu\n", src_names[i], st.source_events[i]);
	printf("debounced=%llu\nescalated=%llu\n", st.debounced, st.escalated);
	printf("passes_low=%llu\npasses_medium=%llu\npasses_critical=%llu\n",
	       st.passes[1], st.passes[2], st.passes[3]);
	for (int i = 0; i < atomic_load(&nr_passes) && i < PASS_LOG; i++)
		printf("pass=%.1f ms level %d, took %.1f ms\n",
		       (double)(pass_ns[i] - t0) / 1e6, pass_level[i],
		       i < atomic_load(&nr_pass_ends) ?
			       (double)(pass_end_ns[i] - pass_ns[i]) / 1e6 :
			       -1.0);
	printf("elapsed_ms=%lld\n", (now_ns() - t0) / 1000000);
	fflush(stdout);

	sc_pressure_close(p);
	sc_cache_destroy(cache);
	sc_shrinker_free(probe);
	sc_shrinker_free(probe_end);
	sc_slab_destroy(values);
	return 0;
}
