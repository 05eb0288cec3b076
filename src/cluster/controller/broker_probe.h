#pragma once
// The controller's fast check for a broker that crashed: a TCP connect to the
// address it registered. "Connection refused" means the host answered that
// nothing listens on that port: the broker process is gone (kill -9, a crash,
// OOM), and there is no point in waiting for its lease to expire. Anything
// else (connected, timed out, unreachable) proves nothing: a paused or
// partitioned broker is left to its lease, as before.
//
// Thread-safety: a pure function over a blocking socket; call it off the
// shard threads.
#include <chrono>
#include <string>

namespace runnel::cluster::controller {

enum class ProbeResult { Listening, Refused, Unknown };

ProbeResult probe_listener(const std::string& host, int port, std::chrono::milliseconds timeout);

}  // namespace runnel::cluster::controller
