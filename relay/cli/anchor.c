/*
 * tether anchor: the one process Windows keeps running in the distro.
 *
 * A WSL distro lives only while a Windows-side process of it lives, so the
 * shim keeps `wsl.exe --exec tether anchor` running. The anchor keeps tetherd
 * serving in either world, decided at run time:
 *   supervise  tetherd is the anchor's own child (or a running one is adopted
 *              through its pid file and a pidfd); restarted with exponential
 *              backoff, given up after a crash loop (SIGHUP tries again).
 *   systemd    tetherd.service runs under the user's systemd; the anchor starts
 *              it when needed and restarts it through systemctl when unhealthy.
 * In both, the daemon's health is its answer to hello on the unix socket.
 * State goes to RUNTIME_DIR/anchor.json for `tether status`; logs go to a
 * size-rotated file, never only to stdout (whose reader is a wsl.exe that may
 * be gone).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "cli.h"

#define STABLE_MS 30000             /* a daemon up this long resets the backoff */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 30000
#define DEFAULT_RESTART_LIMIT 10    /* quick failures in a row before giving up */
#define DEFAULT_HEALTH_MS 5000
#define HEALTH_TIMEOUT_MS 2000
#define HEALTH_FAILURES 3           /* consecutive failed checks before a restart */
#define STARTING_POLL_MS 10         /* a restarted daemon is back in service at once */
#define START_TIMEOUT_MS 30000      /* not healthy this long after a start: unhealthy */
#define STOP_TIMEOUT_MS 10000       /* SIGTERM to SIGKILL when the anchor stops */
#define UNIT "tetherd.service"

enum mode { MODE_AUTO, MODE_SUPERVISE, MODE_SYSTEMD };
enum state { ST_STARTING, ST_RUNNING, ST_BACKOFF, ST_GAVE_UP, ST_STOPPING };
static const char *const state_names[] = { "starting", "running", "backoff", "gave-up",
					   "stopping" };

struct anchor {
	uv_loop_t loop;
	char runtime_dir[100];
	char tetherd[PATH_MAX];
	char daemon_log[PATH_MAX];      /* "" = tetherd's config says where */
	char log_path[PATH_MAX];        /* the anchor's own log */
	char **daemon_args;             /* passed through after -- */
	int n_daemon_args;
	enum mode mode;
	enum state state;
	int restart_limit;
	long health_ms;
	int lock_fd;

	/* the daemon: our child, or an adopted one watched through a pidfd */
	uv_process_t child;
	bool child_alive;
	int pidfd;
	uv_poll_t pidfd_poll;
	bool adopted;
	long daemon_pid;
	uint64_t daemon_started_ms;
	char kill_reason[160];          /* why we killed it, reported as its exit */

	int quick_failures;
	long starts;
	long restarts;                  /* starts after the first */
	uint64_t backoff_ms;
	char last_exit[200];
	char since[32];

	uv_timer_t restart_timer, health_timer, stop_timer;
	uv_signal_t sigterm, sigint, sighup;
	uv_pipe_t stdin_pipe;           /* watched when stdin is a pipe: EOF = stop */
	bool watch_stdin;
	uv_work_t health_work;
	bool health_busy;
	int health_failures;
	int health_rc;
	char health_why[160];

	uv_process_t systemctl;
	bool systemctl_busy;
	char systemctl_verb[16];
};

static void start_daemon(struct anchor *a);
static void finish_if_stopped(struct anchor *a);
static void arm_health(struct anchor *a);

static const char *mode_name(enum mode m)
{
	return m == MODE_SYSTEMD ? "systemd" : "supervise";
}

/* anchor.json: what `tether status` and `tether doctor` show. */
static void write_state(struct anchor *a)
{
	cJSON *st = cJSON_CreateObject();
	cJSON_AddNumberToObject(st, "pid", (double)getpid());
	cJSON_AddStringToObject(st, "mode", mode_name(a->mode));
	cJSON_AddStringToObject(st, "state", state_names[a->state]);
	if (a->daemon_pid > 0)
		cJSON_AddNumberToObject(st, "daemon_pid", (double)a->daemon_pid);
	else
		cJSON_AddNullToObject(st, "daemon_pid");
	cJSON_AddBoolToObject(st, "adopted", a->adopted);
	cJSON_AddNumberToObject(st, "restarts", (double)a->restarts);
	cJSON_AddNumberToObject(st, "quick_failures", a->quick_failures);
	cJSON_AddNumberToObject(st, "restart_limit", a->restart_limit);
	if (a->state == ST_BACKOFF)
		cJSON_AddNumberToObject(st, "next_retry_ms", (double)a->backoff_ms);
	if (*a->last_exit)
		cJSON_AddStringToObject(st, "last_exit", a->last_exit);
	else
		cJSON_AddNullToObject(st, "last_exit");
	cJSON_AddStringToObject(st, "since", a->since);
	cJSON_AddStringToObject(st, "log", a->log_path);
	char *text = cJSON_Print(st);
	cJSON_Delete(st);
	int rc = text ? relay_write_file_atomic(a->runtime_dir, RELAY_ANCHOR_NAME, text) : -ENOMEM;
	cJSON_free(text);
	if (rc)
		relay_log(RELAY_LOG_WARN, "cannot write %s/%s: %s", a->runtime_dir,
			  RELAY_ANCHOR_NAME, strerror(-rc));
}

static void set_state(struct anchor *a, enum state s)
{
	if (a->state != s)
		relay_iso8601_now(a->since, sizeof a->since, false);
	a->state = s;
	write_state(a);
}

static void on_restart_timer(uv_timer_t *t)
{
	start_daemon(t->data);
}

/* ---- the daemon's end -------------------------------------------------- */

/* Called once per daemon life, whoever noticed its end. */
static void daemon_gone(struct anchor *a, const char *reason)
{
	uint64_t ran = relay_now_ms() - a->daemon_started_ms;
	a->daemon_pid = 0;
	a->adopted = false;
	a->health_failures = 0;
	snprintf(a->last_exit, sizeof a->last_exit, "%s", *a->kill_reason ? a->kill_reason : reason);
	*a->kill_reason = 0;
	if (a->state == ST_STOPPING) {
		relay_log(RELAY_LOG_INFO, "tetherd stopped: %s", a->last_exit);
		finish_if_stopped(a);
		return;
	}
	if (ran >= STABLE_MS)
		a->quick_failures = 0;
	a->quick_failures++;
	if (a->quick_failures >= a->restart_limit) {
		relay_log(RELAY_LOG_ERROR, "tetherd ended (%s); %d quick failures in a row: giving "
			  "up (send SIGHUP to the anchor, pid %d, to try again)", a->last_exit,
			  a->quick_failures, (int)getpid());
		set_state(a, ST_GAVE_UP);
		return;
	}
	int shift = a->quick_failures - 1 < 20 ? a->quick_failures - 1 : 20;
	a->backoff_ms = (uint64_t)BACKOFF_FIRST_MS << shift;
	if (a->backoff_ms > BACKOFF_MAX_MS)
		a->backoff_ms = BACKOFF_MAX_MS;
	relay_log(RELAY_LOG_WARN, "tetherd ended (%s) after %.1f s; restart %d of at most %d in "
		  "%llu ms", a->last_exit, ran / 1000.0, a->quick_failures, a->restart_limit - 1,
		  (unsigned long long)a->backoff_ms);
	set_state(a, ST_BACKOFF);
	uv_timer_start(&a->restart_timer, on_restart_timer, a->backoff_ms, 0);
}

static void child_closed(uv_handle_t *h)
{
	struct anchor *a = h->data;
	a->child_alive = false;
	finish_if_stopped(a);
}

static void on_child_exit(uv_process_t *p, int64_t status, int signum)
{
	struct anchor *a = p->data;
	char reason[64];
	if (signum)
		snprintf(reason, sizeof reason, "killed by SIG%s", sigabbrev_np(signum) ?
			 sigabbrev_np(signum) : "?");
	else
		snprintf(reason, sizeof reason, "exit %lld", (long long)status);
	uv_close((uv_handle_t *)p, child_closed);
	daemon_gone(a, reason);
}

static void pidfd_closed(uv_handle_t *h)
{
	struct anchor *a = h->data;
	close(a->pidfd);
	a->pidfd = -1;
	finish_if_stopped(a);
}

static void on_adopted_exit(uv_poll_t *p, int status, int events)
{
	struct anchor *a = p->data;
	char reason[64];
	snprintf(reason, sizeof reason, "adopted tetherd pid %ld ended", a->daemon_pid);
	uv_poll_stop(p);
	uv_close((uv_handle_t *)p, pidfd_closed);
	daemon_gone(a, reason);
}

/* A tetherd already holds the runtime dir's lock (started by hand, by
 * `tether connect`, or by an anchor that died): watch it instead of starting
 * a second one that would fail on the lock. */
static bool try_adopt(struct anchor *a)
{
	char path[256], buf[32];
	if (relay_runtime_path(path, sizeof path, a->runtime_dir, RELAY_LOCK_NAME))
		return false;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	bool held = flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	long pid = strtol(buf, NULL, 10);
	if (!held || pid <= 0)
		return false;
	int pfd = (int)pidfd_open((pid_t)pid, 0);
	if (pfd < 0)
		return false;
	a->pidfd = pfd;
	a->daemon_pid = pid;
	a->adopted = true;
	a->daemon_started_ms = relay_now_ms();
	uv_poll_init(&a->loop, &a->pidfd_poll, pfd);
	a->pidfd_poll.data = a;
	uv_poll_start(&a->pidfd_poll, UV_READABLE, on_adopted_exit);
	relay_log(RELAY_LOG_INFO, "adopted the running tetherd (pid %ld)", pid);
	return true;
}

/* A child's stderr joins the anchor's log (stderr when there is none), for
 * what it writes before its own log opens: a config error, a sanitizer report. */
static int child_stderr(void)
{
	return relay_log_fd() >= 0 ? relay_log_fd() : STDERR_FILENO;
}

static void spawn_tetherd(struct anchor *a)
{
	char *argv[16 + 64];
	int argc = 0;
	argv[argc++] = a->tetherd;
	argv[argc++] = "--runtime-dir";
	argv[argc++] = a->runtime_dir;
	if (*a->daemon_log) {
		argv[argc++] = "--log-file";
		argv[argc++] = a->daemon_log;
	}
	for (int i = 0; i < a->n_daemon_args; i++)
		argv[argc++] = a->daemon_args[i];
	argv[argc] = NULL;

	uv_stdio_container_t stdio[3] = {
		{ .flags = UV_IGNORE }, { .flags = UV_IGNORE },
		{ .flags = UV_INHERIT_FD, .data.fd = child_stderr() },
	};
	uv_process_options_t opt = {
		.file = a->tetherd, .args = argv, .exit_cb = on_child_exit,
		.stdio_count = 3, .stdio = stdio,
		/* its own session: a Ctrl-C meant for the anchor reaches tetherd only
		 * through the anchor, and an anchor killed outright leaves tetherd
		 * serving for the next anchor to adopt */
		.flags = UV_PROCESS_DETACHED,
	};
	a->child.data = a;
	a->daemon_started_ms = relay_now_ms();
	int rc = uv_spawn(&a->loop, &a->child, &opt);
	if (rc) {
		char reason[PATH_MAX + 64];
		snprintf(reason, sizeof reason, "cannot start %s: %s", a->tetherd, uv_strerror(rc));
		uv_close((uv_handle_t *)&a->child, NULL);
		daemon_gone(a, reason);
		return;
	}
	a->child_alive = true;
	a->daemon_pid = a->child.pid;
	relay_log(RELAY_LOG_INFO, "started tetherd (pid %ld)", a->daemon_pid);
}

/* ---- systemd mode ------------------------------------------------------ */

static void systemctl_closed(uv_handle_t *h)
{
	struct anchor *a = h->data;
	a->systemctl_busy = false;
	finish_if_stopped(a);
}

static void on_systemctl_exit(uv_process_t *p, int64_t status, int signum)
{
	struct anchor *a = p->data;
	uv_close((uv_handle_t *)p, systemctl_closed);
	if (a->state == ST_STOPPING)
		return;
	if (status || signum) {
		char reason[96];
		snprintf(reason, sizeof reason, "systemctl --user %s %s failed (%s %lld)",
			 a->systemctl_verb, UNIT, signum ? "signal" : "exit",
			 signum ? (long long)signum : (long long)status);
		daemon_gone(a, reason);
		return;
	}
	relay_log(RELAY_LOG_INFO, "systemctl --user %s %s: done", a->systemctl_verb, UNIT);
}

static void systemctl(struct anchor *a, const char *verb)
{
	char *argv[] = { "systemctl", "--user", (char *)verb, UNIT, NULL };
	uv_stdio_container_t stdio[3] = {
		{ .flags = UV_IGNORE }, { .flags = UV_IGNORE },
		{ .flags = UV_INHERIT_FD, .data.fd = child_stderr() },
	};
	uv_process_options_t opt = { .file = "systemctl", .args = argv, .stdio_count = 3,
				     .stdio = stdio, .exit_cb = on_systemctl_exit };
	if (a->systemctl_busy)
		return;
	snprintf(a->systemctl_verb, sizeof a->systemctl_verb, "%s", verb);
	a->systemctl.data = a;
	a->daemon_started_ms = relay_now_ms();
	int rc = uv_spawn(&a->loop, &a->systemctl, &opt);
	if (rc) {
		char reason[96];
		snprintf(reason, sizeof reason, "cannot run systemctl: %s", uv_strerror(rc));
		uv_close((uv_handle_t *)&a->systemctl, NULL);
		daemon_gone(a, reason);
		return;
	}
	a->systemctl_busy = true;
	relay_log(RELAY_LOG_INFO, "systemctl --user %s %s", verb, UNIT);
}

/* ---- start, health ----------------------------------------------------- */

static void start_daemon(struct anchor *a)
{
	if (a->state == ST_STOPPING)
		return;
	a->health_failures = 0;
	set_state(a, ST_STARTING);
	if (a->mode == MODE_SYSTEMD) {
		systemctl(a, "start");
	} else if (!try_adopt(a)) {
		spawn_tetherd(a);
	}
	if (a->state == ST_STARTING) {
		a->restarts = a->starts++;
		write_state(a);
		arm_health(a);
	}
}

/* On a worker thread: the client calls block, the loop must not. */
static void health_check(uv_work_t *w)
{
	struct anchor *a = w->data;
	int fd = relay_client_connect(a->runtime_dir);
	if (fd < 0) {
		a->health_rc = fd;
		snprintf(a->health_why, sizeof a->health_why, "cannot connect to %s/%s: %s",
			 a->runtime_dir, RELAY_SOCKET_NAME, strerror(-fd));
		return;
	}
	cJSON *reply = relay_client_hello(fd, "tether anchor", HEALTH_TIMEOUT_MS, a->health_why,
					  sizeof a->health_why);
	close(fd);
	a->health_rc = reply ? 0 : -EIO;
	cJSON_Delete(reply);
}

/* The pid serving now, from endpoint.json (systemd mode has no child). */
static long endpoint_pid(const char *dir)
{
	char path[256];
	if (relay_runtime_path(path, sizeof path, dir, RELAY_ENDPOINT_NAME))
		return 0;
	char *text = relay_read_text(path, 4095);
	cJSON *ep = text ? cJSON_Parse(text) : NULL;
	free(text);
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(ep, "pid");
	long v = cJSON_IsNumber(pid) ? (long)pid->valuedouble : 0;
	cJSON_Delete(ep);
	return v;
}

static void unhealthy(struct anchor *a, const char *why)
{
	snprintf(a->kill_reason, sizeof a->kill_reason, "unhealthy: %s", why);
	relay_log(RELAY_LOG_ERROR, "tetherd (pid %ld) is %s; restarting it", a->daemon_pid,
		  a->kill_reason);
	a->health_failures = 0;
	if (a->mode == MODE_SYSTEMD) {
		/* No exit of ours reports this one (systemd restarts it), so
		 * record it now, as daemon_gone does for a child. */
		snprintf(a->last_exit, sizeof a->last_exit, "%s", a->kill_reason);
		*a->kill_reason = 0;
		a->daemon_pid = 0;
		a->daemon_started_ms = relay_now_ms();
		a->restarts = a->starts++;
		set_state(a, ST_STARTING);
		systemctl(a, "restart");
	} else if (a->daemon_pid > 0) {
		kill((pid_t)a->daemon_pid, SIGKILL);   /* its exit restarts it */
	}
}

static void health_done(uv_work_t *w, int status)
{
	struct anchor *a = w->data;
	a->health_busy = false;
	if (a->state == ST_STOPPING) {
		/* the stop waited for this check (finish_if_stopped) */
		finish_if_stopped(a);
		return;
	}
	if (a->state != ST_STARTING && a->state != ST_RUNNING)
		return;
	uint64_t up = relay_now_ms() - a->daemon_started_ms;
	if (a->health_rc == 0) {
		a->health_failures = 0;
		if (a->mode == MODE_SYSTEMD)
			a->daemon_pid = endpoint_pid(a->runtime_dir);
		if (a->state == ST_STARTING) {
			relay_log(RELAY_LOG_INFO, "tetherd (pid %ld) is serving, %.0f ms after start",
				  a->daemon_pid, (double)up);
			set_state(a, ST_RUNNING);
		}
	} else if (a->state == ST_STARTING) {
		if (up > START_TIMEOUT_MS)
			unhealthy(a, "not answering 30 s after start");
	} else if (++a->health_failures >= HEALTH_FAILURES) {
		unhealthy(a, a->health_why);
	} else {
		relay_log(RELAY_LOG_WARN, "health check %d of %d failed: %s", a->health_failures,
			  HEALTH_FAILURES, a->health_why);
	}
	if (a->state == ST_STARTING || a->state == ST_RUNNING)
		arm_health(a);
}

static void on_health_timer(uv_timer_t *t)
{
	struct anchor *a = t->data;
	if (a->health_busy || (a->state != ST_STARTING && a->state != ST_RUNNING))
		return;
	a->health_busy = true;
	a->health_work.data = a;
	uv_queue_work(&a->loop, &a->health_work, health_check, health_done);
}

/* The health timer is re-armed after every check, so checks never overlap:
 * quickly while starting, every health_ms once running. */
static void arm_health(struct anchor *a)
{
	uint64_t delay = a->state == ST_STARTING ? STARTING_POLL_MS : (uint64_t)a->health_ms;
	uv_timer_start(&a->health_timer, on_health_timer, delay, 0);
}

/* ---- stop -------------------------------------------------------------- */

static void close_if_open(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void finish_if_stopped(struct anchor *a)
{
	if (a->state != ST_STOPPING || a->child_alive || a->pidfd >= 0 || a->systemctl_busy ||
	    a->health_busy)
		return;
	char path[256];
	if (!relay_runtime_path(path, sizeof path, a->runtime_dir, RELAY_ANCHOR_NAME))
		unlink(path);
	close_if_open((uv_handle_t *)&a->restart_timer);
	close_if_open((uv_handle_t *)&a->health_timer);
	close_if_open((uv_handle_t *)&a->stop_timer);
	close_if_open((uv_handle_t *)&a->sigterm);
	close_if_open((uv_handle_t *)&a->sigint);
	close_if_open((uv_handle_t *)&a->sighup);
	if (a->watch_stdin)
		close_if_open((uv_handle_t *)&a->stdin_pipe);
}

static void on_stop_timeout(uv_timer_t *t)
{
	struct anchor *a = t->data;
	if (a->daemon_pid > 0) {
		relay_log(RELAY_LOG_WARN, "tetherd (pid %ld) still running %d s after SIGTERM: "
			  "SIGKILL", a->daemon_pid, STOP_TIMEOUT_MS / 1000);
		kill((pid_t)a->daemon_pid, SIGKILL);
	}
}

static void stop(struct anchor *a, const char *why)
{
	if (a->state == ST_STOPPING)
		return;
	relay_log(RELAY_LOG_INFO, "%s: stopping", why);
	set_state(a, ST_STOPPING);
	uv_timer_stop(&a->restart_timer);
	uv_timer_stop(&a->health_timer);
	if (a->mode == MODE_SYSTEMD) {
		relay_log(RELAY_LOG_INFO, "leaving %s to systemd", UNIT);
	} else if (a->daemon_pid > 0) {
		kill((pid_t)a->daemon_pid, SIGTERM);
		uv_timer_start(&a->stop_timer, on_stop_timeout, STOP_TIMEOUT_MS, 0);
	}
	finish_if_stopped(a);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct anchor *a = h->data;
	char why[32];
	if (signum == SIGHUP) {
		if (a->state == ST_GAVE_UP) {
			relay_log(RELAY_LOG_INFO, "SIGHUP: trying again");
			a->quick_failures = 0;
			start_daemon(a);
		}
		return;
	}
	snprintf(why, sizeof why, "SIG%s", sigabbrev_np(signum));
	stop(a, why);
}

/* The shim stops its anchor by closing wsl.exe's stdin, which wsl.exe relays
 * as EOF: killing wsl.exe instead would orphan the anchor, not stop it. What
 * arrives on stdin is otherwise discarded. */
static void on_stdin_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char scratch[256];
	*buf = uv_buf_init(scratch, sizeof scratch);
}

static void on_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct anchor *a = s->data;
	if (n >= 0)
		return;
	uv_read_stop(s);
	stop(a, n == UV_EOF ? "stdin closed" : "stdin failed");
}

static void watch_stdin(struct anchor *a)
{
	struct stat st;
	if (fstat(STDIN_FILENO, &st) || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return;
	if (uv_pipe_init(&a->loop, &a->stdin_pipe, 0))
		return;
	a->stdin_pipe.data = a;
	if (uv_pipe_open(&a->stdin_pipe, STDIN_FILENO) ||
	    uv_read_start((uv_stream_t *)&a->stdin_pipe, on_stdin_alloc, on_stdin)) {
		uv_close((uv_handle_t *)&a->stdin_pipe, NULL);
		return;
	}
	a->watch_stdin = true;
}

/* ---- setup ------------------------------------------------------------- */

/* $XDG_STATE_HOME/tether or ~/.local/state/tether, created 0700: logs must
 * outlive the runtime dir in /tmp and the anchor's lost stdout. */
int relay_state_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;
	if (xdg && *xdg == '/')
		n = snprintf(buf, len, "%s/tether", xdg);
	else if (home && *home == '/')
		n = snprintf(buf, len, "%s/.local/state/tether", home);
	else
		return -ENOENT;
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return relay_mkdir_parents(buf, 0700);
}

/* With systemd as PID 1 and tetherd.service installed for this user, systemd
 * supervises; otherwise we do. Runs before the loop, once. */
static enum mode detect_mode(char *why, size_t len)
{
	struct stat st;
	if (stat("/run/systemd/system", &st) || !S_ISDIR(st.st_mode)) {
		snprintf(why, len, "systemd is not PID 1");
		return MODE_SUPERVISE;
	}
	char out[64];
	relay_first_line_of("systemctl --user show --property=LoadState --value " UNIT
			    " 2>/dev/null", out, sizeof out);
	if (!strcmp(out, "loaded")) {
		snprintf(why, len, "systemd is PID 1 and %s is installed for this user", UNIT);
		return MODE_SYSTEMD;
	}
	snprintf(why, len, "systemd is PID 1 but %s is not installed for this user (LoadState "
		 "'%s'; `tether service install` installs it)", UNIT, out);
	return MODE_SUPERVISE;
}

static int anchor_run(struct anchor *a, int argc, char **argv)
{
	char log_path[PATH_MAX] = "", state_dir[PATH_MAX - 32], err[RELAY_ERR_MAX];
	long limit = DEFAULT_RESTART_LIMIT, health = DEFAULT_HEALTH_MS;
	int rc;

	a->pidfd = -1;
	relay_runtime_dir_default(a->runtime_dir, sizeof a->runtime_dir);
	/* the tetherd next to this tether binary, else the one on PATH */
	relay_sibling_exe("tetherd", a->tetherd, sizeof a->tetherd);
	/* Every option takes a value: two arguments a step. */
	for (int i = 0; i < argc; i += 2) {
		const char *f = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(f, "--")) {
			a->daemon_args = argv + i + 1;
			a->n_daemon_args = argc - i - 1;
			if (a->n_daemon_args > 64)
				return cli_usage_error("anchor", "%s", "more than 64 tetherd arguments");
			break;
		}
		if (!v && strcmp(f, "--help"))
			return cli_usage_error("anchor", "unknown option or missing value: '%s'", f);
		if (!strcmp(f, "--runtime-dir")) {
			if (!*v || strlen(v) >= sizeof a->runtime_dir)
				return cli_usage_error("anchor",
						       "--runtime-dir '%s' is empty or too long", v);
			strcpy(a->runtime_dir, v);
		} else if (!strcmp(f, "--mode")) {
			if (!strcmp(v, "auto"))
				a->mode = MODE_AUTO;
			else if (!strcmp(v, "supervise"))
				a->mode = MODE_SUPERVISE;
			else if (!strcmp(v, "systemd"))
				a->mode = MODE_SYSTEMD;
			else
				return cli_usage_error("anchor",
						       "--mode must be auto, supervise or systemd, got '%s'", v);
		} else if (!strcmp(f, "--tetherd")) {
			if (!*v || strlen(v) >= sizeof a->tetherd)
				return cli_usage_error("anchor", "--tetherd '%s' is empty or too long", v);
			strcpy(a->tetherd, v);
		} else if (!strcmp(f, "--log-file")) {
			if (!*v || strlen(v) >= sizeof log_path)
				return cli_usage_error("anchor", "--log-file '%s' is empty or too long", v);
			strcpy(log_path, v);
		} else if (!strcmp(f, "--restart-limit")) {
			if ((rc = cli_option_long("anchor", f, v, 1, 1000, &limit)))
				return rc;
		} else if (!strcmp(f, "--health-interval-ms")) {
			if ((rc = cli_option_long("anchor", f, v, 100, 3600000, &health)))
				return rc;
		} else {
			return cli_usage_error("anchor", "unknown option '%s'", f);
		}
	}
	a->restart_limit = (int)limit;
	a->health_ms = health;

	/* Logs: the anchor's own file; tetherd's own file unless its config names one. */
	rc = relay_state_dir(state_dir, sizeof state_dir);
	if (!*log_path) {
		if (rc) {
			fprintf(stderr, "tether anchor: no log directory (set HOME or XDG_STATE_HOME, "
				"or pass --log-file): %s\n", strerror(-rc));
			return 1;
		}
		snprintf(log_path, sizeof log_path, "%s/anchor.log", state_dir);
	}
	{
		struct relay_config cfg;
		char path[1024] = "";
		bool flag_given = false;
		/* tetherd reads the file its --config names instead of the default one */
		for (int i = 0; i < a->n_daemon_args; i++) {
			const char *f = a->daemon_args[i];
			flag_given |= !strncmp(f, "--log-file", 10);
			if (!strncmp(f, "--config=", 9))
				snprintf(path, sizeof path, "%s", f + 9);
			else if (!strcmp(f, "--config") && i + 1 < a->n_daemon_args)
				snprintf(path, sizeof path, "%s", a->daemon_args[i + 1]);
		}
		bool log_in_file = !relay_config_load(&cfg, *path ? path : NULL, err) &&
				   *cfg.log_file;
		if (!log_in_file && !flag_given && !rc)
			snprintf(a->daemon_log, sizeof a->daemon_log, "%s/tetherd.log", state_dir);
	}
	snprintf(a->log_path, sizeof a->log_path, "%s", log_path);
	if ((rc = relay_log_open(log_path, RELAY_LOG_INFO, 10L << 20))) {
		fprintf(stderr, "tether anchor: cannot open log file %s: %s\n", log_path,
			strerror(-rc));
		return 1;
	}
	/* stdout's reader is a wsl.exe on Windows that can vanish at any time. */
	signal(SIGPIPE, SIG_IGN);
	umask(0077);
	if (relay_runtime_dir_prepare(a->runtime_dir, err)) {
		relay_log(RELAY_LOG_ERROR, "%s", err);
		fprintf(stderr, "tether anchor: %s\n", err);
		return 1;
	}
	long holder = 0;
	a->lock_fd = relay_lock_acquire(a->runtime_dir, RELAY_ANCHOR_LOCK_NAME, &holder);
	if (a->lock_fd < 0) {
		if (a->lock_fd == -EBUSY)
			snprintf(err, sizeof err, "another tether anchor (pid %ld) is running for "
				 "this user in %s", holder, a->runtime_dir);
		else
			snprintf(err, sizeof err, "cannot lock %s/%s: %s", a->runtime_dir,
				 RELAY_ANCHOR_LOCK_NAME, strerror(-a->lock_fd));
		relay_log(RELAY_LOG_ERROR, "%s", err);
		fprintf(stderr, "tether anchor: %s\n", err);
		return 1;
	}

	char why[256];
	relay_ensure_user_bus_env();
	if (a->mode == MODE_AUTO)
		a->mode = detect_mode(why, sizeof why);
	else
		snprintf(why, sizeof why, "--mode %s", mode_name(a->mode));
	relay_log(RELAY_LOG_INFO, "tether anchor %s pid %d: %s mode (%s); runtime dir %s; "
		  "tetherd %s", TETHER_VERSION, (int)getpid(), mode_name(a->mode), why,
		  a->runtime_dir, a->mode == MODE_SYSTEMD ? UNIT : a->tetherd);

	uv_loop_init(&a->loop);
	uv_timer_init(&a->loop, &a->restart_timer);
	uv_timer_init(&a->loop, &a->health_timer);
	uv_timer_init(&a->loop, &a->stop_timer);
	a->restart_timer.data = a->health_timer.data = a->stop_timer.data = a;
	uv_signal_init(&a->loop, &a->sigterm);
	uv_signal_init(&a->loop, &a->sigint);
	uv_signal_init(&a->loop, &a->sighup);
	a->sigterm.data = a->sigint.data = a->sighup.data = a;
	uv_signal_start(&a->sigterm, on_signal, SIGTERM);
	uv_signal_start(&a->sigint, on_signal, SIGINT);
	uv_signal_start(&a->sighup, on_signal, SIGHUP);
	watch_stdin(a);
	relay_iso8601_now(a->since, sizeof a->since, false);
	start_daemon(a);

	uv_run(&a->loop, UV_RUN_DEFAULT);
	uv_loop_close(&a->loop);
	relay_log(RELAY_LOG_INFO, "anchor stopped");
	relay_log_close();
	close(a->lock_fd);
	return 0;
}

int relay_cli_anchor(int argc, char **argv)
{
	/* On the heap, freed on every return (usage errors included). */
	struct anchor *a = calloc(1, sizeof *a);
	if (!a) {
		fprintf(stderr, "tether anchor: out of memory\n");
		return 1;
	}
	int rc = anchor_run(a, argc, argv);
	free(a);
	return rc;
}
