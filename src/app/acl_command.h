#pragma once
// `runnel acl add|list|remove`: ACL administration like kafka-acls.sh, through
// the Kafka protocol (CreateAcls, DescribeAcls, DeleteAcls v3) with
// kafka-acls.sh's flags. --command-config reads a client properties file:
// security.protocol (PLAINTEXT or SASL_PLAINTEXT), sasl.mechanism (PLAIN:
// the CLI authenticates with SASL PLAIN only), and the user and password from
// sasl.jaas.config (PlainLoginModule / ScramLoginModule required
// username="..." password="...";) or sasl.username / sasl.password.
// Exit codes: 0 done, 1 refused by the broker, 2 bad arguments.
#include <ostream>
#include <string>
#include <vector>

namespace runnel::app {

struct AclOptions {
  std::string bootstrap = "127.0.0.1:9092";
  std::vector<std::string> allow_principals, deny_principals, allow_hosts, deny_hosts;
  std::vector<std::string> operations;  // READ, WRITE, ...; default ALL for add
  std::vector<std::string> topics, groups, transactional_ids;
  bool cluster = false;
  std::string pattern_type;             // literal (default), prefixed; list/remove also match, any
  std::vector<std::string> principals;  // list: only the ACLs of these principals
};

int acl_add(const AclOptions& options, std::ostream& out, std::ostream& err);
int acl_list(const AclOptions& options, std::ostream& out, std::ostream& err);
int acl_remove(const AclOptions& options, std::ostream& out, std::ostream& err);

}  // namespace runnel::app
