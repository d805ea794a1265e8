/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_SELFTESTS_CHILD_H
#define SC_SELFTESTS_CHILD_H

/*
 * The end of a test's forked child. It leaves with _exit(), so that none
 * of the parent's atexit handlers (Criterion's among them) run twice; in
 * a --coverage build (make coverage) it first writes what the child ran
 * to the .gcda files, which only exit() would otherwise do: the code that
 * runs only after fork() (the atfork handlers) is then counted.
 */
#include <unistd.h>

/* Defined by libgcov in a --coverage build; NULL in every other. */
extern void __gcov_dump(void) __attribute__((weak));

static inline _Noreturn void child_exit(int status)
{
	if (__gcov_dump)
		__gcov_dump();
	_exit(status);
}

#endif /* SC_SELFTESTS_CHILD_H */
