/* Protocol v1: parsing, validation and dispatch through the message table
 * (messages.c; docs/protocol.md). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define ID_STRING_MAX 128

static struct relay_module *module_named(const struct relay_conn_env *env, const char *name)
{
	for (size_t i = 0; i < env->n_modules; i++)
		if (!strcmp(env->modules[i]->ops->name, name))
			return env->modules[i];
	return NULL;
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
	const struct relay_msg *h = NULL;
	for (const struct relay_msg *const *row = relay_messages; *row && !h; row++)
		if (!strcmp((*row)->type, type->valuestring))
			h = *row;
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
	if (!c->hello_done && h != &relay_msg_hello) {
		relay_proto_error(c, id, "hello_required", NULL, h->type,
				  "send \"hello\" before \"%s\"", h->type);
		goto out;
	}
	struct relay_module *m = module_named(c->env, h->module);
	if (!m) {
		relay_proto_error(c, id, "unknown_type", "type", NULL,
				  "\"%s\" is not served by this daemon", h->type);
		goto out;
	}
	h->handler(m, c, req, id);
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
	struct relay_chan *ch = relay_conn_chan(c, channel);
	if (!ch || !ch->ops->input) {
		relay_proto_error(c, NULL, "unknown_channel", NULL, NULL, "channel %u is not open",
				  channel);
		return;
	}
	ch->ops->input(ch, data + 4, len - 4);
}

void relay_proto_too_large(struct relay_conn *c, size_t len)
{
	relay_proto_error(c, NULL, "message_too_large", NULL, NULL,
			  "message of %zu bytes is over the limit of %ld bytes", len,
			  (long)c->env->max_message_bytes);
}
