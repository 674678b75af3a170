// The browser view: a read-only HTML rendering of what the caller may read. Pages
// authenticate with the xgate_token cookie (or a bearer token); the cookie is set by
// POST /login. Nothing here changes documents, so cookie authentication needs no CSRF
// defence; SameSite=Strict keeps the cookie off cross-site requests anyway.
#include <map>
#include <set>

#include <pugixml.hpp>

#include <xgate/store/error.hpp>

#include "routes.hpp"

namespace xgate::server::detail {

namespace {

// Inline scripts are not allowed: the only script is /login.js.
constexpr std::string_view csp =
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";

// Logs in from a URL fragment (#token=...), which browsers never send to servers, so a
// scripted browser can log in without the token appearing in URLs or logs.
constexpr std::string_view login_js = R"js((function () {
  var m = /^#token=(.+)$/.exec(window.location.hash);
  if (!m) return;
  var token = decodeURIComponent(m[1]);
  // ?next=/browse/... or /view/...: where to go after logging in; only paths on this
  // server (not "//host"), so the page cannot be used to send someone elsewhere.
  var next = new URLSearchParams(window.location.search).get('next');
  if (!next || next.charAt(0) !== '/' || next.charAt(1) === '/' || next.charAt(1) === '\\') next = '/browse/';
  history.replaceState(null, '', window.location.pathname + window.location.search);
  fetch('/login', {
    method: 'POST',
    credentials: 'same-origin',
    redirect: 'manual',
    headers: {'Content-Type': 'application/x-www-form-urlencoded'},
    body: 'token=' + encodeURIComponent(token)
  }).then(function (r) {
    if (r.ok || r.type === 'opaqueredirect') { window.location.replace(next); return; }
    var p = document.getElementById('message');
    if (p) p.textContent = 'That token was not accepted.';
  });
})();
)js";

constexpr std::string_view style =
    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
    "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}pre{background:#f8f8f8;padding:1em;overflow:auto}.error{color:#a00}";

response page(const request& req, http::status status, std::string_view title, std::string_view body_html) {
  response r{status, req.version()};
  r.set(http::field::server, "xgated");
  r.keep_alive(req.keep_alive());
  r.set(http::field::content_type, "text/html; charset=utf-8");
  r.set(http::field::cache_control, "no-store");
  r.set("Content-Security-Policy", std::string(csp));
  r.set("X-Content-Type-Options", "nosniff");
  r.set("Referrer-Policy", "no-referrer");
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>";
  escape_into(html, title);
  html += "</title><style>";
  html += style;
  html += "</style></head>\n<body>\n";
  html += body_html;
  html += "\n</body></html>\n";
  r.body() = std::move(html);
  return r;
}

response redirect(const request& req, std::string_view location) {
  response r{http::status::see_other, req.version()};
  r.set(http::field::server, "xgated");
  r.keep_alive(req.keep_alive());
  r.set(http::field::location, std::string(location));
  r.set(http::field::cache_control, "no-store");
  return r;
}

response login_page(const request& req, http::status status, std::string_view message) {
  std::string body = "<h1>xgated</h1>\n<p id=\"message\" class=\"error\">";
  escape_into(body, message);
  body +=
      "</p>\n<form method=\"post\" action=\"/login\">\n<label>Token <input type=\"password\" name=\"token\" "
      "autocomplete=\"off\" required></label>\n<button type=\"submit\">Log in</button>\n</form>\n"
      "<script src=\"/login.js\"></script>";
  response r = page(req, status, "xgated: log in", body);
  if (status == http::status::unauthorized) r.set(http::field::www_authenticate, "Bearer realm=\"xgated\"");
  return r;
}

std::string td(std::string_view text) { return "<td>" + escape(text) + "</td>"; }

std::string lease_text(const store::document_info& d) {
  return d.lease_expires ? format_utc(*d.lease_expires) + " (" + d.lease_holder + ")" : std::string("-");
}

std::string nav(std::string_view user) {
  return "<p>Logged in as <b>" + escape(user) + "</b> &middot; <a href=\"/browse/\">all documents</a> &middot; <a href=\"/logout\">log out</a></p>\n";
}

// Documents per page of the browser's listing: a folder's count covers the page's documents.
constexpr std::size_t browse_page = 500;

response browse(exchange& x, const request& req, const store::caller& who, std::string prefix, std::string_view query) {
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  std::string cursor;
  if (auto q = parse_query(query)) {
    for (auto& [k, v] : *q)
      if (k == "cursor") cursor = v;
  }
  store::list_page listing = x.store.list(prefix, who, store::list_options{.limit = browse_page, .cursor = cursor});
  const std::vector<store::document_info>& docs = listing.documents;
  // Documents directly under prefix are rows; deeper ones show as the folder holding them.
  std::map<std::string, std::size_t> folders;  // sub-prefix -> documents under it
  std::vector<const store::document_info*> rows;
  for (auto& d : docs) {
    std::string_view rest = d.name;
    if (!prefix.empty()) rest = d.name == prefix ? std::string_view{} : rest.substr(prefix.size() + 1);
    std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos) rows.push_back(&d);
    else ++folders[std::string(rest.substr(0, slash))];
  }
  std::string title = prefix.empty() ? "xgated: /" : "xgated: " + prefix + "/";
  std::string b = "<h1>";
  escape_into(b, prefix.empty() ? "/" : prefix + "/");
  b += "</h1>\n" + nav(who.principal());
  if (!prefix.empty()) {
    std::size_t cut = prefix.rfind('/');
    std::string parent = cut == std::string::npos ? "" : prefix.substr(0, cut);
    b += "<p><a id=\"parent\" href=\"/browse/" + escape(encode_url_path(parent.empty() ? "" : parent + "/")) +
         "\">.. (parent)</a></p>\n";
  }
  if (!folders.empty()) {
    b += "<h2>Folders</h2>\n<ul class=\"folders\">\n";
    for (auto& [f, n] : folders) {
      std::string full = prefix.empty() ? f : prefix + "/" + f;
      b += "<li><a href=\"/browse/" + escape(encode_url_path(full + "/")) + "\">" + escape(f) + "/</a> (" +
           std::to_string(n) + (n == 1 ? " document" : " documents") + ")</li>\n";
    }
    b += "</ul>\n";
  }
  b += "<h2>Documents</h2>\n";
  if (rows.empty()) {
    b += "<p>No documents you may read here.</p>\n";
  } else {
    b += "<table class=\"documents\">\n<tr><th>name</th><th>creator</th><th>read</th><th>write</th><th>delete</th>"
         "<th>copy</th><th>size</th><th>revision</th><th>modified</th><th>lease expires</th></tr>\n";
    for (const store::document_info* d : rows) {
      b += "<tr class=\"document\"><td><a href=\"/view/" + escape(encode_url_path(d->name)) + "\">" + escape(d->name) +
           "</a></td>" + td(d->rights.creator) + td(join_principals(d->rights.read)) + td(join_principals(d->rights.write)) +
           td(join_principals(d->rights.del)) + td(join_principals(d->rights.copy)) + td(std::to_string(d->size)) +
           td(std::to_string(d->revision)) + td(format_utc(d->modified)) + td(lease_text(*d)) + "</tr>\n";
    }
    b += "</table>\n";
  }
  if (!listing.next.empty()) {
    b += "<p><a id=\"next\" href=\"/browse/" + escape(encode_url_path(prefix.empty() ? "" : prefix + "/")) +
         "?cursor=" + escape(encode_url_query(listing.next)) + "\">next page</a> (folder counts cover this page)</p>\n";
  }
  return page(req, http::status::ok, title, b);
}

// Hands pugixml's output to a bounded_body, escaped for HTML.
class escaping_writer : public pugi::xml_writer {
 public:
  explicit escaping_writer(bounded_body& out) : out_(out) {}
  void write(const void* data, std::size_t size) override {
    out_.append_escaped(std::string_view(static_cast<const char*>(data), size));
  }

 private:
  bounded_body& out_;
};

// The document indented for reading (the bytes as stored if pugixml cannot parse them),
// escaped for HTML. Indenting a deeply nested document multiplies its size, hence the limit.
std::string pretty_escaped(const std::string& xml, std::size_t limit) {
  bounded_body out(limit, "document view");
  pugi::xml_document doc;
  unsigned flags = pugi::parse_default | pugi::parse_declaration | pugi::parse_comments | pugi::parse_pi;
  if (!doc.load_buffer(xml.data(), xml.size(), flags, pugi::encoding_utf8)) {
    out.append_escaped(xml);
    return out.take();
  }
  escaping_writer w(out);
  doc.save(w, "  ", pugi::format_indent | pugi::format_no_declaration, pugi::encoding_utf8);
  return out.take();
}

response view(exchange& x, const request& req, const store::caller& who, const std::string& name) {
  store::document d = x.store.read(name, who);
  const store::document_info& i = d.info;
  std::string b = "<h1>";
  escape_into(b, i.name);
  b += "</h1>\n" + nav(who.principal());
  std::size_t cut = i.name.rfind('/');
  std::string folder = cut == std::string::npos ? "" : i.name.substr(0, cut + 1);
  b += "<p><a id=\"folder\" href=\"/browse/" + escape(encode_url_path(folder)) + "\">folder " +
       escape(folder.empty() ? "/" : folder) + "</a></p>\n<table class=\"info\">\n";
  auto row = [&](std::string_view k, std::string_view v) { b += "<tr><th>" + escape(k) + "</th>" + td(v) + "</tr>\n"; };
  row("creator", i.rights.creator);
  row("read", join_principals(i.rights.read));
  row("write", join_principals(i.rights.write));
  row("delete", join_principals(i.rights.del));
  row("copy", join_principals(i.rights.copy));
  row("rights", i.embedded_rights ? "embedded in the document" : "kept by the store");
  row("size", std::to_string(i.size) + " bytes");
  row("revision", std::to_string(i.revision));
  row("created", format_utc(i.created));
  row("modified", format_utc(i.modified));
  row("lease expires", lease_text(i));
  b += "</table>\n<pre class=\"xml\">";
  b += pretty_escaped(d.xml, x.options.max_response);
  b += "</pre>";
  return page(req, http::status::ok, "xgated: " + i.name, b);
}

std::string login_token(const request& req) {
  auto form = parse_query(req.body(), true);
  if (!form) return {};
  for (auto& [k, v] : *form)
    if (k == "token") return v;
  return {};
}

response login_post(exchange& x, const request& req) {
  std::string token = login_token(req);
  if (token.empty()) return login_page(req, http::status::bad_request, "Enter a token.");
  try {
    check_token(x, token);  // sets x.principal
  } catch (const http_error& e) {
    if (e.status != http::status::unauthorized) throw;
    return login_page(req, http::status::unauthorized, "That token was not accepted.");
  }
  response r = redirect(req, "/browse/");
  // Tokens are URL-safe base64 after a prefix; anything else was refused by authenticate().
  // Over TLS the cookie is Secure: a browser never sends it over plain HTTP.
  std::string secure = x.options.tls.certificate.empty() ? "" : "; Secure";
  r.set(http::field::set_cookie, "xgate_token=" + token + "; HttpOnly; SameSite=Strict; Path=/" + secure);
  return r;
}

}  // namespace

bool is_browser_route(std::string_view path) {
  return path == "/" || path == "/login" || path == "/login.js" || path == "/logout" || path == "/browse" ||
         path.starts_with("/browse/") || path.starts_with("/view/");
}

response handle_browser(exchange& x, const request& req, const target& t) {
  std::string_view path = t.path;
  try {
    bool get = req.method() == http::verb::get;
    if (path == "/login" && req.method() == http::verb::post) return login_post(x, req);
    if (!get) {
      response r = page(req, http::status::method_not_allowed, "xgated: method not allowed",
                        "<p class=\"error\">This page only takes GET.</p>");
      r.set(http::field::allow, path == "/login" ? "GET, POST" : "GET");
      r.set("X-Xgate-Error", "bad_request");
      return r;
    }
    if (path == "/" || path == "/browse") return redirect(req, "/browse/");
    if (path == "/login") return login_page(req, http::status::ok, "");
    if (path == "/login.js") {
      response r{http::status::ok, req.version()};
      r.set(http::field::server, "xgated");
      r.keep_alive(req.keep_alive());
      r.set(http::field::content_type, "text/javascript; charset=utf-8");
      r.set("X-Content-Type-Options", "nosniff");
      r.body() = login_js;
      return r;
    }
    if (path == "/logout") {
      response r = redirect(req, "/login");
      r.set(http::field::set_cookie, "xgate_token=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
      return r;
    }
    std::optional<store::caller> who;
    try {
      who = authenticate(x, req, true);
    } catch (const http_error& e) {
      return login_page(req, http::status::unauthorized,
                        e.message.starts_with("missing") ? "Log in with your token." : "That token was not accepted.");
    }
    bool is_view = path.starts_with("/view/");
    auto name = percent_decode(path.substr(is_view ? 6 : 8));
    if (!name) throw http_error{http::status::bad_request, "bad_request", "malformed percent-encoding in the path"};
    return is_view ? view(x, req, *who, *name) : browse(x, req, *who, *name, t.query);
  } catch (...) {
    http_error e = current_error();
    std::string body = "<h1>Error</h1>\n<p class=\"error\" id=\"error\">";
    escape_into(body, e.message);
    body += "</p>\n<p><a href=\"/browse/\">all documents</a></p>";
    response r = page(req, e.status, "xgated: error", body);
    r.set("X-Xgate-Error", e.code);
    return r;
  }
}

}  // namespace xgate::server::detail
