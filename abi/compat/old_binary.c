// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A program as built against release 0.1: compiled with the frozen 0.1
 * headers (abi/LIBSLABCACHE_0.1/include), run against whatever library is
 * installed now. It uses every function that takes a struct by pointer and
 * checks what comes back, and that nothing was written past the 0.1 size
 * of a struct: each one sits right before a guard of known bytes.
 *
 * Exit status: 0 fine, 2 a wrong value, 3 a guard overwritten (the library
 * wrote a struct bigger than this program's), 1 a setup failure.
 */
#include <slabcache.h>
#include <stdio.h>
#include <string.h>

#define GUARD_BYTE 0xa5
#define GUARDED(type)                    \
	struct {                         \
		type st;                 \
		unsigned char guard[64]; \
	}

static int guard_intact(const unsigned char *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (g[i] != GUARD_BYTE)
			return 0;
	return 1;
}

static int fail(int code, const char *what)
{
	fprintf(stderr, "0.1 binary: %s\n", what);
	return code;
}

int main(void)
{
	static int values[4];
	GUARDED(struct sc_cache_stats) cs;
	GUARDED(struct sc_slab_info) si;
	GUARDED(struct sc_pressure_stats) ps;
	struct sc_cache_config cfg = { .name = "abi-0.1", .limit = 1000 };
	struct sc_pressure_config pcfg = { 0 };
	struct sc_cache *c = sc_cache_create(&cfg);
	struct sc_slab *s = sc_slab_create("abi-0.1", 40, 0, 0);
	struct sc_pressure *p = sc_pressure_open(&pcfg);

	if (!c || !s || !p)
		return fail(1, "create failed");
	for (int i = 0; i < 4; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%d", i);
		if (sc_cache_insert(c, key, &values[i], 100))
			return fail(1, "insert failed");
	}
	if (sc_cache_find(c, "k1") != &values[1] || sc_cache_find(c, "nope"))
		return fail(2, "find");

	memset(&cs, GUARD_BYTE, sizeof(cs));
	if (sc_cache_stats(c, &cs.st))
		return fail(2, "sc_cache_stats failed");
	if (!guard_intact(cs.guard, sizeof(cs.guard)))
		return fail(3,
			    "sc_cache_stats wrote past struct sc_cache_stats");
	if (cs.st.count != 4 || cs.st.total_cost != 400 ||
	    cs.st.limit != 1000 || cs.st.hits != 1 || cs.st.misses != 1 ||
	    cs.st.inserts != 4)
		return fail(2, "sc_cache_stats values");

	void *obj = sc_slab_alloc(s);

	memset(&si, GUARD_BYTE, sizeof(si));
	if (!obj || sc_slab_info(s, &si.st))
		return fail(2, "sc_slab_info failed");
	if (!guard_intact(si.guard, sizeof(si.guard)))
		return fail(3, "sc_slab_info wrote past struct sc_slab_info");
	if (si.st.object_size != 40 || si.st.active_objects != 1 ||
	    strcmp(si.st.name, "abi-0.1") != 0)
		return fail(2, "sc_slab_info values");
	sc_slab_free(s, obj);

	if (sc_pressure_notify(p, SC_PRESSURE_CRITICAL) ||
	    sc_pressure_dispatch(p) != SC_PRESSURE_CRITICAL)
		return fail(2, "notify and dispatch");
	memset(&ps, GUARD_BYTE, sizeof(ps));
	if (sc_pressure_stats(p, &ps.st))
		return fail(2, "sc_pressure_stats failed");
	if (!guard_intact(ps.guard, sizeof(ps.guard)))
		return fail(3, "sc_pressure_stats wrote past its struct");
	if (ps.st.notifies != 1 || ps.st.passes[SC_PRESSURE_CRITICAL] != 1)
		return fail(2, "sc_pressure_stats values");
	if (sc_cache_count(c) != 0)
		return fail(2, "a CRITICAL pass left entries");

	sc_pressure_close(p);
	sc_slab_destroy(s);
	sc_cache_destroy(c);
	printf("0.1 binary: fine with libslabcache %s\n", sc_version_string());
	return 0;
}
