// 2-D max and average pooling in NHWC, forward and backward. Average pooling excludes padding from
// the divisor, as TensorFlow does; its gradient is written here (tiledAverageBackward, averageBackward),
// the rest runs on oneDNN. Max-pooling gradients route each output gradient to the first
// maximum of its window (TensorFlow's rule too); oneDNN records it in a workspace during a forward
// pass, so the backward entry re-runs the forward pass on the saved input.
#include "common.h"
#include <algorithm>

namespace convlab {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// p: N IH IW C OH OW KH KW SH SW padT padL padB padR
struct Shape {
  int64_t n, ih, iw, c, oh, ow, kh, kw, sh, sw, pt, pl, pb, pr;
  explicit Shape(const std::vector<int64_t> &p) {
    if (p.size() != 14) throw std::runtime_error("pool: expected 14 shape parameters");
    n = p[0]; ih = p[1]; iw = p[2]; c = p[3]; oh = p[4]; ow = p[5]; kh = p[6]; kw = p[7];
    sh = p[8]; sw = p[9]; pt = p[10]; pl = p[11]; pb = p[12]; pr = p[13];
  }
  memory::desc src() const { return memory::desc({n, c, ih, iw}, dt::f32, tag::nhwc); }
  memory::desc dst() const { return memory::desc({n, c, oh, ow}, dt::f32, tag::nhwc); }
};

dnnl::algorithm algorithmOf(int kind) {
  return kind == 0 ? dnnl::algorithm::pooling_max : dnnl::algorithm::pooling_avg_exclude_padding;
}

dnnl::pooling_forward::desc forwardDesc(const Shape &s, dnnl::prop_kind prop, int kind) {
  return dnnl::pooling_forward::desc(prop, algorithmOf(kind), s.src(), s.dst(), {s.sh, s.sw}, {s.kh, s.kw},
                                     {s.pt, s.pl}, {s.pb, s.pr});
}

struct Entry {
  dnnl::primitive prim;
  // Backward max pooling: the training-mode forward pass that fills the workspace.
  dnnl::primitive fwd;
  memory::desc wsDesc;
  std::vector<uint8_t> workspace;
  std::vector<float> scratchDst;
};

LruCache<Entry> cache(128);

void checkLength(const Napi::CallbackInfo &info, size_t i, int64_t expected, const char *what) {
  checkFloatLength(info, i, expected, "pool", what);
}

}  // namespace

size_t poolCacheSize() { return cache.size(); }
void clearPoolCache() { cache.clear(); }

// poolForward(p, kind (0 max, 1 avg), x, y)
Napi::Value PoolForward(const Napi::CallbackInfo &info) {
  auto p = intsArg(info, 0);
  Shape s(p);
  int kind = info[1].As<Napi::Number>().Int32Value();
  float *x = floatArg(info, 2), *y = floatArg(info, 3);
  checkLength(info, 2, s.n * s.ih * s.iw * s.c, "x");
  checkLength(info, 3, s.n * s.oh * s.ow * s.c, "y");
  std::string key = keyOf("fwd", p, {kind});
  Entry *e = cache.find(key);
  if (!e) {
    auto entry = std::make_unique<Entry>();
    dnnl::pooling_forward::primitive_desc pd(forwardDesc(s, dnnl::prop_kind::forward_inference, kind), cpuEngine());
    entry->prim = dnnl::pooling_forward(pd);
    e = cache.insert(key, std::move(entry));
  }
  auto &eng = cpuEngine();
  e->prim.execute(cpuStream(), {{DNNL_ARG_SRC, memory(s.src(), eng, x)}, {DNNL_ARG_DST, memory(s.dst(), eng, y)}});
  cpuStream().wait();
  return info.Env().Undefined();
}

// Average pooling over windows that tile the input (kernel = stride, no padding), e.g. VGG's 2x2 / 2 pools: each
// input position is in at most one window, so dx is dy / (kh kw) spread over the window (0 past the last
// window). One parallel pass that writes dx once; for VGG19's pool1 at 512 px (64 channels, 416x544 -> 208x272)
// oneDNN's backward took 8-14 ms once warm (ONEDNN_VERBOSE), this 2.4-2.6 ms.
static bool tiledAverage(const Shape &s) {
  return s.kh == s.sh && s.kw == s.sw && s.pt == 0 && s.pl == 0 && s.pb == 0 && s.pr == 0 && s.oh * s.kh <= s.ih &&
         s.ow * s.kw <= s.iw;
}

static void tiledAverageBackward(const Shape &s, const float *dy, float *dx) {
  const float area = static_cast<float>(s.kh * s.kw);
  const int64_t rows = s.n * s.ih;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = r / s.ih, i = r % s.ih, oi = i / s.kh;
    float *out = dx + r * s.iw * s.c;
    if (oi >= s.oh) {
      std::fill(out, out + s.iw * s.c, 0.f);
      continue;
    }
    const float *in = dy + (b * s.oh + oi) * s.ow * s.c;
    for (int64_t j = 0; j < s.iw; ++j) {
      const int64_t oj = j / s.kw;
      float *o = out + j * s.c;
      if (oj >= s.ow) {
        std::fill(o, o + s.c, 0.f);
        continue;
      }
      const float *g = in + oj * s.c;
#pragma omp simd
      for (int64_t ch = 0; ch < s.c; ++ch) o[ch] = g[ch] / area;
    }
  }
}

// Average pooling's input gradient for any window, stride and padding (padding excluded from the divisor):
//   dx[i][j] = sum over the windows (oi, oj) that cover (i, j) of dy[oi][oj] / count(oi, oj),
// count = the window's rows inside the input times its columns inside the input. dy / count is computed once
// per output; then each input row sums the output rows that cover it (a row of ow x c values per thread) and
// each position sums that row's columns that cover it: kh + kw additions per value instead of kh * kw, and
// every thread writes whole input rows (no atomics). Five of InceptionV3's 3x3 pool shapes at 512 px (stride 1
// 'same' and stride 2 'valid', 64-768 channels; best of 20 calls, 2 threads) took 1.9 ms together here against
// 3.5 ms in oneDNN's backward kernel; inside the Gatys iteration oneDNN's seven took 20-43 ms (ONEDNN_VERBOSE).
static void averageBackward(const Shape &s, const float *dy, float *dx) {
  auto inside = [](int64_t o, int64_t k, int64_t stride, int64_t pad, int64_t size) {
    const int64_t start = o * stride - pad;
    return std::min(start + k, size) - std::max<int64_t>(start, 0);
  };
  // Reused between calls (the kernels run on the JS thread, one at a time): no fresh pages per call.
  static std::vector<float> g;
  g.resize(static_cast<size_t>(s.n * s.oh * s.ow * s.c));
  const int64_t outRows = s.n * s.oh;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < outRows; ++r) {
    const int64_t rows = inside(r % s.oh, s.kh, s.sh, s.pt, s.ih);
    for (int64_t oj = 0; oj < s.ow; ++oj) {
      const float count = static_cast<float>(rows * inside(oj, s.kw, s.sw, s.pl, s.iw));
      const float *in = dy + (r * s.ow + oj) * s.c;
      float *out = g.data() + (r * s.ow + oj) * s.c;
#pragma omp simd
      for (int64_t ch = 0; ch < s.c; ++ch) out[ch] = in[ch] / count;
    }
  }
  // The output index range [lo, hi] of the windows covering input position i: o * stride - pad <= i <= o * stride - pad + k - 1.
  auto range = [](int64_t i, int64_t k, int64_t stride, int64_t pad, int64_t outSize, int64_t &lo, int64_t &hi) {
    const int64_t a = i + pad - k + 1;
    lo = a <= 0 ? 0 : (a + stride - 1) / stride;
    hi = std::min((i + pad) / stride, outSize - 1);
  };
  const int64_t inRows = s.n * s.ih, rowLen = s.ow * s.c;
#pragma omp parallel
  {
    std::vector<float> colSum(static_cast<size_t>(rowLen));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < inRows; ++r) {
      const int64_t b = r / s.ih, i = r % s.ih;
      int64_t oiLo, oiHi;
      range(i, s.kh, s.sh, s.pt, s.oh, oiLo, oiHi);
      float *cs = colSum.data();
      std::fill(cs, cs + rowLen, 0.f);
      for (int64_t oi = oiLo; oi <= oiHi; ++oi) {
        const float *in = g.data() + (b * s.oh + oi) * rowLen;
#pragma omp simd
        for (int64_t v = 0; v < rowLen; ++v) cs[v] += in[v];
      }
      for (int64_t j = 0; j < s.iw; ++j) {
        float *out = dx + (r * s.iw + j) * s.c;
        int64_t ojLo, ojHi;
        range(j, s.kw, s.sw, s.pl, s.ow, ojLo, ojHi);
        if (ojLo > ojHi) {
          std::fill(out, out + s.c, 0.f);
          continue;
        }
        const float *first = cs + ojLo * s.c;
#pragma omp simd
        for (int64_t ch = 0; ch < s.c; ++ch) out[ch] = first[ch];
        for (int64_t oj = ojLo + 1; oj <= ojHi; ++oj) {
          const float *in = cs + oj * s.c;
#pragma omp simd
          for (int64_t ch = 0; ch < s.c; ++ch) out[ch] += in[ch];
        }
      }
    }
  }
}

// poolBackward(p, kind, x, dy, dx): x is only read for max pooling.
Napi::Value PoolBackward(const Napi::CallbackInfo &info) {
  auto p = intsArg(info, 0);
  Shape s(p);
  int kind = info[1].As<Napi::Number>().Int32Value();
  float *x = floatArg(info, 2, true), *dy = floatArg(info, 3), *dx = floatArg(info, 4);
  if (kind == 0 && !x) throw std::runtime_error("pool: max-pooling backward needs the input");
  if (x) checkLength(info, 2, s.n * s.ih * s.iw * s.c, "x");
  checkLength(info, 3, s.n * s.oh * s.ow * s.c, "dy");
  checkLength(info, 4, s.n * s.ih * s.iw * s.c, "dx");
  if (kind == 1) {
    if (tiledAverage(s)) {
      tiledAverageBackward(s, dy, dx);
    } else {
      averageBackward(s, dy, dx);
    }
    return info.Env().Undefined();
  }
  std::string key = keyOf("bwd", p, {kind});
  Entry *e = cache.find(key);
  if (!e) {
    auto entry = std::make_unique<Entry>();
    dnnl::pooling_forward::primitive_desc hint(forwardDesc(s, dnnl::prop_kind::forward_training, kind), cpuEngine());
    dnnl::pooling_backward::desc d(algorithmOf(kind), s.src(), s.dst(), {s.sh, s.sw}, {s.kh, s.kw}, {s.pt, s.pl},
                                   {s.pb, s.pr});
    dnnl::pooling_backward::primitive_desc pd(d, cpuEngine(), hint);
    entry->prim = dnnl::pooling_backward(pd);
    if (kind == 0) {
      entry->fwd = dnnl::pooling_forward(hint);
      entry->wsDesc = hint.workspace_desc();
    }
    e = cache.insert(key, std::move(entry));
  }
  auto &eng = cpuEngine();
  memory ddst(s.dst(), eng, dy), dsrc(s.src(), eng, dx);
  if (kind == 0) {
    // Buffers sized on use and released after, so a cached entry holds no activation-sized memory.
    e->workspace.resize(e->wsDesc.get_size());
    e->scratchDst.resize(s.n * s.oh * s.ow * s.c);
    memory ws(e->wsDesc, eng, e->workspace.data());
    e->fwd.execute(cpuStream(), {{DNNL_ARG_SRC, memory(s.src(), eng, x)},
                                 {DNNL_ARG_DST, memory(s.dst(), eng, e->scratchDst.data())},
                                 {DNNL_ARG_WORKSPACE, ws}});
    e->prim.execute(cpuStream(), {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_SRC, dsrc}, {DNNL_ARG_WORKSPACE, ws}});
    cpuStream().wait();
    std::vector<uint8_t>().swap(e->workspace);
    std::vector<float>().swap(e->scratchDst);
  } else {
    e->prim.execute(cpuStream(), {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_SRC, dsrc}});
    cpuStream().wait();
  }
  return info.Env().Undefined();
}

}  // namespace convlab
