// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * slabcache's memory-pressure fd in a libuv loop: a uv_poll_t on it,
 * sc_pressure_dispatch() when it is readable.
 *
 * Build:  cc pressure-libuv.c $(pkg-config --cflags --libs slabcache libuv)
 */
#include <stdio.h>
#include <signal.h>

#include <uv.h>

#include <slabcache.h>

static void on_pressure(uv_poll_t *h, int status, int events)
{
	struct sc_pressure *p = h->data;
	int level;

	if (status < 0)
		return;
	level = sc_pressure_dispatch(p);
	if (level > 0)
		fprintf(stderr, "memory pressure: level %d\n", level);
}

static void on_signal(uv_signal_t *h, int signum)
{
	uv_stop(h->loop);
}

int main(void)
{
	struct sc_cache *cache = sc_cache_create(NULL);
	struct sc_pressure *p = sc_pressure_open(NULL);
	uv_loop_t *loop = uv_default_loop();
	uv_signal_t sigint;
	uv_poll_t poll;

	if (!cache || !p) {
		perror("slabcache");
		return 1;
	}
	uv_poll_init(loop, &poll, sc_pressure_fd(p));
	poll.data = p;
	uv_poll_start(&poll, UV_READABLE, on_pressure);
	uv_signal_init(loop, &sigint);
	uv_signal_start(&sigint, on_signal, SIGINT);

	uv_run(loop, UV_RUN_DEFAULT);

	uv_poll_stop(&poll);
	uv_close((uv_handle_t *)&poll, NULL);
	uv_close((uv_handle_t *)&sigint, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	sc_pressure_close(p);
	sc_cache_destroy(cache);
	return 0;
}
