// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabcached: memcached's text protocol, reply for reply.
 *
 * The parsing follows memcached 1.6's proto_text.c: a line ends at "\n" (a
 * "\r" before it is dropped unless the line is just "\r"), is cut at its
 * first NUL, and is split on spaces into at most 24 tokens, the last one
 * holding the unsplit rest; numbers are read as memcached's safe_strto*()
 * read them; each command is looked up in a table of {name, min tokens,
 * max tokens, handler}, the token counts and every error string are
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
 * Lock order: none taken here; items.c and stats.c take their own.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slabcached.h"

/* ------------------------------------------------------------ tokens */

/*
 * memcached's tokenize_command(): the last token is the terminal one.
 * Spaces are found with memchr(), which looks at a word or a vector at a
 * time: a get line is mostly its key.
 */
size_t sd_tokenize(char *command, size_t len, struct sd_token *tokens,
		   size_t max_tokens)
{
	char *s = command, *end = command + len, *e;
	size_t ntokens = 0;

	while ((e = memchr(s, ' ', (size_t)(end - s)))) {
		if (e != s) {
			tokens[ntokens].value = s;
			tokens[ntokens].length = (size_t)(e - s);
			ntokens++;
			*e = '\0';
			if (ntokens == max_tokens - 1) {
				e++;
				goto terminal;
			}
		}
		s = e + 1;
	}
	e = end;
	if (s != e) {
		tokens[ntokens].value = s;
		tokens[ntokens].length = (size_t)(e - s);
		ntokens++;
	}
terminal:
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
bool sd_safe_strtoull(const char *str, uint64_t *out)
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

bool sd_safe_strtoul(const char *str, uint32_t *out)
{
	uint64_t v;

	if (!sd_safe_strtoull(str, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

bool sd_safe_strtoll(const char *str, int64_t *out)
{
	long long v;
	char *end;

	errno = 0;
	*out = 0;
	v = strtoll(str, &end, 10);
	if (errno == ERANGE || end == str)
		return false;
	if (isspace((unsigned char)*end) || *end == '\0') {
		*out = v;
		return true;
	}
	return false;
}

bool sd_safe_strtol(const char *str, int32_t *out)
{
	int64_t v;

	if (!sd_safe_strtoll(str, &v))
		return false;
	*out = (int32_t)(uint32_t)(uint64_t)v;
	return true;
}

/* ------------------------------------------------------------ replies */

struct text_req {
	struct sd_token *tokens;
	size_t ntokens;
	char *line_end;
};

static bool set_noreply_maybe(struct sd_conn *c, struct text_req *r)
{
	const char *v = r->tokens[r->ntokens - 2].value;

	if (v && strcmp(v, "noreply") == 0)
		c->noreply = true;
	return c->noreply;
}

/* A one-line reply; suppressed under noreply. */
void sd_text_reply(struct sd_conn *c, const char *s)
{
	if (c->noreply)
		return;
	sd_out_str(&c->out, s);
}

static bool key_too_long(struct sd_conn *c, const struct sd_token *key)
{
	if (key->length <= SD_KEY_MAX)
		return false;
	sd_text_reply(c, "CLIENT_ERROR bad command line format");
	return true;
}

static bool detail_on(void)
{
	return atomic_load_explicit(&sd_settings.detail_enabled,
				    memory_order_relaxed);
}

/* ------------------------------------------------------------ get */

static bool is_sep(char ch)
{
	return ch == ' ' || ch == '\0';
}

/* The header line of one value, formatted by hand: written once per hit. */
static void value_line(struct sd_conn *c, const struct sd_item *it,
		       const char *key, size_t nkey, bool with_cas)
{
	char *start, *p;

	/* "VALUE " key, three numbers with their spaces, "\r\n" */
	start = p = sd_out_reserve(&c->out, 6 + nkey + 3 * 21 + 2);
	if (!p)
		return;
	memcpy(p, "VALUE ", 6);
	p += 6;
	memcpy(p, key, nkey);
	p += nkey;
	*p++ = ' ';
	p = sd_u64_to_str(p, sd_item_flags(it));
	*p++ = ' ';
	p = sd_u64_to_str(p, sd_item_vlen(it));
	if (with_cas) {
		*p++ = ' ';
		p = sd_u64_to_str(p, sd_item_cas(it));
	}
	*p++ = '\r';
	*p++ = '\n';
	sd_out_commit(&c->out, (size_t)(p - start));
}

/*
 * Answer one key of a get line; @silent: look it up (and touch it) with no
 * reply. Return: false if the output failed.
 */
static bool get_key(struct sd_conn *c, const char *key, size_t nkey,
		    bool silent)
{
	struct sd_item *it;
	struct sc_entry *e;

	if (c->get_touch)
		e = sd_item_touch(key, nkey, c->get_exptime, &it);
	else
		e = sd_item_get(key, nkey, &it, true);
	if (detail_on())
		sd_prefix_record_get(key, nkey, e != NULL);
	if (!e) {
		if (c->get_touch) {
			SD_COUNT(touch_cmds);
			SD_COUNT(touch_misses);
		} else {
			SD_COUNT(get_misses);
			SD_COUNT(get_cmds);
		}
		return true;
	}
	if (c->get_touch) {
		SD_COUNT(touch_cmds);
		SD_COUNT_SLAB(sd_item_class(it), touch_hits);
	} else {
		SD_COUNT_SLAB(sd_item_class(it), get_hits);
		SD_COUNT(get_cmds);
	}
	if (silent) {
		sc_entry_put(e);
		return true;
	}
	value_line(c, it, key, nkey, c->get_cas);
	if (sd_conn_add_value(c, it, e, true) < 0) {
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
	char *line = c->rbuf;

	for (;;) {
		size_t key, end;

		while (c->get_next < c->get_end && is_sep(line[c->get_next]))
			c->get_next++;
		if (c->get_next >= c->get_end)
			break;
		if (sd_conn_out_high(c))
			return false;
		key = c->get_next;
		for (end = key; end < c->get_end && !is_sep(line[end]); end++)
			;
		line[end] = '\0';
		c->get_next = end < c->get_end ? end + 1 : end;
		if (!get_key(c, line + key, end - key, false))
			return true; /* out.failed: the caller closes */
	}
	sd_out_str(&c->out, "END");
	return true;
}

static enum sd_proc get_common(struct sd_conn *c, struct text_req *r, bool cas,
			       bool touch)
{
	struct sd_token *key = &r->tokens[1];
	char *p, *line_end = r->line_end;

	c->get_touch = touch;
	c->get_cas = cas;
	if (touch) {
		int32_t exptime;

		if (!sd_safe_strtol(r->tokens[1].value, &exptime)) {
			sd_text_reply(c,
				      "CLIENT_ERROR invalid exptime argument");
			return SD_PROC_NEED_READ;
		}
		c->get_exptime = sd_exptime_rel(exptime);
		key = &r->tokens[2];
	}
	/*
	 * One key, the common case: the tokenizer has found it, so answer
	 * it without scanning the line twice more.
	 */
	if (key->value && key->length <= SD_KEY_MAX && !key[1].value &&
	    !sd_conn_out_high(c)) {
		if (get_key(c, key->value, key->length, false))
			sd_out_str(&c->out, "END");
		return SD_PROC_NEED_READ;
	}
	if (key->length == 0 && key->value == NULL)
		c->get_next = c->get_end = (size_t)(line_end - c->rbuf);
	else
		c->get_next = (size_t)(key->value - c->rbuf);
	c->get_end = (size_t)(line_end - c->rbuf);
	/*
	 * memcached looks the keys up in order and stops at the first one
	 * over 250 bytes; it then drops the replies and sends only the error,
	 * but the lookups before it happened (a gat touched those keys).
	 */
	for (p = c->rbuf + c->get_next; p < line_end;) {
		char *s;

		while (p < line_end && is_sep(*p))
			p++;
		for (s = p; p < line_end && !is_sep(*p); p++)
			;
		if ((size_t)(p - s) > SD_KEY_MAX) {
			for (p = c->rbuf + c->get_next; p < s;) {
				char *k;

				while (p < s && is_sep(*p))
					p++;
				for (k = p; p < s && !is_sep(*p); p++)
					;
				if (p == k)
					continue;
				*p = '\0';
				get_key(c, k, (size_t)(p - k), true);
				p++;
			}
			sd_text_reply(c,
				      "CLIENT_ERROR bad command line format");
			return SD_PROC_NEED_READ;
		}
	}
	if (!get_continue(c))
		c->state = SD_CONN_GET;
	return SD_PROC_NEED_READ;
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
				sd_text_reply(
					c,
					"CLIENT_ERROR bad command line format");
				skip_line(c, NULL);
			}
			return SD_PROC_NEED_READ; /* the key is not all here */
		}
		ch = *p;
		key_end = p;
		if (ch == '\n' && key_end > start && key_end[-1] == '\r')
			key_end--;
		if ((size_t)(key_end - start) > SD_KEY_MAX) {
			c->rstart = (size_t)(p - c->rbuf);
			sd_text_reply(c,
				      "CLIENT_ERROR bad command line format");
			skip_line(c, NULL);
			return SD_PROC_NEED_READ;
		}
		*key_end = '\0';
		c->rstart = (size_t)(p + 1 - c->rbuf);
		if (key_end > start) {
			c->get_nkeys++;
			if (!get_key(c, start, (size_t)(key_end - start),
				     false))
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

/* ------------------------------------------------------------ commands */

enum { GET_PLAIN, GET_CAS, GET_TOUCH, GET_TOUCH_CAS };

static enum sd_proc cmd_get(struct sd_conn *c, struct text_req *r, int arg)
{
	return get_common(c, r, arg == GET_CAS || arg == GET_TOUCH_CAS,
			  arg == GET_TOUCH || arg == GET_TOUCH_CAS);
}

/* set, add, replace, append, prepend, cas: the value follows */
static enum sd_proc cmd_update(struct sd_conn *c, struct text_req *r, int arg)
{
	enum sd_store_cmd cmd = (enum sd_store_cmd)arg;
	struct sd_token *t = r->tokens;
	uint32_t flags;
	int32_t exptime, vlen;
	uint64_t cas = 0;
	struct sd_item *it;

	set_noreply_maybe(c, r);
	if (key_too_long(c, &t[1]))
		return SD_PROC_NEED_READ;
	if (!(sd_safe_strtoul(t[2].value, &flags) &&
	      sd_safe_strtol(t[3].value, &exptime) &&
	      sd_safe_strtol(t[4].value, &vlen))) {
		sd_text_reply(c, "CLIENT_ERROR bad command line format");
		return SD_PROC_NEED_READ;
	}
	if (cmd == SD_CAS && !sd_safe_strtoull(t[5].value, &cas)) {
		sd_text_reply(c, "CLIENT_ERROR bad command line format");
		return SD_PROC_NEED_READ;
	}
	if (vlen < 0 || vlen > INT_MAX - 2) {
		sd_text_reply(c, "CLIENT_ERROR bad command line format");
		return SD_PROC_NEED_READ;
	}
	vlen += 2;
	if (detail_on())
		sd_prefix_record_set(t[1].value, t[1].length);
	if (!sd_item_size_ok(t[1].length, flags, (size_t)vlen)) {
		SD_COUNT(store_too_large);
		sd_text_reply(c, "SERVER_ERROR object too large for cache");
		goto err_swallow;
	}
	it = sd_item_alloc(t[1].length, flags, sd_exptime_rel(exptime),
			   (size_t)vlen);
	if (!it) {
		SD_COUNT(store_no_memory);
		sd_text_reply(c, "SERVER_ERROR out of memory storing object");
		goto err_swallow;
	}
	c->store_cmd = cmd;
	c->store_cas = cas;
	c->set_stale = false;
	sd_conn_start_value(c, it, t[1].value, t[1].length, (size_t)vlen,
			    SD_VALUE_TEXT);
	return SD_PROC_NEED_READ;

err_swallow:
	/* a refused set must not leave the old value readable */
	if (cmd == SD_SET) {
		unsigned int cls;

		sd_item_delete(t[1].value, t[1].length, 0, &cls);
	}
	sd_conn_start_swallow(c, (size_t)vlen);
	return SD_PROC_NEED_READ;
}

void sd_text_store_done(struct sd_conn *c, enum sd_store_result r, uint64_t cas)
{
	(void)cas;
	switch (r) {
	case SD_STORED:
		sd_text_reply(c, "STORED");
		break;
	case SD_NOT_STORED:
		sd_text_reply(c, "NOT_STORED");
		break;
	case SD_EXISTS:
		sd_text_reply(c, "EXISTS");
		break;
	case SD_NOT_FOUND:
		sd_text_reply(c, "NOT_FOUND");
		break;
	case SD_TOO_LARGE:
		SD_COUNT(store_too_large);
		sd_text_reply(c, "SERVER_ERROR object too large for cache");
		break;
	case SD_NO_MEMORY:
		SD_COUNT(store_no_memory);
		sd_text_reply(c, "SERVER_ERROR out of memory storing object");
		break;
	}
}

static enum sd_proc cmd_delete(struct sd_conn *c, struct text_req *r, int arg)
{
	struct sd_token *t = r->tokens;
	unsigned int cls;

	(void)arg;
	if (r->ntokens > 3) {
		bool hold_is_zero = strcmp(t[2].value, "0") == 0;
		bool sets_noreply = set_noreply_maybe(c, r);
		bool valid =
			(r->ntokens == 4 && (hold_is_zero || sets_noreply)) ||
			(r->ntokens == 5 && hold_is_zero && sets_noreply);

		if (!valid) {
			sd_text_reply(c,
				      "CLIENT_ERROR bad command line format.  "
				      "Usage: delete <key> [noreply]");
			return SD_PROC_NEED_READ;
		}
	}
	if (key_too_long(c, &t[1]))
		return SD_PROC_NEED_READ;
	if (detail_on())
		sd_prefix_record_delete(t[1].value, t[1].length);
	if (sd_item_delete(t[1].value, t[1].length, 0, &cls) > 0) {
		SD_COUNT_SLAB(cls, delete_hits);
		sd_text_reply(c, "DELETED");
	} else {
		SD_COUNT(delete_misses);
		sd_text_reply(c, "NOT_FOUND");
	}
	return SD_PROC_NEED_READ;
}

static enum sd_proc cmd_arith(struct sd_conn *c, struct text_req *r, int incr)
{
	struct sd_token *t = r->tokens;
	uint64_t delta, result;
	char buf[24];

	set_noreply_maybe(c, r);
	if (key_too_long(c, &t[1]))
		return SD_PROC_NEED_READ;
	if (!sd_safe_strtoull(t[2].value, &delta)) {
		sd_text_reply(c, "CLIENT_ERROR invalid numeric delta argument");
		return SD_PROC_NEED_READ;
	}
	switch (sd_item_delta(t[1].value, t[1].length, incr, delta, 0, &result,
			      NULL, NULL)) {
	case SD_DELTA_OK:
		sd_u64_to_str(buf, result);
		sd_text_reply(c, buf);
		break;
	case SD_DELTA_NOT_FOUND:
		if (incr)
			SD_COUNT(incr_misses);
		else
			SD_COUNT(decr_misses);
		sd_text_reply(c, "NOT_FOUND");
		break;
	case SD_DELTA_NON_NUMERIC:
		sd_text_reply(c, "CLIENT_ERROR cannot increment or decrement "
				 "non-numeric value");
		break;
	case SD_DELTA_NO_MEMORY:
		sd_text_reply(c, "SERVER_ERROR out of memory");
		break;
	case SD_DELTA_CAS_MISMATCH:
		break; /* no CAS given */
	}
	return SD_PROC_NEED_READ;
}

static enum sd_proc cmd_touch(struct sd_conn *c, struct text_req *r, int arg)
{
	struct sd_token *t = r->tokens;
	struct sd_item *it;
	struct sc_entry *e;
	int32_t exptime;

	(void)arg;
	set_noreply_maybe(c, r);
	if (key_too_long(c, &t[1]))
		return SD_PROC_NEED_READ;
	if (!sd_safe_strtol(t[2].value, &exptime)) {
		sd_text_reply(c, "CLIENT_ERROR invalid exptime argument");
		return SD_PROC_NEED_READ;
	}
	SD_COUNT(touch_cmds);
	e = sd_item_touch(t[1].value, t[1].length, sd_exptime_rel(exptime),
			  &it);
	if (e) {
		SD_COUNT_SLAB(sd_item_class(it), touch_hits);
		sc_entry_put(e);
		sd_text_reply(c, "TOUCHED");
	} else {
		SD_COUNT(touch_misses);
		sd_text_reply(c, "NOT_FOUND");
	}
	return SD_PROC_NEED_READ;
}

static enum sd_proc cmd_flush_all(struct sd_conn *c, struct text_req *r,
				  int arg)
{
	int32_t delay = 0;

	(void)arg;
	set_noreply_maybe(c, r);
	SD_COUNT(flush_cmds);
	if (!sd_settings.flush_enabled) {
		sd_text_reply(c, "CLIENT_ERROR flush_all not allowed");
		return SD_PROC_NEED_READ;
	}
	if (r->ntokens != (c->noreply ? 3u : 2u) &&
	    !sd_safe_strtol(r->tokens[1].value, &delay)) {
		sd_text_reply(c, "CLIENT_ERROR invalid exptime argument");
		return SD_PROC_NEED_READ;
	}
	sd_items_flush(delay);
	sd_text_reply(c, "OK");
	return SD_PROC_NEED_READ;
}

static enum sd_proc cmd_version(struct sd_conn *c, struct text_req *r, int arg)
{
	(void)r;
	(void)arg;
	sd_out_str(&c->out, "VERSION " SD_VERSION);
	return SD_PROC_NEED_READ;
}

static enum sd_proc cmd_quit(struct sd_conn *c, struct text_req *r, int arg)
{
	(void)c;
	(void)r;
	(void)arg;
	return SD_PROC_CLOSE;
}

static enum sd_proc cmd_verbosity(struct sd_conn *c, struct text_req *r,
				  int arg)
{
	uint32_t level;

	(void)arg;
	set_noreply_maybe(c, r);
	if (!sd_safe_strtoul(r->tokens[1].value, &level)) {
		sd_text_reply(c, "CLIENT_ERROR bad command line format");
		return SD_PROC_NEED_READ;
	}
	atomic_store(&sd_settings.verbose, level > 2 ? 2 : (int)level);
	sd_text_reply(c, "OK");
	return SD_PROC_NEED_READ;
}

static enum sd_proc cmd_shutdown(struct sd_conn *c, struct text_req *r, int arg)
{
	(void)arg;
	if (!sd_settings.shutdown_command) {
		sd_out_str(&c->out, "ERROR: shutdown not enabled");
		return SD_PROC_NEED_READ;
	}
	if (r->ntokens == 2) {
		sd_request_shutdown(false);
		return SD_PROC_CLOSE;
	}
	if (r->ntokens == 3 && strcmp(r->tokens[1].value, "graceful") == 0) {
		sd_request_shutdown(true);
		return SD_PROC_CLOSE;
	}
	sd_out_str(&c->out, "CLIENT_ERROR invalid shutdown mode");
	return SD_PROC_NEED_READ;
}

static enum sd_proc cmd_cache_memlimit(struct sd_conn *c, struct text_req *r,
				       int arg)
{
	uint32_t mb;

	(void)arg;
	set_noreply_maybe(c, r);
	if (!sd_safe_strtoul(r->tokens[1].value, &mb)) {
		sd_text_reply(c, "ERROR");
	} else if (mb < 8) {
		sd_text_reply(c, "MEMLIMIT_TOO_SMALL cannot set maxbytes to "
				 "less than 8m");
	} else if (mb > 1000000000) {
		sd_text_reply(c, "MEMLIMIT_ADJUST_FAILED input value is "
				 "megabytes not bytes");
	} else if (sd_items_set_limit((size_t)mb << 20) < 0) {
		sd_text_reply(c, "MEMLIMIT_ADJUST_FAILED out of bounds or "
				 "unable to adjust");
	} else {
		if (atomic_load(&sd_settings.verbose) > 0)
			fprintf(stderr, "maxbytes adjusted to %llum\n",
				(unsigned long long)mb);
		sd_text_reply(c, "OK");
	}
	return SD_PROC_NEED_READ;
}

static enum sd_proc cmd_debugtime(struct sd_conn *c, struct text_req *r,
				  int arg)
{
	int64_t delta;

	(void)arg;
	if (!sd_safe_strtoll(r->tokens[1].value, &delta)) {
		sd_out_str(&c->out, "ERROR");
		return SD_PROC_NEED_READ;
	}
	sd_clock_shift(delta);
	sd_out_str(&c->out, "OK");
	return SD_PROC_NEED_READ;
}

/*
 * slabs automove <level>, slabs reassign <src> <dst>: memcached's slab
 * mover. Memory moves between our classes by itself (an empty slab goes
 * back to the allocator, and any class takes it from there), so the
 * automove level is checked as memcached checks it and has nothing to
 * change; reassign answers as memcached does when it is off.
 */
static enum sd_proc cmd_slabs(struct sd_conn *c, struct text_req *r, int arg)
{
	struct sd_token *t = r->tokens;

	(void)arg;
	if (r->ntokens == 5 && strcmp(t[1].value, "reassign") == 0) {
		sd_out_str(&c->out, "CLIENT_ERROR slab reassignment disabled");
	} else if (r->ntokens >= 4 && strcmp(t[1].value, "automove") == 0) {
		uint32_t level;

		set_noreply_maybe(c, r);
		if (strcmp(t[2].value, "ratio") == 0) {
			double ratio;
			char *end;

			if (r->ntokens < 5) {
				sd_text_reply(c, "ERROR");
				return SD_PROC_NEED_READ;
			}
			ratio = strtod(t[3].value, &end);
			(void)ratio;
			if (end == t[3].value || (*end && *end != ' ')) {
				sd_text_reply(c, "ERROR");
				return SD_PROC_NEED_READ;
			}
		} else if (!sd_safe_strtoul(t[2].value, &level)) {
			sd_text_reply(c,
				      "CLIENT_ERROR bad command line format");
			return SD_PROC_NEED_READ;
		} else if (level > 2) {
			sd_text_reply(c, "ERROR");
			return SD_PROC_NEED_READ;
		}
		sd_text_reply(c, "OK");
	} else {
		sd_out_str(&c->out, "ERROR");
	}
	return SD_PROC_NEED_READ;
}

static enum sd_proc cmd_meta(struct sd_conn *c, struct text_req *r, int arg)
{
	(void)arg;
	sd_meta_command(c, r->tokens, r->ntokens);
	return SD_PROC_NEED_READ;
}

/* "stats" and its subcommands */
static enum sd_proc cmd_stats(struct sd_conn *c, struct text_req *r, int arg)
{
	struct sd_token *t = r->tokens;
	const char *sub = t[1].value;

	(void)arg;
	if (r->ntokens == 2) {
		sd_stats_general(&c->out);
	} else if (strcmp(sub, "reset") == 0) {
		sd_stats_reset();
		sd_out_str(&c->out, "RESET");
		return SD_PROC_NEED_READ;
	} else if (strcmp(sub, "detail") == 0) {
		const char *what = r->ntokens < 4 ? "" : t[2].value;

		if (strcmp(what, "on") == 0) {
			atomic_store(&sd_settings.detail_enabled, true);
			sd_out_str(&c->out, "OK");
		} else if (strcmp(what, "off") == 0) {
			atomic_store(&sd_settings.detail_enabled, false);
			sd_out_str(&c->out, "OK");
		} else if (strcmp(what, "dump") == 0) {
			sd_prefix_dump(&c->out);
		} else {
			sd_out_str(&c->out, "CLIENT_ERROR usage: stats detail "
					    "on|off|dump");
		}
		return SD_PROC_NEED_READ;
	} else if (strcmp(sub, "settings") == 0) {
		sd_stats_settings(&c->out);
	} else if (strcmp(sub, "cachedump") == 0) {
		uint32_t id, limit;

		if (!sd_settings.dump_enabled) {
			sd_out_str(&c->out,
				   "CLIENT_ERROR stats cachedump not allowed");
			return SD_PROC_NEED_READ;
		}
		if (r->ntokens < 5) {
			sd_out_str(&c->out, "CLIENT_ERROR bad command line");
			return SD_PROC_NEED_READ;
		}
		if (!sd_safe_strtoul(t[2].value, &id) ||
		    !sd_safe_strtoul(t[3].value, &limit)) {
			sd_out_str(&c->out,
				   "CLIENT_ERROR bad command line format");
			return SD_PROC_NEED_READ;
		}
		/* memcached's classes end below 64; ours may go further */
		if (id >= 64 && id > sd_nclasses()) {
			sd_out_str(&c->out, "CLIENT_ERROR Illegal slab id");
			return SD_PROC_NEED_READ;
		}
		if (id == 0 || id > sd_nclasses())
			sd_out_str(&c->out, "END");
		else
			sd_items_cachedump(&c->out, id - 1, limit);
		return SD_PROC_NEED_READ;
	} else if (strcmp(sub, "conns") == 0) {
		sd_stats_conns(&c->out);
	} else if (strcmp(sub, "slabs") == 0) {
		sd_items_stats_slabs(&c->out);
	} else if (strcmp(sub, "items") == 0) {
		sd_items_stats_items(&c->out);
	} else if (strcmp(sub, "pressure") == 0) {
		sd_stats_pressure(&c->out);
	} else if (strcmp(sub, "slabcached") == 0) {
		sd_stats_slabcached(&c->out);
	} else {
		sd_out_str(&c->out, "ERROR");
		return SD_PROC_NEED_READ;
	}
	sd_out_str(&c->out, "END");
	return SD_PROC_NEED_READ;
}

/* ------------------------------------------------------------ table */

typedef enum sd_proc (*text_handler)(struct sd_conn *c, struct text_req *r,
				     int arg);

/*
 * memcached's commands: token counts include the command and the terminal
 * token, as memcached's WANT_TOKENS; -1: no bound. Hot commands first.
 */
static const struct text_cmd {
	const char *name;
	uint8_t len;
	int8_t min_tokens, max_tokens;
	text_handler fn;
	int arg;
	bool debug_only; /* a test build's command (memcached-debug's) */
} text_cmds[] = {
	{ "get", 3, 3, -1, cmd_get, GET_PLAIN, false },
	{ "set", 3, 6, 7, cmd_update, SD_SET, false },
	{ "mg", 2, -1, -1, cmd_meta, 0, false },
	{ "ms", 2, -1, -1, cmd_meta, 0, false },
	{ "gets", 4, 3, -1, cmd_get, GET_CAS, false },
	{ "delete", 6, 3, 5, cmd_delete, 0, false },
	{ "md", 2, -1, -1, cmd_meta, 0, false },
	{ "ma", 2, -1, -1, cmd_meta, 0, false },
	{ "mn", 2, -1, -1, cmd_meta, 0, false },
	{ "me", 2, -1, -1, cmd_meta, 0, false },
	{ "incr", 4, 4, 5, cmd_arith, 1, false },
	{ "decr", 4, 4, 5, cmd_arith, 0, false },
	{ "add", 3, 6, 7, cmd_update, SD_ADD, false },
	{ "replace", 7, 6, 7, cmd_update, SD_REPLACE, false },
	{ "append", 6, 6, 7, cmd_update, SD_APPEND, false },
	{ "prepend", 7, 6, 7, cmd_update, SD_PREPEND, false },
	{ "cas", 3, 7, 8, cmd_update, SD_CAS, false },
	{ "touch", 5, 4, 5, cmd_touch, 0, false },
	{ "gat", 3, 3, -1, cmd_get, GET_TOUCH, false },
	{ "gats", 4, 3, -1, cmd_get, GET_TOUCH_CAS, false },
	{ "bget", 4, 3, -1, cmd_get, GET_PLAIN, false },
	{ "stats", 5, -1, -1, cmd_stats, 0, false },
	{ "flush_all", 9, 2, 4, cmd_flush_all, 0, false },
	{ "version", 7, -1, -1, cmd_version, 0, false },
	{ "quit", 4, -1, -1, cmd_quit, 0, false },
	{ "verbosity", 9, 3, 4, cmd_verbosity, 0, false },
	{ "shutdown", 8, -1, -1, cmd_shutdown, 0, false },
	{ "cache_memlimit", 14, 3, 4, cmd_cache_memlimit, 0, false },
	{ "slabs", 5, -1, -1, cmd_slabs, 0, false },
	{ "debugtime", 9, 2, -1, cmd_debugtime, 0, true },
};

static const struct text_cmd *find_cmd(const struct sd_token *t)
{
	size_t i;

	for (i = 0; i < sizeof(text_cmds) / sizeof(text_cmds[0]); i++) {
		const struct text_cmd *tc = &text_cmds[i];

		if (tc->len == t->length &&
		    !memcmp(tc->name, t->value, t->length))
			return tc->debug_only && !sd_settings.debug_commands ?
				       NULL :
				       tc;
	}
	return NULL;
}

/* One command line, NUL-terminated at @line_end. */
static enum sd_proc text_command(struct sd_conn *c, char *line, char *line_end)
{
	struct sd_token tokens[SD_MAX_TOKENS];
	struct text_req r = { .tokens = tokens, .line_end = line_end };
	const struct text_cmd *tc;
	const char *cmd;

	c->noreply = false;
	if (atomic_load_explicit(&sd_settings.verbose, memory_order_relaxed) >
	    1)
		fprintf(stderr, "<%d %s\n", c->fd, line);
	r.ntokens = sd_tokenize(line, (size_t)(line_end - line), tokens,
				SD_MAX_TOKENS);
	if (r.ntokens < 2 || tokens[0].length < 2) {
		sd_out_str(&c->out, "ERROR");
		return SD_PROC_NEED_READ;
	}
	tc = find_cmd(&tokens[0]);
	if (tc) {
		if ((tc->min_tokens >= 0 &&
		     r.ntokens < (size_t)tc->min_tokens) ||
		    (tc->max_tokens >= 0 &&
		     r.ntokens > (size_t)tc->max_tokens)) {
			sd_out_str(&c->out, "ERROR");
			return SD_PROC_NEED_READ;
		}
		return tc->fn(c, &r, tc->arg);
	}
	cmd = tokens[0].value;
	/*
	 * memcached dispatches on these first letters (and on two-letter
	 * meta commands) before it looks at the name: an unknown command
	 * there is an error. Elsewhere an unknown command ending in an
	 * "HTTP/" token is an HTTP request line, closed without a word.
	 */
	if (!strchr("gsacidt", cmd[0]) &&
	    !(cmd[0] == 'm' && tokens[0].length == 2) &&
	    strncmp(tokens[r.ntokens - 2].value, "HTTP/", 5) == 0)
		return SD_PROC_CLOSE;
	sd_out_str(&c->out, "ERROR");
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
 * sd_text_process() - Run the text protocol on what is buffered, until it
 * needs more input, its output is high, a command starts a value (the
 * state is then SD_CONN_VALUE or SD_CONN_SWALLOW) or the connection must
 * close.
 */
enum sd_proc sd_text_process(struct sd_conn *c)
{
	for (;;) {
		size_t avail = c->rend - c->rstart;
		char *start = c->rbuf + c->rstart;
		char *el, *line_end;
		enum sd_proc r;

		if (c->out.failed)
			return SD_PROC_CLOSE;
		switch (c->state) {
		case SD_CONN_GET:
			if (!get_continue(c))
				return SD_PROC_NEED_FLUSH;
			c->state = SD_CONN_CMD;
			c->rstart = c->get_line_end;
			continue;
		case SD_CONN_GETSTREAM:
			r = get_stream(c);
			if (r == SD_PROC_CLOSE || r == SD_PROC_NEED_FLUSH)
				return r;
			if (c->state == SD_CONN_GETSTREAM)
				return SD_PROC_NEED_READ;
			continue;
		case SD_CONN_SKIPLINE:
			el = avail ? memchr(start, '\n', avail) : NULL;
			if (!el) {
				c->rstart = c->rend;
				return SD_PROC_NEED_READ;
			}
			c->rstart = (size_t)(el + 1 - c->rbuf);
			if (c->skip_reply)
				sd_out_str(&c->out, c->skip_reply);
			c->state = SD_CONN_CMD;
			continue;
		case SD_CONN_CMD:
			break;
		default:
			return SD_PROC_NEED_READ;
		}

		if (sd_conn_out_high(c))
			return SD_PROC_NEED_FLUSH;
		el = avail ? memchr(start, '\n', avail) : NULL;
		if (!el) {
			if (!avail)
				return SD_PROC_NEED_READ;
			if (avail > SD_LINE_MAX && !is_get_line(start, avail))
				return SD_PROC_LONG_LINE;
			if (avail >= SD_GET_STREAM_AT) {
				if (!sd_conn_take_command(c))
					return SD_PROC_YIELD;
				get_stream_start(c);
				continue;
			}
			return SD_PROC_NEED_READ;
		}
		if (!sd_conn_take_command(c))
			return SD_PROC_YIELD;
		c->rstart = (size_t)(el + 1 - c->rbuf);
		c->get_line_end = c->rstart;
		line_end = el;
		if (el - start > 1 && el[-1] == '\r')
			line_end--;
		*line_end = '\0';
		line_end = start + strlen(start);
		r = text_command(c, start, line_end);
		if (r == SD_PROC_CLOSE)
			return r;
		if (c->state != SD_CONN_CMD && c->state != SD_CONN_GET)
			return SD_PROC_NEED_READ;
	}
}
