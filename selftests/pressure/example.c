// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Documentation/examples/pressure-poll.c compiled here (without its
 * main) and run: its poll() and epoll loops dispatch a pending level and
 * stop when the program's own fd says so.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <sys/eventfd.h>

#define SC_EXAMPLE_NO_MAIN
#include "Documentation/examples/pressure-poll.c"

static unsigned long passes;
static enum sc_pressure_level seen;

static unsigned long ex_count(struct sc_shrinker *s,
			      struct sc_shrink_control *sc)
{
	passes++;
	seen = sc->level;
	return 0;
}

static unsigned long ex_scan(struct sc_shrinker *s,
			     struct sc_shrink_control *sc)
{
	return 0;
}

static void run_loop(int (*loop)(struct sc_pressure *, int))
{
	struct sc_shrinker *s = sc_shrinker_alloc(0, "example");
	struct sc_pressure *p;
	uint64_t one = 1;
	int stop;

	cr_assert_not_null(s);
	s->count_objects = ex_count;
	s->scan_objects = ex_scan;
	sc_shrinker_register(s);
	cr_assert_eq(setenv("MEMORY_PRESSURE_WATCH", "/dev/null", 1), 0);
	p = sc_pressure_open(NULL);
	cr_assert_not_null(p);
	stop = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(stop, 0);

	cr_assert_eq(sc_pressure_notify(p, SC_PRESSURE_CRITICAL), 0);
	cr_assert_eq(write(stop, &one, sizeof(one)), (ssize_t)sizeof(one));
	cr_assert_eq(loop(p, stop), 0);
	cr_assert_eq(passes, 1, "the pending level was dispatched");
	cr_assert_eq(seen, SC_PRESSURE_CRITICAL);
	cr_assert_eq(sc_pressure_dispatch(p), 0, "and consumed");

	close(stop);
	sc_pressure_close(p);
	sc_shrinker_free(s);
}

Test(pressure_example, poll_loop)
{
	run_loop(example_poll_loop);
}

Test(pressure_example, epoll_loop)
{
	run_loop(example_epoll_loop);
}
