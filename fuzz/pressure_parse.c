// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz target: what the pressure layer reads from outside the program.
 *
 * The first byte picks a parser, the rest is its text:
 *
 * - /proc/self/cgroup (v1 and v2 lines) and /proc/self/mountinfo, through
 *   the same FILE-reading code the monitor uses (fmemopen); what they
 *   return must come from the text and fit the buffer;
 * - cgroup files: numbers and "max", v1 memory.stat's
 *   hierarchical_memory_limit, v2 memory.events, each against a reference
 *   written here;
 * - the mount-relative path join and the cgroup path check (no way out of
 *   the hierarchy), against references;
 * - $MEMORY_PRESSURE_WRITE's Base64: a decoded value re-encodes to the
 *   exact input (strict, canonical), and encoded bytes decode back;
 * - the options (struct sc_pressure_config), against the documented rules,
 *   and sc_pressure_open() with them;
 * - $MEMORY_PRESSURE_WATCH and $MEMORY_PRESSURE_WRITE for real: the
 *   systemd source opened on a FIFO, a plain file and /dev/null with the
 *   input as the write value; errors as documented, and the FIFO left
 *   empty (the monitor reads its own trigger back).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/pressure_internal.h"
#include "fuzz/fuzz.h"
#include <slabcache.h>

static char tmpdir[64];
static char fifo_path[96], file_path[96];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sc-fuzz-pressure.XXXXXX");
	FUZZ_CHECK(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	snprintf(fifo_path, sizeof(fifo_path), "%s/watch.fifo", tmpdir);
	snprintf(file_path, sizeof(file_path), "%s/watch.file", tmpdir);
	FUZZ_CHECK(!mkfifo(fifo_path, 0600), "mkfifo: %s", strerror(errno));
	fd = open(file_path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0, "%s: %s", file_path, strerror(errno));
	close(fd);
	return 0;
}

__attribute__((destructor)) static void cleanup(void)
{
	if (!tmpdir[0] || tmpdir[0] == 'X')
		return;
	unlink(fifo_path);
	unlink(file_path);
	rmdir(tmpdir);
}

/* ------------------------------------------------------- references */

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

/* No ".." component, absolute, short enough. */
static int ref_path_check(const char *path)
{
	size_t len = strlen(path);
	const char *c = path;

	if (path[0] != '/' || len >= PATH_MAX / 2)
		return -EINVAL;
	while (*c) {
		size_t n;

		c += *c == '/';
		n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return -EINVAL;
		c += n;
	}
	return 0;
}

/* memory.events: the first line that starts with "<key> ". */
static void ref_v2_events(const char *text, unsigned long long v[4])
{
	static const char *const keys[] = { "high", "max", "oom", "oom_kill" };

	for (int i = 0; i < 4; i++) {
		size_t kl = strlen(keys[i]);

		for (const char *line = text; line;) {
			if (!strncmp(line, keys[i], kl) && line[kl] == ' ') {
				v[i] = strtoull(line + kl + 1, NULL, 10);
				break;
			}
			line = strchr(line, '\n');
			line = line ? line + 1 : NULL;
		}
	}
}

/* ---------------------------------------------------------- parsers */

static void fuzz_cgroup_self(const char *text, size_t len, uint8_t how)
{
	static const char *const ctrls[] = { NULL, "memory", "cpu", "" };
	const char *ctrl = ctrls[how % 4];
	size_t size = how & 4 ? 16 : PATH_MAX;
	char out[PATH_MAX];
	FILE *f = fmemopen((void *)text, len, "r");
	int err;

	if (!f)
		return; /* fmemopen refuses an empty buffer */
	memset(out, 0, sizeof(out));
	err = sc_cgroup_self_parse(f, ctrl, out, size);
	fclose(f);
	FUZZ_CHECK(!err || err == -ENOTSUP || err == -ENAMETOOLONG,
		   "cgroup: %d", err);
	if (!err) {
		FUZZ_CHECK(strlen(out) < size, "cgroup: overlong result");
		FUZZ_CHECK(!*out || memmem(text, len, out, strlen(out)),
			   "cgroup: \"%s\" is not in the text", out);
		FUZZ_CHECK(!strchr(out, '\n'), "cgroup: newline in the path");
	}
}

static void fuzz_mountinfo(const char *text, size_t len, uint8_t how)
{
	static const char *const ctrls[] = { NULL, "memory", "cpu,cpuacct",
					     "" };
	size_t size = how & 4 ? 8 : PATH_MAX;
	char mnt[PATH_MAX], root[PATH_MAX];
	FILE *f = fmemopen((void *)text, len, "r");
	int err;

	if (!f)
		return;
	err = sc_cgroup_mount_parse(f, ctrls[how % 4], mnt, size, root, size);
	fclose(f);
	FUZZ_CHECK(!err || err == -ENOTSUP || err == -ENAMETOOLONG,
		   "mountinfo: %d", err);
	if (!err)
		FUZZ_CHECK(strlen(mnt) < size && strlen(root) < size,
			   "mountinfo: overlong result");
}

static void fuzz_numbers(const char *text, size_t len)
{
	unsigned long long v = 7, events[4] = { 1, 2, 3, 4 };
	unsigned long long ref[4] = { 1, 2, 3, 4 };
	unsigned long long limit = strtoull(text, NULL, 10) ^ 0x5a5a, hl;
	const char *h;
	int err;

	err = sc_parse_u64(text, &v);
	if (!strncmp(text, "max", 3))
		FUZZ_CHECK(!err && v == ULLONG_MAX, "\"max\": %d %llu", err, v);
	else if (err)
		FUZZ_CHECK(err == -EINVAL, "number: %d", err);

	sc_parse_v2_events(text, events);
	ref_v2_events(text, ref);
	for (int i = 0; i < 4; i++)
		FUZZ_CHECK(events[i] == ref[i],
			   "memory.events[%d]: %llu, ref %llu", i, events[i],
			   ref[i]);

	hl = sc_v1_hierarchical_limit(text, limit);
	h = strstr(text, "hierarchical_memory_limit ");
	FUZZ_CHECK(hl <= limit, "hierarchical limit above the limit");
	if (!h)
		FUZZ_CHECK(hl == limit, "hierarchical limit from nothing");
	(void)len;
}

static void fuzz_paths(const char *text, size_t len)
{
	const char *parts[3] = { text, "", "" };
	char buf[3][256], out[64];
	size_t n = 0;
	int err;

	FUZZ_CHECK(sc_cgroup_path_check(text) == ref_path_check(text),
		   "path check of \"%s\": %d", text,
		   sc_cgroup_path_check(text));
	/* mount, root, relative path, split at tabs */
	for (const char *p = text; n < 3 && p;) {
		size_t l = strcspn(p, "\t");

		snprintf(buf[n], sizeof(buf[n]), "%.*s", (int)l, p);
		parts[n] = buf[n];
		n++;
		p = p[l] ? p + l + 1 : NULL;
	}
	err = sc_cgroup_join(parts[0], parts[1], parts[2], out, sizeof(out));
	FUZZ_CHECK(!err || err == -ENAMETOOLONG, "join: %d", err);
	if (!err) {
		size_t ml = strlen(parts[0]);

		FUZZ_CHECK(!strncmp(out, parts[0], ml), "join: mount lost");
		FUZZ_CHECK(strlen(out) - ml <= strlen(parts[2]),
			   "join: longer than mount + path");
	}
	(void)len;
}

static void fuzz_base64(const char *text, size_t len, const uint8_t *raw,
			size_t raw_len)
{
	uint8_t out[1024];
	char re[4 * sizeof(out) / 3 + 8];
	ssize_t n = sc_base64_decode(text, out, sizeof(out));

	if (n >= 0) {
		b64_encode(out, (size_t)n, re);
		FUZZ_CHECK(!strcmp(re, text),
			   "\"%s\" decodes, but to bytes encoded \"%s\"", text,
			   re);
	} else {
		FUZZ_CHECK(n == -EINVAL || n == -ENOBUFS, "decode: %zd", n);
	}
	/* and the other way round */
	if (raw_len > sizeof(out))
		raw_len = sizeof(out);
	b64_encode(raw, raw_len, re);
	n = sc_base64_decode(re, out, sizeof(out));
	FUZZ_CHECK(n == (ssize_t)raw_len && !memcmp(out, raw, raw_len),
		   "round trip of %zu bytes: %zd", raw_len, n);
	if (raw_len)
		FUZZ_CHECK(sc_base64_decode(re, out, raw_len - 1) == -ENOBUFS,
			   "no room: not -ENOBUFS");
	(void)len;
}

/* The documented rules of struct sc_pressure_config. */
static int ref_check_config(const struct sc_pressure_config *cfg)
{
	const unsigned int *pct = cfg->usage_pct;
	unsigned int stall = cfg->stall_us ? cfg->stall_us : 200000;
	unsigned int window = cfg->window_us ? cfg->window_us : 2000000;

	const unsigned int all =
		SC_PRESSURE_SRC_PSI | SC_PRESSURE_SRC_PSI_CGROUP |
		SC_PRESSURE_SRC_CGROUP_V1 | SC_PRESSURE_SRC_SYSTEMD |
		SC_PRESSURE_SRC_CGROUP_USAGE;

	if (cfg->sources & ~all)
		return -EINVAL;
	if ((pct[0] || pct[1] || pct[2]) &&
	    !(pct[0] && pct[0] <= pct[1] && pct[1] <= pct[2] && pct[2] <= 100))
		return -EINVAL;
	if (stall > window)
		return -EINVAL;
	if (cfg->cgroup && ref_path_check(cfg->cgroup))
		return -EINVAL;
	return 0;
}

static void fuzz_options(struct fuzz_in *in)
{
	static const unsigned int pcts[] = { 0, 1, 50, 80, 90, 95, 100, 101 };
	static const unsigned int times[] = { 0,       1,	500000,
					      2000000, 2000001, UINT_MAX };
	struct sc_pressure_config cfg = { 0 };
	char cgroup[128];
	struct sc_pressure *p;
	uint8_t r = fuzz_u8(in);
	int err, want;

	cfg.sources = r & 0x80 ? fuzz_u32(in) : SC_PRESSURE_SRC_SYSTEMD;
	cfg.stall_us = times[fuzz_below(in, 6)];
	cfg.window_us = times[fuzz_below(in, 6)];
	for (int i = 0; i < 3; i++)
		cfg.usage_pct[i] = pcts[fuzz_below(in, 8)];
	if (r & 1) {
		fuzz_str(in, cgroup, sizeof(cgroup), sizeof(cgroup));
		cfg.cgroup = cgroup;
	}
	err = sc_pressure_check_config(&cfg);
	want = ref_check_config(&cfg);
	FUZZ_CHECK(err == want, "config check %d, documented %d", err, want);
	if (want || cfg.sources != SC_PRESSURE_SRC_SYSTEMD)
		return;
	/* Valid: the systemd source alone, with no watch set, fails as
	 * documented for an explicit source, and nothing leaks. */
	unsetenv("MEMORY_PRESSURE_WATCH");
	p = sc_pressure_open(&cfg);
	FUZZ_CHECK(!p && errno == ENOENT, "open without a watch: %d", errno);
}

static void fuzz_systemd(struct fuzz_in *in, uint8_t how)
{
	static const char *const watches[] = { fifo_path, file_path,
					       "/dev/null", "/tmp" };
	const char *watch = watches[how % 4];
	struct sc_pressure_config cfg = { .sources = SC_PRESSURE_SRC_SYSTEMD };
	uint8_t data[1100];
	char value[1500], *text = value;
	struct sc_pressure *p;
	size_t n = 0;
	ssize_t dec;
	int err;

	if (how & 4) {
		/* bytes, encoded: mostly valid values */
		while (n < sizeof(data) && !fuzz_done(in))
			data[n++] = fuzz_u8(in);
		b64_encode(data, n, value);
	} else {
		fuzz_str(in, value, sizeof(value), sizeof(value) - 1);
	}
	/* as the monitor decodes it: 1023 bytes of room */
	dec = sc_base64_decode(text, data, 1023);
	setenv("MEMORY_PRESSURE_WATCH", watch, 1);
	setenv("MEMORY_PRESSURE_WRITE", text, 1);
	p = sc_pressure_open(&cfg);
	err = p ? 0 : errno;
	unsetenv("MEMORY_PRESSURE_WATCH");
	unsetenv("MEMORY_PRESSURE_WRITE");

	if (*text && dec == -EINVAL)
		FUZZ_CHECK(err == EINVAL, "bad Base64 \"%s\": %d", text, err);
	else if (*text && dec == -ENOBUFS)
		FUZZ_CHECK(err == E2BIG, "overlong value: %d", err);
	else if (how % 4 == 0)
		FUZZ_CHECK(p && sc_pressure_sources(p) ==
					   SC_PRESSURE_SRC_SYSTEMD,
			   "FIFO watch: %d", err);
	else if (how % 4 == 1)
		FUZZ_CHECK(err == EINVAL, "a plain file is no PSI file: %d",
			   err);
	else if (how % 4 == 2)
		FUZZ_CHECK(p && !sc_pressure_sources(p), "/dev/null: %d", err);
	else
		FUZZ_CHECK(err == EISDIR, "a directory: %d", err);
	if (p && how % 4 == 0) {
		char sink[64];
		int fd = open(fifo_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

		/* its own trigger bytes were read back, not left as an
		 * event for the next reader */
		FUZZ_CHECK(fd >= 0, "fifo");
		FUZZ_CHECK(read(fd, sink, sizeof(sink)) <= 0,
			   "bytes left in the FIFO");
		close(fd);
	}
	sc_pressure_close(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t which = fuzz_u8(&in), how = fuzz_u8(&in);
	char *text;
	size_t len;

	if (which % 8 == 6) {
		fuzz_options(&in);
		return 0;
	}
	if (which % 8 == 7) {
		fuzz_systemd(&in, how);
		return 0;
	}
	/* the rest of the input as text: up to a NUL, as files are read */
	len = in.left;
	text = malloc(len + 1);
	FUZZ_CHECK(text, "malloc");
	memcpy(text, in.p, len);
	text[len] = '\0';
	len = strlen(text);
	switch (which % 8) {
	case 0:
		fuzz_cgroup_self(text, len, how);
		break;
	case 1:
		fuzz_mountinfo(text, len, how);
		break;
	case 2:
		fuzz_numbers(text, len);
		break;
	case 3:
		fuzz_paths(text, len);
		break;
	default:
		fuzz_base64(text, len, in.p, in.left);
		break;
	}
	free(text);
	return 0;
}
