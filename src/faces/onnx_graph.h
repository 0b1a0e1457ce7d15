// SPDX-License-Identifier: AGPL-3.0-or-later
// Reads the first node names of an ONNX graph straight from the protobuf wire format. ORT does not expose
// node names, and the ArcFace normalisation depends on them (InsightFace's rule): a recognizer converted
// from MXNet starts with Sub/_minus and Mul/_mul nodes and takes raw pixels.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"

namespace focal::faces {

// The names of the first `count` nodes of the model's graph (fewer if the graph is smaller), in graph order.
// Streams the file and skips everything else (initializers can be hundreds of MB), so the cost is a few
// reads. Fails on a file that is not a well-formed ONNX protobuf.
Expected<std::vector<std::string>> onnx_first_node_names(const std::filesystem::path& model_file,
                                                         std::size_t count);

// The insightface rule: among the first 8 node names, one starts with "Sub" or "_minus" and one with "Mul" or
// "_mul".
bool looks_mxnet_converted(const std::vector<std::string>& first_node_names);

}  // namespace focal::faces
