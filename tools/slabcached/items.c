// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabcached items: memory from slab size classes, indexed by one sc_cache.
 *
 * Size classes grow from 96 bytes by 2.5 % (at least 8 bytes) up to 4 KiB,
 * then by the factor
 * -f (1.25, as memcached) up to a chunk maximum of about 512 KiB; every
 * class is one sc_slab. An
 * item's header and chunk table share one object of the smallest class
 * that holds them; its value (with the trailing "\r\n") lives in the same
 * object when header and value fit in the chunk maximum (as in
 * memcached), else in full-size chunks and a last chunk of the class that
 * fits the rest. Freeing an item frees its objects, so a slab whose items
 * are all gone is empty and can go back.
 *
 * The sc_cache holds every linked item under its key with cost = the slab
 * bytes the item really holds (its objects' shares of full slabs) plus the
 * library's memory for its entry (sc_cache_entry_memory()), and limit =
 * -m less the free slots that other sizes strand in slabs still in use
 * (limit_follow_slabs()), so the cache's LRU eviction keeps item memory,
 * index and those slabs under -m, and its shrinker sheds items under
 * pressure. Its release callback frees
 * the item. Keys are bytes (the binary protocol and base64 meta keys may
 * hold NUL): the library's string key is the key with bytes 0 and 1
 * escaped (index_key()). The item does not keep its key: the entry's copy
 * is the only one (sc_entry_string_key(), unescaped by raw_key()), and the
 * callers that store an item pass its key along with it.
 *
 * Readers pin with sc_cache_get() and put when the value has been sent.
 * Writers (every store, delete, incr/decr, touch and gat, and the slab
 * mover's copies) take the stripe lock of the key first, so a
 * check-then-insert (add, cas, append, incr) is atomic against other
 * writers of the same key, and a copy replaces exactly the item it was
 * made from. A linked item's key and value never change (append and incr
 * make a new item); its exptime, access time and flags (fetched, stale,
 * token sent) do.
 *
 * "stats cachedump", the flush sweep and the expiry crawler walk the items
 * with sc_cache_scan(), a batch of pinned entries at a time.
 *
 * flush_all is memcached's: items stored before oldest_live, or whose CAS
 * unique is below oldest_cas, read as absent from then on; the sweep two
 * ticks later (sd_items_tick()) drops the ones nobody looked up and gives
 * their memory back.
 *
 * Lock order: stripe lock, then the library's cache and slab locks;
 * limit_lock (cache_memlimit) before the library's.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "slabcached.h"

#define SD_CLASS_MIN 96
/*
 * Below 4 KiB the classes grow by 2.5 %, not -f: a small item's rounding
 * is a large share of it (with 8 % steps a 1 KB value's item of 1,061
 * bytes took a 1,136-byte slot, 7 % of it wasted, where memcached's 1.25
 * loses 10 %), and the slabs of these classes are small (64 KiB), so the
 * extra classes cost little slack: a workload fills a few of them. 8-byte
 * steps (the item's alignment) up to 320 bytes, 142 classes in all with
 * -f 1.25, within SD_MAX_CLASSES.
 */
#define SD_FINE_CLASSES_BELOW 4096
#define SD_FINE_FACTOR 1.025
#define SD_CHUNK_TARGET (512u * 1024)
#define SD_STRIPES 1024
#define SD_SWEEP_BATCH 64
/* items the expiry crawler looks at per tick */
#define SD_CRAWL_BATCH 16384
/* an escaped key: every byte may double, plus the NUL */
#define SD_INDEX_KEY_MAX (2 * SD_KEY_MAX + 1)

struct sd_class {
	struct sc_slab *slab;
	size_t size; /* usable bytes */
	/*
	 * Bytes charged per object: its share of a full slab, so the slot
	 * and the slab's tail that no object fits in are both counted.
	 */
	size_t charge;
	/* items whose header is in this class ("stats items") */
	atomic_ullong number, requested, outofmemory, evicted;
	atomic_ullong evicted_unfetched, expired_unfetched, reclaimed;
	atomic_ullong evicted_nonzero;
	_Atomic sd_rel_time evicted_time;
};

static struct sd_class classes[SD_MAX_CLASSES];
static unsigned int nclasses;
/*
 * The classes shown: memcached's series (96 bytes growing by -f, then the
 * chunk size), so that "stats slabs", "stats items", "stats cachedump" and
 * me's cls= number classes as memcached does (tools and memcached's tests
 * read items:31:... for a 64 KiB item). Each of ours counts in the first
 * shown class at least as big.
 */
static size_t disp_size[SD_MAX_CLASSES];
static uint8_t disp_of[SD_MAX_CLASSES];
static unsigned int ndisp;
static size_t chunk_max;
static struct sc_cache *cache;
static pthread_mutex_t stripes[SD_STRIPES];
/* header object sizes up to SD_FINE_CLASSES_BELOW: their class, by size/8 */
static uint8_t small_class[SD_FINE_CLASSES_BELOW / 8 + 1];
/*
 * Above it, up to the chunk size: the class of the smallest size of each
 * SD_MID_STEP bytes, where class_of_size() starts looking.
 */
#define SD_MID_STEP 512
static uint8_t mid_class[SD_CHUNK_TARGET / SD_MID_STEP + 1];
static atomic_ullong cas_counter;
/* -M: stores are checked against the limit one at a time */
static pthread_mutex_t no_evict_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * flush_all, as memcached's settings.oldest_live and oldest_cas: once
 * oldest_live (0: none) has come, an item stored at or before it, or whose
 * CAS unique is below oldest_cas, reads as absent.
 */
static _Atomic sd_rel_time oldest_live;
static atomic_ullong oldest_cas;
static _Atomic sd_rel_time sweep_at; /* 0: no sweep pending */

/*
 * Accounting of releases by the thread that runs them: a release that is
 * neither shed, nor part of a clear, nor of an item we unlinked ourselves
 * (ITEM_FLAG_DROPPED) is an eviction by the limit.
 */
static _Thread_local bool shedding, clearing;
static _Thread_local unsigned long long shed_items, shed_bytes;

/*
 * -m in bytes (cache_memlimit changes it), and what the slabs strand:
 * free slots in slabs that still hold an item, which no other size can
 * use, beyond SD_STRANDED_SLABS slabs' worth per class. The cache's limit
 * is -m less that (limit_follow_slabs()), so that items and the slabs
 * they keep resident stay under -m together.
 */
#define SD_STRANDED_SLABS 2
static atomic_size_t base_limit;
/* cache_memlimit's: one at a time, so that -m as shown is the one in use */
static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_ullong stranded_bytes, stranded_evictions;
/*
 * the slab mover's: slabs emptied, items copied out of them (and their
 * value chunks), items evicted from them, whether a move is under way,
 * and the main thread's time in it: the last tick's and the longest
 */
static atomic_ullong slabs_moved, reassign_rescues, reassign_chunk_rescues;
static atomic_ullong reassign_evictions, reassign_running;
static atomic_ullong mover_slice_us, mover_slice_us_max;

/* Reset baselines of the library's counters (stats reset). */
static atomic_ullong evictions_base, shrunk_base;
/* the expiry sweep (memcached's LRU crawler, in "stats") */
static atomic_ullong crawler_reclaimed, crawler_items_checked;

#define ITEM_FLAG_DROPPED 0x80 /* unlinked by us, not evicted */

static void mover_stop(void);

size_t sd_chunk_max(void)
{
	return chunk_max;
}

/* The classes shown (memcached's numbering, 0-based here). */
unsigned int sd_nclasses(void)
{
	return ndisp;
}

static void display_classes(void)
{
	double size = SD_CLASS_MIN;
	unsigned int i, d = 0;

	ndisp = 0;
	while (ndisp < SD_MAX_CLASSES - 1) {
		size_t sz = ((size_t)size + 7) & ~(size_t)7;

		if (ndisp && sz <= disp_size[ndisp - 1])
			sz = disp_size[ndisp - 1] + 8;
		if (sz >= SD_CHUNK_TARGET / sd_settings.factor)
			break;
		disp_size[ndisp++] = sz;
		size = (double)sz * sd_settings.factor;
	}
	disp_size[ndisp++] = chunk_max;
	for (i = 0; i < nclasses; i++) {
		while (d + 1 < ndisp && disp_size[d] < classes[i].size)
			d++;
		disp_of[i] = (uint8_t)d;
	}
}

uint64_t sd_next_cas(void)
{
	return sd_settings.use_cas ? atomic_fetch_add(&cas_counter, 1) + 1 : 0;
}

/* out of line: class_of_size() inlines its table look-up instead */
static __attribute__((noinline)) int class_for(size_t size)
{
	unsigned int lo = 0, hi = nclasses;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		if (classes[mid].size < size)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nclasses ? (int)lo : -1;
}

/* ------------------------------------------------------------ keys */

/* Whether any byte of @key is 0x00 or 0x01: 16 or 8 bytes at a time. */
static bool has_escaped(const char *key, size_t nkey)
{
	size_t i = 0;

#ifdef __SSE2__
	if (nkey >= 16) {
		const __m128i one = _mm_set1_epi8(1);
		__m128i any = _mm_setzero_si128(), x;

		for (; i + 16 <= nkey; i += 16) {
			x = _mm_loadu_si128((const __m128i *)(key + i));
			/* min(x, 1) == x exactly for the bytes 0 and 1 */
			any = _mm_or_si128(
				any, _mm_cmpeq_epi8(_mm_min_epu8(x, one), x));
		}
		if (i < nkey) { /* the last 16, overlapping */
			x = _mm_loadu_si128((const __m128i *)(key + nkey - 16));
			any = _mm_or_si128(
				any, _mm_cmpeq_epi8(_mm_min_epu8(x, one), x));
		}
		return _mm_movemask_epi8(any) != 0;
	}
#endif
	if (nkey >= 8) {
		const uint64_t ones = 0x0101010101010101ull;
		uint64_t any = 0, w;

		for (; i + 8 <= nkey; i += 8) {
			memcpy(&w, key + i, 8);
			w &= ~ones; /* 0x00 and 0x01 become 0 */
			any |= (w - ones) & ~w; /* a zero byte sets its bit 7 */
		}
		if (i < nkey) { /* the last 8, overlapping */
			memcpy(&w, key + nkey - 8, 8);
			w &= ~ones;
			any |= (w - ones) & ~w;
		}
		return (any & (ones << 7)) != 0;
	}
	for (; i < nkey; i++)
		if ((unsigned char)key[i] <= 1)
			return true;
	return false;
}

/*
 * How many bytes of @key are 0x00 or 0x01, the ones index_key() escapes.
 * Almost every key has none, and a lookup checks all its bytes: only a
 * key that has some is counted byte by byte.
 */
static size_t escaped_bytes(const char *key, size_t nkey)
{
	size_t i, n = 0;

	if (!has_escaped(key, nkey))
		return 0;
	for (i = 0; i < nkey; i++)
		n += (unsigned char)key[i] <= 1;
	return n;
}

/*
 * The library's key for @key: the bytes as they are, with 0x01 written as
 * 0x01 0x02 and 0x00 as 0x01 0x03, so that every byte string maps to a
 * distinct C string and a key without those bytes maps to itself.
 */
static const char *index_key(const char *key, size_t nkey, char *buf)
{
	size_t i, o = 0;

	if (!escaped_bytes(key, nkey)) {
		memcpy(buf, key, nkey);
		buf[nkey] = '\0';
		return buf;
	}
	for (i = 0; i < nkey; i++) {
		unsigned char ch = (unsigned char)key[i];

		if (ch > 1) {
			buf[o++] = (char)ch;
		} else {
			buf[o++] = 1;
			buf[o++] = (char)(ch + 2);
		}
	}
	buf[o] = '\0';
	return buf;
}

/* The key as stored by the client, from the library's: index_key() undone. */
static size_t raw_key(const char *ikey, size_t ilen, char *buf)
{
	size_t i, o = 0;

	for (i = 0; i < ilen; i++) {
		if (ikey[i] == 1 && i + 1 < ilen)
			buf[o++] = (char)(ikey[++i] - 2);
		else
			buf[o++] = ikey[i];
	}
	return o;
}

static pthread_mutex_t *stripe_of(const char *key, size_t nkey)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	size_t i;

	for (i = 0; i < nkey; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return &stripes[h % SD_STRIPES];
}

/* ------------------------------------------------------------ layout */

#define SD_ITEM_HDR offsetof(struct sd_item, data)

/* The optional header fields that a value of @vlen bytes and @flags need. */
static inline unsigned int hdr_opt_flags(size_t vlen, uint32_t flags)
{
	return (vlen > UINT16_MAX ? SD_ITEM_LONG : 0) |
	       (flags ? SD_ITEM_CFLAGS : 0);
}

/* The header's bytes, optional fields included, before the value. */
static inline size_t hdr_len(unsigned int opt)
{
	return sd_item_hdr_len(opt);
}

static inline unsigned int item_opt(const struct sd_item *it)
{
	return atomic_load_explicit(&it->iflags, memory_order_relaxed) &
	       (SD_ITEM_LONG | SD_ITEM_CFLAGS);
}

/*
 * The value is the one chunk, inside the header object, when header and
 * value fit in a chunk (as in memcached): fixed by the length and the
 * optional fields. The item keeps the answer in a flag (SD_ITEM_CHUNKED),
 * in the byte that holds the others, so that a hit finds its value
 * without computing it (sd_item_value_room(), inline in slabcached.h).
 */
static inline bool fits_inline(size_t vlen, unsigned int opt)
{
	return hdr_len(opt) + vlen <= chunk_max;
}

static inline bool item_inline(const struct sd_item *it)
{
	return sd_item_inline(it);
}

/* Where a chunked item's table starts: after the header, pointer aligned. */
static inline size_t chunk_table_off(unsigned int opt)
{
	return (hdr_len(opt) + sizeof(char *) - 1) & ~(sizeof(char *) - 1);
}

static char **chunk_table(const struct sd_item *it)
{
	return (char **)((char *)it + chunk_table_off(item_opt(it)));
}

static inline size_t nchunks_of(size_t vlen)
{
	return vlen ? (vlen + chunk_max - 1) / chunk_max : 1;
}

/* sd_item_nchunks() of a chunked item. */
unsigned int sd_item_nchunks_chunked(const struct sd_item *it)
{
	return (unsigned int)nchunks_of(sd_item_vlen(it));
}

char *sd_item_chunk(const struct sd_item *it, unsigned int i)
{
	if (item_inline(it))
		return (char *)it + hdr_len(item_opt(it));
	return chunk_table(it)[i];
}

size_t sd_item_chunk_len(const struct sd_item *it, unsigned int i)
{
	size_t vlen = sd_item_vlen(it);
	unsigned int n;

	if (item_inline(it))
		return vlen;
	n = (unsigned int)nchunks_of(vlen);
	if (i + 1 < n)
		return chunk_max;
	return vlen - (size_t)(n - 1) * chunk_max;
}

/* sd_item_value_room() of a chunked item. */
size_t sd_item_value_room_chunked(const struct sd_item *it, size_t off,
				  char **buf)
{
	size_t vlen = sd_item_vlen(it);

	if (off >= vlen)
		return 0;
	*buf = chunk_table(it)[off / chunk_max] + off % chunk_max;
	if (off / chunk_max + 1 < nchunks_of(vlen))
		return chunk_max - off % chunk_max;
	return vlen - off;
}

/*
 * Copy @len bytes into the value at @off. Bytes past the value (its
 * "\r\n", which is not stored) are dropped.
 */
void sd_item_copy_in(struct sd_item *it, size_t off, const void *src,
		     size_t len)
{
	const char *s = src;

	while (len) {
		char *dst;
		size_t n = sd_item_value_room(it, off, &dst);

		if (!n)
			return;
		if (n > len)
			n = len;
		memcpy(dst, s, n);
		s += n;
		off += n;
		len -= n;
	}
}

/* The value's byte at @off; its "\r\n" at the two offsets past its end. */
static char value_at(const struct sd_item *it, size_t off)
{
	size_t vlen = sd_item_vlen(it);

	if (off >= vlen)
		return "\r\n"[off - vlen];
	if (item_inline(it))
		return ((const char *)it + hdr_len(item_opt(it)))[off];
	return chunk_table(it)[off / chunk_max][off % chunk_max];
}

/* ------------------------------------------------------------ sizes */

/*
 * memcached's item size: its header (48 bytes, 8 more for the CAS), key
 * and NUL, 4 bytes of flags unless they are 0, and the value with "\r\n".
 * -I and the point where memcached chunks a value are both applied to it,
 * so that "too large" and "non-numeric" fall at the same byte.
 */
static size_t mc_item_total(size_t nkey, uint32_t flags, size_t nbytes)
{
	return SD_MC_ITEM_HEADER + (sd_settings.use_cas ? SD_MC_CAS_SIZE : 0) +
	       nkey + 1 + (flags ? 4 : 0) + nbytes;
}

bool sd_item_size_ok(size_t nkey, uint32_t flags, size_t nbytes)
{
	return nbytes >= 2 &&
	       mc_item_total(nkey, flags, nbytes) <= sd_settings.item_size_max;
}

/* The size of an item's header object, from the value's length. */
static inline size_t hdr_object_size(size_t vlen, unsigned int opt)
{
	if (fits_inline(vlen, opt))
		return hdr_len(opt) + vlen;
	return chunk_table_off(opt) + nchunks_of(vlen) * sizeof(char *);
}

/*
 * The class of an object of @size bytes: one load below 4 KiB, where
 * almost every item header is (the item does not store its class), and
 * up to the chunk size one load and a step or two (the classes there are
 * -f apart, more than SD_MID_STEP with -f 1.25): a 10 KB hit asks for its
 * class to count get_hits by class.
 */
static inline int class_of_size(size_t size)
{
	unsigned int c;

	if (size <= SD_FINE_CLASSES_BELOW)
		return small_class[(size + 7) / 8];
	if (size > chunk_max)
		return -1;
	c = mid_class[(size - 1) / SD_MID_STEP];
	while (classes[c].size < size)
		c++;
	return (int)c;
}

static inline __attribute__((always_inline)) unsigned int
item_hdr_class(const struct sd_item *it)
{
	unsigned int f =
		atomic_load_explicit(&it->iflags, memory_order_relaxed);
	size_t vlen = sd_item_vlen(it);

	if (__builtin_expect(!(f & SD_ITEM_CHUNKED), 1))
		return (unsigned int)class_of_size(hdr_len(f) + vlen);
	return (unsigned int)class_of_size(chunk_table_off(f) +
					   nchunks_of(vlen) * sizeof(char *));
}

/* The item's class as shown (memcached's numbering, 0-based). */
unsigned int sd_item_class(const struct sd_item *it)
{
	return disp_of[item_hdr_class(it)];
}

size_t sd_item_total(const struct sd_item *it)
{
	return mc_item_total(it->nkey, sd_item_flags(it), sd_item_nbytes(it));
}

/* The escaped key's length (what the library stores). */
static size_t index_key_len(const char *key, size_t nkey)
{
	return nkey + escaped_bytes(key, nkey);
}

/*
 * Bytes the item holds: its objects' charges and the library's entry for
 * a key of @ilen bytes (escaped, as index_key_len()), whose size depends
 * on the cost it keeps (sc_cache_entry_memory_cost()).
 */
static size_t item_cost(const struct sd_item *it, size_t ilen)
{
	size_t objects = classes[item_hdr_class(it)].charge;
	unsigned int i, n;

	if (!item_inline(it)) {
		n = sd_item_nchunks(it);
		for (i = 0; i < n; i++) {
			size_t len = sd_item_chunk_len(it, i);

			objects += classes[class_of_size(len ? len : 1)].charge;
		}
	}
	return objects + sc_cache_entry_memory_cost(
				 cache, ilen,
				 objects + sc_cache_entry_memory(cache, ilen));
}

/* ------------------------------------------------------------ lifetime */

static void free_objects(struct sd_item *it, unsigned int nchunks)
{
	unsigned int i;

	if (!item_inline(it)) {
		for (i = 0; i < nchunks; i++) {
			size_t len = sd_item_chunk_len(it, i);

			sc_slab_free(classes[class_of_size(len ? len : 1)].slab,
				     chunk_table(it)[i]);
		}
	}
	sc_slab_free(classes[item_hdr_class(it)].slab, it);
}

/*
 * The cache lets go of an item: evicted, removed, replaced, cleared or
 * shed. Count why (what we unlink ourselves is marked first), then free.
 */
static void item_release(void *value, void *priv)
{
	struct sd_item *it = value;
	struct sd_class *cl = &classes[item_hdr_class(it)];
	uint8_t f = atomic_load(&it->iflags);

	atomic_fetch_sub(&cl->number, 1);
	atomic_fetch_sub(&cl->requested, sd_item_total(it));
	if (shedding) {
		shed_items++;
		/* the key is not at hand: its raw length (escapes uncounted) */
		shed_bytes += item_cost(it, it->nkey);
	} else if (!clearing && !(f & ITEM_FLAG_DROPPED)) {
		/* not ours, not a clear: the limit evicted it */
		atomic_fetch_add(&cl->evicted, 1);
		if (!(f & SD_ITEM_FETCHED))
			atomic_fetch_add(&cl->evicted_unfetched, 1);
		if (atomic_load(&it->exptime))
			atomic_fetch_add(&cl->evicted_nonzero, 1);
		atomic_store(&cl->evicted_time,
			     sd_now() - atomic_load(&it->time));
	}
	free_objects(it, sd_item_nchunks(it));
}

static const struct sc_cache_ops item_ops = {
	.release = item_release,
};

/* Append the size class of @size-byte objects. */
static int class_add(size_t size)
{
	struct sd_class *cl = &classes[nclasses];
	struct sc_slab_info info;
	char name[32];

	snprintf(name, sizeof(name), "slabcached-%zu", size);
	cl->slab = sc_slab_create(name, size, 8, 0);
	if (!cl->slab)
		return -1;
	sc_slab_info(cl->slab, &info);
	cl->size = size;
	cl->charge = info.slab_size / info.objects_per_slab;
	nclasses++;
	return 0;
}

/*
 * The largest class holds value chunks. Its size is the largest multiple
 * of 64 up to 512 KiB whose objects fill their slab: if the slab's own
 * header leaves one object short (7 of 512 KiB in 4 MiB), chunks a little
 * smaller than 512 KiB that fit 8 cost 12 % less per byte.
 */
static int class_add_top(void)
{
	size_t size = SD_CHUNK_TARGET;
	struct sc_slab_info info;
	int tries;

	for (tries = 0; tries < 8; tries++) {
		struct sc_slab *s;
		size_t fit;

		s = sc_slab_create("slabcached-probe", size, 8, 0);
		if (!s)
			return -1;
		sc_slab_info(s, &info);
		sc_slab_destroy(s);
		if (info.objects_per_slab * size * 100 >= info.slab_size * 99)
			break;
		fit = (info.slab_size / (info.objects_per_slab + 1)) &
		      ~(size_t)63;
		size = fit < size ? fit : size - 64;
	}
	if (nclasses && size <= classes[nclasses - 1].size)
		size = SD_CHUNK_TARGET;
	if (class_add(size))
		return -1;
	chunk_max = size;
	return 0;
}

/*
 * The sizes of the classes below the chunk class, growing by @fine below
 * 4 KiB and by -f above. Return: how many, or -1 if they would not reach
 * the chunk size within SD_MAX_CLASSES.
 */
static int class_sizes(double fine, size_t *sizes)
{
	double size = SD_CLASS_MIN;
	int n = 0;

	for (;;) {
		size_t sz = ((size_t)size + 7) & ~(size_t)7;

		/* a small factor must still make each class bigger */
		if (n && sz <= sizes[n - 1])
			sz = sizes[n - 1] + 8;
		if (sz >= SD_CHUNK_TARGET / sd_settings.factor)
			return n;
		if (n == SD_MAX_CLASSES - 1)
			return -1;
		sizes[n++] = sz;
		size = (double)sz *
		       (sz < SD_FINE_CLASSES_BELOW ? fine : sd_settings.factor);
	}
}

int sd_items_init(void)
{
	size_t sizes[SD_MAX_CLASSES];
	double fine;
	int n;
	struct sc_cache_config cfg = {
		.name = "slabcached",
		.limit = sd_settings.maxbytes,
		.ops = &item_ops,
		.flags = sd_settings.cache_flags,
	};
	unsigned int i;

	for (i = 0; i < SD_STRIPES; i++)
		pthread_mutex_init(&stripes[i], NULL);
	atomic_store(&cas_counter, 0);
	atomic_store(&oldest_live, 0);
	atomic_store(&oldest_cas, 0);
	atomic_store(&sweep_at, 0);
	atomic_store(&base_limit, sd_settings.maxbytes);
	atomic_store(&stranded_bytes, 0);
	atomic_store(&stranded_evictions, 0);

	n = class_sizes(SD_FINE_FACTOR, sizes);
	/* a small -f needs more classes above 4 KiB: fewer below it */
	for (fine = SD_FINE_FACTOR; n < 0; fine += 0.005)
		n = class_sizes(fine, sizes);
	for (i = 0; i < (unsigned int)n; i++)
		if (class_add(sizes[i]))
			goto err_classes;
	if (class_add_top())
		goto err_classes;
	for (i = 0; i < sizeof(small_class); i++) {
		int cls = class_for(i ? i * 8 : 1);

		small_class[i] = (uint8_t)(cls < 0 ? (int)nclasses - 1 : cls);
	}
	for (i = 0; i < sizeof(mid_class); i++) {
		int cls = class_for((size_t)i * SD_MID_STEP + 1);

		mid_class[i] = (uint8_t)(cls < 0 ? (int)nclasses - 1 : cls);
	}
	display_classes();

	cache = sc_cache_create(&cfg);
	if (!cache)
		goto err_classes;
	return 0;

err_classes:
	while (nclasses)
		sc_slab_destroy(classes[--nclasses].slab);
	return -errno;
}

void sd_items_exit(void)
{
	mover_stop();
	clearing = true;
	sc_cache_destroy(cache);
	clearing = false;
	cache = NULL;
	while (nclasses) {
		nclasses--;
		sc_slab_destroy(classes[nclasses].slab);
		memset(&classes[nclasses], 0, sizeof(classes[nclasses]));
	}
}

/*
 * sd_item_alloc() - Allocate an unlinked item with room for @nbytes of
 * value (including "\r\n") under a key of @nkey bytes, which the caller
 * keeps and passes to sd_item_store() or sd_item_link_new(). Return: the item, or NULL (errno ENOMEM or
 * E2BIG).
 */
struct sd_item *sd_item_alloc(size_t nkey, uint32_t flags, sd_rel_time exptime,
			      size_t nbytes)
{
	size_t vlen = nbytes >= 2 ? nbytes - 2 : 0;
	unsigned int opt = hdr_opt_flags(vlen, flags);
	size_t nchunks = nchunks_of(vlen);
	bool inline_value = fits_inline(vlen, opt);
	int hc = vlen > UINT32_MAX ? -1 : class_for(hdr_object_size(vlen, opt));
	struct sd_item *it;
	size_t i;

	if (hc < 0 || nkey > SD_KEY_MAX || nbytes < 2 || vlen > UINT32_MAX) {
		errno = E2BIG;
		return NULL;
	}
	it = sc_slab_alloc(classes[hc].slab);
	if (!it) {
		atomic_fetch_add(&classes[hc].outofmemory, 1);
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&it->cas, 0);
	atomic_init(&it->exptime, exptime);
	atomic_init(&it->time, 0);
	atomic_init(&it->iflags,
		    (uint8_t)(opt | (inline_value ? 0 : SD_ITEM_CHUNKED)));
	it->nkey = (uint8_t)nkey;
	it->vlen_lo = (uint16_t)vlen;
	if (opt & SD_ITEM_LONG) {
		uint16_t hi = (uint16_t)(vlen >> 16);

		memcpy(it->data, &hi, sizeof(hi));
	}
	if (opt & SD_ITEM_CFLAGS)
		memcpy(it->data + (opt & SD_ITEM_LONG ? 2 : 0), &flags,
		       sizeof(flags));
	if (inline_value)
		return it;
	for (i = 0; i < nchunks; i++) {
		size_t len = sd_item_chunk_len(it, (unsigned int)i);
		int cc = class_of_size(len ? len : 1);

		chunk_table(it)[i] = sc_slab_alloc(classes[cc].slab);
		if (!chunk_table(it)[i]) {
			atomic_fetch_add(&classes[cc].outofmemory, 1);
			free_objects(it, (unsigned int)i);
			errno = ENOMEM;
			return NULL;
		}
	}
	return it;
}

/* Free an item that was never linked (or whose link failed). */
void sd_item_free(struct sd_item *it)
{
	if (it)
		free_objects(it, sd_item_nchunks(it));
}

/* ------------------------------------------------------------ time */

/*
 * memcached's realtime(): up to 30 days relative, above that an absolute
 * unix time (one not after the start means "expired": 1).
 */
sd_rel_time sd_realtime(int64_t exptime)
{
	if (exptime == 0)
		return 0;
	if (exptime > SD_REALTIME_MAXDELTA) {
		if (exptime <= sd_process_started)
			return 1;
		return (sd_rel_time)(exptime - sd_process_started);
	}
	return (sd_rel_time)(exptime + sd_now());
}

/* memcached's EXPTIME_TO_POSITIVE_TIME, then realtime() */
sd_rel_time sd_exptime_rel(int32_t exptime)
{
	return sd_realtime(exptime < 0 ? SD_REALTIME_MAXDELTA + 1 : exptime);
}

/* memcached's item_is_flushed() */
static bool item_flushed(const struct sd_item *it, sd_rel_time now)
{
	sd_rel_time ol =
		atomic_load_explicit(&oldest_live, memory_order_relaxed);
	uint64_t oc = atomic_load_explicit(&oldest_cas, memory_order_relaxed);

	if (ol == 0 || ol > now)
		return false;
	uint64_t cas = sd_item_cas(it);

	return atomic_load_explicit(&it->time, memory_order_relaxed) <= ol ||
	       (oc != 0 && cas != 0 && cas < oc);
}

static bool item_expired(const struct sd_item *it, sd_rel_time now)
{
	sd_rel_time exp =
		atomic_load_explicit(&it->exptime, memory_order_relaxed);

	return exp != 0 && exp <= now;
}

/* ------------------------------------------------------------ lookups */

/* Mark @it as unlinked by us (not evicted), then remove it if current. */
static void unlink_if_current(struct sd_item *it, const char *ikey)
{
	struct sc_entry *e = sc_cache_get(cache, ikey);

	if (!e)
		return;
	if (sc_entry_value(e) == it) {
		atomic_fetch_or(&it->iflags, ITEM_FLAG_DROPPED);
		sc_entry_put(e);
		sc_cache_remove(cache, ikey);
		return;
	}
	sc_entry_put(e);
}

/* memcached counts an expired or flushed item found by any lookup */
enum lookup_why { LOOKUP_COUNT, LOOKUP_SWEEP };

/*
 * Look up a live item (stripe lock held or not). Expired and flushed ones
 * are unlinked (under the stripe lock) and reported absent; a get counts
 * them.
 */
static struct sc_entry *get_live(const char *key, size_t nkey,
				 struct sd_item **itp, bool locked,
				 enum lookup_why why)
{
	char kbuf[SD_INDEX_KEY_MAX];
	const char *ikey = index_key(key, nkey, kbuf);
	struct sc_entry *e = sc_cache_get(cache, ikey);
	sd_rel_time now = sd_now();
	struct sd_item *it;
	bool flushed;

	if (!e)
		return NULL;
	it = sc_entry_value(e);
	flushed = item_flushed(it, now);
	if (!flushed && !item_expired(it, now)) {
		*itp = it;
		return e;
	}
	if (why == LOOKUP_COUNT) {
		if (flushed)
			SD_COUNT(get_flushed);
		else
			SD_COUNT(get_expired);
	} else {
		atomic_fetch_add(&crawler_reclaimed, 1);
	}
	/* memcached counts the dead items its LRU tail reclaims */
	atomic_fetch_add(&classes[item_hdr_class(it)].reclaimed, 1);
	if (!(atomic_load(&it->iflags) & SD_ITEM_FETCHED))
		atomic_fetch_add(&classes[item_hdr_class(it)].expired_unfetched,
				 1);
	if (locked) {
		unlink_if_current(it, ikey);
	} else {
		pthread_mutex_t *m = stripe_of(key, nkey);

		pthread_mutex_lock(m);
		unlink_if_current(it, ikey);
		pthread_mutex_unlock(m);
	}
	sc_entry_put(e);
	return NULL;
}

/*
 * memcached's do_item_bump() without its segmented LRU: the item has been
 * fetched, and its access time moves when it is a minute old (the LRU
 * position itself moved in sc_cache_get()).
 */
void sd_item_bump(struct sd_item *it)
{
	sd_rel_time now = sd_now();

	if (!(atomic_load_explicit(&it->iflags, memory_order_relaxed) &
	      SD_ITEM_FETCHED))
		atomic_fetch_or(&it->iflags, SD_ITEM_FETCHED);
	if (atomic_load_explicit(&it->time, memory_order_relaxed) <
	    now - SD_ITEM_UPDATE_INTERVAL)
		atomic_store_explicit(&it->time, now, memory_order_relaxed);
}

/*
 * sd_item_get() - Pin the live item under @key; @bump: mark it fetched.
 * Return: its entry (put it when done), or NULL.
 */
struct sc_entry *sd_item_get(const char *key, size_t nkey, struct sd_item **itp,
			     bool bump)
{
	struct sc_entry *e = get_live(key, nkey, itp, false, LOOKUP_COUNT);

	if (e && bump)
		sd_item_bump(*itp);
	return e;
}

/*
 * gat, touch: a get that sets a new exptime. Under the key's stripe lock,
 * as memcached's item_touch() under its item lock: the slab mover
 * (rescue_item()) copies an item under that lock, and a new exptime must
 * land on the item that stays.
 */
struct sc_entry *sd_item_touch(const char *key, size_t nkey,
			       sd_rel_time exptime, struct sd_item **itp)
{
	pthread_mutex_t *m = stripe_of(key, nkey);
	struct sc_entry *e;

	pthread_mutex_lock(m);
	e = get_live(key, nkey, itp, true, LOOKUP_COUNT);
	if (e) {
		sd_item_bump(*itp);
		atomic_store(&(*itp)->exptime, exptime);
	}
	pthread_mutex_unlock(m);
	return e;
}

/*
 * sd_item_set_exptime() - The meta protocol's T and N: a new exptime for
 * @it, pinned under @key by the caller. Under the key's stripe lock, as
 * sd_item_touch(): if the slab mover has replaced @it by its copy (same
 * CAS unique) since the caller's lookup, the exptime lands on the copy,
 * the item that stays; if a store has replaced it, on @it alone, which
 * orders this command before that store.
 */
void sd_item_set_exptime(const char *key, size_t nkey, struct sd_item *it,
			 sd_rel_time exptime)
{
	char kbuf[SD_INDEX_KEY_MAX];
	pthread_mutex_t *m = stripe_of(key, nkey);
	struct sc_entry *e;
	struct sd_item *cur;

	pthread_mutex_lock(m);
	atomic_store(&it->exptime, exptime);
	e = sc_cache_get(cache, index_key(key, nkey, kbuf));
	if (e) {
		cur = sc_entry_value(e);
		if (cur != it && sd_item_cas(cur) == sd_item_cas(it))
			atomic_store(&cur->exptime, exptime);
		sc_entry_put(e);
	}
	pthread_mutex_unlock(m);
}

/* ------------------------------------------------------------ stores */

/*
 * Link @it under @key (@nkey bytes) with a new CAS unique, given in
 * @cas_out (may be NULL) on SD_STORED. Stripe lock held. On failure @it is still the
 * caller's. On SD_STORED it is the cache's, or gone: --policy=s3fifo may
 * turn a new item away (SC_CACHE_NOT_ADMITTED), and a cache may drop any
 * item at any time, so that is STORED too (memcached answers STORED for
 * an item it evicts before anyone reads it); it is freed here, counted in
 * admission_rejects, and the caller must not touch @it again.
 */
static enum sd_store_result link_item(struct sd_item *it, const char *key,
				      size_t nkey, const struct sd_item *old,
				      uint64_t *cas_out)
{
	char kbuf[SD_INDEX_KEY_MAX];
	const char *ikey = index_key(key, nkey, kbuf);
	size_t ilen = index_key_len(key, nkey);
	struct sd_class *cl = &classes[item_hdr_class(it)];
	size_t cost = item_cost(it, ilen);
	bool locked = false;
	uint64_t cas;
	int ret;

	if (!sd_settings.evict_to_free) {
		/* -M: refuse what would evict instead of evicting */
		size_t give_back = old ? item_cost(old, ilen) : 0, total;

		pthread_mutex_lock(&no_evict_lock);
		locked = true;
		/* @old may have been evicted meanwhile: never below 0 */
		total = sc_cache_total_cost(cache);
		total = total > give_back ? total - give_back : 0;
		if (total + cost > sc_cache_limit(cache)) {
			pthread_mutex_unlock(&no_evict_lock);
			return SD_NO_MEMORY;
		}
	}
	atomic_store_explicit(&it->cas, sd_next_cas(), memory_order_relaxed);
	atomic_store(&it->time, sd_now());
	atomic_fetch_add(&cl->number, 1);
	atomic_fetch_add(&cl->requested, sd_item_total(it));
	/* the item it replaces goes because of us, not the limit */
	if (old)
		atomic_fetch_or(&((struct sd_item *)old)->iflags,
				ITEM_FLAG_DROPPED);
	cas = sd_item_cas(it);
	ret = sc_cache_insert(cache, ikey, it, cost);
	if (locked)
		pthread_mutex_unlock(&no_evict_lock);
	if (ret == 0 && cas_out)
		*cas_out = cas;
	if (ret == 0) {
		SD_COUNT(total_items);
		return SD_STORED;
	}
	atomic_fetch_sub(&cl->number, 1);
	atomic_fetch_sub(&cl->requested, sd_item_total(it));
	if (ret == SC_CACHE_NOT_ADMITTED) {
		SD_COUNT(admission_rejects);
		sd_item_free(it);
		if (cas_out)
			*cas_out = cas;
		return SD_STORED;
	}
	return ret == -EFBIG ? SD_TOO_LARGE : SD_NO_MEMORY;
}

/* Link a new item under a key that has none (ma N, mg N). */
enum sd_store_result sd_item_link_new(struct sd_item *it, const char *key,
				      size_t nkey, uint64_t *cas_out)
{
	pthread_mutex_t *m = stripe_of(key, nkey);
	struct sd_item *old;
	struct sc_entry *e;
	enum sd_store_result r;

	pthread_mutex_lock(m);
	e = get_live(key, nkey, &old, true, LOOKUP_COUNT);
	if (e) {
		r = SD_NOT_STORED;
	} else {
		r = link_item(it, key, nkey, NULL, cas_out);
	}
	pthread_mutex_unlock(m);
	sc_entry_put(e);
	return r;
}

/* append/prepend: a new item holding old and new data, old flags/exptime. */
static enum sd_store_result store_concat(struct sd_item *it, const char *key,
					 size_t nkey, const struct sd_item *old,
					 bool append, uint64_t *cas_out)
{
	size_t nbytes = sd_item_nbytes(old) + sd_item_vlen(it), i;
	uint32_t flags = sd_item_flags(old);
	struct sd_item *n;
	enum sd_store_result r;
	char buf[4096];

	/* memcached answers NOT_STORED when the joined item cannot be had */
	if (!sd_item_size_ok(old->nkey, flags, nbytes))
		return SD_NOT_STORED;
	n = sd_item_alloc(nkey, flags, atomic_load(&old->exptime), nbytes);
	if (!n)
		return SD_NOT_STORED;
	atomic_fetch_or(&n->iflags,
			atomic_load(&old->iflags) & SD_ITEM_KEY_BINARY);
	/* first part, then second (each without the other's "\r\n") */
	{
		const struct sd_item *a = append ? old : it;
		const struct sd_item *b = append ? it : old;
		size_t off = 0;

		for (i = 0; i < sd_item_vlen(a); i += sizeof(buf)) {
			size_t k, len = sd_item_vlen(a) - i;

			if (len > sizeof(buf))
				len = sizeof(buf);
			for (k = 0; k < len; k++)
				buf[k] = value_at(a, i + k);
			sd_item_copy_in(n, off, buf, len);
			off += len;
		}
		for (i = 0; i < sd_item_vlen(b); i += sizeof(buf)) {
			size_t k, len = sd_item_vlen(b) - i;

			if (len > sizeof(buf))
				len = sizeof(buf);
			for (k = 0; k < len; k++)
				buf[k] = value_at(b, i + k);
			sd_item_copy_in(n, off, buf, len);
			off += len;
		}
	}
	r = link_item(n, key, nkey, old, cas_out);
	if (r != SD_STORED)
		sd_item_free(n);
	return r;
}

/*
 * sd_item_store() - memcached's do_store_item(), with its CAS rules
 * (@cas_in 0: none; a stale-mode CAS, ms I, below the item's replaces it
 * and marks it stale). On SD_STORED @it is owned by the cache
 * (set/add/replace/cas; or freed, when --policy=s3fifo turned it away) or
 * was copied (append/prepend: the caller frees it); otherwise the caller
 * frees @it. @cas_out gets the stored unique.
 */
enum sd_store_result sd_item_store(struct sd_item *it, const char *key,
				   size_t nkey, enum sd_store_cmd cmd,
				   uint64_t cas_in, bool set_stale,
				   uint64_t *cas_out)
{
	pthread_mutex_t *m = stripe_of(key, nkey);
	enum sd_store_result r = SD_NOT_STORED;
	struct sd_item *old = NULL;
	struct sc_entry *e;

	pthread_mutex_lock(m);
	e = get_live(key, nkey, &old, true, LOOKUP_COUNT);
	if (e) {
		enum { CAS_NONE, CAS_MATCH, CAS_BADVAL, CAS_STALE } cas_res;
		unsigned int ocls = item_hdr_class(old);

		uint64_t old_cas = sd_item_cas(old);

		if (cas_in == 0)
			cas_res = CAS_NONE;
		else if (cas_in == old_cas)
			cas_res = CAS_MATCH;
		else if (set_stale && cas_in < old_cas)
			cas_res = CAS_STALE;
		else
			cas_res = CAS_BADVAL;
		switch (cmd) {
		case SD_ADD:
			sd_item_bump(old);
			break;
		case SD_CAS:
			if (cas_res == CAS_MATCH) {
				SD_COUNT_SLAB(ocls, cas_hits);
				r = link_item(it, key, nkey, old, cas_out);
			} else if (cas_res == CAS_STALE) {
				atomic_store(&it->exptime,
					     atomic_load(&old->exptime));
				atomic_fetch_or(
					&it->iflags,
					SD_ITEM_STALE |
						(atomic_load(&old->iflags) &
						 SD_ITEM_TOKEN_SENT));
				SD_COUNT_SLAB(ocls, cas_hits);
				r = link_item(it, key, nkey, old, cas_out);
			} else {
				SD_COUNT_SLAB(ocls, cas_badval);
				r = SD_EXISTS;
			}
			break;
		case SD_APPEND:
		case SD_PREPEND:
			if (cas_res != CAS_NONE && cas_res != CAS_MATCH) {
				r = SD_EXISTS;
				break;
			}
			r = store_concat(it, key, nkey, old, cmd == SD_APPEND,
					 cas_out);
			goto out;
		case SD_REPLACE:
		case SD_SET:
			r = link_item(it, key, nkey, old, cas_out);
			break;
		}
	} else {
		switch (cmd) {
		case SD_ADD:
		case SD_SET:
			r = link_item(it, key, nkey, NULL, cas_out);
			break;
		case SD_CAS:
			SD_COUNT(cas_misses);
			r = SD_NOT_FOUND;
			break;
		default:
			break;
		}
	}
out:
	pthread_mutex_unlock(m);
	sc_entry_put(e);
	return r;
}

/*
 * sd_item_delete() - Unlink the item under @key if @cas is 0 or its
 * unique. Return: 1 deleted, 0 not found, -EEXIST the CAS did not match.
 */
int sd_item_delete(const char *key, size_t nkey, uint64_t cas,
		   unsigned int *cls)
{
	pthread_mutex_t *m = stripe_of(key, nkey);
	char kbuf[SD_INDEX_KEY_MAX];
	struct sd_item *it;
	struct sc_entry *e;
	int ret = 0;

	pthread_mutex_lock(m);
	e = get_live(key, nkey, &it, true, LOOKUP_COUNT);
	if (e) {
		if (cas && cas != sd_item_cas(it)) {
			ret = -EEXIST;
		} else {
			*cls = item_hdr_class(it);
			unlink_if_current(it, index_key(key, nkey, kbuf));
			ret = 1;
		}
	}
	pthread_mutex_unlock(m);
	sc_entry_put(e);
	return ret;
}

/*
 * md with I: mark the item stale instead of deleting it, with a new CAS
 * unique and, if @new_ttl, a new exptime. Return: as sd_item_delete().
 */
int sd_item_invalidate(const char *key, size_t nkey, uint64_t cas, bool new_ttl,
		       sd_rel_time exptime)
{
	pthread_mutex_t *m = stripe_of(key, nkey);
	struct sd_item *it;
	struct sc_entry *e;
	int ret = 0;

	pthread_mutex_lock(m);
	e = get_live(key, nkey, &it, true, LOOKUP_COUNT);
	if (e) {
		if (cas && cas != sd_item_cas(it)) {
			ret = -EEXIST;
		} else {
			if (new_ttl)
				atomic_store(&it->exptime, exptime);
			atomic_fetch_or(&it->iflags, SD_ITEM_STALE);
			atomic_fetch_and(&it->iflags,
					 (uint8_t)~SD_ITEM_TOKEN_SENT);
			/* in place, as memcached: readers load it relaxed */
			atomic_store_explicit(&it->cas, sd_next_cas(),
					      memory_order_relaxed);
			ret = 1;
		}
	}
	pthread_mutex_unlock(m);
	sc_entry_put(e);
	return ret;
}

/*
 * memcached's incr/decr reads the value with safe_strtoull() straight from
 * the item: leading white space, a sign, then digits, ending at any white
 * space (so "5 apples" is 5, and the value's own "\r\n" ends a plain
 * number), with strtoull()'s overflow check and its wrap of a negative
 * number; a result that is negative as a signed number is refused if a '-'
 * appears in the value before its first NUL. (memcached's strchr() goes on
 * past the value into stale bytes of its slab chunk; that part of its
 * memory layout is not copied: Documentation/slabcached.rst, Differences.)
 * A value memcached keeps in
 * chunks (over its 512 KiB chunk size) is non-numeric, as is an empty one.
 */
static bool value_to_u64(const struct sd_item *it, uint64_t *out)
{
	size_t n = sd_item_nbytes(it), i = 0, digits = 0;
	bool neg = false, overflow = false;
	uint64_t v = 0;
	char ch;

	if (n <= 2 || sd_item_total(it) > SD_MC_CHUNK_MAX)
		return false;
	while (i < n && isspace((unsigned char)value_at(it, i)))
		i++;
	if (i < n && (value_at(it, i) == '+' || value_at(it, i) == '-')) {
		neg = value_at(it, i) == '-';
		i++;
	}
	for (; i < n; i++, digits++) {
		ch = value_at(it, i);
		if (ch < '0' || ch > '9')
			break;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(ch - '0'), &v))
			overflow = true;
	}
	/* white space only runs past the value in memcached: no digits */
	if (!digits || overflow || i == n)
		return false;
	ch = value_at(it, i);
	if (!isspace((unsigned char)ch) && ch != '\0')
		return false;
	if (neg)
		v = -v;
	if ((int64_t)v < 0) {
		for (i = 0; i < n && value_at(it, i) != '\0'; i++)
			if (value_at(it, i) == '-')
				return false;
	}
	*out = v;
	return true;
}

/*
 * sd_item_delta() - memcached's do_add_delta(): incr/decr the number in
 * the value of @key, if @cas_in is 0 or its unique. The new item keeps the
 * old one's length (space padded) when the number got no longer, as
 * memcached's in-place rewrite does. @pin (optional) gets the new item,
 * pinned.
 */
enum sd_delta_result sd_item_delta(const char *key, size_t nkey, bool incr,
				   uint64_t delta, uint64_t cas_in,
				   uint64_t *result, uint64_t *cas_out,
				   struct sc_entry **pin)
{
	pthread_mutex_t *m = stripe_of(key, nkey);
	enum sd_delta_result r;
	struct sd_item *old, *n;
	struct sc_entry *e;
	char buf[24];
	uint64_t v;
	size_t len, nbytes;

	pthread_mutex_lock(m);
	e = get_live(key, nkey, &old, true, LOOKUP_COUNT);
	if (!e) {
		r = SD_DELTA_NOT_FOUND;
		goto out;
	}
	/* memcached's order: empty or chunked, then the CAS, then parse */
	if (!sd_item_vlen(old) || sd_item_total(old) > SD_MC_CHUNK_MAX) {
		r = SD_DELTA_NON_NUMERIC;
		goto out;
	}
	if (cas_in && cas_in != sd_item_cas(old)) {
		r = SD_DELTA_CAS_MISMATCH;
		goto out;
	}
	if (!value_to_u64(old, &v)) {
		r = SD_DELTA_NON_NUMERIC;
		goto out;
	}
	if (incr)
		v += delta;
	else
		v = delta > v ? 0 : v - delta;
	if (incr)
		SD_COUNT_SLAB(item_hdr_class(old), incr_hits);
	else
		SD_COUNT_SLAB(item_hdr_class(old), decr_hits);
	len = (size_t)(sd_u64_to_str(buf, v) - buf);
	/* memcached rewrites a shorter number in place, space padded */
	nbytes = len + 2 <= sd_item_nbytes(old) ? sd_item_nbytes(old) : len + 2;
	n = sd_item_alloc(nkey, sd_item_flags(old), atomic_load(&old->exptime),
			  nbytes);
	if (!n) {
		r = SD_DELTA_NO_MEMORY;
		goto out;
	}
	atomic_fetch_or(&n->iflags,
			atomic_load(&old->iflags) &
				(SD_ITEM_KEY_BINARY | SD_ITEM_FETCHED));
	sd_item_copy_in(n, 0, buf, len);
	for (size_t k = len; k < nbytes - 2; k++)
		sd_item_copy_in(n, k, " ", 1);
	if (link_item(n, key, nkey, old, cas_out) != SD_STORED) {
		sd_item_free(n);
		r = SD_DELTA_NO_MEMORY;
		goto out;
	}
	*result = v;
	if (pin) {
		char kbuf[SD_INDEX_KEY_MAX];

		*pin = sc_cache_get(cache, index_key(key, nkey, kbuf));
	}
	r = SD_DELTA_OK;
out:
	pthread_mutex_unlock(m);
	sc_entry_put(e);
	return r;
}

/* ------------------------------------------------------------ flush */

/*
 * flush_all, as memcached: from @exptime (0 or less: now) on, every item
 * stored before reads as absent. A flush that takes effect at once uses up
 * a CAS unique (memcached's oldest_cas). The items nobody looks up are
 * dropped, and their memory given back, by a sweep two ticks after the
 * flush takes effect.
 */
void sd_items_flush(int64_t exptime)
{
	sd_rel_time now = sd_now();
	sd_rel_time at = exptime > 0 ? sd_realtime(exptime) : now;

	if (sd_settings.use_cas) {
		sd_rel_time ol = at - 1;

		atomic_store(&oldest_live, ol);
		if (ol <= now)
			atomic_store(&oldest_cas,
				     atomic_fetch_add(&cas_counter, 1) + 1);
	} else {
		atomic_store(&oldest_live, at);
	}
	atomic_store(&sweep_at, (at > now ? at : now) + 2);
}

/*
 * Drop the items of @v that @dead picks, then put all of @v: the key of
 * each comes from its entry, and get_live() drops the item under it if it
 * is still dead (under the key's stripe lock, as any writer).
 */
static void drop_dead(struct sc_entry **v, int n,
		      bool (*dead)(const struct sd_item *it, sd_rel_time now))
{
	sd_rel_time now = sd_now();
	int i;

	for (i = 0; i < n; i++) {
		struct sd_item *it = sc_entry_value(v[i]), *x;
		char key[SD_KEY_MAX];
		const char *ikey;
		size_t ilen, nkey;

		if (dead(it, now)) {
			ikey = sc_entry_string_key(v[i], &ilen);
			nkey = raw_key(ikey, ilen, key);
			sc_entry_put(
				get_live(key, nkey, &x, false, LOOKUP_SWEEP));
		}
		sc_entry_put(v[i]);
	}
}

static bool flushed_now(const struct sd_item *it, sd_rel_time now)
{
	return item_flushed(it, now);
}

static bool dead_now(const struct sd_item *it, sd_rel_time now)
{
	return item_flushed(it, now) || item_expired(it, now);
}

/* Drop every item the flush made invisible; give the memory back. */
static void flush_sweep(void)
{
	struct sc_cache_cursor cur = SC_CACHE_CURSOR_INIT;
	struct sc_entry *v[SD_SWEEP_BATCH];
	int n;

	while ((n = sc_cache_scan(cache, &cur, v, SD_SWEEP_BATCH)) > 0)
		drop_dead(v, n, flushed_now);
	sc_slab_shrink(NULL);
}

/*
 * The expiry sweep, memcached's LRU crawler: each tick, look at the next
 * SD_CRAWL_BATCH items (a full pass over a million items takes about a
 * minute) and drop the expired and flushed ones, so that their memory
 * goes back without waiting for a lookup or an eviction. The walk goes on
 * from where the last tick left it, and starts again once done.
 */
static void crawl_tick(void)
{
	static struct sc_cache_cursor cur = SC_CACHE_CURSOR_INIT;
	unsigned long long before = atomic_load(&crawler_reclaimed);
	struct sc_entry *v[SD_SWEEP_BATCH];
	unsigned int seen = 0;
	int n;

	while (seen < SD_CRAWL_BATCH) {
		n = sc_cache_scan(cache, &cur, v, SD_SWEEP_BATCH);
		if (n <= 0) {
			cur = (struct sc_cache_cursor)SC_CACHE_CURSOR_INIT;
			break;
		}
		seen += (unsigned int)n;
		drop_dead(v, n, dead_now);
	}
	atomic_fetch_add(&crawler_items_checked, seen);
	/*
	 * The items' objects went into this thread's magazines, where no
	 * worker can reuse them: put them back into their slabs, and give
	 * the slabs that emptied back to the system.
	 */
	if (atomic_load(&crawler_reclaimed) != before)
		sc_slab_shrink(NULL);
}

/*
 * The slab mover: the stranded slots of a class are freed by emptying some
 * of its slabs, as memcached's slab_rebalance empties the page it moves to
 * another class. Here a slab that empties goes back to the allocator and
 * any class takes the memory from there, so emptying it is the whole move.
 *
 * A slab is aligned to its size (Documentation/slab.rst), so an object's
 * slab is its address masked. One walk of the cache counts, per slab of
 * the class, the objects items hold there (the census); the emptiest
 * slabs are chosen until they cover the stranded slots, as long as their
 * items fit in the free slots of the slabs not chosen (mover_choose()).
 * Emptying them this way, rather than letting the LRU evict items of
 * every class through the lowered limit (limit_follow_slabs()) until
 * whole slabs of this one happen to empty, costs copies instead of items.
 * A second walk rescues each item holding an object in a
 * chosen slab: a copy in free slots of other slabs of the class replaces
 * it under its key (rescue_item()), as memcached's slab_rebalance_move()
 * copies the items of its page; only an item for which no such slot is
 * left is evicted. The walk counts slab_reassign_rescues (and, for items
 * chunked over several objects, slab_reassign_chunk_rescues),
 * slab_reassign_evictions_nomem and slabs_moved, as memcached's mover
 * does. A census that finds nothing worth moving waits
 * SD_REASSIGN_BACKOFF ticks before the next try for that class.
 *
 * The allocator gives no say in which slab a new object comes from, so
 * the mover allocates as any thread does and looks where the object
 * landed: in a chosen slab, it is kept (held) until the walk ends, so
 * that neither the mover nor a worker fills that slot again, and the next
 * one is tried; in any other slab it takes the copy. That slab may be
 * one the census did not see: filled by workers since, or new when the
 * free slots counted have been taken meanwhile (then the items of the
 * chosen slabs, fewer than a slab each, fill new slabs more densely than
 * the chosen ones: the class never holds more slabs at the end, and -m,
 * which charges an item by its slots, is unchanged by a copy). An item
 * is evicted only when no object can be had at all.
 */
#define SD_REASSIGN_BACKOFF 16

struct slab_use {
	uintptr_t base; /* 0: unused */
	unsigned int objects;
	bool chosen;
};

struct slab_census {
	struct slab_use *t;
	size_t cap; /* a power of two */
	size_t used;
	uintptr_t mask;
	unsigned int cls;
};

static struct slab_use *census_slot(struct slab_census *c, uintptr_t base,
				    bool add)
{
	size_t i = (size_t)((base >> 16) * 0x9e3779b97f4a7c15ull) &
		   (c->cap - 1);

	for (;; i = (i + 1) & (c->cap - 1)) {
		if (c->t[i].base == base)
			return &c->t[i];
		if (!c->t[i].base) {
			/* slabs added while walking: at most 3/4 full */
			if (!add || (c->used + 1) * 4 > c->cap * 3)
				return NULL;
			c->used++;
			c->t[i].base = base;
			return &c->t[i];
		}
	}
}

/*
 * Call @fn for each object of @it in class @cls (its header, its
 * chunks); stop at the first that returns true. Return: whether one did.
 */
static bool item_objects_in(const struct sd_item *it, struct slab_census *c,
			    bool (*fn)(struct slab_census *c, const void *obj))
{
	unsigned int i, n;

	if (item_hdr_class(it) == c->cls && fn(c, it))
		return true;
	if (item_inline(it))
		return false;
	n = sd_item_nchunks(it);
	for (i = 0; i < n; i++) {
		size_t len = sd_item_chunk_len(it, i);

		if ((unsigned int)class_of_size(len ? len : 1) == c->cls &&
		    fn(c, chunk_table(it)[i]))
			return true;
	}
	return false;
}

static bool census_count(struct slab_census *c, const void *obj)
{
	struct slab_use *u = census_slot(c, (uintptr_t)obj & c->mask, true);

	if (u)
		u->objects++;
	return false;
}

static bool census_chosen(struct slab_census *c, const void *obj)
{
	struct slab_use *u = census_slot(c, (uintptr_t)obj & c->mask, false);

	return u && u->chosen;
}

static int use_by_objects(const void *a, const void *b)
{
	const struct slab_use *x = *(struct slab_use *const *)a;
	const struct slab_use *y = *(struct slab_use *const *)b;

	return (x->objects > y->objects) - (x->objects < y->objects);
}

/* The free slots of @info's slabs in use beyond SD_STRANDED_SLABS' worth. */
static size_t stranded_slots(const struct sc_slab_info *info)
{
	size_t in_use = info->slabs - info->empty_slabs;
	size_t slots = in_use * info->objects_per_slab;
	size_t free_slots =
		slots > info->active_objects ? slots - info->active_objects : 0;
	size_t keep = SD_STRANDED_SLABS * info->objects_per_slab;

	return free_slots > keep ? free_slots - keep : 0;
}

/*
 * The mover's walks go on from slice to slice, with a cursor that
 * survives any change between calls. A slice walks SD_MOVER_BATCH items
 * at most, and stops once it has taken SD_MOVER_SLICE_NS of the main
 * thread, which also accepts connections; while a walk is under way a
 * slice runs every SD_MOVER_GAP_NS (sd_items_mover_step()), else the
 * one-second tick starts one. The counts of a census that took several
 * slices are approximate, the move walk's test (the object's address)
 * is not.
 */
#define SD_MOVER_BATCH (256u * 1024)
#define SD_MOVER_SLICE_NS (10 * 1000 * 1000ll)
#define SD_MOVER_GAP_NS (10 * 1000 * 1000ll)
#define SD_MOVER_RELEASE_BYTES (4u << 20)

/*
 * Test hook: SLABCACHED_FAULT_MOVER=<n> makes the mover's nth allocation
 * (a census table, a sort array, the array of held slots, then the
 * objects of each copy) from start-up fail, once. The mover runs on the
 * main thread only, so the counts are plain.
 */
static unsigned long mover_fault_at, mover_allocs;

int sd_mover_fault_from_env(void)
{
	mover_allocs = 0;
	return sd_test_hook_count("SLABCACHED_FAULT_MOVER", &mover_fault_at);
}

static bool mover_fault(void)
{
	if (mover_fault_at && ++mover_allocs == mover_fault_at) {
		fprintf(stderr,
			"slabcached: SLABCACHED_FAULT_MOVER: allocation %lu "
			"fails\n",
			mover_allocs);
		mover_fault_at = 0;
		errno = ENOMEM;
		return true;
	}
	return false;
}

/* calloc() for the mover, through the test hook. */
static void *mover_calloc(size_t n, size_t size)
{
	return mover_fault() ? NULL : calloc(n, size);
}

static struct {
	enum { MOVER_IDLE, MOVER_COUNT, MOVER_MOVE, MOVER_RELEASE } state;
	struct slab_census c;
	struct sc_cache_cursor cur;
	unsigned int chosen;
	/* objects allocated in chosen slabs, freed when the walk ends */
	void **held;
	size_t nheld, held_cap, released;
	unsigned long long rescued, chunk_rescues, evicted;
	/* the free slots of the chosen slabs, which the move gives back */
	size_t freeing;
} mover;

static void mover_stop(void)
{
	if (mover.nheld > mover.released)
		sc_slab_free_bulk(classes[mover.c.cls].slab,
				  mover.held + mover.released,
				  mover.nheld - mover.released);
	free(mover.held);
	mover.held = NULL;
	mover.nheld = mover.held_cap = mover.released = 0;
	free(mover.c.t);
	mover.c.t = NULL;
	mover.state = MOVER_IDLE;
	atomic_store(&reassign_running, 0);
}

/*
 * An object of class @cls for a copy: in the class being emptied, from a
 * slab not chosen. Return: the object, or NULL (no memory, or no room
 * left to keep the slots of chosen slabs or to know more slabs).
 */
static void *mover_obj_alloc(unsigned int cls)
{
	struct sc_slab *slab = classes[cls].slab;
	struct slab_use *u;
	void *obj;

	for (;;) {
		if (mover_fault())
			return NULL;
		obj = sc_slab_alloc(slab);
		if (!obj || cls != mover.c.cls)
			return obj;
		u = census_slot(&mover.c, (uintptr_t)obj & mover.c.mask, true);
		if (u && !u->chosen)
			return obj;
		if (!u || mover.nheld == mover.held_cap) {
			/* straight into its slab, not this thread's magazine */
			sc_slab_free_bulk(slab, &obj, 1);
			return NULL;
		}
		mover.held[mover.nheld++] = obj;
	}
}

/*
 * A copy of @it: the same key length, value, client flags, CAS unique,
 * exptime, access time and flags, in new objects (mover_obj_alloc()).
 * Return: the copy, unlinked, or NULL.
 */
static struct sd_item *rescue_copy(const struct sd_item *it)
{
	uint8_t f = atomic_load(&it->iflags);
	unsigned int opt = f & (SD_ITEM_LONG | SD_ITEM_CFLAGS), i, nchunks;
	size_t vlen = sd_item_vlen(it);
	size_t head = hdr_len(opt) - SD_ITEM_HDR;
	struct sd_item *n = mover_obj_alloc(item_hdr_class(it));

	if (!n)
		return NULL;
	/* field by field: readers change these without the stripe lock */
	atomic_init(&n->cas, sd_item_cas(it));
	atomic_init(&n->exptime, atomic_load(&it->exptime));
	atomic_init(&n->time, atomic_load(&it->time));
	atomic_init(&n->iflags, (uint8_t)(f & ~ITEM_FLAG_DROPPED));
	n->nkey = it->nkey;
	n->vlen_lo = it->vlen_lo;
	if (item_inline(it)) {
		memcpy(n->data, it->data, head + vlen);
		return n;
	}
	memcpy(n->data, it->data, head);
	nchunks = sd_item_nchunks(it);
	for (i = 0; i < nchunks; i++) {
		size_t len = sd_item_chunk_len(it, i);
		char *p = mover_obj_alloc(
			(unsigned int)class_of_size(len ? len : 1));

		if (!p) {
			free_objects(n, i);
			return NULL;
		}
		memcpy(p, chunk_table(it)[i], len);
		chunk_table(n)[i] = p;
	}
	return n;
}

/*
 * What readers changed on @from, pinned, without the stripe lock while
 * the copy was made and swapped in (a hit's fetched flag and access time,
 * a meta token): onto @to. Exptimes change only under the stripe lock
 * (sd_item_touch(), sd_item_set_exptime(), stores), which the mover
 * holds, so the copy's is already the last one.
 */
static void rescue_sync(struct sd_item *to, const struct sd_item *from)
{
	uint8_t keep = SD_ITEM_FETCHED | SD_ITEM_TOKEN_SENT;
	sd_rel_time t = atomic_load(&from->time);

	atomic_fetch_or(&to->iflags,
			(uint8_t)(atomic_load(&from->iflags) & keep));
	if (t > atomic_load(&to->time))
		atomic_store(&to->time, t);
}

enum rescue_result { RESCUE_GONE, RESCUE_MOVED, RESCUE_EVICTED };

/*
 * Move the item of @e (pinned by the walk) out of the slab being emptied:
 * under its key's stripe lock, so that no writer (set, add, cas, append,
 * incr, delete, touch, md) runs on it meanwhile, a copy replaces it as a
 * set would, with the same CAS unique; if no slot is free for the copy,
 * the item is evicted. Readers that pinned it keep reading it, and its
 * objects go back when the last lets go. A copy is linked as the most
 * recently used, as memcached's do_item_replace() links its rescued
 * items at the head of their LRU. An item that died meanwhile (expired,
 * flushed) is dropped, as a lookup would.
 */
static enum rescue_result rescue_item(struct sc_entry *e)
{
	struct sd_item *it = sc_entry_value(e), *n;
	char key[SD_KEY_MAX], kbuf[SD_INDEX_KEY_MAX];
	enum rescue_result r = RESCUE_GONE;
	struct sc_entry *cur;
	sd_rel_time now = sd_now();
	pthread_mutex_t *m;
	const char *ikey;
	size_t ilen, nkey, cost;
	int ret;

	ikey = sc_entry_string_key(e, &ilen);
	nkey = raw_key(ikey, ilen, key);
	m = stripe_of(key, nkey);
	pthread_mutex_lock(m);
	ikey = index_key(key, nkey, kbuf);
	cur = sc_cache_get(cache, ikey);
	if (!cur || sc_entry_value(cur) != it)
		goto out;
	if (item_flushed(it, now) || item_expired(it, now)) {
		sc_entry_put(cur);
		cur = get_live(key, nkey, &n, true, LOOKUP_SWEEP);
		goto out;
	}
	cost = sc_entry_cost(cur);
	n = rescue_copy(it);
	if (n) {
		struct sd_class *cl = &classes[item_hdr_class(n)];

		atomic_fetch_add(&cl->number, 1);
		atomic_fetch_add(&cl->requested, sd_item_total(n));
		/* released as replaced, not evicted */
		atomic_fetch_or(&it->iflags, ITEM_FLAG_DROPPED);
		ret = sc_cache_insert(cache, ikey, n, cost);
		if (ret == 0) {
			rescue_sync(n, it);
			if (!item_inline(n))
				mover.chunk_rescues += sd_item_nchunks(n);
			r = RESCUE_MOVED;
			goto out;
		}
		/* not taken (no memory for the entry): evict @it instead */
		atomic_fetch_and(&it->iflags, (uint8_t)~ITEM_FLAG_DROPPED);
		atomic_fetch_sub(&cl->number, 1);
		atomic_fetch_sub(&cl->requested, sd_item_total(n));
		sd_item_free(n);
		sc_entry_put(cur);
		cur = sc_cache_get(cache, ikey);
		if (!cur || sc_entry_value(cur) != it)
			goto out;
	}
	atomic_fetch_or(&it->iflags, ITEM_FLAG_DROPPED);
	sc_entry_put(cur);
	cur = NULL;
	if (sc_cache_remove(cache, ikey) == 0)
		r = RESCUE_EVICTED;
out:
	pthread_mutex_unlock(m);
	sc_entry_put(cur);
	return r;
}

static long long mono_ns(void)
{
	return (long long)sd_clock_ns(CLOCK_MONOTONIC);
}

/*
 * Walk the next items of the cache (SD_MOVER_BATCH, or SD_MOVER_SLICE_NS
 * from @start): count their objects per slab, or (@move) rescue those
 * with an object in a chosen slab. Return: whether the walk is done.
 */
static bool mover_walk(bool move, long long start)
{
	struct sc_entry *v[SD_SWEEP_BATCH];
	unsigned int seen = 0;
	int n, j;

	while (seen < SD_MOVER_BATCH && mono_ns() - start < SD_MOVER_SLICE_NS) {
		n = sc_cache_scan(cache, &mover.cur, v, SD_SWEEP_BATCH);
		if (n <= 0)
			return true;
		seen += (unsigned int)n;
		for (j = 0; j < n; j++) {
			struct sd_item *it = sc_entry_value(v[j]);

			if (!move) {
				item_objects_in(it, &mover.c, census_count);
			} else if (item_objects_in(it, &mover.c,
						   census_chosen)) {
				switch (rescue_item(v[j])) {
				case RESCUE_MOVED:
					mover.rescued++;
					break;
				case RESCUE_EVICTED:
					mover.evicted++;
					break;
				case RESCUE_GONE:
					break;
				}
			}
			sc_entry_put(v[j]);
		}
	}
	return false;
}

/*
 * The census is done: choose the emptiest slabs until they cover the
 * class's stranded slots, as long as the items on them fit in the free
 * slots of the slabs not chosen. However full a slab is, emptying it
 * costs a copy per item, not an item: there is no bound on its fill (the
 * evicting mover took slabs at most half full). Return: how many were
 * chosen, or -ENOMEM.
 */
static int mover_choose(const struct sc_slab_info *info)
{
	struct slab_use **order = mover_calloc(mover.c.cap, sizeof(*order));
	size_t i, k, freed = 0, excess = stranded_slots(info);
	size_t per = info->objects_per_slab, room = 0, moving = 0;
	int chosen = 0;

	if (!order)
		return -ENOMEM;
	for (i = k = 0; i < mover.c.cap; i++) {
		if (!mover.c.t[i].base)
			continue;
		order[k++] = &mover.c.t[i];
		if (mover.c.t[i].objects < per)
			room += per - mover.c.t[i].objects;
	}
	qsort(order, k, sizeof(*order), use_by_objects);
	for (i = 0; i < k && freed < excess; i++) {
		size_t objects = order[i]->objects;

		if (objects >= per)
			break;
		/* the free slots of the slabs left after this one */
		room -= per - objects;
		if (moving + objects > room)
			break;
		order[i]->chosen = true;
		moving += objects;
		freed += per - objects;
		chosen++;
	}
	free(order);
	mover.freeing = freed;
	return chosen;
}

static int by_address(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a;
	uintptr_t y = (uintptr_t) * (void *const *)b;

	return (x > y) - (x < y);
}

/*
 * The move is done: give the kept slots of the chosen slabs back, which
 * empties them, and the emptied slabs back to the system,
 * SD_MOVER_RELEASE_BYTES of slabs a slice: giving back takes about a
 * millisecond a MiB here (Documentation/performance.rst), too long for
 * one slice when a move empties hundreds of slabs.
 */
static void mover_release(const struct sc_slab_info *info)
{
	size_t slabs = SD_MOVER_RELEASE_BYTES / info->slab_size, i;
	uintptr_t base = 0;

	if (!slabs)
		slabs = 1;
	for (i = mover.released; i < mover.nheld; i++) {
		uintptr_t b = (uintptr_t)mover.held[i] & mover.c.mask;

		if (b != base) {
			if (!slabs)
				break;
			slabs--;
			base = b;
		}
	}
	sc_slab_free_bulk(classes[mover.c.cls].slab,
			  mover.held + mover.released, i - mover.released);
	mover.released = i;
	sc_slab_shrink(classes[mover.c.cls].slab);
}

/*
 * The slab mover's part of the tick: go on with the walk under way, or
 * start one for the class with the most stranded bytes, if it has a
 * slab's worth. Return: whether objects of a class went back (its @info
 * is read again).
 */
static uint8_t backoff[SD_MAX_CLASSES]; /* in ticks */

static bool reassign_tick(struct sc_slab_info *info, long long start)
{
	unsigned long long most = 0;
	unsigned int i, best = 0, cls;
	bool done;
	int ret;

	switch (mover.state) {
	case MOVER_IDLE:
		for (i = 0; i < nclasses; i++) {
			size_t excess =
				info[i].slabs ? stranded_slots(&info[i]) : 0;

			if (!backoff[i] && excess >= info[i].objects_per_slab &&
			    excess && excess * classes[i].charge > most) {
				most = excess * classes[i].charge;
				best = i;
			}
		}
		if (!most)
			return false;
		mover.c = (struct slab_census){
			.mask = ~(uintptr_t)(info[best].slab_size - 1),
			.cls = best,
			.cap = 64,
		};
		while (mover.c.cap < 2 * (info[best].slabs + 32))
			mover.c.cap *= 2;
		mover.c.t = mover_calloc(mover.c.cap, sizeof(*mover.c.t));
		if (!mover.c.t)
			return false;
		mover.cur = (struct sc_cache_cursor)SC_CACHE_CURSOR_INIT;
		mover.state = MOVER_COUNT;
		/* fall through */
	case MOVER_COUNT:
		cls = mover.c.cls;
		if (!mover_walk(false, start))
			return false;
		ret = mover_choose(&info[cls]);
		if (ret > 0) {
			mover.held_cap =
				(size_t)ret * info[cls].objects_per_slab;
			mover.held = mover_calloc(mover.held_cap,
						  sizeof(*mover.held));
			if (!mover.held)
				ret = -ENOMEM;
		}
		if (ret <= 0) {
			/* no memory to sort with: a new census next tick */
			if (!ret)
				backoff[cls] = SD_REASSIGN_BACKOFF;
			mover_stop();
			return false;
		}
		mover.chosen = (unsigned int)ret;
		mover.cur = (struct sc_cache_cursor)SC_CACHE_CURSOR_INIT;
		mover.rescued = mover.chunk_rescues = mover.evicted = 0;
		mover.state = MOVER_MOVE;
		atomic_store(&reassign_running, 1);
		/*
		 * Empty slabs first: an allocation takes one only when no
		 * slab has a free slot, so that is where a copy must not go.
		 */
		sc_slab_shrink(classes[cls].slab);
		/* fall through */
	case MOVER_MOVE:
		cls = mover.c.cls;
		done = mover_walk(true, start);
		atomic_fetch_add(&reassign_rescues, mover.rescued);
		atomic_fetch_add(&reassign_chunk_rescues, mover.chunk_rescues);
		atomic_fetch_add(&reassign_evictions, mover.evicted);
		mover.rescued = mover.chunk_rescues = mover.evicted = 0;
		/* the objects are in this thread's magazines: back, and out */
		sc_slab_shrink(NULL);
		if (done) {
			/* slab by slab, so that each run empties whole slabs */
			qsort(mover.held, mover.nheld, sizeof(*mover.held),
			      by_address);
			mover.released = 0;
			mover.state = MOVER_RELEASE;
		}
		if (sc_slab_info(classes[cls].slab, &info[cls]) < 0)
			info[cls].slabs = 0;
		return true;
	case MOVER_RELEASE:
		cls = mover.c.cls;
		mover_release(&info[cls]);
		if (mover.released == mover.nheld) {
			atomic_fetch_add(&slabs_moved, mover.chosen);
			mover_stop();
		}
		if (sc_slab_info(classes[cls].slab, &info[cls]) < 0)
			info[cls].slabs = 0;
		return true;
	}
	return false;
}

/* the classes' slab counts, as the last tick (or slice) read them */
static struct sc_slab_info slab_infos[SD_MAX_CLASSES];
static long long mover_next_ns; /* the next slice, between ticks */

/* One slice of the mover's work, timed (stats slab_mover_slice_us). */
static void mover_slice(void)
{
	long long start = mono_ns();
	unsigned long long us;

	reassign_tick(slab_infos, start);
	us = (unsigned long long)(mono_ns() - start) / 1000;
	atomic_store(&mover_slice_us, us);
	if (us > atomic_load(&mover_slice_us_max))
		atomic_store(&mover_slice_us_max, us);
	mover_next_ns = mono_ns() + SD_MOVER_GAP_NS;
}

/**
 * sd_items_mover_step() - Go on with the slab mover's walk between ticks.
 *
 * A walk under way takes a slice of SD_MOVER_SLICE_NS every
 * SD_MOVER_GAP_NS rather than one a second, so that a census and a move
 * of a few hundred thousand items end within a fraction of a second
 * while the main thread still accepts connections between slices.
 *
 * Context: The main thread, after each wake-up of its event loop.
 * Return: Milliseconds until the next slice is due (the event loop's
 * longest wait), or -1 when no walk is under way.
 */
int sd_items_mover_step(void)
{
	long long now;
	unsigned int cls;

	if (mover.state == MOVER_IDLE)
		return -1;
	now = mono_ns();
	if (now < mover_next_ns)
		return (int)((mover_next_ns - now) / 1000000) + 1;
	cls = mover.c.cls;
	if (sc_slab_info(classes[cls].slab, &slab_infos[cls]) < 0)
		slab_infos[cls].slabs = 0;
	mover_slice();
	return mover.state == MOVER_IDLE ? -1 :
					   (int)(SD_MOVER_GAP_NS / 1000000);
}

/*
 * Keep the items and the slabs they keep resident under -m together.
 *
 * An item's cost is its objects' shares of full slabs, so -m bounds the
 * slabs as long as each class reuses the slots it frees. When the sizes
 * stored change (100-byte values replacing 10 KB ones, say), the
 * evictions and replacements free slots at random in the old size's
 * slabs: a slab goes back only once all its items are gone, and the
 * free slots of the others serve no other size. Those stranded bytes
 * were resident on top of -m (17 MiB at -m 64, RSS 88 MiB, in the daemon
 * bench). memcached moves whole slab pages between its classes, evicting
 * the items on them; here the cache's limit becomes -m less the stranded
 * bytes, so the LRU evicts as many bytes more, the old size's items go
 * first as they stop being used, their slabs empty and go back, and the
 * limit rises again. SD_STRANDED_SLABS slabs' worth per class (the
 * partial slabs any class in use has) are not counted. With -M nothing
 * is evicted: the limit stays -m.
 *
 * Run once a second by the main thread: sc_slab_info() drains the
 * calling thread's magazines and the class's depot, which a worker
 * should not do in its request path.
 */
static void limit_follow_slabs(void)
{
	struct sc_slab_info *info = slab_infos;
	size_t base = atomic_load(&base_limit), want, cur, slots;
	unsigned long long stranded = 0;
	unsigned int i;

	for (i = 0; i < nclasses; i++) {
		if (sc_slab_info(classes[i].slab, &info[i]) < 0)
			info[i].slabs = 0;
		if (backoff[i])
			backoff[i]--;
	}
	/* with -M nothing is evicted, by the mover either */
	if (sd_settings.evict_to_free)
		mover_slice();
	for (i = 0; i < nclasses; i++) {
		if (!info[i].slabs)
			continue;
		slots = stranded_slots(&info[i]);
		/*
		 * The class the mover is counting or emptying: its stranded
		 * slots are being dealt with. Its census looks for them, and
		 * its move gives the chosen slabs' free slots back when it
		 * ends, the copies only shifting free slots from the slabs
		 * kept to the chosen ones meanwhile. Lowering the limit by
		 * them would evict items of every size for slots about to go
		 * (the walks take a few ticks).
		 */
		if (mover.state == MOVER_COUNT && i == mover.c.cls)
			slots = 0;
		if ((mover.state == MOVER_MOVE ||
		     mover.state == MOVER_RELEASE) &&
		    i == mover.c.cls)
			slots = slots > mover.freeing ? slots - mover.freeing :
							0;
		stranded += slots * classes[i].charge;
		/* an idle class's empty slabs: nothing else gives them back */
		if (info[i].empty_slabs > SD_STRANDED_SLABS)
			sc_slab_shrink(classes[i].slab);
	}
	atomic_store(&stranded_bytes, stranded);
	if (!sd_settings.evict_to_free)
		return;
	/* never below half of -m: the rest is the items' */
	want = stranded < base / 2 ? base - stranded : base - base / 2;
	cur = sc_cache_limit(cache);
	/* move in steps of 1/256 of -m at least, not on every slot */
	if (want < cur ? cur - want >= base / 256 || want == base - base / 2 :
			 want - cur >= base / 256 || want == base) {
		struct sc_cache_stats st;
		unsigned long long before;

		sc_cache_stats(cache, &st);
		before = st.evictions;
		sc_cache_set_limit(cache, want);
		sc_cache_stats(cache, &st);
		if (st.evictions != before) {
			atomic_fetch_add(&stranded_evictions,
					 st.evictions - before);
			/*
			 * The items' objects went into this thread's
			 * magazines: back into their slabs, and the slabs
			 * that emptied back to the system.
			 */
			sc_slab_shrink(NULL);
		}
	}
}

/* The main thread's one-second tick. */
void sd_items_tick(sd_rel_time now)
{
	sd_rel_time at = atomic_load(&sweep_at);

	if (at && at <= now) {
		atomic_store(&sweep_at, 0);
		flush_sweep();
	}
	crawl_tick();
	limit_follow_slabs();
}

/*
 * cache_memlimit: the new -m, in bytes; evicts down to it (less what the
 * slabs strand, as limit_follow_slabs()) now, and sets sd_settings.maxbytes
 * once it has. Two at once in two workers are done one after the other:
 * otherwise the -m that "stats" shows could be the one that lost.
 */
int sd_items_set_limit(size_t bytes)
{
	unsigned long long stranded = atomic_load(&stranded_bytes);
	size_t want = bytes;
	int ret;

	if (sd_settings.evict_to_free)
		want = stranded < bytes / 2 ? bytes - stranded :
					      bytes - bytes / 2;
	pthread_mutex_lock(&limit_lock);
	atomic_store(&base_limit, bytes);
	ret = sc_cache_set_limit(cache, want);
	if (ret >= 0)
		atomic_store(&sd_settings.maxbytes, bytes);
	pthread_mutex_unlock(&limit_lock);
	return ret;
}

void sd_items_shed_begin(void)
{
	shedding = true;
	shed_items = shed_bytes = 0;
}

void sd_items_shed_end(unsigned long long *items, unsigned long long *bytes)
{
	shedding = false;
	*items = shed_items;
	*bytes = shed_bytes;
}

/* ------------------------------------------------------------ stats */

void sd_items_totals(struct sd_items_totals *t)
{
	struct sc_cache_stats st;
	unsigned int i;
	/*
	 * The bases before the cache's figures: a "stats reset" in another
	 * worker meanwhile then stored them from figures no later than
	 * these, which only grow, so a difference never wraps around.
	 */
	unsigned long long evictions0 = atomic_load(&evictions_base);
	unsigned long long shrunk0 = atomic_load(&shrunk_base);

	sc_cache_stats(cache, &st);
	memset(t, 0, sizeof(*t));
	t->curr_items = st.count;
	t->bytes = st.total_cost;
	t->evictions = st.evictions - evictions0;
	t->shrunk = st.shrunk - shrunk0;
	t->pinned = st.pinned;
	t->index_bytes = sc_cache_memory(cache);
	t->crawler_reclaimed = atomic_load(&crawler_reclaimed);
	t->crawler_items_checked = atomic_load(&crawler_items_checked);
	t->limit = sc_cache_limit(cache);
	t->stranded_bytes = atomic_load(&stranded_bytes);
	t->stranded_evictions = atomic_load(&stranded_evictions);
	t->slabs_moved = atomic_load(&slabs_moved);
	t->reassign_evictions = atomic_load(&reassign_evictions);
	t->reassign_rescues = atomic_load(&reassign_rescues);
	t->reassign_chunk_rescues = atomic_load(&reassign_chunk_rescues);
	t->reassign_running = atomic_load(&reassign_running);
	t->mover_slice_us = atomic_load(&mover_slice_us);
	t->mover_slice_us_max = atomic_load(&mover_slice_us_max);
	for (i = 0; i < nclasses; i++) {
		t->reclaimed += atomic_load(&classes[i].reclaimed);
		t->expired_unfetched +=
			atomic_load(&classes[i].expired_unfetched);
		t->evicted_unfetched +=
			atomic_load(&classes[i].evicted_unfetched);
	}
}

/* stats reset: the counters here start again from 0. */
void sd_items_reset_stats(void)
{
	struct sc_cache_stats st;
	unsigned int i;

	sc_cache_stats(cache, &st);
	atomic_store(&evictions_base, st.evictions);
	atomic_store(&shrunk_base, st.shrunk);
	atomic_store(&crawler_reclaimed, 0);
	atomic_store(&crawler_items_checked, 0);
	/* in memcached's struct stats, which stats reset clears */
	atomic_store(&slabs_moved, 0);
	atomic_store(&reassign_evictions, 0);
	atomic_store(&reassign_rescues, 0);
	atomic_store(&reassign_chunk_rescues, 0);
	atomic_store(&mover_slice_us_max, 0);
	for (i = 0; i < nclasses; i++) {
		struct sd_class *cl = &classes[i];

		atomic_store(&cl->outofmemory, 0);
		atomic_store(&cl->evicted, 0);
		atomic_store(&cl->evicted_unfetched, 0);
		atomic_store(&cl->expired_unfetched, 0);
		atomic_store(&cl->reclaimed, 0);
		atomic_store(&cl->evicted_nonzero, 0);
		atomic_store(&cl->evicted_time, 0);
	}
}

static void slab_stat(struct sd_outbuf *o, unsigned int cls, const char *name,
		      unsigned long long v)
{
	char key[48];

	snprintf(key, sizeof(key), "%u:%s", cls + 1, name);
	sd_out_stat(o, key, "%llu", v);
}

void sd_items_stats_slabs(struct sd_outbuf *o)
{
	uint64_t(*sums)[SD_NSLAB_STATS] =
		malloc(sizeof(*sums) * SD_MAX_CLASSES);
	unsigned long long malloced = 0;
	unsigned int d, i, active = 0;

	if (!sums) {
		o->failed = true;
		return;
	}
	sd_stats_slab_sums(sums);
	for (d = 0; d < ndisp; d++) {
		unsigned long long pages = 0, total = 0, used = 0, empty = 0;
		unsigned long long allocs = 0, frees = 0, fails = 0, req = 0;
		unsigned int k = 0;

		for (i = 0; i < nclasses; i++) {
			struct sc_slab_info info;

			if (disp_of[i] != d ||
			    sc_slab_info(classes[i].slab, &info) < 0)
				continue;
			pages += info.slabs;
			total += info.total_objects;
			used += info.active_objects;
			empty += info.empty_slabs;
			allocs += info.allocs;
			frees += info.frees;
			fails += info.alloc_failures;
			req += atomic_load(&classes[i].requested);
			malloced +=
				(unsigned long long)info.slabs * info.slab_size;
		}
		if (!pages)
			continue;
		active++;
		slab_stat(o, d, "chunk_size", disp_size[d]);
		slab_stat(o, d, "chunks_per_page", total / pages);
		slab_stat(o, d, "total_pages", pages);
		slab_stat(o, d, "total_chunks", total);
		slab_stat(o, d, "used_chunks", used);
		slab_stat(o, d, "free_chunks", total - used);
		slab_stat(o, d, "free_chunks_end", 0);
		slab_stat(o, d, "mem_requested", req);
		/* SD_SLAB_STATS, in memcached's names */
#define SLAB_SUM(name) uint64_t name = sums[d][k++];
		SD_SLAB_STATS(SLAB_SUM)
#undef SLAB_SUM
		slab_stat(o, d, "get_hits", get_hits);
		slab_stat(o, d, "cmd_set", set_cmds);
		slab_stat(o, d, "delete_hits", delete_hits);
		slab_stat(o, d, "incr_hits", incr_hits);
		slab_stat(o, d, "decr_hits", decr_hits);
		slab_stat(o, d, "cas_hits", cas_hits);
		slab_stat(o, d, "cas_badval", cas_badval);
		slab_stat(o, d, "touch_hits", touch_hits);
		/* ours */
		slab_stat(o, d, "empty_pages", empty);
		slab_stat(o, d, "allocs", allocs);
		slab_stat(o, d, "frees", frees);
		slab_stat(o, d, "alloc_failures", fails);
	}
	free(sums);
	sd_out_stat(o, "active_slabs", "%u", active);
	sd_out_stat(o, "total_malloced", "%llu", malloced);
}

static void item_stat(struct sd_outbuf *o, unsigned int cls, const char *name,
		      unsigned long long v)
{
	char key[48];

	snprintf(key, sizeof(key), "items:%u:%s", cls + 1, name);
	sd_out_stat(o, key, "%llu", v);
}

void sd_items_stats_items(struct sd_outbuf *o)
{
	unsigned int d, i;

	for (d = 0; d < ndisp; d++) {
		unsigned long long v[9] = { 0 };

		for (i = 0; i < nclasses; i++) {
			struct sd_class *cl = &classes[i];
			sd_rel_time t = atomic_load(&cl->evicted_time);

			if (disp_of[i] != d)
				continue;
			v[0] += atomic_load(&cl->number);
			v[1] += atomic_load(&cl->requested);
			v[2] += atomic_load(&cl->evicted);
			v[3] += atomic_load(&cl->evicted_nonzero);
			if (t > v[4])
				v[4] = t;
			v[5] += atomic_load(&cl->outofmemory);
			v[6] += atomic_load(&cl->reclaimed);
			v[7] += atomic_load(&cl->expired_unfetched);
			v[8] += atomic_load(&cl->evicted_unfetched);
		}
		if (!v[0] && !v[5] && !v[2])
			continue;
		item_stat(o, d, "number", v[0]);
		item_stat(o, d, "mem_requested", v[1]);
		item_stat(o, d, "evicted", v[2]);
		item_stat(o, d, "evicted_nonzero", v[3]);
		item_stat(o, d, "evicted_time", v[4]);
		item_stat(o, d, "outofmemory", v[5]);
		item_stat(o, d, "reclaimed", v[6]);
		item_stat(o, d, "expired_unfetched", v[7]);
		item_stat(o, d, "evicted_unfetched", v[8]);
	}
}

/*
 * stats cachedump <class> <limit>: the items whose header is in @cls
 * (0-based), as memcached prints them ("ITEM key [bytes b; exptime s]",
 * exptime as unix time, 0: none), at most @limit (0: all) and 2 MiB.
 * Items with binary keys are left out, as in memcached.
 */
int sd_items_cachedump(struct sd_outbuf *o, unsigned int cls,
		       unsigned int limit)
{
	struct sc_cache_cursor cur = SC_CACHE_CURSOR_INIT;
	struct sc_entry *v[SD_SWEEP_BATCH];
	size_t bytes = 0;
	unsigned int shown = 0;
	bool full = false;
	int n, i;

	while (!full &&
	       (n = sc_cache_scan(cache, &cur, v, SD_SWEEP_BATCH)) > 0) {
		for (i = 0; i < n; i++) {
			struct sd_item *it = sc_entry_value(v[i]);
			sd_rel_time exp = atomic_load(&it->exptime);
			char line[SD_KEY_MAX + 64], key[SD_KEY_MAX];
			const char *ikey;
			size_t ilen, nkey;
			int len;

			if (full || disp_of[item_hdr_class(it)] != cls ||
			    (atomic_load(&it->iflags) & SD_ITEM_KEY_BINARY)) {
				sc_entry_put(v[i]);
				continue;
			}
			ikey = sc_entry_string_key(v[i], &ilen);
			nkey = raw_key(ikey, ilen, key);
			len = snprintf(
				line, sizeof(line),
				"ITEM %.*s [%u b; %llu s]\r\n", (int)nkey, key,
				(unsigned int)sd_item_vlen(it),
				exp ? (unsigned long long)exp +
						(unsigned long long)
							sd_process_started :
				      0ULL);
			sc_entry_put(v[i]);
			if (bytes + (size_t)len + 6 > 2u * 1024 * 1024) {
				full = true;
				continue;
			}
			sd_out_bytes(o, line, (size_t)len);
			bytes += (size_t)len;
			if (limit && ++shown >= limit)
				full = true;
		}
	}
	sd_out_str(o, "END");
	return 0;
}
