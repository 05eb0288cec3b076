#include "security/credential_store.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "base/crc32c.h"
#include "base/endian.h"

namespace runnel::security {
namespace {

constexpr uint8_t kVersion = 1;
constexpr char kMagic[4] = {'R', 'S', 'C', 'R'};

class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> b) : b_(b) {}
  bool u8(uint8_t& v) {
    if (left() < 1) return false;
    v = b_[pos_++];
    return true;
  }
  bool u16(uint16_t& v) {
    if (left() < 2) return false;
    v = static_cast<uint16_t>(b_[pos_] << 8 | b_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u32(uint32_t& v) {
    if (left() < 4) return false;
    v = load_be32(b_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool bytes(size_t n, std::vector<uint8_t>& out) {
    if (left() < n) return false;
    out.assign(b_.begin() + static_cast<ptrdiff_t>(pos_), b_.begin() + static_cast<ptrdiff_t>(pos_ + n));
    pos_ += n;
    return true;
  }
  size_t left() const { return b_.size() - pos_; }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

void put_u16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  uint8_t b[4];
  store_be32(b, v);
  out.insert(out.end(), b, b + 4);
}

void put_short_bytes(std::vector<uint8_t>& out, const std::vector<uint8_t>& bytes) {
  out.push_back(static_cast<uint8_t>(bytes.size()));
  out.insert(out.end(), bytes.begin(), bytes.end());
}

}  // namespace

std::vector<uint8_t> encode_credentials(const CredentialMap& users) {
  std::vector<uint8_t> out(kMagic, kMagic + 4);
  out.push_back(kVersion);
  put_u32(out, static_cast<uint32_t>(users.size()));
  for (const auto& [name, credentials] : users) {
    put_u16(out, static_cast<uint16_t>(name.size()));
    out.insert(out.end(), name.begin(), name.end());
    out.push_back(static_cast<uint8_t>(credentials.size()));
    for (const auto& [mechanism, c] : credentials) {
      out.push_back(static_cast<uint8_t>(mechanism));
      put_u32(out, static_cast<uint32_t>(c.iterations));
      put_short_bytes(out, c.salt);
      put_short_bytes(out, c.stored_key);
      put_short_bytes(out, c.server_key);
    }
  }
  put_u32(out, crc32c(out));
  return out;
}

std::optional<CredentialMap> decode_credentials(std::span<const uint8_t> bytes) {
  if (bytes.size() < 4 + 1 + 4 + 4) return std::nullopt;
  if (load_be32(bytes.data() + bytes.size() - 4) != crc32c(bytes.first(bytes.size() - 4))) return std::nullopt;
  Cursor in(bytes.first(bytes.size() - 4));
  std::vector<uint8_t> magic;
  uint8_t version = 0;
  uint32_t count = 0;
  if (!in.bytes(4, magic) || !std::equal(magic.begin(), magic.end(), kMagic) || !in.u8(version) ||
      version != kVersion || !in.u32(count))
    return std::nullopt;
  CredentialMap users;
  for (uint32_t i = 0; i < count; ++i) {
    uint16_t name_size = 0;
    std::vector<uint8_t> name;
    uint8_t n = 0;
    if (!in.u16(name_size) || name_size == 0 || !in.bytes(name_size, name) || !in.u8(n)) return std::nullopt;
    std::string user(name.begin(), name.end());
    if (users.count(user)) return std::nullopt;
    auto& credentials = users[user];
    for (uint8_t k = 0; k < n; ++k) {
      uint8_t type = 0, size = 0;
      uint32_t iterations = 0;
      ScramCredential c;
      if (!in.u8(type) || !in.u32(iterations)) return std::nullopt;
      auto mechanism = mechanism_from_type(static_cast<int8_t>(type));
      if (!mechanism || iterations < 1 || iterations > static_cast<uint32_t>(kMaxIterations)) return std::nullopt;
      c.iterations = static_cast<int32_t>(iterations);
      if (!in.u8(size) || !in.bytes(size, c.salt)) return std::nullopt;
      if (!in.u8(size) || !in.bytes(size, c.stored_key)) return std::nullopt;
      if (!in.u8(size) || !in.bytes(size, c.server_key)) return std::nullopt;
      if (credentials.count(*mechanism)) return std::nullopt;
      credentials[*mechanism] = std::move(c);
    }
  }
  if (in.left() != 0) return std::nullopt;
  return users;
}

std::string encode_credential_document(const CredentialMap& users) {
  nlohmann::json doc = {{"version", 1}, {"users", nlohmann::json::object()}};
  auto& out = doc["users"];
  for (const auto& [name, credentials] : users) {
    auto& user = out[name];
    user = nlohmann::json::object();
    for (const auto& [mechanism, c] : credentials)
      user[std::string(mechanism_name(mechanism))] = {{"iterations", c.iterations},
                                                      {"salt", base64_encode(c.salt)},
                                                      {"stored_key", base64_encode(c.stored_key)},
                                                      {"server_key", base64_encode(c.server_key)}};
  }
  // A name that is not UTF-8 (storable_user_name keeps them out) is written
  // with U+FFFD rather than throwing.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool storable_user_name(const std::string& name) {
  if (name.empty() || name.size() > UINT16_MAX) return false;
  try {
    (void)nlohmann::json(name).dump();
  } catch (const nlohmann::json::type_error&) {
    return false;  // not UTF-8
  }
  return true;
}

CredentialMap decode_credential_document(std::string_view text) {
  auto fail = [](const std::string& why) { throw std::invalid_argument("SCRAM credentials: " + why); };
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) fail("not a JSON object");
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer() || version->get<int64_t>() != 1) fail("no \"version\": 1");
  auto users = doc.find("users");
  if (users == doc.end() || !users->is_object()) fail("no \"users\" object");
  auto bytes = [&](const nlohmann::json& c, const char* field) {
    auto it = c.find(field);
    if (it == c.end() || !it->is_string()) fail(std::string("no string field ") + field);
    auto decoded = base64_decode(it->get<std::string>());
    if (!decoded || decoded->size() > 255) fail(std::string("a bad ") + field);
    return std::move(*decoded);
  };
  CredentialMap out;
  for (const auto& [name, credentials] : users->items()) {
    if (!storable_user_name(name)) fail("an empty or too long user name");
    if (!credentials.is_object()) fail("user " + name + " is not an object");
    auto& user = out[name];
    for (const auto& [mechanism_text, c] : credentials.items()) {
      auto mechanism = parse_mechanism(mechanism_text);
      if (!mechanism) fail("an unknown mechanism " + mechanism_text);
      if (!c.is_object()) fail("a credential is not an object");
      auto iterations = c.find("iterations");
      // The file's range (an older credential may have fewer than Kafka's
      // minimum today): whatever the file holds goes to etcd unchanged.
      if (iterations == c.end() || !iterations->is_number_integer() || iterations->get<int64_t>() < 1 ||
          iterations->get<int64_t>() > kMaxIterations)
        fail("iterations missing or out of range");
      ScramCredential credential;
      credential.iterations = static_cast<int32_t>(iterations->get<int64_t>());
      credential.salt = bytes(c, "salt");
      credential.stored_key = bytes(c, "stored_key");
      credential.server_key = bytes(c, "server_key");
      user[*mechanism] = std::move(credential);
    }
  }
  return out;
}

bool CredentialStore::load(std::string* error) {
  std::lock_guard lock(mu_);
  if (!env_->exists(path_)) {
    users_.clear();
    return true;
  }
  std::vector<uint8_t> bytes;
  if (!env_->read_file(path_, bytes)) {
    *error = "cannot read " + path_.string() + ": " + std::strerror(errno);
    return false;
  }
  auto decoded = decode_credentials(bytes);
  if (!decoded) {
    *error = path_.string() + " is corrupt (bad format or checksum)";
    return false;
  }
  users_ = std::move(*decoded);
  return true;
}

std::optional<ScramCredential> CredentialStore::find(const std::string& user, ScramMechanism m) const {
  std::lock_guard lock(mu_);
  auto it = users_.find(user);
  if (it == users_.end()) return std::nullopt;
  auto c = it->second.find(m);
  if (c == it->second.end()) return std::nullopt;
  return c->second;
}

CredentialMap CredentialStore::snapshot() const {
  std::lock_guard lock(mu_);
  return users_;
}

bool CredentialStore::write(const CredentialMap& users) {
  if (!env_->create_dirs_durably(path_.parent_path())) return false;
  auto bytes = encode_credentials(users);
  return env_->write_file_atomic(path_, bytes);
}

bool CredentialStore::set(const std::string& user, ScramMechanism m, const ScramCredential& credential) {
  std::lock_guard lock(mu_);
  if (user.empty() || user.size() > UINT16_MAX || credential.salt.size() > 255 || credential.stored_key.size() > 255 ||
      credential.server_key.size() > 255) {
    errno = EINVAL;
    return false;
  }
  CredentialMap next = users_;
  next[user][m] = credential;
  if (!write(next)) return false;
  users_ = std::move(next);
  return true;
}

bool CredentialStore::update(const std::function<CredentialMap(const CredentialMap&)>& change) {
  std::lock_guard lock(mu_);
  CredentialMap next = change(users_);
  if (!write(next)) return false;
  users_ = std::move(next);
  return true;
}

void CredentialStore::install(CredentialMap users) {
  std::lock_guard lock(mu_);
  users_ = std::move(users);
}

bool CredentialStore::remove(const std::string& user, std::optional<ScramMechanism> m, bool* found) {
  std::lock_guard lock(mu_);
  CredentialMap next = users_;
  auto it = next.find(user);
  *found = it != next.end() && (!m || it->second.count(*m));
  if (!*found) return true;
  if (m) it->second.erase(*m);
  if (!m || it->second.empty()) next.erase(it);
  if (!write(next)) return false;
  users_ = std::move(next);
  return true;
}

}  // namespace runnel::security
