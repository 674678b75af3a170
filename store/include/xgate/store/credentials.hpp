// Who performs a store operation, and credentials: bearer tokens that let their holder act
// for a principal, narrowed to some rights on one document or one subtree of names, and
// optionally to some channel methods (least privilege for the hub and the nodes behind it).
//
// A credential never grants more than its principal has: an operation through it needs
// both the credential's grant and the principal's right on the document. A credential
// issued through another one (a child) must lie within its parent's grant and dies with
// it. The store keeps only a hash of each token; the token itself is shown once, to the
// issuer.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <xgate/xmlcodec/rights.hpp>

namespace xgate::store {

// A set of document rights (read, write, delete, copy).
class right_set {
 public:
  constexpr right_set() = default;
  constexpr right_set(std::initializer_list<xgate::right> rs) {
    for (xgate::right r : rs) bits_ |= bit(r);
  }
  static constexpr right_set all() { return right_set{xgate::right::read, xgate::right::write, xgate::right::del, xgate::right::copy}; }
  constexpr bool has(xgate::right r) const noexcept { return (bits_ & bit(r)) != 0; }
  constexpr bool empty() const noexcept { return bits_ == 0; }
  constexpr bool within(right_set other) const noexcept { return (bits_ & ~other.bits_) == 0; }
  constexpr std::uint8_t bits() const noexcept { return bits_; }
  static constexpr right_set from_bits(std::uint8_t b) noexcept {
    right_set s;
    s.bits_ = static_cast<std::uint8_t>(b & all().bits_);
    return s;
  }
  // "read,write,delete,copy" (in that order; "" for none).
  std::string to_string() const;
  // The inverse of to_string(); "all" means all four. std::nullopt for anything else.
  static std::optional<right_set> parse(std::string_view text);
  friend constexpr bool operator==(right_set, right_set) = default;

 private:
  static constexpr std::uint8_t bit(xgate::right r) noexcept { return static_cast<std::uint8_t>(1u << static_cast<unsigned>(r)); }
  std::uint8_t bits_ = 0;
};

// What a credential lets its holder do.
struct grant {
  std::string principal;       // whose rights the holder exercises (never more than theirs)
  std::string scope;           // a document name; "" means every name
  bool subtree = true;         // scope and every name under it; false: only the document scope
  right_set rights = right_set::all();
  std::optional<std::chrono::system_clock::time_point> expires;
  // The channel methods (and message kinds) its holder may send, sorted and unique; empty
  // means every one. The store keeps them; the hub and the receivers enforce them
  // (channel/envelope.hpp: kind_permitted).
  std::vector<std::string> methods;

  bool covers(std::string_view name) const noexcept;  // name lies within scope
  bool allows(std::string_view name, xgate::right r) const noexcept { return rights.has(r) && covers(name); }
  bool allows_method(std::string_view method) const noexcept;  // methods is empty or holds it
  // Everything this grant allows, other allows too (and it expires no later).
  bool within(const grant& other) const noexcept;
  friend bool operator==(const grant&, const grant&) = default;
};

// Who performs an operation: a principal with all its rights (what the local API trusts its
// caller to say), or a principal acting through a credential (what store::authenticate
// gives for a token). Converts implicitly from a principal name.
class caller {
 public:
  caller(const char* principal) : principal_(principal) {}
  caller(std::string_view principal) : principal_(principal) {}
  caller(const std::string& principal) : principal_(principal) {}
  caller(std::string credential_id, grant g)
      : principal_(g.principal), credential_id_(std::move(credential_id)), grant_(std::move(g)) {}

  const std::string& principal() const noexcept { return principal_; }
  // The grant that limits this caller; nullptr for a principal acting with all its rights.
  const grant* limits() const noexcept { return grant_ ? &*grant_ : nullptr; }
  // The id of the credential this caller presented; "" without one.
  const std::string& credential_id() const noexcept { return credential_id_; }
  // Whether the credential (if any) allows r on name; the document's rights are checked apart.
  bool may(std::string_view name, xgate::right r) const noexcept { return !grant_ || grant_->allows(name, r); }

 private:
  std::string principal_;
  std::string credential_id_;
  std::optional<grant> grant_;
};

// What to issue: a grant for the issuing caller's principal.
struct credential_request {
  std::string scope;        // "" = every name
  bool subtree = true;
  right_set rights = right_set::all();
  std::optional<std::chrono::system_clock::duration> ttl;  // unset: no expiry (or the parent's)
  std::string label;        // free text shown in listings ("login", "payroll readers")
  // Channel methods or message kinds (each 1..64 bytes of [A-Za-z0-9._-]); empty: every one,
  // or the parent's. Order and repeats do not matter.
  std::vector<std::string> methods;
};

// Whether text is a valid method name for a grant: 1..64 bytes of [A-Za-z0-9._-].
[[nodiscard]] bool is_valid_method(std::string_view text) noexcept;
// "status,result" to {"result", "status"} (sorted, unique); "" to {}. std::nullopt when an
// item is not a valid method name (or empty: "a,,b", "a,").
[[nodiscard]] std::optional<std::vector<std::string>> parse_methods(std::string_view text);
// The inverse: sorted names joined with ",".
[[nodiscard]] std::string join_methods(const std::vector<std::string>& methods);

// A credential as listed: never the token.
struct credential_info {
  std::string id;       // public name of the credential (for listing and revoking), not a secret
  std::string parent;   // id of the credential it was issued through; "" for a root credential
  std::string label;
  grant granted;
  std::chrono::system_clock::time_point issued;
  friend bool operator==(const credential_info&, const credential_info&) = default;
};

// The hash the store keeps of a token (BLAKE2b-256: token_hash_bytes raw bytes), and the id
// of the credential it belongs to (the hash's first 8 bytes as 16 lower-case hex digits).
// A challenge-response protocol (the channel hub) computes both where the token is held.
// token_hash throws store_error(bad_credential) when libsodium cannot be initialized.
inline constexpr std::size_t token_hash_bytes = 32;
[[nodiscard]] std::string token_hash(std::string_view token);
[[nodiscard]] std::string credential_id_of_hash(std::string_view hash);

}  // namespace xgate::store
