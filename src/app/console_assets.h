#pragma once
// The console's static files (src/console/*), built into the binary: the
// build turns each file into bytes in a generated console_assets.cc
// (cmake/embed_assets.cmake), so the browser fetches nothing from elsewhere
// and the binary needs no files beside it.
//
// Thread-safety: immutable data.
#include <string_view>

namespace runnel::app {

struct ConsoleAsset {
  std::string_view name;  // the file name under src/console, e.g. "console.js"
  std::string_view content_type;
  std::string_view data;
};

// The asset with this file name, or nullptr.
const ConsoleAsset* find_console_asset(std::string_view name);

}  // namespace runnel::app
