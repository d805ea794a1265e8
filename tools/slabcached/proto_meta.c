// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabcached: memcached's meta commands, as memcached 1.6.18 answers them.
 *
 *   mg <key> <flags>*           get, with the flags asked for
 *   ms <key> <datalen> <flags>* set (and add, append, prepend, replace, cas)
 *   md <key> <flags>*           delete, or invalidate (I)
 *   ma <key> <flags>*           incr/decr, with autovivify (N, J)
 *   mn                          no-op: "MN", flushes a pipeline
 *   me <key> [b]                an item's metadata
 *
 * Flags are single letters with an optional token: b (base64 key), c, f,
 * h, k, l, O (opaque), q (quiet), s, t, v, u (no bump), N (vivify on
 * miss), R (recache win), T (TTL), I (invalidate), C (CAS), F (flags), M
 * (mode), D (delta), J (initial), E is not in 1.6.18. Return flags come in
 * the order they were asked; the status codes are HD, VA, EN, NF, NS, EX,
 * MN, ME. The q flag hides the nominal replies (EN for mg, HD for ms, md,
 * ma) and never an error. The parsing of the flags, the token limits and
 * every error string are those of memcached's proto_text.c.
 *
 * Recache and invalidation (the "stale-while-revalidate" flags): md I
 * marks an item stale with a new CAS unique instead of deleting it; mg
 * then answers X and W (win: this client should refresh it) once, Z to
 * the others; R<ttl> wins when the remaining TTL is below it; ms I with an
 * older CAS replaces a stale item and keeps it marked.
 *
 * Lock order: none taken here; items.c takes its own.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "slabcached.h"

#define MFLAG_MAX_OPT_LENGTH 20 /* tokens, command and key included */
#define MFLAG_MAX_OPAQUE_LENGTH 32

/* ------------------------------------------------------------ base64 */

static const char b64_table[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	if (ch == '=')
		return 0;
	return -1;
}

/* memcached's base64_encode(): 0 if @dst is too small. */
size_t sd_base64_encode(const unsigned char *src, size_t len, char *dst,
			size_t dstlen)
{
	const unsigned char *in = src, *end = src + len;
	char *pos = dst;

	if (len * 4 / 3 + 5 > dstlen)
		return 0;
	while (end - in >= 3) {
		*pos++ = b64_table[in[0] >> 2];
		*pos++ = b64_table[((in[0] & 0x03) << 4) | (in[1] >> 4)];
		*pos++ = b64_table[((in[1] & 0x0f) << 2) | (in[2] >> 6)];
		*pos++ = b64_table[in[2] & 0x3f];
		in += 3;
	}
	if (end - in) {
		*pos++ = b64_table[in[0] >> 2];
		if (end - in == 1) {
			*pos++ = b64_table[(in[0] & 0x03) << 4];
			*pos++ = '=';
		} else {
			*pos++ =
				b64_table[((in[0] & 0x03) << 4) | (in[1] >> 4)];
			*pos++ = b64_table[(in[1] & 0x0f) << 2];
		}
		*pos++ = '=';
	}
	*pos = '\0';
	return (size_t)(pos - dst);
}

/*
 * memcached's base64_decode(): characters outside the alphabet are
 * skipped, the rest must come in fours; decoding stops at padding. May
 * decode in place. Return: the length, 0 on failure.
 */
size_t sd_base64_decode(const char *src, size_t len, unsigned char *dst,
			size_t dstlen)
{
	unsigned char block[4], *pos = dst;
	size_t i, count = 0;
	int pad = 0;

	for (i = 0; i < len; i++)
		count += b64_value((unsigned char)src[i]) >= 0;
	if (count == 0 || count % 4 || count / 4 * 3 > dstlen)
		return 0;
	count = 0;
	for (i = 0; i < len; i++) {
		int v = b64_value((unsigned char)src[i]);

		if (v < 0)
			continue;
		if (src[i] == '=')
			pad++;
		block[count++] = (unsigned char)v;
		if (count == 4) {
			*pos++ = (unsigned char)((block[0] << 2) |
						 (block[1] >> 4));
			*pos++ = (unsigned char)((block[1] << 4) |
						 (block[2] >> 2));
			*pos++ = (unsigned char)((block[2] << 6) | block[3]);
			count = 0;
			if (pad) {
				if (pad == 1)
					pos--;
				else if (pad == 2)
					pos -= 2;
				else
					return 0;
				break;
			}
		}
	}
	return (size_t)(pos - dst);
}

/* ------------------------------------------------------------ flags */

struct meta_flags {
	bool has_error, no_update, locked, vivify, la, value, set_stale;
	bool no_reply, has_cas, new_ttl, key_binary;
	char mode;
	sd_rel_time exptime, autoviv_exptime, recache_time;
	uint32_t client_flags;
	uint64_t req_cas_id, delta, initial;
};

/*
 * memcached's _meta_flag_preparse(): each flag once; the b flag decodes
 * the key in place. Return: 0, or -1 with *@errstr set.
 */
static int flag_preparse(struct sd_token *tokens, size_t start,
			 struct meta_flags *of, const char **errstr)
{
	uint8_t seen[127] = { 0 };
	size_t i, ret;
	int32_t tmp;

	for (i = start; tokens[i].length != 0; i++) {
		uint8_t o = (uint8_t)tokens[i].value[0];
		const char *arg = tokens[i].value + 1;

		if (o >= 127 || seen[o]) {
			*errstr = "CLIENT_ERROR duplicate flag";
			return -1;
		}
		seen[o] = 1;
		switch (o) {
		case 'b':
			ret = sd_base64_decode(tokens[1].value,
					       tokens[1].length,
					       (unsigned char *)tokens[1].value,
					       tokens[1].length);
			if (ret == 0) {
				*errstr = "CLIENT_ERROR error decoding key";
				of->has_error = true;
			}
			tokens[1].length = ret;
			of->key_binary = true;
			break;
		case 'N':
			of->locked = true;
			of->vivify = true;
			if (!sd_safe_strtol(arg, &tmp)) {
				*errstr = "CLIENT_ERROR bad token in command "
					  "line format";
				of->has_error = true;
			} else {
				of->autoviv_exptime = sd_exptime_rel(tmp);
			}
			break;
		case 'T':
			of->locked = true;
			if (!sd_safe_strtol(arg, &tmp)) {
				*errstr = "CLIENT_ERROR bad token in command "
					  "line format";
				of->has_error = true;
			} else {
				of->exptime = sd_exptime_rel(tmp);
				of->new_ttl = true;
			}
			break;
		case 'R':
			of->locked = true;
			if (!sd_safe_strtol(arg, &tmp)) {
				*errstr = "CLIENT_ERROR bad token in command "
					  "line format";
				of->has_error = true;
			} else {
				of->recache_time = sd_exptime_rel(tmp);
			}
			break;
		case 'l':
			of->la = true;
			of->locked = true;
			break;
		case 'O':
		case 'P':
		case 'L':
		case 'k':
		case 's':
		case 't':
		case 'c':
		case 'f':
			break;
		case 'v':
			of->value = true;
			break;
		case 'h':
			of->locked = true;
			break;
		case 'u':
			of->no_update = true;
			break;
		case 'q':
			of->no_reply = true;
			break;
		case 'F':
			if (!sd_safe_strtoul(arg, &of->client_flags))
				of->has_error = true;
			break;
		case 'C':
			if (!sd_safe_strtoull(arg, &of->req_cas_id)) {
				*errstr = "CLIENT_ERROR bad token in command "
					  "line format";
				of->has_error = true;
			} else {
				of->has_cas = true;
			}
			break;
		case 'M':
			if (tokens[i].length != 2) {
				*errstr = "CLIENT_ERROR incorrect length for M "
					  "token";
				of->has_error = true;
			} else {
				of->mode = tokens[i].value[1];
			}
			break;
		case 'J':
			if (!sd_safe_strtoull(arg, &of->initial)) {
				*errstr =
					"CLIENT_ERROR invalid numeric initial "
					"value";
				of->has_error = true;
			}
			break;
		case 'D':
			if (!sd_safe_strtoull(arg, &of->delta)) {
				*errstr = "CLIENT_ERROR invalid numeric delta "
					  "value";
				of->has_error = true;
			}
			break;
		case 'I':
			of->set_stale = true;
			break;
		default:
			*errstr = "CLIENT_ERROR invalid flag";
			return -1;
		}
	}
	return of->has_error ? -1 : 0;
}

static bool detail_enabled_here(void)
{
	return atomic_load_explicit(&sd_settings.detail_enabled,
				    memory_order_relaxed);
}

/* ------------------------------------------------------------ replies */

/*
 * A meta reply line is built here before it goes out whole: a failed
 * command answers only its error, as memcached's out_errstring() does.
 */
struct line {
	char buf[SD_KEY_MAX * 2 + 1024];
	size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->len + n > sizeof(l->buf))
		n = sizeof(l->buf) - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_flag_u64(struct line *l, char flag, uint64_t v)
{
	char tmp[24] = { ' ', flag };

	put(l, tmp, (size_t)(sd_u64_to_str(tmp + 2, v) - tmp));
}

/* " k<key>", base64 and " b" for a binary key (memcached's META_KEY) */
static void put_key(struct line *l, const char *key, size_t nkey, bool bin)
{
	put(l, " k", 2);
	if (!bin) {
		put(l, key, nkey);
	} else {
		char enc[SD_KEY_MAX * 2];
		size_t n = sd_base64_encode((const unsigned char *)key, nkey,
					    enc, sizeof(enc));

		put(l, enc, n);
		put(l, " b", 2);
	}
}

/* " t<seconds left>", or " t-1" for no exptime, in memcached's 32 bits */
static void put_ttl(struct line *l, sd_rel_time exptime)
{
	if (exptime == 0)
		put(l, " t-1", 4);
	else
		put_flag_u64(l, 't', (uint32_t)(exptime - sd_now()));
}

/* The opaque token as it came; false if it is too long. */
static bool put_opaque(struct line *l, const struct sd_token *t)
{
	if (t->length > MFLAG_MAX_OPAQUE_LENGTH)
		return false;
	put(l, " ", 1);
	put(l, t->value, t->length);
	return true;
}

/*
 * The flags a reply without an item echoes: the opaque token and the
 * key, in the request's order; false if the opaque token is too long.
 */
static bool put_echo_flags(struct line *l, const struct sd_token *tokens,
			   size_t ntokens, const char *key, size_t nkey,
			   bool key_binary)
{
	size_t i;

	for (i = 2; i < ntokens - 1; i++) {
		switch (tokens[i].value[0]) {
		case 'O':
			if (!put_opaque(l, &tokens[i]))
				return false;
			break;
		case 'k':
			put_key(l, key, nkey, key_binary);
			break;
		}
	}
	return true;
}

static void send_line(struct sd_conn *c, struct line *l)
{
	put(l, "\r\n", 2);
	sd_out_bytes(&c->out, l->buf, l->len);
}

/* memcached's out_errstring(): errors are sent whatever the q flag. */
static void meta_error(struct sd_conn *c, const char *err)
{
	c->noreply = false;
	sd_out_str(&c->out, err);
}

/* ------------------------------------------------------------ mg */

static void meta_get(struct sd_conn *c, struct sd_token *tokens, size_t ntokens)
{
	const char *errstr = "CLIENT_ERROR bad command line format";
	struct meta_flags of = { 0 };
	bool item_created = false, won = false, ttl_set = false;
	struct sd_item *it = NULL;
	struct sc_entry *e = NULL;
	struct line l = { .len = 0 };
	const char *key;
	size_t nkey, i;

	if (ntokens < 3) {
		sd_out_str(&c->out, "ERROR");
		return;
	}
	if (tokens[1].length > SD_KEY_MAX) {
		meta_error(c, "CLIENT_ERROR bad command line format");
		return;
	}
	if (ntokens > MFLAG_MAX_OPT_LENGTH) {
		meta_error(c, "CLIENT_ERROR options flags are too long");
		return;
	}
	if (flag_preparse(tokens, 2, &of, &errstr) != 0) {
		meta_error(c, errstr);
		return;
	}
	c->noreply = of.no_reply;
	key = tokens[1].value;
	nkey = tokens[1].length;

	/* with h, l (and the TTL flags) the bump waits: they read it first */
	e = sd_item_get(key, nkey, &it, !of.locked && !of.no_update);
	if (!e && of.vivify) {
		struct sd_item *n = sd_item_alloc(nkey, 0, 0, 2);

		if (n) {
			sd_item_copy_in(n, 0, "\r\n", 2);
			if (of.key_binary)
				atomic_fetch_or(&n->iflags, SD_ITEM_KEY_BINARY);
			if (sd_item_link_new(n, key, nkey, NULL) == SD_STORED) {
				e = sd_item_get(key, nkey, &it, false);
				item_created = e && it == n;
			} else {
				sd_item_free(n);
			}
		}
	}
	if (detail_enabled_here())
		sd_prefix_record_get(key, nkey, e != NULL);
	if (e) {
		if (of.value) {
			char num[24];

			put(&l, "VA ", 3);
			put(&l, num,
			    (size_t)(sd_u64_to_str(num, sd_item_vlen(it)) -
				     num));
		} else {
			put(&l, "HD", 2);
		}
		for (i = 2; i < ntokens - 1; i++) {
			uint8_t f;

			switch (tokens[i].value[0]) {
			case 'T':
				ttl_set = true;
				sd_item_set_exptime(key, nkey, it, of.exptime);
				break;
			case 'N':
				if (item_created) {
					sd_item_set_exptime(key, nkey, it,
							    of.autoviv_exptime);
					won = true;
				}
				break;
			case 'R':
				/* a win if the TTL left is below the token */
				f = atomic_load(&it->iflags);
				if (!(f & SD_ITEM_TOKEN_SENT) &&
				    !item_created &&
				    atomic_load(&it->exptime) != 0 &&
				    atomic_load(&it->exptime) < of.recache_time)
					won = true;
				break;
			case 's':
				put_flag_u64(&l, 's', sd_item_vlen(it));
				break;
			case 't':
				put_ttl(&l, atomic_load(&it->exptime));
				break;
			case 'c':
				put_flag_u64(&l, 'c', sd_item_cas(it));
				break;
			case 'f':
				put_flag_u64(&l, 'f', sd_item_flags(it));
				break;
			case 'l':
				put_flag_u64(
					&l, 'l',
					(uint32_t)(sd_now() -
						   atomic_load(&it->time)));
				break;
			case 'h':
				put(&l,
				    atomic_load(&it->iflags) & SD_ITEM_FETCHED ?
					    " h1" :
					    " h0",
				    3);
				break;
			case 'O':
				if (!put_opaque(&l, &tokens[i])) {
					sc_entry_put(e);
					meta_error(c, "CLIENT_ERROR opaque "
						      "token too long");
					return;
				}
				break;
			case 'k':
				put_key(&l, key, nkey,
					atomic_load(&it->iflags) &
						SD_ITEM_KEY_BINARY);
				break;
			}
		}
		/* a token already went out: Z, so no W with it */
		if (atomic_load(&it->iflags) & SD_ITEM_TOKEN_SENT)
			put(&l, " Z", 2);
		if (atomic_load(&it->iflags) & SD_ITEM_STALE) {
			put(&l, " X", 2);
			if (!(atomic_load(&it->iflags) & SD_ITEM_TOKEN_SENT))
				won = true;
		}
		if (won) {
			put(&l, " W", 2);
			atomic_fetch_or(&it->iflags, SD_ITEM_TOKEN_SENT);
		}
		send_line(c, &l);
		if (of.value) {
			if (sd_conn_add_value(c, it, e, true) < 0)
				sc_entry_put(e);
		}
		if (of.locked && !of.no_update)
			sd_item_bump(it);
		if (ttl_set) {
			SD_COUNT(touch_cmds);
			SD_COUNT_SLAB(sd_item_class(it), touch_hits);
		} else {
			SD_COUNT_SLAB(sd_item_class(it), get_hits);
			SD_COUNT(get_cmds);
		}
		if (!of.value)
			sc_entry_put(e);
		return;
	}
	SD_COUNT(get_misses);
	SD_COUNT(get_cmds);
	put(&l, "EN", 2);
	if (!put_echo_flags(&l, tokens, ntokens, key, nkey, of.key_binary)) {
		meta_error(c, "CLIENT_ERROR opaque token too long");
		return;
	}
	if (!c->noreply)
		send_line(c, &l);
}

/* ------------------------------------------------------------ ms */

static void meta_set(struct sd_conn *c, struct sd_token *tokens, size_t ntokens)
{
	const char *errstr = "CLIENT_ERROR bad command line format";
	enum sd_store_cmd cmd = SD_SET;
	struct meta_flags of = { 0 };
	struct sd_conn_pending *pend;
	struct sd_meta_pending *mp;
	bool has_error = false;
	struct sd_item *it;
	int32_t vlen;
	size_t i;

	if (ntokens < 3) {
		sd_out_str(&c->out, "ERROR");
		return;
	}
	if (tokens[1].length > SD_KEY_MAX || ntokens == 3) {
		meta_error(c, "CLIENT_ERROR bad command line format");
		return;
	}
	if (ntokens > MFLAG_MAX_OPT_LENGTH) {
		meta_error(c, "CLIENT_ERROR options flags too long");
		return;
	}
	if (!sd_safe_strtol(tokens[2].value, &vlen) || vlen < 0 ||
	    vlen > INT_MAX - 2) {
		meta_error(c, "CLIENT_ERROR bad command line format");
		return;
	}
	vlen += 2;
	/* from here on, an error swallows the value, so the line ends */
	if (flag_preparse(tokens, 3, &of, &errstr) != 0)
		goto err_swallow;
	pend = sd_conn_pending(c);
	if (!pend)
		return; /* the connection closes */
	mp = &pend->meta;
	c->noreply = of.no_reply;
	mp->nret = 0;
	mp->base64 = of.key_binary;
	memcpy(mp->key, tokens[1].value, tokens[1].length);
	mp->nkey = (uint8_t)tokens[1].length;
	for (i = 2; i < ntokens - 1; i++) {
		switch (tokens[i].value[0]) {
		case 'O':
			if (tokens[i].length > MFLAG_MAX_OPAQUE_LENGTH) {
				errstr = "CLIENT_ERROR opaque token too long";
				has_error = true;
				break;
			}
			mp->ret[mp->nret++] = ' ';
			memcpy(mp->ret + mp->nret, tokens[i].value,
			       tokens[i].length);
			mp->nret += tokens[i].length;
			break;
		case 'k':
		case 'c':
			mp->ret[mp->nret++] = ' ';
			mp->ret[mp->nret++] = tokens[i].value[0];
			break;
		}
	}
	switch (of.mode) {
	case 0:
	case 'S':
		cmd = SD_SET;
		break;
	case 'E':
		cmd = SD_ADD;
		break;
	case 'A':
		cmd = SD_APPEND;
		break;
	case 'P':
		cmd = SD_PREPEND;
		break;
	case 'R':
		cmd = SD_REPLACE;
		break;
	default:
		errstr = "CLIENT_ERROR invalid mode for ms M token";
		goto err_swallow;
	}
	/* a CAS turns set and replace into cas; add and append check it */
	if (of.has_cas && (cmd == SD_SET || cmd == SD_REPLACE))
		cmd = SD_CAS;
	if (has_error)
		goto err_swallow;
	if (detail_enabled_here())
		sd_prefix_record_set(tokens[1].value, tokens[1].length);
	if (!sd_item_size_ok(tokens[1].length, of.client_flags, (size_t)vlen)) {
		errstr = "SERVER_ERROR object too large for cache";
		SD_COUNT(store_too_large);
		goto err_unlink;
	}
	it = sd_item_alloc(tokens[1].length, of.client_flags, of.exptime,
			   (size_t)vlen);
	if (!it) {
		errstr = "SERVER_ERROR out of memory storing object";
		SD_COUNT(store_no_memory);
		goto err_unlink;
	}
	if (of.key_binary)
		atomic_fetch_or(&it->iflags, SD_ITEM_KEY_BINARY);
	c->store_cmd = cmd;
	c->store_cas = of.req_cas_id;
	c->set_stale = of.set_stale && cmd == SD_CAS;
	sd_conn_start_value(c, it, tokens[1].value, tokens[1].length,
			    (size_t)vlen, SD_VALUE_META);
	return;

err_unlink:
	/* as memcached: no stale value survives a refused ms, any mode */
	{
		unsigned int cls;

		sd_item_delete(tokens[1].value, tokens[1].length, 0, &cls);
	}
err_swallow:
	meta_error(c, errstr);
	sd_conn_start_swallow(c, (size_t)vlen);
}

/* The value of an ms is in: HD/NS/EX/NF and the return flags. */
void sd_meta_store_done(struct sd_conn *c, enum sd_store_result r, uint64_t cas)
{
	struct sd_meta_pending *mp = &c->pend->meta;
	struct line l = { .len = 0 };
	size_t i;

	switch (r) {
	case SD_STORED:
		put(&l, "HD", 2);
		break;
	case SD_EXISTS:
		put(&l, "EX", 2);
		break;
	case SD_NOT_FOUND:
		put(&l, "NF", 2);
		break;
	case SD_NOT_STORED:
		put(&l, "NS", 2);
		break;
	case SD_TOO_LARGE:
		SD_COUNT(store_too_large);
		meta_error(c, "SERVER_ERROR object too large for cache");
		return;
	case SD_NO_MEMORY:
		SD_COUNT(store_no_memory);
		meta_error(c, "SERVER_ERROR out of memory storing object");
		return;
	}
	if (r != SD_STORED)
		cas = 0;
	for (i = 0; i < mp->nret; i++) {
		switch (mp->ret[i]) {
		case 'O':
			put(&l, " ", 1);
			while (i < mp->nret && mp->ret[i] != ' ')
				put(&l, &mp->ret[i++], 1);
			break;
		case 'k':
			put_key(&l, mp->key, mp->nkey, mp->base64);
			break;
		case 'c':
			put_flag_u64(&l, 'c', cas);
			break;
		}
	}
	/* only the nominal reply is quiet */
	if (r == SD_STORED && c->noreply)
		return;
	send_line(c, &l);
}

/*
 * The start md and ma share, in memcached's order: the token count, the
 * key's length, the number of flags, then the flags themselves; sets
 * the connection's noreply. False when it has answered an error.
 */
static bool meta_key_flags(struct sd_conn *c, struct sd_token *tokens,
			   size_t ntokens, struct meta_flags *of,
			   const char **errstr)
{
	if (ntokens < 3) {
		sd_out_str(&c->out, "ERROR");
		return false;
	}
	if (tokens[1].length > SD_KEY_MAX) {
		sd_out_str(&c->out, "CLIENT_ERROR bad command line format");
		return false;
	}
	if (ntokens > MFLAG_MAX_OPT_LENGTH) {
		sd_out_str(&c->out, "CLIENT_ERROR options flags too long");
		return false;
	}
	if (flag_preparse(tokens, 2, of, errstr) != 0) {
		meta_error(c, "CLIENT_ERROR invalid or duplicate flag");
		return false;
	}
	c->noreply = of->no_reply;
	return true;
}

/* ------------------------------------------------------------ md */

static void meta_delete(struct sd_conn *c, struct sd_token *tokens,
			size_t ntokens)
{
	const char *errstr = "CLIENT_ERROR bad command line format";
	struct meta_flags of = { 0 };
	struct line l = { .len = 2 };
	const char *key;
	size_t nkey;
	unsigned int cls = 0;
	bool quiet_ok = false;
	int ret;

	if (!meta_key_flags(c, tokens, ntokens, &of, &errstr))
		return;
	key = tokens[1].value;
	nkey = tokens[1].length;
	if (!put_echo_flags(&l, tokens, ntokens, key, nkey, of.key_binary)) {
		meta_error(c, "CLIENT_ERROR opaque token too long");
		return;
	}
	if (detail_enabled_here())
		sd_prefix_record_delete(key, nkey);
	if (of.set_stale)
		ret = sd_item_invalidate(key, nkey,
					 of.has_cas ? of.req_cas_id : 0,
					 of.new_ttl, of.exptime);
	else
		ret = sd_item_delete(key, nkey, of.has_cas ? of.req_cas_id : 0,
				     &cls);
	if (ret == -EEXIST) {
		SD_COUNT(delete_misses);
		memcpy(l.buf, "EX", 2);
	} else if (ret > 0) {
		if (!of.set_stale)
			SD_COUNT_SLAB(cls, delete_hits);
		memcpy(l.buf, "HD", 2);
		quiet_ok = true;
	} else {
		SD_COUNT(delete_misses);
		memcpy(l.buf, "NF", 2);
	}
	if (quiet_ok && c->noreply)
		return;
	send_line(c, &l);
}

/* ------------------------------------------------------------ ma */

static void meta_arith(struct sd_conn *c, struct sd_token *tokens,
		       size_t ntokens)
{
	const char *errstr = "CLIENT_ERROR bad command line format";
	struct meta_flags of = { .delta = 1 };
	struct line l = { .len = 0 };
	struct sd_item *it = NULL;
	struct sc_entry *e = NULL;
	bool incr = true, created = false, quiet_ok = false;
	char tmp[24] = "";
	uint64_t result, cas = 0;
	const char *key;
	size_t nkey, i;

	if (!meta_key_flags(c, tokens, ntokens, &of, &errstr))
		return;
	key = tokens[1].value;
	nkey = tokens[1].length;
	switch (of.mode) {
	case 0:
	case 'I':
	case '+':
		incr = true;
		break;
	case 'D':
	case '-':
		incr = false;
		break;
	default:
		meta_error(c, "CLIENT_ERROR invalid mode for ma M token");
		return;
	}
	switch (sd_item_delta(key, nkey, incr, of.delta, of.req_cas_id, &result,
			      &cas, &e)) {
	case SD_DELTA_OK:
		quiet_ok = true;
		sd_u64_to_str(tmp, result);
		if (e)
			it = sc_entry_value(e);
		break;
	case SD_DELTA_NON_NUMERIC:
		meta_error(c, "CLIENT_ERROR cannot increment or decrement "
			      "non-numeric value");
		return;
	case SD_DELTA_NO_MEMORY:
		meta_error(c, "SERVER_ERROR out of memory");
		return;
	case SD_DELTA_NOT_FOUND:
		if (of.vivify) {
			size_t vlen =
				(size_t)(sd_u64_to_str(tmp, of.initial) - tmp);
			struct sd_item *n;

			n = sd_item_alloc(nkey, 0, 0, vlen + 2);
			if (!n) {
				meta_error(c, "SERVER_ERROR Out of memory "
					      "allocating new item");
				return;
			}
			sd_item_copy_in(n, 0, tmp, vlen);
			sd_item_copy_in(n, vlen, "\r\n", 2);
			if (of.key_binary)
				atomic_fetch_or(&n->iflags, SD_ITEM_KEY_BINARY);
			if (sd_item_link_new(n, key, nkey, &cas) == SD_STORED) {
				created = true;
				e = sd_item_get(key, nkey, &it, false);
				if (e && it != n) {
					sc_entry_put(e);
					e = NULL;
					it = NULL;
				}
			} else {
				sd_item_free(n);
				put(&l, "NS", 2);
			}
		} else {
			if (incr)
				SD_COUNT(incr_misses);
			else
				SD_COUNT(decr_misses);
			put(&l, "NF", 2);
		}
		break;
	case SD_DELTA_CAS_MISMATCH:
		put(&l, "EX", 2);
		break;
	}
	if (it) {
		size_t vlen = strlen(tmp);
		char num[24];

		if (of.value) {
			put(&l, "VA ", 3);
			put(&l, num, (size_t)(sd_u64_to_str(num, vlen) - num));
		} else {
			put(&l, "HD", 2);
		}
		for (i = 2; i < ntokens - 1; i++) {
			switch (tokens[i].value[0]) {
			case 'c':
				put_flag_u64(&l, 'c', sd_item_cas(it));
				break;
			case 't':
				put_ttl(&l, atomic_load(&it->exptime));
				break;
			case 'T':
				sd_item_set_exptime(key, nkey, it, of.exptime);
				break;
			case 'N':
				if (created)
					sd_item_set_exptime(key, nkey, it,
							    of.autoviv_exptime);
				break;
			case 'O':
				if (!put_opaque(&l, &tokens[i]))
					goto err_opaque;
				break;
			case 'k':
				put_key(&l, key, nkey, of.key_binary);
				break;
			}
		}
		if (of.value) {
			put(&l, "\r\n", 2);
			put(&l, tmp, vlen);
		}
		sc_entry_put(e);
	} else {
		if (!put_echo_flags(&l, tokens, ntokens, key, nkey,
				    of.key_binary))
			goto err_opaque;
	}
	if (quiet_ok && c->noreply)
		return;
	send_line(c, &l);
	return;

err_opaque:
	sc_entry_put(e);
	meta_error(c, "CLIENT_ERROR opaque token too long");
}

/* ------------------------------------------------------------ me */

static void meta_debug(struct sd_conn *c, struct sd_token *tokens,
		       size_t ntokens)
{
	struct sd_item *it;
	struct sc_entry *e;
	struct line l = { .len = 0 };
	const char *key = tokens[1].value;
	size_t nkey = tokens[1].length;

	if (ntokens < 3 || nkey > SD_KEY_MAX) {
		sd_out_str(&c->out, "CLIENT_ERROR bad command line format");
		return;
	}
	if (ntokens >= 4 && tokens[2].length == 1 &&
	    tokens[2].value[0] == 'b') {
		size_t ret = sd_base64_decode(
			key, nkey, (unsigned char *)tokens[1].value, nkey);

		if (ret == 0) {
			sd_out_str(&c->out,
				   "CLIENT_ERROR bad command line format");
			return;
		}
		nkey = ret;
	}
	e = sd_item_get(key, nkey, &it, false);
	if (e) {
		sd_rel_time now = sd_now(), exp = atomic_load(&it->exptime);
		char tail[160];
		int n;

		put(&l, "ME ", 3);
		if (atomic_load(&it->iflags) & SD_ITEM_KEY_BINARY) {
			char enc[SD_KEY_MAX * 2];

			put(&l, enc,
			    sd_base64_encode((const unsigned char *)key, nkey,
					     enc, sizeof(enc)));
		} else {
			put(&l, key, nkey);
		}
		n = snprintf(tail, sizeof(tail),
			     " exp=%d la=%llu cas=%llu fetch=%s cls=%u "
			     "size=%lu",
			     exp == 0 ? -1 : (int)(now - exp),
			     (unsigned long long)(now - atomic_load(&it->time)),
			     (unsigned long long)sd_item_cas(it),
			     atomic_load(&it->iflags) & SD_ITEM_FETCHED ?
				     "yes" :
				     "no",
			     sd_item_class(it) + 1,
			     (unsigned long)sd_item_total(it));
		put(&l, tail, (size_t)n);
		send_line(c, &l);
		sc_entry_put(e);
	} else {
		sd_out_str(&c->out, "EN");
	}
	SD_COUNT(meta_cmds);
}

/* ------------------------------------------------------------ dispatch */

/* The meta commands: @tokens[0] is two letters, 'm' first. */
void sd_meta_command(struct sd_conn *c, struct sd_token *tokens, size_t ntokens)
{
	switch (tokens[0].value[1]) {
	case 'g':
		meta_get(c, tokens, ntokens);
		break;
	case 's':
		meta_set(c, tokens, ntokens);
		break;
	case 'd':
		meta_delete(c, tokens, ntokens);
		break;
	case 'a':
		meta_arith(c, tokens, ntokens);
		break;
	case 'n':
		sd_out_str(&c->out, "MN");
		break;
	case 'e':
		meta_debug(c, tokens, ntokens);
		break;
	default:
		sd_out_str(&c->out, "ERROR");
	}
}
