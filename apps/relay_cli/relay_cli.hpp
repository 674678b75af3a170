// What `xgate agent`/`xgate hops` and `migrate agent`/`migrate hops` share: running a relay
// agent until a signal, and listing the next hops. Each CLI maps the exceptions to its own
// exit codes.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <xgate/base/log.hpp>
#include <xgate/channel/agent.hpp>

namespace xgate::relay_cli {

struct agent_flags {
  std::string name, upstream, secret_file, downstream, data, downstream_secret_file;
  std::string tls_cert, tls_key;  // the downstream hub it runs speaks TLS with these
  double hop_timeout = 3;  // seconds
  xgate::log_settings logging;
};


// --downstream URL joins a hub (needs --downstream-secret-file); ADDRESS:PORT runs one over
// --data, with TLS when --tls-cert and --tls-key are given. Throws std::invalid_argument
// naming the missing or bad flag. The options' log is set by run_agent_until_signal.
channel::agent_options agent_options_from(const agent_flags& f);

// Starts the agent logging as `logging` says, prints "hub: URL" (when it runs the downstream
// hub, like xgated: scripts read it) and "agent: NAME", reopens its log file on SIGHUP, and
// stops it on SIGINT or SIGTERM. Must be called before the process starts any thread: it
// blocks those signals for every thread to inherit. Throws channel_error for bad options,
// other exceptions when the store, the address or the log file fails.
void run_agent_until_signal(channel::agent_options o, const xgate::log_settings& logging);

// "agent-a,agent-b" -> {"agent-a", "agent-b"}: commas, since endpoint names may hold '/'.
std::vector<std::string> split_via(std::string_view text);

// Logs in to hub as endpoint `name`, waits for the presence snapshot, and asks for the hops
// via `via` (router::hops), all within `wait`. Throws channel_error when the login is refused
// or the query fails, std::runtime_error when the hub cannot be reached in time.
std::vector<std::string> list_hops(const std::string& hub, const std::string& name, const std::string& secret_file,
                                   const std::vector<std::string>& via, std::chrono::milliseconds wait);

}  // namespace xgate::relay_cli
