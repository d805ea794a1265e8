/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_SELFTESTS_ALLOC_STATM_H
#define SC_SELFTESTS_ALLOC_STATM_H

/* The process's size and resident set, from /proc/self/statm, in bytes. */
#include <stdio.h>
#include <unistd.h>

#include <criterion/criterion.h>

static inline void statm_read(size_t *vm_bytes, size_t *rss_bytes)
{
	unsigned long size, resident;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "r");

	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%lu %lu", &size, &resident), 2);
	fclose(f);
	if (vm_bytes)
		*vm_bytes = size * page;
	if (rss_bytes)
		*rss_bytes = resident * page;
}

static inline size_t rss_bytes(void)
{
	size_t rss;

	statm_read(NULL, &rss);
	return rss;
}

#endif /* SC_SELFTESTS_ALLOC_STATM_H */
