// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz target: slabcached's request parsers (text, meta, binary) and its
 * connection state machine, fed bytes without a socket through
 * sd_conn_feed(), on a fresh item store for every input.
 *
 * The first byte picks the daemon's settings (-B auto|ascii|binary, -C,
 * -M, -F, -A) and how the rest is fed; the second seeds the split points.
 * The rest is the client's byte stream, fed twice, each time to a new
 * connection on a new store:
 *
 * - in one piece, as if it came in one read;
 * - split: a byte at a time, or in chunks of 1 to 64 bytes at random
 *   points (from the second byte).
 *
 * Both must give the same reply bytes and the same close, except where the
 * daemon judges by read on purpose: a line other than get/gets past 2 KiB
 * is parsed only if it came in one read (see SD_PROC_LONG_LINE), and
 * "stats" shows rusage and counters that differ between two runs. After
 * each run the connection's buffers and the store's pins must all be
 * given back (the buffer gauges return to where they were), and the
 * sanitizers watch the rest.
 */
#include <errno.h>
#include <time.h>

#include "fuzz/fuzz.h"
#include "tools/slabcached/slabcached.h"

/* main.c's duties, for the commands that reach them */
void sd_request_shutdown(bool graceful)
{
	(void)graceful;
}

void sd_pressure_sources_stat(struct sd_outbuf *o)
{
	sd_out_stat(o, "pressure_mode", "off");
	sd_out_stat(o, "pressure_sources", "off");
}

struct reply {
	uint8_t *buf;
	size_t len, cap;
	bool closed;
};

static void sink(void *arg, const void *buf, size_t len)
{
	struct reply *r = arg;

	if (r->len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;

		while (cap < r->len + len + 1)
			cap *= 2;
		r->buf = realloc(r->buf, cap);
		FUZZ_CHECK(r->buf, "out of memory");
		r->cap = cap;
	}
	memcpy(r->buf + r->len, buf, len);
	r->len += len;
	r->buf[r->len] = '\0'; /* for the failure message */
}

static struct sd_settings defaults;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* a small store, so that eviction and -M's out of memory happen */
	sd_settings.maxbytes = (size_t)2 << 20;
	sd_settings.pressure = "off";
	defaults = sd_settings;
	sd_clock_init();
	FUZZ_CHECK(!sd_stats_init(1), "sd_stats_init failed");
	return 0;
}

/* The same clock for both runs of an input (debugtime moves it). */
static void clock_fix(void)
{
	sd_clock_update();
	sd_process_started += (int64_t)sd_now() - 1000;
	sd_clock_update();
}

enum split { SPLIT_NONE, SPLIT_BYTES, SPLIT_CHUNKS };

static void run(uint8_t mode, uint8_t seed, const uint8_t *data, size_t len,
		enum split split, struct reply *r)
{
	static const enum sd_protocol protos[] = {
		SD_PROTO_AUTO, SD_PROTO_ASCII, SD_PROTO_BINARY, SD_PROTO_AUTO
	};
	long long rb_count, rb_bytes, ob_count, ob_bytes;
	uint32_t state = seed * 2654435761u + 1;
	struct sd_conn *c;
	int closed = 0;
	size_t off = 0;

	sd_settings = defaults;
	sd_settings.protocol = protos[mode & 3];
	sd_settings.use_cas = !(mode & 4);
	sd_settings.evict_to_free = !(mode & 8);
	sd_settings.flush_enabled = !(mode & 16);
	sd_settings.shutdown_command = mode & 32;
	clock_fix();
	FUZZ_CHECK(!sd_items_init(), "sd_items_init: %s", strerror(errno));

	rb_count = atomic_load(&sd_gstats.read_buf_count);
	rb_bytes = atomic_load(&sd_gstats.read_buf_bytes);
	ob_count = atomic_load(&sd_gstats.out_buf_count);
	ob_bytes = atomic_load(&sd_gstats.out_buf_bytes);
	c = sd_conn_new(-1, NULL);
	FUZZ_CHECK(c, "sd_conn_new: out of memory");
	while (off < len && !closed) {
		size_t n = len - off;

		if (split == SPLIT_BYTES) {
			n = 1;
		} else if (split == SPLIT_CHUNKS) {
			state = state * 1103515245u + 12345u;
			n = 1 + (state >> 16) % 64;
			if (n > len - off)
				n = len - off;
		}
		closed = sd_conn_feed(c, data + off, n, sink, r);
		off += n;
	}
	if (!closed)
		closed = sd_conn_feed(c, NULL, 0, sink, r);
	r->closed = closed;
	sd_conn_free(c);
	FUZZ_CHECK(atomic_load(&sd_gstats.read_buf_count) == rb_count &&
			   atomic_load(&sd_gstats.read_buf_bytes) == rb_bytes &&
			   atomic_load(&sd_gstats.out_buf_count) == ob_count &&
			   atomic_load(&sd_gstats.out_buf_bytes) == ob_bytes,
		   "connection buffers not given back");
	sd_items_exit();
}

/*
 * Whether a split feed must answer as one read does: no line other than
 * get/gets past SD_LINE_MAX (looked for as any run that long without a
 * newline, values included), and no stats.
 */
static bool split_comparable(const uint8_t *data, size_t len)
{
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		run = data[i] == '\n' ? 0 : run + 1;
		if (run >= SD_LINE_MAX - 8)
			return false;
	}
	/* text "stats", and the binary stat opcode anywhere */
	return !memmem(data, len, "stat", 4) && !memchr(data, 0x10, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reply whole = { 0 }, split = { 0 };
	uint8_t mode, seed;

	if (size < 2)
		return 0;
	mode = data[0];
	seed = data[1];
	data += 2;
	size -= 2;

	run(mode, seed, data, size, SPLIT_NONE, &whole);
	run(mode, seed, data, size, mode & 64 ? SPLIT_BYTES : SPLIT_CHUNKS,
	    &split);
	if (split_comparable(data, size)) {
		size_t i = 0;

		while (i < whole.len && i < split.len &&
		       whole.buf[i] == split.buf[i])
			i++;
		FUZZ_CHECK(whole.len == split.len && i == whole.len,
			   "split feed (%s) answers differently at byte %zu "
			   "(%zu and %zu bytes): \"%.40s\" vs \"%.40s\"",
			   mode & 64 ? "bytes" : "chunks", i, whole.len,
			   split.len,
			   i < whole.len ? (char *)whole.buf + i : "",
			   i < split.len ? (char *)split.buf + i : "");
		FUZZ_CHECK(whole.closed == split.closed, "split feed closes %s",
			   split.closed ? "" : "not");
	}
	free(whole.buf);
	free(split.buf);
	sd_settings = defaults;
	return 0;
}
