#include "security/authorizer.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace runnel::security {

bool Authorizer::load(std::string* error) {
  if (!env_->exists(path_)) return true;
  std::vector<uint8_t> bytes;
  if (!env_->read_file(path_, bytes)) {
    *error = "cannot read " + path_.string() + ": " + std::strerror(errno);
    return false;
  }
  try {
    install(AclSet(decode_acls(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()))));
  } catch (const std::invalid_argument& e) {
    *error = path_.string() + " is corrupt: " + e.what();
    return false;
  }
  return true;
}

bool Authorizer::authorize(std::string_view principal, std::string_view host, const AclAction& action) const {
  if (!enabled_) return true;
  return acls()->authorize(config_, principal, host, action);
}

int32_t Authorizer::authorized_operations(std::string_view principal, std::string_view host, ResourceType type,
                                          std::string_view name) const {
  auto supported = supported_operations(type);
  if (!enabled_) return operations_bit_field(supported);
  auto set = acls();
  std::vector<AclOperation> allowed;
  for (auto op : supported)
    if (set->authorize(config_, principal, host, {op, type, name})) allowed.push_back(op);
  return operations_bit_field(allowed);
}

std::shared_ptr<const AclSet> Authorizer::acls() const {
  std::lock_guard lock(mu_);
  return acls_;
}

bool Authorizer::update(const std::function<AclSet(const AclSet&)>& change) {
  std::lock_guard serial(update_mu_);
  auto next = std::make_shared<const AclSet>(change(*acls()));
  auto text = encode_acls(next->all());
  if (!env_->create_dirs_durably(path_.parent_path())) return false;
  if (!env_->write_file_atomic(path_, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size())))
    return false;
  std::lock_guard lock(mu_);
  acls_ = std::move(next);
  return true;
}

void Authorizer::install(AclSet acls) {
  auto next = std::make_shared<const AclSet>(std::move(acls));
  std::lock_guard lock(mu_);
  acls_ = std::move(next);
}

}  // namespace runnel::security
