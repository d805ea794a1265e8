// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The bytes slabcache holds in mappings of its own. The library maps its
 * large blocks (the string index, the handle-key array, the ghost of a
 * large cache) with mmap(), and with the libc backend its slabs too;
 * the process allocator's counts never see them. sc-bench-cache links
 * with -Wl,--wrap=mmap,--wrap=munmap, which routes only the calls made by
 * the objects of that link (the static library, and the reference build's
 * object in the two-build program) through here: the peers' allocators
 * live in shared libraries and keep their own counts.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include "harness.h"

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off);
int __real_munmap(void *addr, size_t len);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off);
int __wrap_munmap(void *addr, size_t len);

static atomic_size_t bench_mapped;

static size_t page_round(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (len + page - 1) & ~(page - 1);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off)
{
	void *p = __real_mmap(addr, len, prot, flags, fd, off);

	/* the library maps nothing but anonymous memory */
	if (p != MAP_FAILED)
		atomic_fetch_add_explicit(&bench_mapped, page_round(len),
					  memory_order_relaxed);
	return p;
}

int __wrap_munmap(void *addr, size_t len)
{
	int ret = __real_munmap(addr, len);

	if (!ret)
		atomic_fetch_sub_explicit(&bench_mapped, page_round(len),
					  memory_order_relaxed);
	return ret;
}

size_t bench_mapped_bytes(void)
{
	return atomic_load_explicit(&bench_mapped, memory_order_relaxed);
}
