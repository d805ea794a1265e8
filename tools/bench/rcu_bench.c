// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sc-bench-rcu: what the cache's read-side sections (core/rcu.h) cost,
 * against liburcu's "memb" flavour, the userspace RCU they are a reduced
 * form of.
 *
 * For each flavour: the time of one read-side section around one load,
 * with one thread and with two threads at once (each in its own line, so
 * two should cost what one does), and the time a writer waits for a grace
 * period while a reader thread runs sections without pause, and while no
 * other thread reads.
 *
 * Both flavours run twice, in child processes: as the kernel lets them
 * (membarrier(2) registered, so readers need no barrier of their own), and
 * behind a seccomp filter that refuses membarrier(2), so that both fall
 * back to a full barrier in every section. The filter is installed before
 * the child execs itself, since liburcu decides at load time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/rcu.h"
#include "harness.h"
#include "rcu_bench.h"
#include "selftests/refuse_membarrier.h"

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("sc-bench-rcu: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* A decimal count, or exit 2 with a message naming @opt. */
static uint64_t parse_count(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-') {
		fprintf(stderr, "sc-bench-rcu: %s: not a count: '%s'\n", opt,
			s);
		exit(2);
	}
	return v;
}

struct flavour {
	const char *name;
	void (*reader_register)(void);
	void (*reader_unregister)(void);
	uint64_t (*read_loop)(const _Atomic uint64_t *word, uint64_t n);
	void (*synchronize)(void);
	bool (*readers_fence)(void);
};

static void sc_reader_register(void)
{
	/* a thread registers at its first section */
	sc_rcu_read_lock();
	sc_rcu_read_unlock();
}

static void sc_reader_unregister(void)
{
	/* a thread leaves the list when it exits */
}

static uint64_t sc_read_loop(const _Atomic uint64_t *word, uint64_t n)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < n; i++) {
		sc_rcu_read_lock();
		sum += atomic_load_explicit(word, memory_order_relaxed);
		sc_rcu_read_unlock();
	}
	return sum;
}

static void sc_synchronize(void)
{
	sc_rcu_synchronize();
}

static bool sc_readers_fence(void)
{
	return sc_rcu_reader_mb;
}

static const struct flavour flavours[] = {
	{ "slabcache", sc_reader_register, sc_reader_unregister, sc_read_loop,
	  sc_synchronize, sc_readers_fence },
	{ "liburcu-memb", urcu_reader_register, urcu_reader_unregister,
	  urcu_read_loop, urcu_synchronize, urcu_readers_fence },
};

static _Atomic uint64_t shared_word = 1;

struct reader {
	const struct flavour *f;
	pthread_barrier_t *start;
	uint64_t sections;
	uint64_t ns;
	atomic_bool *stop; /* run until set (grace-period runs) */
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	uint64_t t0;

	r->f->reader_register();
	pthread_barrier_wait(r->start);
	if (r->stop) {
		while (!atomic_load_explicit(r->stop, memory_order_relaxed))
			bench_keep(r->f->read_loop(&shared_word, 1024));
	} else {
		t0 = bench_now_ns();
		bench_keep(r->f->read_loop(&shared_word, r->sections));
		r->ns = bench_now_ns() - t0;
	}
	r->f->reader_unregister();
	return NULL;
}

/* ns per section, the mean of @nthreads threads running at once */
static double section_ns(const struct flavour *f, unsigned int nthreads,
			 uint64_t sections)
{
	struct reader r[2];
	pthread_t tid[2];
	pthread_barrier_t start;
	double sum = 0;

	pthread_barrier_init(&start, NULL, nthreads);
	for (unsigned int i = 0; i < nthreads; i++) {
		r[i] = (struct reader){ .f = f,
					.start = &start,
					.sections = sections };
		if (pthread_create(&tid[i], NULL, reader_main, &r[i]))
			die("pthread_create");
	}
	for (unsigned int i = 0; i < nthreads; i++) {
		pthread_join(tid[i], NULL);
		sum += (double)r[i].ns / (double)sections;
	}
	pthread_barrier_destroy(&start);
	return sum / nthreads;
}

/* median µs of @n grace periods, with one busy reader or none */
static double grace_us(const struct flavour *f, bool busy_reader,
		       unsigned int n)
{
	struct bench_samples s = { 0 };
	struct reader r;
	pthread_t tid;
	pthread_barrier_t start;
	atomic_bool stop = false;
	unsigned int per = (n + BENCH_MAX_ROUNDS - 1) / BENCH_MAX_ROUNDS;

	if (busy_reader) {
		pthread_barrier_init(&start, NULL, 2);
		r = (struct reader){ .f = f, .start = &start, .stop = &stop };
		if (pthread_create(&tid, NULL, reader_main, &r))
			die("pthread_create");
		pthread_barrier_wait(&start);
	}
	f->reader_register();
	for (unsigned int done = 0; done < n && s.n < BENCH_MAX_ROUNDS;) {
		uint64_t t0 = bench_now_ns();

		for (unsigned int i = 0; i < per; i++)
			f->synchronize();
		bench_samples_add(&s,
				  (double)(bench_now_ns() - t0) / per / 1000.0);
		done += per;
	}
	f->reader_unregister();
	if (busy_reader) {
		atomic_store(&stop, true);
		pthread_join(tid, NULL);
		pthread_barrier_destroy(&start);
	}
	return bench_samples_median(&s);
}

static void run_mode(const char *mode, unsigned int rounds, uint64_t sections,
		     unsigned int syncs)
{
	for (size_t i = 0; i < sizeof(flavours) / sizeof(flavours[0]); i++) {
		const struct flavour *f = &flavours[i];
		struct bench_samples one = { 0 }, two = { 0 };
		double busy, idle;

		for (unsigned int r = 0; r < rounds; r++) {
			bench_samples_add(&one, section_ns(f, 1, sections));
			bench_samples_add(&two, section_ns(f, 2, sections));
		}
		busy = grace_us(f, true, syncs);
		idle = grace_us(f, false, syncs);
		printf("| %s | %s | %s | %.2f | %.2f | %.1f | %.1f |\n", mode,
		       f->name, f->readers_fence() ? "yes" : "no",
		       bench_samples_median(&one), bench_samples_median(&two),
		       busy, idle);
		fflush(stdout);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sc-bench-rcu [options]\n"
		"  --rounds R        section timings per flavour (default 5)\n"
		"  --sections N      sections per thread and round (default 20000000)\n"
		"  --syncs N         grace periods timed per line (default 640)\n"
		"  --quick           a tiny run (smoke test)\n"
		"  --mode M          run one mode only: membarrier or fenced\n");
}

int main(int argc, char **argv)
{
	uint64_t rounds = 5, syncs = 640, sections = 20000000;
	const char *mode = NULL;
	char nbuf[3][32];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--rounds") && i + 1 < argc)
			rounds = parse_count(a, argv[++i]);
		else if (!strcmp(a, "--sections") && i + 1 < argc)
			sections = parse_count(a, argv[++i]);
		else if (!strcmp(a, "--syncs") && i + 1 < argc)
			syncs = parse_count(a, argv[++i]);
		else if (!strcmp(a, "--quick")) {
			rounds = 1;
			sections = 100000;
			syncs = 64;
		} else if (!strcmp(a, "--mode") && i + 1 < argc)
			mode = argv[++i];
		else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!rounds || rounds > BENCH_MAX_ROUNDS || !sections || !syncs ||
	    syncs > 1000000) {
		fprintf(stderr,
			"sc-bench-rcu: --rounds must be 1..%d, "
			"--sections at least 1, --syncs 1..1000000\n",
			BENCH_MAX_ROUNDS);
		return 2;
	}
	if (mode) {
		if (strcmp(mode, "membarrier") && strcmp(mode, "fenced")) {
			fprintf(stderr, "sc-bench-rcu: unknown mode '%s'\n",
				mode);
			return 2;
		}
		run_mode(mode, (unsigned int)rounds, sections,
			 (unsigned int)syncs);
		return 0;
	}

	printf("## RCU read-side sections: slabcache and liburcu\n\n");
	printf("%llu rounds of %llu sections per thread (median); grace "
	       "periods: median of %llu, with a reader thread in sections "
	       "without pause (busy) and with none (idle)\n\n",
	       (unsigned long long)rounds, (unsigned long long)sections,
	       (unsigned long long)syncs);
	printf("| mode | flavour | readers fence | ns/section, 1 thread | "
	       "ns/section, 2 threads | grace period µs, busy | "
	       "grace period µs, idle |\n");
	printf("|---|---|---|---|---|---|---|\n");
	fflush(stdout);
	snprintf(nbuf[0], sizeof(nbuf[0]), "%llu", (unsigned long long)rounds);
	snprintf(nbuf[1], sizeof(nbuf[1]), "%llu",
		 (unsigned long long)sections);
	snprintf(nbuf[2], sizeof(nbuf[2]), "%llu", (unsigned long long)syncs);
	for (int fenced = 0; fenced <= 1; fenced++) {
		pid_t pid = fork();
		int status;

		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			if (fenced && refuse_membarrier())
				die("seccomp: %s", strerror(errno));
			execl("/proc/self/exe", argv[0], "--mode",
			      fenced ? "fenced" : "membarrier", "--rounds",
			      nbuf[0], "--sections", nbuf[1], "--syncs",
			      nbuf[2], (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			die("the %s run failed",
			    fenced ? "fenced" : "membarrier");
	}
	return 0;
}
