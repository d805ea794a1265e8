// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz target: the cache API against a reference model.
 *
 * The input picks a cache (exact LRU, SC_CACHE_POLICY_SIEVE or
 * SC_CACHE_POLICY_S3FIFO, a limit,
 * with or without its shrinker, created under fault injection or not) and
 * then a program of operations: every public function of cache.h, string
 * keys short and long, handle keys live, stale and forged, pins, NULL and
 * bad arguments, shrinker passes at each level, and any operation with
 * sc_fault_inject() armed. After each operation the cache must agree with
 * the model: the result, the values released and their order (least
 * recently used first; the SIEVE hand's order; S3-FIFO's queues), count,
 * total cost, pinned entries, sc_cache_check()'s invariants, and for
 * S3-FIFO the cost on each queue and the ghost (its bucket count and a
 * digest of its slots). An operation that fails with -ENOMEM must release
 * nothing and change nothing; S3-FIFO's ghost is the one allocation whose
 * failure is no error (the old ghost stays), which the model follows when
 * the failed allocation was the operation's last.
 *
 * Release callbacks call back into the cache (which the API allows): read
 * calls on every release, and on the release of some values an insert of
 * a zero-cost entry, which the model replays at the same point of the
 * release order. At the end every value taken was released exactly once.
 *
 * The model is selftests/cache/array_model.h, shared with
 * selftests/cache/model.c: an array in LRU order
 * (SIEVE: insertion order with visited flags and an index hand; S3-FIFO:
 * insertion order, each entry flagged small or main with its frequency,
 * and the ghost's buckets of fingerprints, all from
 * Documentation/policy.rst).
 */
#include <errno.h>
#include <limits.h>

#include "core/internal.h"
#include "fuzz/fuzz.h"
#include <slabcache.h>

#define MAX_OPS 1500
#define NR_KEYS 24 /* string keys the program names */
#define NR_RKEYS 4 /* string keys the release callbacks insert */
#define NR_HANDLES 48 /* handles remembered, live or not */
#define NR_PINS 8
#define MAX_ENTRIES (NR_KEYS + NR_RKEYS + NR_HANDLES)
#define LOG_MAX 512
#define MAX_VALS (3 * MAX_OPS + 64)

#define AM_MAX_ENTRIES MAX_ENTRIES
#define AM_LOG_MAX LOG_MAX
#define AM_NR_PINS NR_PINS
#define AM_NR_HANDLES NR_HANDLES
#define AM_CHECK(cond, ...) FUZZ_CHECK(cond, __VA_ARGS__)
#include "selftests/cache/array_model.h"

#define VAL(i) ((void *)(uintptr_t)((uintptr_t)(i) + 1))
#define VAL_ID(v) ((uintptr_t)(v)-1)

struct nested {
	unsigned long trigger, val;
	unsigned int key;
};

struct fz {
	struct sc_cache *c;
	uint64_t seed; /* the cache's key hash seed */
	struct amodel m;
	struct mghost ghost_before; /* before the operation's sizing */
	/* values */
	unsigned long next_val;
	unsigned char taken[MAX_VALS], released[MAX_VALS], reenter[MAX_VALS];
	/* what the release callbacks saw and did during one operation */
	unsigned long rlog[LOG_MAX];
	size_t nr_rlog;
	struct nested nested[LOG_MAX];
	size_t nr_nested;
	bool nested_ok; /* callbacks may insert */
	size_t settled, settled_nested; /* m_settle() done up to here */
	bool grow; /* S3-FIFO: the operation stored a value */
	unsigned int next_rkey;
};

static struct fz fz;

static void fz_release(void *value, void *priv)
{
	struct fz *f = priv;
	uintptr_t id = VAL_ID(value);

	FUZZ_CHECK(id > 0 && id < f->next_val, "released value %lu never made",
		   (unsigned long)id);
	FUZZ_CHECK(f->taken[id] && !f->released[id],
		   "value %lu: taken %u, released %u before", (unsigned long)id,
		   f->taken[id], f->released[id]);
	f->released[id] = 1;
	FUZZ_CHECK(f->nr_rlog < LOG_MAX, "too many releases");
	f->rlog[f->nr_rlog++] = id;
	if (!f->c)
		return; /* destroyed: pinned values at their last put */

	/* Read calls: allowed from a release, and must not deadlock. */
	{
		struct sc_cache_stats st;

		FUZZ_CHECK(!sc_cache_find(f->c, "never-inserted") &&
				   errno == ENOENT,
			   "find in a release");
		FUZZ_CHECK(!sc_cache_stats(f->c, &st), "stats in a release");
		FUZZ_CHECK(st.count == sc_cache_count(f->c) &&
				   st.total_cost == sc_cache_total_cost(f->c),
			   "stats in a release");
	}
	if (f->reenter[id] && f->nested_ok && f->nr_nested < LOG_MAX &&
	    f->next_val < MAX_VALS) {
		struct nested *n = &f->nested[f->nr_nested++];
		char key[16];

		n->trigger = id;
		n->key = NR_KEYS + f->next_rkey++ % NR_RKEYS;
		n->val = f->next_val++;
		snprintf(key, sizeof(key), "r%u", n->key);
		FUZZ_CHECK(sc_cache_insert(f->c, key, VAL(n->val), 0) == 0,
			   "insert from a release: %d", errno);
		f->taken[n->val] = 1;
	}
}

static const struct sc_cache_ops fz_ops = { .release = fz_release };

/* ------------------------------------------------------------ model */

static const char *key_str(unsigned int k, char *buf, size_t size)
{
	if (k >= NR_KEYS)
		snprintf(buf, size, "r%u", k);
	else if (k % 8 == 0) /* in a key slab */
		snprintf(buf, size, "long-key-%03u-%0120u", k, k);
	else if (k % 8 == 1) /* a large key */
		snprintf(buf, size, "huge-key-%03u-%03000u", k, k);
	else if (k % 8 == 2) /* bytes above 0x7f */
		snprintf(buf, size, "\xc3\xa9t\xc3\xa9-%u-\xff", k);
	else
		snprintf(buf, size, "k%u", k);
	return buf;
}

static void m_add(struct fz *f, bool handle, unsigned int key,
		  unsigned long val, size_t cost)
{
	am_add(&f->m, (struct ment){ .handle = handle,
				     .key = key,
				     .val = val,
				     .cost = cost });
}

static uint64_t m_hash(struct fz *f, unsigned int k)
{
	char kb[3200];

	key_str(k, kb, sizeof(kb));
	return sc_key_hash(f->seed, kb, strlen(kb));
}

/*
 * Replay, in release order, the inserts the callbacks made: each happened
 * right after the release of its trigger, before the next release.
 */
static void m_settle(struct fz *f)
{
	size_t k = f->settled_nested;

	for (size_t i = f->settled; i < f->m.nr_expect; i++) {
		unsigned long v = f->m.expect[i];
		long p;

		if (!f->reenter[v] || !f->nested_ok)
			continue;
		FUZZ_CHECK(k < f->nr_nested && f->nested[k].trigger == v,
			   "release of %lu did not insert", v);
		f->m.ins_at = (long)i + 1;
		p = am_find(&f->m, false, f->nested[k].key);
		{
			uint64_t h = m_hash(f, f->nested[k].key);
			bool main = false;
			uint8_t freq = 0;

			if (p >= 0) {
				main = f->m.lru[p].main;
				freq = f->m.lru[p].freq;
				am_drop(&f->m, (size_t)p);
			} else {
				/* cost 0: never refused */
				FUZZ_CHECK(am_admit(&f->m, h, 0, &main),
					   "a zero-cost insert refused");
			}
			f->m.ins_at = -1;
			m_add(f, false, f->nested[k].key, f->nested[k].val, 0);
			f->m.lru[f->m.n - 1].main = main;
			f->m.lru[f->m.n - 1].freq = freq;
			f->m.lru[f->m.n - 1].hash = h;
			am_ghost_size(&f->m, true);
		}
		k++;
	}
	FUZZ_CHECK(k == f->nr_nested, "%zu inserts from releases, model %zu",
		   f->nr_nested, k);
	f->settled = f->m.nr_expect;
	f->settled_nested = k;
}

/* On a mismatch of the release order: what the cache and the model did. */
static void dump(const struct fz *f)
{
	fprintf(stderr, "released:");
	for (size_t i = 0; i < f->nr_rlog; i++)
		fprintf(stderr, " %lu%s", f->rlog[i],
			f->reenter[f->rlog[i]] ? "*" : "");
	fprintf(stderr, "\nmodel:   ");
	for (size_t i = 0; i < f->m.nr_expect; i++)
		fprintf(stderr, " %lu%s", f->m.expect[i],
			f->reenter[f->m.expect[i]] ? "*" : "");
	fprintf(stderr, "\nentries (oldest first, hand %ld):", f->m.hand);
	for (size_t i = 0; i < f->m.n; i++)
		fprintf(stderr, " %s%u=%lu/%zu%s%s%.*s",
			f->m.lru[i].handle ? "h" : "k", f->m.lru[i].key,
			f->m.lru[i].val, f->m.lru[i].cost,
			f->m.lru[i].visited ? "v" : "",
			f->m.s3fifo ? (f->m.lru[i].main ? "M" : "S") : "",
			f->m.s3fifo ? (int)f->m.lru[i].freq : 0, "+++");
	fprintf(stderr, "\n");
}

/* The values released since the last call are the model's, in order. */
static void check_releases(struct fz *f, unsigned long op, const char *what)
{
	m_settle(f);
	if (getenv("FUZZ_TRACE")) {
		fprintf(stderr, "op %lu %s\n", op, what);
		dump(f);
	}
	if (f->nr_rlog != f->m.nr_expect ||
	    memcmp(f->rlog, f->m.expect, f->nr_rlog * sizeof(f->rlog[0])))
		dump(f);
	FUZZ_CHECK(f->nr_rlog == f->m.nr_expect,
		   "op %lu %s: %zu releases, want %zu", op, what, f->nr_rlog,
		   f->m.nr_expect);
	for (size_t i = 0; i < f->nr_rlog; i++)
		FUZZ_CHECK(f->rlog[i] == f->m.expect[i],
			   "op %lu %s: release %zu is %lu, want %lu", op, what,
			   i, f->rlog[i], f->m.expect[i]);
	f->nr_rlog = 0;
	f->m.nr_expect = 0;
	f->nr_nested = 0;
	f->settled = f->settled_nested = 0;
}

static void check(struct fz *f, unsigned long op, const char *what)
{
	struct sc_cache_stats st;
	const char *why = NULL;

	check_releases(f, op, what);
	FUZZ_CHECK(!sc_cache_stats(f->c, &st), "stats");
	FUZZ_CHECK(st.count == f->m.n, "op %lu %s: count %zu, model %zu", op,
		   what, st.count, f->m.n);
	FUZZ_CHECK(st.total_cost == f->m.total,
		   "op %lu %s: total %zu, model %zu", op, what, st.total_cost,
		   f->m.total);
	FUZZ_CHECK(st.limit == f->m.limit && sc_cache_limit(f->c) == f->m.limit,
		   "op %lu %s: limit", op, what);
	FUZZ_CHECK(st.pinned == f->m.nr_dropped_pinned,
		   "op %lu %s: pinned %zu, model %zu", op, what, st.pinned,
		   f->m.nr_dropped_pinned);
	FUZZ_CHECK(st.total_cost <= st.limit, "op %lu %s: over the limit", op,
		   what);
	FUZZ_CHECK(sc_cache_count(f->c) == f->m.n &&
			   sc_cache_total_cost(f->c) == f->m.total,
		   "op %lu %s: count/total", op, what);
	FUZZ_CHECK(sc_cache_check(f->c, &why) == 0, "op %lu %s: %s", op, what,
		   why);
	for (size_t j = 0; j < f->m.nr_handles; j++)
		FUZZ_CHECK(sc_cache_key_valid(f->c, f->m.handles[j]) ==
				   f->m.handle_alive[j],
			   "op %lu %s: handle %zu", op, what, j);
	if (f->m.s3fifo) {
		struct sc_s3fifo_state ps;

		sc_cache_s3fifo_state(f->c, &ps);
		FUZZ_CHECK(ps.small_cost == am_queue_cost(&f->m, false) &&
				   ps.main_cost == am_queue_cost(&f->m, true),
			   "op %lu %s: S %zu, M %zu; model %zu, %zu", op, what,
			   ps.small_cost, ps.main_cost,
			   am_queue_cost(&f->m, false),
			   am_queue_cost(&f->m, true));
		FUZZ_CHECK(ps.small_target == f->m.small_target,
			   "op %lu %s: S's share %zu, model %zu", op, what,
			   ps.small_target, f->m.small_target);
		FUZZ_CHECK(ps.ghost_buckets == f->m.ghost.buckets,
			   "op %lu %s: ghost of %zu buckets, model %zu", op,
			   what, ps.ghost_buckets, f->m.ghost.buckets);
		FUZZ_CHECK(ps.ghost_digest == am_ghost_digest(&f->m.ghost),
			   "op %lu %s: the ghost remembers other keys", op,
			   what);
	}
}

/* --------------------------------------------------------- program */

static size_t pick_cost(struct fz *f, struct fuzz_in *in)
{
	uint8_t r = fuzz_u8(in);

	if (r < 16)
		return 0;
	if (r < 32)
		return 300 + fuzz_u16(in) % 1000; /* often past the limit */
	if (r < 36)
		return SIZE_MAX - fuzz_u8(in); /* overflow, EFBIG */
	if (r < 38)
		return 65533 +
		       fuzz_u8(in) % 4; /* kept in or after the header */
	if (r < 40)
		return f->m.limit; /* exactly the limit */
	return 1 + r % 40;
}

/*
 * A value about to be offered to the cache: taken until the call says
 * otherwise, since a release callback may already drop it again (an insert
 * from a release replacing the new entry) before the call returns.
 */
static unsigned long new_val(struct fz *f, struct fuzz_in *in)
{
	unsigned long v = f->next_val++;

	/* some values insert from their release callback */
	f->reenter[v] = (fuzz_u8(in) & 7) == 0;
	f->taken[v] = 1;
	return v;
}

/* The call did not take @v. */
static void not_taken(struct fz *f, unsigned long v)
{
	FUZZ_CHECK(!f->released[v], "value %lu refused, yet released", v);
	f->taken[v] = 0;
}

/* A handle: one remembered (live or stale), or a forged id. */
static sc_key_t pick_handle(struct fz *f, struct fuzz_in *in, long *j)
{
	uint8_t r = fuzz_u8(in);
	sc_key_t key;

	if (f->m.nr_handles && r < 224) {
		size_t i = r % f->m.nr_handles;

		*j = f->m.handle_alive[i] ? (long)i : -1;
		return f->m.handles[i];
	}
	if (r < 240)
		key = SC_KEY_NONE;
	else
		key = (sc_key_t){ fuzz_u64(in) };
	*j = am_handle_of(&f->m, key);
	return key;
}

/*
 * Insert under a string key, and insert-like failures: the model's
 * outcome for @cost.
 */
static void op_insert(struct fz *f, struct fuzz_in *in, bool armed)
{
	unsigned int k = fuzz_below(in, NR_KEYS + NR_RKEYS);
	size_t cost = pick_cost(f, in);
	unsigned long v = new_val(f, in);
	char kb[3200];
	long p = am_find(&f->m, false, k);
	size_t base = f->m.total - (p >= 0 ? f->m.lru[p].cost : 0);
	int ret;

	if (getenv("FUZZ_TRACE"))
		fprintf(stderr, "insert k%u cost %zu limit %zu total %zu\n", k,
			cost, f->m.limit, f->m.total);
	ret = sc_cache_insert(f->c, key_str(k, kb, sizeof(kb)), VAL(v), cost);

	/* the entry is allocated first: -ENOMEM can come before anything */
	if (ret == -ENOMEM && armed) {
		FUZZ_CHECK(f->nr_rlog == 0, "insert -ENOMEM released values");
		not_taken(f, v);
	} else if (cost > f->m.limit) {
		FUZZ_CHECK(ret == -EFBIG, "insert cost %zu: %d", cost, ret);
		not_taken(f, v);
		if (p >= 0)
			am_drop(&f->m, (size_t)p);
	} else if (base + cost < base) {
		FUZZ_CHECK(ret == -EOVERFLOW, "insert overflow: %d", ret);
		not_taken(f, v);
	} else {
		uint64_t h = m_hash(f, k);
		bool main = false;
		uint8_t freq = 0;

		if (p >= 0) {
			/* an update keeps its queue and frequency */
			main = f->m.lru[p].main;
			freq = f->m.lru[p].freq;
		} else if (!am_admit(&f->m, h, cost, &main)) {
			FUZZ_CHECK(ret == SC_CACHE_NOT_ADMITTED,
				   "insert: %d, want not admitted", ret);
			not_taken(f, v);
			return;
		}
		FUZZ_CHECK(ret == 0, "insert: %d", ret);
		if (p >= 0)
			am_drop(&f->m, (size_t)p);
		am_evict(&f->m, f->m.limit - cost);
		m_add(f, false, k, v, cost);
		f->m.lru[f->m.n - 1].main = main;
		f->m.lru[f->m.n - 1].freq = freq;
		f->m.lru[f->m.n - 1].hash = h;
		f->grow = true;
	}
}

static void op_add(struct fz *f, struct fuzz_in *in, bool armed)
{
	size_t cost = pick_cost(f, in);
	unsigned long v = new_val(f, in);
	size_t j;
	sc_key_t h;
	int err;

	if (f->m.nr_handles < NR_HANDLES) {
		j = f->m.nr_handles;
	} else {
		/* forget a handle; its entry goes first */
		j = fuzz_below(in, NR_HANDLES);
		if (f->m.handle_alive[j]) {
			FUZZ_CHECK(!sc_cache_remove_key(f->c, f->m.handles[j]),
				   "remove_key");
			am_drop(&f->m,
				(size_t)am_find(&f->m, true, (unsigned int)j));
			am_ghost_size(&f->m, false); /* a call of its own */
			/* its releases (and their inserts) came before the
			 * add: checked here, so that the add's are its own */
			check_releases(f, 0, "add: forget a handle");
		}
	}
	h = sc_cache_add(f->c, VAL(v), cost);
	err = errno;
	if (!h.id && err == ENOMEM && armed) {
		FUZZ_CHECK(f->nr_rlog == 0, "add -ENOMEM released values");
		not_taken(f, v);
	} else if (cost > f->m.limit) {
		FUZZ_CHECK(!h.id && err == EFBIG, "add cost %zu", cost);
		not_taken(f, v);
	} else if (f->m.total + cost < f->m.total) {
		FUZZ_CHECK(!h.id && err == EOVERFLOW, "add overflow");
		not_taken(f, v);
	} else {
		FUZZ_CHECK(h.id, "add: %d", err);
		FUZZ_CHECK(am_handle_of(&f->m, h) < 0, "add: handle reused");
		if (j == f->m.nr_handles)
			f->m.nr_handles++;
		f->m.handles[j] = h;
		f->m.handle_alive[j] = true;
		am_evict(&f->m, f->m.limit - cost);
		m_add(f, true, (unsigned int)j, v, cost);
		/* a handle cannot come back: the ghost is not asked */
		f->m.lru[f->m.n - 1].main = f->m.s3fifo &&
					    cost > f->m.small_max;
		f->grow = true;
	}
}

static void op_replace(struct fz *f, struct fuzz_in *in, bool armed)
{
	long j, p;
	sc_key_t h = pick_handle(f, in, &j);
	size_t cost = pick_cost(f, in), base;
	unsigned long v = new_val(f, in);
	int ret = sc_cache_replace(f->c, h, VAL(v), cost);

	p = j >= 0 ? am_find(&f->m, true, (unsigned int)j) : -1;
	if (ret == -ENOMEM && armed) {
		FUZZ_CHECK(f->nr_rlog == 0, "replace -ENOMEM released values");
		not_taken(f, v);
		return;
	}
	if (p < 0) {
		FUZZ_CHECK(ret == -ENOENT, "replace of a dead handle: %d", ret);
		not_taken(f, v);
		return;
	}
	base = f->m.total - f->m.lru[p].cost;
	if (cost > f->m.limit) {
		FUZZ_CHECK(ret == -EFBIG, "replace cost %zu: %d", cost, ret);
		not_taken(f, v);
		am_drop(&f->m, (size_t)p);
	} else if (base + cost < base) {
		FUZZ_CHECK(ret == -EOVERFLOW, "replace overflow: %d", ret);
		not_taken(f, v);
	} else {
		bool main = f->m.lru[p].main;
		uint8_t freq = f->m.lru[p].freq;

		FUZZ_CHECK(ret == 0, "replace: %d", ret);
		am_drop(&f->m, (size_t)p);
		f->m.handle_alive[j] = true;
		am_evict(&f->m, f->m.limit - cost);
		m_add(f, true, (unsigned int)j, v, cost);
		f->m.lru[f->m.n - 1].main = main;
		f->m.lru[f->m.n - 1].freq = freq;
		f->grow = true;
	}
}

static void op_find(struct fz *f, struct fuzz_in *in, bool by_handle)
{
	char kb[3200];
	long p, j = -1;
	void *v;

	if (by_handle) {
		sc_key_t h = pick_handle(f, in, &j);

		v = sc_cache_find_key(f->c, h);
		p = j >= 0 ? am_find(&f->m, true, (unsigned int)j) : -1;
	} else {
		unsigned int k = fuzz_below(in, NR_KEYS + NR_RKEYS);

		v = sc_cache_find(f->c, key_str(k, kb, sizeof(kb)));
		p = am_find(&f->m, false, k);
	}
	if (p < 0) {
		FUZZ_CHECK(!v && errno == ENOENT, "find: a value for nothing");
	} else {
		FUZZ_CHECK(v == VAL(f->m.lru[p].val), "find: wrong value");
		am_touch(&f->m, (size_t)p);
	}
}

static void op_remove(struct fz *f, struct fuzz_in *in, bool by_handle)
{
	char kb[3200];
	long p, j = -1;
	int ret;

	if (by_handle) {
		sc_key_t h = pick_handle(f, in, &j);

		ret = sc_cache_remove_key(f->c, h);
		p = j >= 0 ? am_find(&f->m, true, (unsigned int)j) : -1;
	} else {
		unsigned int k = fuzz_below(in, NR_KEYS + NR_RKEYS);

		ret = sc_cache_remove(f->c, key_str(k, kb, sizeof(kb)));
		p = am_find(&f->m, false, k);
	}
	FUZZ_CHECK(ret == (p < 0 ? -ENOENT : 0), "remove: %d", ret);
	if (p >= 0)
		am_drop(&f->m, (size_t)p);
}

static void op_put(struct fz *f, struct fuzz_in *in)
{
	size_t i;
	unsigned long val;

	if (!f->m.nr_pins) {
		sc_entry_put(NULL);
		return;
	}
	i = fuzz_below(in, (unsigned int)f->m.nr_pins);
	val = f->m.pin_val[i];
	FUZZ_CHECK(sc_entry_value(f->m.pin_e[i]) == VAL(val), "pinned value");
	sc_entry_put(f->m.pin_e[i]);
	f->m.pin_e[i] = f->m.pin_e[f->m.nr_pins - 1];
	f->m.pin_val[i] = f->m.pin_val[--f->m.nr_pins];
	if (am_pins_of(&f->m, val))
		return;
	for (size_t d = 0; d < f->m.nr_dropped_pinned; d++) {
		if (f->m.dropped_pinned[d] != val)
			continue;
		f->m.dropped_pinned[d] =
			f->m.dropped_pinned[--f->m.nr_dropped_pinned];
		am_expect(&f->m, val);
		break;
	}
}

static void op_get(struct fz *f, struct fuzz_in *in, bool by_handle)
{
	struct sc_entry *e;
	char kb[3200];
	long p, j = -1;

	if (f->m.nr_pins == NR_PINS) {
		op_put(f, in);
		return;
	}
	if (by_handle) {
		sc_key_t h = pick_handle(f, in, &j);

		e = sc_cache_get_key(f->c, h);
		p = j >= 0 ? am_find(&f->m, true, (unsigned int)j) : -1;
	} else {
		unsigned int k = fuzz_below(in, NR_KEYS + NR_RKEYS);

		e = sc_cache_get(f->c, key_str(k, kb, sizeof(kb)));
		p = am_find(&f->m, false, k);
	}
	if (p < 0) {
		FUZZ_CHECK(!e && errno == ENOENT, "get: an entry for nothing");
		return;
	}
	FUZZ_CHECK(e && sc_entry_value(e) == VAL(f->m.lru[p].val) &&
			   sc_entry_cost(e) == f->m.lru[p].cost,
		   "get: wrong entry");
	f->m.pin_e[f->m.nr_pins] = e;
	f->m.pin_val[f->m.nr_pins++] = f->m.lru[p].val;
	am_touch(&f->m, (size_t)p);
}

/* Bad arguments: a clear error, and nothing changes. */
static void op_bad(struct fz *f, struct fuzz_in *in)
{
	static char huge[65537];
	char kb[3200];
	long j;

	switch (fuzz_below(in, 9)) {
	case 0:
		FUZZ_CHECK(sc_cache_insert(f->c, NULL, VAL(1), 1) == -EINVAL,
			   "NULL key");
		break;
	case 1:
		FUZZ_CHECK(sc_cache_insert(f->c, "", VAL(1), 1) == -EINVAL,
			   "empty key");
		break;
	case 2:
		FUZZ_CHECK(sc_cache_insert(f->c,
					   key_str(fuzz_below(in, NR_KEYS), kb,
						   sizeof(kb)),
					   NULL, 1) == -EINVAL,
			   "NULL value");
		break;
	case 3:
		memset(huge, 'x', sizeof(huge) - 1);
		FUZZ_CHECK(sc_cache_insert(f->c, huge, VAL(1), 1) ==
				   -ENAMETOOLONG,
			   "65536-byte key");
		FUZZ_CHECK(!sc_cache_find(f->c, huge) && errno != 0,
			   "find of a 65536-byte key");
		break;
	case 4:
		FUZZ_CHECK(!sc_cache_add(f->c, NULL, 1).id && errno == EINVAL,
			   "add NULL");
		break;
	case 5:
		FUZZ_CHECK(sc_cache_replace(f->c, pick_handle(f, in, &j), NULL,
					    1) == -EINVAL,
			   "replace NULL");
		break;
	case 6:
		FUZZ_CHECK(!sc_cache_find(f->c, NULL) && errno == EINVAL,
			   "find NULL");
		FUZZ_CHECK(sc_cache_remove(f->c, NULL) == -EINVAL,
			   "remove NULL");
		FUZZ_CHECK(!sc_cache_get(f->c, NULL) && errno == EINVAL,
			   "get NULL");
		break;
	case 7:
		FUZZ_CHECK(sc_cache_stats(f->c, NULL) == -EINVAL, "stats");
		FUZZ_CHECK(sc_cache_stats(NULL, NULL) == -EINVAL, "stats");
		FUZZ_CHECK(!sc_cache_count(NULL) && !sc_cache_limit(NULL) &&
				   !sc_cache_total_cost(NULL) &&
				   !sc_cache_memory(NULL) &&
				   !sc_cache_shrink(NULL, 1) &&
				   !sc_cache_key_valid(NULL, SC_KEY_NONE),
			   "NULL cache");
		FUZZ_CHECK(sc_cache_set_limit(NULL, 1) == -EINVAL, "limit");
		sc_cache_clear(NULL);
		break;
	default:
		FUZZ_CHECK(!sc_entry_value(NULL) && !sc_entry_cost(NULL),
			   "NULL entry");
		FUZZ_CHECK(sc_cache_insert(NULL, "k", VAL(1), 1) == -EINVAL,
			   "NULL cache insert");
		FUZZ_CHECK(!sc_cache_find_key(NULL, SC_KEY_NONE) &&
				   errno == EINVAL,
			   "NULL cache find_key");
		break;
	}
}

static void op_set_limit(struct fz *f, struct fuzz_in *in)
{
	static const size_t limits[] = { 0, 1, 10, 300, 1000, 2000, SIZE_MAX };
	size_t l = limits[fuzz_below(in, 7)];

	FUZZ_CHECK(sc_cache_set_limit(f->c, l) == 0, "set_limit");
	f->m.limit = l;
	am_shares(&f->m);
	if (l)
		am_evict(&f->m, l);
	else
		while (f->m.n) /* 0 evicts everything, zero-cost too */
			am_drop(&f->m, am_victim(&f->m));
}

static void op_shrink(struct fz *f, struct fuzz_in *in)
{
	unsigned long nr = fuzz_below(in, 8), got, want = 0;

	got = sc_cache_shrink(f->c, nr);
	while (want < nr && f->m.n) {
		am_drop(&f->m, am_victim(&f->m));
		want++;
	}
	FUZZ_CHECK(got == want, "shrink %lu: %lu, model %lu", nr, got, want);
}

static void op_age(struct fz *f)
{
	unsigned long got, want = 0;

	got = sc_cache_age(f->c);
	if (f->m.age_cost == f->m.total) {
		want = am_evict(&f->m,
				f->m.total / 4 * 3 + f->m.total % 4 * 3 / 4);
		if (!want && f->m.n) {
			am_drop(&f->m, am_victim(&f->m));
			want = 1;
		}
	} else if (f->m.n) {
		am_drop(&f->m, am_victim(&f->m));
		want = 1;
	}
	f->m.age_cost = f->m.total;
	FUZZ_CHECK(got == want, "age: %lu, model %lu", got, want);
}

/*
 * A shrinker pass: how many entries it takes depends on the shrinker
 * core's arithmetic, but they must be the model's next victims, in order.
 */
static void op_shrink_memory(struct fz *f, struct fuzz_in *in)
{
	enum sc_pressure_level level =
		(enum sc_pressure_level)(1 + fuzz_below(in, 3));
	size_t before = f->m.n, after, gone;

	sc_shrink_memory(level);
	after = sc_cache_count(f->c);
	gone = before - after;
	FUZZ_CHECK(gone <= before, "shrinker pass grew the cache");
	for (size_t i = 0; i < gone; i++)
		am_drop(&f->m, am_victim(&f->m));
	if (level == SC_PRESSURE_CRITICAL)
		FUZZ_CHECK(f->m.n == 0, "a CRITICAL pass left %zu entries",
			   f->m.n);
}

static void op_memory(struct fz *f, struct fuzz_in *in)
{
	size_t mem = sc_cache_memory(f->c);
	size_t len = fuzz_u16(in) % 4000;
	size_t per = sc_cache_entry_memory(f->c, len);

	FUZZ_CHECK(mem > 0 && per > 0, "memory %zu, entry %zu", mem, per);
	/* a cost of 65535 or more is kept in 8 more bytes */
	FUZZ_CHECK(sc_cache_entry_memory_cost(f->c, len, 65534) == per &&
			   sc_cache_entry_memory_cost(f->c, len, 65535) ==
				   per + 8,
		   "entry memory of a key of %zu bytes by cost", len);
	FUZZ_CHECK(sc_cache_entry_memory(f->c, 65536) == 0,
		   "entry memory of a 65536-byte key");
}

static const char *const op_names[] = {
	"insert",	 "add",	       "replace", "find",    "find_key",
	"remove",	 "remove_key", "get",	  "get_key", "put",
	"bad",		 "set_limit",  "clear",	  "shrink",  "age",
	"shrink_memory", "memory",
};
#define NR_OPS (sizeof(op_names) / sizeof(op_names[0]))

static struct sc_cache *create(struct fz *f, struct fuzz_in *in,
			       unsigned int flags)
{
	static const size_t limits[] = { 1000, 300, 10, 0, 2000, SIZE_MAX };
	struct sc_cache_config cfg = {
		.name = "fuzz",
		.ops = &fz_ops,
		.priv = f,
		.flags = flags,
	};
	uint8_t r = fuzz_u8(in);
	struct sc_cache *c;

	/* 0 means the default limit, which programs may well keep */
	cfg.limit = limits[r % 6];
	f->m.limit = cfg.limit ? cfg.limit : SC_CACHE_DEFAULT_LIMIT;
	am_shares(&f->m);
	if (r & 0x80) {
		sc_fault_inject(1 + fuzz_below(in, 16));
		c = sc_cache_create(&cfg);
		sc_fault_inject(0);
		if (c)
			return c;
		FUZZ_CHECK(errno == ENOMEM, "create under injection: %d",
			   errno);
	}
	c = sc_cache_create(&cfg);
	FUZZ_CHECK(c, "create: %d", errno);
	return c;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fz *f = &fz;
	unsigned int flags;
	uint8_t cfg;

	memset(f, 0, sizeof(*f));
	f->m.ins_at = f->m.hand = -1;
	f->next_val = 1;
	cfg = fuzz_u8(&in);
	flags = (cfg & 1 ? SC_CACHE_POLICY_SIEVE :
		 cfg & 4 ? SC_CACHE_POLICY_S3FIFO :
			   0) |
		(cfg & 2 ? 0 : SC_CACHE_NO_SHRINKER);
	f->m.sieve = flags & SC_CACHE_POLICY_SIEVE;
	f->m.s3fifo = flags & SC_CACHE_POLICY_S3FIFO;
	/* bad flags are refused, and two policies */
	FUZZ_CHECK(!sc_cache_create(
			   &(struct sc_cache_config){ .flags = 0x80000000u }) &&
			   errno == EINVAL,
		   "unknown flags accepted");
	FUZZ_CHECK(!sc_cache_create(&(struct sc_cache_config){
			   .flags = SC_CACHE_POLICY_SIEVE |
				    SC_CACHE_POLICY_S3FIFO }) &&
			   errno == EINVAL,
		   "two policies accepted");
	f->c = create(f, &in, flags);
	f->seed = sc_cache_hash_seed(f->c);

	for (unsigned long op = 0; op < MAX_OPS && !fuzz_done(&in); op++) {
		uint8_t r = fuzz_u8(&in);
		unsigned int which = r % NR_OPS;
		bool armed = r >= 0xe0; /* about 1 op in 8 under injection */
		unsigned long nth = 0, allocs = 0;

		f->nested_ok = !armed;
		f->grow = false;
		if (getenv("FUZZ_TRACE"))
			fprintf(stderr, "op %lu: %s%s, next value %lu\n", op,
				op_names[which], armed ? " (armed)" : "",
				f->next_val);
		if (armed) {
			nth = 1 + fuzz_below(&in, 6);
			allocs = sc_fault_allocations();
			sc_fault_inject(nth);
		}
		switch (which) {
		case 0:
			op_insert(f, &in, armed);
			break;
		case 1:
			op_add(f, &in, armed);
			break;
		case 2:
			op_replace(f, &in, armed);
			break;
		case 3:
		case 4:
			op_find(f, &in, which == 4);
			break;
		case 5:
		case 6:
			op_remove(f, &in, which == 6);
			break;
		case 7:
		case 8:
			op_get(f, &in, which == 8);
			break;
		case 9:
			op_put(f, &in);
			break;
		case 10:
			op_bad(f, &in);
			break;
		case 11:
			op_set_limit(f, &in);
			break;
		case 12:
			sc_cache_clear(f->c);
			am_clear(&f->m);
			break;
		case 13:
			op_shrink(f, &in);
			break;
		case 14:
			op_age(f);
			break;
		case 15:
			/* the count tells how many went: no inserts meanwhile */
			f->nested_ok = false;
			if (!(flags & SC_CACHE_NO_SHRINKER))
				op_shrink_memory(f, &in);
			break;
		default:
			op_memory(f, &in);
			break;
		}
		allocs = sc_fault_allocations() - allocs;
		sc_fault_inject(0);
		f->ghost_before = f->m.ghost;
		am_ghost_size(&f->m, f->grow);
		/* the ghost's allocation, the last of a stored insert, failed:
		 * no error, the old ghost stays */
		if (armed && allocs == nth && f->m.ghost.buckets &&
		    (f->m.ghost.sized != f->ghost_before.sized ||
		     f->m.ghost.buckets != f->ghost_before.buckets))
			f->m.ghost = f->ghost_before;
		check(f, op, op_names[which]);
	}

	/* Destroy with some pins still held: their values go at the put. */
	f->nested_ok = false;
	while (f->m.nr_pins > NR_PINS / 2)
		op_put(f, &in);
	{
		struct sc_cache *c = f->c;

		f->c = NULL;
		sc_cache_destroy(c);
	}
	while (f->m.nr_pins) {
		unsigned long val = f->m.pin_val[--f->m.nr_pins];

		sc_entry_put(f->m.pin_e[f->m.nr_pins]);
		FUZZ_CHECK(am_pins_of(&f->m, val) || f->released[val],
			   "value %lu not released at its last put after "
			   "destroy",
			   val);
	}
	for (unsigned long v = 1; v < f->next_val; v++)
		FUZZ_CHECK(f->released[v] == f->taken[v],
			   "value %lu taken %u, released %u", v, f->taken[v],
			   f->released[v]);
	return 0;
}
