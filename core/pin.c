// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Hazard-slot pins: the table of per-thread pin sets, their hand-out and
 * return, and the slow paths (a drop's conversion, a put from another
 * thread, thread exit, fork). core/pin.h has the protocol and the
 * ordering argument; core/cache.c the fast paths.
 *
 * Lock order: sc_pin_lock is a leaf; it guards which sets are in use.
 * Nobody takes it to read a set's slots.
 */
#include <errno.h>

#include "alloc/lock.h"
#include "core/cache_internal.h"
#include "core/pin.h"
#include "core/rcu.h"

__thread struct sc_pin_set *sc_pin_self;
__thread unsigned int sc_pin_held;
struct sc_pin_set sc_pin_sets[SC_PIN_SETS];
atomic_uint sc_pin_nr_sets;
atomic_uint sc_pin_sets_end;

static struct sc_mutex sc_pin_lock = SC_MUTEX_INITIALIZER;
static bool sc_pin_used[SC_PIN_SETS]; /* sc_pin_lock */

struct sc_pin_set *sc_pin_set_take(void)
{
	struct sc_pin_set *s = NULL;
	unsigned int i;

	/* without an exit hook a set would outlive its thread */
	if (!sc_rcu_exit_hook()) {
		sc_pin_self = SC_PIN_NO_SET;
		return NULL;
	}
	sc_mutex_lock(&sc_pin_lock);
	for (i = 0; i < SC_PIN_SETS; i++) {
		if (sc_pin_used[i])
			continue;
		sc_pin_used[i] = true;
		s = &sc_pin_sets[i];
		/* before any slot of it is stored: see sc_pin_convert() */
		if (atomic_load_explicit(&sc_pin_sets_end,
					 memory_order_relaxed) <= i)
			atomic_store_explicit(&sc_pin_sets_end, i + 1,
					      memory_order_seq_cst);
		atomic_fetch_add_explicit(&sc_pin_nr_sets, 1,
					  memory_order_relaxed);
		break;
	}
	sc_mutex_unlock(&sc_pin_lock);
	/*
	 * A drop that reads sc_pin_nr_sets before the increment is alone
	 * only if this thread is not registered for read-side sections
	 * either, and it is (sc_rcu_alone()): no drop is decided from the
	 * count alone while this thread could be pinning.
	 */
	sc_pin_self = s ? s : SC_PIN_NO_SET;
	return s;
}

static void sc_pin_set_give_back(struct sc_pin_set *s)
{
	sc_mutex_lock(&sc_pin_lock);
	sc_pin_used[s - sc_pin_sets] = false;
	/* after the slots were made counted: sc_pin_alone() */
	atomic_fetch_sub_explicit(&sc_pin_nr_sets, 1, memory_order_release);
	sc_mutex_unlock(&sc_pin_lock);
}

/*
 * The end of the used part is read sequentially consistent, as the slots
 * are: a get whose set lies beyond the end read here stored the end (also
 * sequentially consistent) before its slot, so its load of refs comes
 * after this load and after the SC_REFS_DROPPED before it, and sees it.
 */
void sc_pin_convert(struct sc_entry *e, _Atomic unsigned int *refs)
{
	unsigned int end =
		atomic_load_explicit(&sc_pin_sets_end, memory_order_seq_cst);
	uintptr_t want = (uintptr_t)e;
	unsigned int i, j;

	for (i = 0; i < end; i++) {
		struct sc_pin_set *s = &sc_pin_sets[i];

		for (j = 0; j < SC_PIN_SLOTS; j++) {
			uintptr_t v = want;

			/* sequentially consistent: the store-buffering pair */
			if (atomic_load_explicit(&s->slot[j],
						 memory_order_seq_cst) != want)
				continue;
			/* the count first: a put may take the slot at once */
			atomic_fetch_add_explicit(refs, 1,
						  memory_order_relaxed);
			if (!atomic_compare_exchange_strong_explicit(
				    &s->slot[j], &v, want | SC_PIN_COUNTED,
				    memory_order_acq_rel, memory_order_acquire))
				/* put meanwhile; the cache's reference stays */
				atomic_fetch_sub_explicit(refs, 1,
							  memory_order_relaxed);
		}
	}
}

/* Take one pin of @e from @s. Return: as sc_pin_take_any(). */
static int sc_pin_take_from(struct sc_pin_set *s, uintptr_t want)
{
	unsigned int j;

	for (j = 0; j < SC_PIN_SLOTS; j++) {
		uintptr_t v =
			atomic_load_explicit(&s->slot[j], memory_order_relaxed);

		while ((v & ~SC_PIN_COUNTED) == want) {
			if (atomic_compare_exchange_weak_explicit(
				    &s->slot[j], &v, 0, memory_order_acq_rel,
				    memory_order_relaxed))
				return v & SC_PIN_COUNTED ? 2 : 1;
		}
	}
	return 0;
}

int sc_pin_take_any(const struct sc_entry *e)
{
	unsigned int end =
		atomic_load_explicit(&sc_pin_sets_end, memory_order_acquire);
	unsigned int i;

	for (i = 0; i < end; i++) {
		int r = sc_pin_take_from(&sc_pin_sets[i], (uintptr_t)e);

		if (r)
			return r;
	}
	return 0;
}

/*
 * A count for the slot pin of @e about to leave its slot; never revives a
 * count of 0 (the pin is gone then: another thread put it and the entry
 * left). Context: inside a read-side section that read the slot.
 */
static bool sc_pin_count_up(_Atomic unsigned int *refs)
{
	unsigned int r = atomic_load_explicit(refs, memory_order_relaxed);

	do {
		if (!(r & SC_REFS_COUNT))
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
		refs, &r, r + 1, memory_order_relaxed, memory_order_relaxed));
	return true;
}

void sc_pin_thread_exit(void)
{
	struct sc_pin_set *s = sc_pin_self;
	struct sc_entry *extra[SC_PIN_SLOTS];
	unsigned int j, nr_extra = 0;

	/* gets from here on (a release callback at exit) count */
	sc_pin_self = SC_PIN_NO_SET;
	sc_pin_held = 0;
	if (!s || s == SC_PIN_NO_SET)
		return;
	/* a pin here may be put by another thread meanwhile: see pin.h */
	sc_rcu_read_lock();
	for (j = 0; j < SC_PIN_SLOTS; j++) {
		uintptr_t v =
			atomic_load_explicit(&s->slot[j], memory_order_acquire);
		struct sc_entry *e = (struct sc_entry *)(v & ~SC_PIN_COUNTED);
		uintptr_t cur = (uintptr_t)e;

		if (!v)
			continue;
		if (v & SC_PIN_COUNTED) {
			/* already counted: the count stands for the pin */
			atomic_compare_exchange_strong_explicit(
				&s->slot[j], &v, 0, memory_order_acq_rel,
				memory_order_relaxed);
			continue;
		}
		if (!sc_pin_count_up(&e->refs)) {
			atomic_compare_exchange_strong_explicit(
				&s->slot[j], &cur, 0, memory_order_acq_rel,
				memory_order_relaxed);
			continue;
		}
		if (atomic_compare_exchange_strong_explicit(
			    &s->slot[j], &cur, 0, memory_order_acq_rel,
			    memory_order_acquire))
			continue;
		/*
		 * Put by another thread (one count too many now), or made
		 * counted by a drop (one too many once the slot is ours).
		 */
		if (cur & SC_PIN_COUNTED)
			atomic_compare_exchange_strong_explicit(
				&s->slot[j], &cur, 0, memory_order_acq_rel,
				memory_order_relaxed);
		extra[nr_extra++] = e;
	}
	sc_rcu_read_unlock();
	sc_pin_set_give_back(s);
	/* may be the last put: release runs outside the section */
	for (j = 0; j < nr_extra; j++)
		sc_entry_put_counted(extra[j]);
}

void sc_pin_atfork_child(void)
{
	struct sc_pin_set *self = sc_pin_self;
	unsigned int i, j, nr = 0;

	sc_mutex_init(&sc_pin_lock);
	for (i = 0; i < SC_PIN_SETS; i++) {
		struct sc_pin_set *s = &sc_pin_sets[i];

		if (!sc_pin_used[i])
			continue;
		if (s == self) {
			nr++;
			continue;
		}
		/* the pins of a thread that is gone stay, counted */
		for (j = 0; j < SC_PIN_SLOTS; j++) {
			uintptr_t v = atomic_load_explicit(
				&s->slot[j], memory_order_relaxed);
			struct sc_entry *e =
				(struct sc_entry *)(v & ~SC_PIN_COUNTED);

			if (v && !(v & SC_PIN_COUNTED))
				sc_pin_count_up(&e->refs);
			atomic_store_explicit(&s->slot[j], 0,
					      memory_order_relaxed);
		}
		sc_pin_used[i] = false;
	}
	atomic_store_explicit(&sc_pin_nr_sets, nr, memory_order_relaxed);
}
