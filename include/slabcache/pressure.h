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
 * @sources: Source bits (%SC_PRESSURE_SRC_PSI, ...), or %SC_PRESSURE_SRC_AUTO.
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
 * With AUTO it succeeds even where no source works (sc_pressure_sources()
 * then says 0, sc_pressure_source_errno() says why, and notify still
 * works); with explicit sources every one must open. Levels: PSI "some"
 * is LOW and "full" MEDIUM; cgroup v1 low, medium, critical map to the
 * same levels; usage past each of @cfg->usage_pct is LOW, MEDIUM,
 * CRITICAL; an event of systemd's protocol is MEDIUM.
 * $MEMORY_PRESSURE_WATCH=/dev/null (systemd's "off") turns every kernel
 * source off under AUTO. Every fd is close-on-exec; a child after fork()
 * may only sc_pressure_close() an inherited monitor
 * (Documentation/pressure.rst).
 *
 * Context: Any thread. With a PSI source, starts a small thread that
 * relays PSI events (their poll consumes them, so they cannot sit in an
 * fd that the program's own loop polls).
 * Return: The monitor, or NULL with errno: %EINVAL for a bad config (an
 * unknown source bit, thresholds not 0 < LOW <= MEDIUM <= CRITICAL <= 100,
 * stall longer than window, a relative cgroup or one with ".."), or the
 * failing source's errno: %ENOTSUP where the kernel lacks the files,
 * %EINVAL or %EACCES for a PSI trigger the kernel refused (unprivileged
 * windows are multiples of 2 s, at most 10 s), %ENOENT for an unset
 * $MEMORY_PRESSURE_WATCH, a missing path or cgroup, %EINVAL for bad
 * Base64 in $MEMORY_PRESSURE_WRITE or a watch path that is no PSI file,
 * FIFO or socket, %ENODATA for usage thresholds in a cgroup without a
 * limit, %ENOMEM.
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
 * Debounce: a kernel-side report is dropped while a kernel-driven pass at
 * its level or higher ran less than one window (@window_us) ago.
 * Escalation: a level reported again within two windows of the pass it
 * caused runs one level higher. sc_pressure_notify() requests are never
 * debounced. Call it when the fd polls readable; calling it otherwise is
 * harmless.
 *
 * Context: Any thread; concurrent calls are serialized on the monitor's
 * lock, which is not held while the shrinkers run.
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
 * Return: The active source bits (%SC_PRESSURE_SRC_PSI, ...); 0 when only
 * notify works.
 */
SC_API unsigned int sc_pressure_sources(const struct sc_pressure *p);

/**
 * sc_pressure_close() - Stop the thread, close every source, free.
 * @p: Monitor, or NULL (no-op).
 *
 * Waits for a pass that the monitor's thread is running. In a child
 * after fork() it only closes the child's copies of the fds and frees
 * the memory; the parent's monitor is not disturbed.
 *
 * Context: Any thread but the monitor's own (not from a shrinker callback
 * that its thread runs).
 */
SC_API void sc_pressure_close(struct sc_pressure *p);

/**
 * sc_pressure_source_errno() - Why a source is not active.
 * @p: Monitor.
 * @source: One source bit, e.g. %SC_PRESSURE_SRC_PSI.
 *
 * With %SC_PRESSURE_SRC_AUTO, sources that fail are skipped; this tells
 * why, e.g. %EINVAL for a PSI window the kernel refused, %ENOTSUP where
 * the kernel lacks the files, %ENODATA for usage thresholds in a cgroup
 * without a limit.
 *
 * Context: Any thread.
 * Return: 0 if @source opened or was not tried, its positive errno if it
 * failed, or %-EINVAL for a NULL monitor or not exactly one known bit.
 */
SC_API int sc_pressure_source_errno(const struct sc_pressure *p,
				    unsigned int source);

/**
 * struct sc_pressure_stats - What a monitor has seen and done.
 * @events: Kernel-side events read (every source but notify).
 * @source_events: @events per source, indexed by the bit number of its
 *                 source flag (PSI = 0 ... CGROUP_USAGE = 4).
 * @debounced: Kernel events of a level that already ran in the current
 *             window, so not acted on.
 * @escalated: Passes run one level above the level reported, because the
 *             same level was reported again within two windows.
 * @notifies: sc_pressure_notify() requests handled.
 * @passes: sc_shrink_memory() passes run, per level (index 0 unused).
 * @freed: Objects the shrinkers freed in those passes.
 * @sources_lost: Sources that went away (the cgroup was removed, the
 *                systemd socket closed) and were dropped.
 */
struct sc_pressure_stats {
	unsigned long long events;
	unsigned long long source_events[5];
	unsigned long long debounced;
	unsigned long long escalated;
	unsigned long long notifies;
	unsigned long long passes[4];
	unsigned long long freed;
	unsigned long long sources_lost;
};

/**
 * sc_pressure_stats() - Read a monitor's counters.
 * @p: Monitor.
 * @st: Filled on success.
 *
 * Context: Any thread; takes the monitor's dispatch lock briefly.
 * Return: 0, or %-EINVAL for a NULL argument.
 */
SC_API int sc_pressure_stats(struct sc_pressure *p,
			     struct sc_pressure_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* SLABCACHE_PRESSURE_H */
