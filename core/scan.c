// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Walking a cache's entries: sc_cache_scan().
 *
 * String entries are walked in the order of a 64-bit scan key, the
 * entry's hash with its halves swapped: the low 32 bits, which pick the
 * home slot (sc_index_home() is monotonic in them, whatever the table's
 * size), then the high 32. The cursor is the first scan key not walked
 * yet, so it means the same thing in every table: a resize between two
 * calls neither skips nor repeats an entry.
 *
 * One call takes the entries of whole home slots, in slot order. With
 * linear probing the entries whose home is H lie between H and the first
 * empty slot at or after it, so at an empty slot E every entry of the
 * homes walked so far has been seen: the call ends there, and the cursor
 * becomes the first scan key of E's home range. When the probe run that
 * starts at the cursor alone holds more than the call may take, it is cut
 * at the last home that still fits; when a single home holds more, the
 * cut falls between two scan keys of that home (entries whose 64-bit
 * hashes are equal are never separated, unless there are more of them
 * than the call may take: see the kernel-doc).
 *
 * Handle entries come after the string entries, in slot order: a handle
 * slot never moves, so its index is the cursor.
 *
 * Everything runs under the cache lock: between calls entries may move
 * (a backward shift after a delete, a resize), but only within the home
 * order the cursor is expressed in.
 */
#include <errno.h>
#include <limits.h>

#include "core/handle.h"
#include "core/index.h"

enum {
	SC_SCAN_STRINGS,
	SC_SCAN_HANDLES,
	SC_SCAN_DONE,
};

static inline uint64_t sc_scan_key(const struct sc_cache *c,
				   const struct sc_entry *e)
{
	uint64_t h = sc_entry_hash(c, e);

	return (uint64_t)(uint32_t)h << 32 | h >> 32;
}

/*
 * The first scan key whose home is @home in a table of @cap slots, or
 * false when @home is past the table's last slot.
 */
static bool sc_scan_home_start(size_t home, size_t cap, uint64_t *key)
{
	uint64_t lo;

	if (home >= cap)
		return false;
	/* the least 32-bit x with x * cap >> 32 == home: ceil(home 2^32/cap) */
	lo = (((uint64_t)home << 32) + cap - 1) / cap;
	*key = lo << 32;
	return true;
}

/* Home of the entry in slot value @s at @pos, unwrapped: in [pos-255, pos] */
static size_t sc_scan_slot_home(const struct sc_cache *c,
				const struct sc_index_table *t, uint64_t s,
				size_t pos)
{
	size_t d = (s >> SC_SLOT_DISP_SHIFT) & SC_SLOT_DISP_MAX;
	size_t home;

	if (d < SC_SLOT_DISP_MAX)
		return pos - d;
	/* saturated: from the key (as core/index.c does) */
	home = sc_index_home(sc_entry_hash(c, sc_slot_entry(s)), t->cap);
	d = pos % t->cap >= home ? pos % t->cap - home :
				   pos % t->cap + t->cap - home;
	return pos - d;
}

static inline uint64_t sc_scan_slot(const struct sc_index_table *t, size_t u)
{
	return atomic_load_explicit(
		&((struct sc_index_table *)t)->slots[u % t->cap],
		memory_order_relaxed);
}

/* Room for one more reference on @e (linked: refs >= 1). */
static inline bool sc_scan_pinnable(const struct sc_entry *e)
{
	return (atomic_load_explicit(&((struct sc_entry *)e)->refs,
				     memory_order_relaxed) &
		SC_REFS_COUNT) < SC_REFS_MAX;
}

/*
 * Is there an entry in slot value @s, whose unwrapped home is @home, that
 * the walk at @cursor (home @start) still has to take? Homes from @start to
 * the table's end; at @start itself only scan keys from @cursor on.
 */
static bool sc_scan_wanted(const struct sc_cache *c, uint64_t s, size_t home,
			   size_t start, size_t cap, uint64_t cursor,
			   bool filter)
{
	if (!s || home < start || home >= cap)
		return false;
	if (home == start && filter)
		return sc_scan_key(c, sc_slot_entry(s)) >= cursor;
	return true;
}

/*
 * The probe run from @start alone holds more than @max wanted entries.
 * Take the homes [start, cut) for the largest cut that fits; if home
 * @start alone is too many, take its entries by scan key. @end: the
 * unwrapped position of the empty slot that ends the run (the slots from
 * @start may include empty ones before it, of homes with no entry).
 * Return: the entries stored in @out (not pinned yet); *@next_key is
 * where the walk goes on.
 */
static size_t sc_scan_cut_run(const struct sc_cache *c,
			      const struct sc_index_table *t, size_t start,
			      size_t end, uint64_t cursor, bool filter,
			      struct sc_entry **out, size_t max,
			      uint64_t *next_key, bool *phase_done)
{
	size_t cap = t->cap, cut, taken = 0, u;
	uint64_t prev = 0, k;
	bool first = true;

	/* the largest cut whose homes [start, cut) hold at most max */
	for (cut = start + 1; cut < end && cut <= cap; cut++) {
		size_t n = 0;

		for (u = start; u < end; u++) {
			uint64_t s = sc_scan_slot(t, u);
			size_t h = sc_scan_slot_home(c, t, s, u);

			if (h < cut &&
			    sc_scan_wanted(c, s, h, start, cap, cursor, filter))
				n++;
		}
		if (n > max)
			break;
	}
	if (--cut > start) {
		for (u = start; u < end; u++) {
			uint64_t s = sc_scan_slot(t, u);
			size_t h = sc_scan_slot_home(c, t, s, u);

			if (h < cut &&
			    sc_scan_wanted(c, s, h, start, cap, cursor, filter))
				out[taken++] = sc_slot_entry(s);
		}
		*phase_done = !sc_scan_home_start(cut, cap, next_key);
		return taken;
	}

	/*
	 * Home @start alone: its entries in scan key order, a group of
	 * equal keys at a time, from @cursor (or the home's first key).
	 */
	for (;;) {
		size_t group = 0;
		uint64_t low = UINT64_MAX;
		bool found = false;

		for (u = start; u < end; u++) {
			uint64_t s = sc_scan_slot(t, u);

			if (sc_scan_slot_home(c, t, s, u) != start ||
			    !sc_scan_wanted(c, s, start, start, cap, cursor,
					    filter))
				continue;
			k = sc_scan_key(c, sc_slot_entry(s));
			if (!first && k <= prev)
				continue;
			if (!found || k < low) {
				low = k;
				group = 0;
			}
			found = true;
			if (k == low)
				group++;
		}
		if (!found) {
			/* the home is done */
			*phase_done =
				!sc_scan_home_start(start + 1, cap, next_key);
			return taken;
		}
		if (taken + group > max && taken) {
			*next_key = low;
			return taken;
		}
		for (u = start; u < end && taken < max; u++) {
			uint64_t s = sc_scan_slot(t, u);

			if (!s || sc_scan_slot_home(c, t, s, u) != start)
				continue;
			if (sc_scan_key(c, sc_slot_entry(s)) == low)
				out[taken++] = sc_slot_entry(s);
		}
		if (taken == max) {
			/*
			 * More than max entries share this 64-bit hash: the
			 * ones that did not fit are passed over.
			 */
			if (low == UINT64_MAX) {
				*phase_done = true;
				return taken;
			}
			*next_key = low + 1;
			return taken;
		}
		prev = low;
		first = false;
	}
}

/*
 * String entries from *@cursor on, whole home slots at a time, at most
 * @max. Return: the entries stored in @out (not pinned yet); *@cursor
 * moved past them, *@phase_done when no string entry is left.
 */
static size_t sc_scan_strings_locked(struct sc_cache *c, uint64_t *cursor,
				     struct sc_entry **out, size_t max,
				     bool *phase_done)
{
	const struct sc_index_table *t =
		atomic_load_explicit(&c->index, memory_order_relaxed);
	size_t cap, start, u, n = 0, committed = 0;
	uint64_t first_key;
	bool filter;

	*phase_done = false;
	if (!t || !c->nr_strings) {
		*phase_done = true;
		return 0;
	}
	cap = t->cap;
	start = sc_index_home(*cursor >> 32, cap);
	/* a cursor inside the home's range: some of its entries are done */
	filter = !sc_scan_home_start(start, cap, &first_key) ||
		 first_key != *cursor;

	for (u = start;; u++) {
		uint64_t s = sc_scan_slot(t, u);
		size_t h;

		if (!s) {
			/* every entry of the homes before u has been seen */
			committed = n;
			if (u >= cap) {
				*phase_done = true;
				return n;
			}
			if (n == max) {
				sc_scan_home_start(u, cap, cursor);
				return n;
			}
			continue;
		}
		h = sc_scan_slot_home(c, t, s, u);
		if (!sc_scan_wanted(c, s, h, start, cap, *cursor, filter))
			continue;
		if (n < max) {
			out[n++] = sc_slot_entry(s);
			continue;
		}
		/* full inside a run: end at its start, or cut the run */
		if (committed)
			break;
		{
			size_t end = u;
			uint64_t next = 0;
			bool done = false;

			while (sc_scan_slot(t, end))
				end++;
			n = sc_scan_cut_run(c, t, start, end, *cursor, filter,
					    out, max, &next, &done);
			*phase_done = done;
			if (!done)
				*cursor = next;
			return n;
		}
	}
	/* the last empty slot before the run that did not fit */
	for (u--; sc_scan_slot(t, u); u--)
		;
	sc_scan_home_start(u + 1, cap, cursor);
	return committed;
}

/* Handle entries from slot *@pos on, at most @max. */
static size_t sc_scan_handles_locked(struct sc_cache *c, uint64_t *pos,
				     struct sc_entry **out, size_t max,
				     bool *phase_done)
{
	const struct sc_key_table *t =
		atomic_load_explicit(&c->keys, memory_order_relaxed);
	size_t end = t ? (c->keys_used < t->cap ? c->keys_used : t->cap) : 0;
	size_t n = 0, i;

	for (i = *pos; i < end && n < max; i++) {
		uint64_t w = atomic_load_explicit(
			&((struct sc_key_table *)t)->slots[i].word,
			memory_order_relaxed);

		if (w & SC_HANDLE_PTR_MASK)
			out[n++] =
				(struct sc_entry
					 *)(uintptr_t)((w & SC_HANDLE_PTR_MASK)
						       << 3);
	}
	*pos = i;
	*phase_done = i >= end;
	return n;
}

/*
 * Take a reference on each of @out[0..n); stop at the first whose count
 * is saturated. Return: how many were pinned.
 */
static size_t sc_scan_pin_locked(struct sc_entry **out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!sc_scan_pinnable(out[i]))
			break;
		atomic_fetch_add_explicit(&out[i]->refs, 1,
					  memory_order_relaxed);
	}
	return i;
}

SC_API int sc_cache_scan(struct sc_cache *c, struct sc_cache_cursor *cur,
			 struct sc_entry **entries, unsigned int max)
{
	size_t n = 0, pinned;
	bool phase_done;

	if (!c || !cur || !entries || !max || cur->phase > SC_SCAN_DONE)
		return sc_err(-EINVAL);
	if (max > INT_MAX)
		max = INT_MAX;

	sc_cache_lock(c);
	while (!n && cur->phase != SC_SCAN_DONE) {
		struct sc_cache_cursor next = *cur;

		if (cur->phase == SC_SCAN_STRINGS)
			n = sc_scan_strings_locked(c, &next.pos, entries, max,
						   &phase_done);
		else
			n = sc_scan_handles_locked(c, &next.pos, entries, max,
						   &phase_done);
		if (phase_done) {
			next.phase = cur->phase + 1;
			next.pos = 0;
		}
		pinned = sc_scan_pin_locked(entries, n);
		if (pinned < n) {
			/*
			 * A count at its limit: hand out what was pinned
			 * before it and leave the cursor where it was, so
			 * that nothing is passed over.
			 */
			while (pinned)
				atomic_fetch_sub_explicit(
					&entries[--pinned]->refs, 1,
					memory_order_relaxed);
			sc_cache_unlock(c);
			return sc_err(-EOVERFLOW);
		}
		*cur = next;
	}
	sc_cache_unlock(c);
	return (int)n;
}

SC_API const char *sc_entry_string_key(const struct sc_entry *e, size_t *len)
{
	if (!e || (sc_entry_flags(e) & SC_ENTRY_HANDLE)) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = sc_entry_key_len(e);
	return sc_entry_key(e);
}
