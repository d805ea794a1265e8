// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Linearizability checker for sc_cache histories: see lincheck.h.
 *
 * Search. Wing & Gong's backtracking search with Lowe's improvements, in
 * the form porcupine (checkSingle) uses: the invocations and responses of
 * the history are one list sorted by time; from the head, an invocation
 * may be linearized (tried against the model) as long as no response of
 * an operation not yet linearized comes before it. A linearized operation
 * is lifted out of the list (its invocation and response), and the scan
 * restarts at the head; reaching a response means the order so far cannot
 * be extended, so the last choice is undone. Every (set of linearized
 * operations, model state) configuration reached is memoized; one met
 * again has been explored already and is skipped. The model may offer
 * several successor states for one operation (hits applied late, below):
 * each is a choice the backtracking tries in turn.
 *
 * Model. An array in eviction order, index 0 first: for exact LRU the
 * least recently used first (a hit moves its entry to the end); for SIEVE
 * insertion order, a visited flag per entry and a hand (the index the
 * next eviction looks at, -1 for the oldest) that moves towards the end
 * clearing flags and evicts the first entry not visited, wrapping past
 * the newest; removing the entry at the hand leaves the hand on the next
 * newer one. For S3-FIFO (Documentation/policy.rst, "Algorithm") the
 * array holds both queues, each entry marked S or M with a frequency, a
 * queue's order being the array's order among its entries (a move to
 * M's new end is a move to the array's end); the ghost is part of the
 * state, slot for slot (key hashes from the history, under the seed the
 * recorder gave the cache), with its tag counts, the size it was made
 * for and S's adaptive share; admission refuses with
 * SC_CACHE_NOT_ADMITTED and takes nothing. The arithmetic of the ghost
 * and the share is s3fifo_spec.h's, shared with model.c's model.
 * Costs are summed under the limit; inserting over a key gives
 * the old cost back first (S3-FIFO: the update keeps queue and
 * frequency); a cost above the limit is -EFBIG and takes the old entry
 * out (insert, replace). Pins count per value; an entry dropped
 * while pinned is released by its last put, otherwise by the operation
 * that drops it, in the order dropped (replaced entry first, then victims
 * in eviction order; clear and destroy: first to last). Age keeps the
 * total of its previous step (0 at first).
 *
 * Pins. A drop takes the key out first and lets go of the cache's
 * reference after (core/pin.h: it marks the entry dropped, then looks
 * for pins), so the last pin of a value can be put between the two,
 * while the dropping call runs: that call then releases the value
 * itself, after the put. The model accepts that release in the dropping
 * call when the history records when it ran (lin_op.rel_time), and
 * holds every put of the value's remaining pins to having started
 * before it; those puts then release nothing. A pin of such a value
 * left at the end of the history is a refusal: its value went while it
 * was out.
 *
 * Hits. In LIN_GUARANTEE mode a find/get that hits records its effect on
 * the order (a "touch") in a per-thread queue in the model state, in
 * program order. Before an operation that chooses victims or reports the
 * order (insert, add, replace, set_limit, shrink, age, clear, destroy) the
 * model applies every queued touch whose hit returned before that
 * operation was invoked, and may apply any later ones too, each thread's
 * in its order, threads interleaved in any way: one successor state per
 * distinct result. So a hit that returned before an insert started is
 * applied before the insert chooses victims (never dropped), and a hit
 * concurrent with it may land on either side. A touch of an entry that
 * has left is a no-op and is dropped from the queue. Nothing else can
 * observe a touch: removals, lookups and counts do not depend on order.
 * The distinct results are enumerated directly (tv_orders()), not
 * through the interleavings, whose number grows as a multinomial in the
 * hits queued: the cost of a step is in the states it makes, and those
 * are bounded by the orders of the few entries a short history touches.
 * SIEVE's bits and S3-FIFO's frequency increments (capped at 7) commute,
 * so there the choice is only how many of each thread's queued hits are
 * applied; an S3-FIFO hit counts each time, two hits of one key are two
 * increments. A hit in flight while an eviction runs lands at one
 * instant of it; the model applies queued hits before or after the whole
 * operation, each thread's as a prefix. That holds for SIEVE, whose hand
 * reads an entry's bit at most once per write (a hit that landed between
 * two meetings of a hand that wrapped was a real fault: the write's
 * victims matched neither side), and a thread has at most one hit in
 * flight during a write (a lookup that starts during it answers under
 * the lock, after it: "Atomic writes" below). S3-FIFO's M rounds read
 * an entry's frequency once per round, so a hit can count in a later
 * round and not an earlier one: below the cap of 7 that is the hit
 * before the write, and on an entry a write met at 7 the write counts
 * at most 7 less its rounds done, which is the hit after it
 * (core/queue.c, sc_s3fifo_freq_in_round()).
 *
 * Atomic writes. The model applies every operation at one instant, a
 * write that changes several keys too: a shrink, set_limit, age or
 * shrinker pass that evicts, an insert, add or replace that evicts, a
 * clear (string keys and handles). The cache earns that: such a write
 * holds index_seq odd from its first change to its last, and every
 * lock-free lookup (find, get, contains, find_key, get_key, key_valid),
 * hit or miss, answers only from a probe the sequence was even and
 * unchanged around, else under the lock, after the write
 * (Documentation/concurrency.rst, "Writes that change several keys"). So
 * a history where one lookup saw a victim gone and a later one still
 * found another victim of the same write (or the new key of an evicting
 * insert, then a victim) is a real fault, and its refusal is no false
 * alarm; selftests/cache/multiwrite_mt.c provokes that window directly.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck.h"
#include "s3fifo_spec.h"

#define M_MAX_ENTRIES 64
#define M_MAX_PINNED 32
#define M_MAX_PENDING 48
/*
 * Successor states of one step. Only hits applied late make more than
 * one, one per distinct order they can leave; a short history (a few
 * calls per thread) stays far below this. Hits of several threads on
 * many keys can leave more orders (a multinomial in the hits pending):
 * then the step's first M_MAX_SUCC are tried, the likeliest first, and
 * a search that linearizes through them answers LIN_OK; one that finds
 * no linearization answers LIN_UNKNOWN, not LIN_FAIL, as the orders not
 * tried might have held one.
 */
#define M_MAX_SUCC 8192
#define M_HANDLE 0x80000000u /* key of a handle entry: M_HANDLE | index */
/*
 * S3-FIFO's ghost in a model state: a short history's cache holds at
 * most M_MAX_ENTRIES entries, so at most 2 x 64 x 50 % / 16 = 4 buckets;
 * a larger one would make the check undecided, not wrong.
 */
#define M_GHOST_BUCKETS 8
#define M_NOT_ADMITTED 1 /* SC_CACHE_NOT_ADMITTED */

struct m_ent {
	uint32_t key;
	uint32_t val;
	uint64_t cost;
	uint8_t visited;
	uint8_t main; /* S3-FIFO: on M, else on S */
	uint8_t freq; /* S3-FIFO: 0 to S3_FREQ_MAX */
};

struct m_pin {
	uint32_t val;
	uint16_t n; /* pins held */
	uint8_t dropped; /* left the cache; released by the last put */
	/* or released by the call that dropped it, at this time (ns) */
	uint64_t early;
};

struct m_state {
	uint64_t limit, total, age_cost;
	uint64_t small_target; /* S3-FIFO: S's share */
	uint32_t ghost_sized, ghost_nr[2]; /* S3-FIFO: slots of each tag */
	int32_t hand; /* SIEVE: index the next eviction examines; -1 oldest */
	uint8_t n, nr_pins, dead;
	uint8_t ghost_buckets; /* S3-FIFO: 0 when there is no ghost */
	uint8_t nr_pending[LIN_MAX_THREADS];
	struct m_ent q[M_MAX_ENTRIES];
	struct m_pin pins[M_MAX_PINNED]; /* sorted by value */
	uint16_t pending[LIN_MAX_THREADS][M_MAX_PENDING]; /* hit op indices */
	uint8_t ghost_cursor[M_GHOST_BUCKETS];
	uint32_t ghost[M_GHOST_BUCKETS][S3_GHOST_WAYS];
};

/* What one step expects to be released, in order. */
struct m_run {
	uint32_t rel[LIN_MAX_REL + 1];
	unsigned int nr;
};

struct memo_slot {
	uint64_t hash;
	uint64_t off;
	uint32_t len;
	uint32_t gen; /* empty unless the current check's generation */
};

#define NIL UINT32_MAX

struct ev {
	uint32_t op;
	bool call;
	uint32_t match; /* the other event of the op */
	uint32_t prev, next;
};

/*
 * Buffers one check leaves to the next on the same thread, so that
 * thousands of small checks do not each map, fault in and unmap the same
 * megabytes. The memo table is emptied by bumping the generation.
 */
struct bufs {
	struct memo_slot *memo;
	size_t memo_cap;
	uint32_t gen;
	uint8_t *arena;
	size_t arena_cap;
	struct m_state *succ, *tvar; /* grown on demand to M_MAX_SUCC */
	int succ_cap, tvar_cap;
	uint8_t *pack_buf;
	/* search, sized for LIN_MAX_OPS */
	struct ev *ev;
	struct frame *stack;
	uint64_t *set;
	uint32_t *best_op, *best_alt, *call_of;
};

struct ctx {
	const struct lin_history *h;
	enum lin_mode mode;
	const struct lin_op *ops;
	uint32_t n;
	unsigned int words; /* bitset words */
	struct bufs b;
	size_t memo_used, arena_len;
	unsigned long long budget;
	char *why; /* reason of the first refusal, when wanted */
	size_t why_len;
	const char *unknown; /* a bound was hit */
	uint32_t opi; /* the operation m_apply() is applying */
	bool full; /* the current step's successors reached M_MAX_SUCC */
	struct lin_stats st;
};

static const char *const kind_names[LIN_NR_KINDS] = {
	[LIN_INSERT] = "insert",
	[LIN_FIND] = "find",
	[LIN_REMOVE] = "remove",
	[LIN_ADD] = "add",
	[LIN_FIND_KEY] = "find_key",
	[LIN_REPLACE] = "replace",
	[LIN_REMOVE_KEY] = "remove_key",
	[LIN_KEY_VALID] = "key_valid",
	[LIN_GET] = "get",
	[LIN_GET_KEY] = "get_key",
	[LIN_PUT] = "entry_put",
	[LIN_SET_LIMIT] = "set_limit",
	[LIN_LIMIT] = "limit",
	[LIN_TOTAL_COST] = "total_cost",
	[LIN_COUNT] = "count",
	[LIN_CLEAR] = "clear",
	[LIN_SHRINK] = "shrink",
	[LIN_AGE] = "age",
	[LIN_STATS] = "stats",
	[LIN_DESTROY] = "destroy",
	[LIN_BAD_ARG] = "bad_arg",
	[LIN_CONTAINS] = "contains",
};

const char *lin_kind_name(unsigned int kind)
{
	return kind < LIN_NR_KINDS ? kind_names[kind] : "?";
}

static void why(struct ctx *cx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void why(struct ctx *cx, const char *fmt, ...)
{
	va_list ap;

	if (!cx->why || cx->why[0])
		return; /* not wanted, or the first reason is kept */
	va_start(ap, fmt);
	vsnprintf(cx->why, cx->why_len, fmt, ap);
	va_end(ap);
}

/* Room for state @i in *@buf (capacity *@cap); false past M_MAX_SUCC. */
static bool reserve(struct ctx *cx, struct m_state **buf, int *cap, int i)
{
	struct m_state *b;
	int n;

	if (i < *cap)
		return true;
	if (i >= M_MAX_SUCC) {
		cx->full = true;
		cx->st.truncated++; /* no LIN_FAIL then (search_run()) */
		return false;
	}
	n = *cap ? *cap * 4 : 8;
	if (n > M_MAX_SUCC)
		n = M_MAX_SUCC;
	b = realloc(*buf, (size_t)n * sizeof(*b));
	if (!b) {
		cx->unknown = "out of memory";
		return false;
	}
	*buf = b;
	*cap = n;
	return true;
}

/* ------------------------------------------------------------ the model */

static bool m_sieve(const struct ctx *cx)
{
	return cx->h->sieve;
}

static bool m_s3fifo(const struct ctx *cx)
{
	return cx->h->s3fifo;
}

static void m_init(struct ctx *cx, struct m_state *s)
{
	memset(s, 0, sizeof(*s));
	s->limit = cx->h->limit;
	s->small_target = s3_small_max(s->limit);
	s->hand = -1;
}

/*
 * Copy the parts of @src in use. The search copies states at every step,
 * and most of a state's arrays are empty; nothing reads past the counts.
 */
static void m_copy(struct m_state *dst, const struct m_state *src)
{
	memcpy(dst, src, offsetof(struct m_state, q));
	memcpy(dst->q, src->q, src->n * sizeof(src->q[0]));
	memcpy(dst->pins, src->pins, src->nr_pins * sizeof(src->pins[0]));
	for (unsigned int t = 0; t < LIN_MAX_THREADS; t++)
		if (src->nr_pending[t])
			memcpy(dst->pending[t], src->pending[t],
			       src->nr_pending[t] * sizeof(src->pending[t][0]));
	if (src->ghost_buckets) {
		memcpy(dst->ghost_cursor, src->ghost_cursor,
		       src->ghost_buckets);
		memcpy(dst->ghost, src->ghost,
		       src->ghost_buckets * sizeof(src->ghost[0]));
	}
}

static long m_find(const struct m_state *s, uint32_t key)
{
	for (unsigned int i = 0; i < s->n; i++)
		if (s->q[i].key == key)
			return i;
	return -1;
}

static long m_find_val(const struct m_state *s, uint32_t val)
{
	for (unsigned int i = 0; i < s->n; i++)
		if (s->q[i].val == val)
			return i;
	return -1;
}

static struct m_pin *m_pin_of(struct m_state *s, uint32_t val)
{
	for (unsigned int i = 0; i < s->nr_pins; i++)
		if (s->pins[i].val == val)
			return &s->pins[i];
	return NULL;
}

static bool m_pin_add(struct ctx *cx, struct m_state *s, uint32_t val)
{
	struct m_pin *p = m_pin_of(s, val);
	unsigned int i;

	if (p) {
		p->n++;
		return true;
	}
	if (s->nr_pins == M_MAX_PINNED) {
		cx->unknown = "more pinned values than the model holds";
		return false;
	}
	for (i = s->nr_pins; i && s->pins[i - 1].val > val; i--)
		s->pins[i] = s->pins[i - 1];
	s->pins[i] = (struct m_pin){ .val = val, .n = 1 };
	s->nr_pins++;
	return true;
}

static void m_pin_del(struct m_state *s, struct m_pin *p)
{
	unsigned int i = (unsigned int)(p - s->pins);

	memmove(&s->pins[i], &s->pins[i + 1],
		(s->nr_pins - i - 1) * sizeof(*p));
	s->nr_pins--;
	memset(&s->pins[s->nr_pins], 0, sizeof(*p));
}

static void m_expect(struct m_run *r, uint32_t val)
{
	if (r->nr <= LIN_MAX_REL)
		r->rel[r->nr] = val;
	r->nr++;
}

/* Forget queued touches of @val: it has left, they would do nothing. */
static void m_purge_touches(const struct ctx *cx, struct m_state *s,
			    uint32_t val)
{
	for (unsigned int t = 0; t < LIN_MAX_THREADS; t++) {
		unsigned int j = 0;

		for (unsigned int i = 0; i < s->nr_pending[t]; i++)
			if (cx->ops[s->pending[t][i]].out_val != val)
				s->pending[t][j++] = s->pending[t][i];
		for (unsigned int i = j; i < s->nr_pending[t]; i++)
			s->pending[t][i] = 0;
		s->nr_pending[t] = (uint8_t)j;
	}
}

/* When the call being applied released @val; 0: it did not, or untimed. */
static uint64_t m_release_time(const struct ctx *cx, uint32_t val)
{
	const struct lin_op *op = &cx->ops[cx->opi];

	for (unsigned int i = 0; i < op->nr_rel; i++)
		if (op->rel[i] == val)
			return op->rel_time[i];
	return 0;
}

/* The cache lets go of the entry at @i. */
static void m_drop(const struct ctx *cx, struct m_state *s, unsigned int i,
		   struct m_run *r)
{
	struct m_ent e = s->q[i];
	struct m_pin *p;

	memmove(&s->q[i], &s->q[i + 1], (s->n - i - 1) * sizeof(e));
	s->n--;
	memset(&s->q[s->n], 0, sizeof(e));
	s->total -= e.cost;
	if (s->hand > (int32_t)i)
		s->hand--;
	else if (s->hand == (int32_t)i && s->hand == (int32_t)s->n)
		s->hand = -1; /* it was the newest: wrap */
	if (!s->n)
		s->hand = -1;
	m_purge_touches(cx, s, e.val);
	p = m_pin_of(s, e.val);
	if (!p) {
		m_expect(r, e.val);
		return;
	}
	p->dropped = 1;
	/* its last pin put while this call ran: released here (Pins) */
	p->early = m_release_time(cx, e.val);
	if (p->early)
		m_expect(r, e.val);
}

static void m_touch(const struct ctx *cx, struct m_state *s, uint32_t val)
{
	long i = m_find_val(s, val);
	struct m_ent e;

	if (i < 0)
		return;
	if (m_s3fifo(cx)) {
		if (s->q[i].freq < S3_FREQ_MAX)
			s->q[i].freq++;
		return;
	}
	if (m_sieve(cx)) {
		s->q[i].visited = 1;
		return;
	}
	e = s->q[i];
	memmove(&s->q[i], &s->q[i + 1], (s->n - i - 1) * sizeof(e));
	s->q[s->n - 1] = e;
}

/* ---------------------------------------------------------- S3-FIFO */

/* A string key's policy hash: the index hash under the history's seed. */
static uint64_t m_hash(const struct ctx *cx, uint32_t key)
{
	return cx->h->key_hashes[key];
}

static void m_ghost_add(const struct ctx *cx, struct m_state *s, uint32_t key,
			bool main)
{
	uint64_t h;
	size_t b;

	if (!s->ghost_buckets || (key & M_HANDLE))
		return; /* no ghost, or a handle: it cannot come back */
	h = m_hash(cx, key);
	b = s3_bucket(h, s->ghost_buckets);
	s3_ghost_add(s->ghost[b], &s->ghost_cursor[b], s->ghost_nr, h, main);
}

/* The ghost takes @key (a new key of @cost): S's share adapts. */
static bool m_ghost_take(const struct ctx *cx, struct m_state *s, uint32_t key,
			 uint64_t cost)
{
	uint64_t h = m_hash(cx, key);
	size_t b = s3_bucket(h, s->ghost_buckets);
	int i = s3_ghost_find(s->ghost[b], h);
	bool main;

	if (i < 0)
		return false;
	main = s->ghost[b][i] & 1;
	s->small_target =
		s3_adapt(s->small_target, s->limit, s->ghost_nr, main, cost);
	s->ghost[b][i] = 0;
	s->ghost_nr[main]--;
	return true;
}

/* "Sizing", at the end of every call; only a stored one (@grow) grows. */
static bool m_ghost_size(struct ctx *cx, struct m_state *s, bool grow)
{
	uint64_t sized;
	size_t nb;

	if (!m_s3fifo(cx))
		return true;
	if (!s->n) {
		s->ghost_buckets = 0;
		s->ghost_sized = 0;
		s->ghost_nr[0] = s->ghost_nr[1] = 0;
		return true;
	}
	if (!grow || !s3_ghost_grow(s->ghost_buckets, s->ghost_sized, s->n,
				    s->total, s->limit))
		return true;
	sized = s3_ghost_sized(s->n, s->total, s->limit);
	nb = s3_ghost_buckets(sized);
	if (nb > M_GHOST_BUCKETS) {
		cx->unknown = "a larger ghost than the model holds";
		return false;
	}
	s->ghost_buckets = (uint8_t)nb;
	s->ghost_sized = (uint32_t)sized;
	s->ghost_nr[0] = s->ghost_nr[1] = 0;
	memset(s->ghost_cursor, 0, nb);
	memset(s->ghost, 0, nb * sizeof(s->ghost[0]));
	return true;
}

/* Entry @i to the new end of M (the array's end). */
static void m_to_main(struct m_state *s, unsigned int i)
{
	struct m_ent e = s->q[i];

	memmove(&s->q[i], &s->q[i + 1], (s->n - i - 1) * sizeof(e));
	e.main = 1;
	s->q[s->n - 1] = e;
}

/*
 * "One eviction": both queues in the one array, each queue's order the
 * array's order among its entries; the victim's key goes to the ghost.
 */
static unsigned int m_victim_s3fifo(const struct ctx *cx, struct m_state *s)
{
	for (;;) {
		uint64_t main_cost = 0;
		long small = -1, main = -1;
		unsigned int i;

		for (i = 0; i < s->n; i++) {
			if (s->q[i].main) {
				main_cost += s->q[i].cost;
				if (main < 0)
					main = i;
			} else if (small < 0) {
				small = i;
			}
		}
		if (main_cost > s->limit - s->small_target || small < 0) {
			i = (unsigned int)main;
			if (!s->q[i].freq) {
				m_ghost_add(cx, s, s->q[i].key, true);
				return i;
			}
			s->q[i].freq--;
			m_to_main(s, i);
			continue;
		}
		i = (unsigned int)small;
		if (s->q[i].freq >= S3_MOVE_HITS) {
			s->q[i].freq = 0;
			m_to_main(s, i);
			continue;
		}
		m_ghost_add(cx, s, s->q[i].key, false);
		return i;
	}
}

/* The index of the next victim (the model is not empty). */
static unsigned int m_victim(const struct ctx *cx, struct m_state *s)
{
	unsigned int h;

	if (m_s3fifo(cx))
		return m_victim_s3fifo(cx, s);
	if (!m_sieve(cx))
		return 0;
	h = s->hand < 0 ? 0 : (unsigned int)s->hand;
	while (s->q[h].visited) {
		s->q[h].visited = 0;
		if (++h == s->n)
			h = 0;
	}
	s->hand = (int32_t)h;
	return h;
}

static unsigned long m_evict(const struct ctx *cx, struct m_state *s,
			     uint64_t limit, struct m_run *r)
{
	unsigned long n = 0;

	while (s->total > limit && s->n) {
		m_drop(cx, s, m_victim(cx, s), r);
		n++;
	}
	return n;
}

static bool m_link(struct ctx *cx, struct m_state *s, uint32_t key,
		   uint32_t val, uint64_t cost, uint8_t main, uint8_t freq)
{
	if (s->n == M_MAX_ENTRIES) {
		cx->unknown = "more entries than the model holds";
		return false;
	}
	s->q[s->n++] = (struct m_ent){
		.key = key, .val = val, .cost = cost, .main = main, .freq = freq
	};
	s->total += cost;
	return true;
}

static void m_clear(const struct ctx *cx, struct m_state *s, struct m_run *r)
{
	/* S3-FIFO: S from its oldest, then M from its oldest */
	for (unsigned int i = 0; m_s3fifo(cx) && i < s->n;)
		if (!s->q[i].main)
			m_drop(cx, s, i, r);
		else
			i++;
	while (s->n)
		m_drop(cx, s, 0, r);
	s->hand = -1;
}

/* ------------------------------------------------------------ one step */

static const char *key_name(const struct ctx *cx, uint32_t key, char *buf,
			    size_t len)
{
	const struct lin_history *h = cx->h;

	if (key & M_HANDLE) {
		snprintf(buf, len, "h%u", key & ~M_HANDLE);
	} else if (h->key_names && key < h->nr_keys) {
		const char *k = h->key_names[key];

		if (strlen(k) > 12)
			snprintf(buf, len, "%.8s..(%zu)", k, strlen(k));
		else
			snprintf(buf, len, "\"%s\"", k);
	} else {
		snprintf(buf, len, "key%u", key);
	}
	return buf;
}

static bool m_lookup(struct ctx *cx, struct m_state *s, uint32_t opi,
		     uint32_t key)
{
	const struct lin_op *op = &cx->ops[opi];
	long p = key == (LIN_NONE | M_HANDLE) || key == LIN_NONE ?
			 -1 :
			 m_find(s, key);
	char kb[40];

	if (p < 0) {
		if (op->out_val) {
			why(cx, "returned v%u; the model has nothing under %s",
			    op->out_val, key_name(cx, key, kb, sizeof(kb)));
			return false;
		}
		return true;
	}
	if (op->out_val != s->q[p].val) {
		if (op->out_val)
			why(cx, "returned v%u; the model has v%u under %s",
			    op->out_val, s->q[p].val,
			    key_name(cx, key, kb, sizeof(kb)));
		else
			why(cx, "missed; the model has v%u under %s",
			    s->q[p].val, key_name(cx, key, kb, sizeof(kb)));
		return false;
	}
	if ((op->kind == LIN_GET || op->kind == LIN_GET_KEY) &&
	    op->out_cost != s->q[p].cost) {
		why(cx, "entry cost %" PRIu64 ", the model's %" PRIu64,
		    op->out_cost, s->q[p].cost);
		return false;
	}
	if (op->kind == LIN_GET || op->kind == LIN_GET_KEY)
		if (!m_pin_add(cx, s, op->out_val))
			return false;
	if (cx->mode == LIN_STRICT) {
		m_touch(cx, s, op->out_val);
	} else {
		unsigned int t = op->thread;

		if (s->nr_pending[t] == M_MAX_PENDING) {
			cx->unknown = "too many hits pending in one thread";
			return false;
		}
		s->pending[t][s->nr_pending[t]++] = (uint16_t)opi;
	}
	return true;
}

static bool m_ret(struct ctx *cx, const struct lin_op *op, int64_t want)
{
	if (op->ret == want)
		return true;
	why(cx, "returned %" PRId64 ", the model says %" PRId64, op->ret, want);
	return false;
}

static uint32_t op_key(const struct lin_op *op)
{
	switch (op->kind) {
	case LIN_FIND_KEY:
	case LIN_GET_KEY:
	case LIN_REPLACE:
	case LIN_REMOVE_KEY:
	case LIN_KEY_VALID:
		return op->key == LIN_NONE ? LIN_NONE : M_HANDLE | op->key;
	default:
		return op->key;
	}
}

/*
 * Apply op @opi to @s (touches already applied); false if its recorded
 * result is not what the model gives.
 */
static bool m_apply(struct ctx *cx, struct m_state *s, uint32_t opi)
{
	const struct lin_op *op = &cx->ops[opi];
	uint32_t key = op_key(op);
	struct m_run r = { .nr = 0 };
	struct m_pin *pin;
	uint8_t main = 0, freq = 0;
	bool stored = false;
	unsigned long n;
	long p;

	cx->opi = opi;
	if (s->dead && op->kind != LIN_PUT) {
		why(cx, "called after destroy");
		return false;
	}
	switch (op->kind) {
	case LIN_INSERT:
		p = m_find(s, key);
		if (op->arg > s->limit) {
			if (p >= 0)
				m_drop(cx, s, (unsigned int)p, &r);
			if (!m_ret(cx, op, -EFBIG))
				return false;
			break;
		}
		if (p >= 0) {
			/* an update keeps its queue and frequency */
			main = s->q[p].main;
			freq = s->q[p].freq;
		} else if (m_s3fifo(cx) && !s->ghost_buckets) {
			main = op->arg > s3_small_max(s->limit);
		} else if (m_s3fifo(cx) && m_ghost_take(cx, s, key, op->arg)) {
			main = 1;
		} else if (m_s3fifo(cx) && op->arg > s3_small_max(s->limit)) {
			/* refused, remembered; the value is not taken */
			m_ghost_add(cx, s, key, false);
			if (!m_ret(cx, op, M_NOT_ADMITTED))
				return false;
			break;
		}
		if (!m_ret(cx, op, 0))
			return false;
		if (p >= 0)
			m_drop(cx, s, (unsigned int)p, &r);
		m_evict(cx, s, s->limit - op->arg, &r);
		if (!m_link(cx, s, key, op->val, op->arg, main, freq))
			return false;
		stored = true;
		break;
	case LIN_ADD:
		if (op->arg > s->limit) {
			if (op->handle != LIN_NONE || op->ret != -EFBIG) {
				why(cx,
				    "cost %" PRIu64 " > limit %" PRIu64
				    ": want SC_KEY_NONE and EFBIG",
				    op->arg, s->limit);
				return false;
			}
			break;
		}
		if (op->handle == LIN_NONE) {
			why(cx, "failed (%" PRId64 "); the model stores it",
			    op->ret);
			return false;
		}
		if (m_find(s, M_HANDLE | op->handle) >= 0) {
			why(cx, "returned h%u, which is still valid",
			    op->handle);
			return false;
		}
		m_evict(cx, s, s->limit - op->arg, &r);
		main = m_s3fifo(cx) && op->arg > s3_small_max(s->limit);
		if (!m_link(cx, s, M_HANDLE | op->handle, op->val, op->arg,
			    main, 0))
			return false;
		stored = true;
		break;
	case LIN_REPLACE:
		p = key == LIN_NONE ? -1 : m_find(s, key);
		if (p < 0) {
			if (!m_ret(cx, op, -ENOENT))
				return false;
			break;
		}
		main = s->q[p].main;
		freq = s->q[p].freq;
		m_drop(cx, s, (unsigned int)p, &r);
		if (op->arg > s->limit) {
			if (!m_ret(cx, op, -EFBIG))
				return false;
			break;
		}
		if (!m_ret(cx, op, 0))
			return false;
		m_evict(cx, s, s->limit - op->arg, &r);
		if (!m_link(cx, s, key, op->val, op->arg, main, freq))
			return false;
		stored = true;
		break;
	case LIN_FIND:
	case LIN_GET:
	case LIN_FIND_KEY:
	case LIN_GET_KEY:
		if (!m_lookup(cx, s, opi, key))
			return false;
		break;
	case LIN_REMOVE:
	case LIN_REMOVE_KEY:
		p = key == LIN_NONE ? -1 : m_find(s, key);
		if (!m_ret(cx, op, p < 0 ? -ENOENT : 0))
			return false;
		if (p >= 0)
			m_drop(cx, s, (unsigned int)p, &r);
		break;
	case LIN_KEY_VALID:
	case LIN_CONTAINS:
		p = key == LIN_NONE ? -1 : m_find(s, key);
		if (!m_ret(cx, op, p >= 0))
			return false;
		break;
	case LIN_PUT:
		pin = m_pin_of(s, cx->ops[op->pin].out_val);
		if (!pin) {
			why(cx, "puts v%u, which the model holds no pin on",
			    cx->ops[op->pin].out_val);
			return false;
		}
		if (pin->early && op->call >= pin->early) {
			why(cx,
			    "puts v%u after the call that dropped it "
			    "released it",
			    pin->val);
			return false;
		}
		if (!--pin->n) {
			if (pin->dropped && !pin->early)
				m_expect(&r, pin->val);
			m_pin_del(s, pin);
		}
		break;
	case LIN_SET_LIMIT:
		if (!m_ret(cx, op, 0))
			return false;
		s->limit = op->arg;
		s->small_target = s3_small_max(op->arg);
		if (op->arg)
			m_evict(cx, s, op->arg, &r);
		else
			while (s->n) /* 0 evicts everything */
				m_drop(cx, s, m_victim(cx, s), &r);
		break;
	case LIN_LIMIT:
		if (!m_ret(cx, op, (int64_t)s->limit))
			return false;
		break;
	case LIN_TOTAL_COST:
		if (!m_ret(cx, op, (int64_t)s->total))
			return false;
		break;
	case LIN_COUNT:
		if (!m_ret(cx, op, s->n))
			return false;
		break;
	case LIN_CLEAR:
		m_clear(cx, s, &r);
		break;
	case LIN_DESTROY:
		m_clear(cx, s, &r);
		s->dead = 1;
		break;
	case LIN_SHRINK:
		for (n = 0; n < op->arg && s->n; n++)
			m_drop(cx, s, m_victim(cx, s), &r);
		if (!m_ret(cx, op, (int64_t)n))
			return false;
		break;
	case LIN_AGE:
		n = 0;
		if (s->age_cost == s->total) {
			n = m_evict(cx, s,
				    s->total / 4 * 3 + s->total % 4 * 3 / 4,
				    &r);
			if (!n && s->n) {
				m_drop(cx, s, m_victim(cx, s), &r);
				n = 1;
			}
		} else if (s->n) {
			m_drop(cx, s, m_victim(cx, s), &r);
			n = 1;
		}
		s->age_cost = s->total;
		if (!m_ret(cx, op, (int64_t)n))
			return false;
		break;
	case LIN_STATS: {
		uint64_t dropped = 0;

		for (unsigned int i = 0; i < s->nr_pins; i++)
			dropped += s->pins[i].dropped;
		if (op->ret || op->st_count != s->n ||
		    op->st_total != s->total || op->st_limit != s->limit ||
		    op->st_pinned != dropped) {
			why(cx,
			    "read count %" PRIu64 " total %" PRIu64
			    " limit %" PRIu64 " pinned %" PRIu64
			    "; the model has %u %" PRIu64 " %" PRIu64
			    " %" PRIu64,
			    op->st_count, op->st_total, op->st_limit,
			    op->st_pinned, s->n, s->total, s->limit, dropped);
			return false;
		}
		break;
	}
	case LIN_BAD_ARG:
		if (!m_ret(cx, op, (int64_t)op->arg))
			return false;
		break;
	default:
		why(cx, "unknown operation kind %u", op->kind);
		return false;
	}

	if (!m_ghost_size(cx, s, stored))
		return false;

	/* the values released inside the call: exactly the model's, in order */
	if (op->rel_overflow || r.nr > LIN_MAX_REL) {
		why(cx, "released more values than recorded");
		return false;
	}
	if (r.nr != op->nr_rel || memcmp(r.rel, op->rel, r.nr * 4)) {
		char got[160], want[160];
		size_t a = 0, b = 0;

		got[0] = want[0] = 0;
		for (unsigned int i = 0; i < op->nr_rel && a < 140; i++)
			a += (size_t)snprintf(got + a, sizeof(got) - a, " v%u",
					      op->rel[i]);
		for (unsigned int i = 0; i < r.nr && b < 140; i++)
			b += (size_t)snprintf(want + b, sizeof(want) - b,
					      " v%u", r.rel[i]);
		why(cx, "released [%s ]; the model releases [%s ]", got, want);
		return false;
	}
	return true;
}

static bool kind_orders(unsigned int kind)
{
	switch (kind) {
	case LIN_INSERT:
	case LIN_ADD:
	case LIN_REPLACE:
	case LIN_SET_LIMIT:
	case LIN_SHRINK:
	case LIN_AGE:
	case LIN_CLEAR:
	case LIN_DESTROY:
		return true;
	default:
		return false;
	}
}

/* ------------------------------------------------------------ packing */

static size_t m_pack(const struct m_state *s, uint8_t *b)
{
	size_t o = 0;

#define PUT(x)                                  \
	do {                                    \
		memcpy(b + o, &(x), sizeof(x)); \
		o += sizeof(x);                 \
	} while (0)
	PUT(s->limit);
	PUT(s->age_cost);
	PUT(s->hand);
	PUT(s->n);
	PUT(s->nr_pins);
	PUT(s->dead);
	PUT(s->small_target);
	PUT(s->ghost_sized);
	PUT(s->ghost_buckets);
	for (unsigned int i = 0; i < s->n; i++) {
		PUT(s->q[i].key);
		PUT(s->q[i].val);
		PUT(s->q[i].cost);
		PUT(s->q[i].visited);
		PUT(s->q[i].main);
		PUT(s->q[i].freq);
	}
	for (unsigned int i = 0; i < s->ghost_buckets; i++) {
		PUT(s->ghost_cursor[i]);
		PUT(s->ghost[i]);
	}
	for (unsigned int i = 0; i < s->nr_pins; i++) {
		PUT(s->pins[i].val);
		PUT(s->pins[i].n);
		PUT(s->pins[i].dropped);
		PUT(s->pins[i].early);
	}
	for (unsigned int t = 0; t < LIN_MAX_THREADS; t++) {
		PUT(s->nr_pending[t]);
		for (unsigned int i = 0; i < s->nr_pending[t]; i++)
			PUT(s->pending[t][i]);
	}
#undef PUT
	return o;
}

#define M_PACK_MAX                                                  \
	(96 + M_MAX_ENTRIES * sizeof(struct m_ent) +                \
	 M_MAX_PINNED * sizeof(struct m_pin) +                      \
	 LIN_MAX_THREADS * (1 + M_MAX_PENDING * sizeof(uint16_t)) + \
	 M_GHOST_BUCKETS * (1 + S3_GHOST_WAYS * sizeof(uint32_t)))

/* ------------------------------------------------- touches applied late */

struct tv_walk {
	struct ctx *cx;
	const struct m_state *base;
	unsigned int take[LIN_MAX_THREADS]; /* touches applied per thread */
	/* LRU: each thread's chosen touches, a value only at its last */
	uint32_t seq[LIN_MAX_THREADS][M_MAX_PENDING];
	uint64_t seq_call[LIN_MAX_THREADS][M_MAX_PENDING]; /* of each hit */
	unsigned int seq_len[LIN_MAX_THREADS], done[LIN_MAX_THREADS];
	/* LRU: values placed so far, newest first; SIEVE: values to mark */
	uint32_t order[LIN_MAX_THREADS * M_MAX_PENDING];
	unsigned int len, total;
	int nr;
};

/*
 * One successor: @w->order applied (LRU: placed newest first, so touched
 * oldest first), the chosen touches taken off the queues. Every call
 * makes a state different from the others of the same step: different
 * takes leave different queues, and the same takes give a different
 * order of the touched values. Duplicates after the operation itself are
 * left to the memo, which refuses a configuration met before.
 */
static void tv_emit(struct tv_walk *w)
{
	struct ctx *cx = w->cx;
	struct m_state *s;

	if (!reserve(cx, &cx->b.tvar, &cx->b.tvar_cap, w->nr))
		return;
	s = &cx->b.tvar[w->nr];
	m_copy(s, w->base);
	if (m_sieve(cx) || m_s3fifo(cx))
		for (unsigned int i = 0; i < w->len; i++)
			m_touch(cx, s, w->order[i]);
	else
		for (unsigned int i = w->len; i--;)
			m_touch(cx, s, w->order[i]);
	for (unsigned int t = 0; t < LIN_MAX_THREADS; t++) {
		unsigned int k = w->take[t], left = s->nr_pending[t] - k;

		memmove(s->pending[t], s->pending[t] + k, left * 2);
		memset(s->pending[t] + left, 0, k * 2);
		s->nr_pending[t] = (uint8_t)left;
	}
	w->nr++;
}

static bool tv_placed(const struct tv_walk *w, uint32_t v)
{
	for (unsigned int i = 0; i < w->len; i++)
		if (w->order[i] == v)
			return true;
	return false;
}

/*
 * LRU: every distinct order the chosen touches can leave, each once.
 * Moving entries to the end leaves the touched ones in the order of
 * their last touches, so the result of an interleaving is read from its
 * end: the last touch's value is newest, then the last touch of another
 * value, and so on. Walking the threads' sequences from their ends, a
 * touch of a value already placed changes nothing and is passed over at
 * once (in an interleaving it can always come later than the touch that
 * placed its value); the next value placed is one at the end of what is
 * left of some thread's sequence. Each choice places a different value,
 * so no order is produced twice, and the work is proportional to the
 * orders produced, not to the interleavings (which grow as a multinomial
 * in the number of hits pending).
 */
static void tv_orders(struct tv_walk *w)
{
	unsigned int saved[LIN_MAX_THREADS];
	uint32_t tried[LIN_MAX_THREADS];
	unsigned int nr_tried = 0;

	memcpy(saved, w->done, sizeof(saved));
	for (unsigned int t = 0; t < LIN_MAX_THREADS; t++)
		while (w->done[t] < w->seq_len[t] &&
		       tv_placed(w, w->seq[t][w->seq_len[t] - 1 - w->done[t]]))
			w->done[t]++;
	if (w->len == w->total) {
		tv_emit(w);
		goto out;
	}
	/*
	 * Latest hit first: the cache applies its logs in about the order
	 * the hits were made, so that order is the likeliest and, tried
	 * first, keeps the search from wandering.
	 */
	for (;;) {
		unsigned int t = LIN_MAX_THREADS;
		uint64_t latest = 0;
		uint32_t v;

		for (unsigned int u = 0; u < LIN_MAX_THREADS; u++) {
			unsigned int i = w->seq_len[u] - 1 - w->done[u];
			bool dup = false;

			if (w->done[u] == w->seq_len[u])
				continue;
			for (unsigned int k = 0; k < nr_tried; k++)
				dup |= tried[k] == w->seq[u][i];
			if (dup)
				continue;
			if (t == LIN_MAX_THREADS ||
			    w->seq_call[u][i] > latest) {
				t = u;
				latest = w->seq_call[u][i];
			}
		}
		if (t == LIN_MAX_THREADS || w->cx->unknown || w->cx->full)
			break;
		v = w->seq[t][w->seq_len[t] - 1 - w->done[t]];
		tried[nr_tried++] = v;
		w->order[w->len++] = v;
		w->done[t]++;
		tv_orders(w);
		w->done[t]--;
		w->len--;
	}
out:
	memcpy(w->done, saved, sizeof(saved));
}

static void tv_choose(struct tv_walk *w, unsigned int t, const uint64_t *must)
{
	const struct m_state *b = w->base;
	const struct lin_op *ops = w->cx->ops;

	if (t == LIN_MAX_THREADS) {
		w->len = w->total = 0;
		if (m_sieve(w->cx) || m_s3fifo(w->cx)) {
			/*
			 * Setting visited bits commutes, and so do S3-FIFO's
			 * capped increments: one order will do. Each touch
			 * taken is applied, twice the same value counting
			 * twice: how many of a thread's hits are taken is
			 * the choice, not only which values.
			 */
			for (unsigned int i = 0; i < LIN_MAX_THREADS; i++)
				for (unsigned int j = 0; j < w->take[i]; j++)
					w->order[w->len++] =
						ops[b->pending[i][j]].out_val;
			tv_emit(w);
			return;
		}
		for (unsigned int i = 0; i < LIN_MAX_THREADS; i++) {
			w->seq_len[i] = 0;
			w->done[i] = 0;
			for (unsigned int j = 0; j < w->take[i]; j++) {
				const struct lin_op *hit =
					&ops[b->pending[i][j]];
				bool again = false, seen = false;

				for (unsigned int k = j + 1; k < w->take[i];
				     k++)
					again |=
						ops[b->pending[i][k]].out_val ==
						hit->out_val;
				if (again)
					continue;
				for (unsigned int k = 0; k < i; k++)
					for (unsigned int l = 0;
					     l < w->seq_len[k]; l++)
						seen |= w->seq[k][l] ==
							hit->out_val;
				w->total += !seen;
				w->seq_call[i][w->seq_len[i]] = hit->call;
				w->seq[i][w->seq_len[i]++] = hit->out_val;
			}
		}
		tv_orders(w);
		return;
	}
	/*
	 * Every queued hit applied first: a cache that applies its logs when
	 * a write starts has applied every hit logged by then, so that is
	 * the likeliest successor, and trying it first keeps the search from
	 * wandering.
	 */
	for (unsigned int k = b->nr_pending[t] + 1; k-- > must[t];) {
		w->take[t] = k;
		tv_choose(w, t + 1, must);
		if (w->cx->unknown || w->cx->full)
			return;
	}
}

/*
 * The states @s may be in when op @opi chooses victims: queued touches of
 * hits that returned before it was invoked applied, later ones optionally
 * (all of them for destroy). Returns how many, in cx->b.tvar.
 */
static int m_touch_variants(struct ctx *cx, const struct m_state *s,
			    uint32_t opi)
{
	const struct lin_op *op = &cx->ops[opi];
	struct tv_walk w = { .cx = cx, .base = s };
	uint64_t must[LIN_MAX_THREADS];
	bool any = false;

	for (unsigned int t = 0; t < LIN_MAX_THREADS; t++) {
		unsigned int m = 0;

		while (m < s->nr_pending[t] &&
		       (op->kind == LIN_DESTROY ||
			cx->ops[s->pending[t][m]].ret_time < op->call))
			m++;
		must[t] = m;
		any |= s->nr_pending[t] != 0;
	}
	if (!any) {
		m_copy(&cx->b.tvar[0], s); /* there is always room for one */
		return 1;
	}
	tv_choose(&w, 0, must);
	return w.nr;
}

/*
 * Every state op @opi can leave @s in, in cx->b.succ. Two of them may be
 * equal (a clear after different orders of the same entries): the memo
 * refuses the second.
 */
static int m_step(struct ctx *cx, const struct m_state *s, uint32_t opi)
{
	const struct lin_op *op = &cx->ops[opi];
	int nv = 1, ns = 0;

	cx->st.steps++;
	cx->full = false;
	if (cx->mode == LIN_GUARANTEE && kind_orders(op->kind) && !s->dead)
		nv = m_touch_variants(cx, s, opi);
	else
		m_copy(&cx->b.tvar[0], s);
	for (int v = 0; v < nv && !cx->unknown; v++) {
		struct m_state *o;

		if (!reserve(cx, &cx->b.succ, &cx->b.succ_cap, ns))
			break;
		o = &cx->b.succ[ns];
		m_copy(o, &cx->b.tvar[v]);
		if (m_apply(cx, o, opi))
			ns++;
	}
	if (ns > (int)cx->st.max_succ)
		cx->st.max_succ = (unsigned int)ns;
	return cx->unknown ? 0 : ns;
}

/* ------------------------------------------------------------ memo */

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static uint64_t hash_bytes(const uint8_t *b, size_t n)
{
	uint64_t h = 0x51ed270b27a3c6d1ull ^ n;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t v;

		memcpy(&v, b + i, 8);
		h = mix(h, v);
	}
	if (i < n) {
		uint64_t v = 0;

		memcpy(&v, b + i, n - i);
		h = mix(h, v);
	}
	return h;
}

static bool memo_grow(struct ctx *cx)
{
	size_t cap = cx->b.memo_cap ? cx->b.memo_cap * 2 : 1u << 10;
	struct memo_slot *m = calloc(cap, sizeof(*m));

	if (!m)
		return false;
	for (size_t i = 0; i < cx->b.memo_cap; i++) {
		size_t j;

		if (cx->b.memo[i].gen != cx->b.gen)
			continue;
		for (j = cx->b.memo[i].hash & (cap - 1); m[j].gen == cx->b.gen;
		     j = (j + 1) & (cap - 1))
			;
		m[j] = cx->b.memo[i];
	}
	free(cx->b.memo);
	cx->b.memo = m;
	cx->b.memo_cap = cap;
	return true;
}

/* Add (@set, @s); false if it was there already (or memory ran out). */
static bool memo_add(struct ctx *cx, const uint64_t *set,
		     const struct m_state *s)
{
	uint8_t *b = cx->b.pack_buf;
	size_t len, j;
	uint64_t hash;

	memcpy(b, set, cx->words * 8);
	len = cx->words * 8 + m_pack(s, b + cx->words * 8);
	hash = hash_bytes(b, len);
	if ((cx->memo_used + 1) * 2 > cx->b.memo_cap && !memo_grow(cx)) {
		cx->unknown = "out of memory";
		return false;
	}
	for (j = hash & (cx->b.memo_cap - 1); cx->b.memo[j].gen == cx->b.gen;
	     j = (j + 1) & (cx->b.memo_cap - 1)) {
		const struct memo_slot *m = &cx->b.memo[j];

		if (m->hash == hash && m->len == len &&
		    !memcmp(cx->b.arena + m->off, b, len))
			return false;
	}
	if (cx->arena_len + len > cx->b.arena_cap) {
		size_t cap = cx->b.arena_cap ? cx->b.arena_cap * 2 : 1u << 16;
		uint8_t *a = realloc(cx->b.arena, cap);

		if (!a) {
			cx->unknown = "out of memory";
			return false;
		}
		cx->b.arena = a;
		cx->b.arena_cap = cap;
	}
	memcpy(cx->b.arena + cx->arena_len, b, len);
	cx->b.memo[j] = (struct memo_slot){ hash, cx->arena_len, (uint32_t)len,
					    cx->b.gen };
	cx->arena_len += len;
	cx->memo_used++;
	cx->st.states++;
	if (cx->memo_used > cx->budget)
		cx->unknown = "search budget exhausted";
	return true;
}

/* ------------------------------------------------------------ search */

struct frame {
	uint32_t ev;
	uint32_t alt; /* next successor to try */
	struct m_state prev;
};

struct search {
	struct ev *ev; /* [0] is the head */
	struct frame *stack;
	uint32_t depth;
	uint64_t *set;
	/* deepest linearization: op and successor index per position */
	uint32_t *best_op, *best_alt, best_depth;
};

/* lin_explain() replays the deepest linearization after the search. */

static int ev_cmp(const void *a, const void *b, void *arg)
{
	const struct ev *x = a, *y = b;
	const struct lin_op *ops = arg;
	uint64_t tx = x->call ? ops[x->op].call : ops[x->op].ret_time;
	uint64_t ty = y->call ? ops[y->op].call : ops[y->op].ret_time;

	if (tx != ty)
		return tx < ty ? -1 : 1;
	/* at equal times calls first: such operations count as concurrent */
	if (x->call != y->call)
		return x->call ? -1 : 1;
	return x->op < y->op ? -1 : x->op > y->op;
}

static void lift(struct ev *ev, uint32_t e)
{
	uint32_t m = ev[e].match;

	ev[ev[e].prev].next = ev[e].next;
	ev[ev[e].next].prev = ev[e].prev;
	ev[ev[m].prev].next = ev[m].next;
	if (ev[m].next != NIL)
		ev[ev[m].next].prev = ev[m].prev;
}

static void unlift(struct ev *ev, uint32_t e)
{
	uint32_t m = ev[e].match;

	ev[ev[m].prev].next = m;
	if (ev[m].next != NIL)
		ev[ev[m].next].prev = m;
	ev[ev[e].prev].next = e;
	ev[ev[e].next].prev = e;
}

static bool final_ok(const struct m_state *s)
{
	/* a value released by its dropper while this pin was still out */
	for (unsigned int i = 0; i < s->nr_pins; i++)
		if (s->pins[i].early)
			return false;
	/* after destroy and every put, nothing may be left unreleased */
	return !s->dead || (!s->n && !s->nr_pins);
}

static __thread struct bufs spare_bufs;

static void bufs_free(struct bufs *b)
{
	free(b->memo);
	free(b->arena);
	free(b->succ);
	free(b->tvar);
	free(b->pack_buf);
	free(b->ev);
	free(b->stack);
	free(b->set);
	free(b->best_op);
	free(b->best_alt);
	free(b->call_of);
	memset(b, 0, sizeof(*b));
}

static void ctx_free(struct ctx *cx)
{
	/* back to the spare, unless a nested check has put its own there */
	if (!spare_bufs.pack_buf)
		spare_bufs = cx->b;
	else
		bufs_free(&cx->b);
	memset(&cx->b, 0, sizeof(cx->b));
}

static bool ctx_init(struct ctx *cx, const struct lin_history *h,
		     enum lin_mode mode, unsigned long long budget)
{
	const size_t n = LIN_MAX_OPS;
	struct bufs *b = &cx->b;

	memset(cx, 0, sizeof(*cx));
	cx->h = h;
	cx->mode = mode;
	cx->ops = h->ops;
	cx->n = h->nr_ops;
	cx->words = (h->nr_ops + 63) / 64;
	cx->budget = budget ? budget : LIN_DEFAULT_BUDGET;
	*b = spare_bufs;
	memset(&spare_bufs, 0, sizeof(spare_bufs));
	if (!++b->gen) {
		/* generations wrapped: empty the table for real */
		if (b->memo)
			memset(b->memo, 0, b->memo_cap * sizeof(*b->memo));
		b->gen = 1;
	}
	if (!b->pack_buf) {
		b->pack_buf = malloc(2 * M_PACK_MAX + n / 8 + 64);
		b->ev = malloc((2 * n + 1) * sizeof(*b->ev));
		b->stack = malloc((n + 1) * sizeof(*b->stack));
		b->set = malloc((n / 64 + 1) * 8);
		b->best_op = malloc((n + 1) * 4);
		b->best_alt = malloc((n + 1) * 4);
		b->call_of = malloc(n * 4);
	}
	if (!b->pack_buf || !b->ev || !b->stack || !b->set || !b->best_op ||
	    !b->best_alt || !b->call_of ||
	    !reserve(cx, &b->succ, &b->succ_cap, 0) ||
	    !reserve(cx, &b->tvar, &b->tvar_cap, 0)) {
		bufs_free(b);
		return false;
	}
	return true;
}

static bool history_sane(const struct lin_history *h, const char **err)
{
	if (h->nr_ops > LIN_MAX_OPS) {
		*err = "history longer than LIN_MAX_OPS";
		return false;
	}
	if (h->s3fifo && (h->sieve || !h->key_hashes)) {
		*err = "S3-FIFO needs the keys' hashes, and no other policy";
		return false;
	}
	for (uint32_t i = 0; i < h->nr_ops; i++) {
		const struct lin_op *op = &h->ops[i];

		if (op->thread >= LIN_MAX_THREADS || op->kind >= LIN_NR_KINDS ||
		    op->ret_time < op->call ||
		    (h->s3fifo && op->kind == LIN_INSERT &&
		     op->key >= h->nr_keys)) {
			*err = "malformed operation";
			return false;
		}
		if (op->kind == LIN_PUT &&
		    (op->pin >= h->nr_ops ||
		     (h->ops[op->pin].kind != LIN_GET &&
		      h->ops[op->pin].kind != LIN_GET_KEY) ||
		     !h->ops[op->pin].out_val)) {
			*err = "a put whose get is not a hit of the history";
			return false;
		}
	}
	return true;
}

static enum lin_verdict search_run(struct ctx *cx, struct search *sr)
{
	struct ev *ev;
	struct m_state state;
	uint32_t n = cx->n, e, alt = 0;

	ev = sr->ev = cx->b.ev;
	sr->stack = cx->b.stack;
	sr->set = cx->b.set;
	sr->best_op = cx->b.best_op;
	sr->best_alt = cx->b.best_alt;
	sr->depth = sr->best_depth = 0;
	memset(sr->set, 0, (cx->words + 1) * 8);
	for (uint32_t i = 0; i < n; i++) {
		ev[1 + 2 * i] = (struct ev){ .op = i, .call = true };
		ev[2 + 2 * i] = (struct ev){ .op = i, .call = false };
	}
	qsort_r(ev + 1, 2 * n, sizeof(*ev), ev_cmp, (void *)cx->ops);
	{
		uint32_t *call_of = cx->b.call_of;

		for (uint32_t i = 1; i <= 2 * n; i++)
			if (ev[i].call)
				call_of[ev[i].op] = i;
		for (uint32_t i = 1; i <= 2 * n; i++) {
			if (ev[i].call)
				continue;
			ev[i].match = call_of[ev[i].op];
			ev[call_of[ev[i].op]].match = i;
		}
	}
	for (uint32_t i = 0; i <= 2 * n; i++) {
		ev[i].prev = i ? i - 1 : NIL;
		ev[i].next = i < 2 * n ? i + 1 : NIL;
	}

	m_init(cx, &state);
	e = ev[0].next;
	for (;;) {
		if (cx->unknown)
			return LIN_UNKNOWN;
		if (ev[0].next == NIL) {
			if (final_ok(&state))
				return LIN_OK;
			goto backtrack;
		}
		if (ev[e].call) {
			uint32_t op = ev[e].op;
			int ns = m_step(cx, &state, op);
			bool found = false;

			sr->set[op / 64] |= 1ull << (op % 64);
			for (uint32_t i = alt; i < (uint32_t)ns; i++) {
				if (!memo_add(cx, sr->set, &cx->b.succ[i])) {
					if (cx->unknown)
						return LIN_UNKNOWN;
					continue;
				}
				sr->stack[sr->depth].ev = e;
				sr->stack[sr->depth].alt = i + 1;
				m_copy(&sr->stack[sr->depth].prev, &state);
				sr->depth++;
				m_copy(&state, &cx->b.succ[i]);
				lift(ev, e);
				if (sr->depth > sr->best_depth) {
					for (uint32_t d = 0; d < sr->depth;
					     d++) {
						sr->best_op[d] =
							ev[sr->stack[d].ev].op;
						sr->best_alt[d] =
							sr->stack[d].alt - 1;
					}
					sr->best_depth = sr->depth;
				}
				if (sr->depth > cx->st.max_depth)
					cx->st.max_depth = sr->depth;
				found = true;
				break;
			}
			if (found) {
				e = ev[0].next;
				alt = 0;
			} else {
				sr->set[op / 64] &= ~(1ull << (op % 64));
				e = ev[e].next;
				alt = 0;
			}
			continue;
		}
backtrack:
		if (!sr->depth) {
			/* a step not tried in full proves nothing either way */
			if (cx->st.truncated) {
				cx->unknown = "too many successor states";
				return LIN_UNKNOWN;
			}
			return LIN_FAIL;
		}
		cx->st.backtracks++;
		sr->depth--;
		e = sr->stack[sr->depth].ev;
		m_copy(&state, &sr->stack[sr->depth].prev);
		alt = sr->stack[sr->depth].alt;
		sr->set[ev[e].op / 64] &= ~(1ull << (ev[e].op % 64));
		unlift(ev, e);
	}
}

enum lin_verdict lin_check(const struct lin_history *h, enum lin_mode mode,
			   unsigned long long budget, struct lin_stats *st)
{
	struct search sr = { 0 };
	enum lin_verdict v;
	const char *err = NULL;
	struct ctx cx;

	if (st)
		memset(st, 0, sizeof(*st));
	if (!history_sane(h, &err)) {
		if (st)
			st->unknown_why = err;
		return LIN_UNKNOWN;
	}
	if (!ctx_init(&cx, h, mode, budget)) {
		if (st)
			st->unknown_why = "out of memory";
		return LIN_UNKNOWN;
	}
	v = search_run(&cx, &sr);
	if (st) {
		*st = cx.st;
		st->unknown_why = v == LIN_UNKNOWN ? cx.unknown : NULL;
	}
	ctx_free(&cx);
	return v;
}

/* ------------------------------------------------------------ printing */

static void print_vals(FILE *out, const uint32_t *v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		fprintf(out, " v%u", v[i]);
}

static void print_key_arg(FILE *out, const struct ctx *cx,
			  const struct lin_op *op)
{
	char kb[40];

	if (op->key == LIN_NONE) {
		fprintf(out, "SC_KEY_NONE");
		return;
	}
	fprintf(out, "%s", key_name(cx, M_HANDLE | op->key, kb, sizeof(kb)));
	if (op->raw_key)
		fprintf(out, "=%#" PRIx64, op->raw_key);
}

static void print_op(FILE *out, const struct ctx *cx, uint32_t i, uint64_t t0)
{
	const struct lin_op *op = &cx->ops[i];
	char kb[40];

	fprintf(out, "  #%-4u t%u %9.3f..%9.3f us  %s(", i, op->thread,
		(double)(op->call - t0) / 1e3,
		(double)(op->ret_time - t0) / 1e3, lin_kind_name(op->kind));
	switch (op->kind) {
	case LIN_INSERT:
		fprintf(out, "%s, v%u, %" PRIu64 ") = %" PRId64,
			key_name(cx, op->key, kb, sizeof(kb)), op->val, op->arg,
			op->ret);
		break;
	case LIN_FIND:
	case LIN_GET:
		fprintf(out, "%s) = ", key_name(cx, op->key, kb, sizeof(kb)));
		goto lookup;
	case LIN_FIND_KEY:
	case LIN_GET_KEY:
		print_key_arg(out, cx, op);
		fprintf(out, ") = ");
lookup:
		if (op->out_val)
			fprintf(out, "v%u", op->out_val);
		else
			fprintf(out, "NULL");
		if ((op->kind == LIN_GET || op->kind == LIN_GET_KEY) &&
		    op->out_val)
			fprintf(out, " (cost %" PRIu64 ")", op->out_cost);
		break;
	case LIN_REMOVE:
	case LIN_CONTAINS:
		fprintf(out, "%s) = %" PRId64,
			key_name(cx, op->key, kb, sizeof(kb)), op->ret);
		break;
	case LIN_ADD:
		fprintf(out, "v%u, %" PRIu64 ") = ", op->val, op->arg);
		if (op->handle == LIN_NONE)
			fprintf(out, "SC_KEY_NONE (%" PRId64 ")", op->ret);
		else
			fprintf(out, "h%u=%#" PRIx64, op->handle, op->raw_key);
		break;
	case LIN_REPLACE:
		print_key_arg(out, cx, op);
		fprintf(out, ", v%u, %" PRIu64 ") = %" PRId64, op->val, op->arg,
			op->ret);
		break;
	case LIN_REMOVE_KEY:
	case LIN_KEY_VALID:
		print_key_arg(out, cx, op);
		fprintf(out, ") = %" PRId64, op->ret);
		break;
	case LIN_PUT:
		fprintf(out, "#%u: v%u)", op->pin, cx->ops[op->pin].out_val);
		break;
	case LIN_SET_LIMIT:
	case LIN_SHRINK:
		fprintf(out, "%" PRIu64 ") = %" PRId64, op->arg, op->ret);
		break;
	case LIN_STATS:
		fprintf(out,
			") = count %" PRIu64 " total %" PRIu64 " limit %" PRIu64
			" pinned %" PRIu64,
			op->st_count, op->st_total, op->st_limit,
			op->st_pinned);
		break;
	case LIN_BAD_ARG:
		fprintf(out, "%s) = %" PRId64, op->what ? op->what : "?",
			op->ret);
		break;
	case LIN_CLEAR:
	case LIN_DESTROY:
		fprintf(out, ")");
		break;
	default:
		fprintf(out, ") = %" PRId64, op->ret);
	}
	if (op->nr_rel || op->rel_overflow) {
		fprintf(out, ", released");
		print_vals(out, op->rel, op->nr_rel);
		if (op->rel_overflow)
			fprintf(out, " ...");
	}
	fputc('\n', out);
}

static void print_state(FILE *out, const struct ctx *cx,
			const struct m_state *s)
{
	char kb[40];

	fprintf(out, "    %s, first to go first:",
		m_s3fifo(cx) ? "S3-FIFO (S: small, M: main, +freq)" :
		m_sieve(cx)  ? "SIEVE, insertion order" :
			       "LRU");
	for (unsigned int i = 0; i < s->n; i++) {
		fprintf(out, "%s %s=v%u/%" PRIu64 "%s",
			m_sieve(cx) && (int32_t)i == s->hand ? " >" : "",
			key_name(cx, s->q[i].key, kb, sizeof(kb)), s->q[i].val,
			s->q[i].cost, s->q[i].visited ? "*" : "");
		if (m_s3fifo(cx))
			fprintf(out, "%c+%u", s->q[i].main ? 'M' : 'S',
				s->q[i].freq);
	}
	if (m_s3fifo(cx)) {
		fprintf(out, "\n    S's share %" PRIu64 "; ", s->small_target);
		if (!s->ghost_buckets)
			fprintf(out, "no ghost");
		else
			fprintf(out,
				"ghost of %u buckets (sized for %u), %u keys "
				"that left S, %u that left M",
				s->ghost_buckets, s->ghost_sized,
				s->ghost_nr[0], s->ghost_nr[1]);
		for (unsigned int b = 0; b < s->ghost_buckets; b++) {
			fprintf(out, "\n      bucket %u (cursor %u):", b,
				s->ghost_cursor[b]);
			for (unsigned int i = 0; i < S3_GHOST_WAYS; i++)
				fprintf(out, " %08x", s->ghost[b][i]);
		}
	}
	fprintf(out,
		"\n    total %" PRIu64 ", limit %" PRIu64
		", age step total %" PRIu64 "%s\n",
		s->total, s->limit, s->age_cost, s->dead ? ", destroyed" : "");
	if (s->nr_pins) {
		fprintf(out, "    pinned:");
		for (unsigned int i = 0; i < s->nr_pins; i++)
			fprintf(out, " v%u x%u%s", s->pins[i].val, s->pins[i].n,
				s->pins[i].early ?
					" (released by its dropper)" :
				s->pins[i].dropped ? " (dropped)" :
						     "");
		fputc('\n', out);
	}
	for (unsigned int t = 0; t < LIN_MAX_THREADS; t++) {
		if (!s->nr_pending[t])
			continue;
		fprintf(out, "    hits of t%u not applied yet:", t);
		for (unsigned int i = 0; i < s->nr_pending[t]; i++)
			fprintf(out, " #%u(v%u)", s->pending[t][i],
				cx->ops[s->pending[t][i]].out_val);
		fputc('\n', out);
	}
}

static int op_call_cmp(const void *a, const void *b, void *arg)
{
	const struct lin_op *ops = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (ops[x].call != ops[y].call)
		return ops[x].call < ops[y].call ? -1 : 1;
	return x < y ? -1 : x > y;
}

static uint32_t *order_by_call(const struct lin_history *h)
{
	uint32_t *ord = malloc((h->nr_ops + 1) * 4);

	if (!ord)
		return NULL;
	for (uint32_t i = 0; i < h->nr_ops; i++)
		ord[i] = i;
	qsort_r(ord, h->nr_ops, 4, op_call_cmp, (void *)h->ops);
	return ord;
}

static uint64_t first_call(const struct lin_history *h)
{
	uint64_t t0 = UINT64_MAX;

	for (uint32_t i = 0; i < h->nr_ops; i++)
		if (h->ops[i].call < t0)
			t0 = h->ops[i].call;
	return h->nr_ops ? t0 : 0;
}

void lin_print_history(FILE *out, const struct lin_history *h)
{
	uint32_t *ord = order_by_call(h);
	uint64_t t0 = first_call(h);
	struct ctx cx = { .h = h, .ops = h->ops, .n = h->nr_ops };

	if (!ord)
		return;
	for (uint32_t i = 0; i < h->nr_ops; i++)
		print_op(out, &cx, ord[i], t0);
	free(ord);
}

/* The first @k operations of @h by invocation, renumbered. */
static struct lin_op *prefix_ops(const struct lin_history *h,
				 const uint32_t *ord, uint32_t k)
{
	struct lin_op *ops = malloc((k + 1) * sizeof(*ops));
	uint32_t *newidx = malloc((h->nr_ops + 1) * 4);

	if (!ops || !newidx) {
		free(ops);
		free(newidx);
		return NULL;
	}
	for (uint32_t i = 0; i < h->nr_ops; i++)
		newidx[i] = UINT32_MAX;
	for (uint32_t i = 0; i < k; i++)
		newidx[ord[i]] = i;
	for (uint32_t i = 0; i < k; i++) {
		ops[i] = h->ops[ord[i]];
		if (ops[i].kind == LIN_PUT)
			ops[i].pin = newidx[ops[i].pin];
	}
	free(newidx);
	return ops;
}

void lin_explain(FILE *out, const struct lin_history *h, enum lin_mode mode)
{
	uint32_t *ord = order_by_call(h);
	struct lin_history sub = *h;
	struct lin_op *ops = NULL;
	struct search sr = { 0 };
	struct m_state state;
	char reason[512];
	uint64_t t0 = first_call(h);
	uint32_t k;
	struct ctx cx;
	enum lin_verdict v = LIN_OK;

	if (!ord)
		return;
	/*
	 * The shortest failing closed prefix: operations in order of
	 * invocation, up to one after which nothing starts before all of
	 * them have returned. Operations left out can only be linearized
	 * after all those kept, so a prefix that fails proves the whole
	 * history does (an arbitrary prefix would not: an operation left
	 * out might have to come before one kept).
	 */
	for (k = 1; k <= h->nr_ops; k++) {
		uint64_t end = 0;

		for (uint32_t i = 0; i < k; i++)
			if (h->ops[ord[i]].ret_time > end)
				end = h->ops[ord[i]].ret_time;
		while (k < h->nr_ops && h->ops[ord[k]].call <= end) {
			if (h->ops[ord[k]].ret_time > end)
				end = h->ops[ord[k]].ret_time;
			k++;
		}
		free(ops);
		ops = prefix_ops(h, ord, k);
		if (!ops)
			break;
		sub.ops = ops;
		sub.nr_ops = k;
		v = lin_check(&sub, mode, 0, NULL);
		if (v != LIN_OK)
			break;
	}
	free(ord);
	if (!ops || k > h->nr_ops) {
		fprintf(out, "lincheck: no failing prefix found\n");
		free(ops);
		return;
	}
	fprintf(out,
		"lincheck: not linearizable (%s, %s mode): the shortest "
		"failing closed prefix has %u of the %u operations%s:\n",
		h->s3fifo ? "S3-FIFO" :
		h->sieve  ? "SIEVE" :
			    "exact LRU",
		mode == LIN_STRICT ? "strict" : "guarantee", k, h->nr_ops,
		v == LIN_UNKNOWN ? " (search gave up on it)" : "");
	fprintf(out,
		"  (cache created with limit %" PRIu64
		"; times from the first invocation)\n",
		h->limit);
	{
		struct ctx pc = { .h = &sub, .ops = ops, .n = k };

		for (uint32_t i = 0; i < k; i++)
			print_op(out, &pc, i, t0);
	}

	/* replay the deepest linearization and say what could come next */
	if (!ctx_init(&cx, &sub, mode, 0)) {
		free(ops);
		return;
	}
	search_run(&cx, &sr);
	m_init(&cx, &state);
	fprintf(out, "  longest linearization found (%u of %u):", sr.best_depth,
		k);
	for (uint32_t d = 0; d < sr.best_depth; d++) {
		int ns = m_step(&cx, &state, sr.best_op[d]);
		uint32_t run = d;

		/* #3..#9 for a run of consecutive operations */
		while (run + 1 < sr.best_depth &&
		       sr.best_op[run + 1] == sr.best_op[run] + 1)
			run++;
		if (run > d + 1) {
			fprintf(out, " #%u..#%u", sr.best_op[d],
				sr.best_op[run]);
		} else {
			fprintf(out, " #%u", sr.best_op[d]);
			run = d;
		}
		for (;;) {
			if ((uint32_t)ns <= sr.best_alt[d])
				break; /* cannot happen: found this way */
			state = cx.b.succ[sr.best_alt[d]];
			if (d == run)
				break;
			ns = m_step(&cx, &state, sr.best_op[++d]);
		}
	}
	fprintf(out, "\n  model state after it:\n");
	print_state(out, &cx, &state);
	{
		uint64_t min_ret = UINT64_MAX;
		bool *done = calloc(k, 1);

		for (uint32_t d = 0; done && d < sr.best_depth; d++)
			done[sr.best_op[d]] = true;
		for (uint32_t i = 0; done && i < k; i++)
			if (!done[i] && ops[i].ret_time < min_ret)
				min_ret = ops[i].ret_time;
		fprintf(out, "  operations that could come next, and why the "
			     "model refuses each:\n");
		for (uint32_t i = 0; done && i < k; i++) {
			if (done[i] || ops[i].call > min_ret)
				continue;
			reason[0] = 0;
			cx.why = reason;
			cx.why_len = sizeof(reason);
			cx.unknown = NULL;
			m_step(&cx, &state, i);
			cx.why = NULL;
			print_op(out, &cx, i, t0);
			fprintf(out, "        -> %s\n",
				reason[0]  ? reason :
				cx.unknown ? cx.unknown :
					     "accepted here, but every order "
					     "after it fails");
		}
		if (done && sr.best_depth == k && !final_ok(&state))
			fprintf(out, "  every operation fits, but values are "
				     "left unreleased at the end\n");
		free(done);
	}
	ctx_free(&cx);
	free(ops);
}

/* ------------------------------------------------------------ counters */

/* What op @o adds to counter @c: at least *lo, at most *hi. */
static void op_counts(const struct lin_op *o, unsigned int c, uint64_t *lo,
		      uint64_t *hi)
{
	bool lookup = o->kind == LIN_FIND || o->kind == LIN_GET ||
		      o->kind == LIN_FIND_KEY || o->kind == LIN_GET_KEY;
	bool store = o->kind == LIN_INSERT || o->kind == LIN_ADD ||
		     o->kind == LIN_REPLACE;
	bool ok = o->kind == LIN_ADD ? o->handle != LIN_NONE : o->ret == 0;
	/* S3-FIFO's refusal counts neither as an insert nor as a failure */
	bool refused = o->kind == LIN_INSERT && o->ret > 0;

	*lo = *hi = 0;
	switch (c) {
	case LIN_HITS:
		*lo = *hi = lookup && o->out_val;
		break;
	case LIN_MISSES:
		*lo = *hi = lookup && !o->out_val;
		break;
	case LIN_INSERTS:
		*lo = *hi = (o->kind == LIN_INSERT || o->kind == LIN_ADD) && ok;
		break;
	case LIN_REPLACES:
		*lo = o->kind == LIN_REPLACE && ok;
		/* an insert replaces when its key was there */
		*hi = *lo + (o->kind == LIN_INSERT && ok);
		break;
	case LIN_REMOVES:
		*lo = *hi =
			(o->kind == LIN_REMOVE || o->kind == LIN_REMOVE_KEY) &&
			ok;
		break;
	case LIN_EVICTIONS:
		*lo = o->kind == LIN_AGE ? (uint64_t)o->ret : 0;
		*hi = o->kind == LIN_AGE		  ? (uint64_t)o->ret :
		      (store || o->kind == LIN_SET_LIMIT) ? UINT32_MAX :
							    0;
		break;
	case LIN_SHRUNK:
		*lo = *hi = o->kind == LIN_SHRINK ? (uint64_t)o->ret : 0;
		break;
	case LIN_INSERT_FAILURES:
		*lo = *hi = store && !ok && !refused;
		break;
	}
	if (o->kind == LIN_BAD_ARG) {
		/* refused arguments: counted by some counters, not others */
		*lo = 0;
		*hi = c == LIN_INSERT_FAILURES || c == LIN_MISSES;
	}
}

static const char *const counter_names[LIN_NR_COUNTERS] = {
	"hits",	   "misses",	"inserts", "replaces",
	"removes", "evictions", "shrunk",  "insert_failures",
};

unsigned int lin_check_counters(const struct lin_history *h, FILE *out)
{
	unsigned int bad = 0;

	for (uint32_t s = 0; s < h->nr_ops; s++) {
		const struct lin_op *st = &h->ops[s];

		if (st->kind != LIN_STATS)
			continue;
		for (unsigned int c = 0; c < LIN_NR_COUNTERS; c++) {
			uint64_t lo = 0, hi = 0, l, u;

			for (uint32_t i = 0; i < h->nr_ops; i++) {
				const struct lin_op *o = &h->ops[i];

				op_counts(o, c, &l, &u);
				if (o->ret_time < st->call)
					lo += l;
				if (o->call <= st->ret_time)
					hi += u;
			}
			if (st->st_counter[c] < lo || st->st_counter[c] > hi) {
				fprintf(out,
					"lincheck: stats #%u: %s = %" PRIu64
					", outside [%" PRIu64 ", %" PRIu64
					"]\n",
					s, counter_names[c], st->st_counter[c],
					lo, hi);
				bad++;
			}
			for (uint32_t i = 0; i < h->nr_ops; i++) {
				const struct lin_op *o = &h->ops[i];

				if (o->kind != LIN_STATS ||
				    o->ret_time >= st->call ||
				    o->st_counter[c] <= st->st_counter[c])
					continue;
				fprintf(out,
					"lincheck: stats #%u: %s went down "
					"from %" PRIu64 " (#%u) to %" PRIu64
					"\n",
					s, counter_names[c], o->st_counter[c],
					i, st->st_counter[c]);
				bad++;
			}
		}
	}
	return bad;
}
