// SPDX-License-Identifier: AGPL-3.0-or-later
// Post-processors: TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel and Sequence. Only the
// single sequence case matters here, and only ids (offsets, type ids and the pair template are not used).
#include "tokenizer/components.h"

namespace focal::tok {
namespace {

using nlohmann::json;

// The ids of a template's special tokens around the sequence ($A); Roberta/Bert are "[cls] $A [sep]".
class Template final : public PostProcessor {
 public:
  explicit Template(std::vector<std::optional<Ids>> pieces) : pieces_(std::move(pieces)) {}
  std::size_t added_tokens() const override {
    std::size_t n = 0;
    for (const auto& piece : pieces_) n += piece ? piece->size() : 0;
    return n;
  }
  Ids process(Ids ids) const override {
    Ids out;
    for (const auto& piece : pieces_) {
      const Ids& part = piece ? *piece : ids;
      out.insert(out.end(), part.begin(), part.end());
    }
    return out;
  }

 private:
  std::vector<std::optional<Ids>> pieces_;  // nullopt: the sequence
};

class SequenceProcessor final : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> parts) : parts_(std::move(parts)) {}
  std::size_t added_tokens() const override {
    std::size_t n = 0;
    for (const auto& part : parts_) n += part->added_tokens();
    return n;
  }
  Ids process(Ids ids) const override {
    for (const auto& part : parts_) ids = part->process(std::move(ids));
    return ids;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

Expected<std::unique_ptr<PostProcessor>> make_template(const json& j) {
  std::vector<std::optional<Ids>> pieces;
  for (const json& piece : j.at("single")) {
    if (piece.contains("Sequence")) {
      // $B has no meaning for a single sequence; tokenizers would fail on it.
      if (piece.at("Sequence").at("id").get<std::string>() == "A") pieces.emplace_back();
      continue;
    }
    const std::string id = piece.at("SpecialToken").at("id").get<std::string>();
    const json& specials = j.at("special_tokens");
    if (!specials.contains(id)) {
      return Error{ErrorKind::kInternal, "template special token '" + id + "' is missing"};
    }
    pieces.emplace_back(specials.at(id).at("ids").get<Ids>());
  }
  return std::unique_ptr<PostProcessor>(std::make_unique<Template>(std::move(pieces)));
}

}  // namespace

Expected<std::unique_ptr<PostProcessor>> make_post_processor(const json& j) {
  const std::string type = j.at("type").get<std::string>();
  if (type == "TemplateProcessing") return make_template(j);
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    return std::unique_ptr<PostProcessor>(std::make_unique<Template>(
        std::vector<std::optional<Ids>>{Ids{j.at("cls").at(1).get<std::int32_t>()}, std::nullopt,
                                        Ids{j.at("sep").at(1).get<std::int32_t>()}}));
  }
  if (type == "ByteLevel") {  // only trims offsets
    return std::unique_ptr<PostProcessor>(
        std::make_unique<Template>(std::vector<std::optional<Ids>>{std::nullopt}));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PostProcessor>> parts;
    for (const json& part : j.at("processors")) {
      auto made = make_post_processor(part);
      if (!made) return std::move(made).error();
      parts.push_back(std::move(*made));
    }
    return std::unique_ptr<PostProcessor>(std::make_unique<SequenceProcessor>(std::move(parts)));
  }
  return Error{ErrorKind::kNotImplemented, "unsupported post_processor type '" + type + "'"};
}

}  // namespace focal::tok
