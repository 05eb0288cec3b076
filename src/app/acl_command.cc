#include "app/acl_command.h"

#include <cctype>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>

#include "app/admin_client.h"
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

// A connection to the bootstrap broker (secured as --command-config says:
// the command's Dialer, app/command_config.h).
std::unique_ptr<AdminClient> connect(const AclOptions& o) {
  return std::make_unique<AdminClient>(o.bootstrap, "runnel-acl");
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
