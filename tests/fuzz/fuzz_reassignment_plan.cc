// `runnel cluster reassign` reads an operator's plan and topics-to-move
// files: whatever their bytes, the parsers return or throw
// std::invalid_argument, never crash. Input: the first byte picks the
// parser, the rest is the file (or, for the argument parsers, the
// newline-separated arguments).
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/reassignment_plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    switch (data[0] % 4) {
      case 0:
        for (const auto& spec : runnel::app::parse_reassignment_json(text))
          if (!spec.log_dirs.empty() && spec.log_dirs.size() != spec.replicas.size()) __builtin_trap();
        break;
      case 1:
        (void)runnel::app::parse_topics_to_move_json(text);
        break;
      case 2:
        (void)runnel::app::parse_reassignment_spec(text);
        break;
      default: {
        std::vector<std::string> args;
        size_t start = 0;
        for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
          args.push_back(text.substr(start, nl - start));
        args.push_back(text.substr(start));
        (void)runnel::app::parse_partition_filter(args);
      }
    }
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
