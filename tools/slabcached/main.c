// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabcached: a memcached-compatible daemon that embeds slabcache and sheds
 * memory under pressure. This file: options, listening sockets, and the
 * main thread's epoll loop, which owns
 *
 *   - the listening sockets: accept, refuse past -c, hand to a worker;
 *   - a signalfd: SIGTERM/SIGINT stop, SIGUSR1/SIGUSR2 shed (MEDIUM /
 *     CRITICAL) through sc_pressure_notify(), SIGHUP is ignored;
 *   - the pressure fd of sc_pressure_fd(): dispatch on readiness, which
 *     runs the shrinkers (our cache's among them) in this thread;
 *   - a one-second timerfd: the clock and delayed flush_all.
 *
 * Lock order: the main thread holds no lock of its own across a call into
 * the library or items.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "slabcached.h"

struct sd_settings sd_settings = {
	.port = 11211,
	.listen = "127.0.0.1",
	.maxbytes = (size_t)64 << 20,
	.maxconns = 1024,
	.threads = 4,
	.item_size_max = (size_t)1 << 20,
	.pressure = "auto",
	.idle_timeout = 30,
	.factor = 1.25,
	.policy = "lru",
};

struct sd_stats sd_stats;
time_t sd_process_started;

static _Atomic int64_t clock_now;
static struct sc_pressure *pressure;
static unsigned int pressure_sources;
static bool pressure_off;

#define MAX_LISTEN 16
static int listen_fds[MAX_LISTEN];
static int nlisten;
static int main_epfd = -1;
static bool accept_paused; /* out of descriptors: retried on the tick */

int64_t sd_now(void)
{
	return atomic_load_explicit(&clock_now, memory_order_relaxed);
}

static void clock_update(void)
{
	atomic_store_explicit(&clock_now, (int64_t)time(NULL),
			      memory_order_relaxed);
}

/* ------------------------------------------------------------ stats */

static const char *level_names[] = { "none", "low", "medium", "critical" };

void sd_stats_general(struct sd_outbuf *o)
{
	struct rusage ru;
	int64_t now = sd_now();

	getrusage(RUSAGE_SELF, &ru);
	sd_out_stat(o, "pid", "%ld", (long)getpid());
	sd_out_stat(o, "uptime", "%" PRId64, now - sd_process_started);
	sd_out_stat(o, "time", "%" PRId64, now);
	sd_out_stat(o, "version", "%s", SD_VERSION);
	sd_out_stat(o, "libslabcache", "%s", sc_version_string());
	sd_out_stat(o, "alloc_backend", "%s", sc_alloc_backend());
	sd_out_stat(o, "pointer_size", "%zu", 8 * sizeof(void *));
	sd_out_stat(o, "rusage_user", "%ld.%06ld", (long)ru.ru_utime.tv_sec,
		    (long)ru.ru_utime.tv_usec);
	sd_out_stat(o, "rusage_system", "%ld.%06ld", (long)ru.ru_stime.tv_sec,
		    (long)ru.ru_stime.tv_usec);
	sd_out_stat(o, "max_connections", "%d", sd_settings.maxconns);
	sd_out_stat(o, "curr_connections", "%ld",
		    atomic_load(&sd_stats.curr_connections));
	sd_out_stat(o, "total_connections", "%llu",
		    sd_stat_get(&sd_stats.total_connections));
	sd_out_stat(o, "rejected_connections", "%llu",
		    sd_stat_get(&sd_stats.rejected_connections));
	sd_out_stat(o, "conn_buffer_bytes", "%lld",
		    atomic_load(&sd_stats.conn_buffer_bytes));
	sd_out_stat(o, "conn_buffer_peak", "%lld",
		    atomic_load(&sd_stats.conn_buffer_peak));
	sd_out_stat(o, "conn_closed_line_too_long", "%llu",
		    sd_stat_get(&sd_stats.conn_closed_line_too_long));
	sd_out_stat(o, "conn_closed_idle", "%llu",
		    sd_stat_get(&sd_stats.conn_closed_idle));
#define STAT_U(name) sd_out_stat(o, #name, "%llu", sd_stat_get(&sd_stats.name))
	STAT_U(cmd_get);
	STAT_U(cmd_set);
	STAT_U(cmd_flush);
	STAT_U(cmd_touch);
	STAT_U(get_hits);
	STAT_U(get_misses);
	STAT_U(get_expired);
	STAT_U(get_flushed);
	STAT_U(delete_misses);
	STAT_U(delete_hits);
	STAT_U(incr_misses);
	STAT_U(incr_hits);
	STAT_U(decr_misses);
	STAT_U(decr_hits);
	STAT_U(cas_misses);
	STAT_U(cas_hits);
	STAT_U(cas_badval);
	STAT_U(touch_hits);
	STAT_U(touch_misses);
	STAT_U(store_too_large);
	STAT_U(store_no_memory);
	STAT_U(admission_rejects);
	STAT_U(bytes_read);
	STAT_U(bytes_written);
#undef STAT_U
	sd_out_stat(o, "limit_maxbytes", "%zu", sd_settings.maxbytes);
	sd_out_stat(o, "threads", "%d", sd_settings.threads);
	sd_items_stats(o);
}

void sd_stats_settings(struct sd_outbuf *o)
{
	sd_out_stat(o, "maxbytes", "%zu", sd_settings.maxbytes);
	sd_out_stat(o, "maxconns", "%d", sd_settings.maxconns);
	sd_out_stat(o, "tcpport", "%d",
		    sd_settings.socket_path ? 0 : sd_settings.port);
	sd_out_stat(o, "udpport", "0");
	sd_out_stat(o, "inter", "%s", sd_settings.listen);
	sd_out_stat(o, "verbosity", "%d", sd_settings.verbose);
	sd_out_stat(o, "num_threads", "%d", sd_settings.threads);
	sd_out_stat(o, "domain_socket", "%s",
		    sd_settings.socket_path ? sd_settings.socket_path : "NULL");
	sd_out_stat(o, "growth_factor", "%.2f", sd_settings.factor);
	sd_out_stat(o, "chunk_size_max", "%zu", sd_chunk_max());
	sd_out_stat(o, "item_size_max", "%zu", sd_settings.item_size_max);
	sd_out_stat(o, "evictions", "on");
	sd_out_stat(o, "cas_enabled", "yes");
	sd_out_stat(o, "binding_protocol", "ascii");
	sd_out_stat(o, "idle_timeout", "%d", sd_settings.idle_timeout);
	sd_out_stat(o, "pressure", "%s", sd_settings.pressure);
	sd_out_stat(o, "policy", "%s", sd_settings.policy);
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

static void sources_string(char *buf, size_t len)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} names[] = {
		{ SC_PRESSURE_SRC_PSI, "psi" },
		{ SC_PRESSURE_SRC_PSI_CGROUP, "psi_cgroup" },
		{ SC_PRESSURE_SRC_CGROUP_V1, "cgroup_v1" },
		{ SC_PRESSURE_SRC_SYSTEMD, "systemd" },
		{ SC_PRESSURE_SRC_CGROUP_USAGE, "cgroup_usage" },
	};
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(pressure_sources & names[i].bit))
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					off ? "," : "", names[i].name);
		if (off >= len)
			break;
	}
	if (!buf[0])
		snprintf(buf, len, "%s", pressure_off ? "off" : "none");
}

void sd_stats_pressure(struct sd_outbuf *o)
{
	char src[128];
	int i;

	sources_string(src, sizeof(src));
	sd_out_stat(o, "pressure_mode", "%s", sd_settings.pressure);
	sd_out_stat(o, "pressure_sources", "%s", src);
	for (i = SC_PRESSURE_LOW; i <= SC_PRESSURE_CRITICAL; i++) {
		char name[32];

		snprintf(name, sizeof(name), "events_%s", level_names[i]);
		sd_out_stat(o, name, "%llu",
			    sd_stat_get(&sd_stats.pressure_events[i]));
	}
	sd_out_stat(o, "items_shed", "%llu", sd_stat_get(&sd_stats.items_shed));
	sd_out_stat(o, "bytes_shed", "%llu", sd_stat_get(&sd_stats.bytes_shed));
	sd_out_stat(o, "last_event_time", "%lld",
		    (long long)atomic_load(&sd_stats.last_pressure_time));
	sd_out_stat(o, "last_event_level", "%s",
		    level_names[atomic_load(&sd_stats.last_pressure_level)]);
}

void sd_stats_reset(void)
{
	atomic_ullong *counters[] = {
		&sd_stats.cmd_get,	     &sd_stats.cmd_set,
		&sd_stats.cmd_flush,	     &sd_stats.cmd_touch,
		&sd_stats.get_hits,	     &sd_stats.get_misses,
		&sd_stats.get_expired,	     &sd_stats.get_flushed,
		&sd_stats.delete_hits,	     &sd_stats.delete_misses,
		&sd_stats.incr_hits,	     &sd_stats.incr_misses,
		&sd_stats.decr_hits,	     &sd_stats.decr_misses,
		&sd_stats.cas_hits,	     &sd_stats.cas_misses,
		&sd_stats.cas_badval,	     &sd_stats.touch_hits,
		&sd_stats.touch_misses,	     &sd_stats.bytes_read,
		&sd_stats.bytes_written,     &sd_stats.total_items,
		&sd_stats.total_connections, &sd_stats.rejected_connections,
	};
	size_t i;

	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		atomic_store(counters[i], 0);
}

/* ------------------------------------------------------------ options */

static void usage(FILE *f)
{
	fprintf(f,
		"slabcached " SD_VERSION
		": a memcached-compatible cache that sheds memory under pressure\n"
		"\n"
		"Usage: slabcached [options]\n"
		"  -p, --port=<num>          TCP port to listen on (default: 11211; 0: off)\n"
		"  -l, --listen=<addr>       interface to listen on (default: 127.0.0.1)\n"
		"  -s, --unix-socket=<file>  UNIX socket to listen on (disables TCP)\n"
		"  -m, --memory-limit=<num>  item memory in megabytes (default: 64)\n"
		"  -c, --conn-limit=<num>    max simultaneous connections (default: 1024)\n"
		"  -t, --threads=<num>       worker threads (default: 4)\n"
		"  -I, --max-item-size=<num> max item size, k/m suffix (default: 1m;\n"
		"                            1k to 128m)\n"
		"  -f, --slab-growth-factor=<num> size class factor, 1.05 to 4\n"
		"                            (default: 1.25)\n"
		"  -v, --verbose             verbose (repeat for more)\n"
		"      --pressure=<mode>     memory-pressure source: auto, psi, cgroup,\n"
		"                            systemd or off (default: auto; honours\n"
		"                            $MEMORY_PRESSURE_WATCH)\n"
		"      --idle-timeout=<sec>  close a connection whose half-written\n"
		"                            command made no progress for this long\n"
		"                            (default: 30; 0: never)\n"
		"      --policy=<name>       eviction policy: lru, sieve or s3fifo\n"
		"                            (default: lru)\n"
		"  -h, --help                this help\n"
		"  -V, --version             print version and exit\n"
		"\n"
		"Signals: SIGTERM, SIGINT stop cleanly; SIGUSR1 sheds as under MEDIUM\n"
		"pressure, SIGUSR2 as under CRITICAL; SIGHUP is ignored.\n");
}

static bool parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return false;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case '\0':
		break;
	default:
		return false;
	}
	if (*end)
		return false;
	*out = (size_t)v;
	return true;
}

static bool parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = (int)v;
	return true;
}

enum { OPT_PRESSURE = 256, OPT_IDLE_TIMEOUT, OPT_POLICY };

static int parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "listen", required_argument, NULL, 'l' },
		{ "unix-socket", required_argument, NULL, 's' },
		{ "memory-limit", required_argument, NULL, 'm' },
		{ "conn-limit", required_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 't' },
		{ "max-item-size", required_argument, NULL, 'I' },
		{ "slab-growth-factor", required_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "pressure", required_argument, NULL, OPT_PRESSURE },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, mb;

	while ((opt = getopt_long(argc, argv, "p:l:s:m:c:t:I:f:vhV", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (!parse_int(optarg, 0, 65535, &sd_settings.port))
				goto bad;
			break;
		case 'l':
			sd_settings.listen = optarg;
			break;
		case 's':
			sd_settings.socket_path = optarg;
			break;
		case 'm':
			if (!parse_int(optarg, 1, 1 << 20, &mb))
				goto bad;
			sd_settings.maxbytes = (size_t)mb << 20;
			break;
		case 'c':
			if (!parse_int(optarg, 1, 1 << 20,
				       &sd_settings.maxconns))
				goto bad;
			break;
		case 't':
			if (!parse_int(optarg, 1, 256, &sd_settings.threads))
				goto bad;
			break;
		case 'I':
			if (!parse_size(optarg, &sd_settings.item_size_max) ||
			    sd_settings.item_size_max < 1024 ||
			    sd_settings.item_size_max > ((size_t)128 << 20))
				goto bad;
			break;
		case 'f': {
			char *end;

			sd_settings.factor = strtod(optarg, &end);
			if (*end || !(sd_settings.factor >= 1.05) ||
			    sd_settings.factor > 4.0)
				goto bad;
			break;
		}
		case 'v':
			sd_settings.verbose++;
			break;
		case OPT_PRESSURE:
			if (strcmp(optarg, "auto") && strcmp(optarg, "psi") &&
			    strcmp(optarg, "cgroup") &&
			    strcmp(optarg, "systemd") && strcmp(optarg, "off"))
				goto bad;
			sd_settings.pressure = optarg;
			break;
		case OPT_POLICY:
			if (!strcmp(optarg, "lru"))
				sd_settings.cache_flags = 0;
			else if (!strcmp(optarg, "sieve"))
				sd_settings.cache_flags = SC_CACHE_POLICY_SIEVE;
			else if (!strcmp(optarg, "s3fifo"))
				sd_settings.cache_flags =
					SC_CACHE_POLICY_S3FIFO;
			else
				goto bad;
			sd_settings.policy = optarg;
			break;
		case OPT_IDLE_TIMEOUT:
			if (!parse_int(optarg, 0, 86400 * 365,
				       &sd_settings.idle_timeout))
				goto bad;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("slabcached %s (libslabcache %s)\n", SD_VERSION,
			       sc_version_string());
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "slabcached: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	if (sd_settings.item_size_max > sd_settings.maxbytes / 2) {
		fprintf(stderr, "slabcached: -I must be at most half of -m\n");
		return -1;
	}
	return 0;
bad:
	if (opt < 256)
		fprintf(stderr, "slabcached: bad value '%s' for -%c\n", optarg,
			opt);
	else
		fprintf(stderr, "slabcached: bad value '%s' for --%s\n", optarg,
			opt == OPT_PRESSURE ? "pressure" :
			opt == OPT_POLICY   ? "policy" :
					      "idle-timeout");
	return -1;
}

/* ------------------------------------------------------------ sockets */

static int listen_tcp(void)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	char port[16];
	int ret;

	snprintf(port, sizeof(port), "%d", sd_settings.port);
	ret = getaddrinfo(sd_settings.listen, port, &hints, &res);
	if (ret) {
		fprintf(stderr, "slabcached: %s: %s\n", sd_settings.listen,
			gai_strerror(ret));
		return -1;
	}
	for (ai = res; ai && nlisten < MAX_LISTEN; ai = ai->ai_next) {
		int one = 1;
		int fd = socket(ai->ai_family,
				ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);

		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/*
		 * Accepted connections inherit it. Without it, a reply sent
		 * while the previous one is still unacknowledged (a client
		 * that pipelines) waits for that ACK, which the client may
		 * delay by up to 40 ms. memcached sets it too.
		 */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				   sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		    listen(fd, 1024) < 0) {
			fprintf(stderr, "slabcached: bind %s:%d: %s\n",
				sd_settings.listen, sd_settings.port,
				strerror(errno));
			close(fd);
			continue;
		}
		listen_fds[nlisten++] = fd;
	}
	freeaddrinfo(res);
	return nlisten ? 0 : -1;
}

static int listen_unix(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(sd_settings.socket_path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "slabcached: socket path too long\n");
		return -1;
	}
	strcpy(sun.sun_path, sd_settings.socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto err;
	/* a stale socket from an earlier run goes, as in memcached; never
	 * anything else */
	if (lstat(sd_settings.socket_path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(sd_settings.socket_path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, 1024) < 0) {
		close(fd);
		goto err;
	}
	listen_fds[nlisten++] = fd;
	return 0;
err:
	fprintf(stderr, "slabcached: %s: %s\n", sd_settings.socket_path,
		strerror(errno));
	return -1;
}

/*
 * Out of descriptors: the pending connection stays in the backlog and the
 * listening socket stays readable, so stop polling it (instead of spinning)
 * until the next one-second tick.
 */
static void accept_pause(void)
{
	int i;

	if (accept_paused)
		return;
	if (sd_settings.verbose)
		fprintf(stderr, "slabcached: accept: %s; pausing 1 s\n",
			strerror(errno));
	for (i = 0; i < nlisten; i++)
		epoll_ctl(main_epfd, EPOLL_CTL_DEL, listen_fds[i], NULL);
	accept_paused = true;
}

static void accept_resume(void)
{
	int i;

	if (!accept_paused)
		return;
	for (i = 0; i < nlisten; i++) {
		struct epoll_event ev = { .events = EPOLLIN,
					  .data.ptr = &listen_fds[i] };

		epoll_ctl(main_epfd, EPOLL_CTL_ADD, listen_fds[i], &ev);
	}
	accept_paused = false;
}

static void accept_all(int lfd)
{
	static const char too_many[] = "ERROR Too many open connections\r\n";

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		long curr;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE)
				accept_pause();
			return;
		}
		curr = atomic_fetch_add(&sd_stats.curr_connections, 1) + 1;
		if (curr > sd_settings.maxconns) {
			/* as memcached: say why, then close */
			if (write(fd, too_many, sizeof(too_many) - 1) < 0 &&
			    sd_settings.verbose)
				perror("slabcached: refusing");
			close(fd);
			atomic_fetch_sub(&sd_stats.curr_connections, 1);
			sd_stat_add(&sd_stats.rejected_connections, 1);
			continue;
		}
		sd_stat_add(&sd_stats.total_connections, 1);
		if (sd_conn_dispatch(fd) < 0) {
			close(fd);
			atomic_fetch_sub(&sd_stats.curr_connections, 1);
		}
	}
}

/* Enough descriptors for -c connections and our own. */
static void raise_nofile(void)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)sd_settings.maxconns + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		fprintf(stderr,
			"slabcached: only %llu file descriptors for -c %d\n",
			(unsigned long long)rl.rlim_cur, sd_settings.maxconns);
}

/* ------------------------------------------------------------ pressure */

/*
 * --pressure=cgroup: every source of the process's own cgroup that works
 * here (v2 PSI, v1 levels, usage thresholds; the last needs a limit).
 */
static unsigned int cgroup_sources(void)
{
	static const unsigned int each[] = {
		SC_PRESSURE_SRC_PSI_CGROUP,
		SC_PRESSURE_SRC_CGROUP_V1,
		SC_PRESSURE_SRC_CGROUP_USAGE,
	};
	unsigned int i, ok = 0;

	for (i = 0; i < sizeof(each) / sizeof(each[0]); i++) {
		struct sc_pressure_config cfg = { .sources = each[i] };
		struct sc_pressure *p = sc_pressure_open(&cfg);

		if (p)
			ok |= each[i];
		else if (sd_settings.verbose)
			fprintf(stderr, "slabcached: cgroup source %#x: %s\n",
				each[i], strerror(errno));
		sc_pressure_close(p);
	}
	return ok;
}

static int pressure_open(void)
{
	struct sc_pressure_config cfg = { 0 };
	const char *mode = sd_settings.pressure;

	if (strcmp(mode, "off") == 0) {
		pressure_off = true;
		return 0;
	}
	if (strcmp(mode, "psi") == 0) {
		cfg.sources = SC_PRESSURE_SRC_PSI;
	} else if (strcmp(mode, "systemd") == 0) {
		cfg.sources = SC_PRESSURE_SRC_SYSTEMD;
	} else if (strcmp(mode, "cgroup") == 0) {
		cfg.sources = cgroup_sources();
		if (!cfg.sources) {
			fprintf(stderr,
				"slabcached: --pressure=cgroup: no cgroup "
				"pressure source works here\n");
			return -1;
		}
	} else {
		cfg.sources = SC_PRESSURE_SRC_AUTO;
	}
	pressure = sc_pressure_open(&cfg);
	if (!pressure) {
		fprintf(stderr, "slabcached: --pressure=%s: %s%s\n", mode,
			strerror(errno),
			errno == ENOENT &&
					cfg.sources == SC_PRESSURE_SRC_SYSTEMD ?
				" ($MEMORY_PRESSURE_WATCH not set?)" :
				"");
		return -1;
	}
	pressure_sources = sc_pressure_sources(pressure);
	if (sd_settings.verbose) {
		char src[128];

		sources_string(src, sizeof(src));
		fprintf(stderr, "slabcached: pressure sources: %s\n", src);
	}
	return 0;
}

static void pressure_note(int level, unsigned long long items,
			  unsigned long long bytes)
{
	if (level <= 0 || level > SC_PRESSURE_CRITICAL)
		return;
	sd_stat_add(&sd_stats.pressure_events[level], 1);
	sd_stat_add(&sd_stats.items_shed, items);
	sd_stat_add(&sd_stats.bytes_shed, bytes);
	atomic_store(&sd_stats.last_pressure_time, sd_now());
	atomic_store(&sd_stats.last_pressure_level, level);
	if (sd_settings.verbose)
		fprintf(stderr,
			"slabcached: %s pressure: shed %llu items, %llu bytes\n",
			level_names[level], items, bytes);
}

static void pressure_dispatch(void)
{
	unsigned long long items, bytes;
	int level;

	sd_items_shed_begin();
	level = sc_pressure_dispatch(pressure);
	sd_items_shed_end(&items, &bytes);
	if (level < 0 && sd_settings.verbose)
		fprintf(stderr, "slabcached: pressure dispatch: %s\n",
			strerror(-level));
	pressure_note(level, items, bytes);
}

/* A shed asked for by signal: through the monitor, or directly if off. */
static void pressure_request(enum sc_pressure_level level)
{
	unsigned long long items, bytes;

	if (pressure) {
		sc_pressure_notify(pressure, level);
		return;
	}
	sd_items_shed_begin();
	sc_shrink_memory(level);
	sd_items_shed_end(&items, &bytes);
	pressure_note((int)level, items, bytes);
}

/* ------------------------------------------------------------ main */

/*
 * Test hook: SLABCACHED_FAULT_INJECT=<n> makes the nth allocation of the
 * library from start-up on fail (sc_fault_inject(), one-shot), so that the
 * tests can walk every failure path of start-up and of the first commands.
 */
static void fault_inject_from_env(void)
{
	const char *v = getenv("SLABCACHED_FAULT_INJECT");
	unsigned long n;
	char *end;

	if (!v || !*v)
		return;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end) {
		fprintf(stderr, "slabcached: bad SLABCACHED_FAULT_INJECT\n");
		return;
	}
	sc_fault_inject(n);
}

static int add_fd(int epfd, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static char tag_signal, tag_timer, tag_pressure;

static int main_loop(int sigfd, int timerfd)
{
	struct epoll_event evs[16];
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	int i, ret = 0;

	main_epfd = epfd;

	if (epfd < 0 || add_fd(epfd, sigfd, &tag_signal) < 0 ||
	    add_fd(epfd, timerfd, &tag_timer) < 0)
		goto err;
	if (pressure &&
	    add_fd(epfd, sc_pressure_fd(pressure), &tag_pressure) < 0)
		goto err;
	for (i = 0; i < nlisten; i++)
		if (add_fd(epfd, listen_fds[i], &listen_fds[i]) < 0)
			goto err;

	for (;;) {
		int n = epoll_wait(epfd, evs, 16, -1);

		if (n < 0 && errno != EINTR)
			goto err;
		for (i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == &tag_signal) {
				struct signalfd_siginfo si;

				if (read(sigfd, &si, sizeof(si)) != sizeof(si))
					continue;
				switch (si.ssi_signo) {
				case SIGTERM:
				case SIGINT:
					if (sd_settings.verbose)
						fprintf(stderr,
							"slabcached: signal %u, "
							"stopping\n",
							si.ssi_signo);
					goto out;
				case SIGUSR1:
					pressure_request(SC_PRESSURE_MEDIUM);
					break;
				case SIGUSR2:
					pressure_request(SC_PRESSURE_CRITICAL);
					break;
				default: /* SIGHUP: ignored */
					break;
				}
			} else if (tag == &tag_timer) {
				uint64_t ticks;

				if (read(timerfd, &ticks, sizeof(ticks)) < 0)
					continue;
				clock_update();
				sd_items_tick(sd_now());
				accept_resume();
			} else if (tag == &tag_pressure) {
				pressure_dispatch();
			} else {
				accept_all(*(int *)tag);
			}
		}
	}
err:
	perror("slabcached: main loop");
	ret = -1;
out:
	if (epfd >= 0)
		close(epfd);
	return ret;
}

int main(int argc, char **argv)
{
	struct itimerspec its = { .it_interval = { 1, 0 },
				  .it_value = { 1, 0 } };
	sigset_t mask;
	int sigfd = -1, timerfd = -1, ret = 1, i, err;

	if (parse_options(argc, argv) < 0)
		return 2;
	clock_update();
	sd_process_started = time(NULL) - 2; /* as memcached */

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	/* blocked before any thread starts, so every thread inherits it */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (sigfd < 0 || timerfd < 0 ||
	    timerfd_settime(timerfd, 0, &its, NULL)) {
		perror("slabcached");
		goto out;
	}
	raise_nofile();
	fault_inject_from_env();
	err = sd_items_init();
	if (err < 0) {
		fprintf(stderr, "slabcached: items: %s\n", strerror(-err));
		goto out;
	}
	if (pressure_open() < 0)
		goto out_items;
	if (sd_settings.socket_path ? listen_unix() < 0 :
				      sd_settings.port && listen_tcp() < 0)
		goto out_pressure;
	if (!nlisten) {
		fprintf(stderr, "slabcached: nothing to listen on\n");
		goto out_pressure;
	}
	if (sd_workers_start(sd_settings.threads) < 0) {
		perror("slabcached: threads");
		goto out_listen;
	}
	if (sd_settings.verbose)
		fprintf(stderr,
			"slabcached %s: %s%s%s port %d, -m %zu MiB, %d threads, "
			"policy %s\n",
			SD_VERSION, sd_settings.socket_path ? "unix " : "",
			sd_settings.socket_path ? sd_settings.socket_path :
						  sd_settings.listen,
			"", sd_settings.port, sd_settings.maxbytes >> 20,
			sd_settings.threads, sd_settings.policy);
	ret = main_loop(sigfd, timerfd) < 0 ? 1 : 0;
	sd_workers_stop();
out_listen:
	for (i = 0; i < nlisten; i++)
		close(listen_fds[i]);
	if (sd_settings.socket_path)
		unlink(sd_settings.socket_path);
out_pressure:
	sc_pressure_close(pressure);
out_items:
	sd_items_exit();
out:
	if (sigfd >= 0)
		close(sigfd);
	if (timerfd >= 0)
		close(timerfd);
	return ret;
}
