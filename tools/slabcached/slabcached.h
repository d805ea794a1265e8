/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SLABCACHED_H
#define SLABCACHED_H

/*
 * slabcached: a memcached-compatible daemon (text, meta and binary
 * protocols) that keeps its items in slabcache and sheds them under memory
 * pressure. Private header shared by its files:
 *
 *   main.c        options, listening sockets, the main epoll loop (accept,
 *                 signals, the pressure fd, the one-second timer)
 *   worker.c      worker threads, each with its own epoll and connections:
 *                 the only file that reads and writes sockets
 *   conn.c        a connection without its socket: bounded, counted
 *                 buffers, the byte-level state machine, and
 *                 sd_conn_feed(), which drives it from a byte string
 *   proto_text.c  the classic text protocol: the command table
 *   proto_meta.c  the meta commands (mg, ms, md, ma, mn, me)
 *   proto_bin.c   the binary protocol
 *   stats.c       per-thread counters, summed by "stats"; stats output
 *   items.c       items in slab size classes, one sc_cache indexing them
 *
 * Lock order (outermost first): a key stripe lock (items.c), then the
 * library's locks (cache, slab). Leaf locks, never held across a call out:
 * a worker's hand-off queue
 * (worker.c), the connection table and the stats lock (stats.c). A
 * connection is touched only by its worker.
 */
#include <stdatomic.h>
#include <string.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include <slabcache.h>

#include "config.h"

/*
 * The memcached release whose protocols we answer as, then our own
 * version: clients that parse "VERSION x.y.z" see a 1.6 server.
 */
#define SD_VERSION "1.6.18-slabcached-" SC_VERSION_STRING

#define SD_KEY_MAX 250 /* memcached's KEY_MAX_LENGTH */
/*
 * memcached's item header (48 bytes) and CAS (8): memcached's item size
 * (mc_item_total() in items.c) decides "too large" and "chunked", so both
 * fall at the same byte as in memcached.
 */
#define SD_MC_ITEM_HEADER 48
#define SD_MC_CAS_SIZE 8
#define SD_MC_CHUNK_MAX (512u * 1024) /* memcached's slab_chunk_max */
#define SD_REALTIME_MAXDELTA (60 * 60 * 24 * 30)
/* memcached's ITEM_UPDATE_INTERVAL: an item's access time moves in steps */
#define SD_ITEM_UPDATE_INTERVAL 60
#define SD_MAX_CLASSES 200

/* Connection buffer bounds: see Documentation/slabcached.rst. */
#define SD_RBUF_INIT 2048 /* read buffer to start with */
#define SD_LINE_MAX 2048 /* a partial line other than get/gets */
#define SD_READ_MAX 16384 /* memcached's read buffer: longest other line */
#define SD_GET_STREAM_AT 16384 /* a longer get line is answered as it comes */
#define SD_WBUF_INIT 2048 /* reply text buffer to start with */
#define SD_OUT_HIGH 16384 /* reply text: stop parsing above this */
#define SD_PIN_HIGH (1u << 20) /* pinned value bytes: stop parsing above */
#define SD_SEGS_HIGH 256 /* output segments: stop parsing above */

enum sd_protocol {
	SD_PROTO_AUTO, /* the first byte decides, as memcached's -B auto */
	SD_PROTO_ASCII,
	SD_PROTO_BINARY,
};

struct sd_settings {
	int port; /* -p, 0: no TCP */
	const char *listen; /* -l */
	const char *socket_path; /* -s */
	int socket_mask; /* -a, octal */
	/* -m; cache_memlimit changes it (sd_items_set_limit()) while
	 * "stats" reads it in other workers */
	atomic_size_t maxbytes;
	int maxconns; /* -c */
	int threads; /* -t */
	size_t item_size_max; /* -I */
	atomic_int verbose; /* -v; "verbosity" changes it at run time */
	const char *pressure; /* --pressure */
	int idle_timeout; /* -o idle_timeout: an idle connection; 0: never */
	int command_timeout; /* --command-timeout: a half-written command */
	double factor; /* -f growth factor */
	const char *policy; /* --policy: lru, sieve or s3fifo */
	unsigned int cache_flags; /* its SC_CACHE_POLICY_* */
	bool evict_to_free; /* not -M */
	bool use_cas; /* not -C */
	bool flush_enabled; /* not -F */
	bool shutdown_command; /* -A */
	bool dump_enabled; /* not -X */
	int reqs_per_event; /* -R */
	int backlog; /* -b */
	enum sd_protocol protocol; /* -B */
	char prefix_delimiter; /* -D */
	atomic_bool detail_enabled; /* -D, "stats detail on|off" */
	bool maxconns_fast; /* -o maxconns_fast: refuse at once past -c */
	/* -o worker_help: a worker serves a neighbour held off the CPU */
	bool worker_help;
	bool debug_commands; /* debugtime: test builds only */
};

extern struct sd_settings sd_settings;

/* ------------------------------------------------------------ time */

/*
 * memcached's clock: seconds since process_started, which is set 62 s
 * before the real start so that 0 never means "now" (item times and
 * oldest_live use 0 as "none"). It counts CLOCK_MONOTONIC's seconds,
 * read once a second by the main loop's timer (sd_clock_update()).
 */
typedef uint32_t sd_rel_time;

extern int64_t sd_process_started;
sd_rel_time sd_now(void);
uint64_t sd_clock_ns(clockid_t clock);
void sd_clock_init(void);
void sd_clock_update(void);
void sd_clock_shift(int64_t delta);
sd_rel_time sd_realtime(int64_t exptime);
sd_rel_time sd_exptime_rel(int32_t exptime);

/* ------------------------------------------------------------ stats.c */

/*
 * Counters of one thread, written only by that thread (relaxed atomic
 * load and store, no locked instruction) and summed by "stats". One list,
 * as memcached's THREAD_STATS_FIELDS: each X() is a counter.
 */
/* One counter per line. */
#define SD_THREAD_STATS(X)             \
	X(get_cmds)                    \
	X(get_misses)                  \
	X(get_expired)                 \
	X(get_flushed)                 \
	X(touch_cmds)                  \
	X(touch_misses)                \
	X(delete_misses)               \
	X(incr_misses)                 \
	X(decr_misses)                 \
	X(cas_misses)                  \
	X(meta_cmds)                   \
	X(flush_cmds)                  \
	X(bytes_read)                  \
	X(bytes_written)               \
	X(conn_yields)                 \
	X(idle_kicks)                  \
	X(response_obj_oom)            \
	X(read_buf_oom)                \
	X(store_too_large)             \
	X(store_no_memory)             \
	X(total_items)                 \
	X(conn_closed_line_too_long)   \
	X(conn_closed_command_timeout) \
	X(admission_rejects)           \
	X(worker_helps)                \
	X(worker_help_skips)           \
	X(worker_help_preempted)
/* Per size class, as memcached's SLAB_STATS_FIELDS ("stats slabs"). */
#define SD_SLAB_STATS(X) \
	X(set_cmds)      \
	X(get_hits)      \
	X(touch_hits)    \
	X(delete_hits)   \
	X(cas_hits)      \
	X(cas_badval)    \
	X(incr_hits)     \
	X(decr_hits)

#define SD_STAT_ONE(name) +1
#define SD_NSLAB_STATS (0 SD_SLAB_STATS(SD_STAT_ONE))
#define SD_STAT_FIELD(name) _Atomic uint64_t name;
struct sd_slab_stats {
	SD_SLAB_STATS(SD_STAT_FIELD)
};

struct sd_thread_stats {
	SD_THREAD_STATS(SD_STAT_FIELD)
	struct sd_slab_stats slab[SD_MAX_CLASSES];
} __attribute__((aligned(64)));
#undef SD_STAT_FIELD

/* The calling thread's counters (a worker's, or the main thread's). */
extern _Thread_local struct sd_thread_stats *sd_ts;

static inline void sd_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

#define SD_COUNT(field) sd_count(&sd_ts->field, 1)
#define SD_COUNT_N(field, n) sd_count(&sd_ts->field, (n))
#define SD_COUNT_SLAB(cls, field) sd_count(&sd_ts->slab[(cls)].field, 1)

/* Counters of the main thread and of the process as a whole. */
struct sd_global_stats {
	atomic_long curr_connections;
	atomic_ullong total_connections, rejected_connections;
	atomic_ullong listen_disabled_num;
	atomic_llong conn_buffer_bytes; /* every connection buffer, summed */
	atomic_llong conn_buffer_peak;
	/* "stats": read buffers and reply buffers (text and segments) now */
	atomic_llong read_buf_count, read_buf_bytes;
	atomic_llong out_buf_count, out_buf_bytes;
	atomic_ullong pressure_events[4]; /* per sc_pressure_level */
	atomic_ullong items_shed, bytes_shed;
	atomic_llong last_pressure_time;
	atomic_int last_pressure_level;
	atomic_bool accepting_conns;
	atomic_int reserved_fds;
};

extern struct sd_global_stats sd_gstats;

struct sd_outbuf;
int sd_stats_init(int nthreads);
void sd_stats_exit(void);
struct sd_thread_stats *sd_stats_thread(int i);
void sd_stats_reset(void);
void sd_stats_slab_sums(uint64_t (*out)[SD_NSLAB_STATS]);
void sd_stats_general(struct sd_outbuf *o);
void sd_stats_settings(struct sd_outbuf *o);
void sd_stats_slabcached(struct sd_outbuf *o);
void sd_stats_pressure(struct sd_outbuf *o);
void sd_stats_slabs(struct sd_outbuf *o);
void sd_stats_items(struct sd_outbuf *o);
void sd_stats_conns(struct sd_outbuf *o);
void sd_stats_add_reset_hook(void (*fn)(void));
void sd_conn_account(long long delta);

/* "stats detail": per-prefix counts (memcached's stats_prefix.c) */
void sd_prefix_record_get(const char *key, size_t nkey, bool hit);
void sd_prefix_record_set(const char *key, size_t nkey);
void sd_prefix_record_delete(const char *key, size_t nkey);
int sd_prefix_dump(struct sd_outbuf *o);
char *sd_prefix_dump_text(size_t *len);
void sd_prefix_clear(void);

/* "stats conns": what a connection shows to other threads */
enum sd_conn_show {
	SD_SHOW_LISTENING,
	SD_SHOW_NEW_CMD,
	SD_SHOW_WAITING,
	SD_SHOW_READ,
	SD_SHOW_PARSE_CMD,
	SD_SHOW_WRITE,
	SD_SHOW_NREAD,
	SD_SHOW_SWALLOW,
	SD_SHOW_CLOSING,
	SD_SHOW_MWRITE,
};

struct sd_conn_info {
	int fd;
	_Atomic uint8_t show; /* enum sd_conn_show */
	_Atomic sd_rel_time last_cmd_time;
	struct sd_conn_info *prev, *next;
	const char *listen_addr; /* the listener it came from, in addr[] */
	char addr[]; /* "tcp:1.2.3.4:5", "unix:/path", then listen_addr */
};

struct sd_conn_info *sd_conn_info_new(int fd, bool listening);
void sd_conn_info_free(struct sd_conn_info *ci);

/* ------------------------------------------------------------ items.c */

/* memcached's item flags that the meta protocol shows */
#define SD_ITEM_FETCHED 0x01 /* read since stored ("h" flag) */
#define SD_ITEM_TOKEN_SENT 0x02 /* a recache token went out ("Z") */
#define SD_ITEM_STALE 0x04 /* invalidated by md I ("X") */
#define SD_ITEM_KEY_BINARY 0x08 /* stored with a base64 key ("b") */

/* set when the item is made, never changed (items.c) */
#define SD_ITEM_CFLAGS 0x10 /* the client's flags follow (not 0) */
#define SD_ITEM_LONG 0x20 /* the value length's high 16 bits follow */
#define SD_ITEM_CHUNKED 0x40 /* the value is in chunks, not in the header */

/*
 * An item: header and chunk table in one slab object of a size class; the
 * value in the same object when it fits, else in chunks of the size
 * classes. The value's "\r\n" is not stored (the reply paths add it) and
 * neither is the key: the library's entry holds it
 * (sc_entry_string_key()), and whoever holds an item not linked yet holds
 * its key too. The value never changes once linked; exptime, time and the
 * flags above do. The header is 20 bytes, as memcached's it keeps the
 * client's flags only when they are not 0, and the value length's high
 * bits only for values of 64 KiB and more (SD_ITEM_CFLAGS, SD_ITEM_LONG):
 * a 100-byte value with a 14-byte key fits a 120-byte slot. Its size
 * class follows from the value's length and those two flags
 * (item_hdr_class() in items.c).
 */
struct sd_item {
	_Atomic uint64_t cas; /* md I changes it in place */
	_Atomic sd_rel_time exptime; /* 0: never */
	_Atomic sd_rel_time time; /* stored or last accessed */
	_Atomic uint8_t iflags; /* SD_ITEM_* */
	uint8_t nkey; /* the key's length (memcached's item size counts it) */
	uint16_t vlen_lo; /* the value's length (no "\r\n"), low 16 bits */
	/*
	 * [u16 high bits of the length: SD_ITEM_LONG] [u32 client flags:
	 * SD_ITEM_CFLAGS], then the value when it fits in this object
	 * (sd_item_inline()), else the chunk table (pointer aligned)
	 */
	char data[];
};

/* The header's bytes before the value (inline) or the chunk table. */
static inline size_t sd_item_hdr_len(unsigned int iflags)
{
	return offsetof(struct sd_item, data) +
	       (iflags & SD_ITEM_LONG ? 2 : 0) +
	       (iflags & SD_ITEM_CFLAGS ? 4 : 0);
}

/* The value's length, without its "\r\n". */
static inline size_t sd_item_vlen(const struct sd_item *it)
{
	size_t vlen = it->vlen_lo;

	if (atomic_load_explicit(&it->iflags, memory_order_relaxed) &
	    SD_ITEM_LONG) {
		uint16_t hi;

		memcpy(&hi, it->data, sizeof(hi));
		vlen |= (size_t)hi << 16;
	}
	return vlen;
}

static inline uint32_t sd_item_flags(const struct sd_item *it)
{
	unsigned int f =
		atomic_load_explicit(&it->iflags, memory_order_relaxed);
	uint32_t flags;

	if (!(f & SD_ITEM_CFLAGS))
		return 0;
	memcpy(&flags, it->data + (f & SD_ITEM_LONG ? 2 : 0), sizeof(flags));
	return flags;
}

/* The value's length as the text protocol sends it, with its "\r\n". */
static inline size_t sd_item_nbytes(const struct sd_item *it)
{
	return sd_item_vlen(it) + 2;
}

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
	SD_DELTA_CAS_MISMATCH,
};

int sd_items_init(void);
void sd_items_exit(void);
size_t sd_chunk_max(void);
unsigned int sd_nclasses(void);
bool sd_item_size_ok(size_t nkey, uint32_t flags, size_t nbytes);
struct sd_item *sd_item_alloc(size_t nkey, uint32_t flags, sd_rel_time exptime,
			      size_t nbytes);
void sd_item_free(struct sd_item *it);
char *sd_item_chunk(const struct sd_item *it, unsigned int i);
size_t sd_item_chunk_len(const struct sd_item *it, unsigned int i);
void sd_item_copy_in(struct sd_item *it, size_t off, const void *src,
		     size_t len);
unsigned int sd_item_nchunks_chunked(const struct sd_item *it);
size_t sd_item_value_room_chunked(const struct sd_item *it, size_t off,
				  char **buf);

/* Whether the value is in the header's object (else in chunks). */
static inline bool sd_item_inline(const struct sd_item *it)
{
	return !(atomic_load_explicit(&it->iflags, memory_order_relaxed) &
		 SD_ITEM_CHUNKED);
}

/*
 * The value's pieces as the reply sends them. Inline, as is every value
 * up to about 512 KiB: a hit asks for them once per value.
 */
static inline unsigned int sd_item_nchunks(const struct sd_item *it)
{
	if (__builtin_expect(sd_item_inline(it), 1))
		return 1;
	return sd_item_nchunks_chunked(it);
}

/*
 * sd_item_value_room() - Where the value's byte @off is stored, and how
 * many bytes from there are contiguous (0 at or past the value's end).
 */
static inline size_t sd_item_value_room(const struct sd_item *it, size_t off,
					char **buf)
{
	unsigned int f =
		atomic_load_explicit(&it->iflags, memory_order_relaxed);
	size_t vlen;

	if (__builtin_expect(f & SD_ITEM_CHUNKED, 0))
		return sd_item_value_room_chunked(it, off, buf);
	vlen = sd_item_vlen(it);
	if (off >= vlen)
		return 0;
	*buf = (char *)it + sd_item_hdr_len(f) + off;
	return vlen - off;
}

struct sc_entry *sd_item_get(const char *key, size_t nkey, struct sd_item **itp,
			     bool bump);
struct sc_entry *sd_item_touch(const char *key, size_t nkey,
			       sd_rel_time exptime, struct sd_item **itp);
void sd_item_bump(struct sd_item *it);
void sd_item_set_exptime(const char *key, size_t nkey, struct sd_item *it,
			 sd_rel_time exptime);
enum sd_store_result sd_item_store(struct sd_item *it, const char *key,
				   size_t nkey, enum sd_store_cmd cmd,
				   uint64_t cas_in, bool set_stale,
				   uint64_t *cas_out);

static inline uint64_t sd_item_cas(const struct sd_item *it)
{
	return atomic_load_explicit(&it->cas, memory_order_relaxed);
}
int sd_item_delete(const char *key, size_t nkey, uint64_t cas,
		   unsigned int *cls);
int sd_item_invalidate(const char *key, size_t nkey, uint64_t cas, bool new_ttl,
		       sd_rel_time exptime);
enum sd_delta_result sd_item_delta(const char *key, size_t nkey, bool incr,
				   uint64_t delta, uint64_t cas_in,
				   uint64_t *result, uint64_t *cas_out,
				   struct sc_entry **pin);
enum sd_store_result sd_item_link_new(struct sd_item *it, const char *key,
				      size_t nkey, uint64_t *cas_out);
void sd_items_flush(int64_t exptime);
void sd_items_tick(sd_rel_time now);
int sd_items_mover_step(void);
int sd_items_set_limit(size_t bytes);
uint64_t sd_next_cas(void);
void sd_items_shed_begin(void);
void sd_items_shed_end(unsigned long long *items, unsigned long long *bytes);
unsigned int sd_item_class(const struct sd_item *it);
size_t sd_item_total(const struct sd_item *it);

void sd_items_stats_slabs(struct sd_outbuf *o);
void sd_items_stats_items(struct sd_outbuf *o);
int sd_items_cachedump(struct sd_outbuf *o, unsigned int cls,
		       unsigned int limit);
void sd_items_reset_stats(void);
struct sd_items_totals {
	unsigned long long curr_items, bytes, evictions, reclaimed;
	unsigned long long expired_unfetched, evicted_unfetched;
	unsigned long long index_bytes, shrunk, pinned;
	unsigned long long crawler_reclaimed, crawler_items_checked;
	/* the cache's limit now: -m less what the slabs strand */
	unsigned long long limit, stranded_bytes, stranded_evictions;
	/*
	 * the slab mover: slabs emptied, the items it copied out of them
	 * (and their value chunks) and evicted from them, whether a move is
	 * under way, the main thread's time in it (last slice, longest)
	 */
	unsigned long long slabs_moved, reassign_evictions;
	unsigned long long reassign_rescues, reassign_chunk_rescues;
	unsigned long long reassign_running, mover_slice_us, mover_slice_us_max;
};
void sd_items_totals(struct sd_items_totals *t);

/* ------------------------------------------------------------ conn.c */

/*
 * Reply text of one connection; the protocols append, the connection
 * sends. Values go out as segments pointing into pinned items, never
 * copied.
 */
struct sd_outbuf {
	char *buf;
	size_t len, cap;
	bool failed; /* an append could not grow the buffer */
};

void sd_out_printf(struct sd_outbuf *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sd_out_line(struct sd_outbuf *o, const char *s, size_t len);
void sd_out_bytes(struct sd_outbuf *o, const void *p, size_t len);
char *sd_out_reserve_slow(struct sd_outbuf *o, size_t len);
void sd_out_commit(struct sd_outbuf *o, size_t len);

/*
 * A text reply line: @s and "\r\n". Inline so that the length of a
 * literal, which nearly every reply is, is known when compiling.
 */
static inline void sd_out_str(struct sd_outbuf *o, const char *s)
{
	sd_out_line(o, s, strlen(s));
}

/* Room for @len bytes of reply text; NULL if it could not grow. */
static inline char *sd_out_reserve(struct sd_outbuf *o, size_t len)
{
	if (__builtin_expect(!o->failed && o->len + len <= o->cap, 1))
		return o->buf + o->len;
	return sd_out_reserve_slow(o, len);
}
void sd_out_stat(struct sd_outbuf *o, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
char *sd_u64_to_str(char *p, uint64_t v);

/* The protocol state of a connection. */
enum sd_conn_state {
	SD_CONN_NEW, /* nothing read yet: the first byte picks the protocol */
	SD_CONN_CMD, /* text: waiting for a command line */
	SD_CONN_VALUE, /* reading a value into c->item */
	SD_CONN_SWALLOW, /* discarding bytes (a refused value) */
	SD_CONN_GET, /* a get line paused on a full output */
	SD_CONN_GETSTREAM, /* a long get line, answered key by key as read */
	SD_CONN_SKIPLINE, /* discarding the rest of a line */
	SD_CONN_BIN, /* binary: waiting for a whole request header */
};

/* What completes a value read in SD_CONN_VALUE. */
enum sd_value_kind {
	SD_VALUE_TEXT, /* set/add/...: STORED and friends */
	SD_VALUE_META, /* ms: HD and friends, with the return flags */
	SD_VALUE_BIN, /* binary set/add/...: a binary response */
};

struct sd_seg {
	const char *ptr; /* NULL: text at out.buf + off */
	size_t off, len;
	struct sc_entry *pin; /* put once this segment is sent */
};

/* A pending ms reply: the return flags that come after the status. */
#define SD_META_RET_MAX 256
struct sd_meta_pending {
	bool base64; /* the key came base64-encoded */
	uint8_t nkey;
	char key[SD_KEY_MAX]; /* decoded */
	char ret[SD_META_RET_MAX]; /* " Oopaque k c" flags, in request order */
	size_t nret;
};

/*
 * What a connection keeps while it reads a value, and only then: made when
 * a store starts (sd_conn_pending()), given back when its worker is done
 * with it for the wake-up (sd_conn_give_spares()).
 */
struct sd_conn_pending {
	uint8_t item_nkey;
	char item_key[SD_KEY_MAX]; /* the key the value is stored under */
	struct sd_meta_pending meta; /* ms: its reply */
};

/* A worker's spare connection buffers (conn.c, "stash"). */
#define SD_STASH_MAX 32
#define SD_SEGS_INIT 16 /* output segments to start with */
struct sd_conn_stash {
	/* changed by its worker only (sd_stash_count_set()); read by
	 * "stats slabcached" in any worker (sd_workers_spare_bytes()) */
	unsigned int nout, nsegs, npend;
	void *out[SD_STASH_MAX]; /* SD_WBUF_INIT bytes */
	void *segs[SD_STASH_MAX]; /* 16 segments */
	void *pend[SD_STASH_MAX]; /* struct sd_conn_pending */
};

/* Set a count of @st's own worker, which other threads may read. */
static inline void sd_stash_count_set(unsigned int *n, unsigned int v)
{
	__atomic_store_n(n, v, __ATOMIC_RELAXED);
}

/* The decoded header of the binary request being served. */
struct sd_bin_req {
	uint8_t opcode; /* as sent (quiet opcodes included) */
	uint8_t cmd; /* the loud opcode it maps to */
	uint8_t extlen;
	uint16_t keylen;
	uint32_t bodylen;
	uint32_t opaque; /* echoed as sent (network order) */
	uint64_t cas;
	bool quiet;
};

struct sd_worker;

struct sd_conn {
	int fd; /* -1: driven by sd_conn_feed() */
	struct sd_worker *worker; /* its owner */
	/*
	 * Who serves it: its worker, or the neighbour that helps it (worker.c,
	 * "claims"); everything below but the lists is the holder's.
	 */
	_Atomic unsigned int claim;
	bool closed; /* its worker closed it: freed once nobody can see it */
	struct sd_conn *dnext; /* its worker's doomed or closed list */
	struct sd_conn_stash *stash; /* the serving thread's; NULL: none */
	struct sd_conn *prev, *next; /* the worker's list */
	struct sd_conn_info *info; /* "stats conns"; NULL without a socket */
	enum sd_conn_state state;
	bool binary; /* speaking the binary protocol */
	uint32_t events; /* the epoll events it is registered for */
	int budget; /* commands left in this wake-up (-R) */

	/*
	 * The read buffer in use: the connection's own, or while its worker
	 * serves it one borrowed from the worker (sd_conn_borrow_rbuf()).
	 */
	char *rbuf;
	size_t rsize, rstart, rend;
	char *own_rbuf; /* its own read buffer; NULL: none (nothing kept) */
	size_t own_rsize;
	bool rbuf_borrowed;
	sd_rel_time last_cmd_time;
	sd_rel_time partial_since; /* a half-written command started; 0: none */

	/* SD_CONN_VALUE */
	struct sd_item *item;
	struct sd_conn_pending *pend; /* NULL: nothing pending */
	size_t item_off, item_want; /* bytes read, bytes to read */
	char item_crlf[2]; /* the text value's "\r\n", which is not stored */
	enum sd_store_cmd store_cmd;
	enum sd_value_kind value_kind;
	uint64_t store_cas;
	bool set_stale; /* ms I: a CAS older than the item's marks it stale */
	bool noreply;
	/* SD_CONN_SWALLOW */
	size_t swallow;
	/* SD_CONN_GET: the line stays in rbuf; offsets of the next key, end */
	size_t get_next;
	size_t get_end;
	bool get_cas, get_touch;
	sd_rel_time get_exptime;
	size_t get_line_end; /* rbuf offset after the line */
	unsigned long get_nkeys; /* SD_CONN_GETSTREAM: keys answered */
	const char *skip_reply; /* SD_CONN_SKIPLINE: sent at the newline */
	struct sd_bin_req bin;

	struct sd_outbuf out;
	struct sd_seg *segs;
	size_t nsegs, segs_cap, seg_head, seg_head_off;
	size_t pinned_bytes;
	bool close_after_write;
	bool in_ready; /* on its worker's ready list */
	bool lingering; /* shut down for writing, input dropped until EOF */
	sd_rel_time linger_until;
	uint64_t buf_bytes; /* this connection's share of conn_buffer_bytes */
};

enum sd_proc {
	SD_PROC_NEED_READ, /* parse more after more bytes arrive */
	SD_PROC_NEED_FLUSH, /* output is high or a get is paused */
	SD_PROC_CLOSE, /* close the connection (after sending the replies) */
	/*
	 * A line other than get/gets is past SD_LINE_MAX without its newline:
	 * memcached parses it only if it came in one read (of up to 16 KiB),
	 * so read what has already arrived and close if the newline is not
	 * in it.
	 */
	SD_PROC_LONG_LINE,
	SD_PROC_YIELD, /* -R commands done: let the worker's others run */
};

struct sd_conn *sd_conn_new(int fd, struct sd_worker *w);
void sd_conn_fini(struct sd_conn *c);
void sd_conn_free(struct sd_conn *c);
ssize_t sd_conn_input_space(struct sd_conn *c, char **buf);
ssize_t sd_conn_input_iov(struct sd_conn *c, struct iovec iov[3]);
void sd_conn_input_done(struct sd_conn *c, size_t n);
void sd_conn_borrow_rbuf_move(struct sd_conn *c, char *buf);
int sd_conn_return_rbuf_move(struct sd_conn *c);

/*
 * Read and parse in @buf, SD_READ_MAX bytes (a worker's read buffer), until
 * sd_conn_return_rbuf(); the input left from before moves there. Inline:
 * every wake-up of every connection borrows and returns, nearly always
 * with nothing to move. A connection whose own buffer has grown to that
 * size (pipelined commands left each time it yields) reads in its own,
 * rather than move them there and back on every turn.
 */
static inline void sd_conn_borrow_rbuf(struct sd_conn *c, char *buf)
{
	if (c->rbuf_borrowed || c->own_rsize == SD_READ_MAX)
		return;
	if (c->rstart != c->rend || c->state == SD_CONN_GET) {
		sd_conn_borrow_rbuf_move(c, buf);
		return;
	}
	c->rbuf = buf;
	c->rsize = SD_READ_MAX;
	c->rstart = c->rend = 0;
	c->rbuf_borrowed = true;
}

/* Drop the buffered input and use the own buffer again. */
static inline void sd_conn_drop_rbuf(struct sd_conn *c)
{
	c->rbuf = c->own_rbuf;
	c->rsize = c->own_rsize;
	c->rstart = c->rend = 0;
	c->rbuf_borrowed = false;
}

/*
 * Give the borrowed read buffer back; what is not yet parsed moves to the
 * connection's own buffer, made for it, and an own buffer grown past
 * SD_RBUF_INIT shrinks back once what it must hold fits, and is freed once
 * it holds nothing. Return: 0, or -ENOMEM (the
 * input is dropped: close the connection).
 */
static inline int sd_conn_return_rbuf(struct sd_conn *c)
{
	if (c->own_rbuf || (c->rbuf_borrowed &&
			    (c->rstart != c->rend || c->state == SD_CONN_GET)))
		return sd_conn_return_rbuf_move(c);
	if (c->rbuf_borrowed)
		sd_conn_drop_rbuf(c);
	return 0;
}
int sd_test_hook_count(const char *name, unsigned long *n);
int sd_conn_buf_fault_from_env(void);
int sd_mover_fault_from_env(void);
void *sd_conn_buf_alloc(size_t size);
enum sd_proc sd_conn_process(struct sd_conn *c);
size_t sd_conn_output(struct sd_conn *c, struct iovec *iov, size_t max);
void sd_conn_output_done(struct sd_conn *c, size_t n);

/* Replies queued and not yet all sent. */
static inline bool sd_conn_output_pending(const struct sd_conn *c)
{
	return c->seg_head < c->nsegs;
}
void sd_conn_release_output(struct sd_conn *c);
void sd_conn_give_spares_slow(struct sd_conn *c);
void sd_conn_stash_flush(struct sd_conn_stash *st);

/*
 * The worker starts serving @c: reply buffers from its stash, if @c has
 * none (conn.c, "stash"), so that a request's replies find them there.
 */
static inline void sd_conn_take_spares(struct sd_conn *c)
{
	struct sd_conn_stash *st = c->stash;

	if (!c->out.buf && st->nout) {
		sd_stash_count_set(&st->nout, st->nout - 1);
		c->out.buf = st->out[st->nout];
		c->out.cap = SD_WBUF_INIT;
		c->buf_bytes += SD_WBUF_INIT;
	}
	if (!c->segs && st->nsegs) {
		sd_stash_count_set(&st->nsegs, st->nsegs - 1);
		c->segs = st->segs[st->nsegs];
		c->segs_cap = SD_SEGS_INIT;
		c->buf_bytes += SD_SEGS_INIT * sizeof(struct sd_seg);
	}
}

/*
 * The worker is done with @c for this wake-up: if its replies are all
 * sent, its reply buffers go back to the stash (or are freed), and so does
 * its pending value block unless a value is being read.
 */
static inline void sd_conn_give_spares(struct sd_conn *c)
{
	struct sd_conn_stash *st = c->stash;

	if (c->seg_head < c->nsegs)
		return; /* replies wait for the socket: keep all */
	if (c->out.buf && c->out.cap == SD_WBUF_INIT &&
	    st->nout < SD_STASH_MAX) {
		st->out[st->nout] = c->out.buf;
		sd_stash_count_set(&st->nout, st->nout + 1);
		c->buf_bytes -= SD_WBUF_INIT;
		c->out.buf = NULL;
		c->out.cap = 0;
		c->out.len = 0;
	}
	if (c->segs && c->segs_cap == SD_SEGS_INIT &&
	    st->nsegs < SD_STASH_MAX) {
		st->segs[st->nsegs] = c->segs;
		sd_stash_count_set(&st->nsegs, st->nsegs + 1);
		c->buf_bytes -= SD_SEGS_INIT * sizeof(struct sd_seg);
		c->segs = NULL;
		c->segs_cap = 0;
		c->nsegs = c->seg_head = c->seg_head_off = 0;
	}
	if (c->out.buf || c->segs || c->pend)
		sd_conn_give_spares_slow(c);
}
void sd_conn_show(struct sd_conn *c, enum sd_conn_show s);
bool sd_conn_take_command(struct sd_conn *c);

typedef void (*sd_sink_fn)(void *arg, const void *buf, size_t len);
int sd_conn_feed(struct sd_conn *c, const void *data, size_t len,
		 sd_sink_fn sink, void *arg);

/* used by the protocols */
int sd_conn_add_value(struct sd_conn *c, const struct sd_item *it,
		      struct sc_entry *pin, bool crlf);

/* Stop parsing: enough is queued until some of it is sent (conn.c). */
static inline bool sd_conn_out_high(const struct sd_conn *c)
{
	return c->out.len > SD_OUT_HIGH || c->pinned_bytes > SD_PIN_HIGH ||
	       c->nsegs > SD_SEGS_HIGH;
}
void sd_conn_start_value(struct sd_conn *c, struct sd_item *it, const char *key,
			 size_t nkey, size_t want, enum sd_value_kind kind);
void sd_conn_start_swallow(struct sd_conn *c, size_t n);
struct sd_conn_pending *sd_conn_pending(struct sd_conn *c);
void sd_conn_store_value(struct sd_conn *c);

/* ------------------------------------------------------------ proto_*.c */

/* text: the command states (SD_CONN_CMD, _GET, _GETSTREAM, _SKIPLINE) */
enum sd_proc sd_text_process(struct sd_conn *c);
void sd_text_store_done(struct sd_conn *c, enum sd_store_result r,
			uint64_t cas);
void sd_text_reply(struct sd_conn *c, const char *s);
/* text helpers shared with meta */
struct sd_token {
	char *value;
	size_t length;
};
#define SD_MAX_TOKENS 24
size_t sd_tokenize(char *command, size_t len, struct sd_token *tokens,
		   size_t max_tokens);
bool sd_safe_strtoull(const char *str, uint64_t *out);
bool sd_safe_strtoul(const char *str, uint32_t *out);
bool sd_safe_strtol(const char *str, int32_t *out);
bool sd_safe_strtoll(const char *str, int64_t *out);

/* meta */
void sd_meta_command(struct sd_conn *c, struct sd_token *tokens,
		     size_t ntokens);
void sd_meta_store_done(struct sd_conn *c, enum sd_store_result r,
			uint64_t cas);
size_t sd_base64_encode(const unsigned char *src, size_t len, char *dst,
			size_t dstlen);
size_t sd_base64_decode(const char *src, size_t len, unsigned char *dst,
			size_t dstlen);

/* binary */
enum sd_proc sd_bin_process(struct sd_conn *c);
void sd_bin_store_done(struct sd_conn *c, enum sd_store_result r, uint64_t cas);

/* ------------------------------------------------------------ worker.c */

int sd_workers_start(int nthreads);
void sd_workers_stop(void);
unsigned long long sd_workers_spare_bytes(void);
int sd_conn_dispatch(int fd);

/* ------------------------------------------------------------ main.c */

void sd_request_shutdown(bool graceful);
void sd_pressure_sources_stat(struct sd_outbuf *o);

#endif /* SLABCACHED_H */
