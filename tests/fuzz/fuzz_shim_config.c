/*
 * fuzz_shim_config: tether-shim's config parser (shim_config_parse in
 * windows-shim/config.c, on the JSON reader in json.c).
 *
 * Oracle: on success every setting is in its documented range (docs/shim.md)
 * and the strings are NUL-terminated inside their buffers; on failure err is
 * a non-empty one-line message naming the file and the config is untouched.
 * Parsing the same text twice gives the same result.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../windows-shim/internal.h"   /* not relay/internal.h */

#define REQUIRE(cond)                                                                     \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "fuzz_shim_config: invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                                         \
			abort();                                                          \
		}                                                                         \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shim_config cfg, again, def;
	char err[SHIM_ERR_MAX], err2[SHIM_ERR_MAX];

	shim_config_defaults(&def);
	cfg = def;
	again = def;
	memset(err, 0x5A, sizeof err);
	memset(err2, 0x5A, sizeof err2);
	int rc = shim_config_parse(&cfg, (const char *)data, size, "fuzz.json", err);
	int rc2 = shim_config_parse(&again, (const char *)data, size, "fuzz.json", err2);
	REQUIRE(rc == rc2);
	if (rc) {
		REQUIRE(rc < 0);
		REQUIRE(memchr(err, 0, sizeof err));
		REQUIRE(!strncmp(err, "config fuzz.json: ", 18) && err[18]);
		REQUIRE(!strchr(err, '\n'));
		REQUIRE(!strcmp(err, err2));
		REQUIRE(!memcmp(&cfg, &def, sizeof cfg));
		return 0;
	}
	REQUIRE(memchr(cfg.distro, 0, sizeof cfg.distro));
	REQUIRE(memchr(cfg.wsl_exe, 0, sizeof cfg.wsl_exe));
	for (const char *p = cfg.distro; *p; p++)
		REQUIRE((unsigned char)*p >= 0x20);
	REQUIRE(cfg.port >= 1 && cfg.port <= 65535);
	REQUIRE(cfg.health_interval_ms >= 100 && cfg.health_interval_ms <= 3600000);
	REQUIRE(cfg.health_timeout_ms >= 50 && cfg.health_timeout_ms <= cfg.health_interval_ms);
	REQUIRE(cfg.health_failures >= 1 && cfg.health_failures <= 1000);
	REQUIRE(cfg.backoff_base_ms >= 10 && cfg.backoff_base_ms <= cfg.backoff_max_ms);
	REQUIRE(cfg.backoff_max_ms <= 86400000);
	REQUIRE(cfg.stable_ms >= 100 && cfg.stop_timeout_ms >= 0 && cfg.stop_timeout_ms <= 600000);
	REQUIRE(cfg.log_max_bytes >= 4096 && cfg.log_files >= 1 && cfg.log_files <= 20);
	REQUIRE(!memcmp(&cfg, &again, sizeof cfg));
	return 0;
}
