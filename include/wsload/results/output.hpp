// Output files: a regular file is replaced atomically (through a symbolic link, the file
// it points to), a character device, FIFO or pipe is written straight through, and `-`
// is standard output. Every writer of results goes through write_file_atomically.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wsload/errors.hpp>

namespace wsload {

namespace detail {

/// Where an output path leads once symbolic links are followed.
struct OutputTarget {
  enum class Kind {
    standard_output,  ///< "-"
    replace,          ///< a regular file, or none yet: written to a temporary file, renamed
    stream,           ///< a character device, FIFO or pipe: written straight through
  };
  Kind kind = Kind::replace;
  /// replace: the file the rename replaces (a link's final target, so the link is kept);
  /// stream: the path to open.
  std::filesystem::path path;
};

/// The file a chain of symbolic links ends at, existing or not (a dangling link's target
/// is the file to create).
inline std::filesystem::path final_link_target(std::filesystem::path path,
                                               const std::string& field) {
  // As many links as the kernel follows (MAXSYMLINKS) before it says ELOOP.
  for (int hops = 0; hops < 40; ++hops) {
    std::error_code ec;
    if (!std::filesystem::is_symlink(std::filesystem::symlink_status(path, ec))) return path;
    const auto target = std::filesystem::read_symlink(path, ec);
    if (ec) break;
    path = target.is_absolute() ? target : path.parent_path() / target;
  }
  throw ConfigError(field, path.string(), "is a loop of symbolic links");
}

/// Resolves an output path. Throws ConfigError naming `field` and `path` for what no
/// output may replace: a directory, a block device, a socket.
inline OutputTarget output_target(const std::filesystem::path& path, const std::string& field) {
  if (path == "-") return {OutputTarget::Kind::standard_output, {}};
  struct stat status {};
  if (::stat(path.c_str(), &status) == 0) {
    if (S_ISCHR(status.st_mode) || S_ISFIFO(status.st_mode)) {
      return {OutputTarget::Kind::stream, path};
    }
    if (S_ISDIR(status.st_mode)) throw ConfigError(field, path.string(), "is a directory");
    if (!S_ISREG(status.st_mode)) {
      throw ConfigError(field, path.string(),
                        "is a block device or a socket, which an output must not overwrite");
    }
  } else if (errno != ENOENT) {
    throw ConfigError(field, path.string(),
                      std::string("cannot be written: ") + std::strerror(errno));
  }
  return {OutputTarget::Kind::replace, final_link_target(path, field)};
}

/// A name for a temporary file beside `path`, unique to this process and call.
inline std::filesystem::path temporary_beside(const std::filesystem::path& path) {
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::random_device rd;
  // Appending, not operator+ on temporaries: g++ 12 -O3 warns falsely (-Wrestrict) there.
  std::string name(".");
  name.append(path.filename().string())
      .append(".tmp.")
      .append(std::to_string(::getpid()))
      .append(".")
      .append(std::to_string(rd()));
  return dir / name;
}

/// Writes `text` to the temporary file beside `target`, then renames it over `target`.
inline void replace_atomically(const std::filesystem::path& target, std::string_view text,
                               const std::string& field, const std::string& shown) {
  const auto tmp = temporary_beside(target);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw ConfigError(field, shown, "cannot be written (directory missing or not writable)");
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      throw ConfigError(field, shown, "write failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, target, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw ConfigError(field, shown, "cannot be replaced: " + ec.message());
  }
}

/// How long an output FIFO may wait for a process to read it.
inline constexpr std::chrono::seconds fifo_reader_wait{30};

/// Writes `text` into a character device, FIFO or pipe as it is: no temporary file, no
/// rename, so the node stays what it was.
inline void write_through(const std::filesystem::path& path, std::string_view text,
                          const std::string& field, const std::string& shown) {
  // Without O_NONBLOCK, opening a FIFO nobody reads would wait for ever.
  int fd = -1;
  const auto give_up = std::chrono::steady_clock::now() + fifo_reader_wait;
  while ((fd = ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)) < 0) {
    if (errno == EINTR) continue;
    if (errno != ENXIO || std::chrono::steady_clock::now() > give_up) {
      throw ConfigError(field, shown,
                        errno == ENXIO ? "is a FIFO that no process opened for reading"
                                       : std::string("cannot be opened: ") + std::strerror(errno));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  // A reader that goes away must fail this write, not end the process with SIGPIPE.
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &pipe_signal, &previous);
  int error = 0;
  for (std::size_t done = 0; done < text.size();) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errno;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (error == EPIPE) {
    const timespec now{0, 0};
    sigtimedwait(&pipe_signal, nullptr, &now);  // the SIGPIPE the write raised
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ::close(fd);
  if (error != 0) {
    throw ConfigError(field, shown, std::string("write failed: ") + std::strerror(error));
  }
}

}  // namespace detail

/// Writes `text` to the output `path`:
/// - a regular file (or a path that does not exist yet) atomically: a temporary file in
///   the same directory, then a rename, so a reader never sees half a file and a failed
///   write leaves the old one; through a symbolic link, the file it points to is replaced
///   and the link kept;
/// - a character device, FIFO or pipe (`/dev/null`, `/dev/stdout`) straight through;
/// - `-` to standard output.
/// Throws ConfigError (naming `field` and the path) for a directory, a block device, a
/// socket, a missing or unwritable directory, or a failed write.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view text,
                                  const std::string& field = "summary file") {
  const auto target = detail::output_target(path, field);
  switch (target.kind) {
    case detail::OutputTarget::Kind::standard_output:
      std::cout.write(text.data(), static_cast<std::streamsize>(text.size()));
      std::cout.flush();
      if (!std::cout) throw ConfigError(field, "-", "standard output cannot be written");
      return;
    case detail::OutputTarget::Kind::stream:
      detail::write_through(target.path, text, field, path.string());
      return;
    case detail::OutputTarget::Kind::replace:
      detail::replace_atomically(target.path, text, field, path.string());
      return;
  }
}

/// Refuses, before a run sends anything, an output path write_file_atomically could not
/// write: a directory, a missing directory, one where no file can be created (such as
/// /proc), a device or FIFO without write permission. Empty: no output, nothing to check.
/// Throws ConfigError naming `field` and the path.
inline void check_output_path(const std::filesystem::path& path, const std::string& field) {
  if (path.empty()) return;
  const auto target = detail::output_target(path, field);
  if (target.kind == detail::OutputTarget::Kind::standard_output) return;
  if (target.kind == detail::OutputTarget::Kind::stream) {
    if (::access(target.path.c_str(), W_OK) != 0) {
      throw ConfigError(field, path.string(),
                        std::string("cannot be written: ") + std::strerror(errno));
    }
    return;
  }
  const auto& file = target.path;
  const auto dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw ConfigError(field, path.string(), "its directory does not exist");
  }
  // Permission bits do not tell (root passes them; /proc refuses new files whatever they
  // say): create the file the rename will need, and remove it.
  const auto probe = detail::temporary_beside(file);
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw ConfigError(field, path.string(),
                      "cannot be written: no file can be created in " + dir.string() + " (" +
                          std::strerror(errno) + ")");
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

}  // namespace wsload
