#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# parallel: yes
# seconds: 16
"""Raw-socket conformance: the same byte sequences go to a fresh slabcached
and a fresh Debian memcached, in the same order, one connection per case;
every reply must be identical byte for byte. Replies that differ by design
(version string, stats values) are checked for shape only.

Usage: conformance.py [--self-only]
"""

import socket
import struct
import sys
import time

import sdtest

K250 = b"k" * 250
K251 = b"k" * 251
# memcached's limit falls at 56 + key + 1 + value + 2 bytes of -I (1 MiB)
BIG_OK = (1 << 20) - 56 - len(b"big") - 1 - 2

CASES = [
    # storage commands and replies
    ("set/get", b"set a 0 0 1\r\nx\r\nget a\r\n"),
    ("set flags", b"set f 4294967295 0 3\r\nabc\r\nget f\r\n"),
    ("flags wrap to 32 bits", b"set f 4294967296 0 1\r\nx\r\nget f\r\n"),
    ("negative flags", b"set f -1 0 1\r\nx\r\n"),
    ("gets cas", b"set c 0 0 1\r\nx\r\ngets c\r\n"),
    ("get many", b"set m1 1 0 2\r\nm1\r\nset m2 2 0 2\r\nm2\r\n"
     b"get m1 nope m2 m1\r\ngets m2 m1\r\n"),
    ("get line of 40 KiB (answered as it streams in)",
     b"get " + b" ".join(b"m%d" % (i % 4) for i in range(12000)) + b"\r\n"),
    ("gets line of 40 KiB, LF only",
     b"gets " + b" ".join(b"m%d" % (i % 4) for i in range(12000)) + b"\n"),
    ("a gat line past 2048 bytes closes, as in memcached",
     b"gat 0 " + b" ".join(b"m%d" % (i % 4) for i in range(12000)) +
     b"\r\n"),
    ("long get line cut at a NUL", b"get " + b"m1 " * 7000 + b"\x00m2\r\n"),
    ("get 30 keys (past 24 tokens)",
     b"get " + b" ".join(b"m%d" % (i % 3) for i in range(30)) + b"\r\n"),
    ("add", b"add ad 0 0 1\r\nx\r\nadd ad 0 0 1\r\ny\r\nget ad\r\n"),
    ("replace", b"replace rp 0 0 1\r\nx\r\nset rp 0 0 1\r\nx\r\n"
     b"replace rp 5 0 2\r\nyy\r\nget rp\r\n"),
    ("append/prepend", b"set ap 7 0 2\r\nbb\r\nappend ap 0 0 2\r\ncc\r\n"
     b"prepend ap 9 0 2\r\naa\r\nget ap\r\nappend nope 0 0 1\r\nx\r\n"
     b"prepend nope 0 0 1\r\nx\r\n"),
    ("cas", b"set cs 0 0 1\r\nx\r\ngets cs\r\ncas cs 0 0 1 999999\r\ny\r\n"
     b"cas nope 0 0 1 1\r\ny\r\n"),
    ("cas match", b"set cm 0 0 1\r\nx\r\n"),  # followed by a computed case
    ("delete", b"set d 0 0 1\r\nx\r\ndelete d\r\ndelete d\r\nget d\r\n"),
    ("delete 0", b"set d 0 0 1\r\nx\r\ndelete d 0\r\ndelete d 0 noreply\r\n"),
    ("delete bad hold", b"delete d 1\r\ndelete d 0 x\r\ndelete d x noreply\r\n"),
    ("incr/decr", b"set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 3\r\nget n\r\n"
     b"decr n 100\r\nget n\r\nincr nope 1\r\ndecr nope 1\r\n"),
    ("decr shrinks in place", b"set n2 0 0 3\r\n100\r\ndecr n2 1\r\nget n2\r\n"
     b"incr n2 1\r\nget n2\r\n"),
    ("incr wraps", b"set w 0 0 20\r\n18446744073709551615\r\nincr w 2\r\n"
     b"get w\r\n"),
    ("incr non-numeric", b"set s 0 0 2\r\nab\r\nincr s 1\r\n"
     b"set s 0 0 3\r\n12a\r\nincr s 1\r\nset s 0 0 0\r\n\r\nincr s 1\r\n"),
    ("incr bad delta", b"incr n x\r\nincr n -1\r\nincr n 1.5\r\n"),
    ("touch", b"set t 0 0 1\r\nx\r\ntouch t 100\r\ntouch nope 1\r\n"
     b"touch t x\r\n"),
    ("touch expires", b"set t2 0 0 1\r\nx\r\ntouch t2 -1\r\nget t2\r\n"),
    ("gat/gats", b"set g 3 0 2\r\ngg\r\ngat 100 g nope\r\ngats 0 g\r\n"
     b"gat x g\r\ngat 1\r\n"),
    ("noreply", b"set nr 0 0 1 noreply\r\nx\r\nadd nr 0 0 1 noreply\r\ny\r\n"
     b"append nr 0 0 1 noreply\r\nz\r\nincr nr 1 noreply\r\n"
     b"touch nr 0 noreply\r\nget nr\r\ndelete nr noreply\r\nget nr\r\n"),
    ("noreply hides errors", b"set " + K251 + b" 0 0 1 noreply\r\nx\r\n"),
    # expiry as memcached interprets it
    ("negative exptime", b"set e 0 -1 1\r\nx\r\nget e\r\n"),
    ("30 days relative", b"set e 0 2592000 1\r\nx\r\nget e\r\n"),
    ("past absolute", b"set e 0 2592001 1\r\nx\r\nget e\r\n"),
    ("future absolute", b"set e 0 %d 1\r\nx\r\nget e\r\n"
     % (int(time.time()) + 3600)),
    # keys
    ("key of 250", b"set " + K250 + b" 0 0 1\r\nx\r\nget " + K250 + b"\r\n"),
    # one exchange each: memcached drops the unsent replies of earlier
    # pipelined commands when a get fails on a long key (its
    # conn_release_items() culls them); slabcached does not
    ("key of 251: set", b"set " + K251 + b" 0 0 1\r\nx\r\n"),
    ("key of 251: get", b"get " + K251 + b"\r\n"),
    ("key of 251 among others", b"get a " + K251 + b" a\r\n"),
    ("key of 251 after a reply (documented difference)",
     [b"get a\r\n", b"get " + K251 + b"\r\n"]),
    ("key of 251 delete/incr/touch", b"delete " + K251 + b"\r\nincr " +
     K251 + b" 1\r\ntouch " + K251 + b" 1\r\n"),
    ("line cut at NUL", b"get a\x00b\r\n"),
    ("bare CR key", b"get a\r\r\n"),
    ("extra spaces", b" get  a \r\nset  sp  0 0 1 \r\nx\r\nget sp\r\n"),
    ("LF only", b"get a\n"),
    # errors
    ("empty lines", b"\r\n\n \r\n"),
    ("unknown commands", b"GET a\r\nfoo\r\nx\r\nsets a\r\n"),
    ("wrong token counts", b"get\r\ngets\r\nset a 0 0\r\nset a 0 0 1 2 3\r\n"
     b"cas a 0 0 1\r\ntouch a\r\nincr a\r\ndelete\r\nverbosity\r\n"
     b"flush_all 1 2 3\r\n"),
    ("bad numbers", b"set t 0 x 1\r\nset t 0 1.5 1\r\nset t 0 0 1x\r\n"
     b"set t x 0 1\r\nset t 0 0 -1\r\nset t 0 0 2147483646\r\n"
     b"cas a 0 0 1 x\r\n"),
    ("numbers with sign and zeros", b"set t 0 0 01\r\nx\r\nset t +1 0 +1\r\n"
     b"y\r\nget t\r\n"),
    ("bad data chunk", b"set bd 0 0 1\r\nxyz\r\nget bd\r\n"),
    ("too large", b"set big 0 0 %d\r\n" % (BIG_OK + 1) + b"z" * (BIG_OK + 1)
     + b"\r\nget big\r\n"),
    ("largest", b"set big 0 0 %d\r\n" % BIG_OK + b"y" * BIG_OK +
     b"\r\nget big\r\n"),
    ("append/prepend across 512 KiB chunks",
     b"set ch 0 0 400000\r\n" + b"a" * 400000 + b"\r\nappend ch 0 0 300000\r\n"
     + b"b" * 300000 + b"\r\nprepend ch 0 0 200000\r\n" + b"c" * 200000 +
     b"\r\nget ch\r\nincr ch 1\r\n"),
    ("value of exactly one 512 KiB chunk, and one byte more",
     b"set c1 0 0 524286\r\n" + b"x" * 524286 + b"\r\nget c1\r\n"
     b"set c2 0 0 524287\r\n" + b"y" * 524287 + b"\r\nget c2\r\n"),
    ("too large append", b"set ta 0 0 1000000\r\n" + b"t" * 1000000 +
     b"\r\nappend ta 0 0 100000\r\n" + b"u" * 100000 + b"\r\nget ta\r\n"),
    ("too large set removes old", b"set big 0 0 2000000\r\n" +
     b"z" * 2000000 + b"\r\nget big\r\n"),
    ("too large noreply", b"set big 0 0 %d noreply\r\n" % (BIG_OK + 1) +
     b"z" * (BIG_OK + 1) + b"\r\n"),
    # other commands
    ("verbosity", b"verbosity 1\r\nverbosity 1 noreply\r\nverbosity x\r\n"
     b"verbosity 1 2\r\nverbosity 0\r\n"),
    ("flush_all", b"set fl 0 0 1\r\nx\r\nflush_all\r\nget fl\r\n"
     b"flush_all x\r\nflush_all 0 noreply\r\nflush_all noreply\r\n"),
    ("flush_all negative and past absolute delays",
     b"set a 0 0 1\r\nx\r\nflush_all -1\r\nget a\r\nset c 0 0 1\r\ny\r\n"
     b"flush_all 2592001\r\nget c\r\n"),
    ("flush_all then set", b"flush_all\r\nset fl 0 0 1\r\nx\r\nget fl\r\n"),
    ("stats unknown", b"stats nosuch\r\n"),
    ("stats reset", b"stats reset\r\n"),
    ("quit", b"get a\r\nquit\r\nget a\r\n"),
    # numbers are read in 64 bits and truncated to the field, not refused
    ("value length over 32 bits", b"set w 0 0 4294967297\r\nx\r\nget w\r\n"),
    ("exptime over 32 bits", b"set w 0 4294967296 1\r\nx\r\nget w\r\n"
     b"set w 0 4294967295 1\r\ny\r\nget w\r\nset w 0 8589934591 1\r\n"
     b"z\r\nget w\r\n"),
    ("flags over 32 bits, and out of 64", b"set w 8589934593 0 1\r\nx\r\n"
     b"get w\r\nset w 18446744073709551616 0 1\r\nx\r\n"),
    ("touch, gat, flush_all, verbosity over 32 bits",
     b"set w 0 0 1\r\nx\r\ntouch w 4294967296\r\nget w\r\n"
     b"touch w 4294967295\r\nget w\r\nset w 0 0 1\r\nx\r\n"
     b"gat 4294967296 w\r\ngat 8589934591 w\r\nget w\r\n"
     b"verbosity 4294967297\r\nverbosity 18446744073709551615\r\n"
     b"verbosity 18446744073709551616\r\nverbosity 0\r\n"
     b"set w 0 0 1\r\nx\r\nflush_all 4294967296\r\nget w\r\n"),
    # flush_all uses up a CAS unique when it takes effect at once
    ("flush_all and CAS uniques", b"set fc 0 0 1\r\nx\r\nflush_all\r\n"
     b"set fc 0 0 1\r\nx\r\ngets fc\r\nflush_all 0\r\nflush_all -5\r\n"
     b"flush_all 2592001\r\nset fc 0 0 1\r\ny\r\ngets fc\r\n"),
    ("delayed flush_all uses no unique", b"set fd 0 0 1\r\nx\r\n"
     b"flush_all 100\r\nset fd 0 0 1\r\ny\r\ngets fd\r\nflush_all 0\r\n"),
    # incr/decr read a number at the start of the value
    ("incr on a number followed by text",
     b"set n 0 0 36\r\n5 trailing text that is long enoughX\r\nincr n 1\r\n"
     b"get n\r\ndecr n 10\r\nget n\r\nset n 0 0 4\r\n12 x\r\nincr n 1\r\n"
     b"get n\r\n"),
    ("incr on long zero-padded numbers",
     b"set n 0 0 300\r\n" + b"0" * 299 + b"7\r\nincr n 1\r\nget n\r\n"
     b"set n 0 0 30\r\n" + b"0" * 29 + b"9\r\ndecr n 10\r\nget n\r\n"),
    ("incr on leading space, sign, tab, overflow",
     b"set n 0 0 3\r\n  7\r\nincr n 1\r\nset n 0 0 2\r\n+3\r\nincr n 1\r\n"
     b"set n 0 0 2\r\n-0\r\nincr n 1\r\nset n 0 0 2\r\n-1\r\nincr n 1\r\n"
     b"set n 0 0 3\r\n4\t5\r\nincr n 1\r\nset n 0 0 3\r\n4x5\r\nincr n 1\r\n"
     b"set n 0 0 20\r\n18446744073709551616\r\nincr n 1\r\n"
     b"set n 0 0 1\r\n \r\nincr n 1\r\nset n 0 0 1\r\n+\r\nincr n 1\r\n"
     b"set n 0 0 4\r\n12\r\n\r\nincr n 1\r\nget n\r\n"),
    # where memcached looks for a '-' (numbers of 2^63 and more)
    ("a '-' in a big number's token or value",
     b"set n 0 0 1\r\n1\r\nincr n -18446744073709551615\r\n"
     b"incr n 18446744073709551615\r\nget n\r\n"
     b"set n 0 0 22\r\n18446744073709551615 -\r\nincr n 1\r\n"
     b"set n 0 0 21\r\n9223372036854775808 x\r\nincr n 1\r\n"
     b"set n 0 0 23\r\n9223372036854775808 \x00-x\r\nincr n 1\r\n"
     b"set n 0 0 1\r\n1\r\nset n 0 0 22\r\n-9223372036854775809 \r\n"
     b"incr n 0\r\n"),
    # memcached's size counts 4 bytes of flags when they are not 0
    ("size limit with flags", b"set k 1 0 1048514\r\n" + b"f" * 1048514 +
     b"\r\nget k\r\nset k 0 0 1048514\r\n" + b"g" * 1048514 +
     b"\r\nset k 1 0 1048510\r\n" + b"h" * 1048510 + b"\r\n"
     b"append k 0 0 1\r\ni\r\nset k 0 0 1048510\r\n" + b"h" * 1048510 +
     b"\r\nappend k 0 0 1\r\ni\r\n"),
    # a value memcached keeps in chunks (item over 512 KiB) is not a number
    ("incr on a value near 512 KiB",
     b"set n 0 0 524265\r\n1" + b" " * 524264 + b"\r\nincr n 1\r\n"
     b"set n 0 0 524228\r\n1" + b" " * 524227 + b"\r\nincr n 1\r\n"
     b"set n 0 0 524229\r\n1" + b" " * 524228 + b"\r\nincr n 1\r\n"
     b"set n 5 0 524224\r\n1" + b" " * 524223 + b"\r\nincr n 1\r\n"
     b"set n 5 0 524225\r\n1" + b" " * 524224 + b"\r\nincr n 1\r\n"),
    # gat/gats touch the keys before one over 250 bytes
    # (each exchange alone: memcached also drops the replies it had not
    # yet sent to the commands before, a documented difference)
    ("gat with a long key touches the keys before it",
     [b"set gl 0 0 1\r\nx\r\nset gm 0 0 1\r\ny\r\n",
      b"gat -1 gl " + K251 + b" gm\r\nget gl gm\r\n",
      b"set gl 0 0 1\r\nx\r\n",
      b"gats -1 gl gl " + K251 + b"\r\nget gl gm\r\n"]),
    ("bget", b"set bg 3 0 2\r\nbg\r\nbget bg nope bg\r\nbget\r\n"),
    ("HTTP request line closes", b"get a\r\nGET / HTTP/1.1\r\n"),
    ("HTTP/ alone closes", b"HTTP/1.0\r\n"),
    ("HTTP/ after a known first letter is an error",
     [b"gxx / HTTP/1.1\r\n", b"sxx HTTP/1\r\n", b"mx HTTP/1\r\n",
      b"foo HTTP\r\n", b"foo x HTTP/\r\n",
      b"cxx HTTP/\r\n", b"ixx HTTP/\r\n", b"dxx HTTP/\r\n",
      b"txx HTTP/\r\n", b"axx HTTP/\r\n", b"rxx HTTP/\r\n",
      b"mxx HTTP/\r\n", b"m HTTP/\r\n"]),
    # long lines are parsed up to 16 KiB if they come in one read
    ("a 5000-byte line", b"verbosity 0" + b" " * 5000 + b"\r\n"
     b"stats " + b"x" * 5000 + b"\r\n"),
    ("a 16000-byte line", b"flush_all" + b" " * 16000 + b"\r\nget a\r\n"),
    ("a 17000-byte line closes", b"flush_all" + b" " * 17000 + b"\r\n"),
]

# The meta protocol: every command and flag of memcached 1.6.18.
META_CASES = [
    ("mn", b"mn\r\nmn extra\r\n"),
    ("ms and mg basics", b"ms mfoo 2\r\nhi\r\nmg mfoo\r\nmg mfoo v\r\n"
     b"mg mfoo s v\r\nmg mnope\r\nmg mnope v\r\n"),
    ("mg return flags, in order", b"ms mf 3 F17 T0\r\nabc\r\n"
     b"mg mf s t f c k Oop123 v\r\nmg mf k v O1 s\r\nmg mf t\r\n"),
    ("mg hit and last access", b"ms mh 1\r\nx\r\nmg mh h l\r\nmg mh h l\r\n"
     b"mg mh h u\r\nms mh2 1\r\nx\r\nmg mh2 u h\r\nmg mh2 h\r\n"),
    ("mg quiet: misses hidden, hits shown", b"ms mq 1\r\nq\r\nmg mq q v\r\n"
     b"mg mqnope q v k O5\r\nmg mqnope v k O5\r\nmn\r\n"),
    ("mg miss with k, O, b", b"mg mzz k Oxyz\r\nmg bW5vcGU= b k v\r\n"),
    ("ms and mg with a base64 key", b"ms Zm9vYmFy 3 b\r\nbar\r\n"
     b"mg Zm9vYmFy b k v s\r\nmg foobar v\r\nget foobar\r\n"
     b"ms AAEC 1 b k\r\nz\r\nmg AAEC b k v\r\nme AAEC b\r\n"),
    ("bad base64 keys", b"mg #### b v\r\nms ab= 1 b\r\nx\r\n"
     b"md ===a b\r\nma x b\r\n"),
    ("mg TTL update and t", b"ms mt 1 T100\r\nx\r\nmg mt t v\r\n"
     b"mg mt T500 t\r\nmg mt t\r\nmg mt T0 t\r\nmg mt T-1 v\r\n"
     b"mg mt v\r\n"),
    ("mg vivify and recache", b"mg mv N30 s t v c\r\nmg mv N30 s t v\r\n"
     b"ms mr 1 T10\r\nx\r\nmg mr R30 v t\r\nmg mr R30 v t\r\n"
     b"ms mr2 1 T100\r\nx\r\nmg mr2 R30 v t\r\n"),
    ("ms with return flags", b"ms mk 2 k c Oaa\r\nhi\r\n"
     b"ms mk 2 q k\r\nho\r\nmg mk v\r\nms mk 2 q Oq\r\nhu\r\nmn\r\n"),
    ("ms modes", b"ms mm 1 ME\r\na\r\nms mm 1 ME\r\nb\r\n"
     b"ms mm 1 MA\r\nc\r\nms mm 1 MP\r\nd\r\nmg mm v\r\n"
     b"ms mmnope 1 MR\r\ne\r\nms mm 1 MR\r\nf\r\nms mm 1 MS\r\ng\r\n"
     b"ms mmnope 1 MA\r\nh\r\nmg mm v\r\nms mm 1 Mx\r\ni\r\n"
     b"ms mm 1 MSS\r\nj\r\nmg mm v\r\n"),
    ("ms CAS", b"ms mc 1 c\r\na\r\nmg mc c\r\nms mc 1 C1 c\r\nb\r\n"
     b"ms mcnope 1 C5 c\r\nb\r\nms mcnope 1 C5 ME\r\nb\r\n"
     b"ms mc 1 C0\r\nz\r\nmg mc v\r\n"),
    ("ms errors", b"ms\r\nms mfx\r\nms mfx abc\r\nms mfx -1\r\n"
     b"ms mfx 2 Z\r\nhi\r\nms mfx 2 T1 T2\r\nhi\r\nms mfx 2 Tx\r\nhi\r\n"
     b"ms mfx 2 Fx\r\nhi\r\nms mfx 2 Cx\r\nhi\r\n"
     b"ms mfx 2 O" + b"o" * 33 + b"\r\nhi\r\nms mfx 2 q Z\r\nhi\r\n"
     b"ms mfx 2\r\nhiX\r\nms mfx 2 q\r\nhiX\r\nmn\r\n"),
    ("ms too large, and it unlinks the old value",
     b"ms mbig 1\r\nx\r\nms mbig 2000000 MA\r\n" + b"y" * 2000000 +
     b"\r\nmg mbig v\r\n"),
    ("md", b"ms md1 1\r\nx\r\nmd md1\r\nmd md1\r\nmd md1 q\r\n"
     b"ms md1 1\r\nx\r\nmd md1 q k Oz\r\nmd md1 k Oz\r\nmg md1 v\r\n"
     b"md\r\nmd md1 Zq\r\nmn\r\n"),
    ("md with CAS", b"ms mdc 1\r\nx\r\nmd mdc C1\r\nmg mdc c\r\n"
     b"md mdc C99999999\r\nmg mdc v\r\n"),
    ("md invalidate, then the stale-while-revalidate flags",
     b"ms ms1 1 T100\r\nx\r\nmd ms1 I T30\r\nmg ms1 v c t\r\n"
     b"mg ms1 v\r\nmg ms1 v\r\nmd ms1 I\r\nmg ms1 v\r\n"),
    ("ms I replaces a stale item with an older CAS",
     b"ms ms2 1\r\nx\r\nmg ms2 c\r\nmd ms2 I\r\nmg ms2 v\r\n"
     b"ms ms2 1 I C1\r\ny\r\nmg ms2 v\r\nms ms2 1 C1\r\nz\r\n"),
    ("ma", b"ma mnum\r\nma mnum q\r\nma mnum N0 J10 v\r\nma mnum v\r\n"
     b"ma mnum D5 v\r\nma mnum MD D3 v\r\nma mnum M- v t c\r\n"
     b"ma mnum M+ q\r\nmg mnum v\r\nma mnum MD D100 v\r\n"
     b"ma mnum Mx\r\nma mnum D\r\nma mnum Dx\r\nma mnum Jx N0\r\n"
     b"mn\r\n"),
    ("ma flags and errors", b"ms mat 1 T100\r\n5\r\nma mat t T300 t v\r\n"
     b"ma mat C1\r\nma matnope k Oab\r\nma matnope q k\r\n"
     b"ms mas 1\r\nx\r\nma mas\r\nma\r\nma mas O" + b"o" * 40 +
     b"\r\nma mvv N30 J7 v t k\r\n"),
    ("me", b"ms mee 3 F5\r\nabc\r\nme mee\r\nme\r\nme nope\r\n"
     b"mg mee v\r\nme mee\r\nme mee b\r\n"),
    ("meta key and flag limits", b"mg " + K251 + b" v\r\nms " + K251 +
     b" 1\r\nx\r\nmd " + K251 + b"\r\nma " + K251 + b"\r\nme " + K251 +
     b"\r\nmg a " + b" ".join(b"O%d" % i for i in range(20)) + b"\r\n"
     b"mg a v v\r\nmg a \x80\r\nmg a ~\r\nmg\r\nmx\r\n"),
    ("meta after flush and with -C style zero CAS", b"ms mfl 1\r\nx\r\n"
     b"flush_all\r\nmg mfl v\r\nms mfl 1 c\r\ny\r\nmg mfl c v\r\n"),
]


def bin_req(opcode, key=b"", extras=b"", value=b"", cas=0, opaque=0,
            bodylen=None, keylen=None, magic=0x80):
    """A binary protocol request."""
    body = extras + key + value
    return struct.pack(">BBHBBHIIQ", magic, opcode,
                       len(key) if keylen is None else keylen, len(extras),
                       0, 0, len(body) if bodylen is None else bodylen,
                       opaque, cas) + body


def bset(op, key, value, flags=0, exp=0, cas=0, opaque=0):
    return bin_req(op, key, struct.pack(">II", flags, exp), value, cas,
                   opaque)


def bdelta(op, key, delta, initial=0, exp=0, cas=0):
    return bin_req(op, key, struct.pack(">QQI", delta, initial, exp),
                   cas=cas)


BIN_NOOP_SYNC = bin_req(0x0a, opaque=0x5eed5eed)
BIN_NOOP_REPLY = struct.pack(">BBHBBHIIQ", 0x81, 0x0a, 0, 0, 0, 0, 0,
                             0x5eed5eed, 0)

# a key missed by the check would end at its 0x00 and hit the key before
# it: those are looked up too
LONG_ESC_AT = (3, 15, 16, 21, 31, 39)
LONG_ESC_KEYS = [b"L" * i + bytes([e]) + b"L" * (39 - i)
                 for i in LONG_ESC_AT for e in (0, 1)]

# The binary protocol: every command memcached's binary.t exercises, with
# the quiet variants, the malformed requests and SASL without SASL.
BIN_CASES = [
    ("binary get miss, set, get, getk", bin_req(0x00, b"bk1") +
     bset(0x01, b"bk1", b"hello", flags=0xdeadbeef) + bin_req(0x00, b"bk1") +
     bin_req(0x0c, b"bk1", opaque=7) + bin_req(0x0c, b"bknope", opaque=8)),
    # keys with the bytes the index escapes, before, inside and after
    # 8-byte words, and the escaped spelling of one of them: all distinct
    ("binary keys with 0x00 and 0x01 bytes",
     bset(0x01, b"bkey\x00\x00long-key", b"a") +
     bset(0x01, b"bkey\x01\x03\x01\x03long-key", b"b") +
     bset(0x01, b"bkey\x01\x01long-key", b"c") +
     bset(0x01, b"bkey\x02\x02long-key", b"d") +
     bset(0x01, b"bkeylong-key1234\x00", b"e") +
     bset(0x01, b"bkeylong-key1234\x01", b"f") +
     bset(0x01, b"\x00\x01", b"g") +
     b"".join(bin_req(0x0c, k) for k in (
         b"bkey\x00\x00long-key", b"bkey\x01\x03\x01\x03long-key",
         b"bkey\x01\x01long-key", b"bkey\x02\x02long-key",
         b"bkeylong-key1234\x00", b"bkeylong-key1234\x01",
         b"bkeylong-key1234", b"\x00\x01", b"\x01\x02\x01\x03"))),
    # the same at lengths the check reads 16 bytes at a time: the bytes in
    # the first 16, in the second, and in the overlapping last 16
    ("binary long keys with 0x00 and 0x01 bytes",
     b"".join(bset(0x01, k, b"%d" % i) for i, k in enumerate(LONG_ESC_KEYS))
     + b"".join(bin_req(0x0c, k) for k in LONG_ESC_KEYS + [
         b"L" * 40, b"L" * 3 + b"\x01\x03" + b"L" * 35] + [
         b"L" * i for i in LONG_ESC_AT])),
    ("binary quiet gets: misses hidden", bin_req(0x09, b"bknope") +
     bin_req(0x0d, b"bknope") + bset(0x01, b"bkq", b"q") +
     bin_req(0x09, b"bkq", opaque=3) + bin_req(0x0d, b"bkq", opaque=4)),
    ("binary add, replace, quiet stores", bset(0x02, b"ba", b"1") +
     bset(0x02, b"ba", b"2") + bset(0x03, b"banope", b"3") +
     bset(0x03, b"ba", b"4", flags=9) + bset(0x11, b"ba", b"5") +
     bset(0x12, b"ba", b"6") + bset(0x13, b"banope", b"7") +
     bset(0x13, b"ba", b"8") + bin_req(0x00, b"ba")),
    ("binary CAS", bset(0x01, b"bc", b"x") + bset(0x01, b"bc", b"y", cas=1) +
     bset(0x01, b"bcnope", b"y", cas=5) + bset(0x02, b"bcnope2", b"y", cas=5)
     + bset(0x03, b"bc", b"z", cas=999999)),
    ("binary append, prepend", bset(0x01, b"bap", b"mid") +
     bin_req(0x0e, b"bap", value=b"-end") +
     bin_req(0x0f, b"bap", value=b"start-") +
     bin_req(0x19, b"bap", value=b"!") + bin_req(0x1a, b"bap", value=b"^") +
     bin_req(0x0e, b"bapnope", value=b"x") + bin_req(0x00, b"bap") +
     bin_req(0x0e, b"bap", value=b"x", cas=12345)),
    ("binary delete", bset(0x01, b"bd", b"x") + bin_req(0x04, b"bd", cas=77) +
     bin_req(0x04, b"bd") + bin_req(0x04, b"bd") + bset(0x01, b"bd", b"x") +
     bin_req(0x14, b"bd") + bin_req(0x14, b"bd") + bin_req(0x00, b"bd")),
    ("binary incr, decr", bdelta(0x05, b"bn", 1, 10, 0xffffffff) +
     bdelta(0x05, b"bn", 1, 10, 0) + bdelta(0x05, b"bn", 5) +
     bdelta(0x06, b"bn", 3) + bdelta(0x06, b"bn", 100) +
     bdelta(0x15, b"bn", 2) + bdelta(0x16, b"bn", 1) +
     bin_req(0x00, b"bn") + bdelta(0x05, b"bn", 1, cas=1) +
     bset(0x01, b"bs", b"abc") + bdelta(0x05, b"bs", 1) +
     bdelta(0x05, b"bn", 2**64 - 1) + bin_req(0x00, b"bn")),
    ("binary touch, gat, gatk, gatq", bset(0x01, b"bt", b"tv", flags=3) +
     bin_req(0x1c, b"bt", struct.pack(">I", 100)) +
     bin_req(0x1c, b"btnope", struct.pack(">I", 100)) +
     bin_req(0x1d, b"bt", struct.pack(">I", 100)) +
     bin_req(0x23, b"bt", struct.pack(">I", 100)) +
     bin_req(0x1e, b"btnope", struct.pack(">I", 100)) +
     bin_req(0x24, b"btnope", struct.pack(">I", 100)) +
     bin_req(0x1e, b"bt", struct.pack(">I", 100)) +
     bin_req(0x1d, b"bt", struct.pack(">I", 0xffffffff)) +
     bin_req(0x00, b"bt")),
    ("binary flush", bset(0x01, b"bf", b"x") + bin_req(0x08) +
     bin_req(0x00, b"bf") + bset(0x01, b"bf", b"x") +
     bin_req(0x08, extras=struct.pack(">I", 0)) + bin_req(0x00, b"bf") +
     bin_req(0x18) + bset(0x01, b"bf", b"y") + bin_req(0x00, b"bf")),
    ("binary noop, quit", bin_req(0x0a) + bin_req(0x0a, opaque=99) +
     bin_req(0x07)),
    ("binary quiet quit", bset(0x11, b"bqq", b"x") + bin_req(0x17)),
    # memcached skips the body length again after the extras and key
    ("binary unknown command skips the body", bin_req(0x1b, b"xx",
                                                      value=b"junk") +
     b"pd" + bin_req(0x30, value=b"abc") + bin_req(0x0a, opaque=5)),
    ("binary SASL is an unknown command", bin_req(0x20) +
     bin_req(0x21, b"PLAIN", value=b"\0user\0pass") +
     bin_req(0x22, b"PLAIN", value=b"x")),
    ("binary key over 250 bytes", bin_req(0x00, K251)),
    ("binary get with extras is a protocol error",
     bin_req(0x00, b"k", extras=b"1234")),
    ("binary body shorter than key", bin_req(0x00, b"key", bodylen=2)),
    ("binary set without extras", bin_req(0x01, b"k", value=b"v")),
    ("binary noop with a body", bin_req(0x0a, value=b"x")),
    ("binary version with a key", bin_req(0x0b, b"k")),
    ("binary bad magic after a good request", bin_req(0x0a) + b"\x81" +
     b"\0" * 23),
    ("binary too large value", bset(0x01, b"btl", b"t" * 1048576) +
     bin_req(0x00, b"btl") + bset(0x01, b"btl", b"s" * 100) +
     bset(0x01, b"btl", b"t" * 1048576) + bin_req(0x00, b"btl")),
    ("binary large value", bset(0x01, b"blv", b"L" * 700000) +
     bin_req(0x00, b"blv")),
    ("binary stats reset", bin_req(0x10, b"reset")),
    ("binary stats unknown", bin_req(0x10, b"nosuch")),
    ("binary stats detail", bin_req(0x10, b"detail on") +
     bin_req(0x10, b"detail off") + bin_req(0x10, b"detail bogus") +
     bin_req(0x10, b"detail dump")),
]


def bin_exchange(port, data, timeout=10):
    """Send binary requests and a NOOP; return the replies before the
    NOOP's, or up to EOF."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    try:
        s.sendall(data + BIN_NOOP_SYNC)
        out = b""
        while not out.endswith(BIN_NOOP_REPLY):
            try:
                d = s.recv(1 << 16)
            except ConnectionResetError:
                return out + b"<EOF>"
            if not d:
                return out + b"<EOF>"
            out += d
        return out[:-len(BIN_NOOP_REPLY)]
    finally:
        s.close()


def run_all(port, with_sync=True):
    out = []
    for name, data in CASES + META_CASES:
        if isinstance(data, list):
            out.append(b"".join(sdtest.exchange(port, d) for d in data))
            continue
        closes = b"quit\r\n" in data
        r = sdtest.exchange(port, data, sentinel=not closes)
        out.append(r)
        if name == "cas match":
            # cas with the unique that gets just returned
            g = sdtest.exchange(port, b"gets cm\r\n")
            unique = g.split(b"\r\n")[0].split()[-1]
            r2 = sdtest.exchange(port, b"cas cm 0 0 1 %s\r\ny\r\n"
                                 b"cas cm 0 0 1 %s\r\nz\r\nget cm\r\n"
                                 % (unique, unique))
            out[-1] += g + r2
    for name, data in BIN_CASES:
        out.append(bin_exchange(port, data))
    return out


ALL_CASES = CASES + META_CASES + BIN_CASES


# ----------------------------------------------------------------- timed
# Expiry and flush_all delays as the clock moves. Both daemons keep
# memcached's clock: whole seconds since their start, read by a timer once
# a second, so each ticks at a phase of its own and a sequence sent to both
# at the same moment would compare their phases, not their rules. Each
# step runs on each daemon right after its own clock (stats "time") reads
# the step's second: step n at the sequence's start + n. A step is a list
# of functions of that "time" (the wall-clock seconds the daemon converts
# absolute exptimes with) returning the bytes to send. The replies are
# compared with memcached's and with the expected ones.
TIMED = [
    ("short exptimes: relative, touch, gat, absolute, meta TTL, "
     "32-bit exptime", [
        (lambda now: b"set r1 0 1 1\r\na\r\nset r2 0 2 1\r\nb\r\n"
         b"set t1 0 0 1\r\nc\r\ntouch t1 1\r\n"
         b"set g2 0 0 1\r\nd\r\ngat 2 g2\r\n"
         b"set a1 0 %d 1\r\ne\r\nset a0 0 %d 1\r\nf\r\n"
         b"set w1 0 4294967297 1\r\ng\r\nms m1 1 T1\r\nh\r\n"
         b"get r1 r2 t1 g2 a1 a0 w1 m1\r\nmg r2 t\r\n" % (now + 1, now),
         b"STORED\r\nSTORED\r\nSTORED\r\nTOUCHED\r\nSTORED\r\n"
         b"VALUE g2 0 1\r\nd\r\nEND\r\nSTORED\r\nSTORED\r\nSTORED\r\nHD\r\n"
         b"VALUE r1 0 1\r\na\r\nVALUE r2 0 1\r\nb\r\nVALUE t1 0 1\r\nc\r\n"
         b"VALUE g2 0 1\r\nd\r\nVALUE a1 0 1\r\ne\r\nVALUE w1 0 1\r\ng\r\n"
         b"VALUE m1 0 1\r\nh\r\nEND\r\nHD t2\r\n"),
        (lambda now: b"get r1 r2 t1 g2 a1 w1 m1\r\nmg r2 t\r\n",
         b"VALUE r2 0 1\r\nb\r\nVALUE g2 0 1\r\nd\r\nEND\r\nHD t1\r\n"),
        (lambda now: b"get r2 g2\r\nmg r2 t\r\n", b"END\r\nEN\r\n"),
    ]),
    ("flush_all 2: from the next second, items stored up to its end", [
        (lambda now: b"set f1 0 0 1\r\na\r\nflush_all 2\r\nget f1\r\n",
         b"STORED\r\nOK\r\nVALUE f1 0 1\r\na\r\nEND\r\n"),
        (lambda now: b"get f1\r\nset f2 0 0 1\r\nb\r\nget f2\r\n",
         b"END\r\nSTORED\r\nEND\r\n"),
        (lambda now: b"set f3 0 0 1\r\nc\r\nget f1 f2 f3\r\n",
         b"STORED\r\nVALUE f3 0 1\r\nc\r\nEND\r\n"),
    ]),
    ("flush_all 1: at once, and items stored in the same second", [
        (lambda now: b"set c1 0 0 1\r\na\r\nflush_all 1\r\n"
         b"set c2 0 0 1\r\nb\r\nget c1 c2\r\n",
         b"STORED\r\nOK\r\nSTORED\r\nEND\r\n"),
        (lambda now: b"set c3 0 0 1\r\nc\r\nget c1 c2 c3\r\n",
         b"STORED\r\nVALUE c3 0 1\r\nc\r\nEND\r\n"),
    ]),
    ("flush_all at an absolute time", [
        (lambda now: b"set d1 0 0 1\r\na\r\nflush_all %d\r\nget d1\r\n"
         % (now + 2), b"STORED\r\nOK\r\nVALUE d1 0 1\r\na\r\nEND\r\n"),
        (lambda now: b"get d1\r\n", b"END\r\n"),
    ]),
    ("flush_all in the past cancels a pending one", [
        (lambda now: b"set p1 0 0 1\r\na\r\nflush_all 3\r\n"
         b"flush_all 1000000000\r\n", b"STORED\r\nOK\r\nOK\r\n"),
        (lambda now: b"", b""),
        (lambda now: b"", b""),
        (lambda now: b"get p1\r\n", b"VALUE p1 0 1\r\na\r\nEND\r\n"),
    ]),
]


def daemon_time(port):
    """The daemon's clock as stats shows it: current_time + process_started
    (the wall-clock seconds it converts absolute exptimes with)."""
    for ln in sdtest.exchange(port, b"stats\r\n").split(b"\r\n"):
        if ln.startswith(b"STAT time "):
            return int(ln.split()[2])
    raise RuntimeError("no STAT time")


def run_timed_once(port, steps):
    """Run @steps, each right after the daemon's clock reads its second;
    return the replies, or None if a tick fell inside a step or the clock
    skipped the step's second (memcached's timer drifts against the
    seconds it reads, so it may read two seconds later at one tick)."""
    t0 = daemon_time(port)
    while (start := daemon_time(port)) == t0:
        time.sleep(0.002)
    out = []
    for n, (cmd, _) in enumerate(steps):
        while (now := daemon_time(port)) < start + n:
            time.sleep(0.002)
        if now != start + n:
            return None
        out.append(sdtest.exchange(port, cmd(now)))
        if daemon_time(port) != now:
            return None
    return out


def run_timed(port, steps, tries=4):
    for _ in range(tries):
        r = run_timed_once(port, steps)
        if r is not None:
            return r
    return None


def timed_checks(tap, ours, theirs):
    import concurrent.futures

    for name, steps in TIMED:
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            fo = ex.submit(run_timed, ours.port, steps)
            ft = ex.submit(run_timed, theirs.port, steps) if theirs else None
            got = fo.result()
            want = ft.result() if ft else None
        expected = [r for _, r in steps]
        tap.ok(got == expected, f"timed: {name}: the expected replies",
               "no run without a tick inside a step" if got is None else
               f"got:      {got!r}\nexpected: {expected!r}")
        if theirs is None:
            tap.skip(f"timed: same reply as memcached: {name}",
                     "memcached not installed or --self-only")
        else:
            tap.ok(want is not None and got == want,
                   f"timed: same reply as memcached: {name}",
                   f"slabcached: {got!r}\nmemcached:  {want!r}")


def shape_checks(tap, port):
    st = sdtest.exchange(port, b"stats\r\n")
    tap.ok(st.startswith(b"STAT pid ") and st.endswith(b"END\r\n") and
           b"STAT curr_items " in st and b"STAT limit_maxbytes " in st,
           "stats: general counters", st[:400])
    for sub in (b"slabs", b"items", b"settings", b"pressure"):
        r = sdtest.exchange(port, b"stats " + sub + b"\r\n")
        lines = r.split(b"\r\n")
        good = r.endswith(b"END\r\n") and all(
            ln.startswith(b"STAT ") and len(ln.split(b" ")) >= 3
            for ln in lines[:-2])
        tap.ok(good, f"stats {sub.decode()}: STAT lines then END", r[:400])
    r = sdtest.exchange(port, b"stats pressure\r\n")
    tap.ok(all(k in r for k in (b"events_low", b"events_medium",
                                  b"events_critical", b"items_shed",
                                  b"bytes_shed", b"last_event_time")),
           "stats pressure: events per level, items and bytes shed, last "
           "event time", r)
    r = sdtest.exchange(port, b"version\r\n")
    tap.ok(r.startswith(b"VERSION 1.6.18-slabcached-") and
           r.endswith(b"\r\n"), "version", r)


def unix_socket(tap):
    """-s: a UNIX socket instead of TCP; the file goes at exit."""
    import os
    import socket
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "slabcached.sock")
        p = subprocess.Popen([sdtest.daemon_path(), "-s", path,
                              "--pressure=off"])
        try:
            def ready():
                try:
                    s = socket.socket(socket.AF_UNIX)
                    s.connect(path)
                    return s
                except OSError:
                    return None
            sdtest.wait_for(lambda: p.poll() is not None or ready())
            s = ready()
            tap.ok(s is not None, "-s: listens on the UNIX socket")
            if s:
                s.sendall(b"set u 0 0 2\r\nok\r\nget u\r\n")
                out = b""
                while not out.endswith(b"END\r\n"):
                    d2 = s.recv(1000)
                    if not d2:
                        break
                    out += d2
                tap.ok(out == b"STORED\r\nVALUE u 0 2\r\nok\r\nEND\r\n",
                       "-s: set and get over the UNIX socket", out)
                s.close()
        finally:
            p.terminate()
            rc = p.wait(10)
        tap.ok(rc == 0 and not os.path.exists(path),
               "-s: clean exit removes the socket file", rc)


def main():
    tap = sdtest.Tap()
    self_only = "--self-only" in sys.argv
    ours = sdtest.Server.slabcached("-t", "2", "--pressure=off")
    theirs = None if self_only else sdtest.Server.memcached("-t", "2")
    try:
        got = run_all(ours.port)
        shape_checks(tap, ours.port)
        if theirs is None:
            for name, _ in ALL_CASES:
                tap.skip(f"same reply as memcached: {name}",
                         "memcached not installed" if not self_only else
                         "--self-only")
        else:
            want = run_all(theirs.port)
            for (name, _), g, w in zip(ALL_CASES, got, want):
                tap.ok(g == w, f"same reply as memcached: {name}",
                       f"slabcached: {g[:300]!r}\nmemcached:  {w[:300]!r}")
        timed_checks(tap, ours, theirs)
        ours.proc.send_signal(__import__("signal").SIGHUP)
        r = sdtest.exchange(ours.port, b"get a\r\n")
        tap.ok(ours.alive() and r.endswith(b"END\r\n"),
               "SIGHUP is ignored: still running and serving", r)
    finally:
        rc = ours.stop()
        if theirs:
            theirs.stop()
    tap.ok(rc == 0, "SIGTERM: clean exit status 0", f"status {rc}")
    unix_socket(tap)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
