// SPDX-License-Identifier: AGPL-3.0-or-later
// Parsing of ML service responses: every number checked, every error naming the URL that sent it.
#include <cmath>
#include <limits>
#include <optional>

#include "ml_client/ml_client.h"

namespace focal::ml {
namespace {

using nlohmann::json;

// Face recognizers output 128 (MobileFaceNet) to 512 (ArcFace) values; the cap only rejects nonsense.
constexpr std::size_t kMaxFaceEmbeddingDim = 8192;

// Parses a JSON array (or a JSON string holding one) of finite numbers into floats.
Expected<std::vector<float>> parse_float_array(const json& value, std::string_view what,
                                               std::string_view url) {
  const auto fail = [&](const std::string& why) -> Error {
    return Error{ErrorKind::kInternal, "Machine learning response from \"" + std::string(url) +
                                           "\": " + std::string(what) + " " + why};
  };
  json array;
  if (value.is_string()) {
    array = json::parse(value.get_ref<const std::string&>(), nullptr, false);
    if (array.is_discarded()) return fail("is not a JSON array string");
  } else {
    array = value;
  }
  if (!array.is_array()) return fail("is not an array");
  if (array.empty()) return fail("is empty");
  std::vector<float> out;
  out.reserve(array.size());
  for (const auto& element : array) {
    if (!element.is_number()) return fail("contains a non-number");
    const double number = element.get<double>();
    if (!std::isfinite(number) || std::fabs(number) > std::numeric_limits<float>::max())
      return fail("contains a non-finite value");
    out.push_back(static_cast<float>(number));
  }
  return out;
}

Expected<int> parse_dimension(const json& body, const char* key, std::string_view url) {
  auto found = body.find(key);
  if (found == body.end() || !found->is_number_integer() || found->get<long long>() <= 0 ||
      found->get<long long>() > 1'000'000)
    return Error{ErrorKind::kInternal, "Machine learning response from \"" + std::string(url) + "\": " + key +
                                           " is missing or not a positive integer"};
  return static_cast<int>(found->get<long long>());
}

}  // namespace

Expected<std::vector<float>> parse_clip_embedding(const json& body, std::string_view url) {
  if (!body.is_object() || !body.contains("clip"))
    return Error{ErrorKind::kInternal,
                 "Machine learning response from \"" + std::string(url) + "\" has no \"clip\""};
  return parse_float_array(body.at("clip"), "clip embedding", url);
}

Expected<FaceDetection> parse_face_detection(const json& body, std::string_view url) {
  const auto fail = [&](const std::string& why) -> Error {
    return Error{ErrorKind::kInternal, "Machine learning response from \"" + std::string(url) + "\": " + why};
  };
  if (!body.is_object()) return fail("not a JSON object");
  auto faces = body.find("facial-recognition");
  if (faces == body.end() || !faces->is_array())
    return fail("\"facial-recognition\" is missing or not an array");
  FaceDetection result;
  auto width = parse_dimension(body, "imageWidth", url);
  if (!width) return width.error();
  auto height = parse_dimension(body, "imageHeight", url);
  if (!height) return height.error();
  result.image_width = *width;
  result.image_height = *height;
  for (const auto& face : *faces) {
    if (!face.is_object()) return fail("a face is not an object");
    DetectedFace out;
    auto box = face.find("boundingBox");
    if (box == face.end() || !box->is_object()) return fail("a face has no boundingBox");
    int* coordinates[] = {&out.box.x1, &out.box.y1, &out.box.x2, &out.box.y2};
    const char* names[] = {"x1", "y1", "x2", "y2"};
    for (int i = 0; i < 4; ++i) {
      auto value = box->find(names[i]);
      if (value == box->end() || !value->is_number() || !std::isfinite(value->get<double>()) ||
          std::fabs(value->get<double>()) > 1e9)
        return fail(std::string("boundingBox.") + names[i] + " is missing or not a number");
      *coordinates[i] = static_cast<int>(std::lround(value->get<double>()));
    }
    auto score = face.find("score");
    if (score == face.end() || !score->is_number() || !std::isfinite(score->get<double>()))
      return fail("a face has no numeric score");
    out.score = static_cast<float>(score->get<double>());
    auto embedding = face.find("embedding");
    if (embedding == face.end()) return fail("a face has no embedding");
    auto vector = parse_float_array(*embedding, "face embedding", url);
    if (!vector) return vector.error();
    if (vector->empty() || vector->size() > kMaxFaceEmbeddingDim)
      return fail("face embedding has " + std::to_string(vector->size()) + " values, expected 1 to " +
                  std::to_string(kMaxFaceEmbeddingDim));
    if (!result.faces.empty() && result.faces.front().embedding.size() != vector->size())
      return fail("face embeddings of different sizes (" +
                  std::to_string(result.faces.front().embedding.size()) + " and " +
                  std::to_string(vector->size()) + ") in one response");
    out.embedding = std::move(*vector);
    result.faces.push_back(std::move(out));
  }
  return result;
}

Expected<std::vector<TextLine>> parse_ocr(const json& body, std::string_view url) {
  const auto fail = [&](const std::string& why) -> Error {
    return Error{ErrorKind::kInternal, "Machine learning response from \"" + std::string(url) + "\": " + why};
  };
  if (!body.is_object()) return fail("not a JSON object");
  const auto ocr = body.find("ocr");
  if (ocr == body.end() || !ocr->is_object()) return fail("\"ocr\" is missing or not an object");
  const auto list = [&](const char* key) -> const json* {
    const auto it = ocr->find(key);
    return it != ocr->end() && it->is_array() ? &*it : nullptr;
  };
  const json* text = list("text");
  const json* box = list("box");
  const json* box_score = list("boxScore");
  const json* text_score = list("textScore");
  if (!text || !box || !box_score || !text_score)
    return fail("ocr.text, box, boxScore or textScore is missing");
  const std::size_t n = text->size();
  if (box->size() != 8 * n || box_score->size() != n || text_score->size() != n)
    return fail("ocr lists of different lengths (" + std::to_string(n) + " texts, " +
                std::to_string(box->size()) + " box numbers)");
  const auto number = [](const json& v, double lo, double hi) -> std::optional<float> {
    if (!v.is_number()) return std::nullopt;
    const double d = v.get<double>();
    if (!std::isfinite(d) || d < lo || d > hi) return std::nullopt;
    return static_cast<float>(d);
  };
  std::vector<TextLine> lines(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (!(*text)[i].is_string()) return fail("ocr.text[" + std::to_string(i) + "] is not a string");
    lines[i].text = (*text)[i].get<std::string>();
    for (std::size_t k = 0; k < 8; ++k) {
      auto v = number((*box)[8 * i + k], -1.0, 2.0);
      if (!v) return fail("ocr.box[" + std::to_string(8 * i + k) + "] is not a normalised coordinate");
      lines[i].box[k] = *v;
    }
    auto bs = number((*box_score)[i], 0.0, 1.0);
    auto ts = number((*text_score)[i], 0.0, 1.0);
    if (!bs || !ts) return fail("ocr scores of line " + std::to_string(i) + " are not numbers in [0, 1]");
    lines[i].box_score = *bs;
    lines[i].text_score = *ts;
  }
  return lines;
}

}  // namespace focal::ml
