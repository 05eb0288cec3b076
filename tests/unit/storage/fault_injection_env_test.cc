// The power-loss model itself (FaultInjectionEnv): what a simulated power
// loss keeps of file contents and of directory entries, so that the storage
// tests built on it test the disk they claim to.
#include "storage/fault_injection_env.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "test_util.h"

namespace runnel::storage {
namespace {
using testing::TempDir;

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

// Writes `text` as the whole of `path`, synced (and its name too when `entry`).
void write_synced(FaultInjectionEnv& env, const std::filesystem::path& path, const std::string& text,
                  bool entry = true) {
  auto file = env.open(path, true);
  ASSERT_TRUE(file);
  ASSERT_TRUE(env.truncate(*file, 0));
  ASSERT_TRUE(env.pwrite(*file, 0, bytes(text)));
  ASSERT_TRUE(env.sync(*file));
  if (entry) {
    ASSERT_TRUE(env.sync_dir(path.parent_path()));
  }
}

std::string contents(const std::filesystem::path& path) {
  std::vector<uint8_t> out;
  if (!Env::posix()->read_file(path, out)) return "<missing>";
  return {out.begin(), out.end()};
}

TEST(FaultInjectionEnv, ACreationIsDurableOnlyOnceItsDirectoryIsSynced) {
  TempDir dir;
  FaultInjectionEnv env;
  write_synced(env, dir.path() / "named", "kept");
  write_synced(env, dir.path() / "unnamed", "data synced, name not", /*entry=*/false);
  EXPECT_EQ(env.pending_dir_changes(), 1u);
  env.drop_unsynced_data();
  EXPECT_EQ(contents(dir.path() / "named"), "kept");
  EXPECT_EQ(contents(dir.path() / "unnamed"), "<missing>");
}

TEST(FaultInjectionEnv, AnUnsyncedRenameIsUndoneAndTheReplacedFileComesBack) {
  TempDir dir;
  FaultInjectionEnv env;
  write_synced(env, dir.path() / "checkpoint", "old");
  write_synced(env, dir.path() / "checkpoint.tmp", "new", /*entry=*/false);
  ASSERT_TRUE(env.rename(dir.path() / "checkpoint.tmp", dir.path() / "checkpoint"));
  EXPECT_EQ(contents(dir.path() / "checkpoint"), "new");
  env.drop_unsynced_data();
  EXPECT_EQ(contents(dir.path() / "checkpoint"), "old");
  EXPECT_EQ(contents(dir.path() / "checkpoint.tmp"), "<missing>");  // its creation was not durable either

  // The same, with the directory synced after the rename: the new file stays.
  write_synced(env, dir.path() / "checkpoint.tmp", "new");
  ASSERT_TRUE(env.rename(dir.path() / "checkpoint.tmp", dir.path() / "checkpoint"));
  ASSERT_TRUE(env.sync_dir(dir.path()));
  env.drop_unsynced_data();
  EXPECT_EQ(contents(dir.path() / "checkpoint"), "new");
  EXPECT_EQ(contents(dir.path() / "checkpoint.tmp"), "<missing>");
}

TEST(FaultInjectionEnv, ARenamedFileTakesItsUnsyncedBytesAlongAndBack) {
  TempDir dir;
  FaultInjectionEnv env;
  write_synced(env, dir.path() / "a", "synced");
  {
    auto file = env.open(dir.path() / "a", false);
    ASSERT_TRUE(env.pwrite(*file, 6, bytes("+unsynced")));
  }
  ASSERT_TRUE(env.rename(dir.path() / "a", dir.path() / "b"));
  env.drop_unsynced_data();
  EXPECT_EQ(contents(dir.path() / "a"), "synced");
  EXPECT_EQ(contents(dir.path() / "b"), "<missing>");
}

TEST(FaultInjectionEnv, AnUnsyncedRemovalIsUndoneWithWhatWasDurableOfTheFile) {
  TempDir dir;
  FaultInjectionEnv env;
  write_synced(env, dir.path() / "segment", "durable");
  {
    auto file = env.open(dir.path() / "segment", false);
    ASSERT_TRUE(env.pwrite(*file, 0, bytes("OVER")));   // an unsynced overwrite
    ASSERT_TRUE(env.pwrite(*file, 7, bytes(" tail")));  // and an unsynced append
  }
  ASSERT_TRUE(env.remove(dir.path() / "segment"));
  env.drop_unsynced_data();
  EXPECT_EQ(contents(dir.path() / "segment"), "durable");

  ASSERT_TRUE(env.remove(dir.path() / "segment"));
  ASSERT_TRUE(env.sync_dir(dir.path()));
  env.drop_unsynced_data();
  EXPECT_EQ(contents(dir.path() / "segment"), "<missing>");
}

TEST(FaultInjectionEnv, AFileThatWasThereBeforeComesBackWhole) {
  TempDir dir;
  ASSERT_TRUE(Env::posix()->write_file_atomic(dir.path() / "old", bytes("from an earlier run")));
  FaultInjectionEnv env;
  ASSERT_TRUE(env.remove(dir.path() / "old"));
  env.drop_unsynced_data();
  EXPECT_EQ(contents(dir.path() / "old"), "from an earlier run");
}

TEST(FaultInjectionEnv, SyncingOneDirectoryLeavesAnothersChangesPending) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "p0");
  std::filesystem::create_directories(dir.path() / "p1");
  FaultInjectionEnv env;
  write_synced(env, dir.path() / "p0" / "f", "zero", /*entry=*/false);
  write_synced(env, dir.path() / "p1" / "f", "one", /*entry=*/false);
  ASSERT_TRUE(env.sync_dir(dir.path() / "p0"));
  env.drop_unsynced_data();
  EXPECT_EQ(contents(dir.path() / "p0" / "f"), "zero");
  EXPECT_EQ(contents(dir.path() / "p1" / "f"), "<missing>");
}

TEST(FaultInjectionEnv, SyncOfADirectoryHandleCountsAsItsSync) {
  TempDir dir;
  FaultInjectionEnv env;
  write_synced(env, dir.path() / "f", "x", /*entry=*/false);
  auto handle = env.open_dir(dir.path());
  ASSERT_TRUE(handle);
  ASSERT_TRUE(env.sync(*handle));
  EXPECT_EQ(env.pending_dir_changes(), 0u);
  env.drop_unsynced_data();
  EXPECT_EQ(contents(dir.path() / "f"), "x");
}

TEST(FaultInjectionEnv, ASyncOfTheFileSystemMakesEveryChangeDurable) {
  TempDir dir;
  FaultInjectionEnv env;
  write_synced(env, dir.path() / "a", "a");
  auto any = env.open_dir(dir.path());
  write_synced(env, dir.path() / "b", "b", /*entry=*/false);
  ASSERT_TRUE(env.remove(dir.path() / "a"));
  ASSERT_TRUE(env.sync_filesystem(*any));
  env.drop_unsynced_data();
  EXPECT_EQ(contents(dir.path() / "a"), "<missing>");
  EXPECT_EQ(contents(dir.path() / "b"), "b");
}

// With a seed, each directory keeps a prefix of its pending changes: over
// many seeds every prefix of "create x, rename x -> y, remove z" shows up,
// and nothing else does.
TEST(FaultInjectionEnv, APowerLossKeepsAPrefixOfTheChangesInOrder) {
  std::set<std::string> outcomes;
  for (uint64_t seed = 1; seed <= 64; ++seed) {
    TempDir dir;
    FaultInjectionEnv env;
    write_synced(env, dir.path() / "z", "z");
    write_synced(env, dir.path() / "x", "x", /*entry=*/false);
    ASSERT_TRUE(env.rename(dir.path() / "x", dir.path() / "y"));
    ASSERT_TRUE(env.remove(dir.path() / "z"));
    env.drop_unsynced_data(seed);
    outcomes.insert(contents(dir.path() / "x") + "," + contents(dir.path() / "y") + "," + contents(dir.path() / "z"));
  }
  const std::set<std::string> prefixes{
      "<missing>,<missing>,z",  // none
      "x,<missing>,z",          // the creation
      "<missing>,x,z",          // and the rename
      "<missing>,x,<missing>",  // all three
  };
  EXPECT_EQ(outcomes, prefixes);
}

TEST(FaultInjectionEnv, ANewDirectoryGoesWithItsFilesUntilItsParentIsSynced) {
  TempDir dir;
  FaultInjectionEnv env;
  ASSERT_TRUE(env.create_dirs(dir.path() / "a" / "b"));
  write_synced(env, dir.path() / "a" / "b" / "f", "synced with its directory");
  env.drop_unsynced_data();
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "a"));

  ASSERT_TRUE(env.create_dirs_durably(dir.path() / "a" / "b"));
  EXPECT_EQ(env.pending_dir_changes(), 0u);
  write_synced(env, dir.path() / "a" / "b" / "f", "kept");
  env.drop_unsynced_data();
  EXPECT_EQ(contents(dir.path() / "a" / "b" / "f"), "kept");
}

TEST(FaultInjectionEnv, ADirectoryRenameTakesItsFilesBookkeepingAlong) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "from");
  FaultInjectionEnv env;
  write_synced(env, dir.path() / "from" / "f", "synced");
  {
    auto file = env.open(dir.path() / "from" / "f", false);
    ASSERT_TRUE(env.pwrite(*file, 6, bytes(" and not")));
  }
  ASSERT_TRUE(env.rename(dir.path() / "from", dir.path() / "to"));
  env.drop_unsynced_data();
  EXPECT_EQ(contents(dir.path() / "to" / "f"), "synced");
}

}  // namespace
}  // namespace runnel::storage
