#include "app/rest_proxy.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "app/admin_client.h"
#include "app/group_consumer.h"
#include "app/kafka_access.h"
#include "app/record_sender.h"
#include "app/rest_records.h"
#include "app/topic_layout.h"
#include "base/error_code.h"
#include "cluster/etcd/etcd_format.h"
#include "protocol/messages.h"

namespace runnel::app {
namespace {

using json = nlohmann::json;

constexpr const char* kV2Json = "application/vnd.kafka.v2+json";
constexpr const char* kJsonV2 = "application/vnd.kafka.json.v2+json";
constexpr const char* kBinaryV2 = "application/vnd.kafka.binary.v2+json";
// The REST Proxy's own error codes (HTTP status * 100 + a detail).
constexpr int kNotAuthorized = 40301, kTopicNotFound = 40401, kPartitionNotFound = 40402, kInstanceNotFound = 40403,
              kNotAcceptable = 40601, kInstanceExists = 40902, kUnprocessable = 42201, kUnsupportedFormat = 41501,
              kKafkaError = 50002;
// consumer.instance.timeout.ms: an instance nobody used for this long is closed.
constexpr auto kInstanceTimeout = std::chrono::minutes(5);

void reply_error(httplib::Response& res, int http_status, int code, const std::string& message) {
  res.status = http_status;
  res.set_content(json{{"error_code", code}, {"message", message}}.dump(), kV2Json);
}

using Format = EmbeddedFormat;

// TOPIC_AUTHORIZATION_FAILED, as Confluent's proxy reports it (403, 40301,
// the Java client's TopicAuthorizationException message).
void reply_not_authorized(httplib::Response& res, const std::string& topic) {
  reply_error(res, 403, kNotAuthorized, "Not authorized to access topics: [" + topic + "]");
}

void produce(const std::string& bootstrap, const httplib::Request& req, httplib::Response& res,
             std::optional<int32_t> partition) {
  const std::string topic = req.matches[1];
  Format format = embedded_format(req.get_header_value("Content-Type"));
  if (format == Format::Unsupported) {
    reply_error(res, 415, kUnsupportedFormat,
                "Only the binary and json embedded formats are served (no schema registry)");
    return;
  }
  std::vector<OutgoingRecord> records;
  try {
    for (auto& r : parse_produce_body(req.body, format))
      records.push_back({partition ? partition : r.partition, std::move(r.key), std::move(r.value), {}});
  } catch (const std::exception& e) {
    reply_error(res, 422, kUnprocessable, e.what());
    return;
  }
  try {
    TopicLayout layout(bootstrap, topic);
    if (partition && (*partition < 0 || *partition >= layout.partitions())) {
      reply_error(res, 404, kPartitionNotFound, "Partition not found.");
      return;
    }
    auto sent = send_records(layout, topic, records, -1);
    constexpr auto kDenied = static_cast<int16_t>(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
    if (!sent.empty() && std::all_of(sent.begin(), sent.end(), [](const auto& s) { return s.error == kDenied; })) {
      reply_not_authorized(res, topic);
      return;
    }
    json offsets = json::array();
    for (const auto& s : sent) {
      if (s.error == 0) {
        offsets.push_back(
            {{"partition", s.partition}, {"offset", s.offset}, {"error_code", nullptr}, {"error", nullptr}});
      } else {
        std::string what =
            std::string(error_name(static_cast<ErrorCode>(s.error))) + (s.message.empty() ? "" : ": " + s.message);
        int code = s.error == static_cast<int16_t>(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) ? kPartitionNotFound
                   : s.error == kDenied                                                   ? kNotAuthorized
                                                                                          : kKafkaError;
        offsets.push_back({{"partition", s.partition}, {"offset", nullptr}, {"error_code", code}, {"error", what}});
      }
    }
    res.set_content(json{{"offsets", offsets}, {"key_schema_id", nullptr}, {"value_schema_id", nullptr}}.dump(),
                    kV2Json);
  } catch (const AdminError& e) {
    std::string what = e.what();
    if (what.find("UNKNOWN_TOPIC_OR_PARTITION") != std::string::npos)
      reply_error(res, 404, kTopicNotFound, "Topic not found.");
    else if (what.find("TOPIC_AUTHORIZATION_FAILED") != std::string::npos)
      reply_not_authorized(res, topic);
    else
      reply_error(res, 500, kKafkaError, what);
  }
}

protocol::MetadataResponse metadata(const std::string& bootstrap, std::optional<std::string> topic) {
  AdminClient client(bootstrap, "runnel-rest-proxy");
  return client.metadata(topic ? std::optional(std::vector<std::string>{*topic}) : std::nullopt);
}

json partitions_json(const protocol::MetadataResponse::MetadataResponseTopic& t) {
  json out = json::array();
  for (const auto& p : t.partitions) {
    json replicas = json::array();
    for (int32_t r : p.replica_nodes)
      replicas.push_back({{"broker", r},
                          {"leader", r == p.leader_id},
                          {"in_sync", std::find(p.isr_nodes.begin(), p.isr_nodes.end(), r) != p.isr_nodes.end()}});
    out.push_back({{"partition", p.partition_index}, {"leader", p.leader_id}, {"replicas", replicas}});
  }
  return out;
}

// The topic's metadata, or a 404 reply (nullopt).
std::optional<protocol::MetadataResponse::MetadataResponseTopic> find_topic(const std::string& bootstrap,
                                                                            const std::string& topic,
                                                                            httplib::Response& res) {
  auto md = metadata(bootstrap, topic);
  if (md.topics.size() == 1 && md.topics[0].error_code == static_cast<int16_t>(ErrorCode::TOPIC_AUTHORIZATION_FAILED)) {
    reply_not_authorized(res, topic);
    return std::nullopt;
  }
  if (md.topics.size() != 1 || md.topics[0].error_code != 0) {
    reply_error(res, 404, kTopicNotFound, "Topic not found.");
    return std::nullopt;
  }
  return md.topics[0];
}

// ------------------------------------------------------------ consumer instances

struct Instance {
  std::string group, name;
  std::string principal;  // who created it: only they may use it
  Format format = Format::Binary;
  std::unique_ptr<GroupConsumer> consumer;
  std::chrono::steady_clock::time_point last_used = std::chrono::steady_clock::now();
  std::mutex busy;  // one request of an instance at a time
};

struct Instances {
  std::shared_ptr<const KafkaAccess> access;
  std::mutex mu;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Instance>> by_name;
  uint64_t next_id = 1;

  // The instance, or a 404 reply (nullptr). Closes idle instances first.
  std::shared_ptr<Instance> find(const httplib::Request& req, httplib::Response& res) {
    std::vector<std::shared_ptr<Instance>> expired;
    std::shared_ptr<Instance> found;
    {
      std::lock_guard lock(mu);
      auto now = std::chrono::steady_clock::now();
      for (auto it = by_name.begin(); it != by_name.end();) {
        if (now - it->second->last_used > kInstanceTimeout) {
          expired.push_back(it->second);
          it = by_name.erase(it);
        } else {
          ++it;
        }
      }
      auto it = by_name.find({req.matches[1], req.matches[2]});
      // Another user's instance is not theirs to see.
      if (it != by_name.end() && it->second->principal == request_principal()) {
        found = it->second;
        found->last_used = now;
      }
    }
    expired.clear();  // their consumers leave the group here, outside the lock
    if (!found) reply_error(res, 404, kInstanceNotFound, "Consumer instance not found.");
    return found;
  }
};

std::vector<GroupConsumer::TopicPartition> partitions_of(const json& body, const char* field) {
  std::vector<GroupConsumer::TopicPartition> out;
  for (const auto& p : body.at(field))
    out.push_back({p.at("topic").get<std::string>(), p.at("partition").get<int32_t>()});
  return out;
}

// Runs a route as the request's user: every Kafka connection it makes
// reaches the broker as that principal (app/kafka_access.h).
template <class F>
auto guarded(std::shared_ptr<const KafkaAccess> access, F f) {
  return [access, f](const httplib::Request& req, httplib::Response& res) {
    try {
      auto [user, password] = request_login(req);
      DialerScope as_user(access->dialer(request_principal(), request_peer(req), user, password));
      f(req, res);
    } catch (const json::exception& e) {  // a body that is not what the API takes
      reply_error(res, 422, kUnprocessable, e.what());
    } catch (const AdminError& e) {  // e.g. GROUP_AUTHORIZATION_FAILED for a consumer instance
      std::string what = e.what();
      if (what.find("AUTHORIZATION_FAILED") != std::string::npos)
        reply_error(res, 403, kNotAuthorized, what);
      else
        reply_error(res, 500, kKafkaError, what);
    } catch (const std::exception& e) {
      reply_error(res, 500, 50001, e.what());
    }
  };
}

}  // namespace

// The consumer instances' routes: create, subscribe, records, offsets, positions, delete.
void install_consumers(httplib::Server& server, std::shared_ptr<Instances> state) {
  const auto& access = state->access;
  const std::string instance_path = R"(/consumers/([^/]+)/instances/([^/]+))";
  server.Post(R"(/consumers/([^/]+))", guarded(access, [state](const httplib::Request& req, httplib::Response& res) {
                json body = req.body.empty() ? json::object() : json::parse(req.body);
                auto instance = std::make_shared<Instance>();
                instance->group = req.matches[1];
                std::string format = body.value("format", "binary");
                if (format != "binary" && format != "json") {
                  reply_error(res, 422, kUnprocessable, "format must be binary or json (no schema registry)");
                  return;
                }
                instance->format = format == "json" ? Format::Json : Format::Binary;
                instance->principal = request_principal();
                GroupConsumer::Options o;
                o.bootstrap = state->access->bootstrap;
                // Its connections, made later by its own thread too, act for its
                // creator. To reach the other brokers on a SASL listener its
                // thread logs in as them (joins, heartbeats), so the instance's
                // dialer holds their password in memory while it lives (never
                // written anywhere; gone with the instance).
                auto [user, password] = request_login(req);
                o.dialer = state->access->dialer(instance->principal, request_peer(req), user, password);
                o.group = instance->group;
                o.from_earliest = body.value("auto.offset.reset", "latest") == "earliest";
                o.auto_commit = body.value("auto.commit.enable", "true") != "false";
                {
                  std::lock_guard lock(state->mu);
                  instance->name = body.value("name", "rest-consumer-" + std::to_string(state->next_id++));
                  if (state->by_name.count({instance->group, instance->name})) {
                    reply_error(res, 409, kInstanceExists, "Consumer instance with the specified name already exists.");
                    return;
                  }
                  o.client_id = "rest-" + instance->name;
                  instance->consumer = std::make_unique<GroupConsumer>(o);
                  state->by_name[{instance->group, instance->name}] = instance;
                }
                std::string host = req.get_header_value("Host");
                res.set_content(json{{"instance_id", instance->name},
                                     {"base_uri", std::string(req.ssl ? "https://" : "http://") + host + "/consumers/" +
                                                      instance->group + "/instances/" + instance->name}}
                                    .dump(),
                                kV2Json);
              }));
  server.Delete(instance_path, guarded(access, [state](const httplib::Request& req, httplib::Response& res) {
                  std::shared_ptr<Instance> gone;
                  {
                    std::lock_guard lock(state->mu);
                    auto it = state->by_name.find({req.matches[1], req.matches[2]});
                    if (it != state->by_name.end() && it->second->principal == request_principal()) {
                      gone = it->second;
                      state->by_name.erase(it);
                    }
                  }
                  if (!gone) {
                    reply_error(res, 404, kInstanceNotFound, "Consumer instance not found.");
                    return;
                  }
                  std::lock_guard busy(gone->busy);
                  gone->consumer.reset();  // leaves the group
                  res.status = 204;
                }));
  server.Post(instance_path + "/subscription",
              guarded(access, [state](const httplib::Request& req, httplib::Response& res) {
                auto instance = state->find(req, res);
                if (!instance) return;
                json body = json::parse(req.body);
                instance->consumer->subscribe(body.at("topics").get<std::vector<std::string>>());
                res.status = 204;
              }));
  server.Get(instance_path + "/subscription",
             guarded(access, [state](const httplib::Request& req, httplib::Response& res) {
               auto instance = state->find(req, res);
               if (instance) res.set_content(json{{"topics", instance->consumer->subscription()}}.dump(), kV2Json);
             }));
  server.Delete(instance_path + "/subscription",
                guarded(access, [state](const httplib::Request& req, httplib::Response& res) {
                  auto instance = state->find(req, res);
                  if (!instance) return;
                  instance->consumer->subscribe({});
                  res.status = 204;
                }));
  server.Get(instance_path + "/assignments",
             guarded(access, [state](const httplib::Request& req, httplib::Response& res) {
               auto instance = state->find(req, res);
               if (!instance) return;
               json partitions = json::array();
               for (const auto& [t, p] : instance->consumer->assignment())
                 partitions.push_back({{"topic", t}, {"partition", p}});
               res.set_content(json{{"partitions", partitions}}.dump(), kV2Json);
             }));
  server.Get(instance_path + "/records", guarded(access, [state](const httplib::Request& req, httplib::Response& res) {
               auto instance = state->find(req, res);
               if (!instance) return;
               std::string accept = req.get_header_value("Accept");
               Format wanted = accept.find("vnd.kafka.json.v2") != std::string::npos     ? Format::Json
                               : accept.find("vnd.kafka.binary.v2") != std::string::npos ? Format::Binary
                                                                                         : instance->format;
               if (wanted != instance->format) {
                 reply_error(res, 406, kNotAcceptable,
                             "The requested embedded data format does not match the deserializer for this consumer "
                             "instance");
                 return;
               }
               int32_t timeout = req.has_param("timeout") ? std::stoi(req.get_param_value("timeout")) : 1000;
               int32_t max_bytes =
                   req.has_param("max_bytes") ? std::stoi(req.get_param_value("max_bytes")) : 64 * 1024 * 1024;
               std::lock_guard busy(instance->busy);
               auto records = instance->consumer->poll(std::min(timeout, 30000), max_bytes);
               json out = json::array();
               auto field = [&](const std::optional<std::string>& b) -> json {
                 if (!b) return nullptr;
                 if (instance->format == Format::Binary) return cluster::etcd::base64_encode(*b);
                 json parsed = json::parse(*b, nullptr, false);
                 return parsed.is_discarded() ? json(*b) : parsed;
               };
               for (const auto& r : records)
                 out.push_back({{"topic", r.topic},
                                {"key", field(r.key)},
                                {"value", field(r.value)},
                                {"partition", r.partition},
                                {"offset", r.offset}});
               res.set_content(out.dump(-1, ' ', false, json::error_handler_t::replace),
                               instance->format == Format::Json ? kJsonV2 : kBinaryV2);
             }));
  server.Post(instance_path + "/offsets", guarded(access, [state](const httplib::Request& req, httplib::Response& res) {
                auto instance = state->find(req, res);
                if (!instance) return;
                std::map<GroupConsumer::TopicPartition, int64_t> offsets;
                if (!req.body.empty()) {
                  json body = json::parse(req.body);
                  if (body.contains("offsets"))
                    for (const auto& o : body["offsets"])
                      offsets[{o.at("topic").get<std::string>(), o.at("partition").get<int32_t>()}] =
                          o.at("offset").get<int64_t>();
                }
                try {
                  instance->consumer->commit(offsets);
                } catch (const AdminError& e) {
                  reply_error(res, 500, kKafkaError, e.what());
                  return;
                }
                res.status = 200;
              }));
  server.Get(instance_path + "/offsets", guarded(access, [state](const httplib::Request& req, httplib::Response& res) {
               auto instance = state->find(req, res);
               if (!instance) return;
               // The REST Proxy takes the partitions as a GET body, which the HTTP
               // server does not read: without one, the instance's assignment.
               auto partitions = req.body.empty() ? instance->consumer->assignment()
                                                  : partitions_of(json::parse(req.body), "partitions");
               json offsets = json::array();
               for (const auto& [tp, o] : instance->consumer->committed(partitions))
                 offsets.push_back({{"topic", tp.first}, {"partition", tp.second}, {"offset", o}, {"metadata", ""}});
               res.set_content(json{{"offsets", offsets}}.dump(), kV2Json);
             }));
  server.Post(
      instance_path + "/positions", guarded(access, [state](const httplib::Request& req, httplib::Response& res) {
        auto instance = state->find(req, res);
        if (!instance) return;
        std::map<GroupConsumer::TopicPartition, int64_t> offsets;
        for (const auto& o : json::parse(req.body).at("offsets"))
          offsets[{o.at("topic").get<std::string>(), o.at("partition").get<int32_t>()}] = o.at("offset").get<int64_t>();
        instance->consumer->seek(offsets);
        res.status = 204;
      }));
  for (bool to_end : {false, true}) {
    server.Post(instance_path + (to_end ? "/positions/end" : "/positions/beginning"),
                guarded(access, [state, to_end](const httplib::Request& req, httplib::Response& res) {
                  auto instance = state->find(req, res);
                  if (!instance) return;
                  instance->consumer->seek_to(partitions_of(json::parse(req.body), "partitions"), to_end);
                  res.status = 204;
                }));
  }
}

void install_rest_proxy(httplib::Server& server, std::shared_ptr<const KafkaAccess> access) {
  auto state = std::make_shared<Instances>();
  state->access = access;
  install_consumers(server, state);
  const std::string bootstrap = access->bootstrap;
  server.Get("/topics", guarded(access, [bootstrap](const httplib::Request&, httplib::Response& res) {
               auto md = metadata(bootstrap, std::nullopt);
               json names = json::array();
               for (const auto& t : md.topics)
                 if (!t.is_internal && t.name) names.push_back(*t.name);
               res.set_content(names.dump(), kV2Json);
             }));
  server.Get(R"(/topics/([^/]+))", guarded(access, [bootstrap](const httplib::Request& req, httplib::Response& res) {
               auto t = find_topic(bootstrap, req.matches[1], res);
               if (!t) return;
               res.set_content(
                   json{{"name", *t->name}, {"configs", json::object()}, {"partitions", partitions_json(*t)}}.dump(),
                   kV2Json);
             }));
  server.Get(R"(/topics/([^/]+)/partitions)",
             guarded(access, [bootstrap](const httplib::Request& req, httplib::Response& res) {
               auto t = find_topic(bootstrap, req.matches[1], res);
               if (t) res.set_content(partitions_json(*t).dump(), kV2Json);
             }));
  server.Post(R"(/topics/([^/]+))", guarded(access, [bootstrap](const httplib::Request& req, httplib::Response& res) {
                produce(bootstrap, req, res, std::nullopt);
              }));
  server.Post(R"(/topics/([^/]+)/partitions/(\d+))",
              guarded(access, [bootstrap](const httplib::Request& req, httplib::Response& res) {
                produce(bootstrap, req, res, std::stoi(req.matches[2]));
              }));
}

}  // namespace runnel::app
