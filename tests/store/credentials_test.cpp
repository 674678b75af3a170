// Credentials: bearer tokens that narrow a principal's rights to some rights on a document
// or subtree; children within their parents; sessions over a local store.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <thread>

#include <xgate/store/session.hpp>
#include <xgate/store/store.hpp>

#include "store_engines.hpp"

namespace xs = xgate::store;
using xgate::right;
using xs::testing::catch_store_error;
using xs::testing::store_errc_of;
using xs::testing::StoreConformance;
using xs::testing::StoreTest;
using xs::testing::denied;

namespace {

xs::credential_request request(std::string scope, xs::right_set rights, bool subtree = true) {
  xs::credential_request r;
  r.scope = std::move(scope);
  r.rights = rights;
  r.subtree = subtree;
  return r;
}

std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST(RightSet, ParsesAndPrints) {
  EXPECT_EQ(xs::right_set::all().to_string(), "read,write,delete,copy");
  EXPECT_EQ(xs::right_set::parse("all"), xs::right_set::all());
  EXPECT_EQ(xs::right_set::parse("copy,read"), (xs::right_set{right::read, right::copy}));
  EXPECT_EQ(xs::right_set::parse(""), xs::right_set{});
  EXPECT_EQ(xs::right_set::parse("read,"), std::nullopt);
  EXPECT_EQ(xs::right_set::parse("read,owner"), std::nullopt);
  EXPECT_TRUE((xs::right_set{right::read}).within(xs::right_set{right::read, right::write}));
  EXPECT_FALSE((xs::right_set{right::del}).within(xs::right_set{right::read, right::write}));
}

TEST(Grant, CoversItsScopeSegmentWise) {
  xs::grant g{"alice", "pay/2026", true, xs::right_set{right::read}, std::nullopt, {}};
  EXPECT_TRUE(g.covers("pay/2026"));
  EXPECT_TRUE(g.covers("pay/2026/slip-1"));
  EXPECT_FALSE(g.covers("pay/20261"));
  EXPECT_FALSE(g.covers("pay"));
  g.subtree = false;
  EXPECT_TRUE(g.covers("pay/2026"));
  EXPECT_FALSE(g.covers("pay/2026/slip-1"));
  xs::grant everything{"alice", "", true, xs::right_set::all(), std::nullopt, {}};
  EXPECT_TRUE(g.within(everything));
  EXPECT_FALSE(everything.within(g));
  xs::grant other_principal = g;
  other_principal.principal = "bob";
  EXPECT_FALSE(other_principal.within(everything));
}

TEST(Grant, MethodsNarrowItAndChildrenStayWithinThem) {
  EXPECT_EQ(xs::parse_methods("status,result,status"), (std::vector<std::string>{"result", "status"}));
  EXPECT_EQ(xs::parse_methods(""), std::vector<std::string>{});
  EXPECT_EQ(xs::parse_methods("status,"), std::nullopt);
  EXPECT_EQ(xs::parse_methods("a,,b"), std::nullopt);
  EXPECT_EQ(xs::parse_methods("move kill"), std::nullopt);
  EXPECT_EQ(xs::parse_methods(std::string(65, 'm')), std::nullopt);
  EXPECT_EQ(xs::join_methods({"result", "status"}), "result,status");

  xs::grant all{"alice", "", true, xs::right_set::all(), std::nullopt, {}};
  xs::grant reads = all;
  reads.methods = {"list", "result", "status"};
  xs::grant fewer = all;
  fewer.methods = {"status"};
  xs::grant other = all;
  other.methods = {"kill"};
  EXPECT_TRUE(all.allows_method("kill"));
  EXPECT_TRUE(reads.allows_method("status"));
  EXPECT_FALSE(reads.allows_method("kill"));
  EXPECT_TRUE(reads.within(all));
  EXPECT_FALSE(all.within(reads));  // every method is more than three
  EXPECT_TRUE(fewer.within(reads));
  EXPECT_FALSE(reads.within(fewer));
  EXPECT_FALSE(other.within(reads));
}

TEST_P(StoreConformance, ACredentialNarrowedToMethodsKeepsThemAndPassesThemOn) {
  xs::store s = open();
  xs::credential_request r = request("", xs::right_set::all());
  r.methods = {"status", "result", "list", "status"};
  std::string token = s.issue_credential("alice", r);
  xs::caller c = s.authenticate(token);
  const std::vector<std::string> expected{"list", "result", "status"};
  EXPECT_EQ(c.limits()->methods, expected);
  ASSERT_EQ(s.credentials("alice").size(), 1u);
  EXPECT_EQ(s.credentials("alice")[0].granted.methods, expected);

  // A child without methods of its own inherits its parent's; one with others is refused.
  xs::caller child = s.authenticate(s.issue_credential(c, request("", xs::right_set{right::read})));
  EXPECT_EQ(child.limits()->methods, expected);
  xs::credential_request narrower = request("", xs::right_set{right::read});
  narrower.methods = {"status"};
  EXPECT_EQ(s.authenticate(s.issue_credential(c, narrower)).limits()->methods, std::vector<std::string>{"status"});
  xs::credential_request wider = request("", xs::right_set{right::read});
  wider.methods = {"kill", "status"};
  EXPECT_EQ(denied([&] { (void)s.issue_credential(c, wider); }), "alice issue credential ");

  xs::credential_request bad = request("a", xs::right_set{right::read});
  bad.methods = {"status", "move kill"};
  EXPECT_EQ(catch_store_error([&] { (void)s.issue_credential("alice", bad); }).what(),
            std::string("store: issue credential \"a\": method \"move kill\" is not 1..64 bytes of [A-Za-z0-9._-]"));
  // A credential without methods has none (every method), as before methods existed.
  EXPECT_TRUE(s.authenticate(s.issue_credential("alice", request("", xs::right_set::all()))).limits()->methods.empty());
}

TEST_P(StoreConformance, ATokenActsForItsPrincipalWithinItsGrant) {
  xs::store s = open();
  s.write("pay/2026/slip-1", "<slip>1</slip>", "alice");
  s.write("pay/2026/slip-2", "<slip>2</slip>", "alice");
  s.write("hr/review", "<review/>", "alice");
  std::string token = s.issue_credential("alice", request("pay/2026", xs::right_set{right::read}));
  EXPECT_TRUE(token.starts_with("xgt1_"));
  xs::caller c = s.authenticate(token);
  EXPECT_EQ(c.principal(), "alice");
  ASSERT_NE(c.limits(), nullptr);
  EXPECT_EQ(c.limits()->scope, "pay/2026");
  EXPECT_EQ(c.credential_id().size(), 16u);

  EXPECT_EQ(s.read("pay/2026/slip-1", c).xml, "<slip>1</slip>");
  EXPECT_EQ(denied([&] { (void)s.read("hr/review", c); }), "alice read hr/review");
  EXPECT_EQ(denied([&] { s.write("pay/2026/slip-1", "<slip>9</slip>", c); }), "alice write pay/2026/slip-1");
  EXPECT_EQ(denied([&] { s.write("pay/2026/slip-3", "<slip>3</slip>", c); }), "alice write pay/2026/slip-3");
  EXPECT_EQ(denied([&] { s.remove("pay/2026/slip-1", c); }), "alice delete pay/2026/slip-1");
  EXPECT_EQ(denied([&] { s.take("pay/2026/slip-1", c); }), "alice delete pay/2026/slip-1");
  EXPECT_EQ(denied([&] { s.copy("pay/2026/slip-1", "pay/2026/copy", c); }), "alice copy pay/2026/slip-1");
  EXPECT_EQ(s.list("", c).size(), 2u);
  EXPECT_EQ(s.query("", "/slip", c).size(), 2u);
  std::vector<xs::change> seen = s.changes("", 0, c);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].name, "pay/2026/slip-2");
  EXPECT_EQ(s.read("pay/2026/slip-1", "alice").xml, "<slip>1</slip>");  // nothing changed
}

TEST_P(StoreConformance, ACredentialNeverGrantsMoreThanItsPrincipalHas) {
  xs::store s = open();
  s.write("secret", "<s/>", "carol");  // carol's alone
  std::string token = s.issue_credential("alice", request("", xs::right_set::all()));
  xs::caller c = s.authenticate(token);
  EXPECT_EQ(denied([&] { (void)s.read("secret", c); }), "alice read secret");
  EXPECT_TRUE(s.list("", c).empty());
}

TEST_P(StoreConformance, ChildCredentialsLieWithinTheirParentAndDieWithIt) {
  xs::store s = open();
  s.write("payroll/run-7/paychecks/ann", "<pay>10</pay>", "payroll");
  std::string parent = s.issue_credential("payroll", request("payroll/run-7", xs::right_set{right::read, right::write}));
  xs::caller p = s.authenticate(parent);
  std::string child = s.issue_credential(p, request("payroll/run-7/paychecks", xs::right_set{right::read}));
  xs::caller c = s.authenticate(child);
  EXPECT_EQ(s.read("payroll/run-7/paychecks/ann", c).xml, "<pay>10</pay>");

  EXPECT_EQ(denied([&] { (void)s.issue_credential(c, request("payroll/run-7/paychecks", xs::right_set{right::write})); }),
            "payroll issue credential payroll/run-7/paychecks");
  EXPECT_EQ(denied([&] { (void)s.issue_credential(p, request("payroll", xs::right_set{right::read})); }),
            "payroll issue credential payroll");
  EXPECT_EQ(denied([&] { (void)s.issue_credential(p, request("payroll/run-7", xs::right_set{right::del})); }),
            "payroll issue credential payroll/run-7");

  std::vector<xs::credential_info> mine = s.credentials("payroll");
  ASSERT_EQ(mine.size(), 2u);
  std::vector<xs::credential_info> through_child = s.credentials(c);
  ASSERT_EQ(through_child.size(), 1u);
  EXPECT_EQ(through_child[0].id, c.credential_id());
  EXPECT_EQ(through_child[0].parent, p.credential_id());

  s.revoke_credential(p.credential_id(), "payroll");
  EXPECT_EQ(catch_store_error([&] { (void)s.authenticate(child); }).what(),
            std::string("store: authenticate: unknown or revoked token"));
  EXPECT_EQ(catch_store_error([&] { (void)s.authenticate(parent); }).code(), xs::store_errc::bad_credential);
  EXPECT_TRUE(s.credentials("payroll").empty());
}

TEST_P(StoreConformance, ExpiredAndForeignTokensAreRefused) {
  xs::store s = open();
  xs::credential_request r = request("", xs::right_set{right::read});
  // Long enough that the first authenticate falls inside it also on a loaded machine with
  // a database server in between.
  r.ttl = std::chrono::milliseconds(1000);
  std::string token = s.issue_credential("alice", r);
  xs::caller c = s.authenticate(token);
  ASSERT_TRUE(c.limits()->expires.has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(catch_store_error([&] { (void)s.authenticate(token); }).what(),
            "store: authenticate: credential " + c.credential_id() + " expired");
  EXPECT_EQ(catch_store_error([&] { (void)s.authenticate("Bearer abc"); }).what(),
            std::string("store: authenticate: not an xgate token"));
  std::string forged = token;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(catch_store_error([&] { (void)s.authenticate(forged); }).what(),
            std::string("store: authenticate: unknown or revoked token"));
}

TEST_F(StoreTest, OnlyTheTokensHashIsStored) {
  std::string token;
  {
    xs::store s(dir);
    token = s.issue_credential("alice", request("", xs::right_set::all()));
  }
  std::string data = file_bytes(dir / "data.mdb");
  ASSERT_FALSE(data.empty());
  EXPECT_EQ(data.find(token.substr(5)), std::string::npos);
  xs::store reopened(dir);
  EXPECT_EQ(reopened.authenticate(token).principal(), "alice");  // and it survives a reopen
}

TEST_P(StoreConformance, BadCredentialRequestsAreRefused) {
  xs::store s = open();
  EXPECT_EQ(catch_store_error([&] { (void)s.issue_credential("alice", request("a", xs::right_set{})); }).what(),
            std::string("store: issue credential \"a\": a credential needs at least one right"));
  xs::credential_request r = request("a", xs::right_set{right::read});
  r.ttl = std::chrono::seconds(-1);
  EXPECT_EQ(catch_store_error([&] { (void)s.issue_credential("alice", r); }).what(),
            std::string("store: issue credential \"a\": a credential's time to live must be positive"));
  EXPECT_EQ(store_errc_of([&] { (void)s.issue_credential("alice", request("a//b", xs::right_set{right::read})); }),
            xs::store_errc::bad_name);
  EXPECT_EQ(denied([&] { (void)s.issue_credential("", request("a", xs::right_set{right::read})); }), " issue credential a");
  EXPECT_EQ(catch_store_error([&] { s.revoke_credential("0123456789abcdef", "alice"); }).what(),
            std::string("store: revoke credential \"0123456789abcdef\": no such credential of \"alice\""));
  std::string token = s.issue_credential("alice", request("a", xs::right_set{right::read}));
  std::string id = s.authenticate(token).credential_id();
  EXPECT_EQ(store_errc_of([&] { s.revoke_credential(id, "bob"); }), xs::store_errc::not_found);
  EXPECT_NO_THROW((void)s.authenticate(token));
}

TEST_P(StoreConformance, DocumentsOverTheSizeLimitAreRefused) {
  xs::store_options o;
  o.max_document_size = 16;
  xs::store s = open(o);
  EXPECT_EQ(catch_store_error([&] { s.write("big", "<a>0123456789</a>", "alice"); }).what(),
            std::string("store: write \"big\": the document has 17 bytes, more than the limit of 16"));
  EXPECT_FALSE(s.contains("big"));
  EXPECT_NO_THROW(s.write("small", "<a>012345678</a>", "alice"));
}

TEST_P(StoreConformance, ALocalSessionIsTheStoreAsOneCallerSeesIt) {
  xs::store s = open();
  std::unique_ptr<xs::session> alice = xs::local_session(s, "alice");
  EXPECT_EQ(alice->address(), s.address());
  EXPECT_EQ(alice->principal(), "alice");
  xs::document_info w = alice->write("r/1", "<r>1</r>");
  EXPECT_EQ(alice->read("r/1").xml, "<r>1</r>");
  EXPECT_EQ(alice->info("r/1").revision, w.revision);
  EXPECT_EQ(alice->revision(), w.revision);
  EXPECT_EQ(alice->list("r").size(), 1u);
  EXPECT_EQ(alice->query("r", "/r").at(0).values.at(0), "<r>1</r>");
  EXPECT_EQ(alice->watch("r", 0, std::chrono::milliseconds(0)).size(), 1u);
  std::string token = alice->issue_credential(request("r", xs::right_set{right::read}));
  std::unique_ptr<xs::session> reader = xs::local_session(s, s.authenticate(token));
  EXPECT_EQ(reader->read("r/1").xml, "<r>1</r>");
  EXPECT_EQ(denied([&] { reader->take("r/1"); }), "alice delete r/1");
  EXPECT_EQ(alice->take("r/1").xml, "<r>1</r>");
  EXPECT_EQ(store_errc_of([&] { reader->read("r/1"); }), xs::store_errc::not_found);
}

TEST_P(StoreConformance, ACredentialKeyIsTheTokensHashWhileTheCredentialHolds) {
  xs::store s = open();
  std::string token = s.issue_credential("alice", request("jobs", xs::right_set{right::read}));
  xs::caller c = s.authenticate(token);
  std::optional<xs::credential_key> key = s.credential_key_of(c.credential_id());
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->hash.size(), 32u);
  EXPECT_EQ(key->who.principal(), "alice");
  ASSERT_NE(key->who.limits(), nullptr);
  EXPECT_EQ(key->who.limits()->scope, "jobs");
  EXPECT_EQ(key->who.credential_id(), c.credential_id());
  EXPECT_FALSE(s.credential_key_of("0123456789abcdef").has_value());
  s.revoke_credential(c.credential_id(), "alice");
  EXPECT_FALSE(s.credential_key_of(c.credential_id()).has_value());
}
