/* Settings (relay/config.c): defaults, the JSON config file, the flags. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"
#include "check.h"

/* Loads text (NUL-terminated) over the defaults; err is cleared first. */
static int load(struct relay_config *cfg, const char *text, char err[RELAY_ERR_MAX])
{
	relay_config_defaults(cfg);
	err[0] = 0;
	return relay_config_load_text(cfg, text, strlen(text), "test.json", err);
}

/* Parses the flags in a NULL-terminated list (argv[0] is added). */
static int args(struct relay_config *cfg, char err[RELAY_ERR_MAX], const char *const *list)
{
	char *argv[32] = { "tetherd" };
	int argc = 1;
	while (*list && argc < 31)
		argv[argc++] = (char *)*list++;
	argv[argc] = NULL;
	err[0] = 0;
	return relay_config_parse_args(cfg, argc, argv, err);
}

static void config_defaults_are_the_documented_values(void)
{
	struct relay_config cfg;
	char want[64];

	unsetenv("TETHER_RUNTIME_DIR");
	relay_config_defaults(&cfg);
	CHECK_EQ(cfg.port, 7420);
	CHECK_EQ(cfg.max_connections, 256);
	CHECK_EQ(cfg.max_message_bytes, 1L << 20);
	CHECK_EQ(cfg.max_queued_bytes, 8L << 20);
	CHECK_EQ(cfg.ping_interval_s, 20);
	CHECK_EQ(cfg.log_level, RELAY_LOG_INFO);
	CHECK_EQ(cfg.n_allowed_origins, 0);
	CHECK(cfg.log_file[0] == 0);
	snprintf(want, sizeof want, "/tmp/tether-%u", (unsigned)getuid());
	CHECK(!strcmp(cfg.runtime_dir, want));
}

static void config_defaults_take_the_runtime_dir_from_tether_runtime_dir(void)
{
	struct relay_config cfg;
	setenv("TETHER_RUNTIME_DIR", "/run/user/1000/tether", 1);
	relay_config_defaults(&cfg);
	CHECK(!strcmp(cfg.runtime_dir, "/run/user/1000/tether"));
	unsetenv("TETHER_RUNTIME_DIR");
}

static void config_load_text_applies_every_setting_of_a_full_file(void)
{
	static const char text[] =
		"{\n"
		"  \"port\": 0,\n"
		"  \"runtime_dir\": \"/tmp/tether-test\",\n"
		"  \"log_file\": \"/tmp/tether-test/tetherd.log\",\n"
		"  \"log_level\": \"debug\",\n"
		"  \"allowed_origins\": [\"vscode-webview://x\", \"https://example.com\"],\n"
		"  \"max_connections\": 4096,\n"
		"  \"max_message_bytes\": 1024,\n"
		"  \"max_queued_bytes\": 1073741824,\n"
		"  \"ping_interval_s\": 3600\n"
		"}\n";
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	CHECK_EQ(load(&cfg, text, err), 0);
	CHECK_EQ(err[0], 0);
	CHECK_EQ(cfg.port, 0);
	CHECK(!strcmp(cfg.runtime_dir, "/tmp/tether-test"));
	CHECK(!strcmp(cfg.log_file, "/tmp/tether-test/tetherd.log"));
	CHECK_EQ(cfg.log_level, RELAY_LOG_DEBUG);
	CHECK_EQ(cfg.n_allowed_origins, 2);
	CHECK(!strcmp(cfg.allowed_origins[0], "vscode-webview://x"));
	CHECK(!strcmp(cfg.allowed_origins[1], "https://example.com"));
	CHECK_EQ(cfg.max_connections, 4096);
	CHECK_EQ(cfg.max_message_bytes, 1024);
	CHECK_EQ(cfg.max_queued_bytes, 1073741824);
	CHECK_EQ(cfg.ping_interval_s, 3600);
}

static void config_load_text_keeps_the_defaults_of_keys_it_does_not_have(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	CHECK_EQ(load(&cfg, "{ \"log_level\": \"warn\" }", err), 0);
	CHECK_EQ(cfg.log_level, RELAY_LOG_WARN);
	CHECK_EQ(cfg.port, 7420);
	CHECK_EQ(cfg.max_connections, 256);
	CHECK_EQ(load(&cfg, "{}", err), 0);
	CHECK_EQ(cfg.log_level, RELAY_LOG_INFO);
}

static void config_load_text_reads_only_len_bytes(void)
{
	static const char text[] = "{\"port\": 1}this is past len";
	struct relay_config cfg;
	char err[RELAY_ERR_MAX] = "";

	relay_config_defaults(&cfg);
	CHECK_EQ(relay_config_load_text(&cfg, text, strlen("{\"port\": 1}"), "t", err), 0);
	CHECK_EQ(cfg.port, 1);
}

static void config_rejects_an_unknown_key_and_names_it(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	CHECK(load(&cfg, "{\"port\": 1, \"prot\": 2}", err) < 0);
	CHECK_CONTAINS(err, "\"prot\"");
	CHECK_CONTAINS(err, "test.json");
}

static void config_rejects_a_string_port_and_names_port(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	CHECK(load(&cfg, "{\"port\": \"7420\"}", err) < 0);
	CHECK_CONTAINS(err, "\"port\"");
	CHECK_CONTAINS(err, "integer");
}

static void config_rejects_port_70000_and_names_the_range(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	CHECK(load(&cfg, "{\"port\": 70000}", err) < 0);
	CHECK_CONTAINS(err, "port");
	CHECK_CONTAINS(err, "between 0 and 65535");
	CHECK_CONTAINS(err, "70000");
	CHECK(load(&cfg, "{\"port\": -1}", err) < 0);
	CHECK_CONTAINS(err, "between 0 and 65535");
}

static void config_rejects_max_connections_0_and_names_the_range(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	CHECK(load(&cfg, "{\"max_connections\": 0}", err) < 0);
	CHECK_CONTAINS(err, "max_connections");
	CHECK_CONTAINS(err, "between 1 and 4096");
}

static void config_rejects_a_fraction_for_an_integer_setting(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	CHECK(load(&cfg, "{\"ping_interval_s\": 2.5}", err) < 0);
	CHECK_CONTAINS(err, "\"ping_interval_s\" must be an integer");
	CHECK(load(&cfg, "{\"port\": true}", err) < 0);
	CHECK_CONTAINS(err, "\"port\" must be an integer");
}

static void config_rejects_a_key_given_twice(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	CHECK(load(&cfg, "{\"port\": 1, \"log_level\": \"info\", \"port\": 2}", err) < 0);
	CHECK_CONTAINS(err, "\"port\" appears twice");
}

static void config_reports_the_line_and_column_of_invalid_json(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	/* the bad value starts at line 3, column 16 */
	CHECK(load(&cfg, "{\n  \"port\": 1,\n  \"log_level\": oops\n}\n", err) < 0);
	CHECK_CONTAINS(err, "invalid JSON at line 3, column 16");
	/* a missing comma: the next key, line 2 column 3, is where it breaks */
	CHECK(load(&cfg, "{\"port\": 1\n  \"log_level\": \"info\"}", err) < 0);
	CHECK_CONTAINS(err, "invalid JSON at line 2, column 3");
	CHECK(load(&cfg, "", err) < 0);
	CHECK_CONTAINS(err, "invalid JSON at line 1, column 1");
}

static void config_rejects_trailing_data_after_the_object(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	CHECK(load(&cfg, "{\"port\": 1}\n  x", err) < 0);
	CHECK_CONTAINS(err, "trailing data");
	CHECK_CONTAINS(err, "line 2, column 3");
	CHECK(load(&cfg, "{} {}", err) < 0);
	CHECK_CONTAINS(err, "trailing data");
	/* whitespace after the object is fine */
	CHECK_EQ(load(&cfg, "{\"port\": 1} \r\n\t\n", err), 0);
}

static void config_rejects_a_top_level_array(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	CHECK(load(&cfg, "[{\"port\": 1}]", err) < 0);
	CHECK_CONTAINS(err, "top level must be a JSON object");
	CHECK(load(&cfg, "7420", err) < 0);
	CHECK_CONTAINS(err, "top level must be a JSON object");
}

static void config_rejects_allowed_origins_that_is_not_an_array_of_strings(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	CHECK(load(&cfg, "{\"allowed_origins\": \"https://a.example\"}", err) < 0);
	CHECK_CONTAINS(err, "\"allowed_origins\" must be an array of strings");
	CHECK(load(&cfg, "{\"allowed_origins\": [\"https://a.example\", 7]}", err) < 0);
	CHECK_CONTAINS(err, "\"allowed_origins\" must be an array of strings");
	CHECK(load(&cfg, "{\"allowed_origins\": [\"\"]}", err) < 0);
	CHECK_CONTAINS(err, "non-empty origin");
}

static void config_accepts_16_allowed_origins_and_rejects_17(void)
{
	char text[1024];
	size_t n;
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	n = (size_t)snprintf(text, sizeof text, "{\"allowed_origins\": [");
	for (int i = 0; i < 16; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "%s\"https://o%d.example\"",
				      i ? ", " : "", i);
	snprintf(text + n, sizeof text - n, "]}");
	CHECK_EQ(load(&cfg, text, err), 0);
	CHECK_EQ(cfg.n_allowed_origins, 16);
	CHECK(!strcmp(cfg.allowed_origins[15], "https://o15.example"));

	snprintf(text + n, sizeof text - n, ", \"https://one-too-many.example\"]}");
	CHECK(load(&cfg, text, err) < 0);
	CHECK_CONTAINS(err, "at most 16 allowed origins");
	CHECK(cfg.n_allowed_origins <= RELAY_MAX_ORIGINS);
}

static void config_rejects_log_level_loud_and_lists_the_levels(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	CHECK(load(&cfg, "{\"log_level\": \"loud\"}", err) < 0);
	CHECK_CONTAINS(err, "log_level");
	CHECK_CONTAINS(err, "error, warn, info, debug");
	CHECK_CONTAINS(err, "'loud'");
	CHECK(load(&cfg, "{\"log_level\": 3}", err) < 0);
	CHECK_CONTAINS(err, "log_level");
}

static void config_args_accept_port_0_as_a_separate_value(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	relay_config_defaults(&cfg);
	CHECK_EQ(args(&cfg, err, (const char *const[]){ "--port", "0", NULL }), 0);
	CHECK_EQ(cfg.port, 0);
}

static void config_args_accept_port_0_after_an_equals_sign(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	relay_config_defaults(&cfg);
	CHECK_EQ(args(&cfg, err, (const char *const[]){ "--port=0", NULL }), 0);
	CHECK_EQ(cfg.port, 0);
	CHECK_EQ(args(&cfg, err, (const char *const[]){ "--max-connections=9",
							 "--log-level", "error", NULL }), 0);
	CHECK_EQ(cfg.max_connections, 9);
	CHECK_EQ(cfg.log_level, RELAY_LOG_ERROR);
}

static void config_args_collect_a_repeated_allow_origin(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	relay_config_defaults(&cfg);
	CHECK_EQ(args(&cfg, err, (const char *const[]){ "--allow-origin", "a",
							 "--allow-origin", "b", NULL }), 0);
	CHECK_EQ(cfg.n_allowed_origins, 2);
	CHECK(!strcmp(cfg.allowed_origins[0], "a"));
	CHECK(!strcmp(cfg.allowed_origins[1], "b"));
}

static void config_args_reject_an_unknown_flag_and_name_it(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	relay_config_defaults(&cfg);
	CHECK(args(&cfg, err, (const char *const[]){ "--port", "1", "--bogus", "x", NULL }) < 0);
	CHECK_CONTAINS(err, "'--bogus'");
	CHECK(args(&cfg, err, (const char *const[]){ "--bogus=1", NULL }) < 0);
	CHECK_CONTAINS(err, "'--bogus'");
}

static void config_args_reject_a_flag_missing_its_value_at_the_end(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	relay_config_defaults(&cfg);
	CHECK(args(&cfg, err, (const char *const[]){ "--port", NULL }) < 0);
	CHECK_CONTAINS(err, "--port needs a value");
	CHECK_EQ(cfg.port, 7420);
}

static void config_args_reject_a_port_that_is_not_a_number(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	relay_config_defaults(&cfg);
	CHECK(args(&cfg, err, (const char *const[]){ "--port", "abc", NULL }) < 0);
	CHECK_CONTAINS(err, "--port");
	CHECK_CONTAINS(err, "'abc' is not an integer");
	CHECK(args(&cfg, err, (const char *const[]){ "--port=12x", NULL }) < 0);
	CHECK_CONTAINS(err, "'12x'");
	CHECK(args(&cfg, err, (const char *const[]){ "--port=", NULL }) < 0);
	CHECK(args(&cfg, err, (const char *const[]){ "--port", "70000", NULL }) < 0);
	CHECK_CONTAINS(err, "--port must be between 0 and 65535, got 70000");
	CHECK_EQ(cfg.port, 7420);
}

static void config_args_skip_config_and_its_value(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	relay_config_defaults(&cfg);
	CHECK_EQ(args(&cfg, err, (const char *const[]){ "--config", "x", "--port", "5", NULL }), 0);
	CHECK_EQ(cfg.port, 5);
	CHECK_EQ(args(&cfg, err, (const char *const[]){ "--config=x", "--port", "6", NULL }), 0);
	CHECK_EQ(cfg.port, 6);
}

static void config_flags_override_values_from_the_file(void)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX];

	CHECK_EQ(load(&cfg, "{\"port\": 1000, \"log_level\": \"debug\", \"ping_interval_s\": 5}",
		      err), 0);
	CHECK_EQ(args(&cfg, err, (const char *const[]){ "--port", "2000",
							 "--log-level=warn", NULL }), 0);
	CHECK_EQ(cfg.port, 2000);
	CHECK_EQ(cfg.log_level, RELAY_LOG_WARN);
	CHECK_EQ(cfg.ping_interval_s, 5);   /* not given as a flag: the file's value */
}

int main(void)
{
	RUN(config_defaults_are_the_documented_values);
	RUN(config_defaults_take_the_runtime_dir_from_tether_runtime_dir);
	RUN(config_load_text_applies_every_setting_of_a_full_file);
	RUN(config_load_text_keeps_the_defaults_of_keys_it_does_not_have);
	RUN(config_load_text_reads_only_len_bytes);
	RUN(config_rejects_an_unknown_key_and_names_it);
	RUN(config_rejects_a_string_port_and_names_port);
	RUN(config_rejects_port_70000_and_names_the_range);
	RUN(config_rejects_max_connections_0_and_names_the_range);
	RUN(config_rejects_a_fraction_for_an_integer_setting);
	RUN(config_rejects_a_key_given_twice);
	RUN(config_reports_the_line_and_column_of_invalid_json);
	RUN(config_rejects_trailing_data_after_the_object);
	RUN(config_rejects_a_top_level_array);
	RUN(config_rejects_allowed_origins_that_is_not_an_array_of_strings);
	RUN(config_accepts_16_allowed_origins_and_rejects_17);
	RUN(config_rejects_log_level_loud_and_lists_the_levels);
	RUN(config_args_accept_port_0_as_a_separate_value);
	RUN(config_args_accept_port_0_after_an_equals_sign);
	RUN(config_args_collect_a_repeated_allow_origin);
	RUN(config_args_reject_an_unknown_flag_and_name_it);
	RUN(config_args_reject_a_flag_missing_its_value_at_the_end);
	RUN(config_args_reject_a_port_that_is_not_a_number);
	RUN(config_args_skip_config_and_its_value);
	RUN(config_flags_override_values_from_the_file);
	return check_summary();
}
