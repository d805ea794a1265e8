/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * slabcache/export.h as released in 0.1 (LIBSLABCACHE_0.1), comments left out:
 * what programs built against 0.1 saw. Frozen: never edit it
 * (Documentation/abi.rst).
 */
#ifndef SLABCACHE_EXPORT_H
#define SLABCACHE_EXPORT_H
#ifndef SC_API
#if defined(__GNUC__) && __GNUC__ >= 4
#define SC_API __attribute__((visibility("default")))
#else
#define SC_API
#endif
#endif
#ifndef SC_PRINTF
#if defined(__GNUC__)
#define SC_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define SC_PRINTF(fmt, args)
#endif
#endif
#endif
