// SPDX-License-Identifier: AGPL-3.0-or-later
#include "infer/batcher.h"

#include <algorithm>
#include <cstring>
#include <optional>

namespace focal::detail {
namespace {

std::size_t element_bytes(ONNXTensorElementDataType type) {
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32:
      return 4;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16:
      return 2;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE:
      return 8;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL:
      return 1;
    default:
      return 0;
  }
}

// Element type and all dimensions but the first: calls batch together only when these agree for every input.
struct RowShape {
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  std::vector<std::int64_t> trailing;
  bool operator==(const RowShape&) const = default;
};

std::optional<RowShape> row_shape(const Ort::Value& value, std::int64_t& rows) {
  if (!value.IsTensor()) return std::nullopt;
  const auto info = value.GetTensorTypeAndShapeInfo();
  auto shape = info.GetShape();
  if (shape.empty() || element_bytes(info.GetElementType()) == 0) return std::nullopt;
  rows = shape[0];
  return RowShape{info.GetElementType(), std::vector<std::int64_t>(shape.begin() + 1, shape.end())};
}

std::size_t row_bytes(const RowShape& shape) {
  std::size_t n = element_bytes(shape.type);
  for (const auto d : shape.trailing) n *= static_cast<std::size_t>(d);
  return n;
}

}  // namespace

struct Batcher::Call {
  std::span<const Ort::Value> inputs;
  std::vector<RowShape> shapes;
  std::int64_t rows = 0;
  std::optional<Expected<std::vector<Ort::Value>>> result;
};

Expected<Ort::Value> concat_rows(std::span<const Ort::Value* const> parts) {
  std::int64_t first_rows = 0;
  const auto shape = row_shape(*parts.front(), first_rows);
  if (!shape) return internal_error("Cannot batch a non-tensor or unsupported element type");
  std::int64_t total = 0;
  for (const auto* part : parts) {
    std::int64_t rows = 0;
    const auto s = row_shape(*part, rows);
    if (!s || !(*s == *shape)) return internal_error("Cannot batch tensors of different shapes or types");
    total += rows;
  }
  std::vector<std::int64_t> dims{total};
  dims.insert(dims.end(), shape->trailing.begin(), shape->trailing.end());
  Ort::AllocatorWithDefaultOptions allocator;
  auto joined = Ort::Value::CreateTensor(allocator, dims.data(), dims.size(), shape->type);
  auto* out = static_cast<std::uint8_t*>(joined.GetTensorMutableRawData());
  const auto stride = row_bytes(*shape);
  for (const auto* part : parts) {
    const auto bytes = stride * part->GetTensorTypeAndShapeInfo().GetShape()[0];
    if (bytes != 0) std::memcpy(out, part->GetTensorRawData(), bytes);
    out += bytes;
  }
  return joined;
}

Expected<Ort::Value> slice_rows(const Ort::Value& whole, std::int64_t first_row, std::int64_t rows) {
  std::int64_t total = 0;
  const auto shape = row_shape(whole, total);
  if (!shape) return internal_error("Batched model returned a non-tensor or unsupported output");
  if (first_row + rows > total) {
    return internal_error("Batched model returned " + std::to_string(total) + " rows, expected at least " +
                          std::to_string(first_row + rows));
  }
  std::vector<std::int64_t> dims{rows};
  dims.insert(dims.end(), shape->trailing.begin(), shape->trailing.end());
  Ort::AllocatorWithDefaultOptions allocator;
  auto part = Ort::Value::CreateTensor(allocator, dims.data(), dims.size(), shape->type);
  const auto stride = row_bytes(*shape);
  const auto bytes = stride * static_cast<std::size_t>(rows);
  if (bytes != 0) {
    std::memcpy(part.GetTensorMutableRawData(),
                static_cast<const std::uint8_t*>(whole.GetTensorRawData()) + stride * first_row, bytes);
  }
  return part;
}

Batcher::Batcher(const InferenceSession& session, BatchingConfig config, BatchObserver observer)
    : session_(session), config_(config), observer_(std::move(observer)) {}

Expected<std::vector<Ort::Value>> Batcher::run(std::span<const Ort::Value> inputs) {
  Call call;
  call.inputs = inputs;
  for (const auto& input : inputs) {
    std::int64_t rows = 0;
    const auto shape = row_shape(input, rows);
    if (!shape || (call.shapes.empty() ? false : rows != call.rows)) return session_.run_direct(inputs);
    call.rows = rows;
    call.shapes.push_back(*shape);
  }
  if (call.shapes.empty() || call.rows <= 0 || call.rows >= config_.max_batch_size) {
    return session_.run_direct(inputs);
  }

  std::unique_lock lock(mutex_);
  pending_.push_back(&call);
  pending_rows_ += call.rows;
  changed_.notify_all();  // a collecting leader may now be full
  while (!call.result) {
    const bool queued = std::find(pending_.begin(), pending_.end(), &call) != pending_.end();
    if (queued && !collecting_) {
      // Lead: wait for company, then run whatever is compatible with the oldest call.
      collecting_ = true;
      changed_.wait_for(lock, config_.max_queue_delay,
                        [&] { return pending_rows_ >= config_.max_batch_size; });
      auto batch = take_batch();
      collecting_ = false;
      changed_.notify_all();  // the remaining calls elect the next leader
      lock.unlock();
      execute(batch);
      lock.lock();
      changed_.notify_all();
      continue;
    }
    changed_.wait(lock);
  }
  return std::move(*call.result);
}

std::vector<Batcher::Call*> Batcher::take_batch() {
  std::vector<Call*> batch;
  std::int64_t rows = 0;
  for (auto it = pending_.begin(); it != pending_.end();) {
    Call* c = *it;
    const bool fits =
        batch.empty() || (c->shapes == batch.front()->shapes && rows + c->rows <= config_.max_batch_size);
    if (!fits) {
      ++it;
      continue;
    }
    batch.push_back(c);
    rows += c->rows;
    pending_rows_ -= c->rows;
    it = pending_.erase(it);
  }
  return batch;
}

void Batcher::execute(const std::vector<Call*>& batch) {
  auto finish = [&](Call* c, Expected<std::vector<Ort::Value>> result) {
    const std::lock_guard lock(mutex_);
    c->result = std::move(result);
  };
  if (batch.size() == 1) {
    finish(batch.front(), session_.run_direct(batch.front()->inputs));
    if (observer_) observer_(batch.front()->rows, 1);
    return;
  }
  std::int64_t total = 0;
  for (const auto* c : batch) total += c->rows;
  std::vector<Ort::Value> joined;
  const auto input_count = batch.front()->inputs.size();
  Status failure;
  for (std::size_t i = 0; i < input_count && failure; ++i) {
    std::vector<const Ort::Value*> parts;
    for (const auto* c : batch) parts.push_back(&c->inputs[i]);
    auto value = concat_rows(parts);
    if (!value) {
      failure = value.error();
    } else {
      joined.push_back(std::move(*value));
    }
  }
  std::optional<Expected<std::vector<Ort::Value>>> outputs;
  if (failure) outputs = session_.run_direct(joined);
  // Split the outputs; anything unexpected (an output whose first dimension is not the batch) makes every
  // call run on its own, so batching can never change what a caller gets.
  std::vector<std::vector<Ort::Value>> split(batch.size());
  bool split_ok = failure && outputs && *outputs;
  if (split_ok) {
    for (auto& output : **outputs) {
      std::int64_t rows = 0;
      if (!row_shape(output, rows) || rows != total) {
        split_ok = false;
        break;
      }
      std::int64_t first = 0;
      for (std::size_t k = 0; k < batch.size() && split_ok; ++k) {
        auto part = slice_rows(output, first, batch[k]->rows);
        if (!part) {
          split_ok = false;
        } else {
          split[k].push_back(std::move(*part));
        }
        first += batch[k]->rows;
      }
    }
  }
  if (!split_ok) {
    for (auto* c : batch) {
      finish(c, session_.run_direct(c->inputs));
      if (observer_) observer_(c->rows, 1);
    }
    return;
  }
  if (observer_) observer_(total, batch.size());
  for (std::size_t k = 0; k < batch.size(); ++k) finish(batch[k], std::move(split[k]));
}

}  // namespace focal::detail
