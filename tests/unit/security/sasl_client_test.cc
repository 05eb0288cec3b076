// The client side of SASL (security/sasl_client.h, security/scram_client.h)
// against RFC 7677's example and against runnel's own server side.
#include "security/sasl_client.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "security/credential_store.h"
#include "security/sasl_server.h"
#include "security/scram_client.h"
#include "security/scram_primitives.h"

namespace runnel::security {
namespace {

std::vector<uint8_t> to_bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::string to_text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

// RFC 7677 section 3: user "user", password "pencil".
TEST(ScramClient, ComputesRfc7677Example) {
  ScramClient client(ScramMechanism::kSha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
  EXPECT_EQ(client.first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  std::string error;
  auto final_msg =
      client.final("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", error);
  ASSERT_TRUE(final_msg) << error;
  EXPECT_EQ(
      *final_msg,
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  EXPECT_TRUE(client.verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", error)) << error;
}

TEST(ScramClient, RefusesAForgedServerSignature) {
  ScramClient client(ScramMechanism::kSha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
  client.first();
  std::string error;
  ASSERT_TRUE(
      client.final("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", error));
  EXPECT_FALSE(client.verify("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", error));
  EXPECT_EQ(error, "invalid server signature");
}

TEST(ScramClient, RefusesBadServerFirstMessages) {
  auto final_for = [](std::string_view server_first) {
    ScramClient client(ScramMechanism::kSha256, "user", "pencil", "abc");
    client.first();
    std::string error;
    return client.final(server_first, error);
  };
  EXPECT_TRUE(final_for("r=abcdef,s=c2FsdA==,i=4096"));
  EXPECT_FALSE(final_for("r=abc,s=c2FsdA==,i=4096"));        // does not add to our nonce
  EXPECT_FALSE(final_for("r=xyzdef,s=c2FsdA==,i=4096"));     // not our nonce
  EXPECT_FALSE(final_for("r=abcdef,s=c2FsdA==,i=4095"));     // fewer iterations than Kafka allows
  EXPECT_FALSE(final_for("r=abcdef,s=c2FsdA==,i=1000000"));  // more than it allows
  EXPECT_FALSE(final_for("r=abcdef,s=c2FsdA==,i=40x6"));
  EXPECT_FALSE(final_for("r=abcdef,s=!!,i=4096"));
  EXPECT_FALSE(final_for("r=abcdef,s=,i=4096"));
  EXPECT_FALSE(final_for("s=c2FsdA==,r=abcdef,i=4096"));
  EXPECT_FALSE(final_for("m=ext,r=abcdef,s=c2FsdA==,i=4096"));
  EXPECT_FALSE(final_for("r=abcdef,s=c2FsdA==,i=4096,m=ext"));
  EXPECT_FALSE(final_for("e=other-error"));
  EXPECT_FALSE(final_for(""));
  EXPECT_TRUE(parse_server_first("r=abcdef,s=c2FsdA==,i=4096,x=ext"));
  EXPECT_EQ(parse_server_final("e=invalid-proof")->error, "invalid-proof");
  EXPECT_FALSE(parse_server_final("v="));
  EXPECT_FALSE(parse_server_final("x=1"));
}

TEST(ScramClient, EscapesUserNames) {
  EXPECT_EQ(encode_saslname("a,b=c"), "a=2Cb=3Dc");
  ScramClient client(ScramMechanism::kSha512, "a,b", "pw", "n0nce");
  auto parsed = parse_client_first(client.first());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->username, "a,b");
}

class SaslClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/sasl-client-test";
    std::filesystem::remove_all(dir_);
    std::string error;
    ASSERT_TRUE(store_.load(&error)) << error;
    for (auto m : {ScramMechanism::kSha256, ScramMechanism::kSha512})
      ASSERT_TRUE(store_.set("broker", m, make_credential(m, "s3cret", random_salt(), 4096)));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs client against server until one ends; the client's outcome, and
  // the server's in *server_outcome.
  SaslClient::Outcome exchange(SaslClient& client, SaslServer& server, SaslServer::Outcome* server_outcome) {
    auto c = client.start();
    for (int i = 0; i < 5 && c.outcome == SaslClient::Outcome::kContinue; ++i) {
      auto s = server.step(c.token);
      *server_outcome = s.outcome;
      if (s.outcome == SaslServer::Outcome::kFailed) return SaslClient::Outcome::kFailed;
      c = client.step(s.response);
    }
    return c.outcome;
  }

  std::string dir_;
  CredentialStore store_{storage::Env::posix(), CredentialStore::path_in(::testing::TempDir() + "/sasl-client-test")};
};

TEST_F(SaslClientTest, AuthenticatesWithEveryMechanism) {
  for (std::string mechanism : {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}) {
    SaslClient client(mechanism, "broker", "s3cret");
    SaslServer server(mechanism, store_);
    auto server_outcome = SaslServer::Outcome::kContinue;
    EXPECT_EQ(exchange(client, server, &server_outcome), SaslClient::Outcome::kDone) << mechanism;
    EXPECT_EQ(server_outcome, SaslServer::Outcome::kDone) << mechanism;
    EXPECT_EQ(server.username(), "broker");
  }
}

TEST_F(SaslClientTest, AWrongPasswordFailsOnTheServer) {
  for (std::string mechanism : {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}) {
    SaslClient client(mechanism, "broker", "wrong");
    SaslServer server(mechanism, store_);
    auto server_outcome = SaslServer::Outcome::kContinue;
    EXPECT_EQ(exchange(client, server, &server_outcome), SaslClient::Outcome::kFailed) << mechanism;
    EXPECT_EQ(server_outcome, SaslServer::Outcome::kFailed) << mechanism;
  }
}

TEST_F(SaslClientTest, AServerWithoutTheCredentialCannotPassTheClientCheck) {
  // An impostor that accepts any proof still cannot sign: it does not have
  // ServerKey, so it makes one up from a credential of another password.
  SaslClient client("SCRAM-SHA-256", "broker", "s3cret");
  auto first = client.start();
  ScramServer impostor(ScramMechanism::kSha256, [](const std::string&) -> std::optional<ScramCredential> {
    return make_credential(ScramMechanism::kSha256, "guess", std::vector<uint8_t>(16, 1), 4096);
  });
  auto server_first = impostor.step(to_text(first.token));
  ASSERT_EQ(server_first.outcome, ScramServer::Outcome::kContinue);
  auto final_msg = client.step(to_bytes(server_first.response));
  ASSERT_EQ(final_msg.outcome, SaslClient::Outcome::kContinue);
  // The impostor's own check fails; it answers a signature of its own anyway.
  auto forged = to_bytes("v=" + base64_encode(std::vector<uint8_t>(32, 9)));
  auto end = client.step(forged);
  EXPECT_EQ(end.outcome, SaslClient::Outcome::kFailed);
  EXPECT_EQ(end.error, "invalid server signature");
}

TEST_F(SaslClientTest, PlainRefusesATokenFromTheServerAndStepsOutOfOrder) {
  SaslClient plain("PLAIN", "broker", "s3cret");
  auto token = plain.start();
  EXPECT_EQ(to_text(token.token), std::string("\0broker\0s3cret", 14));
  EXPECT_EQ(plain.step(to_bytes("x")).outcome, SaslClient::Outcome::kFailed);
  SaslClient scram("SCRAM-SHA-512", "broker", "s3cret");
  EXPECT_EQ(scram.step(to_bytes("r=x,s=c2FsdA==,i=4096")).outcome, SaslClient::Outcome::kFailed);
  SaslClient unknown("GSSAPI", "broker", "s3cret");
  EXPECT_EQ(unknown.start().outcome, SaslClient::Outcome::kFailed);
}

}  // namespace
}  // namespace runnel::security
