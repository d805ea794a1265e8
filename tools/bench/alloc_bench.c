// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sc-bench-alloc: sc_slab against glibc malloc and jemalloc, side by side,
 * interleaved, in one process.
 *
 * Peers:
 * - glibc: __libc_malloc/__libc_free, glibc's own allocator entry points.
 *   When the library is built with jemalloc (Debian's is unprefixed),
 *   malloc() in this process IS jemalloc, so glibc is called by these
 *   names; without jemalloc they are what malloc() calls anyway.
 * - jemalloc malloc/free and jemalloc mallocx/sdallocx (sized free), when
 *   the library is built with CONFIG_JEMALLOC.
 * - sc_slab: sc_slab_alloc/sc_slab_free on one slab cache per size,
 *   shared by the threads.
 *
 * Per round, each allocator in turn runs the patterns of the perf notes §4
 * on N objects per thread, every thread at once, a barrier between steps:
 *   hot pair     alloc then free, repeated (ns per pair)
 *   alloc        N allocations on fresh memory (page faults included)
 *   free lifo    the N freed newest first
 *   alloc warm   N allocations again, after the lifo free
 *   free random  the N freed in a random order
 *   alloc-after-random-free  N allocations right after that
 *   cross-thread threads in pairs: one allocates N objects and hands
 *                them over in runs of 64, the other frees them as they
 *                come (ns per object; needs an even thread count)
 * Every allocated object gets one word written, as a user would. Between
 * allocators the process gives its free memory back (malloc_trim, jemalloc
 * purge; the slab cache is destroyed), so "fresh" means fresh.
 *
 * Threads and locks: the workers share only the allocator under test and
 * a barrier; each writes its own struct worker and pointer arrays, read by
 * the main thread after the join. In the cross-thread step a producer
 * publishes how many of its pointers are ready with a release store that
 * its consumer reads with an acquire load. No lock of our own.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include <slabcache.h>

#ifdef CONFIG_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "harness.h"

/* glibc's allocator under its own names (exported since glibc 2.2.5). */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);

#define MAX_LIST 16
#define MAX_THREADS 8

enum step {
	STEP_HOT,
	STEP_ALLOC_FRESH,
	STEP_FREE_LIFO,
	STEP_ALLOC_WARM,
	STEP_FREE_RANDOM,
	STEP_ALLOC_AFTER_RANDOM,
	STEP_CROSS,
	NR_STEPS,
};

static const char *const step_phase[NR_STEPS] = {
	"hot pair",
	"alloc",
	"free",
	"alloc",
	"free",
	"alloc-after-random-free",
	"cross-thread pair",
};
/* names for --vg */
static const char *const step_name[NR_STEPS] = {
	"hot-pair",	"alloc-fresh", "free-lifo",
	"alloc-warm",	"free-random", "alloc-after-random-free",
	"cross-thread",
};
static const char *const step_workload[NR_STEPS] = {
	"alloc+free",		"fresh pages", "lifo",
	"warm after lifo free", "random",      "random",
	"A allocs and B frees",
};

struct allocator {
	const char *name;
	void *(*setup)(size_t size); /* per size and round; NULL ctx is fine */
	void (*teardown)(void *ctx);
	void (*hot)(void *ctx, size_t size, size_t n);
	size_t (*alloc_batch)(void *ctx, size_t size, void **ptrs, size_t n);
	void (*free_batch)(void *ctx, size_t size, void **ptrs, size_t n);
	void (*free_batch_rev)(void *ctx, size_t size, void **ptrs, size_t n);
};

/*
 * One set of loops per allocator, so that no indirect call sits between
 * two measured operations. bench_keep() stops the compiler from pairing
 * a malloc with its free and removing both.
 */
#define DEFINE_LOOPS(pfx, ALLOC, FREE)                                        \
	static void pfx##_hot(void *ctx, size_t size, size_t n)               \
	{                                                                     \
		for (size_t i = 0; i < n; i++) {                              \
			void *p = ALLOC(ctx, size);                           \
			*(volatile uintptr_t *)p = i;                         \
			bench_keep(p);                                        \
			FREE(ctx, p, size);                                   \
		}                                                             \
	}                                                                     \
	static size_t pfx##_alloc_batch(void *ctx, size_t size, void **ptrs,  \
					size_t n)                             \
	{                                                                     \
		for (size_t i = 0; i < n; i++) {                              \
			void *p = ALLOC(ctx, size);                           \
			if (!p)                                               \
				return i;                                     \
			*(uintptr_t *)p = i;                                  \
			ptrs[i] = p;                                          \
		}                                                             \
		return n;                                                     \
	}                                                                     \
	static void pfx##_free_batch(void *ctx, size_t size, void **ptrs,     \
				     size_t n)                                \
	{                                                                     \
		for (size_t i = 0; i < n; i++)                                \
			FREE(ctx, ptrs[i], size);                             \
	}                                                                     \
	static void pfx##_free_batch_rev(void *ctx, size_t size, void **ptrs, \
					 size_t n)                            \
	{                                                                     \
		for (size_t i = n; i-- > 0;)                                  \
			FREE(ctx, ptrs[i], size);                             \
	}

#define ALLOCATOR(pfx, nm, su, td)                                         \
	{                                                                  \
		.name = nm, .setup = su, .teardown = td, .hot = pfx##_hot, \
		.alloc_batch = pfx##_alloc_batch,                          \
		.free_batch = pfx##_free_batch,                            \
		.free_batch_rev = pfx##_free_batch_rev,                    \
	}

#define GLIBC_ALLOC(ctx, size) __libc_malloc(size)
#define GLIBC_FREE(ctx, p, size) __libc_free(p)
DEFINE_LOOPS(glibc, GLIBC_ALLOC, GLIBC_FREE)

#ifdef CONFIG_JEMALLOC
#define JE_ALLOC(ctx, size) malloc(size)
#define JE_FREE(ctx, p, size) free(p)
DEFINE_LOOPS(je, JE_ALLOC, JE_FREE)

#define JEX_ALLOC(ctx, size) mallocx(size, 0)
#define JEX_FREE(ctx, p, size) sdallocx(p, size, 0)
DEFINE_LOOPS(jex, JEX_ALLOC, JEX_FREE)
#endif

#define SLAB_ALLOC(ctx, size) sc_slab_alloc(ctx)
#define SLAB_FREE(ctx, p, size) sc_slab_free(ctx, p)
DEFINE_LOOPS(slab, SLAB_ALLOC, SLAB_FREE)

static void *slab_setup(size_t size)
{
	struct sc_slab *s = sc_slab_create("bench", size, 0, 0);

	if (!s) {
		fprintf(stderr, "bench: sc_slab_create(%zu): %s\n", size,
			strerror(errno));
		exit(2);
	}
	return s;
}

static void slab_teardown(void *ctx)
{
	sc_slab_destroy(ctx);
}

static const struct allocator allocators[] = {
	ALLOCATOR(slab, "sc_slab", slab_setup, slab_teardown),
	ALLOCATOR(glibc, "glibc malloc/free", NULL, NULL),
#ifdef CONFIG_JEMALLOC
	ALLOCATOR(je, "jemalloc malloc/free", NULL, NULL),
	ALLOCATOR(jex, "jemalloc mallocx/sdallocx", NULL, NULL),
#endif
};

#define NR_ALLOCATORS (sizeof(allocators) / sizeof(allocators[0]))

struct config {
	size_t sizes[MAX_LIST], nr_sizes;
	size_t threads[MAX_LIST], nr_threads;
	size_t n, hot_ops;
	unsigned int rounds;
	uint64_t seed;
	const char *csv;
	bool only[NR_ALLOCATORS];
	int vg_step; /* -1: normal run */
	bool vg_skip;
};

struct worker {
	pthread_t tid;
	const struct allocator *a;
	void *ctx;
	size_t size, n, hot_ops;
	void **ptrs, **shuffled;
	const uint32_t *perm;
	pthread_barrier_t *barrier;
	struct worker *peer; /* cross-thread: the producer, for a consumer */
	bool producer;
	atomic_size_t published; /* cross-thread: ptrs[0..published) ready */
	uint64_t t_start[NR_STEPS], t_end[NR_STEPS];
	bool failed;
	int last_step; /* run steps 0..last_step */
	bool skip_last; /* valgrind mode: all but the last step's loop */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * The cross-thread step: a producer allocates into its ptrs[] and
 * publishes them 64 at a time; its consumer frees each run as it comes.
 * A worker without a partner (odd thread count, valgrind mode) idles.
 */
static void cross_thread(struct worker *w)
{
	const struct allocator *a = w->a;
	struct worker *p = w->peer;
	size_t n = w->n, done = 0, ready;

	if (p) {
		while (done < n) {
			ready = atomic_load_explicit(&p->published,
						     memory_order_acquire);
			if (ready == done) {
				cpu_relax();
				continue;
			}
			a->free_batch(w->ctx, w->size, p->ptrs + done,
				      ready - done);
			done = ready;
		}
		return;
	}
	if (!w->producer)
		return;
	for (size_t i = 0; i < n; i += 64) {
		size_t run = n - i < 64 ? n - i : 64;

		if (a->alloc_batch(w->ctx, w->size, w->ptrs + i, run) != run) {
			w->failed = true; /* worker_main() exits */
			return;
		}
		atomic_store_explicit(&w->published, i + run,
				      memory_order_release);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct allocator *a = w->a;
	size_t n = w->n;

	for (int step = 0; step <= w->last_step; step++) {
		/* untimed preparation of the step */
		if (step == STEP_FREE_RANDOM)
			for (size_t i = 0; i < n; i++)
				w->shuffled[i] = w->ptrs[w->perm[i]];
		if (step == STEP_CROSS)
			a->free_batch_rev(w->ctx, w->size, w->ptrs, n);
		pthread_barrier_wait(w->barrier);
		if (step == w->last_step && w->skip_last)
			return NULL;
		w->t_start[step] = bench_now_ns();
		switch (step) {
		case STEP_HOT:
			a->hot(w->ctx, w->size, w->hot_ops);
			break;
		case STEP_ALLOC_FRESH:
		case STEP_ALLOC_WARM:
		case STEP_ALLOC_AFTER_RANDOM:
			if (a->alloc_batch(w->ctx, w->size, w->ptrs, n) != n)
				w->failed = true;
			break;
		case STEP_FREE_LIFO:
			a->free_batch_rev(w->ctx, w->size, w->ptrs, n);
			break;
		case STEP_FREE_RANDOM:
			a->free_batch(w->ctx, w->size, w->shuffled, n);
			break;
		case STEP_CROSS:
			cross_thread(w);
			break;
		}
		w->t_end[step] = bench_now_ns();
		if (w->failed) {
			fprintf(stderr, "bench: %s: out of memory\n", a->name);
			exit(2);
		}
	}
	/* the objects are live only after an allocation step */
	if (w->last_step == STEP_ALLOC_AFTER_RANDOM)
		a->free_batch_rev(w->ctx, w->size, w->ptrs, n);
	return NULL;
}

static void run_one(const struct config *cfg, const struct allocator *a,
		    size_t size, unsigned int nt, void ***ptrs,
		    void ***shuffled, const uint32_t *perm, bool rec)
{
	struct worker w[MAX_THREADS];
	pthread_barrier_t barrier;
	void *ctx = a->setup ? a->setup(size) : NULL;

	pthread_barrier_init(&barrier, NULL, nt);
	for (unsigned int t = 0; t < nt; t++) {
		w[t] = (struct worker){
			.a = a,
			.ctx = ctx,
			.size = size,
			.n = cfg->n,
			.hot_ops = cfg->hot_ops,
			.ptrs = ptrs[t],
			.shuffled = shuffled[t],
			.perm = perm,
			.barrier = &barrier,
			.last_step = NR_STEPS - 1,
		};
		/* cross-thread pairs: (0, 1), (2, 3), ... */
		if (t % 2)
			w[t].peer = &w[t - 1];
		else
			w[t].producer = t + 1 < nt;
	}
	for (unsigned int t = 0; t < nt; t++) {
		if (pthread_create(&w[t].tid, NULL, worker_main, &w[t])) {
			fprintf(stderr, "bench: pthread_create failed\n");
			exit(2);
		}
	}
	for (unsigned int t = 0; t < nt; t++)
		pthread_join(w[t].tid, NULL);
	pthread_barrier_destroy(&barrier);
	if (a->teardown)
		a->teardown(ctx);
	bench_heap_purge();
	if (!rec)
		return;
	for (int step = 0; step < NR_STEPS; step++) {
		uint64_t first = UINT64_MAX, last = 0;
		size_t ops = (step == STEP_HOT ? cfg->hot_ops : cfg->n) * nt;
		struct bench_row *r;

		if (step == STEP_CROSS) {
			if (nt % 2)
				continue; /* no pairs */
			ops = cfg->n * (nt / 2); /* objects through the pairs */
		}

		for (unsigned int t = 0; t < nt; t++) {
			if (w[t].t_start[step] < first)
				first = w[t].t_start[step];
			if (w[t].t_end[step] > last)
				last = w[t].t_end[step];
		}
		r = bench_row("alloc", step_phase[step], step_workload[step],
			      a->name, cfg->n, size, nt);
		bench_samples_add(&r->ns, (double)(last - first) / (double)ops);
	}
}

/*
 * Valgrind mode: one thread runs the steps up to cfg->vg_step (without its
 * loop under --vg-skip), prints the step's operations and exits at once,
 * so the two runs differ only in that loop (tools/bench/vg-companion.sh).
 */
static int vg_run(const struct config *cfg, const struct allocator *a,
		  void **ptrs, void **shuffled, const uint32_t *perm)
{
	pthread_barrier_t barrier;
	struct worker w = {
		.a = a,
		.ctx = a->setup ? a->setup(cfg->sizes[0]) : NULL,
		.size = cfg->sizes[0],
		.n = cfg->n,
		.hot_ops = cfg->hot_ops,
		.ptrs = ptrs,
		.shuffled = shuffled,
		.perm = perm,
		.barrier = &barrier,
		.last_step = cfg->vg_step,
		.skip_last = cfg->vg_skip,
	};

	pthread_barrier_init(&barrier, NULL, 1);
	worker_main(&w);
	printf("ops=%zu\n", cfg->vg_step == STEP_HOT ? cfg->hot_ops : cfg->n);
	fflush(stdout);
	_exit(0);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sc-bench-alloc [options]\n"
		"  --sizes LIST    object sizes, default 16,32,64,128,256,512,1024\n"
		"  --n N           objects per thread, default 1M\n"
		"  --hot-ops N     hot alloc+free pairs per thread, default 10M\n"
		"  --threads LIST  default 1,2\n"
		"  --rounds R      measured rounds after one warm-up, default 5\n"
		"  --only NAME     one allocator (repeatable): sc_slab, glibc,\n"
		"                  jemalloc, mallocx\n"
		"  --csv FILE      write the rows as CSV\n"
		"  --list          print the allocators of this build\n"
		"  --vg STEP       valgrind companion: the first --only allocator\n"
		"                  and size, one thread, steps up to STEP (hot-pair\n"
		"                  alloc-fresh free-lifo alloc-warm free-random\n"
		"                  alloc-after-random-free cross-thread); --vg-skip\n"
		"                  omits its loop (cross-thread needs two threads:\n"
		"                  it runs nothing here)\n");
}

/* --only names, in the order of allocators[] */
static const char *const only_keys[] = { "sc_slab", "glibc", "jemalloc",
					 "mallocx" };

static int parse_only(struct config *cfg, const char *v)
{
	const char *const *keys = only_keys;

	for (size_t i = 0; i < NR_ALLOCATORS && i < 4; i++)
		if (!strcmp(v, keys[i])) {
			cfg->only[i] = true;
			return 0;
		}
	return -1;
}

int main(int argc, char **argv)
{
	struct config cfg = {
		.sizes = { 16, 32, 64, 128, 256, 512, 1024 },
		.nr_sizes = 7,
		.threads = { 1, 2 },
		.nr_threads = 2,
		.n = 1000000,
		.hot_ops = 10000000,
		.rounds = 5,
		.seed = 42,
		.vg_step = -1,
	};
	bool any_only = false;
	size_t max_threads = 1;
	void **ptrs[MAX_THREADS], **shuffled[MAX_THREADS];
	uint32_t *perm;
	struct bench_rng rng;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok;

		if (!strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--list")) {
			for (size_t k = 0; k < NR_ALLOCATORS; k++)
				printf("%s\n", only_keys[k]);
			return 0;
		}
		if (!strcmp(a, "--vg-skip")) {
			cfg.vg_skip = true;
			continue;
		}
		if (!v) {
			usage(stderr);
			return 2;
		}
		i++;
		if (!strcmp(a, "--vg")) {
			cfg.vg_step = -1;
			for (int k = 0; k < NR_STEPS; k++)
				if (!strcmp(v, step_name[k]))
					cfg.vg_step = k;
			ok = cfg.vg_step >= 0;
		} else if (!strcmp(a, "--sizes"))
			ok = (cfg.nr_sizes = bench_parse_list(v, cfg.sizes,
							      MAX_LIST)) != 0;
		else if (!strcmp(a, "--threads"))
			ok = (cfg.nr_threads = bench_parse_list(v, cfg.threads,
								MAX_LIST)) != 0;
		else if (!strcmp(a, "--n"))
			ok = (cfg.n = bench_parse_size(v)) != 0;
		else if (!strcmp(a, "--hot-ops"))
			ok = (cfg.hot_ops = bench_parse_size(v)) != 0;
		else if (!strcmp(a, "--rounds"))
			ok = (cfg.rounds = (unsigned int)atoi(v)) > 0 &&
			     cfg.rounds < BENCH_MAX_ROUNDS;
		else if (!strcmp(a, "--only"))
			ok = !parse_only(&cfg, v) && (any_only = true);
		else if (!strcmp(a, "--csv"))
			ok = (cfg.csv = v) != NULL;
		else
			ok = false;
		if (!ok) {
			fprintf(stderr, "sc-bench-alloc: bad option %s %s\n", a,
				v);
			usage(stderr);
			return 2;
		}
	}
	for (size_t i = 0; i < cfg.nr_threads; i++) {
		if (!cfg.threads[i] || cfg.threads[i] > MAX_THREADS) {
			fprintf(stderr, "sc-bench-alloc: 1 to %d threads\n",
				MAX_THREADS);
			return 2;
		}
		if (cfg.threads[i] > max_threads)
			max_threads = cfg.threads[i];
	}
	for (size_t i = 0; i < cfg.nr_sizes; i++)
		if (cfg.sizes[i] < sizeof(uintptr_t)) {
			fprintf(stderr, "sc-bench-alloc: sizes >= %zu\n",
				sizeof(uintptr_t));
			return 2;
		}
	if (!any_only)
		for (size_t i = 0; i < NR_ALLOCATORS; i++)
			cfg.only[i] = true;

	for (size_t t = 0; t < max_threads; t++) {
		ptrs[t] = bench_xmalloc(cfg.n * sizeof(void *));
		shuffled[t] = bench_xmalloc(cfg.n * sizeof(void *));
	}
	perm = bench_xmalloc(cfg.n * sizeof(*perm));
	bench_rng_seed(&rng, cfg.seed);
	bench_perm(perm, cfg.n, &rng);
	if (cfg.vg_step >= 0) {
		for (size_t k = 0; k < NR_ALLOCATORS; k++)
			if (cfg.only[k])
				return vg_run(&cfg, &allocators[k], ptrs[0],
					      shuffled[0], perm);
	}

	printf("## Allocation bench: sc_slab vs glibc vs jemalloc\n\n");
	bench_print_machine(stdout, "");
	printf("%zu objects per thread, %zu hot pairs, %u rounds after a "
	       "warm-up, interleaved; glibc called as __libc_malloc/"
	       "__libc_free\n",
	       cfg.n, cfg.hot_ops, cfg.rounds);
	fflush(stdout);

	for (size_t ti = 0; ti < cfg.nr_threads; ti++)
		for (size_t si = 0; si < cfg.nr_sizes; si++)
			for (unsigned int r = 0; r <= cfg.rounds; r++)
				for (size_t ai = 0; ai < NR_ALLOCATORS; ai++)
					if (cfg.only[ai])
						run_one(&cfg, &allocators[ai],
							cfg.sizes[si],
							(unsigned int)
								cfg.threads[ti],
							ptrs, shuffled, perm,
							r > 0);
	bench_report(stdout, cfg.csv, "sc_slab", "object B");
	for (size_t t = 0; t < max_threads; t++) {
		free(ptrs[t]);
		free(shuffled[t]);
	}
	free(perm);
	return 0;
}
