#include "app/table.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace runnel::app {

void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return;
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

void print_report(std::ostream& out, bool json, const nlohmann::json& doc,
                  const std::vector<std::vector<std::string>>& rows) {
  if (json)
    out << doc.dump(2) << "\n";
  else
    print_table(out, rows);
}

std::string node_ids_cell(const std::vector<int32_t>& ids) {
  std::string out;
  for (auto id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out.empty() ? "-" : out;
}

}  // namespace runnel::app
