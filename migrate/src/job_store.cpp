#include <xgate/migrate/job_store.hpp>

namespace xgate::migrate {

namespace {
class local final : public job_store {
 public:
  local(store::store& s, std::string principal) : store_(s), principal_(principal), session_(store::local_session(s, principal)) {}
  store::session& session() override { return *session_; }
  std::vector<store::document_info> apply(const store::batch& b) override { return store_.apply(b, principal_); }

 private:
  store::store& store_;
  std::string principal_;
  std::unique_ptr<store::session> session_;
};
}  // namespace

std::unique_ptr<job_store> local_job_store(store::store& s, std::string principal) {
  return std::make_unique<local>(s, std::move(principal));
}

}  // namespace xgate::migrate
