#include <xgate/base/error.hpp>

namespace xgate {

const char* to_string(condition c) noexcept {
  switch (c) {
    case condition::invalid_input: return "invalid_input";
    case condition::not_found: return "not_found";
    case condition::conflict: return "conflict";
    case condition::access_denied: return "access_denied";
    case condition::too_large: return "too_large";
    case condition::failed_precondition: return "failed_precondition";
    case condition::unavailable: return "unavailable";
    case condition::internal: return "internal";
  }
  return "unknown";
}

namespace {
class condition_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "xgate.condition"; }
  std::string message(int value) const override { return to_string(static_cast<condition>(value)); }
};
}  // namespace

const std::error_category& condition_category() noexcept {
  static const condition_category_impl category;
  return category;
}

std::error_condition make_error_condition(condition c) noexcept { return {static_cast<int>(c), condition_category()}; }

bool retryable(const std::error_code& code) noexcept {
  return code == condition::unavailable || code == condition::conflict;
}

const code_category::entry* code_category::find(int value) const noexcept {
  for (const entry& e : entries_)
    if (e.value == value) return &e;
  return nullptr;
}

std::string code_category::message(int value) const {
  const entry* e = find(value);
  return e ? e->meaning : "unknown error " + std::to_string(value);
}

std::error_condition code_category::default_error_condition(int value) const noexcept {
  const entry* e = find(value);
  return make_error_condition(e ? e->condition : condition::internal);
}

const char* code_category::code_name(int value) const noexcept {
  const entry* e = find(value);
  return e ? e->name : "unknown";
}

std::optional<int> code_category::value_of(std::string_view name) const noexcept {
  for (const entry& e : entries_)
    if (name == e.name) return e.value;
  return std::nullopt;
}

std::string code_name(const std::error_code& code) {
  if (auto* c = dynamic_cast<const code_category*>(&code.category())) return c->code_name(code.value());
  return code.message();
}

const code_category& net_category() noexcept {
#define E(c) static_cast<int>(net_errc::c)
  static const code_category category("xgate.net", {
      {E(unreachable), "unreachable", condition::unavailable, "the address does not resolve, the connection is refused or broke"},
      {E(timed_out), "timed_out", condition::unavailable, "no answer within the configured time"},
      {E(busy), "busy", condition::unavailable, "the server answered that it is overloaded"},
      {E(bad_response), "bad_response", condition::internal, "an answer that is not the protocol's"},
      {E(bad_address), "bad_address", condition::invalid_input, "an address that is not one of the accepted forms"},
      {E(bad_request), "bad_request", condition::invalid_input, "a request that cannot be expressed on the wire"},
      {E(insecure), "insecure", condition::failed_precondition,
       "TLS refused the peer (its certificate, no protocol in common, or not TLS): fix the set-up; a retry fails again"},
  });
#undef E
  return category;
}

const char* to_string(net_errc code) noexcept { return net_category().code_name(static_cast<int>(code)); }

}  // namespace xgate
