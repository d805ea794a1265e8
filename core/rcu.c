// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Grace periods for the cache's lock-free lookups: see core/rcu.h for the
 * protocol and the ordering argument.
 *
 * Lock order: sc_rcu_lock is a leaf. It guards the list of registered
 * readers, which sc_rcu_passed() walks; readers take it only to register
 * (their first read-side section) and at thread exit.
 */
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "alloc/lock.h"
#include "core/cache_internal.h"
#include "core/pin.h"
#include "core/rcu.h"

/* How often polls may ask for the readers' barrier (membarrier(2)). */
#define SC_RCU_BARRIER_NS 1000000

__thread struct sc_rcu_reader sc_rcu_self;
/* Starts at 1: a reader's ctr is never 0 inside a section. */
atomic_uint_fast64_t sc_rcu_gp = 1;
/*
 * Until membarrier(2) is registered, readers fence themselves. Written
 * only by sc_rcu_init(), which every reader (at registration) and every
 * grace-period poll passes through first (pthread_once), and by the
 * single-threaded child of a fork(): no reader or poll ever reads it
 * stale. A writer asking sc_rcu_alone() may read it without having passed
 * there: "true" (not yet) only makes it wait for grace periods; "false"
 * is stored after the registration for membarrier(2) it relies on.
 */
atomic_bool sc_rcu_reader_mb = true;
/* gp read just before the last membarrier, and when it ran */
static atomic_uint_fast64_t sc_rcu_barrier_gp;
static atomic_uint_fast64_t sc_rcu_barrier_ns;
/*
 * When sc_rcu_poll() last left a due barrier to its caller: polls within
 * SC_RCU_BARRIER_ASKED_NS after do not ask for another, the caller runs
 * it as soon as it lets go of its lock.
 */
static uint64_t sc_rcu_barrier_asked_ns;
#define SC_RCU_BARRIER_ASKED_NS 100000

static struct sc_mutex sc_rcu_lock = SC_MUTEX_INITIALIZER;
static struct sc_rcu_reader *sc_rcu_readers;
atomic_uint sc_rcu_nr_readers;
static pthread_key_t sc_rcu_key;
static pthread_once_t sc_rcu_once = PTHREAD_ONCE_INIT;
static bool sc_rcu_key_ok;

static void sc_rcu_unlink_locked(struct sc_rcu_reader *r)
{
	sc_lockdep_assert_held(&sc_rcu_lock);
	if (r->prev)
		r->prev->next = r->next;
	else
		sc_rcu_readers = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	r->registered = false;
	/*
	 * release: a writer that sees the count fall (sc_rcu_alone()'s
	 * acquire load) sees what this thread logged and read before
	 * (core/cache.c, __sc_write_alone_locked())
	 */
	atomic_fetch_sub_explicit(&sc_rcu_nr_readers, 1, memory_order_release);
}

/*
 * Register for the expedited private membarrier: then readers need no
 * barrier of their own. Before any reader's first section, so that no
 * section ever runs without one or the other.
 */
static bool sc_rcu_membarrier_register(void)
{
	long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	return cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	       !syscall(__NR_membarrier,
			MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
}

/*
 * Thread exit: a reader that is gone never blocks a grace period. Its pin
 * slots become counted pins first, in a section of its own.
 */
static void sc_rcu_thread_exit(void *arg)
{
	struct sc_rcu_reader *r = arg;

	if (r->registered)
		sc_pin_thread_exit();
	sc_mutex_lock(&sc_rcu_lock);
	if (r->registered)
		sc_rcu_unlink_locked(r);
	sc_mutex_unlock(&sc_rcu_lock);
}

/*
 * The child of a fork() has one thread: the others' records are stale
 * (one may even have been inside a section) and must not block it. The
 * lock may have been held by a thread that no longer exists.
 */
static void sc_rcu_atfork_child(void)
{
	struct sc_rcu_reader *self = &sc_rcu_self;

	sc_mutex_init(&sc_rcu_lock);
	sc_pin_atfork_child();
	sc_rcu_readers = NULL;
	atomic_store_explicit(&sc_rcu_nr_readers, 0, memory_order_relaxed);
	if (self->registered) {
		self->prev = self->next = NULL;
		sc_rcu_readers = self;
		atomic_store_explicit(&sc_rcu_nr_readers, 1,
				      memory_order_relaxed);
	}
	/* a new address space is not registered for membarrier(2) */
	if (!sc_rcu_readers_fence() && !sc_rcu_membarrier_register())
		atomic_store_explicit(&sc_rcu_reader_mb, true,
				      memory_order_relaxed);
	sc_cache_solo_atfork_child(!sc_rcu_readers_fence());
}

static void sc_rcu_init(void)
{
	sc_rcu_key_ok = !pthread_key_create(&sc_rcu_key, sc_rcu_thread_exit);
	pthread_atfork(NULL, NULL, sc_rcu_atfork_child);
	if (sc_rcu_membarrier_register())
		atomic_store_explicit(&sc_rcu_reader_mb, false,
				      memory_order_relaxed);
}

bool sc_rcu_expedited(void)
{
	pthread_once(&sc_rcu_once, sc_rcu_init);
	return !sc_rcu_readers_fence();
}

bool sc_rcu_membarrier(void)
{
	return !syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0,
			0);
}

bool sc_rcu_exit_hook(void)
{
	pthread_once(&sc_rcu_once, sc_rcu_init);
	return sc_rcu_key_ok;
}

void sc_rcu_register(struct sc_rcu_reader *r)
{
	pthread_once(&sc_rcu_once, sc_rcu_init);
	sc_mutex_lock(&sc_rcu_lock);
	r->prev = NULL;
	r->next = sc_rcu_readers;
	if (sc_rcu_readers)
		sc_rcu_readers->prev = r;
	sc_rcu_readers = r;
	r->registered = true;
	atomic_fetch_add_explicit(&sc_rcu_nr_readers, 1, memory_order_relaxed);
	sc_mutex_unlock(&sc_rcu_lock);
	/*
	 * Before this thread's first section: every thread that runs now
	 * passes a full barrier, so a writer that did not see the count
	 * grow unlinked what it frees before this thread's first load
	 * (sc_rcu_alone()).
	 */
	if (!sc_rcu_readers_fence())
		sc_rcu_membarrier();
	/*
	 * Without a key the record outlives its thread on the list; its ctr
	 * is 0 once the thread left its last section, so it never blocks.
	 * (The TLS block of an exited thread may be reused by a new thread,
	 * which then finds itself registered: also harmless.)
	 */
	if (sc_rcu_key_ok)
		pthread_setspecific(sc_rcu_key, r);
}

/*
 * Do readers without barriers of their own need one from the kernel
 * after ticket @t was taken and before their counters are read?
 * Return: SC_RCU_PASSED if no barrier is needed (one ran since @t, or
 * readers fence themselves, or none reads but maybe the caller),
 * SC_RCU_BARRIER if one is due, SC_RCU_NOT_YET if it is not due yet (the
 * last one was too recent and nothing is urgent).
 * Context: sc_rcu_lock held.
 */
static enum sc_rcu_poll sc_rcu_barrier_due_locked(uint64_t t, bool urgent)
{
	sc_lockdep_assert_held(&sc_rcu_lock);
	if (sc_rcu_readers_fence() ||
	    atomic_load_explicit(&sc_rcu_barrier_gp, memory_order_acquire) >= t)
		return SC_RCU_PASSED;
	/* no reader but, maybe, the caller: nothing to order */
	if (atomic_load_explicit(&sc_rcu_nr_readers, memory_order_relaxed) <=
	    (sc_rcu_self.registered ? 1u : 0u))
		return SC_RCU_PASSED;
	if (!urgent &&
	    sc_clock_ns() - atomic_load_explicit(&sc_rcu_barrier_ns,
						 memory_order_relaxed) <
		    SC_RCU_BARRIER_NS)
		return SC_RCU_NOT_YET;
	return SC_RCU_BARRIER;
}

/*
 * Run the readers' barrier (membarrier(2)): every ticket taken before it
 * is then covered. Context: sc_rcu_lock held; dropped and taken again
 * around the call.
 */
static void sc_rcu_barrier_run_locked(void)
{
	uint64_t gp, now = sc_clock_ns();

	sc_lockdep_assert_held(&sc_rcu_lock);
	gp = atomic_load_explicit(&sc_rcu_gp, memory_order_acquire);
	sc_mutex_unlock(&sc_rcu_lock);
	sc_rcu_membarrier();
	sc_mutex_lock(&sc_rcu_lock);
	if (atomic_load_explicit(&sc_rcu_barrier_gp, memory_order_relaxed) < gp)
		atomic_store_explicit(&sc_rcu_barrier_gp, gp,
				      memory_order_release);
	atomic_store_explicit(&sc_rcu_barrier_ns, now, memory_order_relaxed);
}

/* Has every reader left the sections it was in before @t? */
static bool sc_rcu_readers_passed_locked(uint64_t t)
{
	struct sc_rcu_reader *r;

	sc_lockdep_assert_held(&sc_rcu_lock);
	for (r = sc_rcu_readers; r; r = r->next) {
		uint64_t ctr =
			atomic_load_explicit(&r->ctr, memory_order_acquire);

		if (ctr && ctr < t)
			return false;
	}
	return true;
}

enum sc_rcu_poll sc_rcu_poll(uint64_t t, bool urgent)
{
	enum sc_rcu_poll ret;

	/* as in sc_rcu_passed() */
	pthread_once(&sc_rcu_once, sc_rcu_init);
	sc_mutex_lock(&sc_rcu_lock);
	ret = sc_rcu_barrier_due_locked(t, urgent);
	if (ret == SC_RCU_BARRIER) {
		uint64_t now = sc_clock_ns();

		if (now - sc_rcu_barrier_asked_ns < SC_RCU_BARRIER_ASKED_NS)
			ret = SC_RCU_NOT_YET; /* asked of another caller */
		else
			sc_rcu_barrier_asked_ns = now;
	} else if (ret == SC_RCU_PASSED && !sc_rcu_readers_passed_locked(t)) {
		ret = SC_RCU_NOT_YET;
	}
	sc_mutex_unlock(&sc_rcu_lock);
	return ret;
}

void sc_rcu_barrier(uint64_t t)
{
	pthread_once(&sc_rcu_once, sc_rcu_init);
	sc_mutex_lock(&sc_rcu_lock);
	if (sc_rcu_barrier_due_locked(t, true) == SC_RCU_BARRIER)
		sc_rcu_barrier_run_locked();
	sc_mutex_unlock(&sc_rcu_lock);
}

bool sc_rcu_passed(uint64_t t, bool urgent)
{
	enum sc_rcu_poll due;
	bool passed;

	/*
	 * A writer that never read must still see the readers' mode as
	 * sc_rcu_init() left it: were it to read "readers fence themselves"
	 * from before the first reader registered membarrier(2), it would
	 * skip the barrier that reader relies on.
	 */
	pthread_once(&sc_rcu_once, sc_rcu_init);
	sc_mutex_lock(&sc_rcu_lock);
	due = sc_rcu_barrier_due_locked(t, urgent);
	if (due == SC_RCU_BARRIER) {
		sc_rcu_barrier_run_locked();
		due = SC_RCU_PASSED;
	}
	passed = due == SC_RCU_PASSED && sc_rcu_readers_passed_locked(t);
	sc_mutex_unlock(&sc_rcu_lock);
	return passed;
}

void sc_rcu_wait(uint64_t t)
{
	unsigned int spins = 0;

	/* sections are short: spin a little, then let a preempted one run */
	while (!sc_rcu_passed(t, true)) {
		if (++spins < 64) {
			sched_yield();
		} else {
			struct timespec ts = { 0, 50000 };

			nanosleep(&ts, NULL);
		}
	}
}
