// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Runner for the *_mt.c concurrency tests in the ThreadSanitizer build,
 * where Criterion cannot start (see selftests/mt.h). Each test runs in a
 * forked child; a test passes when the child exits 0. TSan reports make
 * the child exit non-zero (halt_on_error=1, exitcode=66 by default here).
 *
 * Usage: test-mt [--filter GLOB] [--tap=FILE]
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mt.h"

static struct sc_mt_test *tests;

void sc_mt_register(struct sc_mt_test *t)
{
	t->next = tests;
	tests = t;
}

void sc_mt_fail(const char *file, int line, const char *expr)
{
	fprintf(stderr, "[FAIL] %s:%d: assertion failed: %s\n", file, line,
		expr);
	fflush(stderr);
	_exit(1);
}

int main(int argc, char **argv)
{
	const char *filter = NULL, *tap_path = NULL;
	int passed = 0, failed = 0, crashed = 0, n = 0;
	FILE *tap = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--filter") && i + 1 < argc)
			filter = argv[++i];
		else if (!strncmp(argv[i], "--filter=", 9))
			filter = argv[i] + 9;
		else if (!strncmp(argv[i], "--tap=", 6))
			tap_path = argv[i] + 6;
	}
	if (tap_path && !(tap = fopen(tap_path, "w"))) {
		perror(tap_path);
		return 2;
	}

	for (struct sc_mt_test *t = tests; t; t = t->next) {
		char full[256];
		int status;
		pid_t pid;

		snprintf(full, sizeof(full), "%s/%s", t->suite, t->name);
		if (filter && fnmatch(filter, full, 0))
			continue;
		n++;
		fflush(NULL);
		pid = fork();
		if (pid < 0) {
			perror("fork");
			return 2;
		}
		if (pid == 0) {
			t->fn();
			exit(0);
		}
		if (waitpid(pid, &status, 0) < 0) {
			perror("waitpid");
			return 2;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			passed++;
			printf("[PASS] %s\n", full);
			if (tap)
				fprintf(tap, "ok %d - %s::%s\n", n, t->suite,
					t->name);
		} else {
			if (WIFSIGNALED(status))
				crashed++;
			else
				failed++;
			printf("[FAIL] %s (%s %d)\n", full,
			       WIFSIGNALED(status) ? "signal" : "exit",
			       WIFSIGNALED(status) ? WTERMSIG(status) :
						     WEXITSTATUS(status));
			if (tap)
				fprintf(tap, "not ok %d - %s::%s\n", n,
					t->suite, t->name);
		}
	}
	if (tap) {
		fprintf(tap, "1..%d\n", n);
		fclose(tap);
	}
	printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: %d\n",
	       n, passed, failed, crashed);
	return failed || crashed ? 1 : 0;
}

/* Stop at the first race: its report is the test's failure. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "halt_on_error=1:second_deadlock_stack=1";
}
