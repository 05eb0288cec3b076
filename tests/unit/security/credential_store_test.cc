#include "security/credential_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace runnel::security {
namespace {

class CredentialStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("credential-store-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(CredentialStoreTest, EncodingRoundTrips) {
  CredentialMap users;
  users["alice"][ScramMechanism::kSha256] = make_credential(ScramMechanism::kSha256, "a", random_salt(), 4096);
  users["alice"][ScramMechanism::kSha512] = make_credential(ScramMechanism::kSha512, "a", random_salt(), 8192);
  users["b,=ob"][ScramMechanism::kSha256] = make_credential(ScramMechanism::kSha256, "b", random_salt(), 4096);
  auto encoded = encode_credentials(users);
  auto decoded = decode_credentials(encoded);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, users);
  EXPECT_EQ(decode_credentials(encode_credentials({})), CredentialMap{});
  // Any flipped byte or a cut is caught.
  for (size_t i = 0; i < encoded.size(); i += 7) {
    auto copy = encoded;
    copy[i] ^= 0x40;
    EXPECT_FALSE(decode_credentials(copy)) << i;
  }
  EXPECT_FALSE(decode_credentials(std::span(encoded).first(encoded.size() - 1)));
}

TEST_F(CredentialStoreTest, PersistsSetsAndRemoves) {
  auto path = CredentialStore::path_in(dir_);
  std::string error;
  {
    CredentialStore store(storage::Env::posix(), path);
    ASSERT_TRUE(store.load(&error)) << error;  // no file yet: empty
    EXPECT_TRUE(store.snapshot().empty());
    ASSERT_TRUE(store.set("alice", ScramMechanism::kSha256,
                          make_credential(ScramMechanism::kSha256, "pw", random_salt(), 4096)));
    ASSERT_TRUE(
        store.set("bob", ScramMechanism::kSha512, make_credential(ScramMechanism::kSha512, "pw", random_salt(), 4096)));
    bool found = false;
    ASSERT_TRUE(store.remove("bob", ScramMechanism::kSha256, &found));
    EXPECT_FALSE(found);
    ASSERT_TRUE(store.remove("bob", std::nullopt, &found));
    EXPECT_TRUE(found);
  }
  CredentialStore again(storage::Env::posix(), path);
  ASSERT_TRUE(again.load(&error)) << error;
  EXPECT_TRUE(again.find("alice", ScramMechanism::kSha256));
  EXPECT_FALSE(again.find("alice", ScramMechanism::kSha512));
  EXPECT_FALSE(again.find("bob", ScramMechanism::kSha512));
  EXPECT_TRUE(password_matches(ScramMechanism::kSha256, *again.find("alice", ScramMechanism::kSha256), "pw"));
}

TEST_F(CredentialStoreTest, RefusesACorruptFile) {
  auto path = CredentialStore::path_in(dir_);
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << "not a credential file";
  CredentialStore store(storage::Env::posix(), path);
  std::string error;
  EXPECT_FALSE(store.load(&error));
  EXPECT_NE(error.find("corrupt"), std::string::npos);
}

}  // namespace
}  // namespace runnel::security
