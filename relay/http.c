/* The HTTP front door on the 127.0.0.1 port: every request, WebSocket
 * upgrade or plain HTTP, passes the Host, Origin, back-off and token checks
 * here first (docs/protocol.md, "Handshake"); plain requests are then routed,
 * and their responses, of any size up to the cap, are written as the socket
 * takes them (LWS_CALLBACK_HTTP_WRITEABLE), as the WebSocket writer does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libwebsockets.h>

#include "internal.h"

#define HEADER_MAX 1024
#define WRITE_CHUNK (16 * 1024)   /* bytes per lws_write */
#define WRITE_BATCH 16            /* chunks per writable callback, as the WebSocket's */

/* A response: status, headers, then the body written as the socket drains. */
struct relay_http_response {
	unsigned status;
	const char *content_type;
	const char *extra_name, *extra_value;   /* one more header ("retry-after:"), or NULL */
	char extra_buf[32];
	uint8_t *body;
	size_t len, sent, cap;
	bool over_cap;
};

int relay_http_body_add(struct relay_http_response *res, const void *data, size_t len)
{
	if (res->over_cap || len > res->cap - res->len) {
		res->over_cap = true;
		return -ENOBUFS;
	}
	uint8_t *nb = realloc(res->body, res->len + len + 1);
	if (!nb)
		return -ENOMEM;
	memcpy(nb + res->len, data, len);
	res->body = nb;
	res->len += len;
	return 0;
}

void relay_http_set_status(struct relay_http_response *res, unsigned status,
			   const char *content_type)
{
	res->status = status;
	res->content_type = content_type;
}

/* Copies a header into buf; returns NULL when absent. */
static const char *header(struct lws *wsi, enum lws_token_indexes h, char *buf, int size)
{
	if (lws_hdr_total_length(wsi, h) <= 0)
		return NULL;
	if (lws_hdr_copy(wsi, buf, size, h) < 0)
		return "";   /* present but too long: never a valid value */
	return buf;
}

static void set_error(struct relay_http_response *res, unsigned status, const char *code,
		      const char *message)
{
	char body[512];
	int n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"message\":\"%s\"}", code, message);
	res->len = 0;
	res->over_cap = false;
	relay_http_set_status(res, status, "application/json");
	relay_http_body_add(res, body, (size_t)n);
}

static int write_headers(struct lws *wsi, const struct relay_http_response *res)
{
	uint8_t head[LWS_PRE + 1024], *start = head + LWS_PRE, *p = start,
		*end = head + sizeof head - 1;
	if (lws_add_http_common_headers(wsi, res->status, res->content_type, res->len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const uint8_t *)"cache-control:",
					(const uint8_t *)"no-store", 8, &p, end) ||
	    (res->extra_name &&
	     lws_add_http_header_by_name(wsi, (const uint8_t *)res->extra_name,
					 (const uint8_t *)res->extra_value,
					 (int)strlen(res->extra_value), &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	return 0;
}

/* Writes body chunks while the socket takes them; 1 when all is written. */
static int write_body(struct lws *wsi, struct relay_http_response *res)
{
	uint8_t buf[LWS_PRE + WRITE_CHUNK];
	for (int n = 0; n < WRITE_BATCH && res->sent < res->len; n++) {
		if (n && lws_send_pipe_choked(wsi))
			break;
		size_t k = res->len - res->sent < WRITE_CHUNK ? res->len - res->sent : WRITE_CHUNK;
		bool last = res->sent + k == res->len;
		memcpy(buf + LWS_PRE, res->body + res->sent, k);
		if (lws_write(wsi, buf + LWS_PRE, k, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
		    (int)k)
			return -1;
		res->sent += k;
	}
	return res->sent == res->len;
}

static void response_free(struct relay_http_response *res)
{
	if (res) {
		free(res->body);
		free(res);
	}
}

/* Steps 1-2 and 4-5 of the handshake in docs/protocol.md. With need_token
 * false only Host and Origin are checked (/healthz). On refusal res holds the
 * error and false is returned. */
static bool admit(struct relay_gate *gate, struct lws *wsi, bool need_token,
		  struct relay_http_response *res)
{
	char host[HEADER_MAX], origin[HEADER_MAX], auth[HEADER_MAX], protos[HEADER_MAX], peer[64];
	const char *h = header(wsi, WSI_TOKEN_HOST, host, sizeof host);
	const char *o = header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin);

	lws_get_peer_simple(wsi, peer, sizeof peer);
	if (!relay_host_allowed(h, gate->port)) {
		relay_log(RELAY_LOG_WARN, "refused %s: Host '%.80s' is not loopback (DNS rebinding?)",
			  peer, h ? h : "(none)");
		set_error(res, 403, "forbidden_host",
			  "Host must be 127.0.0.1:PORT, localhost:PORT or [::1]:PORT");
		return false;
	}
	if (!relay_origin_allowed(o, gate->cfg)) {
		relay_log(RELAY_LOG_WARN, "refused %s: Origin '%.80s' is not allowed", peer, o);
		set_error(res, 403, "forbidden_origin", "this Origin is not on the allowed_origins list");
		return false;
	}
	if (!need_token)
		return true;

	struct relay_backoff *bo = &gate->backoff;
	uint64_t now = relay_now_ms(), wait_ms = relay_backoff_remaining(bo, now);
	if (wait_ms) {
		snprintf(res->extra_buf, sizeof res->extra_buf, "%llu",
			 (unsigned long long)(wait_ms + 999) / 1000);
		relay_log(RELAY_LOG_WARN, "refused %s: authentication back-off, %s s left", peer,
			  res->extra_buf);
		set_error(res, 429, "auth_backoff", "too many failed authentications; retry later");
		res->extra_name = "retry-after:";
		res->extra_value = res->extra_buf;
		return false;
	}
	const char *a = header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof auth);
	const char *p = header(wsi, WSI_TOKEN_PROTOCOL, protos, sizeof protos);
	const char *tok = NULL;
	size_t tok_len = 0;
	bool found = relay_bearer_token(a, &tok, &tok_len) ||
		     relay_subprotocol_token(p, &tok, &tok_len);
	if (!found || !relay_token_equal(tok, tok_len, gate->token)) {
		relay_backoff_failure(bo, now);
		relay_log(RELAY_LOG_WARN, "refused %s: %s token (%u failures in a row)", peer,
			  found ? "wrong" : "no", bo->failures);
		set_error(res, 401, "unauthorized",
			  "send Authorization: Bearer <token> (see tether endpoint)");
		res->extra_name = "www-authenticate:";
		res->extra_value = "Bearer";
		return false;
	}
	relay_backoff_success(bo);
	return true;
}

static void healthz(void *arg, struct relay_http_response *res)
{
	static const char body[] = "{\"status\":\"ok\",\"version\":\"" TETHER_VERSION "\"}";
	(void)arg;
	relay_http_set_status(res, 200, "application/json");
	relay_http_body_add(res, body, sizeof body - 1);
}

static const struct relay_http_route healthz_route = { "/healthz", true, healthz, NULL };

static const struct relay_http_route *find_route(const struct relay_gate *gate, const char *path)
{
	if (!strcmp(path, healthz_route.path))
		return &healthz_route;
	for (size_t i = 0; i < gate->n_routes; i++)
		if (!strcmp(path, gate->routes[i].path))
			return &gate->routes[i];
	return NULL;
}

static struct relay_http_response *response_new(const struct relay_gate *gate)
{
	struct relay_http_response *res = calloc(1, sizeof *res);
	if (res)
		res->cap = (size_t)gate->cfg->max_queued_bytes;
	return res;
}

/* Headers and body in one go, from inside the callback: for our own short
 * error answers (always well under WRITE_CHUNK). */
static int refuse_now(struct lws *wsi, struct relay_http_response *res)
{
	uint8_t buf[LWS_PRE + WRITE_CHUNK];
	int rc = write_headers(wsi, res);
	if (!rc && res->len) {
		memcpy(buf + LWS_PRE, res->body, res->len);
		rc = lws_write(wsi, buf + LWS_PRE, res->len, LWS_WRITE_HTTP_FINAL) == (int)res->len
			     ? 0 : -1;
	}
	return rc;
}

int relay_http_request(struct relay_gate *gate, struct relay_http *h, struct lws *wsi,
		       const char *path)
{
	const struct relay_http_route *route = find_route(gate, path);
	struct relay_http_response *res = response_new(gate);
	bool wrong_method = false;

	if (!res)
		return -1;
	if (admit(gate, wsi, !route || !route->open, res)) {
		if (!route) {
			set_error(res, 404, "not_found",
				  "no such path; the WebSocket is at " RELAY_WS_PATH);
		} else if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
			set_error(res, 405, "method_not_allowed", "this path answers GET only");
			res->extra_name = "allow:";
			res->extra_value = "GET";
			wrong_method = true;
		} else {
			route->handle(route->arg, res);
			if (res->over_cap) {
				relay_log(RELAY_LOG_WARN, "%s: the response is over %zu bytes", path,
					  res->cap);
				set_error(res, 500, "response_too_large",
					  "the response is over max_queued_bytes");
			} else if (!res->status) {
				set_error(res, 500, "internal", "the route gave no response");
			}
		}
	}
	if (wrong_method) {
		/* a request whose body we do not read (lws would not call us writable
		 * before it is read): the short answer goes at once, then lws closes
		 * politely, after it is sent */
		int rc = refuse_now(wsi, res);
		response_free(res);
		if (rc)
			return -1;
		lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE, LWS_TO_KILL_ASYNC);
		return 0;
	}
	response_free(h->res);
	h->res = res;
	if (write_headers(wsi, res))
		return -1;
	if (!res->len)
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	lws_callback_on_writable(wsi);
	return 0;
}

int relay_http_writable(struct relay_http *h, struct lws *wsi)
{
	if (!h->res)
		return 0;
	int done = write_body(wsi, h->res);
	if (done < 0)
		return -1;
	if (!done) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	response_free(h->res);
	h->res = NULL;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void relay_http_free(struct relay_http *h)
{
	response_free(h->res);
	h->res = NULL;
}

/* A refused upgrade is answered from inside the upgrade callback. */
static int refuse_upgrade(struct lws *wsi, struct relay_http_response *res)
{
	return refuse_now(wsi, res) ? -1 : 1;
}

int relay_http_confirm_upgrade(struct relay_gate *gate, struct lws *wsi, long ws_count)
{
	char path[256];
	struct relay_http_response *res = response_new(gate);
	int rc = 0;

	if (!res)
		return -1;
	if (!admit(gate, wsi, true, res)) {
		rc = refuse_upgrade(wsi, res);
	} else if (!header(wsi, WSI_TOKEN_GET_URI, path, sizeof path) ||
		   strcmp(path, RELAY_WS_PATH)) {
		set_error(res, 404, "not_found", "the WebSocket is at " RELAY_WS_PATH);
		rc = refuse_upgrade(wsi, res);
	} else if (ws_count >= gate->cfg->max_connections || gate->stopping) {
		relay_log(RELAY_LOG_WARN, "refused WebSocket: %ld connections, the maximum",
			  ws_count);
		set_error(res, 503, "too_many_connections",
			  "max_connections WebSocket connections are open");
		rc = refuse_upgrade(wsi, res);
	}
	response_free(res);
	return rc;
}
