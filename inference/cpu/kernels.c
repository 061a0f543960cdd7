/*
 * kernels.c: the portable dot products (the meaning every SIMD variant must
 * reproduce), activation quantization, and the run-time choice of kernels
 * (kernels_x86.c holds the AVX2 and AVX-512 variants).
 */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "kernels.h"

enum inf_act_kind inf_act_kind(uint32_t weight_type)
{
	switch (weight_type) {
	case INF_TYPE_Q8_0:
	case INF_TYPE_Q4_0:
		return INF_ACT_Q8;
	case INF_TYPE_Q4_K:
	case INF_TYPE_Q6_K:
		return INF_ACT_Q8K;
	default:
		return INF_ACT_F32;
	}
}

size_t inf_act_row_bytes(enum inf_act_kind kind, uint32_t n)
{
	switch (kind) {
	case INF_ACT_Q8: return (size_t)n / 32 * sizeof(struct inf_act_q8);
	case INF_ACT_Q8K: return (size_t)n / 256 * sizeof(struct inf_act_q8k);
	default: return (size_t)n * sizeof(float);
	}
}

static uint16_t rd16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

void inf_quantize_q8_portable(const float *x, struct inf_act_q8 *y, uint32_t n)
{
	for (uint32_t b = 0; b < n / 32; b++) {
		float amax = 0;
		for (int j = 0; j < 32; j++)
			amax = fmaxf(amax, fabsf(x[32 * b + j]));
		float d = amax / 127, id = d ? 1 / d : 0;
		y[b].d = d;
		int sum = 0;
		for (int j = 0; j < 32; j++) {
			y[b].qs[j] = (int8_t)lrintf(x[32 * b + j] * id);
			sum += y[b].qs[j];
		}
		y[b].s = d * (float)sum;
	}
}

void inf_quantize_q8k_portable(const float *x, struct inf_act_q8k *y, uint32_t n)
{
	for (uint32_t b = 0; b < n / 256; b++) {
		float amax = 0;
		for (int j = 0; j < 256; j++)
			amax = fmaxf(amax, fabsf(x[256 * b + j]));
		float d = amax / 127, id = d ? 1 / d : 0;
		y[b].d = d;
		for (int g = 0; g < 16; g++) {
			int s = 0;
			for (int j = 0; j < 16; j++) {
				int8_t q = (int8_t)lrintf(x[256 * b + 16 * g + j] * id);
				y[b].qs[16 * g + j] = q;
				s += q;
			}
			y[b].bsums[g] = (int16_t)s;
		}
	}
}

static float dot_f32(const float *w, const float *x, uint32_t n)
{
	float s = 0;
	for (uint32_t i = 0; i < n; i++)
		s += w[i] * x[i];
	return s;
}

/* Element i of a KV-cache row of F16 (f16) or float elements. */
static inline float kv_elem(const void *row, size_t i, bool f16)
{
	return f16 ? inf_fp16_to_fp32(((const uint16_t *)row)[i]) : ((const float *)row)[i];
}

void inf_to_f16_portable(const float *x, uint16_t *y, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		y[i] = inf_fp32_to_fp16(x[i]);
}

void inf_attn_head_portable(const float *q, const void *k, const void *v, bool f16, size_t stride,
			    uint32_t len, uint32_t hd, float scale, float *sc, float *out)
{
	size_t row = stride * (f16 ? sizeof(uint16_t) : sizeof(float));
	float mx = -INFINITY;
	for (uint32_t p = 0; p < len; p++) {
		const void *kp = (const uint8_t *)k + p * row;
		float d = 0;
		for (uint32_t i = 0; i < hd; i++)
			d += kv_elem(kp, i, f16) * q[i];
		sc[p] = d * scale;
		if (sc[p] > mx)
			mx = sc[p];
	}
	float sum = 0;
	for (uint32_t p = 0; p < len; p++) {
		sc[p] = expf(sc[p] - mx);
		sum += sc[p];
	}
	memset(out, 0, hd * sizeof *out);
	for (uint32_t p = 0; p < len; p++) {
		const void *vp = (const uint8_t *)v + p * row;
		float a = sc[p] / sum;
		for (uint32_t i = 0; i < hd; i++)
			out[i] += a * kv_elem(vp, i, f16);
	}
}

static float dot_f16(const uint16_t *w, const float *x, uint32_t n)
{
	float s = 0;
	for (uint32_t i = 0; i < n; i++)
		s += inf_fp16_to_fp32(rd16(w + i)) * x[i];
	return s;
}

static float dot_bf16(const uint16_t *w, const float *x, uint32_t n)
{
	float s = 0;
	for (uint32_t i = 0; i < n; i++)
		s += inf_bf16_to_fp32(rd16(w + i)) * x[i];
	return s;
}

static float dot_q8_0(const void *vw, const struct inf_act_q8 *x, uint32_t n)
{
	const struct inf_block_q8_0 *w = vw;
	float s = 0;
	for (uint32_t b = 0; b < n / 32; b++) {
		int isum = 0;
		for (int j = 0; j < 32; j++)
			isum += w[b].qs[j] * x[b].qs[j];
		s += inf_fp16_to_fp32(rd16(&w[b].d)) * x[b].d * (float)isum;
	}
	return s;
}

static float dot_q4_0(const void *vw, const struct inf_act_q8 *x, uint32_t n)
{
	const struct inf_block_q4_0 *w = vw;
	float s = 0;
	for (uint32_t b = 0; b < n / 32; b++) {
		int isum = 0;
		for (int j = 0; j < 16; j++)
			isum += ((w[b].qs[j] & 0xf) - 8) * x[b].qs[j] + ((w[b].qs[j] >> 4) - 8) * x[b].qs[j + 16];
		s += inf_fp16_to_fp32(rd16(&w[b].d)) * x[b].d * (float)isum;
	}
	return s;
}

void inf_q4k_scale_min(const uint8_t *s, int j, int *sc, int *m)
{
	if (j < 4) {
		*sc = s[j] & 63;
		*m = s[j + 4] & 63;
	} else {
		*sc = (s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4);
		*m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
	}
}

static float dot_q4_k(const void *vw, const struct inf_act_q8k *x, uint32_t n)
{
	const struct inf_block_q4_k *w = vw;
	float s = 0;
	for (uint32_t b = 0; b < n / 256; b++) {
		int sumi = 0, summ = 0;
		for (int i = 0; i < 4; i++) {
			int sc0, m0, sc1, m1, i0 = 0, i1 = 0;
			inf_q4k_scale_min(w[b].scales, 2 * i, &sc0, &m0);
			inf_q4k_scale_min(w[b].scales, 2 * i + 1, &sc1, &m1);
			for (int l = 0; l < 32; l++) {
				uint8_t q = w[b].qs[32 * i + l];
				i0 += (q & 0xf) * x[b].qs[64 * i + l];
				i1 += (q >> 4) * x[b].qs[64 * i + 32 + l];
			}
			sumi += sc0 * i0 + sc1 * i1;
			summ += m0 * (x[b].bsums[4 * i] + x[b].bsums[4 * i + 1]) +
				m1 * (x[b].bsums[4 * i + 2] + x[b].bsums[4 * i + 3]);
		}
		float d = inf_fp16_to_fp32(rd16(&w[b].d)) * x[b].d;
		float dmin = inf_fp16_to_fp32(rd16(&w[b].dmin)) * x[b].d;
		s += d * (float)sumi - dmin * (float)summ;
	}
	return s;
}

static float dot_q6_k(const void *vw, const struct inf_act_q8k *x, uint32_t n)
{
	const struct inf_block_q6_k *w = vw;
	float s = 0;
	for (uint32_t b = 0; b < n / 256; b++) {
		int sumi = 0;
		for (int h = 0; h < 2; h++) {
			const uint8_t *ql = w[b].ql + 64 * h, *qh = w[b].qh + 32 * h;
			const int8_t *sc = w[b].scales + 8 * h, *xq = x[b].qs + 128 * h;
			int g[8] = { 0 };
			for (int l = 0; l < 32; l++) {
				int is = l / 16;
				int q1 = (ql[l] & 0xf) | ((qh[l] & 3) << 4);
				int q2 = (ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4);
				int q3 = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
				int q4 = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
				g[is] += (q1 - 32) * xq[l];
				g[is + 2] += (q2 - 32) * xq[l + 32];
				g[is + 4] += (q3 - 32) * xq[l + 64];
				g[is + 6] += (q4 - 32) * xq[l + 96];
			}
			for (int k = 0; k < 8; k++)
				sumi += sc[k] * g[k];
		}
		s += inf_fp16_to_fp32(rd16(&w[b].d)) * x[b].d * (float)sumi;
	}
	return s;
}

static const struct inf_kernels portable = {
	.isa = INF_ISA_PORTABLE,
	.dot_f32 = dot_f32,
	.dot_f16 = dot_f16,
	.dot_bf16 = dot_bf16,
	.dot_q8_0 = dot_q8_0,
	.dot_q4_0 = dot_q4_0,
	.dot_q4_k = dot_q4_k,
	.dot_q6_k = dot_q6_k,
	.attn_head = inf_attn_head_portable,
	.to_f16 = inf_to_f16_portable,
	.quantize_q8 = inf_quantize_q8_portable,
	.quantize_q8k = inf_quantize_q8k_portable,
};

bool inf_packable(uint32_t type)
{
	return type == INF_TYPE_Q8_0 || type == INF_TYPE_Q4_0 || type == INF_TYPE_Q4_K || type == INF_TYPE_Q6_K;
}

#define Q4K_PACKED 2368
#define Q6K_PACKED 3360

size_t inf_packed_group_bytes(uint32_t type, uint32_t cols)
{
	if (type == INF_TYPE_Q4_K)
		return (size_t)cols / 256 * Q4K_PACKED;
	if (type == INF_TYPE_Q6_K)
		return (size_t)cols / 256 * Q6K_PACKED;
	return 16 * (size_t)inf_row_bytes(type, cols);
}

static void pack16_q4_k(const void *src, uint64_t rows, uint32_t cols, uint8_t *out)
{
	size_t row_bytes = (size_t)cols / 256 * sizeof(struct inf_block_q4_k);
	for (uint64_t g = 0; g < rows / 16; g++)
		for (uint32_t b = 0; b < cols / 256; b++) {
			for (int r = 0; r < 16; r++) {
				const struct inf_block_q4_k *w =
					(const struct inf_block_q4_k *)((const uint8_t *)src + (g * 16 + r) * row_bytes) + b;
				memcpy(out + 2 * r, &w->d, 2);
				memcpy(out + 32 + 2 * r, &w->dmin, 2);
				for (int j = 0; j < 8; j++) {
					int sc, m;
					inf_q4k_scale_min(w->scales, j, &sc, &m);
					out[64 + 16 * j + r] = (uint8_t)sc;
					out[192 + 32 * (j / 2) + 2 * r + j % 2] = (uint8_t)m;
				}
				for (int v = 0; v < 32; v++)
					memcpy(out + 320 + 64 * v + 4 * r, w->qs + 4 * v, 4);
			}
			out += Q4K_PACKED;
		}
}

static void pack16_q6_k(const void *src, uint64_t rows, uint32_t cols, uint8_t *out)
{
	size_t row_bytes = (size_t)cols / 256 * sizeof(struct inf_block_q6_k);
	for (uint64_t g = 0; g < rows / 16; g++)
		for (uint32_t b = 0; b < cols / 256; b++) {
			memset(out + 288, 0, Q6K_PACKED - 288);
			for (int r = 0; r < 16; r++) {
				const struct inf_block_q6_k *w =
					(const struct inf_block_q6_k *)((const uint8_t *)src + (g * 16 + r) * row_bytes) + b;
				uint8_t q[256];
				for (int h = 0; h < 2; h++)
					for (int l = 0; l < 32; l++) {
						uint8_t lo0 = w->ql[64 * h + l], lo1 = w->ql[64 * h + l + 32], hi = w->qh[32 * h + l];
						q[128 * h + l] = (uint8_t)((lo0 & 0xf) | (hi & 3) << 4);
						q[128 * h + l + 32] = (uint8_t)((lo1 & 0xf) | ((hi >> 2) & 3) << 4);
						q[128 * h + l + 64] = (uint8_t)((lo0 >> 4) | ((hi >> 4) & 3) << 4);
						q[128 * h + l + 96] = (uint8_t)((lo1 >> 4) | ((hi >> 6) & 3) << 4);
					}
				memcpy(out + 2 * r, &w->d, 2);
				for (int s = 0; s < 16; s++)
					out[32 + 32 * (s / 2) + 2 * r + s % 2] = (uint8_t)w->scales[s];
				for (int v = 0; v < 32; v++)
					for (int k = 0; k < 4; k++)
						out[288 + 64 * v + 4 * r + k] =
							(uint8_t)((q[4 * v + k] & 15) | (q[4 * v + 128 + k] & 15) << 4);
				for (int u = 0; u < 16; u++)
					for (int k = 0; k < 4; k++)
						for (int j = 0; j < 4; j++)
							out[2336 + 64 * u + 4 * r + k] |= (uint8_t)((q[4 * u + 64 * j + k] >> 4) << (2 * j));
			}
			out += Q6K_PACKED;
		}
}

void inf_pack16(uint32_t type, const void *src, uint64_t rows, uint32_t cols, void *dst)
{
	if (type == INF_TYPE_Q4_K) {
		pack16_q4_k(src, rows, cols, dst);
		return;
	}
	if (type == INF_TYPE_Q6_K) {
		pack16_q6_k(src, rows, cols, dst);
		return;
	}
	bool q8 = type == INF_TYPE_Q8_0;
	size_t blk = q8 ? sizeof(struct inf_block_q8_0) : sizeof(struct inf_block_q4_0);
	size_t qbytes = q8 ? 32 : 16, row_bytes = (size_t)cols / 32 * blk;
	uint8_t *out = dst;
	for (uint64_t g = 0; g < rows / 16; g++) {
		const uint8_t *grp = (const uint8_t *)src + g * 16 * row_bytes;
		for (uint32_t b = 0; b < cols / 32; b++) {
			/* both block types start with the fp16 scale, then the quants */
			for (int r = 0; r < 16; r++)
				memcpy(out + 2 * r, grp + r * row_bytes + b * blk, 2);
			out += 32;
			for (int r = 0; r < 16; r++)
				for (size_t p = 0; p < qbytes / 4; p++) {
					uint32_t q;
					memcpy(&q, grp + r * row_bytes + b * blk + 2 + 4 * p, 4);
					q ^= q8 ? 0x80808080u : 0;
					memcpy(out + 64 * p + 4 * r, &q, 4);
				}
			out += 16 * qbytes;
		}
	}
}

const char *inf_isa_name(enum inf_isa isa)
{
	switch (isa) {
	case INF_ISA_AUTO: return "auto";
	case INF_ISA_PORTABLE: return "portable";
	case INF_ISA_AVX2: return "avx2";
	case INF_ISA_AVX512: return "avx512";
	}
	return "?";
}

bool inf_isa_supported(enum inf_isa isa)
{
	switch (isa) {
	case INF_ISA_AUTO:
	case INF_ISA_PORTABLE:
		return true;
	case INF_ISA_AVX2:
		return inf_kernels_avx2 != NULL && inf_cpu_has_avx2();
	case INF_ISA_AVX512:
		return inf_kernels_avx512 != NULL && inf_cpu_has_avx512();
	}
	return false;
}

const struct inf_kernels *inf_kernels_get(enum inf_isa isa)
{
	if (isa == INF_ISA_AUTO) {
		if (inf_isa_supported(INF_ISA_AVX512))
			return inf_kernels_avx512;
		if (inf_isa_supported(INF_ISA_AVX2))
			return inf_kernels_avx2;
		return &portable;
	}
	if (!inf_isa_supported(isa))
		return NULL;
	switch (isa) {
	case INF_ISA_AVX2: return inf_kernels_avx2;
	case INF_ISA_AVX512: return inf_kernels_avx512;
	default: return &portable;
	}
}

float inf_dot(const struct inf_kernels *k, uint32_t type, const void *w, const void *x, uint32_t n)
{
	switch (type) {
	case INF_TYPE_F32: return k->dot_f32(w, x, n);
	case INF_TYPE_F16: return k->dot_f16(w, x, n);
	case INF_TYPE_BF16: return k->dot_bf16(w, x, n);
	case INF_TYPE_Q8_0: return k->dot_q8_0(w, x, n);
	case INF_TYPE_Q4_0: return k->dot_q4_0(w, x, n);
	case INF_TYPE_Q4_K: return k->dot_q4_k(w, x, n);
	case INF_TYPE_Q6_K: return k->dot_q6_k(w, x, n);
	default: return NAN;
	}
}
