// SPDX-License-Identifier: AGPL-3.0-or-later
// Where Immich's OCR models come from: not the Hugging Face hub but RapidOCR 3.8's default model table (PP-OCRv5
// ONNX files on ModelScope), each checked against the SHA-256 that table gives.
//   ocr/<size name>/detection/model.onnx        <- onnx/PP-OCRv5/det/ch_PP-OCRv5_det_<mobile|server>.onnx
//   ocr/<LANG__size name>/recognition/model.onnx <- onnx/PP-OCRv5/rec/<lang>_PP-OCRv5_rec_<mobile|server>.onnx
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/error.h"
#include "models/model_name.h"

namespace focal {

// RapidOCR 3.8.1's published files: file name -> SHA-256 (lower-case hex).
std::map<std::string, std::string> rapidocr_model_checksums();

struct OcrModelFile {
  std::string
      path;  // relative to the source's endpoint, e.g. "onnx/PP-OCRv5/det/ch_PP-OCRv5_det_mobile.onnx"
  std::string sha256;  // expected content hash
};

// The source file of an OCR model of one type. `clean_name` is the full name ("EN__PP-OCRv5_mobile"): the prefix
// names the recognition language (none means Chinese), the suffix the size; the detector is always the Chinese
// one of that size. 422 for names with no published file (e.g. a server-size recognizer other than Chinese).
Expected<OcrModelFile> ocr_model_file(std::string_view clean_name, ModelType type,
                                      const std::map<std::string, std::string>& checksums);

}  // namespace focal
