# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reference models of cache replacement policies, sharing no code with
the library: exact LRU, SIEVE, ARC, S3-FIFO and W-TinyLFU.

Every model replays get-or-insert requests: access(key, cost, h) returns
True on a hit; on a miss it inserts the key at @cost (a cost above the
limit is refused, as sc_cache_insert() refuses it with -EFBIG). @h is the
key's 64-bit hash (S3-FIFO's ghost and W-TinyLFU's sketch read it). Keys
are any hashable value.

S3FIFO is the executable form of the specification in
Documentation/policy.rst ("Algorithm"): a C implementation must make
exactly the same decisions, request by request, and it also models the
other operations of the cache (remove, shrink, set_limit, age, clear) so
that a C model test can follow it step by step. WTinyLFU is the measured
alternative (Caffeine's design, with integer arithmetic so that it, too,
could be followed exactly). ARC checks the ARC paper's figures; SIEVE is
the SIEVE of selftests/cache/hitratio.c; LRU is exact LRU.
"""

from collections import OrderedDict

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1

# ------------------------------------------------------------------ hashes

HASH_K1 = 0xA0761D6478BD642F
HASH_K2 = 0xE7037ED1A0B428DB
HASH_K3 = 0x8EBC6AF09C88C6E3


def fmix64(k):
    """murmur3's 64-bit finalizer."""
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & M64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & M64
    k ^= k >> 33
    return k


def _mum(a, b):
    r = a * b
    return (r ^ (r >> 64)) & M64


def key_hash(seed, key):
    """The cache's string-key hash (sc_key_hash(), core/internal.h),
    written again from its description: @key is bytes."""
    n = len(key)
    h = seed ^ ((n * HASH_K3) & M64)
    rd64 = lambda i: int.from_bytes(key[i:i + 8], "little")
    rd32 = lambda i: int.from_bytes(key[i:i + 4], "little")
    if n > 16:
        p = 0
        while n - p > 16:
            h = _mum(rd64(p) ^ h ^ HASH_K1, rd64(p + 8) ^ h ^ HASH_K2)
            p += 16
        a, b = rd64(n - 16), rd64(n - 8)
    elif n >= 8:
        a, b = rd64(0), rd64(n - 8)
    elif n >= 4:
        a, b = rd32(0), rd32(n - 4)
    elif n:
        a, b = key[0] << 16 | key[n >> 1] << 8 | key[n - 1], 0
    else:
        a, b = 0, 0
    return fmix64(_mum(a ^ h ^ HASH_K1, b ^ h ^ HASH_K2) ^ n)


def handle_hash(seed, handle_id):
    """Policy hash of a handle key: its generation and slot, not its cache
    id, so that a replay does not depend on which id the cache got."""
    return fmix64(seed ^ (handle_id & ((1 << 48) - 1)))


def mul_div(a, num, den):
    """floor(a * num / den) for non-negative integers, exactly (the C
    code computes it with a 128-bit intermediate)."""
    return a * num // den


# --------------------------------------------------------------- base class


class Model:
    name = "?"

    def __init__(self, limit):
        self.limit = limit
        self.total = 0
        self.hits = self.misses = self.evictions = 0
        self.refused = 0  # inserts not kept (cost > limit, or not admitted)

    def access(self, key, cost=1, h=0):
        raise NotImplementedError


# --------------------------------------------------------------------- LRU


class LRU(Model):
    """Exact LRU: a miss evicts least recently used entries until the new
    one fits, then links it as the most recently used."""

    name = "lru"

    def __init__(self, limit):
        super().__init__(limit)
        self.q = OrderedDict()  # key -> cost, LRU first

    def access(self, key, cost=1, h=0):
        q = self.q
        if key in q:
            q.move_to_end(key)
            self.hits += 1
            return True
        self.misses += 1
        if cost > self.limit:
            self.refused += 1
            return False
        while self.total + cost > self.limit:
            _, c = q.popitem(last=False)
            self.total -= c
            self.evictions += 1
        q[key] = cost
        self.total += cost
        return False


# ------------------------------------------------------------------- SIEVE


class _SNode:
    __slots__ = ("key", "cost", "visited", "newer", "older")


class SIEVE(Model):
    """SIEVE (Zhang et al., NSDI '24) as SC_CACHE_POLICY_SIEVE: a FIFO of
    insertions, a visited bit set on a hit, a hand that moves from the
    oldest towards the newest clearing bits and evicts the first entry not
    visited, wrapping to the oldest and staying where it stopped. A miss
    evicts down to limit - cost before it links the new entry."""

    name = "sieve"

    def __init__(self, limit):
        super().__init__(limit)
        self.map = {}
        self.newest = self.oldest = self.hand = None

    def _unlink(self, n):
        if self.hand is n:
            self.hand = n.newer
        if n.newer is not None:
            n.newer.older = n.older
        else:
            self.newest = n.older
        if n.older is not None:
            n.older.newer = n.newer
        else:
            self.oldest = n.newer

    def _evict(self):
        v = self.hand if self.hand is not None else self.oldest
        while v.visited:
            v.visited = False
            v = v.newer if v.newer is not None else self.oldest
        self.hand = v
        self._unlink(v)  # moves the hand to v.newer (None: wrap)
        del self.map[v.key]
        self.total -= v.cost
        self.evictions += 1

    def access(self, key, cost=1, h=0):
        n = self.map.get(key)
        if n is not None:
            n.visited = True
            self.hits += 1
            return True
        self.misses += 1
        if cost > self.limit:
            self.refused += 1
            return False
        while self.total + cost > self.limit:
            self._evict()
        n = _SNode()
        n.key, n.cost, n.visited = key, cost, False
        n.older, n.newer = self.newest, None
        if self.newest is not None:
            self.newest.newer = n
        else:
            self.oldest = n
        self.newest = n
        self.map[key] = n
        self.total += cost
        return False


# --------------------------------------------------------------------- ARC


class ARC(Model):
    """ARC as in Megiddo and Modha, FAST '03, Fig. 4, for entries of cost
    1: T1/T2 resident, B1/B2 ghosts, p the adaptive target for T1."""

    name = "arc"

    def __init__(self, limit):
        super().__init__(limit)
        self.c = limit
        self.p = 0.0
        self.t1, self.t2 = OrderedDict(), OrderedDict()
        self.b1, self.b2 = OrderedDict(), OrderedDict()

    def _replace(self, in_b2):
        t1 = self.t1
        if t1 and ((in_b2 and len(t1) == self.p) or len(t1) > self.p):
            k, _ = t1.popitem(last=False)
            self.b1[k] = None
        else:
            k, _ = self.t2.popitem(last=False)
            self.b2[k] = None
        self.evictions += 1

    def access(self, key, cost=1, h=0):
        if cost != 1:
            raise ValueError("the ARC model is for entries of cost 1")
        t1, t2, b1, b2, c = self.t1, self.t2, self.b1, self.b2, self.c
        if key in t1:
            del t1[key]
            t2[key] = None
            self.hits += 1
            return True
        if key in t2:
            t2.move_to_end(key)
            self.hits += 1
            return True
        self.misses += 1
        if key in b1:
            d = 1.0 if len(b1) >= len(b2) else len(b2) / len(b1)
            self.p = min(float(c), self.p + d)
            self._replace(False)
            del b1[key]
            t2[key] = None
            return False
        if key in b2:
            d = 1.0 if len(b2) >= len(b1) else len(b1) / len(b2)
            self.p = max(0.0, self.p - d)
            self._replace(True)
            del b2[key]
            t2[key] = None
            return False
        l1 = len(t1) + len(b1)
        if l1 == c:
            if len(t1) < c:
                b1.popitem(last=False)
                self._replace(False)
            else:
                t1.popitem(last=False)
                self.evictions += 1
        else:
            n = l1 + len(t2) + len(b2)
            if n >= c:
                if n == 2 * c:
                    b2.popitem(last=False)
                self._replace(False)
        t1[key] = None
        self.total = len(t1) + len(t2)
        return False


# --------------------------------------------------------------- W-TinyLFU

WINDOW, PROBATION, PROTECTED = 0, 1, 2

# Tunables of the specification. Changing any of them changes results.
SKETCH_COUNTERS_PER_ENTRY = 4  # 4-bit counters per sized entry (2 bytes)
DOORKEEPER_BITS_PER_ENTRY = 16  # doorkeeper bits per sized entry (2 bytes)
SAMPLE_FACTOR = 10  # reset period: 10 recorded events per sized entry
MAX_COUNT = 15
ADMIT_RANDOM_THRESHOLD = 6  # Caffeine's ADMIT_HASHDOS_THRESHOLD
QUEUE_TRANSFER_MAX = 1000  # Caffeine's QUEUE_TRANSFER_THRESHOLD
RESET_MASK = 0x7777777777777777
ONE_MASK = 0x1111111111111111

NOT_ADMITTED = 1  # proposed sc_cache_insert() result: value not kept


class Sketch:
    """4-bit count-min sketch of depth 4 in 64-byte blocks, a doorkeeper
    Bloom filter in front of it, periodic halving.

    Sized for @cap entries: blocks = ceil(cap * counters / 128) blocks of
    eight 64-bit words (16 counters each); doorkeeper words =
    ceil(cap * bits / 64). For a 64-bit key hash h:
      block  = ((h >> 32) * blocks) >> 32
      for row i in 0..3, byte b = (h >> 8i) & 0xff:
        word   = block * 8 + 2i + (b & 1), nibble = (b >> 1) & 15
      d      = fmix64(h)
      dk word = ((d >> 32) * dk_words) >> 32, bits (d & 63), ((d >> 6) & 63)
    """

    __slots__ = ("cap", "blocks", "words", "dk_words", "dk", "sample",
                 "size", "cpe", "dkbits", "_where", "conservative")

    def __init__(self, cap, cpe=None, dkbits=None, sample_factor=None,
                 conservative=False):
        self.conservative = conservative
        self.cpe = SKETCH_COUNTERS_PER_ENTRY if cpe is None else cpe
        self.dkbits = DOORKEEPER_BITS_PER_ENTRY if dkbits is None else dkbits
        self.cap = cap
        self.blocks = max(1, -(-cap * self.cpe // 128))
        self.words = [0] * (8 * self.blocks)
        self.dk_words = -(-cap * self.dkbits // 64) if self.dkbits else 0
        self.dk = [0] * self.dk_words
        self.sample = (SAMPLE_FACTOR if sample_factor is None
                       else sample_factor) * cap
        self.size = 0
        self._where = {}  # h -> its counters and doorkeeper bits (speed)

    def nbytes(self):
        return 8 * (len(self.words) + self.dk_words)

    def where(self, h):
        """(((word, shift) x 4), doorkeeper word, doorkeeper mask) of h."""
        w = self._where.get(h)
        if w is None:
            base = (((h >> 32) * self.blocks) >> 32) << 3
            ctr = []
            for i in (0, 8, 16, 24):
                b = (h >> i) & 0xFF
                ctr.append((base + (i >> 2) + (b & 1), ((b >> 1) & 15) * 4))
            if self.dk_words:
                d = fmix64(h)
                dw = ((d >> 32) * self.dk_words) >> 32
                dm = (1 << (d & 63)) | (1 << ((d >> 6) & 63))
            else:
                dw, dm = -1, 0
            w = self._where[h] = (tuple(ctr), dw, dm)
        return w

    def frequency(self, h):
        ctr, dw, dm = self.where(h)
        words = self.words
        f = min((words[wi] >> sh) & 15 for wi, sh in ctr)
        if dw >= 0 and self.dk[dw] & dm == dm:
            f += 1
        return f

    def record(self, h):
        """One access: into the doorkeeper if it is not there yet, else
        every one of the four counters below 15 gains 1. When the access
        changed something, it counts towards the sample; at the sample
        size, reset()."""
        ctr, dw, dm = self.where(h)
        added = False
        if dw >= 0 and self.dk[dw] & dm != dm:
            self.dk[dw] |= dm
            added = True
        if not added:
            words = self.words
            if self.conservative:  # minimal increment: only the lowest
                lo = min((words[wi] >> sh) & 15 for wi, sh in ctr)
                if lo < MAX_COUNT:
                    for wi, sh in ctr:
                        if (words[wi] >> sh) & 15 == lo:
                            words[wi] += 1 << sh
                    added = True
            else:
                for wi, sh in ctr:
                    if (words[wi] >> sh) & 15 < MAX_COUNT:
                        words[wi] += 1 << sh
                        added = True
        if added:
            self.size += 1
            if self.size >= self.sample:
                self.reset()

    def reset(self):
        """Halve every counter, empty the doorkeeper; the sample count
        keeps what survives: (size - odd counters / 4) / 2."""
        odd = 0
        words = self.words
        for i, w in enumerate(words):
            odd += bin(w & ONE_MASK).count("1")
            words[i] = (w >> 1) & RESET_MASK
        self.dk = [0] * self.dk_words
        self.size = (self.size - (odd >> 2)) >> 1


class _Node:
    __slots__ = ("key", "cost", "h", "queue", "prev", "next")


class _Queue:
    """A circular doubly-linked list with a sentinel; head.next is the LRU
    end ("first"), head.prev the MRU end."""

    __slots__ = ("head", "cost", "n")

    def __init__(self):
        self.head = _Node()
        self.head.prev = self.head.next = self.head
        self.head.key = None
        self.cost = 0
        self.n = 0

    def first(self):
        n = self.head.next
        return None if n is self.head else n

    def after(self, node):
        n = node.next
        return None if n is self.head else n

    def push_mru(self, node):
        tail = self.head.prev
        node.prev, node.next = tail, self.head
        tail.next = node
        self.head.prev = node
        self.cost += node.cost
        self.n += 1

    def push_lru(self, node):
        first = self.head.next
        node.prev, node.next = self.head, first
        first.prev = node
        self.head.next = node
        self.cost += node.cost
        self.n += 1

    def unlink(self, node):
        node.prev.next = node.next
        node.next.prev = node.prev
        self.cost -= node.cost
        self.n -= 1

    def __iter__(self):
        n = self.head.next
        while n is not self.head:
            yield n
            n = n.next



class _QueuedModel(Model):
    """What W-TinyLFU and S3-FIFO share: nodes in self.map by key, kept
    in the queues self.q[qi] for qi in QUEUES, each queue counting its
    cost; _resize() sizes the policy's frequency record (sketch, ghost)
    after entries leave."""

    QUEUES = ()

    def access(self, key, cost=1, h=0):
        if key in self.map:
            self.hits += 1
            self.hit(key)
            return True
        self.misses += 1
        r, _ = self.insert(key, cost, h)
        if r:
            self.refused += 1
        return False

    def remove(self, key):
        node = self.map.get(key)
        if node is None:
            return False
        self._drop(node)
        self._resize()
        return True

    def _drop_all(self):
        for qi in self.QUEUES:
            while self.q[qi].first() is not None:
                self._drop(self.q[qi].first())

    def order(self, qi):
        return [n.key for n in self.q[qi]]

    def _check_node(self, node):
        pass

    def check(self):
        tot = cnt = 0
        for qi in self.QUEUES:
            c = 0
            for n in self.q[qi]:
                assert n.queue == qi and self.map[n.key] is n
                self._check_node(n)
                c += n.cost
                cnt += 1
            assert c == self.q[qi].cost
            tot += c
        assert tot == self.total and cnt == self.count == len(self.map)
        assert self.total <= self.limit


class WTinyLFU(_QueuedModel):
    """W-TinyLFU with Caffeine's adaptive window, in integer arithmetic,
    with costs. See Documentation/policy.rst, "Appendix: W-TinyLFU
    as modelled"."""

    name = "wtinylfu"
    QUEUES = (WINDOW, PROBATION, PROTECTED)

    def __init__(self, limit, seed=0, cpe=None, dkbits=None, adaptive=True,
                 weighted_sum=True, random_admit=True, window_pct=1,
                 climb_sample=None, sample_factor=None, conservative=0):
        super().__init__(limit)
        self.seed = seed
        self.cpe, self.dkbits = cpe, dkbits
        self.adaptive = adaptive
        self.weighted_sum = weighted_sum
        self.random_admit = random_admit
        self.window_pct = window_pct
        self.climb_sample = climb_sample  # None: the sketch's sample size
        self.sample_factor = sample_factor
        self.conservative = bool(conservative)
        self.map = {}
        self.q = (_Queue(), _Queue(), _Queue())
        self.sketch = None
        self.count = 0
        self.rng = ((seed >> 32) & M32) | 1  # xorshift32 state, never 0
        self.sketch_allocs = 0
        self._reset_sizes()

    # -- sizes and the hill climber ---------------------------------------
    def _reset_sizes(self):
        """As at create and set_limit (Caffeine's setMaximumSize)."""
        lim = self.limit
        self.window_max = lim - mul_div(lim, 100 - self.window_pct, 100)
        self.protected_max = mul_div(lim - self.window_max, 80, 100)
        self.hits_sample = self.misses_sample = 0
        self.prev_hits, self.prev_n = 0, 1  # previous sample hit rate: 0
        self.step = -(lim // 16)
        self.adjustment = 0

    def _climb(self):
        if not self.adaptive:
            self._demote()
            return
        self._determine_adjustment()
        self._demote()
        if self.adjustment > 0:
            self._increase_window()
        elif self.adjustment < 0:
            self._decrease_window()

    def _determine_adjustment(self):
        if self.sketch is None:
            self.prev_hits, self.prev_n = 0, 1
            self.hits_sample = self.misses_sample = 0
            return
        n = self.hits_sample + self.misses_sample
        if n < (self.sketch.sample if self.climb_sample is None
                else self.climb_sample * self.sketch.cap):
            return
        # change = hits/n - prev_hits/prev_n, compared exactly
        num = self.hits_sample * self.prev_n - self.prev_hits * n
        den = n * self.prev_n
        amount = self.step if num >= 0 else -self.step
        if 20 * abs(num) >= den:  # |change| >= 0.05: restart
            step = self.limit // 16
            self.step = step if amount >= 0 else -step
        else:  # decay: amount * 0.98, truncated towards zero
            m = abs(amount)
            m = m // 50 * 49 + (m % 50) * 49 // 50
            self.step = m if amount >= 0 else -m
        self.prev_hits, self.prev_n = self.hits_sample, n
        self.adjustment = amount
        self.hits_sample = self.misses_sample = 0

    def _move(self, node, to, lru_end=False):
        self.q[node.queue].unlink(node)
        node.queue = to
        if lru_end:
            self.q[to].push_lru(node)
        else:
            self.q[to].push_mru(node)

    def _demote(self):
        prot, prob = self.q[PROTECTED], self.q[PROBATION]
        for _ in range(QUEUE_TRANSFER_MAX):
            if prot.cost <= self.protected_max:
                break
            n = prot.first()
            if n is None:
                break
            self._move(n, PROBATION)

    def _increase_window(self):
        if self.protected_max == 0:
            return
        quota = min(self.adjustment, self.protected_max)
        self.protected_max -= quota
        self.window_max += quota
        self._demote()
        prob, prot = self.q[PROBATION], self.q[PROTECTED]
        for _ in range(QUEUE_TRANSFER_MAX):
            n = prob.first()
            if n is None or quota < n.cost:
                n = prot.first()
            if n is None or quota < n.cost:
                break
            quota -= n.cost
            self._move(n, WINDOW)
        self.protected_max += quota
        self.window_max -= quota
        self.adjustment = quota

    def _decrease_window(self):
        if self.window_max <= 1:
            return
        quota = min(-self.adjustment, self.window_max - 1)
        self.protected_max += quota
        self.window_max -= quota
        win = self.q[WINDOW]
        for _ in range(QUEUE_TRANSFER_MAX):
            n = win.first()
            if n is None or quota < n.cost:
                break
            quota -= n.cost
            self._move(n, PROBATION)
        self.protected_max -= quota
        self.window_max += quota
        self.adjustment = -quota

    # -- the sketch ---------------------------------------------------------
    def _size_sketch(self):
        """After every insert, remove, set_limit, shrink, age and clear."""
        if self.count == 0:
            self.sketch = None
        elif self.sketch is None:
            if 2 * self.total >= self.limit and self.total:
                self._alloc_sketch()
        elif self.count > self.sketch.cap:
            self._alloc_sketch()

    def _alloc_sketch(self):
        cap = max(self.count, mul_div(self.count, self.limit, self.total)) \
            if self.total else self.count
        self.sketch = Sketch(cap, self.cpe, self.dkbits, self.sample_factor,
                             self.conservative)
        self.sketch_allocs += 1

    def _freq(self, node):
        return self.sketch.frequency(node.h) if self.sketch else 0

    def _random(self):
        x = self.rng
        x ^= (x << 13) & M32
        x ^= x >> 17
        x ^= (x << 5) & M32
        self.rng = x
        return x

    # -- eviction -----------------------------------------------------------
    def _drop(self, node):
        self.q[node.queue].unlink(node)
        node.queue = None
        del self.map[node.key]
        self.count -= 1
        self.total -= node.cost

    def _evict(self, node, stats):
        self._drop(node)
        stats.append(node.key)

    def _victim_after(self, node):
        """The next victim after @node in victim order: probation, then
        protected, then window, each from its LRU end."""
        n = self.q[node.queue].after(node)
        qi = node.queue
        while n is None:
            qi = {PROBATION: PROTECTED, PROTECTED: WINDOW}.get(qi)
            if qi is None:
                return None
            n = self.q[qi].first()
        return n

    def _first_victim(self):
        for qi in (PROBATION, PROTECTED, WINDOW):
            n = self.q[qi].first()
            if n is not None:
                return n
        return None

    def _evict_to(self, target, evicted):
        """Evict until total <= target, by admission duels. Appends the
        evicted keys to @evicted, in order."""
        win, prob = self.q[WINDOW], self.q[PROBATION]
        # 1. the window's overflow moves to probation's MRU end
        cand = None
        n = win.first()
        while win.cost > self.window_max and n is not None:
            nxt = win.after(n)
            if n.cost:
                self._move(n, PROBATION)
                if cand is None:
                    cand = n
            n = nxt
        in_window = cand is None
        if in_window:
            cand = win.first()
        # 2. duels
        while self.total > target:
            while cand is not None and cand.cost == 0:
                cand = self.q[cand.queue].after(cand)
                if cand is None and not in_window:
                    in_window, cand = True, win.first()
            if cand is None:  # no candidate left: plain victims
                v = self._first_victim()
                while v is not None and v.cost == 0:
                    v = self._victim_after(v)
                if v is None:
                    break
                self._evict(v, evicted)
                continue
            need = min(cand.cost, self.total - target)
            fc = self._freq(cand)
            got = fsum = 0
            admit = None  # None: undecided by the sum yet
            victims = []
            v = self._first_victim()
            while True:
                while v is not None and v.cost == 0:
                    v = self._victim_after(v)
                if v is None or v is cand:
                    admit = False  # nothing else to take: the candidate goes
                    victims = None
                    break
                victims.append(v)
                got += v.cost
                if admit is None:
                    fv = self._freq(v)
                    fsum = fsum + fv if self.weighted_sum else max(fsum, fv)
                    if fsum >= fc:
                        admit = (self.random_admit and
                                 fc >= ADMIT_RANDOM_THRESHOLD and
                                 (self._random() & 127) == 0)
                        if not admit:
                            break
                if got >= need:
                    if admit is None:
                        admit = True
                    break
                v = self._victim_after(v)
            nxt = self.q[cand.queue].after(cand)
            if admit:
                for v in victims:
                    self._evict(v, evicted)
            else:
                self._evict(cand, evicted)
            cand = nxt
            if cand is None and not in_window:
                in_window, cand = True, win.first()

    # -- operations ---------------------------------------------------------
    def hit(self, key):
        node = self.map[key]
        if self.sketch:
            self.sketch.record(node.h)
        self.hits_sample += 1
        if node.queue == WINDOW:
            self._move(node, WINDOW)
        elif node.queue == PROBATION:
            if node.cost > self.protected_max:
                self._move(node, PROBATION)
            else:
                self._move(node, PROTECTED)
        else:
            self._move(node, PROTECTED)
        self._climb()

    def insert(self, key, cost, h):
        """sc_cache_insert(): 0 (kept), NOT_ADMITTED (the new value was
        the loser of its own admission: not kept, any old value under @key
        removed), or -27 (-EFBIG: cost above the limit, old value removed).
        Returns (result, evicted keys in order)."""
        evicted = []
        if key in self.map:
            self._drop(self.map[key])
        if cost > self.limit:
            self._size_sketch()
            return -27, evicted
        node = _Node()
        node.key, node.cost, node.h, node.queue = key, cost, h, WINDOW
        self.map[key] = node
        if cost > self.window_max:
            self.q[WINDOW].push_lru(node)
        else:
            self.q[WINDOW].push_mru(node)
        self.count += 1
        self.total += cost
        if self.sketch:
            self.sketch.record(h)
        self.misses_sample += 1
        self._evict_to(self.limit, evicted)
        self.evictions += len(evicted)
        self._size_sketch()
        self._climb()
        return (NOT_ADMITTED if node.queue is None else 0), evicted

    def _resize(self):
        self._size_sketch()

    def _shrink_victim(self):
        """One entry for shrink and age: the window's LRU entry against
        the first victim (probation, protected); the lower frequency goes,
        the window's on a tie."""
        c = self.q[WINDOW].first()
        v = self.q[PROBATION].first() or self.q[PROTECTED].first()
        if c is None or v is None:
            return c or v
        return c if self._freq(c) <= self._freq(v) else v

    def shrink(self, nr):
        """sc_cache_shrink() and the shrinker: up to @nr entries, whatever
        their cost. Returns the evicted keys in order."""
        out = []
        while len(out) < nr:
            v = self._shrink_victim()
            if v is None:
                break
            self._evict(v, out)
        self._size_sketch()
        return out

    def set_limit(self, limit):
        self.limit = limit
        self._reset_sizes()
        out = []
        self._evict_to(limit, out)
        self._demote()
        self._size_sketch()
        return out

    def age_step(self, idle):
        """sc_cache_age(): @idle when the total has not moved since the
        previous step: down to floor(3/4 of the total) by admission duels,
        at least one entry (a shrink victim); else one shrink victim."""
        out = []
        if idle:
            t = self.total
            self._evict_to(t // 4 * 3 + t % 4 * 3 // 4, out)
        if not out:
            out = self.shrink(1)
        self._size_sketch()
        return out

    def clear(self):
        self._drop_all()
        self._reset_sizes()
        self._size_sketch()

    # -- introspection --------------------------------------------------------
    def check(self):
        super().check()
        assert self.window_max + self.protected_max <= self.limit
        assert self.window_max >= 0 and self.protected_max >= 0


# ----------------------------------------------------------------- S3-FIFO

class Ghost:
    """The ghost of S3-FIFO as the cache keeps it: buckets of 16 32-bit
    slots, each bucket a FIFO ring of its own (a cursor per bucket says
    which slot the next key overwrites), so that it holds about the keys
    of the last 16 * buckets evictions in 4 bytes each.

    Sized for @entries keys: buckets = ceil(entries / 16). For a 64-bit
    key hash h: bucket = ((h >> 32) * buckets) >> 32, fingerprint =
    h & 0xfffffffe, or 2 when that is 0 (0 marks a free slot). A slot
    holds the fingerprint or'ed with the key's tag, the queue it left (0:
    S, 1: M); nr[tag] counts the slots holding each tag. add: the slot
    under the bucket's cursor takes the key (the count of the tag it held,
    if any, goes down), the cursor moves on by one (mod 16). take: the
    first slot (lowest index) whose fingerprint is the key's is freed (0)
    and 1 + its tag returned, with the counts as they were before (the
    adaptation needs them); 0 when none is."""

    __slots__ = ("entries", "buckets", "slots", "cursor", "nr")

    def __init__(self, entries):
        self.entries = entries
        self.buckets = max(1, -(-entries // 16))
        self.slots = [0] * (16 * self.buckets)
        self.cursor = [0] * self.buckets
        self.nr = [0, 0]

    def nbytes(self):
        return 4 * len(self.slots) + self.buckets

    def _where(self, h):
        fp = h & 0xfffffffe
        return (((h >> 32) * self.buckets) >> 32), (fp if fp else 2)

    def add(self, h, tag=0):
        b, fp = self._where(h)
        c = self.cursor[b]
        old = self.slots[16 * b + c]
        if old:
            self.nr[old & 1] -= 1
        self.slots[16 * b + c] = fp | tag
        self.nr[tag] += 1
        self.cursor[b] = (c + 1) & 15

    def find(self, h):
        """(1 + tag, nr[0], nr[1]) of the first slot holding @h, else
        (0, nr[0], nr[1]); forgets it."""
        b, fp = self._where(h)
        base = 16 * b
        n0, n1 = self.nr
        for i in range(base, base + 16):
            s = self.slots[i]
            if s & ~1 == fp:
                self.slots[i] = 0
                self.nr[s & 1] -= 1
                return 1 + (s & 1), n0, n1
        return 0, n0, n1

    def take(self, h):
        return self.find(h)[0]


class _ExactGhost:
    """The paper's ghost, for comparison: the keys themselves, FIFO, up to
    as many as @entries, with their tags."""

    def __init__(self, entries):
        self.entries = entries
        self.q = OrderedDict()
        self.nr = [0, 0]

    def nbytes(self):
        return 0

    def add(self, h, tag=0):
        old = self.q.pop(h, None)
        if old is not None:
            self.nr[old] -= 1
        self.q[h] = tag
        self.nr[tag] += 1
        while len(self.q) > self.entries:
            self.nr[self.q.popitem(last=False)[1]] -= 1

    def find(self, h):
        n0, n1 = self.nr
        tag = self.q.pop(h, None)
        if tag is None:
            return 0, n0, n1
        self.nr[tag] -= 1
        return 1 + tag, n0, n1

    def take(self, h):
        return self.find(h)[0]


SMALL, MAIN = 0, 1


class _FNode:
    __slots__ = ("key", "cost", "h", "queue", "freq", "prev", "next",
                 "handle")


class S3FIFO(_QueuedModel):
    """S3-FIFO (Yang et al., "FIFO queues are all you need for cache
    eviction", SOSP '23) with costs, as the cache is to run it: see
    Documentation/policy.rst, "Algorithm".

    A small FIFO S (a share of the limit that adapts, 10% at first), a
    main FIFO M (the rest), a ghost of keys evicted from either, tagged
    with the queue they left, a 3-bit frequency per entry. A hit adds 1
    to the frequency (at most 7) and moves nothing. One eviction: from M
    when M holds more than its share or S is empty, else from S. From S:
    the oldest entry moves to M's new end (frequency 0) when it was hit
    at least @move_threshold times, else it leaves; repeated until one
    leaves (or S is empty: then from M). From M: the oldest entry with a
    frequency above 0 goes back to M's new end with one less, repeated
    until the oldest has 0: it leaves. Either way the key that leaves
    goes to the ghost with its queue's tag. A miss whose key the ghost
    holds moves S's share as ARC moves its target (towards S when the key
    had left S, towards M when it had left M, by the ratio of the ghost's
    other tag to its own, at least 1, times the cost), evicts until the
    new entry fits, then links it at M's new end; any other miss at S's
    (adapt=0: the share stays at @small_pct)."""

    name = "s3fifo"
    QUEUES = (SMALL, MAIN)

    def __init__(self, limit, small_pct=10, move_threshold=2, ghost_pct=50,
                 ghost="buckets", freq_max=7, adapt=1, ghost_main=1):
        super().__init__(limit)
        self.small_pct = small_pct
        self.freq_max = freq_max
        self.adapt = adapt
        self.ghost_main = ghost_main
        self.move_threshold = move_threshold
        self.ghost_pct = ghost_pct
        self.ghost_kind = ghost
        self.map = {}
        self.q = (_Queue(), _Queue())  # first(): the oldest
        self.count = 0
        self.ghost = None
        self.ghost_sized = 0  # entries the ghost was sized for
        self.ghost_allocs = 0
        self._sizes()

    def _sizes(self):
        # small_max: the admission bar for large values, and S's first share
        self.small_max = mul_div(self.limit, self.small_pct, 100)
        self.small_target = self.small_max
        self.main_max = self.limit - self.small_target

    def _adapt(self, tag, n0, n1, cost):
        """A ghost hit (@tag: the queue the key left; @n0, @n1: the ghost's
        slots of each tag, the hit one counted): ARC's target rule."""
        if not self.adapt:
            return
        if tag == 0:
            step = max(1, n1 // n0) * cost
            self.small_target = min(self.limit // 2,
                                    self.small_target + step)
        else:
            step = max(1, n0 // n1) * cost
            self.small_target = max(0, self.small_target - step)
        self.main_max = self.limit - self.small_target

    # -- the ghost ------------------------------------------------------------
    def _size_ghost(self, grow=False):
        """At the end of every operation that adds or drops entries; only
        a stored insert (@grow) creates or grows the ghost, so that no
        other operation allocates."""
        if self.count == 0:
            self.ghost = None
        elif not grow:
            pass
        elif self.ghost is None:
            if 2 * self.total >= self.limit and self.total:
                self._alloc_ghost()
        elif self.count > self.ghost_sized:
            self._alloc_ghost()

    def _alloc_ghost(self):
        # the entries the cache holds at its limit at today's mean cost,
        # at most twice those it holds (a mean far below the limit's must
        # not size the ghost for entries the cache may never hold)
        cap = self.count
        if self.total:
            cap = min(max(self.count,
                          mul_div(self.count, self.limit, self.total)),
                      2 * self.count)
        self.ghost_sized = cap
        n = max(1, mul_div(cap, self.ghost_pct, 100))
        self.ghost = (Ghost if self.ghost_kind == "buckets"
                      else _ExactGhost)(n)
        self.ghost_allocs += 1

    # -- queues -----------------------------------------------------------------
    def _drop(self, node):
        self.q[node.queue].unlink(node)
        node.queue = None
        del self.map[node.key]
        self.count -= 1
        self.total -= node.cost

    def _to_main(self, node):
        self.q[node.queue].unlink(node)
        node.queue = MAIN
        node.freq = 0
        self.q[MAIN].push_mru(node)

    def _evict_one(self, out):
        """One eviction; appends the evicted key to @out. False: empty."""
        s, m = self.q
        while True:
            if m.cost > self.main_max or s.first() is None:
                t = m.first()
                if t is None:
                    return False
                if t.freq:
                    m.unlink(t)
                    t.freq -= 1
                    m.push_mru(t)
                    continue
                self._drop(t)
                if (self.ghost is not None and not t.handle and
                        self.ghost_main):
                    self.ghost.add(t.h, 1)
                out.append(t.key)
                return True
            t = s.first()
            if t.freq >= self.move_threshold:
                self._to_main(t)
                continue
            self._drop(t)
            if self.ghost is not None and not t.handle:
                self.ghost.add(t.h, 0)
            out.append(t.key)
            return True

    # -- operations -------------------------------------------------------------
    def hit(self, key):
        node = self.map[key]
        if node.freq < self.freq_max:
            node.freq += 1

    def insert(self, key, cost, h):
        """sc_cache_insert(): (result, evicted keys in order). Result 0:
        stored; NOT_ADMITTED: a first-seen value above S's share, in a
        cache that has a ghost (at least half full once), not kept (its
        key goes to the ghost, so that it is kept the next time);
        -27 (-EFBIG): cost above the limit. An entry already under @key
        leaves first (not to the ghost); the new one then takes its queue
        and frequency."""
        out = []
        old = self.map.get(key)
        queue, freq = SMALL, 0
        if old is not None:
            queue, freq = old.queue, old.freq
            self._drop(old)
        if cost > self.limit:
            self._size_ghost()
            return -27, out
        if old is None:
            if self.ghost is None:
                # below half the limit: no contest, nothing refused; a
                # value above S's share goes to M, as a handle's does
                if cost > self.small_max:
                    queue = MAIN
            else:
                tag, n0, n1 = self.ghost.find(h)
                if tag:
                    queue = MAIN
                    self._adapt(tag - 1, n0, n1, cost)
                elif cost > self.small_max:
                    self.ghost.add(h, 0)
                    self._size_ghost()
                    return NOT_ADMITTED, out
        return self._store(key, cost, h, queue, freq, False, out)

    def _store(self, key, cost, h, queue, freq, handle, out):
        """Evicts until cost fits, then links a new node at the MRU end
        of its queue. Returns (0, evicted keys)."""
        while self.total + cost > self.limit:
            self._evict_one(out)
        node = _FNode()
        node.key, node.cost, node.h, node.queue, node.freq = \
            key, cost, h, queue, freq
        node.handle = handle
        self.q[queue].push_mru(node)
        self.map[key] = node
        self.count += 1
        self.total += cost
        self.evictions += len(out)
        self._size_ghost(grow=True)
        return 0, out

    def add(self, handle, cost):
        """sc_cache_add() under a new handle: a handle never comes back,
        so the ghost is neither asked nor told; a value above S's share
        goes to M. Returns (result, evicted keys)."""
        out = []
        if cost > self.limit:
            return -27, out
        queue = SMALL if cost <= self.small_max else MAIN
        return self._store(handle, cost, 0, queue, 0, True, out)

    def replace(self, handle, cost):
        """sc_cache_replace(): the new value takes the old one's queue and
        frequency; above the limit, -EFBIG and the entry is gone."""
        old = self.map[handle]
        queue, freq = old.queue, old.freq
        self._drop(old)
        out = []
        if cost > self.limit:
            self._size_ghost()
            return -27, out
        return self._store(handle, cost, 0, queue, freq, True, out)

    def _resize(self):
        self._size_ghost()

    def shrink(self, nr):
        out = []
        while len(out) < nr and self._evict_one(out):
            pass
        self._size_ghost()
        return out

    def set_limit(self, limit):
        self.limit = limit
        self._sizes()
        out = []
        # 0 evicts everything, zero-cost entries too (contract rule 9)
        while self.total > limit or (limit == 0 and self.count):
            self._evict_one(out)
        self._size_ghost()
        return out

    def age_step(self, idle):
        out = []
        if idle:
            t = self.total
            target = t // 4 * 3 + t % 4 * 3 // 4
            while self.total > target:
                self._evict_one(out)
        if not out:
            self._evict_one(out)
        self._size_ghost()
        return out

    def clear(self):
        self._drop_all()
        self._size_ghost()

    def _check_node(self, node):
        assert 0 <= node.freq <= self.freq_max

    def check(self):
        super().check()
        assert 0 <= self.small_target <= self.limit // 2
        assert self.main_max == self.limit - self.small_target
        if self.ghost is not None and isinstance(self.ghost, Ghost):
            assert self.ghost.nr[1] == sum(x & 1 for x in self.ghost.slots)
            assert sum(self.ghost.nr) == sum(1 for x in self.ghost.slots if x)


POLICIES = {
    "lru": LRU,
    "sieve": SIEVE,
    "arc": ARC,
    "s3fifo": S3FIFO,
    "wtinylfu": WTinyLFU,
}
