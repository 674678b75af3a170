// Declared indexes on every engine: kept in step with every change in the writes'
// transactions, used by the queries they fit, never changing an answer.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <xgate/store/engine.hpp>
#include <xgate/store/store.hpp>

#include "store_engines.hpp"

namespace xs = xgate::store;
using namespace std::chrono_literals;
using xs::testing::catch_store_error;
using xs::testing::StoreConformance;

namespace {

// The names index id lists under value, read from the engine itself.
std::vector<std::string> listed(xs::store& s, const std::string& id, const std::string& value) {
  std::vector<std::string> names;
  s.engine().read("test", "", [&](const xs::read_transaction& t) {
    t.index_lookup(id, value, "", [&](std::string&& name) {
      names.push_back(std::move(name));
      return true;
    });
  });
  return names;
}

std::vector<std::string> names_of(const std::vector<xs::query_match>& matches) {
  std::vector<std::string> out;
  for (const auto& m : matches) out.push_back(m.name);
  return out;
}

std::string order(const std::string& customer, int n) {
  return "<o><c>" + customer + "</c><n>" + std::to_string(n) + "</n></o>";
}

}  // namespace

TEST_P(StoreConformance, AnIndexedQueryGivesTheAnswerOfAScan) {
  xs::store s = open();
  std::string long_a(80, 'x'), long_b = long_a + "b";  // alike in their first 64 bytes
  for (int i = 0; i < 30; ++i) s.write("o/" + std::to_string(100 + i), order(i % 3 == 0 ? "ann" : "bo", i), "alice");
  s.write("o/200", order(long_a, 200), "alice");
  s.write("o/201", order(long_b, 201), "alice");
  s.write("o/300", order("ann", 300), "bob");        // not alice's to read
  s.write("p/1", order("ann", 1), "alice");          // beside the prefix
  s.write("o/sub/1", "<o><c>ann</c><c>ann</c></o>", "alice");  // twice in one document
  const std::vector<std::string> queries{
      "/o/c[. = 'ann']", "/o/c[.=\"ann\"]/../n/text()", "/o/c[. = 'ann'][1]", "/o/c[. = '" + long_b + "']",
      "/o/c[. = 'nobody']", "/o/c[. = 'ann'] | /o/n", "/o/c[. != 'ann']", "count(/o/c[. = 'ann'])"};
  std::vector<std::vector<xs::query_match>> scanned;
  for (const auto& q : queries) scanned.push_back(s.query("o", q, "alice"));

  s.add_index("customer", "o", "/o/c", "alice");
  EXPECT_EQ(s.indexes(), (std::vector<xs::index_info>{{"customer", "o", "/o/c", "alice"}}));
  for (std::size_t i = 0; i < queries.size(); ++i) {
    auto indexed = s.query("o", queries[i], "alice");
    EXPECT_EQ(names_of(indexed), names_of(scanned[i])) << queries[i];
    for (std::size_t m = 0; m < std::min(indexed.size(), scanned[i].size()); ++m)
      EXPECT_EQ(indexed[m].values, scanned[i][m].values) << queries[i];
  }
  EXPECT_EQ(names_of(s.query("o", "/o/c[. = 'ann']", "alice")),
            (std::vector<std::string>{"o/100", "o/103", "o/106", "o/109", "o/112", "o/115", "o/118", "o/121", "o/124",
                                      "o/127", "o/sub/1"}));
  EXPECT_EQ(names_of(s.query("o/sub", "/o/c[. = 'ann']", "alice")), std::vector<std::string>{"o/sub/1"});
  EXPECT_EQ(names_of(s.query("o", "/o/c[. = 'ann']", "bob")), std::vector<std::string>{"o/300"});
  // The index lists the cut value once per document, both long values under it.
  EXPECT_EQ(listed(s, "customer", long_a.substr(0, 64)), (std::vector<std::string>{"o/200", "o/201"}));
  EXPECT_EQ(listed(s, "customer", "ann").size(), 12u);
  // Pages through the index.
  xs::query_options o;
  o.limit = 4;
  std::vector<std::string> paged;
  for (;;) {
    xs::query_end end = s.query("o", "/o/c[. = 'ann']", "alice", o, [&](const std::string& name, std::uint64_t, std::string&&) {
      if (paged.empty() || paged.back() != name) paged.push_back(name);
    });
    if (end.next.empty()) break;
    o.cursor = end.next;
  }
  EXPECT_EQ(paged, names_of(s.query("o", "/o/c[. = 'ann']", "alice")));

  // Only what the index lists is read: a large document of another customer does not count
  // against the query's memory budget, as it does in a scan.
  s.write("o/big", "<o><c>zed</c><pad>" + std::string(1 << 20, 'z') + "</pad></o>", "alice");
  xs::query_options small;
  small.memory_budget = 256 << 10;
  EXPECT_EQ(s.query("o", "/o/c[. = 'ann']", "alice", small).size(), 11u);
  EXPECT_EQ(catch_store_error([&] { (void)s.query("o", "/o/c[. != 'ann']", "alice", small); }).code(),
            xs::store_errc::query_too_expensive);

  s.remove_index("customer", "alice");
  EXPECT_TRUE(s.indexes().empty());
  EXPECT_EQ(catch_store_error([&] { (void)s.query("o", "/o/c[. = 'ann']", "alice", small); }).code(),
            xs::store_errc::query_too_expensive);
  s.remove("o/big", "alice");
  EXPECT_TRUE(listed(s, "customer", "ann").empty());
  EXPECT_EQ(names_of(s.query("o", "/o/c[. = 'ann']", "alice")), names_of(scanned[0]));
}

TEST_P(StoreConformance, AnIndexFollowsWritesRemovesTakesCopiesBatchesAndExpiry) {
  std::optional<xs::store> held(std::in_place, GetParam().open(dir));
  xs::store& s = *held;
  s.add_index("customer", "o", "/o/c", "alice");
  s.write("o/1", order("ann", 1), "alice");
  s.write("o/2", order("ann", 2), "alice");
  s.write("other/1", order("ann", 3), "alice");  // not under the index's prefix
  EXPECT_EQ(listed(s, "customer", "ann"), (std::vector<std::string>{"o/1", "o/2"}));

  s.write("o/1", order("bo", 1), "alice");  // a replace takes the old value out
  EXPECT_EQ(listed(s, "customer", "ann"), std::vector<std::string>{"o/2"});
  EXPECT_EQ(listed(s, "customer", "bo"), std::vector<std::string>{"o/1"});
  s.remove("o/1", "alice");
  EXPECT_TRUE(listed(s, "customer", "bo").empty());
  s.copy("o/2", "o/3", "alice");
  s.copy("other/1", "o/4", "alice");
  EXPECT_EQ(listed(s, "customer", "ann"), (std::vector<std::string>{"o/2", "o/3", "o/4"}));
  (void)s.take("o/3", "alice");
  s.apply(xs::batch().write("o/5", order("cy", 5)).remove("o/4"), "alice");
  EXPECT_EQ(listed(s, "customer", "ann"), std::vector<std::string>{"o/2"});
  EXPECT_EQ(listed(s, "customer", "cy"), std::vector<std::string>{"o/5"});
  // A batch that fails leaves the index as it was.
  EXPECT_THROW(s.apply(xs::batch().write("o/6", order("dee", 6)).remove("o/missing"), "alice"), xs::store_error);
  EXPECT_TRUE(listed(s, "customer", "dee").empty());
  // An expired document is out of every answer at once, and out of the index once reaped.
  s.write("o/7", order("eve", 7), "alice", {.lease = 50ms});
  EXPECT_EQ(listed(s, "customer", "eve"), std::vector<std::string>{"o/7"});
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(s.query("o", "/o/c[. = 'eve']", "alice").empty());
  s.reap();
  EXPECT_TRUE(listed(s, "customer", "eve").empty());
  // An index added later is filled from what is there; the store reopened keeps them all.
  s.add_index("number", "", "//n", "bob");
  EXPECT_EQ(listed(s, "number", "5"), std::vector<std::string>{"o/5"});
  EXPECT_EQ(listed(s, "number", "3"), std::vector<std::string>{"other/1"});
  held.reset();
  xs::store again = open();
  EXPECT_EQ(again.indexes().size(), 2u);
  EXPECT_EQ(listed(again, "customer", "cy"), std::vector<std::string>{"o/5"});
}

TEST_P(StoreConformance, RefusesBadIndexes) {
  xs::store s = open();
  auto refused = [&](auto&& f) { return std::string(catch_store_error(f).what()); };
  EXPECT_EQ(refused([&] { s.add_index("", "o", "/o/c", "alice"); }),
            "store: add index: an index id is 1 to 64 of the characters A-Z a-z 0-9 . _ -");
  EXPECT_EQ(refused([&] { s.add_index("a b", "o", "/o/c", "alice"); }),
            "store: add index \"a b\": an index id is 1 to 64 of the characters A-Z a-z 0-9 . _ -");
  EXPECT_EQ(refused([&] { s.add_index("x", "o", "count(/o/c)", "alice"); }),
            "store: add index \"x\": an index expression selects nodes; \"count(/o/c)\" gives a single value");
  EXPECT_EQ(catch_store_error([&] { s.add_index("x", "o", "/o/[", "alice"); }).code(), xs::store_errc::bad_xpath);
  EXPECT_EQ(catch_store_error([&] { s.add_index("x", "o//", "/o/c", "alice"); }).code(), xs::store_errc::bad_name);
  EXPECT_THROW(s.add_index("x", "o", "/o/c", ""), xgate::access_denied);
  s.add_index("x", "o", "/o/c", "alice");
  EXPECT_EQ(refused([&] { s.add_index("x", "p", "/p", "alice"); }), "store: add index \"x\": an index with this id exists");
  EXPECT_THROW(s.remove_index("x", "bob"), xgate::access_denied);
  EXPECT_EQ(refused([&] { s.remove_index("y", "alice"); }), "store: remove index \"y\": no such index");
  EXPECT_EQ(s.indexes().size(), 1u);
}
