#include "relay_commands.hpp"

#include <chrono>
#include <iostream>
#include <stdexcept>
#include <vector>

#include <xgate/channel/agent.hpp>

#include "cli.hpp"

namespace xgate::xgate_cli {

int run_agent(const xgate::relay_cli::agent_flags& a) {
  xgate::channel::agent_options o;
  try {
    o = xgate::relay_cli::agent_options_from(a);
  } catch (const std::invalid_argument& e) {
    throw usage_error(e.what());
  }
  try {
    xgate::relay_cli::run_agent_until_signal(std::move(o), a.logging);  // bad options: channel_error, exit 2 like other bad input
  } catch (const xgate::channel::channel_error&) {
    throw;
  } catch (const std::exception& e) {  // the store or the listen address
    throw command_failure{exit_unavailable, "agent " + a.name + ": " + e.what()};
  }
  return exit_ok;
}

int run_hops(const hops_args& a) {
  auto wait = std::chrono::milliseconds(static_cast<long long>(a.wait * 1000));
  std::vector<std::string> names;
  try {
    names = xgate::relay_cli::list_hops(a.hub, a.name, a.secret_file, xgate::relay_cli::split_via(a.via), wait);
  } catch (const xgate::channel::channel_error& e) {
    // A refused login is a denial; a failed query (a hop not there, a timeout) is unavailability.
    throw command_failure{e.code() == xgate::channel::channel_errc::bad_auth ? exit_denied : exit_unavailable, e.what()};
  } catch (const std::runtime_error& e) {
    throw command_failure{exit_unavailable, e.what()};
  }
  for (auto& n : names) std::cout << n << "\n";
  std::cout.flush();
  return exit_ok;
}

}  // namespace xgate::xgate_cli
