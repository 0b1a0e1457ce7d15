// SPDX-License-Identifier: AGPL-3.0-or-later
// The ONNX node-name reader behind the ArcFace normalisation rule: hand-built protobufs (including malformed
// ones, which must fail cleanly) and the generated recognizer.
#include "faces/onnx_graph.h"

#include <gtest/gtest.h>

#include <fstream>

namespace focal::faces {
namespace {

std::string varint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}

std::string field(std::uint64_t number, const std::string& payload) {
  return varint(number << 3 | 2) + varint(payload.size()) + payload;
}

std::string node(const std::string& name, const std::string& op) {
  std::string n = field(1, "in") + field(2, "out") + field(4, op);  // input, output, op_type
  if (!name.empty()) n += field(3, name);
  return n;
}

std::filesystem::path write_temp(const std::string& name, const std::string& bytes) {
  const auto path = std::filesystem::temp_directory_path() / ("focal-onnx-graph-" + name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(OnnxGraph, ReadsNodeNamesInGraphOrderSkippingOtherFields) {
  std::string graph = field(1, node("_minus0", "Sub")) + field(2, "graph-name") + field(1, node("", "Mul")) +
                      field(5, std::string(5000, 'w')) + field(1, node("_mul1", "Mul"));
  std::string model = varint(1 << 3 | 0) + varint(8) + field(2, "producer") + field(7, graph) +
                      field(8, varint(2 << 3 | 0) + varint(17));
  const auto path = write_temp("ok.onnx", model);
  auto names = onnx_first_node_names(path, 8);
  ASSERT_TRUE(names.ok()) << names.error().message;
  EXPECT_EQ(*names, (std::vector<std::string>{"_minus0", "", "_mul1"}));
  auto two = onnx_first_node_names(path, 2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2U);
  EXPECT_TRUE(looks_mxnet_converted(*names));
  std::filesystem::remove(path);
}

TEST(OnnxGraph, MalformedFilesFailCleanly) {
  const std::string good_graph = field(1, node("a", "Relu"));
  const std::vector<std::string> bad{
      "",                                               // no graph
      varint(7 << 3 | 2) + varint(1000) + "short",      // length past the end
      varint(7 << 3 | 2) + std::string(11, '\xff'),     // overlong varint
      varint(7 << 3 | 3) + good_graph,                  // group wire type
      field(7, varint(1 << 3 | 2) + varint(50) + "x"),  // node longer than its graph
      field(7, good_graph).substr(0, 6),                // truncated
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    const auto path = write_temp("bad" + std::to_string(i), bad[i]);
    EXPECT_FALSE(onnx_first_node_names(path, 8).ok()) << i;
    std::filesystem::remove(path);
  }
  EXPECT_FALSE(onnx_first_node_names("/nonexistent/model.onnx", 8).ok());
}

TEST(OnnxGraph, GeneratedRecognizerIsNotMxnet) {
  const std::filesystem::path model =
      std::filesystem::path(FOCAL_TEST_MODELS) / "facial-recognition/buffalo_l/recognition/model.onnx";
  auto names = onnx_first_node_names(model, 8);
  ASSERT_TRUE(names.ok()) << names.error().message;
  ASSERT_EQ(names->size(), 8U);
  EXPECT_EQ((*names)[0], "/conv1/conv/Conv");
  EXPECT_FALSE(looks_mxnet_converted(*names));
}

TEST(OnnxGraph, MxnetRuleNeedsBothPrefixesInTheFirstEightNodes) {
  EXPECT_TRUE(looks_mxnet_converted({"Sub_0", "Mul_1"}));
  EXPECT_TRUE(looks_mxnet_converted({"conv", "_mul0", "x", "_minus3"}));
  EXPECT_FALSE(looks_mxnet_converted({"Sub_0", "conv"}));
  EXPECT_FALSE(looks_mxnet_converted({"Mul_0"}));
  EXPECT_FALSE(looks_mxnet_converted({"sub", "mul"}));                                     // case-sensitive
  EXPECT_FALSE(looks_mxnet_converted({"a", "b", "c", "d", "e", "f", "g", "Sub", "Mul"}));  // 9th is too late
  EXPECT_FALSE(looks_mxnet_converted({}));
}

}  // namespace
}  // namespace focal::faces
