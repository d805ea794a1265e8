/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_SELFTESTS_SECCOMP_FILTER_H
#define SC_SELFTESTS_SECCOMP_FILTER_H

/*
 * Real seccomp filters make a system call fail as an older kernel or a
 * sandbox would, so that the library's fallback for it runs for real.
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>

/*
 * install_seccomp_filter() - From now on @filter (@len instructions)
 * judges every system call of this process and its children; exec keeps
 * it. Return: 0, or -1 with errno set by prctl(2).
 */
static inline int install_seccomp_filter(struct sock_filter *filter,
					 unsigned short len)
{
	struct sock_fprog prog = {
		.len = len,
		.filter = filter,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

#endif /* SC_SELFTESTS_SECCOMP_FILTER_H */
