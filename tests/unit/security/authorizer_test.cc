// The broker's Authorizer: the ACL file in the data dir (written through,
// read back at start, a corrupt one refused), the decision with and without
// an authorizer, Kafka's authorizeByResourceType for idempotent producers,
// the authorized-operations bit fields, and the wire values of the enums.
#include "security/authorizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace runnel::security {
namespace {

class AuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::path(::testing::TempDir()) / ("authorizer_test_" + std::to_string(::getpid()) + "_" +
                                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

AclBinding read_acl(std::string topic, std::string principal, PatternType pattern = PatternType::Literal) {
  return AclBinding{ResourceType::Topic, std::move(topic),    pattern, std::move(principal), "*",
                    AclOperation::Read,  AclPermission::Allow};
}

TEST_F(AuthorizerTest, PersistsEveryChangeAndLoadsItBack) {
  auto path = Authorizer::path_in(dir_);
  {
    Authorizer a(storage::Env::posix(), path, true, {});
    std::string error;
    ASSERT_TRUE(a.load(&error)) << error;  // no file: no ACLs
    EXPECT_TRUE(a.acls()->all().empty());
    ASSERT_TRUE(a.update([](const AclSet& s) { return s.with({read_acl("t", "User:alice")}); }));
    ASSERT_TRUE(a.update([](const AclSet& s) { return s.with({read_acl("u", "User:bob", PatternType::Prefixed)}); }));
    EXPECT_TRUE(a.authorize("User:alice", "1.2.3.4", {AclOperation::Read, ResourceType::Topic, "t"}));
    EXPECT_FALSE(a.authorize("User:alice", "1.2.3.4", {AclOperation::Write, ResourceType::Topic, "t"}));
  }
  Authorizer b(storage::Env::posix(), path, true, {});
  std::string error;
  ASSERT_TRUE(b.load(&error)) << error;
  EXPECT_EQ(b.acls()->all().size(), 2u);
  EXPECT_TRUE(b.authorize("User:bob", "::1", {AclOperation::Describe, ResourceType::Topic, "u-1"}));
  ASSERT_TRUE(b.update([](const AclSet& s) {
    AclFilter f;
    f.principal = "User:alice";
    return s.without(f, nullptr);
  }));
  Authorizer c(storage::Env::posix(), path, true, {});
  ASSERT_TRUE(c.load(&error)) << error;
  ASSERT_EQ(c.acls()->all().size(), 1u);
  EXPECT_EQ(c.acls()->all()[0].principal, "User:bob");
}

TEST_F(AuthorizerTest, RefusesACorruptFile) {
  auto path = Authorizer::path_in(dir_);
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << "[{\"resource_type\": \"TOPIC\"";
  Authorizer a(storage::Env::posix(), path, true, {});
  std::string error;
  EXPECT_FALSE(a.load(&error));
  EXPECT_NE(error.find("corrupt"), std::string::npos);
}

TEST_F(AuthorizerTest, DisabledAllowsEverythingSuperUsersBypass) {
  Authorizer off(storage::Env::posix(), Authorizer::path_in(dir_), false, {});
  EXPECT_FALSE(off.enabled());
  EXPECT_TRUE(off.authorize("User:x", "h", {AclOperation::Write, ResourceType::Topic, "t"}));
  AuthorizerConfig config;
  config.super_users = {"User:admin"};
  Authorizer on(storage::Env::posix(), Authorizer::path_in(dir_), true, config);
  EXPECT_TRUE(on.authorize("User:admin", "h", {AclOperation::Alter, ResourceType::Cluster, "kafka-cluster"}));
  EXPECT_FALSE(on.authorize("User:x", "h", {AclOperation::Write, ResourceType::Topic, "t"}));
}

TEST(AclSetTest, AuthorizeAnyAsKafkasAuthorizeByResourceType) {
  AuthorizerConfig config;
  AclSet none;
  EXPECT_FALSE(none.authorize_any(config, "User:a", "h", AclOperation::Write, ResourceType::Topic));
  config.allow_everyone_if_no_acl_found = true;
  EXPECT_TRUE(none.authorize_any(config, "User:a", "h", AclOperation::Write, ResourceType::Topic));
  config.allow_everyone_if_no_acl_found = false;
  AclSet some({AclBinding{ResourceType::Topic, "p-", PatternType::Prefixed, "User:a", "*", AclOperation::Write,
                          AclPermission::Allow}});
  EXPECT_TRUE(some.authorize_any(config, "User:a", "h", AclOperation::Write, ResourceType::Topic));
  EXPECT_FALSE(some.authorize_any(config, "User:b", "h", AclOperation::Write, ResourceType::Topic));
  EXPECT_FALSE(some.authorize_any(config, "User:a", "h", AclOperation::Write, ResourceType::Group));
  auto denied = some.with({AclBinding{ResourceType::Topic, "*", PatternType::Literal, "User:a", "*", AclOperation::All,
                                      AclPermission::Deny}});
  EXPECT_FALSE(denied.authorize_any(config, "User:a", "h", AclOperation::Write, ResourceType::Topic));
}

// Kafka's AuthHelper.authorizedOperations: a bit per operation code, among
// the operations supported on the resource type.
TEST_F(AuthorizerTest, AuthorizedOperationsAsKafkasBitField) {
  constexpr auto bit = [](AclOperation op) { return 1 << static_cast<int>(op); };
  // Kafka's AclEntry.supportedOperations.
  const int32_t all_topic = bit(AclOperation::Read) | bit(AclOperation::Write) | bit(AclOperation::Create) |
                            bit(AclOperation::Delete) | bit(AclOperation::Alter) | bit(AclOperation::Describe) |
                            bit(AclOperation::DescribeConfigs) | bit(AclOperation::AlterConfigs);
  EXPECT_EQ(all_topic, 0x0df8);  // codes 3-8, 10 and 11 (not 9, CLUSTER_ACTION)
  EXPECT_EQ(operations_bit_field(supported_operations(ResourceType::Topic)), all_topic);
  EXPECT_EQ(operations_bit_field(supported_operations(ResourceType::Group)),
            bit(AclOperation::Read) | bit(AclOperation::Delete) | bit(AclOperation::Describe) |
                bit(AclOperation::DescribeConfigs) | bit(AclOperation::AlterConfigs));
  EXPECT_EQ(operations_bit_field(supported_operations(ResourceType::Cluster)),
            bit(AclOperation::Create) | bit(AclOperation::Alter) | bit(AclOperation::Describe) |
                bit(AclOperation::ClusterAction) | bit(AclOperation::DescribeConfigs) |
                bit(AclOperation::AlterConfigs) | bit(AclOperation::IdempotentWrite));
  EXPECT_EQ(operations_bit_field(supported_operations(ResourceType::TransactionalId)),
            bit(AclOperation::Write) | bit(AclOperation::Describe));
  EXPECT_TRUE(supported_operations(ResourceType::Any).empty());

  // Without an authorizer: every supported operation.
  Authorizer off(storage::Env::posix(), Authorizer::path_in(dir_), false, {});
  EXPECT_EQ(off.authorized_operations("User:bob", "10.0.0.1", ResourceType::Topic, "t"), 0x0df8);

  Authorizer on(storage::Env::posix(), Authorizer::path_in(dir_), true, {.super_users = {"User:admin"}});
  auto allow = [](AclOperation op, std::string name, PatternType pattern = PatternType::Literal) {
    return AclBinding{ResourceType::Topic, std::move(name), pattern, "User:alice", "*", op, AclPermission::Allow};
  };
  on.install(AclSet({allow(AclOperation::Read, "orders"), allow(AclOperation::Write, "ord", PatternType::Prefixed),
                     allow(AclOperation::AlterConfigs, "orders"),
                     AclBinding{ResourceType::Topic, "orders", PatternType::Literal, "User:alice", "*",
                                AclOperation::Write, AclPermission::Deny},
                     AclBinding{ResourceType::Group, "g", PatternType::Literal, "User:alice", "*", AclOperation::All,
                                AclPermission::Allow}}));
  // READ (and the DESCRIBE it implies), ALTER_CONFIGS (and DESCRIBE_CONFIGS);
  // the prefixed WRITE is denied on this topic by the literal DENY.
  EXPECT_EQ(on.authorized_operations("User:alice", "10.0.0.1", ResourceType::Topic, "orders"),
            bit(AclOperation::Read) | bit(AclOperation::Describe) | bit(AclOperation::DescribeConfigs) |
                bit(AclOperation::AlterConfigs));
  EXPECT_EQ(on.authorized_operations("User:alice", "10.0.0.1", ResourceType::Topic, "order-lines"),
            bit(AclOperation::Write) | bit(AclOperation::Describe));
  EXPECT_EQ(on.authorized_operations("User:alice", "10.0.0.1", ResourceType::Topic, "other"), 0);
  EXPECT_EQ(on.authorized_operations("User:bob", "10.0.0.1", ResourceType::Topic, "orders"), 0);
  // ALL on a group: everything a group supports.
  EXPECT_EQ(on.authorized_operations("User:alice", "10.0.0.1", ResourceType::Group, "g"),
            operations_bit_field(supported_operations(ResourceType::Group)));
  EXPECT_EQ(on.authorized_operations("User:admin", "10.0.0.1", ResourceType::Cluster, "kafka-cluster"),
            operations_bit_field(supported_operations(ResourceType::Cluster)));
}

TEST(AclSetTest, WireValues) {
  EXPECT_EQ(resource_type_from_wire(2), ResourceType::Topic);
  EXPECT_EQ(resource_type_from_wire(8), ResourceType::Unknown);
  EXPECT_EQ(resource_type_from_wire(-1), ResourceType::Unknown);
  EXPECT_EQ(pattern_type_from_wire(4), PatternType::Prefixed);
  EXPECT_EQ(pattern_type_from_wire(5), PatternType::Unknown);
  EXPECT_EQ(operation_from_wire(12), AclOperation::IdempotentWrite);
  EXPECT_EQ(operation_from_wire(15), AclOperation::Unknown);
  EXPECT_EQ(permission_from_wire(2), AclPermission::Deny);
  EXPECT_EQ(permission_from_wire(4), AclPermission::Unknown);
}

}  // namespace
}  // namespace runnel::security
