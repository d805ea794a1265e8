// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Backend selection.
 *
 * The first caller of sc_backend() picks the backend under pthread_once():
 * jemalloc when the library was built with CONFIG_JEMALLOC and the
 * environment variable SC_ALLOC_BACKEND is unset or "jemalloc"; libc when
 * it says "libc", when jemalloc is not built in, or when its private arena
 * cannot be created. A ThreadSanitizer build (CONFIG_SC_TSAN) uses libc
 * unless SC_ALLOC_BACKEND says "jemalloc": jemalloc is not instrumented. The choice holds for the life of the process, so a
 * test program can cover both backends from one build by setting the
 * variable before its first slab call.
 *
 * Lock order: none (pthread_once only).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/backend.h"

static pthread_once_t backend_once = PTHREAD_ONCE_INIT;
static const struct sc_backend_ops *backend_ops = &sc_backend_libc_ops;

static void backend_select(void)
{
#ifdef CONFIG_JEMALLOC
	const char *want = getenv("SC_ALLOC_BACKEND");

	if (want && !strcmp(want, "libc"))
		return;
#ifdef CONFIG_SC_TSAN
	/*
	 * Debian's jemalloc is not instrumented: ThreadSanitizer reports its
	 * internal locking (across fork() in particular) as double locks. A
	 * TSan build uses libc unless jemalloc is asked for by name.
	 */
	if (!want || strcmp(want, "jemalloc"))
		return;
#endif
	if (!sc_backend_jemalloc_init())
		backend_ops = &sc_backend_jemalloc_ops;
#endif
}

const struct sc_backend_ops *sc_backend(void)
{
	pthread_once(&backend_once, backend_select);
	return backend_ops;
}

SC_API const char *sc_alloc_backend(void)
{
	return sc_backend()->name;
}
