#include "storage/segment_swap.h"

#include <cerrno>
#include <charconv>

#include "storage/checkpoint.h"
#include "storage/log_cleaner.h"
#include "storage/segment.h"
#include "storage/txn_index.h"

namespace runnel::storage {
namespace {

const char* const kSegmentSuffixes[] = {".log", ".index", ".timeindex", kTxnIndexSuffix};

// "<20 digits><suffix>" -> the digits' value.
std::optional<int64_t> parse_stem(const std::string& name, const std::string& suffix) {
  if (name.size() != 20 + suffix.size() || !name.ends_with(suffix)) return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + 20, value);
  if (ec != std::errc() || end != name.data() + 20 || value < 0) return std::nullopt;
  return value;
}

bool replace(Env& env, FileCache* files, const std::filesystem::path& from, const std::filesystem::path& to) {
  if (!env.exists(from)) return true;  // renamed before
  if (files) files->erase(to);
  return env.rename(from, to);
}

}  // namespace

std::filesystem::path swap_intent_path(const std::filesystem::path& dir, int64_t base) {
  return dir / (Segment::file_stem(base) + kSwapSuffix);
}

bool write_swap_intent(Env& env, const std::filesystem::path& dir, int64_t base, int64_t end) {
  return write_checkpoint(env, swap_intent_path(dir, base), end, /*durable=*/true);
}

bool complete_swap(Env& env, FileCache* files, const std::filesystem::path& dir, int64_t base, int64_t end) {
  const std::string stem = Segment::file_stem(base);
  // The log first, made durable before any index follows it: a `.cleaned`
  // index can then be trusted to belong with whichever log is in place.
  if (!replace(env, files, dir / (stem + ".log" + kCleanedSuffix), dir / (stem + ".log"))) return false;
  if (!env.sync_dir(dir)) return false;
  for (size_t i = 1; i < std::size(kSegmentSuffixes); ++i) {
    std::string name = stem + kSegmentSuffixes[i];
    if (!replace(env, files, dir / (name + kCleanedSuffix), dir / name)) return false;
  }
  // The replaced segments after the first.
  for (const auto& name : env.list(dir)) {
    for (const char* suffix : kSegmentSuffixes) {
      auto b = parse_stem(name, suffix);
      if (!b || *b <= base || *b >= end) continue;
      if (files) files->erase(dir / name);
      if (!env.remove(dir / name) && env.exists(dir / name)) return false;
    }
  }
  if (!env.sync_dir(dir)) return false;
  if (!env.remove(swap_intent_path(dir, base)) && env.exists(swap_intent_path(dir, base))) return false;
  return env.sync_dir(dir);
}

bool recover_swaps(Env& env, FileCache* files, const std::filesystem::path& dir) {
  for (const auto& name : env.list(dir)) {
    auto base = parse_stem(name, kSwapSuffix);
    if (!base) continue;
    auto end = read_checkpoint(env, dir / name);
    if (!end) {
      // A torn intent was never committed (it is written atomically): the
      // old segments stand, the cleaned files go below.
      if (!env.remove(dir / name)) return false;
      continue;
    }
    if (!complete_swap(env, files, dir, *base, *end)) return false;
  }
  for (const auto& name : env.list(dir))
    if (name.ends_with(kCleanedSuffix) && !env.remove(dir / name)) return false;
  return true;
}

}  // namespace runnel::storage
