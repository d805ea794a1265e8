/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_SELFTESTS_ALLOC_FILL_H
#define SC_SELFTESTS_ALLOC_FILL_H

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <slabcache/slab.h>

/*
 * Allocate whole slabs of @s, which has none: @slabs of them, every
 * object written (so its pages are resident). Return: the objects, in
 * allocation order, *@n of them; free() the array.
 */
static inline void **fill_slabs(struct sc_slab *s, size_t slabs, size_t *n)
{
	struct sc_slab_info info;
	void **objs;

	cr_assert_eq(sc_slab_info(s, &info), 0);
	*n = slabs * info.objects_per_slab;
	objs = calloc(*n, sizeof(*objs));
	cr_assert_not_null(objs);
	for (size_t i = 0; i < *n; i++) {
		objs[i] = sc_slab_alloc(s);
		cr_assert_not_null(objs[i]);
		memset(objs[i], 0x5a, info.object_size);
	}
	cr_assert_eq(sc_slab_info(s, &info), 0);
	cr_assert_eq(info.slabs, slabs);
	return objs;
}

#endif /* SC_SELFTESTS_ALLOC_FILL_H */
