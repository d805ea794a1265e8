/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_SELFTESTS_MT_H
#define SC_SELFTESTS_MT_H

/*
 * Concurrency tests live in selftests/<area>/<name>_mt.c, in suites named
 * <area>_mt, and include this header instead of <criterion/criterion.h>.
 *
 * In the plain and ASan+UBSan builds they are ordinary Criterion tests.
 * Criterion cannot start under ThreadSanitizer (its boxfort arena mapping
 * collides with TSan's shadow memory: "Could not initialize inheritable
 * arena"), so the TSan build compiles the same files with SC_MT_RUNNER
 * and links them with selftests/mt_runner.c: a small runner that forks one
 * child per test, as Criterion does, and prints TAP and a synthesis line.
 * Only the assertions below are available in *_mt.c files.
 */
#ifndef SC_MT_RUNNER
#include <criterion/criterion.h>
#else
#include <stdio.h>
#include <stdlib.h>

struct sc_mt_test {
	const char *suite;
	const char *name;
	void (*fn)(void);
	struct sc_mt_test *next;
};

void sc_mt_register(struct sc_mt_test *t);
void sc_mt_fail(const char *file, int line, const char *expr);

#define Test(suite_, name_, ...)                                               \
	static void suite_##_##name_(void);                                    \
	static struct sc_mt_test suite_##_##name_##_desc = { #suite_, #name_,  \
							     suite_##_##name_, \
							     NULL };           \
	__attribute__((constructor)) static void suite_##_##name_##_reg(void)  \
	{                                                                      \
		sc_mt_register(&suite_##_##name_##_desc);                      \
	}                                                                      \
	static void suite_##_##name_(void)

#define cr_assert(cond, ...)                                   \
	do {                                                   \
		if (!(cond))                                   \
			sc_mt_fail(__FILE__, __LINE__, #cond); \
	} while (0)
#define cr_assert_not(cond, ...) cr_assert(!(cond))
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b))
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b))
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b))
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b))
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b))
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b))
#define cr_assert_null(a, ...) cr_assert((a) == NULL)
#define cr_assert_not_null(a, ...) cr_assert((a) != NULL)
#define cr_log_info(...) ((void)0)
#endif

#endif /* SC_SELFTESTS_MT_H */
