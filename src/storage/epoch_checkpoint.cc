#include "storage/epoch_checkpoint.h"

#include <charconv>
#include <cstdint>

namespace runnel::storage {
namespace {

// Splits off the next line (without its '\n'); false at the end of the text
// or when the last line lacks its newline (a file cut short).
bool next_line(std::string_view& text, std::string_view& line) {
  auto nl = text.find('\n');
  if (nl == std::string_view::npos) return false;
  line = text.substr(0, nl);
  text.remove_prefix(nl + 1);
  return true;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

void skip_spaces(std::string_view& s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
}

// One decimal integer, optionally preceded by spaces.
template <typename T>
bool take_int(std::string_view& s, T& out) {
  skip_spaces(s);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || end == s.data()) return false;
  s.remove_prefix(static_cast<size_t>(end - s.data()));
  return true;
}

bool only_spaces(std::string_view s) {
  skip_spaces(s);
  return s.empty();
}

}  // namespace

std::string encode_epoch_checkpoint(const std::vector<EpochEntry>& entries) {
  std::string out = std::to_string(kEpochCheckpointVersion) + "\n" + std::to_string(entries.size()) + "\n";
  for (const auto& e : entries)
    out += std::to_string(e.epoch.value()) + " " + std::to_string(e.start_offset.value()) + "\n";
  return out;
}

std::optional<std::vector<EpochEntry>> decode_epoch_checkpoint(std::string_view text) {
  std::string_view line;
  int version = -1;
  if (!next_line(text, line) || !take_int(line, version) || !only_spaces(line) || version != kEpochCheckpointVersion)
    return std::nullopt;
  int64_t count = -1;
  if (!next_line(text, line) || !take_int(line, count) || !only_spaces(line) || count < 0) return std::nullopt;
  // Each entry needs at least 4 bytes ("0 0\n"): a count the text cannot hold
  // is refused before anything is reserved.
  if (static_cast<uint64_t>(count) > text.size() / 4) return std::nullopt;
  std::vector<EpochEntry> entries;
  entries.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    int32_t epoch = 0;
    int64_t offset = 0;
    if (!next_line(text, line) || !take_int(line, epoch) || line.empty() || !is_space(line.front()) ||
        !take_int(line, offset) || !only_spaces(line))
      return std::nullopt;
    if (epoch < 0 || offset < 0) return std::nullopt;
    if (!entries.empty() && (epoch <= entries.back().epoch.value() || offset < entries.back().start_offset.value()))
      return std::nullopt;
    entries.push_back({LeaderEpoch(epoch), Offset(offset)});
  }
  // Kafka refuses lines past the announced count; so do we (blank ones aside).
  while (next_line(text, line))
    if (!only_spaces(line)) return std::nullopt;
  if (!only_spaces(text)) return std::nullopt;
  return entries;
}

}  // namespace runnel::storage
