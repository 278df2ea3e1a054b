// The program's exit codes, and its one line for bad input: the flag (or the environment
// variable) named as the user gave it, never raw exception text.
#pragma once

#include <cstdlib>
#include <exception>
#include <iostream>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <wsload/errors.hpp>
#include <wsload/redact.hpp>

namespace wsload::cli {

inline constexpr int exit_passed = 0;
inline constexpr int exit_threshold_failed = 1;
inline constexpr int exit_bad_input = 2;

namespace detail {

/// The flag a ConfigError's field came from, so the message names what the user typed.
inline std::string flag_of(const std::string& field) {
  static const std::pair<const char*, const char*> flags[] = {
      {"url", "--url"},
      {"origin", "--origin"},
      {"prompts file", "--prompts"},
      {"prompts", "--prompts"},
      {"prompt", "--prompt"},
      {"prompts encoding", "--prompts-encoding"},
      {"connections", "--connections"},
      {"iterations", "--iterations"},
      {"threads", "--threads"},
      {"max_average_latency", "--max-latency"},
      {"min_rps", "--min-rps"},
      {"min_success_rate", "--min-success-rate"},
      {"header", "--header"},
      {"subprotocol", "--subprotocol"},
      {"ca file", "--ca-file"},
      {"threshold", "--threshold"},
      {"summary file", "--summary"},
      {"timeouts.reply", "--timeout"},
      {"timeouts.run", "--run-timeout"},
      {"rate", "--rate"},
      {"stages", "--stages"},
      {"session_rate", "--session-rate"},
      {"max_sessions", "--max-sessions"},
      {"duration", "--duration"},
      {"warmup", "--warmup"},
      {"reconnect.max_attempts", "--reconnect"},
      {"reconnect.backoff", "--reconnect-backoff"},
      {"in_flight", "--in-flight"},
      {"correlation", "--correlation"},
      {"connect_rate", "--connect-rate"},
      {"max_send_size", "--max-send-size"},
      {"message template", "--template"},
      {"baseline", "BASELINE"},
      {"new", "NEW"},
      {"metrics", "--metrics"},
      {"shard", "--shard"},
      {"keepalive", "--keepalive"},
      {"keepalive_interval", "--keepalive-interval"},
      {"metrics listen", "--metrics-listen"},
      {"start_at", "--start-at"},
  };
  for (const auto& [name, flag] : flags) {
    if (field == name) return flag;
  }
  return field;
}

inline int bad_input(const std::string& message) {
  std::cerr << redact(message) << '\n';
  return exit_bad_input;
}

/// The flags of the parsed subcommands whose value came from their environment variable
/// (set, and the flag not on the command line), each with the variable's name.
inline std::vector<std::pair<std::string, std::string>> flags_from_environment(
    const CLI::App& app, int argc, const char* const* argv) {
  std::vector<std::pair<std::string, std::string>> found;
  const auto given = [&](const CLI::Option& option) {
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (arg == "--") break;
      for (const auto& name : option.get_lnames()) {
        const std::string flag = "--" + name;
        if (arg == flag || arg.rfind(flag + "=", 0) == 0) return true;
      }
      for (const auto& name : option.get_snames()) {
        if (!arg.starts_with("--") && arg.rfind("-" + name, 0) == 0) return true;
      }
    }
    return false;
  };
  for (const auto* sub : app.get_subcommands()) {
    for (const auto* option : sub->get_options()) {
      const auto variable = option->get_envname();
      const char* value = variable.empty() ? nullptr : std::getenv(variable.c_str());
      if (value && *value && !given(*option)) found.emplace_back(option->get_name(), variable);
    }
  }
  return found;
}

/// "wsload: --connections: <reason>" as "wsload: WSLOAD_CONNECTIONS (--connections):
/// <reason>" when the value came from the variable.
inline std::string named_by_source(const std::string& message,
                                   const std::vector<std::pair<std::string, std::string>>& env) {
  for (const auto& [flag, variable] : env) {
    for (const auto& prefix : {"wsload: " + flag + ": ", flag + ": "}) {
      if (message.rfind(prefix, 0) == 0) {
        return "wsload: " + variable + " (" + flag + "): " + message.substr(prefix.size());
      }
    }
  }
  return message;
}

/// The error's text with its field named as the user gave it: a flag, or the variable
/// in `env` the flag's value came from.
inline std::string message_of(const ConfigError& e,
                              const std::vector<std::pair<std::string, std::string>>& env = {}) {
  std::string text = e.what();
  const std::string prefix = "wsload: " + e.field() + ": ";
  if (text.rfind(prefix, 0) == 0) {
    text = "wsload: " + flag_of(e.field()) + ": " + text.substr(prefix.size());
  }
  return named_by_source(text, env);
}

inline int bad_input(const ConfigError& e) {
  return bad_input(message_of(e));
}

/// The one line for an exception that no input check turned into a ConfigError: the kind
/// of failure, never its what() (library internals such as "vector::_M_default_append").
inline std::string unexpected_error(const std::string& command, const std::exception& e) {
  const std::string prefix = "wsload: " + command + ": ";
  if (dynamic_cast<const std::bad_alloc*>(&e) || dynamic_cast<const std::length_error*>(&e)) {
    return prefix + "out of memory: the input asks for more than this machine has";
  }
  if (const auto* system = dynamic_cast<const std::system_error*>(&e)) {
    return prefix + system->code().message();
  }
  if (dynamic_cast<const nlohmann::json::exception*>(&e)) {
    return prefix + "an input holds JSON of another shape than expected";
  }
  return prefix + "internal error (please report it, with the command line)";
}

}  // namespace detail
}  // namespace wsload::cli
