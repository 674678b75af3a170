// The errors of xgate::tls: tls_error, its code a tls_errc in the category "xgate.tls".
// docs/errors.md lists every code's condition.
#pragma once

#include <string>
#include <system_error>

#include <xgate/base/error.hpp>

namespace xgate::tls {

enum class tls_errc {
  bad_request = 1,  // a name, host or validity the tool cannot use
  no_file,          // a certificate, key or CA directory that is not there or cannot be read
  bad_file,         // a file that is not a PEM certificate or key, or a key that does not match
  exists,           // a file the operation would overwrite
  openssl,          // OpenSSL failed otherwise; the message carries its reason
};

}  // namespace xgate::tls

template <>
struct std::is_error_code_enum<xgate::tls::tls_errc> : std::true_type {};

namespace xgate::tls {

// The category of tls_errc ("xgate.tls").
[[nodiscard]] const xgate::code_category& tls_category() noexcept;
[[nodiscard]] inline std::error_code make_error_code(tls_errc code) noexcept {
  return {static_cast<int>(code), tls_category()};
}
[[nodiscard]] const char* to_string(tls_errc code) noexcept;  // "bad_request", ...

// what(): "tls: OPERATION \"WHAT\": DETAIL", e.g.
// tls: issue "node-a": no CA in /etc/xgate/certs (ca.crt): run xgate certs init first
class tls_error : public xgate::error {
 public:
  tls_error(tls_errc code, const std::string& operation, const std::string& what, const std::string& detail)
      : xgate::error(code, "tls: " + operation + " \"" + what + "\": " + detail) {}
  [[nodiscard]] tls_errc reason() const noexcept { return static_cast<tls_errc>(code().value()); }
};

}  // namespace xgate::tls
