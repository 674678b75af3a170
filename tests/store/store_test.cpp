// Opening, names, write/read/remove/take/list, revisions, metadata; on LMDB: its files,
// errors and map growth. The conformance suite runs on every engine of store_engines.hpp.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include <xgate/store/store.hpp>

#include "store_engines.hpp"

namespace xs = xgate::store;
using xs::testing::catch_store_error;
using xs::testing::StoreConformance;
using xs::testing::lmdb_of;
using xs::testing::StoreTest;

INSTANTIATE_TEST_SUITE_P(engines, StoreConformance, ::testing::ValuesIn(xs::testing::store_engines()),
                         [](const ::testing::TestParamInfo<xs::testing::store_engine_factory>& e) { return e.param.name; });

TEST_F(StoreTest, OpensCreatingTheDirectory) {
  xs::store s(dir);
  EXPECT_TRUE(std::filesystem::is_directory(dir));
  EXPECT_EQ(s.address(), "file:" + std::filesystem::absolute(dir).lexically_normal().string());
}

TEST_P(StoreConformance, KeepsDocumentsAcrossReopen) {
  std::uint64_t rev = 0;
  {
    xs::store s = open();
    EXPECT_EQ(s.revision(), 0u);
    rev = s.write("results/job-17/final", "<r>42</r>", "alice").revision;
  }
  xs::store s = open();
  EXPECT_EQ(s.revision(), rev);
  EXPECT_EQ(s.read("results/job-17/final", "alice").xml, "<r>42</r>");
  EXPECT_EQ(s.write("other", "<o/>", "alice").revision, rev + 1);
}

TEST_F(StoreTest, LmdbFailuresBecomeTypedErrorsNamingTheOperation) {
  std::filesystem::create_directories(dir.parent_path());
  std::ofstream(dir) << "not a directory";
  xs::store_error e = catch_store_error([&] { xs::store s(dir); });
  EXPECT_EQ(e.code(), xs::store_errc::lmdb);
  EXPECT_EQ(e.operation(), "open");
  EXPECT_NE(std::string(e.what()).find("store: open \"" + dir.string() + "\": "), std::string::npos) << e.what();
  std::filesystem::remove(dir);
}

TEST_P(StoreConformance, RefusesInvalidNames) {
  xs::store s = open();
  for (std::string bad : {std::string(), std::string("/a"), std::string("a/"), std::string("a//b"), std::string("a b"),
                          std::string("a/./b"), std::string("../x"), std::string("tab\there"), std::string("\xc3\xa9"),
                          std::string(xs::max_name_bytes + 1, 'n'), std::string("nul\0x", 5)}) {
    xs::store_error e = catch_store_error([&] { s.write(bad, "<x/>", "alice"); });
    EXPECT_EQ(e.code(), xs::store_errc::bad_name) << xs::printable(bad);
    EXPECT_EQ(e.operation(), "write");
  }
  EXPECT_EQ(catch_store_error([&] { (void)s.read("a//b", "alice"); }).code(), xs::store_errc::bad_name);
  EXPECT_EQ(catch_store_error([&] { (void)s.list("a//b", "alice"); }).code(), xs::store_errc::bad_name);
  EXPECT_EQ(s.revision(), 0u);
  EXPECT_NO_THROW(s.write(std::string(xs::max_name_bytes, 'n'), "<x/>", "alice"));
  EXPECT_NO_THROW(s.write("a-b_c.d/E~9/x:y", "<x/>", "alice"));
}

TEST_P(StoreConformance, WritesAndReadsWithMetadata) {
  xs::store s = open();
  auto before = xs::clock::now();
  xs::document_info w = s.write("docs/a", "<a>hello</a>", "alice");
  EXPECT_EQ(w.name, "docs/a");
  EXPECT_EQ(w.revision, 1u);
  EXPECT_EQ(w.size, 12u);
  EXPECT_EQ(w.rights, xgate::rights::owned_by("alice"));
  EXPECT_FALSE(w.embedded_rights);
  EXPECT_EQ(w.created, w.modified);
  EXPECT_GE(w.created, before);

  xs::document r = s.read("docs/a", "alice");
  EXPECT_EQ(r.xml, "<a>hello</a>");
  EXPECT_EQ(r.info, w);
  EXPECT_EQ(s.info("docs/a", "alice"), w);

  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  xs::document_info w2 = s.write("docs/a", "<a>hello again</a>", "alice");
  EXPECT_EQ(w2.revision, 2u);
  EXPECT_EQ(w2.created, w.created);
  EXPECT_GT(w2.modified, w.modified);
  EXPECT_EQ(w2.size, 18u);
  EXPECT_EQ(s.read("docs/a", "alice").xml, "<a>hello again</a>");
  EXPECT_EQ(s.write("docs/b", "<b/>", "alice").revision, 3u);  // one counter for the whole store
}

TEST_P(StoreConformance, MissingDocumentsAreNotFound) {
  xs::store s = open();
  xs::store_error e = catch_store_error([&] { (void)s.read("no/such", "alice"); });
  EXPECT_EQ(e.code(), xs::store_errc::not_found);
  EXPECT_STREQ(e.what(), "store: read \"no/such\": no such document");
  EXPECT_EQ(catch_store_error([&] { s.remove("no/such", "alice"); }).code(), xs::store_errc::not_found);
  EXPECT_EQ(catch_store_error([&] { s.take("no/such", "alice"); }).code(), xs::store_errc::not_found);
  EXPECT_EQ(catch_store_error([&] { s.copy("no/such", "x", "alice"); }).code(), xs::store_errc::not_found);
  EXPECT_FALSE(s.contains("no/such"));
  // One handler catches every xgate failure, store errors included.
  try {
    (void)s.read("no/such", "alice");
    ADD_FAILURE();
  } catch (const xgate::error& base) {
    EXPECT_EQ(base.code(), xs::store_errc::not_found);
    EXPECT_EQ(base.code(), xgate::condition::not_found);  // what to do about it, whichever module
    EXPECT_STREQ(base.what(), "store: read \"no/such\": no such document");
  }
}

TEST_P(StoreConformance, RefusesMalformedXmlWithoutWriting) {
  xs::store s = open();
  xs::store_error e = catch_store_error([&] { s.write("bad", "<a><b></a>", "alice"); });
  EXPECT_EQ(e.code(), xs::store_errc::bad_document);
  EXPECT_NE(std::string(e.what()).find("store: write \"bad\": not well-formed XML"), std::string::npos) << e.what();
  EXPECT_EQ(catch_store_error([&] { s.write("empty", "", "alice"); }).code(), xs::store_errc::bad_document);
  EXPECT_FALSE(s.contains("bad"));
  EXPECT_EQ(s.revision(), 0u);
}

TEST_P(StoreConformance, CompareAndSetOnRevision) {
  xs::store s = open();
  EXPECT_EQ(s.write("results/job-17/final", "<r>1</r>", "alice", {.expected_revision = 0}).revision, 1u);
  xs::store_error e =
      catch_store_error([&] { s.write("results/job-17/final", "<r>2</r>", "alice", {.expected_revision = 0}); });
  EXPECT_EQ(e.code(), xs::store_errc::conflict);
  EXPECT_STREQ(e.what(), "store: write \"results/job-17/final\": revision conflict (expected 0, current 1)");
  s.write("other", "<o/>", "alice");  // revision 2
  e = catch_store_error([&] { s.write("results/job-17/final", "<r>2</r>", "alice", {.expected_revision = 2}); });
  EXPECT_STREQ(e.what(), "store: write \"results/job-17/final\": revision conflict (expected 2, current 1)");
  EXPECT_EQ(s.read("results/job-17/final", "alice").xml, "<r>1</r>");
  EXPECT_EQ(s.write("results/job-17/final", "<r>3</r>", "alice", {.expected_revision = 1}).revision, 3u);
  e = catch_store_error([&] { s.write("new", "<n/>", "alice", {.expected_revision = 5}); });
  EXPECT_STREQ(e.what(), "store: write \"new\": revision conflict (expected 5, current none)");
  EXPECT_FALSE(s.contains("new"));
}

TEST_P(StoreConformance, RemoveAndTake) {
  xs::store s = open();
  s.write("q/1", "<job>1</job>", "alice");
  s.write("q/2", "<job>2</job>", "alice");
  std::uint64_t r = s.revision();
  EXPECT_EQ(catch_store_error([&] { s.remove("q/1", "alice", 99); }).code(), xs::store_errc::conflict);
  EXPECT_TRUE(s.contains("q/1"));
  s.remove("q/1", "alice", r - 1);
  EXPECT_FALSE(s.contains("q/1"));
  EXPECT_EQ(s.revision(), r + 1);  // a removal is a change

  xs::document t = s.take("q/2", "alice");
  EXPECT_EQ(t.xml, "<job>2</job>");
  EXPECT_EQ(t.info.name, "q/2");
  EXPECT_FALSE(s.contains("q/2"));
  EXPECT_EQ(catch_store_error([&] { s.take("q/2", "alice"); }).code(), xs::store_errc::not_found);
}

TEST_P(StoreConformance, ListsByPrefixSegmentWiseInNameOrder) {
  xs::store s = open();
  for (const char* n : {"results/job-17/final", "results/job-17/log", "results/job-1/final", "results/job-170",
                        "results", "resultsX/a", "other/x"})
    s.write(n, "<x/>", "alice");
  auto names = [&](std::string_view prefix) {
    std::vector<std::string> out;
    for (const xs::document_info& d : s.list(prefix, "alice")) out.push_back(d.name);
    return out;
  };
  EXPECT_EQ(names("results/job-17"), (std::vector<std::string>{"results/job-17/final", "results/job-17/log"}));
  EXPECT_EQ(names("results/job-17/"), names("results/job-17"));
  EXPECT_EQ(names("results"), (std::vector<std::string>{"results", "results/job-1/final", "results/job-17/final",
                                                       "results/job-17/log", "results/job-170"}));
  EXPECT_EQ(names("").size(), 7u);
  EXPECT_TRUE(names("nothing").empty());
  std::vector<xs::document_info> l = s.list("results/job-17/final", "alice");
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0], s.info("results/job-17/final", "alice"));
  // A limit keeps the first documents in name order, counting only readable ones.
  s.write("results/job-0", "<x/>", "bob");  // bob's own: alice may not read it
  auto first = s.list("results", "alice", 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].name, "results");
  EXPECT_EQ(first[1].name, "results/job-1/final");
  EXPECT_EQ(s.list("results", "alice", 100).size(), 5u);
}

TEST_F(StoreTest, MapGrowsInsteadOfFailing) {
  std::string big(16 * 1024, 'x');
  std::string doc = "<d>" + big + "</d>";
  std::size_t initial = 0;
  {
    xs::store s(std::make_unique<xs::lmdb_engine>(dir, xs::lmdb_options{.initial_map_size = 256 * 1024}));
    initial = lmdb_of(s).map_size();
    for (int i = 0; i < 100; ++i) s.write("big/" + std::to_string(i), doc, "alice");
    EXPECT_GT(lmdb_of(s).map_size(), initial);
    xs::batch b;
    for (int i = 100; i < 200; ++i) b.write("big/" + std::to_string(i), doc);
    EXPECT_EQ(s.apply(b, "alice").size(), 100u);
  }
  xs::store s(std::make_unique<xs::lmdb_engine>(dir, xs::lmdb_options{.initial_map_size = 256 * 1024}));
  EXPECT_GE(lmdb_of(s).map_size(), 200 * doc.size());
  EXPECT_EQ(s.list("big", "alice").size(), 200u);
  EXPECT_EQ(s.read("big/199", "alice").xml, doc);
}

TEST(StoreNames, PrefixesAndPrintable) {
  EXPECT_TRUE(xs::is_under("a/b", "a"));
  EXPECT_TRUE(xs::is_under("a", "a"));
  EXPECT_FALSE(xs::is_under("ab", "a"));
  EXPECT_TRUE(xs::is_under("anything", ""));
  EXPECT_EQ(xs::printable("a\nb\"c"), "a\\x0ab\\x22c");
}
