// SPDX-License-Identifier: AGPL-3.0-or-later
#include "faces/onnx_graph.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <optional>

namespace focal::faces {
namespace {

// Field numbers in onnx.proto: ModelProto.graph = 7, GraphProto.node = 1, NodeProto.name = 3.
constexpr std::uint64_t kModelGraph = 7;
constexpr std::uint64_t kGraphNode = 1;
constexpr std::uint64_t kNodeName = 3;
constexpr std::uint64_t kMaxNameBytes = 1 << 16;

enum WireType : std::uint64_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// A bounds-checked protobuf reader over a file stream; every read stays inside [pos, end).
class Reader {
 public:
  explicit Reader(std::ifstream& in, std::uint64_t size) : in_(in), end_(size) {}

  std::uint64_t pos() const { return pos_; }

  std::optional<std::uint64_t> varint(std::uint64_t limit) {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= limit) return std::nullopt;
      const int c = in_.get();
      if (c == std::char_traits<char>::eof()) return std::nullopt;
      ++pos_;
      value |= static_cast<std::uint64_t>(c & 0x7F) << shift;
      if ((c & 0x80) == 0) return value;
    }
    return std::nullopt;  // more than 10 bytes: malformed
  }

  bool skip(std::uint64_t bytes, std::uint64_t limit) {
    if (bytes > limit - pos_) return false;
    pos_ += bytes;
    in_.seekg(static_cast<std::streamoff>(pos_));
    return static_cast<bool>(in_);
  }

  std::optional<std::string> bytes(std::uint64_t n, std::uint64_t limit) {
    if (n > limit - pos_) return std::nullopt;
    std::string s(static_cast<std::size_t>(n), '\0');
    in_.read(s.data(), static_cast<std::streamsize>(n));
    if (!in_) return std::nullopt;
    pos_ += n;
    return s;
  }

  // Skips the value of a field of the given wire type.
  bool skip_value(std::uint64_t wire, std::uint64_t limit) {
    switch (wire) {
      case kVarint:
        return varint(limit).has_value();
      case kFixed64:
        return skip(8, limit);
      case kFixed32:
        return skip(4, limit);
      case kLengthDelimited: {
        const auto n = varint(limit);
        return n && skip(*n, limit);
      }
      default:
        return false;  // groups are not used by onnx.proto
    }
  }

  std::uint64_t end() const { return end_; }

 private:
  std::ifstream& in_;
  std::uint64_t pos_ = 0;
  std::uint64_t end_;
};

struct Field {
  std::uint64_t number;
  std::uint64_t wire;
};

std::optional<Field> next_field(Reader& r, std::uint64_t limit) {
  const auto key = r.varint(limit);
  if (!key || (*key >> 3) == 0) return std::nullopt;
  return Field{*key >> 3, *key & 7};
}

}  // namespace

Expected<std::vector<std::string>> onnx_first_node_names(const std::filesystem::path& model_file,
                                                         std::size_t count) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(model_file, ec);
  if (ec) return internal_error("Cannot read " + model_file.string() + ": " + ec.message());
  std::ifstream in(model_file, std::ios::binary);
  if (!in) return internal_error("Cannot open " + model_file.string());
  const auto malformed = [&] { return internal_error("Not a valid ONNX model: " + model_file.string()); };

  Reader r(in, size);
  std::vector<std::string> names;
  // ModelProto: find the (first) graph field.
  while (r.pos() < r.end()) {
    const auto field = next_field(r, r.end());
    if (!field) return malformed();
    if (field->number != kModelGraph || field->wire != kLengthDelimited) {
      if (!r.skip_value(field->wire, r.end())) return malformed();
      continue;
    }
    const auto graph_len = r.varint(r.end());
    if (!graph_len || *graph_len > r.end() - r.pos()) return malformed();
    const std::uint64_t graph_end = r.pos() + *graph_len;
    // GraphProto: the repeated node field, in order; other fields skipped.
    while (r.pos() < graph_end && names.size() < count) {
      const auto gf = next_field(r, graph_end);
      if (!gf) return malformed();
      if (gf->number != kGraphNode || gf->wire != kLengthDelimited) {
        if (!r.skip_value(gf->wire, graph_end)) return malformed();
        continue;
      }
      const auto node_len = r.varint(graph_end);
      if (!node_len || *node_len > graph_end - r.pos()) return malformed();
      const std::uint64_t node_end = r.pos() + *node_len;
      std::string name;  // a node without a name field has the empty name
      while (r.pos() < node_end) {
        const auto nf = next_field(r, node_end);
        if (!nf) return malformed();
        if (nf->number == kNodeName && nf->wire == kLengthDelimited) {
          const auto len = r.varint(node_end);
          if (!len) return malformed();
          if (*len > kMaxNameBytes) {
            if (!r.skip(*len, node_end)) return malformed();
            continue;
          }
          auto s = r.bytes(*len, node_end);
          if (!s) return malformed();
          name = std::move(*s);
        } else if (!r.skip_value(nf->wire, node_end)) {
          return malformed();
        }
      }
      names.push_back(std::move(name));
    }
    return names;
  }
  return malformed();  // no graph at all
}

bool looks_mxnet_converted(const std::vector<std::string>& first_node_names) {
  const auto n = std::min<std::size_t>(first_node_names.size(), 8);
  const auto starts = [](const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; };
  bool sub = false;
  bool mul = false;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& name = first_node_names[i];
    sub = sub || starts(name, "Sub") || starts(name, "_minus");
    mul = mul || starts(name, "Mul") || starts(name, "_mul");
  }
  return sub && mul;
}

}  // namespace focal::faces
