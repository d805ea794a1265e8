#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Summary tables from a cache bench CSV (sc-bench-cache --csv), as
# markdown or as reStructuredText simple tables to paste into
# Documentation/performance.rst.
#
# Usage: tables.sh scaling [--rst] CSV
#        tables.sh compare [--rst] CSV
#        tables.sh alloc [--rst] CSV
#
#   scaling  the shared-cache phases: per key size, workload, N and thread
#            count, each peer's aggregate Mops/s (from the median ns/op)
#            with its speed-up over the same peer at 1 thread, slabcache's
#            ratio to each peer at that thread count, and how many CPUs
#            each peer's threads kept busy (their CPU time over the wall
#            time: below the thread count when they wait for a lock or
#            other programs take the CPUs); then the targets of the
#            concurrency work, met or below, and bytes per entry.
#   compare  a two-build run (make bench-compare): per single-thread phase
#            and size, this tree's median against the other build's, the
#            speed ratio (>= 0.95: at most 5 % slower), and find-hit at 1M
#            against uthash for both builds, and bytes per entry of every
#            peer after the fill and after insert-evict.
#   alloc    an allocation bench CSV (sc-bench-alloc --csv): per object
#            size, step and thread count, each allocator's median ns per
#            operation and sc_slab's speed over the faster of the two
#            jemalloc entries, with the targets of the concurrency work
#            (hot pair at one thread, random-order and cross-thread free
#            at two: >= 1.0x).
#
# Every figure comes from the one CSV, i.e. one run. Ratios are paired:
# the median over the rounds of the two figures' ratio within each round
# (the sc-bench-cache CSV carries every round's figure), so that a slow
# spell of the host, which hits both figures of a round, cancels out;
# without per-round figures, the ratio of the medians.
set -eu

usage() {
	echo "usage: tables.sh scaling|compare|alloc [--rst] CSV" >&2
	exit 2
}

[ $# -ge 2 ] || usage
mode=$1
shift
fmt=md
if [ "$1" = --rst ]; then
	fmt=rst
	shift
fi
[ $# -eq 1 ] || usage
case $mode in
scaling | compare | alloc) ;;
*) usage ;;
esac
[ -r "$1" ] || {
	echo "tables.sh: cannot read $1" >&2
	exit 1
}

awk -F, -v mode="$mode" -v fmt="$fmt" '
function short(p) {
	if (p == "uthash+utlist") return "uthash, one mutex"
	if (p ~ /^64-way striped/) return "uthash, 64 stripes"
	if (p ~ /^cds_lfht/) return "cds_lfht (RCU)"
	if (p ~ /^QCache.*seed 0/) return "QCache seed 0"
	if (p ~ /^QCache/) return "QCache"
	return p
}
function label(ph) {
	if (ph ~ /^find-hit shared/) return "find-hit (sc_cache_find), uniform"
	if (ph ~ /^get\/put shared/) return "get/put (sc_cache_get + sc_entry_put), uniform"
	if (ph ~ /^mix shared/) return "95 % get / 5 % insert, uniform"
	if (ph ~ /^get-or-insert shared/) return "get-or-insert, Zipf 0.8"
	return ph
}
# the phase without its workload, for the targets table
function bare(ph) {
	sub(/ shared, .*/, "", ph)
	return ph
}
function bfmt(v) {
	return v == "" || v == "nan" ? "-" : sprintf("%.1f", v)
}
function nfmt(n) {
	if (n >= 1000000 && n % 1000000 == 0) return (n / 1000000) "M"
	if (n >= 1000 && n % 1000 == 0) return (n / 1000) "k"
	return n
}
function status(v, t) {
	if (v == "") return "-"
	return sprintf("%.2fx (%s)", v, v >= t ? "meets" : "below")
}
# table helpers: collect rows, then print in the chosen format
function tstart(title) {
	nrow = 0
	ncol = 0
	ttitle = title
}
function thead(s,    i) {
	ncol = split(s, hdr, "|")
}
function trow(s,    i, k) {
	nrow++
	k = split(s, cells, "|")
	for (i = 1; i <= ncol; i++)
		cell[nrow, i] = i <= k ? cells[i] : ""
}
function tend(    i, j, w, line, sep) {
	if (!nrow)
		return
	if (ttitle != "") {
		if (fmt == "md")
			printf "\n#### %s\n\n", ttitle
		else {
			printf "\n%s\n", ttitle
			sep = ""
			for (i = 0; i < length(ttitle); i++) sep = sep "~"
			printf "%s\n\n", sep
		}
	}
	if (fmt == "md") {
		line = "|"
		sep = "|"
		for (i = 1; i <= ncol; i++) {
			line = line " " hdr[i] " |"
			sep = sep "---|"
		}
		print line
		print sep
		for (j = 1; j <= nrow; j++) {
			line = "|"
			for (i = 1; i <= ncol; i++)
				line = line " " cell[j, i] " |"
			print line
		}
		return
	}
	for (i = 1; i <= ncol; i++) {
		w[i] = length(hdr[i])
		for (j = 1; j <= nrow; j++)
			if (length(cell[j, i]) > w[i]) w[i] = length(cell[j, i])
	}
	sep = ""
	for (i = 1; i <= ncol; i++) {
		line = ""
		for (j = 0; j < w[i]; j++) line = line "="
		sep = sep (i > 1 ? "  " : "") line
	}
	print sep
	line = ""
	for (i = 1; i <= ncol; i++)
		line = line (i > 1 ? "  " : "") sprintf("%-" w[i] "s", hdr[i])
	sub(/ +$/, "", line)
	print line
	print sep
	for (j = 1; j <= nrow; j++) {
		line = ""
		for (i = 1; i <= ncol; i++)
			line = line (i > 1 ? "  " : "") \
				sprintf("%-" w[i] "s", cell[j, i] == "" ? "-" : cell[j, i])
		sub(/ +$/, "", line)
		print line
	}
	print sep
}
function add_uniq(arr, cnt, v,    i) {
	for (i = 1; i <= cnt; i++)
		if (arr[i] == v) return cnt
	arr[++cnt] = v
	return cnt
}
/^#/ || $1 == "bench" { next }
$1 == "cache" || $1 == "alloc" {
	peer = $4
	gsub(/"/, "", peer)
	# phases are named with their workload: find-hit has two
	ph = $2 ", " $3; n = $5 + 0; sz = $6 + 0; th = $7 + 0
	med[ph, n, sz, th, peer] = $10 + 0
	hit[ph, n, sz, th, peer] = $17
	bpe[ph, n, sz, th, peer] = $16
	own[ph, n, sz, th, peer] = $19
	cpu[ph, n, sz, th, peer] = $23
	rnd[ph, n, sz, th, peer] = $24
	has[ph, sz, peer] = 1
	npeer = add_uniq(peers, npeer, peer)
	nn = add_uniq(ns, nn, n)
	nsz = add_uniq(sizes, nsz, sz)
	seen[peer, ph, th] = 1
	if ($1 == "alloc") {
		nsp = add_uniq(sphases, nsp, ph)
		next
	}
	if ($2 ~ / shared$/) {
		nph = add_uniq(phases, nph, ph)
		nth = add_uniq(threads, nth, th)
	} else if (th == 1)
		nsp = add_uniq(sphases, nsp, ph)
}
function mops(ph, n, sz, th, p,    m) {
	m = med[ph, n, sz, th, p]
	return m > 0 ? 1000 / m : ""
}
# How much faster A is than B: the median over the rounds of the time of
# B over that of A in the same round (paired), or the ratio of the
# medians when the rows lack per-round figures.
function faster(pha, n, sz, tha, pa, thb, pb,    ka, kb, a, b, i, k, r, t, j) {
	if (med[pha, n, sz, tha, pa] <= 0 || med[pha, n, sz, thb, pb] <= 0)
		return ""
	ka = split(rnd[pha, n, sz, tha, pa], a, ";")
	kb = split(rnd[pha, n, sz, thb, pb], b, ";")
	if (ka < 1 || ka != kb)
		return med[pha, n, sz, thb, pb] / med[pha, n, sz, tha, pa]
	k = 0
	for (i = 1; i <= ka; i++)
		if (a[i] > 0) r[++k] = b[i] / a[i]
	for (i = 2; i <= k; i++) {
		t = r[i]
		for (j = i - 1; j >= 1 && r[j] > t; j--) r[j + 1] = r[j]
		r[j + 1] = t
	}
	if (!k) return ""
	return k % 2 ? r[(k + 1) / 2] : (r[k / 2] + r[k / 2 + 1]) / 2
}
function scaling(    si, pi, ni, ti, qi, ph, sz, n, th, q, s, v, base, ours, hdrs, tgt, t1, a, b, c, mix, mixph) {
	ours = "slabcache"
	for (si = 1; si <= nsz; si++) {
		sz = sizes[si]
		for (pi = 1; pi <= nph; pi++) {
			ph = phases[pi]
			tstart(sprintf("%s, %d-byte keys", label(ph), sz))
			hdrs = "N|threads"
			for (qi = 1; qi <= npeer; qi++) {
				q = peers[qi]
				if ((ph, sz, q) in has)
					hdrs = hdrs "|" short(q) " Mops/s (x 1 thread)"
			}
			for (qi = 1; qi <= npeer; qi++) {
				q = peers[qi]
				if (q != ours && (ph, sz, q) in has)
					hdrs = hdrs "|" ours " / " short(q)
			}
			hdrs = hdrs "|CPUs busy, same order"
			thead(hdrs)
			for (ni = 1; ni <= nn; ni++) {
				n = ns[ni]
				for (ti = 1; ti <= nth; ti++) {
					th = threads[ti]
					s = nfmt(n) "|" th
					for (qi = 1; qi <= npeer; qi++) {
						q = peers[qi]
						if (!((ph, sz, q) in has))
							continue
						v = mops(ph, n, sz, th, q)
						base = faster(ph, n, sz, th, q, 1, q)
						if (v == "") { s = s "|"; continue }
						s = s "|" sprintf("%.2f", v)
						if (base != "")
							s = s sprintf(" (%.2fx)", base)
					}
					for (qi = 1; qi <= npeer; qi++) {
						q = peers[qi]
						if (q == ours || !((ph, sz, q) in has))
							continue
						v = faster(ph, n, sz, th, ours, th, q)
						s = s "|" (v != "" ? sprintf("%.2fx", v) : "")
					}
					c = ""
					for (qi = 1; qi <= npeer; qi++) {
						q = peers[qi]
						if (!((ph, sz, q) in has))
							continue
						v = cpu[ph, n, sz, th, q]
						c = c (c == "" ? "" : " / ") \
						    (v == "" || v == "nan" ? "-" : sprintf("%.1f", v))
					}
					trow(s "|" c)
				}
			}
			tend()
		}
		# the concurrency targets, slabcache only
		tstart(sprintf("Targets, %d-byte keys (ratios of medians, this run)", sz))
		thead("workload|N|2 threads / 1|4 threads / 1|8 threads / 1|vs uthash+mutex, 2 threads|vs 64 stripes, 2 threads|vs cds_lfht, 2 threads")
		for (pi = 1; pi <= nph; pi++) {
			ph = phases[pi]
			mix = ph ~ /^mix shared/
			if (ph ~ /^get-or-insert shared/) continue
			tgt = mix ? 1.5 : 1.7
			for (ni = 1; ni <= nn; ni++) {
				n = ns[ni]
				if (mops(ph, n, sz, 1, ours) == "") continue
				s = bare(ph) "|" nfmt(n)
				v = faster(ph, n, sz, 2, ours, 1, ours)
				s = s "|" (v == "" ? "-" : status(v, tgt))
				for (ti = 4; ti <= 8; ti *= 2) {
					v = faster(ph, n, sz, ti, ours, 1, ours)
					if (v == "") s = s "|-"
					else if (mix) s = s "|" sprintf("%.2fx", v)
					else s = s "|" status(v, 1.6)
				}
				v = faster(ph, n, sz, 2, ours, 2, "uthash+utlist")
				if (v == "") s = s "|-"
				else if (mix) s = s "|" sprintf("%.2fx", v)
				else s = s "|" status(v, 3)
				v = faster(ph, n, sz, 2, ours, 2, "64-way striped uthash+utlist")
				if (v == "") s = s "|-"
				else if (mix) s = s "|" sprintf("%.2fx", v)
				else s = s "|" status(v, 1.5)
				q = ""
				for (qi = 1; qi <= npeer; qi++)
					if (peers[qi] ~ /^cds_lfht/) q = peers[qi]
				v = q == "" ? "" : faster(ph, n, sz, 2, ours, 2, q)
				s = s "|" (v == "" ? "-" : sprintf("%.2fx", v))
				trow(s)
			}
		}
		tend()
		# bytes per entry, where the run measured them
		mixph = ""
		for (pi = 1; pi <= nph; pi++)
			if (phases[pi] ~ /^mix shared/) mixph = phases[pi]
		memory_table(sz, mixph, threads[nth])
	}
}
# Bytes per entry of each peer: the growth of the library heap (everything:
# slabs, index, handle table, hit logs, entries waiting for a grace
# period) over the entries held, after the fill, after insert-evict (the
# single-thread script) and after the mix with the most threads (when the
# run had them), and the own count of slabcache (sc_cache_memory()). The
# target applies per entry at scale: at 1k the fixed cost of the first
# slab blocks dominates, so its status is given from 100k entries on.
function memory_table(sz, mixph, mth,    qi, q, ni, n, a, b, c, o, s, w, hasb, hasc, worst) {
	hasb = hasc = 0
	for (qi = 1; qi <= npeer; qi++)
		for (ni = 1; ni <= nn; ni++) {
			b = bpe["insert-evict, new keys", ns[ni], sz, 1, peers[qi]]
			c = mixph == "" ? "" : bpe[mixph, ns[ni], sz, mth, peers[qi]]
			if (b != "" && b != "nan") hasb = 1
			if (c != "" && c != "nan") hasc = 1
		}
	tstart(sprintf("Bytes per entry, %d-byte keys (target <= 56 + %d = %d for slabcache)", sz, sz, 56 + sz))
	s = "peer|N|after fill"
	if (hasb) s = s "|after insert-evict"
	if (hasc) s = s "|after the mix, " mth " threads|own count, after the mix"
	thead(s "|target")
	for (qi = 1; qi <= npeer; qi++) {
		q = peers[qi]
		for (ni = 1; ni <= nn; ni++) {
			n = ns[ni]
			a = bpe["fill, unique", n, sz, 1, q]
			b = bpe["insert-evict, new keys", n, sz, 1, q]
			c = mixph == "" ? "" : bpe[mixph, n, sz, mth, q]
			o = mixph == "" ? "" : own[mixph, n, sz, mth, q]
			if ((a == "" || a == "nan") && (b == "" || b == "nan") && \
			    (c == "" || c == "nan")) continue
			s = short(q) "|" nfmt(n) "|" bfmt(a)
			if (hasb) s = s "|" bfmt(b)
			if (hasc) s = s "|" bfmt(c) "|" bfmt(o)
			worst = ""
			if (a != "" && a != "nan") worst = a + 0
			if (b != "" && b != "nan" && (worst == "" || b + 0 > worst)) worst = b + 0
			if (c != "" && c != "nan" && (worst == "" || c + 0 > worst)) worst = c + 0
			w = ""
			if (q ~ /^slabcache/ && n >= 100000 && worst != "")
				w = sprintf("%.1f: %s", worst, worst <= 56 + sz ? "meets" : "above")
			trow(s "|" w)
		}
	}
	tend()
}
function compare(    si, ni, pi, sz, n, ph, ref, qi, c, r, uth, s, v) {
	ref = ""
	for (qi = 1; qi <= npeer; qi++)
		if (peers[qi] ~ /^slabcache@/) ref = peers[qi]
	if (ref == "") {
		print "tables.sh: no slabcache@REF peer in this CSV" > "/dev/stderr"
		exit 1
	}
	for (si = 1; si <= nsz; si++) {
		sz = sizes[si]
		tstart(sprintf("This tree against %s, one thread, %d-byte keys", ref, sz))
		thead("phase|N|this tree ns/op|" ref " ns/op|speed, this tree / " ref "|>= 0.95")
		for (pi = 1; pi <= nsp + nph; pi++) {
			ph = pi <= nsp ? sphases[pi] : phases[pi - nsp]
			for (ni = 1; ni <= nn; ni++) {
				n = ns[ni]
				c = med[ph, n, sz, 1, "slabcache"]
				r = med[ph, n, sz, 1, ref]
				if (c == "" || r == "") continue
				v = faster(ph, n, sz, 1, "slabcache", 1, ref)
				trow(ph (pi > nsp ? ", 1 thread" : "") "|" nfmt(n) "|" \
				     sprintf("%.1f", c) "|" sprintf("%.1f", r) "|" \
				     sprintf("%.2fx", v) "|" (v >= 0.95 ? "meets" : "below"))
			}
		}
		tend()
		tstart(sprintf("find-hit, uniform, against uthash+utlist, %d-byte keys", sz))
		thead("N|this tree / uthash (>= 1.5 at 1M)|" ref " / uthash")
		for (ni = 1; ni <= nn; ni++) {
			n = ns[ni]
			c = faster("find-hit, uniform", n, sz, 1, "slabcache", 1, "uthash+utlist")
			r = faster("find-hit, uniform", n, sz, 1, ref, 1, "uthash+utlist")
			if (c == "") continue
			s = nfmt(n) "|" (n == 1000000 ? status(c, 1.5) : sprintf("%.2fx", c))
			s = s "|" (r == "" ? "-" : sprintf("%.2fx", r))
			trow(s)
		}
		tend()
		memory_table(sz, "", 1)
	}
}
function alloc(    si, pi, ni, ti, sz, n, th, ph, q, s, v, best, tgt, je) {
	n = ns[1]
	for (si = 1; si <= nsz; si++) {
		sz = sizes[si]
		tstart(sprintf("Allocation, %d-byte objects, %s per thread", sz, nfmt(n)))
		thead("step|threads|sc_slab ns|glibc ns|jemalloc ns|mallocx/sdallocx ns|sc_slab / best jemalloc|target")
		for (pi = 1; pi <= nsp; pi++) {
			ph = sphases[pi]
			for (ti = 1; ti <= 2; ti++) {
				th = ti
				if (!(("sc_slab" SUBSEP ph SUBSEP th) in seen)) continue
				s = ph "|" th
				s = s "|" cellns(ph, n, sz, th, "sc_slab")
				s = s "|" cellns(ph, n, sz, th, "glibc malloc/free")
				s = s "|" cellns(ph, n, sz, th, "jemalloc malloc/free")
				s = s "|" cellns(ph, n, sz, th, "jemalloc mallocx/sdallocx")
				best = ""
				for (je = 1; je <= 2; je++) {
					q = je == 1 ? "jemalloc malloc/free" : "jemalloc mallocx/sdallocx"
					v = faster(ph, n, sz, th, "sc_slab", th, q)
					if (v != "" && (best == "" || v < best)) best = v
				}
				tgt = ""
				if (ph ~ /^hot pair/ && th == 1) tgt = 1.0
				if ((ph ~ /^free, random/ || ph ~ /^free, cross-thread/) && th == 2) tgt = 1.0
				s = s "|" (best == "" ? "-" : sprintf("%.2fx", best))
				s = s "|" (tgt == "" || best == "" ? "" : (best >= tgt ? ">= 1.0x: meets" : ">= 1.0x: below"))
				trow(s)
			}
		}
		tend()
	}
}
function cellns(ph, n, sz, th, p) {
	return med[ph, n, sz, th, p] > 0 ? sprintf("%.1f", med[ph, n, sz, th, p]) : "-"
}
END {
	if (mode == "alloc") {
		alloc()
		exit 0
	}
	if (mode == "scaling") {
		if (!nph) {
			print "tables.sh: no shared-cache rows in this CSV" > "/dev/stderr"
			exit 1
		}
		scaling()
	} else
		compare()
}
' "$1"
