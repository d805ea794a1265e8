// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The replay driver: a main() for a fuzz target built without libFuzzer
 * (gcc, ASan+UBSan), as zstd's tests/fuzz does. Every file named, and
 * every file in every directory named (sorted by name, so the order is
 * fixed), goes once through LLVMFuzzerTestOneInput(). A failed check
 * aborts, so the exit status says whether the whole corpus passed.
 *
 * Usage: fuzz-<target> [-q] FILE|DIR...
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"

static bool quiet;
static unsigned long nr_inputs;

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t size = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (size == cap) {
			cap = cap ? 2 * cap : 4096;
			buf = realloc(buf, cap);
			if (!buf) {
				fprintf(stderr, "replay: out of memory\n");
				exit(2);
			}
		}
		n = fread(buf + size, 1, cap - size, f);
		size += n;
	} while (n);
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	if (!quiet)
		fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
	LLVMFuzzerTestOneInput(buf, size);
	free(buf);
	nr_inputs++;
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int replay_path(const char *path)
{
	struct dirent **names;
	struct stat st;
	int n, err = 0;

	if (stat(path, &st)) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path);
	n = scandir(path, &names, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char sub[4096];

		if (names[i]->d_name[0] != '.' &&
		    snprintf(sub, sizeof(sub), "%s/%s", path,
			     names[i]->d_name) < (int)sizeof(sub) &&
		    replay_path(sub))
			err = -1;
		free(names[i]);
	}
	free(names);
	return err;
}

int main(int argc, char **argv)
{
	int err = 0, i = 1;

	if (i < argc && !strcmp(argv[i], "-q")) {
		quiet = true;
		i++;
	}
	if (i == argc) {
		fprintf(stderr, "usage: %s [-q] FILE|DIR...\n", argv[0]);
		return 2;
	}
	LLVMFuzzerInitialize(&argc, &argv);
	for (; i < argc; i++)
		if (replay_path(argv[i]))
			err = 1;
	if (!nr_inputs) {
		fprintf(stderr, "replay: no inputs found\n");
		err = 1;
	}
	printf("replay: %lu inputs%s\n", nr_inputs, err ? ", errors" : "");
	return err;
}
