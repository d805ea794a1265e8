// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Writes that change more than one key look atomic to lock-free lookups.
 *
 * One thread runs a write that drops or adds many entries (a shrink, an
 * insert, a handle replace or a limit that evicts, a clear) over and over,
 * each time on a cache refilled with 64 entries whose order it knows; another
 * looks up, in turn, the key the write changes first and the key it
 * changes last, with every lookup of the API (find, get, contains,
 * find_key, get_key, key_valid). Once a lookup has seen the first change,
 * a later lookup must not see the last key unchanged: the write is one
 * step of the sequential model, and a reader that saw half of it would be
 * refused by the linearizability checker (cache_lin_mt). Evicting 64
 * entries holds the window open for thousands of lookups.
 *
 * A round's probes are published before the round's generation turns odd
 * and rewritten only after it turns even again; a reader keeps what it
 * saw only when the generation was the same odd value before its first
 * lookup and after its second.
 */
#include "../mt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "helpers.h"

#define MW_ENTRIES 64
/*
 * A test runs at least MW_MIN_NS and MW_CHECKS checked reads, at most
 * MW_MAX_NS: long enough that the cache without the bracket fails each
 * of them nearly every time, short enough for make check.
 */
#define MW_CHECKS 20000
#define MW_MIN_NS 600000000LL
#define MW_MAX_NS 2000000000LL

enum mw_write { MW_SHRINK, MW_INSERT, MW_REPLACE, MW_LIMIT, MW_CLEAR };

/* The key a round changes first or last, and its value before and after. */
struct mw_probe {
	atomic_ulong key; /* string key index, or ~0UL: handle */
	_Atomic uint64_t handle;
	_Atomic uintptr_t before, after; /* values; 0: absent */
	/* the write reorders keys: only lookups that are no use of it */
	atomic_bool neutral;
};

struct mw_shared {
	struct sc_cache *c;
	atomic_ulong gen; /* odd while a round's write runs */
	atomic_bool stop;
	struct mw_probe first, last;
	unsigned long torn; /* reader: half a write seen */
	unsigned long seen_first; /* reader: first change seen in a round */
	atomic_ulong checks; /* read by the writer to know when to stop */
};

static const char *mw_key(char *buf, unsigned long i)
{
	return kstr(buf, 32, "k", i);
}

static long long mw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A probe as the reader saw it. */
struct mw_seen {
	unsigned long key;
	sc_key_t handle;
	uintptr_t before, after;
	bool neutral;
};

static void mw_probe_load(struct mw_probe *p, struct mw_seen *s)
{
	s->key = atomic_load_explicit(&p->key, memory_order_acquire);
	s->handle.id = atomic_load_explicit(&p->handle, memory_order_acquire);
	s->before = atomic_load_explicit(&p->before, memory_order_acquire);
	s->after = atomic_load_explicit(&p->after, memory_order_acquire);
	s->neutral = atomic_load_explicit(&p->neutral, memory_order_acquire);
}

static void mw_probe_set(struct mw_probe *p, unsigned long key, sc_key_t handle,
			 uintptr_t before, uintptr_t after, bool neutral)
{
	atomic_store_explicit(&p->key, key, memory_order_release);
	atomic_store_explicit(&p->handle, handle.id, memory_order_release);
	atomic_store_explicit(&p->before, before, memory_order_release);
	atomic_store_explicit(&p->after, after, memory_order_release);
	atomic_store_explicit(&p->neutral, neutral, memory_order_release);
}

/*
 * Look @s up with lookup @kind (0..2 of the key's kind; the neutral ones,
 * contains and key_valid, only when @s asks). Return: the value found, 0
 * when absent; contains and key_valid say 1 for present, so a probe
 * compares presence only for them (*@presence).
 */
static uintptr_t mw_lookup(struct sc_cache *c, const struct mw_seen *s,
			   unsigned int kind, bool *presence)
{
	struct sc_entry *e;
	uintptr_t v;
	char k[32];

	*presence = s->neutral || kind == 2;
	if (s->key != ~0UL) {
		mw_key(k, s->key);
		if (*presence)
			return sc_cache_contains(c, k);
		if (kind == 0)
			return (uintptr_t)sc_cache_find(c, k);
		e = sc_cache_get(c, k);
		v = (uintptr_t)sc_entry_value(e);
		sc_entry_put(e);
		return v;
	}
	if (*presence)
		return sc_cache_key_valid(c, s->handle);
	if (kind == 0)
		return (uintptr_t)sc_cache_find_key(c, s->handle);
	e = sc_cache_get_key(c, s->handle);
	v = (uintptr_t)sc_entry_value(e);
	sc_entry_put(e);
	return v;
}

static bool mw_is(uintptr_t got, uintptr_t want, bool presence)
{
	return presence ? !!got == !!want : got == want;
}

static void *mw_reader(void *arg)
{
	struct mw_shared *sh = arg;
	unsigned int turn = 0;

	while (!atomic_load(&sh->stop)) {
		unsigned long g1 = atomic_load(&sh->gen), g2;
		struct mw_seen first, last;
		uintptr_t r1, r2;
		bool p1, p2, first_done, last_undone;

		if (!(g1 & 1))
			continue;
		mw_probe_load(&sh->first, &first);
		mw_probe_load(&sh->last, &last);
		r1 = mw_lookup(sh->c, &first, turn % 3, &p1);
		r2 = mw_lookup(sh->c, &last, turn / 3 % 3, &p2);
		turn++;
		g2 = atomic_load(&sh->gen);
		if (g1 != g2)
			continue;
		atomic_fetch_add_explicit(&sh->checks, 1, memory_order_relaxed);
		first_done = mw_is(r1, first.after, p1) &&
			     !mw_is(r1, first.before, p1);
		last_undone = mw_is(r2, last.before, p2) &&
			      !mw_is(r2, last.after, p2);
		sh->seen_first += first_done;
		sh->torn += first_done && last_undone;
	}
	return NULL;
}

/*
 * Empty @c, then fill it with MW_ENTRIES entries of cost 1, oldest first:
 * a handle at one end (@handle_first: the oldest, else the newest), string
 * keys k1..k62 between, k0 at the other end. The handle goes in @h.
 */
static void mw_fill(struct sc_cache *c, bool handle_first, sc_key_t *h)
{
	char k[32];

	sc_cache_clear(c);
	cr_assert_eq(sc_cache_set_limit(c, MW_ENTRIES), 0);
	for (unsigned long i = 0; i < MW_ENTRIES; i++) {
		bool at_handle = handle_first ? i == 0 : i == MW_ENTRIES - 1;
		bool at_k0 = handle_first ? i == MW_ENTRIES - 1 : i == 0;

		if (at_handle) {
			*h = sc_cache_add(c, VAL(1000), 1);
			cr_assert_neq(h->id, 0);
		} else {
			cr_assert_eq(sc_cache_insert(c,
						     mw_key(k, at_k0 ? 0 : i),
						     VAL(at_k0 ? 0 : i), 1),
				     0);
		}
	}
}

/* The string key and value at position @i (0: oldest) of mw_fill(). */
static unsigned long mw_key_at(bool handle_first, unsigned long i)
{
	return (handle_first ? i == MW_ENTRIES - 1 : i == 0) ? 0 : i;
}

/* The last probe of an eviction: the newest entry, which goes last. */
static void mw_probe_newest(struct mw_shared *sh, bool handle_first,
			    unsigned long newest, sc_key_t h)
{
	if (handle_first)
		mw_probe_set(&sh->last, newest, SC_KEY_NONE,
			     (uintptr_t)VAL(newest), 0, false);
	else
		mw_probe_set(&sh->last, ~0UL, h, (uintptr_t)VAL(1000), 0,
			     false);
}

/* Set the round's probes for @write on the cache mw_fill() made. */
static void mw_round_probes(struct mw_shared *sh, enum mw_write write,
			    bool handle_first, sc_key_t h)
{
	const sc_key_t none = SC_KEY_NONE;
	unsigned long oldest = mw_key_at(handle_first, 0);
	unsigned long newest = mw_key_at(handle_first, MW_ENTRIES - 1);
	unsigned long second = mw_key_at(handle_first, MW_ENTRIES - 2);

	switch (write) {
	case MW_SHRINK:
	case MW_LIMIT:
		/* oldest first: a hit on the oldest would reorder them */
		if (handle_first)
			mw_probe_set(&sh->first, ~0UL, h, (uintptr_t)VAL(1000),
				     0, true);
		else
			mw_probe_set(&sh->first, oldest, none,
				     (uintptr_t)VAL(oldest), 0, true);
		mw_probe_newest(sh, handle_first, newest, h);
		break;
	case MW_INSERT:
		/* the new key is in the index before the first victim goes */
		mw_probe_set(&sh->first, 5000, none, 0, (uintptr_t)VAL(5000),
			     false);
		mw_probe_newest(sh, handle_first, newest, h);
		break;
	case MW_REPLACE:
		/* the handle (the newest) takes its new value, the rest go */
		mw_probe_set(&sh->first, ~0UL, h, (uintptr_t)VAL(1000),
			     (uintptr_t)VAL(2000), false);
		mw_probe_set(&sh->last, second, none, (uintptr_t)VAL(second), 0,
			     false);
		break;
	case MW_CLEAR:
		/* the string index goes at once, handles one by one after */
		mw_probe_set(&sh->first, 7, none, (uintptr_t)VAL(7), 0, true);
		mw_probe_set(&sh->last, ~0UL, h, (uintptr_t)VAL(1000), 0,
			     false);
		break;
	}
}

static void mw_write(struct sc_cache *c, enum mw_write write, sc_key_t h)
{
	char k[32];

	switch (write) {
	case MW_SHRINK:
		cr_assert_eq(sc_cache_shrink(c, MW_ENTRIES), MW_ENTRIES);
		break;
	case MW_INSERT:
		cr_assert_eq(sc_cache_insert(c, mw_key(k, 5000), VAL(5000),
					     MW_ENTRIES),
			     0);
		break;
	case MW_REPLACE:
		cr_assert_eq(sc_cache_replace(c, h, VAL(2000), MW_ENTRIES), 0);
		break;
	case MW_LIMIT:
		cr_assert_eq(sc_cache_set_limit(c, 0), 0);
		break;
	case MW_CLEAR:
		sc_cache_clear(c);
		break;
	}
}

static void mw_run(enum mw_write write)
{
	struct sc_cache_config cfg = { .name = "multiwrite",
				       .limit = MW_ENTRIES };
	struct mw_shared sh = { .c = sc_cache_create(&cfg) };
	long long start = mw_now_ns(), now = start;
	pthread_t reader;

	cr_assert_not_null(sh.c);
	cr_assert_eq(pthread_create(&reader, NULL, mw_reader, &sh), 0);
	for (unsigned long round = 0;
	     now - start < MW_MAX_NS &&
	     (now - start < MW_MIN_NS ||
	      atomic_load_explicit(&sh.checks, memory_order_relaxed) <
		      MW_CHECKS);
	     round++, now = mw_now_ns()) {
		/* replace wants the handle newest; the others take turns */
		bool handle_first = write != MW_REPLACE && (round & 1);
		sc_key_t h;

		/* the reader ignores even generations: refill, set probes */
		mw_fill(sh.c, handle_first, &h);
		mw_round_probes(&sh, write, handle_first, h);
		atomic_fetch_add(&sh.gen, 1);
		mw_write(sh.c, write, h);
		atomic_fetch_add(&sh.gen, 1);
	}
	atomic_store(&sh.stop, true);
	cr_assert_eq(pthread_join(reader, NULL), 0);
	sc_cache_destroy(sh.c);
	cr_log_info("%lu checks, first change seen %lu times, torn %lu",
		    atomic_load(&sh.checks), sh.seen_first, sh.torn);
	cr_assert_eq(sh.torn, 0, "a lookup saw half of a write");
}

Test(cache_multiwrite_mt, shrink)
{
	mw_run(MW_SHRINK);
}

Test(cache_multiwrite_mt, insert_evicting)
{
	mw_run(MW_INSERT);
}

Test(cache_multiwrite_mt, replace_evicting)
{
	mw_run(MW_REPLACE);
}

Test(cache_multiwrite_mt, set_limit)
{
	mw_run(MW_LIMIT);
}

Test(cache_multiwrite_mt, clear)
{
	mw_run(MW_CLEAR);
}
