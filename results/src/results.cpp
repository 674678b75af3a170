#include <xgate/results/results.hpp>

#include <filesystem>

#include <xgate/client/open_session.hpp>

namespace xgate::results {

result_ref reference(store::session& s, std::string_view name, const grant_options& grant, std::string type) {
  store::credential_request r;
  r.scope = std::string(name);
  r.subtree = grant.subtree;
  r.rights = grant.rights;
  r.ttl = grant.ttl;
  r.label = grant.label.empty() ? "result " + std::string(name) : grant.label;
  return result_ref{s.address(), std::string(name), s.issue_credential(r), std::move(type)};
}

result_ref narrow(const result_ref& ref, const grant_options& grant, std::optional<std::string> name, std::string type,
                  const session_opener& open) {
  std::string target = name ? std::move(*name) : ref.name;
  if (type.empty() && target == ref.name) type = ref.type;
  std::unique_ptr<store::session> s = open(ref);
  return reference(*s, target, grant, std::move(type));
}

session_opener default_opener() {
  return [](const result_ref& ref) {
    // One cache for the process: every gate on a directory must share its store object.
    static client::store_cache stores;
    return client::open_session(ref.store, ref.credential, stores);
  };
}

session_opener opener_for(store::store& s) {
  std::string address = s.address();
  return [&s, address, fallback = default_opener()](const result_ref& ref) {
    if (ref.store == address) return store::local_session(s, s.authenticate(ref.credential));
    return fallback(ref);
  };
}

namespace detail {
void check_type(const result_ref& ref, std::string_view type_name) {
  if (ref.type.empty() || type_name.empty() || ref.type == type_name) return;
  throw xgate::error(errc::wrong_root_type, "result " + ref.store + "/" + ref.name + ": the reference is to a " + ref.type +
                                                ", not a " + std::string(type_name));
}
}  // namespace detail

}  // namespace xgate::results
