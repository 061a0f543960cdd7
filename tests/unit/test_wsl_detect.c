/* Detection (wsl/detect.c, net.c, gpu.c, lifetime.c) on temporary trees. */
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "wsl.h"

static char root[64];
static struct wsl_platform p;

static void mkdirs(const char *path)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *s = buf + 1; *s; s++) {
		if (*s == '/') {
			*s = 0;
			mkdir(buf, 0755);
			*s = '/';
		}
	}
	mkdir(buf, 0755);
}

static void put(const char *path, const char *content)
{
	char full[512], dir[512];
	snprintf(full, sizeof full, "%s%s", root, path);
	snprintf(dir, sizeof dir, "%s", full);
	*strrchr(dir, '/') = 0;
	mkdirs(dir);
	FILE *f = fopen(full, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(content, f);
		fclose(f);
	}
}

static void dir(const char *path)
{
	char full[512];
	snprintf(full, sizeof full, "%s%s", root, path);
	mkdirs(full);
}

static void link_to(const char *path, const char *target)
{
	char full[512];
	snprintf(full, sizeof full, "%s%s", root, path);
	CHECK(symlink(target, full) == 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void fresh(void)
{
	if (*root)
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(root, sizeof root, "/tmp/test-wsl-detect-XXXXXX");
	CHECK(mkdtemp(root) != NULL);
}

static void detect(const char *distro_env, const char *runtime_dir, unsigned flags)
{
	struct wsl_detect_opts o = { .root = root, .runtime_dir = runtime_dir, .flags = flags };
	o.env.distro_name = distro_env;
	CHECK_EQ(wsl_detect(&o, &p), 0);
}

static void kernel_release_gives_the_kind(void)
{
	static const struct { const char *rel; enum wsl_kind kind; } cases[] = {
		{ "4.4.0-19041-Microsoft", WSL_KIND_WSL1 },
		{ "4.19.128-microsoft-standard", WSL_KIND_WSL2 },
		{ "5.15.90.1-microsoft-standard-WSL2", WSL_KIND_WSL2 },
		{ "6.6.87.2-microsoft-standard-WSL2", WSL_KIND_WSL2 },
		{ "6.8.0-45-generic", WSL_KIND_NATIVE },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[64];
		fresh();
		snprintf(text, sizeof text, "%s\n", cases[i].rel);
		put("/proc/sys/kernel/osrelease", text);
		detect(NULL, NULL, 0);
		CHECK_EQ(p.kind, cases[i].kind);
		CHECK_EQ(p.kind_confidence, WSL_CONFIDENCE_HIGH);
		CHECK(!strcmp(p.kernel, cases[i].rel));
		CHECK(!p.live);
	}
}

static void a_custom_kernel_with_wsl_traces_is_wsl2_with_low_confidence(void)
{
	fresh();
	put("/proc/sys/kernel/osrelease", "6.9.0-custom\n");
	dir("/run/WSL");
	detect(NULL, NULL, 0);
	CHECK_EQ(p.kind, WSL_KIND_WSL2);
	CHECK_EQ(p.kind_confidence, WSL_CONFIDENCE_LOW);
	fresh();
	detect(NULL, NULL, 0);   /* nothing readable */
	CHECK_EQ(p.kind, WSL_KIND_UNKNOWN);
	CHECK(p.n_notes >= 1);
	CHECK_CONTAINS(p.notes[0], "osrelease");
}

static void the_distro_name_comes_from_the_env_then_os_release(void)
{
	fresh();
	put("/proc/sys/kernel/osrelease", "6.6.87.2-microsoft-standard-WSL2\n");
	put("/etc/os-release", "PRETTY_NAME=\"Ubuntu 24.04 LTS\"\nNAME=\"Ubuntu\"\nID=ubuntu\n");
	detect("Ubuntu-24.04", NULL, 0);
	CHECK(!strcmp(p.distro, "Ubuntu-24.04"));
	CHECK_EQ(p.distro_source, WSL_DISTRO_FROM_ENV);
	CHECK(!strcmp(p.os_release_id, "ubuntu"));
	detect(NULL, NULL, 0);   /* as under systemd: no WSL_DISTRO_NAME */
	CHECK(!strcmp(p.distro, "Ubuntu"));
	CHECK_EQ(p.distro_source, WSL_DISTRO_FROM_OS_RELEASE);
	char line[1024];
	wsl_summary(&p, line, sizeof line);
	CHECK_CONTAINS(line, "registration name unknown");
	fresh();
	detect("", NULL, 0);
	CHECK_EQ(p.distro_source, WSL_DISTRO_UNKNOWN);
}

static void interop_is_read_from_either_binfmt_entry(void)
{
	fresh();
	put("/proc/sys/kernel/osrelease", "6.6.87.2-microsoft-standard-WSL2\n");
	put("/proc/sys/fs/binfmt_misc/status", "enabled\n");
	detect(NULL, NULL, 0);
	CHECK_EQ(p.interop, WSL_INTEROP_ABSENT);
	CHECK(p.binfmt_mounted);
	put("/proc/sys/fs/binfmt_misc/WSLInterop-late", "enabled\ninterpreter /init\nflags: PF\n");
	detect(NULL, NULL, 0);
	CHECK_EQ(p.interop, WSL_INTEROP_ENABLED);
	CHECK(!strcmp(p.interop_entry, "WSLInterop-late"));
	put("/proc/sys/fs/binfmt_misc/WSLInterop", "disabled\ninterpreter /init\n");
	detect(NULL, NULL, 0);
	CHECK_EQ(p.interop, WSL_INTEROP_DISABLED);
	CHECK(!strcmp(p.interop_entry, "WSLInterop"));
	put("/proc/sys/fs/binfmt_misc/WSLInterop", "\x01garbage\n");
	detect(NULL, NULL, 0);
	CHECK_EQ(p.interop, WSL_INTEROP_UNREADABLE);
	CHECK_CONTAINS(p.interop_detail, "?garbage");
}

static void systemd_is_pid1_when_run_systemd_system_is_a_directory(void)
{
	fresh();
	put("/run/systemd/system", "a file is not enough\n");
	detect(NULL, NULL, 0);
	CHECK(!p.systemd);
	fresh();
	dir("/run/systemd/system");
	put("/proc/1/comm", "systemd\n");
	detect(NULL, NULL, 0);
	CHECK(p.systemd);
	CHECK(!strcmp(p.pid1, "systemd"));
}

static void wsl_conf_is_parsed_and_unreadable_is_said(void)
{
	fresh();
	put("/proc/sys/kernel/osrelease", "6.6.87.2-microsoft-standard-WSL2\n");
	put("/etc/wsl.conf", "[boot]\nsystemd=true\n");
	detect(NULL, NULL, 0);
	CHECK_EQ(p.conf_file, WSL_FILE_READ);
	CHECK(wsl_conf_bool(&p.conf, WSL_KEY_BOOT_SYSTEMD));
	fresh();
	dir("/etc/wsl.conf");
	detect(NULL, NULL, 0);
	CHECK_EQ(p.conf_file, WSL_FILE_UNREADABLE);
	CHECK_CONTAINS(p.conf_error, "/etc/wsl.conf");
}

static const char route_h[] = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

static void wsl2_base(void)
{
	fresh();
	put("/proc/sys/kernel/osrelease", "6.6.87.2-microsoft-standard-WSL2\n");
	put("/sys/class/net/eth0/operstate", "up\n");
	put("/sys/class/net/lo/operstate", "unknown\n");
}

static void networking_mode_comes_with_evidence_and_confidence(void)
{
	char route[512];
	wsl2_base();
	snprintf(route, sizeof route, "%seth0\t00000000\t016016AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
		 route_h);
	put("/proc/net/route", route);
	detect(NULL, NULL, 0);
	CHECK_EQ(p.net, WSL_NET_NAT);
	CHECK_EQ(p.net_confidence, WSL_CONFIDENCE_MEDIUM);
	CHECK_CONTAINS(p.net_evidence.item[1], "172.22.96.1");

	put("/sys/class/net/loopback0/operstate", "up\n");
	detect(NULL, NULL, 0);
	CHECK_EQ(p.net, WSL_NET_MIRRORED);
	CHECK_EQ(p.net_confidence, WSL_CONFIDENCE_HIGH);

	wsl2_base();   /* a public gateway: neither */
	snprintf(route, sizeof route, "%seth0\t00000000\t08080808\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
		 route_h);
	put("/proc/net/route", route);
	detect(NULL, NULL, 0);
	CHECK_EQ(p.net, WSL_NET_UNKNOWN);
	CHECK_EQ(p.net_confidence, WSL_CONFIDENCE_LOW);

	/* .wslconfig breaks the tie; agreement with the interfaces raises confidence. */
	put("/mnt/c/Users/dev/.wslconfig", "[wsl2]\r\nnetworkingMode=mirrored\r\n");
	detect(NULL, NULL, WSL_DETECT_THOROUGH);
	CHECK_EQ(p.wslconfig, WSL_WSLCONFIG_READ);
	CHECK(!strcmp(p.wslconfig_path, "/mnt/c/Users/dev/.wslconfig"));
	CHECK_EQ(p.net, WSL_NET_MIRRORED);
	CHECK_EQ(p.net_confidence, WSL_CONFIDENCE_MEDIUM);
	put("/sys/class/net/loopback0/operstate", "up\n");
	detect(NULL, NULL, WSL_DETECT_THOROUGH);
	CHECK_EQ(p.net_confidence, WSL_CONFIDENCE_HIGH);
	/* Disagreement is reported, the interfaces win. */
	put("/mnt/c/Users/dev/.wslconfig", "[wsl2]\nnetworkingMode=NAT\n");
	detect(NULL, NULL, WSL_DETECT_THOROUGH);
	CHECK_EQ(p.net, WSL_NET_MIRRORED);
	bool said = false;
	for (int i = 0; i < p.net_evidence.n; i++)
		said |= strstr(p.net_evidence.item[i], "wsl --shutdown") != NULL;
	CHECK(said);

	fresh();
	put("/proc/sys/kernel/osrelease", "4.4.0-19041-Microsoft\n");
	detect(NULL, NULL, 0);
	CHECK_EQ(p.net, WSL_NET_SHARED);
}

static void libcuda_is_searched_wsl_lib_first_then_ld_so_conf(void)
{
	wsl2_base();
	put("/dev/dxg", "");
	put("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n");
	put("/etc/ld.so.conf.d/x86_64-linux-gnu.conf", "# multiarch\n/opt/nv/lib\n");
	put("/opt/nv/lib/libcuda.so.1", "linux driver\n");
	detect(NULL, NULL, 0);
	CHECK(p.dxg);
	CHECK_EQ(p.n_libcuda, 1);
	CHECK(!strcmp(p.libcuda[0], "/opt/nv/lib/libcuda.so.1"));
	put("/etc/ld.so.conf.d/ld.wsl.conf", "/usr/lib/wsl/lib\n");
	put("/usr/lib/wsl/lib/libcuda.so.1.1", "same\n");
	link_to("/usr/lib/wsl/lib/libcuda.so.1", "libcuda.so.1.1");
	detect(NULL, NULL, WSL_DETECT_THOROUGH | WSL_DETECT_DLOPEN);
	CHECK_EQ(p.n_libcuda, 2);
	CHECK(!strcmp(p.libcuda[0], "/usr/lib/wsl/lib/libcuda.so.1"));
	CHECK(!strcmp(p.libcuda[1], "/opt/nv/lib/libcuda.so.1"));
	CHECK_EQ(p.links, WSL_LINKS_SYMLINKS);
	CHECK_EQ(p.dlopen, WSL_DLOPEN_NOT_TRIED);   /* never on a fixture root */
	CHECK_CONTAINS(p.dlopen_detail, "fixture root");
}

static void identical_regular_copies_are_the_ldconfig_condition(void)
{
	wsl2_base();
	put("/usr/lib/wsl/lib/libcuda.so", "same bytes\n");
	put("/usr/lib/wsl/lib/libcuda.so.1", "same bytes\n");
	put("/usr/lib/wsl/lib/libcuda.so.1.1", "same bytes\n");
	detect(NULL, NULL, WSL_DETECT_THOROUGH);
	CHECK_EQ(p.links, WSL_LINKS_IDENTICAL_COPIES);
	detect(NULL, NULL, 0);
	CHECK_EQ(p.links, WSL_LINKS_COPIES_NOT_COMPARED);
	put("/usr/lib/wsl/lib/libcuda.so.1.1", "diff bytes\n");
	detect(NULL, NULL, WSL_DETECT_THOROUGH);
	CHECK_EQ(p.links, WSL_LINKS_DIFFERENT_FILES);
}

static void the_anchor_is_alive_stale_malformed_or_absent(void)
{
	char rt[128];
	wsl2_base();
	snprintf(rt, sizeof rt, "%s/rt", root);
	dir("/rt");
	detect(NULL, NULL, 0);
	CHECK_EQ(p.anchor, WSL_ANCHOR_UNCHECKED);
	detect(NULL, rt, 0);
	CHECK_EQ(p.anchor, WSL_ANCHOR_NONE);
	put("/rt/anchor.json", "{\"pid\":77,\"mode\":\"systemd\",\"state\":\"running\","
	    "\"daemon_pid\":null,\"restarts\":2,\"since\":\"2026-11-22T05:00:00Z\"}");
	detect(NULL, rt, 0);
	CHECK_EQ(p.anchor, WSL_ANCHOR_STALE);
	CHECK_EQ(p.anchor_pid, 77);
	dir("/proc/77");
	detect(NULL, rt, 0);
	CHECK_EQ(p.anchor, WSL_ANCHOR_ALIVE);
	CHECK_EQ(p.anchor_restarts, 2);
	CHECK(!strcmp(p.anchor_status, "running"));
	static const char *const bad[] = {
		"{\"pid\":\"77\",\"mode\":\"systemd\",\"state\":\"running\"}",
		"{\"pid\":77.5,\"mode\":\"systemd\",\"state\":\"running\"}",
		"{\"pid\":77,\"mode\":\"cron\",\"state\":\"running\"}",
		"{\"pid\":77,\"mode\":\"systemd\",\"state\":\"sleeping\"}",
		"[77]", "not json",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		put("/rt/anchor.json", bad[i]);
		detect(NULL, rt, 0);
		CHECK_EQ(p.anchor, WSL_ANCHOR_MALFORMED);
		CHECK(p.anchor_detail[0] != 0);
	}
}

static void the_idle_timeout_comes_from_one_wslconfig_or_the_default(void)
{
	wsl2_base();
	detect(NULL, NULL, WSL_DETECT_THOROUGH);
	CHECK_EQ(p.wslconfig, WSL_WSLCONFIG_NONE);
	CHECK_EQ(p.instance_idle_timeout_ms, 15000);
	CHECK(!p.idle_from_wslconfig);
	put("/win/c/Users/ann/.wslconfig", "[general]\ninstanceIdleTimeout=-1\n");
	put("/etc/wsl.conf", "[automount]\nroot = /win/\n");
	detect(NULL, NULL, WSL_DETECT_THOROUGH);
	CHECK_EQ(p.wslconfig, WSL_WSLCONFIG_READ);
	CHECK_EQ(p.instance_idle_timeout_ms, -1);
	CHECK(p.idle_from_wslconfig);
	detect(NULL, NULL, 0);   /* not looked for */
	CHECK_EQ(p.wslconfig, WSL_WSLCONFIG_NOT_LOOKED);
	CHECK_EQ(p.instance_idle_timeout_ms, 15000);
	put("/win/c/Users/bob/.wslconfig", "[general]\ninstanceIdleTimeout=5000\n");
	detect(NULL, NULL, WSL_DETECT_THOROUGH);
	CHECK_EQ(p.wslconfig, WSL_WSLCONFIG_AMBIGUOUS);
	CHECK_EQ(p.instance_idle_timeout_ms, 15000);
	CHECK_CONTAINS(p.wslconfig_error, "2 profiles");
}

static void the_platform_json_has_the_documented_members(void)
{
	wsl2_base();
	detect("Ubuntu", NULL, 0);
	cJSON *j = wsl_platform_json(&p);
	CHECK(j != NULL);
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "kind")), "wsl2"));
	CHECK(cJSON_IsObject(cJSON_GetObjectItem(j, "distro")));
	CHECK(cJSON_IsObject(cJSON_GetObjectItem(j, "networking")));
	CHECK(cJSON_IsObject(cJSON_GetObjectItem(j, "gpu")));
	CHECK(cJSON_IsObject(cJSON_GetObjectItem(j, "lifetime")));
	CHECK(cJSON_IsObject(cJSON_GetObjectItem(j, "interop")));
	cJSON_Delete(j);
}

static void rooted_paths_join_without_double_slashes(void)
{
	char buf[64];
	CHECK_EQ(wsl_rooted(buf, sizeof buf, "/", "/proc/1"), 0);
	CHECK(!strcmp(buf, "/proc/1"));
	CHECK_EQ(wsl_rooted(buf, sizeof buf, "fx/", "/proc/1"), 0);
	CHECK(!strcmp(buf, "fx/proc/1"));
	CHECK_EQ(wsl_rooted(buf, 8, "/long/root", "/proc/1"), -ENAMETOOLONG);
	struct wsl_detect_opts o = { .root = "" };
	CHECK_EQ(wsl_detect(&o, &p), -EINVAL);
}

int main(void)
{
	RUN(kernel_release_gives_the_kind);
	RUN(a_custom_kernel_with_wsl_traces_is_wsl2_with_low_confidence);
	RUN(the_distro_name_comes_from_the_env_then_os_release);
	RUN(interop_is_read_from_either_binfmt_entry);
	RUN(systemd_is_pid1_when_run_systemd_system_is_a_directory);
	RUN(wsl_conf_is_parsed_and_unreadable_is_said);
	RUN(networking_mode_comes_with_evidence_and_confidence);
	RUN(libcuda_is_searched_wsl_lib_first_then_ld_so_conf);
	RUN(identical_regular_copies_are_the_ldconfig_condition);
	RUN(the_anchor_is_alive_stale_malformed_or_absent);
	RUN(the_idle_timeout_comes_from_one_wslconfig_or_the_default);
	RUN(the_platform_json_has_the_documented_members);
	RUN(rooted_paths_join_without_double_slashes);
	if (*root)
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return check_summary();
}
