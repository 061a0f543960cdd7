/* The platform in one line (logs, `tether status`) and as JSON. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *interop_name(enum wsl_interop i)
{
	switch (i) {
	case WSL_INTEROP_ENABLED: return "enabled";
	case WSL_INTEROP_DISABLED: return "disabled";
	case WSL_INTEROP_ABSENT: return "absent";
	case WSL_INTEROP_UNREADABLE: return "unreadable";
	}
	return "?";
}

static const char *links_name(enum wsl_libcuda_links l)
{
	switch (l) {
	case WSL_LINKS_NONE: return "none";
	case WSL_LINKS_SYMLINKS: return "symlinks";
	case WSL_LINKS_IDENTICAL_COPIES: return "identical-copies";
	case WSL_LINKS_COPIES_NOT_COMPARED: return "copies-not-compared";
	case WSL_LINKS_DIFFERENT_FILES: return "different-files";
	}
	return "?";
}

static const char *anchor_name(enum wsl_anchor_state a)
{
	switch (a) {
	case WSL_ANCHOR_UNCHECKED: return "unchecked";
	case WSL_ANCHOR_NONE: return "none";
	case WSL_ANCHOR_ALIVE: return "alive";
	case WSL_ANCHOR_STALE: return "stale";
	case WSL_ANCHOR_MALFORMED: return "malformed";
	}
	return "?";
}

static const char *distro_source_name(enum wsl_distro_source s)
{
	switch (s) {
	case WSL_DISTRO_FROM_ENV: return "WSL_DISTRO_NAME";
	case WSL_DISTRO_FROM_OS_RELEASE: return "os-release";
	case WSL_DISTRO_UNKNOWN: return "unknown";
	}
	return "?";
}

static void cat(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	if (n >= len - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

void wsl_summary(const struct wsl_platform *p, char *buf, size_t len)
{
	bool wsl = p->kind == WSL_KIND_WSL1 || p->kind == WSL_KIND_WSL2;
	buf[0] = 0;
	cat(buf, len, "%s", p->kind == WSL_KIND_WSL1 ? "WSL1" : p->kind == WSL_KIND_WSL2 ? "WSL2" :
		       p->kind == WSL_KIND_NATIVE ? "native Linux" : "unknown platform");
	if (p->kind_confidence != WSL_CONFIDENCE_HIGH)
		cat(buf, len, " (%s confidence)", wsl_confidence_name(p->kind_confidence));
	cat(buf, len, ", kernel %s", *p->kernel ? p->kernel : "unknown");
	if (p->distro_source == WSL_DISTRO_FROM_ENV)
		cat(buf, len, ", distro %s", p->distro);
	else if (p->distro_source == WSL_DISTRO_FROM_OS_RELEASE)
		cat(buf, len, ", distro image %s (os-release%s)", p->distro,
		    wsl ? "; WSL registration name unknown" : "");
	else
		cat(buf, len, ", distro unknown");
	cat(buf, len, ", %s", p->systemd ? "systemd" : "no systemd");
	if (wsl)
		cat(buf, len, ", interop %s", interop_name(p->interop));
	if (p->kind == WSL_KIND_WSL2)
		cat(buf, len, ", networking %s (%s confidence)", p->net == WSL_NET_NAT ? "NAT" :
		    p->net == WSL_NET_MIRRORED ? "mirrored" : "unknown",
		    wsl_confidence_name(p->net_confidence));
	cat(buf, len, ", GPU: ");
	if (p->kind == WSL_KIND_WSL2)
		cat(buf, len, "%s, ", p->dxg ? "/dev/dxg" : "no /dev/dxg");
	if (p->n_libcuda)
		cat(buf, len, "libcuda.so.1 in %.*s", (int)(strrchr(p->libcuda[0], '/') - p->libcuda[0]),
		    p->libcuda[0]);
	else
		cat(buf, len, "no libcuda.so.1");
	if (wsl && p->anchor != WSL_ANCHOR_UNCHECKED)
		cat(buf, len, ", %s", p->anchor == WSL_ANCHOR_ALIVE ? "anchored" : "not anchored");
}

static void add_str_or_null(cJSON *o, const char *name, const char *s)
{
	if (s && *s)
		cJSON_AddStringToObject(o, name, s);
	else
		cJSON_AddNullToObject(o, name);
}

cJSON *wsl_platform_json(const struct wsl_platform *p)
{
	bool wsl = p->kind == WSL_KIND_WSL1 || p->kind == WSL_KIND_WSL2;
	cJSON *j = cJSON_CreateObject();
	char line[1024];
	if (!j)
		return NULL;
	wsl_summary(p, line, sizeof line);
	cJSON_AddStringToObject(j, "summary", line);
	cJSON_AddStringToObject(j, "kind", wsl_kind_name(p->kind));
	cJSON_AddStringToObject(j, "kind_confidence", wsl_confidence_name(p->kind_confidence));
	add_str_or_null(j, "kernel", p->kernel);

	cJSON *d = cJSON_AddObjectToObject(j, "distro");
	add_str_or_null(d, "name", p->distro);
	cJSON_AddStringToObject(d, "source", distro_source_name(p->distro_source));
	cJSON_AddBoolToObject(d, "registration_name_known", p->distro_source == WSL_DISTRO_FROM_ENV);
	add_str_or_null(d, "os_release_id", p->os_release_id);

	cJSON_AddBoolToObject(j, "systemd", p->systemd);
	add_str_or_null(j, "pid1", p->pid1);

	cJSON *i = cJSON_AddObjectToObject(j, "interop");
	cJSON_AddStringToObject(i, "state", wsl ? interop_name(p->interop) : "not-wsl");
	add_str_or_null(i, "entry", p->interop_entry);

	cJSON *c = cJSON_AddObjectToObject(j, "wsl_conf");
	cJSON_AddStringToObject(c, "file", p->conf_file == WSL_FILE_READ ? "read" :
				p->conf_file == WSL_FILE_ABSENT ? "absent" : "unreadable");
	if (p->conf.stopped_at)
		cJSON_AddNumberToObject(c, "stopped_at_line", p->conf.stopped_at);
	else
		cJSON_AddNullToObject(c, "stopped_at_line");
	cJSON_AddNumberToObject(c, "problems", p->conf.n_diags + p->conf.n_diags_dropped);

	cJSON *n = cJSON_AddObjectToObject(j, "networking");
	cJSON_AddStringToObject(n, "mode", wsl_net_mode_name(p->net));
	cJSON_AddStringToObject(n, "confidence", wsl_confidence_name(p->net_confidence));

	cJSON *g = cJSON_AddObjectToObject(j, "gpu");
	cJSON_AddBoolToObject(g, "dxg", p->dxg);
	add_str_or_null(g, "libcuda", p->n_libcuda ? p->libcuda[0] : NULL);
	cJSON *all = cJSON_AddArrayToObject(g, "libcuda_all");
	for (int k = 0; k < p->n_libcuda; k++)
		cJSON_AddItemToArray(all, cJSON_CreateString(p->libcuda[k]));
	cJSON_AddStringToObject(g, "wsl_lib_files", links_name(p->links));
	cJSON_AddStringToObject(g, "dlopen", p->dlopen == WSL_DLOPEN_OK ? "ok" :
				p->dlopen == WSL_DLOPEN_FAILED ? "failed" : "not-tried");

	cJSON *l = cJSON_AddObjectToObject(j, "lifetime");
	cJSON_AddStringToObject(l, "anchor", anchor_name(p->anchor));
	if (p->anchor == WSL_ANCHOR_ALIVE || p->anchor == WSL_ANCHOR_STALE)
		cJSON_AddNumberToObject(l, "anchor_pid", (double)p->anchor_pid);
	else
		cJSON_AddNullToObject(l, "anchor_pid");
	cJSON_AddNumberToObject(l, "instance_idle_timeout_ms", (double)p->instance_idle_timeout_ms);
	cJSON_AddStringToObject(l, "idle_timeout_source", p->idle_from_wslconfig ? ".wslconfig" :
				"default");
	return j;
}
