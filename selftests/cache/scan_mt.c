// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sc_cache_scan() while other threads write the cache: two writers insert
 * and remove their own keys in bulk (the index grows under the walk),
 * replace the values of keys that stay, and get and put entries, while a
 * third thread walks. Every key that stays in the cache
 * for the whole walk is returned exactly once per walk, each with one of
 * its values, and every pin is put.
 */
#include "../mt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "core/cache_internal.h"
#include "core/internal.h"
#include "helpers.h"

#define STAYING 400
#define CHURN 3000 /* per writer */
#define WALKS 6 /* at least */

static atomic_bool stop;

struct writer {
	struct sc_cache *c;
	unsigned int id;
	atomic_ulong rounds;
};

static void name(char *buf, unsigned int owner, unsigned long i)
{
	snprintf(buf, 32, "w%u-%lu", owner, i);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char k[32];

	while (!atomic_load(&stop)) {
		for (unsigned long i = 0; i < CHURN; i++) {
			name(k, w->id, i);
			sc_cache_insert(w->c, k, VAL(1000000 + i), 1);
		}
		for (unsigned long i = 0; i < STAYING; i += 7) {
			struct sc_entry *e;

			/* a new value under a staying key: same key */
			name(k, 0, i);
			sc_cache_insert(w->c, k, VAL(i + STAYING * w->id), 1);
			e = sc_cache_get(w->c, k);
			sc_entry_put(e);
		}
		for (unsigned long i = 0; i < CHURN; i++) {
			name(k, w->id, i);
			sc_cache_remove(w->c, k);
		}
		atomic_fetch_add(&w->rounds, 1);
	}
	return NULL;
}

Test(cache_scan_mt, exactly_once_while_written)
{
	struct sc_cache *c = mk_cache(SIZE_MAX, NULL);
	struct writer w[2] = { { c, 1, 0 }, { c, 2, 0 } };
	pthread_t t[2];
	static unsigned char seen[STAYING];
	char k[32];

	cr_assert_not_null(c);
	for (unsigned long i = 0; i < STAYING; i++) {
		name(k, 0, i);
		cr_assert_eq(sc_cache_insert(c, k, VAL(i), 1), 0);
	}
	atomic_store(&stop, false);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, writer_main, &w[i]),
			     0);
	/* walk until the writers have done a few rounds under the walks */
	for (int walk = 0;
	     walk < WALKS ||
	     atomic_load(&w[0].rounds) + atomic_load(&w[1].rounds) < 4;
	     walk++) {
		struct sc_cache_cursor cur = SC_CACHE_CURSOR_INIT;
		struct sc_entry *v[16];
		unsigned int max = walk % 2 ? 16 : 3;
		int n;

		memset(seen, 0, sizeof(seen));
		while ((n = sc_cache_scan(c, &cur, v, max)) > 0) {
			for (int i = 0; i < n; i++) {
				uintptr_t id = VAL_ID(sc_entry_value(v[i]));
				size_t len;
				const char *key =
					sc_entry_string_key(v[i], &len);
				char buf[32];

				cr_assert_not_null(key);
				cr_assert_lt(len, sizeof(buf));
				/* not NUL-terminated */
				memcpy(buf, key, len);
				buf[len] = '\0';
				if (buf[0] == 'w' && buf[1] == '0') {
					unsigned long ki =
						strtoul(buf + 3, NULL, 10);

					cr_assert_lt(ki, STAYING);
					cr_assert_eq(id % STAYING, ki);
					seen[ki]++;
				}
				sc_entry_put(v[i]);
			}
		}
		cr_assert_eq(n, 0);
		for (unsigned long i = 0; i < STAYING; i++)
			cr_assert_eq(seen[i], 1);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_join(t[i], NULL), 0);
	cr_assert_geq(atomic_load(&w[0].rounds) + atomic_load(&w[1].rounds), 4);
	cr_assert_eq(sc_cache_count(c), STAYING);
	cr_assert_eq(sc_cache_check(c, NULL), 0);
	sc_cache_destroy(c);
}
