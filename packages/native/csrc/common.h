// Shared pieces of the convlab oneDNN addon: the engine and stream, argument helpers, and a small
// primitive cache keyed by the shape parameters (creating a oneDNN primitive costs far more than a
// small convolution, and a training loop asks for the same shapes every iteration).
#pragma once
#include <napi.h>
#include <dnnl.hpp>
#include <cstdint>
#include <cstring>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace convlab {

dnnl::engine &cpuEngine();
dnnl::stream &cpuStream();

// Typed-array arguments: the data pointer of a Float32Array / Int32Array (no copy), or nullptr for
// null/undefined where optional.
float *floatArg(const Napi::CallbackInfo &info, size_t i, bool optional = false);
std::vector<int64_t> intsArg(const Napi::CallbackInfo &info, size_t i);
size_t floatLength(const Napi::CallbackInfo &info, size_t i);
// Throws "<op>: <what> has N elements, expected M" when argument i has the wrong length.
void checkFloatLength(const Napi::CallbackInfo &info, size_t i, int64_t expected, const char *op, const char *what);

std::string keyOf(const char *op, const std::vector<int64_t> &p, const std::vector<int64_t> &extra = {});

// A least-recently-used map from a shape key to a cached entry. Entries hold oneDNN primitives, which
// own their (possibly large) kernels, so the cache is bounded.
template <typename T> class LruCache {
 public:
  explicit LruCache(size_t capacity) : capacity_(capacity) {}
  T *find(const std::string &key) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second.second);
    return it->second.first.get();
  }
  T *insert(const std::string &key, std::unique_ptr<T> value) {
    if (map_.size() >= capacity_) {
      map_.erase(order_.back());
      order_.pop_back();
    }
    order_.push_front(key);
    T *raw = value.get();
    map_.emplace(key, std::make_pair(std::move(value), order_.begin()));
    return raw;
  }
  size_t size() const { return map_.size(); }
  void clear() {
    map_.clear();
    order_.clear();
  }

 private:
  size_t capacity_;
  std::list<std::string> order_;
  std::unordered_map<std::string, std::pair<std::unique_ptr<T>, std::list<std::string>::iterator>> map_;
};

// Activation codes shared with the TypeScript side (src/addon.ts).
enum Activation { kLinear = 0, kRelu = 1, kRelu6 = 2, kLeakyRelu = 3, kSigmoid = 4, kElu = 5 };
void appendActivation(dnnl::post_ops &ops, int activation, float alpha);

// Entry points registered in addon.cc.
Napi::Value ConvForward(const Napi::CallbackInfo &info);
Napi::Value ConvBackwardData(const Napi::CallbackInfo &info);
Napi::Value ConvBackwardWeights(const Napi::CallbackInfo &info);
Napi::Value PoolForward(const Napi::CallbackInfo &info);
Napi::Value PoolBackward(const Napi::CallbackInfo &info);
Napi::Value MatMul(const Napi::CallbackInfo &info);
Napi::Value Unary(const Napi::CallbackInfo &info);
Napi::Value Binary(const Napi::CallbackInfo &info);
size_t convCacheSize();
size_t filterCacheBytes();
size_t poolCacheSize();
void clearConvCache();
void clearPoolCache();

}  // namespace convlab
