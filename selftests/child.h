/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_SELFTESTS_CHILD_H
#define SC_SELFTESTS_CHILD_H

/*
 * fork() and the end of a test's forked child, so that make coverage
 * counts what runs only in the child (the atfork handlers among it).
 *
 * A --coverage build turns each direct call of fork() into
 * __gcov_fork(), which zeroes the child's counters after fork() returns:
 * after the atfork handlers ran. test_fork() calls fork() through a
 * pointer, which gcc leaves alone; the child's counters then start with
 * the parent's, so counts double, but what ran is what is reported.
 *
 * child_exit() leaves with _exit(), so that none of the parent's atexit
 * handlers (Criterion's among them) run twice; in a --coverage build it
 * first writes the child's counters to the .gcda files, which only
 * exit() would otherwise do.
 */
#include <sys/types.h>
#include <unistd.h>

/* libgcov's, linked in by make coverage (-u __gcov_dump); else NULL. */
extern void __gcov_dump(void) __attribute__((weak));

static inline pid_t test_fork(void)
{
	pid_t (*volatile fork_fn)(void) = fork;

	return fork_fn();
}

static inline _Noreturn void child_exit(int status)
{
	if (__gcov_dump)
		__gcov_dump();
	_exit(status);
}

#endif /* SC_SELFTESTS_CHILD_H */
