// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sd-feed: slabcached's connections driven from byte strings, without a
 * socket or a thread, through sd_conn_feed(), the entry point a fuzzer of
 * the parsers and the connection state machine uses.
 *
 * Reads records from standard input, each "<length>\n<bytes>": one
 * connection each, in order, all on one item store. Writes one record per
 * connection to standard output: its reply bytes, then "<EOF>" if the
 * daemon would have closed it.
 *
 * Usage: sd-feed [-1] [daemon options such as -C, -m <MiB>]
 *   -1  feed each connection's bytes one at a time (else in one piece)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../slabcached.h"

struct reply {
	char *buf;
	size_t len, cap;
};

static void sink(void *arg, const void *buf, size_t len)
{
	struct reply *r = arg;

	if (r->len + len > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;

		while (cap < r->len + len)
			cap *= 2;
		r->buf = realloc(r->buf, cap);
		if (!r->buf) {
			perror("sd-feed");
			exit(1);
		}
		r->cap = cap;
	}
	memcpy(r->buf + r->len, buf, len);
	r->len += len;
}

/* the main thread's duties, for the commands that reach them */
void sd_request_shutdown(bool graceful)
{
	(void)graceful;
}

void sd_pressure_sources_stat(struct sd_outbuf *o)
{
	sd_out_stat(o, "pressure_mode", "off");
	sd_out_stat(o, "pressure_sources", "off");
}

static char *read_record(size_t *len)
{
	char *buf;

	if (scanf("%zu", len) != 1 || getchar() != '\n')
		return NULL;
	buf = malloc(*len ? *len : 1);
	if (!buf || fread(buf, 1, *len, stdin) != *len) {
		free(buf);
		return NULL;
	}
	return buf;
}

int main(int argc, char **argv)
{
	bool bytewise = false;
	size_t len;
	char *in;
	int i, err;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-1") == 0)
			bytewise = true;
		else if (strcmp(argv[i], "-C") == 0)
			sd_settings.use_cas = false;
		else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
			sd_settings.maxbytes = (size_t)atoi(argv[++i]) << 20;
		else {
			fprintf(stderr, "usage: sd-feed [-1] [-C] [-m MiB]\n");
			return 2;
		}
	}
	sd_clock_init();
	if (sd_conn_buf_fault_from_env() < 0) {
		fprintf(stderr, "sd-feed: bad SLABCACHED_FAULT_CONN_BUF\n");
		return 2;
	}
	err = sd_stats_init(1);
	if (!err)
		err = sd_items_init();
	if (err) {
		fprintf(stderr, "sd-feed: %s\n", strerror(-err));
		return 1;
	}
	while ((in = read_record(&len))) {
		struct sd_conn *c = sd_conn_new(-1, NULL);
		struct reply r = { 0 };
		int closed = 0;

		if (!c) {
			perror("sd-feed");
			return 1;
		}
		if (bytewise) {
			for (size_t k = 0; k < len && !closed; k++)
				closed = sd_conn_feed(c, in + k, 1, sink, &r);
		} else {
			closed = sd_conn_feed(c, in, len, sink, &r);
		}
		if (!closed)
			closed = sd_conn_feed(c, NULL, 0, sink, &r);
		if (closed)
			sink(&r, "<EOF>", 5);
		printf("%zu\n", r.len);
		fwrite(r.buf, 1, r.len, stdout);
		fflush(stdout);
		sd_conn_free(c);
		free(r.buf);
		free(in);
		sd_clock_update();
	}
	sd_items_exit();
	sd_stats_exit();
	return 0;
}
