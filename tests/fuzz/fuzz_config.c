/*
 * fuzz_config: the config file parser (relay_config_load_text in relay/config.c).
 *
 * Oracle: on success every setting is in its documented range
 * (docs/configuration.md) and every string is NUL-terminated inside its
 * buffer; on failure err is a non-empty, NUL-terminated one-line message
 * naming the file. Parsing the same text twice gives the same result.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

#define REQUIRE(cond)                                                                \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "fuzz_config: invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                                    \
			abort();                                                     \
		}                                                                    \
	} while (0)

static bool terminated(const char *s, size_t size)
{
	return memchr(s, 0, size) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_config cfg, again;
	char err[RELAY_ERR_MAX], err2[RELAY_ERR_MAX];

	memset(err, 0x5A, sizeof err);
	relay_config_defaults(&cfg);
	int rc = relay_config_load_text(&cfg, (const char *)data, size, "fuzz.json", err);

	relay_config_defaults(&again);
	memset(err2, 0x5A, sizeof err2);
	int rc2 = relay_config_load_text(&again, (const char *)data, size, "fuzz.json", err2);
	REQUIRE(rc == rc2);

	if (rc) {
		REQUIRE(rc < 0);
		REQUIRE(terminated(err, sizeof err));
		REQUIRE(err[0] != 0);
		REQUIRE(!strncmp(err, "config fuzz.json: ", 18));
		REQUIRE(!strcmp(err, err2));
		return 0;
	}
	REQUIRE(cfg.port >= 0 && cfg.port <= 65535);
	REQUIRE(cfg.n_allowed_origins >= 0 && cfg.n_allowed_origins <= RELAY_MAX_ORIGINS);
	for (int i = 0; i < cfg.n_allowed_origins; i++) {
		REQUIRE(terminated(cfg.allowed_origins[i], RELAY_ORIGIN_MAX));
		REQUIRE(cfg.allowed_origins[i][0] != 0);
	}
	REQUIRE(terminated(cfg.runtime_dir, sizeof cfg.runtime_dir));
	REQUIRE(terminated(cfg.log_file, sizeof cfg.log_file));
	REQUIRE(cfg.log_level >= RELAY_LOG_ERROR && cfg.log_level <= RELAY_LOG_DEBUG);
	REQUIRE(cfg.max_connections >= 1 && cfg.max_connections <= 4096);
	REQUIRE(cfg.max_message_bytes >= 1024 && cfg.max_message_bytes <= 64L << 20);
	REQUIRE(cfg.max_queued_bytes >= 4096 && cfg.max_queued_bytes <= 1L << 30);
	REQUIRE(cfg.ping_interval_s >= 1 && cfg.ping_interval_s <= 3600);
	REQUIRE(!memcmp(&cfg, &again, sizeof cfg));
	return 0;
}
