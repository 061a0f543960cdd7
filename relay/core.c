/* The core module: hello and status, the two requests every daemon answers,
 * assembled from the feature modules (their capabilities, their status). */
#include <string.h>
#include <unistd.h>

#include "internal.h"

static bool optional_string(struct relay_conn *c, const cJSON *id, const cJSON *obj,
			    const char *name, const char *field, char *dst, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!v)
		return true;
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= size) {
		relay_proto_error(c, id, "invalid_field", field, "hello",
				  "\"%s\" must be a string of at most %zu bytes", field, size - 1);
		return false;
	}
	memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
	return true;
}

static void msg_hello(struct relay_module *m, struct relay_conn *c, const cJSON *req,
		      const cJSON *id)
{
	struct relay_core *core = relay_container_of(m, struct relay_core, module);
	const cJSON *protocol = cJSON_GetObjectItemCaseSensitive(req, "protocol");
	const cJSON *client = cJSON_GetObjectItemCaseSensitive(req, "client");

	if (c->hello_done) {
		relay_proto_error(c, id, "hello_repeated", NULL, "hello",
				  "hello was already exchanged on this connection");
		return;
	}
	if (!protocol) {
		relay_proto_error(c, id, "missing_field", "protocol", "hello",
				  "hello needs \"protocol\" (this daemon speaks 1)");
		return;
	}
	if (!cJSON_IsNumber(protocol)) {
		relay_proto_error(c, id, "invalid_field", "protocol", "hello",
				  "\"protocol\" must be an integer");
		return;
	}
	if (protocol->valuedouble != RELAY_PROTOCOL_VERSION) {
		cJSON *err = relay_proto_reply("error", id);
		cJSON_AddStringToObject(err, "code", "unsupported_protocol");
		char message[128];
		snprintf(message, sizeof message, "protocol %g is not supported; this daemon speaks 1",
			 protocol->valuedouble);
		cJSON_AddStringToObject(err, "message", message);
		cJSON_AddStringToObject(err, "field", "protocol");
		cJSON_AddStringToObject(err, "request", "hello");
		int supported[] = { RELAY_PROTOCOL_VERSION };
		cJSON_AddItemToObject(err, "supported", cJSON_CreateIntArray(supported, 1));
		relay_conn_send_json(c, err);
		return;
	}
	if (client) {
		const cJSON *member;
		if (!cJSON_IsObject(client)) {
			relay_proto_error(c, id, "invalid_field", "client", "hello",
					  "\"client\" must be an object with name and version");
			return;
		}
		cJSON_ArrayForEach(member, client) {
			if (strcmp(member->string, "name") && strcmp(member->string, "version")) {
				relay_proto_error(c, id, "unknown_field", "client", "hello",
						  "\"client\" has no member \"%.*s\"",
						  relay_utf8_prefix(member->string, 64), member->string);
				return;
			}
		}
		if (!optional_string(c, id, client, "name", "client.name", c->client_name,
				     sizeof c->client_name) ||
		    !optional_string(c, id, client, "version", "client.version",
				     c->client_version, sizeof c->client_version))
			return;
	}
	c->hello_done = true;
	relay_log(RELAY_LOG_INFO, "conn %llu: hello from %s%s%s over %s", (unsigned long long)c->id,
		  *c->client_name ? c->client_name : "(unnamed client)", *c->client_version ? " " : "", c->client_version,
		  c->ops->name);

	cJSON *reply = relay_proto_reply("hello", id);
	cJSON_AddNumberToObject(reply, "protocol", RELAY_PROTOCOL_VERSION);
	cJSON *server = cJSON_AddObjectToObject(reply, "server");
	cJSON_AddStringToObject(server, "name", "tetherd");
	cJSON_AddStringToObject(server, "version", TETHER_VERSION);
	cJSON_AddNumberToObject(reply, "connection", (double)c->id);
	cJSON_AddStringToObject(reply, "transport", c->ops->name);
	cJSON *caps = cJSON_AddObjectToObject(reply, "capabilities");
	for (size_t i = 0; i < core->n_modules; i++) {
		struct relay_module *f = core->modules[i];
		cJSON *cap = f->ops->capability ? f->ops->capability(f) : NULL;
		if (cap)
			cJSON_AddItemToObject(caps, f->ops->name, cap);
	}
	cJSON *limits = cJSON_AddObjectToObject(reply, "limits");
	cJSON_AddNumberToObject(limits, "max_message_bytes", (double)core->max_message_bytes);
	cJSON_AddNumberToObject(limits, "max_queued_bytes", (double)core->max_queued_bytes);
	relay_conn_send_json(c, reply);
}

static const char *const hello_fields[] = { "protocol", "client", NULL };
const struct relay_msg relay_msg_hello = { "hello", "core", hello_fields, msg_hello };

static void msg_status(struct relay_module *m, struct relay_conn *c, const cJSON *req,
		       const cJSON *id)
{
	struct relay_core *core = relay_container_of(m, struct relay_core, module);
	struct relay_core_info info;
	(void)req;
	core->info(core->info_arg, &info);

	cJSON *reply = relay_proto_reply("status", id);
	cJSON_AddStringToObject(reply, "version", TETHER_VERSION);
	cJSON_AddNumberToObject(reply, "protocol", RELAY_PROTOCOL_VERSION);
	cJSON_AddNumberToObject(reply, "pid", info.pid);
	cJSON_AddStringToObject(reply, "started_at", info.started_at);
	cJSON_AddNumberToObject(reply, "uptime_ms", (double)info.uptime_ms);
	cJSON *listen = cJSON_AddObjectToObject(reply, "listen");
	cJSON_AddStringToObject(listen, "host", "127.0.0.1");
	cJSON_AddNumberToObject(listen, "port", info.port);
	cJSON_AddStringToObject(listen, "socket", info.socket_path);
	cJSON *conns = cJSON_AddObjectToObject(reply, "connections");
	cJSON_AddNumberToObject(conns, "total", (double)(info.connections_ws + info.connections_unix));
	cJSON_AddNumberToObject(conns, "websocket", (double)info.connections_ws);
	cJSON_AddNumberToObject(conns, "unix", (double)info.connections_unix);
	cJSON_AddNumberToObject(conns, "max", (double)core->max_connections);
	for (size_t i = 0; i < core->n_modules; i++) {
		struct relay_module *f = core->modules[i];
		if (f->ops->status)
			f->ops->status(f, reply);
	}
	/* Detected once at start (docs/doctor.md); `tether doctor` looks again. */
	if (core->platform)
		cJSON_AddItemToObject(reply, "platform", cJSON_Duplicate(core->platform, true));
	relay_conn_send_json(c, reply);
}

static const char *const no_fields[] = { NULL };
const struct relay_msg relay_msg_status = { "status", "core", no_fields, msg_status };

/* The core holds nothing of its own to stop or free: the server embeds it. */
static void core_shutdown(struct relay_module *m)
{
	(void)m;
}

static bool core_stopped(struct relay_module *m)
{
	(void)m;
	return true;
}

static const struct relay_module_ops core_ops = {
	.name = "core",
	.shutdown = core_shutdown,
	.stopped = core_stopped,
	.free = core_shutdown,
};

void relay_core_init(struct relay_core *core)
{
	core->module.ops = &core_ops;
}
