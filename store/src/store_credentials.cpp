// The store's rules for credentials: issuing within the issuer's grant, chains that hold
// only while every link holds, listing and revoking a principal's own.
#include <xgate/store/store.hpp>
#include <xgate/base/text.hpp>

#include <algorithm>

#include "store_impl.hpp"
#include "tokens.hpp"

namespace xgate::store {

namespace {

// A credential that stands for a caller now, or the reason it does not.
struct holding {
  std::optional<credential_record> record;
  std::string refusal;
};

// Whether the credential id stands for a caller now: it exists, and neither it nor any
// credential it was issued through is expired or revoked.
holding check_holding(const read_transaction& t, const std::string& id) {
  std::optional<credential_record> c = t.credential(id);
  if (!c) return {std::nullopt, "unknown or revoked token"};
  clock::time_point now = clock::now();
  if (c->info.granted.expires && *c->info.granted.expires <= now) return {std::nullopt, "credential " + id + " expired"};
  // A child holds only while every credential it was issued through holds. Ids are
  // fresh random values, so the chain cannot loop; the bound is a guard all the same.
  std::string parent = c->info.parent;
  for (int depth = 0; !parent.empty(); ++depth) {
    std::optional<credential_record> p = t.credential(parent);
    if (!p || depth > 64) return {std::nullopt, "credential " + id + " was issued through a revoked credential"};
    if (p->info.granted.expires && *p->info.granted.expires <= now)
      return {std::nullopt, "credential " + id + " was issued through an expired credential"};
    parent = p->info.parent;
  }
  return {std::move(c), {}};
}

// Whether c is id or was issued (directly or not) through id.
bool descends_from(const credential_record& c, std::string_view id, const std::vector<credential_record>& all) {
  std::string_view at = c.info.id;
  for (std::size_t depth = 0; depth <= all.size(); ++depth) {
    if (at == id) return true;
    auto parent = std::find_if(all.begin(), all.end(), [&](const credential_record& r) { return r.info.id == at; });
    if (parent == all.end() || parent->info.parent.empty()) return false;
    at = parent->info.parent;
  }
  return false;
}

}  // namespace

std::string store::issue_credential(const caller& who, const credential_request& request) {
  constexpr std::string_view op = "issue credential";
  std::string_view scope = check_prefix(op, request.scope);
  if (!is_valid_principal(who.principal())) throw xgate::access_denied(who.principal(), std::string(op), std::string(scope));
  if (request.rights.empty()) throw store_error(store_errc::bad_credential, op, scope, "a credential needs at least one right");
  if (request.ttl && *request.ttl <= clock::duration::zero())
    throw store_error(store_errc::bad_credential, op, scope, "a credential's time to live must be positive");
  credential_record c;
  c.info.issued = clock::now();
  c.info.label = request.label;
  for (const std::string& m : request.methods)
    if (!is_valid_method(m))
      throw store_error(store_errc::bad_credential, op, scope,
                        "method \"" + xgate::printable(m) + "\" is not 1..64 bytes of [A-Za-z0-9._-]");
  c.info.granted = grant{who.principal(), std::string(scope), request.subtree, request.rights, std::nullopt, request.methods};
  std::vector<std::string>& methods = c.info.granted.methods;
  std::sort(methods.begin(), methods.end());
  methods.erase(std::unique(methods.begin(), methods.end()), methods.end());
  if (request.ttl) c.info.granted.expires = c.info.issued + *request.ttl;
  if (const grant* parent = who.limits()) {
    if (!request.ttl) c.info.granted.expires = parent->expires;  // a child never outlives its parent
    if (methods.empty()) methods = parent->methods;             // nor does more than it
    if (!c.info.granted.within(*parent)) throw xgate::access_denied(who.principal(), std::string(op), std::string(scope));
    c.info.parent = who.credential_id();
  }
  std::string token = tokens::make();
  c.hash = token_hash(token);
  c.info.id = credential_id_of_hash(c.hash);
  impl_->write(op, scope, [&](write_transaction& t) {
    if (!c.info.parent.empty() && !t.credential(c.info.parent))
      throw store_error(store_errc::bad_credential, op, scope, "the credential it would be issued through was revoked");
    if (!t.insert_credential(c))
      throw store_error(store_errc::bad_credential, op, scope, "credential id collision; issue again");
  });
  return token;
}

caller store::authenticate(std::string_view token) const {
  constexpr std::string_view op = "authenticate";
  // Messages never quote the token: they end up in logs.
  if (!token.starts_with(tokens::prefix)) throw store_error(store_errc::bad_credential, op, "", "not an xgate token");
  std::string hash = token_hash(token);
  std::string id = credential_id_of_hash(hash);
  return impl_->read(op, "", [&](const read_transaction& t) {
    holding h = check_holding(t, id);
    if (h.record && !tokens::same(h.record->hash, hash)) h = {std::nullopt, "unknown or revoked token"};
    if (!h.record) throw store_error(store_errc::bad_credential, op, "", h.refusal);
    return caller(id, std::move(h.record->info.granted));
  });
}

std::optional<credential_key> store::credential_key_of(std::string_view id) const {
  std::string key(id);
  return impl_->read("credential key", "", [&](const read_transaction& t) -> std::optional<credential_key> {
    holding h = check_holding(t, key);
    if (!h.record) return std::nullopt;
    return credential_key{std::move(h.record->hash), caller(key, std::move(h.record->info.granted))};
  });
}

std::vector<credential_info> store::credentials(const caller& who) const {
  return impl_->read("list credentials", "", [&](const read_transaction& t) {
    std::vector<credential_record> all = t.credentials();
    std::vector<credential_info> out;
    for (const credential_record& c : all)
      if (c.info.granted.principal == who.principal() && (!who.limits() || descends_from(c, who.credential_id(), all)))
        out.push_back(c.info);
    return out;
  });
}

void store::revoke_credential(std::string_view id, const caller& who) {
  constexpr std::string_view op = "revoke credential";
  impl_->write(op, id, [&](write_transaction& t) {
    std::vector<credential_record> all = t.credentials();
    auto target = std::find_if(all.begin(), all.end(), [&](const credential_record& c) { return c.info.id == id; });
    if (target == all.end() || target->info.granted.principal != who.principal() ||
        (who.limits() && !descends_from(*target, who.credential_id(), all)))
      throw store_error(store_errc::not_found, op, id, "no such credential of \"" + printable(who.principal()) + "\"");
    // Children would fail authenticate() anyway; removing them keeps listings honest.
    for (const credential_record& c : all)
      if (descends_from(c, id, all)) t.erase_credential(c.info.id);
  });
  impl_->revocations.fetch_add(1, std::memory_order_release);
}

std::uint64_t store::revocations() const noexcept { return impl_->revocations.load(std::memory_order_acquire); }

}  // namespace xgate::store
