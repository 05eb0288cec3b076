#include "config/client_quota_config.h"

#include <fmt/format.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

namespace runnel {
namespace {

enum class QuotaKeyType { kLong, kInt, kDouble };

struct QuotaKey {
  std::string_view name;
  QuotaKeyType type;
  bool ip;        // valid on ip entities (else on user / client-id ones)
  bool enforced;  // runnel acts on it; the others are refused
};

constexpr QuotaKey kQuotaKeys[] = {
    {kProducerByteRate, QuotaKeyType::kLong, false, true},
    {kConsumerByteRate, QuotaKeyType::kLong, false, true},
    {kRequestPercentage, QuotaKeyType::kDouble, false, false},
    {kControllerMutationRate, QuotaKeyType::kDouble, false, true},
    {kConnectionCreationRate, QuotaKeyType::kInt, true, true},
};

const QuotaKey* find_quota_key(std::string_view name, bool ip) {
  for (const auto& k : kQuotaKeys)
    if (k.name == name && k.ip == ip) return &k;
  return nullptr;
}

// Kafka's isValidIpEntity: InetAddress.getByName succeeds (an address, or a
// host name that resolves).
bool valid_ip_entity(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (::getaddrinfo(name.c_str(), nullptr, &hints, &result) != 0) return false;
  ::freeaddrinfo(result);
  return true;
}

ClientQuotaError invalid(std::string message) { return {ErrorCode::INVALID_REQUEST, std::move(message)}; }

// Kafka's validateQuotaKeyValue.
ClientQuotaError validate_value(const QuotaKey& key, double value) {
  if (!(value > 0.0)) return invalid(fmt::format("Quota {} must be greater than 0", key.name));
  // Not Kafka's check: JSON, which keeps the quotas, has no infinity.
  if (!std::isfinite(value)) return invalid(fmt::format("Quota {} must be a finite number", key.name));
  if (key.type == QuotaKeyType::kDouble) return {};
  if (key.type == QuotaKeyType::kInt && value > std::numeric_limits<int32_t>::max())
    return invalid(fmt::format("Proposed value for {} is too large for an INT.", key.name));
  if (key.type == QuotaKeyType::kLong && value > static_cast<double>(std::numeric_limits<int64_t>::max()))
    return invalid(fmt::format("Proposed value for {} is too large for a LONG.", key.name));
  if (std::fabs(std::fmod(value, 1.0)) > 1e-6)
    return invalid(fmt::format("{} cannot be a fractional value.", key.name));
  return {};
}

ClientQuotaEntity make_entity(std::optional<std::optional<std::string>> user,
                              std::optional<std::optional<std::string>> client_id) {
  ClientQuotaEntity e;
  if (user) e.parts.emplace(kQuotaEntityUser, *user);
  if (client_id) e.parts.emplace(kQuotaEntityClientId, *client_id);
  return e;
}

const double* quota_value(const ClientQuotas& quotas, const ClientQuotaEntity& entity, std::string_view key) {
  auto it = quotas.find(entity);
  if (it == quotas.end()) return nullptr;
  auto v = it->second.find(std::string(key));
  // A value that is not positive (only a hand-edited document has one) is
  // no quota.
  return v == it->second.end() || !(v->second > 0) ? nullptr : &v->second;
}

}  // namespace

std::string ClientQuotaEntity::to_string() const {
  std::string out;
  for (const auto& [type, name] : parts) {
    if (!out.empty()) out += ", ";
    out += type + "=" + (name ? *name : std::string("<default>"));
  }
  return out.empty() ? "<empty>" : out;
}

ClientQuotaError validate_client_quota_alteration(const ClientQuotaAlteration& alteration, ClientQuotaEntity* entity) {
  std::set<std::string> keys;
  for (const auto& [key, value] : alteration.ops) {
    if (!keys.insert(key).second) {
      ClientQuotaEntity shown;
      for (const auto& [type, name] : alteration.entity) shown.parts.emplace(type, name);
      return invalid(
          fmt::format("Duplicate quota key {} not updating quota for this entity {}", key, shown.to_string()));
    }
  }
  if (alteration.entity.empty()) return invalid("Invalid empty client quota entity");
  ClientQuotaEntity e;
  for (const auto& [type, name] : alteration.entity) {
    if (e.parts.contains(type)) return invalid("Invalid client quota entity, duplicate entity entry " + type);
    if (type != kQuotaEntityUser && type != kQuotaEntityClientId && type != kQuotaEntityIp)
      return invalid("Unhandled client quota entity type: " + type);
    e.parts.emplace(type, name);
  }
  const bool ip = e.parts.contains(std::string(kQuotaEntityIp));
  if (ip && e.parts.size() > 1)
    return invalid("Invalid quota entity combination, IP entity should not be combined with User or ClientId");
  if (ip) {
    const auto& name = e.parts.at(std::string(kQuotaEntityIp));
    if (name && !valid_ip_entity(*name)) return invalid(*name + " is not a valid IP or resolvable host.");
  }
  for (const auto& [key, value] : alteration.ops) {
    if (!value) continue;  // a removal is not checked
    const QuotaKey* k = find_quota_key(key, ip);
    if (!k) return invalid("Invalid configuration key " + key);
    if (auto error = validate_value(*k, *value); !error.ok()) return error;
    if (!k->enforced)
      return invalid(
          fmt::format("runnel does not enforce {} quotas yet; refused rather than stored without effect", key));
  }
  *entity = std::move(e);
  return {};
}

void apply_client_quota_alteration(ClientQuotas& quotas, const ClientQuotaEntity& entity,
                                   const ClientQuotaAlteration& alteration) {
  ClientQuotaValues& values = quotas[entity];
  for (const auto& [key, value] : alteration.ops) {
    if (value)
      values[key] = *value;
    else
      values.erase(key);
  }
  if (values.empty()) quotas.erase(entity);
}

ClientQuotaError describe_client_quotas(const ClientQuotas& quotas,
                                        const std::vector<ClientQuotaFilterComponent>& components, bool strict,
                                        ClientQuotas* out) {
  std::map<std::string, std::optional<std::string>> exact;  // type -> name (nullopt: the default)
  std::set<std::string> any;
  for (const auto& c : components) {
    if (c.entity_type.empty()) return invalid("Invalid empty entity type.");
    if (exact.contains(c.entity_type) || any.contains(c.entity_type))
      return invalid("Entity type " + c.entity_type + " cannot appear more than once in the filter.");
    if (c.entity_type != kQuotaEntityUser && c.entity_type != kQuotaEntityClientId && c.entity_type != kQuotaEntityIp)
      return {ErrorCode::UNSUPPORTED_VERSION, "Custom entity type " + c.entity_type + " not supported"};
    switch (c.match_type) {
      case 0:
        if (!c.match) return invalid("Match must be specified for an exact match on entity type " + c.entity_type);
        exact.emplace(c.entity_type, c.match);
        break;
      case 1:
        exact.emplace(c.entity_type, std::nullopt);
        break;
      case 2:
        any.insert(c.entity_type);
        break;
      default:
        return invalid(fmt::format("Unexpected match type: {}", c.match_type));
    }
  }
  const std::string ip(kQuotaEntityIp), user(kQuotaEntityUser), client(kQuotaEntityClientId);
  if ((exact.contains(ip) || any.contains(ip)) &&
      (exact.contains(user) || any.contains(user) || exact.contains(client) || any.contains(client)))
    return invalid(
        "Invalid entity filter component combination. IP filter component should not be used with user or "
        "clientId filter component.");
  for (const auto& [entity, values] : quotas) {
    if (strict && entity.parts.size() != exact.size() + any.size()) continue;
    bool match = true;
    for (const auto& [type, name] : exact) {
      auto it = entity.parts.find(type);
      if (it == entity.parts.end() || it->second != name) match = false;
    }
    for (const auto& type : any)
      if (!entity.parts.contains(type)) match = false;
    if (match) out->emplace(entity, values);
  }
  return {};
}

std::optional<ResolvedClientQuota> resolve_client_quota(const ClientQuotas& quotas, std::string_view key,
                                                        std::string_view user, std::string_view client_id) {
  if (quotas.empty()) return std::nullopt;
  const std::string u(user), c(client_id);
  const std::optional<std::string> the_default;
  // Kafka's order; each level with the names of the clients that share it.
  struct Level {
    ClientQuotaEntity entity;
    bool by_user, by_client;
  };
  const Level levels[] = {
      {make_entity(u, c), true, true},
      {make_entity(u, the_default), true, true},
      {make_entity(u, std::nullopt), true, false},
      {make_entity(the_default, c), true, true},
      {make_entity(the_default, the_default), true, true},
      {make_entity(the_default, std::nullopt), true, false},
      {make_entity(std::nullopt, c), false, true},
      {make_entity(std::nullopt, the_default), false, true},
  };
  for (const auto& level : levels) {
    if (const double* v = quota_value(quotas, level.entity, key))
      return ResolvedClientQuota{*v, level.by_user ? u : std::string(), level.by_client ? c : std::string()};
  }
  return std::nullopt;
}

bool any_client_quota(const ClientQuotas& quotas, std::string_view key) {
  for (const auto& [entity, values] : quotas)
    if (!entity.parts.contains(std::string(kQuotaEntityIp)) && values.contains(std::string(key))) return true;
  return false;
}

std::map<std::string, int32_t> ip_connection_rates(const ClientQuotas& quotas, std::optional<int32_t>* default_rate) {
  std::map<std::string, int32_t> out;
  *default_rate = std::nullopt;
  for (const auto& [entity, values] : quotas) {
    auto ip = entity.parts.find(std::string(kQuotaEntityIp));
    if (ip == entity.parts.end() || entity.parts.size() != 1) continue;
    auto v = values.find(std::string(kConnectionCreationRate));
    if (v == values.end() || !(v->second > 0)) continue;
    const auto rate =
        std::max<int32_t>(1, static_cast<int32_t>(std::min<double>(v->second, std::numeric_limits<int32_t>::max())));
    if (ip->second)
      out[*ip->second] = rate;
    else
      *default_rate = rate;
  }
  return out;
}

nlohmann::json client_quotas_to_json(const ClientQuotas& quotas) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [entity, values] : quotas) {
    nlohmann::json e = nlohmann::json::object();
    for (const auto& [type, name] : entity.parts) e[type] = name ? nlohmann::json(*name) : nlohmann::json(nullptr);
    out.push_back({{"entity", e}, {"values", values}});
  }
  return out;
}

ClientQuotas client_quotas_from_json(const nlohmann::json& doc) {
  if (!doc.is_array()) throw std::invalid_argument("client quotas: not an array");
  ClientQuotas out;
  for (const auto& item : doc) {
    if (!item.is_object()) throw std::invalid_argument("client quotas: an entry is not an object");
    auto e = item.find("entity");
    auto v = item.find("values");
    if (e == item.end() || !e->is_object() || v == item.end() || !v->is_object())
      throw std::invalid_argument("client quotas: an entry lacks its entity or values");
    ClientQuotaEntity entity;
    for (const auto& [type, name] : e->items()) {
      if (name.is_null())
        entity.parts.emplace(type, std::nullopt);
      else if (name.is_string())
        entity.parts.emplace(type, name.get<std::string>());
      else
        throw std::invalid_argument("client quotas: entity name is not a string");
    }
    ClientQuotaValues values;
    for (const auto& [key, value] : v->items()) {
      if (!value.is_number()) throw std::invalid_argument("client quotas: value of " + key + " is not a number");
      values[key] = value.get<double>();
    }
    if (!values.empty()) out[std::move(entity)] = std::move(values);
  }
  return out;
}

}  // namespace runnel
