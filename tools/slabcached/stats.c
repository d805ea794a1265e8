// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabcached statistics.
 *
 * Request counters live in one block per thread (struct sd_thread_stats,
 * from the SD_THREAD_STATS and SD_SLAB_STATS lists): a worker writes only
 * its own block, with relaxed atomic loads and stores and no locked
 * instruction, and "stats" sums the blocks. "stats reset" does not write
 * the blocks (a worker may be adding to them); it records the sums as a
 * baseline, and every figure shown is the sum minus the baseline.
 *
 * The same holds for the counters of the process (struct sd_global_stats),
 * of the items (items.c) and of the library: what memcached's stats_reset()
 * zeroes reads 0 after "stats reset" here too, and so do our own counters
 * (connections closed by the daemon, pressure events and what they shed);
 * gauges (connections, bytes, items, buffers now) and the time and level of
 * the last pressure event are state, not counts, and stay.
 *
 * "stats conns" reads a table of every open socket (struct sd_conn_info):
 * entries are added and removed under conns_lock (once per connection);
 * their state and last command time are relaxed atomics that the owning
 * worker stores on each command.
 *
 * Lock order: stats_lock and conns_lock are leaves.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "slabcached.h"

struct sd_global_stats sd_gstats;

/* The main thread's block; a thread that registers none counts here too. */
static struct sd_thread_stats main_block;
_Thread_local struct sd_thread_stats *sd_ts = &main_block;

static struct sd_thread_stats *worker_blocks;
static int nworker_blocks;

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;

/* What "stats reset" subtracts, per counter. */
#define SD_STAT_PLAIN(name) uint64_t name;
struct slab_sum {
	SD_SLAB_STATS(SD_STAT_PLAIN)
};
struct stats_sum {
	SD_THREAD_STATS(SD_STAT_PLAIN)
	struct slab_sum slab[SD_MAX_CLASSES];
	/* sums over the classes */
	struct slab_sum slab_total;
};
#undef SD_STAT_PLAIN

static struct stats_sum base; /* under stats_lock */
/*
 * The process counters' values at the last "stats reset": set under
 * stats_lock, read without it by "stats" and "stats pressure" in any
 * worker (since_reset()).
 */
static atomic_ullong base_total_connections, base_rejected_connections;
static atomic_ullong base_listen_disabled_num, base_items_shed, base_bytes_shed,
	base_pressure_events[4];

/* Record @c's value now as its base (see since_reset()). */
static void set_base(atomic_ullong *base_value, atomic_ullong *c)
{
	atomic_store_explicit(base_value, atomic_load(c), memory_order_release);
}

/*
 * sd_stats_init() - One counter block per worker. The main thread keeps
 * its own, which a thread that never sets sd_ts (sd_conn_feed() callers)
 * also uses.
 */
int sd_stats_init(int nthreads)
{
	size_t size = sizeof(*worker_blocks) * (size_t)nthreads;

	worker_blocks = aligned_alloc(64, (size + 63) & ~(size_t)63);
	if (!worker_blocks)
		return -ENOMEM;
	memset(worker_blocks, 0, size);
	nworker_blocks = nthreads;
	atomic_store(&sd_gstats.accepting_conns, true);
	return 0;
}

void sd_stats_exit(void)
{
	free(worker_blocks);
	worker_blocks = NULL;
	nworker_blocks = 0;
}

/* Worker @i's block; -1: the main thread's. NULL past the last. */
struct sd_thread_stats *sd_stats_thread(int i)
{
	if (i < 0)
		return &main_block;
	return i < nworker_blocks ? &worker_blocks[i] : NULL;
}

#define LOAD(p) atomic_load_explicit(&(p), memory_order_relaxed)

/* The blocks, summed, minus the reset baseline. stats_lock held. */
static void stats_sum_locked(struct stats_sum *s)
{
	int t;
	unsigned int c;

	memset(s, 0, sizeof(*s));
	for (t = -1;; t++) {
		struct sd_thread_stats *ts = sd_stats_thread(t);

		if (!ts)
			break;
#define ADD(name) s->name += LOAD(ts->name);
		SD_THREAD_STATS(ADD)
#undef ADD
		for (c = 0; c < sd_nclasses(); c++) {
#define ADD(name) s->slab[c].name += LOAD(ts->slab[c].name);
			SD_SLAB_STATS(ADD)
#undef ADD
		}
	}
#define SUB(name) s->name -= base.name;
	SD_THREAD_STATS(SUB)
#undef SUB
	for (c = 0; c < sd_nclasses(); c++) {
#define SUB(name)                             \
	s->slab[c].name -= base.slab[c].name; \
	s->slab_total.name += s->slab[c].name;
		SD_SLAB_STATS(SUB)
#undef SUB
	}
}

static void stats_sum(struct stats_sum *s)
{
	pthread_mutex_lock(&stats_lock);
	stats_sum_locked(s);
	pthread_mutex_unlock(&stats_lock);
}

/*
 * "stats slabs": each class's counters, as SD_SLAB_STATS lists them, into
 * @out[class][k].
 */
void sd_stats_slab_sums(uint64_t (*out)[SD_NSLAB_STATS])
{
	struct stats_sum *s = malloc(sizeof(*s));
	unsigned int c;

	if (!s) {
		memset(out, 0, sizeof(*out) * SD_MAX_CLASSES);
		return;
	}
	stats_sum(s);
	for (c = 0; c < SD_MAX_CLASSES; c++) {
		unsigned int k = 0;

#define OUT(name) out[c][k++] = s->slab[c].name;
		SD_SLAB_STATS(OUT)
#undef OUT
	}
	free(s);
}

void sd_stats_reset(void)
{
	struct stats_sum *now = malloc(sizeof(*now));
	int i;

	pthread_mutex_lock(&stats_lock);
	if (now) {
		/* the sum minus the old base, added to it: the new base */
		stats_sum_locked(now);
#define RESET(name) base.name += now->name;
		SD_THREAD_STATS(RESET)
#undef RESET
		for (unsigned int c = 0; c < sd_nclasses(); c++) {
#define RESET(name) base.slab[c].name += now->slab[c].name;
			SD_SLAB_STATS(RESET)
#undef RESET
		}
	}
	set_base(&base_total_connections, &sd_gstats.total_connections);
	set_base(&base_rejected_connections, &sd_gstats.rejected_connections);
	set_base(&base_listen_disabled_num, &sd_gstats.listen_disabled_num);
	set_base(&base_items_shed, &sd_gstats.items_shed);
	set_base(&base_bytes_shed, &sd_gstats.bytes_shed);
	for (i = 0; i < 4; i++)
		set_base(&base_pressure_events[i],
			 &sd_gstats.pressure_events[i]);
	atomic_store(&sd_gstats.conn_buffer_peak,
		     atomic_load(&sd_gstats.conn_buffer_bytes));
	pthread_mutex_unlock(&stats_lock);
	free(now);
	sd_items_reset_stats();
	sd_prefix_clear();
}

/* Every connection buffer byte, and the peak since start or reset. */
void sd_conn_account(long long delta)
{
	long long now = atomic_fetch_add_explicit(&sd_gstats.conn_buffer_bytes,
						  delta, memory_order_relaxed) +
			delta;
	long long peak = atomic_load_explicit(&sd_gstats.conn_buffer_peak,
					      memory_order_relaxed);

	while (now > peak && !atomic_compare_exchange_weak(
				     &sd_gstats.conn_buffer_peak, &peak, now))
		;
}

/* ------------------------------------------------------------ output */

/*
 * @c's count since the last "stats reset", which another worker may be
 * doing meanwhile. The base first, with acquire: the counter is then read
 * after the reset's own read of it, so it is never below the base (the
 * counters only grow), and the difference never wraps around.
 */
static unsigned long long since_reset(atomic_ullong *c,
				      atomic_ullong *base_value)
{
	unsigned long long b =
		atomic_load_explicit(base_value, memory_order_acquire);

	return atomic_load(c) - b;
}

/*
 * "stats": memcached 1.6.18's fields, in its order, so that tools that
 * read them (and memcached's own tests, which count them) find them all.
 * Fields of mechanisms slabcached does not have read 0 (the slab mover's
 * busy and inline counts: its copies do not wait, see rescue_item(),
 * the logger, the LRU crawler, SASL); "libevent" is replaced by
 * "libslabcache". Ours are in "stats slabcached".
 */
void sd_stats_general(struct sd_outbuf *o)
{
	struct stats_sum *s = malloc(sizeof(*s));
	struct sd_items_totals it;
	sd_rel_time now = sd_now();
	struct rusage ru;
	unsigned long long hash_bytes;
	int hash_power = 0;

	if (!s) {
		o->failed = true;
		return;
	}
	stats_sum(s);
	sd_items_totals(&it);
	getrusage(RUSAGE_SELF, &ru);
	hash_bytes = it.index_bytes;
	while (hash_power < 63 && (8ULL << (hash_power + 1)) <= hash_bytes)
		hash_power++;

	sd_out_stat(o, "pid", "%ld", (long)getpid());
	sd_out_stat(o, "uptime", "%u", now - SD_ITEM_UPDATE_INTERVAL);
	sd_out_stat(o, "time", "%lld",
		    (long long)now + (long long)sd_process_started);
	sd_out_stat(o, "version", "%s", SD_VERSION);
	sd_out_stat(o, "libslabcache", "%s", sc_version_string());
	sd_out_stat(o, "pointer_size", "%zu", 8 * sizeof(void *));
	sd_out_stat(o, "rusage_user", "%ld.%06ld", (long)ru.ru_utime.tv_sec,
		    (long)ru.ru_utime.tv_usec);
	sd_out_stat(o, "rusage_system", "%ld.%06ld", (long)ru.ru_stime.tv_sec,
		    (long)ru.ru_stime.tv_usec);
	sd_out_stat(o, "max_connections", "%d", sd_settings.maxconns);
	sd_out_stat(o, "curr_connections", "%ld",
		    atomic_load(&sd_gstats.curr_connections));
	sd_out_stat(o, "total_connections", "%llu",
		    since_reset(&sd_gstats.total_connections,
				&base_total_connections));
	sd_out_stat(o, "rejected_connections", "%llu",
		    since_reset(&sd_gstats.rejected_connections,
				&base_rejected_connections));
	sd_out_stat(o, "connection_structures", "%ld",
		    atomic_load(&sd_gstats.curr_connections));
	sd_out_stat(o, "response_obj_oom", "%" PRIu64, s->response_obj_oom);
	sd_out_stat(o, "response_obj_count", "%lld",
		    atomic_load(&sd_gstats.out_buf_count));
	sd_out_stat(o, "response_obj_bytes", "%lld",
		    atomic_load(&sd_gstats.out_buf_bytes));
	sd_out_stat(o, "read_buf_count", "%lld",
		    atomic_load(&sd_gstats.read_buf_count));
	sd_out_stat(o, "read_buf_bytes", "%lld",
		    atomic_load(&sd_gstats.read_buf_bytes));
	sd_out_stat(o, "read_buf_bytes_free", "0");
	sd_out_stat(o, "read_buf_oom", "%" PRIu64, s->read_buf_oom);
	sd_out_stat(o, "reserved_fds", "%d",
		    atomic_load(&sd_gstats.reserved_fds));
	sd_out_stat(o, "cmd_get", "%" PRIu64, s->get_cmds);
	sd_out_stat(o, "cmd_set", "%" PRIu64, s->slab_total.set_cmds);
	sd_out_stat(o, "cmd_flush", "%" PRIu64, s->flush_cmds);
	sd_out_stat(o, "cmd_touch", "%" PRIu64, s->touch_cmds);
	sd_out_stat(o, "cmd_meta", "%" PRIu64, s->meta_cmds);
	sd_out_stat(o, "get_hits", "%" PRIu64, s->slab_total.get_hits);
	sd_out_stat(o, "get_misses", "%" PRIu64, s->get_misses);
	sd_out_stat(o, "get_expired", "%" PRIu64, s->get_expired);
	sd_out_stat(o, "get_flushed", "%" PRIu64, s->get_flushed);
	sd_out_stat(o, "delete_misses", "%" PRIu64, s->delete_misses);
	sd_out_stat(o, "delete_hits", "%" PRIu64, s->slab_total.delete_hits);
	sd_out_stat(o, "incr_misses", "%" PRIu64, s->incr_misses);
	sd_out_stat(o, "incr_hits", "%" PRIu64, s->slab_total.incr_hits);
	sd_out_stat(o, "decr_misses", "%" PRIu64, s->decr_misses);
	sd_out_stat(o, "decr_hits", "%" PRIu64, s->slab_total.decr_hits);
	sd_out_stat(o, "cas_misses", "%" PRIu64, s->cas_misses);
	sd_out_stat(o, "cas_hits", "%" PRIu64, s->slab_total.cas_hits);
	sd_out_stat(o, "cas_badval", "%" PRIu64, s->slab_total.cas_badval);
	sd_out_stat(o, "touch_hits", "%" PRIu64, s->slab_total.touch_hits);
	sd_out_stat(o, "touch_misses", "%" PRIu64, s->touch_misses);
	sd_out_stat(o, "store_too_large", "%" PRIu64, s->store_too_large);
	sd_out_stat(o, "store_no_memory", "%" PRIu64, s->store_no_memory);
	sd_out_stat(o, "auth_cmds", "0");
	sd_out_stat(o, "auth_errors", "0");
	/* as memcached: only with an idle timeout */
	if (sd_settings.idle_timeout)
		sd_out_stat(o, "idle_kicks", "%" PRIu64, s->idle_kicks);
	sd_out_stat(o, "bytes_read", "%" PRIu64, s->bytes_read);
	sd_out_stat(o, "bytes_written", "%" PRIu64, s->bytes_written);
	sd_out_stat(o, "limit_maxbytes", "%zu",
		    atomic_load(&sd_settings.maxbytes));
	sd_out_stat(o, "accepting_conns", "%d",
		    atomic_load(&sd_gstats.accepting_conns) ? 1 : 0);
	sd_out_stat(o, "listen_disabled_num", "%llu",
		    since_reset(&sd_gstats.listen_disabled_num,
				&base_listen_disabled_num));
	sd_out_stat(o, "time_in_listen_disabled_us", "0");
	sd_out_stat(o, "threads", "%d", sd_settings.threads);
	sd_out_stat(o, "conn_yields", "%" PRIu64, s->conn_yields);
	sd_out_stat(o, "hash_power_level", "%d", hash_power);
	sd_out_stat(o, "hash_bytes", "%llu", hash_bytes);
	sd_out_stat(o, "hash_is_expanding", "0");
	sd_out_stat(o, "slab_reassign_rescues", "%llu", it.reassign_rescues);
	sd_out_stat(o, "slab_reassign_chunk_rescues", "%llu",
		    it.reassign_chunk_rescues);
	sd_out_stat(o, "slab_reassign_evictions_nomem", "%llu",
		    it.reassign_evictions);
	sd_out_stat(o, "slab_reassign_inline_reclaim", "0");
	sd_out_stat(o, "slab_reassign_busy_items", "0");
	sd_out_stat(o, "slab_reassign_busy_deletes", "0");
	sd_out_stat(o, "slab_reassign_running", "%llu", it.reassign_running);
	sd_out_stat(o, "slabs_moved", "%llu", it.slabs_moved);
	sd_out_stat(o, "malloc_fails", "0");
	sd_out_stat(o, "log_worker_dropped", "0");
	sd_out_stat(o, "log_worker_written", "0");
	sd_out_stat(o, "log_watcher_skipped", "0");
	sd_out_stat(o, "log_watcher_sent", "0");
	sd_out_stat(o, "log_watchers", "0");
	sd_out_stat(o, "unexpected_napi_ids", "0");
	sd_out_stat(o, "round_robin_fallback", "0");
	sd_out_stat(o, "bytes", "%llu", it.bytes);
	sd_out_stat(o, "curr_items", "%llu", it.curr_items);
	sd_out_stat(o, "total_items", "%" PRIu64, s->total_items);
	sd_out_stat(o, "slab_global_page_pool", "0");
	sd_out_stat(o, "expired_unfetched", "%llu", it.expired_unfetched);
	sd_out_stat(o, "evicted_unfetched", "%llu", it.evicted_unfetched);
	sd_out_stat(o, "evictions", "%llu", it.evictions);
	sd_out_stat(o, "reclaimed", "%llu", it.reclaimed);
	sd_out_stat(o, "crawler_reclaimed", "%llu", it.crawler_reclaimed);
	sd_out_stat(o, "crawler_items_checked", "%llu",
		    it.crawler_items_checked);
	sd_out_stat(o, "lrutail_reflocked", "0");
	free(s);
}

static const char *protocol_name(enum sd_protocol p)
{
	switch (p) {
	case SD_PROTO_ASCII:
		return "ascii";
	case SD_PROTO_BINARY:
		return "binary";
	default:
		return "auto-negotiate";
	}
}

/* "stats settings": memcached's fields that mean something here, then ours. */
void sd_stats_settings(struct sd_outbuf *o)
{
	sd_out_stat(o, "maxbytes", "%zu", atomic_load(&sd_settings.maxbytes));
	sd_out_stat(o, "maxconns", "%d", sd_settings.maxconns);
	sd_out_stat(o, "tcpport", "%d",
		    sd_settings.socket_path ? 0 : sd_settings.port);
	sd_out_stat(o, "udpport", "0");
	sd_out_stat(o, "inter", "%s",
		    sd_settings.listen ? sd_settings.listen : "NULL");
	sd_out_stat(o, "verbosity", "%d", atomic_load(&sd_settings.verbose));
	sd_out_stat(o, "oldest", "0");
	sd_out_stat(o, "evictions", "%s",
		    sd_settings.evict_to_free ? "on" : "off");
	sd_out_stat(o, "domain_socket", "%s",
		    sd_settings.socket_path ? sd_settings.socket_path : "NULL");
	sd_out_stat(o, "umask", "%o", (unsigned int)sd_settings.socket_mask);
	sd_out_stat(o, "shutdown_command", "%s",
		    sd_settings.shutdown_command ? "yes" : "no");
	sd_out_stat(o, "growth_factor", "%.2f", sd_settings.factor);
	sd_out_stat(o, "chunk_size", "%d", 48);
	sd_out_stat(o, "num_threads", "%d", sd_settings.threads);
	sd_out_stat(o, "stat_key_prefix", "%c", sd_settings.prefix_delimiter);
	sd_out_stat(o, "detail_enabled", "%s",
		    atomic_load(&sd_settings.detail_enabled) ? "yes" : "no");
	sd_out_stat(o, "reqs_per_event", "%d", sd_settings.reqs_per_event);
	sd_out_stat(o, "cas_enabled", "%s", sd_settings.use_cas ? "yes" : "no");
	sd_out_stat(o, "tcp_backlog", "%d", sd_settings.backlog);
	sd_out_stat(o, "binding_protocol", "%s",
		    protocol_name(sd_settings.protocol));
	sd_out_stat(o, "auth_enabled_sasl", "no");
	sd_out_stat(o, "auth_enabled_ascii", "no");
	sd_out_stat(o, "item_size_max", "%zu", sd_settings.item_size_max);
	sd_out_stat(o, "maxconns_fast", "%s",
		    sd_settings.maxconns_fast ? "yes" : "no");
	sd_out_stat(o, "slab_chunk_max", "%zu", sd_chunk_max());
	sd_out_stat(o, "lru_crawler", "no");
	sd_out_stat(o, "flush_enabled", "%s",
		    sd_settings.flush_enabled ? "yes" : "no");
	sd_out_stat(o, "dump_enabled", "%s",
		    sd_settings.dump_enabled ? "yes" : "no");
	sd_out_stat(o, "idle_timeout", "%d", sd_settings.idle_timeout);
	/* ours */
	sd_out_stat(o, "command_timeout", "%d", sd_settings.command_timeout);
	sd_out_stat(o, "policy", "%s", sd_settings.policy);
	sd_out_stat(o, "pressure", "%s", sd_settings.pressure);
	sd_out_stat(o, "worker_help", "%s",
		    sd_settings.worker_help ? "yes" : "no");
	sd_out_stat(o, "line_max", "%d", SD_LINE_MAX);
	sd_out_stat(o, "get_stream_at", "%d", SD_GET_STREAM_AT);
	sd_out_stat(o, "reply_text_high", "%d", SD_OUT_HIGH);
	sd_out_stat(o, "reply_pinned_high", "%u", SD_PIN_HIGH);
	/* a sanitizer build's RSS includes its shadow memory */
#if defined(CONFIG_SC_ASAN)
	sd_out_stat(o, "sanitizer", "address");
#elif defined(CONFIG_SC_TSAN)
	sd_out_stat(o, "sanitizer", "thread");
#else
	sd_out_stat(o, "sanitizer", "none");
#endif
}

/* "stats slabcached": what memcached has no name for. */
void sd_stats_slabcached(struct sd_outbuf *o)
{
	struct stats_sum *s = malloc(sizeof(*s));
	struct sd_items_totals it;

	if (!s) {
		o->failed = true;
		return;
	}
	stats_sum(s);
	sd_items_totals(&it);
	sd_out_stat(o, "libslabcache", "%s", sc_version_string());
	sd_out_stat(o, "alloc_backend", "%s", sc_alloc_backend());
	sd_out_stat(o, "conn_buffer_bytes", "%lld",
		    atomic_load(&sd_gstats.conn_buffer_bytes));
	sd_out_stat(o, "conn_buffer_peak", "%lld",
		    atomic_load(&sd_gstats.conn_buffer_peak));
	sd_out_stat(o, "conn_buffer_spare_bytes", "%llu",
		    sd_workers_spare_bytes());
	sd_out_stat(o, "conn_closed_line_too_long", "%" PRIu64,
		    s->conn_closed_line_too_long);
	sd_out_stat(o, "conn_closed_command_timeout", "%" PRIu64,
		    s->conn_closed_command_timeout);
	sd_out_stat(o, "admission_rejects", "%" PRIu64, s->admission_rejects);
	sd_out_stat(o, "worker_helps", "%" PRIu64, s->worker_helps);
	sd_out_stat(o, "worker_help_skips", "%" PRIu64, s->worker_help_skips);
	sd_out_stat(o, "worker_help_preempted", "%" PRIu64,
		    s->worker_help_preempted);
	sd_out_stat(o, "index_bytes", "%llu", it.index_bytes);
	sd_out_stat(o, "shrunk", "%llu", it.shrunk);
	sd_out_stat(o, "pinned_evicted", "%llu", it.pinned);
	sd_out_stat(o, "limit_effective", "%llu", it.limit);
	sd_out_stat(o, "slab_stranded_bytes", "%llu", it.stranded_bytes);
	sd_out_stat(o, "slab_stranded_evictions", "%llu",
		    it.stranded_evictions);
	sd_out_stat(o, "slab_mover_slice_us", "%llu", it.mover_slice_us);
	sd_out_stat(o, "slab_mover_slice_us_max", "%llu",
		    it.mover_slice_us_max);
	free(s);
}

static const char *level_names[] = { "none", "low", "medium", "critical" };

void sd_stats_pressure(struct sd_outbuf *o)
{
	int i;

	sd_pressure_sources_stat(o);
	for (i = SC_PRESSURE_LOW; i <= SC_PRESSURE_CRITICAL; i++) {
		char name[32];

		snprintf(name, sizeof(name), "events_%s", level_names[i]);
		sd_out_stat(o, name, "%llu",
			    since_reset(&sd_gstats.pressure_events[i],
					&base_pressure_events[i]));
	}
	sd_out_stat(o, "items_shed", "%llu",
		    since_reset(&sd_gstats.items_shed, &base_items_shed));
	sd_out_stat(o, "bytes_shed", "%llu",
		    since_reset(&sd_gstats.bytes_shed, &base_bytes_shed));
	sd_out_stat(o, "last_event_time", "%lld",
		    (long long)atomic_load(&sd_gstats.last_pressure_time));
	sd_out_stat(o, "last_event_level", "%s",
		    level_names[atomic_load(&sd_gstats.last_pressure_level)]);
}

/* ------------------------------------------------------------ conns */

static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sd_conn_info *conns_head;

/* memcached's get_conn_text(): "tcp:1.2.3.4:5", "tcp6:[::1]:5", "unix:/p" */
static void addr_text(const struct sockaddr *sa, socklen_t len, char *out,
		      size_t outlen)
{
	char host[INET6_ADDRSTRLEN + 2] = "";

	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(out, outlen, "tcp:%s:%u", host, ntohs(in->sin_port));
		return;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(out, outlen, "tcp6:[%s]:%u", host,
			 ntohs(in6->sin6_port));
		return;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const void *)sa;
		size_t n =
			len > offsetof(struct sockaddr_un, sun_path) ?
				len - offsetof(struct sockaddr_un, sun_path) :
				0;

		if (n > sizeof(un->sun_path))
			n = sizeof(un->sun_path);
		if (n < 2 || !un->sun_path[0])
			snprintf(out, outlen, "unix:<AF %d>", AF_UNIX);
		else
			snprintf(out, outlen, "unix:%.*s", (int)n,
				 un->sun_path);
		return;
	}
	default:
		snprintf(out, outlen, "<AF %d>", sa->sa_family);
	}
}

/*
 * sd_conn_info_new() - Show socket @fd in "stats conns" (a listening one
 * shows its own address, a client the peer's and the listener's).
 * Return: the entry, or NULL (out of memory: the socket is just not shown).
 */
struct sd_conn_info *sd_conn_info_new(int fd, bool listening)
{
	/* held by every connection: the texts take only their length */
	char addr[128] = "", listen_addr[128] = "";
	struct sd_conn_info *ci;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	size_t alen, llen;

	if (listening) {
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			addr_text((struct sockaddr *)&ss, len, addr,
				  sizeof(addr));
	} else {
		if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
			addr_text((struct sockaddr *)&ss, len, addr,
				  sizeof(addr));
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			addr_text((struct sockaddr *)&ss, len, listen_addr,
				  sizeof(listen_addr));
	}
	alen = strlen(addr) + 1;
	llen = strlen(listen_addr) + 1;
	ci = calloc(1, sizeof(*ci) + alen + llen);
	if (!ci)
		return NULL;
	ci->fd = fd;
	memcpy(ci->addr, addr, alen);
	memcpy(ci->addr + alen, listen_addr, llen);
	ci->listen_addr = ci->addr + alen;
	atomic_init(&ci->show, listening ? SD_SHOW_LISTENING : SD_SHOW_NEW_CMD);
	atomic_init(&ci->last_cmd_time, sd_now());
	pthread_mutex_lock(&conns_lock);
	ci->next = conns_head;
	if (conns_head)
		conns_head->prev = ci;
	conns_head = ci;
	pthread_mutex_unlock(&conns_lock);
	return ci;
}

void sd_conn_info_free(struct sd_conn_info *ci)
{
	if (!ci)
		return;
	pthread_mutex_lock(&conns_lock);
	if (ci->prev)
		ci->prev->next = ci->next;
	else
		conns_head = ci->next;
	if (ci->next)
		ci->next->prev = ci->prev;
	pthread_mutex_unlock(&conns_lock);
	free(ci);
}

static const char *show_names[] = {
	[SD_SHOW_LISTENING] = "conn_listening",
	[SD_SHOW_NEW_CMD] = "conn_new_cmd",
	[SD_SHOW_WAITING] = "conn_waiting",
	[SD_SHOW_READ] = "conn_read",
	[SD_SHOW_PARSE_CMD] = "conn_parse_cmd",
	[SD_SHOW_WRITE] = "conn_write",
	[SD_SHOW_NREAD] = "conn_nread",
	[SD_SHOW_SWALLOW] = "conn_swallow",
	[SD_SHOW_CLOSING] = "conn_closing",
	[SD_SHOW_MWRITE] = "conn_mwrite",
};

static int by_fd(const void *a, const void *b)
{
	const struct sd_conn_info *x = *(struct sd_conn_info *const *)a;
	const struct sd_conn_info *y = *(struct sd_conn_info *const *)b;

	return (x->fd > y->fd) - (x->fd < y->fd);
}

/* "stats conns": memcached's lines, in descriptor order as memcached. */
void sd_stats_conns(struct sd_outbuf *o)
{
	sd_rel_time now = sd_now();
	struct sd_conn_info *ci, **all;
	size_t n = 0, i;

	pthread_mutex_lock(&conns_lock);
	for (ci = conns_head; ci; ci = ci->next)
		n++;
	all = malloc((n ? n : 1) * sizeof(*all));
	if (!all) {
		pthread_mutex_unlock(&conns_lock);
		o->failed = true;
		return;
	}
	for (n = 0, ci = conns_head; ci; ci = ci->next)
		all[n++] = ci;
	qsort(all, n, sizeof(*all), by_fd);
	for (i = 0; i < n; i++) {
		uint8_t show;
		char name[32];

		ci = all[i];
		show = atomic_load_explicit(&ci->show, memory_order_relaxed);
		snprintf(name, sizeof(name), "%d:addr", ci->fd);
		sd_out_stat(o, name, "%s", ci->addr);
		if (show != SD_SHOW_LISTENING) {
			snprintf(name, sizeof(name), "%d:listen_addr", ci->fd);
			sd_out_stat(o, name, "%s", ci->listen_addr);
		}
		snprintf(name, sizeof(name), "%d:state", ci->fd);
		sd_out_stat(o, name, "%s",
			    show < sizeof(show_names) / sizeof(show_names[0]) ?
				    show_names[show] :
				    "conn_new_cmd");
		snprintf(name, sizeof(name), "%d:secs_since_last_cmd", ci->fd);
		sd_out_stat(o, name, "%d",
			    (int)(now -
				  atomic_load_explicit(&ci->last_cmd_time,
						       memory_order_relaxed)));
	}
	pthread_mutex_unlock(&conns_lock);
	free(all);
}

/* ------------------------------------------------------------ detail */

/*
 * "stats detail": per-prefix counts of gets, hits, sets and deletes, for
 * keys with the -D delimiter (':'), as memcached's stats_prefix.c. Only
 * recorded while "stats detail on" (or -D) is in force; one lock.
 */
#define PREFIX_HASH 256

struct prefix_stats {
	char *prefix;
	size_t len;
	unsigned long long gets, hits, sets, deletes;
	struct prefix_stats *next;
};

static struct prefix_stats *prefixes[PREFIX_HASH];
static pthread_mutex_t prefix_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t rotl32(uint32_t x, int r)
{
	return (x << r) | (x >> (32 - r));
}

/*
 * MurmurHash3_x86_32 with seed 0, memcached's default hash: "stats detail
 * dump" lists the prefixes in its bucket order, so this gives the same
 * order as memcached.
 */
static uint32_t murmur3_32(const void *key, size_t len)
{
	const uint8_t *data = key;
	const uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
	size_t nblocks = len / 4, i;
	uint32_t h = 0, k;

	for (i = 0; i < nblocks; i++) {
		memcpy(&k, data + i * 4, 4);
		k = le32toh(k);
		k *= c1;
		k = rotl32(k, 15);
		k *= c2;
		h ^= k;
		h = rotl32(h, 13);
		h = h * 5 + 0xe6546b64;
	}
	k = 0;
	switch (len & 3) {
	case 3:
		k ^= (uint32_t)data[nblocks * 4 + 2] << 16;
		/* fall through */
	case 2:
		k ^= (uint32_t)data[nblocks * 4 + 1] << 8;
		/* fall through */
	case 1:
		k ^= data[nblocks * 4];
		k *= c1;
		k = rotl32(k, 15);
		k *= c2;
		h ^= k;
	}
	h ^= (uint32_t)len;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* prefix_lock held; NULL: no delimiter, or out of memory */
static struct prefix_stats *prefix_find(const char *key, size_t nkey)
{
	struct prefix_stats *p;
	uint32_t h;
	size_t len;

	for (len = 0; len < nkey && key[len]; len++)
		if (key[len] == sd_settings.prefix_delimiter)
			break;
	if (len == nkey || !key[len])
		return NULL;
	h = murmur3_32(key, len);
	for (p = prefixes[h % PREFIX_HASH]; p; p = p->next)
		if (p->len == len && !memcmp(p->prefix, key, len))
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->prefix = malloc(len + 1);
	if (!p->prefix) {
		free(p);
		return NULL;
	}
	memcpy(p->prefix, key, len);
	p->prefix[len] = '\0';
	p->len = len;
	p->next = prefixes[h % PREFIX_HASH];
	prefixes[h % PREFIX_HASH] = p;
	return p;
}

void sd_prefix_record_get(const char *key, size_t nkey, bool hit)
{
	struct prefix_stats *p;

	pthread_mutex_lock(&prefix_lock);
	p = prefix_find(key, nkey);
	if (p) {
		p->gets++;
		p->hits += hit;
	}
	pthread_mutex_unlock(&prefix_lock);
}

void sd_prefix_record_set(const char *key, size_t nkey)
{
	struct prefix_stats *p;

	pthread_mutex_lock(&prefix_lock);
	p = prefix_find(key, nkey);
	if (p)
		p->sets++;
	pthread_mutex_unlock(&prefix_lock);
}

void sd_prefix_record_delete(const char *key, size_t nkey)
{
	struct prefix_stats *p;

	pthread_mutex_lock(&prefix_lock);
	p = prefix_find(key, nkey);
	if (p)
		p->deletes++;
	pthread_mutex_unlock(&prefix_lock);
}

/*
 * "stats detail dump": "PREFIX <p> get <n> hit <n> set <n> del <n>" lines
 * and "END", in one malloc'ed string (the binary protocol sends it as one
 * value). Return: it (free it), or NULL.
 */
char *sd_prefix_dump_text(size_t *len)
{
	struct prefix_stats *p;
	size_t size = 6, pos = 0;
	char *buf;
	int i;

	pthread_mutex_lock(&prefix_lock);
	for (i = 0; i < PREFIX_HASH; i++)
		for (p = prefixes[i]; p; p = p->next)
			size += p->len + 40 + 4 * 20;
	buf = malloc(size);
	if (buf) {
		for (i = 0; i < PREFIX_HASH; i++)
			for (p = prefixes[i]; p; p = p->next)
				pos += (size_t)snprintf(
					buf + pos, size - pos,
					"PREFIX %s get %llu hit %llu set %llu "
					"del %llu\r\n",
					p->prefix, p->gets, p->hits, p->sets,
					p->deletes);
		memcpy(buf + pos, "END\r\n", 6);
		*len = pos + 5;
	}
	pthread_mutex_unlock(&prefix_lock);
	return buf;
}

int sd_prefix_dump(struct sd_outbuf *o)
{
	size_t len;
	char *text = sd_prefix_dump_text(&len);

	if (!text) {
		o->failed = true;
		return -ENOMEM;
	}
	sd_out_bytes(o, text, len);
	free(text);
	return 0;
}

void sd_prefix_clear(void)
{
	int i;

	pthread_mutex_lock(&prefix_lock);
	for (i = 0; i < PREFIX_HASH; i++) {
		while (prefixes[i]) {
			struct prefix_stats *p = prefixes[i];

			prefixes[i] = p->next;
			free(p->prefix);
			free(p);
		}
	}
	pthread_mutex_unlock(&prefix_lock);
}
