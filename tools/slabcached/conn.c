// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabcached connections, without their sockets.
 *
 * A connection here is buffers and a state machine: bytes go in
 * (sd_conn_input_space(), sd_conn_input_done()), sd_conn_process() parses
 * and executes what is buffered, and replies come out as iovecs
 * (sd_conn_output(), sd_conn_output_done()). worker.c moves the bytes
 * between these and a socket; sd_conn_feed() moves them between a byte
 * string and a callback, so that tests and fuzzers drive exactly the code
 * that serves clients, without a socket or a thread.
 *
 * Buffers are bounded (Documentation/slabcached.rst, "Connection buffers"):
 * while its worker serves it, a connection reads and parses in the
 * worker's 16 KiB read buffer (sd_conn_borrow_rbuf()), so that a command
 * and a value of up to 16 KiB come in one read; when it must wait, what is
 * left unparsed moves to its own buffer (sd_conn_return_rbuf()), which
 * starts at 2 KiB and grows only for such a rest (a partial command,
 * pipelined commands left when it yields), up to 16 KiB. A get line
 * longer than that is answered key by key as it arrives (proto_text.c),
 * and any other line past SD_LINE_MAX closes the connection unless its
 * newline has already arrived (SD_PROC_LONG_LINE). The part of a value
 * beyond what came with its command is read straight into the item.
 * Replies are text in one buffer plus segments pointing into pinned
 * items; the parser stops taking commands while the text is above
 * SD_OUT_HIGH, the pinned bytes above SD_PIN_HIGH or the segments above
 * SD_SEGS_HIGH, and nothing is read meanwhile: a client that does not
 * read its replies stalls only itself.
 * Every buffer byte is counted in sd_gstats.conn_buffer_bytes.
 *
 * Lock order: none taken here; the item paths take their own (items.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slabcached.h"

enum buf_kind { BUF_READ, BUF_OUT };

/*
 * Test hook: SLABCACHED_FAULT_CONN_BUF=<n> makes the nth allocation of a
 * connection buffer from start-up fail, once (the library's own
 * allocations have SLABCACHED_FAULT_INJECT). Counted only while armed.
 */
static atomic_ulong conn_buf_fault_at;
static atomic_ulong conn_buf_attempts;

static bool conn_buf_should_fail(void)
{
	unsigned long at =
		atomic_load_explicit(&conn_buf_fault_at, memory_order_relaxed);

	if (!at)
		return false;
	if (atomic_fetch_add(&conn_buf_attempts, 1) + 1 != at)
		return false;
	return atomic_compare_exchange_strong(&conn_buf_fault_at, &at, 0);
}

/* Arm the hook from the environment. Return: 0, or -EINVAL (bad value). */
int sd_conn_buf_fault_from_env(void)
{
	unsigned long n;
	int err = sd_test_hook_count("SLABCACHED_FAULT_CONN_BUF", &n);

	atomic_store(&conn_buf_attempts, 0);
	atomic_store(&conn_buf_fault_at, n);
	return err;
}

/* malloc() for connection buffers, through the test hook. */
void *sd_conn_buf_alloc(size_t size)
{
	if (conn_buf_should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return malloc(size);
}

/* Resize a connection buffer and keep the counts right. */
static void *conn_realloc(struct sd_conn *c, void *p, size_t old, size_t new,
			  enum buf_kind kind)
{
	void *n = conn_buf_should_fail() ? NULL : realloc(p, new);

	if (!n) {
		if (kind == BUF_READ)
			SD_COUNT(read_buf_oom);
		else
			SD_COUNT(response_obj_oom);
		return NULL;
	}
	sd_conn_account((long long)new - (long long)old);
	atomic_fetch_add(kind == BUF_READ ? &sd_gstats.read_buf_bytes :
					    &sd_gstats.out_buf_bytes,
			 (long long)new - (long long)old);
	c->buf_bytes += new - old;
	return n;
}

static void conn_buf_free(struct sd_conn *c, void *p, size_t size,
			  enum buf_kind kind)
{
	free(p);
	sd_conn_account(-(long long)size);
	atomic_fetch_sub(kind == BUF_READ ? &sd_gstats.read_buf_bytes :
					    &sd_gstats.out_buf_bytes,
			 (long long)size);
	c->buf_bytes -= size;
}

/* ------------------------------------------------------------ output */

/*
 * The stash (struct sd_conn_stash, slabcached.h): reply buffers of the
 * first size and pending value blocks of the connections that have sent
 * every reply, kept by their worker for the next connection it serves
 * (sd_conn_take_spares(), sd_conn_give_spares()). A connection waiting
 * for its next command holds none, as in memcached (whose threads cache
 * them the same way), and taking one back costs no malloc(). A buffer in
 * the stash stays counted in conn_buffer_bytes (and out_buf_*), as the
 * worker's, so moving one touches no shared counter either; at most
 * SD_STASH_MAX of each per worker, the rest are freed.
 * sd_conn_stash_flush() frees them. A connection without a worker
 * (sd_conn_feed()) has no stash.
 */

/* One of the @n buffers of @list, @size bytes, for @c; NULL: none. */
static inline void *stash_take(struct sd_conn *c, void **list, unsigned int *n,
			       size_t size)
{
	if (!*n)
		return NULL;
	c->buf_bytes += size;
	sd_stash_count_set(n, *n - 1);
	return list[*n];
}

/* Keep @p from @c in @list; false: the list is full (free it instead). */
static inline bool stash_give(struct sd_conn *c, void **list, unsigned int *n,
			      void *p, size_t size)
{
	if (*n == SD_STASH_MAX)
		return false;
	list[*n] = p;
	sd_stash_count_set(n, *n + 1);
	c->buf_bytes -= size;
	return true;
}

static void stash_free(void *p, size_t size)
{
	free(p);
	sd_conn_account(-(long long)size);
	atomic_fetch_sub(&sd_gstats.out_buf_bytes, (long long)size);
}

/* Free every buffer of @st (its worker exits). */
void sd_conn_stash_flush(struct sd_conn_stash *st)
{
	while (st->nout) {
		sd_stash_count_set(&st->nout, st->nout - 1);
		stash_free(st->out[st->nout], SD_WBUF_INIT);
		atomic_fetch_sub(&sd_gstats.out_buf_count, 1);
	}
	while (st->nsegs) {
		sd_stash_count_set(&st->nsegs, st->nsegs - 1);
		stash_free(st->segs[st->nsegs],
			   SD_SEGS_INIT * sizeof(struct sd_seg));
	}
	while (st->npend) {
		sd_stash_count_set(&st->npend, st->npend - 1);
		stash_free(st->pend[st->npend], sizeof(struct sd_conn_pending));
	}
}

/*
 * sd_conn_pending() - What the connection keeps while it reads a value,
 * made if it has none. Return: it, or NULL: no memory, and the connection
 * closes once the replies before are sent, as when any of its buffers
 * cannot be had (the value that follows is never parsed as commands).
 */
struct sd_conn_pending *sd_conn_pending(struct sd_conn *c)
{
	size_t size = sizeof(*c->pend);

	if (c->pend)
		return c->pend;
	if (c->stash) {
		c->pend = stash_take(c, c->stash->pend, &c->stash->npend, size);
		if (c->pend)
			return c->pend;
	}
	c->pend = sd_conn_buf_alloc(size);
	if (!c->pend) {
		SD_COUNT(read_buf_oom);
		c->out.failed = true;
		return NULL;
	}
	sd_conn_account((long long)size);
	atomic_fetch_add(&sd_gstats.out_buf_bytes, (long long)size);
	c->buf_bytes += size;
	return c->pend;
}

/* Give back what sd_conn_pending() made: to @st, or free it (NULL). */
static void pending_free(struct sd_conn *c, struct sd_conn_stash *st)
{
	size_t size = sizeof(*c->pend);

	if (!c->pend)
		return;
	if (!st || !stash_give(c, st->pend, &st->npend, c->pend, size))
		conn_buf_free(c, c->pend, size, BUF_OUT);
	c->pend = NULL;
}

/*
 * sd_conn_give_spares_slow() - sd_conn_give_spares() for what does not go
 * to the stash: the pending value block (given back unless a value is
 * being read), and reply buffers that grew or find the stash full, freed.
 * Called only when the replies are all sent, or for the block alone.
 */
void sd_conn_give_spares_slow(struct sd_conn *c)
{
	if (c->state != SD_CONN_VALUE)
		pending_free(c, c->stash);
	if (sd_conn_output_pending(c))
		return;
	if (c->out.buf) {
		conn_buf_free(c, c->out.buf, c->out.cap, BUF_OUT);
		atomic_fetch_sub(&sd_gstats.out_buf_count, 1);
		c->out.buf = NULL;
		c->out.cap = 0;
		c->out.len = 0;
	}
	if (c->segs) {
		conn_buf_free(c, c->segs, c->segs_cap * sizeof(*c->segs),
			      BUF_OUT);
		c->segs = NULL;
		c->segs_cap = 0;
		c->nsegs = c->seg_head = c->seg_head_off = 0;
	}
}

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
	n = conn_realloc(c, o->buf, o->cap, cap, BUF_OUT);
	if (!n) {
		o->failed = true;
		return false;
	}
	if (!o->buf)
		atomic_fetch_add(&sd_gstats.out_buf_count, 1);
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
	cap = c->segs_cap ? c->segs_cap : SD_SEGS_INIT;
	while (cap < c->nsegs + more)
		cap *= 2;
	n = conn_realloc(c, c->segs, c->segs_cap * sizeof(*n), cap * sizeof(*n),
			 BUF_OUT);
	if (!n) {
		/*
		 * The reply is cut: fail the output, as a reply buffer that
		 * cannot grow does, so that the connection closes after what
		 * is queued rather than wait for a command with half a reply
		 * sent (a get would leave a VALUE line with no data, no END).
		 */
		c->out.failed = true;
		return false;
	}
	c->segs = n;
	c->segs_cap = cap;
	return true;
}

/* The last @len bytes of out.buf were appended: cover them by a segment. */
void sd_out_commit(struct sd_outbuf *o, size_t len)
{
	struct sd_conn *c = out_conn(o);
	struct sd_seg *last = c->nsegs ? &c->segs[c->nsegs - 1] : NULL;
	size_t off;

	o->len += len;
	off = o->len - len;
	if (last && !last->ptr && !last->pin && last->off + last->len == off) {
		last->len += len;
		return;
	}
	if (!seg_reserve(c, 1)) {
		o->len = off; /* seg_reserve() failed the output */
		return;
	}
	c->segs[c->nsegs++] = (struct sd_seg){ .off = off, .len = len };
}

/* sd_out_reserve() when the reply buffer must grow first. */
char *sd_out_reserve_slow(struct sd_outbuf *o, size_t len)
{
	if (!out_reserve(o, len))
		return NULL;
	return o->buf + o->len;
}

void sd_out_bytes(struct sd_outbuf *o, const void *p, size_t len)
{
	char *d = sd_out_reserve(o, len);

	if (!d)
		return;
	memcpy(d, p, len);
	sd_out_commit(o, len);
}

void sd_out_printf(struct sd_outbuf *o, const char *fmt, ...)
{
	va_list ap, aq;
	int n;

	va_start(ap, fmt);
	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n >= 0 && out_reserve(o, (size_t)n + 1)) {
		vsnprintf(o->buf + o->len, (size_t)n + 1, fmt, ap);
		sd_out_commit(o, (size_t)n);
	}
	va_end(ap);
}

/* A text reply line: the @n bytes at @s and "\r\n". */
void sd_out_line(struct sd_outbuf *o, const char *s, size_t n)
{
	char *d = sd_out_reserve(o, n + 2);

	if (!d)
		return;
	memcpy(d, s, n);
	memcpy(d + n, "\r\n", 2);
	sd_out_commit(o, n + 2);
}

/*
 * Decimal digits of @v at @p, NUL-terminated; return the end (the NUL).
 * Written on every hit (a value's flags and length): the digits are
 * counted first and then written two at a time from the end, without the
 * digit-per-division loop and the reversal.
 */
char *sd_u64_to_str(char *p, uint64_t v)
{
	static const char pairs[201] =
		"00010203040506070809101112131415161718192021222324"
		"25262728293031323334353637383940414243444546474849"
		"50515253545556575859606162636465666768697071727374"
		"75767778798081828384858687888990919293949596979899";
	unsigned int n = 1;
	uint64_t t = 10;
	char *end;

	/* digits of v: t = 10^n while it does not overflow (n < 20) */
	while (n < 20 && v >= t) {
		n++;
		t *= 10;
	}
	end = p + n;
	*end = '\0';
	while (v >= 100) {
		unsigned int i = (unsigned int)(v % 100) * 2;

		v /= 100;
		*--end = pairs[i + 1];
		*--end = pairs[i];
	}
	if (v >= 10) {
		*--end = pairs[v * 2 + 1];
		*--end = pairs[v * 2];
	} else {
		*--end = (char)('0' + v);
	}
	return p + n;
}

/*
 * One statistic: "STAT name value" in the text protocol, a response packet
 * with the name as key and the value as body in the binary one.
 */
void sd_out_stat(struct sd_outbuf *o, const char *name, const char *fmt, ...)
{
	struct sd_conn *c = out_conn(o);
	char val[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(val))
		n = sizeof(val) - 1;
	if (c->binary) {
		size_t klen = strlen(name);
		unsigned char h[24] = { 0x81, c->bin.opcode };
		uint32_t body = (uint32_t)(klen + (size_t)n);

		h[2] = (unsigned char)(klen >> 8);
		h[3] = (unsigned char)klen;
		h[8] = (unsigned char)(body >> 24);
		h[9] = (unsigned char)(body >> 16);
		h[10] = (unsigned char)(body >> 8);
		h[11] = (unsigned char)body;
		memcpy(h + 12, &c->bin.opaque, 4);
		sd_out_bytes(o, h, sizeof(h));
		sd_out_bytes(o, name, klen);
		sd_out_bytes(o, val, (size_t)n);
		return;
	}
	sd_out_printf(o, "STAT %s %s\r\n", name, val);
}

/*
 * sd_conn_add_value() - Queue an item's value for sending, followed by
 * "\r\n" if @crlf (the text protocols); @pin is put once the value's last
 * byte is sent. The "\r\n" is reply text: it joins the line that follows
 * in one segment, so the text protocols send as many segments as when
 * items stored it.
 * Return: 0, or -ENOMEM (nothing queued; the caller puts @pin; the output
 * is failed, and the connection closes after what is queued).
 */
int sd_conn_add_value(struct sd_conn *c, const struct sd_item *it,
		      struct sc_entry *pin, bool crlf)
{
	size_t vlen = sd_item_vlen(it), off = 0;

	if (c->out.failed || !seg_reserve(c, sd_item_nchunks(it) + 1))
		return -ENOMEM;
	while (off < vlen) {
		char *p;
		size_t len = sd_item_value_room(it, off, &p);

		c->segs[c->nsegs++] = (struct sd_seg){ .ptr = p, .len = len };
		off += len;
	}
	if (vlen) {
		c->segs[c->nsegs - 1].pin = pin;
	} else {
		/* nothing of the value goes out: put the pin after the rest */
		c->segs[c->nsegs++] = (struct sd_seg){ .ptr = "", .pin = pin };
	}
	c->pinned_bytes += vlen;
	/* a failure here fails the output, as any reply text's does */
	if (crlf)
		sd_out_bytes(&c->out, "\r\n", 2);
	return 0;
}

/* Drop what is queued (sent or not), put the pins, shrink big buffers. */
void sd_conn_release_output(struct sd_conn *c)
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
		conn_buf_free(c, c->out.buf, c->out.cap, BUF_OUT);
		atomic_fetch_sub(&sd_gstats.out_buf_count, 1);
		c->out.buf = NULL;
		c->out.cap = 0;
	}
	if (c->segs_cap > SD_SEGS_HIGH * 2) {
		conn_buf_free(c, c->segs, c->segs_cap * sizeof(*c->segs),
			      BUF_OUT);
		c->segs = NULL;
		c->segs_cap = 0;
	}
}

/* Up to @max iovecs of what is queued, in order. Return: how many. */
size_t sd_conn_output(struct sd_conn *c, struct iovec *iov, size_t max)
{
	size_t i, n = 0;

	for (i = c->seg_head; i < c->nsegs && n < max; i++) {
		struct sd_seg *s = &c->segs[i];
		const char *base = s->ptr ? s->ptr : c->out.buf + s->off;
		size_t skip = i == c->seg_head ? c->seg_head_off : 0;

		iov[n].iov_base = (void *)(base + skip);
		iov[n].iov_len = s->len - skip;
		n++;
	}
	return n;
}

/* @n bytes of what sd_conn_output() gave went out. */
void sd_conn_output_done(struct sd_conn *c, size_t n)
{
	SD_COUNT_N(bytes_written, n);
	while (c->seg_head < c->nsegs) {
		struct sd_seg *s = &c->segs[c->seg_head];
		size_t left = s->len - c->seg_head_off;

		if (n < left) {
			c->seg_head_off += n;
			return;
		}
		n -= left;
		if (s->pin) {
			sc_entry_put(s->pin);
			s->pin = NULL;
		}
		c->seg_head++;
		c->seg_head_off = 0;
	}
	sd_conn_release_output(c);
}

/* ------------------------------------------------------------ input */

static bool reading_value_direct(const struct sd_conn *c)
{
	return c->state == SD_CONN_VALUE && c->rstart == c->rend &&
	       c->item_off < c->item_want;
}

/*
 * Where the value being read goes next, and how many bytes of it: into
 * the item, then the text protocols' "\r\n" into item_crlf.
 */
static size_t value_room(struct sd_conn *c, char **buf)
{
	size_t want = c->item_want - c->item_off;
	size_t room = sd_item_value_room(c->item, c->item_off, buf);

	if (!room) {
		size_t vlen = sd_item_vlen(c->item);

		*buf = c->item_crlf + (c->item_off - vlen);
		return want;
	}
	return room < want ? room : want;
}

/*
 * sd_conn_input_space() - Where the next input bytes go: straight into the
 * item being read, or the end of the read buffer (grown for a long get
 * line or binary request, up to 16 KiB).
 * Return: room in bytes, -ENOBUFS (the buffer is at its bound: the
 * protocol has already decided to stream or close), or -ENOMEM.
 */
ssize_t sd_conn_input_space(struct sd_conn *c, char **buf)
{
	if (reading_value_direct(c))
		return (ssize_t)value_room(c, buf);
	if (c->rstart == c->rend) {
		c->rstart = c->rend = 0;
	} else if (c->rstart > 0 && c->state != SD_CONN_GET) {
		memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
		c->rend -= c->rstart;
		c->rstart = 0;
	}
	if (c->rend == c->rsize) {
		size_t cap = c->rsize ? c->rsize * 2 : SD_RBUF_INIT;
		char *n;

		/* a borrowed buffer is SD_READ_MAX already */
		if (cap > SD_READ_MAX || c->state == SD_CONN_GET ||
		    c->rbuf_borrowed)
			return -ENOBUFS;
		n = conn_realloc(c, c->rbuf, c->rsize, cap, BUF_READ);
		if (!n)
			return -ENOMEM;
		if (!c->rbuf)
			atomic_fetch_add(&sd_gstats.read_buf_count, 1);
		c->rbuf = c->own_rbuf = n;
		c->rsize = c->own_rsize = cap;
	}
	*buf = c->rbuf + c->rend;
	return (ssize_t)(c->rsize - c->rend);
}

/*
 * sd_conn_input_iov() - sd_conn_input_space() for a vectored read: while a
 * value is read straight into its item, its "\r\n" (text protocols) and
 * the read buffer follow it, so that one read takes the end of the value
 * and the commands after it, and a read that comes back short shows that
 * the socket is empty.
 * Return: the number of iovecs filled (1 to 3), or what
 * sd_conn_input_space() returns on failure.
 */
ssize_t sd_conn_input_iov(struct sd_conn *c, struct iovec iov[3])
{
	char *buf;
	ssize_t room = sd_conn_input_space(c, &buf);
	size_t end;
	int n = 1;

	if (room < 0)
		return room;
	iov[0].iov_base = buf;
	iov[0].iov_len = (size_t)room;
	if (!reading_value_direct(c))
		return 1;
	end = c->item_off + (size_t)room;
	if (end < c->item_want) {
		size_t vlen = sd_item_vlen(c->item);

		if (end != vlen)
			return 1; /* another chunk of the value is next */
		iov[1].iov_base = c->item_crlf;
		iov[1].iov_len = c->item_want - vlen;
		n = 2;
	}
	/* the value ends in this read: the read buffer (empty) is next */
	c->rstart = c->rend = 0;
	iov[n].iov_base = c->rbuf;
	iov[n].iov_len = c->rsize;
	return n + 1;
}

/* @n bytes were put where sd_conn_input_space() or _iov() said. */
void sd_conn_input_done(struct sd_conn *c, size_t n)
{
	SD_COUNT_N(bytes_read, n);
	while (n && reading_value_direct(c)) {
		char *buf;
		size_t room = value_room(c, &buf);
		size_t take = n < room ? n : room;

		c->item_off += take;
		n -= take;
	}
	c->rend += n;
}

/*
 * The unparsed input starts here: at the next command, or for a get line
 * paused on a full output (SD_CONN_GET), at its next key.
 */
static size_t rbuf_keep_from(const struct sd_conn *c)
{
	return c->state == SD_CONN_GET ? c->get_next : c->rstart;
}

/* Free the connection's own read buffer (not the one in use if borrowed). */
static void own_rbuf_free(struct sd_conn *c)
{
	if (!c->own_rbuf)
		return;
	conn_buf_free(c, c->own_rbuf, c->own_rsize, BUF_READ);
	atomic_fetch_sub(&sd_gstats.read_buf_count, 1);
	c->own_rbuf = NULL;
	c->own_rsize = 0;
}

/* Move the unparsed input to the start of @to, @size bytes long. */
static void rbuf_move(struct sd_conn *c, char *to, size_t size)
{
	size_t base = rbuf_keep_from(c), n = c->rend - base;

	if (n)
		memcpy(to, c->rbuf + base, n);
	c->rbuf = to;
	c->rsize = size;
	c->rstart -= base;
	c->rend = n;
	if (c->state == SD_CONN_GET) {
		c->get_next -= base;
		c->get_end -= base;
		c->get_line_end -= base;
	}
}

/**
 * sd_conn_borrow_rbuf_move() - sd_conn_borrow_rbuf() with input to move:
 * read and parse in @buf, SD_READ_MAX bytes, until
 * sd_conn_return_rbuf(): the input left from before moves there.
 * @c: A connection with its own buffer in use.
 * @buf: Its worker's read buffer, used by one connection at a time.
 *
 * As memcached's per-thread read buffers: a 10 KB value and its command
 * come in one read, yet an idle connection holds only a small buffer.
 */
void sd_conn_borrow_rbuf_move(struct sd_conn *c, char *buf)
{
	rbuf_move(c, buf, SD_READ_MAX);
	c->rbuf_borrowed = true;
}

/**
 * sd_conn_return_rbuf_move() - sd_conn_return_rbuf() with input to keep
 * or an own buffer to resize: give the borrowed read buffer back; the input
 * not yet parsed (usually none; a partial command, or commands left by a
 * yield) moves to the connection's own buffer, grown to hold it if needed
 * and shrunk back to SD_RBUF_INIT once a small one does. With nothing to
 * keep, the own buffer is freed: a connection waiting for its next command
 * holds no read buffer, as in memcached.
 * @c: The connection.
 *
 * Return: 0, or -ENOMEM: the own buffer could not grow; the input is
 * dropped (the connection must close).
 */
int sd_conn_return_rbuf_move(struct sd_conn *c)
{
	size_t n, cap;
	char *own;

	n = c->rend - rbuf_keep_from(c);
	if (!n && c->state != SD_CONN_GET) {
		own_rbuf_free(c);
		sd_conn_drop_rbuf(c);
		return 0;
	}
	if (!c->rbuf_borrowed) {
		/* its own full-size buffer in use: shrink it once it may */
		if (n > SD_RBUF_INIT || c->state == SD_CONN_GET ||
		    c->own_rsize == SD_RBUF_INIT)
			return 0;
		memmove(c->rbuf, c->rbuf + c->rstart, n);
		c->rstart = 0;
		c->rend = n;
		own = conn_realloc(c, c->own_rbuf, c->own_rsize, SD_RBUF_INIT,
				   BUF_READ);
		if (own) {
			c->rbuf = c->own_rbuf = own;
			c->rsize = c->own_rsize = SD_RBUF_INIT;
		}
		return 0;
	}
	cap = c->own_rsize ? c->own_rsize : SD_RBUF_INIT;
	if (n > cap) {
		while (cap < n)
			cap *= 2;
	} else if (cap > SD_RBUF_INIT && n <= SD_RBUF_INIT) {
		cap = SD_RBUF_INIT;
	}
	if (cap != c->own_rsize) {
		own = conn_realloc(c, c->own_rbuf, c->own_rsize, cap, BUF_READ);
		if (own) {
			if (!c->own_rbuf)
				atomic_fetch_add(&sd_gstats.read_buf_count, 1);
			c->own_rbuf = own;
			c->own_rsize = cap;
		} else if (n > c->own_rsize) {
			sd_conn_drop_rbuf(c);
			return -ENOMEM;
		}
	}
	rbuf_move(c, c->own_rbuf, c->own_rsize);
	c->rbuf_borrowed = false;
	return 0;
}

/* ------------------------------------------------------------ values */

static void store_done(struct sd_conn *c, enum sd_store_result r, uint64_t cas)
{
	switch (c->value_kind) {
	case SD_VALUE_TEXT:
		sd_text_store_done(c, r, cas);
		break;
	case SD_VALUE_META:
		sd_meta_store_done(c, r, cas);
		break;
	case SD_VALUE_BIN:
		sd_bin_store_done(c, r, cas);
		break;
	}
}

/*
 * Read @want bytes of value into @it next (text: the value and its
 * "\r\n"; binary: the value alone). Without memory to keep its key, @it
 * is freed and the connection closes (sd_conn_pending()).
 */
void sd_conn_start_value(struct sd_conn *c, struct sd_item *it, const char *key,
			 size_t nkey, size_t want, enum sd_value_kind kind)
{
	struct sd_conn_pending *pend = sd_conn_pending(c);

	if (!pend) {
		sd_item_free(it);
		return;
	}
	c->value_kind = kind;
	c->item = it;
	memcpy(pend->item_key, key, nkey);
	pend->item_nkey = (uint8_t)nkey;
	c->item_off = 0;
	c->item_want = want;
	c->value_kind = kind;
	c->state = SD_CONN_VALUE;
	sd_conn_show(c, SD_SHOW_NREAD);
}

/* Drop the next @n bytes of input (a refused value). */
void sd_conn_start_swallow(struct sd_conn *c, size_t n)
{
	c->swallow = n;
	c->state = SD_CONN_SWALLOW;
	sd_conn_show(c, SD_SHOW_SWALLOW);
}

/* The value is in: check it, store it, answer in the request's protocol. */
void sd_conn_store_value(struct sd_conn *c)
{
	struct sd_item *it = c->item;
	enum sd_store_result r;
	uint64_t cas = 0;

	c->item = NULL;
	c->state = c->binary ? SD_CONN_BIN : SD_CONN_CMD;
	SD_COUNT_SLAB(sd_item_class(it), set_cmds);
	/* the binary protocol sends no "\r\n" */
	if (c->value_kind != SD_VALUE_BIN &&
	    (c->item_crlf[0] != '\r' || c->item_crlf[1] != '\n')) {
		/* ms answers every error, whatever its q flag */
		if (c->value_kind == SD_VALUE_META)
			c->noreply = false;
		sd_text_reply(c, "CLIENT_ERROR bad data chunk");
		sd_item_free(it);
		return;
	}
	r = sd_item_store(it, c->pend->item_key, c->pend->item_nkey,
			  c->store_cmd, c->store_cas, c->set_stale, &cas);
	if ((r == SD_NO_MEMORY || r == SD_TOO_LARGE) &&
	    c->store_cmd == SD_SET) {
		/* as memcached: a refused set leaves no old value behind */
		unsigned int cls;

		sd_item_delete(c->pend->item_key, c->pend->item_nkey, 0, &cls);
	}
	if (r != SD_STORED || c->store_cmd == SD_APPEND ||
	    c->store_cmd == SD_PREPEND)
		sd_item_free(it);
	store_done(c, r, cas);
}

/* ------------------------------------------------------------ machine */

/* What "stats conns" shows for this connection now. */
void sd_conn_show(struct sd_conn *c, enum sd_conn_show s)
{
	if (c->info)
		atomic_store_explicit(&c->info->show, (uint8_t)s,
				      memory_order_relaxed);
}

/*
 * A command is half-written: (re)start its clock. Called each time bytes
 * of it were taken, so --command-timeout measures time without progress,
 * not the length of a long (streamed) command.
 */
static void note_partial(struct sd_conn *c)
{
	c->partial_since = sd_now();
}

/*
 * sd_conn_process() - Parse and execute what is buffered.
 * Return: what the connection must do next.
 */
enum sd_proc sd_conn_process(struct sd_conn *c)
{
	for (;;) {
		size_t avail = c->rend - c->rstart;
		enum sd_proc r;

		if (c->out.failed)
			return SD_PROC_CLOSE;
		switch (c->state) {
		case SD_CONN_NEW:
			if (!avail)
				return SD_PROC_NEED_READ;
			/* memcached's negotiation: a binary magic byte */
			c->binary = (unsigned char)c->rbuf[c->rstart] == 0x80;
			c->state = c->binary ? SD_CONN_BIN : SD_CONN_CMD;
			continue;
		case SD_CONN_VALUE: {
			while (avail && c->item_off < c->item_want) {
				char *dst;
				size_t n = value_room(c, &dst);

				if (n > avail)
					n = avail;
				memcpy(dst, c->rbuf + c->rstart, n);
				c->item_off += n;
				c->rstart += n;
				avail -= n;
			}
			if (c->item_off < c->item_want) {
				note_partial(c);
				return SD_PROC_NEED_READ;
			}
			sd_conn_show(c, SD_SHOW_PARSE_CMD);
			sd_conn_store_value(c);
			c->partial_since = 0;
			continue;
		}
		case SD_CONN_SWALLOW: {
			size_t n = avail < c->swallow ? avail : c->swallow;

			c->rstart += n;
			c->swallow -= n;
			if (c->swallow) {
				note_partial(c);
				return SD_PROC_NEED_READ;
			}
			c->state = c->binary ? SD_CONN_BIN : SD_CONN_CMD;
			c->partial_since = 0;
			continue;
		}
		case SD_CONN_BIN:
			r = sd_bin_process(c);
			break;
		default:
			r = sd_text_process(c);
			break;
		}
		if (r == SD_PROC_NEED_READ && c->state == SD_CONN_VALUE)
			continue; /* a command started a value: take it */
		if (r == SD_PROC_NEED_READ && c->state == SD_CONN_SWALLOW)
			continue;
		if (r == SD_PROC_NEED_READ) {
			if (c->rend > c->rstart) {
				note_partial(c);
				sd_conn_show(c, SD_SHOW_READ);
			} else {
				c->partial_since = 0;
				sd_conn_show(c, SD_SHOW_WAITING);
			}
		}
		return r;
	}
}

/* A command was taken: count it against -R and note the time. */
bool sd_conn_take_command(struct sd_conn *c)
{
	sd_rel_time now;

	if (c->budget <= 0)
		return false;
	c->budget--;
	now = sd_now();
	c->last_cmd_time = now;
	if (c->info) {
		atomic_store_explicit(&c->info->last_cmd_time, now,
				      memory_order_relaxed);
		sd_conn_show(c, SD_SHOW_PARSE_CMD);
	}
	return true;
}

/* ------------------------------------------------------------ lifetime */

/*
 * sd_conn_new() - A connection on socket @fd of worker @w, or, with fd -1
 * and no worker, one for sd_conn_feed(). Return: it, or NULL (ENOMEM).
 */
struct sd_conn *sd_conn_new(int fd, struct sd_worker *w)
{
	struct sd_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->worker = w;
	/* no read buffer until input must wait in one (own_rbuf_free()) */
	c->buf_bytes = sizeof(*c);
	sd_conn_account((long long)c->buf_bytes);
	c->budget = INT_MAX;
	c->last_cmd_time = sd_now();
	switch (sd_settings.protocol) {
	case SD_PROTO_ASCII:
		c->state = SD_CONN_CMD;
		break;
	case SD_PROTO_BINARY:
		c->binary = true;
		c->state = SD_CONN_BIN;
		break;
	default:
		c->state = SD_CONN_NEW;
	}
	return c;
}

/*
 * sd_conn_fini() - Free the buffers, pins and half-read item, and give
 * back their accounting; the socket and the struct are the caller's (a
 * worker frees the struct once no other thread can hold a pointer to it).
 */
void sd_conn_fini(struct sd_conn *c)
{
	sd_conn_release_output(c);
	sd_item_free(c->item);
	if (c->out.buf) {
		atomic_fetch_sub(&sd_gstats.out_buf_count, 1);
		atomic_fetch_sub(&sd_gstats.out_buf_bytes,
				 (long long)c->out.cap);
	}
	if (c->segs)
		atomic_fetch_sub(&sd_gstats.out_buf_bytes,
				 (long long)(c->segs_cap * sizeof(*c->segs)));
	own_rbuf_free(c);
	pending_free(c, NULL);
	sd_conn_account(-(long long)c->buf_bytes);
	free(c->out.buf);
	free(c->segs);
	c->out.buf = NULL;
	c->segs = NULL;
	c->buf_bytes = 0;
}

/* Free the buffers, pins and half-read item; the socket is the caller's. */
void sd_conn_free(struct sd_conn *c)
{
	sd_conn_fini(c);
	free(c);
}

/* ------------------------------------------------------------ feeding */

static void drain(struct sd_conn *c, sd_sink_fn sink, void *arg)
{
	while (sd_conn_output_pending(c)) {
		struct iovec iov[64];
		size_t i, n = sd_conn_output(c, iov, 64), total = 0;

		for (i = 0; i < n; i++) {
			if (iov[i].iov_len)
				sink(arg, iov[i].iov_base, iov[i].iov_len);
			total += iov[i].iov_len;
		}
		sd_conn_output_done(c, total);
	}
}

static int feed(struct sd_conn *c, const void *data, size_t len,
		sd_sink_fn sink, void *arg);

/**
 * sd_conn_feed() - Drive a connection from a byte string, without a socket.
 * @c: A connection from sd_conn_new(-1, NULL).
 * @data: Bytes as the client sent them, as if they came in one read; may
 *        be split anywhere between calls.
 * @len: Their length (0: just let the connection act on what it has).
 * @sink: Called with each run of reply bytes, in order.
 * @arg: Passed to @sink.
 *
 * Runs exactly the code that serves a socket: protocol negotiation,
 * parsing, the item store, replies. A line that the daemon would close the
 * connection for unless its end had arrived (SD_PROC_LONG_LINE) is judged
 * at the end of @data. Each call borrows a read buffer for its length,
 * as a worker lends one for a wake-up, and gives it back at the end.
 *
 * Context: One thread at a time per connection; the items must be set up
 * (sd_items_init()) and sd_now() running.
 * Return: 0 while the connection stays open, 1 once the daemon would close
 * it (its replies have been given to @sink, or the input left over could
 * not be kept for lack of memory); feed it no more after 1.
 */
int sd_conn_feed(struct sd_conn *c, const void *data, size_t len,
		 sd_sink_fn sink, void *arg)
{
	/* the worker's read buffer, as a worker lends it */
	static _Thread_local char rbuf[SD_READ_MAX];

	sd_conn_borrow_rbuf(c, rbuf);
	if (feed(c, data, len, sink, arg)) {
		sd_conn_drop_rbuf(c);
		return 1;
	}
	if (sd_conn_return_rbuf(c) < 0) {
		c->close_after_write = true;
		return 1;
	}
	return 0;
}

static int feed(struct sd_conn *c, const void *data, size_t len,
		sd_sink_fn sink, void *arg)
{
	const char *p = data;

	for (;;) {
		enum sd_proc st;
		ssize_t room;
		char *buf;

		if (c->close_after_write) {
			drain(c, sink, arg);
			return 1;
		}
		c->budget = INT_MAX;
		st = sd_conn_process(c);
		drain(c, sink, arg);
		switch (st) {
		case SD_PROC_CLOSE:
			c->close_after_write = true;
			continue;
		case SD_PROC_NEED_FLUSH:
		case SD_PROC_YIELD:
			continue;
		case SD_PROC_LONG_LINE:
			if (!len) {
				SD_COUNT(conn_closed_line_too_long);
				c->close_after_write = true;
				continue;
			}
			break;
		case SD_PROC_NEED_READ:
			if (!len)
				return 0;
			break;
		}
		room = sd_conn_input_space(c, &buf);
		if (room < 0) {
			if (st == SD_PROC_LONG_LINE)
				SD_COUNT(conn_closed_line_too_long);
			c->close_after_write = true;
			continue;
		}
		if ((size_t)room > len)
			room = (ssize_t)len;
		memcpy(buf, p, (size_t)room);
		sd_conn_input_done(c, (size_t)room);
		p += room;
		len -= (size_t)room;
	}
}
