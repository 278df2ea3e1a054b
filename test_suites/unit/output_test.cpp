// The output writer: regular files replaced atomically, symbolic links kept, devices,
// FIFOs and pipes written straight through, `-` as standard output, and unwritable paths
// refused up front. Every node is made in the test's scratch directory.
#include <wsload/results/output.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "../support/scratch.hpp"

namespace {

using namespace std::chrono_literals;
using wsload::check_output_path;
using wsload::ConfigError;
using wsload::write_file_atomically;
namespace fs = std::filesystem;

class Output : public wsload::test::ScratchTest {
 protected:
  std::size_t entries(const fs::path& dir) const {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
  }
};

TEST_F(Output, ARegularFileIsReplacedAtomically) {
  const auto path = write("summary.json", "old");
  write_file_atomically(path, "new");
  EXPECT_EQ(read_text(path), "new");
  EXPECT_EQ(entries(dir_), 1u) << "no temporary file left behind";
}

TEST_F(Output, ACharacterDeviceIsWrittenThroughNotReplaced) {
  const auto node = null_device("null");
  if (node.empty()) GTEST_SKIP() << "mknod needs CAP_MKNOD: " << std::strerror(errno);
  write_file_atomically(node, "{\"schema\": \"wsload.summary/1\"}\n");
  EXPECT_EQ(type_of(node), S_IFCHR) << "replaced by a regular file";
  struct stat status {};
  ASSERT_EQ(::stat(node.c_str(), &status), 0);
  EXPECT_EQ(major(status.st_rdev), 1u);
  EXPECT_EQ(minor(status.st_rdev), 3u);
  EXPECT_EQ(entries(dir_), 1u) << "no temporary file left behind";

  // Through a link too: the link stays and so does the device.
  fs::create_symlink("null", dir_ / "to-null");
  write_file_atomically(dir_ / "to-null", "again\n");
  EXPECT_TRUE(fs::is_symlink(dir_ / "to-null"));
  EXPECT_EQ(type_of(node), S_IFCHR);
}

TEST_F(Output, AFifoIsWrittenThroughToItsReader) {
  const auto fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  wsload::test::FifoReader reader(fifo, 30s);
  ASSERT_TRUE(reader.opened()) << std::strerror(errno);
  // More than a pipe holds (64 KiB): written while the reader reads.
  std::string text(1 << 20, 'x');
  text.back() = '\n';
  write_file_atomically(fifo, text);
  EXPECT_EQ(reader.stop(), text);
  EXPECT_EQ(type_of(fifo), S_IFIFO) << "replaced by a regular file";
  EXPECT_EQ(entries(dir_), 1u);
}

TEST_F(Output, AFifoWithoutAReaderFailsInsteadOfKillingTheProcess) {
  const auto fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  // A reader that goes away after the writer opened: the write fails with EPIPE.
  const int fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto closer = std::async(std::launch::async, [fd] {
    // The writer fills the pipe (64 KiB) and blocks; then the reader leaves.
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    int queued = 0;
    while (std::chrono::steady_clock::now() < give_up &&
           !(::ioctl(fd, FIONREAD, &queued) == 0 && queued >= 65536)) {
      std::this_thread::yield();
    }
    ::close(fd);
  });
  try {
    write_file_atomically(fifo, std::string(1 << 20, 'x'), "--report");
    ADD_FAILURE() << "the write cannot have reached a reader that left";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "--report");
    EXPECT_NE(std::string(e.what()).find("write failed"), std::string::npos) << e.what();
  }
  closer.get();
  EXPECT_EQ(type_of(fifo), S_IFIFO);
}

TEST_F(Output, ASymlinkKeepsPointingAtItsReplacedTarget) {
  const auto real = write("real.json", "old");
  fs::create_directory(dir_ / "links");
  const auto link = dir_ / "links" / "link.json";
  fs::create_symlink("../real.json", link);  // relative to the link's own directory
  fs::create_symlink("link.json", dir_ / "links" / "link-to-link.json");
  write_file_atomically(dir_ / "links" / "link-to-link.json", "new");
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_TRUE(fs::is_symlink(dir_ / "links" / "link-to-link.json"));
  EXPECT_EQ(fs::read_symlink(link), "../real.json");
  EXPECT_EQ(read_text(real), "new");
  EXPECT_EQ(entries(dir_), 2u) << "real.json and links/, no temporary file";
  EXPECT_EQ(entries(dir_ / "links"), 2u);

  // A dangling link: the file it names is made, the link kept.
  fs::create_symlink("made.json", dir_ / "dangling.json");
  write_file_atomically(dir_ / "dangling.json", "made");
  EXPECT_TRUE(fs::is_symlink(dir_ / "dangling.json"));
  EXPECT_EQ(read_text(dir_ / "made.json"), "made");

  fs::create_symlink("loop-b", dir_ / "loop-a");
  fs::create_symlink("loop-a", dir_ / "loop-b");
  EXPECT_THROW(write_file_atomically(dir_ / "loop-a", "x"), ConfigError);
}

TEST_F(Output, DashIsStandardOutput) {
  const bool stray_before = fs::exists("-");
  ::testing::internal::CaptureStdout();
  write_file_atomically("-", "on standard output\n");
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "on standard output\n");
  EXPECT_EQ(fs::exists("-"), stray_before) << "a file named '-' was made";
  EXPECT_NO_THROW(check_output_path("-", "--summary"));
}

TEST_F(Output, UnwritablePathsAreRefusedByTheCheckAndTheWriter) {
  const std::vector<fs::path> unwritable = {dir_, dir_ / "missing" / "summary.json",
                                            "/proc/wsload_summary.json"};
  for (const auto& path : unwritable) {
    try {
      check_output_path(path, "--summary");
      ADD_FAILURE() << path << " passed the check";
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.field(), "--summary") << path;
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
    EXPECT_THROW(write_file_atomically(path, "x", "--summary"), ConfigError) << path;
  }
  EXPECT_EQ(entries(dir_), 0u);

  // What can be written passes, and the check leaves nothing behind.
  EXPECT_NO_THROW(check_output_path(dir_ / "new.json", "--summary"));
  EXPECT_NO_THROW(check_output_path(write("old.json", "old"), "--summary"));
  const auto fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_NO_THROW(check_output_path(fifo, "--summary")) << "checked without opening it";
  EXPECT_NO_THROW(check_output_path("", "--summary")) << "no output";
  EXPECT_EQ(entries(dir_), 2u) << "old.json and fifo only";
}

}  // namespace
