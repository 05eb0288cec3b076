// The families of another broker's /metrics the console's cluster view keeps.
#include "app/cluster_metrics.h"

#include <gtest/gtest.h>

namespace runnel::app {
namespace {

TEST(ClusterMetrics, KeepsOnlyTheChartedFamiliesSamples) {
  const std::string exposition =
      "# HELP runnel_topic_records_in_total Records appended.\n"
      "# TYPE runnel_topic_records_in_total counter\n"
      "runnel_topic_records_in_total{topic=\"a\"} 5\n"
      "runnel_topic_records_in_total_other 1\n"
      "runnel_request_handle_seconds_bucket{api=\"Produce\",le=\"0.001\"} 3\n"
      "runnel_request_handle_seconds_sum{api=\"Produce\"} 0.2\n"
      "runnel_connections 4\n"
      "runnel_connections_accepted_total 9\n"
      "runnel_partition_size_bytes{topic=\"a\",partition=\"0\"} 100\n"
      "runnel_partition_high_watermark{topic=\"a\",partition=\"0\"} 7\n"
      "runnel_partitions_led 2";
  EXPECT_EQ(console_metric_lines(exposition),
            "runnel_topic_records_in_total{topic=\"a\"} 5\n"
            "runnel_request_handle_seconds_bucket{api=\"Produce\",le=\"0.001\"} 3\n"
            "runnel_connections 4\n"
            "runnel_partition_size_bytes{topic=\"a\",partition=\"0\"} 100\n"
            "runnel_partitions_led 2\n");
  EXPECT_EQ(console_metric_lines(""), "");
}

}  // namespace
}  // namespace runnel::app
