#include <xgate/nodes/daemon.hpp>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <type_traits>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <xgate/channel/agent.hpp>
#include <xgate/channel/endpoint.hpp>
#include <xgate/channel/method.hpp>
#include <xgate/client/http_session.hpp>
#include <xgate/nodes/protocol.hpp>
#include <xgate/store/store.hpp>

#include "wire.hpp"

namespace xgate::nodes {

using namespace xgate::migrate;  // the runtime these files put on the channel

namespace ch = xgate::channel;
using steady = std::chrono::steady_clock;
using namespace protocol;

struct node_daemon::impl {
  daemon_options opt;
  std::string token;
  std::unique_ptr<store::session> js;
  std::string principal, endpoint_name, store_address;
  std::optional<node> runtime;
  ch::methods methods{ch::method_options{.workers = 8}};  // before the endpoint (method.hpp)
  ch::router routes;                    // likewise: callers behind relay agents
  detail::follow_peer_streams streams;  // before the endpoint, which calls it
  std::optional<ch::endpoint> ep;
  std::atomic<bool> stopping{false};
  std::thread accepting;  // routes opened to this node: their calls go to the methods
  // Moves out of this node, from the job's safe point here to its body running on the target.
  xgate::metrics::histogram move_downtime{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  std::atomic<std::uint64_t> moves_failed{0};

  explicit impl(daemon_options o) : opt(std::move(o)) {
    token = opt.secret.empty() ? detail::read_secret_file(opt.secret_file) : opt.secret;
    if (opt.store.empty()) throw std::invalid_argument("no store: the node needs the xgated store URL (--store)");
    // The store token: its own when given (an xmpp:// hub's secret is a password), else the hub's.
    std::string store_token = !opt.store_token.empty()      ? opt.store_token
                              : !opt.store_token_file.empty() ? detail::read_secret_file(opt.store_token_file)
                                                              : token;
    js = pooled_session([url = opt.store, store_token] { return client::http_session(url, store_token); });
    principal = js->principal();
    store_address = js->address();
    endpoint_name = principal + "/" + opt.name;
    runtime.emplace(*js, node_options{.name = opt.name,
                                      .jobs = opt.jobs,
                                      .workers = opt.workers,
                                      .checkpoint_interval = opt.checkpoint_interval});
    serve();
    ch::endpoint_options eo;
    eo.hub = opt.hub;
    eo.name = endpoint_name;
    eo.secret = token;
    eo.on_message = streams.wrap(routes.on_message(methods.on_message()));
    eo.on_error = methods.on_error();
    ep.emplace(std::move(eo));
    streams.ep = &*ep;
    methods.bind(*ep);
    routes.bind(*ep);
    ep->start();
    accepting = std::thread([this] {
      while (!stopping)
        if (auto r = routes.accept(std::chrono::milliseconds(100))) {
          say("route " + r->id() + " from " + r->peer() + " accepted");
          methods.attach(std::move(r));
        }
    });
  }

  ~impl() {
    stopping = true;
    accepting.join();
    methods.unbind();
    routes.unbind();
    if (ep) ep->stop();
    runtime.reset();
  }

  void say(const std::string& line, log_level level = log_level::info) {
    if (opt.log) opt.log->write(level, "node " + opt.name, line);
  }

  std::string node_endpoint(const std::string& node) const { return principal + "/" + node; }
  bool is_online(const std::string& endpoint) const {
    for (const std::string& e : ep->online())
      if (e == endpoint) return true;
    return false;
  }
  // Who a call acts for: the caller's principal, or the user a fellow node acts for.
  std::string who(const ch::call_info& info, const std::string& on_behalf = {}) const {
    std::string p = detail::principal_of(info.caller);
    if (!on_behalf.empty() && p == principal) return on_behalf;
    return p;
  }

  // Runs fn, turning a failure into the reply's code and error. Logged: failures, and
  // what changes a job (quiet: reads, which watchers repeat several times a second).
  template <class Reply, class F>
  Reply guarded(const std::string& what, F&& fn, bool quiet = false) {
    Reply r;
    const auto t0 = steady::now();
    try {
      fn(r);
    } catch (...) {
      detail::fill_error(r, std::current_exception());
    }
    char took[32];
    std::snprintf(took, sizeof took, " [%.1f ms]", std::chrono::duration<double, std::milli>(steady::now() - t0).count());
    if (!r.code.empty()) say(what + ": " + r.code + ": " + r.error + took, log_level::warning);
    else if (!quiet) say(what + ": ok" + note(r) + took);
    return r;
  }
  template <class Reply>
  static std::string note(const Reply& r) {
    if constexpr (std::is_same_v<Reply, status_reply>) return ", " + std::string(to_string(r.job.state)) + " on " + r.job.node + " (epoch " + std::to_string(r.job.epoch) + ")";
    else if constexpr (std::is_same_v<Reply, move_reply>) {
      char b[96];
      using msd = std::chrono::duration<double, std::milli>;
      std::snprintf(b, sizeof b, ", downtime %.1f ms (saving %.1f ms)", msd(r.downtime).count(), msd(r.saved).count());
      return b;
    } else return "";
  }

  template <class Args, class Result>
  void method(const char* name, Result (impl::*fn)(const Args&, const ch::call_info&)) {
    methods.serve<Args, Result>(name, [this, fn](const Args& a, const ch::call_info& i) { return (this->*fn)(a, i); });
  }

  void serve() {
    method("hosts", &impl::hosts);
    method("run", &impl::run);
    method("status", &impl::status);
    method("list", &impl::list);
    method("suspend", &impl::suspend);
    method("resume", &impl::resume);
    method("move", &impl::move);
    method("kill", &impl::kill);
    method("result", &impl::result);
    method("log", &impl::log);
  }

  hosts_reply hosts(const hosts_args& a, const ch::call_info& i) {
    return guarded<hosts_reply>("hosts " + a.type + " for " + i.caller, [&](hosts_reply& r) {
      r.node = opt.name;
      r.store = store_address;
      for (const job_type* t : runtime->jobs().all())
        r.types.push_back(info_of(*t));
      r.running = runtime->hosted();
      if (!a.type.empty()) {
        try {
          runtime->jobs().accept(a.type, a.version, "", opt.name);
          r.accepts = true;
        } catch (const migrate_error& e) {
          r.accepts = false;
          r.code = to_string(e.reason());
          r.error = e.detail();
        }
      }
    }, true);
  }

  status_reply run(const run_args& a, const ch::call_info& i) {
    return guarded<status_reply>("run " + a.type + " for " + i.caller, [&](status_reply& r) {
      const std::string user = who(i);
      std::string id = runtime->submit(a.type, a.args, user, {.id = a.id});
      runtime->wait_arguments_read(id, std::chrono::seconds(2));  // a bad argument: refused here, exit 4
      r.job = info_of(runtime->status(id, user));
    });
  }

  status_reply status(const job_args& a, const ch::call_info& i) {
    return guarded<status_reply>("status " + a.id + " for " + i.caller,
                                 [&](status_reply& r) { r.job = info_of(runtime->status(a.id, who(i))); }, true);
  }

  list_reply list(const list_args& a, const ch::call_info& i) {
    return guarded<list_reply>("list for " + i.caller, [&](list_reply& r) {
      for (const job_status& s : runtime->list(who(i)))
        if (s.id.starts_with(a.prefix)) r.jobs.push_back(info_of(s));
    }, true);
  }

  status_reply suspend(const job_args& a, const ch::call_info& i) {
    return guarded<status_reply>("suspend " + a.id + " for " + i.caller,
                                 [&](status_reply& r) { r.job = info_of(runtime->suspend(a.id, who(i))); });
  }

  status_reply kill(const job_args& a, const ch::call_info& i) {
    return guarded<status_reply>("kill " + a.id + " for " + i.caller,
                                 [&](status_reply& r) { r.job = info_of(runtime->kill(a.id, who(i))); });
  }

  result_reply result(const job_args& a, const ch::call_info& i) {
    return guarded<result_reply>("result " + a.id + " for " + i.caller,
                                 [&](result_reply& r) {
      // Each call issues a credential: an hour is enough to fetch, and the store sheds them.
      results::grant_options g;
      g.ttl = std::chrono::hours(1);
      r.ref = runtime->result(a.id, who(i), g);
    }, true);
  }

  log_reply log(const job_args& a, const ch::call_info& i) {
    return guarded<log_reply>("log " + a.id + " for " + i.caller,
                              [&](log_reply& r) { r.entries = runtime->log(a.id, who(i)); }, true);
  }

  status_reply resume(const resume_args& a, const ch::call_info& i) {
    return guarded<status_reply>("resume " + a.id + " for " + i.caller, [&](status_reply& r) {
      const std::string user = who(i, a.on_behalf);
      job_status st = runtime->status(a.id, user);
      resume_options ro;
      ro.handed_epoch = a.handed_epoch;
      if (a.handed_epoch == 0 && st.state == job_state::running && st.node != opt.name) {
        // Taking over from a node that still runs the job would stop it at its next
        // checkpoint and lose the work since: only when it is gone, or when asked to.
        if (!a.force && is_online(node_endpoint(st.node)))
          throw migrate_error(migrate_errc::wrong_state, a.id,
                              "node \"" + st.node + "\" is online and runs the job (epoch " + std::to_string(st.epoch) +
                                  "): move it instead, or take it over with --force");
        ro.force = true;
      }
      runtime->resume(a.id, user, ro);
      runtime->wait_started(a.id, opt.call_timeout);
      r.job = info_of(runtime->status(a.id, user));
    });
  }

  move_reply move(const move_args& a, const ch::call_info& i) {
    return guarded<move_reply>("move " + a.id + " to " + a.to + " for " + i.caller, [&](move_reply& r) {
      const std::string user = who(i);
      job_status st = runtime->status(a.id, user);
      if (st.state != job_state::running || st.node != opt.name)
        throw migrate_error(migrate_errc::not_here, a.id,
                            "the job is " + std::string(to_string(st.state)) + " on node \"" + st.node +
                                "\", not running on node \"" + opt.name + "\"");
      if (a.to == opt.name) throw migrate_error(migrate_errc::wrong_state, a.id, "the job runs on node \"" + a.to + "\" already");
      const std::string target = node_endpoint(a.to);
      if (!ch::is_valid_endpoint(target))
        throw migrate_error(migrate_errc::unknown_node, a.id, "\"" + a.to + "\" is not a valid node name");
      // Behind relay agents: a route to the target carries both calls (closed when done).
      std::shared_ptr<ch::route> via;
      struct close_route {
        std::shared_ptr<ch::route>& r;
        ~close_route() {
          if (r) r->close();
        }
      } closer{via};
      if (a.via.empty()) {
        if (!is_online(target))
          throw migrate_error(migrate_errc::unknown_node, a.id,
                              "node \"" + a.to + "\" is not online (no endpoint " + target + " on the hub)");
      } else {
        std::vector<std::string> path = a.via;
        path.push_back(target);
        try {
          via = routes.open(path, opt.call_timeout);
        } catch (const ch::channel_error& e) {
          throw migrate_error(migrate_errc::unknown_node, a.id,
                              "node \"" + a.to + "\" cannot be reached: " + e.what() + "; the job keeps running on node \"" +
                                  opt.name + "\"");
        }
      }
      auto call_target = [&]<class Result, class Args>(const char* method, const Args& args) {
        return via ? methods.call<Result>(via, method, args, opt.call_timeout)
                   : methods.call<Result>(target, method, args, opt.call_timeout);
      };
      // Asked before the job is touched: a refusal leaves it running here.
      hosts_reply h;
      try {
        h = call_target.template operator()<hosts_reply>("hosts", hosts_args{st.type, st.version});
      } catch (const ch::channel_error& e) {
        throw migrate_error(migrate_errc::unknown_node, a.id,
                            "node \"" + a.to + "\" did not answer: " + e.what() + "; the job keeps running on node \"" +
                                opt.name + "\"");
      }
      if (!h.accepts)
        throw detail::refusal(h.code.empty() ? "unknown_job_type" : h.code,
                              "migrate: job \"" + a.id + "\": " + h.error + "; the job keeps running on node \"" +
                                  opt.name + "\"");
      const std::uint64_t handed_epoch = runtime->handoff(a.id, a.to, user).epoch;
      const steady::time_point handed = steady::now();
      const steady::time_point stopped = runtime->stopped_at(a.id).value_or(handed);
      status_reply b;
      std::string failure;
      try {
        b = call_target.template operator()<status_reply>("resume", resume_args{a.id, false, user, handed_epoch});
        if (!b.code.empty()) failure = b.error;
      } catch (const ch::channel_error& e) {
        failure = e.what();
        b.code = "unavailable";
      }
      if (!failure.empty()) {
        // Handed to a node that cannot run it: take it back (the record's compare-and-set
        // settles a race with a late resume on the target).
        std::string back;
        try {
          runtime->resume(a.id, user);
          back = "; it runs on node \"" + opt.name + "\" again";
        } catch (const std::exception& e) {
          back = "; taking it back failed too: " + std::string(e.what());
        }
        ++moves_failed;
        throw detail::refusal(b.code, "migrate: job \"" + a.id + "\": node \"" + a.to + "\" could not resume it: " + failure + back);
      }
      r.from = opt.name;
      r.to = a.to;
      r.epoch = b.job.epoch;
      const steady::time_point running = steady::now();
      r.downtime = std::chrono::duration_cast<std::chrono::nanoseconds>(running - stopped);
      r.saved = std::chrono::duration_cast<std::chrono::nanoseconds>(handed - stopped);
      move_downtime.observe(std::chrono::duration<double>(r.downtime).count());
    });
  }
};

node_daemon::node_daemon(daemon_options options) : impl_(std::make_unique<impl>(std::move(options))) {}
node_daemon::~node_daemon() = default;

bool node_daemon::wait_connected(std::chrono::milliseconds timeout) { return impl_->ep->wait_connected(timeout); }

void node_daemon::suspend_all() { impl_->runtime->suspend_all(); }

void node_daemon::write_metrics(xgate::metrics::text& out) const {
  const impl& m = *impl_;
  const node_stats st = m.runtime->stats();
  auto counter = [&](const char* name, const char* help, double v) {
    out.family(name, "counter", help);
    out.sample(name, {}, v);
  };
  out.family("xgate_node_jobs_running", "gauge", "Jobs whose body runs on this node now.");
  out.sample("xgate_node_jobs_running", {}, static_cast<double>(st.running));
  counter("xgate_node_jobs_started_total", "Job bodies started on this node (submitted or resumed).",
          static_cast<double>(st.started));
  out.family("xgate_node_jobs_ended_total", "counter", "Job bodies that stopped running on this node, by how.");
  for (auto [how, n] : {std::pair{"done", st.done}, {"failed", st.failed}, {"suspended", st.suspended}, {"moved", st.moved},
                        {"killed", st.killed}, {"lost", st.lost}})
    out.sample("xgate_node_jobs_ended_total", {{"how", how}}, static_cast<double>(n));
  counter("xgate_node_checkpoints_total", "Checkpoints this node committed (periodic, suspend and move).",
          static_cast<double>(st.checkpoints));
  counter("xgate_node_checkpoint_bytes_total", "Bytes of the checkpoints this node committed.",
          static_cast<double>(st.checkpoint_bytes));
  counter("xgate_node_checkpoint_seconds_total", "Time spent encoding, signing and committing checkpoints.",
          std::chrono::duration<double>(st.checkpoint_time).count());
  out.family("xgate_node_move_downtime_seconds", "histogram",
             "Moves out of this node: from the job's safe point here to its body running on the target.");
  m.move_downtime.write(out, "xgate_node_move_downtime_seconds", {});
  counter("xgate_node_moves_failed_total", "Moves out of this node whose target could not resume the job (taken back).",
          static_cast<double>(m.moves_failed.load()));
  out.family("xgate_node_hub_connected", "gauge", "1 while the node is logged in to its hub.");
  out.sample("xgate_node_hub_connected", {}, m.ep->state() == ch::endpoint_state::connected ? 1 : 0);
}

std::string node_daemon::readiness() const {
  const impl& m = *impl_;
  const ch::endpoint_state s = m.ep->state();
  if (s == ch::endpoint_state::connected) return "";
  std::string why = std::string("not logged in to the hub (") + ch::to_string(s) + ")";
  if (std::string e = m.ep->last_error(); !e.empty()) why += ": " + e;
  return why;
}

const std::string& node_daemon::endpoint_name() const noexcept { return impl_->endpoint_name; }
const std::string& node_daemon::principal() const noexcept { return impl_->principal; }
node& node_daemon::runtime() noexcept { return *impl_->runtime; }

}  // namespace xgate::nodes
