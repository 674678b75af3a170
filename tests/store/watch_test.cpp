// The change log and blocking watches.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include <xgate/store/store.hpp>

#include "store_engines.hpp"

namespace xs = xgate::store;
using xs::testing::StoreConformance;
using namespace std::chrono_literals;

TEST_P(StoreConformance, ChangesListEveryChangeUnderAPrefixThatThePrincipalMaySee) {
  xs::store s = open();
  const auto open = xgate::rights::owned_by("alice").readers({"*"});
  s.write("jobs/1", "<j/>", "alice", {.rights = open});            // 1
  s.write("jobs/secret", "<j/>", "alice");                         // 2
  s.write("other/x", "<o/>", "alice", {.rights = open});           // 3
  s.write("jobs/1", "<j>v2</j>", "alice");                         // 4
  s.take("jobs/1", "alice");                                       // 5
  s.write("jobs/2", "<j/>", "alice", {.rights = open, .lease = 1ms});  // 6
  s.reap(xs::clock::now() + 1s);                                   // 7
  s.remove("jobs/secret", "alice");                                // 8
  using k = xs::change_kind;
  EXPECT_EQ(s.changes("jobs", 0, "bob"), (std::vector<xs::change>{{1, k::written, "jobs/1"},
                                                                   {4, k::written, "jobs/1"},
                                                                   {5, k::removed, "jobs/1"},
                                                                   {6, k::written, "jobs/2"},
                                                                   {7, k::expired, "jobs/2"}}));
  EXPECT_EQ(s.changes("jobs", 5, "alice"), (std::vector<xs::change>{{6, k::written, "jobs/2"},
                                                                    {7, k::expired, "jobs/2"},
                                                                    {8, k::removed, "jobs/secret"}}));
  EXPECT_TRUE(s.changes("jobs", 8, "alice").empty());
  EXPECT_EQ(s.changes("", 2, "bob").size(), 5u);
}

TEST_P(StoreConformance, WatchWaitsForTheNextChange) {
  xs::store s = open();
  s.write("w/a", "<a/>", "alice");
  std::uint64_t after = s.revision();
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(s.watch("w", after, "alice", 100ms).empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);

  std::thread writer([&] {
    std::this_thread::sleep_for(50ms);
    s.write("elsewhere", "<e/>", "alice");  // not under the prefix: the watch keeps waiting
    std::this_thread::sleep_for(50ms);
    s.write("w/b", "<b/>", "alice");
  });
  std::vector<xs::change> seen = s.watch("w", after, "alice", 10s);
  writer.join();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].name, "w/b");
  EXPECT_EQ(seen[0].revision, after + 2);
}

TEST_P(StoreConformance, WatchSeesChangesMadeByAnotherProcess) {
  (void)open();  // created, and closed again: the engine's threads are gone before the fork
  // LMDB forbids opening one environment twice in a process, so the other writer is a child.
  // Forked while this process runs no other thread: a child inherits any lock another thread
  // held at the fork (the sanitizers' allocator's, once), and its own threads would wait on it.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::this_thread::sleep_for(50ms);
    try {
      xs::store other = open();
      other.write("w/x", "<x/>", "alice");
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  xs::store s = open();
  std::vector<xs::change> seen = s.watch("w", 0, "alice", 10s);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].name, "w/x");
}

TEST_P(StoreConformance, AWatchTooFarBehindIsTold) {
  xs::store s = open({.kept_changes = 3});
  for (int i = 0; i < 6; ++i) s.write("h/" + std::to_string(i), "<x/>", "alice");
  EXPECT_EQ(s.changes("h", 3, "alice").size(), 3u);
  try {
    (void)s.changes("h", 2, "alice");
    FAIL() << "no error";
  } catch (const xs::store_error& e) {
    EXPECT_EQ(e.code(), xs::store_errc::history_lost);
    EXPECT_STREQ(e.what(), "store: watch \"h\": changes after revision 2 are no longer kept (oldest kept: 4)");
  }
}

TEST_P(StoreConformance, TheChangeLogKeepsChangesForItsAge) {
  xs::store s = open({.kept_changes = 1000, .kept_age = 1s});
  for (int i = 0; i < 3; ++i) s.write("age/" + std::to_string(i), "<x/>", "alice");
  std::uint64_t before = s.revision();
  std::this_thread::sleep_for(1200ms);
  s.write("age/late", "<x/>", "alice");  // drops what is older than a second
  xs::store_error e = xs::testing::catch_store_error([&] { (void)s.changes("age", 0, "alice"); });
  EXPECT_EQ(e.code(), xs::store_errc::history_lost);
  EXPECT_STREQ(e.what(), ("store: watch \"age\": changes after revision 0 are no longer kept (oldest kept: " +
                          std::to_string(before + 1) + ")").c_str());
  auto kept = s.changes("age", before, "alice");
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].name, "age/late");
}

TEST_P(StoreConformance, ChangesComeInPagesUpToALimit) {
  xs::store s = open();
  for (int i = 0; i < 5; ++i) {
    s.write("l/" + std::to_string(i), "<x/>", "alice");
    s.write("other/" + std::to_string(i), "<x/>", "alice");  // not counted against the limit
  }
  std::vector<std::string> seen;
  for (std::uint64_t after = 0;;) {
    auto page = s.changes("l", after, "alice", 2);
    ASSERT_LE(page.size(), 2u);
    if (page.empty()) break;
    for (auto& c : page) seen.push_back(c.name);
    after = page.back().revision;  // where the next page goes on
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"l/0", "l/1", "l/2", "l/3", "l/4"}));
  EXPECT_EQ(s.watch("l", 0, "alice", 0ms, {}, 3).size(), 3u);
}

TEST_P(StoreConformance, AWatcherCallsBackWithEveryChange) {
  xs::store s = open();
  s.write("cb/before", "<x/>", "alice");
  std::mutex m;
  std::condition_variable cv;
  std::vector<xs::change> seen;
  {
    xs::watcher w(s, "cb", s.revision(), "alice", [&](const std::vector<xs::change>& c) {
      std::lock_guard lock(m);
      seen.insert(seen.end(), c.begin(), c.end());
      cv.notify_all();
    });
    s.write("cb/1", "<x/>", "alice");
    s.write("elsewhere", "<x/>", "alice");
    s.remove("cb/1", "alice");
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return seen.size() >= 2; }));
    EXPECT_FALSE(w.stopped());
  }  // the destructor stops the watcher without waiting for a change
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].name, "cb/1");
  EXPECT_EQ(seen[0].kind, xs::change_kind::written);
  EXPECT_EQ(seen[1].kind, xs::change_kind::removed);
}

TEST_P(StoreConformance, AWatcherStopsOnErrorsAndKeepsThem) {
  xs::store s = open({.kept_changes = 2});
  for (int i = 0; i < 5; ++i) s.write("e/" + std::to_string(i), "<x/>", "alice");
  xs::watcher w(s, "e", 0, "alice", [](const std::vector<xs::change>&) {});
  for (int i = 0; i < 1000 && !w.stopped(); ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(w.stopped());
  ASSERT_TRUE(w.error());
  try {
    std::rethrow_exception(w.error());
  } catch (const xs::store_error& e) {
    EXPECT_EQ(e.code(), xs::store_errc::history_lost);
  }
}

TEST_P(StoreConformance, AnExpiredDocumentReplacedBeforeReapingIsSeenToExpire) {
  xs::store s = open();
  s.write("x/a", "<a/>", "alice", {.lease = 1ms});  // 1
  std::this_thread::sleep_for(5ms);
  s.write("x/a", "<b/>", "alice");                  // 2: expired, 3: written
  using k = xs::change_kind;
  EXPECT_EQ(s.changes("x", 0, "alice"),
            (std::vector<xs::change>{{1, k::written, "x/a"}, {2, k::expired, "x/a"}, {3, k::written, "x/a"}}));
  EXPECT_EQ(s.info("x/a", "alice").revision, 3u);
}

TEST_P(StoreConformance, ASmallerChangeWindowAfterReopenLeavesNoHiddenGap) {
  {
    xs::store s = open();
    for (int i = 0; i < 10; ++i) s.write("g/" + std::to_string(i), "<x/>", "alice");
  }
  xs::store s = open({.kept_changes = 3});
  s.write("g/last", "<x/>", "alice");  // revision 11: keeps 9, 10, 11
  EXPECT_EQ(s.changes("g", 8, "alice").size(), 3u);
  EXPECT_THROW((void)s.changes("g", 5, "alice"), xs::store_error);
}
