// SPDX-License-Identifier: LGPL-2.1-or-later
/* sc_slabinfo_write(): format, values and errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <slabcache/slab.h>

static char *slabinfo_text(int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	*ret = sc_slabinfo_write(f);
	fclose(f);
	return buf;
}

static const char *find_line(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *l = text; l && *l; l = strchr(l, '\n') + 1) {
		if (!strncmp(l, name, n) && l[n] == ' ')
			return l;
		if (!strchr(l, '\n'))
			break;
	}
	return NULL;
}

Test(alloc_slabinfo, header_and_one_line_per_cache)
{
	struct sc_slab *a = sc_slab_create("info-a", 24, 0, 0);
	struct sc_slab *b = sc_slab_create("info-b", 300, 64, SC_SLAB_POISON);
	struct sc_slab_info ia, ib;
	void *objs[10];
	char *text, hdr[8][16];
	const char *l;
	int ret, lines = 0;

	cr_assert(a && b);
	for (int i = 0; i < 10; i++)
		objs[i] = sc_slab_alloc(a);
	sc_slab_free(b, sc_slab_alloc(b));
	text = slabinfo_text(&ret);
	cr_assert_eq(ret, 2);

	cr_assert_eq(sscanf(text, "# %15s %15s %15s %15s %15s %15s %15s %15s",
			    hdr[0], hdr[1], hdr[2], hdr[3], hdr[4], hdr[5],
			    hdr[6], hdr[7]),
		     8, "%s", text);
	cr_assert_str_eq(hdr[0], "name");
	cr_assert_str_eq(hdr[1], "active_objs");
	cr_assert_str_eq(hdr[2], "num_objs");
	cr_assert_str_eq(hdr[3], "objsize");
	cr_assert_str_eq(hdr[4], "objperslab");
	cr_assert_str_eq(hdr[5], "slabsize");
	cr_assert_str_eq(hdr[6], "slabs");
	cr_assert_str_eq(hdr[7], "empty");
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	cr_assert_eq(lines, 3);

	cr_assert_eq(sc_slab_info(a, &ia), 0);
	cr_assert_eq(sc_slab_info(b, &ib), 0);
	struct {
		const char *name;
		struct sc_slab_info *info;
	} want[] = { { "info-a", &ia }, { "info-b", &ib } };
	for (int i = 0; i < 2; i++) {
		size_t v[7];
		char name[32];

		l = find_line(text, want[i].name);
		cr_assert_not_null(l, "no line for %s in\n%s", want[i].name,
				   text);
		cr_assert_eq(sscanf(l, "%31s %zu %zu %zu %zu %zu %zu %zu", name,
				    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
				    &v[6]),
			     8);
		cr_assert_eq(v[0], want[i].info->active_objects);
		cr_assert_eq(v[1], want[i].info->total_objects);
		cr_assert_eq(v[2], want[i].info->slot_size);
		cr_assert_eq(v[3], want[i].info->objects_per_slab);
		cr_assert_eq(v[4], want[i].info->slab_size);
		cr_assert_eq(v[5], want[i].info->slabs);
		cr_assert_eq(v[6], want[i].info->empty_slabs);
	}
	cr_assert_eq(ia.active_objects, 10);
	cr_assert_eq(ib.empty_slabs, 1);
	free(text);

	for (int i = 0; i < 10; i++)
		sc_slab_free(a, objs[i]);
	sc_slab_destroy(a);
	text = slabinfo_text(&ret);
	cr_assert_eq(ret, 1);
	cr_assert_null(find_line(text, "info-a"), "destroyed cache listed");
	cr_assert_not_null(find_line(text, "info-b"));
	free(text);
	sc_slab_destroy(b);
}

Test(alloc_slabinfo, no_cache_writes_the_header_only)
{
	int ret;
	char *text = slabinfo_text(&ret);

	cr_assert_eq(ret, 0);
	cr_assert_eq(text[0], '#');
	cr_assert_eq(strchr(text, '\n')[1], '\0');
	free(text);
}

Test(alloc_slabinfo, null_stream)
{
	errno = 0;
	cr_assert_eq(sc_slabinfo_write(NULL), -EINVAL);
	cr_assert_eq(errno, EINVAL);
}

Test(alloc_slabinfo, write_error_is_eio)
{
	struct sc_slab *s = sc_slab_create("full", 16, 0, 0);
	FILE *f = fopen("/dev/full", "w");

	cr_assert(s && f);
	errno = 0;
	cr_assert_eq(sc_slabinfo_write(f), -EIO);
	cr_assert_eq(errno, EIO);
	fclose(f);
	sc_slab_destroy(s);
}

/*
 * Unbuffered, each line's fprintf() fails on its own: the header's on a
 * full device, a cache's line on a stream with room for the header only.
 * -EIO either way, and nothing written past the failure.
 */
Test(alloc_slabinfo, write_error_of_each_line_is_eio)
{
	struct sc_slab *s = sc_slab_create("full", 16, 0, 0);
	FILE *f = fopen("/dev/full", "w");
	char *header, room[512];
	int ret;

	cr_assert(s && f);
	cr_assert_eq(setvbuf(f, NULL, _IONBF, 0), 0);
	errno = 0;
	cr_assert_eq(sc_slabinfo_write(f), -EIO, "the header");
	cr_assert_eq(errno, EIO);
	fclose(f);

	header = slabinfo_text(&ret);
	cr_assert_gt(ret, 0);
	*strchr(header, '\n') = '\0';
	cr_assert_lt(strlen(header) + 1, sizeof(room));
	memset(room, 0, sizeof(room));
	/* the header and its newline fit, nothing more */
	f = fmemopen(room, strlen(header) + 2, "w");
	cr_assert_not_null(f);
	cr_assert_eq(setvbuf(f, NULL, _IONBF, 0), 0);
	errno = 0;
	cr_assert_eq(sc_slabinfo_write(f), -EIO, "a cache's line");
	cr_assert_eq(errno, EIO);
	fclose(f);
	cr_assert_eq(strncmp(room, header, strlen(header)), 0);
	free(header);
	sc_slab_destroy(s);
}
