#include <xgate/nodes/node_main.hpp>

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include <xgate/base/text.hpp>
#include <xgate/channel/tcp.hpp>
#include <xgate/migrate/job_library.hpp>
#include <xgate/nodes/daemon.hpp>
#include <xgate/server/ops_server.hpp>
#include <xgate/store/error.hpp>
#include <xgate/version.hpp>

namespace xgate::nodes {

using namespace std::chrono_literals;

namespace {

// node_main.hpp's exit codes: migrate's (apps/migrate/cli.hpp).
constexpr int exit_ok = 0, exit_usage = 1, exit_denied = 2, exit_unavailable = 7;

// "sum-squares 1, word-count 1": for the log and the "types:" line.
std::string type_list(const std::vector<const migrate::job_type*>& types) {
  std::string out;
  for (const migrate::job_type* t : types) out += (out.empty() ? "" : ", ") + t->name + " " + std::to_string(t->version);
  return out;
}

int fail(int code, const std::string& message) {
  std::cout.flush();
  std::cerr << "error: " << one_line(message) << "\n";
  return code;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

void add_node_flags(CLI::App& command, node_flags& f) {
  command.add_option("--name", f.name, "The node's name (its endpoint is PRINCIPAL/NAME)")->required();
  command.add_option("--hub", f.hub, "The hub: tcp://HOST:PORT, tls://HOST:PORT (its CA from $XGATE_CA), or xmpp://USER@DOMAIN:PORT?ca=FILE; hubs sharing one store as URL,URL,... (tried in turn) (default $XGATE_HUB)")->type_name("URL");
  command.add_option("--secret-file", f.secret_file, "File holding the credential token (default $XGATE_SECRET_FILE)")
      ->type_name("FILE");
  command.add_option("--store", f.store, "The store of the xgated running the hub: http://HOST:PORT or https://HOST:PORT (its CA from $XGATE_CA); xgated replicas on one database as URL,URL,... (default $XGATE_STORE)")
      ->type_name("URL");
  command.add_option("--jobs", f.libraries,
                     "Load the job types of this job library (a shared library built with xgate_add_job_library "
                     "against this xgate version; repeatable)")
      ->type_name("FILE");
  command.add_option("--types", f.types, "Host only these job types (default: every type built into the program or loaded with --jobs)")
      ->type_name("TYPE")
      ->delimiter(',');
  command.add_option("--workers", f.workers, "Threads running job bodies (default 2)")->check(CLI::Range(1, 256));
  command.add_option("--checkpoint-ms", f.checkpoint_ms, "Save a running job at least this often (default 1000)")
      ->check(CLI::Range(1L, 3600000L));
  command.add_option("--store-token-file", f.store_token_file,
                     "File holding the store's token when it is not the hub secret; required with an xmpp:// hub, whose "
                     "secret is the XMPP password (default $XGATE_STORE_TOKEN_FILE)")
      ->type_name("FILE");
  xgate::add_log_flags(command, f.logging);
  command.add_option("--metrics", f.metrics,
                     "Serve GET /metrics (Prometheus text), /healthz and /readyz over plain HTTP here; numbers only, no "
                     "tokens or names (port 0 picks a free port; its URL is printed as \"metrics: URL\")")
      ->type_name("ADDRESS:PORT");
  command.add_flag("--allow-empty", f.allow_empty, "Start even when the program hosts no job type");
}

int run_node(const node_flags& f) {
  daemon_options o;
  o.name = f.name;
  o.hub = f.hub.empty() ? env("XGATE_HUB") : f.hub;
  o.secret_file = f.secret_file.empty() ? env("XGATE_SECRET_FILE") : f.secret_file;
  o.store = f.store.empty() ? env("XGATE_STORE") : f.store;
  o.store_token_file = f.store_token_file.empty() ? env("XGATE_STORE_TOKEN_FILE") : f.store_token_file;
  o.workers = f.workers;
  o.checkpoint_interval = std::chrono::milliseconds(f.checkpoint_ms);
  try {
    xgate::check_log_settings(f.logging);
  } catch (const std::invalid_argument& e) {
    return fail(exit_usage, std::string("migrate node: ") + e.what());
  }
  // The types built into the program, and those of the job libraries (--jobs).
  migrate::job_registry known;
  for (const migrate::job_type* t : migrate::job_registry::global().all()) known.add(*t);
  std::vector<std::string> loaded;  // for the log, once it is open
  for (const std::string& path : f.libraries) {
    try {
      loaded.push_back("loaded job library " + path + ": " + type_list(migrate::load_job_library(path, known)));
    } catch (const migrate::migrate_error& e) {
      return fail(exit_usage, "migrate node " + f.name + ": --jobs: " + e.detail());
    }
  }
  // --types: host only these of them (a node may lack a type, e.g. to test refusals).
  migrate::job_registry only;
  for (const std::string& t : f.types) {
    const migrate::job_type* found = known.find(t);
    if (!found) return fail(exit_usage, "migrate node: --types: no job type \"" + t + "\" in this program or its --jobs libraries");
    only.add(*found);
  }
  o.jobs = f.types.empty() ? &known : &only;
  if (o.jobs->all().empty() && !f.allow_empty)
    return fail(exit_usage, "migrate node " + f.name + ": this program hosts no job type (load a job library with --jobs "
                            "FILE, link your jobs into the program with XGATE_JOB in one of its files, or give --allow-empty)");
  if (o.hub.empty()) return fail(exit_usage, "migrate node: no hub: give --hub URL or set XGATE_HUB");
  if (o.secret_file.empty()) return fail(exit_usage, "migrate node: no secret: give --secret-file FILE or set XGATE_SECRET_FILE");
  if (o.hub.starts_with("xmpp://") && o.store_token_file.empty())
    return fail(exit_usage, "migrate node: an xmpp:// hub's secret is the XMPP password: give the store's token with "
                            "--store-token-file FILE or XGATE_STORE_TOKEN_FILE");
  if (o.store.empty())
    return fail(exit_usage, "migrate node: no store: give --store URL (the store: line of the xgated running the hub) or set XGATE_STORE");
  xgate::server::ops_options mo;
  if (!f.metrics.empty() && !channel::parse_listen(f.metrics, mo.address, mo.port))
    return fail(exit_usage, "migrate node: --metrics: \"" + f.metrics + "\" is not ADDRESS:PORT");
  // SIGINT/SIGTERM/SIGHUP are taken by sigwait below: blocked before any thread starts.
  const sigset_t signals = xgate::block_daemon_signals();
  std::unique_ptr<xgate::logger> log;
  try {
    log = xgate::open_logger(f.logging);
  } catch (const std::exception& e) {
    return fail(exit_unavailable, "migrate node " + f.name + ": " + e.what());
  }
  o.log = log.get();
  for (const std::string& line : loaded) log->write(xgate::log_level::info, "node " + f.name, line);
  std::optional<node_daemon> d;
  try {
    d.emplace(o);
  } catch (const std::invalid_argument& e) {
    return fail(exit_usage, std::string("migrate node ") + f.name + ": " + e.what());
  } catch (const migrate::migrate_error& e) {
    return fail(e.code() == migrate::migrate_errc::bad_argument ? exit_usage : exit_unavailable,
                std::string("migrate node ") + f.name + ": " + e.what());
  } catch (const xgate::store::store_error& e) {
    return fail(e.code() == xgate::store::store_errc::bad_credential ? exit_denied : exit_unavailable,
                std::string("migrate node ") + f.name + ": store " + o.store + ": " + e.what());
  } catch (const std::exception& e) {
    return fail(exit_unavailable, std::string("migrate node ") + f.name + ": " + e.what());
  }
  // Up before the hub login, so that a probe sees "not ready" rather than nothing.
  std::optional<xgate::server::ops_server> ops;
  if (!f.metrics.empty()) {
    mo.metrics = [&d](xgate::metrics::text& out) { d->write_metrics(out); };
    mo.readiness = [&d] { return d->readiness(); };
    ops.emplace(mo);
    try {
      ops->start();
    } catch (const std::exception& e) {
      return fail(exit_unavailable, "migrate node " + f.name + ": --metrics: " + e.what());
    }
  }
  try {
    if (!d->wait_connected(30s))
      return fail(exit_unavailable, "migrate node " + f.name + ": cannot reach the hub " + o.hub + " within 30 s");
  } catch (const std::exception& e) {
    return fail(exit_denied, "migrate node " + f.name + ": the hub " + o.hub + " refused " + d->endpoint_name() + ": " + e.what());
  }
  std::cout << "node: " << f.name << "\nendpoint: " << d->endpoint_name() << "\nstore: " << o.store
            << "\ntypes: " << type_list(d->runtime().jobs().all())
            << (ops ? "\nmetrics: " + ops->url() : "") << "\nready" << std::endl;
  xgate::wait_for_stop(signals, *log, "node " + f.name);
  log->write(xgate::log_level::info, "node " + f.name, "stopping: suspending its jobs");
  d->suspend_all();
  ops.reset();
  d.reset();
  return exit_ok;
}

int node_main(int argc, char** argv) {
  CLI::App app{"A migrate node daemon hosting this program's job types (until SIGINT/SIGTERM, which suspends its jobs)"};
  app.set_version_flag("--version", std::string("xgate node ") + xgate::version, "Print the version and exit");
  node_flags f;
  add_node_flags(app, f);
  app.footer("Exit codes: 0 stopped cleanly, 1 bad flags, a job library that cannot be loaded, or no job type, 2 credential refused, 7 hub, store or "
             "address unreachable.\nEnvironment: XGATE_HUB, XGATE_SECRET_FILE, XGATE_STORE, XGATE_STORE_TOKEN_FILE, XGATE_CA.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return fail(exit_usage, e.what());
  }
  return run_node(f);
}

}  // namespace xgate::nodes
