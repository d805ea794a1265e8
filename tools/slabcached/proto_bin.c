// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabcached: memcached's binary protocol, as memcached 1.6.18 answers it.
 *
 * A connection speaks it when its first byte is the request magic 0x80
 * (or with -B binary). Every request is a 24-byte header (magic, opcode,
 * key length, extras length, data type, vbucket, body length, opaque,
 * CAS), then the extras, the key and the value. Commands: get, getk, set,
 * add, replace, append, prepend, delete, incr, decr, touch, gat, gatk,
 * flush, noop, version, stat, quit, each with its quiet variant where
 * memcached has one (a quiet command answers only errors, and a quiet get
 * nothing on a miss). SASL is not built in: its commands answer "unknown
 * command", as memcached without -S does.
 *
 * The validation of each request (lengths that must be 0, key over 250
 * bytes) and the answer to a malformed one (EINVAL, then close; unknown
 * command, then the body is skipped) are memcached's dispatch_bin_command()
 * rules, byte for byte. Values are read straight into the item; the item
 * keeps the "\r\n" the text protocol needs, the binary replies leave it
 * out.
 *
 * Lock order: none taken here; items.c takes its own.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slabcached.h"

#define BIN_REQ_MAGIC 0x80
#define BIN_RES_MAGIC 0x81
#define BIN_HEADER 24

enum bin_opcode {
	OP_GET = 0x00,
	OP_SET = 0x01,
	OP_ADD = 0x02,
	OP_REPLACE = 0x03,
	OP_DELETE = 0x04,
	OP_INCREMENT = 0x05,
	OP_DECREMENT = 0x06,
	OP_QUIT = 0x07,
	OP_FLUSH = 0x08,
	OP_GETQ = 0x09,
	OP_NOOP = 0x0a,
	OP_VERSION = 0x0b,
	OP_GETK = 0x0c,
	OP_GETKQ = 0x0d,
	OP_APPEND = 0x0e,
	OP_PREPEND = 0x0f,
	OP_STAT = 0x10,
	OP_SETQ = 0x11,
	OP_ADDQ = 0x12,
	OP_REPLACEQ = 0x13,
	OP_DELETEQ = 0x14,
	OP_INCREMENTQ = 0x15,
	OP_DECREMENTQ = 0x16,
	OP_QUITQ = 0x17,
	OP_FLUSHQ = 0x18,
	OP_APPENDQ = 0x19,
	OP_PREPENDQ = 0x1a,
	OP_TOUCH = 0x1c,
	OP_GAT = 0x1d,
	OP_GATQ = 0x1e,
	OP_SASL_LIST_MECHS = 0x20,
	OP_SASL_AUTH = 0x21,
	OP_SASL_STEP = 0x22,
	OP_GATK = 0x23,
	OP_GATKQ = 0x24,
};

enum bin_status {
	ST_SUCCESS = 0x00,
	ST_KEY_ENOENT = 0x01,
	ST_KEY_EEXISTS = 0x02,
	ST_E2BIG = 0x03,
	ST_EINVAL = 0x04,
	ST_NOT_STORED = 0x05,
	ST_DELTA_BADVAL = 0x06,
	ST_AUTH_ERROR = 0x20,
	ST_UNKNOWN_COMMAND = 0x81,
	ST_ENOMEM = 0x82,
};

static const char *status_text(enum bin_status st)
{
	switch (st) {
	case ST_ENOMEM:
		return "Out of memory";
	case ST_UNKNOWN_COMMAND:
		return "Unknown command";
	case ST_KEY_ENOENT:
		return "Not found";
	case ST_EINVAL:
		return "Invalid arguments";
	case ST_KEY_EEXISTS:
		return "Data exists for key.";
	case ST_E2BIG:
		return "Too large.";
	case ST_DELTA_BADVAL:
		return "Non-numeric server-side value for incr or decr";
	case ST_NOT_STORED:
		return "Not stored.";
	case ST_AUTH_ERROR:
		return "Auth failure.";
	default:
		return "";
	}
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const unsigned char *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/*
 * A response header: memcached's add_bin_header(), followed by @extlen
 * bytes of extras and @keylen of key, written in place in the reply
 * buffer as one segment (a get's hit is one reservation, not three).
 */
static void bin_head(struct sd_conn *c, enum bin_status st, const void *ext,
		     uint8_t extlen, const char *key, uint16_t keylen,
		     uint32_t bodylen, uint64_t cas)
{
	size_t len = BIN_HEADER + (size_t)extlen + keylen;
	unsigned char *h = (unsigned char *)sd_out_reserve(&c->out, len);
	uint64_t be_cas = htobe64(cas);
	uint32_t be_body = htonl(bodylen);
	uint16_t be_key = htons(keylen), be_st = htons((uint16_t)st);

	if (!h)
		return; /* out.failed: the connection closes */
	h[0] = BIN_RES_MAGIC;
	h[1] = c->bin.opcode;
	memcpy(h + 2, &be_key, 2);
	h[4] = extlen;
	h[5] = 0; /* data type */
	memcpy(h + 6, &be_st, 2);
	memcpy(h + 8, &be_body, 4);
	memcpy(h + 12, &c->bin.opaque, 4);
	memcpy(h + 16, &be_cas, 8);
	if (extlen)
		memcpy(h + BIN_HEADER, ext, extlen);
	if (keylen)
		memcpy(h + BIN_HEADER + extlen, key, keylen);
	sd_out_commit(&c->out, len);
}

/* A header alone: the body, if any, follows from the caller. */
static void bin_header(struct sd_conn *c, enum bin_status st, uint32_t bodylen,
		       uint64_t cas)
{
	bin_head(c, st, NULL, 0, NULL, 0, bodylen, cas);
}

/* memcached's write_bin_error(): sent even for a quiet command. */
static void bin_error(struct sd_conn *c, enum bin_status st, size_t swallow)
{
	const char *text = status_text(st);
	size_t len = strlen(text);

	bin_header(c, st, (uint32_t)len, 0);
	sd_out_bytes(&c->out, text, len);
	if (swallow)
		sd_conn_start_swallow(c, swallow);
}

/* memcached's write_bin_response(): a quiet command's success is silent. */
static void bin_response(struct sd_conn *c, const void *body, uint32_t len,
			 uint64_t cas)
{
	if (c->bin.quiet && c->bin.cmd != OP_GET && c->bin.cmd != OP_GETK)
		return;
	bin_header(c, ST_SUCCESS, len, cas);
	if (len)
		sd_out_bytes(&c->out, body, len);
}

/* EINVAL, then close: memcached's handle_binary_protocol_error() */
static void bin_protocol_error(struct sd_conn *c)
{
	bin_error(c, ST_EINVAL, 0);
	c->close_after_write = true;
}

/* ------------------------------------------------------------ commands */

static void bin_get(struct sd_conn *c, const char *key, size_t nkey,
		    const unsigned char *ext)
{
	uint8_t cmd = c->bin.cmd;
	bool touch = cmd == OP_TOUCH || cmd == OP_GAT || cmd == OP_GATK;
	bool with_key = cmd == OP_GETK || cmd == OP_GATK;
	bool with_value = cmd != OP_TOUCH;
	struct sd_item *it;
	struct sc_entry *e;

	if (touch)
		e = sd_item_touch(key, nkey, sd_realtime(get_be32(ext)), &it);
	else
		e = sd_item_get(key, nkey, &it, true);
	if (atomic_load_explicit(&sd_settings.detail_enabled,
				 memory_order_relaxed))
		sd_prefix_record_get(key, nkey, e != NULL);
	if (e) {
		uint32_t body = 4 + (with_value ? sd_item_vlen(it) : 0);
		uint32_t flags = htonl(sd_item_flags(it));

		if (touch) {
			SD_COUNT(touch_cmds);
			SD_COUNT_SLAB(sd_item_class(it), touch_hits);
		} else {
			SD_COUNT(get_cmds);
			SD_COUNT_SLAB(sd_item_class(it), get_hits);
		}
		if (with_key)
			body += (uint32_t)nkey;
		bin_head(c, ST_SUCCESS, &flags, 4, key,
			 with_key ? (uint16_t)nkey : 0, body, sd_item_cas(it));
		if (with_value) {
			if (sd_conn_add_value(c, it, e, false) < 0)
				sc_entry_put(e);
		} else {
			sc_entry_put(e);
		}
		return;
	}
	if (touch) {
		SD_COUNT(touch_cmds);
		SD_COUNT(touch_misses);
	} else {
		SD_COUNT(get_cmds);
		SD_COUNT(get_misses);
	}
	if (c->bin.quiet)
		return;
	if (with_key) {
		bin_head(c, ST_KEY_ENOENT, NULL, 0, key, (uint16_t)nkey,
			 (uint32_t)nkey, 0);
	} else {
		bin_error(c, ST_KEY_ENOENT, 0);
	}
}

/* set, add, replace (@ext: flags, expiration), append, prepend */
static void bin_update(struct sd_conn *c, const char *key, size_t nkey,
		       const unsigned char *ext)
{
	uint8_t cmd = c->bin.cmd;
	bool concat = cmd == OP_APPEND || cmd == OP_PREPEND;
	uint32_t flags = concat ? 0 : get_be32(ext);
	sd_rel_time exptime = concat ? 0 : sd_realtime(get_be32(ext + 4));
	size_t vlen = c->bin.bodylen - nkey - c->bin.extlen;
	struct sd_item *it;

	if (atomic_load_explicit(&sd_settings.detail_enabled,
				 memory_order_relaxed))
		sd_prefix_record_set(key, nkey);
	if (!sd_item_size_ok(nkey, flags, vlen + 2)) {
		SD_COUNT(store_too_large);
		bin_error(c, ST_E2BIG, vlen);
		goto err_unlink;
	}
	it = sd_item_alloc(nkey, flags, exptime, vlen + 2);
	if (!it) {
		SD_COUNT(store_no_memory);
		bin_error(c, ST_ENOMEM, vlen);
		goto err_unlink;
	}
	switch (cmd) {
	case OP_ADD:
		c->store_cmd = SD_ADD;
		break;
	case OP_REPLACE:
		c->store_cmd = SD_REPLACE;
		break;
	case OP_APPEND:
		c->store_cmd = SD_APPEND;
		break;
	case OP_PREPEND:
		c->store_cmd = SD_PREPEND;
		break;
	default:
		c->store_cmd = SD_SET;
	}
	/* memcached: a CAS turns set, add and replace into cas */
	if (c->bin.cas && !concat)
		c->store_cmd = SD_CAS;
	c->store_cas = c->bin.cas;
	c->set_stale = false;
	sd_conn_start_value(c, it, key, nkey, vlen, SD_VALUE_BIN);
	return;

err_unlink:
	if (cmd == OP_SET) {
		unsigned int cls;

		sd_item_delete(key, nkey, 0, &cls);
	}
}

void sd_bin_store_done(struct sd_conn *c, enum sd_store_result r, uint64_t cas)
{
	switch (r) {
	case SD_STORED:
		bin_response(c, NULL, 0, cas);
		break;
	case SD_EXISTS:
		bin_error(c, ST_KEY_EEXISTS, 0);
		break;
	case SD_NOT_FOUND:
		bin_error(c, ST_KEY_ENOENT, 0);
		break;
	case SD_TOO_LARGE:
	case SD_NO_MEMORY:
		if (r == SD_TOO_LARGE)
			SD_COUNT(store_too_large);
		else
			SD_COUNT(store_no_memory);
		/* fall through */
	case SD_NOT_STORED:
		if (c->bin.cmd == OP_ADD)
			bin_error(c, ST_KEY_EEXISTS, 0);
		else if (c->bin.cmd == OP_REPLACE)
			bin_error(c, ST_KEY_ENOENT, 0);
		else
			bin_error(c, ST_NOT_STORED, 0);
		break;
	}
}

static void bin_delete(struct sd_conn *c, const char *key, size_t nkey)
{
	unsigned int cls;
	int ret;

	if (atomic_load_explicit(&sd_settings.detail_enabled,
				 memory_order_relaxed))
		sd_prefix_record_delete(key, nkey);
	ret = sd_item_delete(key, nkey, c->bin.cas, &cls);
	if (ret > 0) {
		SD_COUNT_SLAB(cls, delete_hits);
		bin_response(c, NULL, 0, 0);
	} else if (ret == -EEXIST) {
		bin_error(c, ST_KEY_EEXISTS, 0);
	} else {
		bin_error(c, ST_KEY_ENOENT, 0);
		SD_COUNT(delete_misses);
	}
}

/* incr, decr (@ext: delta, initial, expiration; 0xffffffff: no create) */
static void bin_arith(struct sd_conn *c, const char *key, size_t nkey,
		      const unsigned char *ext)
{
	bool incr = c->bin.cmd == OP_INCREMENT;
	uint64_t delta = get_be64(ext), initial = get_be64(ext + 8);
	uint32_t expiration = get_be32(ext + 16);
	uint64_t result, cas = 0, be;
	char tmp[24];

	switch (sd_item_delta(key, nkey, incr, delta, c->bin.cas, &result, &cas,
			      NULL)) {
	case SD_DELTA_OK:
		be = htobe64(result);
		bin_response(c, &be, 8, cas);
		break;
	case SD_DELTA_NON_NUMERIC:
		bin_error(c, ST_DELTA_BADVAL, 0);
		break;
	case SD_DELTA_NO_MEMORY:
		bin_error(c, ST_ENOMEM, 0);
		break;
	case SD_DELTA_CAS_MISMATCH:
		bin_error(c, ST_KEY_EEXISTS, 0);
		break;
	case SD_DELTA_NOT_FOUND:
		if (expiration != 0xffffffff) {
			size_t len =
				(size_t)(sd_u64_to_str(tmp, initial) - tmp);
			struct sd_item *it;

			it = sd_item_alloc(nkey, 0, sd_realtime(expiration),
					   len + 2);
			if (!it) {
				bin_error(c, ST_ENOMEM, 0);
				break;
			}
			sd_item_copy_in(it, 0, tmp, len);
			sd_item_copy_in(it, len, "\r\n", 2);
			if (sd_item_store(it, key, nkey, SD_ADD, 0, false,
					  &cas) == SD_STORED) {
				be = htobe64(initial);
				bin_response(c, &be, 8, cas);
			} else {
				sd_item_free(it);
				bin_error(c, ST_NOT_STORED, 0);
			}
		} else {
			if (incr)
				SD_COUNT(incr_misses);
			else
				SD_COUNT(decr_misses);
			bin_error(c, ST_KEY_ENOENT, 0);
		}
		break;
	}
}

static void bin_flush(struct sd_conn *c, const unsigned char *ext)
{
	if (!sd_settings.flush_enabled) {
		bin_error(c, ST_AUTH_ERROR, 0);
		return;
	}
	/* the delay is unsigned here: a large one is a time, never "now" */
	sd_items_flush(c->bin.extlen == 4 ? (int64_t)get_be32(ext) : 0);
	SD_COUNT(flush_cmds);
	bin_response(c, NULL, 0, 0);
}

/* The stats answer ends with an empty packet. */
static void bin_stats_end(struct sd_conn *c)
{
	bin_header(c, ST_SUCCESS, 0, 0);
}

static bool key_is(const char *key, size_t nkey, const char *word)
{
	size_t n = strlen(word);

	return nkey >= n && !memcmp(key, word, n);
}

static void bin_stat(struct sd_conn *c, const char *key, size_t nkey)
{
	if (nkey == 0) {
		sd_stats_general(&c->out);
	} else if (key_is(key, nkey, "reset")) {
		sd_stats_reset();
	} else if (key_is(key, nkey, "settings")) {
		sd_stats_settings(&c->out);
	} else if (key_is(key, nkey, "detail")) {
		if (key_is(key + 6, nkey - 6, " dump")) {
			size_t len;
			char *text = sd_prefix_dump_text(&len);

			if (!text) {
				bin_error(c, ST_ENOMEM, 0);
				return;
			}
			sd_out_stat(&c->out, "detailed", "%s", text);
			free(text);
		} else if (key_is(key + 6, nkey - 6, " on")) {
			atomic_store(&sd_settings.detail_enabled, true);
		} else if (key_is(key + 6, nkey - 6, " off")) {
			atomic_store(&sd_settings.detail_enabled, false);
		} else {
			bin_error(c, ST_KEY_ENOENT, 0);
			return;
		}
	} else if (nkey == 5 && key_is(key, nkey, "items")) {
		sd_items_stats_items(&c->out);
	} else if (nkey == 5 && key_is(key, nkey, "slabs")) {
		sd_items_stats_slabs(&c->out);
	} else {
		bin_error(c, ST_KEY_ENOENT, 0);
		return;
	}
	bin_stats_end(c);
}

/* memcached's dispatch_bin_command(): validate, then serve. */
static void bin_dispatch(struct sd_conn *c, const char *key,
			 const unsigned char *ext)
{
	struct sd_bin_req *b = &c->bin;
	uint8_t extlen = b->extlen;
	uint16_t keylen = b->keylen;
	uint32_t bodylen = b->bodylen;
	bool bad = false;

	if (keylen > bodylen || (uint32_t)keylen + extlen > bodylen) {
		bin_error(c, ST_UNKNOWN_COMMAND, 0);
		c->close_after_write = true;
		return;
	}
	b->quiet = true;
	/* the server keeps keys of 250 bytes at most */
	if (keylen > SD_KEY_MAX) {
		bin_protocol_error(c);
		return;
	}
	switch (b->opcode) {
	case OP_SETQ:
		b->cmd = OP_SET;
		break;
	case OP_ADDQ:
		b->cmd = OP_ADD;
		break;
	case OP_REPLACEQ:
		b->cmd = OP_REPLACE;
		break;
	case OP_DELETEQ:
		b->cmd = OP_DELETE;
		break;
	case OP_INCREMENTQ:
		b->cmd = OP_INCREMENT;
		break;
	case OP_DECREMENTQ:
		b->cmd = OP_DECREMENT;
		break;
	case OP_QUITQ:
		b->cmd = OP_QUIT;
		break;
	case OP_FLUSHQ:
		b->cmd = OP_FLUSH;
		break;
	case OP_APPENDQ:
		b->cmd = OP_APPEND;
		break;
	case OP_PREPENDQ:
		b->cmd = OP_PREPEND;
		break;
	case OP_GETQ:
		b->cmd = OP_GET;
		break;
	case OP_GETKQ:
		b->cmd = OP_GETK;
		break;
	case OP_GATQ:
		b->cmd = OP_GAT;
		break;
	case OP_GATKQ:
		b->cmd = OP_GATK;
		break;
	default:
		b->cmd = b->opcode;
		b->quiet = false;
	}
	switch (b->cmd) {
	case OP_VERSION:
		if (extlen || keylen || bodylen)
			bad = true;
		else
			bin_response(c, SD_VERSION, sizeof(SD_VERSION) - 1, 0);
		break;
	case OP_FLUSH:
		if (keylen == 0 && bodylen == extlen &&
		    (extlen == 0 || extlen == 4))
			bin_flush(c, ext);
		else
			bad = true;
		break;
	case OP_NOOP:
		if (extlen || keylen || bodylen)
			bad = true;
		else
			bin_response(c, NULL, 0, 0);
		break;
	case OP_SET:
	case OP_ADD:
	case OP_REPLACE:
		if (extlen == 8 && keylen != 0 && bodylen >= keylen + 8u)
			bin_update(c, key, keylen, ext);
		else
			bad = true;
		break;
	case OP_GET:
	case OP_GETK:
		if (extlen == 0 && bodylen == keylen && keylen > 0)
			bin_get(c, key, keylen, ext);
		else
			bad = true;
		break;
	case OP_DELETE:
		if (keylen > 0 && extlen == 0 && bodylen == keylen)
			bin_delete(c, key, keylen);
		else
			bad = true;
		break;
	case OP_INCREMENT:
	case OP_DECREMENT:
		if (keylen > 0 && extlen == 20 && bodylen == keylen + 20u)
			bin_arith(c, key, keylen, ext);
		else
			bad = true;
		break;
	case OP_APPEND:
	case OP_PREPEND:
		if (keylen > 0 && extlen == 0)
			bin_update(c, key, keylen, ext);
		else
			bad = true;
		break;
	case OP_STAT:
		if (extlen == 0)
			bin_stat(c, key, keylen);
		else
			bad = true;
		break;
	case OP_QUIT:
		if (keylen || extlen || bodylen) {
			bad = true;
		} else {
			bin_response(c, NULL, 0, 0);
			c->close_after_write = true;
		}
		break;
	case OP_SASL_LIST_MECHS:
		if (extlen || keylen || bodylen)
			bad = true;
		else
			bin_error(c, ST_UNKNOWN_COMMAND, 0);
		break;
	case OP_SASL_AUTH:
	case OP_SASL_STEP:
		if (extlen == 0 && keylen != 0)
			bin_error(c, ST_UNKNOWN_COMMAND, bodylen - keylen);
		else
			bad = true;
		break;
	case OP_TOUCH:
	case OP_GAT:
	case OP_GATK:
		if (extlen == 4 && keylen != 0)
			bin_get(c, key, keylen, ext);
		else
			bad = true;
		break;
	default:
		/* memcached skips the body after the extras and key */
		bin_error(c, ST_UNKNOWN_COMMAND, bodylen);
	}
	if (bad)
		bin_protocol_error(c);
}

/*
 * sd_bin_process() - Serve the binary requests buffered, until one needs
 * more input, starts a value or a skip, or the connection must close.
 */
enum sd_proc sd_bin_process(struct sd_conn *c)
{
	for (;;) {
		const unsigned char *h = (unsigned char *)c->rbuf + c->rstart;
		size_t avail = c->rend - c->rstart, need;
		unsigned char ext[256];
		struct sd_bin_req *b = &c->bin;
		const char *key;

		if (c->out.failed)
			return SD_PROC_CLOSE;
		if (c->close_after_write)
			return SD_PROC_CLOSE;
		if (c->state != SD_CONN_BIN)
			return SD_PROC_NEED_READ;
		if (sd_conn_out_high(c))
			return SD_PROC_NEED_FLUSH;
		if (avail < BIN_HEADER)
			return SD_PROC_NEED_READ;
		if (h[0] != BIN_REQ_MAGIC) {
			if (atomic_load(&sd_settings.verbose))
				fprintf(stderr, "Invalid magic:  %x\n", h[0]);
			return SD_PROC_CLOSE;
		}
		b->opcode = h[1];
		b->keylen = (uint16_t)(h[2] << 8 | h[3]);
		b->extlen = h[4];
		b->bodylen = get_be32(h + 8);
		memcpy(&b->opaque, h + 12, 4);
		b->cas = get_be64(h + 16);
		need = BIN_HEADER + b->extlen + (size_t)b->keylen;
		if (avail < need)
			return SD_PROC_NEED_READ;
		if (!sd_conn_take_command(c))
			return SD_PROC_YIELD;
		memcpy(ext, h + BIN_HEADER, b->extlen);
		key = (const char *)h + BIN_HEADER + b->extlen;
		c->rstart += need;
		bin_dispatch(c, key, ext);
	}
}
