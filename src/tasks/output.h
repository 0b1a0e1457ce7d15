// SPDX-License-Identifier: AGPL-3.0-or-later
// Typed task results (Immich's /predict outputs). Model code produces these; ml_server renders them as JSON.
#pragma once

#include <array>
#include <string>
#include <variant>
#include <vector>

namespace focal {

struct EmbeddingResult {  // clip.visual / clip.textual
  std::vector<float> values;
};

struct FaceBox {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
};

struct DetectedFaces {  // facial-recognition.detection on its own
  std::vector<FaceBox> boxes;
  std::vector<float> scores;
  std::vector<std::array<float, 10>> landmarks;  // five (x, y) points per face
};

struct RecognizedFace {
  FaceBox box;
  std::vector<float> embedding;
  float score = 0;
};

struct RecognizedFaces {  // facial-recognition.recognition (after detection)
  std::vector<RecognizedFace> faces;
};

// A text line's quadrilateral: TL, TR, BR, BL as x, y pairs.
using TextQuad = std::array<float, 8>;

struct DetectedText {           // ocr.detection on its own: pixel coordinates
  std::vector<TextQuad> boxes;  // reading order
  // Detection order: upstream reorders only the boxes, so scores[i] may belong to another box (kept as is).
  std::vector<float> scores;
};

struct RecognizedText {  // ocr.recognition (after detection): one entry per kept line
  std::vector<std::string> text;
  std::vector<TextQuad> boxes;  // normalised to [0, 1] by the image width (x) and height (y)
  std::vector<float> box_scores;
  std::vector<double> text_scores;  // rounded to 5 decimals
};

using TaskOutput =
    std::variant<EmbeddingResult, DetectedFaces, RecognizedFaces, DetectedText, RecognizedText>;

}  // namespace focal
