#pragma once
// The web console on the admin listener: the page itself (/, /console/*,
// built into the binary from src/console at build time) and the JSON API it
// calls under /v1/console/. The API is a thin HTTP face on the command-line
// tools (`runnel topic|group|cluster|consume|produce`): each route runs the
// same function as the command, with JSON output, so the console and the CLI
// cannot disagree. Like the tools it is a Kafka client of the broker, so it
// works on any broker of a cluster; through `access` (app/kafka_access.h) it
// reaches its broker in process as the HTTP Basic user, whose ACLs apply.
//
//   GET    /v1/console/cluster                       cluster status
//   GET    /v1/console/cluster/metrics               every broker's /metrics (app/cluster_metrics.h)
//   GET    /v1/console/topics                        topic list
//   POST   /v1/console/topics                        {name, partitions, replication_factor, configs}
//   GET    /v1/console/topics/{t}                    partitions (leader, ISR, offsets) and configs
//   DELETE /v1/console/topics/{t}
//   POST   /v1/console/topics/{t}/partitions         {count}: add partitions
//   POST   /v1/console/topics/{t}/configs            {set: {k: v}, remove: [k]}
//   GET    /v1/console/topics/{t}/messages           ?partition=&from=beginning|end|OFFSET|@TS&limit=
//   POST   /v1/console/topics/{t}/messages           {key, value, partition, headers: {k: v}}
//   GET    /v1/console/groups                        group list
//   GET    /v1/console/groups/{g}                    members, assignments, lag per partition
//   DELETE /v1/console/groups/{g}
//   POST   /v1/console/groups/{g}/seek               {to, topics}: reset an empty group's offsets
//
// Errors: an HTTP 4xx/5xx status with {"error": "..."}.
//
// Thread-safety: the handlers run on the HTTP server's threads, each with its
// own connections.
#include <memory>

namespace httplib {
class Server;
}

namespace runnel::app {

struct KafkaAccess;

void install_console(httplib::Server& server, std::shared_ptr<const KafkaAccess> access);

}  // namespace runnel::app
