// A client of node daemons through the channel: what the migrate CLI and its demo use.
//
//   xgate::nodes::remote r({.hub = "tcp://127.0.0.1:4711", .secret_file = "alice.secret", .as = "alice"});
//   std::string id = r.run("A", "word-count", {{"input", "in.txt"}, {"output", "out.txt"}}).id;
//   auto m = r.move(id, "B");          // m.downtime
//   auto st = r.status(id);            // from any node; live progress from the owner
//
// The client is endpoint "AS/cli-RANDOM" (AS: the principal of its credential, which the
// hub checks). Job commands find the job's owner from its record (any online node reads
// it) and call that node. Failures throw remote_error (error.hpp): code() is a migrate_errc
// (unknown_job, access_denied, ...) or a remote_errc (unavailable: the hub or a node cannot
// be reached or did not answer; login: the hub refused the credential or name; usage, store,
// failed); what() is one line naming what and where.
//
// Behind relay agents (channel/agent.hpp): a node not on the client's hub is reached over a
// route through the agents routes[node] names (--route NODE=AGENT,AGENT in the CLI). A move
// tells the job's node the agents between it and the target, worked out from both nodes'
// routes: owner behind {a, b}, target on the client's hub: the owner's route is {b, a}.
//
// Through an XMPP server (hub "xmpp://USER@DOMAIN[:PORT]?ca=FILE", secret: the account's
// password; channel/xmpp.hpp) the client is the endpoint its account names instead, XEP-0106
// unescaped: the account "alice\2fcli-1" is endpoint "alice/cli-1", principal "alice" (as
// may be left empty; if given it must match). One account per concurrent client
// (a later process may reuse it: nodes follow a peer's new stream, wire.hpp). The
// nodes' presences reach a client only once it is their buddy: the first time, name them
// in the URL (&buddies=node/a,node/b); the server's roster remembers them afterwards.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <xgate/nodes/error.hpp>
#include <xgate/nodes/protocol.hpp>

namespace xgate::nodes {

struct remote_options {
  std::string hub;          // tcp://HOST:PORT or http://HOST:PORT (or xmpp://USER@DOMAIN..., above)
  std::string secret;       // the credential token (an XMPP password) ...
  std::string secret_file;  // ... or a file holding it
  std::string as;           // the credential's principal (names the client's endpoint)
  std::string nodes = protocol::default_nodes;  // the node daemons' principal
  // Nodes on other networks: node name -> the relay agents between the client's hub and
  // it, nearest first (channel/agent.hpp). Calls to such a node go over a route.
  std::map<std::string, std::vector<std::string>> routes;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds call_timeout{60000};
};

class remote {
 public:
  // Connects and waits for the hub's presence list. remote_error(login / unavailable).
  explicit remote(remote_options options);
  ~remote();
  remote(const remote&) = delete;
  remote& operator=(const remote&) = delete;

  std::vector<std::string> nodes();  // node names online now, sorted
  bool online(const std::string& node);
  // Waits until the node is online (or its absence is settled); false on timeout.
  bool wait_online(const std::string& node, std::chrono::milliseconds timeout);
  bool wait_offline(const std::string& node, std::chrono::milliseconds timeout);

  protocol::hosts_reply hosts(const std::string& node, const std::string& type = {}, unsigned version = 0);
  protocol::job_info run(const std::string& node, const std::string& type, const std::map<std::string, std::string>& args);
  protocol::job_info status(const std::string& id);
  std::vector<protocol::job_info> list();
  protocol::job_info suspend(const std::string& id);
  // on "": where the record says it was handed or left (a suspended job's node).
  protocol::job_info resume(const std::string& id, const std::string& on = {}, bool force = false);
  protocol::job_info kill(const std::string& id);
  protocol::move_reply move(const std::string& id, const std::string& to);
  results::result_ref result(const std::string& id);
  std::vector<migrate::log_entry> log(const std::string& id);

  const std::string& endpoint_name() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace xgate::nodes
