// Element-wise kernels that dominate once convolutions are native: activations and their gradient
// helpers, and binary arithmetic for equal shapes, a scalar operand, or an operand repeated along
// the leading axes (a bias over the last axes). OpenMP splits large arrays across threads.
#include "common.h"
#include <cmath>
#include <vector>

namespace convlab {
namespace {

constexpr int64_t kParallelMin = 1 << 15;

enum UnaryOp { kURelu = 0, kURelu6, kUStep, kUSigmoid, kUTanh, kUSquare, kUNeg, kULeakyRelu, kUElu, kUExp, kUSqrt };
enum BinaryOp { kAdd = 0, kSub, kMul, kDiv, kSquaredDifference, kMaximum, kMinimum, kRelu6Grad, kReluGrad };

template <typename F> void unaryLoop(const float *x, float *y, int64_t n, F f) {
#pragma omp parallel for simd if (n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

// How the operands map onto the output: row broadcasts (innerA / innerB), or a general broadcast given as the
// output's shape with both operands' strides (0 along a broadcast axis), adjacent axes merged by the caller.
struct Layout {
  int64_t innerA = 0, innerB = 0;
  std::vector<int64_t> shape, stridesA, stridesB;
};

// A general broadcast: one parallel task per row of the innermost axis, whose operand offsets come from the
// row index; the row itself is a contiguous, repeated-value or strided loop.
template <typename F> void stridedLoop(const float *a, const float *b, float *y, const Layout &L, F f) {
  const int64_t r = static_cast<int64_t>(L.shape.size());
  const int64_t inner = L.shape[r - 1], sa = L.stridesA[r - 1], sb = L.stridesB[r - 1];
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < r; ++d) rows *= L.shape[d];
#pragma omp parallel for if (rows * inner > kParallelMin) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    int64_t rem = row, offA = 0, offB = 0;
    for (int64_t d = r - 2; d >= 0; --d) {
      const int64_t i = rem % L.shape[d];
      rem /= L.shape[d];
      offA += i * L.stridesA[d];
      offB += i * L.stridesB[d];
    }
    const float *pa = a + offA, *pb = b + offB;
    float *py = y + row * inner;
    if (sa == 1 && sb == 1) {
#pragma omp simd
      for (int64_t j = 0; j < inner; ++j) py[j] = f(pa[j], pb[j]);
    } else if (sa == 1 && sb == 0) {
      const float bv = pb[0];
#pragma omp simd
      for (int64_t j = 0; j < inner; ++j) py[j] = f(pa[j], bv);
    } else if (sa == 0 && sb == 1) {
      const float av = pa[0];
#pragma omp simd
      for (int64_t j = 0; j < inner; ++j) py[j] = f(av, pb[j]);
    } else {
      for (int64_t j = 0; j < inner; ++j) py[j] = f(pa[j * sa], pb[j * sb]);
    }
  }
}

template <typename F> void binaryLoop(const float *a, int64_t na, const float *b, int64_t nb, float *y, int64_t n, F f,
                                      const Layout &L) {
  const int64_t innerA = L.innerA, innerB = L.innerB;
  if (!L.shape.empty()) {
    stridedLoop(a, b, y, L, f);
  } else if (innerA > 0 || innerB > 0) {  // one operand holds one value per row of `inner` outputs
    const int64_t inner = innerA > 0 ? innerA : innerB, rows = n / inner;
#pragma omp parallel for if (n > kParallelMin) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      float *yr = y + r * inner;
      if (innerB > 0) {
        const float *ar = a + r * inner;
        const float bv = b[r];
#pragma omp simd
        for (int64_t j = 0; j < inner; ++j) yr[j] = f(ar[j], bv);
      } else {
        const float *br = b + r * inner;
        const float av = a[r];
#pragma omp simd
        for (int64_t j = 0; j < inner; ++j) yr[j] = f(av, br[j]);
      }
    }
  } else if (na == n && nb == n) {
#pragma omp parallel for simd if (n > kParallelMin) schedule(static)
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
  } else if (nb == 1) {
    const float bv = b[0];
#pragma omp parallel for simd if (n > kParallelMin) schedule(static)
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], bv);
  } else if (na == 1) {
    const float av = a[0];
#pragma omp parallel for simd if (n > kParallelMin) schedule(static)
    for (int64_t i = 0; i < n; ++i) y[i] = f(av, b[i]);
  } else if (na == n) {  // b repeats every nb elements
    const int64_t rows = n / nb;
#pragma omp parallel for if (n > kParallelMin) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float *ar = a + r * nb;
      float *yr = y + r * nb;
#pragma omp simd
      for (int64_t j = 0; j < nb; ++j) yr[j] = f(ar[j], b[j]);
    }
  } else {  // a repeats every na elements
    const int64_t rows = n / na;
#pragma omp parallel for if (n > kParallelMin) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float *br = b + r * na;
      float *yr = y + r * na;
#pragma omp simd
      for (int64_t j = 0; j < na; ++j) yr[j] = f(a[j], br[j]);
    }
  }
}

}  // namespace

// unary(op, x, y, alpha)
Napi::Value Unary(const Napi::CallbackInfo &info) {
  int op = info[0].As<Napi::Number>().Int32Value();
  const float *x = floatArg(info, 1);
  float *y = floatArg(info, 2);
  float alpha = info[3].As<Napi::Number>().FloatValue();
  int64_t n = floatLength(info, 1);
  if (static_cast<int64_t>(floatLength(info, 2)) != n) throw std::runtime_error("unary: size mismatch");
  switch (op) {
    case kURelu: unaryLoop(x, y, n, [](float v) { return v > 0.f ? v : (v == v ? 0.f : v); }); break;
    case kURelu6: unaryLoop(x, y, n, [](float v) { return v != v ? v : (v > 6.f ? 6.f : (v > 0.f ? v : 0.f)); }); break;
    // TensorFlow.js's Step: 1 for x > 0, alpha otherwise, NaN stays NaN.
    // Step and LeakyRelu take alpha from a local in an explicit loop: GCC does not vectorize the
    // capturing lambdas (2.6 ms vs 0.3 ms for 1.2M values).
    case kUStep: {
      const float a = alpha;
#pragma omp parallel for simd if (n > kParallelMin) schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        const float s = v > 0.f ? 1.f : a;
        y[i] = v == v ? s : v;
      }
      break;
    }
    case kUSigmoid: unaryLoop(x, y, n, [](float v) { return 1.f / (1.f + std::exp(-v)); }); break;
    case kUTanh: unaryLoop(x, y, n, [](float v) { return std::tanh(v); }); break;
    case kUSquare: unaryLoop(x, y, n, [](float v) { return v * v; }); break;
    case kUNeg: unaryLoop(x, y, n, [](float v) { return -v; }); break;
    case kULeakyRelu: {
      const float a = alpha;
#pragma omp parallel for simd if (n > kParallelMin) schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        y[i] = v < 0.f ? a * v : v;
      }
      break;
    }
    case kUElu: unaryLoop(x, y, n, [](float v) { return v >= 0.f ? v : std::expm1(v); }); break;
    case kUExp: unaryLoop(x, y, n, [](float v) { return std::exp(v); }); break;
    case kUSqrt: unaryLoop(x, y, n, [](float v) { return std::sqrt(v); }); break;
    default: throw std::runtime_error("unary: unknown op " + std::to_string(op));
  }
  return info.Env().Undefined();
}

// binary(op, a, b, y, innerA, innerB[, shape, stridesA, stridesB]): a and b have y's size, size 1, or a size
// that divides y's size (repeated); or, with innerA / innerB > 0, that operand has one value per `inner`
// consecutive outputs; or, with the three Int32Arrays, any broadcast (see Layout).
Napi::Value Binary(const Napi::CallbackInfo &info) {
  int op = info[0].As<Napi::Number>().Int32Value();
  const float *a = floatArg(info, 1), *b = floatArg(info, 2);
  float *y = floatArg(info, 3);
  int64_t na = floatLength(info, 1), nb = floatLength(info, 2), n = floatLength(info, 3);
  int64_t innerA = info.Length() > 4 ? info[4].As<Napi::Number>().Int64Value() : 0;
  int64_t innerB = info.Length() > 5 ? info[5].As<Napi::Number>().Int64Value() : 0;
  Layout L;
  L.innerA = innerA;
  L.innerB = innerB;
  if (info.Length() > 8 && info[6].IsTypedArray()) {
    // A general broadcast: shape, strides of a, strides of b (equal lengths; every offset inside its operand).
    L.shape = intsArg(info, 6);
    L.stridesA = intsArg(info, 7);
    L.stridesB = intsArg(info, 8);
    const size_t r = L.shape.size();
    if (r == 0 || L.stridesA.size() != r || L.stridesB.size() != r) throw std::runtime_error("binary: shape and strides differ in length");
    int64_t total = 1, lastA = 0, lastB = 0;
    for (size_t d = 0; d < r; ++d) {
      if (L.shape[d] < 1 || L.stridesA[d] < 0 || L.stridesB[d] < 0) throw std::runtime_error("binary: bad broadcast layout");
      total *= L.shape[d];
      lastA += (L.shape[d] - 1) * L.stridesA[d];
      lastB += (L.shape[d] - 1) * L.stridesB[d];
    }
    if (total != n || lastA >= na || lastB >= nb) throw std::runtime_error("binary: broadcast layout outside the operands");
  } else if (innerA > 0 || innerB > 0) {
    const int64_t inner = innerA > 0 ? innerA : innerB;
    if ((innerA > 0 && innerB > 0) || n % inner != 0 || (innerA > 0 ? na : nb) != n / inner || (innerA > 0 ? nb : na) != n) {
      throw std::runtime_error("binary: row broadcast sizes do not match");
    }
  }
  auto fits = [n](int64_t m) { return m == n || m == 1 || (m > 0 && n % m == 0); };
  if (L.shape.empty() && innerA == 0 && innerB == 0 && (!fits(na) || !fits(nb) || (na != n && nb != n && na != 1 && nb != 1))) {
    throw std::runtime_error("binary: operand sizes do not broadcast");
  }
  switch (op) {
    case kAdd: binaryLoop(a, na, b, nb, y, n, [](float u, float v) { return u + v; }, L); break;
    case kSub: binaryLoop(a, na, b, nb, y, n, [](float u, float v) { return u - v; }, L); break;
    case kMul: binaryLoop(a, na, b, nb, y, n, [](float u, float v) { return u * v; }, L); break;
    case kDiv: binaryLoop(a, na, b, nb, y, n, [](float u, float v) { return u / v; }, L); break;
    case kSquaredDifference: binaryLoop(a, na, b, nb, y, n, [](float u, float v) { return (u - v) * (u - v); }, L); break;
    case kMaximum: binaryLoop(a, na, b, nb, y, n, [](float u, float v) { return u != u || v != v ? NAN : (u > v ? u : v); }, L); break;
    case kMinimum: binaryLoop(a, na, b, nb, y, n, [](float u, float v) { return u != u || v != v ? NAN : (u < v ? u : v); }, L); break;
    // Relu6's gradient (a = dy, b = x): tfjs's dy * ((x <= 6) * step(x)) in one pass. The mask is 1, 0
    // or NaN (x NaN), built from selects of constants so the loop vectorizes (branches: 30x slower).
    case kRelu6Grad:
      binaryLoop(a, na, b, nb, y, n, [](float u, float v) {
        float m = ((v > 0.f) & (v <= 6.f)) ? 1.f : 0.f;
        m = (v == v) ? m : NAN;
        return u * m;
      }, L);
      break;
    // Relu's gradient (a = dy, b = x or relu(x): the mask is the same): tfjs's dy * step(x) in one pass.
    case kReluGrad:
      binaryLoop(a, na, b, nb, y, n, [](float u, float v) {
        float m = (v > 0.f) ? 1.f : 0.f;
        m = (v == v) ? m : NAN;
        return u * m;
      }, L);
      break;
    default: throw std::runtime_error("binary: unknown op " + std::to_string(op));
  }
  return info.Env().Undefined();
}

}  // namespace convlab
