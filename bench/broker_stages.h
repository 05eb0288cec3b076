// The broker's own account of a workload: runnel's /metrics (its admin listener, given with
// --broker-metrics HOST:PORT) read before and after, and the p50/p99 of its stage histograms
// over that interval added to the result (produce append and wait, fdatasync, flush queue,
// and queue/handle/send of Produce and Fetch). Bucket bounds, so each figure is an upper
// bound: "p99 <= 0.5 ms". A client-side tail with a broker-side p99 far below it is spent
// outside the broker (client, network, scheduling).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common.h"

namespace runnel::bench {

class BrokerStages {
 public:
  explicit BrokerStages(const Options& o);  // reads the "before" scrape (if --broker-metrics)
  void add_to(Result& r);                   // reads the "after" scrape and adds the fields

 private:
  using Buckets = std::map<double, double>;  // upper bound -> cumulative count
  std::map<std::string, Buckets> scrape() const;

  std::string address_;
  std::map<std::string, Buckets> before_;
};

}  // namespace runnel::bench
