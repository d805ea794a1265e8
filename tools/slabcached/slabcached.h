/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SLABCACHED_H
#define SLABCACHED_H

/*
 * slabcached: a memcached-compatible daemon (text protocol) that keeps its
 * items in slabcache and sheds them under memory pressure. Private header
 * shared by its files:
 *
 *   main.c   options, listening sockets, the main epoll loop (accept,
 *            signals, the pressure fd, the one-second timer)
 *   conn.c   worker threads, each with its own epoll and connections;
 *            bounded, counted connection buffers
 *   proto.c  the memcached text protocol: parsing and replies
 *   items.c  items in slab size classes, one sc_cache indexing them
 *
 * Lock order (outermost first): a key stripe lock (items.c), then the
 * library's locks (cache, slab). A worker's connections are touched only
 * by that worker; the hand-off queue of new connections has its own lock,
 * never held with any other.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

#include <slabcache.h>

#include "config.h"

/*
 * The memcached release whose text protocol we answer as, then our own
 * version: clients that parse "VERSION x.y.z" see a 1.6 server.
 */
#define SD_VERSION "1.6.18-slabcached-" SC_VERSION_STRING

#define SD_KEY_MAX 250 /* memcached's KEY_MAX_LENGTH */
/*
 * memcached's item header with CAS on 64-bit (48 + 8 bytes): the size limit
 * -I is applied to header + key + 1 + value + 2, as memcached does, so
 * "object too large" falls at the same byte.
 */
#define SD_ITEM_OVERHEAD 56
#define SD_REALTIME_MAXDELTA (60 * 60 * 24 * 30)

/* Connection buffer bounds: see Documentation/slabcached.rst. */
#define SD_RBUF_INIT 2048 /* read buffer to start with */
#define SD_LINE_MAX 2048 /* a command line other than get/gets/gat/gats */
#define SD_GET_STREAM_AT 16384 /* a longer get line is answered as it comes */
#define SD_WBUF_INIT 2048 /* reply text buffer to start with */
#define SD_OUT_HIGH 16384 /* reply text: stop parsing above this */
#define SD_PIN_HIGH (1u << 20) /* pinned value bytes: stop parsing above */
#define SD_SEGS_HIGH 256 /* output segments: stop parsing above */

struct sd_settings {
	int port; /* -p, 0: no TCP */
	const char *listen; /* -l */
	const char *socket_path; /* -s */
	size_t maxbytes; /* -m */
	int maxconns; /* -c */
	int threads; /* -t */
	size_t item_size_max; /* -I */
	atomic_int verbose; /* -v; "verbosity" changes it at run time */
	const char *pressure; /* --pressure */
	int idle_timeout; /* --idle-timeout, seconds; 0: never */
	double factor; /* -f growth factor */
	const char *policy; /* --policy: lru, sieve or s3fifo */
	unsigned int cache_flags; /* its SC_CACHE_POLICY_* */
};

extern struct sd_settings sd_settings;
extern time_t sd_process_started;

/* Counters shown by "stats"; all relaxed atomics. */
struct sd_stats {
	atomic_ullong cmd_get, cmd_set, cmd_flush, cmd_touch;
	atomic_ullong get_hits, get_misses, get_expired, get_flushed;
	atomic_ullong delete_hits, delete_misses;
	atomic_ullong incr_hits, incr_misses, decr_hits, decr_misses;
	atomic_ullong cas_hits, cas_misses, cas_badval;
	atomic_ullong touch_hits, touch_misses;
	atomic_ullong bytes_read, bytes_written;
	atomic_ullong total_items, total_connections, rejected_connections;
	atomic_ullong conn_closed_line_too_long, conn_closed_idle;
	atomic_ullong store_too_large, store_no_memory;
	atomic_ullong admission_rejects; /* --policy=s3fifo: not kept */
	atomic_long curr_connections;
	atomic_llong conn_buffer_bytes; /* every connection buffer, summed */
	atomic_llong conn_buffer_peak;
	/* pressure */
	atomic_ullong pressure_events[4]; /* per sc_pressure_level */
	atomic_ullong items_shed, bytes_shed;
	atomic_llong last_pressure_time;
	atomic_int last_pressure_level;
};

extern struct sd_stats sd_stats;

static inline void sd_stat_add(atomic_ullong *c, unsigned long long n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline unsigned long long sd_stat_get(atomic_ullong *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* ------------------------------------------------------------ items.c */

/*
 * An item: header, key and chunk table in one slab object of a size class;
 * the value (data followed by "\r\n", as memcached keeps it) in one or more
 * chunks of the size classes. Immutable once linked, except @exptime.
 */
struct sd_item {
	uint64_t cas;
	_Atomic int64_t exptime; /* absolute unix time; 0: never */
	int64_t time; /* when stored, for flush_all */
	size_t nbytes; /* value length including "\r\n" */
	size_t cost; /* bytes held: slots and the library's entry */
	uint32_t flags;
	uint16_t hdr_class;
	uint16_t nchunks;
	uint16_t nkey;
	bool inline_value; /* the one chunk is inside this object */
	char **chunks; /* nchunks pointers, inside this object */
	char key[]; /* nkey bytes and a NUL, then the chunk table */
};

enum sd_store_cmd {
	SD_SET,
	SD_ADD,
	SD_REPLACE,
	SD_APPEND,
	SD_PREPEND,
	SD_CAS,
};

enum sd_store_result {
	SD_STORED,
	SD_NOT_STORED,
	SD_EXISTS,
	SD_NOT_FOUND,
	SD_TOO_LARGE,
	SD_NO_MEMORY,
};

enum sd_delta_result {
	SD_DELTA_OK,
	SD_DELTA_NOT_FOUND,
	SD_DELTA_NON_NUMERIC,
	SD_DELTA_NO_MEMORY,
};

int sd_items_init(void);
void sd_items_exit(void);
size_t sd_chunk_max(void);
bool sd_item_size_ok(size_t nkey, size_t nbytes);
struct sd_item *sd_item_alloc(const char *key, size_t nkey, uint32_t flags,
			      int64_t exptime, size_t nbytes);
void sd_item_free(struct sd_item *it);
size_t sd_item_chunk_len(const struct sd_item *it, unsigned int i);
struct sc_entry *sd_item_get(const char *key, int64_t now,
			     struct sd_item **itp);
enum sd_store_result sd_item_store(struct sd_item *it, enum sd_store_cmd cmd,
				   uint64_t cas_in, int64_t now);
bool sd_item_delete(const char *key, int64_t now);
bool sd_item_touch(const char *key, int64_t exptime, int64_t now);
enum sd_delta_result sd_item_delta(const char *key, bool incr, uint64_t delta,
				   int64_t now, uint64_t *result);
void sd_items_flush(int64_t now, int64_t delay);
void sd_items_tick(int64_t now);
int64_t sd_realtime(int64_t exptime, int64_t now);
void sd_items_shed_begin(void);
void sd_items_shed_end(unsigned long long *items, unsigned long long *bytes);

struct sd_outbuf;
void sd_items_stats(struct sd_outbuf *o);
void sd_items_stats_slabs(struct sd_outbuf *o);
void sd_items_stats_items(struct sd_outbuf *o);

/* ------------------------------------------------------------ conn.c */

/*
 * Reply text of one connection; proto.c appends, conn.c sends. Values go
 * out as segments pointing into pinned items, never copied.
 */
struct sd_outbuf {
	char *buf;
	size_t len, cap;
	bool failed; /* an append could not grow the buffer */
};

void sd_out_printf(struct sd_outbuf *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sd_out_str(struct sd_outbuf *o, const char *s);
void sd_out_value_line(struct sd_outbuf *o, const char *key, size_t nkey,
		       uint32_t flags, size_t bytes, const uint64_t *cas);
void sd_out_stat(struct sd_outbuf *o, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct sd_conn;
int sd_workers_start(int nthreads);
void sd_workers_stop(void);
int sd_conn_dispatch(int fd);

/* ------------------------------------------------------------ proto.c */

enum sd_proc {
	SD_PROC_NEED_READ, /* parse more after more bytes arrive */
	SD_PROC_NEED_FLUSH, /* output is high or a get is paused */
	SD_PROC_CLOSE, /* close the connection */
};

/* The protocol state of a connection, owned by conn.c, driven by proto.c. */
enum sd_conn_state {
	SD_CONN_CMD, /* waiting for a command line */
	SD_CONN_VALUE, /* reading a value into c->item */
	SD_CONN_SWALLOW, /* discarding a refused value */
	SD_CONN_GET, /* a get line paused on a full output */
	SD_CONN_GETSTREAM, /* a long get line, answered key by key as read */
	SD_CONN_SKIPLINE, /* discarding the rest of a line */
};

struct sd_seg {
	const char *ptr; /* NULL: text at out.buf + off */
	size_t off, len;
	struct sc_entry *pin; /* put once this segment is sent */
};

struct sd_conn {
	int fd;
	struct sd_worker *worker;
	struct sd_conn *prev, *next; /* the worker's list */
	enum sd_conn_state state;
	uint32_t events; /* the epoll events it is registered for */

	char *rbuf;
	size_t rsize, rstart, rend;
	int64_t partial_since; /* a half-written command started; 0: none */

	/* SD_CONN_VALUE */
	struct sd_item *item;
	size_t item_off;
	enum sd_store_cmd store_cmd;
	uint64_t store_cas;
	bool noreply;
	/* SD_CONN_SWALLOW */
	size_t swallow;
	/* SD_CONN_GET: the line stays in rbuf up to get_end */
	char *get_next;
	char *get_end;
	bool get_cas, get_touch;
	int64_t get_exptime;
	size_t get_line_end; /* rbuf offset after the line */
	unsigned long get_nkeys; /* SD_CONN_GETSTREAM: keys answered */
	const char *skip_reply; /* SD_CONN_SKIPLINE: sent at the newline */

	struct sd_outbuf out;
	struct sd_seg *segs;
	size_t nsegs, segs_cap, seg_head, seg_head_off;
	size_t pinned_bytes;
	bool close_after_write;
	uint64_t buf_bytes; /* this connection's share of conn_buffer_bytes */
};

enum sd_proc sd_proto_process(struct sd_conn *c);
int sd_conn_add_value(struct sd_conn *c, const struct sd_item *it,
		      struct sc_entry *pin);
bool sd_conn_out_high(const struct sd_conn *c);

/* ------------------------------------------------------------ main.c */

void sd_stats_general(struct sd_outbuf *o);
void sd_stats_settings(struct sd_outbuf *o);
void sd_stats_pressure(struct sd_outbuf *o);
void sd_stats_reset(void);
int64_t sd_now(void);

#endif /* SLABCACHED_H */
