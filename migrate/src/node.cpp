// The node's records: the rights of its documents, reading a job's record and checking the
// caller's right, a job's status; and the node's operations that only read.
#include "node_impl.hpp"

#include <algorithm>

namespace xgate::migrate {

node::impl::impl(job_store& store, node_options o)
    : s(store),
      principal(store.principal()),
      opt(checked(std::move(o))),
      key(opt.key ? *opt.key : signing_key::generate(opt.name)),
      jobs(opt.jobs ? opt.jobs : &job_registry::global()) {
  if (opt.workers == 0) opt.workers = 1;
}

// Before the key is made from the name (which has its own, less telling, rules).
node_options node::impl::checked(node_options o) {
  if (!is_valid_principal(o.name) || o.name.empty() || o.name.find('/') != std::string::npos)
    throw migrate_error(migrate_errc::bad_argument, "", "bad node name " + q(o.name));
  return o;
}

// Rights of the runtime's documents about a job: the runtime owns them; the job's readers
// may read them.
xgate::rights node::impl::store_rights(const job_rights& r) const {
  xgate::rights out = xgate::rights::owned_by(principal);
  out.read = {"creator"};
  for (const std::string& p : r.read) out.read.push_back(p == "creator" ? r.submitter : p);
  for (const std::string& p : r.write) out.read.push_back(p == "creator" ? r.submitter : p);
  std::sort(out.read.begin() + 1, out.read.end());
  out.read.erase(std::unique(out.read.begin() + 1, out.read.end()), out.read.end());
  return out;
}

std::pair<job_record, std::uint64_t> node::impl::read_record(std::string_view id) {
  try {
    store::document d = s.read(job_name(id));
    return {from_xml<job_record>(d.xml, {.principal = principal, .document_name = job_name(id)}), d.info.revision};
  } catch (const store::store_error& e) {
    if (e.code() == store::store_errc::not_found) throw migrate_error(migrate_errc::unknown_job, id, "no such job");
    throw;
  }
}

void node::impl::check_right(const job_record& r, std::string_view who, xgate::right right, std::string_view what) {
  if (!r.rights.allows(who, right))
    throw migrate_error(migrate_errc::access_denied, r.id,
                        "principal " + q(who) + " lacks the " + to_string(right) + " right to " + std::string(what) +
                            " it (submitted by " + q(r.rights.submitter) + ")");
}

job_status node::impl::status_of(const job_record& r) {
  job_status st;
  st.id = r.id;
  st.type = r.type;
  st.version = r.version;
  st.state = r.state;
  st.node = r.node;
  st.epoch = r.epoch;
  st.steps = r.steps;
  st.progress = r.progress;
  st.submitter = r.rights.submitter;
  st.submitted = r.submitted;
  st.last_checkpoint = r.checkpointed;
  st.has_result = r.has_result;
  st.error = r.error;
  std::lock_guard lock(m);
  if (auto it = runs.find(r.id); it != runs.end() && it->second->ended == end_kind::none && r.node == opt.name &&
                                  r.state == job_state::running)
    st.progress = it->second->ctx->progress();
  return st;
}

// ---- node: what only reads the records ----------------------------------------------------

const std::string& node::name() const noexcept { return impl_->opt.name; }
verify_key node::public_key() const { return impl_->key.public_key(); }
const job_registry& node::jobs() const noexcept { return *impl_->jobs; }

job_status node::status(std::string_view id, std::string_view principal) {
  impl& n = *impl_;
  job_record rec = n.read_record(id).first;
  n.check_right(rec, principal, xgate::right::read, "see");
  return n.status_of(rec);
}

std::vector<job_status> node::list(std::string_view principal) {
  impl& n = *impl_;
  std::vector<job_status> out;
  for (const store::document_info& d : n.s.list("jobs")) {
    std::string_view rest = std::string_view(d.name).substr(5);
    if (rest.find('/') != std::string_view::npos) continue;  // checkpoints, results, logs
    try {
      job_record rec = n.read_record(rest).first;
      if (rec.rights.allows(principal, xgate::right::read)) out.push_back(n.status_of(rec));
    } catch (const migrate_error&) {
      // removed meanwhile
    }
  }
  return out;
}

job_status node::wait(std::string_view id, std::string_view principal, std::chrono::milliseconds timeout) {
  impl& n = *impl_;
  job_record rec = n.read_record(id).first;
  n.check_right(rec, principal, xgate::right::read, "see");
  std::shared_ptr<run> r;
  {
    std::unique_lock lock(n.m);
    auto it = n.runs.find(id);
    if (it != n.runs.end()) {
      r = it->second;
      n.cv.wait_for(lock, timeout, [&] { return r->ended != end_kind::none; });
      if (r->ended == end_kind::stale) throw migrate_error(migrate_errc::stale_epoch, id, r->error);
    }
  }
  return n.status_of(n.read_record(id).first);
}

results::result_ref node::result(std::string_view id, std::string_view principal, results::grant_options grant) {
  impl& n = *impl_;
  job_record rec = n.read_record(id).first;
  n.check_right(rec, principal, xgate::right::read, "read the result of");
  // A job that failed or was killed will never have one: that is the job's failure, not a
  // state to wait out.
  if (rec.state == job_state::failed || rec.state == job_state::killed)
    throw migrate_error(migrate_errc::job_failed, id,
                        std::string("the job has no result: it ") + (rec.state == job_state::failed ? "failed: " + rec.error : "was killed"));
  if (rec.state != job_state::done || !rec.has_result)
    throw migrate_error(migrate_errc::wrong_state, id,
                        std::string("the job has no result (it is ") + to_string(rec.state) + ")");
  if (grant.label.empty()) grant.label = "result of job " + std::string(id) + " for " + std::string(principal);
  return results::reference(n.s, result_name(id), grant, rec.result_type);
}

std::vector<log_entry> node::log(std::string_view id, std::string_view principal) {
  impl& n = *impl_;
  job_record rec = n.read_record(id).first;
  n.check_right(rec, principal, xgate::right::read, "read the log of");
  std::vector<log_entry> out;
  for (const store::document_info& d : n.s.list(log_prefix(id))) {
    store::document doc = n.s.read(d.name);
    out.push_back(from_xml<log_entry>(doc.xml, {.principal = n.principal, .document_name = d.name}));
  }
  return out;
}

}  // namespace xgate::migrate
