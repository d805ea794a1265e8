/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * slabcache/pressure.h as released in 0.1 (LIBSLABCACHE_0.1), comments left out:
 * what programs built against 0.1 saw. Frozen: never edit it
 * (Documentation/abi.rst).
 */
#ifndef SLABCACHE_PRESSURE_H
#define SLABCACHE_PRESSURE_H
#include <slabcache/export.h>
#include <slabcache/shrinker.h>
#ifdef __cplusplus
extern "C" {
#endif
#define SC_PRESSURE_SRC_PSI 0x1u
#define SC_PRESSURE_SRC_PSI_CGROUP 0x2u
#define SC_PRESSURE_SRC_CGROUP_V1 0x4u
#define SC_PRESSURE_SRC_SYSTEMD 0x8u
#define SC_PRESSURE_SRC_CGROUP_USAGE 0x10u
#define SC_PRESSURE_SRC_AUTO 0u
struct sc_pressure;
struct sc_pressure_config {
	unsigned int sources;
	unsigned int stall_us;
	unsigned int window_us;
	const char *cgroup;
	unsigned int usage_pct[3];
};
SC_API struct sc_pressure *
sc_pressure_open(const struct sc_pressure_config *cfg);
SC_API int sc_pressure_fd(const struct sc_pressure *p);
SC_API int sc_pressure_dispatch(struct sc_pressure *p);
SC_API int sc_pressure_start_thread(struct sc_pressure *p);
SC_API int sc_pressure_notify(struct sc_pressure *p,
			      enum sc_pressure_level level);
SC_API unsigned int sc_pressure_sources(const struct sc_pressure *p);
SC_API void sc_pressure_close(struct sc_pressure *p);
SC_API int sc_pressure_source_errno(const struct sc_pressure *p,
				    unsigned int source);
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
SC_API int sc_pressure_stats(struct sc_pressure *p,
			     struct sc_pressure_stats *st);
#ifdef __cplusplus
}
#endif
#endif
