// Batched matrix products through oneDNN's sgemm (row-major, any transposes), with an optional
// per-column bias and activation applied in the same pass over the output.
#include "common.h"
#include <cmath>

namespace convlab {

// Applies bias (length n per row, or nullptr) and an activation to rows x n values in place.
static void epilogue(float *c, int64_t rows, int64_t n, const float *bias, int act, float alpha) {
  if (!bias && act == kLinear) return;
#pragma omp parallel for if (rows * n > 16384)
  for (int64_t r = 0; r < rows; ++r) {
    float *row = c + r * n;
    if (bias) {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) row[j] += bias[j];
    }
    switch (act) {
      case kRelu:
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) row[j] = row[j] > 0.f ? row[j] : 0.f;
        break;
      case kRelu6:
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) row[j] = std::fmin(std::fmax(row[j], 0.f), 6.f);
        break;
      case kLeakyRelu:
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) row[j] = row[j] > 0.f ? row[j] : alpha * row[j];
        break;
      case kSigmoid:
        for (int64_t j = 0; j < n; ++j) row[j] = 1.f / (1.f + std::exp(-row[j]));
        break;
      case kElu:
        for (int64_t j = 0; j < n; ++j) row[j] = row[j] > 0.f ? row[j] : std::expm1(row[j]);
        break;
      default:
        break;
    }
  }
}

// matMul(p = [batchA, batchB, M, N, K, transA, transB], a, b, c, bias|null, activation, alpha)
// a is [batchA, M, K] (or [batchA, K, M] when transposed), b is [batchB, K, N] (or [batchB, N, K]);
// a batch of 1 broadcasts against the other operand's batch.
Napi::Value MatMul(const Napi::CallbackInfo &info) {
  auto p = intsArg(info, 0);
  if (p.size() != 7) throw std::runtime_error("matMul: expected 7 parameters");
  int64_t batchA = p[0], batchB = p[1], m = p[2], n = p[3], k = p[4];
  bool ta = p[5] != 0, tb = p[6] != 0;
  const float *a = floatArg(info, 1), *b = floatArg(info, 2);
  float *c = floatArg(info, 3);
  const float *bias = floatArg(info, 4, true);
  int act = info[5].As<Napi::Number>().Int32Value();
  float alpha = info[6].As<Napi::Number>().FloatValue();
  int64_t batch = std::max(batchA, batchB);
  if ((batchA != batch && batchA != 1) || (batchB != batch && batchB != 1)) {
    throw std::runtime_error("matMul: batch sizes do not broadcast");
  }
  if (static_cast<int64_t>(floatLength(info, 1)) != batchA * m * k ||
      static_cast<int64_t>(floatLength(info, 2)) != batchB * k * n ||
      static_cast<int64_t>(floatLength(info, 3)) != batch * m * n) {
    throw std::runtime_error("matMul: operand sizes do not match the shape parameters");
  }
  if (bias && static_cast<int64_t>(floatLength(info, 4)) != n) throw std::runtime_error("matMul: bias must have N values");
  int64_t lda = ta ? m : k, ldb = tb ? k : n;
  for (int64_t i = 0; i < batch; ++i) {
    const float *ai = a + (batchA == 1 ? 0 : i) * m * k;
    const float *bi = b + (batchB == 1 ? 0 : i) * k * n;
    float *ci = c + i * m * n;
    if (k == 0) {
      std::fill(ci, ci + m * n, 0.f);
      continue;
    }
    dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.f, ai, lda, bi, ldb, 0.f, ci, n);
    if (st != dnnl_success) throw std::runtime_error("matMul: dnnl_sgemm failed with status " + std::to_string(st));
  }
  epilogue(c, batch * m, n, bias, act, alpha);
  return info.Env().Undefined();
}

}  // namespace convlab
