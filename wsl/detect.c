/*
 * Detection of the platform: kind (WSL1, WSL2, native), distro name, interop,
 * systemd, /etc/wsl.conf; then the other files' parts (wsl_detect). Everything
 * is read under a root directory (read.c) so the same code judges this system
 * and the fixture trees of the tests.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

const char *wsl_confidence_name(enum wsl_confidence c)
{
	switch (c) {
	case WSL_CONFIDENCE_LOW: return "low";
	case WSL_CONFIDENCE_MEDIUM: return "medium";
	case WSL_CONFIDENCE_HIGH: return "high";
	}
	return "?";
}

const char *wsl_kind_name(enum wsl_kind k)
{
	switch (k) {
	case WSL_KIND_UNKNOWN: return "unknown";
	case WSL_KIND_NATIVE: return "native";
	case WSL_KIND_WSL1: return "wsl1";
	case WSL_KIND_WSL2: return "wsl2";
	}
	return "?";
}

void wsl_env_from_process(struct wsl_env *env)
{
	env->distro_name = getenv("WSL_DISTRO_NAME");
	env->interop = getenv("WSL_INTEROP");
}

void wsl_note(struct wsl_platform *p, const char *fmt, ...)
{
	if (p->n_notes >= (int)(sizeof p->notes / sizeof p->notes[0]))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->notes[p->n_notes++], sizeof p->notes[0], fmt, ap);
	va_end(ap);
}

void wsl_evidence_add(struct wsl_evidence *e, const char *fmt, ...)
{
	if (e->n >= WSL_MAX_EVIDENCE)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->item[e->n++], sizeof e->item[0], fmt, ap);
	va_end(ap);
}

/* A printable copy for messages: control bytes become '?'. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* Kernel release → kind. "microsoft" (any case) marks WSL; WSL2 kernels say
 * "microsoft-standard" (and "-WSL2" since 5.10); WSL1 reports Windows' build
 * as "4.4.0-19041-Microsoft". */
static void detect_kind(const struct wsl_detect_opts *o, struct wsl_platform *p)
{
	char buf[256];
	ssize_t n = wsl_read(o->root, "/proc/sys/kernel/osrelease", buf, sizeof buf, NULL);
	if (n < 0) {
		wsl_note(p, "cannot read /proc/sys/kernel/osrelease: %s", strerror((int)-n));
	} else {
		wsl_first_line(buf, p->kernel, sizeof p->kernel);
		printable(p->kernel);
	}
	bool interop_env = o->env.interop && *o->env.interop;
	bool run_wsl = wsl_is_dir(o->root, "/run/WSL");
	bool wsl_lib = wsl_is_dir(o->root, "/usr/lib/wsl");
	bool binfmt = wsl_exists(o->root, "/proc/sys/fs/binfmt_misc/WSLInterop") ||
		      wsl_exists(o->root, "/proc/sys/fs/binfmt_misc/WSLInterop-late");

	if (!*p->kernel) {
		p->kind = WSL_KIND_UNKNOWN;
		p->kind_confidence = WSL_CONFIDENCE_LOW;
		wsl_evidence_add(&p->kind_evidence, "/proc/sys/kernel/osrelease unreadable or empty");
		return;
	}
	wsl_evidence_add(&p->kind_evidence, "kernel release \"%s\" (/proc/sys/kernel/osrelease)",
			 p->kernel);
	if (strcasestr(p->kernel, "microsoft")) {
		if (strstr(p->kernel, "WSL2") || strcasestr(p->kernel, "microsoft-standard")) {
			p->kind = WSL_KIND_WSL2;
			p->kind_confidence = WSL_CONFIDENCE_HIGH;
			wsl_evidence_add(&p->kind_evidence, "\"microsoft-standard\"/\"WSL2\": WSL2's "
					 "kernel");
		} else if (strstr(p->kernel, "Microsoft")) {
			p->kind = WSL_KIND_WSL1;
			p->kind_confidence = WSL_CONFIDENCE_HIGH;
			wsl_evidence_add(&p->kind_evidence, "\"-Microsoft\" without \"standard\": "
					 "WSL1 reports the Windows build as its kernel");
		} else {
			p->kind = WSL_KIND_WSL2;
			p->kind_confidence = WSL_CONFIDENCE_MEDIUM;
			wsl_evidence_add(&p->kind_evidence, "\"microsoft\" in an unfamiliar form: "
					 "probably a WSL2 kernel");
		}
		return;
	}
	/* A WSL2 distro may run a custom kernel (.wslconfig kernel=) without the
	 * marker: look for what WSL itself puts in the distro. */
	if (run_wsl || wsl_lib || binfmt || interop_env) {
		p->kind = WSL_KIND_WSL2;
		p->kind_confidence = WSL_CONFIDENCE_LOW;
		wsl_evidence_add(&p->kind_evidence, "no \"microsoft\" in the kernel release, but %s: "
				 "probably WSL2 with a custom kernel",
				 binfmt ? "the WSLInterop binfmt entry exists" :
				 run_wsl ? "/run/WSL exists" :
				 wsl_lib ? "/usr/lib/wsl exists" : "WSL_INTEROP is set");
		return;
	}
	p->kind = WSL_KIND_NATIVE;
	p->kind_confidence = WSL_CONFIDENCE_HIGH;
	wsl_evidence_add(&p->kind_evidence, "no \"microsoft\" in the kernel release, no /run/WSL, "
			 "/usr/lib/wsl or WSLInterop binfmt entry");
}

/* NAME="..." from os-release text. */
static bool os_release_value(const char *text, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, kl) || l[kl] != '=')
			continue;
		const char *v = l + kl + 1;
		size_t n = strcspn(v, "\r\n");
		if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
			v++;
			n -= 2;
		}
		snprintf(out, size, "%.*s", (int)n, v);
		printable(out);
		return true;
	}
	return false;
}

static void detect_distro(const struct wsl_detect_opts *o, struct wsl_platform *p)
{
	char text[4096];
	ssize_t n = wsl_read(o->root, "/etc/os-release", text, sizeof text, NULL);
	if (n < 0)
		n = wsl_read(o->root, "/usr/lib/os-release", text, sizeof text, NULL);
	if (n >= 0)
		os_release_value(text, "ID", p->os_release_id, sizeof p->os_release_id);
	if (o->env.distro_name && *o->env.distro_name) {
		snprintf(p->distro, sizeof p->distro, "%s", o->env.distro_name);
		printable(p->distro);
		p->distro_source = WSL_DISTRO_FROM_ENV;
	} else if (n >= 0 && (os_release_value(text, "NAME", p->distro, sizeof p->distro) ||
			      os_release_value(text, "ID", p->distro, sizeof p->distro))) {
		p->distro_source = WSL_DISTRO_FROM_OS_RELEASE;
	} else {
		p->distro_source = WSL_DISTRO_UNKNOWN;
	}
}

static void detect_interop(const struct wsl_detect_opts *o, struct wsl_platform *p)
{
	static const char *const names[] = { "WSLInterop", "WSLInterop-late" };
	char path[96], buf[512];

	p->binfmt_mounted = wsl_exists(o->root, "/proc/sys/fs/binfmt_misc/status");
	p->interop = WSL_INTEROP_ABSENT;
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "/proc/sys/fs/binfmt_misc/%s", names[i]);
		ssize_t n = wsl_read(o->root, path, buf, sizeof buf, NULL);
		if (n == -ENOENT)
			continue;
		snprintf(p->interop_entry, sizeof p->interop_entry, "%s", names[i]);
		char first[64];
		wsl_first_line(buf, first, sizeof first);
		if (n < 0) {
			p->interop = WSL_INTEROP_UNREADABLE;
			snprintf(p->interop_detail, sizeof p->interop_detail, "cannot read %s: %s",
				 path, strerror((int)-n));
		} else if (!strcmp(first, "enabled")) {
			p->interop = WSL_INTEROP_ENABLED;
		} else if (!strcmp(first, "disabled")) {
			p->interop = WSL_INTEROP_DISABLED;
		} else {
			printable(first);
			p->interop = WSL_INTEROP_UNREADABLE;
			snprintf(p->interop_detail, sizeof p->interop_detail, "%s starts with \"%s\", "
				 "not \"enabled\" or \"disabled\"", path, first);
		}
		if (p->interop == WSL_INTEROP_ENABLED && !strstr(buf, "interpreter /init"))
			wsl_note(p, "%s is enabled but its interpreter is not /init", path);
		return;
	}
}

static void detect_init(const struct wsl_detect_opts *o, struct wsl_platform *p)
{
	char buf[64];
	/* sd_booted(): systemd is PID 1 when /run/systemd/system is a directory. */
	p->systemd = wsl_is_dir(o->root, "/run/systemd/system");
	if (wsl_read(o->root, "/proc/1/comm", buf, sizeof buf, NULL) >= 0) {
		wsl_first_line(buf, p->pid1, sizeof p->pid1);
		printable(p->pid1);
	}
}

static void read_wsl_conf(const struct wsl_detect_opts *o, struct wsl_platform *p)
{
	char *text = NULL;
	ssize_t n = wsl_read_alloc(o->root, "/etc/wsl.conf", 1 << 20, &text);
	if (n == -ENOENT) {
		p->conf_file = WSL_FILE_ABSENT;
		wsl_conf_parse("", 0, WSL_DIALECT_DISTRO, &p->conf);
		return;
	}
	if (n < 0) {
		p->conf_file = WSL_FILE_UNREADABLE;
		snprintf(p->conf_error, sizeof p->conf_error, "cannot read /etc/wsl.conf: %s",
			 n == -EFBIG ? "larger than 1 MiB" : strerror((int)-n));
		wsl_conf_parse("", 0, WSL_DIALECT_DISTRO, &p->conf);
		return;
	}
	p->conf_file = WSL_FILE_READ;
	wsl_conf_parse(text, (size_t)n, WSL_DIALECT_DISTRO, &p->conf);
	free(text);
}

int wsl_detect(const struct wsl_detect_opts *o, struct wsl_platform *p)
{
	memset(p, 0, sizeof *p);
	if (!o->root || !*o->root)
		return -EINVAL;
	p->live = !strcmp(o->root, "/");
	p->anchor_pid = -1;
	detect_kind(o, p);
	detect_distro(o, p);
	detect_interop(o, p);
	detect_init(o, p);
	read_wsl_conf(o, p);
	wsl_read_wslconfig(o, p);
	wsl_detect_network(o, p);
	wsl_detect_gpu(o, p);
	wsl_detect_lifetime(o, p);
	return 0;
}
