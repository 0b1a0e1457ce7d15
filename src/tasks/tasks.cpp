// SPDX-License-Identifier: AGPL-3.0-or-later
#include "tasks/tasks.h"

namespace focal {

void TaskRegistry::add(Task task, ModelType type, std::shared_ptr<TaskHandler> handler) {
  handlers_[{task, type}] = std::move(handler);
}

TaskHandler* TaskRegistry::find(Task task, ModelType type) const {
  const auto it = handlers_.find({task, type});
  return it == handlers_.end() ? nullptr : it->second.get();
}

}  // namespace focal
