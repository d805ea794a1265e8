/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_SELFTESTS_ZIPF_H
#define SC_SELFTESTS_ZIPF_H

/*
 * YCSB's ZipfianGenerator over items 0 .. n-1, item 0 the most popular,
 * P(i) ~ 1 / (i+1)^theta, drawn from xorshift64* for the uniform numbers.
 * The hit-ratio test, sc-bench-trace and selftests/policy/streams.py draw
 * the same stream from the same seed, so their figures can be compared.
 */
#include <math.h>
#include <stdint.h>

/* The seed every zipf stream of the tests and benches starts from. */
#define ZIPF_SEED 0x5eed5eed5eedull

struct zipf {
	double zetan, zeta2, alpha, eta;
	uint64_t items, x;
};

static inline void zipf_init(struct zipf *z, uint64_t items, double theta,
			     uint64_t seed)
{
	z->zetan = 0;
	for (uint64_t i = 1; i <= items; i++)
		z->zetan += 1 / pow((double)i, theta);
	z->zeta2 = 1 + pow(0.5, theta);
	z->alpha = 1 / (1 - theta);
	z->eta = (1 - pow(2.0 / (double)items, 1 - theta)) /
		 (1 - z->zeta2 / z->zetan);
	z->items = items;
	z->x = seed;
}

static inline uint64_t zipf_next(struct zipf *z)
{
	double u, uz;
	uint64_t id;

	z->x ^= z->x >> 12;
	z->x ^= z->x << 25;
	z->x ^= z->x >> 27;
	u = (double)((z->x * 0x2545f4914f6cdd1dull) >> 11) * 0x1p-53;
	uz = u * z->zetan;
	if (uz < 1)
		return 0;
	if (uz < z->zeta2)
		return 1;
	id = (uint64_t)((double)z->items *
			pow(z->eta * u - z->eta + 1, z->alpha));
	return id >= z->items ? z->items - 1 : id;
}

#endif /* SC_SELFTESTS_ZIPF_H */
