/*
 * relay/pty internals, shared by pty.c (sessions, the ring, channels) and
 * msg_pty.c (the requests).
 */
#ifndef TETHER_RELAY_PTY_INTERNAL_H
#define TETHER_RELAY_PTY_INTERNAL_H

#include "internal.h"
#include "pty.h"


#define PTY_MAX_CREDIT (1L << 30)
#define PTY_MAX_INPUT_BYTES (1 << 20)

struct relay_pty;

/* One connection's view of a session: a channel with a cursor and credit. */
struct pty_attach {
	struct relay_chan chan;         /* on its connection; chan.id is the channel */
	struct pty_session *s;          /* borrowed */
	struct pty_attach *next_in_session;
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

/* The module's state, made by relay_pty_new (pty.c). */
struct relay_pty {
	struct relay_module module;
	uv_loop_t *loop;                /* borrowed */
	struct relay_pty_limits limits;
	void (*changed)(void *arg);
	void *changed_arg;
	uv_signal_t sigchld;
	bool sigchld_closed;
	struct pty_session *sessions;
	long count;
	unsigned long next_id;
};

long relay_pty_count(const struct relay_pty *p);

int relay_pty_open(struct relay_pty *p, struct relay_conn *c, const struct pty_open_params *op,
		   struct pty_attach **out, char err[RELAY_ERR_MAX]);
struct pty_session *relay_pty_find(struct relay_pty *p, const char *id);
struct pty_session *relay_pty_first(struct relay_pty *p);   /* then ->next */
/* Input on a channel (a binary message); errors go back on its connection. */
void relay_pty_input_frame(struct relay_chan *ch, const uint8_t *data, size_t len);
/* c's attachment to s, or NULL; how many attachments c has. */
struct pty_attach *relay_pty_attached(struct relay_conn *c, const struct pty_session *s);
long relay_pty_attachments(struct relay_conn *c);
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

#endif
