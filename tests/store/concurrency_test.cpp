// Batches, concurrent takers, readers running while a writer writes, concurrent writers;
// on LMDB also while the map grows.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <xgate/store/store.hpp>

#include "store_engines.hpp"

namespace xs = xgate::store;
using xs::testing::lmdb_of;
using xs::testing::StoreConformance;
using xs::testing::StoreTest;

TEST_P(StoreConformance, BatchAppliesEverythingInOneTransaction) {
  xs::store s = open();
  s.write("b/old", "<old/>", "alice");
  xs::batch b;
  b.write("b/1", "<one/>").write("b/2", "<two/>", {.expected_revision = 0}).remove("b/old");
  std::vector<xs::document_info> w = s.apply(b, "alice");
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].name, "b/1");
  EXPECT_EQ(w[1].revision, w[0].revision + 1);
  EXPECT_EQ(s.revision(), w[1].revision + 1);  // the remove came last
  EXPECT_EQ(s.read("b/2", "alice").xml, "<two/>");
  EXPECT_FALSE(s.contains("b/old"));
}

TEST_P(StoreConformance, AFailingBatchLeavesNothingBehind) {
  xs::store s = open();
  s.write("b/1", "<one/>", "alice");
  s.write("b/bobs", "<bob/>", "bob");
  std::uint64_t rev = s.revision();
  auto attempt = [&](xs::batch b) {
    EXPECT_ANY_THROW(s.apply(b, "alice"));
    EXPECT_EQ(s.revision(), rev);
    EXPECT_EQ(s.read("b/1", "alice").xml, "<one/>");
    EXPECT_FALSE(s.contains("b/new"));
  };
  attempt(xs::batch().write("b/new", "<n/>").write("b/1", "<changed/>", {.expected_revision = 0}));
  attempt(xs::batch().write("b/new", "<n/>").write("b/1", "<changed/>").remove("b/bobs"));
  attempt(xs::batch().write("b/new", "<n/>").write("b/1", "<changed/>").write("b/bad", "<unclosed>"));
  attempt(xs::batch().write("b/new", "<n/>").remove("b/missing"));
  attempt(xs::batch().write("b/new", "<n/>").write("b//bad-name", "<x/>"));
}

TEST_P(StoreConformance, ConcurrentTakersNeverBothGetADocument) {
  xs::store s = open();
  constexpr int documents = 200, takers = 6;
  xs::batch b;
  for (int i = 0; i < documents; ++i)
    b.write("queue/" + std::to_string(i), "<job>" + std::to_string(i) + "</job>",
            {.rights = xgate::rights::owned_by("alice").readers({"*"}).deleters({"*"})});
  s.apply(b, "alice");

  std::mutex m;
  std::map<std::string, int> taken;  // name -> how many takers got it
  std::atomic<int> not_found{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < takers; ++k)
    threads.emplace_back([&, k] {
      for (int i = 0; i < documents; ++i) {
        std::string name = "queue/" + std::to_string((i + k * 7) % documents);
        try {
          xs::document d = s.take(name, "worker" + std::to_string(k));
          EXPECT_EQ(d.xml, "<job>" + name.substr(6) + "</job>");
          std::lock_guard lock(m);
          ++taken[name];
        } catch (const xs::store_error& e) {
          EXPECT_EQ(e.code(), xs::store_errc::not_found) << e.what();
          ++not_found;
        }
      }
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(taken.size(), std::size_t{documents});
  for (const auto& [name, count] : taken) EXPECT_EQ(count, 1) << name;
  EXPECT_EQ(not_found.load(), documents * (takers - 1));
  EXPECT_TRUE(s.list("queue", "alice").empty());
}

namespace {

// Readers running while a writer replaces one document and adds others never see a torn
// document or go back in time.
void readers_see_whole_documents(xs::store& s) {
  auto doc = [](int n) { return "<c><a>" + std::to_string(n) + "</a><pad>" + std::string(4000, 'p') + "</pad><b>" +
                                std::to_string(n) + "</b></c>"; };
  s.write("c/x", doc(0), "alice", {.rights = xgate::rights::owned_by("alice").readers({"*"})});
  constexpr int writes = 300;
  std::atomic<bool> done{false};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  for (int k = 0; k < 4; ++k)
    readers.emplace_back([&, k] {
      int last = 0;
      while (!done.load()) {
        xs::document d = s.read("c/x", "reader" + std::to_string(k));
        std::size_t a = d.xml.find("<a>") + 3, b = d.xml.find("<b>") + 3;
        int na = std::stoi(d.xml.substr(a)), nb = std::stoi(d.xml.substr(b));
        ASSERT_EQ(na, nb) << "a torn document";
        ASSERT_GE(na, last) << "a reader went back in time";
        ASSERT_EQ(d.xml, doc(na));
        last = na;
        ++reads;
      }
    });
  for (int n = 1; n <= writes; ++n) {
    s.write("c/x", doc(n), "alice");
    s.write("c/fill/" + std::to_string(n), doc(n), "alice");  // on a small LMDB map: makes it grow
  }
  done = true;
  for (std::thread& t : readers) t.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(s.read("c/x", "alice").xml, doc(writes));
}

// Concurrent writers (sharing commits, on LMDB): each write still succeeds or fails on its
// own, every acknowledged write is there, and revisions stay unique.
void concurrent_writers_fail_alone(xs::store& s) {
  constexpr int threads = 16, per_thread = 60;
  std::string big(20000, 'x');
  std::vector<std::thread> pool;
  std::mutex m;
  std::map<std::string, std::uint64_t> written;  // name -> revision acknowledged
  std::atomic<int> conflicts{0}, other_errors{0};
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        std::string name = "g/" + std::to_string(t) + "/" + std::to_string(i);
        try {
          if (i % 3 == 2) {
            // Compare-and-set against a revision the document never had: must fail, alone.
            s.write(name, "<c/>", "alice", {.expected_revision = 999999});
          } else {
            xs::document_info d = s.write(name, "<d>" + (i % 3 == 0 ? big : name) + "</d>", "alice");
            std::lock_guard lock(m);
            written[name] = d.revision;
          }
        } catch (const xs::store_error& e) {
          (e.code() == xs::store_errc::conflict ? conflicts : other_errors)++;
        }
      }
    });
  }
  for (std::thread& t : pool) t.join();
  EXPECT_EQ(conflicts.load(), threads * per_thread / 3);
  EXPECT_EQ(other_errors.load(), 0);
  ASSERT_EQ(written.size(), static_cast<std::size_t>(threads * per_thread * 2 / 3));
  std::set<std::uint64_t> revisions;
  for (auto& [name, revision] : written) {
    xs::document d = s.read(name, "alice");
    EXPECT_EQ(d.info.revision, revision) << name;
    EXPECT_TRUE(revisions.insert(revision).second) << "revision " << revision << " given twice";
  }
  EXPECT_EQ(s.revision(), written.size());  // failed writes took no revision
}

}  // namespace

TEST_P(StoreConformance, ReadersSeeWholeDocumentsWhileAWriterWrites) {
  xs::store s = open();
  readers_see_whole_documents(s);
}

TEST_F(StoreTest, ReadersSeeWholeDocumentsWhileAWriterWritesAndTheMapGrows) {
  // A small map so that the writer grows it while the readers are running.
  xs::store s(std::make_unique<xs::lmdb_engine>(dir, xs::lmdb_options{.initial_map_size = 128 * 1024}));
  std::size_t initial = lmdb_of(s).map_size();
  readers_see_whole_documents(s);
  EXPECT_GT(lmdb_of(s).map_size(), initial);
}

TEST_P(StoreConformance, ConcurrentWritersFailAlone) {
  xs::store s = open();
  concurrent_writers_fail_alone(s);
}

TEST_F(StoreTest, ConcurrentWritersShareCommitsButFailAlone) {
  xs::lmdb_options o;
  o.initial_map_size = std::size_t{1} << 20;  // small: the map must grow while groups run
  xs::store s(std::make_unique<xs::lmdb_engine>(dir, o));
  concurrent_writers_fail_alone(s);
  EXPECT_GT(lmdb_of(s).map_size(), o.initial_map_size);
}
