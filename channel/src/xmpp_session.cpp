#include "xmpp_session.hpp"

#include <pthread.h>
#include <signal.h>
#include <sodium.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <system_error>

#include <xgate/channel/error.hpp>
#include <xgate/base/text.hpp>

namespace xgate::channel::xmpp_detail {

namespace {
// libstrophe's certificate callback has no user data: the session running libstrophe on
// this thread is the one asking.
thread_local session* current_session = nullptr;

struct current_guard {
  session* prev;
  explicit current_guard(session* s) : prev(current_session) { current_session = s; }
  ~current_guard() { current_session = prev; }
};

// libstrophe writes to its socket (through OpenSSL) without MSG_NOSIGNAL: a server that
// died would kill the whole process with SIGPIPE. Block it on this thread while libstrophe
// runs, and swallow one that arrived before unblocking (the write already failed with EPIPE).
struct sigpipe_guard {
  sigset_t old{};
  bool blocked = false;
  sigpipe_guard() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    blocked = pthread_sigmask(SIG_BLOCK, &set, &old) == 0 && !sigismember(&old, SIGPIPE);
  }
  ~sigpipe_guard() {
    if (!blocked) return;
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
      timespec zero{};
      while (sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
};

bool is_loopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.starts_with("127.");
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned v = 0;
    if (s[i] == '%' && i + 2 < s.size() &&
        std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16).ptr == s.data() + i + 3) {
      out += static_cast<char>(v);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace

xmpp_url parse_url(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return channel_error(channel_errc::protocol, "hub URL \"" + xgate::printable(url) + "\": " + why +
                                                     " (expected xmpp://USER@DOMAIN[:PORT][?ca=FILE&addr=HOST&tls=off])");
  };
  if (!url.starts_with("xmpp://")) throw bad("not an xmpp:// URL");
  xmpp_url u;
  u.url = std::string(url);
  std::string_view rest = url.substr(7), query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  auto at = rest.rfind('@');
  if (at == std::string_view::npos || at == 0) throw bad("no USER@");
  u.user = percent_decode(rest.substr(0, at));
  std::string_view hostport = rest.substr(at + 1);
  if (auto colon = hostport.rfind(':'); colon != std::string_view::npos && hostport.find(']') == std::string_view::npos) {
    unsigned p = 0;
    auto digits = hostport.substr(colon + 1);
    auto r = std::from_chars(digits.data(), digits.data() + digits.size(), p);
    if (digits.empty() || r.ptr != digits.data() + digits.size() || p == 0 || p > 65535) throw bad("bad port");
    u.port = static_cast<unsigned short>(p);
    hostport = hostport.substr(0, colon);
  }
  if (hostport.empty()) throw bad("no DOMAIN");
  u.domain = std::string(hostport);
  for (char c : u.user)
    if (c >= 'A' && c <= 'Z') throw bad("the user \"" + u.user + "\" has upper-case letters (JID localparts are case-insensitive: use lower case)");
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = kv.find('=');
    std::string_view k = kv.substr(0, eq), v = eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1);
    if (k == "ca") {
      u.ca = percent_decode(v);
    } else if (k == "addr") {
      u.addr = percent_decode(v);
    } else if (k == "tls") {
      if (v != "off" && v != "on") throw bad("tls= takes on or off");
      u.tls = v == "on";
    } else if (k == "buddies") {
      std::string list = percent_decode(v);
      for (std::size_t p = 0; p <= list.size();) {
        auto c = list.find(',', p);
        if (c == std::string::npos) c = list.size();
        if (c > p) u.buddies.push_back(list.substr(p, c - p));
        p = c + 1;
      }
    } else if (!k.empty()) {
      throw bad("unknown parameter \"" + std::string(k) + "\"");
    }
  }
  if (u.addr.empty()) u.addr = u.domain == "localhost" ? "127.0.0.1" : u.domain;
  if (!u.tls && !is_loopback(u.addr))
    throw channel_error(channel_errc::bad_auth, "hub URL \"" + xgate::printable(url) +
                                                    "\": tls=off would send the password in the clear; allowed only to a loopback address");
  return u;
}

bool text_safe(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n') return false;  // CR would become LF when parsed
      if (c == 0x7f) return false;
      ++i;
      continue;
    }
    std::size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4 || i + n > s.size()) return false;
    std::uint32_t cp = c & (0x7f >> n);
    for (std::size_t k = 1; k < n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff) ||
        cp == 0xfffe || cp == 0xffff || (cp >= 0x80 && cp <= 0x9f))
      return false;
    i += n;
  }
  return true;
}

std::size_t utf8_cut(std::string_view s, std::size_t pos) noexcept {
  if (pos >= s.size()) return s.size();
  while (pos > 0 && (static_cast<unsigned char>(s[pos]) & 0xc0) == 0x80) --pos;
  return pos;
}

std::string base64(std::string_view bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::optional<std::string> unbase64(std::string_view text) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), " \t\r\n", &len,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return std::nullopt;
  out.resize(len);
  return out;
}

bool parse_u64(std::string_view s, std::uint64_t& out, int base) noexcept {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return !s.empty() && r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

std::string attr(xmpp_stanza_t* s, const char* name) {
  const char* v = xmpp_stanza_get_attribute(s, name);
  return v ? v : "";
}

std::string text_of(xmpp_ctx_t* ctx, xmpp_stanza_t* s) {
  char* t = xmpp_stanza_get_text(s);
  if (!t) return {};
  std::string out(t);
  xmpp_free(ctx, t);
  return out;
}

envelope header_of(xmpp_stanza_t* x) {
  envelope e;
  e.from = attr(x, "from");
  e.to = attr(x, "to");
  e.id = attr(x, "id");
  e.kind = attr(x, "kind");
  e.correlation = attr(x, "re");
  std::uint64_t v = 0;
  if (parse_u64(attr(x, "seq"), v)) e.seq = v;
  std::string t = attr(x, "time");
  std::int64_t ns = 0;
  bool neg = !t.empty() && t[0] == '-';
  if (parse_u64(std::string_view(t).substr(neg ? 1 : 0), v)) ns = neg ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
  e.time = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(ns)));
  return e;
}

std::optional<std::string> part_text(xmpp_ctx_t* ctx, xmpp_stanza_t* x) {
  std::string t = text_of(ctx, x);
  if (attr(x, "enc") == "base64") return unbase64(t);
  return t;
}

jid_parts split_jid(std::string_view jid) {
  jid_parts p;
  if (auto slash = jid.find('/'); slash != std::string_view::npos) {
    p.resource = std::string(jid.substr(slash + 1));
    jid = jid.substr(0, slash);
  }
  if (auto at = jid.find('@'); at != std::string_view::npos) {
    p.node = std::string(jid.substr(0, at));
    jid = jid.substr(at + 1);
  }
  p.domain = std::string(jid);
  return p;
}

// ---- session -------------------------------------------------------------------------
session::session(const xmpp_url& u, const std::string& password, const std::string& ca_file,
                 std::chrono::milliseconds timeout) {
  static std::once_flag init;
  std::call_once(init, [] {
    xmpp_initialize();
    if (sodium_init() < 0) throw channel_error(channel_errc::protocol, "libsodium failed to initialize");
  });
  description_ = u.url;
  log_.handler = &session::on_log;
  log_.userdata = this;
  ctx_ = xmpp_ctx_new(nullptr, &log_);
  conn_ = xmpp_conn_new(ctx_);
  if (!ctx_ || !conn_) {
    release();
    throw std::system_error(std::make_error_code(std::errc::not_enough_memory), "libstrophe");
  }
  std::string jid = u.bare() + "/" + resource;
  xmpp_conn_set_jid(conn_, jid.c_str());
  xmpp_conn_set_pass(conn_, password.c_str());
  xmpp_conn_set_flags(conn_, u.tls ? XMPP_CONN_FLAG_MANDATORY_TLS : XMPP_CONN_FLAG_DISABLE_TLS);
  if (!ca_file.empty()) xmpp_conn_set_cafile(conn_, ca_file.c_str());
  xmpp_conn_set_certfail_handler(conn_, &session::on_certfail);
  xmpp_conn_set_sockopt_callback(conn_, xmpp_sockopt_cb_keepalive);  // find a silently dead server
  xmpp_handler_add(conn_, &session::on_stanza, nullptr, nullptr, nullptr, this);
  current_guard g(this);
  sigpipe_guard no_sigpipe;
  // libstrophe 0.12's SASL is not safe to run in two threads at once (concurrent logins
  // fail SCRAM's server-signature check), so logins in one process take turns.
  static std::mutex login_mutex;
  std::lock_guard login_lock(login_mutex);
  if (xmpp_connect_client(conn_, u.addr.c_str(), u.port, &session::on_conn, this) != XMPP_EOK) {
    release();
    throw std::system_error(std::make_error_code(std::errc::connection_refused),
                            u.url + ": cannot connect to " + u.addr + ":" + std::to_string(u.port));
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!connected_ && !ended_ && std::chrono::steady_clock::now() < deadline) xmpp_run_once(ctx_, 10);
  if (connected_ && !ended_) {
    secured_ = xmpp_conn_is_secured(conn_) != 0;
    return;
  }
  // A constructor that throws runs no destructor: free libstrophe's objects first.
  auto fail = [this](std::errc code, const std::string& what) {
    release();
    return std::system_error(std::make_error_code(code), what);
  };
  if (auth_failed_) {
    refusal_ = "the XMPP server refused the login of " + u.bare() + " (SASL authentication failed: wrong password or unknown user)";
  } else if (!cert_error_.empty()) {
    refusal_ = "the XMPP server's TLS certificate is not trusted (" + cert_error_ +
               "): give its CA as ?ca=FILE in the hub URL";
  } else if (ended_) {
    throw fail(std::errc::connection_refused, u.url + ": " + (end_reason_.empty() ? "the connection failed" : end_reason_));
  } else {
    throw fail(std::errc::timed_out, u.url + ": no XMPP login within " + std::to_string(timeout.count()) + " ms");
  }
}

session::~session() { release(); }

void session::release() noexcept {
  if (conn_) {
    current_guard g(this);
    sigpipe_guard no_sigpipe;
    if (!ended_ && (connected_ || xmpp_conn_is_connecting(conn_))) {
      xmpp_disconnect(conn_);
      for (int i = 0; i < 50 && !ended_; ++i) xmpp_run_once(ctx_, 10);
    }
    xmpp_conn_release(conn_);
    conn_ = nullptr;
  }
  if (ctx_) xmpp_ctx_free(ctx_);
  ctx_ = nullptr;
}

void session::run_once(std::chrono::milliseconds timeout) {
  current_guard g(this);
  sigpipe_guard no_sigpipe;
  // libstrophe writes at most about one TLS record per xmpp_run_once and then waits in
  // select() for input: with stanzas queued, keep it writing instead of waiting.
  for (int i = 0; i < 256 && xmpp_conn_send_queue_len(conn_) > 0 && !ended_; ++i) xmpp_run_once(ctx_, 0);
  if (ended_) return;
  unsigned long ms = xmpp_conn_send_queue_len(conn_) > 0 ? 1 : static_cast<unsigned long>(std::max<std::int64_t>(0, timeout.count()));
  xmpp_run_once(ctx_, ms);
}

bool session::sending() const noexcept { return conn_ && xmpp_conn_send_queue_len(conn_) > 0; }

void session::send(const std::string& xml) {
  xmpp_stanza_t* s = xmpp_stanza_new_from_string(ctx_, xml.c_str());
  if (!s) throw channel_error(channel_errc::protocol, "xmpp: could not build a stanza (" + xgate::printable(xml) + ")");
  xmpp_send(conn_, s);
  xmpp_stanza_release(s);
}

void session::on_conn(xmpp_conn_t*, xmpp_conn_event_t event, int error, xmpp_stream_error_t* se, void* ud) {
  auto* self = static_cast<session*>(ud);
  if (event == XMPP_CONN_CONNECT) {
    self->connected_ = true;
    return;
  }
  if (event == XMPP_CONN_RAW_CONNECT) return;
  self->ended_ = true;
  std::string why;
  if (se) {
    if (se->type == XMPP_SE_CONFLICT) self->conflict_ = true;
    why = "stream error";
    if (se->text) why += std::string(": ") + se->text;
    if (se->type == XMPP_SE_CONFLICT) why = "another login took the resource (XMPP conflict)";
    if (se->type == XMPP_SE_SYSTEM_SHUTDOWN) why = "the server is shutting down";
  } else if (error != 0) {
    why = std::system_category().message(error);
  } else if (!self->last_log_error_.empty()) {
    why = self->last_log_error_;
  } else {
    why = "the server closed the session";
  }
  self->end_reason_ = why;
}

int session::on_stanza(xmpp_conn_t*, xmpp_stanza_t* s, void* ud) {
  auto* self = static_cast<session*>(ud);
  const char* name = xmpp_stanza_get_name(s);
  if (!name) return 1;
  std::string_view n(name);
  if (n == "message" && self->on_message) self->on_message(s);
  else if (n == "presence" && self->on_presence) self->on_presence(s);
  else if (n == "iq" && self->on_iq) self->on_iq(s);
  return 1;
}

void session::on_log(void* ud, xmpp_log_level_t level, const char* area, const char* msg) {
  // XGATE_XMPP_DEBUG=1 in the environment shows libstrophe's log (the stanzas too) on stderr.
  static const bool debug = std::getenv("XGATE_XMPP_DEBUG") != nullptr;
  if (debug && msg) std::fprintf(stderr, "xmpp %s: %.2000s\n", area ? area : "", msg);
  if (level < XMPP_LEVEL_ERROR || !msg) return;
  auto* self = static_cast<session*>(ud);
  if (area && std::string_view(area) == "auth") self->auth_failed_ = true;
  self->last_log_error_ = std::string(area ? area : "xmpp") + ": " + msg;
}

int session::on_certfail(const xmpp_tlscert_t*, const char* errormsg) {
  if (current_session) current_session->cert_error_ = errormsg ? errormsg : "verification failed";
  return 0;  // never connect to a server we cannot verify
}

}  // namespace xgate::channel::xmpp_detail
