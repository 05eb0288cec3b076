#include "config/broker_config.h"

#include <sys/resource.h>

#include <algorithm>

namespace runnel {
namespace {
int64_t nofile_limit() {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1024;
  return static_cast<int64_t>(rl.rlim_cur);
}
}  // namespace

int64_t BrokerConfig::effective_max_open_files() const {
  return max_open_files > 0 ? max_open_files : std::max<int64_t>(64, nofile_limit() / 2);
}

int64_t BrokerConfig::effective_max_partitions() const { return max_partitions > 0 ? max_partitions : nofile_limit(); }

}  // namespace runnel
