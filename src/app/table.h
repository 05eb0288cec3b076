#pragma once
// Plain-text tables for the command-line tools: left-aligned columns separated
// by two spaces, like Kafka's own tools print them.
#include <ostream>
#include <string>
#include <vector>

namespace runnel::app {

// rows[0] is the header; every row has as many cells as it.
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows);

}  // namespace runnel::app
