/*
 * relay/cli: the tether command line (tether.c is its main). Private to the
 * CLI target, which links relay/base, wsl and inference, never the daemon.
 */
#ifndef TETHER_RELAY_CLI_H
#define TETHER_RELAY_CLI_H

#include <cjson/cJSON.h>
#include "base.h"

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

/* ---- shell.c -------------------------------------------------------------- */

/* XDG_RUNTIME_DIR for systemctl --user when a wsl.exe --exec start lacks it. */
void relay_ensure_user_bus_env(void);
/* The first line of a shell command's stdout, without its newline ("" when
 * the command fails or prints nothing); for short read-only queries. */
void relay_first_line_of(const char *cmd, char *out, size_t len);

#endif
