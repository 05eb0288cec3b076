#pragma once
// Certificate reload: every runnel.ssl.reload.interval.ms, checks the files of
// the TLS contexts it watches (the listeners' server context, the
// inter-broker client context) and rebuilds those whose keystore or
// truststore changed (security::TlsContextSource::reload_if_changed): new
// connections then use the new certificates, open ones keep theirs. A file
// that does not load is logged and the previous context stays in use.
//
// Thread-safety: runs its own thread (a stat of a few files every few
// seconds, and rarely a PEM parse, kept off the shards); start() and stop()
// from one thread.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/periodic_thread.h"
#include "security/tls_context.h"

namespace runnel {

class TlsReloader {
 public:
  struct Watched {
    std::shared_ptr<security::TlsContextSource> source;
    std::string what;  // for the log: "listener", "inter-broker client"
  };
  TlsReloader(std::vector<Watched> watched, std::chrono::milliseconds interval);
  TlsReloader(const TlsReloader&) = delete;
  TlsReloader& operator=(const TlsReloader&) = delete;

  void start();
  void stop();
  // One round of checks, now (what the thread does each interval).
  void check_once();

 private:
  std::vector<Watched> watched_;
  std::chrono::milliseconds interval_;
  PeriodicThread thread_;
};

}  // namespace runnel
