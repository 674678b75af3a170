#include <xgate/tls/error.hpp>

namespace xgate::tls {

const xgate::code_category& tls_category() noexcept {
#define E(c) static_cast<int>(tls_errc::c)
  static const xgate::code_category category("xgate.tls", {
      {E(bad_request), "bad_request", condition::invalid_input, "a name, host or validity the tool cannot use"},
      {E(no_file), "no_file", condition::not_found, "a certificate, key or CA directory that is not there or cannot be read"},
      {E(bad_file), "bad_file", condition::invalid_input, "a file that is not a PEM certificate or key, or a key that does not match"},
      {E(exists), "exists", condition::failed_precondition, "a file the operation would overwrite"},
      {E(openssl), "openssl", condition::internal, "OpenSSL failed otherwise"},
  });
#undef E
  return category;
}

const char* to_string(tls_errc code) noexcept { return tls_category().code_name(static_cast<int>(code)); }

}  // namespace xgate::tls
