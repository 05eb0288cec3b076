#include "security/acl.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

namespace runnel::security {
namespace {

// Does the ACL's pattern cover the resource name (Kafka's checkSection)?
bool pattern_covers(const AclBinding &acl, std::string_view name) {
  switch (acl.pattern_type) {
    case PatternType::Literal:
      return acl.resource_name == name || acl.resource_name == kWildcard;
    case PatternType::Prefixed:
      return name.substr(0, acl.resource_name.size()) == acl.resource_name;
    default:
      return false;
  }
}

bool implies(AclOperation granted, AclOperation wanted) {
  if (granted == AclOperation::All || granted == wanted) return true;
  if (wanted == AclOperation::Describe)
    return granted == AclOperation::Read || granted == AclOperation::Write || granted == AclOperation::Delete ||
           granted == AclOperation::Alter;
  if (wanted == AclOperation::DescribeConfigs) return granted == AclOperation::AlterConfigs;
  return false;
}

template <class E, size_t N>
std::optional<E> parse_name(std::string_view s, const std::array<std::pair<E, std::string_view>, N> &names) {
  std::string upper(s);
  for (auto &c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto &[value, name] : names)
    if (name == upper) return value;
  return std::nullopt;
}

constexpr std::array<std::pair<ResourceType, std::string_view>, 8> kResourceTypes{{
    {ResourceType::Unknown, "UNKNOWN"},
    {ResourceType::Any, "ANY"},
    {ResourceType::Topic, "TOPIC"},
    {ResourceType::Group, "GROUP"},
    {ResourceType::Cluster, "CLUSTER"},
    {ResourceType::TransactionalId, "TRANSACTIONAL_ID"},
    {ResourceType::DelegationToken, "DELEGATION_TOKEN"},
    {ResourceType::User, "USER"},
}};
constexpr std::array<std::pair<PatternType, std::string_view>, 5> kPatternTypes{{
    {PatternType::Unknown, "UNKNOWN"},
    {PatternType::Any, "ANY"},
    {PatternType::Match, "MATCH"},
    {PatternType::Literal, "LITERAL"},
    {PatternType::Prefixed, "PREFIXED"},
}};
constexpr std::array<std::pair<AclOperation, std::string_view>, 15> kOperations{{
    {AclOperation::Unknown, "UNKNOWN"},
    {AclOperation::Any, "ANY"},
    {AclOperation::All, "ALL"},
    {AclOperation::Read, "READ"},
    {AclOperation::Write, "WRITE"},
    {AclOperation::Create, "CREATE"},
    {AclOperation::Delete, "DELETE"},
    {AclOperation::Alter, "ALTER"},
    {AclOperation::Describe, "DESCRIBE"},
    {AclOperation::ClusterAction, "CLUSTER_ACTION"},
    {AclOperation::DescribeConfigs, "DESCRIBE_CONFIGS"},
    {AclOperation::AlterConfigs, "ALTER_CONFIGS"},
    {AclOperation::IdempotentWrite, "IDEMPOTENT_WRITE"},
    {AclOperation::CreateTokens, "CREATE_TOKENS"},
    {AclOperation::DescribeTokens, "DESCRIBE_TOKENS"},
}};
constexpr std::array<std::pair<AclPermission, std::string_view>, 4> kPermissions{{
    {AclPermission::Unknown, "UNKNOWN"},
    {AclPermission::Any, "ANY"},
    {AclPermission::Deny, "DENY"},
    {AclPermission::Allow, "ALLOW"},
}};

template <class E, size_t N>
std::string_view name_in(E value, const std::array<std::pair<E, std::string_view>, N> &names) {
  for (const auto &[v, name] : names)
    if (v == value) return name;
  return "UNKNOWN";
}

}  // namespace

std::string_view name_of(ResourceType t) { return name_in(t, kResourceTypes); }
std::string_view name_of(PatternType t) { return name_in(t, kPatternTypes); }
std::string_view name_of(AclOperation o) { return name_in(o, kOperations); }
std::string_view name_of(AclPermission p) { return name_in(p, kPermissions); }
std::optional<ResourceType> parse_resource_type(std::string_view s) { return parse_name(s, kResourceTypes); }
std::optional<PatternType> parse_pattern_type(std::string_view s) { return parse_name(s, kPatternTypes); }
std::optional<AclOperation> parse_operation(std::string_view s) { return parse_name(s, kOperations); }
std::optional<AclPermission> parse_permission(std::string_view s) { return parse_name(s, kPermissions); }

ResourceType resource_type_from_wire(int8_t v) {
  return v >= 0 && v <= 7 ? static_cast<ResourceType>(v) : ResourceType::Unknown;
}
PatternType pattern_type_from_wire(int8_t v) {
  return v >= 0 && v <= 4 ? static_cast<PatternType>(v) : PatternType::Unknown;
}
AclOperation operation_from_wire(int8_t v) {
  return v >= 0 && v <= 14 ? static_cast<AclOperation>(v) : AclOperation::Unknown;
}
AclPermission permission_from_wire(int8_t v) {
  return v >= 0 && v <= 3 ? static_cast<AclPermission>(v) : AclPermission::Unknown;
}

std::vector<AclOperation> supported_operations(ResourceType type) {
  using O = AclOperation;
  switch (type) {
    case ResourceType::Topic:
      return {O::Read, O::Write, O::Create, O::Delete, O::Alter, O::Describe, O::DescribeConfigs, O::AlterConfigs};
    case ResourceType::Group:
      return {O::Read, O::Delete, O::Describe, O::DescribeConfigs, O::AlterConfigs};
    case ResourceType::Cluster:
      return {O::Create,          O::Alter,        O::Describe,       O::ClusterAction,
              O::DescribeConfigs, O::AlterConfigs, O::IdempotentWrite};
    case ResourceType::TransactionalId:
      return {O::Write, O::Describe};
    case ResourceType::DelegationToken:
      return {O::Describe};
    case ResourceType::User:
      return {O::CreateTokens, O::DescribeTokens};
    default:
      return {};
  }
}

int32_t operations_bit_field(const std::vector<AclOperation> &operations) {
  uint32_t bits = 0;
  for (auto op : operations) {
    auto code = static_cast<int>(op);
    if (code >= 0 && code < 32) bits |= 1u << code;
  }
  return static_cast<int32_t>(bits);
}

bool AclFilter::matches(const AclBinding &acl) const {
  if (resource_type != ResourceType::Any && resource_type != acl.resource_type) return false;
  switch (pattern_type) {
    case PatternType::Any:
      if (resource_name && *resource_name != acl.resource_name) return false;
      break;
    case PatternType::Match:
      // Every ACL that would apply to a resource of this name.
      if (resource_name && !pattern_covers(acl, *resource_name)) return false;
      break;
    default:
      if (pattern_type != acl.pattern_type) return false;
      if (resource_name && *resource_name != acl.resource_name) return false;
  }
  if (principal && *principal != acl.principal) return false;
  if (host && *host != acl.host) return false;
  if (operation != AclOperation::Any && operation != acl.operation) return false;
  if (permission != AclPermission::Any && permission != acl.permission) return false;
  return true;
}

std::optional<std::string> validate_new_acl(const AclBinding &acl) {
  if (acl.resource_type == ResourceType::Unknown || acl.resource_type == ResourceType::Any)
    return "Invalid resourceType " + std::string(name_of(acl.resource_type));
  if (acl.pattern_type != PatternType::Literal && acl.pattern_type != PatternType::Prefixed)
    return "Invalid patternType " + std::string(name_of(acl.pattern_type));
  if (acl.operation == AclOperation::Unknown || acl.operation == AclOperation::Any)
    return "Invalid operation " + std::string(name_of(acl.operation));
  if (acl.permission != AclPermission::Allow && acl.permission != AclPermission::Deny)
    return "Invalid permissionType " + std::string(name_of(acl.permission));
  if (acl.resource_name.empty()) return "Resource name should not be empty";
  auto colon = acl.principal.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == acl.principal.size())
    return "Could not parse principal from `" + acl.principal +
           "` (no colon is found separating principal type from name)";
  if (acl.host.empty()) return "Host should not be empty";
  return std::nullopt;
}

AclSet::AclSet(std::vector<AclBinding> acls) : acls_(std::move(acls)) {
  std::sort(acls_.begin(), acls_.end());
  acls_.erase(std::unique(acls_.begin(), acls_.end()), acls_.end());
}

bool AclSet::authorize(const AuthorizerConfig &config, std::string_view principal, std::string_view host,
                       const AclAction &action) const {
  if (config.super_users.count(std::string(principal))) return true;
  bool resource_has_acls = false, allowed = false;
  for (const auto &acl : acls_) {
    if (acl.resource_type != action.resource_type || !pattern_covers(acl, action.resource_name)) continue;
    resource_has_acls = true;
    if (acl.principal != principal && acl.principal != "User:*") continue;
    if (acl.host != kWildcard && acl.host != host) continue;
    if (acl.permission == AclPermission::Deny) {
      // A DENY applies to its own operation (or ALL) only: DENY READ does not
      // deny DESCRIBE.
      if (acl.operation == AclOperation::All || acl.operation == action.operation) return false;
    } else if (acl.permission == AclPermission::Allow && implies(acl.operation, action.operation)) {
      allowed = true;
    }
  }
  if (allowed) return true;
  return !resource_has_acls && config.allow_everyone_if_no_acl_found;
}

bool AclSet::authorize_any(const AuthorizerConfig &config, std::string_view principal, std::string_view host,
                           AclOperation operation, ResourceType type) const {
  if (config.super_users.count(std::string(principal))) return true;
  bool type_has_acls = false, allowed = false;
  for (const auto &acl : acls_) {
    if (acl.resource_type != type) continue;
    type_has_acls = true;
    if (acl.principal != principal && acl.principal != "User:*") continue;
    if (acl.host != kWildcard && acl.host != host) continue;
    if (acl.permission == AclPermission::Deny) {
      // Denied on every resource of the type: a literal "*" or an empty prefix.
      bool everything = (acl.pattern_type == PatternType::Literal && acl.resource_name == kWildcard) ||
                        (acl.pattern_type == PatternType::Prefixed && acl.resource_name.empty());
      if (everything && (acl.operation == AclOperation::All || acl.operation == operation)) return false;
    } else if (acl.permission == AclPermission::Allow && implies(acl.operation, operation)) {
      allowed = true;
    }
  }
  if (allowed) return true;
  return !type_has_acls && config.allow_everyone_if_no_acl_found;
}

std::vector<AclBinding> AclSet::find(const AclFilter &filter) const {
  std::vector<AclBinding> out;
  for (const auto &acl : acls_)
    if (filter.matches(acl)) out.push_back(acl);
  return out;
}

AclSet AclSet::with(const std::vector<AclBinding> &added) const {
  std::vector<AclBinding> all = acls_;
  all.insert(all.end(), added.begin(), added.end());
  return AclSet(std::move(all));
}

AclSet AclSet::without(const AclFilter &filter, std::vector<AclBinding> *removed) const {
  std::vector<AclBinding> kept;
  for (const auto &acl : acls_) {
    if (filter.matches(acl)) {
      if (removed) removed->push_back(acl);
    } else {
      kept.push_back(acl);
    }
  }
  return AclSet(std::move(kept));
}

std::string encode_acls(const std::vector<AclBinding> &acls) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto &a : acls)
    out.push_back({{"resource_type", name_of(a.resource_type)},
                   {"resource_name", a.resource_name},
                   {"pattern_type", name_of(a.pattern_type)},
                   {"principal", a.principal},
                   {"host", a.host},
                   {"operation", name_of(a.operation)},
                   {"permission", name_of(a.permission)}});
  return out.dump(1);
}

std::vector<AclBinding> decode_acls(std::string_view text) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_array()) throw std::invalid_argument("ACLs: not a JSON array");
  std::vector<AclBinding> out;
  for (const auto &e : doc) {
    if (!e.is_object()) throw std::invalid_argument("ACLs: an entry is not an object");
    auto field = [&](const char *k) -> std::string {
      auto it = e.find(k);
      if (it == e.end() || !it->is_string()) throw std::invalid_argument(std::string("ACLs: no string field ") + k);
      return it->get<std::string>();
    };
    AclBinding a;
    auto rt = parse_resource_type(field("resource_type"));
    auto pt = parse_pattern_type(field("pattern_type"));
    auto op = parse_operation(field("operation"));
    auto perm = parse_permission(field("permission"));
    if (!rt || !pt || !op || !perm) throw std::invalid_argument("ACLs: an unknown type, operation or permission");
    a.resource_type = *rt;
    a.pattern_type = *pt;
    a.operation = *op;
    a.permission = *perm;
    a.resource_name = field("resource_name");
    a.principal = field("principal");
    a.host = field("host");
    if (auto error = validate_new_acl(a)) throw std::invalid_argument("ACLs: " + *error);
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace runnel::security
