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
#include <stdint.h>
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
	char log_file[1024];           /* "" = stderr (the journal under systemd) */
	long log_max_bytes;            /* rotate log_file beyond this; 0 = never */
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

/* The settings tetherd starts from: defaults, then the file at path, or (path
 * NULL) the default file when it exists. A missing default file is no error;
 * a bad one is, as is a missing explicit one. */
int relay_config_load(struct relay_config *cfg, const char *path,
		      char err[RELAY_ERR_MAX]);

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
#define RELAY_ANCHOR_NAME "anchor.json"
#define RELAY_ANCHOR_LOCK_NAME "anchor.lock"

/* Logging: leveled, one line per call, written with one write(2) so nothing
 * is lost when the process dies. The token is never passed to it. A file
 * beyond max_bytes (0 = no limit) is renamed PATH.1 and started afresh;
 * without a file, stderr, with journal priorities when it is the journal. */
int relay_log_open(const char *path, int level, long max_bytes);
void relay_log_close(void);
int relay_log_fd(void);   /* the log file's fd, or -1 when logging to stderr */
void relay_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int relay_log_level_parse(const char *name);
const char *relay_log_level_name(int level);

struct relay_server;

/* Listeners handed over by a socket unit (-1 = none: tetherd binds its own). */
struct relay_listen_fds {
	int tcp_fd;   /* listening on 127.0.0.1 */
	int unix_fd;  /* listening at RUNTIME_DIR/tetherd.sock */
};

/* Binds both listeners (or adopts the ones in fds, which may be NULL), writes
 * the token and endpoint files, then serves. The caller holds the runtime
 * dir's lock (relay_lock_acquire). On failure err says why and nothing is
 * left behind. */
int relay_server_start(uv_loop_t *loop, const struct relay_config *cfg,
		       const struct relay_listen_fds *fds, struct relay_server **out,
		       char err[RELAY_ERR_MAX]);

/* Called (synchronously, on the loop) whenever connections or terminal
 * sessions come or go, so main can report a status line. */
void relay_server_on_change(struct relay_server *srv, void (*changed)(void *arg), void *arg);

/* A one-line summary of what the server is doing, for STATUS= and logs. */
void relay_server_summary(const struct relay_server *srv, char *buf, size_t len);

/* systemd glue (each is a no-op when not under systemd). relay_sd_listen_fds
 * returns the number of fds systemd passed (0 without activation) or a
 * negative errno with err set; it refuses sockets other than one TCP listener
 * on 127.0.0.1 and one unix stream listener. */
int relay_sd_listen_fds(struct relay_listen_fds *out, char err[RELAY_ERR_MAX]);
void relay_sd_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t relay_sd_watchdog_usec(void);   /* 0 = no watchdog asked for */
bool relay_sd_stderr_is_journal(void);
void relay_ensure_user_bus_env(void);   /* XDG_RUNTIME_DIR for systemctl --user */

/* Graceful stop: sends `shutdown` with reason to every connection, closes
 * them, removes the runtime files, then calls done(arg) once every handle the
 * server owns is closed; the server is freed before done runs. */
void relay_server_stop(struct relay_server *srv, const char *reason,
		       void (*done)(void *arg), void *arg);

int relay_server_port(const struct relay_server *srv);

/* Per-user single instance: flock on RUNTIME_DIR/NAME (RELAY_LOCK_NAME for
 * tetherd, RELAY_ANCHOR_LOCK_NAME for the anchor), holding the owner's pid.
 * Returns the lock fd (kept open for the process's life), or -EBUSY with the
 * holder's pid in *holder_pid. The kernel drops the lock when its holder
 * dies, so a stale file (dead pid) is simply taken over. */
int relay_lock_acquire(const char *dir, const char *name, long *holder_pid);

#endif
