#pragma once
// ssl.principal.mapping.rules: how a client certificate's distinguished name
// (RFC 2253, as Java's X500Principal.getName() gives it) becomes the
// principal's name on an SSL listener, as Kafka's SslPrincipalMapper does.
// Rules are tried in order; the first that applies gives the name:
//   DEFAULT                         the distinguished name as it is
//   RULE:pattern/replacement/[L|U]  when the pattern matches the whole name,
//                                   the name with every match replaced
//                                   ($1... are its groups), then lowercased
//                                   (L) or uppercased (U)
// separated by commas (a comma inside a pattern or replacement is part of
// it). No rule applying is an authentication failure, as in Kafka; a name
// longer than 8 KiB never matches a RULE (only DEFAULT takes it). Patterns
// are ECMAScript regular expressions (std::regex), which agree with Java's
// on what such rules use (groups, lazy quantifiers, classes, anchors).
// Immutable after construction; thread-safe.
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace runnel::security {

class SslPrincipalMapper {
 public:
  // Throws std::invalid_argument ("Invalid rule: ...") for rules Kafka
  // refuses, and for a pattern std::regex cannot compile.
  explicit SslPrincipalMapper(std::string_view rules = "DEFAULT");

  // The principal's name for `distinguished_name`; nullopt when no rule applies.
  std::optional<std::string> name(const std::string& distinguished_name) const;

  // The rules as Kafka's toString() lists them ("[RULE:^CN=(.*)$/$1/L, DEFAULT]").
  std::string describe() const;

 private:
  struct Rule {
    bool is_default = false;
    std::string pattern_text;
    std::regex pattern;
    std::string replacement;  // as written (Java's syntax)
    std::string format;       // the same for std::regex_replace
    bool lower = false;
    bool upper = false;
  };
  std::vector<Rule> rules_;
};

}  // namespace runnel::security
