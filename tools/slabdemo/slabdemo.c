// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabdemo: a small tour of the slab layer. Creates a few slab caches,
 * allocates and frees objects, shrinks, and shows /proc/slabinfo-like
 * output, the backend in use and the process's resident memory.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <slabcache.h>

struct demo_cache {
	const char *name;
	size_t size;
	unsigned int flags;
	size_t count;
	struct sc_slab *s;
	void **objs;
};

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"Usage: %s [-n COUNT] [-h]\n"
		"\n"
		"Create slab caches demo-16, demo-256 (SC_SLAB_POISON) and\n"
		"demo-4096 (SC_SLAB_RED_ZONE), allocate COUNT objects in each\n"
		"(default 20000), free the last 90%%, shrink, destroy, and print\n"
		"slabinfo, the backend allocator and RSS along the way.\n"
		"\n"
		"  -n COUNT   objects to allocate per cache (1..10000000)\n"
		"  -h, --help show this help\n"
		"\n"
		"Environment: SC_ALLOC_BACKEND=libc selects the libc backend\n"
		"in a build with jemalloc.\n",
		prog);
}

static unsigned long rss_kib(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (unsigned long)sysconf(_SC_PAGESIZE) / 1024;
}

static void show(const char *when)
{
	printf("\n== %s: RSS %lu KiB\n", when, rss_kib());
	if (sc_slabinfo_write(stdout) < 0)
		perror("sc_slabinfo_write");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct demo_cache caches[] = {
		{ "demo-16", 16, 0, 0, NULL, NULL },
		{ "demo-256", 256, SC_SLAB_POISON, 0, NULL, NULL },
		{ "demo-4096", 4096, SC_SLAB_RED_ZONE, 0, NULL, NULL },
	};
	size_t ncaches = sizeof(caches) / sizeof(caches[0]);
	unsigned long count = 20000;
	int opt, ret = 1;
	size_t i, j;

	while ((opt = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 'n':
			count = strtoul(optarg, &end, 10);
			if (*end || !count || count > 10000000) {
				fprintf(stderr, "%s: bad count '%s'\n", argv[0],
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}

	printf("slabcache %s, backend allocator: %s\n", sc_version_string(),
	       sc_alloc_backend());
	show("start");

	for (i = 0; i < ncaches; i++) {
		struct demo_cache *c = &caches[i];

		c->s = sc_slab_create(c->name, c->size, 0, c->flags);
		c->objs = calloc(count, sizeof(*c->objs));
		if (!c->s || !c->objs) {
			perror(c->name);
			goto out;
		}
		for (j = 0; j < count; j++) {
			c->objs[j] = sc_slab_alloc(c->s);
			if (!c->objs[j]) {
				perror("sc_slab_alloc");
				goto out;
			}
			memset(c->objs[j], (int)j, c->size);
			c->count++;
		}
	}
	show("after allocating");

	for (i = 0; i < ncaches; i++) {
		for (j = 0; j < caches[i].count; j++) {
			if (j < caches[i].count / 10)
				continue;
			sc_slab_free(caches[i].s, caches[i].objs[j]);
			caches[i].objs[j] = NULL;
		}
	}
	show("after freeing the last 90% of the objects");

	printf("\nsc_slab_shrink(NULL) gave back %zu bytes\n",
	       sc_slab_shrink(NULL));
	show("after shrinking");
	ret = 0;
out:
	for (i = 0; i < ncaches; i++) {
		for (j = 0; caches[i].objs && j < caches[i].count; j++)
			sc_slab_free(caches[i].s, caches[i].objs[j]);
		free(caches[i].objs);
		sc_slab_destroy(caches[i].s);
	}
	if (!ret)
		show("after destroying");
	return ret;
}
