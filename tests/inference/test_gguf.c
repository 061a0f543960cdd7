/*
 * test_gguf.c: the GGUF reader on files from the project's writer: every
 * value and tensor read back, and malformed files (each a small edit of a
 * valid one) refused with a message naming the field and where.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/check.h"
#include "internal.h"

static uint8_t *small_file(uint32_t version, uint32_t alignment, size_t *len)
{
	struct inf_gguf_writer *w = inf_gguf_writer_new(version, alignment);
	inf_gguf_w_str(w, "general.architecture", "llama");
	inf_gguf_w_u32(w, "test.u32", 4000000000u);
	inf_gguf_w_i32(w, "test.i32", -5);
	inf_gguf_w_f32(w, "test.f32", 0.25f);
	inf_gguf_w_bool(w, "test.bool", true);
	int32_t arr[3] = { 1, -2, 3 };
	inf_gguf_w_arr(w, "test.arr", INF_GGUF_I32, arr, 3);
	const char *strs[] = { "a", "", "xyz" };
	inf_gguf_w_arr_str(w, "test.strs", strs, 3);
	float a[64], b[32 * 3];
	for (int i = 0; i < 64; i++)
		a[i] = (float)i;
	for (int i = 0; i < 96; i++)
		b[i] = (float)i / 8;
	uint64_t ne_a[2] = { 8, 8 }, ne_b[2] = { 32, 3 };
	inf_gguf_w_tensor_f32(w, "a", INF_TYPE_F32, 2, ne_a, a);
	inf_gguf_w_tensor_f32(w, "b", INF_TYPE_Q8_0, 2, ne_b, b);
	uint8_t *p = inf_gguf_writer_finish(w, len);
	inf_gguf_writer_free(w);
	return p;
}

static void writer_output_reads_back_whole(void)
{
	for (uint32_t version = 2; version <= 3; version++) {
		for (uint32_t al = 0; al <= 64; al += 64) {
			size_t len;
			uint8_t *p = small_file(version, al, &len);
			CHECK(p != NULL);
			struct inf_gguf *g;
			char err[INF_ERR_MAX] = "";
			CHECK(inf_gguf_parse(p, len, &g, err) == 0);
			if (!g) {
				fprintf(stderr, "%s\n", err);
				free(p);
				continue;
			}
			CHECK_EQ(g->version, version);
			CHECK_EQ(g->alignment, al ? al : 32);
			CHECK_EQ(g->data_offset % g->alignment, 0);
			uint32_t u;
			double f;
			bool bo;
			struct inf_gguf_str s;
			CHECK(inf_gguf_get_u32(g, "test.u32", &u, err) == 0 && u == 4000000000u);
			CHECK(inf_gguf_get_u32(g, "test.i32", &u, err) == INF_EINVAL);
			CHECK_CONTAINS(err, "test.i32");
			CHECK(inf_gguf_get_f64(g, "test.i32", &f, err) == 0 && f == -5);
			CHECK(inf_gguf_get_f64(g, "test.f32", &f, err) == 0 && f == 0.25);
			CHECK(inf_gguf_get_bool(g, "test.bool", &bo, err) == 0 && bo);
			CHECK(inf_gguf_get_str(g, "general.architecture", &s, err) == 0 && s.len == 5 &&
			      !memcmp(s.p, "llama", 5));
			CHECK(inf_gguf_get_str(g, "test.u32", &s, err) == INF_EINVAL);
			CHECK(inf_gguf_get_u32(g, "absent", &u, err) == 1);
			const struct inf_gguf_kv *kv = inf_gguf_find(g, "test.arr");
			CHECK(kv && kv->arr_type == INF_GGUF_I32 && kv->arr_n == 3);
			if (kv) {
				int32_t back[3];
				memcpy(back, kv->arr_data, sizeof back);
				CHECK(back[0] == 1 && back[1] == -2 && back[2] == 3);
			}
			kv = inf_gguf_find(g, "test.strs");
			CHECK(kv && kv->arr_n == 3 && kv->arr_strs[1].len == 0 && kv->arr_strs[2].len == 3 &&
			      !memcmp(kv->arr_strs[2].p, "xyz", 3));
			const struct inf_gguf_tensor *t = inf_gguf_tensor(g, "a");
			CHECK(t && t->type == INF_TYPE_F32 && t->n_dims == 2 && t->ne[0] == 8 && t->n_bytes == 256);
			if (t) {
				float v;
				memcpy(&v, (const uint8_t *)t->data + 4 * 63, 4);
				CHECK(v == 63.0f);
				CHECK_EQ(((const uint8_t *)t->data - p) % g->alignment, 0);
			}
			t = inf_gguf_tensor(g, "b");
			CHECK(t && t->type == INF_TYPE_Q8_0 && t->n_bytes == 3 * 34);
			if (t) {
				float y[96];
				inf_dequantize(t->type, t->data, y, 96);
				CHECK(y[95] > 11.8f && y[95] < 11.95f);
			}
			inf_gguf_free(g);
			free(p);
		}
	}
}

/* Where tensor info `name` ends in p (its n_dims field). */
static uint8_t *tensor_info(uint8_t *p, size_t len, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 8; i + n + 8 < len; i++)
		if (p[i - 8] == n && !memcmp(p + i, name, n) && p[i - 7] == 0)
			return p + i + n;
	return NULL;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void expect_error(uint8_t *p, size_t len, int code, const char *needle, const char *needle2)
{
	struct inf_gguf *g = NULL;
	char err[INF_ERR_MAX] = "";
	int rc = inf_gguf_parse(p, len, &g, err);
	CHECK_EQ(rc, code);
	CHECK(g == NULL);
	CHECK_CONTAINS(err, needle);
	if (needle2)
		CHECK_CONTAINS(err, needle2);
	inf_gguf_free(g);
}

static void every_truncation_is_an_error_saying_where(void)
{
	size_t len;
	uint8_t *p = small_file(3, 0, &len);
	struct inf_gguf *g;
	/* every prefix but the whole file; past the tensor infos, the data
	 * check names the tensor that runs out */
	for (size_t n = 0; n < len; n++) {
		uint8_t *q = malloc(n + 1);
		memcpy(q, p, n);
		char err[INF_ERR_MAX] = "";
		int rc = inf_gguf_parse(q, n, &g, err);
		CHECK(rc == INF_EFORMAT);
		if (rc == 0)
			inf_gguf_free(g);
		if (!strstr(err, "truncated") && !strstr(err, "past the end") && !strstr(err, "the file size")) {
			fprintf(stderr, "prefix %zu: %s\n", n, err);
			CHECK(0);
		}
		free(q);
	}
	free(p);
}

static void malformed_headers_are_named(void)
{
	size_t len;
	uint8_t *p = small_file(3, 0, &len);
	uint8_t *q = malloc(len);

	memcpy(q, p, len);
	q[0] = 'X';
	expect_error(q, len, INF_EFORMAT, "not a GGUF file", "byte 0");

	memcpy(q, p, len);
	q[4] = 1;
	expect_error(q, len, INF_EUNSUPPORTED, "version 1", "byte 4");
	q[4] = 4;
	expect_error(q, len, INF_EFORMAT, "version 4", NULL);

	memcpy(q, p, len);
	put64(q + 8, 1ull << 40);
	expect_error(q, len, INF_EFORMAT, "tensor count", "byte 8");

	memcpy(q, p, len);
	put64(q + 16, 1ull << 62);
	expect_error(q, len, INF_EFORMAT, "metadata count", "byte 16");

	/* the first key's length: 2^40 */
	memcpy(q, p, len);
	put64(q + 24, 1ull << 40);
	expect_error(q, len, INF_EFORMAT, "key of metadata entry 0", "above the limit");

	/* the first value's type (after "general.architecture") */
	memcpy(q, p, len);
	q[24 + 8 + 20] = 42;
	expect_error(q, len, INF_EFORMAT, "general.architecture", "unknown value type 42");
	free(q);
	free(p);
}

static void malformed_values_are_named(void)
{
	struct inf_gguf_writer *w = inf_gguf_writer_new(3, 0);
	inf_gguf_w_bool(w, "flag", true);
	size_t len;
	uint8_t *p = inf_gguf_writer_finish(w, &len);
	inf_gguf_writer_free(w);
	p[len - 1] = 2;
	expect_error(p, len, INF_EFORMAT, "flag", "not 0 or 1");
	free(p);

	w = inf_gguf_writer_new(3, 0);
	const char *s[] = { "x" };
	inf_gguf_w_arr_str(w, "list", s, 1);
	p = inf_gguf_writer_finish(w, &len);
	inf_gguf_writer_free(w);
	put64(p + len - 1 - 8 - 8, 1ull << 27);   /* item count: far more than the bytes */
	expect_error(p, len, INF_EFORMAT, "list", "truncated");
	put64(p + len - 1 - 8 - 8, 1ull << 40);
	expect_error(p, len, INF_EFORMAT, "list", "above the limit");
	put64(p + len - 1 - 8 - 8, 1);
	p[len - 1 - 8 - 8 - 4] = INF_GGUF_ARRAY;  /* nested */
	expect_error(p, len, INF_EFORMAT, "list", "nested");
	free(p);

	w = inf_gguf_writer_new(3, 0);
	inf_gguf_w_u32(w, "k", 1);
	inf_gguf_w_u32(w, "k", 2);
	p = inf_gguf_writer_finish(w, &len);
	inf_gguf_writer_free(w);
	expect_error(p, len, INF_EFORMAT, "'k' appears twice", NULL);
	free(p);

	w = inf_gguf_writer_new(3, 0);
	inf_gguf_w_u32(w, "general.alignment", 48);
	p = inf_gguf_writer_finish(w, &len);
	inf_gguf_writer_free(w);
	expect_error(p, len, INF_EFORMAT, "general.alignment", "power of two");
	free(p);
}

static void malformed_tensors_are_named(void)
{
	size_t len;
	uint8_t *p = small_file(3, 0, &len);
	uint8_t *q = malloc(len), *t;

	memcpy(q, p, len);
	t = tensor_info(q, len, "b");
	CHECK(t != NULL);
	t[0] = 5;                       /* n_dims */
	expect_error(q, len, INF_EFORMAT, "tensor 'b'", "5 dimensions");

	memcpy(q, p, len);
	t = tensor_info(q, len, "b");
	put64(t + 4 + 8, 0);            /* second dimension 0 */
	expect_error(q, len, INF_EFORMAT, "tensor 'b'", "dimension 1 is 0");

	memcpy(q, p, len);
	t = tensor_info(q, len, "b");
	put64(t + 4, 48);               /* a row of 48 is not whole Q8_0 blocks */
	expect_error(q, len, INF_EFORMAT, "tensor 'b'", "multiple of Q8_0's block of 32");

	memcpy(q, p, len);
	t = tensor_info(q, len, "b");
	t[4 + 16] = 99;                 /* type */
	expect_error(q, len, INF_EUNSUPPORTED, "tensor 'b'", "unknown tensor type 99");

	memcpy(q, p, len);
	t = tensor_info(q, len, "b");
	put64(t + 4 + 16 + 4, 8);       /* offset not aligned */
	expect_error(q, len, INF_EFORMAT, "tensor 'b'", "not a multiple of the alignment 32");

	memcpy(q, p, len);
	t = tensor_info(q, len, "b");
	put64(t + 4 + 16 + 4, 0);       /* on top of 'a' */
	expect_error(q, len, INF_EFORMAT, "overlap", "'a'");

	memcpy(q, p, len);
	t = tensor_info(q, len, "b");
	put64(t + 4 + 16 + 4, 1ull << 60);
	expect_error(q, len, INF_EFORMAT, "tensor 'b'", "past the end");

	memcpy(q, p, len);
	t = tensor_info(q, len, "b");
	t[-1] = 'a';                    /* rename b to a */
	expect_error(q, len, INF_EFORMAT, "tensor name 'a' appears twice", NULL);

	memcpy(q, p, len);
	t = tensor_info(q, len, "b");
	put64(t - 1 - 8, 200);          /* name length */
	expect_error(q, len, INF_EFORMAT, "tensor 1", "name of 200 bytes");
	free(q);
	free(p);
}

static void file_errors_name_the_path(void)
{
	struct inf_gguf *g;
	char err[INF_ERR_MAX];
	CHECK(inf_gguf_open("/nonexistent/model.gguf", &g, err) == INF_EIO);
	CHECK_CONTAINS(err, "/nonexistent/model.gguf");
	CHECK(inf_gguf_open("/", &g, err) == INF_EIO);
	CHECK_CONTAINS(err, "not a regular file");
	char path[] = "/tmp/tether-gguf-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, "GGUF\x03\0\0\0", 8) == 8);
	close(fd);
	CHECK(inf_gguf_open(path, &g, err) == INF_EFORMAT);
	CHECK_CONTAINS(err, path);
	CHECK_CONTAINS(err, "tensor count");
	unlink(path);
}

int main(void)
{
	RUN(writer_output_reads_back_whole);
	RUN(every_truncation_is_an_error_saying_where);
	RUN(malformed_headers_are_named);
	RUN(malformed_values_are_named);
	RUN(malformed_tensors_are_named);
	RUN(file_errors_name_the_path);
	return check_summary();
}
