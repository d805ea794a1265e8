/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_CORE_PRESSURE_INTERNAL_H
#define SC_CORE_PRESSURE_INTERNAL_H

/*
 * Private interface between core/pressure.c (monitor, dispatch, threads)
 * and core/pressure_src.c (opening the kernel and systemd sources).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "alloc/alloc.h"
#include "alloc/lock.h"
#include <slabcache/pressure.h>

/* Sources a monitor can hold: systemd 1, PSI 2 + 2, v1 levels 3, usage 3. */
#define SC_PSRC_MAX 16

/* epoll tags of the monitor's own fds; sources are tagged by index. */
#define SC_TAG_NOTIFY 100
#define SC_TAG_WAKE 101
#define SC_TAG_RELAY 102
#define SC_TAG_TIMER 103

enum sc_psrc_kind {
	SC_PSRC_PSI, /* PSI trigger: POLLPRI, consumed by poll: relayed */
	SC_PSRC_EVENTFD, /* v1 pressure_level eventfd: fixed level */
	SC_PSRC_STREAM, /* systemd FIFO or socket: read and discard */
	SC_PSRC_USAGE_V1, /* v1 usage threshold eventfd: re-read usage */
	SC_PSRC_EVENTS_V2, /* v2 memory.events: POLLPRI, re-read counters */
};

struct sc_psrc {
	int fd; /* the watched fd */
	int aux_fd; /* kept open with it (v1 pressure_level), or -1 */
	unsigned int type; /* SC_PRESSURE_SRC_* bit */
	enum sc_psrc_kind kind;
	enum sc_pressure_level level; /* level of an event, fixed kinds */
	bool active;
};

struct sc_pressure {
	int epfd; /* the user-visible fd */
	int relay_epfd; /* PSI triggers + wake_fd, for the relay thread */
	int notify_fd; /* eventfd written by sc_pressure_notify() */
	int wake_fd; /* eventfd written once, by close */
	int relay_fd; /* eventfd written by the relay thread */
	int timer_fd; /* usage re-check after a debounced usage event */
	int usage_fd; /* memory.usage_in_bytes (v1) or memory.current (v2) */
	atomic_uint notify_mask; /* 1 << level of each notify */
	atomic_uint relay_fired; /* 1 << source index */
	atomic_uint relay_gone; /* 1 << source index */
	atomic_uint sources; /* SC_PRESSURE_SRC_* active */
	atomic_bool stopping;
	struct sc_mutex lock; /* everything below */
	pthread_t thread, relay;
	bool thread_started, relay_started, need_relay;
	pid_t owner; /* process that opened it (fork) */
	unsigned int stall_us, window_us;
	int64_t window_ns;
	unsigned int usage_pct[3];
	unsigned long long usage_limit; /* bytes; thresholds are % of it */
	unsigned long long v2_events[4]; /* high, max, oom, oom_kill */
	bool acted[4]; /* a kernel report of this level caused a pass */
	int64_t last_acted[4]; /* when, CLOCK_MONOTONIC ns */
	bool ran[4]; /* a kernel-driven pass ran at this level */
	int64_t last_run[4]; /* when, CLOCK_MONOTONIC ns */
	int source_errno[5]; /* why a source did not open, by bit */
	unsigned int nr_srcs;
	struct sc_psrc src[SC_PSRC_MAX];
	struct sc_pressure_stats stats;
};

/*
 * sc_pressure_open_sources() - Open the sources @cfg asks for (AUTO: every
 * one that works here) into @p->src, setting @p->sources.
 * Return: 0, or the negative errno of the first explicit source that
 * failed.
 */
SC_HIDDEN int sc_pressure_open_sources(struct sc_pressure *p,
				       const struct sc_pressure_config *cfg);

/* 0 if @path looks like a /proc/self/cgroup path, else -EINVAL. */
SC_HIDDEN int sc_cgroup_path_check(const char *path);

/* The level the current cgroup usage is at against the thresholds. */
SC_HIDDEN int sc_pressure_usage_level(struct sc_pressure *p);

/*
 * The level of a v2 memory.events change; updates the saved counters.
 * Return: the level, 0, or -1 when the file cannot be read (cgroup gone).
 */
SC_HIDDEN int sc_pressure_events_v2_level(struct sc_pressure *p,
					  struct sc_psrc *s);

/*
 * The parsers of the sources' files, apart from the files so that the
 * fuzz target fuzz/pressure_parse.c can feed them any text.
 */

/* A cgroup file's number, or "max" as ULLONG_MAX. Return: 0 or -EINVAL. */
SC_HIDDEN int sc_parse_u64(const char *buf, unsigned long long *v);

/*
 * The process's path in one hierarchy from /proc/self/cgroup text: the
 * "0::" line (@controller NULL) or the line listing @controller.
 * Return: 0, -ENOTSUP (no such line) or -ENAMETOOLONG.
 */
SC_HIDDEN int sc_cgroup_self_parse(FILE *f, const char *controller, char *out,
				   size_t size);

/*
 * Mount point and root of the cgroup2 hierarchy (@controller NULL) or of
 * the v1 one with @controller, from /proc/self/mountinfo text.
 * Return: 0, -ENOTSUP or -ENAMETOOLONG.
 */
SC_HIDDEN int sc_cgroup_mount_parse(FILE *f, const char *controller, char *mnt,
				    size_t mnt_size, char *root,
				    size_t root_size);

/* @mnt + @rel, less the mount's @root. Return: 0 or -ENAMETOOLONG. */
SC_HIDDEN int sc_cgroup_join(const char *mnt, const char *root, const char *rel,
			     char *out, size_t size);

/* v1 memory.stat's hierarchical_memory_limit when below @limit. */
SC_HIDDEN unsigned long long sc_v1_hierarchical_limit(const char *stat,
						      unsigned long long limit);

/* v2 memory.events: high, max, oom, oom_kill into @v (absent: kept). */
SC_HIDDEN void sc_parse_v2_events(const char *text, unsigned long long v[4]);

/* 0 if @cfg is valid for sc_pressure_open(), else -EINVAL. */
SC_HIDDEN int sc_pressure_check_config(const struct sc_pressure_config *cfg);

/* Make the timer fire in @delay_ns (at least 1 ns). */
SC_HIDDEN void sc_pressure_arm_timer(struct sc_pressure *p, int64_t delay_ns);

#endif /* SC_CORE_PRESSURE_INTERNAL_H */
