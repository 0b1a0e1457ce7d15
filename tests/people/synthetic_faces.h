// SPDX-License-Identifier: AGPL-3.0-or-later
// Synthetic face embeddings with known identities, and an in-memory RecognitionStore with exact k-NN, for
// testing the clustering algorithm without a database.
#pragma once

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "people/recognition.h"

namespace focal::people::synthetic {

constexpr int kDim = 512;

inline std::vector<float> normalized(std::vector<double> v) {
  double norm = 0;
  for (double x : v) norm += x * x;
  norm = std::sqrt(norm);
  std::vector<float> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i] / norm);
  return out;
}

inline std::vector<double> gaussian(std::mt19937_64& rng, int dim) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> v(static_cast<std::size_t>(dim));
  for (double& x : v) x = normal(rng);
  return v;
}

inline std::vector<float> random_unit(std::mt19937_64& rng, int dim = kDim) {
  return normalized(gaussian(rng, dim));
}

// A unit vector at `angle_rad` from the unit vector `centre`, in a uniformly random direction.
inline std::vector<float> at_angle(std::mt19937_64& rng, const std::vector<float>& centre, double angle_rad) {
  const std::size_t dim = centre.size();
  std::vector<double> u = gaussian(rng, static_cast<int>(dim));
  double along = 0;
  for (std::size_t i = 0; i < dim; ++i) along += u[i] * centre[i];
  double norm = 0;
  for (std::size_t i = 0; i < dim; ++i) {
    u[i] -= along * centre[i];
    norm += u[i] * u[i];
  }
  norm = std::sqrt(norm);
  std::vector<double> v(dim);
  for (std::size_t i = 0; i < dim; ++i)
    v[i] = centre[i] * std::cos(angle_rad) + u[i] / norm * std::sin(angle_rad);
  return normalized(std::move(v));
}

inline double degrees(double d) { return d * 3.14159265358979323846 / 180.0; }

struct SyntheticFace {
  int identity = -1;  // unique negative numbers for outliers
  std::vector<float> embedding;
  bool on_timeline = true;
  std::string date = "2015-06-01";
};

// An in-memory store: exact k-NN by brute force, people as a map.
class MemoryStore : public RecognitionStore {
 public:
  struct Face {
    AssetId asset = 0;
    FaceSource source = FaceSource::kMachineLearning;
    std::optional<PersonId> person;
    std::vector<float> embedding;
    bool on_timeline = true;
    std::string date;
  };
  struct Person {
    std::string name;
    std::string birth_date;
    FaceId feature_face = 0;
  };

  FaceId add_face(const SyntheticFace& face) {
    FaceId id = next_face_++;
    faces[id] =
        Face{id, FaceSource::kMachineLearning, std::nullopt, face.embedding, face.on_timeline, face.date};
    return id;
  }

  Expected<std::optional<FaceForRecognition>> load_face(FaceId id) override {
    auto it = faces.find(id);
    if (it == faces.end()) return std::optional<FaceForRecognition>{};
    const Face& f = it->second;
    return std::optional<FaceForRecognition>{
        FaceForRecognition{id, f.asset, f.source, f.person, f.embedding, f.on_timeline, f.date}};
  }

  Expected<std::vector<FaceMatch>> search_faces(const FaceQuery& query) override {
    ++searches;
    std::vector<FaceMatch> all;
    for (const auto& [id, f] : faces) {
      if (f.embedding.empty()) continue;
      if (query.has_person && !f.person) continue;
      if (!query.min_birth_date.empty() && f.person) {
        const std::string& born = people.at(*f.person).birth_date;
        if (!born.empty() && born > query.min_birth_date) continue;
      }
      all.push_back(FaceMatch{id, f.person, cosine_distance(query.embedding, f.embedding)});
    }
    std::sort(all.begin(), all.end(), [](const FaceMatch& a, const FaceMatch& b) {
      return a.distance != b.distance ? a.distance < b.distance : a.face_id < b.face_id;
    });
    if (all.size() > static_cast<std::size_t>(query.k)) all.resize(static_cast<std::size_t>(query.k));
    std::erase_if(all, [&](const FaceMatch& m) { return m.distance > query.max_distance; });
    return all;
  }

  Expected<PersonId> create_person(FaceId feature_face) override {
    PersonId id = next_person_++;
    people[id] = Person{"", "", feature_face};
    return id;
  }

  Status assign_face(FaceId face, PersonId person) override {
    faces.at(face).person = person;
    return {};
  }

  // Face Reset (FacialRecognitionQueueAll{force}): unassign ML faces, then delete people left without faces.
  void reset() {
    for (auto& [id, f] : faces) {
      if (f.source == FaceSource::kMachineLearning) f.person.reset();
    }
    cleanup();
  }
  void cleanup() {
    std::set<PersonId> used;
    for (const auto& [id, f] : faces) {
      if (f.person) used.insert(*f.person);
    }
    std::erase_if(people, [&](const auto& entry) { return !used.contains(entry.first); });
  }
  void merge(PersonId target, PersonId source) {
    for (auto& [id, f] : faces) {
      if (f.person == source) f.person = target;
    }
    people.erase(source);
  }

  std::map<FaceId, Face> faces;
  std::map<PersonId, Person> people;
  int searches = 0;

 private:
  FaceId next_face_ = 1;
  PersonId next_person_ = 1;
};

// The facialRecognition queue (concurrency 1): FIFO, deferred jobs go to the tail.
struct Job {
  FaceId face = 0;
  bool deferred = false;
};

struct RunStats {
  std::map<RecognitionOutcome, int> outcomes;
  int jobs = 0;
};

inline RunStats drain(MemoryStore& store, const RecognitionSettings& settings, std::deque<Job>& queue) {
  RunStats stats;
  while (!queue.empty()) {
    Job job = queue.front();
    queue.pop_front();
    ++stats.jobs;
    auto result = recognize_face(store, settings, job.face, job.deferred);
    if (!result) throw std::runtime_error(result.error().message);
    ++stats.outcomes[result->outcome];
    if (result->outcome == RecognitionOutcome::kDeferred) queue.push_back(Job{job.face, true});
  }
  return stats;
}

// FacialRecognitionQueueAll without force (nightly / "Missing"): every unassigned ML face.
inline void queue_missing(const MemoryStore& store, std::deque<Job>& queue) {
  for (const auto& [id, f] : store.faces) {
    if (f.source == FaceSource::kMachineLearning && !f.person) queue.push_back(Job{id, false});
  }
}

// Pairwise quality of a clustering against ground truth.
struct Quality {
  double precision = 0;
  double recall = 0;           // over all same-identity pairs
  double eligible_recall = 0;  // over pairs of identities with >= minFaces faces
  int people = 0;
  int identities = 0;
  int eligible_identities = 0;
  int unassigned = 0;
};

inline Quality evaluate(const MemoryStore& store, const std::map<FaceId, int>& identity_of, int min_faces) {
  std::map<int, int> identity_size;
  for (const auto& [id, identity] : identity_of) ++identity_size[identity];
  std::vector<std::pair<FaceId, int>> items(identity_of.begin(), identity_of.end());
  long long tp = 0, predicted = 0, truth = 0, eligible_truth = 0, eligible_tp = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    for (std::size_t j = i + 1; j < items.size(); ++j) {
      const auto& pi = store.faces.at(items[i].first).person;
      const auto& pj = store.faces.at(items[j].first).person;
      const bool same_person = pi && pj && *pi == *pj;
      const bool same_identity = items[i].second == items[j].second;
      const bool eligible = same_identity && identity_size[items[i].second] >= min_faces;
      predicted += same_person;
      truth += same_identity;
      tp += same_person && same_identity;
      eligible_truth += eligible;
      eligible_tp += eligible && same_person;
    }
  }
  Quality q;
  q.precision = predicted ? static_cast<double>(tp) / static_cast<double>(predicted) : 1.0;
  q.recall = truth ? static_cast<double>(tp) / static_cast<double>(truth) : 1.0;
  q.eligible_recall =
      eligible_truth ? static_cast<double>(eligible_tp) / static_cast<double>(eligible_truth) : 1.0;
  std::set<PersonId> people;
  for (const auto& [id, f] : store.faces) {
    if (f.person) {
      people.insert(*f.person);
    } else {
      ++q.unassigned;
    }
  }
  q.people = static_cast<int>(people.size());
  for (const auto& [identity, size] : identity_size) {
    if (identity >= 0) {
      ++q.identities;
      q.eligible_identities += size >= min_faces;
    }
  }
  return q;
}

// The partition induced on faces (unassigned faces are singletons), in a canonical form for comparison.
inline std::set<std::set<FaceId>> partition(const MemoryStore& store) {
  std::map<PersonId, std::set<FaceId>> groups;
  std::set<std::set<FaceId>> out;
  for (const auto& [id, f] : store.faces) {
    if (f.person) {
      groups[*f.person].insert(id);
    } else {
      out.insert({id});
    }
  }
  for (auto& [person, faces] : groups) out.insert(std::move(faces));
  return out;
}

}  // namespace focal::people::synthetic
