// FileCache: LRU eviction, handles in use survive eviction, and random
// operations against a trivial model of the cache.
#include "storage/file_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <list>
#include <map>
#include <random>

#include "test_util.h"

namespace runnel::storage {
namespace {
using testing::TempDir;

bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(FileCache, EvictsLeastRecentlyUsed) {
  TempDir dir;
  FileCache cache(Env::posix(), 3);
  auto path = [&](const char* n) { return dir.path() / n; };
  int a = cache.get(path("a"), true).file->fd();
  (void)cache.get(path("b"), true);
  (void)cache.get(path("c"), true);
  EXPECT_EQ(cache.get(path("a")).file->fd(), a) << "a hit";
  (void)cache.get(path("d"), true);  // evicts b, the least recently used
  EXPECT_EQ(cache.open_count(), 3u);
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_EQ(cache.stats().opens, 4u);
  (void)cache.get(path("a"));
  (void)cache.get(path("c"));
  (void)cache.get(path("d"));
  EXPECT_EQ(cache.stats().opens, 4u) << "a, c and d are still cached";
  (void)cache.get(path("b"));
  EXPECT_EQ(cache.stats().opens, 5u) << "b was not";
}

TEST(FileCache, MissingFileWithoutCreateFailsWithErrno) {
  TempDir dir;
  FileCache cache(Env::posix(), 3);
  auto r = cache.get(dir.path() / "nope");
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error, ENOENT);
  EXPECT_EQ(cache.open_count(), 0u);
}

TEST(FileCache, HandlesInUseAreNeverClosed) {
  TempDir dir;
  FileCache cache(Env::posix(), 2);
  auto held = cache.get(dir.path() / "held", true).file;
  for (int i = 0; i < 50; ++i) (void)cache.get(dir.path() / std::to_string(i), true);
  EXPECT_TRUE(fd_open(held->fd()));
  EXPECT_EQ(cache.get(dir.path() / "held").file, held) << "in use, hence not evicted";
  EXPECT_EQ(cache.in_use_count(), 1u);
  // Erased (the file is being deleted): the holder keeps a working descriptor.
  cache.erase(dir.path() / "held");
  EXPECT_TRUE(fd_open(held->fd()));
  int fd = held->fd();
  held.reset();
  EXPECT_FALSE(fd_open(fd)) << "closed with its last reference";
}

TEST(FileCache, OvershootsRatherThanCloseWhatIsInUse) {
  TempDir dir;
  FileCache cache(Env::posix(), 2);
  std::vector<std::shared_ptr<FileHandle>> held;
  for (int i = 0; i < 5; ++i) held.push_back(cache.get(dir.path() / std::to_string(i), true).file);
  EXPECT_EQ(cache.open_count(), 5u);
  held.clear();
  (void)cache.get(dir.path() / "x", true);
  EXPECT_EQ(cache.open_count(), 2u) << "back under capacity once released";
}

TEST(FileCache, ReadersStopAtOneAndAHalfTimesTheCapacity) {
  TempDir dir;
  FileCache cache(Env::posix(), 4);
  for (int i = 0; i < 10; ++i) (void)cache.get(dir.path() / std::to_string(i), true);
  std::vector<std::shared_ptr<FileHandle>> held;
  for (int i = 0; i < 10; ++i) {
    auto r = cache.get_for_read(dir.path() / std::to_string(i));
    if (!r) {
      EXPECT_EQ(r.error, EAGAIN);
      break;
    }
    held.push_back(r.file);
  }
  EXPECT_EQ(held.size(), 6u) << "4 + 4/2 handles held by readers";
  EXPECT_EQ(cache.open_count(), 6u);
  EXPECT_EQ(cache.stats().reads_refused, 1u);
  EXPECT_TRUE(cache.get_for_read(dir.path() / "0")) << "a hit needs no room";
  EXPECT_TRUE(cache.get(dir.path() / "9")) << "writers and copying readers are not bounded";
  EXPECT_EQ(cache.open_count(), 7u);
  held.clear();
  EXPECT_TRUE(cache.get_for_read(dir.path() / "8")) << "room again once the handles are let go";
}

TEST(FileCache, TrimClosesWhatRespondersLetGo) {
  TempDir dir;
  FileCache cache(Env::posix(), 2);
  std::vector<std::shared_ptr<FileHandle>> held;
  for (int i = 0; i < 5; ++i) held.push_back(cache.get(dir.path() / std::to_string(i), true).file);
  int last = held.back()->fd();
  cache.trim();
  EXPECT_EQ(cache.open_count(), 5u) << "all in use";
  held.pop_back();
  held.erase(held.begin());
  cache.trim();
  EXPECT_EQ(cache.open_count(), 3u) << "two let go, both closed: three still held";
  EXPECT_FALSE(fd_open(last));
  held.clear();
  cache.trim();
  EXPECT_EQ(cache.open_count(), 2u) << "back to the capacity, the most recently used kept";
}

TEST(FileCache, EraseUnderForgetsADirectory) {
  TempDir dir;
  FileCache cache(Env::posix(), 10);
  std::filesystem::create_directories(dir.path() / "t-0");
  std::filesystem::create_directories(dir.path() / "t-00");
  (void)cache.get(dir.path() / "t-0" / "a", true);
  (void)cache.get(dir.path() / "t-0" / "b", true);
  (void)cache.get(dir.path() / "t-00" / "a", true);
  (void)cache.get(dir.path() / "t-0", false, /*directory=*/true);
  cache.erase_under(dir.path() / "t-0");
  EXPECT_EQ(cache.open_count(), 1u);
}

// A partition directory deleted and made again at the same path: the
// directory handle the log syncs (to make new segment names durable) must be
// the new directory's, not the deleted one's.
TEST(FileCache, ADirectoryMadeAgainGetsANewHandle) {
  TempDir dir;
  FileCache cache(Env::posix(), 10);
  const auto partition = dir.path() / "t-0";
  std::filesystem::create_directories(partition);
  auto before = cache.get(partition, false, /*directory=*/true);
  ASSERT_TRUE(before.file);
  before = {};
  cache.erase_under(partition);
  std::filesystem::remove_all(partition);
  std::filesystem::create_directories(partition);
  auto after = cache.get(partition, false, /*directory=*/true);
  ASSERT_TRUE(after.file);
  struct stat new_st {
  }, on_disk{};
  ASSERT_EQ(::fstat(after.file->fd(), &new_st), 0);
  ASSERT_EQ(::stat(partition.c_str(), &on_disk), 0);
  EXPECT_EQ(new_st.st_ino, on_disk.st_ino);
  EXPECT_NE(new_st.st_nlink, 0u) << "the handle is of the deleted directory";
}

// Random gets, releases, erases and evictions against a model: which paths
// are cached (in LRU order, in-use ones moved to the front when skipped),
// which handles are held. After each step: the cache opened exactly when the
// model missed, holds as many descriptors as the model, and every held
// descriptor is open.
TEST(FileCache, RandomOperationsMatchModel) {
  TempDir dir;
  std::mt19937 rng(7);
  const size_t capacity = 5;
  FileCache cache(Env::posix(), capacity);
  std::list<std::string> lru;  // most recent first
  std::multimap<std::string, std::shared_ptr<FileHandle>> held;
  std::map<std::string, const FileHandle*> current;  // the cached handle of each path
  // In use: someone holds the very handle cached (not one of an erased entry).
  auto in_use = [&](const std::string& k) {
    auto [from, to] = held.equal_range(k);
    for (auto it = from; it != to; ++it)
      if (it->second.get() == current[k]) return true;
    return false;
  };
  auto evict = [&](size_t target) {
    size_t steps = lru.size();
    while (lru.size() > target && steps-- > 0) {
      auto k = lru.back();
      lru.pop_back();
      if (in_use(k)) lru.push_front(k);
    }
  };
  uint64_t opens = 0;
  for (int step = 0; step < 5000; ++step) {
    int op = static_cast<int>(rng() % 10);
    std::string name = "f" + std::to_string(rng() % 12);
    auto path = dir.path() / name;
    if (op < 6) {
      auto it = std::find(lru.begin(), lru.end(), path.string());
      if (it != lru.end()) {
        lru.splice(lru.begin(), lru, it);
      } else {
        evict(capacity - 1);
        lru.push_front(path.string());
        ++opens;
      }
      auto r = cache.get(path, true);
      ASSERT_TRUE(r);
      current[path.string()] = r.file.get();
      if (rng() % 3 == 0) held.emplace(path.string(), r.file);
    } else if (op < 8) {
      if (!held.empty()) {
        auto it = held.begin();
        std::advance(it, rng() % held.size());
        held.erase(it);
      }
    } else if (op == 8) {
      cache.erase(path);
      lru.remove(path.string());
      current.erase(path.string());
    } else {
      cache.evict_unused();
      evict(0);
    }
    ASSERT_EQ(cache.stats().opens, opens) << "step " << step;
    ASSERT_EQ(cache.open_count(), lru.size()) << "step " << step;
    for (auto& [_, h] : held) ASSERT_TRUE(fd_open(h->fd()));
  }
}

// Out of descriptors: the cache closes what it can and opens again.
TEST(FileCache, RecoversFromEmfileByEvicting) {
  TempDir dir;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    FileCache cache(Env::posix(), 1000);
    for (int i = 0; i < 40; ++i) (void)cache.get(dir.path() / std::to_string(i), true);
    // Leave room for nothing more.
    int highest = 0;
    for (int fd = 0; fd < 4096; ++fd)
      if (fd_open(fd)) highest = fd;
    struct rlimit rl {
      static_cast<rlim_t>(highest + 1), static_cast<rlim_t>(highest + 1)
    };
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) ::_exit(2);
    while (::dup(0) >= 0) {
    }  // fill any gaps below the limit
    auto r = cache.get(dir.path() / "one-more", true);
    ::_exit(r && cache.open_count() == 1 ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace runnel::storage
