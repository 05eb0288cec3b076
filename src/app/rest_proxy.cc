#include "app/rest_proxy.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "app/admin_client.h"
#include "app/record_sender.h"
#include "app/topic_layout.h"
#include "base/error_code.h"
#include "cluster/etcd/etcd_format.h"
#include "protocol/messages.h"

namespace runnel::app {
namespace {

using json = nlohmann::json;

constexpr const char* kV2Json = "application/vnd.kafka.v2+json";
// The REST Proxy's own error codes (HTTP status * 100 + a detail).
constexpr int kTopicNotFound = 40401, kPartitionNotFound = 40402, kUnprocessable = 42201, kUnsupportedFormat = 41501,
              kKafkaError = 50002;

void reply_error(httplib::Response& res, int http_status, int code, const std::string& message) {
  res.status = http_status;
  res.set_content(json{{"error_code", code}, {"message", message}}.dump(), kV2Json);
}

// The embedded format a produce request's Content-Type names.
enum class Format { Binary, Json, Unsupported };
Format embedded_format(const std::string& content_type) {
  if (content_type.find("vnd.kafka.binary.v2") != std::string::npos) return Format::Binary;
  if (content_type.find("vnd.kafka.json.v2") != std::string::npos) return Format::Json;
  if (content_type.find("vnd.kafka.") != std::string::npos) return Format::Unsupported;  // avro, protobuf, ...
  return Format::Json;  // application/json: JSON values, as the REST Proxy takes them
}

// A key or value of a produce request as the bytes to store.
std::optional<std::string> payload(const json& v, Format format) {
  if (v.is_null()) return std::nullopt;
  if (format == Format::Json) return v.dump();
  if (!v.is_string()) throw std::invalid_argument("binary keys and values must be base64 strings");
  auto decoded = cluster::etcd::base64_decode(v.get<std::string>());
  if (!decoded) throw std::invalid_argument("not valid base64: " + v.get<std::string>());
  return *decoded;
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
    json body = json::parse(req.body);
    if (!body.contains("records") || !body["records"].is_array())
      throw std::invalid_argument("the body needs a \"records\" array");
    for (const auto& r : body["records"]) {
      OutgoingRecord o;
      if (r.contains("key")) o.key = payload(r["key"], format);
      o.value = payload(r.value("value", json(nullptr)), format);
      if (partition)
        o.partition = partition;
      else if (r.contains("partition") && !r["partition"].is_null())
        o.partition = r["partition"].get<int32_t>();
      records.push_back(std::move(o));
    }
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
    json offsets = json::array();
    for (const auto& s : sent) {
      if (s.error == 0) {
        offsets.push_back(
            {{"partition", s.partition}, {"offset", s.offset}, {"error_code", nullptr}, {"error", nullptr}});
      } else {
        std::string what =
            std::string(error_name(static_cast<ErrorCode>(s.error))) + (s.message.empty() ? "" : ": " + s.message);
        int code =
            s.error == static_cast<int16_t>(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) ? kPartitionNotFound : kKafkaError;
        offsets.push_back({{"partition", s.partition}, {"offset", nullptr}, {"error_code", code}, {"error", what}});
      }
    }
    res.set_content(json{{"offsets", offsets}, {"key_schema_id", nullptr}, {"value_schema_id", nullptr}}.dump(),
                    kV2Json);
  } catch (const AdminError& e) {
    std::string what = e.what();
    if (what.find("UNKNOWN_TOPIC_OR_PARTITION") != std::string::npos)
      reply_error(res, 404, kTopicNotFound, "Topic not found.");
    else
      reply_error(res, 500, kKafkaError, what);
  }
}

protocol::MetadataResponse metadata(const std::string& bootstrap, std::optional<std::string> topic) {
  AdminClient client(bootstrap, "runnel-rest-proxy");
  protocol::MetadataRequest req;
  if (topic) {
    protocol::MetadataRequest::MetadataRequestTopic t;
    t.name = *topic;
    req.topics = std::vector<protocol::MetadataRequest::MetadataRequestTopic>{t};
  } else {
    req.topics.reset();
  }
  req.allow_auto_topic_creation = false;
  return client.call<protocol::MetadataResponse>(req, 9);
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
  if (md.topics.size() != 1 || md.topics[0].error_code != 0) {
    reply_error(res, 404, kTopicNotFound, "Topic not found.");
    return std::nullopt;
  }
  return md.topics[0];
}

template <class F>
auto guarded(F f) {
  return [f](const httplib::Request& req, httplib::Response& res) {
    try {
      f(req, res);
    } catch (const std::exception& e) {
      reply_error(res, 500, 50001, e.what());
    }
  };
}

}  // namespace

void install_rest_proxy(httplib::Server& server, const std::string& bootstrap) {
  server.Get("/topics", guarded([bootstrap](const httplib::Request&, httplib::Response& res) {
               auto md = metadata(bootstrap, std::nullopt);
               json names = json::array();
               for (const auto& t : md.topics)
                 if (!t.is_internal && t.name) names.push_back(*t.name);
               res.set_content(names.dump(), kV2Json);
             }));
  server.Get(R"(/topics/([^/]+))", guarded([bootstrap](const httplib::Request& req, httplib::Response& res) {
               auto t = find_topic(bootstrap, req.matches[1], res);
               if (!t) return;
               res.set_content(
                   json{{"name", *t->name}, {"configs", json::object()}, {"partitions", partitions_json(*t)}}.dump(),
                   kV2Json);
             }));
  server.Get(R"(/topics/([^/]+)/partitions)", guarded([bootstrap](const httplib::Request& req, httplib::Response& res) {
               auto t = find_topic(bootstrap, req.matches[1], res);
               if (t) res.set_content(partitions_json(*t).dump(), kV2Json);
             }));
  server.Post(R"(/topics/([^/]+))", guarded([bootstrap](const httplib::Request& req, httplib::Response& res) {
                produce(bootstrap, req, res, std::nullopt);
              }));
  server.Post(R"(/topics/([^/]+)/partitions/(\d+))",
              guarded([bootstrap](const httplib::Request& req, httplib::Response& res) {
                produce(bootstrap, req, res, std::stoi(req.matches[2]));
              }));
}

}  // namespace runnel::app
