#include "security/scram.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "security/credential_store.h"
#include "security/sasl_server.h"

namespace runnel::security {
namespace {

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<uint8_t> b64(std::string_view s) {
  auto out = base64_decode(s);
  EXPECT_TRUE(out.has_value()) << s;
  return out.value_or(std::vector<uint8_t>{});
}

// RFC 7677's example: user "user", password "pencil".
TEST(Scram, CredentialMatchesRfc7677) {
  auto salt = b64("W22ZaJ0SNY7soEsUEjb6gQ==");
  auto c = make_credential(ScramMechanism::kSha256, "pencil", salt, 4096);
  EXPECT_EQ(base64_encode(c.stored_key), "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=");
  EXPECT_EQ(base64_encode(c.server_key), "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
  EXPECT_TRUE(password_matches(ScramMechanism::kSha256, c, "pencil"));
  EXPECT_FALSE(password_matches(ScramMechanism::kSha256, c, "pencil "));
  EXPECT_FALSE(password_matches(ScramMechanism::kSha256, c, ""));
}

TEST(Scram, Base64RoundTripsAndRefusesGarbage) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "abcde"}) {
    auto encoded = base64_encode(bytes(s));
    auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded) << s;
    EXPECT_EQ(std::string(decoded->begin(), decoded->end()), s);
  }
  EXPECT_FALSE(base64_decode("abc"));
  EXPECT_FALSE(base64_decode("ab=c"));
  EXPECT_FALSE(base64_decode("a==="));
  EXPECT_FALSE(base64_decode("ab c"));
}

TEST(Scram, ParsesClientFirst) {
  auto m = parse_client_first("n,,n=us=2Cer=3D,r=fyko+d2lbbFgONRv9qkxdawL");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->gs2_header, "n,,");
  EXPECT_EQ(m->username, "us,er=");
  EXPECT_EQ(m->nonce, "fyko+d2lbbFgONRv9qkxdawL");
  EXPECT_EQ(m->bare, "n=us=2Cer=3D,r=fyko+d2lbbFgONRv9qkxdawL");
  auto with_ext = parse_client_first("n,a=bob,n=bob,r=abc,tokenauth=true");
  ASSERT_TRUE(with_ext);
  EXPECT_EQ(with_ext->authzid, "bob");
  EXPECT_TRUE(with_ext->token_auth);
  for (const char* bad : {"", "n", "n,,", "p=tls-unique,,n=u,r=x", "n,,r=x,n=u", "n,,n=u", "n,,n=u,r=", "n,,n=a=b,r=x",
                          "n,,n=,r=x", "n,x,n=u,r=x", "n,,m=1,n=u,r=x", "n,,n=u,r=x,bad"})
    EXPECT_FALSE(parse_client_first(bad)) << bad;
}

TEST(Scram, ParsesClientFinal) {
  auto m = parse_client_final("c=biws,r=abcdef,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->channel_binding, "biws");
  EXPECT_EQ(m->nonce, "abcdef");
  EXPECT_EQ(m->without_proof, "c=biws,r=abcdef");
  EXPECT_EQ(m->proof.size(), 32u);
  for (const char* bad :
       {"", "c=biws,r=abc", "c=biws,p=AAAA", "r=abc,c=biws,p=AAAA", "c=biws,r=abc,p=!!!!", "c=biws,r=abc,p="})
    EXPECT_FALSE(parse_client_final(bad)) << bad;
}

// The client side of RFC 5802, enough to drive the server in a test.
std::vector<uint8_t> hmac(const EVP_MD* md, std::span<const uint8_t> key, std::string_view data) {
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int n = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const uint8_t*>(data.data()), data.size(),
       out.data(), &n);
  out.resize(n);
  return out;
}

struct Exchange {
  ScramServer::Step first, final;
};

Exchange run_exchange(ScramServer& server, ScramMechanism m, const std::string& user, const std::string& password) {
  const EVP_MD* md = m == ScramMechanism::kSha256 ? EVP_sha256() : EVP_sha512();
  std::string bare = "n=" + user + ",r=clientnonce";
  Exchange e;
  e.first = server.step("n,," + bare);
  if (e.first.outcome != ScramServer::Outcome::kContinue) return e;
  // r=<nonce>,s=<salt>,i=<iterations>
  const std::string& sf = e.first.response;
  auto s_at = sf.find(",s="), i_at = sf.find(",i=");
  std::string nonce = sf.substr(2, s_at - 2);
  auto salt = base64_decode(sf.substr(s_at + 3, i_at - s_at - 3)).value();
  int iterations = std::stoi(sf.substr(i_at + 3));
  std::vector<uint8_t> salted(static_cast<size_t>(EVP_MD_get_size(md)));
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(), static_cast<int>(salt.size()),
                    iterations, md, static_cast<int>(salted.size()), salted.data());
  auto client_key = hmac(md, salted, "Client Key");
  std::vector<uint8_t> stored(static_cast<size_t>(EVP_MD_get_size(md)));
  unsigned int n = 0;
  EVP_Digest(client_key.data(), client_key.size(), stored.data(), &n, md, nullptr);
  std::string without_proof = "c=biws,r=" + nonce;
  std::string auth = bare + "," + sf + "," + without_proof;
  auto signature = hmac(md, stored, auth);
  for (size_t i = 0; i < client_key.size(); ++i) client_key[i] ^= signature[i];
  e.final = server.step(without_proof + ",p=" + base64_encode(client_key));
  return e;
}

TEST(Scram, ServerAcceptsTheRightPasswordOnly) {
  for (auto m : {ScramMechanism::kSha256, ScramMechanism::kSha512}) {
    auto credential = make_credential(m, "s3cret", random_salt(), 4096);
    auto lookup = [&](const std::string& user) -> std::optional<ScramCredential> {
      if (user == "alice") return credential;
      return std::nullopt;
    };
    ScramServer good(m, lookup);
    auto ok = run_exchange(good, m, "alice", "s3cret");
    EXPECT_EQ(ok.final.outcome, ScramServer::Outcome::kDone);
    EXPECT_EQ(ok.final.response.substr(0, 2), "v=");
    EXPECT_EQ(good.username(), "alice");

    ScramServer wrong(m, lookup);
    EXPECT_EQ(run_exchange(wrong, m, "alice", "guess").final.outcome, ScramServer::Outcome::kFailed);
    // An unknown user gets a server-first like anyone else, then fails.
    ScramServer unknown(m, lookup);
    auto u = run_exchange(unknown, m, "mallory", "s3cret");
    EXPECT_EQ(u.first.outcome, ScramServer::Outcome::kContinue);
    EXPECT_EQ(u.final.outcome, ScramServer::Outcome::kFailed);
  }
}

TEST(Scram, ServerRefusesATamperedNonceOrBinding) {
  auto m = ScramMechanism::kSha256;
  auto credential = make_credential(m, "pw", random_salt(), 4096);
  ScramServer server(m, [&](const std::string&) -> std::optional<ScramCredential> { return credential; });
  auto first = server.step("n,,n=alice,r=abc");
  ASSERT_EQ(first.outcome, ScramServer::Outcome::kContinue);
  auto final = server.step("c=biws,r=abcWRONG,p=AAAA");
  EXPECT_EQ(final.outcome, ScramServer::Outcome::kFailed);
  EXPECT_EQ(server.step("anything").outcome, ScramServer::Outcome::kFailed);
}

TEST(Sasl, ParsesPlain) {
  auto m = parse_plain(bytes(std::string("\0alice\0pw", 9)));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->authzid, "");
  EXPECT_EQ(m->username, "alice");
  EXPECT_EQ(m->password, "pw");
  EXPECT_FALSE(parse_plain(bytes("alice")));
  EXPECT_FALSE(parse_plain(bytes(std::string("\0alice", 6))));
  EXPECT_FALSE(parse_plain(bytes(std::string("\0\0pw", 4))));
  EXPECT_FALSE(parse_plain(bytes(std::string("\0a\0b\0c", 6))));
}

TEST(Sasl, PlainChecksAgainstTheScramCredential) {
  std::string dir = ::testing::TempDir() + "/sasl-plain-test";
  std::filesystem::remove_all(dir);
  CredentialStore store(storage::Env::posix(), CredentialStore::path_in(dir));
  std::string error;
  ASSERT_TRUE(store.load(&error)) << error;
  ASSERT_TRUE(
      store.set("alice", ScramMechanism::kSha512, make_credential(ScramMechanism::kSha512, "pw", random_salt(), 4096)));
  auto attempt = [&](std::string token) {
    SaslServer server("PLAIN", store);
    return server.step(bytes(token));
  };
  EXPECT_EQ(attempt(std::string("\0alice\0pw", 9)).outcome, SaslServer::Outcome::kDone);
  auto wrong = attempt(std::string("\0alice\0px", 9));
  EXPECT_EQ(wrong.outcome, SaslServer::Outcome::kFailed);
  EXPECT_EQ(wrong.error_message, "Authentication failed: Invalid username or password");
  auto unknown = attempt(std::string("\0bob\0pw", 7));
  EXPECT_EQ(unknown.error_message, wrong.error_message);
  EXPECT_EQ(attempt(std::string("carol\0alice\0pw", 14)).outcome, SaslServer::Outcome::kFailed);
  SaslServer scram("SCRAM-SHA-256", store);
  auto s = scram.step(bytes("garbage"));
  EXPECT_EQ(s.error_message,
            "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace runnel::security
