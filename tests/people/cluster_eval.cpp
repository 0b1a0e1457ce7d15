// SPDX-License-Identifier: AGPL-3.0-or-later
// Runs the clustering algorithm (people/recognition.h) on labelled real face embeddings and prints pairwise
// precision/recall for a few settings. Not a CTest test (the embeddings come from the shared test data
// through the Python reference pipeline); docs/people.md has the commands and the figures.
//
//   cluster_eval FILE   where each line is "identity v1 v2 ... vN"
#include <cstdio>
#include <fstream>
#include <sstream>

#include "synthetic_faces.h"

int main(int argc, char** argv) {
  using namespace focal::people;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s EMBEDDINGS.txt\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1]);
  std::map<std::string, int> ids;
  std::vector<synthetic::SyntheticFace> faces;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string identity;
    if (!(fields >> identity)) continue;
    synthetic::SyntheticFace face;
    face.identity = ids.emplace(identity, static_cast<int>(ids.size())).first->second;
    for (float v; fields >> v;) face.embedding.push_back(v);
    faces.push_back(std::move(face));
  }
  std::printf("%zu faces, %zu identities\n", faces.size(), ids.size());
  for (int min_faces : {2, 3}) {
    for (double max_distance : {0.3, 0.4, 0.5, 0.6, 0.7}) {
      synthetic::MemoryStore store;
      std::map<FaceId, int> identity_of;
      std::deque<synthetic::Job> queue;
      for (const auto& face : faces) {
        FaceId id = store.add_face(face);
        identity_of[id] = face.identity;
        queue.push_back({id, false});
      }
      const RecognitionSettings settings{true, min_faces, max_distance};
      synthetic::drain(store, settings, queue);
      synthetic::queue_missing(store, queue);
      synthetic::drain(store, settings, queue);
      const auto q = synthetic::evaluate(store, identity_of, min_faces);
      std::printf(
          "minFaces %d maxDistance %.1f: precision %.3f recall %.3f (identities with >= minFaces faces: "
          "%.3f); "
          "people %d for %d identities (%d with >= minFaces faces); unassigned %d\n",
          min_faces, max_distance, q.precision, q.recall, q.eligible_recall, q.people, q.identities,
          q.eligible_identities, q.unassigned);
    }
  }
  return 0;
}
