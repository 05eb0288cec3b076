#include "cluster/etcd/status.h"

namespace runnel::cluster::etcd {

std::string Status::to_string() const {
  switch (code_) {
    case Code::kOk:
      return "ok";
    case Code::kUnavailable:
      return "etcd unavailable: " + message_;
    case Code::kEtcdError:
      return "etcd error " + std::to_string(etcd_code_) + ": " + message_;
    case Code::kMalformed:
      return "malformed etcd answer: " + message_;
  }
  return message_;
}

}  // namespace runnel::cluster::etcd
