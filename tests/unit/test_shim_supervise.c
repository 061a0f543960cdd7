/* windows-shim/supervise.c: the supervision state machine on a fake clock. */
#include <stdio.h>
#include <string.h>

#include "shim.h"
#include "check.h"

static struct shim_config cfg(void)
{
	struct shim_config c;
	shim_config_defaults(&c);
	c.backoff_base_ms = 1000;
	c.backoff_max_ms = 60000;
	c.stable_ms = 60000;
	c.health_interval_ms = 5000;
	c.health_failures = 3;
	c.health_grace_ms = 30000;
	c.stop_timeout_ms = 5000;
	return c;
}

static void backoff_doubles_from_the_base_up_to_the_max(void)
{
	CHECK_EQ(shim_backoff_ms(1000, 60000, 0), 0);
	CHECK_EQ(shim_backoff_ms(1000, 60000, 1), 1000);
	CHECK_EQ(shim_backoff_ms(1000, 60000, 2), 2000);
	CHECK_EQ(shim_backoff_ms(1000, 60000, 6), 32000);
	CHECK_EQ(shim_backoff_ms(1000, 60000, 7), 60000);
	CHECK_EQ(shim_backoff_ms(1000, 60000, 1000000), 60000);
	CHECK_EQ(shim_backoff_ms(3000, 5000, 2), 5000);
	CHECK_EQ(shim_backoff_ms(86400000, 86400000, 40), 86400000);
}

static void sup_starts_at_once_then_checks_health_on_the_interval(void)
{
	struct shim_config c = cfg();
	struct shim_sup s;
	shim_sup_init(&s, &c, 100);
	CHECK_EQ(shim_sup_timeout_ms(&s, 100), 0);
	CHECK_EQ(shim_sup_next(&s, 100), SHIM_ACT_START);
	CHECK_EQ(shim_sup_next(&s, 100), SHIM_ACT_NONE);   /* once, until reported */
	CHECK_EQ(shim_sup_timeout_ms(&s, 100), -1);
	shim_sup_started(&s, 110);
	CHECK_EQ(s.state, SHIM_RUNNING);
	CHECK_EQ(shim_sup_timeout_ms(&s, 110), 5000);
	CHECK_EQ(shim_sup_next(&s, 5109), SHIM_ACT_NONE);
	CHECK_EQ(shim_sup_next(&s, 5110), SHIM_ACT_HEALTH);
	CHECK_EQ(shim_sup_next(&s, 5110), SHIM_ACT_NONE);   /* one check in flight */
	CHECK_EQ(shim_sup_timeout_ms(&s, 5110), -1);
	shim_sup_health(&s, 5120, true, "version 0.1.0");
	CHECK(s.healthy);
	CHECK_CONTAINS(s.note, "daemon healthy");
	CHECK_EQ(shim_sup_timeout_ms(&s, 5120), 5000);
	s.note[0] = 0;
	CHECK_EQ(shim_sup_next(&s, 10120), SHIM_ACT_HEALTH);
	shim_sup_health(&s, 10121, true, "version 0.1.0");
	CHECK_EQ(s.note[0], 0);   /* still healthy: nothing to log */
}

/* Runs one start that exits after ran_ms; returns the delay chosen. */
static long crash(struct shim_sup *s, uint64_t *now, uint64_t ran_ms)
{
	CHECK_EQ(shim_sup_next(s, *now), SHIM_ACT_START);
	shim_sup_started(s, *now);
	*now += ran_ms;
	shim_sup_exited(s, *now, "the anchor exited with code 1");
	CHECK_EQ(s->state, SHIM_BACKOFF);
	long delay = shim_sup_timeout_ms(s, *now);
	CHECK_EQ(shim_sup_next(s, *now + (uint64_t)delay - 1), SHIM_ACT_NONE);
	*now += (uint64_t)delay;
	return delay;
}

static void sup_crash_loop_backs_off_exponentially_and_resets_after_a_stable_run(void)
{
	struct shim_config c = cfg();
	struct shim_sup s;
	uint64_t now = 0;
	shim_sup_init(&s, &c, now);
	long want[] = { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000 };
	for (int i = 0; i < 8; i++)
		CHECK_EQ(crash(&s, &now, 10), want[i]);
	CHECK_EQ(s.restarts, 8);
	CHECK_CONTAINS(s.note, "restart in 60000 ms");
	/* A run of stable_ms resets: the next delay is the base again. */
	CHECK_EQ(crash(&s, &now, 60000), 1000);
	CHECK_EQ(crash(&s, &now, 59999), 2000);
	/* The history keeps the last SHIM_HISTORY with their delays. */
	const struct shim_restart *last = &s.history[(s.restarts - 1) % SHIM_HISTORY];
	CHECK_EQ(last->delay_ms, 2000);
	CHECK_CONTAINS(last->reason, "exited with code 1");
}

static void sup_start_failure_backs_off_like_a_crash(void)
{
	struct shim_config c = cfg();
	struct shim_sup s;
	shim_sup_init(&s, &c, 0);
	CHECK_EQ(shim_sup_next(&s, 0), SHIM_ACT_START);
	shim_sup_start_failed(&s, 5, "cannot start C:\\wsl.exe: file not found");
	CHECK_EQ(s.state, SHIM_BACKOFF);
	CHECK_EQ(shim_sup_timeout_ms(&s, 5), 1000);
	CHECK_CONTAINS(s.note, "could not start the anchor: cannot start C:\\wsl.exe");
	CHECK_EQ(shim_sup_next(&s, 1005), SHIM_ACT_START);
	shim_sup_start_failed(&s, 1005, "again");
	CHECK_EQ(shim_sup_timeout_ms(&s, 1005), 2000);   /* never a busy loop */
}

static void sup_failed_health_checks_restart_the_anchor_after_the_grace(void)
{
	struct shim_config c = cfg();
	struct shim_sup s;
	uint64_t t = 0;
	shim_sup_init(&s, &c, t);
	shim_sup_next(&s, t);
	shim_sup_started(&s, t);
	/* Within the grace (30 s) and before any success: not counted. */
	for (t = 5000; t < 30000; t += 5000) {
		CHECK_EQ(shim_sup_next(&s, t), SHIM_ACT_HEALTH);
		shim_sup_health(&s, t, false, "connection refused");
		CHECK_EQ(s.health_failed, 0);
		CHECK_EQ(s.state, SHIM_RUNNING);
	}
	/* From then on: three in a row restart. */
	for (int i = 1; i <= 3; i++, t += 5000) {
		CHECK_EQ(shim_sup_next(&s, t), SHIM_ACT_HEALTH);
		shim_sup_health(&s, t, false, "connection refused");
		CHECK_EQ(s.health_failed, i);
	}
	t -= 5000;
	CHECK_EQ(s.state, SHIM_STOPPING);
	CHECK_CONTAINS(s.note, "3 health checks in a row failed (last: connection refused)");
	CHECK_EQ(shim_sup_next(&s, t), SHIM_ACT_CLOSE_STDIN);
	CHECK_EQ(shim_sup_next(&s, t), SHIM_ACT_NONE);
	CHECK_EQ(shim_sup_timeout_ms(&s, t), 5000);
	CHECK_EQ(shim_sup_next(&s, t + 5000), SHIM_ACT_KILL);
	CHECK_EQ(shim_sup_next(&s, t + 5000), SHIM_ACT_NONE);
	shim_sup_exited(&s, t + 5001, "the anchor exited with code 1");
	CHECK_EQ(s.state, SHIM_BACKOFF);            /* a restart, not a stop */
	CHECK_CONTAINS(s.history[0].reason, "health checks in a row failed");
	CHECK_EQ(shim_sup_timeout_ms(&s, t + 5001), 1000);
}

static void sup_a_success_resets_the_failure_count_and_ends_the_grace(void)
{
	struct shim_config c = cfg();
	struct shim_sup s;
	shim_sup_init(&s, &c, 0);
	shim_sup_next(&s, 0);
	shim_sup_started(&s, 0);
	shim_sup_next(&s, 5000);
	shim_sup_health(&s, 5000, true, "ok");
	shim_sup_next(&s, 10000);
	shim_sup_health(&s, 10000, false, "timed out");   /* counted: it was healthy */
	CHECK_EQ(s.health_failed, 1);
	shim_sup_next(&s, 15000);
	shim_sup_health(&s, 15000, false, "timed out");
	shim_sup_next(&s, 20000);
	shim_sup_health(&s, 20000, true, "ok");
	CHECK_EQ(s.health_failed, 0);
	CHECK_EQ(s.state, SHIM_RUNNING);
}

static void sup_stop_closes_stdin_then_kills_then_exits(void)
{
	struct shim_config c = cfg();
	struct shim_sup s;
	shim_sup_init(&s, &c, 0);
	shim_sup_next(&s, 0);
	shim_sup_started(&s, 0);
	shim_sup_stop(&s, 100, "stop requested");
	CHECK_EQ(s.state, SHIM_STOPPING);
	CHECK_EQ(shim_sup_next(&s, 100), SHIM_ACT_CLOSE_STDIN);
	CHECK_EQ(shim_sup_next(&s, 5099), SHIM_ACT_NONE);
	CHECK_EQ(shim_sup_next(&s, 5100), SHIM_ACT_KILL);
	shim_sup_exited(&s, 5150, "killed");
	CHECK_EQ(s.state, SHIM_STOPPED);
	CHECK_EQ(shim_sup_next(&s, 5150), SHIM_ACT_EXIT);
	CHECK_EQ(s.restarts, 0);   /* a stop is not a restart */
}

static void sup_stop_while_backing_off_or_starting_ends_without_a_start(void)
{
	struct shim_config c = cfg();
	struct shim_sup s;
	shim_sup_init(&s, &c, 0);
	shim_sup_next(&s, 0);
	shim_sup_start_failed(&s, 0, "no wsl.exe");
	shim_sup_stop(&s, 10, "stop requested");
	CHECK_EQ(s.state, SHIM_STOPPED);
	CHECK_EQ(shim_sup_next(&s, 10), SHIM_ACT_EXIT);

	/* A stop while a start is being reported: the start is then stopped. */
	shim_sup_init(&s, &c, 0);
	CHECK_EQ(shim_sup_next(&s, 0), SHIM_ACT_START);
	shim_sup_stop(&s, 1, "console event");
	shim_sup_started(&s, 2);
	CHECK_EQ(s.state, SHIM_STOPPING);
	CHECK_EQ(shim_sup_next(&s, 2), SHIM_ACT_CLOSE_STDIN);
	shim_sup_exited(&s, 3, "exited 0");
	CHECK_EQ(shim_sup_next(&s, 3), SHIM_ACT_EXIT);
}

static void sup_health_results_after_an_exit_are_ignored(void)
{
	struct shim_config c = cfg();
	struct shim_sup s;
	shim_sup_init(&s, &c, 0);
	shim_sup_next(&s, 0);
	shim_sup_started(&s, 0);
	CHECK_EQ(shim_sup_next(&s, 5000), SHIM_ACT_HEALTH);
	shim_sup_exited(&s, 5001, "exited 2");
	shim_sup_health(&s, 5002, false, "late");
	CHECK_EQ(s.state, SHIM_BACKOFF);
	CHECK_EQ(s.health_failed, 0);
}

int main(void)
{
	RUN(backoff_doubles_from_the_base_up_to_the_max);
	RUN(sup_starts_at_once_then_checks_health_on_the_interval);
	RUN(sup_crash_loop_backs_off_exponentially_and_resets_after_a_stable_run);
	RUN(sup_start_failure_backs_off_like_a_crash);
	RUN(sup_failed_health_checks_restart_the_anchor_after_the_grace);
	RUN(sup_a_success_resets_the_failure_count_and_ends_the_grace);
	RUN(sup_stop_closes_stdin_then_kills_then_exits);
	RUN(sup_stop_while_backing_off_or_starting_ends_without_a_start);
	RUN(sup_health_results_after_an_exit_are_ignored);
	return check_summary();
}
