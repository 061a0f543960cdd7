/*
 * relay: tetherd's public API.
 *
 * main() owns the libuv loop and hands it to relay_server_start(); the server
 * joins libwebsockets to that loop, listens on 127.0.0.1 and on a unix socket,
 * and speaks protocol v1 (docs/protocol.md) on both. Nothing here blocks the loop.
 *
 * Functions return 0 or a negative errno unless they say otherwise.
 */
#ifndef TETHER_RELAY_H
#define TETHER_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <uv.h>

#define RELAY_PROTOCOL_VERSION 1
#define RELAY_DEFAULT_PORT 7420
#define RELAY_MAX_ORIGINS 16
#define RELAY_ORIGIN_MAX 256
#define RELAY_ERR_MAX 512 /* size of every error-message buffer below */

enum relay_log_level {
	RELAY_LOG_ERROR,
	RELAY_LOG_WARN,
	RELAY_LOG_INFO,
	RELAY_LOG_DEBUG,
};

/* Every setting of tetherd. Defaults: relay_config_defaults(); documented in
 * docs/configuration.md; the table in config.c is the single source of truth. */
struct relay_config {
	int port;                      /* TCP port on 127.0.0.1; 0 = pick a free one */
	char runtime_dir[100];         /* 0700 dir for socket, token, endpoint; fits sun_path */
	char log_file[1024];           /* "" = stderr */
	int log_level;                 /* enum relay_log_level */
	char allowed_origins[RELAY_MAX_ORIGINS][RELAY_ORIGIN_MAX]; /* exact Origin values */
	int n_allowed_origins;
	long max_connections;          /* per transport */
	long max_message_bytes;        /* one protocol message, either transport */
	long max_queued_bytes;         /* per connection, before reading pauses */
	long ping_interval_s;          /* WebSocket ping on an idle connection */
	long max_sessions;             /* terminal sessions in all */
	long max_sessions_per_connection;
	long ring_bytes;               /* output kept per session for replay */
	long detach_timeout_s;         /* a detached session is closed after this */
	long max_detached;             /* detached sessions kept at most */
	long default_credit;           /* a terminal attachment's first credit */
	long close_grace_ms;           /* SIGHUP to SIGKILL on pty.close */
};

void relay_config_defaults(struct relay_config *cfg);

/* Strict JSON config file: unknown key, wrong type or out-of-range value is an
 * error naming it. Settings present in the file overwrite cfg. */
int relay_config_load_file(struct relay_config *cfg, const char *path,
			   char err[RELAY_ERR_MAX]);

/* Parses tetherd's setting flags ("--port 1", "--port=1"), overriding cfg.
 * Non-setting flags it does not know are errors; --config, --help and
 * --version must have been handled by the caller (they are skipped here). */
int relay_config_parse_args(struct relay_config *cfg, int argc, char **argv,
			    char err[RELAY_ERR_MAX]);

/* Prints the settings, their flags and defaults, for --help. */
void relay_config_print_help(FILE *out);

/* Default config file path ($XDG_CONFIG_HOME or ~/.config)/tether/tetherd.json. */
int relay_config_default_path(char *buf, size_t len);

/* Runtime directory: $TETHER_RUNTIME_DIR, else /tmp/tether-UID. */
int relay_runtime_dir_default(char *buf, size_t len);

/* Creates the runtime dir 0700 if missing; refuses one that is not a real
 * directory owned by us with no group/other access. */
int relay_runtime_dir_prepare(const char *dir, char err[RELAY_ERR_MAX]);

/* Paths inside the runtime dir. */
int relay_runtime_path(char *buf, size_t len, const char *dir, const char *name);
#define RELAY_SOCKET_NAME "tetherd.sock"
#define RELAY_TOKEN_NAME "token"
#define RELAY_ENDPOINT_NAME "endpoint.json"
#define RELAY_LOCK_NAME "tetherd.lock"
#define RELAY_LOG_NAME "tetherd.log"

/* Logging: leveled, one line per call, written with one write(2) so nothing
 * is lost when the process dies. The token is never passed to it. */
int relay_log_open(const char *path, int level);
void relay_log_close(void);
void relay_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int relay_log_level_parse(const char *name);
const char *relay_log_level_name(int level);

struct relay_server;

/* Binds both listeners, writes the token and endpoint files, then serves.
 * The caller holds the runtime dir's lock (relay_lock_acquire). On failure
 * err says why and nothing is left behind. */
int relay_server_start(uv_loop_t *loop, const struct relay_config *cfg,
		       struct relay_server **out, char err[RELAY_ERR_MAX]);

/* Graceful stop: sends `shutdown` with reason to every connection, closes
 * them, removes the runtime files, then calls done(arg) once every handle the
 * server owns is closed; the server is freed before done runs. */
void relay_server_stop(struct relay_server *srv, const char *reason,
		       void (*done)(void *arg), void *arg);

int relay_server_port(const struct relay_server *srv);

/* Per-user single instance: flock on RUNTIME_DIR/tetherd.lock. Returns the
 * lock fd (kept open for the process's life), or -EBUSY with the holder's pid
 * in *holder_pid when another tetherd holds it. */
int relay_lock_acquire(const char *dir, long *holder_pid);

#endif
