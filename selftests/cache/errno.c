// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Every failure path of core/'s public functions, one table per family:
 * the result is the documented one (a negative errno, NULL, SC_KEY_NONE)
 * and errno holds the same code, whatever errno held before the call.
 * Inside the library codes are negative and errno is set once, at the
 * public exit (alloc/alloc.h: sc_err(), sc_err_ptr()); this is the test
 * that a path which forgets its exit, or sets errno on the way and then
 * returns another code, cannot pass. Allocation failures (ENOMEM) are
 * walked by the fault-injection sweep (fault.c), which checks errno too.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "core/cache_internal.h"
#include "core/internal.h"
#include "helpers.h"

/* errno before each call: a code no path of the library returns */
#define STALE_ERRNO EXDEV

#define EXPECT_INT(call, code)                                              \
	do {                                                                \
		int ret_;                                                   \
		errno = STALE_ERRNO;                                        \
		ret_ = (call);                                              \
		cr_expect_eq(ret_, -(code), "%s: %d, not -%s", #call, ret_, \
			     #code);                                        \
		cr_expect_eq(errno, (code), "%s: errno %d, not %s", #call,  \
			     errno, #code);                                 \
	} while (0)

#define EXPECT_NULL(call, code)                                            \
	do {                                                               \
		const void *ret_;                                          \
		errno = STALE_ERRNO;                                       \
		ret_ = (call);                                             \
		cr_expect_null(ret_, "%s: not NULL", #call);               \
		cr_expect_eq(errno, (code), "%s: errno %d, not %s", #call, \
			     errno, #code);                                \
	} while (0)

#define EXPECT_KEY_NONE(call, code)                                        \
	do {                                                               \
		sc_key_t ret_;                                             \
		errno = STALE_ERRNO;                                       \
		ret_ = (call);                                             \
		cr_expect_eq(ret_.id, 0, "%s: a key", #call);              \
		cr_expect_eq(errno, (code), "%s: errno %d, not %s", #call, \
			     errno, #code);                                \
	} while (0)

static struct sc_cache *errno_cache(unsigned int policy)
{
	struct sc_cache_config cfg = { .name = "errno",
				       .limit = 100,
				       .flags = SC_CACHE_NO_SHRINKER | policy };
	struct sc_cache *c = sc_cache_create(&cfg);

	cr_assert_not_null(c);
	return c;
}

static char long_key[SC_KEY_MAX_LEN + 2];

static void fill_long_key(void)
{
	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
}

Test(api_errno, create)
{
	struct sc_cache_config bad = { .flags = 0x80000000u };
	struct sc_cache_config two = { .flags = SC_CACHE_POLICY_SIEVE |
						SC_CACHE_POLICY_S3FIFO };

	EXPECT_NULL(sc_cache_create(&bad), EINVAL);
	EXPECT_NULL(sc_cache_create(&two), EINVAL);
}

static void string_keys(unsigned int policy)
{
	struct sc_cache *c = errno_cache(policy);
	struct sc_cache_stats st;

	fill_long_key();
	EXPECT_INT(sc_cache_insert(NULL, "k", VAL(1), 1), EINVAL);
	EXPECT_INT(sc_cache_insert(c, NULL, VAL(1), 1), EINVAL);
	EXPECT_INT(sc_cache_insert(c, "", VAL(1), 1), EINVAL);
	EXPECT_INT(sc_cache_insert(c, long_key, VAL(1), 1), ENAMETOOLONG);
	EXPECT_INT(sc_cache_insert(c, "k", NULL, 1), EINVAL);
	EXPECT_INT(sc_cache_insert(c, "k", VAL(1), 101), EFBIG);
	cr_assert_eq(sc_cache_set_limit(c, SIZE_MAX), 0);
	cr_assert_eq(sc_cache_insert(c, "a", VAL(1), SIZE_MAX - 1), 0);
	EXPECT_INT(sc_cache_insert(c, "k", VAL(2), 2), EOVERFLOW);

	EXPECT_NULL(sc_cache_find(NULL, "a"), EINVAL);
	EXPECT_NULL(sc_cache_find(c, NULL), EINVAL);
	EXPECT_NULL(sc_cache_find(c, ""), EINVAL);
	EXPECT_NULL(sc_cache_find(c, long_key), EINVAL);
	EXPECT_NULL(sc_cache_find(c, "absent"), ENOENT);

	EXPECT_NULL(sc_cache_get(NULL, "a"), EINVAL);
	EXPECT_NULL(sc_cache_get(c, NULL), EINVAL);
	EXPECT_NULL(sc_cache_get(c, long_key), EINVAL);
	EXPECT_NULL(sc_cache_get(c, "absent"), ENOENT);

	EXPECT_INT(sc_cache_remove(NULL, "a"), EINVAL);
	EXPECT_INT(sc_cache_remove(c, NULL), EINVAL);
	EXPECT_INT(sc_cache_remove(c, long_key), EINVAL);
	EXPECT_INT(sc_cache_remove(c, "absent"), ENOENT);

	EXPECT_INT(sc_cache_set_limit(NULL, 1), EINVAL);
	EXPECT_INT(sc_cache_stats(NULL, &st), EINVAL);
	EXPECT_INT(sc_cache_stats(c, NULL), EINVAL);

	/* nothing above changed the cache */
	cr_assert_eq(sc_cache_count(c), 1);
	cr_assert_eq(sc_cache_find(c, "a"), VAL(1));
	cr_assert_eq(sc_cache_stats(c, &st), 0);
	cr_assert_eq(st.inserts, 1);
	cr_assert_eq(st.removes, 0);
	sc_cache_destroy(c);
}

Test(api_errno, string_keys_lru)
{
	string_keys(0);
}

Test(api_errno, string_keys_sieve)
{
	string_keys(SC_CACHE_POLICY_SIEVE);
}

Test(api_errno, string_keys_s3fifo)
{
	string_keys(SC_CACHE_POLICY_S3FIFO);
}

static void handle_keys(unsigned int policy)
{
	struct sc_cache *c = errno_cache(policy);
	sc_key_t a, gone, foreign;
	struct sc_cache *other = errno_cache(policy);

	a = sc_cache_add(c, VAL(1), 10);
	gone = sc_cache_add(c, VAL(2), 10);
	cr_assert(a.id && gone.id);
	cr_assert_eq(sc_cache_remove_key(c, gone), 0);
	foreign = sc_cache_add(other, VAL(3), 1);
	cr_assert(foreign.id);

	EXPECT_KEY_NONE(sc_cache_add(NULL, VAL(4), 1), EINVAL);
	EXPECT_KEY_NONE(sc_cache_add(c, NULL, 1), EINVAL);
	EXPECT_KEY_NONE(sc_cache_add(c, VAL(4), 101), EFBIG);

	EXPECT_NULL(sc_cache_find_key(NULL, a), EINVAL);
	EXPECT_NULL(sc_cache_find_key(c, SC_KEY_NONE), ENOENT);
	EXPECT_NULL(sc_cache_find_key(c, gone), ENOENT);
	EXPECT_NULL(sc_cache_find_key(c, foreign), ENOENT);

	EXPECT_NULL(sc_cache_get_key(NULL, a), EINVAL);
	EXPECT_NULL(sc_cache_get_key(c, SC_KEY_NONE), ENOENT);
	EXPECT_NULL(sc_cache_get_key(c, gone), ENOENT);

	EXPECT_INT(sc_cache_replace(NULL, a, VAL(4), 1), EINVAL);
	EXPECT_INT(sc_cache_replace(c, a, NULL, 1), EINVAL);
	EXPECT_INT(sc_cache_replace(c, gone, VAL(4), 1), ENOENT);
	EXPECT_INT(sc_cache_replace(c, foreign, VAL(4), 1), ENOENT);

	EXPECT_INT(sc_cache_remove_key(NULL, a), EINVAL);
	EXPECT_INT(sc_cache_remove_key(c, gone), ENOENT);
	EXPECT_INT(sc_cache_remove_key(c, SC_KEY_NONE), ENOENT);

	/* the limit at SIZE_MAX: the sums can overflow */
	cr_assert_eq(sc_cache_set_limit(c, SIZE_MAX), 0);
	cr_assert_eq(sc_cache_replace(c, a, VAL(5), SIZE_MAX - 20), 0);
	EXPECT_KEY_NONE(sc_cache_add(c, VAL(6), 21), EOVERFLOW);
	cr_assert_eq(sc_cache_add(c, VAL(6), 20).id != 0, true);
	/* a's own cost is given back first: 20 + (SIZE_MAX - 19) overflows */
	EXPECT_INT(sc_cache_replace(c, a, VAL(7), SIZE_MAX - 19), EOVERFLOW);
	cr_assert_eq(sc_cache_find_key(c, a), VAL(5));

	/* EFBIG on replace removes the entry: the handle goes */
	cr_assert_eq(sc_cache_set_limit(c, 100), 0);
	a = sc_cache_add(c, VAL(8), 10);
	EXPECT_INT(sc_cache_replace(c, a, VAL(9), 101), EFBIG);
	EXPECT_NULL(sc_cache_find_key(c, a), ENOENT);

	sc_cache_destroy(other);
	sc_cache_destroy(c);
}

Test(api_errno, handle_keys_lru)
{
	handle_keys(0);
}

Test(api_errno, handle_keys_sieve)
{
	handle_keys(SC_CACHE_POLICY_SIEVE);
}

Test(api_errno, handle_keys_s3fifo)
{
	handle_keys(SC_CACHE_POLICY_S3FIFO);
}

/*
 * A pin count at its ceiling: get refuses with EOVERFLOW and takes no
 * reference, rather than wrap the count (white-box: 2 billion gets would
 * take minutes). Counts only grow once the thread's pin slots are full.
 */
static void get_at_ceiling(struct sc_cache *c, const char *key, sc_key_t k)
{
	struct sc_entry *e[SC_PIN_SLOTS];
	unsigned int i, refs;

	for (i = 0; i < SC_PIN_SLOTS; i++) {
		e[i] = key ? sc_cache_get(c, key) : sc_cache_get_key(c, k);
		cr_assert_not_null(e[i]);
	}
	refs = atomic_load(&e[0]->refs);
	cr_assert_eq(refs, 1, "slot pins are not counted");
	atomic_store(&e[0]->refs, SC_REFS_MAX);
	if (key)
		EXPECT_NULL(sc_cache_get(c, key), EOVERFLOW);
	else
		EXPECT_NULL(sc_cache_get_key(c, k), EOVERFLOW);
	cr_assert_eq(atomic_load(&e[0]->refs), SC_REFS_MAX);
	atomic_store(&e[0]->refs, refs);
	for (i = 0; i < SC_PIN_SLOTS; i++)
		sc_entry_put(e[i]);
	cr_assert_eq(atomic_load(&e[0]->refs), 1);
}

Test(api_errno, get_refcount_ceiling)
{
	struct sc_cache *c = errno_cache(0);
	sc_key_t k;

	cr_assert_eq(sc_cache_insert(c, "a", VAL(1), 1), 0);
	k = sc_cache_add(c, VAL(2), 1);
	cr_assert(k.id);

	get_at_ceiling(c, "a", SC_KEY_NONE);
	get_at_ceiling(c, NULL, k);

	cr_assert_eq(sc_cache_check(c, NULL), 0);
	sc_cache_destroy(c);
}

Test(api_errno, shrinker_alloc)
{
	EXPECT_NULL(sc_shrinker_alloc(1, "s"), EINVAL);
	EXPECT_NULL(sc_shrinker_alloc(0, NULL), EINVAL);
	sc_fault_inject(1);
	EXPECT_NULL(sc_shrinker_alloc(0, "s-%d", 1), ENOMEM);
	sc_fault_inject(0);
}

Test(api_errno, pressure)
{
	struct sc_pressure_config bad = { .sources = 0x80000000u };
	struct sc_pressure_config inverted = { .usage_pct = { 90, 80, 95 } };
	struct sc_pressure_stats st;
	struct sc_pressure *p;

	EXPECT_NULL(sc_pressure_open(&bad), EINVAL);
	EXPECT_NULL(sc_pressure_open(&inverted), EINVAL);
	EXPECT_INT(sc_pressure_fd(NULL), EINVAL);
	EXPECT_INT(sc_pressure_dispatch(NULL), EINVAL);
	EXPECT_INT(sc_pressure_notify(NULL, SC_PRESSURE_LOW), EINVAL);
	EXPECT_INT(sc_pressure_start_thread(NULL), EINVAL);
	EXPECT_INT(sc_pressure_stats(NULL, &st), EINVAL);
	EXPECT_INT(sc_pressure_source_errno(NULL, SC_PRESSURE_SRC_PSI), EINVAL);

	p = sc_pressure_open(&(struct sc_pressure_config){
		.sources = SC_PRESSURE_SRC_AUTO });
	cr_assert_not_null(p, "errno %d", errno);
	EXPECT_INT(sc_pressure_notify(p, SC_PRESSURE_NONE), EINVAL);
	EXPECT_INT(sc_pressure_notify(p, SC_PRESSURE_CRITICAL + 1), EINVAL);
	EXPECT_INT(sc_pressure_stats(p, NULL), EINVAL);
	EXPECT_INT(sc_pressure_source_errno(p, 0), EINVAL);
	EXPECT_INT(sc_pressure_source_errno(p, SC_PRESSURE_SRC_PSI |
						       SC_PRESSURE_SRC_SYSTEMD),
		   EINVAL);
	EXPECT_INT(sc_pressure_source_errno(p, 0x80000000u), EINVAL);
	cr_assert_eq(sc_pressure_start_thread(p), 0);
	EXPECT_INT(sc_pressure_start_thread(p), EBUSY);
	sc_pressure_close(p);
}

/* Success leaves errno alone: a caller's errno survives a hit. */
Test(api_errno, success_leaves_errno)
{
	struct sc_cache *c = errno_cache(0);
	struct sc_entry *e;

	cr_assert_eq(sc_cache_insert(c, "a", VAL(1), 1), 0);
	errno = STALE_ERRNO;
	cr_assert_eq(sc_cache_find(c, "a"), VAL(1));
	e = sc_cache_get(c, "a");
	cr_assert_not_null(e);
	sc_entry_put(e);
	cr_assert_eq(errno, STALE_ERRNO);
	sc_cache_destroy(c);
}
