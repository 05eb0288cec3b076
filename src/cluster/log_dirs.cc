#include "cluster/log_dirs.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>

namespace runnel::cluster {
namespace {

constexpr const char* kKnownDirsFile = "log-dirs";  // under <first>/meta

bool write_text(storage::Env& env, const std::filesystem::path& path, const std::string& text) {
  return env.write_file_atomic(path, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

}  // namespace

LogDirs::LogDirs(std::vector<LogDir> dirs) : dirs_(std::move(dirs)), counts_(dirs_.size(), 0) {
  for (const auto& d : dirs_) any_offline_ |= !d.online;
}

bool LogDirs::is_partition_dir_name(const std::string& name) {
  auto dash = name.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == name.size()) return false;
  return std::all_of(name.begin() + static_cast<std::ptrdiff_t>(dash) + 1, name.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

void LogDirs::scan(storage::Env& env) {
  std::lock_guard lock(mu_);
  std::vector<std::pair<size_t, std::string>> originals;  // "-delete" directories of an interrupted move
  for (size_t i = 0; i < dirs_.size(); ++i) {
    if (!dirs_[i].online) continue;
    for (const auto& name : env.list(dirs_[i].path)) {
      if (name.ends_with("-future") && name.find('.') != std::string::npos) {
        spdlog::warn("removing {}: the copy of a replica move that did not complete", (dirs_[i].path / name).string());
        std::error_code ec;
        std::filesystem::remove_all(dirs_[i].path / name, ec);
        continue;
      }
      if (name.ends_with("-delete") && name.find('.') != std::string::npos) {
        originals.emplace_back(i, name);
        continue;
      }
      if (!is_partition_dir_name(name)) continue;
      auto [it, fresh] = where_.emplace(name, i);
      if (fresh) {
        ++counts_[i];
        continue;
      }
      conflicts_[name] = "it is in two log directories, " + dirs_[it->second].path.string() + " and " +
                         dirs_[i].path.string() + ": remove the copy that is not current";
      spdlog::error("partition {} stays offline: {}", name, conflicts_[name]);
    }
  }
  for (const auto& [i, name] : originals) {
    const auto key = name.substr(0, name.rfind('.'));
    std::error_code ec;
    if (where_.count(key)) {
      std::filesystem::remove_all(dirs_[i].path / name, ec);  // the move completed
    } else if (env.rename(dirs_[i].path / name, dirs_[i].path / key) && env.sync_dir(dirs_[i].path)) {
      spdlog::warn("partition {}: a move to another log directory was interrupted; it stays in {}", key,
                   dirs_[i].path.string());
      where_.emplace(key, i);
      ++counts_[i];
    } else {
      spdlog::error("partition {}: cannot rename {} back: {}", key, (dirs_[i].path / name).string(),
                    std::strerror(errno));
    }
  }
}

void LogDirs::prefer(const std::string& key, size_t index) {
  std::lock_guard lock(mu_);
  if (index < dirs_.size()) preferred_[key] = index;
}

void LogDirs::relocate(const std::string& key, size_t index) {
  std::lock_guard lock(mu_);
  if (auto it = where_.find(key); it != where_.end()) {
    --counts_[it->second];
    it->second = index;
  } else {
    where_.emplace(key, index);
  }
  ++counts_[index];
}

std::optional<size_t> LogDirs::index_of(const std::filesystem::path& path) const {
  for (size_t i = 0; i < dirs_.size(); ++i)
    if (dirs_[i].path == path) return i;
  return std::nullopt;
}

std::optional<std::filesystem::path> LogDirs::locate(const std::string& key, bool create, std::string* why) {
  std::lock_guard lock(mu_);
  if (auto c = conflicts_.find(key); c != conflicts_.end()) {
    if (why) *why = c->second;
    return std::nullopt;
  }
  if (auto it = where_.find(key); it != where_.end()) return dirs_[it->second].path / key;
  if (any_offline_ && !create) {
    if (why) *why = "it is in none of the online log directories, and a log directory is offline";
    return std::nullopt;
  }
  std::optional<size_t> best;
  for (size_t i = 0; i < dirs_.size(); ++i)
    if (dirs_[i].online && (!best || counts_[i] < counts_[*best])) best = i;
  if (auto p = preferred_.find(key); p != preferred_.end()) {
    if (dirs_[p->second].online) best = p->second;
    preferred_.erase(p);
  }
  if (!best) {
    if (why) *why = "every log directory is offline";
    return std::nullopt;
  }
  where_.emplace(key, *best);
  ++counts_[*best];
  return dirs_[*best].path / key;
}

std::optional<std::filesystem::path> LogDirs::find(const std::string& key) const {
  std::lock_guard lock(mu_);
  if (auto it = where_.find(key); it != where_.end()) return dirs_[it->second].path / key;
  return std::nullopt;
}

void LogDirs::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  conflicts_.erase(key);
  if (auto it = where_.find(key); it != where_.end()) {
    --counts_[it->second];
    where_.erase(it);
  }
}

void check_log_dir_order(storage::Env& env, const std::vector<std::filesystem::path>& dirs) {
  // The broker's own state (meta/: topics, users, ACLs) lives in the first
  // directory only; found in another, the list was reordered, and starting
  // would begin an empty catalogue beside the data.
  for (size_t i = 1; i < dirs.size(); ++i)
    if (env.exists(dirs[i] / "meta"))
      throw std::runtime_error(dirs[i].string() +
                               " holds a broker's own state (meta/), which only the first of log.dirs holds: list " +
                               dirs[i].string() + " first again");
}

std::vector<LogDir> check_log_dirs(storage::Env& env, const std::vector<std::filesystem::path>& dirs,
                                   const NodeMeta& identity) {
  std::vector<LogDir> out;
  if (dirs.empty()) return out;
  out.push_back({dirs.front(), true});
  const auto known_path = dirs.front() / "meta" / kKnownDirsFile;
  std::set<std::string> known;
  if (std::vector<uint8_t> bytes; env.read_file(known_path, bytes))
    known = parse_log_dir_list(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  std::set<std::string> formatted;  // the new list: the configured directories that are formatted
  for (size_t i = 1; i < dirs.size(); ++i) {
    const auto& dir = dirs[i];
    LogDir state{dir, false};
    std::optional<NodeMeta> stored;
    if (!env.create_dirs_durably(dir)) {
      spdlog::error("log directory {} is offline: cannot create it: {}", dir.string(), std::strerror(errno));
    } else if ((stored = load_node_meta(env, dir))) {
      if (auto why = identity_mismatch(*stored, identity.node_id, ""))
        throw std::runtime_error(dir.string() + ": " + *why);
      if (stored->cluster_id != identity.cluster_id)
        throw std::runtime_error(dir.string() + " belongs to cluster " + stored->cluster_id +
                                 " (meta.properties), the first log directory to cluster " + identity.cluster_id +
                                 ": one broker's log directories hold one cluster's logs");
      state.online = true;
    } else if (known.count(dir.string())) {
      spdlog::error(
          "log directory {} is offline: this broker formatted it before, but its meta.properties is gone (a disk "
          "not mounted?); its partitions stay offline until it is back (or remove it from log.dirs)",
          dir.string());
      formatted.insert(dir.string());  // still ours: it must not be taken for new next time either
    } else if (!write_text(env, dir / "meta.properties", format_node_meta(identity))) {
      spdlog::error("log directory {} is offline: cannot write its meta.properties: {}", dir.string(),
                    std::strerror(errno));
    } else {
      spdlog::info("log directory {}: formatted for node {} of cluster {}", dir.string(), identity.node_id,
                   identity.cluster_id);
      state.online = true;
    }
    if (state.online) formatted.insert(dir.string());
    out.push_back(std::move(state));
  }
  if (formatted != known && env.create_dirs_durably(known_path.parent_path())) {
    if (!write_text(env, known_path, format_log_dir_list(formatted)))
      spdlog::warn("cannot write {}: {}", known_path.string(), std::strerror(errno));
  }
  return out;
}

}  // namespace runnel::cluster
