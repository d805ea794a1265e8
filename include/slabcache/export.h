/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SLABCACHE_EXPORT_H
#define SLABCACHE_EXPORT_H

/*
 * SC_API marks every public symbol. The library is built with
 * -fvisibility=hidden, so anything without it stays private to the .so.
 * Define SC_API yourself before including a slabcache header to override.
 */
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

#endif /* SLABCACHE_EXPORT_H */
