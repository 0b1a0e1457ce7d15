// SPDX-License-Identifier: AGPL-3.0-or-later
// Model identity: tasks, types, name cleaning and source detection, with Immich's rules and model lists.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace focal {

enum class Task { kClip, kFacialRecognition, kOcr };
enum class ModelType { kVisual, kTextual, kDetection, kRecognition };
enum class ModelSource { kInsightFace, kMClip, kOpenClip, kPaddle };

std::optional<Task> parse_task(std::string_view s);
std::optional<ModelType> parse_model_type(std::string_view s);
std::string_view to_string(Task task);
std::string_view to_string(ModelType type);
std::string_view to_string(ModelSource source);

// Immich's clean_name: last '/'-segment, ':' '\' '/' -> '_', '.' removed.
std::string clean_model_name(std::string_view raw);

// Source of a cleaned name, checked in Immich's order (InsightFace, M-CLIP, OpenCLIP, Paddle).
std::optional<ModelSource> model_source(std::string_view clean_name);

// The model types a task's models have, e.g. visual and textual for CLIP.
std::vector<ModelType> model_types(Task task);
// The task a supported (cleaned) model name belongs to; nullopt for names outside Immich's lists.
std::optional<Task> task_of_model(std::string_view clean_name);
// Immich's supported names of a task, in list order.
std::vector<std::string_view> supported_model_names(Task task);

// Validates a model name from a request and returns its cleaned form. Rejects names that could escape the
// cache folder or are not a supported model (unless allow_any, in which case only the safety rules apply).
Expected<std::string> validate_model_name(std::string_view raw, bool allow_any = false);

}  // namespace focal
