// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabcached connections and worker threads.
 *
 * Each worker thread has its own epoll set, an eventfd by which the main
 * thread hands it new connections (through a small locked queue) or asks it
 * to stop, and a list of the connections it owns. A connection is touched
 * only by its worker, so it needs no lock.
 *
 * Buffers are bounded (Documentation/slabcached.rst, "Connection buffers"):
 * the read buffer grows only for a get line, up to SD_GET_STREAM_AT; a get
 * line longer than that is answered key by key as it arrives (proto.c), and
 * any other line past SD_LINE_MAX closes the connection unless its newline
 * has already arrived (SD_PROC_LONG_LINE). Replies
 * are text in one buffer plus segments pointing into pinned items; the
 * parser stops taking commands while the text is above SD_OUT_HIGH, the
 * pinned bytes above SD_PIN_HIGH or the segments above SD_SEGS_HIGH, and
 * reads nothing until they are sent: a client that does not read its
 * replies stalls only itself. Every buffer byte is counted in
 * sd_stats.conn_buffer_bytes.
 *
 * A half-written command (a partial line or value) older than
 * --idle-timeout closes its connection.
 *
 * A connection the daemon closes (quit, an over-long line) lingers: its
 * replies are sent, its side shut down, and its input read and dropped
 * until the client closes or SD_LINGER_SECS pass, so that no reset
 * throws away replies the kernel has not yet delivered (conn_linger()).
 *
 * Lock order: a worker's queue lock is a leaf; the item paths of proto.c
 * take their own locks (items.c) with no connection lock held.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "slabcached.h"

#define SD_READS_PER_WAKE 16
#define SD_IOV_BATCH 64
/*
 * A closing connection whose replies are all handed to the kernel reads
 * and drops its input for at most this long before close(): see
 * conn_linger().
 */
#define SD_LINGER_SECS 2
#define SD_DRAIN_BUF 16384

struct sd_worker {
	pthread_t thread;
	int epfd;
	int evfd;
	pthread_mutex_t lock; /* protects queue, nqueue, stop */
	int *queue;
	size_t nqueue, queue_cap;
	bool stop;
	struct sd_conn *conns;
	int64_t last_scan;
};

static struct sd_worker *workers;
static int nworkers;
static unsigned int next_worker;

static void sd_conn_account(long long delta)
{
	long long now = atomic_fetch_add_explicit(&sd_stats.conn_buffer_bytes,
						  delta, memory_order_relaxed) +
			delta;
	long long peak = atomic_load_explicit(&sd_stats.conn_buffer_peak,
					      memory_order_relaxed);

	while (now > peak && !atomic_compare_exchange_weak(
				     &sd_stats.conn_buffer_peak, &peak, now))
		;
}

/* Resize a connection buffer and keep the global count right. */
static void *conn_realloc(struct sd_conn *c, void *p, size_t old, size_t new)
{
	void *n = realloc(p, new);

	if (!n)
		return NULL;
	sd_conn_account((long long)new - (long long)old);
	c->buf_bytes += new - old;
	return n;
}

/* ------------------------------------------------------------ output */

/* The connection of a reply buffer: struct sd_conn embeds it. */
static struct sd_conn *out_conn(struct sd_outbuf *o)
{
	return (struct sd_conn *)((char *)o - offsetof(struct sd_conn, out));
}

static bool out_reserve(struct sd_outbuf *o, size_t more)
{
	struct sd_conn *c = out_conn(o);
	size_t need, cap;
	char *n;

	if (o->failed)
		return false;
	if (o->len + more <= o->cap)
		return true;
	need = o->len + more;
	cap = o->cap ? o->cap : SD_WBUF_INIT;
	while (cap < need)
		cap *= 2;
	n = conn_realloc(c, o->buf, o->cap, cap);
	if (!n) {
		o->failed = true;
		return false;
	}
	o->buf = n;
	o->cap = cap;
	return true;
}

static bool seg_reserve(struct sd_conn *c, size_t more)
{
	size_t cap;
	struct sd_seg *n;

	if (c->nsegs + more <= c->segs_cap)
		return true;
	cap = c->segs_cap ? c->segs_cap : 16;
	while (cap < c->nsegs + more)
		cap *= 2;
	n = conn_realloc(c, c->segs, c->segs_cap * sizeof(*n),
			 cap * sizeof(*n));
	if (!n)
		return false;
	c->segs = n;
	c->segs_cap = cap;
	return true;
}

/* The last @len bytes of out.buf were appended: cover them by a segment. */
static void out_commit(struct sd_outbuf *o, size_t len)
{
	struct sd_conn *c = out_conn(o);
	struct sd_seg *last = c->nsegs ? &c->segs[c->nsegs - 1] : NULL;
	size_t off = o->len - len;

	if (last && !last->ptr && !last->pin && last->off + last->len == off) {
		last->len += len;
		return;
	}
	if (!seg_reserve(c, 1)) {
		o->failed = true;
		o->len = off;
		return;
	}
	c->segs[c->nsegs++] = (struct sd_seg){ .off = off, .len = len };
}

static void out_vprintf(struct sd_outbuf *o, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || !out_reserve(o, (size_t)n + 1))
		return;
	vsnprintf(o->buf + o->len, (size_t)n + 1, fmt, ap);
	o->len += (size_t)n;
	out_commit(o, (size_t)n);
}

void sd_out_printf(struct sd_outbuf *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	out_vprintf(o, fmt, ap);
	va_end(ap);
}

void sd_out_str(struct sd_outbuf *o, const char *s)
{
	size_t n = strlen(s);

	if (!out_reserve(o, n + 2))
		return;
	memcpy(o->buf + o->len, s, n);
	memcpy(o->buf + o->len + n, "\r\n", 2);
	o->len += n + 2;
	out_commit(o, n + 2);
}

/* Decimal digits of @v at @p; return the end. */
static char *out_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/*
 * The header line of one value in a get reply, formatted by hand: it is
 * written once per hit, where two vsnprintf() passes showed in profiles.
 */
void sd_out_value_line(struct sd_outbuf *o, const char *key, size_t nkey,
		       uint32_t flags, size_t bytes, const uint64_t *cas)
{
	char *start, *p;

	/* "VALUE " key, three numbers with their spaces, "\r\n" */
	if (!out_reserve(o, 6 + nkey + 3 * 21 + 2))
		return;
	start = p = o->buf + o->len;
	memcpy(p, "VALUE ", 6);
	p += 6;
	memcpy(p, key, nkey);
	p += nkey;
	*p++ = ' ';
	p = out_u64(p, flags);
	*p++ = ' ';
	p = out_u64(p, bytes);
	if (cas) {
		*p++ = ' ';
		p = out_u64(p, *cas);
	}
	*p++ = '\r';
	*p++ = '\n';
	o->len += (size_t)(p - start);
	out_commit(o, (size_t)(p - start));
}

void sd_out_stat(struct sd_outbuf *o, const char *name, const char *fmt, ...)
{
	char val[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	sd_out_printf(o, "STAT %s %s\r\n", name, val);
}

/*
 * sd_conn_add_value() - Queue an item's value (with its "\r\n") for
 * sending; @pin is put once the last byte is sent.
 * Return: 0, or -ENOMEM (nothing queued; the caller puts @pin).
 */
int sd_conn_add_value(struct sd_conn *c, const struct sd_item *it,
		      struct sc_entry *pin)
{
	unsigned int i;

	if (c->out.failed || !seg_reserve(c, it->nchunks))
		return -ENOMEM;
	for (i = 0; i < it->nchunks; i++) {
		c->segs[c->nsegs++] = (struct sd_seg){
			.ptr = it->chunks[i],
			.len = sd_item_chunk_len(it, i),
			.pin = i + 1 == it->nchunks ? pin : NULL,
		};
	}
	c->pinned_bytes += it->nbytes;
	return 0;
}

bool sd_conn_out_high(const struct sd_conn *c)
{
	return c->out.len > SD_OUT_HIGH || c->pinned_bytes > SD_PIN_HIGH ||
	       c->nsegs > SD_SEGS_HIGH;
}

static bool out_pending(const struct sd_conn *c)
{
	return c->seg_head < c->nsegs;
}

static void out_reset(struct sd_conn *c)
{
	size_t i;

	for (i = c->seg_head; i < c->nsegs; i++)
		sc_entry_put(c->segs[i].pin);
	c->nsegs = c->seg_head = c->seg_head_off = 0;
	c->pinned_bytes = 0;
	c->out.len = 0;
	c->out.failed = false;
	/* give back what a big reply (stats, a long multiget) grew */
	if (c->out.cap > SD_OUT_HIGH * 2) {
		free(c->out.buf);
		sd_conn_account(-(long long)c->out.cap);
		c->buf_bytes -= c->out.cap;
		c->out.buf = NULL;
		c->out.cap = 0;
	}
	if (c->segs_cap > SD_SEGS_HIGH * 2) {
		free(c->segs);
		sd_conn_account(-(long long)(c->segs_cap * sizeof(*c->segs)));
		c->buf_bytes -= c->segs_cap * sizeof(*c->segs);
		c->segs = NULL;
		c->segs_cap = 0;
	}
}

/* Return: 1 all sent, 0 would block, -1 connection gone. */
static int conn_flush(struct sd_conn *c)
{
	while (out_pending(c)) {
		struct iovec iov[SD_IOV_BATCH];
		struct msghdr msg = { .msg_iov = iov };
		size_t i, n = 0;
		ssize_t w;

		for (i = c->seg_head; i < c->nsegs && n < SD_IOV_BATCH; i++) {
			struct sd_seg *s = &c->segs[i];
			const char *base = s->ptr ? s->ptr :
						    c->out.buf + s->off;
			size_t skip = i == c->seg_head ? c->seg_head_off : 0;

			iov[n].iov_base = (void *)(base + skip);
			iov[n].iov_len = s->len - skip;
			n++;
		}
		msg.msg_iovlen = n;
		w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		sd_stat_add(&sd_stats.bytes_written, (unsigned long long)w);
		while (w > 0) {
			struct sd_seg *s = &c->segs[c->seg_head];
			size_t left = s->len - c->seg_head_off;

			if ((size_t)w < left) {
				c->seg_head_off += (size_t)w;
				break;
			}
			w -= (ssize_t)left;
			if (s->pin) {
				sc_entry_put(s->pin);
				s->pin = NULL;
			}
			c->seg_head++;
			c->seg_head_off = 0;
		}
	}
	out_reset(c);
	return 1;
}

/* ------------------------------------------------------------ input */

/* Return: bytes read, 0 at EOF, -EAGAIN, or another -errno. */
static ssize_t conn_read(struct sd_conn *c)
{
	ssize_t r;

	if (c->state == SD_CONN_VALUE && c->rstart == c->rend) {
		/* read the value straight into the item's chunk */
		struct sd_item *it = c->item;
		size_t ci = c->item_off / sd_chunk_max();
		size_t co = c->item_off % sd_chunk_max();
		size_t want = sd_item_chunk_len(it, (unsigned int)ci) - co;

		do
			r = read(c->fd, it->chunks[ci] + co, want);
		while (r < 0 && errno == EINTR);
		if (r > 0) {
			c->item_off += (size_t)r;
			sd_stat_add(&sd_stats.bytes_read,
				    (unsigned long long)r);
		}
		return r < 0 ? -errno : r;
	}
	if (c->rstart == c->rend) {
		c->rstart = c->rend = 0;
	} else if (c->rstart > 0 && c->state != SD_CONN_GET) {
		memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
		c->rend -= c->rstart;
		c->rstart = 0;
	}
	if (c->rend == c->rsize) {
		size_t cap = c->rsize * 2;
		char *n;

		if (cap > SD_GET_STREAM_AT)
			return -ENOBUFS; /* proto.c streams or closes first */
		n = conn_realloc(c, c->rbuf, c->rsize, cap);
		if (!n)
			return -ENOMEM;
		c->rbuf = n;
		c->rsize = cap;
	}
	do
		r = read(c->fd, c->rbuf + c->rend, c->rsize - c->rend);
	while (r < 0 && errno == EINTR);
	if (r > 0) {
		c->rend += (size_t)r;
		sd_stat_add(&sd_stats.bytes_read, (unsigned long long)r);
	}
	return r < 0 ? -errno : r;
}

/* Give back a read buffer that a long get line grew. */
static void rbuf_trim(struct sd_conn *c)
{
	char *n;

	if (c->rsize <= SD_RBUF_INIT || c->rend - c->rstart > SD_RBUF_INIT ||
	    c->state == SD_CONN_GET)
		return;
	memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
	c->rend -= c->rstart;
	c->rstart = 0;
	n = conn_realloc(c, c->rbuf, c->rsize, SD_RBUF_INIT);
	if (n) {
		c->rbuf = n;
		c->rsize = SD_RBUF_INIT;
	}
}

/* ------------------------------------------------------------ lifetime */

static struct sd_conn *conn_new(struct sd_worker *w, int fd)
{
	struct sd_conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!c)
		return NULL;
	c->fd = fd;
	c->worker = w;
	c->rbuf = malloc(SD_RBUF_INIT);
	if (!c->rbuf)
		goto err_free;
	c->rsize = SD_RBUF_INIT;
	c->buf_bytes = sizeof(*c) + SD_RBUF_INIT;
	sd_conn_account((long long)c->buf_bytes);
	ev.data.ptr = c;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto err_account;
	c->events = ev.events;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	if (sd_settings.verbose > 1)
		fprintf(stderr, "<%d new client connection\n", fd);
	return c;

err_account:
	sd_conn_account(-(long long)c->buf_bytes);
	free(c->rbuf);
err_free:
	free(c);
	return NULL;
}

static void conn_close(struct sd_conn *c)
{
	struct sd_worker *w = c->worker;

	if (sd_settings.verbose > 1)
		fprintf(stderr, "<%d connection closed.\n", c->fd);
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	out_reset(c);
	sd_item_free(c->item);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	sd_conn_account(-(long long)c->buf_bytes);
	free(c->out.buf);
	free(c->segs);
	free(c->rbuf);
	free(c);
	atomic_fetch_sub(&sd_stats.curr_connections, 1);
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
 * Return: true once the connection is closed (EOF, an error, or more than
 * a wake-up's worth of reads after the deadline).
 */
static bool conn_drain(struct sd_conn *c)
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
			return false;
		break; /* EOF or a reset: the client is gone */
	}
	if (i == SD_READS_PER_WAKE * 4 && sd_now() < c->linger_until)
		return false; /* a fast sender: again on the next wake-up */
	conn_close(c);
	return true;
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
	c->partial_since = 0;
	/* the buffers are no longer needed */
	out_reset(c);
	sd_item_free(c->item);
	c->item = NULL;
	conn_want(c, EPOLLIN);
	conn_drain(c);
}

/*
 * Run a connection until it must wait: send what is pending, parse what is
 * buffered, read more. Bounded per wake-up so that one busy client cannot
 * starve the others of its worker.
 */
static void conn_run(struct sd_conn *c)
{
	int reads = 0;

	if (c->lingering) {
		conn_drain(c);
		return;
	}
	for (;;) {
		enum sd_proc st;
		ssize_t r;

		if (out_pending(c)) {
			int f = conn_flush(c);

			if (f < 0)
				goto close;
			if (f == 0) {
				conn_want(c, EPOLLOUT);
				return;
			}
		}
		if (c->close_after_write) {
			conn_linger(c);
			return;
		}
		st = sd_proto_process(c);
		if (st == SD_PROC_CLOSE) {
			/* send the replies to the commands before the quit
			 * (or the over-long line), then close */
			c->close_after_write = true;
			continue;
		}
		if (st == SD_PROC_NEED_FLUSH)
			continue;
		if (st == SD_PROC_LONG_LINE) {
			r = conn_read(c);
			if (r > 0)
				continue;
			if (r == 0 || (r != -EAGAIN && r != -EWOULDBLOCK &&
				       r != -ENOBUFS))
				goto close;
			sd_stat_add(&sd_stats.conn_closed_line_too_long, 1);
			c->close_after_write = true;
			continue;
		}
		if (out_pending(c))
			continue;
		if (++reads > SD_READS_PER_WAKE) {
			conn_want(c, EPOLLIN);
			return;
		}
		rbuf_trim(c);
		r = conn_read(c);
		if (r == -EAGAIN || r == -EWOULDBLOCK) {
			conn_want(c, EPOLLIN);
			return;
		}
		if (r == -ENOBUFS || r == -ENOMEM) {
			/* input left unread: replies already sent must
			 * not be lost to a reset */
			conn_linger(c);
			return;
		}
		if (r <= 0)
			goto close;
	}
close:
	conn_close(c);
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
			if (!conn_new(w, fds[i])) {
				close(fds[i]);
				atomic_fetch_sub(&sd_stats.curr_connections, 1);
			}
		}
	}
}

/*
 * Close connections whose half-written command is older than the timeout,
 * and lingering ones past their deadline.
 */
static void worker_scan_idle(struct sd_worker *w, int64_t now)
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
		if (sd_settings.idle_timeout && c->partial_since &&
		    now - c->partial_since >= sd_settings.idle_timeout) {
			sd_stat_add(&sd_stats.conn_closed_idle, 1);
			conn_close(c);
		}
	}
}

static void *worker_main(void *arg)
{
	struct sd_worker *w = arg;
	struct epoll_event evs[64];

	for (;;) {
		int n = epoll_wait(w->epfd, evs, 64, 1000);
		int i;

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
		worker_scan_idle(w, sd_now());
	}
out:
	while (w->conns)
		conn_close(w->conns);
	return NULL;
}

int sd_workers_start(int nthreads)
{
	int i, ret;

	workers = calloc((size_t)nthreads, sizeof(*workers));
	if (!workers)
		return -ENOMEM;
	for (i = 0; i < nthreads; i++) {
		struct sd_worker *w = &workers[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		pthread_mutex_init(&w->lock, NULL);
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->epfd < 0 || w->evfd < 0 ||
		    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) < 0) {
			ret = -errno;
			goto err_stop;
		}
		ret = -pthread_create(&w->thread, NULL, worker_main, w);
		if (ret)
			goto err_stop;
		nworkers++;
	}
	return 0;

err_stop:
	if (workers[i].epfd >= 0)
		close(workers[i].epfd);
	if (workers[i].evfd >= 0)
		close(workers[i].evfd);
	sd_workers_stop();
	return ret;
}

void sd_workers_stop(void)
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
	for (i = 0; i < nworkers; i++) {
		struct sd_worker *w = &workers[i];

		pthread_join(w->thread, NULL);
		for (size_t j = 0; j < w->nqueue; j++) {
			close(w->queue[j]);
			atomic_fetch_sub(&sd_stats.curr_connections, 1);
		}
		free(w->queue);
		close(w->epfd);
		close(w->evfd);
		pthread_mutex_destroy(&w->lock);
	}
	free(workers);
	workers = NULL;
	nworkers = 0;
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
	if (write(w->evfd, &one, sizeof(one)) < 0 && sd_settings.verbose)
		perror("slabcached: eventfd");
	return 0;
}
