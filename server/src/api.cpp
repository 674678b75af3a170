// The API routes of server/API.md.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <initializer_list>
#include <iterator>

#include <filesystem>
#include <pugixml.hpp>
#include <xgate/base/metrics.hpp>

#include <xgate/store/error.hpp>
#include <xgate/xmlcodec/error.hpp>
#include <xgate/xmlcodec/rights.hpp>

#include "routes.hpp"

namespace xgate::server::detail {

namespace {

constexpr std::string_view xml_type = "application/xml; charset=utf-8";
// Leases and credential lifetimes in whole seconds, bounded so that now + ttl fits the
// store's nanosecond clock with centuries to spare.
constexpr std::uint64_t max_seconds = 1'000'000'000;
constexpr std::uint64_t default_watch_ms = 25000, max_watch_ms = 60000;
constexpr std::uint64_t max_watch_limit = 10000;  // changes per watch answer

http_error bad_request(std::string message) { return {http::status::bad_request, "bad_request", std::move(message)}; }

response make(const request& req, http::status status) {
  response r{status, req.version()};
  r.set(http::field::server, "xgated");
  r.keep_alive(req.keep_alive());
  return r;
}

void set_revision(response& r, std::uint64_t revision) { r.set("X-Xgate-Revision", std::to_string(revision)); }

response xml_response(const request& req, http::status status, std::string body, std::uint64_t revision) {
  response r = make(req, status);
  r.set(http::field::content_type, xml_type);
  set_revision(r, revision);
  r.body() = std::move(body);
  return r;
}

std::string join(const principal_list& list) { return xgate::join_principals(list); }

// The document's info as headers of GET, HEAD and take (API.md: X-Xgate-Creator and
// X-Xgate-Modified; the rest so that a client can fill a whole document_info from one response).
void set_info_headers(response& r, const store::document_info& i) {
  set_revision(r, i.revision);
  r.set("X-Xgate-Creator", header_safe(i.rights.creator));
  r.set("X-Xgate-Created", format_utc(i.created));
  r.set("X-Xgate-Modified", format_utc(i.modified));
  r.set("X-Xgate-Read", header_safe(join(i.rights.read)));
  r.set("X-Xgate-Write", header_safe(join(i.rights.write)));
  r.set("X-Xgate-Delete", header_safe(join(i.rights.del)));
  r.set("X-Xgate-Copy", header_safe(join(i.rights.copy)));
  r.set("X-Xgate-Embedded-Rights", i.embedded_rights ? "1" : "0");
  if (i.lease_expires) {
    r.set("X-Xgate-Lease-Expires", format_utc(*i.lease_expires));
    r.set("X-Xgate-Lease-Holder", header_safe(i.lease_holder));
  }
}

// The query parameters a route accepts; anything else is refused so that a client's typo
// does not silently do something else.
class params {
 public:
  params(std::string_view query, std::string_view route, std::initializer_list<std::string_view> allowed) : route_(route) {
    auto q = parse_query(query);
    if (!q) throw bad_request("malformed query string");
    for (auto& [k, v] : *q) {
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
        throw bad_request("unknown query parameter \"" + k + "\" for /" + std::string(route));
      for (auto& [k2, v2] : q_)
        if (k2 == k) throw bad_request("query parameter \"" + k + "\" given twice");
      q_.emplace_back(k, v);
    }
  }
  const std::string* get(std::string_view key) const {
    for (auto& [k, v] : q_)
      if (k == key) return &v;
    return nullptr;
  }
  bool has(std::string_view key) const { return get(key) != nullptr; }
  std::optional<std::uint64_t> number(std::string_view key, std::uint64_t min, std::uint64_t max, std::string_view what) const {
    const std::string* v = get(key);
    if (!v) return std::nullopt;
    auto n = parse_uint(*v);
    if (!n || *n < min || *n > max)
      throw bad_request("bad query parameter \"" + std::string(key) + "\": \"" + *v + "\" is not " + std::string(what));
    return n;
  }

 private:
  std::string_view route_;
  query_params q_;
};

std::optional<std::uint64_t> seconds_param(const params& p, std::string_view key) {
  return p.number(key, 1, max_seconds, "a whole number of seconds from 1 to 1000000000");
}
std::optional<std::uint64_t> revision_param(const params& p, std::string_view key) {
  return p.number(key, 0, UINT64_MAX, "a revision number");
}

// ---- rights of plain XML ------------------------------------------------------------------
// PUT /store's query parameters and a batch <write>'s attributes creator, read, write, delete
// and copy. A list is principal names separated by commas ("*" anyone, "creator" the
// document's creator); "" is the empty list (nobody). Returns the reason a value is not one.
std::optional<std::string> parse_principal_list(std::string_view text, principal_list& out) {
  out.clear();
  if (text.empty()) return std::nullopt;
  for (;;) {
    std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    if (item.empty()) return "an empty name";
    if (!xgate::is_valid_principal(item)) return "\"" + std::string(item) + "\" is not a principal name";
    out.emplace_back(item);
    if (comma == std::string_view::npos) return std::nullopt;
    text.remove_prefix(comma + 1);
  }
}

struct rights_key {
  std::string_view key;
  right r;
};
constexpr rights_key list_keys[] = {{"read", right::read}, {"write", right::write}, {"delete", right::del}, {"copy", right::copy}};

// write_options::rights from get(key) (the value given for key, if any): unset when
// none of the five is given; otherwise creator (default: the caller) with
// rights::owned_by's lists, each list given replacing its default. fail(key, value, reason)
// throws.
template <class Get, class Fail>
std::optional<xgate::rights> rights_from(const store::caller& who, Get get, Fail fail) {
  std::optional<std::string> creator = get("creator");
  bool any = creator.has_value();
  for (const rights_key& k : list_keys) any = any || get(k.key).has_value();
  if (!any) return std::nullopt;
  if (creator && !xgate::is_valid_principal(*creator))
    fail("creator", *creator, "not a principal name");
  xgate::rights r = xgate::rights::owned_by(creator ? *creator : who.principal());
  for (const rights_key& k : list_keys) {
    std::optional<std::string> v = get(k.key);
    if (!v) continue;
    if (auto why = parse_principal_list(*v, r.list(k.r))) fail(k.key, *v, "not a comma-separated list of principals (" + *why + ")");
  }
  return r;
}

[[noreturn]] void method_not_allowed(const request& req, std::string_view allow) {
  throw http_error{http::status::method_not_allowed, "bad_request",
                   "method " + std::string(req.method_string()) + " not allowed here (allowed: " + std::string(allow) + ")",
                   {{"Allow", std::string(allow)}}};
}

void require(const request& req, std::initializer_list<http::verb> verbs, std::string_view allow) {
  for (http::verb v : verbs)
    if (req.method() == v) return;
  method_not_allowed(req, allow);
}

std::string decode_name(std::string_view raw) {
  auto n = percent_decode(raw);
  if (!n) throw bad_request("malformed percent-encoding in the path");
  return std::move(*n);
}

// ---- routes -----------------------------------------------------------------------------

response store_route(exchange& x, const request& req, const std::string& name, std::string_view query) {
  switch (req.method()) {
    case http::verb::put: {
      store::caller who = authenticate(x, req, false);
      params p(query, "store", {"lease", "if-revision", "creator", "read", "write", "delete", "copy"});
      store::write_options o;
      o.expected_revision = revision_param(p, "if-revision");
      if (auto s = seconds_param(p, "lease")) o.lease = std::chrono::seconds(*s);
      o.rights = rights_from(
          who,
          [&](std::string_view key) -> std::optional<std::string> {
            if (const std::string* v = p.get(key)) return *v;
            return std::nullopt;
          },
          [](std::string_view key, const std::string& value, const std::string& why) {
            throw bad_request("bad query parameter \"" + std::string(key) + "\": \"" + value + "\" is " + why);
          });
      store::document_info info = x.store.write(name, req.body(), who, o);
      // The store gives a new document modified == created; a replace keeps created.
      bool created = info.created == info.modified;
      std::string body;
      put_document_info(body, info);
      return xml_response(req, created ? http::status::created : http::status::ok, std::move(body), info.revision);
    }
    case http::verb::get: {
      store::caller who = authenticate(x, req, false);
      params p(query, "store", {});
      store::document d = x.store.read(name, who);
      response r = xml_response(req, http::status::ok, std::move(d.xml), d.info.revision);
      set_info_headers(r, d.info);
      return r;
    }
    case http::verb::head: {
      store::caller who = authenticate(x, req, false);
      params p(query, "store", {});
      store::document_info info = x.store.info(name, who);
      response r = make(req, http::status::ok);
      r.set(http::field::content_type, xml_type);
      set_info_headers(r, info);
      r.content_length(info.size);  // what GET would send; the transport sends no body for HEAD
      return r;
    }
    case http::verb::delete_: {
      store::caller who = authenticate(x, req, false);
      params p(query, "store", {"if-revision"});
      x.store.remove(name, who, revision_param(p, "if-revision"));
      response r = make(req, http::status::no_content);
      set_revision(r, x.store.revision());  // at least the removal's revision
      return r;
    }
    default:
      method_not_allowed(req, "GET, HEAD, PUT, DELETE");
  }
}

response take_route(exchange& x, const request& req, const std::string& name, std::string_view query) {
  require(req, {http::verb::post}, "POST");
  store::caller who = authenticate(x, req, false);
  params p(query, "take", {});
  store::document d = x.store.take(name, who);
  response r = xml_response(req, http::status::ok, std::move(d.xml), d.info.revision);
  set_info_headers(r, d.info);
  return r;
}

response info_route(exchange& x, const request& req, const std::string& name, std::string_view query) {
  require(req, {http::verb::get}, "GET");
  store::caller who = authenticate(x, req, false);
  params p(query, "info", {});
  store::document_info info = x.store.info(name, who);
  std::string body;
  put_document_info(body, info);
  return xml_response(req, http::status::ok, std::move(body), info.revision);
}

// Documents per page of a streamed listing: a short read transaction each, and an answer
// part of some 200 KB.
constexpr std::size_t stream_page = 1000;
constexpr std::uint64_t max_page = 10000;  // documents per page of a list or query

// <list prefix=.. revision=.. [next=..]>: next, the cursor of the next page, only on a page
// that has one.
std::string list_open(std::string_view prefix, std::uint64_t revision, std::string_view next = {}) {
  std::string out = "<list prefix=\"" + escape(prefix) + "\" revision=\"" + std::to_string(revision) + "\"";
  if (!next.empty()) out += " next=\"" + escape(next) + "\"";
  return out + ">";
}

void put_documents(std::string& out, const std::vector<store::document_info>& docs) {
  for (const auto& d : docs) put_document_info(out, d);
}

// One page asked for by `limit` and `cursor` (list and query): a limit from 1 to 10000, a
// cursor only with a limit.
struct page_request {
  std::optional<std::uint64_t> limit;
  std::string cursor;
};
page_request page_params(const params& p) {
  page_request r{p.number("limit", 1, max_page, "a number of documents from 1 to 10000"), {}};
  if (const std::string* cursor = p.get("cursor")) {
    if (!r.limit) throw bad_request("query parameter \"cursor\" needs \"limit\"");
    r.cursor = *cursor;
  }
  return r;
}

response list_route(exchange& x, const request& req, const std::string& prefix, std::string_view query) {
  require(req, {http::verb::get}, "GET");
  store::caller who = authenticate(x, req, false);
  params p(query, "list", {"limit", "cursor", "snapshot"});
  page_request asked = page_params(p);
  const std::string* snapshot = p.get("snapshot");
  if (snapshot && *snapshot != "true" && *snapshot != "false")
    throw bad_request("bad query parameter \"snapshot\": \"" + *snapshot + "\" is not true or false");
  if (snapshot && !asked.limit) throw bad_request("query parameter \"snapshot\" needs \"limit\"");
  // Without a limit, the whole listing, streamed in pages: neither the server's memory nor
  // the time to the first byte grows with the store, and no read transaction lasts longer
  // than a page. Later pages show the documents as they are then; a watch from the
  // listing's revision (X-Xgate-Revision) sees every change they may have mixed in.
  store::list_page page = x.store.list(prefix, who,
                                       store::list_options{.limit = asked.limit.value_or(stream_page),
                                                           .cursor = asked.cursor,
                                                           .snapshot = !snapshot || *snapshot == "true"});
  bool streamed = !asked.limit && !page.next.empty();
  std::string body = list_open(prefix, page.revision, asked.limit ? std::string_view(page.next) : std::string_view());
  put_documents(body, page.documents);
  if (!streamed) {
    body += "</list>";
    return xml_response(req, http::status::ok, std::move(body), page.revision);
  }
  x.more = [&s = x.store, prefix, who, cursor = std::move(page.next)]() mutable {
    std::string part;
    if (cursor.empty()) return part;  // done
    store::list_page next = s.list(prefix, who, store::list_options{.limit = stream_page, .cursor = cursor, .snapshot = false});
    put_documents(part, next.documents);
    cursor = std::move(next.next);
    if (cursor.empty()) part += "</list>";
    return part;
  };
  return xml_response(req, http::status::ok, std::move(body), page.revision);
}

response query_route(exchange& x, const request& req, const std::string& prefix, std::string_view query) {
  require(req, {http::verb::get}, "GET");
  store::caller who = authenticate(x, req, false);
  params p(query, "query", {"xpath", "limit", "cursor"});
  const std::string* xpath = p.get("xpath");
  if (!xpath) throw bad_request("missing query parameter \"xpath\"");
  page_request asked = page_params(p);
  std::optional<query_slots::slot> slot;
  if (x.queries) {
    slot.emplace(*x.queries);
    if (!slot->engaged())
      throw http_error{http::status::service_unavailable, "unavailable",
                       "query: " + std::to_string(x.queries->max()) + " queries are running (the most this server evaluates at once); try again later",
                       {{"Retry-After", "1"}}};
  }
  // An answer can be far larger than the documents (//* repeats every element inside each
  // ancestor), hence the limit; values go into the answer as the store produces them, so
  // the answer's limit (507) stops the query before its result budget, which is the same.
  // Its opening tag, which names the revision, is known only at the end.
  bounded_body body(x.options.max_response, "query answer");
  std::string open;  // the document whose <match> is open
  store::query_options o{.time_budget = x.options.query_time,
                         .memory_budget = x.options.query_memory,
                         .result_budget = x.options.max_response,
                         .stop = x.stop,
                         .limit = asked.limit.value_or(0),
                         .cursor = asked.cursor};
  store::query_end end = x.store.query(prefix, *xpath, who, o, [&](const std::string& name, std::uint64_t rev, std::string&& value) {
    if (open != name) {
      if (!open.empty()) body.append("</match>");
      open = name;
      body.append("<match name=\"" + escape(name) + "\" revision=\"" + std::to_string(rev) + "\">");
    }
    body.append("<value>");
    body.append_escaped(value);
    body.append("</value>");
  });
  if (!open.empty()) body.append("</match>");
  body.append("</query>");
  std::string head = "<query prefix=\"" + escape(prefix) + "\" xpath=\"" + escape(*xpath) + "\" revision=\"" +
                     std::to_string(end.revision) + "\"";
  if (!end.next.empty()) head += " next=\"" + escape(end.next) + "\"";
  head += ">";
  return xml_response(req, http::status::ok, head + body.take(), end.revision);
}

// <changes last="R">...</changes>: "last" is where the next watch continues: the last change
// returned, or when none came the revision read before waiting (nothing visible happened up
// to it), or `after` if larger.
response changes_response(const request& req, std::uint64_t after, std::uint64_t before, const std::vector<store::change>& changes,
                          std::uint64_t revision) {
  std::uint64_t last = changes.empty() ? std::max(after, before) : changes.back().revision;
  std::string body = "<changes last=\"" + std::to_string(last) + "\">";
  for (auto& c : changes)
    body += "<change revision=\"" + std::to_string(c.revision) + "\" kind=\"" + store::to_string(c.kind) + "\" name=\"" +
            escape(c.name) + "\"/>";
  body += "</changes>";
  return xml_response(req, http::status::ok, std::move(body), revision);
}

response watch_route(exchange& x, const request& req, const std::string& prefix, std::string_view query) {
  require(req, {http::verb::get}, "GET");
  store::caller who = authenticate(x, req, false);
  params p(query, "watch", {"after", "timeout", "limit"});
  auto after = revision_param(p, "after");
  if (!after) throw bad_request("missing query parameter \"after\"");
  // Bounded even without a limit: an answer's `last` is where the next watch goes on.
  std::size_t limit = p.number("limit", 1, max_watch_limit, "a number of changes from 1 to 10000").value_or(max_watch_limit);
  // Above the maximum is clamped rather than refused: a long poll may always return early.
  std::uint64_t timeout_ms =
      std::min(p.number("timeout", 0, UINT64_MAX, "a number of milliseconds").value_or(default_watch_ms), max_watch_ms);
  std::uint64_t before = x.store.revision();
  // Only a revision past `after` can hold a change after it; an `after` at or beyond the
  // current revision (however large) waits like any other.
  std::vector<store::change> changes;
  if (before > *after) changes = x.store.changes(prefix, *after, who, limit);
  if (!changes.empty() || timeout_ms == 0) return changes_response(req, *after, before, changes, x.store.revision());
  // The answer needs only the request's version and keep-alive, not its body.
  request head;
  head.version(req.version());
  head.keep_alive(req.keep_alive());
  store::store& s = x.store;
  x.pending = pending_watch{who, prefix, *after, limit, before, std::chrono::milliseconds(timeout_ms),
                            [&s, head = std::move(head), after = *after, before](const std::vector<store::change>& found,
                                                                                   std::exception_ptr error) {
                              try {
                                if (error) std::rethrow_exception(error);
                                return changes_response(head, after, before, found, s.revision());
                              } catch (...) {
                                return error_answer(head);
                              }
                            }};
  return make(req, http::status::ok);  // not sent: x.pending answers
}

response revision_route(exchange& x, const request& req, std::string_view query) {
  require(req, {http::verb::get}, "GET");
  authenticate(x, req, false);
  params p(query, "revision", {});
  std::uint64_t r = x.store.revision();
  return xml_response(req, http::status::ok, "<revision>" + std::to_string(r) + "</revision>", r);
}

response lease_route(exchange& x, const request& req, const std::string& name, std::string_view query) {
  require(req, {http::verb::post}, "POST");
  store::caller who = authenticate(x, req, false);
  params p(query, "lease", {"renew", "cancel"});
  if (p.has("renew") == p.has("cancel")) throw bad_request("give exactly one of the query parameters \"renew\" and \"cancel\"");
  if (p.has("cancel") && !p.get("cancel")->empty()) throw bad_request("query parameter \"cancel\" takes no value");
  store::document_info info = p.has("cancel") ? x.store.cancel_lease(name, who)
                                              : x.store.renew_lease(name, who, std::chrono::seconds(*seconds_param(p, "renew")));
  std::string body;
  put_document_info(body, info);
  return xml_response(req, http::status::ok, std::move(body), info.revision);
}

// ` scope="S" subtree="1" rights="R" [methods="M"]`: a grant as POST /credential, GET /credentials and
// GET /whoami show it (each adds its expiry where its format puts it).
std::string grant_attributes(const store::grant& g) {
  std::string out = " scope=\"" + escape(g.scope) + "\" subtree=\"" + (g.subtree ? "1" : "0") + "\" rights=\"" +
                    g.rights.to_string() + "\"";
  if (!g.methods.empty()) out += " methods=\"" + store::join_methods(g.methods) + "\"";
  return out;
}

// DELETE /credential/ID: revokes the caller's credential ID and every one issued through it.
response revoke_route(exchange& x, const request& req, const std::string& id, std::string_view query) {
  store::caller who = authenticate(x, req, false);
  params p(query, "credential", {});
  x.store.revoke_credential(id, who);
  return make(req, http::status::no_content);
}

std::string index_element(const store::index_info& i) {
  return "<index id=\"" + escape(i.id) + "\" prefix=\"" + escape(i.prefix) + "\" expression=\"" + escape(i.expression) +
         "\" creator=\"" + escape(i.creator) + "\"/>";
}

// PUT /index/ID?prefix=P&expression=X, DELETE /index/ID.
response index_route(exchange& x, const request& req, const std::string& id, std::string_view query) {
  require(req, {http::verb::put, http::verb::delete_}, "PUT, DELETE");
  store::caller who = authenticate(x, req, false);
  if (req.method() == http::verb::delete_) {
    params p(query, "index", {});
    x.store.remove_index(id, who);
    response r = make(req, http::status::no_content);
    set_revision(r, x.store.revision());
    return r;
  }
  params p(query, "index", {"prefix", "expression"});
  const std::string* expression = p.get("expression");
  if (!expression) throw bad_request("missing query parameter \"expression\"");
  const std::string* prefix = p.get("prefix");
  store::index_info added = x.store.add_index(id, prefix ? *prefix : "", *expression, who);
  return xml_response(req, http::status::created, index_element(added), x.store.revision());
}

response indexes_route(exchange& x, const request& req, std::string_view query) {
  require(req, {http::verb::get}, "GET");
  (void)authenticate(x, req, false);
  params p(query, "indexes", {});
  std::string body = "<indexes>";
  for (const store::index_info& i : x.store.indexes()) body += index_element(i);
  body += "</indexes>";
  return xml_response(req, http::status::ok, std::move(body), x.store.revision());
}

// GET /credentials: the caller's credentials (ids, grants, labels; never a token or a hash).
response credentials_route(exchange& x, const request& req, std::string_view query) {
  require(req, {http::verb::get}, "GET");
  store::caller who = authenticate(x, req, false);
  params p(query, "credentials", {});
  std::string body = "<credentials principal=\"" + escape(who.principal()) + "\">";
  for (const store::credential_info& c : x.store.credentials(who)) {
    const store::grant& g = c.granted;
    body += "<credential id=\"" + escape(c.id) + "\"";
    if (!c.parent.empty()) body += " parent=\"" + escape(c.parent) + "\"";
    body += grant_attributes(g) + " issued=\"" + format_utc(c.issued) + "\"";
    if (g.expires) body += " expires=\"" + format_utc(*g.expires) + "\"";
    if (!c.label.empty()) body += " label=\"" + escape(c.label) + "\"";
    body += "/>";
  }
  body += "</credentials>";
  return xml_response(req, http::status::ok, std::move(body), x.store.revision());
}

response credential_route(exchange& x, const request& req, const std::string& scope, std::string_view query) {
  if (req.method() == http::verb::delete_) return revoke_route(x, req, scope, query);
  require(req, {http::verb::post, http::verb::delete_}, "POST, DELETE");
  store::caller who = authenticate(x, req, false);
  params p(query, "credential", {"rights", "subtree", "ttl", "label", "methods"});
  store::credential_request c;
  c.scope = scope;
  if (const std::string* r = p.get("rights")) {
    auto set = store::right_set::parse(*r);
    if (!set) throw bad_request("bad query parameter \"rights\": \"" + *r + "\" is not a list of read, write, delete, copy (or all)");
    c.rights = *set;
  }
  if (const std::string* s = p.get("subtree")) {
    if (*s != "0" && *s != "1") throw bad_request("bad query parameter \"subtree\": \"" + *s + "\" is not 0 or 1");
    c.subtree = *s == "1";
  }
  if (auto ttl = seconds_param(p, "ttl")) c.ttl = std::chrono::seconds(*ttl);
  if (const std::string* l = p.get("label")) c.label = *l;
  if (const std::string* m = p.get("methods")) {
    auto methods = store::parse_methods(*m);
    if (!methods || methods->empty())
      throw bad_request("bad query parameter \"methods\": \"" + *m +
                        "\" is not a list of method names (each 1..64 bytes of [A-Za-z0-9._-], comma-separated)");
    c.methods = std::move(*methods);
  }
  std::string token = x.store.issue_credential(who, c);
  // The grant as the store recorded it (the id, an expiry inherited from a parent).
  store::caller issued = x.store.authenticate(token);
  const store::grant& g = *issued.limits();
  std::string body = "<credential token=\"" + escape(token) + "\" id=\"" + escape(issued.credential_id()) + "\" principal=\"" +
                     escape(g.principal) + "\"" + grant_attributes(g);
  if (g.expires) body += " expires=\"" + format_utc(*g.expires) + "\"";
  body += "/>";
  response r = xml_response(req, http::status::created, std::move(body), x.store.revision());
  r.set(http::field::cache_control, "no-store");  // the body holds a secret
  return r;
}

// POST /batch: <batch><write name="N" [if-revision="R"] [lease="S"] [creator="P"] [read="L"]
// [write="L"] [delete="L"] [copy="L"]>ESCAPED XML</write><remove name="N"/>...</batch>, applied in
// one transaction (store::apply) as who.
store::batch parse_batch(const std::string& body, const store::caller& who) {
  pugi::xml_document doc;
  // Without parse_eol: a document's bytes must arrive exactly as sent (a CR it holds comes
  // escaped as &#13;, and must not be folded).
  pugi::xml_parse_result ok = doc.load_buffer(body.data(), body.size(), pugi::parse_default & ~pugi::parse_eol,
                                              pugi::encoding_utf8);
  if (!ok) throw bad_request(std::string("batch: not well-formed XML: ") + ok.description() + " at byte " +
                             std::to_string(ok.offset));
  pugi::xml_node root = doc.document_element();
  if (std::string_view(root.name()) != "batch") throw bad_request("batch: the root element must be <batch>");
  store::batch b;
  std::size_t index = 0;
  for (pugi::xml_node n = root.first_child(); n; n = n.next_sibling()) {
    if (n.type() != pugi::node_element) continue;
    ++index;
    std::string where = "batch: operation " + std::to_string(index) + ": ";
    std::string_view kind = n.name();
    pugi::xml_attribute name = n.attribute("name");
    if (!name) throw bad_request(where + "<" + std::string(kind) + "> without a name attribute");
    if (kind == "remove") {
      if (n.first_child() || n.first_attribute() != n.last_attribute())
        throw bad_request(where + "<remove> takes only a name");
      b.remove(name.value());
      continue;
    }
    if (kind != "write") throw bad_request(where + "<" + std::string(kind) + "> is neither <write> nor <remove>");
    // pugixml keeps an attribute given twice; the API refuses it, as it refuses a query
    // parameter given twice.
    constexpr std::string_view known[] = {"name", "if-revision", "lease", "creator", "read", "write", "delete", "copy"};
    bool seen[std::size(known)] = {};
    for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute()) {
      std::string_view key = a.name();
      auto k = std::find(std::begin(known), std::end(known), key);
      if (k == std::end(known)) throw bad_request(where + "bad attribute " + std::string(key) + "=\"" + a.value() + "\"");
      if (seen[k - std::begin(known)]) throw bad_request(where + "attribute \"" + std::string(key) + "\" given twice");
      seen[k - std::begin(known)] = true;
    }
    store::write_options o;
    o.rights = rights_from(
        who,
        [&](std::string_view key) -> std::optional<std::string> {
          pugi::xml_attribute a = n.attribute(std::string(key).c_str());
          if (!a) return std::nullopt;
          return std::string(a.value());
        },
        [&](std::string_view key, const std::string& value, const std::string& why) {
          throw bad_request(where + "bad attribute " + std::string(key) + "=\"" + value + "\": " + why);
        });
    for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute()) {
      std::string_view key = a.name();
      if (key != "if-revision" && key != "lease") continue;  // name, and the rights above
      char* end = nullptr;
      errno = 0;
      unsigned long long v = std::strtoull(a.value(), &end, 10);
      bool number = *a.value() >= '0' && *a.value() <= '9' && end && *end == '\0' && errno == 0;
      if (key == "if-revision" && number) {
        o.expected_revision = v;
      } else if (key == "lease" && number && v >= 1 && v <= max_seconds) {
        o.lease = std::chrono::seconds(v);
      } else {
        throw bad_request(where + "bad attribute " + std::string(key) + "=\"" + a.value() + "\"");
      }
    }
    std::string xml;
    for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling()) {
      if (c.type() != pugi::node_pcdata && c.type() != pugi::node_cdata)
        throw bad_request(where + "<write> holds the document as text (escaped), not as elements");
      xml += c.value();
    }
    b.write(name.value(), std::move(xml), std::move(o));
  }
  return b;
}

response batch_route(exchange& x, const request& req, std::string_view query) {
  require(req, {http::verb::post}, "POST");
  store::caller who = authenticate(x, req, false);
  params p(query, "batch", {});
  store::batch b = parse_batch(req.body(), who);
  std::vector<store::document_info> written = x.store.apply(b, who);
  std::string body = "<batch>";
  for (const store::document_info& i : written) put_document_info(body, i);
  body += "</batch>";
  return xml_response(req, http::status::ok, std::move(body), x.store.revision());
}

response whoami_route(exchange& x, const request& req, std::string_view query) {
  require(req, {http::verb::get}, "GET");
  store::caller who = authenticate(x, req, false);
  params p(query, "whoami", {});
  std::string body = "<whoami principal=\"" + escape(who.principal()) + "\"";
  if (const store::grant* g = who.limits()) {
    body += " credential=\"" + escape(who.credential_id()) + "\"" + grant_attributes(*g);
    if (g->expires) body += " expires=\"" + format_utc(*g->expires) + "\"";
  }
  body += "/>";
  return xml_response(req, http::status::ok, std::move(body), x.store.revision());
}

response text_response(const request& req, http::status status, std::string body, std::string_view type) {
  response r = make(req, status);
  r.set(http::field::content_type, type);
  r.set(http::field::cache_control, "no-store");
  r.body() = std::move(body);
  return r;
}

// GET /metrics: Prometheus text, without a token (numbers only: no names, no principals).
response metrics_route(exchange& x, const request& req, std::string_view query) {
  require(req, {http::verb::get}, "GET");
  params p(query, "metrics", {});
  xgate::metrics::text out;
  write_build_info(out);
  if (x.metrics) x.metrics->write(out);
  out.family("xgate_store_revision", "gauge", "The store's last revision: every write takes one.");
  out.sample("xgate_store_revision", {}, static_cast<double>(x.store.revision()));
  out.family("xgate_store_revocations_total", "counter", "Credentials this server's store revoked since it started.");
  out.sample("xgate_store_revocations_total", {}, static_cast<double>(x.store.revocations()));
  const std::string address = x.store.address();
  if (address.starts_with("file:")) {  // LMDB: the data file's size on disk
    std::error_code ec;
    auto bytes = std::filesystem::file_size(std::filesystem::path(address.substr(5)) / "data.mdb", ec);
    if (!ec) {
      out.family("xgate_store_file_bytes", "gauge", "The size of the store's data file.");
      out.sample("xgate_store_file_bytes", {}, static_cast<double>(bytes));
    }
  }
  if (x.options.more_metrics) x.options.more_metrics(out);
  return text_response(req, http::status::ok, std::move(out).str(), metrics_content_type);
}

// GET /healthz: the process answers.
response healthz_route(const request& req, std::string_view query) {
  require(req, {http::verb::get, http::verb::head}, "GET, HEAD");
  params p(query, "healthz", {});
  return text_response(req, http::status::ok, "ok\n", "text/plain; charset=utf-8");
}

// GET /readyz: the store reads and commits (an empty write transaction), and what runs beside
// the server is ready; 503 naming what is not.
response readyz_route(exchange& x, const request& req, std::string_view query) {
  require(req, {http::verb::get, http::verb::head}, "GET, HEAD");
  params p(query, "readyz", {});
  std::string why;
  try {
    (void)x.store.revision();
    (void)x.store.apply(store::batch{}, store::caller("xgated"));
  } catch (const std::exception& e) {
    why = std::string("the store cannot commit: ") + e.what();
  }
  if (why.empty() && x.options.readiness) why = x.options.readiness();
  return text_response(req, why.empty() ? http::status::ok : http::status::service_unavailable, readiness_body(why),
                       "text/plain; charset=utf-8");
}

response dispatch(exchange& x, const request& req) {
  target t = split_target(req.target());
  if (t.path.empty() || t.path[0] != '/') throw http_error{http::status::not_found, "not_found", "no such route"};
  if (is_browser_route(t.path)) return handle_browser(x, req, t);
  std::string_view rest = t.path.substr(1);
  std::size_t slash = rest.find('/');
  std::string_view route = rest.substr(0, slash);
  bool has_name = slash != std::string_view::npos;
  std::string name = has_name ? decode_name(rest.substr(slash + 1)) : std::string();
  if (route == "store" && has_name) return store_route(x, req, name, t.query);
  if (route == "take" && has_name) return take_route(x, req, name, t.query);
  if (route == "info" && has_name) return info_route(x, req, name, t.query);
  if (route == "lease" && has_name) return lease_route(x, req, name, t.query);
  if (route == "list") return list_route(x, req, name, t.query);
  if (route == "query") return query_route(x, req, name, t.query);
  if (route == "watch") return watch_route(x, req, name, t.query);
  if (route == "credential") return credential_route(x, req, name, t.query);
  if (route == "credentials" && !has_name) return credentials_route(x, req, t.query);
  if (route == "index" && has_name) return index_route(x, req, name, t.query);
  if (route == "indexes" && !has_name) return indexes_route(x, req, t.query);
  if (route == "revision" && !has_name) return revision_route(x, req, t.query);
  if (route == "whoami" && !has_name) return whoami_route(x, req, t.query);
  if (route == "batch" && !has_name) return batch_route(x, req, t.query);
  if (route == "metrics" && !has_name) return metrics_route(x, req, t.query);
  if (route == "healthz" && !has_name) return healthz_route(req, t.query);
  if (route == "readyz" && !has_name) return readyz_route(x, req, t.query);
  throw http_error{http::status::not_found, "not_found", "no such route: " + std::string(t.path)};
}

}  // namespace

target split_target(std::string_view t) {
  std::size_t q = t.find('?');
  if (q == std::string_view::npos) return {t, {}};
  return {t.substr(0, q), t.substr(q + 1)};
}

void put_document_info(std::string& out, const store::document_info& i) {
  out += "<document name=\"" + escape(i.name) + "\" revision=\"" + std::to_string(i.revision) + "\" size=\"" +
         std::to_string(i.size) + "\" created=\"" + format_utc(i.created) + "\" modified=\"" + format_utc(i.modified) +
         "\" creator=\"" + escape(i.rights.creator) + "\" read=\"" + escape(join(i.rights.read)) + "\" write=\"" +
         escape(join(i.rights.write)) + "\" delete=\"" + escape(join(i.rights.del)) + "\" copy=\"" +
         escape(join(i.rights.copy)) + "\" embedded-rights=\"" + (i.embedded_rights ? "1" : "0") + "\"";
  if (i.lease_expires)
    out += " lease-expires=\"" + format_utc(*i.lease_expires) + "\" lease-holder=\"" + escape(i.lease_holder) + "\"";
  out += "/>";
}

response handle(exchange& x, const request& req) {
  try {
    return dispatch(x, req);
  } catch (...) {
    x.pending.reset();
    return error_answer(req);
  }
}

}  // namespace xgate::server::detail
