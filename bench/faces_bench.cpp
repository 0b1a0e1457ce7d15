// SPDX-License-Identifier: AGPL-3.0-or-later
// facial-recognition per stage: decode, detector letterbox, detector Run, SCRFD decode + NMS, alignment
// (similarity
// + warp + normalise), recognizer Run; then the batching gain on the multi-face images (all faces in one Run
// vs one Run per face) and a batch-size sweep on the image with the most faces. Prints JSON.
//   faces_bench DETECTOR.onnx RECOGNIZER.onnx IMAGE_DIR [REPEATS] [MIN_SCORE]
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>

#include "faces/detector.h"
#include "faces/recognizer.h"
#include "image/decode.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct Photo {
  std::string name;
  focal::RgbImage image;
  focal::DetectedFaces faces;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: " << argv[0] << " DETECTOR.onnx RECOGNIZER.onnx IMAGE_DIR [REPEATS] [MIN_SCORE]\n";
    return 2;
  }
  const int repeats = argc > 4 ? std::max(1, std::atoi(argv[4])) : 3;
  const float min_score = argc > 5 ? std::strtof(argv[5], nullptr) : 0.7F;
  if (!focal::init_image_decoding(argv[0])) return 1;
  focal::OrtRuntime runtime;
  const focal::SessionConfig session;  // Immich's CPU defaults: 1 inter-op, 2 intra-op threads
  auto detector = focal::FaceDetector::load(runtime, argv[1], session);
  auto recognizer = focal::FaceRecognizer::load(runtime, argv[2], session);
  if (!detector || !recognizer) {
    std::cerr << (detector ? recognizer.error().message : detector.error().message) << "\n";
    return 1;
  }

  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> files;
  for (const auto& entry : std::filesystem::directory_iterator(argv[3])) {
    std::ifstream in(entry.path(), std::ios::binary);
    files.emplace_back(entry.path().filename().string(),
                       std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {}));
  }
  std::sort(files.begin(), files.end());

  // Pipeline stages over every image, `repeats` times.
  double decode_ms = 0;
  focal::FaceDetectTimings det;
  focal::FaceRecognizeTimings rec;
  std::size_t images = 0;
  std::size_t faces = 0;
  std::vector<Photo> photos;
  for (int r = 0; r < repeats; ++r) {
    for (const auto& [name, bytes] : files) {
      auto t = Clock::now();
      auto image = focal::decode_rgb(bytes, focal::DecodeLimits{});
      if (!image) continue;
      decode_ms += ms_since(t);
      auto found = (*detector)->detect(*image, min_score, &det);
      if (!found) return 1;
      auto embedded = (*recognizer)->recognize(*image, *found, &rec);
      if (!embedded) return 1;
      ++images;
      faces += found->boxes.size();
      if (r == 0 && found->boxes.size() >= 2) photos.push_back({name, std::move(*image), std::move(*found)});
    }
  }
  const double n = static_cast<double>(std::max<std::size_t>(images, 1));
  const double pipeline_ms = det.preprocess_ms + det.run_ms + det.postprocess_ms + rec.align_ms + rec.run_ms;

  std::ostringstream out;
  out << "{\"images\": " << images / static_cast<std::size_t>(repeats)
      << ", \"faces\": " << faces / static_cast<std::size_t>(repeats) << ", \"repeats\": " << repeats
      << ", \"min_score\": " << min_score << ",\n \"per_image_ms\": {\"decode\": " << decode_ms / n
      << ", \"det_preprocess\": " << det.preprocess_ms / n << ", \"det_run\": " << det.run_ms / n
      << ", \"det_postprocess\": " << det.postprocess_ms / n << ", \"align\": " << rec.align_ms / n
      << ", \"rec_run\": " << rec.run_ms / n << "},\n \"det_rec_images_per_s\": " << 1000.0 * n / pipeline_ms
      << ", \"det_rec_faces_per_s\": " << 1000.0 * static_cast<double>(faces) / pipeline_ms
      << ", \"with_decode_images_per_s\": " << 1000.0 * n / (pipeline_ms + decode_ms)
      << ", \"align_ms_per_face\": " << rec.align_ms / static_cast<double>(std::max<std::size_t>(faces, 1))
      << ", \"rec_run_ms_per_face\": " << rec.run_ms / static_cast<double>(std::max<std::size_t>(faces, 1));

  // Batching gain: recognizer Run time per face, all faces of the image in one Run vs one Run per face.
  auto single = focal::FaceRecognizer::load(runtime, argv[2], session, {1});
  if (!single) return 1;
  auto run_ms_per_face = [&](const focal::FaceRecognizer& model, const Photo& p) {
    focal::FaceRecognizeTimings t;
    for (int r = 0; r < repeats; ++r) {
      if (!model.recognize(p.image, p.faces, &t)) return -1.0;
    }
    return t.run_ms / (repeats * static_cast<double>(p.faces.boxes.size()));
  };
  out << ",\n \"batching\": [";
  double batched_total = 0;
  double single_total = 0;
  for (std::size_t i = 0; i < photos.size(); ++i) {
    const auto& p = photos[i];
    const double batched = run_ms_per_face(**recognizer, p);
    const double one = run_ms_per_face(**single, p);
    batched_total += batched * static_cast<double>(p.faces.boxes.size());
    single_total += one * static_cast<double>(p.faces.boxes.size());
    out << (i ? ",\n   " : "\n   ") << "{\"image\": \"" << p.name << "\", \"faces\": " << p.faces.boxes.size()
        << ", \"batched_ms_per_face\": " << batched << ", \"single_ms_per_face\": " << one
        << ", \"gain\": " << one / batched << "}";
  }
  out << "],\n \"batching_gain_overall\": " << (batched_total > 0 ? single_total / batched_total : 0);

  // Batch-size sweep on the image with the most faces.
  const auto most = std::max_element(photos.begin(), photos.end(), [](const Photo& a, const Photo& b) {
    return a.faces.boxes.size() < b.faces.boxes.size();
  });
  if (most != photos.end()) {
    out << ",\n \"batch_sweep\": {\"image\": \"" << most->name
        << "\", \"faces\": " << most->faces.boxes.size() << ", \"rec_run_ms_per_face\": {";
    bool first = true;
    for (const int batch : {1, 2, 4, 8, 16, 32, 64, focal::FaceRecognizer::kMaxFacesPerRun}) {
      auto model = focal::FaceRecognizer::load(runtime, argv[2], session, {batch});
      if (!model) return 1;
      out << (first ? "" : ", ") << "\"" << batch << "\": " << run_ms_per_face(**model, *most);
      first = false;
    }
    out << "}}";
  }
  out << "}\n";
  std::cout << out.str();
  return 0;
}
