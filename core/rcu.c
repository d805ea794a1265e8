// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Grace periods for the cache's lock-free lookups: see core/rcu.h for the
 * protocol and the ordering argument.
 *
 * Lock order: sc_rcu_lock is a leaf. It guards the list of registered
 * readers, which sc_rcu_passed() walks; readers take it only to register
 * (their first read-side section) and at thread exit.
 */
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "alloc/lock.h"
#include "core/rcu.h"

__thread struct sc_rcu_reader sc_rcu_self;
/* Starts at 1: a reader's ctr is never 0 inside a section. */
atomic_uint_fast64_t sc_rcu_gp = 1;

static struct sc_mutex sc_rcu_lock = SC_MUTEX_INITIALIZER;
static struct sc_rcu_reader *sc_rcu_readers;
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
}

/* Thread exit: a reader that is gone never blocks a grace period. */
static void sc_rcu_thread_exit(void *arg)
{
	struct sc_rcu_reader *r = arg;

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
	sc_rcu_readers = NULL;
	if (self->registered) {
		self->prev = self->next = NULL;
		sc_rcu_readers = self;
	}
}

static void sc_rcu_init(void)
{
	sc_rcu_key_ok = !pthread_key_create(&sc_rcu_key, sc_rcu_thread_exit);
	pthread_atfork(NULL, NULL, sc_rcu_atfork_child);
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
	sc_mutex_unlock(&sc_rcu_lock);
	/*
	 * Without a key the record outlives its thread on the list; its ctr
	 * is 0 once the thread left its last section, so it never blocks.
	 * (The TLS block of an exited thread may be reused by a new thread,
	 * which then finds itself registered: also harmless.)
	 */
	if (sc_rcu_key_ok)
		pthread_setspecific(sc_rcu_key, r);
}

bool sc_rcu_passed(uint64_t t)
{
	struct sc_rcu_reader *r;
	bool passed = true;

	sc_mutex_lock(&sc_rcu_lock);
	for (r = sc_rcu_readers; r; r = r->next) {
		uint64_t ctr =
			atomic_load_explicit(&r->ctr, memory_order_acquire);

		if (ctr && ctr < t) {
			passed = false;
			break;
		}
	}
	sc_mutex_unlock(&sc_rcu_lock);
	return passed;
}

void sc_rcu_wait(uint64_t t)
{
	unsigned int spins = 0;

	/* sections are short: spin a little, then let a preempted one run */
	while (!sc_rcu_passed(t)) {
		if (++spins < 64) {
			sched_yield();
		} else {
			struct timespec ts = { 0, 50000 };

			nanosleep(&ts, NULL);
		}
	}
}
