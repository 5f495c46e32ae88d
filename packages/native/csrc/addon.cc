// N-API entry: exports the kernels and a description of the library build.
#include "common.h"
#include <omp.h>
#include <pthread.h>
#include <csignal>
#include <sstream>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace convlab {

dnnl::engine &cpuEngine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream &cpuStream() {
  static dnnl::stream s(cpuEngine());
  return s;
}

float *floatArg(const Napi::CallbackInfo &info, size_t i, bool optional) {
  Napi::Value v = info[i];
  if (optional && (v.IsNull() || v.IsUndefined())) return nullptr;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a Float32Array");
  }
  return v.As<Napi::Float32Array>().Data();
}

size_t floatLength(const Napi::CallbackInfo &info, size_t i) {
  return info[i].As<Napi::Float32Array>().ElementLength();
}

void checkFloatLength(const Napi::CallbackInfo &info, size_t i, int64_t expected, const char *op, const char *what) {
  if (static_cast<int64_t>(floatLength(info, i)) != expected) {
    throw std::runtime_error(std::string(op) + ": " + what + " has " + std::to_string(floatLength(info, i)) +
                             " elements, expected " + std::to_string(expected));
  }
}

std::vector<int64_t> intsArg(const Napi::CallbackInfo &info, size_t i) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be an Int32Array");
  }
  auto a = v.As<Napi::Int32Array>();
  return std::vector<int64_t>(a.Data(), a.Data() + a.ElementLength());
}

std::string keyOf(const char *op, const std::vector<int64_t> &p, const std::vector<int64_t> &extra) {
  std::string k(op);
  for (auto v : p) k += ',' + std::to_string(v);
  k += '|';
  for (auto v : extra) k += ',' + std::to_string(v);
  return k;
}

void appendActivation(dnnl::post_ops &ops, int activation, float alpha) {
  using A = dnnl::algorithm;
  switch (activation) {
    case kLinear: return;
    case kRelu: ops.append_eltwise(1.f, A::eltwise_relu, 0.f, 0.f); return;
    case kRelu6: ops.append_eltwise(1.f, A::eltwise_clip, 0.f, 6.f); return;
    case kLeakyRelu: ops.append_eltwise(1.f, A::eltwise_relu, alpha, 0.f); return;
    case kSigmoid: ops.append_eltwise(1.f, A::eltwise_logistic, 0.f, 0.f); return;
    case kElu: ops.append_eltwise(1.f, A::eltwise_elu, 1.f, 0.f); return;
    default: throw std::runtime_error("unknown activation code " + std::to_string(activation));
  }
}

// Asynchronous signals stay blocked on the calling thread while a kernel runs. oneDNN 2.6.3's sgemm (Debian
// bookworm's libdnnl) corrupts the malloc heap when a signal is delivered to a thread inside it, even with a
// handler that does nothing: a C program calling dnnl_sgemm under setitimer(ITIMER_PROF) at 1 kHz aborted with
// "corrupted size vs. prev_size" on most runs, single-threaded too, and never with the signals blocked around
// the call. Node's --cpu-prof (SIGPROF to the main thread every millisecond) aborted every Gatys run on the
// native backend; SIGCHLD (a finished ffmpeg), SIGINT and SIGTERM can land the same way. A blocked signal is
// delivered when the kernel returns. OpenMP's worker threads are created inside these calls, so they inherit
// the blocked mask for good; Node's own threads take process-directed signals meanwhile. Synchronous signals
// (a fault in the kernel) are left unblocked so they still report where they happened.
class SignalsBlocked {
 public:
  SignalsBlocked() {
    sigset_t set;
    sigfillset(&set);
    for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT}) sigdelset(&set, s);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  SignalsBlocked(const SignalsBlocked &) = delete;
  SignalsBlocked &operator=(const SignalsBlocked &) = delete;

 private:
  sigset_t old_;
};

// Wrap a kernel so oneDNN and argument errors become JS exceptions the TypeScript side can catch
// (it then falls back to the original tfjs kernel).
template <Napi::Value (*F)(const Napi::CallbackInfo &)> Napi::Value guarded(const Napi::CallbackInfo &info) {
  SignalsBlocked blocked;
  try {
    return F(info);
  } catch (const Napi::Error &) {
    throw;
  } catch (const dnnl::error &e) {
    throw Napi::Error::New(info.Env(), std::string("oneDNN: ") + e.what() + " (status " + std::to_string(e.status) + ")");
  } catch (const std::exception &e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

static Napi::Value Info(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const dnnl_version_t *v = dnnl_version();
  Napi::Object o = Napi::Object::New(env);
  std::ostringstream version;
  version << v->major << '.' << v->minor << '.' << v->patch;
  o.Set("version", version.str());
  o.Set("threads", omp_get_max_threads());
  o.Set("cpuRuntime", v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other");
  o.Set("convCacheSize", static_cast<double>(convCacheSize()));
  o.Set("poolCacheSize", static_cast<double>(poolCacheSize()));
  o.Set("filterCacheBytes", static_cast<double>(filterCacheBytes()));
  return o;
}

static Napi::Value ClearCaches(const Napi::CallbackInfo &info) {
  clearConvCache();
  clearPoolCache();
  return info.Env().Undefined();
}

static Napi::Value SetThreads(const Napi::CallbackInfo &info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n > 0) omp_set_num_threads(n);
  return Napi::Number::New(info.Env(), omp_get_max_threads());
}

// Keep freed tensor memory in the malloc heap instead of returning it to the system. Every tfjs cpu kernel
// writes a fresh output; V8 frees the old ones at its next GC, and glibc unmaps blocks above the mmap
// threshold (and trims the heap top) at once, so the next outputs page-fault all their memory in again.
// Measured on the development VMs: the first write to 35 MB of fresh memory took 115-170 ms of CPU, a write
// to reused memory 2.5 ms. The mmap threshold cannot go above 32 MB, so blocks larger than that (VGG19's
// conv1 activations at 512 px are 58 MB) were still mapped fresh each time: with mmapMax = 0 glibc serves
// every block from the heap (a block the heap cannot hold still falls back to mmap inside glibc). Measured:
// VGG19 Gatys iteration at 512 px 2.43 s -> 1.64 s (tools/bench/gatys-app.ts --one vgg19 --jitter 0), peak
// RSS 1.76 -> 2.2 GB. Returns whether glibc took every setting (false elsewhere).
static Napi::Value KeepFreedMemory(const Napi::CallbackInfo &info) {
#if defined(__GLIBC__)
  int mmapThreshold = info[0].As<Napi::Number>().Int32Value();
  int trimThreshold = info[1].As<Napi::Number>().Int32Value();
  bool ok = mallopt(M_MMAP_THRESHOLD, mmapThreshold) == 1;
  ok = mallopt(M_TRIM_THRESHOLD, trimThreshold) == 1 && ok;
  if (info.Length() > 2 && info[2].IsNumber()) ok = mallopt(M_MMAP_MAX, info[2].As<Napi::Number>().Int32Value()) == 1 && ok;
  return Napi::Boolean::New(info.Env(), ok);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("keepFreedMemory", Napi::Function::New(env, guarded<KeepFreedMemory>));
  exports.Set("info", Napi::Function::New(env, guarded<Info>));
  exports.Set("clearCaches", Napi::Function::New(env, guarded<ClearCaches>));
  exports.Set("setThreads", Napi::Function::New(env, guarded<SetThreads>));
  exports.Set("convForward", Napi::Function::New(env, guarded<ConvForward>));
  exports.Set("convBackwardData", Napi::Function::New(env, guarded<ConvBackwardData>));
  exports.Set("convBackwardWeights", Napi::Function::New(env, guarded<ConvBackwardWeights>));
  exports.Set("poolForward", Napi::Function::New(env, guarded<PoolForward>));
  exports.Set("poolBackward", Napi::Function::New(env, guarded<PoolBackward>));
  exports.Set("matMul", Napi::Function::New(env, guarded<MatMul>));
  exports.Set("unary", Napi::Function::New(env, guarded<Unary>));
  exports.Set("binary", Napi::Function::New(env, guarded<Binary>));
  return exports;
}

}  // namespace convlab

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return convlab::Init(env, exports); }

NODE_API_MODULE(convlab_native, InitModule)
