// GET /list in pages (limit, cursor, snapshot) and the whole listing streamed in chunks.
#include <gtest/gtest.h>

#include <string>

#include <xgate/base/url.hpp>
#include <xgate/store/store.hpp>

#include "server_fixture.hpp"

namespace {

using namespace xgate::server::testing;

std::string page_target(const std::string& prefix, int limit, const std::string& cursor = {}) {
  std::string t = "/list/" + prefix + "?limit=" + std::to_string(limit);
  if (!cursor.empty()) t += "&cursor=" + xgate::encode_url_query(cursor);
  return t;
}

// The value of attribute `name` of the answer's <list>.
std::string list_attribute(const std::string& body, const std::string& name) {
  std::size_t end = body.find('>');
  std::size_t at = body.substr(0, end).find(" " + name + "=\"");
  if (at == std::string::npos) return {};
  at += name.size() + 3;
  return body.substr(at, body.find('"', at) - at);
}

std::size_t count_documents(const std::string& body) {
  std::size_t n = 0;
  for (std::size_t at = body.find("<document "); at != std::string::npos; at = body.find("<document ", at + 1)) ++n;
  return n;
}

TEST_F(ServerTest, ListPagesCarryTheListingsRevisionAndTheNextCursor) {
  for (int i = 0; i < 5; ++i) s->write("p/" + std::to_string(i), plain, store::caller("alice"));
  std::string at = std::to_string(s->revision());

  response r = call(http::verb::get, page_target("p", 2), alice);
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(header(r, "X-Xgate-Revision"), at);
  EXPECT_TRUE(r.body().starts_with("<list prefix=\"p\" revision=\"" + at + "\" next=\"" + at + ":p/1\"><document name=\"p/0\""))
      << r.body();
  EXPECT_EQ(count_documents(r.body()), 2u);

  s->write("p/0", plain, store::caller("alice"));  // before the cursor: the listing goes on
  r = call(http::verb::get, page_target("p", 2, list_attribute(r.body(), "next")), alice);
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(header(r, "X-Xgate-Revision"), at);
  EXPECT_EQ(list_attribute(r.body(), "next"), at + ":p/3");
  std::string last = list_attribute(r.body(), "next");
  r = call(http::verb::get, page_target("p", 2, last), alice);
  EXPECT_EQ(count_documents(r.body()), 1u);
  EXPECT_EQ(list_attribute(r.body(), "next"), "");  // the last page

  // A change past the cursor: 410 revision_gone, the client lists again.
  s->write("p/4", plain, store::caller("alice"));
  expect_error(call(http::verb::get, page_target("p", 2, last), alice), 410, "revision_gone",
               "store: list \"p\": the listing's revision " + at + " is gone: \"p/4\" was written at revision " +
                   std::to_string(s->revision()) + "; list again from the first page");
  // Unless the caller takes the rest as it is now.
  r = call(http::verb::get, page_target("p", 2, last) + "&snapshot=false", alice);
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_NE(r.body().find("revision=\"" + std::to_string(s->revision()) + "\" size="), std::string::npos) << r.body();
}

TEST_F(ServerTest, ListRefusesBadPagingParameters) {
  s->write("p/1", plain, store::caller("alice"));
  expect_error(call(http::verb::get, "/list/p?limit=0", alice), 400, "bad_request",
               "bad query parameter \"limit\": \"0\" is not a number of documents from 1 to 10000");
  expect_error(call(http::verb::get, "/list/p?limit=10001", alice), 400, "bad_request",
               "bad query parameter \"limit\": \"10001\" is not a number of documents from 1 to 10000");
  expect_error(call(http::verb::get, "/list/p?cursor=1:p/1", alice), 400, "bad_request",
               "query parameter \"cursor\" needs \"limit\"");
  expect_error(call(http::verb::get, "/list/p?limit=1&snapshot=maybe", alice), 400, "bad_request",
               "bad query parameter \"snapshot\": \"maybe\" is not true or false");
  expect_error(call(http::verb::get, "/list/p?limit=1&cursor=1:q/1", alice), 400, "bad_cursor",
               "store: list \"p\": bad cursor \"1:q/1\": it does not belong to a listing of this prefix");
  expect_error(call(http::verb::get, "/list/p?limit=1&cursor=p/1", alice), 400, "bad_cursor",
               "store: list \"p\": bad cursor \"p/1\": not REVISION:NAME");
}

TEST_F(ServerTest, AWholeListingStreamsInChunksAndEndsWell) {
  // More than one page of the stream (1,000 documents), some of them bob's.
  store::batch b;
  for (int i = 0; i < 2500; ++i) b.write("s/" + std::to_string(100000 + i), plain);
  s->apply(b, store::caller("alice"));
  s->write("s/0bob", plain, store::caller("bob"));
  std::string at = std::to_string(s->revision());
  response r = call(http::verb::get, "/list/s", alice);
  ASSERT_EQ(r.result_int(), 200) << r.body().substr(0, 200);
  EXPECT_EQ(header(r, "Transfer-Encoding"), "chunked");
  EXPECT_EQ(header(r, "X-Xgate-Revision"), at);
  EXPECT_TRUE(r.body().starts_with("<list prefix=\"s\" revision=\"" + at + "\"><document name=\"s/100000\""));
  EXPECT_TRUE(r.body().ends_with("/></list>"));
  EXPECT_EQ(count_documents(r.body()), 2500u);
  EXPECT_EQ(r.body().find("0bob"), std::string::npos);
  // The same connection serves the next request after the chunked answer.
  http_client c = client();
  response first = c.request(http::verb::get, "/list/s", alice);
  response second = c.request(http::verb::get, "/list/s?limit=1", alice);
  EXPECT_EQ(first.body(), r.body());
  EXPECT_EQ(second.result_int(), 200);
  // The browser view shows 500 at a time, with a link to the next page.
  std::size_t rows = 0;
  std::string target = "/browse/s/";
  for (int pages = 0; !target.empty(); ++pages) {
    ASSERT_LT(pages, 6);
    response view = call(http::verb::get, target, "", {}, {{"Cookie", "xgate_token=" + alice}});
    ASSERT_EQ(view.result_int(), 200) << view.body().substr(0, 300);
    for (std::size_t at = view.body().find("<tr class=\"document\">"); at != std::string::npos;
         at = view.body().find("<tr class=\"document\">", at + 1))
      ++rows;
    const std::string anchor = "<a id=\"next\" href=\"";
    std::size_t link = view.body().find(anchor);
    target.clear();
    if (link != std::string::npos) {
      link += anchor.size();
      target = view.body().substr(link, view.body().find('"', link) - link);
      for (std::size_t amp; (amp = target.find("&amp;")) != std::string::npos;) target.replace(amp, 5, "&");
    }
  }
  EXPECT_EQ(rows, 2500u);
  // A small listing is one ordinary answer.
  r = call(http::verb::get, "/list/s/100000", alice);
  EXPECT_EQ(header(r, "Transfer-Encoding"), "<absent>");
  EXPECT_NE(header(r, "Content-Length"), "<absent>");
  EXPECT_EQ(count_documents(r.body()), 1u);
}

}  // namespace

namespace {

TEST_F(ServerTest, IndexesAreDeclaredListedAndRemovedOverHttp) {
  s->write("o/1", "<o><c>ann</c></o>", store::caller("alice"));
  response r = call(http::verb::put, "/index/customer?prefix=o&expression=%2Fo%2Fc", alice);
  ASSERT_EQ(r.result_int(), 201) << r.body();
  EXPECT_EQ(r.body(), "<index id=\"customer\" prefix=\"o\" expression=\"/o/c\" creator=\"alice\"/>");
  r = call(http::verb::get, "/indexes", bob);
  EXPECT_EQ(r.body(), "<indexes><index id=\"customer\" prefix=\"o\" expression=\"/o/c\" creator=\"alice\"/></indexes>");
  r = call(http::verb::get, "/query/o?xpath=%2Fo%2Fc%5B.%3D'ann'%5D%2Ftext()", alice);
  EXPECT_NE(r.body().find("<match name=\"o/1\""), std::string::npos) << r.body();
  expect_error(call(http::verb::put, "/index/customer?prefix=o&expression=%2Fo", alice), 409, "conflict",
               "store: add index \"customer\": an index with this id exists");
  expect_error(call(http::verb::put, "/index/x?prefix=o", alice), 400, "bad_request", "missing query parameter \"expression\"");
  expect_error(call(http::verb::put, "/index/x?expression=count(%2Fo)", alice), 400, "bad_xpath",
               "store: add index \"x\": an index expression selects nodes; \"count(/o)\" gives a single value");
  expect_error(call(http::verb::delete_, "/index/customer", bob), 403, "access_denied");
  expect_error(call(http::verb::delete_, "/index/none", alice), 404, "not_found", "store: remove index \"none\": no such index");
  expect_error(call(http::verb::post, "/index/customer", alice), 405, "bad_request");
  EXPECT_EQ(call(http::verb::delete_, "/index/customer", alice).result_int(), 204);
  EXPECT_EQ(call(http::verb::get, "/indexes", alice).body(), "<indexes></indexes>");
}

}  // namespace
