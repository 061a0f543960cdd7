/*
 * relay internals shared by the files of this module (and its unit tests).
 * Not part of the public API.
 */
#ifndef TETHER_RELAY_INTERNAL_H
#define TETHER_RELAY_INTERNAL_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include "relay.h"

#ifndef TETHER_VERSION
#define TETHER_VERSION "0.0.0-dev"
#endif

/* ---- config.c ----------------------------------------------------------- */

/* The config file's parser on text already read (fuzzed). path is for messages. */
int relay_config_load_text(struct relay_config *cfg, const char *text, size_t len,
			   const char *path, char err[RELAY_ERR_MAX]);

/* ---- token.c ------------------------------------------------------------ */

#define RELAY_TOKEN_BYTES 32
#define RELAY_TOKEN_HEX (2 * RELAY_TOKEN_BYTES)

/* 256 bits from getrandom(2) as 64 lowercase hex digits plus NUL. */
int relay_token_generate(char out[RELAY_TOKEN_HEX + 1]);

/* Constant-time (in the candidate's content) comparison with the token. */
bool relay_token_equal(const char *candidate, size_t len, const char *token);

/* Writes content to dir/name with mode 0600 through a temporary file and
 * rename(2), so a reader never sees half a file. */
/* A small text file, NUL-terminated, at most max bytes of it (the rest is not
 * read); NULL when it cannot be opened. The caller frees it. */
char *relay_read_text(const char *path, size_t max);
/* mkdir -p: path and its missing parents, each created with mode. */
int relay_mkdir_parents(const char *path, mode_t mode);
/* NAME in the directory of the running binary when it is there and
 * executable (0); else buf holds NAME alone, to be found on PATH (-ENOENT). */
int relay_sibling_exe(const char *name, char *buf, size_t len);
/* The first line of a shell command's stdout, without its newline ("" when
 * the command fails or prints nothing); for short read-only queries. */
void relay_first_line_of(const char *cmd, char *out, size_t len);
int relay_write_file_atomic(const char *dir, const char *name, const char *content);

/* ---- auth.c: the checks on every HTTP request (pure functions) ----------- */

/* Host is 127.0.0.1:PORT, localhost:PORT (any case) or [::1]:PORT. */
bool relay_host_allowed(const char *host, int port);

/* Origin absent (NULL) or exactly on the allow-list. */
bool relay_origin_allowed(const char *origin, const struct relay_config *cfg);

/* Finds the token in "Bearer <token>" (scheme case-insensitive). Returns
 * false when the header has another shape. */
bool relay_bearer_token(const char *authorization, const char **token, size_t *len);

/* Finds a "tether.token.<token>" entry in a Sec-WebSocket-Protocol list. */
bool relay_subprotocol_token(const char *protocols, const char **token, size_t *len);

/* Back-off after repeated failed authentications: after
 * RELAY_AUTH_FAIL_BURST failures in a row, every token-checked request is
 * refused for 1 s, 2 s, 4 s ... up to RELAY_AUTH_LOCKOUT_MAX_MS. */
#define RELAY_AUTH_FAIL_BURST 5
#define RELAY_AUTH_LOCKOUT_MAX_MS 60000
struct relay_backoff {
	unsigned failures;          /* consecutive, since the last success */
	uint64_t locked_until_ms;   /* monotonic ms; 0 = not locked */
	uint64_t lockout_ms;        /* length of the next lockout */
};
/* Milliseconds left in the lockout, 0 when requests may be checked. */
uint64_t relay_backoff_remaining(const struct relay_backoff *b, uint64_t now_ms);
void relay_backoff_failure(struct relay_backoff *b, uint64_t now_ms);
void relay_backoff_success(struct relay_backoff *b);

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

/* ---- conn.c: one client connection, whatever its transport -------------- */

struct relay_conn;

struct relay_transport_ops {
	const char *name;                               /* "websocket" or "unix" */
	void (*kick)(struct relay_conn *c);             /* messages were queued */
	void (*set_paused)(struct relay_conn *c, bool paused); /* stop/resume reading */
	void (*close)(struct relay_conn *c);            /* close once the queue is written */
};

/* One outgoing message. Payload at buf + RELAY_OUT_HEADROOM, so either
 * transport can prepend its header (LWS_PRE or the 5-byte frame header)
 * without copying. */
#define RELAY_OUT_HEADROOM 32
struct relay_out {
	struct relay_out *next;
	uv_write_t req;        /* used by the unix transport */
	uint8_t kind;          /* RELAY_FRAME_TEXT or RELAY_FRAME_BINARY */
	size_t len;            /* payload bytes */
	uint8_t buf[];         /* RELAY_OUT_HEADROOM + len */
};

struct relay_conn {
	struct relay_server *srv;                 /* borrowed */
	const struct relay_transport_ops *ops;
	void *transport;                          /* the transport's own state */
	struct relay_conn *prev, *next;           /* server's list */
	uint64_t id;
	bool hello_done;
	bool closing;                             /* close after the queue drains */
	bool paused;                              /* reading stopped: queue full */
	int close_code;                           /* WebSocket close status */
	char close_reason[120];                   /* sent with the close */
	char client_name[129];
	char client_version[129];
	struct relay_out *out_head, *out_tail;    /* not yet handed to the transport */
	size_t queued_bytes;                      /* queued + in flight */
	struct pty_attach *attachments;           /* terminal channels open here */
	struct hook_sub *hook_sub;                /* owned; NULL: not subscribed */
	uint32_t next_channel;
};

/* Copies head (hlen bytes) then data (len bytes) into one message; head may
 * be NULL. */
int relay_conn_send_parts(struct relay_conn *c, uint8_t kind, const void *head, size_t hlen,
			  const void *data, size_t len);
/* True when the connection's queue is at max_queued_bytes: producers wait
 * for relay_conn_sent to bring it down. */
bool relay_conn_full(const struct relay_conn *c);
/* Transfers nothing: copies len bytes. Returns -ENOBUFS (and closes the
 * connection) when the queue is over twice max_queued_bytes, which only a
 * client that stops reading while the daemon pushes events can cause. */
int relay_conn_send(struct relay_conn *c, uint8_t kind, const void *data, size_t len);
/* Prints, sends and frees msg (ownership transferred). */
int relay_conn_send_json(struct relay_conn *c, cJSON *msg);
/* Called by transports when bytes have left the process. */
void relay_conn_sent(struct relay_conn *c, size_t bytes);
/* Pops the next queued message (ownership to the caller) or NULL. */
struct relay_out *relay_conn_pop(struct relay_conn *c);
/* Transports call this after each input message: when the queue is full it
 * pauses reading (set_paused) and returns true; relay_conn_sent resumes it
 * once the queue is below half. */
bool relay_conn_pause_if_full(struct relay_conn *c);
/* Closes once the queue is written, with a WebSocket close code and reason
 * (reason NULL: 1000, no reason). Idempotent. */
void relay_conn_close(struct relay_conn *c, int code, const char *reason);

struct relay_conn *relay_conn_new(struct relay_server *srv,
				  const struct relay_transport_ops *ops, void *transport);
void relay_conn_free(struct relay_conn *c);   /* the transport has closed */

/* ---- proto.c: protocol v1 messages -------------------------------------- */

void relay_proto_text(struct relay_conn *c, const char *data, size_t len);
void relay_proto_binary(struct relay_conn *c, const uint8_t *data, size_t len);
void relay_proto_too_large(struct relay_conn *c, size_t len);
/* UTF-8 as RFC 3629 defines it (no overlongs, surrogates, or > U+10FFFF). */
bool relay_utf8_valid(const uint8_t *s, size_t len);
/* True when JSON text holds the escape \u0000 (refused: cJSON would cut
 * the string there). */
bool relay_json_has_escaped_nul(const char *s, size_t len);
/* Length of the longest prefix of s of at most max bytes that does not cut a
 * character: for "%.*s" in messages. */
int relay_utf8_prefix(const char *s, size_t max);
/* Sends {"type":"error",...}; id may be NULL (sent as null). field and
 * request may be NULL. */
void relay_proto_error(struct relay_conn *c, const cJSON *id, const char *code,
		       const char *field, const char *request, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Optional request members: *out is left alone when the member is absent.
 * When it is present but not an integer in [min, max] (or not a boolean),
 * invalid_field is sent and false returned. */
bool relay_proto_int_field(struct relay_conn *c, const cJSON *req, const cJSON *id,
			   const char *type, const char *name, double min, double max, double *out);
bool relay_proto_bool_field(struct relay_conn *c, const cJSON *req, const cJSON *id,
			    const char *type, const char *name, bool *out);

/* A request handler: req has been checked for type, id and unknown fields.
 * It sends exactly one reply or error. */
typedef void relay_handler_fn(struct relay_conn *c, const cJSON *req, const cJSON *id);

relay_handler_fn relay_msg_hello;
relay_handler_fn relay_msg_status;
relay_handler_fn relay_msg_pty_open;
relay_handler_fn relay_msg_pty_attach;
relay_handler_fn relay_msg_pty_detach;
relay_handler_fn relay_msg_pty_credit;
relay_handler_fn relay_msg_pty_resize;
relay_handler_fn relay_msg_pty_signal;
relay_handler_fn relay_msg_pty_close;
relay_handler_fn relay_msg_pty_list;
relay_handler_fn relay_msg_hook_call;
relay_handler_fn relay_msg_hooks_subscribe;
relay_handler_fn relay_msg_hooks_unsubscribe;
relay_handler_fn relay_msg_hooks_respond;
relay_handler_fn relay_msg_hooks_history;

/* A copy of a request id for a reply (null when id is NULL), exact for
 * integers up to 2^53. */
cJSON *relay_proto_id(const cJSON *id);
/* Reply skeleton {"type":type,"id":id}; the caller adds members and sends. */
cJSON *relay_proto_reply(const char *type, const cJSON *id);

/* ---- pty.c: terminal sessions (docs/protocol.md, "Terminals") ------------ */

#define PTY_MAX_CREDIT (1L << 30)
#define PTY_MAX_INPUT_BYTES (1 << 20)

struct relay_pty;

/* One connection's view of a session: a channel with a cursor and credit. */
struct pty_attach {
	struct pty_session *s;          /* borrowed */
	struct relay_conn *conn;        /* borrowed */
	struct pty_attach *next_in_session, *next_in_conn;
	uint32_t channel;
	uint64_t sent_seq;              /* sequence number of the next byte to send */
	uint64_t credit;                /* output bytes the client allows */
	bool read_only;
};

struct pty_session {
	struct relay_pty *mgr;          /* borrowed */
	struct pty_session *next;
	char id[24];                    /* "pty-N" */
	pid_t pid;                      /* also the process group and session id */
	int master;                     /* the terminal's master side (owned) */
	uv_poll_t poll;                 /* on master */
	int poll_events;                /* what poll is started with, 0 = stopped */
	uv_timer_t timer;               /* detach timeout, then the close grace */
	int open_handles;               /* poll + timer not yet closed */
	char **argv;                    /* owned, NULL-terminated */
	char *cwd;                      /* owned */
	char term[65];
	int cols, rows;
	char created_at[32];
	uint8_t *ring;                  /* recent output; seq q lives at q % ring_cap */
	size_t ring_cap;                /* grows up to ring_bytes, then wraps */
	uint64_t total;                 /* output bytes read so far = next seq */
	uint8_t *input;                 /* input waiting for the child (owned) */
	size_t input_len;
	bool child_exited;              /* reaped; status is valid */
	int status;                     /* waitpid status */
	bool eof;                       /* nothing more will be read */
	bool closing;                   /* SIGHUP sent, SIGKILL pending */
	bool freeing;
	uint64_t detached_at_ms;        /* 0 while attached */
	struct pty_attach *attachments;
	int n_attached;
};

struct pty_open_params {
	const cJSON *argv;              /* array of strings, or NULL for the login shell */
	const char *cwd;                /* NULL: home */
	const cJSON *env;               /* object, or NULL */
	int cols, rows;
	const char *term;
	uint64_t credit;
	bool read_only;
};

int relay_pty_init(struct relay_server *srv, uv_loop_t *loop, struct relay_pty **out);
void relay_pty_shutdown(struct relay_pty *p);      /* hang up and forget every session */
bool relay_pty_stopped(const struct relay_pty *p);
void relay_pty_free(struct relay_pty *p);
long relay_pty_count(const struct relay_pty *p);
cJSON *relay_pty_capability(const struct relay_config *cfg);

int relay_pty_open(struct relay_pty *p, struct relay_conn *c, const struct pty_open_params *op,
		   struct pty_attach **out, char err[RELAY_ERR_MAX]);
struct pty_session *relay_pty_find(struct relay_pty *p, const char *id);
struct pty_session *relay_pty_first(struct relay_pty *p);   /* then ->next */
/* Input on a channel (a binary message); errors go back on c. */
void relay_pty_binary(struct relay_conn *c, uint32_t channel, const uint8_t *data, size_t len);
struct pty_attach *relay_pty_attached(struct relay_conn *c, const struct pty_session *s);
struct pty_attach *relay_pty_channel(struct relay_conn *c, uint32_t channel);
/* Attaches c; since < 0 means the oldest retained byte. *dropped gets the
 * bytes between since and the oldest retained one. */
int relay_pty_attach(struct pty_session *s, struct relay_conn *c, int64_t since, uint64_t credit,
		     bool read_only, struct pty_attach **out, uint64_t *dropped);
/* Sends what can be sent, delivers exits, re-arms reading: after a reply to
 * open or attach has been queued, so the replay follows it. */
void relay_pty_service(struct pty_session *s);
void relay_pty_detach(struct pty_attach *a);
int relay_pty_input(struct pty_attach *a, const uint8_t *data, size_t len);
int relay_pty_grant(struct pty_attach *a, uint64_t bytes);
int relay_pty_resize(struct pty_session *s, int cols, int rows);
int relay_pty_signal(struct pty_session *s, int sig, pid_t *pgid);
void relay_pty_close(struct pty_session *s);
cJSON *relay_pty_describe(const struct pty_session *s, const struct relay_conn *viewer);
void relay_pty_conn_gone(struct relay_conn *c);
void relay_pty_conn_drained(struct relay_conn *c);
struct relay_pty *relay_server_pty(struct relay_server *srv);

/* ---- hooks.c: agent hooks (docs/protocol.md, "Agent hooks") --------------- */

struct relay_hooks;
int relay_hooks_init(struct relay_server *srv, uv_loop_t *loop, struct relay_hooks **out);
/* Forwards a hook to matching subscribers; input_json is copied. */
int relay_hooks_call(struct relay_hooks *h, struct relay_conn *caller, const cJSON *id,
		     const char *event, const char *agent, const cJSON *input, const char *input_json,
		     bool wait, uint64_t timeout_ms);
cJSON *relay_hooks_history(struct relay_hooks *h, int limit);
cJSON *relay_hooks_capability(void);
void relay_hooks_conn_gone(struct relay_hooks *h, struct relay_conn *c);
void relay_hooks_shutdown(struct relay_hooks *h);   /* resolves every waiting hook */
bool relay_hooks_stopped(const struct relay_hooks *h);
void relay_hooks_free(struct relay_hooks *h);
long relay_hooks_pending(const struct relay_hooks *h);
struct relay_hooks *relay_server_hooks(struct relay_server *srv);
struct relay_conn *relay_server_first_conn(struct relay_server *srv);   /* then ->next */
long relay_server_conn_count(const struct relay_server *srv);

/* ---- client.c: the CLI's blocking unix-socket client ---------------------- */

/* tether anchor and tether service (docs/operations.md). */
int relay_cli_anchor(int argc, char **argv);
int relay_cli_service(int argc, char **argv);
/* $XDG_STATE_HOME/tether or ~/.local/state/tether, created 0700. */
int relay_state_dir(char *buf, size_t len);

int relay_client_connect(const char *dir);                   /* fd or -errno */
int relay_client_write_all(int fd, const void *buf, size_t len);
/* Sends one text message and returns the next message that carries an id
 * (its reply or error), skipping events; timeout_ms < 0 waits forever. NULL
 * with why filled on failure. The caller frees the result. */
cJSON *relay_client_request(int fd, const char *json, int timeout_ms, char *why, size_t why_len);
cJSON *relay_client_hello(int fd, const char *name, int timeout_ms, char *why, size_t why_len);

/* ---- cli_hook.c ---------------------------------------------------------- */

int relay_cli_hook(int argc, char **argv);   /* tether hook [install|uninstall] */
/* cli_model.c: the inference commands (docs/inference.md) */
int relay_cli_model(int argc, char **argv);      /* tether model info */
int relay_cli_tokenize(int argc, char **argv);
int relay_cli_generate(int argc, char **argv);
int relay_cli_logits(int argc, char **argv);

/* ---- cli_doctor.c -------------------------------------------------------- */

int relay_cli_doctor(int argc, char **argv); /* tether doctor (docs/doctor.md) */

/* ---- server.c ---------------------------------------------------------- */

struct relay_server_info {
	int pid;
	int port;
	const char *socket_path;
	uint64_t uptime_ms;
	const char *started_at;      /* ISO 8601 UTC */
	long connections_ws, connections_unix;
	long sessions;               /* terminal sessions */
};
void relay_server_info(const struct relay_server *srv, struct relay_server_info *out);
const struct relay_config *relay_server_config(const struct relay_server *srv);
const char *relay_server_token(const struct relay_server *srv);
struct relay_backoff *relay_server_backoff(struct relay_server *srv);
bool relay_server_stopping(const struct relay_server *srv);
/* The platform summary (wsl_platform_json) for `status`: set once by main,
 * ownership transferred (NULL allowed); borrowed by readers, may be NULL. */
void relay_server_set_platform(struct relay_server *srv, cJSON *platform);
const cJSON *relay_server_platform(const struct relay_server *srv);
uint64_t relay_now_ms(void);    /* monotonic */

/* Connection registry (server.c). */
void relay_server_add_conn(struct relay_server *srv, struct relay_conn *c);
void relay_server_remove_conn(struct relay_server *srv, struct relay_conn *c);
void relay_server_changed(struct relay_server *srv);   /* sessions or clients changed */

/* ---- transports -------------------------------------------------------- */

struct relay_ws;
int relay_ws_start(struct relay_server *srv, uv_loop_t *loop, int listen_fd,
		   struct relay_ws **out, char err[RELAY_ERR_MAX]);
void relay_ws_stop_listening(struct relay_ws *ws);
void relay_ws_stop(struct relay_ws *ws);        /* closes listener and lws context */
bool relay_ws_stopped(const struct relay_ws *ws);
void relay_ws_free(struct relay_ws *ws);        /* once stopped */
long relay_ws_count(const struct relay_ws *ws);

struct relay_unix;
/* activated_fd >= 0: a listening socket from systemd, used instead of binding. */
int relay_unix_start(struct relay_server *srv, uv_loop_t *loop, const char *path,
		     int activated_fd, struct relay_unix **out, char err[RELAY_ERR_MAX]);
void relay_unix_stop_listening(struct relay_unix *u);
void relay_unix_stop(struct relay_unix *u);     /* closes listener and every connection */
bool relay_unix_stopped(const struct relay_unix *u);
void relay_unix_free(struct relay_unix *u);     /* once stopped */
long relay_unix_count(const struct relay_unix *u);

#endif
