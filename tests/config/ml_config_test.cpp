// SPDX-License-Identifier: AGPL-3.0-or-later
#include "config/ml_config.h"

#include <gtest/gtest.h>

namespace focal {
namespace {

MlConfig parse_ok(const EnvMap& env) {
  auto cfg = parse_ml_config(env, 8);
  EXPECT_TRUE(cfg.ok()) << (cfg.ok() ? "" : cfg.error().message);
  return cfg.ok() ? *cfg : MlConfig{};
}

std::string parse_error(const EnvMap& env) {
  auto cfg = parse_ml_config(env, 8);
  EXPECT_FALSE(cfg.ok());
  return cfg.ok() ? "" : cfg.error().message;
}

TEST(MlConfig, ImmichDefaults) {
  const auto cfg = parse_ok({{"HOME", "/home/u"}});
  EXPECT_EQ(cfg.cache_folder, "/home/u/.cache/immich_ml");
  EXPECT_EQ(cfg.model_ttl, 300);
  EXPECT_EQ(cfg.model_ttl_poll_s, 10);
  EXPECT_EQ(cfg.workers, 1);
  EXPECT_EQ(cfg.worker_timeout, 300);
  EXPECT_EQ(cfg.http_keepalive_timeout_s, 2);
  EXPECT_EQ(cfg.request_threads, 8);  // CPU count
  EXPECT_EQ(cfg.model_inter_op_threads, 0);
  EXPECT_EQ(cfg.model_intra_op_threads, 0);
  EXPECT_TRUE(cfg.model_arena);
  EXPECT_TRUE(cfg.ann);
  EXPECT_FALSE(cfg.ann_fp16_turbo);
  EXPECT_EQ(cfg.ann_tuning_level, 2);
  EXPECT_TRUE(cfg.rknn);
  EXPECT_EQ(cfg.rknn_threads, 1);
  EXPECT_EQ(cfg.openvino_precision, "FP32");
  EXPECT_EQ(cfg.device_ids, std::vector<std::string>{"0"});
  EXPECT_FALSE(cfg.max_batch_size.facial_recognition.has_value());
  EXPECT_EQ(cfg.host, "[::]");
  EXPECT_EQ(cfg.port, 3003);
  EXPECT_EQ(cfg.log_level, "info");
}

TEST(MlConfig, CpuCountFallsBackToFour) { EXPECT_EQ(parse_ml_config({}, 0)->request_threads, 4); }

TEST(MlConfig, RocmDeviceRaisesWorkerTimeoutButEnvWins) {
  EXPECT_EQ(parse_ok({{"DEVICE", "rocm"}}).worker_timeout, 900);
  EXPECT_EQ(parse_ok({{"DEVICE", "rocm"}, {"MACHINE_LEARNING_WORKER_TIMEOUT", "120"}}).worker_timeout, 120);
}

TEST(MlConfig, NamesAreCaseInsensitive) {
  const auto cfg = parse_ok({{"machine_learning_model_ttl", "5"}, {"Machine_Learning_Model_Arena", "false"}});
  EXPECT_EQ(cfg.model_ttl, 5);
  EXPECT_FALSE(cfg.model_arena);
}

TEST(MlConfig, BooleanSpellings) {
  for (const char* t : {"true", "TRUE", "1", "yes", "on", "t", "y", " True "}) {
    EXPECT_TRUE(parse_ok({{"MACHINE_LEARNING_ANN_FP16_TURBO", t}}).ann_fp16_turbo) << t;
  }
  for (const char* f : {"false", "0", "no", "off", "f", "n"}) {
    EXPECT_FALSE(parse_ok({{"MACHINE_LEARNING_MODEL_ARENA", f}}).model_arena) << f;
  }
  EXPECT_NE(parse_error({{"MACHINE_LEARNING_MODEL_ARENA", "maybe"}}).find("MACHINE_LEARNING_MODEL_ARENA"),
            std::string::npos);
}

TEST(MlConfig, IntegersAreValidatedWithTheVariableName) {
  EXPECT_NE(parse_error({{"MACHINE_LEARNING_MODEL_TTL", "abc"}}).find("MACHINE_LEARNING_MODEL_TTL"),
            std::string::npos);
  EXPECT_NE(parse_error({{"MACHINE_LEARNING_MODEL_TTL", "-1"}}).find(">= 0"), std::string::npos);
  EXPECT_NE(parse_error({{"MACHINE_LEARNING_WORKERS", "0"}}).find("MACHINE_LEARNING_WORKERS"),
            std::string::npos);
  EXPECT_NE(parse_error({{"MACHINE_LEARNING_MODEL_TTL", "1.5"}}).find("integer"), std::string::npos);
  EXPECT_NE(parse_error({{"MACHINE_LEARNING_ANN_TUNING_LEVEL", "4"}}).find("0, 1, 2 or 3"),
            std::string::npos);
  EXPECT_EQ(parse_ok({{"MACHINE_LEARNING_REQUEST_THREADS", "0"}}).request_threads,
            0);  // inline mode is valid
  EXPECT_EQ(parse_ok({{"MACHINE_LEARNING_MODEL_TTL", " 60 "}}).model_ttl, 60);
}

TEST(MlConfig, PreloadFromNestedVariables) {
  const auto cfg =
      parse_ok({{"MACHINE_LEARNING_PRELOAD__CLIP__TEXTUAL", "ViT-B-32__openai, XLM-Roberta-Large-Vit-B-32"},
                {"MACHINE_LEARNING_PRELOAD__FACIAL_RECOGNITION__DETECTION", "buffalo_l"},
                {"MACHINE_LEARNING_PRELOAD__OCR__RECOGNITION", "PP-OCRv5_mobile,"}});
  EXPECT_EQ(cfg.preload.clip_textual,
            (std::vector<std::string>{"ViT-B-32__openai", "XLM-Roberta-Large-Vit-B-32"}));
  EXPECT_EQ(cfg.preload.facial_recognition_detection, std::vector<std::string>{"buffalo_l"});
  EXPECT_EQ(cfg.preload.ocr_recognition, std::vector<std::string>{"PP-OCRv5_mobile"});
  EXPECT_TRUE(cfg.preload.clip_visual.empty());
}

TEST(MlConfig, PreloadFromJsonGroupWithNestedOverride) {
  const auto cfg = parse_ok({{"MACHINE_LEARNING_PRELOAD", R"({"clip":{"textual":"a","visual":"b"}})"},
                             {"MACHINE_LEARNING_PRELOAD__CLIP__VISUAL", "c"}});
  EXPECT_EQ(cfg.preload.clip_textual, std::vector<std::string>{"a"});
  EXPECT_EQ(cfg.preload.clip_visual, std::vector<std::string>{"c"});
  EXPECT_NE(parse_error({{"MACHINE_LEARNING_PRELOAD", "not json"}}).find("JSON object"), std::string::npos);
}

TEST(MlConfig, MaxBatchSize) {
  const auto cfg = parse_ok({{"MACHINE_LEARNING_MAX_BATCH_SIZE__FACIAL_RECOGNITION", "2"}});
  EXPECT_EQ(cfg.max_batch_size.facial_recognition, 2);
  EXPECT_FALSE(cfg.max_batch_size.ocr.has_value());
  EXPECT_EQ(parse_ok({{"MACHINE_LEARNING_MAX_BATCH_SIZE", R"({"ocr": 4})"}}).max_batch_size.ocr, 4);
  EXPECT_NE(parse_error({{"MACHINE_LEARNING_MAX_BATCH_SIZE__OCR", "0"}}).find("MAX_BATCH_SIZE__OCR"),
            std::string::npos);
}

TEST(MlConfig, DeviceIdsStripSpaces) {
  EXPECT_EQ(parse_ok({{"MACHINE_LEARNING_DEVICE_IDS", " 0, 1 ,2"}}).device_ids,
            (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_FALSE(parse_error({{"MACHINE_LEARNING_DEVICE_IDS", " , "}}).empty());
}

TEST(MlConfig, Precisions) {
  EXPECT_EQ(parse_ok({{"MACHINE_LEARNING_OPENVINO_PRECISION", "fp16"}}).openvino_precision, "FP16");
  EXPECT_EQ(parse_ok({{"MACHINE_LEARNING_ROCM_PRECISION", "FP16"}}).rocm_precision, "FP16");
  EXPECT_FALSE(parse_error({{"MACHINE_LEARNING_OPENVINO_PRECISION", "INT8"}}).empty());
}

TEST(MlConfig, ProcessSettings) {
  const auto cfg = parse_ok({{"IMMICH_HOST", "0.0.0.0"},
                             {"IMMICH_PORT", "3004"},
                             {"IMMICH_LOG_LEVEL", "Verbose"},
                             {"NO_COLOR", "1"}});
  EXPECT_EQ(cfg.host, "0.0.0.0");
  EXPECT_EQ(cfg.port, 3004);
  EXPECT_EQ(cfg.log_level, "verbose");
  EXPECT_TRUE(cfg.no_color);
  EXPECT_NE(parse_error({{"IMMICH_PORT", "70000"}}).find("IMMICH_PORT"), std::string::npos);
  EXPECT_NE(parse_error({{"IMMICH_LOG_LEVEL", "loud"}}).find("IMMICH_LOG_LEVEL"), std::string::npos);
  EXPECT_FALSE(parse_ok({{"NO_COLOR", ""}}).no_color);  // no-color.org: only a non-empty value counts
}

TEST(MlConfig, FocalSettings) {
  const auto cfg =
      parse_ok({{"FOCAL_ML_EXECUTION_PROVIDERS", "CUDA, cpu"}, {"FOCAL_ML_MAX_BODY_BYTES", "1048576"}});
  EXPECT_EQ(cfg.execution_providers, (std::vector<std::string>{"cuda", "cpu"}));
  EXPECT_EQ(cfg.max_body_bytes, 1048576U);
  EXPECT_NE(parse_error({{"FOCAL_ML_EXECUTION_PROVIDERS", "tpu"}}).find("tpu"), std::string::npos);
  EXPECT_NE(parse_error({{"FOCAL_ML_MAX_BODY_BYTES", "12"}}).find("FOCAL_ML_MAX_BODY_BYTES"),
            std::string::npos);
}

TEST(MlConfig, UnknownSettingsAreIgnored) {
  EXPECT_EQ(parse_ok({{"MACHINE_LEARNING_NOT_A_SETTING", "1"}}).model_ttl, 300);
}

TEST(MlConfig, PrintsEffectiveConfigAsJson) {
  const auto json = parse_ok({{"MACHINE_LEARNING_MODEL_TTL", "7"}}).to_json();
  EXPECT_NE(json.find("\"model_ttl\": 7"), std::string::npos);
  EXPECT_NE(json.find("\"preload\""), std::string::npos);
}

}  // namespace
}  // namespace focal
