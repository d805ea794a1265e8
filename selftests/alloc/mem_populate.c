// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sc_mem_zalloc_backed(): a large block (the string index of a big cache)
 * comes back zeroed with every page already resident, so that filling it
 * in scattered order takes no page fault per slot. Linux 5.14 and later
 * populate it with one madvise(MADV_POPULATE_WRITE); an older kernel
 * answers EINVAL, and the block is then touched page by page.
 *
 * The older kernel is made real with a seccomp filter that refuses
 * exactly that advice with EINVAL, installed in the test's own process
 * (Criterion runs each test in a process of its own). mincore(2) tells
 * which pages are resident: after the call, all of them, and only the
 * fallback's writes can have made them so.
 */
#include <errno.h>
#include <linux/audit.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "config.h"
#include "alloc/alloc.h"
#include <slabcache.h>

#include "../seccomp_filter.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* Not a multiple of the page size, and well above the mmap threshold. */
#define BIG_BLOCK ((size_t)3 * 1024 * 1024 + 123)

/*
 * From now on madvise(..., MADV_POPULATE_WRITE) fails with EINVAL in this
 * process, as on a kernel before 5.14; every other call, madvise with
 * other advice included, is allowed. Return: 0 or -1 (errno from prctl).
 */
static int refuse_populate_write(void)
{
#ifdef TEST_AUDIT_ARCH
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 0, 5),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_madvise, 0, 3),
		/* the advice: the low word of the third argument */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MADV_POPULATE_WRITE, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};

	return install_seccomp_filter(filter,
				      sizeof(filter) / sizeof(filter[0]));
#else
	errno = ENOSYS;
	return -1;
#endif
}

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* What madvise(MADV_POPULATE_WRITE) answers on a fresh page: 0 or errno. */
static int populate_write_answer(void)
{
	size_t page = page_size();
	void *p = mmap(NULL, page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret;

	cr_assert_neq(p, MAP_FAILED);
	ret = madvise(p, page, MADV_POPULATE_WRITE) ? errno : 0;
	munmap(p, page);
	return ret;
}

/* Pages of [p, p + size) that are resident. */
static size_t resident_pages(const void *p, size_t size)
{
	size_t page = page_size(), n = (size + page - 1) / page, res = 0;
	unsigned char *vec = malloc(n);

	cr_assert_not_null(vec);
	cr_assert_eq(mincore((void *)p, n * page, vec), 0, "mincore: %s",
		     strerror(errno));
	for (size_t i = 0; i < n; i++)
		res += vec[i] & 1;
	free(vec);
	return res;
}

static bool all_zero(const unsigned char *p, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (p[i])
			return false;
	return true;
}

/* A big block: zeroed, every page resident; then freed. */
static void check_backed_block(void)
{
	size_t pages = (BIG_BLOCK + page_size() - 1) / page_size();
	unsigned char *p = sc_mem_zalloc_backed(BIG_BLOCK);

	cr_assert_not_null(p);
	cr_assert_eq(resident_pages(p, BIG_BLOCK), pages,
		     "every page of the block is resident");
	cr_assert(all_zero(p, BIG_BLOCK));
	/* dirty it, give it back, and take another: zeroed all the same */
	memset(p, 0xa5, BIG_BLOCK);
	sc_mem_free(p, BIG_BLOCK);
	p = sc_mem_zalloc_backed(BIG_BLOCK);
	cr_assert_not_null(p);
	cr_assert_eq(resident_pages(p, BIG_BLOCK), pages);
	cr_assert(all_zero(p, BIG_BLOCK));
	sc_mem_free(p, BIG_BLOCK);
}

/*
 * A cache whose index grows through several mapped tables (50,000 keys:
 * tables of 256 KiB and more): every key found, none of the absent ones.
 * A table with a stray nonzero slot would answer wrongly for some key.
 */
static void check_cache(void)
{
	struct sc_cache_config cfg = { .name = "populate",
				       .limit = SIZE_MAX,
				       .flags = SC_CACHE_NO_SHRINKER };
	struct sc_cache *c = sc_cache_create(&cfg);
	static int value;
	char key[32];
	size_t n = 50000, i;

	cr_assert_not_null(c);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "key:%011zu", i);
		cr_assert_eq(sc_cache_insert(c, key, &value, 1), 0);
	}
	cr_assert_eq(sc_cache_count(c), n);
	for (i = 0; i < 2 * n; i++) {
		snprintf(key, sizeof(key), "key:%011zu", i);
		if (i < n)
			cr_assert_eq(sc_cache_find(c, key), &value, "%s", key);
		else
			cr_assert_null(sc_cache_find(c, key), "%s", key);
	}
	/* and again after removals shifted probe chains back */
	for (i = 0; i < n; i += 2) {
		snprintf(key, sizeof(key), "key:%011zu", i);
		cr_assert_eq(sc_cache_remove(c, key), 0);
	}
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "key:%011zu", i);
		cr_assert_eq(sc_cache_find(c, key) != NULL, i % 2 == 1, "%s",
			     key);
	}
	sc_cache_clear(c);
	cr_assert_eq(sc_cache_count(c), 0);
	sc_cache_destroy(c);
}

Test(alloc_mem, zalloc_backed_falls_back_without_populate_write)
{
	size_t page = page_size();
	void *probe;

	if (refuse_populate_write()) {
		cr_assert_eq(errno, ENOSYS, "seccomp: %s", strerror(errno));
		cr_skip_test("no seccomp filter written for this architecture");
	}
	cr_assert_eq(populate_write_answer(), EINVAL,
		     "the filter refuses MADV_POPULATE_WRITE");
	/* other advice still reaches the kernel */
	probe = mmap(NULL, page, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(probe, MAP_FAILED);
	cr_assert_eq(madvise(probe, page, MADV_DONTNEED), 0);
	munmap(probe, page);

	check_backed_block();
	check_cache();
}

Test(alloc_mem, zalloc_backed_populates)
{
	int answer = populate_write_answer();

	if (answer == EINVAL)
		cr_skip_test("the kernel has no MADV_POPULATE_WRITE (5.14+): "
			     "the fallback is all there is, tested above");
	cr_assert_eq(answer, 0);
	check_backed_block();
	check_cache();
}

Test(alloc_mem, zalloc_backed_small_blocks_are_zeroed)
{
	/* below the mmap threshold: from malloc, zeroed by hand */
	for (size_t size = 1; size <= 128 * 1024; size = size * 3 + 5) {
		unsigned char *p = sc_mem_zalloc_backed(size);

		cr_assert_not_null(p);
		cr_assert(all_zero(p, size), "size %zu", size);
		memset(p, 0x5a, size);
		sc_mem_free(p, size);
	}
}
