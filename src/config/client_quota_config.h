#pragma once
// Kafka's client quotas (KIP-13, KIP-55, KIP-546, KIP-612): limits set on a
// user (the principal's name), a client-id, a user and client-id together,
// or a client address, through AlterClientQuotas (kafka-configs.sh
// --entity-type users|clients|ips), and read back through
// DescribeClientQuotas. The quotas live in the dynamic broker config
// document (config/dynamic_broker_config.h): a file on a single node, etcd
// in a cluster, so every broker enforces the same ones.
//
// Keys, as Kafka's QuotaConfig:
//   producer_byte_rate, consumer_byte_rate   bytes per second (LONG)
//   request_percentage                       not enforced by runnel: refused
//   controller_mutation_rate                 partitions created or deleted per
//                                            second (KIP-599, DOUBLE)
//   connection_creation_rate                 new connections per second from
//                                            one address (ip entities only, INT)
//
// Which quota applies to a client is Kafka's order, most specific first
// (ClientQuotaManager): user+client-id, user+default client-id, user,
// default user+client-id, default user+default client-id, default user,
// client-id, default client-id. The clients that share a quota are those
// its level names: all of a user's clients share a /users/<user> quota,
// while a default quota applies to each user (or client-id) on its own.
//
// Stateless functions over values; thread-safe.
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error_code.h"

namespace runnel {

inline constexpr std::string_view kQuotaEntityUser = "user";
inline constexpr std::string_view kQuotaEntityClientId = "client-id";
inline constexpr std::string_view kQuotaEntityIp = "ip";

inline constexpr std::string_view kProducerByteRate = "producer_byte_rate";
inline constexpr std::string_view kConsumerByteRate = "consumer_byte_rate";
inline constexpr std::string_view kRequestPercentage = "request_percentage";
inline constexpr std::string_view kControllerMutationRate = "controller_mutation_rate";
inline constexpr std::string_view kConnectionCreationRate = "connection_creation_rate";

// What a quota is set on: entity type -> name, nullopt for the type's
// default (kafka-configs.sh --entity-default).
struct ClientQuotaEntity {
  std::map<std::string, std::optional<std::string>> parts;
  auto operator<=>(const ClientQuotaEntity&) const = default;
  bool operator==(const ClientQuotaEntity&) const = default;
  // "user=alice, client-id=<default>", for logs and messages.
  std::string to_string() const;
};

using ClientQuotaValues = std::map<std::string, double>;
using ClientQuotas = std::map<ClientQuotaEntity, ClientQuotaValues>;

// One entry of AlterClientQuotas, as sent: the entity's parts (in order,
// possibly repeated: that is an error) and the operations on its keys
// (value nullopt: remove the key).
struct ClientQuotaAlteration {
  std::vector<std::pair<std::string, std::optional<std::string>>> entity;
  std::vector<std::pair<std::string, std::optional<double>>> ops;
};

struct ClientQuotaError {
  ErrorCode code = ErrorCode::NONE;
  std::string message;
  bool ok() const { return code == ErrorCode::NONE; }
};

// Kafka's checks of one alteration (ClientQuotaControlManager): entity
// types known and not repeated, a valid combination (ip alone; user and/or
// client-id), an ip that is an address or resolves, keys valid for the
// entity, values > 0 and whole numbers for integral keys, no key twice.
// Sets *entity when it returns ok.
ClientQuotaError validate_client_quota_alteration(const ClientQuotaAlteration& alteration, ClientQuotaEntity* entity);
// Applies a validated alteration: sets and removes keys; an entity left
// without keys is dropped.
void apply_client_quota_alteration(ClientQuotas& quotas, const ClientQuotaEntity& entity,
                                   const ClientQuotaAlteration& alteration);

// One component of DescribeClientQuotas' filter.
struct ClientQuotaFilterComponent {
  std::string entity_type;
  int8_t match_type = 0;  // 0 exact name, 1 the default, 2 any specified name
  std::optional<std::string> match;
};
// The entities the filter selects (Kafka's ClientQuotasImage.describe):
// each component must match; `strict` also requires the entity to have no
// other types. An invalid filter returns its error and nothing.
ClientQuotaError describe_client_quotas(const ClientQuotas& quotas,
                                        const std::vector<ClientQuotaFilterComponent>& components, bool strict,
                                        ClientQuotas* out);

// The quota `key` a client with `user` (principal name, without "User:")
// and `client_id` is held to, and the names of the group of clients that
// share it (Kafka's quota metric tags: "" where the level does not name
// that type). nullopt: no quota.
struct ResolvedClientQuota {
  double limit = 0;
  std::string user;
  std::string client_id;
};
std::optional<ResolvedClientQuota> resolve_client_quota(const ClientQuotas& quotas, std::string_view key,
                                                        std::string_view user, std::string_view client_id);
// Whether any user or client-id entity sets `key` (so that a broker without
// such quotas skips the lookup on every request).
bool any_client_quota(const ClientQuotas& quotas, std::string_view key);

// connection_creation_rate by ip entity name (the default under ""), for
// ConnectionQuotas.
std::map<std::string, int32_t> ip_connection_rates(const ClientQuotas& quotas, std::optional<int32_t>* default_rate);

// The JSON form kept inside the dynamic broker config document:
// [{"entity": {"user": "alice", "client-id": null}, "values": {"producer_byte_rate": 1024}}].
// from_json throws std::invalid_argument on anything else.
nlohmann::json client_quotas_to_json(const ClientQuotas& quotas);
ClientQuotas client_quotas_from_json(const nlohmann::json& doc);

}  // namespace runnel
