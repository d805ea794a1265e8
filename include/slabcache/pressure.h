/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SLABCACHE_PRESSURE_H
#define SLABCACHE_PRESSURE_H

/*
 * Memory-pressure notifications: kernel events (PSI, cgroup pressure
 * levels and usage thresholds, systemd's protocol) behind one pollable fd,
 * turned into a level that drives sc_shrink_memory().
 */
#include <slabcache/export.h>
#include <slabcache/shrinker.h>

#ifdef __cplusplus
extern "C" {
#endif

/* /proc/pressure/memory trigger */
#define SC_PRESSURE_SRC_PSI 0x1u
/* own cgroup's memory.pressure (v2) */
#define SC_PRESSURE_SRC_PSI_CGROUP 0x2u
/* memory.pressure_level + eventfd (v1) */
#define SC_PRESSURE_SRC_CGROUP_V1 0x4u
/* $MEMORY_PRESSURE_WATCH protocol */
#define SC_PRESSURE_SRC_SYSTEMD 0x8u
/* usage nearing the cgroup's limit */
#define SC_PRESSURE_SRC_CGROUP_USAGE 0x10u
/*
 * Every source that works here: systemd's if set, else PSI (cgroup, then
 * system), v1 levels, and usage thresholds.
 */
#define SC_PRESSURE_SRC_AUTO 0u

struct sc_pressure;

/**
 * struct sc_pressure_config - Which sources to open; all zero is valid.
 * @sources: %SC_PRESSURE_SRC_* bits, or %SC_PRESSURE_SRC_AUTO.
 * @stall_us: PSI stall threshold; 0 means 200000 (systemd's default).
 * @window_us: PSI window; 0 means 2000000.
 * @cgroup: cgroup path (as in /proc/self/cgroup); NULL means the process's
 *          own.
 * @usage_pct: LOW, MEDIUM, CRITICAL thresholds in % of the cgroup limit;
 *             all zero means {80, 90, 95}.
 */
struct sc_pressure_config {
	unsigned int sources;
	unsigned int stall_us;
	unsigned int window_us;
	const char *cgroup;
	unsigned int usage_pct[3];
};

/**
 * sc_pressure_open() - Open memory-pressure sources.
 * @cfg: Configuration, or NULL for AUTO with defaults.
 *
 * With AUTO it succeeds even where no source works; with explicit sources
 * every one must open.
 *
 * Context: Any thread.
 * Return: The monitor, or NULL with errno: the failing source's errno
 * (%ENOTSUP where the kernel lacks it), %EINVAL for a bad config.
 */
SC_API struct sc_pressure *
sc_pressure_open(const struct sc_pressure_config *cfg);

/**
 * sc_pressure_fd() - One descriptor for all sources.
 * @p: Monitor.
 *
 * An epoll fd: poll it for POLLIN in the program's own event loop, then
 * call sc_pressure_dispatch().
 *
 * Context: Any thread.
 * Return: The fd, or %-EINVAL for a NULL monitor.
 */
SC_API int sc_pressure_fd(const struct sc_pressure *p);

/**
 * sc_pressure_dispatch() - Handle pending events without blocking.
 * @p: Monitor.
 *
 * Reads every pending event, maps each to a level, debounces kernel
 * sources, and runs sc_shrink_memory() once for the highest level seen.
 *
 * Context: Any thread, but one at a time per monitor.
 * Return: The level handled, 0 if nothing was pending (or all was
 * debounced), or a negative errno.
 */
SC_API int sc_pressure_dispatch(struct sc_pressure *p);

/**
 * sc_pressure_start_thread() - Dispatch from a thread of the library's.
 * @p: Monitor.
 *
 * Context: Any thread; at most once per monitor.
 * Return: 0, %-EBUSY if already started, %-EINVAL, or the errno of
 * pthread_create().
 */
SC_API int sc_pressure_start_thread(struct sc_pressure *p);

/**
 * sc_pressure_notify() - Report pressure from the program itself.
 * @p: Monitor.
 * @level: Level to report.
 *
 * Makes the fd readable with @level; never debounced. Async-signal-safe,
 * so a daemon can call it from its own signal handler.
 *
 * Context: Any thread or signal handler.
 * Return: 0, or %-EINVAL for a NULL monitor or a bad level.
 */
SC_API int sc_pressure_notify(struct sc_pressure *p,
			      enum sc_pressure_level level);

/**
 * sc_pressure_sources() - The sources that are active.
 * @p: Monitor.
 *
 * Context: Any thread.
 * Return: %SC_PRESSURE_SRC_* bits; 0 when only notify works.
 */
SC_API unsigned int sc_pressure_sources(const struct sc_pressure *p);

/**
 * sc_pressure_close() - Stop the thread, close every source, free.
 * @p: Monitor, or NULL (no-op).
 *
 * Context: Any thread but the monitor's own.
 */
SC_API void sc_pressure_close(struct sc_pressure *p);

#ifdef __cplusplus
}
#endif

#endif /* SLABCACHE_PRESSURE_H */
