#include "security/ssl_principal_mapper.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace runnel::security {
namespace {

// Kafka's RULE_PATTERN: DEFAULT, or RULE:pattern/replacement/[LU], or
// anything else (which then fails the whole-rule check).
constexpr size_t kMaxMatchedName = 8192;

constexpr const char* kRulePattern = R"((DEFAULT)|RULE:((\\.|[^\\/])*)/((\\.|[^\\/])*)/([LU]?).*?|(.*?))";

const std::regex& rule_splitter() {
  static const std::regex re(std::string(R"(\s*()") + kRulePattern + R"()\s*(,\s*|$))");
  return re;
}

const std::regex& rule_parser() {
  static const std::regex re(kRulePattern);
  return re;
}

std::string trimmed(std::string_view s) {
  auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return "";
  auto end = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(begin, end - begin + 1));
}

// A Java replacement string (`$n` groups, `\x` escapes) as a std::regex
// format string, with Kafka's rule for a `$n` beyond the pattern's groups:
// drop trailing digits while the number is too big and has two or more, and
// take what is still too big literally.
std::string format_of(const std::string& java, size_t groups) {
  std::string out;
  for (size_t i = 0; i < java.size(); ++i) {
    char c = java[i];
    if (c == '\\' && i + 1 < java.size()) {
      char next = java[++i];
      out += next == '$' ? std::string("$$") : std::string(1, next);
    } else if (c == '$' && i + 1 < java.size() && std::isdigit(static_cast<unsigned char>(java[i + 1]))) {
      size_t start = i + 1, end = start;
      while (end < java.size() && std::isdigit(static_cast<unsigned char>(java[end]))) ++end;
      std::string digits = java.substr(start, end - start);
      // Java reads as many digits as still name a group.
      size_t used = 1;
      while (used < digits.size() && std::stoul(digits.substr(0, used + 1)) <= groups) ++used;
      size_t group = std::stoul(digits.substr(0, used));
      if (group > groups || digits[0] == '0')
        out += "$$" + digits.substr(0, used);  // no such group: literal
      else
        out += "$" + std::string(group < 10 && used == 1 ? "0" : "") + digits.substr(0, used);
      out += digits.substr(used);
      i = end - 1;
    } else if (c == '$') {
      out += "$$";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

SslPrincipalMapper::SslPrincipalMapper(std::string_view text) {
  std::string rules = trimmed(text);
  std::vector<std::string> parts;
  for (auto it = std::sregex_iterator(rules.begin(), rules.end(), rule_splitter()); it != std::sregex_iterator();
       ++it) {
    parts.push_back((*it)[1].str());
    if ((*it)[0].length() == 0 && static_cast<size_t>(it->position()) >= rules.size()) break;
  }
  for (const auto& part : parts) {
    std::smatch m;
    if (!std::regex_search(part, m, rule_parser(), std::regex_constants::match_continuous) ||
        static_cast<size_t>(m.length(0)) != part.size())
      throw std::invalid_argument("Invalid rule: " + part);
    if (m[1].matched) {
      Rule r;
      r.is_default = true;
      rules_.push_back(std::move(r));
    } else if (m[2].matched) {
      Rule r;
      r.pattern_text = m[2].str();
      try {
        r.pattern = std::regex(r.pattern_text);
      } catch (const std::regex_error& e) {
        throw std::invalid_argument("Invalid rule: " + part + ": " + e.what());
      }
      r.replacement = m[4].str();
      r.format = format_of(r.replacement, r.pattern.mark_count());
      r.lower = m[6].str() == "L";
      r.upper = m[6].str() == "U";
      rules_.push_back(std::move(r));
    }
    // An empty rule is ignored.
  }
}

std::optional<std::string> SslPrincipalMapper::name(const std::string& dn) const {
  for (const auto& r : rules_) {
    if (r.is_default) return dn;
    // libstdc++'s matcher recurses per character: a name of ~100 k
    // characters overflows the stack. Real names are far below this bound.
    if (dn.size() > kMaxMatchedName) continue;
    if (!std::regex_match(dn, r.pattern)) continue;
    std::string out = std::regex_replace(dn, r.pattern, r.format);
    if (r.lower) std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    if (r.upper) std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
    return out;
  }
  return std::nullopt;
}

std::string SslPrincipalMapper::describe() const {
  std::string out = "[";
  for (size_t i = 0; i < rules_.size(); ++i) {
    const auto& r = rules_[i];
    if (i) out += ", ";
    if (r.is_default) {
      out += "DEFAULT";
      continue;
    }
    out += "RULE:" + r.pattern_text + "/" + r.replacement;
    if (r.lower) out += "/L";
    if (r.upper) out += "/U";
  }
  return out + "]";
}

}  // namespace runnel::security
