/* WebSocket transport: libwebsockets on main's libuv loop. We own the TCP
 * listener (127.0.0.1 only) and hand accepted sockets to lws; every HTTP
 * request goes through http.c's checks before anything else. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <libwebsockets.h>

#include "internal.h"

_Static_assert(LWS_PRE <= RELAY_OUT_HEADROOM, "RELAY_OUT_HEADROOM must hold LWS_PRE");

struct relay_ws {
	struct relay_conn_env *env;       /* borrowed from the server */
	struct relay_gate *gate;          /* borrowed from the server */
	struct lws_context *context;      /* lws sets it NULL once destroyed */
	struct lws_vhost *vhost;
	lws_retry_bo_t retry;             /* ping and idle policy */
	int listen_fd;                    /* -1 once closed */
	uv_poll_t poll;
	bool poll_closed;
	bool destroying;
	long count;                       /* established WebSocket connections */
};

/* lws's per-connection user data. */
struct ws_session {
	struct relay_http http;           /* plain HTTP requests on this socket */
	struct relay_conn *conn;          /* owned; NULL until established */
	uint8_t *rx;                      /* message being reassembled */
	size_t rx_len;
	size_t rx_total;                  /* bytes of the message so far, kept or not */
	bool rx_binary;
	bool rx_active;
	bool rx_discard;                  /* over max_message_bytes */
};

static void ws_kick(struct relay_conn *c)
{
	lws_callback_on_writable(c->transport);
}

static void ws_set_paused(struct relay_conn *c, bool paused)
{
	lws_rx_flow_control(c->transport, paused ? 0 : 1);
}

static const struct relay_transport_ops ws_ops = {
	.name = "websocket",
	.kick = ws_kick,
	.set_paused = ws_set_paused,
	.close = ws_kick,   /* the writable callback closes once the queue is empty */
};

static void rx_reset(struct ws_session *s)
{
	free(s->rx);
	s->rx = NULL;
	s->rx_len = s->rx_total = 0;
	s->rx_active = s->rx_discard = false;
}

static int on_receive(struct ws_session *s, struct lws *wsi, const void *in, size_t len)
{
	struct relay_conn *c = s->conn;
	size_t max = c->env->max_message_bytes;

	if (!s->rx_active) {
		s->rx_active = true;
		s->rx_binary = lws_frame_is_binary(wsi);
	}
	s->rx_total += len;
	if (!s->rx_discard && s->rx_total > max) {
		s->rx_discard = true;
		free(s->rx);
		s->rx = NULL;
		s->rx_len = 0;
	}
	if (!s->rx_discard && len) {
		uint8_t *nb = realloc(s->rx, s->rx_len + len);
		if (!nb)
			return -1;
		s->rx = nb;
		memcpy(s->rx + s->rx_len, in, len);
		s->rx_len += len;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	if (c->closing)
		;   /* input after we decided to close is dropped */
	else if (s->rx_discard)
		relay_proto_too_large(c, s->rx_total);
	else if (s->rx_binary)
		relay_proto_binary(c, s->rx, s->rx_len);
	else
		relay_proto_text(c, (const char *)s->rx, s->rx_len);
	rx_reset(s);
	relay_conn_pause_if_full(c);
	return 0;
}

/* Writes queued messages while the socket takes them (lws_send_pipe_choked
 * says when it would not), so a burst costs one turn of the loop, not one
 * per message; at most WRITE_BATCH per turn, so other connections get theirs. */
#define WRITE_BATCH 16
static int on_writable(struct ws_session *s, struct lws *wsi)
{
	struct relay_conn *c = s->conn;
	struct relay_out *o;

	for (int n = 0; n < WRITE_BATCH && c->out_head; n++) {
		if (n && lws_send_pipe_choked(wsi))
			break;
		o = relay_conn_pop(c);
		size_t len = o->len;
		int w = lws_write(wsi, o->buf + RELAY_OUT_HEADROOM, len,
				  o->kind == RELAY_FRAME_TEXT ? LWS_WRITE_TEXT : LWS_WRITE_BINARY);
		free(o);
		relay_conn_sent(c, len);
		if (w < (int)len)
			return -1;
	}
	if (c->out_head) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->closing) {
		/* Returning -1 here would drop the socket without a close frame
		 * (lws 4.1 treats it as a failed write); an immediate timeout of
		 * this kind goes through lws's polite close with our reason. */
		lws_close_reason(wsi, (enum lws_close_status)c->close_code,
				 (unsigned char *)c->close_reason, strlen(c->close_reason));
		lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE, LWS_TO_KILL_ASYNC);
	}
	return 0;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	struct lws_vhost *vh = lws_get_vhost(wsi);
	struct relay_ws *ws = vh ? lws_get_vhost_user(vh) : NULL;
	struct ws_session *s = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return s ? relay_http_request(ws->gate, &s->http, wsi, in ? in : "") : -1;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return s ? relay_http_writable(&s->http, wsi) : -1;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return relay_http_confirm_upgrade(ws->gate, wsi, ws->count);
	case LWS_CALLBACK_ESTABLISHED:
		s->conn = relay_conn_new(ws->env, &ws_ops, wsi);
		if (!s->conn)
			return -1;
		ws->count++;
		relay_log(RELAY_LOG_INFO, "conn %llu: WebSocket connected",
			  (unsigned long long)s->conn->id);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return s->conn ? on_receive(s, wsi, in, len) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return s->conn ? on_writable(s, wsi) : 0;
	case LWS_CALLBACK_CLOSED:
		if (s->conn) {
			relay_log(RELAY_LOG_INFO, "conn %llu: WebSocket closed",
				  (unsigned long long)s->conn->id);
			relay_conn_free(s->conn);
			s->conn = NULL;
			ws->count--;
		}
		rx_reset(s);
		return 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (s)   /* lws allocates it with the first request: a bare connect has none */
			relay_http_free(&s->http);
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
	{ "tether.v1", ws_callback, sizeof(struct ws_session), 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void on_listen_readable(uv_poll_t *p, int status, int events)
{
	struct relay_ws *ws = p->data;
	(void)events;
	if (status < 0)
		return;
	for (;;) {
		int one = 1;
		int fd = accept4(ws->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				relay_log(RELAY_LOG_WARN, "accept: %s", strerror(errno));
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (!lws_adopt_socket_vhost(ws->vhost, fd))
			relay_log(RELAY_LOG_WARN, "lws could not adopt a new connection");
	}
}

static void lws_log_emit(int level, const char *line)
{
	relay_log(level == LLL_ERR ? RELAY_LOG_WARN : RELAY_LOG_DEBUG, "lws: %s", line);
}

int relay_ws_start(uv_loop_t *loop, struct relay_conn_env *env, struct relay_gate *gate,
		   int listen_fd, struct relay_ws **out, char err[RELAY_ERR_MAX])
{
	const struct relay_config *cfg = gate->cfg;
	struct relay_ws *ws = calloc(1, sizeof *ws);
	struct lws_context_creation_info info;
	void *loops[] = { loop };

	if (!ws) {
		snprintf(err, RELAY_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	ws->env = env;
	ws->gate = gate;
	ws->listen_fd = listen_fd;
	ws->retry.secs_since_valid_ping = (uint16_t)cfg->ping_interval_s;
	ws->retry.secs_since_valid_hangup = (uint16_t)(2 * cfg->ping_interval_s + 1);

	lws_set_log_level(cfg->log_level >= RELAY_LOG_DEBUG ? LLL_ERR | LLL_WARN | LLL_NOTICE
							    : LLL_ERR,
			  lws_log_emit);
	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8 |
		       LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.foreign_loops = loops;
	info.pcontext = &ws->context;
	info.gid = (gid_t)-1;
	info.uid = (uid_t)-1;
	ws->context = lws_create_context(&info);
	if (!ws->context) {
		snprintf(err, RELAY_ERR_MAX, "libwebsockets could not join the libuv loop "
			 "(is libwebsockets-evlib-uv installed?)");
		free(ws);
		return -EIO;
	}
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = protocols;
	info.vhost_name = "tetherd";
	info.user = ws;
	info.retry_and_idle_policy = &ws->retry;
	info.max_http_header_data = 4096;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8;
	ws->vhost = lws_create_vhost(ws->context, &info);
	if (!ws->vhost) {
		snprintf(err, RELAY_ERR_MAX, "libwebsockets could not create its server");
		lws_context_destroy(ws->context);
		free(ws);   /* lws runs its teardown on the loop; we hold nothing it uses */
		return -EIO;
	}
	uv_poll_init(loop, &ws->poll, listen_fd);
	ws->poll.data = ws;
	uv_poll_start(&ws->poll, UV_READABLE, on_listen_readable);
	*out = ws;
	return 0;
}

static void poll_closed(uv_handle_t *h)
{
	struct relay_ws *ws = h->data;
	close(ws->listen_fd);
	ws->listen_fd = -1;
	ws->poll_closed = true;
}

void relay_ws_stop_listening(struct relay_ws *ws)
{
	if (ws && !uv_is_closing((uv_handle_t *)&ws->poll))
		uv_close((uv_handle_t *)&ws->poll, poll_closed);
}

static void note_closing(uv_handle_t *h, void *arg)
{
	if (uv_is_closing(h))
		*(bool *)arg = true;
}

/* On a foreign loop lws 4.1 tears down in two calls: the first starts closing
 * its libuv handles, a later one (the server's stop timer calls this every
 * tick) finishes and sets ws->context to NULL through info.pcontext. That
 * later call unloads lws's libuv plugin, whose code the close callbacks of
 * those handles are: it waits until no handle on the loop is still closing
 * (a tick can come before the loop has run the close callbacks). */
void relay_ws_stop(struct relay_ws *ws)
{
	relay_ws_stop_listening(ws);
	if (ws && ws->context) {
		bool closing = false;
		if (ws->destroying)
			uv_walk(ws->poll.loop, note_closing, &closing);
		if (closing)
			return;
		ws->destroying = true;
		lws_context_destroy(ws->context);
	}
}

bool relay_ws_stopped(const struct relay_ws *ws)
{
	return ws->poll_closed && !ws->context;
}

long relay_ws_count(const struct relay_ws *ws)
{
	return ws->count;
}

void relay_ws_free(struct relay_ws *ws)
{
	free(ws);
}
