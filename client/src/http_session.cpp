// xgate::client::http_session: the store session over xgated's HTTP API (server/API.md).
#include <xgate/client/http_session.hpp>
#include <xgate/base/text.hpp>
#include <xgate/xmlcodec/escape.hpp>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <pugixml.hpp>
#include <xgate/base/time.hpp>
#include <xgate/base/url.hpp>
#include <xgate/tls/context.hpp>
#include <xgate/tls/stream.hpp>
#include <boost/asio/ssl/error.hpp>
#include <openssl/ssl.h>

#include <xgate/store/error.hpp>
#include <xgate/store/names.hpp>
#include <xgate/xmlcodec/rights.hpp>


namespace xgate::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using xgate::store::store_errc;
using xgate::store::store_error;

client_error::client_error(net_errc code, std::string url, std::string what_failed, int http_status)
    : xgate::error(code, url + ": " + what_failed), url_(std::move(url)), status_(http_status) {}

namespace {

struct response {
  unsigned status = 0;
  http::fields headers;
  std::string body;

  std::string header(std::string_view name) const {
    auto it = headers.find(beast::string_view(name.data(), name.size()));
    if (it == headers.end()) return {};
    auto v = it->value();
    return std::string(v.data(), v.size());
  }
  bool has(std::string_view name) const { return headers.find(beast::string_view(name.data(), name.size())) != headers.end(); }
};

// One keep-alive HTTP/1.1 connection, driven synchronously: every operation is started
// asynchronously and the private io_context is run until it completes, because only
// asynchronous operations honour beast::tcp_stream's timeouts.
class connection {
 public:
  // Several servers (replicas on one store): tried in turn, see http_session.hpp.
  connection(std::vector<xgate::url> eps, std::string token, client_options options)
      : eps_(std::move(eps)), token_(std::move(token)), options_(options) {
    if (std::any_of(eps_.begin(), eps_.end(), [](const xgate::url& u) { return u.scheme == "https"; })) {
      try {
        tls_.emplace(xgate::tls::client_context(options_.tls));
      } catch (const xgate::tls::tls_error& e) {
        throw client_error(net_errc::insecure, base_, e.what());
      }
    }
  }

  const std::string& base() const noexcept { return base_; }

  response send(http::verb method, const std::string& target, std::string body, std::chrono::milliseconds timeout) {
    std::string url = base_ + target;
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, ep().authority());
    req.set(http::field::user_agent, "xgate-client");
    if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);  // empty: a client certificate says who
    req.set(http::field::accept, "application/xml");
    if (!body.empty() || method == http::verb::put) req.set(http::field::content_type, "application/xml; charset=utf-8");
    req.body() = std::move(body);
    req.keep_alive(true);
    req.prepare_payload();

    // A connection that sat idle may have been closed by the server: its failure before any
    // response byte is retried once on a fresh connection. A fresh connection's is not.
    // With several servers, a request that never reached one goes to the next, and so does
    // a read (GET) that got no answer; a write that may have been seen is not repeated.
    const bool read_only = method == http::verb::get || method == http::verb::head;
    std::size_t moved = 0;
    auto move_on = [&] {
      at_ = (at_ + 1) % eps_.size();
      base_ = ep().origin();
      url = base_ + target;
      req.set(http::field::host, ep().authority());
    };
    for (int attempt = 0;; ++attempt) {
      bool reused = open_;
      if (!open_) {
        try {
          connect(url);
        } catch (const client_error& e) {
          if (e.code() == net_errc::insecure || moved + 1 >= eps_.size()) throw;
          ++moved;
          move_on();
          continue;
        }
      }
      http::response_parser<http::string_body> parser;
      parser.body_limit(options_.max_response_bytes);
      beast::error_code ec = io([&](auto done) { http::async_write(*stream_, req, done); }, timeout);
      std::string step = "send request";
      if (!ec) {
        step = "read response";
        ec = io([&](auto done) { http::async_read(*stream_, buffer_, parser, done); }, timeout);
      }
      if (ec) {
        close();
        bool stale = reused && attempt == 0 && !parser.got_some() && ec != beast::error::timeout;
        if (stale) continue;
        client_error failure(failure_of(ec), url, step + ": " + describe(ec, timeout));
        if (eps_.size() > 1 && failure.code() != net_errc::insecure) {
          move_on();  // this request to the next server if it only read, the next request anyway
          if (read_only && !parser.got_some() && ++moved < eps_.size()) continue;
        }
        throw failure;
      }
      auto res = parser.release();
      response out;
      out.status = res.result_int();
      out.body = std::move(res.body());
      if (!res.keep_alive()) close();
      out.headers = std::move(res.base());
      return out;
    }
  }

 private:
  // Runs one asynchronous operation to completion under a timeout.
  template <class Start>
  beast::error_code io(Start start, std::chrono::milliseconds timeout) {
    beast::error_code result = asio::error::would_block;
    stream_->lowest().expires_after(timeout);
    start([&result](beast::error_code ec, std::size_t) { result = ec; });
    ioc_.restart();
    ioc_.run();
    stream_->lowest().expires_never();
    return result;
  }

  static net_errc failure_of(const beast::error_code& ec) {
    if (ec == beast::error::timeout) return net_errc::timed_out;
    if (ec == http::error::body_limit) return net_errc::bad_response;
    if (ec.category() == asio::error::get_ssl_category()) return net_errc::insecure;
    return net_errc::unreachable;
  }

  static std::string describe(const beast::error_code& ec, std::chrono::milliseconds timeout) {
    if (ec == beast::error::timeout) return "timed out after " + std::to_string(timeout.count()) + " ms";
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
      return "the server closed the connection";
    if (ec == http::error::body_limit) return "response larger than client_options::max_response_bytes";
    // TLS 1.3 ends the handshake before the server checks a client certificate: its refusal
    // arrives as the first read's alert.
    if (ec.category() == asio::error::get_ssl_category()) return xgate::tls::handshake_failure(nullptr, ec);
    return ec.message();
  }

  void connect(const std::string& url) {
    beast::error_code ec;
    tcp::resolver resolver(ioc_);
    auto endpoints = resolver.resolve(ep().host, std::to_string(ep().port), ec);
    if (ec) throw client_error(net_errc::unreachable, url, "resolve \"" + ep().host + "\": " + ec.message());
    stream_.emplace(ioc_.get_executor(), ep().scheme == "https" ? &*tls_ : nullptr);
    beast::error_code result = asio::error::would_block;
    stream_->lowest().expires_after(options_.connect_timeout);
    stream_->lowest().async_connect(endpoints, [&result](beast::error_code e, const tcp::endpoint&) { result = e; });
    ioc_.restart();
    ioc_.run();
    if (result) {
      close();
      throw client_error(failure_of(result), url, "connect: " + describe(result, options_.connect_timeout));
    }
    stream_->lowest().socket().set_option(tcp::no_delay(true), ec);  // small requests: no Nagle delay
    if (tls_) handshake(url);
    stream_->lowest().expires_never();
    open_ = true;
  }

  // Within the connect timeout; a session kept from the last connection is resumed (no full
  // handshake). A refused certificate or protocol is not worth a retry: net_errc::insecure.
  void handshake(const std::string& url) {
    SSL* ssl = stream_->tls().native_handle();
    try {
      xgate::tls::expect_host(ssl, ep().host);
    } catch (const xgate::tls::tls_error& e) {
      close();
      throw client_error(net_errc::insecure, url, e.what());
    }
    if (session_) SSL_set_session(ssl, session_.get());
    beast::error_code result = asio::error::would_block;
    stream_->tls().async_handshake(asio::ssl::stream_base::client, [&result](beast::error_code e) { result = e; });
    ioc_.restart();
    ioc_.run();
    if (!result) return;
    std::string why = result == beast::error::timeout ? "timed out after " + std::to_string(options_.connect_timeout.count()) + " ms"
                                                      : xgate::tls::handshake_failure(ssl, result);
    net_errc code = result == beast::error::timeout                                  ? net_errc::timed_out
                    : result.category() == asio::error::get_ssl_category() ? net_errc::insecure
                                                                                     : net_errc::unreachable;
    close();
    throw client_error(code, url, "TLS handshake: " + why);
  }

  void close() {
    if (stream_) {
      if (stream_->is_tls() && open_) {
        // Kept for the next connection's handshake (TLS 1.3 sends it after the handshake).
        SSL_SESSION* s = SSL_get1_session(stream_->tls().native_handle());
        if (s && SSL_SESSION_is_resumable(s)) session_.reset(s);
        else if (s) SSL_SESSION_free(s);
      }
      stream_->close();
      stream_.reset();
    }
    buffer_.clear();
    open_ = false;
  }

  const xgate::url& ep() const noexcept { return eps_[at_]; }

  std::vector<xgate::url> eps_;
  std::size_t at_ = 0;  // the server in use
  std::string base_ = ep().origin();  // "http://host:port", what URLs in messages start with
  std::string token_;
  client_options options_;
  asio::io_context ioc_;
  std::optional<asio::ssl::context> tls_;  // https://
  std::optional<xgate::tls::stream> stream_;
  xgate::tls::session_ptr session_;  // the last connection's, for resumption
  beast::flat_buffer buffer_;
  bool open_ = false;
};

// ---- responses -----------------------------------------------------------------------------

// The server's message for a store_error is its what(): "store: OP \"DOC\": DETAIL" or
// "store: OP: DETAIL". Split it so the rebuilt error reads exactly like the server's.
struct parsed_store_message {
  std::string operation, document, detail;
  bool has_document = false;
};

std::optional<parsed_store_message> parse_store_message(const std::string& msg) {
  constexpr std::string_view prefix = "store: ";
  if (!msg.starts_with(prefix)) return std::nullopt;
  std::string_view rest = std::string_view(msg).substr(prefix.size());
  parsed_store_message p;
  auto quote = rest.find(" \"");
  auto colon = rest.find(": ");
  if (quote != std::string_view::npos && (colon == std::string_view::npos || quote < colon)) {
    // Names hold no spaces, so "\": " ends the document.
    auto end = rest.find("\": ", quote + 2);
    if (end == std::string_view::npos) return std::nullopt;
    p.operation = std::string(rest.substr(0, quote));
    p.document = std::string(rest.substr(quote + 2, end - quote - 2));
    p.detail = std::string(rest.substr(end + 3));
    p.has_document = true;
  } else if (colon != std::string_view::npos) {
    p.operation = std::string(rest.substr(0, colon));
    p.detail = std::string(rest.substr(colon + 2));
  } else {
    return std::nullopt;
  }
  return p;
}

// Throws the typed error a failed response stands for.
[[noreturn]] void throw_error(const response& r, const std::string& url, std::string_view operation, std::string_view name) {
  std::string code = r.header("X-Xgate-Error");
  std::string message = one_line(r.body);
  if (code == "access_denied") {
    std::string document = r.has("X-Xgate-Document") ? r.header("X-Xgate-Document") : std::string(name);
    throw xgate::access_denied(r.header("X-Xgate-Principal"), r.header("X-Xgate-Right"), document);
  }
  std::optional<store_errc> errc = xgate::store::store_errc_from_string(code);
  if (r.status == 401 || code == "unauthorized") errc = store_errc::bad_credential;
  if (r.status == 413) errc = store_errc::too_large;
  if (errc) {
    if (auto p = parse_store_message(message)) {
      std::string document;
      if (p->has_document) document = xgate::printable(name) == p->document ? std::string(name) : p->document;
      throw store_error(*errc, p->operation, document, p->detail);
    }
    throw store_error(*errc, operation, name, message.empty() ? "HTTP " + std::to_string(r.status) : message);
  }
  bool busy = r.status == 429 || r.status == 502 || r.status == 503 || r.status == 504;
  throw client_error(busy ? net_errc::busy : net_errc::bad_response, url, std::string(operation) + ": HTTP " + std::to_string(r.status) +
                              (code.empty() ? "" : " " + code) + (message.empty() ? "" : ": " + message),
                     static_cast<int>(r.status));
}

[[noreturn]] void bad_response(const std::string& url, std::string_view what) {
  throw client_error(net_errc::bad_response, url, "unexpected response: " + std::string(what));
}

std::uint64_t to_u64(const std::string& url, std::string_view text, std::string_view what) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size())
    bad_response(url, std::string(what) + " \"" + std::string(text) + "\" is not a number");
  return v;
}

xgate::store::clock::time_point to_time(const std::string& url, std::string_view text, std::string_view what) {
  auto t = xgate::parse_utc(text);
  if (!t) bad_response(url, std::string(what) + " \"" + std::string(text) + "\" is not an ISO 8601 time");
  return *t;
}

xgate::principal_list to_list(const std::string& url, std::string_view text) {
  try {
    return xgate::parse_principals(text);
  } catch (const xgate::error& e) {
    bad_response(url, e.what());
  }
}

pugi::xml_document parse_xml(const std::string& url, const std::string& body, const char* root) {
  pugi::xml_document doc;
  auto ok = doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!ok) bad_response(url, std::string("not well-formed XML (") + ok.description() + ")");
  if (std::string_view(doc.document_element().name()) != root) bad_response(url, std::string("no <") + root + "> element");
  return doc;
}

xgate::store::document_info info_from(const std::string& url, const pugi::xml_node& n) {
  xgate::store::document_info d;
  auto attr = [&](const char* name) { return std::string_view(n.attribute(name).value()); };
  d.name = attr("name");
  d.revision = to_u64(url, attr("revision"), "revision");
  d.size = to_u64(url, attr("size"), "size");
  d.created = to_time(url, attr("created"), "created");
  d.modified = to_time(url, attr("modified"), "modified");
  d.rights.creator = attr("creator");
  d.rights.read = to_list(url, attr("read"));
  d.rights.write = to_list(url, attr("write"));
  d.rights.del = to_list(url, attr("delete"));
  d.rights.copy = to_list(url, attr("copy"));
  d.embedded_rights = attr("embedded-rights") == "1";
  if (n.attribute("lease-expires")) d.lease_expires = to_time(url, attr("lease-expires"), "lease-expires");
  d.lease_holder = attr("lease-holder");
  return d;
}

// The API takes whole seconds; a partial second is rounded up, so a lease or credential
// never ends before the caller asked.
std::string seconds_text(std::chrono::nanoseconds d) {
  auto s = std::chrono::ceil<std::chrono::seconds>(d).count();
  return std::to_string(s < 0 ? 0 : s);
}

// write_options::rights as PUT /store's query parameters or a batch <write>'s attributes
// (API.md): the creator and all four lists, names joined by commas ("" for an empty list),
// so that the server stores exactly these rights. A list holding something that is not a
// principal name throws what the local store throws for it (join_principals' xgate::error);
// a name with a comma in it cannot be sent in a comma-separated list: client_error. (A
// creator that is not a principal name, "" included, the server refuses as a bad parameter:
// client_error with status 400, where the local store says creator_mismatch.)
std::vector<std::pair<std::string, std::string>> rights_fields(const std::string& url, std::string_view operation,
                                                                const xgate::rights& r) {
  std::vector<std::pair<std::string, std::string>> out{{"creator", r.creator}};
  for (xgate::right k : {xgate::right::read, xgate::right::write, xgate::right::del, xgate::right::copy}) {
    const xgate::principal_list& list = r.list(k);
    xgate::join_principals(list);  // throws for an invalid name
    std::string joined;
    for (const std::string& p : list) {
      if (p.find(',') != std::string::npos)
        throw client_error(net_errc::bad_request, url, std::string(operation) + ": the principal \"" + p + "\" in write_options::rights (" +
                                    xgate::to_string(k) + ") has a comma, which the API's comma-separated lists cannot carry");
      if (!joined.empty()) joined += ',';
      joined += p;
    }
    out.emplace_back(xgate::to_string(k), std::move(joined));
  }
  return out;
}

// ---- the session ---------------------------------------------------------------------------

class http_session_impl final : public xgate::store::session {
 public:
  http_session_impl(std::vector<xgate::url> eps, std::string token, client_options options)
      : conn_(std::move(eps), std::move(token), options), options_(options) {}

  std::string address() const override { return conn_.base(); }

  std::string principal() override {
    if (!principal_) {
      auto r = call(http::verb::get, "/whoami", {}, "whoami", "");
      auto doc = parse_xml(url("/whoami"), r.body, "whoami");
      principal_ = doc.document_element().attribute("principal").value();
    }
    return *principal_;
  }

  xgate::store::document_info write(std::string_view name, std::string_view xml,
                                    const xgate::store::write_options& options) override {
    std::string target = "/store/" + xgate::encode_url_path(name);
    std::vector<std::pair<std::string, std::string>> q;
    if (options.lease) q.emplace_back("lease", seconds_text(*options.lease));
    if (options.expected_revision) q.emplace_back("if-revision", std::to_string(*options.expected_revision));
    if (options.rights)
      for (auto& f : rights_fields(url(target), "write", *options.rights)) q.push_back(std::move(f));
    target += query_string(q);
    auto r = call(http::verb::put, target, std::string(xml), "write", name);
    return info_from(url(target), parse_xml(url(target), r.body, "document").document_element());
  }

  xgate::store::document read(std::string_view name) override {
    std::string target = "/store/" + xgate::encode_url_path(name);
    for (int attempt = 0;; ++attempt) {
      auto r = call(http::verb::get, target, {}, "read", name);
      xgate::store::document d{headers_info(target, r, name), std::move(r.body)};
      if (complete_headers(r)) return d;
      // The headers carry only part of the info: the rest from /info, if the document did
      // not change in between (else read again).
      auto i = info(name);
      if (i.revision == d.info.revision || attempt == 2) {
        d.info = std::move(i);
        d.info.size = d.xml.size();
        return d;
      }
    }
  }

  xgate::store::document_info info(std::string_view name) override {
    std::string target = "/info/" + xgate::encode_url_path(name);
    auto r = call(http::verb::get, target, {}, "info", name);
    return info_from(url(target), parse_xml(url(target), r.body, "document").document_element());
  }

  void remove(std::string_view name, std::optional<std::uint64_t> expected_revision) override {
    std::string target = "/store/" + xgate::encode_url_path(name);
    if (expected_revision) target += query_string({{"if-revision", std::to_string(*expected_revision)}});
    call(http::verb::delete_, target, {}, "remove", name);
  }

  xgate::store::document take(std::string_view name) override {
    std::string target = "/take/" + xgate::encode_url_path(name);
    auto r = call(http::verb::post, target, {}, "take", name);
    auto i = headers_info(target, r, name);
    return {std::move(i), std::move(r.body)};
  }

  std::vector<xgate::store::document_info> list(std::string_view prefix) override {
    std::string target = prefixed("/list", prefix);
    auto r = call(http::verb::get, target, {}, "list", prefix);
    auto doc = parse_xml(url(target), r.body, "list");
    std::vector<xgate::store::document_info> out;
    for (auto n : doc.document_element().children("document")) out.push_back(info_from(url(target), n));
    return out;
  }

  // One page of options.limit (the server takes at most 10,000); without a limit, pages of
  // 1,000 until the last, gathered into one.
  xgate::store::list_page list(std::string_view prefix, const xgate::store::list_options& options) override {
    xgate::store::list_page out;
    std::string cursor = options.cursor;
    do {
      std::size_t limit = options.limit != 0 ? options.limit : 1000;
      std::vector<std::pair<std::string, std::string>> q{{"limit", std::to_string(limit)}};
      if (!cursor.empty()) q.emplace_back("cursor", cursor);
      if (!options.snapshot) q.emplace_back("snapshot", "false");
      std::string target = prefixed("/list", prefix) + query_string(q);
      auto r = call(http::verb::get, target, {}, "list", prefix);
      auto doc = parse_xml(url(target), r.body, "list");
      pugi::xml_node root = doc.document_element();
      for (auto n : root.children("document")) out.documents.push_back(info_from(url(target), n));
      std::uint64_t revision = to_u64(url(target), root.attribute("revision").value(), "<list revision>");
      if (out.revision == 0) out.revision = revision;
      cursor = root.attribute("next").value();
    } while (options.limit == 0 && !cursor.empty());
    out.next = cursor;
    return out;
  }

  std::vector<xgate::store::document_info> apply(const xgate::store::batch& b) override {
    // POST /batch: each document travels as escaped text inside <write> (API.md).
    std::string body = "<batch>";
    for (const xgate::store::batch::op& o : b.ops()) {
      if (o.remove) {
        body += "<remove name=\"" + xgate::xml_escaped(o.name) + "\"/>";
        continue;
      }
      body += "<write name=\"" + xgate::xml_escaped(o.name) + "\"";
      if (o.options.expected_revision) body += " if-revision=\"" + std::to_string(*o.options.expected_revision) + "\"";
      if (o.options.lease) body += " lease=\"" + seconds_text(*o.options.lease) + "\"";
      if (o.options.rights)
        for (auto& [k, v] : rights_fields(url("/batch"), "apply", *o.options.rights))
          body += " " + k + "=\"" + xgate::xml_escaped(v) + "\"";
      body += ">" + xgate::xml_escaped(o.xml) + "</write>";
    }
    body += "</batch>";
    auto r = call(http::verb::post, "/batch", std::move(body), "batch", "");
    auto doc = parse_xml(url("/batch"), r.body, "batch");
    std::vector<xgate::store::document_info> out;
    for (auto n : doc.document_element().children("document")) out.push_back(info_from(url("/batch"), n));
    return out;
  }

  void add_index(std::string_view id, std::string_view prefix, std::string_view expression) override {
    std::string target = "/index/" + xgate::encode_url_path(id) +
                         query_string({{"prefix", std::string(prefix)}, {"expression", std::string(expression)}});
    call(http::verb::put, target, {}, "add index", id);
  }

  void remove_index(std::string_view id) override {
    call(http::verb::delete_, "/index/" + xgate::encode_url_path(id), {}, "remove index", id);
  }

  std::vector<xgate::store::index_info> indexes() override {
    auto r = call(http::verb::get, "/indexes", {}, "indexes", "");
    auto doc = parse_xml(url("/indexes"), r.body, "indexes");
    std::vector<xgate::store::index_info> out;
    for (auto n : doc.document_element().children("index"))
      out.push_back({n.attribute("id").value(), n.attribute("prefix").value(), n.attribute("expression").value(),
                     n.attribute("creator").value()});
    return out;
  }

  // GET /query/PREFIX?PARAMS: the matches, the revision and the next page's cursor.
  xgate::store::query_page query_answer(std::string_view prefix, const std::vector<std::pair<std::string, std::string>>& params) {
    std::string target = prefixed("/query", prefix) + query_string(params);
    auto r = call(http::verb::get, target, {}, "query", prefix);
    auto doc = parse_xml(url(target), r.body, "query");
    pugi::xml_node root = doc.document_element();
    xgate::store::query_page out;
    out.revision = to_u64(url(target), root.attribute("revision").value(), "<query revision>");
    out.next = root.attribute("next").value();
    for (auto m : root.children("match")) {
      xgate::store::query_match q;
      q.name = m.attribute("name").value();
      q.revision = to_u64(url(target), m.attribute("revision").value(), "revision");
      for (auto v : m.children("value")) q.values.emplace_back(v.text().get());
      out.matches.push_back(std::move(q));
    }
    return out;
  }

  std::vector<xgate::store::query_match> query(std::string_view prefix, std::string_view xpath) override {
    return query_answer(prefix, {{"xpath", std::string(xpath)}}).matches;
  }

  xgate::store::query_page query(std::string_view prefix, std::string_view xpath, std::size_t limit,
                                 std::string_view cursor) override {
    std::vector<std::pair<std::string, std::string>> q{{"xpath", std::string(xpath)}, {"limit", std::to_string(limit)}};
    if (!cursor.empty()) q.emplace_back("cursor", std::string(cursor));
    return query_answer(prefix, q);
  }

  std::vector<xgate::store::change> watch(std::string_view prefix, std::uint64_t after,
                                          std::chrono::milliseconds timeout) override {
    // The server waits at most 60 s per request; longer watches are several requests.
    constexpr std::chrono::milliseconds server_max{60000};
    auto deadline = std::chrono::steady_clock::now() + std::max(timeout, std::chrono::milliseconds{0});
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      left = std::clamp(left, std::chrono::milliseconds{0}, server_max);
      std::string target = prefixed("/watch", prefix) +
                           query_string({{"after", std::to_string(after)}, {"timeout", std::to_string(left.count())}});
      auto r = call(http::verb::get, target, {}, "watch", prefix, left + options_.watch_margin);
      auto doc = parse_xml(url(target), r.body, "changes");
      std::vector<xgate::store::change> out;
      for (auto c : doc.document_element().children("change")) {
        xgate::store::change ch;
        ch.revision = to_u64(url(target), c.attribute("revision").value(), "revision");
        std::string_view kind = c.attribute("kind").value();
        if (kind == "written") ch.kind = xgate::store::change_kind::written;
        else if (kind == "removed") ch.kind = xgate::store::change_kind::removed;
        else if (kind == "expired") ch.kind = xgate::store::change_kind::expired;
        else bad_response(url(target), "change kind \"" + std::string(kind) + "\"");
        ch.name = c.attribute("name").value();
        out.push_back(std::move(ch));
      }
      if (!out.empty() || std::chrono::steady_clock::now() >= deadline) return out;
    }
  }

  std::uint64_t revision() override {
    auto r = call(http::verb::get, "/revision", {}, "revision", "");
    auto doc = parse_xml(url("/revision"), r.body, "revision");
    return to_u64(url("/revision"), doc.document_element().text().get(), "revision");
  }

  xgate::store::document_info renew_lease(std::string_view name, xgate::store::clock::duration ttl) override {
    return lease(name, query_string({{"renew", seconds_text(ttl)}}), "renew_lease");
  }

  xgate::store::document_info cancel_lease(std::string_view name) override { return lease(name, "?cancel", "cancel_lease"); }

  std::string issue_credential(const xgate::store::credential_request& request) override {
    std::vector<std::pair<std::string, std::string>> q{{"rights", request.rights.to_string()}};
    if (!request.subtree) q.emplace_back("subtree", "0");
    if (request.ttl) q.emplace_back("ttl", seconds_text(*request.ttl));
    if (!request.label.empty()) q.emplace_back("label", request.label);
    if (!request.methods.empty()) q.emplace_back("methods", xgate::store::join_methods(request.methods));
    std::string target = prefixed("/credential", request.scope) + query_string(q);
    auto r = call(http::verb::post, target, {}, "issue_credential", request.scope);
    auto doc = parse_xml(url(target), r.body, "credential");
    std::string token = doc.document_element().attribute("token").value();
    if (token.empty()) bad_response(url(target), "<credential> without a token");
    return token;
  }

  std::vector<xgate::store::credential_info> credentials() override {
    auto r = call(http::verb::get, "/credentials", {}, "credentials", "");
    auto doc = parse_xml(url("/credentials"), r.body, "credentials");
    std::string principal = doc.document_element().attribute("principal").value();
    std::vector<xgate::store::credential_info> out;
    for (pugi::xml_node n : doc.document_element().children("credential")) {
      auto attr = [&](const char* name) { return std::string_view(n.attribute(name).value()); };
      xgate::store::credential_info c;
      c.id = attr("id");
      c.parent = attr("parent");
      c.label = attr("label");
      c.issued = to_time(url("/credentials"), attr("issued"), "issued");
      c.granted.principal = principal;
      c.granted.scope = attr("scope");
      c.granted.subtree = attr("subtree") != "0";
      auto rights = xgate::store::right_set::parse(attr("rights"));
      if (!rights) bad_response(url("/credentials"), "rights \"" + std::string(attr("rights")) + "\" is not a list of rights");
      c.granted.rights = *rights;
      auto methods = xgate::store::parse_methods(attr("methods"));
      if (!methods) bad_response(url("/credentials"), "methods \"" + std::string(attr("methods")) + "\" is not a list of methods");
      c.granted.methods = std::move(*methods);
      if (n.attribute("expires")) c.granted.expires = to_time(url("/credentials"), attr("expires"), "expires");
      out.push_back(std::move(c));
    }
    return out;
  }

  void revoke_credential(std::string_view id) override {
    std::string target = prefixed("/credential", id);
    call(http::verb::delete_, target, {}, "revoke credential", id);
  }

 private:
  std::string url(const std::string& target) const { return conn_.base() + target; }

  static std::string prefixed(std::string route, std::string_view prefix) {
    if (!prefix.empty()) route += "/" + xgate::encode_url_path(prefix);
    return route;
  }

  static std::string query_string(const std::vector<std::pair<std::string, std::string>>& params) {
    std::string q;
    for (const auto& [k, v] : params) q += (q.empty() ? "?" : "&") + k + "=" + xgate::encode_url_query(v);
    return q;
  }

  response call(http::verb method, const std::string& target, std::string body, std::string_view operation,
                std::string_view name, std::optional<std::chrono::milliseconds> timeout = {}) {
    response r = conn_.send(method, target, std::move(body), timeout.value_or(options_.request_timeout));
    if (r.status < 200 || r.status > 299) throw_error(r, url(target), operation, name);
    return r;
  }

  xgate::store::document_info lease(std::string_view name, const std::string& query, const char* operation) {
    std::string target = "/lease/" + xgate::encode_url_path(name) + query;
    auto r = call(http::verb::post, target, {}, operation, name);
    return info_from(url(target), parse_xml(url(target), r.body, "document").document_element());
  }

  static bool complete_headers(const response& r) { return r.has("X-Xgate-Read") && r.has("X-Xgate-Created"); }

  // The info GET /store and POST /take carry in headers: revision, creator and modified by
  // the API; the rest of <document>'s attributes when the server sends them as
  // X-Xgate-Created, X-Xgate-Read, ... (the same names as the attributes).
  xgate::store::document_info headers_info(const std::string& target, const response& r, std::string_view name) {
    const std::string u = url(target);
    xgate::store::document_info d;
    d.name = std::string(name);
    d.revision = to_u64(u, r.header("X-Xgate-Revision"), "X-Xgate-Revision");
    d.size = r.body.size();
    d.rights.creator = r.header("X-Xgate-Creator");
    if (r.has("X-Xgate-Modified")) d.modified = to_time(u, r.header("X-Xgate-Modified"), "X-Xgate-Modified");
    if (r.has("X-Xgate-Created")) d.created = to_time(u, r.header("X-Xgate-Created"), "X-Xgate-Created");
    d.rights.read = to_list(u, r.header("X-Xgate-Read"));
    d.rights.write = to_list(u, r.header("X-Xgate-Write"));
    d.rights.del = to_list(u, r.header("X-Xgate-Delete"));
    d.rights.copy = to_list(u, r.header("X-Xgate-Copy"));
    d.embedded_rights = r.header("X-Xgate-Embedded-Rights") == "1";
    if (r.has("X-Xgate-Lease-Expires")) d.lease_expires = to_time(u, r.header("X-Xgate-Lease-Expires"), "X-Xgate-Lease-Expires");
    d.lease_holder = r.header("X-Xgate-Lease-Holder");
    return d;
  }

  connection conn_;
  client_options options_;
  std::optional<std::string> principal_;
};

}  // namespace

std::unique_ptr<xgate::store::session> http_session(std::string url, std::string token, client_options options) {
  std::vector<xgate::url> eps;
  for (std::size_t start = 0; start <= url.size();) {
    std::size_t comma = std::min(url.find(',', start), url.size());
    std::string one = url.substr(start, comma - start);
    auto ep = xgate::parse_url(one, {{"http", 80}, {"https", 443}}).value;
    if (!ep) throw client_error(net_errc::bad_address, one, "not an http://host:port or https://host:port address");
    eps.push_back(std::move(*ep));
    start = comma + 1;
  }
  return std::make_unique<http_session_impl>(std::move(eps), std::move(token), options);
}

}  // namespace xgate::client
