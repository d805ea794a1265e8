// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabcached worker threads: sockets in, sockets out.
 *
 * Each worker thread has its own epoll set, an eventfd by which the main
 * thread hands it new connections (through a small locked queue) or asks it
 * to stop, its own statistics block, and a list of the connections it
 * owns. This file moves bytes between a socket and the connection
 * (conn.c), and decides when a connection waits, yields and closes; it
 * parses nothing.
 *
 * The connection being served reads and parses in the serving thread's
 * 16 KiB read buffer, lent for the wake-up (conn_run()), so that a request
 * of up to 16 KiB takes one read; it keeps only its unparsed rest. Reply
 * buffers come from the serving thread's stash.
 *
 * A wake-up serves at most -R commands of one connection (memcached's
 * reqs_per_event) before it yields to the others: the connection goes on
 * the worker's ready list and is served again before the worker sleeps.
 *
 * A worker held off the CPU leaves its connections waiting while the
 * other may have time to spare: on a machine with as many cores as
 * workers plus a busy client, that, not the cost of a request, is what
 * sets the tail latency. So each worker watches the next one (a ring):
 * if that one has served nothing for SD_HELP_AFTER_US, the watcher
 * serves its ready connections once, in its place (worker_help()).
 *
 * Claims. The helper must never hold more than it is serving: a helper
 * preempted in the middle of its pass would otherwise keep the owner,
 * runnable again, from all of its connections. So a connection is served
 * only under its claim (sd_conn.claim: CLAIMED), taken with one
 * compare-and-swap by whichever thread serves it and given back at the
 * end of the wake-up (conn_release()); the rest of a worker's state is
 * either its own thread's (the connection list, the closed list) or
 * behind a leaf lock (the ready list and the doomed list, ready_lock).
 * Whoever does not get the claim does not wait for it:
 *   - the owner, from its epoll set or its ready list, marks it KICKED,
 *     and the holder, at its release, puts it on the owner's ready list
 *     and wakes the owner; an epoll event for a connection it already
 *     kicked (a holder that stays away: level-triggered epoll would
 *     report it on every call) makes the owner take it out of its epoll
 *     set (UNREG), and whoever serves it next puts it back (conn_want()
 *     with events 0);
 *   - a helper skips a connection whose epoll event it got (the owner is
 *     serving it), and kicks one it took from the ready list.
 * Replies stay whole and in order: one thread at a time parses a
 * connection's input and queues its replies.
 *
 * Only the owner closes a socket (an fd number is reused at once, and the
 * owner may take a connection out of its epoll set by fd at any time): a
 * helper that must close one keeps the claim and puts it on the owner's
 * doomed list. And a helper may hold pointers from the owner's epoll set
 * that the owner has just closed: a closed connection keeps its struct
 * (on the closed list, its claim never given back) until the owner sees
 * no helper in a pass over its epoll set (helping), after the events of
 * its own round.
 *
 * A watcher whose pass took far longer than its CPU time was preempted
 * in it; while that happens, it waits longer before it helps again
 * (help_after_us doubles, up to SD_HELP_AFTER_MAX_US), so that on an
 * overloaded machine the help does not add threads to hold connections.
 *
 * A connection the daemon closes (quit, an over-long line, a protocol
 * error) lingers: its replies are sent, its side shut down, and its input
 * read and dropped until the client closes or SD_LINGER_SECS pass, so that
 * no reset throws away replies the kernel has not yet delivered
 * (conn_linger()). Once a second each worker closes the connections whose
 * half-written command has made no progress for --command-timeout, and,
 * with -o idle_timeout, those idle between commands for longer.
 *
 * Locks: a worker's queue lock and its ready lock are leaves; a claim is
 * never waited for. The item paths take their own locks (items.c) under
 * a claim.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "slabcached.h"

#define SD_READS_PER_WAKE 16
#define SD_IOV_BATCH 64
#define SD_LINGER_SECS 2
#define SD_DRAIN_BUF 16384
/*
 * How long a worker may serve nothing before its neighbour serves its
 * connections for it: several times a request's service time (10 to
 * 30 us), well under a scheduler's time slice (milliseconds), and
 * rarely enough that looking at an idle worker's epoll set costs
 * nothing that counts (one epoll_wait() of the neighbour's per
 * SD_HELP_AFTER_US at most).
 */
#define SD_HELP_AFTER_US 250
#define SD_HELP_AFTER_MAX_US 8000
/* A pass longer than twice its CPU time plus this was preempted. */
#define SD_HELP_PREEMPTED_US 200

/* sd_conn.claim */
#define CLAIMED 1u /* a thread serves it */
#define KICKED 2u /* wanted meanwhile: to the ready list at the release */
#define UNREG 4u /* its owner took it out of its epoll set meanwhile */

struct sd_worker {
	pthread_t thread;
	int id;
	int epfd;
	int evfd;
	pthread_mutex_t lock; /* protects queue, nqueue, stop */
	int *queue;
	size_t nqueue, queue_cap;
	bool stop;
	/* protects ready, nready, ready_cap, doomed and sd_conn.in_ready */
	pthread_mutex_t ready_lock;
	struct sd_conn **ready; /* yielded with input left: serve again */
	size_t nready, ready_cap; /* nready also peeked at without the lock */
	struct sd_conn *doomed; /* a helper closed them: the owner closes */
	/* helpers in a pass over its epoll set (worker_help()) */
	_Atomic int helping;
	_Atomic bool gone; /* stopping: no more help */
	/* rounds it served (read by its watcher) */
	_Atomic unsigned long rounds;
	/* passes a helper served for it (see worker_main()) */
	_Atomic unsigned long helped;
	/* the rest is its own thread's */
	/* what this worker saw of the next one's rounds, and since when */
	unsigned long watch_rounds;
	uint64_t watch_since_us;
	unsigned int help_after_us;
	struct sd_conn *conns;
	size_t nconns;
	struct sd_conn *closed; /* freed once no helper can see them */
	char *rbuf; /* SD_READ_MAX: lent to the connection it serves */
	struct sd_conn_stash stash; /* spare buffers of what it serves */
	sd_rel_time last_scan;
};

static struct sd_worker *workers;
static int nworkers; /* running */
static int nring; /* set up, and looked after in a ring (worker_help()) */
/*
 * Test hook: SLABCACHED_TEST_WORKER_NAP_MS=<n> makes worker 0 sleep n ms
 * before each epoll_wait(), outside its run lock: a worker kept off the
 * CPU between rounds, which its neighbour must cover (worker_help()).
 */
static unsigned long worker0_nap_ms;
/*
 * Test hook: SLABCACHED_TEST_HELPER_NAP_MS=<n> makes a helper of worker 0
 * sleep n ms after it has served one of worker 0's connections, before it
 * gives the claim back: a helper preempted in the middle of its pass. At
 * most once in 4n ms, so that a pipeline it yields is not napped on again.
 */
static unsigned long helper_nap_ms;
static _Atomic uint64_t helper_nap_last_us;
static unsigned int next_worker;
/* the worker whose thread this is */
static __thread struct sd_worker *self;
/*
 * The connection it served has just been closed, or handed to its owner
 * to close: the claim is not to be given back, and a helper must not
 * touch it again.
 */
static __thread bool closed_now;

/* @clock's time in microseconds (CLOCK_MONOTONIC, or a thread's CPU time) */
static uint64_t clock_us(clockid_t clock)
{
	return sd_clock_ns(clock) / 1000;
}

/* ------------------------------------------------------------ sockets */

/* Return: 1 all sent, 0 would block, -1 connection gone. */
static int conn_flush(struct sd_conn *c)
{
	sd_conn_show(c, SD_SHOW_MWRITE);
	while (sd_conn_output_pending(c)) {
		struct iovec iov[SD_IOV_BATCH];
		struct msghdr msg = { .msg_iov = iov };
		ssize_t w;

		msg.msg_iovlen = sd_conn_output(c, iov, SD_IOV_BATCH);
		w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		sd_conn_output_done(c, (size_t)w);
	}
	return 1;
}

/*
 * Return: bytes read, 0 at EOF, -EAGAIN, -ENOBUFS, or another -errno.
 * @drained: set when the read took less than there was room for, so the
 * socket held no more: reading again now would only say EAGAIN.
 */
static ssize_t conn_read(struct sd_conn *c, bool *drained)
{
	struct iovec iov[3];
	ssize_t niov, r, i;
	size_t room = 0;

	niov = sd_conn_input_iov(c, iov);
	if (niov < 0)
		return niov;
	for (i = 0; i < niov; i++)
		room += iov[i].iov_len;
	do
		r = niov > 1 ? readv(c->fd, iov, (int)niov) :
			       read(c->fd, iov[0].iov_base, iov[0].iov_len);
	while (r < 0 && errno == EINTR);
	if (r > 0) {
		sd_conn_input_done(c, (size_t)r);
		*drained = (size_t)r < room;
	}
	return r < 0 ? -errno : r;
}

/* ------------------------------------------------------------ lifetime */

static void worker_wake(struct sd_worker *w)
{
	uint64_t one = 1;

	/* cannot fail short of a counter overflow */
	if (write(w->evfd, &one, sizeof(one)) < 0 &&
	    atomic_load(&sd_settings.verbose))
		perror("slabcached: eventfd");
}

static size_t ready_count(struct sd_worker *w)
{
	return __atomic_load_n(&w->nready, __ATOMIC_RELAXED);
}

/*
 * Cannot fail: a connection is on the list at most once, and conn_open()
 * makes room for each.
 */
static void ready_add(struct sd_worker *w, struct sd_conn *c)
{
	pthread_mutex_lock(&w->ready_lock);
	if (!c->in_ready && w->nready < w->ready_cap) {
		w->ready[w->nready] = c;
		__atomic_store_n(&w->nready, w->nready + 1, __ATOMIC_RELAXED);
		c->in_ready = true;
	}
	pthread_mutex_unlock(&w->ready_lock);
}

/* Room on the ready list for one more connection. */
static int ready_reserve(struct sd_worker *w, size_t nconns)
{
	int ret = 0;

	pthread_mutex_lock(&w->ready_lock);
	if (nconns > w->ready_cap) {
		size_t cap = w->ready_cap ? w->ready_cap * 2 : 16;
		struct sd_conn **n = realloc(w->ready, cap * sizeof(*n));

		if (n) {
			w->ready = n;
			w->ready_cap = cap;
		} else {
			ret = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&w->ready_lock);
	return ret;
}

static void conn_release(struct sd_conn *c);

static struct sd_conn *conn_open(struct sd_worker *w, int fd)
{
	struct sd_conn *c;
	struct epoll_event ev = { .events = EPOLLIN };

	if (ready_reserve(w, w->nconns + 1))
		return NULL;
	c = sd_conn_new(fd, w);
	if (!c)
		return NULL;
	c->stash = &w->stash;
	c->info = sd_conn_info_new(fd, false);
	ev.data.ptr = c;
	c->events = ev.events;
	/* a helper may see it as soon as it is in the epoll set: held
	 * until then, and the release publishes what was set up */
	atomic_store_explicit(&c->claim, CLAIMED, memory_order_relaxed);
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		sd_conn_info_free(c->info);
		sd_conn_free(c);
		return NULL;
	}
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->nconns++;
	conn_release(c);
	if (atomic_load(&sd_settings.verbose) > 1)
		fprintf(stderr, "<%d new client connection\n", fd);
	return c;
}

/*
 * The owner closes @c, which it holds: out of the epoll set, the socket
 * closed, off the lists; the struct waits on the closed list, its claim
 * kept, for worker_reap().
 */
static void conn_close_final(struct sd_conn *c)
{
	struct sd_worker *w = c->worker;
	size_t i;

	if (atomic_load(&sd_settings.verbose) > 1)
		fprintf(stderr, "<%d connection closed.\n", c->fd);
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->closed = true;
	closed_now = true;
	pthread_mutex_lock(&w->ready_lock);
	for (i = 0; c->in_ready && i < w->nready; i++) {
		if (w->ready[i] != c)
			continue;
		memmove(w->ready + i, w->ready + i + 1,
			(w->nready - i - 1) * sizeof(*w->ready));
		__atomic_store_n(&w->nready, w->nready - 1, __ATOMIC_RELAXED);
		c->in_ready = false;
	}
	pthread_mutex_unlock(&w->ready_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->nconns--;
	sd_conn_info_free(c->info);
	c->info = NULL;
	sd_conn_fini(c);
	c->dnext = w->closed;
	w->closed = c;
	atomic_fetch_sub(&sd_gstats.curr_connections, 1);
}

/*
 * Close @c, which the calling thread holds. A helper does not close
 * another worker's socket: it keeps the claim and hands it to the owner.
 */
static void conn_close(struct sd_conn *c)
{
	struct sd_worker *w = c->worker;

	if (w == self) {
		conn_close_final(c);
		return;
	}
	closed_now = true;
	pthread_mutex_lock(&w->ready_lock);
	c->dnext = w->doomed;
	__atomic_store_n(&w->doomed, c, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&w->ready_lock);
	worker_wake(w);
}

/* The owner closes what its helpers closed. */
static void worker_close_doomed(struct sd_worker *w)
{
	struct sd_conn *c, *next;

	if (!__atomic_load_n(&w->doomed, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&w->ready_lock);
	c = w->doomed;
	__atomic_store_n(&w->doomed, NULL, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&w->ready_lock);
	for (; c; c = next) {
		next = c->dnext;
		conn_close_final(c);
	}
}

/*
 * Free the closed connections once no helper is in a pass over the epoll
 * set, in which it may have got one of them (@all: no helper can come).
 * A helper counts itself in before its epoll_wait(), which the kernel
 * orders against the EPOLL_CTL_DEL that conn_close_final() did first.
 */
static void worker_reap(struct sd_worker *w, bool all)
{
	struct sd_conn *c, *next;

	if (!w->closed)
		return;
	/* a read-modify-write reads the latest count, whatever reordering
	 * the loads around the DEL's system call might see */
	if (!all && atomic_fetch_add(&w->helping, 0))
		return;
	for (c = w->closed; c; c = next) {
		next = c->dnext;
		free(c);
	}
	w->closed = NULL;
}

/*
 * Wait for @events; level-triggered, so only a change needs a syscall.
 * Events 0: not known to be in the epoll set (its owner took it out).
 */
static void conn_want(struct sd_conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };
	int epfd = c->worker->epfd;

	if (c->events == events)
		return;
	if (!c->events) {
		if (!epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) ||
		    (errno == EEXIST &&
		     !epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev)))
			c->events = events;
		return;
	}
	if (!epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev))
		c->events = events;
}

/* ------------------------------------------------------------ claims */

/* Return: true if the calling thread now serves @c. */
static bool conn_claim(struct sd_conn *c)
{
	unsigned int free_word = 0;

	return atomic_compare_exchange_strong_explicit(&c->claim, &free_word,
						       CLAIMED,
						       memory_order_acquire,
						       memory_order_relaxed);
}

/*
 * Tell the holder of @c that it is wanted (@bits). Return: false if it
 * was given back meanwhile (claim it instead).
 */
static bool conn_kick(struct sd_conn *c, unsigned int bits)
{
	unsigned int old =
		atomic_load_explicit(&c->claim, memory_order_relaxed);

	do {
		if (!(old & CLAIMED))
			return false;
		if ((old | bits) == old)
			return true;
	} while (!atomic_compare_exchange_weak_explicit(
		&c->claim, &old, old | bits, memory_order_release,
		memory_order_relaxed));
	return true;
}

/*
 * Give @c back. If it was wanted meanwhile, it goes on its owner's ready
 * list first (the owner skipped it: nothing else would bring it back),
 * and the owner, if it is not the caller, is woken to serve it.
 */
static void conn_release(struct sd_conn *c)
{
	for (;;) {
		unsigned int old = CLAIMED;

		if (atomic_compare_exchange_weak_explicit(&c->claim, &old, 0,
							  memory_order_release,
							  memory_order_relaxed))
			return;
		if (old == CLAIMED)
			continue; /* a spurious failure */
		/*
		 * Take the kick before handing it back: a kick that comes
		 * after (the owner took it off the ready list again) must
		 * find the word changed, or it would be lost.
		 */
		if (!atomic_compare_exchange_strong_explicit(
			    &c->claim, &old, CLAIMED, memory_order_acquire,
			    memory_order_relaxed))
			continue;
		if (old & UNREG)
			c->events = 0;
		ready_add(c->worker, c);
		if (c->worker != self)
			worker_wake(c->worker);
	}
}

/*
 * Read and drop what the client still sends to a lingering connection.
 * Closes it at EOF, on an error, or once past the deadline.
 */
static void conn_drain(struct sd_conn *c)
{
	char buf[SD_DRAIN_BUF];
	int i;

	for (i = 0; i < SD_READS_PER_WAKE * 4; i++) {
		ssize_t r = read(c->fd, buf, sizeof(buf));

		if (r > 0)
			continue;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break; /* EOF or a reset: the client is gone */
	}
	if (i == SD_READS_PER_WAKE * 4 && sd_now() < c->linger_until)
		return; /* a fast sender: again on the next wake-up */
	conn_close(c);
}

/*
 * Every reply is in the kernel's hands: close without losing them.
 * close() with unread input makes the kernel send a reset, which throws
 * away whatever it has not yet delivered of the replies. So send our FIN
 * after the replies (shutdown(SHUT_WR)), then read and drop the input
 * until the client closes too, or for at most SD_LINGER_SECS.
 */
static void conn_linger(struct sd_conn *c)
{
	if (shutdown(c->fd, SHUT_WR) < 0) {
		conn_close(c);
		return;
	}
	c->lingering = true;
	c->linger_until = sd_now() + SD_LINGER_SECS;
	sd_conn_drop_rbuf(c);
	c->partial_since = 0;
	sd_conn_show(c, SD_SHOW_CLOSING);
	sd_conn_release_output(c);
	sd_item_free(c->item);
	c->item = NULL;
	conn_want(c, EPOLLIN);
	conn_drain(c);
}

/*
 * Send what is queued, if anything. Return: 1 nothing left to send, 0 the
 * socket is full (EPOLLOUT asked for), -1 the connection is gone.
 */
static int conn_flush_pending(struct sd_conn *c)
{
	int f;

	if (!sd_conn_output_pending(c))
		return 1;
	f = conn_flush(c);
	if (f == 0)
		conn_want(c, EPOLLOUT);
	return f;
}

/*
 * Serve a connection until it must wait: send what is pending, serve what
 * is buffered, read more. At most -R commands and a few reads per
 * wake-up, so that one busy client cannot starve the others.
 * Return: false once it is closed or lingering.
 */
static bool conn_serve(struct sd_conn *c)
{
	int reads = 0;
	bool drained = false;

	c->budget = sd_settings.reqs_per_event;
	for (;;) {
		enum sd_proc st;
		int flushed;
		ssize_t r;

		flushed = conn_flush_pending(c);
		if (flushed < 0)
			goto close;
		if (flushed == 0)
			return true;
		if (c->close_after_write) {
			conn_linger(c);
			return false;
		}
		st = sd_conn_process(c);
		switch (st) {
		case SD_PROC_CLOSE:
			/* send the replies to the commands before the quit
			 * (or the over-long line), then close */
			c->close_after_write = true;
			continue;
		case SD_PROC_NEED_FLUSH:
			continue;
		case SD_PROC_YIELD:
			flushed = conn_flush_pending(c);
			if (flushed < 0)
				goto close;
			if (flushed == 0)
				return true;
			SD_COUNT(conn_yields);
			ready_add(c->worker, c);
			conn_want(c, EPOLLIN);
			return true;
		case SD_PROC_LONG_LINE:
			r = conn_read(c, &drained);
			if (r > 0)
				continue;
			if (r == 0 || (r != -EAGAIN && r != -EWOULDBLOCK &&
				       r != -ENOBUFS))
				goto close;
			SD_COUNT(conn_closed_line_too_long);
			c->close_after_write = true;
			continue;
		case SD_PROC_NEED_READ:
			break;
		}
		if (sd_conn_output_pending(c))
			continue;
		/*
		 * As memcached: after a short read, wait for the socket to be
		 * readable rather than read once more for an EAGAIN (epoll is
		 * level-triggered, so bytes that came meanwhile wake us).
		 */
		if (drained) {
			conn_want(c, EPOLLIN);
			return true;
		}
		if (++reads > SD_READS_PER_WAKE) {
			ready_add(c->worker, c);
			conn_want(c, EPOLLIN);
			return true;
		}
		r = conn_read(c, &drained);
		if (r == -EAGAIN || r == -EWOULDBLOCK) {
			conn_want(c, EPOLLIN);
			return true;
		}
		if (r == -ENOBUFS || r == -ENOMEM) {
			/* input left unread: replies already sent must
			 * not be lost to a reset */
			conn_linger(c);
			return false;
		}
		if (r <= 0)
			goto close;
	}
close:
	conn_close(c);
	return false;
}

static void helper_nap(void)
{
	uint64_t now = clock_us(CLOCK_MONOTONIC);
	uint64_t last = atomic_load(&helper_nap_last_us);
	struct timespec nap = { .tv_sec = (time_t)(helper_nap_ms / 1000),
				.tv_nsec = (long)(helper_nap_ms % 1000) *
					   1000000 };

	if (last && now - last < 4 * helper_nap_ms * 1000)
		return;
	if (!atomic_compare_exchange_strong(&helper_nap_last_us, &last, now))
		return;
	nanosleep(&nap, NULL);
}

/*
 * Serve @c, which the calling thread holds, in the calling thread's read
 * buffer, so that a request of up to 16 KiB comes in one read; what is
 * left unparsed (at most a partial command) goes to its own small buffer
 * until the next wake-up.
 */
static void conn_run(struct sd_conn *c)
{
	c->stash = &self->stash;
	if (!c->events)
		conn_want(c, EPOLLIN); /* its owner took it out */
	if (c->lingering) {
		conn_drain(c);
		return;
	}
	sd_conn_borrow_rbuf(c, self->rbuf);
	sd_conn_take_spares(c);
	if (!conn_serve(c))
		return;
	if (helper_nap_ms && c->worker != self && c->worker->id == 0)
		helper_nap();
	if (sd_conn_return_rbuf(c) < 0) {
		conn_linger(c); /* no memory to keep its unparsed input */
		return;
	}
	sd_conn_give_spares(c);
}

/* Serve @c if nobody else does; the claim is given back unless closed. */
static bool conn_try_run(struct sd_conn *c)
{
	if (!conn_claim(c))
		return false;
	closed_now = false;
	conn_run(c);
	if (!closed_now)
		conn_release(c);
	return true;
}

/*
 * The owner serves @c, from its epoll set (@polled) or its ready list.
 * A helper holds it: have it handed back at its release; a second event
 * before that (the helper stays away, and level-triggered epoll reports
 * @c on every call) takes it out of the epoll set meanwhile.
 */
static void owner_run(struct sd_worker *w, struct sd_conn *c, bool polled)
{
	bool unreg = false;

	if (c->closed)
		return;
	for (;;) {
		if (conn_claim(c)) {
			if (unreg)
				c->events = 0;
			closed_now = false;
			conn_run(c);
			if (!closed_now)
				conn_release(c);
			return;
		}
		if (polled && !unreg &&
		    (atomic_load_explicit(&c->claim, memory_order_relaxed) &
		     KICKED)) {
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
			unreg = true;
		}
		if (conn_kick(c, unreg ? KICKED | UNREG : KICKED)) {
			SD_COUNT(worker_help_skips);
			return;
		}
	}
}

/* A helper serves @c from its owner's ready list, or has it handed back. */
static bool helper_run_ready(struct sd_conn *c)
{
	for (;;) {
		if (conn_try_run(c))
			return true;
		if (conn_kick(c, KICKED))
			return false;
	}
}

static void worker_take_queue(struct sd_worker *w)
{
	int fds[64];
	size_t n, i;
	bool more = true;

	while (more) {
		pthread_mutex_lock(&w->lock);
		n = w->nqueue < 64 ? w->nqueue : 64;
		memcpy(fds, w->queue + w->nqueue - n, n * sizeof(int));
		w->nqueue -= n;
		more = w->nqueue > 0;
		pthread_mutex_unlock(&w->lock);
		for (i = 0; i < n; i++) {
			if (!conn_open(w, fds[i])) {
				close(fds[i]);
				atomic_fetch_sub(&sd_gstats.curr_connections,
						 1);
			}
		}
	}
}

/* A connection waiting for its next command, with nothing half-done. */
static bool conn_idle(const struct sd_conn *c)
{
	return (c->state == SD_CONN_CMD || c->state == SD_CONN_BIN ||
		c->state == SD_CONN_NEW) &&
	       c->rend == c->rstart && !sd_conn_output_pending(c);
}

/*
 * Once a second: close connections whose half-written command is older
 * than --command-timeout, idle ones past -o idle_timeout (memcached's
 * idle_kicks), and lingering ones past their deadline. One that a helper
 * holds is not idle; one a helper closed is closed from the doomed list.
 */
static void worker_scan(struct sd_worker *w, sd_rel_time now)
{
	struct sd_conn *c, *next;

	if (now == w->last_scan)
		return;
	w->last_scan = now;
	for (c = w->conns; c; c = next) {
		next = c->next;
		if (!conn_claim(c))
			continue;
		if (c->lingering) {
			if (now >= c->linger_until)
				conn_close(c);
			else
				conn_release(c);
			continue;
		}
		if (sd_settings.command_timeout && c->partial_since &&
		    now - c->partial_since >=
			    (sd_rel_time)sd_settings.command_timeout) {
			SD_COUNT(conn_closed_command_timeout);
			conn_close(c);
			continue;
		}
		if (sd_settings.idle_timeout && conn_idle(c) &&
		    now - c->last_cmd_time >
			    (sd_rel_time)sd_settings.idle_timeout) {
			if (atomic_load(&sd_settings.verbose) > 1)
				fprintf(stderr, "Closing idle fd %d\n", c->fd);
			SD_COUNT(idle_kicks);
			conn_close(c);
			continue;
		}
		conn_release(c);
	}
}

/*
 * Serve the connections of @w that yielded, each with a new budget, the
 * owner or a helper. Return: how many the caller served.
 */
static int worker_run_ready(struct sd_worker *w)
{
	size_t i, k, n;
	struct sd_conn *batch[64];
	int served = 0;

	if (!ready_count(w))
		return 0;
	pthread_mutex_lock(&w->ready_lock);
	n = w->nready;
	pthread_mutex_unlock(&w->ready_lock);
	while (n) {
		pthread_mutex_lock(&w->ready_lock);
		k = n < 64 ? n : 64;
		if (k > w->nready)
			k = w->nready; /* another took some */
		memcpy(batch, w->ready, k * sizeof(*batch));
		memmove(w->ready, w->ready + k,
			(w->nready - k) * sizeof(*batch));
		__atomic_store_n(&w->nready, w->nready - k, __ATOMIC_RELAXED);
		for (i = 0; i < k; i++)
			if (batch[i])
				batch[i]->in_ready = false;
		pthread_mutex_unlock(&w->ready_lock);
		if (!k)
			break;
		n -= k;
		for (i = 0; i < k; i++) {
			if (!batch[i])
				continue;
			if (w == self)
				owner_run(w, batch[i], false);
			else
				served += helper_run_ready(batch[i]);
		}
	}
	return served;
}

/*
 * If the next worker has served nothing for help_after_us, serve its
 * ready connections once in its place, each under its claim. Its epoll
 * set is level-triggered, so what is served here is simply not ready any
 * more when it looks.
 */
static void worker_help(struct sd_worker *w)
{
	struct sd_worker *v = &workers[(w->id + 1) % nring];
	struct epoll_event evs[64];
	unsigned long rounds;
	uint64_t now, cpu = 0;
	int n, i, served = 0;
	bool timed = false;

	if (v == w || !sd_settings.worker_help)
		return;
	now = clock_us(CLOCK_MONOTONIC);
	rounds = atomic_load_explicit(&v->rounds, memory_order_relaxed);
	if (rounds != w->watch_rounds) {
		w->watch_rounds = rounds;
		w->watch_since_us = now;
		return;
	}
	if (now - w->watch_since_us < w->help_after_us)
		return;
	atomic_fetch_add(&v->helping, 1);
	if (!atomic_load(&v->gone)) {
		n = epoll_wait(v->epfd, evs, 64, 0);
		if (n > 0 || ready_count(v)) {
			cpu = clock_us(CLOCK_THREAD_CPUTIME_ID);
			timed = true;
		}
		for (i = 0; i < n; i++) {
			/* NULL: its eventfd (new connections, stop, a
			 * connection handed back): its own business */
			if (evs[i].data.ptr && conn_try_run(evs[i].data.ptr))
				served++;
		}
		served += worker_run_ready(v);
		if (served) {
			atomic_store_explicit(&v->helped, v->helped + 1,
					      memory_order_relaxed);
			SD_COUNT(worker_helps);
		}
		/*
		 * Connections that yielded (-R) with their input already
		 * read have no event to wake their worker, which may sleep
		 * on a timeout taken before they were queued: wake it.
		 */
		if (ready_count(v))
			worker_wake(v);
	}
	atomic_fetch_sub(&v->helping, 1);
	if (timed) {
		uint64_t wall = clock_us(CLOCK_MONOTONIC) - now;

		cpu = clock_us(CLOCK_THREAD_CPUTIME_ID) - cpu;
		if (wall > 2 * cpu + SD_HELP_PREEMPTED_US) {
			SD_COUNT(worker_help_preempted);
			if (w->help_after_us < SD_HELP_AFTER_MAX_US)
				w->help_after_us *= 2;
		} else if (w->help_after_us > SD_HELP_AFTER_US) {
			w->help_after_us /= 2;
		}
	}
	/* it was idle: look again in help_after_us; while it stays away
	 * with work waiting, help on every round */
	if (!served)
		w->watch_since_us = now;
}

static void *worker_main(void *arg)
{
	struct sd_worker *w = arg;
	struct epoll_event evs[64];
	int timeout = 1000;
	char name[16];

	/* as memcached's "mc-worker": tells the workers apart in top, ps
	 * and perf sched from the main thread and from other daemons */
	snprintf(name, sizeof(name), "sc-worker-%d", w->id);
	pthread_setname_np(pthread_self(), name);
	sd_ts = sd_stats_thread(w->id);
	self = w;
	w->help_after_us = SD_HELP_AFTER_US;
	for (;;) {
		unsigned long helped =
			atomic_load_explicit(&w->helped, memory_order_relaxed);
		int n, i;

		if (w->id == 0 && worker0_nap_ms) {
			struct timespec nap = {
				.tv_sec = (time_t)(worker0_nap_ms / 1000),
				.tv_nsec =
					(long)(worker0_nap_ms % 1000) * 1000000
			};

			nanosleep(&nap, NULL);
		}
		n = epoll_wait(w->epfd, evs, 64, timeout);

		atomic_store_explicit(&w->rounds, w->rounds + 1,
				      memory_order_relaxed);
		/* a helper served them meanwhile: what epoll_wait() gave
		 * may be stale (a read that would say EAGAIN) */
		if (atomic_load_explicit(&w->helped, memory_order_relaxed) !=
		    helped)
			n = epoll_wait(w->epfd, evs, 64, 0);
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				uint64_t v;
				bool stop;

				if (read(w->evfd, &v, sizeof(v)) < 0 &&
				    errno != EAGAIN)
					continue;
				pthread_mutex_lock(&w->lock);
				stop = w->stop;
				pthread_mutex_unlock(&w->lock);
				if (stop)
					goto out;
				worker_take_queue(w);
				continue;
			}
			owner_run(w, evs[i].data.ptr, true);
		}
		worker_close_doomed(w);
		worker_run_ready(w);
		worker_scan(w, sd_now());
		worker_reap(w, false);
		timeout = ready_count(w) ? 0 : 1000;
		worker_help(w);
	}
out:
	/* no helper comes now; wait for those in a pass to leave */
	atomic_store(&w->gone, true);
	while (atomic_load(&w->helping))
		sched_yield();
	worker_close_doomed(w);
	while (w->conns)
		conn_close(w->conns);
	worker_reap(w, true);
	sd_conn_stash_flush(&w->stash);
	return NULL;
}

static void worker_free_rbuf(struct sd_worker *w)
{
	if (!w->rbuf)
		return;
	free(w->rbuf);
	w->rbuf = NULL;
	sd_conn_account(-(long long)SD_READ_MAX);
	atomic_fetch_sub(&sd_gstats.read_buf_count, 1);
	atomic_fetch_sub(&sd_gstats.read_buf_bytes, SD_READ_MAX);
}

/* Undo worker_init() of a worker whose thread never ran, or has ended. */
static void worker_fini(struct sd_worker *w)
{
	for (size_t j = 0; j < w->nqueue; j++) {
		close(w->queue[j]);
		atomic_fetch_sub(&sd_gstats.curr_connections, 1);
	}
	free(w->queue);
	free(w->ready);
	worker_free_rbuf(w);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->evfd >= 0)
		close(w->evfd);
	pthread_mutex_destroy(&w->lock);
	pthread_mutex_destroy(&w->ready_lock);
}

static int worker_init(struct sd_worker *w, int id)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	w->id = id;
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->ready_lock, NULL);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epfd < 0 || w->evfd < 0 ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) < 0)
		return -errno;
	w->rbuf = sd_conn_buf_alloc(SD_READ_MAX);
	if (!w->rbuf)
		return -ENOMEM;
	/* counted with the connections' read buffers */
	sd_conn_account(SD_READ_MAX);
	atomic_fetch_add(&sd_gstats.read_buf_count, 1);
	atomic_fetch_add(&sd_gstats.read_buf_bytes, SD_READ_MAX);
	return 0;
}

/* Stop the running workers, then undo what the others' worker_init() did. */
static void workers_stop(int inited)
{
	int i;

	for (i = 0; i < nworkers; i++) {
		struct sd_worker *w = &workers[i];
		uint64_t one = 1;

		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_mutex_unlock(&w->lock);
		if (write(w->evfd, &one, sizeof(one)) < 0)
			perror("slabcached: eventfd");
	}
	for (i = 0; i < nworkers; i++)
		pthread_join(workers[i].thread, NULL);
	/* no thread runs now: none can be looking at another's epoll set */
	for (i = 0; i < inited; i++)
		worker_fini(&workers[i]);
	free(workers);
	workers = NULL;
	nworkers = 0;
	nring = 0;
}

int sd_workers_start(int nthreads)
{
	int i, ret;

	if (sd_test_hook_count("SLABCACHED_TEST_WORKER_NAP_MS",
			       &worker0_nap_ms))
		fprintf(stderr,
			"slabcached: bad SLABCACHED_TEST_WORKER_NAP_MS\n");
	if (sd_test_hook_count("SLABCACHED_TEST_HELPER_NAP_MS", &helper_nap_ms))
		fprintf(stderr,
			"slabcached: bad SLABCACHED_TEST_HELPER_NAP_MS\n");
	workers = calloc((size_t)nthreads, sizeof(*workers));
	if (!workers)
		return -ENOMEM;
	for (i = 0; i < nthreads; i++)
		workers[i].epfd = workers[i].evfd = -1;
	/* all set up before any runs: each may look at the next one's */
	for (i = 0; i < nthreads; i++) {
		ret = worker_init(&workers[i], i);
		if (ret) {
			workers_stop(i + 1);
			return ret;
		}
	}
	nring = nthreads;
	for (i = 0; i < nthreads; i++) {
		ret = -pthread_create(&workers[i].thread, NULL, worker_main,
				      &workers[i]);
		if (ret) {
			workers_stop(nthreads);
			return ret;
		}
		nworkers++;
	}
	/* each worker's epoll and eventfd */
	atomic_fetch_add(&sd_gstats.reserved_fds, 2 * nthreads);
	return 0;
}

void sd_workers_stop(void)
{
	workers_stop(nring);
}

/**
 * sd_workers_spare_bytes() - The bytes of the workers' spare connection
 * buffers (their stashes), which conn_buffer_bytes counts as well.
 *
 * A connection served in turn by its own worker and by a helper takes
 * buffers from one stash and gives them back to another, so the spares
 * move between workers, and one with none makes new ones: the total of
 * all connection buffers can grow by what the stashes hold (at most
 * SD_STASH_MAX of each kind per worker) with no connection holding more.
 * The difference is what the connections hold. Read from any worker
 * while the others run: each count is read whole, not all at one moment.
 *
 * Return: the total, 0 with no workers (sd_conn_feed()).
 */
unsigned long long sd_workers_spare_bytes(void)
{
	unsigned long long sum = 0;
	int i;

	for (i = 0; i < nring; i++) {
		struct sd_conn_stash *st = &workers[i].stash;

		sum += (unsigned long long)__atomic_load_n(&st->nout,
							   __ATOMIC_RELAXED) *
		       SD_WBUF_INIT;
		sum += (unsigned long long)__atomic_load_n(&st->nsegs,
							   __ATOMIC_RELAXED) *
		       SD_SEGS_INIT * sizeof(struct sd_seg);
		sum += (unsigned long long)__atomic_load_n(&st->npend,
							   __ATOMIC_RELAXED) *
		       sizeof(struct sd_conn_pending);
	}
	return sum;
}

/*
 * sd_conn_dispatch() - Hand an accepted, non-blocking socket to a worker,
 * round robin. Return: 0, or -ENOMEM (the caller closes @fd).
 */
int sd_conn_dispatch(int fd)
{
	struct sd_worker *w = &workers[next_worker++ % (unsigned int)nworkers];
	uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	if (w->nqueue == w->queue_cap) {
		size_t cap = w->queue_cap ? w->queue_cap * 2 : 64;
		int *n = realloc(w->queue, cap * sizeof(int));

		if (!n) {
			pthread_mutex_unlock(&w->lock);
			return -ENOMEM;
		}
		w->queue = n;
		w->queue_cap = cap;
	}
	w->queue[w->nqueue++] = fd;
	pthread_mutex_unlock(&w->lock);
	/* cannot fail short of a counter overflow; queued either way */
	if (write(w->evfd, &one, sizeof(one)) < 0 &&
	    atomic_load(&sd_settings.verbose))
		perror("slabcached: eventfd");
	return 0;
}
