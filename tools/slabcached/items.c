// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabcached items: memory from slab size classes, indexed by one sc_cache.
 *
 * Size classes grow by the factor -f (1.25, as memcached) from 96 bytes up
 * to a chunk maximum of 512 KiB; every class is one sc_slab. An item's
 * header, key and chunk table share one object of the smallest class that
 * holds them; its value (with the trailing "\r\n") lives in one chunk of the
 * class that fits it, or, above the chunk maximum, in full-size chunks and a
 * last chunk of the class that fits the rest. Freeing an item frees its
 * objects, so a slab whose items are all gone is empty and can go back.
 *
 * An item small enough (header, key and value within the chunk maximum)
 * is one object, value inline, as in memcached: a workload that moves from
 * small to large values then empties the small classes' slabs instead of
 * leaving them pinned by the large items' headers.
 *
 * The sc_cache holds every linked item under its key with cost = the slab
 * bytes the item really holds (its objects' shares of full slabs) plus the library's memory for its entry
 * (sc_cache_entry_memory()), and limit = -m, so the cache's LRU eviction
 * keeps item memory and index under -m, and its shrinker sheds items under
 * pressure. Its release callback frees the item.
 *
 * Readers pin with sc_cache_get() and put when the value has been sent.
 * Writers (every store, delete, incr/decr) take the stripe lock of the key
 * first, so a check-then-insert (add, cas, append, incr) is atomic against
 * other writers of the same key. An item is never changed once linked
 * (append, incr make a new one), except its exptime by touch/gat.
 *
 * Lock order: stripe lock, then the library's cache and slab locks. The
 * release callback takes no lock of ours.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slabcached.h"

#define SD_CLASS_MIN 96
#define SD_CHUNK_MAX (512u * 1024)
/* -f 1.05 (the smallest allowed) makes 177 classes up to 512 KiB */
#define SD_MAX_CLASSES 200
#define SD_STRIPES 1024

struct sd_class {
	struct sc_slab *slab;
	size_t size; /* usable bytes */
	/*
	 * Bytes charged per object: its share of a full slab, so the slot
	 * and the slab's tail that no object fits in are both counted.
	 */
	size_t charge;
	atomic_ullong items; /* items whose header is in this class */
	atomic_ullong oom; /* allocations that failed */
};

static struct sd_class classes[SD_MAX_CLASSES];
static unsigned int nclasses;
static size_t chunk_max;
static struct sc_cache *cache;
static pthread_mutex_t stripes[SD_STRIPES];
static atomic_ullong cas_counter;
static _Atomic int64_t flush_time; /* items stored before it are gone */

/* Shed accounting: releases run by the main thread during a dispatch. */
static _Thread_local bool shedding;
static _Thread_local unsigned long long shed_items, shed_bytes;

size_t sd_chunk_max(void)
{
	return chunk_max;
}

static int class_for(size_t size)
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

static void item_release(void *value, void *priv)
{
	struct sd_item *it = value;

	if (shedding) {
		shed_items++;
		shed_bytes += it->cost;
	}
	sd_item_free(it);
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

int sd_items_init(void)
{
	double size = SD_CLASS_MIN;
	struct sc_cache_config cfg = {
		.name = "slabcached",
		.limit = sd_settings.maxbytes,
		.ops = &item_ops,
		.flags = sd_settings.cache_flags,
	};
	unsigned int i;

	for (i = 0; i < SD_STRIPES; i++)
		pthread_mutex_init(&stripes[i], NULL);

	while (nclasses < SD_MAX_CLASSES - 1) {
		size_t sz = ((size_t)size + 7) & ~(size_t)7;

		/* a small factor must still make each class bigger */
		if (nclasses && sz <= classes[nclasses - 1].size)
			sz = classes[nclasses - 1].size + 8;

		if (sz >= SD_CHUNK_MAX / sd_settings.factor)
			break;
		if (class_add(sz))
			goto err_classes;
		size = (double)sz * sd_settings.factor;
	}
	if (class_add(SD_CHUNK_MAX))
		goto err_classes;
	chunk_max = SD_CHUNK_MAX;

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
	sc_cache_destroy(cache);
	cache = NULL;
	while (nclasses)
		sc_slab_destroy(classes[--nclasses].slab);
}

/* The header object: struct, key, NUL, chunk table (pointer aligned). */
static size_t hdr_size(size_t nkey, size_t nchunks)
{
	size_t off = offsetof(struct sd_item, key) + nkey + 1;

	off = (off + sizeof(char *) - 1) & ~(sizeof(char *) - 1);
	return off + nchunks * sizeof(char *);
}

bool sd_item_size_ok(size_t nkey, size_t nbytes)
{
	return SD_ITEM_OVERHEAD + nkey + 1 + nbytes <=
	       sd_settings.item_size_max;
}

size_t sd_item_chunk_len(const struct sd_item *it, unsigned int i)
{
	if (i + 1 < it->nchunks)
		return chunk_max;
	return it->nbytes - (size_t)(it->nchunks - 1) * chunk_max;
}

/* The library's own memory for an item's entry: charged in its cost. */
static size_t entry_memory(size_t nkey)
{
	return sc_cache_entry_memory(cache, nkey);
}

/* Free the first @n value chunks of @it, if they are objects of their own. */
static void free_chunks(struct sd_item *it, unsigned int n)
{
	unsigned int i;

	if (it->inline_value)
		return;
	for (i = 0; i < n; i++) {
		size_t len = sd_item_chunk_len(it, i);

		sc_slab_free(classes[class_for(len ? len : 1)].slab,
			     it->chunks[i]);
	}
}

/*
 * sd_item_alloc() - Allocate an unlinked item with room for @nbytes of
 * value (including "\r\n"). Return: the item, or NULL (errno ENOMEM).
 */
struct sd_item *sd_item_alloc(const char *key, size_t nkey, uint32_t flags,
			      int64_t exptime, size_t nbytes)
{
	size_t nchunks = nbytes ? (nbytes + chunk_max - 1) / chunk_max : 1;
	size_t hsize = hdr_size(nkey, nchunks);
	bool inline_value = nchunks == 1 && hsize + nbytes <= chunk_max;
	int hc = class_for(inline_value ? hsize + nbytes : hsize);
	struct sd_item *it;
	size_t i, cost;

	if (hc < 0 || nchunks > UINT16_MAX) {
		errno = E2BIG;
		return NULL;
	}
	it = sc_slab_alloc(classes[hc].slab);
	if (!it) {
		atomic_fetch_add(&classes[hc].oom, 1);
		return NULL;
	}
	cost = classes[hc].charge + entry_memory(nkey);
	it->nbytes = nbytes;
	it->flags = flags;
	atomic_init(&it->exptime, exptime);
	it->time = 0;
	it->cas = 0;
	it->hdr_class = (uint16_t)hc;
	it->nkey = (uint16_t)nkey;
	it->inline_value = inline_value;
	memcpy(it->key, key, nkey);
	it->key[nkey] = '\0';
	it->chunks = (char **)((char *)it + hdr_size(nkey, 0));
	if (inline_value) {
		it->chunks[0] = (char *)it + hsize;
		it->nchunks = 1;
		goto done;
	}
	it->nchunks = (uint16_t)nchunks;
	for (i = 0; i < nchunks; i++) {
		size_t len = sd_item_chunk_len(it, (unsigned int)i);
		int cc = class_for(len ? len : 1);

		it->chunks[i] = sc_slab_alloc(classes[cc].slab);
		if (!it->chunks[i]) {
			atomic_fetch_add(&classes[cc].oom, 1);
			free_chunks(it, (unsigned int)i);
			sc_slab_free(classes[hc].slab, it);
			errno = ENOMEM;
			return NULL;
		}
		cost += classes[cc].charge;
	}
done:
	it->cost = cost;
	atomic_fetch_add(&classes[hc].items, 1);
	return it;
}

void sd_item_free(struct sd_item *it)
{
	if (!it)
		return;
	free_chunks(it, it->nchunks);
	atomic_fetch_sub(&classes[it->hdr_class].items, 1);
	sc_slab_free(classes[it->hdr_class].slab, it);
}

/* memcached's realtime(): relative up to 30 days, else absolute. */
int64_t sd_realtime(int64_t exptime, int64_t now)
{
	if (exptime == 0)
		return 0;
	if (exptime < 0)
		return 1; /* already expired */
	if (exptime > SD_REALTIME_MAXDELTA) {
		if (exptime <= sd_process_started)
			return 1;
		return exptime;
	}
	return exptime + now;
}

static bool item_live(const struct sd_item *it, int64_t now)
{
	int64_t exp = atomic_load_explicit(&it->exptime, memory_order_relaxed);
	int64_t ft = atomic_load_explicit(&flush_time, memory_order_relaxed);

	if (exp != 0 && exp <= now)
		return false;
	if (ft != 0 && ft <= now && it->time < ft)
		return false;
	return true;
}

static pthread_mutex_t *stripe_of(const char *key)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return &stripes[h % SD_STRIPES];
}

/* Remove @it if it is still the item under its key. Stripe lock held. */
static void unlink_if_current(struct sd_item *it)
{
	struct sc_entry *e = sc_cache_get(cache, it->key);

	if (!e)
		return;
	if (sc_entry_value(e) == it) {
		sc_entry_put(e);
		sc_cache_remove(cache, it->key);
		return;
	}
	sc_entry_put(e);
}

/* Look up a live item; stripe lock held or not. Expired ones are unlinked
 * (under the stripe lock) and reported absent. */
static struct sc_entry *get_live(const char *key, int64_t now,
				 struct sd_item **itp, bool locked)
{
	struct sc_entry *e = sc_cache_get(cache, key);
	struct sd_item *it;

	if (!e)
		return NULL;
	it = sc_entry_value(e);
	if (item_live(it, now)) {
		*itp = it;
		return e;
	}
	{
		int64_t exp = atomic_load(&it->exptime);

		if (exp != 0 && exp <= now)
			sd_stat_add(&sd_stats.get_expired, 1);
		else
			sd_stat_add(&sd_stats.get_flushed, 1);
	}
	if (locked) {
		unlink_if_current(it);
	} else {
		pthread_mutex_t *m = stripe_of(key);

		pthread_mutex_lock(m);
		unlink_if_current(it);
		pthread_mutex_unlock(m);
	}
	sc_entry_put(e);
	return NULL;
}

struct sc_entry *sd_item_get(const char *key, int64_t now, struct sd_item **itp)
{
	return get_live(key, now, itp, false);
}

/* Link @it under its key; on failure @it is still ours. Stripe lock held. */
static enum sd_store_result link_item(struct sd_item *it, int64_t now)
{
	int ret;

	it->cas = atomic_fetch_add(&cas_counter, 1) + 1;
	it->time = now;
	ret = sc_cache_insert(cache, it->key, it, it->cost);
	if (ret == 0) {
		sd_stat_add(&sd_stats.total_items, 1);
		return SD_STORED;
	}
	if (ret == SC_CACHE_NOT_ADMITTED) {
		/*
		 * --policy=s3fifo turned a first-time large item away: still
		 * ours. A cache may drop any item at any time: STORED.
		 */
		sd_stat_add(&sd_stats.admission_rejects, 1);
		sd_item_free(it);
		return SD_STORED;
	}
	return ret == -EFBIG ? SD_TOO_LARGE : SD_NO_MEMORY;
}

/* Copy @len bytes of @src's value from @soff into @dst's value at @doff. */
static void copy_value(struct sd_item *dst, size_t doff,
		       const struct sd_item *src, size_t soff, size_t len)
{
	while (len) {
		size_t si = soff / chunk_max, so = soff % chunk_max;
		size_t di = doff / chunk_max, dof = doff % chunk_max;
		size_t n = len;

		if (n > chunk_max - so)
			n = chunk_max - so;
		if (n > chunk_max - dof)
			n = chunk_max - dof;
		memcpy(dst->chunks[di] + dof, src->chunks[si] + so, n);
		soff += n;
		doff += n;
		len -= n;
	}
}

/* append/prepend: a new item holding old and new data, old flags/exptime. */
static enum sd_store_result store_concat(struct sd_item *it,
					 const struct sd_item *old, bool append,
					 int64_t now)
{
	size_t nbytes = old->nbytes + it->nbytes - 2;
	struct sd_item *n;
	enum sd_store_result r;

	/* memcached answers NOT_STORED when the joined item cannot be had */
	if (!sd_item_size_ok(old->nkey, nbytes))
		return SD_NOT_STORED;
	n = sd_item_alloc(old->key, old->nkey, old->flags,
			  atomic_load(&old->exptime), nbytes);
	if (!n)
		return SD_NOT_STORED;
	if (append) {
		copy_value(n, 0, old, 0, old->nbytes - 2);
		copy_value(n, old->nbytes - 2, it, 0, it->nbytes);
	} else {
		copy_value(n, 0, it, 0, it->nbytes - 2);
		copy_value(n, it->nbytes - 2, old, 0, old->nbytes);
	}
	r = link_item(n, now);
	if (r != SD_STORED)
		sd_item_free(n);
	return r;
}

/*
 * sd_item_store() - memcached's do_store_item(). On SD_STORED @it is owned
 * by the cache (set/add/replace/cas) or was copied (append/prepend: the
 * caller frees it); otherwise the caller frees @it.
 */
enum sd_store_result sd_item_store(struct sd_item *it, enum sd_store_cmd cmd,
				   uint64_t cas_in, int64_t now)
{
	pthread_mutex_t *m = stripe_of(it->key);
	struct sd_item *old = NULL;
	struct sc_entry *e;
	enum sd_store_result r;

	pthread_mutex_lock(m);
	e = get_live(it->key, now, &old, true);
	switch (cmd) {
	case SD_ADD:
		if (e) {
			r = SD_NOT_STORED;
			goto out;
		}
		break;
	case SD_REPLACE:
		if (!e) {
			r = SD_NOT_STORED;
			goto out;
		}
		break;
	case SD_APPEND:
	case SD_PREPEND:
		if (!e) {
			r = SD_NOT_STORED;
			goto out;
		}
		r = store_concat(it, old, cmd == SD_APPEND, now);
		goto out;
	case SD_CAS:
		if (!e) {
			sd_stat_add(&sd_stats.cas_misses, 1);
			r = SD_NOT_FOUND;
			goto out;
		}
		if (old->cas != cas_in) {
			sd_stat_add(&sd_stats.cas_badval, 1);
			r = SD_EXISTS;
			goto out;
		}
		sd_stat_add(&sd_stats.cas_hits, 1);
		break;
	case SD_SET:
		break;
	}
	r = link_item(it, now);
out:
	pthread_mutex_unlock(m);
	sc_entry_put(e);
	return r;
}

/* A refused set unlinks the old item, as memcached does. */
bool sd_item_delete(const char *key, int64_t now)
{
	pthread_mutex_t *m = stripe_of(key);
	struct sd_item *it;
	struct sc_entry *e;

	pthread_mutex_lock(m);
	e = get_live(key, now, &it, true);
	if (e)
		unlink_if_current(it);
	pthread_mutex_unlock(m);
	sc_entry_put(e);
	return e != NULL;
}

bool sd_item_touch(const char *key, int64_t exptime, int64_t now)
{
	struct sd_item *it;
	struct sc_entry *e = get_live(key, now, &it, false);

	if (!e)
		return false;
	atomic_store(&it->exptime, exptime);
	sc_entry_put(e);
	return true;
}

/* memcached's safe_strtoull() on a value: digits, then space or end. */
static bool value_to_u64(const struct sd_item *it, uint64_t *out)
{
	char buf[32];
	size_t n = it->nbytes - 2;
	unsigned long long v;
	char *end;

	if (n == 0 || it->nchunks != 1)
		return false;
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, it->chunks[0], n);
	buf[n] = '\0';
	if (n < it->nbytes - 2 && !isspace((unsigned char)it->chunks[0][n])) {
		/* more digits than fit: not a 64-bit number */
		return false;
	}
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno == ERANGE || end == buf)
		return false;
	if (!(isspace((unsigned char)*end) || *end == '\0'))
		return false;
	if ((long long)v < 0 && memchr(buf, '-', (size_t)(end - buf)))
		return false;
	*out = v;
	return true;
}

enum sd_delta_result sd_item_delta(const char *key, bool incr, uint64_t delta,
				   int64_t now, uint64_t *result)
{
	pthread_mutex_t *m = stripe_of(key);
	enum sd_delta_result r;
	struct sd_item *old, *n;
	struct sc_entry *e;
	char buf[24];
	uint64_t v;
	size_t len, nbytes;

	pthread_mutex_lock(m);
	e = get_live(key, now, &old, true);
	if (!e) {
		r = SD_DELTA_NOT_FOUND;
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
	len = (size_t)snprintf(buf, sizeof(buf), "%" PRIu64, v);
	/* memcached rewrites a shorter number in place, space padded */
	nbytes = len + 2 < old->nbytes ? old->nbytes : len + 2;
	n = sd_item_alloc(old->key, old->nkey, old->flags,
			  atomic_load(&old->exptime), nbytes);
	if (!n) {
		r = SD_DELTA_NO_MEMORY;
		goto out;
	}
	memcpy(n->chunks[0], buf, len);
	memset(n->chunks[0] + len, ' ', nbytes - 2 - len);
	memcpy(n->chunks[0] + nbytes - 2, "\r\n", 2);
	if (link_item(n, now) != SD_STORED) {
		sd_item_free(n);
		r = SD_DELTA_NO_MEMORY;
		goto out;
	}
	*result = v;
	r = SD_DELTA_OK;
out:
	pthread_mutex_unlock(m);
	sc_entry_put(e);
	return r;
}

/*
 * flush_all: with no delay every item goes now (and its memory back to the
 * slabs); with a delay, items stored before the deadline read as absent
 * from then on, and the next tick after it clears them.
 */
void sd_items_flush(int64_t now, int64_t delay)
{
	if (delay <= 0) {
		atomic_store(&flush_time, 0);
		sc_cache_clear(cache);
		sc_slab_shrink(NULL);
		return;
	}
	atomic_store(&flush_time, sd_realtime(delay, now));
}

void sd_items_tick(int64_t now)
{
	int64_t ft = atomic_load(&flush_time);

	if (ft != 0 && ft <= now) {
		/*
		 * Items stored between the flush_all and its deadline go too,
		 * as in memcached (their time is before the deadline).
		 */
		atomic_store(&flush_time, 0);
		sc_cache_clear(cache);
		sc_slab_shrink(NULL);
	}
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

void sd_items_stats(struct sd_outbuf *o)
{
	struct sc_cache_stats st;

	sc_cache_stats(cache, &st);
	sd_out_stat(o, "bytes", "%zu", st.total_cost);
	sd_out_stat(o, "index_bytes", "%zu", sc_cache_memory(cache));
	sd_out_stat(o, "curr_items", "%zu", st.count);
	sd_out_stat(o, "total_items", "%llu",
		    sd_stat_get(&sd_stats.total_items));
	sd_out_stat(o, "evictions", "%llu", st.evictions);
	sd_out_stat(o, "shrunk", "%llu", st.shrunk);
	sd_out_stat(o, "pinned_evicted", "%zu", st.pinned);
}

void sd_items_stats_slabs(struct sd_outbuf *o)
{
	unsigned long long malloced = 0;
	unsigned int i, active = 0;

	for (i = 0; i < nclasses; i++) {
		struct sc_slab_info info;
		char name[32];

		if (sc_slab_info(classes[i].slab, &info) < 0 || !info.slabs)
			continue;
		active++;
		malloced += (unsigned long long)info.slabs * info.slab_size;
#define SLAB_STAT(field, fmt, val)                                \
	do {                                                      \
		snprintf(name, sizeof(name), "%u:" field, i + 1); \
		sd_out_stat(o, name, fmt, val);                   \
	} while (0)
		SLAB_STAT("chunk_size", "%zu", classes[i].size);
		SLAB_STAT("slot_size", "%zu", info.slot_size);
		SLAB_STAT("chunks_per_page", "%zu", info.objects_per_slab);
		SLAB_STAT("page_size", "%zu", info.slab_size);
		SLAB_STAT("total_pages", "%zu", info.slabs);
		SLAB_STAT("empty_pages", "%zu", info.empty_slabs);
		SLAB_STAT("total_chunks", "%zu", info.total_objects);
		SLAB_STAT("used_chunks", "%zu", info.active_objects);
		SLAB_STAT("free_chunks", "%zu",
			  info.total_objects - info.active_objects);
		SLAB_STAT("allocs", "%llu", info.allocs);
		SLAB_STAT("frees", "%llu", info.frees);
		SLAB_STAT("alloc_failures", "%llu", info.alloc_failures);
#undef SLAB_STAT
	}
	sd_out_stat(o, "active_slabs", "%u", active);
	sd_out_stat(o, "total_malloced", "%llu", malloced);
}

void sd_items_stats_items(struct sd_outbuf *o)
{
	unsigned int i;

	for (i = 0; i < nclasses; i++) {
		unsigned long long n = atomic_load(&classes[i].items);
		unsigned long long oom = atomic_load(&classes[i].oom);
		char name[40];

		if (!n && !oom)
			continue;
		snprintf(name, sizeof(name), "items:%u:number", i + 1);
		sd_out_stat(o, name, "%llu", n);
		snprintf(name, sizeof(name), "items:%u:outofmemory", i + 1);
		sd_out_stat(o, name, "%llu", oom);
	}
}
