// xgate agent and xgate hops: apps/relay_cli/relay_cli.hpp (shared with `migrate agent`
// and `migrate hops`) does the work; these map its failures to xgate's exit codes.
#pragma once

#include <string>

#include "relay_cli.hpp"

namespace xgate::xgate_cli {

int run_agent(const xgate::relay_cli::agent_flags& a);

struct hops_args {
  std::string hub, name, secret_file, via;
  double wait = 10;
};

int run_hops(const hops_args& a);

}  // namespace xgate::xgate_cli
