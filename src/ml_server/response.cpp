// SPDX-License-Identifier: AGPL-3.0-or-later
#include "ml_server/response.h"

#include <cmath>
#include <span>

#include "ml_server/json_format.h"

namespace focal {
namespace {

bool all_finite(std::span<const float> v) {
  for (const float x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

bool finite_box(const FaceBox& b) {
  return std::isfinite(b.x1) && std::isfinite(b.y1) && std::isfinite(b.x2) && std::isfinite(b.y2);
}

void append_box_object(std::string& out, const FaceBox& b) {
  out += R"({"x1":)";
  append_float32(out, b.x1);
  out += R"(,"y1":)";
  append_float32(out, b.y1);
  out += R"(,"x2":)";
  append_float32(out, b.x2);
  out += R"(,"y2":)";
  append_float32(out, b.y2);
  out += '}';
}

Status append_output(std::string& out, const TaskOutput& output) {
  const Error non_finite = internal_error("Model produced a non-finite value");
  if (const auto* embedding = std::get_if<EmbeddingResult>(&output)) {
    if (!all_finite(embedding->values)) return non_finite;
    append_json_string(out, float32_array(embedding->values));
    return {};
  }
  if (const auto* detected = std::get_if<DetectedFaces>(&output)) {
    out += R"({"boxes":[)";
    for (std::size_t i = 0; i < detected->boxes.size(); ++i) {
      const auto& b = detected->boxes[i];
      if (!finite_box(b)) return non_finite;
      if (i != 0) out += ',';
      out += float32_array(std::vector<float>{b.x1, b.y1, b.x2, b.y2});
    }
    if (!all_finite(detected->scores)) return non_finite;
    out += R"(],"scores":)";
    out += float32_array(detected->scores);
    out += R"(,"landmarks":[)";
    for (std::size_t i = 0; i < detected->landmarks.size(); ++i) {
      const auto& lm = detected->landmarks[i];
      if (i != 0) out += ',';
      out += '[';
      for (std::size_t p = 0; p < 5; ++p) {
        if (!std::isfinite(lm[2 * p]) || !std::isfinite(lm[2 * p + 1])) return non_finite;
        if (p != 0) out += ',';
        out += float32_array(std::vector<float>{lm[2 * p], lm[2 * p + 1]});
      }
      out += ']';
    }
    out += "]}";
    return {};
  }
  if (const auto* detected = std::get_if<DetectedText>(&output)) {
    out += R"({"boxes":[)";
    for (std::size_t i = 0; i < detected->boxes.size(); ++i) {
      if (!all_finite(detected->boxes[i])) return non_finite;
      if (i != 0) out += ',';
      out += float32_array(detected->boxes[i]);
    }
    if (!all_finite(detected->scores)) return non_finite;
    out += R"(],"scores":)";
    out += float32_array(detected->scores);
    out += '}';
    return {};
  }
  if (const auto* text = std::get_if<RecognizedText>(&output)) {
    out += R"({"text":[)";
    for (std::size_t i = 0; i < text->text.size(); ++i) {
      if (i != 0) out += ',';
      append_json_string(out, text->text[i]);
    }
    out += R"(],"box":[)";
    for (std::size_t i = 0; i < text->boxes.size(); ++i) {
      if (!all_finite(text->boxes[i])) return non_finite;
      for (std::size_t k = 0; k < 8; ++k) {
        if (i != 0 || k != 0) out += ',';
        append_float32(out, text->boxes[i][k]);
      }
    }
    if (!all_finite(text->box_scores)) return non_finite;
    out += R"(],"boxScore":)";
    out += float32_array(text->box_scores);
    out += R"(,"textScore":[)";
    for (std::size_t i = 0; i < text->text_scores.size(); ++i) {
      if (!std::isfinite(text->text_scores[i])) return non_finite;
      if (i != 0) out += ',';
      append_float64(out, text->text_scores[i]);
    }
    out += "]}";
    return {};
  }
  const auto& faces = std::get<RecognizedFaces>(output).faces;
  out += '[';
  for (std::size_t i = 0; i < faces.size(); ++i) {
    const auto& face = faces[i];
    if (!finite_box(face.box) || !all_finite(face.embedding) || !std::isfinite(face.score)) return non_finite;
    if (i != 0) out += ',';
    out += R"({"boundingBox":)";
    append_box_object(out, face.box);
    out += R"(,"embedding":)";
    append_json_string(out, float32_array(face.embedding));
    out += R"(,"score":)";
    append_float32(out, face.score);
    out += '}';
  }
  out += ']';
  return {};
}

}  // namespace

Expected<std::string> render_response(const std::vector<std::pair<Task, TaskOutput>>& outputs,
                                      std::optional<ImageSize> image_size) {
  // Last output per task wins, in request order (deterministic, unlike upstream's race).
  std::vector<std::pair<Task, const TaskOutput*>> last;
  for (const auto& [task, output] : outputs) {
    bool replaced = false;
    for (auto& slot : last) {
      if (slot.first == task) {
        slot.second = &output;
        replaced = true;
      }
    }
    if (!replaced) last.emplace_back(task, &output);
  }
  std::string out = "{";
  for (const auto& [task, output] : last) {
    if (out.size() > 1) out += ',';
    append_json_string(out, to_string(task));
    out += ':';
    if (auto st = append_output(out, *output); !st) return st.error();
  }
  if (image_size) {
    if (out.size() > 1) out += ',';
    out += R"("imageHeight":)" + std::to_string(image_size->height) + R"(,"imageWidth":)" +
           std::to_string(image_size->width);
  }
  out += '}';
  return out;
}

std::string render_detail(std::string_view message) {
  std::string out = R"({"detail":)";
  append_json_string(out, message);
  out += '}';
  return out;
}

}  // namespace focal
