// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ml_server/predict.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <span>

#include "infer/session.h"

namespace focal {

Reply error_reply(const Error& error) {
  const int status = http_status(error.kind);
  if (status >= 500) spdlog::error("{}", error.message);
  return {status, render_detail(error.message)};
}

namespace {

double seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

Reply predict(const PredictForm& form, const TaskRegistry& registry, const PredictLimits& limits,
              PredictObserver* observer) {
  if (!form.entries) {
    // FastAPI's validation error shape for a missing form field.
    return {
        422,
        R"({"detail":[{"type":"missing","loc":["body","entries"],"msg":"Field required","input":null}]})"};
  }
  auto entries = parse_entries(*form.entries, limits.entries);
  if (!entries) return error_reply(entries.error());

  // Image wins when both are present (text is ignored), as in Immich.
  std::optional<RgbImage> image;
  if (form.image) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(form.image->data());
    if (form.image->empty()) return error_reply(unprocessable("The image part is empty"));
    const auto decode_start = std::chrono::steady_clock::now();
    auto decoded = decode_rgb(std::span(data, form.image->size()), limits.decode);
    if (observer != nullptr) observer->on_decode(seconds(std::chrono::steady_clock::now() - decode_start));
    if (!decoded) return error_reply(decoded.error());
    image = std::move(*decoded);
  } else if (!form.text) {
    return error_reply(bad_request("Either image or text must be provided"));
  }
  if (auto st = check_dependencies(*entries); !st) return error_reply(st.error());

  PredictInputs inputs;
  inputs.image = image ? &*image : nullptr;
  inputs.text = image ? nullptr : &*form.text;

  std::vector<std::pair<Task, TaskOutput>> outputs;
  // Phase 1: independent entries; phase 2: entries consuming a phase-1 output of their task.
  for (const bool phase_two : {false, true}) {
    for (const auto& entry : *entries) {
      if (entry.has_dependency() != phase_two) continue;
      const auto where = std::string(to_string(entry.task)) + "." + std::string(to_string(entry.type));
      const bool wants_text = entry.type == ModelType::kTextual;
      if (wants_text && inputs.text == nullptr)
        return error_reply(unprocessable(where + " needs a text input"));
      if (!wants_text && inputs.image == nullptr)
        return error_reply(unprocessable(where + " needs an image input"));
      auto* handler = registry.find(entry.task, entry.type);
      if (handler == nullptr) {
        return error_reply({ErrorKind::kNotImplemented, "No model backend for " + where + " in this build"});
      }
      const TaskOutput* dependency = nullptr;
      if (phase_two) {
        for (const auto& [task, output] : outputs) {
          if (task == entry.task) dependency = &output;
        }
      }
      const auto start = std::chrono::steady_clock::now();
      const auto inference_before = inference_time_on_this_thread();
      auto output = handler->run(entry, inputs, dependency);
      if (observer != nullptr) {
        const auto inference = inference_time_on_this_thread() - inference_before;
        const auto total = std::chrono::steady_clock::now() - start;
        observer->on_entry(entry, seconds(total - inference), seconds(inference),
                           output ? nullptr : &output.error());
      }
      if (!output) return error_reply(output.error());
      outputs.emplace_back(entry.task, std::move(*output));
    }
  }
  std::optional<ImageSize> size;
  if (image) size = ImageSize{image->width, image->height};
  auto body = render_response(outputs, size);
  if (!body) return error_reply(body.error());
  return {200, std::move(*body)};
}

}  // namespace focal
