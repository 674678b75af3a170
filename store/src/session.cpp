#include <xgate/store/session.hpp>

#include "store_impl.hpp"


namespace xgate::store {

namespace {

class local final : public session {
 public:
  local(store& s, caller who) : store_(s), who_(std::move(who)) {}

  std::string address() const override { return store_.address(); }
  std::string principal() override { return who_.principal(); }

  document_info write(std::string_view name, std::string_view xml, const write_options& options) override {
    return store_.write(name, xml, who_, options);
  }
  document read(std::string_view name) override { return store_.read(name, who_); }
  document_info info(std::string_view name) override { return store_.info(name, who_); }
  void remove(std::string_view name, std::optional<std::uint64_t> expected_revision) override {
    store_.remove(name, who_, expected_revision);
  }
  document take(std::string_view name) override { return store_.take(name, who_); }
  std::vector<document_info> list(std::string_view prefix) override { return store_.list(prefix, who_); }
  list_page list(std::string_view prefix, const list_options& options) override { return store_.list(prefix, who_, options); }
  void add_index(std::string_view id, std::string_view prefix, std::string_view expression) override {
    store_.add_index(id, prefix, expression, who_);
  }
  void remove_index(std::string_view id) override { store_.remove_index(id, who_); }
  std::vector<index_info> indexes() override { return store_.indexes(); }
  std::vector<query_match> query(std::string_view prefix, std::string_view xpath) override {
    return store_.query(prefix, xpath, who_);
  }
  query_page query(std::string_view prefix, std::string_view xpath, std::size_t limit, std::string_view cursor) override {
    query_page page;
    query_options o;
    o.limit = limit;
    o.cursor = std::string(cursor);
    query_end end = store_.query(prefix, xpath, who_, o, gather_matches(page.matches));
    page.revision = end.revision;
    page.next = std::move(end.next);
    return page;
  }
  std::vector<document_info> apply(const batch& b) override { return store_.apply(b, who_); }
  std::vector<change> watch(std::string_view prefix, std::uint64_t after, std::chrono::milliseconds timeout) override {
    return store_.watch(prefix, after, who_, timeout);
  }
  std::uint64_t revision() override { return store_.revision(); }
  document_info renew_lease(std::string_view name, clock::duration ttl) override {
    return store_.renew_lease(name, who_, ttl);
  }
  document_info cancel_lease(std::string_view name) override { return store_.cancel_lease(name, who_); }
  std::string issue_credential(const credential_request& request) override {
    return store_.issue_credential(who_, request);
  }
  std::vector<credential_info> credentials() override { return store_.credentials(who_); }
  void revoke_credential(std::string_view id) override { store_.revoke_credential(id, who_); }

 private:
  store& store_;
  caller who_;
};

}  // namespace

std::unique_ptr<session> local_session(store& s, caller who) { return std::make_unique<local>(s, std::move(who)); }

}  // namespace xgate::store
