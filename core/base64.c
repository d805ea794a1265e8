// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Strict Base64 decoding (RFC 4648, standard alphabet, '=' padding), for
 * systemd's $MEMORY_PRESSURE_WRITE. Anything else in the input (a
 * character outside the alphabet, whitespace, missing or misplaced
 * padding, non-zero bits in the last character) is refused: the value
 * comes from the environment and a wrong one should fail loudly.
 *
 * No locks; no allocation.
 */
#include <errno.h>
#include <string.h>

#include "core/internal.h"

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

ssize_t sc_base64_decode(const char *in, void *out, size_t out_size)
{
	size_t len = strlen(in), n = 0;
	unsigned char *o = out;

	if (len % 4)
		return -EINVAL;
	for (size_t i = 0; i < len; i += 4) {
		const unsigned char *q = (const unsigned char *)in + i;
		int v[4], pad = 0;
		unsigned long bits;

		for (int k = 0; k < 4; k++) {
			if (q[k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad) /* data after '=' */
				return -EINVAL;
			v[k] = b64_value(q[k]);
			if (v[k] < 0)
				return -EINVAL;
		}
		bits = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 |
		       (unsigned long)v[2] << 6 | (unsigned long)v[3];
		/* Canonical form: the bits that padding drops are zero. */
		if ((pad == 1 && (bits & 0xff)) ||
		    (pad == 2 && (bits & 0xffff)))
			return -EINVAL;
		if (out_size - n < (size_t)(3 - pad))
			return -ENOBUFS;
		o[n++] = (unsigned char)(bits >> 16);
		if (pad < 2)
			o[n++] = (unsigned char)(bits >> 8);
		if (pad < 1)
			o[n++] = (unsigned char)bits;
	}
	return (ssize_t)n;
}
