#pragma once
// The one spelling of a directory that log.dirs, the broker's log
// directories and AlterReplicaLogDirs' paths are compared in.
//
// Thread-safety: a pure function.
#include <filesystem>
#include <system_error>

namespace runnel {

// `dir` made absolute (against the working directory) and lexically normal,
// without a trailing separator: "./data/" and "$PWD/data" are the same.
inline std::filesystem::path normal_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  auto path = std::filesystem::absolute(dir, ec).lexically_normal();
  if (ec) path = dir.lexically_normal();
  if (!path.has_filename() && path.has_parent_path() && path != path.root_path()) path = path.parent_path();
  return path;
}

}  // namespace runnel
