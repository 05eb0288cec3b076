#pragma once
// The error every configuration check throws: its message names the key.
#include <stdexcept>

namespace runnel {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace runnel
