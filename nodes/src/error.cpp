#include <xgate/nodes/error.hpp>

#include <xgate/migrate/error.hpp>

namespace xgate::nodes {

const xgate::code_category& remote_category() noexcept {
#define E(c) static_cast<int>(remote_errc::c)
  static const xgate::code_category category("xgate.nodes", {
      {E(usage), "usage", condition::invalid_input, "a call the client cannot make: no hub, secret or principal; a malformed argument"},
      {E(unavailable), "unavailable", condition::unavailable, "the hub or a node cannot be reached or did not answer"},
      {E(login), "login", condition::access_denied, "the hub refused the credential or the endpoint name"},
      {E(store), "store", condition::internal, "the node's store failed"},
      {E(failed), "failed", condition::internal, "the node failed otherwise"},
  });
#undef E
  return category;
}

const char* to_string(remote_errc code) noexcept { return remote_category().code_name(static_cast<int>(code)); }

namespace {

std::error_code code_of(std::string_view name) {
  if (auto m = migrate::migrate_errc_from_string(name)) return *m;
  return remote_category().value_as<remote_errc>(name).value_or(remote_errc::failed);
}

}  // namespace

remote_error::remote_error(std::string_view code_name, const std::string& message) : xgate::error(code_of(code_name), message) {}

}  // namespace xgate::nodes
