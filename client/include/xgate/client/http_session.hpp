// A store session on an xgated server, over its HTTP API (server/API.md).
//
// The session speaks HTTP/1.1 (over TLS for https://) on one keep-alive connection, opened on
// first use; a TLS session is resumed when the connection is opened again. If
// the server closed that connection while it was idle, the request is sent once more on a
// fresh one (only then: a request that failed after the server may have seen it is not
// repeated). A session is NOT thread-safe: use one per thread, or guard it.
//
// Several servers on one store (xgated replicas on one PostgreSQL database) are given as
// one comma-separated list, "http://a:8080,http://b:8080": the session uses one until it
// fails, then the next. A request that could not connect goes to the next server at once,
// and so does a read (GET) that got no answer; a write that may have reached the server
// throws its client_error (retryable) and the next request goes to the next server. Say
// what a retried write means with write_options::expected_revision: a retry that finds its
// own write already applied fails with conflict instead of writing twice.
//
// Errors are the store's own, rebuilt from the response's X-Xgate-Error header, so code
// written against xgate::store::session behaves the same on a local store and a server:
//   store_error with the same store_errc (401 gives bad_credential, 413 too_large),
//   xgate::access_denied with the server's principal, right and document,
//   client_error for what the HTTP layer itself fails at (connect, timeout, a response
//   that is not the API's).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <xgate/store/session.hpp>
#include <xgate/tls/context.hpp>
#include <xgate/xmlcodec/error.hpp>

namespace xgate::client {

struct client_options {
  std::chrono::milliseconds connect_timeout{5000};
  // For one request and its whole response, except watch.
  std::chrono::milliseconds request_timeout{30000};
  // A watch waits on the server up to its own timeout; the connection gets this much more.
  std::chrono::milliseconds watch_margin{10000};
  std::size_t max_response_bytes = std::size_t{256} << 20;
  // For https://: the CA the server's certificate must chain to (empty: $XGATE_CA, else the
  // system's store), and a client certificate for servers that require one. The server's
  // certificate must also be for the URL's host.
  xgate::tls::client_settings tls;
};

// A failure of the HTTP layer: the server cannot be reached, does not answer in time, or
// answers something that is not the API's, or TLS refuses it. code() is a net_errc
// (unreachable, timed_out and busy are worth a retry: error::retryable(); insecure is not);
// what() names the URL and what failed:
// `http://127.0.0.1:9/store/a: connect: Connection refused`,
// `https://10.0.0.5:8443/store/a: TLS handshake: certificate refused: certificate has expired`.
class client_error : public xgate::error {
 public:
  client_error(net_errc code, std::string url, std::string what_failed, int http_status = 0);
  const std::string& url() const noexcept { return url_; }
  int http_status() const noexcept { return status_; }  // 0 when no response came

 private:
  std::string url_;
  int status_;
};

// A session on the server at url ("http://host:port" or "https://host:port", a trailing '/'
// is ignored; several separated by commas, see above) acting with token (a login token or a credential; with a client certificate
// the server takes for a principal, it may be empty). Nothing is sent until the first call.
// Throws client_error: bad_address for a url of another form, insecure when
// options.tls's files cannot be used.
std::unique_ptr<xgate::store::session> http_session(std::string url, std::string token, client_options options = {});

}  // namespace xgate::client
