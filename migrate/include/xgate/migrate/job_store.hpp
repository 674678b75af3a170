// What the runtime needs from a store: a session (reads, writes, lists, credentials) and
// atomic batches, which store::session does not offer yet. Today: a store opened in the
// process. The node daemon reaching xgated needs session::apply (and an HTTP endpoint for
// it); then this becomes a plain session.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <xgate/store/session.hpp>
#include <xgate/store/store.hpp>

namespace xgate::migrate {

class job_store {
 public:
  virtual ~job_store() = default;
  virtual store::session& session() = 0;
  // All operations of b in one transaction, as session().principal().
  virtual std::vector<store::document_info> apply(const store::batch& b) = 0;
};

// On a store opened in this process, acting as principal (the runtime's principal: every
// node of a cluster acts as the same one; checkpoints say which node wrote them by their
// signature). The store must outlive it.
std::unique_ptr<job_store> local_job_store(store::store& s, std::string principal = "xgate-migrate");

}  // namespace xgate::migrate
