#pragma once
// `runnel completion bash`: a bash completion script for the command line,
// generated from the CLI11 command tree itself (every subcommand and
// option), so it never falls behind the commands. zsh users load it with
// `autoload -U bashcompinit && bashcompinit`.
//
// Thread-safety: reads the (finished) command tree only.
#include <string>

namespace CLI {
class App;
}

namespace runnel::app {

std::string bash_completion(const CLI::App& app, const std::string& program = "runnel");

}  // namespace runnel::app
