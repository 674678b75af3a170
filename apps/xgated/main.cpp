// xgated: serves one xgate store over HTTP (server/API.md), with a read-only browser view,
// and optionally the channel hub (channel/hub.hpp) on the same store.
//
//   xgated --data DIR|URI --listen ADDRESS:PORT [--hub ADDRESS:PORT] [--hub-http ADDRESS:PORT]
//          [--max-document BYTES] [--reap-interval SECONDS] [--log-days N] [--hub-admin NAME]...
//          [--kept-changes N] [--kept-age SECONDS]
//          [--max-response BYTES] [--threads N] [--store-threads N] [--max-connections N]
//          [--max-connections-per-address N] [--idle-timeout S] [--header-timeout S] [--body-timeout S]
//          [--query-time S] [--query-memory BYTES]
//          [--tls-cert FILE --tls-key FILE [--tls-ca FILE [--client-cert-auth]]] [--insecure]
//          [--log-level LEVEL] [--log-format text|json] [--log-file FILE]
//       (the HTTP server's limits, server/API.md "Limits"; TLS, server/API.md "TLS")
//       prints one line per service on stdout, the chosen port for port 0:
//         store: http://ADDRESS:PORT          (https:// with --tls-cert)
//         hub: tcp://ADDRESS:PORT2            (with --hub; tls:// with --tls-cert)
//         hub-http: http://ADDRESS:PORT3      (with --hub-http: the hub over HTTP long-poll; https://)
//       Without --tls-cert every address must be a loopback one unless --insecure is given:
//       across machines, tokens and documents travel only encrypted.
//       GET /metrics, /healthz and /readyz answer without a token (server/API.md "Metrics and
//       health"); with a hub, /metrics has its families and /readyz waits for it to accept.
//       then logs each request (and the hub's logins and refusals) on stderr (or --log-file;
//       --log-format json, --log-level), reopens the log file on SIGHUP, and stops
//       cleanly on SIGINT or SIGTERM (exit 0), cancelling running queries; whatever still
//       runs after 4 seconds is cut short (exit 1, the store is safe: its commits are atomic).
//       --data takes a directory (LMDB) or a PostgreSQL URI (postgresql://…; several xgated
//       may share one database).
//       --hub-admin names a principal whose documents under channel/endpoints/ say who may
//       take endpoint names outside their own (channel/hub.hpp); without it every principal
//       takes only its own names.
//   xgated adduser NAME --data DIR|URI
//       issues a login token for principal NAME (every right on every name) and prints it
//       once on stdout; the store keeps only its hash.
//
// Exit codes: 0 ok, 1 a runtime failure (the store cannot be opened, the address cannot be
// bound), 2 bad flags. Failures print one line on stderr.
#include <atomic>
#include <arpa/inet.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include <xgate/base/text.hpp>
#include <xgate/base/log.hpp>
#include <xgate/base/metrics.hpp>
#include <xgate/version.hpp>
#include <xgate/channel/hub.hpp>
#include <xgate/channel/longpoll.hpp>
#include <xgate/channel/tcp.hpp>
#include <xgate/server/http_server.hpp>
#include <xgate/store/open.hpp>
#include <xgate/store/store.hpp>

namespace {

constexpr int exit_runtime = 1, exit_usage = 2;

using xgate::channel::parse_listen;
using xgate::one_line;

int usage(const std::string& message) {
  std::cerr << "xgated: " << one_line(message) << " (see xgated --help)\n";
  return exit_usage;
}

int adduser(const std::string& name, const std::string& data) {
  if (!xgate::is_valid_principal(name) || name == "*" || name == "creator")
    return usage("adduser: \"" + name + "\" is not a principal name (no spaces, quotes, '<', '&' or control characters)");
  xgate::store::store s(xgate::store::open_engine(data));
  xgate::store::credential_request r;
  r.scope = "";
  r.rights = xgate::store::right_set::all();
  r.label = "login";
  std::string token = s.issue_credential(xgate::store::caller(name), r);
  std::cout << token << std::endl;
  return 0;
}

// 127.0.0.0/8 and ::1: what never leaves the machine.
bool is_loopback(const std::string& address) {
  unsigned char bytes[16];
  if (::inet_pton(AF_INET, address.c_str(), bytes) == 1) return bytes[0] == 127;
  if (::inet_pton(AF_INET6, address.c_str(), bytes) == 1) {
    static const unsigned char one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::equal(bytes, bytes + 16, one);
  }
  return false;
}

// Room for every connection the limits allow: the soft limit on open files is often 1024.
void raise_open_files() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
}

// The hub's families for GET /metrics.
void write_hub_metrics(xgate::metrics::text& out, const xgate::channel::hub_stats& st) {
  out.family("xgate_hub_endpoints_online", "gauge", "Endpoints logged in to the hub now.");
  out.sample("xgate_hub_endpoints_online", {}, static_cast<double>(st.online));
  out.family("xgate_hub_connections_open", "gauge", "Hub connections (TCP and long-poll sessions) open now.");
  out.sample("xgate_hub_connections_open", {}, static_cast<double>(st.connections));
  out.family("xgate_hub_messages_queued", "gauge", "Messages in the hub's queues, committed and not yet acknowledged by their receivers.");
  out.sample("xgate_hub_messages_queued", {}, static_cast<double>(st.queued));
  out.family("xgate_hub_messages_forwarded_total", "counter",
             "Messages in: the hub committed them to their receivers' queues and handed them on.");
  out.sample("xgate_hub_messages_forwarded_total", {}, static_cast<double>(st.messages_forwarded));
  out.family("xgate_hub_messages_delivered_total", "counter", "Messages out: acknowledged by their receivers.");
  out.sample("xgate_hub_messages_delivered_total", {}, static_cast<double>(st.messages_delivered));
  out.family("xgate_hub_messages_refused_total", "counter", "Messages and connections the hub refused.");
  out.sample("xgate_hub_messages_refused_total", {}, static_cast<double>(st.messages_refused));
  out.family("xgate_hub_commits_total", "counter", "Store batches the hub committed (group commits).");
  out.sample("xgate_hub_commits_total", {}, static_cast<double>(st.commits));
}

int serve(const std::string& data, const std::string& listen, const std::string& hub_listen,
          const std::string& hub_http_listen, xgate::server::server_options o, double reap_seconds, unsigned log_days,
          const std::vector<std::string>& hub_admins, bool insecure, const xgate::log_settings& logging,
          const xgate::store::store_options& kept) {
  const bool tls = !o.tls.certificate.empty();
  if (o.tls.certificate.empty() != o.tls.key.empty()) return usage("--tls-cert and --tls-key go together");
  if (!o.tls.ca.empty() && !tls) return usage("--tls-ca needs --tls-cert and --tls-key");
  if (o.tls.require_client_certificate && o.tls.ca.empty())
    return usage("--client-cert-auth needs --tls-ca, the CA that signs the client certificates");
  // Secure by default: nothing leaves the machine in the clear unless asked for.
  auto refuse_clear = [&](const char* flag, const std::string& address) {
    return usage(std::string(flag) + " " + address + " is not a loopback address: give --tls-cert and --tls-key to serve it "
                 "with TLS, or --insecure to serve it in the clear");
  };
  if (!parse_listen(listen, o.address, o.port)) return usage("--listen: \"" + listen + "\" is not ADDRESS:PORT");
  if (!tls && !insecure && !is_loopback(o.address)) return refuse_clear("--listen", listen);
  xgate::channel::tcp_server_options ho;
  if (!hub_listen.empty() && !parse_listen(hub_listen, ho.address, ho.port))
    return usage("--hub: \"" + hub_listen + "\" is not ADDRESS:PORT");
  if (!hub_listen.empty() && !tls && !insecure && !is_loopback(ho.address)) return refuse_clear("--hub", hub_listen);
  ho.tls = o.tls;
  xgate::channel::longpoll_server_options lo;
  if (!hub_http_listen.empty() && !parse_listen(hub_http_listen, lo.address, lo.port))
    return usage("--hub-http: \"" + hub_http_listen + "\" is not ADDRESS:PORT");
  if (!hub_http_listen.empty() && !tls && !insecure && !is_loopback(lo.address)) return refuse_clear("--hub-http", hub_http_listen);
  lo.tls = o.tls;
  for (const std::string& a : hub_admins)
    if (!xgate::is_valid_principal(a) || a == "*" || a == "creator")
      return usage("--hub-admin: \"" + a + "\" is not a principal name");
  std::unique_ptr<xgate::logger> log;
  try {
    log = xgate::open_logger(logging);
  } catch (const std::invalid_argument& e) {
    return usage(e.what());
  }
  o.log = log.get();
  raise_open_files();
  // Signals are taken by sigwait() below; blocked before any thread starts so that every
  // thread inherits the mask and none of them gets SIGINT/SIGTERM delivered.
  const sigset_t signals = xgate::block_daemon_signals();

  xgate::store::store_options so = kept;
  so.max_document_size = std::max<std::size_t>(so.max_document_size, o.max_document);
  xgate::store::store s(xgate::store::open_engine(data), so);
  auto interval = std::chrono::duration_cast<xgate::store::clock::duration>(std::chrono::duration<double>(reap_seconds));
  xgate::store::reaper reaper(s, interval);
  // The hub: one store, so its queues and log are documents like any other. Declared before
  // the server, whose /metrics and /readyz ask it (through `serving`, set once it accepts).
  std::optional<xgate::channel::hub> hub;
  std::optional<xgate::channel::tcp_hub_server> hub_server;
  std::optional<xgate::channel::longpoll_hub_server> hub_http;
  std::atomic<const xgate::channel::hub*> serving{nullptr};
  const bool with_hub = !hub_listen.empty() || !hub_http_listen.empty();
  o.more_metrics = [&serving, &reaper](xgate::metrics::text& out) {
    out.family("xgate_store_leases_expired_total", "counter", "Leased documents removed at their expiry since xgated started.");
    out.sample("xgate_store_leases_expired_total", {}, static_cast<double>(reaper.removed()));
    if (const xgate::channel::hub* h = serving.load()) write_hub_metrics(out, h->stats());
  };
  o.readiness = [&serving, with_hub]() -> std::string {
    return with_hub && !serving.load() ? "the hub is not accepting yet" : "";
  };
  xgate::server::http_server server(s, o);
  server.start();
  std::cout << "store: " << server.url() << std::endl;
  if (!hub_listen.empty() || !hub_http_listen.empty()) {
    hub.emplace(s, xgate::channel::hub_options{.context = "xgated hub@" + (hub_listen.empty() ? hub_http_listen : hub_listen),
                                               .max_failed_logins = o.max_failed_logins,
                                               .failed_login_window = o.failed_login_window,
                                               .administrators = hub_admins,
                                               .log = log.get(),
                                               .log_days = log_days});
  }
  if (!hub_listen.empty()) {
    hub_server.emplace(*hub, ho);
    hub_server->start();
    std::cout << "hub: " << hub_server->url() << std::endl;
  }
  if (!hub_http_listen.empty()) {
    hub_http.emplace(*hub, lo);
    hub_http->start();
    std::cout << "hub-http: " << hub_http->url() << std::endl;
  }
  if (hub) serving = &*hub;
  // SIGHUP: the log file again (logrotate moved it) and, with TLS, the certificate and key
  // (renewed); the service goes on.
  xgate::wait_for_stop(signals, *log, "xgated", [&] {
    if (!tls) return;
    server.reload_tls();
    if (hub_server) hub_server->reload_tls();
    if (hub_http) hub_http->reload_tls();
    log->write(xgate::log_level::info, "xgated", "SIGHUP: certificate " + o.tls.certificate.string() + " loaded for new connections");
  });
  // Stopping waits for in-flight store calls; none should take long once queries are
  // cancelled, but a stop must be bounded whatever runs.
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::seconds(4));
    std::cerr << "xgated: still stopping after 4 s; exiting now" << std::endl;
    std::_Exit(exit_runtime);
  }).detach();
  serving = nullptr;
  if (hub_http) hub_http->stop();
  if (hub_server) hub_server->stop();
  if (hub) hub->stop();
  server.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xgated: serves an xgate store over HTTP"};
  app.set_version_flag("--version", std::string("xgated ") + xgate::version, "Print the version and exit");
  std::string data, listen, hub_listen, hub_http_listen;
  xgate::server::server_options o;
  double reap_seconds = 1;
  double idle_seconds = 60, header_seconds = 10, body_seconds = 60;
  app.add_option("--data", data,
                 "the store: a directory (LMDB, created if missing) or a PostgreSQL database, postgresql://USER@HOST:PORT/DB "
                 "(libpq URI: several hosts, ?sslmode=…, the password from ~/.pgpass or PGPASSWORD)")
      ->type_name("DIR|URI");
  app.add_option("--listen", listen, "where to listen, e.g. 127.0.0.1:8080 (port 0 picks a free port)")
      ->type_name("ADDRESS:PORT");
  app.add_option("--hub", hub_listen, "also run the channel hub, on TCP at this address (port 0 picks a free port)")
      ->type_name("ADDRESS:PORT");
  app.add_option("--hub-http", hub_http_listen,
                 "also run the channel hub over HTTP long-poll at this address (port 0 picks a free port)")
      ->type_name("ADDRESS:PORT");
  xgate::store::store_options kept;
  std::uint64_t kept_age_seconds = 0;
  app.add_option("--kept-changes", kept.kept_changes,
                 "changes kept for watches; a watch further behind gets 410 history_lost and lists again "
                 "(default 100000)")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  app.add_option("--kept-age", kept_age_seconds, "also drop kept changes older than this (default: no age limit)")
      ->type_name("SECONDS")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-document", o.max_document, "largest request body accepted, in bytes (default 16 MiB)")
      ->type_name("BYTES")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-response", o.max_response,
                 "largest query answer or document view sent, in bytes; larger ones get 507 (default 64 MiB)")
      ->type_name("BYTES")
      ->check(CLI::PositiveNumber);
  double query_seconds = 5;
  app.add_option("--query-time", query_seconds,
                 "a query running longer is stopped and answered 422 query_too_expensive (default 5)")
      ->type_name("SECONDS")
      ->check(CLI::PositiveNumber);
  app.add_option("--query-memory", o.query_memory,
                 "a query needing more memory is stopped and answered 422 query_too_expensive (default 512 MiB)")
      ->type_name("BYTES")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-queries", o.max_queries,
                 "queries evaluating at once; one more is answered 503 unavailable (default: max(2, hardware "
                 "threads), fewer than --store-threads)")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-failed-logins", o.max_failed_logins,
                 "failed logins from one address within --failed-login-window after which its requests with a token "
                 "are answered 429, and its hub logins refused, until the window ends; 0 = no limit (default 20)")
      ->type_name("N");
  double failed_login_seconds = 60;
  app.add_option("--failed-login-window", failed_login_seconds,
                 "the window of --max-failed-logins, from an address's first failure (default 60)")
      ->type_name("SECONDS")
      ->check(CLI::Range(1.0, 86400.0));
  app.add_option("--threads", o.threads, "threads doing network I/O (default: max(2, hardware threads))")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  app.add_option("--store-threads", o.store_threads,
                 "threads running store operations, which block on the disk and share commits (default 32)")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-connections", o.max_connections,
                 "open connections in total; one more is answered 503 and closed (default 4096)")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-connections-per-address", o.max_connections_per_address,
                 "open connections from one client address; one more is answered 503 and closed (default 256)")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  app.add_option("--idle-timeout", idle_seconds,
                 "close a connection that starts no request, or takes no response, for this long (default 60)")
      ->type_name("SECONDS")
      ->check(CLI::PositiveNumber);
  app.add_option("--header-timeout", header_seconds,
                 "close a connection whose request headers are not complete this long after their first byte (default 10)")
      ->type_name("SECONDS")
      ->check(CLI::PositiveNumber);
  app.add_option("--body-timeout", body_seconds,
                 "close a connection whose request body is not complete this long after its headers (default 60)")
      ->type_name("SECONDS")
      ->check(CLI::PositiveNumber);
  app.add_option("--reap-interval", reap_seconds, "how often expired leases are removed, in seconds (default 1)")
      ->type_name("SECONDS")
      ->check(CLI::PositiveNumber);
  unsigned log_days = 0;
  app.add_option("--log-days", log_days,
                 "keep the hub's message log for this many days (UTC, today included); 0 = forever (default)")
      ->type_name("N");
  std::vector<std::string> hub_admins;
  app.add_option("--hub-admin", hub_admins,
                 "a principal whose documents under channel/endpoints/ say who may take other endpoint names "
                 "(repeatable; default: none, each principal takes only its own names)")
      ->type_name("NAME");
  app.add_option("--tls-cert", o.tls.certificate,
                 "serve the HTTP API, the browser view and the hub with TLS (1.2 at least), presenting this "
                 "certificate (PEM, e.g. from xgate certs issue)")
      ->type_name("FILE");
  app.add_option("--tls-key", o.tls.key, "the private key of --tls-cert (PEM; refused unless only its owner may read it)")
      ->type_name("FILE");
  app.add_option("--tls-ca", o.tls.ca,
                 "accept client certificates signed by this CA (PEM); a verified certificate's common name is a "
                 "principal: a request without a token acts as it")
      ->type_name("FILE");
  app.add_flag("--client-cert-auth", o.tls.require_client_certificate,
               "mutual TLS: refuse clients without a certificate signed by --tls-ca");
  xgate::log_settings logging;
  xgate::add_log_flags(app, logging);  // info: the access log
  bool insecure = false;
  app.add_flag("--insecure", insecure,
               "allow serving a non-loopback address without TLS (tokens and documents then travel in the clear)");
  CLI::App* add = app.add_subcommand("adduser", "issue a login token for principal NAME and print it once");
  std::string name, add_data;
  add->add_option("name", name, "the principal")->required();
  add->add_option("--data", add_data, "the store: a directory or a postgresql:// URI")->required()->type_name("DIR|URI");
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help
  } catch (const CLI::ParseError& e) {
    return usage(e.what());
  }
  try {
    if (add->parsed()) return adduser(name, add_data);
    if (data.empty()) return usage("--data is required");
    if (listen.empty()) return usage("--listen is required");
    auto ms = [](double seconds) {  // at least 1 ms, at most about 30 years
      return std::chrono::milliseconds(static_cast<std::int64_t>(std::clamp(seconds * 1000, 1.0, 1e12)));
    };
    o.idle_timeout = ms(idle_seconds);
    o.header_timeout = ms(header_seconds);
    o.body_timeout = ms(body_seconds);
    o.query_time = ms(query_seconds);
    o.failed_login_window = std::chrono::seconds(static_cast<std::int64_t>(failed_login_seconds));
    kept.kept_age = std::chrono::seconds(kept_age_seconds);
    return serve(data, listen, hub_listen, hub_http_listen, o, reap_seconds, log_days, hub_admins, insecure, logging, kept);
  } catch (const std::exception& e) {
    std::cerr << "xgated: " << one_line(e.what()) << "\n";
    return exit_runtime;
  }
}
