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

TEST_F(CredentialStoreTest, DocumentRoundTrips) {
  CredentialMap users;
  users["alice"][ScramMechanism::kSha256] = make_credential(ScramMechanism::kSha256, "a", random_salt(), 4096);
  users["alice"][ScramMechanism::kSha512] = make_credential(ScramMechanism::kSha512, "a", random_salt(), 8192);
  users["b,=ob \xc3\xa9"][ScramMechanism::kSha256] = make_credential(ScramMechanism::kSha256, "b", random_salt(), 4096);
  auto text = encode_credential_document(users);
  EXPECT_EQ(decode_credential_document(text), users);
  EXPECT_EQ(decode_credential_document(encode_credential_document({})), CredentialMap{});
  EXPECT_EQ(encode_credential_document({}), R"({"users":{},"version":1})");
  // Never the password; the byte strings as base64.
  EXPECT_EQ(text.find("\"a\""), std::string::npos);
  EXPECT_NE(text.find(base64_encode(users["alice"][ScramMechanism::kSha512].stored_key)), std::string::npos);
  // The same users as the data dir's file (a file uploads to etcd unchanged).
  EXPECT_EQ(decode_credentials(encode_credentials(decode_credential_document(text))), users);
}

TEST_F(CredentialStoreTest, DocumentDecodesAHandWrittenOne) {
  auto users = decode_credential_document(
      R"({"version":1,"users":{"alice":{"SCRAM-SHA-512":{"iterations":8192,"salt":"c2FsdA==",)"
      R"("stored_key":"AQI=","server_key":"AwQ="}}}})");
  ASSERT_EQ(users.size(), 1u);
  const auto& c = users.at("alice").at(ScramMechanism::kSha512);
  EXPECT_EQ(c.iterations, 8192);
  EXPECT_EQ(c.salt, (std::vector<uint8_t>{'s', 'a', 'l', 't'}));
  EXPECT_EQ(c.stored_key, (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(c.server_key, (std::vector<uint8_t>{3, 4}));
}

TEST_F(CredentialStoreTest, DocumentRefusesWhatTheStoreCannotHold) {
  auto credential = [](const std::string& fields) {
    return R"({"version":1,"users":{"alice":{"SCRAM-SHA-256":{)" + fields + "}}}}";
  };
  const std::string good = R"("iterations":4096,"salt":"YQ==","stored_key":"Yg==","server_key":"Yw==")";
  EXPECT_NO_THROW(decode_credential_document(credential(good)));
  std::string long_salt = base64_encode(std::vector<uint8_t>(256, 7));
  for (const std::string& bad : {
           std::string("not json"),
           std::string("[]"),
           std::string(R"({"users":{}})"),                   // no version
           std::string(R"({"version":2,"users":{}})"),       // another version
           std::string(R"({"version":1,"users":[]})"),       // users not an object
           std::string(R"({"version":1,"users":{"":{}}})"),  // empty name
           std::string(R"({"version":1,"users":{"a":[]}})"),
           std::string(R"({"version":1,"users":{"a":{"SCRAM-SHA-1":{}}}})"),
           credential(R"("iterations":0,"salt":"YQ==","stored_key":"Yg==","server_key":"Yw==")"),
           credential(R"("iterations":16385,"salt":"YQ==","stored_key":"Yg==","server_key":"Yw==")"),
           credential(R"("iterations":"4096","salt":"YQ==","stored_key":"Yg==","server_key":"Yw==")"),
           credential(R"("iterations":4096,"salt":"!!","stored_key":"Yg==","server_key":"Yw==")"),
           credential(R"("iterations":4096,"salt":")" + long_salt + R"(","stored_key":"Yg==","server_key":"Yw==")"),
           credential(R"("iterations":4096,"salt":"YQ==","server_key":"Yw==")"),
       })
    EXPECT_THROW(decode_credential_document(bad), std::invalid_argument) << bad;
}

TEST_F(CredentialStoreTest, UpdateAndInstall) {
  auto path = CredentialStore::path_in(dir_);
  CredentialStore store(storage::Env::posix(), path);
  auto credential = make_credential(ScramMechanism::kSha256, "pw", random_salt(), 4096);
  ASSERT_TRUE(store.update([&](const CredentialMap& current) {
    EXPECT_TRUE(current.empty());
    auto next = current;
    next["alice"][ScramMechanism::kSha256] = credential;
    return next;
  }));
  CredentialStore reread(storage::Env::posix(), path);
  std::string error;
  ASSERT_TRUE(reread.load(&error)) << error;
  EXPECT_EQ(reread.find("alice", ScramMechanism::kSha256), credential);
  // install() replaces what is in memory and writes nothing (a cluster's).
  store.install({});
  EXPECT_FALSE(store.find("alice", ScramMechanism::kSha256));
  ASSERT_TRUE(reread.load(&error)) << error;
  EXPECT_TRUE(reread.find("alice", ScramMechanism::kSha256));
}

TEST_F(CredentialStoreTest, StorableUserNames) {
  EXPECT_TRUE(storable_user_name("alice"));
  EXPECT_TRUE(storable_user_name("\xc3\xa9t\xc3\xa9"));
  EXPECT_FALSE(storable_user_name(""));
  EXPECT_FALSE(storable_user_name("\xff\xfe"));
  EXPECT_FALSE(storable_user_name(std::string(65536, 'a')));
}

}  // namespace
}  // namespace runnel::security
