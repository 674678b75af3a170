// The node daemon's methods on the channel (channel/method.hpp), as xgate types. A node
// named N whose credential is for principal P serves them as endpoint "P/N" (the hub lets a
// credential take names under its principal; clusters use P = "node", so node A is "node/A").
//
//   method    arguments        result         what
//   hosts     hosts_args       hosts_reply    the job types and versions the node has; whether
//                                             it accepts type/version (a move asks this first)
//   run       run_args         status_reply   submits a job here
//   status    job_args         status_reply   a job's record (live progress on its owner)
//   list      list_args        list_reply     the jobs the caller may read
//   suspend   job_args         status_reply   stops a job running here at its next safe point
//   resume    resume_args      status_reply   runs a suspended (or, force, orphaned) job here;
//                                             replies once its body runs
//   move      move_args        move_reply     moves a job running here to another node,
//                                             on this hub or behind relay agents (via)
//   kill      job_args         status_reply
//   result    job_args         result_reply   a result_ref to a done job's result (valid 1 h)
//   log       job_args         log_reply      its checkpoints and moves
//
// Every reply carries code and error: "" when the call succeeded, else a migrate_errc name
// ("unknown_job", "access_denied", ...), "store" (the store failed) or "failed", and one
// line naming what and where. Refusals travel as replies, not channel faults, so that the
// caller can tell them apart (the CLI maps them to exit codes).
//
// Who asks: the principal of a call is the first segment of the calling endpoint's name
// (the hub authenticated it: a credential takes its principal's name or names under it).
// Behind relay agents: a node also accepts routes (channel/agent.hpp) and serves the same
// methods on them; the caller is the route's origin, vouched for by the agents on its path.
// A node calling another node on a user's behalf (move: A asks B to resume) names the user
// in on_behalf; a node honours on_behalf only from endpoints of its own principal.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <xgate/migrate/node.hpp>
#include <xgate/migrate/records.hpp>
#include <xgate/results/results.hpp>
#include <xgate/xmlcodec.hpp>

namespace xgate::nodes::protocol {

// The types keep their wire names, xgate.migrate.*: this is the migrate runtime's protocol,
// served by the node daemons of this module.

// The default principal of node daemons, and so the first segment of their endpoints.
inline constexpr const char* default_nodes = "node";

struct reply {
  std::string code;   // "" = ok
  std::string error;  // one line
};
XGATE_TYPE(reply, "xgate.migrate.Reply", 1, (), (code, error))

struct job_info {
  std::string id, type;
  unsigned version = 1;
  migrate::job_state state = migrate::job_state::running;
  std::string node;
  std::uint64_t epoch = 0, steps = 0;
  double progress = 0;
  std::string submitter;
  std::chrono::system_clock::time_point submitted, last_checkpoint;
  bool has_result = false;
  std::string error;
};
XGATE_TYPE(job_info, "xgate.migrate.JobInfo", 1, (),
           (id, type, version, state, node, epoch, steps, progress, submitter, submitted, last_checkpoint, has_result, error))
job_info info_of(const migrate::job_status& s);

struct job_argument_info {
  std::string name, type, default_value;  // migrate::job_argument
};
XGATE_TYPE(job_argument_info, "xgate.migrate.JobArgument", 1, (), (name, type, default_value))

struct job_type_info {
  std::string name;
  unsigned version = 1;
  std::string state_type;
  bool upgrades_older = false;
  bool declares_arguments = false;  // arguments lists them all; false: the job reads what it is given
  std::vector<job_argument_info> arguments;
  std::string library;  // the job library it was loaded from (`--jobs`), "" built in
};
XGATE_TYPE(job_type_info, "xgate.migrate.JobTypeInfo", 2, (),
           (name, version, state_type, upgrades_older, declares_arguments, arguments, library))
job_type_info info_of(const migrate::job_type& t);

struct hosts_args {
  std::string type;  // "" = only list
  unsigned version = 0;
};
XGATE_TYPE(hosts_args, "xgate.migrate.HostsArgs", 1, (), (type, version))
struct hosts_reply : reply {
  std::string node, store;
  std::vector<job_type_info> types;
  bool accepts = false;  // accepts hosts_args::type at its version
  std::vector<std::string> running;  // ids of the jobs running there
};
XGATE_TYPE(hosts_reply, "xgate.migrate.HostsReply", 1, (reply), (node, store, types, accepts, running))

struct run_args {
  std::string type;
  std::map<std::string, std::string> args;
  std::string id;  // "" = a fresh id
};
XGATE_TYPE(run_args, "xgate.migrate.RunArgs", 1, (), (type, args, id))

struct job_args {
  std::string id;
};
XGATE_TYPE(job_args, "xgate.migrate.JobArgs", 1, (), (id))

struct list_args {
  std::string prefix;  // ids starting with it ("" = all)
};
XGATE_TYPE(list_args, "xgate.migrate.ListArgs", 1, (), (prefix))

struct resume_args {
  std::string id;
  bool force = false;     // take over a job whose owner looks alive
  std::string on_behalf;  // node-to-node only
  // A move's resume: only the job as handed to the node under this epoch (0: any resume).
  std::uint64_t handed_epoch = 0;
};
XGATE_TYPE(resume_args, "xgate.migrate.ResumeArgs", 1, (), (id, force, on_behalf, handed_epoch))

struct move_args {
  std::string id, to;  // to: a node name
  // The relay agents between the job's node and `to`, nearest first (channel/agent.hpp);
  // empty: `to` is on the same hub.
  std::vector<std::string> via;
};
XGATE_TYPE(move_args, "xgate.migrate.MoveArgs", 1, (), (id, to, via))

struct status_reply : reply {
  job_info job;
};
XGATE_TYPE(status_reply, "xgate.migrate.StatusReply", 1, (reply), (job))

struct list_reply : reply {
  std::vector<job_info> jobs;
};
XGATE_TYPE(list_reply, "xgate.migrate.ListReply", 1, (reply), (jobs))

struct move_reply : reply {
  std::string from, to;
  std::uint64_t epoch = 0;
  // From the job's safe point on `from` until `to` confirmed its body runs (measured on
  // `from`, so it includes the confirmation's trip back).
  std::chrono::nanoseconds downtime{0};
  std::chrono::nanoseconds saved{0};  // of which: writing the handoff on `from` (the rest: `to` resuming)
};
XGATE_TYPE(move_reply, "xgate.migrate.MoveReply", 1, (reply), (from, to, epoch, downtime, saved))

struct result_reply : reply {
  results::result_ref ref;
};
XGATE_TYPE(result_reply, "xgate.migrate.ResultReply", 1, (reply), (ref))

struct log_reply : reply {
  std::vector<migrate::log_entry> entries;
};
XGATE_TYPE(log_reply, "xgate.migrate.LogReply", 1, (reply), (entries))

}  // namespace xgate::nodes::protocol
