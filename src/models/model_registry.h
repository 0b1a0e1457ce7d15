// SPDX-License-Identifier: AGPL-3.0-or-later
// The model lifecycle of focal-ml (spec §3.6, issue #5): models load lazily on first use, one session per
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
  using AnyModel = std::shared_ptr<const void>;
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
    const void* get() const { return model_.get(); }
    const std::string& device() const;

   private:
    friend class ModelRegistry;
    AnyModel model_;
    std::shared_ptr<void> release_;  // runs the bookkeeping when the lease ends
    const std::string* device_ = nullptr;
  };

  template <class T>
  class Handle {
   public:
    explicit Handle(Lease lease) : lease_(std::move(lease)) {}
    const T* operator->() const { return static_cast<const T*>(lease_.get()); }
    const T& operator*() const { return *operator->(); }
    const std::string& device() const { return lease_.device(); }

   private:
    Lease lease_;
  };

  explicit ModelRegistry(RegistryOptions options, std::function<Clock::time_point()> clock = Clock::now);
  ~ModelRegistry();
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;

  const RegistryOptions& options() const;

  // One loader per (task, type); set before serving. The loader's model type must be what acquire_as names.
  void set_loader(Task task, ModelType type, Loader loader);

  Expected<Lease> acquire(const ModelKey& key);
  template <class T>
  Expected<Handle<T>> acquire_as(const ModelKey& key) {
    auto lease = acquire(key);
    if (!lease) return std::move(lease).error();
    return Handle<T>(std::move(*lease));
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
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace focal
