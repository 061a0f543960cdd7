/*
 * tether doctor: the platform and the daemon, one finding per line, each
 * with its level (ok, warn, fail, skip), the evidence, and a fix a person can
 * apply. Every finding is documented in docs/doctor.md.
 *
 * --root DIR judges a tree laid out like a system (the tests' fixtures):
 * live checks (dlopen, TCP connect) are skipped there, and process liveness
 * is read from DIR/proc. Exit code: the worst finding (0 ok or skip, 1 warn,
 * 3 fail); 2 is a usage error, as for every tether command.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "wsl.h"

#define EXIT_WARN 1
#define EXIT_FAIL 3
#define MAX_FINDINGS 64
#define MAX_EVIDENCE 8
#define TEXT_MAX 768

enum level { LEVEL_OK, LEVEL_SKIP, LEVEL_WARN, LEVEL_FAIL };
static const char *const level_names[] = { "ok", "skip", "warn", "fail" };

struct finding {
	const char *id;
	enum level level;
	char message[TEXT_MAX];
	char evidence[MAX_EVIDENCE][TEXT_MAX];
	int n_evidence;
	const char *confidence;        /* NULL: a fact, not an inference */
	char fix[TEXT_MAX];            /* "" none */
};

struct doctor {
	const char *root;
	bool live;
	const char *runtime_dir;       /* NULL: not checked */
	struct wsl_platform *p;
	struct finding f[MAX_FINDINGS];
	int n;
	int port;                      /* from endpoint.json, 0 unknown */
	bool running;
};

static struct finding *add(struct doctor *d, const char *id, enum level level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static struct finding *add(struct doctor *d, const char *id, enum level level, const char *fmt, ...)
{
	static struct finding overflow;
	struct finding *f = d->n < MAX_FINDINGS ? &d->f[d->n++] : &overflow;
	va_list ap;
	memset(f, 0, sizeof *f);
	f->id = id;
	f->level = level;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof f->message, fmt, ap);
	va_end(ap);
	return f;
}

static void evidence(struct finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void evidence(struct finding *f, const char *fmt, ...)
{
	if (f->n_evidence >= MAX_EVIDENCE)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->evidence[f->n_evidence++], TEXT_MAX, fmt, ap);
	va_end(ap);
}

static void fix(struct finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fix(struct finding *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->fix, sizeof f->fix, fmt, ap);
	va_end(ap);
}

static bool is_wsl(const struct wsl_platform *p)
{
	return p->kind == WSL_KIND_WSL1 || p->kind == WSL_KIND_WSL2;
}

/* ---- platform ------------------------------------------------------------ */

static void check_kind(struct doctor *d)
{
	const struct wsl_platform *p = d->p;
	struct finding *f;
	switch (p->kind) {
	case WSL_KIND_WSL2:
		f = add(d, "platform.kind", LEVEL_OK, "WSL2, kernel %s", p->kernel);
		break;
	case WSL_KIND_WSL1:
		f = add(d, "platform.kind", LEVEL_WARN, "WSL1, kernel %s: no GPU passthrough, no "
			"systemd, and Windows' own network stack", p->kernel);
		fix(f, "convert the distro to WSL2 from Windows: wsl --set-version %s 2",
		    p->distro_source == WSL_DISTRO_FROM_ENV ? p->distro : "<distro>");
		break;
	case WSL_KIND_NATIVE:
		f = add(d, "platform.kind", LEVEL_OK, "native Linux (not WSL), kernel %s", p->kernel);
		break;
	default:
		f = add(d, "platform.kind", LEVEL_WARN, "cannot tell the platform: the WSL checks "
			"below may not apply");
		fix(f, "check that /proc is mounted and readable");
		break;
	}
	f->confidence = wsl_confidence_name(p->kind_confidence);
	for (int i = 0; i < p->kind_evidence.n; i++)
		evidence(f, "%s", p->kind_evidence.item[i]);
}

static void check_distro(struct doctor *d)
{
	const struct wsl_platform *p = d->p;
	struct finding *f;
	if (p->distro_source == WSL_DISTRO_FROM_ENV) {
		f = add(d, "platform.distro", LEVEL_OK, "distro %s", p->distro);
		evidence(f, "WSL_DISTRO_NAME=%s (set for processes started by wsl.exe)", p->distro);
	} else if (p->distro_source == WSL_DISTRO_FROM_OS_RELEASE) {
		f = add(d, "platform.distro", LEVEL_OK, "distro image \"%s\"%s", p->distro,
			is_wsl(p) ? "; the WSL registration name is unknown" : "");
		evidence(f, "NAME in /etc/os-release%s", is_wsl(p) ? ": the image, not the name WSL "
			 "registered" : "");
		if (is_wsl(p))
			evidence(f, "WSL_DISTRO_NAME is not set (systemd services and `su -` do not "
				 "get it)");
	} else {
		f = add(d, "platform.distro", LEVEL_OK, "distro unknown");
		evidence(f, "WSL_DISTRO_NAME is not set and /etc/os-release has no NAME or ID");
	}
}

static const char *conf_fix(enum wsl_diag_kind k)
{
	switch (k) {
	case WSL_DIAG_MALFORMED:
		return "edit /etc/wsl.conf (sudo) so the line is '[section]', 'key = value' or a "
		       "'#' comment, then from Windows: wsl --terminate <distro>";
	case WSL_DIAG_UNKNOWN_KEY:
		return "remove or correct the key (see `man wsl.conf` or docs/doctor.md for the keys)";
	case WSL_DIAG_DUPLICATE:
		return "keep one occurrence of the key: WSL applies the first";
	case WSL_DIAG_BAD_VALUE:
		return "use a value WSL accepts (booleans: true or false), then from Windows: "
		       "wsl --terminate <distro>";
	case WSL_DIAG_NOTE:
		return "";
	}
	return "";
}

static void report_conf(struct doctor *d, const struct wsl_conf *c, const char *id,
			const char *path)
{
	for (int i = 0; i < c->n_diags; i++) {
		const struct wsl_diag *g = &c->diag[i];
		struct finding *f = add(d, id, LEVEL_WARN, "%s:%d: %s", path, g->line, g->msg);
		evidence(f, "%s", wsl_diag_kind_name(g->kind));
		if (g->kind == WSL_DIAG_MALFORMED && g->line == c->stopped_at) {
			char lost[TEXT_MAX] = "";
			size_t n = 0;
			for (int k = 0; k < c->n_lost && k < 8 && n < sizeof lost; k++)
				n += (size_t)snprintf(lost + n, sizeof lost - n, "%s%s (line %d)",
						      k ? ", " : "", c->lost[k].key, c->lost[k].line);
			if (c->n_lost)
				evidence(f, "settings WSL does not read because of this line: %s%s", lost,
					 c->n_lost > 8 ? ", ..." : "");
			else
				evidence(f, "no setting follows this line");
		}
		fix(f, "%s", conf_fix(g->kind));
		if (c->dialect == WSL_DIALECT_WINDOWS && *f->fix)
			fix(f, "edit %%UserProfile%%\\.wslconfig on Windows, then: wsl --shutdown");
	}
	if (c->n_diags_dropped)
		add(d, id, LEVEL_WARN, "%s: %d more problems not shown", path, c->n_diags_dropped);
}

static void check_wsl_conf(struct doctor *d)
{
	const struct wsl_platform *p = d->p;
	struct finding *f;
	if (p->conf_file == WSL_FILE_ABSENT) {
		if (is_wsl(p))
			add(d, "wsl_conf", LEVEL_OK, "no /etc/wsl.conf: WSL's defaults apply");
		return;
	}
	if (p->conf_file == WSL_FILE_UNREADABLE) {
		f = add(d, "wsl_conf", LEVEL_WARN, "%s", p->conf_error);
		fix(f, "make /etc/wsl.conf readable: sudo chmod 644 /etc/wsl.conf");
		return;
	}
	if (!is_wsl(p)) {
		add(d, "wsl_conf", LEVEL_OK, "/etc/wsl.conf exists but this is not WSL: nothing reads it");
		return;
	}
	if (!p->conf.n_diags && !p->conf.n_diags_dropped) {
		f = add(d, "wsl_conf", LEVEL_OK, "/etc/wsl.conf: %d lines, every line as WSL reads it",
			p->conf.lines);
		if (p->conf.crlf)
			evidence(f, "CRLF line ends: WSL reads them (a backslash continuation would "
				 "not work)");
	}
	report_conf(d, &p->conf, "wsl_conf.line", "/etc/wsl.conf");
}

static void check_init(struct doctor *d)
{
	const struct wsl_platform *p = d->p;
	const struct wsl_conf_item *it = &p->conf.item[WSL_KEY_BOOT_SYSTEMD];
	bool want = wsl_conf_bool(&p->conf, WSL_KEY_BOOT_SYSTEMD);
	struct finding *f;
	if (p->systemd)
		f = add(d, "init.systemd", LEVEL_OK, "systemd is PID 1");
	else
		f = add(d, "init.systemd", LEVEL_OK, "systemd is not PID 1%s",
			is_wsl(p) ? ": tether anchor supervises tetherd itself" : "");
	evidence(f, "/run/systemd/system %s", p->systemd ? "is a directory (sd_booted)" :
		 "does not exist");
	if (*p->pid1)
		evidence(f, "/proc/1/comm is \"%s\"", p->pid1);
	if (!is_wsl(p))
		return;
	if (it->line)
		evidence(f, "/etc/wsl.conf:%d: boot.systemd = %s%s", it->line, it->text,
			 it->valid ? "" : " (invalid: WSL uses false)");
	if (p->kind == WSL_KIND_WSL1 && want) {
		f->level = LEVEL_WARN;
		snprintf(f->message, sizeof f->message, "/etc/wsl.conf asks for systemd, which WSL1 "
			 "does not run");
		fix(f, "convert to WSL2 (wsl --set-version <distro> 2) or remove [boot] systemd");
	} else if (want && !p->systemd) {
		f->level = LEVEL_WARN;
		snprintf(f->message, sizeof f->message, "/etc/wsl.conf sets boot.systemd=true but "
			 "systemd is not PID 1");
		fix(f, "restart the distro so WSL reads wsl.conf again: from Windows, wsl "
		    "--terminate <distro>");
	} else if (!want && p->systemd) {
		evidence(f, "systemd runs although wsl.conf does not ask for it (started another way)");
	}
}

static void check_interop(struct doctor *d)
{
	const struct wsl_platform *p = d->p;
	const struct wsl_conf_item *it = &p->conf.item[WSL_KEY_INTEROP_ENABLED];
	bool want = wsl_conf_bool(&p->conf, WSL_KEY_INTEROP_ENABLED);
	struct finding *f;
	if (!is_wsl(p))
		return;
	switch (p->interop) {
	case WSL_INTEROP_ENABLED:
		f = add(d, "interop", LEVEL_OK, "Windows interop is on (binfmt entry %s enabled)",
			p->interop_entry);
		evidence(f, "/proc/sys/fs/binfmt_misc/%s says enabled", p->interop_entry);
		break;
	case WSL_INTEROP_DISABLED:
		if (!want) {
			f = add(d, "interop", LEVEL_OK, "Windows interop is off, as /etc/wsl.conf says");
			evidence(f, "/etc/wsl.conf:%d: interop.enabled = %s", it->line, it->text);
			evidence(f, "/proc/sys/fs/binfmt_misc/%s says disabled", p->interop_entry);
			break;
		}
		f = add(d, "interop", LEVEL_WARN, "Windows interop is registered but disabled: "
			"Windows programs (wsl.exe, explorer.exe) cannot run from the distro");
		evidence(f, "/proc/sys/fs/binfmt_misc/%s says disabled", p->interop_entry);
		fix(f, "echo 1 | sudo tee /proc/sys/fs/binfmt_misc/%s", p->interop_entry);
		break;
	case WSL_INTEROP_UNREADABLE:
		f = add(d, "interop", LEVEL_WARN, "the interop binfmt entry is unreadable: %s",
			p->interop_detail);
		f->confidence = "low";
		break;
	case WSL_INTEROP_ABSENT:
	default:
		if (!want) {
			f = add(d, "interop", LEVEL_OK, "Windows interop is off, as /etc/wsl.conf says");
			evidence(f, "/etc/wsl.conf:%d: interop.enabled = %s", it->line, it->text);
			evidence(f, "no WSLInterop or WSLInterop-late entry in /proc/sys/fs/binfmt_misc");
			break;
		}
		if (!p->binfmt_mounted) {
			f = add(d, "interop", LEVEL_WARN, "Windows interop is absent: binfmt_misc is not "
				"mounted, so no WSLInterop entry can exist");
			evidence(f, "/proc/sys/fs/binfmt_misc/status does not exist");
			fix(f, "sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc, then "
			    "restart the distro (wsl --terminate <distro>)");
			f->confidence = "medium";
			break;
		}
		f = add(d, "interop", LEVEL_WARN, "Windows interop is absent although wsl.conf "
			"leaves it on%s: Windows programs cannot run from the distro",
			p->systemd ? "; systemd-binfmt probably wiped the WSLInterop entry" : "");
		evidence(f, "no WSLInterop or WSLInterop-late entry in /proc/sys/fs/binfmt_misc");
		if (p->systemd)
			evidence(f, "systemd is PID 1: systemd-binfmt.service clears entries it did not "
				 "register unless WSL protects them (boot.protectBinfmt, %s)",
				 wsl_conf_bool(&p->conf, WSL_KEY_BOOT_PROTECTBINFMT) ? "on here" : "off here");
		fix(f, "echo ':WSLInterop:M::MZ::/init:PF' | sudo tee "
		    "/etc/binfmt.d/WSLInterop.conf && sudo systemctl restart systemd-binfmt");
		f->confidence = p->systemd ? "medium" : "low";
		break;
	}
}

static void check_network(struct doctor *d)
{
	const struct wsl_platform *p = d->p;
	struct finding *f;
	if (p->kind == WSL_KIND_NATIVE)
		return;
	if (p->net == WSL_NET_UNKNOWN) {
		f = add(d, "network.mode", LEVEL_WARN, "cannot tell whether WSL networking is NAT or "
			"mirrored");
		fix(f, "clients should connect to 127.0.0.1 (works in both modes); check "
		    "networkingMode in %%UserProfile%%\\.wslconfig on Windows");
	} else if (p->net == WSL_NET_SHARED) {
		f = add(d, "network.mode", LEVEL_OK, "WSL1: the distro shares Windows' network "
			"stack; 127.0.0.1 is the same on both sides");
	} else {
		f = add(d, "network.mode", LEVEL_OK, "networking mode %s: Windows reaches a "
			"127.0.0.1 listener here%s", p->net == WSL_NET_NAT ? "NAT" : "mirrored",
			p->net == WSL_NET_NAT ? " through WSL's localhost relay (polled about once a "
			"second; it drops idle connections)" : " directly");
	}
	f->confidence = wsl_confidence_name(p->net_confidence);
	for (int i = 0; i < p->net_evidence.n; i++)
		evidence(f, "%s", p->net_evidence.item[i]);
}

static bool in_wsl_lib(const char *path)
{
	return !strncmp(path, "/usr/lib/wsl/lib/", 17);
}

static void check_gpu(struct doctor *d)
{
	const struct wsl_platform *p = d->p;
	const struct wsl_conf_item *gpu = &p->conf.item[WSL_KEY_GPU_ENABLED];
	struct finding *f;

	if (p->kind == WSL_KIND_WSL1) {
		f = add(d, "gpu.passthrough", LEVEL_WARN, "WSL1 has no GPU passthrough: inference "
			"runs on the CPU");
		fix(f, "convert the distro to WSL2: wsl --set-version <distro> 2");
		return;
	}
	if (p->kind == WSL_KIND_WSL2) {
		if (!p->dxg) {
			f = add(d, "gpu.passthrough", LEVEL_WARN, "no /dev/dxg: GPU passthrough is off, "
				"inference runs on the CPU");
			evidence(f, "/dev/dxg does not exist");
			if (gpu->line)
				evidence(f, "/etc/wsl.conf:%d: gpu.enabled = %s", gpu->line, gpu->text);
			fix(f, "check [gpu] enabled in /etc/wsl.conf and gpuSupport in "
			    "%%UserProfile%%\\.wslconfig, and install the Windows GPU driver (not a "
			    "Linux one); then wsl --shutdown");
		} else {
			f = add(d, "gpu.passthrough", LEVEL_OK, "/dev/dxg exists: WSL's GPU device is "
				"there");
			if (gpu->line)
				evidence(f, "/etc/wsl.conf:%d: gpu.enabled = %s", gpu->line, gpu->text);
		}
	}
	bool wsl_found = p->n_libcuda && in_wsl_lib(p->libcuda[0]);
	if (!p->n_libcuda) {
		if (p->kind == WSL_KIND_WSL2 && p->dxg) {
			f = add(d, "gpu.libcuda", LEVEL_WARN, "libcuda.so.1 missing in /usr/lib/wsl/lib: "
				"CUDA is off");
			fix(f, "check [gpu] in wsl.conf and the Windows NVIDIA driver (WSL mounts its "
			    "libcuda there); without an NVIDIA GPU, CUDA is not available");
		} else {
			f = add(d, "gpu.libcuda", LEVEL_OK, "no libcuda.so.1: inference runs on the CPU");
		}
		evidence(f, "searched /usr/lib/wsl/lib, the ld.so.conf directories and ldconfig's "
			 "built-in ones (%d directories)", p->n_search_dirs);
	} else {
		f = add(d, "gpu.libcuda", LEVEL_OK, "libcuda.so.1 found: %s", p->libcuda[0]);
		for (int i = 1; i < p->n_libcuda; i++)
			evidence(f, "also %s", p->libcuda[i]);
		if (p->kind == WSL_KIND_WSL2 && !wsl_found) {
			f->level = LEVEL_WARN;
			snprintf(f->message, sizeof f->message, "libcuda.so.1 is not in /usr/lib/wsl/lib "
				 "but at %s: a Linux NVIDIA driver inside WSL does not drive the GPU",
				 p->libcuda[0]);
			fix(f, "remove the Linux NVIDIA driver packages from the distro; WSL provides "
			    "libcuda from the Windows driver");
		}
	}
	for (int i = wsl_found ? 1 : p->n_libcuda; p->kind == WSL_KIND_WSL2 && i < p->n_libcuda; i++) {
		if (in_wsl_lib(p->libcuda[i]))
			continue;
		f = add(d, "gpu.libcuda_shadow", LEVEL_WARN, "another libcuda.so.1 at %s besides "
			"WSL's: a program that finds it first gets a driver that cannot reach the GPU",
			p->libcuda[i]);
		fix(f, "remove the Linux NVIDIA driver packages (e.g. `dpkg -S %s`)", p->libcuda[i]);
		f->confidence = "medium";
		break;
	}
	if (p->links == WSL_LINKS_IDENTICAL_COPIES || p->links == WSL_LINKS_DIFFERENT_FILES) {
		f = add(d, "gpu.ldconfig", LEVEL_WARN, "/usr/lib/wsl/lib holds libcuda.so* as %s "
			"regular files, not symlinks: ldconfig warns \"libcuda.so.1 is not a symbolic "
			"link\" and dlopen(\"libcuda.so\") can fail where libcuda.so.1 loads",
			p->links == WSL_LINKS_IDENTICAL_COPIES ? "identical" : "differing");
		evidence(f, "libcuda.so and libcuda.so.1 are regular files (lstat)%s",
			 p->links == WSL_LINKS_IDENTICAL_COPIES ? " with the same content as libcuda.so.1.1" : "");
		fix(f, "harmless for tether (it loads libcuda.so.1); for other tools, load "
		    "libcuda.so.1 rather than libcuda.so (microsoft/WSL#5663)");
	}
	if (p->n_libcuda) {
		if (p->dlopen == WSL_DLOPEN_OK) {
			f = add(d, "gpu.dlopen", LEVEL_OK, "%s", p->dlopen_detail);
		} else if (p->dlopen == WSL_DLOPEN_FAILED) {
			f = add(d, "gpu.dlopen", LEVEL_FAIL, "%s", p->dlopen_detail);
			fix(f, "reinstall or update the Windows GPU driver, then wsl --shutdown");
		} else {
			add(d, "gpu.dlopen", LEVEL_SKIP, "skipped: %s", !d->live ? "fixture root" :
			    p->dlopen_detail);
		}
	}
}

static void check_lifetime(struct doctor *d)
{
	const struct wsl_platform *p = d->p;
	struct finding *f;
	if (!is_wsl(p))
		return;
	if (p->wslconfig == WSL_WSLCONFIG_READ)
		report_conf(d, &p->wslconf, "wslconfig.line", p->wslconfig_path);

	char idle[640];
	if (p->idle_from_wslconfig)
		snprintf(idle, sizeof idle, "general.instanceIdleTimeout = %ld ms in %s", 
			 p->instance_idle_timeout_ms, p->wslconfig_path);
	else
		snprintf(idle, sizeof idle, "instanceIdleTimeout %ld ms, WSL's default (%s)",
			 p->instance_idle_timeout_ms,
			 p->wslconfig == WSL_WSLCONFIG_READ ? "not set in .wslconfig" :
			 p->wslconfig == WSL_WSLCONFIG_AMBIGUOUS ? "several .wslconfig files; none used" :
			 p->wslconfig == WSL_WSLCONFIG_NOT_LOOKED ? ".wslconfig not looked for" :
			 "no readable .wslconfig");

	if (p->anchor == WSL_ANCHOR_UNCHECKED) {
		f = add(d, "lifetime.anchor", LEVEL_SKIP, "skipped: fixture root without --runtime-dir");
		evidence(f, "%s", idle);
		return;
	}
	if (p->anchor == WSL_ANCHOR_ALIVE) {
		bool bad = !strcmp(p->anchor_status, "gave-up") || !strcmp(p->anchor_status, "backoff");
		f = add(d, "lifetime.anchor", bad ? LEVEL_WARN : LEVEL_OK, "the distro is anchored: %s",
			p->anchor_detail);
		if (bad) {
			snprintf(f->message, sizeof f->message, "the distro is anchored, but the anchor "
				 "%s restarting tetherd (state %s, %ld restarts)",
				 strcmp(p->anchor_status, "gave-up") ? "is backing off" : "gave up",
				 p->anchor_status, p->anchor_restarts);
			fix(f, "see tetherd's log (%s/tetherd.log or journalctl --user -u tetherd)",
			    d->runtime_dir);
		}
		evidence(f, "anchor.json in %s", d->runtime_dir);
		return;
	}
	if (p->instance_idle_timeout_ms < 0) {
		f = add(d, "lifetime.anchor", LEVEL_OK, "nothing anchors the distro, but it does not "
			"stop when idle (instanceIdleTimeout=-1)");
		evidence(f, "%s", idle);
		evidence(f, "%s", p->anchor_detail);
		return;
	}
	f = add(d, "lifetime.anchor", LEVEL_WARN, "%snothing anchors the distro from Windows: it "
		"stops about %ld s after the last wsl.exe exits%s",
		p->systemd ? "systemd is PID 1 but " : "",
		(p->instance_idle_timeout_ms + 999) / 1000,
		p->systemd ? " (systemd services do not keep it alive)" :
		" (with no systemd, a power-off without SIGTERM)");
	evidence(f, "%s", p->anchor_detail);
	evidence(f, "%s", idle);
	if (p->kind == WSL_KIND_WSL2) {
		const struct wsl_conf_item *vm = &p->wslconf.item[WSL_KEY_WSL2_VMIDLETIMEOUT];
		evidence(f, "then the VM stops after vmIdleTimeout %ld ms (%s)", p->vm_idle_timeout_ms,
			 p->wslconfig == WSL_WSLCONFIG_READ && vm->line && vm->valid ? ".wslconfig" :
			 "WSL's default");
	}
	if (p->wslconfig == WSL_WSLCONFIG_AMBIGUOUS || p->wslconfig == WSL_WSLCONFIG_UNREADABLE)
		evidence(f, "%s", p->wslconfig_error);
	fix(f, "run `tether-shim install` on Windows (it keeps `tether anchor` running)");
}

static void check_notes(struct doctor *d)
{
	for (int i = 0; i < d->p->n_notes; i++) {
		struct finding *f = add(d, "platform.read", LEVEL_WARN, "%s", d->p->notes[i]);
		f->confidence = "low";
	}
}

/* ---- the daemon ----------------------------------------------------------- */

struct listener {
	char addr[64];
	bool loopback4, any4, any6, loopback6;
};

/* LISTEN sockets on port in ROOT/proc/net/tcp{,6}. Returns how many, or -errno. */
static int find_listeners(struct doctor *d, int port, struct listener *out, int max,
			  struct finding *f)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char path[WSL_PATH_MAX + 32];
	int n = 0;
	for (int k = 0; k < 2; k++) {
		if (wsl_rooted(path, sizeof path, d->root, files[k]))
			return -ENAMETOOLONG;
		FILE *fp = fopen(path, "r");
		if (!fp) {
			evidence(f, "cannot read %s: %s", files[k], strerror(errno));
			continue;
		}
		char line[512], hex[40];
		unsigned lport, st;
		int lineno = 0;
		while (fgets(line, sizeof line, fp)) {
			if (++lineno == 1)
				continue;
			if (sscanf(line, " %*d: %39[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", hex, &lport, &st) != 3 ||
			    strlen(hex) != (k ? 32u : 8u)) {
				evidence(f, "%s line %d has an unexpected form", files[k], lineno);
				continue;
			}
			if (st != 0x0A || (int)lport != port || n >= max)
				continue;
			struct listener *l = &out[n++];
			memset(l, 0, sizeof *l);
			/* Host-order 32-bit words, little-endian (x86-64, arm64). */
			unsigned char b[16];
			for (size_t i = 0; i < strlen(hex) / 2; i++) {
				unsigned v;
				sscanf(hex + 2 * i, "%2x", &v);
				b[(i / 4) * 4 + 3 - i % 4] = (unsigned char)v;
			}
			if (!k) {
				inet_ntop(AF_INET, b, l->addr, sizeof l->addr);
				l->loopback4 = b[0] == 127;
				l->any4 = !b[0] && !b[1] && !b[2] && !b[3];
			} else {
				static const unsigned char zero[16], one[16] = { [15] = 1 };
				inet_ntop(AF_INET6, b, l->addr, sizeof l->addr);
				l->any6 = !memcmp(b, zero, 16);
				l->loopback6 = !memcmp(b, one, 16);
				if (!memcmp(b, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12))
					l->loopback4 = b[12] == 127;
			}
		}
		fclose(fp);
	}
	return n;
}

static void check_listen(struct doctor *d)
{
	struct listener ls[8];
	struct finding *f = add(d, "daemon.listen", LEVEL_OK, "%s", "");
	int n = find_listeners(d, d->port, ls, 8, f);
	bool loop4 = false, any4 = false, any6 = false, loop6only = true;
	for (int i = 0; i < n; i++) {
		evidence(f, "LISTEN on %s%s%s:%d", strchr(ls[i].addr, ':') ? "[" : "", ls[i].addr,
			 strchr(ls[i].addr, ':') ? "]" : "", d->port);
		loop4 |= ls[i].loopback4;
		any4 |= ls[i].any4;
		any6 |= ls[i].any6;
		loop6only &= ls[i].loopback6;
	}
	if (n <= 0) {
		f->level = LEVEL_FAIL;
		snprintf(f->message, sizeof f->message, "nothing listens on TCP port %d (from "
			 "endpoint.json): Windows clients cannot connect", d->port);
		fix(f, "restart tetherd (it binds 127.0.0.1:%d)", d->port);
	} else if (any6 && !loop4) {
		f->level = LEVEL_FAIL;
		snprintf(f->message, sizeof f->message, "tetherd listens on :: — Windows clients "
			 "connecting to 127.0.0.1 will fail (WSL forwards a :: listener only to [::1])");
		fix(f, "run a tetherd that binds 127.0.0.1 (this one is not tether's build), or "
		    "connect to [::1]:%d", d->port);
	} else if (any4) {
		f->level = LEVEL_WARN;
		snprintf(f->message, sizeof f->message, "port %d listens on 0.0.0.0: every network "
			 "this machine is on can reach it%s", d->port,
			 d->p->net == WSL_NET_MIRRORED ? " (mirrored mode puts the LAN on it)" : "");
		fix(f, "run tether's tetherd, which binds 127.0.0.1 only");
	} else if (loop6only) {
		f->level = LEVEL_FAIL;
		snprintf(f->message, sizeof f->message, "port %d listens on [::1] only: Windows "
			 "clients connecting to 127.0.0.1 will fail", d->port);
		fix(f, "restart tetherd (it binds 127.0.0.1)");
	} else {
		snprintf(f->message, sizeof f->message, "tetherd listens on 127.0.0.1:%d", d->port);
	}
	evidence(f, "read from /proc/net/tcp and /proc/net/tcp6 (the socket's owner is not checked)");
}

/* GET /healthz on 127.0.0.1:port with a 2 s budget. */
static void check_healthz(struct doctor *d)
{
	struct finding *f;
	if (!d->live) {
		add(d, "daemon.healthz", LEVEL_SKIP, "skipped: fixture root");
		return;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)d->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char req[160], resp[256] = "";
	const char *why = NULL;
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	if (fd < 0) {
		why = strerror(errno);
	} else if (connect(fd, (struct sockaddr *)&sa, sizeof sa) && errno != EINPROGRESS) {
		why = strerror(errno);
	} else if (poll(&pfd, 1, 2000) != 1) {
		why = "connect timed out after 2 s";
	} else {
		int err = 0;
		socklen_t el = sizeof err;
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
		int n = snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
				 "Connection: close\r\n\r\n", d->port);
		if (err) {
			why = strerror(err);
		} else if (write(fd, req, (size_t)n) != n) {
			why = "cannot send the request";
		} else {
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 2000) != 1 || read(fd, resp, sizeof resp - 1) <= 0)
				why = "no answer within 2 s";
		}
	}
	if (fd >= 0)
		close(fd);
	if (!why && strncmp(resp, "HTTP/1.1 200", 12))
		why = "the answer is not 200";
	if (why) {
		f = add(d, "daemon.healthz", LEVEL_FAIL, "GET http://127.0.0.1:%d/healthz failed: %s",
			d->port, why);
		fix(f, "restart tetherd; see its log");
	} else {
		add(d, "daemon.healthz", LEVEL_OK, "GET http://127.0.0.1:%d/healthz answers 200", d->port);
	}
}

static void check_daemon(struct doctor *d)
{
	char path[512];
	struct finding *f;
	if (!d->runtime_dir) {
		add(d, "daemon.running", LEVEL_SKIP, "skipped: fixture root without --runtime-dir");
		return;
	}
	relay_runtime_path(path, sizeof path, d->runtime_dir, RELAY_ENDPOINT_NAME);
	char *text = relay_read_text(path, 65536);
	if (!text) {
		f = add(d, "daemon.running", LEVEL_WARN, "tetherd is not running (no %s)", path);
		fix(f, "start it: `tetherd` (or `tether connect`, or let `tether anchor` start it)");
		return;
	}
	cJSON *ep = cJSON_Parse(text);
	free(text);
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(ep, "pid");
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(ep, "port");
	if (!cJSON_IsNumber(pid) || !cJSON_IsNumber(port) || port->valuedouble < 1 ||
	    port->valuedouble > 65535 || pid->valuedouble < 1 || pid->valuedouble > 4194304) {
		f = add(d, "daemon.running", LEVEL_FAIL, "%s is malformed (no integer pid and port)",
			path);
		fix(f, "stop any tetherd, remove %s, start tetherd again", path);
		cJSON_Delete(ep);
		return;
	}
	long p = (long)pid->valuedouble;
	d->port = (int)port->valuedouble;
	cJSON_Delete(ep);
	if (!wsl_pid_alive(d->root, p)) {
		f = add(d, "daemon.running", LEVEL_WARN, "tetherd is not running: %s names pid %ld, "
			"which is gone (stale)", path, p);
		fix(f, "start tetherd; it replaces the stale files");
		return;
	}
	char comm_path[64], comm[64] = "";
	snprintf(comm_path, sizeof comm_path, "/proc/%ld/comm", p);
	char full[WSL_PATH_MAX + 64];
	if (!wsl_rooted(full, sizeof full, d->root, comm_path)) {
		char *c = relay_read_text(full, 63);
		if (c) {
			snprintf(comm, sizeof comm, "%.*s", (int)strcspn(c, "\n"), c);
			free(c);
		}
	}
	if (*comm && strcmp(comm, "tetherd")) {
		f = add(d, "daemon.running", LEVEL_WARN, "%s names pid %ld, but that process is "
			"\"%s\", not tetherd: the file is stale and the pid reused", path, p, comm);
		fix(f, "start tetherd; it replaces the stale files");
		return;
	}
	f = add(d, "daemon.running", LEVEL_OK, "tetherd is running (pid %ld, port %d)", p, d->port);
	evidence(f, "%s, /proc/%ld%s", path, p, *comm ? " (comm tetherd)" : "");
	d->running = true;
	check_listen(d);
	check_healthz(d);
}

/* Where models go, and what tetherd makes of the ones there: asked of the
 * running daemon (its models_dir is the configured one); without one, the
 * default directory is looked at. */
static void check_models(struct doctor *d)
{
	struct finding *f;
	char why[256] = "";
	cJSON *reply = NULL;
	if (!d->live) {
		add(d, "infer.models", LEVEL_SKIP, "skipped: fixture root");
		return;
	}
	int fd = d->running ? relay_client_connect(d->runtime_dir) : -1;
	if (fd >= 0) {
		cJSON *hello = relay_client_hello(fd, "tether doctor", 5000, why, sizeof why);
		if (hello)
			reply = relay_client_request(fd, "{\"type\":\"infer.models\",\"id\":1}", 15000,
						     why, sizeof why);
		cJSON_Delete(hello);
		close(fd);
	}
	const cJSON *models = cJSON_GetObjectItemCaseSensitive(reply, "models");
	const cJSON *dir = cJSON_GetObjectItemCaseSensitive(reply, "models_dir");
	if (!cJSON_IsArray(models) || !cJSON_IsString(dir)) {
		char def[512];
		struct relay_config cfg;
		relay_config_defaults(&cfg);
		if (relay_models_dir(&cfg, def, sizeof def))
			snprintf(def, sizeof def, "$XDG_DATA_HOME/tether/models");
		f = add(d, "infer.models", LEVEL_SKIP, "not asked: %s; GGUF models go in %s "
			"(the default models_dir) or tetherd --model PATH",
			d->running ? (*why ? why : "tetherd did not list its models") : "tetherd is not running",
			def);
		cJSON_Delete(reply);
		return;
	}
	int n = 0, unloadable = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, models) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
		const cJSON *ok = cJSON_GetObjectItemCaseSensitive(m, "loadable");
		const cJSON *reason = cJSON_GetObjectItemCaseSensitive(m, "reason");
		const cJSON *file = cJSON_GetObjectItemCaseSensitive(m, "file");
		const char *idt = cJSON_IsString(id) ? id->valuestring : "?";
		n++;
		if (cJSON_IsFalse(ok)) {
			unloadable++;
			f = add(d, "infer.model", LEVEL_WARN, "model %s cannot be loaded: %s", idt,
				cJSON_IsString(reason) ? reason->valuestring : "(no reason given)");
			if (cJSON_IsString(file))
				evidence(f, "%s", file->valuestring);
			fix(f, "replace the file with a whole GGUF file of a supported architecture "
			    "(docs/inference.md), or remove it");
		} else if (cJSON_IsString(file) && !strncmp(file->valuestring, "/mnt/", 5)) {
			f = add(d, "infer.model", LEVEL_WARN, "model %s is on a Windows drive: it loads "
				"slowly over 9P", idt);
			evidence(f, "%s", file->valuestring);
			fix(f, "copy it into %s (the distro's own filesystem)", dir->valuestring);
		}
	}
	if (!n) {
		f = add(d, "infer.models", LEVEL_OK, "no models yet (terminals and hooks do not need "
			"one): put a GGUF file in %s, or start tetherd with --model PATH", dir->valuestring);
	} else {
		f = add(d, "infer.models", LEVEL_OK, "%d model%s in %s or --model, %d loadable", n,
			n == 1 ? "" : "s", dir->valuestring, n - unloadable);
	}
	evidence(f, "tetherd's infer.models");
	cJSON_Delete(reply);
}

static void check_permissions(struct doctor *d)
{
	struct stat st;
	struct finding *f;
	char path[512];
	if (!d->runtime_dir)
		return;
	if (lstat(d->runtime_dir, &st)) {
		add(d, "daemon.runtime_dir", LEVEL_OK, "runtime dir %s does not exist yet (tetherd "
		    "creates it 0700)", d->runtime_dir);
		return;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077)) {
		f = add(d, "daemon.runtime_dir", LEVEL_FAIL, "runtime dir %s is %s: other users could "
			"reach the socket and the token", d->runtime_dir,
			!S_ISDIR(st.st_mode) ? "not a directory" :
			st.st_uid != getuid() ? "owned by another user" : "open to group or others");
		evidence(f, "mode %03o, owner uid %u (we are %u)", (unsigned)(st.st_mode & 0777),
			 (unsigned)st.st_uid, (unsigned)getuid());
		fix(f, S_ISDIR(st.st_mode) && st.st_uid == getuid() ? "chmod 700 %s" :
		    "remove %s and let tetherd create it", d->runtime_dir);
	} else {
		f = add(d, "daemon.runtime_dir", LEVEL_OK, "runtime dir %s is 0700 and ours",
			d->runtime_dir);
	}
	relay_runtime_path(path, sizeof path, d->runtime_dir, RELAY_TOKEN_NAME);
	if (lstat(path, &st)) {
		add(d, "daemon.token", d->running ? LEVEL_FAIL : LEVEL_OK, "no token file%s",
		    d->running ? " although tetherd runs: clients cannot authenticate" :
		    " (tetherd writes one at start)");
		return;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077)) {
		f = add(d, "daemon.token", LEVEL_FAIL, "token file %s is %s", path,
			!S_ISREG(st.st_mode) ? "not a regular file" :
			st.st_uid != getuid() ? "owned by another user" : "readable by group or others");
		evidence(f, "mode %03o, owner uid %u", (unsigned)(st.st_mode & 0777), (unsigned)st.st_uid);
		fix(f, "chmod 600 %s (tetherd writes a new one at its next start)", path);
	} else {
		add(d, "daemon.token", LEVEL_OK, "token file is 0600 and ours");
	}
}

/* ---- output --------------------------------------------------------------- */

static enum level worst(const struct doctor *d)
{
	enum level w = LEVEL_OK;
	for (int i = 0; i < d->n; i++)
		if (d->f[i].level > w)
			w = d->f[i].level;
	return w;
}

static int exit_code(enum level w)
{
	return w == LEVEL_FAIL ? EXIT_FAIL : w == LEVEL_WARN ? EXIT_WARN : 0;
}

static void print_json(const struct doctor *d)
{
	enum level w = worst(d);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "doctor", 1);
	cJSON_AddStringToObject(j, "root", d->root);
	cJSON_AddBoolToObject(j, "live", d->live);
	cJSON_AddStringToObject(j, "worst", level_names[w]);
	cJSON_AddNumberToObject(j, "exit_code", exit_code(w));
	cJSON *p = wsl_platform_json(d->p);
	if (p)
		cJSON_AddItemToObject(j, "platform", p);
	cJSON *arr = cJSON_AddArrayToObject(j, "findings");
	for (int i = 0; i < d->n; i++) {
		const struct finding *f = &d->f[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", f->id);
		cJSON_AddStringToObject(o, "level", level_names[f->level]);
		cJSON_AddStringToObject(o, "message", f->message);
		cJSON *ev = cJSON_AddArrayToObject(o, "evidence");
		for (int k = 0; k < f->n_evidence; k++)
			cJSON_AddItemToArray(ev, cJSON_CreateString(f->evidence[k]));
		if (f->confidence)
			cJSON_AddStringToObject(o, "confidence", f->confidence);
		else
			cJSON_AddNullToObject(o, "confidence");
		if (*f->fix)
			cJSON_AddStringToObject(o, "fix", f->fix);
		else
			cJSON_AddNullToObject(o, "fix");
		cJSON_AddItemToArray(arr, o);
	}
	char *text = cJSON_Print(j);
	if (text)
		printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(j);
}

static void print_text(const struct doctor *d)
{
	char line[1024];
	wsl_summary(d->p, line, sizeof line);
	printf("platform: %s\n", line);
	for (int i = 0; i < d->n; i++) {
		const struct finding *f = &d->f[i];
		printf("%-4s  %-20s %s", level_names[f->level], f->id, f->message);
		if (f->confidence && f->level != LEVEL_SKIP)
			printf(" [%s confidence]", f->confidence);
		printf("\n");
		for (int k = 0; k < f->n_evidence; k++)
			printf("      because: %s\n", f->evidence[k]);
		if (*f->fix)
			printf("      fix: %s\n", f->fix);
	}
	enum level w = worst(d);
	printf("worst: %s (exit %d)\n", level_names[w], exit_code(w));
}

int relay_cli_doctor(int argc, char **argv)
{
	static struct doctor d;
	static char runtime_dir[256];
	bool json = false, have_runtime = false;
	const char *root = "/";

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		if (!strcmp(a, "--json")) {
			json = true;
			continue;
		}
		bool is_root = !strcmp(a, "--root") || !strncmp(a, "--root=", 7);
		bool is_rt = !strcmp(a, "--runtime-dir") || !strncmp(a, "--runtime-dir=", 14);
		if (!is_root && !is_rt)
			return cli_usage_error("doctor", "unknown option '%s'", a);
		const char *eq = strchr(a, '=');
		v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!v || !*v)
			return cli_usage_error("doctor", "option %s needs a value",
					       is_root ? "--root" : "--runtime-dir");
		if (is_root) {
			struct stat st;
			if (strlen(v) >= WSL_PATH_MAX)
				return cli_usage_error("doctor", "--root '%s' is too long", v);
			if (stat(v, &st) || !S_ISDIR(st.st_mode))
				return cli_usage_error("doctor", "--root '%s' is not a directory", v);
			root = v;
		} else {
			if (strlen(v) >= sizeof runtime_dir - 32)
				return cli_usage_error("doctor", "--runtime-dir '%s' is too long", v);
			snprintf(runtime_dir, sizeof runtime_dir, "%s", v);
			have_runtime = true;
		}
	}
	bool live = !strcmp(root, "/");
	if (!have_runtime && live)
		have_runtime = relay_runtime_dir_default(runtime_dir, sizeof runtime_dir) == 0;

	struct wsl_detect_opts o = { .root = root, .runtime_dir = have_runtime ? runtime_dir : NULL,
				     .flags = WSL_DETECT_THOROUGH | WSL_DETECT_DLOPEN };
	wsl_env_from_process(&o.env);
	d.p = calloc(1, sizeof *d.p);
	if (!d.p) {
		fprintf(stderr, "tether doctor: out of memory\n");
		return 1;
	}
	d.root = root;
	d.live = live;
	d.runtime_dir = o.runtime_dir;
	wsl_detect(&o, d.p);

	check_kind(&d);
	check_distro(&d);
	check_wsl_conf(&d);
	check_init(&d);
	check_interop(&d);
	check_network(&d);
	check_gpu(&d);
	check_lifetime(&d);
	check_notes(&d);
	check_daemon(&d);
	check_models(&d);
	check_permissions(&d);

	if (json)
		print_json(&d);
	else
		print_text(&d);
	enum level w = worst(&d);
	free(d.p);
	return exit_code(w);
}
