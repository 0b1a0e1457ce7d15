// SPDX-License-Identifier: AGPL-3.0-or-later
#include "models/model_registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <tuple>

namespace focal {
namespace {

using Clock = ModelRegistry::Clock;

std::string describe(const ModelKey& key) {
  return std::string(to_string(key.task)) + "." + std::string(to_string(key.type)) + " model '" +
         key.requested_name + "'";
}

// Anonymous: other components have their own Slot/Entry types, and one program may not hold two definitions.
struct Slot {
  explicit Slot(std::string id) : device(std::move(id)) {}
  const std::string device;
  std::mutex mutex;  // held while this (model, device) loads or unloads; never while another slot loads
  // Guarded by mutex:
  ModelRegistry::AnyModel model;
  int failures = 0;
  std::optional<Error> last_error;
  // Readable without the lock (device choice, snapshots, the reaper's first look):
  std::atomic<bool> loaded{false};
  std::atomic<bool> pinned{false};  // preloaded: exempt from the TTL
  std::atomic<std::int64_t> outstanding{0};
  std::atomic<Clock::rep> last_used{0};
  std::atomic<Clock::rep> retry_at{0};
};

struct Entry {
  ModelKey key;
  std::vector<std::shared_ptr<Slot>> slots;
};

}  // namespace

struct ModelRegistry::Impl {
  RegistryOptions options;
  std::function<Clock::time_point()> clock;
  std::map<std::pair<Task, ModelType>, Loader> loaders;  // written before serving only

  mutable std::shared_mutex mutex;  // guards the map, never held while loading
  std::map<std::tuple<Task, ModelType, std::string>, std::shared_ptr<Entry>> entries;

  std::atomic<std::uint64_t> loads{0};
  std::atomic<std::uint64_t> load_failures{0};
  std::atomic<std::uint64_t> unloads{0};

  std::mutex reaper_mutex;
  std::condition_variable reaper_wake;
  bool reaper_stop = false;
  std::thread reaper;

  Clock::rep now() const { return clock().time_since_epoch().count(); }

  std::shared_ptr<Entry> entry(const ModelKey& key) {
    const auto id = std::make_tuple(key.task, key.type, key.clean_name);
    {
      const std::shared_lock lock(mutex);
      const auto it = entries.find(id);
      if (it != entries.end()) return it->second;
    }
    const std::unique_lock lock(mutex);
    auto& e = entries[id];
    if (!e) {
      e = std::make_shared<Entry>();
      e->key = key;
      for (const auto& device : options.devices) e->slots.push_back(std::make_shared<Slot>(device));
    }
    return e;
  }

  // Least outstanding work wins; ties go to a loaded session (no second copy while one suffices), then to
  // the first device. Devices waiting out a load backoff are used only when every device is.
  std::shared_ptr<Slot> choose(const Entry& e) const {
    const auto t = now();
    std::shared_ptr<Slot> best;
    auto rank = [t](const Slot& s) {
      return std::make_tuple(s.retry_at.load() > t && !s.loaded.load(), s.outstanding.load(),
                             !s.loaded.load());
    };
    for (const auto& slot : e.slots) {
      if (!best || rank(*slot) < rank(*best)) best = slot;
    }
    return best;
  }

  // Loads into `slot` (its mutex held). Records failures for the backoff.
  Status load_locked(const ModelKey& key, Slot& slot) {
    if (slot.model) return {};
    const auto t = clock();
    if (slot.last_error && t.time_since_epoch().count() < slot.retry_at.load()) {
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
          Clock::duration(slot.retry_at.load() - t.time_since_epoch().count()));
      return Error{slot.last_error->kind, slot.last_error->message + " (next load attempt in " +
                                              std::to_string((wait.count() + 999) / 1000) + " s)"};
    }
    const auto loader = loaders.find({key.task, key.type});
    if (loader == loaders.end()) {
      return Error{ErrorKind::kNotImplemented, "No model backend for " + std::string(to_string(key.task)) +
                                                   "." + std::string(to_string(key.type)) + " in this build"};
    }
    auto loaded = loader->second(key, slot.device);
    if (!loaded) {
      load_failures.fetch_add(1);
      ++slot.failures;
      auto backoff = options.retry_backoff;
      for (int i = 1; i < slot.failures && backoff < options.max_retry_backoff; ++i) backoff *= 2;
      backoff = std::min(backoff, options.max_retry_backoff);
      slot.retry_at.store((clock() + backoff).time_since_epoch().count());
      slot.last_error = loaded.error();
      spdlog::warn("Failed to load {} on device {} (attempt {}), retrying after {} ms: {}", describe(key),
                   slot.device, slot.failures, backoff.count(), loaded.error().message);
      return std::move(loaded).error();
    }
    slot.model = std::move(*loaded);
    slot.failures = 0;
    slot.last_error.reset();
    slot.retry_at.store(0);
    slot.last_used.store(now());
    slot.loaded.store(true);
    loads.fetch_add(1);
    return {};
  }
};

ModelRegistry::Lease::~Lease() = default;

const std::string& ModelRegistry::Lease::device() const {
  static const std::string none;
  return device_ != nullptr ? *device_ : none;
}

ModelRegistry::ModelRegistry(RegistryOptions options, std::function<Clock::time_point()> clock)
    : impl_(std::make_unique<Impl>()) {
  if (options.devices.empty()) options.devices.emplace_back("0");
  impl_->options = std::move(options);
  impl_->clock = std::move(clock);
}

ModelRegistry::~ModelRegistry() { stop_reaper(); }

const RegistryOptions& ModelRegistry::options() const { return impl_->options; }

void ModelRegistry::set_loader(Task task, ModelType type, Loader loader) {
  impl_->loaders[{task, type}] = std::move(loader);
}

Expected<ModelRegistry::Lease> ModelRegistry::acquire(const ModelKey& key) {
  const auto entry = impl_->entry(key);
  const auto slot = impl_->choose(*entry);
  if (!slot) return internal_error("No device to load " + describe(key) + " on");
  // Counted before loading so that concurrent first requests spread over devices.
  slot->outstanding.fetch_add(1);
  Impl* impl = impl_.get();
  std::shared_ptr<void> release(nullptr, [slot, impl](void*) {
    slot->last_used.store(impl->now());
    slot->outstanding.fetch_sub(1);
  });
  Lease lease;
  {
    const std::lock_guard lock(slot->mutex);
    if (auto st = impl_->load_locked(key, *slot); !st) return st.error();
    lease.model_ = slot->model;
    slot->last_used.store(impl_->now());
  }
  lease.release_ = std::move(release);
  lease.device_ = &slot->device;
  return lease;
}

Error ModelRegistry::wrong_model_type(const ModelKey& key) {
  return internal_error(describe(key) + " was loaded as a different model type than the one asked for");
}

Status ModelRegistry::preload(const ModelKey& key) {
  const auto entry = impl_->entry(key);
  for (const auto& slot : entry->slots) {
    const std::lock_guard lock(slot->mutex);
    if (!slot->model) spdlog::info("Preloading {} on device {}", describe(key), slot->device);
    if (auto st = impl_->load_locked(key, *slot); !st) return st;
    slot->pinned.store(true);
  }
  return {};
}

std::size_t ModelRegistry::unload_idle() {
  if (impl_->options.ttl.count() <= 0) return 0;
  std::vector<std::shared_ptr<Entry>> entries;
  {
    const std::shared_lock lock(impl_->mutex);
    for (const auto& [id, e] : impl_->entries) entries.push_back(e);
  }
  const auto ttl = std::chrono::duration_cast<Clock::duration>(impl_->options.ttl).count();
  std::size_t dropped = 0;
  for (const auto& e : entries) {
    for (const auto& slot : e->slots) {
      if (!slot->loaded.load() || slot->outstanding.load() != 0) continue;
      const std::unique_lock lock(slot->mutex, std::try_to_lock);
      if (!lock.owns_lock() || slot->pinned.load() || !slot->model || slot->outstanding.load() != 0) continue;
      if (impl_->now() - slot->last_used.load() <= ttl) continue;
      spdlog::info("Unloading {} on device {} after {} s idle", describe(e->key), slot->device,
                   impl_->options.ttl.count());
      // Counted before the slot reads as unloaded, so a metrics scrape never sees the model gone without its
      // unload (freeing the session below takes a while).
      impl_->unloads.fetch_add(1);
      slot->loaded.store(false);
      slot->model = {};  // in-flight leases, if any raced in, keep their copy alive
      ++dropped;
    }
  }
  return dropped;
}

void ModelRegistry::start_reaper(std::chrono::milliseconds poll,
                                 std::function<void(std::size_t)> after_unload) {
  stop_reaper();
  {
    const std::lock_guard lock(impl_->reaper_mutex);
    impl_->reaper_stop = false;
  }
  impl_->reaper = std::thread([this, poll, after = std::move(after_unload)] {
    std::unique_lock lock(impl_->reaper_mutex);
    while (!impl_->reaper_wake.wait_for(lock, poll, [this] { return impl_->reaper_stop; })) {
      lock.unlock();
      const auto n = unload_idle();
      if (n > 0 && after) after(n);
      lock.lock();
    }
  });
}

void ModelRegistry::stop_reaper() {
  {
    const std::lock_guard lock(impl_->reaper_mutex);
    impl_->reaper_stop = true;
  }
  impl_->reaper_wake.notify_all();
  if (impl_->reaper.joinable()) impl_->reaper.join();
}

std::vector<ModelRegistry::SlotInfo> ModelRegistry::snapshot() const {
  std::vector<SlotInfo> out;
  const std::shared_lock lock(impl_->mutex);
  for (const auto& [id, e] : impl_->entries) {
    for (const auto& slot : e->slots) {
      SlotInfo info;
      info.key = e->key;
      info.device = slot->device;
      info.loaded = slot->loaded.load();
      info.outstanding = slot->outstanding.load();
      info.pinned = slot->pinned.load();
      out.push_back(std::move(info));
    }
  }
  return out;
}

ModelRegistry::Counters ModelRegistry::counters() const {
  return {impl_->loads.load(), impl_->load_failures.load(), impl_->unloads.load()};
}

}  // namespace focal
