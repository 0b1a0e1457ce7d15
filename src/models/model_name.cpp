// SPDX-License-Identifier: AGPL-3.0-or-later
#include "models/model_name.h"

#include <algorithm>
#include <array>

namespace focal {
namespace {

// Immich v3.1.0's supported models (machine-learning/immich_ml/models/constants.py).
constexpr std::array kInsightFace = {std::string_view("antelopev2"), std::string_view("buffalo_s"),
                                     std::string_view("buffalo_m"), std::string_view("buffalo_l")};
constexpr std::array kMClip = {
    std::string_view("XLM-Roberta-Large-Vit-B-32"), std::string_view("XLM-Roberta-Large-Vit-B-16Plus"),
    std::string_view("LABSE-Vit-L-14"), std::string_view("XLM-Roberta-Large-Vit-L-14")};
constexpr auto kOpenClip = std::to_array<std::string_view>({
    "RN101__openai",
    "RN101__yfcc15m",
    "RN50__cc12m",
    "RN50__openai",
    "RN50__yfcc15m",
    "RN50x16__openai",
    "RN50x4__openai",
    "RN50x64__openai",
    "ViT-B-16__laion400m_e31",
    "ViT-B-16__laion400m_e32",
    "ViT-B-16__openai",
    "ViT-B-16-plus-240__laion400m_e31",
    "ViT-B-16-plus-240__laion400m_e32",
    "ViT-B-32__laion2b-s34b-b79k",
    "ViT-B-32__laion2b_e16",
    "ViT-B-32__laion400m_e31",
    "ViT-B-32__laion400m_e32",
    "ViT-B-32__openai",
    "ViT-L-14__laion2b-s32b-b82k",
    "ViT-L-14__laion400m_e31",
    "ViT-L-14__laion400m_e32",
    "ViT-L-14__openai",
    "ViT-L-14-336__openai",
    "ViT-L-14-quickgelu__dfn2b",
    "ViT-H-14__laion2b-s32b-b79k",
    "ViT-H-14-quickgelu__dfn5b",
    "ViT-H-14-378-quickgelu__dfn5b",
    "ViT-g-14__laion2b-s12b-b42k",
    "ViT-B-16-SigLIP__webli",
    "ViT-B-16-SigLIP-256__webli",
    "ViT-B-16-SigLIP-384__webli",
    "ViT-B-16-SigLIP-512__webli",
    "ViT-B-16-SigLIP-i18n-256__webli",
    "ViT-L-16-SigLIP-256__webli",
    "ViT-L-16-SigLIP-384__webli",
    "ViT-SO400M-14-SigLIP-384__webli",
    "ViT-B-16-SigLIP2__webli",
    "ViT-B-32-SigLIP2-256__webli",
    "ViT-L-16-SigLIP2-256__webli",
    "ViT-L-16-SigLIP2-384__webli",
    "ViT-L-16-SigLIP2-512__webli",
    "ViT-SO400M-14-SigLIP2__webli",
    "ViT-SO400M-14-SigLIP2-378__webli",
    "ViT-SO400M-16-SigLIP2-256__webli",
    "ViT-SO400M-16-SigLIP2-384__webli",
    "ViT-SO400M-16-SigLIP2-512__webli",
    "ViT-gopt-16-SigLIP2-256__webli",
    "ViT-gopt-16-SigLIP2-384__webli",
    "XLM-Roberta-Base-ViT-B-32__laion5b_s13b_b90k",
    "XLM-Roberta-Large-ViT-H-14__frozen_laion5b_s13b_b90k",
    "nllb-clip-base-siglip__mrl",
    "nllb-clip-base-siglip__v1",
    "nllb-clip-large-siglip__mrl",
    "nllb-clip-large-siglip__v1",
});
static_assert(kOpenClip.size() == 54, "Immich v3.1.0 lists 54 OpenCLIP names");
constexpr std::array kPaddle = {
    std::string_view("PP-OCRv5_server"),        std::string_view("PP-OCRv5_mobile"),
    std::string_view("CH__PP-OCRv5_server"),    std::string_view("CH__PP-OCRv5_mobile"),
    std::string_view("EL__PP-OCRv5_mobile"),    std::string_view("EN__PP-OCRv5_mobile"),
    std::string_view("ESLAV__PP-OCRv5_mobile"), std::string_view("KOREAN__PP-OCRv5_mobile"),
    std::string_view("LATIN__PP-OCRv5_mobile"), std::string_view("TH__PP-OCRv5_mobile")};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

std::optional<Task> parse_task(std::string_view s) {
  if (s == "clip") return Task::kClip;
  if (s == "facial-recognition") return Task::kFacialRecognition;
  if (s == "ocr") return Task::kOcr;
  return std::nullopt;
}

std::optional<ModelType> parse_model_type(std::string_view s) {
  if (s == "visual") return ModelType::kVisual;
  if (s == "textual") return ModelType::kTextual;
  if (s == "detection") return ModelType::kDetection;
  if (s == "recognition") return ModelType::kRecognition;
  return std::nullopt;
}

std::string_view to_string(Task task) {
  switch (task) {
    case Task::kClip:
      return "clip";
    case Task::kFacialRecognition:
      return "facial-recognition";
    case Task::kOcr:
      return "ocr";
  }
  return "?";
}

std::string_view to_string(ModelType type) {
  switch (type) {
    case ModelType::kVisual:
      return "visual";
    case ModelType::kTextual:
      return "textual";
    case ModelType::kDetection:
      return "detection";
    case ModelType::kRecognition:
      return "recognition";
  }
  return "?";
}

std::string_view to_string(ModelSource source) {
  switch (source) {
    case ModelSource::kInsightFace:
      return "insightface";
    case ModelSource::kMClip:
      return "mclip";
    case ModelSource::kOpenClip:
      return "openclip";
    case ModelSource::kPaddle:
      return "paddle";
  }
  return "?";
}

std::string clean_model_name(std::string_view raw) {
  const auto slash = raw.rfind('/');
  if (slash != std::string_view::npos) raw.remove_prefix(slash + 1);
  std::string out;
  out.reserve(raw.size());
  for (const char c : raw) {
    if (c == '.') continue;
    out.push_back(c == ':' || c == '\\' ? '_' : c);
  }
  return out;
}

std::optional<ModelSource> model_source(std::string_view clean_name) {
  if (contains(kInsightFace, clean_name)) return ModelSource::kInsightFace;
  if (contains(kMClip, clean_name)) return ModelSource::kMClip;
  if (contains(kOpenClip, clean_name)) return ModelSource::kOpenClip;
  if (contains(kPaddle, clean_name)) return ModelSource::kPaddle;
  return std::nullopt;
}

std::vector<ModelType> model_types(Task task) {
  switch (task) {
    case Task::kClip:
      return {ModelType::kVisual, ModelType::kTextual};
    case Task::kFacialRecognition:
    case Task::kOcr:
      return {ModelType::kDetection, ModelType::kRecognition};
  }
  return {};
}

std::optional<Task> task_of_model(std::string_view clean_name) {
  const auto source = model_source(clean_name);
  if (!source) return std::nullopt;
  switch (*source) {
    case ModelSource::kInsightFace:
      return Task::kFacialRecognition;
    case ModelSource::kMClip:
    case ModelSource::kOpenClip:
      return Task::kClip;
    case ModelSource::kPaddle:
      return Task::kOcr;
  }
  return std::nullopt;
}

std::vector<std::string_view> supported_model_names(Task task) {
  std::vector<std::string_view> out;
  const auto add = [&out](const auto& names) {
    for (const std::string_view name : names) out.push_back(name);
  };
  switch (task) {
    case Task::kClip:
      add(kMClip);
      add(kOpenClip);
      break;
    case Task::kFacialRecognition:
      add(kInsightFace);
      break;
    case Task::kOcr:
      add(kPaddle);
      break;
  }
  return out;
}

Expected<std::string> validate_model_name(std::string_view raw, bool allow_any) {
  auto reject = [&](std::string_view why) {
    std::string shown(raw.substr(0, 128));
    for (auto& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    return unprocessable("Invalid model name '" + shown + "': " + std::string(why));
  };
  if (raw.empty()) return reject("empty");
  if (raw.size() > 256) return reject("longer than 256 characters");
  for (const char c : raw) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return reject("contains control characters");
  }
  if (raw.front() == '/' || raw.front() == '\\' || raw.find('\\') != std::string_view::npos) {
    return reject("absolute paths and backslashes are not allowed");
  }
  if (std::count(raw.begin(), raw.end(), '/') > 1) return reject("only the 'org/name' form may contain '/'");
  for (std::string_view part : {raw.substr(0, raw.find('/')), raw.substr(raw.rfind('/') + 1)}) {
    if (part.empty() || part == "." || part == "..") return reject("path segments '.', '..' or empty");
  }
  auto clean = clean_model_name(raw);
  const bool safe_chars = !clean.empty() && std::all_of(clean.begin(), clean.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '_' || c == '-' || c == '+';
  });
  if (!safe_chars) return reject("only letters, digits and _ - + . : are allowed");
  if (!allow_any && !model_source(clean))
    return unprocessable("Unknown model name '" + std::string(raw) + "'");
  return clean;
}

}  // namespace focal
