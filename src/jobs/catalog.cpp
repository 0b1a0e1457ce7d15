// SPDX-License-Identifier: AGPL-3.0-or-later
// The queues and jobs focal knows (Immich's names), their states and outcomes as text, and what their payloads
// mean.
#include <array>

#include "jobs/jobs.h"

namespace focal::jobs {
namespace {

constexpr std::array<QueueInfo, 8> kQueues{{
    {queue::kMetadataExtraction, 5, false, job::kAssetExtractMetadataQueueAll},
    {queue::kThumbnailGeneration, 3, false, job::kAssetGenerateThumbnailsQueueAll},
    {queue::kSmartSearch, 2, false, job::kSmartSearchQueueAll},
    {queue::kFaceDetection, 2, false, job::kAssetDetectFacesQueueAll},
    {queue::kFacialRecognition, 1, true, job::kFacialRecognitionQueueAll},
    {queue::kDuplicateDetection, 1, true, job::kAssetDetectDuplicatesQueueAll},
    {queue::kOcr, 1, false, job::kOcrQueueAll},
    {queue::kBackgroundTask, 5, false, ""},
}};

struct JobQueueName {
  std::string_view job;
  std::string_view queue;
};
constexpr std::array<JobQueueName, 16> kJobQueues{{
    {job::kAssetExtractMetadataQueueAll, queue::kMetadataExtraction},
    {job::kAssetExtractMetadata, queue::kMetadataExtraction},
    {job::kAssetGenerateThumbnailsQueueAll, queue::kThumbnailGeneration},
    {job::kAssetGenerateThumbnails, queue::kThumbnailGeneration},
    {job::kSmartSearchQueueAll, queue::kSmartSearch},
    {job::kSmartSearch, queue::kSmartSearch},
    {job::kAssetDetectFacesQueueAll, queue::kFaceDetection},
    {job::kAssetDetectFaces, queue::kFaceDetection},
    {job::kFacialRecognitionQueueAll, queue::kFacialRecognition},
    {job::kFacialRecognition, queue::kFacialRecognition},
    {job::kAssetDetectDuplicatesQueueAll, queue::kDuplicateDetection},
    {job::kAssetDetectDuplicates, queue::kDuplicateDetection},
    {job::kOcrQueueAll, queue::kOcr},
    {job::kOcr, queue::kOcr},
    {job::kPersonCleanup, queue::kBackgroundTask},
    {job::kPersonGenerateThumbnail, queue::kThumbnailGeneration},
}};

std::optional<bool> flag(const nlohmann::json& data, const char* key) {
  const auto found = data.find(key);
  if (found == data.end() || !found->is_boolean()) return std::nullopt;
  return found->get<bool>();
}

}  // namespace

std::span<const QueueInfo> known_queues() { return kQueues; }

const QueueInfo* find_queue(std::string_view name) {
  for (const auto& info : kQueues) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

std::string_view queue_of(std::string_view job_name) {
  for (const auto& entry : kJobQueues) {
    if (entry.job == job_name) return entry.queue;
  }
  return {};
}

std::string_view to_string(JobOutcome outcome) {
  switch (outcome) {
    case JobOutcome::kSuccess:
      return "success";
    case JobOutcome::kSkipped:
      return "skipped";
    case JobOutcome::kFailed:
      return "failed";
  }
  return "failed";
}

std::string_view to_string(JobState state) {
  switch (state) {
    case JobState::kWaiting:
      return "waiting";
    case JobState::kDelayed:
      return "delayed";
    case JobState::kActive:
      return "active";
    case JobState::kFailed:
      return "failed";
  }
  return "waiting";
}

std::optional<JobState> parse_job_state(std::string_view text) {
  for (auto state : {JobState::kWaiting, JobState::kDelayed, JobState::kActive, JobState::kFailed}) {
    if (to_string(state) == text) return state;
  }
  return std::nullopt;
}

JobPayload parse_payload(const nlohmann::json& data) {
  JobPayload payload;
  if (!data.is_object()) return payload;
  if (const auto id = data.find("id"); id != data.end() && id->is_number_integer())
    payload.id = id->get<std::int64_t>();
  if (const auto source = data.find("source"); source != data.end() && source->is_string())
    payload.source = source->get<std::string>();
  payload.force = flag(data, "force");
  payload.notify = flag(data, "notify").value_or(false);
  payload.nightly = flag(data, "nightly").value_or(false);
  payload.deferred = flag(data, "deferred").value_or(false);
  return payload;
}

Expected<std::int64_t> Job::target_id() const {
  if (const std::optional<std::int64_t> target = payload().id) return *target;
  return unprocessable(name + ": the job's data needs an integer id, got " + data.dump().substr(0, 200));
}

}  // namespace focal::jobs
