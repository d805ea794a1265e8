/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SC_FUZZ_H
#define SC_FUZZ_H

/*
 * Shared by the fuzz targets: the libFuzzer entry point and a reader that
 * turns the input into choices. Past the end of the input every read
 * gives 0, so any input, the empty one too, is a complete program.
 *
 * A target checks what it finds with FUZZ_CHECK(): a failure prints the
 * reason and aborts, which libFuzzer reports as a crash (with the input
 * saved) and the replay driver as a failed input.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	return (uint16_t)(fuzz_u8(in) | fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	return (uint32_t)fuzz_u16(in) | (uint32_t)fuzz_u16(in) << 16;
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	return (uint64_t)fuzz_u32(in) | (uint64_t)fuzz_u32(in) << 32;
}

/* A number below @n (@n > 0). */
static inline unsigned int fuzz_below(struct fuzz_in *in, unsigned int n)
{
	return (unsigned int)(n <= 256 ? fuzz_u8(in) % n : fuzz_u32(in) % n);
}

static inline bool fuzz_done(const struct fuzz_in *in)
{
	return !in->left;
}

/*
 * The rest of the input as a NUL-terminated string in @buf (at most
 * @size - 1 bytes, up to the first NUL).
 */
static inline size_t fuzz_str(struct fuzz_in *in, char *buf, size_t size,
			      size_t max)
{
	size_t n = 0;

	while (n + 1 < size && n < max && in->left) {
		uint8_t c = fuzz_u8(in);

		if (!c)
			break;
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	return n;
}

#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			abort();                                               \
		}                                                              \
	} while (0)

#endif /* SC_FUZZ_H */
