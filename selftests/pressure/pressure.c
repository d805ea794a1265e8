// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Memory-pressure monitor: notify at each level, dispatch runs the
 * shrinkers once for the highest level, the systemd protocol through a
 * FIFO and an AF_UNIX socket made here ($MEMORY_PRESSURE_WRITE checked on
 * the other end), /dev/null = off, bad Base64 and paths, PSI trigger
 * errors, debounce and escalation, fork, bad arguments, fault injection.
 *
 * Deterministic sources only (notify, a FIFO, a socket); real kernel
 * pressure is selftests/scenarios/pressure-cgroup.sh.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <slabcache.h>

#include "../child.h"

/* A shrinker that counts how often, and at which level, it is asked. */
static unsigned long count_calls;
static enum sc_pressure_level last_level;

static unsigned long t_count(struct sc_shrinker *s,
			     struct sc_shrink_control *sc)
{
	count_calls++;
	last_level = sc->level;
	return 0; /* nothing to scan: only the call is of interest */
}

static unsigned long t_scan(struct sc_shrinker *s, struct sc_shrink_control *sc)
{
	return 0;
}

static struct sc_shrinker *counting_shrinker(void)
{
	struct sc_shrinker *s = sc_shrinker_alloc(0, "pressure-test");

	cr_assert_not_null(s);
	s->count_objects = t_count;
	s->scan_objects = t_scan;
	sc_shrinker_register(s);
	count_calls = 0;
	return s;
}

static bool readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

/* Only notify: systemd's "off". */
static struct sc_pressure *open_quiet(void)
{
	struct sc_pressure *p;

	cr_assert_eq(setenv("MEMORY_PRESSURE_WATCH", "/dev/null", 1), 0);
	unsetenv("MEMORY_PRESSURE_WRITE");
	p = sc_pressure_open(NULL);
	cr_assert_not_null(p);
	cr_assert_eq(sc_pressure_sources(p), 0);
	return p;
}

static char tmpdir[PATH_MAX];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sc-pressure-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[PATH_MAX * 2];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(tmpdir);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* ------------------------------------------------------------ notify */

Test(pressure, notify_each_level)
{
	struct sc_shrinker *s = counting_shrinker();
	struct sc_pressure *p = open_quiet();
	int fd = sc_pressure_fd(p);

	cr_assert_geq(fd, 0);
	cr_assert_not(readable(fd));
	cr_assert_eq(sc_pressure_dispatch(p), 0, "nothing pending");
	cr_assert_eq(count_calls, 0);
	for (int l = SC_PRESSURE_LOW; l <= SC_PRESSURE_CRITICAL; l++) {
		cr_assert_eq(sc_pressure_notify(p, l), 0);
		cr_assert(readable(fd), "level %d makes the fd readable", l);
		cr_assert_eq(sc_pressure_dispatch(p), l);
		cr_assert_eq(last_level, l);
		cr_assert_not(readable(fd), "dispatch consumed it");
		cr_assert_eq(sc_pressure_dispatch(p), 0);
	}
	cr_assert_eq(count_calls, 3);
	sc_pressure_close(p);
	sc_shrinker_free(s);
}

Test(pressure, dispatch_runs_highest_level_once)
{
	struct sc_shrinker *s = counting_shrinker();
	struct sc_pressure *p = open_quiet();
	struct sc_pressure_stats st;

	cr_assert_eq(sc_pressure_notify(p, SC_PRESSURE_LOW), 0);
	cr_assert_eq(sc_pressure_notify(p, SC_PRESSURE_CRITICAL), 0);
	cr_assert_eq(sc_pressure_notify(p, SC_PRESSURE_MEDIUM), 0);
	cr_assert_eq(sc_pressure_notify(p, SC_PRESSURE_LOW), 0);
	cr_assert_eq(sc_pressure_dispatch(p), SC_PRESSURE_CRITICAL);
	cr_assert_eq(count_calls, 1, "one pass for all four");
	cr_assert_eq(last_level, SC_PRESSURE_CRITICAL);
	cr_assert_eq(sc_pressure_dispatch(p), 0);
	cr_assert_eq(count_calls, 1);
	cr_assert_eq(sc_pressure_stats(p, &st), 0);
	cr_assert_eq(st.passes[SC_PRESSURE_CRITICAL], 1);
	cr_assert_eq(st.passes[SC_PRESSURE_LOW] + st.passes[SC_PRESSURE_MEDIUM],
		     0);
	cr_assert_eq(st.notifies, 1, "one batch of notifies handled");
	cr_assert_eq(st.events, 0);
	sc_pressure_close(p);
	sc_shrinker_free(s);
}

Test(pressure, notify_is_never_debounced)
{
	struct sc_shrinker *s = counting_shrinker();
	struct sc_pressure *p = open_quiet();

	for (int i = 0; i < 5; i++) {
		cr_assert_eq(sc_pressure_notify(p, SC_PRESSURE_MEDIUM), 0);
		cr_assert_eq(sc_pressure_dispatch(p), SC_PRESSURE_MEDIUM);
	}
	cr_assert_eq(count_calls, 5);
	sc_pressure_close(p);
	sc_shrinker_free(s);
}

static struct sc_pressure *signal_monitor;

static void on_usr1(int sig)
{
	sc_pressure_notify(signal_monitor, SC_PRESSURE_CRITICAL);
}

Test(pressure, notify_from_a_signal_handler)
{
	struct sc_shrinker *s = counting_shrinker();
	struct sigaction sa = { .sa_handler = on_usr1 };

	signal_monitor = open_quiet();
	cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	errno = 1234;
	cr_assert_eq(raise(SIGUSR1), 0);
	cr_assert_eq(errno, 1234, "the handler left errno alone");
	cr_assert_eq(sc_pressure_dispatch(signal_monitor),
		     SC_PRESSURE_CRITICAL);
	cr_assert_eq(count_calls, 1);
	sc_pressure_close(signal_monitor);
	sc_shrinker_free(s);
}

Test(pressure, notify_with_auto_sources_and_no_systemd)
{
	struct sc_pressure *p;

	unsetenv("MEMORY_PRESSURE_WATCH");
	p = sc_pressure_open(NULL);
	cr_assert_not_null(p, "AUTO always opens");
	cr_assert_eq(sc_pressure_sources(p) & SC_PRESSURE_SRC_SYSTEMD, 0);
	cr_assert_eq(sc_pressure_source_errno(p, SC_PRESSURE_SRC_SYSTEMD),
		     ENOENT);
	cr_assert_eq(sc_pressure_notify(p, SC_PRESSURE_LOW), 0);
	/* A kernel event could come too, but never a lower level. */
	cr_assert_geq(sc_pressure_dispatch(p), SC_PRESSURE_LOW);
	sc_pressure_close(p);
}

/* ----------------------------------------------------------- systemd */

static struct sc_pressure *open_systemd(const char *watch, const char *write)
{
	struct sc_pressure_config cfg = { .sources = SC_PRESSURE_SRC_SYSTEMD };

	cr_assert_eq(setenv("MEMORY_PRESSURE_WATCH", watch, 1), 0);
	if (write)
		cr_assert_eq(setenv("MEMORY_PRESSURE_WRITE", write, 1), 0);
	else
		unsetenv("MEMORY_PRESSURE_WRITE");
	return sc_pressure_open(&cfg);
}

Test(pressure, systemd_fifo, .init = make_tmpdir, .fini = remove_tmpdir)
{
	struct sc_shrinker *s = counting_shrinker();
	char fifo[PATH_MAX + 16];
	struct sc_pressure *p;
	int w;

	snprintf(fifo, sizeof(fifo), "%s/watch", tmpdir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	/* "some 200000 2000000": systemd's default; written, then drained. */
	p = open_systemd(fifo, "c29tZSAyMDAwMDAgMjAwMDAwMA==");
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(sc_pressure_sources(p), SC_PRESSURE_SRC_SYSTEMD);
	cr_assert_not(readable(sc_pressure_fd(p)), "own bytes not an event");
	cr_assert_eq(sc_pressure_dispatch(p), 0);

	w = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	cr_assert_geq(w, 0);
	cr_assert_eq(write(w, "pressure!", 9), 9);
	cr_assert(readable(sc_pressure_fd(p)));
	cr_assert_eq(sc_pressure_dispatch(p), SC_PRESSURE_MEDIUM);
	cr_assert_eq(count_calls, 1);
	cr_assert_not(readable(sc_pressure_fd(p)), "read and discarded");
	/* The writer going away is not an event, nor the end. */
	close(w);
	cr_assert_not(readable(sc_pressure_fd(p)));
	cr_assert_eq(sc_pressure_sources(p), SC_PRESSURE_SRC_SYSTEMD);
	sc_pressure_close(p);
	sc_shrinker_free(s);
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	return fd;
}

Test(pressure, systemd_socket_gets_write_data, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
	struct sc_shrinker *s = counting_shrinker();
	char sock[PATH_MAX + 16], got[64];
	struct sc_pressure_stats st;
	struct sc_pressure *p;
	int l, c;
	ssize_t n;

	snprintf(sock, sizeof(sock), "%s/sock", tmpdir);
	l = listen_unix(sock);
	/* Base64 of "hello, manager\0" */
	p = open_systemd(sock, "aGVsbG8sIG1hbmFnZXIA");
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(sc_pressure_sources(p), SC_PRESSURE_SRC_SYSTEMD);
	c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(c, 0);
	n = read(c, got, sizeof(got));
	cr_assert_eq(n, 15);
	cr_assert_eq(memcmp(got, "hello, manager\0", 15), 0);

	cr_assert_eq(sc_pressure_dispatch(p), 0);
	cr_assert_eq(write(c, "x", 1), 1);
	cr_assert_eq(sc_pressure_dispatch(p), SC_PRESSURE_MEDIUM);
	cr_assert_eq(count_calls, 1);

	/* The manager goes away: the source is dropped, not spun on. */
	close(c);
	cr_assert(readable(sc_pressure_fd(p)));
	cr_assert_eq(sc_pressure_dispatch(p), 0);
	cr_assert_eq(sc_pressure_sources(p), 0);
	cr_assert_not(readable(sc_pressure_fd(p)));
	cr_assert_eq(sc_pressure_stats(p, &st), 0);
	cr_assert_eq(st.sources_lost, 1);
	cr_assert_eq(sc_pressure_notify(p, SC_PRESSURE_LOW), 0);
	cr_assert_eq(sc_pressure_dispatch(p), SC_PRESSURE_LOW);
	sc_pressure_close(p);
	close(l);
	sc_shrinker_free(s);
}

/* A socket nobody listens on: the connect's error, and no fd left. */
Test(pressure, systemd_socket_refused, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char sock[PATH_MAX + 16];
	int fd, before;

	snprintf(sock, sizeof(sock), "%s/sock", tmpdir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_lt(strlen(sock), sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	before = count_fds();
	errno = 0;
	cr_assert_null(open_systemd(sock, "aGVsbG8sIG1hbmFnZXIA"));
	cr_assert_eq(errno, ECONNREFUSED, "errno %d", errno);
	cr_assert_eq(count_fds(), before, "no fd left behind");
	close(fd);
}

/*
 * A socket whose path does not fit sockaddr_un (bound by a relative name
 * from inside a deep directory): -ENAMETOOLONG, before any socket.
 */
Test(pressure, systemd_socket_path_too_long, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "s" };
	char dir[PATH_MAX + 128], sock[PATH_MAX + 160], cwd[PATH_MAX];
	int fd, before;

	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	snprintf(dir, sizeof(dir), "%s/%0100d", tmpdir, 0);
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_eq(chdir(dir), 0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(chdir(cwd), 0);
	snprintf(sock, sizeof(sock), "%s/s", dir);
	cr_assert_geq(strlen(sock), sizeof(sa.sun_path));
	before = count_fds();
	errno = 0;
	cr_assert_null(open_systemd(sock, NULL));
	cr_assert_eq(errno, ENAMETOOLONG, "errno %d", errno);
	cr_assert_eq(count_fds(), before, "no fd left behind");
	close(fd);
	unlink(sock);
	rmdir(dir);
}

Test(pressure, systemd_dev_null_is_off)
{
	struct sc_pressure *p = open_systemd("/dev/null", NULL);

	cr_assert_not_null(p);
	cr_assert_eq(sc_pressure_sources(p), 0);
	sc_pressure_close(p);
	/* AUTO: off means no kernel source at all. */
	p = open_quiet();
	cr_assert_eq(sc_pressure_source_errno(p, SC_PRESSURE_SRC_PSI), 0,
		     "not even tried");
	sc_pressure_close(p);
}

Test(pressure, systemd_bad_base64, .init = make_tmpdir, .fini = remove_tmpdir)
{
	static const char *const bad[] = { "!!!!",     "aGVsbG8",   "aGV=bG8=",
					   "aGVsbG9=", "aGVs bG8=", "a===" };
	char fifo[PATH_MAX + 16];
	struct sc_pressure *p;

	snprintf(fifo, sizeof(fifo), "%s/watch", tmpdir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int before = count_fds();

		errno = 0;
		cr_assert_null(open_systemd(fifo, bad[i]), "%s", bad[i]);
		cr_assert_eq(errno, EINVAL, "%s: errno %d", bad[i], errno);
		cr_assert_eq(count_fds(), before, "no fd left behind");
	}
	/* AUTO skips it and says why. */
	cr_assert_eq(setenv("MEMORY_PRESSURE_WRITE", "!!!!", 1), 0);
	p = sc_pressure_open(NULL);
	cr_assert_not_null(p);
	cr_assert_eq(sc_pressure_sources(p) & SC_PRESSURE_SRC_SYSTEMD, 0);
	cr_assert_eq(sc_pressure_source_errno(p, SC_PRESSURE_SRC_SYSTEMD),
		     EINVAL);
	sc_pressure_close(p);
}

Test(pressure, systemd_bad_paths, .init = make_tmpdir, .fini = remove_tmpdir)
{
	char file[PATH_MAX + 16];
	struct stat st;
	int fd;

	errno = 0;
	cr_assert_null(open_systemd("/nonexistent/sc-watch", NULL));
	cr_assert_eq(errno, ENOENT);
	errno = 0;
	cr_assert_null(open_systemd(tmpdir, NULL));
	cr_assert_eq(errno, EISDIR);
	errno = 0;
	cr_assert_null(open_systemd("/dev/zero", NULL));
	cr_assert_eq(errno, EINVAL);
	unsetenv("MEMORY_PRESSURE_WATCH");
	{
		struct sc_pressure_config cfg = {
			.sources = SC_PRESSURE_SRC_SYSTEMD
		};

		errno = 0;
		cr_assert_null(sc_pressure_open(&cfg));
		cr_assert_eq(errno, ENOENT, "not set");
	}
	/* A regular file that is no PSI file is refused, not written. */
	snprintf(file, sizeof(file), "%s/plain", tmpdir);
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	errno = 0;
	cr_assert_null(open_systemd(file, NULL));
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(stat(file, &st), 0);
	cr_assert_eq(st.st_size, 0);
}

Test(pressure, systemd_psi_file)
{
	struct sc_pressure *p;

	if (access("/proc/pressure/memory", W_OK))
		cr_skip_test("no writable /proc/pressure/memory");
	/* A 12 s window is over the kernel's 10 s maximum: rejected. */
	errno = 0;
	cr_assert_null(open_systemd("/proc/pressure/memory",
				    "c29tZSAxMDAwMDAgMTIwMDAwMDA="));
	cr_assert_eq(errno, EINVAL);
	/* "some 150000 2000000" without its NUL: the library adds it. */
	p = open_systemd("/proc/pressure/memory",
			 "c29tZSAxNTAwMDAgMjAwMDAwMA==");
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(sc_pressure_sources(p), SC_PRESSURE_SRC_SYSTEMD);
	sc_pressure_close(p);
	/* Without $MEMORY_PRESSURE_WRITE our own trigger is written. */
	p = open_systemd("/proc/pressure/memory", NULL);
	cr_assert_not_null(p, "errno %d", errno);
	sc_pressure_close(p);
}

/* --------------------------------------------------------------- PSI */

Test(pressure, psi_rejected_window_is_reported)
{
	struct sc_pressure_config cfg = { .sources = SC_PRESSURE_SRC_PSI,
					  .window_us = 12000000 };
	struct sc_pressure *p;

	if (access("/proc/pressure/memory", F_OK)) {
		errno = 0;
		cr_assert_null(sc_pressure_open(&cfg));
		cr_assert_eq(errno, ENOTSUP);
		return;
	}
	errno = 0;
	cr_assert_null(sc_pressure_open(&cfg), "12 s > the 10 s maximum");
	cr_assert_eq(errno, EINVAL);

	/* AUTO: both PSI sources fail with EINVAL, the others are tried. */
	unsetenv("MEMORY_PRESSURE_WATCH");
	cfg.sources = SC_PRESSURE_SRC_AUTO;
	p = sc_pressure_open(&cfg);
	cr_assert_not_null(p);
	cr_assert_eq(sc_pressure_sources(p) &
			     (SC_PRESSURE_SRC_PSI | SC_PRESSURE_SRC_PSI_CGROUP),
		     0);
	cr_assert_eq(sc_pressure_source_errno(p, SC_PRESSURE_SRC_PSI), EINVAL);
	if (!access("/sys/fs/cgroup/memory/cgroup.event_control", F_OK))
		cr_assert(sc_pressure_sources(p) & SC_PRESSURE_SRC_CGROUP_V1,
			  "v1 levels were tried after PSI");
	sc_pressure_close(p);
}

Test(pressure, psi_system_trigger_opens)
{
	struct sc_pressure_config cfg = { .sources = SC_PRESSURE_SRC_PSI };
	struct sc_pressure *p;

	if (access("/proc/pressure/memory", W_OK))
		cr_skip_test("no writable /proc/pressure/memory");
	p = sc_pressure_open(&cfg);
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(sc_pressure_sources(p), SC_PRESSURE_SRC_PSI);
	sc_pressure_close(p);
}

Test(pressure, psi_cgroup_trigger_opens)
{
	struct sc_pressure_config cfg = { .sources =
						  SC_PRESSURE_SRC_PSI_CGROUP };
	struct sc_pressure *p;

	errno = 0;
	p = sc_pressure_open(&cfg);
	if (!p) {
		/* Only where there is no cgroup2 PSI to be had. */
		cr_assert_eq(errno, ENOTSUP, "errno %d", errno);
		cr_skip_test("no cgroup2 memory.pressure here");
	}
	cr_assert_eq(sc_pressure_sources(p), SC_PRESSURE_SRC_PSI_CGROUP);
	sc_pressure_close(p);
}

/*
 * A host whose memory controller is on no hierarchy the process sees,
 * with a cgroup2 hierarchy mounted by the test itself: a mount namespace
 * of the test's own (private, so nothing reaches the host) without the
 * host's cgroup mounts, and cgroup2 mounted on a fresh directory. The
 * cgroup's PSI is found through that mount and its triggers open; the
 * usage source looks at the cgroup2 hierarchy, where the kernel has no
 * memory.events while the memory controller is bound to v1: ENOTSUP,
 * nothing left open. Root only.
 */
static char own_cg2[PATH_MAX];

static void umount_own_cg2(void)
{
	if (own_cg2[0]) {
		umount2(own_cg2, MNT_DETACH);
		rmdir(own_cg2);
	}
}

/* Detach every cgroup (v1) and cgroup2 mount of this mount namespace. */
static void detach_cgroup_mounts(void)
{
	char line[4096], point[PATH_MAX], *dash;
	bool again = true;

	while (again) {
		FILE *f = fopen("/proc/self/mountinfo", "re");

		cr_assert_not_null(f);
		again = false;
		while (fgets(line, sizeof(line), f)) {
			dash = strstr(line, " - ");
			if (!dash || (strncmp(dash, " - cgroup ", 10) &&
				      strncmp(dash, " - cgroup2 ", 11)))
				continue;
			cr_assert_eq(sscanf(line, "%*s %*s %*s %*s %4095s",
					    point),
				     1);
			cr_assert_eq(umount2(point, MNT_DETACH), 0, "%s: %s",
				     point, strerror(errno));
			again = true;
			break;
		}
		fclose(f);
	}
}

Test(pressure, own_cgroup2_mount_without_a_memory_controller,
     .fini = umount_own_cg2)
{
	struct sc_pressure_config
		psi = { .sources = SC_PRESSURE_SRC_PSI_CGROUP },
		usage = { .sources = SC_PRESSURE_SRC_CGROUP_USAGE };
	char path[PATH_MAX + 32], ctrls[256] = "";
	struct sc_pressure *p;
	int before;

	if (geteuid())
		cr_skip_test("needs root to mount cgroup2");
	if (unshare(CLONE_NEWNS))
		cr_skip_test("no mount namespace of its own: %s",
			     strerror(errno));
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	detach_cgroup_mounts();
	snprintf(own_cg2, sizeof(own_cg2), "/tmp/sc-cg2-XXXXXX");
	cr_assert_not_null(mkdtemp(own_cg2));
	if (mount("cgroup2", own_cg2, "cgroup2", 0, NULL)) {
		int err = errno;

		rmdir(own_cg2);
		own_cg2[0] = '\0';
		cr_skip_test("cannot mount cgroup2: %s", strerror(err));
	}
	snprintf(path, sizeof(path), "%s/cgroup.controllers", own_cg2);
	{
		FILE *f = fopen(path, "re");

		cr_assert_not_null(f);
		if (!fgets(ctrls, sizeof(ctrls), f))
			ctrls[0] = '\0';
		fclose(f);
	}
	if (strstr(ctrls, "memory"))
		cr_skip_test("the memory controller is on cgroup2 here");
	snprintf(path, sizeof(path), "%s/memory.pressure", own_cg2);
	if (access(path, F_OK))
		cr_skip_test("no PSI in cgroup2 (psi=0?)");

	errno = 0;
	p = sc_pressure_open(&psi);
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(sc_pressure_sources(p), SC_PRESSURE_SRC_PSI_CGROUP);
	sc_pressure_close(p);

	before = count_fds();
	errno = 0;
	cr_assert_null(sc_pressure_open(&usage));
	cr_assert_eq(errno, ENOTSUP, "errno %d", errno);
	cr_assert_eq(count_fds(), before, "an fd left open");
}

Test(pressure, cgroup_v1_levels_open)
{
	struct sc_pressure_config cfg = { .sources =
						  SC_PRESSURE_SRC_CGROUP_V1 };
	struct sc_pressure *p;

	errno = 0;
	p = sc_pressure_open(&cfg);
	if (access("/sys/fs/cgroup/memory/cgroup.event_control", F_OK)) {
		cr_assert_null(p);
		cr_assert_eq(errno, ENOTSUP);
		return;
	}
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(sc_pressure_sources(p), SC_PRESSURE_SRC_CGROUP_V1);
	sc_pressure_close(p);

	cfg.cgroup = "/no/such/cgroup/here";
	errno = 0;
	cr_assert_null(sc_pressure_open(&cfg));
	cr_assert_eq(errno, ENOENT);
	/* the usage source on the same hierarchy says the same */
	cfg.sources = SC_PRESSURE_SRC_CGROUP_USAGE;
	errno = 0;
	cr_assert_null(sc_pressure_open(&cfg));
	cr_assert_eq(errno, ENOENT, "errno %d", errno);
}

/* A PSI trigger whose cgroup is removed reports POLLERR: it is dropped. */
static char gone_cg[PATH_MAX];

static void remove_gone_cg(void)
{
	if (gone_cg[0])
		rmdir(gone_cg);
}

static bool cgroup2_mount(char *mnt, size_t size)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char point[PATH_MAX];

		if (strstr(line, " - cgroup2 ") &&
		    sscanf(line, "%*s %*s %*s %*s %4095s", point) == 1) {
			found = strlen(point) < size;
			if (found)
				memcpy(mnt, point, strlen(point) + 1);
		}
	}
	fclose(f);
	return found;
}

Test(pressure, psi_trigger_of_removed_cgroup_is_dropped, .fini = remove_gone_cg)
{
	struct sc_pressure_config cfg = { .sources =
						  SC_PRESSURE_SRC_PSI_CGROUP };
	struct sc_pressure_stats st;
	char mnt[PATH_MAX / 2], name[64];
	struct pollfd pfd;
	struct sc_pressure *p;

	if (geteuid() || !cgroup2_mount(mnt, sizeof(mnt)))
		cr_skip_test("needs root and a cgroup2 mount");
	snprintf(name, sizeof(name), "/sc_psi_gone_%d", (int)getpid());
	snprintf(gone_cg, sizeof(gone_cg), "%s%s", mnt, name);
	if (mkdir(gone_cg, 0755)) {
		gone_cg[0] = '\0';
		cr_skip_test("cannot make a cgroup2 child: %s",
			     strerror(errno));
	}
	cfg.cgroup = name;
	p = sc_pressure_open(&cfg);
	if (!p && errno == ENOTSUP)
		cr_skip_test("no memory.pressure in a cgroup2 child");
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(sc_pressure_sources(p), SC_PRESSURE_SRC_PSI_CGROUP);
	cr_assert_eq(rmdir(gone_cg), 0, "%s", strerror(errno));
	gone_cg[0] = '\0';

	/* the relay thread forwards the POLLERR; wait for it, not a time */
	for (int i = 0; i < 100 && sc_pressure_sources(p); i++) {
		pfd = (struct pollfd){ .fd = sc_pressure_fd(p),
				       .events = POLLIN };
		cr_assert_eq(poll(&pfd, 1, 10000), 1, "no event for the loss");
		cr_assert_geq(sc_pressure_dispatch(p), 0);
	}
	cr_assert_eq(sc_pressure_sources(p), 0);
	cr_assert_eq(sc_pressure_stats(p, &st), 0);
	cr_assert_geq(st.sources_lost, 1);
	cr_assert_eq(st.passes[1] + st.passes[2] + st.passes[3], 0,
		     "a lost source is no pressure");
	/* nothing is left readable: a dispatch loop would not spin */
	pfd = (struct pollfd){ .fd = sc_pressure_fd(p), .events = POLLIN };
	cr_assert_eq(poll(&pfd, 1, 0), 0);
	sc_pressure_close(p);
}

/* ---------------------------------------------------------- debounce */

Test(pressure, debounce_and_escalation, .init = make_tmpdir,
     .fini = remove_tmpdir, .timeout = 20)
{
	struct sc_pressure_config cfg = { .sources = SC_PRESSURE_SRC_SYSTEMD,
					  .window_us = 1000000 };
	struct sc_shrinker *s = counting_shrinker();
	struct sc_pressure_stats st;
	char fifo[PATH_MAX + 16];
	struct sc_pressure *p;
	int w;

	snprintf(fifo, sizeof(fifo), "%s/watch", tmpdir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(setenv("MEMORY_PRESSURE_WATCH", fifo, 1), 0);
	unsetenv("MEMORY_PRESSURE_WRITE");
	p = sc_pressure_open(&cfg);
	cr_assert_not_null(p);
	w = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	cr_assert_geq(w, 0);

	cr_assert_eq(write(w, "1", 1), 1);
	cr_assert_eq(sc_pressure_dispatch(p), SC_PRESSURE_MEDIUM);
	/* Within the window: read, but debounced. */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(write(w, "2", 1), 1);
		cr_assert_eq(sc_pressure_dispatch(p), 0);
		cr_assert_not(readable(sc_pressure_fd(p)));
	}
	cr_assert_eq(count_calls, 1);
	/* notify is the caller's own request: never debounced. */
	cr_assert_eq(sc_pressure_notify(p, SC_PRESSURE_MEDIUM), 0);
	cr_assert_eq(sc_pressure_dispatch(p), SC_PRESSURE_MEDIUM);
	cr_assert_eq(count_calls, 2);

	/* After the window, within two: it came back, so one step up. */
	usleep(1100000);
	cr_assert_eq(write(w, "3", 1), 1);
	cr_assert_eq(sc_pressure_dispatch(p), SC_PRESSURE_CRITICAL);
	cr_assert_eq(count_calls, 3);
	cr_assert_eq(last_level, SC_PRESSURE_CRITICAL);

	/* Quiet for more than two windows: back to the plain level. */
	usleep(2100000);
	cr_assert_eq(write(w, "4", 1), 1);
	cr_assert_eq(sc_pressure_dispatch(p), SC_PRESSURE_MEDIUM);

	cr_assert_eq(sc_pressure_stats(p, &st), 0);
	cr_assert_eq(st.events, 6);
	cr_assert_eq(st.source_events[3], 6, "all from systemd's source");
	cr_assert_eq(st.debounced, 3);
	cr_assert_eq(st.escalated, 1);
	cr_assert_eq(st.passes[SC_PRESSURE_MEDIUM], 3);
	cr_assert_eq(st.passes[SC_PRESSURE_CRITICAL], 1);
	close(w);
	sc_pressure_close(p);
	sc_shrinker_free(s);
}

/* -------------------------------------------------------------- misc */

Test(pressure, bad_arguments)
{
	struct sc_pressure_config cfg = { 0 };
	struct sc_pressure_stats st;
	struct sc_pressure *p;

	cr_assert_eq(sc_pressure_fd(NULL), -EINVAL);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(sc_pressure_dispatch(NULL), -EINVAL);
	cr_assert_eq(sc_pressure_start_thread(NULL), -EINVAL);
	cr_assert_eq(sc_pressure_notify(NULL, SC_PRESSURE_LOW), -EINVAL);
	cr_assert_eq(sc_pressure_sources(NULL), 0);
	cr_assert_eq(sc_pressure_stats(NULL, &st), -EINVAL);
	cr_assert_eq(sc_pressure_source_errno(NULL, SC_PRESSURE_SRC_PSI),
		     -EINVAL);
	sc_pressure_close(NULL);

	p = open_quiet();
	cr_assert_eq(sc_pressure_notify(p, SC_PRESSURE_NONE), -EINVAL);
	cr_assert_eq(sc_pressure_notify(p, (enum sc_pressure_level)4), -EINVAL);
	cr_assert_eq(sc_pressure_notify(p, (enum sc_pressure_level) - 1),
		     -EINVAL);
	cr_assert_not(readable(sc_pressure_fd(p)),
		      "bad notify changed nothing");
	cr_assert_eq(sc_pressure_stats(p, NULL), -EINVAL);
	cr_assert_eq(sc_pressure_source_errno(p, 0), -EINVAL);
	cr_assert_eq(sc_pressure_source_errno(p, 0x3), -EINVAL);
	cr_assert_eq(sc_pressure_source_errno(p, 0x20), -EINVAL);
	sc_pressure_close(p);

	struct {
		struct sc_pressure_config cfg;
		const char *why;
	} bad[] = {
		{ { .sources = 0x20 }, "unknown source" },
		{ { .usage_pct = { 90, 80, 95 } }, "thresholds out of order" },
		{ { .usage_pct = { 80, 90, 101 } }, "over 100 %" },
		{ { .usage_pct = { 0, 90, 95 } }, "a zero threshold" },
		{ { .stall_us = 3000000, .window_us = 2000000 },
		  "stall longer than window" },
		{ { .stall_us = 3000000 }, "stall longer than default window" },
		{ { .cgroup = "relative/path" }, "relative cgroup" },
		{ { .cgroup = "/a/../../b" }, "cgroup escapes" },
		{ { .cgroup = "/.." }, "cgroup escapes" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		cr_assert_null(sc_pressure_open(&bad[i].cfg), "%s", bad[i].why);
		cr_assert_eq(errno, EINVAL, "%s", bad[i].why);
	}
	(void)cfg;
}

Test(pressure, open_allocation_failure)
{
	int before;
	struct sc_pressure *p;

	cr_assert_eq(setenv("MEMORY_PRESSURE_WATCH", "/dev/null", 1), 0);
	before = count_fds();
	sc_fault_inject(1);
	errno = 0;
	cr_assert_null(sc_pressure_open(NULL));
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(count_fds(), before, "no fd left open");
	p = sc_pressure_open(NULL);
	cr_assert_not_null(p);
	sc_pressure_close(p);
	cr_assert_eq(count_fds(), before, "close closes every fd");
}

/* Out of fds at every step of opening: NULL, EMFILE, nothing left open. */
Test(pressure, open_out_of_fds_leaks_nothing)
{
	struct rlimit old, lim;
	int before, opened = 0;
	struct sc_pressure *p;

	cr_assert_eq(setenv("MEMORY_PRESSURE_WATCH", "/dev/null", 1), 0);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	before = count_fds();
	for (int spare = 0; spare < 12 && !opened; spare++) {
		/* count_fds() counts ".", ".." and its own directory fd */
		lim = old;
		lim.rlim_cur = (rlim_t)(before - 3 + spare);
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
		errno = 0;
		p = sc_pressure_open(NULL);
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
		if (p) {
			opened = 1;
			sc_pressure_close(p);
		} else {
			cr_assert_eq(errno, EMFILE, "spare %d: errno %d", spare,
				     errno);
		}
		cr_assert_eq(count_fds(), before, "spare %d: fd left open",
			     spare);
	}
	cr_assert(opened, "opens once there are fds enough");
}

/*
 * Run out of fds at every step of opening one explicit source (or all of
 * them at once): NULL with EMFILE, every fd the opener took closed again
 * (its eventfds, its control files, the sources opened before it), until
 * there are fds enough. Returns how many limits failed before it opened.
 */
static int fd_sweep(const struct sc_pressure_config *cfg, const char *what)
{
	struct rlimit old, lim;
	struct sc_pressure *p = NULL;
	int before, spare;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	before = count_fds();
	for (spare = 0; spare < 40 && !p; spare++) {
		/* count_fds() counts ".", ".." and its own directory fd */
		lim = old;
		lim.rlim_cur = (rlim_t)(before - 3 + spare);
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
		errno = 0;
		p = sc_pressure_open(cfg);
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
		if (p) {
			cr_assert_eq(sc_pressure_sources(p), cfg->sources,
				     "%s: sources %#x", what,
				     sc_pressure_sources(p));
			sc_pressure_close(p);
		} else {
			cr_assert_eq(errno, EMFILE, "%s, spare %d: errno %d",
				     what, spare, errno);
		}
		cr_assert_eq(count_fds(), before, "%s, spare %d: fd left open",
			     what, spare);
	}
	cr_assert_not_null(p, "%s: never opened", what);
	return spare - 1;
}

/*
 * The own cgroup in the v1 memory hierarchy, "" for its root, in @own.
 * false: not root, or no v1 memory controller to make children in.
 */
static bool v1_own_cgroup(char *own, size_t size)
{
	char line[PATH_MAX + 64];
	bool found = false;
	FILE *f;

	if (geteuid() ||
	    access("/sys/fs/cgroup/memory/cgroup.event_control", F_OK))
		return false;
	f = fopen("/proc/self/cgroup", "re");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *m = strstr(line, ":memory:");

		if (m) {
			snprintf(own, size, "%s",
				 strcmp(m + 8, "/\n") ? m + 8 : "");
			own[strcspn(own, "\n")] = '\0';
			found = true;
		}
	}
	fclose(f);
	cr_assert(found, "no memory line in /proc/self/cgroup");
	return true;
}

/* A child of the own v1 memory cgroup (root only); false: cannot. */
static bool v1_child(char *child, size_t size, char *dir, size_t dir_size)
{
	char own[PATH_MAX] = "";

	if (!v1_own_cgroup(own, sizeof(own)))
		return false;
	snprintf(child, size, "%s/sc-fds-%d", own, getpid());
	snprintf(dir, dir_size, "/sys/fs/cgroup/memory%s", child);
	return !mkdir(dir, 0755);
}

static char fds_cg[PATH_MAX + 32];

static void remove_fds_cg(void)
{
	remove_tmpdir();
	if (fds_cg[0])
		rmdir(fds_cg);
}

Test(pressure, explicit_sources_out_of_fds_leak_nothing, .init = make_tmpdir,
     .fini = remove_fds_cg)
{
	char child[PATH_MAX], *dir = fds_cg, path[PATH_MAX + 64];
	char fifo[PATH_MAX + 16];
	struct sc_pressure_config cfg = { 0 };
	struct sc_pressure *p;
	unsigned int all = 0;
	bool have_child;
	FILE *f;
	int failed;

	snprintf(fifo, sizeof(fifo), "%s/watch", tmpdir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(setenv("MEMORY_PRESSURE_WATCH", fifo, 1), 0);
	cr_assert_eq(setenv("MEMORY_PRESSURE_WRITE",
			    "c29tZSAyMDAwMDAgMjAwMDAwMA==", 1),
		     0);
	cfg.sources = SC_PRESSURE_SRC_SYSTEMD;
	failed = fd_sweep(&cfg, "systemd fifo");
	cr_assert_gt(failed, 6, "the fifo needs an fd of its own");
	all |= SC_PRESSURE_SRC_SYSTEMD;

	have_child = v1_child(child, sizeof(child), dir, sizeof(fds_cg));
	if (have_child) {
		snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", dir);
		f = fopen(path, "we");
		cr_assert_not_null(f);
		fprintf(f, "%d\n", 256 << 20);
		cr_assert_eq(fclose(f), 0);
		cfg.cgroup = child;
		cfg.sources = SC_PRESSURE_SRC_CGROUP_V1;
		fd_sweep(&cfg, "cgroup v1 levels");
		cfg.sources = SC_PRESSURE_SRC_CGROUP_USAGE;
		fd_sweep(&cfg, "cgroup v1 usage");
		all |= SC_PRESSURE_SRC_CGROUP_V1 | SC_PRESSURE_SRC_CGROUP_USAGE;
	}
	cfg.sources = SC_PRESSURE_SRC_PSI;
	p = sc_pressure_open(&cfg);
	if (p) {
		/* a trigger this process may set: sweep it too */
		sc_pressure_close(p);
		fd_sweep(&cfg, "PSI");
		all |= SC_PRESSURE_SRC_PSI;
	}
	/* each opener's failure undoes the sources opened before it */
	cfg.sources = all;
	fd_sweep(&cfg, "every source at once");
	if (have_child) {
		cr_assert_eq(rmdir(dir), 0);
		dir[0] = '\0';
	} else {
		dir[0] = '\0';
		cr_skip_test("cgroup v1 sources need root and the v1 memory "
			     "controller; swept the others");
	}
}

Test(pressure, every_fd_is_cloexec)
{
	struct sc_pressure *p;
	DIR *d;
	struct dirent *e;
	int checked = 0;

	unsetenv("MEMORY_PRESSURE_WATCH");
	p = sc_pressure_open(NULL); /* as many sources as work here */
	cr_assert_not_null(p);
	d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd <= 2 || fd == dirfd(d))
			continue;
		/* Criterion's own pipes are not ours; ours are epoll,
		 * eventfd, timerfd and cgroup/proc files. */
		char link[64], target[256];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (!strstr(target, "eventpoll") &&
		    !strstr(target, "eventfd") && !strstr(target, "timerfd") &&
		    !strstr(target, "pressure") && !strstr(target, "cgroup"))
			continue;
		cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "%s", target);
		checked++;
	}
	closedir(d);
	cr_assert_geq(checked, 6, "epoll x2, eventfd x3, timerfd at least");
	sc_pressure_close(p);
}

Test(pressure, forked_child_closes_without_touching_parent)
{
	struct sc_shrinker *s = counting_shrinker();
	struct sc_pressure *p = open_quiet();
	int status;
	pid_t pid;

	cr_assert_eq(sc_pressure_notify(p, SC_PRESSURE_LOW), 0);
	pid = test_fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* The child may only close its copy. */
		sc_pressure_close(p);
		child_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The parent's pending notify and fds are intact. */
	cr_assert(readable(sc_pressure_fd(p)));
	cr_assert_eq(sc_pressure_dispatch(p), SC_PRESSURE_LOW);
	cr_assert_eq(count_calls, 1);
	sc_pressure_close(p);
	sc_shrinker_free(s);
}

/* A usage source on a v1 child cgroup with a limit (root only). */
Test(pressure, usage_source_needs_a_limit)
{
	struct sc_pressure_config cfg = {
		.sources = SC_PRESSURE_SRC_CGROUP_USAGE
	};
	char own[PATH_MAX], child[PATH_MAX + 64], path[PATH_MAX + 128];
	struct sc_pressure *p;
	FILE *f;

	if (!v1_own_cgroup(own, sizeof(own)))
		cr_skip_test("needs root and the cgroup v1 memory controller");
	snprintf(child, sizeof(child), "%s/sc-usage-%d", own, getpid());
	snprintf(path, sizeof(path), "/sys/fs/cgroup/memory%s", child);
	if (mkdir(path, 0755))
		cr_skip_test("cannot create a child memory cgroup");

	/* No limit of its own, maybe none above: ENODATA, or it opens. */
	cfg.cgroup = child;
	errno = 0;
	p = sc_pressure_open(&cfg);
	if (!p)
		cr_expect_eq(errno, ENODATA, "errno %d", errno);
	sc_pressure_close(p);

	snprintf(path, sizeof(path),
		 "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", child);
	f = fopen(path, "we");
	cr_assert_not_null(f);
	fprintf(f, "%d\n", 64 << 20);
	cr_assert_eq(fclose(f), 0);
	p = sc_pressure_open(&cfg);
	cr_expect_not_null(p, "errno %d", errno);
	cr_expect_eq(sc_pressure_sources(p), SC_PRESSURE_SRC_CGROUP_USAGE);
	cr_expect_eq(sc_pressure_dispatch(p), 0, "empty cgroup: no pressure");
	sc_pressure_close(p);

	snprintf(path, sizeof(path), "/sys/fs/cgroup/memory%s", child);
	cr_assert_eq(rmdir(path), 0);
}

/*
 * Usage thresholds for real, on a v1 child cgroup with a 100 MiB limit
 * and a child process in it whose memory the test steers (root only):
 * usage already past a threshold at open is handled at the first
 * dispatch; a crossing whose pass is debounced is looked at again when
 * the window ends, since no further event would come.
 */
static pid_t usage_pid;
static char usage_dir[PATH_MAX + 128];

static void usage_child(int cmd, int ack, const char *procs)
{
	char *chunk[128];
	int n = 0;
	char c;
	FILE *f = fopen(procs, "we");

	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
		_exit(1);
	if (write(ack, "r", 1) != 1)
		_exit(1);
	while (read(cmd, &c, 1) == 1) {
		if (c == '+' && n < 128) { /* one more MiB */
			chunk[n] = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (chunk[n] == MAP_FAILED)
				_exit(1);
			memset(chunk[n++], 1, 1 << 20);
		} else if (c == '-' && n > 0) { /* one MiB less */
			munmap(chunk[--n], 1 << 20);
		} else if (c == 'q') {
			_exit(0);
		}
		if (write(ack, "k", 1) != 1)
			_exit(1);
	}
	_exit(0);
}

static void steer(int cmd, int ack, char op, int times)
{
	char c;

	for (int i = 0; i < times; i++) {
		cr_assert_eq(write(cmd, &op, 1), 1);
		cr_assert_eq(read(ack, &c, 1), 1);
	}
}

static bool wait_readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

/* Runs even when an assertion ends the test early. */
static void usage_cleanup(void)
{
	if (usage_pid > 0) {
		kill(usage_pid, SIGKILL);
		waitpid(usage_pid, NULL, 0);
	}
	for (int i = 0; usage_dir[0] && i < 50 && rmdir(usage_dir); i++)
		usleep(100000);
}

/*
 * Removing a watched v1 cgroup signals each of its event eventfds once
 * ("the event is going away"): that is a lost source, not pressure. The
 * three pressure_level eventfds (low, medium, critical) all fire, so
 * taken as events they would make a CRITICAL pass out of an rmdir.
 */
static char gone_v1[PATH_MAX + 128];

static void remove_gone_v1(void)
{
	for (int i = 0; gone_v1[0] && i < 50 && rmdir(gone_v1); i++)
		usleep(100000);
}

Test(pressure, removed_v1_cgroup_is_a_lost_source_not_pressure, .timeout = 30,
     .fini = remove_gone_v1)
{
	struct sc_pressure_config cfg = {
		.sources = SC_PRESSURE_SRC_CGROUP_V1 |
			   SC_PRESSURE_SRC_CGROUP_USAGE
	};
	char own[PATH_MAX], child[PATH_MAX + 64], path[PATH_MAX + 160];
	struct sc_pressure_stats st;
	struct sc_shrinker *s;
	struct sc_pressure *p;
	FILE *f;

	if (!v1_own_cgroup(own, sizeof(own)))
		cr_skip_test("needs root and the cgroup v1 memory controller");
	snprintf(child, sizeof(child), "%s/sc-gone-%d", own, getpid());
	snprintf(gone_v1, sizeof(gone_v1), "/sys/fs/cgroup/memory%s", child);
	if (mkdir(gone_v1, 0755)) {
		gone_v1[0] = '\0';
		cr_skip_test("cannot create a child memory cgroup");
	}
	snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", gone_v1);
	f = fopen(path, "we");
	cr_assert_not_null(f);
	fprintf(f, "%d\n", 64 << 20);
	cr_assert_eq(fclose(f), 0);

	s = counting_shrinker();
	cfg.cgroup = child;
	p = sc_pressure_open(&cfg);
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert_eq(sc_pressure_sources(p), cfg.sources);
	cr_assert_eq(sc_pressure_dispatch(p), 0, "empty cgroup: no pressure");
	cr_assert_eq(rmdir(gone_v1), 0, "%s", strerror(errno));
	gone_v1[0] = '\0';

	/* the kernel signals the removal from a work item: wait for it */
	for (int i = 0; i < 100 && sc_pressure_sources(p); i++) {
		cr_assert(wait_readable(sc_pressure_fd(p), 10000),
			  "no event for the removal");
		cr_assert_eq(sc_pressure_dispatch(p), 0, "not pressure");
	}
	cr_assert_eq(count_calls, 0, "no shrinker pass for an rmdir");
	cr_assert_eq(sc_pressure_sources(p), 0);
	cr_assert_eq(sc_pressure_stats(p, &st), 0);
	cr_assert_eq(st.passes[1] + st.passes[2] + st.passes[3], 0);
	cr_assert_eq(st.sources_lost, 6, "3 level and 3 usage eventfds");
	cr_assert_not(readable(sc_pressure_fd(p)));
	sc_pressure_close(p);
	sc_shrinker_free(s);
}

Test(pressure, usage_thresholds_in_a_real_cgroup, .timeout = 30,
     .fini = usage_cleanup)
{
	struct sc_pressure_config cfg = {
		.sources = SC_PRESSURE_SRC_CGROUP_USAGE
	};
	char own[PATH_MAX] = "", child[PATH_MAX + 64], *dir = usage_dir;
	char path[PATH_MAX + 192], c;
	struct sc_shrinker *s = counting_shrinker();
	struct sc_pressure_stats st;
	int cmd[2], ack[2], status;
	struct sc_pressure *p;
	pid_t pid;
	FILE *f;

	if (!v1_own_cgroup(own, sizeof(own)))
		cr_skip_test("needs root and the cgroup v1 memory controller");
	snprintf(child, sizeof(child), "%s/sc-usage-rt-%d", own, getpid());
	snprintf(dir, sizeof(usage_dir), "/sys/fs/cgroup/memory%s", child);
	if (mkdir(dir, 0755)) {
		dir[0] = '\0';
		cr_skip_test("cannot create a child memory cgroup");
	}
	snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", dir);
	f = fopen(path, "we");
	cr_assert_not_null(f);
	fprintf(f, "%d\n", 100 << 20);
	cr_assert_eq(fclose(f), 0);

	cr_assert_eq(pipe2(cmd, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(ack, O_CLOEXEC), 0);
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		usage_child(cmd[0], ack[1], path);
	usage_pid = pid;
	cr_assert_eq(read(ack[0], &c, 1), 1);

	/* 92 MiB: past 90 %, short of 95 %. */
	steer(cmd[1], ack[0], '+', 92);
	cfg.cgroup = child;
	p = sc_pressure_open(&cfg);
	cr_assert_not_null(p, "errno %d", errno);
	cr_assert(wait_readable(sc_pressure_fd(p), 5000),
		  "usage past a threshold at open is reported");
	cr_assert_eq(sc_pressure_dispatch(p), SC_PRESSURE_MEDIUM);
	cr_assert_eq(count_calls, 1);

	/* Down to 82 MiB: crosses 90 % downwards; LOW is now reported, but
	 * the MEDIUM pass just now covers it. */
	steer(cmd[1], ack[0], '-', 10);
	cr_assert(wait_readable(sc_pressure_fd(p), 5000));
	cr_assert_eq(sc_pressure_dispatch(p), 0, "debounced");
	cr_assert_eq(count_calls, 1);
	/* No further event comes while usage stays there; the window's end
	 * brings the re-check. */
	cr_assert(wait_readable(sc_pressure_fd(p), 10000),
		  "re-check when the window ends");
	cr_assert_eq(sc_pressure_dispatch(p), SC_PRESSURE_LOW);
	cr_assert_eq(count_calls, 2);
	cr_assert_eq(sc_pressure_stats(p, &st), 0);
	cr_assert_geq(st.debounced, 1);
	cr_assert_geq(st.source_events[4], 1);
	sc_pressure_close(p);

	cr_assert_eq(write(cmd[1], "q", 1), 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	usage_pid = 0;
	close(cmd[0]);
	close(cmd[1]);
	close(ack[0]);
	close(ack[1]);
	sc_shrinker_free(s);
}
