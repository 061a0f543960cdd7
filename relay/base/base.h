/*
 * relay/base: the leaves that tetherd and the tether CLI share. Settings,
 * runtime paths and the single-instance lock, logging, the byte-stream frame
 * codec, UTF-8 checks, the clock and small-file helpers. Nothing here knows
 * about connections, features or the server, and nothing here blocks for long.
 *
 * Functions return 0 or a negative errno unless they say otherwise.
 */
#ifndef TETHER_RELAY_BASE_H
#define TETHER_RELAY_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#ifndef TETHER_VERSION
#define TETHER_VERSION "0.0.0-dev"
#endif

#define RELAY_PROTOCOL_VERSION 1
#define RELAY_DEFAULT_PORT 7420
#define RELAY_MAX_ORIGINS 16
#define RELAY_ORIGIN_MAX 256
#define RELAY_ERR_MAX 512 /* size of every error-message buffer below */
#define RELAY_MAX_MODEL_PATHS 16
#define RELAY_PATH_MAX 1024

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
	char models_dir[RELAY_PATH_MAX]; /* every *.gguf here is a model; "" = the default */
	char models[RELAY_MAX_MODEL_PATHS][RELAY_PATH_MAX]; /* --model: more model files */
	int n_models;
	long infer_parallel;           /* streams one loaded model runs at once (slots) */
	long infer_queue;              /* requests waiting for a slot, per model */
	long infer_max_loaded;         /* models loaded at once */
	long keep_alive_s;             /* an idle model is unloaded after this; -1 = never */
	long infer_ctx;                /* context per slot; 0 = trained, capped at 4096 */
	long infer_threads;            /* 0 = online CPUs */
	long infer_max_memory_mb;      /* loaded models in all; 0 = MemAvailable only */
};

/* The models directory: models_dir, or $XDG_DATA_HOME/tether/models
 * (~/.local/share/tether/models). */
int relay_models_dir(const struct relay_config *cfg, char *buf, size_t len);

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

/* config.c: */
/* The config file's parser on text already read (fuzzed). path is for messages. */
int relay_config_load_text(struct relay_config *cfg, const char *text, size_t len,
			   const char *path, char err[RELAY_ERR_MAX]);

/* Per-user single instance: flock on RUNTIME_DIR/NAME (RELAY_LOCK_NAME for
 * tetherd, RELAY_ANCHOR_LOCK_NAME for the anchor), holding the owner's pid.
 * Returns the lock fd (kept open for the process's life), or -EBUSY with the
 * holder's pid in *holder_pid. The kernel drops the lock when its holder
 * dies, so a stale file (dead pid) is simply taken over. */
int relay_lock_acquire(const char *dir, const char *name, long *holder_pid);


#define RELAY_TOKEN_BYTES 32
#define RELAY_TOKEN_HEX (2 * RELAY_TOKEN_BYTES)   /* the token file holds this many hex digits */

/* ---- frame.c: [u32 BE length][u8 kind][payload] on byte streams --------- */

#define RELAY_FRAME_HEADER 5
enum relay_frame_kind { RELAY_FRAME_TEXT = 1, RELAY_FRAME_BINARY = 2 };

enum relay_frame_event {
	RELAY_FRAME_NONE,       /* need more bytes */
	RELAY_FRAME_MESSAGE,    /* a whole message: kind, data, len */
	RELAY_FRAME_TOO_LARGE,  /* header announced len > max; payload will be skipped */
	RELAY_FRAME_BAD_KIND,   /* kind is not 1 or 2: the stream is unusable */
};

struct relay_frame_reader {
	uint8_t header[RELAY_FRAME_HEADER];
	size_t header_have;
	uint8_t kind;
	uint32_t len;          /* payload length announced by the header */
	size_t have;           /* payload bytes received (or skipped) */
	bool skipping;         /* discarding an oversize payload */
	bool failed;           /* after BAD_KIND: consumes nothing more */
	size_t max_payload;
	uint8_t *buf;          /* owned; max_payload bytes at most */
	size_t buf_cap;
};

void relay_frame_reader_init(struct relay_frame_reader *r, size_t max_payload);
void relay_frame_reader_free(struct relay_frame_reader *r);

struct relay_frame {
	enum relay_frame_event event;
	uint8_t kind;
	const uint8_t *data;   /* borrowed from the reader; valid until the next feed */
	size_t len;            /* payload length (announced length for TOO_LARGE) */
};

/* Consumes bytes until one event is complete or the input ends; returns the
 * number of bytes consumed (the caller feeds the rest after handling the
 * event). Returns -ENOMEM if the payload buffer cannot grow. */
long relay_frame_feed(struct relay_frame_reader *r, const uint8_t *in, size_t len,
		      struct relay_frame *out);

void relay_frame_header_write(uint8_t out[RELAY_FRAME_HEADER], uint8_t kind, uint32_t len);

/* ---- files.c: small files and directories ------------------------------ */

/* A small text file, NUL-terminated, at most max bytes of it (the rest is not
 * read); NULL when it cannot be opened. The caller frees it. */
char *relay_read_text(const char *path, size_t max);
/* Writes content to dir/name with mode 0600 through a temporary file and
 * rename(2), so a reader never sees half a file. */
int relay_write_file_atomic(const char *dir, const char *name, const char *content);
/* mkdir -p: path and its missing parents, each created with mode. */
int relay_mkdir_parents(const char *path, mode_t mode);
/* NAME in the directory of the running binary when it is there and
 * executable (0); else buf holds NAME alone, to be found on PATH (-ENOENT). */
int relay_sibling_exe(const char *name, char *buf, size_t len);

/* ---- utf8.c: text checks on untrusted bytes ------------------------------ */

/* UTF-8 as RFC 3629 defines it (no overlongs, surrogates, or > U+10FFFF). */
bool relay_utf8_valid(const uint8_t *s, size_t len);
/* Copies s[0..len) to out as valid UTF-8 without NUL (for a C string), each
 * NUL and each byte that starts no valid character becoming U+FFFD; a character cut at the end is left for the next
 * call (unless final: then it too becomes U+FFFD). Returns the bytes of s
 * consumed, *out_len those written; out has room for 3 * len bytes. */
size_t relay_utf8_whole(const char *s, size_t len, bool final, char *out, size_t *out_len);
/* Length of the longest prefix of s of at most max bytes that does not cut a
 * character: for "%.*s" in messages. */
int relay_utf8_prefix(const char *s, size_t max);
/* True when JSON text holds the escape \u0000 (refused: cJSON would cut
 * the string there). */
bool relay_json_has_escaped_nul(const char *s, size_t len);
/* Sets obj's member name to v written digit for digit (replacing one there):
 * cJSON prints some integers past 2^52, a seed, rounded to 15 digits. */
struct cJSON;
void relay_json_set_integer(struct cJSON *obj, const char *name, uint64_t v);

/* ---- clock.c -------------------------------------------------------------- */

uint64_t relay_now_ms(void);    /* monotonic */
/* The wall clock as ISO 8601 UTC: "2026-01-02T03:04:05Z", or with millis
 * "2026-01-02T03:04:05.678Z". buf holds at least RELAY_ISO8601_MAX bytes. */
#define RELAY_ISO8601_MAX 32
void relay_iso8601_now(char *buf, size_t len, bool millis);

#endif
