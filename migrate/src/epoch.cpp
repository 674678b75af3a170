// The epoch protocol (node.hpp, "Ownership"): the node's published key, loading a checkpoint
// only when it verifies and is the one its record names, and the single compare-and-set
// batches that create, claim, checkpoint, hand off and end a job.
#include "node_impl.hpp"

#include <array>
#include <cstdio>
#include <random>

namespace xgate::migrate {

namespace {

// The key name in a document's signature element ("" when unsigned or malformed).
std::string signer_of(std::string_view xml) {
  constexpr std::string_view head = "<xg:signature alg=\"ed25519ph\" key=\"";
  std::size_t at = xml.rfind(head);
  if (at == std::string_view::npos) return {};
  std::string_view rest = xml.substr(at + head.size());
  std::size_t end = rest.find('"');
  if (end == std::string_view::npos || end > 200) return {};
  return std::string(rest.substr(0, end));
}

std::string fresh_id() {
  static std::mutex m;
  static std::mt19937_64 gen{std::random_device{}()};
  std::lock_guard lock(m);
  char buf[20];
  std::snprintf(buf, sizeof buf, "j-%016llx", static_cast<unsigned long long>(gen()));
  return buf;
}

log_kind log_kind_of(commit_kind k) {
  switch (k) {
    case commit_kind::checkpoint: return log_kind::checkpoint;
    case commit_kind::suspend: return log_kind::suspended;
    case commit_kind::handoff: return log_kind::moved;
    case commit_kind::done: return log_kind::done;
    case commit_kind::failed: return log_kind::failed;
    case commit_kind::killed: return log_kind::killed;
  }
  return log_kind::checkpoint;
}

}  // namespace

void node::impl::publish_key() {
  verify_key pub = key.public_key();
  std::vector<unsigned char> mine(pub.bytes().begin(), pub.bytes().end());
  for (int attempt = 0; attempt < 8; ++attempt) {
    node_keys k;
    k.node = opt.name;
    store::write_options wo;
    try {
      store::document d = s.read(node_key_name(opt.name));
      k = from_xml<node_keys>(d.xml, {.principal = principal, .document_name = node_key_name(opt.name)});
      if (!k.keys.empty() && k.keys.front() == mine) return;
      wo.expected_revision = d.info.revision;
    } catch (const store::store_error& e) {
      if (e.code() != store::store_errc::not_found) throw;
      wo.expected_revision = 0;
    }
    std::erase(k.keys, mine);
    k.keys.insert(k.keys.begin(), mine);
    try {
      s.write(node_key_name(opt.name), to_xml(k, {.rights = xgate::rights::owned_by(principal).readers({"*"})}), wo);
      return;
    } catch (const store::store_error& e) {
      if (e.code() != store::store_errc::conflict) throw;
    }
  }
}

// The checkpoint the record names, verified with its writer's keys and checked against the record.
std::shared_ptr<checkpoint_header> node::impl::load_checkpoint(const job_record& r, const job_type& t, std::size_t* bytes) {
  const std::string where = checkpoint_name(r.id);
  store::document d;
  try {
    d = s.read(where);
  } catch (const store::store_error& e) {
    if (e.code() != store::store_errc::not_found) throw;
    throw migrate_error(migrate_errc::bad_checkpoint, r.id, where + " is missing");
  }
  if (bytes) *bytes = d.xml.size();
  // Verified with the keys of the node the record says wrote it; failing that, with the
  // keys of the node the signature names, so that a genuine but replayed checkpoint is
  // refused for what it is (an older epoch) rather than as a forgery.
  std::shared_ptr<checkpoint_header> doc;
  std::string failure;
  bool known = false;
  for (const std::string& signer : {r.checkpoint_node, signer_of(d.xml)}) {
    if (signer.empty() || (!failure.empty() && signer == r.checkpoint_node)) continue;
    node_keys keys;
    try {
      store::document k = s.read(node_key_name(signer));
      keys = from_xml<node_keys>(k.xml, {.principal = principal, .document_name = node_key_name(signer)});
      known = true;
    } catch (const store::store_error& e) {
      if (e.code() != store::store_errc::not_found) throw;
      continue;
    }
    for (const auto& bytes32 : keys.keys) {
      if (bytes32.size() != 32) continue;
      std::array<unsigned char, 32> b{};
      std::copy(bytes32.begin(), bytes32.end(), b.begin());
      verify_key vk(signer, b);
      try {
        doc = t.decode(d.xml, {.principal = principal, .verify = &vk, .document_name = where});
        break;
      } catch (const signature_error& e) {
        if (failure.empty()) failure = e.what();
      } catch (const xgate::error& e) {
        throw migrate_error(migrate_errc::bad_checkpoint, r.id, std::string("cannot load the checkpoint: ") + e.what());
      }
    }
    if (doc) break;
  }
  if (!known)
    throw migrate_error(migrate_errc::unknown_node, r.id,
                        where + " was written by node " + q(r.checkpoint_node) + ", whose key the store does not know (" +
                            node_key_name(r.checkpoint_node) + " is missing)");
  if (!doc)
    throw migrate_error(migrate_errc::bad_checkpoint, r.id,
                        "checkpoint refused: it does not verify with the keys of node " + q(r.checkpoint_node) + ": " +
                            failure);
  auto mismatch = [&](const std::string& what) {
    return migrate_error(migrate_errc::bad_checkpoint, r.id, where + " does not belong to the job record: " + what);
  };
  if (doc->job != r.id) throw mismatch("it is a checkpoint of job " + q(doc->job));
  if (doc->type != r.type || doc->version != r.version)
    throw mismatch("it is " + doc->type + " version " + std::to_string(doc->version) + ", the record says " + r.type +
                   " version " + std::to_string(r.version));
  if (doc->epoch != r.epoch)
    throw migrate_error(migrate_errc::stale_epoch, r.id,
                        "checkpoint refused: " + where + " is from epoch " + std::to_string(doc->epoch) +
                            ", the job is at epoch " + std::to_string(r.epoch));
  if (doc->seq != r.checkpoint_seq)
    throw migrate_error(migrate_errc::stale_epoch, r.id,
                        "checkpoint refused: " + where + " is checkpoint " + std::to_string(doc->seq) +
                            ", the job's current one is " + std::to_string(r.checkpoint_seq));
  if (doc->node != r.checkpoint_node) throw mismatch("it names node " + q(doc->node) + " as its writer");
  if (!(doc->rights == r.rights)) throw mismatch("its rights differ from the record's");
  return doc;
}

// Writes the job's record with (for checkpoints) its checkpoint, a log entry and (done)
// its result, in one batch that compares-and-sets the record's revision.
void node::impl::commit(run& r, commit_kind kind, const std::string& to, const std::string& error) {
  const auto now = sysclock::now();
  const auto t0 = steady::now();
  job_record rec = r.record;
  const bool write_checkpoint = kind == commit_kind::checkpoint || kind == commit_kind::suspend || kind == commit_kind::handoff;
  const std::uint64_t epoch = rec.epoch + (kind == commit_kind::handoff ? 1 : 0);
  const xgate::rights rights = store_rights(rec.rights);
  const std::uint64_t steps = r.ctx->steps();
  const double progress = r.ctx->progress();
  std::string checkpoint_xml;
  if (write_checkpoint) {
    checkpoint_header& h = *r.doc;
    h.epoch = epoch;
    h.seq = rec.checkpoint_seq + 1;
    h.node = opt.name;
    h.steps = steps;
    h.progress = progress;
    h.written = now;
    for (auto& [k, v] : r.pending_once) h.once[k] = v;
    r.type->encode(h, checkpoint_xml, {.indent = 0, .rights = rights, .sign = &key});
    rec.checkpoint_seq = h.seq;
    rec.checkpoint_node = opt.name;
    rec.checkpointed = now;
  }
  rec.epoch = epoch;
  rec.steps = steps;
  rec.progress = progress;
  rec.updated = now;
  std::string detail;
  switch (kind) {
    case commit_kind::checkpoint: rec.state = job_state::running; break;
    case commit_kind::suspend: rec.state = job_state::suspended; break;
    case commit_kind::handoff:
      rec.state = job_state::suspended;
      rec.node = to;
      detail = "to " + to;
      break;
    case commit_kind::done: rec.state = job_state::done; break;
    case commit_kind::failed:
      rec.state = job_state::failed;
      rec.error = error;
      detail = error;
      break;
    case commit_kind::killed: rec.state = job_state::killed; break;
  }
  if (write_checkpoint) detail += (detail.empty() ? "" : ", ") + ("checkpoint " + std::to_string(rec.checkpoint_seq) + ", " +
                                                                  std::to_string(checkpoint_xml.size()) + " bytes");
  log_entry e{++rec.log_seq, log_kind_of(kind), opt.name, epoch, steps, detail, now};
  store::batch b;
  const std::size_t bytes = checkpoint_xml.size();
  if (write_checkpoint) b.write(checkpoint_name(r.id), std::move(checkpoint_xml));
  if (kind == commit_kind::done && r.result_xml) {
    rec.has_result = true;
    rec.result_type = r.result_type;
    b.write(result_name(r.id), std::move(*r.result_xml));
    r.result_xml.reset();
  }
  const std::size_t record_index = b.size();
  b.write(job_name(r.id), to_xml(rec, {.indent = 0, .rights = rights}), {.expected_revision = r.record_revision});
  b.write(log_name(r.id, rec.log_seq), to_xml(e, {.indent = 0, .rights = rights}));
  std::vector<store::document_info> infos;
  try {
    infos = s.apply(b);
  } catch (const store::store_error& ex) {
    if (ex.code() != store::store_errc::conflict) throw;
    std::string now_at = "it was changed by another node";
    try {
      auto [cur, rev] = read_record(r.id);
      now_at = "the job is at epoch " + std::to_string(cur.epoch) + " on node " + q(cur.node) + " (" +
               to_string(cur.state) + ")";
    } catch (const std::exception&) {
    }
    throw migrate_error(migrate_errc::stale_epoch, r.id,
                        "checkpoint of node " + q(opt.name) + " refused: " + now_at + ", " + opt.name + " held epoch " +
                            std::to_string(r.record.epoch));
  }
  r.record = std::move(rec);
  r.record_revision = infos[record_index].revision;
  r.pending_once.clear();
  r.force_save = false;
  r.next_save = steady::now() + opt.checkpoint_interval;
  if (write_checkpoint) {
    std::lock_guard lock(m);
    r.last_bytes = bytes;
    ++stats.checkpoints;
    stats.checkpoint_bytes += bytes;
    stats.checkpoint_time += steady::now() - t0;
  }
}

// ---- node: the operations that claim, release or end a job --------------------------------

std::string node::submit(std::string_view type, std::map<std::string, std::string> args, std::string_view principal,
                         submit_options options) {
  impl& n = *impl_;
  // Refusals before the job exists name no fresh id: there is no such job to look up.
  const job_type* t = n.jobs->find(type);
  if (!t)
    throw migrate_error(migrate_errc::unknown_job_type, options.id,
                        "node " + q(n.opt.name) + " does not host job type " + q(type));
  if (t->check_arguments) t->check_arguments(args, options.id, t->name);
  std::string id = options.id.empty() ? fresh_id() : options.id;
  if (principal.empty() || !is_valid_principal(principal))
    throw migrate_error(migrate_errc::access_denied, id, "an anonymous or invalid principal cannot submit jobs");
  const auto now = sysclock::now();
  job_record rec;
  rec.id = id;
  rec.type = t->name;
  rec.version = t->version;
  rec.state = job_state::running;
  rec.node = n.opt.name;
  rec.epoch = 1;
  rec.checkpoint_seq = 1;
  rec.checkpoint_node = n.opt.name;
  rec.rights = options.rights ? *options.rights : job_rights::owned_by(std::string(principal));
  rec.rights.submitter = std::string(principal);
  rec.args = std::move(args);
  rec.log_seq = 1;
  rec.submitted = rec.updated = rec.checkpointed = now;

  std::shared_ptr<checkpoint_header> doc = t->make();
  doc->job = id;
  doc->type = t->name;
  doc->version = t->version;
  doc->epoch = 1;
  doc->seq = 1;
  doc->node = n.opt.name;
  doc->rights = rec.rights;
  doc->args = rec.args;
  doc->written = now;
  const xgate::rights rights = n.store_rights(rec.rights);
  std::string ck;
  t->encode(*doc, ck, {.indent = 0, .rights = rights, .sign = &n.key});
  log_entry e{1, log_kind::submitted, n.opt.name, 1, 0, "by " + std::string(principal), now};
  store::batch b;
  b.write(checkpoint_name(id), std::move(ck), {.expected_revision = 0});
  b.write(job_name(id), to_xml(rec, {.indent = 0, .rights = rights}), {.expected_revision = 0});
  b.write(log_name(id, 1), to_xml(e, {.indent = 0, .rights = rights}));
  std::vector<store::document_info> infos;
  try {
    infos = n.s.apply(b);
  } catch (const store::store_error& ex) {
    if (ex.code() == store::store_errc::conflict)
      throw migrate_error(migrate_errc::wrong_state, id, "a job with this id exists already");
    throw;
  }
  n.start(n.make_run(*t, std::move(doc), std::move(rec), infos[1].revision));
  return id;
}

job_status node::resume(std::string_view id, std::string_view principal, resume_options options) {
  // The record and the checkpoint are read apart: a live owner (force) may checkpoint in
  // between, which shows as a refusal here while the record's revision moved. Then again.
  for (int attempt = 0;; ++attempt) {
    std::uint64_t seen = impl_->read_record(id).second;
    try {
      return resume_once(id, principal, options);
    } catch (const migrate_error& e) {
      if (attempt >= 20 || (e.code() != migrate_errc::stale_epoch && e.code() != migrate_errc::bad_checkpoint) ||
          impl_->read_record(id).second == seen)
        throw;
    }
  }
}

job_status node::resume_once(std::string_view id, std::string_view principal, const resume_options& options) {
  impl& n = *impl_;
  auto [rec, rev] = n.read_record(id);
  n.check_right(rec, principal, xgate::right::write, "resume");
  {
    std::lock_guard lock(n.m);
    if (auto it = n.runs.find(id); it != n.runs.end() && it->second->ended == end_kind::none)
      throw migrate_error(migrate_errc::wrong_state, id, "the job runs on node " + q(n.opt.name) + " already");
  }
  if (options.handed_epoch != 0 &&
      !(rec.state == job_state::suspended && rec.node == n.opt.name && rec.epoch == options.handed_epoch))
    throw migrate_error(migrate_errc::stale_epoch, id,
                        "the job is no longer handed to node " + q(n.opt.name) + " under epoch " +
                            std::to_string(options.handed_epoch) + ": it is " + to_string(rec.state) + " on node " +
                            q(rec.node) + " (epoch " + std::to_string(rec.epoch) + ")");
  if (rec.state == job_state::running && !options.force)
    throw migrate_error(migrate_errc::wrong_state, id,
                        "the job is running on node " + q(rec.node) + " (epoch " + std::to_string(rec.epoch) +
                            "); take it over with force only when that node is dead");
  if (rec.state != job_state::running && rec.state != job_state::suspended)
    throw migrate_error(migrate_errc::wrong_state, id, std::string("the job is ") + to_string(rec.state));
  const job_type& t = n.jobs->accept(rec.type, rec.version, id, n.opt.name);
  std::shared_ptr<checkpoint_header> doc = n.load_checkpoint(rec, t, nullptr);
  const bool handed_here = rec.state == job_state::suspended && rec.node == n.opt.name && rec.checkpoint_node != n.opt.name;
  const auto now = sysclock::now();
  const std::string from = rec.node;
  // Handed to this node: the handoff bumped the epoch already. Anything else is a new owner.
  if (!(rec.state == job_state::suspended && rec.node == n.opt.name)) ++rec.epoch;
  rec.state = job_state::running;
  rec.node = n.opt.name;
  rec.version = t.version;
  rec.updated = now;
  log_entry e{++rec.log_seq, log_kind::resumed, n.opt.name, rec.epoch, rec.steps,
              handed_here ? "from " + rec.checkpoint_node
                          : "from checkpoint " + std::to_string(rec.checkpoint_seq) + " of node " + rec.checkpoint_node +
                                (options.force ? " (taken over from " + from + ")" : ""),
              now};
  const xgate::rights rights = n.store_rights(rec.rights);
  store::batch b;
  b.write(job_name(id), to_xml(rec, {.indent = 0, .rights = rights}), {.expected_revision = rev});
  b.write(log_name(id, rec.log_seq), to_xml(e, {.indent = 0, .rights = rights}));
  std::vector<store::document_info> infos;
  try {
    infos = n.s.apply(b);
  } catch (const store::store_error& ex) {
    if (ex.code() != store::store_errc::conflict) throw;
    throw migrate_error(migrate_errc::stale_epoch, id, "another node took the job while node " + q(n.opt.name) + " resumed it");
  }
  // The state's version is this node's from now on (an upgrade ran while decoding).
  doc->version = t.version;
  job_status st = n.status_of(rec);
  n.start(n.make_run(t, std::move(doc), std::move(rec), infos[0].revision));
  return st;
}

job_status node::suspend(std::string_view id, std::string_view principal) {
  impl& n = *impl_;
  auto [rec, rev] = n.read_record(id);
  n.check_right(rec, principal, xgate::right::write, "suspend");
  n.request_and_wait(id, request_kind::suspend);
  return n.status_of(n.read_record(id).first);
}

job_status node::handoff(std::string_view id, std::string_view to, std::string_view principal) {
  impl& n = *impl_;
  auto [rec, rev] = n.read_record(id);
  n.check_right(rec, principal, xgate::right::write, "move");
  if (to == n.opt.name) throw migrate_error(migrate_errc::wrong_state, id, "the job runs on node " + q(to) + " already");
  try {
    n.s.info(node_key_name(to));
  } catch (const store::store_error& e) {
    if (e.code() != store::store_errc::not_found) throw;
    throw migrate_error(migrate_errc::unknown_node, id, "no node " + q(to) + " (" + node_key_name(to) + " is missing)");
  }
  n.request_and_wait(id, request_kind::handoff, std::string(to));
  return n.status_of(n.read_record(id).first);
}

move_report node::move(std::string_view id, node& to, std::string_view principal) {
  impl& n = *impl_;
  auto [rec, rev] = n.read_record(id);
  n.check_right(rec, principal, xgate::right::write, "move");
  if (&to == this) throw migrate_error(migrate_errc::wrong_state, id, "the job runs on node " + q(name()) + " already");
  std::shared_ptr<run> r = n.hosted(id);
  // Refused before the job is touched: it keeps running here.
  to.jobs().accept(rec.type, rec.version, id, to.name());
  n.request_and_wait(id, request_kind::handoff, to.name());
  move_report m;
  m.id = std::string(id);
  m.from = name();
  m.to = to.name();
  steady::time_point stopped;
  {
    std::lock_guard lock(n.m);
    stopped = r->stopped_at;
    m.checkpoint_bytes = r->last_bytes;
  }
  job_status st = to.resume(id, principal);
  m.epoch = st.epoch;
  impl& b = *to.impl_;
  std::unique_lock lock(b.m);
  auto it = b.runs.find(id);
  b.cv.wait(lock, [&] { return it->second->started || it->second->ended != end_kind::none; });
  m.downtime = std::chrono::duration_cast<std::chrono::nanoseconds>(it->second->started_at - stopped);
  return m;
}

job_status node::kill(std::string_view id, std::string_view principal) {
  impl& n = *impl_;
  auto [rec, rev] = n.read_record(id);
  n.check_right(rec, principal, xgate::right::write, "kill");
  if (rec.state == job_state::running && rec.node == n.opt.name) {
    n.request_and_wait(id, request_kind::kill);
    return n.status_of(n.read_record(id).first);
  }
  if (rec.state != job_state::suspended)
    throw migrate_error(migrate_errc::wrong_state, id,
                        std::string("the job is ") + to_string(rec.state) +
                            (rec.state == job_state::running ? " on node " + q(rec.node) + "; kill it there" : ""));
  // A suspended job is killed by its record alone.
  rec.state = job_state::killed;
  rec.updated = sysclock::now();
  log_entry e{++rec.log_seq, log_kind::killed, n.opt.name, rec.epoch, rec.steps, "while suspended", rec.updated};
  const xgate::rights rights = n.store_rights(rec.rights);
  store::batch b;
  b.write(job_name(id), to_xml(rec, {.indent = 0, .rights = rights}), {.expected_revision = rev});
  b.write(log_name(id, rec.log_seq), to_xml(e, {.indent = 0, .rights = rights}));
  n.s.apply(b);
  return n.status_of(rec);
}

}  // namespace xgate::migrate
