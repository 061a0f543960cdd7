/* The HTTP request checks (relay/auth.c) and the token (relay/token.c). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "check.h"

#define PORT 7420

static void host_allowed_accepts_loopback_names_with_the_listening_port(void)
{
	CHECK(relay_host_allowed("127.0.0.1:7420", PORT));
	CHECK(relay_host_allowed("localhost:7420", PORT));
	CHECK(relay_host_allowed("LOCALHOST:7420", PORT));
	CHECK(relay_host_allowed("LocalHost:7420", PORT));
	CHECK(relay_host_allowed("[::1]:7420", PORT));
	CHECK(relay_host_allowed("127.0.0.1:1", 1));
	CHECK(relay_host_allowed("localhost:65535", 65535));
}

static void host_allowed_rejects_every_other_host_or_port(void)
{
	static const char *const bad[] = {
		"127.0.0.1:7421",   /* wrong port */
		"localhost:80",
		"127.0.0.1",        /* no port */
		"localhost",
		"evil.com:7420",
		"127.0.0.1.evil.com:7420",
		"localhost.evil.com:7420",
		"localhost.:7420",
		"127.0.0.1:74200",
		"127.0.0.1:07420",
		"127.0.0.1:+7420",
		"127.0.0.1: 7420",
		"127.0.0.1:7420 ",
		"127.0.0.1:",
		":7420",
		"",
		"[::1]",
		"::1:7420",
		"[::1]:",
		"0.0.0.0:7420",
		"127.0.0.2:7420",
		"[::ffff:127.0.0.1]:7420",
		" localhost:7420",
		"localhost:7420:7420",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (relay_host_allowed(bad[i], PORT)) {
			fprintf(stderr, "  accepted Host \"%s\"\n", bad[i]);
			CHECK(!relay_host_allowed(bad[i], PORT));
		}
	}
	CHECK(!relay_host_allowed(NULL, PORT));
}

static void origin_allowed_accepts_no_origin_and_exact_matches_only(void)
{
	struct relay_config cfg;
	relay_config_defaults(&cfg);

	CHECK(relay_origin_allowed(NULL, &cfg));
	CHECK(!relay_origin_allowed("https://example.com", &cfg));   /* empty list */
	CHECK(!relay_origin_allowed("", &cfg));
	CHECK(!relay_origin_allowed("null", &cfg));

	strcpy(cfg.allowed_origins[0], "https://example.com");
	strcpy(cfg.allowed_origins[1], "vscode-webview://abc");
	cfg.n_allowed_origins = 2;
	CHECK(relay_origin_allowed("https://example.com", &cfg));
	CHECK(relay_origin_allowed("vscode-webview://abc", &cfg));
	CHECK(relay_origin_allowed(NULL, &cfg));
	CHECK(!relay_origin_allowed("https://example.co", &cfg));          /* prefix */
	CHECK(!relay_origin_allowed("https://example.com.evil", &cfg));    /* extension */
	CHECK(!relay_origin_allowed("https://evil.example.com", &cfg));
	CHECK(!relay_origin_allowed("xhttps://example.com", &cfg));
	CHECK(!relay_origin_allowed("HTTPS://EXAMPLE.COM", &cfg));         /* case */
	CHECK(!relay_origin_allowed("https://example.com/", &cfg));
	CHECK(!relay_origin_allowed("", &cfg));
}

static void bearer_token_takes_the_token_after_the_scheme_in_any_case(void)
{
	const char *t = NULL;
	size_t len = 0;

	CHECK(relay_bearer_token("Bearer x", &t, &len));
	CHECK(len == 1 && t && !strncmp(t, "x", 1));
	CHECK(relay_bearer_token("bearer abc", &t, &len));
	CHECK(len == 3 && !strncmp(t, "abc", 3));
	CHECK(relay_bearer_token("BEARER  abc  ", &t, &len));
	CHECK(len == 3 && !strncmp(t, "abc", 3));
}

static void bearer_token_rejects_other_schemes_and_an_empty_token(void)
{
	const char *t;
	size_t len;

	CHECK(!relay_bearer_token("Basic x", &t, &len));
	CHECK(!relay_bearer_token("Bearer", &t, &len));
	CHECK(!relay_bearer_token("Bearer ", &t, &len));
	CHECK(!relay_bearer_token("Bearer    ", &t, &len));
	CHECK(!relay_bearer_token("Bearerx", &t, &len));
	CHECK(!relay_bearer_token("", &t, &len));
	CHECK(!relay_bearer_token(NULL, &t, &len));
}

static void subprotocol_token_finds_the_token_entry_in_any_position(void)
{
	const char *t = NULL;
	size_t len = 0;

	CHECK(relay_subprotocol_token("tether.v1, tether.token.abc123", &t, &len));
	CHECK(len == 6 && t && !strncmp(t, "abc123", 6));
	CHECK(relay_subprotocol_token("tether.token.abc123, tether.v1", &t, &len));
	CHECK(len == 6 && !strncmp(t, "abc123", 6));
	CHECK(relay_subprotocol_token("tether.v1,tether.token.z", &t, &len));
	CHECK(len == 1 && !strncmp(t, "z", 1));
}

static void subprotocol_token_rejects_an_empty_or_absent_token(void)
{
	const char *t;
	size_t len;

	CHECK(!relay_subprotocol_token("tether.token.", &t, &len));
	CHECK(!relay_subprotocol_token("tether.v1, tether.token.", &t, &len));
	CHECK(!relay_subprotocol_token("tether.v1", &t, &len));
	CHECK(!relay_subprotocol_token("tether.v1, chat", &t, &len));
	CHECK(!relay_subprotocol_token("x-tether.token.abc", &t, &len));
	CHECK(!relay_subprotocol_token(" , ,", &t, &len));
	CHECK(!relay_subprotocol_token("", &t, &len));
	CHECK(!relay_subprotocol_token(NULL, &t, &len));
}

static void token_equal_is_true_only_for_the_same_64_digits(void)
{
	char token[RELAY_TOKEN_HEX + 1], cand[RELAY_TOKEN_HEX + 2];

	CHECK_EQ(relay_token_generate(token), 0);
	memcpy(cand, token, sizeof token);
	CHECK(relay_token_equal(cand, RELAY_TOKEN_HEX, token));

	cand[0] = cand[0] == 'a' ? 'b' : 'a';                       /* first digit */
	CHECK(!relay_token_equal(cand, RELAY_TOKEN_HEX, token));
	memcpy(cand, token, sizeof token);
	cand[RELAY_TOKEN_HEX - 1] = cand[RELAY_TOKEN_HEX - 1] == '0' ? '1' : '0'; /* last */
	CHECK(!relay_token_equal(cand, RELAY_TOKEN_HEX, token));

	memcpy(cand, token, sizeof token);
	CHECK(!relay_token_equal(cand, RELAY_TOKEN_HEX - 1, token)); /* 63: a prefix */
	cand[RELAY_TOKEN_HEX] = '0';
	cand[RELAY_TOKEN_HEX + 1] = 0;
	CHECK(!relay_token_equal(cand, RELAY_TOKEN_HEX + 1, token)); /* 65 */
	CHECK(!relay_token_equal("", 0, token));
}

static void token_generate_gives_64_lowercase_hex_digits_new_each_time(void)
{
	char a[RELAY_TOKEN_HEX + 1], b[RELAY_TOKEN_HEX + 1];

	memset(a, 'X', sizeof a);
	CHECK_EQ(relay_token_generate(a), 0);
	CHECK_EQ(relay_token_generate(b), 0);
	CHECK_EQ(strlen(a), RELAY_TOKEN_HEX);
	for (size_t i = 0; i < RELAY_TOKEN_HEX; i++)
		CHECK(isxdigit((unsigned char)a[i]) && !isupper((unsigned char)a[i]));
	CHECK(strcmp(a, b) != 0);
}

static void backoff_does_not_lock_for_the_first_four_failures(void)
{
	struct relay_backoff b = { 0 };
	uint64_t now = 1000000;

	for (int i = 0; i < RELAY_AUTH_FAIL_BURST - 1; i++) {
		relay_backoff_failure(&b, now);
		CHECK_EQ(relay_backoff_remaining(&b, now), 0);
		now += 10;
	}
	CHECK_EQ(b.failures, 4);
}

static void backoff_locks_for_one_second_at_the_fifth_failure(void)
{
	struct relay_backoff b = { 0 };
	uint64_t now = 1000000;

	for (int i = 0; i < 4; i++)
		relay_backoff_failure(&b, now);
	relay_backoff_failure(&b, now);
	CHECK_EQ(relay_backoff_remaining(&b, now), 1000);
	CHECK_EQ(relay_backoff_remaining(&b, now + 999), 1);
	CHECK_EQ(relay_backoff_remaining(&b, now + 1000), 0);
	CHECK_EQ(relay_backoff_remaining(&b, now + 5000), 0);
}

static void backoff_doubles_the_lockout_after_each_further_failure_up_to_60_s(void)
{
	static const uint64_t want[] = { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000 };
	struct relay_backoff b = { 0 };
	uint64_t now = 1000000;

	for (int i = 0; i < 4; i++)
		relay_backoff_failure(&b, now);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		relay_backoff_failure(&b, now);
		CHECK_EQ(relay_backoff_remaining(&b, now), want[i]);
		now += relay_backoff_remaining(&b, now);   /* wait it out */
		CHECK_EQ(relay_backoff_remaining(&b, now), 0);
	}
	CHECK(b.lockout_ms <= RELAY_AUTH_LOCKOUT_MAX_MS);
}

static void backoff_success_resets_the_failures_and_the_lockout(void)
{
	struct relay_backoff b = { 0 };
	uint64_t now = 1000000;

	for (int i = 0; i < 7; i++)
		relay_backoff_failure(&b, now);
	CHECK(relay_backoff_remaining(&b, now) > 0);
	relay_backoff_success(&b);
	CHECK_EQ(relay_backoff_remaining(&b, now), 0);
	CHECK_EQ(b.failures, 0);
	/* back to the start: four free failures, then 1 s again */
	for (int i = 0; i < 4; i++)
		relay_backoff_failure(&b, now);
	CHECK_EQ(relay_backoff_remaining(&b, now), 0);
	relay_backoff_failure(&b, now);
	CHECK_EQ(relay_backoff_remaining(&b, now), 1000);
}

int main(void)
{
	RUN(host_allowed_accepts_loopback_names_with_the_listening_port);
	RUN(host_allowed_rejects_every_other_host_or_port);
	RUN(origin_allowed_accepts_no_origin_and_exact_matches_only);
	RUN(bearer_token_takes_the_token_after_the_scheme_in_any_case);
	RUN(bearer_token_rejects_other_schemes_and_an_empty_token);
	RUN(subprotocol_token_finds_the_token_entry_in_any_position);
	RUN(subprotocol_token_rejects_an_empty_or_absent_token);
	RUN(token_equal_is_true_only_for_the_same_64_digits);
	RUN(token_generate_gives_64_lowercase_hex_digits_new_each_time);
	RUN(backoff_does_not_lock_for_the_first_four_failures);
	RUN(backoff_locks_for_one_second_at_the_fifth_failure);
	RUN(backoff_doubles_the_lockout_after_each_further_failure_up_to_60_s);
	RUN(backoff_success_resets_the_failures_and_the_lockout);
	return check_summary();
}
