#pragma once
// The outcome of one call to etcd: ok, or why not. Modelled on LevelDB's
// Status: small, copyable, and [[nodiscard]] so that no result is dropped.
//
// Thread-safety: a value type; distinct instances may be used from any thread.
#include <string>
#include <utility>

namespace runnel::cluster::etcd {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk,
    // No answer: connection refused or reset, timeout, every endpoint down.
    // Worth retrying later; the request may or may not have been applied.
    kUnavailable,
    // etcd answered with an error of its own (grpc code in etcd_code()).
    kEtcdError,
    // The answer could not be understood.
    kMalformed,
  };

  Status() = default;
  static Status ok() { return Status(); }
  static Status unavailable(std::string message) { return Status(Code::kUnavailable, 0, std::move(message)); }
  static Status etcd_error(int grpc_code, std::string message) {
    return Status(Code::kEtcdError, grpc_code, std::move(message));
  }
  static Status malformed(std::string message) { return Status(Code::kMalformed, 0, std::move(message)); }

  bool is_ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // The gRPC status code etcd gave (5 NOT_FOUND for a missing lease, ...); 0 otherwise.
  int etcd_code() const { return etcd_code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

 private:
  Status(Code code, int etcd_code, std::string message)
      : code_(code), etcd_code_(etcd_code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  int etcd_code_ = 0;
  std::string message_;
};

// gRPC codes etcd uses that callers act on.
inline constexpr int kGrpcNotFound = 5;
inline constexpr int kGrpcOutOfRange = 11;  // e.g. a revision that was compacted

}  // namespace runnel::cluster::etcd
