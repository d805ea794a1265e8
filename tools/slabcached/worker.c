// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabcached worker threads: sockets in, sockets out.
 *
 * Each worker thread has its own epoll set, an eventfd by which the main
 * thread hands it new connections (through a small locked queue) or asks it
 * to stop, its own statistics block, and a list of the connections it
 * owns. A connection is touched only by its worker, so it needs no lock.
 * This file moves bytes between a socket and the connection (conn.c), and
 * decides when a connection waits, yields and closes; it parses nothing.
 *
 * The connection being served reads and parses in its worker's 16 KiB
 * read buffer, lent for the wake-up (conn_run()), so that a request of up
 * to 16 KiB takes one read; it keeps only its unparsed rest.
 *
 * A wake-up serves at most -R commands of one connection (memcached's
 * reqs_per_event) before it yields to the others: the connection goes on
 * the worker's ready list and is served again before the worker sleeps.
 *
 * A worker held off the CPU leaves its connections waiting while the
 * other may have time to spare: on a machine with as many cores as
 * workers plus a busy client, that, not the cost of a request, is what
 * sets the tail latency. So each worker watches the next one (a ring):
 * if that one has served nothing for SD_HELP_AFTER_US and is not in the
 * middle of serving, the watcher serves its ready connections once, in
 * its place (worker_help()). A worker's connections, ready list, read
 * buffer and stash are touched only under its run lock, which it holds
 * for each round of serving (from epoll_wait()'s return to the next
 * call) and a helper takes with a try-lock; a helper's round bumps the
 * worker's help count, and the worker, seeing it changed while it slept,
 * drops the events its epoll_wait() returned (they may name connections
 * the helper closed) and asks again. A connection is still served by one
 * thread at a time, so it still needs no lock of its own.
 *
 * A connection the daemon closes (quit, an over-long line, a protocol
 * error) lingers: its replies are sent, its side shut down, and its input
 * read and dropped until the client closes or SD_LINGER_SECS pass, so that
 * no reset throws away replies the kernel has not yet delivered
 * (conn_linger()). Once a second each worker closes the connections whose
 * half-written command has made no progress for --command-timeout, and,
 * with -o idle_timeout, those idle between commands for longer.
 *
 * Lock order: a worker's run lock, then (for new connections) its queue
 * lock, a leaf; a worker never waits for another's run lock (try-lock
 * only). The item paths take their own locks (items.c) under a run lock.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
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

struct sd_worker {
	pthread_t thread;
	int id;
	int epfd;
	int evfd;
	pthread_mutex_t lock; /* protects queue, nqueue, stop */
	int *queue;
	size_t nqueue, queue_cap;
	bool stop;
	/*
	 * Held while its connections are served, by it or by a helper;
	 * protects everything below but the counters.
	 */
	pthread_mutex_t run;
	bool gone; /* stopped: its connections are closed */
	/* rounds it served (read by its watcher without the lock) */
	_Atomic unsigned long rounds;
	/* rounds a helper served for it (see worker_main()) */
	_Atomic unsigned long helped;
	/* what this worker saw of the next one's rounds, and since when */
	unsigned long watch_rounds;
	uint64_t watch_since_us;
	struct sd_conn *conns;
	char *rbuf; /* SD_READ_MAX: lent to the connection being served */
	struct sd_conn_stash stash; /* its connections' spare buffers */
	struct sd_conn **ready; /* yielded with input left: serve again */
	size_t nready, ready_cap;
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
static unsigned int next_worker;

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

static struct sd_conn *conn_open(struct sd_worker *w, int fd)
{
	struct sd_conn *c = sd_conn_new(fd, w);
	struct epoll_event ev = { .events = EPOLLIN };

	if (!c)
		return NULL;
	c->stash = &w->stash;
	c->info = sd_conn_info_new(fd, false);
	ev.data.ptr = c;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		sd_conn_info_free(c->info);
		sd_conn_free(c);
		return NULL;
	}
	c->events = ev.events;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	if (atomic_load(&sd_settings.verbose) > 1)
		fprintf(stderr, "<%d new client connection\n", fd);
	return c;
}

static void conn_close(struct sd_conn *c)
{
	struct sd_worker *w = c->worker;
	size_t i;

	if (atomic_load(&sd_settings.verbose) > 1)
		fprintf(stderr, "<%d connection closed.\n", c->fd);
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	for (i = 0; i < w->nready; i++)
		if (w->ready[i] == c)
			w->ready[i] = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	sd_conn_info_free(c->info);
	sd_conn_free(c);
	atomic_fetch_sub(&sd_gstats.curr_connections, 1);
}

/* Wait for @events; level-triggered, so only a change needs a syscall. */
static void conn_want(struct sd_conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (c->events == events)
		return;
	if (!epoll_ctl(c->worker->epfd, EPOLL_CTL_MOD, c->fd, &ev))
		c->events = events;
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

static void ready_add(struct sd_worker *w, struct sd_conn *c)
{
	if (c->in_ready)
		return;
	if (w->nready == w->ready_cap) {
		size_t cap = w->ready_cap ? w->ready_cap * 2 : 16;
		struct sd_conn **n = realloc(w->ready, cap * sizeof(*n));

		if (!n)
			return; /* served when its socket next wakes it */
		w->ready = n;
		w->ready_cap = cap;
	}
	w->ready[w->nready++] = c;
	c->in_ready = true;
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
		ssize_t r;

		if (sd_conn_output_pending(c)) {
			int f = conn_flush(c);

			if (f < 0)
				goto close;
			if (f == 0) {
				conn_want(c, EPOLLOUT);
				return true;
			}
		}
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
			if (sd_conn_output_pending(c)) {
				int f = conn_flush(c);

				if (f < 0)
					goto close;
				if (f == 0) {
					conn_want(c, EPOLLOUT);
					return true;
				}
			}
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

/*
 * Serve a connection in its worker's read buffer, so that a request of up
 * to 16 KiB comes in one read; what is left unparsed (at most a partial
 * command) goes to its own small buffer until the next wake-up.
 */
static void conn_run(struct sd_conn *c)
{
	if (c->lingering) {
		conn_drain(c);
		return;
	}
	sd_conn_borrow_rbuf(c, c->worker->rbuf);
	sd_conn_take_spares(c);
	if (!conn_serve(c))
		return;
	if (sd_conn_return_rbuf(c) < 0) {
		conn_linger(c); /* no memory to keep its unparsed input */
		return;
	}
	sd_conn_give_spares(c);
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
 * idle_kicks), and lingering ones past their deadline.
 */
static void worker_scan(struct sd_worker *w, sd_rel_time now)
{
	struct sd_conn *c, *next;

	if (now == w->last_scan)
		return;
	w->last_scan = now;
	for (c = w->conns; c; c = next) {
		next = c->next;
		if (c->lingering) {
			if (now >= c->linger_until)
				conn_close(c);
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
		}
	}
}

/* Serve the connections that yielded, each with a new budget. */
static void worker_run_ready(struct sd_worker *w)
{
	size_t i, n = w->nready;
	struct sd_conn *batch[64];

	while (n) {
		size_t k = n < 64 ? n : 64;

		memcpy(batch, w->ready, k * sizeof(*batch));
		memmove(w->ready, w->ready + k,
			(w->nready - k) * sizeof(*batch));
		w->nready -= k;
		n -= k;
		for (i = 0; i < k; i++)
			if (batch[i])
				batch[i]->in_ready = false;
		for (i = 0; i < k; i++)
			if (batch[i])
				conn_run(batch[i]);
	}
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * If the next worker has served nothing for SD_HELP_AFTER_US and is not
 * serving now (woken but waiting for a CPU, most often), serve its ready
 * connections once in its place. Its epoll set is level-triggered, so
 * what is served here is simply not ready any more when it looks.
 */
static void worker_help(struct sd_worker *w)
{
	struct sd_worker *v = &workers[(w->id + 1) % nring];
	struct epoll_event evs[64];
	unsigned long rounds;
	uint64_t now;
	int n, i, served = 0;

	if (v == w)
		return;
	now = mono_us();
	rounds = atomic_load_explicit(&v->rounds, memory_order_relaxed);
	if (rounds != w->watch_rounds) {
		w->watch_rounds = rounds;
		w->watch_since_us = now;
		return;
	}
	if (now - w->watch_since_us < SD_HELP_AFTER_US)
		return;
	if (pthread_mutex_trylock(&v->run))
		return; /* it is serving, or stopped in the middle: not ours */
	if (!v->gone) {
		n = epoll_wait(v->epfd, evs, 64, 0);
		for (i = 0; i < n; i++) {
			if (!evs[i].data.ptr)
				continue; /* its eventfd: new connections, stop */
			conn_run(evs[i].data.ptr);
			served++;
		}
		if (v->nready) {
			worker_run_ready(v);
			served++;
		}
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
		if (v->nready) {
			uint64_t one = 1;

			if (write(v->evfd, &one, sizeof(one)) < 0 &&
			    atomic_load(&sd_settings.verbose))
				perror("slabcached: eventfd");
		}
	}
	pthread_mutex_unlock(&v->run);
	/* it was idle: look again in SD_HELP_AFTER_US; while it stays away
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

		pthread_mutex_lock(&w->run);
		atomic_store_explicit(&w->rounds, w->rounds + 1,
				      memory_order_relaxed);
		/* a helper served them meanwhile: what epoll_wait() gave
		 * may name connections it closed */
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
			conn_run(evs[i].data.ptr);
		}
		worker_run_ready(w);
		worker_scan(w, sd_now());
		timeout = w->nready ? 0 : 1000;
		pthread_mutex_unlock(&w->run);
		worker_help(w);
	}
out:
	while (w->conns)
		conn_close(w->conns);
	sd_conn_stash_flush(&w->stash);
	w->gone = true;
	pthread_mutex_unlock(&w->run);
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
	pthread_mutex_destroy(&w->run);
}

static int worker_init(struct sd_worker *w, int id)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	w->id = id;
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->run, NULL);
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
