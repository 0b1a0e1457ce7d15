// SPDX-License-Identifier: AGPL-3.0-or-later
// The model lifecycle of focal-ml (issue #5): models load lazily on first use, one session per
// (model, device), with a lock per (model, device) so a loading model never blocks requests for any other.
// Requests go to the device with the least outstanding work. Models idle for longer than the TTL are unloaded
// in process (their sessions and ORT arenas are destroyed once the last in-flight request lets go); preloaded
// models are pinned. A failed load is retried after a backoff that doubles per consecutive failure, instead
// of failing until restart as upstream does.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <vector>

#include "core/error.h"
#include "models/model_name.h"

namespace focal {

struct ModelKey {
  Task task = Task::kClip;
  ModelType type = ModelType::kVisual;
  std::string clean_name;      // identity: aliases with the same clean name share one model
  std::string requested_name;  // for messages
};

struct RegistryOptions {
  std::chrono::seconds ttl{300};                       // 0: never unload
  std::vector<std::string> devices{"0"};               // one session per model per device id
  std::chrono::milliseconds retry_backoff{1000};       // after the first failed load
  std::chrono::milliseconds max_retry_backoff{60000};  // cap of the doubling
};

class ModelRegistry {
 public:
  using Clock = std::chrono::steady_clock;
  // A loaded model and its type, so that acquire_as checks what it hands out instead of trusting the caller.
  class AnyModel {
   public:
    AnyModel() = default;
    template <class T>
    explicit AnyModel(std::shared_ptr<T> model) : model_(std::move(model)), type_(typeid(T)) {}
    explicit operator bool() const { return model_ != nullptr; }
    // The model if it is exactly a T, else null.
    template <class T>
    const T* get_if() const {
      return type_ == typeid(T) ? static_cast<const T*>(model_.get()) : nullptr;
    }

   private:
    std::shared_ptr<const void> model_;
    std::type_index type_ = typeid(void);
  };
  // Loads `key` for one device (its id from RegistryOptions::devices).
  using Loader = std::function<Expected<AnyModel>(const ModelKey& key, const std::string& device_id)>;

  // A model in use: keeps it alive (an unload only drops the registry's reference) and counts as outstanding
  // work on its device until destroyed.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) noexcept = default;
    ~Lease();
    const std::string& device() const;

   private:
    friend class ModelRegistry;
    AnyModel model_;
    std::shared_ptr<void> release_;  // runs the bookkeeping when the lease ends
    const std::string* device_ = nullptr;
  };

  // A lease whose model was checked to be a T.
  template <class T>
  class Handle {
   public:
    const T* operator->() const { return model_; }
    const T& operator*() const { return *model_; }
    const std::string& device() const { return lease_.device(); }

   private:
    friend class ModelRegistry;
    Handle(Lease lease, const T* model) : lease_(std::move(lease)), model_(model) {}
    Lease lease_;
    const T* model_;
  };

  explicit ModelRegistry(RegistryOptions options, std::function<Clock::time_point()> clock = Clock::now);
  ~ModelRegistry();
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;

  const RegistryOptions& options() const;

  // One loader per (task, type); set before serving. acquire_as checks the model type the loader made.
  void set_loader(Task task, ModelType type, Loader loader);

  Expected<Lease> acquire(const ModelKey& key);
  // An internal error, not undefined behaviour, when the loader of `key` made something other than a T.
  template <class T>
  Expected<Handle<T>> acquire_as(const ModelKey& key) {
    auto lease = acquire(key);
    if (!lease) return std::move(lease).error();
    const T* model = lease->model_.template get_if<T>();
    if (model == nullptr) return wrong_model_type(key);
    return Handle<T>(std::move(*lease), model);
  }

  // Loads `key` on every device and pins it: never unloaded by the TTL (Immich stores preloads without one).
  Status preload(const ModelKey& key);

  // Unloads every unpinned model idle for longer than the TTL with no request using it; returns how many
  // sessions were dropped. Never waits for a model that is loading.
  std::size_t unload_idle();

  // Runs unload_idle every `poll` on a thread of its own, calling `after_unload(n)` when n > 0 sessions went.
  void start_reaper(std::chrono::milliseconds poll, std::function<void(std::size_t)> after_unload);
  void stop_reaper();

  struct SlotInfo {
    ModelKey key;
    std::string device;
    bool loaded = false;
    bool pinned = false;
    std::int64_t outstanding = 0;
  };
  std::vector<SlotInfo> snapshot() const;

  struct Counters {
    std::uint64_t loads = 0;
    std::uint64_t load_failures = 0;
    std::uint64_t unloads = 0;
  };
  Counters counters() const;

 private:
  static Error wrong_model_type(const ModelKey& key);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace focal
