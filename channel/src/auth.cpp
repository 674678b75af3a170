#include <xgate/base/text.hpp>
#include <xgate/channel/detail/auth.hpp>

#include <sodium.h>

#include <xgate/store/names.hpp>
#include <xgate/store/store.hpp>

namespace xgate::channel {

namespace {
static_assert(crypto_auth_KEYBYTES == token_hash_bytes && crypto_auth_BYTES == 32);
constexpr std::string_view transcript_tag{"xgate.channel.auth.v1\0", 22};

void init_sodium() {
  if (sodium_init() < 0) throw channel_error(channel_errc::bad_auth, "libsodium failed to initialize");
}

void put_counted(std::string& out, std::string_view s) {
  auto n = static_cast<std::uint32_t>(s.size());
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out.append(s);
}
}  // namespace

std::array<unsigned char, 32> auth_mac(std::string_view hash, const frames::challenge& c, std::string_view endpoint,
                                       std::string_view credential_id) {
  init_sodium();
  if (hash.size() != token_hash_bytes) throw channel_error(channel_errc::bad_auth, "a credential hash must be 32 bytes");
  std::string t(transcript_tag);
  t.append(reinterpret_cast<const char*>(c.nonce.data()), c.nonce.size());
  put_counted(t, c.context);
  put_counted(t, endpoint);
  put_counted(t, credential_id);
  std::array<unsigned char, 32> mac{};
  crypto_auth(mac.data(), reinterpret_cast<const unsigned char*>(t.data()), t.size(),
              reinterpret_cast<const unsigned char*>(hash.data()));
  return mac;
}

endpoint_credential::endpoint_credential(std::string_view token) {
  if (token.empty()) throw channel_error(channel_errc::bad_auth, "empty credential token");
  key_ = token_hash(token);
  id_ = credential_id_of_hash(key_);
}

endpoint_credential::~endpoint_credential() { sodium_memzero(key_.data(), key_.size()); }

frames::hello endpoint_credential::hello(std::string_view endpoint, link_state link) const {
  return frames::hello{std::string(endpoint), id_, protocol_version, link};
}

frames::auth endpoint_credential::respond(const frames::challenge& c, std::string_view endpoint) const {
  return frames::auth{auth_mac(key_, c, endpoint, id_)};
}

hub_handshake::hub_handshake(const verifier& v, std::string context) : verifier_(v), context_(std::move(context)) {}

frames::challenge hub_handshake::on_hello(const frames::hello& h) {
  if (hello_) throw channel_error(channel_errc::protocol, "hello from \"" + xgate::printable(h.endpoint) + "\" after hello");
  if (h.version != protocol_version)
    throw channel_error(channel_errc::bad_version, "endpoint \"" + xgate::printable(h.endpoint) + "\" speaks protocol " +
                                                       std::to_string(h.version) + ", the hub " + std::to_string(protocol_version));
  init_sodium();
  hello_ = h;
  challenge_.context = context_;
  randombytes_buf(challenge_.nonce.data(), challenge_.nonce.size());
  return challenge_;
}

authenticated hub_handshake::on_auth(const frames::auth& a) {
  if (!hello_ || done_) throw channel_error(channel_errc::bad_auth, "auth without a pending challenge");
  done_ = true;  // one attempt per challenge: a guess costs a connection
  const std::string who = "endpoint \"" + xgate::printable(hello_->endpoint) + "\" with credential " + hello_->credential_id;
  std::optional<credential_secret> c = verifier_.credential(hello_->credential_id);
  if (!c || c->hash.size() != token_hash_bytes)
    throw channel_error(channel_errc::bad_auth, who + ": unknown, revoked or expired credential");
  std::array<unsigned char, 32> expected = auth_mac(c->hash, challenge_, hello_->endpoint, hello_->credential_id);
  bool ok = sodium_memcmp(expected.data(), a.mac.data(), expected.size()) == 0;
  sodium_memzero(c->hash.data(), c->hash.size());
  if (!ok) throw channel_error(channel_errc::bad_auth, who + ": wrong response (wrong secret, or a replayed response)");
  return authenticated{hello_->endpoint, hello_->credential_id, std::move(c->who), hello_->link};
}

std::optional<credential_secret> store_verifier::credential(std::string_view id) const {
  std::optional<store::credential_key> k = store_.credential_key_of(id);
  if (!k) return std::nullopt;
  return credential_secret{std::move(k->hash), std::move(k->who)};
}

}  // namespace xgate::channel
