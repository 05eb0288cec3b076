#pragma once
// The part of Confluent REST Proxy's v2 API that clients and tutorials use,
// served on the admin listener: topics (GET /topics, GET /topics/{t},
// GET /topics/{t}/partitions) and produce (POST /topics/{t} and
// POST /topics/{t}/partitions/{p}) with the json and binary embedded
// formats, and consumer instances (each a group member of its own). It is a
// Kafka client of the broker, as the REST Proxy is of its cluster, so it
// behaves exactly as any client would: through `access` (app/kafka_access.h)
// it reaches the broker in process as the HTTP Basic user, so that user's
// ACLs apply (a denied topic: 403 with 40301, as Confluent's proxy maps
// TOPIC_AUTHORIZATION_FAILED). A consumer instance serves only the user who
// created it. Errors in the REST Proxy's shape: {"error_code": 40401,
// "message": ...}.
//
// Thread-safety: the handlers run on the HTTP server's threads, each with
// its own connections.
#include <memory>

namespace httplib {
class Server;
}

namespace runnel::app {

struct KafkaAccess;

void install_rest_proxy(httplib::Server& server, std::shared_ptr<const KafkaAccess> access);

}  // namespace runnel::app
