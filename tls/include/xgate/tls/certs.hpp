// A small certificate authority for a cluster, the way `cockroach cert` does it: one CA
// per cluster, a certificate per node (its host names and addresses as subjectAltNames) and
// per client (its common name is the principal). What `xgate certs` runs.
//
//   xgate::tls::create_ca("certs");                                  // certs/ca.crt, ca.key
//   xgate::tls::issue("certs", "node-a", {.hosts = {"a.example", "10.0.0.5"}});
//   xgate::tls::issue("certs", "alice", {.client = true});
//   xgate::tls::certificate_info i = xgate::tls::read_certificate("certs/node-a.crt");
//
// Keys are ECDSA P-256, signatures SHA-256 (what every TLS 1.2 and 1.3 peer accepts, and
// cheap to handshake). Keys are written mode 0600, certificates 0644; nothing is ever
// overwritten. Errors: tls_error (error.hpp).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <xgate/tls/error.hpp>

namespace xgate::tls {

struct ca_options {
  std::string name = "xgate CA";  // the CA's common name
  int days = 3650;                // validity, from now
};

struct issue_options {
  // Host names and IP addresses the certificate is for (subjectAltName DNS and IP entries).
  // A server certificate needs at least one; "localhost" and "127.0.0.1" cover loopback.
  std::vector<std::string> hosts;
  // A client certificate (extendedKeyUsage clientAuth only): its common name is the principal
  // a server that checks client certificates takes it for. Otherwise a node certificate,
  // good as a server and as a client (serverAuth, clientAuth).
  bool client = false;
  int days = 365;
};

// DIR/ca.crt and DIR/ca.key, DIR created (0700) if missing. Throws tls_error: exists when
// either file is there, bad_request for days outside 1..36500, no_file when DIR cannot be
// created, openssl.
void create_ca(const std::filesystem::path& dir, const ca_options& options = {});

// DIR/NAME.crt and DIR/NAME.key, signed by DIR/ca.crt with DIR/ca.key. NAME is the common
// name: letters, digits and . _ - (at most 64). Throws tls_error: bad_request (name; a
// server certificate without hosts; a host that is neither a DNS name nor an IP address;
// days outside 1..36500), no_file (no CA in DIR), bad_file (a CA file that is not PEM, or
// a key that does not match the certificate), exists, openssl.
void issue(const std::filesystem::path& dir, const std::string& name, const issue_options& options);

// What a certificate says.
struct certificate_info {
  std::string subject;              // RFC 2253, e.g. "CN=node-a,O=xgate"
  std::string issuer;               // likewise
  std::string common_name;          // the subject's CN
  std::vector<std::string> hosts;   // subjectAltName DNS names and IP addresses, in order
  std::chrono::system_clock::time_point not_before, not_after;
  bool is_ca = false;
  bool server = false;              // extendedKeyUsage serverAuth
  bool client = false;              // extendedKeyUsage clientAuth
  std::string serial;               // hex
};

// Reads the first certificate of a PEM file. Throws tls_error (no_file, bad_file).
[[nodiscard]] certificate_info read_certificate(const std::filesystem::path& file);

}  // namespace xgate::tls
