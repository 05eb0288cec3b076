#include "server/tls_reloader.h"

#include <spdlog/spdlog.h>

namespace runnel {

TlsReloader::TlsReloader(std::vector<Watched> watched, std::chrono::milliseconds interval)
    : watched_(std::move(watched)), interval_(interval) {}

void TlsReloader::start() {
  if (watched_.empty() || interval_.count() <= 0) return;
  thread_.start("tls-reloader", interval_, [this] { check_once(); });
}

void TlsReloader::stop() { thread_.stop(); }

void TlsReloader::check_once() {
  for (const auto& w : watched_) {
    std::string error;
    const auto& config = w.source->config();
    std::string files = config.keystore_location.empty() ? "ssl.keystore.key" : config.keystore_location;
    if (!config.truststore_location.empty()) files += ", " + config.truststore_location;
    switch (w.source->reload_if_changed(&error)) {
      case security::TlsContextSource::Reload::kUnchanged:
        break;
      case security::TlsContextSource::Reload::kReloaded:
        spdlog::info("TLS: reloaded the {} certificates ({}): new connections use them", w.what, files);
        break;
      case security::TlsContextSource::Reload::kFailed:
        spdlog::error("TLS: cannot reload the {} certificates ({}): {}; new connections keep the ones loaded before",
                      w.what, files, error);
        break;
    }
  }
}

}  // namespace runnel
