#include "kafka/connection_quotas.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace runnel {
namespace {

// Every address `host` names (Kafka: InetAddress.getByName), as text.
std::vector<std::string> resolve_quota_host(const std::string& host) {
  std::vector<std::string> out;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &result) != 0) return out;
  for (auto* ai = result; ai; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (ai->ai_family == AF_INET)
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, text, sizeof text);
    else if (ai->ai_family == AF_INET6)
      ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, text, sizeof text);
    else
      continue;
    if (std::find(out.begin(), out.end(), text) == out.end()) out.emplace_back(text);
  }
  ::freeaddrinfo(result);
  return out;
}

// Per-host values keyed by every address each host names; `what` names the
// setting in the warning for a host that does not resolve.
std::unordered_map<std::string, int32_t> by_address(const std::map<std::string, int32_t>& per_host,
                                                    std::string_view what) {
  std::unordered_map<std::string, int32_t> out;
  for (const auto& [host, n] : per_host) {
    auto addresses = resolve_quota_host(host);
    if (addresses.empty()) spdlog::warn("{}: cannot resolve {}", what, host);
    for (const auto& a : addresses) out[a] = n;
  }
  return out;
}

}  // namespace

ConnectionQuotas::ConnectionQuotas(std::vector<std::string> listeners, std::string inter_broker)
    : listeners_(std::move(listeners)),
      inter_broker_(std::move(inter_broker)),
      per_listener_(listeners_.size(), 0),
      listener_rates_(listeners_.size()) {
  for (size_t i = 0; i < listeners_.size(); ++i) stats_.push_back(std::make_unique<Stats>());
}

void ConnectionQuotas::configure(ConnectionQuotaSettings settings) {
  // Resolved outside the lock: a host name may need a DNS lookup.
  auto overrides = by_address(settings.per_ip_overrides, "max.connections.per.ip.overrides");
  auto ip_rate_limits = by_address(settings.ip_connection_rates, "connection_creation_rate quota");
  std::lock_guard lock(mu_);
  if (settings == settings_ && overrides == overrides_ && ip_rate_limits == ip_rate_limits_) return;
  settings_ = std::move(settings);
  overrides_ = std::move(overrides);
  ip_rate_limits_ = std::move(ip_rate_limits);
  // A lower max.connections than the count: the excess goes (Kafka's
  // processors close their least recently used connections).
  notify_excess_locked();
  wake_locked();
}

ConnectionQuotaSettings ConnectionQuotas::settings() const {
  std::lock_guard lock(mu_);
  return settings_;
}

bool ConnectionQuotas::protected_listener(int listener) const {
  return listeners_.size() > 1 && listeners_[listener] == inter_broker_;
}

bool ConnectionQuotas::slot_available_locked(int listener) const {
  if (per_listener_[listener] >= settings_.listener_max_connections(listeners_[listener])) return false;
  if (protected_listener(listener)) return true;
  return total_ < settings_.max_connections;
}

ConnectionQuotas::Admission ConnectionQuotas::admit(int listener, const std::string& address, int32_t* limit,
                                                    int64_t* throttle_ms, int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (!slot_available_locked(listener)) return Admission::kNoSlot;
  // Kafka's recordIpConnectionMaybeThrottle: only an address with a quota
  // is measured.
  auto rate_limit = ip_rate_limits_.find(address);
  const int32_t ip_rate =
      rate_limit == ip_rate_limits_.end() ? settings_.default_ip_connection_rate : rate_limit->second;
  if (ip_rate != kUnlimitedConnections) {
    if (now_ms < 0)
      now_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
              .count();
    if (ip_rates_.size() >= kMaxTrackedAddresses && !ip_rates_.contains(address))
      for (auto it = ip_rates_.begin(); it != ip_rates_.end();)
        it = it->second.rate(now_ms) <= 0 ? ip_rates_.erase(it) : std::next(it);
    auto& rate = ip_rates_[address];
    if (const int64_t delay = rate.record(now_ms, ip_rate); delay > 0) {
      rate.unrecord(now_ms);
      if (throttle_ms) *throttle_ms = delay;
      stats_[listener]->ip_throttled.fetch_add(1, std::memory_order_relaxed);
      return Admission::kIpThrottled;
    }
  }
  auto it = overrides_.find(address);
  int32_t max = it == overrides_.end() ? settings_.max_connections_per_ip : it->second;
  int32_t& count = per_address_[address];
  if (count >= max) {
    if (count == 0) per_address_.erase(address);
    if (limit) *limit = max;
    stats_[listener]->rejected_per_ip.fetch_add(1, std::memory_order_relaxed);
    return Admission::kPerIpLimit;
  }
  ++count;
  ++per_listener_[listener];
  ++total_;
  notify_excess_locked();
  return Admission::kAdmitted;
}

int64_t ConnectionQuotas::record_connection(int listener, int64_t now_ms) {
  std::lock_guard lock(mu_);
  // Kafka's recordConnectionAndGetThrottleTimeMs: a protected inter-broker
  // listener counts only against its own rate.
  int64_t delay = 0;
  if (!protected_listener(listener)) delay = broker_rate_.record(now_ms, settings_.max_connection_creation_rate);
  delay = std::max(delay, listener_rates_[listener].record(
                              now_ms, settings_.listener_connection_creation_rate(listeners_[listener])));
  if (delay > 0) stats_[listener]->rate_throttled.fetch_add(1, std::memory_order_relaxed);
  return delay;
}

void ConnectionQuotas::release(int listener, const std::string& address) {
  std::lock_guard lock(mu_);
  auto it = per_address_.find(address);
  if (it == per_address_.end()) {
    spdlog::error("connection quotas: release of {} which has no connections", address);
    return;
  }
  if (--it->second <= 0) per_address_.erase(it);
  if (per_listener_[listener] > 0) --per_listener_[listener];
  if (total_ > 0) --total_;
  wake_locked();
}

void ConnectionQuotas::wake_locked() {
  if (waiting_.load(std::memory_order_acquire) == 0) return;
  for (const auto& [id, wake] : wakers_) wake();
}

bool ConnectionQuotas::over_max_locked() const { return total_ - excess_closing_ > settings_.max_connections; }

void ConnectionQuotas::notify_excess_locked() {
  if (!over_max_locked()) return;
  for (const auto& [id, handler] : excess_handlers_) handler();
}

bool ConnectionQuotas::reserve_excess_close(int listener) {
  std::lock_guard lock(mu_);
  if (protected_listener(listener) || !over_max_locked()) return false;
  ++excess_closing_;
  return true;
}

void ConnectionQuotas::excess_close_released() {
  std::lock_guard lock(mu_);
  if (excess_closing_ > 0) --excess_closing_;
}

int ConnectionQuotas::add_callback(Callbacks& list, std::function<void()> callback) {
  std::lock_guard lock(mu_);
  list.emplace_back(next_callback_id_, std::move(callback));
  return next_callback_id_++;
}

void ConnectionQuotas::remove_callback(Callbacks& list, int id) {
  std::lock_guard lock(mu_);
  std::erase_if(list, [id](const auto& c) { return c.first == id; });
}

int ConnectionQuotas::listener_index(const std::string& name) const {
  auto it = std::find(listeners_.begin(), listeners_.end(), name);
  return it == listeners_.end() ? -1 : static_cast<int>(it - listeners_.begin());
}

int32_t ConnectionQuotas::count_of(const std::string& address) const {
  std::lock_guard lock(mu_);
  auto it = per_address_.find(address);
  return it == per_address_.end() ? 0 : it->second;
}

int32_t ConnectionQuotas::listener_count(int listener) const {
  std::lock_guard lock(mu_);
  return per_listener_[listener];
}

int32_t ConnectionQuotas::total() const {
  std::lock_guard lock(mu_);
  return total_;
}

}  // namespace runnel
