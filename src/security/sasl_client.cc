#include "security/sasl_client.h"

#include <string_view>

namespace runnel::security {

SaslClient::SaslClient(std::string mechanism, std::string username, std::string password)
    : mechanism_(std::move(mechanism)), username_(std::move(username)), password_(std::move(password)) {
  if (auto m = parse_mechanism(mechanism_)) scram_ = std::make_unique<ScramClient>(*m, username_, password_);
}

SaslClient::Step SaslClient::start() {
  if (stage_ != 0) {
    stage_ = 3;
    return {Outcome::kFailed, {}, "the exchange was already started"};
  }
  stage_ = 1;
  std::string token;
  if (scram_) {
    token = scram_->first();
  } else if (mechanism_ == "PLAIN") {
    // authzid (empty) NUL authcid NUL passwd
    token.push_back('\0');
    token += username_;
    token.push_back('\0');
    token += password_;
  } else {
    stage_ = 3;
    return {Outcome::kFailed, {}, "unknown SASL mechanism " + mechanism_};
  }
  return {Outcome::kContinue, std::vector<uint8_t>(token.begin(), token.end()), ""};
}

SaslClient::Step SaslClient::step(std::span<const uint8_t> server_token) {
  std::string_view text(reinterpret_cast<const char*>(server_token.data()), server_token.size());
  std::string error;
  if (stage_ == 1 && !scram_) {
    stage_ = 3;
    // PLAIN's server answers nothing: an accepted SaslAuthenticate is the end.
    if (!server_token.empty()) return {Outcome::kFailed, {}, "unexpected server token after PLAIN"};
    return {Outcome::kDone, {}, ""};
  }
  if (stage_ == 1) {
    stage_ = 2;
    auto final_msg = scram_->final(text, error);
    if (!final_msg) {
      stage_ = 3;
      return {Outcome::kFailed, {}, error};
    }
    return {Outcome::kContinue, std::vector<uint8_t>(final_msg->begin(), final_msg->end()), ""};
  }
  if (stage_ == 2) {
    stage_ = 3;
    if (!scram_->verify(text, error)) return {Outcome::kFailed, {}, error};
    return {Outcome::kDone, {}, ""};
  }
  stage_ = 3;
  return {Outcome::kFailed, {}, "server token out of order"};
}

}  // namespace runnel::security
