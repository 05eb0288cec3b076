#include "config/jaas.h"

#include <cctype>

namespace runnel {
namespace {

bool jaas_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::optional<std::map<std::string, std::string>> parse_jaas_options(std::string_view jaas) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < jaas.size() && jaas_space(jaas[i])) ++i;
  };
  auto word = [&] {
    size_t start = i;
    while (i < jaas.size() && !jaas_space(jaas[i]) && jaas[i] != '=' && jaas[i] != ';') ++i;
    return jaas.substr(start, i - start);
  };
  skip_space();
  if (word().empty()) return std::nullopt;  // the login module's class name
  skip_space();
  auto flag = word();  // required, requisite, sufficient, optional
  if (flag.empty()) return std::nullopt;
  std::map<std::string, std::string> options;
  for (;;) {
    skip_space();
    if (i == jaas.size() || jaas[i] == ';') break;
    auto key = word();
    skip_space();
    if (key.empty() || i == jaas.size() || jaas[i] != '=') return std::nullopt;
    ++i;
    skip_space();
    std::string value;
    if (i < jaas.size() && jaas[i] == '"') {
      ++i;
      bool closed = false;
      while (i < jaas.size()) {
        char c = jaas[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < jaas.size()) c = jaas[i++];
        value += c;
      }
      if (!closed) return std::nullopt;
    } else {
      value = std::string(word());
    }
    options[std::string(key)] = std::move(value);
  }
  return options;
}

}  // namespace runnel
