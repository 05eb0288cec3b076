#include "app/reassignment_plan.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>

namespace runnel::app {
namespace {

int32_t parse_id(std::string_view text, const std::string& what) {
  int32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0)
    throw std::invalid_argument(what + ": not a non-negative integer: '" + std::string(text) + "'");
  return value;
}

int32_t json_id(const nlohmann::json& value, const std::string& what) {
  if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > INT32_MAX)
    throw std::invalid_argument(what);
  return static_cast<int32_t>(value.get<int64_t>());
}

}  // namespace

std::vector<ReassignmentSpec> parse_reassignment_json(const std::string& text) {
  auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) throw std::invalid_argument("not a JSON object");
  auto partitions = doc.find("partitions");
  if (partitions == doc.end() || !partitions->is_array()) throw std::invalid_argument("no \"partitions\" array");
  std::vector<ReassignmentSpec> out;
  for (const auto& p : *partitions) {
    if (!p.is_object()) throw std::invalid_argument("a partition entry is not an object");
    auto topic = p.find("topic");
    auto partition = p.find("partition");
    auto replicas = p.find("replicas");
    if (topic == p.end() || !topic->is_string() || partition == p.end() || replicas == p.end() || !replicas->is_array())
      throw std::invalid_argument("each partition needs \"topic\", \"partition\" and \"replicas\"");
    ReassignmentSpec spec;
    spec.topic = topic->get<std::string>();
    spec.partition = json_id(*partition, "partition out of range in " + spec.topic);
    for (const auto& r : *replicas)
      spec.replicas.push_back(json_id(r, "replicas must be broker ids, in " + spec.topic));
    if (auto dirs = p.find("log_dirs"); dirs != p.end()) {
      if (!dirs->is_array() || dirs->size() != spec.replicas.size())
        throw std::invalid_argument("\"log_dirs\" of " + spec.topic + "-" + std::to_string(spec.partition) +
                                    " must list one directory per replica");
      for (const auto& d : *dirs) {
        if (!d.is_string() || d.get_ref<const std::string&>().empty())
          throw std::invalid_argument("\"log_dirs\" entries must be paths or \"any\", in " + spec.topic);
        spec.log_dirs.push_back(d.get<std::string>());
      }
    }
    out.push_back(std::move(spec));
  }
  return out;
}

ReassignmentSpec parse_reassignment_spec(const std::string& text) {
  const auto equals = text.find('=');
  const auto colon = text.rfind(':', equals);
  if (colon == std::string::npos || colon == 0)
    throw std::invalid_argument("'" + text + "' is not TOPIC:PARTITION=R1,R2,...");
  ReassignmentSpec spec;
  spec.topic = text.substr(0, colon);
  const auto end = equals == std::string::npos ? text.size() : equals;
  spec.partition = parse_id(std::string_view(text).substr(colon + 1, end - colon - 1), text);
  std::string_view rest = equals == std::string::npos ? std::string_view() : std::string_view(text).substr(equals + 1);
  while (!rest.empty()) {
    auto comma = rest.find(',');
    spec.replicas.push_back(parse_id(rest.substr(0, comma), text));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return spec;
}

std::vector<std::string> parse_topics_to_move_json(const std::string& text) {
  auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto topics = doc.is_object() ? doc.find("topics") : doc.end();
  if (!doc.is_object() || topics == doc.end() || !topics->is_array())
    throw std::invalid_argument("no \"topics\" array");
  std::vector<std::string> out;
  for (const auto& t : *topics) {
    auto name = t.is_object() ? t.find("topic") : t.end();
    if (!t.is_object() || name == t.end() || !name->is_string())
      throw std::invalid_argument("each entry of \"topics\" needs a \"topic\" name");
    out.push_back(name->get<std::string>());
  }
  return out;
}

std::map<std::string, std::vector<int32_t>> parse_partition_filter(const std::vector<std::string>& specs) {
  std::map<std::string, std::vector<int32_t>> out;
  for (const auto& spec : specs) {
    auto colon = spec.rfind(':');
    if (colon == std::string::npos) {
      out[spec];
      continue;
    }
    out[spec.substr(0, colon)].push_back(parse_id(std::string_view(spec).substr(colon + 1), spec));
  }
  return out;
}

}  // namespace runnel::app
