/* wsl internals shared by the files of this module. Not part of the API. */
#ifndef TETHER_WSL_INTERNAL_H
#define TETHER_WSL_INTERNAL_H

#include <sys/types.h>
#include "wsl.h"

/* ---- read.c: files under a root directory (wsl_rooted, wsl_pid_alive: wsl.h) */

/* Reads at most size - 1 bytes of root+path into buf, NUL-terminated.
 * Returns the byte count, or -errno. *truncated (may be NULL) says the file
 * had more. */
ssize_t wsl_read(const char *root, const char *path, char *buf, size_t size, bool *truncated);

/* Reads a whole file of at most max bytes (-EFBIG when larger); the caller
 * frees *out. */
ssize_t wsl_read_alloc(const char *root, const char *path, size_t max, char **out);

/* The first line of s, without its line end, into buf. */
void wsl_first_line(const char *s, char *buf, size_t size);

/* root+path is a directory (stat: links followed) / exists (lstat: a
 * dangling link counts). */
bool wsl_is_dir(const char *root, const char *path);
bool wsl_exists(const char *root, const char *path);

/* ---- detect.c: the result's notes and evidence, bounded (extra ones dropped) */

void wsl_note(struct wsl_platform *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wsl_evidence_add(struct wsl_evidence *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- the other parts of wsl_detect, each filling its fields of p --------- */

void wsl_read_wslconfig(const struct wsl_detect_opts *o, struct wsl_platform *p);  /* lifetime.c */
void wsl_detect_lifetime(const struct wsl_detect_opts *o, struct wsl_platform *p); /* lifetime.c */
void wsl_detect_network(const struct wsl_detect_opts *o, struct wsl_platform *p);  /* net.c */
void wsl_detect_gpu(const struct wsl_detect_opts *o, struct wsl_platform *p);      /* gpu.c */

#endif
