// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fault injection and the library's general-purpose memory.
 *
 * Fault injection works like the kernel's failslab: every allocation
 * attempt is counted, and sc_fault_inject(n) makes the nth attempt from
 * now fail, once. Attempts counted: each sc_mem_alloc/zalloc call, each
 * sc_mem_grow that has to grow, each sc_slab_alloc() call (even when a
 * free object is at hand, so cache-level fault sweeps reach every slab
 * allocation) and each new slab taken from the backend (so an
 * sc_slab_alloc that needs a new slab is two attempts).
 *
 * The count is kept per thread while injection is off, so the slab fast
 * path pays no locked instruction for it: each thread has a counter in
 * TLS (in alloc/slab.c's per-thread block), registered on a list at its first attempt and folded into
 * fault_retired when the thread exits. sc_fault_allocations() is the sum
 * of the retired count, the live threads' counters and the attempts made
 * while armed. While armed (sc_fault_target != 0), every attempt takes a
 * number from the process-wide fault_armed counter, and the one that draws
 * the target fails and disarms injection: exactly one attempt fails, in
 * whatever thread.
 *
 * sc_mem_* memory comes from malloc(): with CONFIG_JEMALLOC that is
 * jemalloc, since Debian's libjemalloc replaces the process malloc.
 * Auxiliary memory (sc_mem_aux_*, see alloc/alloc.h) comes from there
 * too but is not counted: the slab layer goes on without it.
 * Blocks of SC_MEM_MAP_MIN bytes and more (the string index and the
 * handle-key array of a large cache) are mapped with mmap() instead, and
 * unmapped when freed: a table that a resize retires then gives its pages
 * back at once. From malloc() they stay resident as the allocator's free
 * memory (jemalloc's dirty pages decay over seconds; glibc raises its
 * mmap threshold past them), and at a million entries the tables retired
 * on the way there outweigh the table in use: 20 bytes per entry of
 * resident memory that holds nothing. The size passed to sc_mem_free()
 * tells which path a block took. sc_mem_zalloc_backed() populates such a
 * mapping at once, for a table about to be filled in scattered order.
 *
 * Lock order: fault_threads_lock (the list of per-thread counters) is a
 * leaf lock. The fast path and the armed path take no lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "alloc/lock.h"
#include "alloc/fault.h"

atomic_ulong sc_fault_target;

static atomic_ulong fault_armed; /* attempts made while armed */
static atomic_ulong fault_retired; /* attempts of threads that exited */
static struct sc_mutex fault_threads_lock = SC_MUTEX_INITIALIZER;
static struct sc_fault_thread *fault_threads;
static pthread_key_t fault_key;
static pthread_once_t fault_key_once = PTHREAD_ONCE_INIT;
static bool fault_key_ok;
static atomic_bool mem_aux_failing; /* sc_mem_aux_fail(), for tests */

static void fault_thread_exit(void *arg)
{
	struct sc_fault_thread *t = arg;

	sc_mutex_lock(&fault_threads_lock);
	atomic_fetch_add(&fault_retired, atomic_load(&t->attempts));
	atomic_store(&t->attempts, 0);
	if (t->prev)
		t->prev->next = t->next;
	else
		fault_threads = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->registered = false;
	sc_mutex_unlock(&fault_threads_lock);
}

static void fault_key_init(void)
{
	fault_key_ok = !pthread_key_create(&fault_key, fault_thread_exit);
}

static void fault_register(struct sc_fault_thread *t)
{
	pthread_once(&fault_key_once, fault_key_init);
	sc_mutex_lock(&fault_threads_lock);
	t->prev = NULL;
	t->next = fault_threads;
	if (fault_threads)
		fault_threads->prev = t;
	fault_threads = t;
	t->registered = true;
	sc_mutex_unlock(&fault_threads_lock);
	/* without a key the count still works; it just is never retired */
	if (fault_key_ok)
		pthread_setspecific(fault_key, t);
}

bool sc_fault_count_slow(struct sc_fault_thread *t)
{
	unsigned long n, target;

	if (!t->registered)
		fault_register(t);
	target = atomic_load_explicit(&sc_fault_target, memory_order_acquire);
	if (!target) {
		atomic_store_explicit(
			&t->attempts,
			atomic_load_explicit(&t->attempts,
					     memory_order_relaxed) +
				1,
			memory_order_relaxed);
		return false;
	}
	n = atomic_fetch_add(&fault_armed, 1) + 1;
	if (n != target)
		return false;
	/* one-shot: only the thread that disarms it fails */
	return atomic_compare_exchange_strong(&sc_fault_target, &target, 0);
}

bool sc_fault_should_fail(void)
{
	return sc_fault_count_attempt(sc_fault_thread_self());
}

SC_API void sc_fault_inject(unsigned long nth)
{
	if (!nth) {
		atomic_store(&sc_fault_target, 0);
		return;
	}
	atomic_store(&sc_fault_target, atomic_load(&fault_armed) + nth);
}

SC_API unsigned long sc_fault_allocations(void)
{
	struct sc_fault_thread *t;
	unsigned long sum;

	sc_mutex_lock(&fault_threads_lock);
	sum = atomic_load(&fault_retired) + atomic_load(&fault_armed);
	for (t = fault_threads; t; t = t->next)
		sum += atomic_load_explicit(&t->attempts, memory_order_relaxed);
	sc_mutex_unlock(&fault_threads_lock);
	return sum;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older C libraries lack it */
#endif

/* A block this big is its own mapping: see the top of this file. */
#define SC_MEM_MAP_MIN ((size_t)256 * 1024)

static size_t sc_mem_map_size(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (size + page - 1) & ~(page - 1);
}

/* Fresh zeroed pages (anonymous mappings are), or NULL. No fault count. */
static void *sc_mem_map(size_t size)
{
	void *p = mmap(NULL, sc_mem_map_size(size), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Without the fault count: the caller has counted the attempt. */
static void *sc_mem_get(size_t size)
{
	return size >= SC_MEM_MAP_MIN ? sc_mem_map(size) :
					malloc(size ? size : 1);
}

void *sc_mem_alloc(size_t size)
{
	if (sc_fault_should_fail())
		return NULL;
	return sc_mem_get(size);
}

void *sc_mem_zalloc(size_t size)
{
	void *p = sc_mem_alloc(size);

	/* a mapping is zero already, and untouched pages stay unbacked */
	if (p && size < SC_MEM_MAP_MIN)
		memset(p, 0, size);
	return p;
}

void *sc_mem_zalloc_backed(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), off;
	char *p = sc_mem_zalloc(size);

	if (!p || size < SC_MEM_MAP_MIN)
		return p;
	/*
	 * Pages that cannot be had now would fault later all the same
	 * (then OOM), so a failure here changes nothing but the timing; a
	 * kernel before 5.14 has no MADV_POPULATE_WRITE, and one write per
	 * page, in order, still takes one fault per page, not two.
	 */
	if (!madvise(p, sc_mem_map_size(size), MADV_POPULATE_WRITE) ||
	    errno != EINVAL)
		return p;
	for (off = 0; off < size; off += page)
		((volatile char *)p)[off] = 0;
	return p;
}

void *sc_mem_zalloc_aligned(size_t size, size_t align)
{
	void *p;

	if (sc_fault_should_fail())
		return NULL;
	/* a mapping is page aligned, and sc_mem_free() unmaps it by size */
	if (size >= SC_MEM_MAP_MIN && align <= (size_t)sysconf(_SC_PAGESIZE))
		return sc_mem_map(size);
	if (size >= SC_MEM_MAP_MIN ||
	    posix_memalign(&p, align, size ? size : 1))
		return NULL;
	memset(p, 0, size);
	return p;
}

void *sc_mem_aux_zalloc(size_t size)
{
	return sc_mem_aux_grow(NULL, 0, size);
}

void *sc_mem_aux_grow(void *p, size_t old, size_t size)
{
	void *tmp;

	if (atomic_load_explicit(&mem_aux_failing, memory_order_relaxed))
		return NULL;
	tmp = realloc(p, size ? size : 1);
	if (!tmp)
		return NULL;
	if (size > old)
		memset((char *)tmp + old, 0, size - old);
	return tmp;
}

void sc_mem_aux_free(void *p)
{
	free(p);
}

void sc_mem_aux_fail(bool on)
{
	atomic_store(&mem_aux_failing, on);
}

void sc_mem_free(void *p, size_t size)
{
	if (p && size >= SC_MEM_MAP_MIN)
		munmap(p, sc_mem_map_size(size));
	else
		free(p);
}

/* The capacity sc_mem_grow() grows @cap to for @need elements. */
static int sc_mem_grow_cap(size_t cap, size_t need, size_t elem_size,
			   size_t max_elems, size_t *new_cap, size_t *new_bytes)
{
	size_t n;

	if (need > max_elems || !elem_size)
		return -EOVERFLOW;
	n = cap ? cap : 4;
	while (n < need) {
		if (!sc_size_mul(n, 2, &n)) {
			n = max_elems;
			break;
		}
	}
	if (n > max_elems)
		n = max_elems;
	if (!sc_size_mul(n, elem_size, new_bytes))
		return -EOVERFLOW;
	*new_cap = n;
	return 0;
}

int sc_mem_grow(void **ptr, size_t *cap, size_t need, size_t elem_size,
		size_t max_elems)
{
	size_t new_cap, old_bytes, new_bytes;
	void *tmp;
	int ret;

	if (need <= *cap)
		return 0;
	ret = sc_mem_grow_cap(*cap, need, elem_size, max_elems, &new_cap,
			      &new_bytes);
	if (ret)
		return ret;
	old_bytes = *cap * elem_size; /* cannot overflow: it was allocated */
	if (sc_fault_should_fail())
		return -ENOMEM;
	if (new_bytes < SC_MEM_MAP_MIN) {
		tmp = realloc(*ptr, new_bytes);
		if (!tmp)
			return -ENOMEM;
		memset((char *)tmp + old_bytes, 0, new_bytes - old_bytes);
	} else {
		/* into a mapping: zero already; the old block by its path */
		tmp = sc_mem_map(new_bytes);
		if (!tmp)
			return -ENOMEM;
		if (old_bytes)
			memcpy(tmp, *ptr, old_bytes);
		sc_mem_free(*ptr, old_bytes);
	}
	*ptr = tmp;
	*cap = new_cap;
	return 0;
}

int sc_mem_grow_new(void **block, size_t *cap, size_t need, size_t elem_size,
		    size_t max_elems, size_t hdr)
{
	size_t new_cap, bytes;
	void *p;
	int ret;

	ret = sc_mem_grow_cap(*cap, need, elem_size, max_elems, &new_cap,
			      &bytes);
	if (!ret && !sc_size_add(bytes, hdr, &bytes))
		ret = -EOVERFLOW;
	if (ret)
		return ret;
	p = sc_mem_zalloc(bytes);
	if (!p)
		return -ENOMEM;
	*block = p;
	*cap = new_cap;
	return 0;
}
