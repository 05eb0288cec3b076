#pragma once
// `runnel quota describe|alter`: client quotas from the command line, like
// kafka-configs.sh --entity-type users|clients|ips (--entity-name NAME:
// `--user NAME`; --entity-default: `--user-default`; the same for
// `--client` and `--ip`), through DescribeClientQuotas and
// AlterClientQuotas. Without an entity, describe lists every quota; with
// one it lists exactly that entity's (a strict match, as kafka-configs.sh).
// Each returns the exit code: 0 when done, 1 otherwise (the broker's error
// on `err`).
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace runnel::app {

struct QuotaOptions {
  std::string bootstrap = "127.0.0.1:9092";
  bool json = false;
  // Entity type ("user", "client-id", "ip") -> name (nullopt: the default).
  std::vector<std::pair<std::string, std::optional<std::string>>> entity;
};

// ENTITY QUOTA VALUE, one row per key.
int quota_describe(const QuotaOptions& o, std::ostream& out, std::ostream& err);

// Sets and removes the entity's quotas; values are numbers.
int quota_alter(const QuotaOptions& o, const std::map<std::string, std::string>& set,
                const std::vector<std::string>& remove, std::ostream& out, std::ostream& err);

}  // namespace runnel::app
