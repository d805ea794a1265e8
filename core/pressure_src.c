// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Opening the memory-pressure sources of a monitor (core/pressure.c):
 * finding the process's cgroups (/proc/self/cgroup and
 * /proc/self/mountinfo, nothing hard-coded), PSI triggers, cgroup v1
 * pressure levels and usage thresholds, cgroup v2 memory.events, and
 * systemd's $MEMORY_PRESSURE_WATCH / $MEMORY_PRESSURE_WRITE protocol.
 *
 * Each opener either adds its complete set of fds to p->src and sets its
 * bit in p->sources, or adds nothing and returns a negative errno. Every
 * fd is opened O_CLOEXEC.
 *
 * Locking: called only from sc_pressure_open() before the monitor is
 * visible to anyone, and (usage and events helpers) from dispatch under
 * the monitor's lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/pressure_internal.h"

#define SC_PSI_TRIGGER_MAX 64

/* ------------------------------------------------------------- files */

/* Read a small file into @buf, NUL-terminated. Return: length or -errno. */
static ssize_t sc_read_text_fd(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

static ssize_t sc_read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = sc_read_text_fd(fd, buf, size);
	close(fd);
	return n;
}

int sc_parse_u64(const char *buf, unsigned long long *v)
{
	char *end;

	if (!strncmp(buf, "max", 3)) {
		*v = ULLONG_MAX;
		return 0;
	}
	errno = 0;
	*v = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

/* A number, or "max" (returned as ULLONG_MAX). Return: 0 or -errno. */
static int sc_read_u64(const char *path, unsigned long long *v)
{
	char buf[64];
	ssize_t n = sc_read_text(path, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	return sc_parse_u64(buf, v);
}

static int sc_path(char *out, size_t size, const char *dir, const char *file)
{
	int n = snprintf(out, size, "%s/%s", dir, file);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* A kernel file that is missing means the kernel lacks the feature. */
static int sc_missing_is_notsup(int err)
{
	return err == -ENOENT ? -ENOTSUP : err;
}

/* ----------------------------------------------------------- cgroups */

int sc_cgroup_path_check(const char *path)
{
	size_t len = strlen(path);

	if (path[0] != '/' || len >= PATH_MAX / 2)
		return -EINVAL;
	/* No way out of the hierarchy. */
	for (const char *c = path; (c = strstr(c, "/..")); c += 3)
		if (c[3] == '/' || c[3] == '\0')
			return -EINVAL;
	return 0;
}

/*
 * The process's path in one hierarchy, from /proc/self/cgroup: the "0::"
 * line for v2 (@controller NULL), or the line whose controller list
 * holds @controller.
 */
int sc_cgroup_self_parse(FILE *f, const char *controller, char *out,
			 size_t size)
{
	char line[PATH_MAX + 128];
	int err = -ENOTSUP;

	while (fgets(line, sizeof(line), f)) {
		char *ctrls, *path, *nl;
		bool match = false;

		ctrls = strchr(line, ':');
		if (!ctrls)
			continue;
		path = strchr(++ctrls, ':');
		if (!path)
			continue;
		*path++ = '\0';
		nl = strchr(path, '\n');
		if (nl)
			*nl = '\0';
		if (!controller) {
			match = !strncmp(line, "0:", 2) && !*ctrls;
		} else {
			for (char *save, *tok = strtok_r(ctrls, ",", &save);
			     tok; tok = strtok_r(NULL, ",", &save))
				match |= !strcmp(tok, controller);
		}
		if (match) {
			err = snprintf(out, size, "%s", path) < (int)size ?
				      0 :
				      -ENAMETOOLONG;
			break;
		}
	}
	return err;
}

static int sc_cgroup_self(const char *controller, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	int err;

	/* out of fds or memory is not a kernel without cgroups */
	if (!f)
		return sc_missing_is_notsup(-errno);
	err = sc_cgroup_self_parse(f, controller, out, size);
	fclose(f);
	return err;
}

static bool sc_is_octal(char c)
{
	return c >= '0' && c <= '7';
}

/*
 * Undo mountinfo's octal escapes (\040 for a space) in place; a backslash
 * not followed by three octal digits (\000 to \377) stays as it is.
 */
static void sc_unescape(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    sc_is_octal(s[2]) && sc_is_octal(s[3])) {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

/*
 * Where a hierarchy is mounted, from /proc/self/mountinfo: the cgroup2
 * mount (@controller NULL) or the v1 mount whose super options hold
 * @controller. @root gets the mount's root within the hierarchy.
 */
int sc_cgroup_mount_parse(FILE *f, const char *controller, char *mnt,
			  size_t mnt_size, char *root, size_t root_size)
{
	char line[2 * PATH_MAX + 256];
	int err = -ENOTSUP;

	while (fgets(line, sizeof(line), f)) {
		char *field[6], *save, *dash, *fstype, *opts;
		int i = 0;

		dash = strstr(line, " - ");
		if (!dash)
			continue;
		*dash = '\0';
		fstype = strtok_r(dash + 3, " ", &save);
		strtok_r(NULL, " ", &save); /* source */
		opts = strtok_r(NULL, " \n", &save);
		if (!fstype || !opts)
			continue;
		for (char *tok = strtok_r(line, " ", &save); tok && i < 6;
		     tok = strtok_r(NULL, " ", &save))
			field[i++] = tok;
		if (i < 5)
			continue;
		if (!controller) {
			if (strcmp(fstype, "cgroup2"))
				continue;
		} else {
			bool has = false;

			if (strcmp(fstype, "cgroup"))
				continue;
			for (char *s2, *tok = strtok_r(opts, ",", &s2); tok;
			     tok = strtok_r(NULL, ",", &s2))
				has |= !strcmp(tok, controller);
			if (!has)
				continue;
		}
		sc_unescape(field[3]);
		sc_unescape(field[4]);
		if (snprintf(root, root_size, "%s", field[3]) >=
			    (int)root_size ||
		    snprintf(mnt, mnt_size, "%s", field[4]) >= (int)mnt_size)
			err = -ENAMETOOLONG;
		else
			err = 0;
		break;
	}
	return err;
}

static int sc_cgroup_mount(const char *controller, char *mnt, size_t mnt_size,
			   char *root, size_t root_size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int err;

	/* out of fds or memory is not a kernel without cgroups */
	if (!f)
		return sc_missing_is_notsup(-errno);
	err = sc_cgroup_mount_parse(f, controller, mnt, mnt_size, root,
				    root_size);
	fclose(f);
	return err;
}

int sc_cgroup_join(const char *mnt, const char *root, const char *rel,
		   char *out, size_t size)
{
	size_t rlen = strlen(root);
	int n;

	/* A mount of a subtree (containers): paths are below its root. */
	if (strcmp(root, "/") && !strncmp(rel, root, rlen) &&
	    (rel[rlen] == '/' || rel[rlen] == '\0'))
		rel += rlen;
	if (!strcmp(rel, "/"))
		rel = "";
	n = snprintf(out, size, "%s%s", mnt, rel);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* The directory of the process's (or @cfg->cgroup's) cgroup. */
static int sc_cgroup_dir(const struct sc_pressure_config *cfg,
			 const char *controller, char *out, size_t size)
{
	char mnt[PATH_MAX], root[PATH_MAX], self[PATH_MAX];
	const char *rel;
	int err;

	err = sc_cgroup_mount(controller, mnt, sizeof(mnt), root, sizeof(root));
	if (err)
		return err;
	if (cfg->cgroup) {
		rel = cfg->cgroup;
	} else {
		err = sc_cgroup_self(controller, self, sizeof(self));
		if (err)
			return err;
		rel = self;
	}
	err = sc_cgroup_join(mnt, root, rel, out, size);
	if (err)
		return err;
	/* A cgroup that does not exist, unlike a file the kernel lacks. */
	return access(out, F_OK) ? -errno : 0;
}

/* ----------------------------------------------------------- sources */

static int sc_psrc_add(struct sc_pressure *p, int fd, int aux_fd,
		       unsigned int type, enum sc_psrc_kind kind,
		       enum sc_pressure_level level)
{
	struct sc_psrc *s;

	if (p->nr_srcs == SC_PSRC_MAX)
		return -ENOSPC;
	s = &p->src[p->nr_srcs++];
	s->fd = fd;
	s->aux_fd = aux_fd;
	s->type = type;
	s->kind = kind;
	s->level = level;
	s->active = true;
	return 0;
}

/* Close and forget the sources added since @start (a failed opener). */
static void sc_psrc_rollback(struct sc_pressure *p, unsigned int start)
{
	while (p->nr_srcs > start) {
		struct sc_psrc *s = &p->src[--p->nr_srcs];

		if (s->fd >= 0)
			close(s->fd);
		if (s->aux_fd >= 0)
			close(s->aux_fd);
		memset(s, 0, sizeof(*s));
	}
}

/*
 * One PSI trigger. /proc/pressure/ files overwrite the last byte written
 * with NUL, so the string goes with its NUL (harmless on cgroupfs).
 */
static int sc_psi_trigger(const char *path, const void *trig, size_t len)
{
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return sc_missing_is_notsup(-errno);
	if (write(fd, trig, len) != (ssize_t)len) {
		int err = errno ? -errno : -EIO;

		close(fd);
		return err;
	}
	return fd;
}

/* "some" -> LOW; "full" -> MEDIUM when the kernel takes it. */
static int sc_open_psi_file(struct sc_pressure *p, const char *path,
			    unsigned int type)
{
	unsigned int start = p->nr_srcs;
	char trig[SC_PSI_TRIGGER_MAX];
	int fd, n, err;

	n = snprintf(trig, sizeof(trig), "some %u %u", p->stall_us,
		     p->window_us);
	fd = sc_psi_trigger(path, trig, (size_t)n + 1);
	if (fd < 0)
		return fd;
	err = sc_psrc_add(p, fd, -1, type, SC_PSRC_PSI, SC_PRESSURE_LOW);
	if (err) {
		close(fd);
		return err;
	}
	n = snprintf(trig, sizeof(trig), "full %u %u", p->stall_us,
		     p->window_us);
	fd = sc_psi_trigger(path, trig, (size_t)n + 1);
	if (fd >= 0 &&
	    sc_psrc_add(p, fd, -1, type, SC_PSRC_PSI, SC_PRESSURE_MEDIUM)) {
		close(fd);
		sc_psrc_rollback(p, start);
		return -ENOSPC;
	}
	atomic_fetch_or(&p->sources, type);
	return 0;
}

static int sc_open_psi_system(struct sc_pressure *p,
			      const struct sc_pressure_config *cfg)
{
	return sc_open_psi_file(p, "/proc/pressure/memory",
				SC_PRESSURE_SRC_PSI);
}

static int sc_open_psi_cgroup(struct sc_pressure *p,
			      const struct sc_pressure_config *cfg)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int err;

	err = sc_cgroup_dir(cfg, NULL, dir, sizeof(dir));
	if (!err)
		err = sc_path(path, sizeof(path), dir, "memory.pressure");
	if (err)
		return err;
	return sc_open_psi_file(p, path, SC_PRESSURE_SRC_PSI_CGROUP);
}

/* Register @efd for "@target_fd @arg" through cgroup.event_control. */
static int sc_v1_event(int ctl_fd, int efd, int target_fd, const char *arg)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "%d %d %s", efd, target_fd, arg);

	if (write(ctl_fd, line, (size_t)n) != n)
		return errno ? -errno : -EIO;
	return 0;
}

/*
 * Open a v1 cgroup's cgroup.event_control (write) and the file whose
 * events are wanted (read): both stay open while eventfds are registered.
 */
static int sc_v1_open_event_files(const char *dir, const char *target_file,
				  int *ctl_fd, int *target_fd)
{
	char path[PATH_MAX];
	int err, ctl, target;

	err = sc_path(path, sizeof(path), dir, "cgroup.event_control");
	if (err)
		return err;
	ctl = open(path, O_WRONLY | O_CLOEXEC);
	if (ctl < 0)
		return sc_missing_is_notsup(-errno);
	err = sc_path(path, sizeof(path), dir, target_file);
	if (err)
		goto err_close;
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		err = sc_missing_is_notsup(-errno);
		goto err_close;
	}
	*ctl_fd = ctl;
	*target_fd = target;
	return 0;

err_close:
	close(ctl);
	return err;
}

static int sc_open_cgroup_v1(struct sc_pressure *p,
			     const struct sc_pressure_config *cfg)
{
	static const char *const names[] = { "low", "medium", "critical" };
	char dir[PATH_MAX];
	unsigned int start = p->nr_srcs;
	bool plevel_owned = false;
	int ctl, plevel, err;

	err = sc_cgroup_dir(cfg, "memory", dir, sizeof(dir));
	if (!err)
		err = sc_v1_open_event_files(dir, "memory.pressure_level", &ctl,
					     &plevel);
	if (err)
		return err;
	for (int i = 0; i < 3; i++) {
		int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

		if (efd < 0) {
			err = -errno;
			goto err_rollback;
		}
		err = sc_v1_event(ctl, efd, plevel, names[i]);
		/* The first source keeps memory.pressure_level open. */
		if (!err)
			err = sc_psrc_add(p, efd, plevel_owned ? -1 : plevel,
					  SC_PRESSURE_SRC_CGROUP_V1,
					  SC_PSRC_EVENTFD,
					  (enum sc_pressure_level)(i + 1));
		if (err) {
			close(efd);
			goto err_rollback;
		}
		plevel_owned = true;
	}
	close(ctl);
	atomic_fetch_or(&p->sources, SC_PRESSURE_SRC_CGROUP_V1);
	return 0;

err_rollback:
	sc_psrc_rollback(p, start);
	if (!plevel_owned)
		close(plevel);
	close(ctl);
	return err;
}

static unsigned long long sc_pct_of(unsigned long long limit, unsigned int pct)
{
	return limit / 100 * pct + limit % 100 * pct / 100;
}

static unsigned long long sc_phys_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || size <= 0)
		return ULLONG_MAX;
	return (unsigned long long)pages * (unsigned long long)size;
}

unsigned long long sc_v1_hierarchical_limit(const char *stat,
					    unsigned long long limit)
{
	const char *h = strstr(stat, "hierarchical_memory_limit ");
	unsigned long long hl;

	if (!h)
		return limit;
	hl = strtoull(h + 26, NULL, 10);
	return hl && hl < limit ? hl : limit;
}

/* cgroup v1: threshold eventfds on memory.usage_in_bytes. */
static int sc_open_usage_v1(struct sc_pressure *p,
			    const struct sc_pressure_config *cfg)
{
	char dir[PATH_MAX], path[PATH_MAX], stat[4096];
	unsigned int start = p->nr_srcs;
	unsigned long long limit;
	int ctl, usage, err;

	/* a cgroup that does not exist is not a kernel without the file */
	err = sc_cgroup_dir(cfg, "memory", dir, sizeof(dir));
	if (err)
		return err;
	err = sc_path(path, sizeof(path), dir, "memory.limit_in_bytes");
	if (!err)
		err = sc_read_u64(path, &limit);
	if (err)
		return sc_missing_is_notsup(err);
	/* A parent's limit binds too. */
	if (!sc_path(path, sizeof(path), dir, "memory.stat") &&
	    sc_read_text(path, stat, sizeof(stat)) > 0)
		limit = sc_v1_hierarchical_limit(stat, limit);
	if (limit >= sc_phys_bytes())
		return -ENODATA; /* no limit that could ever bind */

	err = sc_v1_open_event_files(dir, "memory.usage_in_bytes", &ctl,
				     &usage);
	if (err)
		return err;
	for (int i = 0; i < 3; i++) {
		int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		char thr[32];

		if (efd < 0) {
			err = -errno;
			goto err_rollback;
		}
		snprintf(thr, sizeof(thr), "%llu",
			 sc_pct_of(limit, p->usage_pct[i]));
		err = sc_v1_event(ctl, efd, usage, thr);
		if (!err)
			err = sc_psrc_add(p, efd, -1,
					  SC_PRESSURE_SRC_CGROUP_USAGE,
					  SC_PSRC_USAGE_V1,
					  (enum sc_pressure_level)(i + 1));
		if (err) {
			close(efd);
			goto err_rollback;
		}
	}
	close(ctl);
	p->usage_fd = usage;
	p->usage_limit = limit;
	atomic_fetch_or(&p->sources, SC_PRESSURE_SRC_CGROUP_USAGE);
	return 0;

err_rollback:
	sc_psrc_rollback(p, start);
	close(usage);
	close(ctl);
	return err;
}

void sc_parse_v2_events(const char *text, unsigned long long v[4])
{
	static const char *const keys[] = { "high ", "max ", "oom ",
					    "oom_kill " };

	for (int i = 0; i < 4; i++) {
		for (const char *at = text; (at = strstr(at, keys[i])); at++) {
			if (at == text || at[-1] == '\n') {
				v[i] = strtoull(at + strlen(keys[i]), NULL, 10);
				break;
			}
		}
	}
}

int sc_pressure_events_v2_level(struct sc_pressure *p, struct sc_psrc *s)
{
	unsigned long long now[4] = { 0 };
	char text[512];
	int level = SC_PRESSURE_NONE;

	if (sc_read_text_fd(s->fd, text, sizeof(text)) < 0)
		return -1; /* the cgroup is gone */
	sc_parse_v2_events(text, now);
	if (now[1] > p->v2_events[1] || now[2] > p->v2_events[2] ||
	    now[3] > p->v2_events[3])
		level = SC_PRESSURE_CRITICAL;
	else if (now[0] > p->v2_events[0])
		level = SC_PRESSURE_MEDIUM;
	memcpy(p->v2_events, now, sizeof(now));
	return level;
}

/* cgroup v2: memory.events (high/max) and memory.current vs the limit. */
static int sc_open_usage_v2(struct sc_pressure *p,
			    const struct sc_pressure_config *cfg)
{
	char dir[PATH_MAX], path[PATH_MAX], text[512];
	unsigned long long high = ULLONG_MAX, max = ULLONG_MAX, limit;
	int events, usage, err;

	err = sc_cgroup_dir(cfg, NULL, dir, sizeof(dir));
	if (!err)
		err = sc_path(path, sizeof(path), dir, "memory.events");
	if (err)
		return err;
	events = open(path, O_RDONLY | O_CLOEXEC);
	if (events < 0)
		return sc_missing_is_notsup(-errno);
	if (!sc_path(path, sizeof(path), dir, "memory.high"))
		sc_read_u64(path, &high);
	if (!sc_path(path, sizeof(path), dir, "memory.max"))
		sc_read_u64(path, &max);
	limit = high < max ? high : max;
	if (limit >= sc_phys_bytes()) {
		err = -ENODATA;
		goto err_events;
	}
	err = sc_path(path, sizeof(path), dir, "memory.current");
	if (err)
		goto err_events;
	usage = open(path, O_RDONLY | O_CLOEXEC);
	if (usage < 0) {
		err = sc_missing_is_notsup(-errno);
		goto err_events;
	}
	if (sc_read_text_fd(events, text, sizeof(text)) > 0)
		sc_parse_v2_events(text, p->v2_events);
	err = sc_psrc_add(p, events, -1, SC_PRESSURE_SRC_CGROUP_USAGE,
			  SC_PSRC_EVENTS_V2, SC_PRESSURE_MEDIUM);
	if (err) {
		close(usage);
		goto err_events;
	}
	p->usage_fd = usage;
	p->usage_limit = limit;
	atomic_fetch_or(&p->sources, SC_PRESSURE_SRC_CGROUP_USAGE);
	return 0;

err_events:
	close(events);
	return err;
}

static int sc_open_usage(struct sc_pressure *p,
			 const struct sc_pressure_config *cfg)
{
	char mnt[PATH_MAX], root[PATH_MAX];

	/* The hierarchy that has the memory controller. */
	if (!sc_cgroup_mount("memory", mnt, sizeof(mnt), root, sizeof(root)))
		return sc_open_usage_v1(p, cfg);
	return sc_open_usage_v2(p, cfg);
}

int sc_pressure_usage_level(struct sc_pressure *p)
{
	char buf[64];
	unsigned long long usage;

	if (p->usage_fd < 0 ||
	    sc_read_text_fd(p->usage_fd, buf, sizeof(buf)) <= 0)
		return 0;
	usage = strtoull(buf, NULL, 10);
	for (int i = 2; i >= 0; i--)
		if (usage >= sc_pct_of(p->usage_limit, p->usage_pct[i]))
			return i + 1;
	return 0;
}

/* ----------------------------------------------------------- systemd */

#define SC_SYSTEMD_OFF 1

static int sc_write_all(int fd, const void *buf, size_t len)
{
	const char *b = buf;

	while (len) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, b, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static int sc_open_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * $MEMORY_PRESSURE_WATCH: a PSI file (POLLPRI), a FIFO or an AF_UNIX
 * socket (POLLIN, read and discard), or /dev/null (off: returns
 * SC_SYSTEMD_OFF). $MEMORY_PRESSURE_WRITE: Base64 of bytes to write
 * after opening (a PSI trigger; for a PSI file without it, our own).
 */
static int sc_open_systemd(struct sc_pressure *p,
			   const struct sc_pressure_config *cfg)
{
	const char *watch = secure_getenv("MEMORY_PRESSURE_WATCH");
	const char *wenc = secure_getenv("MEMORY_PRESSURE_WRITE");
	unsigned char data[1024];
	ssize_t len = 0;
	struct statfs sfs;
	struct stat st;
	int fd, err;

	if (!watch || !*watch)
		return -ENOENT;
	if (wenc && *wenc) {
		/* Room for a NUL that we may have to add. */
		len = sc_base64_decode(wenc, data, sizeof(data) - 1);
		if (len < 0)
			return len == -ENOBUFS ? -E2BIG : -EINVAL;
	}
	if (stat(watch, &st))
		return -errno;
	if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
		return SC_SYSTEMD_OFF; /* /dev/null */

	if (S_ISREG(st.st_mode)) {
		if (!len) {
			len = snprintf((char *)data, sizeof(data), "some %u %u",
				       p->stall_us, p->window_us);
		} else if (data[len - 1] == '\0') {
			len--;
		}
		data[len++] = '\0';
		/* Only ever write a trigger into a PSI file. */
		if (statfs(watch, &sfs))
			return -errno;
		if (sfs.f_type != PROC_SUPER_MAGIC &&
		    sfs.f_type != CGROUP2_SUPER_MAGIC &&
		    sfs.f_type != CGROUP_SUPER_MAGIC)
			return -EINVAL;
		fd = sc_psi_trigger(watch, data, (size_t)len);
		if (fd < 0)
			return fd;
		err = sc_psrc_add(p, fd, -1, SC_PRESSURE_SRC_SYSTEMD,
				  SC_PSRC_PSI, SC_PRESSURE_MEDIUM);
	} else if (S_ISFIFO(st.st_mode)) {
		/* Read-write, so that a writer going away is no hangup. */
		fd = open(watch, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (len) {
			char sink[256];
			ssize_t left = len;

			/* Written as the protocol says; our own bytes would
			 * come back as an event, so take them out again. */
			err = sc_write_all(fd, data, (size_t)len);
			while (!err && left > 0) {
				ssize_t n = read(fd, sink,
						 (size_t)left < sizeof(sink) ?
							 (size_t)left :
							 sizeof(sink));
				if (n <= 0)
					break;
				left -= n;
			}
			if (err) {
				close(fd);
				return err;
			}
		}
		err = sc_psrc_add(p, fd, -1, SC_PRESSURE_SRC_SYSTEMD,
				  SC_PSRC_STREAM, SC_PRESSURE_MEDIUM);
	} else if (S_ISSOCK(st.st_mode)) {
		fd = sc_open_socket(watch);
		if (fd < 0)
			return fd;
		err = len ? sc_write_all(fd, data, (size_t)len) : 0;
		if (err) {
			close(fd);
			return err;
		}
		err = sc_psrc_add(p, fd, -1, SC_PRESSURE_SRC_SYSTEMD,
				  SC_PSRC_STREAM, SC_PRESSURE_MEDIUM);
	} else {
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	if (err) {
		close(fd);
		return err;
	}
	atomic_fetch_or(&p->sources, SC_PRESSURE_SRC_SYSTEMD);
	return 0;
}

/* ------------------------------------------------------------ choose */

typedef int (*sc_src_opener)(struct sc_pressure *,
			     const struct sc_pressure_config *);

static int sc_try(struct sc_pressure *p, const struct sc_pressure_config *cfg,
		  unsigned int type, sc_src_opener open_fn)
{
	int err = open_fn(p, cfg);

	if (err < 0)
		p->source_errno[__builtin_ctz(type)] = -err;
	return err;
}

int sc_pressure_open_sources(struct sc_pressure *p,
			     const struct sc_pressure_config *cfg)
{
	static const struct {
		unsigned int type;
		sc_src_opener open_fn;
	} order[] = {
		{ SC_PRESSURE_SRC_SYSTEMD, sc_open_systemd },
		{ SC_PRESSURE_SRC_PSI_CGROUP, sc_open_psi_cgroup },
		{ SC_PRESSURE_SRC_PSI, sc_open_psi_system },
		{ SC_PRESSURE_SRC_CGROUP_V1, sc_open_cgroup_v1 },
		{ SC_PRESSURE_SRC_CGROUP_USAGE, sc_open_usage },
	};
	int err;

	if (cfg->sources) {
		/* Explicit: every one asked for must work. */
		for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
			if (!(cfg->sources & order[i].type))
				continue;
			err = sc_try(p, cfg, order[i].type, order[i].open_fn);
			if (err < 0)
				return err;
		}
		return 0;
	}

	/*
	 * AUTO: systemd's watch if it is set (and then no PSI of our own;
	 * /dev/null turns every kernel source off), else the cgroup's PSI,
	 * else the system's; then v1 levels and usage thresholds. Failures
	 * are kept for sc_pressure_source_errno().
	 */
	err = sc_try(p, cfg, SC_PRESSURE_SRC_SYSTEMD, sc_open_systemd);
	if (err == SC_SYSTEMD_OFF)
		return 0;
	if (err < 0 &&
	    sc_try(p, cfg, SC_PRESSURE_SRC_PSI_CGROUP, sc_open_psi_cgroup) < 0)
		sc_try(p, cfg, SC_PRESSURE_SRC_PSI, sc_open_psi_system);
	sc_try(p, cfg, SC_PRESSURE_SRC_CGROUP_V1, sc_open_cgroup_v1);
	sc_try(p, cfg, SC_PRESSURE_SRC_CGROUP_USAGE, sc_open_usage);
	return 0;
}
