// Challenge-response authentication: the right secret passes; a wrong secret, a replayed
// or moved response and an unknown credential are refused with bad_auth; the token never
// appears on the wire.
#include <map>

#include <xgate/store/store.hpp>

#include "test_dir.hpp"
#include "test_util.hpp"

namespace xgate::channel {
namespace {
using testing::catch_channel_error;

// Test-only verifier: what the store will answer, from a map.
class map_verifier : public verifier {
 public:
  void add(std::string_view token, std::string principal) {
    std::string h = token_hash(token);
    creds_.insert_or_assign(credential_id_of_hash(h), credential_secret{h, store::caller(principal)});
  }
  std::optional<credential_secret> credential(std::string_view id) const override {
    auto it = creds_.find(std::string(id));
    if (it == creds_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, credential_secret> creds_;
};

const std::string token = "xgt1_AAAAsecretsecretsecretsecretsecretsecret";

TEST(Auth, RightSecretAuthenticates) {
  map_verifier v;
  v.add(token, "alice");
  endpoint_credential me(token);
  hub_handshake hub(v, "hub@test");
  frames::hello h = me.hello("node/a", {7, 8, 9});
  // What goes on the wire carries neither the token nor its hash.
  std::string wire = framed(h);
  frames::challenge c = hub.on_hello(std::get<frames::hello>(decode_payload(wire.substr(4))));
  EXPECT_EQ(c.context, "hub@test");
  frames::auth a = me.respond(c, "node/a");
  wire += framed(c) + framed(a);
  EXPECT_EQ(wire.find(token), std::string::npos);
  EXPECT_EQ(wire.find(token_hash(token)), std::string::npos);
  authenticated who = hub.on_auth(a);
  EXPECT_EQ(who.endpoint, "node/a");
  EXPECT_EQ(who.who.principal(), "alice");
  EXPECT_EQ(who.credential_id, me.id());
  EXPECT_EQ(who.link, (link_state{7, 8, 9}));
}

TEST(Auth, WrongSecretIsRefused) {
  map_verifier v;
  v.add(token, "alice");
  // Same id (the attacker reads it off the wire), wrong key.
  endpoint_credential right(token);
  hub_handshake hub(v, "hub@test");
  frames::challenge c = hub.on_hello(right.hello("node/a"));
  frames::auth a = endpoint_credential("xgt1_guess").respond(c, "node/a");
  auto e = catch_channel_error([&] { (void)hub.on_auth(a); });
  EXPECT_EQ(e.code(), channel_errc::bad_auth);
  EXPECT_EQ(e.detail(), "endpoint \"node/a\" with credential " + right.id() +
                            ": wrong response (wrong secret, or a replayed response)");
  EXPECT_EQ(std::string(e.what()).find(token), std::string::npos);
}

TEST(Auth, ReplayedResponseIsRefused) {
  map_verifier v;
  v.add(token, "alice");
  endpoint_credential me(token);
  hub_handshake first(v, "hub@test");
  frames::challenge c1 = first.on_hello(me.hello("node/a"));
  frames::auth recorded = me.respond(c1, "node/a");
  first.on_auth(recorded);
  // An eavesdropper replays hello and the recorded auth on a new connection.
  hub_handshake second(v, "hub@test");
  frames::challenge c2 = second.on_hello(me.hello("node/a"));
  EXPECT_NE(c1.nonce, c2.nonce);
  EXPECT_EQ(catch_channel_error([&] { (void)second.on_auth(recorded); }).code(), channel_errc::bad_auth);
  // Nor a second try on the same connection, even with the right answer.
  EXPECT_EQ(catch_channel_error([&] { (void)second.on_auth(me.respond(c2, "node/a")); }).code(), channel_errc::bad_auth);
  // Nor on the first connection again.
  EXPECT_EQ(catch_channel_error([&] { (void)first.on_auth(recorded); }).code(), channel_errc::bad_auth);
}

TEST(Auth, ResponseCannotBeMovedToAnotherNameOrHub) {
  map_verifier v;
  v.add(token, "alice");
  endpoint_credential me(token);
  hub_handshake hub(v, "hub@test");
  // An attacker in the middle rewrites the hello's name: the MAC covered the real one.
  frames::hello h = me.hello("node/a");
  h.endpoint = "node/admin";
  frames::challenge c = hub.on_hello(h);
  EXPECT_EQ(catch_channel_error([&] { (void)hub.on_auth(me.respond(c, "node/a")); }).code(), channel_errc::bad_auth);
  // A challenge from another hub (context) relayed here does not fit either.
  hub_handshake other(v, "hub@elsewhere"), here(v, "hub@test");
  frames::challenge there = other.on_hello(me.hello("node/a"));
  frames::challenge mine = here.on_hello(me.hello("node/a"));
  there.nonce = mine.nonce;  // even with this hub's nonce, the context differs
  EXPECT_EQ(catch_channel_error([&] { (void)here.on_auth(me.respond(there, "node/a")); }).code(), channel_errc::bad_auth);
}

TEST(Auth, UnknownCredentialVersionAndOrderAreRefused) {
  map_verifier v;
  endpoint_credential me(token);
  hub_handshake hub(v, "hub@test");
  frames::challenge c = hub.on_hello(me.hello("node/a"));
  auto e = catch_channel_error([&] { (void)hub.on_auth(me.respond(c, "node/a")); });
  EXPECT_EQ(e.code(), channel_errc::bad_auth);
  EXPECT_NE(e.detail().find("unknown, revoked or expired credential"), std::string::npos);

  hub_handshake early(v, "hub@test");
  EXPECT_EQ(catch_channel_error([&] { (void)early.on_auth(frames::auth{}); }).code(), channel_errc::bad_auth);

  hub_handshake old(v, "hub@test");
  frames::hello h = me.hello("node/a");
  h.version = 0;
  auto ve = catch_channel_error([&] { (void)old.on_hello(h); });
  EXPECT_EQ(ve.code(), channel_errc::bad_version);
  EXPECT_EQ(ve.detail(), "endpoint \"node/a\" speaks protocol 0, the hub 1");

  hub_handshake twice(v, "hub@test");
  twice.on_hello(me.hello("node/a"));
  EXPECT_EQ(catch_channel_error([&] { (void)twice.on_hello(me.hello("node/a")); }).code(), channel_errc::protocol);
  EXPECT_EQ(catch_channel_error([] { (void)endpoint_credential(""); }).code(), channel_errc::bad_auth);
}

// The channel's hash and id are the store's: a token the store issues authenticates to a
// hub that asks the store, with the credential's grant; a revoked one no longer does.
TEST(Auth, StoreVerifierAuthenticatesTheStoresCredentials) {
  std::filesystem::path dir = store::testing::fresh_dir();
  {
    store::store s(dir);
    std::string t = s.issue_credential("alice", {.scope = "results", .label = "hub"});
    endpoint_credential me(t);
    EXPECT_EQ(me.id(), s.authenticate(t).credential_id());
    EXPECT_EQ(credential_id_of_hash(token_hash(t)), me.id());
    store_verifier v(s);
    hub_handshake hub(v, "hub@test");
    frames::challenge c = hub.on_hello(me.hello("node/a"));
    authenticated who = hub.on_auth(me.respond(c, "node/a"));
    EXPECT_EQ(who.who.principal(), "alice");
    ASSERT_NE(who.who.limits(), nullptr);
    EXPECT_EQ(who.who.limits()->scope, "results");
    EXPECT_EQ(who.who.credential_id(), me.id());

    s.revoke_credential(me.id(), "alice");
    hub_handshake later(v, "hub@test");
    frames::challenge c2 = later.on_hello(me.hello("node/a"));
    auto e = catch_channel_error([&] { (void)later.on_auth(me.respond(c2, "node/a")); });
    EXPECT_EQ(e.code(), channel_errc::bad_auth);
    EXPECT_NE(e.detail().find("unknown, revoked or expired credential"), std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace xgate::channel
