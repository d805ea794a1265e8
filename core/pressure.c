// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Memory-pressure monitor: kernel notifications behind one epoll fd,
 * turned into a level that drives sc_shrink_memory().
 *
 * Sources (each opened into struct sc_psrc, see pressure_src.c):
 *   PSI triggers ("some" -> LOW, "full" -> MEDIUM) on the own cgroup's
 *   memory.pressure or /proc/pressure/memory; cgroup v1
 *   memory.pressure_level eventfds (low/medium/critical); usage
 *   thresholds (v1 memory.usage_in_bytes eventfds, v2 memory.events);
 *   systemd's $MEMORY_PRESSURE_WATCH (PSI file, FIFO or AF_UNIX socket,
 *   MEDIUM); and sc_pressure_notify() (an eventfd plus an atomic mask of
 *   levels, async-signal-safe).
 *
 * Lock order: the monitor's lock (dispatch bookkeeping, stats) is taken
 * before nothing else and is not held across sc_shrink_memory(), so
 * shrinker callbacks may call into the monitor (notify, stats, even
 * dispatch). notify takes no lock at all.
 *
 * The sections below are pulled into Documentation/pressure.rst.
 */

/**
 * DOC: Levels, debounce and escalation
 *
 * A dispatch reads everything pending without blocking and runs at most
 * one shrinker pass, for the highest level seen; it returns that level,
 * or 0.
 *
 * * **notify** requests are the program's own: never debounced, never
 *   escalated.
 * * **Debounce** (every other source): a kernel-side report of level *L*
 *   is dropped while a kernel-driven pass at *L* or higher ran less than
 *   one window (``window_us``, 2 s by default) ago; that pass covers it.
 *   So each level runs at most once per window, and a higher level is
 *   never held back by a lower one. v1 ``low`` fires about a thousand
 *   times a second during a page-cache thrash; it costs one pass per
 *   window. A usage-threshold crossing that is debounced is checked again
 *   by a timerfd when the window ends, because threshold eventfds fire
 *   only on crossings.
 * * **Escalation**: when a report of *L* comes back less than two windows
 *   after the pass it caused, that pass did not relieve the pressure, and
 *   the pass runs at *L + 1* (up to CRITICAL). Persistent ``low`` thus
 *   becomes one MEDIUM pass per window (1/32 of each cache, then empty
 *   slabs back), persistent MEDIUM becomes CRITICAL. A report after a
 *   quiet spell of two windows runs at its own level again. ``escalated``
 *   in the stats counts these.
 *
 * sc_pressure_stats() returns the counters: events per source, reports
 * debounced and escalated, passes per level, objects freed.
 */

/**
 * DOC: Why a PSI relay thread
 *
 * A PSI trigger's ``poll`` method *consumes* the event. When our epoll fd
 * sits inside another loop's ``poll()`` or epoll (every embedding does
 * that), the outer readiness check polls our members and would eat a PSI
 * event before sc_pressure_dispatch() saw it (measured: the outer poll
 * reports readable, the inner ``epoll_wait`` then returns nothing). So PSI
 * trigger fds are kept out of the user-visible epoll set: a small thread
 * (all signals blocked) waits on them and forwards each event through an
 * atomic mask and an eventfd, which an outer poll cannot consume. The
 * thread is started only when a PSI source (including systemd's PSI file)
 * opens, and runs until sc_pressure_close(), even after its triggers are
 * lost. Every other source is level-triggered and read in dispatch.
 */

/**
 * DOC: fork()
 *
 * Every fd of a monitor is ``O_CLOEXEC``, so an ``exec`` leaves nothing
 * behind. A child after ``fork()`` shares the parent's open file
 * descriptions (the same epoll instance, eventfds and triggers) but has
 * none of its threads. The child must not dispatch from, notify or start
 * a thread on an inherited monitor; it may only sc_pressure_close() it,
 * which then closes the child's copies and frees the memory without
 * waking or waiting for any thread (the parent's monitor keeps working,
 * as ``selftests/pressure/pressure.c`` checks). A child that wants
 * pressure handling opens its own monitor. The shrinker registry is
 * process-global state as well; see ``Documentation/shrinker.rst``.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/pressure_internal.h"
#include <slabcache/pressure.h>

#define SC_PRESSURE_ALL_SOURCES                                \
	(SC_PRESSURE_SRC_PSI | SC_PRESSURE_SRC_PSI_CGROUP |    \
	 SC_PRESSURE_SRC_CGROUP_V1 | SC_PRESSURE_SRC_SYSTEMD | \
	 SC_PRESSURE_SRC_CGROUP_USAGE)

static void sc_close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static int sc_epoll_add(int epfd, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* Drain an eventfd or timerfd; both hold one 8-byte counter. */
static void sc_drain_counter(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
}

static int sc_level_bit_max(unsigned int mask)
{
	for (int l = SC_PRESSURE_CRITICAL; l > SC_PRESSURE_NONE; l--)
		if (mask & (1u << l))
			return l;
	return SC_PRESSURE_NONE;
}

/* ------------------------------------------------------------ threads */

/* Start @fn with every signal blocked: signals belong to the program. */
static int sc_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -err;
}

/* Forward PSI trigger events, which an outer poll would consume. */
static void *sc_relay_main(void *arg)
{
	struct sc_pressure *p = arg;
	struct epoll_event ev[SC_PSRC_MAX + 1];

	for (;;) {
		int n = epoll_wait(p->relay_epfd, ev, SC_PSRC_MAX + 1, -1);
		bool fired = false;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;

			if (tag == SC_TAG_WAKE)
				return NULL;
			if (tag >= SC_PSRC_MAX)
				continue;
			if (ev[i].events & (EPOLLERR | EPOLLHUP)) {
				/* Trigger gone (cgroup removed): stop
				 * watching; dispatch closes the fd. */
				epoll_ctl(p->relay_epfd, EPOLL_CTL_DEL,
					  p->src[tag].fd, NULL);
				atomic_fetch_or(&p->relay_gone, 1u << tag);
			} else {
				atomic_fetch_or(&p->relay_fired, 1u << tag);
			}
			fired = true;
		}
		if (fired) {
			uint64_t one = 1;

			if (write(p->relay_fd, &one, sizeof(one)) < 0) {
				/* Counter full: the fd is readable anyway. */
			}
		}
	}
}

static void *sc_dispatch_main(void *arg)
{
	struct sc_pressure *p = arg;

	while (!atomic_load(&p->stopping)) {
		struct epoll_event ev;
		int n = epoll_wait(p->epfd, &ev, 1, -1);

		if (n < 0 && errno != EINTR)
			break;
		if (atomic_load(&p->stopping))
			break;
		if (n > 0)
			sc_pressure_dispatch(p);
	}
	return NULL;
}

/* --------------------------------------------------------------- open */

int sc_pressure_check_config(const struct sc_pressure_config *cfg)
{
	const unsigned int *pct = cfg->usage_pct;

	if (cfg->sources & ~SC_PRESSURE_ALL_SOURCES)
		return -EINVAL;
	if (pct[0] || pct[1] || pct[2]) {
		if (!pct[0] || pct[0] > pct[1] || pct[1] > pct[2] ||
		    pct[2] > 100)
			return -EINVAL;
	}
	if ((cfg->stall_us ? cfg->stall_us : 200000) >
	    (cfg->window_us ? cfg->window_us : 2000000))
		return -EINVAL;
	if (cfg->cgroup && sc_cgroup_path_check(cfg->cgroup))
		return -EINVAL;
	return 0;
}

static void sc_pressure_free(struct sc_pressure *p)
{
	for (unsigned int i = 0; i < p->nr_srcs; i++) {
		sc_close_fd(&p->src[i].fd);
		sc_close_fd(&p->src[i].aux_fd);
	}
	sc_close_fd(&p->usage_fd);
	sc_close_fd(&p->timer_fd);
	sc_close_fd(&p->relay_epfd);
	sc_close_fd(&p->relay_fd);
	sc_close_fd(&p->wake_fd);
	sc_close_fd(&p->notify_fd);
	sc_close_fd(&p->epfd);
	sc_mutex_destroy(&p->lock);
	sc_mem_free(p, sizeof(*p));
}

/* The fds every monitor has, whatever its sources. */
static int sc_pressure_base_fds(struct sc_pressure *p)
{
	int err;

	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->relay_epfd = epoll_create1(EPOLL_CLOEXEC);
	p->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->relay_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->epfd < 0 || p->relay_epfd < 0 || p->notify_fd < 0 ||
	    p->wake_fd < 0 || p->relay_fd < 0 || p->timer_fd < 0)
		return -errno;
	err = sc_epoll_add(p->epfd, p->notify_fd, EPOLLIN, SC_TAG_NOTIFY);
	if (!err)
		err = sc_epoll_add(p->epfd, p->wake_fd, EPOLLIN, SC_TAG_WAKE);
	if (!err)
		err = sc_epoll_add(p->epfd, p->relay_fd, EPOLLIN, SC_TAG_RELAY);
	if (!err)
		err = sc_epoll_add(p->epfd, p->timer_fd, EPOLLIN, SC_TAG_TIMER);
	if (!err)
		err = sc_epoll_add(p->relay_epfd, p->wake_fd, EPOLLIN,
				   SC_TAG_WAKE);
	return err;
}

/* Put the opened sources into the epoll sets. */
static int sc_pressure_watch_sources(struct sc_pressure *p)
{
	for (unsigned int i = 0; i < p->nr_srcs; i++) {
		struct sc_psrc *s = &p->src[i];
		int err;

		if (s->kind == SC_PSRC_PSI) {
			err = sc_epoll_add(p->relay_epfd, s->fd, EPOLLPRI, i);
			p->need_relay = true;
		} else if (s->kind == SC_PSRC_EVENTS_V2) {
			err = sc_epoll_add(p->epfd, s->fd, EPOLLPRI, i);
		} else {
			err = sc_epoll_add(p->epfd, s->fd, EPOLLIN, i);
		}
		if (err)
			return err;
	}
	return 0;
}

struct sc_pressure *sc_pressure_open(const struct sc_pressure_config *cfg)
{
	static const struct sc_pressure_config defaults;
	struct sc_pressure *p;
	int err;

	if (!cfg)
		cfg = &defaults;
	err = sc_pressure_check_config(cfg);
	if (err)
		goto err_out;

	p = sc_mem_zalloc(sizeof(*p));
	if (!p) {
		err = -ENOMEM;
		goto err_out;
	}
	p->epfd = p->relay_epfd = p->notify_fd = p->wake_fd = -1;
	p->relay_fd = p->timer_fd = p->usage_fd = -1;
	sc_mutex_init(&p->lock);
	p->owner = getpid();
	p->stall_us = cfg->stall_us ? cfg->stall_us : 200000;
	p->window_us = cfg->window_us ? cfg->window_us : 2000000;
	p->window_ns = (int64_t)p->window_us * 1000;
	if (cfg->usage_pct[0]) {
		memcpy(p->usage_pct, cfg->usage_pct, sizeof(p->usage_pct));
	} else {
		p->usage_pct[0] = 80;
		p->usage_pct[1] = 90;
		p->usage_pct[2] = 95;
	}

	err = sc_pressure_base_fds(p);
	if (err)
		goto err_free;
	err = sc_pressure_open_sources(p, cfg);
	if (err)
		goto err_free;
	err = sc_pressure_watch_sources(p);
	if (err)
		goto err_free;
	if (p->need_relay) {
		err = sc_thread_start(&p->relay, sc_relay_main, p);
		if (err)
			goto err_free;
		p->relay_started = true;
	}
	/* Usage already past a threshold: check it at the first dispatch. */
	if (p->usage_fd >= 0 && sc_pressure_usage_level(p) > 0)
		sc_pressure_arm_timer(p, 1);
	return p;

err_free:
	sc_pressure_free(p);
err_out:
	return sc_err_ptr(err);
}

int sc_pressure_fd(const struct sc_pressure *p)
{
	if (!p)
		return sc_err(-EINVAL);
	return p->epfd;
}

unsigned int sc_pressure_sources(const struct sc_pressure *p)
{
	return p ? atomic_load(&p->sources) : 0;
}

int sc_pressure_source_errno(const struct sc_pressure *p, unsigned int source)
{
	int bit;

	if (!p || !source || (source & (source - 1)) ||
	    (source & ~SC_PRESSURE_ALL_SOURCES))
		return sc_err(-EINVAL);
	bit = __builtin_ctz(source);
	return p->source_errno[bit];
}

int sc_pressure_notify(struct sc_pressure *p, enum sc_pressure_level level)
{
	uint64_t one = 1;
	int saved_errno;

	if (!p || level < SC_PRESSURE_LOW || level > SC_PRESSURE_CRITICAL)
		return sc_err(-EINVAL);
	/* Only async-signal-safe steps: a lock-free atomic and write(). */
	saved_errno = errno;
	atomic_fetch_or(&p->notify_mask, 1u << level);
	if (write(p->notify_fd, &one, sizeof(one)) < 0) {
		/* Counter full: the fd is readable anyway. */
	}
	errno = saved_errno;
	return 0;
}

int sc_pressure_start_thread(struct sc_pressure *p)
{
	int err;

	if (!p)
		return sc_err(-EINVAL);
	sc_mutex_lock(&p->lock);
	if (p->thread_started) {
		sc_mutex_unlock(&p->lock);
		return sc_err(-EBUSY);
	}
	err = sc_thread_start(&p->thread, sc_dispatch_main, p);
	if (!err)
		p->thread_started = true;
	sc_mutex_unlock(&p->lock);
	return sc_err(err);
}

void sc_pressure_close(struct sc_pressure *p)
{
	uint64_t one = 1;

	if (!p)
		return;
	/*
	 * In a forked child the threads do not exist, and waking them
	 * through the shared eventfd would wake the parent's instead.
	 */
	if (p->owner == getpid()) {
		atomic_store(&p->stopping, true);
		if (write(p->wake_fd, &one, sizeof(one)) < 0) {
			/* Counter full: readable anyway. */
		}
		if (p->thread_started)
			pthread_join(p->thread, NULL);
		if (p->relay_started)
			pthread_join(p->relay, NULL);
	}
	sc_pressure_free(p);
}

int sc_pressure_stats(struct sc_pressure *p, struct sc_pressure_stats *st)
{
	if (!p || !st)
		return sc_err(-EINVAL);
	sc_mutex_lock(&p->lock);
	*st = p->stats;
	sc_mutex_unlock(&p->lock);
	return 0;
}

/* ----------------------------------------------------------- dispatch */

void sc_pressure_arm_timer(struct sc_pressure *p, int64_t delay_ns)
{
	struct itimerspec its = { 0 };

	if (delay_ns < 1)
		delay_ns = 1;
	its.it_value.tv_sec = delay_ns / 1000000000;
	its.it_value.tv_nsec = delay_ns % 1000000000;
	timerfd_settime(p->timer_fd, 0, &its, NULL);
}

/* A source that went away: stop watching it. Context: monitor lock. */
static void sc_pressure_drop_source(struct sc_pressure *p, unsigned int i)
{
	struct sc_psrc *s = &p->src[i];
	bool others = false;

	if (!s->active)
		return;
	if (s->kind != SC_PSRC_PSI)
		epoll_ctl(p->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	sc_close_fd(&s->fd);
	sc_close_fd(&s->aux_fd);
	s->active = false;
	p->stats.sources_lost++;
	for (unsigned int j = 0; j < p->nr_srcs; j++)
		others |= p->src[j].active && p->src[j].type == s->type;
	if (!others)
		atomic_fetch_and(&p->sources, ~s->type);
}

/*
 * Removing a v1 cgroup signals every event eventfd registered on it once,
 * "the event is going away" (memcg_event_remove() in the kernel): no
 * pressure, a lost source. By then its files fail every read with ENODEV.
 */
static bool sc_cgroup_file_gone(int fd)
{
	char c;

	return fd >= 0 && pread(fd, &c, 1, 0) < 0 && errno == ENODEV;
}

/*
 * A v1 eventfd source fired: if its cgroup is gone, drop its whole set
 * (the three eventfds of one cgroup) and say so.
 * Context: monitor lock held.
 */
static bool sc_pressure_v1_gone(struct sc_pressure *p, struct sc_psrc *s)
{
	int probe = -1;

	if (s->kind == SC_PSRC_USAGE_V1) {
		probe = p->usage_fd; /* memory.usage_in_bytes */
	} else {
		/* memory.pressure_level, kept open by the first of the set */
		for (unsigned int j = 0; j < p->nr_srcs; j++)
			if (p->src[j].active && p->src[j].kind == s->kind &&
			    p->src[j].aux_fd >= 0)
				probe = p->src[j].aux_fd;
	}
	if (!sc_cgroup_file_gone(probe))
		return false;
	for (unsigned int j = 0; j < p->nr_srcs; j++)
		if (p->src[j].kind == s->kind)
			sc_pressure_drop_source(p, j);
	if (s->kind == SC_PSRC_USAGE_V1)
		sc_close_fd(&p->usage_fd);
	return true;
}

/* Read what source @i has pending. Return: its level, or 0. */
static int sc_pressure_read_source(struct sc_pressure *p, unsigned int i,
				   uint32_t events, bool *usage_check,
				   bool *event)
{
	struct sc_psrc *s = &p->src[i];
	char buf[256];
	int level;
	ssize_t n;

	if (!s->active)
		return 0;
	switch (s->kind) {
	case SC_PSRC_EVENTFD:
		sc_drain_counter(s->fd);
		if (sc_pressure_v1_gone(p, s))
			return 0;
		*event = true;
		return s->level;
	case SC_PSRC_USAGE_V1:
		sc_drain_counter(s->fd);
		if (sc_pressure_v1_gone(p, s))
			return 0;
		*event = true;
		*usage_check = true;
		return 0;
	case SC_PSRC_EVENTS_V2:
		if (events & EPOLLERR && !(events & EPOLLPRI)) {
			sc_pressure_drop_source(p, i);
			return 0;
		}
		level = sc_pressure_events_v2_level(p, s);
		if (level < 0) {
			sc_pressure_drop_source(p, i);
			return 0;
		}
		*event = true;
		*usage_check = true;
		return level;
	case SC_PSRC_STREAM: {
		bool got = false;

		while ((n = read(s->fd, buf, sizeof(buf))) > 0)
			got = true;
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			/* The other end went away. */
			sc_pressure_drop_source(p, i);
		}
		*event = got;
		return got ? s->level : 0;
	}
	case SC_PSRC_PSI:
		return s->level;
	}
	return 0;
}

/*
 * Debounce the highest kernel-side level @rep reported in one dispatch.
 *
 * Debounce: a kernel-driven pass at @rep or higher ran less than a
 * window ago: it covers this report. Escalation: otherwise, if @rep came
 * back less than two windows after the last pass it caused, that pass
 * did not relieve the pressure: run one level higher.
 *
 * Context: monitor lock held.
 * Return: the level to run, or 0 when debounced (*@retry_ns is then when
 * the covering pass's window ends).
 */
static int sc_pressure_debounce(struct sc_pressure *p, int rep, int64_t now,
				int64_t *retry_ns)
{
	int run = rep;

	for (int l = rep; l <= SC_PRESSURE_CRITICAL; l++) {
		if (p->ran[l] && now - p->last_run[l] < p->window_ns) {
			*retry_ns = p->last_run[l] + p->window_ns;
			p->stats.debounced++;
			return 0;
		}
	}
	if (p->acted[rep] && now - p->last_acted[rep] < 2 * p->window_ns &&
	    rep < SC_PRESSURE_CRITICAL) {
		run = rep + 1;
		p->stats.escalated++;
	}
	p->acted[rep] = true;
	p->last_acted[rep] = now;
	p->ran[run] = true;
	p->last_run[run] = now;
	return run;
}

int sc_pressure_dispatch(struct sc_pressure *p)
{
	struct epoll_event ev[SC_PSRC_MAX + 4];
	unsigned int kernel_levels = 0, usage_levels = 0;
	int level = SC_PRESSURE_NONE, rep, n;
	bool usage_check = false, event;
	unsigned long freed;

	if (!p)
		return sc_err(-EINVAL);
	sc_mutex_lock(&p->lock);
	do {
		n = epoll_wait(p->epfd, ev, SC_PSRC_MAX + 4, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			sc_mutex_unlock(&p->lock);
			return sc_err(err);
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;
			unsigned int fired, gone;
			int l;

			switch (tag) {
			case SC_TAG_WAKE:
				break;
			case SC_TAG_NOTIFY:
				sc_drain_counter(p->notify_fd);
				l = sc_level_bit_max(
					atomic_exchange(&p->notify_mask, 0));
				if (l) {
					p->stats.notifies++;
					if (l > level)
						level = l;
				}
				break;
			case SC_TAG_TIMER:
				sc_drain_counter(p->timer_fd);
				usage_check = true;
				break;
			case SC_TAG_RELAY:
				sc_drain_counter(p->relay_fd);
				fired = atomic_exchange(&p->relay_fired, 0);
				gone = atomic_exchange(&p->relay_gone, 0);
				for (unsigned int j = 0; j < p->nr_srcs; j++) {
					struct sc_psrc *s = &p->src[j];

					if (!s->active)
						continue;
					if (fired & (1u << j)) {
						kernel_levels |= 1u << s->level;
						p->stats.events++;
						p->stats.source_events
							[__builtin_ctz(
								s->type)]++;
					}
					if (gone & (1u << j))
						sc_pressure_drop_source(p, j);
				}
				break;
			default:
				if (tag >= p->nr_srcs)
					break;
				event = false;
				l = sc_pressure_read_source(
					p, (unsigned int)tag, ev[i].events,
					&usage_check, &event);
				if (event) {
					p->stats.events++;
					p->stats.source_events[__builtin_ctz(
						p->src[tag].type)]++;
				}
				if (l)
					kernel_levels |= 1u << l;
				break;
			}
		}
	} while (n == SC_PSRC_MAX + 4);

	if (usage_check && p->usage_fd >= 0) {
		int l = sc_pressure_usage_level(p);

		if (l)
			usage_levels |= 1u << l;
	}

	rep = sc_level_bit_max(kernel_levels | usage_levels);
	if (rep) {
		int64_t now = (int64_t)sc_clock_ns(), retry_ns = 0;
		int run = sc_pressure_debounce(p, rep, now, &retry_ns);

		/* Usage events fire only when a threshold is crossed:
		 * look again when the covering window ends. */
		if (!run && usage_levels)
			sc_pressure_arm_timer(p, retry_ns - now);
		if (run > level)
			level = run;
	}
	sc_mutex_unlock(&p->lock);

	if (level == SC_PRESSURE_NONE)
		return 0;
	/* No monitor lock across the shrinkers: they may call back. */
	freed = sc_shrink_memory((enum sc_pressure_level)level);
	sc_mutex_lock(&p->lock);
	p->stats.passes[level]++;
	p->stats.freed += freed;
	sc_mutex_unlock(&p->lock);
	return level;
}
