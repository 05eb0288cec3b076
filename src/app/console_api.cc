#include "app/console_api.h"

#include <httplib.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app/admin_client.h"
#include "app/cluster_command.h"
#include "app/console_assets.h"
#include "app/consume_command.h"
#include "app/group_admin_command.h"
#include "app/group_command.h"
#include "app/kafka_access.h"
#include "app/record_sender.h"
#include "app/topic_command.h"
#include "app/topic_layout.h"
#include "base/error_code.h"

namespace runnel::app {
namespace {

using json = nlohmann::json;

constexpr int kDefaultMessageLimit = 50;
constexpr int kMaxMessageLimit = 500;

void reply_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(json{{"error", message}}.dump(), "application/json");
}

// A command's first line of stderr without its "Error: " prefix: what the
// console shows.
std::string error_of(const std::string& err) {
  std::string line = err.substr(0, err.find('\n'));
  if (line.rfind("Error: ", 0) == 0) line = line.substr(7);
  return line.empty() ? "the request failed" : line;
}

// Runs a command function with JSON output and replies with what it printed
// (200), or with its error (400, or 502 when it printed nothing: the broker
// could not be reached or answered garbage). A command that prints a JSON
// result list even when an entry failed (topic create/delete/...) gets 400
// with the first failed entry's status.
void run_command(httplib::Response& res, const std::function<int(std::ostream&, std::ostream&)>& command) {
  std::ostringstream out, err;
  int rc = command(out, err);
  if (rc == 0) {
    res.set_content(out.str().empty() ? "{}" : out.str(), "application/json");
    return;
  }
  if (!err.str().empty()) {
    reply_error(res, 400, error_of(err.str()));
    return;
  }
  auto printed = json::parse(out.str(), nullptr, false);
  if (printed.is_array())
    for (const auto& entry : printed)
      if (entry.value("ok", true) == false) {
        reply_error(res, 400, entry.value("status", "failed"));
        return;
      }
  reply_error(res, 502, "the broker's answer could not be read");
}

// The request body as a JSON object, or nullopt after replying 400.
std::optional<json> body_of(const httplib::Request& req, httplib::Response& res) {
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) {
    reply_error(res, 400, "the body must be a JSON object");
    return std::nullopt;
  }
  return body;
}

// Wraps a handler so that a malformed value in a body or a parameter (a
// string where a number belongs) is a 400, and any other failure a 502, never an exception
// out of the HTTP thread. The route runs as the request's user: every Kafka
// connection it makes reaches the broker as that principal (app/kafka_access.h).
httplib::Server::Handler console_route(std::shared_ptr<const KafkaAccess> access, httplib::Server::Handler handler) {
  return [access, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    try {
      auto [user, password] = request_login(req);
      DialerScope as_user(access->dialer(request_principal(), request_peer(req), user, password));
      handler(req, res);
    } catch (const json::exception& e) {
      reply_error(res, 400, std::string("bad request body: ") + e.what());
    } catch (const std::invalid_argument& e) {  // std::stoi on a parameter
      reply_error(res, 400, "a number was expected");
    } catch (const std::out_of_range& e) {
      reply_error(res, 400, "a number is out of range");
    } catch (const std::exception& e) {
      reply_error(res, 502, e.what());
    }
  };
}

void serve_asset(httplib::Response& res, std::string_view name) {
  const ConsoleAsset* asset = find_console_asset(name);
  if (!asset) {
    reply_error(res, 404, "no such file");
    return;
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_content(std::string(asset->data), std::string(asset->content_type));
}

// Messages of one topic for the browser: `from` is beginning, end (the last
// `limit` of each partition), an offset, or @timestamp.
void read_messages(const std::string& bootstrap, const httplib::Request& req, httplib::Response& res) {
  const std::string topic = req.matches[1];
  std::string from = req.has_param("from") ? req.get_param_value("from") : "end";
  int limit = req.has_param("limit") ? std::stoi(req.get_param_value("limit")) : kDefaultMessageLimit;
  limit = std::clamp(limit, 1, kMaxMessageLimit);
  TopicLayout layout(bootstrap, topic);
  std::vector<int32_t> partitions;
  if (req.has_param("partition") && !req.get_param_value("partition").empty()) {
    int32_t p = std::stoi(req.get_param_value("partition"));
    if (p < 0 || p >= layout.partitions()) {
      reply_error(res, 404, "topic '" + topic + "' has no partition " + std::to_string(p));
      return;
    }
    partitions.push_back(p);
  } else {
    for (int32_t p = 0; p < layout.partitions(); ++p) partitions.push_back(p);
  }
  json messages = json::array();
  for (int32_t p : partitions) {
    ConsumeOptions o;
    o.bootstrap = bootstrap;
    o.topic = topic;
    o.partition = p;
    o.json = true;
    o.json_bytes = true;
    o.exit_at_end = true;
    o.count = static_cast<uint64_t>(limit);
    if (from == "end") {
      int64_t earliest = layout.list_offset(p, TopicLayout::kEarliest);
      int64_t latest = layout.list_offset(p, TopicLayout::kLatest);
      if (latest <= earliest) continue;
      o.offset = std::to_string(std::max(earliest, latest - limit));
    } else {
      o.offset = from;
    }
    std::ostringstream out, err;
    if (consume_records(layout, o, out, err) != 0) {
      reply_error(res, 400, error_of(err.str()));
      return;
    }
    std::istringstream lines(out.str());
    for (std::string line; std::getline(lines, line);)
      if (!line.empty()) messages.push_back(json::parse(line));
  }
  std::sort(messages.begin(), messages.end(), [](const json& a, const json& b) {
    return std::make_pair(a["partition"].get<int>(), a["offset"].get<int64_t>()) <
           std::make_pair(b["partition"].get<int>(), b["offset"].get<int64_t>());
  });
  res.set_content(json{{"topic", topic}, {"messages", messages}}.dump(), "application/json");
}

void produce_message(const std::string& bootstrap, const httplib::Request& req, httplib::Response& res) {
  const std::string topic = req.matches[1];
  auto body = body_of(req, res);
  if (!body) return;
  OutgoingRecord record;
  if (body->contains("partition") && !(*body)["partition"].is_null())
    record.partition = (*body)["partition"].get<int32_t>();
  if (body->contains("key") && !(*body)["key"].is_null()) record.key = (*body)["key"].get<std::string>();
  if (body->contains("value") && !(*body)["value"].is_null()) record.value = (*body)["value"].get<std::string>();
  if (body->contains("headers"))
    for (const auto& [k, v] : (*body)["headers"].items()) record.headers.emplace_back(k, v.get<std::string>());
  TopicLayout layout(bootstrap, topic);
  if (record.partition && (*record.partition < 0 || *record.partition >= layout.partitions())) {
    reply_error(res, 404, "topic '" + topic + "' has no partition " + std::to_string(*record.partition));
    return;
  }
  auto sent = send_records(layout, topic, {record}, -1);
  const auto& s = sent.at(0);
  if (s.error != 0) {
    reply_error(res, 400, error_text(s.error, s.message.empty() ? std::nullopt : std::optional(s.message)));
    return;
  }
  res.set_content(json{{"partition", s.partition}, {"offset", s.offset}}.dump(), "application/json");
}

}  // namespace

void install_console(httplib::Server& server, std::shared_ptr<const KafkaAccess> access) {
  const std::string bootstrap = access->bootstrap;
  server.Get("/", [](const httplib::Request&, httplib::Response& res) { serve_asset(res, "index.html"); });
  server.Get(R"(/console/([A-Za-z0-9_.-]+))",
             [](const httplib::Request& req, httplib::Response& res) { serve_asset(res, req.matches[1].str()); });

  const std::string api = "/v1/console";
  server.Get(api + "/cluster", console_route(access, [bootstrap](const httplib::Request&, httplib::Response& res) {
               run_command(res, [&](auto& out, auto& err) { return cluster_status(bootstrap, true, out, err); });
             }));

  TopicCommandOptions topic_options;
  topic_options.bootstrap = bootstrap;
  topic_options.json = true;
  server.Get(api + "/topics",
             console_route(access, [topic_options](const httplib::Request& req, httplib::Response& res) {
               bool internal = req.has_param("internal") && req.get_param_value("internal") == "true";
               run_command(res, [&](auto& out, auto& err) { return topic_list(topic_options, internal, out, err); });
             }));
  server.Post(api + "/topics",
              console_route(access, [topic_options](const httplib::Request& req, httplib::Response& res) {
                auto body = body_of(req, res);
                if (!body) return;
                std::string name = body->value("name", "");
                int32_t partitions = body->value("partitions", -1);
                int16_t replication = body->value("replication_factor", int16_t{-1});
                std::map<std::string, std::string> configs;
                if (body->contains("configs"))
                  for (const auto& [k, v] : (*body)["configs"].items())
                    configs[k] = v.is_string() ? v.get<std::string>() : v.dump();
                run_command(res, [&](auto& out, auto& err) {
                  return topic_create(topic_options, {name}, partitions, replication, configs, out, err);
                });
              }));
  const std::string topic_path = api + R"(/topics/([^/]+))";
  server.Get(topic_path, console_route(access, [topic_options](const httplib::Request& req, httplib::Response& res) {
               run_command(res, [&](auto& out, auto& err) {
                 return topic_describe(topic_options, req.matches[1], true, out, err);
               });
             }));
  server.Delete(
      topic_path, console_route(access, [topic_options](const httplib::Request& req, httplib::Response& res) {
        run_command(res, [&](auto& out, auto& err) { return topic_delete(topic_options, {req.matches[1]}, out, err); });
      }));
  server.Post(topic_path + "/partitions",
              console_route(access, [topic_options](const httplib::Request& req, httplib::Response& res) {
                auto body = body_of(req, res);
                if (!body) return;
                int32_t count = body->value("count", 0);
                run_command(res, [&](auto& out, auto& err) {
                  return topic_add_partitions(topic_options, req.matches[1], count, out, err);
                });
              }));
  server.Post(topic_path + "/configs",
              console_route(access, [topic_options](const httplib::Request& req, httplib::Response& res) {
                auto body = body_of(req, res);
                if (!body) return;
                std::map<std::string, std::string> set;
                std::vector<std::string> remove;
                if (body->contains("set"))
                  for (const auto& [k, v] : (*body)["set"].items())
                    set[k] = v.is_string() ? v.get<std::string>() : v.dump();
                if (body->contains("remove")) remove = (*body)["remove"].get<std::vector<std::string>>();
                run_command(res, [&](auto& out, auto& err) {
                  return topic_alter_config(topic_options, req.matches[1], set, remove, out, err);
                });
              }));
  server.Get(topic_path + "/messages",
             console_route(access, [bootstrap](const httplib::Request& req, httplib::Response& res) {
               read_messages(bootstrap, req, res);
             }));
  server.Post(topic_path + "/messages",
              console_route(access, [bootstrap](const httplib::Request& req, httplib::Response& res) {
                produce_message(bootstrap, req, res);
              }));

  server.Get(api + "/groups", console_route(access, [bootstrap](const httplib::Request&, httplib::Response& res) {
               run_command(res, [&](auto& out, auto& err) { return group_list(bootstrap, true, out, err); });
             }));
  const std::string group_path = api + R"(/groups/([^/]+))";
  server.Get(group_path, console_route(access, [bootstrap](const httplib::Request& req, httplib::Response& res) {
               run_command(res, [&](auto& out, auto& err) {
                 return group_describe(req.matches[1], bootstrap, true, out, err);
               });
             }));
  server.Delete(group_path, console_route(access, [bootstrap](const httplib::Request& req, httplib::Response& res) {
                  std::ostringstream out, err;
                  const std::string group = req.matches[1];
                  if (group_delete({group}, bootstrap, out, err) != 0) {
                    // The command's table: "GROUP STATUS", then the group and why.
                    std::string table = out.str(), last;
                    std::istringstream lines(table);
                    for (std::string line; std::getline(lines, line);)
                      if (!line.empty()) last = line;
                    if (last.rfind(group, 0) == 0) last = last.substr(group.size());
                    last.erase(0, last.find_first_not_of(' '));
                    return reply_error(res, 400, last.empty() ? "the group could not be deleted" : last);
                  }
                  res.set_content("{}", "application/json");
                }));
  server.Post(group_path + "/seek",
              console_route(access, [bootstrap](const httplib::Request& req, httplib::Response& res) {
                auto body = body_of(req, res);
                if (!body) return;
                std::string to = body->value("to", "");
                std::vector<std::string> topics;
                if (body->contains("topics")) topics = (*body)["topics"].get<std::vector<std::string>>();
                std::ostringstream out, err;
                if (group_seek(req.matches[1], to, topics, bootstrap, out, err) != 0)
                  return reply_error(res, 400, error_of(err.str().empty() ? out.str() : err.str()));
                res.set_content("{}", "application/json");
              }));
}

}  // namespace runnel::app
