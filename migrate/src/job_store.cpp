#include <xgate/migrate/job_store.hpp>

#include <mutex>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace xgate::migrate {

namespace {
// A thread-safe session over a pool of sessions that are not.
class pool final : public store::session {
 public:
  pool(std::function<std::unique_ptr<store::session>()> open, std::size_t max_idle)
      : open_(std::move(open)), max_idle_(max_idle == 0 ? 1 : max_idle) {
    std::unique_ptr<store::session> first = open_();
    if (!first) throw std::invalid_argument("pooled_job_store: the opener gave no session");
    address_ = first->address();
    principal_ = first->principal();  // asks the store: a bad token fails here
    idle_.push_back(std::move(first));
  }

  std::string address() const override { return address_; }
  std::string principal() override { return principal_; }
  store::document_info write(std::string_view name, std::string_view xml, const store::write_options& o) override {
    return with([&](store::session& s) { return s.write(name, xml, o); });
  }
  store::document read(std::string_view name) override {
    return with([&](store::session& s) { return s.read(name); });
  }
  store::document_info info(std::string_view name) override {
    return with([&](store::session& s) { return s.info(name); });
  }
  void remove(std::string_view name, std::optional<std::uint64_t> expected) override {
    with([&](store::session& s) { s.remove(name, expected); return 0; });
  }
  store::document take(std::string_view name) override {
    return with([&](store::session& s) { return s.take(name); });
  }
  std::vector<store::document_info> list(std::string_view prefix) override {
    return with([&](store::session& s) { return s.list(prefix); });
  }
  store::list_page list(std::string_view prefix, const store::list_options& options) override {
    return with([&](store::session& s) { return s.list(prefix, options); });
  }
  std::vector<store::query_match> query(std::string_view prefix, std::string_view xpath) override {
    return with([&](store::session& s) { return s.query(prefix, xpath); });
  }
  void add_index(std::string_view id, std::string_view prefix, std::string_view expression) override {
    with([&](store::session& s) { s.add_index(id, prefix, expression); return 0; });
  }
  void remove_index(std::string_view id) override {
    with([&](store::session& s) { s.remove_index(id); return 0; });
  }
  std::vector<store::index_info> indexes() override {
    return with([&](store::session& s) { return s.indexes(); });
  }
  store::query_page query(std::string_view prefix, std::string_view xpath, std::size_t limit, std::string_view cursor) override {
    return with([&](store::session& s) { return s.query(prefix, xpath, limit, cursor); });
  }
  std::vector<store::document_info> apply(const store::batch& b) override {
    return with([&](store::session& s) { return s.apply(b); });
  }
  std::vector<store::change> watch(std::string_view prefix, std::uint64_t after, std::chrono::milliseconds timeout) override {
    return with([&](store::session& s) { return s.watch(prefix, after, timeout); });
  }
  std::uint64_t revision() override {
    return with([&](store::session& s) { return s.revision(); });
  }
  store::document_info renew_lease(std::string_view name, store::clock::duration ttl) override {
    return with([&](store::session& s) { return s.renew_lease(name, ttl); });
  }
  store::document_info cancel_lease(std::string_view name) override {
    return with([&](store::session& s) { return s.cancel_lease(name); });
  }
  std::string issue_credential(const store::credential_request& r) override {
    return with([&](store::session& s) { return s.issue_credential(r); });
  }
  std::vector<store::credential_info> credentials() override {
    return with([&](store::session& s) { return s.credentials(); });
  }
  void revoke_credential(std::string_view id) override {
    with([&](store::session& s) {
      s.revoke_credential(id);
      return true;  // with() hands on a value
    });
  }

 private:
  template <class F>
  std::invoke_result_t<F&, store::session&> with(F&& f) {
    std::unique_ptr<store::session> s;
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        s = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!s) s = open_();
    try {
      auto out = f(*s);
      give_back(std::move(s));
      return out;
    } catch (const store::store_error&) {
      give_back(std::move(s));  // the store answered: the connection is fine
      throw;
    } catch (const xgate::access_denied&) {
      give_back(std::move(s));
      throw;
    }
    // Anything else (the connection, a timeout) drops the session with the exception.
  }
  void give_back(std::unique_ptr<store::session> s) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < max_idle_) idle_.push_back(std::move(s));
  }

  std::function<std::unique_ptr<store::session>()> open_;
  std::size_t max_idle_;
  std::string address_, principal_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<store::session>> idle_;
};

}  // namespace

std::unique_ptr<job_store> local_job_store(store::store& s, std::string principal) {
  return store::local_session(s, std::move(principal));
}

std::unique_ptr<store::session> pooled_session(std::function<std::unique_ptr<store::session>()> open, std::size_t max_idle) {
  return std::make_unique<pool>(std::move(open), max_idle);
}

}  // namespace xgate::migrate
