// Leases: documents with a time to live, renewed or cancelled by their holder, reaped.
#include <gtest/gtest.h>

#include <thread>

#include <xgate/store/store.hpp>

#include "store_engines.hpp"

namespace xs = xgate::store;
using xs::testing::store_errc_of;
using xs::testing::StoreConformance;
using namespace std::chrono_literals;

namespace {

const xgate::rights shared = xgate::rights::owned_by("alice").readers({"*"}).writers({"*"}).deleters({"*"});

}  // namespace

TEST_P(StoreConformance, ALeasedDocumentExpiresAndIsReaped) {
  xs::store s = open();
  xs::document_info w = s.write("ads/node-1", "<ad/>", "alice", {.rights = shared, .lease = 1h});
  ASSERT_TRUE(w.lease_expires);
  EXPECT_EQ(*w.lease_expires, w.modified + 1h);
  EXPECT_EQ(w.lease_holder, "alice");
  s.write("ads/node-2", "<ad/>", "alice", {.lease = 2h});
  s.write("ads/forever", "<ad/>", "alice");
  EXPECT_EQ(s.read("ads/node-1", "bob").info, w);

  EXPECT_TRUE(s.reap(w.modified + 59min).empty());
  std::uint64_t rev = s.revision();
  EXPECT_EQ(s.reap(w.modified + 3h), (std::vector<std::string>{"ads/node-1", "ads/node-2"}));
  EXPECT_EQ(s.revision(), rev + 2);  // each expiry is a change
  EXPECT_FALSE(s.contains("ads/node-1"));
  EXPECT_TRUE(s.contains("ads/forever"));
  EXPECT_TRUE(s.reap(w.modified + 3h).empty());
}

TEST_P(StoreConformance, AnExpiredDocumentIsGoneBeforeTheReaperRuns) {
  xs::store s = open();
  s.write("tmp/x", "<x/>", "alice", {.rights = shared, .lease = 1ms});
  std::this_thread::sleep_for(5ms);
  EXPECT_FALSE(s.contains("tmp/x"));
  EXPECT_EQ(store_errc_of([&] { (void)s.read("tmp/x", "alice"); }), xs::store_errc::not_found);
  EXPECT_EQ(store_errc_of([&] { s.take("tmp/x", "alice"); }), xs::store_errc::not_found);
  EXPECT_TRUE(s.list("tmp", "alice").empty());
  EXPECT_TRUE(s.query("tmp", "/x", "alice").empty());
  // The name is free again: bob creates a new document, with no lease and his own rights.
  xs::document_info b = s.write("tmp/x", "<mine/>", "bob", {.expected_revision = 0});
  EXPECT_EQ(b.rights, xgate::rights::owned_by("bob"));
  EXPECT_FALSE(b.lease_expires);
  EXPECT_TRUE(s.reap(xs::clock::now() + 24h).empty()) << "the old lease must not reap the new document";
  EXPECT_EQ(s.read("tmp/x", "bob").xml, "<mine/>");
}

TEST_P(StoreConformance, OnlyTheHolderRenewsOrCancels) {
  xs::store s = open();
  xs::document_info w = s.write("ads/a", "<ad/>", "alice", {.rights = shared, .lease = 1min});
  EXPECT_THROW(s.renew_lease("ads/a", "bob", 1h), xgate::access_denied);
  EXPECT_THROW(s.cancel_lease("ads/a", "bob"), xgate::access_denied);

  xs::document_info r = s.renew_lease("ads/a", "alice", 1h);
  EXPECT_GE(*r.lease_expires, w.modified + 1h);
  EXPECT_EQ(r.revision, w.revision);
  EXPECT_TRUE(s.reap(w.modified + 30min).empty()) << "renewed past the old expiry";
  EXPECT_EQ(s.info("ads/a", "alice").lease_expires, r.lease_expires);

  // bob may write the document; a replace without lease keeps alice's.
  s.write("ads/a", "<ad>v2</ad>", "bob");
  EXPECT_EQ(s.info("ads/a", "alice").lease_holder, "alice");

  xs::document_info c = s.cancel_lease("ads/a", "alice");
  EXPECT_FALSE(c.lease_expires);
  EXPECT_TRUE(s.reap(w.modified + 48h).empty());
  EXPECT_EQ(s.read("ads/a", "alice").xml, "<ad>v2</ad>");
  EXPECT_EQ(store_errc_of([&] { s.renew_lease("ads/a", "alice", 1h); }), xs::store_errc::no_lease);
  EXPECT_EQ(store_errc_of([&] { s.cancel_lease("ads/none", "alice"); }), xs::store_errc::not_found);
}

TEST_P(StoreConformance, RemovingALeasedDocumentDropsItsLease) {
  xs::store s = open();
  s.write("l/a", "<a/>", "alice", {.lease = 1h});
  s.remove("l/a", "alice");
  s.write("l/a", "<again/>", "alice");
  EXPECT_TRUE(s.reap(xs::clock::now() + 2h).empty());
  EXPECT_TRUE(s.contains("l/a"));
  xs::batch b;
  b.write("l/b", "<b/>", {.lease = 1h});
  s.apply(b, "alice");
  s.take("l/b", "alice");
  EXPECT_TRUE(s.reap(xs::clock::now() + 2h).empty());
}

TEST_P(StoreConformance, AReaperRemovesExpiredDocumentsInTheBackground) {
  xs::store s = open();
  s.write("r/short", "<s/>", "alice", {.lease = 20ms});
  s.write("r/long", "<l/>", "alice", {.lease = 1h});
  {
    xs::reaper r(s, 5ms);
    for (int i = 0; i < 2000 && r.removed() == 0; ++i) std::this_thread::sleep_for(5ms);
    EXPECT_EQ(r.removed(), 1u);
    EXPECT_FALSE(r.error());
  }  // stops without waiting out the interval
  EXPECT_EQ(s.changes("r", 2, "alice"), (std::vector<xs::change>{{3, xs::change_kind::expired, "r/short"}}));
  EXPECT_TRUE(s.contains("r/long"));
  auto start = std::chrono::steady_clock::now();
  { xs::reaper idle(s, 1h); }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}
