// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabcache's memory-pressure fd in a systemd sd-event loop.
 *
 * Build:  cc pressure-sd-event.c \
 *             $(pkg-config --cflags --libs slabcache libsystemd)
 *
 * Run as a service and $MEMORY_PRESSURE_WATCH is set by systemd
 * (MemoryPressureWatch=), which sc_pressure_open(AUTO) follows. Use either
 * this or sd_event_add_memory_pressure() for the same events, not both;
 * with the latter, call sc_shrink_memory(SC_PRESSURE_MEDIUM) from its
 * handler instead.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include <systemd/sd-event.h>

#include <slabcache.h>

static int on_pressure(sd_event_source *s, int fd, uint32_t revents,
		       void *userdata)
{
	struct sc_pressure *p = userdata;
	int level = sc_pressure_dispatch(p);

	if (level > 0)
		fprintf(stderr, "memory pressure: level %d\n", level);
	return level < 0 ? level : 0;
}

int main(void)
{
	struct sc_cache *cache = sc_cache_create(NULL);
	struct sc_pressure *p = sc_pressure_open(NULL);
	sd_event_source *src = NULL;
	sd_event *e = NULL;
	sigset_t mask;
	int r;

	if (!cache || !p) {
		perror("slabcache");
		return 1;
	}
	r = sd_event_default(&e);
	if (r < 0)
		goto out;
	r = sd_event_add_io(e, &src, sc_pressure_fd(p), EPOLLIN, on_pressure,
			    p);
	if (r < 0)
		goto out;
	/* SIGTERM/SIGINT end the loop (default handlers of sd-event). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sd_event_add_signal(e, NULL, SIGTERM, NULL, NULL);
	sd_event_add_signal(e, NULL, SIGINT, NULL, NULL);
	r = sd_event_loop(e);
out:
	if (r < 0)
		fprintf(stderr, "sd-event: %s\n", strerror(-r));
	sd_event_source_unref(src);
	sd_event_unref(e);
	sc_pressure_close(p);
	sc_cache_destroy(cache);
	return r < 0 ? 1 : 0;
}
