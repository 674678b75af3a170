// Results by reference. A job or service stores its result in a store and hands back a
// result_ref: where the store is, the result's name, and a credential granting exactly
// the rights it was issued for. A results_gate<T> built from a reference fetches and
// decodes the result on first use; it can pass the reference on as is, or share a child
// reference with narrower rights (the credential is issued through the holder's own, so
// it never grants more and dies with it).
//
//   // the service
//   auto s = xgate::store::local_session(store, "payroll");
//   xgate::results::result_ref ref = xgate::results::publish(*s, "payroll/2026-11/summary", summary);
//   // anyone holding ref, on any node
//   xgate::results::results_gate<Summary> gate(ref);
//   double total = gate->total;  // fetched here, once
//
// Errors: what the store throws passes through (store::store_error, xgate::access_denied,
// client::client_error for an address it cannot reach), and what the codec throws when a
// result does not decode (xgate::error). Each function names its own refusals.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <xgate/reflect/reflect.hpp>
#include <xgate/store/credentials.hpp>
#include <xgate/store/session.hpp>
#include <xgate/xmlcodec.hpp>

namespace xgate::results {

// A reference to a result. Itself an xgate type ("xgate.ResultRef"), so it travels as XML:
// in a message, inside another result. The credential is a bearer secret: whoever holds
// the reference may do what it grants.
struct result_ref {
  std::string store;       // "file:/dir" or "http://host:port"
  std::string name;        // the result's document name (or the root of a subtree)
  std::string credential;  // the token
  std::string type;        // the xgate type name of the result; "" when the reference covers a subtree
  friend bool operator==(const result_ref&, const result_ref&) = default;
};
XGATE_TYPE(result_ref, "xgate.ResultRef", 1, (), (store, name, credential, type))

// Opens a session on the reference's store acting through its credential. The default
// opener (default_opener()) handles "file:" (one store per directory per process) and
// "http://" (xgate::client::http_session).
using session_opener = std::function<std::unique_ptr<store::session>(const result_ref&)>;
// The opener throws client::client_error for an address of neither kind, and what opening
// the store or authenticating the credential throws (store::store_error(bad_credential)).
[[nodiscard]] session_opener default_opener();
// For a process that opened a store itself (a process must not open a directory twice):
// references to s open sessions on it; any other goes through default_opener().
[[nodiscard]] session_opener opener_for(store::store& s);

// What a reference's credential allows.
struct grant_options {
  store::right_set rights{xgate::right::read};
  bool subtree = false;                              // the name and everything under it
  std::optional<std::chrono::system_clock::duration> ttl;  // unset: no expiry (or the issuer's)
  std::string label;
};

// A reference to name on s's store, for s's principal, with a new credential issued through
// s (so within s's own grant when s runs on a credential). name need not exist yet: a
// service hands out references to results it will produce. xgate::access_denied ("issue
// credential") when the grant exceeds what s may pass on.
[[nodiscard]] result_ref reference(store::session& s, std::string_view name, const grant_options& grant = {}, std::string type = {});

namespace detail {
template <class T>
std::string type_of();
}

struct publish_options {
  // Embedded in the document; unset: owned by s's principal (only it reads, writes, deletes).
  std::optional<xgate::rights> rights;
  grant_options grant;                                 // what the returned reference allows
  std::optional<std::chrono::system_clock::duration> lease;  // the result expires with it
  const signing_key* sign = nullptr;
};

// Stores value under name (create or replace) as an xgate document with o.rights embedded.
// What a holder of a write-only reference uses to deliver a value. Throws what
// store::session::write throws (store.hpp: store::write).
template <class T>
store::document_info put(store::session& s, std::string_view name, const T& value, const publish_options& o = {}) {
  encode_options eo;
  eo.rights = o.rights ? *o.rights : xgate::rights::owned_by(s.principal());
  eo.sign = o.sign;
  store::write_options wo;
  wo.lease = o.lease;
  return s.write(name, to_xml(value, eo), wo);
}

// put(), then a reference to the stored value granting o.grant; throws what both throw.
template <class T>
[[nodiscard]] result_ref publish(store::session& s, std::string_view name, const T& value, const publish_options& o = {}) {
  put(s, name, value, o);
  return reference(s, name, o.grant, detail::type_of<T>());
}

// A child of ref: a reference to name (ref's own name, or a name under it when ref covers
// a subtree) with a credential issued through ref's, so it can only be narrower.
// xgate::access_denied ("issue credential") when it would not be, and what open throws.
[[nodiscard]] result_ref narrow(const result_ref& ref, const grant_options& grant, std::optional<std::string> name = {},
                  std::string type = {}, const session_opener& open = default_opener());

namespace detail {
// The type a reference records: reflected types by name; others (a std::vector, an int)
// are not checked before decoding, which still refuses a document of another shape.
template <class T>
std::string type_of() {
  if constexpr (reflected<T>) return std::string(type_name_v<T>);
  else return {};
}
// Checks that a reference may be decoded as the type named type_name (refs to a subtree
// name no type). Throws xgate::error(wrong_root_type) naming the reference otherwise.
void check_type(const result_ref& ref, std::string_view type_name);
}  // namespace detail

// Options for fetching.
struct fetch_options {
  const verify_key* verify = nullptr;  // when set, the result must carry a valid signature by it
  bool strict = true;
};

template <class T>
class results_gate {
 public:
  // xgate::error(wrong_root_type) when ref names a result of another type than T.
  explicit results_gate(result_ref ref, session_opener open = default_opener(), fetch_options options = {})
      : ref_(std::move(ref)), open_(std::move(open)), options_(options) {
    detail::check_type(ref_, detail::type_of<T>());
  }

  // The result, fetched and decoded on first use with the reference's credential. Thread
  // safe; a failed fetch throws (the store's or the codec's error) and is retried on the
  // next call.
  [[nodiscard]] const T& get() {
    std::lock_guard lock(mutex_);
    if (!value_) fetch_locked();
    return *value_;
  }
  [[nodiscard]] const T& operator*() { return get(); }
  const T* operator->() { return &get(); }

  [[nodiscard]] bool fetched() const {
    std::lock_guard lock(mutex_);
    return value_.has_value();
  }
  // The revision of the document fetched; 0 before the first fetch.
  [[nodiscard]] std::uint64_t revision() const {
    std::lock_guard lock(mutex_);
    return revision_;
  }
  // Drops the fetched value; the next get() fetches the current document again.
  void refresh() {
    std::lock_guard lock(mutex_);
    value_.reset();
  }

  // The reference itself, to pass on as is.
  [[nodiscard]] const result_ref& ref() const noexcept { return ref_; }
  // A child reference with narrower rights (and, for a subtree reference, possibly a name
  // under it). Throws xgate::access_denied when it would not be narrower.
  [[nodiscard]] result_ref share(const grant_options& grant, std::optional<std::string> name = {}) const {
    return narrow(ref_, grant, std::move(name), {}, open_);
  }

 private:
  void fetch_locked() {
    std::unique_ptr<store::session> s = open_(ref_);
    store::document d = s->read(ref_.name);
    decode_options o;
    o.principal = s->principal();
    o.verify = options_.verify;
    o.strict = options_.strict;
    o.document_name = ref_.store + "/" + ref_.name;
    value_.emplace(from_xml<T>(d.xml, o));
    revision_ = d.info.revision;
  }

  result_ref ref_;
  session_opener open_;
  fetch_options options_;
  mutable std::mutex mutex_;
  std::optional<T> value_;
  std::uint64_t revision_ = 0;
};

}  // namespace xgate::results
