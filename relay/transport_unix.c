/* Unix-socket transport: byte-stream framing, peers of our own uid only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define READ_CHUNK 65536

struct relay_unix {
	struct relay_conn_env *env; /* borrowed from the server */
	long max_connections;
	uv_pipe_t server;
	bool server_closed;
	long count;                 /* accepted connections not yet closed */
	struct unix_client *clients;
};

struct unix_client {
	uv_pipe_t pipe;
	struct relay_unix *ux;             /* borrowed */
	struct relay_conn *conn;           /* owned */
	struct unix_client *prev, *next;
	struct relay_frame_reader reader;
	uint8_t *pending;                  /* read but not yet parsed (while paused) */
	size_t pending_len, pending_off;
	bool reading;
	bool closing;                      /* uv_close called */
	size_t in_flight;                  /* write requests not yet completed */
};

static void client_closed(uv_handle_t *h)
{
	struct unix_client *cl = h->data;
	struct relay_unix *ux = cl->ux;
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		ux->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	relay_conn_free(cl->conn);
	relay_frame_reader_free(&cl->reader);
	free(cl->pending);
	ux->count--;
	free(cl);
}

static void client_close_now(struct unix_client *cl)
{
	if (cl->closing)
		return;
	cl->closing = true;
	relay_log(RELAY_LOG_INFO, "conn %llu: unix client closed", (unsigned long long)cl->conn->id);
	uv_close((uv_handle_t *)&cl->pipe, client_closed);
}

static void on_write(uv_write_t *req, int status)
{
	struct relay_out *o = req->data;
	struct unix_client *cl = o->req.handle->data;
	size_t len = o->len;
	free(o);
	cl->in_flight--;
	if (cl->closing)
		return;
	relay_conn_sent(cl->conn, len);
	if (status < 0 || (cl->conn->closing && !cl->in_flight))
		client_close_now(cl);
}

static void unix_kick(struct relay_conn *c)
{
	struct unix_client *cl = c->transport;
	struct relay_out *o;
	while ((o = relay_conn_pop(c))) {
		uint8_t *hdr = o->buf + RELAY_OUT_HEADROOM - RELAY_FRAME_HEADER;
		relay_frame_header_write(hdr, o->kind, (uint32_t)o->len);
		uv_buf_t buf = uv_buf_init((char *)hdr, (unsigned)(o->len + RELAY_FRAME_HEADER));
		o->req.data = o;
		if (cl->closing || uv_write(&o->req, (uv_stream_t *)&cl->pipe, &buf, 1, on_write)) {
			relay_conn_sent(c, o->len);
			free(o);
			client_close_now(cl);
			continue;
		}
		cl->in_flight++;
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct unix_client *cl = h->data;
	(void)suggested;
	/* Reading stops while input is pending, so one chunk is all we hold. */
	if (!cl->pending)
		cl->pending = malloc(READ_CHUNK);
	*buf = uv_buf_init((char *)cl->pending, cl->pending ? READ_CHUNK : 0);
}

/* Parses pending input until it runs out, the client must close, or the
 * connection's queue is full (then the rest waits for relay_conn_sent). */
static void process_pending(struct unix_client *cl)
{
	struct relay_conn *c = cl->conn;
	while (cl->pending_off < cl->pending_len && !c->closing && !cl->closing) {
		struct relay_frame f;
		long n = relay_frame_feed(&cl->reader, cl->pending + cl->pending_off,
					  cl->pending_len - cl->pending_off, &f);
		if (n < 0) {
			relay_log(RELAY_LOG_WARN, "conn %llu: out of memory reading a frame",
				  (unsigned long long)c->id);
			client_close_now(cl);
			return;
		}
		cl->pending_off += (size_t)n;
		switch (f.event) {
		case RELAY_FRAME_NONE:
			break;
		case RELAY_FRAME_MESSAGE:
			if (f.kind == RELAY_FRAME_TEXT)
				relay_proto_text(c, (const char *)f.data, f.len);
			else
				relay_proto_binary(c, f.data, f.len);
			break;
		case RELAY_FRAME_TOO_LARGE:
			relay_proto_too_large(c, f.len);
			break;
		case RELAY_FRAME_BAD_KIND:
			relay_proto_error(c, NULL, "protocol_violation", NULL, NULL,
					  "frame kind %u is not 1 (text) or 2 (binary); closing",
					  f.kind);
			relay_conn_close(c, 1002, "protocol violation");
			break;
		}
		if (relay_conn_pause_if_full(c))
			return;
	}
	if (cl->pending_off >= cl->pending_len)
		cl->pending_len = cl->pending_off = 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct unix_client *cl = s->data;
	(void)buf;
	if (n == 0)
		return;
	if (n < 0) {
		/* EOF or error: whatever was queued is of no use to a gone peer. */
		client_close_now(cl);
		return;
	}
	cl->pending_len = (size_t)n;
	cl->pending_off = 0;
	process_pending(cl);
	if (cl->pending_len && cl->reading && !cl->closing) {
		uv_read_stop(s);
		cl->reading = false;
	}
}

static void unix_set_paused(struct relay_conn *c, bool paused)
{
	struct unix_client *cl = c->transport;
	if (cl->closing)
		return;
	if (paused) {
		if (cl->reading)
			uv_read_stop((uv_stream_t *)&cl->pipe);
		cl->reading = false;
		return;
	}
	process_pending(cl);
	if (!cl->pending_len && !cl->reading && !c->paused && !c->closing && !cl->closing) {
		uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read);
		cl->reading = true;
	}
}

static void unix_close(struct relay_conn *c)
{
	struct unix_client *cl = c->transport;
	if (cl->reading) {
		uv_read_stop((uv_stream_t *)&cl->pipe);
		cl->reading = false;
	}
	if (!cl->in_flight && !c->out_head)
		client_close_now(cl);
}

static const struct relay_transport_ops unix_ops = {
	.name = "unix",
	.kick = unix_kick,
	.set_paused = unix_set_paused,
	.close = unix_close,
};

/* Sends one error and closes: for connections refused at accept time. */
static void refuse(struct unix_client *cl, const char *code, const char *message)
{
	relay_proto_error(cl->conn, NULL, code, NULL, NULL, "%s", message);
	relay_conn_close(cl->conn, 1008, message);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct relay_unix *ux = server->data;
	struct unix_client *cl;
	struct ucred cred;
	socklen_t len = sizeof cred;
	uv_os_fd_t fd;

	if (status < 0) {
		relay_log(RELAY_LOG_WARN, "unix socket accept: %s", uv_strerror(status));
		return;
	}
	cl = calloc(1, sizeof *cl);
	if (!cl)
		return;
	uv_pipe_init(server->loop, &cl->pipe, 0);
	cl->pipe.data = cl;
	cl->ux = ux;
	if (uv_accept(server, (uv_stream_t *)&cl->pipe)) {
		uv_close((uv_handle_t *)&cl->pipe, (uv_close_cb)free);
		return;
	}
	cl->conn = relay_conn_new(ux->env, &unix_ops, cl);
	if (!cl->conn) {
		uv_close((uv_handle_t *)&cl->pipe, (uv_close_cb)free);
		return;
	}
	relay_frame_reader_init(&cl->reader, ux->env->max_message_bytes);
	cl->next = ux->clients;
	if (ux->clients)
		ux->clients->prev = cl;
	ux->clients = cl;
	ux->count++;

	if (uv_fileno((uv_handle_t *)&cl->pipe, &fd) ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		refuse(cl, "forbidden_peer", "cannot identify the peer (SO_PEERCRED)");
		return;
	}
	if (cred.uid != getuid()) {
		relay_log(RELAY_LOG_WARN, "conn %llu: refused unix peer pid %d uid %u (we are uid %u)",
			  (unsigned long long)cl->conn->id, (int)cred.pid, (unsigned)cred.uid,
			  (unsigned)getuid());
		refuse(cl, "forbidden_peer", "only the daemon's own user may connect");
		return;
	}
	if (ux->count > ux->max_connections) {
		relay_log(RELAY_LOG_WARN, "conn %llu: refused unix peer: %ld connections, the maximum",
			  (unsigned long long)cl->conn->id, ux->max_connections);
		refuse(cl, "too_many_connections", "max_connections unix connections are open");
		return;
	}
	relay_log(RELAY_LOG_INFO, "conn %llu: unix client pid %d connected",
		  (unsigned long long)cl->conn->id, (int)cred.pid);
	uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read);
	cl->reading = true;
}

int relay_unix_start(uv_loop_t *loop, struct relay_conn_env *env, long max_connections,
		     const char *path, int activated_fd, struct relay_unix **out,
		     char err[RELAY_ERR_MAX])
{
	struct relay_unix *ux = calloc(1, sizeof *ux);
	int rc;

	if (!ux) {
		snprintf(err, RELAY_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	ux->env = env;
	ux->max_connections = max_connections;
	uv_pipe_init(loop, &ux->server, 0);
	ux->server.data = ux;
	if (activated_fd >= 0) {
		rc = uv_pipe_open(&ux->server, activated_fd);
	} else {
		/* We hold the runtime dir's lock, so a socket file left here is stale. */
		unlink(path);
		mode_t old = umask(0077);
		rc = uv_pipe_bind(&ux->server, path);
		umask(old);
	}
	if (!rc)
		rc = uv_listen((uv_stream_t *)&ux->server, 128, on_connection);
	if (rc) {
		snprintf(err, RELAY_ERR_MAX, "cannot listen on unix socket %s: %s", path,
			 uv_strerror(rc));
		ux->server_closed = true;
		uv_close((uv_handle_t *)&ux->server, NULL);
		*out = ux;   /* freed by the caller's relay_unix_stop path */
		return rc;
	}
	*out = ux;
	return 0;
}

static void server_closed(uv_handle_t *h)
{
	struct relay_unix *ux = h->data;
	ux->server_closed = true;
}

void relay_unix_stop_listening(struct relay_unix *ux)
{
	if (ux && !uv_is_closing((uv_handle_t *)&ux->server))
		uv_close((uv_handle_t *)&ux->server, server_closed);
}

void relay_unix_stop(struct relay_unix *ux)
{
	if (!ux)
		return;
	relay_unix_stop_listening(ux);
	for (struct unix_client *cl = ux->clients; cl; cl = cl->next)
		client_close_now(cl);
}

bool relay_unix_stopped(const struct relay_unix *ux)
{
	return ux->server_closed && !ux->clients;
}

void relay_unix_free(struct relay_unix *ux)
{
	free(ux);
}

long relay_unix_count(const struct relay_unix *ux)
{
	return ux->count;
}
