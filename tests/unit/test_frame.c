/* Byte-stream framing (relay/frame.c): [u32 BE length][u8 kind][payload]. */
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "check.h"

/* Appends one frame to buf at *off. */
static void put_frame(uint8_t *buf, size_t *off, uint8_t kind, const void *payload, uint32_t len)
{
	relay_frame_header_write(buf + *off, kind, len);
	if (len)
		memcpy(buf + *off + RELAY_FRAME_HEADER, payload, len);
	*off += RELAY_FRAME_HEADER + len;
}

static void frame_header_write_encodes_the_length_big_endian_then_the_kind(void)
{
	uint8_t h[RELAY_FRAME_HEADER];
	relay_frame_header_write(h, RELAY_FRAME_BINARY, 0x01020304u);
	CHECK_EQ(h[0], 1);
	CHECK_EQ(h[1], 2);
	CHECK_EQ(h[2], 3);
	CHECK_EQ(h[3], 4);
	CHECK_EQ(h[4], RELAY_FRAME_BINARY);
}

static void frame_reader_reads_back_a_header_written_by_frame_header_write(void)
{
	uint8_t buf[64];
	size_t n = 0;
	struct relay_frame_reader r;
	struct relay_frame f;

	put_frame(buf, &n, RELAY_FRAME_TEXT, "hello", 5);
	relay_frame_reader_init(&r, 4096);
	CHECK_EQ(relay_frame_feed(&r, buf, n, &f), n);
	CHECK_EQ(f.event, RELAY_FRAME_MESSAGE);
	CHECK_EQ(f.kind, RELAY_FRAME_TEXT);
	CHECK_EQ(f.len, 5);
	CHECK(f.data && !memcmp(f.data, "hello", 5));
	relay_frame_reader_free(&r);
}

static void frame_reader_reassembles_a_message_fed_one_byte_at_a_time(void)
{
	static const char payload[] = "{\"type\":\"status\",\"id\":1}";
	uint8_t buf[64];
	size_t n = 0, messages = 0;
	struct relay_frame_reader r;
	struct relay_frame f;

	put_frame(buf, &n, RELAY_FRAME_TEXT, payload, sizeof payload - 1);
	relay_frame_reader_init(&r, 4096);
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ(relay_frame_feed(&r, buf + i, 1, &f), 1);
		if (i + 1 < n) {
			CHECK_EQ(f.event, RELAY_FRAME_NONE);
		} else {
			CHECK_EQ(f.event, RELAY_FRAME_MESSAGE);
			CHECK_EQ(f.len, sizeof payload - 1);
			CHECK(!memcmp(f.data, payload, sizeof payload - 1));
			messages++;
		}
	}
	CHECK_EQ(messages, 1);
	relay_frame_reader_free(&r);
}

static void frame_reader_reassembles_a_message_split_at_every_byte_boundary(void)
{
	static const char payload[] = "split me anywhere";
	uint8_t buf[64];
	size_t n = 0;

	put_frame(buf, &n, RELAY_FRAME_TEXT, payload, sizeof payload - 1);
	for (size_t cut = 0; cut <= n; cut++) {
		struct relay_frame_reader r;
		struct relay_frame f;
		relay_frame_reader_init(&r, 4096);
		CHECK_EQ(relay_frame_feed(&r, buf, cut, &f), cut);
		if (cut < n) {
			CHECK_EQ(f.event, RELAY_FRAME_NONE);
			CHECK_EQ(relay_frame_feed(&r, buf + cut, n - cut, &f), n - cut);
		}
		CHECK_EQ(f.event, RELAY_FRAME_MESSAGE);
		CHECK_EQ(f.kind, RELAY_FRAME_TEXT);
		CHECK_EQ(f.len, sizeof payload - 1);
		CHECK(f.data && !memcmp(f.data, payload, sizeof payload - 1));
		relay_frame_reader_free(&r);
	}
}

static void frame_reader_returns_each_of_several_messages_in_one_buffer_in_turn(void)
{
	static const char *const payloads[] = { "first", "", "the third one" };
	static const uint8_t kinds[] = { RELAY_FRAME_TEXT, RELAY_FRAME_BINARY, RELAY_FRAME_TEXT };
	uint8_t buf[128];
	size_t n = 0, off = 0, got = 0;
	struct relay_frame_reader r;
	struct relay_frame f;

	for (size_t i = 0; i < 3; i++)
		put_frame(buf, &n, kinds[i], payloads[i], (uint32_t)strlen(payloads[i]));
	relay_frame_reader_init(&r, 4096);
	while (off < n) {
		long used = relay_frame_feed(&r, buf + off, n - off, &f);
		CHECK(used > 0);
		if (used <= 0)
			break;
		off += (size_t)used;
		CHECK_EQ(f.event, RELAY_FRAME_MESSAGE);
		if (f.event != RELAY_FRAME_MESSAGE || got >= 3)
			break;
		/* One frame per call: the reader stops right after it. */
		CHECK_EQ(used, RELAY_FRAME_HEADER + strlen(payloads[got]));
		CHECK_EQ(f.kind, kinds[got]);
		CHECK_EQ(f.len, strlen(payloads[got]));
		CHECK(!f.len || !memcmp(f.data, payloads[got], f.len));
		got++;
	}
	CHECK_EQ(got, 3);
	CHECK_EQ(off, n);
	relay_frame_reader_free(&r);
}

static void frame_reader_delivers_a_zero_length_payload_as_a_message(void)
{
	uint8_t buf[32];
	size_t n = 0;
	struct relay_frame_reader r;
	struct relay_frame f;

	put_frame(buf, &n, RELAY_FRAME_TEXT, NULL, 0);
	put_frame(buf, &n, RELAY_FRAME_TEXT, "x", 1);
	relay_frame_reader_init(&r, 4096);
	CHECK_EQ(relay_frame_feed(&r, buf, n, &f), RELAY_FRAME_HEADER);
	CHECK_EQ(f.event, RELAY_FRAME_MESSAGE);
	CHECK_EQ(f.kind, RELAY_FRAME_TEXT);
	CHECK_EQ(f.len, 0);
	/* and the frame after it is intact */
	CHECK_EQ(relay_frame_feed(&r, buf + RELAY_FRAME_HEADER, n - RELAY_FRAME_HEADER, &f),
		 RELAY_FRAME_HEADER + 1);
	CHECK_EQ(f.event, RELAY_FRAME_MESSAGE);
	CHECK_EQ(f.len, 1);
	CHECK(f.data && f.data[0] == 'x');
	relay_frame_reader_free(&r);
}

static void frame_reader_accepts_a_payload_of_exactly_max_payload(void)
{
	enum { MAX = 100 };
	uint8_t payload[MAX], buf[RELAY_FRAME_HEADER + MAX];
	size_t n = 0;
	struct relay_frame_reader r;
	struct relay_frame f;

	for (size_t i = 0; i < MAX; i++)
		payload[i] = (uint8_t)(i * 7);
	put_frame(buf, &n, RELAY_FRAME_BINARY, payload, MAX);
	relay_frame_reader_init(&r, MAX);
	CHECK_EQ(relay_frame_feed(&r, buf, n, &f), n);
	CHECK_EQ(f.event, RELAY_FRAME_MESSAGE);
	CHECK_EQ(f.len, MAX);
	CHECK(f.data && !memcmp(f.data, payload, MAX));
	relay_frame_reader_free(&r);
}

static void frame_reader_reports_max_payload_plus_one_as_too_large_and_skips_it(void)
{
	enum { MAX = 100 };
	uint8_t payload[MAX + 1], buf[2 * (RELAY_FRAME_HEADER + MAX + 1)];
	size_t n = 0;
	struct relay_frame_reader r;
	struct relay_frame f;

	memset(payload, 'A', sizeof payload);
	put_frame(buf, &n, RELAY_FRAME_TEXT, payload, MAX + 1);
	put_frame(buf, &n, RELAY_FRAME_TEXT, "next", 4);
	relay_frame_reader_init(&r, MAX);
	/* The header alone is consumed: the event comes before the payload. */
	CHECK_EQ(relay_frame_feed(&r, buf, n, &f), RELAY_FRAME_HEADER);
	CHECK_EQ(f.event, RELAY_FRAME_TOO_LARGE);
	CHECK_EQ(f.kind, RELAY_FRAME_TEXT);
	CHECK_EQ(f.len, MAX + 1);
	/* The rest: the oversize payload is skipped and the next frame parses. */
	CHECK_EQ(relay_frame_feed(&r, buf + RELAY_FRAME_HEADER, n - RELAY_FRAME_HEADER, &f),
		 n - RELAY_FRAME_HEADER);
	CHECK_EQ(f.event, RELAY_FRAME_MESSAGE);
	CHECK_EQ(f.len, 4);
	CHECK(f.data && !memcmp(f.data, "next", 4));
	relay_frame_reader_free(&r);
}

static void frame_reader_skips_an_oversize_payload_that_arrives_in_pieces(void)
{
	enum { MAX = 16, BIG = 1000 };
	uint8_t *buf = malloc(2 * RELAY_FRAME_HEADER + BIG + 3);
	uint8_t payload[BIG];
	size_t n = 0;

	memset(payload, 0xEE, sizeof payload);
	put_frame(buf, &n, RELAY_FRAME_BINARY, payload, BIG);
	put_frame(buf, &n, RELAY_FRAME_TEXT, "ok!", 3);
	/* piece sizes 1 (byte by byte), 3 (crosses every boundary), 64 */
	static const size_t pieces[] = { 1, 3, 64 };
	for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
		struct relay_frame_reader r;
		struct relay_frame f;
		int too_large = 0, messages = 0;
		size_t off = 0;

		relay_frame_reader_init(&r, MAX);
		while (off < n) {
			size_t chunk = n - off < pieces[p] ? n - off : pieces[p];
			size_t fed = 0;
			/* re-feed the unconsumed part of the chunk, as a transport does */
			while (fed < chunk) {
				long used = relay_frame_feed(&r, buf + off + fed, chunk - fed, &f);
				CHECK(used > 0);
				if (used <= 0)
					goto next;
				fed += (size_t)used;
				if (f.event == RELAY_FRAME_TOO_LARGE) {
					too_large++;
					CHECK_EQ(f.len, BIG);
				} else if (f.event == RELAY_FRAME_MESSAGE) {
					messages++;
					CHECK_EQ(f.kind, RELAY_FRAME_TEXT);
					CHECK_EQ(f.len, 3);
					CHECK(!memcmp(f.data, "ok!", 3));
				} else {
					CHECK_EQ(f.event, RELAY_FRAME_NONE);
				}
			}
			off += chunk;
		}
next:
		CHECK_EQ(too_large, 1);
		CHECK_EQ(messages, 1);
		relay_frame_reader_free(&r);
	}
	free(buf);
}

static void frame_reader_reports_bad_kind_0_3_255_and_then_consumes_nothing(void)
{
	static const uint8_t bad[] = { 0, 3, 255 };
	for (size_t i = 0; i < sizeof bad; i++) {
		uint8_t buf[64];
		size_t n = 0;
		struct relay_frame_reader r;
		struct relay_frame f;

		put_frame(buf, &n, bad[i], "abc", 3);
		put_frame(buf, &n, RELAY_FRAME_TEXT, "{}", 2);
		relay_frame_reader_init(&r, 4096);
		CHECK_EQ(relay_frame_feed(&r, buf, n, &f), RELAY_FRAME_HEADER);
		CHECK_EQ(f.event, RELAY_FRAME_BAD_KIND);
		CHECK_EQ(f.kind, bad[i]);
		/* the stream is unusable: neither the rest nor a valid frame is read */
		CHECK_EQ(relay_frame_feed(&r, buf + RELAY_FRAME_HEADER, n - RELAY_FRAME_HEADER, &f), 0);
		CHECK_EQ(f.event, RELAY_FRAME_NONE);
		CHECK_EQ(relay_frame_feed(&r, buf + 8, n - 8, &f), 0);
		CHECK_EQ(f.event, RELAY_FRAME_NONE);
		relay_frame_reader_free(&r);
	}
}

static void frame_reader_passes_all_256_byte_values_of_a_binary_payload_intact(void)
{
	uint8_t payload[256], buf[RELAY_FRAME_HEADER + 256];
	size_t n = 0;
	struct relay_frame_reader r;
	struct relay_frame f;

	for (int i = 0; i < 256; i++)
		payload[i] = (uint8_t)(255 - i);
	put_frame(buf, &n, RELAY_FRAME_BINARY, payload, 256);
	relay_frame_reader_init(&r, 4096);
	CHECK_EQ(relay_frame_feed(&r, buf, n, &f), n);
	CHECK_EQ(f.event, RELAY_FRAME_MESSAGE);
	CHECK_EQ(f.kind, RELAY_FRAME_BINARY);
	CHECK_EQ(f.len, 256);
	CHECK(f.data && !memcmp(f.data, payload, 256));
	relay_frame_reader_free(&r);
}

static void frame_reader_grows_its_buffer_for_a_longer_second_message(void)
{
	enum { SMALL = 4, LARGE = 3000 };
	uint8_t *buf = malloc(2 * RELAY_FRAME_HEADER + SMALL + LARGE);
	uint8_t *large = malloc(LARGE);
	size_t n = 0;
	struct relay_frame_reader r;
	struct relay_frame f;

	for (size_t i = 0; i < LARGE; i++)
		large[i] = (uint8_t)(i ^ (i >> 8));
	put_frame(buf, &n, RELAY_FRAME_BINARY, "tiny", SMALL);
	put_frame(buf, &n, RELAY_FRAME_BINARY, large, LARGE);
	relay_frame_reader_init(&r, 4096);
	CHECK_EQ(relay_frame_feed(&r, buf, n, &f), RELAY_FRAME_HEADER + SMALL);
	CHECK_EQ(f.len, SMALL);
	CHECK_EQ(relay_frame_feed(&r, buf + RELAY_FRAME_HEADER + SMALL,
				  n - RELAY_FRAME_HEADER - SMALL, &f),
		 RELAY_FRAME_HEADER + LARGE);
	CHECK_EQ(f.event, RELAY_FRAME_MESSAGE);
	CHECK_EQ(f.len, LARGE);
	CHECK(f.data && !memcmp(f.data, large, LARGE));
	relay_frame_reader_free(&r);
	free(large);
	free(buf);
}

static void frame_reader_reports_a_4_gib_announcement_as_too_large(void)
{
	uint8_t h[RELAY_FRAME_HEADER];
	struct relay_frame_reader r;
	struct relay_frame f;

	relay_frame_header_write(h, RELAY_FRAME_TEXT, 0xFFFFFFFFu);
	relay_frame_reader_init(&r, 1 << 20);
	CHECK_EQ(relay_frame_feed(&r, h, sizeof h, &f), RELAY_FRAME_HEADER);
	CHECK_EQ(f.event, RELAY_FRAME_TOO_LARGE);
	CHECK_EQ(f.len, 0xFFFFFFFFu);
	relay_frame_reader_free(&r);
}

int main(void)
{
	RUN(frame_header_write_encodes_the_length_big_endian_then_the_kind);
	RUN(frame_reader_reads_back_a_header_written_by_frame_header_write);
	RUN(frame_reader_reassembles_a_message_fed_one_byte_at_a_time);
	RUN(frame_reader_reassembles_a_message_split_at_every_byte_boundary);
	RUN(frame_reader_returns_each_of_several_messages_in_one_buffer_in_turn);
	RUN(frame_reader_delivers_a_zero_length_payload_as_a_message);
	RUN(frame_reader_accepts_a_payload_of_exactly_max_payload);
	RUN(frame_reader_reports_max_payload_plus_one_as_too_large_and_skips_it);
	RUN(frame_reader_skips_an_oversize_payload_that_arrives_in_pieces);
	RUN(frame_reader_reports_bad_kind_0_3_255_and_then_consumes_nothing);
	RUN(frame_reader_passes_all_256_byte_values_of_a_binary_payload_intact);
	RUN(frame_reader_grows_its_buffer_for_a_longer_second_message);
	RUN(frame_reader_reports_a_4_gib_announcement_as_too_large);
	return check_summary();
}
