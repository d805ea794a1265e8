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
#include "s3fifo_spec.h"

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

struct ment {
	bool handle;
	unsigned int key; /* string key index, or handle index */
	unsigned long val;
	size_t cost;
	bool visited; /* SIEVE */
	bool main; /* S3-FIFO: on M */
	uint8_t freq; /* S3-FIFO */
	uint64_t hash; /* S3-FIFO: the key hash of a string key */
};

#define GHOST_WAYS S3_GHOST_WAYS

/*
 * S3-FIFO's ghost, from the text: buckets of fingerprints, FIFO rings;
 * the arithmetic is s3fifo_spec.h's, shared with lincheck.c's model.
 */
struct mghost {
	uint32_t (*slot)[GHOST_WAYS]; /* fingerprint | tag (1: left M) */
	uint8_t *cursor;
	size_t buckets, sized;
	uint32_t nr[2]; /* slots of each tag */
};

struct model {
	struct ment lru[MAX_ENTRIES]; /* [0] least recently used / oldest */
	size_t n, total, limit, age_cost;
	bool sieve, s3fifo;
	size_t small_max, small_target, main_max;
	struct mghost ghost; /* slot NULL: none */
	/* S3-FIFO: the keys evicted by the current operation, in order */
	char evicted[LOG_MAX * 8];
	size_t evicted_len;
	long hand; /* SIEVE: next index to examine; -1: the oldest */
	/* expected release order of the current operation */
	unsigned long expect[LOG_MAX];
	size_t nr_expect;
	/* pins: entry and value; a value dropped while pinned waits */
	struct sc_entry *pin_e[NR_PINS];
	unsigned long pin_val[NR_PINS];
	size_t nr_pins;
	unsigned long dropped_pinned[NR_PINS];
	size_t nr_dropped_pinned;
	/* handles issued, alive or not */
	sc_key_t handles[NR_HANDLES];
	bool handle_alive[NR_HANDLES];
	size_t nr_handles;
};

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

static size_t pins_of(struct model *m, unsigned long val)
{
	size_t n = 0;

	for (size_t i = 0; i < m->nr_pins; i++)
		n += m->pin_val[i] == val;
	return n;
}

/* The model lets go of the entry at @i. */
static void m_drop(struct model *m, size_t i)
{
	struct ment e = m->lru[i];

	memmove(&m->lru[i], &m->lru[i + 1], (m->n - i - 1) * sizeof(e));
	m->n--;
	m->total -= e.cost;
	if (m->hand > (long)i)
		m->hand--;
	else if (m->hand == (long)i && m->hand == (long)m->n)
		m->hand = -1; /* was the newest: wrap */
	if (e.handle)
		m->handle_alive[e.key] = false;
	if (pins_of(m, e.val))
		m->dropped_pinned[m->nr_dropped_pinned++] = e.val;
	else
		m->expect[m->nr_expect++] = e.val;
}

static void m_touch(struct model *m, size_t i)
{
	struct ment e = m->lru[i];

	if (m->s3fifo) {
		if (m->lru[i].freq < S3_FREQ_MAX)
			m->lru[i].freq++;
		return;
	}
	if (m->sieve) {
		m->lru[i].visited = true;
		return;
	}
	memmove(&m->lru[i], &m->lru[i + 1], (m->n - i - 1) * sizeof(e));
	m->lru[m->n - 1] = e;
}

static void m_add(struct model *m, struct ment e)
{
	e.visited = false;
	m->lru[m->n++] = e;
	m->total += e.cost;
}

/* The name of an entry in the operation log. */
static void ment_name(const struct ment *e, char *buf, size_t size)
{
	snprintf(buf, size, "%c%u", e->handle ? 'h' : 'k', e->key);
}

/* ------------------------------------------------------------ S3-FIFO */

static void g_free(struct mghost *g)
{
	free(g->slot);
	free(g->cursor);
	*g = (struct mghost){ 0 };
}

static void g_add(struct mghost *g, uint64_t h, bool main)
{
	size_t b = s3_bucket(h, g->buckets);

	s3_ghost_add(g->slot[b], &g->cursor[b], g->nr, h, main);
}

/* The ghost takes a returning key of @cost: "Adaptation" moves S's share. */
static bool g_take(struct model *m, uint64_t h, size_t cost)
{
	struct mghost *g = &m->ghost;
	size_t b = s3_bucket(h, g->buckets);
	int i = s3_ghost_find(g->slot[b], h);
	bool main;

	if (i < 0)
		return false;
	main = g->slot[b][i] & 1;
	m->small_target =
		(size_t)s3_adapt(m->small_target, m->limit, g->nr, main, cost);
	m->main_max = m->limit - m->small_target;
	g->slot[b][i] = 0;
	g->nr[main]--;
	return true;
}

/* As sc_cache_s3fifo_state() digests the cache's ghost. */
static uint64_t g_digest(const struct mghost *g)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t b = 0; g->slot && b < g->buckets; b++) {
		for (int i = 0; i < GHOST_WAYS; i++)
			h = (h ^ g->slot[b][i]) * 0x100000001b3ull;
		h = (h ^ g->cursor[b]) * 0x100000001b3ull;
	}
	return h;
}

static void m_shares(struct model *m)
{
	m->small_max = (size_t)s3_small_max(m->limit);
	m->small_target = m->small_max;
	m->main_max = m->limit - m->small_target;
}

/* "Sizing": at the end of every operation; only @grow allocates. */
static void m_ghost_size(struct model *m, bool grow)
{
	struct mghost *g = &m->ghost;
	size_t sized;

	if (!m->s3fifo)
		return;
	if (!m->n) {
		g_free(g);
		return;
	}
	if (!grow ||
	    !s3_ghost_grow(g->slot, g->sized, m->n, m->total, m->limit))
		return;
	sized = (size_t)s3_ghost_sized(m->n, m->total, m->limit);
	g_free(g);
	g->buckets = s3_ghost_buckets(sized);
	g->slot = calloc(g->buckets, sizeof(*g->slot));
	g->cursor = calloc(g->buckets, 1);
	cr_assert(g->slot && g->cursor);
	g->sized = sized;
}

/* The array index of a queue's oldest entry, or -1. */
static long m_oldest_of(struct model *m, bool main)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->lru[i].main == main)
			return (long)i;
	return -1;
}

static size_t m_queue_cost(struct model *m, bool main)
{
	size_t cost = 0;

	for (size_t i = 0; i < m->n; i++)
		if (m->lru[i].main == main)
			cost += m->lru[i].cost;
	return cost;
}

/* Entry @i to its queue's new end (the array's end), now on @main. */
static void m_requeue(struct model *m, size_t i, bool main)
{
	struct ment e = m->lru[i];

	memmove(&m->lru[i], &m->lru[i + 1], (m->n - i - 1) * sizeof(e));
	e.main = main;
	m->lru[m->n - 1] = e;
}

/* "One eviction": the victim's index; the ghost hears of it already. */
static size_t m_victim_s3fifo(struct model *m)
{
	for (;;) {
		long i;

		if (m_queue_cost(m, true) > m->main_max ||
		    m_oldest_of(m, false) < 0) {
			i = m_oldest_of(m, true);
			if (!m->lru[i].freq) {
				if (m->ghost.slot && !m->lru[i].handle)
					g_add(&m->ghost, m->lru[i].hash, true);
				return (size_t)i;
			}
			m->lru[i].freq--;
			m_requeue(m, (size_t)i, true);
			continue;
		}
		i = m_oldest_of(m, false);
		if (m->lru[i].freq >= S3_MOVE_HITS) {
			m->lru[i].freq = 0;
			m_requeue(m, (size_t)i, true);
			continue;
		}
		if (m->ghost.slot && !m->lru[i].handle)
			g_add(&m->ghost, m->lru[i].hash, false);
		return (size_t)i;
	}
}

/* The index to evict next (the model is not empty). */
static size_t m_victim(struct model *m)
{
	size_t h;

	if (m->s3fifo) {
		char name[32];
		size_t v = m_victim_s3fifo(m);

		ment_name(&m->lru[v], name, sizeof(name));
		m->evicted_len += (size_t)snprintf(
			m->evicted + m->evicted_len,
			sizeof(m->evicted) - m->evicted_len, " %s", name);
		return v;
	}
	if (!m->sieve)
		return 0;
	h = m->hand < 0 ? 0 : (size_t)m->hand;
	while (m->lru[h].visited) {
		m->lru[h].visited = false;
		if (++h == m->n)
			h = 0;
	}
	m->hand = (long)h;
	return h;
}

static unsigned long m_evict(struct model *m, size_t limit)
{
	unsigned long n = 0;

	while (m->total > limit && m->n) {
		m_drop(m, m_victim(m));
		n++;
	}
	return n;
}

static long m_find(struct model *m, bool handle, unsigned int key)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->lru[i].handle == handle && m->lru[i].key == key)
			return (long)i;
	return -1;
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
static void check(struct sc_cache *c, struct model *m, unsigned long op,
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
		cr_assert_eq(ps.small_cost, m_queue_cost(m, false),
			     "op %lu %s: S", op, what);
		cr_assert_eq(ps.main_cost, m_queue_cost(m, true),
			     "op %lu %s: M", op, what);
		cr_assert_eq(ps.small_target, m->small_target,
			     "op %lu %s: S's share", op, what);
		cr_assert_eq(ps.ghost_buckets, m->ghost.buckets,
			     "op %lu %s: ghost of %zu buckets, want %zu (n %zu "
			     "total %zu limit %zu)",
			     op, what, ps.ghost_buckets, m->ghost.buckets, m->n,
			     m->total, m->limit);
		cr_assert_eq(ps.ghost_digest, g_digest(&m->ghost),
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
static void oplog_open(struct model *m)
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
	struct model *m = calloc(1, sizeof(*m));
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
	m->limit = 1000;
	m->sieve = policy & SC_CACHE_POLICY_SIEVE;
	m->s3fifo = policy & SC_CACHE_POLICY_S3FIFO;
	m_shares(m);
	m->hand = -1;
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
			p = m_find(m, false, k);
			if (cost > m->limit) {
				want = -EFBIG;
				if (p >= 0)
					m_drop(m, (size_t)p);
			} else {
				if (p >= 0) {
					/* an update keeps queue and freq */
					e.main = m->lru[p].main;
					e.freq = m->lru[p].freq;
					m_drop(m, (size_t)p);
				} else if (m->s3fifo && !m->ghost.slot) {
					e.main = cost > m->small_max;
				} else if (m->s3fifo &&
					   g_take(m, e.hash, cost)) {
					e.main = true;
				} else if (m->s3fifo && cost > m->small_max) {
					g_add(&m->ghost, e.hash, false);
					want = SC_CACHE_NOT_ADMITTED;
				}
				if (!want) {
					taken[v] = 1;
					m_evict(m, m->limit - cost);
					m_add(m, e);
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
					m_drop(m, (size_t)m_find(m, true, j));
					m_ghost_size(m, false); /* a call */
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
				m_evict(m, m->limit - cost);
				m_add(m, (struct ment){
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
			p = m_find(m, false, k);
			if (p < 0) {
				cr_assert_null(v, "op %lu", op);
			} else {
				cr_assert_eq(v, VAL(m->lru[p].val), "op %lu",
					     op);
				m_touch(m, (size_t)p);
				OLOG("hit k%u\n", k);
			}
		} else if (r < 680 && m->nr_handles) {
			unsigned int j = rnd_below((unsigned int)m->nr_handles);
			void *v;

			what = "find_key";
			v = sc_cache_find_key(c, m->handles[j]);
			p = m->handle_alive[j] ? m_find(m, true, j) : -1;
			if (p < 0) {
				cr_assert_null(v, "op %lu", op);
			} else {
				cr_assert_eq(v, VAL(m->lru[p].val), "op %lu",
					     op);
				m_touch(m, (size_t)p);
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
			p = m->handle_alive[j] ? m_find(m, true, j) : -1;
			if (p < 0) {
				cr_assert_eq(ret, -ENOENT, "op %lu", op);
			} else if (cost > m->limit) {
				cr_assert_eq(ret, -EFBIG, "op %lu", op);
				m_drop(m, (size_t)p);
				OLOG("replace h%u %zu = %d\n", j, cost, ret);
			} else {
				struct ment e = m->lru[p];

				cr_assert_eq(ret, 0, "op %lu", op);
				taken[v] = 1;
				m_drop(m, (size_t)p);
				m->handle_alive[j] = true;
				m_evict(m, m->limit - cost);
				e.val = v;
				e.cost = cost;
				m_add(m, e); /* its queue and freq */
				grow = true;
				OLOG("replace h%u %zu = 0%s\n", j, cost,
				     m->evicted);
			}
		} else if (r < 800) {
			int ret;

			what = "remove";
			ret = sc_cache_remove(c, key_str(k, kb));
			p = m_find(m, false, k);
			cr_assert_eq(ret, p < 0 ? -ENOENT : 0, "op %lu", op);
			if (p >= 0) {
				m_drop(m, (size_t)p);
				OLOG("remove k%u\n", k);
			}
		} else if (r < 840 && m->nr_handles) {
			unsigned int j = rnd_below((unsigned int)m->nr_handles);
			int ret;

			what = "remove_key";
			ret = sc_cache_remove_key(c, m->handles[j]);
			p = m->handle_alive[j] ? m_find(m, true, j) : -1;
			cr_assert_eq(ret, p < 0 ? -ENOENT : 0, "op %lu", op);
			if (p >= 0) {
				m_drop(m, (size_t)p);
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
				p = m->handle_alive[j] ? m_find(m, true, j) :
							 -1;
			} else {
				e = sc_cache_get(c, key_str(k, kb));
				p = m_find(m, false, k);
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
				m_touch(m, (size_t)p);
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
			if (!pins_of(m, val)) {
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
			m_shares(m);
			if (l)
				m_evict(m, l);
			else
				while (m->n) /* 0 evicts everything */
					m_drop(m, m_victim(m));
			OLOG("set_limit %zu =%s\n", l, m->evicted);
		} else if (r < 970) {
			long i;

			what = "clear";
			sc_cache_clear(c);
			/* S3-FIFO: S from its oldest, then M */
			while (m->s3fifo && (i = m_oldest_of(m, false)) >= 0)
				m_drop(m, (size_t)i);
			while (m->n)
				m_drop(m, 0);
			OLOG("clear\n");
		} else if (r < 985) {
			unsigned long nr = rnd_below(6), got, want = 0;

			what = "shrink";
			got = sc_cache_shrink(c, nr);
			while (want < nr && m->n) {
				m_drop(m, m_victim(m));
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
				want = m_evict(m, m->total / 4 * 3 +
							  m->total % 4 * 3 / 4);
				if (!want && m->n) {
					m_drop(m, m_victim(m));
					want = 1;
				}
			} else if (m->n) {
				m_drop(m, m_victim(m));
				want = 1;
			}
			m->age_cost = m->total;
			cr_assert_eq(got, want, "op %lu", op);
			OLOG("age %d =%s\n", idle, m->evicted);
		}
checkit:
		m_ghost_size(m, grow);
		if (op % 16 == 0 && m->s3fifo)
			OLOG("state %zu %zu %zu %zu\n", m->n, m->total,
			     m_queue_cost(m, false), m_queue_cost(m, true));
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
	g_free(&m->ghost);
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
