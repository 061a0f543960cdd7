/*
 * shim: tether-shim.exe's portable logic (docs/shim.md).
 *
 * Everything here is plain C11 with no Win32 calls, so the same files build
 * natively (unit tests, libFuzzer) and with mingw-w64. The Win32 layer
 * (win32_*.c) does the I/O and calls these functions with what it saw; the
 * supervision state machine is a pure function of the monotonic time (ms)
 * and the events it is told about, so tests drive it with a fake clock.
 *
 * Strings are UTF-8 and NUL-terminated. Functions return 0 or a negative
 * errno unless they say otherwise; on error, err (when given) holds a
 * one-line message naming what was wrong.
 */
#ifndef TETHER_SHIM_H
#define TETHER_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHIM_ERR_MAX 512        /* size of every error-message buffer below */
#define SHIM_DEFAULT_PORT 7420  /* tetherd's default (relay.h) */
#define SHIM_DISTRO_MAX 256     /* a distro name, UTF-8, with its NUL */
#define SHIM_PATH_MAX 1024      /* a path in the config, UTF-8, with its NUL */
#define SHIM_REASON_MAX 256     /* one restart reason */
#define SHIM_HISTORY 8          /* restarts remembered for `status` */

/* ---- config.c: %LOCALAPPDATA%\tether\shim.json ---------------------------- */

/* Every setting of the shim; defaults: shim_config_defaults(); documented in
 * docs/shim.md. The table in config.c is the single source of truth. */
struct shim_config {
	char distro[SHIM_DISTRO_MAX];  /* "" = WSL's default distro, resolved at each start */
	char wsl_exe[SHIM_PATH_MAX];   /* "" = <system dir>\wsl.exe */
	long port;                     /* tetherd's TCP port on 127.0.0.1 */
	long health_interval_ms;       /* between two health checks */
	long health_timeout_ms;        /* one check: connect + request + answer */
	long health_failures;          /* consecutive failed checks that restart the anchor */
	long health_grace_ms;          /* after a start, failures count only after this or a success */
	long backoff_base_ms;          /* first restart delay */
	long backoff_max_ms;           /* the delay doubles up to this */
	long stable_ms;                /* a run this long resets the backoff */
	long stop_timeout_ms;          /* from closing the anchor's stdin to killing its job */
	long log_max_bytes;            /* shim.log is rotated past this size */
	long log_files;                /* rotated logs kept: shim.1.log .. shim.N.log */
};

void shim_config_defaults(struct shim_config *cfg);

/* Strict JSON: the top level is one object of known keys; an unknown or
 * repeated key, a wrong type or an out-of-range value is an error naming it
 * with its line and column. Keys present overwrite cfg. path is for messages. */
int shim_config_parse(struct shim_config *cfg, const char *text, size_t len,
		      const char *path, char err[SHIM_ERR_MAX]);

/* Writes one "key: value  (meaning)" line per setting, for --help. */
size_t shim_config_describe(const struct shim_config *cfg, char *out, size_t cap);

/* ---- text.c: what wsl.exe prints ------------------------------------------ */

/* wsl.exe's own text is UTF-16LE without a BOM and with CRLF line ends, or
 * UTF-8 when WSL_UTF8=1; what a Linux program prints through it is bytes
 * (UTF-8 in practice). True when buf looks like UTF-16LE: a BOM, or a NUL
 * byte at an odd offset (UTF-8 text has no NUL bytes). */
bool shim_text_is_utf16(const void *buf, size_t len);

/* Decodes buf (either encoding, see above) into UTF-8 in out (cap >= 1):
 * CRLF and lone CR become LF, NUL and invalid sequences become U+FFFD, a
 * BOM is dropped. Always NUL-terminates; truncates at a character boundary.
 * Returns the bytes written, without the NUL. */
size_t shim_text_decode(const void *buf, size_t len, char *out, size_t cap);

/* Splits a byte stream (wsl.exe's stdout and stderr) into decoded lines. A
 * line longer than SHIM_LINE_MAX bytes is emitted in pieces; blank lines are
 * dropped. */
#define SHIM_LINE_MAX 2048
struct shim_lines {
	unsigned char buf[SHIM_LINE_MAX]; /* undecoded bytes of the current line */
	size_t len;
	bool utf16;        /* the current line has a NUL at an odd offset */
	bool after_lf;     /* the last line ended with a lone LF byte */
};
typedef void shim_line_fn(void *ctx, const char *line);
void shim_lines_feed(struct shim_lines *lines, const void *data, size_t len,
		     shim_line_fn *emit, void *ctx);
/* Emits what is left (the stream ended without a final newline). */
void shim_lines_flush(struct shim_lines *lines, shim_line_fn *emit, void *ctx);

/* ---- wsl.c: wsl.exe's command lines and its distro list --------------------- */

struct shim_distro {
	char name[SHIM_DISTRO_MAX];
	char state[64];        /* as printed: "Running", "Stopped" (localized) */
	int version;           /* 1 or 2 */
	bool is_default;       /* marked '*' */
};

/* Parses the decoded output of `wsl.exe -l -v`: a header line (localized, so
 * only skipped), then "[*] NAME STATE VERSION" per distro; STATE may hold
 * spaces in some languages. Fills at most max entries into out and *n.
 * A line of another shape is an error naming it (line number, text). */
int shim_wsl_parse_list(const char *text, struct shim_distro *out, int max, int *n,
			char err[SHIM_ERR_MAX]);

/* The argv wsl.exe gets (argv[0] is wsl_exe). distro must be non-empty.
 *   anchor:   wsl_exe -d DISTRO --exec tether anchor
 *   endpoint: wsl_exe -d DISTRO --exec tether endpoint --json
 *   list:     wsl_exe -l -v  (distro ignored)
 * Returns argc; argv must have room for 8 entries. Pointers are borrowed. */
enum shim_wsl_cmd { SHIM_WSL_ANCHOR, SHIM_WSL_ENDPOINT, SHIM_WSL_LIST };
int shim_wsl_argv(enum shim_wsl_cmd cmd, const char *wsl_exe, const char *distro,
		  const char *argv[8]);

/* wsl.exe's exit code when wsl.exe itself failed (-1 as a DWORD); any other
 * code is the Linux process's exit code, or N when a signal N killed it. */
#define SHIM_WSL_FAILED 0xFFFFFFFFu

/* Why the anchor's wsl.exe exited, for the log and `status`: exit code and,
 * for a wsl.exe failure, its message (the last decoded output, may be ""). */
void shim_exit_reason(char *out, size_t cap, uint32_t exit_code, const char *message);

/* ---- cmdline.c: CreateProcessW command lines -------------------------------- */

/* Builds the command line whose CommandLineToArgvW / MSVCRT parse is exactly
 * argv: argv[0] is quoted when it has a space or tab and may not contain '"';
 * every other argument is quoted when empty or when it has a space, tab,
 * newline, vertical tab or '"', with backslashes before a quote (and before
 * the closing quote) doubled and the quote escaped. No shell is involved.
 * Returns the length, -EINVAL for an argv[0] with '"', -ENOSPC when cap is
 * too small (out then holds ""). */
int shim_cmdline_build(char *out, size_t cap, const char *const *argv, int argc);

/* ---- supervise.c: when to start, check and stop the anchor ----------------- */

/* The delay before start number failures+1 after failures consecutive
 * unstable runs: base * 2^(failures-1), at most max; 0 when failures <= 0. */
long shim_backoff_ms(long base_ms, long max_ms, int failures);

enum shim_state {
	SHIM_BACKOFF,   /* waiting to start the anchor (the first start waits 0 ms) */
	SHIM_RUNNING,   /* the anchor's wsl.exe runs; health checks on an interval */
	SHIM_STOPPING,  /* its stdin was closed; killed at kill_at_ms unless it exits */
	SHIM_STOPPED,   /* stop requested and done: the caller exits */
};

/* What the caller must do now (shim_sup_next); it then reports the outcome. */
enum shim_action {
	SHIM_ACT_NONE,         /* wait for an event or shim_sup_timeout_ms */
	SHIM_ACT_START,        /* start the anchor; then shim_sup_started or _start_failed */
	SHIM_ACT_HEALTH,       /* begin one health check; then shim_sup_health */
	SHIM_ACT_CLOSE_STDIN,  /* close the anchor's stdin (asks it to stop) */
	SHIM_ACT_KILL,         /* terminate the anchor's job object */
	SHIM_ACT_EXIT,         /* stopped: leave the loop */
};

struct shim_restart {
	uint64_t at_ms;                  /* monotonic, when the anchor ended */
	long delay_ms;                   /* backoff before the next start */
	char reason[SHIM_REASON_MAX];
};

struct shim_sup {
	struct shim_config cfg;          /* copied at init */
	enum shim_state state;
	uint64_t start_at_ms;            /* BACKOFF: when to start */
	uint64_t started_ms;             /* RUNNING/STOPPING: when the anchor started */
	uint64_t next_health_ms;         /* RUNNING: when the next check starts */
	uint64_t kill_at_ms;             /* STOPPING: when to kill the job */
	bool launching;                  /* START returned, outcome not reported yet */
	bool health_in_flight;
	bool healthy;                    /* a check succeeded since this start */
	bool stdin_closed, kill_sent;    /* STOPPING's two steps */
	bool stop_requested;             /* stop for good (not a restart) */
	int failures;                    /* consecutive unstable runs (backoff exponent) */
	int health_failed;               /* consecutive failed checks since the last success */
	unsigned long starts;            /* anchors started, in all */
	unsigned long restarts;          /* anchor ends that led to a restart */
	char stopping_reason[SHIM_REASON_MAX]; /* why STOPPING, when it is a restart */
	struct shim_restart history[SHIM_HISTORY]; /* ring: restarts % SHIM_HISTORY is next */
	char note[2 * SHIM_REASON_MAX];  /* the last decision and its reason, for the log */
};

void shim_sup_init(struct shim_sup *sup, const struct shim_config *cfg, uint64_t now_ms);

/* The next action due at now_ms (call until SHIM_ACT_NONE). */
enum shim_action shim_sup_next(struct shim_sup *sup, uint64_t now_ms);

/* Milliseconds until the next action is due, 0 if now, -1 if only an event
 * (an exit, a health result, a stop) can make progress. */
long shim_sup_timeout_ms(const struct shim_sup *sup, uint64_t now_ms);

/* Events. Each leaves a one-line note (sup->note) saying what was decided. */
void shim_sup_started(struct shim_sup *sup, uint64_t now_ms);
void shim_sup_start_failed(struct shim_sup *sup, uint64_t now_ms, const char *reason);
void shim_sup_exited(struct shim_sup *sup, uint64_t now_ms, const char *reason);
void shim_sup_health(struct shim_sup *sup, uint64_t now_ms, bool ok, const char *detail);
void shim_sup_stop(struct shim_sup *sup, uint64_t now_ms, const char *reason);

const char *shim_state_name(enum shim_state state);

/* ---- health.c: GET /healthz on 127.0.0.1:PORT -------------------------------- */

/* The request (HTTP/1.1, Host 127.0.0.1:port, Connection: close). Returns its
 * length, or -ENOSPC. */
int shim_health_request(char *out, size_t cap, long port);

/* Parses tetherd's answer as received so far: 0 when it is a complete 200
 * with a JSON object body whose "status" is "ok" (version, if given, gets its
 * "version" string); 1 when more bytes are needed (eof false); -EINVAL with
 * err saying why otherwise. eof: the peer closed, nothing more will come. */
int shim_health_parse(const char *buf, size_t len, bool eof, char version[64],
		      char err[SHIM_ERR_MAX]);

#endif
