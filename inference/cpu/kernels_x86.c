/*
 * kernels_x86.c: AVX2 and AVX-512 (VNNI) kernels. Each is compiled with a
 * target attribute, not with -m flags, so the binary runs on any x86-64 and
 * picks the best table at run time (__builtin_cpu_supports).
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels.h"

/* AVX2: u8 x s8 pairs to s16 (no overflow: |u| <= 128, |s| <= 127 and
 * u <= 63 except in Q8_0/Q4_0's sign trick, 2*128*127 < 32768), then to s32. */
#define TARGET __attribute__((target("avx2,fma,f16c")))
#define SFX _avx2
#define ISA INF_ISA_AVX2
#define MUL_SUM_US8(u, s) _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1))
#include "kernels_x86.inc"
#undef TARGET
#undef SFX
#undef ISA
#undef MUL_SUM_US8

/* AVX-512 VNNI (256-bit forms, AVX512VL): one vpdpbusd does both steps;
 * and the packed 16-row kernels in 512-bit forms (PACKED16). */
#define PACKED16
#define TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define SFX _avx512
#define ISA INF_ISA_AVX512
#define MUL_SUM_US8(u, s) _mm256_dpbusd_epi32(_mm256_setzero_si256(), (u), (s))
#include "kernels_x86.inc"

const struct inf_kernels *const inf_kernels_avx2 = &table_avx2;
const struct inf_kernels *const inf_kernels_avx512 = &table_avx512;

bool inf_cpu_has_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

bool inf_cpu_has_avx512(void)
{
	__builtin_cpu_init();
	return inf_cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
	       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
	       __builtin_cpu_supports("avx512vnni");
}
