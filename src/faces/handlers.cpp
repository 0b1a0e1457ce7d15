#include "faces/handlers.h"

namespace focal {

void register_face_handlers(TaskRegistry& /*registry*/, const ModelContext& /*context*/,
                            const FaceOptions& /*options*/) {
  // SCRFD detection and ArcFace recognition land here (issue #4).
}

}  // namespace focal
