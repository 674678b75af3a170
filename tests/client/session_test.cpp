// One test body for every xgate::store::session: the same operations must give the same
// results and the same typed errors on a store opened in the process (local_session) and
// on an xgated server (http_session), since results, the CLI and the channel run the same
// code on either. The http side runs once the server library (xgate::server) builds.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <utility>
#include <vector>
#include <memory>
#include <string>
#include <thread>

#include <xgate/client/http_session.hpp>
#include <xgate/client/open_session.hpp>
#include <xgate/store/follow.hpp>
#include <xgate/store/session.hpp>
#include <xgate/store/store.hpp>

#ifdef XGATE_CLIENT_TEST_SERVER
#include <xgate/server/http_server.hpp>
#endif

#include "test_dir.hpp"

namespace xgate::client {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using xgate::store::session;
using xgate::store::store_errc;
using xgate::store::testing::catch_store_error;
using xgate::store::testing::store_errc_of;
using xgate::store::testing::xgate_doc;

xgate::store::store_options small_store() {
  xgate::store::store_options o;
  o.kept_changes = 50;
  o.max_document_size = 4096;
  return o;
}

struct local_backend {
  static constexpr const char* name = "local";
  explicit local_backend(const fs::path& dir) : store(dir, small_store()) {}
  std::unique_ptr<session> open(const std::string& token) { return xgate::store::local_session(store, store.authenticate(token)); }
  xgate::store::store store;
};

#ifdef XGATE_CLIENT_TEST_SERVER
struct http_backend {
  static constexpr const char* name = "http";
  explicit http_backend(const fs::path& dir, std::chrono::milliseconds idle_timeout = 60s, std::size_t max_document = 16 << 20)
      : store(dir, small_store()), server(store, make_options(idle_timeout, max_document)) {
    server.start();
  }
  ~http_backend() { server.stop(); }
  static xgate::server::server_options make_options(std::chrono::milliseconds idle_timeout, std::size_t max_document) {
    xgate::server::server_options o;
    o.address = "127.0.0.1";
    o.port = 0;
    o.idle_timeout = idle_timeout;
    o.max_document = max_document;
    return o;
  }
  std::unique_ptr<session> open(const std::string& token) {
    return http_session("http://127.0.0.1:" + std::to_string(server.port()), token, {.request_timeout = 20s});
  }
  xgate::store::store store;
  xgate::server::http_server server;
};
using backends = ::testing::Types<local_backend, http_backend>;
#else
using backends = ::testing::Types<local_backend>;
#endif

struct backend_names {
  template <class T>
  static std::string GetName(int) { return T::name; }
};

template <class Backend>
class Session : public xgate::store::testing::StoreTest {
 protected:
  Backend backend{dir};
  // A session for principal, through a login-like credential with all its rights.
  std::unique_ptr<session> as(const std::string& principal) { return backend.open(backend.store.issue_credential(principal, {})); }
};
TYPED_TEST_SUITE(Session, backends, backend_names);

template <class F>
xgate::access_denied catch_denied(F&& f) {
  try {
    f();
  } catch (const xgate::access_denied& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not access_denied: " << e.what();
  }
  ADD_FAILURE() << "no access_denied thrown";
  return xgate::access_denied("", "", "");
}

TYPED_TEST(Session, WriteReadInfoListRoundTrip) {
  auto alice = this->as("alice");
  EXPECT_EQ(alice->principal(), "alice");
  EXPECT_EQ(alice->revision(), 0u);
  std::string xml = "<?xml version=\"1.0\"?>\n<order n=\"1\">caf\xc3\xa9 &amp; <qty>3</qty></order>\n";
  auto w = alice->write("orders/1", xml);
  EXPECT_EQ(w.name, "orders/1");
  EXPECT_EQ(w.revision, 1u);
  EXPECT_EQ(w.size, xml.size());
  EXPECT_EQ(w.rights, xgate::rights::owned_by("alice"));
  EXPECT_FALSE(w.embedded_rights);
  EXPECT_FALSE(w.lease_expires);

  auto d = alice->read("orders/1");
  EXPECT_EQ(d.xml, xml);  // byte for byte
  EXPECT_EQ(d.info, alice->info("orders/1"));
  EXPECT_EQ(d.info.revision, 1u);
  EXPECT_EQ(d.info.rights.creator, "alice");

  alice->write("orders/2", xml);
  alice->write("ordersX", xml);
  alice->write("orders/1", "<order n=\"1b\"/>");
  EXPECT_EQ(alice->revision(), 4u);
  auto l = alice->list("orders");
  ASSERT_EQ(l.size(), 2u);  // segment-wise: not ordersX
  EXPECT_EQ(l[0].name, "orders/1");
  EXPECT_EQ(l[0].revision, 4u);
  EXPECT_EQ(l[0], alice->info("orders/1"));
  EXPECT_EQ(l[1].name, "orders/2");
  EXPECT_EQ(alice->list("").size(), 3u);
  EXPECT_TRUE(alice->list("nothing/here").empty());
}

TYPED_TEST(Session, BatchesApplyEverythingOrNothing) {
  auto alice = this->as("alice");
  alice->write("b/old", "<old/>");
  // Bytes that an XML carrier could alter: CR LF, tabs, CDATA ends, quotes, non-ASCII.
  std::string tricky = "<?xml version=\"1.0\"?>\r\n<t a=\"x&#9;y\">\t]]&gt; \"'\xc3\xa9\r\n</t>";
  xgate::store::batch b;
  b.write("b/1", tricky).write("b/2", "<two/>", {.expected_revision = 0, .lease = std::chrono::seconds(60)}).remove("b/old");
  auto w = alice->apply(b);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].name, "b/1");
  EXPECT_EQ(w[1].revision, w[0].revision + 1);
  EXPECT_TRUE(w[1].lease_expires.has_value());
  EXPECT_EQ(alice->read("b/1").xml, tricky);  // byte for byte
  EXPECT_EQ(store_errc_of([&] { alice->read("b/old"); }), store_errc::not_found);

  // One failing operation: nothing of the batch happens.
  std::uint64_t before = alice->revision();
  xgate::store::batch bad;
  bad.write("b/3", "<three/>").write("b/2", "<again/>", {.expected_revision = 0});
  EXPECT_EQ(store_errc_of([&] { alice->apply(bad); }), store_errc::conflict);
  EXPECT_EQ(alice->revision(), before);
  EXPECT_EQ(store_errc_of([&] { alice->read("b/3"); }), store_errc::not_found);
  xgate::store::batch denied;
  denied.remove("b/1");
  EXPECT_THROW(this->as("bob")->apply(denied), xgate::access_denied);
  EXPECT_EQ(alice->read("b/1").xml, tricky);
}

TYPED_TEST(Session, NamesThatNeedPercentEncoding) {
  auto alice = this->as("alice");
  for (std::string name : {"odd/q?x=1&y=2", "odd/hash#frag", "odd/pct%41+plus", "odd/'quote\"s;,:@!$*()"}) {
    SCOPED_TRACE(name);
    auto w = alice->write(name, "<v/>");
    EXPECT_EQ(w.name, name);
    EXPECT_EQ(alice->read(name).info.name, name);
    EXPECT_EQ(alice->info(name).name, name);
  }
  auto l = alice->list("odd");
  ASSERT_EQ(l.size(), 4u);
  EXPECT_EQ(l[0].name, "odd/'quote\"s;,:@!$*()");
  EXPECT_EQ(alice->query("odd", "count(/v)").size(), 4u);
  alice->remove("odd/hash#frag");
  EXPECT_EQ(alice->take("odd/pct%41+plus").info.name, "odd/pct%41+plus");
  EXPECT_EQ(alice->list("odd").size(), 2u);
}

TYPED_TEST(Session, CompareAndSet) {
  auto alice = this->as("alice");
  auto a = alice->write("cas", "<v>1</v>", {.expected_revision = 0});
  auto e = catch_store_error([&] { alice->write("cas", "<v>2</v>", {.expected_revision = 0}); });
  EXPECT_EQ(e.code(), store_errc::conflict);
  EXPECT_EQ(e.operation(), "write");
  EXPECT_EQ(e.document(), "cas");
  auto b = alice->write("cas", "<v>2</v>", {.expected_revision = a.revision});
  EXPECT_EQ(store_errc_of([&] { alice->write("cas", "<v>3</v>", {.expected_revision = a.revision}); }), store_errc::conflict);
  EXPECT_EQ(store_errc_of([&] { alice->remove("cas", a.revision); }), store_errc::conflict);
  EXPECT_EQ(alice->read("cas").xml, "<v>2</v>");  // nothing written by a failed request
  alice->remove("cas", b.revision);
  EXPECT_EQ(store_errc_of([&] { alice->read("cas"); }), store_errc::not_found);
}

TYPED_TEST(Session, MissingDocumentsAreNotFound) {
  auto alice = this->as("alice");
  auto e = catch_store_error([&] { alice->read("no/such"); });
  EXPECT_EQ(e.code(), store_errc::not_found);
  EXPECT_EQ(e.operation(), "read");
  EXPECT_EQ(e.document(), "no/such");
  EXPECT_EQ(store_errc_of([&] { alice->info("no/such"); }), store_errc::not_found);
  EXPECT_EQ(store_errc_of([&] { alice->remove("no/such"); }), store_errc::not_found);
  EXPECT_EQ(store_errc_of([&] { alice->take("no/such"); }), store_errc::not_found);
  EXPECT_EQ(store_errc_of([&] { alice->renew_lease("no/such", 10s); }), store_errc::not_found);
  EXPECT_EQ(store_errc_of([&] { alice->cancel_lease("no/such"); }), store_errc::not_found);
}

TYPED_TEST(Session, BadInputIsRefusedWithItsCode) {
  auto alice = this->as("alice");
  EXPECT_EQ(store_errc_of([&] { alice->write("a//b", "<v/>"); }), store_errc::bad_name);
  EXPECT_EQ(store_errc_of([&] { alice->write("bad name", "<v/>"); }), store_errc::bad_name);
  EXPECT_EQ(store_errc_of([&] { alice->read("a/../b"); }), store_errc::bad_name);
  EXPECT_EQ(store_errc_of([&] { alice->write("doc", "<v>"); }), store_errc::bad_document);
  EXPECT_EQ(store_errc_of([&] { alice->write("doc", xgate_doc("creator=\"alice\" read=\"a\"b\"")); }), store_errc::bad_document);
  EXPECT_EQ(store_errc_of([&] { alice->write("doc", "<v>" + std::string(5000, 'x') + "</v>"); }), store_errc::too_large);
  alice->write("doc", "<v>1</v>");
  EXPECT_EQ(store_errc_of([&] { alice->query("", "//[broken"); }), store_errc::bad_xpath);
  EXPECT_EQ(alice->revision(), 1u);
}

TYPED_TEST(Session, RightsAreEnforcedWithTypedErrors) {
  auto alice = this->as("alice");
  auto bob = this->as("bob");
  alice->write("private/a", "<v>secret</v>");
  alice->write("shared/a", xgate_doc("creator=\"alice\" read=\"*\" write=\"creator bob\" delete=\"creator\" copy=\"creator\""));
  EXPECT_TRUE(alice->info("shared/a").embedded_rights);

  auto d = catch_denied([&] { bob->read("private/a"); });
  EXPECT_EQ(d.principal(), "bob");
  EXPECT_EQ(d.right(), "read");
  EXPECT_EQ(d.document(), "private/a");
  EXPECT_EQ(catch_denied([&] { bob->write("private/a", "<v/>"); }).right(), "write");
  EXPECT_EQ(catch_denied([&] { bob->remove("shared/a"); }).right(), "delete");
  EXPECT_TRUE(bob->list("private").empty());
  EXPECT_EQ(bob->list("").size(), 1u);
  EXPECT_EQ(bob->query("", "/v").size(), 0u);
  EXPECT_EQ(bob->read("shared/a").info.rights.creator, "alice");

  // bob may write shared/a, but neither change its rights nor claim another creator.
  EXPECT_EQ(store_errc_of([&] {
              bob->write("shared/a", xgate_doc("creator=\"alice\" read=\"bob\" write=\"creator bob\" delete=\"creator\" copy=\"creator\""));
            }),
            store_errc::rights_change);
  bob->write("shared/a", xgate_doc("creator=\"alice\" read=\"*\" write=\"creator bob\" delete=\"creator\" copy=\"creator\"", "<v>2</v>"));
  EXPECT_EQ(store_errc_of([&] { bob->write("bob/claims", xgate_doc("creator=\"alice\" read=\"*\"")); }), store_errc::creator_mismatch);
}

TYPED_TEST(Session, WriteOptionsRightsGivePlainXmlItsRights) {
  auto alice = this->as("alice");
  auto bob = this->as("bob");
  auto carol = this->as("carol");
  auto rights = xgate::rights::owned_by("alice").readers({"creator", "bob"}).writers({"*"}).deleters({});
  auto w = alice->write("r/a", "<v>1</v>", {.rights = rights});
  EXPECT_EQ(w.rights, rights);
  EXPECT_FALSE(w.embedded_rights);
  EXPECT_EQ(alice->info("r/a").rights, rights);
  // another principal sees them and is held to them
  EXPECT_EQ(bob->info("r/a").rights, rights);
  EXPECT_EQ(bob->read("r/a").info.rights, rights);
  EXPECT_EQ(bob->read("r/a").xml, "<v>1</v>");
  auto d = catch_denied([&] { carol->read("r/a"); });
  EXPECT_EQ(d.principal(), "carol");
  EXPECT_EQ(d.right(), "read");
  EXPECT_EQ(carol->write("r/a", "<v>carol</v>").rights, rights);  // write="*"; a replace keeps the rights
  EXPECT_EQ(catch_denied([&] { alice->remove("r/a"); }).right(), "delete");  // nobody may delete
  // the creator changes them; another writer may only restate them
  auto everyone = xgate::rights::owned_by("alice").readers({"*"}).writers({"*"});
  EXPECT_EQ(store_errc_of([&] { carol->write("r/a", "<v/>", {.rights = everyone}); }), store_errc::rights_change);
  EXPECT_EQ(store_errc_of([&] { carol->write("r/a", "<v/>", {.rights = xgate::rights::owned_by("carol")}); }),
            store_errc::creator_mismatch);
  EXPECT_EQ(carol->write("r/a", "<v>2</v>", {.rights = rights}).rights, rights);
  EXPECT_EQ(alice->write("r/a", "<v>3</v>", {.rights = everyone}).rights, everyone);
  EXPECT_EQ(carol->read("r/a").xml, "<v>3</v>");
  // a new document's creator is its writer
  EXPECT_EQ(store_errc_of([&] { alice->write("r/m", "<v/>", {.rights = xgate::rights::owned_by("mallory")}); }),
            store_errc::creator_mismatch);
  // embedded rights: the options must say the same
  std::string doc = xgate_doc("creator=\"alice\" read=\"*\" write=\"creator\" delete=\"creator\" copy=\"creator\"");
  EXPECT_EQ(store_errc_of([&] { alice->write("r/e", doc, {.rights = rights}); }), store_errc::bad_document);
  auto e = alice->write("r/e", doc, {.rights = xgate::rights::owned_by("alice").readers({"*"})});
  EXPECT_TRUE(e.embedded_rights);
  // the same through a batch
  xgate::store::batch b;
  b.write("r/b1", "<v/>", {.rights = rights}).write("r/b2", "<v/>");
  auto written = alice->apply(b);
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[0].rights, rights);
  EXPECT_EQ(written[1].rights, xgate::rights::owned_by("alice"));
  EXPECT_EQ(bob->info("r/b1").rights, rights);
  EXPECT_EQ(catch_denied([&] { bob->read("r/b2"); }).right(), "read");
  xgate::store::batch change;
  change.write("r/b1", "<x/>", {.rights = everyone});
  EXPECT_EQ(store_errc_of([&] { carol->apply(change); }), store_errc::rights_change);
  EXPECT_EQ(bob->read("r/b1").xml, "<v/>");
}

TYPED_TEST(Session, TakeReadsAndRemovesOnce) {
  auto alice = this->as("alice");
  auto w = alice->write("queue/1", "<job>1</job>");
  auto t = alice->take("queue/1");
  EXPECT_EQ(t.xml, "<job>1</job>");
  EXPECT_EQ(t.info.name, "queue/1");
  EXPECT_EQ(t.info.revision, w.revision);
  EXPECT_EQ(t.info.rights.creator, "alice");
  EXPECT_EQ(t.info.size, 12u);
  EXPECT_EQ(store_errc_of([&] { alice->take("queue/1"); }), store_errc::not_found);
  EXPECT_TRUE(alice->list("queue").empty());
}

TYPED_TEST(Session, QueryReturnsValuesPerDocument) {
  auto alice = this->as("alice");
  alice->write("q/a", "<o><qty>3</qty><qty>1</qty><sku id=\"x&amp;y\">A</sku></o>");
  alice->write("q/b", "<o><qty>5</qty></o>");
  alice->write("q/c", "<o/>");
  auto m = alice->query("q", "//qty[. > 2]");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].name, "q/a");
  EXPECT_EQ(m[0].revision, 1u);
  EXPECT_EQ(m[0].values, std::vector<std::string>{"<qty>3</qty>"});
  EXPECT_EQ(m[1].name, "q/b");
  auto attr = alice->query("q", "//sku/@id");
  ASSERT_EQ(attr.size(), 1u);
  EXPECT_EQ(attr[0].values, std::vector<std::string>{"x&y"});
  auto count = alice->query("q/b", "count(//qty)");
  ASSERT_EQ(count.size(), 1u);
  EXPECT_EQ(count[0].values, std::vector<std::string>{"1"});
}

TYPED_TEST(Session, WatchSeesChangesWaitsAndTimesOut) {
  auto alice = this->as("alice");
  auto bob = this->as("bob");
  alice->write("w/a", "<v/>");
  alice->write("w/secret", "<v/>");
  alice->write("other", "<v/>");
  alice->remove("w/a");
  auto c = alice->watch("w", 0, 1s);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0], (xgate::store::change{1, xgate::store::change_kind::written, "w/a"}));
  EXPECT_EQ(c[2], (xgate::store::change{4, xgate::store::change_kind::removed, "w/a"}));
  EXPECT_EQ(bob->watch("w", 1, 100ms).size(), 0u);  // bob could read none of them

  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(alice->watch("w", 4, 150ms).empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 140ms);

  std::jthread writer([&] {
    std::this_thread::sleep_for(100ms);
    this->backend.store.write("w/late", "<v/>", "alice");
  });
  start = std::chrono::steady_clock::now();
  auto late = alice->watch("w", 4, 10s);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].name, "w/late");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TYPED_TEST(Session, WatchBeyondTheChangeLogIsHistoryLost) {
  auto alice = this->as("alice");
  for (int i = 0; i < 60; ++i) alice->write("h/" + std::to_string(i), "<v/>");
  EXPECT_EQ(store_errc_of([&] { alice->watch("h", 0, 100ms); }), store_errc::history_lost);
  EXPECT_EQ(alice->watch("h", 55, 100ms).size(), 5u);
}

TYPED_TEST(Session, ListsAndQueriesInPages) {
  auto alice = this->as("alice");
  for (int i = 0; i < 7; ++i) alice->write("p/" + std::to_string(i), "<v n=\"" + std::to_string(i) + "\"/>");
  std::uint64_t at = alice->revision();
  std::vector<std::string> names;
  xgate::store::list_page page = alice->list("p", {.limit = 3});
  for (int pages = 1;; ++pages) {
    ASSERT_LE(pages, 3);
    EXPECT_EQ(page.revision, at);
    for (auto& d : page.documents) names.push_back(d.name);
    if (page.next.empty()) break;
    page = alice->list("p", {.limit = 3, .cursor = page.next});
  }
  EXPECT_EQ(names, (std::vector<std::string>{"p/0", "p/1", "p/2", "p/3", "p/4", "p/5", "p/6"}));
  // No limit: every document after the cursor, in as many requests as it takes.
  xgate::store::list_page rest = alice->list("p", {.cursor = alice->list("p", {.limit = 2}).next});
  EXPECT_EQ(rest.documents.size(), 5u);
  EXPECT_TRUE(rest.next.empty());
  alice->write("p/6", "<v/>");
  EXPECT_EQ(store_errc_of([&] { (void)alice->list("p", {.limit = 3, .cursor = std::to_string(at) + ":p/2"}); }),
            store_errc::revision_gone);
  EXPECT_EQ(store_errc_of([&] { (void)alice->list("p", {.limit = 3, .cursor = "p/2"}); }), store_errc::bad_cursor);

  xgate::store::query_page q = alice->query("p", "/v/@n", 4, "");
  ASSERT_EQ(q.matches.size(), 4u);
  EXPECT_EQ(q.matches[3].values, std::vector<std::string>{"3"});
  EXPECT_EQ(q.revision, alice->revision());
  q = alice->query("p", "/v/@n", 4, q.next);
  ASSERT_EQ(q.matches.size(), 2u);  // p/6 lost its n
  EXPECT_EQ(q.matches[1].values, std::vector<std::string>{"5"});
  EXPECT_TRUE(q.next.empty());
}

TYPED_TEST(Session, IndexesAreAddedListedUsedAndRemovedByTheirCreator) {
  auto alice = this->as("alice");
  auto bob = this->as("bob");
  alice->write("o/1", "<o><c>ann</c></o>");
  alice->write("o/2", "<o><c>bo</c></o>");
  alice->add_index("customer", "o", "/o/c");
  EXPECT_EQ(bob->indexes(), (std::vector<xgate::store::index_info>{{"customer", "o", "/o/c", "alice"}}));
  auto found = alice->query("o", "/o/c[. = 'ann']");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].name, "o/1");
  EXPECT_EQ(store_errc_of([&] { alice->add_index("customer", "p", "/p"); }), store_errc::conflict);
  EXPECT_EQ(store_errc_of([&] { alice->add_index("bad id", "p", "/p"); }), store_errc::bad_name);
  EXPECT_EQ(store_errc_of([&] { alice->add_index("n", "p", "count(/p)"); }), store_errc::bad_xpath);
  EXPECT_EQ(store_errc_of([&] { alice->remove_index("nothing"); }), store_errc::not_found);
  auto denied = catch_denied([&] { bob->remove_index("customer"); });
  EXPECT_EQ(denied.principal(), "bob");
  alice->remove_index("customer");
  EXPECT_TRUE(alice->indexes().empty());
}

TYPED_TEST(Session, FollowListsAgainWhenItFellBehindAndGoesOn) {
  auto alice = this->as("alice");
  alice->write("f/a", "<v/>");
  std::uint64_t behind = alice->revision();
  for (int i = 0; i < 60; ++i) alice->write("elsewhere/" + std::to_string(i), "<v/>");  // past the 50 changes kept
  alice->write("f/b", "<v/>");
  std::mutex m;
  std::condition_variable cv;
  std::vector<xgate::store::listing> listings;
  std::vector<xgate::store::change> changes;
  std::stop_source stop;
  auto follower = this->as("alice");
  std::uint64_t last = 0;
  std::thread t([&] {
    last = xgate::store::follow(*follower, "f", behind,
                                {.listed =
                                     [&](const xgate::store::listing& l) {
                                       std::lock_guard lock(m);
                                       listings.push_back(l);
                                       cv.notify_all();
                                     },
                                 .changed =
                                     [&](const std::vector<xgate::store::change>& c) {
                                       std::lock_guard lock(m);
                                       changes.insert(changes.end(), c.begin(), c.end());
                                       cv.notify_all();
                                     },
                                 .page = 1,
                                 .wait = 100ms},
                                stop.get_token());
  });
  {
    std::unique_lock lock(m);
    EXPECT_TRUE(cv.wait_for(lock, 10s, [&] { return !listings.empty(); }));
  }
  alice->write("f/c", "<v/>");
  {
    std::unique_lock lock(m);
    EXPECT_TRUE(cv.wait_for(lock, 10s, [&] { return !changes.empty(); }));
  }
  stop.request_stop();
  t.join();
  ASSERT_EQ(listings.size(), 1u);
  ASSERT_EQ(listings[0].documents.size(), 2u);  // f/a and f/b, in pages of one
  EXPECT_EQ(listings[0].documents[1].name, "f/b");
  EXPECT_EQ(listings[0].revision, alice->revision() - 1);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].name, "f/c");
  EXPECT_EQ(last, alice->revision());
}

TYPED_TEST(Session, LeasesRenewAndCancelByTheirHolder) {
  auto alice = this->as("alice");
  auto bob = this->as("bob");
  auto before = xgate::store::clock::now();
  auto w = alice->write("lease/a", xgate_doc("creator=\"alice\" read=\"*\" write=\"*\" delete=\"creator\" copy=\"creator\""),
                        {.lease = 60s});
  ASSERT_TRUE(w.lease_expires);
  EXPECT_GE(*w.lease_expires, before + 59s);
  EXPECT_EQ(w.lease_holder, "alice");
  auto r = alice->renew_lease("lease/a", 3600s);
  ASSERT_TRUE(r.lease_expires);
  EXPECT_GT(*r.lease_expires, *w.lease_expires + 3000s);
  EXPECT_EQ(r.revision, w.revision);
  EXPECT_EQ(alice->info("lease/a").lease_expires, r.lease_expires);
  EXPECT_EQ(catch_denied([&] { bob->renew_lease("lease/a", 10s); }).principal(), "bob");
  auto c = alice->cancel_lease("lease/a");
  EXPECT_FALSE(c.lease_expires);
  EXPECT_EQ(store_errc_of([&] { alice->cancel_lease("lease/a"); }), store_errc::no_lease);
  EXPECT_EQ(store_errc_of([&] { alice->renew_lease("lease/a", 10s); }), store_errc::no_lease);
}

TYPED_TEST(Session, CredentialsNarrowWhatASessionMayDo) {
  auto alice = this->as("alice");
  alice->write("shared/x", "<v>x</v>");
  alice->write("private/y", "<v>y</v>");
  std::string token = alice->issue_credential({.scope = "shared", .rights = {xgate::right::read}, .label = "readers"});
  EXPECT_FALSE(token.empty());
  auto reader = this->backend.open(token);
  EXPECT_EQ(reader->principal(), "alice");
  EXPECT_EQ(reader->read("shared/x").xml, "<v>x</v>");
  EXPECT_EQ(catch_denied([&] { reader->read("private/y"); }).right(), "read");
  EXPECT_EQ(catch_denied([&] { reader->write("shared/x", "<v/>"); }).right(), "write");
  EXPECT_EQ(reader->list("").size(), 1u);
  // A credential issued through it stays within it.
  std::string child = reader->issue_credential({.scope = "shared/x", .subtree = false, .rights = {xgate::right::read}, .ttl = 60s});
  EXPECT_EQ(this->backend.open(child)->read("shared/x").xml, "<v>x</v>");
  EXPECT_THROW(reader->issue_credential({.scope = "", .rights = {xgate::right::read}}), xgate::access_denied);
}

TYPED_TEST(Session, CredentialsAreListedAndRevokedWithWhatWasIssuedThroughThem) {
  auto alice = this->as("alice");
  std::string token = alice->issue_credential({.scope = "shared", .rights = {xgate::right::read}, .label = "readers"});
  auto reader = this->backend.open(token);
  std::string child = reader->issue_credential({.scope = "shared/x", .rights = {xgate::right::read}, .ttl = 60s});
  namespace store = xgate::store;
  std::vector<store::credential_info> mine = alice->credentials();
  ASSERT_EQ(mine.size(), 3u);  // alice's own login credential, readers, and the child
  const store::credential_info* readers = nullptr;
  for (const auto& c : mine)
    if (c.label == "readers") readers = &c;
  ASSERT_NE(readers, nullptr);
  EXPECT_EQ(readers->granted.principal, "alice");
  EXPECT_EQ(readers->granted.scope, "shared");
  EXPECT_TRUE(readers->granted.subtree);
  EXPECT_EQ(readers->granted.rights.to_string(), "read");
  EXPECT_FALSE(readers->granted.expires);
  std::vector<store::credential_info> through = reader->credentials();
  ASSERT_EQ(through.size(), 2u);  // readers and its child
  for (const auto& c : through)
    if (c.id != readers->id) {
      EXPECT_EQ(c.parent, readers->id);
      EXPECT_EQ(c.granted.scope, "shared/x");
      EXPECT_TRUE(c.granted.expires);
    }
  EXPECT_EQ(catch_store_error([&] { this->as("bob")->revoke_credential(readers->id); }).code(), store_errc::not_found);
  alice->revoke_credential(readers->id);
  EXPECT_EQ(catch_store_error([&] { this->backend.open(token)->revision(); }).code(), store_errc::bad_credential);
  EXPECT_EQ(catch_store_error([&] { this->backend.open(child)->revision(); }).code(), store_errc::bad_credential);
  EXPECT_EQ(alice->credentials().size(), 1u);
}

TYPED_TEST(Session, UnknownTokensAreBadCredentials) {
  auto e = catch_store_error([&] { this->backend.open("not-a-token")->revision(); });
  EXPECT_EQ(e.code(), store_errc::bad_credential);
}

// ---- open_session and store_cache -----------------------------------------------------------
class OpenSession : public xgate::store::testing::StoreTest {};

TEST_F(OpenSession, FileAddressesShareOneStorePerDirectory) {
  store_cache cache;
  auto a = open_session("file:" + dir.string(), "principal:alice", cache);
  EXPECT_EQ(a->principal(), "alice");
  a->write("x", "<v/>");
  fs::path again = dir / ".." / dir.filename();
  auto b = open_session("file:" + again.string(), "principal:alice", cache);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(b->read("x").xml, "<v/>");
  EXPECT_EQ(b->address(), "file:" + fs::canonical(dir).string());
  auto& s = cache.open(dir);
  std::string token = s.issue_credential("bob", {.rights = {xgate::right::read}});
  auto c = open_session("file://" + dir.string(), token, cache);
  EXPECT_EQ(c->principal(), "bob");
  EXPECT_THROW((void)c->read("x"), xgate::access_denied);  // bob is not a reader of alice's document
  EXPECT_EQ(store_errc_of([&] { open_session("file:" + dir.string(), "bogus", cache); }), store_errc::bad_credential);
  EXPECT_THROW(open_session("ftp://x", "t", cache), client_error);
  EXPECT_EQ(open_session("http://127.0.0.1:1", "t", cache)->address(), "http://127.0.0.1:1");
}

TEST_F(OpenSession, CacheIsThreadSafe) {
  store_cache cache;
  std::vector<std::jthread> threads;
  std::atomic<int> opened{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      auto s = open_session("file:" + dir.string(), "principal:p", cache);
      s->revision();
      ++opened;
    });
  threads.clear();
  EXPECT_EQ(opened, 8);
  EXPECT_EQ(cache.size(), 1u);
}


#ifdef XGATE_CLIENT_TEST_SERVER
// ---- the http side against the local side on the same store ---------------------------------
// The kind and message of what f throws.
template <class F>
std::pair<std::string, std::string> failure(F&& f) {
  try {
    f();
  } catch (const xgate::store::store_error& e) {
    return {std::string("store_error ") + xgate::store::to_string(e.reason()), e.what()};
  } catch (const xgate::access_denied& e) {
    return {"access_denied", e.what()};
  } catch (const std::exception& e) {
    return {"other", e.what()};
  }
  return {"none", ""};
}

class HttpAndLocal : public xgate::store::testing::StoreTest {};

std::string rights_text(const xgate::rights& r) {
  std::string out = r.creator;
  for (xgate::right k : {xgate::right::read, xgate::right::write, xgate::right::del, xgate::right::copy})
    out += std::string(" ") + xgate::to_string(k) + "=[" + xgate::join_principals(r.list(k)) + "]";
  return out;
}

TEST_F(HttpAndLocal, ErrorsReadTheSameOnBothSides) {
  http_backend b(dir);
  std::string token = b.store.issue_credential("alice", {});
  auto local = xgate::store::local_session(b.store, b.store.authenticate(token));
  auto remote = b.open(token);
  local->write("doc", "<v>1</v>");
  b.store.write("bobs", "<v/>", "bob");
  std::vector<std::function<void(session&)>> ops{
      [](session& s) { s.read("nope"); },
      [](session& s) { s.info("no/pe"); },
      [](session& s) { s.take("nope"); },
      [](session& s) { s.remove("doc", 99); },
      [](session& s) { s.write("doc", "<v/>", {.expected_revision = 0}); },
      [](session& s) { s.write("a//b", "<v/>"); },
      [](session& s) { s.write("doc", "<v>"); },
      [](session& s) { s.query("", "//[x"); },
      [](session& s) { s.cancel_lease("doc"); },
      [](session& s) { s.read("bobs"); },
      [](session& s) { s.write("bobs", "<v/>"); },
      [](session& s) { s.watch("", 0, 10ms); s.renew_lease("doc", 10s); },
  };
  for (std::size_t i = 0; i < ops.size(); ++i) {
    SCOPED_TRACE(i);
    auto l = failure([&] { ops[i](*local); });
    auto r = failure([&] { ops[i](*remote); });
    EXPECT_NE(l.first, "none");
    EXPECT_EQ(l, r);
  }
}

// The same write_options, rights included, on two fresh stores: one written locally, one
// through the server. Every result and every failure must be the same.
TEST_F(HttpAndLocal, WriteOptionsRightsGiveTheSameResultsOnBothSides) {
  local_backend lb(dir / "local");
  http_backend hb(dir / "http");
  auto sessions = [](auto& backend) {
    std::vector<std::unique_ptr<session>> out;
    for (const char* p : {"alice", "bob"}) out.push_back(backend.open(backend.store.issue_credential(p, {})));
    return out;
  };
  auto local = sessions(lb);
  auto remote = sessions(hb);
  auto shared = xgate::rights::owned_by("alice").readers({"*"}).writers({"creator", "bob"}).deleters({}).copiers({"bob"});
  auto doc = xgate_doc("creator=\"alice\" read=\"*\" write=\"creator\" delete=\"creator\" copy=\"creator\"");
  using ops = std::vector<std::unique_ptr<session>>;
  std::vector<std::function<std::string(ops&)>> steps{
      [&](ops& s) { return rights_text(s[0]->write("d", "<v/>", {.rights = shared}).rights); },
      [&](ops& s) { return rights_text(s[1]->read("d").info.rights); },
      [&](ops& s) { return rights_text(s[1]->write("d", "<v>bob</v>", {.rights = shared}).rights); },
      [&](ops& s) { return rights_text(s[1]->write("d", "<v/>", {.rights = xgate::rights::owned_by("alice")}).rights); },
      [&](ops& s) { return rights_text(s[1]->write("d", "<v/>", {.rights = xgate::rights::owned_by("bob")}).rights); },
      [&](ops& s) { return rights_text(s[0]->write("d", "<v/>", {.rights = xgate::rights::owned_by("alice")}).rights); },
      [&](ops& s) { return rights_text(s[1]->info("d").rights); },
      [&](ops& s) { return rights_text(s[0]->write("n", "<v/>", {.rights = xgate::rights::owned_by("bob")}).rights); },
      [&](ops& s) { return rights_text(s[0]->write("n", "<v/>", {.rights = xgate::rights::owned_by("alice").readers({"al ice"})}).rights); },
      [&](ops& s) { return rights_text(s[0]->write("n", "<v/>", {.rights = xgate::rights::owned_by("alice").readers({""})}).rights); },
      [&](ops& s) { return rights_text(s[0]->write("e", doc, {.rights = shared}).rights); },
      [&](ops& s) { return rights_text(s[0]->write("e", doc, {.rights = xgate::rights::owned_by("alice").readers({"*"})}).rights); },
      [&](ops& s) {
        xgate::store::batch b;
        b.write("b/1", "<v/>", {.rights = shared}).write("b/2", "<v/>", {.expected_revision = 0, .rights = xgate::rights::owned_by("alice").readers({})});
        auto w = s[0]->apply(b);
        return rights_text(w.at(0).rights) + " | " + rights_text(w.at(1).rights);
      },
      [&](ops& s) {
        xgate::store::batch b;
        b.write("b/1", "<v/>", {.rights = xgate::rights::owned_by("alice")});
        return rights_text(s[1]->apply(b).at(0).rights);
      },
      [&](ops& s) { return std::to_string(s[1]->list("").size()) + " " + std::to_string(s[0]->revision()); },
  };
  // What the local side gives (the http side must give the same).
  const std::vector<std::string> expected{
      "alice read=[*] write=[creator bob] delete=[] copy=[bob]",
      "alice read=[*] write=[creator bob] delete=[] copy=[bob]",
      "alice read=[*] write=[creator bob] delete=[] copy=[bob]",  // bob restates them
      "store_error rights_change",
      "store_error creator_mismatch",
      "alice read=[creator] write=[creator] delete=[creator] copy=[creator]",
      "access_denied",
      "store_error creator_mismatch",
      "other",  // "al ice": invalid principal name
      "other",  // "": invalid principal name
      "store_error bad_document",
      "alice read=[*] write=[creator] delete=[creator] copy=[creator]",
      "alice read=[*] write=[creator bob] delete=[] copy=[bob] | alice read=[] write=[creator] delete=[creator] copy=[creator]",
      "store_error rights_change",
      "2 6",
  };
  ASSERT_EQ(expected.size(), steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    SCOPED_TRACE(i);
    std::string l, r;
    auto lf = failure([&] { l = steps[i](local); });
    auto rf = failure([&] { r = steps[i](remote); });
    EXPECT_EQ(lf.first == "none" ? l : lf.first, expected[i]) << lf.second;
    EXPECT_EQ(lf, rf);
    EXPECT_EQ(l, r);
  }
}

TEST_F(HttpAndLocal, SessionSurvivesTheServerClosingAnIdleConnection) {
  http_backend b(dir, 200ms);
  auto s = b.open(b.store.issue_credential("alice", {}));
  s->write("a", "<v/>");
  std::this_thread::sleep_for(500ms);  // the server closes the idle connection
  EXPECT_EQ(s->read("a").xml, "<v/>");
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(s->write("a", "<v>2</v>").revision, 2u);  // a write is re-sent only when nothing was received
}

TEST_F(HttpAndLocal, ABodyOverTheServersLimitIsTooLargeAndTheSessionGoesOn) {
  http_backend b(dir, 60s, 1024);
  auto s = b.open(b.store.issue_credential("alice", {}));
  // Over the server's --max-document (413, connection closed) and over the store's limit.
  EXPECT_EQ(store_errc_of([&] { s->write("big", "<v>" + std::string(2000, 'x') + "</v>"); }), store_errc::too_large);
  EXPECT_EQ(store_errc_of([&] { s->write("big", "<v>" + std::string(1 << 20, 'x') + "</v>"); }), store_errc::too_large);
  EXPECT_EQ(s->write("small", "<v/>").revision, 1u);
}

TEST_F(HttpAndLocal, AStoppedServerIsAClientError) {
  http_backend b(dir);
  auto s = b.open(b.store.issue_credential("alice", {}));
  EXPECT_EQ(s->revision(), 0u);
  b.server.stop();
  try {
    s->revision();
    ADD_FAILURE() << "no client_error";
  } catch (const client_error& e) {
    EXPECT_EQ(e.code(), xgate::condition::unavailable);
    EXPECT_NE(std::string(e.what()).find("/revision"), std::string::npos) << e.what();
  }
}
#endif

}  // namespace
}  // namespace xgate::client
