/* windows-shim/config.c and json.c: shim.json, strict. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "check.h"

static int parse(struct shim_config *cfg, const char *text, char err[SHIM_ERR_MAX])
{
	shim_config_defaults(cfg);
	err[0] = 0;
	return shim_config_parse(cfg, text, strlen(text), "shim.json", err);
}

static void config_defaults_are_the_documented_values(void)
{
	struct shim_config c;
	shim_config_defaults(&c);
	CHECK_EQ(c.port, 7420);
	CHECK_EQ(c.health_interval_ms, 5000);
	CHECK_EQ(c.health_timeout_ms, 2000);
	CHECK_EQ(c.health_failures, 3);
	CHECK_EQ(c.health_grace_ms, 30000);
	CHECK_EQ(c.backoff_base_ms, 1000);
	CHECK_EQ(c.backoff_max_ms, 60000);
	CHECK_EQ(c.stable_ms, 60000);
	CHECK_EQ(c.stop_timeout_ms, 5000);
	CHECK_EQ(c.log_max_bytes, 1 << 20);
	CHECK_EQ(c.log_files, 3);
	CHECK(c.distro[0] == 0 && c.wsl_exe[0] == 0);
}

static void config_parse_applies_every_key_of_a_full_file(void)
{
	static const char text[] =
		"{\n"
		"  \"distro\": \"Ubuntu-22.04\",\n"
		"  \"wsl_exe\": \"C:\\\\Windows\\\\System32\\\\wsl.exe\",\n"
		"  \"port\": 7421,\n"
		"  \"health_interval_ms\": 1000,\n"
		"  \"health_timeout_ms\": 500,\n"
		"  \"health_failures\": 2,\n"
		"  \"health_grace_ms\": 0,\n"
		"  \"backoff_base_ms\": 100,\n"
		"  \"backoff_max_ms\": 800,\n"
		"  \"stable_ms\": 5000,\n"
		"  \"stop_timeout_ms\": 250,\n"
		"  \"log_max_bytes\": 4096,\n"
		"  \"log_files\": 1\n"
		"}\n";
	struct shim_config c;
	char err[SHIM_ERR_MAX];
	CHECK_EQ(parse(&c, text, err), 0);
	CHECK(!strcmp(c.distro, "Ubuntu-22.04"));
	CHECK(!strcmp(c.wsl_exe, "C:\\Windows\\System32\\wsl.exe"));
	CHECK_EQ(c.port, 7421);
	CHECK_EQ(c.health_interval_ms, 1000);
	CHECK_EQ(c.health_timeout_ms, 500);
	CHECK_EQ(c.health_failures, 2);
	CHECK_EQ(c.health_grace_ms, 0);
	CHECK_EQ(c.backoff_base_ms, 100);
	CHECK_EQ(c.backoff_max_ms, 800);
	CHECK_EQ(c.stable_ms, 5000);
	CHECK_EQ(c.stop_timeout_ms, 250);
	CHECK_EQ(c.log_max_bytes, 4096);
	CHECK_EQ(c.log_files, 1);
}

static void config_parse_of_an_empty_object_keeps_the_defaults(void)
{
	struct shim_config c, d;
	char err[SHIM_ERR_MAX];
	CHECK_EQ(parse(&c, " { } \r\n", err), 0);
	shim_config_defaults(&d);
	CHECK(!memcmp(&c, &d, sizeof c));
}

static void config_parse_rejects_an_unknown_key_naming_it_and_its_line(void)
{
	struct shim_config c;
	char err[SHIM_ERR_MAX];
	CHECK(parse(&c, "{\n  \"port\": 7420,\n  \"prot\": 1\n}", err) < 0);
	CHECK_CONTAINS(err, "config shim.json: line 3, column 11: unknown key \"prot\"");
}

static void config_parse_shows_control_characters_of_a_key_escaped(void)
{
	struct shim_config c;
	char err[SHIM_ERR_MAX];
	CHECK(parse(&c, "{\"a\\nb\": 1}", err) < 0);
	CHECK_CONTAINS(err, "unknown key \"a\\u000ab\"");
	CHECK(!strchr(err, '\n'));
}

static void config_parse_rejects_wrong_types_and_ranges_naming_the_key(void)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "{\"port\": \"7420\"}", "\"port\" must be an integer" },
		{ "{\"port\": 7420.5}", "\"port\" must be an integer" },
		{ "{\"port\": 1e3}", "\"port\" must be an integer" },
		{ "{\"port\": 0}", "\"port\" must be between 1 and 65535, got 0" },
		{ "{\"port\": 65536}", "\"port\" must be between 1 and 65535, got 65536" },
		{ "{\"port\": 99999999999999999999}", "\"port\" must be an integer" },
		{ "{\"health_failures\": -1}", "\"health_failures\" must be between 1 and 1000" },
		{ "{\"distro\": 5}", "\"distro\" must be a string" },
		{ "{\"distro\": null}", "\"distro\" must be a string" },
		{ "{\"distro\": \"a\\nb\"}", "\"distro\" must not contain control characters" },
		{ "{\"distro\": [\"x\"]}", "\"distro\" must be a string" },
		{ "{\"port\": true}", "\"port\" must be an integer" },
		{ "{\"port\": 1, \"port\": 2}", "key \"port\" appears twice" },
		{ "{\"backoff_base_ms\": 5000, \"backoff_max_ms\": 1000}",
		  "\"backoff_base_ms\" (5000) must not exceed \"backoff_max_ms\" (1000)" },
		{ "{\"health_timeout_ms\": 6000}",
		  "\"health_timeout_ms\" (6000) must not exceed \"health_interval_ms\" (5000)" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct shim_config c;
		char err[SHIM_ERR_MAX];
		CHECK(parse(&c, cases[i].text, err) < 0);
		CHECK_CONTAINS(err, cases[i].want);
		CHECK_CONTAINS(err, "config shim.json: ");
	}
}

static void config_parse_rejects_malformed_json_with_its_position(void)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "", "line 1, column 1: the top level must be a JSON object" },
		{ "[]", "the top level must be a JSON object" },
		{ "{\"port\": 1,}", "line 1, column 12: expected a string key" },
		{ "{\"port\" 1}", "expected ':' after the key" },
		{ "{\"port\": 1} x", "line 1, column 13: trailing data after the JSON object" },
		{ "{\"port\": 1", "unterminated object" },
		{ "{\"distro\": \"abc}", "unterminated string" },
		{ "{\"distro\": \"\\x\"}", "unknown escape" },
		{ "{\"distro\": \"\\ud800\"}", "lone high surrogate" },
		{ "{\"distro\": \"\\udc00\"}", "lone low surrogate" },
		{ "{\"distro\": \"\\u0000\"}", "\\u0000 is not allowed" },
		{ "{\"distro\": \"\xff\"}", "invalid UTF-8" },
		{ "{\"distro\": \"\xc0\xaf\"}", "invalid UTF-8" },
		{ "{\"distro\": \"\xed\xa0\x80\"}", "invalid UTF-8" },
		{ "{\"port\": 01}", "line 1, column 10: bad number (no leading zeros)" },
		{ "{\"port\": 1 2}", "expected ',' or '}'" },
		{ "{\"port\": -}", "bad number" },
		{ "{\"port\": tru}", "expected a value" },
		{ "{\n\n   \"port\": @}", "line 3, column 12: expected a value" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct shim_config c;
		char err[SHIM_ERR_MAX];
		CHECK(parse(&c, cases[i].text, err) < 0);
		CHECK_CONTAINS(err, cases[i].want);
	}
}

static void config_parse_leaves_the_config_untouched_on_error(void)
{
	struct shim_config c, d;
	char err[SHIM_ERR_MAX];
	CHECK(parse(&c, "{\"port\": 9, \"distro\": \"x\", \"bogus\": 1}", err) < 0);
	shim_config_defaults(&d);
	CHECK(!memcmp(&c, &d, sizeof c));
}

static void config_parse_decodes_escapes_and_surrogate_pairs(void)
{
	struct shim_config c;
	char err[SHIM_ERR_MAX];
	CHECK_EQ(parse(&c, "{\"distro\": \"a\\\"b\\\\c\\/d \\u00e9\\ud83d\\ude00\"}", err), 0);
	CHECK(!strcmp(c.distro, "a\"b\\c/d \xc3\xa9\xf0\x9f\x98\x80"));
}

static void config_parse_refuses_a_distro_name_too_long(void)
{
	char text[600], name[300];
	struct shim_config c;
	char err[SHIM_ERR_MAX];
	memset(name, 'x', 256);
	name[256] = 0;
	snprintf(text, sizeof text, "{\"distro\": \"%s\"}", name);
	CHECK(parse(&c, text, err) < 0);
	CHECK_CONTAINS(err, "\"distro\" must be shorter than 256 bytes");
	name[255] = 0;
	snprintf(text, sizeof text, "{\"distro\": \"%s\"}", name);
	CHECK_EQ(parse(&c, text, err), 0);
}

static void json_skips_nested_values_and_refuses_deep_nesting(void)
{
	char deep[200];
	struct shim_config c;
	char err[SHIM_ERR_MAX];
	/* Nested values reach the callback as OBJECT/ARRAY: the config says so. */
	CHECK(parse(&c, "{\"port\": {\"a\": [1, 2, {\"b\": null}]}}", err) < 0);
	CHECK_CONTAINS(err, "\"port\" must be an integer");
	memset(deep, '[', 40);
	memset(deep + 40, ']', 40);
	deep[80] = 0;
	char text[300];
	snprintf(text, sizeof text, "{\"port\": %s}", deep);
	CHECK(parse(&c, text, err) < 0);
	CHECK_CONTAINS(err, "nested deeper than 32 levels");
}

static void config_describe_lists_every_key(void)
{
	struct shim_config c;
	char out[4096];
	shim_config_defaults(&c);
	shim_config_describe(&c, out, sizeof out);
	const char *keys[] = { "distro", "wsl_exe", "port", "health_interval_ms", "health_timeout_ms",
			       "health_failures", "health_grace_ms", "backoff_base_ms",
			       "backoff_max_ms", "stable_ms", "stop_timeout_ms", "log_max_bytes",
			       "log_files" };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		CHECK_CONTAINS(out, keys[i]);
}

int main(void)
{
	RUN(config_defaults_are_the_documented_values);
	RUN(config_parse_applies_every_key_of_a_full_file);
	RUN(config_parse_of_an_empty_object_keeps_the_defaults);
	RUN(config_parse_rejects_an_unknown_key_naming_it_and_its_line);
	RUN(config_parse_shows_control_characters_of_a_key_escaped);
	RUN(config_parse_rejects_wrong_types_and_ranges_naming_the_key);
	RUN(config_parse_rejects_malformed_json_with_its_position);
	RUN(config_parse_leaves_the_config_untouched_on_error);
	RUN(config_parse_decodes_escapes_and_surrogate_pairs);
	RUN(config_parse_refuses_a_distro_name_too_long);
	RUN(json_skips_nested_values_and_refuses_deep_nesting);
	RUN(config_describe_lists_every_key);
	return check_summary();
}
