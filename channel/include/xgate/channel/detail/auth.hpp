// Internal to the channel library: its sources and tests use it; applications do not.
// Challenge-response authentication of an endpoint to the hub. The secret never crosses
// the wire, and the hub never needs it.
//
// The endpoint holds a credential token (what `xgated adduser` prints). The store keeps
// only hash = BLAKE2b-256(token), under id = hex of the hash's first 8 bytes. Protocol:
//   E -> H  hello     {endpoint, id, version, link}
//   H -> E  challenge {32 fresh random bytes, context}    (context names the hub instance)
//   E -> H  auth      {mac = crypto_auth(transcript, key = hash)}
// transcript = "xgate.channel.auth.v1" 0x00 | nonce | len|context | len|endpoint | len|id
// (each len a 4-byte big-endian count), so no field can slide into another. crypto_auth is
// HMAC-SHA-512-256. The hub recomputes the MAC with the hash the store holds and compares
// in constant time. A replayed response fails: every connection gets a fresh nonce. The
// endpoint name is in the MAC, so a response cannot be moved to another name.
//
// NOTE: for this protocol the stored hash is secret-equivalent: whoever reads it from the
// store (or its backups) can authenticate to the hub as the credential's holder. It does
// not reveal the token, so it does not open the HTTP API, which takes the token itself.
// Protect the store's files accordingly.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include <xgate/channel/frame.hpp>
#include <xgate/store/credentials.hpp>

namespace xgate::store {
class store;
}

namespace xgate::channel {

// What the store keeps of a token, and its credential id (store/credentials.hpp).
using store::credential_id_of_hash;
using store::token_hash;
using store::token_hash_bytes;

// What the hub learns about a credential id. hash is secret-equivalent (see above).
struct credential_secret {
  std::string hash;  // 32 raw bytes
  store::caller who;  // the principal (and grant) the credential stands for; the hub decides
                      // which endpoint names it may take, and acts as it in the store
};

// The hub's view of the store's credentials. credential() answers nullopt for an id that
// is unknown, revoked or expired (or issued through one that is).
class verifier {
 public:
  virtual ~verifier() = default;
  virtual std::optional<credential_secret> credential(std::string_view id) const = 0;
};

// The verifier over a store's credentials (store::credential_key_of). The store must outlive it.
class store_verifier : public verifier {
 public:
  explicit store_verifier(const store::store& s) : store_(s) {}
  std::optional<credential_secret> credential(std::string_view id) const override;

 private:
  const store::store& store_;
};

// The transcript MAC (exposed for tests and other-language implementations).
std::array<unsigned char, 32> auth_mac(std::string_view hash, const frames::challenge& c, std::string_view endpoint,
                                       std::string_view credential_id);

// The endpoint's side: holds the key (the token's hash), wiped on destruction.
class endpoint_credential {
 public:
  // Throws channel_error(bad_auth) for an empty token. The token itself is not kept.
  explicit endpoint_credential(std::string_view token);
  ~endpoint_credential();
  endpoint_credential(const endpoint_credential&) = delete;
  endpoint_credential& operator=(const endpoint_credential&) = delete;

  const std::string& id() const noexcept { return id_; }
  frames::hello hello(std::string_view endpoint, link_state link = {}) const;
  frames::auth respond(const frames::challenge& c, std::string_view endpoint) const;

 private:
  std::string key_, id_;
};

// Who authenticated.
struct authenticated {
  std::string endpoint;
  std::string credential_id;
  store::caller who;  // as the verifier gave it
  link_state link;  // from the hello: where the endpoint resumes
};

// The hub's side of one connection's handshake: hello -> challenge, auth -> authenticated.
// Single use: a fresh one (and so a fresh nonce) per connection.
class hub_handshake {
 public:
  // context: the hub's name and instance, bound into every MAC (e.g. "xgated hub@host:port").
  hub_handshake(const verifier& v, std::string context);
  // Throws channel_error(bad_version) for another protocol version, (protocol) when called twice.
  frames::challenge on_hello(const frames::hello& h);
  // Throws channel_error(bad_auth): unknown credential, wrong MAC (wrong secret, replayed
  // or moved response), or auth before hello. The message never quotes secrets.
  authenticated on_auth(const frames::auth& a);

 private:
  const verifier& verifier_;
  std::string context_;
  std::optional<frames::hello> hello_;
  frames::challenge challenge_;
  bool done_ = false;
};

}  // namespace xgate::channel
