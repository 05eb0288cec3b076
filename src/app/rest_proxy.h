#pragma once
// The part of Confluent REST Proxy's v2 API that clients and tutorials use,
// served on the admin listener: topics (GET /topics, GET /topics/{t},
// GET /topics/{t}/partitions) and produce (POST /topics/{t} and
// POST /topics/{t}/partitions/{p}) with the json and binary embedded
// formats. It is a Kafka client of the broker's own listener (`bootstrap`),
// as the REST Proxy is of its cluster, so it behaves exactly as any client
// would. Errors in the REST Proxy's shape: {"error_code": 40401, "message":
// ...}. Consumer instances are not served yet.
//
// Thread-safety: the handlers run on the HTTP server's threads, each with
// its own connections.
#include <string>

namespace httplib {
class Server;
}

namespace runnel::app {

void install_rest_proxy(httplib::Server& server, const std::string& bootstrap);

}  // namespace runnel::app
