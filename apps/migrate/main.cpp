// migrate: run node daemons and move running jobs between them, through an xgated hub.
//
//   migrate node --name A --hub URL --secret-file F --store URL [--workers N] [--checkpoint-ms N] [--types T,...]
//        [--metrics ADDRESS:PORT]   (GET /metrics, /healthz, /readyz for operators)
//        [--store-token-file F]   (required with --hub xmpp://...: the secret is then the XMPP password)
//   migrate run TYPE --on A [--arg key=value ...]     prints the job id as its last word
//   migrate ps | nodes | move ID --to B | suspend ID | resume ID [--on N] [--force] | kill ID
//   migrate watch ID | result ID | log ID
//   migrate demo [--megabytes N] [--keep] [--data DIR|URI]  xgated, two nodes, a word count moved A→B→A
//   migrate agent --name X --upstream URL --secret-file F --downstream LISTEN --data DIR   a relay
//         agent (channel/agent.hpp; or --downstream URL --downstream-secret-file F2 to join a hub)
//   migrate hops [--via A,B]                          the next hops, through relay agents
//
// A node on another network, behind relay agents: every client command takes
// --route NODE=AGENT,AGENT (nearest agent first; or XGATE_ROUTES="NODE=A,B;NODE2=C"), e.g.
//   migrate move ID --to B --route B=agent-a,agent-b
//
// Client commands find the hub from --hub URL --secret-file F --as PRINCIPAL, or from
// XGATE_HUB, XGATE_SECRET_FILE, XGATE_AS (the principal of the secret's credential: it
// names the client's endpoint, AS/cli-RANDOM). Node daemons are endpoints NODES/NAME,
// NODES being their credential's principal (--nodes, XGATE_NODES; default "node").
// Exit codes: see cli.hpp (printed by --help). A failure prints one line "error: ..." on stderr.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include <xgate/base/text.hpp>
#include <xgate/base/time.hpp>
#include <xgate/channel/agent.hpp>
#include <xgate/client/http_session.hpp>
#include <xgate/examples/jobs.hpp>
#include <xgate/migrate.hpp>
#include <xgate/nodes/daemon.hpp>
#include <xgate/nodes/node_main.hpp>
#include <xgate/nodes/remote.hpp>
#include <xgate/version.hpp>

#include "relay_cli.hpp"
#include "cli.hpp"

namespace xm = xgate::migrate;
namespace xn = xgate::nodes;
using namespace xgate::migrate_cli;
using namespace std::chrono_literals;
using xgate::one_line;

namespace xgate::migrate_cli {

int exit_for(const std::string& code) {
  if (code == "usage" || code == "bad_argument_usage") return exit_usage;
  if (code == "access_denied" || code == "login") return exit_denied;
  if (code == "unknown_job" || code == "unknown_node") return exit_not_found;
  if (code == "unknown_job_type" || code == "incompatible_version" || code == "bad_argument") return exit_refused;
  if (code == "wrong_state" || code == "stale_epoch" || code == "not_here") return exit_state;
  if (code == "job_failed" || code == "bad_checkpoint") return exit_job_failed;
  return exit_unavailable;  // unavailable, store, failed
}

}  // namespace xgate::migrate_cli

namespace {

constexpr const char* exit_help = R"(
Exit codes:
  0  ok
  1  usage: bad flags or arguments; no hub, secret file or principal given
  2  access denied: the principal lacks the job's rights, or the hub refused the login
  3  not found: no such job, or the node is not online
  4  refused: the node does not host the job type or version, or a bad job argument
  5  wrong state: the job is not in a state for this (e.g. moving a suspended job)
  6  the job failed or was killed, or its checkpoint does not verify
  7  unavailable: the hub, a node or the store cannot be reached or did not answer
Environment: XGATE_HUB, XGATE_SECRET_FILE, XGATE_AS, XGATE_NODES, XGATE_ROUTES (client commands);
XGATE_HUB, XGATE_SECRET_FILE, XGATE_STORE, XGATE_STORE_TOKEN_FILE (migrate node).
Through an XMPP server (--hub "xmpp://USER@DOMAIN:PORT?ca=FILE", the secret file holding the
account's password): a node's account is its endpoint NODES/NAME XEP-0106 escaped
("node\2fa" for node a) and it needs --store-token-file; a client's account names its
endpoint ("alice\2fcli-1" is alice/cli-1). See migrate/README.md.)";

int fail(int code, const std::string& message) {
  std::cout.flush();
  std::cerr << "error: " << one_line(message) << "\n";
  return code;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

struct connection_flags {
  std::string hub, secret_file, as, nodes;
  std::vector<std::string> routes;  // NODE=AGENT,AGENT
  double timeout = 60;
};

void add_connection_flags(CLI::App* c, connection_flags& f) {
  c->add_option("--hub", f.hub, "The hub: tcp://HOST:PORT, tls://HOST:PORT (its CA from $XGATE_CA), or xmpp://USER@DOMAIN:PORT?ca=FILE; hubs sharing one store as URL,URL,... (tried in turn) (default $XGATE_HUB)")->type_name("URL");
  c->add_option("--secret-file", f.secret_file, "File holding the credential token (default $XGATE_SECRET_FILE)")
      ->type_name("FILE");
  c->add_option("--as", f.as, "The credential's principal (default $XGATE_AS)")->type_name("PRINCIPAL");
  c->add_option("--nodes", f.nodes, "The node daemons' principal (default $XGATE_NODES, else \"node\")")
      ->type_name("PRINCIPAL");
  c->add_option("--timeout", f.timeout, "Seconds to wait for the hub (at most 10) and for a node's answer (default 60)")->check(CLI::PositiveNumber);
  c->add_option("--route", f.routes,
                "A node on another network and the relay agents to it, nearest first (repeatable; default $XGATE_ROUTES, "
                "NODE=A,B;NODE2=C)")
      ->type_name("NODE=AGENT[,AGENT...]");
}

// "NODE=AGENT,AGENT" into o.routes; a usage error names the bad one.
void add_route(xn::remote_options& o, std::string_view text) {
  std::size_t eq = text.find('=');
  std::vector<std::string> agents = eq == std::string_view::npos ? std::vector<std::string>{}
                                                                  : xgate::relay_cli::split_via(text.substr(eq + 1));
  if (eq == 0 || agents.empty())
    throw xn::remote_error(xgate::nodes::remote_errc::usage, "--route \"" + std::string(text) + "\" is not NODE=AGENT[,AGENT...]");
  o.routes[std::string(text.substr(0, eq))] = std::move(agents);
}

xn::remote_options remote_from(const connection_flags& f) {
  xn::remote_options o;
  o.hub = f.hub.empty() ? env("XGATE_HUB") : f.hub;
  o.secret_file = f.secret_file.empty() ? env("XGATE_SECRET_FILE") : f.secret_file;
  o.as = f.as.empty() ? env("XGATE_AS") : f.as;
  std::string nodes = f.nodes.empty() ? env("XGATE_NODES") : f.nodes;
  if (!nodes.empty()) o.nodes = nodes;
  if (o.secret_file.empty()) throw xn::remote_error(xgate::nodes::remote_errc::usage, "no secret: give --secret-file FILE or set XGATE_SECRET_FILE");
  if (f.routes.empty()) {
    std::string text = env("XGATE_ROUTES");
    for (std::size_t start = 0; start < text.size();) {
      std::size_t semi = std::min(text.find(';', start), text.size());
      if (semi > start) add_route(o, std::string_view(text).substr(start, semi - start));
      start = semi + 1;
    }
  }
  for (const std::string& r : f.routes) add_route(o, r);
  o.call_timeout = std::chrono::milliseconds(static_cast<long long>(f.timeout * 1000));
  o.connect_timeout = std::min(o.connect_timeout, o.call_timeout);
  return o;
}

std::string percent(double p) {
  char b[16];
  std::snprintf(b, sizeof b, "%5.1f%%", p * 100);
  return b;
}

std::string age(std::chrono::system_clock::time_point t) {
  if (t == std::chrono::system_clock::time_point{}) return "-";
  double s = std::chrono::duration<double>(std::chrono::system_clock::now() - t).count();
  char b[32];
  if (s < 0) s = 0;
  if (s < 60) std::snprintf(b, sizeof b, "%.1fs ago", s);
  else if (s < 3600) std::snprintf(b, sizeof b, "%.0fm ago", s / 60);
  else std::snprintf(b, sizeof b, "%.1fh ago", s / 3600);
  return b;
}

const char* kind_name(xm::log_kind k) {
  switch (k) {
    case xm::log_kind::submitted: return "submitted";
    case xm::log_kind::checkpoint: return "checkpoint";
    case xm::log_kind::suspended: return "suspended";
    case xm::log_kind::resumed: return "resumed";
    case xm::log_kind::moved: return "moved";
    case xm::log_kind::done: return "done";
    case xm::log_kind::failed: return "failed";
    case xm::log_kind::killed: return "killed";
  }
  return "?";
}

std::string ms(std::chrono::nanoseconds d) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f ms", std::chrono::duration<double, std::milli>(d).count());
  return b;
}

// ---- client commands ----------------------------------------------------------------------
struct client_flags {
  connection_flags conn;
  std::string type, on, id, to;
  std::vector<std::string> args;
  bool force = false;
  bool help = false;  // run --help: with a type, its arguments too
  double interval = 0.2;
};

std::map<std::string, std::string> parse_args(const std::vector<std::string>& args) {
  std::map<std::string, std::string> out;
  for (const std::string& a : args) {
    std::size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0) throw xn::remote_error(xgate::nodes::remote_errc::usage, "--arg \"" + a + "\" is not key=value");
    out[a.substr(0, eq)] = a.substr(eq + 1);
  }
  return out;
}

std::string bar(double p, int width) {
  int full = static_cast<int>(std::lround(p * width));
  return "[" + std::string(static_cast<std::size_t>(full), '#') + std::string(static_cast<std::size_t>(width - full), '-') + "]";
}

int watch(xn::remote& r, const std::string& id, double interval) {
  const bool tty = ::isatty(1);
  std::string last;
  for (;;) {
    xn::protocol::job_info j = r.status(id);
    const bool ended = j.state == xm::job_state::done || j.state == xm::job_state::failed || j.state == xm::job_state::killed;
    if (tty) {
      std::cout << "\r" << bar(j.progress, 40) << " " << percent(j.progress) << "  " << xm::to_string(j.state) << " on "
                << j.node << "   " << std::flush;
    } else {
      std::string line = id + ": " + std::to_string(static_cast<int>(j.progress * 100)) + "% " + xm::to_string(j.state) +
                         " on " + j.node;
      if (line != last) std::cout << line << std::endl;
      last = line;
    }
    if (ended) {
      if (tty) std::cout << "\n";
      if (j.state == xm::job_state::done) return exit_ok;
      return fail(exit_job_failed, "migrate: job \"" + id + "\" " + xm::to_string(j.state) + (j.error.empty() ? "" : ": " + j.error));
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(interval));
  }
}

// A type's declared arguments, one per line: "  --arg samples=UINT  default 100000".
std::string argument_lines(const xn::protocol::job_type_info& t, const std::string& indent) {
  if (!t.declares_arguments) return indent + "(arguments not declared: the job reads what it is given, see its documentation)\n";
  if (t.arguments.empty()) return indent + "(no arguments)\n";
  std::size_t width = 0;
  std::vector<std::string> heads;
  for (const auto& a : t.arguments) {
    std::string type = a.type;
    if (type.find('|') == std::string::npos)
      for (char& c : type) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    heads.push_back("--arg " + a.name + "=" + type);
    width = std::max(width, heads.back().size());
  }
  std::string out;
  for (std::size_t i = 0; i < heads.size(); ++i) {
    const auto& a = t.arguments[i];
    out += indent + heads[i] + std::string(width - heads[i].size() + 2, ' ') + "default " +
           (a.type == "string" ? "\"" + a.default_value + "\"" : a.default_value) + "\n";
  }
  return out;
}

std::string type_title(const xn::protocol::job_type_info& t) {
  return t.name + " " + std::to_string(t.version) + (t.library.empty() ? "" : " (from " + t.library + ")");
}

// migrate run TYPE --help: run's help, then TYPE's arguments as the first node hosting it
// (--on's, or any online) declares them.
int run_help(const CLI::App& run, const client_flags& f) {
  std::cout << run.help();
  if (f.type.empty()) return exit_ok;
  std::cout << "\n";
  std::optional<xn::remote> r;
  try {
    r.emplace(remote_from(f.conn));
  } catch (const xn::remote_error&) {
    std::cout << "To list the arguments of " << f.type << ", give --hub, --secret-file and --as (or set XGATE_HUB, "
              << "XGATE_SECRET_FILE and XGATE_AS): they are asked of the nodes.\n";
    return exit_ok;
  }
  const std::vector<std::string> nodes = f.on.empty() ? r->nodes() : std::vector<std::string>{f.on};
  for (const std::string& n : nodes) {
    xn::protocol::hosts_reply h = r->hosts(n);
    for (const auto& t : h.types) {
      if (t.name != f.type) continue;
      std::cout << "Arguments of " << type_title(t) << ", as node " << n << " hosts it:\n" << argument_lines(t, "  ");
      std::cout.flush();
      return exit_ok;
    }
  }
  return fail(exit_refused, "migrate: " + (f.on.empty() ? std::string("no node online") : "node \"" + f.on + "\"") +
                                " hosts job type \"" + f.type + "\"");
}

int client_command(const std::string& command, const client_flags& f) {
  if (command == "run" && f.type.empty())
    throw xn::remote_error(xgate::nodes::remote_errc::usage, "run: give the job type (migrate nodes lists them)");
  if (command == "run" && f.on.empty()) throw xn::remote_error(xgate::nodes::remote_errc::usage, "run: give --on NODE");
  xn::remote r(remote_from(f.conn));
  if (command == "run") {
    xn::protocol::job_info j = r.run(f.on, f.type, parse_args(f.args));
    std::cout << "started " << j.type << " on node " << j.node << ": " << j.id << std::endl;
  } else if (command == "ps") {
    auto jobs = r.list();
    std::printf("%-20s %-12s %-8s %-10s %8s  %s\n", "ID", "TYPE", "NODE", "STATE", "PROGRESS", "CHECKPOINT");
    for (const auto& j : jobs) {
      std::printf("%-20s %-12s %-8s %-10s %8s  %s\n", j.id.c_str(), j.type.c_str(), j.node.c_str(), xm::to_string(j.state),
                  percent(j.progress).c_str(), age(j.last_checkpoint).c_str());
    }
    std::fflush(stdout);
  } else if (command == "nodes") {
    auto show = [&](const std::string& n, const std::string& where) {
      xn::protocol::hosts_reply h = r.hosts(n);
      std::string types;
      for (const auto& t : h.types) types += (types.empty() ? "" : ", ") + t.name + " " + std::to_string(t.version);
      std::cout << n << where << "  jobs running: " << h.running.size() << "  types: " << types << "\n";
      for (const auto& t : h.types) {
        if (t.declares_arguments) std::cout << "  " << type_title(t) << "\n" << argument_lines(t, "    ");
        else std::cout << "  " << type_title(t) << "  (arguments not declared)\n";
      }
    };
    std::vector<std::string> here = r.nodes();
    for (const std::string& n : here) show(n, "");
    // Nodes behind agents (--route): listed with their route, or why they cannot be reached.
    for (const auto& [n, agents] : remote_from(f.conn).routes) {
      if (std::find(here.begin(), here.end(), n) != here.end()) continue;
      std::string where = " (via";
      for (const auto& a : agents) where += " " + a;
      where += ")";
      try {
        show(n, where);
      } catch (const xn::remote_error& e) {
        std::cout << n << where << "  unreachable: " << one_line(e.what()) << "\n";
      }
    }
  } else if (command == "move") {
    xn::protocol::move_reply m = r.move(f.id, f.to);
    std::cout << "moved " << f.id << " from " << m.from << " to " << m.to << " (epoch " << m.epoch
              << "), downtime " << ms(m.downtime) << std::endl;
  } else if (command == "suspend") {
    auto j = r.suspend(f.id);
    std::cout << "suspended " << j.id << " on node " << j.node << " at step " << j.steps << " (" << percent(j.progress)
              << ")" << std::endl;
  } else if (command == "resume") {
    auto j = r.resume(f.id, f.on, f.force);
    std::cout << "resumed " << j.id << " on node " << j.node << " (epoch " << j.epoch << ") from step " << j.steps
              << std::endl;
  } else if (command == "kill") {
    auto j = r.kill(f.id);
    std::cout << "killed " << j.id << " on node " << j.node << " at step " << j.steps << std::endl;
  } else if (command == "watch") {
    return watch(r, f.id, f.interval);
  } else if (command == "result") {
    xgate::results::result_ref ref = r.result(f.id);
    auto s = xgate::client::http_session(ref.store, ref.credential);
    std::string xml = s->read(ref.name).xml;
    std::cout << xml;
    if (!xml.empty() && xml.back() != '\n') std::cout << "\n";
    std::cout.flush();
  } else if (command == "log") {
    for (const xm::log_entry& e : r.log(f.id)) {
      std::printf("%4llu %s %-9s node %-6s epoch %-3llu step %-10llu %s\n", static_cast<unsigned long long>(e.seq),
                  xgate::format_utc(e.time).c_str(), kind_name(e.kind), e.node.c_str(),
                  static_cast<unsigned long long>(e.epoch), static_cast<unsigned long long>(e.steps), e.detail.c_str());
    }
    std::fflush(stdout);
  }
  return exit_ok;
}

// ---- relay agents (channel/agent.hpp): the same as `xgate agent` and `xgate hops` ----------
int run_agent(const xgate::relay_cli::agent_flags& f) {
  xgate::channel::agent_options o;
  try {
    o = xgate::relay_cli::agent_options_from(f);
  } catch (const std::invalid_argument& e) {
    throw xn::remote_error(xgate::nodes::remote_errc::usage, e.what());
  }
  xgate::relay_cli::run_agent_until_signal(std::move(o), f.logging);
  return exit_ok;
}

int run_hops(const connection_flags& f, const std::string& via_text) {
  xn::remote_options r = remote_from(f);
  if (r.as.empty()) throw xn::remote_error(xgate::nodes::remote_errc::usage, "no principal: give --as PRINCIPAL or set XGATE_AS");
  // Logs in like the other client commands, as AS/cli-RANDOM.
  auto names = xgate::relay_cli::list_hops(r.hub, r.as + "/cli-" + xgate::channel::new_stream(), r.secret_file,
                                           xgate::relay_cli::split_via(via_text), r.call_timeout);
  for (auto& n : names) std::cout << n << "\n";
  std::cout.flush();
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"migrate: node daemons and running jobs that move between them, through an xgated hub"};
  app.set_version_flag("--version", std::string("migrate ") + xgate::version, "Print the version and exit");
  app.footer(exit_help);
  app.require_subcommand(1);

  xn::node_flags nf;
  CLI::App* node = app.add_subcommand("node", "Run a node daemon hosting jobs (until SIGINT/SIGTERM, which suspends its jobs)");
  xn::add_node_flags(*node, nf);
  client_flags cf;
  std::map<std::string, CLI::App*> commands;
  auto add = [&](const std::string& name, const std::string& help) {
    CLI::App* c = app.add_subcommand(name, help);
    add_connection_flags(c, cf.conn);
    commands[name] = c;
    return c;
  };
  CLI::App* run = add("run", "Start a job of TYPE on a node; prints the job id as the last word (migrate run TYPE --help: its arguments)");
  // Required, but checked after parsing: `migrate run TYPE --help` asks the nodes for TYPE's arguments.
  run->set_help_flag();
  run->add_flag("-h,--help", cf.help, "Print this help; after TYPE, also the arguments TYPE declares (asked of the nodes)");
  run->add_option("type", cf.type, "The job type (migrate nodes lists them) [required]");
  run->add_option("--on", cf.on, "The node [required]");
  run->add_option("--arg", cf.args, "A job argument key=value (repeatable)")->type_name("KEY=VALUE");
  add("ps", "List the jobs you may see: id, type, node, state, progress, last checkpoint");
  add("nodes", "List the nodes online and the job types they host");
  CLI::App* move = add("move", "Move a running job to another node; prints the downtime");
  move->add_option("id", cf.id, "The job id")->required();
  move->add_option("--to", cf.to, "The node to move it to")->required();
  CLI::App* suspend = add("suspend", "Stop a job at its next safe point and save it");
  suspend->add_option("id", cf.id, "The job id")->required();
  CLI::App* resume = add("resume", "Run a suspended job again (or one whose node died) from its last checkpoint");
  resume->add_option("id", cf.id, "The job id")->required();
  resume->add_option("--on", cf.on, "The node (default: where it was suspended)");
  resume->add_option_function<bool>("--force", [&](bool v) { cf.force = v; },
                                    "Take it over even while its node looks online (that node stops at its next checkpoint)")
      ->expected(0)->default_str("false");
  CLI::App* kill = add("kill", "Stop a job for good (its last checkpoint stays)");
  kill->add_option("id", cf.id, "The job id")->required();
  CLI::App* watch = add("watch", "Show a job's progress until it ends (a bar on a terminal, lines otherwise)");
  watch->add_option("id", cf.id, "The job id")->required();
  watch->add_option("--interval", cf.interval, "Seconds between updates (default 0.2)")->check(CLI::PositiveNumber);
  CLI::App* result = add("result", "Print a done job's result document");
  result->add_option("id", cf.id, "The job id")->required();
  CLI::App* log = add("log", "Print a job's log: submitted, checkpoints, suspends, moves, the end");
  log->add_option("id", cf.id, "The job id")->required();

  demo_options dopt;
  CLI::App* demo = app.add_subcommand("demo", "Start xgated and two nodes, count the words of ~100 MB, moving the job A->B->A");
  demo->add_option("--megabytes", dopt.megabytes, "Size of the generated text (default 100)")->check(CLI::Range(0.01, 10000.0));
  demo->add_flag("--keep", dopt.keep, "Keep the temporary directory");
  demo->add_option("--data", dopt.data,
                   "The store xgated runs on: a directory or a PostgreSQL database, postgresql://… (default: a directory "
                   "in the temporary one)")
      ->type_name("DIR|URI");

  xgate::relay_cli::agent_flags af;
  CLI::App* agent_cmd = app.add_subcommand("agent", "Run a relay agent between an upstream hub and a downstream hub (until SIGINT/SIGTERM)");
  agent_cmd->add_option("--name", af.name, "The agent's endpoint name on both hubs")->required();
  agent_cmd->add_option("--upstream", af.upstream, "The upstream hub: tcp://HOST:PORT or tls://HOST:PORT (its CA from $XGATE_CA)")->required()->type_name("URL");
  agent_cmd->add_option("--secret-file", af.secret_file, "File holding the upstream credential token")->required()->type_name("FILE");
  agent_cmd->add_option("--downstream", af.downstream, "ADDRESS:PORT: run the downstream hub there (needs --data); or a hub URL to join")
      ->required();
  agent_cmd->add_option("--data", af.data, "The store directory of the downstream hub it runs")->type_name("DIR");
  agent_cmd->add_option("--downstream-secret-file", af.downstream_secret_file, "The credential for a downstream hub it joins")
      ->type_name("FILE");
  agent_cmd->add_option("--tls-cert", af.tls_cert, "The downstream hub it runs speaks TLS (tls://) with this certificate (PEM)")
      ->type_name("FILE");
  agent_cmd->add_option("--tls-key", af.tls_key, "The private key of --tls-cert (PEM, mode 0600)")->type_name("FILE");
  agent_cmd->add_option("--hop-timeout", af.hop_timeout, "Seconds a route neighbour may be unreachable (default 3)")
      ->check(CLI::PositiveNumber);
  xgate::add_log_flags(*agent_cmd, af.logging);
  connection_flags hf;
  std::string via;
  CLI::App* hops_cmd = app.add_subcommand("hops", "List the next hops: who is online on the hub, or behind the agents of --via");
  add_connection_flags(hops_cmd, hf);
  hops_cmd->add_option("--via", via, "Agents to ask, comma-separated, nearest first (A,B: ask A to ask B)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(exit_usage, std::string(e.what()) + " (see migrate --help)");
  }
  try {
    if (node->parsed()) return xn::run_node(nf);
    if (demo->parsed()) return run_demo(argv[0], dopt);
    if (agent_cmd->parsed()) return run_agent(af);
    if (hops_cmd->parsed()) return run_hops(hf, via);
    if (run->parsed() && cf.help) return run_help(*run, cf);
    for (const auto& [name, c] : commands)
      if (c->parsed()) return client_command(name, cf);
    return fail(exit_usage, "no command (see migrate --help)");
  } catch (const xn::remote_error& e) {
    return fail(exit_for(e.name()), e.what());
  } catch (const xgate::access_denied& e) {
    return fail(exit_denied, e.what());
  } catch (const xgate::store::store_error& e) {
    return fail(e.code() == xgate::store::store_errc::not_found ? exit_not_found : exit_unavailable, e.what());
  } catch (const std::exception& e) {
    return fail(exit_unavailable, e.what());
  }
}
