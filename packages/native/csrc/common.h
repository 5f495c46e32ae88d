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

// A least-recently-used map from a key to a cached entry. Entries hold oneDNN primitives, which own their
// (possibly large) kernels, or filter copies, so the cache is bounded: by the sum of the entries' costs (by
// default 1 each, a count), evicting the least recently used first.
template <typename T> class LruCache {
 public:
  using Cost = size_t (*)(const T &);
  explicit LruCache(size_t capacity, Cost cost = [](const T &) -> size_t { return 1; }) : capacity_(capacity), cost_(cost) {}
  T *find(const std::string &key) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second.second);
    return it->second.first.get();
  }
  T *insert(const std::string &key, std::unique_ptr<T> value) {
    const size_t c = cost_(*value);
    while (!order_.empty() && total_ + c > capacity_) {
      auto victim = map_.find(order_.back());
      total_ -= cost_(*victim->second.first);
      map_.erase(victim);
      order_.pop_back();
    }
    order_.push_front(key);
    T *raw = value.get();
    map_.emplace(key, std::make_pair(std::move(value), order_.begin()));
    total_ += c;
    return raw;
  }
  size_t size() const { return map_.size(); }
  // The sum of the entries' costs.
  size_t total() const { return total_; }
  void clear() {
    map_.clear();
    order_.clear();
    total_ = 0;
  }

 private:
  size_t capacity_;
  Cost cost_;
  size_t total_ = 0;
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
