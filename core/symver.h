/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_CORE_SYMVER_H
#define SC_CORE_SYMVER_H

/*
 * Symbol versions for a public function whose struct grew
 * (Documentation/abi.rst has the rule and an example).
 *
 * A struct passed by pointer (a config the library reads, stats or info it
 * fills) is fixed within a released symbol version node. When a release
 * appends fields to one, every function taking it gets two definitions:
 *
 *	SC_SYMVER_DEFAULT(sc_cache_stats, "LIBSLABCACHE_0.2")
 *	int sc_cache_stats_v0_2(const struct sc_cache *c,
 *				struct sc_cache_stats *st) { ... }
 *
 *	SC_SYMVER_COMPAT(sc_cache_stats, "LIBSLABCACHE_0.1")
 *	int sc_cache_stats_v0_1(const struct sc_cache *c,
 *				struct sc_cache_stats_0_1 *st)
 *	{
 *		struct sc_cache_stats full;
 *		int err = sc_cache_stats_v0_2(c, &full);
 *
 *		if (!err)
 *			memcpy(st, &full, sizeof(*st));
 *		return err;
 *	}
 *
 * Programs linked before the change keep calling the 0.1 definition, which
 * writes (or, for a config, reads) only the 0.1 size; programs built
 * against the new header get the new one. A config's old definition copies
 * the caller's old-size struct into a zeroed new one: zero means "the
 * default" in every config, so the new fields take their defaults. The
 * node of the new definition, and the name, are listed in
 * libslabcache.map.in; the compat definition's name needs no listing.
 * The definitions must be visible (SC_API) for the versioned names to be.
 * The node is a string: "LIBSLABCACHE_0.2" is no single preprocessor token.
 */
#include <slabcache/export.h>

/* The version that programs linking from now on bind to. */
#define SC_SYMVER_DEFAULT(name, node) \
	SC_API __attribute__((__symver__(#name "@@" node)))
/* A version kept for programs linked against an earlier release. */
#define SC_SYMVER_COMPAT(name, node) \
	SC_API __attribute__((__symver__(#name "@" node)))

#endif /* SC_CORE_SYMVER_H */
