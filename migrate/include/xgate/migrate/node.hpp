// A node hosts jobs: it runs their bodies on worker threads, checkpoints them into the store,
// and suspends, resumes, moves and kills them. Every operation takes the principal asking
// (the job's rights decide: read to see a job, write to change it) and names the job by id,
// so the channel-driven daemon can call the same operations from messages.
//
// Ownership. The job record (jobs/ID) carries an epoch. Only the node holding the current
// epoch runs and checkpoints a job: each checkpoint is one store batch that
// compares-and-sets the record's revision, so once another node has taken the job (a
// resume bumps the epoch), the old owner's next checkpoint is refused and it stops the job
// (migrate_errc::stale_epoch). A move is: the job stops at its next safe point on A, A
// writes its checkpoint with the record "suspended, handed to B, epoch+1" in one batch, and
// B loads, verifies and resumes it.
//
// Checkpoints are signed with the node's key; its public key is published under
// nodes/NAME/key and every load verifies the signature with the writer's keys, then checks
// that the checkpoint is the one the record names (job, epoch, sequence number, rights).
//
// Errors: refusals are migrate_error (error.hpp), with the codes each operation lists
// below; every operation taking a job id also throws unknown_job (no such job) and
// access_denied (the principal lacks the right). A failing store passes through as
// store::store_error (or xgate::access_denied when it refuses the runtime's principal).
//
//   xgate::store::store st("data");
//   auto js = xgate::migrate::local_job_store(st);
//   xgate::migrate::node a(*js, {.name = "A"}), b(*js, {.name = "B"});
//   std::string id = a.submit("word-count", {{"input", "in.txt"}, {"output", "out.txt"}}, "alice");
//   auto m = a.move(id, b, "alice");          // m.downtime
//   b.wait(id, "alice");
//   auto ref = b.result(id, "alice");         // a results::result_ref to jobs/ID/result
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <xgate/migrate/error.hpp>
#include <xgate/migrate/job.hpp>
#include <xgate/migrate/job_store.hpp>
#include <xgate/migrate/records.hpp>
#include <xgate/results/results.hpp>
#include <xgate/xmlcodec/signing.hpp>

namespace xgate::migrate {

struct node_options {
  std::string name;                    // the node's name (a principal name: no spaces or quotes)
  std::optional<signing_key> key;      // signs its checkpoints; unset: a fresh key named after the node
  const job_registry* jobs = nullptr;  // the job types it hosts; nullptr: job_registry::global()
  unsigned workers = 2;                // threads running job bodies (each runs several jobs, in turn)
  // A safe point saves when this long has passed since the last save (save::now, pending
  // once results and suspend/move requests save at once).
  std::chrono::milliseconds checkpoint_interval{1000};
  // A job yields its worker at a safe point after this long when other jobs wait for it.
  std::chrono::milliseconds time_slice{20};
  std::size_t stack_size = std::size_t{512} << 10;  // each job's fiber stack, plus a guard page
};

struct job_status {
  std::string id, type;
  unsigned version = 1;
  job_state state = job_state::running;
  std::string node;         // running: its owner; suspended: where it was handed or left
  std::uint64_t epoch = 0;
  std::uint64_t steps = 0;  // at the last checkpoint
  double progress = 0;      // live when the job runs on the node asked
  std::string submitter;
  std::chrono::system_clock::time_point submitted, last_checkpoint;
  bool has_result = false;
  std::string error;        // failed jobs: why
};

struct move_report {
  std::string id, from, to;
  std::uint64_t epoch = 0;              // the epoch the job runs under on `to`
  std::chrono::nanoseconds downtime{};  // from the safe point on `from` to the body running on `to`
  std::size_t checkpoint_bytes = 0;
};

// What a node has done since it started, for its operators (migrate node --metrics).
struct node_stats {
  std::size_t running = 0;            // jobs whose body runs here now
  std::uint64_t started = 0;          // bodies started here (submitted or resumed)
  std::uint64_t done = 0, failed = 0, suspended = 0, moved = 0, killed = 0;  // ended here, by how
  std::uint64_t lost = 0;             // stopped unsaved: another node took the job, or this node stopped
  std::uint64_t checkpoints = 0;      // checkpoints committed (periodic, suspend, move)
  std::uint64_t checkpoint_bytes = 0;
  std::chrono::nanoseconds checkpoint_time{0};  // encoding, signing and committing them
};

struct submit_options {
  std::optional<job_rights> rights;  // unset: job_rights::owned_by(principal)
  std::string id;                    // "" = a fresh random id
};

struct resume_options {
  // Take over a job whose record says it runs on another node: only when that node is
  // dead (a live one is stopped at its next checkpoint, but may run until then).
  bool force = false;
  // Nonzero: only a job handed to this node under this epoch (the resume a move asks of its
  // target). A move that gave up and took the job back has moved the epoch on, so a late
  // resume here is refused (stale_epoch) instead of taking the job over.
  std::uint64_t handed_epoch = 0;
};

class node {
 public:
  // Publishes the node's public key under nodes/NAME/key and starts its workers. The
  // session (job_store.hpp) is shared by the node's threads and must outlive it.
  // migrate_error(bad_argument) for a name that is not a principal name or holds a '/'.
  node(job_store& store, node_options options);
  // As if the node crashed: its jobs stop at their next safe point WITHOUT saving (their
  // records still name this node); another node resumes them with resume_options::force.
  // Suspend them first for a clean stop.
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  [[nodiscard]] const std::string& name() const noexcept;
  [[nodiscard]] verify_key public_key() const;
  [[nodiscard]] const job_registry& jobs() const noexcept;

  // Starts a job here: its record and an initial checkpoint (the default state) are written
  // in one batch, then its body runs. Returns the id. migrate_error: unknown_job_type,
  // bad_argument (the type declares its arguments and one is unknown or malformed),
  // access_denied (an anonymous or invalid principal), wrong_state (options.id is taken).
  [[nodiscard]] std::string submit(std::string_view type, std::map<std::string, std::string> args, std::string_view principal,
                     submit_options options = {});
  // Stops the job at its next safe point and saves it; returns once saved. migrate_error:
  // not_here, wrong_state (another suspend, move or kill is in progress), stale_epoch
  // (another node took the job: this one stopped it unsaved).
  job_status suspend(std::string_view id, std::string_view principal);
  // Runs a suspended job here from its last checkpoint (or, with force, one whose node died).
  // migrate_error: wrong_state (it runs here already, runs elsewhere without force, or has
  // ended), stale_epoch (no longer handed here under options.handed_epoch, or another node
  // took it meanwhile), unknown_job_type / incompatible_version (this node cannot run its
  // checkpoint), bad_checkpoint (it does not verify or belong to the record), unknown_node
  // (the store has no key of the checkpoint's writer).
  job_status resume(std::string_view id, std::string_view principal, resume_options options = {});
  // Moves a job running here to `to` (in-process): refused before the job is touched when
  // `to` lacks the type or version; otherwise suspend → handoff(to) → to.resume. Returns
  // once the body runs on `to`. migrate_error: wrong_state (to is this node), not_here,
  // unknown_job_type / incompatible_version (to cannot run it; the job keeps running here),
  // and what suspend() and to.resume() throw.
  move_report move(std::string_view id, node& to, std::string_view principal);
  // The first half of a move, for a daemon: stops the job at its next safe point and writes
  // its checkpoint with the record handed to node `to` under a new epoch. Returns the
  // record's state; `to` then calls resume(). migrate_error: unknown_node (the store holds
  // no key for `to`), wrong_state (to is this node), and what suspend() throws.
  job_status handoff(std::string_view id, std::string_view to, std::string_view principal);
  // Suspends every job running here (the node's own clean stop: no principal asks).
  void suspend_all();
  // Stops the job (at its next safe point) and marks it killed; its checkpoint stays.
  // migrate_error(wrong_state) when it neither runs here nor is suspended.
  job_status kill(std::string_view id, std::string_view principal);

  [[nodiscard]] job_status status(std::string_view id, std::string_view principal);
  [[nodiscard]] std::vector<job_status> list(std::string_view principal);  // the jobs principal may read
  // Waits until the job no longer runs on this node (done, failed, suspended, moved,
  // killed), or timeout; returns its status. migrate_error(stale_epoch) when this node lost
  // the job to another (its checkpoint was refused).
  job_status wait(std::string_view id, std::string_view principal,
                  std::chrono::milliseconds timeout = std::chrono::minutes(10));
  // A reference to a done job's result (a credential reading jobs/ID/result).
  // migrate_error: job_failed when the job failed or was killed, wrong_state when it has not
  // ended yet or ended without a result.
  [[nodiscard]] results::result_ref result(std::string_view id, std::string_view principal, results::grant_options grant = {});
  [[nodiscard]] std::vector<log_entry> log(std::string_view id, std::string_view principal);
  [[nodiscard]] std::vector<std::string> hosted() const;  // ids of the jobs running here
  [[nodiscard]] node_stats stats() const;

  // For a daemon measuring a move across processes: when the job last stopped at a safe
  // point on this node for a suspend or handoff (nullopt when it never did here).
  [[nodiscard]] std::optional<std::chrono::steady_clock::time_point> stopped_at(std::string_view id) const;
  // Waits until the job's body runs on this node (after resume), or it ended, or timeout;
  // true when it runs (or ran) here.
  bool wait_started(std::string_view id, std::chrono::milliseconds timeout);
  // For a submitter that wants a bad argument refused at once (migrate run): waits until the
  // job's body reached its first safe point (bodies read their arguments at the top, before
  // it) or ended, or timeout. migrate_error(bad_argument) naming the argument when the body
  // failed on one before that (the job is failed, its record says why).
  void wait_arguments_read(std::string_view id, std::chrono::milliseconds timeout);

  struct impl;

 private:
  job_status resume_once(std::string_view id, std::string_view principal, const resume_options& options);
  std::shared_ptr<impl> impl_;
};

}  // namespace xgate::migrate
