/* The server: configuration, token, listeners, the module list, the
 * connection registry, start and stop. The only file that knows them all. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define RELAY_MAX_ROUTES 64

#define STOP_GRACE_MS 2000   /* time given to clients to receive the shutdown */

struct relay_server {
	uv_loop_t *loop;                  /* borrowed from main */
	struct relay_config cfg;
	char token[RELAY_TOKEN_HEX + 1];
	int port;
	char socket_path[128];
	char started_at[RELAY_ISO8601_MAX];
	uint64_t started_ms;
	struct relay_ws *ws;
	struct relay_unix *ux;
	struct relay_core core;           /* hello and status */
	struct relay_module *modules[RELAY_MAX_MODULES + 1];   /* the core, then the features */
	struct relay_http_route routes[RELAY_MAX_ROUTES];     /* the modules', in module order */
	size_t n_routes;
	size_t n_modules;
	struct relay_conn_env env;        /* handed to every connection */
	struct relay_gate gate;           /* what every HTTP request passes */
	struct relay_conn *conns;         /* all transports */
	long n_conns;
	bool stopping;
	bool socket_activated_unix;       /* systemd owns the socket file */
	void (*changed)(void *arg);
	void *changed_arg;
	uv_timer_t stop_timer;
	uint64_t stop_deadline_ms;
	void (*done)(void *arg);
	void *done_arg;
	cJSON *platform;                  /* owned; `status` copies it */
};

int relay_server_port(const struct relay_server *srv)
{
	return srv->port;
}

void relay_server_on_change(struct relay_server *srv, void (*changed)(void *arg), void *arg)
{
	srv->changed = changed;
	srv->changed_arg = arg;
}

static void changed(struct relay_server *srv)
{
	if (srv->changed)
		srv->changed(srv->changed_arg);
}

static void server_info(void *arg, struct relay_core_info *out)
{
	const struct relay_server *srv = arg;
	out->pid = (int)getpid();
	out->port = srv->port;
	out->socket_path = srv->socket_path;
	out->uptime_ms = relay_now_ms() - srv->started_ms;
	out->started_at = srv->started_at;
	out->connections_ws = srv->ws ? relay_ws_count(srv->ws) : 0;
	out->connections_unix = srv->ux ? relay_unix_count(srv->ux) : 0;
}

void relay_server_summary(const struct relay_server *srv, char *buf, size_t len)
{
	struct relay_core_info in;
	server_info((void *)srv, &in);
	if (srv->stopping) {
		snprintf(buf, len, "stopping");
		return;
	}
	int n = snprintf(buf, len, "127.0.0.1:%d; %ld client%s (%ld websocket, %ld unix)", in.port,
			 in.connections_ws + in.connections_unix,
			 in.connections_ws + in.connections_unix == 1 ? "" : "s", in.connections_ws,
			 in.connections_unix);
	for (size_t i = 0; i < srv->n_modules && n > 0 && (size_t)n < len; i++) {
		struct relay_module *m = srv->modules[i];
		char part[64];
		if (!m->ops->summary)
			continue;
		*part = 0;
		m->ops->summary(m, part, sizeof part);
		if (*part)   /* a module with nothing to say (infer with no model loaded) adds nothing */
			n += snprintf(buf + n, len - (size_t)n, "; %s", part);
	}
}

/* The connection registry, kept through the callbacks every connection's
 * env carries. */
static void conn_opened(void *arg, struct relay_conn *c)
{
	struct relay_server *srv = arg;
	srv->n_conns++;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	changed(srv);
}

static void conn_closed(void *arg, struct relay_conn *c)
{
	struct relay_server *srv = arg;
	srv->n_conns--;
	if (c->prev)
		c->prev->next = c->next;
	else if (srv->conns == c)
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	changed(srv);
}

/* The TCP listener: 127.0.0.1 only, never 0.0.0.0 or ::. */
static int listen_loopback(int port, int *bound_port, char err[RELAY_ERR_MAX])
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	socklen_t len = sizeof sa;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 128) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		int e = errno;
		snprintf(err, RELAY_ERR_MAX, "cannot listen on 127.0.0.1:%d: %s%s", port, strerror(e),
			 e == EADDRINUSE ? " (another tetherd or program has it; choose "
					   "another with --port, or --port 0)" : "");
		if (fd >= 0)
			close(fd);
		return -e;
	}
	*bound_port = ntohs(sa.sin_port);
	return fd;
}

static int write_endpoint(struct relay_server *srv)
{
	cJSON *ep = cJSON_CreateObject();
	char url[64];
	snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", srv->port);
	cJSON_AddStringToObject(ep, "url", url);
	cJSON_AddNumberToObject(ep, "port", srv->port);
	cJSON_AddNumberToObject(ep, "pid", (double)getpid());
	cJSON_AddStringToObject(ep, "version", TETHER_VERSION);
	cJSON_AddNumberToObject(ep, "protocol", RELAY_PROTOCOL_VERSION);
	cJSON_AddStringToObject(ep, "socket", srv->socket_path);
	cJSON_AddStringToObject(ep, "started_at", srv->started_at);
	char *text = cJSON_Print(ep);
	cJSON_Delete(ep);
	if (!text)
		return -ENOMEM;
	int rc = relay_write_file_atomic(srv->cfg.runtime_dir, RELAY_ENDPOINT_NAME, text);
	cJSON_free(text);
	return rc;
}

static void remove_runtime_files(struct relay_server *srv)
{
	static const char *const names[] = { RELAY_ENDPOINT_NAME, RELAY_TOKEN_NAME };
	char path[256];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!relay_runtime_path(path, sizeof path, srv->cfg.runtime_dir, names[i]))
			unlink(path);
	if (!srv->socket_activated_unix)
		unlink(srv->socket_path);
}

/* A TCP listener from a socket unit: the port it has must be the one asked
 * for (port 0 accepts any), so a setting is never silently overruled. */
static int adopt_tcp(int fd, int port, int *bound_port, char err[RELAY_ERR_MAX])
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	if (getsockname(fd, (struct sockaddr *)&sa, &len)) {
		snprintf(err, RELAY_ERR_MAX, "socket activation: getsockname: %s", strerror(errno));
		return -errno;
	}
	*bound_port = ntohs(sa.sin_port);
	if (port && port != *bound_port) {
		snprintf(err, RELAY_ERR_MAX, "socket activation passed 127.0.0.1:%d but the port "
			 "setting is %d; make ListenStream= and port agree (or set port 0)",
			 *bound_port, port);
		return -EINVAL;
	}
	return fd;
}

/* A unix listener from a socket unit must be where clients look for it. */
static int check_unix_path(int fd, const char *expected, char err[RELAY_ERR_MAX])
{
	struct sockaddr_un sa;
	socklen_t len = sizeof sa;
	memset(&sa, 0, sizeof sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &len)) {
		snprintf(err, RELAY_ERR_MAX, "socket activation: getsockname: %s", strerror(errno));
		return -errno;
	}
	if (strncmp(sa.sun_path, expected, sizeof sa.sun_path)) {
		snprintf(err, RELAY_ERR_MAX, "socket activation passed the unix socket %s but "
			 "clients look for %s; make ListenStream= and runtime_dir agree",
			 *sa.sun_path ? sa.sun_path : "(unnamed)", expected);
		return -EINVAL;
	}
	return 0;
}

/* Every module's shutdown (the features'; the core has nothing to end). */
static void shutdown_modules(struct relay_server *srv)
{
	for (size_t i = 0; i < srv->n_modules; i++)
		srv->modules[i]->ops->shutdown(srv->modules[i]);
}

int relay_server_start(uv_loop_t *loop, const struct relay_config *cfg,
		       const struct relay_listen_fds *fds, struct relay_module *const *modules,
		       size_t n_modules, struct relay_server **out, char err[RELAY_ERR_MAX])
{
	struct relay_server *srv = calloc(1, sizeof *srv);
	int rc, fd;

	if (!srv || n_modules > RELAY_MAX_MODULES) {
		snprintf(err, RELAY_ERR_MAX, srv ? "more than %d modules" : "out of memory",
			 RELAY_MAX_MODULES);
		free(srv);
		return -ENOMEM;
	}
	srv->loop = loop;
	srv->cfg = *cfg;
	srv->started_ms = relay_now_ms();
	relay_iso8601_now(srv->started_at, sizeof srv->started_at, false);

	relay_core_init(&srv->core);
	srv->core.modules = srv->modules + 1;
	srv->core.n_modules = n_modules;
	srv->core.max_message_bytes = cfg->max_message_bytes;
	srv->core.max_queued_bytes = cfg->max_queued_bytes;
	srv->core.max_connections = cfg->max_connections;
	srv->core.info = server_info;
	srv->core.info_arg = srv;
	srv->modules[srv->n_modules++] = &srv->core.module;
	for (size_t i = 0; i < n_modules; i++)
		srv->modules[srv->n_modules++] = modules[i];
	srv->env = (struct relay_conn_env){
		.max_queued_bytes = (size_t)cfg->max_queued_bytes,
		.max_message_bytes = (size_t)cfg->max_message_bytes,
		.modules = srv->modules,
		.n_modules = srv->n_modules,
		.opened = conn_opened,
		.closed = conn_closed,
		.arg = srv,
	};
	srv->gate.cfg = &srv->cfg;
	srv->gate.token = srv->token;
	for (size_t i = 0; i < srv->n_modules; i++) {
		const struct relay_http_route *r = NULL;
		size_t n = srv->modules[i]->ops->routes ? srv->modules[i]->ops->routes(srv->modules[i], &r) : 0;
		for (size_t k = 0; k < n; k++) {
			if (srv->n_routes == RELAY_MAX_ROUTES) {
				snprintf(err, RELAY_ERR_MAX, "more than %d HTTP routes", RELAY_MAX_ROUTES);
				rc = -E2BIG;
				goto fail_free;
			}
			srv->routes[srv->n_routes++] = r[k];
		}
	}
	srv->gate.routes = srv->routes;
	srv->gate.n_routes = srv->n_routes;

	if (relay_runtime_path(srv->socket_path, sizeof srv->socket_path, cfg->runtime_dir,
			       RELAY_SOCKET_NAME) || strlen(srv->socket_path) >= 108) {
		snprintf(err, RELAY_ERR_MAX, "runtime dir %s is too long for a unix socket path",
			 cfg->runtime_dir);
		rc = -ENAMETOOLONG;
		goto fail_free;
	}
	rc = relay_token_generate(srv->token);
	if (rc) {
		snprintf(err, RELAY_ERR_MAX, "getrandom: %s", strerror(-rc));
		goto fail_free;
	}
	if (fds && fds->unix_fd >= 0 &&
	    (rc = check_unix_path(fds->unix_fd, srv->socket_path, err)))
		goto fail_free;
	if (fds && fds->tcp_fd >= 0)
		fd = adopt_tcp(fds->tcp_fd, cfg->port, &srv->port, err);
	else
		fd = listen_loopback(cfg->port, &srv->port, err);
	if (fd < 0) {
		rc = fd;
		goto fail_free;
	}
	srv->gate.port = srv->port;
	rc = relay_ws_start(loop, &srv->env, &srv->gate, fd, &srv->ws, err);
	if (rc) {
		close(fd);
		goto fail_free;
	}
	srv->socket_activated_unix = fds && fds->unix_fd >= 0;
	rc = relay_unix_start(loop, &srv->env, cfg->max_connections, srv->socket_path,
			      fds ? fds->unix_fd : -1, &srv->ux, err);
	if (rc)
		goto fail_ws;
	for (size_t i = 0; i < srv->n_modules; i++) {
		struct relay_module *m = srv->modules[i];
		if (m->ops->start && (rc = m->ops->start(m, err)))
			goto fail_unix;
	}
	/* The token file first: a client that sees the endpoint can read it. */
	rc = relay_write_file_atomic(cfg->runtime_dir, RELAY_TOKEN_NAME, srv->token);
	if (!rc)
		rc = write_endpoint(srv);
	if (rc) {
		snprintf(err, RELAY_ERR_MAX, "cannot write into runtime dir %s: %s", cfg->runtime_dir,
			 strerror(-rc));
		goto fail_unix;
	}
	uv_timer_init(loop, &srv->stop_timer);
	*out = srv;
	return 0;

fail_unix:
	shutdown_modules(srv);
	remove_runtime_files(srv);
	relay_unix_stop(srv->ux);
fail_ws:
	relay_ws_stop(srv->ws);
	/* The handles close on the loop's next turns; main exits after a failed
	 * start, so the few bytes of srv are not worth a deferred free. */
	return rc;
fail_free:
	shutdown_modules(srv);
	free(srv);
	return rc;
}

static void stop_timer_closed(uv_handle_t *h)
{
	struct relay_server *srv = h->data;
	void (*done)(void *) = srv->done;
	void *arg = srv->done_arg;
	explicit_bzero(srv->token, sizeof srv->token);
	cJSON_Delete(srv->platform);
	free(srv);
	if (done)
		done(arg);
}

static void stop_tick(uv_timer_t *t)
{
	struct relay_server *srv = t->data;
	bool deadline = relay_now_ms() >= srv->stop_deadline_ms;

	if (srv->conns && !deadline)
		return;
	/* Clients had their chance; now the transports tear down what is left. */
	relay_ws_stop(srv->ws);
	relay_unix_stop(srv->ux);
	if (!relay_ws_stopped(srv->ws) || !relay_unix_stopped(srv->ux))
		return;
	for (size_t i = 0; i < srv->n_modules; i++)
		if (!srv->modules[i]->ops->stopped(srv->modules[i]))
			return;
	for (size_t i = 0; i < srv->n_modules; i++)
		srv->modules[i]->ops->free(srv->modules[i]);
	srv->n_modules = 0;
	relay_ws_free(srv->ws);
	relay_unix_free(srv->ux);
	srv->ws = NULL;
	srv->ux = NULL;
	uv_timer_stop(t);
	uv_close((uv_handle_t *)t, stop_timer_closed);
}

void relay_server_stop(struct relay_server *srv, const char *reason,
		       void (*done)(void *arg), void *arg)
{
	if (srv->stopping)
		return;
	srv->stopping = true;
	srv->gate.stopping = true;
	srv->done = done;
	srv->done_arg = arg;
	relay_log(RELAY_LOG_INFO, "stopping: %s", reason);
	relay_ws_stop_listening(srv->ws);
	relay_unix_stop_listening(srv->ux);
	remove_runtime_files(srv);
	/* The modules end their work first (waiting hooks are answered while
	 * their callers can still read; terminals get SIGHUP, as when a
	 * terminal emulator quits), then every client hears why. */
	shutdown_modules(srv);
	for (struct relay_conn *c = srv->conns; c; c = c->next) {
		cJSON *ev = cJSON_CreateObject();
		cJSON_AddStringToObject(ev, "type", "shutdown");
		cJSON_AddStringToObject(ev, "reason", reason);
		relay_conn_send_json(c, ev);
		relay_conn_close(c, 1001, reason);
	}
	srv->stop_deadline_ms = relay_now_ms() + STOP_GRACE_MS;
	srv->stop_timer.data = srv;
	uv_timer_start(&srv->stop_timer, stop_tick, 0, 10);
}

void relay_server_set_platform(struct relay_server *srv, cJSON *platform)
{
	cJSON_Delete(srv->platform);
	srv->platform = platform;
	srv->core.platform = platform;
}
