// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabcached: memcached's text protocol, reply for reply.
 *
 * The parsing follows memcached 1.6's: a line ends at "\n" (a "\r" before
 * it is dropped unless the line is just "\r"), is cut at its first NUL,
 * and is split on spaces into at most 24 tokens, the last one holding the
 * unsplit rest; numbers are read as memcached's safe_strto*() read them;
 * the number of tokens each command accepts, and each error string, are
 * memcached's. A reply of a command with "noreply" is suppressed, errors
 * included, as memcached does. Differences are listed in
 * Documentation/slabcached.rst.
 *
 * A get line can name thousands of keys: it is answered key by key and
 * paused (SD_CONN_GET) whenever the connection's output is high, so the
 * reply is never held in memory at once. A get line longer than
 * SD_GET_STREAM_AT is not even held whole: its keys are answered as they
 * arrive (SD_CONN_GETSTREAM), so a multi-megabyte multiget costs no more
 * buffer than a short one.
 *
 * Lock order: none taken here; items.c takes its own.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slabcached.h"

#define MAX_TOKENS 24

struct token {
	char *value;
	size_t length;
};

/* memcached's tokenize_command(): the last token is the terminal one. */
static size_t tokenize(char *command, size_t len, struct token *tokens,
		       size_t max_tokens)
{
	char *s = command, *e = command;
	size_t ntokens = 0, i;

	for (i = 0; i < len; i++) {
		if (*e == ' ') {
			if (s != e) {
				tokens[ntokens].value = s;
				tokens[ntokens].length = (size_t)(e - s);
				ntokens++;
				*e = '\0';
				if (ntokens == max_tokens - 1) {
					e++;
					s = e;
					break;
				}
			}
			s = e + 1;
		}
		e++;
	}
	if (s != e) {
		tokens[ntokens].value = s;
		tokens[ntokens].length = (size_t)(e - s);
		ntokens++;
	}
	tokens[ntokens].value = *e == '\0' ? NULL : e;
	tokens[ntokens].length = 0;
	ntokens++;
	return ntokens;
}

/*
 * The safe_strto*() of memcached's util.c, exactly: strto*() in 64 bits
 * (leading spaces and a sign allowed), the number must end at a space or
 * the end of the token, and a result that does not fit the target type is
 * truncated to it, not refused. A value that is negative as a signed
 * number is refused when a '-' appears anywhere in the string.
 */
static bool safe_strtoull(const char *str, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	*out = 0;
	v = strtoull(str, &end, 10);
	if (errno == ERANGE || end == str)
		return false;
	if (isspace((unsigned char)*end) || *end == '\0') {
		if ((long long)v < 0 && strchr(str, '-'))
			return false;
		*out = v;
		return true;
	}
	return false;
}

static bool safe_strtoul(const char *str, uint32_t *out)
{
	uint64_t v;

	if (!safe_strtoull(str, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool safe_strtol(const char *str, int32_t *out)
{
	long l;
	char *end;

	errno = 0;
	*out = 0;
	l = strtol(str, &end, 10);
	if (errno == ERANGE || end == str)
		return false;
	if (isspace((unsigned char)*end) || *end == '\0') {
		*out = (int32_t)(uint32_t)(unsigned long)l;
		return true;
	}
	return false;
}

static bool set_noreply_maybe(struct sd_conn *c, struct token *tokens,
			      size_t ntokens)
{
	const char *v = tokens[ntokens - 2].value;

	if (v && strcmp(v, "noreply") == 0)
		c->noreply = true;
	return c->noreply;
}

/* A one-line reply; suppressed under noreply. */
static void reply(struct sd_conn *c, const char *s)
{
	if (c->noreply)
		return;
	sd_out_str(&c->out, s);
}

static int64_t exptime_abs(int32_t exptime, int64_t now)
{
	/* memcached's EXPTIME_TO_POSITIVE_TIME, then realtime() */
	return sd_realtime(exptime < 0 ? SD_REALTIME_MAXDELTA + 1 : exptime,
			   now);
}

/* ------------------------------------------------------------ get */

static bool is_sep(char ch)
{
	return ch == ' ' || ch == '\0';
}

/*
 * Answer one key of a get line; @silent: look it up (and touch it) with no
 * reply. Return: false if the output failed.
 */
static bool get_key(struct sd_conn *c, const char *key, int64_t now,
		    bool silent)
{
	struct sd_item *it;
	struct sc_entry *e;

	if (c->get_touch)
		sd_stat_add(&sd_stats.cmd_touch, 1);
	sd_stat_add(&sd_stats.cmd_get, 1);
	e = sd_item_get(key, now, &it);
	if (!e) {
		sd_stat_add(c->get_touch ? &sd_stats.touch_misses :
					   &sd_stats.get_misses,
			    1);
		return true;
	}
	if (c->get_touch) {
		atomic_store(&it->exptime, c->get_exptime);
		sd_stat_add(&sd_stats.touch_hits, 1);
	}
	sd_stat_add(&sd_stats.get_hits, 1);
	if (silent) {
		sc_entry_put(e);
		return true;
	}
	sd_out_value_line(&c->out, it->key, it->nkey, it->flags, it->nbytes - 2,
			  c->get_cas ? &it->cas : NULL);
	if (sd_conn_add_value(c, it, e) < 0) {
		sc_entry_put(e);
		return false;
	}
	return true;
}

/*
 * Answer keys from c->get_next until the line ends (true) or the output is
 * high (false: call again once it has been sent).
 */
static bool get_continue(struct sd_conn *c)
{
	int64_t now = sd_now();

	for (;;) {
		char *key, *end;

		while (c->get_next < c->get_end && is_sep(*c->get_next))
			c->get_next++;
		if (c->get_next >= c->get_end)
			break;
		if (sd_conn_out_high(c))
			return false;
		key = c->get_next;
		for (end = key; end < c->get_end && !is_sep(*end); end++)
			;
		*end = '\0';
		c->get_next = end < c->get_end ? end + 1 : end;

		if (!get_key(c, key, now, false))
			return true; /* out.failed: the caller closes */
	}
	sd_out_str(&c->out, "END");
	return true;
}

static void process_get(struct sd_conn *c, struct token *tokens, char *line_end,
			bool cas, bool touch)
{
	struct token *key = &tokens[1];
	char *p;

	c->get_touch = touch;
	c->get_cas = cas;
	if (touch) {
		int32_t exptime;

		if (!safe_strtol(tokens[1].value, &exptime)) {
			reply(c, "CLIENT_ERROR invalid exptime argument");
			return;
		}
		c->get_exptime = exptime_abs(exptime, sd_now());
		key = &tokens[2];
	}
	if (key->length == 0 && key->value == NULL) {
		c->get_next = c->get_end = line_end;
	} else {
		c->get_next = key->value;
		c->get_end = line_end;
	}
	/*
	 * memcached looks the keys up in order and stops at the first one
	 * over 250 bytes; it then drops the replies and sends only the error,
	 * but the lookups before it happened (a gat touched those keys).
	 */
	for (p = c->get_next; p < line_end;) {
		char *s;

		while (p < line_end && is_sep(*p))
			p++;
		for (s = p; p < line_end && !is_sep(*p); p++)
			;
		if ((size_t)(p - s) > SD_KEY_MAX) {
			int64_t now = sd_now();

			for (p = c->get_next; p < s;) {
				char *k;

				while (p < s && is_sep(*p))
					p++;
				for (k = p; p < s && !is_sep(*p); p++)
					;
				if (p == k)
					continue;
				*p++ = '\0';
				get_key(c, k, now, true);
			}
			reply(c, "CLIENT_ERROR bad command line format");
			c->get_next = c->get_end = NULL;
			return;
		}
	}
	if (!get_continue(c))
		c->state = SD_CONN_GET;
}

/* ------------------------------------------------------------ long gets */

static void skip_line(struct sd_conn *c, const char *reply_at_newline)
{
	c->skip_reply = reply_at_newline;
	c->state = SD_CONN_SKIPLINE;
}

/*
 * A get or gets line without its newline has grown past SD_GET_STREAM_AT:
 * take its command now, then answer its keys as they arrive.
 */
static void get_stream_start(struct sd_conn *c)
{
	char *p = c->rbuf + c->rstart, *end = c->rbuf + c->rend, *w;

	while (p < end && *p == ' ')
		p++;
	for (w = p; p < end && *p != ' '; p++)
		;
	/* is_get_line() let only "get " and "gets " come here */
	c->get_cas = p - w == 4;
	c->get_touch = false;
	c->get_nkeys = 0;
	c->noreply = false;
	c->rstart = (size_t)(p - c->rbuf);
	c->state = SD_CONN_GETSTREAM;
}

/*
 * Answer the complete keys buffered of a long get line; a key cut by the
 * end of the buffer waits for more bytes. At the newline the state goes
 * back to SD_CONN_CMD.
 * Return: SD_PROC_NEED_READ, SD_PROC_NEED_FLUSH (output high), or
 * SD_PROC_CLOSE (the output could not grow).
 */
static enum sd_proc get_stream(struct sd_conn *c)
{
	int64_t now = sd_now();

	for (;;) {
		char *start = c->rbuf + c->rstart, *p = start;
		char *end = c->rbuf + c->rend, *key_end;
		char ch;

		while (p < end && *p == ' ')
			p++;
		c->rstart = (size_t)(p - c->rbuf);
		if (sd_conn_out_high(c))
			return SD_PROC_NEED_FLUSH;
		for (start = p;
		     p < end && *p != ' ' && *p != '\n' && *p != '\0'; p++)
			;
		if (p == end) {
			if ((size_t)(p - start) > SD_KEY_MAX + 1) {
				reply(c,
				      "CLIENT_ERROR bad command line format");
				skip_line(c, NULL);
				return SD_PROC_NEED_READ;
			}
			return SD_PROC_NEED_READ; /* the key is not all here */
		}
		ch = *p;
		key_end = p;
		if (ch == '\n' && key_end > start && key_end[-1] == '\r')
			key_end--;
		if ((size_t)(key_end - start) > SD_KEY_MAX) {
			c->rstart = (size_t)(p - c->rbuf);
			reply(c, "CLIENT_ERROR bad command line format");
			skip_line(c, NULL);
			return SD_PROC_NEED_READ;
		}
		*key_end = '\0';
		c->rstart = (size_t)(p + 1 - c->rbuf);
		if (key_end > start) {
			c->get_nkeys++;
			if (!get_key(c, start, now, false))
				return SD_PROC_CLOSE;
		}
		if (ch == ' ')
			continue;
		/* memcached cuts a line at a NUL: the rest is not keys */
		if (ch == '\0') {
			skip_line(c, c->get_nkeys ? "END" : "ERROR");
			return SD_PROC_NEED_READ;
		}
		sd_out_str(&c->out, c->get_nkeys ? "END" : "ERROR");
		c->state = SD_CONN_CMD;
		return SD_PROC_NEED_READ;
	}
}

/* ------------------------------------------------------------ storage */

static void start_swallow(struct sd_conn *c, size_t n)
{
	c->swallow = n;
	c->state = SD_CONN_SWALLOW;
}

static void process_update(struct sd_conn *c, struct token *tokens,
			   size_t ntokens, enum sd_store_cmd cmd)
{
	int64_t now = sd_now();
	uint32_t flags;
	int32_t exptime, vlen;
	uint64_t cas = 0;
	struct sd_item *it;

	set_noreply_maybe(c, tokens, ntokens);
	if (tokens[1].length > SD_KEY_MAX) {
		reply(c, "CLIENT_ERROR bad command line format");
		return;
	}
	if (!(safe_strtoul(tokens[2].value, &flags) &&
	      safe_strtol(tokens[3].value, &exptime) &&
	      safe_strtol(tokens[4].value, &vlen))) {
		reply(c, "CLIENT_ERROR bad command line format");
		return;
	}
	if (cmd == SD_CAS && !safe_strtoull(tokens[5].value, &cas)) {
		reply(c, "CLIENT_ERROR bad command line format");
		return;
	}
	if (vlen < 0 || vlen > INT_MAX - 2) {
		reply(c, "CLIENT_ERROR bad command line format");
		return;
	}
	if (!sd_item_size_ok(tokens[1].length, flags, (size_t)vlen + 2)) {
		sd_stat_add(&sd_stats.store_too_large, 1);
		reply(c, "SERVER_ERROR object too large for cache");
		goto err_swallow;
	}
	it = sd_item_alloc(tokens[1].value, tokens[1].length, flags,
			   exptime_abs(exptime, now), (size_t)vlen + 2);
	if (!it) {
		sd_stat_add(&sd_stats.store_no_memory, 1);
		reply(c, "SERVER_ERROR out of memory storing object");
		goto err_swallow;
	}
	c->item = it;
	c->item_off = 0;
	c->store_cmd = cmd;
	c->store_cas = cas;
	c->state = SD_CONN_VALUE;
	return;

err_swallow:
	/* a refused set must not leave the old value readable */
	if (cmd == SD_SET)
		sd_item_delete(tokens[1].value, now);
	start_swallow(c, (size_t)vlen + 2);
}

static void complete_store(struct sd_conn *c)
{
	struct sd_item *it = c->item;
	size_t last = it->nchunks - 1;
	size_t len = sd_item_chunk_len(it, (unsigned int)last);
	enum sd_store_result r;
	bool valid;

	c->item = NULL;
	c->state = SD_CONN_CMD;
	sd_stat_add(&sd_stats.cmd_set, 1);
	/* the "\r\n" may straddle the last two chunks */
	if (len >= 2) {
		valid = memcmp(it->chunks[last] + len - 2, "\r\n", 2) == 0;
	} else {
		valid = it->chunks[last - 1][sd_chunk_max() - 1] == '\r' &&
			it->chunks[last][0] == '\n';
	}
	if (!valid) {
		reply(c, "CLIENT_ERROR bad data chunk");
		sd_item_free(it);
		return;
	}
	r = sd_item_store(it, c->store_cmd, c->store_cas, sd_now());
	if (r != SD_STORED || c->store_cmd == SD_APPEND ||
	    c->store_cmd == SD_PREPEND)
		sd_item_free(it);
	switch (r) {
	case SD_STORED:
		reply(c, "STORED");
		break;
	case SD_NOT_STORED:
		reply(c, "NOT_STORED");
		break;
	case SD_EXISTS:
		reply(c, "EXISTS");
		break;
	case SD_NOT_FOUND:
		reply(c, "NOT_FOUND");
		break;
	case SD_TOO_LARGE:
		sd_stat_add(&sd_stats.store_too_large, 1);
		reply(c, "SERVER_ERROR object too large for cache");
		break;
	case SD_NO_MEMORY:
		sd_stat_add(&sd_stats.store_no_memory, 1);
		reply(c, "SERVER_ERROR out of memory storing object");
		break;
	}
}

/* ------------------------------------------------------------ others */

static void process_delete(struct sd_conn *c, struct token *tokens,
			   size_t ntokens)
{
	if (ntokens > 3) {
		bool hold_is_zero = strcmp(tokens[2].value, "0") == 0;
		bool sets_noreply = set_noreply_maybe(c, tokens, ntokens);
		bool valid = (ntokens == 4 && (hold_is_zero || sets_noreply)) ||
			     (ntokens == 5 && hold_is_zero && sets_noreply);

		if (!valid) {
			reply(c, "CLIENT_ERROR bad command line format.  "
				 "Usage: delete <key> [noreply]");
			return;
		}
	}
	if (tokens[1].length > SD_KEY_MAX) {
		reply(c, "CLIENT_ERROR bad command line format");
		return;
	}
	if (sd_item_delete(tokens[1].value, sd_now())) {
		sd_stat_add(&sd_stats.delete_hits, 1);
		reply(c, "DELETED");
	} else {
		sd_stat_add(&sd_stats.delete_misses, 1);
		reply(c, "NOT_FOUND");
	}
}

static void process_arithmetic(struct sd_conn *c, struct token *tokens,
			       size_t ntokens, bool incr)
{
	uint64_t delta, result;
	char buf[24];

	set_noreply_maybe(c, tokens, ntokens);
	if (tokens[1].length > SD_KEY_MAX) {
		reply(c, "CLIENT_ERROR bad command line format");
		return;
	}
	if (!safe_strtoull(tokens[2].value, &delta)) {
		reply(c, "CLIENT_ERROR invalid numeric delta argument");
		return;
	}
	switch (sd_item_delta(tokens[1].value, incr, delta, sd_now(),
			      &result)) {
	case SD_DELTA_OK:
		sd_stat_add(incr ? &sd_stats.incr_hits : &sd_stats.decr_hits,
			    1);
		snprintf(buf, sizeof(buf), "%" PRIu64, result);
		reply(c, buf);
		break;
	case SD_DELTA_NOT_FOUND:
		sd_stat_add(incr ? &sd_stats.incr_misses :
				   &sd_stats.decr_misses,
			    1);
		reply(c, "NOT_FOUND");
		break;
	case SD_DELTA_NON_NUMERIC:
		reply(c, "CLIENT_ERROR cannot increment or decrement "
			 "non-numeric value");
		break;
	case SD_DELTA_NO_MEMORY:
		reply(c, "SERVER_ERROR out of memory");
		break;
	}
}

static void process_touch(struct sd_conn *c, struct token *tokens,
			  size_t ntokens)
{
	int64_t now = sd_now();
	int32_t exptime;

	set_noreply_maybe(c, tokens, ntokens);
	if (tokens[1].length > SD_KEY_MAX) {
		reply(c, "CLIENT_ERROR bad command line format");
		return;
	}
	if (!safe_strtol(tokens[2].value, &exptime)) {
		reply(c, "CLIENT_ERROR invalid exptime argument");
		return;
	}
	sd_stat_add(&sd_stats.cmd_touch, 1);
	if (sd_item_touch(tokens[1].value, exptime_abs(exptime, now), now)) {
		sd_stat_add(&sd_stats.touch_hits, 1);
		reply(c, "TOUCHED");
	} else {
		sd_stat_add(&sd_stats.touch_misses, 1);
		reply(c, "NOT_FOUND");
	}
}

static void process_flush_all(struct sd_conn *c, struct token *tokens,
			      size_t ntokens)
{
	int32_t delay = 0;

	set_noreply_maybe(c, tokens, ntokens);
	sd_stat_add(&sd_stats.cmd_flush, 1);
	if (ntokens != (c->noreply ? 3 : 2)) {
		if (!safe_strtol(tokens[1].value, &delay)) {
			reply(c, "CLIENT_ERROR invalid exptime argument");
			return;
		}
	}
	sd_items_flush(sd_now(), delay);
	reply(c, "OK");
}

static void process_verbosity(struct sd_conn *c, struct token *tokens,
			      size_t ntokens)
{
	uint32_t level;

	set_noreply_maybe(c, tokens, ntokens);
	if (!safe_strtoul(tokens[1].value, &level)) {
		reply(c, "CLIENT_ERROR bad command line format");
		return;
	}
	sd_settings.verbose = level > 2 ? 2 : (int)level;
	reply(c, "OK");
}

static void process_stats(struct sd_conn *c, struct token *tokens,
			  size_t ntokens)
{
	const char *sub = ntokens > 2 ? tokens[1].value : NULL;

	if (!sub) {
		sd_stats_general(&c->out);
	} else if (strcmp(sub, "reset") == 0) {
		sd_stats_reset();
		sd_out_str(&c->out, "RESET");
		return;
	} else if (strcmp(sub, "slabs") == 0) {
		sd_items_stats_slabs(&c->out);
	} else if (strcmp(sub, "items") == 0) {
		sd_items_stats_items(&c->out);
	} else if (strcmp(sub, "settings") == 0) {
		sd_stats_settings(&c->out);
	} else if (strcmp(sub, "pressure") == 0) {
		sd_stats_pressure(&c->out);
	} else {
		sd_out_str(&c->out, "ERROR");
		return;
	}
	sd_out_str(&c->out, "END");
}

#define WANT_TOKENS(min, max)                            \
	do {                                             \
		if ((min != -1 && (int)ntokens < min) || \
		    (max != -1 && (int)ntokens > max)) { \
			sd_out_str(&c->out, "ERROR");    \
			return SD_PROC_NEED_READ;        \
		}                                        \
	} while (0)
#define WANT_TOKENS_OR(a, b)                                  \
	do {                                                  \
		if ((int)ntokens != a && (int)ntokens != b) { \
			sd_out_str(&c->out, "ERROR");         \
			return SD_PROC_NEED_READ;             \
		}                                             \
	} while (0)

/* One command line, NUL-terminated at @line_end. */
static enum sd_proc process_command(struct sd_conn *c, char *line,
				    char *line_end)
{
	struct token tokens[MAX_TOKENS];
	size_t ntokens;
	const char *cmd;

	c->noreply = false;
	ntokens = tokenize(line, (size_t)(line_end - line), tokens, MAX_TOKENS);
	if (ntokens < 2 || tokens[0].length < 2) {
		sd_out_str(&c->out, "ERROR");
		return SD_PROC_NEED_READ;
	}
	cmd = tokens[0].value;
	if (strcmp(cmd, "get") == 0 || strcmp(cmd, "gets") == 0) {
		WANT_TOKENS(3, -1);
		process_get(c, tokens, line_end, cmd[3] == 's', false);
	} else if (strcmp(cmd, "gat") == 0 || strcmp(cmd, "gats") == 0) {
		WANT_TOKENS(3, -1);
		process_get(c, tokens, line_end, cmd[3] == 's', true);
	} else if (strcmp(cmd, "set") == 0) {
		WANT_TOKENS_OR(6, 7);
		process_update(c, tokens, ntokens, SD_SET);
	} else if (strcmp(cmd, "add") == 0) {
		WANT_TOKENS_OR(6, 7);
		process_update(c, tokens, ntokens, SD_ADD);
	} else if (strcmp(cmd, "replace") == 0) {
		WANT_TOKENS_OR(6, 7);
		process_update(c, tokens, ntokens, SD_REPLACE);
	} else if (strcmp(cmd, "append") == 0) {
		WANT_TOKENS_OR(6, 7);
		process_update(c, tokens, ntokens, SD_APPEND);
	} else if (strcmp(cmd, "prepend") == 0) {
		WANT_TOKENS_OR(6, 7);
		process_update(c, tokens, ntokens, SD_PREPEND);
	} else if (strcmp(cmd, "cas") == 0) {
		WANT_TOKENS_OR(7, 8);
		process_update(c, tokens, ntokens, SD_CAS);
	} else if (strcmp(cmd, "delete") == 0) {
		WANT_TOKENS(3, 5);
		process_delete(c, tokens, ntokens);
	} else if (strcmp(cmd, "incr") == 0 || strcmp(cmd, "decr") == 0) {
		WANT_TOKENS_OR(4, 5);
		process_arithmetic(c, tokens, ntokens, cmd[0] == 'i');
	} else if (strcmp(cmd, "touch") == 0) {
		WANT_TOKENS_OR(4, 5);
		process_touch(c, tokens, ntokens);
	} else if (strcmp(cmd, "stats") == 0) {
		process_stats(c, tokens, ntokens);
	} else if (strcmp(cmd, "flush_all") == 0) {
		WANT_TOKENS(2, 4);
		process_flush_all(c, tokens, ntokens);
	} else if (strcmp(cmd, "version") == 0) {
		sd_out_str(&c->out, "VERSION " SD_VERSION);
	} else if (strcmp(cmd, "quit") == 0) {
		return SD_PROC_CLOSE;
	} else if (strcmp(cmd, "verbosity") == 0) {
		WANT_TOKENS_OR(3, 4);
		process_verbosity(c, tokens, ntokens);
	} else if (strcmp(cmd, "bget") == 0) {
		/* the long-gone "binary get", an alias memcached keeps */
		WANT_TOKENS(3, -1);
		process_get(c, tokens, line_end, false, false);
	} else if (!strchr("gsacidt", cmd[0]) &&
		   !(cmd[0] == 'm' && tokens[0].length == 2) &&
		   strncmp(tokens[ntokens - 2].value, "HTTP/", 5) == 0) {
		/* an HTTP request line: memcached closes without a word */
		return SD_PROC_CLOSE;
	} else {
		sd_out_str(&c->out, "ERROR");
	}
	return SD_PROC_NEED_READ;
}

/* memcached lets only get and gets lines grow past SD_LINE_MAX. */
static bool is_get_line(const char *p, size_t len)
{
	size_t skip = 0;

	while (skip < len && p[skip] == ' ')
		skip++;
	if (skip > 100)
		return false;
	p += skip;
	len -= skip;
	return (len >= 4 && !memcmp(p, "get ", 4)) ||
	       (len >= 5 && !memcmp(p, "gets ", 5));
}

/*
 * A command is half-written: (re)start its idle clock. Called each time
 * bytes of it were parsed, so --idle-timeout measures time without
 * progress, not the length of a long (streamed) command.
 */
static void note_partial(struct sd_conn *c)
{
	c->partial_since = sd_now();
}

/*
 * sd_proto_process() - Parse and execute what is buffered.
 * Return: what the connection must do next.
 */
enum sd_proc sd_proto_process(struct sd_conn *c)
{
	for (;;) {
		size_t avail = c->rend - c->rstart;
		char *start = c->rbuf + c->rstart;
		char *el, *line_end;
		enum sd_proc r;

		if (c->out.failed)
			return SD_PROC_CLOSE;
		switch (c->state) {
		case SD_CONN_VALUE: {
			struct sd_item *it = c->item;

			while (avail && c->item_off < it->nbytes) {
				size_t ci = c->item_off / sd_chunk_max();
				size_t co = c->item_off % sd_chunk_max();
				size_t n = sd_item_chunk_len(it,
							     (unsigned int)ci) -
					   co;

				if (n > avail)
					n = avail;
				memcpy(it->chunks[ci] + co, start, n);
				c->item_off += n;
				c->rstart += n;
				start += n;
				avail -= n;
			}
			if (c->item_off < it->nbytes) {
				note_partial(c);
				return SD_PROC_NEED_READ;
			}
			complete_store(c);
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
			c->state = SD_CONN_CMD;
			c->partial_since = 0;
			continue;
		}
		case SD_CONN_GET:
			if (!get_continue(c))
				return SD_PROC_NEED_FLUSH;
			c->state = SD_CONN_CMD;
			c->rstart = c->get_line_end;
			c->partial_since = 0;
			continue;
		case SD_CONN_GETSTREAM:
			r = get_stream(c);
			if (r == SD_PROC_CLOSE || r == SD_PROC_NEED_FLUSH)
				return r;
			if (c->state == SD_CONN_GETSTREAM) {
				note_partial(c);
				return SD_PROC_NEED_READ;
			}
			if (c->state == SD_CONN_CMD)
				c->partial_since = 0;
			continue;
		case SD_CONN_SKIPLINE:
			el = avail ? memchr(start, '\n', avail) : NULL;
			if (!el) {
				c->rstart = c->rend;
				note_partial(c);
				return SD_PROC_NEED_READ;
			}
			c->rstart = (size_t)(el + 1 - c->rbuf);
			if (c->skip_reply)
				sd_out_str(&c->out, c->skip_reply);
			c->state = SD_CONN_CMD;
			c->partial_since = 0;
			continue;
		case SD_CONN_CMD:
			break;
		}

		if (sd_conn_out_high(c))
			return SD_PROC_NEED_FLUSH;
		el = avail ? memchr(start, '\n', avail) : NULL;
		if (!el) {
			if (!avail) {
				c->partial_since = 0;
				return SD_PROC_NEED_READ;
			}
			if (avail > SD_LINE_MAX && !is_get_line(start, avail))
				return SD_PROC_LONG_LINE;
			if (avail >= SD_GET_STREAM_AT) {
				get_stream_start(c);
				continue;
			}
			note_partial(c);
			return SD_PROC_NEED_READ;
		}
		c->rstart = (size_t)(el + 1 - c->rbuf);
		c->get_line_end = c->rstart;
		line_end = el;
		if (el - start > 1 && el[-1] == '\r')
			line_end--;
		*line_end = '\0';
		line_end = start + strlen(start);
		r = process_command(c, start, line_end);
		if (r == SD_PROC_CLOSE)
			return r;
		if (c->state == SD_CONN_CMD)
			c->partial_since = 0;
	}
}
