#pragma once
// The crash-safe replacement of a run of segments by one cleaned segment
// (the log cleaner's swap; storage/FORMAT.md, "Compaction"). The cleaner
// writes and syncs `<base>.log.cleaned`, `.index.cleaned`,
// `.timeindex.cleaned` and `.txnindex.cleaned`; the swap then
//  1. writes the intent `<base>.swap` (a checkpoint holding the end offset
//     of the replaced run) durably: the commit point, whose directory sync
//     also makes the cleaned names durable;
//  2. renames `<base>.log.cleaned` over `<base>.log` and syncs the directory;
//  3. renames each cleaned index over its file;
//  4. removes every file of the segments whose base lies in (base, end);
//  5. syncs the directory and removes the intent (and syncs again).
// Every step is idempotent and each is decided by what is on disk (a
// `.cleaned` file still there has not been renamed), so open() completes an
// intent it finds (complete_swap) whatever the crash left, and deletes
// `.cleaned` files that have no intent (a swap that never committed).
//
// Thread-safety: free functions; the caller owns the partition directory
// (its shard, or open()).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/env.h"
#include "storage/file_cache.h"

namespace runnel::storage {

inline constexpr const char* kSwapSuffix = ".swap";

// The intent file of a swap at `base`.
std::filesystem::path swap_intent_path(const std::filesystem::path& dir, int64_t base);
// Step 1. False (errno set) when it could not be made durable.
[[nodiscard]] bool write_swap_intent(Env& env, const std::filesystem::path& dir, int64_t base, int64_t end);
// Steps 2-5 (`files`, if given, forgets the paths it replaces or removes).
// False (errno set) on an I/O error; the intent then stays for the next try.
[[nodiscard]] bool complete_swap(Env& env, FileCache* files, const std::filesystem::path& dir, int64_t base,
                                 int64_t end);
// At open(), before the segments are listed: completes every intent in
// `dir` and deletes stray `.cleaned` files. False (errno set) on I/O errors.
[[nodiscard]] bool recover_swaps(Env& env, FileCache* files, const std::filesystem::path& dir);

}  // namespace runnel::storage
