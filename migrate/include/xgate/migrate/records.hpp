// What the runtime keeps in the store, as xgate documents (names for a job with id ID):
//   jobs/ID              job_record: type, version, state, owner node and epoch, progress
//   jobs/ID/checkpoint   checkpoint_doc<State>: the state and everything needed to resume it,
//                        signed by the node that wrote it
//   jobs/ID/result       the value the job passed to ctx.result(), with the submitter's rights
//   jobs/ID/log/SEQ      log_entry: submitted, checkpoints, suspends, moves, the end
//   nodes/NAME/key       node_keys: the public keys checkpoints of node NAME verify with
// The record and the checkpoint are only ever written together, in one store batch that
// compares-and-sets the record's revision: that is what makes the epoch an ownership token.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <xgate/reflect/reflect.hpp>
#include <xgate/xmlcodec.hpp>

namespace xgate::migrate {

enum class job_state { running, suspended, done, failed, killed };
XGATE_ENUM(job_state, running, suspended, done, failed, killed)
const char* to_string(job_state s) noexcept;

// A job's rights: those of the submitting principal's choice (default: owned by it). Read
// lets a principal see the job, its log and its result; write lets it suspend, resume, move
// and kill it. "creator" in a list means the submitter.
struct job_rights {
  std::string submitter;
  std::vector<std::string> read, write;
  friend bool operator==(const job_rights&, const job_rights&) = default;
  static job_rights owned_by(std::string principal);
  bool allows(std::string_view principal, xgate::right r) const;  // read or write
};
XGATE_TYPE(job_rights, "xgate.JobRights", 1, (), (submitter, read, write))

// Everything in a checkpoint except the state. Signed with the state, by the node in `node`.
struct checkpoint_header {
  std::string job;                 // the job id
  std::string type;                // the job type and its version
  unsigned version = 1;
  std::uint64_t epoch = 0;         // the ownership epoch this checkpoint belongs to
  std::uint64_t seq = 0;           // checkpoints of this job so far; the record names the current one
  std::string node;                // the node that wrote (and signed) it
  std::uint64_t steps = 0;         // safe points passed since the job started
  double progress = 0;             // 0..1, as the job last reported it
  job_rights rights;
  std::map<std::string, std::string> args;
  // ctx.once results: key -> the XML of fn's value. Once here, fn never runs again.
  std::map<std::string, std::string> once;
  std::vector<std::string> leases;  // store documents whose leases the job holds
  std::chrono::system_clock::time_point written;
};
XGATE_TYPE(checkpoint_header, "xgate.CheckpointHeader", 1, (),
           (job, type, version, epoch, seq, node, steps, progress, rights, args, once, leases, written))

// The checkpoint document, <xgate.Checkpoint>: the header's fields, then <state> holding the
// job's state struct (with its own xg:v, so the codec's upgrade hooks apply to it).
template <class State>
struct checkpoint_doc : checkpoint_header {
  State state{};
};
template <class State>
struct checkpoint_doc_meta {
  using type = checkpoint_doc<State>;
  static constexpr std::string_view name = "xgate.Checkpoint";
  static constexpr unsigned version = 1;
  using bases = type_list<checkpoint_header>;
  static constexpr auto fields() { return std::make_tuple(field{std::string_view{"state"}, &checkpoint_doc<State>::state}); }
};
template <class State>
constexpr checkpoint_doc_meta<State> xgate_meta(const checkpoint_doc<State>*) {
  return {};
}

struct job_record {
  std::string id;
  std::string type;
  unsigned version = 1;
  job_state state = job_state::running;
  std::string node;                // running: its owner; suspended: the node it was handed to or left on
  std::uint64_t epoch = 0;         // bumped by every change of owner
  std::uint64_t checkpoint_seq = 0;  // the seq of jobs/ID/checkpoint; an older one is refused
  std::string checkpoint_node;     // who wrote (signed) that checkpoint
  std::uint64_t steps = 0;
  double progress = 0;
  job_rights rights;
  std::map<std::string, std::string> args;
  std::uint64_t log_seq = 0;       // the last jobs/ID/log entry
  bool has_result = false;         // jobs/ID/result exists
  std::string result_type;         // its xgate type name, when it has one
  std::string error;               // why it failed, for failed jobs
  std::chrono::system_clock::time_point submitted, updated, checkpointed;
};
XGATE_TYPE(job_record, "xgate.JobRecord", 1, (),
           (id, type, version, state, node, epoch, checkpoint_seq, checkpoint_node, steps, progress, rights, args,
            log_seq, has_result, result_type, error, submitted, updated, checkpointed))

enum class log_kind { submitted, checkpoint, suspended, resumed, moved, done, failed, killed };
XGATE_ENUM(log_kind, submitted, checkpoint, suspended, resumed, moved, done, failed, killed)

struct log_entry {
  std::uint64_t seq = 0;
  log_kind kind = log_kind::checkpoint;
  std::string node;       // who wrote it
  std::uint64_t epoch = 0;
  std::uint64_t steps = 0;
  std::string detail;     // e.g. "to B", "checkpoint 7, 1048576 bytes", the failure
  std::chrono::system_clock::time_point time;
};
XGATE_TYPE(log_entry, "xgate.JobLogEntry", 1, (), (seq, kind, node, epoch, steps, detail, time))

// nodes/NAME/key: the node's public keys, newest first (a node that got a new key keeps
// verifying its older checkpoints).
struct node_keys {
  std::string node;
  std::vector<std::vector<unsigned char>> keys;  // Ed25519 public keys, 32 bytes each
};
XGATE_TYPE(node_keys, "xgate.NodeKeys", 1, (), (node, keys))

// Store names.
std::string job_name(std::string_view id);
std::string checkpoint_name(std::string_view id);
std::string result_name(std::string_view id);
std::string log_name(std::string_view id, std::uint64_t seq);
std::string log_prefix(std::string_view id);
std::string node_key_name(std::string_view node);

}  // namespace xgate::migrate
