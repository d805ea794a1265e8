// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Slab object caches.
 *
 * A slab is slab_size bytes (a power of two, at least 64 KiB) from the
 * block layer (alloc/block.h), aligned to its own size, so the slab of any
 * object is found in O(1) by masking the object's address and adding the
 * offset its colour gives (slab_color(): a mask, a shift, a multiply).
 * Its layout, with the header in front of the objects:
 *
 *   +--------+-----------+-------------------+-------------+-----+------+--
 *   | colour | slab_page | free_idx[objs-10] | state[objs] | pad | obj0 | ..
 *   | lines  | one line  | u16 stack         | debug only  |     |      |
 *   +--------+-----------+-------------------+-------------+-----+------+--
 *   ^ slab base, aligned  ^ header: offsets   objs_off from the header ^
 *
 * or, for most sizes (wherever it costs no object), with the header in
 * a run of slots among the objects, at one of up to 32 places that the
 * slab's number picks, as it picks the colour, so that the headers of
 * many slabs fall in many sets of each CPU cache, not eight:
 *
 *   +--------+------+-----+------------------------------+-----+------+--
 *   | colour | obj0 | ... | slab_page, free_idx, state:  | ... | objn | ..
 *   | lines  |      |     | slots j .. j+h-1, never used |     |      |
 *   +--------+------+-----+------------------------------+-----+------+--
 *            ^ the grid: slot i at grid + i * slot_size (slab_grid())
 *
 * Free objects are kept as a stack of 16-bit object indexes in the slab
 * header rather than a list threaded through the objects themselves: an
 * allocation after frees in random order then reads only the (cached) slab
 * header, never a cold freed object, so a run of allocations is not a
 * chain of dependent DRAM misses (Documentation/slab.rst, "Free objects").
 * The newest ten of them are in the header's own line (slab_page.near),
 * so that a free writes one line of its slab, not two.
 *
 * Shards. A cache's slabs are split among shards (struct slab_shard), as
 * many as the machine has CPUs (a power of two, at most SLAB_MAX_SHARDS;
 * one for a debug cache), each with its own lock, slab lists and counts.
 * A thread takes new objects from its home shard (chosen round-robin at
 * its first call), and an object goes back to the shard of its slab, so
 * threads that allocate and free their own objects never meet on a lock
 * or a slab header, as jemalloc's threads in their own arenas. A shard
 * with no free object steals a slab with free ones from another shard
 * (trylock, never waiting) before it takes a new slab, so free objects
 * stranded in an idle thread's shard are used before memory grows.
 *
 * Slabs of a shard are on one of three lists: partial (some objects
 * free), full and empty. Allocation takes the first partial slab, else an
 * empty one, else a stolen one, else a new one: O(1) (the steal is O(shards)).
 * Up to SLAB_KEEP_EMPTY empty slabs per shard are kept for reuse whatever
 * their age. Further slabs that become empty are kept too, newest first,
 * for the decay time (SLAB_DECAY_MS, sc_alloc_set_decay_ms()), so that
 * frees followed by allocations reuse resident pages instead of faulting
 * in new ones, as jemalloc's dirty pages do; they go back to their block
 * (which returns their pages once a block's worth of them has gathered)
 * once that time has passed, or at once while other caches grow by new slabs
 * (slab_grow_owed(): the memory held follows the use when one size grows
 * as another shrinks). Ages are looked at when a slab of the shard
 * empties or the shard refills a magazine. sc_slab_shrink(), a reclaim
 * (MEDIUM and CRITICAL pressure) and sc_slab_destroy() give back every
 * empty slab at once.
 *
 * Magazines and the depot. On top of the slabs each thread keeps, for
 * each cache it uses, two magazines (stacks of up to mag_cap free
 * objects): the common alloc/free pair touches only the loaded one and
 * takes no lock. When it runs empty (alloc) or full (free) and the other
 * magazine cannot take over, the thread trades a whole magazine with the
 * cache's depot, Bonwick's design: an empty one for a full one, or a full
 * one for an empty one, in one short critical section. Objects freed by
 * one thread so reach another thread's allocations as whole magazines,
 * without entering a slab. The depot keeps at most SLAB_DEPOT_MAX full
 * and SLAB_DEPOT_MAX empty magazines; beyond that a full magazine goes
 * back into its slabs, under each shard's lock in turn. A thread that
 * frees far more than it allocates (a cache evicting) stops reusing what
 * it frees and refills from the partial lists, so its new objects gather
 * in few slabs (slab_free_slow()). See "magazines" below.
 *
 * Memory held out of the slabs, free: at most 2 * mag_cap objects per
 * (thread, cache) and SLAB_DEPOT_MAX * mag_cap per cache, where mag_cap
 * is at most SLAB_MAG_SIZE objects and SLAB_MAG_BYTES of slots (objects
 * above SLAB_MAG_BYTES have no magazines). The depot is emptied by
 * sc_slab_shrink(), sc_alloc_reclaim() (MEDIUM and CRITICAL pressure),
 * sc_slab_info() and sc_slabinfo_write(); each thread's magazines by its
 * own calls to those and at its exit.
 *
 * Debug flags (SC_SLAB_POISON, SC_SLAB_RED_ZONE) add a state byte per
 * object (free, allocated, quarantined) for exact double-free detection,
 * a check that a freed pointer lies in one of the cache's own slabs before
 * its slab header is read (a slab given back may be unmapped),
 * the poison pattern in free objects (checked on alloc) and a red zone
 * after each object (checked on free). Debug caches have no magazines and
 * one shard. Without debug flags, a pointer into another cache's slab or
 * a misaligned one is still refused, before it leaves the thread's
 * magazines (the header that the pointer masks to is read
 * unchecked, so a pointer from outside every slab may fault), and a double
 * free of the most recently freed object is still caught (top of the
 * thread's magazine).
 *
 * Lock order: slab_caches_lock (the global list and table of live slab
 * caches), then either a cache's depot lock or one of its shard locks:
 * the depot lock and shard locks are never held together. A shard lock
 * holder may trylock another shard of the same cache (a steal), never
 * wait for one. Then the block layer's locks, innermost. Magazines are
 * thread-local and need no lock; flushing magazines whose caches may be
 * gone takes slab_caches_lock to find each alive first. The block layer is
 * called with a shard lock held (new slab) or with no lock (slabs going
 * back are unlinked first; flushes). The corruption handler runs with a
 * shard lock of the cache held: the only one in a debug cache, else the
 * first.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "alloc/lock.h"
#include "alloc/block.h"
#include "alloc/fault.h"

#ifdef CONFIG_SC_ASAN
#include <sanitizer/asan_interface.h>
#define slab_asan_poison(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define slab_asan_unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define slab_asan_poison(p, n) ((void)(p), (void)(n))
#define slab_asan_unpoison(p, n) ((void)(p), (void)(n))
#endif

#define SLAB_MIN_SIZE (64u * 1024)
#define SLAB_MAX_OBJECT ((size_t)16 << 20)
#define SLAB_MAX_OBJS 65535u /* free_idx entries are 16 bits */
#define SLAB_KEEP_EMPTY 2 /* per shard, whatever their age */
#define SLAB_DECAY_MS 1000 /* default life of further empty slabs */
#define SLAB_RED_ZONE_MIN 8
#define SLAB_POISON_BYTE 0x6b
#define SLAB_RED_ZONE_BYTE 0xbb
#define SLAB_HWCACHE_LINE 64
#define SLAB_COLORS 8
#define SLAB_COLOR_SHIFT 3 /* log2(SLAB_COLORS): see slab_color() */
#define SLAB_MAX_PLACES 32 /* of a header among the objects: slab_color() */
#define SLAB_MAX_SHARDS 64 /* p->shard is a byte */
#define SLAB_MAG_SIZE 128 /* slots of a magazine */
#define SLAB_MAG_BYTES (64u << 10) /* slot bytes one magazine may hold */
#define SLAB_NEAR 10 /* free indexes in the header's line: it fills it */
#define SLAB_DEPOT_MAX 8 /* full magazines, and empty ones, per depot */

#define SLAB_DEBUG_FLAGS (SC_SLAB_POISON | SC_SLAB_RED_ZONE)
#define SLAB_VALID_FLAGS (SC_SLAB_HWCACHE_ALIGN | SLAB_DEBUG_FLAGS)
/* internal: ASan poisons free objects of this cache */
#define SLAB_ASAN_POISON 0x100u

enum slab_list_id { SLAB_PARTIAL, SLAB_FULL, SLAB_EMPTY, SLAB_NR_LISTS };

enum slab_obj_state {
	OBJ_FREE = 0xf5,
	OBJ_ALLOCATED = 0xa1,
	OBJ_QUARANTINED = 0x99, /* damaged: never handed out again */
};

struct slab_page {
	struct sc_slab *cache; /* fixed while the slab is the cache's */
	struct sc_block *block; /* where it came from, see alloc/block.h */
	struct slab_page *prev, *next;
	/* read and written under the shard's lock only */
	unsigned int nr_free;
	/* on the empty list: when it got there, slab_clock_ms() */
	uint32_t empty_since;
	uint8_t list;
	/* its shard: changed only with the old and new shard locks held */
	atomic_uchar shard;
	/*
	 * The free objects' indexes: the newest near_n in near[], in the
	 * header's own line, the other nr_free - near_n in free_idx[], a
	 * stack. A push goes to near[]; a full near[] first moves its
	 * indexes to free_idx[] in one copy, so frees in random order write
	 * the header's line and, one in SLAB_NEAR, a line of free_idx[],
	 * instead of a line of free_idx[] each. A pop takes near[] first.
	 */
	uint8_t near_n;
	uint16_t near[SLAB_NEAR];
	uint16_t free_idx[]; /* s->idx_cap entries at most */
};
_Static_assert(sizeof(struct slab_page) == SLAB_HWCACHE_LINE,
	       "a slab header is one cache line, near[] included");

/*
 * Context: the lock of @p's shard held. Every reader of p->nr_free holds
 * that lock too (a pop, a push, a refill, a steal with the victim's lock,
 * slab_push_line()), so the store is a plain one.
 */
static inline void slab_set_nr_free(struct slab_page *p, unsigned int n)
{
	p->nr_free = n;
}

/* One shard of a cache: see "Shards" above. */
struct slab_shard {
	struct sc_mutex lock;
	struct slab_page *lists[SLAB_NR_LISTS];
	struct slab_page *tails[SLAB_NR_LISTS]; /* last on each list */
	size_t nr_slabs, nr_empty;
	/* objects out of this shard's slabs; wraps below 0 (see info) */
	size_t active;
	unsigned long long allocs, frees;
	/* slabs on the partial and empty lists, read unlocked by thieves */
	atomic_uint nr_avail;
} __attribute__((aligned(SLAB_HWCACHE_LINE)));

struct slab_mag {
	struct slab_mag *next; /* on a depot list */
	/* of the width of a pointer: the slots are indexed without a move */
	unsigned long n;
	/*
	 * slot[1..checked] hold pointers that passed slab_obj_ok(); above
	 * the top too, where pops left them (see slab_mag_pop()).
	 */
	unsigned long checked;
	/*
	 * The objects are slot[1..n], the top slot[n]. slot[0] is always
	 * NULL, so the double-free check compares the top without a test
	 * for an empty magazine.
	 */
	void *slot[1 + SLAB_MAG_SIZE];
};

/* The objects of @m, in slot[1..n], as an array from 0. */
static inline void **slab_mag_objs(struct slab_mag *m)
{
	return m->slot + 1;
}

/* Whole magazines traded between threads: see "magazines" below. */
struct slab_depot {
	struct sc_mutex lock;
	struct slab_mag *full, *empty;
	/* written under the lock, read unlocked as hints */
	atomic_uint nr_full, nr_empty;
	unsigned long long allocs, frees; /* folded in by magazines */
} __attribute__((aligned(SLAB_HWCACHE_LINE)));

struct sc_slab {
	/* read by every allocation and free; written only at creation */
	unsigned int flags;
	unsigned int index; /* dense: the lowest free among live caches */
	uint64_t serial; /* unique for the process's life */
	unsigned int mag_cap; /* objects per magazine; 0: no magazines */
	unsigned int nr_shards; /* a power of two */
	struct slab_shard *shards;

	/* geometry */
	size_t object_size, slot_size, slab_size;
	uintptr_t slab_mask;
	unsigned int slab_shift; /* log2(slab_size) */
	/*
	 * A slab's colour, from its number (see slab_color()): its small
	 * colour (the low bits, color_mask: SLAB_COLORS - 1, or 0: none),
	 * then its header's place (the bits from SLAB_COLOR_SHIFT up,
	 * place_mask; 0: the header is in front), place_step bytes apart.
	 */
	unsigned int color_mask, place_mask, place_step;
	/* usable objects; slots of the grid, the header's included */
	unsigned int objs, nslots;
	/* object 0 from the grid's start (see slab_grid()); from the header */
	unsigned int objs_off, state_off;
	unsigned int idx_cap; /* entries of free_idx[]: objs - SLAB_NEAR */
	unsigned int slot_shift; /* log2(slot_size), if a power of two */
	uint64_t slot_recip; /* ceil(2^64 / slot_size), mod 2^64 */
	uint64_t objs_bytes; /* nslots * slot_size */
	/*
	 * The header's slots, in bytes, from the header on, when the header
	 * is in the grid: they hold it, its index stack and state bytes.
	 * 0: the header is in front of the grid.
	 */
	uint64_t hole_bytes;

	size_t bytes; /* of this structure, shards included */
	atomic_ullong alloc_failures;
	/* new slabs of this cache in slab_grow_period @grown_period */
	atomic_size_t grown;
	atomic_uint grown_period;
	struct sc_slab *gprev, *gnext; /* on slab_caches, under its lock */
	struct slab_depot depot;
	char name[];
};

static struct sc_mutex slab_caches_lock = SC_MUTEX_INITIALIZER;
/*
 * Nonzero while a pressure pass runs that gives every empty slab back at
 * its end (sc_alloc_reclaim_deferred()): slabs that empty meanwhile are
 * kept, so that they go back in one run and one block flush rather
 * than one flush (one madvise or munmap) each.
 */
static atomic_uint slab_release_deferred;
/*
 * How long, in ms, a slab that empties beyond the SLAB_KEEP_EMPTY kept
 * per shard stays for reuse before it goes back (sc_alloc_set_decay_ms()).
 */
static atomic_uint slab_decay_ms = SLAB_DECAY_MS;
/*
 * The budget of kept empty slabs (see "Slab lists" in slab.rst): bytes
 * of new slabs that caches took in the current decay period, and bytes
 * of empty slabs given back against them. An empty slab is kept for
 * reuse by its own cache; while other caches have grown by new slabs
 * that no empty slab has paid for yet, it goes back instead, so that the
 * slab memory a process holds follows its use when one size grows as
 * another shrinks (a cache at its limit evicting small entries for large
 * ones), and stays for reuse when the use of a cache falls and rises
 * again. Updated per slab, never per object; approximate under
 * concurrent updates (relaxed atomics): it bounds a cache of free memory,
 * not an invariant.
 */
static atomic_size_t slab_grown_all, slab_paid_all;
static atomic_uint slab_grow_period;
/* under slab_caches_lock: the live caches, newest first, and by index */
static struct sc_slab *slab_caches;
static struct sc_slab **slab_table;
static unsigned int slab_table_cap;
static uint64_t slab_next_serial = 1;

/* ------------------------------------------------------------ corruption */

static void slab_report_default(const char *slab, const void *obj,
				const char *what)
{
	fprintf(stderr, "slabcache: slab %s: object %p: %s\n", slab, obj, what);
	abort();
}

static _Atomic(sc_slab_corruption_fn) slab_corruption_fn;

SC_API sc_slab_corruption_fn
sc_slab_set_corruption_handler(sc_slab_corruption_fn fn)
{
	sc_slab_corruption_fn old = atomic_exchange(&slab_corruption_fn, fn);

	return old ? old : slab_report_default;
}

/*
 * Context: s->shards[0].lock held (a debug cache's only shard). If the
 * handler returns, the caller abandons.
 */
static void slab_corruption(const struct sc_slab *s, const void *obj,
			    const char *what)
{
	sc_slab_corruption_fn fn = atomic_load(&slab_corruption_fn);

	sc_lockdep_assert_held(&s->shards[0].lock);
	if (!fn)
		fn = slab_report_default;
	fn(s->name, obj, what);
}

/* ------------------------------------------------------------ geometry */

static inline uint8_t *slab_state(const struct sc_slab *s, struct slab_page *p)
{
	return (uint8_t *)p + s->state_off;
}

/* Index of the object at byte @off of the object area; @off < 2^32. */
static inline unsigned int slab_obj_index(const struct sc_slab *s, uint32_t off)
{
	if (!(s->slot_size & (s->slot_size - 1)))
		return off >> s->slot_shift;
	return (unsigned int)(((unsigned __int128)s->slot_recip * off) >> 64);
}

/*
 * Where the header of the slab at @base starts: slabs are aligned to
 * their size, so without this every slab's header and the top of its
 * free index would fall in the same sets of each CPU cache (the same
 * L1 set, one or two L2 sets), and objects freed across many slabs would
 * evict each other's headers. The slab's address picks one of
 * SLAB_COLORS cache lines, as the colouring of Bonwick's slab allocator:
 * the whole slab, objects included, moves in by that many lines.
 *
 * Eight lines are as much as the slack of a slab of small objects pays
 * for, and a thousand slabs' headers in eight sets of each cache evict
 * each other. So where it costs no object, the header (with its index
 * stack) does not sit in front of the objects but in a run of slots of
 * the grid, at one of up to SLAB_MAX_PLACES places a
 * multiple of the slot and of the small colours' span apart, again
 * chosen by the slab's number: a 64 KiB slab of 64-byte objects has its
 * header at one of 256 lines (32 places 512 bytes apart, each moved by
 * one of 8 small colours), which covers every set of a 48 KiB L1 and a
 * quarter of those of a 1 MiB L2. The header's slots are never handed
 * out. A mask, a shift and a multiply of the slab's number give both
 * offsets (slab_color(), slab_grid()).
 */
static inline uintptr_t slab_color(const struct sc_slab *s, uintptr_t base)
{
	uintptr_t nr = base >> s->slab_shift;

	return (nr & s->color_mask) * SLAB_HWCACHE_LINE +
	       ((nr >> SLAB_COLOR_SHIFT) & s->place_mask) * s->place_step;
}

/*
 * Where slot 0 of the slab at @base is: the slab's small colour (0 to
 * SLAB_COLORS - 1 lines) in, then objs_off (the header, when it is in
 * front). The slots from there are the slab's grid; with the header in
 * the grid, some of its slots hold the header (see slab_color()).
 */
static inline uintptr_t slab_grid(const struct sc_slab *s, uintptr_t base)
{
	return base +
	       ((base >> s->slab_shift) & s->color_mask) * SLAB_HWCACHE_LINE +
	       s->objs_off;
}

/*
 * Where a slab's header is: in front of the objects; among them, at a
 * place; or among them with places 512 bytes apart and the small colour,
 * so that its line in the slab is the slab's number modulo the lines
 * used (a mask and a shift find it: the drain's fast case).
 */
enum slab_hdr_at { SLAB_HDR_FRONT, SLAB_HDR_PLACED, SLAB_HDR_LINES };

static inline enum slab_hdr_at slab_hdr_at(const struct sc_slab *s)
{
	if (!s->hole_bytes)
		return SLAB_HDR_FRONT;
	if (s->color_mask == SLAB_COLORS - 1 &&
	    s->place_step == SLAB_COLORS * SLAB_HWCACHE_LINE)
		return SLAB_HDR_LINES;
	return SLAB_HDR_PLACED;
}

static inline char *slab_obj(const struct sc_slab *s, struct slab_page *p,
			     unsigned int idx)
{
	return (char *)slab_grid(s, (uintptr_t)p & s->slab_mask) +
	       (size_t)idx * s->slot_size;
}

static size_t round_up(size_t x, size_t align)
{
	return (x + align - 1) & ~(align - 1);
}

static size_t roundup_pow2(size_t x)
{
	size_t r = 1;

	while (r < x)
		r <<= 1;
	return r;
}

/* Where things go in a slab of one size: see slab_layout(). */
struct slab_layout {
	size_t objs, state_off, objs_off;
	/* slots of the grid; the header's (0: in front), its places */
	size_t nslots, hole, hdr_step, hdr_places;
	bool colour;
};

/* Bytes apart that a slab's header in its grid may sit: see slab_color(). */
#define SLAB_HDR_SPAN (64u << 10)

/* Entries of a slab's free_idx[] for @objs objects: near[] holds the rest. */
static size_t slab_idx_cap(size_t objs)
{
	return objs > SLAB_NEAR ? objs - SLAB_NEAR : 0;
}

/*
 * Objects of @slot bytes (and @per_obj bytes of index) that fit a slab of
 * @slab bytes of which @reserve are kept for colouring, and where.
 */
static size_t slab_fit(size_t slab, size_t reserve, size_t slot, size_t align,
		       size_t per_obj, bool debug, size_t *state_off,
		       size_t *objs_off)
{
	size_t hdr = sizeof(struct slab_page);
	size_t objs;

	slab -= reserve;
	*state_off = *objs_off = 0;
	/* the header's near[] holds SLAB_NEAR of the indexes */
	objs = (slab - hdr + SLAB_NEAR * sizeof(uint16_t)) / (slot + per_obj);
	if (objs > SLAB_MAX_OBJS)
		objs = SLAB_MAX_OBJS;
	for (;;) {
		*state_off = hdr + slab_idx_cap(objs) * sizeof(uint16_t);
		*objs_off = round_up(*state_off + (debug ? objs : 0), align);
		if (*objs_off + objs * slot <= slab)
			return objs;
		if (!objs--)
			return 0; /* even the header does not fit */
	}
}

static size_t gcd(size_t a, size_t b)
{
	while (b) {
		size_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/*
 * The header of a slab of @slab bytes in its grid of @slot slots, at
 * one of several places (slab_color()): the slots it takes, and those
 * places, in @l. Return: false if it has fewer than two places.
 */
static bool slab_fit_hole(size_t slab, size_t slot, size_t align, bool debug,
			  struct slab_layout *l)
{
	bool colour = align <= SLAB_HWCACHE_LINE;
	size_t small = colour ? SLAB_COLORS * SLAB_HWCACHE_LINE :
				SLAB_HWCACHE_LINE;
	size_t nslots, hole, objs, hdr, step, places;

	nslots = (slab - (colour ? small - SLAB_HWCACHE_LINE : 0)) / slot;
	if (nslots > SLAB_MAX_OBJS)
		nslots = SLAB_MAX_OBJS;
	objs = 0;
	for (hole = 1; hole < nslots; hole++) {
		objs = nslots - hole;
		hdr = sizeof(struct slab_page) +
		      slab_idx_cap(objs) * sizeof(uint16_t) +
		      (debug ? nslots : 0);
		if (hdr <= hole * slot)
			break;
	}
	if (hole >= nslots)
		return false;
	/* whole slots apart, and the small colour's span: distinct lines */
	step = slot / gcd(slot, small) * small;
	for (places = 1; 2 * places * step <= SLAB_HDR_SPAN &&
			 2 * places <= SLAB_MAX_PLACES &&
			 (2 * places - 1) * step + hole * slot <= nslots * slot;
	     places *= 2)
		;
	if (places < 2)
		return false;
	l->objs = objs;
	l->nslots = nslots;
	l->hole = hole;
	l->hdr_step = step;
	l->hdr_places = places;
	l->state_off = sizeof(struct slab_page) +
		       slab_idx_cap(objs) * sizeof(uint16_t);
	l->objs_off = 0;
	l->colour = colour;
	return true;
}

/*
 * The layout of a slab of @slab bytes. It is coloured (see slab_color())
 * unless the alignment is beyond a cache line, or the lines kept for the
 * colour would cost objects worth more than 1/16 of the slab: a slab of
 * few big objects gains little from colour and may lose a whole object.
 * Its header goes into the grid wherever that holds as many objects.
 */
static void slab_layout(size_t slab, size_t slot, size_t align, size_t per_obj,
			bool debug, struct slab_layout *l)
{
	size_t reserve = (SLAB_COLORS - 1) * SLAB_HWCACHE_LINE;
	size_t objs, state_off, objs_off;
	struct slab_layout h;

	l->objs = slab_fit(slab, 0, slot, align, per_obj, debug, &l->state_off,
			   &l->objs_off);
	l->colour = false;
	l->hole = l->hdr_step = 0;
	l->hdr_places = 1;
	if (align <= SLAB_HWCACHE_LINE) {
		objs = slab_fit(slab, reserve, slot, align, per_obj, debug,
				&state_off, &objs_off);
		if ((l->objs - objs) * slot <= slab / 16) {
			l->objs = objs;
			l->state_off = state_off;
			l->objs_off = objs_off;
			l->colour = true;
		}
	}
	l->nslots = l->objs;
	if (slab_fit_hole(slab, slot, align, debug, &h) && h.objs >= l->objs)
		*l = h;
}

static int slab_geometry(struct sc_slab *s, size_t size, size_t align,
			 unsigned int flags)
{
	bool debug = flags & SLAB_DEBUG_FLAGS;
	size_t slot, per_obj, slab, min_objs;
	struct slab_layout l;
	unsigned int i;

	if (!align)
		align = sizeof(void *);
	if ((flags & SC_SLAB_HWCACHE_ALIGN) && align < SLAB_HWCACHE_LINE)
		align = SLAB_HWCACHE_LINE;
	if (size > SLAB_MAX_OBJECT || align > SLAB_MAX_OBJECT)
		return -E2BIG;

	slot = size;
	if (flags & SC_SLAB_RED_ZONE)
		slot += SLAB_RED_ZONE_MIN;
	slot = round_up(slot, align);

	per_obj = sizeof(uint16_t) + (debug ? 1 : 0);
	/*
	 * At least 4 objects per slab (2 above 1 MiB): a big object's cache
	 * holds few, and its one partly used slab should not be megabytes.
	 * So the smallest power of two (64 KiB at least) that holds that
	 * many, header, colour and alignment padding included. Then it is
	 * doubled, at most twice, until the bytes that hold no object and
	 * no object's index (header, colour, padding, the tail) are at most
	 * 1/8 of it: always by then (the worst case, a slot just over a
	 * quarter of a power of two, takes two doublings to fill 7/8).
	 */
	min_objs = slot <= ((size_t)1 << 20) ? 4 : 2;
	slab = SLAB_MIN_SIZE;
	for (;;) {
		slab_layout(slab, slot, align, per_obj, debug, &l);
		if (l.objs >= min_objs)
			break;
		slab *= 2;
	}
	for (i = 0; i < 2; i++) {
		if ((slab - l.objs * (slot + per_obj)) <= slab / 8)
			break;
		slab *= 2;
		slab_layout(slab, slot, align, per_obj, debug, &l);
	}

	s->object_size = size;
	s->slot_size = slot;
	s->slab_size = slab;
	s->slab_mask = ~(uintptr_t)(slab - 1);
	s->slab_shift = (unsigned int)__builtin_ctzl(slab);
	/* a header moved by lines would misalign larger alignments */
	/*
	 * The header's offset by the slab's number: its small colour (the
	 * low bits), then its place in the grid (the bits above). In front,
	 * the grid starts objs_off after the header; in the grid, after the
	 * small colour alone.
	 */
	s->color_mask = l.colour ? SLAB_COLORS - 1 : 0;
	s->place_mask = (unsigned int)l.hdr_places - 1;
	s->place_step = (unsigned int)l.hdr_step;
	s->objs = (unsigned int)l.objs;
	s->nslots = (unsigned int)l.nslots;
	s->idx_cap = (unsigned int)slab_idx_cap(l.objs);
	s->objs_off = (unsigned int)l.objs_off;
	s->state_off = (unsigned int)l.state_off;
	s->objs_bytes = (uint64_t)l.nslots * slot;
	s->hole_bytes = (uint64_t)l.hole * slot;
	s->slot_recip = UINT64_MAX / slot + 1;
	s->slot_shift = (unsigned int)__builtin_ctzl(slot);
	return 0;
}

/*
 * A coarse monotonic clock in ms, for the age of empty slabs: read once
 * per slab that empties or per refill with empty slabs kept, never per
 * object. It wraps after 49 days; ages are taken modulo 2^32.
 */
static uint32_t slab_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000 +
			  (uint64_t)ts.tv_nsec / 1000000);
}

/*
 * The current decay period, numbered from @now (slab_clock_ms()); the
 * first caller in a new one forgets the growth and payments of the last.
 */
static unsigned int slab_grow_roll(uint32_t now, unsigned int decay)
{
	unsigned int period = now / decay,
		     old = atomic_load_explicit(&slab_grow_period,
						memory_order_relaxed);

	if (period != old &&
	    atomic_compare_exchange_strong_explicit(
		    &slab_grow_period, &old, period, memory_order_relaxed,
		    memory_order_relaxed)) {
		atomic_store_explicit(&slab_grown_all, 0, memory_order_relaxed);
		atomic_store_explicit(&slab_paid_all, 0, memory_order_relaxed);
	}
	return period;
}

/* @s took a new slab at @now. */
static void slab_grow_note(struct sc_slab *s, uint32_t now)
{
	unsigned int decay =
		atomic_load_explicit(&slab_decay_ms, memory_order_relaxed);
	unsigned int period;

	if (!decay)
		return;
	period = slab_grow_roll(now, decay);
	if (atomic_load_explicit(&s->grown_period, memory_order_relaxed) !=
	    period) {
		atomic_store_explicit(&s->grown, 0, memory_order_relaxed);
		atomic_store_explicit(&s->grown_period, period,
				      memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&s->grown, s->slab_size,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&slab_grown_all, s->slab_size,
				  memory_order_relaxed);
}

/*
 * Have other caches than @s grown by new slabs this period that no empty
 * slab paid for? If so, count one of @s's paying (it goes back).
 */
static bool slab_grow_owed(struct sc_slab *s, uint32_t now, unsigned int decay)
{
	unsigned int period = slab_grow_roll(now, decay);
	size_t others =
		atomic_load_explicit(&slab_grown_all, memory_order_relaxed);

	if (atomic_load_explicit(&s->grown_period, memory_order_relaxed) ==
	    period)
		others -= atomic_load_explicit(&s->grown, memory_order_relaxed);
	if ((ssize_t)others <=
	    (ssize_t)atomic_load_explicit(&slab_paid_all, memory_order_relaxed))
		return false;
	atomic_fetch_add_explicit(&slab_paid_all, s->slab_size,
				  memory_order_relaxed);
	return true;
}

/*
 * @s is being destroyed: its slabs go back with it, so the new slabs it
 * took this period are no longer growth that other caches' empty slabs
 * must pay for. Without this, a cache created after another was
 * destroyed in the same decay period found that growth still owed, and
 * gave back every slab that emptied at once (a flush, and its TLB
 * shootdown, per 2 MiB) instead of keeping it for the decay time.
 */
static void slab_grow_forget(struct sc_slab *s)
{
	unsigned int decay =
		atomic_load_explicit(&slab_decay_ms, memory_order_relaxed);
	size_t grown, all, sub;
	unsigned int period;

	if (!decay)
		return;
	period = slab_grow_roll(slab_clock_ms(), decay);
	if (atomic_load_explicit(&s->grown_period, memory_order_relaxed) !=
	    period)
		return;
	grown = atomic_load_explicit(&s->grown, memory_order_relaxed);
	all = atomic_load_explicit(&slab_grown_all, memory_order_relaxed);
	/* never below zero: the period may have rolled meanwhile */
	do
		sub = grown < all ? grown : all;
	while (!atomic_compare_exchange_weak_explicit(
		&slab_grown_all, &all, all - sub, memory_order_relaxed,
		memory_order_relaxed));
}

/* ------------------------------------------------------------ lists */

/* Context: sh->lock held. Count @p in or out of the slabs with room. */
static void slab_avail_add(struct slab_shard *sh, unsigned int list, int delta)
{
	sc_lockdep_assert_held(&sh->lock);
	if (list == SLAB_FULL)
		return;
	atomic_store_explicit(&sh->nr_avail,
			      atomic_load_explicit(&sh->nr_avail,
						   memory_order_relaxed) +
				      (unsigned int)delta,
			      memory_order_relaxed);
}

/* Context: sh->lock held. */
static void slab_list_add(struct slab_shard *sh, struct slab_page *p,
			  unsigned int list)
{
	struct slab_page **head = &sh->lists[list];

	sc_lockdep_assert_held(&sh->lock);

	p->list = (uint8_t)list;
	p->prev = NULL;
	p->next = *head;
	if (*head)
		(*head)->prev = p;
	else
		sh->tails[list] = p;
	*head = p;
	slab_avail_add(sh, list, 1);
}

/*
 * Context: sh->lock held. A full slab that gets a free object goes to
 * the end of the partial list. Allocation takes the first partial slab,
 * so it fills the slabs that have been partial longest and reaches one
 * that was just freed into last. When frees outnumber allocations (a
 * cache evicting a run of old entries while inserting a few new ones),
 * the new objects gather in a few slabs instead of landing in each slab
 * the evictions pass through, each of which one new object would keep
 * from going back.
 */
static void slab_list_add_partial_tail(struct slab_shard *sh,
				       struct slab_page *p)
{
	struct slab_page *tail = sh->tails[SLAB_PARTIAL];

	sc_lockdep_assert_held(&sh->lock);

	if (!tail) {
		slab_list_add(sh, p, SLAB_PARTIAL);
		return;
	}
	p->list = SLAB_PARTIAL;
	p->next = NULL;
	p->prev = tail;
	tail->next = p;
	sh->tails[SLAB_PARTIAL] = p;
	slab_avail_add(sh, SLAB_PARTIAL, 1);
}

/* Context: sh->lock held. */
static void slab_list_del(struct slab_shard *sh, struct slab_page *p)
{
	sc_lockdep_assert_held(&sh->lock);
	if (p->prev)
		p->prev->next = p->next;
	else
		sh->lists[p->list] = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		sh->tails[p->list] = p->prev;
	slab_avail_add(sh, p->list, -1);
}

/* Context: sh->lock held. */
static void slab_list_move(struct slab_shard *sh, struct slab_page *p,
			   unsigned int list)
{
	sc_lockdep_assert_held(&sh->lock);
	slab_list_del(sh, p);
	slab_list_add(sh, p, list);
}

/* ------------------------------------------------------------ slabs */

static inline unsigned int slab_shard_nr(const struct sc_slab *s,
					 const struct slab_shard *sh)
{
	return (unsigned int)(sh - s->shards);
}

/* Context: sh->lock held. Counts one allocation attempt. */
static struct slab_page *slab_page_new(struct sc_slab *s, struct slab_shard *sh)
{
	unsigned int i, first, skip;
	struct sc_block *block;
	struct slab_page *p;
	char *base, *grid;

	sc_lockdep_assert_held(&sh->lock);

	if (sc_fault_count_attempt(sc_fault_thread_self()))
		return NULL;
	base = sc_block_slab_alloc(s->slab_size, &block);
	if (!base)
		return NULL;
	p = (struct slab_page *)(base + slab_color(s, (uintptr_t)base));
	grid = (char *)slab_grid(s, (uintptr_t)base);
	/* the header's slots, if it is in the grid: never handed out */
	first = s->nslots;
	skip = (unsigned int)(s->hole_bytes / s->slot_size);
	if (skip)
		first = (unsigned int)(((char *)p - grid) / s->slot_size);
	p->cache = s;
	p->block = block;
	slab_set_nr_free(p, s->objs);
	atomic_store_explicit(&p->shard, (unsigned char)slab_shard_nr(s, sh),
			      memory_order_relaxed);
	/* lowest index on top: a fresh slab is handed out in address order */
#define SLAB_NTH(t) ((t) < first ? (t) : (t) + skip)
	p->near_n = (uint8_t)(s->objs - s->idx_cap);
	for (i = 0; i < p->near_n; i++)
		p->near[i] = (uint16_t)SLAB_NTH(p->near_n - 1 - i);
	for (i = 0; i < s->idx_cap; i++)
		p->free_idx[i] = (uint16_t)SLAB_NTH(s->objs - 1 - i);
	if (s->flags & SLAB_DEBUG_FLAGS) {
		memset(slab_state(s, p), OBJ_FREE, s->nslots);
		if (skip) /* neither free nor allocated: never an object */
			memset(slab_state(s, p) + first, 0, skip);
		for (i = 0; i < s->objs; i++) {
			char *obj = slab_obj(s, p, SLAB_NTH(i));

			if (s->flags & SC_SLAB_POISON)
				memset(obj, SLAB_POISON_BYTE, s->object_size);
			if (s->flags & SC_SLAB_RED_ZONE)
				memset(obj + s->object_size, SLAB_RED_ZONE_BYTE,
				       s->slot_size - s->object_size);
		}
	}
#undef SLAB_NTH
	if (s->flags & SLAB_ASAN_POISON) {
		slab_asan_poison(grid, (size_t)(first < s->nslots ? first :
								    s->nslots) *
					       s->slot_size);
		if (skip)
			slab_asan_poison(grid + (size_t)(first + skip) *
							 s->slot_size,
					 (size_t)(s->nslots - first - skip) *
						 s->slot_size);
	}
	return p;
}

/* Context: any; @p is on no list and no longer counted in @s. */
static void slab_page_release(struct sc_slab *s, struct slab_page *p)
{
	void *base = (void *)((uintptr_t)p & s->slab_mask);

	slab_asan_unpoison(base, s->slab_size);
	sc_block_slab_free(base, s->slab_size, p->block);
}

/*
 * Lock the shard that holds slab @p. The slab may move to another shard
 * (a steal) until its shard's lock is held: the move needs that lock, so
 * the shard read again under it is final.
 */
static struct slab_shard *slab_lock_shard_of(struct sc_slab *s,
					     const struct slab_page *p)
{
	struct slab_shard *sh;
	unsigned int nr;

	for (;;) {
		nr = atomic_load_explicit(&p->shard, memory_order_relaxed);
		sh = &s->shards[nr];
		sc_mutex_lock(&sh->lock);
		if (sc_likely(atomic_load_explicit(&p->shard,
						   memory_order_relaxed) == nr))
			return sh;
		sc_mutex_unlock(&sh->lock);
	}
}

/*
 * Context: sh->lock held. @sh has no slab with a free object: take one
 * from another shard whose lock is free right now and that has two or
 * more such slabs (its thread keeps the one it allocates from): a kept
 * empty slab, else the partial slab last freed into (its shard would
 * reach it last). Return: the slab, now on @sh's partial list, or NULL.
 */
static struct slab_page *slab_steal_locked(struct sc_slab *s,
					   struct slab_shard *sh)
{
	unsigned int i, me = slab_shard_nr(s, sh), mask = s->nr_shards - 1;
	struct slab_shard *victim;
	struct slab_page *p;
	size_t used;

	sc_lockdep_assert_held(&sh->lock);

	for (i = 1; i < s->nr_shards; i++) {
		victim = &s->shards[(me + i) & mask];
		if (atomic_load_explicit(&victim->nr_avail,
					 memory_order_relaxed) < 2)
			continue;
		if (!sc_mutex_trylock(&victim->lock))
			continue;
		p = victim->lists[SLAB_EMPTY];
		if (!p &&
		    victim->lists[SLAB_PARTIAL] != victim->tails[SLAB_PARTIAL])
			p = victim->tails[SLAB_PARTIAL];
		if (p) {
			slab_list_del(victim, p);
			if (p->list == SLAB_EMPTY) {
				victim->nr_empty--;
			}
			victim->nr_slabs--;
			used = s->objs - p->nr_free;
			victim->active -= used;
			atomic_store_explicit(&p->shard, (unsigned char)me,
					      memory_order_relaxed);
			slab_list_add(sh, p, SLAB_PARTIAL);
			sh->nr_slabs++;
			sh->active += used;
		}
		sc_mutex_unlock(&victim->lock);
		if (p)
			return p;
	}
	return NULL;
}

/* ------------------------------------------------------------ create */

/*
 * Context: slab_caches_lock held. Give @s the lowest index no live cache
 * has, so that the per-thread tables of magazines indexed by it stay as
 * small as the number of caches alive at once. The table of caches by
 * index is auxiliary memory: if it cannot grow, creation fails.
 * Return: 0 or -ENOMEM.
 */
static int slab_index_get_locked(struct sc_slab *s)
{
	unsigned int i, cap;
	struct sc_slab **table;

	sc_lockdep_assert_held(&slab_caches_lock);

	for (i = 0; i < slab_table_cap && slab_table[i]; i++)
		;
	if (i == slab_table_cap) {
		cap = slab_table_cap ? 2 * slab_table_cap : 16;
		table = sc_mem_aux_grow(slab_table,
					slab_table_cap * sizeof(*table),
					cap * sizeof(*table));
		if (!table)
			return -ENOMEM;
		slab_table = table;
		slab_table_cap = cap;
	}
	slab_table[i] = s;
	s->index = i;
	return 0;
}

/* Context: slab_caches_lock held. The live cache of index @i, or NULL. */
static struct sc_slab *slab_by_index_locked(unsigned int i)
{
	sc_lockdep_assert_held(&slab_caches_lock);
	return i < slab_table_cap ? slab_table[i] : NULL;
}

static unsigned int slab_cpu_shards;
static pthread_once_t slab_cpu_shards_once = PTHREAD_ONCE_INIT;

static void slab_cpu_shards_init(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_CONF);
	unsigned int n = 1;

	while (n < SLAB_MAX_SHARDS && cpus > 0 && n < (unsigned long)cpus)
		n <<= 1;
	slab_cpu_shards = n;
}

/* Shards of a cache with @flags: one per CPU, one for a debug cache. */
static unsigned int slab_nr_shards(unsigned int flags)
{
	if (flags & SLAB_DEBUG_FLAGS)
		return 1;
	pthread_once(&slab_cpu_shards_once, slab_cpu_shards_init);
	return slab_cpu_shards;
}

static void slab_locks_destroy(struct sc_slab *s, unsigned int shards)
{
	while (shards--)
		sc_mutex_destroy(&s->shards[shards].lock);
}

SC_API struct sc_slab *sc_slab_create(const char *name, size_t size,
				      size_t align, unsigned int flags)
{
	unsigned int i, nr_shards = slab_nr_shards(flags);
	size_t name_len, head, bytes;
	struct sc_slab *s;
	int err;

	if (!name || !*name || !size || (align & (align - 1)) ||
	    (flags & ~SLAB_VALID_FLAGS))
		return sc_err_ptr(-EINVAL);
	name_len = strlen(name);
	/* the shards follow the name, each on its own cache lines */
	if (!sc_size_add(sizeof(*s), name_len + 1, &head) ||
	    !sc_size_add(round_up(head, SLAB_HWCACHE_LINE),
			 nr_shards * sizeof(struct slab_shard), &bytes))
		return sc_err_ptr(-ENOMEM);
	s = sc_mem_zalloc_aligned(bytes, SLAB_HWCACHE_LINE);
	if (!s)
		return sc_err_ptr(-ENOMEM);
	s->bytes = bytes;
	s->shards = (struct slab_shard *)((char *)s +
					  round_up(head, SLAB_HWCACHE_LINE));
	s->nr_shards = nr_shards;
	err = slab_geometry(s, size, align, flags);
	if (err)
		goto err_free;
	err = -sc_mutex_init(&s->depot.lock);
	if (err)
		goto err_free;
	for (i = 0; i < nr_shards; i++) {
		err = -sc_mutex_init(&s->shards[i].lock);
		if (err)
			goto err_destroy;
	}
	memcpy(s->name, name, name_len + 1);
	s->flags = flags;
	/* magazines hold at most SLAB_MAG_BYTES of slots; none in debug */
	s->mag_cap = SLAB_MAG_BYTES / s->slot_size;
	if (s->mag_cap > SLAB_MAG_SIZE)
		s->mag_cap = SLAB_MAG_SIZE;
	if (flags & SLAB_DEBUG_FLAGS)
		s->mag_cap = 0;
#ifdef CONFIG_SC_ASAN
	/* own poison checks win in debug caches; ASan granules are 8 bytes */
	if (!(flags & SLAB_DEBUG_FLAGS) && !(s->slot_size % 8))
		s->flags |= SLAB_ASAN_POISON;
#endif

	sc_mutex_lock(&slab_caches_lock);
	err = slab_index_get_locked(s);
	if (err) {
		sc_mutex_unlock(&slab_caches_lock);
		goto err_destroy;
	}
	s->serial = slab_next_serial++;
	s->gnext = slab_caches;
	if (slab_caches)
		slab_caches->gprev = s;
	slab_caches = s;
	sc_mutex_unlock(&slab_caches_lock);
	return s;

err_destroy:
	slab_locks_destroy(s, i);
	sc_mutex_destroy(&s->depot.lock);
err_free:
	sc_mem_free(s, bytes);
	return sc_err_ptr(err);
}

/* ------------------------------------------------------------ slab ops */

/*
 * Context: sh->lock held. Take one free object out of the shard's slabs:
 * first partial slab, else a kept empty one, else one stolen from another
 * shard, else a new slab (one allocation attempt). Return: the object,
 * or NULL if a new slab was needed and could not be had.
 */
static char *slab_pop_locked(struct sc_slab *s, struct slab_shard *sh,
			     struct slab_page **pp, unsigned int *idxp)
{
	struct slab_page *p = sh->lists[SLAB_PARTIAL];
	unsigned int idx;

	sc_lockdep_assert_held(&sh->lock);

	if (sc_unlikely(!p)) {
		p = sh->lists[SLAB_EMPTY];
		if (p) {
			slab_list_move(sh, p, SLAB_PARTIAL);
			sh->nr_empty--;
		} else if (s->nr_shards == 1 ||
			   !(p = slab_steal_locked(s, sh))) {
			p = slab_page_new(s, sh);
			if (!p)
				return NULL;
			slab_list_add(sh, p, SLAB_PARTIAL);
			sh->nr_slabs++;
			slab_grow_note(s, slab_clock_ms());
		}
	}
	slab_set_nr_free(p, p->nr_free - 1);
	if (p->near_n)
		idx = p->near[--p->near_n];
	else
		idx = p->free_idx[p->nr_free];
	if (sc_unlikely(!p->nr_free))
		slab_list_move(sh, p, SLAB_FULL);
	sh->active++;
	*pp = p;
	*idxp = idx;
	return slab_obj(s, p, idx);
}

/*
 * Context: sh->lock held. Decay: chain onto *@chain the empty slabs of
 * @sh beyond the SLAB_KEEP_EMPTY newest that have been empty for the
 * decay time or longer, or while other caches grow (slab_grow_owed()),
 * off every list and uncounted,
 * for slab_release_chain() after unlocking. The empty list is in the
 * order the slabs emptied (newest first, and reuse takes the newest), so
 * the old ones are at its tail. None goes during a deferred-release
 * window.
 */
static void slab_decay_locked(struct sc_slab *s, struct slab_shard *sh,
			      uint32_t now, struct slab_page **chain)
{
	unsigned int decay =
		atomic_load_explicit(&slab_decay_ms, memory_order_relaxed);
	struct slab_page *p;

	sc_lockdep_assert_held(&sh->lock);
	if (atomic_load_explicit(&slab_release_deferred, memory_order_relaxed))
		return;
	while (sh->nr_empty > SLAB_KEEP_EMPTY) {
		p = sh->tails[SLAB_EMPTY];
		if (decay && now - p->empty_since < decay &&
		    !slab_grow_owed(s, now, decay))
			break;
		slab_list_del(sh, p);
		sh->nr_empty--;
		sh->nr_slabs--;
		p->next = *chain;
		*chain = p;
	}
}

/*
 * Context: sh->lock held; @p is @sh's. Put object @idx back into slab @p.
 * A slab that empties goes to the head of the empty list, to be reused
 * first, and empty slabs too old go (slab_decay_locked()) chained onto
 * *@chain for slab_release_chain() after unlocking. The caller takes
 * the object out of sh->active (once for a run of pushes).
 */
static __attribute__((always_inline)) inline void
slab_push_locked(struct sc_slab *s, struct slab_shard *sh, struct slab_page *p,
		 unsigned int idx, struct slab_page **chain)
{
	unsigned int nr_free = p->nr_free, near_n = p->near_n, stacked, k;

	sc_lockdep_assert_held(&sh->lock);

	if (sc_unlikely(near_n == SLAB_NEAR)) {
		/*
		 * near[] to free_idx[], as much as it has room for: at least
		 * one, since nr_free < objs.
		 */
		stacked = nr_free - SLAB_NEAR;
		k = s->idx_cap - stacked;
		if (sc_likely(k >= SLAB_NEAR)) {
			/* the common case: a copy of a constant size */
			near_n = 0;
			memcpy(&p->free_idx[stacked], p->near, sizeof(p->near));
		} else {
			near_n -= k;
			memcpy(&p->free_idx[stacked], &p->near[near_n],
			       k * sizeof(uint16_t));
		}
	}
	p->near[near_n] = (uint16_t)idx;
	p->near_n = (uint8_t)(near_n + 1);
	slab_set_nr_free(p, nr_free + 1);
	if (sc_unlikely(nr_free + 1 == s->objs)) {
		p->empty_since = slab_clock_ms();
		slab_list_move(sh, p, SLAB_EMPTY);
		sh->nr_empty++;
		slab_decay_locked(s, sh, p->empty_since, chain);
		return;
	}
	if (sc_unlikely(!nr_free)) {
		slab_list_del(sh, p);
		slab_list_add_partial_tail(sh, p);
	}
}

/*
 * Context: the lock of @p's shard held. The line a push into @p writes
 * beyond the header: free_idx[]'s top when near[] is full.
 */
static inline const void *slab_push_line(const struct slab_page *p)
{
	if (p->near_n < SLAB_NEAR)
		return p;
	return &p->free_idx[p->nr_free - SLAB_NEAR];
}

/* Give back slabs chained through ->next by slab_push_locked() callers. */
static void slab_release_chain(struct sc_slab *s, struct slab_page *chain)
{
	struct slab_page *next;

	if (!chain)
		return;
	for (; chain; chain = next) {
		next = chain->next;
		slab_page_release(s, chain);
	}
	sc_block_flush();
}

static inline struct slab_page *slab_of(const struct sc_slab *s,
					const void *obj)
{
	uintptr_t base = (uintptr_t)obj & s->slab_mask;

	return (struct slab_page *)(base + slab_color(s, base));
}

static inline unsigned int
slab_idx_of(const struct sc_slab *s, const struct slab_page *p, const char *obj)
{
	return slab_obj_index(
		s, (uint32_t)((uintptr_t)obj -
			      slab_grid(s, (uintptr_t)p & s->slab_mask)));
}

/*
 * Is @obj, a slot of @p's grid, one of the header's slots? Never an
 * object: it would be the header. Without the header in the grid,
 * hole_bytes is 0 and no slot is.
 */
static inline bool slab_in_header(const struct sc_slab *s,
				  const struct slab_page *p, const void *obj)
{
	return (uint64_t)((const char *)obj - (const char *)p) < s->hole_bytes;
}

/*
 * Check that @obj is the start of an object slot of the slab it masks to,
 * by arithmetic on the geometry of @s: no memory is read. Return: NULL if
 * fine, else what is wrong.
 */
static inline const char *slab_check_offset(const struct sc_slab *s,
					    const struct slab_page *p,
					    const char *obj, unsigned int *idxp)
{
	const char *base =
		(const char *)slab_grid(s, (uintptr_t)p & s->slab_mask);
	size_t off;
	unsigned int idx;

	if (obj < base)
		return "free of a pointer not from this slab";
	off = (size_t)(obj - base);
	if (off >= s->objs_bytes || slab_in_header(s, p, obj))
		return "free of a pointer not from this slab";
	idx = slab_obj_index(s, (uint32_t)off);
	if ((size_t)idx * s->slot_size != off)
		return "free of a pointer inside an object";
	*idxp = idx;
	return NULL;
}

/*
 * slab_check_offset() without the index, for the free path: is @obj the
 * start of a slot? An offset below the first object wraps around to fail
 * the bound; an offset n (under 2^32) is a multiple of slot_size exactly
 * when n * c <= c - 1 (mod 2^64) for c = ceil(2^64 / slot_size) (Lemire,
 * Kaser, Kurz, "Faster remainder by direct computation", 2019). A 1-byte
 * slot makes c wrap to 0, and the test is then always true, as it must.
 */
static inline bool slab_off_ok(const struct sc_slab *s, uint64_t off)
{
	return off < s->objs_bytes && off * s->slot_recip <= s->slot_recip - 1;
}

/* The offset of @obj in the grid of its slab; may wrap below it. */
static inline uint64_t slab_off_of(const struct sc_slab *s, const void *obj)
{
	return (uint64_t)((uintptr_t)obj -
			  slab_grid(s, (uintptr_t)obj & s->slab_mask));
}

/* Is @obj a slot of its slab's grid, not one of the header's? */
static inline bool slab_offset_ok(const struct sc_slab *s, const char *obj)
{
	return slab_off_ok(s, slab_off_of(s, obj)) &&
	       !slab_in_header(s, slab_of(s, obj), obj);
}

/*
 * Is @obj an object of @s: the start of a slot (slab_offset_ok()) of a
 * slab whose owner is @s? Reads the slab header @obj masks to, unchecked:
 * a pointer from outside every slab may fault. No lock is needed (the
 * owner of a slab with an object out does not change).
 */
static inline bool slab_obj_ok(const struct sc_slab *s, const void *obj)
{
	return slab_offset_ok(s, obj) && slab_of(s, obj)->cache == s;
}

/* slab_obj_ok() refused @obj: why. */
static const char *slab_obj_what(const struct sc_slab *s, const char *obj)
{
	const struct slab_page *p = slab_of(s, obj);
	unsigned int idx;
	const char *what = slab_check_offset(s, p, obj, &idx);

	return what ? what : "free of a pointer not from this slab";
}

/*
 * slab_check_offset(), and that the slab @obj masks to belongs to @s.
 * Only data fixed while the slab is the cache's is read (the slab
 * header's owner, the geometry), so no lock is needed.
 */
static const char *slab_check_addr(const struct sc_slab *s,
				   const struct slab_page *p, const char *obj,
				   unsigned int *idxp)
{
	if (p->cache != s)
		return "free of a pointer not from this slab";
	return slab_check_offset(s, p, obj, idxp);
}

/*
 * Context: no lock of @s held. Report with the cache's first shard lock
 * held, as the handler's contract says.
 */
static __attribute__((noinline)) void
slab_report(struct sc_slab *s, const void *obj, const char *what)
{
	sc_mutex_lock(&s->shards[0].lock);
	slab_corruption(s, obj, what);
	sc_mutex_unlock(&s->shards[0].lock);
}

/* The shard of @p: final while that shard's lock is held. */
static inline unsigned int slab_shard_read(const struct slab_page *p)
{
	return atomic_load_explicit(&p->shard, memory_order_relaxed);
}

/*
 * Context: the lock of shard @nr held. Return: the bits of @todo whose
 * slab in @pages is in that shard (stable while the lock is held).
 */
static uint64_t slab_shard_mine(struct slab_page *const *pages, uint64_t todo,
				unsigned int nr)
{
	uint64_t mine = 0, bits;
	unsigned int i;

	for (bits = todo; bits; bits &= bits - 1) {
		i = (unsigned int)__builtin_ctzll(bits);
		if (slab_shard_read(pages[i]) == nr)
			mine |= 1ull << i;
	}
	return mine;
}

/*
 * Context: sh->lock held. Push the objects of @mine (bits of @pages and
 * @idx, all slabs of @sh) into their slabs, fetching each one's free_idx
 * slot before the first write, so the lock is held across hits, not
 * misses.
 */
static void slab_push_mine_locked(struct sc_slab *s, struct slab_shard *sh,
				  struct slab_page *const *pages,
				  const unsigned int *idx, uint64_t mine,
				  struct slab_page **chain)
{
	struct slab_page *p;
	uint64_t bits;
	unsigned int i;

	for (bits = mine; bits; bits &= bits - 1) {
		p = pages[__builtin_ctzll(bits)];
		__builtin_prefetch(slab_push_line(p), 1);
	}
	for (bits = mine; bits; bits &= bits - 1) {
		i = (unsigned int)__builtin_ctzll(bits);
		slab_push_locked(s, sh, pages[i], idx[i], chain);
	}
	sh->active -= (size_t)__builtin_popcountll(mine);
}

/*
 * Context: no lock of @s held. Put @n objects (n <= SLAB_MAG_SIZE), object
 * @idx[i] of slab @pages[i] of @s, each checked to be a slot of one of its
 * slabs, back into their slabs, under each shard's lock in turn, and fold
 * *@allocs and *@frees (then zeroed) into the first shard locked. The
 * caller has fetched the slab headers, so the locks are held across hits.
 * With @fetch_tops (objects freed in random order: a depot magazine's),
 * each slab's free_idx slot is fetched too before the first write under
 * the lock; objects given in the order their owner queued them mostly
 * share slabs with their neighbours, and the pass would cost more than it
 * saves. A thread's own magazine has those slots fetched already, while
 * its objects were checked (slab_mag_drain()).
 *
 * The common case, every slab in the shard that the first one is in, is a
 * plain pass over the array; the shard of a slab is read under the lock
 * of the shard it names (a steal moves a slab with both shards' locks
 * held), so a slab seen there stays there while the lock is held.
 */
static void slab_push_pages(struct sc_slab *s, struct slab_page *const *pages,
			    const unsigned int *idx, unsigned int n,
			    bool fetch_tops, unsigned long long *allocs,
			    unsigned long long *frees)
{
	struct slab_page *chain = NULL, *p;
	struct slab_shard *sh;
	unsigned int i, nr, base, cnt;
	uint64_t todo, mine;

	if (!n) {
		if (*allocs || *frees) {
			sh = &s->shards[0];
			sc_mutex_lock(&sh->lock);
			sh->allocs += *allocs;
			sh->frees += *frees;
			*allocs = *frees = 0;
			sc_mutex_unlock(&sh->lock);
		}
		return;
	}
	sh = slab_lock_shard_of(s, pages[0]);
	nr = slab_shard_nr(s, sh);
	if (fetch_tops) {
		for (i = 0; i < n; i++) {
			p = pages[i];
			if (sc_unlikely(slab_shard_read(p) != nr))
				break;
			__builtin_prefetch(slab_push_line(p), 1);
		}
		for (unsigned int j = 0; j < i; j++)
			slab_push_locked(s, sh, pages[j], idx[j], &chain);
	} else {
		for (i = 0; i < n; i++) {
			p = pages[i];
			if (sc_unlikely(slab_shard_read(p) != nr))
				break;
			slab_push_locked(s, sh, p, idx[i], &chain);
		}
	}
	sh->active -= i;
	/*
	 * Slabs of several shards: the rest in windows of 64 (a magazine
	 * holds up to SLAB_MAG_SIZE), each shard's objects of a window in
	 * turn, the shard held last kept locked into the next window.
	 */
	for (base = i; base < n; base += cnt) {
		cnt = n - base < 64 ? n - base : 64;
		todo = cnt == 64 ? ~0ull : (1ull << cnt) - 1;
		for (;;) {
			if (!sh)
				sh = slab_lock_shard_of(
					s, pages[base + __builtin_ctzll(todo)]);
			mine = slab_shard_mine(pages + base, todo,
					       slab_shard_nr(s, sh));
			slab_push_mine_locked(s, sh, pages + base, idx + base,
					      mine, &chain);
			todo &= ~mine;
			if (!todo)
				break;
			sh->allocs += *allocs;
			sh->frees += *frees;
			*allocs = *frees = 0;
			sc_mutex_unlock(&sh->lock);
			sh = NULL;
		}
	}
	sh->allocs += *allocs;
	sh->frees += *frees;
	*allocs = *frees = 0;
	sc_mutex_unlock(&sh->lock);
	slab_release_chain(s, chain);
}

/*
 * slab_push_pages() for @n objects of @s given by address, each checked
 * to be a slot of one of its slabs (a magazine's). The slab headers are
 * fetched before any lock is taken.
 */
static void slab_push_objs(struct sc_slab *s, void *const *objs, unsigned int n,
			   unsigned long long *allocs,
			   unsigned long long *frees)
{
	struct slab_page *pages[SLAB_MAG_SIZE], *p;
	unsigned int i, idx[SLAB_MAG_SIZE];

	for (i = 0; i < n; i++) {
		p = pages[i] = slab_of(s, objs[i]);
		idx[i] = slab_idx_of(s, p, objs[i]);
		__builtin_prefetch(p, 1);
	}
	slab_push_pages(s, pages, idx, n, true, allocs, frees);
}

/* ------------------------------------------------------------ magazines */

/*
 * Per-thread magazines: each thread keeps, for each slab cache it uses,
 * two stacks of free objects of up to mag_cap each (the loaded one and
 * the previous one), so that the common alloc/free pair takes no lock:
 * like jemalloc's tcache or SLUB's per-CPU slabs, in the two-magazine
 * form of Bonwick and Adams ("Magazines and Vmem", USENIX 2001). An
 * allocation pops the loaded magazine; a free pushes it. When it is
 * empty (full), the previous one takes over if it is full (empty), so a
 * thread going back and forth at a boundary trades nothing; else the
 * thread trades with the cache's depot: its spare empty magazine for a
 * full one, or its full previous one for an empty one. Only when the
 * depot has no full magazine does an allocation refill from the slabs
 * (its home shard), and only when the depot holds SLAB_DEPOT_MAX full
 * magazines already does a free put a magazine back into the slabs. A
 * thread that frees far more than it allocates pushes its frees into the
 * previous magazine instead and refills the loaded one from the slabs
 * only ("gathering", see slab_free_slow()).
 *
 * No two caches share a magazine. A thread finds its magazines of a
 * cache in its own table, at the cache's index (slab_index_get_locked():
 * the lowest free among live caches, so tables stay as small as the number
 * of caches alive at once). An entry records the serial of the cache it
 * belongs to, unique for the process's life: when a destroyed cache's
 * index goes to a new cache, the thread sees the old serial in its entry
 * and empties it without touching its objects (they went with the
 * destroyed cache's slabs). Tables and magazines are auxiliary memory
 * (alloc/alloc.h), made at a thread's first use of a cache; without them
 * an allocation or free goes straight to the slabs under the lock
 * (slab_alloc_direct(), slab_free_direct()) and never fails for it.
 *
 * A thread's magazines are touched by that thread only; a magazine in the
 * depot by whoever holds the depot lock. Objects in magazines and in the
 * depot are free for the user but out of their slabs: shards count them
 * in active, and the depot's count is taken off. The alloc/free counts a
 * thread makes are folded into the cache under whichever lock it next
 * takes (depot or shard). sc_slab_info(), sc_slab_shrink(),
 * sc_slabinfo_write() and sc_alloc_reclaim() flush the calling thread's
 * magazines and empty the depot first; a thread's magazines are flushed
 * when it exits, into the caches still alive (found by index and serial
 * under slab_caches_lock, which sc_slab_destroy() takes to unlist a cache
 * before it frees its slabs). Caches with debug flags have no magazines:
 * every operation takes the lock and sees the exact object state.
 *
 * A free into a magazine checks only that the pointer is not the top
 * (a double free) and leaves the checks that it is an object of the
 * cache (slab_obj_ok(): the offset by arithmetic, and the slab header's
 * owner, the one read that may miss) for later: the objects above
 * m->checked are not checked yet. Objects freed in random order would
 * otherwise cost one dependent cache miss each, and the arithmetic is
 * a fifth of a free's instructions.
 * Every unchecked object is checked, headers fetched together, before any
 * object of the magazine is handed out, put back into a slab or given to
 * the depot (which holds checked magazines only), so a pointer of another
 * cache, or into the middle of an object, is still refused before it
 * can do harm, by the thread that freed it. The object a magazine handed
 * out last stays checked in the slot above the top while everything
 * below it is (slab_mag_pop()): the alloc/free pair checks nothing, and
 * an object checked at its allocation is still the cache's at its free
 * unless it was freed in between, which is a double free.
 * Under AddressSanitizer the offset is checked at the free, which poisons
 * the slot from the pointer on.
 */

/*
 * A thread's magazines of one cache. Frees push free_mag: the loaded
 * magazine, or the previous one while the thread gathers (see
 * slab_free_slow()).
 */
struct slab_tcache {
	uint64_t serial; /* of the cache they belong to; 0: none */
	struct slab_mag *loaded, *prev; /* kept when unbound, for reuse */
	struct slab_mag *free_mag;
	unsigned long long allocs, frees; /* not yet folded into the cache */
	/* the flow since the thread's last trade: see slab_tcache_flow() */
	unsigned long long flow_allocs, flow_frees, mark_allocs, mark_frees;
	bool gather;
	/* to SLAB_TCACHE_SIZE: the table is indexed by a shift */
	char pad[128 - 10 * 8 - 1];
};
#define SLAB_TCACHE_SIZE 128
_Static_assert(sizeof(struct slab_tcache) == SLAB_TCACHE_SIZE,
	       "slab_tcache is a power of two");

/*
 * The table of a thread that has none: no serial matches it, so
 * slab_tcache_of() needs no test of the table's size (see there).
 */
static struct slab_tcache slab_tcache_none;

/* Everything per thread, in one TLS block: one TLS access per call. */
struct slab_thread {
	struct sc_fault_thread fault;
	/* indexed by sc_slab.index & tc_mask; slab_tcache_none if nr_tc 0 */
	struct slab_tcache *tc;
	unsigned int nr_tc, tc_mask; /* nr_tc is 0 or a power of two */
	unsigned int home; /* home shard + 1; 0: not chosen yet */
	bool armed; /* exit destructor registered */
	/* the last free without a magazine, for its double-free check */
	const struct sc_slab *last_free_s;
	const void *last_free;
};

/*
 * Initial-exec: a plain %fs offset on every allocation and free, in the
 * shared library too, as jemalloc's thread data. The block is small
 * (about 80 bytes) and glibc keeps static TLS to spare for libraries
 * loaded later with dlopen() (Documentation/slab.rst, "Speed").
 */
static __thread struct slab_thread slab_self __attribute__((
	tls_model("initial-exec"))) = { .tc = &slab_tcache_none };

struct sc_fault_thread *sc_fault_thread_self(void)
{
	return &slab_self.fault;
}
static pthread_key_t slab_mag_key;
static pthread_once_t slab_mag_once = PTHREAD_ONCE_INIT;
static bool slab_mag_key_ok;
static atomic_uint slab_next_home;

/* The calling thread's shard of @s: its home, chosen round-robin. */
static inline struct slab_shard *slab_home(struct sc_slab *s,
					   struct slab_thread *me)
{
	if (sc_unlikely(!me->home))
		me->home = atomic_fetch_add_explicit(&slab_next_home, 1,
						     memory_order_relaxed) %
				   SLAB_MAX_SHARDS +
			   1;
	return &s->shards[(me->home - 1) & (s->nr_shards - 1)];
}

static struct slab_mag *slab_mag_new(void)
{
	return sc_mem_aux_zalloc(sizeof(struct slab_mag));
}

/*
 * @obj, freed into a magazine of @t, failed slab_obj_ok(): report it and
 * take its free back.
 */
static __attribute__((noinline)) void
slab_mag_refuse(struct sc_slab *s, struct slab_tcache *t, const char *obj)
{
	if (s->flags & SLAB_ASAN_POISON) /* poisoned by its free */
		slab_asan_unpoison(obj, s->slot_size);
	t->frees--; /* the bad free is not counted */
	slab_report(s, obj, slab_obj_what(s, obj));
}

/*
 * Context: @t belongs to @s; no lock needed (the owner of a slab with an
 * object out does not change). Check the offset and owner of every object freed
 * into @m since it last met @s; drop and report those of another cache.
 * Their slab headers are fetched first, all at once, so that objects
 * freed in random order wait for one round of misses, not one each.
 */
static __attribute__((noinline)) void
slab_mag_check(struct sc_slab *s, struct slab_tcache *t, struct slab_mag *m)
{
	void **objs = slab_mag_objs(m);
	unsigned int i, kept, first = m->checked;
	bool bad = false;

	if (first >= m->n)
		return;
	for (i = first; i < m->n; i++)
		__builtin_prefetch(slab_of(s, objs[i]));
	for (i = first; i < m->n; i++)
		bad |= !slab_obj_ok(s, objs[i]);
	if (sc_likely(!bad)) {
		m->checked = m->n;
		return;
	}
	for (i = kept = first; i < m->n; i++) {
		if (sc_likely(slab_obj_ok(s, objs[i]))) {
			objs[kept++] = objs[i];
			continue;
		}
		slab_mag_refuse(s, t, objs[i]);
	}
	m->n = m->checked = kept;
}

/*
 * Take @t's counts not yet folded into the cache, to fold them: *@allocs
 * and *@frees. They stay counted in the flow since the mark.
 */
static void slab_tcache_fold(struct slab_tcache *t, unsigned long long *allocs,
			     unsigned long long *frees)
{
	*allocs = t->allocs;
	*frees = t->frees;
	t->flow_allocs += t->allocs;
	t->flow_frees += t->frees;
	t->allocs = t->frees = 0;
}

/*
 * Allocations and frees @t made since slab_tcache_mark() (modulo 2^64: a
 * refused free is counted back).
 */
static void slab_tcache_flow(const struct slab_tcache *t,
			     unsigned long long *allocs,
			     unsigned long long *frees)
{
	*allocs = t->flow_allocs + t->allocs - t->mark_allocs;
	*frees = t->flow_frees + t->frees - t->mark_frees;
}

static void slab_tcache_mark(struct slab_tcache *t)
{
	t->flow_allocs = t->flow_frees = 0;
	t->mark_allocs = t->allocs;
	t->mark_frees = t->frees;
}

/* Frees go to the loaded magazine, or to the previous one to gather. */
static void slab_tcache_set_free_mag(struct slab_tcache *t)
{
	t->free_mag = t->gather ? t->prev : t->loaded;
}

/*
 * Keep object @i of slab @p for the push, as pages[*@nb] and idx[*@nb].
 * Its header is here or on its way (the check read it, or the drain
 * fetched it), and the push writes that line (near[]), but for one push
 * in SLAB_NEAR, which moves near[] into free_idx[].
 */
static __attribute__((always_inline)) inline void
slab_drain_keep(struct slab_page **pages, unsigned int *idx, unsigned int *nb,
		struct slab_page *p, unsigned int i)
{
	pages[*nb] = p;
	idx[(*nb)++] = i;
}

/*
 * Objects a drain fetches and pushes at once: a whole magazine
 * (SLAB_MAG_SIZE), one lock round trip, where the slab headers lie among
 * their objects. Headers in front of their objects sit in the
 * SLAB_COLORS sets of each cache that their colour gives (their slabs
 * are aligned to 64 KiB, and to 2 MiB physically under transparent huge
 * pages), which hold 8 * 12 lines in this machine's L1: a round of 128
 * of those would evict its own first ones before the push reads them, so
 * they go SLAB_DRAIN_FRONT at a time.
 */
#define SLAB_DRAIN_BATCH SLAB_MAG_SIZE
#define SLAB_DRAIN_FRONT 64

/*
 * The objects of a drain from @i on, past the common case: those below
 * @first checked already (by a pop, a refill or slab_mag_check()), the
 * others checked now (slab_obj_ok()) and refused if they fail. Each one
 * kept goes to pages[] and idx[] from *@nb on, which is at or below @i,
 * after what the common case left there.
 */
static __attribute__((noinline)) void
slab_drain_rest(struct sc_slab *s, struct slab_tcache *t, void *const *objs,
		unsigned int i, unsigned int n, unsigned int first,
		struct slab_page **pages, unsigned int *idx, unsigned int *nb)
{
	struct slab_page *p;

	for (; i < n; i++) {
		if (i >= first && sc_unlikely(!slab_obj_ok(s, objs[i]))) {
			slab_mag_refuse(s, t, objs[i]);
			continue;
		}
		p = slab_of(s, objs[i]);
		slab_drain_keep(pages, idx, nb, p, slab_idx_of(s, p, objs[i]));
	}
}

/*
 * Context: no lock of @s held. Put @n (at most SLAB_DRAIN_BATCH) objects
 * of a magazine of @t, @objs, into their slabs; those from @first on are
 * not checked yet: they are checked, and those of another cache refused.
 *
 * Three steps, each a plain loop:
 *
 * 1. By arithmetic alone, for each object: its slab header, fetched;
 *    its index in the slab; and whether it is the start of one of the
 *    slab's object slots (slab_offset_ok()), for all of them at once.
 * 2. Under the lock of the first slab's shard: for each object, that its
 *    slab is the cache's (the header's owner: the one read of the
 *    check, slab_obj_ok()), then the push into its slab; an object whose
 *    slab is in another shard is kept for step 3.
 * 3. After the unlock, the objects kept go to their shards
 *    (slab_push_pages()).
 *
 * So each header is read once, by step 2, for the check and the push,
 * and the objects already checked are checked again (it costs less than
 * telling them apart). The headers are fetched before the lock is taken
 * and are on their way while it is held: frees in random order over the
 * slabs of a million small objects find them in the L2, their lines
 * spread over its sets (slab_color()). An object that fails a check (its
 * report takes a shard's lock) ends step 2 there, and the objects from
 * it on are checked one by one and refused if they fail
 * (slab_drain_rest()) before step 3.
 */
static __attribute__((always_inline)) inline void
slab_drain_batch_one(struct sc_slab *s, struct slab_tcache *t,
		     void *const *objs, unsigned int n, unsigned int first,
		     const bool pow2, const enum slab_hdr_at at)
{
	struct slab_page *pages[SLAB_DRAIN_BATCH], *p, *chain = NULL;
	unsigned int i = 0, nb = 0, idx[SLAB_DRAIN_BATCH], nr, k;
	unsigned long long allocs, frees;
	struct slab_shard *sh;
	/* the geometry in locals: the calls would reload it */
	const unsigned int shift = s->slot_shift;
	const uint64_t objs_bytes = s->objs_bytes, recip = s->slot_recip,
		       hole_bytes = s->hole_bytes, slot_mask = s->slot_size - 1;
	const uintptr_t slab_mask = s->slab_mask, color_mask = s->color_mask,
			place_mask = s->place_mask, place_step = s->place_step,
			objs_off = s->objs_off;
	const unsigned int slab_shift = s->slab_shift;
	const uintptr_t lines_mask = (place_mask + 1) * SLAB_COLORS - 1;
	uintptr_t base, nr_slab, small;
	/* off * pow2_mul >> 32 is off >> shift, for off < 2^32 */
	uint64_t pow2_mul = (uint64_t)1 << (32 - shift);
	uint64_t off;
	bool folded = false;

	/*
	 * 1: slab_of(), slab_offset_ok() and slab_idx_of() at once. The
	 * index of a slot of a power of two by a multiply, not a shift: a
	 * shift by a variable takes %cl, which the slab's shift holds.
	 */
	__asm__("" : "+r"(pow2_mul)); /* not turned back into a shift */
	for (k = 0; k < n; k++) {
		base = (uintptr_t)objs[k] & slab_mask;
		nr_slab = base >> slab_shift;
		if (at == SLAB_HDR_LINES) {
			/* small + place * 512 is the line (nr & lines_mask) */
			p = (struct slab_page *)(base +
						 (nr_slab & lines_mask) *
							 SLAB_HWCACHE_LINE);
			small = (uintptr_t)p &
				(SLAB_COLORS * SLAB_HWCACHE_LINE - 1);
		} else {
			small = (nr_slab & color_mask) * SLAB_HWCACHE_LINE;
			p = (struct slab_page *)(base + small +
						 (at == SLAB_HDR_PLACED ?
							  ((nr_slab >>
							    SLAB_COLOR_SHIFT) &
							   place_mask) *
								  place_step :
							  0));
		}
		__builtin_prefetch(p, 1);
		pages[k] = p;
		/* may wrap below the grid: then it fails the bound */
		off = (uint64_t)((uintptr_t)objs[k] - base - small -
				 (at == SLAB_HDR_FRONT ? objs_off : 0));
		if (sc_unlikely(off >= objs_bytes) ||
		    sc_unlikely(pow2 ? off & slot_mask :
				       off * recip > recip - 1) ||
		    /* the header's slots: none when it is in front */
		    (at != SLAB_HDR_FRONT &&
		     sc_unlikely((uint64_t)((char *)objs[k] - (char *)p) <
				 hole_bytes)))
			goto rest;
		idx[k] = pow2 ? (unsigned int)((off * pow2_mul) >> 32) :
				(unsigned int)(((unsigned __int128)recip *
						off) >>
					       64);
	}
	/* 2: an object that failed lets the one-by-one checks find it */
	if (sc_likely(n) && sc_likely(pages[0]->cache == s)) {
		sh = slab_lock_shard_of(s, pages[0]);
		nr = slab_shard_nr(s, sh);
		for (; i < n; i++) {
			p = pages[i];
			if (sc_unlikely(p->cache != s))
				break;
			if (sc_unlikely(slab_shard_read(p) != nr)) {
				slab_drain_keep(pages, idx, &nb, p, idx[i]);
				continue;
			}
			slab_push_locked(s, sh, p, idx[i], &chain);
		}
		sh->active -= i - nb;
		/* else folded below, once the refusals took their frees back */
		if (sc_likely(i == n)) {
			slab_tcache_fold(t, &allocs, &frees);
			sh->allocs += allocs;
			sh->frees += frees;
			folded = true;
		}
		sc_mutex_unlock(&sh->lock);
		slab_release_chain(s, chain);
		if (sc_likely(i == n && !nb))
			return;
	}
rest:
	if (sc_unlikely(i < n))
		slab_drain_rest(s, t, objs, i, n, first, pages, idx, &nb);
	/* 3, with the counts if step 2 did not fold them (or did not run) */
	allocs = frees = 0;
	if (!folded)
		slab_tcache_fold(t, &allocs, &frees);
	slab_push_pages(s, pages, idx, nb, false, &allocs, &frees);
}

/* slab_drain_batch_one() for slots of a power of two, or not. */
static void slab_drain_batch(struct sc_slab *s, struct slab_tcache *t,
			     void *const *objs, unsigned int n,
			     unsigned int first)
{
	bool pow2 = !(s->slot_size & (s->slot_size - 1));
	enum slab_hdr_at at = slab_hdr_at(s);

	/* a copy of the loops each: the compiler would not unswitch them */
	if (pow2 && at == SLAB_HDR_LINES)
		slab_drain_batch_one(s, t, objs, n, first, true,
				     SLAB_HDR_LINES);
	else if (pow2 && at == SLAB_HDR_PLACED)
		slab_drain_batch_one(s, t, objs, n, first, true,
				     SLAB_HDR_PLACED);
	else if (pow2)
		slab_drain_batch_one(s, t, objs, n, first, true,
				     SLAB_HDR_FRONT);
	else if (at == SLAB_HDR_PLACED)
		slab_drain_batch_one(s, t, objs, n, first, false,
				     SLAB_HDR_PLACED);
	else
		slab_drain_batch_one(s, t, objs, n, first, false,
				     SLAB_HDR_FRONT);
}

/*
 * Context: no lock of @s held. Empty @m into the slabs, a batch at a time
 * (SLAB_DRAIN_BATCH, or SLAB_DRAIN_FRONT with the slab headers in front);
 * the objects not checked yet are checked, and those of another cache
 * refused.
 */
static void slab_mag_drain(struct sc_slab *s, struct slab_tcache *t,
			   struct slab_mag *m)
{
	void **objs = slab_mag_objs(m);
	const unsigned int n = (unsigned int)m->n,
			   checked = m->checked < m->n ?
					     (unsigned int)m->checked :
					     n;
	const unsigned int batch = slab_hdr_at(s) == SLAB_HDR_FRONT ?
					   SLAB_DRAIN_FRONT :
					   SLAB_DRAIN_BATCH;
	unsigned int base = 0, cnt;

	do {
		cnt = n - base < batch ? n - base : batch;
		slab_drain_batch(
			s, t, objs + base, cnt,
			checked > base ?
				(checked - base < cnt ? checked - base : cnt) :
				0);
		base += cnt;
	} while (base < n);
	m->n = m->checked = 0;
}

/* Context: @s live, no lock of @s held; @t belongs to @s. Empty it. */
static void slab_tcache_flush(struct sc_slab *s, struct slab_tcache *t)
{
	slab_mag_drain(s, t, t->prev);
	slab_mag_drain(s, t, t->loaded);
	t->gather = false;
	slab_tcache_set_free_mag(t);
	slab_tcache_mark(t);
}

/*
 * Unbind @t from a cache that is gone (or going): its objects went with
 * the cache's slabs, its counts with the cache. The magazines are kept
 * for the next cache.
 */
static void slab_tcache_forget(struct slab_tcache *t)
{
	/*
	 * Every slot, past the top too, and the counts: nothing of the old
	 * cache's is left to be taken for an object of the next.
	 */
	if (t->loaded)
		memset(t->loaded, 0, sizeof(*t->loaded));
	if (t->prev)
		memset(t->prev, 0, sizeof(*t->prev));
	t->allocs = t->frees = 0;
	t->gather = false;
	slab_tcache_mark(t);
	t->serial = 0;
}

/*
 * Context: no lock held; takes slab_caches_lock, then the caches' shard
 * locks. Flush every magazine of the calling thread whose cache is
 * alive; forget those of destroyed caches.
 */
static void slab_tcache_flush_all(void)
{
	struct slab_thread *me = &slab_self;
	struct slab_tcache *t;
	struct sc_slab *s;
	unsigned int i;

	sc_mutex_lock(&slab_caches_lock);
	for (i = 0; i < me->nr_tc; i++) {
		t = &me->tc[i];
		if (!t->serial)
			continue;
		s = slab_by_index_locked(i);
		if (s && s->serial == t->serial)
			slab_tcache_flush(s, t); /* s lives: we hold the lock */
		else
			slab_tcache_forget(t);
	}
	sc_mutex_unlock(&slab_caches_lock);
}

static void slab_thread_exit(void *unused)
{
	struct slab_thread *me = &slab_self;
	unsigned int i;

	(void)unused;
	slab_tcache_flush_all();
	for (i = 0; i < me->nr_tc; i++) {
		sc_mem_aux_free(me->tc[i].loaded);
		sc_mem_aux_free(me->tc[i].prev);
	}
	if (me->nr_tc)
		sc_mem_aux_free(me->tc);
	me->tc = &slab_tcache_none;
	me->nr_tc = me->tc_mask = 0;
	/* a later destructor that uses a cache registers again */
	me->armed = false;
}

static void slab_mag_key_init(void)
{
	slab_mag_key_ok = !pthread_key_create(&slab_mag_key, slab_thread_exit);
}

/*
 * The calling thread's magazines of @s, made (or taken over from a
 * destroyed cache of the same index) if need be.
 * Return: NULL if @s has no magazines or auxiliary memory ran out: go to
 * the slabs directly.
 */
static struct slab_tcache *slab_tcache_bind(struct slab_thread *me,
					    struct sc_slab *s)
{
	unsigned int idx = s->index, nr;
	struct slab_tcache *t;

	if (!s->mag_cap)
		return NULL;
	if (idx >= me->nr_tc) {
		nr = (unsigned int)roundup_pow2(idx + 1);
		if (nr < 16)
			nr = 16;
		t = sc_mem_aux_grow(me->nr_tc ? me->tc : NULL,
				    me->nr_tc * sizeof(*t), nr * sizeof(*t));
		if (!t)
			return NULL;
		me->tc = t;
		me->nr_tc = nr;
		me->tc_mask = nr - 1;
		if (!me->armed) {
			pthread_once(&slab_mag_once, slab_mag_key_init);
			if (slab_mag_key_ok)
				pthread_setspecific(slab_mag_key, me);
			me->armed = true;
		}
	}
	t = &me->tc[idx];
	if (t->serial == s->serial)
		return t;
	/* left by a destroyed cache of the same index: nothing to flush */
	slab_tcache_forget(t);
	if (!t->loaded && !(t->loaded = slab_mag_new()))
		return NULL;
	if (!t->prev && !(t->prev = slab_mag_new()))
		return NULL;
	slab_tcache_set_free_mag(t);
	t->serial = s->serial;
	/* the direct path's memory of its last free is stale from now on */
	if (me->last_free_s == s)
		me->last_free = NULL;
	return t;
}

/* The calling thread's magazines of @s if it has them, else NULL. */
static inline struct slab_tcache *slab_tcache_of(struct slab_thread *me,
						 const struct sc_slab *s)
{
	struct slab_tcache *t;

	/*
	 * An index beyond the table masks to another cache's entry (or to
	 * slab_tcache_none), whose serial is not @s's: serials are unique.
	 */
	t = &me->tc[s->index & me->tc_mask];
	return sc_likely(t->serial == s->serial) ? t : NULL;
}

/* Flush the calling thread's magazines of @s, if it has them. */
static void slab_tcache_flush_own(struct sc_slab *s)
{
	struct slab_tcache *t = slab_tcache_of(&slab_self, s);

	if (t)
		slab_tcache_flush(s, t);
}

static inline void slab_swap_mags(struct slab_tcache *t)
{
	struct slab_mag *m = t->loaded;

	t->loaded = t->prev;
	t->prev = m;
}

/* Context: s->depot.lock held. Fold the thread's counts into the depot. */
static void slab_depot_fold_locked(struct sc_slab *s, struct slab_tcache *t)
{
	unsigned long long allocs, frees;

	sc_lockdep_assert_held(&s->depot.lock);
	slab_tcache_fold(t, &allocs, &frees);
	s->depot.allocs += allocs;
	s->depot.frees += frees;
}

static inline unsigned int slab_depot_count(const atomic_uint *nr)
{
	return atomic_load_explicit(nr, memory_order_relaxed);
}

/* Context: d->lock held. Change one of its counts, read unlocked. */
static void slab_depot_count_add(struct slab_depot *d, atomic_uint *nr,
				 int delta)
{
	sc_lockdep_assert_held(&d->lock);
	atomic_store_explicit(nr, slab_depot_count(nr) + (unsigned int)delta,
			      memory_order_relaxed);
}

/*
 * Context: no lock of @s held; both of @t's magazines are empty. Trade
 * the spare one for a full magazine from the depot.
 * Return: false if the depot has none.
 */
static bool slab_depot_get_full(struct sc_slab *s, struct slab_tcache *t)
{
	struct slab_depot *d = &s->depot;
	struct slab_mag *full, *spare = t->prev;

	if (!slab_depot_count(&d->nr_full))
		return false;
	sc_mutex_lock(&d->lock);
	full = d->full;
	if (!full) {
		sc_mutex_unlock(&d->lock);
		return false;
	}
	d->full = full->next;
	slab_depot_count_add(d, &d->nr_full, -1);
	if (slab_depot_count(&d->nr_empty) < SLAB_DEPOT_MAX) {
		spare->next = d->empty;
		d->empty = spare;
		slab_depot_count_add(d, &d->nr_empty, 1);
		spare = NULL;
	}
	slab_depot_fold_locked(s, t);
	sc_mutex_unlock(&d->lock);
	sc_mem_aux_free(spare);
	t->prev = t->loaded;
	t->loaded = full;
	return true;
}

/*
 * Context: no lock of @s held; *@slot, one of @t's magazines, is full and
 * checked. Trade it for an empty magazine from the depot (or a new one).
 * Return: false if the depot holds SLAB_DEPOT_MAX full magazines already
 * or no empty one could be had: the caller drains it into the slabs.
 */
static bool slab_depot_put_full(struct sc_slab *s, struct slab_tcache *t,
				struct slab_mag **slot)
{
	struct slab_depot *d = &s->depot;
	struct slab_mag *empty = NULL;

	if (slab_depot_count(&d->nr_full) >= SLAB_DEPOT_MAX)
		return false;
	/* make one before the lock if the depot seems to have none */
	if (!slab_depot_count(&d->nr_empty))
		empty = slab_mag_new();
	sc_mutex_lock(&d->lock);
	if (slab_depot_count(&d->nr_full) >= SLAB_DEPOT_MAX)
		goto out_unlock;
	if (!empty && d->empty) {
		empty = d->empty;
		d->empty = empty->next;
		slab_depot_count_add(d, &d->nr_empty, -1);
	}
	if (!empty)
		goto out_unlock;
	(*slot)->next = d->full;
	d->full = *slot;
	slab_depot_count_add(d, &d->nr_full, 1);
	slab_depot_fold_locked(s, t);
	sc_mutex_unlock(&d->lock);
	*slot = empty;
	return true;

out_unlock:
	sc_mutex_unlock(&d->lock);
	sc_mem_aux_free(empty);
	return false;
}

/*
 * Context: no lock of @s held; *@slot is one of @t's magazines. Send its
 * objects away, checked: to the depot, or into their slabs if the depot
 * is full. *@slot is empty after.
 */
static void slab_mag_spill(struct sc_slab *s, struct slab_tcache *t,
			   struct slab_mag **slot)
{
	if (!(*slot)->n)
		return;
	/* the depot takes checked magazines; the drain checks on its way */
	if (slab_depot_count(&s->depot.nr_full) < SLAB_DEPOT_MAX &&
	    (*slot)->checked < (*slot)->n)
		slab_mag_check(s, t, *slot);
	if (!(*slot)->n || (*slot)->checked < (*slot)->n ||
	    !slab_depot_put_full(s, t, slot))
		slab_mag_drain(s, t, *slot);
}

/*
 * Context: no lock of @s held. Put the objects of every full magazine in
 * the depot back into their slabs. The emptied magazines stay in the depot (up to SLAB_DEPOT_MAX) unless
 * @free_empty, for a reclaim, which frees every empty magazine.
 */
static void slab_depot_drain(struct sc_slab *s, bool free_empty)
{
	struct slab_depot *d = &s->depot;
	struct slab_mag *full, *empty = NULL, *m, *next;
	unsigned long long allocs, frees;

	sc_mutex_lock(&d->lock);
	full = d->full;
	d->full = NULL;
	atomic_store_explicit(&d->nr_full, 0, memory_order_relaxed);
	if (free_empty) {
		empty = d->empty;
		d->empty = NULL;
		atomic_store_explicit(&d->nr_empty, 0, memory_order_relaxed);
	}
	sc_mutex_unlock(&d->lock);
	for (m = full; m; m = m->next) {
		allocs = frees = 0;
		slab_push_objs(s, slab_mag_objs(m), m->n, &allocs, &frees);
		m->n = m->checked = 0;
	}
	for (m = empty; m; m = next) {
		next = m->next;
		sc_mem_aux_free(m);
	}
	empty = NULL;
	if (!full)
		return;
	sc_mutex_lock(&d->lock);
	for (m = full; m; m = next) {
		next = m->next;
		if (!free_empty &&
		    slab_depot_count(&d->nr_empty) < SLAB_DEPOT_MAX) {
			m->next = d->empty;
			d->empty = m;
			slab_depot_count_add(d, &d->nr_empty, 1);
		} else {
			/* freed below, after the lock */
			m->next = empty;
			empty = m;
		}
	}
	sc_mutex_unlock(&d->lock);
	for (m = empty; m; m = next) {
		next = m->next;
		sc_mem_aux_free(m);
	}
}

/* ------------------------------------------------------------ alloc */

/*
 * Context: s->shards[0].lock held (a debug cache's only shard).
 * Return: false if @obj must not be used.
 */
static bool slab_debug_alloc(struct sc_slab *s, struct slab_page *p,
			     unsigned int idx, char *obj)
{
	uint8_t *state = &slab_state(s, p)[idx];
	size_t i;

	sc_lockdep_assert_held(&s->shards[0].lock);

	if (*state != OBJ_FREE) {
		slab_corruption(s, obj, "free list holds an object not free");
		*state = OBJ_QUARANTINED;
		return false;
	}
	if (s->flags & SC_SLAB_POISON) {
		for (i = 0; i < s->object_size; i++) {
			if ((uint8_t)obj[i] != SLAB_POISON_BYTE) {
				slab_corruption(s, obj,
						"use after free: poison "
						"overwritten in a free object");
				*state = OBJ_QUARANTINED;
				return false;
			}
		}
	}
	*state = OBJ_ALLOCATED;
	return true;
}

static __attribute__((noinline)) void *slab_alloc_failed(struct sc_slab *s)
{
	atomic_fetch_add_explicit(&s->alloc_failures, 1, memory_order_relaxed);
	return sc_err_ptr(-ENOMEM);
}

/* Caches with debug flags (one shard): every allocation under the lock. */
static __attribute__((noinline)) void *slab_alloc_debug(struct sc_slab *s)
{
	struct slab_shard *sh = &s->shards[0];
	struct slab_page *p;
	unsigned int idx;
	char *obj;

	sc_mutex_lock(&sh->lock);
	do {
		obj = slab_pop_locked(s, sh, &p, &idx);
		if (!obj) {
			sc_mutex_unlock(&sh->lock);
			return slab_alloc_failed(s);
		}
		if (!slab_debug_alloc(s, p, idx, obj))
			sh->active--; /* quarantined: out of the slab for good */
		else
			break;
	} while (1);
	sh->allocs++;
	sc_mutex_unlock(&sh->lock);
	return obj;
}

/* No magazine (none for this size, or no memory): one object from a slab. */
static __attribute__((noinline)) void *slab_alloc_direct(struct sc_slab *s,
							 struct slab_thread *me)
{
	struct slab_shard *sh = slab_home(s, me);
	struct slab_page *p;
	unsigned int idx;
	char *obj;

	sc_mutex_lock(&sh->lock);
	obj = slab_pop_locked(s, sh, &p, &idx);
	if (!obj) {
		sc_mutex_unlock(&sh->lock);
		return slab_alloc_failed(s);
	}
	sh->allocs++;
	sc_mutex_unlock(&sh->lock);
	if (me->last_free == obj)
		me->last_free = NULL;
	if (s->flags & SLAB_ASAN_POISON)
		slab_asan_unpoison(obj, s->slot_size);
	return obj;
}

/*
 * Context: no lock of @s held; both of @t's magazines are empty. Fill the
 * loaded one from the home shard's slabs, taking at most one new slab
 * (one allocation attempt). Return: false if no object could be had.
 */
static bool slab_refill(struct sc_slab *s, struct slab_thread *me,
			struct slab_tcache *t)
{
	struct slab_shard *sh = slab_home(s, me);
	struct slab_page *p, *chain = NULL;
	struct slab_mag *m = t->loaded;
	char *objs[SLAB_MAG_SIZE], *obj, *base;
	unsigned long long allocs, frees;
	unsigned int idx, got = 0, take, near_take;

	sc_mutex_lock(&sh->lock);
	while (got < s->mag_cap) {
		if (got && !sh->lists[SLAB_PARTIAL] && !sh->lists[SLAB_EMPTY])
			break;
		obj = slab_pop_locked(s, sh, &p, &idx);
		if (!obj)
			break;
		objs[got++] = obj;
		/* the rest from the same slab at once, while it has some */
		take = s->mag_cap - got;
		if (take > p->nr_free)
			take = p->nr_free;
		if (!take)
			continue;
		base = (char *)slab_grid(s, (uintptr_t)p & s->slab_mask);
		/* near[] first, then free_idx[]'s top: each a plain loop */
		near_take = take < p->near_n ? take : p->near_n;
		for (unsigned int end = got + near_take, nr = p->near_n;
		     got < end; got++)
			objs[got] = base + (size_t)p->near[--nr] * s->slot_size;
		for (unsigned int end = got + take - near_take,
				  nr = p->nr_free - p->near_n;
		     got < end; got++)
			objs[got] =
				base + (size_t)p->free_idx[--nr] * s->slot_size;
		p->near_n = (uint8_t)(p->near_n - near_take);
		slab_set_nr_free(p, p->nr_free - take);
		sh->active += take;
		if (!p->nr_free)
			slab_list_move(sh, p, SLAB_FULL);
	}
	slab_tcache_fold(t, &allocs, &frees);
	sh->allocs += allocs;
	sh->frees += frees;
	/* empty slabs that aged while the shard only allocated */
	if (sc_unlikely(sh->nr_empty > SLAB_KEEP_EMPTY))
		slab_decay_locked(s, sh, slab_clock_ms(), &chain);
	sc_mutex_unlock(&sh->lock);
	slab_release_chain(s, chain);
	/* first taken on top, so objects go out in the slab's order */
	for (idx = got; idx-- > 0;)
		m->slot[++m->n] = objs[idx];
	m->checked = m->n; /* straight from the slabs */
	return got;
}

static void *slab_alloc_slow(struct sc_slab *s, struct slab_thread *me);

/* Take @obj, the top slot[@n] of @t's loaded magazine @m, checked. */
static __attribute__((always_inline)) inline void *
slab_mag_take(struct sc_slab *s, struct slab_tcache *t, struct slab_mag *m,
	      unsigned long n, void *obj)
{
	m->n = n - 1;
	t->allocs++;
	if (s->flags & SLAB_ASAN_POISON)
		slab_asan_unpoison(obj, s->slot_size);
	return obj;
}

/*
 * slab_mag_pop() of an object freed into the magazine and not checked
 * yet: check it now. If it fails, it is still there, unchecked, for
 * slab_mag_check() to refuse with the others.
 */
static __attribute__((noinline)) void *
slab_mag_pop_unchecked(struct sc_slab *s, struct slab_thread *me,
		       struct slab_tcache *t)
{
	struct slab_mag *m = t->loaded;
	unsigned long n = m->n;
	void *obj = m->slot[n];

	if (sc_unlikely(!slab_obj_ok(s, obj))) {
		slab_mag_check(s, t, m);
		return slab_alloc_slow(s, me);
	}
	if (m->checked == n - 1)
		m->checked = n;
	return slab_mag_take(s, t, m, n, obj);
}

/*
 * Pop the loaded magazine of @t, which is not empty. An object freed into
 * it and not checked yet is checked now (slab_obj_ok()), before it is
 * handed out; an object freed and taken again at once is the common case,
 * and its header is still hot. A pop writes no slot, so the slots up to
 * m->checked, above the top too, still hold checked pointers: the next
 * free of the same pointer (an alloc/free pair) finds it in the slot
 * above the top and writes nothing, and the allocation after it checks
 * nothing.
 */
static __attribute__((always_inline)) inline void *
slab_mag_pop(struct sc_slab *s, struct slab_thread *me, struct slab_tcache *t)
{
	struct slab_mag *m = t->loaded;
	unsigned long n = m->n;

	if (sc_unlikely(n > m->checked))
		return slab_mag_pop_unchecked(s, me, t);
	return slab_mag_take(s, t, m, n, m->slot[n]);
}

/*
 * The loaded magazine is empty or not made yet: the previous one if it
 * has objects, else a full one from the depot, else a refill. A thread
 * that gathers (see slab_free_slow()) refills from the slabs only, and
 * stops gathering once it allocates as much as it frees.
 */
static __attribute__((noinline)) void *slab_alloc_slow(struct sc_slab *s,
						       struct slab_thread *me)
{
	unsigned long long allocs, frees;
	struct slab_tcache *t;

	if (sc_unlikely(s->flags & SLAB_DEBUG_FLAGS))
		return slab_alloc_debug(s);
	t = slab_tcache_bind(me, s);
	if (!t)
		return slab_alloc_direct(s, me);
	if (!t->loaded->n) {
		if (t->gather) {
			slab_tcache_flow(t, &allocs, &frees);
			slab_tcache_mark(t);
			t->gather = allocs < frees;
			slab_tcache_set_free_mag(t);
		}
		if (t->gather) {
			if (!slab_refill(s, me, t))
				return slab_alloc_failed(s);
		} else if (t->prev->n) {
			slab_swap_mags(t);
		} else if (!slab_depot_get_full(s, t) &&
			   !slab_refill(s, me, t)) {
			return slab_alloc_failed(s);
		}
		slab_tcache_set_free_mag(t);
	}
	return slab_mag_pop(s, me, t);
}

/* The attempt is counted: the rest of sc_slab_alloc(). */
static inline void *slab_alloc_counted(struct sc_slab *s,
				       struct slab_thread *me)
{
	/* a debug cache has no magazines: found by the slow path */
	struct slab_tcache *t = slab_tcache_of(me, s);

	if (sc_unlikely(!t || !t->loaded->n))
		return slab_alloc_slow(s, me);
	return slab_mag_pop(s, me, t);
}

/* The thread's first attempt, or injection is armed: count it here. */
static __attribute__((noinline)) void *
slab_alloc_count_slow(struct sc_slab *s, struct slab_thread *me)
{
	if (sc_fault_count_slow(&me->fault))
		return slab_alloc_failed(s);
	return slab_alloc_counted(s, me);
}

static __attribute__((noinline, cold)) void *slab_alloc_einval(void)
{
	return sc_err_ptr(-EINVAL);
}

SC_API void *sc_slab_alloc(struct sc_slab *s)
{
	struct slab_thread *me = &slab_self;

	/* one TLS lookup: keep the compiler from redoing it for each use */
	__asm__("" : "+r"(me));
	if (sc_unlikely(!s))
		return slab_alloc_einval();
	/* every path from here on is a tail call: no frame to set up */
	if (sc_unlikely(!sc_fault_count_fast(&me->fault)))
		return slab_alloc_count_slow(s, me);
	return slab_alloc_counted(s, me);
}

/* ------------------------------------------------------------ free */

/*
 * Context: sh->lock held (the only shard of a debug cache). Is @p one of
 * the slabs @sh holds? A debug cache asks before it reads the header @obj
 * masks to: after a double free whose slab went back to the system, or
 * for a pointer from elsewhere, that address may not be mapped at all.
 * O(slabs): debug caches only.
 */
static bool slab_holds_locked(const struct slab_shard *sh,
			      const struct slab_page *p)
{
	const struct slab_page *q;
	unsigned int list;

	sc_lockdep_assert_held(&sh->lock);

	for (list = 0; list < SLAB_NR_LISTS; list++)
		for (q = sh->lists[list]; q; q = q->next)
			if (q == p)
				return true;
	return false;
}

/* Caches with debug flags (one shard): every free under the lock. */
static __attribute__((noinline)) void slab_free_debug(struct sc_slab *s,
						      char *obj)
{
	struct slab_page *chain = NULL, *p = slab_of(s, obj);
	const char *what = "free of a pointer not from this slab";
	struct slab_shard *sh = &s->shards[0];
	unsigned int idx;
	uint8_t *state;
	size_t i;

	sc_mutex_lock(&sh->lock);
	if (!slab_holds_locked(sh, p) ||
	    (what = slab_check_addr(s, p, obj, &idx))) {
		slab_corruption(s, obj, what);
		goto out_unlock;
	}
	state = &slab_state(s, p)[idx];
	if (*state == OBJ_FREE) {
		slab_corruption(s, obj, "double free");
		goto out_unlock;
	}
	if (*state != OBJ_ALLOCATED) {
		slab_corruption(s, obj, "free of a quarantined object");
		goto out_unlock;
	}
	if (s->flags & SC_SLAB_RED_ZONE) {
		for (i = s->object_size; i < s->slot_size; i++) {
			if ((uint8_t)obj[i] != SLAB_RED_ZONE_BYTE) {
				slab_corruption(s, obj,
						"red zone overwritten: write "
						"past the end of the object");
				goto out_unlock;
			}
		}
	}
	if (s->flags & SC_SLAB_POISON)
		memset(obj, SLAB_POISON_BYTE, s->object_size);
	*state = OBJ_FREE;
	sh->frees++;
	sh->active--;
	slab_push_locked(s, sh, p, idx, &chain);
out_unlock:
	sc_mutex_unlock(&sh->lock);
	slab_release_chain(s, chain);
}

/* Context: the lock of @p's shard held. Is slot @idx of @p free? */
static bool slab_idx_free_locked(const struct slab_page *p, unsigned int idx)
{
	unsigned int i, stacked = p->nr_free - p->near_n;

	for (i = 0; i < p->near_n; i++)
		if (p->near[i] == idx)
			return true;
	for (i = 0; i < stacked; i++)
		if (p->free_idx[i] == idx)
			return true;
	return false;
}

/*
 * The calling thread freed @obj last on the direct path: a double free,
 * unless another thread has had it from the slab since (this thread's
 * own allocation forgets the last free, another's cannot), so the slab's
 * free slots decide. Only when the pointers match: a scan of one slab.
 */
static __attribute__((noinline)) bool
slab_freed_again(struct sc_slab *s, struct slab_page *p, unsigned int idx)
{
	struct slab_shard *sh = slab_lock_shard_of(s, p);
	bool is_free = slab_idx_free_locked(p, idx);

	sc_mutex_unlock(&sh->lock);
	return is_free;
}

/*
 * No magazine (none for this size, or no memory): straight into the
 * slab, with the owner checked now and, standing in for the magazine's
 * top, the thread's last such free checked for a double free.
 */
static __attribute__((noinline)) void
slab_free_direct(struct sc_slab *s, struct slab_thread *me, void *obj)
{
	struct slab_page *chain = NULL, *p = slab_of(s, obj);
	struct slab_shard *sh;
	unsigned int idx;
	const char *what = slab_check_addr(s, p, obj, &idx);

	if (!what && me->last_free_s == s && me->last_free == obj &&
	    slab_freed_again(s, p, idx))
		what = "double free";
	if (what) {
		slab_report(s, obj, what);
		return;
	}
	if (s->flags & SLAB_ASAN_POISON)
		slab_asan_poison(obj, s->slot_size);
	sh = slab_lock_shard_of(s, p);
	sh->frees++;
	sh->active--;
	slab_push_locked(s, sh, p, idx, &chain);
	sc_mutex_unlock(&sh->lock);
	me->last_free_s = s;
	me->last_free = obj;
	slab_release_chain(s, chain);
}

/*
 * Push @obj onto @m (not full) of @t. The double-free check: @obj is the
 * top, freed already (slot[0] is NULL, so an empty magazine needs no
 * test). No other check is made here: slab_obj_ok() runs when the object
 * leaves the magazine (slab_mag_pop(), slab_mag_check(), slab_mag_drain()).
 * A pointer equal to the slot above the top (the object the magazine
 * handed out last: an alloc/free pair, or frees in the reverse order of
 * allocations) is not written again, and keeps that slot's check.
 */
static __attribute__((always_inline)) inline void
slab_mag_push(struct sc_slab *s, struct slab_tcache *t, struct slab_mag *m,
	      void *obj)
{
	unsigned long n = m->n;
	void **top = &m->slot[n];

	if (sc_unlikely(top[0] == obj)) {
		slab_report(s, obj, "double free");
		return;
	}
#ifdef CONFIG_SC_ASAN
	/*
	 * Poisoned now, so a pointer into the middle of an object is refused
	 * now: poisoning from it would poison a live neighbour's bytes.
	 */
	if (s->flags & SLAB_ASAN_POISON) {
		if (sc_unlikely(!slab_offset_ok(s, obj))) {
			slab_report(s, obj, slab_obj_what(s, obj));
			return;
		}
		slab_asan_poison(obj, s->slot_size);
	}
#endif
	if (top[1] != obj) {
		top[1] = obj;
		if (m->checked > n)
			m->checked = n;
	}
	m->n = n + 1;
	t->frees++;
}

/*
 * sc_slab_free() without a magazine to push: a debug cache, none made yet
 * or none to be had (slab_free_direct()), or a full one: the previous one
 * takes over if it is empty; else the previous one (full) goes to the
 * depot for an empty one, or into the slabs if the depot is full, and
 * takes over. Then keep @obj.
 */
static __attribute__((noinline)) void
slab_free_slow(struct sc_slab *s, struct slab_thread *me, void *obj)
{
	unsigned long long allocs, frees;
	struct slab_tcache *t;
	struct slab_mag *m;

	if (sc_unlikely(s->flags & SLAB_DEBUG_FLAGS)) {
		slab_free_debug(s, obj);
		return;
	}
	t = slab_tcache_bind(me, s);
	if (!t) {
		slab_free_direct(s, me, obj);
		return;
	}
	m = t->free_mag;
	if (m->n == s->mag_cap) {
		/* caught before the magazine that holds it moves on */
		if (sc_unlikely(m->slot[m->n] == obj)) {
			slab_report(s, obj, "double free");
			return;
		}
		slab_tcache_flow(t, &allocs, &frees);
		slab_tcache_mark(t);
		if (!t->gather && frees >= 4 * allocs) {
			/*
			 * Freeing far more than allocating (a cache evicting
			 * old entries): the objects freed are scattered over
			 * slabs that are emptying, and each one handed out
			 * again would keep one of them from going back. So
			 * they leave the thread, and its allocations come
			 * from the slabs' partial lists, which gather them,
			 * until it allocates as much as it frees again.
			 */
			slab_mag_spill(s, t, &t->loaded);
			t->gather = true;
		}
		if (t->gather) {
			slab_mag_spill(s, t, &t->prev);
		} else {
			if (t->prev->n)
				slab_mag_spill(s, t, &t->prev);
			slab_swap_mags(t);
		}
		slab_tcache_set_free_mag(t);
	}
	slab_mag_push(s, t, t->free_mag, obj);
}

SC_API void sc_slab_free(struct sc_slab *s, void *obj)
{
	struct slab_thread *me;
	struct slab_tcache *t;
	struct slab_mag *m;

	if (!obj || sc_unlikely(!s))
		return;
	me = &slab_self;
	__asm__("" : "+r"(me)); /* one TLS lookup, see sc_slab_alloc() */
	/* a debug cache has no magazines: found by the slow path */
	t = slab_tcache_of(me, s);
	if (sc_unlikely(!t)) {
		slab_free_slow(s, me, obj);
		return;
	}
	m = t->free_mag;
	if (sc_unlikely(m->n == s->mag_cap)) {
		slab_free_slow(s, me, obj);
		return;
	}
	slab_mag_push(s, t, m, obj);
}

SC_API void sc_slab_free_bulk(struct sc_slab *s, void **objs, size_t n)
{
	unsigned long long allocs = 0, frees = 0;
	struct slab_page *pages[SLAB_MAG_SIZE], *p;
	unsigned int nb = 0, idx[SLAB_MAG_SIZE];
	const char *what;
	size_t i;

	if (sc_unlikely(!s || !objs))
		return;
	if (sc_unlikely(s->flags & SLAB_DEBUG_FLAGS)) {
		for (i = 0; i < n; i++)
			sc_slab_free(s, objs[i]);
		return;
	}
	/* each object's slab and index found once, by the check */
	for (i = 0; i < n; i++) {
		void *obj = objs[i];

		if (!obj)
			continue;
		p = slab_of(s, obj);
		what = slab_check_addr(s, p, obj, &idx[nb]);
		if (sc_unlikely(what)) {
			slab_report(s, obj, what);
			continue;
		}
		if (s->flags & SLAB_ASAN_POISON)
			slab_asan_poison(obj, s->slot_size);
		pages[nb++] = p;
		frees++;
		if (nb == SLAB_MAG_SIZE) {
			slab_push_pages(s, pages, idx, nb, false, &allocs,
					&frees);
			nb = 0;
		}
	}
	if (nb)
		slab_push_pages(s, pages, idx, nb, false, &allocs, &frees);
}

/* ------------------------------------------------------------ shrink */

/*
 * Context: @s live; no lock of @s held. Empty the depot, then give back
 * every shard's kept empty slabs. Return: bytes given back.
 */
static size_t slab_shrink_one(struct sc_slab *s)
{
	struct slab_page *p, *next;
	struct slab_shard *sh;
	size_t bytes = 0;
	unsigned int i;

	slab_depot_drain(s, true);
	for (i = 0; i < s->nr_shards; i++) {
		sh = &s->shards[i];
		sc_mutex_lock(&sh->lock);
		p = sh->lists[SLAB_EMPTY];
		sh->lists[SLAB_EMPTY] = NULL;
		slab_avail_add(sh, SLAB_EMPTY, -(int)sh->nr_empty);
		bytes += sh->nr_empty * s->slab_size;
		sh->nr_slabs -= sh->nr_empty;
		sh->nr_empty = 0;
		sc_mutex_unlock(&sh->lock);
		for (; p; p = next) {
			next = p->next;
			slab_page_release(s, p);
		}
	}
	return bytes;
}

/* Context: takes slab_caches_lock, then each cache's locks in turn. */
static size_t slab_shrink_all(void)
{
	struct sc_slab *s;
	size_t bytes = 0;

	sc_mutex_lock(&slab_caches_lock);
	for (s = slab_caches; s; s = s->gnext)
		bytes += slab_shrink_one(s);
	sc_mutex_unlock(&slab_caches_lock);
	return bytes;
}

SC_API size_t sc_slab_shrink(struct sc_slab *s)
{
	size_t bytes;

	if (s) {
		slab_tcache_flush_own(s);
		bytes = slab_shrink_one(s);
	} else {
		slab_tcache_flush_all();
		bytes = slab_shrink_all();
	}

	if (bytes)
		sc_block_purge();
	return bytes;
}

size_t sc_alloc_reclaim(void)
{
	size_t bytes;

	slab_tcache_flush_all();
	bytes = slab_shrink_all();

	sc_block_purge();
	return bytes;
}

unsigned int sc_alloc_set_decay_ms(unsigned int ms)
{
	return atomic_exchange(&slab_decay_ms, ms);
}

void sc_alloc_defer_release(void)
{
	atomic_fetch_add(&slab_release_deferred, 1);
}

size_t sc_alloc_reclaim_deferred(void)
{
	/* the caller's magazines empty into slabs kept for the reclaim */
	slab_tcache_flush_all();
	/* then: slabs emptied after the reclaim go back as usual */
	atomic_fetch_sub(&slab_release_deferred, 1);
	return sc_alloc_reclaim();
}

/* ------------------------------------------------------------ destroy */

static void slab_report_leaks(struct sc_slab *s, struct slab_page *p)
{
	const uint8_t *state = slab_state(s, p);
	unsigned int i;

	for (i = 0; i < s->nslots; i++)
		if (state[i] == OBJ_ALLOCATED)
			fprintf(stderr,
				"slabcache: slab %s: object %p still "
				"allocated at destroy\n",
				s->name, (void *)slab_obj(s, p, i));
}

static void slab_mag_list_free(struct slab_mag *m)
{
	struct slab_mag *next;

	for (; m; m = next) {
		next = m->next;
		sc_mem_aux_free(m);
	}
}

SC_API void sc_slab_destroy(struct sc_slab *s)
{
	struct slab_page *p, *next;
	struct slab_tcache *t;
	struct slab_shard *sh;
	unsigned int i, list;

	if (!s)
		return;
	t = slab_tcache_of(&slab_self, s);
	if (t) /* its objects go with the slabs */
		slab_tcache_forget(t);
	/*
	 * Other threads' magazines of @s are theirs: each finds the serial
	 * of a dead cache in its entry when it next uses the index, flushes
	 * or exits, and forgets the objects without reading them.
	 */
	sc_mutex_lock(&slab_caches_lock);
	slab_table[s->index] = NULL;
	if (s->gprev)
		s->gprev->gnext = s->gnext;
	else
		slab_caches = s->gnext;
	if (s->gnext)
		s->gnext->gprev = s->gprev;
	sc_mutex_unlock(&slab_caches_lock);

	slab_grow_forget(s);
	/* no other thread uses @s now: the depot's objects go too */
	slab_mag_list_free(s->depot.full);
	slab_mag_list_free(s->depot.empty);
	for (i = 0; i < s->nr_shards; i++) {
		sh = &s->shards[i];
		for (list = 0; list < SLAB_NR_LISTS; list++) {
			for (p = sh->lists[list]; p; p = next) {
				next = p->next;
				if (list != SLAB_EMPTY &&
				    (s->flags & SLAB_DEBUG_FLAGS))
					slab_report_leaks(s, p);
				slab_page_release(s, p);
			}
		}
	}
	sc_block_purge();
	slab_locks_destroy(s, s->nr_shards);
	sc_mutex_destroy(&s->depot.lock);
	sc_mem_free(s, s->bytes);
}

/* ------------------------------------------------------------ info */

/*
 * Context: no lock of @s held. Sum the shards' figures under each lock
 * in turn: exact when no other thread uses @s meanwhile.
 */
static void slab_info_sum(struct sc_slab *s, struct sc_slab_info *info)
{
	struct slab_depot *d = &s->depot;
	struct slab_shard *sh;
	size_t active = 0, in_depot = 0;
	unsigned int i;

	memset(info, 0, sizeof(*info));
	sc_mutex_lock(&d->lock);
	info->allocs = d->allocs;
	info->frees = d->frees;
	for (struct slab_mag *m = d->full; m; m = m->next)
		in_depot += m->n;
	sc_mutex_unlock(&d->lock);
	for (i = 0; i < s->nr_shards; i++) {
		sh = &s->shards[i];
		sc_mutex_lock(&sh->lock);
		active += sh->active;
		info->slabs += sh->nr_slabs;
		info->empty_slabs += sh->nr_empty;
		info->allocs += sh->allocs;
		info->frees += sh->frees;
		sc_mutex_unlock(&sh->lock);
	}
	info->name = s->name;
	info->object_size = s->object_size;
	info->slot_size = s->slot_size;
	info->objects_per_slab = s->objs;
	info->slab_size = s->slab_size;
	/* the depot's objects are free, though out of their slabs */
	info->active_objects = active > in_depot ? active - in_depot : 0;
	info->total_objects = info->slabs * s->objs;
	info->alloc_failures =
		atomic_load_explicit(&s->alloc_failures, memory_order_relaxed);
}

void sc_slab_get_held(struct sc_slab *s, struct sc_slab_held *held)
{
	struct slab_thread *me = &slab_self;
	struct slab_tcache *t = slab_tcache_of(me, s);
	struct slab_mag *m;

	memset(held, 0, sizeof(*held));
	sc_mutex_lock(&s->depot.lock);
	for (m = s->depot.full; m; m = m->next)
		held->depot += m->n;
	sc_mutex_unlock(&s->depot.lock);
	held->depot_max = (size_t)SLAB_DEPOT_MAX * s->mag_cap;
	if (t)
		held->mine = t->loaded->n + t->prev->n;
	held->mine_max = 2 * (size_t)s->mag_cap;
	held->shards = s->nr_shards;
	held->home = slab_shard_nr(s, slab_home(s, me));
}

size_t sc_slab_slot_size(const struct sc_slab *s)
{
	return s->slot_size;
}

SC_API int sc_slab_info(const struct sc_slab *s, struct sc_slab_info *info)
{
	struct sc_slab *ms = (struct sc_slab *)s; /* the locks are mutable */

	if (!s || !info)
		return sc_err(-EINVAL);
	slab_tcache_flush_own(ms);
	slab_depot_drain(ms, false);
	slab_info_sum(ms, info);
	return 0;
}

SC_API int sc_slabinfo_write(FILE *out)
{
	struct sc_slab_info info;
	struct sc_slab *s;
	int n = 0, err = 0;

	if (!out)
		return sc_err(-EINVAL);
	slab_tcache_flush_all();
	sc_mutex_lock(&slab_caches_lock);
	if (fprintf(out, "# %-22s %11s %9s %8s %10s %9s %6s %6s\n", "name",
		    "active_objs", "num_objs", "objsize", "objperslab",
		    "slabsize", "slabs", "empty") < 0)
		err = -EIO;
	for (s = slab_caches; s && !err; s = s->gnext) {
		slab_depot_drain(s, false);
		slab_info_sum(s, &info);
		if (fprintf(out, "%-24s %11zu %9zu %8zu %10zu %9zu %6zu %6zu\n",
			    info.name, info.active_objects, info.total_objects,
			    info.slot_size, info.objects_per_slab,
			    info.slab_size, info.slabs, info.empty_slabs) < 0)
			err = -EIO;
		else
			n++;
	}
	sc_mutex_unlock(&slab_caches_lock);
	if (!err && fflush(out))
		err = -EIO;
	return err ? sc_err(err) : n;
}
