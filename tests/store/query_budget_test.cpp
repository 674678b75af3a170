// A query's budgets (query_options): time, memory, result, a stop request, values handed on
// as they come; and what a write must be (valid UTF-8). Conformance: every engine alike.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stop_token>
#include <thread>
#include <utility>

#include <xgate/store/store.hpp>

#include "store_engines.hpp"

namespace xs = xgate::store;
using xs::testing::catch_store_error;
using xs::testing::StoreConformance;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

// <r> around n empty <e/>: a small document with many elements.
std::string many_elements(int n) {
  std::string xml = "<r>";
  for (int i = 0; i < n; ++i) xml += "<e/>";
  return xml + "</r>";
}

// Quadratic: for every element, every element again.
constexpr const char* quadratic = "count(//*[count(//*)>0])";

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_P(StoreConformance, AQueryPastItsTimeBudgetStopsNamingTheBudget) {
  xs::store s = open();
  s.write("m/many", many_elements(200000), "alice");
  auto t0 = steady_clock::now();
  xs::store_error e = catch_store_error([&] { (void)s.query("m", quadratic, "alice", {.time_budget = milliseconds(300)}); });
  EXPECT_LT(steady_clock::now() - t0, std::chrono::seconds(3));
  EXPECT_EQ(e.reason(), xs::store_errc::query_too_expensive) << e.what();
  EXPECT_EQ(e.code(), xgate::condition::too_large);
  EXPECT_TRUE(has(e.what(), "store: query \"m\": XPath \"count(//*[count(//*)>0])\" on \"m/many\": ran past the query's time "
                            "budget of 300 ms"))
      << e.what();
  // the same document answers a cheap expression within the same budget
  auto r = s.query("m", "count(//e)", "alice", {.time_budget = milliseconds(5000)});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].values, std::vector<std::string>{"200000"});
}

TEST_P(StoreConformance, AQueryPastItsMemoryBudgetStopsNamingTheBudget) {
  xs::store s = open();
  s.write("m/many", many_elements(100000), "alice");  // 400 KB, a parsed tree of several MB
  xs::store_error e = catch_store_error([&] { (void)s.query("m", "count(//e)", "alice", {.memory_budget = 1 << 20}); });
  EXPECT_EQ(e.reason(), xs::store_errc::query_too_expensive) << e.what();
  EXPECT_TRUE(has(e.what(), "on \"m/many\": needs more than the query's memory budget of 1048576 bytes")) << e.what();
  // documents that do not even fit as copies are refused before any is parsed
  e = catch_store_error([&] { (void)s.query("m", "count(//e)", "alice", {.memory_budget = 1000}); });
  EXPECT_EQ(e.reason(), xs::store_errc::query_too_expensive) << e.what();
  EXPECT_TRUE(has(e.what(), "store: query \"m\": the documents to query hold more than the query's memory budget of 1000 bytes"))
      << e.what();
}

TEST_P(StoreConformance, AQueryStopsProducingValuesPastItsResultBudget) {
  xs::store s = open();
  // 60 nested elements around 40 KB of text: //* repeats the text once per element (2.4 MB)
  std::string doc;
  for (int i = 0; i < 60; ++i) doc += "<e>";
  doc += std::string(40000, 't');
  for (int i = 0; i < 60; ++i) doc += "</e>";
  s.write("deep", doc, "alice");
  std::size_t produced = 0, values = 0;
  xs::store_error e = catch_store_error([&] {
    s.query("deep", "//*", "alice", {.result_budget = 200000}, [&](const std::string&, std::uint64_t, std::string&& v) {
      produced += v.size();
      ++values;
    });
  });
  EXPECT_EQ(e.reason(), xs::store_errc::query_too_expensive) << e.what();
  EXPECT_TRUE(has(e.what(), "the values found exceed the query's result budget of 200000 bytes")) << e.what();
  // the value that went past the budget was the last one: 5 of 60 (each about 40 KB)
  EXPECT_EQ(values, 5u);
  EXPECT_LT(produced, 200000u + 41000u);
  // within the budget the whole answer comes
  EXPECT_EQ(s.query("deep", "//*", "alice", {.result_budget = 3000000}).at(0).values.size(), 60u);
}

namespace {

// What query xpath on the document m/many throws when its caller asks it to stop after
// 200 ms (its time budget: 10 minutes), and how long the query took in all.
std::pair<xs::store_error, steady_clock::duration> stopped_after_200ms(xs::store& s, const char* xpath) {
  std::stop_source stop;
  auto t0 = steady_clock::now();
  auto running = std::async(std::launch::async, [&] {
    return catch_store_error([&] {
      (void)s.query("m", xpath, "alice", {.time_budget = std::chrono::minutes(10), .stop = stop.get_token()});
    });
  });
  std::this_thread::sleep_for(milliseconds(200));
  stop.request_stop();
  xs::store_error e = running.get();
  return {e, steady_clock::now() - t0};
}

}  // namespace

TEST_P(StoreConformance, AStopRequestCancelsARunningQuery) {
  xs::store s = open();
  s.write("m/many", many_elements(200000), "alice");
  auto [e, took] = stopped_after_200ms(s, quadratic);
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_EQ(e.reason(), xs::store_errc::cancelled) << e.what();
  EXPECT_TRUE(e.retryable());
  EXPECT_TRUE(has(e.what(), "cancelled by its caller")) << e.what();
}

// For every element, a scan that finds nothing: XPath allocates nothing on the way, so only
// the interrupting signal can stop it (hours on a few hundred thousand elements).
TEST_P(StoreConformance, AScanThatAllocatesNothingStopsAtItsTimeBudget) {
  xs::store s = open();
  s.write("m/many", many_elements(200000), "alice");
  for (const char* xpath : {"count(//*[count(//none)>0])", "//*[count(//none)>0]", "string(//*[count(//none)>0])"}) {
    auto t0 = steady_clock::now();
    xs::store_error e = catch_store_error([&] { (void)s.query("m", xpath, "alice", {.time_budget = milliseconds(300)}); });
    EXPECT_LT(steady_clock::now() - t0, std::chrono::seconds(3)) << xpath;
    EXPECT_EQ(e.reason(), xs::store_errc::query_too_expensive) << e.what();
    EXPECT_TRUE(has(e.what(), "on \"m/many\": ran past the query's time budget of 300 ms")) << e.what();
  }
  // and the thread goes on querying, its memory whole
  auto r = s.query("m", "count(//e)", "alice");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].values, std::vector<std::string>{"200000"});
}

TEST_P(StoreConformance, AStopRequestCancelsAScanThatAllocatesNothing) {
  xs::store s = open();
  s.write("m/many", many_elements(200000), "alice");
  auto [e, took] = stopped_after_200ms(s, "count(//*[count(//none)>0])");
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_EQ(e.reason(), xs::store_errc::cancelled) << e.what();
}

TEST_P(StoreConformance, WritesGoOnWhileAnExpensiveQueryEvaluates) {
  xs::store s = open();
  s.write("m/many", many_elements(200000), "alice");
  auto running = std::async(std::launch::async, [&] {
    return catch_store_error([&] { (void)s.query("m", quadratic, "alice", {.time_budget = std::chrono::seconds(4)}); });
  });
  std::this_thread::sleep_for(milliseconds(100));
  std::string big(1 << 20, 'x');
  for (int i = 0; i < 40; ++i) {  // 40 MB: the LMDB map (64 MB at first) grows meanwhile
    auto t0 = steady_clock::now();
    s.write("w/" + std::to_string(i), "<w>" + big + "</w>", "alice");
    EXPECT_LT(steady_clock::now() - t0, std::chrono::seconds(2)) << "write " << i;
  }
  EXPECT_EQ(running.get().reason(), xs::store_errc::query_too_expensive);
}

TEST_P(StoreConformance, ValuesAreHandedOnAsTheyAreProduced) {
  xs::store s = open();
  s.write("q/a", "<r><v>1</v><v>2</v></r>", "alice");
  s.write("q/b", "<r><v>3</v></r>", "alice");
  std::vector<std::string> seen;
  s.query("q", "//v/text()", "alice", {}, [&](const std::string& name, std::uint64_t revision, std::string&& v) {
    seen.push_back(name + "@" + std::to_string(revision) + "=" + v);
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"q/a@1=1", "q/a@1=2", "q/b@2=3"}));
  // what the sink throws stops the query and passes through unchanged
  int calls = 0;
  EXPECT_THROW(s.query("q", "//v/text()", "alice", {},
                       [&](const std::string&, std::uint64_t, std::string&&) {
                         ++calls;
                         throw std::runtime_error("enough");
                       }),
               std::runtime_error);
  EXPECT_EQ(calls, 1);
}

TEST_P(StoreConformance, InvalidUtf8IsRefusedAtWriteNamingTheOffset) {
  xs::store s = open();
  xs::store_error e = catch_store_error([&] { s.write("u", "<\xff>x</\xff>", "alice"); });
  EXPECT_EQ(e.reason(), xs::store_errc::bad_document) << e.what();
  EXPECT_TRUE(has(e.what(), "store: write \"u\": not valid UTF-8 at byte offset 1 (byte 0xff)")) << e.what();
  // overlong forms, surrogates, truncated sequences and code points past U+10FFFF too
  for (std::string bad : {"<r>\xc0\xaf</r>", "<r>\xed\xa0\x80</r>", "<r>ok\xe2\x82</r>", "<r>\xf4\x90\x80\x80</r>"})
    EXPECT_EQ(catch_store_error([&] { s.write("u", bad, "alice"); }).reason(), xs::store_errc::bad_document) << bad;
  EXPECT_FALSE(s.contains("u"));
  // every valid length, and a byte order mark
  s.write("u", "\xef\xbb\xbf<r a=\"\xc3\xa9\">\xe2\x82\xac \xf0\x9f\x98\x80</r>", "alice");
  EXPECT_EQ(s.query("u", "string(/r)", "alice").at(0).values.at(0), "\xe2\x82\xac \xf0\x9f\x98\x80");
  // batches too
  xs::batch b;
  b.write("v", "<r>\x80</r>");
  EXPECT_EQ(catch_store_error([&] { s.apply(b, "alice"); }).reason(), xs::store_errc::bad_document);
}
