/*
 * test_quant.c: half-precision conversions, dequantization of hand-worked
 * blocks of every type, the reference quantizers' error bounds, and every
 * dot-product kernel (portable, AVX2, AVX-512 where the CPU has them)
 * against a double-precision dot of the dequantized operands.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "internal.h"
#include "kernels.h"

static void fp16_conversions_are_exact(void)
{
	CHECK(inf_fp16_to_fp32(0x3c00) == 1.0f);
	CHECK(inf_fp16_to_fp32(0xc000) == -2.0f);
	CHECK(inf_fp16_to_fp32(0x7bff) == 65504.0f);
	CHECK(inf_fp16_to_fp32(0x0001) == 0x1p-24f);
	CHECK(inf_fp16_to_fp32(0x03ff) == 1023 * 0x1p-24f);
	CHECK(inf_fp16_to_fp32(0x3555) == 0x1.554p-2f);
	CHECK(isinf(inf_fp16_to_fp32(0x7c00)));
	CHECK_EQ(inf_fp32_to_fp16(1.0f), 0x3c00);
	CHECK_EQ(inf_fp32_to_fp16(-2.0f), 0xc000);
	CHECK_EQ(inf_fp32_to_fp16(65504.0f), 0x7bff);
	CHECK_EQ(inf_fp32_to_fp16(1e6f), 0x7c00);
	CHECK_EQ(inf_fp32_to_fp16(0x1p-24f), 0x0001);
	CHECK_EQ(inf_fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00);          /* tie to even */
	CHECK_EQ(inf_fp32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3c02);      /* tie to even, up */
	CHECK_EQ(inf_fp32_to_fp16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
	for (uint32_t h = 0; h < 0x7c00; h++)                         /* every finite half round-trips */
		if (inf_fp32_to_fp16(inf_fp16_to_fp32((uint16_t)h)) != h) {
			CHECK_EQ(inf_fp32_to_fp16(inf_fp16_to_fp32((uint16_t)h)), h);
			break;
		}
	CHECK(inf_bf16_to_fp32(0x3f80) == 1.0f);
	CHECK(inf_bf16_to_fp32(0xc040) == -3.0f);
	CHECK_EQ(inf_fp32_to_bf16(1.0f), 0x3f80);
	CHECK_EQ(inf_fp32_to_bf16(1.0f + 0x1p-8f), 0x3f80);           /* tie to even */
	CHECK_EQ(inf_fp32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
}

static void q8_0_block_dequantizes_by_hand(void)
{
	struct inf_block_q8_0 b = { .d = 0x3800 };   /* 0.5 */
	b.qs[0] = 3;
	b.qs[1] = -7;
	b.qs[31] = -128;
	float y[32];
	CHECK(inf_dequantize(INF_TYPE_Q8_0, &b, y, 32) == 0);
	CHECK(y[0] == 1.5f);
	CHECK(y[1] == -3.5f);
	CHECK(y[2] == 0.0f);
	CHECK(y[31] == -64.0f);
}

static void q4_0_block_dequantizes_by_hand(void)
{
	struct inf_block_q4_0 b = { .d = 0x4000 };   /* 2.0 */
	memset(b.qs, 0x88, sizeof b.qs);             /* all zero after -8 */
	b.qs[0] = 0x1f;                              /* x[0] = 15, x[16] = 1 */
	b.qs[15] = 0x08 | 0x00;                      /* x[15] = 8, x[31] = 0 */
	float y[32];
	CHECK(inf_dequantize(INF_TYPE_Q4_0, &b, y, 32) == 0);
	CHECK(y[0] == 14.0f);     /* (15 - 8) * 2 */
	CHECK(y[16] == -14.0f);   /* (1 - 8) * 2 */
	CHECK(y[1] == 0.0f);
	CHECK(y[15] == 0.0f);
	CHECK(y[31] == -16.0f);   /* (0 - 8) * 2 */
}

static void q4_k_block_dequantizes_by_hand(void)
{
	struct inf_block_q4_k b;
	memset(&b, 0, sizeof b);
	b.d = 0x3c00;      /* 1.0 */
	b.dmin = 0x3800;   /* 0.5 */
	b.scales[0] = 2 | (1 << 6);   /* sub-block 0 scale 2; top bits of sub-block 4's scale = 1 */
	b.scales[4] = 3;              /* sub-block 0 min 3 */
	b.scales[1] = 1;              /* sub-block 1 scale 1, min 0 */
	b.scales[8] = 0x23;           /* sub-block 4: scale 3 + 16 = 19, min 2 */
	b.qs[0] = 0x75;               /* y[0] low nibble 5, y[32] high nibble 7 */
	b.qs[64] = 0x04;              /* y[128] = 4 (sub-block 4), y[160] = 0 (sub-block 5) */
	float y[256];
	CHECK(inf_dequantize(INF_TYPE_Q4_K, &b, y, 256) == 0);
	CHECK(y[0] == 8.5f);          /* 1*2*5 - 0.5*3 */
	CHECK(y[1] == -1.5f);         /* 1*2*0 - 0.5*3 */
	CHECK(y[32] == 7.0f);         /* 1*1*7 - 0 */
	CHECK(y[128] == 75.0f);       /* 1*19*4 - 0.5*2 */
	CHECK(y[129] == -1.0f);
	CHECK(y[160] == 0.0f);        /* sub-block 5: scale 0, min 0 */
}

static void q6_k_block_dequantizes_by_hand(void)
{
	struct inf_block_q6_k b;
	memset(&b, 0, sizeof b);
	b.d = 0x3800;        /* 0.5 */
	b.scales[0] = 2;     /* y[0..15] */
	b.scales[2] = -1;    /* y[32..47] */
	b.scales[4] = 1;     /* y[64..79] */
	b.scales[8] = 4;     /* y[128..143] */
	b.ql[0] = 0x21;      /* y[0] low 4 bits 1, y[64] low 4 bits 2 */
	b.qh[0] = 0x03;      /* y[0] high bits 3 -> 49; y[32], y[64], y[96] high bits 0 */
	float y[256];
	CHECK(inf_dequantize(INF_TYPE_Q6_K, &b, y, 256) == 0);
	CHECK(y[0] == 17.0f);      /* 0.5*2*(49-32) */
	CHECK(y[32] == 16.0f);     /* 0.5*-1*(0-32) */
	CHECK(y[64] == -15.0f);    /* 0.5*1*(2-32) */
	CHECK(y[128] == -64.0f);   /* 0.5*4*(0-32) */
	CHECK(y[16] == 0.0f);      /* scale 1 is 0 */
}

static uint64_t rng = 88172645463325252ull;
static float frand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((rng >> 11) * 0x1p-53 * 2 - 1);
}

static const uint32_t types[] = { INF_TYPE_F32, INF_TYPE_F16, INF_TYPE_BF16, INF_TYPE_Q8_0,
				  INF_TYPE_Q4_0, INF_TYPE_Q4_K, INF_TYPE_Q6_K };

/* Worst error of quantize+dequantize relative to the data's largest value. */
static void quantizers_stay_within_their_step(void)
{
	static const double bound[] = { 0, 1.0 / 1024, 1.0 / 128, 1.0 / 127, 1.0 / 8, 1.0 / 15 + 1.0 / 63,
					1.0 / 31 + 1.0 / 127 };
	enum { N = 1024 };
	float x[N], y[N];
	uint8_t q[N * 4];
	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
		for (int i = 0; i < N; i++)
			x[i] = frand() * (1 + (i % 97) / 10.0f);
		CHECK(inf_quantize(types[t], x, q, N) == 0);
		CHECK(inf_dequantize(types[t], q, y, N) == 0);
		double worst = 0, amax = 0;
		for (int i = 0; i < N; i++) {
			worst = fmax(worst, fabs((double)x[i] - y[i]));
			amax = fmax(amax, fabs(x[i]));
		}
		if (worst > bound[t] * amax + 1e-7) {
			fprintf(stderr, "%s: error %g above %g\n", inf_type_name(types[t]), worst, bound[t] * amax);
			CHECK(0);
		}
	}
}

/* Each kernel against a double dot of the dequantized weight row and the
 * dequantized activation row: only float summation order may differ. */
static void dot_kernels_match_double_reference_on_every_isa(void)
{
	enum { N = 1024 };
	static float w[N], x[N], wd[N], xd[N];
	static uint8_t wq[N * 4];
	static uint8_t xq[N * 4 + 256];
	for (int isa = INF_ISA_PORTABLE; isa <= INF_ISA_AVX512; isa++) {
		const struct inf_kernels *k = inf_kernels_get((enum inf_isa)isa);
		if (!k) {
			printf("     (%s not supported by this CPU: skipped)\n", inf_isa_name((enum inf_isa)isa));
			continue;
		}
		CHECK(k->isa == (enum inf_isa)isa);
		for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
			for (int rep = 0; rep < 20; rep++) {
				uint32_t n = types[t] == INF_TYPE_Q4_K || types[t] == INF_TYPE_Q6_K ? 256u * (1 + rep % 4)
									       : 32u * (1 + rep);
				for (uint32_t i = 0; i < n; i++) {
					w[i] = frand() * (rep % 3 ? 1.0f : 50.0f);
					x[i] = frand() * (1 + (float)(i % 5));
				}
				CHECK(inf_quantize(types[t], w, wq, n) == 0);
				inf_dequantize(types[t], wq, wd, n);
				enum inf_act_kind kind = inf_act_kind(types[t]);
				if (kind == INF_ACT_Q8) {
					k->quantize_q8(x, (struct inf_act_q8 *)xq, n);
					for (uint32_t b = 0; b < n / 32; b++)
						for (int j = 0; j < 32; j++)
							xd[32 * b + j] = ((struct inf_act_q8 *)xq)[b].d * ((struct inf_act_q8 *)xq)[b].qs[j];
				} else if (kind == INF_ACT_Q8K) {
					k->quantize_q8k(x, (struct inf_act_q8k *)xq, n);
					for (uint32_t b = 0; b < n / 256; b++) {
						const struct inf_act_q8k *a = (struct inf_act_q8k *)xq + b;
						for (int g = 0; g < 16; g++) {
							int s = 0;
							for (int j = 0; j < 16; j++)
								s += a->qs[16 * g + j];
							CHECK_EQ(a->bsums[g], s);
						}
						for (int j = 0; j < 256; j++)
							xd[256 * b + j] = a->d * a->qs[j];
					}
				} else {
					memcpy(xq, x, n * sizeof(float));
					memcpy(xd, x, n * sizeof(float));
				}
				double ref = 0, mag = 0, exact = 0;
				for (uint32_t i = 0; i < n; i++) {
					ref += (double)wd[i] * xd[i];
					mag += fabs((double)wd[i] * xd[i]);
					exact += (double)w[i] * x[i];
				}
				float got = inf_dot(k, types[t], wq, xq, n);
				if (fabs(got - ref) > 1e-5 * mag + 1e-6) {
					fprintf(stderr, "%s %s n=%u: %.9g vs %.9g (mag %g)\n", inf_isa_name(k->isa),
						inf_type_name(types[t]), n, got, ref, mag);
					CHECK(0);
				}
				/* and the whole thing, quantization included, near the exact dot */
				if (fabs(got - exact) > 0.05 * mag + 1e-6) {
					fprintf(stderr, "%s %s n=%u: %.9g vs exact %.9g\n", inf_isa_name(k->isa),
						inf_type_name(types[t]), n, got, exact);
					CHECK(0);
				}
			}
		}
	}
}

/* The four-token kernel gives the four single dots (up to summation order). */
static void dot4_equals_four_dots(void)
{
	enum { N = 512 };
	static float w[N], x[4][N];
	static uint8_t wq[N * 2];
	static struct inf_act_q8 xq[4][N / 32];
	static const uint32_t t4[] = { INF_TYPE_Q8_0, INF_TYPE_Q4_0 };
	int tested = 0;
	for (int isa = INF_ISA_PORTABLE; isa <= INF_ISA_AVX512; isa++) {
		const struct inf_kernels *k = inf_kernels_get((enum inf_isa)isa);
		if (!k || !k->dot4_q8)
			continue;
		for (size_t t = 0; t < 2; t++)
			for (uint32_t n = 32; n <= N; n += 96) {
				for (uint32_t i = 0; i < n; i++) {
					w[i] = frand();
					for (int j = 0; j < 4; j++)
						x[j][i] = frand() * (j + 1);
				}
				inf_quantize(t4[t], w, wq, n);
				for (int j = 0; j < 4; j++)
					k->quantize_q8(x[j], xq[j], n);
				float out[4];
				k->dot4_q8(wq, t4[t], (const uint8_t *)xq[0], sizeof xq[0], n, out);
				for (int j = 0; j < 4; j++) {
					float one = inf_dot(k, t4[t], wq, xq[j], n);
					CHECK(fabsf(out[j] - one) <= 1e-5f * (fabsf(one) + (float)n / 32));
				}
				tested++;
			}
	}
	/* the K types */
	static struct inf_act_q8k xk[4][N / 256];
	for (int isa = INF_ISA_PORTABLE; isa <= INF_ISA_AVX512; isa++) {
		const struct inf_kernels *k = inf_kernels_get((enum inf_isa)isa);
		if (!k || !k->dot4_q4_k || !k->dot4_q6_k)
			continue;
		for (int tk = 0; tk < 2; tk++)
			for (uint32_t n = 256; n <= N; n += 256) {
				for (uint32_t i = 0; i < n; i++) {
					w[i] = frand();
					for (int j = 0; j < 4; j++)
						x[j][i] = frand() * (j + 1);
				}
				uint32_t type = tk ? INF_TYPE_Q6_K : INF_TYPE_Q4_K;
				inf_quantize(type, w, wq, n);
				for (int j = 0; j < 4; j++)
					k->quantize_q8k(x[j], xk[j], n);
				float out[4];
				(tk ? k->dot4_q6_k : k->dot4_q4_k)(wq, (const uint8_t *)xk[0], sizeof xk[0], n, out);
				for (int j = 0; j < 4; j++) {
					float one = inf_dot(k, type, wq, xk[j], n);
					CHECK(fabsf(out[j] - one) <= 1e-5f * (fabsf(one) + (float)n / 32));
				}
				tested++;
			}
	}
	/* F16 against four float rows */
	static uint16_t wh[N + 5];
	static float xf[4][N + 5];
	for (int isa = INF_ISA_PORTABLE; isa <= INF_ISA_AVX512; isa++) {
		const struct inf_kernels *k = inf_kernels_get((enum inf_isa)isa);
		if (!k || !k->dot4_f16)
			continue;
		for (uint32_t n = 1; n <= N + 5; n += 37) {
			float mag = 0;
			for (uint32_t i = 0; i < n; i++) {
				w[i % N] = frand();
				wh[i] = inf_fp32_to_fp16(w[i % N]);
				for (int j = 0; j < 4; j++) {
					xf[j][i] = frand() * (j + 1);
					mag += fabsf(xf[j][i]);
				}
			}
			float out[4];
			k->dot4_f16(wh, (const uint8_t *)xf[0], sizeof xf[0], n, out);
			for (int j = 0; j < 4; j++) {
				float one = inf_dot(k, INF_TYPE_F16, wh, xf[j], n);
				CHECK(fabsf(out[j] - one) <= 1e-5f * mag);
			}
			tested++;
		}
	}
	if (!tested)
		printf("     (no ISA with a four-token kernel on this CPU: skipped)\n");
}

/* Packed Q4_K and its 16-row kernel give the plain dots (token tiles of 4
 * and 1), and the layout holds the scales and mins decoded. */
static void packed16_q4_k_equals_plain_dots(void)
{
	enum { ROWS = 32, N = 512, T = 7 };
	static float w[ROWS * N], x[T][N], y[T * ROWS];
	static uint8_t wq[ROWS * N], packed[ROWS * N];
	static struct inf_act_q8k xq[T][N / 256];
	const struct inf_kernels *plain = inf_kernels_get(INF_ISA_PORTABLE);
	const struct inf_kernels *k = inf_kernels_get(INF_ISA_AVX512);
	for (uint32_t i = 0; i < ROWS * N; i++)
		w[i] = frand() * (1 + (float)(i % 11)) + (i % 3 ? 0.5f : -0.25f);
	CHECK(inf_quantize(INF_TYPE_Q4_K, w, wq, (uint64_t)ROWS * N) == 0);
	size_t row_bytes = (size_t)inf_row_bytes(INF_TYPE_Q4_K, N), group = inf_packed_group_bytes(INF_TYPE_Q4_K, N);
	CHECK_EQ(group, 2u * 2368);
	inf_pack16(INF_TYPE_Q4_K, wq, ROWS, N, packed);
	/* row 19 (group 1, lane 3), super-block 1: d, sub-block 6's scale and min, qs byte 77 */
	const struct inf_block_q4_k *src = (const struct inf_block_q4_k *)(wq + 19 * row_bytes) + 1;
	const uint8_t *pb = packed + group + 2368;
	int sc, m;
	inf_q4k_scale_min(src->scales, 6, &sc, &m);
	CHECK(memcmp(pb + 2 * 3, &src->d, 2) == 0);
	CHECK(memcmp(pb + 32 + 2 * 3, &src->dmin, 2) == 0);
	CHECK_EQ(pb[64 + 16 * 6 + 3], sc);
	CHECK_EQ(pb[192 + 32 * 3 + 2 * 3 + 0], m);
	CHECK_EQ(pb[320 + 64 * (77 / 4) + 4 * 3 + 77 % 4], src->qs[77]);
	if (!k || !k->mm16_q4k) {
		printf("     (no packed Q4_K kernel on this CPU: layout checked only)\n");
		return;
	}
	for (int t = 0; t < T; t++) {
		for (uint32_t i = 0; i < N; i++)
			x[t][i] = frand() * (t + 1);
		plain->quantize_q8k(x[t], xq[t], N);
	}
	for (uint32_t n_tok = 1; n_tok <= T; n_tok += 3) {
		for (int g = 0; g < ROWS / 16; g++)
			k->mm16_q4k(packed + g * group, (const uint8_t *)xq[0], sizeof xq[0], n_tok, N, y + 16 * g, ROWS);
		for (uint32_t t = 0; t < n_tok; t++)
			for (int r = 0; r < ROWS; r++) {
				float one = inf_dot(plain, INF_TYPE_Q4_K, wq + r * row_bytes, xq[t], N);
				if (!(fabsf(y[t * ROWS + r] - one) <= 1e-5f * (fabsf(one) + 1) * N / 32)) {
					fprintf(stderr, "Q4_K packed row %d token %u/%u: %.9g vs %.9g\n", r, t, n_tok,
						y[t * ROWS + r], one);
					CHECK(0);
				}
			}
	}
}

/* Packed Q6_K and its 16-row kernel give the plain dots, and the layout
 * holds the scales and the 6-bit values where docs/inference.md says. */
static void packed16_q6_k_equals_plain_dots(void)
{
	enum { ROWS = 32, N = 512, T = 7 };
	static float w[ROWS * N], x[T][N], y[T * ROWS];
	static uint8_t wq[ROWS * N], packed[ROWS * N];
	static struct inf_act_q8k xq[T][N / 256];
	const struct inf_kernels *plain = inf_kernels_get(INF_ISA_PORTABLE);
	const struct inf_kernels *k = inf_kernels_get(INF_ISA_AVX512);
	for (uint32_t i = 0; i < ROWS * N; i++)
		w[i] = frand() * (1 + (float)(i % 13));
	CHECK(inf_quantize(INF_TYPE_Q6_K, w, wq, (uint64_t)ROWS * N) == 0);
	size_t row_bytes = (size_t)inf_row_bytes(INF_TYPE_Q6_K, N), group = inf_packed_group_bytes(INF_TYPE_Q6_K, N);
	CHECK_EQ(group, 16 * row_bytes);
	inf_pack16(INF_TYPE_Q6_K, wq, ROWS, N, packed);
	/* row 21 (group 1, lane 5), super-block 1: d, scale 11, and elements
	 * 37 and 200 (whose values are in the dequantized row) */
	const struct inf_block_q6_k *src = (const struct inf_block_q6_k *)(wq + 21 * row_bytes) + 1;
	const uint8_t *pb = packed + group + 3360;
	CHECK(memcmp(pb + 2 * 5, &src->d, 2) == 0);
	CHECK_EQ((int8_t)pb[32 + 32 * 5 + 2 * 5 + 1], src->scales[11]);
	static float deq[N];
	inf_dequantize(INF_TYPE_Q6_K, wq + 21 * row_bytes, deq, N);
	float d = inf_fp16_to_fp32(src->d);
	for (int e = 37; e <= 200; e += 163) {
		int v = e / 4, kb = e % 4;
		int lo = v < 32 ? pb[288 + 64 * v + 4 * 5 + kb] & 15 : pb[288 + 64 * (v - 32) + 4 * 5 + kb] >> 4;
		int hi = (pb[2336 + 64 * (v % 16) + 4 * 5 + kb] >> (2 * (v / 16))) & 3;
		CHECK(deq[256 + e] == d * src->scales[e / 16] * (float)((lo | hi << 4) - 32));
	}
	if (!k || !k->mm16_q6k) {
		printf("     (no packed Q6_K kernel on this CPU: layout checked only)\n");
		return;
	}
	for (int t = 0; t < T; t++) {
		for (uint32_t i = 0; i < N; i++)
			x[t][i] = frand() * (t + 1);
		plain->quantize_q8k(x[t], xq[t], N);
	}
	for (uint32_t n_tok = 1; n_tok <= T; n_tok += 3) {
		for (int g = 0; g < ROWS / 16; g++)
			k->mm16_q6k(packed + g * group, (const uint8_t *)xq[0], sizeof xq[0], n_tok, N, y + 16 * g, ROWS);
		for (uint32_t t = 0; t < n_tok; t++)
			for (int r = 0; r < ROWS; r++) {
				float one = inf_dot(plain, INF_TYPE_Q6_K, wq + r * row_bytes, xq[t], N);
				if (!(fabsf(y[t * ROWS + r] - one) <= 1e-5f * (fabsf(one) + 1) * N / 32)) {
					fprintf(stderr, "Q6_K packed row %d token %u/%u: %.9g vs %.9g\n", r, t, n_tok,
						y[t * ROWS + r], one);
					CHECK(0);
				}
			}
	}
}

/* The F16 four-row tile kernel gives the plain dots for every tile width
 * (6, 2 and 1 tokens). */
static void f16_tile_kernel_equals_plain_dots(void)
{
	enum { ROWS = 8, N = 320, T = 13 };
	static uint16_t w[ROWS * N];
	static float x[T][N], y[T * ROWS];
	const struct inf_kernels *plain = inf_kernels_get(INF_ISA_PORTABLE);
	const struct inf_kernels *k = inf_kernels_get(INF_ISA_AVX512);
	if (!k || !k->mm4_f16) {
		printf("     (no F16 tile kernel on this CPU: skipped)\n");
		return;
	}
	for (uint32_t i = 0; i < ROWS * N; i++)
		w[i] = inf_fp32_to_fp16(frand() * (1 + (float)(i % 5)));
	for (int t = 0; t < T; t++)
		for (uint32_t i = 0; i < N; i++)
			x[t][i] = frand() * (t + 1);
	for (uint32_t n_tok = 1; n_tok <= T; n_tok++) {
		memset(y, 0, sizeof y);
		for (int g = 0; g < ROWS / 4; g++)
			k->mm4_f16((const uint8_t *)(w + 4 * g * N), N * 2, (const uint8_t *)x, sizeof x[0], n_tok, N, y + 4 * g,
				   ROWS);
		for (uint32_t t = 0; t < n_tok; t++)
			for (int r = 0; r < ROWS; r++) {
				float one = plain->dot_f16(w + r * N, x[t], N);
				if (!(fabsf(y[t * ROWS + r] - one) <= 1e-5f * (fabsf(one) + 1) * 10)) {
					fprintf(stderr, "F16 tile row %d token %u/%u: %.9g vs %.9g\n", r, t, n_tok,
						y[t * ROWS + r], one);
					CHECK(0);
				}
			}
	}
}

/* Every ISA's activation quantizer gives the portable one's bytes. */
static void quantize_q8_is_the_same_on_every_isa(void)
{
	enum { N = 1024 };
	static float x[N];
	static struct inf_act_q8 want[N / 32], got[N / 32];
	for (uint32_t i = 0; i < N; i++)
		x[i] = frand() * (1 + (float)(i % 37)) * (i / 32 == 5 ? 0 : 1);   /* block 5 all zero */
	x[7] = 0.5f * (x[9] / 127 * 2 * 127);    /* ties and near-ties of the rounding */
	inf_kernels_get(INF_ISA_PORTABLE)->quantize_q8(x, want, N);
	for (int isa = INF_ISA_AVX2; isa <= INF_ISA_AVX512; isa++) {
		const struct inf_kernels *k = inf_kernels_get((enum inf_isa)isa);
		if (!k)
			continue;
		memset(got, 0x55, sizeof got);
		k->quantize_q8(x, got, N);
		CHECK(memcmp(got, want, sizeof got) == 0);
	}
	/* and the Q8_K one (K weights), sums per 16 included */
	static struct inf_act_q8k wantk[N / 256], gotk[N / 256];
	inf_kernels_get(INF_ISA_PORTABLE)->quantize_q8k(x, wantk, N);
	for (int isa = INF_ISA_AVX2; isa <= INF_ISA_AVX512; isa++) {
		const struct inf_kernels *k = inf_kernels_get((enum inf_isa)isa);
		if (!k)
			continue;
		memset(gotk, 0x55, sizeof gotk);
		k->quantize_q8k(x, gotk, N);
		CHECK(memcmp(gotk, wantk, sizeof gotk) == 0);
	}
}

/* The F16 KV cache's conversion gives inf_fp32_to_fp16's bits on every ISA:
 * halfway cases, subnormals, overflow to infinity, signed zero, NaN. */
static void to_f16_is_the_same_on_every_isa(void)
{
	enum { N = 1029 };   /* not a multiple of 8: the tail too */
	static float x[N];
	static uint16_t want[N], got[N];
	for (uint32_t i = 0; i < N; i++)
		x[i] = frand() * ldexpf(1, (int)(i % 48) - 30);   /* 2^-30 .. 2^17: subnormal to overflow */
	const float special[] = { 0.0f, -0.0f, 65504.0f, 65520.0f, -65536.0f, 1.0f + 1.0f / 2048,
				  1.0f + 3.0f / 2048, 5.9604645e-8f, 2.9802322e-8f, 8.9406967e-8f, INFINITY,
				  -INFINITY, NAN };
	memcpy(x, special, sizeof special);
	inf_kernels_get(INF_ISA_PORTABLE)->to_f16(x, want, N);
	CHECK_EQ(want[3], 0x7c00);   /* 65520 rounds to infinity */
	CHECK_EQ(want[5], 0x3c00);   /* a tie rounds to even */
	CHECK_EQ(want[6], 0x3c02);
	for (int isa = INF_ISA_AVX2; isa <= INF_ISA_AVX512; isa++) {
		const struct inf_kernels *k = inf_kernels_get((enum inf_isa)isa);
		if (!k)
			continue;
		memset(got, 0x55, sizeof got);
		k->to_f16(x, got, N);
		for (uint32_t i = 0; i < N; i++)
			if (got[i] != want[i] && !(isnan(x[i]) && (got[i] & 0x7c00) == 0x7c00 && (got[i] & 0x3ff))) {
				fprintf(stderr, "%s: x[%u] = %a gives %#x, want %#x\n", inf_isa_name((enum inf_isa)isa), i,
					x[i], got[i], want[i]);
				CHECK(false);
				break;
			}
	}
}

/* The packed layout and its 16-row kernel (AVX-512) give, for every row
 * and token, the plain dot of the file's row (up to summation order); the
 * activation's s is d times the sum of its quants. */
static void packed16_kernel_equals_plain_dots(void)
{
	enum { ROWS = 48, N = 320, T = 9 };
	static float w[ROWS * N], x[T][N], y[T * ROWS];
	static uint8_t wq[ROWS * N * 2], packed[ROWS * N * 2];
	static struct inf_act_q8 xq[T][N / 32];
	static const uint32_t t2[] = { INF_TYPE_Q8_0, INF_TYPE_Q4_0 };
	const struct inf_kernels *plain = inf_kernels_get(INF_ISA_PORTABLE);
	const struct inf_kernels *k = inf_kernels_get(INF_ISA_AVX512);
	if (!k || !k->mm16_q8) {
		printf("     (no packed kernel on this CPU: layout checked only)\n");
		k = NULL;
	}
	for (int j = 0; j < T; j++) {
		for (uint32_t i = 0; i < N; i++)
			x[j][i] = frand() * (j + 1) * (j == 3 ? 0 : 1);   /* token 3: an all-zero block */
		plain->quantize_q8(x[j], xq[j], N);
		for (uint32_t b = 0; b < N / 32; b++) {
			int s = 0;
			for (int i = 0; i < 32; i++)
				s += xq[j][b].qs[i];
			CHECK(xq[j][b].s == xq[j][b].d * (float)s);
		}
	}
	for (size_t ty = 0; ty < 2; ty++) {
		size_t row_bytes = (size_t)inf_row_bytes(t2[ty], N);
		for (uint32_t i = 0; i < ROWS * N; i++)
			w[i] = frand() * (1 + (float)(i % 7));
		CHECK(inf_quantize(t2[ty], w, wq, (uint64_t)ROWS * N) == 0);
		inf_pack16(t2[ty], wq, ROWS, N, packed);
		/* the layout by hand: row 5's block 3 scale and its quant byte 9 */
		size_t blk = t2[ty] == INF_TYPE_Q8_0 ? 544 : 288;
		const uint8_t *src = wq + 5 * row_bytes + 3 * (row_bytes / (N / 32));
		CHECK(memcmp(packed + 3 * blk + 2 * 5, src, 2) == 0);
		uint8_t want9 = t2[ty] == INF_TYPE_Q8_0 ? src[2 + 9] ^ 0x80 : src[2 + 9];
		CHECK_EQ(packed[3 * blk + 32 + 64 * 2 + 4 * 5 + 1], want9);
		if (!k)
			continue;
		for (uint32_t n_tok = 1; n_tok <= T; n_tok += 2) {
			for (int g = 0; g < ROWS / 16; g++)
				k->mm16_q8(packed + (size_t)g * 16 * row_bytes, t2[ty], (const uint8_t *)xq[0], sizeof xq[0],
					   n_tok, N, y + 16 * g, ROWS);
			for (uint32_t t = 0; t < n_tok; t++)
				for (int r = 0; r < ROWS; r++) {
					float one = inf_dot(plain, t2[ty], wq + r * row_bytes, xq[t], N);
					float got = y[t * ROWS + r];
					if (!(fabsf(got - one) <= 1e-5f * (fabsf(one) + 1) * N / 32)) {
						fprintf(stderr, "%s packed row %d token %u/%u: %.9g vs %.9g\n",
							inf_type_name(t2[ty]), r, t, n_tok, got, one);
						CHECK(0);
					}
				}
		}
	}
}

static void unknown_and_uncomputable_types_are_named(void)
{
	CHECK(inf_type_traits(99) == NULL);
	CHECK(!strcmp(inf_type_name(99), "?"));
	CHECK(!strcmp(inf_type_name(INF_TYPE_Q5_K), "Q5_K"));
	CHECK(!inf_type_computable(INF_TYPE_Q5_K));
	CHECK(inf_type_computable(INF_TYPE_Q6_K));
	float y[32];
	uint8_t b[64] = { 0 };
	CHECK(inf_dequantize(INF_TYPE_Q5_0, b, y, 32) == -1);
	CHECK_EQ(inf_row_bytes(INF_TYPE_Q4_K, 512), 288);
	CHECK_EQ(inf_row_bytes(INF_TYPE_Q6_K, 256), 210);
}

int main(void)
{
	RUN(fp16_conversions_are_exact);
	RUN(q8_0_block_dequantizes_by_hand);
	RUN(q4_0_block_dequantizes_by_hand);
	RUN(q4_k_block_dequantizes_by_hand);
	RUN(q6_k_block_dequantizes_by_hand);
	RUN(quantizers_stay_within_their_step);
	RUN(dot_kernels_match_double_reference_on_every_isa);
	RUN(dot4_equals_four_dots);
	RUN(quantize_q8_is_the_same_on_every_isa);
	RUN(to_f16_is_the_same_on_every_isa);
	RUN(f16_tile_kernel_equals_plain_dots);
	RUN(packed16_q4_k_equals_plain_dots);
	RUN(packed16_q6_k_equals_plain_dots);
	RUN(packed16_kernel_equals_plain_dots);
	RUN(unknown_and_uncomputable_types_are_named);
	return check_summary();
}
