/*
 * relay internals: what the daemon's files share (and its white-box tests).
 * Private to the daemon target; the CLI never sees it.
 *
 * Who may call whom (docs/architecture.md):
 *   tetherd.c -> server.c -> transports (transport_ws.c, http.c, transport_unix.c)
 *                         -> conn.c, proto.c -> the modules' handlers (core.c, pty/, hooks/)
 *   A module is handed its loop, limits and callbacks when it is made, and
 *   reaches a connection only through the conn and channel functions here.
 *   Nothing below server.c calls relay_server_*.
 */
#ifndef TETHER_RELAY_INTERNAL_H
#define TETHER_RELAY_INTERNAL_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include "relay.h"

/* ---- token.c ------------------------------------------------------------ */

/* 256 bits from getrandom(2) as 64 lowercase hex digits plus NUL. */
int relay_token_generate(char out[RELAY_TOKEN_HEX + 1]);

/* Constant-time (in the candidate's content) comparison with the token. */
bool relay_token_equal(const char *candidate, size_t len, const char *token);

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

/* ---- modules ------------------------------------------------------------- */

/* A feature of the daemon (terminals, hooks, later inference): made by its
 * own constructor with its loop, limits and callbacks (pty/pty.h,
 * hooks/hooks.h), then handed to relay_server_start, which owns it from
 * then on. Every op but shutdown, stopped and free may be NULL. */
struct relay_module;
struct relay_http_route;
struct relay_module_ops {
	const char *name;   /* its capability key, and what its message rows name */
	/* The server listens; start work that needs it (threads, scans). */
	int (*start)(struct relay_module *m, char err[RELAY_ERR_MAX]);
	/* hello's capabilities.NAME (a new object), or NULL for none. */
	cJSON *(*capability)(struct relay_module *m);
	/* Adds the module's members to a status reply. */
	void (*status)(struct relay_module *m, cJSON *status);
	/* A few words for the one-line summary ("3 terminals"). */
	void (*summary)(struct relay_module *m, char *buf, size_t len);
	void (*shutdown)(struct relay_module *m);   /* the daemon stops: end the work */
	bool (*stopped)(struct relay_module *m);    /* every handle it owns is closed */
	void (*free)(struct relay_module *m);
	/* Its plain HTTP routes (struct relay_http_route, below): *out points at
	 * an array that lives as long as the module; returns how many. NULL: none. */
	size_t (*routes)(struct relay_module *m, const struct relay_http_route **out);
};
struct relay_module {
	const struct relay_module_ops *ops;
};

/* The struct that embeds member m (a module, a channel) from m's address. */
#define relay_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ---- conn.c: one client connection, whatever its transport -------------- */

struct relay_conn;

struct relay_transport_ops {
	const char *name;                               /* "websocket" or "unix" */
	void (*kick)(struct relay_conn *c);             /* messages were queued */
	void (*set_paused)(struct relay_conn *c, bool paused); /* stop/resume reading */
	void (*close)(struct relay_conn *c);            /* close once the queue is written */
};

/* What every connection is handed when it is made (the server owns it):
 * its limits, the modules its requests reach, and who to tell when a
 * connection comes and goes. */
struct relay_conn_env {
	size_t max_queued_bytes;                  /* per connection, before reading pauses */
	size_t max_message_bytes;                 /* one incoming message */
	struct relay_module *const *modules;      /* the core first; requests find theirs here */
	size_t n_modules;
	uint64_t next_conn_id;                    /* the last id given */
	void (*opened)(void *arg, struct relay_conn *c);
	void (*closed)(void *arg, struct relay_conn *c);
	void *arg;
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

/* A channel: a module's per-connection state (a terminal attachment, a hook
 * subscriber), kept on the connection's list so that the connection can tell
 * it what happens without knowing what it is. A channel with an id receives
 * the binary messages that carry that id. */
struct relay_chan;
struct relay_chan_ops {
	const char *kind;                                   /* "pty", "hooks" */
	/* A binary message for this channel (the 4-byte id stripped). */
	void (*input)(struct relay_chan *ch, const uint8_t *data, size_t len);
	/* The connection's queue fell below its cap: producers may send again. */
	void (*drained)(struct relay_chan *ch);
	/* The connection is being freed: end the work, relay_chan_remove(ch). */
	void (*gone)(struct relay_chan *ch);
};
struct relay_chan {
	const struct relay_chan_ops *ops;
	struct relay_conn *conn;                            /* borrowed */
	uint32_t id;                                        /* 0: takes no binary messages */
	struct relay_chan *next;                            /* the connection's list */
};

struct relay_conn {
	struct relay_conn_env *env;               /* borrowed from the server */
	const struct relay_transport_ops *ops;
	void *transport;                          /* the transport's own state */
	struct relay_conn *prev, *next;           /* the server's list */
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
	struct relay_chan *chans;                 /* the modules' channels, newest first */
	uint32_t last_chan_id;
};

/* Adds ch to c's list; with_id gives it the connection's next channel id. */
void relay_chan_add(struct relay_conn *c, struct relay_chan *ch, const struct relay_chan_ops *ops,
		    bool with_id);
void relay_chan_remove(struct relay_chan *ch);
/* The channel with binary id on c, or NULL. */
struct relay_chan *relay_conn_chan(struct relay_conn *c, uint32_t id);

/* Copies head (hlen bytes) then data (len bytes) into one message; head may
 * be NULL. */
int relay_conn_send_parts(struct relay_conn *c, uint8_t kind, const void *head, size_t hlen,
			  const void *data, size_t len);
/* True when the connection's queue is at max_queued_bytes: producers wait
 * for their channel's drained. */
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

struct relay_conn *relay_conn_new(struct relay_conn_env *env,
				  const struct relay_transport_ops *ops, void *transport);
void relay_conn_free(struct relay_conn *c);   /* the transport has closed */

/* ---- proto.c: protocol v1 messages -------------------------------------- */

void relay_proto_text(struct relay_conn *c, const char *data, size_t len);
void relay_proto_binary(struct relay_conn *c, const uint8_t *data, size_t len);
void relay_proto_too_large(struct relay_conn *c, size_t len);

/* A request handler: req has been checked for type, id and unknown fields;
 * m is the module its row names. It sends exactly one reply or error. */
typedef void relay_handler_fn(struct relay_module *m, struct relay_conn *c, const cJSON *req,
			      const cJSON *id);

/* One row of the message table (messages.c): defined next to its handler,
 * as tmux defines a cmd_entry beside its command. */
struct relay_msg {
	const char *type;                /* "pty.open" */
	const char *module;              /* the module whose state the handler gets */
	const char *const *fields;       /* members allowed besides type and id; NULL-ended */
	relay_handler_fn *handler;
};
extern const struct relay_msg *const relay_messages[];   /* NULL-terminated */
extern const struct relay_msg relay_msg_hello;            /* the one allowed before hello */

/* ---- reply.c: replies, errors and request members ------------------------ */

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

/* Any number in [min, max] (not NaN). */
bool relay_proto_number_field(struct relay_conn *c, const cJSON *req, const cJSON *id,
			      const char *type, const char *name, double min, double max, double *out);
/* A string of at most max bytes: text (true) may be empty and hold any
 * character; a name (false) has 1 byte or more and no control characters.
 * *out borrows from req. */
bool relay_proto_string_field(struct relay_conn *c, const cJSON *req, const cJSON *id,
			      const char *type, const char *name, size_t max, bool text,
			      const char **out);

/* A copy of a request id for a reply (null when id is NULL), exact for
 * integers up to 2^53. */
cJSON *relay_proto_id(const cJSON *id);
/* Reply skeleton {"type":type,"id":id}; the caller adds members and sends. */
cJSON *relay_proto_reply(const char *type, const cJSON *id);

/* ---- core.c: hello and status, assembled from the modules ----------------- */

/* The server's own figures for status. */
struct relay_core_info {
	int pid;
	int port;
	const char *socket_path;
	uint64_t uptime_ms;
	const char *started_at;      /* ISO 8601 UTC */
	long connections_ws, connections_unix;
};

/* The core module (name "core"): answers hello and status. The server fills
 * it; modules[] are the feature modules, asked for capabilities and status. */
struct relay_core {
	struct relay_module module;
	struct relay_module *const *modules;
	size_t n_modules;
	long max_message_bytes, max_queued_bytes, max_connections;
	void (*info)(void *arg, struct relay_core_info *out);
	void *info_arg;
	const cJSON *platform;       /* borrowed; NULL when not detected */
};
void relay_core_init(struct relay_core *core);

/* ---- transports: each is handed what it checks and where connections go --- */

/* ---- http.c: the HTTP front door (every request on the TCP port) --------- */

#define RELAY_WS_PATH "/ws"

/* A response being built by a route, then written as the socket drains. */
struct relay_http_response;
void relay_http_set_status(struct relay_http_response *res, unsigned status,
			   const char *content_type);
/* Appends to the body; -ENOBUFS past the cap (max_queued_bytes): the client
 * then gets a 500 that says so, never a cut body. */
int relay_http_body_add(struct relay_http_response *res, const void *data, size_t len);

/* A plain HTTP route: an exact path, answered to GET (and HEAD, with no
 * body); another method is a 405. Every route but the open ones needs the
 * token; all of them pass the Host and Origin checks. */
struct relay_http_route {
	const char *path;
	bool open;
	void (*handle)(void *arg, struct relay_http_response *res);
	void *arg;
};

/* What every request is checked against (owned by the server): Host,
 * Origin, token, the failure back-off; and the routes beyond /healthz. */
struct relay_gate {
	const struct relay_config *cfg;   /* allowed_origins, limits */
	const char *token;
	int port;                         /* the Host check's; set once bound */
	struct relay_backoff backoff;
	bool stopping;                    /* refuse new WebSockets */
	const struct relay_http_route *routes;
	size_t n_routes;
};

/* One TCP connection's HTTP state (inside lws's per-session data). */
struct relay_http {
	struct relay_http_response *res;  /* being written; NULL between requests */
};
struct lws;
/* The lws callbacks' work; each returns what its callback must return.
 * confirm_upgrade: 0 to proceed, 1 when refused with an HTTP answer, -1 to
 * hang up. */
int relay_http_request(struct relay_gate *gate, struct relay_http *h, struct lws *wsi,
		       const char *path);
int relay_http_writable(struct relay_http *h, struct lws *wsi);
int relay_http_confirm_upgrade(struct relay_gate *gate, struct lws *wsi, long ws_count);
void relay_http_free(struct relay_http *h);

struct relay_ws;
int relay_ws_start(uv_loop_t *loop, struct relay_conn_env *env, struct relay_gate *gate,
		   int listen_fd, struct relay_ws **out, char err[RELAY_ERR_MAX]);
void relay_ws_stop_listening(struct relay_ws *ws);
void relay_ws_stop(struct relay_ws *ws);        /* closes listener and lws context */
bool relay_ws_stopped(const struct relay_ws *ws);
void relay_ws_free(struct relay_ws *ws);        /* once stopped */
long relay_ws_count(const struct relay_ws *ws);

struct relay_unix;
/* activated_fd >= 0: a listening socket from systemd, used instead of binding. */
int relay_unix_start(uv_loop_t *loop, struct relay_conn_env *env, long max_connections,
		     const char *path, int activated_fd, struct relay_unix **out,
		     char err[RELAY_ERR_MAX]);
void relay_unix_stop_listening(struct relay_unix *u);
void relay_unix_stop(struct relay_unix *u);     /* closes listener and every connection */
bool relay_unix_stopped(const struct relay_unix *u);
void relay_unix_free(struct relay_unix *u);     /* once stopped */
long relay_unix_count(const struct relay_unix *u);

#endif
