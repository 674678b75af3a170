// Shared by the migrate CLI's commands and its demo.
#pragma once

#include <string>

namespace xgate::migrate_cli {

// Exit codes (also in `migrate --help`).
enum exit_code : int {
  exit_ok = 0,
  exit_usage = 1,        // bad flags or arguments; no hub, secret or principal given
  exit_denied = 2,       // the principal lacks the job's rights; the hub refused the login
  exit_not_found = 3,    // no such job; the node is not online
  exit_refused = 4,      // the node does not host the job type or version; a bad job argument
  exit_state = 5,        // the job is not in a state for this (e.g. resume of a running job)
  exit_job_failed = 6,   // the job failed or was killed; a checkpoint that does not verify
  exit_unavailable = 7,  // the hub, a node or the store cannot be reached or did not answer
};

// The exit code for a remote_error code (migrate_errc names and the client's own).
int exit_for(const std::string& code);

// `migrate demo`: argv0 is this program (its directory holds xgated).
struct demo_options {
  double megabytes = 100;
  bool keep = false;  // keep the temporary directory
  std::string data;   // xgated's --data; empty: a directory in the temporary one
};
int run_demo(const std::string& argv0, const demo_options& options);

}  // namespace xgate::migrate_cli
