// Loads each model once, on first use, with a per-model lock: a model that is loading never blocks requests
// for other models, and concurrent first requests for the same model wait for one load instead of racing.
// A failed load is not remembered, so the next request tries again (upstream keeps answering 500).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/error.h"

namespace focal {

template <class T>
class LazyCache {
 public:
  using Loader = std::function<Expected<std::shared_ptr<const T>>()>;

  Expected<std::shared_ptr<const T>> get(const std::string& key, const Loader& load) {
    std::shared_ptr<Slot> slot;
    {
      const std::lock_guard lock(mutex_);
      auto& entry = slots_[key];
      if (!entry) entry = std::make_shared<Slot>();
      slot = entry;
    }
    const std::lock_guard lock(slot->mutex);
    if (slot->value) return slot->value;
    auto loaded = load();
    if (!loaded) return std::move(loaded).error();
    slot->value = *loaded;
    return slot->value;
  }

 private:
  struct Slot {
    std::mutex mutex;
    std::shared_ptr<const T> value;
  };
  std::mutex mutex_;  // guards the map only, never held while loading
  std::map<std::string, std::shared_ptr<Slot>> slots_;
};

}  // namespace focal
