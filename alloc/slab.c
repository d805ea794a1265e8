// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Slab object caches.
 *
 * A slab is slab_size bytes (a power of two, at least 64 KiB) from the
 * block layer (alloc/block.h), aligned to its own size, so the slab of any
 * object is found in O(1) by masking the object's address and adding the
 * slab's colour (slab_color()). Its layout:
 *
 *   +--------+-----------+----------------+-------------+-----+------+---
 *   | colour | slab_page | free_idx[objs] | state[objs] | pad | obj0 | ...
 *   | lines  | header    | u16 stack      | debug only  |     |      |
 *   +--------+-----------+----------------+-------------+-----+------+---
 *   ^ slab base, aligned  ^ header: offsets   objs_off from the header ^
 *
 * Free objects are kept as a stack of 16-bit object indexes in the slab
 * header rather than a list threaded through the objects themselves: an
 * allocation after frees in random order then reads only the (cached) slab
 * header, never a cold freed object, so a run of allocations is not a
 * chain of dependent DRAM misses (Documentation/slab.rst, "Free objects").
 *
 * Slabs are on one of three lists: partial (some objects free), full and
 * empty. Allocation takes the first partial slab, else an empty one, else
 * a new one: O(1). Up to SLAB_KEEP_EMPTY empty slabs are kept for reuse;
 * further slabs that become empty go back to their block at once (which
 * returns their pages once 2 MiB of them has gathered), and
 * sc_slab_shrink() gives back the kept ones too.
 *
 * On top of the slabs, each thread keeps a magazine per cache: a stack of
 * up to SLAB_MAG_SIZE free objects, refilled from and flushed to the slabs
 * SLAB_MAG_BATCH at a time under the cache lock. The common alloc/free
 * pair touches only the magazine: no lock (see "magazines" below).
 *
 * Debug flags (SC_SLAB_POISON, SC_SLAB_RED_ZONE) add a state byte per
 * object (free, allocated, quarantined) for exact double-free detection,
 * a check that a freed pointer lies in one of the cache's own slabs before
 * its slab header is read (a slab given back may be unmapped),
 * the poison pattern in free objects (checked on alloc) and a red zone
 * after each object (checked on free). Debug caches have no magazines.
 * Without debug flags, a pointer into another cache's slab or a misaligned
 * one is still refused, the first before it leaves the magazine (the
 * header that the pointer masks to is read unchecked, so a pointer from
 * outside every slab may fault), and a
 * double free of the most recently freed object is still caught (top of
 * the thread's magazine).
 *
 * Lock order: slab_caches_lock (the global list of live slab caches), then
 * a cache's lock. Magazines are thread-local and need no lock; flushing a
 * magazine whose cache may be gone takes slab_caches_lock to find it alive
 * first. The block layer is called with a cache lock held (new slab) or
 * with no lock (slabs going back are unlinked first; flushes). The
 * corruption handler runs with the cache lock held.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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
#define SLAB_KEEP_EMPTY 2
#define SLAB_RED_ZONE_MIN 8
#define SLAB_POISON_BYTE 0x6b
#define SLAB_RED_ZONE_BYTE 0xbb
#define SLAB_HWCACHE_LINE 64
#define SLAB_COLORS 8

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
	struct sc_slab *cache;
	struct sc_block *block; /* where it came from, see alloc/block.h */
	struct slab_page *prev, *next;
	unsigned int nr_free;
	unsigned int list;
	uint16_t free_idx[]; /* stack of free object indexes, top at nr_free */
};

struct sc_slab {
	struct sc_mutex lock;
	struct slab_page *lists[SLAB_NR_LISTS];
	struct slab_page *partial_tail; /* last on lists[SLAB_PARTIAL] */
	size_t nr_slabs, nr_empty, active;
	unsigned long long allocs, frees, alloc_failures;

	/* geometry: read-only after creation */
	size_t object_size, slot_size, slab_size;
	uintptr_t slab_mask;
	unsigned int slab_shift; /* log2(slab_size) */
	unsigned int color_mask; /* SLAB_COLORS - 1, or 0: no colouring */
	unsigned int objs, objs_off, state_off, flags;
	unsigned int slot_shift; /* log2(slot_size), if a power of two */
	uint64_t slot_recip; /* ceil(2^64 / slot_size), mod 2^64 */
	uint64_t objs_bytes; /* objs * slot_size */

	uint64_t id; /* unique for the process's life: keys magazines */
	struct sc_slab *gprev, *gnext; /* on slab_caches, under its lock */
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
static struct sc_slab *slab_caches;
static uint64_t slab_next_id = 1; /* under slab_caches_lock */

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

/* Context: s->lock held. If the handler returns, the caller abandons. */
static void slab_corruption(const struct sc_slab *s, const void *obj,
			    const char *what)
{
	sc_slab_corruption_fn fn = atomic_load(&slab_corruption_fn);

	if (!fn)
		fn = slab_report_default;
	fn(s->name, obj, what);
}

/* ------------------------------------------------------------ geometry */

static inline uint8_t *slab_state(const struct sc_slab *s, struct slab_page *p)
{
	return (uint8_t *)p + s->state_off;
}

static inline char *slab_obj(const struct sc_slab *s, struct slab_page *p,
			     unsigned int idx)
{
	return (char *)p + s->objs_off + (size_t)idx * s->slot_size;
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
 * SLAB_COLORS cache lines, as the colouring of Bonwick's slab allocator.
 */
static inline uintptr_t slab_color(const struct sc_slab *s, uintptr_t base)
{
	return ((base >> s->slab_shift) & s->color_mask) * SLAB_HWCACHE_LINE;
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

/* Objects of @slot bytes that fit a slab of @slab bytes, and where. */
static size_t slab_fit(size_t slab, size_t slot, size_t align, size_t per_obj,
		       bool debug, size_t *state_off, size_t *objs_off)
{
	size_t hdr = sizeof(struct slab_page);
	size_t objs;

	/* the header may start that far in: see slab_color() */
	if (align <= SLAB_HWCACHE_LINE)
		slab -= (SLAB_COLORS - 1) * SLAB_HWCACHE_LINE;
	objs = (slab - hdr) / (slot + per_obj);

	if (objs > SLAB_MAX_OBJS)
		objs = SLAB_MAX_OBJS;
	for (;;) {
		*state_off = hdr + objs * sizeof(uint16_t);
		*objs_off = round_up(*state_off + (debug ? objs : 0), align);
		if (*objs_off + objs * slot <= slab)
			return objs;
		objs--;
	}
}

static int slab_geometry(struct sc_slab *s, size_t size, size_t align,
			 unsigned int flags)
{
	bool debug = flags & SLAB_DEBUG_FLAGS;
	size_t slot, per_obj, hdr, need, slab, objs, state_off, objs_off;
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
	hdr = sizeof(struct slab_page);
	/*
	 * At least 4 objects per slab (2 above 1 MiB): a big object's cache
	 * holds few, and its one partly used slab should not be megabytes.
	 * Then the smallest power of two from there at which the slots use
	 * 7/8 of the slab, trying at most two doublings and none past 1 MiB.
	 */
	objs = slot <= ((size_t)1 << 20) ? 4 : 2;
	need = hdr + objs * per_obj + align + objs * slot;
	slab = roundup_pow2(need);
	if (slab < SLAB_MIN_SIZE)
		slab = SLAB_MIN_SIZE;
	for (i = 0;; i++) {
		objs = slab_fit(slab, slot, align, per_obj, debug, &state_off,
				&objs_off);
		if (objs * slot >= slab - slab / 8 || i == 2 ||
		    slab >= ((size_t)1 << 20))
			break;
		slab *= 2;
	}

	s->object_size = size;
	s->slot_size = slot;
	s->slab_size = slab;
	s->slab_mask = ~(uintptr_t)(slab - 1);
	s->slab_shift = (unsigned int)__builtin_ctzl(slab);
	/* a header moved by lines would misalign larger alignments */
	s->color_mask = align <= SLAB_HWCACHE_LINE ? SLAB_COLORS - 1 : 0;
	s->objs = (unsigned int)objs;
	s->objs_off = (unsigned int)objs_off;
	s->state_off = (unsigned int)state_off;
	s->objs_bytes = (uint64_t)objs * slot;
	s->slot_recip = UINT64_MAX / slot + 1;
	s->slot_shift = (unsigned int)__builtin_ctzl(slot);
	return 0;
}

/* ------------------------------------------------------------ lists */

static void slab_list_add(struct sc_slab *s, struct slab_page *p,
			  unsigned int list)
{
	struct slab_page **head = &s->lists[list];

	p->list = list;
	p->prev = NULL;
	p->next = *head;
	if (*head)
		(*head)->prev = p;
	else if (list == SLAB_PARTIAL)
		s->partial_tail = p;
	*head = p;
}

/*
 * A full slab that gets a free object goes to the end of the partial
 * list. Allocation takes the first partial slab, so it fills the slabs
 * that have been partial longest and reaches one that was just freed
 * into last. When frees outnumber allocations (a cache evicting a run of
 * old entries while inserting a few new ones), the new objects gather in
 * a few slabs instead of landing in each slab the evictions pass through,
 * each of which one new object would keep from going back.
 */
static void slab_list_add_partial_tail(struct sc_slab *s, struct slab_page *p)
{
	struct slab_page *tail = s->partial_tail;

	if (!tail) {
		slab_list_add(s, p, SLAB_PARTIAL);
		return;
	}
	p->list = SLAB_PARTIAL;
	p->next = NULL;
	p->prev = tail;
	tail->next = p;
	s->partial_tail = p;
}

static void slab_list_del(struct sc_slab *s, struct slab_page *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		s->lists[p->list] = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else if (p->list == SLAB_PARTIAL)
		s->partial_tail = p->prev;
}

static void slab_list_move(struct sc_slab *s, struct slab_page *p,
			   unsigned int list)
{
	slab_list_del(s, p);
	slab_list_add(s, p, list);
}

/* ------------------------------------------------------------ slabs */

/* Context: s->lock held. Counts one allocation attempt. */
static struct slab_page *slab_page_new(struct sc_slab *s)
{
	struct sc_block *block;
	struct slab_page *p;
	unsigned int i;
	char *base;

	if (sc_fault_count_attempt(sc_fault_thread_self()))
		return NULL;
	base = sc_block_slab_alloc(s->slab_size, &block);
	if (!base)
		return NULL;
	p = (struct slab_page *)(base + slab_color(s, (uintptr_t)base));
	p->cache = s;
	p->block = block;
	p->nr_free = s->objs;
	/* index 0 on top: a fresh slab is handed out in address order */
	for (i = 0; i < s->objs; i++)
		p->free_idx[i] = (uint16_t)(s->objs - 1 - i);
	if (s->flags & SLAB_DEBUG_FLAGS) {
		memset(slab_state(s, p), OBJ_FREE, s->objs);
		for (i = 0; i < s->objs; i++) {
			char *obj = slab_obj(s, p, i);

			if (s->flags & SC_SLAB_POISON)
				memset(obj, SLAB_POISON_BYTE, s->object_size);
			if (s->flags & SC_SLAB_RED_ZONE)
				memset(obj + s->object_size, SLAB_RED_ZONE_BYTE,
				       s->slot_size - s->object_size);
		}
	}
	if (s->flags & SLAB_ASAN_POISON)
		slab_asan_poison((char *)p + s->objs_off,
				 (size_t)s->objs * s->slot_size);
	return p;
}

/* Context: any; @p is on no list and no longer counted in @s. */
static void slab_page_release(struct sc_slab *s, struct slab_page *p)
{
	void *base = (void *)((uintptr_t)p & s->slab_mask);

	slab_asan_unpoison(base, s->slab_size);
	sc_block_slab_free(base, s->slab_size, p->block);
}

/* ------------------------------------------------------------ create */

SC_API struct sc_slab *sc_slab_create(const char *name, size_t size,
				      size_t align, unsigned int flags)
{
	struct sc_slab *s;
	size_t name_len, bytes;
	int err;

	if (!name || !*name || !size || (align & (align - 1)) ||
	    (flags & ~SLAB_VALID_FLAGS)) {
		errno = EINVAL;
		return NULL;
	}
	name_len = strlen(name);
	if (!sc_size_add(sizeof(*s), name_len + 1, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	s = sc_mem_zalloc(bytes);
	if (!s)
		return NULL;
	err = slab_geometry(s, size, align, flags);
	if (err)
		goto err_free;
	err = -sc_mutex_init(&s->lock);
	if (err)
		goto err_free;
	memcpy(s->name, name, name_len + 1);
	s->flags = flags;
#ifdef CONFIG_SC_ASAN
	/* own poison checks win in debug caches; ASan granules are 8 bytes */
	if (!(flags & SLAB_DEBUG_FLAGS) && !(s->slot_size % 8))
		s->flags |= SLAB_ASAN_POISON;
#endif

	sc_mutex_lock(&slab_caches_lock);
	s->id = slab_next_id++;
	s->gnext = slab_caches;
	if (slab_caches)
		slab_caches->gprev = s;
	slab_caches = s;
	sc_mutex_unlock(&slab_caches_lock);
	return s;

err_free:
	sc_mem_free(s, bytes);
	errno = -err;
	return NULL;
}

/* ------------------------------------------------------------ slab ops */

/*
 * Context: s->lock held. Take one free object out of the slabs: first
 * partial slab, else a kept empty one, else a new slab (one allocation
 * attempt). Return: the object, or NULL if a new slab was needed and could
 * not be had.
 */
static char *slab_pop_locked(struct sc_slab *s, struct slab_page **pp,
			     unsigned int *idxp)
{
	struct slab_page *p = s->lists[SLAB_PARTIAL];
	unsigned int idx;

	if (sc_unlikely(!p)) {
		p = s->lists[SLAB_EMPTY];
		if (p) {
			slab_list_move(s, p, SLAB_PARTIAL);
			s->nr_empty--;
		} else {
			p = slab_page_new(s);
			if (!p)
				return NULL;
			slab_list_add(s, p, SLAB_PARTIAL);
			s->nr_slabs++;
		}
	}
	idx = p->free_idx[--p->nr_free];
	if (sc_unlikely(!p->nr_free))
		slab_list_move(s, p, SLAB_FULL);
	s->active++;
	*pp = p;
	*idxp = idx;
	return slab_obj(s, p, idx);
}

/*
 * Context: s->lock held. Put object @idx back into slab @p.
 * Return: @p if it became empty and must go back to its block (it is
 * then off every list and uncounted), else NULL.
 */
static struct slab_page *slab_push_locked(struct sc_slab *s,
					  struct slab_page *p, unsigned int idx)
{
	bool was_full = !p->nr_free;

	p->free_idx[p->nr_free++] = (uint16_t)idx;
	s->active--;
	if (sc_unlikely(p->nr_free == s->objs)) {
		if (s->nr_empty < SLAB_KEEP_EMPTY ||
		    atomic_load_explicit(&slab_release_deferred,
					 memory_order_relaxed)) {
			slab_list_move(s, p, SLAB_EMPTY);
			s->nr_empty++;
			return NULL;
		}
		slab_list_del(s, p);
		s->nr_slabs--;
		return p;
	}
	if (sc_unlikely(was_full)) {
		slab_list_del(s, p);
		slab_list_add_partial_tail(s, p);
	}
	return NULL;
}

/*
 * Context: s->lock held. slab_push_locked(), and a slab that must go back
 * chained onto *@chain for slab_release_chain() after unlocking.
 */
static void slab_push_chain_locked(struct sc_slab *s, struct slab_page *p,
				   unsigned int idx, struct slab_page **chain)
{
	p = slab_push_locked(s, p, idx);
	if (p) {
		p->next = *chain;
		*chain = p;
	}
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

/*
 * Check that @obj is the start of an object slot of the slab it masks to,
 * by arithmetic on the geometry of @s: no memory is read. Return: NULL if
 * fine, else what is wrong.
 */
static inline const char *slab_check_offset(const struct sc_slab *s,
					    const struct slab_page *p,
					    const char *obj, unsigned int *idxp)
{
	const char *base = (const char *)p + s->objs_off;
	size_t off;
	unsigned int idx;

	if (obj < base)
		return "free of a pointer not from this slab";
	off = (size_t)(obj - base);
	if (off >= s->objs_bytes)
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
static inline bool slab_offset_ok(const struct sc_slab *s, const char *obj)
{
	uint64_t off =
		(uint64_t)(obj - (const char *)slab_of(s, obj)) - s->objs_off;

	return off < s->objs_bytes && off * s->slot_recip <= s->slot_recip - 1;
}

/*
 * slab_check_offset(), and that the slab @obj masks to belongs to @s.
 * Only immutable data is read (the slab header's owner, the geometry), so
 * no lock is needed.
 */
static const char *slab_check_addr(const struct sc_slab *s,
				   const struct slab_page *p, const char *obj,
				   unsigned int *idxp)
{
	if (p->cache != s)
		return "free of a pointer not from this slab";
	return slab_check_offset(s, p, obj, idxp);
}

/* Report with the cache lock held, as the handler's contract says. */
static __attribute__((noinline)) void
slab_report(struct sc_slab *s, const void *obj, const char *what)
{
	sc_mutex_lock(&s->lock);
	slab_corruption(s, obj, what);
	sc_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------ magazines */

/*
 * Per-thread magazines: each thread keeps, per slab cache, a small stack
 * of free objects (SLAB_MAG_SIZE), so that the common alloc/free pair
 * takes no lock: like jemalloc's tcache or SLUB's per-CPU slabs. The
 * table is direct-mapped by the cache's unique id; a collision flushes the
 * old cache's magazine (if that cache still lives) and takes the slot.
 *
 * A magazine is only ever touched by its own thread. Objects in it are
 * free for the user but still out of their slabs (counted in s->active);
 * the alloc/free counts it did are folded into the cache under its lock
 * whenever the magazine meets the cache (refill, flush). sc_slab_info(),
 * sc_slab_shrink(), sc_slabinfo_write() and sc_alloc_reclaim() flush the
 * calling thread's magazines first; a thread's magazines are flushed when
 * it exits. Caches with debug flags have no magazines: every operation
 * takes the lock and sees the exact object state.
 *
 * A free into a magazine checks the pointer's offset by arithmetic alone
 * and leaves the owner check (the slab header's cache, the one read that
 * may miss) for later, marking the object in m->unchecked: objects freed
 * in random order would otherwise cost one dependent cache miss each.
 * Every unchecked object is checked, headers fetched together, before any
 * object of the magazine is handed out or put back into a slab, so a
 * pointer of another cache is still refused before it can do harm.
 */
#define SLAB_MAG_SIZE 64
#define SLAB_MAG_BATCH 32
#define SLAB_MAG_SLOTS 16

struct slab_mag {
	struct sc_slab *s;
	uint64_t id; /* s->id when it was filled; 0: unused */
	unsigned int n;
	uint64_t unchecked; /* bit i: objs[i]'s owner not checked yet */
	unsigned long long allocs, frees; /* not yet folded into s */
	void *objs[SLAB_MAG_SIZE];
};

/* Everything per thread, in one TLS block: one TLS access per call. */
struct slab_thread {
	struct sc_fault_thread fault;
	bool mags_armed; /* exit destructor registered */
	struct slab_mag mags[SLAB_MAG_SLOTS];
};

static __thread struct slab_thread slab_self;

struct sc_fault_thread *sc_fault_thread_self(void)
{
	return &slab_self.fault;
}
static pthread_key_t slab_mag_key;
static pthread_once_t slab_mag_once = PTHREAD_ONCE_INIT;
static bool slab_mag_key_ok;

static inline struct slab_mag *slab_mag_of(struct slab_thread *me,
					   const struct sc_slab *s)
{
	return &me->mags[s->id & (SLAB_MAG_SLOTS - 1)];
}

/*
 * Context: @m belongs to @s; no lock needed (the owner of a slab with an
 * object out does not change). Check the owner of every object freed
 * into @m since it last met @s; drop and report those of another cache.
 * Their slab headers are fetched first, all at once, so that objects
 * freed in random order wait for one round of misses, not one each.
 */
static __attribute__((noinline)) void slab_mag_check(struct sc_slab *s,
						     struct slab_mag *m)
{
	uint64_t todo = m->unchecked, bits, bad = 0;
	unsigned int i, kept;

	for (bits = todo; bits; bits &= bits - 1)
		__builtin_prefetch(slab_of(s, m->objs[__builtin_ctzll(bits)]));
	for (bits = todo; bits; bits &= bits - 1) {
		i = (unsigned int)__builtin_ctzll(bits);
		if (sc_unlikely(slab_of(s, m->objs[i])->cache != s))
			bad |= 1ull << i;
	}
	m->unchecked = 0;
	if (sc_likely(!bad))
		return;
	for (i = kept = 0; i < m->n; i++) {
		if (!(bad >> i & 1)) {
			m->objs[kept++] = m->objs[i];
			continue;
		}
		if (s->flags & SLAB_ASAN_POISON) /* poisoned by its free */
			slab_asan_unpoison(m->objs[i], s->slot_size);
		m->frees--; /* the bad free is not counted */
		slab_report(s, m->objs[i],
			    "free of a pointer not from this slab");
	}
	m->n = kept;
}

/*
 * Context: s->lock held; @m belongs to @s and is checked. Put the @n
 * oldest objects of @m back into their slabs and fold its counters.
 * Return: a chain of slabs to give back after unlocking.
 */
static struct slab_page *
slab_mag_drain_locked(struct sc_slab *s, struct slab_mag *m, unsigned int n)
{
	struct slab_page *chain = NULL, *p, *pages[SLAB_MAG_SIZE];
	unsigned int i, idx[SLAB_MAG_SIZE];

	/* fetch every free_idx slot to be written before the first write */
	for (i = 0; i < n; i++) {
		const char *obj = m->objs[i];

		p = pages[i] = slab_of(s, obj);
		idx[i] = slab_obj_index(
			s, (uint32_t)(obj - ((const char *)p + s->objs_off)));
		__builtin_prefetch(&p->free_idx[p->nr_free], 1);
	}
	for (i = 0; i < n; i++)
		slab_push_chain_locked(s, pages[i], idx[i], &chain);
	memmove(m->objs, m->objs + n, (m->n - n) * sizeof(m->objs[0]));
	m->n -= n;
	s->allocs += m->allocs;
	s->frees += m->frees;
	m->allocs = m->frees = 0;
	return chain;
}

/* Context: @s live, s->lock not held; @m belongs to @s. Empty it. */
static void slab_mag_flush(struct sc_slab *s, struct slab_mag *m)
{
	struct slab_page *chain;

	if (m->unchecked)
		slab_mag_check(s, m);
	sc_mutex_lock(&s->lock);
	chain = slab_mag_drain_locked(s, m, m->n);
	sc_mutex_unlock(&s->lock);
	slab_release_chain(s, chain);
}

/*
 * Context: no lock held; takes slab_caches_lock, then the owner's lock.
 * Empty @m into its cache if that cache still lives, else just forget it
 * (its objects went with the destroyed cache's slabs). Then mark it unused.
 */
static void slab_mag_evict(struct slab_mag *m)
{
	struct slab_page *chain = NULL;
	struct sc_slab *s;

	if (!m->id)
		return;
	if (m->n || m->allocs || m->frees) {
		sc_mutex_lock(&slab_caches_lock);
		for (s = slab_caches; s; s = s->gnext) {
			if (s == m->s && s->id == m->id) {
				if (m->unchecked)
					slab_mag_check(s, m);
				sc_mutex_lock(&s->lock);
				chain = slab_mag_drain_locked(s, m, m->n);
				sc_mutex_unlock(&s->lock);
				/* s stays live: we hold slab_caches_lock */
				slab_release_chain(s, chain);
				break;
			}
		}
		sc_mutex_unlock(&slab_caches_lock);
	}
	m->n = 0;
	m->unchecked = 0;
	m->allocs = m->frees = 0;
	m->id = 0;
	m->s = NULL;
}

/* Flush every magazine of the calling thread. */
static void slab_mags_evict_all(void)
{
	unsigned int i;

	for (i = 0; i < SLAB_MAG_SLOTS; i++)
		slab_mag_evict(&slab_self.mags[i]);
}

static void slab_mag_thread_exit(void *unused)
{
	(void)unused;
	slab_mags_evict_all();
	/* a later destructor that uses a cache registers again */
	slab_self.mags_armed = false;
}

static void slab_mag_key_init(void)
{
	slab_mag_key_ok =
		!pthread_key_create(&slab_mag_key, slab_mag_thread_exit);
}

/* Make @m the calling thread's magazine of @s. */
static void slab_mag_take(struct sc_slab *s, struct slab_mag *m)
{
	if (m->id)
		slab_mag_evict(m);
	if (!slab_self.mags_armed) {
		pthread_once(&slab_mag_once, slab_mag_key_init);
		if (slab_mag_key_ok)
			pthread_setspecific(slab_mag_key, &slab_self);
		slab_self.mags_armed = true;
	}
	m->s = s;
	m->id = s->id;
}

/* Flush the calling thread's magazine of @s, if it has one. */
static void slab_mag_flush_own(struct sc_slab *s)
{
	struct slab_mag *m = slab_mag_of(&slab_self, s);

	if (m->id == s->id)
		slab_mag_flush(s, m);
}

/* ------------------------------------------------------------ alloc */

/* Context: s->lock held. Return: false if the object must not be used. */
static bool slab_debug_alloc(struct sc_slab *s, struct slab_page *p,
			     unsigned int idx, char *obj)
{
	uint8_t *state = &slab_state(s, p)[idx];
	size_t i;

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

/* Caches with debug flags: every allocation under the lock. */
static __attribute__((noinline)) void *slab_alloc_debug(struct sc_slab *s)
{
	struct slab_page *p;
	unsigned int idx;
	char *obj;

	sc_mutex_lock(&s->lock);
	do {
		obj = slab_pop_locked(s, &p, &idx);
		if (!obj)
			goto err_fail;
		if (!slab_debug_alloc(s, p, idx, obj))
			s->active--; /* quarantined: out of the slab for good */
		else
			break;
	} while (1);
	s->allocs++;
	sc_mutex_unlock(&s->lock);
	return obj;

err_fail:
	s->alloc_failures++;
	sc_mutex_unlock(&s->lock);
	errno = ENOMEM;
	return NULL;
}

/* The magazine is empty or not ours: refill it from the slabs. */
static __attribute__((noinline)) void *slab_alloc_refill(struct sc_slab *s,
							 struct slab_mag *m)
{
	struct slab_page *p;
	unsigned int idx, got = 0;
	char *objs[SLAB_MAG_BATCH], *obj;

	if (m->id != s->id)
		slab_mag_take(s, m);
	sc_mutex_lock(&s->lock);
	/* at most one new slab (one allocation attempt) per refill */
	while (got < SLAB_MAG_BATCH) {
		if (got && !s->lists[SLAB_PARTIAL] && !s->lists[SLAB_EMPTY])
			break;
		obj = slab_pop_locked(s, &p, &idx);
		if (!obj)
			break;
		objs[got++] = obj;
	}
	if (!got) {
		s->alloc_failures++;
		sc_mutex_unlock(&s->lock);
		errno = ENOMEM;
		return NULL;
	}
	s->allocs++;
	sc_mutex_unlock(&s->lock);
	/* first taken on top, so objects go out in the slab's order */
	for (idx = got - 1; idx > 0; idx--)
		m->objs[m->n++] = objs[idx];
	obj = objs[0];
	if (s->flags & SLAB_ASAN_POISON)
		slab_asan_unpoison(obj, s->slot_size);
	return obj;
}

/*
 * The magazine's top was freed with a pointer of another cache: put it
 * back unchecked for slab_mag_check() to refuse with the others.
 */
static __attribute__((noinline)) void *
slab_alloc_foreign(struct sc_slab *s, struct slab_mag *m, void *obj)
{
	m->unchecked |= 1ull << m->n;
	m->objs[m->n++] = obj;
	slab_mag_check(s, m);
	if (!m->n)
		return slab_alloc_refill(s, m);
	obj = m->objs[--m->n];
	m->allocs++;
	if (s->flags & SLAB_ASAN_POISON)
		slab_asan_unpoison(obj, s->slot_size);
	return obj;
}

SC_API void *sc_slab_alloc(struct sc_slab *s)
{
	struct slab_thread *me = &slab_self;
	struct slab_mag *m;
	void *obj;

	/* one TLS lookup: keep the compiler from redoing it for each use */
	__asm__("" : "+r"(me));
	if (sc_unlikely(!s)) {
		errno = EINVAL;
		return NULL;
	}
	if (sc_unlikely(sc_fault_count_attempt(&me->fault))) {
		sc_mutex_lock(&s->lock);
		s->alloc_failures++;
		sc_mutex_unlock(&s->lock);
		errno = ENOMEM;
		return NULL;
	}
	if (sc_unlikely(s->flags & SLAB_DEBUG_FLAGS))
		return slab_alloc_debug(s);
	m = slab_mag_of(me, s);
	if (sc_unlikely(m->id != s->id || !m->n))
		return slab_alloc_refill(s, m);
	obj = m->objs[--m->n];
	/*
	 * Freed into the magazine and not checked yet. An object freed and
	 * taken again at once is the common case: its header is still hot.
	 */
	if (m->unchecked >> m->n & 1) {
		m->unchecked &= ~(1ull << m->n);
		if (sc_unlikely(slab_of(s, obj)->cache != s))
			return slab_alloc_foreign(s, m, obj);
	}
	m->allocs++;
	if (s->flags & SLAB_ASAN_POISON)
		slab_asan_unpoison(obj, s->slot_size);
	return obj;
}

/* ------------------------------------------------------------ free */

/*
 * Context: s->lock held. Is @p one of the slabs @s holds? A debug cache
 * asks before it reads the header @obj masks to: after a double free
 * whose slab went back to the system, or for a pointer from elsewhere,
 * that address may not be mapped at all. O(slabs): debug caches only.
 */
static bool slab_holds_locked(const struct sc_slab *s,
			      const struct slab_page *p)
{
	const struct slab_page *q;
	unsigned int list;

	for (list = 0; list < SLAB_NR_LISTS; list++)
		for (q = s->lists[list]; q; q = q->next)
			if (q == p)
				return true;
	return false;
}

/* Caches with debug flags: every free under the lock, exact checks. */
static __attribute__((noinline)) void slab_free_debug(struct sc_slab *s,
						      char *obj)
{
	struct slab_page *release = NULL, *p = slab_of(s, obj);
	const char *what = "free of a pointer not from this slab";
	unsigned int idx;
	uint8_t *state;
	size_t i;

	sc_mutex_lock(&s->lock);
	if (!slab_holds_locked(s, p) ||
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
	s->frees++;
	release = slab_push_locked(s, p, idx);
out_unlock:
	sc_mutex_unlock(&s->lock);
	if (release) {
		slab_page_release(s, release);
		sc_block_flush();
	}
}

/* The magazine is full or not ours: make room, then keep @obj. */
static __attribute__((noinline)) void
slab_free_flush(struct sc_slab *s, struct slab_mag *m, void *obj)
{
	struct slab_page *chain;

	if (m->id != s->id)
		slab_mag_take(s, m);
	if (m->n == SLAB_MAG_SIZE && m->unchecked)
		slab_mag_check(s, m); /* may drop some */
	if (m->n == SLAB_MAG_SIZE) {
		sc_mutex_lock(&s->lock);
		chain = slab_mag_drain_locked(s, m, SLAB_MAG_BATCH);
		sc_mutex_unlock(&s->lock);
		slab_release_chain(s, chain);
	}
	m->unchecked |= 1ull << m->n;
	m->objs[m->n++] = obj;
	m->frees++;
}

/* slab_offset_ok() refused @obj: say why. */
static __attribute__((noinline)) void slab_report_offset(struct sc_slab *s,
							 const char *obj)
{
	unsigned int idx;
	const char *what = slab_check_offset(s, slab_of(s, obj), obj, &idx);

	slab_report(s, obj,
		    what ? what : "free of a pointer not from this slab");
}

SC_API void sc_slab_free(struct sc_slab *s, void *obj)
{
	struct slab_thread *me;
	struct slab_mag *m;

	if (!obj || sc_unlikely(!s))
		return;
	if (sc_unlikely(s->flags & SLAB_DEBUG_FLAGS)) {
		slab_free_debug(s, obj);
		return;
	}
	/* the owner is checked later, see "magazines" */
	if (sc_unlikely(!slab_offset_ok(s, obj))) {
		slab_report_offset(s, obj);
		return;
	}
	me = &slab_self;
	__asm__("" : "+r"(me)); /* one TLS lookup, see sc_slab_alloc() */
	m = slab_mag_of(me, s);
	if (sc_unlikely(m->id == s->id && m->n && m->objs[m->n - 1] == obj)) {
		slab_report(s, obj, "double free");
		return;
	}
	if (s->flags & SLAB_ASAN_POISON)
		slab_asan_poison(obj, s->slot_size);
	if (sc_unlikely(m->id != s->id || m->n == SLAB_MAG_SIZE)) {
		slab_free_flush(s, m, obj);
		return;
	}
	m->unchecked |= 1ull << m->n;
	m->objs[m->n++] = obj;
	m->frees++;
}

SC_API void sc_slab_free_bulk(struct sc_slab *s, void **objs, size_t n)
{
	struct slab_page *chain = NULL, *p;
	const char *what;
	unsigned int idx;
	size_t i;

	if (sc_unlikely(!s || !objs))
		return;
	if (sc_unlikely(s->flags & SLAB_DEBUG_FLAGS)) {
		for (i = 0; i < n; i++)
			sc_slab_free(s, objs[i]);
		return;
	}
	sc_mutex_lock(&s->lock);
	for (i = 0; i < n; i++) {
		void *obj = objs[i];

		if (!obj)
			continue;
		p = slab_of(s, obj);
		what = slab_check_addr(s, p, obj, &idx);
		if (sc_unlikely(what)) {
			slab_corruption(s, obj, what);
			continue;
		}
		if (s->flags & SLAB_ASAN_POISON)
			slab_asan_poison(obj, s->slot_size);
		s->frees++;
		slab_push_chain_locked(s, p, idx, &chain);
	}
	sc_mutex_unlock(&s->lock);
	slab_release_chain(s, chain);
}

/* ------------------------------------------------------------ shrink */

/* Context: @s live; takes s->lock. Return: bytes given back. */
static size_t slab_shrink_one(struct sc_slab *s)
{
	struct slab_page *p, *next;
	size_t bytes;

	sc_mutex_lock(&s->lock);
	p = s->lists[SLAB_EMPTY];
	s->lists[SLAB_EMPTY] = NULL;
	bytes = s->nr_empty * s->slab_size;
	s->nr_slabs -= s->nr_empty;
	s->nr_empty = 0;
	sc_mutex_unlock(&s->lock);
	for (; p; p = next) {
		next = p->next;
		slab_page_release(s, p);
	}
	return bytes;
}

/* Context: takes slab_caches_lock, then each cache's lock in turn. */
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
		slab_mag_flush_own(s);
		bytes = slab_shrink_one(s);
	} else {
		slab_mags_evict_all();
		bytes = slab_shrink_all();
	}

	if (bytes)
		sc_block_purge();
	return bytes;
}

size_t sc_alloc_reclaim(void)
{
	size_t bytes;

	slab_mags_evict_all();
	bytes = slab_shrink_all();

	sc_block_purge();
	return bytes;
}

void sc_alloc_defer_release(void)
{
	atomic_fetch_add(&slab_release_deferred, 1);
}

size_t sc_alloc_reclaim_deferred(void)
{
	/* the caller's magazines empty into slabs kept for the reclaim */
	slab_mags_evict_all();
	/* then: slabs emptied after the reclaim go back as usual */
	atomic_fetch_sub(&slab_release_deferred, 1);
	return sc_alloc_reclaim();
}

/* ------------------------------------------------------------ destroy */

static void slab_report_leaks(struct sc_slab *s, struct slab_page *p)
{
	const uint8_t *state = slab_state(s, p);
	unsigned int i;

	for (i = 0; i < s->objs; i++)
		if (state[i] == OBJ_ALLOCATED)
			fprintf(stderr,
				"slabcache: slab %s: object %p still "
				"allocated at destroy\n",
				s->name, (void *)slab_obj(s, p, i));
}

SC_API void sc_slab_destroy(struct sc_slab *s)
{
	struct slab_page *p, *next;
	struct slab_mag *m;
	unsigned int list;

	if (!s)
		return;
	m = slab_mag_of(&slab_self, s);
	if (m->id == s->id) { /* its objects go with the slabs */
		m->n = 0;
		m->unchecked = 0;
		m->allocs = m->frees = 0;
		m->id = 0;
		m->s = NULL;
	}
	sc_mutex_lock(&slab_caches_lock);
	if (s->gprev)
		s->gprev->gnext = s->gnext;
	else
		slab_caches = s->gnext;
	if (s->gnext)
		s->gnext->gprev = s->gprev;
	sc_mutex_unlock(&slab_caches_lock);

	for (list = 0; list < SLAB_NR_LISTS; list++) {
		for (p = s->lists[list]; p; p = next) {
			next = p->next;
			if (list != SLAB_EMPTY && (s->flags & SLAB_DEBUG_FLAGS))
				slab_report_leaks(s, p);
			slab_page_release(s, p);
		}
	}
	sc_block_purge();
	sc_mutex_destroy(&s->lock);
	sc_mem_free(s, sizeof(*s) + strlen(s->name) + 1);
}

/* ------------------------------------------------------------ info */

/* Context: s->lock held. */
static void slab_info_locked(const struct sc_slab *s, struct sc_slab_info *info)
{
	info->name = s->name;
	info->object_size = s->object_size;
	info->slot_size = s->slot_size;
	info->objects_per_slab = s->objs;
	info->slab_size = s->slab_size;
	info->active_objects = s->active;
	info->total_objects = s->nr_slabs * s->objs;
	info->slabs = s->nr_slabs;
	info->empty_slabs = s->nr_empty;
	info->allocs = s->allocs;
	info->frees = s->frees;
	info->alloc_failures = s->alloc_failures;
}

size_t sc_slab_slot_size(const struct sc_slab *s)
{
	return s->slot_size;
}

SC_API int sc_slab_info(const struct sc_slab *s, struct sc_slab_info *info)
{
	struct sc_slab *ms = (struct sc_slab *)s; /* the lock is mutable */

	if (!s || !info)
		return sc_err(-EINVAL);
	slab_mag_flush_own(ms);
	sc_mutex_lock(&ms->lock);
	slab_info_locked(s, info);
	sc_mutex_unlock(&ms->lock);
	return 0;
}

SC_API int sc_slabinfo_write(FILE *out)
{
	struct sc_slab_info info;
	struct sc_slab *s;
	int n = 0, err = 0;

	if (!out)
		return sc_err(-EINVAL);
	slab_mags_evict_all();
	sc_mutex_lock(&slab_caches_lock);
	if (fprintf(out, "# %-22s %11s %9s %8s %10s %9s %6s %6s\n", "name",
		    "active_objs", "num_objs", "objsize", "objperslab",
		    "slabsize", "slabs", "empty") < 0)
		err = -EIO;
	for (s = slab_caches; s && !err; s = s->gnext) {
		sc_mutex_lock(&s->lock);
		slab_info_locked(s, &info);
		sc_mutex_unlock(&s->lock);
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
