// Kafka's authorization rules against the ACL set, case by case (the cases
// of Kafka's StandardAuthorizerTest that apply): literal, prefixed and
// wildcard patterns, deny over allow, implied DESCRIBE/DESCRIBE_CONFIGS,
// principals and hosts, super users, allow.everyone.if.no.acl.found, and
// the filters of DescribeAcls/DeleteAcls.
#include "security/acl.h"

#include <gtest/gtest.h>

namespace runnel::security {
namespace {

AclBinding acl(ResourceType type, std::string name, PatternType pattern, std::string principal, AclOperation op,
               AclPermission permission, std::string host = "*") {
  return AclBinding{type, std::move(name), pattern, std::move(principal), std::move(host), op, permission};
}

constexpr auto T = ResourceType::Topic;
constexpr auto G = ResourceType::Group;
constexpr auto L = PatternType::Literal;
constexpr auto P = PatternType::Prefixed;
constexpr auto Allow = AclPermission::Allow;
constexpr auto Deny = AclPermission::Deny;

bool can(const AclSet &acls, std::string principal, AclOperation op, ResourceType type, std::string name,
         AuthorizerConfig config = {}, std::string host = "10.0.0.1") {
  return acls.authorize(config, principal, host, AclAction{op, type, name});
}

TEST(AclTest, LiteralPrefixedAndWildcard) {
  AclSet acls({acl(T, "orders", L, "User:alice", AclOperation::Read, Allow),
               acl(T, "logs-", P, "User:bob", AclOperation::Write, Allow),
               acl(G, "*", L, "User:alice", AclOperation::Read, Allow)});
  EXPECT_TRUE(can(acls, "User:alice", AclOperation::Read, T, "orders"));
  EXPECT_FALSE(can(acls, "User:alice", AclOperation::Read, T,
                   "orders2"));  // literal is exact
  EXPECT_FALSE(can(acls, "User:alice", AclOperation::Write, T, "orders"));
  EXPECT_TRUE(can(acls, "User:bob", AclOperation::Write, T, "logs-app"));
  EXPECT_TRUE(can(acls, "User:bob", AclOperation::Write, T, "logs-"));
  EXPECT_FALSE(can(acls, "User:bob", AclOperation::Write, T, "log"));
  EXPECT_TRUE(can(acls, "User:alice", AclOperation::Read, G, "any-group"));
  EXPECT_FALSE(can(acls, "User:bob", AclOperation::Read, G, "any-group"));
}

TEST(AclTest, DenyWinsAndImpliedDescribe) {
  AclSet acls({acl(T, "t", L, "User:*", AclOperation::All, Allow),
               acl(T, "t", L, "User:eve", AclOperation::Write, Deny),
               acl(T, "secret", P, "User:*", AclOperation::All, Deny)});
  EXPECT_TRUE(can(acls, "User:eve", AclOperation::Read, T, "t"));
  EXPECT_FALSE(can(acls, "User:eve", AclOperation::Write, T, "t"));
  EXPECT_TRUE(can(acls, "User:eve", AclOperation::Describe, T,
                  "t"));  // DENY WRITE does not deny DESCRIBE
  EXPECT_FALSE(can(acls, "User:alice", AclOperation::Describe, T, "secret-1"));

  AclSet implied({acl(T, "a", L, "User:u", AclOperation::Read, Allow),
                  acl(T, "b", L, "User:u", AclOperation::AlterConfigs, Allow),
                  acl(T, "c", L, "User:u", AclOperation::Create, Allow)});
  EXPECT_TRUE(can(implied, "User:u", AclOperation::Describe, T, "a"));
  EXPECT_FALSE(can(implied, "User:u", AclOperation::DescribeConfigs, T, "a"));
  EXPECT_TRUE(can(implied, "User:u", AclOperation::DescribeConfigs, T, "b"));
  EXPECT_FALSE(can(implied, "User:u", AclOperation::Describe, T,
                   "c"));  // CREATE does not imply DESCRIBE
}

TEST(AclTest, HostsSuperUsersAndNoAclFound) {
  AclSet acls({acl(T, "t", L, "User:u", AclOperation::Read, Allow, "10.0.0.1")});
  EXPECT_TRUE(can(acls, "User:u", AclOperation::Read, T, "t", {}, "10.0.0.1"));
  EXPECT_FALSE(can(acls, "User:u", AclOperation::Read, T, "t", {}, "10.0.0.2"));
  AuthorizerConfig super{{"User:admin"}, false};
  EXPECT_TRUE(can(acls, "User:admin", AclOperation::Delete, T, "t", super));
  // No ACL names the resource: allow.everyone.if.no.acl.found decides.
  EXPECT_FALSE(can(acls, "User:u", AclOperation::Read, T, "other"));
  AuthorizerConfig open{{}, true};
  EXPECT_TRUE(can(acls, "User:u", AclOperation::Read, T, "other", open));
  // ... but not when some ACL names it, even for someone else.
  EXPECT_FALSE(can(acls, "User:x", AclOperation::Read, T, "t", open));
}

TEST(AclTest, FiltersAsDescribeAndDeleteAclsUseThem) {
  AclSet acls(
      {acl(T, "orders", L, "User:a", AclOperation::Read, Allow), acl(T, "ord", P, "User:b", AclOperation::Write, Allow),
       acl(T, "*", L, "User:c", AclOperation::Describe, Allow), acl(G, "g", L, "User:a", AclOperation::Read, Deny)});
  AclFilter any;
  EXPECT_EQ(acls.find(any).size(), 4u);
  AclFilter match;
  match.resource_type = T;
  match.pattern_type = PatternType::Match;
  match.resource_name = "orders";
  EXPECT_EQ(acls.find(match).size(),
            3u);  // literal, prefix and wildcard that apply to "orders"
  AclFilter literal;
  literal.pattern_type = L;
  literal.resource_name = "orders";
  EXPECT_EQ(acls.find(literal).size(), 1u);
  AclFilter by_principal;
  by_principal.principal = "User:a";
  EXPECT_EQ(acls.find(by_principal).size(), 2u);
  std::vector<AclBinding> removed;
  AclSet left = acls.without(by_principal, &removed);
  EXPECT_EQ(removed.size(), 2u);
  EXPECT_EQ(left.all().size(), 2u);
  EXPECT_EQ(left.with(removed).all(), acls.all());
  EXPECT_EQ(acls.with(removed).all().size(), 4u);  // no duplicates
}

TEST(AclTest, ValidationAndStoredForm) {
  EXPECT_FALSE(validate_new_acl(acl(T, "t", L, "User:a", AclOperation::Read, Allow)));
  EXPECT_TRUE(validate_new_acl(acl(ResourceType::Any, "t", L, "User:a", AclOperation::Read, Allow)));
  EXPECT_TRUE(validate_new_acl(acl(T, "t", PatternType::Match, "User:a", AclOperation::Read, Allow)));
  EXPECT_TRUE(validate_new_acl(acl(T, "t", L, "User:a", AclOperation::Any, Allow)));
  EXPECT_TRUE(validate_new_acl(acl(T, "t", L, "User:a", AclOperation::Read, AclPermission::Any)));
  EXPECT_TRUE(validate_new_acl(acl(T, "", L, "User:a", AclOperation::Read, Allow)));
  EXPECT_TRUE(validate_new_acl(acl(T, "t", L, "alice", AclOperation::Read, Allow)));
  std::vector<AclBinding> all{acl(T, "t", P, "User:a", AclOperation::IdempotentWrite, Deny, "1.2.3.4"),
                              acl(ResourceType::Cluster, "kafka-cluster", L, "User:*", AclOperation::Alter, Allow)};
  EXPECT_EQ(decode_acls(encode_acls(all)), all);
  EXPECT_THROW(decode_acls("{}"), std::invalid_argument);
  EXPECT_THROW(decode_acls(R"([{"resource_type":"NOPE"}])"), std::invalid_argument);
  EXPECT_EQ(parse_operation("describe_configs"), AclOperation::DescribeConfigs);
  EXPECT_EQ(name_of(AclOperation::ClusterAction), "CLUSTER_ACTION");
}

}  // namespace
}  // namespace runnel::security
