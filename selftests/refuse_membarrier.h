/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_SELFTESTS_REFUSE_MEMBARRIER_H
#define SC_SELFTESTS_REFUSE_MEMBARRIER_H

/*
 * A real seccomp filter that makes membarrier(2) fail with ENOSYS, as
 * an older kernel or a sandbox would: the RCU layer then has to fall
 * back to fencing its readers. Shared by the RCU test and the RCU bench.
 */
#include <errno.h>
#include <sys/syscall.h>

#include "seccomp_filter.h"

/*
 * refuse_membarrier() - From now on membarrier(2) fails with ENOSYS in
 * this process and its children; exec keeps the filter.
 * Return: 0, or -1 with errno set by prctl(2).
 */
static inline int refuse_membarrier(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_membarrier, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};

	return install_seccomp_filter(filter,
				      sizeof(filter) / sizeof(filter[0]));
}

#endif /* SC_SELFTESTS_REFUSE_MEMBARRIER_H */
