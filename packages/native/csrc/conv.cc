// 2-D convolutions (plain, grouped/depthwise) in NHWC with TensorFlow.js filter layouts:
// HWIO [kh, kw, in, out] for plain convolutions and [kh, kw, channels, multiplier] for depthwise.
// Source and destination stay in the caller's NHWC buffers (oneDNN's AVX-512 kernels run NHWC
// without a reorder); only the filter is reordered into the blocked layout oneDNN asks for.
#include "common.h"
#include <algorithm>
#include <cstdlib>

namespace convlab {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// p: N IH IW IC OH OW OC KH KW G SH SW DH DW padT padL padB padR (DH/DW are TensorFlow dilations,
// 1 = dense).
struct Shape {
  int64_t n, ih, iw, ic, oh, ow, oc, kh, kw, g, sh, sw, dh, dw, pt, pl, pb, pr;
  explicit Shape(const std::vector<int64_t> &p) {
    if (p.size() != 18) throw std::runtime_error("conv: expected 18 shape parameters");
    n = p[0]; ih = p[1]; iw = p[2]; ic = p[3]; oh = p[4]; ow = p[5]; oc = p[6]; kh = p[7]; kw = p[8];
    g = p[9]; sh = p[10]; sw = p[11]; dh = p[12]; dw = p[13]; pt = p[14]; pl = p[15]; pb = p[16]; pr = p[17];
  }
  memory::desc src() const { return memory::desc({n, ic, ih, iw}, dt::f32, tag::nhwc); }
  memory::desc dst() const { return memory::desc({n, oc, oh, ow}, dt::f32, tag::nhwc); }
  memory::desc bias() const { return memory::desc({oc}, dt::f32, tag::x); }
  memory::dims wdims() const {
    if (g == 1) return {oc, ic, kh, kw};
    return {g, oc / g, ic / g, kh, kw};
  }
  // The caller's filter layout.
  memory::desc userWeights() const {
    if (g == 1) return memory::desc(wdims(), dt::f32, tag::hwio);
    // Depthwise [kh, kw, g, m] (in-channels per group is 1): strides of g, o, i, kh, kw.
    int64_t m = oc / g;
    return memory::desc(wdims(), dt::f32, memory::dims{m, 1, oc, kw * oc, oc});
  }
  memory::desc anyWeights() const { return memory::desc(wdims(), dt::f32, tag::any); }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims dilates() const { return {dh - 1, dw - 1}; }
  memory::dims padL() const { return {pt, pl}; }
  memory::dims padR() const { return {pb, pr}; }
};

dnnl::convolution_forward::desc forwardDesc(const Shape &s, dnnl::prop_kind kind, bool withBias) {
  using namespace dnnl;
  if (withBias) {
    return convolution_forward::desc(kind, algorithm::convolution_direct, s.src(), s.anyWeights(), s.bias(), s.dst(),
                                     s.strides(), s.dilates(), s.padL(), s.padR());
  }
  return convolution_forward::desc(kind, algorithm::convolution_direct, s.src(), s.anyWeights(), s.dst(), s.strides(),
                                   s.dilates(), s.padL(), s.padR());
}

// A cached primitive plus the reorder between the caller's filter layout and the primitive's.
struct Entry {
  dnnl::primitive prim;
  memory::desc userW;
  memory::desc primW;
  bool needsReorder = false;
  dnnl::reorder reorder;
  std::vector<float> wbuf;  // the filter in the primitive's layout
  std::vector<float> flip;  // the spatially flipped filter (input gradient as a forward convolution)
};

LruCache<Entry> cache(256);

// oneDNN 2.6's jit_1x1 convolutions with strides > 1 ("reduce to unit stride") corrupt the heap now
// and then (seen in the filter gradient of a 1x1 stride-2 NHWC convolution with 3 input channels).
// For those shapes take the next implementation oneDNN offers.
template <typename PD> void avoidStrided1x1(PD &pd, const Shape &s) {
  if (s.kh != 1 || s.kw != 1 || (s.sh == 1 && s.sw == 1)) return;
  while (std::string(pd.impl_info_str()).find("1x1") != std::string::npos) {
    if (!pd.next_impl()) throw std::runtime_error("conv: no safe oneDNN implementation for a strided 1x1 convolution");
  }
}

void setupReorder(Entry &e, const memory::desc &user, const memory::desc &prim, bool toPrimitive) {
  e.userW = user;
  e.primW = prim;
  e.needsReorder = user != prim;
  if (e.needsReorder) {
    auto &eng = cpuEngine();
    e.reorder = toPrimitive ? dnnl::reorder(dnnl::reorder::primitive_desc(eng, user, eng, prim))
                            : dnnl::reorder(dnnl::reorder::primitive_desc(eng, prim, eng, user));
    e.wbuf.resize(prim.get_size() / sizeof(float));
  }
}

// Filter memory for the primitive: the caller's buffer, or a reordered copy.
memory weightsIn(Entry &e, float *w) {
  auto &eng = cpuEngine();
  memory user(e.userW, eng, w);
  if (!e.needsReorder) return user;
  memory prim(e.primW, eng, e.wbuf.data());
  e.reorder.execute(cpuStream(), user, prim);
  return prim;
}

void checkLength(const Napi::CallbackInfo &info, size_t i, int64_t expected, const char *what) {
  checkFloatLength(info, i, expected, "conv", what);
}

// Filters already in the primitive's layout (and flipped, for input gradients run as forward convolutions), by
// primitive key and the filter id the TypeScript side passes (src/cpu-kernels.ts filterId: the same id means
// the same values). A frozen network's filters are reordered once instead of at every call: on the 512 px
// InceptionV3 Gatys iteration the reorders took 30 ms of 160 ms of oneDNN time (ONEDNN_VERBOSE). Least
// recently used copies go beyond CONVLAB_NATIVE_WEIGHT_CACHE_MB (default 512) in all.
size_t filterBudget() {
  const char *v = std::getenv("CONVLAB_NATIVE_WEIGHT_CACHE_MB");
  return static_cast<size_t>(v ? std::max(0L, std::atol(v)) : 512L) << 20;
}

LruCache<std::vector<float>> filters(filterBudget(), [](const std::vector<float> &v) { return v.size() * sizeof(float); });

int64_t filterIdArg(const Napi::CallbackInfo &info, size_t i) {
  return info.Length() > i && info[i].IsNumber() ? info[i].As<Napi::Number>().Int64Value() : 0;
}

// The filter in the primitive's layout, from the cache when the caller gave an id (prepare writes the
// primitive-layout copy into the buffer it is given).
template <typename Prepare>
memory cachedWeights(Entry &e, const std::string &key, int64_t id, Prepare prepare) {
  std::string k = key + "#" + std::to_string(id);
  std::vector<float> *buf = filters.find(k);
  if (!buf) {
    buf = filters.insert(k, std::make_unique<std::vector<float>>(e.primW.get_size() / sizeof(float)));
    prepare(buf->data());
  }
  return memory(e.primW, cpuEngine(), buf->data());
}

// Filter memory for the primitive from the caller's filter w: the cached reordered copy when the caller gave an
// id and the layouts differ, otherwise as weightsIn.
memory filterIn(Entry &e, const std::string &key, int64_t id, float *w) {
  if (id <= 0 || !e.needsReorder) return weightsIn(e, w);
  return cachedWeights(e, key, id, [&](float *out) {
    memory user(e.userW, cpuEngine(), w), prim(e.primW, cpuEngine(), out);
    e.reorder.execute(cpuStream(), user, prim);
  });
}

}  // namespace

size_t convCacheSize() { return cache.size(); }
size_t filterCacheBytes() { return filters.total(); }
void clearConvCache() {
  cache.clear();
  filters.clear();
}

// convForward(p, x, w, bias|null, y, activation, alpha)
Napi::Value ConvForward(const Napi::CallbackInfo &info) {
  auto p = intsArg(info, 0);
  Shape s(p);
  float *x = floatArg(info, 1), *w = floatArg(info, 2), *b = floatArg(info, 3, true), *y = floatArg(info, 4);
  int act = info[5].As<Napi::Number>().Int32Value();
  float alpha = info[6].As<Napi::Number>().FloatValue();
  checkLength(info, 1, s.n * s.ih * s.iw * s.ic, "x");
  checkLength(info, 2, s.kh * s.kw * (s.ic / s.g) * s.oc, "filter");
  checkLength(info, 4, s.n * s.oh * s.ow * s.oc, "y");
  if (b) checkLength(info, 3, s.oc, "bias");
  // The activation's alpha changes the primitive, so it is part of the key (as its bit pattern).
  int32_t alphaBits;
  std::memcpy(&alphaBits, &alpha, sizeof alpha);
  std::string key = keyOf("fwd", p, {b ? 1 : 0, act, alphaBits});
  Entry *e = cache.find(key);
  if (!e) {
    auto entry = std::make_unique<Entry>();
    dnnl::post_ops ops;
    appendActivation(ops, act, alpha);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    dnnl::convolution_forward::primitive_desc pd(forwardDesc(s, dnnl::prop_kind::forward_inference, b != nullptr),
                                                 attr, cpuEngine());
    avoidStrided1x1(pd, s);
    entry->prim = dnnl::convolution_forward(pd);
    setupReorder(*entry, s.userWeights(), pd.weights_desc(), true);
    e = cache.insert(key, std::move(entry));
  }
  auto &eng = cpuEngine();
  memory src(s.src(), eng, x), dst(s.dst(), eng, y);
  const int64_t id = filterIdArg(info, 7);
  memory wm = filterIn(*e, key, id, w);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, dst}};
  if (b) args.emplace(DNNL_ARG_BIAS, memory(s.bias(), eng, b));
  e->prim.execute(cpuStream(), args);
  cpuStream().wait();
  return info.Env().Undefined();
}

// Whether the input gradient runs as a forward convolution (below). oneDNN 2.6 offers its brgemm kernels for
// forward convolutions only; its backward-data kernels ran 20-35 % slower on VGG19's 3x3 layers at 512 px
// (e.g. 256 -> 256 channels at 104x136: 51.7 ms backward, 41.1 ms as the forward convolution; 2 threads,
// AVX-512). Small channel counts (the RGB side of a first layer) stay on oneDNN's backward kernel, which is the
// faster one there.
bool gradientAsForward(const Shape &s) {
  return s.g == 1 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1 && s.ic >= 32 && s.oc >= 32 && s.pt <= s.kh - 1 &&
         s.pb <= s.kh - 1 && s.pl <= s.kw - 1 && s.pr <= s.kw - 1 && s.oh >= 1 && s.ow >= 1;
}

// The input gradient of a stride-1 convolution y[o] = sum_k x[o - pt + k] W[k] is
//   dx[i] = sum_k dy[i + pt - k] W[k] = sum_k' dy[i - (kh - 1 - pt) + k'] W[kh - 1 - k'],
// a forward convolution of dy with the spatially flipped filter, its in and out channels swapped, and the
// padding (kh - 1 - pt, kh - 1 - pb) (the same for width). The flip is a copy of kh*kw blocks of [in][out]; the
// swap is a strided view of it, which the reorder into oneDNN's layout reads.
Napi::Value convBackwardDataAsForward(const Napi::CallbackInfo &info, const std::vector<int64_t> &p, const Shape &s,
                                      float *dy, float *w, float *dx, int64_t id) {
  std::string key = keyOf("bwd_data_fwd", p);
  Entry *e = cache.find(key);
  const memory::dims fstrides{1, 1}, fdil{0, 0}, fpadL{s.kh - 1 - s.pt, s.kw - 1 - s.pl}, fpadR{s.kh - 1 - s.pb, s.kw - 1 - s.pr};
  memory::desc src({s.n, s.oc, s.oh, s.ow}, dt::f32, tag::nhwc), dst({s.n, s.ic, s.ih, s.iw}, dt::f32, tag::nhwc);
  if (!e) {
    auto entry = std::make_unique<Entry>();
    using namespace dnnl;
    memory::desc anyW({s.ic, s.oc, s.kh, s.kw}, dt::f32, tag::any);
    convolution_forward::desc d(prop_kind::forward_inference, algorithm::convolution_direct, src, anyW, dst, fstrides, fdil, fpadL, fpadR);
    convolution_forward::primitive_desc pd(d, cpuEngine());
    entry->prim = convolution_forward(pd);
    // The flipped filter keeps HWIO order [kh][kw][ic][oc]; as the new filter (out = ic, in = oc) its strides are
    // out: oc, in: 1, h: kw*ic*oc, w: ic*oc.
    memory::desc user({s.ic, s.oc, s.kh, s.kw}, dt::f32, memory::dims{s.oc, 1, s.kw * s.ic * s.oc, s.ic * s.oc});
    setupReorder(*entry, user, pd.weights_desc(), true);
    entry->flip.resize(static_cast<size_t>(s.kh * s.kw * s.ic * s.oc));
    e = cache.insert(key, std::move(entry));
  }
  const int64_t block = s.ic * s.oc;
  auto flip = [&](float *out) {
    for (int64_t h = 0; h < s.kh; h++) {
      for (int64_t x = 0; x < s.kw; x++) {
        std::memcpy(out + (h * s.kw + x) * block, w + ((s.kh - 1 - h) * s.kw + (s.kw - 1 - x)) * block,
                    static_cast<size_t>(block) * sizeof(float));
      }
    }
  };
  auto &eng = cpuEngine();
  memory srcm(src, eng, dy), dstm(dst, eng, dx);
  memory wm;
  if (id > 0) {
    wm = cachedWeights(*e, key, id, [&](float *out) {
      if (!e->needsReorder) return flip(out);
      flip(e->flip.data());
      memory user(e->userW, eng, e->flip.data()), prim(e->primW, eng, out);
      e->reorder.execute(cpuStream(), user, prim);
    });
  } else {
    flip(e->flip.data());
    wm = weightsIn(*e, e->flip.data());
  }
  e->prim.execute(cpuStream(), {{DNNL_ARG_SRC, srcm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, dstm}});
  cpuStream().wait();
  return info.Env().Undefined();
}

// convBackwardData(p, dy, w, dx): the gradient of a convolution with respect to its input.
Napi::Value ConvBackwardData(const Napi::CallbackInfo &info) {
  auto p = intsArg(info, 0);
  Shape s(p);
  float *dy = floatArg(info, 1), *w = floatArg(info, 2), *dx = floatArg(info, 3);
  checkLength(info, 1, s.n * s.oh * s.ow * s.oc, "dy");
  checkLength(info, 2, s.kh * s.kw * (s.ic / s.g) * s.oc, "filter");
  checkLength(info, 3, s.n * s.ih * s.iw * s.ic, "dx");
  const int64_t id = filterIdArg(info, 4);
  if (gradientAsForward(s) && std::getenv("CONVLAB_NATIVE_BACKWARD_DATA") == nullptr) return convBackwardDataAsForward(info, p, s, dy, w, dx, id);
  std::string key = keyOf("bwd_data", p);
  Entry *e = cache.find(key);
  if (!e) {
    auto entry = std::make_unique<Entry>();
    using namespace dnnl;
    convolution_forward::primitive_desc hint(forwardDesc(s, prop_kind::forward_training, false), cpuEngine());
    convolution_backward_data::desc d(algorithm::convolution_direct, s.src(), s.anyWeights(), s.dst(), s.strides(),
                                      s.dilates(), s.padL(), s.padR());
    convolution_backward_data::primitive_desc pd(d, cpuEngine(), hint);
    avoidStrided1x1(pd, s);
    entry->prim = convolution_backward_data(pd);
    setupReorder(*entry, s.userWeights(), pd.weights_desc(), true);
    e = cache.insert(key, std::move(entry));
  }
  auto &eng = cpuEngine();
  memory ddst(s.dst(), eng, dy), dsrc(s.src(), eng, dx);
  memory wm = filterIn(*e, key, id, w);
  e->prim.execute(cpuStream(), {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, dsrc}});
  cpuStream().wait();
  return info.Env().Undefined();
}

// convBackwardWeights(p, x, dy, dw): the gradient of a convolution with respect to its filter, written
// in the caller's filter layout.
Napi::Value ConvBackwardWeights(const Napi::CallbackInfo &info) {
  auto p = intsArg(info, 0);
  Shape s(p);
  float *x = floatArg(info, 1), *dy = floatArg(info, 2), *dw = floatArg(info, 3);
  checkLength(info, 1, s.n * s.ih * s.iw * s.ic, "x");
  checkLength(info, 2, s.n * s.oh * s.ow * s.oc, "dy");
  checkLength(info, 3, s.kh * s.kw * (s.ic / s.g) * s.oc, "filter gradient");
  std::string key = keyOf("bwd_weights", p);
  Entry *e = cache.find(key);
  if (!e) {
    auto entry = std::make_unique<Entry>();
    using namespace dnnl;
    convolution_forward::primitive_desc hint(forwardDesc(s, prop_kind::forward_training, false), cpuEngine());
    convolution_backward_weights::desc d(algorithm::convolution_direct, s.src(), s.anyWeights(), s.dst(), s.strides(),
                                         s.dilates(), s.padL(), s.padR());
    convolution_backward_weights::primitive_desc pd(d, cpuEngine(), hint);
    avoidStrided1x1(pd, s);
    entry->prim = convolution_backward_weights(pd);
    setupReorder(*entry, s.userWeights(), pd.diff_weights_desc(), false);
    e = cache.insert(key, std::move(entry));
  }
  auto &eng = cpuEngine();
  memory src(s.src(), eng, x), ddst(s.dst(), eng, dy), user(e->userW, eng, dw);
  memory dwm = e->needsReorder ? memory(e->primW, eng, e->wbuf.data()) : user;
  e->prim.execute(cpuStream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_WEIGHTS, dwm}});
  if (e->needsReorder) e->reorder.execute(cpuStream(), dwm, user);
  cpuStream().wait();
  return info.Env().Undefined();
}

}  // namespace convlab
