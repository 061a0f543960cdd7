/*
 * The Win32 layer of tether-shim.exe (built by mingw-w64 only): files,
 * processes, job objects, sockets, the registry. Internal to windows-shim/.
 * Strings are UTF-8 except where a name ends in _w (UTF-16).
 */
#ifndef TETHER_SHIM_WIN32_H
#define TETHER_SHIM_WIN32_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <windows.h>

#include "shim.h"

#ifndef TETHER_VERSION
#define TETHER_VERSION "0.0.0-dev"
#endif

/* Exit codes of the commands (docs/shim.md). */
enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_NOT_RUNNING = 3 };

/* ---- win32_util.c ----------------------------------------------------------- */

/* UTF-8 <-> UTF-16; the result is malloc'd (caller frees), NULL on failure. */
wchar_t *w32_wide(const char *utf8);
char *w32_utf8(const wchar_t *wide);

/* Prints to stdout / stderr: WriteConsoleW on a console, UTF-8 bytes to a
 * file or pipe. */
void w32_out(const char *fmt, ...) __attribute__((format(gnu_printf, 1, 2)));
void w32_err(const char *fmt, ...) __attribute__((format(gnu_printf, 1, 2)));

/* GetLastError()'s text, one line, in buf. */
const char *w32_strerror(DWORD code, char *buf, size_t cap);

uint64_t w32_now_ms(void);   /* monotonic */

/* The shim's directory: %TETHER_SHIM_DIR% if set (tests), else
 * %LOCALAPPDATA%\tether. Created when create is true. */
int w32_shim_dir(char *buf, size_t cap, bool create);
/* <shim dir>\name */
int w32_shim_path(char *buf, size_t cap, const char *name);

/* Loads shim.json into cfg (defaults when the file is absent). */
int w32_load_config(struct shim_config *cfg, const char *path, char err[SHIM_ERR_MAX]);

/* The instance key for names: the distro as configured, or "(default)". */
void w32_instance_key(const char *distro, char *out, size_t cap);
/* Local\tether-shim-<what>-<key> with characters Windows refuses replaced. */
wchar_t *w32_object_name(const char *what, const char *key);

/* wsl.exe's path: cfg->wsl_exe, or <system dir>\wsl.exe. */
void w32_wsl_exe(const struct shim_config *cfg, char *buf, size_t cap);

/* ---- win32_log.c -------------------------------------------------------------- */

/* Opens <dir>\shim.log for appending (shared with other instances), rotated
 * past max_bytes into shim.1.log .. shim.<files>.log. tag prefixes lines. */
int w32_log_open(const char *dir, long max_bytes, long files, const char *tag);
void w32_log(const char *fmt, ...) __attribute__((format(gnu_printf, 1, 2)));
void w32_log_close(void);

/* ---- win32_proc.c ------------------------------------------------------------- */

struct w32_child {
	HANDLE process;         /* owned */
	HANDLE job;             /* owned; kill-on-close, not inheritable */
	HANDLE stdin_w;         /* owned; our end of the child's stdin, NULL once closed */
	HANDLE out_r;           /* owned; overlapped read end of stdout+stderr */
	OVERLAPPED ov;          /* the pending read on out_r */
	HANDLE ov_event;        /* owned */
	bool reading;           /* a read is pending */
	bool out_eof;
	DWORD pid;
	char buf[4096];
};

/* Starts argv (argv[0] a full path) hidden, suspended, in a new job object
 * with kill-on-close, then resumed; stdin a pipe, stdout and stderr one
 * overlapped pipe. err says why not. */
int w32_child_start(struct w32_child *c, const char *const *argv, int argc,
		    char err[SHIM_ERR_MAX]);
/* Issues or completes the pending read; calls emit for data. Returns false
 * once the pipe is at its end. wait_ms: how long to wait for data. */
bool w32_child_read(struct w32_child *c, DWORD wait_ms,
		    void (*emit)(void *ctx, const void *data, size_t len), void *ctx);
void w32_child_close_stdin(struct w32_child *c);
void w32_child_kill(struct w32_child *c);
/* Closes every handle (the job's close kills what is left). */
void w32_child_free(struct w32_child *c);

/* Runs argv to completion (at most timeout_ms, then kills it), collecting its
 * output (at most cap - 1 bytes, raw) into out. *exit_code: its exit code. */
int w32_run_capture(const char *const *argv, int argc, DWORD timeout_ms, char *out, size_t cap,
		    size_t *out_len, DWORD *exit_code, char err[SHIM_ERR_MAX]);

/* The default distro from `wsl.exe -l -v`, or the error (decoded wsl.exe
 * message included). */
int w32_default_distro(const char *wsl_exe, char *name, size_t cap, char err[SHIM_ERR_MAX]);

/* ---- win32_health.c ----------------------------------------------------------- */

struct w32_probe {
	SOCKET sock;             /* INVALID_SOCKET when idle */
	WSAEVENT event;          /* owned, created once */
	uint64_t deadline_ms;
	bool sent;
	char req[256];
	int req_len;
	char resp[16384 + 1];
	size_t resp_len;
};

int w32_net_init(char err[SHIM_ERR_MAX]);
void w32_probe_init(struct w32_probe *p);
/* Starts a check; returns 1 in progress, 0 done (ok), <0 done (failed, detail). */
int w32_probe_start(struct w32_probe *p, long port, long timeout_ms, char detail[SHIM_ERR_MAX]);
/* After p->event was signaled or the deadline passed: 1 in progress, 0 ok,
 * <0 failed (detail says why). */
int w32_probe_step(struct w32_probe *p, char detail[SHIM_ERR_MAX]);
void w32_probe_cancel(struct w32_probe *p);
/* A whole check, blocking up to timeout_ms (for `status`). */
int w32_probe_once(long port, long timeout_ms, char detail[SHIM_ERR_MAX]);

/* ---- win32_run.c -------------------------------------------------------------- */

/* `run`: supervises the anchor until stopped. Returns the exit code. */
int w32_cmd_run(const struct shim_config *cfg);

#endif
