/* Agent hooks: subscriptions, hooks waiting for a decision, and the history
 * (docs/protocol.md, "Agent hooks"). First valid answer wins. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "hooks.h"

#define HISTORY_MAX 200
#define HISTORY_INPUT_BYTES (4u << 20)
#define MAX_PENDING 1024
#define NAME_MAX_BYTES 64
#define REASON_MAX 4096

/* What a connection asked for with hooks.subscribe. */
struct hook_sub {
	bool all_events;
	int n_events, n_tools;
	char events[64][NAME_MAX_BYTES + 1];
	char tools[64][NAME_MAX_BYTES + 1];
};

/* A connection that has subscribed or called: its channel tells us when it
 * goes, so its waiting hooks are resolved and it is taken off their lists. */
struct hook_peer {
	struct relay_chan chan;
	struct relay_hooks *mgr;         /* borrowed */
	struct hook_peer *next;          /* the module's list */
	struct hook_sub *sub;            /* owned; NULL: not subscribed */
};

struct hook_pending {
	struct relay_hooks *mgr;         /* borrowed */
	struct hook_pending *next;
	char id[24];                     /* "h-N" */
	struct relay_conn *caller;       /* borrowed; NULL once it has gone */
	cJSON *caller_id;                /* owned copy of the hook.call id */
	char event[NAME_MAX_BYTES + 1];
	char agent[NAME_MAX_BYTES + 1];
	char tool_name[NAME_MAX_BYTES + 1];
	char *input_json;                /* owned: the agent's text, unchanged */
	uv_timer_t timer;
	struct relay_conn **subs;        /* owned array; the subscribers it went to */
	int n_subs;
	uint64_t started_ms;
};

struct hook_record {
	char id[24];
	char event[NAME_MAX_BYTES + 1];
	char agent[NAME_MAX_BYTES + 1];
	char tool_name[NAME_MAX_BYTES + 1];
	char at[64];
	char decision[16];               /* "" = none */
	const char *why;                 /* static text or NULL */
	uint64_t latency_ms;
	char *input_json;                /* owned */
};

struct relay_hooks {
	struct relay_module module;
	uv_loop_t *loop;                 /* borrowed */
	struct hook_peer *peers;
	long n_peers;
	struct hook_pending *pending;
	long n_pending;
	unsigned long next_id;
	long closing_timers;             /* timers of resolved hooks not yet closed */
	struct hook_record history[HISTORY_MAX];   /* a ring */
	int hist_first, hist_len;
	size_t hist_bytes;
};

static const char *const decisions[] = { "allow", "deny", "ask", "block", "halt", "passthrough" };

static cJSON *hooks_capability(struct relay_module *m)
{
	(void)m;
	cJSON *cap = cJSON_CreateObject();
	cJSON_AddItemToObject(cap, "decisions", cJSON_CreateStringArray(decisions, 6));
	cJSON_AddNumberToObject(cap, "history", HISTORY_MAX);
	cJSON_AddNumberToObject(cap, "max_pending", MAX_PENDING);
	return cap;
}

/* Which decisions an event takes (Claude Code's events; others: halt, passthrough). */
static bool decision_allowed(const char *event, const char *d)
{
	if (!strcmp(d, "halt") || !strcmp(d, "passthrough"))
		return true;
	if (!strcmp(event, "PreToolUse"))
		return !strcmp(d, "allow") || !strcmp(d, "deny") || !strcmp(d, "ask");
	if (!strcmp(event, "PermissionRequest"))
		return !strcmp(d, "allow") || !strcmp(d, "deny");
	if (!strcmp(event, "UserPromptSubmit") || !strcmp(event, "Stop") ||
	    !strcmp(event, "SubagentStop") || !strcmp(event, "PostToolUse"))
		return !strcmp(d, "block");
	return false;
}

/* ---- history -------------------------------------------------------------- */

static void history_drop_oldest(struct relay_hooks *h)
{
	struct hook_record *r = &h->history[h->hist_first];
	h->hist_bytes -= strlen(r->input_json);
	free(r->input_json);
	h->hist_first = (h->hist_first + 1) % HISTORY_MAX;
	h->hist_len--;
}

static void history_add(struct hook_pending *p, const char *decision, const char *why)
{
	struct relay_hooks *h = p->mgr;
	size_t len = strlen(p->input_json);
	if (len > HISTORY_INPUT_BYTES)
		return;   /* cannot fit; the hook itself went through */
	while (h->hist_len && (h->hist_len == HISTORY_MAX || h->hist_bytes + len > HISTORY_INPUT_BYTES))
		history_drop_oldest(h);
	struct hook_record *r = &h->history[(h->hist_first + h->hist_len) % HISTORY_MAX];
	char *copy = strdup(p->input_json);
	if (!copy)
		return;
	memset(r, 0, sizeof *r);
	snprintf(r->id, sizeof r->id, "%s", p->id);
	snprintf(r->event, sizeof r->event, "%s", p->event);
	snprintf(r->agent, sizeof r->agent, "%s", p->agent);
	snprintf(r->tool_name, sizeof r->tool_name, "%s", p->tool_name);
	snprintf(r->decision, sizeof r->decision, "%s", decision ? decision : "");
	r->why = why;
	r->latency_ms = relay_now_ms() - p->started_ms;
	r->input_json = copy;
	relay_iso8601_now(r->at, sizeof r->at, true);
	h->hist_len++;
	h->hist_bytes += len;
}

static cJSON *history_list(struct relay_hooks *h, int limit)
{
	cJSON *list = cJSON_CreateArray();
	int skip = h->hist_len > limit ? h->hist_len - limit : 0;
	for (int i = skip; i < h->hist_len; i++) {
		const struct hook_record *r = &h->history[(h->hist_first + i) % HISTORY_MAX];
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "hook", r->id);
		cJSON_AddStringToObject(e, "event", r->event);
		cJSON_AddStringToObject(e, "agent", r->agent);
		if (*r->tool_name)
			cJSON_AddStringToObject(e, "tool_name", r->tool_name);
		cJSON_AddStringToObject(e, "at", r->at);
		if (*r->decision)
			cJSON_AddStringToObject(e, "decision", r->decision);
		else
			cJSON_AddNullToObject(e, "decision");
		if (r->why)
			cJSON_AddStringToObject(e, "why", r->why);
		else
			cJSON_AddNullToObject(e, "why");
		cJSON_AddNumberToObject(e, "latency_ms", (double)r->latency_ms);
		cJSON_AddItemToObject(e, "input", cJSON_CreateRaw(r->input_json));
		cJSON_AddItemToArray(list, e);
	}
	return list;
}

/* ---- resolving ------------------------------------------------------------ */

static void timer_closed(uv_handle_t *t)
{
	struct hook_pending *p = t->data;
	p->mgr->closing_timers--;
	cJSON_Delete(p->caller_id);
	free(p->input_json);
	free(p->subs);
	free(p);
}

/* Ends a hook: the answer (or null and why) to the caller, hooks.resolved to
 * the subscribers that did not decide, a history record. answer holds
 * decision, reason, updated_input (borrowed) or is NULL. */
static void resolve(struct hook_pending *p, const cJSON *answer, const char *why,
		    struct relay_conn *decider)
{
	struct relay_hooks *h = p->mgr;
	const char *decision = answer ? cJSON_GetStringValue(cJSON_GetObjectItem(answer, "decision"))
				      : NULL;

	if (p->caller) {
		cJSON *reply = relay_proto_reply("hook.call", p->caller_id);
		cJSON_AddStringToObject(reply, "hook", p->id);
		if (decision) {
			cJSON_AddStringToObject(reply, "decision", decision);
			const cJSON *reason = cJSON_GetObjectItem(answer, "reason");
			const cJSON *updated = cJSON_GetObjectItem(answer, "updated_input");
			if (reason)
				cJSON_AddItemToObject(reply, "reason", cJSON_Duplicate(reason, 1));
			if (updated)
				cJSON_AddItemToObject(reply, "updated_input", cJSON_Duplicate(updated, 1));
		} else {
			cJSON_AddNullToObject(reply, "decision");
			cJSON_AddStringToObject(reply, "why", why);
		}
		cJSON_AddNumberToObject(reply, "delivered", p->n_subs);
		relay_conn_send_json(p->caller, reply);
	}
	for (int i = 0; i < p->n_subs; i++) {
		if (p->subs[i] == decider)
			continue;
		cJSON *ev = cJSON_CreateObject();
		cJSON_AddStringToObject(ev, "type", "hooks.resolved");
		cJSON_AddStringToObject(ev, "hook", p->id);
		cJSON_AddStringToObject(ev, "by", decision ? "subscriber" : why);
		relay_conn_send_json(p->subs[i], ev);
	}
	relay_log(RELAY_LOG_INFO, "%s %s%s%s: %s%s", p->id, p->event, *p->tool_name ? " " : "",
		  p->tool_name, decision ? decision : "no decision: ", decision ? "" : why);
	history_add(p, decision, decision ? NULL : why);

	struct hook_pending **pp;
	for (pp = &h->pending; *pp != p; pp = &(*pp)->next)
		;
	*pp = p->next;
	h->n_pending--;
	h->closing_timers++;
	uv_timer_stop(&p->timer);
	uv_close((uv_handle_t *)&p->timer, timer_closed);
}

static void on_timeout(uv_timer_t *t)
{
	resolve(t->data, NULL, "timeout", NULL);
}

static bool sub_matches(const struct hook_sub *s, const char *event, const char *tool)
{
	bool ev = s->all_events;
	for (int i = 0; !ev && i < s->n_events; i++)
		ev = !strcmp(s->events[i], event);
	if (!ev || !s->n_tools)
		return ev;
	for (int i = 0; i < s->n_tools; i++)
		if (*tool && !strcmp(s->tools[i], tool))
			return true;
	return false;
}

/* ---- requests ------------------------------------------------------------ */

static int hook_call(struct relay_hooks *h, struct relay_conn *caller, const cJSON *id,
		     const char *event, const char *agent, const cJSON *input, const char *input_json,
		     bool wait, uint64_t timeout_ms)
{
	if (h->n_pending >= MAX_PENDING)
		return -EAGAIN;
	struct hook_pending *p = calloc(1, sizeof *p);
	if (!p || !(p->input_json = strdup(input_json)) ||
	    !(p->subs = calloc((size_t)h->n_peers + 1, sizeof *p->subs))) {
		if (p)
			free(p->input_json);
		free(p);
		return -ENOMEM;
	}
	p->mgr = h;
	p->caller = caller;
	p->caller_id = relay_proto_id(id);
	p->started_ms = relay_now_ms();
	snprintf(p->id, sizeof p->id, "h-%lu", ++h->next_id);
	snprintf(p->event, sizeof p->event, "%s", event);
	snprintf(p->agent, sizeof p->agent, "%s", agent);
	const char *tool = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(input, "tool_name"));
	if (tool)
		snprintf(p->tool_name, sizeof p->tool_name, "%.*s", relay_utf8_prefix(tool, 64), tool);
	uv_timer_init(h->loop, &p->timer);
	p->timer.data = p;
	p->next = h->pending;
	h->pending = p;
	h->n_pending++;

	for (struct hook_peer *peer = h->peers; peer; peer = peer->next) {
		struct relay_conn *c = peer->chan.conn;
		if (!peer->sub || c->closing || !sub_matches(peer->sub, event, p->tool_name))
			continue;
		cJSON *ev = cJSON_CreateObject();
		cJSON_AddStringToObject(ev, "type", "hooks.request");
		cJSON_AddStringToObject(ev, "hook", p->id);
		cJSON_AddStringToObject(ev, "event", event);
		cJSON_AddStringToObject(ev, "agent", agent);
		if (*p->tool_name)
			cJSON_AddStringToObject(ev, "tool_name", p->tool_name);
		cJSON_AddItemToObject(ev, "input", cJSON_CreateRaw(input_json));
		cJSON_AddBoolToObject(ev, "wait", wait);
		cJSON_AddNumberToObject(ev, "timeout_ms", (double)timeout_ms);
		if (!relay_conn_send_json(c, ev))
			p->subs[p->n_subs++] = c;
	}
	if (!p->n_subs)
		resolve(p, NULL, "no subscriber", NULL);
	else if (!wait)
		resolve(p, NULL, "not waited", NULL);
	else
		uv_timer_start(&p->timer, on_timeout, timeout_ms, 0);
	return 0;
}

static struct hook_pending *find_pending(struct relay_hooks *h, const char *id)
{
	for (struct hook_pending *p = h->pending; p; p = p->next)
		if (!strcmp(p->id, id))
			return p;
	return NULL;
}

static void msg_respond(struct relay_module *m, struct relay_conn *c, const cJSON *req,
			const cJSON *id)
{
	struct relay_hooks *h = relay_container_of(m, struct relay_hooks, module);
	const cJSON *hook = cJSON_GetObjectItemCaseSensitive(req, "hook");
	const cJSON *decision = cJSON_GetObjectItemCaseSensitive(req, "decision");
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(req, "reason");
	const cJSON *updated = cJSON_GetObjectItemCaseSensitive(req, "updated_input");
	const char *type = "hooks.respond";

	if (!hook || !decision) {
		relay_proto_error(c, id, "missing_field", hook ? "decision" : "hook", type,
				  "hooks.respond needs \"hook\" and \"decision\"");
		return;
	}
	if (!cJSON_IsString(hook)) {
		relay_proto_error(c, id, "invalid_field", "hook", type, "\"hook\" must be a string");
		return;
	}
	struct hook_pending *p = find_pending(h, hook->valuestring);
	if (!p) {
		char *end = NULL;
		unsigned long n = strncmp(hook->valuestring, "h-", 2) ? 0
			: strtoul(hook->valuestring + 2, &end, 10);
		if (n && n <= h->next_id && end && !*end)
			relay_proto_error(c, id, "hook_resolved", "hook", type,
					  "%s was already decided, timed out, or not waited for",
					  hook->valuestring);
		else
			relay_proto_error(c, id, "unknown_hook", "hook", type, "no hook \"%.*s\"",
					  relay_utf8_prefix(hook->valuestring, 64), hook->valuestring);
		return;
	}
	const char *d = cJSON_GetStringValue(decision);
	bool known = false;
	for (size_t i = 0; d && i < sizeof decisions / sizeof decisions[0]; i++)
		known |= !strcmp(d, decisions[i]);
	if (!known) {
		relay_proto_error(c, id, "invalid_field", "decision", type,
				  "\"decision\" must be allow, deny, ask, block, halt or passthrough");
		return;
	}
	if (!decision_allowed(p->event, d)) {
		relay_proto_error(c, id, "invalid_field", "decision", type,
				  "decision \"%s\" does not apply to %s", d, p->event);
		return;
	}
	if (reason && (!cJSON_IsString(reason) || strlen(reason->valuestring) > REASON_MAX)) {
		relay_proto_error(c, id, "invalid_field", "reason", type,
				  "\"reason\" must be a string of at most %d bytes", REASON_MAX);
		return;
	}
	if (updated && (!cJSON_IsObject(updated) || (strcmp(d, "allow") && strcmp(d, "ask")) ||
			(strcmp(p->event, "PreToolUse") && strcmp(p->event, "PermissionRequest")))) {
		relay_proto_error(c, id, "invalid_field", "updated_input", type,
				  "\"updated_input\" is an object, with allow or ask, for PreToolUse "
				  "and PermissionRequest");
		return;
	}
	cJSON *reply = relay_proto_reply(type, id);
	cJSON_AddStringToObject(reply, "hook", p->id);
	relay_conn_send_json(c, reply);
	resolve(p, req, NULL, c);
}

static const char *const respond_fields[] = { "hook", "decision", "reason", "updated_input",
					       NULL };
const struct relay_msg relay_msg_hooks_respond = { "hooks.respond", "hooks", respond_fields,
						   msg_respond };

/* ---- peers ---------------------------------------------------------------- */

static const struct relay_chan_ops peer_ops;

static struct hook_peer *find_peer(struct relay_conn *c)
{
	for (struct relay_chan *ch = c->chans; ch; ch = ch->next)
		if (ch->ops == &peer_ops)
			return relay_container_of(ch, struct hook_peer, chan);
	return NULL;
}

/* c's peer, made on first use; NULL when out of memory. */
static struct hook_peer *peer_of(struct relay_hooks *h, struct relay_conn *c)
{
	struct hook_peer *peer = find_peer(c);
	if (peer || !(peer = calloc(1, sizeof *peer)))
		return peer;
	peer->mgr = h;
	relay_chan_add(c, &peer->chan, &peer_ops, false);
	peer->next = h->peers;
	h->peers = peer;
	h->n_peers++;
	return peer;
}

/* The connection goes: the hooks it called are resolved, the ones it was
 * sent no longer wait for it. */
static void peer_gone(struct relay_chan *ch)
{
	struct hook_peer *peer = relay_container_of(ch, struct hook_peer, chan), **pp;
	struct relay_hooks *h = peer->mgr;
	struct relay_conn *c = ch->conn;
	free(peer->sub);
	peer->sub = NULL;
	struct hook_pending *p = h->pending, *next;
	for (; p; p = next) {
		next = p->next;
		if (p->caller == c) {
			p->caller = NULL;
			resolve(p, NULL, "caller gone", NULL);
			continue;
		}
		for (int i = 0; i < p->n_subs; i++)
			if (p->subs[i] == c)
				p->subs[i--] = p->subs[--p->n_subs];
		if (!p->n_subs)
			resolve(p, NULL, "subscriber disconnected", NULL);
	}
	for (pp = &h->peers; *pp != peer; pp = &(*pp)->next)
		;
	*pp = peer->next;
	h->n_peers--;
	relay_chan_remove(ch);
	free(peer);
}

static const struct relay_chan_ops peer_ops = {
	.kind = "hooks",
	.gone = peer_gone,
};

/* Fills a subscription list from a JSON array of 1-64 short strings. */
static bool name_list(const cJSON *arr, char (*dst)[NAME_MAX_BYTES + 1], int *n)
{
	const cJSON *v;
	int count = cJSON_GetArraySize(arr);
	if (!cJSON_IsArray(arr) || count < 1 || count > 64)
		return false;
	*n = 0;
	cJSON_ArrayForEach(v, arr) {
		if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) > NAME_MAX_BYTES)
			return false;
		strcpy(dst[(*n)++], v->valuestring);
	}
	return true;
}

static void msg_subscribe(struct relay_module *m, struct relay_conn *c, const cJSON *req,
			  const cJSON *id)
{
	struct relay_hooks *h = relay_container_of(m, struct relay_hooks, module);
	const cJSON *events = cJSON_GetObjectItemCaseSensitive(req, "events");
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(req, "tools");
	struct hook_peer *peer = peer_of(h, c);
	struct hook_sub *s = peer ? calloc(1, sizeof *s) : NULL;
	if (!s) {
		relay_proto_error(c, id, "internal", NULL, "hooks.subscribe", "out of memory");
		return;
	}
	if (!events || !name_list(events, s->events, &s->n_events)) {
		relay_proto_error(c, id, events ? "invalid_field" : "missing_field", "events",
				  "hooks.subscribe", "\"events\" must be an array of 1 to 64 event "
				  "names (or \"*\") of at most 64 bytes");
		free(s);
		return;
	}
	if (tools && !name_list(tools, s->tools, &s->n_tools)) {
		relay_proto_error(c, id, "invalid_field", "tools", "hooks.subscribe",
				  "\"tools\" must be an array of 1 to 64 tool names of at most 64 bytes");
		free(s);
		return;
	}
	for (int i = 0; i < s->n_events; i++)
		s->all_events |= !strcmp(s->events[i], "*");
	free(peer->sub);
	peer->sub = s;
	cJSON *reply = relay_proto_reply("hooks.subscribe", id);
	cJSON_AddItemToObject(reply, "events", cJSON_Duplicate(events, 1));
	if (tools)
		cJSON_AddItemToObject(reply, "tools", cJSON_Duplicate(tools, 1));
	relay_conn_send_json(c, reply);
}

static const char *const subscribe_fields[] = { "events", "tools", NULL };
const struct relay_msg relay_msg_hooks_subscribe = { "hooks.subscribe", "hooks",
						     subscribe_fields, msg_subscribe };

static void msg_unsubscribe(struct relay_module *m, struct relay_conn *c, const cJSON *req,
			    const cJSON *id)
{
	struct hook_peer *peer = find_peer(c);
	(void)m;
	(void)req;
	if (peer) {
		free(peer->sub);
		peer->sub = NULL;
	}
	relay_conn_send_json(c, relay_proto_reply("hooks.unsubscribe", id));
}

static const char *const no_fields[] = { NULL };
const struct relay_msg relay_msg_hooks_unsubscribe = { "hooks.unsubscribe", "hooks", no_fields,
						       msg_unsubscribe };

/* ---- the module ----------------------------------------------------------- */

/* Every waiting hook is answered, while its caller can still read. */
static void hooks_shutdown(struct relay_module *m)
{
	struct relay_hooks *h = relay_container_of(m, struct relay_hooks, module);
	while (h->pending)
		resolve(h->pending, NULL, "daemon stopping", NULL);
}

static bool hooks_stopped(struct relay_module *m)
{
	struct relay_hooks *h = relay_container_of(m, struct relay_hooks, module);
	return !h->pending && !h->closing_timers;
}

static void hooks_free(struct relay_module *m)
{
	struct relay_hooks *h = relay_container_of(m, struct relay_hooks, module);
	while (h->hist_len)
		history_drop_oldest(h);
	free(h);
}

static void hooks_status(struct relay_module *m, cJSON *status)
{
	struct relay_hooks *h = relay_container_of(m, struct relay_hooks, module);
	long subscribers = 0;
	for (const struct hook_peer *peer = h->peers; peer; peer = peer->next)
		subscribers += peer->sub != NULL;
	cJSON *hooks = cJSON_AddObjectToObject(status, "hooks");
	cJSON_AddNumberToObject(hooks, "pending", (double)h->n_pending);
	cJSON_AddNumberToObject(hooks, "subscribers", (double)subscribers);
}

static const struct relay_module_ops hooks_module_ops = {
	.name = "hooks",
	.capability = hooks_capability,
	.status = hooks_status,
	.shutdown = hooks_shutdown,
	.stopped = hooks_stopped,
	.free = hooks_free,
};

int relay_hooks_new(uv_loop_t *loop, struct relay_module **out)
{
	struct relay_hooks *h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->module.ops = &hooks_module_ops;
	h->loop = loop;
	*out = &h->module;
	return 0;
}

static void msg_call(struct relay_module *m, struct relay_conn *c, const cJSON *req,
		     const cJSON *id)
{
	struct relay_hooks *h = relay_container_of(m, struct relay_hooks, module);
	const char *type = "hook.call";
	const char *names[] = { "event", "agent", "input_json" };
	const char *values[3];

	for (int i = 0; i < 3; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, names[i]);
		if (!v) {
			relay_proto_error(c, id, "missing_field", names[i], type,
					  "hook.call needs \"%s\"", names[i]);
			return;
		}
		if (!cJSON_IsString(v) || !*v->valuestring ||
		    (i < 2 && strlen(v->valuestring) > NAME_MAX_BYTES)) {
			relay_proto_error(c, id, "invalid_field", names[i], type,
					  "\"%s\" must be a non-empty string%s", names[i],
					  i < 2 ? " of at most 64 bytes" : "");
			return;
		}
		values[i] = v->valuestring;
	}
	bool wait = true;
	double timeout_ms = 30000;
	if (!relay_proto_bool_field(c, req, id, type, "wait", &wait) ||
	    !relay_proto_int_field(c, req, id, type, "timeout_ms", 1, 3600000, &timeout_ms))
		return;
	cJSON *input = cJSON_Parse(values[2]);
	if (!cJSON_IsObject(input)) {
		relay_proto_error(c, id, "invalid_field", "input_json", type,
				  "\"input_json\" must be the text of a JSON object");
		cJSON_Delete(input);
		return;
	}
	/* The caller is a peer too: if it goes, its hook is resolved. */
	int rc = peer_of(h, c) ? hook_call(h, c, id, values[0], values[1], input, values[2], wait,
					   (uint64_t)timeout_ms)
			       : -ENOMEM;
	cJSON_Delete(input);
	if (rc == -EAGAIN)
		relay_proto_error(c, id, "too_many_hooks", NULL, type,
				  "%d hooks are waiting for a decision", MAX_PENDING);
	else if (rc)
		relay_proto_error(c, id, "internal", NULL, type, "out of memory");
}

static const char *const call_fields[] = { "event", "agent", "input_json", "wait",
					    "timeout_ms", NULL };
const struct relay_msg relay_msg_hook_call = { "hook.call", "hooks", call_fields, msg_call };

static void msg_history(struct relay_module *m, struct relay_conn *c, const cJSON *req,
			const cJSON *id)
{
	struct relay_hooks *h = relay_container_of(m, struct relay_hooks, module);
	double limit = HISTORY_MAX;
	if (!relay_proto_int_field(c, req, id, "hooks.history", "limit", 1, HISTORY_MAX, &limit))
		return;
	cJSON *reply = relay_proto_reply("hooks.history", id);
	cJSON_AddItemToObject(reply, "hooks", history_list(h, (int)limit));
	relay_conn_send_json(c, reply);
}

static const char *const history_fields[] = { "limit", NULL };
const struct relay_msg relay_msg_hooks_history = { "hooks.history", "hooks", history_fields,
						   msg_history };
