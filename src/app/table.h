#pragma once
// Plain-text tables for the command-line tools: left-aligned columns separated
// by two spaces, like Kafka's own tools print them.
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace runnel::app {

// rows[0] is the header; every row has as many cells as it.
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows);

// A command's report: `doc` as indented JSON (--format json), else `rows`
// as print_table prints them.
void print_report(std::ostream& out, bool json, const nlohmann::json& doc,
                  const std::vector<std::vector<std::string>>& rows);

// A list of broker ids as one cell: "1,2,3", or "-" when empty.
std::string node_ids_cell(const std::vector<int32_t>& ids);

}  // namespace runnel::app
