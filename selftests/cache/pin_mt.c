// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Hazard-slot pins (core/pin.h) across threads: a pin put by another
 * thread than the one that got it, a thread that exits with pins held,
 * more pins than slots, more threads than pin sets, destroy with pins
 * out, the child of a fork() holding the pins of a thread it does not
 * have, and gets, puts on other threads and drops racing.
 *
 * The rules they check are the API's (rule 7 and 8): the value stays
 * alive until the last put, release runs exactly once, at the last put
 * when the entry was dropped while pinned, and `pinned` counts such
 * entries.
 */
#include "../mt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <slabcache.h>

#include "../child.h"
#include "core/cache_internal.h"
#include "core/pin.h"
#include "helpers.h"

static size_t pinned_of(struct sc_cache *c)
{
	struct sc_cache_stats st;

	cr_assert_eq(sc_cache_stats(c, &st), 0);
	return st.pinned;
}

static unsigned int count_of(struct sc_entry *e)
{
	return atomic_load(&e->refs) & SC_REFS_COUNT;
}

/* Slots of the calling thread's set that hold @e, counted or not. */
static unsigned int my_slots_of(struct sc_entry *e)
{
	struct sc_pin_set *s = sc_pin_self;
	unsigned int i, n = 0;

	if (!s || s == SC_PIN_NO_SET)
		return 0;
	for (i = 0; i < SC_PIN_SLOTS; i++)
		if ((atomic_load(&s->slot[i]) & ~SC_PIN_COUNTED) ==
		    (uintptr_t)e)
			n++;
	return n;
}

/* A two-party handshake: one side posts a step, the other waits for it. */
struct step {
	atomic_uint n;
};

static void step_post(struct step *s, unsigned int n)
{
	atomic_store(&s->n, n);
}

static void step_wait(struct step *s, unsigned int n)
{
	while (atomic_load(&s->n) < n)
		sched_yield();
}

/* ------------------------------------------------ put on another thread */

struct holder {
	struct sc_cache *c;
	const char *key;
	struct sc_entry *e;
	unsigned int slots; /* the holder's slots of e, after the foreign put */
	struct step to_holder, to_main;
};

/* Get, let main put the pin, look at the slot, exit holding nothing. */
static void *holder_main(void *arg)
{
	struct holder *h = arg;

	h->e = sc_cache_get(h->c, h->key);
	step_post(&h->to_main, 1);
	step_wait(&h->to_holder, 1);
	h->slots = my_slots_of(h->e);
	step_post(&h->to_main, 2);
	return NULL;
}

/*
 * A cache holding "a" (value 1) whose releases go to @r, and a holder
 * thread @t that has pinned it (h->e) and waits for its next step.
 */
static struct sc_cache *start_holder(struct rel *r, struct holder *h,
				     pthread_t *t)
{
	struct sc_cache *c;

	rel_init(r, 4);
	c = mk_cache(100, r);
	cr_assert_not_null(c);
	cr_assert_eq(sc_cache_insert(c, "a", VAL(1), 1), 0);
	h->c = c;
	cr_assert_eq(pthread_create(t, NULL, holder_main, h), 0);
	step_wait(&h->to_main, 1);
	cr_assert_not_null(h->e);
	return c;
}

static void put_from_other_thread(bool drop_first)
{
	struct rel r;
	struct sc_cache *c;
	struct holder h = { .key = "a" };
	struct sc_entry *e;
	pthread_t t;

	c = start_holder(&r, &h, &t);
	e = h.e;
	cr_assert_eq(count_of(e), 1, "the holder's pin is a slot pin");
	if (drop_first) {
		cr_assert_eq(sc_cache_remove(c, "a"), 0);
		cr_assert_eq(rel_count(&r, 1), 0, "released while pinned");
		cr_assert_eq(pinned_of(c), 1);
		cr_assert_eq(count_of(e), 1, "the slot pin made counted");
	}
	/* main never got it: the put finds the holder's slot */
	sc_entry_put(e);
	step_post(&h.to_holder, 1);
	step_wait(&h.to_main, 2);
	cr_assert_eq(h.slots, 0, "the foreign put left the slot set");
	cr_assert_eq(pthread_join(t, NULL), 0);
	if (drop_first) {
		cr_assert_eq(rel_count(&r, 1), 1, "the last put releases");
		cr_assert_eq(pinned_of(c), 0);
	} else {
		cr_assert_eq(count_of(e), 1, "only the cache's reference");
		cr_assert_eq(rel_count(&r, 1), 0);
	}
	cr_assert_eq(sc_cache_check(c, NULL), 0);
	sc_cache_destroy(c);
	cr_assert_eq(rel_count(&r, 1), 1);
	cr_assert_eq(atomic_load(&r.total), 1);
	rel_fini(&r);
}

Test(pin_mt, put_on_another_thread)
{
	put_from_other_thread(false);
}

Test(pin_mt, put_on_another_thread_after_drop)
{
	put_from_other_thread(true);
}

/* ---------------------------------------------------- thread exit, pins */

#define EXIT_KEYS (3 * SC_PIN_SLOTS)

struct exiter {
	struct sc_cache *c;
	struct sc_entry *e[EXIT_KEYS + 2];
};

/*
 * More pins than slots (k0-k7 in slots, the rest and the second pins of
 * k0 and k1 counted), and k0 dropped while this thread still holds it in
 * a slot (made counted then).
 */
static void *exiter_main(void *arg)
{
	struct exiter *x = arg;
	char k[32];
	unsigned int i;

	for (i = 0; i < EXIT_KEYS; i++) {
		snprintf(k, sizeof(k), "k%u", i);
		x->e[i] = sc_cache_get(x->c, k);
	}
	x->e[EXIT_KEYS] = sc_cache_get(x->c, "k0");
	x->e[EXIT_KEYS + 1] = sc_cache_get(x->c, "k1");
	/* k0 is in a slot; its drop makes it counted, not released */
	if (my_slots_of(x->e[0]) != 1 || sc_cache_remove(x->c, "k0"))
		x->e[0] = NULL;
	return NULL;
}

Test(pin_mt, thread_exit_keeps_its_pins)
{
	struct exiter x = { 0 };
	struct sc_cache *c;
	struct rel r;
	pthread_t t;
	char k[32];
	unsigned int i;

	rel_init(&r, EXIT_KEYS + 1);
	c = mk_cache(1000, &r);
	cr_assert_not_null(c);
	for (i = 0; i < EXIT_KEYS; i++) {
		snprintf(k, sizeof(k), "k%u", i);
		cr_assert_eq(sc_cache_insert(c, k, VAL(i), 1), 0);
	}
	x.c = c;
	cr_assert_eq(pthread_create(&t, NULL, exiter_main, &x), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_not_null(x.e[0], "k0 was not dropped from a slot");
	cr_assert_eq(rel_count(&r, 0), 0, "released at the drop");
	cr_assert_eq(pinned_of(c), 1);

	/* every pin of the gone thread is counted now */
	for (i = 0; i < EXIT_KEYS; i++) {
		unsigned int want = 2 + (i == 1);

		cr_assert_not_null(x.e[i]);
		cr_assert_eq(count_of(x.e[i]), want, "k%u: count %u, not %u", i,
			     count_of(x.e[i]), want);
	}
	/* they keep their values through a clear */
	sc_cache_clear(c);
	cr_assert_eq(atomic_load(&r.total), 0);
	cr_assert_eq(pinned_of(c), EXIT_KEYS);
	for (i = 0; i < EXIT_KEYS + 2; i++)
		sc_entry_put(x.e[i]);
	for (i = 0; i < EXIT_KEYS; i++)
		cr_assert_eq(rel_count(&r, i), 1, "k%u released %u times", i,
			     rel_count(&r, i));
	cr_assert_eq(pinned_of(c), 0);
	sc_cache_destroy(c);
	cr_assert_eq(atomic_load(&r.total), EXIT_KEYS);
	rel_fini(&r);
}

/* -------------------------------------------------------- slot overflow */

POLICY_TEST(pin_mt, more_pins_than_slots)
{
	struct sc_entry *same[3 * SC_PIN_SLOTS], *each[3 * SC_PIN_SLOTS];
	struct sc_cache *c;
	struct rel r;
	char k[32];
	unsigned int i;

	rel_init(&r, 3 * SC_PIN_SLOTS + 1);
	c = mk_cache_flags(1000, &r, policy);
	cr_assert_not_null(c);
	for (i = 0; i < 3 * SC_PIN_SLOTS; i++) {
		snprintf(k, sizeof(k), "k%u", i);
		cr_assert_eq(insert_stored(c, k, VAL(i), 1), 0);
	}
	for (i = 0; i < 3 * SC_PIN_SLOTS; i++) {
		same[i] = sc_cache_get(c, "k0");
		cr_assert_not_null(same[i]);
	}
	/* the slots are full: the rest counted */
	cr_assert_eq(my_slots_of(same[0]), SC_PIN_SLOTS);
	cr_assert_eq(count_of(same[0]), 1 + 2 * SC_PIN_SLOTS);
	for (i = 0; i < 3 * SC_PIN_SLOTS; i++) {
		snprintf(k, sizeof(k), "k%u", i);
		each[i] = sc_cache_get(c, k);
		cr_assert_not_null(each[i]);
	}
	sc_cache_clear(c);
	cr_assert_eq(atomic_load(&r.total), 0);
	cr_assert_eq(pinned_of(c), 3 * SC_PIN_SLOTS);
	/* puts in another order than the gets; k0 goes last */
	for (i = 0; i < 3 * SC_PIN_SLOTS; i++)
		sc_entry_put(each[3 * SC_PIN_SLOTS - 1 - i]);
	for (i = 1; i < 3 * SC_PIN_SLOTS; i++)
		cr_assert_eq(rel_count(&r, i), 1);
	for (i = 0; i < 3 * SC_PIN_SLOTS; i++) {
		cr_assert_eq(rel_count(&r, 0), 0, "k0 released early");
		sc_entry_put(same[(i * 5) % (3 * SC_PIN_SLOTS)]);
	}
	cr_assert_eq(rel_count(&r, 0), 1);
	cr_assert_eq(pinned_of(c), 0);
	cr_assert_eq(my_slots_of(same[0]), 0);
	sc_cache_destroy(c);
	cr_assert_eq(atomic_load(&r.total), 3 * SC_PIN_SLOTS);
	rel_fini(&r);
}

/* ------------------------------------------------ more threads than sets */

#define MANY_THREADS (SC_PIN_SETS + 16)

struct many {
	struct sc_cache *c;
	pthread_barrier_t all_pinned, all_checked;
	atomic_uint with_set, wrong;
};

static void *many_main(void *arg)
{
	struct many *m = arg;
	struct sc_entry *e = sc_cache_get(m->c, "a");

	if (!e || sc_entry_value(e) != VAL(1))
		atomic_fetch_add(&m->wrong, 1);
	if (sc_pin_self != SC_PIN_NO_SET)
		atomic_fetch_add(&m->with_set, 1);
	pthread_barrier_wait(&m->all_pinned);
	pthread_barrier_wait(&m->all_checked);
	sc_entry_put(e);
	return NULL;
}

Test(pin_mt, more_threads_than_pin_sets, .timeout = 120)
{
	static pthread_t t[MANY_THREADS];
	struct many m = { 0 };
	struct sc_entry *e;
	pthread_attr_t attr;
	struct rel r;
	unsigned int i, with_set;

	rel_init(&r, 2);
	m.c = mk_cache(100, &r);
	cr_assert_not_null(m.c);
	cr_assert_eq(sc_cache_insert(m.c, "a", VAL(1), 1), 0);
	pthread_barrier_init(&m.all_pinned, NULL, MANY_THREADS + 1);
	pthread_barrier_init(&m.all_checked, NULL, MANY_THREADS + 1);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (i = 0; i < MANY_THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], &attr, many_main, &m), 0);
	pthread_barrier_wait(&m.all_pinned);
	with_set = atomic_load(&m.with_set);
	cr_assert_eq(atomic_load(&m.wrong), 0);
	/* sets taken by earlier tests' threads went back at their exit */
	cr_assert_leq(with_set, SC_PIN_SETS);
	cr_assert_geq(with_set, SC_PIN_SETS - 1);
	/* the threads without a set pinned with counts */
	e = sc_cache_get(m.c, "a");
	cr_assert_not_null(e);
	cr_assert_eq(count_of(e) - 1 - (my_slots_of(e) ? 0 : 1),
		     MANY_THREADS - with_set);
	cr_assert_eq(sc_cache_remove(m.c, "a"), 0);
	cr_assert_eq(pinned_of(m.c), 1);
	sc_entry_put(e);
	pthread_barrier_wait(&m.all_checked);
	for (i = 0; i < MANY_THREADS; i++)
		cr_assert_eq(pthread_join(t[i], NULL), 0);
	cr_assert_eq(rel_count(&r, 1), 1);
	cr_assert_eq(pinned_of(m.c), 0);
	pthread_attr_destroy(&attr);
	pthread_barrier_destroy(&m.all_pinned);
	pthread_barrier_destroy(&m.all_checked);
	sc_cache_destroy(m.c);
	cr_assert_eq(atomic_load(&r.total), 1);
	rel_fini(&r);
}

/* ------------------------------------------------- destroy with pins out */

Test(pin_mt, destroy_with_pins_of_threads)
{
	struct holder h[2] = { { .key = "a" }, { .key = "b" } };
	struct sc_cache *c;
	struct rel r;
	pthread_t t[2];
	unsigned int i;

	rel_init(&r, 4);
	c = mk_cache(100, &r);
	cr_assert_not_null(c);
	cr_assert_eq(sc_cache_insert(c, "a", VAL(1), 1), 0);
	cr_assert_eq(sc_cache_insert(c, "b", VAL(2), 1), 0);
	cr_assert_eq(sc_cache_insert(c, "c", VAL(3), 1), 0);
	for (i = 0; i < 2; i++) {
		h[i].c = c;
		cr_assert_eq(pthread_create(&t[i], NULL, holder_main, &h[i]),
			     0);
		step_wait(&h[i].to_main, 1);
		cr_assert_not_null(h[i].e);
	}
	sc_cache_destroy(c);
	/* c is gone for callers; its pinned entries keep it alive */
	cr_assert_eq(rel_count(&r, 3), 1);
	cr_assert_eq(rel_count(&r, 1) + rel_count(&r, 2), 0);
	/* one put from here, the other by its own thread's exit and here */
	sc_entry_put(h[0].e);
	cr_assert_eq(rel_count(&r, 1), 1);
	for (i = 0; i < 2; i++) {
		step_post(&h[i].to_holder, 1);
		cr_assert_eq(pthread_join(t[i], NULL), 0);
	}
	cr_assert_eq(rel_count(&r, 2), 0, "thread exit released a pin");
	sc_entry_put(h[1].e); /* the last: frees the cache too */
	cr_assert_eq(rel_count(&r, 2), 1);
	cr_assert_eq(atomic_load(&r.total), 3);
	rel_fini(&r);
}

/* ------------------------------------------------------------- fork() */

/*
 * The child has the forking thread only. The pin of a thread it does not
 * have stays (counted): the entry is not released at its drop, and a put
 * in the child, which may be that pin handed over, is its last.
 */
Test(pin_mt, fork_child_keeps_the_pins_of_gone_threads, .timeout = 60)
{
	struct holder h = { .key = "a" };
	struct sc_cache *c;
	struct rel r;
	pthread_t t;
	int status;
	pid_t pid;

	c = start_holder(&r, &h, &t);
	pid = test_fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int err = 0;

		if (count_of(h.e) != 2)
			err = 1;
		else if (sc_cache_remove(c, "a") || rel_count(&r, 1))
			err = 2;
		else if (pinned_of(c) != 1)
			err = 3;
		sc_entry_put(h.e);
		if (!err && (rel_count(&r, 1) != 1 || pinned_of(c)))
			err = 4;
		sc_cache_destroy(c);
		child_exit(err);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0, "the child failed at step %d",
		     WEXITSTATUS(status));
	/* the parent's holder still has its slot pin */
	cr_assert_eq(count_of(h.e), 1);
	step_post(&h.to_holder, 1);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(h.slots, 1);
	sc_entry_put(h.e); /* counted at the holder's exit */
	cr_assert_eq(count_of(h.e), 1);
	sc_cache_destroy(c);
	cr_assert_eq(rel_count(&r, 1), 1);
	rel_fini(&r);
}

/* ------------------------------------------- gets, foreign puts, drops */

#define RACE_KEYS 16
#define RACE_RING 64
#define RACE_OPS 200000

struct race {
	struct sc_cache *c;
	struct rel *r;
	atomic_uchar *taken; /* per value: the cache took it */
	_Atomic(struct sc_entry *) ring[RACE_RING];
	atomic_bool stop;
	atomic_ulong next_val, wrong;
	atomic_uint live_getters;
};

/* Gets, checks the value is alive, puts half itself, hands half over. */
static void *race_getter(void *arg)
{
	struct race *x = arg;
	unsigned long i, seed = (uintptr_t)&i;
	char k[16];

	for (i = 0; i < RACE_OPS; i++) {
		struct sc_entry *e, *old;

		seed = seed * 6364136223846793005ul + 1442695040888963407ul;
		snprintf(k, sizeof(k), "k%lu", (seed >> 33) % RACE_KEYS);
		e = sc_cache_get(x->c, k);
		if (!e)
			continue;
		/* pinned: alive, never released yet */
		if (rel_count(x->r, VAL_ID(sc_entry_value(e))))
			atomic_fetch_add(&x->wrong, 1);
		if (seed >> 63) {
			sc_entry_put(e);
			continue;
		}
		old = atomic_exchange(&x->ring[(seed >> 20) % RACE_RING], e);
		if (old)
			sc_entry_put(old);
	}
	atomic_fetch_sub(&x->live_getters, 1);
	return NULL;
}

/* Puts what the getters handed over. */
static void *race_putter(void *arg)
{
	struct race *x = arg;
	unsigned int i = 0;

	while (atomic_load(&x->live_getters)) {
		struct sc_entry *e =
			atomic_exchange(&x->ring[i++ % RACE_RING], NULL);

		if (e)
			sc_entry_put(e);
	}
	return NULL;
}

/* Inserts, replaces, removes, clears: drops racing the pins. */
static void *race_writer(void *arg)
{
	struct race *x = arg;
	unsigned long seed = 7;
	char k[16];

	while (atomic_load(&x->live_getters)) {
		unsigned long v = atomic_fetch_add(&x->next_val, 1);
		int ret;

		if (v >= x->r->cap) {
			atomic_fetch_sub(&x->next_val, 1);
			break;
		}
		seed = seed * 6364136223846793005ul + 1442695040888963407ul;
		snprintf(k, sizeof(k), "k%lu", (seed >> 33) % RACE_KEYS);
		if ((seed >> 40) % 64 == 0)
			sc_cache_clear(x->c);
		else if ((seed >> 40) % 4 == 0)
			sc_cache_remove(x->c, k);
		ret = insert_stored(x->c, k, VAL(v), 1);
		if (ret < 0)
			atomic_fetch_add(&x->wrong, 1);
		else if (!ret)
			atomic_store(&x->taken[v], 1);
	}
	return NULL;
}

POLICY_TEST(pin_mt, gets_foreign_puts_and_drops_race)
{
	static struct race x;
	struct rel r;
	pthread_t t[4];
	unsigned long i, n;

	memset(&x, 0, sizeof(x));
	rel_init(&r, 1u << 22);
	x.r = &r;
	x.taken = calloc(r.cap, sizeof(*x.taken));
	cr_assert_not_null(x.taken);
	/* a limit below the keys: inserts evict too */
	x.c = mk_cache_flags(RACE_KEYS / 2, &r, policy);
	cr_assert_not_null(x.c);
	atomic_store(&x.live_getters, 2);
	atomic_store(&x.next_val, 0);
	cr_assert_eq(pthread_create(&t[0], NULL, race_getter, &x), 0);
	cr_assert_eq(pthread_create(&t[1], NULL, race_getter, &x), 0);
	cr_assert_eq(pthread_create(&t[2], NULL, race_putter, &x), 0);
	cr_assert_eq(pthread_create(&t[3], NULL, race_writer, &x), 0);
	for (i = 0; i < 4; i++)
		cr_assert_eq(pthread_join(t[i], NULL), 0);
	for (i = 0; i < RACE_RING; i++) {
		struct sc_entry *e = atomic_exchange(&x.ring[i], NULL);

		if (e)
			sc_entry_put(e);
	}
	cr_assert_eq(atomic_load(&x.wrong), 0);
	cr_assert_eq(pinned_of(x.c), 0, "a pin was lost or left");
	cr_assert_eq(sc_cache_check(x.c, NULL), 0);
	sc_cache_destroy(x.c);
	n = atomic_load(&x.next_val);
	cr_assert_lt(n, 1ul << 22);
	for (i = 0; i < n; i++)
		cr_assert_eq(rel_count(&r, i), atomic_load(&x.taken[i]),
			     "value %lu released %u times", i,
			     rel_count(&r, i));
	free(x.taken);
	cr_assert_eq(atomic_load(&r.out_of_range), 0);
	rel_fini(&r);
}
