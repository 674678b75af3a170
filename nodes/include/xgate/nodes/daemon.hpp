// The node daemon: a node (node.hpp) on the channel. It checkpoints to an xgated store over
// HTTP and serves the methods of protocol.hpp on the hub as endpoint "PRINCIPAL/NAME",
// PRINCIPAL being its credential's (one token: the hub's login and the HTTP bearer token).
//
//   xgate::nodes::node_daemon d({.name = "A", .hub = "tcp://127.0.0.1:4711",
//                                  .secret_file = "node.secret", .store = "http://127.0.0.1:8080"});
//   d.wait_connected(5s);
//   ...                       // serves until destroyed
//   d.suspend_all();          // a clean stop: every job saved, resumable anywhere
//
// The store is given, not discovered: the hub does not advertise the store it runs on.
// Every node of a cluster must use a credential of the same principal (the runtime's
// documents are theirs; node.hpp).
//
// Through an XMPP server (hub xmpp://USER@HOST..., channel/xmpp.hpp) the hub's secret is the
// XMPP password and the store token is given apart (store_token / store_token_file). The
// endpoint is still PRINCIPAL/NAME, PRINCIPAL the store token's; the XMPP account must be
// that name XEP-0106 escaped ("node/a" is the account "node\2fa"), so NAME is lower case.
#pragma once

#include <chrono>
#include <memory>
#include <ostream>
#include <string>

#include <xgate/base/log.hpp>
#include <xgate/base/metrics.hpp>
#include <xgate/migrate/job.hpp>
#include <xgate/migrate/node.hpp>

namespace xgate::nodes {

struct daemon_options {
  std::string name;         // the node's name: its endpoint is PRINCIPAL/name
  std::string hub;          // tcp://HOST:PORT (or http://HOST:PORT for long-poll)
  std::string secret;       // the credential token ...
  std::string secret_file;  // ... or a file holding it on its first line
  std::string store;        // http://HOST:PORT of the xgated running the hub
  // The store's bearer token when the hub's secret is not an xgated token (an xmpp:// hub:
  // the secret is the XMPP account's password). "" = the secret is the store token too.
  std::string store_token;       // the token ...
  std::string store_token_file;  // ... or a file holding it on its first line
  unsigned workers = 2;     // threads running job bodies
  std::chrono::milliseconds checkpoint_interval{1000};
  const migrate::job_registry* jobs = nullptr;  // nullptr: migrate::job_registry::global()
  // Component "node NAME": a line per call that changes a job (info) and per failed call
  // (warning). May be null; must outlive the daemon.
  xgate::logger* log = nullptr;
  // How long a node waits for another node (hosts, resume during a move).
  std::chrono::milliseconds call_timeout{30000};
};

class node_daemon {
 public:
  // Opens the store (whoami: a bad token or address fails here), publishes the node's key,
  // starts the endpoint. Throws store::store_error / client errors / channel_error.
  explicit node_daemon(daemon_options options);
  // Stops serving, then the node (its running jobs are abandoned as in a crash:
  // suspend_all() first for a clean stop).
  ~node_daemon();
  node_daemon(const node_daemon&) = delete;
  node_daemon& operator=(const node_daemon&) = delete;

  // Waits until logged in to the hub; throws channel_error when the login was refused.
  bool wait_connected(std::chrono::milliseconds timeout);
  // Suspends every job running here (each at its next safe point, saved).
  void suspend_all();

  // For operators (`migrate node --metrics`, migrate/README.md "Operating nodes"): the node's
  // families for GET /metrics (jobs, checkpoints, moves out of it, its hub link), and "" when
  // it is ready (logged in to the hub) or why not.
  void write_metrics(xgate::metrics::text& out) const;
  std::string readiness() const;

  const std::string& endpoint_name() const noexcept;
  const std::string& principal() const noexcept;
  migrate::node& runtime() noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace xgate::nodes
