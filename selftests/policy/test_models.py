#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The reference models against tiny traces computed by hand, and the
hash port against sc_key_hash() values printed by the C code. Prints
TAP 13 (one line per check); exits non-zero when one fails."""

import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import models  # noqa: E402
from models import WINDOW, PROBATION, PROTECTED  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def run(m, trace):
    return [m.access(k) for k in trace]


# sc_key_hash(seed, key, strlen(key)) as core/internal.h computes it.
KEY_HASH_VECTORS = [
    (0x0, b"", 0x2B09D2A0F65EE248),
    (0x0, b"abcdefg", 0xD62562576EAB0CDB),
    (0x0, b"the quick brown fox jumps over the lazy dog", 0x0DC05F8B7C3D4742),
    (0x5EED5EED5EED, b"", 0x1D172FCC0718BF75),
    (0x5EED5EED5EED, b"abcdefg", 0xFE810CC4A0FE9D68),
    (0x5EED5EED5EED, b"the quick brown fox jumps over the lazy dog",
     0x1C1124470A59678B),
    (0xFFFFFFFFFFFFFFFF, b"", 0xB4FCD2DBE2CEE2B0),
    (0xFFFFFFFFFFFFFFFF, b"the quick brown fox jumps over the lazy dog",
     0x74C23CEF71BDE548),
]


@test
def key_hash_matches_c():
    for seed, key, h in KEY_HASH_VECTORS:
        assert models.key_hash(seed, key) == h, (seed, key)


@test
def lru_tiny():
    m = models.LRU(2)
    assert run(m, "abacb") == [False, False, True, False, False]
    assert list(m.q) == ["c", "b"] and m.evictions == 2


@test
def lru_costs():
    m = models.LRU(5)
    assert not m.access("a", 2) and not m.access("b", 2)
    assert not m.access("c", 3)  # evicts a: 2 + 3 fit
    assert list(m.q) == ["b", "c"] and m.total == 5
    assert not m.access("d", 6) and m.refused == 1
    assert list(m.q) == ["b", "c"]


@test
def sieve_tiny():
    # a b a c b at 2: c makes the hand clear a and evict b; then b evicts
    # a (not visited any more), the hand having wrapped to the oldest.
    m = models.SIEVE(2)
    assert run(m, "abacb") == [False, False, True, False, False]
    keys = []
    n = m.oldest
    while n:
        keys.append(n.key)
        n = n.newer
    assert keys == ["c", "b"] and m.evictions == 2


@test
def arc_tiny():
    m = models.ARC(2)
    assert run(m, "abacb") == [False, False, True, False, False]
    # c: b went from T1 to B1; b: B1 hit, p 0 -> 1, a from T2 to B2
    assert list(m.t1) == ["c"] and list(m.t2) == ["b"]
    assert list(m.b1) == [] and list(m.b2) == ["a"] and m.p == 1.0


def fh(k):
    return models.fmix64(hash(k) & models.M64 if not isinstance(k, int)
                         else k + 1)


@test
def s3fifo_by_hand():
    m = models.S3FIFO(10)  # S 1, M 9, move to M at 2 hits
    ins = lambda k, c=1: m.insert(k, c, fh(k))
    for k in range(10):
        assert ins(k) == (0, [])
    # the ghost comes at half the limit, for 5 keys: one bucket
    assert m.ghost is not None and m.ghost.buckets == 1
    m.hit(0)
    m.hit(0)
    m.hit(1)
    # S over its share: 0 (2 hits) moves to M, 1 (1 hit) leaves for G
    assert ins(10) == (0, [1])
    assert m.order(models.MAIN) == [0]
    assert m.order(models.SMALL) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    # 1 again: in the ghost, so it goes to M; 2 leaves S. It had left S:
    # S's share grows by max(1, 0 keys from M / 1 from S) = 1
    assert m.ghost.nr == [1, 0]
    assert ins(1) == (0, [2])
    assert m.order(models.MAIN) == [0, 1]
    assert (m.small_target, m.main_max) == (2, 8)
    assert m.ghost.nr == [1, 0]  # 2 came in as 1 went out
    m.hit(0)
    # S's share is 0 now: S first all the same while M is within its own
    assert m.set_limit(5) == [3, 4, 5, 6, 7]
    assert (m.small_max, m.main_max) == (0, 5)
    assert m.shrink(2) == [8, 9]
    assert m.age_step(True) == [10]  # down to 2 of 3
    # set_limit put S's share back at a tenth
    assert m.small_target == 0
    # S empty: M's clock: 0 (1 hit) goes round with 0, 1 leaves, tagged M
    n_s = m.ghost.nr[0]
    assert m.age_step(False) == [1]
    assert m.order(models.MAIN) == [0] and m.map[0].freq == 0
    assert m.ghost.nr == [n_s, 1]
    # back from M: to M again, and S's share moves towards M (from 0: 0)
    assert ins(1) == (0, [])
    assert m.order(models.MAIN) == [0, 1] and m.ghost.nr == [n_s, 0]
    assert m.small_target == 0 and m.main_max == 5
    m.check()
    m.clear()
    assert m.count == 0 and m.ghost is None


@test
def s3fifo_adaptation():
    # the ghost's tags and counts
    g = models.Ghost(16)  # one bucket
    a, b, c = (models.fmix64(i) & ~1 for i in (1, 2, 3))
    g.add(a, 0)
    g.add(b, 1)
    g.add(c, 0)
    assert g.nr == [2, 1]
    assert g.find(b | 1) == (2, 2, 1)  # bit 0 is the tag, not the key
    assert g.nr == [2, 0] and g.find(b) == (0, 2, 0)
    assert g.find(a) == (1, 2, 0) and g.nr == [1, 0]
    z = 5 << 32  # fingerprint 0 is 2: 0 marks a free slot
    g.add(z, 1)
    assert g.slots[3] == 3 and g.nr == [1, 1]
    for i in range(15):  # round the ring: the free slots, then c's
        g.add(models.fmix64(100 + i), 1)
    assert g.nr == [0, 16] and g.find(c) == (0, 0, 16)
    # ARC's rule, by hand: limit 100, S's share 10 at first
    m = models.S3FIFO(100)
    assert (m.small_max, m.small_target, m.main_max) == (10, 10, 90)
    m._adapt(0, 3, 7, 2)  # left S: + max(1, 7 // 3) * 2
    assert (m.small_target, m.main_max) == (14, 86)
    m._adapt(1, 3, 7, 1)  # left M: - max(1, 3 // 7) * 1
    assert m.small_target == 13
    m._adapt(0, 1, 1000, 1)  # at most half the limit
    assert (m.small_target, m.main_max) == (50, 50)
    m._adapt(1, 1000, 1, 1)  # at least 0
    assert (m.small_target, m.main_max) == (0, 100)
    assert m.small_max == 10  # the large-value bar does not move
    m.set_limit(200)
    assert (m.small_max, m.small_target, m.main_max) == (20, 20, 180)


@test
def s3fifo_large_values_and_updates():
    m = models.S3FIFO(100)  # S 10
    for k in range(60):
        assert m.insert(k, 1, fh(k)) == (0, [])
    # above S's share and not in the ghost: not admitted, remembered
    assert m.insert("big", 11, fh("big")) == (models.NOT_ADMITTED, [])
    assert "big" not in m.map and m.total == 60
    assert m.insert("big", 11, fh("big")) == (0, [])
    assert m.map["big"].queue == models.MAIN
    m.hit("big")
    # an update keeps the queue and the frequency
    assert m.insert("big", 5, fh("big")) == (0, [])
    assert m.map["big"].queue == models.MAIN and m.map["big"].freq == 1
    assert m.total == 65
    assert m.insert("big", 101, fh("big")) == (-27, [])
    assert "big" not in m.map and m.total == 60
    m.check()
    assert m.insert("free", 0, fh("free")) == (0, [])
    out = m.set_limit(0)  # everything, the zero-cost entry too
    assert len(out) == 61 and m.count == 0 and m.ghost is None


@test
def s3fifo_no_ghost_refuses_nothing():
    # below half the limit there is no ghost: nothing is refused, and a
    # value above S's share goes to M (as a handle's does)
    m = models.S3FIFO(100)
    assert m.insert("big", 40, fh("big")) == (0, [])
    assert m.map["big"].queue == models.MAIN and m.ghost is None
    # a tiny cache (S's share 0) still stores, then admits on a second ask
    m = models.S3FIFO(4)
    assert m.insert("a", 1, fh("a")) == (0, [])
    assert m.insert("b", 1, fh("b")) == (0, [])
    assert m.ghost is not None  # half the limit
    assert m.insert("c", 1, fh("c")) == (models.NOT_ADMITTED, [])
    assert m.insert("c", 1, fh("c")) == (0, [])
    m.check()


@test
def s3fifo_ghost_at_most_twice_the_entries():
    m = models.S3FIFO(1000)
    assert m.insert("big", 600, fh("big")) == (0, [])
    assert m.ghost_sized == 1  # 1 * 1000 // 600
    for k in range(3):
        assert m.insert(k, 1, fh(k)) == (0, [])
    # 4 entries of mean cost 150: 6 at the limit, within twice 4
    assert m.ghost_sized == 6
    assert m.remove("big")
    for k in range(3, 10):
        assert m.insert(k, 1, fh(k)) == (0, [])
    # mean cost 1: 1000 at the limit, but at most twice the 7 held
    assert m.ghost_sized == 14
    m.check()


@test
def s3fifo_handles():
    m = models.S3FIFO(100)
    for k in range(60):
        m.insert(k, 1, fh(k))
    # a handle cannot come back: a large value goes straight to M
    assert m.add("h1", 20) == (0, [])
    assert m.map["h1"].queue == models.MAIN
    assert m.add("h2", 5) == (0, [])
    assert m.map["h2"].queue == models.SMALL
    m.hit("h2")
    assert m.replace("h2", 6) == (0, [])
    assert m.map["h2"].queue == models.SMALL and m.map["h2"].freq == 1
    # S over its share: the oldest of S (0..) leave for the ghost first;
    # a handle leaving S is not remembered
    assert m.shrink(61) == list(range(60)) + ["h2"]
    assert all(not m.ghost.take(fh(k)) for k in ["h2"])
    assert m.ghost.take(fh(0))
    assert m.replace("h1", 101) == (-27, [])
    assert m.count == 0
    m.check()


def by_hand_log():
    """s3fifo_by_hand as a C test would log it."""
    hx = lambda k: "%016x" % fh(k)
    log = ["limit 10"]
    log += ["insert %d 1 %s = 0" % (k, hx(k)) for k in range(10)]
    log += ["hit 0", "hit 0", "hit 1",
            "insert 10 1 %s = 0 1" % hx(10),
            "insert 1 1 %s = 0 2" % hx(1),
            "state 10 10 8 2", "hit 0",
            "set_limit 5 = 3 4 5 6 7", "shrink 2 = 8 9",
            "age 1 = 10", "age 0 = 1", "state 1 1 0 1", "clear",
            "add h 3 = 0", "replace h 4 = 0", "remove h", "state 0 0 0 0"]
    return log


@test
def oplog_accepts_the_hand_trace():
    import oplog
    err, n = oplog.check(by_hand_log())
    assert err is None and n == 27, (err, n)


@test
def oplog_finds_a_wrong_line():
    import oplog
    log = by_hand_log()
    log[log.index("shrink 2 = 8 9")] = "shrink 2 = 9 8"
    err, _ = oplog.check(log)
    assert err and err.startswith("line 20: shrink 2 = 9 8"), err
    log = by_hand_log()
    log[14] = "insert 10 1 %016x = 1" % fh(10)
    err, _ = oplog.check(log)
    assert err and "line 15" in err, err


@test
def ghost_buckets():
    g = models.Ghost(20)  # 2 buckets
    assert g.buckets == 2 and g.nbytes() == 2 * 64 + 2
    hs = [models.fmix64(i + 1) for i in range(40)]
    b0 = [h for h in hs if ((h >> 32) * 2) >> 32 == 0]
    for h in b0[:17]:  # one more than a bucket holds
        g.add(h)
    assert not g.take(b0[0])  # overwritten by the 17th
    assert g.take(b0[1]) and not g.take(b0[1])
    assert g.take(b0[16])


@test
def sketch_counts_halves():
    s = models.Sketch(10)
    h = 0x0123456789ABCDEF
    assert s.frequency(h) == 0
    s.record(h)
    assert s.frequency(h) == 1  # doorkeeper only
    for _ in range(4):
        s.record(h)
    assert s.frequency(h) == 5  # 1 + four counters at 4
    s.reset()
    assert s.frequency(h) == 2  # counters halved, doorkeeper empty
    for _ in range(40):
        s.record(h)
    assert s.frequency(h) == 16  # 15 + the doorkeeper
    assert s.blocks == 1 and s.dk_words == 3 and s.sample == 100


@test
def sketch_sample_resets():
    s = models.Sketch(10)  # sample: 100 recorded changes
    for i in range(99):
        s.record(models.fmix64(i + 1))
    assert s.size == 99
    s.record(models.fmix64(1000))
    assert s.size < 50  # halved


def tiny_hashes(nkeys, dk_words=3):
    """Hashes for keys 0..nkeys-1 of a one-block sketch whose counters and
    doorkeeper bits are disjoint: key j's four bytes all select nibble j of
    the even words; the high half is searched until its doorkeeper bits
    meet no other key's."""
    used, hs = set(), {}
    for j in range(nkeys):
        low = (j << 1) * 0x01010101
        hi = 0
        while True:
            h = hi << 32 | low
            d = models.fmix64(h)
            w = ((d >> 32) * dk_words) >> 32
            bits = {(w, d & 63), (w, (d >> 6) & 63)}
            if len(bits) == 2 and not bits & used:
                used |= bits
                hs[j] = h
                break
            hi += 1
    return hs


@test
def wtinylfu_admission_by_hand():
    hs = tiny_hashes(16)
    m = models.WTinyLFU(10)
    assert (m.window_max, m.protected_max) == (1, 7)
    ins = lambda k: m.insert(k, 1, hs[k])
    for k in range(5):
        assert ins(k) == (0, [])
    # the sketch comes at half the limit, sized for 10 entries
    assert m.sketch is not None and m.sketch.cap == 10
    assert m.order(WINDOW) == [4] and m.order(PROBATION) == [0, 1, 2, 3]
    for _ in range(3):
        m.hit(0)
    m.hit(1)
    assert m.order(PROTECTED) == [0, 1] and m.order(PROBATION) == [2, 3]
    assert m.sketch.frequency(hs[0]) == 3
    for k in range(5, 10):
        assert ins(k) == (0, [])
    assert m.order(PROBATION) == [2, 3, 4, 5, 6, 7, 8]
    # 9 (seen once) against 2, 3, 4 (never recorded): admitted
    assert ins(10) == (0, [2])
    assert ins(11) == (0, [3])
    assert ins(12) == (0, [4])
    # 12 (1) against 5 (1): a tie keeps the victim
    assert ins(13) == (0, [12])
    # 13 (1) against 5 (1) again; 12 comes back with 2 and beats 5
    assert ins(12) == (0, [13])
    assert ins(14) == (0, [5])
    assert m.order(PROTECTED) == [0, 1]
    assert m.order(PROBATION) == [6, 7, 8, 9, 10, 11, 12]
    assert m.order(WINDOW) == [14]
    m.check()
    # shrink: window LRU 14 (1) against probation LRU 6 (1): the window's
    # goes on a tie; then the window is empty and probation's LRU goes
    assert m.shrink(2) == [14, 6]
    assert m.remove(7)
    # set_limit: window 1, protected 3; no candidate: plain victim order
    assert m.set_limit(5) == [8, 9]
    assert (m.window_max, m.protected_max) == (1, 3)
    assert m.order(PROTECTED) == [0, 1]
    # age, idle: down to floor(3/4 of 5) = 3
    assert m.age_step(True) == [10, 11]
    assert m.age_step(False) == [12]
    m.check()
    m.clear()
    assert m.count == 0 and m.sketch is None


@test
def wtinylfu_weighted_admission():
    hs = tiny_hashes(16)
    hs["A"], hs["B"] = hs[14], hs[15]
    m = models.WTinyLFU(10)
    for k in range(10):
        assert m.insert(k, 1, hs[k]) == (0, [])
    # cost 3 > window: first in line; it needs three victims, all at 0
    assert m.insert("A", 3, hs["A"]) == (0, [0, 1, 2])
    # B (1) against 3 (0), 4 (0), 5 (1): the sum reaches 1, B goes
    assert m.insert("B", 3, hs["B"]) == (models.NOT_ADMITTED, ["B"])
    assert "B" not in m.map and m.total == 10
    m.check()
    # over the limit: -EFBIG, the old value under the key goes too
    assert m.insert("A", 11, hs["A"]) == (-27, [])
    assert "A" not in m.map and m.total == 7


@test
def wtinylfu_climber_integer_steps():
    m = models.WTinyLFU(1600)
    assert m.window_max == 16 and m.protected_max == 1267
    assert m.step == -100
    # decay: trunc(a * 0.98) in integers
    m.sketch = models.Sketch(10)
    m.prev_hits, m.prev_n = 50, 100
    m.hits_sample, m.misses_sample = 51, 49  # +0.01: decay
    m._determine_adjustment()
    assert m.adjustment == -100 and m.step == -98
    m.hits_sample, m.misses_sample = 40, 60  # -0.11: reverse, restart
    m._determine_adjustment()
    assert m.adjustment == 98 and m.step == 100


# Trace samples replayed through the models and compared with
# expected.txt, which `replay.py --stream S --requests N --sizes Z
# --policy P` wrote for each line below (W-TinyLFU, the slow one, on a
# short sample only). A change to a model that changes one decision
# changes a digest.
FAST = "lru,sieve,arc,s3fifo"
SAMPLES = [
    ("zipf0.99", 100000, "1000,5000", FAST),
    ("cloudphysics", 40000, "500,2500", FAST),
    ("oltp", 100000, "1000,5000", FAST),
    ("cloudphysics", 20000, "500", "wtinylfu"),
]


def expected_lines():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "expected.txt")
    with open(path) as f:
        return [ln.rstrip("\n") for ln in f if ln.strip() and ln[0] != "#"]


def sample_test(stream, n, sizes, policies):
    def fn():
        import io
        import contextlib
        import replay
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            replay.main(["--stream", stream, "--requests", str(n),
                         "--sizes", sizes, "--policy", policies])
        got = out.getvalue().splitlines()
        if got and got[0].startswith("# SKIP"):
            return got[0][7:]
        want = [ln for ln in expected_lines()
                if ln.split()[0] == got[0].split()[0]
                and int(ln.split()[3]) == n
                and ln.split()[1] in policies.split(",")]
        assert got == want, "\n".join(["got:"] + got + ["want:"] + want)
    fn.__name__ = "replay_%s_%d_%s" % (stream, n, policies.replace(",", "_"))
    return fn


for _s in SAMPLES:
    TESTS.append(sample_test(*_s))


def main():
    print("TAP version 13")
    failed = 0
    for i, fn in enumerate(TESTS, 1):
        try:
            skip = fn()
            if skip:
                print("ok %d - %s # SKIP %s" % (i, fn.__name__, skip))
                continue
            print("ok %d - %s" % (i, fn.__name__))
        except Exception:
            failed += 1
            print("not ok %d - %s" % (i, fn.__name__))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
    print("1..%d" % len(TESTS))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
