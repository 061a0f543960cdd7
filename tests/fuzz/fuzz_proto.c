/*
 * fuzz_proto: the protocol v1 message parser (relay/proto.c, core.c, conn.c,
 * the pty and hooks modules) on one connection, with the modules and env a
 * server would hand over, and a fake transport.
 *
 * Input: [mode][payload]. mode bit 0: 0 = text message, 1 = binary message;
 * bit 1: hello already done on this connection. A fresh connection per input.
 *
 * Oracle (docs/protocol.md, "Control messages"):
 *   - every text message is a request or something that is not: either way
 *     exactly one message comes back (a reply or one error); so does every
 *     binary message in the v1 core (invalid_binary or unknown_channel);
 *   - what comes back is a JSON object with a string "type" and an "id";
 *     an error has a documented "code" and a string "message";
 *   - the id is the request's when the request had a usable one (integer
 *     |id| <= 2^53, or a string of at most 128 bytes), else null;
 *   - no error closes the connection (none of them is a stream violation),
 *     and the queue is empty once the transport has written everything;
 *   - when the request is valid UTF-8, so is what comes back: a WebSocket
 *     client fails the connection (1007) on a text message that is not.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "hooks/hooks.h"
#include "pty/pty.h"

#define REQUIRE(cond)                                                               \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "fuzz_proto: invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                                   \
			abort();                                                    \
		}                                                                   \
	} while (0)

/* ---- a fake server: the modules and env the server would hand over ----- */

static struct relay_core core;
static struct relay_module *modules[3];   /* core, pty, hooks */
static struct relay_conn_env env;
static long conns;

static void conn_opened(void *arg, struct relay_conn *c)
{
	(void)arg;
	(void)c;
	conns++;
}

static void conn_closed(void *arg, struct relay_conn *c)
{
	(void)arg;
	(void)c;
	conns--;
}

static void fake_info(void *arg, struct relay_core_info *out)
{
	(void)arg;
	out->pid = 4242;
	out->port = 7420;
	out->socket_path = "/tmp/tether-fuzz/tetherd.sock";
	out->uptime_ms = 1234;
	out->started_at = "2026-01-01T00:00:00Z";
	out->connections_ws = 0;
	out->connections_unix = conns;
}

static void nothing_changed(void *arg)
{
	(void)arg;
}

/* ---- the request under test and a fake transport that checks replies --- */

struct expect {
	const cJSON *id;        /* the request's usable id, or NULL: reply id is null */
	bool check_utf8;        /* the request was valid UTF-8 */
	bool binary;
	bool hello_done;
	size_t binary_len;
	int replies;
	bool closed;
};

static struct expect expect;

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t b = s[i];
		size_t extra;
		uint32_t cp;
		if (b < 0x80) {
			i++;
			continue;
		} else if (b >= 0xC2 && b <= 0xDF) {
			extra = 1;
			cp = b & 0x1F;
		} else if (b >= 0xE0 && b <= 0xEF) {
			extra = 2;
			cp = b & 0x0F;
		} else if (b >= 0xF0 && b <= 0xF4) {
			extra = 3;
			cp = b & 0x07;
		} else {
			return false;
		}
		if (n - i - 1 < extra)
			return false;
		for (size_t k = 1; k <= extra; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
		    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return false;
		i += extra + 1;
	}
	return true;
}

static bool id_usable(const cJSON *id)
{
	if (cJSON_IsString(id))
		return strlen(id->valuestring) <= 128;
	return cJSON_IsNumber(id) && id->valuedouble == floor(id->valuedouble) &&
	       fabs(id->valuedouble) <= 9007199254740992.0;
}

static const char *const error_codes[] = {
	"invalid_json", "invalid_message", "missing_field", "invalid_field", "unknown_field",
	"unknown_type", "hello_required", "hello_repeated", "unsupported_protocol",
	"message_too_large", "invalid_binary", "unknown_channel", "protocol_violation",
	"too_many_connections", "forbidden_peer", "unknown_session", "already_attached",
	"too_many_sessions", "spawn_failed", "read_only", "input_overflow", "session_exited",
	"unknown_hook", "hook_resolved", "too_many_hooks",
};

static void check_reply(const uint8_t *p, size_t len)
{
	if (expect.check_utf8 && !utf8_valid(p, len)) {
		fprintf(stderr, "fuzz_proto: reply is not valid UTF-8: %.*s\n", (int)len,
			(const char *)p);
		REQUIRE(!"a valid UTF-8 request gets a valid UTF-8 reply");
	}
	cJSON *msg = cJSON_ParseWithLength((const char *)p, len);
	REQUIRE(msg);
	REQUIRE(cJSON_IsObject(msg));
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(msg, "type");
	REQUIRE(cJSON_IsString(type));
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	REQUIRE(id);
	if (!expect.id) {
		REQUIRE(cJSON_IsNull(id));
	} else if (cJSON_IsString(expect.id)) {
		REQUIRE(cJSON_IsString(id) && !strcmp(id->valuestring, expect.id->valuestring));
	} else {
		REQUIRE(cJSON_IsNumber(id) && id->valuedouble == expect.id->valuedouble);
	}
	if (!strcmp(type->valuestring, "error")) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(msg, "code");
		REQUIRE(cJSON_IsString(code));
		REQUIRE(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(msg, "message")));
		bool known = false;
		for (size_t i = 0; i < sizeof error_codes / sizeof error_codes[0]; i++)
			known |= !strcmp(code->valuestring, error_codes[i]);
		REQUIRE(known);
		if (expect.binary)
			REQUIRE(!strcmp(code->valuestring,
					expect.binary_len < 4 ? "invalid_binary"
					: !expect.hello_done ? "hello_required" : "unknown_channel"));
	} else {
		REQUIRE(!expect.binary);
		/* replies carry their request's type; pty.open never succeeds here
		 * (max_sessions is 0), so no child is ever spawned by the fuzzer */
		REQUIRE(!strcmp(type->valuestring, "hello") ||
			!strcmp(type->valuestring, "status") ||
			!strcmp(type->valuestring, "pty.list") ||
			!strncmp(type->valuestring, "hook", 4));
	}
	cJSON_Delete(msg);
}

static void fake_kick(struct relay_conn *c)
{
	struct relay_out *o;
	while ((o = relay_conn_pop(c))) {
		REQUIRE(o->kind == RELAY_FRAME_TEXT);
		check_reply(o->buf + RELAY_OUT_HEADROOM, o->len);
		expect.replies++;
		size_t len = o->len;
		free(o);
		relay_conn_sent(c, len);
	}
}

static void fake_set_paused(struct relay_conn *c, bool paused)
{
	(void)c;
	(void)paused;
	REQUIRE(!"the queue is written at once: reading never pauses");
}

static void fake_close(struct relay_conn *c)
{
	(void)c;
	expect.closed = true;
}

static const struct relay_transport_ops fake_ops = {
	.name = "unix",
	.kick = fake_kick,
	.set_paused = fake_set_paused,
	.close = fake_close,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct relay_config cfg;
	relay_log_open(NULL, RELAY_LOG_ERROR, 0);
	relay_config_defaults(&cfg);
	/* max_sessions 0 (below the config's minimum): pty.open never spawns */
	const struct relay_pty_limits pty = {
		.max_sessions = 0,
		.max_sessions_per_connection = cfg.max_sessions_per_connection,
		.ring_bytes = cfg.ring_bytes,
		.detach_timeout_s = cfg.detach_timeout_s,
		.max_detached = cfg.max_detached,
		.default_credit = cfg.default_credit,
		.close_grace_ms = cfg.close_grace_ms,
	};
	relay_core_init(&core);
	modules[0] = &core.module;
	if (relay_pty_new(uv_default_loop(), &pty, nothing_changed, NULL, &modules[1]) ||
	    relay_hooks_new(uv_default_loop(), &modules[2]))
		abort();
	core.modules = modules + 1;
	core.n_modules = 2;
	core.max_message_bytes = cfg.max_message_bytes;
	core.max_queued_bytes = cfg.max_queued_bytes;
	core.max_connections = cfg.max_connections;
	core.info = fake_info;
	env = (struct relay_conn_env){
		.max_queued_bytes = (size_t)cfg.max_queued_bytes,
		.max_message_bytes = (size_t)cfg.max_message_bytes,
		.modules = modules,
		.n_modules = 3,
		.opened = conn_opened,
		.closed = conn_closed,
	};
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	/* an exact-size copy, so reading past the message is caught */
	size_t len = size - 1;
	uint8_t *msg = malloc(len ? len : 1);
	REQUIRE(msg);
	memcpy(msg, data + 1, len);

	struct relay_conn *c = relay_conn_new(&env, &fake_ops, NULL);
	REQUIRE(c);
	c->hello_done = mode & 2;
	memset(&expect, 0, sizeof expect);
	expect.hello_done = c->hello_done;

	cJSON *req = NULL;
	if (mode & 1) {
		expect.binary = true;
		expect.binary_len = len;
		relay_proto_binary(c, msg, len);
	} else {
		/* the id the reply must carry, from the spec's rules */
		const char *end = NULL;
		req = cJSON_ParseWithLengthOpts((const char *)msg, len, &end, 0);
		for (const char *p = end; req && p < (const char *)msg + len; p++)
			if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
				cJSON_Delete(req);
				req = NULL;
			}
		expect.check_utf8 = utf8_valid(msg, len);
		/* docs/protocol.md: text that is not UTF-8, or holds U+0000, is
		 * refused before it is parsed, so its error carries a null id. */
		if (cJSON_IsObject(req) && expect.check_utf8 &&
		    !relay_json_has_escaped_nul((const char *)msg, len)) {
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
			expect.id = id_usable(id) ? id : NULL;
		}
		relay_proto_text(c, (const char *)msg, len);
	}
	REQUIRE(expect.replies == 1);
	REQUIRE(!expect.closed && !c->closing);
	REQUIRE(c->queued_bytes == 0 && !c->out_head && !c->paused);
	relay_conn_free(c);
	REQUIRE(conns == 0);
	cJSON_Delete(req);
	free(msg);
	uv_run(uv_default_loop(), UV_RUN_NOWAIT);   /* lets closed hook timers be freed */
	return 0;
}
