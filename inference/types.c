/*
 * types.c: the ggml tensor types this engine knows, half-precision
 * conversions, dequantization (the exact meaning of each block layout, which
 * the kernels must agree with) and the reference quantizers the GGUF writer
 * uses to make test models.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

static const struct inf_type_traits traits[INF_N_TYPES] = {
	[INF_TYPE_F32] = { "F32", 1, 4, true },
	[INF_TYPE_F16] = { "F16", 1, 2, true },
	[INF_TYPE_Q4_0] = { "Q4_0", 32, 18, true },
	[INF_TYPE_Q4_1] = { "Q4_1", 32, 20, false },
	[INF_TYPE_Q5_0] = { "Q5_0", 32, 22, false },
	[INF_TYPE_Q5_1] = { "Q5_1", 32, 24, false },
	[INF_TYPE_Q8_0] = { "Q8_0", 32, 34, true },
	[INF_TYPE_Q8_1] = { "Q8_1", 32, 36, false },
	[INF_TYPE_Q2_K] = { "Q2_K", 256, 84, false },
	[INF_TYPE_Q3_K] = { "Q3_K", 256, 110, false },
	[INF_TYPE_Q4_K] = { "Q4_K", 256, 144, true },
	[INF_TYPE_Q5_K] = { "Q5_K", 256, 176, false },
	[INF_TYPE_Q6_K] = { "Q6_K", 256, 210, true },
	[INF_TYPE_Q8_K] = { "Q8_K", 256, 292, false },
	[INF_TYPE_I8] = { "I8", 1, 1, false },
	[INF_TYPE_I16] = { "I16", 1, 2, false },
	[INF_TYPE_I32] = { "I32", 1, 4, false },
	[INF_TYPE_I64] = { "I64", 1, 8, false },
	[INF_TYPE_F64] = { "F64", 1, 8, false },
	[INF_TYPE_BF16] = { "BF16", 1, 2, true },
};

const struct inf_type_traits *inf_type_traits(uint32_t type)
{
	if (type >= INF_N_TYPES || !traits[type].name)
		return NULL;
	return &traits[type];
}

bool inf_type_computable(uint32_t type)
{
	const struct inf_type_traits *t = inf_type_traits(type);
	return t && t->computable;
}

const char *inf_type_name(uint32_t type)
{
	const struct inf_type_traits *t = inf_type_traits(type);
	return t ? t->name : "?";
}

uint64_t inf_row_bytes(uint32_t type, uint64_t n)
{
	const struct inf_type_traits *t = inf_type_traits(type);
	return t ? n / t->block_elems * t->block_bytes : 0;
}

float inf_fp16_to_fp32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
	if (exp == 0x1f) {
		bits = sign | 0x7f800000 | (man << 13);
	} else if (exp == 0) {
		if (!man) {
			bits = sign;
		} else {  /* subnormal: value = man * 2^-24 */
			float f = (float)man * 0x1p-24f;
			return sign ? -f : f;
		}
	} else {
		bits = sign | ((exp + 112) << 23) | (man << 13);
	}
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

uint16_t inf_fp32_to_fp16(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	uint32_t sign = (x >> 16) & 0x8000;
	uint32_t ax = x & 0x7fffffff;
	if (ax > 0x7f800000)
		return (uint16_t)(sign | 0x7e00);              /* NaN */
	if (ax >= 0x477ff000)
		return (uint16_t)(sign | 0x7c00);              /* overflow to inf */
	if (ax < 0x38800000) {                                 /* subnormal or zero */
		float a;
		memcpy(&a, &ax, 4);
		/* the sum rounds to nearest even at 2^-24 in float arithmetic */
		float r = a * 0x1p24f;
		uint32_t m = (uint32_t)lrintf(r);
		return (uint16_t)(sign | m);
	}
	uint32_t mant = ax & 0x7fffff, exp = (ax >> 23) - 112;
	uint32_t h = (exp << 10) | (mant >> 13);
	uint32_t rest = mant & 0x1fff;
	if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
		h++;
	return (uint16_t)(sign | h);
}

float inf_bf16_to_fp32(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

uint16_t inf_fp32_to_bf16(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((x >> 16) | 0x40);
	x += 0x7fff + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K block. */
static void q4k_scale_min(const uint8_t *s, int j, int *sc, int *m)
{
	if (j < 4) {
		*sc = s[j] & 63;
		*m = s[j + 4] & 63;
	} else {
		*sc = (s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4);
		*m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
	}
}

int inf_dequantize(uint32_t type, const void *src, float *dst, uint64_t n)
{
	const uint8_t *p = src;
	switch (type) {
	case INF_TYPE_F32:
		memcpy(dst, src, n * 4);
		return 0;
	case INF_TYPE_F16:
		for (uint64_t i = 0; i < n; i++)
			dst[i] = inf_fp16_to_fp32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
		return 0;
	case INF_TYPE_BF16:
		for (uint64_t i = 0; i < n; i++)
			dst[i] = inf_bf16_to_fp32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
		return 0;
	case INF_TYPE_Q8_0:
		for (uint64_t b = 0; b < n / 32; b++) {
			struct inf_block_q8_0 blk;
			memcpy(&blk, p + b * sizeof blk, sizeof blk);
			float d = inf_fp16_to_fp32(blk.d);
			for (int j = 0; j < 32; j++)
				dst[b * 32 + j] = d * blk.qs[j];
		}
		return 0;
	case INF_TYPE_Q4_0:
		for (uint64_t b = 0; b < n / 32; b++) {
			struct inf_block_q4_0 blk;
			memcpy(&blk, p + b * sizeof blk, sizeof blk);
			float d = inf_fp16_to_fp32(blk.d);
			for (int j = 0; j < 16; j++) {
				dst[b * 32 + j] = d * ((blk.qs[j] & 0xf) - 8);
				dst[b * 32 + j + 16] = d * ((blk.qs[j] >> 4) - 8);
			}
		}
		return 0;
	case INF_TYPE_Q4_K:
		for (uint64_t b = 0; b < n / 256; b++) {
			struct inf_block_q4_k blk;
			memcpy(&blk, p + b * sizeof blk, sizeof blk);
			float d = inf_fp16_to_fp32(blk.d), dmin = inf_fp16_to_fp32(blk.dmin);
			float *y = dst + b * 256;
			/* 64 elements per 32 bytes of qs: low nibbles are sub-block
			 * 2i, high nibbles sub-block 2i+1. */
			for (int i = 0; i < 4; i++) {
				int sc0, m0, sc1, m1;
				q4k_scale_min(blk.scales, 2 * i, &sc0, &m0);
				q4k_scale_min(blk.scales, 2 * i + 1, &sc1, &m1);
				for (int l = 0; l < 32; l++) {
					uint8_t q = blk.qs[32 * i + l];
					y[64 * i + l] = d * sc0 * (q & 0xf) - dmin * m0;
					y[64 * i + 32 + l] = d * sc1 * (q >> 4) - dmin * m1;
				}
			}
		}
		return 0;
	case INF_TYPE_Q6_K:
		for (uint64_t b = 0; b < n / 256; b++) {
			struct inf_block_q6_k blk;
			memcpy(&blk, p + b * sizeof blk, sizeof blk);
			float d = inf_fp16_to_fp32(blk.d);
			float *y = dst + b * 256;
			/* Two halves of 128: ql[64] holds low nibbles of four runs
			 * of 32, qh[32] their top two bits; scale per 16. */
			for (int h = 0; h < 2; h++) {
				const uint8_t *ql = blk.ql + 64 * h, *qh = blk.qh + 32 * h;
				const int8_t *sc = blk.scales + 8 * h;
				for (int l = 0; l < 32; l++) {
					int is = l / 16;
					int q1 = (ql[l] & 0xf) | ((qh[l] & 3) << 4);
					int q2 = (ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4);
					int q3 = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
					int q4 = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
					y[128 * h + l] = d * sc[is] * (q1 - 32);
					y[128 * h + l + 32] = d * sc[is + 2] * (q2 - 32);
					y[128 * h + l + 64] = d * sc[is + 4] * (q3 - 32);
					y[128 * h + l + 96] = d * sc[is + 6] * (q4 - 32);
				}
			}
		}
		return 0;
	default:
		return -1;
	}
}

static int clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void quantize_q4_k_block(const float *x, struct inf_block_q4_k *blk)
{
	float scale[8], minv[8], max_scale = 0, max_min = 0;
	for (int j = 0; j < 8; j++) {
		float lo = 0, hi = -INFINITY;
		for (int l = 0; l < 32; l++) {
			lo = fminf(lo, x[32 * j + l]);
			hi = fmaxf(hi, x[32 * j + l]);
		}
		scale[j] = (hi - lo) / 15;
		minv[j] = -lo;   /* >= 0 */
		max_scale = fmaxf(max_scale, scale[j]);
		max_min = fmaxf(max_min, minv[j]);
	}
	float d = max_scale / 63, dmin = max_min / 63;
	blk->d = inf_fp32_to_fp16(d);
	blk->dmin = inf_fp32_to_fp16(dmin);
	d = inf_fp16_to_fp32(blk->d);
	dmin = inf_fp16_to_fp32(blk->dmin);
	int sc[8], m[8];
	for (int j = 0; j < 8; j++) {
		sc[j] = d > 0 ? clampi((int)lrintf(scale[j] / d), 0, 63) : 0;
		m[j] = dmin > 0 ? clampi((int)lrintf(minv[j] / dmin), 0, 63) : 0;
	}
	for (int j = 0; j < 4; j++) {
		blk->scales[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
		blk->scales[j + 4] = (uint8_t)(m[j] | ((m[j + 4] >> 4) << 6));
		blk->scales[j + 8] = (uint8_t)((sc[j + 4] & 0xf) | ((m[j + 4] & 0xf) << 4));
	}
	uint8_t q[256];
	for (int j = 0; j < 8; j++) {
		float ds = d * sc[j], dm = dmin * m[j];
		for (int l = 0; l < 32; l++)
			q[32 * j + l] = (uint8_t)(ds > 0 ? clampi((int)lrintf((x[32 * j + l] + dm) / ds), 0, 15) : 0);
	}
	for (int i = 0; i < 4; i++)
		for (int l = 0; l < 32; l++)
			blk->qs[32 * i + l] = (uint8_t)(q[64 * i + l] | (q[64 * i + 32 + l] << 4));
}

static void quantize_q6_k_block(const float *x, struct inf_block_q6_k *blk)
{
	float scale[16], max_scale = 0;
	for (int j = 0; j < 16; j++) {
		float amax = 0;
		for (int l = 0; l < 16; l++)
			amax = fmaxf(amax, fabsf(x[16 * j + l]));
		scale[j] = amax / 31;
		max_scale = fmaxf(max_scale, scale[j]);
	}
	float d = max_scale / 127;
	blk->d = inf_fp32_to_fp16(d);
	d = inf_fp16_to_fp32(blk->d);
	uint8_t q[256];
	for (int j = 0; j < 16; j++) {
		int s = d > 0 ? clampi((int)lrintf(scale[j] / d), -128, 127) : 0;
		blk->scales[j] = (int8_t)s;
		float ds = d * s;
		for (int l = 0; l < 16; l++)
			q[16 * j + l] = (uint8_t)(ds != 0 ? clampi((int)lrintf(x[16 * j + l] / ds), -32, 31) + 32 : 32);
	}
	for (int h = 0; h < 2; h++) {
		const uint8_t *qq = q + 128 * h;
		for (int l = 0; l < 32; l++) {
			blk->ql[64 * h + l] = (uint8_t)((qq[l] & 0xf) | ((qq[l + 64] & 0xf) << 4));
			blk->ql[64 * h + l + 32] = (uint8_t)((qq[l + 32] & 0xf) | ((qq[l + 96] & 0xf) << 4));
			blk->qh[32 * h + l] = (uint8_t)((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) |
							((qq[l + 64] >> 4) << 4) | ((qq[l + 96] >> 4) << 6));
		}
	}
}

int inf_quantize(uint32_t type, const float *x, void *dst, uint64_t n)
{
	uint8_t *p = dst;
	switch (type) {
	case INF_TYPE_F32:
		memcpy(dst, x, n * 4);
		return 0;
	case INF_TYPE_F16:
	case INF_TYPE_BF16:
		for (uint64_t i = 0; i < n; i++) {
			uint16_t h = type == INF_TYPE_F16 ? inf_fp32_to_fp16(x[i]) : inf_fp32_to_bf16(x[i]);
			p[2 * i] = (uint8_t)h;
			p[2 * i + 1] = (uint8_t)(h >> 8);
		}
		return 0;
	case INF_TYPE_Q8_0:
		for (uint64_t b = 0; b < n / 32; b++) {
			struct inf_block_q8_0 blk;
			float amax = 0;
			for (int j = 0; j < 32; j++)
				amax = fmaxf(amax, fabsf(x[32 * b + j]));
			float d = amax / 127, id = d ? 1 / d : 0;
			blk.d = inf_fp32_to_fp16(d);
			for (int j = 0; j < 32; j++)
				blk.qs[j] = (int8_t)lrintf(x[32 * b + j] * id);
			memcpy(p + b * sizeof blk, &blk, sizeof blk);
		}
		return 0;
	case INF_TYPE_Q4_0:
		for (uint64_t b = 0; b < n / 32; b++) {
			struct inf_block_q4_0 blk;
			float amax = 0, max = 0;
			for (int j = 0; j < 32; j++)
				if (fabsf(x[32 * b + j]) > amax) {
					amax = fabsf(x[32 * b + j]);
					max = x[32 * b + j];
				}
			/* the extreme value maps to -8, the end with one more step */
			float d = max / -8, id = d ? 1 / d : 0;
			blk.d = inf_fp32_to_fp16(d);
			for (int j = 0; j < 16; j++) {
				int a = clampi((int)(x[32 * b + j] * id + 8.5f), 0, 15);
				int c = clampi((int)(x[32 * b + j + 16] * id + 8.5f), 0, 15);
				blk.qs[j] = (uint8_t)(a | (c << 4));
			}
			memcpy(p + b * sizeof blk, &blk, sizeof blk);
		}
		return 0;
	case INF_TYPE_Q4_K:
		for (uint64_t b = 0; b < n / 256; b++) {
			struct inf_block_q4_k blk;
			quantize_q4_k_block(x + 256 * b, &blk);
			memcpy(p + b * sizeof blk, &blk, sizeof blk);
		}
		return 0;
	case INF_TYPE_Q6_K:
		for (uint64_t b = 0; b < n / 256; b++) {
			struct inf_block_q6_k blk;
			quantize_q6_k_block(x + 256 * b, &blk);
			memcpy(p + b * sizeof blk, &blk, sizeof blk);
		}
		return 0;
	default:
		return -1;
	}
}
