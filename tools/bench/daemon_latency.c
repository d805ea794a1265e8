// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sc-daemon-latency: exact request latencies of memcached-protocol
 * daemons, several in one run, rounds interleaved.
 *
 * memaslap keeps one request in flight on each of its connections and
 * reports latency as a log2 histogram, so two daemons whose p99 lie in
 * the same power-of-two bucket cannot be told apart. This driver does the
 * same thing memaslap's bench does (one thread, --conns connections, one
 * request in flight on each, --get-ratio gets and the rest sets of
 * --value bytes over --keys keys, text or binary protocol) and keeps the
 * time of every request from its first byte sent to the last byte of its
 * reply read (CLOCK_MONOTONIC), so that its percentiles are exact.
 *
 * It also counts, for each connection, the requests it completed, and
 * splits the latencies by connection parity: a daemon with two worker
 * threads that deals its connections out round robin, as memcached and
 * slabcached do, serves the even ones on one worker and the odd ones on
 * the other, so a worker held off the CPU shows as one half slower. The
 * longest time in which no reply at all arrived (a "stall" of the whole
 * daemon) is reported beside the longest latency, and so are the gaps of
 * more than 1 ms between replies, per second: on all connections (the
 * daemon, or this client, made no progress) and on one parity's (one
 * worker made none), averaged over the two. Where the second is well
 * above the first, a worker was held off the CPU while the other ran.
 *
 * Each peer is preloaded with every key before the first round, so gets
 * hit unless the daemon evicts. Rounds go peer A, peer B, ... then again;
 * round 0 is a warm-up and not reported. One CSV line per peer and round
 * goes to stdout; see usage().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define MAX_PEERS 8
#define KEY_LEN 24
#define BIN_HDR 24

struct peer {
	const char *name;
	int port;
};

struct lconn {
	int fd;
	int idx;
	bool is_get;
	uint64_t t_send;
	char *out;
	size_t out_len, out_off;
	char *in;
	size_t in_len, in_cap;
	uint64_t done;
};

static struct peer peers[MAX_PEERS];
static int npeers;
static int nconns = 16;
static int rounds = 3;
static double secs = 4;
static size_t value_len = 100;
static unsigned int nkeys = 4096;
static double get_ratio = 0.9;
static bool binary;
static const char *raw_path;
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static char *value_buf;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p)
		die("malloc");
	return p;
}

static void make_key(char *k, unsigned int i)
{
	snprintf(k, KEY_LEN + 1, "sc-dlat-key-%012u", i);
}

/* Build the request into c->out: a get or a set of key @i. */
static void build_request(struct lconn *c, bool is_get, unsigned int i)
{
	char key[KEY_LEN + 1];
	size_t need;

	make_key(key, i);
	c->is_get = is_get;
	need = BIN_HDR + 8 + KEY_LEN + value_len + 64;
	if (!c->out)
		c->out = xmalloc(need);
	if (binary) {
		unsigned char *h = (unsigned char *)c->out;
		uint8_t extlen = is_get ? 0 : 8;
		uint32_t body = extlen + KEY_LEN + (is_get ? 0 : value_len);
		uint16_t kl = htons(KEY_LEN);
		uint32_t bl = htonl(body);

		memset(h, 0, BIN_HDR + extlen);
		h[0] = 0x80;
		h[1] = is_get ? 0x00 : 0x01;
		memcpy(h + 2, &kl, 2);
		h[4] = extlen;
		memcpy(h + 8, &bl, 4);
		memcpy(h + BIN_HDR + extlen, key, KEY_LEN);
		if (!is_get)
			memcpy(h + BIN_HDR + extlen + KEY_LEN, value_buf,
			       value_len);
		c->out_len = BIN_HDR + body;
	} else if (is_get) {
		c->out_len = (size_t)sprintf(c->out, "get %s\r\n", key);
	} else {
		size_t n = (size_t)sprintf(c->out, "set %s 0 0 %zu\r\n", key,
					   value_len);

		memcpy(c->out + n, value_buf, value_len);
		memcpy(c->out + n + value_len, "\r\n", 2);
		c->out_len = n + value_len + 2;
	}
	c->out_off = 0;
}

/*
 * Return: the length of the complete reply at the start of c->in, 0 if
 * more is needed, -1 if it cannot be parsed.
 */
static ssize_t reply_len(struct lconn *c)
{
	if (binary) {
		uint32_t bl;

		if (c->in_len < BIN_HDR)
			return 0;
		if ((unsigned char)c->in[0] != 0x81)
			return -1;
		memcpy(&bl, c->in + 8, 4);
		bl = ntohl(bl);
		return c->in_len >= BIN_HDR + bl ? (ssize_t)(BIN_HDR + bl) : 0;
	}
	char *eol = memmem(c->in, c->in_len, "\r\n", 2);

	if (!eol)
		return 0;
	if (!c->is_get)
		return eol + 2 - c->in;
	if (c->in_len >= 5 && !memcmp(c->in, "END\r\n", 5))
		return 5;
	if (!memcmp(c->in, "VALUE ", 6)) {
		unsigned long long bytes;
		char k[256];
		unsigned int fl;
		size_t hdr = (size_t)(eol + 2 - c->in);
		size_t total;

		if (sscanf(c->in, "VALUE %255s %u %llu", k, &fl, &bytes) != 3)
			return -1;
		total = hdr + bytes + 2 + 5;
		return c->in_len >= total ? (ssize_t)total : 0;
	}
	return -1;
}

static int open_conn(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;

	if (fd < 0)
		die("socket");
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	/* as libmemcached's clients (memaslap) */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		p += w;
		n -= (size_t)w;
	}
}

/* One read() onto the end of @c's input, the buffer doubled when full. */
static ssize_t read_more(struct lconn *c)
{
	ssize_t r;

	if (c->in_len == c->in_cap) {
		c->in_cap *= 2;
		c->in = realloc(c->in, c->in_cap);
		if (!c->in)
			die("realloc");
	}
	r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
	if (r > 0)
		c->in_len += (size_t)r;
	return r;
}

/* Read one complete reply on a blocking socket, and check a set's. */
static void read_reply(struct lconn *c)
{
	for (;;) {
		ssize_t n = reply_len(c), r;

		if (n < 0) {
			fprintf(stderr, "sc-daemon-latency: bad reply\n");
			exit(1);
		}
		if (n > 0) {
			memmove(c->in, c->in + n, c->in_len - (size_t)n);
			c->in_len -= (size_t)n;
			return;
		}
		r = read_more(c);
		if (r <= 0)
			die("read");
	}
}

static void preload(struct peer *p)
{
	struct lconn c = { 0 };
	unsigned int i;

	c.fd = open_conn(p->port);
	c.in_cap = value_len + 4096;
	c.in = xmalloc(c.in_cap);
	for (i = 0; i < nkeys; i++) {
		build_request(&c, false, i);
		write_all(c.fd, c.out, c.out_len);
		read_reply(&c);
	}
	close(c.fd);
	free(c.out);
	free(c.in);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

struct lat_buf {
	uint64_t *v;
	size_t n, cap;
};

static void lat_add(struct lat_buf *b, uint64_t x)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 65536;
		b->v = realloc(b->v, b->cap * sizeof(*b->v));
		if (!b->v)
			die("realloc");
	}
	b->v[b->n++] = x;
}

static void start_request(struct lconn *c)
{
	bool is_get = (double)(xorshift() % 1000000) < get_ratio * 1e6;

	build_request(c, is_get, (unsigned int)(xorshift() % nkeys));
	c->t_send = now_ns();
}

/* Send what is left of c->out. Return: false if the socket is full. */
static bool send_some(struct lconn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_DONTWAIT);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				continue; /* a big set: the client has nothing else to do for this connection */
			die("send");
		}
		c->out_off += (size_t)w;
	}
	return true;
}

static void run_round(struct peer *p, int round, FILE *raw)
{
	struct lconn *cs = calloc((size_t)nconns, sizeof(*cs));
	struct lat_buf all = { 0 }, half[2] = { { 0 } };
	struct epoll_event evs[MAX_CONNS];
	uint64_t t0, t_end, last_done, max_stall = 0, gets = 0, misses = 0;
	uint64_t cmin = UINT64_MAX, cmax = 0;
	uint64_t last_half[2], gaps_all = 0, gaps_half = 0;
	int ep = epoll_create1(0), i;
	double el;

	if (!cs || ep < 0)
		die("setup");
	for (i = 0; i < nconns; i++) {
		struct lconn *c = &cs[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		c->idx = i;
		c->fd = open_conn(p->port);
		c->in_cap = value_len + 4096;
		c->in = xmalloc(c->in_cap);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
			die("epoll_ctl");
	}
	t0 = now_ns();
	t_end = t0 + (uint64_t)(secs * 1e9);
	last_done = t0;
	last_half[0] = last_half[1] = t0;
	for (i = 0; i < nconns; i++) {
		start_request(&cs[i]);
		if (!send_some(&cs[i]))
			die("first request did not fit the socket");
	}
	for (;;) {
		int n = epoll_wait(ep, evs, MAX_CONNS, 1000), k;
		uint64_t t;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (k = 0; k < n; k++) {
			struct lconn *c = evs[k].data.ptr;
			ssize_t r, len;

			if (c->out_off < c->out_len) {
				/* a big set the socket took only part of */
				send_some(c);
				continue;
			}
			r = read_more(c);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0)
				die("read");
			len = reply_len(c);
			if (len < 0) {
				fprintf(stderr,
					"sc-daemon-latency: %s: bad reply\n",
					p->name);
				exit(1);
			}
			if (!len)
				continue;
			t = now_ns();
			if (c->is_get) {
				gets++;
				if (binary ? (c->in[6] || c->in[7]) :
					     !memcmp(c->in, "END", 3))
					misses++;
			}
			if (c->in_len != (size_t)len) {
				fprintf(stderr,
					"sc-daemon-latency: %s: extra bytes\n",
					p->name);
				exit(1);
			}
			c->in_len = 0;
			lat_add(&all, t - c->t_send);
			lat_add(&half[c->idx & 1], t - c->t_send);
			if (raw)
				fprintf(raw, "%s,%d,%d,%llu,%llu,%d\n", p->name,
					round, c->idx,
					(unsigned long long)(c->t_send - t0),
					(unsigned long long)(t - c->t_send),
					c->is_get);
			if (t - last_done > max_stall)
				max_stall = t - last_done;
			if (t - last_done > 1000000)
				gaps_all++;
			if (t - last_half[c->idx & 1] > 1000000)
				gaps_half++;
			last_half[c->idx & 1] = t;
			last_done = t;
			c->done++;
			if (t < t_end) {
				start_request(c);
				send_some(c);
			}
		}
		if (now_ns() >= t_end) {
			/* wait for the requests in flight to finish */
			bool busy = false;

			for (i = 0; i < nconns; i++)
				if (cs[i].in_len || cs[i].t_send > last_done ||
				    cs[i].out_off < cs[i].out_len)
					busy = true;
			if (!busy || now_ns() > t_end + 2000000000ull)
				break;
		}
	}
	el = (double)(now_ns() - t0) / 1e9;
	for (i = 0; i < nconns; i++) {
		if (cs[i].done < cmin)
			cmin = cs[i].done;
		if (cs[i].done > cmax)
			cmax = cs[i].done;
		close(cs[i].fd);
		free(cs[i].in);
		free(cs[i].out);
	}
	close(ep);
	qsort(all.v, all.n, sizeof(*all.v), cmp_u64);
	for (i = 0; i < 2; i++)
		qsort(half[i].v, half[i].n, sizeof(*half[i].v), cmp_u64);
	if (round > 0)
		printf("%s,%s,%zu,%d,%.0f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%llu,%llu,%.4f\n",
		       p->name, binary ? "binary" : "text", value_len, round,
		       (double)all.n / el, pct(all.v, all.n, 0.5),
		       pct(all.v, all.n, 0.9), pct(all.v, all.n, 0.99),
		       pct(all.v, all.n, 0.999),
		       all.n ? (double)all.v[all.n - 1] / 1000.0 : 0.0,
		       (double)max_stall / 1000.0, (double)gaps_all / el,
		       (double)gaps_half / 2 / el,
		       pct(half[0].v, half[0].n, 0.99),
		       pct(half[1].v, half[1].n, 0.99),
		       (unsigned long long)cmin, (unsigned long long)cmax,
		       gets ? 1.0 - (double)misses / (double)gets : 1.0);
	fflush(stdout);
	free(all.v);
	free(half[0].v);
	free(half[1].v);
	free(cs);
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: sc-daemon-latency [options] NAME:PORT [NAME:PORT...]\n"
		"  --binary         binary protocol (default text)\n"
		"  --value BYTES    value size (default 100)\n"
		"  --conns N        connections, one request in flight each (16)\n"
		"  --time S         seconds per round (4)\n"
		"  --rounds R       rounds after the warm-up round (3)\n"
		"  --keys N         keys, all preloaded (4096)\n"
		"  --get-ratio F    share of gets, the rest sets (0.9)\n"
		"  --raw FILE       one line per request: peer,round,conn,\n"
		"                   send_ns (from the round's start),latency_ns,is_get\n"
		"Output, one CSV line per peer and round: peer,protocol,value_bytes,\n"
		"round,ops_per_s,p50_us,p90_us,p99_us,p999_us,max_us,max_stall_us,\n"
		"gaps_1ms_per_s,worker_gaps_1ms_per_s,p99_even_conns_us,\n"
		"p99_odd_conns_us,conn_min_reqs,conn_max_reqs,get_hit_ratio\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "binary", no_argument, NULL, 'B' },
		{ "value", required_argument, NULL, 'v' },
		{ "conns", required_argument, NULL, 'c' },
		{ "time", required_argument, NULL, 't' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "keys", required_argument, NULL, 'k' },
		{ "get-ratio", required_argument, NULL, 'g' },
		{ "raw", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	FILE *raw = NULL;
	int o, r, i;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'B':
			binary = true;
			break;
		case 'v':
			value_len = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			nconns = atoi(optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'k':
			nkeys = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'g':
			get_ratio = atof(optarg);
			break;
		case 'w':
			raw_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (nconns < 1 || nconns > MAX_CONNS || !nkeys || secs <= 0 ||
	    rounds < 1 || value_len < 1 || value_len > (1 << 20) ||
	    get_ratio < 0 || get_ratio > 1 || optind >= argc)
		usage();
	for (i = optind; i < argc && npeers < MAX_PEERS; i++) {
		char *colon = strrchr(argv[i], ':');

		if (!colon || atoi(colon + 1) <= 0)
			usage();
		*colon = '\0';
		peers[npeers].name = argv[i];
		peers[npeers].port = atoi(colon + 1);
		npeers++;
	}
	if (raw_path) {
		raw = fopen(raw_path, "w");
		if (!raw)
			die(raw_path);
	}
	value_buf = xmalloc(value_len);
	memset(value_buf, 'x', value_len);
	for (i = 0; i < npeers; i++)
		preload(&peers[i]);
	printf("peer,protocol,value_bytes,round,ops_per_s,p50_us,p90_us,p99_us,p999_us,max_us,max_stall_us,gaps_1ms_per_s,worker_gaps_1ms_per_s,p99_even_conns_us,p99_odd_conns_us,conn_min_reqs,conn_max_reqs,get_hit_ratio\n");
	for (r = 0; r <= rounds; r++)
		for (i = 0; i < npeers; i++)
			run_round(&peers[i], r, r ? raw : NULL);
	if (raw)
		fclose(raw);
	return 0;
}
