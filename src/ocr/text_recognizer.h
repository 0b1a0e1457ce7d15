// SPDX-License-Identifier: AGPL-3.0-or-later
// PP-OCR CTC text recognizer: each detected box cropped by a perspective transform, crops sorted by aspect
// ratio and run in batches (height 48, padded to the widest of the batch), greedy CTC decoding with the
// character list stored in the model's metadata (`character`), lines kept above minScore.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "image/decode.h"
#include "infer/session.h"
#include "tasks/output.h"

namespace focal {

struct TextRecognizerOptions {
  std::optional<int> max_batch_size;  // MACHINE_LEARNING_MAX_BATCH_SIZE__OCR; unset: 6
};

class TextRecognizer {
 public:
  static Expected<std::unique_ptr<TextRecognizer>> load(OrtRuntime& runtime,
                                                        const std::filesystem::path& model_file,
                                                        const SessionConfig& session_config,
                                                        const TextRecognizerOptions& options = {});

  // Thread-safe. Lines whose score is strictly above `min_score`, in the detector's box order.
  Expected<RecognizedText> recognize(const RgbImage& image, const DetectedText& detected,
                                     float min_score) const;

  std::size_t character_count() const { return characters_.size(); }

 private:
  TextRecognizer() = default;
  std::unique_ptr<InferenceSession> session_;
  std::vector<std::string> characters_;  // index 0 is the CTC blank
  int batch_size_ = 6;  // crops per Run unless MAX_BATCH_SIZE__OCR says otherwise (RapidOCR's rec_batch_num)
};

// The metadata character list split into lines the way Python's str.splitlines does (\n, \r, \r\n, \v, \f,
// \x1c-\x1e, U+0085, U+2028, U+2029), as the reference reads it.
std::vector<std::string> split_character_lines(std::string_view text);

}  // namespace focal
