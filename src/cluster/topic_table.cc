#include "cluster/topic_table.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "config/topic_config.h"
#include "storage/env.h"

namespace runnel::cluster {
namespace {

TopicId random_topic_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  TopicId id;
  for (size_t i = 0; i < id.size(); i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8; ++j) id[i + j] = uint8_t(v >> (j * 8));
  }
  return id;
}

std::string hex(const TopicId& id) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : id) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

TopicId unhex(const std::string& s) {
  TopicId id{};
  for (size_t i = 0; i < id.size() && 2 * i + 1 < s.size(); ++i)
    id[i] = uint8_t(std::stoi(s.substr(2 * i, 2), nullptr, 16));
  return id;
}

// __consumer_offsets is compacted by its coordinator (not by the log
// cleaner), never cut by time or size: that would drop committed offsets
// still in use.
void force_internal_settings(storage::LogConfig& config) {
  config.retention_ms = -1;
  config.retention_bytes = -1;
  config.compact = true;
  config.cleanup_delete = false;
  config.compacted_by_owner = true;
}

}  // namespace

ErrorCode validate_topic_name(const std::string& name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return ErrorCode::INVALID_TOPIC_EXCEPTION;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return ErrorCode::INVALID_TOPIC_EXCEPTION;
  return ErrorCode::NONE;
}

TopicTable::TopicTable(std::filesystem::path meta_dir, storage::LogConfig defaults, storage::Env* env)
    : meta_dir_(std::move(meta_dir)), defaults_(defaults), env_(env) {}

storage::LogConfig TopicTable::effective_log_config(const std::map<std::string, std::string>& overrides,
                                                    bool internal) const {
  auto config = topic_log_config(defaults_, overrides);
  if (internal) force_internal_settings(config);
  return config;
}

void TopicTable::load() {
  std::lock_guard lock(mu_);
  std::filesystem::create_directories(meta_dir_);
  auto path = meta_dir_ / "topics.json";
  if (!std::filesystem::exists(path)) return;
  std::ifstream in(path);
  auto doc = nlohmann::json::parse(in);
  if (doc.value("version", 0) != 1) throw std::runtime_error("unsupported topics.json version in " + path.string());
  for (const auto& t : doc["topics"]) {
    TopicInfo info;
    info.name = t["name"];
    info.id = unhex(t["id"]);
    info.partitions = t["partitions"];
    info.internal = t.value("internal", false);
    info.overrides = t["config"].get<std::map<std::string, std::string>>();
    info.log_config = effective_log_config(info.overrides, info.internal);
    if (t.contains("replicas")) info.replicas = t["replicas"].get<std::vector<std::vector<int32_t>>>();
    topics_[info.name] = info;
  }
}

bool TopicTable::persist_locked() const {
  nlohmann::json topics = nlohmann::json::array();
  for (const auto& [name, t] : topics_) {
    nlohmann::json topic = {{"name", name},
                            {"id", hex(t.id)},
                            {"partitions", t.partitions},
                            {"internal", t.internal},
                            {"config", t.overrides}};
    if (!t.replicas.empty()) topic["replicas"] = t.replicas;
    topics.push_back(std::move(topic));
  }
  nlohmann::json doc = {{"version", 1}, {"topics", topics}};
  const std::string text = doc.dump(2) + "\n";
  // Through the Env: every write and sync is checked, so a full disk fails
  // the change instead of renaming a cut-short file over the catalogue (which
  // then kept the broker from ever starting again).
  if (env_->write_file_atomic(meta_dir_ / "topics.json",
                              std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size())))
    return true;
  spdlog::error("cannot write {}: {}; the topic change is not made", (meta_dir_ / "topics.json").string(),
                std::strerror(errno));
  return false;
}

std::optional<TopicInfo> TopicTable::find(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return it->second;
}

std::optional<TopicShape> TopicTable::shape(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return TopicShape{it->second.id, it->second.partitions, it->second.internal};
}

std::optional<std::string> TopicTable::name_of(const TopicId& id) const {
  if (id == TopicId{}) return std::nullopt;  // Kafka's Uuid.ZERO names no topic
  std::lock_guard lock(mu_);
  for (const auto& [name, info] : topics_)
    if (info.id == id) return name;
  return std::nullopt;
}

std::vector<TopicInfo> TopicTable::all() const {
  std::lock_guard lock(mu_);
  std::vector<TopicInfo> out;
  for (const auto& [_, t] : topics_) out.push_back(t);
  return out;
}

ErrorCode TopicTable::create(const std::string& name, int32_t partitions,
                             const std::map<std::string, std::string>& overrides, bool internal, std::string* message) {
  if (auto e = validate_topic_name(name); e != ErrorCode::NONE) {
    if (message) *message = "Topic name \"" + name + "\" is illegal";
    return e;
  }
  if (partitions <= 0 || partitions > 100000) {
    if (message) *message = "Number of partitions must be larger than 0.";
    return ErrorCode::INVALID_PARTITIONS;
  }
  TopicInfo info;
  std::lock_guard lock(mu_);  // before the config: set_defaults() must not slip in between
  try {
    info.log_config = effective_log_config(overrides, internal);
  } catch (const ConfigError& e) {
    if (message) *message = e.what();
    return ErrorCode::INVALID_CONFIG;
  }
  if (topics_.count(name)) {
    if (message) *message = "Topic '" + name + "' already exists.";
    return ErrorCode::TOPIC_ALREADY_EXISTS;
  }
  if (!internal)
    if (auto e = check_capacity_locked(partitions, message); e != ErrorCode::NONE) return e;
  info.name = name;
  info.id = random_topic_id();
  info.partitions = partitions;
  info.internal = internal;
  info.overrides = overrides;
  topics_[name] = info;
  if (!persist_locked()) {
    topics_.erase(name);
    return ErrorCode::KAFKA_STORAGE_ERROR;
  }
  return ErrorCode::NONE;
}

ErrorCode TopicTable::adopt(TopicInfo topic, std::string* message) {
  std::lock_guard lock(mu_);
  try {
    topic.log_config = effective_log_config(topic.overrides, topic.internal);
  } catch (const ConfigError& e) {
    if (message) *message = e.what();
    return ErrorCode::INVALID_CONFIG;
  }
  topic.partitions = static_cast<int32_t>(topic.replicas.size());
  auto before = topics_;
  topics_[topic.name] = std::move(topic);
  if (!persist_locked()) {
    topics_ = std::move(before);
    return ErrorCode::KAFKA_STORAGE_ERROR;
  }
  return ErrorCode::NONE;
}

ErrorCode TopicTable::remove(const std::string& name) {
  std::lock_guard lock(mu_);
  auto node = topics_.extract(name);
  if (node.empty()) return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  if (!persist_locked()) {
    topics_.insert(std::move(node));
    return ErrorCode::KAFKA_STORAGE_ERROR;
  }
  return ErrorCode::NONE;
}

ErrorCode TopicTable::set_partitions(const std::string& name, int32_t partitions, std::string* message) {
  std::lock_guard lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  if (partitions <= it->second.partitions) {
    if (message)
      *message = "Topic currently has " + std::to_string(it->second.partitions) +
                 " partitions, which is higher than or equal to the requested " + std::to_string(partitions) + ".";
    return ErrorCode::INVALID_PARTITIONS;
  }
  if (!it->second.internal)
    if (auto e = check_capacity_locked(partitions - it->second.partitions, message); e != ErrorCode::NONE) return e;
  const int32_t before = it->second.partitions;
  it->second.partitions = partitions;
  if (!persist_locked()) {
    it->second.partitions = before;
    return ErrorCode::KAFKA_STORAGE_ERROR;
  }
  return ErrorCode::NONE;
}

void TopicTable::restore_partitions(const std::string& name, int32_t partitions) {
  std::lock_guard lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end() || it->second.partitions <= partitions) return;
  it->second.partitions = partitions;
  (void)persist_locked();  // logged; the next successful write carries it
}

void TopicTable::set_max_partitions(int64_t max) {
  std::lock_guard lock(mu_);
  max_partitions_ = max;
}

int64_t TopicTable::max_partitions() const {
  std::lock_guard lock(mu_);
  return max_partitions_;
}

int64_t TopicTable::total_partitions() const {
  std::lock_guard lock(mu_);
  return total_locked();
}

int64_t TopicTable::total_locked() const {
  int64_t total = 0;
  for (const auto& [_, t] : topics_) total += t.partitions;
  return total;
}

ErrorCode TopicTable::check_capacity_locked(int64_t more, std::string* message) const {
  int64_t total = total_locked();
  if (total + more <= max_partitions_) return ErrorCode::NONE;
  if (message)
    *message = "Adding " + std::to_string(more) + " partitions would exceed this broker's limit of " +
               std::to_string(max_partitions_) + " partitions (" + std::to_string(total) +
               " exist; runnel.max.partitions).";
  return ErrorCode::POLICY_VIOLATION;
}

ErrorCode TopicTable::set_overrides(const std::string& name, const std::map<std::string, std::string>& overrides,
                                    std::string* message) {
  storage::LogConfig config;
  std::lock_guard lock(mu_);
  try {
    config = topic_log_config(defaults_, overrides);
  } catch (const ConfigError& e) {
    if (message) *message = e.what();
    return ErrorCode::INVALID_CONFIG;
  }
  auto it = topics_.find(name);
  if (it == topics_.end()) return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  if (it->second.internal) force_internal_settings(config);
  auto before = it->second;
  it->second.overrides = overrides;
  it->second.log_config = config;
  if (!persist_locked()) {
    it->second = std::move(before);
    return ErrorCode::KAFKA_STORAGE_ERROR;
  }
  return ErrorCode::NONE;
}

storage::LogConfig TopicTable::defaults() const {
  std::lock_guard lock(mu_);
  return defaults_;
}

std::vector<std::string> TopicTable::set_defaults(const storage::LogConfig& defaults) {
  std::lock_guard lock(mu_);
  defaults_ = defaults;
  std::vector<std::string> changed;
  for (auto& [name, t] : topics_) {
    storage::LogConfig config;
    try {
      config = effective_log_config(t.overrides, t.internal);
    } catch (const ConfigError& e) {
      // Its overrides parsed under the old defaults and do not depend on them;
      // keep what it had rather than lose the topic.
      spdlog::error("topic {} keeps its configuration: {}", name, e.what());
      continue;
    }
    if (config == t.log_config) continue;
    t.log_config = config;
    changed.push_back(name);
  }
  return changed;
}

}  // namespace runnel::cluster
