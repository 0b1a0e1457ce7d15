// SPDX-License-Identifier: AGPL-3.0-or-later
#include "faces/recognizer.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "faces/onnx_graph.h"

namespace focal {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

constexpr std::size_t kCropBytes = std::size_t{faces::kArcFaceSize} * faces::kArcFaceSize * 3;
constexpr std::size_t kPlane = std::size_t{faces::kArcFaceSize} * faces::kArcFaceSize;

}  // namespace

Expected<std::unique_ptr<FaceRecognizer>> FaceRecognizer::load(OrtRuntime& runtime,
                                                               const std::filesystem::path& model_file,
                                                               const SessionConfig& session_config,
                                                               const FaceRecognizerOptions& options) {
  auto session = InferenceSession::load(runtime, model_file, session_config);
  if (!session) return std::move(session).error();
  const auto& s = **session;
  const auto fail = [&](const std::string& why) {
    return internal_error("Model " + model_file.string() + " is not an ArcFace recognizer: " + why);
  };
  if (s.inputs().size() != 1) return fail("it has " + std::to_string(s.inputs().size()) + " inputs");
  const auto& input = s.inputs()[0];
  const auto fits = [](std::int64_t dim, std::int64_t want) { return dim < 0 || dim == want; };
  if (input.type != ElementType::kFloat32 || input.shape.size() != 4 || !fits(input.shape[1], 3) ||
      !fits(input.shape[2], faces::kArcFaceSize) || !fits(input.shape[3], faces::kArcFaceSize)) {
    return fail("input 0 must be float32 [N,3,112,112]");
  }
  if (s.outputs().empty() || s.outputs()[0].type != ElementType::kFloat32) {
    return fail("output 0 must be float32");
  }
  // The normalisation rule reads the graph's first node names from the ONNX file itself, as InsightFace does.
  auto names = faces::onnx_first_node_names(model_file, 8);
  if (!names) return std::move(names).error();

  std::unique_ptr<FaceRecognizer> recognizer(new FaceRecognizer());
  recognizer->mxnet_ = faces::looks_mxnet_converted(*names);
  if (input.shape[0] > 0) {
    // A fixed batch (RKNN-style exports): upstream rewrites the file to make it dynamic; focal leaves the
    // user's file alone and runs the graph at the size it declares.
    if (input.shape[0] > kMaxFacesPerRun) {
      return fail("its fixed batch of " + std::to_string(input.shape[0]) + " is above " +
                  std::to_string(kMaxFacesPerRun));
    }
    recognizer->static_batch_ = static_cast<int>(input.shape[0]);
    recognizer->faces_per_run_ = recognizer->static_batch_;
  } else if (options.max_batch_size && *options.max_batch_size > 0) {
    recognizer->faces_per_run_ = *options.max_batch_size;
  } else {
    // Immich's default batch is 1 where a new input shape means a recompile (OpenVINO, MIGraphX).
    const auto& p = s.providers();
    const bool recompiles = std::find(p.begin(), p.end(), ExecutionProvider::kOpenVino) != p.end() ||
                            std::find(p.begin(), p.end(), ExecutionProvider::kMigraphx) != p.end();
    recognizer->faces_per_run_ = recompiles ? 1 : kMaxFacesPerRun;
  }
  recognizer->session_ = std::move(*session);
  return recognizer;
}

std::vector<float> FaceRecognizer::tensor(const std::vector<std::vector<std::uint8_t>>& crops) const {
  // blobFromImages: (x - mean) * (float)(1 / std), RGB planes. 1/127.5 is not a power of two, so this
  // multiplication (not a division) is what makes the values identical to the reference's.
  const float mean = mxnet_ ? 0.0F : 127.5F;
  const float scale = mxnet_ ? 1.0F : static_cast<float>(1.0 / 127.5);
  std::array<float, 256> lut{};
  for (std::size_t v = 0; v < lut.size(); ++v) lut[v] = (static_cast<float>(v) - mean) * scale;
  std::vector<float> out(crops.size() * 3 * kPlane);
  for (std::size_t n = 0; n < crops.size(); ++n) {
    const auto& crop = crops[n];
    if (crop.size() != kCropBytes) continue;  // left at 0; callers only pass arcface_crop outputs
    float* base = out.data() + n * 3 * kPlane;
    for (std::size_t i = 0; i < kPlane; ++i) {
      base[i] = lut[crop[3 * i]];
      base[kPlane + i] = lut[crop[3 * i + 1]];
      base[2 * kPlane + i] = lut[crop[3 * i + 2]];
    }
  }
  return out;
}

Expected<std::vector<std::vector<float>>> FaceRecognizer::embed(
    const std::vector<std::vector<std::uint8_t>>& crops, FaceRecognizeTimings* timings) const {
  std::vector<std::vector<float>> embeddings;
  embeddings.reserve(crops.size());
  const auto memory = Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeCPU);
  const auto per_run = static_cast<std::size_t>(std::max(faces_per_run_, 1));
  for (std::size_t start = 0; start < crops.size(); start += per_run) {
    const std::size_t count = std::min(per_run, crops.size() - start);
    // A fixed-batch graph gets exactly its batch: the last chunk is padded with zero crops.
    const std::size_t batch = static_batch_ > 0 ? static_cast<std::size_t>(static_batch_) : count;
    auto t = Clock::now();
    std::vector<std::vector<std::uint8_t>> chunk(crops.begin() + static_cast<std::ptrdiff_t>(start),
                                                 crops.begin() + static_cast<std::ptrdiff_t>(start + count));
    chunk.resize(batch, std::vector<std::uint8_t>(kCropBytes, 0));
    auto input = tensor(chunk);
    if (timings != nullptr) timings->align_ms += ms_since(t);

    t = Clock::now();
    const std::array<std::int64_t, 4> shape{static_cast<std::int64_t>(batch), 3, faces::kArcFaceSize,
                                            faces::kArcFaceSize};
    std::array<Ort::Value, 1> inputs{
        Ort::Value::CreateTensor<float>(memory, input.data(), input.size(), shape.data(), shape.size())};
    auto outputs = session_->run(inputs);
    if (!outputs) return std::move(outputs).error();
    if (timings != nullptr) {
      timings->run_ms += ms_since(t);
      ++timings->runs;
    }
    const auto& value = (*outputs)[0];
    if (!value.IsTensor() ||
        value.GetTensorTypeAndShapeInfo().GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
      return internal_error("Face recognizer returned a non-float32 output");
    }
    const std::size_t total = value.GetTensorTypeAndShapeInfo().GetElementCount();
    if (total == 0 || total % batch != 0) {
      return internal_error("Face recognizer returned " + std::to_string(total) + " values for a batch of " +
                            std::to_string(batch));
    }
    const std::size_t dim = total / batch;
    const float* data = value.GetTensorData<float>();
    for (std::size_t i = 0; i < count; ++i) embeddings.emplace_back(data + i * dim, data + (i + 1) * dim);
  }
  return embeddings;
}

Expected<RecognizedFaces> FaceRecognizer::recognize(const RgbImage& image, const DetectedFaces& faces,
                                                    FaceRecognizeTimings* timings) const {
  RecognizedFaces result;
  if (faces.boxes.empty()) return result;  // no face: the recognizer is not run
  if (faces.landmarks.size() != faces.boxes.size() || faces.scores.size() != faces.boxes.size()) {
    return internal_error(
        "The face detector returned no landmarks (a graph without keypoint outputs), so faces cannot be "
        "aligned "
        "for recognition");
  }
  const auto t = Clock::now();
  std::vector<std::vector<std::uint8_t>> crops;
  crops.reserve(faces.landmarks.size());
  for (const auto& landmarks : faces.landmarks) crops.push_back(faces::arcface_crop(image, landmarks));
  if (timings != nullptr) timings->align_ms += ms_since(t);
  auto embeddings = embed(crops, timings);
  if (!embeddings) return std::move(embeddings).error();
  result.faces.reserve(faces.boxes.size());
  for (std::size_t i = 0; i < faces.boxes.size(); ++i) {
    result.faces.push_back({faces.boxes[i], std::move((*embeddings)[i]), faces.scores[i]});
  }
  return result;
}

}  // namespace focal
