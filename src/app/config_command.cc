#include "app/config_command.h"

#include <nlohmann/json.hpp>

#include "app/admin_client.h"
#include "app/table.h"
#include "config/dynamic_broker_config.h"
#include "protocol/messages.h"

namespace runnel::app {
int describe_config(const ConfigCommandOptions& o, std::ostream& out, std::ostream& err) {
  try {
    AdminClient client(o.bootstrap);
    protocol::DescribeConfigsRequest req;
    auto& r = req.resources.emplace_back();
    r.resource_type = o.resource_type;
    r.resource_name = o.resource_name;
    r.configuration_keys.reset();
    auto resp = client.call<protocol::DescribeConfigsResponse>(req, 2);
    if (resp.results.empty()) throw AdminError("empty DescribeConfigs response");
    const auto& result = resp.results.front();
    if (result.error_code != 0) {
      err << "Error: " << error_text(result.error_code, result.error_message) << "\n";
      return 1;
    }
    nlohmann::json doc = nlohmann::json::array();
    std::vector<std::vector<std::string>> rows{{"NAME", "VALUE", "SOURCE", "READ_ONLY"}};
    for (const auto& c : result.configs) {
      std::string value = c.value.value_or("");
      doc.push_back({{"name", c.name},
                     {"value", value},
                     {"source", config_source_name(c.config_source)},
                     {"read_only", c.read_only}});
      rows.push_back({c.name, value, config_source_name(c.config_source), c.read_only ? "true" : "false"});
    }
    print_report(out, o.json, doc, rows);
    return 0;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

int alter_config(const ConfigCommandOptions& o, const std::map<std::string, std::string>& set,
                 const std::vector<std::string>& remove, std::ostream& out, std::ostream& err) {
  try {
    if (set.empty() && remove.empty()) {
      err << "Error: nothing to change (--set key=value, --delete key)\n";
      return 1;
    }
    AdminClient client(o.bootstrap);
    auto resp = client.incremental_alter_configs(o.resource_type, o.resource_name, set, remove);
    if (resp.responses.empty()) throw AdminError("empty IncrementalAlterConfigs response");
    const auto& result = resp.responses.front();
    std::string what = result.error_code == 0 ? "OK" : error_text(result.error_code, result.error_message);
    const bool group = o.resource_type == kGroupConfigResource;
    std::string entity = o.resource_name.empty() ? "<default>" : o.resource_name;
    if (o.json)
      out << nlohmann::json{{group ? "group" : "broker", entity}, {"ok", result.error_code == 0}, {"status", what}}
                 .dump(2)
          << "\n";
    else
      print_table(out, {{group ? "GROUP" : "BROKER", "STATUS"}, {entity, what}});
    return result.error_code == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace runnel::app
