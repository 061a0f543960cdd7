/*
 * The supervision state machine: when to start the anchor, when to check the
 * daemon's health, when to give up on a run and when to stop. A pure function
 * of the monotonic time the caller passes and of the events it reports; the
 * caller (win32_run.c, or a test with a fake clock) does the I/O.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shim.h"

long shim_backoff_ms(long base_ms, long max_ms, int failures)
{
	long delay = base_ms;
	if (failures <= 0)
		return 0;
	for (int i = 1; i < failures && delay < max_ms; i++)
		delay = delay > max_ms / 2 ? max_ms : delay * 2;
	return delay < max_ms ? delay : max_ms;
}

const char *shim_state_name(enum shim_state state)
{
	switch (state) {
	case SHIM_BACKOFF: return "waiting to start";
	case SHIM_RUNNING: return "running";
	case SHIM_STOPPING: return "stopping";
	case SHIM_STOPPED: return "stopped";
	}
	return "?";
}

static void note(struct shim_sup *sup, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct shim_sup *sup, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sup->note, sizeof sup->note, fmt, ap);
	va_end(ap);
}

void shim_sup_init(struct shim_sup *sup, const struct shim_config *cfg, uint64_t now_ms)
{
	memset(sup, 0, sizeof *sup);
	sup->cfg = *cfg;
	sup->state = SHIM_BACKOFF;
	sup->start_at_ms = now_ms;
}

enum shim_action shim_sup_next(struct shim_sup *sup, uint64_t now_ms)
{
	switch (sup->state) {
	case SHIM_BACKOFF:
		if (sup->stop_requested) {
			sup->state = SHIM_STOPPED;
			return SHIM_ACT_EXIT;
		}
		if (!sup->launching && now_ms >= sup->start_at_ms) {
			sup->launching = true;
			return SHIM_ACT_START;
		}
		return SHIM_ACT_NONE;
	case SHIM_RUNNING:
		if (!sup->health_in_flight && now_ms >= sup->next_health_ms) {
			sup->health_in_flight = true;
			return SHIM_ACT_HEALTH;
		}
		return SHIM_ACT_NONE;
	case SHIM_STOPPING:
		if (!sup->stdin_closed) {
			sup->stdin_closed = true;
			return SHIM_ACT_CLOSE_STDIN;
		}
		if (!sup->kill_sent && now_ms >= sup->kill_at_ms) {
			sup->kill_sent = true;
			return SHIM_ACT_KILL;
		}
		return SHIM_ACT_NONE;
	case SHIM_STOPPED:
		return SHIM_ACT_EXIT;
	}
	return SHIM_ACT_NONE;
}

static long until(uint64_t deadline, uint64_t now)
{
	if (deadline <= now)
		return 0;
	return deadline - now > 0x7FFFFFFF ? 0x7FFFFFFF : (long)(deadline - now);
}

long shim_sup_timeout_ms(const struct shim_sup *sup, uint64_t now_ms)
{
	switch (sup->state) {
	case SHIM_BACKOFF:
		if (sup->stop_requested)
			return 0;
		return sup->launching ? -1 : until(sup->start_at_ms, now_ms);
	case SHIM_RUNNING:
		return sup->health_in_flight ? -1 : until(sup->next_health_ms, now_ms);
	case SHIM_STOPPING:
		if (!sup->stdin_closed)
			return 0;
		return sup->kill_sent ? -1 : until(sup->kill_at_ms, now_ms);
	case SHIM_STOPPED:
		return 0;
	}
	return -1;
}

void shim_sup_started(struct shim_sup *sup, uint64_t now_ms)
{
	sup->launching = false;
	sup->state = SHIM_RUNNING;
	sup->started_ms = now_ms;
	sup->next_health_ms = now_ms + (uint64_t)sup->cfg.health_interval_ms;
	sup->health_in_flight = false;
	sup->healthy = false;
	sup->health_failed = 0;
	sup->stdin_closed = sup->kill_sent = false;
	sup->starts++;
	note(sup, "anchor started (start %lu)", sup->starts);
	if (sup->stop_requested)   /* a stop came while it was being started */
		shim_sup_stop(sup, now_ms, "stop requested during the start");
}

/* A run ended (or never began) for reason: back off, then start again. */
static void schedule_restart(struct shim_sup *sup, uint64_t now_ms, uint64_t ran_ms,
			     const char *reason)
{
	if (ran_ms >= (uint64_t)sup->cfg.stable_ms)
		sup->failures = 0;   /* it had been stable: start over at the base delay */
	sup->failures++;
	long delay = shim_backoff_ms(sup->cfg.backoff_base_ms, sup->cfg.backoff_max_ms,
				     sup->failures);
	struct shim_restart *r = &sup->history[sup->restarts % SHIM_HISTORY];
	r->at_ms = now_ms;
	r->delay_ms = delay;
	snprintf(r->reason, sizeof r->reason, "%s", reason);
	sup->restarts++;
	sup->state = SHIM_BACKOFF;
	sup->launching = false;
	sup->start_at_ms = now_ms + (uint64_t)delay;
	note(sup, "%s; ran %llu ms; restart in %ld ms (unstable runs in a row: %d)", reason,
	     (unsigned long long)ran_ms, delay, sup->failures);
}

void shim_sup_start_failed(struct shim_sup *sup, uint64_t now_ms, const char *reason)
{
	char why[SHIM_REASON_MAX];
	snprintf(why, sizeof why, "could not start the anchor: %s", reason);
	sup->launching = false;
	if (sup->stop_requested) {
		sup->state = SHIM_STOPPED;
		note(sup, "%s; stopped", why);
		return;
	}
	schedule_restart(sup, now_ms, 0, why);
}

void shim_sup_exited(struct shim_sup *sup, uint64_t now_ms, const char *reason)
{
	uint64_t ran = now_ms - sup->started_ms;
	sup->health_in_flight = false;
	if (sup->state == SHIM_STOPPING && sup->stop_requested) {
		sup->state = SHIM_STOPPED;
		note(sup, "anchor ended (%s) after %llu ms; stopped", reason, (unsigned long long)ran);
		return;
	}
	if (sup->state == SHIM_STOPPING) {   /* a restart we asked for */
		char why[2 * SHIM_REASON_MAX];
		snprintf(why, sizeof why, "%s (then: %s)", sup->stopping_reason, reason);
		schedule_restart(sup, now_ms, ran, why);
		return;
	}
	if (sup->state != SHIM_RUNNING)
		return;
	schedule_restart(sup, now_ms, ran, reason);
}

static void begin_stopping(struct shim_sup *sup, uint64_t now_ms)
{
	sup->state = SHIM_STOPPING;
	sup->stdin_closed = sup->kill_sent = false;
	sup->kill_at_ms = now_ms + (uint64_t)sup->cfg.stop_timeout_ms;
}

void shim_sup_health(struct shim_sup *sup, uint64_t now_ms, bool ok, const char *detail)
{
	sup->health_in_flight = false;
	if (sup->state != SHIM_RUNNING)
		return;
	sup->next_health_ms = now_ms + (uint64_t)sup->cfg.health_interval_ms;
	if (ok) {
		if (!sup->healthy || sup->health_failed)
			note(sup, "daemon healthy on 127.0.0.1:%ld (%s)", sup->cfg.port, detail);
		sup->healthy = true;
		sup->health_failed = 0;
		return;
	}
	if (!sup->healthy && now_ms - sup->started_ms < (uint64_t)sup->cfg.health_grace_ms) {
		note(sup, "health check failed within the start grace (%ld ms), not counted: %s",
		     sup->cfg.health_grace_ms, detail);
		return;
	}
	sup->health_failed++;
	if (sup->health_failed < sup->cfg.health_failures) {
		note(sup, "health check failed (%d of %ld): %s", sup->health_failed,
		     sup->cfg.health_failures, detail);
		return;
	}
	snprintf(sup->stopping_reason, sizeof sup->stopping_reason,
		 "%d health checks in a row failed (last: %s)", sup->health_failed, detail);
	begin_stopping(sup, now_ms);
	note(sup, "%s; stopping the anchor to restart it", sup->stopping_reason);
}

void shim_sup_stop(struct shim_sup *sup, uint64_t now_ms, const char *reason)
{
	bool was_requested = sup->stop_requested;
	sup->stop_requested = true;
	switch (sup->state) {
	case SHIM_BACKOFF:
		if (!sup->launching) {
			sup->state = SHIM_STOPPED;
			note(sup, "stop (%s): no anchor running; stopped", reason);
		}
		return;
	case SHIM_RUNNING:
		begin_stopping(sup, now_ms);
		note(sup, "stop (%s): closing the anchor's stdin, killing it in %ld ms if it "
		     "has not exited", reason, sup->cfg.stop_timeout_ms);
		return;
	case SHIM_STOPPING:
		if (!was_requested)
			note(sup, "stop (%s): already stopping the anchor", reason);
		return;
	case SHIM_STOPPED:
		return;
	}
}
