/*
 * check.h: the smallest test harness that says what failed and where.
 *
 *   static void frame_reader_does_x(void) { CHECK(a == b); }
 *   int main(void) { RUN(frame_reader_does_x); return check_summary(); }
 *
 * CHECK records a failure (file:line and the expression) and goes on, so one
 * run shows every broken check of a test. RUN calls a test function and counts
 * it as passed when none of its checks failed. check_summary prints
 * "N passed, N failed" (test functions) and returns main's exit status.
 */
#ifndef TETHER_TEST_CHECK_H
#define TETHER_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;      /* failed CHECKs, all tests */
static int check_tests_passed;
static int check_tests_failed;

#define CHECK(expr)                                                                   \
	do {                                                                          \
		if (!(expr)) {                                                        \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
				#expr);                                               \
			check_failures++;                                             \
		}                                                                     \
	} while (0)

/* Integers of any width; prints both values when they differ. */
#define CHECK_EQ(a, b)                                                                \
	do {                                                                          \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);      \
		if (check_a_ != check_b_) {                                           \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", \
				__FILE__, __LINE__, #a, #b, check_a_, check_b_);      \
			check_failures++;                                             \
		}                                                                     \
	} while (0)

/* s contains sub; prints s when it does not. */
#define CHECK_CONTAINS(s, sub)                                                        \
	do {                                                                          \
		const char *check_s_ = (s), *check_sub_ = (sub);                     \
		if (!check_s_ || !strstr(check_s_, check_sub_)) {                     \
			fprintf(stderr, "%s:%d: CHECK failed: \"%s\" contains \"%s\"\n", \
				__FILE__, __LINE__, check_s_ ? check_s_ : "(null)",   \
				check_sub_);                                          \
			check_failures++;                                             \
		}                                                                     \
	} while (0)

#define RUN(test_fn) check_run(#test_fn, test_fn)

static inline void check_run(const char *name, void (*fn)(void))
{
	int before = check_failures;
	fn();
	if (check_failures == before) {
		check_tests_passed++;
		printf("ok   %s\n", name);
	} else {
		check_tests_failed++;
		printf("FAIL %s\n", name);
	}
	fflush(stdout);
}

static inline int check_summary(void)
{
	printf("%d passed, %d failed\n", check_tests_passed, check_tests_failed);
	return check_tests_failed ? 1 : 0;
}

#endif
