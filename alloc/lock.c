// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * When a waiter should spin (sc_lock_spin_ok()), and the lock-held
 * assertions of DEBUG=1 builds (alloc/lock.h).
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "alloc/lock.h"

/* CPUs this process may run on */
static unsigned int sc_lock_nr_cpus;
static pthread_once_t sc_lock_cpus_once = PTHREAD_ONCE_INIT;

static void sc_lock_cpus_init(void)
{
	cpu_set_t set;
	long n = 0;

	if (!sched_getaffinity(0, sizeof(set), &set))
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	sc_lock_nr_cpus = n > 0 ? (unsigned int)n : 1;
}

unsigned int sc_lock_cpus(void)
{
	pthread_once(&sc_lock_cpus_once, sc_lock_cpus_init);
	return sc_lock_nr_cpus;
}

long sc_loadavg_runnable(const char *buf)
{
	const char *p = buf;
	long n = 0;
	int field;

	/* "0.52 0.58 0.59 3/271 12345": runnable/all in the fourth field */
	for (field = 0; field < 3; field++) {
		while (*p == ' ')
			p++;
		if (!*p || *p == '/')
			return -1;
		while (*p && *p != ' ')
			p++;
	}
	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > 100000000)
			return -1;
		n = n * 10 + (*p - '0');
	}
	return *p == '/' ? n : -1;
}

long sc_loadavg_read(const char *path)
{
	char buf[128];
	ssize_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	return sc_loadavg_runnable(buf);
}

/* The last look at /proc/loadavg: its time and its answer */
static atomic_uint_fast64_t sc_lock_runnable_at;
static atomic_bool sc_lock_runnable_ok;

bool sc_lock_spin_ok(unsigned int threads)
{
	uint64_t now, at;
	long runnable;
	bool ok;

	if (sc_lock_cpus() < 2)
		return false;
	if (threads <= sc_lock_nr_cpus)
		return true;
	now = sc_clock_ns();
	at = atomic_load_explicit(&sc_lock_runnable_at, memory_order_relaxed);
	/* one waiter looks again, the others take the last answer */
	if ((at && now - at < SC_LOCK_RUNNABLE_EVERY_NS) ||
	    !atomic_compare_exchange_strong_explicit(&sc_lock_runnable_at, &at,
						     now, memory_order_relaxed,
						     memory_order_relaxed))
		return atomic_load_explicit(&sc_lock_runnable_ok,
					    memory_order_relaxed);
	runnable = sc_loadavg_read("/proc/loadavg");
	ok = runnable > 0 && (unsigned long)runnable <= sc_lock_nr_cpus;
	atomic_store_explicit(&sc_lock_runnable_ok, ok, memory_order_relaxed);
	return ok;
}

#ifdef CONFIG_SC_DEBUG
static __thread char sc_lock_token;

uintptr_t sc_lock_self(void)
{
	return (uintptr_t)&sc_lock_token;
}

void sc_lock_assert_fail(const struct sc_mutex *m, const char *what,
			 const char *func)
{
	fprintf(stderr, "slabcache: lock %p %s in %s()\n", (const void *)m,
		what, func);
	abort();
}
#endif
