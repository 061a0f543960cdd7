/* The terminal requests (docs/protocol.md, "Terminals"): validation here,
 * the work in pty.c. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define PTY_SIZE_MAX 1000
#define ARGV_MAX 256
#define STRING_MAX 4096

/* An optional string of 1..max bytes with no control characters. */
static bool string_field(struct relay_conn *c, const cJSON *req, const cJSON *id,
			 const char *type, const char *name, size_t max, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
	if (!v)
		return true;
	bool ok = cJSON_IsString(v) && *v->valuestring && strlen(v->valuestring) <= max;
	for (const char *p = ok ? v->valuestring : ""; *p; p++)
		ok &= (unsigned char)*p >= 0x20;
	if (!ok) {
		relay_proto_error(c, id, "invalid_field", name, type,
				  "\"%s\" must be a string of 1 to %zu bytes without control "
				  "characters", name, max);
		return false;
	}
	*out = v->valuestring;
	return true;
}

/* The session named by "session" (required). Sends the error itself. */
static struct pty_session *session_field(struct relay_conn *c, const cJSON *req,
					 const cJSON *id, const char *type)
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
	struct pty_session *s = relay_pty_find(relay_server_pty(c->srv), v->valuestring);
	if (!s)
		relay_proto_error(c, id, "unknown_session", "session", type, "no session \"%.*s\"",
				  relay_utf8_prefix(v->valuestring, 64), v->valuestring);
	return s;
}

/* The session, for a request that acts on it: a read-only attachment may not. */
static struct pty_session *writable_session(struct relay_conn *c, const cJSON *req,
					    const cJSON *id, const char *type)
{
	struct pty_session *s = session_field(c, req, id, type);
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
	cJSON_AddNumberToObject(reply, "channel", a->channel);
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

void relay_msg_pty_open(struct relay_conn *c, const cJSON *req, const cJSON *id)
{
	const struct relay_config *cfg = relay_server_config(c->srv);
	struct relay_pty *p = relay_server_pty(c->srv);
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
	if (!string_field(c, req, id, "pty.open", "cwd", STRING_MAX, &op.cwd) ||
	    !string_field(c, req, id, "pty.open", "term", 64, &op.term) ||
	    !relay_proto_int_field(c, req, id, "pty.open", "cols", 1, PTY_SIZE_MAX, &cols) ||
	    !relay_proto_int_field(c, req, id, "pty.open", "rows", 1, PTY_SIZE_MAX, &rows) ||
	    !relay_proto_int_field(c, req, id, "pty.open", "credit", 0, PTY_MAX_CREDIT, &credit) ||
	    !relay_proto_bool_field(c, req, id, "pty.open", "read_only", &op.read_only))
		return;
	long mine = 0;
	for (const struct pty_attach *a = c->attachments; a; a = a->next_in_conn)
		mine++;
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

void relay_msg_pty_attach(struct relay_conn *c, const cJSON *req, const cJSON *id)
{
	const struct relay_config *cfg = relay_server_config(c->srv);
	double since = -1, credit = (double)cfg->default_credit;
	bool read_only = false;
	struct pty_session *s = session_field(c, req, id, "pty.attach");
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

/* The attachment of the named session on this connection, for requests
 * that act on this connection's own channel. */
static struct pty_attach *own_attachment(struct relay_conn *c, const cJSON *req,
					 const cJSON *id, const char *type)
{
	struct pty_session *s = session_field(c, req, id, type);
	struct pty_attach *a = s ? relay_pty_attached(c, s) : NULL;
	if (s && !a)
		relay_proto_error(c, id, "unknown_session", "session", type,
				  "%s is not attached on this connection", s->id);
	return a;
}

void relay_msg_pty_detach(struct relay_conn *c, const cJSON *req, const cJSON *id)
{
	struct pty_attach *a = own_attachment(c, req, id, "pty.detach");
	if (!a)
		return;
	cJSON *reply = relay_proto_reply("pty.detach", id);
	cJSON_AddStringToObject(reply, "session", a->s->id);
	relay_conn_send_json(c, reply);
	relay_pty_detach(a);
}

void relay_msg_pty_credit(struct relay_conn *c, const cJSON *req, const cJSON *id)
{
	double bytes = 0;
	struct pty_attach *a = own_attachment(c, req, id, "pty.credit");
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

void relay_msg_pty_resize(struct relay_conn *c, const cJSON *req, const cJSON *id)
{
	double cols = -1, rows = -1;
	struct pty_session *s = writable_session(c, req, id, "pty.resize");
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

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
	{ "TERM", SIGTERM }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "CONT", SIGCONT },
	{ "STOP", SIGSTOP }, { "TSTP", SIGTSTP }, { "WINCH", SIGWINCH }, { "ALRM", SIGALRM },
};

void relay_msg_pty_signal(struct relay_conn *c, const cJSON *req, const cJSON *id)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "signal");
	struct pty_session *s = writable_session(c, req, id, "pty.signal");
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

void relay_msg_pty_close(struct relay_conn *c, const cJSON *req, const cJSON *id)
{
	struct pty_session *s = writable_session(c, req, id, "pty.close");
	if (!s)
		return;
	cJSON *reply = relay_proto_reply("pty.close", id);
	cJSON_AddStringToObject(reply, "session", s->id);
	relay_conn_send_json(c, reply);
	relay_pty_close(s);
}

void relay_msg_pty_list(struct relay_conn *c, const cJSON *req, const cJSON *id)
{
	(void)req;
	cJSON *reply = relay_proto_reply("pty.list", id);
	cJSON *list = cJSON_AddArrayToObject(reply, "sessions");
	struct relay_pty *p = relay_server_pty(c->srv);
	for (struct pty_session *s = relay_pty_first(p); s; s = s->next)
		if (!s->freeing)
			cJSON_AddItemToArray(list, relay_pty_describe(s, c));
	relay_conn_send_json(c, reply);
}

void relay_pty_binary(struct relay_conn *c, uint32_t channel, const uint8_t *data, size_t len)
{
	struct pty_attach *a = relay_pty_channel(c, channel);
	if (!a) {
		relay_proto_error(c, NULL, "unknown_channel", NULL, NULL, "channel %u is not open",
				  channel);
		return;
	}
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
