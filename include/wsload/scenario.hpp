// Scenario files: a scripted session written as JSON (`wsload run --scenario FILE`), parsed
// into a Scenario and run by a built-in session written against the Session API.
//
//   {"connect": [
//     {"send": "{\"type\":\"connection_init\"}"},
//     {"receive": "/type==connection_ack"}],
//    "steps": [
//     {"on": "/type==ping", "reply": "{\"type\":\"pong\"}"},
//     {"request": "subscribe", "send": "{\"id\":\"{{uuid}}\",\"type\":\"subscribe\"}",
//      "until": "/type==complete"},
//     {"check": "five nexts", "rule": "/type==next", "count": 5, "mode": "fail_step"},
//     {"capture": "id", "pointer": "/id"},
//     {"think": 0.1}, {"think": [0.05, 0.2]},
//     {"repeat": 3, "steps": [...]}, {"repeat": "prompts", "steps": [...]},
//     {"send_prompts": true}]}
//
// Templates take the session's variables ({{id}}, captured by an earlier step) besides
// {{prompt}} (the prompt of the loop over the prompts; empty outside one), {{connection}},
// {{sequence}} and {{uuid}}. `send_prompts` is the prompt loop as a step (Session::send_prompts):
// each prompt in the run's message template, judged by the run's rules, one request each.
// "connect" steps run first in the first session on each socket (a protocol's handshake);
// "steps" in every session. Rules are written as --complete takes them. Times are seconds. `check`
// and `capture` look at the last receive or request. Every problem is found before any traffic and
// names the step: "scenario FILE: steps[2] (request 'subscribe'): ...".
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/errors.hpp>
#include <wsload/message.hpp>
#include <wsload/session.hpp>

namespace wsload {

/// The most levels steps nest in a scenario (a repeat's steps are one level deeper).
inline constexpr std::size_t max_scenario_depth = 32;

/// The most levels of brackets a scenario file nests: two per level of steps and a margin.
/// Deeper text is refused before it is parsed (nlohmann's dump() and copies recurse).
inline constexpr std::size_t max_scenario_json_depth = 2 * max_scenario_depth + 8;

/// One step of a scenario.
struct ScenarioStep {
  enum class Kind { send, receive, request, capture, check, think, on, repeat, prompts };
  Kind kind = Kind::send;
  std::string name;                  ///< request, check, capture (the variable), on: its label
  MessageTemplate message;           ///< send, request, on: the template sent
  std::optional<FrameRule> rule;     ///< receive, request (until), check, on
  std::string pointer;               ///< capture
  std::optional<std::size_t> count;  ///< check: frames of the last reply matching `rule`
  CheckMode mode = CheckMode::record;
  std::chrono::nanoseconds think_min{0};
  std::chrono::nanoseconds think_max{0};
  std::size_t times = 0;  ///< repeat: times, unless over the prompts
  bool over_prompts = false;
  std::vector<ScenarioStep> steps;  ///< repeat
};

/// A parsed scenario file.
struct Scenario {
  std::string name;
  std::vector<ScenarioStep> connect;  ///< run first by the first session on each socket
  std::vector<ScenarioStep> steps;

  /// Where its first send_prompts step is ("steps[0]"), if it has one: such a scenario
  /// needs prompts.
  std::optional<std::string> sends_prompts_at() const { return first_prompts_step(steps, "steps"); }
  /// Where the first send_prompts step of `list` (named `where`) is, if any.
  static std::optional<std::string> first_prompts_step(const std::vector<ScenarioStep>& list,
                                                       const std::string& where) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string at = where + "[" + std::to_string(i) + "]";
      if (list[i].kind == ScenarioStep::Kind::prompts) return at;
      if (auto inner = first_prompts_step(list[i].steps, at + " steps")) return inner;
    }
    return std::nullopt;
  }
  /// How many times a session sends the prompts (LoadConfig::prompt_passes), with
  /// `prompts` of them: its send_prompts steps, each repeat multiplying its own.
  std::size_t prompt_passes(std::size_t prompts) const { return passes_in(steps, prompts); }
  static constexpr std::size_t max_passes = std::size_t{1} << 40;

 private:
  static std::size_t passes_in(const std::vector<ScenarioStep>& list, std::size_t prompts) {
    std::size_t passes = 0;
    for (const auto& step : list) {
      if (step.kind == ScenarioStep::Kind::prompts) ++passes;
      if (step.kind == ScenarioStep::Kind::repeat) {
        const std::size_t times = step.over_prompts ? prompts : step.times;
        const std::size_t inner = passes_in(step.steps, prompts);
        // Saturated: nested repeats may multiply past any count (validation refuses it).
        passes = inner != 0 && times > (max_passes - passes) / inner ? max_passes
                                                                     : passes + times * inner;
      }
    }
    return passes;
  }
};

namespace detail {

/// Where `text` opens a bracket deeper than `limit` (outside strings), named as scenario
/// errors name steps ("steps[0] steps[1]"); nothing when it nests no deeper.
inline std::optional<std::string> json_too_deep_at(std::string_view text, std::size_t limit) {
  struct Level {
    bool array = false;
    std::size_t index = 0;  ///< array: the element's
    std::string key;        ///< object: the member's
  };
  std::vector<Level> open;
  bool in_string = false;
  bool expecting_key = false;
  std::size_t string_start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
        if (expecting_key) open.back().key = text.substr(string_start, i - string_start);
        expecting_key = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      string_start = i + 1;
    } else if (c == '[' || c == '{') {
      if (open.size() == limit) {
        std::string path;
        for (std::size_t l = 0; l < open.size(); ++l) {
          if (open[l].array) {
            path += "[" + std::to_string(open[l].index) + "]";
          } else if (l > 0) {
            path += " " + open[l].key;
          } else {
            path += open[l].key;
          }
        }
        return path;
      }
      open.push_back({.array = c == '['});
      expecting_key = c == '{';
    } else if (c == ']' || c == '}') {
      if (!open.empty()) open.pop_back();
    } else if (c == ',' && !open.empty()) {
      ++open.back().index;
      expecting_key = !open.back().array;
    }
  }
  return std::nullopt;
}

/// The "steps" of `j` (null when it has none), by reference: a copy of a deeply nested
/// value would recurse as deep.
inline const nlohmann::json& steps_of(const nlohmann::json& j) {
  static const nlohmann::json none;
  const auto it = j.find("steps");
  return it == j.end() ? none : *it;
}

/// The keys a step of `kind` may have, the one that names its kind first.
inline std::span<const std::string_view> keys_of_step(ScenarioStep::Kind kind) {
  using Kind = ScenarioStep::Kind;
  static constexpr std::string_view send[] = {"send"}, receive[] = {"receive"},
                                    request[] = {"request", "send", "until"},
                                    capture[] = {"capture", "pointer"},
                                    check[] = {"check", "rule", "count", "mode"},
                                    think[] = {"think"}, on[] = {"on", "reply"},
                                    repeat[] = {"repeat", "steps"}, prompts[] = {"send_prompts"};
  switch (kind) {
    case Kind::send:
      return send;
    case Kind::receive:
      return receive;
    case Kind::request:
      return request;
    case Kind::capture:
      return capture;
    case Kind::check:
      return check;
    case Kind::think:
      return think;
    case Kind::on:
      return on;
    case Kind::repeat:
      return repeat;
    case Kind::prompts:
      return prompts;
  }
  return send;
}

/// `keys` as "a, b, c".
inline std::string joined_keys(std::span<const std::string_view> keys) {
  std::string out;
  for (const auto key : keys) {
    if (!out.empty()) out += ", ";
    out += key;
  }
  return out;
}

/// Whether running `steps` performs a Session operation (sends, receives or thinks);
/// their repeats have been checked to do so.
inline bool awaits_something(const std::vector<ScenarioStep>& steps) {
  using Kind = ScenarioStep::Kind;
  return std::any_of(steps.begin(), steps.end(), [](const ScenarioStep& step) {
    return step.kind != Kind::capture && step.kind != Kind::check && step.kind != Kind::on;
  });
}

/// Parses `steps` (the array at `where`, `depth` levels deep), checking that each
/// template's variables are set by an earlier step (`known`). Throws ConfigError naming
/// the step.
inline std::vector<ScenarioStep> parse_scenario_steps(const nlohmann::json& steps,
                                                      const std::string& where,
                                                      std::set<std::string>& known,
                                                      std::size_t depth = 1) {
  using Kind = ScenarioStep::Kind;
  if (!steps.is_array() || steps.empty()) {
    throw ConfigError(where, "", "must be a non-empty array of steps");
  }
  std::vector<ScenarioStep> out;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto& j = steps[i];
    std::string field = where + "[" + std::to_string(i) + "]";
    if (!j.is_object())
      throw ConfigError(field, "", "must be an object such as {\"send\": \"...\"}");
    ScenarioStep step;
    const auto text_of = [&](const char* key) -> std::string {
      const auto it = j.find(key);
      if (it == j.end() || !it->is_string()) {
        throw ConfigError(field, "", std::string("needs \"") + key + "\" as a string");
      }
      return it->get<std::string>();
    };
    const auto template_of = [&](const char* key) {
      std::string text = text_of(key);
      auto message = MessageTemplate::parse(text, field + " " + key, true);
      for (const auto& name : message.variable_names()) {
        if (!known.count(name)) {
          throw ConfigError(field + " " + key, "{{" + name + "}}",
                            "uses a variable no earlier step captures");
        }
      }
      return message;
    };
    const auto rule_of = [&](const char* key) {
      return FrameRule::parse(text_of(key), field + " " + key);
    };
    const auto seconds_of = [&](const nlohmann::json& v) {
      if (!v.is_number() || !(v.get<double>() >= 0) || v.get<double>() > 3600) {
        throw ConfigError(field + " think", v.dump(), "must be seconds from 0 to 3600");
      }
      return std::chrono::nanoseconds(static_cast<std::int64_t>(v.get<double>() * 1e9));
    };
    if (j.contains("request")) {
      step.kind = Kind::request;
      step.name = text_of("request");
      field += " (request '" + step.name + "')";
      step.message = template_of("send");
      step.rule = rule_of("until");
    } else if (j.contains("send")) {
      step.kind = Kind::send;
      step.message = template_of("send");
    } else if (j.contains("receive")) {
      step.kind = Kind::receive;
      step.rule = rule_of("receive");
    } else if (j.contains("capture")) {
      step.kind = Kind::capture;
      step.name = text_of("capture");
      field += " (capture '" + step.name + "')";
      step.pointer = text_of("pointer");
      try {
        (void)nlohmann::json::json_pointer(step.pointer);
      } catch (const nlohmann::json::exception&) {
        throw ConfigError(field + " pointer", step.pointer,
                          "is not a JSON pointer (e.g. /payload/id)");
      }
      known.insert(step.name);
    } else if (j.contains("check")) {
      step.kind = Kind::check;
      step.name = text_of("check");
      field += " (check '" + step.name + "')";
      step.rule = rule_of("rule");
      if (j.contains("count")) {
        if (!j["count"].is_number_unsigned()) {
          throw ConfigError(field + " count", j["count"].dump(), "must be a whole number");
        }
        step.count = j["count"].get<std::size_t>();
      }
      if (j.contains("mode")) {
        const auto mode = j["mode"].is_string() ? j["mode"].get<std::string>() : j["mode"].dump();
        if (mode == "fail_step") {
          step.mode = CheckMode::fail_step;
        } else if (mode != "record") {
          throw ConfigError(field + " mode", mode, "must be \"record\" or \"fail_step\"");
        }
      }
    } else if (j.contains("think")) {
      step.kind = Kind::think;
      const auto& t = j["think"];
      if (t.is_array() && t.size() == 2) {
        step.think_min = seconds_of(t[0]);
        step.think_max = seconds_of(t[1]);
      } else {
        step.think_min = step.think_max = seconds_of(t);
      }
    } else if (j.contains("on")) {
      step.kind = Kind::on;
      step.rule = rule_of("on");
      step.message = template_of("reply");
    } else if (j.contains("send_prompts")) {
      step.kind = Kind::prompts;
      if (j["send_prompts"] != true) {
        throw ConfigError(field + " send_prompts", j["send_prompts"].dump(),
                          "must be true (the run's prompts, each one request)");
      }
    } else if (j.contains("repeat")) {
      step.kind = Kind::repeat;
      const auto& r = j["repeat"];
      if (r == "prompts") {
        step.over_prompts = true;
      } else if (r.is_number_unsigned() && r.get<std::size_t>() >= 1 &&
                 r.get<std::size_t>() <= 1'000'000) {
        step.times = r.get<std::size_t>();
      } else {
        throw ConfigError(field + " repeat", r.dump(),
                          "must be a count from 1 to 1000000 or \"prompts\"");
      }
      if (depth >= max_scenario_depth) {
        throw ConfigError(field + " repeat", "",
                          "nests steps deeper than " + std::to_string(max_scenario_depth) +
                              " levels (the limit)");
      }
      step.steps = parse_scenario_steps(steps_of(j), field + " steps", known, depth + 1);
      // Such a loop would never end by itself, nor let its connection's thread run.
      if (!awaits_something(step.steps)) {
        throw ConfigError(field + " repeat", "",
                          "has no step that sends, receives or thinks (check, capture and on "
                          "never wait)");
      }
    } else {
      throw ConfigError(field, j.dump().substr(0, 80),
                        "has no known step: send, receive, request, capture, check, think, on, "
                        "repeat or send_prompts");
    }
    // One kind of step per object, and only its own keys: a second kind or a misspelt
    // key would otherwise be dropped without a word.
    const auto keys = keys_of_step(step.kind);
    for (const auto& item : j.items()) {
      if (std::find(keys.begin(), keys.end(), item.key()) == keys.end()) {
        throw ConfigError(
            field, item.key(),
            "\"" + item.key() + "\" does not go in a \"" + std::string(keys[0]) +
                "\" step (one kind of step per object; its keys: " + joined_keys(keys) + ")");
      }
    }
    out.push_back(std::move(step));
  }
  return out;
}

/// A scenario session's state across its (nested) steps.
struct ScenarioRun {
  Reply last;  ///< the reply of the latest receive or request
  /// Steps run since the session last yielded: a run of steps that do not wait (checks,
  /// a loop over no prompts) lets the thread's other connections, watchdog and Ctrl-C run.
  std::size_t idle_steps = 0;
};

/// Runs `steps`.
inline SessionTask run_scenario_steps(Session& s, const std::vector<ScenarioStep>& steps,
                                      ScenarioRun& run) {
  using Kind = ScenarioStep::Kind;
  constexpr std::size_t idle_steps_per_yield = 1024;
  auto& last = run.last;
  for (const auto& step : steps) {
    if (++run.idle_steps >= idle_steps_per_yield) {
      run.idle_steps = 0;
      co_await SessionAccess::yield(s);
    }
    switch (step.kind) {
      case Kind::send:
        co_await s.send(s.fill(step.message));
        break;
      case Kind::receive:
        last = co_await s.receive_until(*step.rule);
        break;
      case Kind::request:
        last = co_await s.request(step.name, s.fill(step.message), *step.rule);
        break;
      case Kind::capture:
        s.check("capture " + step.name, s.capture(step.name, last, step.pointer),
                CheckMode::fail_step);
        break;
      case Kind::check: {
        std::size_t matching = 0;
        for (const auto& frame : last.frames) {
          nlohmann::json parsed;
          const bool is_json = parse_frame(frame, parsed);
          if (step.rule->matches(frame, is_json ? &parsed : nullptr)) ++matching;
        }
        s.check(step.name, step.count ? matching == *step.count : matching > 0, step.mode);
        break;
      }
      case Kind::think:
        if (step.think_min == step.think_max) {
          co_await s.think(step.think_min);
        } else {
          co_await s.think(step.think_min, step.think_max);
        }
        break;
      case Kind::on:
        s.on(*step.rule, [&s, &step](std::string_view) -> std::optional<std::string> {
          return s.fill(step.message);
        });
        break;
      case Kind::prompts:
        co_await s.send_prompts();
        break;
      case Kind::repeat:
        if (step.over_prompts) {
          for (const auto& prompt : s.prompts()) {
            s.set("prompt", prompt);
            co_await run_scenario_steps(s, step.steps, run);
          }
        } else {
          for (std::size_t k = 0; k < step.times; ++k)
            co_await run_scenario_steps(s, step.steps, run);
        }
        break;
    }
  }
}

}  // namespace detail

/// Parses a scenario from its JSON; `source` names it in errors (e.g. "scenario FILE").
/// Throws ConfigError naming the step and the problem.
inline Scenario parse_scenario(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw ConfigError(source, "", "must be a JSON object with \"steps\"");
  Scenario scenario;
  if (j.contains("name") && j["name"].is_string()) scenario.name = j["name"].get<std::string>();
  std::set<std::string> known;
  if (j.contains("connect")) {
    scenario.connect = detail::parse_scenario_steps(j["connect"], source + ": connect", known);
    if (const auto at = Scenario::first_prompts_step(scenario.connect, "connect")) {
      throw ConfigError(source + ": " + *at + " send_prompts", "",
                        "belongs in \"steps\": \"connect\" runs once per socket, not per session");
    }
  }
  scenario.steps = detail::parse_scenario_steps(detail::steps_of(j), source + ": steps", known);
  return scenario;
}

/// Reads and parses a scenario file. Throws ConfigError naming the file and the problem.
inline Scenario read_scenario(const std::filesystem::path& file) {
  const std::string source = "scenario " + file.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    throw ConfigError(source, "", "is not a readable file");
  }
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (const auto at = detail::json_too_deep_at(text.str(), max_scenario_json_depth)) {
    throw ConfigError(source + ": " + *at, "",
                      "nests deeper than " + std::to_string(max_scenario_depth) +
                          " levels of steps (" + std::to_string(max_scenario_json_depth) +
                          " of brackets)");
  }
  const auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded()) throw ConfigError(source, "", "is not valid JSON");
  return parse_scenario(j, source);
}

namespace detail {

/// A scenario's session; it holds the scenario for as long as it runs.
inline SessionTask run_scenario(Session& s, std::shared_ptr<const Scenario> scenario) {
  ScenarioRun run;
  if (s.first_on_connection()) co_await run_scenario_steps(s, scenario->connect, run);
  co_await run_scenario_steps(s, scenario->steps, run);
}

}  // namespace detail

/// The session that runs `scenario`.
inline SessionFunction scenario_session(Scenario scenario) {
  auto shared = std::make_shared<const Scenario>(std::move(scenario));
  return [shared](Session& s) { return detail::run_scenario(s, shared); };
}

}  // namespace wsload
