// SPDX-License-Identifier: AGPL-3.0-or-later
// `focal people ...` and `focal duplicates ...`: the people and duplicates services from the command line.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "services.h"

namespace focal::app {
namespace {

struct PeopleCliState {
  bool with_hidden = false;
  bool all = false;
  bool json = false;
  std::int64_t target = 0;
  std::vector<std::int64_t> sources;
  std::int64_t person = 0;
  std::string name;
  std::string birth_date;
  std::int64_t group = 0;
  std::vector<std::int64_t> keep;
};

nlohmann::json person_json(const people::Person& p) {
  return {{"id", p.id},
          {"name", p.name},
          {"birthDate", p.birth_date.value_or("")},
          {"faces", p.face_count},
          {"isHidden", p.is_hidden},
          {"isFavorite", p.is_favorite}};
}

void print_person(const people::Person& p) {
  std::printf("%8lld  %-32s %6lld faces%s%s%s\n", static_cast<long long>(p.id),
              p.name.empty() ? "(unnamed)" : p.name.c_str(), static_cast<long long>(p.face_count),
              p.is_hidden ? "  hidden" : "", p.is_favorite ? "  favourite" : "",
              p.birth_date ? ("  born " + *p.birth_date).c_str() : "");
}

int list_people(Services& s, std::int64_t owner, const PeopleCliState& state) {
  people::PeopleQuery query;
  query.with_hidden = state.with_hidden || state.all;
  if (state.all) query.min_faces = 1;
  query.size = 1000;
  nlohmann::json out = nlohmann::json::array();
  std::int64_t shown = 0, total = 0, hidden = 0;
  for (query.page = 1;; ++query.page) {
    auto page = s.people().list(owner, query);
    if (!page) return fail(page.error());
    total = page->total;
    hidden = page->hidden;
    for (const auto& p : page->people) {
      ++shown;
      if (state.json) {
        out.push_back(person_json(p));
      } else {
        print_person(p);
      }
    }
    if (!page->has_next_page) break;
  }
  if (state.json) {
    std::cout << nlohmann::json{{"people", out}, {"total", total}, {"hidden", hidden}}.dump(2) << "\n";
  } else {
    std::printf("%lld shown; %lld people with faces, %lld hidden%s\n", static_cast<long long>(shown),
                static_cast<long long>(total), static_cast<long long>(hidden),
                state.all ? "" : " (unnamed people with fewer than 3 faces are left out; --all shows them)");
  }
  return kExitOk;
}

int update_person(Services& s, std::int64_t owner, std::int64_t id, const people::PersonUpdate& fields) {
  auto person = s.people().update(owner, id, fields);
  if (!person) return fail(person.error());
  print_person(*person);
  return kExitOk;
}

}  // namespace

void register_people_cli(CLI::App& app, CliContext& context, int& exit_code) {
  auto state = std::make_shared<PeopleCliState>();
  // Runs `body` with the services open and the acting user resolved.
  const auto with_services = [&context, &exit_code](std::function<int(Services&, std::int64_t)> body) {
    return [&context, &exit_code, body = std::move(body)] {
      auto s = context.services();
      if (!s) {
        exit_code = fail(s.error());
        return;
      }
      auto owner = context.acting_user();
      exit_code = owner ? body(**s, *owner) : fail(owner.error());
    };
  };

  auto* people_cmd = app.add_subcommand("people", "List, name, merge and hide the people found in photos");
  people_cmd->add_flag("--hidden", state->with_hidden, "Include hidden people");
  people_cmd->add_flag("--all", state->all, "Include hidden people and unnamed people with few faces");
  people_cmd->add_flag("--json", state->json, "Print JSON");
  people_cmd->callback([people_cmd, state, with_services] {
    if (people_cmd->get_subcommands().empty())
      with_services([state](Services& s, std::int64_t owner) { return list_people(s, owner, *state); })();
  });

  auto* merge_cmd =
      people_cmd->add_subcommand("merge", "Merge people SOURCE... into TARGET (faces move to TARGET)");
  merge_cmd->add_option("target", state->target, "Person id that stays")
      ->required()
      ->check(CLI::PositiveNumber);
  merge_cmd->add_option("sources", state->sources, "Person ids merged into TARGET")->required();
  merge_cmd->callback(with_services([state](Services& s, std::int64_t owner) {
    auto results = s.people().merge(owner, state->target, state->sources);
    if (!results) return fail(results.error());
    int code = kExitOk;
    for (const auto& r : *results) {
      std::printf("%lld: %s%s%s\n", static_cast<long long>(r.id),
                  std::string(people::to_string(r.status)).c_str(), r.error.empty() ? "" : " - ",
                  r.error.c_str());
      if (r.status != people::MergeStatus::kSuccess) code = kExitFailure;
    }
    return code;
  }));

  auto* name_cmd = people_cmd->add_subcommand("name", "Set the name of person ID (\"\" clears it)");
  name_cmd->add_option("id", state->person, "Person id")->required()->check(CLI::PositiveNumber);
  name_cmd->add_option("name", state->name, "Name")->required();
  name_cmd->callback(with_services([state](Services& s, std::int64_t owner) {
    people::PersonUpdate fields;
    fields.name = state->name;
    return update_person(s, owner, state->person, fields);
  }));

  auto* birth_cmd =
      people_cmd->add_subcommand("birthdate", "Set the birth date of person ID (YYYY-MM-DD, \"\" clears)");
  birth_cmd->add_option("id", state->person, "Person id")->required()->check(CLI::PositiveNumber);
  birth_cmd->add_option("date", state->birth_date, "YYYY-MM-DD")->required();
  birth_cmd->callback(with_services([state](Services& s, std::int64_t owner) {
    people::PersonUpdate fields;
    fields.birth_date = state->birth_date;
    return update_person(s, owner, state->person, fields);
  }));

  for (const bool hide : {true, false}) {
    auto* cmd = people_cmd->add_subcommand(hide ? "hide" : "unhide",
                                           hide ? "Hide person ID" : "Show person ID again");
    cmd->add_option("id", state->person, "Person id")->required()->check(CLI::PositiveNumber);
    cmd->callback(with_services([state, hide](Services& s, std::int64_t owner) {
      people::PersonUpdate fields;
      fields.is_hidden = hide;
      return update_person(s, owner, state->person, fields);
    }));
  }

  auto* cluster_cmd = people_cmd->add_subcommand(
      "cluster",
      "Queue facial recognition for unassigned faces (--reset: recluster everything; named people too)");
  auto reset = std::make_shared<bool>(false);
  cluster_cmd->add_flag("--reset", *reset, "Unassign every detected face and start over");
  cluster_cmd->callback(with_services([reset](Services& s, std::int64_t) {
    auto report = s.people().queue_recognition(*reset, false);
    if (!report) return fail(report.error());
    std::printf(report->skipped ? "skipped (recognition jobs are already waiting)\n" : "queued %lld faces\n",
                static_cast<long long>(report->queued));
    return kExitOk;
  }));

  auto* dup_cmd = app.add_subcommand("duplicates", "List and resolve groups of near-identical photos");
  dup_cmd->add_flag("--json", state->json, "Print JSON");
  dup_cmd->callback([dup_cmd, state, with_services] {
    if (!dup_cmd->get_subcommands().empty()) return;
    with_services([state](Services& s, std::int64_t owner) {
      auto groups = s.duplicates().groups(owner);
      if (!groups) return fail(groups.error());
      nlohmann::json out = nlohmann::json::array();
      for (const auto& g : *groups) {
        if (state->json) {
          out.push_back(
              {{"duplicateId", g.id}, {"assetIds", g.assets}, {"suggestedKeepAssetIds", g.suggested_keep}});
          continue;
        }
        std::printf("group %lld:", static_cast<long long>(g.id));
        for (auto id : g.assets) {
          const bool suggested = !g.suggested_keep.empty() && g.suggested_keep.front() == id;
          std::printf(" %lld%s", static_cast<long long>(id), suggested ? "*" : "");
        }
        std::printf("\n");
      }
      if (state->json) {
        std::cout << out.dump(2) << "\n";
      } else {
        std::printf("%zu groups (* = suggested to keep)\n", groups->size());
      }
      return kExitOk;
    })();
  });
  auto* dismiss_cmd = dup_cmd->add_subcommand("dismiss", "Keep every photo of group ID (not duplicates)");
  dismiss_cmd->add_option("id", state->group, "Group id")->required()->check(CLI::PositiveNumber);
  dismiss_cmd->callback(with_services([state](Services& s, std::int64_t owner) {
    if (Status dismissed = s.duplicates().dismiss(owner, state->group); !dismissed)
      return fail(dismissed.error());
    return kExitOk;
  }));
  auto* resolve_cmd =
      dup_cmd->add_subcommand("resolve", "Keep the given assets of group ID and trash the others");
  resolve_cmd->add_option("id", state->group, "Group id")->required()->check(CLI::PositiveNumber);
  resolve_cmd->add_option("--keep", state->keep, "Asset ids to keep")->required();
  resolve_cmd->callback(with_services([state](Services& s, std::int64_t owner) {
    auto groups = s.duplicates().groups(owner);
    if (!groups) return fail(groups.error());
    duplicates::ResolveRequest request{state->group, state->keep, {}};
    for (const auto& g : *groups) {
      if (g.id != state->group) continue;
      for (auto id : g.assets) {
        if (std::find(state->keep.begin(), state->keep.end(), id) == state->keep.end())
          request.trash.push_back(id);
      }
    }
    auto results = s.duplicates().resolve(owner, std::span(&request, 1));
    if (!results) return fail(results.error());
    const auto& r = results->front();
    std::printf("%s%s%s\n", std::string(duplicates::to_string(r.status)).c_str(), r.error.empty() ? "" : ": ",
                r.error.c_str());
    return r.status == duplicates::ResolveStatus::kSuccess ? kExitOk : kExitFailure;
  }));
}

}  // namespace focal::app
