/*
 * inference/cpu/kernels.h: between kernels.c (portable, dispatch) and the
 * per-platform kernel files (kernels_x86.c; a platform without one links
 * kernels_none.c, where these tables are NULL).
 */
#ifndef TETHER_INFERENCE_KERNELS_H
#define TETHER_INFERENCE_KERNELS_H

#include "internal.h"

extern const struct inf_kernels *const inf_kernels_avx2;
extern const struct inf_kernels *const inf_kernels_avx512;
bool inf_cpu_has_avx2(void);
bool inf_cpu_has_avx512(void);

void inf_quantize_q8_portable(const float *x, struct inf_act_q8 *y, uint32_t n);
void inf_quantize_q8k_portable(const float *x, struct inf_act_q8k *y, uint32_t n);
void inf_to_f16_portable(const float *x, uint16_t *y, uint32_t n);
void inf_attn_head_portable(const float *q, const void *k, const void *v, bool f16, size_t stride,
			    uint32_t len, uint32_t hd, float scale, float *sc, float *out);
void inf_q4k_scale_min(const uint8_t *s, int j, int *sc, int *m);

#endif
