// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabcached: a memcached-compatible daemon that embeds slabcache and sheds
 * memory under pressure. This file: options, listening sockets, and the
 * main thread's epoll loop, which owns
 *
 *   - the listening sockets: accept, refuse past -c, hand to a worker;
 *   - a signalfd: SIGTERM/SIGINT stop, SIGUSR1/SIGUSR2 shed (MEDIUM /
 *     CRITICAL) through sc_pressure_notify(), SIGHUP is ignored;
 *   - an eventfd by which the "shutdown" command stops the daemon;
 *   - the pressure fd of sc_pressure_fd(): dispatch on readiness, which
 *     runs the shrinkers (our cache's among them) in this thread;
 *   - a one-second timerfd: the clock, the flush sweep, and accepting
 *     again after running out of descriptors.
 *
 * Lock order: the main thread holds no lock of its own across a call into
 * the library or items.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "slabcached.h"

static struct sc_pressure *pressure;
static unsigned int pressure_sources;
static bool pressure_off;
static const char *pid_file;
static const char *run_as;
static bool daemonize_opt, lock_memory, core_dumps;

#define MAX_LISTEN 16
static int listen_fds[MAX_LISTEN];
static struct sd_conn_info *listen_infos[MAX_LISTEN];
static int nlisten;
static int main_epfd = -1;
static int shutdown_fd = -1;
static bool accept_paused; /* out of descriptors: retried on the tick */

/* ------------------------------------------------------------ options */

static void usage(FILE *f)
{
	fprintf(f,
		"slabcached " SD_VERSION
		": a memcached-compatible cache that sheds memory under pressure\n"
		"\n"
		"Usage: slabcached [options]\n"
		"  -p, --port=<num>          TCP port to listen on (default: 11211; 0: off;\n"
		"                            -1: any free port)\n"
		"  -U, --udp-port=<num>      UDP port: only 0 (off), UDP is not supported\n"
		"  -s, --unix-socket=<file>  UNIX socket to listen on (disables TCP)\n"
		"  -a, --unix-mask=<mask>    access mask for the UNIX socket, octal\n"
		"                            (default: 700)\n"
		"  -A, --enable-shutdown     enable the \"shutdown\" command\n"
		"  -l, --listen=<addr>       interface to listen on (default: 127.0.0.1)\n"
		"  -d, --daemon              run in the background\n"
		"  -P, --pidfile=<file>      write the process id to <file>\n"
		"  -u, --user=<user>         run as <user> (when started as root)\n"
		"  -m, --memory-limit=<num>  item memory in megabytes (default: 64)\n"
		"  -M, --disable-evictions   refuse a store that needs memory instead of\n"
		"                            evicting\n"
		"  -c, --conn-limit=<num>    max simultaneous connections (default: 1024)\n"
		"  -k, --lock-memory         lock all memory (mlockall)\n"
		"  -r, --enable-coredumps    raise the core file limit\n"
		"  -v, --verbose             verbose (repeat for more)\n"
		"  -t, --threads=<num>       worker threads (default: 4)\n"
		"  -R, --max-reqs-per-event=<num> commands served per connection before\n"
		"                            yielding to others (default: 20)\n"
		"  -C, --disable-cas         no CAS uniques (all read 0)\n"
		"  -b, --listen-backlog=<num> listen backlog (default: 1024)\n"
		"  -B, --protocol=<name>     ascii, binary or auto (default: auto)\n"
		"  -I, --max-item-size=<num> max item size, k/m suffix (default: 1m;\n"
		"                            1k to 128m)\n"
		"  -f, --slab-growth-factor=<num> size class factor, 1.05 to 4\n"
		"                            (default: 1.25)\n"
		"  -F, --disable-flush-all   refuse flush_all\n"
		"  -X, --disable-dumping     refuse stats cachedump\n"
		"  -D <char>                 key prefix delimiter of \"stats detail\";\n"
		"                            turns it on\n"
		"  -o, --extended=<opts>     comma-separated: idle_timeout=<sec>,\n"
		"                            maxconns_fast, no_maxconns_fast\n"
		"      --pressure=<mode>     memory-pressure source: auto, psi, cgroup,\n"
		"                            systemd or off (default: auto; honours\n"
		"                            $MEMORY_PRESSURE_WATCH)\n"
		"      --idle-timeout=<sec>  close a connection idle between commands\n"
		"                            for longer (as -o idle_timeout; default: 0,\n"
		"                            never)\n"
		"      --command-timeout=<sec> close a connection whose half-written\n"
		"                            command made no progress for this long\n"
		"                            (default: 30; 0: never)\n"
		"      --policy=<name>       eviction policy: lru, sieve or s3fifo\n"
		"                            (default: lru)\n"
		"  -h, --help                this help\n"
		"  -V, --version             print version and exit\n"
		"\n"
		"Signals: SIGTERM, SIGINT stop cleanly; SIGUSR1 sheds as under MEDIUM\n"
		"pressure, SIGUSR2 as under CRITICAL; SIGHUP is ignored.\n"
		"Environment: MEMCACHED_PORT_FILENAME=<file>: the TCP ports bound, as\n"
		"memcached writes them.\n");
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

/* -o a,b=c: the extended options that mean something here. */
static int parse_extended(char *opts)
{
	char *save = NULL, *o;

	for (o = strtok_r(opts, ",", &save); o;
	     o = strtok_r(NULL, ",", &save)) {
		char *val = strchr(o, '=');

		if (val)
			*val++ = '\0';
		if (strcmp(o, "idle_timeout") == 0) {
			if (!val || !parse_int(val, 0, 86400 * 365,
					       &sd_settings.idle_timeout)) {
				fprintf(stderr,
					"slabcached: bad idle_timeout\n");
				return -1;
			}
		} else if (strcmp(o, "maxconns_fast") == 0) {
			sd_settings.maxconns_fast = true;
		} else if (strcmp(o, "no_maxconns_fast") == 0) {
			sd_settings.maxconns_fast = false;
		} else {
			fprintf(stderr,
				"slabcached: -o %s is not supported (see "
				"Documentation/slabcached.rst)\n",
				o);
			return -1;
		}
	}
	return 0;
}

enum {
	OPT_PRESSURE = 256,
	OPT_IDLE_TIMEOUT,
	OPT_COMMAND_TIMEOUT,
	OPT_POLICY,
};

static int parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "udp-port", required_argument, NULL, 'U' },
		{ "unix-socket", required_argument, NULL, 's' },
		{ "unix-mask", required_argument, NULL, 'a' },
		{ "enable-shutdown", no_argument, NULL, 'A' },
		{ "listen", required_argument, NULL, 'l' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "pidfile", required_argument, NULL, 'P' },
		{ "user", required_argument, NULL, 'u' },
		{ "memory-limit", required_argument, NULL, 'm' },
		{ "disable-evictions", no_argument, NULL, 'M' },
		{ "conn-limit", required_argument, NULL, 'c' },
		{ "lock-memory", no_argument, NULL, 'k' },
		{ "enable-coredumps", no_argument, NULL, 'r' },
		{ "threads", required_argument, NULL, 't' },
		{ "max-reqs-per-event", required_argument, NULL, 'R' },
		{ "disable-cas", no_argument, NULL, 'C' },
		{ "listen-backlog", required_argument, NULL, 'b' },
		{ "protocol", required_argument, NULL, 'B' },
		{ "max-item-size", required_argument, NULL, 'I' },
		{ "slab-growth-factor", required_argument, NULL, 'f' },
		{ "disable-flush-all", no_argument, NULL, 'F' },
		{ "disable-dumping", no_argument, NULL, 'X' },
		{ "extended", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "pressure", required_argument, NULL, OPT_PRESSURE },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
		{ "command-timeout", required_argument, NULL,
		  OPT_COMMAND_TIMEOUT },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, mb, v;
	char *end;

	while ((opt = getopt_long(
			argc, argv,
			"p:U:s:a:Al:dP:u:m:Mc:krt:R:Cb:B:I:f:FXD:o:vhV",
			longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			/* -1: a port of the kernel's choosing, as memcached */
			if (!parse_int(optarg, -1, 65535, &sd_settings.port))
				goto bad;
			break;
		case 'U':
			if (!parse_int(optarg, 0, 65535, &v))
				goto bad;
			if (v) {
				fprintf(stderr, "slabcached: UDP is not "
						"supported (-U must be 0)\n");
				return -1;
			}
			break;
		case 's':
			sd_settings.socket_path = optarg;
			break;
		case 'a':
			errno = 0;
			sd_settings.socket_mask = (int)strtol(optarg, &end, 8);
			if (errno || *end || end == optarg ||
			    sd_settings.socket_mask < 0 ||
			    sd_settings.socket_mask > 0777)
				goto bad;
			break;
		case 'A':
			sd_settings.shutdown_command = true;
			break;
		case 'l':
			sd_settings.listen = optarg;
			break;
		case 'd':
			daemonize_opt = true;
			break;
		case 'P':
			pid_file = optarg;
			break;
		case 'u':
			run_as = optarg;
			break;
		case 'm':
			if (!parse_int(optarg, 1, 1 << 20, &mb))
				goto bad;
			sd_settings.maxbytes = (size_t)mb << 20;
			break;
		case 'M':
			sd_settings.evict_to_free = false;
			break;
		case 'c':
			if (!parse_int(optarg, 1, 1 << 20,
				       &sd_settings.maxconns))
				goto bad;
			break;
		case 'k':
			lock_memory = true;
			break;
		case 'r':
			core_dumps = true;
			break;
		case 't':
			if (!parse_int(optarg, 1, 256, &sd_settings.threads))
				goto bad;
			break;
		case 'R':
			if (!parse_int(optarg, 1, INT_MAX,
				       &sd_settings.reqs_per_event))
				goto bad;
			break;
		case 'C':
			sd_settings.use_cas = false;
			break;
		case 'b':
			if (!parse_int(optarg, 1, INT_MAX,
				       &sd_settings.backlog))
				goto bad;
			break;
		case 'B':
			if (strcmp(optarg, "auto") == 0)
				sd_settings.protocol = SD_PROTO_AUTO;
			else if (strcmp(optarg, "ascii") == 0)
				sd_settings.protocol = SD_PROTO_ASCII;
			else if (strcmp(optarg, "binary") == 0)
				sd_settings.protocol = SD_PROTO_BINARY;
			else
				goto bad;
			break;
		case 'I':
			if (!parse_size(optarg, &sd_settings.item_size_max) ||
			    sd_settings.item_size_max < 1024 ||
			    sd_settings.item_size_max > ((size_t)128 << 20))
				goto bad;
			break;
		case 'f':
			sd_settings.factor = strtod(optarg, &end);
			if (*end || !(sd_settings.factor >= 1.05) ||
			    sd_settings.factor > 4.0)
				goto bad;
			break;
		case 'F':
			sd_settings.flush_enabled = false;
			break;
		case 'X':
			sd_settings.dump_enabled = false;
			break;
		case 'D':
			if (!optarg[0] || optarg[1])
				goto bad;
			sd_settings.prefix_delimiter = optarg[0];
			atomic_store(&sd_settings.detail_enabled, true);
			break;
		case 'o':
			if (parse_extended(optarg) < 0)
				return -1;
			break;
		case 'v':
			atomic_fetch_add(&sd_settings.verbose, 1);
			break;
		case OPT_PRESSURE:
			if (strcmp(optarg, "auto") && strcmp(optarg, "psi") &&
			    strcmp(optarg, "cgroup") &&
			    strcmp(optarg, "systemd") && strcmp(optarg, "off"))
				goto bad;
			sd_settings.pressure = optarg;
			break;
		case OPT_IDLE_TIMEOUT:
			if (!parse_int(optarg, 0, 86400 * 365,
				       &sd_settings.idle_timeout))
				goto bad;
			break;
		case OPT_COMMAND_TIMEOUT:
			if (!parse_int(optarg, 0, 86400 * 365,
				       &sd_settings.command_timeout))
				goto bad;
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
			opt == OPT_PRESSURE	? "pressure" :
			opt == OPT_IDLE_TIMEOUT ? "idle-timeout" :
			opt == OPT_POLICY	? "policy" :
						  "command-timeout");
	return -1;
}

/* ------------------------------------------------------------ sockets */

/* MEMCACHED_PORT_FILENAME: "TCP INET: <port>" per socket, as memcached. */
static void write_port_file(void)
{
	const char *name = getenv("MEMCACHED_PORT_FILENAME");
	char tmp[4096];
	FILE *f;
	int i;

	if (!name || sd_settings.socket_path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.lck", name);
	f = fopen(tmp, "a");
	if (!f) {
		fprintf(stderr, "Failed to open \"%s\": %s\n", tmp,
			strerror(errno));
		return;
	}
	for (i = 0; i < nlisten; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(listen_fds[i], (struct sockaddr *)&ss, &len))
			continue;
		if (ss.ss_family == AF_INET)
			fprintf(f, "TCP INET: %u\n",
				ntohs(((struct sockaddr_in *)&ss)->sin_port));
		else if (ss.ss_family == AF_INET6)
			fprintf(f, "TCP INET6: %u\n",
				ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	}
	fclose(f);
	if (rename(tmp, name) < 0)
		fprintf(stderr, "slabcached: %s: %s\n", name, strerror(errno));
}

static int listen_one(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	int ret, before = nlisten;

	ret = getaddrinfo(host, port, &hints, &res);
	if (ret) {
		fprintf(stderr, "slabcached: %s: %s\n", host ? host : "*",
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
		    listen(fd, sd_settings.backlog) < 0) {
			fprintf(stderr, "slabcached: bind %s:%s: %s\n",
				host ? host : "*", port, strerror(errno));
			close(fd);
			continue;
		}
		listen_fds[nlisten++] = fd;
	}
	freeaddrinfo(res);
	return nlisten > before ? 0 : -1;
}

/* -l: one or more addresses, comma or space separated ("host:port" too). */
static int listen_tcp(void)
{
	char *list = strdup(sd_settings.listen), *save = NULL, *tok;
	char port[16];
	int ret = 0;

	if (!list)
		return -1;
	snprintf(port, sizeof(port), "%d",
		 sd_settings.port < 0 ? 0 : sd_settings.port);
	for (tok = strtok_r(list, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		char *host = tok, *p = port, *colon = strrchr(tok, ':');

		if (tok[0] == '[') {
			char *close_br = strchr(tok, ']');

			if (close_br) {
				*close_br = '\0';
				host = tok + 1;
				if (close_br[1] == ':')
					p = close_br + 2;
			}
		} else if (colon && colon == strchr(tok, ':')) {
			*colon = '\0';
			p = colon + 1;
		}
		if (listen_one(host, p) < 0)
			ret = -1;
	}
	free(list);
	return ret;
}

static int listen_unix(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old_umask;
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
	old_umask = umask((mode_t)(~sd_settings.socket_mask & 0777));
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, sd_settings.backlog) < 0) {
		umask(old_umask);
		close(fd);
		goto err;
	}
	umask(old_umask);
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
	if (atomic_load(&sd_settings.verbose))
		fprintf(stderr, "slabcached: accept: %s; pausing 1 s\n",
			strerror(errno));
	for (i = 0; i < nlisten; i++)
		epoll_ctl(main_epfd, EPOLL_CTL_DEL, listen_fds[i], NULL);
	accept_paused = true;
	atomic_store(&sd_gstats.accepting_conns, false);
	atomic_fetch_add(&sd_gstats.listen_disabled_num, 1);
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
	atomic_store(&sd_gstats.accepting_conns, true);
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
		curr = atomic_fetch_add(&sd_gstats.curr_connections, 1) + 1;
		if (curr > sd_settings.maxconns) {
			/* as memcached: say why, then close */
			if (write(fd, too_many, sizeof(too_many) - 1) < 0 &&
			    atomic_load(&sd_settings.verbose))
				perror("slabcached: refusing");
			close(fd);
			atomic_fetch_sub(&sd_gstats.curr_connections, 1);
			atomic_fetch_add(&sd_gstats.rejected_connections, 1);
			continue;
		}
		atomic_fetch_add(&sd_gstats.total_connections, 1);
		if (sd_conn_dispatch(fd) < 0) {
			close(fd);
			atomic_fetch_sub(&sd_gstats.curr_connections, 1);
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

/*
 * -u: give up root for @run_as, after binding (low ports, -s paths).
 * Unlike memcached, root without -u stays root (no refusal): the unit
 * file runs the daemon with DynamicUser= instead.
 */
static int drop_privileges(void)
{
	struct passwd *pw;

	if (!run_as || (getuid() != 0 && geteuid() != 0))
		return 0;
	pw = getpwnam(run_as);
	if (!pw) {
		fprintf(stderr, "slabcached: unknown user '%s'\n", run_as);
		return -1;
	}
	if (pw->pw_uid == 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		fprintf(stderr, "slabcached: cannot become '%s': %s\n", run_as,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* -d: into the background, as memcached's daemonize(). */
static int daemonize(void)
{
	int fd;

	switch (fork()) {
	case -1:
		return -1;
	case 0:
		break;
	default:
		_exit(0);
	}
	if (setsid() < 0)
		return -1;
	if (chdir("/") < 0)
		return -1;
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		return -1;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

static int write_pid_file(void)
{
	FILE *f;

	if (!pid_file)
		return 0;
	f = fopen(pid_file, "w");
	if (!f) {
		fprintf(stderr, "slabcached: %s: %s\n", pid_file,
			strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f) == 0 ? 0 : -1;
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
		else if (atomic_load(&sd_settings.verbose))
			fprintf(stderr, "slabcached: cgroup source %#x: %s\n",
				each[i], strerror(errno));
		sc_pressure_close(p);
	}
	return ok;
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

/* "stats pressure": where pressure comes from (the counters: stats.c). */
void sd_pressure_sources_stat(struct sd_outbuf *o)
{
	char src[128];

	sources_string(src, sizeof(src));
	sd_out_stat(o, "pressure_mode", "%s", sd_settings.pressure);
	sd_out_stat(o, "pressure_sources", "%s", src);
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
	if (atomic_load(&sd_settings.verbose)) {
		char src[128];

		sources_string(src, sizeof(src));
		fprintf(stderr, "slabcached: pressure sources: %s\n", src);
	}
	return 0;
}

static const char *level_names[] = { "none", "low", "medium", "critical" };

static void pressure_note(int level, unsigned long long items,
			  unsigned long long bytes)
{
	if (level <= 0 || level > SC_PRESSURE_CRITICAL)
		return;
	atomic_fetch_add(&sd_gstats.pressure_events[level], 1);
	atomic_fetch_add(&sd_gstats.items_shed, items);
	atomic_fetch_add(&sd_gstats.bytes_shed, bytes);
	atomic_store(&sd_gstats.last_pressure_time,
		     (long long)sd_now() + sd_process_started);
	atomic_store(&sd_gstats.last_pressure_level, level);
	if (atomic_load(&sd_settings.verbose))
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
	if (level < 0 && atomic_load(&sd_settings.verbose))
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

/* The "shutdown" command: stop as SIGTERM does (graceful is the same). */
void sd_request_shutdown(bool graceful)
{
	uint64_t one = 1;

	(void)graceful;
	if (write(shutdown_fd, &one, sizeof(one)) < 0)
		perror("slabcached: shutdown");
}

/*
 * Test hook: SLABCACHED_FAULT_INJECT=<n> makes the nth allocation of the
 * library from start-up on fail (sc_fault_inject(), one-shot), so that the
 * tests can walk every failure path of start-up and of the first commands.
 */
static void fault_inject_from_env(void)
{
	unsigned long n;

	if (sd_test_hook_count("SLABCACHED_FAULT_INJECT", &n) < 0)
		fprintf(stderr, "slabcached: bad SLABCACHED_FAULT_INJECT\n");
	else if (n)
		sc_fault_inject(n);
}

/*
 * Test hook: SLABCACHED_DEBUG_COMMANDS=1 enables the commands of
 * memcached's test build ("debugtime <seconds>" moves the clock), for
 * memcached's own test suite (selftests/slabcached/mcsuite.py).
 */
static void debug_commands_from_env(void)
{
	const char *v = getenv("SLABCACHED_DEBUG_COMMANDS");

	if (v && strcmp(v, "1") == 0)
		sd_settings.debug_commands = true;
}

static int add_fd(int epfd, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static char tag_signal, tag_timer, tag_pressure, tag_shutdown;

static int main_loop(int sigfd, int timerfd)
{
	struct epoll_event evs[16];
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	int i, ret = 0;

	main_epfd = epfd;

	if (epfd < 0 || add_fd(epfd, sigfd, &tag_signal) < 0 ||
	    add_fd(epfd, timerfd, &tag_timer) < 0 ||
	    add_fd(epfd, shutdown_fd, &tag_shutdown) < 0)
		goto err;
	if (pressure &&
	    add_fd(epfd, sc_pressure_fd(pressure), &tag_pressure) < 0)
		goto err;
	for (i = 0; i < nlisten; i++)
		if (add_fd(epfd, listen_fds[i], &listen_fds[i]) < 0)
			goto err;

	for (;;) {
		/* a slab mover's walk goes on in slices between ticks */
		int n = epoll_wait(epfd, evs, 16, sd_items_mover_step());

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
					if (atomic_load(&sd_settings.verbose))
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
				sd_clock_update();
				sd_items_tick(sd_now());
				accept_resume();
			} else if (tag == &tag_shutdown) {
				if (atomic_load(&sd_settings.verbose))
					fprintf(stderr, "slabcached: shutdown "
							"command, stopping\n");
				goto out;
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
	/* as memcached: 0 is never "now", and uptime starts past 60 */
	sd_clock_init();

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	/* blocked before any thread starts, so every thread inherits it */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (core_dumps) {
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

		if (setrlimit(RLIMIT_CORE, &rl) < 0 &&
		    getrlimit(RLIMIT_CORE, &rl) == 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_CORE, &rl);
		}
	}
	raise_nofile();
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	shutdown_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sigfd < 0 || timerfd < 0 || shutdown_fd < 0 ||
	    timerfd_settime(timerfd, 0, &its, NULL)) {
		perror("slabcached");
		goto out;
	}
	fault_inject_from_env();
	if (sd_conn_buf_fault_from_env() < 0)
		fprintf(stderr, "slabcached: bad SLABCACHED_FAULT_CONN_BUF\n");
	if (sd_mover_fault_from_env() < 0)
		fprintf(stderr, "slabcached: bad SLABCACHED_FAULT_MOVER\n");
	debug_commands_from_env();
	if (sd_stats_init(sd_settings.threads) < 0) {
		perror("slabcached: stats");
		goto out;
	}
	err = sd_items_init();
	if (err < 0) {
		fprintf(stderr, "slabcached: items: %s\n", strerror(-err));
		goto out_stats;
	}
	if (pressure_open() < 0)
		goto out_items;
	/* listening means ready: only once the items are set up */
	if (sd_settings.socket_path ? listen_unix() < 0 :
				      sd_settings.port && listen_tcp() < 0)
		goto out_listen;
	if (!nlisten) {
		fprintf(stderr, "slabcached: nothing to listen on\n");
		goto out_listen;
	}
	write_port_file();
	if (drop_privileges() < 0)
		goto out_listen;
	/* before any thread starts: fork() keeps only the caller */
	if (daemonize_opt && daemonize() < 0) {
		perror("slabcached: daemonize");
		goto out_listen;
	}
	if (write_pid_file() < 0)
		goto out_listen;
	if (lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
		fprintf(stderr,
			"slabcached: mlockall: %s (memory not "
			"locked)\n",
			strerror(errno));
	for (i = 0; i < nlisten; i++)
		listen_infos[i] = sd_conn_info_new(listen_fds[i], true);
	/* listeners, signals, timer, shutdown, main epoll, stdio */
	atomic_store(&sd_gstats.reserved_fds, nlisten + 7);
	if (sd_workers_start(sd_settings.threads) < 0) {
		perror("slabcached: threads");
		goto out_listen;
	}
	if (atomic_load(&sd_settings.verbose))
		fprintf(stderr,
			"slabcached %s: %s%s port %d, -m %zu MiB, %d threads, "
			"policy %s\n",
			SD_VERSION, sd_settings.socket_path ? "unix " : "",
			sd_settings.socket_path ? sd_settings.socket_path :
						  sd_settings.listen,
			sd_settings.port, sd_settings.maxbytes >> 20,
			sd_settings.threads, sd_settings.policy);
	ret = main_loop(sigfd, timerfd) < 0 ? 1 : 0;
	sd_workers_stop();
out_listen:
	for (i = 0; i < nlisten; i++) {
		sd_conn_info_free(listen_infos[i]);
		close(listen_fds[i]);
	}
	if (sd_settings.socket_path && nlisten)
		unlink(sd_settings.socket_path);
	if (pid_file && ret == 0)
		unlink(pid_file);
	sc_pressure_close(pressure);
out_items:
	sd_items_exit();
out_stats:
	sd_stats_exit();
out:
	if (sigfd >= 0)
		close(sigfd);
	if (timerfd >= 0)
		close(timerfd);
	if (shutdown_fd >= 0)
		close(shutdown_fd);
	return ret;
}
