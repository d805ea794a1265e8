/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_ALLOC_LOCK_H
#define SC_ALLOC_LOCK_H

/*
 * The library's mutex: a pthread mutex that, in DEBUG=1 builds, also
 * records which thread holds it, so that a function whose name or
 * Context: line says "lock held" can check it, as lockdep_assert_held()
 * does in the kernel's mm/shrinker.c. In other builds the owner field and
 * the checks compile away and sc_mutex is exactly a pthread_mutex_t.
 *
 * The owner is a per-thread token (the address of a thread-local byte),
 * not a pthread_t: it can be compared atomically and 0 means "nobody".
 * It is written by the holder only, after it takes the mutex and before
 * it lets go, so a thread reading it either sees its own token (it holds
 * the mutex) or something else (it does not): relaxed loads suffice.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "alloc/alloc.h"

struct sc_mutex {
	pthread_mutex_t mutex;
	atomic_uint spinning;
#ifdef CONFIG_SC_DEBUG
	atomic_uintptr_t owner; /* sc_lock_self() of the holder, or 0 */
#endif
};

#ifdef CONFIG_SC_DEBUG
#define SC_MUTEX_INITIALIZER                    \
	{                                       \
		PTHREAD_MUTEX_INITIALIZER, 0, 0 \
	}

/* This thread's token: the address of one of its thread-local bytes. */
SC_HIDDEN uintptr_t sc_lock_self(void);

/*
 * Report a lock that should be held and is not (or the reverse), then
 * abort: DEBUG=1 builds only, where an assertion is the point.
 */
SC_HIDDEN __attribute__((noreturn)) void
sc_lock_assert_fail(const struct sc_mutex *m, const char *what,
		    const char *func);

#define sc_lockdep_assert_held(m)                                              \
	do {                                                                   \
		if (atomic_load_explicit(&(m)->owner, memory_order_relaxed) != \
		    sc_lock_self())                                            \
			sc_lock_assert_fail((m), "not held", __func__);        \
	} while (0)

#define sc_lockdep_assert_not_held(m)                                          \
	do {                                                                   \
		if (atomic_load_explicit(&(m)->owner, memory_order_relaxed) == \
		    sc_lock_self())                                            \
			sc_lock_assert_fail((m), "already held", __func__);    \
	} while (0)

static inline void sc_mutex_set_owner(struct sc_mutex *m, uintptr_t owner)
{
	atomic_store_explicit(&m->owner, owner, memory_order_relaxed);
}
#else
#define SC_MUTEX_INITIALIZER                 \
	{                                    \
		PTHREAD_MUTEX_INITIALIZER, 0 \
	}
#define sc_lockdep_assert_held(m) ((void)(m))
#define sc_lockdep_assert_not_held(m) ((void)(m))
#define sc_mutex_set_owner(m, o) ((void)(m), (void)(o))
#define sc_lock_self() ((uintptr_t)0)
#endif

static inline int sc_mutex_init(struct sc_mutex *m)
{
	sc_mutex_set_owner(m, 0);
	atomic_init(&m->spinning, 0);
	return pthread_mutex_init(&m->mutex, NULL);
}

/*
 * A mutex whose holders keep it for well under a microsecond while other
 * threads on other CPUs want it at once (a cache's writers): a thread
 * that finds it taken spins a little, reading, before it sleeps. Sleeping
 * costs a futex wait and, for the holder, a futex wake: each a system
 * call, and the wake of a halted vCPU, several microseconds under a
 * hypervisor, much more than the hold it waits for. glibc's adaptive
 * mutex spins at most as long as recent acquisitions needed (up to its
 * glibc.pthread.mutex_spin_count tunable, 100 rounds of pause), so a
 * holder that is preempted costs the waiter a few microseconds, then it
 * sleeps as before. Elsewhere a plain mutex. Holds of a microsecond or
 * more need a longer spin: sc_mutex_lock_spin(), for callers that choose
 * when to spin.
 */
static inline int sc_mutex_init_spin(struct sc_mutex *m)
{
#ifdef __GLIBC__
	pthread_mutexattr_t attr;
	int err;

	sc_mutex_set_owner(m, 0);
	atomic_init(&m->spinning, 0);
	err = pthread_mutexattr_init(&attr);
	if (err)
		return err;
	err = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
	if (!err)
		err = pthread_mutex_init(&m->mutex, &attr);
	pthread_mutexattr_destroy(&attr);
	return err;
#else
	return sc_mutex_init(m);
#endif
}

static inline void sc_mutex_destroy(struct sc_mutex *m)
{
	pthread_mutex_destroy(&m->mutex);
}

static inline void sc_mutex_lock(struct sc_mutex *m)
{
	sc_lockdep_assert_not_held(m);
	pthread_mutex_lock(&m->mutex);
	sc_mutex_set_owner(m, sc_lock_self());
}

/* A spin-wait hint to the CPU (the kernel's cpu_relax()). */
static inline void sc_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* Is @m free, by a plain read that takes no ownership of its line? */
static inline bool sc_mutex_looks_free(struct sc_mutex *m)
{
#ifdef __GLIBC__
	return !__atomic_load_n(&m->mutex.__data.__lock, __ATOMIC_RELAXED);
#else
	(void)m;
	return true;
#endif
}

/* How often sc_lock_spin_ok() looks at the system's runnable tasks. */
#define SC_LOCK_RUNNABLE_EVERY_NS 4000000ull

/* sc_lock_cpus() - CPUs this process may run on (its affinity mask). */
SC_HIDDEN unsigned int sc_lock_cpus(void);

/*
 * sc_lock_spin_ok() - May a waiter spin without taking a CPU that another
 * runnable thread needs?
 * @threads: an upper bound on the process's threads that may run now
 * (the callers pass their registered threads).
 *
 * Yes while @threads fit on the process's CPUs. Beyond that the threads
 * counted may be idle (a pool's workers blocked in epoll_wait(), a main
 * thread in pthread_join()), and what decides is whether anything waits
 * for a CPU: the system's runnable tasks (/proc/loadavg), looked at by
 * one waiter at most every SC_LOCK_RUNNABLE_EVERY_NS, no more than the
 * process's CPUs. Never with one CPU, nor when /proc cannot be read.
 */
SC_HIDDEN bool sc_lock_spin_ok(unsigned int threads);

/*
 * sc_loadavg_runnable() - The runnable tasks of a /proc/loadavg line
 * (the number before the '/' of its fourth field), or -1 if @buf is not
 * such a line.
 */
SC_HIDDEN long sc_loadavg_runnable(const char *buf);

/*
 * sc_loadavg_read() - The runnable tasks that the loadavg file at @path
 * says (sc_lock_spin_ok() reads /proc/loadavg), or -1 if it cannot be
 * opened or read or is not such a line.
 */
SC_HIDDEN long sc_loadavg_read(const char *path);

/*
 * sc_mutex_lock_spin() - Take @m, spinning up to @spin_ns before sleeping.
 *
 * For a mutex whose holds are a microsecond or two, wanted by threads
 * on other CPUs (a cache's writers): sleeping costs a futex wait, and the
 * holder a futex wake, each a system call and, under a hypervisor, the
 * wake of a halted vCPU, where glibc's adaptive mutex spins at most 100
 * rounds of pause (under 2 us on this machine's CPUs, whose pause takes
 * about 17 ns) and then sleeps. The waiter reads the lock word, which
 * leaves the holder's line alone, and tries only when it reads free. One
 * waiter spins at a time (m->spinning), as the kernel's optimistic
 * spinning lets only the head of its queue spin: others sleep at once,
 * so at most one CPU is spent on the wait. The caller decides whether to
 * spin at all (@spin_ns 0: sleep as a plain mutex does).
 */
static inline void sc_mutex_lock_spin(struct sc_mutex *m, uint64_t spin_ns)
{
	uint64_t until = 0;
	unsigned int i;

	sc_lockdep_assert_not_held(m);
	/* a caller's trylock may have just failed: read before trying */
	if (sc_mutex_looks_free(m) && !pthread_mutex_trylock(&m->mutex))
		goto out;
	if (!spin_ns ||
	    atomic_exchange_explicit(&m->spinning, 1, memory_order_relaxed))
		goto sleep;
	for (i = 1;; i++) {
		sc_cpu_relax();
		if (sc_mutex_looks_free(m) &&
		    !pthread_mutex_trylock(&m->mutex)) {
			atomic_store_explicit(&m->spinning, 0,
					      memory_order_relaxed);
			goto out;
		}
		/* the clock every 16 rounds: about 0.3 us of pause here */
		if (i % 16)
			continue;
		if (!until)
			until = sc_clock_ns() + spin_ns;
		else if (sc_clock_ns() > until)
			break;
	}
	atomic_store_explicit(&m->spinning, 0, memory_order_relaxed);
sleep:
	pthread_mutex_lock(&m->mutex);
out:
	sc_mutex_set_owner(m, sc_lock_self());
}

/* Return: true if the mutex was taken. */
static inline bool sc_mutex_trylock(struct sc_mutex *m)
{
	if (pthread_mutex_trylock(&m->mutex))
		return false;
	sc_mutex_set_owner(m, sc_lock_self());
	return true;
}

static inline void sc_mutex_unlock(struct sc_mutex *m)
{
	sc_lockdep_assert_held(m);
	sc_mutex_set_owner(m, 0);
	pthread_mutex_unlock(&m->mutex);
}

/* pthread_cond_wait() on an sc_mutex: the owner is gone while waiting. */
static inline void sc_cond_wait(pthread_cond_t *cond, struct sc_mutex *m)
{
	sc_lockdep_assert_held(m);
	sc_mutex_set_owner(m, 0);
	pthread_cond_wait(cond, &m->mutex);
	sc_mutex_set_owner(m, sc_lock_self());
}

#endif /* SC_ALLOC_LOCK_H */
