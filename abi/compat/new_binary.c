// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A program built against the grown headers of the rehearsal
 * (abi/compat/grown_stats.c): it binds to sc_cache_stats@LIBSLABCACHE_0.2
 * and reads the appended field. Exit status: 0 fine, 2 a wrong value.
 */
#include <slabcache.h>
#include <stdio.h>

int main(void)
{
	static int value;
	struct sc_cache_stats st;
	struct sc_cache *c = sc_cache_create(NULL);

	if (!c || sc_cache_insert(c, "k", &value, 1))
		return 1;
	sc_cache_find(c, "k");
	sc_cache_find(c, "absent");
	sc_cache_find(c, "absent");
	if (sc_cache_stats(c, &st) || st.lookups != 3 || st.hits != 1 ||
	    st.count != 1) {
		fprintf(stderr, "new binary: lookups %llu, hits %llu\n",
			st.lookups, st.hits);
		return 2;
	}
	sc_cache_destroy(c);
	printf("new binary: lookups %llu\n", st.lookups);
	return 0;
}
