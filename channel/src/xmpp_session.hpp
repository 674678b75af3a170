// Internal: one libstrophe login (context + connection), the URL, and the small wire helpers
// the XMPP transport (xmpp.cpp) and the archive reader (xmpp_archive.cpp) share.
#pragma once

#include <xgate/xmlcodec/escape.hpp>

#include <strophe.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <xgate/channel/envelope.hpp>

namespace xgate::channel::xmpp_detail {

inline constexpr const char* ns_xgate = "urn:xgate:channel:1";
inline constexpr const char* ns_hints = "urn:xmpp:hints";
inline constexpr const char* ns_mam = "urn:xmpp:mam:2";
inline constexpr const char* resource = "xgate";  // the endpoint's resource (see xmpp.hpp, PRESENCE)

struct xmpp_url {
  std::string url;     // as given, for messages
  std::string user;    // the account's localpart
  std::string domain;  // the XMPP domain
  std::string addr;    // where to connect
  unsigned short port = 5222;
  std::string ca;      // ?ca=
  bool tls = true;     // ?tls=off: plaintext (loopback only)
  std::vector<std::string> buddies;
  std::string bare() const { return user + "@" + domain; }
};
// Throws channel_error(protocol) naming the URL for anything malformed, (bad_auth) for
// plaintext to a non-loopback address.
xmpp_url parse_url(std::string_view url);

// Whether XML text carries s verbatim (valid UTF-8 of XML characters, no CR).
bool text_safe(std::string_view s) noexcept;
// The largest cut <= pos that does not split a UTF-8 sequence of s.
std::size_t utf8_cut(std::string_view s, std::size_t pos) noexcept;
std::string base64(std::string_view bytes);
std::optional<std::string> unbase64(std::string_view text);
bool parse_u64(std::string_view s, std::uint64_t& out, int base = 10) noexcept;

std::string attr(xmpp_stanza_t* s, const char* name);
std::string text_of(xmpp_ctx_t* ctx, xmpp_stanza_t* s);  // "" when it has none

// A data stanza's <x>: the envelope without its body, and one part's bytes (nullopt: bad base64).
envelope header_of(xmpp_stanza_t* x);
std::optional<std::string> part_text(xmpp_ctx_t* ctx, xmpp_stanza_t* x);

// A JID's parts (no validation beyond the separators).
struct jid_parts {
  std::string node, domain, resource;
};
jid_parts split_jid(std::string_view jid);

// One login. The constructor connects and authenticates (blocking up to timeout); outcomes:
// ok (up()), refused (refusal() says why: wrong password, untrusted certificate, ...), or
// a thrown std::system_error when the server cannot be reached. Every libstrophe call
// happens on the thread that made the session.
class session {
 public:
  session(const xmpp_url& u, const std::string& password, const std::string& ca_file, std::chrono::milliseconds timeout);
  ~session();  // a clean </stream> (so the server sends our unavailable presence at once)
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  bool up() const noexcept { return connected_ && !ended_; }
  const std::string& refusal() const noexcept { return refusal_; }
  bool conflict() const noexcept { return conflict_; }  // another login took our resource
  const std::string& end_reason() const noexcept { return end_reason_; }
  bool ended() const noexcept { return ended_; }
  bool secured() const noexcept { return secured_; }

  // Runs libstrophe's loop once (up to timeout): handlers run inside.
  void run_once(std::chrono::milliseconds timeout);
  // Whether stanzas wait in libstrophe's send queue.
  bool sending() const noexcept;
  // Parses xml (one stanza, built by the caller with append_escaped) and queues it.
  void send(const std::string& xml);

  std::function<void(xmpp_stanza_t*)> on_message, on_presence, on_iq;

  xmpp_ctx_t* ctx() const noexcept { return ctx_; }
  const std::string& description() const noexcept { return description_; }

 private:
  void release() noexcept;  // closes and frees libstrophe's objects (idempotent)
  static void on_conn(xmpp_conn_t*, xmpp_conn_event_t, int, xmpp_stream_error_t*, void*);
  static int on_stanza(xmpp_conn_t*, xmpp_stanza_t*, void*);
  static void on_log(void*, xmpp_log_level_t, const char*, const char*);
  static int on_certfail(const xmpp_tlscert_t*, const char*);

  xmpp_log_t log_{};
  xmpp_ctx_t* ctx_ = nullptr;
  xmpp_conn_t* conn_ = nullptr;
  std::string description_;
  bool connected_ = false, ended_ = false, auth_failed_ = false, conflict_ = false, secured_ = false;
  std::string refusal_, end_reason_, last_log_error_, cert_error_;
};

}  // namespace xgate::channel::xmpp_detail
