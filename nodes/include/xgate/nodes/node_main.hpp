// A node program of one's own: your job types (XGATE_JOB in your files, linked into the
// program) and this main —
//
//   #include <xgate/nodes/node_main.hpp>
//   int main(int argc, char** argv) { return xgate::nodes::node_main(argc, argv); }
//
// takes the flags of `migrate node` (--name, --hub, --secret-file, --store, --jobs, --types,
// --workers, --checkpoint-ms, --metrics, --log-*; `PROGRAM --help`), prints the lines
// `migrate node` prints ("node: NAME", "endpoint: …", "types: …", "ready"), and serves until
// SIGINT or SIGTERM, which suspend its jobs. examples/out-of-tree/ is such a program.
//
// Exit codes, those of `migrate`: 0 stopped cleanly, 1 bad flags (or a job library that
// cannot be loaded, or no job type to host without --allow-empty), 2 the store or the hub
// refused the credential, 7 the hub, the store or the metrics address cannot be reached or
// used. Failures print one line "error: …".
#pragma once

#include <string>
#include <vector>

#include <xgate/base/log.hpp>

namespace CLI {
class App;
}

namespace xgate::nodes {

struct node_flags {
  std::string name, hub, secret_file, store, store_token_file, metrics;
  std::vector<std::string> libraries;  // job libraries to load (--jobs)
  std::vector<std::string> types;      // host only these of the program's and libraries' types
  xgate::log_settings logging;
  unsigned workers = 2;
  long checkpoint_ms = 1000;
  bool allow_empty = false;  // start even with no job type to host
};

// The flags on a CLI11 command (`migrate node`'s, or node_main's own).
void add_node_flags(CLI::App& command, node_flags& flags);
// Runs the node until SIGINT or SIGTERM: blocks those and SIGHUP first, so call it before
// the program starts any thread. Returns the exit code.
int run_node(const node_flags& flags);
// A whole node program: parses argv with add_node_flags, then run_node.
int node_main(int argc, char** argv);

}  // namespace xgate::nodes
