#include "app/admin_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error_code.h"

namespace runnel::app {

namespace {

void write_all(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) throw AdminError(std::string("send: ") + std::strerror(errno));
    p += k;
    n -= static_cast<size_t>(k);
  }
}

void read_all(int fd, uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t k = ::recv(fd, p, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) throw AdminError(std::string("recv: ") + std::strerror(errno));
    if (k == 0) throw AdminError("connection closed by the broker");
    p += k;
    n -= static_cast<size_t>(k);
  }
}

thread_local Dialer t_dialer;

void set_timeouts(int fd) {
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

DialerScope::DialerScope(Dialer dialer) {
  if (!dialer) return;
  previous_ = std::move(t_dialer);
  t_dialer = std::move(dialer);
  installed_ = true;
}

DialerScope::~DialerScope() {
  if (installed_) t_dialer = std::move(previous_);
}

AdminClient::AdminClient(const std::string& bootstrap, std::string client_id) : client_id_(std::move(client_id)) {
  if (t_dialer) {
    if (int fd = t_dialer(bootstrap); fd >= 0) {
      set_timeouts(fd);
      fd_ = fd;
      return;
    }
  }
  auto colon = bootstrap.rfind(':');
  if (colon == std::string::npos) throw AdminError("expected HOST:PORT, got '" + bootstrap + "'");
  std::string host = bootstrap.substr(0, colon);
  std::string port = bootstrap.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) throw AdminError("cannot resolve " + bootstrap + ": " + gai_strerror(rc));
  std::string last_error = "no address";
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    set_timeouts(fd);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      fd_ = fd;
      break;
    }
    last_error = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (fd_ < 0) throw AdminError("cannot connect to " + bootstrap + ": " + last_error);
}

AdminClient::~AdminClient() {
  if (fd_ >= 0) ::close(fd_);
}

std::string error_text(int16_t code, const std::optional<std::string>& message) {
  std::string s = std::string(error_name(static_cast<ErrorCode>(code))) + " (" + std::to_string(code) + ")";
  if (message && !message->empty()) s += ": " + *message;
  return s;
}

std::map<int32_t, std::string> broker_addresses(const protocol::MetadataResponse& metadata) {
  std::map<int32_t, std::string> out;
  for (const auto& b : metadata.brokers) out[b.node_id] = b.host + ":" + std::to_string(b.port);
  return out;
}

protocol::ListPartitionReassignmentsResponse AdminClient::list_partition_reassignments(
    const std::optional<std::map<std::string, std::vector<int32_t>>>& partitions) {
  protocol::ListPartitionReassignmentsRequest req;
  req.timeout_ms = 60000;
  req.topics.reset();  // null: every move
  if (partitions) {
    req.topics = std::vector<protocol::ListPartitionReassignmentsRequest::Topics>{};
    for (const auto& [name, indexes] : *partitions) req.topics->push_back({name, indexes});
  }
  return call<protocol::ListPartitionReassignmentsResponse>(req, 0);
}

protocol::MetadataResponse AdminClient::metadata(const std::optional<std::vector<std::string>>& topics,
                                                 int16_t version) {
  protocol::MetadataRequest req;
  req.topics.reset();  // null: every topic
  if (topics) {
    req.topics = std::vector<protocol::MetadataRequest::MetadataRequestTopic>{};
    for (const auto& t : *topics) {
      protocol::MetadataRequest::MetadataRequestTopic rt;
      rt.name = t;
      req.topics->push_back(rt);
    }
  }
  req.allow_auto_topic_creation = false;
  return call<protocol::MetadataResponse>(req, version);
}

protocol::IncrementalAlterConfigsResponse AdminClient::incremental_alter_configs(
    int8_t resource_type, const std::string& resource_name, const std::map<std::string, std::string>& set,
    const std::vector<std::string>& remove) {
  constexpr int8_t kSet = 0, kDelete = 1;
  protocol::IncrementalAlterConfigsRequest req;
  auto& r = req.resources.emplace_back();
  r.resource_type = resource_type;
  r.resource_name = resource_name;
  for (const auto& [k, v] : set) {
    auto& c = r.configs.emplace_back();
    c.name = k;
    c.config_operation = kSet;
    c.value = v;
  }
  for (const auto& k : remove) {
    auto& c = r.configs.emplace_back();
    c.name = k;
    c.config_operation = kDelete;
    c.value.reset();
  }
  return call<protocol::IncrementalAlterConfigsResponse>(req, 1);
}

protocol::FindCoordinatorResponse AdminClient::find_coordinator(const std::string& bootstrap, const std::string& key,
                                                                int8_t key_type, const std::string& client_id) {
  AdminClient client(bootstrap, client_id);
  protocol::FindCoordinatorRequest req;
  req.key = key;
  req.key_type = key_type;
  return client.call<protocol::FindCoordinatorResponse>(req, 2);
}

std::unique_ptr<AdminClient> AdminClient::to_group_coordinator(const std::string& bootstrap, const std::string& group,
                                                               const std::string& client_id) {
  auto resp = find_coordinator(bootstrap, group, 0, client_id);
  if (resp.error_code != 0)
    throw AdminError("FindCoordinator for '" + group + "': " + std::to_string(resp.error_code) + " " +
                     resp.error_message.value_or(""));
  return std::make_unique<AdminClient>(resp.host + ":" + std::to_string(resp.port), client_id);
}

void AdminClient::shutdown() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void AdminClient::send(const std::vector<uint8_t>& request) {
  uint32_t n = static_cast<uint32_t>(request.size());
  uint8_t size[4] = {uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)};
  write_all(fd_, size, 4);
  write_all(fd_, request.data(), request.size());
}

std::vector<uint8_t> AdminClient::roundtrip(const std::vector<uint8_t>& request) {
  send(request);
  uint8_t size[4];
  read_all(fd_, size, 4);
  uint32_t m = (uint32_t(size[0]) << 24) | (uint32_t(size[1]) << 16) | (uint32_t(size[2]) << 8) | uint32_t(size[3]);
  if (m > (256u << 20)) throw AdminError("response too large: " + std::to_string(m) + " bytes");
  std::vector<uint8_t> body(m);
  read_all(fd_, body.data(), m);
  return body;
}

}  // namespace runnel::app
