/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_CORE_PIN_H
#define SC_CORE_PIN_H

/*
 * Pins without a shared write: hazard slots.
 *
 * A get records the entry in a slot of its thread's pin set (one cache
 * line, written only by lookups and puts of its thread in the common
 * case) instead of raising the entry's refs, a line every other thread's
 * lookups of that entry read. A put clears the slot. An entry's refs
 * counts the cache's reference while it is linked, plus "counted" pins:
 * gets under the cache lock, gets of a thread whose slots are full or
 * that has no set, scans, and slot pins that a drop converted (below).
 * Bit 31 of refs (SC_REFS_DROPPED) says the cache has let go of it.
 *
 * Dropping an entry (core/cache.c) sets SC_REFS_DROPPED, then walks
 * every pin set and converts each slot that holds the entry into a
 * counted pin: refs + 1 first, then the slot's word from e to
 * e | SC_PIN_COUNTED by compare-and-swap (undone if the slot was cleared
 * meanwhile). Only then does it drop the cache's reference; from there
 * on refs alone says which put is the last.
 *
 * Why a get never slips past a drop (store buffering): the get stores the
 * slot, then loads refs; the drop sets SC_REFS_DROPPED, then loads the
 * slots; all four are sequentially consistent. So either the drop sees
 * the slot (and converts it) or the get sees the bit: it takes its slot
 * back with a compare-and-swap; if that fails, the drop converted it
 * meanwhile and the get keeps a counted pin, else it looks again, as it
 * did when refs read 0.
 *
 * A put first looks in its own set, then in every set (a pin may be put
 * by another thread than the one that got it), and takes the slot with
 * an exchange or a compare-and-swap, which a drop's conversion cannot
 * slip past; a slot that held e | SC_PIN_COUNTED or no slot at all means
 * a counted pin: refs - 1, and the put that takes it from
 * SC_REFS_DROPPED + 1 is the last. Pins of one entry are interchangeable:
 * a put may take another thread's slot and that thread's own put then
 * finds no slot and takes a counted one; the sum stays exact.
 *
 * Sets live in a static table, so that a drop and a foreign put read
 * them without a lock: a set is never freed, only handed to another
 * thread. A thread takes one at its first get (inside a read-side
 * section: it is registered, core/rcu.h) and gives it back at exit,
 * after turning each slot it holds into a counted pin. More threads
 * than sets, or no thread-exit hook: counted pins, as before.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "alloc/alloc.h"

#define SC_PIN_SLOTS 8 /* one cache line of words */
#define SC_PIN_SETS 256 /* threads with slots at once */

#define SC_REFS_DROPPED 0x80000000u
#define SC_REFS_COUNT 0x7fffffffu
/*
 * The most a counted get or a scan may raise the count to: above it stays
 * room for every slot to be made counted twice (a drop's conversion and a
 * thread exit's, for a moment), so that those never fail.
 */
#define SC_REFS_MAX (SC_REFS_COUNT - 2u * SC_PIN_SETS * SC_PIN_SLOTS - 1u)
/* A slot word: the entry's address, | SC_PIN_COUNTED once converted. */
#define SC_PIN_COUNTED ((uintptr_t)1)

struct sc_entry;

struct sc_pin_set {
	_Atomic uintptr_t slot[SC_PIN_SLOTS];
} __attribute__((aligned(64)));

/* This thread's set: NULL until its first get; SC_PIN_NO_SET: none. */
SC_HIDDEN extern __thread struct sc_pin_set *sc_pin_self;
/*
 * Slots of this thread's set that may be in use: raised by its gets,
 * lowered by its puts of its own slots, never below the slots in use (a
 * put on another thread empties a slot without lowering it; a drop that
 * finds none of its entry counts again). 0: the set is empty, and a drop
 * need not look.
 */
SC_HIDDEN extern __thread unsigned int sc_pin_held;
#define SC_PIN_NO_SET ((struct sc_pin_set *)1)

/*
 * sc_pin_set_take() - Give the calling thread a set, if one is free.
 * Return: the set, or NULL (the thread pins with counts from now on).
 * Context: inside a read-side section (the thread is registered).
 */
SC_HIDDEN struct sc_pin_set *sc_pin_set_take(void);

/* Sets in use, and how far the table's used part reaches. */
SC_HIDDEN extern atomic_uint sc_pin_nr_sets;
SC_HIDDEN extern atomic_uint sc_pin_sets_end;
SC_HIDDEN extern struct sc_pin_set sc_pin_sets[SC_PIN_SETS];

/*
 * sc_pin_alone() - Can no slot of another thread hold a pin? True when no
 * set is in use but the caller's. A set is given back only after its
 * pins were made counted (release), so a drop that reads the number
 * (acquire) sees those counts in refs.
 */
static inline bool sc_pin_alone(void)
{
	struct sc_pin_set *s = sc_pin_self;
	unsigned int mine = s && s != SC_PIN_NO_SET;

	return atomic_load_explicit(&sc_pin_nr_sets, memory_order_acquire) <=
	       mine;
}

/* Does a slot of this thread's set hold a pin of @e? */
static inline bool sc_pin_mine(const struct sc_entry *e)
{
	struct sc_pin_set *s = sc_pin_self;
	unsigned int i, used = 0;

	if (sc_likely(!sc_pin_held))
		return false;
	for (i = 0; i < SC_PIN_SLOTS; i++) {
		uintptr_t v =
			atomic_load_explicit(&s->slot[i], memory_order_acquire);

		if ((v & ~SC_PIN_COUNTED) == (uintptr_t)e)
			return true;
		used += !!v;
	}
	sc_pin_held = used;
	return false;
}

/*
 * sc_pin_convert() - Turn every slot pin of @e into a counted pin.
 * Context: @e is being dropped: SC_REFS_DROPPED set (sequentially
 * consistent) and the cache's reference still held, so refs never reads
 * 0 here.
 */
SC_HIDDEN void sc_pin_convert(struct sc_entry *e, _Atomic unsigned int *refs);

/*
 * sc_pin_take_any() - Take a slot pin of @e from any thread's set.
 * Return: 0 none found, 1 a slot pin, 2 a counted one (the caller puts
 * it on refs).
 */
SC_HIDDEN int sc_pin_take_any(const struct sc_entry *e);

/*
 * sc_pin_thread_exit() - Make the calling thread's slot pins counted and
 * give its set back. Context: thread exit, still registered for
 * read-side sections, not inside one.
 */
SC_HIDDEN void sc_pin_thread_exit(void);

/* After fork(): the child's other threads are gone; so are their sets. */
SC_HIDDEN void sc_pin_atfork_child(void);

#endif /* SC_CORE_PIN_H */
