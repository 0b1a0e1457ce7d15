// SPDX-License-Identifier: AGPL-3.0-or-later
// How a model family registers its tasks. Per (task, type) it needs a ModelRegistry loader (cache lookup, the
// load log line, the session for the device) and a TaskHandler that leases the model for each entry; that
// wiring is the same for every family, so a family states only how to load its model and how to run it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "infer/runtime.h"
#include "infer/session.h"
#include "models/model_context.h"
#include "tasks/tasks.h"

namespace focal {

// Builds a model from its files in the cache with the session settings for one device.
template <class Model>
using ModelLoad = std::function<Expected<std::unique_ptr<Model>>(
    OrtRuntime& runtime, const ModelKey& key, const ModelLocation& location, const SessionConfig& session)>;

namespace detail {
template <class Model, class Dependency>
struct ModelRunOf {
  using Type = std::function<Expected<TaskOutput>(const Model& model, const Entry& entry,
                                                  const PredictInputs& inputs, const Dependency& dependency)>;
};
template <class Model>
struct ModelRunOf<Model, void> {
  using Type = std::function<Expected<TaskOutput>(const Model& model, const Entry& entry,
                                                  const PredictInputs& inputs)>;
};
}  // namespace detail

// Runs one entry on the leased model. A phase-2 task names its Dependency, the detection output it consumes.
template <class Model, class Dependency = void>
using ModelRun = typename detail::ModelRunOf<Model, Dependency>::Type;

class ModelTasks {
 public:
  // Models go to context.registry (a private one when it has none, see with_registry).
  ModelTasks(TaskRegistry& tasks, const ModelContext& context);

  // Registers (task, type). `what` names the model in the log line "Loading <what> model '<name>' to memory".
  template <class Model, class Dependency = void>
  void add(Task task, ModelType type, std::string what, ModelLoad<Model> load,
           ModelRun<Model, Dependency> run) {
    models_->set_loader(
        task, type,
        [context = loader_context_, what = std::move(what), load = std::move(load)](
            const ModelKey& key, const std::string& device) -> Expected<ModelRegistry::AnyModel> {
          auto location = find_model_to_load(context, key, what);
          if (!location) return std::move(location).error();
          auto loaded = load(*context.runtime, key, *location, context.session_for(key, device));
          if (!loaded) return std::move(loaded).error();
          return ModelRegistry::AnyModel(std::shared_ptr<const Model>(std::move(*loaded)));
        });
    tasks_.add(task, type, std::make_shared<Handler<Model, Dependency>>(models_, std::move(run)));
  }

 private:
  template <class Model, class Dependency>
  class Handler final : public TaskHandler {
   public:
    Handler(std::shared_ptr<ModelRegistry> models, ModelRun<Model, Dependency> run)
        : models_(std::move(models)), run_(std::move(run)) {}

    Expected<TaskOutput> run(const Entry& entry, const PredictInputs& inputs,
                             const TaskOutput* dependency) override {
      if constexpr (std::is_void_v<Dependency>) {
        auto model = models_->template acquire_as<Model>(model_key(entry));
        if (!model) return std::move(model).error();
        return run_(**model, entry, inputs);
      } else {
        const auto* input = dependency != nullptr ? std::get_if<Dependency>(dependency) : nullptr;
        if (input == nullptr) return missing_dependency(entry);
        // Loaded even when detection found nothing, like upstream (which loads before predicting): a missing
        // or broken model is reported whatever the image shows.
        auto model = models_->template acquire_as<Model>(model_key(entry));
        if (!model) return std::move(model).error();
        return run_(**model, entry, inputs, *input);
      }
    }

   private:
    std::shared_ptr<ModelRegistry> models_;
    ModelRun<Model, Dependency> run_;
  };

  static ModelKey model_key(const Entry& entry);
  static Error missing_dependency(const Entry& entry);
  // find_cached_model for `key`, then the load log line.
  static Expected<ModelLocation> find_model_to_load(const ModelContext& context, const ModelKey& key,
                                                    std::string_view what);

  TaskRegistry& tasks_;
  std::shared_ptr<ModelRegistry> models_;
  // Without the registry: the loaders that copy it live in the registry, so holding it would be a cycle (a leak).
  ModelContext loader_context_;
};

}  // namespace focal
