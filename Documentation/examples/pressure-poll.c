// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Embedding slabcache's memory-pressure fd in a program's own event loop,
 * with poll() and with epoll. The fd is an ordinary descriptor: wait for
 * POLLIN with the program's other fds, then call sc_pressure_dispatch(),
 * which never blocks, runs the shrinkers once and returns the level.
 *
 * Build:  cc pressure-poll.c $(pkg-config --cflags --libs slabcache)
 * Run:    ./a.out   (SIGUSR1: report pressure by hand; SIGINT: quit)
 *
 * selftests/pressure/example.c compiles this file with
 * SC_EXAMPLE_NO_MAIN and runs both loops.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <slabcache.h>

/*
 * poll(): the pressure fd next to the program's own fds (here one,
 * @stop_fd, standing for its sockets). Returns 0 once @stop_fd is
 * readable, or -errno.
 */
static int example_poll_loop(struct sc_pressure *p, int stop_fd)
{
	struct pollfd fds[2] = {
		{ .fd = sc_pressure_fd(p), .events = POLLIN },
		{ .fd = stop_fd, .events = POLLIN },
	};

	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (fds[0].revents & POLLIN) {
			int level = sc_pressure_dispatch(p);

			if (level > 0)
				fprintf(stderr, "memory pressure: level %d\n",
					level);
		}
		if (fds[1].revents & POLLIN)
			return 0;
	}
}

/* epoll: the same, with the pressure fd as one more epoll member. */
static int example_epoll_loop(struct sc_pressure *p, int stop_fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int epfd = epoll_create1(EPOLL_CLOEXEC), err = 0;

	if (epfd < 0)
		return -errno;
	ev.data.fd = sc_pressure_fd(p);
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, ev.data.fd, &ev))
		goto err;
	ev.data.fd = stop_fd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, stop_fd, &ev))
		goto err;
	for (;;) {
		struct epoll_event out[8];
		int n = epoll_wait(epfd, out, 8, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto err;
		for (int i = 0; i < n; i++) {
			if (out[i].data.fd == sc_pressure_fd(p))
				sc_pressure_dispatch(p);
			else if (out[i].data.fd == stop_fd)
				goto out;
		}
	}
err:
	err = -errno;
out:
	close(epfd);
	return err;
}

#ifndef SC_EXAMPLE_NO_MAIN
static struct sc_pressure *monitor;

/* sc_pressure_notify() is async-signal-safe. */
static void on_sigusr1(int sig)
{
	sc_pressure_notify(monitor, SC_PRESSURE_MEDIUM);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 };
	struct sc_cache *cache;
	sigset_t stop;
	int sfd, err;

	/* A cache registers its shrinker; dispatch will shrink it. */
	cache = sc_cache_create(NULL);
	monitor = sc_pressure_open(NULL); /* AUTO: whatever works here */
	if (!cache || !monitor) {
		perror("slabcache");
		return 1;
	}
	fprintf(stderr, "pressure sources: 0x%x\n",
		sc_pressure_sources(monitor));

	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	sfd = signalfd(-1, &stop, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("signalfd");
		return 1;
	}

	if (argc > 1 && !strcmp(argv[1], "--epoll"))
		err = example_epoll_loop(monitor, sfd);
	else
		err = example_poll_loop(monitor, sfd);

	close(sfd);
	sc_pressure_close(monitor);
	sc_cache_destroy(cache);
	return err ? 1 : 0;
}
#endif
