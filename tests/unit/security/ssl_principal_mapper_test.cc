// ssl.principal.mapping.rules, checked against the cases of Kafka's own
// SslPrincipalMapperTest: which rule texts are valid, how a list splits, and
// the names the rules give.
#include "security/ssl_principal_mapper.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace runnel::security {
namespace {

TEST(SslPrincipalMapper, ValidRules) {
  for (const char* rules :
       {"DEFAULT", "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/", "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/U", "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, DEFAULT",
        "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/", "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L",
        "RULE:^cn=(.?),ou=(.?),dc=(.?),dc=(.?)$/$1@$2/U", "RULE:^CN=([^,ADEFLTU,]+)(,.*|$)/$1/",
        "RULE:^CN=([^,DEFAULT,]+)(,.*|$)/$1/"})
    EXPECT_NO_THROW(SslPrincipalMapper{rules}) << rules;
}

TEST(SslPrincipalMapper, InvalidRules) {
  for (const char* rules : {"default", "DEFAUL", "DEFAULT/L", "DEFAULT/U", "RULE:CN=(.*?),OU=ServiceUsers.*/$1",
                            "rule:^CN=(.*?),OU=ServiceUsers.*$/$1/", "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U",
                            "RULE:^CN=(.*?),OU=ServiceUsers.*$/L", "RULE:^CN=(.*?),OU=ServiceUsers.*$/U",
                            "RULE:^CN=(.*?),OU=ServiceUsers.*$/LU", "RULE:^CN=((/$1/"})
    EXPECT_THROW(SslPrincipalMapper{rules}, std::invalid_argument) << rules;
}

TEST(SslPrincipalMapper, NamesAsKafkaGivesThem) {
  SslPrincipalMapper mapper(
      "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, "
      "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L, "
      "RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U, "
      "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U, DEFAULT");
  EXPECT_EQ(mapper.name("CN=Duke,OU=ServiceUsers,O=Org,C=US"), "duke");
  EXPECT_EQ(mapper.name("CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US"), "duke@sme");
  EXPECT_EQ(mapper.name("cn=duke,ou=sme,dc=mycp,dc=com"), "DUKE@SME");
  EXPECT_EQ(mapper.name("cN=duke,OU=JavaSoft,O=Sun Microsystems"), "DUKE");
  EXPECT_EQ(mapper.name("OU=JavaSoft,O=Sun Microsystems,C=US"), "OU=JavaSoft,O=Sun Microsystems,C=US");
}

TEST(SslPrincipalMapper, NoRuleApplies) {
  SslPrincipalMapper mapper("RULE:^CN=(.*),O=runnel$/$1/");
  EXPECT_EQ(mapper.name("CN=client1,O=runnel"), "client1");
  EXPECT_EQ(mapper.name("CN=client1,O=elsewhere"), std::nullopt);
  EXPECT_EQ(SslPrincipalMapper("").name("CN=x"), std::nullopt);
  // A huge name is not matched (std::regex would overflow the stack).
  std::string huge = "CN=" + std::string(200000, 'a') + ",O=runnel";
  EXPECT_EQ(mapper.name(huge), std::nullopt);
  EXPECT_EQ(SslPrincipalMapper("RULE:^CN=(.*),O=runnel$/$1/,DEFAULT").name(huge), huge);
}

TEST(SslPrincipalMapper, SplitsAsKafka) {
  auto rules = [](const char* text) { return SslPrincipalMapper(text).describe(); };
  EXPECT_EQ(rules(""), "[]");
  EXPECT_EQ(rules("DEFAULT"), "[DEFAULT]");
  EXPECT_EQ(rules("RULE://"), "[RULE:/]");
  EXPECT_EQ(rules("RULE:/.*/"), "[RULE:/.*]");
  EXPECT_EQ(rules("RULE:/.*/L"), "[RULE:/.*/L]");
  EXPECT_EQ(rules("RULE://,DEFAULT"), "[RULE:/, DEFAULT]");
  EXPECT_EQ(rules("  RULE:// ,  DEFAULT  "), "[RULE:/, DEFAULT]");
  EXPECT_EQ(rules("  RULE:   /     / ,  DEFAULT  "), "[RULE:   /     , DEFAULT]");
  EXPECT_EQ(rules("  RULE:  /     /U   ,DEFAULT  "), "[RULE:  /     /U, DEFAULT]");
  EXPECT_EQ(rules("  RULE:([A-Z]*)/$1/U   ,RULE:([a-z]+)/$1/,   DEFAULT  "),
            "[RULE:([A-Z]*)/$1/U, RULE:([a-z]+)/$1, DEFAULT]");
  EXPECT_EQ(rules(",   , , ,      , , ,   "), "[]");
  EXPECT_EQ(rules(",,RULE://,,,DEFAULT,,"), "[RULE:/, DEFAULT]");
  EXPECT_EQ(rules(",  , RULE: /   /    ,,,   DEFAULT, ,   "), "[RULE: /   , DEFAULT]");
  EXPECT_EQ(rules("     ,  , RULE:   /  /U    ,,  ,DEFAULT, ,"), "[RULE:   /  /U, DEFAULT]");
}

TEST(SslPrincipalMapper, CommaInsideAName) {
  SslPrincipalMapper mapper(R"(RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT)");
  EXPECT_EQ(mapper.name(R"(CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz)"), R"(Tkac\, Adam)");
}

TEST(SslPrincipalMapper, ReplacementGroupsAndLiterals) {
  // $12 with two groups is $1 then "2"; $3 with two groups is literal; \$ is a dollar.
  SslPrincipalMapper mapper(R"(RULE:^CN=(\w+),O=(\w+)$/$2-$12-$3-\$1/)");
  EXPECT_EQ(mapper.name("CN=ann,O=acme"), "acme-ann2-$3-$1");
}

}  // namespace
}  // namespace runnel::security
