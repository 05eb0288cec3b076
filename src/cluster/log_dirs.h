#pragma once
// A broker's log directories (Kafka's log.dirs, JBOD): which directory holds
// each partition replica, and where a new one goes. At start-up each online
// directory is listed once; a replica found there stays there, a new one goes
// to the online directory with the fewest partitions (Kafka's
// LogManager.nextLogDirs). A replica found in two directories is refused
// (it stays offline) rather than guessed. An offline directory (missing its
// meta.properties, or unreadable) holds nothing this broker can open; while
// one is offline, a replica this broker held before and cannot find is not
// created again empty elsewhere (Kafka's rule for a log that is not new).
//
// check_log_dirs() settles each directory's identity at start-up: the
// meta.properties Kafka writes into every log dir, and the list of the
// directories this broker has formatted (meta/log-dirs in the first), so
// that an unmounted disk, whose empty mount point has no meta.properties, is
// taken for offline and not for a new, empty directory.
//
// Thread-safety: a LogDirs may be used from any thread (one mutex).
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cluster/node_meta.h"
#include "storage/env.h"

namespace runnel::cluster {

struct LogDir {
  std::filesystem::path path;
  bool online = true;
};

class LogDirs {
 public:
  explicit LogDirs(std::vector<LogDir> dirs = {});

  // Lists each online directory's partition directories ("<topic>-<n>").
  void scan(storage::Env& env);
  // The directory of partition directory `key` ("<topic>-<n>"): where it is,
  // else, with `create`, the online directory with the fewest partitions
  // (then it counts as there). nullopt, with `why`, when it cannot be opened:
  // found twice, or not found while a directory is offline and not `create`.
  std::optional<std::filesystem::path> locate(const std::string& key, bool create, std::string* why);
  // Where `key` is (nullopt: nowhere known); forget() after deleting it.
  std::optional<std::filesystem::path> find(const std::string& key) const;
  void forget(const std::string& key);
  // A replica not held yet goes to directory `index` when it is created
  // (AlterReplicaLogDirs before the replica exists, as Kafka remembers it),
  // if that directory is online then.
  void prefer(const std::string& key, size_t index);
  // `key` now lives in directory `index` (a replica moved there).
  void relocate(const std::string& key, size_t index);
  // The index of the directory at `path` (absolute, normalized).
  std::optional<size_t> index_of(const std::filesystem::path& path) const;

  // A replica moving to another directory (AlterReplicaLogDirs) is copied
  // into "<key>.<id>-future" there; the original is renamed
  // "<key>.<id>-delete" before the copy takes the name "<key>". After a
  // crash, scan() removes every "-future" copy (the original is still in
  // place, or is the "-delete" one), and a "-delete" original is removed
  // when "<key>" exists in a directory, else renamed back to "<key>".
  static std::string future_name(const std::string& key, const std::string& id) { return key + "." + id + "-future"; }
  static std::string delete_name(const std::string& key, const std::string& id) { return key + "." + id + "-delete"; }

  const std::vector<LogDir>& dirs() const { return dirs_; }

  // Whether `name` is a partition directory's name: "<topic>-<digits>".
  static bool is_partition_dir_name(const std::string& name);

 private:
  std::vector<LogDir> dirs_;
  mutable std::mutex mu_;
  std::map<std::string, size_t> where_;           // key -> index in dirs_, under mu_
  std::map<std::string, std::string> conflicts_;  // key -> why it cannot be opened, under mu_
  std::map<std::string, size_t> preferred_;       // key -> directory for its creation, under mu_
  std::vector<size_t> counts_;                    // partitions per directory, under mu_
  bool any_offline_ = false;
};

// Before anything is written at start-up: throws std::runtime_error when a
// directory other than the first holds meta/ (the broker's own state, kept
// in the first only): log.dirs was reordered, and the broker would begin an
// empty catalogue beside its data.
void check_log_dir_order(storage::Env& env, const std::vector<std::filesystem::path>& dirs);

// At start-up, once the first directory's identity (`identity`) is settled:
// creates each further directory, checks its meta.properties against
// `identity` (throws std::runtime_error, as for the first, when it belongs to
// another node or cluster) or writes one, and records the formatted ones in
// <first>/meta/log-dirs. A directory recorded there that has lost its
// meta.properties, or one that cannot be created or written, is offline
// (logged). The first directory is always online (the broker needs it).
std::vector<LogDir> check_log_dirs(storage::Env& env, const std::vector<std::filesystem::path>& dirs,
                                   const NodeMeta& identity);

}  // namespace runnel::cluster
