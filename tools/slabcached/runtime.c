// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabcached's settings and clock: what every part of the daemon reads,
 * apart from main.c, so that a program that drives connections without
 * sockets (sd_conn_feed(), tools/slabcached/feed/) links everything but
 * main.c.
 *
 * Lock order: none; the clock is a relaxed atomic.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "slabcached.h"

struct sd_settings sd_settings = {
	.port = 11211,
	.listen = "127.0.0.1",
	.socket_mask = 0700,
	.maxbytes = (size_t)64 << 20,
	.maxconns = 1024,
	.threads = 4,
	.item_size_max = (size_t)1 << 20,
	.pressure = "auto",
	.command_timeout = 30,
	.factor = 1.25,
	.policy = "lru",
	.evict_to_free = true,
	.use_cas = true,
	.flush_enabled = true,
	.dump_enabled = true,
	.reqs_per_event = 20,
	.backlog = 1024,
	.protocol = SD_PROTO_AUTO,
	.prefix_delimiter = ':',
	.maxconns_fast = true,
	.worker_help = true,
#ifdef CONFIG_SC_DEBUG
	.debug_commands = true,
#endif
};

int64_t sd_process_started;

static _Atomic sd_rel_time current_time;
static _Atomic int64_t clock_shift; /* debugtime */
/* CLOCK_MONOTONIC's and the wall clock's seconds at sd_clock_init() */
static int64_t mono_origin, wall_origin;

/* ------------------------------------------------------------ clock */

sd_rel_time sd_now(void)
{
	return atomic_load_explicit(&current_time, memory_order_relaxed);
}

/**
 * sd_clock_ns() - read a clock in nanoseconds
 * @clock: CLOCK_MONOTONIC, or CLOCK_THREAD_CPUTIME_ID for the calling
 *         thread's CPU time
 *
 * The daemon's one reader of the fine clocks (the mover's slices, the
 * workers' help budget); the seconds clock above is sd_now().
 *
 * Return: @clock's time in nanoseconds.
 */
uint64_t sd_clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t mono_seconds(void)
{
	return (int64_t)(sd_clock_ns(CLOCK_MONOTONIC) / 1000000000u);
}

/*
 * Start the clock, as memcached does: process_started is the wall clock
 * 62 s ago (0 is never "now", and an item's access time can be bumped at
 * once); the clock itself then runs on CLOCK_MONOTONIC's whole seconds, so
 * that a step of the wall clock (settimeofday, NTP) neither stretches nor
 * shortens a relative exptime, a flush_all delay or the uptime. Absolute
 * exptimes stay wall-clock times, converted against process_started.
 */
void sd_clock_init(void)
{
	wall_origin = (int64_t)time(NULL);
	mono_origin = mono_seconds();
	sd_process_started = wall_origin - SD_ITEM_UPDATE_INTERVAL - 2;
	sd_clock_update();
}

/*
 * The clock: the monotonic seconds since sd_clock_init(), plus the gap
 * between the wall clock at that moment and sd_process_started (62 s,
 * unless a test moved sd_process_started), plus any debugtime shift.
 */
void sd_clock_update(void)
{
	int64_t now = mono_seconds() - mono_origin + wall_origin +
		      atomic_load(&clock_shift);

	atomic_store_explicit(&current_time,
			      (sd_rel_time)(now - sd_process_started),
			      memory_order_relaxed);
}

/* debugtime: move the clock (memcached-debug's command, tests only). */
void sd_clock_shift(int64_t delta)
{
	atomic_fetch_add(&clock_shift, delta);
	sd_clock_update();
}

/**
 * sd_test_hook_count() - Read a test hook's count from the environment.
 * @name: The variable; its value is a decimal count.
 * @n: Set to the count, or to 0 when the variable is unset, empty or bad.
 *
 * The test hooks (SLABCACHED_FAULT_*) make the nth allocation of a kind
 * fail; they are read once at start-up.
 *
 * Return: 0, or -EINVAL when the value is not a decimal count.
 */
int sd_test_hook_count(const char *name, unsigned long *n)
{
	const char *v = getenv(name);
	char *end;

	*n = 0;
	if (!v || !*v)
		return 0;
	errno = 0;
	*n = strtoul(v, &end, 10);
	if (errno || *end) {
		*n = 0;
		return -EINVAL;
	}
	return 0;
}
