// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Lock-held assertions for DEBUG=1 builds (alloc/lock.h). Other builds
 * compile this file to nothing.
 */
#include <stdio.h>
#include <stdlib.h>

#include "alloc/lock.h"

#ifdef CONFIG_SC_DEBUG
static __thread char sc_lock_token;

uintptr_t sc_lock_self(void)
{
	return (uintptr_t)&sc_lock_token;
}

void sc_lock_assert_fail(const struct sc_mutex *m, const char *what,
			 const char *func)
{
	fprintf(stderr, "slabcache: lock %p %s in %s()\n", (const void *)m,
		what, func);
	abort();
}
#endif
