#pragma once
// An empty partition directory for a fuzz target's next input: made once
// per process under the system's temp dir (named after `prefix`), and
// emptied on every call.
#include <unistd.h>

#include <filesystem>
#include <string>

namespace runnel::fuzz {

inline std::filesystem::path fresh_partition_dir(const char* prefix) {
  static const std::filesystem::path scratch = [prefix] {
    std::string tmpl = (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    return std::filesystem::path(::mkdtemp(tmpl.data()));
  }();
  auto dir = scratch / "p-0";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace runnel::fuzz
