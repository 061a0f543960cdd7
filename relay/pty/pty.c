/* Terminal sessions: a child on a pseudo-terminal, its output ring with byte
 * sequence numbers, and the attachments (channels) that read it under
 * credit-based flow control. Children are reaped on the loop (SIGCHLD). */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "pty_internal.h"

#define READ_CHUNK (64 * 1024)         /* largest output frame */
/* Per poll callback. A PTY read can wait in the kernel for its worker thread,
 * so a busy session reading much at once stalls every other session's echo
 * (bench/: 256 KiB gave a 19 ms echo p99 beside a flood, 16 KiB about 4 ms,
 * for 5% of throughput). */
#define READ_BUDGET (16 * 1024)
#define RING_FIRST 4096                /* the ring grows from here up to ring_bytes */

extern char **environ;

static void session_service(struct pty_session *s);
static void session_free(struct pty_session *s);

long relay_pty_count(const struct relay_pty *p)
{
	return p->count;
}

static cJSON *pty_capability(struct relay_module *m)
{
	const struct relay_pty_limits *cfg = &relay_container_of(m, struct relay_pty, module)->limits;
	cJSON *cap = cJSON_CreateObject();
	cJSON_AddNumberToObject(cap, "max_sessions", (double)cfg->max_sessions);
	cJSON_AddNumberToObject(cap, "max_sessions_per_connection",
				(double)cfg->max_sessions_per_connection);
	cJSON_AddNumberToObject(cap, "ring_bytes", (double)cfg->ring_bytes);
	cJSON_AddNumberToObject(cap, "detach_timeout_s", (double)cfg->detach_timeout_s);
	cJSON_AddNumberToObject(cap, "max_detached", (double)cfg->max_detached);
	cJSON_AddNumberToObject(cap, "default_credit", (double)cfg->default_credit);
	return cap;
}

/* ---- the ring ------------------------------------------------------------ */

static uint64_t ring_oldest(const struct pty_session *s)
{
	return s->total > s->ring_cap ? s->total - s->ring_cap : 0;
}

/* Appends output. Before the ring reaches ring_bytes it only grows, so
 * seq % ring_cap stays the position of every retained byte. */
static int ring_append(struct pty_session *s, const uint8_t *data, size_t len)
{
	size_t max = (size_t)s->mgr->limits.ring_bytes;
	if (s->total + len > s->ring_cap && s->ring_cap < max) {
		size_t cap = s->ring_cap ? s->ring_cap : RING_FIRST;
		while (cap < s->total + len && cap < max)
			cap *= 2;
		if (cap > max)
			cap = max;
		uint8_t *nr = realloc(s->ring, cap);
		if (!nr)
			return -ENOMEM;
		s->ring = nr;
		s->ring_cap = cap;
	}
	while (len) {
		size_t off = (size_t)(s->total % s->ring_cap);
		size_t n = s->ring_cap - off < len ? s->ring_cap - off : len;
		memcpy(s->ring + off, data, n);
		s->total += n;
		data += n;
		len -= n;
	}
	return 0;
}

/* ---- attachments and output ---------------------------------------------- */

static void send_exit(struct pty_attach *a)
{
	struct pty_session *s = a->s;
	cJSON *ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "type", "pty.exit");
	cJSON_AddStringToObject(ev, "session", s->id);
	cJSON_AddNumberToObject(ev, "channel", a->chan.id);
	if (WIFEXITED(s->status)) {
		cJSON_AddNumberToObject(ev, "exit_code", WEXITSTATUS(s->status));
		cJSON_AddNullToObject(ev, "signal");
	} else {
		cJSON_AddNullToObject(ev, "exit_code");
		cJSON_AddStringToObject(ev, "signal", sigabbrev_np(WTERMSIG(s->status)));
	}
	cJSON_AddNumberToObject(ev, "seq", (double)a->sent_seq);
	cJSON_AddNumberToObject(ev, "discarded", (double)(s->total - a->sent_seq));
	relay_conn_send_json(a->chan.conn, ev);
}

/* Sends what the attachment may receive; true when it is caught up. */
static bool pump(struct pty_attach *a)
{
	struct pty_session *s = a->s;
	while (a->sent_seq < s->total && a->credit && !relay_conn_full(a->chan.conn)) {
		uint64_t want = s->total - a->sent_seq;
		size_t off = (size_t)(a->sent_seq % s->ring_cap);
		size_t n = s->ring_cap - off;
		if (want < n)
			n = (size_t)want;
		if (a->credit < n)
			n = (size_t)a->credit;
		if (n > READ_CHUNK)
			n = READ_CHUNK;
		uint8_t head[4] = { (uint8_t)(a->chan.id >> 24), (uint8_t)(a->chan.id >> 16),
				    (uint8_t)(a->chan.id >> 8), (uint8_t)a->chan.id };
		if (relay_conn_send_parts(a->chan.conn, RELAY_FRAME_BINARY, head, 4, s->ring + off, n))
			return false;
		a->sent_seq += n;
		a->credit -= n;
	}
	return a->sent_seq == s->total;
}

static void attach_unlink(struct pty_attach *a)
{
	struct pty_session *s = a->s;
	struct pty_attach **pp;
	for (pp = &s->attachments; *pp != a; pp = &(*pp)->next_in_session)
		;
	*pp = a->next_in_session;
	relay_chan_remove(&a->chan);
	s->n_attached--;
	free(a);
}

static void start_detach_timer(struct pty_session *s);

/* Ends an attachment; the session goes on (detached when it was the last). */
static void attach_end(struct pty_attach *a)
{
	struct pty_session *s = a->s;
	attach_unlink(a);
	if (!s->n_attached) {
		s->detached_at_ms = relay_now_ms();
		start_detach_timer(s);
	}
}

/* ---- reading and writing the terminal ---------------------------------- */

/* The terminal is read only when every attachment is caught up and may
 * receive more; with no attachment it is read into the ring. */
static size_t read_allowance(const struct pty_session *s)
{
	size_t allow = READ_CHUNK;
	if ((size_t)s->mgr->limits.ring_bytes < allow)
		allow = (size_t)s->mgr->limits.ring_bytes;   /* nothing unsent is overwritten */
	if (s->closing)
		return allow;   /* a closed session's unsent output is discarded, not awaited */
	for (const struct pty_attach *a = s->attachments; a; a = a->next_in_session) {
		if (a->sent_seq != s->total || relay_conn_full(a->chan.conn))
			return 0;
		if (a->credit < allow)
			allow = (size_t)a->credit;
	}
	return allow;
}

static void read_output(struct pty_session *s)
{
	uint8_t buf[READ_CHUNK];
	size_t budget = READ_BUDGET, allow;

	while (!s->eof && budget && (allow = read_allowance(s))) {
		size_t have = 0;
		if (allow > budget)
			allow = budget;
		/* Coalesce the kernel's small reads (about 4 KiB) into one frame. */
		while (have < allow) {
			ssize_t n = read(s->master, buf + have, allow - have);
			if (n > 0) {
				have += (size_t)n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				/* The child is gone and has nothing more: the rest
				 * (if a grandchild keeps the terminal) is not its. */
				if (s->child_exited && !have)
					s->eof = true;
				break;
			}
			s->eof = true;   /* EIO: every slave side is closed */
			break;
		}
		if (!have)
			break;
		if (ring_append(s, buf, have)) {
			relay_log(RELAY_LOG_ERROR, "%s: out of memory for output", s->id);
			s->eof = true;
			break;
		}
		for (struct pty_attach *a = s->attachments; a; a = a->next_in_session)
			pump(a);
		budget -= have < budget ? have : budget;
		if (have < allow)
			break;   /* drained for now */
	}
}

static void write_input(struct pty_session *s)
{
	while (s->input_len) {
		ssize_t n = write(s->master, s->input, s->input_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				s->input_len = 0;   /* the terminal is gone */
			return;
		}
		memmove(s->input, s->input + n, s->input_len - (size_t)n);
		s->input_len -= (size_t)n;
	}
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct pty_session *s = h->data;
	if (status < 0 || (events & (UV_READABLE | UV_DISCONNECT)))
		read_output(s);
	if (events & UV_WRITABLE)
		write_input(s);
	session_service(s);
}

static void update_poll(struct pty_session *s)
{
	int events = 0;
	if (!s->eof && read_allowance(s))
		events |= UV_READABLE;
	if (s->input_len && !s->eof)
		events |= UV_WRITABLE;
	if (events == s->poll_events || s->freeing)
		return;
	s->poll_events = events;
	if (events)
		uv_poll_start(&s->poll, events, on_poll);
	else
		uv_poll_stop(&s->poll);
}

/* After any change: read what may be read, send, deliver exits, re-arm. */
static void session_service(struct pty_session *s)
{
	if (s->freeing)
		return;
	if (s->child_exited && !s->eof)
		read_output(s);   /* the poll may never fire again for an idle terminal */
	struct pty_attach *a = s->attachments, *next;
	for (; a; a = next) {
		next = a->next_in_session;
		bool caught_up = pump(a);
		if ((caught_up || s->closing) && s->eof && s->child_exited) {
			send_exit(a);
			attach_unlink(a);
			if (!s->attachments) {
				session_free(s);   /* its exit is delivered */
				return;
			}
		}
	}
	/* A closed session nobody watches is forgotten once its child is gone. */
	if (s->closing && s->child_exited && s->eof && !s->attachments) {
		session_free(s);
		return;
	}
	update_poll(s);
}

/* ---- timers: detach timeout, close grace ---------------------------------- */

static void on_timer(uv_timer_t *t)
{
	struct pty_session *s = t->data;
	if (s->closing) {
		if (!s->child_exited) {
			relay_log(RELAY_LOG_INFO, "%s: still running %ld ms after SIGHUP; SIGKILL",
				  s->id, s->mgr->limits.close_grace_ms);
			kill(-s->pid, SIGKILL);
		}
		return;
	}
	if (s->child_exited && s->eof) {
		relay_log(RELAY_LOG_INFO, "%s: exited and detached for %ld s; forgotten", s->id,
			  s->mgr->limits.detach_timeout_s);
		session_free(s);
		return;
	}
	relay_log(RELAY_LOG_INFO, "%s: detached for %ld s; closing", s->id,
		  s->mgr->limits.detach_timeout_s);
	relay_pty_close(s);
}

static void start_detach_timer(struct pty_session *s)
{
	const struct relay_pty_limits *cfg = &s->mgr->limits;
	if (!s->closing)
		uv_timer_start(&s->timer, on_timer, (uint64_t)cfg->detach_timeout_s * 1000, 0);

	/* Too many detached sessions: close the one detached longest. */
	long detached = 0;
	struct pty_session *oldest = NULL;
	for (struct pty_session *o = s->mgr->sessions; o; o = o->next) {
		if (o->n_attached || o->freeing)
			continue;
		detached++;
		if (!o->closing && (!oldest || o->detached_at_ms < oldest->detached_at_ms))
			oldest = o;
	}
	if (detached > cfg->max_detached && oldest) {
		relay_log(RELAY_LOG_INFO, "%s: more than %ld detached sessions; closing the oldest",
			  oldest->id, cfg->max_detached);
		if (oldest->child_exited)
			session_free(oldest);
		else
			relay_pty_close(oldest);
	}
}

/* ---- reaping ------------------------------------------------------------ */

static void on_sigchld(uv_signal_t *h, int signum)
{
	struct relay_pty *p = h->data;
	struct pty_session *s, *next;
	(void)signum;
	for (s = p->sessions; s; s = next) {
		next = s->next;
		int status;
		if (s->child_exited || waitpid(s->pid, &status, WNOHANG) != s->pid)
			continue;
		s->child_exited = true;
		s->status = status;
		relay_log(RELAY_LOG_INFO, "%s: pid %d %s %d", s->id, (int)s->pid,
			  WIFEXITED(status) ? "exited with" : "killed by signal",
			  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		if (s->closing)
			uv_timer_stop(&s->timer);
		if (!s->n_attached && !s->closing)
			start_detach_timer(s);   /* keep it for an attach, not forever */
		session_service(s);
	}
}

/* ---- spawning ------------------------------------------------------------ */

struct spawn_report {
	int stage;      /* 0 chdir, 1 exec */
	int err;
};

/* The child's environment: ours, TERM, then the client's additions. */
static char **build_env(const char *term, const cJSON *add)
{
	size_t n = 0, cap;
	for (char **e = environ; *e; e++)
		n++;
	cap = n + 2 + (size_t)cJSON_GetArraySize(add);
	char **env = calloc(cap, sizeof *env);
	if (!env)
		return NULL;
	size_t k = 0;
	for (char **e = environ; *e; e++) {
		const cJSON *v;
		size_t klen = strcspn(*e, "=");
		/* TERM is the client's; systemd's variables are tetherd's own and
		 * would mislead a program in the terminal into notifying for it. */
		static const char *const dropped[] = { "TERM", "NOTIFY_SOCKET", "WATCHDOG_USEC",
			"WATCHDOG_PID", "JOURNAL_STREAM", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES" };
		bool replaced = false;
		for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
			replaced |= strlen(dropped[i]) == klen && !strncmp(*e, dropped[i], klen);
		cJSON_ArrayForEach(v, add)
			if (strlen(v->string) == klen && !strncmp(*e, v->string, klen))
				replaced = true;
		if (!replaced)
			env[k++] = strdup(*e);
	}
	if (asprintf(&env[k++], "TERM=%s", term) < 0)
		env[k - 1] = NULL;
	const cJSON *v;
	cJSON_ArrayForEach(v, add)
		if (cJSON_IsString(v) && asprintf(&env[k++], "%s=%s", v->string, v->valuestring) < 0)
			env[k - 1] = NULL;
	env[k] = NULL;
	for (size_t i = 0; i < k; i++)
		if (!env[i]) {   /* a failed allocation: give up whole */
			for (size_t j = 0; j < k; j++)
				free(env[j]);
			free(env);
			return NULL;
		}
	return env;
}

static void free_strv(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

/* Forks the child on a new terminal. The parent waits on a close-on-exec
 * pipe until the exec succeeds or the child reports why it failed, as
 * uv_spawn does; that wait is the length of a fork and an exec. */
static int spawn(struct pty_session *s, const char *file, char **env, char err[RELAY_ERR_MAX])
{
	struct winsize ws = { .ws_row = (unsigned short)s->rows, .ws_col = (unsigned short)s->cols };
	int master, slave, pipefd[2];

	if (openpty(&master, &slave, NULL, NULL, &ws)) {
		snprintf(err, RELAY_ERR_MAX, "openpty: %s", strerror(errno));
		return -errno;
	}
	if (pipe2(pipefd, O_CLOEXEC)) {
		int e = errno;
		close(master);
		close(slave);
		snprintf(err, RELAY_ERR_MAX, "pipe: %s", strerror(e));
		return -e;
	}
	fcntl(master, F_SETFD, FD_CLOEXEC);
	fcntl(slave, F_SETFD, FD_CLOEXEC);
	pid_t pid = fork();
	if (pid == 0) {
		struct spawn_report rep = { 0, 0 };
		sigset_t all;
		setsid();
		ioctl(slave, TIOCSCTTY, 0);
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		/* The daemon ignores SIGPIPE and may block signals; a shell must not
		 * inherit either. */
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		if (chdir(s->cwd)) {
			rep.err = errno;
		} else {
			environ = env;
			rep.stage = 1;
			if (strchr(file, '/'))
				execv(file, s->argv);
			else
				execvp(file, s->argv);
			rep.err = errno;
		}
		ssize_t w = write(pipefd[1], &rep, sizeof rep);
		(void)w;
		_exit(127);
	}
	int fork_err = errno;
	close(slave);
	close(pipefd[1]);
	if (pid < 0) {
		close(master);
		close(pipefd[0]);
		snprintf(err, RELAY_ERR_MAX, "fork: %s", strerror(fork_err));
		return -fork_err;
	}
	struct spawn_report rep;
	ssize_t n;
	do
		n = read(pipefd[0], &rep, sizeof rep);
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == (ssize_t)sizeof rep) {
		waitpid(pid, NULL, 0);   /* it has exited or is exiting: no zombie */
		close(master);
		if (rep.stage == 0)
			snprintf(err, RELAY_ERR_MAX, "chdir %s: %s", s->cwd, strerror(rep.err));
		else
			snprintf(err, RELAY_ERR_MAX, "cannot run %s: %s", file, strerror(rep.err));
		return -rep.err;
	}
	fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
	s->master = master;
	s->pid = pid;
	return 0;
}

int relay_pty_open(struct relay_pty *p, struct relay_conn *c, const struct pty_open_params *op,
		   struct pty_attach **out, char err[RELAY_ERR_MAX])
{
	struct passwd *pw = getpwuid(getuid());
	const char *shell = pw && pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh";
	const char *home = pw && pw->pw_dir ? pw->pw_dir : (getenv("HOME") ? getenv("HOME") : "/");
	struct pty_session *s = calloc(1, sizeof *s);
	char *file = NULL, **env = NULL;
	int rc = -ENOMEM;

	if (!s)
		goto fail;
	s->mgr = p;
	s->master = -1;
	s->cols = op->cols;
	s->rows = op->rows;
	snprintf(s->term, sizeof s->term, "%s", op->term);
	snprintf(s->id, sizeof s->id, "pty-%lu", ++p->next_id);
	relay_iso8601_now(s->created_at, sizeof s->created_at, false);
	if (op->argv) {
		int n = cJSON_GetArraySize(op->argv), i = 0;
		const cJSON *v;
		s->argv = calloc((size_t)n + 1, sizeof *s->argv);
		if (!s->argv)
			goto fail;
		cJSON_ArrayForEach(v, op->argv)
			if (!(s->argv[i++] = strdup(v->valuestring)))
				goto fail;
		file = strdup(s->argv[0]);
	} else {
		/* A login shell, as a terminal emulator starts it: argv[0] "-bash". */
		const char *base = strrchr(shell, '/') ? strrchr(shell, '/') + 1 : shell;
		s->argv = calloc(2, sizeof *s->argv);
		if (!s->argv || asprintf(&s->argv[0], "-%s", base) < 0)
			goto fail;
		file = strdup(shell);
	}
	s->cwd = strdup(op->cwd ? op->cwd : home);
	env = build_env(op->term, op->env);
	if (!file || !s->cwd || !env)
		goto fail;
	rc = spawn(s, file, env, err);
	if (rc)
		goto fail_reported;
	free(file);
	free_strv(env);

	uv_poll_init(p->loop, &s->poll, s->master);
	uv_timer_init(p->loop, &s->timer);
	s->poll.data = s->timer.data = s;
	s->open_handles = 2;
	s->next = p->sessions;
	p->sessions = s;
	p->count++;
	p->changed(p->changed_arg);
	relay_log(RELAY_LOG_INFO, "%s: pid %d %s in %s (%dx%d) for conn %llu", s->id, (int)s->pid,
		  s->argv[0], s->cwd, s->cols, s->rows, (unsigned long long)c->id);
	uint64_t dropped;
	return relay_pty_attach(s, c, 0, op->credit, op->read_only, out, &dropped);

fail:
	snprintf(err, RELAY_ERR_MAX, "out of memory");
fail_reported:
	free(file);
	free_strv(env);
	if (s) {
		free_strv(s->argv);
		free(s->cwd);
		free(s);
	}
	return rc;
}

/* ---- lookups and requests ------------------------------------------------ */

struct pty_session *relay_pty_first(struct relay_pty *p)
{
	return p->sessions;
}

struct pty_session *relay_pty_find(struct relay_pty *p, const char *id)
{
	for (struct pty_session *s = p->sessions; s; s = s->next)
		if (!s->freeing && !strcmp(s->id, id))
			return s;
	return NULL;
}

static const struct relay_chan_ops pty_chan_ops;

struct pty_attach *relay_pty_attached(struct relay_conn *c, const struct pty_session *s)
{
	for (struct relay_chan *ch = c->chans; ch; ch = ch->next) {
		struct pty_attach *a = relay_container_of(ch, struct pty_attach, chan);
		if (ch->ops == &pty_chan_ops && a->s == s)
			return a;
	}
	return NULL;
}

long relay_pty_attachments(struct relay_conn *c)
{
	long n = 0;
	for (struct relay_chan *ch = c->chans; ch; ch = ch->next)
		n += ch->ops == &pty_chan_ops;
	return n;
}

int relay_pty_attach(struct pty_session *s, struct relay_conn *c, int64_t since, uint64_t credit,
		     bool read_only, struct pty_attach **out, uint64_t *dropped)
{
	struct pty_attach *a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	uint64_t oldest = ring_oldest(s);
	uint64_t from = since < 0 ? oldest : (uint64_t)since;
	*dropped = from < oldest ? oldest - from : 0;
	a->s = s;
	relay_chan_add(c, &a->chan, &pty_chan_ops, true);
	a->sent_seq = from < oldest ? oldest : from;
	a->credit = credit;
	a->read_only = read_only;
	a->next_in_session = s->attachments;
	s->attachments = a;
	s->n_attached++;
	s->detached_at_ms = 0;
	if (!s->closing)
		uv_timer_stop(&s->timer);
	*out = a;
	return 0;
}

void relay_pty_service(struct pty_session *s)
{
	session_service(s);
}

void relay_pty_detach(struct pty_attach *a)
{
	struct pty_session *s = a->s;
	attach_end(a);
	session_service(s);
}

int relay_pty_input(struct pty_attach *a, const uint8_t *data, size_t len)
{
	struct pty_session *s = a->s;
	if (a->read_only)
		return -EROFS;
	if (s->eof || s->child_exited)
		return -ESRCH;
	if (s->input_len + len > PTY_MAX_INPUT_BYTES)
		return -ENOBUFS;
	if (!s->input_len) {
		/* The common case: the child reads; no copy. */
		ssize_t n;
		do
			n = write(s->master, data, len);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -ESRCH;
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		}
		if (!len)
			return 0;
	}
	uint8_t *ni = realloc(s->input, s->input_len + len);
	if (!ni)
		return -ENOMEM;
	s->input = ni;
	memcpy(s->input + s->input_len, data, len);
	s->input_len += len;
	update_poll(s);
	return 0;
}

int relay_pty_grant(struct pty_attach *a, uint64_t bytes)
{
	if (a->credit + bytes > (uint64_t)PTY_MAX_CREDIT)
		return -ERANGE;
	a->credit += bytes;
	session_service(a->s);
	return 0;
}

int relay_pty_resize(struct pty_session *s, int cols, int rows)
{
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
	if (s->child_exited || s->eof)
		return -ESRCH;
	if (ioctl(s->master, TIOCSWINSZ, &ws))   /* the kernel sends SIGWINCH */
		return -errno;
	s->cols = cols;
	s->rows = rows;
	return 0;
}

int relay_pty_signal(struct pty_session *s, int sig, pid_t *pgid)
{
	if (s->child_exited)
		return -ESRCH;
	pid_t fg = tcgetpgrp(s->master);
	*pgid = fg > 0 ? fg : s->pid;
	return kill(-*pgid, sig) ? -errno : 0;
}

void relay_pty_close(struct pty_session *s)
{
	if (s->closing || s->freeing)
		return;
	s->closing = true;
	if (s->child_exited) {
		uv_timer_stop(&s->timer);
		session_service(s);
		return;
	}
	/* The whole process group, as a terminal hang-up does. */
	kill(-s->pid, SIGHUP);
	kill(-s->pid, SIGCONT);
	uv_timer_start(&s->timer, on_timer, (uint64_t)s->mgr->limits.close_grace_ms, 0);
}

cJSON *relay_pty_describe(const struct pty_session *s, const struct relay_conn *viewer)
{
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "session", s->id);
	cJSON_AddNumberToObject(d, "pid", s->pid);
	cJSON *argv = cJSON_AddArrayToObject(d, "argv");
	for (char **a = s->argv; *a; a++)
		cJSON_AddItemToArray(argv, cJSON_CreateString(*a));
	cJSON_AddStringToObject(d, "cwd", s->cwd);
	cJSON_AddNumberToObject(d, "cols", s->cols);
	cJSON_AddNumberToObject(d, "rows", s->rows);
	cJSON_AddStringToObject(d, "term", s->term);
	cJSON_AddStringToObject(d, "state", s->child_exited ? "exited" : "running");
	if (s->child_exited) {
		if (WIFEXITED(s->status))
			cJSON_AddNumberToObject(d, "exit_code", WEXITSTATUS(s->status));
		else
			cJSON_AddStringToObject(d, "signal", sigabbrev_np(WTERMSIG(s->status)));
	}
	cJSON_AddNumberToObject(d, "attached", s->n_attached);
	bool here = false;
	for (const struct pty_attach *a = s->attachments; a; a = a->next_in_session)
		here |= a->chan.conn == viewer;
	cJSON_AddBoolToObject(d, "attached_here", here);
	if (!s->n_attached)
		cJSON_AddNumberToObject(d, "detached_s",
					(double)((relay_now_ms() - s->detached_at_ms) / 1000));
	cJSON_AddNumberToObject(d, "seq", (double)s->total);
	cJSON_AddNumberToObject(d, "retained", (double)(s->total - ring_oldest(s)));
	cJSON_AddStringToObject(d, "created_at", s->created_at);
	return d;
}

/* The connection goes: the session goes on, detached when this was its last. */
static void chan_gone(struct relay_chan *ch)
{
	struct pty_attach *a = relay_container_of(ch, struct pty_attach, chan);
	struct pty_session *s = a->s;
	attach_end(a);
	session_service(s);
}

/* The connection's queue has room again: send what waited for it. */
static void chan_drained(struct relay_chan *ch)
{
	session_service(relay_container_of(ch, struct pty_attach, chan)->s);
}

static const struct relay_chan_ops pty_chan_ops = {
	.kind = "pty",
	.input = relay_pty_input_frame,
	.drained = chan_drained,
	.gone = chan_gone,
};

/* ---- lifetime ------------------------------------------------------------ */

static void handle_closed(uv_handle_t *h)
{
	struct pty_session *s = h->data;
	if (--s->open_handles)
		return;
	close(s->master);
	free(s->ring);
	free(s->input);
	free_strv(s->argv);
	free(s->cwd);
	free(s);
}

static void session_free(struct pty_session *s)
{
	struct relay_pty *p = s->mgr;
	struct pty_session **pp;

	if (s->freeing)
		return;
	s->freeing = true;
	while (s->attachments)
		attach_unlink(s->attachments);
	for (pp = &p->sessions; *pp != s; pp = &(*pp)->next)
		;
	*pp = s->next;
	p->count--;
	p->changed(p->changed_arg);
	if (!s->child_exited)
		kill(-s->pid, SIGHUP);    /* its terminal goes away now */
	relay_log(RELAY_LOG_DEBUG, "%s: freed", s->id);
	uv_close((uv_handle_t *)&s->poll, handle_closed);
	uv_close((uv_handle_t *)&s->timer, handle_closed);
}

static void sigchld_closed(uv_handle_t *h)
{
	struct relay_pty *p = h->data;
	p->sigchld_closed = true;
}

/* Hangs up and forgets every session. */
static void pty_shutdown(struct relay_module *m)
{
	struct relay_pty *p = relay_container_of(m, struct relay_pty, module);
	if (uv_is_closing((uv_handle_t *)&p->sigchld))
		return;
	while (p->sessions)
		session_free(p->sessions);   /* each child gets SIGHUP */
	uv_close((uv_handle_t *)&p->sigchld, sigchld_closed);
}

static bool pty_stopped(struct relay_module *m)
{
	struct relay_pty *p = relay_container_of(m, struct relay_pty, module);
	return p->sigchld_closed && !p->sessions;
}

static void pty_free(struct relay_module *m)
{
	free(relay_container_of(m, struct relay_pty, module));
}

static void pty_status(struct relay_module *m, cJSON *status)
{
	struct relay_pty *p = relay_container_of(m, struct relay_pty, module);
	cJSON *pty = cJSON_AddObjectToObject(status, "pty");
	cJSON_AddNumberToObject(pty, "sessions", (double)p->count);
	cJSON_AddNumberToObject(pty, "max", (double)p->limits.max_sessions);
}

static void pty_summary(struct relay_module *m, char *buf, size_t len)
{
	struct relay_pty *p = relay_container_of(m, struct relay_pty, module);
	snprintf(buf, len, "%ld terminal%s", p->count, p->count == 1 ? "" : "s");
}

static const struct relay_module_ops pty_module_ops = {
	.name = "pty",
	.capability = pty_capability,
	.status = pty_status,
	.summary = pty_summary,
	.shutdown = pty_shutdown,
	.stopped = pty_stopped,
	.free = pty_free,
};

int relay_pty_new(uv_loop_t *loop, const struct relay_pty_limits *limits,
		  void (*changed)(void *arg), void *arg, struct relay_module **out)
{
	struct relay_pty *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->module.ops = &pty_module_ops;
	p->loop = loop;
	p->limits = *limits;
	p->changed = changed;
	p->changed_arg = arg;
	uv_signal_init(loop, &p->sigchld);
	p->sigchld.data = p;
	uv_signal_start(&p->sigchld, on_sigchld, SIGCHLD);
	*out = &p->module;
	return 0;
}
