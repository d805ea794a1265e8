/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_SELFTESTS_CACHE_HELPERS_H
#define SC_SELFTESTS_CACHE_HELPERS_H

/*
 * Shared by the cache selftests: values are small integers disguised as
 * pointers (never dereferenced), and a release tracker counts how often
 * each was released, so a test can check "exactly once" and "never a
 * value that was not taken".
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <slabcache.h>

#define VAL(i) ((void *)(uintptr_t)((uintptr_t)(i) + 1))
#define VAL_ID(v) ((uintptr_t)(v)-1)

/* sc_cache_check() passes, or the test fails with its reason. */
#define assert_cache_sane(c)                                             \
	do {                                                             \
		const char *why_ = NULL;                                 \
		cr_assert_eq(sc_cache_check((c), &why_), 0, "%s", why_); \
	} while (0)

struct rel {
	size_t cap;
	atomic_uchar *count; /* releases per value id */
	atomic_ulong total;
	atomic_ulong out_of_range;
};

static inline void rel_init(struct rel *r, size_t cap)
{
	r->cap = cap;
	r->count = calloc(cap, sizeof(*r->count));
	atomic_init(&r->total, 0);
	atomic_init(&r->out_of_range, 0);
}

static inline void rel_fini(struct rel *r)
{
	free(r->count);
	r->count = NULL;
}

static inline void rel_release(void *value, void *priv)
{
	struct rel *r = priv;
	uintptr_t id = VAL_ID(value);

	if (id >= r->cap)
		atomic_fetch_add(&r->out_of_range, 1);
	else
		atomic_fetch_add(&r->count[id], 1);
	atomic_fetch_add(&r->total, 1);
}

static inline unsigned int rel_count(struct rel *r, size_t id)
{
	return atomic_load(&r->count[id]);
}

static const struct sc_cache_ops rel_ops = { .release = rel_release };

/*
 * End a test that held pins: the cache checked, the @n pins of @pins put,
 * the cache destroyed, each of its @values values released once. A macro,
 * as assert_cache_sane() is: sc_cache_check() is declared only where the
 * tests that use them include it.
 */
#define end_with_pins(c, r, pins, n, values)                      \
	do {                                                      \
		assert_cache_sane(c);                             \
		for (int i_ = 0; i_ < (n); i_++)                  \
			sc_entry_put((pins)[i_]);                 \
		sc_cache_destroy(c);                              \
		cr_assert_eq(atomic_load(&(r)->total), (values)); \
		rel_fini(r);                                      \
	} while (0)

/* A cache without a shrinker (tests decide when to shrink). */
static inline struct sc_cache *mk_cache_flags(size_t limit, struct rel *r,
					      unsigned int flags)
{
	struct sc_cache_config cfg = {
		.name = "test",
		.limit = limit,
		.ops = r ? &rel_ops : NULL,
		.priv = r,
		.flags = SC_CACHE_NO_SHRINKER | flags,
	};

	return sc_cache_create(&cfg);
}

static inline struct sc_cache *mk_cache(size_t limit, struct rel *r)
{
	return mk_cache_flags(limit, r, 0);
}

/*
 * A test whose body runs once per eviction policy, as three tests: @name
 * (exact LRU), @name_sieve (SC_CACHE_POLICY_SIEVE) and @name_s3fifo
 * (SC_CACHE_POLICY_S3FIFO). The body sees the policy's flag as `policy`.
 */
#define POLICY_TEST(suite, name)                      \
	static void name##_body(unsigned int policy); \
	Test(suite, name)                             \
	{                                             \
		name##_body(0);                       \
	}                                             \
	Test(suite, name##_sieve)                     \
	{                                             \
		name##_body(SC_CACHE_POLICY_SIEVE);   \
	}                                             \
	Test(suite, name##_s3fifo)                    \
	{                                             \
		name##_body(SC_CACHE_POLICY_S3FIFO);  \
	}                                             \
	static void name##_body(unsigned int policy)

/*
 * sc_cache_insert() as a caller that means to store the value: S3-FIFO
 * refuses a new key above a tenth of the limit the first time
 * (SC_CACHE_NOT_ADMITTED, the value not taken) and stores it the second.
 */
static inline int insert_stored(struct sc_cache *c, const char *key,
				void *value, size_t cost)
{
	int ret = sc_cache_insert(c, key, value, cost);

	return ret == SC_CACHE_NOT_ADMITTED ?
		       sc_cache_insert(c, key, value, cost) :
		       ret;
}

static inline const char *kstr(char *buf, size_t n, const char *pfx,
			       unsigned long i)
{
	snprintf(buf, n, "%s%lu", pfx, i);
	return buf;
}

#endif /* SC_SELFTESTS_CACHE_HELPERS_H */
