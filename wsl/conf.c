/*
 * The INI dialect of /etc/wsl.conf and .wslconfig, read the way WSL reads it
 * (microsoft/WSL src/shared/configfile/configfile.cpp), so tether can say
 * what WSL will actually apply. The rules are in wsl.h and docs/doctor.md.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wsl.h"

static const char *const cgroup_choices[] = { "v1", "v2", NULL };
/* "VirtioProxy" is WSL's legacy name of Consomme. */
static const char *const netmode_choices[] = { "None", "NAT", "Bridged", "Mirrored", "Consomme",
					       "VirtioProxy", NULL };

struct keydef {
	enum wsl_key key;
	enum wsl_dialect dialect;
	const char *name;              /* canonical, as WSL spells it */
	const char *alias;             /* a second name for the same setting, or NULL */
	enum wsl_key_type type;
	const char *dflt;              /* WSL's default, as text */
	const char *const *choices;    /* WSL_TYPE_ENUM */
};

#define D WSL_DIALECT_DISTRO
#define W WSL_DIALECT_WINDOWS
static const struct keydef keydefs[] = {
	{ WSL_KEY_AUTOMOUNT_ENABLED, D, "automount.enabled", NULL, WSL_TYPE_BOOL, "true", NULL },
	{ WSL_KEY_AUTOMOUNT_ROOT, D, "automount.root", NULL, WSL_TYPE_STRING, "/mnt/", NULL },
	{ WSL_KEY_AUTOMOUNT_OPTIONS, D, "automount.options", NULL, WSL_TYPE_STRING, "", NULL },
	{ WSL_KEY_AUTOMOUNT_MOUNTFSTAB, D, "automount.mountFsTab", NULL, WSL_TYPE_BOOL, "true", NULL },
	{ WSL_KEY_AUTOMOUNT_LDCONFIG, D, "automount.ldconfig", NULL, WSL_TYPE_BOOL, "true", NULL },
	{ WSL_KEY_AUTOMOUNT_CGROUPS, D, "automount.cgroups", NULL, WSL_TYPE_ENUM, "v2", cgroup_choices },
	{ WSL_KEY_FILESYSTEM_UMASK, D, "filesystem.umask", NULL, WSL_TYPE_INT, "0022", NULL },
	{ WSL_KEY_INTEROP_APPENDWINDOWSPATH, D, "interop.appendWindowsPath", NULL, WSL_TYPE_BOOL,
	  "true", NULL },
	{ WSL_KEY_INTEROP_ENABLED, D, "interop.enabled", NULL, WSL_TYPE_BOOL, "true", NULL },
	{ WSL_KEY_NETWORK_GENERATEHOSTS, D, "network.generateHosts", NULL, WSL_TYPE_BOOL, "true", NULL },
	{ WSL_KEY_NETWORK_GENERATERESOLVCONF, D, "network.generateResolvConf", NULL, WSL_TYPE_BOOL,
	  "true", NULL },
	{ WSL_KEY_NETWORK_HOSTNAME, D, "network.hostname", NULL, WSL_TYPE_STRING, "", NULL },
	{ WSL_KEY_TIME_USEWINDOWSTIMEZONE, D, "time.useWindowsTimezone", NULL, WSL_TYPE_BOOL, "true",
	  NULL },
	{ WSL_KEY_FILESERVER_ENABLED, D, "fileServer.enabled", NULL, WSL_TYPE_BOOL, "true", NULL },
	{ WSL_KEY_FILESERVER_LOGFILE, D, "fileServer.logFile", NULL, WSL_TYPE_STRING, "", NULL },
	{ WSL_KEY_FILESERVER_LOGLEVEL, D, "fileServer.logLevel", NULL, WSL_TYPE_INT, "4", NULL },
	{ WSL_KEY_FILESERVER_LOGTRUNCATE, D, "fileServer.logTruncate", NULL, WSL_TYPE_BOOL, "true",
	  NULL },
	{ WSL_KEY_GPU_ENABLED, D, "gpu.enabled", NULL, WSL_TYPE_BOOL, "true", NULL },
	{ WSL_KEY_GPU_APPENDLIBPATH, D, "gpu.appendLibPath", NULL, WSL_TYPE_BOOL, "true", NULL },
	{ WSL_KEY_USER_DEFAULT, D, "user.default", NULL, WSL_TYPE_STRING, "", NULL },
	{ WSL_KEY_BOOT_COMMAND, D, "boot.command", NULL, WSL_TYPE_STRING, "", NULL },
	{ WSL_KEY_BOOT_SYSTEMD, D, "boot.systemd", NULL, WSL_TYPE_BOOL, "false", NULL },
	{ WSL_KEY_BOOT_INITTIMEOUT, D, "boot.initTimeout", NULL, WSL_TYPE_INT, "10000", NULL },
	{ WSL_KEY_BOOT_PROTECTBINFMT, D, "boot.protectBinfmt", NULL, WSL_TYPE_BOOL, "true", NULL },
	{ WSL_KEY_GENERAL_GUIAPPLICATIONS, D, "general.guiApplications", NULL, WSL_TYPE_BOOL, "false",
	  NULL },
	{ WSL_KEY_WSL2_NETWORKINGMODE, W, "wsl2.networkingMode", "experimental.networkingMode",
	  WSL_TYPE_ENUM, "NAT", netmode_choices },
	{ WSL_KEY_WSL2_VMIDLETIMEOUT, W, "wsl2.vmIdleTimeout", NULL, WSL_TYPE_INT, "60000", NULL },
	{ WSL_KEY_GENERAL_INSTANCEIDLETIMEOUT, W, "general.instanceIdleTimeout", NULL, WSL_TYPE_INT,
	  "15000", NULL },
	{ WSL_KEY_WSL2_LOCALHOSTFORWARDING, W, "wsl2.localhostForwarding", NULL, WSL_TYPE_BOOL, "true",
	  NULL },
	{ WSL_KEY_WSL2_GPUSUPPORT, W, "wsl2.gpuSupport", NULL, WSL_TYPE_BOOL, "true", NULL },
};
#undef D
#undef W
#define N_KEYDEFS (sizeof keydefs / sizeof keydefs[0])

/* Every other .wslconfig key WSL knows (WslCoreConfig.h, ConfigSetting):
 * accepted without checking the value, so only misspellings are reported. */
static const char *const other_windows_keys[] = {
	"wsl2.kernel", "wsl2.kernelCommandLine", "wsl2.kernelModules", "wsl2.memory",
	"wsl2.processors", "wsl2.debugConsole", "wsl2.earlyBootLogging", "wsl2.swap",
	"wsl2.swapFile", "wsl2.nestedVirtualization", "wsl2.virtio9p", "wsl2.virtiofs",
	"wsl2.kernelDebugPort", "wsl2.guiApplications", "wsl2.systemDistro", "wsl2.telemetry",
	"wsl2.debugConsoleLogFile", "wsl2.kernelBootTimeout", "wsl2.distributionStartTimeout",
	"wsl2.virtio", "wsl2.hostFileSystemAccess", "wsl2.mountDeviceTimeout",
	"wsl2.hardwarePerformanceCounters", "wsl2.vmSwitch", "wsl2.macAddress", "wsl2.dhcp",
	"wsl2.dhcpTimeout", "wsl2.ipv6", "wsl2.dnsProxy", "wsl2.safeMode", "wsl2.defaultVhdSize",
	"wsl2.crashDumpFolder", "wsl2.maxCrashDumpCount", "general.distributionInstallPath",
	"wsl2.loadDefaultKernelModules", "wsl2.loadKernelModules", "wsl2.isolateDistroCgroup",
	"wsl2.dnsTunneling|experimental.dnsTunneling", "wsl2.firewall|experimental.firewall",
	"wsl2.autoProxy|experimental.autoProxy", "experimental.autoMemoryReclaim",
	"experimental.sparseVhd", "experimental.bestEffortDnsParsing",
	"experimental.dnsTunnelingIpAddress", "experimental.initialAutoProxyTimeout",
	"experimental.ignoredPorts", "experimental.hostAddressLoopback",
	"experimental.setVersionDebug", "experimental.swiotlb",
	"experimental.virtioFsAggregateShares",
};
#define N_OTHER (sizeof other_windows_keys / sizeof other_windows_keys[0])

static const struct keydef *keydef_of(enum wsl_key k)
{
	for (size_t i = 0; i < N_KEYDEFS; i++)
		if (keydefs[i].key == k)
			return &keydefs[i];
	return NULL;
}

const char *wsl_key_name(enum wsl_key k)
{
	const struct keydef *d = keydef_of(k);
	return d ? d->name : "(other)";
}

enum wsl_key_type wsl_key_type(enum wsl_key k)
{
	const struct keydef *d = keydef_of(k);
	return d ? d->type : WSL_TYPE_STRING;
}

const char *wsl_diag_kind_name(enum wsl_diag_kind k)
{
	switch (k) {
	case WSL_DIAG_MALFORMED: return "malformed";
	case WSL_DIAG_UNKNOWN_KEY: return "unknown-key";
	case WSL_DIAG_DUPLICATE: return "duplicate";
	case WSL_DIAG_BAD_VALUE: return "bad-value";
	case WSL_DIAG_NOTE: return "note";
	}
	return "?";
}

/* "1"/"0"/"true"/"false", any case (stringshared.h ParseBool). */
static int parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "1") || !strcasecmp(s, "true"))
		*out = true;
	else if (!strcmp(s, "0") || !strcasecmp(s, "false"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* strtol base 0 within int, as ConfigKey::ParseImpl(int). */
static int parse_int(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 0);
	if (!*s || *end || errno || v < INT_MIN || v > INT_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_choice(const char *s, const char *const *choices, long *out)
{
	for (long i = 0; choices[i]; i++) {
		if (!strcasecmp(s, choices[i])) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

static void dflt_item(const struct keydef *d, struct wsl_conf_item *it)
{
	it->valid = true;
	snprintf(it->text, sizeof it->text, "%s", d->dflt);
	if (d->type == WSL_TYPE_BOOL)
		parse_bool(d->dflt, &it->b);
	else if (d->type == WSL_TYPE_INT)
		parse_int(d->dflt, &it->i);
	else if (d->type == WSL_TYPE_ENUM)
		parse_choice(d->dflt, d->choices, &it->i);
}

bool wsl_conf_bool(const struct wsl_conf *c, enum wsl_key k)
{
	const struct keydef *d = keydef_of(k);
	struct wsl_conf_item it;
	if (c->item[k].line && c->item[k].valid)
		return c->item[k].b;
	dflt_item(d, &it);
	return it.b;
}

long wsl_conf_int(const struct wsl_conf *c, enum wsl_key k)
{
	const struct keydef *d = keydef_of(k);
	struct wsl_conf_item it;
	if (c->item[k].line && c->item[k].valid)
		return c->item[k].i;
	dflt_item(d, &it);
	return it.i;
}

const char *wsl_conf_str(const struct wsl_conf *c, enum wsl_key k)
{
	const struct keydef *d = keydef_of(k);
	if (c->item[k].line && c->item[k].valid)
		return c->item[k].text;
	return d ? d->dflt : "";
}

/* ---- the parser ------------------------------------------------------------ */

#define END (-1)

struct parser {
	const unsigned char *p;
	size_t len, pos;
	enum wsl_dialect d;
	int line;                    /* of the next character */
	int last;                    /* last character returned by get() */
	int nonascii_line;           /* first line with a byte >= 0x80 */
	bool shadow;                 /* past a stop: only list what WSL will not read */
	struct wsl_conf *out;
	int other_seen[N_OTHER];     /* line of the first occurrence */
};

static int get(struct parser *ps)
{
	if (ps->pos >= ps->len) {
		ps->last = END;
		return END;
	}
	int c = ps->p[ps->pos++];
	if (ps->d == WSL_DIALECT_WINDOWS) {
		/* The CRT's text mode: CRLF is LF, Ctrl-Z ends the file. */
		if (c == '\r' && ps->pos < ps->len && ps->p[ps->pos] == '\n') {
			ps->pos++;
			c = '\n';
			ps->out->crlf = true;
		} else if (c == 0x1a) {
			ps->pos = ps->len;
			c = END;
		}
	} else if (c == '\r' && ps->pos < ps->len && ps->p[ps->pos] == '\n') {
		ps->out->crlf = true;
	}
	if (c >= 0x80 && !ps->nonascii_line)
		ps->nonascii_line = ps->line;
	if (c == '\n')
		ps->line++;
	ps->last = c;
	return c;
}

static int peek(const struct parser *ps)
{
	return ps->pos < ps->len ? ps->p[ps->pos] : END;
}

static bool hspace(int c)
{
	return c == ' ' || c == '\t';
}

static bool alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool alnum(int c)
{
	return alpha(c) || (c >= '0' && c <= '9');
}

static void diag(struct wsl_conf *out, enum wsl_diag_kind kind, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void diag(struct wsl_conf *out, enum wsl_diag_kind kind, int line, const char *fmt, ...)
{
	if (out->n_diags >= WSL_CONF_MAX_DIAGS) {
		out->n_diags_dropped++;
		return;
	}
	struct wsl_diag *d = &out->diag[out->n_diags++];
	va_list ap;
	d->kind = kind;
	d->line = line;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof d->msg, fmt, ap);
	va_end(ap);
}

/* How a character looks in a message. */
static const char *show(int c, char buf[16])
{
	if (c == END)
		return "the end of the file";
	if (c == '\n')
		return "the end of the line";
	if (c == '\r')
		return "a carriage return";
	if (c >= 0x21 && c < 0x7f)
		snprintf(buf, 16, "'%c'", c);
	else
		snprintf(buf, 16, "byte 0x%02x", (unsigned)c);
	return buf;
}

/* Consumes the rest of the line, its '\n' included. */
static void skip_line(struct parser *ps)
{
	while (ps->last != '\n' && ps->last != END)
		get(ps);
}

/* A malformed line: WSL's init stops there; the Windows service skips it.
 * Past a stop the parser goes on in shadow mode, to list the keys WSL will not
 * read. Returns false (parsing goes on). */
static bool malformed(struct parser *ps, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool malformed(struct parser *ps, int line, const char *fmt, ...)
{
	char msg[WSL_MSG_MAX - 96];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (ps->shadow) {
		/* WSL never gets here; go on only to list the keys it misses. */
	} else if (ps->d == WSL_DIALECT_DISTRO) {
		diag(ps->out, WSL_DIAG_MALFORMED, line, "%s; WSL stops reading the file here: "
		     "nothing from this line on applies", msg);
		ps->out->stopped_at = line;
		ps->shadow = true;
	} else {
		diag(ps->out, WSL_DIAG_MALFORMED, line, "%s; WSL skips this line", msg);
	}
	skip_line(ps);
	return false;
}

/* The part after the last '.' of a key. */
static const char *leaf(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot ? dot + 1 : name;
}

static bool name_matches(const char *spec, const char *key)
{
	/* spec: "a.b" or "a.b|c.d" */
	char buf[96];
	snprintf(buf, sizeof buf, "%s", spec);
	for (char *save = NULL, *t = strtok_r(buf, "|", &save); t; t = strtok_r(NULL, "|", &save))
		if (!strcasecmp(t, key))
			return true;
	return false;
}

/* A hint for an unknown key: the same leaf name elsewhere. */
static void unknown_key(struct parser *ps, const char *key, int line)
{
	const char *l = leaf(key);
	const char *here = ps->d == WSL_DIALECT_DISTRO ? "wsl.conf" : ".wslconfig";
	for (size_t i = 0; i < N_KEYDEFS; i++) {
		const struct keydef *d = &keydefs[i];
		if (strcasecmp(leaf(d->name), l))
			continue;
		char sect[64];
		snprintf(sect, sizeof sect, "%.*s", (int)(leaf(d->name) - d->name - 1), d->name);
		if (d->dialect == ps->d)
			diag(ps->out, WSL_DIAG_UNKNOWN_KEY, line, "unknown key \"%s\": WSL ignores it "
			     "(did you mean %s under [%s]?)", key, leaf(d->name), sect);
		else
			diag(ps->out, WSL_DIAG_UNKNOWN_KEY, line, "unknown key \"%s\": WSL ignores it; "
			     "%s under [%s] is a setting of %s, not of %s", key, leaf(d->name), sect,
			     d->dialect == WSL_DIALECT_DISTRO ? "/etc/wsl.conf inside the distro"
							      : "the Windows user's .wslconfig",
			     here);
		return;
	}
	diag(ps->out, WSL_DIAG_UNKNOWN_KEY, line, "unknown key \"%s\" (no such setting in %s): "
	     "WSL ignores it", key, here);
}

static void set_key(struct parser *ps, const char *key, const char *value, size_t full_len,
		    int line)
{
	struct wsl_conf *out = ps->out;
	const struct keydef *d = NULL;
	if (ps->shadow) {
		if (out->n_lost < (int)(sizeof out->lost / sizeof out->lost[0])) {
			snprintf(out->lost[out->n_lost].key, sizeof out->lost[0].key, "%.63s", key);
			out->lost[out->n_lost].line = line;
		}
		out->n_lost++;
		return;
	}
	for (size_t i = 0; i < N_KEYDEFS && !d; i++)
		if (keydefs[i].dialect == ps->d && (!strcasecmp(keydefs[i].name, key) ||
						    (keydefs[i].alias && !strcasecmp(keydefs[i].alias, key))))
			d = &keydefs[i];
	if (!d) {
		if (ps->d == WSL_DIALECT_WINDOWS) {
			for (size_t i = 0; i < N_OTHER; i++) {
				if (!name_matches(other_windows_keys[i], key))
					continue;
				if (ps->other_seen[i])
					diag(out, WSL_DIAG_DUPLICATE, line, "\"%s\" again (first at line "
					     "%d): WSL ignores this one, the first wins", key,
					     ps->other_seen[i]);
				else
					ps->other_seen[i] = line;
				return;
			}
		}
		unknown_key(ps, key, line);
		return;
	}
	struct wsl_conf_item *it = &out->item[d->key];
	if (it->line) {
		diag(out, WSL_DIAG_DUPLICATE, line, "\"%s\" again (first at line %d): WSL ignores "
		     "this one, the first wins", key, it->line);
		return;
	}
	it->line = line;
	snprintf(it->text, sizeof it->text, "%s", value);
	if (full_len >= sizeof it->text)
		diag(out, WSL_DIAG_NOTE, line, "the value of \"%s\" is %zu bytes; tether keeps the "
		     "first %zu", key, full_len, sizeof it->text - 1);
	int rc = 0;
	switch (d->type) {
	case WSL_TYPE_BOOL:
		if ((rc = parse_bool(value, &it->b)))
			diag(out, WSL_DIAG_BAD_VALUE, line, "\"%s\" = \"%s\" is not a boolean (WSL "
			     "accepts true, false, 1, 0 in any case): WSL keeps the default, %s",
			     key, it->text, d->dflt);
		break;
	case WSL_TYPE_INT:
		if ((rc = parse_int(value, &it->i)))
			diag(out, WSL_DIAG_BAD_VALUE, line, "\"%s\" = \"%s\" is not an integer: WSL "
			     "keeps the default, %s", key, it->text, d->dflt);
		break;
	case WSL_TYPE_ENUM:
		if ((rc = parse_choice(value, d->choices, &it->i))) {
			char list[128] = "";
			for (int i = 0; d->choices[i]; i++)
				snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
					 i ? ", " : "", d->choices[i]);
			diag(out, WSL_DIAG_BAD_VALUE, line, "\"%s\" = \"%s\" is not one of %s: WSL "
			     "keeps the default, %s", key, it->text, list, d->dflt);
		}
		break;
	case WSL_TYPE_STRING:
		break;
	}
	it->valid = rc == 0;
}

/* After '[': "[name]" then blanks, then the end of the line or a comment. */
static bool parse_section(struct parser *ps, char *section, size_t size)
{
	char name[64], buf[16];
	size_t n = 0;
	int line = ps->line;
	int c = get(ps);
	if (!alpha(c))
		return malformed(ps, line, "expected a section name (a letter) after '[', found %s",
				 show(c, buf));
	do {
		if (n < sizeof name - 1)
			name[n++] = (char)c;
		c = get(ps);
	} while (alnum(c));
	name[n] = 0;
	if (c != ']')
		return malformed(ps, line, "expected ']' after \"[%s\", found %s (section names "
				 "are letters and digits)", name, show(c, buf));
	while (hspace(c = get(ps)))
		;
	if (c == '#')
		skip_line(ps);
	else if (c == '\r' && peek(ps) == '\n')
		get(ps);
	else if (c != END && c != '\n' && c != '\r')
		return malformed(ps, line, "expected the end of the line after \"[%s]\", found %s",
				 name, show(c, buf));
	snprintf(section, size, "%s", name);
	return false;
}

/* A key starting with c, then '=', then the value to the end of the line. */
static bool parse_key_value(struct parser *ps, int c, const char *section)
{
	char key[160], value[WSL_VALUE_MAX], buf[16];
	size_t n = 0, vlen = 0, full = 0, trimmed = 0, trimmed_full = 0;
	int line = ps->line;
	bool quoted = false;

	if (*section)
		n = (size_t)snprintf(key, sizeof key, "%s.", section);
	do {
		if (n < sizeof key - 1)
			key[n++] = (char)c;
		c = get(ps);
	} while (alnum(c));
	key[n] = 0;
	while (hspace(c))
		c = get(ps);
	if (c != '=')
		return malformed(ps, line, "expected '=' after the key \"%s\", found %s (keys are "
				 "letters and digits)", key, show(c, buf));
	while (hspace(c = get(ps)))
		;
	while (c != END && c != '\n' && c != '\r') {
		int add = -1;
		if (c == '"') {
			quoted = !quoted;
		} else if (c == '\\') {
			int c2 = get(ps);
			switch (c2) {
			case '\\': case '"': add = c2; break;
			case 'b': add = '\b'; break;
			case 'n': add = '\n'; break;
			case 't': add = '\t'; break;
			case '\n': break;   /* continuation */
			default:
				if (c2 == '\r' && ps->d == WSL_DIALECT_DISTRO)
					return malformed(ps, line, "a backslash before a CRLF line end: "
							 "WSL reads the carriage return as an invalid "
							 "escape (save the file with LF line ends)");
				return malformed(ps, line, "invalid escape '\\' followed by %s (WSL knows "
						 "\\\\ \\\" \\b \\n \\t and a backslash at the end "
						 "of the line)", show(c2, buf));
			}
		} else if (c == '#' && !quoted) {
			skip_line(ps);
			break;
		} else {
			add = c;
		}
		if (add >= 0) {
			if (vlen < sizeof value - 1)
				value[vlen++] = (char)add;
			full++;
		}
		if (!hspace(c)) {
			trimmed = vlen;
			trimmed_full = full;
		}
		c = get(ps);
	}
	if (c == '\r' && peek(ps) == '\n')
		get(ps);
	if (quoted)
		return malformed(ps, line, "the value of \"%s\" has no closing '\"'", key);
	value[trimmed] = 0;   /* a NUL inside ends it, as WSL's c_str() does */
	set_key(ps, key, value, trimmed_full, line);
	return false;
}

void wsl_conf_parse(const char *buf, size_t len, enum wsl_dialect dialect, struct wsl_conf *out)
{
	struct parser ps = { .p = (const unsigned char *)buf, .len = len, .d = dialect, .line = 1,
			     .out = out };
	char section[64] = "", b[16];

	memset(out, 0, sizeof *out);
	out->dialect = dialect;
	if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) {
		if (dialect == WSL_DIALECT_WINDOWS) {
			ps.pos = 3;   /* _wfopen(..., "ccs=UTF-8") skips it */
		} else {
			diag(out, WSL_DIAG_MALFORMED, 1, "the file starts with a UTF-8 byte-order mark; "
			     "WSL does not skip it and stops reading the file here: nothing in it "
			     "applies (save it as UTF-8 without BOM)");
			out->stopped_at = 1;
			ps.shadow = true;
			ps.pos = 3;
		}
	}
	for (;;) {
		int c;
		while (hspace(c = get(&ps)))
			;
		if (c == END)
			break;
		if (c == '\n')
			continue;
		if (c == '\r') {
			if (peek(&ps) == '\n')
				get(&ps);
			continue;
		}
		if (c == '#') {
			skip_line(&ps);
			continue;
		}
		if (c == '[') {
			if (parse_section(&ps, section, sizeof section))
				break;
			continue;
		}
		if (!alpha(c)) {
			bool stop;
			int line = ps.line - (c == '\n');
			if (c == ';')
				stop = malformed(&ps, line, "';' does not start a comment for WSL (only "
						 "'#' does)");
			else
				stop = malformed(&ps, line, "a line must start with a key (a letter), "
						 "'[' or '#', found %s", show(c, b));
			if (stop)
				break;
			continue;
		}
		if (parse_key_value(&ps, c, section))
			break;
	}
	if (ps.nonascii_line && dialect == WSL_DIALECT_DISTRO &&
	    (!out->stopped_at || ps.nonascii_line < out->stopped_at))
		diag(out, WSL_DIAG_NOTE, ps.nonascii_line, "bytes outside ASCII: WSL's init reads "
		     "the file as wide characters in its own locale and may stop at them; keep "
		     "wsl.conf ASCII");
	out->lines = 0;
	for (size_t i = 0; i < len; i++)
		out->lines += buf[i] == '\n';
	if (len && buf[len - 1] != '\n')
		out->lines++;
	if (!out->crlf)
		out->crlf = memmem(buf, len, "\r\n", 2) != NULL;
}
