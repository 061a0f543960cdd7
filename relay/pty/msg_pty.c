/* The terminal requests (docs/protocol.md, "Terminals"): validation here,
 * the work in pty.c. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pty_internal.h"

#define PTY_SIZE_MAX 1000
#define ARGV_MAX 256
#define STRING_MAX 4096

static const char *const session_fields[] = { "session", NULL };
static const char *const no_fields[] = { NULL };

/* The session named by "session" (required). Sends the error itself. */
static struct pty_session *session_field(struct relay_pty *p, struct relay_conn *c,
					 const cJSON *req, const cJSON *id, const char *type)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "session");
	if (!v) {
		relay_proto_error(c, id, "missing_field", "session", type, "\"%s\" needs \"session\"",
				  type);
		return NULL;
	}
	if (!cJSON_IsString(v)) {
		relay_proto_error(c, id, "invalid_field", "session", type,
				  "\"session\" must be a string");
		return NULL;
	}
	struct pty_session *s = relay_pty_find(p, v->valuestring);
	if (!s)
		relay_proto_error(c, id, "unknown_session", "session", type, "no session \"%.*s\"",
				  relay_utf8_prefix(v->valuestring, 64), v->valuestring);
	return s;
}

/* The session, for a request that acts on it: a read-only attachment may not. */
static struct pty_session *writable_session(struct relay_pty *p, struct relay_conn *c,
					    const cJSON *req, const cJSON *id, const char *type)
{
	struct pty_session *s = session_field(p, c, req, id, type);
	struct pty_attach *a = s ? relay_pty_attached(c, s) : NULL;
	if (a && a->read_only) {
		relay_proto_error(c, id, "read_only", "session", type,
				  "this connection is attached to %s read-only", s->id);
		return NULL;
	}
	return s;
}

static void add_attachment(cJSON *reply, const struct pty_attach *a)
{
	const struct pty_session *s = a->s;
	cJSON_AddStringToObject(reply, "session", s->id);
	cJSON_AddNumberToObject(reply, "channel", a->chan.id);
	cJSON_AddNumberToObject(reply, "pid", s->pid);
	cJSON_AddNumberToObject(reply, "cols", s->cols);
	cJSON_AddNumberToObject(reply, "rows", s->rows);
	cJSON_AddNumberToObject(reply, "seq", (double)a->sent_seq);
	cJSON_AddNumberToObject(reply, "credit", (double)a->credit);
	cJSON_AddBoolToObject(reply, "read_only", a->read_only);
}

static bool check_env(struct relay_conn *c, const cJSON *id, const cJSON *env)
{
	const cJSON *v;
	if (!cJSON_IsObject(env))
		goto bad;
	cJSON_ArrayForEach(v, env) {
		if (!*v->string || strchr(v->string, '=') || (!cJSON_IsString(v) && !cJSON_IsNull(v)))
			goto bad;
	}
	return true;
bad:
	relay_proto_error(c, id, "invalid_field", "env", "pty.open",
			  "\"env\" must map names (no '=') to strings, or to null to remove them");
	return false;
}

static void msg_open(struct relay_module *m, struct relay_conn *c, const cJSON *req,
		      const cJSON *id)
{
	struct relay_pty *p = relay_container_of(m, struct relay_pty, module);
	const struct relay_pty_limits *cfg = &p->limits;
	struct pty_open_params op = { .term = "xterm-256color" };
	double cols = 80, rows = 24, credit = (double)cfg->default_credit;
	const cJSON *argv = cJSON_GetObjectItemCaseSensitive(req, "argv");
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(req, "env");
	char err[RELAY_ERR_MAX];

	if (argv) {
		const cJSON *v;
		int n = cJSON_GetArraySize(argv);
		bool ok = cJSON_IsArray(argv) && n >= 1 && n <= ARGV_MAX;
		for (v = ok ? argv->child : NULL; v; v = v->next)
			ok &= cJSON_IsString(v) && strlen(v->valuestring) <= STRING_MAX;
		if (!ok || !*argv->child->valuestring) {
			relay_proto_error(c, id, "invalid_field", "argv", "pty.open",
					  "\"argv\" must be an array of 1 to %d strings, the first "
					  "not empty", ARGV_MAX);
			return;
		}
		op.argv = argv;
	}
	if (env && !check_env(c, id, env))
		return;
	op.env = env;
	if (!relay_proto_string_field(c, req, id, "pty.open", "cwd", STRING_MAX, false, &op.cwd) ||
	    !relay_proto_string_field(c, req, id, "pty.open", "term", 64, false, &op.term) ||
	    !relay_proto_int_field(c, req, id, "pty.open", "cols", 1, PTY_SIZE_MAX, &cols) ||
	    !relay_proto_int_field(c, req, id, "pty.open", "rows", 1, PTY_SIZE_MAX, &rows) ||
	    !relay_proto_int_field(c, req, id, "pty.open", "credit", 0, PTY_MAX_CREDIT, &credit) ||
	    !relay_proto_bool_field(c, req, id, "pty.open", "read_only", &op.read_only))
		return;
	long mine = relay_pty_attachments(c);
	if (relay_pty_count(p) >= cfg->max_sessions || mine >= cfg->max_sessions_per_connection) {
		relay_proto_error(c, id, "too_many_sessions", NULL, "pty.open",
				  "%ld sessions are open (max_sessions %ld), %ld on this connection "
				  "(max_sessions_per_connection %ld)", relay_pty_count(p),
				  cfg->max_sessions, mine, cfg->max_sessions_per_connection);
		return;
	}
	op.cols = (int)cols;
	op.rows = (int)rows;
	op.credit = (uint64_t)credit;
	struct pty_attach *a;
	if (relay_pty_open(p, c, &op, &a, err)) {
		relay_log(RELAY_LOG_INFO, "conn %llu: pty.open failed: %s", (unsigned long long)c->id,
			  err);
		relay_proto_error(c, id, "spawn_failed", NULL, "pty.open", "%s", err);
		return;
	}
	cJSON *reply = relay_proto_reply("pty.open", id);
	add_attachment(reply, a);
	cJSON *args = cJSON_AddArrayToObject(reply, "argv");
	for (char **s = a->s->argv; *s; s++)
		cJSON_AddItemToArray(args, cJSON_CreateString(*s));
	cJSON_AddStringToObject(reply, "cwd", a->s->cwd);
	cJSON_AddStringToObject(reply, "term", a->s->term);
	relay_conn_send_json(c, reply);
	relay_pty_service(a->s);
}

static const char *const pty_open_fields[] = { "argv", "cwd", "env", "cols", "rows", "term", "credit", "read_only", NULL };
const struct relay_msg relay_msg_pty_open = { "pty.open", "pty", pty_open_fields, msg_open };

static void msg_attach(struct relay_module *m, struct relay_conn *c, const cJSON *req,
		        const cJSON *id)
{
	struct relay_pty *p = relay_container_of(m, struct relay_pty, module);
	const struct relay_pty_limits *cfg = &p->limits;
	double since = -1, credit = (double)cfg->default_credit;
	bool read_only = false;
	struct pty_session *s = session_field(p, c, req, id, "pty.attach");
	if (!s || !relay_proto_int_field(c, req, id, "pty.attach", "since", 0, (double)s->total, &since) ||
	    !relay_proto_int_field(c, req, id, "pty.attach", "credit", 0, PTY_MAX_CREDIT, &credit) ||
	    !relay_proto_bool_field(c, req, id, "pty.attach", "read_only", &read_only))
		return;
	if (relay_pty_attached(c, s)) {
		relay_proto_error(c, id, "already_attached", "session", "pty.attach",
				  "%s is already attached on this connection", s->id);
		return;
	}
	struct pty_attach *a;
	uint64_t dropped;
	if (relay_pty_attach(s, c, (int64_t)since, (uint64_t)credit, read_only, &a, &dropped)) {
		relay_proto_error(c, id, "internal", NULL, "pty.attach", "out of memory");
		return;
	}
	cJSON *reply = relay_proto_reply("pty.attach", id);
	add_attachment(reply, a);
	cJSON_AddNumberToObject(reply, "dropped", (double)dropped);
	cJSON_AddNumberToObject(reply, "end_seq", (double)s->total);
	cJSON_AddStringToObject(reply, "state", s->child_exited ? "exited" : "running");
	relay_conn_send_json(c, reply);
	relay_pty_service(s);
}

static const char *const pty_attach_fields[] = { "session", "since", "credit", "read_only", NULL };
const struct relay_msg relay_msg_pty_attach = { "pty.attach", "pty", pty_attach_fields, msg_attach };

/* The attachment of the named session on this connection, for requests
 * that act on this connection's own channel. */
static struct pty_attach *own_attachment(struct relay_pty *p, struct relay_conn *c,
					 const cJSON *req, const cJSON *id, const char *type)
{
	struct pty_session *s = session_field(p, c, req, id, type);
	struct pty_attach *a = s ? relay_pty_attached(c, s) : NULL;
	if (s && !a)
		relay_proto_error(c, id, "unknown_session", "session", type,
				  "%s is not attached on this connection", s->id);
	return a;
}

static void msg_detach(struct relay_module *m, struct relay_conn *c, const cJSON *req,
		        const cJSON *id)
{
	struct relay_pty *p = relay_container_of(m, struct relay_pty, module);
	struct pty_attach *a = own_attachment(p, c, req, id, "pty.detach");
	if (!a)
		return;
	cJSON *reply = relay_proto_reply("pty.detach", id);
	cJSON_AddStringToObject(reply, "session", a->s->id);
	relay_conn_send_json(c, reply);
	relay_pty_detach(a);
}

const struct relay_msg relay_msg_pty_detach = { "pty.detach", "pty", session_fields, msg_detach };

static void msg_credit(struct relay_module *m, struct relay_conn *c, const cJSON *req,
		        const cJSON *id)
{
	struct relay_pty *p = relay_container_of(m, struct relay_pty, module);
	double bytes = 0;
	struct pty_attach *a = own_attachment(p, c, req, id, "pty.credit");
	if (!a)
		return;
	if (!cJSON_GetObjectItemCaseSensitive(req, "bytes")) {
		relay_proto_error(c, id, "missing_field", "bytes", "pty.credit",
				  "pty.credit needs \"bytes\"");
		return;
	}
	if (!relay_proto_int_field(c, req, id, "pty.credit", "bytes", 1, PTY_MAX_CREDIT, &bytes))
		return;
	struct pty_session *s = a->s;
	if (a->credit + (uint64_t)bytes > (uint64_t)PTY_MAX_CREDIT) {
		relay_proto_error(c, id, "invalid_field", "bytes", "pty.credit",
				  "credit would be %.0f, over the maximum %ld",
				  (double)a->credit + bytes, PTY_MAX_CREDIT);
		return;
	}
	cJSON *reply = relay_proto_reply("pty.credit", id);
	cJSON_AddStringToObject(reply, "session", s->id);
	cJSON_AddNumberToObject(reply, "credit", (double)(a->credit + (uint64_t)bytes));
	relay_conn_send_json(c, reply);
	relay_pty_grant(a, (uint64_t)bytes);
}

static const char *const credit_fields[] = { "session", "bytes", NULL };
const struct relay_msg relay_msg_pty_credit = { "pty.credit", "pty", credit_fields, msg_credit };

static void msg_resize(struct relay_module *m, struct relay_conn *c, const cJSON *req,
		        const cJSON *id)
{
	struct relay_pty *p = relay_container_of(m, struct relay_pty, module);
	double cols = -1, rows = -1;
	struct pty_session *s = writable_session(p, c, req, id, "pty.resize");
	if (!s || !relay_proto_int_field(c, req, id, "pty.resize", "cols", 1, PTY_SIZE_MAX, &cols) ||
	    !relay_proto_int_field(c, req, id, "pty.resize", "rows", 1, PTY_SIZE_MAX, &rows))
		return;
	if (cols < 0 || rows < 0) {
		relay_proto_error(c, id, "missing_field", cols < 0 ? "cols" : "rows", "pty.resize",
				  "pty.resize needs \"cols\" and \"rows\"");
		return;
	}
	int rc = relay_pty_resize(s, (int)cols, (int)rows);
	if (rc) {
		relay_proto_error(c, id, "session_exited", "session", "pty.resize",
				  "%s has exited", s->id);
		return;
	}
	cJSON *reply = relay_proto_reply("pty.resize", id);
	cJSON_AddStringToObject(reply, "session", s->id);
	cJSON_AddNumberToObject(reply, "cols", cols);
	cJSON_AddNumberToObject(reply, "rows", rows);
	relay_conn_send_json(c, reply);
}

static const char *const resize_fields[] = { "session", "cols", "rows", NULL };
const struct relay_msg relay_msg_pty_resize = { "pty.resize", "pty", resize_fields, msg_resize };

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
	{ "TERM", SIGTERM }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "CONT", SIGCONT },
	{ "STOP", SIGSTOP }, { "TSTP", SIGTSTP }, { "WINCH", SIGWINCH }, { "ALRM", SIGALRM },
};

static void msg_signal(struct relay_module *m, struct relay_conn *c, const cJSON *req,
		        const cJSON *id)
{
	struct relay_pty *p = relay_container_of(m, struct relay_pty, module);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "signal");
	struct pty_session *s = writable_session(p, c, req, id, "pty.signal");
	if (!s)
		return;
	const char *name = cJSON_GetStringValue(v);
	int sig = 0;
	if (name && !strncmp(name, "SIG", 3))
		name += 3;
	for (size_t i = 0; name && i < sizeof signals / sizeof signals[0]; i++)
		if (!strcmp(name, signals[i].name))
			sig = signals[i].sig;
	if (!sig) {
		relay_proto_error(c, id, v ? "invalid_field" : "missing_field", "signal", "pty.signal",
				  "\"signal\" must be one of HUP INT QUIT KILL TERM USR1 USR2 CONT "
				  "STOP TSTP WINCH ALRM");
		return;
	}
	pid_t pgid;
	if (relay_pty_signal(s, sig, &pgid)) {
		relay_proto_error(c, id, "session_exited", "session", "pty.signal",
				  "%s has exited", s->id);
		return;
	}
	cJSON *reply = relay_proto_reply("pty.signal", id);
	cJSON_AddStringToObject(reply, "session", s->id);
	cJSON_AddStringToObject(reply, "signal", name);
	cJSON_AddNumberToObject(reply, "pgid", pgid);
	relay_conn_send_json(c, reply);
}

static const char *const signal_fields[] = { "session", "signal", NULL };
const struct relay_msg relay_msg_pty_signal = { "pty.signal", "pty", signal_fields, msg_signal };

static void msg_close(struct relay_module *m, struct relay_conn *c, const cJSON *req,
		       const cJSON *id)
{
	struct relay_pty *p = relay_container_of(m, struct relay_pty, module);
	struct pty_session *s = writable_session(p, c, req, id, "pty.close");
	if (!s)
		return;
	cJSON *reply = relay_proto_reply("pty.close", id);
	cJSON_AddStringToObject(reply, "session", s->id);
	relay_conn_send_json(c, reply);
	relay_pty_close(s);
}

const struct relay_msg relay_msg_pty_close = { "pty.close", "pty", session_fields, msg_close };

static void msg_list(struct relay_module *m, struct relay_conn *c, const cJSON *req,
		      const cJSON *id)
{
	struct relay_pty *p = relay_container_of(m, struct relay_pty, module);
	(void)req;
	cJSON *reply = relay_proto_reply("pty.list", id);
	cJSON *list = cJSON_AddArrayToObject(reply, "sessions");
	for (struct pty_session *s = relay_pty_first(p); s; s = s->next)
		if (!s->freeing)
			cJSON_AddItemToArray(list, relay_pty_describe(s, c));
	relay_conn_send_json(c, reply);
}

const struct relay_msg relay_msg_pty_list = { "pty.list", "pty", no_fields, msg_list };

void relay_pty_input_frame(struct relay_chan *ch, const uint8_t *data, size_t len)
{
	struct pty_attach *a = relay_container_of(ch, struct pty_attach, chan);
	struct relay_conn *c = ch->conn;
	uint32_t channel = ch->id;
	switch (relay_pty_input(a, data, len)) {
	case 0:
		return;
	case -EROFS:
		relay_proto_error(c, NULL, "read_only", NULL, NULL,
				  "channel %u is attached read-only", channel);
		return;
	case -ENOBUFS:
		relay_proto_error(c, NULL, "input_overflow", NULL, NULL,
				  "%s: over %d bytes of input wait for a child that does not read; "
				  "%zu bytes dropped", a->s->id, PTY_MAX_INPUT_BYTES, len);
		return;
	default:
		relay_proto_error(c, NULL, "session_exited", NULL, NULL,
				  "%s has exited; input on channel %u dropped", a->s->id, channel);
		return;
	}
}
