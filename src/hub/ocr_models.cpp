// SPDX-License-Identifier: AGPL-3.0-or-later
#include "hub/ocr_models.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace focal {

std::map<std::string, std::string> rapidocr_model_checksums() {
  return {
      {"ch_PP-OCRv5_det_mobile.onnx", "4d97c44a20d30a81aad087d6a396b08f786c4635742afc391f6621f5c6ae78ae"},
      {"ch_PP-OCRv5_det_server.onnx", "0f8846b1d4bba223a2a2f9d9b44022fbc22cc019051a602b41a7fda9667e4cad"},
      {"ch_PP-OCRv5_rec_mobile.onnx", "5825fc7ebf84ae7a412be049820b4d86d77620f204a041697b0494669b1742c5"},
      {"ch_PP-OCRv5_rec_server.onnx", "e09385400eaaaef34ceff54aeb7c4f0f1fe014c27fa8b9905d4709b65746562a"},
      {"korean_PP-OCRv5_rec_mobile.onnx", "cd6e2ea50f6943ca7271eb8c56a877a5a90720b7047fe9c41a2e541a25773c9b"},
      {"latin_PP-OCRv5_rec_mobile.onnx", "b20bd37c168a570f583afbc8cd7925603890efbcdc000a59e22c269d160b5f5a"},
      {"eslav_PP-OCRv5_rec_mobile.onnx", "08705d6721849b1347d26187f15a5e362c431963a2a62bfff4feac578c489aab"},
      {"en_PP-OCRv5_rec_mobile.onnx", "c3461add59bb4323ecba96a492ab75e06dda42467c9e3d0c18db5d1d21924be8"},
      {"th_PP-OCRv5_rec_mobile.onnx", "de541dd83161c241ff426f7ecfd602a0ba77d686cf3ab9a6c255ea82fd08006e"},
      {"el_PP-OCRv5_rec_mobile.onnx", "b4368bccd557123c702b7549fee6cd1e94b581337d1c9b65310f109131542b7f"},
  };
}

Expected<OcrModelFile> ocr_model_file(std::string_view clean_name, ModelType type,
                                      const std::map<std::string, std::string>& checksums) {
  const std::string name(clean_name);
  std::string language = "ch";
  std::string_view rest = clean_name;
  if (const auto sep = rest.find("__"); sep != std::string_view::npos) {
    language = std::string(rest.substr(0, sep));
    std::transform(language.begin(), language.end(), language.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    rest.remove_prefix(sep + 2);
  }
  std::string size;
  if (rest == "PP-OCRv5_mobile") size = "mobile";
  if (rest == "PP-OCRv5_server") size = "server";
  if (size.empty())
    return unprocessable("'" + name + "' is not a PP-OCRv5 model name, so it is not downloaded");
  const bool detection = type == ModelType::kDetection;
  if (!detection && type != ModelType::kRecognition)
    return unprocessable("OCR models have no " + std::string(to_string(type)) + " part");
  const std::string file =
      detection ? "ch_PP-OCRv5_det_" + size + ".onnx" : language + "_PP-OCRv5_rec_" + size + ".onnx";
  const auto it = checksums.find(file);
  if (it == checksums.end())
    return unprocessable("no published OCR model file " + file + " for '" + name + "'");
  return OcrModelFile{std::string("onnx/PP-OCRv5/") + (detection ? "det/" : "rec/") + file, it->second};
}

}  // namespace focal
