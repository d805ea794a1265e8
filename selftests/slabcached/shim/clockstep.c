// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A wall clock a test can step, for a daemon started with this file built
 * as a shared object in LD_PRELOAD: time(), gettimeofday() and
 * clock_gettime() of CLOCK_REALTIME and CLOCK_REALTIME_COARSE return the
 * real time plus the seconds written in $CLOCKSTEP_FILE (read at every
 * call, so that writing the file steps the clock). CLOCK_MONOTONIC and
 * the others are untouched, as by a real settimeofday() or NTP step.
 *
 * No allocation and no dlsym(): the real clock comes from the system
 * call, so this works under jemalloc and ASan alike.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long step_seconds(void)
{
	const char *path = getenv("CLOCKSTEP_FILE");
	char buf[32];
	ssize_t n;
	int fd;

	if (!path)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/**
 * clock_gettime() - the system's clock, the wall clocks stepped.
 * @id: the clock
 * @ts: where the time goes
 *
 * Return: 0, or -1 with errno set.
 */
int clock_gettime(clockid_t id, struct timespec *ts)
{
	long ret = syscall(SYS_clock_gettime, id, ts);

	if (ret == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		ts->tv_sec += step_seconds();
	return (int)ret;
}

/**
 * gettimeofday() - the stepped wall clock in microseconds.
 * @tv: where the time goes (never NULL, as glibc declares it)
 * @tz: ignored (obsolete)
 *
 * Return: 0, or -1 with errno set.
 */
int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec ts;

	(void)tz;
	if (clock_gettime(CLOCK_REALTIME, &ts))
		return -1;
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}

/**
 * time() - the stepped wall clock in seconds.
 * @t: where the time goes too, or NULL
 *
 * Return: the time.
 */
time_t time(time_t *t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (t)
		*t = ts.tv_sec;
	return ts.tv_sec;
}
