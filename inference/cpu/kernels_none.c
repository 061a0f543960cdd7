/* kernels_none.c: platforms without SIMD kernels here: the portable ones only. */
#include "kernels.h"

const struct inf_kernels *const inf_kernels_avx2 = NULL;
const struct inf_kernels *const inf_kernels_avx512 = NULL;
bool inf_cpu_has_avx2(void) { return false; }
bool inf_cpu_has_avx512(void) { return false; }
