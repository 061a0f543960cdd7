/*
 * wsl: what platform tetherd runs on, read from the filesystem under a root
 * directory ("/" for this system, a fixture tree in tests), so every verdict
 * can be tested on a machine without WSL. Facts and sources:
 * docs/doctor.md and ../shared/fixtures/wsl/README.md.
 *
 * Nothing here prints, exits or reads the environment: callers pass the
 * variables they want considered (struct wsl_env). Functions return 0 or a
 * negative errno unless they say otherwise. Every struct is plain data; the
 * caller owns it and nothing in it needs freeing.
 */
#ifndef TETHER_WSL_H
#define TETHER_WSL_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#define WSL_PATH_MAX 256
#define WSL_MSG_MAX 640
#define WSL_VALUE_MAX 512     /* a wsl.conf value kept by tether (longer: cut, noted) */
#define WSL_CONF_MAX_DIAGS 24
#define WSL_MAX_EVIDENCE 6
#define WSL_MAX_LIBCUDA 8
#define WSL_MAX_WSLCONFIGS 4

enum wsl_confidence {
	WSL_CONFIDENCE_LOW,       /* a guess from weak evidence; say so */
	WSL_CONFIDENCE_MEDIUM,    /* consistent evidence, but another reading exists */
	WSL_CONFIDENCE_HIGH,      /* evidence only this answer explains */
};
const char *wsl_confidence_name(enum wsl_confidence c);

/* ---- the INI dialect of /etc/wsl.conf and %UserProfile%\.wslconfig -------- */

/*
 * The parser follows WSL's own (src/shared/configfile/configfile.cpp in
 * microsoft/WSL): a line is blank, a "#" comment, "[section]" (a letter then
 * letters/digits) or "key = value" (the same); values lose unquoted trailing
 * blanks, '"' toggles quoting, "\\" "\"" "\b" "\n" "\t" and a backslash at
 * the end of the line (continuation) are the escapes, an unquoted '#' starts
 * a comment. Keys match case-insensitively as "section.key". Booleans are
 * 1/0/true/false (any case), nothing else. The first occurrence of a key wins
 * (even when its value was invalid); later ones are ignored. Unknown keys
 * are ignored. What differs between the two files:
 *   WSL_DIALECT_DISTRO   /etc/wsl.conf, read by WSL's init inside the distro
 *                        byte by byte: the first malformed line STOPS the
 *                        parse (later lines do not apply); a UTF-8 BOM is not
 *                        skipped (so line 1 is malformed); ';' is no comment.
 *   WSL_DIALECT_WINDOWS  .wslconfig, read by the Windows service in text mode
 *                        as UTF-8: BOM skipped, CRLF read as LF, malformed
 *                        lines skipped and parsing goes on.
 */
enum wsl_dialect { WSL_DIALECT_DISTRO, WSL_DIALECT_WINDOWS };

enum wsl_key {
	/* /etc/wsl.conf (WslDistributionConfig.cpp) */
	WSL_KEY_AUTOMOUNT_ENABLED, WSL_KEY_AUTOMOUNT_ROOT, WSL_KEY_AUTOMOUNT_OPTIONS,
	WSL_KEY_AUTOMOUNT_MOUNTFSTAB, WSL_KEY_AUTOMOUNT_LDCONFIG, WSL_KEY_AUTOMOUNT_CGROUPS,
	WSL_KEY_FILESYSTEM_UMASK,
	WSL_KEY_INTEROP_APPENDWINDOWSPATH, WSL_KEY_INTEROP_ENABLED,
	WSL_KEY_NETWORK_GENERATEHOSTS, WSL_KEY_NETWORK_GENERATERESOLVCONF, WSL_KEY_NETWORK_HOSTNAME,
	WSL_KEY_TIME_USEWINDOWSTIMEZONE,
	WSL_KEY_FILESERVER_ENABLED, WSL_KEY_FILESERVER_LOGFILE, WSL_KEY_FILESERVER_LOGLEVEL,
	WSL_KEY_FILESERVER_LOGTRUNCATE,
	WSL_KEY_GPU_ENABLED, WSL_KEY_GPU_APPENDLIBPATH,
	WSL_KEY_USER_DEFAULT,
	WSL_KEY_BOOT_COMMAND, WSL_KEY_BOOT_SYSTEMD, WSL_KEY_BOOT_INITTIMEOUT, WSL_KEY_BOOT_PROTECTBINFMT,
	WSL_KEY_GENERAL_GUIAPPLICATIONS,
	/* .wslconfig (WslCoreConfig.cpp): the ones tether interprets */
	WSL_KEY_WSL2_NETWORKINGMODE,       /* also experimental.networkingMode */
	WSL_KEY_WSL2_VMIDLETIMEOUT,
	WSL_KEY_GENERAL_INSTANCEIDLETIMEOUT,
	WSL_KEY_WSL2_LOCALHOSTFORWARDING,
	WSL_KEY_WSL2_GPUSUPPORT,
	WSL_KEY_WSL2_OTHER,                /* every other known key: value not checked */
	WSL_KEY_COUNT
};

enum wsl_key_type { WSL_TYPE_BOOL, WSL_TYPE_INT, WSL_TYPE_STRING, WSL_TYPE_ENUM };

/* Name ("boot.systemd"), type and WSL's default, for messages and docs. */
const char *wsl_key_name(enum wsl_key k);
enum wsl_key_type wsl_key_type(enum wsl_key k);

enum wsl_diag_kind {
	WSL_DIAG_MALFORMED,     /* the line is not INI as WSL reads it */
	WSL_DIAG_UNKNOWN_KEY,   /* WSL ignores it */
	WSL_DIAG_DUPLICATE,     /* WSL ignores it: the first occurrence wins */
	WSL_DIAG_BAD_VALUE,     /* not a valid boolean/integer/choice: the default applies */
	WSL_DIAG_NOTE,          /* something WSL may read differently; tether says why */
};
const char *wsl_diag_kind_name(enum wsl_diag_kind k);

struct wsl_diag {
	enum wsl_diag_kind kind;
	int line;                       /* 1-based physical line */
	char msg[WSL_MSG_MAX];          /* without file and line */
};

struct wsl_conf_item {
	int line;                       /* 0: absent, WSL's default applies */
	bool valid;                     /* false: bad value, the default applies */
	char text[WSL_VALUE_MAX];       /* the value as WSL reads it (unescaped) */
	bool b;                         /* WSL_TYPE_BOOL */
	long i;                         /* WSL_TYPE_INT */
};

struct wsl_conf {
	enum wsl_dialect dialect;
	struct wsl_conf_item item[WSL_KEY_COUNT];
	struct wsl_diag diag[WSL_CONF_MAX_DIAGS];
	int n_diags;
	int n_diags_dropped;            /* beyond WSL_CONF_MAX_DIAGS */
	int stopped_at;                 /* DISTRO: line where WSL stops reading, 0 = read to the end */
	struct {
		char key[64];           /* "section.key" as written */
		int line;
	} lost[8];                      /* DISTRO: keys after stopped_at, which WSL never reads */
	int n_lost;                     /* all of them (lost[] keeps the first 8) */
	int lines;                      /* physical lines in the file */
	bool crlf;                      /* CRLF line ends seen */
};

/* Parses buf (len bytes, no NUL needed) as WSL would. Never fails: every
 * problem is a diagnostic with its line. */
void wsl_conf_parse(const char *buf, size_t len, enum wsl_dialect dialect, struct wsl_conf *out);

/* The effective value: the file's when present and valid, else WSL's default. */
bool wsl_conf_bool(const struct wsl_conf *c, enum wsl_key k);
long wsl_conf_int(const struct wsl_conf *c, enum wsl_key k);
const char *wsl_conf_str(const struct wsl_conf *c, enum wsl_key k);   /* "" when unset */

/* ---- detection ----------------------------------------------------------- */

enum wsl_kind { WSL_KIND_UNKNOWN, WSL_KIND_NATIVE, WSL_KIND_WSL1, WSL_KIND_WSL2 };
const char *wsl_kind_name(enum wsl_kind k);

/* The environment variables detection considers (NULL = unset). */
struct wsl_env {
	const char *distro_name;        /* WSL_DISTRO_NAME */
	const char *interop;            /* WSL_INTEROP */
};
/* Fills env from this process's environment (the only getenv here). */
void wsl_env_from_process(struct wsl_env *env);

enum wsl_distro_source { WSL_DISTRO_FROM_ENV, WSL_DISTRO_FROM_OS_RELEASE, WSL_DISTRO_UNKNOWN };
enum wsl_interop { WSL_INTEROP_ENABLED, WSL_INTEROP_DISABLED, WSL_INTEROP_ABSENT,
		   WSL_INTEROP_UNREADABLE };
enum wsl_net_mode { WSL_NET_UNKNOWN, WSL_NET_NAT, WSL_NET_MIRRORED, WSL_NET_SHARED,
		    WSL_NET_NATIVE };
const char *wsl_net_mode_name(enum wsl_net_mode m);
enum wsl_file { WSL_FILE_ABSENT, WSL_FILE_READ, WSL_FILE_UNREADABLE };
enum wsl_libcuda_links { WSL_LINKS_NONE, WSL_LINKS_SYMLINKS, WSL_LINKS_IDENTICAL_COPIES,
			 WSL_LINKS_COPIES_NOT_COMPARED, WSL_LINKS_DIFFERENT_FILES };
enum wsl_dlopen { WSL_DLOPEN_NOT_TRIED, WSL_DLOPEN_OK, WSL_DLOPEN_FAILED };
enum wsl_anchor_state { WSL_ANCHOR_UNCHECKED, WSL_ANCHOR_NONE, WSL_ANCHOR_ALIVE,
			WSL_ANCHOR_STALE, WSL_ANCHOR_MALFORMED };
enum wsl_wslconfig { WSL_WSLCONFIG_NOT_LOOKED, WSL_WSLCONFIG_NONE, WSL_WSLCONFIG_READ,
		     WSL_WSLCONFIG_AMBIGUOUS, WSL_WSLCONFIG_UNREADABLE };

struct wsl_evidence {
	char item[WSL_MAX_EVIDENCE][WSL_MSG_MAX];
	int n;
};

struct wsl_platform {
	bool live;                              /* root is "/": live checks allowed */

	enum wsl_kind kind;
	enum wsl_confidence kind_confidence;
	char kernel[128];                       /* /proc/sys/kernel/osrelease; "" unreadable */
	struct wsl_evidence kind_evidence;

	char distro[128];                       /* "" when unknown */
	enum wsl_distro_source distro_source;
	char os_release_id[64];

	enum wsl_interop interop;
	char interop_entry[32];                 /* "WSLInterop" or "WSLInterop-late" or "" */
	char interop_detail[WSL_MSG_MAX];       /* for UNREADABLE: what was wrong */
	bool binfmt_mounted;                    /* /proc/sys/fs/binfmt_misc/status exists */

	bool systemd;                           /* /run/systemd/system is a directory */
	char pid1[32];                          /* /proc/1/comm, "" unreadable */

	enum wsl_file conf_file;                /* /etc/wsl.conf */
	char conf_error[WSL_MSG_MAX];
	struct wsl_conf conf;                   /* defaults when absent */

	enum wsl_net_mode net;
	enum wsl_confidence net_confidence;
	struct wsl_evidence net_evidence;
	bool resolv_by_wsl;                     /* /etc/resolv.conf says WSL generated it */

	bool dxg;                               /* /dev/dxg exists */
	char libcuda[WSL_MAX_LIBCUDA][WSL_PATH_MAX]; /* every libcuda.so.1, search order */
	int n_libcuda;
	int n_search_dirs;                      /* directories searched */
	enum wsl_libcuda_links links;           /* of /usr/lib/wsl/lib/libcuda.so* */
	enum wsl_dlopen dlopen;
	char dlopen_detail[WSL_MSG_MAX];        /* dlerror() or why not tried */

	enum wsl_anchor_state anchor;
	char anchor_detail[WSL_MSG_MAX];
	long anchor_pid;
	char anchor_mode[16];                   /* supervise | systemd */
	char anchor_status[16];                 /* running | backoff | gave-up | starting */
	long anchor_restarts;

	enum wsl_wslconfig wslconfig;
	char wslconfig_path[WSL_PATH_MAX];      /* as seen inside the root */
	char wslconfig_error[WSL_MSG_MAX];
	struct wsl_conf wslconf;                /* .wslconfig; defaults when not read */
	long instance_idle_timeout_ms;          /* effective; -1 = never */
	long vm_idle_timeout_ms;
	bool idle_from_wslconfig;               /* else WSL's default */

	char notes[4][WSL_MSG_MAX];             /* unreadable or odd files, one line each */
	int n_notes;
};

#define WSL_DETECT_THOROUGH 0x1   /* read .wslconfig under the automount root, compare libcuda copies */
#define WSL_DETECT_DLOPEN   0x2   /* dlopen the libcuda.so.1 found (only when root is "/") */

struct wsl_detect_opts {
	const char *root;               /* "/" = this system; else a tree laid out like one */
	struct wsl_env env;
	const char *runtime_dir;        /* tether's runtime dir (a path on this machine) for
					   anchor.json; NULL: the anchor is not checked */
	unsigned flags;
};

/* Fills *out. Never fails on bad input: what cannot be read is a note or
 * a state saying so. Returns -EINVAL only for an unusable root. */
int wsl_detect(const struct wsl_detect_opts *o, struct wsl_platform *out);

/* True when ROOT/proc/PID is a directory: the process lives (on this system,
 * or in the fixture's view when root is a tree). */
bool wsl_pid_alive(const char *root, long pid);

/* root + path ("/" root: path itself). Returns -ENAMETOOLONG when cut. */
int wsl_rooted(char *buf, size_t len, const char *root, const char *path);

/* One line for logs and `tether status`, e.g.
 * "WSL2 (kernel 6.6.87.2-microsoft-standard-WSL2), distro Ubuntu (WSL_DISTRO_NAME),
 *  systemd, interop enabled, networking NAT (medium confidence), GPU: /dev/dxg,
 *  libcuda.so.1 in /usr/lib/wsl/lib". */
void wsl_summary(const struct wsl_platform *p, char *buf, size_t len);

/* The platform as a JSON object (the caller owns it: cJSON_Delete): the
 * `platform` member of `tether status` and `tether doctor --json`. Stable
 * members: docs/doctor.md. NULL when out of memory. */
cJSON *wsl_platform_json(const struct wsl_platform *p);

#endif
