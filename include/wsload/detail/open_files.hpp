// The operating system's limit of open files: how many a run needs, and raising this
// process's soft limit towards that (a socket is a file, and 1024 is a common default).
#pragma once

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <string>
#include <system_error>

#include <sys/resource.h>

#include <wsload/config.hpp>
#include <wsload/errors.hpp>

namespace wsload::detail {

/// Raises this process's soft limit of open files towards `files`, as far as the hard
/// limit allows (a socket is a file, and 1024 is a common default). Returns the limit now
/// in force and the hard one; RLIM_INFINITY when there is none.
inline rlimit raise_open_file_limit(std::size_t files) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return {RLIM_INFINITY, RLIM_INFINITY};
  const auto needed = static_cast<rlim_t>(files);
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= needed) return limit;
  const rlim_t raised = limit.rlim_max == RLIM_INFINITY ? needed : std::min(needed, limit.rlim_max);
  rlimit wanted{raised, limit.rlim_max};
  if (setrlimit(RLIMIT_NOFILE, &wanted) == 0) limit.rlim_cur = raised;
  return limit;
}

/// raise_open_file_limit(files), or a ConfigError naming `field` when the hard limit is
/// lower than `files`.
inline void ensure_open_files(std::size_t files, const std::string& field = "connections") {
  const rlimit limit = raise_open_file_limit(files);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < static_cast<rlim_t>(files)) {
    throw ConfigError(field, "",
                      "needs about " + std::to_string(files) +
                          " open files (a socket per connection, a few for event loops, name "
                          "resolution and outputs), but this process may open only " +
                          std::to_string(limit.rlim_cur) + " (ulimit -n; hard limit " +
                          (limit.rlim_max == RLIM_INFINITY ? std::string("unlimited")
                                                           : std::to_string(limit.rlim_max)) +
                          "): raise the limit, or split the load into shards");
  }
}

/// The files (descriptors) a run of `config` keeps open at most: those this process has
/// open already, a socket per connection, an event loop per engine thread and one to
/// resolve the host (epoll, eventfd and timerfd each), and a few that come and go (name
/// resolution, TLS trust stores, the outputs' temporary files).
inline std::size_t open_files_needed(const LoadConfig& config) {
  std::size_t open_now = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator fd("/proc/self/fd", ec), end; !ec && fd != end;
       fd.increment(ec)) {
    ++open_now;
  }
  // The listing counts its own descriptor; without /proc, guess generously.
  open_now = ec || open_now == 0 ? 64 : open_now - 1;
  constexpr std::size_t per_event_loop = 3;
  constexpr std::size_t passing = 8;
  return open_now + config.concurrent_connections() +
         per_event_loop * (effective_threads(config) + 1) + passing;
}

}  // namespace wsload::detail
