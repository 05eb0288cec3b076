#include "config/list_config_op.h"

#include <algorithm>
#include <vector>

namespace runnel {
namespace {

// The non-empty comma-separated parts of `text`, as Kafka's getParts keeps them.
std::vector<std::string> list_parts(std::string_view text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    if (comma > start) parts.emplace_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return parts;
}

}  // namespace

std::string apply_list_op(AlterConfigOp op, const std::optional<std::string>& current, std::string_view kafka_default,
                          std::string_view operand) {
  auto list = list_parts(current ? std::string_view(*current) : kafka_default);
  for (auto& part : list_parts(operand)) {
    auto it = std::find(list.begin(), list.end(), part);
    if (op == AlterConfigOp::kAppend && it == list.end())
      list.push_back(std::move(part));
    else if (op == AlterConfigOp::kSubtract && it != list.end())
      list.erase(it);
  }
  std::string joined;
  for (const auto& part : list) joined += (joined.empty() ? "" : ",") + part;
  return joined;
}

std::string not_a_list_message(AlterConfigOp op, const std::string& key) {
  return std::string("Can't ") + (op == AlterConfigOp::kAppend ? "APPEND" : "SUBTRACT") + " to key " + key +
         " because its type is not LIST.";
}

}  // namespace runnel
