/*
 * relay: tetherd's public API.
 *
 * main() owns the libuv loop, makes the feature modules (pty/pty.h,
 * hooks/hooks.h) and hands both to relay_server_start(); the server joins
 * libwebsockets to that loop, listens on 127.0.0.1 and on a unix socket, and
 * speaks protocol v1 (docs/protocol.md) on both. Nothing here blocks the loop.
 *
 * Functions return 0 or a negative errno unless they say otherwise.
 */
#ifndef TETHER_RELAY_H
#define TETHER_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "base.h"

struct relay_server;
struct relay_module;

#define RELAY_MAX_MODULES 15   /* feature modules one server takes */

/* Listeners handed over by a socket unit (-1 = none: tetherd binds its own). */
struct relay_listen_fds {
	int tcp_fd;   /* listening on 127.0.0.1 */
	int unix_fd;  /* listening at RUNTIME_DIR/tetherd.sock */
};

/* Binds both listeners (or adopts the ones in fds, which may be NULL), starts
 * the modules, writes the token and endpoint files, then serves. The server
 * owns the modules from here on, even when it fails: it shuts them down and
 * frees them when it stops. The caller holds the runtime dir's lock
 * (relay_lock_acquire). On failure err says why and nothing is left behind. */
int relay_server_start(uv_loop_t *loop, const struct relay_config *cfg,
		       const struct relay_listen_fds *fds, struct relay_module *const *modules,
		       size_t n_modules, struct relay_server **out, char err[RELAY_ERR_MAX]);

/* Called (synchronously, on the loop) whenever connections come or go, so
 * main can report a status line (modules are handed their own callback). */
void relay_server_on_change(struct relay_server *srv, void (*changed)(void *arg), void *arg);

/* The platform summary (wsl_platform_json) for `status`, set once by main;
 * ownership transferred (NULL allowed). */
struct cJSON;
void relay_server_set_platform(struct relay_server *srv, struct cJSON *platform);

/* A one-line summary of what the server is doing, for STATUS= and logs. */
void relay_server_summary(const struct relay_server *srv, char *buf, size_t len);

/* systemd glue (each is a no-op when not under systemd). relay_sd_listen_fds
 * returns the number of fds systemd passed (0 without activation) or a
 * negative errno with err set; it refuses sockets other than one TCP listener
 * on 127.0.0.1 and one unix stream listener. */
int relay_sd_listen_fds(struct relay_listen_fds *out, char err[RELAY_ERR_MAX]);
void relay_sd_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t relay_sd_watchdog_usec(void);   /* 0 = no watchdog asked for */

/* Graceful stop: sends `shutdown` with reason to every connection, closes
 * them, removes the runtime files, then calls done(arg) once every handle the
 * server owns is closed; the server is freed before done runs. */
void relay_server_stop(struct relay_server *srv, const char *reason,
		       void (*done)(void *arg), void *arg);

int relay_server_port(const struct relay_server *srv);

#endif
