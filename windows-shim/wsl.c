/* wsl.exe's command lines, its distro list, and what its exit codes mean. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Parses one table row "[*] NAME STATE... VERSION" (no newline). */
static int parse_row(const char *line, size_t len, struct shim_distro *d)
{
	const char *p = line, *end = line + len;
	memset(d, 0, sizeof *d);
	while (p < end && is_space(*p))
		p++;
	if (p < end && *p == '*') {
		d->is_default = true;
		p++;
		while (p < end && is_space(*p))
			p++;
	}
	while (end > p && is_space(end[-1]))
		end--;
	/* NAME: up to the first blank (WSL refuses names with blanks). */
	const char *name = p;
	while (p < end && !is_space(*p))
		p++;
	size_t name_len = (size_t)(p - name);
	if (!name_len || name_len >= sizeof d->name)
		return -EINVAL;
	/* VERSION: the last field. */
	const char *ver = end;
	while (ver > p && !is_space(ver[-1]))
		ver--;
	if (ver == p || end - ver != 1 || (*ver != '1' && *ver != '2'))
		return -EINVAL;
	/* STATE: what lies between, blanks inside kept (it is localized). */
	const char *st = p, *st_end = ver;
	while (st < st_end && is_space(*st))
		st++;
	while (st_end > st && is_space(st_end[-1]))
		st_end--;
	size_t st_len = (size_t)(st_end - st);
	if (!st_len || st_len >= sizeof d->state)
		return -EINVAL;
	memcpy(d->name, name, name_len);
	memcpy(d->state, st, st_len);
	d->version = *ver - '0';
	return 0;
}

int shim_wsl_parse_list(const char *text, struct shim_distro *out, int max, int *n,
			char err[SHIM_ERR_MAX])
{
	int line_no = 0, defaults = 0;
	bool header = false;

	*n = 0;
	for (const char *p = text; *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		const char *line = p;
		p += len + (eol ? 1 : 0);
		line_no++;

		size_t k = 0;
		while (k < len && is_space(line[k]))
			k++;
		if (k == len)
			continue;   /* blank */
		if (!header) {
			header = true;   /* "NAME STATE VERSION", localized */
			continue;
		}
		struct shim_distro d;
		if (parse_row(line, len, &d)) {
			snprintf(err, SHIM_ERR_MAX, "wsl.exe -l -v, line %d: expected \"[*] NAME STATE "
				 "VERSION\", got \"%.*s\"", line_no, (int)(len > 120 ? 120 : len), line);
			return -EINVAL;
		}
		if (d.is_default && ++defaults > 1) {
			snprintf(err, SHIM_ERR_MAX, "wsl.exe -l -v, line %d: a second default distro "
				 "(\"%s\")", line_no, d.name);
			return -EINVAL;
		}
		if (*n < max)
			out[(*n)++] = d;
	}
	if (!header) {
		snprintf(err, SHIM_ERR_MAX, "wsl.exe -l -v printed nothing");
		return -EINVAL;
	}
	return 0;
}

int shim_wsl_argv(enum shim_wsl_cmd cmd, const char *wsl_exe, const char *distro,
		  const char *argv[8])
{
	int n = 0;
	argv[n++] = wsl_exe;
	if (cmd == SHIM_WSL_LIST) {
		argv[n++] = "-l";
		argv[n++] = "-v";
		return n;
	}
	argv[n++] = "-d";
	argv[n++] = distro;
	/* --exec: argv goes to the Linux program as is, no shell in between. */
	argv[n++] = "--exec";
	argv[n++] = "tether";
	if (cmd == SHIM_WSL_ANCHOR) {
		argv[n++] = "anchor";
	} else {
		argv[n++] = "endpoint";
		argv[n++] = "--json";
	}
	return n;
}

void shim_exit_reason(char *out, size_t cap, uint32_t exit_code, const char *message)
{
	if (exit_code == SHIM_WSL_FAILED)
		snprintf(out, cap, "wsl.exe failed (exit code -1): %s",
			 message && *message ? message : "(it printed no message)");
	else
		snprintf(out, cap, "the anchor exited with code %lu (a Linux exit status, or the "
			 "signal that killed it)", (unsigned long)exit_code);
}
