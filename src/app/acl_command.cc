#include "app/acl_command.h"

#include <cctype>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>

#include "app/admin_client.h"
#include "config/jaas.h"
#include "security/acl.h"

namespace runnel::app {
namespace {

using security::AclOperation;
using security::AclPermission;
using security::PatternType;
using security::ResourceType;

struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct Resource {
  ResourceType type;
  std::string name;
};

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::map<std::string, std::string> read_properties(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("cannot read --command-config " + path);
  std::map<std::string, std::string> props;
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == '!') continue;
    auto eq = line.find_first_of("=:");
    if (eq == std::string::npos) continue;
    props[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return props;
}

// A connection to the bootstrap broker, authenticated as --command-config says.
std::unique_ptr<AdminClient> connect(const AclOptions& o) {
  auto client = std::make_unique<AdminClient>(o.bootstrap, "runnel-acl");
  if (o.command_config.empty()) return client;
  auto props = read_properties(o.command_config);
  std::string protocol = props.count("security.protocol") ? props["security.protocol"] : "PLAINTEXT";
  if (protocol == "PLAINTEXT") return client;
  if (protocol != "SASL_PLAINTEXT")
    throw UsageError("security.protocol=" + protocol + ": the CLI speaks PLAINTEXT and SASL_PLAINTEXT only");
  std::string user = props["sasl.username"], password = props["sasl.password"];
  if (auto jaas = props.find("sasl.jaas.config"); jaas != props.end()) {
    // The same reading of the JAAS line as the broker's inter-broker login.
    auto options = parse_jaas_options(jaas->second);
    if (!options) throw UsageError("--command-config: sasl.jaas.config is not a JAAS configuration line");
    if (auto it = options->find("username"); it != options->end()) user = it->second;
    if (auto it = options->find("password"); it != options->end()) password = it->second;
  }
  if (user.empty()) throw UsageError("--command-config: no SASL user (sasl.jaas.config or sasl.username)");
  client->authenticate_plain(user, password);
  return client;
}

std::vector<Resource> resources(const AclOptions& o) {
  std::vector<Resource> out;
  for (const auto& t : o.topics) out.push_back({ResourceType::Topic, t});
  for (const auto& g : o.groups) out.push_back({ResourceType::Group, g});
  for (const auto& t : o.transactional_ids) out.push_back({ResourceType::TransactionalId, t});
  if (o.cluster) out.push_back({ResourceType::Cluster, std::string(security::kClusterResourceName)});
  return out;
}

PatternType pattern(const AclOptions& o, bool filter) {
  if (o.pattern_type.empty()) return PatternType::Literal;
  auto p = security::parse_pattern_type(o.pattern_type);
  if (!p || *p == PatternType::Unknown) throw UsageError("unknown --resource-pattern-type " + o.pattern_type);
  if (!filter && *p != PatternType::Literal && *p != PatternType::Prefixed)
    throw UsageError("--resource-pattern-type must be literal or prefixed to add ACLs");
  return *p;
}

std::vector<AclOperation> operations(const AclOptions& o, AclOperation fallback) {
  std::vector<AclOperation> out;
  for (const auto& name : o.operations) {
    // kafka-acls.sh spells them Read, ClusterAction, IdempotentWrite...
    std::string n;
    for (size_t i = 0; i < name.size(); ++i) {
      char c = name[i];
      if (c == '-') c = '_';
      if (i > 0 && std::isupper(static_cast<unsigned char>(c)) && std::islower(static_cast<unsigned char>(name[i - 1])))
        n += '_';
      n += c;
    }
    auto op = security::parse_operation(n);
    if (!op || *op == AclOperation::Unknown) throw UsageError("unknown --operation " + name);
    out.push_back(*op);
  }
  if (out.empty()) out.push_back(fallback);
  return out;
}

// (principal, host, permission) triples from --allow-/--deny- flags.
struct Entry {
  std::string principal, host;
  AclPermission permission;
};
std::vector<Entry> entries(const AclOptions& o) {
  std::vector<Entry> out;
  auto add = [&](const std::vector<std::string>& principals, std::vector<std::string> hosts, AclPermission p) {
    if (hosts.empty()) hosts.push_back("*");
    for (const auto& principal : principals)
      for (const auto& host : hosts) out.push_back({principal, host, p});
  };
  add(o.allow_principals, o.allow_hosts, AclPermission::Allow);
  add(o.deny_principals, o.deny_hosts, AclPermission::Deny);
  return out;
}

std::string pattern_text(int8_t type, const std::string& name, int8_t pattern) {
  return "ResourcePattern(resourceType=" + std::string(name_of(security::resource_type_from_wire(type))) +
         ", name=" + name + ", patternType=" + std::string(name_of(security::pattern_type_from_wire(pattern))) + ")";
}

std::string entry_text(const std::string& principal, const std::string& host, int8_t op, int8_t permission) {
  return "(principal=" + principal + ", host=" + host +
         ", operation=" + std::string(name_of(security::operation_from_wire(op))) +
         ", permissionType=" + std::string(name_of(security::permission_from_wire(permission))) + ")";
}

template <class F>
int guarded(std::ostream& err, F&& f) {
  try {
    return f();
  } catch (const UsageError& e) {
    err << "Error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

int print_acls(AdminClient& client, const AclOptions& o, std::ostream& out, std::ostream& err) {
  std::vector<protocol::DescribeAclsRequest> filters;
  auto base = [&]() {
    protocol::DescribeAclsRequest r;
    r.resource_type_filter = static_cast<int8_t>(ResourceType::Any);
    r.pattern_type_filter = static_cast<int8_t>(PatternType::Any);
    r.operation = static_cast<int8_t>(AclOperation::Any);
    r.permission_type = static_cast<int8_t>(AclPermission::Any);
    r.resource_name_filter = r.principal_filter = r.host_filter = std::nullopt;  // null: any
    return r;
  };
  auto with_principals = [&](protocol::DescribeAclsRequest r) {
    if (o.principals.empty()) {
      filters.push_back(r);
      return;
    }
    for (const auto& p : o.principals) {
      r.principal_filter = p;
      filters.push_back(r);
    }
  };
  auto rs = resources(o);
  if (rs.empty()) with_principals(base());
  for (const auto& res : rs) {
    auto r = base();
    r.resource_type_filter = static_cast<int8_t>(res.type);
    r.resource_name_filter = res.name;
    r.pattern_type_filter = static_cast<int8_t>(o.pattern_type.empty() ? PatternType::Literal : pattern(o, true));
    with_principals(r);
  }
  int rc = 0;
  for (const auto& f : filters) {
    auto response = client.call<protocol::DescribeAclsResponse>(f, 3);
    if (response.error_code != 0) {
      err << "Error: " << error_text(response.error_code, response.error_message) << "\n";
      rc = 1;
      continue;
    }
    for (const auto& r : response.resources) {
      out << "Current ACLs for resource `" << pattern_text(r.resource_type, r.resource_name, r.pattern_type) << "`: \n";
      for (const auto& a : r.acls)
        out << " \t" << entry_text(a.principal, a.host, a.operation, a.permission_type) << " \n";
      out << "\n";
    }
  }
  return rc;
}

}  // namespace

int acl_add(const AclOptions& o, std::ostream& out, std::ostream& err) {
  return guarded(err, [&]() {
    auto rs = resources(o);
    if (rs.empty()) throw UsageError("name a resource: --topic, --group, --transactional-id or --cluster");
    auto es = entries(o);
    if (es.empty()) throw UsageError("name a principal: --allow-principal or --deny-principal");
    auto ops = operations(o, AclOperation::All);
    auto pt = pattern(o, false);
    protocol::CreateAclsRequest request;
    for (const auto& res : rs)
      for (const auto& e : es)
        for (auto op : ops) {
          auto& c = request.creations.emplace_back();
          c.resource_type = static_cast<int8_t>(res.type);
          c.resource_name = res.name;
          c.resource_pattern_type = static_cast<int8_t>(pt);
          c.principal = e.principal;
          c.host = e.host;
          c.operation = static_cast<int8_t>(op);
          c.permission_type = static_cast<int8_t>(e.permission);
        }
    auto client = connect(o);
    auto response = client->call<protocol::CreateAclsResponse>(request, 3);
    int rc = 0;
    for (size_t i = 0; i < response.results.size() && i < request.creations.size(); ++i) {
      const auto& r = response.results[i];
      if (r.error_code == 0) continue;
      const auto& c = request.creations[i];
      err << "Error while adding " << entry_text(c.principal, c.host, c.operation, c.permission_type) << " on "
          << pattern_text(c.resource_type, c.resource_name, c.resource_pattern_type) << ": "
          << error_text(r.error_code, r.error_message) << "\n";
      rc = 1;
    }
    if (rc == 0) {
      for (const auto& res : rs) {
        out << "Adding ACLs for resource `"
            << pattern_text(static_cast<int8_t>(res.type), res.name, static_cast<int8_t>(pt)) << "`: \n";
        for (const auto& e : es)
          for (auto op : ops)
            out << " \t" << entry_text(e.principal, e.host, static_cast<int8_t>(op), static_cast<int8_t>(e.permission))
                << " \n";
        out << "\n";
      }
    }
    return rc;
  });
}

int acl_list(const AclOptions& o, std::ostream& out, std::ostream& err) {
  return guarded(err, [&]() {
    auto client = connect(o);
    return print_acls(*client, o, out, err);
  });
}

int acl_remove(const AclOptions& o, std::ostream& out, std::ostream& err) {
  return guarded(err, [&]() {
    auto rs = resources(o);
    if (rs.empty()) throw UsageError("name a resource: --topic, --group, --transactional-id or --cluster");
    auto pt = pattern(o, true);
    auto es = entries(o);
    protocol::DeleteAclsRequest request;
    for (const auto& res : rs) {
      protocol::DeleteAclsRequest::DeleteAclsFilter f;
      f.resource_type_filter = static_cast<int8_t>(res.type);
      f.resource_name_filter = res.name;
      f.pattern_type_filter = static_cast<int8_t>(pt);
      f.operation = static_cast<int8_t>(AclOperation::Any);
      f.permission_type = static_cast<int8_t>(AclPermission::Any);
      f.principal_filter = f.host_filter = std::nullopt;  // null: any
      if (es.empty()) {
        request.filters.push_back(f);  // every ACL of the resource
        continue;
      }
      for (const auto& e : es)
        for (auto op : operations(o, AclOperation::Any)) {
          auto g = f;
          g.principal_filter = e.principal;
          g.host_filter = e.host;
          g.operation = static_cast<int8_t>(op);
          g.permission_type = static_cast<int8_t>(e.permission);
          request.filters.push_back(g);
        }
    }
    auto client = connect(o);
    auto response = client->call<protocol::DeleteAclsResponse>(request, 3);
    int rc = 0;
    for (const auto& r : response.filter_results) {
      if (r.error_code != 0) {
        err << "Error: " << error_text(r.error_code, r.error_message) << "\n";
        rc = 1;
        continue;
      }
      for (const auto& m : r.matching_acls)
        out << "Removed " << entry_text(m.principal, m.host, m.operation, m.permission_type) << " from "
            << pattern_text(m.resource_type, m.resource_name, m.pattern_type) << "\n";
    }
    return rc;
  });
}

}  // namespace runnel::app
