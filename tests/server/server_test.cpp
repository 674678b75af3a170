// xgate::server::http_server in-process against a fresh store, through a small synchronous
// Beast client: every route, status and error of server/API.md.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <xgate/server/http_server.hpp>
#include <xgate/store/store.hpp>

#include "server_fixture.hpp"

namespace {

using namespace xgate::server::testing;

// ---- round trips -------------------------------------------------------------------------

TEST_F(ServerTest, PutCreatesThenReplacesAndGetReturnsTheBytesWithInfoHeaders) {
  response r = call(http::verb::put, "/store/results/job-17/final", alice, plain);
  EXPECT_EQ(r.result_int(), 201) << r.body();
  EXPECT_EQ(header(r, "Content-Type"), "application/xml; charset=utf-8");
  EXPECT_EQ(header(r, "X-Xgate-Revision"), "1");
  EXPECT_TRUE(r.body().starts_with("<document name=\"results/job-17/final\" revision=\"1\" size=\"" +
                                   std::to_string(plain.size()) + "\" created=\""))
      << r.body();
  EXPECT_NE(r.body().find("creator=\"alice\" read=\"creator\" write=\"creator\" delete=\"creator\" copy=\"creator\" "
                          "embedded-rights=\"0\"/>"),
            std::string::npos)
      << r.body();

  std::string second = "<result><v>3</v></result>";
  r = call(http::verb::put, "/store/results/job-17/final", alice, second);
  EXPECT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(header(r, "X-Xgate-Revision"), "2");

  r = call(http::verb::get, "/store/results/job-17/final", alice);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), second);
  EXPECT_EQ(header(r, "Content-Type"), "application/xml; charset=utf-8");
  EXPECT_EQ(header(r, "X-Xgate-Revision"), "2");
  EXPECT_EQ(header(r, "X-Xgate-Creator"), "alice");
  store::document_info info = s->info("results/job-17/final", "alice");
  EXPECT_EQ(header(r, "X-Xgate-Modified").size(), 24u);  // 2026-11-22T01:40:06.123Z
  EXPECT_EQ(header(r, "X-Xgate-Modified").back(), 'Z');
  EXPECT_EQ(header(r, "X-Xgate-Read"), "creator");
  EXPECT_EQ(header(r, "X-Xgate-Embedded-Rights"), "0");
  EXPECT_EQ(info.revision, 2u);
}

TEST_F(ServerTest, HeadSendsGetsHeadersWithoutBody) {
  call(http::verb::put, "/store/a", alice, plain);
  http_client c = client();
  response r = c.request(http::verb::head, "/store/a", alice);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "");
  EXPECT_EQ(header(r, "Content-Length"), std::to_string(plain.size()));
  EXPECT_EQ(header(r, "X-Xgate-Creator"), "alice");
  EXPECT_EQ(header(r, "X-Xgate-Revision"), "1");
  // The connection is still in step: no stray body bytes.
  r = c.request(http::verb::get, "/store/a", alice);
  EXPECT_EQ(r.body(), plain);
  r = c.request(http::verb::head, "/store/missing", alice);
  EXPECT_EQ(r.result_int(), 404);
  EXPECT_EQ(header(r, "X-Xgate-Error"), "not_found");
  EXPECT_EQ(c.request(http::verb::get, "/revision", alice).body(), "<revision>1</revision>");
}

TEST_F(ServerTest, DeleteRemovesWith204) {
  call(http::verb::put, "/store/a", alice, plain);
  response r = call(http::verb::delete_, "/store/a?if-revision=1", alice);
  EXPECT_EQ(r.result_int(), 204);
  EXPECT_EQ(r.body(), "");
  EXPECT_EQ(header(r, "X-Xgate-Revision"), "2");
  EXPECT_FALSE(s->contains("a"));
  expect_error(call(http::verb::get, "/store/a", alice), 404, "not_found", "store: read \"a\": no such document");
  expect_error(call(http::verb::delete_, "/store/a", alice), 404, "not_found", "store: remove \"a\": no such document");
}

TEST_F(ServerTest, TakeReturnsTheDocumentOnceThen404) {
  call(http::verb::put, "/store/queue/next", alice, plain);
  response r = call(http::verb::post, "/take/queue/next", alice);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), plain);
  EXPECT_EQ(header(r, "X-Xgate-Revision"), "1");
  EXPECT_EQ(header(r, "X-Xgate-Creator"), "alice");
  expect_error(call(http::verb::post, "/take/queue/next", alice), 404, "not_found",
               "store: take \"queue/next\": no such document");
}

TEST_F(ServerTest, InfoListsMetadata) {
  call(http::verb::put, "/store/a", alice, plain);
  response r = call(http::verb::get, "/info/a", alice);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_TRUE(r.body().starts_with("<document name=\"a\" revision=\"1\"")) << r.body();
  EXPECT_EQ(header(r, "X-Xgate-Revision"), "1");
}

TEST_F(ServerTest, ListShowsReadableDocumentsUnderThePrefix) {
  call(http::verb::put, "/store/r/a", alice, plain);
  call(http::verb::put, "/store/r/b", alice, xgate_doc("creator=\"alice\" read=\"*\""));
  call(http::verb::put, "/store/rx", alice, plain);
  call(http::verb::put, "/store/other/c", alice, plain);
  response r = call(http::verb::get, "/list/r", alice);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(header(r, "X-Xgate-Revision"), "4");
  EXPECT_TRUE(r.body().starts_with("<list prefix=\"r\" revision=\"4\"><document name=\"r/a\"")) << r.body();
  EXPECT_NE(r.body().find("<document name=\"r/b\""), std::string::npos);
  EXPECT_EQ(r.body().find("rx"), std::string::npos);
  EXPECT_TRUE(r.body().ends_with("/></list>"));
  // bob may read only r/b
  r = call(http::verb::get, "/list", bob);
  EXPECT_TRUE(r.body().starts_with("<list prefix=\"\" revision=\"4\"><document name=\"r/b\"")) << r.body();
  EXPECT_NE(r.body().find("read=\"*\""), std::string::npos);
  EXPECT_NE(r.body().find("embedded-rights=\"1\""), std::string::npos);
  EXPECT_EQ(r.body().find("r/a"), std::string::npos);
  // everything
  r = call(http::verb::get, "/list", alice);
  EXPECT_NE(r.body().find("other/c"), std::string::npos);
}

TEST_F(ServerTest, QueryReturnsEscapedMatches) {
  call(http::verb::put, "/store/q/a", alice, "<r><v>1 &amp; 2</v><v>3</v></r>");
  call(http::verb::put, "/store/q/b", alice, "<r><w/></r>");
  response r = call(http::verb::get, "/query/q?xpath=%2F%2Fv%2Ftext()", alice);
  EXPECT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(r.body(),
            "<query prefix=\"q\" xpath=\"//v/text()\" revision=\"2\"><match name=\"q/a\" revision=\"1\"><value>1 &amp; 2</value>"
            "<value>3</value></match></query>");
  r = call(http::verb::get, "/query/q?xpath=count(%2F%2Fv)+1", alice);  // '+' in a URL is a plus
  EXPECT_NE(r.body().find("<value>3</value>"), std::string::npos) << r.body();
}

TEST_F(ServerTest, QueryAnswerOverMaxResponseIs507) {
  xgate::server::server_options o;
  o.max_response = 1000;
  open({}, o);
  call(http::verb::put, "/store/q/a", alice, "<r><v>" + std::string(600, 'x') + "</v></r>");
  // <r> and <v> each hold the 600 bytes: over 1000
  response r = call(http::verb::get, "/query/q?xpath=%2F%2F*", alice);
  expect_error(r, 507, "too_large", "query answer larger than the server's limit of 1000 bytes");
  r = call(http::verb::get, "/query/q?xpath=%2F%2Fv", alice);
  EXPECT_EQ(r.result_int(), 200) << r.body();
}

TEST_F(ServerTest, WatchLongPollWakesWhenAnotherClientWrites) {
  auto waiter = std::async(std::launch::async, [&] {
    auto t0 = steady_clock::now();
    response r = call(http::verb::get, "/watch/w?after=0&timeout=20000", alice);
    return std::pair(r, steady_clock::now() - t0);
  });
  std::this_thread::sleep_for(milliseconds(300));
  call(http::verb::put, "/store/elsewhere", alice, plain);  // not under w: no wake
  call(http::verb::put, "/store/w/x", alice, plain);
  auto [r, elapsed] = waiter.get();
  EXPECT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(r.body(), "<changes last=\"2\"><change revision=\"2\" kind=\"written\" name=\"w/x\"/></changes>");
  EXPECT_EQ(header(r, "X-Xgate-Revision"), "2");
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  call(http::verb::delete_, "/store/w/x", alice);
  r = call(http::verb::get, "/watch/w?after=2", alice);
  EXPECT_EQ(r.body(), "<changes last=\"3\"><change revision=\"3\" kind=\"removed\" name=\"w/x\"/></changes>");
}

TEST_F(ServerTest, WatchTimesOutWithEmptyChanges) {
  call(http::verb::put, "/store/a", alice, plain);
  auto t0 = steady_clock::now();
  response r = call(http::verb::get, "/watch/w?after=0&timeout=300", alice);
  auto elapsed = steady_clock::now() - t0;
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "<changes last=\"1\"></changes>");
  EXPECT_EQ(header(r, "X-Xgate-Revision"), "1");
  EXPECT_GE(elapsed, milliseconds(290));
  EXPECT_LT(elapsed, milliseconds(5000));
}

TEST_F(ServerTest, WatchAfterBeyondTheRevisionWaitsWhateverItsSize) {
  call(http::verb::put, "/store/w/a", alice, plain);
  for (std::string after : {"999999", "18446744073709551615"}) {
    auto t0 = steady_clock::now();
    response r = call(http::verb::get, "/watch/w?after=" + after + "&timeout=300", alice);
    EXPECT_EQ(r.result_int(), 200) << after << ": " << r.body();
    EXPECT_EQ(r.body(), "<changes last=\"" + after + "\"></changes>");
    EXPECT_GE(steady_clock::now() - t0, milliseconds(290)) << after;
  }
  // timeout=0 answers at once, the same way
  response r = call(http::verb::get, "/watch/w?after=18446744073709551615&timeout=0", alice);
  EXPECT_EQ(r.body(), "<changes last=\"18446744073709551615\"></changes>");
}

TEST_F(ServerTest, ManyLongPollsAllWakeOnOneWrite) {
  constexpr int polls = 50;
  std::vector<std::unique_ptr<http_client>> clients;
  for (int i = 0; i < polls; ++i) {
    clients.push_back(std::make_unique<http_client>(server->port()));
    clients.back()->write_raw("GET /watch/m?after=0&timeout=20000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + alice + "\r\n\r\n");
  }
  std::this_thread::sleep_for(milliseconds(300));
  auto t0 = steady_clock::now();
  call(http::verb::put, "/store/m/x", alice, plain);
  for (auto& c : clients) {
    response r = c->read();
    EXPECT_EQ(r.body(), "<changes last=\"1\"><change revision=\"1\" kind=\"written\" name=\"m/x\"/></changes>");
  }
  EXPECT_LT(steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST_F(ServerTest, ALongPollWhoseClientHangsUpFreesItsSlot) {
  xgate::server::server_options o;
  o.max_connections = 1;
  open({}, o);
  {
    http_client c = client();
    c.write_raw("GET /watch?after=0&timeout=60000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + alice + "\r\n\r\n");
    std::this_thread::sleep_for(milliseconds(200));
  }
  auto deadline = steady_clock::now() + std::chrono::seconds(3);
  unsigned status = 0;
  while (status != 200 && steady_clock::now() < deadline) {
    status = call(http::verb::get, "/revision", alice).result_int();
    if (status != 200) std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(status, 200u) << "the hung-up long poll still holds the only slot";
}

TEST_F(ServerTest, StopCutsALongPollShort) {
  auto waiter = std::async(std::launch::async, [&] {
    try {
      return call(http::verb::get, "/watch?after=0&timeout=60000", alice).result_int();
    } catch (const std::exception&) {
      return 0u;  // the connection closed before a response: also fine
    }
  });
  std::this_thread::sleep_for(milliseconds(300));
  auto t0 = steady_clock::now();
  server->stop();
  EXPECT_LT(steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(waiter.wait_for(std::chrono::seconds(5)), std::future_status::ready);
}

TEST_F(ServerTest, RevisionIsTheStoresLast) {
  call(http::verb::put, "/store/a", alice, plain);
  call(http::verb::put, "/store/b", alice, plain);
  response r = call(http::verb::get, "/revision", alice);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "<revision>2</revision>");
  EXPECT_EQ(header(r, "X-Xgate-Revision"), "2");
}

TEST_F(ServerTest, LeaseIsSetRenewedAndCancelled) {
  response r = call(http::verb::put, "/store/l?lease=60", alice, plain);
  EXPECT_EQ(r.result_int(), 201);
  EXPECT_NE(r.body().find(" lease-expires=\""), std::string::npos) << r.body();
  EXPECT_NE(r.body().find(" lease-holder=\"alice\"/>"), std::string::npos) << r.body();
  auto before = s->info("l", "alice").lease_expires;
  r = call(http::verb::post, "/lease/l?renew=3600", alice);
  EXPECT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(header(r, "X-Xgate-Revision"), "1");
  auto after = s->info("l", "alice").lease_expires;
  ASSERT_TRUE(before && after);
  EXPECT_GT(*after - *before, std::chrono::minutes(50));
  r = call(http::verb::post, "/lease/l?cancel", alice);
  EXPECT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(r.body().find("lease-expires"), std::string::npos) << r.body();
  EXPECT_FALSE(s->info("l", "alice").lease_expires);
}

TEST_F(ServerTest, LeasedDocumentExpires) {
  call(http::verb::put, "/store/l?lease=1", alice, plain);
  s->reap(store::clock::now() + std::chrono::seconds(2));
  expect_error(call(http::verb::get, "/store/l", alice), 404, "not_found");
}

TEST_F(ServerTest, CredentialIsIssuedAndUsed) {
  call(http::verb::put, "/store/docs/a", alice, plain);
  call(http::verb::put, "/store/private/b", alice, plain);
  response r = call(http::verb::post, "/credential/docs?rights=read&ttl=600&label=readers", alice);
  EXPECT_EQ(r.result_int(), 201) << r.body();
  EXPECT_EQ(header(r, "Cache-Control"), "no-store");
  const std::string& b = r.body();
  ASSERT_TRUE(b.starts_with("<credential token=\"xgt1_")) << b;
  std::string token = b.substr(19, b.find('"', 19) - 19);
  EXPECT_NE(b.find("\" principal=\"alice\" scope=\"docs\" subtree=\"1\" rights=\"read\" expires=\""), std::string::npos) << b;
  r = call(http::verb::get, "/store/docs/a", token);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), plain);
  r = call(http::verb::get, "/whoami", token);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_TRUE(r.body().starts_with("<whoami principal=\"alice\" credential=\"")) << r.body();
  EXPECT_NE(r.body().find(" scope=\"docs\" subtree=\"1\" rights=\"read\" expires=\""), std::string::npos) << r.body();
  // outside the scope
  r = call(http::verb::get, "/store/private/b", token);
  EXPECT_EQ(r.result_int(), 403);
  EXPECT_EQ(header(r, "X-Xgate-Error"), "access_denied");
  // the whole store, default rights; a single document without subtree
  r = call(http::verb::post, "/credential", alice);
  EXPECT_EQ(r.result_int(), 201);
  EXPECT_NE(r.body().find("scope=\"\" subtree=\"1\" rights=\"read,write,delete,copy\"/>"), std::string::npos) << r.body();
  r = call(http::verb::post, "/credential/docs/a?subtree=0&rights=read,write", alice);
  EXPECT_NE(r.body().find("scope=\"docs/a\" subtree=\"0\" rights=\"read,write\"/>"), std::string::npos) << r.body();
  // narrowed to channel methods: shown where the grant is
  r = call(http::verb::post, "/credential?methods=status,result,list", alice);
  EXPECT_EQ(r.result_int(), 201) << r.body();
  EXPECT_NE(r.body().find("rights=\"read,write,delete,copy\" methods=\"list,result,status\"/>"), std::string::npos) << r.body();
  std::string narrowed = r.body().substr(19, r.body().find('"', 19) - 19);
  r = call(http::verb::get, "/whoami", narrowed);
  EXPECT_NE(r.body().find(" methods=\"list,result,status\""), std::string::npos) << r.body();
  EXPECT_NE(call(http::verb::get, "/credentials", alice).body().find(" methods=\"list,result,status\""), std::string::npos);
}

// The caller's credentials are listed without their tokens, and a revoked one (with what was
// issued through it) is refused from the next request on; another principal's id is 404.
TEST_F(ServerTest, CredentialsAreListedAndRevoked) {
  auto token_and_id = [&](const std::string& target, const std::string& as) {
    response r = call(http::verb::post, target, as);
    EXPECT_EQ(r.result_int(), 201) << r.body();
    const std::string& b = r.body();
    std::string token = b.substr(19, b.find('"', 19) - 19);
    std::size_t at = b.find(" id=\"") + 5;
    return std::pair{token, b.substr(at, b.find('"', at) - at)};
  };
  auto [readers, readers_id] = token_and_id("/credential/docs?rights=read&label=readers", alice);
  auto [child, child_id] = token_and_id("/credential/docs/a?rights=read", readers);
  response r = call(http::verb::get, "/credentials", alice);
  ASSERT_EQ(r.result_int(), 200) << r.body();
  const std::string& list = r.body();
  EXPECT_TRUE(list.starts_with("<credentials principal=\"alice\">")) << list;
  // each credential's element (alice's login token is a credential too: the others' parent)
  auto element = [&](const std::string& id) {
    std::size_t at = list.find("<credential id=\"" + id + "\"");
    return at == std::string::npos ? std::string() : list.substr(at, list.find("/>", at) + 2 - at);
  };
  std::string e = element(readers_id);
  EXPECT_NE(e.find(" scope=\"docs\" subtree=\"1\" rights=\"read\" issued=\""), std::string::npos) << e;
  EXPECT_TRUE(e.ends_with(" label=\"readers\"/>")) << e;
  EXPECT_NE(element(child_id).find(" parent=\"" + readers_id + "\" scope=\"docs/a\""), std::string::npos) << list;
  EXPECT_NE(list.find(" label=\"login\"/>"), std::string::npos) << list;
  EXPECT_EQ(list.find("xgt1_"), std::string::npos) << "no token in the list: " << list;
  // through a credential: it and what was issued through it, nothing else of alice's
  r = call(http::verb::get, "/credentials", readers);
  EXPECT_NE(r.body().find(child_id), std::string::npos) << r.body();
  EXPECT_EQ(r.body().find("scope=\"\""), std::string::npos) << r.body();

  expect_error(call(http::verb::delete_, "/credential/" + readers_id, bob), 404, "not_found");
  EXPECT_EQ(call(http::verb::get, "/whoami", readers).result_int(), 200);
  r = call(http::verb::delete_, "/credential/" + readers_id, alice);
  EXPECT_EQ(r.result_int(), 204) << r.body();
  expect_error(call(http::verb::get, "/whoami", readers), 401, "unauthorized");
  expect_error(call(http::verb::get, "/store/docs/a", child), 401, "unauthorized");
  EXPECT_EQ(call(http::verb::get, "/whoami", alice).result_int(), 200);
  EXPECT_EQ(call(http::verb::get, "/credentials", alice).body().find(readers_id), std::string::npos);
  expect_error(call(http::verb::delete_, "/credential/" + readers_id, alice), 404, "not_found");
  expect_error(call(http::verb::get, "/credentials?x=1", alice), 400, "bad_request");
}

TEST_F(ServerTest, WhoamiForALoginToken) {
  response r = call(http::verb::get, "/whoami", bob);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_TRUE(r.body().starts_with("<whoami principal=\"bob\"")) << r.body();
  EXPECT_NE(r.body().find(" scope=\"\" subtree=\"1\" rights=\"read,write,delete,copy\"/>"), std::string::npos) << r.body();
}

TEST_F(ServerTest, PercentEncodedNames) {
  response r = call(http::verb::put, "/store/a%2Fb%3Fc%41", alice, plain);
  EXPECT_EQ(r.result_int(), 201) << r.body();
  EXPECT_TRUE(s->contains("a/b?cA"));
  EXPECT_EQ(call(http::verb::get, "/store/a/b%3FcA", alice).body(), plain);
  EXPECT_TRUE(call(http::verb::get, "/list/a", alice).body().starts_with("<list prefix=\"a\" revision=\"1\"><document name=\"a/b?cA\""));
}

// ---- errors -------------------------------------------------------------------------------

TEST_F(ServerTest, BadXmlIs400BadDocumentAndNothingIsWritten) {
  response r = call(http::verb::put, "/store/bad", alice, "<a><b></a>");
  expect_error(r, 400, "bad_document");
  EXPECT_TRUE(r.body().starts_with("store: write \"bad\": ")) << r.body();
  expect_unwritten(0, "bad");
}

TEST_F(ServerTest, BadEmbeddedRightsAre400) {
  response r = call(http::verb::put, "/store/bad", alice, xgate_doc("creator=\"alice\" read=\"a&lt;b\""));
  expect_error(r, 400, "bad_document");
  expect_unwritten(0, "bad");
}

TEST_F(ServerTest, BadXPathIs400) {
  call(http::verb::put, "/store/a", alice, plain);
  response r = call(http::verb::get, "/query/a?xpath=%2F%2F%5B", alice);
  expect_error(r, 400, "bad_xpath");
  EXPECT_TRUE(r.body().starts_with("store: query \"a\": ")) << r.body();
  expect_error(call(http::verb::get, "/query/a", alice), 400, "bad_request", "missing query parameter \"xpath\"");
}

TEST_F(ServerTest, BadNameIs400AndNothingIsWritten) {
  response r = call(http::verb::put, "/store/a//b", alice, plain);
  expect_error(r, 400, "bad_name");
  EXPECT_TRUE(r.body().starts_with("store: write \"a//b\": ")) << r.body();
  EXPECT_EQ(s->revision(), 0u);
  expect_error(call(http::verb::put, "/store/a%0Ab", alice, plain), 400, "bad_name");
  expect_error(call(http::verb::put, "/store/a%zz", alice, plain), 400, "bad_request",
               "malformed percent-encoding in the path");
  EXPECT_EQ(s->revision(), 0u);
}

TEST_F(ServerTest, BadQueryParameterIs400AndNothingIsWritten) {
  expect_error(call(http::verb::put, "/store/a?lease=abc", alice, plain), 400, "bad_request",
               "bad query parameter \"lease\": \"abc\" is not a whole number of seconds from 1 to 1000000000");
  expect_error(call(http::verb::put, "/store/a?lease=0", alice, plain), 400, "bad_request");
  expect_error(call(http::verb::put, "/store/a?if-revision=-1", alice, plain), 400, "bad_request",
               "bad query parameter \"if-revision\": \"-1\" is not a revision number");
  expect_error(call(http::verb::put, "/store/a?colour=blue", alice, plain), 400, "bad_request",
               "unknown query parameter \"colour\" for /store");
  expect_error(call(http::verb::put, "/store/a?lease=5&lease=6", alice, plain), 400, "bad_request",
               "query parameter \"lease\" given twice");
  expect_unwritten(0, "a");
  expect_error(call(http::verb::get, "/watch/a", alice), 400, "bad_request", "missing query parameter \"after\"");
  expect_error(call(http::verb::get, "/watch/a?after=0&timeout=soon", alice), 400, "bad_request");
  expect_error(call(http::verb::post, "/credential?rights=fly", alice), 400, "bad_request",
               "bad query parameter \"rights\": \"fly\" is not a list of read, write, delete, copy (or all)");
  expect_error(call(http::verb::post, "/credential?subtree=2", alice), 400, "bad_request");
  expect_error(call(http::verb::post, "/credential?methods=status,move%20kill", alice), 400, "bad_request",
               "bad query parameter \"methods\": \"status,move kill\" is not a list of method names (each 1..64 bytes of "
               "[A-Za-z0-9._-], comma-separated)");
  expect_error(call(http::verb::post, "/credential?methods=", alice), 400, "bad_request");
  // no rights at all: the store refuses the request itself
  response none = call(http::verb::post, "/credential?rights=", alice);
  EXPECT_EQ(none.result_int(), 400) << none.body();
  EXPECT_TRUE(header(none, "X-Xgate-Error") == "bad_credential" || header(none, "X-Xgate-Error") == "bad_request")
      << header(none, "X-Xgate-Error");
  expect_error(call(http::verb::post, "/lease/a?renew=5&cancel", alice), 400, "bad_request",
               "give exactly one of the query parameters \"renew\" and \"cancel\"");
  EXPECT_TRUE(s->credentials("alice").size() == 1);  // only the login
}

TEST_F(ServerTest, NoTokenIs401) {
  response r = call(http::verb::put, "/store/a", "", plain);
  expect_error(r, 401, "unauthorized", "missing bearer token: send Authorization: Bearer TOKEN");
  EXPECT_EQ(header(r, "WWW-Authenticate"), "Bearer realm=\"xgated\"");
  expect_unwritten(0, "a");
  expect_error(call(http::verb::get, "/list", "", {}, {{"Authorization", "Basic YWxpY2U6eA=="}}), 401, "unauthorized",
               "unsupported authorization scheme: send Authorization: Bearer TOKEN");
}

TEST_F(ServerTest, WrongTokenIs401) {
  response r = call(http::verb::put, "/store/a", "xgt1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", plain);
  expect_error(r, 401, "unauthorized", "store: authenticate: unknown or revoked token");
  EXPECT_EQ(header(r, "WWW-Authenticate"), "Bearer realm=\"xgated\"");
  expect_error(call(http::verb::get, "/list", "not-a-token"), 401, "unauthorized", "store: authenticate: not an xgate token");
  expect_unwritten(0, "a");
}

TEST_F(ServerTest, RevokedCredentialIs401) {
  response r = call(http::verb::post, "/credential", alice);
  ASSERT_EQ(r.result_int(), 201);
  std::string token = r.body().substr(19, r.body().find('"', 19) - 19);
  EXPECT_EQ(call(http::verb::get, "/whoami", token).result_int(), 200);
  std::string id = s->authenticate(token).credential_id();
  s->revoke_credential(id, "alice");
  expect_error(call(http::verb::put, "/store/a", token, plain), 401, "unauthorized",
               "store: authenticate: unknown or revoked token");
  expect_unwritten(0, "a");  // credentials take no revision
}

TEST_F(ServerTest, RightsRefusalIs403WithPrincipalRightAndDocument) {
  call(http::verb::put, "/store/a", alice, plain);
  response r = call(http::verb::get, "/store/a", bob);
  expect_error(r, 403, "access_denied", "access denied: principal \"bob\" lacks the read right on \"a\"");
  EXPECT_EQ(header(r, "X-Xgate-Principal"), "bob");
  EXPECT_EQ(header(r, "X-Xgate-Right"), "read");
  EXPECT_EQ(header(r, "X-Xgate-Document"), "a");
  r = call(http::verb::put, "/store/a", bob, "<x/>");
  expect_error(r, 403, "access_denied");
  EXPECT_EQ(header(r, "X-Xgate-Right"), "write");
  EXPECT_EQ(s->read("a", "alice").xml, plain);
  EXPECT_EQ(s->revision(), 1u);
}

TEST_F(ServerTest, CredentialGrantRefusalIs403) {
  call(http::verb::put, "/store/docs/a", alice, plain);
  response r = call(http::verb::post, "/credential/docs?rights=read", alice);
  std::string token = r.body().substr(19, r.body().find('"', 19) - 19);
  r = call(http::verb::put, "/store/docs/a", token, "<x/>");
  expect_error(r, 403, "access_denied");
  EXPECT_EQ(header(r, "X-Xgate-Principal"), "alice");
  EXPECT_EQ(header(r, "X-Xgate-Right"), "write");
  EXPECT_EQ(header(r, "X-Xgate-Document"), "docs/a");
  r = call(http::verb::put, "/store/docs/new", token, "<x/>");
  expect_error(r, 403, "access_denied");
  EXPECT_EQ(s->read("docs/a", "alice").xml, plain);
  EXPECT_FALSE(s->contains("docs/new"));
  // a child credential wider than its parent
  expect_error(call(http::verb::post, "/credential/docs?rights=write", token), 403, "access_denied");
  EXPECT_EQ(s->revision(), 1u);
}

TEST_F(ServerTest, CreatorMismatchAndRightsChangeAre403) {
  response r = call(http::verb::put, "/store/c", alice, xgate_doc("creator=\"mallory\""));
  expect_error(r, 403, "creator_mismatch");
  expect_unwritten(0, "c");
  call(http::verb::put, "/store/c", alice, xgate_doc("creator=\"alice\" read=\"*\" write=\"alice bob\""));
  r = call(http::verb::put, "/store/c", bob, xgate_doc("creator=\"alice\" read=\"*\" write=\"*\""));
  expect_error(r, 403, "rights_change");
  EXPECT_EQ(s->revision(), 1u);
}

// ---- rights of plain XML: PUT's creator/read/write/delete/copy parameters ---------------------

// The rights attributes of a <document .../> answer.
std::string rights_attrs(const std::string& body) {
  std::size_t from = body.find(" creator=\"");
  std::size_t to = body.find(" embedded-rights=\"");
  if (from == std::string::npos || to == std::string::npos) return "no rights in " + body;
  return body.substr(from + 1, to - from - 1);
}

TEST_F(ServerTest, PutWithRightsParametersGivesPlainXmlThoseRights) {
  std::string carol = login("carol");
  // percent-decoded: %2A is *, %2C a comma; delete= is the empty list
  response r = call(http::verb::put, "/store/r/a?read=creator,bob&write=%2A&delete=&lease=60", alice, plain);
  ASSERT_EQ(r.result_int(), 201) << r.body();
  EXPECT_EQ(rights_attrs(r.body()), "creator=\"alice\" read=\"creator bob\" write=\"*\" delete=\"\" copy=\"creator\"");
  EXPECT_NE(r.body().find("embedded-rights=\"0\" lease-expires=\""), std::string::npos) << r.body();
  EXPECT_EQ(s->info("r/a", "alice").rights,
            xgate::rights::owned_by("alice").readers({"creator", "bob"}).writers({"*"}).deleters({}));
  r = call(http::verb::get, "/info/r/a", bob);
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(rights_attrs(r.body()), "creator=\"alice\" read=\"creator bob\" write=\"*\" delete=\"\" copy=\"creator\"");
  r = call(http::verb::get, "/store/r/a", bob);
  EXPECT_EQ(r.body(), plain);
  EXPECT_EQ(header(r, "X-Xgate-Read"), "creator bob");
  EXPECT_EQ(header(r, "X-Xgate-Delete"), "");
  r = call(http::verb::get, "/store/r/a", carol);
  expect_error(r, 403, "access_denied", "access denied: principal \"carol\" lacks the read right on \"r/a\"");
  // carol may write (write="*"); a replace without parameters keeps the rights
  r = call(http::verb::put, "/store/r/a", carol, "<v>carol</v>");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(rights_attrs(r.body()), "creator=\"alice\" read=\"creator bob\" write=\"*\" delete=\"\" copy=\"creator\"");
  // nobody may delete, the creator neither
  expect_error(call(http::verb::delete_, "/store/r/a", alice), 403, "access_denied",
               "access denied: principal \"alice\" lacks the delete right on \"r/a\"");

  // The creator replaces them: the lists not given go back to "creator", they are not kept.
  r = call(http::verb::put, "/store/r/a?copy=bob,carol", alice, plain);
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(rights_attrs(r.body()), "creator=\"alice\" read=\"creator\" write=\"creator\" delete=\"creator\" copy=\"bob carol\"");
  EXPECT_EQ(call(http::verb::get, "/store/r/a", bob).result_int(), 403);

  // An empty read list: nobody may read, the creator neither.
  r = call(http::verb::put, "/store/r/sealed?read=", alice, plain);
  ASSERT_EQ(r.result_int(), 201) << r.body();
  EXPECT_EQ(rights_attrs(r.body()), "creator=\"alice\" read=\"\" write=\"creator\" delete=\"creator\" copy=\"creator\"");
  expect_error(call(http::verb::get, "/store/r/sealed", alice), 403, "access_denied");
  EXPECT_EQ(s->revision(), 4u);
}

TEST_F(ServerTest, RightsParametersFollowTheStoresRules) {
  call(http::verb::put, "/store/c?write=creator,bob", alice, plain);
  // bob may write but not change the rights; his own name as creator is a creator mismatch
  expect_error(call(http::verb::put, "/store/c?write=*", bob, plain), 403, "creator_mismatch",
               "store: write \"c\": the document claims creator \"bob\" but was created by \"alice\"");
  expect_error(call(http::verb::put, "/store/c?creator=alice&write=*", bob, plain), 403, "rights_change",
               "store: write \"c\": only the creator \"alice\" may change the rights");
  // the rights it has, named in full: allowed
  response r = call(http::verb::put, "/store/c?creator=alice&write=creator,bob", bob, "<v>bob</v>");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(rights_attrs(r.body()), "creator=\"alice\" read=\"creator\" write=\"creator bob\" delete=\"creator\" copy=\"creator\"");
  // a new document's creator is its writer
  expect_error(call(http::verb::put, "/store/m?creator=mallory", alice, plain), 403, "creator_mismatch",
               "store: write \"m\": a new document's creator must be the writing principal \"alice\", the document "
               "claims \"mallory\"");
  EXPECT_EQ(call(http::verb::put, "/store/m?creator=alice", alice, plain).result_int(), 201);
  // embedded rights: the parameters must say the same
  std::string doc = xgate_doc("creator=\"alice\" read=\"*\" write=\"creator\" delete=\"creator\" copy=\"creator\"");
  expect_error(call(http::verb::put, "/store/e?read=bob", alice, doc), 400, "bad_document",
               "store: write \"e\": the document carries its own rights, which differ from the rights supplied");
  r = call(http::verb::put, "/store/e?read=*", alice, doc);
  ASSERT_EQ(r.result_int(), 201) << r.body();
  EXPECT_NE(r.body().find("read=\"*\" write=\"creator\" delete=\"creator\" copy=\"creator\" embedded-rights=\"1\""),
            std::string::npos)
      << r.body();
  EXPECT_EQ(s->revision(), 4u);
}

TEST_F(ServerTest, BadRightsParametersAre400AndNothingIsWritten) {
  auto bad = [&](const std::string& query, const std::string& message) {
    SCOPED_TRACE(query);
    expect_error(call(http::verb::put, "/store/a?" + query, alice, plain), 400, "bad_request", message);
  };
  bad("read=alice,,bob", "bad query parameter \"read\": \"alice,,bob\" is not a comma-separated list of principals (an empty name)");
  bad("write=bob,", "bad query parameter \"write\": \"bob,\" is not a comma-separated list of principals (an empty name)");
  bad("copy=,bob", "bad query parameter \"copy\": \",bob\" is not a comma-separated list of principals (an empty name)");
  bad("delete=%2C", "bad query parameter \"delete\": \",\" is not a comma-separated list of principals (an empty name)");
  bad("read=bob,al%20ice",
      "bad query parameter \"read\": \"bob,al ice\" is not a comma-separated list of principals (\"al ice\" is not a "
      "principal name)");
  bad("write=a%3Cb", "bad query parameter \"write\": \"a<b\" is not a comma-separated list of principals (\"a<b\" is not "
                     "a principal name)");
  bad("creator=", "bad query parameter \"creator\": \"\" is not a principal name");
  bad("creator=al%20ice&read=*", "bad query parameter \"creator\": \"al ice\" is not a principal name");
  bad("read=alice&read=bob", "query parameter \"read\" given twice");
  bad("read=*&delete=&delete=", "query parameter \"delete\" given twice");
  bad("readers=bob", "unknown query parameter \"readers\" for /store");
  bad("read=bob&lease=0", "bad query parameter \"lease\": \"0\" is not a whole number of seconds from 1 to 1000000000");
  expect_unwritten(0, "a");
  // the parameters belong to PUT only
  call(http::verb::put, "/store/a", alice, plain);
  expect_error(call(http::verb::delete_, "/store/a?read=bob", alice), 400, "bad_request",
               "unknown query parameter \"read\" for /store");
  expect_error(call(http::verb::get, "/store/a?read=bob", alice), 400, "bad_request",
               "unknown query parameter \"read\" for /store");
  EXPECT_EQ(s->revision(), 1u);
}

TEST_F(ServerTest, BatchWritesTakeRightsAttributes) {
  response r = call(http::verb::post, "/batch", alice,
                    "<batch><write name=\"b/1\" read=\"creator,bob\" write=\"*\" delete=\"\">&lt;one/&gt;</write>"
                    "<write name=\"b/2\">&lt;two/&gt;</write>"
                    "<write name=\"b/3\" creator=\"alice\" copy=\"bob\" lease=\"60\">&lt;three/&gt;</write></batch>");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(s->info("b/1", "alice").rights,
            xgate::rights::owned_by("alice").readers({"creator", "bob"}).writers({"*"}).deleters({}));
  EXPECT_EQ(s->info("b/2", "alice").rights, xgate::rights::owned_by("alice"));
  EXPECT_EQ(s->info("b/3", "alice").rights, xgate::rights::owned_by("alice").copiers({"bob"}));
  EXPECT_NE(r.body().find("read=\"creator bob\" write=\"*\" delete=\"\" copy=\"creator\""), std::string::npos) << r.body();
  EXPECT_EQ(call(http::verb::get, "/store/b/1", bob).body(), "<one/>");
  expect_error(call(http::verb::get, "/store/b/2", bob), 403, "access_denied");
  ASSERT_EQ(s->revision(), 3u);

  auto bad = [&](const std::string& write, unsigned status, const std::string& code, const std::string& message) {
    SCOPED_TRACE(write);
    expect_error(call(http::verb::post, "/batch", alice,
                      "<batch><write name=\"b/new\">&lt;n/&gt;</write>" + write + "&lt;x/&gt;</write></batch>"),
                 status, code, message);
  };
  bad("<write name=\"b/4\" read=\"alice\" read=\"bob\">", 400, "bad_request", "batch: operation 2: attribute \"read\" given twice");
  bad("<write name=\"b/4\" lease=\"5\" lease=\"6\">", 400, "bad_request", "batch: operation 2: attribute \"lease\" given twice");
  bad("<write name=\"b/4\" read=\"alice,,bob\">", 400, "bad_request",
      "batch: operation 2: bad attribute read=\"alice,,bob\": not a comma-separated list of principals (an empty name)");
  bad("<write name=\"b/4\" copy=\"bob,\">", 400, "bad_request",
      "batch: operation 2: bad attribute copy=\"bob,\": not a comma-separated list of principals (an empty name)");
  bad("<write name=\"b/4\" write=\"al ice\">", 400, "bad_request",
      "batch: operation 2: bad attribute write=\"al ice\": not a comma-separated list of principals (\"al ice\" is not a "
      "principal name)");
  bad("<write name=\"b/4\" creator=\"\">", 400, "bad_request", "batch: operation 2: bad attribute creator=\"\": not a principal name");
  bad("<write name=\"b/4\" readers=\"bob\">", 400, "bad_request", "batch: operation 2: bad attribute readers=\"bob\"");
  // what the store refuses fails the whole batch with the store's status
  bad("<write name=\"b/2\" creator=\"bob\">", 403, "creator_mismatch",
      "store: batch write \"b/2\": the document claims creator \"bob\" but was created by \"alice\"");
  // rights that differ from the document's embedded ones
  std::string embedded;
  for (char c : xgate_doc("creator=\"alice\" read=\"*\"")) {
    if (c == '<') embedded += "&lt;";
    else if (c == '&') embedded += "&amp;";
    else embedded += c;
  }
  bad("<write name=\"b/4\" read=\"bob\">" + embedded + "</write><write name=\"b/5\">", 400, "bad_document",
      "store: batch write \"b/4\": the document carries its own rights, which differ from the rights supplied");
  EXPECT_EQ(s->revision(), 3u);
  EXPECT_FALSE(s->contains("b/new"));
  // bob may write b/1 but not change its rights: the whole batch fails
  expect_error(call(http::verb::post, "/batch", bob,
                    "<batch><write name=\"b/1\" creator=\"alice\" read=\"*\">&lt;x/&gt;</write></batch>"),
               403, "rights_change", "store: batch write \"b/1\": only the creator \"alice\" may change the rights");
  EXPECT_EQ(s->revision(), 3u);
}

TEST_F(ServerTest, UnknownRouteAndMissingDocumentAre404) {
  expect_error(call(http::verb::get, "/store/nothing", alice), 404, "not_found", "store: read \"nothing\": no such document");
  expect_error(call(http::verb::get, "/info/nothing", alice), 404, "not_found", "store: info \"nothing\": no such document");
  expect_error(call(http::verb::get, "/nowhere", alice), 404, "not_found", "no such route: /nowhere");
  expect_error(call(http::verb::get, "/revision/x", alice), 404, "not_found");
}

TEST_F(ServerTest, WrongMethodIs405) {
  response r = call(http::verb::post, "/revision", alice);
  expect_error(r, 405, "bad_request", "method POST not allowed here (allowed: GET)");
  EXPECT_EQ(header(r, "Allow"), "GET");
  r = call(http::verb::post, "/store/a", alice, plain);
  expect_error(r, 405, "bad_request", "method POST not allowed here (allowed: GET, HEAD, PUT, DELETE)");
  expect_error(call(http::verb::get, "/take/a", alice), 405, "bad_request");
  expect_unwritten(0, "a");
}

// ---- operations ---------------------------------------------------------------------------

TEST_F(ServerTest, MetricsCountRequestsByRouteMethodAndCodeWithoutAToken) {
  call(http::verb::put, "/store/a", alice, plain);
  call(http::verb::get, "/store/a", alice);
  call(http::verb::get, "/store/a", "");                   // 401
  call(http::verb::get, "/no/such/route/../x", alice);     // a scanner's path counts as "other"
  // A request is counted once its answer is written, which may be just after the client read
  // it: ask until the last one shows (bounded).
  response r;
  for (int i = 0; i < 100; ++i) {
    r = call(http::verb::get, "/metrics", "");
    ASSERT_EQ(r.result_int(), 200) << r.body();
    if (r.body().find("xgate_http_request_duration_seconds_count{route=\"store\"} 3\n") != std::string::npos &&
        r.body().find("route=\"other\",method=\"GET\",code=\"404\"") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(header(r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = r.body();
  EXPECT_NE(m.find("# TYPE xgate_http_requests_total counter\n"), std::string::npos) << m;
  EXPECT_NE(m.find("xgate_http_requests_total{route=\"store\",method=\"PUT\",code=\"201\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("xgate_http_requests_total{route=\"store\",method=\"GET\",code=\"200\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("xgate_http_requests_total{route=\"store\",method=\"GET\",code=\"401\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("xgate_http_requests_total{route=\"other\",method=\"GET\",code=\"404\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("xgate_http_request_duration_seconds_bucket{route=\"store\",le=\"+Inf\"} 3\n"), std::string::npos) << m;
  EXPECT_NE(m.find("xgate_http_request_duration_seconds_count{route=\"store\"} 3\n"), std::string::npos) << m;
  EXPECT_NE(m.find("xgate_store_revision 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("xgate_store_file_bytes "), std::string::npos) << m;
  EXPECT_NE(m.find("xgate_build_info{version=\""), std::string::npos) << m;
  EXPECT_EQ(m.find(alice), std::string::npos);
  EXPECT_EQ(m.find("alice"), std::string::npos) << "numbers only, no principals";
  // the scrape itself is counted once answered: the next one sees it (once for every scrape
  // the loop above made, which under load may be more than one)
  r = call(http::verb::get, "/metrics", "");
  EXPECT_NE(r.body().find("xgate_http_requests_total{route=\"metrics\",method=\"GET\",code=\"200\"} "),
            std::string::npos) << r.body();
  expect_error(call(http::verb::post, "/metrics", ""), 405, "bad_request", "method POST not allowed here (allowed: GET)");
  expect_error(call(http::verb::get, "/metrics/x", ""), 404, "not_found");
  expect_error(call(http::verb::get, "/metrics?x=1", ""), 400, "bad_request");
}

TEST_F(ServerTest, HealthzAndReadyzAnswerWithoutAToken) {
  response r = call(http::verb::get, "/healthz", "");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "ok\n");
  r = call(http::verb::get, "/readyz", "");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "ready\n");
  EXPECT_EQ(s->revision(), 0u) << "a readiness probe commits nothing";
  expect_error(call(http::verb::put, "/readyz", "", "x"), 405, "bad_request", "method PUT not allowed here (allowed: GET, HEAD)");
}

TEST_F(ServerTest, ReadyzIs503NamingWhatIsNotReady) {
  std::atomic<bool> ready{false};
  xgate::server::server_options o;
  o.readiness = [&ready]() -> std::string { return ready ? "" : "the hub is not accepting yet"; };
  o.more_metrics = [](xgate::metrics::text& out) {
    out.family("xgate_test_thing", "gauge", "A family from beside the server.");
    out.sample("xgate_test_thing", {{"why", "a \"quoted\\ value\nhere"}}, 2.5);
  };
  open({}, o);
  response r = call(http::verb::get, "/readyz", "");
  EXPECT_EQ(r.result_int(), 503);
  EXPECT_EQ(r.body(), "not ready: the hub is not accepting yet\n");
  EXPECT_EQ(call(http::verb::get, "/healthz", "").result_int(), 200) << "alive, though not ready";
  ready = true;
  EXPECT_EQ(call(http::verb::get, "/readyz", "").result_int(), 200);
  r = call(http::verb::get, "/metrics", "");
  EXPECT_NE(r.body().find("xgate_test_thing{why=\"a \\\"quoted\\\\ value\\nhere\"} 2.5\n"), std::string::npos) << r.body();
}

TEST_F(ServerTest, IfRevisionMismatchIs409) {
  call(http::verb::put, "/store/a", alice, plain);
  response r = call(http::verb::put, "/store/a?if-revision=5", alice, "<x/>");
  expect_error(r, 409, "conflict", "store: write \"a\": revision conflict (expected 5, current 1)");
  expect_error(call(http::verb::put, "/store/a?if-revision=0", alice, "<x/>"), 409, "conflict");
  expect_error(call(http::verb::delete_, "/store/a?if-revision=7", alice), 409, "conflict",
               "store: remove \"a\": revision conflict (expected 7, current 1)");
  EXPECT_EQ(s->read("a", "alice").xml, plain);
  EXPECT_EQ(s->revision(), 1u);
  EXPECT_EQ(call(http::verb::put, "/store/a?if-revision=1", alice, "<x/>").result_int(), 200);
  EXPECT_EQ(call(http::verb::put, "/store/b?if-revision=0", alice, "<x/>").result_int(), 201);
}

TEST_F(ServerTest, LeaseWithoutLeaseIs409NoLease) {
  call(http::verb::put, "/store/a", alice, plain);
  expect_error(call(http::verb::post, "/lease/a?renew=10", alice), 409, "no_lease",
               "store: renew lease \"a\": the document holds no lease");
  expect_error(call(http::verb::post, "/lease/a?cancel", alice), 409, "no_lease");
}

TEST_F(ServerTest, WatchAfterLostHistoryIs410) {
  store::store_options so;
  so.kept_changes = 2;
  open(so);
  for (int i = 0; i < 5; ++i) call(http::verb::put, "/store/h/" + std::to_string(i), alice, plain);
  response r = call(http::verb::get, "/watch/h?after=0&timeout=0", alice);
  expect_error(r, 410, "history_lost");
  EXPECT_TRUE(r.body().starts_with("store: watch \"h\": ")) << r.body();
  r = call(http::verb::get, "/watch/h?after=4&timeout=0", alice);
  EXPECT_EQ(r.result_int(), 200) << r.body();
}

TEST_F(ServerTest, OversizedBodyIs413AndNothingIsWritten) {
  xgate::server::server_options o;
  o.max_document = 1024;
  open({}, o);
  std::string big = "<a>" + std::string(2000, 'x') + "</a>";
  {
    // The whole body sent: the server answers and discards the rest.
    http_client c = client();
    response r = c.request(http::verb::put, "/store/big", alice, big);
    expect_error(r, 413, "too_large", "request body larger than the server's limit of 1024 bytes");
    EXPECT_TRUE(c.closed_by_server());
  }
  {
    // Only the headers: the server answers without waiting for the body.
    http_client c = client();
    c.write_raw("PUT /store/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + alice +
                "\r\nContent-Length: 100000000\r\nExpect: 100-continue\r\n\r\n");
    response r = c.read();
    expect_error(r, 413, "too_large");
  }
  {
    // Chunked: refused once the chunks pass the limit.
    http_client c = client();
    std::string chunk(1000, 'y');
    c.write_raw("PUT /store/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + alice +
                "\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + chunk + "\r\n3e8\r\n" + chunk + "\r\n0\r\n\r\n");
    expect_error(c.read(), 413, "too_large");
  }
  expect_unwritten(0, "big");
  // a body at the limit is fine
  std::string fits = "<a>" + std::string(1024 - 7, 'x') + "</a>";
  EXPECT_EQ(call(http::verb::put, "/store/fits", alice, fits).result_int(), 201);
}

TEST_F(ServerTest, MalformedRequestIs400) {
  http_client c = client();
  c.write_raw("GARBAGE\r\n\r\n");
  response r = c.read();
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_EQ(header(r, "X-Xgate-Error"), "bad_request");
}

// ---- transport ----------------------------------------------------------------------------

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  http_client c = client();
  for (int i = 0; i < 20; ++i) {
    std::string name = "/store/k/" + std::to_string(i);
    response r = c.request(http::verb::put, name, alice, plain);
    ASSERT_EQ(r.result_int(), 201);
    EXPECT_TRUE(r.keep_alive());
    r = c.request(http::verb::get, name, alice);
    ASSERT_EQ(r.body(), plain);
    // errors keep the connection too
    ASSERT_EQ(c.request(http::verb::get, "/store/k/none", alice).result_int(), 404);
  }
  EXPECT_EQ(s->revision(), 20u);
  // Connection: close is honoured
  response r = c.request(http::verb::get, "/revision", alice, {}, {{"Connection", "close"}});
  EXPECT_FALSE(r.keep_alive());
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(ServerTest, ConcurrentClientsAllSucceed) {
  constexpr int clients = 8, requests = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  // one long poll in the background must not hold anybody up
  auto watch = std::async(std::launch::async, [&] { return call(http::verb::get, "/watch/none?after=0&timeout=3000", alice); });
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      try {
        http_client c = client();
        for (int i = 0; i < requests; ++i) {
          std::string name = "/store/c" + std::to_string(t) + "/" + std::to_string(i % 10);
          std::string body = "<v>" + std::to_string(i) + "</v>";
          if (i % 2 == 0) {
            int st = c.request(http::verb::put, name, t % 2 ? alice : bob, body).result_int();
            if (st != 200 && st != 201) ++failures;
          } else {
            response r = c.request(http::verb::get, "/store/c" + std::to_string(t) + "/" + std::to_string((i - 1) % 10),
                                   t % 2 ? alice : bob);
            if (r.result_int() != 200 || r.body() != "<v>" + std::to_string(i - 1) + "</v>") ++failures;
          }
        }
      } catch (const std::exception&) {
        failures += 1000;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(s->revision(), std::uint64_t{clients * requests / 2});
  EXPECT_EQ(watch.get().result_int(), 200);
}

TEST_F(ServerTest, ConnectionCapRefusesWith503) {
  xgate::server::server_options o;
  o.max_connections = 2;
  open({}, o);
  // two idle connections hold both slots; a third is refused at once, and served once one closes
  auto c1 = std::make_unique<http_client>(server->port());
  http_client c2 = client();
  c1->request(http::verb::get, "/revision", alice);
  c2.request(http::verb::get, "/revision", alice);
  response r = call(http::verb::get, "/revision", alice);
  expect_error(r, 503, "unavailable", "too many connections to this server (limit 2); try again later");
  EXPECT_EQ(header(r, "Retry-After"), "1");
  EXPECT_FALSE(r.keep_alive());
  c1.reset();
  auto deadline = steady_clock::now() + std::chrono::seconds(10);
  unsigned status = 0;
  while (status != 200 && steady_clock::now() < deadline) {
    status = call(http::verb::get, "/revision", alice).result_int();
    if (status != 200) std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(status, 200u);
}

TEST_F(ServerTest, IdleConnectionsAreClosed) {
  xgate::server::server_options o;
  o.idle_timeout = milliseconds(200);
  o.header_timeout = milliseconds(200);
  open({}, o);
  http_client c = client();
  EXPECT_EQ(c.request(http::verb::get, "/revision", alice).result_int(), 200);
  auto t0 = steady_clock::now();
  EXPECT_TRUE(c.closed_by_server(milliseconds(5000)));
  EXPECT_LT(steady_clock::now() - t0, milliseconds(4000));
  // a stalled half request too
  http_client half = client();
  half.write_raw("GET /revision HTTP/1.1\r\nHost: x\r\n");
  EXPECT_TRUE(half.closed_by_server(milliseconds(5000)));
}

TEST_F(ServerTest, AccessLogHasOneLinePerRequestAndNoTokens) {
  call(http::verb::put, "/store/a", alice, plain);
  response r = call(http::verb::post, "/credential", alice);
  std::string token = r.body().substr(19, r.body().find('"', 19) - 19);
  call(http::verb::get, "/store/a", token);
  call(http::verb::get, "/store/a", "", {}, {{"Cookie", "xgate_token=" + bob}});
  http_client(server->port()).request(http::verb::post, "/login?token=" + alice, "", "token=" + bob,
                                      {{"Content-Type", "application/x-www-form-urlencoded"}});
  server->stop();
  std::string text = log.str();
  EXPECT_EQ(text.find(alice), std::string::npos) << text;
  EXPECT_EQ(text.find(bob), std::string::npos) << text;
  EXPECT_EQ(text.find(token), std::string::npos) << text;
  EXPECT_EQ(text.find("xgt1_"), std::string::npos) << text;
  std::istringstream lines(text);
  std::string line;
  std::vector<std::string> all;
  while (std::getline(lines, line)) all.push_back(line);
  ASSERT_EQ(all.size(), 5u) << text;
  // time level component: peer method path status principal bytes microseconds
  std::string put_line;
  for (auto& l : all)
    if (l.find(" PUT ") != std::string::npos) put_line = l;
  std::istringstream first(put_line);
  std::string time, level, component, peer, method, path, status, principal, bytes, us;
  first >> time >> level >> component >> peer >> method >> path >> status >> principal >> bytes >> us;
  EXPECT_EQ(time.size(), 24u);
  EXPECT_EQ(level, "info");
  EXPECT_EQ(component, "xgated:");
  EXPECT_TRUE(peer.starts_with("127.0.0.1:"));
  EXPECT_EQ(method, "PUT");
  EXPECT_EQ(path, "/store/a");
  EXPECT_EQ(status, "201");
  EXPECT_EQ(principal, "alice");
  EXPECT_TRUE(us.ends_with("us"));
  // A line is written once its response is sent, so a client's next request may log first.
  EXPECT_NE(text.find(" GET /store/a 401 - "), std::string::npos) << text;  // no cookie on the API
  EXPECT_NE(text.find(" POST /login 303 bob "), std::string::npos) << text;  // query string dropped
}

}  // namespace

TEST_F(ServerTest, BatchAppliesAllOrNothingAndRefusesBadBodies) {
  response ok = call(http::verb::post, "/batch", alice,
                     "<batch><write name=\"b/1\">&lt;one/&gt;</write><write name=\"b/2\" lease=\"60\">&lt;two/&gt;</write></batch>");
  ASSERT_EQ(ok.result_int(), 200) << ok.body();
  EXPECT_EQ(ok[("X-Xgate-Revision")], "2");
  EXPECT_NE(ok.body().find("name=\"b/2\""), std::string::npos);
  EXPECT_EQ(s->read("b/1", "alice").xml, "<one/>");

  expect_error(call(http::verb::post, "/batch", alice, "<batch><write name=\"b/3\">&lt;x/&gt;</write><remove name=\"b/1\"/>"
                                                        "<write name=\"b/2\" if-revision=\"0\">&lt;y/&gt;</write></batch>"),
               409, "conflict", "store: batch write \"b/2\": revision conflict (expected 0, current 2)");
  expect_error(call(http::verb::post, "/batch", alice, "<batch><write name=\"b/3\">&lt;x/&gt;</write>"), 400, "bad_request",
               "batch: not well-formed XML: Start-end tags mismatch at byte 42");
  expect_error(call(http::verb::post, "/batch", alice, "<batch><copy name=\"b/1\"/></batch>"), 400, "bad_request",
               "batch: operation 1: <copy> is neither <write> nor <remove>");
  expect_error(call(http::verb::post, "/batch", alice, "<batch><write name=\"b/3\"><x/></write></batch>"), 400, "bad_request",
               "batch: operation 1: <write> holds the document as text (escaped), not as elements");
  expect_error(call(http::verb::post, "/batch", alice, "<batch><write name=\"b/3\" lease=\"0\">&lt;x/&gt;</write></batch>"),
               400, "bad_request", "batch: operation 1: bad attribute lease=\"0\"");
  expect_error(call(http::verb::post, "/batch", alice, "<batch><write name=\"b/3\">&lt;x&gt;</write></batch>"), 400,
               "bad_document");
  expect_error(call(http::verb::get, "/batch", alice), 405, "bad_request");
  EXPECT_EQ(s->revision(), 2u);  // none of the refused batches wrote anything
  EXPECT_FALSE(s->contains("b/3"));
  EXPECT_TRUE(s->contains("b/1"));
}
