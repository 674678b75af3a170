#include "relay_cli.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <iostream>
#include <stdexcept>
#include <thread>

#include <xgate/channel/endpoint.hpp>

namespace xgate::relay_cli {

channel::agent_options agent_options_from(const agent_flags& f) {
  channel::agent_options o;
  o.name = f.name;
  o.upstream = f.upstream;
  o.upstream_secret_file = f.secret_file;
  if (f.downstream.find("://") != std::string::npos) {
    if (f.downstream_secret_file.empty()) throw std::invalid_argument("--downstream URL needs --downstream-secret-file");
    o.downstream = f.downstream;
    o.downstream_secret_file = f.downstream_secret_file;
  } else {
    if (f.data.empty()) throw std::invalid_argument("--downstream ADDRESS:PORT runs a hub and needs --data DIR");
    o.downstream_listen = f.downstream;
    o.data_dir = f.data;
    if (f.tls_cert.empty() != f.tls_key.empty()) throw std::invalid_argument("--tls-cert and --tls-key go together");
    o.downstream_tls = {.certificate = f.tls_cert, .key = f.tls_key};
  }
  if (!f.tls_cert.empty() && o.downstream_listen.empty())
    throw std::invalid_argument("--tls-cert is for the downstream hub the agent runs (--downstream ADDRESS:PORT)");
  o.hop_timeout = std::chrono::milliseconds(static_cast<long long>(f.hop_timeout * 1000));
  xgate::check_log_settings(f.logging);
  return o;
}

void run_agent_until_signal(channel::agent_options o, const xgate::log_settings& logging) {
  const sigset_t signals = xgate::block_daemon_signals();  // before any thread starts: all inherit it
  std::unique_ptr<xgate::logger> log = xgate::open_logger(logging);
  o.log = log.get();
  const bool runs_hub = !o.downstream_listen.empty();
  const std::string name = o.name;
  channel::agent agent(std::move(o));
  agent.start();
  if (runs_hub) std::cout << "hub: " << agent.downstream_url() << std::endl;
  std::cout << "agent: " << name << std::endl;
  xgate::wait_for_stop(signals, *log, "agent " + name, [&agent] { agent.reload_tls(); });
  agent.stop();
}

std::vector<std::string> split_via(std::string_view text) {
  std::vector<std::string> via;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) via.emplace_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return via;
}

std::vector<std::string> list_hops(const std::string& hub, const std::string& name, const std::string& secret_file,
                                   const std::vector<std::string>& via, std::chrono::milliseconds wait) {
  channel::router routes;
  channel::endpoint_options o;
  o.hub = hub;
  o.name = name;
  o.secret_file = secret_file;
  o.on_message = routes.on_message();
  channel::endpoint ep(std::move(o));
  routes.bind(ep);
  ep.start();
  auto deadline = std::chrono::steady_clock::now() + wait;
  struct unbind_at_exit {
    channel::router& r;
    ~unbind_at_exit() { r.unbind(); }
  } unbind{routes};
  if (!ep.wait_connected(wait))
    throw std::runtime_error("cannot log in to " + hub + " within " + std::to_string(wait.count()) +
                             " ms: " + ep.last_error());
  // The presence snapshot follows the login: the list holds at least this endpoint then.
  while (ep.online().empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return routes.hops(via, std::max(left, std::chrono::milliseconds(1)));
}

}  // namespace xgate::relay_cli
