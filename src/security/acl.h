#pragma once
// Kafka's ACL model and its StandardAuthorizer's decision, without I/O: an
// ACL binds a resource pattern (type, name, LITERAL or PREFIXED; the literal
// name "*" matches every name) to an entry (principal "User:alice" or
// "User:*", host or "*", operation, ALLOW or DENY). authorize() decides as
// Kafka does: super users may do anything; a matching DENY wins; else a
// matching ALLOW (READ, WRITE, DELETE and ALTER imply DESCRIBE, ALTER_CONFIGS
// implies DESCRIBE_CONFIGS, ALL implies everything); else, when no ACL at all
// names the resource, allow.everyone.if.no.acl.found; else denied. Filters
// select ACLs for DescribeAcls and DeleteAcls (ANY, MATCH, null name) as
// Kafka's AclBindingFilter does. The numeric values are the wire's.
//
// Thread-safety: AclSet is immutable once built; share it between threads
// behind a shared_ptr and replace it whole.
#include <climits>
#include <compare>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace runnel::security {

enum class ResourceType : int8_t {
  Unknown = 0,
  Any = 1,
  Topic = 2,
  Group = 3,
  Cluster = 4,
  TransactionalId = 5,
  DelegationToken = 6,
  User = 7
};
enum class PatternType : int8_t { Unknown = 0, Any = 1, Match = 2, Literal = 3, Prefixed = 4 };
enum class AclOperation : int8_t {
  Unknown = 0,
  Any = 1,
  All = 2,
  Read = 3,
  Write = 4,
  Create = 5,
  Delete = 6,
  Alter = 7,
  Describe = 8,
  ClusterAction = 9,
  DescribeConfigs = 10,
  AlterConfigs = 11,
  IdempotentWrite = 12,
  CreateTokens = 13,
  DescribeTokens = 14
};
enum class AclPermission : int8_t { Unknown = 0, Any = 1, Deny = 2, Allow = 3 };

inline constexpr std::string_view kWildcard = "*";
inline constexpr std::string_view kClusterResourceName = "kafka-cluster";

struct AclBinding {
  ResourceType resource_type = ResourceType::Topic;
  std::string resource_name;
  PatternType pattern_type = PatternType::Literal;
  std::string principal;  // "User:alice", "User:*"
  std::string host = "*";
  AclOperation operation = AclOperation::All;
  AclPermission permission = AclPermission::Allow;
  auto operator<=>(const AclBinding &) const = default;
};

// DescribeAcls / DeleteAcls: nullopt fields match anything.
struct AclFilter {
  ResourceType resource_type = ResourceType::Any;
  std::optional<std::string> resource_name;
  PatternType pattern_type = PatternType::Any;
  std::optional<std::string> principal;
  std::optional<std::string> host;
  AclOperation operation = AclOperation::Any;
  AclPermission permission = AclPermission::Any;

  bool matches(const AclBinding &acl) const;
};

// CreateAcls' checks (Kafka's validateNewAcl, plus a principal of the form
// Type:name): the error message of INVALID_REQUEST, or nullopt when valid.
std::optional<std::string> validate_new_acl(const AclBinding &acl);

struct AuthorizerConfig {
  std::set<std::string> super_users;  // super.users, e.g. {"User:admin"}
  bool allow_everyone_if_no_acl_found = false;
};

// One action to authorize: `operation` on the resource named `name`.
struct AclAction {
  AclOperation operation;
  ResourceType resource_type;
  std::string_view resource_name;
};

class AclSet {
 public:
  AclSet() = default;
  explicit AclSet(std::vector<AclBinding> acls);

  bool authorize(const AuthorizerConfig &config, std::string_view principal, std::string_view host,
                 const AclAction &action) const;
  // Kafka's authorizeByResourceType: whether the principal may do
  // `operation` on at least one resource of the type (an ALLOW it matches
  // that no DENY on every resource of the type cancels; or no ACL of the
  // type at all with allow.everyone.if.no.acl.found). InitProducerId uses it
  // for idempotent producers (WRITE on any topic).
  bool authorize_any(const AuthorizerConfig &config, std::string_view principal, std::string_view host,
                     AclOperation operation, ResourceType type) const;
  std::vector<AclBinding> find(const AclFilter &filter) const;
  const std::vector<AclBinding> &all() const { return acls_; }

  // With `added` (duplicates ignored) or without those `filter` matches.
  AclSet with(const std::vector<AclBinding> &added) const;
  AclSet without(const AclFilter &filter, std::vector<AclBinding> *removed) const;

 private:
  std::vector<AclBinding> acls_;  // sorted, unique
};

// Kafka's AclEntry.supportedOperations: the operations that apply to a
// resource of the type (TOPIC: READ, WRITE, CREATE, DESCRIBE, DELETE, ALTER,
// DESCRIBE_CONFIGS, ALTER_CONFIGS; ...), in code order; empty for ANY and
// UNKNOWN.
std::vector<AclOperation> supported_operations(ResourceType type);
// The "authorized operations" fields of Metadata, DescribeCluster,
// DescribeGroups, ConsumerGroupDescribe and DescribeTopicPartitions (Kafka's
// Utils.to32BitField): bit `code` set for each operation.
int32_t operations_bit_field(const std::vector<AclOperation> &operations);
// Kafka's "not requested" value of those fields (the schemas' default).
inline constexpr int32_t kAuthorizedOperationsOmitted = INT32_MIN;

// The stored form (a JSON array, for the data dir and etcd) and back;
// decode throws std::invalid_argument on anything else.
std::string encode_acls(const std::vector<AclBinding> &acls);
std::vector<AclBinding> decode_acls(std::string_view text);

// Wire values (int8) to the enums; a value Kafka does not define is Unknown.
ResourceType resource_type_from_wire(int8_t v);
PatternType pattern_type_from_wire(int8_t v);
AclOperation operation_from_wire(int8_t v);
AclPermission permission_from_wire(int8_t v);

// Names as Kafka prints them (kafka-acls.sh): "TOPIC", "PREFIXED", "READ",
// "ALLOW"...
std::string_view name_of(ResourceType t);
std::string_view name_of(PatternType t);
std::string_view name_of(AclOperation o);
std::string_view name_of(AclPermission p);
// Parses those names (case-insensitive); nullopt for an unknown one.
std::optional<ResourceType> parse_resource_type(std::string_view s);
std::optional<PatternType> parse_pattern_type(std::string_view s);
std::optional<AclOperation> parse_operation(std::string_view s);
std::optional<AclPermission> parse_permission(std::string_view s);

}  // namespace runnel::security
