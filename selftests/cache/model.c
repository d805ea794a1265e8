// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Randomized model test: millions of mixed operations on a cache, each
 * checked at once against a simple reference model (an array in exact LRU
 * order, oldest first, searched linearly). After every operation: the same
 * result, the same count and total cost, the same values released in the
 * same order (eviction order, least recently used first), pinned entries
 * released exactly at their last put, and never a value that was not
 * taken. At the end every value taken was released exactly once.
 *
 * The same run checks SC_CACHE_POLICY_SIEVE against a reference SIEVE: the
 * array then holds insertion order, a hit sets the entry's visited flag,
 * and the victim is found by an index "hand" that moves from [0] (oldest)
 * up, clearing flags, wrapping past the end; a removal below the hand
 * shifts it down with the array, a removal at the hand leaves it on the
 * next newer entry (none past the newest: start again at the oldest).
 *
 * And SC_CACHE_POLICY_S3FIFO against the text of Documentation/policy.rst
 * ("Algorithm"): the array then holds both queues, each entry marked S or
 * M, each queue's order being the array's order among its entries (a move
 * to a queue's new end is a move to the end of the array); a frequency per
 * entry; the ghost as buckets of fingerprints; admission, with
 * SC_CACHE_NOT_ADMITTED and the value not taken. With python3 present,
 * the first operations are also logged in the format of
 * selftests/policy/oplog.py, which replays them through the independent
 * Python model (SC_POLICY_OPLOG=<file> logs the whole run there).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "core/internal.h"
#include "helpers.h"

#ifdef CONFIG_SC_ASAN
#define NR_OPS 1000000ul
#else
#define NR_OPS 3000000ul
#endif
#define NR_KEYS 160 /* string key space */
#define NR_HANDLES 256 /* handles remembered (live and dead) */
#define NR_PINS 16 /* pins held at most */
#define MAX_ENTRIES 4096
#define LOG_MAX 4096

#define AM_MAX_ENTRIES MAX_ENTRIES
#define AM_LOG_MAX LOG_MAX
#define AM_NR_PINS NR_PINS
#define AM_NR_HANDLES NR_HANDLES
#define AM_CHECK(cond, ...) cr_assert(cond, __VA_ARGS__)
#include "array_model.h"

/* The release log of the current operation. */
static unsigned long rlog[LOG_MAX];
static size_t nr_rlog;
static unsigned char *released, *taken;
static unsigned long nr_released_bad;

static void model_release(void *value, void *priv)
{
	uintptr_t id = VAL_ID(value);

	if (nr_rlog < LOG_MAX)
		rlog[nr_rlog] = id;
	nr_rlog++;
	if (id >= NR_OPS + 1)
		nr_released_bad++;
	else
		released[id]++;
}

static const struct sc_cache_ops model_ops = { .release = model_release };

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static unsigned int rnd_below(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

static const char *key_str(unsigned int k, char *buf)
{
	/* every 8th key is long enough to live in a key slab */
	if (k % 8 == 0)
		snprintf(
			buf, 200,
			"long-key-%03u-........................................"
			"..................................................",
			k);
	else
		snprintf(buf, 200, "k%u", k);
	return buf;
}

static size_t rnd_cost(void)
{
	unsigned int r = rnd_below(100);

	if (r < 5)
		return 0;
	if (r < 7)
		return 300 + rnd_below(800); /* often more than the limit */
	return 1 + rnd_below(40);
}

/* Check the cache against the model after one operation. */
/* Check the cache against the model after one operation. */
static void check(struct sc_cache *c, struct amodel *m, unsigned long op,
		  const char *what)
{
	struct sc_cache_stats st;

	cr_assert_eq(nr_rlog, m->nr_expect, "op %lu %s: %zu releases, want %zu",
		     op, what, nr_rlog, m->nr_expect);
	for (size_t i = 0; i < nr_rlog; i++)
		cr_assert_eq(rlog[i], m->expect[i],
			     "op %lu %s: release %zu is %lu, want %lu", op,
			     what, i, rlog[i], m->expect[i]);
	cr_assert_eq(nr_released_bad, 0);
	sc_cache_stats(c, &st);
	cr_assert_eq(st.count, m->n, "op %lu %s", op, what);
	cr_assert_eq(st.total_cost, m->total, "op %lu %s", op, what);
	cr_assert_eq(st.limit, m->limit);
	cr_assert_eq(st.pinned, m->nr_dropped_pinned, "op %lu %s", op, what);
	cr_assert_leq(st.total_cost, st.limit);
	if (m->s3fifo) {
		struct sc_s3fifo_state ps;

		sc_cache_s3fifo_state(c, &ps);
		cr_assert_eq(ps.small_cost, am_queue_cost(m, false),
			     "op %lu %s: S", op, what);
		cr_assert_eq(ps.main_cost, am_queue_cost(m, true),
			     "op %lu %s: M", op, what);
		cr_assert_eq(ps.small_target, m->small_target,
			     "op %lu %s: S's share", op, what);
		cr_assert_eq(ps.ghost_buckets, m->ghost.buckets,
			     "op %lu %s: ghost of %zu buckets, want %zu (n %zu "
			     "total %zu limit %zu)",
			     op, what, ps.ghost_buckets, m->ghost.buckets, m->n,
			     m->total, m->limit);
		cr_assert_eq(ps.ghost_digest, am_ghost_digest(&m->ghost),
			     "op %lu %s: the ghost remembers other keys", op,
			     what);
	}
	if (op % 16 == 0) {
		const char *why = NULL;

		cr_assert_eq(sc_cache_check(c, &why), 0, "op %lu %s: %s", op,
			     what, why);
	}
	nr_rlog = 0;
	m->nr_expect = 0;
	m->evicted_len = 0;
	m->evicted[0] = '\0';
}

/* The operation log for selftests/policy/oplog.py, or NULL. */
static FILE *oplog;
static unsigned long oplog_ops;
static char oplog_path[4096];

#define OLOG(...)                                    \
	do {                                         \
		if (oplog && op < oplog_ops)         \
			fprintf(oplog, __VA_ARGS__); \
	} while (0)

static bool have_python3(void)
{
	return system("python3 -c '' >/dev/null 2>&1") == 0;
}

/*
 * S3-FIFO runs log their operations: all of them to $SC_POLICY_OPLOG, or
 * the first 50,000 to a temporary file, checked by oplog.py at the end.
 */
static void oplog_open(struct amodel *m)
{
	const char *path = getenv("SC_POLICY_OPLOG");

	oplog = NULL;
	if (!m->s3fifo)
		return;
	if (path && *path) {
		snprintf(oplog_path, sizeof(oplog_path), "%s", path);
		oplog = fopen(path, "w");
		cr_assert_not_null(oplog, "%s", path);
		oplog_ops = NR_OPS;
	} else if (have_python3()) {
		int fd;

		snprintf(oplog_path, sizeof(oplog_path),
			 "/tmp/sc-model-oplog-XXXXXX");
		fd = mkstemp(oplog_path);
		cr_assert_geq(fd, 0);
		oplog = fdopen(fd, "w");
		cr_assert_not_null(oplog);
		oplog_ops = 50000;
	}
	if (oplog)
		fprintf(oplog, "limit %zu\n", m->limit);
}

static void oplog_check(void)
{
	const char *src = getenv("SC_SRCTREE");
	char cmd[8400], out[512] = "";
	FILE *fp;
	int st;

	if (!oplog)
		return;
	cr_assert_eq(fclose(oplog), 0);
	oplog = NULL;
	if (!have_python3()) {
		cr_log_info("oplog written to %s; python3 missing", oplog_path);
		return;
	}
	snprintf(cmd, sizeof(cmd),
		 "PYTHONDONTWRITEBYTECODE=1 python3 "
		 "'%s/selftests/policy/oplog.py' '%s' 2>&1",
		 src && *src ? src : ".", oplog_path);
	fp = popen(cmd, "r");
	cr_assert_not_null(fp);
	if (!fgets(out, sizeof(out), fp))
		out[0] = '\0';
	st = pclose(fp);
	cr_assert_eq(st, 0, "oplog.py %s: %s", oplog_path, out);
	cr_log_info("S3-FIFO against the Python model: %s", out);
	if (!getenv("SC_POLICY_OPLOG"))
		unlink(oplog_path);
}

static void *find_from_main(void *arg)
{
	sc_cache_find(arg, "-");
	return NULL;
}

/*
 * @shared: another thread has a hit log of the cache (it looked once and
 * exited), so LRU's hits are applied lazily (core/queue.c): the same
 * exact order, from the set of pending hits.
 */
static void run_model_as(unsigned int policy, bool shared)
{
	struct amodel *m = calloc(1, sizeof(*m));
	struct sc_cache_config cfg = { .name = "model",
				       .limit = 1000,
				       .ops = &model_ops,
				       .flags = SC_CACHE_NO_SHRINKER | policy };
	struct sc_cache *c;
	unsigned long next_val = 1, op = 0;
	struct timespec t0, t1;
	uint64_t seed;
	char kb[200];
	const char *what = "";

	released = calloc(NR_OPS + 2, 1);
	taken = calloc(NR_OPS + 2, 1);
	rng_state = 0x9e3779b97f4a7c15ull;
	cr_assert_not_null(m);
	am_init(m, 1000, policy & SC_CACHE_POLICY_SIEVE,
		policy & SC_CACHE_POLICY_S3FIFO);
	m->log_evicted = true;
	am_shares(m);
	c = sc_cache_create(&cfg);
	cr_assert_not_null(c);
	if (shared) {
		pthread_t t;

		sc_cache_find(c, "-");
		cr_assert_eq(pthread_create(&t, NULL, find_from_main, c), 0);
		cr_assert_eq(pthread_join(t, NULL), 0);
	}
	seed = sc_cache_hash_seed(c);
	oplog_open(m);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (op = 0; op < NR_OPS; op++) {
		unsigned int r = rnd_below(1000);
		unsigned int k = rnd_below(NR_KEYS);
		bool grow = false;
		long p;

		if (r < 250) {
			size_t cost = rnd_cost();
			unsigned long v = next_val++;
			const char *key = key_str(k, kb);
			struct ment e = { .key = k, .val = v, .cost = cost };
			int ret, want = 0;

			what = "insert";
			e.hash = sc_key_hash(seed, key, strlen(key));
			ret = sc_cache_insert(c, key, VAL(v), cost);
			p = am_find(m, false, k);
			if (cost > m->limit) {
				want = -EFBIG;
				if (p >= 0)
					am_drop(m, (size_t)p);
			} else {
				if (p >= 0) {
					/* an update keeps queue and freq */
					e.main = m->lru[p].main;
					e.freq = m->lru[p].freq;
					am_drop(m, (size_t)p);
				} else if (m->s3fifo && !m->ghost.buckets) {
					e.main = cost > m->small_max;
				} else if (m->s3fifo &&
					   am_ghost_take(m, e.hash, cost)) {
					e.main = true;
				} else if (m->s3fifo && cost > m->small_max) {
					am_ghost_add(&m->ghost, e.hash, false);
					want = SC_CACHE_NOT_ADMITTED;
				}
				if (!want) {
					taken[v] = 1;
					am_evict(m, m->limit - cost);
					am_add(m, e);
					grow = true;
				}
			}
			cr_assert_eq(ret, want, "op %lu", op);
			OLOG("insert k%u %zu %016llx = %d%s\n", k, cost,
			     (unsigned long long)e.hash, ret, m->evicted);
		} else if (r < 370) {
			size_t cost = rnd_cost();
			unsigned long v = next_val++;
			unsigned int j;
			sc_key_t h;

			what = "add";
			if (m->nr_handles < NR_HANDLES) {
				j = (unsigned int)m->nr_handles;
			} else {
				/* forget a remembered handle; its entry
				 * goes first so the model keeps track */
				j = rnd_below(NR_HANDLES);
				if (m->handle_alive[j]) {
					cr_assert_eq(sc_cache_remove_key(
							     c, m->handles[j]),
						     0);
					am_drop(m, (size_t)am_find(m, true, j));
					am_ghost_size(m, false); /* a call */
					OLOG("remove h%u\n", j);
				}
			}
			h = sc_cache_add(c, VAL(v), cost);
			if (cost > m->limit) {
				cr_assert_eq(h.id, 0, "op %lu", op);
				cr_assert_eq(errno, EFBIG);
				OLOG("add h%u %zu = %d\n", j, cost, -EFBIG);
			} else {
				cr_assert_neq(h.id, 0, "op %lu", op);
				taken[v] = 1;
				if (j == m->nr_handles)
					m->nr_handles++;
				m->handles[j] = h;
				m->handle_alive[j] = true;
				am_evict(m, m->limit - cost);
				am_add(m,
				       (struct ment){
					       .handle = true,
					       .key = j,
					       .val = v,
					       .cost = cost,
					       .main = m->s3fifo &&
						       cost > m->small_max });
				grow = true;
				OLOG("add h%u %zu = 0%s\n", j, cost,
				     m->evicted);
			}
		} else if (r < 550) {
			void *v;

			what = "find";
			v = sc_cache_find(c, key_str(k, kb));
			p = am_find(m, false, k);
			if (p < 0) {
				cr_assert_null(v, "op %lu", op);
			} else {
				cr_assert_eq(v, VAL(m->lru[p].val), "op %lu",
					     op);
				am_touch(m, (size_t)p);
				OLOG("hit k%u\n", k);
			}
		} else if (r < 680 && m->nr_handles) {
			unsigned int j = rnd_below((unsigned int)m->nr_handles);
			void *v;

			what = "find_key";
			v = sc_cache_find_key(c, m->handles[j]);
			p = m->handle_alive[j] ? am_find(m, true, j) : -1;
			if (p < 0) {
				cr_assert_null(v, "op %lu", op);
			} else {
				cr_assert_eq(v, VAL(m->lru[p].val), "op %lu",
					     op);
				am_touch(m, (size_t)p);
				OLOG("hit h%u\n", j);
			}
			cr_assert_eq(sc_cache_key_valid(c, m->handles[j]),
				     p >= 0);
		} else if (r < 730 && m->nr_handles) {
			unsigned int j = rnd_below((unsigned int)m->nr_handles);
			size_t cost = rnd_cost();
			unsigned long v = next_val++;
			int ret;

			what = "replace";
			ret = sc_cache_replace(c, m->handles[j], VAL(v), cost);
			p = m->handle_alive[j] ? am_find(m, true, j) : -1;
			if (p < 0) {
				cr_assert_eq(ret, -ENOENT, "op %lu", op);
			} else if (cost > m->limit) {
				cr_assert_eq(ret, -EFBIG, "op %lu", op);
				am_drop(m, (size_t)p);
				OLOG("replace h%u %zu = %d\n", j, cost, ret);
			} else {
				struct ment e = m->lru[p];

				cr_assert_eq(ret, 0, "op %lu", op);
				taken[v] = 1;
				am_drop(m, (size_t)p);
				m->handle_alive[j] = true;
				am_evict(m, m->limit - cost);
				e.val = v;
				e.cost = cost;
				am_add(m, e); /* its queue and freq */
				grow = true;
				OLOG("replace h%u %zu = 0%s\n", j, cost,
				     m->evicted);
			}
		} else if (r < 800) {
			int ret;

			what = "remove";
			ret = sc_cache_remove(c, key_str(k, kb));
			p = am_find(m, false, k);
			cr_assert_eq(ret, p < 0 ? -ENOENT : 0, "op %lu", op);
			if (p >= 0) {
				am_drop(m, (size_t)p);
				OLOG("remove k%u\n", k);
			}
		} else if (r < 840 && m->nr_handles) {
			unsigned int j = rnd_below((unsigned int)m->nr_handles);
			int ret;

			what = "remove_key";
			ret = sc_cache_remove_key(c, m->handles[j]);
			p = m->handle_alive[j] ? am_find(m, true, j) : -1;
			cr_assert_eq(ret, p < 0 ? -ENOENT : 0, "op %lu", op);
			if (p >= 0) {
				am_drop(m, (size_t)p);
				OLOG("remove h%u\n", j);
			}
		} else if (r < 900) {
			struct sc_entry *e;
			bool by_key = rnd_below(2) && m->nr_handles;
			unsigned int j = 0;

			what = "get";
			if (m->nr_pins == NR_PINS)
				goto put;
			if (by_key) {
				j = rnd_below((unsigned int)m->nr_handles);
				e = sc_cache_get_key(c, m->handles[j]);
				p = m->handle_alive[j] ? am_find(m, true, j) :
							 -1;
			} else {
				e = sc_cache_get(c, key_str(k, kb));
				p = am_find(m, false, k);
			}
			if (p < 0) {
				cr_assert_null(e, "op %lu", op);
			} else {
				cr_assert_not_null(e, "op %lu", op);
				cr_assert_eq(sc_entry_value(e),
					     VAL(m->lru[p].val));
				cr_assert_eq(sc_entry_cost(e), m->lru[p].cost);
				m->pin_e[m->nr_pins] = e;
				m->pin_val[m->nr_pins++] = m->lru[p].val;
				am_touch(m, (size_t)p);
				OLOG("hit %c%u\n", by_key ? 'h' : 'k',
				     by_key ? j : k);
			}
		} else if (r < 950) {
			size_t i;
			unsigned long val;
put:
			what = "put";
			if (!m->nr_pins) {
				sc_entry_put(NULL);
				goto checkit;
			}
			i = rnd_below((unsigned int)m->nr_pins);
			val = m->pin_val[i];
			cr_assert_eq(sc_entry_value(m->pin_e[i]), VAL(val));
			sc_entry_put(m->pin_e[i]);
			m->pin_e[i] = m->pin_e[m->nr_pins - 1];
			m->pin_val[i] = m->pin_val[--m->nr_pins];
			if (!am_pins_of(m, val)) {
				for (size_t d = 0; d < m->nr_dropped_pinned;
				     d++) {
					if (m->dropped_pinned[d] != val)
						continue;
					m->dropped_pinned[d] =
						m->dropped_pinned
							[--m->nr_dropped_pinned];
					m->expect[m->nr_expect++] = val;
					break;
				}
			}
		} else if (r < 965) {
			static const size_t limits[] = { 0,    10,   300,
							 1000, 1000, 2000 };
			size_t l = limits[rnd_below(6)];

			what = "set_limit";
			cr_assert_eq(sc_cache_set_limit(c, l), 0);
			m->limit = l;
			am_shares(m);
			if (l)
				am_evict(m, l);
			else
				while (m->n) /* 0 evicts everything */
					am_drop(m, am_victim(m));
			OLOG("set_limit %zu =%s\n", l, m->evicted);
		} else if (r < 970) {
			long i;

			what = "clear";
			sc_cache_clear(c);
			/* S3-FIFO: S from its oldest, then M */
			while (m->s3fifo && (i = am_oldest_of(m, false)) >= 0)
				am_drop(m, (size_t)i);
			while (m->n)
				am_drop(m, 0);
			OLOG("clear\n");
		} else if (r < 985) {
			unsigned long nr = rnd_below(6), got, want = 0;

			what = "shrink";
			got = sc_cache_shrink(c, nr);
			while (want < nr && m->n) {
				am_drop(m, am_victim(m));
				want++;
			}
			cr_assert_eq(got, want, "op %lu", op);
			OLOG("shrink %lu =%s\n", nr, m->evicted);
		} else {
			unsigned long got, want = 0;
			bool idle = m->age_cost == m->total;

			what = "age";
			got = sc_cache_age(c);
			if (idle) {
				want = am_evict(m,
						m->total / 4 * 3 +
							m->total % 4 * 3 / 4);
				if (!want && m->n) {
					am_drop(m, am_victim(m));
					want = 1;
				}
			} else if (m->n) {
				am_drop(m, am_victim(m));
				want = 1;
			}
			m->age_cost = m->total;
			cr_assert_eq(got, want, "op %lu", op);
			OLOG("age %d =%s\n", idle, m->evicted);
		}
checkit:
		am_ghost_size(m, grow);
		if (op % 16 == 0 && m->s3fifo)
			OLOG("state %zu %zu %zu %zu\n", m->n, m->total,
			     am_queue_cost(m, false), am_queue_cost(m, true));
		check(c, m, op, what);
	}

	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* drop every pin, then destroy: every value taken released once */
	while (m->nr_pins)
		sc_entry_put(m->pin_e[--m->nr_pins]);
	sc_cache_destroy(c);
	for (unsigned long v = 1; v < next_val; v++)
		cr_assert_eq(released[v], taken[v],
			     "value %lu taken %u, released %u times", v,
			     taken[v], released[v]);
	cr_log_info("cache_model %s: %lu operations in %.2f s, %lu values",
		    m->s3fifo ? "S3-FIFO" :
		    m->sieve  ? "SIEVE" :
				"LRU",
		    NR_OPS,
		    (double)(t1.tv_sec - t0.tv_sec) +
			    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		    next_val - 1);
	oplog_check();
	free(released);
	free(taken);
	free(m);
}

static void run_model(unsigned int policy)
{
	run_model_as(policy, false);
}

Test(cache_model, random_ops)
{
	run_model(0);
}

Test(cache_model, random_ops_lazy)
{
	run_model_as(0, true);
}

Test(cache_model, random_ops_sieve)
{
	run_model(SC_CACHE_POLICY_SIEVE);
}

Test(cache_model, random_ops_s3fifo)
{
	run_model(SC_CACHE_POLICY_S3FIFO);
}
