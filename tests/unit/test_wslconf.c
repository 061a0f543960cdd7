/* The wsl.conf / .wslconfig parser (wsl/conf.c) against WSL's own rules. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "wsl.h"

static struct wsl_conf c;

static void parse(const char *text, enum wsl_dialect d)
{
	wsl_conf_parse(text, strlen(text), d, &c);
}

/* The diagnostic of a line, or NULL. */
static const struct wsl_diag *diag_at(int line)
{
	for (int i = 0; i < c.n_diags; i++)
		if (c.diag[i].line == line)
			return &c.diag[i];
	return NULL;
}

/* Its message, "" when none. */
static const char *msg_at(int line)
{
	const struct wsl_diag *d = diag_at(line);
	return d ? d->msg : "";
}

static void every_wsl_conf_key_is_read_with_its_type(void)
{
	parse("[automount]\nenabled = false\nroot = /win/\noptions = \"metadata,uid=1003,gid=1003\"\n"
	      "mountFsTab = false\nldconfig = false\ncgroups = v1\n"
	      "[filesystem]\numask = 0077\n"
	      "[interop]\nenabled = false\nappendWindowsPath = false\n"
	      "[network]\ngenerateHosts = false\ngenerateResolvConf = false\nhostname = DemoHost\n"
	      "[time]\nuseWindowsTimezone = false\n"
	      "[fileServer]\nenabled = false\nlogFile = /tmp/p9.log\nlogLevel = 5\nlogTruncate = false\n"
	      "[gpu]\nenabled = false\nappendLibPath = false\n"
	      "[user]\ndefault = dev\n"
	      "[boot]\ncommand = service docker start\nsystemd = true\ninitTimeout = 0x3000\n"
	      "protectBinfmt = false\n"
	      "[general]\nguiApplications = true\n", WSL_DIALECT_DISTRO);
	CHECK_EQ(c.n_diags, 0);
	CHECK_EQ(c.stopped_at, 0);
	for (int k = WSL_KEY_AUTOMOUNT_ENABLED; k <= WSL_KEY_GENERAL_GUIAPPLICATIONS; k++) {
		if (!c.item[k].line || !c.item[k].valid)
			fprintf(stderr, "key %s not read\n", wsl_key_name(k));
		CHECK(c.item[k].line > 0);
		CHECK(c.item[k].valid);
	}
	CHECK(!wsl_conf_bool(&c, WSL_KEY_AUTOMOUNT_ENABLED));
	CHECK(!strcmp(wsl_conf_str(&c, WSL_KEY_AUTOMOUNT_ROOT), "/win/"));
	CHECK(!strcmp(wsl_conf_str(&c, WSL_KEY_AUTOMOUNT_OPTIONS), "metadata,uid=1003,gid=1003"));
	CHECK_EQ(wsl_conf_int(&c, WSL_KEY_AUTOMOUNT_CGROUPS), 0);   /* v1 */
	CHECK_EQ(wsl_conf_int(&c, WSL_KEY_FILESYSTEM_UMASK), 077);  /* octal, as strtol base 0 */
	CHECK_EQ(wsl_conf_int(&c, WSL_KEY_BOOT_INITTIMEOUT), 0x3000);
	CHECK_EQ(wsl_conf_int(&c, WSL_KEY_FILESERVER_LOGLEVEL), 5);
	CHECK(!strcmp(wsl_conf_str(&c, WSL_KEY_NETWORK_HOSTNAME), "DemoHost"));
	CHECK(!strcmp(wsl_conf_str(&c, WSL_KEY_BOOT_COMMAND), "service docker start"));
	CHECK(wsl_conf_bool(&c, WSL_KEY_BOOT_SYSTEMD));
	CHECK(!wsl_conf_bool(&c, WSL_KEY_BOOT_PROTECTBINFMT));
	CHECK(wsl_conf_bool(&c, WSL_KEY_GENERAL_GUIAPPLICATIONS));
	CHECK_EQ(c.item[WSL_KEY_BOOT_SYSTEMD].line, 31);
	CHECK_EQ(c.lines, 35);
}

static void absent_keys_take_wsls_defaults(void)
{
	parse("", WSL_DIALECT_DISTRO);
	CHECK(!wsl_conf_bool(&c, WSL_KEY_BOOT_SYSTEMD));
	CHECK(wsl_conf_bool(&c, WSL_KEY_INTEROP_ENABLED));
	CHECK(wsl_conf_bool(&c, WSL_KEY_GPU_ENABLED));
	CHECK(wsl_conf_bool(&c, WSL_KEY_AUTOMOUNT_LDCONFIG));
	CHECK(wsl_conf_bool(&c, WSL_KEY_BOOT_PROTECTBINFMT));
	CHECK(!strcmp(wsl_conf_str(&c, WSL_KEY_AUTOMOUNT_ROOT), "/mnt/"));
	CHECK(!strcmp(wsl_conf_str(&c, WSL_KEY_BOOT_COMMAND), ""));
	CHECK_EQ(wsl_conf_int(&c, WSL_KEY_BOOT_INITTIMEOUT), 10000);
	parse("", WSL_DIALECT_WINDOWS);
	CHECK_EQ(wsl_conf_int(&c, WSL_KEY_GENERAL_INSTANCEIDLETIMEOUT), 15000);
	CHECK_EQ(wsl_conf_int(&c, WSL_KEY_WSL2_VMIDLETIMEOUT), 60000);
	CHECK_EQ(wsl_conf_int(&c, WSL_KEY_WSL2_NETWORKINGMODE), 1);   /* NAT */
	CHECK_EQ(c.n_diags, 0);
}

static void booleans_are_true_false_1_0_in_any_case_only(void)
{
	static const struct { const char *v; int want; } cases[] = {
		{ "true", 1 }, { "TRUE", 1 }, { "True", 1 }, { "1", 1 },
		{ "false", 0 }, { "FaLsE", 0 }, { "0", 0 },
		{ "yes", -1 }, { "on", -1 }, { "t", -1 }, { "", -1 }, { "01", -1 }, { "true1", -1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[64];
		snprintf(text, sizeof text, "[boot]\nsystemd=%s\n", cases[i].v);
		parse(text, WSL_DIALECT_DISTRO);
		if (cases[i].want >= 0) {
			CHECK(c.item[WSL_KEY_BOOT_SYSTEMD].valid);
			CHECK_EQ(wsl_conf_bool(&c, WSL_KEY_BOOT_SYSTEMD), cases[i].want);
			CHECK_EQ(c.n_diags, 0);
		} else {
			CHECK(!c.item[WSL_KEY_BOOT_SYSTEMD].valid);
			CHECK(!wsl_conf_bool(&c, WSL_KEY_BOOT_SYSTEMD));   /* the default */
			CHECK_EQ(c.n_diags, 1);
			CHECK_EQ(c.diag[0].kind, WSL_DIAG_BAD_VALUE);
			CHECK_EQ(c.diag[0].line, 2);
			CHECK_CONTAINS(c.diag[0].msg, "not a boolean");
			CHECK_EQ(c.stopped_at, 0);   /* a bad value does not stop the parse */
		}
	}
}

static void a_malformed_line_stops_wsl_conf_but_not_wslconfig(void)
{
	const char *text = "[boot]\nsystemd=true\nthis line has no equals sign\n[gpu]\nenabled=false\n";
	parse(text, WSL_DIALECT_DISTRO);
	CHECK_EQ(c.stopped_at, 3);
	CHECK_EQ(c.n_diags, 1);
	CHECK_EQ(c.diag[0].kind, WSL_DIAG_MALFORMED);
	CHECK_EQ(c.diag[0].line, 3);
	CHECK_CONTAINS(c.diag[0].msg, "expected '='");
	CHECK_CONTAINS(c.diag[0].msg, "stops reading");
	CHECK(wsl_conf_bool(&c, WSL_KEY_BOOT_SYSTEMD));    /* before: applied */
	CHECK_EQ(c.item[WSL_KEY_GPU_ENABLED].line, 0);     /* after: never read */
	CHECK(wsl_conf_bool(&c, WSL_KEY_GPU_ENABLED));
	CHECK_EQ(c.n_lost, 1);                             /* ...and listed */
	CHECK(!strcmp(c.lost[0].key, "gpu.enabled"));
	CHECK_EQ(c.lost[0].line, 5);

	parse("[wsl2]\nthis line has no equals sign\nvmIdleTimeout=5\n", WSL_DIALECT_WINDOWS);
	CHECK_EQ(c.stopped_at, 0);
	CHECK_EQ(c.n_diags, 1);
	CHECK_CONTAINS(c.diag[0].msg, "skips this line");
	CHECK_EQ(wsl_conf_int(&c, WSL_KEY_WSL2_VMIDLETIMEOUT), 5);
	CHECK_EQ(c.item[WSL_KEY_WSL2_VMIDLETIMEOUT].line, 3);
}

static void malformed_lines_are_named_with_their_line(void)
{
	static const struct { const char *text; int line; const char *msg; } cases[] = {
		{ "[boot]\n\n[ boot ]\n", 3, "expected a section name" },
		{ "[boot-x]\n", 1, "expected ']'" },
		{ "# c\n[boot] systemd=true\n", 2, "expected the end of the line" },
		{ "[boot]\nsys_temd=true\n", 2, "expected '='" },
		{ "[boot]\n\t; comment\n", 2, "';' does not start a comment" },
		{ "[boot]\n-x=1\n", 2, "must start with a key" },
		{ "[boot]\ncommand = \"unterminated\n", 2, "no closing" },
		{ "[automount]\nroot = C:\\mnt\n", 2, "invalid escape" },
		{ "[boot]\ncommand = a\\\r\nb\n", 2, "CRLF" },
		{ "[boot]\nsystemd", 2, "found the end of the file" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		parse(cases[i].text, WSL_DIALECT_DISTRO);
		const struct wsl_diag *d = diag_at(cases[i].line);
		if (!d || !strstr(d->msg, cases[i].msg))
			fprintf(stderr, "case %zu: %s\n", i, d ? d->msg : "(no diagnostic)");
		CHECK(d != NULL);
		CHECK(d && d->kind == WSL_DIAG_MALFORMED);
		CHECK(d && strstr(d->msg, cases[i].msg));
		CHECK_EQ(c.stopped_at, cases[i].line);
	}
}

static void crlf_line_ends_are_read_like_lf(void)
{
	parse("[boot]\r\nsystemd=true\r\ncommand = echo hi  \r\n\r\n# c\r\n[gpu]\r\nenabled=false\r\n",
	      WSL_DIALECT_DISTRO);
	CHECK_EQ(c.n_diags, 0);
	CHECK(c.crlf);
	CHECK(wsl_conf_bool(&c, WSL_KEY_BOOT_SYSTEMD));
	CHECK(!strcmp(wsl_conf_str(&c, WSL_KEY_BOOT_COMMAND), "echo hi"));
	CHECK(!wsl_conf_bool(&c, WSL_KEY_GPU_ENABLED));
	CHECK_EQ(c.item[WSL_KEY_GPU_ENABLED].line, 7);
	/* A continuation works across CRLF only where CRLF is read as LF. */
	parse("[wsl2]\r\nkernelCommandLine = a \\\r\n b\r\nvmIdleTimeout=1\r\n", WSL_DIALECT_WINDOWS);
	CHECK_EQ(c.n_diags, 0);
	CHECK_EQ(c.item[WSL_KEY_WSL2_VMIDLETIMEOUT].line, 4);
}

static void a_byte_order_mark_breaks_wsl_conf_only(void)
{
	parse("\xEF\xBB\xBF[boot]\nsystemd=true\n", WSL_DIALECT_DISTRO);
	CHECK_EQ(c.stopped_at, 1);
	CHECK_EQ(c.n_diags, 1);
	CHECK_CONTAINS(c.diag[0].msg, "byte-order mark");
	CHECK(!wsl_conf_bool(&c, WSL_KEY_BOOT_SYSTEMD));
	CHECK_EQ(c.n_lost, 1);
	CHECK(!strcmp(c.lost[0].key, "boot.systemd"));
	parse("\xEF\xBB\xBF[wsl2]\nnetworkingMode=mirrored\n", WSL_DIALECT_WINDOWS);
	CHECK_EQ(c.n_diags, 0);
	CHECK_EQ(wsl_conf_int(&c, WSL_KEY_WSL2_NETWORKINGMODE), 3);
}

static void comments_start_with_hash_anywhere_outside_quotes(void)
{
	parse("# top\n  # indented\n[boot] # after a section\nsystemd = true # trailing\n"
	      "command = \"echo '#1' # not a comment\" # comment\n", WSL_DIALECT_DISTRO);
	CHECK_EQ(c.n_diags, 0);
	CHECK(wsl_conf_bool(&c, WSL_KEY_BOOT_SYSTEMD));
	CHECK(!strcmp(wsl_conf_str(&c, WSL_KEY_BOOT_COMMAND), "echo '#1' # not a comment"));
	CHECK_EQ(c.item[WSL_KEY_BOOT_COMMAND].line, 5);
}

static void quotes_and_escapes_follow_wsl(void)
{
	parse("[boot]\ncommand = \" spaced \"\n[network]\nhostname = a\\tb\\\\c\\\"d\\ne\n"
	      "[automount]\noptions = x\"y z\"w   \n", WSL_DIALECT_DISTRO);
	CHECK_EQ(c.n_diags, 0);
	CHECK(!strcmp(wsl_conf_str(&c, WSL_KEY_BOOT_COMMAND), " spaced "));
	CHECK(!strcmp(wsl_conf_str(&c, WSL_KEY_NETWORK_HOSTNAME), "a\tb\\c\"d\ne"));
	CHECK(!strcmp(wsl_conf_str(&c, WSL_KEY_AUTOMOUNT_OPTIONS), "xy zw"));
	/* A backslash at the end of the line continues the value. */
	parse("[boot]\ncommand = one \\\ntwo\nsystemd=1\n", WSL_DIALECT_DISTRO);
	CHECK_EQ(c.n_diags, 0);
	CHECK(!strcmp(wsl_conf_str(&c, WSL_KEY_BOOT_COMMAND), "one two"));
	CHECK_EQ(c.item[WSL_KEY_BOOT_SYSTEMD].line, 4);
}

static void the_first_of_duplicate_keys_wins_even_when_invalid(void)
{
	parse("[interop]\nenabled=false\nenabled=true\n[boot]\nsystemd=maybe\nsystemd=true\n",
	      WSL_DIALECT_DISTRO);
	CHECK(!wsl_conf_bool(&c, WSL_KEY_INTEROP_ENABLED));
	CHECK_EQ(c.item[WSL_KEY_INTEROP_ENABLED].line, 2);
	CHECK(diag_at(3) && diag_at(3)->kind == WSL_DIAG_DUPLICATE);
	CHECK_CONTAINS(msg_at(3), "first at line 2");
	CHECK(!wsl_conf_bool(&c, WSL_KEY_BOOT_SYSTEMD));   /* line 5 claimed it; default */
	CHECK(diag_at(5) && diag_at(5)->kind == WSL_DIAG_BAD_VALUE);
	CHECK(diag_at(6) && diag_at(6)->kind == WSL_DIAG_DUPLICATE);
	/* An alias is the same key. */
	parse("[wsl2]\nnetworkingMode=mirrored\n[experimental]\nnetworkingMode=nat\n",
	      WSL_DIALECT_WINDOWS);
	CHECK_EQ(wsl_conf_int(&c, WSL_KEY_WSL2_NETWORKINGMODE), 3);
	CHECK(diag_at(4) && diag_at(4)->kind == WSL_DIAG_DUPLICATE);
	/* Keys WSL knows but tether does not interpret: duplicates still seen. */
	parse("[wsl2]\nmemory=4GB\nmemory=8GB\n", WSL_DIALECT_WINDOWS);
	CHECK_EQ(c.n_diags, 1);
	CHECK(diag_at(3) && diag_at(3)->kind == WSL_DIAG_DUPLICATE);
}

static void keys_and_sections_match_in_any_case(void)
{
	parse("[BOOT]\nSystemD=TRUE\n[Interop]\nAPPENDWINDOWSPATH=0\n", WSL_DIALECT_DISTRO);
	CHECK_EQ(c.n_diags, 0);
	CHECK(wsl_conf_bool(&c, WSL_KEY_BOOT_SYSTEMD));
	CHECK(!wsl_conf_bool(&c, WSL_KEY_INTEROP_APPENDWINDOWSPATH));
}

static void unknown_keys_are_reported_and_ignored_with_a_hint(void)
{
	parse("systemd=true\n[boot]\nsystemd=true\nsytemd=false\n[wsl2]\nnetworkingMode=mirrored\n"
	      "[bogus]\nkey=1\n", WSL_DIALECT_DISTRO);
	CHECK_EQ(c.stopped_at, 0);
	CHECK(diag_at(1) && diag_at(1)->kind == WSL_DIAG_UNKNOWN_KEY);
	CHECK_CONTAINS(msg_at(1), "did you mean systemd under [boot]");
	CHECK(diag_at(4) && diag_at(4)->kind == WSL_DIAG_UNKNOWN_KEY);
	CHECK_CONTAINS(msg_at(6), "Windows user's .wslconfig");
	CHECK_CONTAINS(msg_at(8), "bogus.key");
	CHECK(wsl_conf_bool(&c, WSL_KEY_BOOT_SYSTEMD));
	parse("[wsl2]\ninstanceIdleTimeout=-1\n[general]\ninstanceIdleTimeout=30000\n",
	      WSL_DIALECT_WINDOWS);
	CHECK_CONTAINS(msg_at(2), "did you mean instanceIdleTimeout under [general]");
	CHECK_EQ(wsl_conf_int(&c, WSL_KEY_GENERAL_INSTANCEIDLETIMEOUT), 30000);
}

static void integers_and_choices_are_checked(void)
{
	parse("[general]\ninstanceIdleTimeout=-1\n[wsl2]\nvmIdleTimeout=10s\nnetworkingMode=MIRRORED\n",
	      WSL_DIALECT_WINDOWS);
	CHECK_EQ(wsl_conf_int(&c, WSL_KEY_GENERAL_INSTANCEIDLETIMEOUT), -1);
	CHECK_EQ(wsl_conf_int(&c, WSL_KEY_WSL2_VMIDLETIMEOUT), 60000);
	CHECK(diag_at(4) && diag_at(4)->kind == WSL_DIAG_BAD_VALUE);
	CHECK_EQ(wsl_conf_int(&c, WSL_KEY_WSL2_NETWORKINGMODE), 3);
	parse("[wsl2]\nnetworkingMode=bridge\nvmIdleTimeout=99999999999\n", WSL_DIALECT_WINDOWS);
	CHECK_CONTAINS(msg_at(2), "not one of None, NAT, Bridged, Mirrored");
	CHECK(diag_at(3) && diag_at(3)->kind == WSL_DIAG_BAD_VALUE);
	parse("[wsl2]\nnetworkingMode=VirtioProxy\n", WSL_DIALECT_WINDOWS);
	CHECK_EQ(c.n_diags, 0);
}

static void blanks_around_keys_and_values_are_trimmed(void)
{
	parse("  [boot]  \n\t systemd \t=\t true \t\n", WSL_DIALECT_DISTRO);
	CHECK_EQ(c.n_diags, 0);
	CHECK(wsl_conf_bool(&c, WSL_KEY_BOOT_SYSTEMD));
	CHECK(!strcmp(c.item[WSL_KEY_BOOT_SYSTEMD].text, "true"));
}

static void a_nul_byte_ends_the_value_and_ctrl_z_ends_wslconfig(void)
{
	static const char text[] = "[boot]\nsystemd=tr\0ue\n";
	wsl_conf_parse(text, sizeof text - 1, WSL_DIALECT_DISTRO, &c);
	CHECK(!strcmp(c.item[WSL_KEY_BOOT_SYSTEMD].text, "tr"));
	CHECK(!c.item[WSL_KEY_BOOT_SYSTEMD].valid);
	parse("[wsl2]\nvmIdleTimeout=1\n\x1a[wsl2]\nbroken line\n", WSL_DIALECT_WINDOWS);
	CHECK_EQ(c.n_diags, 0);
	CHECK_EQ(wsl_conf_int(&c, WSL_KEY_WSL2_VMIDLETIMEOUT), 1);
}

static void non_ascii_bytes_get_a_note(void)
{
	parse("[network]\nhostname = caf\xC3\xA9\n", WSL_DIALECT_DISTRO);
	CHECK(diag_at(2) && diag_at(2)->kind == WSL_DIAG_NOTE);
	CHECK_CONTAINS(msg_at(2), "outside ASCII");
}

static void diagnostics_are_capped_and_counted(void)
{
	char *text = malloc(100 * 16 + 1);
	text[0] = 0;
	for (int i = 0; i < 100; i++)
		sprintf(text + strlen(text), "[x]\nk%d=1\n", i);
	parse(text, WSL_DIALECT_DISTRO);
	CHECK_EQ(c.n_diags, WSL_CONF_MAX_DIAGS);
	CHECK_EQ(c.n_diags + c.n_diags_dropped, 100);
	free(text);
}

static void long_values_are_kept_cut_with_a_note(void)
{
	char text[2048] = "[boot]\ncommand = ";
	memset(text + strlen(text), 'x', 1000);
	parse(text, WSL_DIALECT_DISTRO);
	CHECK_EQ(strlen(wsl_conf_str(&c, WSL_KEY_BOOT_COMMAND)), WSL_VALUE_MAX - 1);
	CHECK(diag_at(2) && diag_at(2)->kind == WSL_DIAG_NOTE);
	CHECK_CONTAINS(msg_at(2), "1000 bytes");
}

int main(void)
{
	RUN(every_wsl_conf_key_is_read_with_its_type);
	RUN(absent_keys_take_wsls_defaults);
	RUN(booleans_are_true_false_1_0_in_any_case_only);
	RUN(a_malformed_line_stops_wsl_conf_but_not_wslconfig);
	RUN(malformed_lines_are_named_with_their_line);
	RUN(crlf_line_ends_are_read_like_lf);
	RUN(a_byte_order_mark_breaks_wsl_conf_only);
	RUN(comments_start_with_hash_anywhere_outside_quotes);
	RUN(quotes_and_escapes_follow_wsl);
	RUN(the_first_of_duplicate_keys_wins_even_when_invalid);
	RUN(keys_and_sections_match_in_any_case);
	RUN(unknown_keys_are_reported_and_ignored_with_a_hint);
	RUN(integers_and_choices_are_checked);
	RUN(blanks_around_keys_and_values_are_trimmed);
	RUN(a_nul_byte_ends_the_value_and_ctrl_z_ends_wslconfig);
	RUN(non_ascii_bytes_get_a_note);
	RUN(diagnostics_are_capped_and_counted);
	RUN(long_values_are_kept_cut_with_a_note);
	return check_summary();
}
