/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_SELFTESTS_TRACE_READ_H
#define SC_SELFTESTS_TRACE_READ_H

/*
 * Reading the cache traces of selftests/traces, shared by the hit-ratio
 * test and sc-bench-trace so that both replay the same requests.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/*
 * trace_read() - Read a trace, one request at a time.
 * @path: The file; a name ending in ".zst" is read through "zstd -dc".
 * @arc: ARC format, "start count 0 seq" per line (pages start to
 *       start + count - 1, one request each); otherwise one id per line.
 * @limit: Stop after this many requests; 0: read it all.
 * @push: Called with @ctx and the id of each request, in order.
 * @ctx: Passed to @push.
 *
 * Lines that do not parse are skipped.
 * Return: the number of requests read, or a negative errno: the file
 * could not be opened, or -EIO when zstd failed (stopping early at
 * @limit closes the pipe under zstd, which is not a failure).
 */
static inline long long trace_read(const char *path, bool arc, size_t limit,
				   void (*push)(void *ctx, uint64_t id),
				   void *ctx)
{
	bool zst = strstr(path, ".zst") != NULL;
	long long n = 0;
	char line[256];
	FILE *f;

	if (zst) {
		char cmd[4200];

		snprintf(cmd, sizeof(cmd), "zstd -dc -- '%s'", path);
		f = popen(cmd, "r");
	} else {
		f = fopen(path, "r");
	}
	if (!f)
		return -errno;
	while ((!limit || (size_t)n < limit) && fgets(line, sizeof(line), f)) {
		unsigned long long start, count = 1;

		if (arc ? sscanf(line, "%llu %llu", &start, &count) != 2 :
			  sscanf(line, "%llu", &start) != 1)
			continue;
		for (unsigned long long i = 0;
		     i < count && (!limit || (size_t)n < limit); i++, n++)
			push(ctx, start + i);
	}
	if (zst) {
		int st = pclose(f);

		if (st && (!limit || (size_t)n < limit))
			return -EIO;
	} else {
		fclose(f);
	}
	return n;
}

#endif /* SC_SELFTESTS_TRACE_READ_H */
