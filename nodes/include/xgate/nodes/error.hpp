// The errors of a node client (remote.hpp): remote_error carries a migrate_errc when the
// node refused the call for a reason of the runtime's (unknown_job, wrong_state, ...), and
// a remote_errc for what went wrong around it. docs/errors.md lists every code's condition.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

#include <xgate/base/error.hpp>

namespace xgate::nodes {

enum class remote_errc {
  usage = 1,    // a call the client cannot make: no hub, secret or principal; a malformed argument
  unavailable,  // the hub or a node cannot be reached or did not answer (worth a retry)
  login,        // the hub refused the credential or the endpoint name
  store,        // the node's store failed; the message is the store's
  failed,       // the node failed otherwise; the message is what it threw
};

}  // namespace xgate::nodes

template <>
struct std::is_error_code_enum<xgate::nodes::remote_errc> : std::true_type {};

namespace xgate::nodes {

// The category of remote_errc ("xgate.nodes").
[[nodiscard]] const xgate::code_category& remote_category() noexcept;
[[nodiscard]] inline std::error_code make_error_code(remote_errc code) noexcept {
  return {static_cast<int>(code), remote_category()};
}
[[nodiscard]] const char* to_string(remote_errc code) noexcept;  // "usage", ...

// A failed call of the node client. The code travels between processes as its name
// ("unknown_job", "unavailable"): code() is the migrate_errc of that name if there is one,
// else the remote_errc (an unknown name is remote_errc::failed). name() gives it back.
class remote_error : public xgate::error {
 public:
  remote_error(std::string_view code_name, const std::string& message);
  remote_error(std::error_code code, const std::string& message) : xgate::error(code, message) {}
  [[nodiscard]] std::string name() const { return xgate::code_name(code()); }
};

}  // namespace xgate::nodes
