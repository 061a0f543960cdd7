/* Protocol v1: parsing, validation and the dispatch table (docs/protocol.md). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define ID_STRING_MAX 128

struct handler {
	const char *type;
	relay_handler_fn *fn;
	const char *const *fields;   /* members allowed besides type and id */
};

static const char *const hello_fields[] = { "protocol", "client", NULL };
static const char *const no_fields[] = { NULL };
static const char *const pty_open_fields[] = { "argv", "cwd", "env", "cols", "rows", "term",
					       "credit", "read_only", NULL };
static const char *const pty_attach_fields[] = { "session", "since", "credit", "read_only", NULL };
static const char *const pty_session_fields[] = { "session", NULL };
static const char *const pty_credit_fields[] = { "session", "bytes", NULL };
static const char *const pty_resize_fields[] = { "session", "cols", "rows", NULL };
static const char *const pty_signal_fields[] = { "session", "signal", NULL };
static const char *const hook_call_fields[] = { "event", "agent", "input_json", "wait",
						"timeout_ms", NULL };
static const char *const hooks_subscribe_fields[] = { "events", "tools", NULL };
static const char *const hooks_respond_fields[] = { "hook", "decision", "reason",
						    "updated_input", NULL };
static const char *const hooks_history_fields[] = { "limit", NULL };

/* The one dispatch table. Later features add their rows here. */
static const struct handler handlers[] = {
	{ "hello", relay_msg_hello, hello_fields },
	{ "status", relay_msg_status, no_fields },
	{ "pty.open", relay_msg_pty_open, pty_open_fields },
	{ "pty.attach", relay_msg_pty_attach, pty_attach_fields },
	{ "pty.detach", relay_msg_pty_detach, pty_session_fields },
	{ "pty.credit", relay_msg_pty_credit, pty_credit_fields },
	{ "pty.resize", relay_msg_pty_resize, pty_resize_fields },
	{ "pty.signal", relay_msg_pty_signal, pty_signal_fields },
	{ "pty.close", relay_msg_pty_close, pty_session_fields },
	{ "pty.list", relay_msg_pty_list, no_fields },
	{ "hook.call", relay_msg_hook_call, hook_call_fields },
	{ "hooks.subscribe", relay_msg_hooks_subscribe, hooks_subscribe_fields },
	{ "hooks.unsubscribe", relay_msg_hooks_unsubscribe, no_fields },
	{ "hooks.respond", relay_msg_hooks_respond, hooks_respond_fields },
	{ "hooks.history", relay_msg_hooks_history, hooks_history_fields },
};

void relay_proto_error(struct relay_conn *c, const cJSON *id, const char *code,
		       const char *field, const char *request, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);

	cJSON *msg = relay_proto_reply("error", id);
	cJSON_AddStringToObject(msg, "code", code);
	cJSON_AddStringToObject(msg, "message", message);
	if (field)
		cJSON_AddStringToObject(msg, "field", field);
	if (request)
		cJSON_AddStringToObject(msg, "request", request);
	relay_log(RELAY_LOG_DEBUG, "conn %llu: error %s: %s", (unsigned long long)c->id, code,
		  message);
	relay_conn_send_json(c, msg);
}

cJSON *relay_proto_id(const cJSON *id)
{
	char digits[32];
	if (!id)
		return cJSON_CreateNull();
	if (!cJSON_IsNumber(id))
		return cJSON_Duplicate(id, 1);
	/* cJSON prints doubles with 15 significant digits; an integer id up to
	 * 2^53 must come back digit for digit. */
	snprintf(digits, sizeof digits, "%.0f", id->valuedouble);
	return cJSON_CreateRaw(digits);
}

cJSON *relay_proto_reply(const char *type, const cJSON *id)
{
	cJSON *msg = cJSON_CreateObject();
	cJSON_AddStringToObject(msg, "type", type);
	cJSON_AddItemToObject(msg, "id", relay_proto_id(id));
	return msg;
}

bool relay_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		if (!n || i + n > len)
			return false;
		uint32_t cp = n == 1 ? c : c & (0x7f >> n);
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += n;
	}
	return true;
}

int relay_utf8_prefix(const char *s, size_t max)
{
	size_t len = strlen(s);
	if (len <= max)
		return (int)len;
	/* back off to the start of the character that would be cut */
	while (max > 0 && ((uint8_t)s[max] & 0xc0) == 0x80)
		max--;
	return (int)max;
}

/* True when the JSON text holds the escape \u0000 (an odd run of
 * backslashes before the u, so "\\u0000" text does not count). */
bool relay_json_has_escaped_nul(const char *s, size_t len)
{
	for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), "u0000", 5)); p++) {
		size_t slashes = 0;
		while (p - slashes > s && p[-1 - (long)slashes] == '\\')
			slashes++;
		if (slashes % 2)
			return true;
	}
	return false;
}

static bool id_valid(const cJSON *id)
{
	if (cJSON_IsString(id))
		return strlen(id->valuestring) <= ID_STRING_MAX;
	if (!cJSON_IsNumber(id))
		return false;
	double d = id->valuedouble;
	return d == floor(d) && fabs(d) <= 9007199254740992.0;
}

static bool field_allowed(const char *name, const char *const *fields)
{
	if (!strcmp(name, "type") || !strcmp(name, "id"))
		return true;
	for (; *fields; fields++)
		if (!strcmp(name, *fields))
			return true;
	return false;
}

/* Reads an optional integer member into *out (left alone when absent).
 * Sends invalid_field and returns false when it is not an integer in range. */
bool relay_proto_int_field(struct relay_conn *c, const cJSON *req, const cJSON *id,
			   const char *type, const char *name, double min, double max, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
	if (!v)
		return true;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    v->valuedouble < min || v->valuedouble > max) {
		relay_proto_error(c, id, "invalid_field", name, type,
				  "\"%s\" must be an integer from %.0f to %.0f", name, min, max);
		return false;
	}
	*out = v->valuedouble;
	return true;
}

bool relay_proto_bool_field(struct relay_conn *c, const cJSON *req, const cJSON *id,
			    const char *type, const char *name, bool *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
	if (!v)
		return true;
	if (!cJSON_IsBool(v)) {
		relay_proto_error(c, id, "invalid_field", name, type, "\"%s\" must be true or false",
				  name);
		return false;
	}
	*out = cJSON_IsTrue(v);
	return true;
}

void relay_proto_text(struct relay_conn *c, const char *data, size_t len)
{
	const char *end = NULL;
	cJSON *req;

	/* WebSocket text is validated by lws; byte streams are checked here. */
	if (!relay_utf8_valid((const uint8_t *)data, len)) {
		relay_proto_error(c, NULL, "invalid_message", NULL, NULL,
				  "a text message must be valid UTF-8");
		return;
	}
	/* cJSON ends strings at U+0000, which would silently change a value. */
	if (relay_json_has_escaped_nul(data, len)) {
		relay_proto_error(c, NULL, "invalid_message", NULL, NULL,
				  "strings may not contain U+0000");
		return;
	}
	req = cJSON_ParseWithLengthOpts(data, len, &end, 0);
	if (!req) {
		size_t off = end ? (size_t)(end - data) : 0;
		relay_proto_error(c, NULL, "invalid_json", NULL, NULL,
				  "not valid JSON (error near byte %zu of %zu)", off, len);
		return;
	}
	for (const char *p = end; p && p < data + len; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			relay_proto_error(c, NULL, "invalid_json", NULL, NULL,
					  "trailing data after the JSON value at byte %zu",
					  (size_t)(p - data));
			goto out;
		}
	}
	if (!cJSON_IsObject(req)) {
		relay_proto_error(c, NULL, "invalid_message", NULL, NULL,
				  "a control message must be a JSON object");
		goto out;
	}

	const cJSON *type = cJSON_GetObjectItemCaseSensitive(req, "type");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
	const cJSON *usable_id = id && id_valid(id) ? id : NULL;

	if (!type) {
		relay_proto_error(c, usable_id, "missing_field", "type", NULL,
				  "the message has no \"type\"");
		goto out;
	}
	if (!cJSON_IsString(type)) {
		relay_proto_error(c, usable_id, "invalid_field", "type", NULL,
				  "\"type\" must be a string");
		goto out;
	}
	const struct handler *h = NULL;
	for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
		if (!strcmp(handlers[i].type, type->valuestring))
			h = &handlers[i];
	if (!h) {
		relay_proto_error(c, usable_id, "unknown_type", "type", NULL,
				  "unknown message type \"%.*s\"",
				  relay_utf8_prefix(type->valuestring, 64), type->valuestring);
		goto out;
	}
	if (!id) {
		relay_proto_error(c, NULL, "missing_field", "id", h->type,
				  "request \"%s\" has no \"id\"", h->type);
		goto out;
	}
	if (!usable_id) {
		relay_proto_error(c, NULL, "invalid_field", "id", h->type,
				  "\"id\" must be an integer or a string of at most %d bytes",
				  ID_STRING_MAX);
		goto out;
	}
	const cJSON *member;
	cJSON_ArrayForEach(member, req) {
		if (!field_allowed(member->string, h->fields)) {
			relay_proto_error(c, id, "unknown_field", member->string, h->type,
					  "request \"%s\" has no member \"%.*s\"", h->type,
					  relay_utf8_prefix(member->string, 64), member->string);
			goto out;
		}
	}
	if (!c->hello_done && h->fn != relay_msg_hello) {
		relay_proto_error(c, id, "hello_required", NULL, h->type,
				  "send \"hello\" before \"%s\"", h->type);
		goto out;
	}
	h->fn(c, req, id);
out:
	cJSON_Delete(req);
}

void relay_proto_binary(struct relay_conn *c, const uint8_t *data, size_t len)
{
	if (len < 4) {
		relay_proto_error(c, NULL, "invalid_binary", NULL, NULL,
				  "a binary message starts with a 4-byte channel id; got %zu bytes",
				  len);
		return;
	}
	if (!c->hello_done) {
		relay_proto_error(c, NULL, "hello_required", NULL, NULL,
				  "send \"hello\" before channel data");
		return;
	}
	uint32_t channel = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
			   (uint32_t)data[2] << 8 | data[3];
	relay_pty_binary(c, channel, data + 4, len - 4);
}

void relay_proto_too_large(struct relay_conn *c, size_t len)
{
	relay_proto_error(c, NULL, "message_too_large", NULL, NULL,
			  "message of %zu bytes is over the limit of %ld bytes", len,
			  relay_server_config(c->srv)->max_message_bytes);
}
