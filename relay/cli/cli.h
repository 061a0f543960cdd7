/*
 * relay/cli: the tether command line (tether.c is its main and its command
 * table). Private to the CLI target, which links relay/base, wsl and
 * inference, never the daemon. One section per file.
 */
#ifndef TETHER_RELAY_CLI_H
#define TETHER_RELAY_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "base.h"

#define EXIT_USAGE 2 /* every command's exit status for a bad command line */

/* ---- the commands, one file each (tether.c dispatches to them) ----------- */

int relay_cli_anchor(int argc, char **argv);   /* anchor.c: tether anchor (docs/lifecycle.md) */
int relay_cli_service(int argc, char **argv);  /* cli_service.c: tether service */
int relay_cli_doctor(int argc, char **argv);   /* cli_doctor.c: tether doctor (docs/doctor.md) */
int relay_cli_hook(int argc, char **argv);     /* cli_hook.c: tether hook [install|uninstall] */
/* cli_model.c: the inference commands (docs/inference.md) */
int relay_cli_model(int argc, char **argv);    /* tether model info */
int relay_cli_tokenize(int argc, char **argv);
int relay_cli_generate(int argc, char **argv);
int relay_cli_logits(int argc, char **argv);
int relay_cli_models(int argc, char **argv);   /* cli_infer.c: tether models */

/* ---- cli_infer.c: tetherd's inference from the CLI ------------------------- */

/* Connects to tetherd (runtime_dir NULL: the default) and says hello as
 * client; the fd, or -1 after printing why as "tether CMD: ..." (tetherd not
 * running, and how to start it). */
int cli_daemon_open(const char *cmd, const char *runtime_dir, const char *client);
/* tether generate --daemon: sends req (an infer.generate or infer.chat
 * request without id, which it adds with credit) and prints the stream as
 * tether generate does; Ctrl-C cancels it. The exit status: 0, 1 (failed),
 * 130 (cancelled by Ctrl-C, after printing what came). */
int cli_daemon_generate(const char *runtime_dir, cJSON *req, bool json);
/* The inference lines of tether status, from its "inference" object. */
void cli_infer_print_status(const cJSON *inference);

/* ---- anchor.c ------------------------------------------------------------- */

/* $XDG_STATE_HOME/tether or ~/.local/state/tether, created 0700. */
int relay_state_dir(char *buf, size_t len);

/* ---- opt.c: the command line, the same way in every command --------------- */

/* Prints "tether CMD: " then fmt (with arg for its one %s) and the pointer to
 * CMD's usage ("(see tether help)", "(see docs/hooks.md)", ...) as one line on
 * stderr, and returns EXIT_USAGE. cmd NULL: tether itself, before a command. */
int cli_usage_error(const char *cmd, const char *fmt, const char *arg);
/* text, whole, as a base-10 integer in [min, max] into *out; false (and *out
 * untouched) when text is NULL, empty, not a number, or out of range. Prints
 * nothing: the caller says which option was wrong, in its own words. */
bool cli_parse_long(const char *text, long min, long max, long *out);
/* cli_parse_long for an option's value: 0, or EXIT_USAGE after printing
 * "tether CMD: OPTION must be an integer from MIN to MAX, got 'TEXT'". */
int cli_option_long(const char *cmd, const char *option, const char *text, long min, long max,
		    long *out);

/* ---- client.c: the CLI's blocking unix-socket client ---------------------- */

int relay_client_connect(const char *dir);                   /* fd or -errno */
int relay_client_write_all(int fd, const void *buf, size_t len);
/* Sends one text message and returns the next message that carries an id
 * (its reply or error), skipping events; timeout_ms < 0 waits forever. NULL
 * with why filled on failure. The caller frees the result. */
cJSON *relay_client_request(int fd, const char *json, int timeout_ms, char *why, size_t why_len);
/* Sends one text message; 0 or -errno. */
int relay_client_send(int fd, const char *json);
/* The next message of any kind (a reply, an error or an event), waiting up
 * to timeout_ms (< 0: forever). NULL with *rc: -EINTR when wake_fd (>= 0)
 * became readable or a signal interrupted the wait, -ETIMEDOUT, -EPIPE
 * (tetherd closed the connection), -EPROTO (a bad frame). Frames that are
 * not JSON text are skipped. The caller frees the result. */
cJSON *relay_client_next(int fd, int wake_fd, int timeout_ms, int *rc);
/* Says hello as client `name`; the daemon's hello reply (the caller frees
 * it), or NULL with why filled (no reply, or a refusal). */
cJSON *relay_client_hello(int fd, const char *name, int timeout_ms, char *why, size_t why_len);

/* ---- shell.c -------------------------------------------------------------- */

/* XDG_RUNTIME_DIR for systemctl --user when a wsl.exe --exec start lacks it. */
void relay_ensure_user_bus_env(void);
/* The first line of a shell command's stdout, without its newline ("" when
 * the command fails or prints nothing); for short read-only queries. */
void relay_first_line_of(const char *cmd, char *out, size_t len);

#endif
