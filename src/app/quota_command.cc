#include "app/quota_command.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "app/admin_client.h"
#include "app/table.h"
#include "protocol/messages.h"

namespace runnel::app {
namespace {

constexpr int8_t kMatchExact = 0, kMatchDefault = 1;

// "user=alice,client-id=<default>": user, client-id, ip, in that order.
std::string entity_text(std::vector<std::pair<std::string, std::optional<std::string>>> entity) {
  auto rank = [](const std::string& type) { return type == "user" ? 0 : type == "client-id" ? 1 : 2; };
  std::stable_sort(entity.begin(), entity.end(),
                   [&](const auto& a, const auto& b) { return rank(a.first) < rank(b.first); });
  std::string out;
  for (const auto& [type, name] : entity) {
    if (!out.empty()) out += ",";
    out += type + "=" + (name ? *name : "<default>");
  }
  return out;
}

// A quota value as kafka-configs.sh prints it: whole numbers without a
// fraction.
std::string value_text(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e18) return std::to_string(static_cast<int64_t>(v));
  return nlohmann::json(v).dump();
}

}  // namespace

int quota_describe(const QuotaOptions& o, std::ostream& out, std::ostream& err) {
  try {
    AdminClient client(o.bootstrap);
    protocol::DescribeClientQuotasRequest req;
    for (const auto& [type, name] : o.entity) {
      auto& c = req.components.emplace_back();
      c.entity_type = type;
      c.match_type = name ? kMatchExact : kMatchDefault;
      c.match = name;
    }
    req.strict = !o.entity.empty();
    auto resp = client.call<protocol::DescribeClientQuotasResponse>(req, 1);
    if (resp.error_code != 0) {
      err << "Error: " << error_text(resp.error_code, resp.error_message) << "\n";
      return 1;
    }
    nlohmann::json doc = nlohmann::json::array();
    std::vector<std::vector<std::string>> rows{{"ENTITY", "QUOTA", "VALUE"}};
    for (const auto& entry : resp.entries.value_or(decltype(resp.entries)::value_type{})) {
      std::vector<std::pair<std::string, std::optional<std::string>>> entity;
      nlohmann::json e = nlohmann::json::object();
      for (const auto& part : entry.entity) {
        entity.emplace_back(part.entity_type, part.entity_name);
        e[part.entity_type] = part.entity_name ? nlohmann::json(*part.entity_name) : nlohmann::json(nullptr);
      }
      nlohmann::json values = nlohmann::json::object();
      for (const auto& v : entry.values) {
        values[v.key] = v.value;
        rows.push_back({entity_text(entity), v.key, value_text(v.value)});
      }
      doc.push_back({{"entity", e}, {"values", values}});
    }
    print_report(out, o.json, doc, rows);
    return 0;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

int quota_alter(const QuotaOptions& o, const std::map<std::string, std::string>& set,
                const std::vector<std::string>& remove, std::ostream& out, std::ostream& err) {
  try {
    if (o.entity.empty()) {
      err << "Error: give the entity (--user, --client, --ip, or their --*-default)\n";
      return 1;
    }
    if (set.empty() && remove.empty()) {
      err << "Error: nothing to change (--set key=value, --delete key)\n";
      return 1;
    }
    protocol::AlterClientQuotasRequest req;
    auto& entry = req.entries.emplace_back();
    for (const auto& [type, name] : o.entity) {
      auto& e = entry.entity.emplace_back();
      e.entity_type = type;
      e.entity_name = name;
    }
    for (const auto& [key, text] : set) {
      double value = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || end != text.data() + text.size()) {
        err << "Error: " << key << " takes a number, got '" << text << "'\n";
        return 1;
      }
      auto& op = entry.ops.emplace_back();
      op.key = key;
      op.value = value;
      op.remove = false;
    }
    for (const auto& key : remove) {
      auto& op = entry.ops.emplace_back();
      op.key = key;
      op.remove = true;
    }
    AdminClient client(o.bootstrap);
    auto resp = client.call<protocol::AlterClientQuotasResponse>(req, 1);
    if (resp.entries.empty()) throw AdminError("empty AlterClientQuotas response");
    const auto& result = resp.entries.front();
    std::string what = result.error_code == 0 ? "OK" : error_text(result.error_code, result.error_message);
    if (o.json)
      out << nlohmann::json{{"entity", entity_text(o.entity)}, {"ok", result.error_code == 0}, {"status", what}}.dump(2)
          << "\n";
    else
      print_table(out, {{"ENTITY", "STATUS"}, {entity_text(o.entity), what}});
    return result.error_code == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace runnel::app
