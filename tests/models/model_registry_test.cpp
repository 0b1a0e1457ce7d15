// SPDX-License-Identifier: AGPL-3.0-or-later
#include "models/model_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

namespace focal {
namespace {

using namespace std::chrono_literals;

// A clock the test moves by hand, so TTL and backoff decisions never depend on real time.
struct FakeClock {
  std::atomic<ModelRegistry::Clock::rep> ticks{ModelRegistry::Clock::duration(1h).count()};
  ModelRegistry::Clock::time_point now() const {
    return ModelRegistry::Clock::time_point(ModelRegistry::Clock::duration(ticks.load()));
  }
  void advance(ModelRegistry::Clock::duration d) { ticks += d.count(); }
};

struct Model {
  std::string device;
  int generation = 0;
};

class Registry : public ::testing::Test {
 protected:
  ModelRegistry make(std::vector<std::string> devices = {"0"}, std::chrono::seconds ttl = 10s) {
    RegistryOptions options;
    options.ttl = ttl;
    options.devices = std::move(devices);
    options.retry_backoff = 1000ms;
    options.max_retry_backoff = 4000ms;
    return ModelRegistry(options, [this] { return clock.now(); });
  }
  ModelRegistry::Loader counting_loader() {
    return [this](const ModelKey&, const std::string& device) -> Expected<ModelRegistry::AnyModel> {
      const int n = ++loads;
      return ModelRegistry::AnyModel(std::make_shared<const Model>(Model{device, n}));
    };
  }
  static ModelKey key(const std::string& name = "ViT-B-32__openai") {
    return {Task::kClip, ModelType::kVisual, name, name};
  }

  FakeClock clock;
  std::atomic<int> loads{0};
};

TEST_F(Registry, LoadsOnceAndSharesTheModel) {
  auto registry = make();
  registry.set_loader(Task::kClip, ModelType::kVisual, counting_loader());
  auto a = registry.acquire_as<Model>(key());
  auto b = registry.acquire_as<Model>(key());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(&**a, &**b);
  EXPECT_EQ(loads.load(), 1);
  EXPECT_EQ(registry.counters().loads, 1U);
}

TEST_F(Registry, ConcurrentFirstRequestsWaitForOneLoad) {
  auto registry = make();
  registry.set_loader(
      Task::kClip, ModelType::kVisual,
      [this](const ModelKey&, const std::string&) -> Expected<ModelRegistry::AnyModel> {
        std::this_thread::sleep_for(20ms);  // widen the window; the result does not depend on it
        ++loads;
        return ModelRegistry::AnyModel(std::make_shared<const Model>());
      });
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] { ok += registry.acquire(key()).ok() ? 1 : 0; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(loads.load(), 1);
}

TEST_F(Registry, ALoadingModelDoesNotBlockAnotherModel) {
  auto registry = make();
  std::promise<void> entered;
  std::promise<void> release;
  auto released = release.get_future().share();
  registry.set_loader(Task::kClip, ModelType::kVisual,
                      [&](const ModelKey& k, const std::string&) -> Expected<ModelRegistry::AnyModel> {
                        if (k.clean_name == "slow") {
                          entered.set_value();
                          released.wait();
                        }
                        return ModelRegistry::AnyModel(std::make_shared<const Model>());
                      });
  std::thread slow([&] { EXPECT_TRUE(registry.acquire(key("slow")).ok()); });
  entered.get_future().wait();
  // "slow" is mid-load and holds its own lock only: another model loads and serves meanwhile.
  EXPECT_TRUE(registry.acquire(key("fast")).ok());
  release.set_value();
  slow.join();
}

TEST_F(Registry, IdleModelIsUnloadedAfterTheTtlAndReloadedOnNextUse) {
  auto registry = make({"0"}, 10s);
  registry.set_loader(Task::kClip, ModelType::kVisual, counting_loader());
  std::weak_ptr<const void> weak;
  {
    auto lease = registry.acquire(key());
    ASSERT_TRUE(lease.ok());
  }
  clock.advance(10s);
  EXPECT_EQ(registry.unload_idle(), 0U);  // exactly the TTL is not yet "more than" it
  clock.advance(1s);
  EXPECT_EQ(registry.unload_idle(), 1U);
  EXPECT_FALSE(registry.snapshot().at(0).loaded);
  EXPECT_EQ(registry.counters().unloads, 1U);
  auto again = registry.acquire_as<Model>(key());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->generation, 2);
  EXPECT_EQ(loads.load(), 2);
}

TEST_F(Registry, InFlightRequestKeepsItsModel) {
  auto registry = make({"0"}, 10s);
  registry.set_loader(Task::kClip, ModelType::kVisual, counting_loader());
  auto lease = registry.acquire_as<Model>(key());
  ASSERT_TRUE(lease.ok());
  clock.advance(1h);
  EXPECT_EQ(registry.unload_idle(), 0U);  // in use: not idle, whatever the clock says
  EXPECT_EQ((*lease)->generation, 1);
}

TEST_F(Registry, UseResetsTheTtl) {
  auto registry = make({"0"}, 10s);
  registry.set_loader(Task::kClip, ModelType::kVisual, counting_loader());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(registry.acquire(key()).ok());
    clock.advance(8s);
    EXPECT_EQ(registry.unload_idle(), 0U);
  }
  EXPECT_EQ(loads.load(), 1);
}

TEST_F(Registry, TtlZeroNeverUnloads) {
  auto registry = make({"0"}, 0s);
  registry.set_loader(Task::kClip, ModelType::kVisual, counting_loader());
  ASSERT_TRUE(registry.acquire(key()).ok());
  clock.advance(24h);
  EXPECT_EQ(registry.unload_idle(), 0U);
}

TEST_F(Registry, PreloadedModelsArePinnedOnEveryDevice) {
  auto registry = make({"0", "1"}, 10s);
  registry.set_loader(Task::kClip, ModelType::kVisual, counting_loader());
  ASSERT_TRUE(registry.preload(key()).ok());
  EXPECT_EQ(loads.load(), 2);
  clock.advance(1h);
  EXPECT_EQ(registry.unload_idle(), 0U);
  for (const auto& slot : registry.snapshot()) {
    EXPECT_TRUE(slot.loaded);
    EXPECT_TRUE(slot.pinned);
  }
}

TEST_F(Registry, FailedLoadIsRetriedAfterABackoffThatDoubles) {
  auto registry = make();
  std::atomic<bool> fail{true};
  registry.set_loader(Task::kClip, ModelType::kVisual,
                      [&](const ModelKey&, const std::string&) -> Expected<ModelRegistry::AnyModel> {
                        ++loads;
                        if (fail) return internal_error("Failed to load model: corrupt");
                        return ModelRegistry::AnyModel(std::make_shared<const Model>());
                      });
  auto first = registry.acquire(key());
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().kind, ErrorKind::kInternal);
  // Within the backoff the error is answered without touching the model files again.
  auto second = registry.acquire(key());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("next load attempt in 1 s"), std::string::npos)
      << second.error().message;
  EXPECT_EQ(loads.load(), 1);
  clock.advance(1001ms);
  EXPECT_FALSE(registry.acquire(key()).ok());  // second failure: backoff doubles to 2 s
  EXPECT_EQ(loads.load(), 2);
  clock.advance(1500ms);
  EXPECT_FALSE(registry.acquire(key()).ok());
  EXPECT_EQ(loads.load(), 2);
  fail = false;
  clock.advance(600ms);
  EXPECT_TRUE(registry.acquire(key()).ok());  // does not stick: loads once the backoff is over
  EXPECT_EQ(loads.load(), 3);
  EXPECT_EQ(registry.counters().load_failures, 2U);
}

TEST_F(Registry, RequestsSpreadOverDevicesByOutstandingWork) {
  auto registry = make({"0", "1", "2"});
  registry.set_loader(Task::kClip, ModelType::kVisual, counting_loader());
  // One at a time: always the first device, so idle devices never load a copy they do not need.
  for (int i = 0; i < 3; ++i) {
    auto lease = registry.acquire_as<Model>(key());
    ASSERT_TRUE(lease.ok());
    EXPECT_EQ(lease->device(), "0");
  }
  EXPECT_EQ(loads.load(), 1);
  // Held concurrently: each new request goes to the least busy device.
  std::vector<ModelRegistry::Handle<Model>> held;
  std::multiset<std::string> used;
  for (int i = 0; i < 6; ++i) {
    auto lease = registry.acquire_as<Model>(key());
    ASSERT_TRUE(lease.ok());
    EXPECT_EQ((*lease)->device, lease->device());  // the session was loaded for that device
    used.insert(lease->device());
    held.push_back(std::move(*lease));
  }
  EXPECT_EQ(used, (std::multiset<std::string>{"0", "0", "1", "1", "2", "2"}));
  EXPECT_EQ(loads.load(), 3);
  held.erase(held.begin() + 2);  // frees one on device "2"
  auto next = registry.acquire_as<Model>(key());
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->device(), "2");
}

TEST_F(Registry, ADeviceThatFailsToLoadIsAvoidedDuringItsBackoff) {
  auto registry = make({"0", "1"});
  registry.set_loader(Task::kClip, ModelType::kVisual,
                      [&](const ModelKey&, const std::string& device) -> Expected<ModelRegistry::AnyModel> {
                        if (device == "1") return internal_error("out of device memory");
                        return ModelRegistry::AnyModel(std::make_shared<const Model>(Model{device, 1}));
                      });
  auto busy = registry.acquire_as<Model>(key());
  ASSERT_TRUE(busy.ok());
  EXPECT_FALSE(registry.acquire(key()).ok());  // device "1" was least busy and failed
  auto fallback = registry.acquire_as<Model>(key());
  ASSERT_TRUE(fallback.ok());  // now in backoff: device "0" takes the work
  EXPECT_EQ(fallback->device(), "0");
}

TEST_F(Registry, AcquiringAsAnotherTypeIsAnErrorNotACrash) {
  struct Other {
    std::vector<double> values;
  };
  auto registry = make();
  registry.set_loader(Task::kClip, ModelType::kVisual, counting_loader());
  auto wrong = registry.acquire_as<Other>(key());
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().kind, ErrorKind::kInternal);
  EXPECT_NE(wrong.error().message.find("different model type"), std::string::npos) << wrong.error().message;
  EXPECT_EQ(registry.snapshot().at(0).outstanding, 0);  // the refused lease was released
  auto right = registry.acquire_as<Model>(key());
  ASSERT_TRUE(right.ok());
  EXPECT_EQ((*right)->generation, 1);  // the same load serves the right type
  EXPECT_EQ(loads.load(), 1);
}

TEST_F(Registry, MissingLoaderIsNotImplemented) {
  auto registry = make();
  auto lease = registry.acquire({Task::kOcr, ModelType::kDetection, "PP-OCRv5_mobile", "PP-OCRv5_mobile"});
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.error().kind, ErrorKind::kNotImplemented);
}

TEST_F(Registry, ReaperUnloadsOnItsOwnThread) {
  auto registry = make({"0"}, 1s);
  registry.set_loader(Task::kClip, ModelType::kVisual, counting_loader());
  ASSERT_TRUE(registry.acquire(key()).ok());
  clock.advance(2s);
  std::promise<std::size_t> unloaded;
  registry.start_reaper(1ms, [&](std::size_t n) { unloaded.set_value(n); });
  auto result = unloaded.get_future();
  ASSERT_EQ(result.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(result.get(), 1U);
  registry.stop_reaper();
}

}  // namespace
}  // namespace focal
