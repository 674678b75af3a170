// Paged listings on every engine: pages at one revision, cursors, and the refusal of a page
// whose revision is gone.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <xgate/store/store.hpp>

#include "store_engines.hpp"

namespace xs = xgate::store;
using xs::testing::catch_store_error;
using xs::testing::StoreConformance;

namespace {

std::string two_digits(int i) { return (i < 10 ? "0" : "") + std::to_string(i); }

std::vector<std::string> names_of(const std::vector<xs::document_info>& docs) {
  std::vector<std::string> out;
  for (const auto& d : docs) out.push_back(d.name);
  return out;
}

}  // namespace

TEST_P(StoreConformance, ListsInPagesAtTheFirstPagesRevision) {
  xs::store s = open();
  for (int i = 0; i < 25; ++i) s.write("d/" + two_digits(i), "<x/>", "alice");
  s.write("d/05b", "<x/>", "bob");  // not alice's to read: never listed, never counted
  s.write("dx", "<x/>", "alice");   // beside the prefix, not under it
  std::uint64_t at = s.revision();

  std::vector<std::string> seen;
  xs::list_page page = s.list("d", "alice", xs::list_options{.limit = 10});
  std::vector<std::size_t> sizes;
  for (;;) {
    EXPECT_EQ(page.revision, at);
    sizes.push_back(page.documents.size());
    for (auto& n : names_of(page.documents)) seen.push_back(n);
    if (page.next.empty()) break;
    // Writes before the cursor, and beside the prefix, leave the rest of the listing as it was.
    s.write("d/00", "<y/>", "alice");
    s.write("e/1", "<x/>", "alice");
    page = s.list("d", "alice", xs::list_options{.limit = 10, .cursor = page.next});
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{10, 10, 5}));
  EXPECT_EQ(seen, names_of(s.list("d", "alice")));
  // The unpaged form is the first page of a listing without limit.
  xs::list_page all = s.list("d", "alice", xs::list_options{});
  EXPECT_EQ(names_of(all.documents), seen);
  EXPECT_TRUE(all.next.empty());
  EXPECT_EQ(all.revision, s.revision());
  // A limit that ends exactly at the last document leaves no next page.
  EXPECT_TRUE(s.list("d", "alice", xs::list_options{.limit = 25}).next.empty());
  EXPECT_EQ(s.list("d", "alice", xs::list_options{.limit = 24}).next, std::to_string(s.revision()) + ":d/23");
}

TEST_P(StoreConformance, RefusesALaterPageWhoseRevisionIsGone) {
  xs::store s = open();
  for (int i = 0; i < 6; ++i) s.write("d/" + two_digits(i), "<x/>", "alice");
  xs::list_page first = s.list("d", "alice", xs::list_options{.limit = 2});
  ASSERT_EQ(first.next, std::to_string(first.revision) + ":d/01");

  // A write past the cursor: the rest of the listing is no longer what its revision held.
  s.write("d/04", "<y/>", "alice");
  xs::store_error e = catch_store_error([&] { (void)s.list("d", "alice", xs::list_options{.limit = 2, .cursor = first.next}); });
  EXPECT_EQ(e.code(), xs::store_errc::revision_gone);
  EXPECT_STREQ(e.what(), ("store: list \"d\": the listing's revision " + std::to_string(first.revision) +
                          " is gone: \"d/04\" was written at revision " + std::to_string(first.revision + 1) +
                          "; list again from the first page")
                             .c_str());

  // A removal past the cursor, of a document the caller may not read: not named.
  xs::list_page again = s.list("d", "alice", xs::list_options{.limit = 2});
  s.write("d/09", "<x/>", "bob");
  s.remove("d/09", "bob");
  e = catch_store_error([&] { (void)s.list("d", "alice", xs::list_options{.cursor = again.next}); });
  EXPECT_EQ(e.code(), xs::store_errc::revision_gone);
  EXPECT_STREQ(e.what(), ("store: list \"d\": the listing's revision " + std::to_string(again.revision) +
                          " is gone: a document in the rest of the listing changed at revision " +
                          std::to_string(again.revision + 1) + "; list again from the first page")
                             .c_str());
}

TEST_P(StoreConformance, RefusesALaterPageOnceTheChangeLogNoLongerReachesItsRevision) {
  xs::store s = open(xs::store_options{.kept_changes = 3});
  for (int i = 0; i < 4; ++i) s.write("d/" + two_digits(i), "<x/>", "alice");
  xs::list_page first = s.list("d", "alice", xs::list_options{.limit = 1});
  for (int i = 0; i < 4; ++i) s.write("e/" + std::to_string(i), "<x/>", "alice");  // elsewhere, but they push the log on
  xs::store_error e = catch_store_error([&] { (void)s.list("d", "alice", xs::list_options{.cursor = first.next}); });
  EXPECT_EQ(e.code(), xs::store_errc::revision_gone);
  EXPECT_STREQ(e.what(), ("store: list \"d\": the listing's revision " + std::to_string(first.revision) +
                          " is no longer kept (the change log begins at " + std::to_string(s.revision() - 2) +
                          "); list again from the first page")
                             .c_str());
}

TEST_P(StoreConformance, RefusesMalformedAndForeignCursors) {
  xs::store s = open();
  s.write("d/1", "<x/>", "alice");
  std::uint64_t r = s.revision();
  auto refused = [&](std::string cursor) {
    return std::string(catch_store_error([&] { (void)s.list("d", "alice", xs::list_options{.limit = 1, .cursor = cursor}); }).what());
  };
  EXPECT_EQ(refused("d/1"), "store: list \"d\": bad cursor \"d/1\": not REVISION:NAME");
  EXPECT_EQ(refused(":d/1"), "store: list \"d\": bad cursor \":d/1\": not REVISION:NAME");
  EXPECT_EQ(refused("x1:d/1"), "store: list \"d\": bad cursor \"x1:d/1\": the revision is not a positive number");
  EXPECT_EQ(refused("0:d/1"), "store: list \"d\": bad cursor \"0:d/1\": the revision is not a positive number");
  EXPECT_EQ(refused("99999999999999999999:d/1"),
            "store: list \"d\": bad cursor \"99999999999999999999:d/1\": the revision is not a positive number");
  EXPECT_EQ(refused("1:"), "store: list \"d\": bad cursor \"1:\": it does not belong to a listing of this prefix");
  EXPECT_EQ(refused("1:dx/1"), "store: list \"d\": bad cursor \"1:dx/1\": it does not belong to a listing of this prefix");
  EXPECT_EQ(refused(std::to_string(r + 5) + ":d/1"),
            "store: list \"d\": bad cursor: revision " + std::to_string(r + 5) + " is ahead of the store (" + std::to_string(r) + ")");
  EXPECT_EQ(catch_store_error([&] { (void)s.list("d", "alice", xs::list_options{.cursor = "x"}); }).code(),
            xs::store_errc::bad_cursor);
}

TEST_P(StoreConformance, QueriesInPagesOfMatchingDocuments) {
  xs::store s = open();
  for (int i = 0; i < 10; ++i) s.write("d/" + two_digits(i), "<v n=\"" + std::to_string(i % 2) + "\"/>", "alice");
  std::vector<std::string> matched;
  std::uint64_t at = s.revision();
  xs::query_options o;
  o.limit = 2;
  for (int pages = 1;; ++pages) {
    ASSERT_LE(pages, 3);
    std::vector<std::string> page;
    xs::query_end end = s.query("d", "/v[@n='0']/@n", "alice", o, [&](const std::string& name, std::uint64_t, std::string&&) {
      page.push_back(name);
    });
    EXPECT_EQ(end.revision, at);
    EXPECT_LE(page.size(), 2u);
    matched.insert(matched.end(), page.begin(), page.end());
    if (end.next.empty()) break;
    s.write("d/00", "<v n=\"1\"/>", "alice");  // before the cursor: the query goes on at its revision
    o.cursor = end.next;
  }
  EXPECT_EQ(matched, (std::vector<std::string>{"d/00", "d/02", "d/04", "d/06", "d/08"}));
  // A change past the cursor ends the paging, as for lists.
  s.write("d/07", "<v/>", "alice");
  o.cursor = std::to_string(at) + ":d/05";
  xs::store_error e = catch_store_error([&] { (void)s.query("d", "/v", "alice", o); });
  EXPECT_EQ(e.code(), xs::store_errc::revision_gone);
  o.cursor = "d/05";
  EXPECT_STREQ(catch_store_error([&] { (void)s.query("d", "/v", "alice", o); }).what(),
               "store: query \"d\": bad cursor \"d/05\": not REVISION:NAME");
}

TEST_P(StoreConformance, AQueryReadsManyDocumentsInTransactionsAtOneRevision) {
  xs::store s = open();
  xs::batch b;
  for (int i = 0; i < 5000; ++i) b.write("d/" + std::to_string(10000 + i), "<v>" + std::to_string(i) + "</v>");
  s.apply(b, "alice");
  // More than one read transaction's worth, stitched together in name order.
  auto all = s.query("d", "/v/text()", "alice");
  ASSERT_EQ(all.size(), 5000u);
  EXPECT_EQ(all.front().values, std::vector<std::string>{"0"});
  EXPECT_EQ(all.back().values, std::vector<std::string>{"4999"});
  // A write past what the first transaction read, while the query evaluates: the query does
  // not mix two revisions.
  bool wrote = false;
  xs::store_error e = catch_store_error([&] {
    (void)s.query("d", "/v/text()", "alice", {}, [&](const std::string&, std::uint64_t, std::string&&) {
      if (!wrote) s.write("d/14999", "<v>changed</v>", "alice");
      wrote = true;
    });
  });
  EXPECT_EQ(e.code(), xs::store_errc::revision_gone);
  EXPECT_NE(std::string(e.what()).find("\"d/14999\" was written at revision"), std::string::npos) << e.what();
}

TEST_P(StoreConformance, PagesUnderConcurrentWritesShowOneRevisionOrSayItIsGone) {
  xs::store s = open();
  constexpr int documents = 60;
  for (int i = 0; i < documents; ++i) s.write("c/" + two_digits(i), "<v/>", "alice");
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    std::minstd_rand rng(3);
    for (int i = 0; writing; ++i) {
      // Replaces only (the listing's size stays), and writes beside the prefix.
      s.write(i % 2 ? "c/" + two_digits(static_cast<int>(rng() % documents)) : "elsewhere", "<v/>", "alice");
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  int complete = 0, gone = 0;
  for (int attempt = 0; attempt < 12; ++attempt) {
    try {
      xs::list_page page = s.list("c", "alice", xs::list_options{.limit = 7});
      std::vector<xs::document_info> all = page.documents;
      while (!page.next.empty()) {
        // Every other listing is slow, so that writes land between its pages.
        if (attempt % 2) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        page = s.list("c", "alice", xs::list_options{.limit = 7, .cursor = page.next});
        all.insert(all.end(), page.documents.begin(), page.documents.end());
      }
      ASSERT_EQ(all.size(), static_cast<std::size_t>(documents));
      for (std::size_t i = 0; i < all.size(); ++i) {
        EXPECT_LE(all[i].revision, page.revision) << all[i].name << ": written after the listing's revision";
        if (i > 0) {
          EXPECT_LT(all[i - 1].name, all[i].name);
        }
      }
      ++complete;
    } catch (const xs::store_error& e) {
      ASSERT_EQ(e.code(), xs::store_errc::revision_gone) << e.what();
      ++gone;
    }
  }
  // Without a snapshot the pages never refuse, and still give every document once, in order.
  xs::list_page page = s.list("c", "alice", xs::list_options{.limit = 7, .snapshot = false});
  std::size_t seen = page.documents.size();
  while (!page.next.empty()) {
    page = s.list("c", "alice", xs::list_options{.limit = 7, .cursor = page.next, .snapshot = false});
    seen += page.documents.size();
  }
  writing = false;
  writer.join();
  EXPECT_EQ(seen, static_cast<std::size_t>(documents));
  EXPECT_GT(gone, 0) << "the slow listings met no write past their cursor";
  RecordProperty("complete", complete);
  RecordProperty("gone", gone);
}
