#include "group/topic_regex.h"

#include <regex.h>

#include <cctype>

namespace runnel::group {
namespace {

constexpr size_t kMaxPatternLength = 1024;
constexpr long kMaxRepeat = 1000;
constexpr int kMaxBoundedRepeats = 4;

// RE2 to POSIX ERE for the forms that differ; nullopt for what is refused.
std::optional<std::string> translate(std::string_view p) {
  if (p.size() > kMaxPatternLength) return std::nullopt;
  std::string out;
  bool in_class = false;
  int bounded = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char n = p[++i];
      if (std::isdigit(static_cast<unsigned char>(n))) return std::nullopt;  // back-reference
      if (n == 'd') {
        out += in_class ? "0-9" : "[0-9]";
      } else if (n == 'D' && !in_class) {
        out += "[^0-9]";
      } else {
        out += '\\';
        out += n;
      }
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      out += c;
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];  // a literal ] first
      continue;
    }
    if (c == '(' && i + 1 < p.size() && p[i + 1] == '?') {
      if (i + 2 < p.size() && p[i + 2] == ':') {
        out += '(';
        i += 2;
        continue;
      }
      return std::nullopt;  // flags, lookaround, named groups
    }
    if (c == '{') {
      if (++bounded > kMaxBoundedRepeats) return std::nullopt;
      long n = 0;
      for (size_t j = i + 1; j < p.size() && p[j] != '}'; ++j) {
        if (std::isdigit(static_cast<unsigned char>(p[j]))) {
          n = n * 10 + (p[j] - '0');
          if (n > kMaxRepeat) return std::nullopt;
        } else {
          n = 0;
        }
      }
    }
    out += c;
  }
  return out;
}

}  // namespace

struct TopicRegex::Compiled {
  regex_t re{};
  bool ok = false;  // regcomp succeeded: regfree is due
  ~Compiled() {
    if (ok) regfree(&re);
  }
};

std::optional<TopicRegex> TopicRegex::compile(std::string_view pattern) {
  auto ere = translate(pattern);
  if (!ere) return std::nullopt;
  auto c = std::make_shared<Compiled>();
  std::string anchored = "^(" + *ere + ")$";
  c->ok = regcomp(&c->re, anchored.c_str(), REG_EXTENDED | REG_NOSUB) == 0;
  if (!c->ok) return std::nullopt;
  return TopicRegex(std::move(c));
}

bool TopicRegex::matches(const std::string& name) const {
  return regexec(&compiled_->re, name.c_str(), 0, nullptr, 0) == 0;
}

}  // namespace runnel::group
