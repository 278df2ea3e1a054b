// This process's memory as the benchmarks report it: resident size and heap in use.
#pragma once

#include <fstream>
#include <string>

#include <malloc.h>

namespace wsload::bench {

/// Resident memory of this process, bytes: what a load really costs, in a process that
/// has not run a bigger one before (freed pages stay resident).
inline double resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) * 1024;
  }
  return 0;
}

/// Heap in use, bytes: what malloc has handed out and not had back (OpenSSL's and the
/// engine's alike). Unlike the resident size, memory freed by an earlier benchmark and
/// reused does not hide in it.
inline double heap_in_use() {
  const auto m = mallinfo2();
  return static_cast<double>(m.uordblks + m.hblkhd);
}

}  // namespace wsload::bench
