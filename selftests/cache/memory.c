// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Library memory per entry (contract rule 11): fill a cache with N
 * entries of 16-byte and 64-byte string keys, and handle entries, and
 * report sc_cache_memory() / N (whole slabs, the index, the key array, the
 * cache itself) next to the entry slab's own share from slabinfo. The
 * figures go to Documentation/cache.rst. The checks are on layout, not
 * speed: the index stays within its load bounds and an entry with a
 * 16-byte key takes the slab slot of its header and key rounded up to 8,
 * 48 bytes with its node. S3-FIFO's ghost costs at most 4 bytes per entry
 * of a full cache more than exact LRU.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "config.h"
#include "core/cache_internal.h"
#include "helpers.h"

/* The entry slot of a string key of @len bytes kept inline. */
#define INLINE_SLOT(len) ((SC_ENTRY_HDR + (len) + 7) / 8 * 8)

/* Sum slots * slot size of the slab caches whose name starts so. */
static size_t slab_bytes(const char *prefix, size_t *slot_size)
{
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0, bytes = 0, active, total, objsize;
	FILE *f = open_memstream(&buf, &len);
	char name[128];

	cr_assert_geq(sc_slabinfo_write(f), 0);
	fclose(f);
	*slot_size = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%127s %zu %zu %zu", name, &active, &total,
			   &objsize) == 4 &&
		    !strncmp(name, prefix, strlen(prefix)) && active) {
			bytes += active * objsize;
			*slot_size = objsize;
		}
	}
	free(buf);
	return bytes;
}

static void measure(size_t n, int key_len, bool handles)
{
	struct sc_cache_config cfg = { .name = "mem",
				       .limit = SIZE_MAX,
				       .flags = SC_CACHE_NO_SHRINKER };
	struct sc_cache *c = sc_cache_create(&cfg);
	size_t total, used, slot, charged, i;
	char key[80];

	cr_assert_not_null(c);
	for (i = 0; i < n; i++) {
		if (handles) {
			cr_assert_neq(sc_cache_add(c, VAL(i), 1).id, 0);
			continue;
		}
		/* "key:" then the number, zero-padded to key_len bytes */
		snprintf(key, sizeof(key), "key:%0*zu", key_len - 4, i);
		cr_assert_eq(sc_cache_insert(c, key, VAL(i), 1), 0);
	}
	cr_assert_eq(sc_cache_count(c), n);
	total = sc_cache_memory(c);
	/*
	 * What a caller charging sc_cache_entry_memory() per entry counts:
	 * within the index's load swing (and slab slack) of the real figure.
	 */
	charged = n * sc_cache_entry_memory(c, handles ? 0 : (size_t)key_len);
	cr_log_info("charged per entry: %zu B, %.3f of the measured",
		    charged / n, (double)charged / total);
	cr_assert_geq(charged, total * 3 / 4);
	cr_assert_leq(charged, total * 5 / 4);
	used = slab_bytes("mem-entry-", &slot);
	if (handles)
		cr_log_info("handles: n=%zu: %.1f B/entry in all (entry slot "
			    "%zu B, entries %.1f B/entry)",
			    n, (double)total / n, slot, (double)used / n);
	else
		cr_log_info("%d-byte keys: n=%zu: %.1f B/entry in all "
			    "(entry slot %zu B, entries %.1f B/entry, index "
			    "and slab slack %.1f B/entry)",
			    key_len, n, (double)total / n, slot,
			    (double)used / n, (double)(total - used) / n);
	if (!handles && key_len == 16) {
		cr_assert_eq(slot, INLINE_SLOT(16), "header + 16-byte key");
		cr_assert_eq(slot + sc_entry_node_bytes(), 48,
			     "48 bytes with the node, wherever it lives");
	}
	if (handles)
		cr_assert_eq(slot, SC_ENTRY_CLASS_MIN, "the smallest class");
	if (handles) {
		/* the key array: 16-byte slots, doubling */
		cr_assert_geq(total, used + n * 16);
		cr_assert_leq(total, used + n * 32 + 2 * 1024 * 1024);
	} else {
		/*
		 * the index: 8-byte slots at load 1/2 .. 3/4 (sizes 2^k and
		 * 1.5 * 2^k), slab slack
		 */
		cr_assert_geq(total, used + n * 8 * 4 / 3);
		cr_assert_leq(total, used + n * 8 * 2 + 2 * 1024 * 1024);
	}
	sc_cache_destroy(c);
}

#ifdef CONFIG_SC_ASAN
#define BIG 200000
#else
#define BIG 1000000
#endif

Test(cache_memory, bytes_per_entry)
{
	measure(100000, 16, false);
	measure(BIG, 16, false);
	measure(100000, 64, false);
	measure(BIG, 64, false);
	measure(100000, 0, true);
}

Test(cache_memory, entry_memory)
{
	struct sc_cache_config cfg = { .name = "memone",
				       .limit = SIZE_MAX,
				       .flags = SC_CACHE_NO_SHRINKER };
	struct sc_cache *c = sc_cache_create(&cfg);
	size_t inline_max = 0, k;

	cr_assert_not_null(c);
	cr_assert_eq(sc_cache_entry_memory(NULL, 16), 0);
	cr_assert_eq(sc_cache_entry_memory(c, 65536), 0, "longer than a key");
	/*
	 * 16-byte key: 48 bytes for the slot and the node (wherever it
	 * lives), two 8-byte index slots
	 */
	cr_assert_eq(sc_cache_entry_memory(c, 16), 48 + 16);
	/* a handle: the smallest slot, its node, its key array slot */
	cr_assert_eq(sc_cache_entry_memory(c, 0),
		     SC_ENTRY_CLASS_MIN + sc_entry_node_bytes() + 16);
	{
		struct sc_cache *s3 =
			mk_cache_flags(SIZE_MAX, NULL, SC_CACHE_POLICY_S3FIFO);

		/* S3-FIFO: 2 more, its ghost's share */
		cr_assert_eq(sc_cache_entry_memory(s3, 16), 48 + 16 + 2);
		cr_assert_eq(sc_cache_entry_memory(s3, 0),
			     SC_ENTRY_CLASS_MIN + sc_entry_node_bytes() + 16 +
				     2);
		sc_cache_destroy(s3);
	}
	/* never shrinks with the key; an external key adds its own slot */
	for (k = 1; k <= 65535; k += k < 300 ? 1 : 997) {
		size_t m = sc_cache_entry_memory(c, k);

		cr_assert_geq(m, k, "key %zu", k);
		cr_assert_geq(m, inline_max, "key %zu", k);
		inline_max = m;
	}
	cr_assert_geq(sc_cache_entry_memory(c, 65535), 65535);
	sc_cache_destroy(c);
}

/* sc_cache_memory() of a full cache of @n entries of 16-byte keys. */
static size_t full_cache_memory(size_t n, unsigned int policy)
{
	struct sc_cache *c = mk_cache_flags(n, NULL, policy);
	char key[32];
	size_t bytes;

	cr_assert_not_null(c);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "key:%012zu", i);
		cr_assert_eq(sc_cache_insert(c, key, VAL(i), 1), 0);
	}
	cr_assert_eq(sc_cache_count(c), n);
	bytes = sc_cache_memory(c);
	sc_cache_destroy(c);
	return bytes;
}

Test(cache_memory, s3fifo_ghost_per_entry)
{
	static const size_t sizes[] = { 100000, BIG };

	for (size_t i = 0; i < 2; i++) {
		size_t n = sizes[i], lru = full_cache_memory(n, 0),
		       s3 = full_cache_memory(n, SC_CACHE_POLICY_S3FIFO);
		double more = ((double)s3 - (double)lru) / (double)n;

		cr_log_info("full cache of %zu 16-byte keys: LRU %.1f B/entry, "
			    "S3-FIFO %.1f B/entry (%.2f more: the ghost)",
			    n, (double)lru / n, (double)s3 / n, more);
		/* 0.5 x (64 + 1) / 16 = 2.03 bytes, and the struct */
		cr_assert_leq(more, 4.0, "at most 4 bytes per entry more");
		cr_assert_geq(more, 2.0, "the ghost is counted");
	}
}

/*
 * A cost of 65,535 or more is kept in 8 more bytes after the key, for
 * every kind of key: inline up to SC_KEY_INLINE_MAX, in a key slab beyond,
 * a handle. Each entry reads back its exact cost and key, the sums stay
 * exact, and sc_cache_entry_memory_cost() says 8 bytes more from there.
 */
Test(cache_memory, spilled_costs)
{
	/* around the inline limit (88), and the longest key */
	static const size_t lens[] = { 0,  1,  7,  8,  13,  16,	  87,
				       88, 89, 96, 97, 255, 4000, 65535 };
	/* around the 16-bit field's limit (65535: spilled) */
	static const size_t costs[] = { 0,     1,	 65534,	       65535,
					65536, 1u << 20, SIZE_MAX / 32 };
	struct sc_cache_config cfg = { .name = "memcost",
				       .limit = SIZE_MAX,
				       .flags = SC_CACHE_NO_SHRINKER };
	struct sc_cache *c = sc_cache_create(&cfg);
	static char key[65536];
	size_t total = 0, n = 0, i, j;

	cr_assert_not_null(c);
	memset(key, 'k', sizeof(key) - 1);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t small = sc_cache_entry_memory(c, lens[i]);

		cr_assert_eq(sc_cache_entry_memory_cost(c, lens[i], 65534),
			     small);
		cr_assert_eq(sc_cache_entry_memory_cost(c, lens[i], 65535),
			     small + 8, "key %zu", lens[i]);
		cr_assert_eq(sc_cache_entry_memory_cost(c, lens[i], SIZE_MAX),
			     small + 8, "key %zu", lens[i]);
		for (j = 0; j < sizeof(costs) / sizeof(costs[0]); j++) {
			struct sc_entry *e;
			const char *k;
			size_t klen;
			sc_key_t h = { 0 };

			if (lens[i]) {
				/* a key per length and cost */
				key[lens[i]] = 0;
				key[0] = (char)('a' + j);
				cr_assert_eq(sc_cache_insert(c, key, VAL(n),
							     costs[j]),
					     0);
				e = sc_cache_get(c, key);
			} else {
				h = sc_cache_add(c, VAL(n), costs[j]);
				cr_assert_neq(h.id, 0);
				e = sc_cache_get_key(c, h);
			}
			cr_assert_not_null(e);
			cr_assert_eq(sc_entry_cost(e), costs[j],
				     "key %zu cost %zu", lens[i], costs[j]);
			cr_assert_eq(sc_entry_value(e), VAL(n));
			k = sc_entry_string_key(e, &klen);
			cr_assert_eq(klen, lens[i]);
			if (lens[i])
				cr_assert_eq(memcmp(k, key, klen), 0);
			sc_entry_put(e);
			total += costs[j];
			n++;
			cr_assert_eq(sc_cache_total_cost(c), total);
			assert_cache_sane(c);
			if (lens[i])
				key[lens[i]] = 'k';
		}
	}
	cr_assert_eq(sc_cache_count(c), n);
	sc_cache_clear(c);
	cr_assert_eq(sc_cache_total_cost(c), 0);
	sc_cache_destroy(c);
}

/*
 * The entry classes follow the header: SC_NR_ENTRY_CLASSES slab caches
 * named by their object sizes, from the smallest entry (header and a
 * handle's slot, rounded up to 8) to SC_ENTRY_CLASS_MAX in steps of 8, and
 * every inline key in the smallest class that holds it.
 */
Test(cache_memory, entry_classes_follow_the_header)
{
	struct sc_cache_config cfg = { .name = "memcls",
				       .limit = SIZE_MAX,
				       .flags = SC_CACHE_NO_SHRINKER };
	struct sc_cache *c = sc_cache_create(&cfg);
	char *buf = NULL, *line, *save = NULL, name[128];
	size_t len = 0, found = 0, i, k;
	bool seen[SC_NR_ENTRY_CLASSES] = { false };
	FILE *f;

	cr_assert_not_null(c);
	cr_assert_eq(SC_ENTRY_CLASS_MIN,
		     (SC_ENTRY_HDR + sizeof(uint32_t) + 7) / 8 * 8);
	cr_assert_eq(SC_KEY_INLINE_MAX,
		     SC_ENTRY_CLASS_MAX - SC_ENTRY_HDR - sizeof(size_t));
	f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	cr_assert_geq(sc_slabinfo_write(f), 0);
	fclose(f);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t size;

		if (sscanf(line, "%127s", name) != 1 ||
		    strncmp(name, "memcls-entry-", 13))
			continue;
		cr_assert_eq(sscanf(name + 13, "%zu", &size), 1, "%s", name);
		cr_assert(size >= SC_ENTRY_CLASS_MIN &&
				  size <= SC_ENTRY_CLASS_MAX && size % 8 == 0,
			  "%s", name);
		i = (size - SC_ENTRY_CLASS_MIN) / 8;
		cr_assert_not(seen[i], "%s twice", name);
		seen[i] = true;
		found++;
	}
	free(buf);
	cr_assert_eq(found, SC_NR_ENTRY_CLASSES);
	for (k = 1; k <= SC_KEY_INLINE_MAX; k++) {
		size_t slot = INLINE_SLOT(k) < SC_ENTRY_CLASS_MIN ?
				      SC_ENTRY_CLASS_MIN :
				      INLINE_SLOT(k);

		cr_assert_eq(sc_cache_entry_memory(c, k),
			     slot + sc_entry_node_bytes() + 16, "key %zu", k);
	}
	/* one more byte: a key slab pointer and length, the key's slot */
	cr_assert_gt(sc_cache_entry_memory(c, k),
		     INLINE_SLOT(SC_KEY_EXT_ROOM) + sc_entry_node_bytes() + 16 +
			     k);
	sc_cache_destroy(c);
}
