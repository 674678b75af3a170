#include <xgate/nodes/remote.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <sodium.h>

#include <xgate/channel/agent.hpp>
#include <xgate/channel/endpoint.hpp>
#include <xgate/channel/method.hpp>
#include <xgate/channel/xmpp.hpp>

#include "wire.hpp"

namespace xgate::nodes {

using namespace xgate::migrate;  // the runtime these files put on the channel

namespace protocol {
job_info info_of(const job_status& s) {
  job_info i;
  i.id = s.id;
  i.type = s.type;
  i.version = s.version;
  i.state = s.state;
  i.node = s.node;
  i.epoch = s.epoch;
  i.steps = s.steps;
  i.progress = s.progress;
  i.submitter = s.submitter;
  i.submitted = s.submitted;
  i.last_checkpoint = s.last_checkpoint;
  i.has_result = s.has_result;
  i.error = s.error;
  return i;
}

job_type_info info_of(const job_type& t) {
  job_type_info i;
  i.name = t.name;
  i.version = t.version;
  i.state_type = t.state_type;
  i.upgrades_older = t.upgrades_older;
  i.declares_arguments = t.check_arguments != nullptr;
  for (const job_argument& a : t.arguments) i.arguments.push_back({a.name, a.type, a.default_value});
  i.library = t.library;
  return i;
}
}  // namespace protocol

namespace ch = xgate::channel;
using namespace protocol;
using namespace std::chrono_literals;

struct remote::impl {
  remote_options opt;
  ch::methods methods{ch::method_options{.workers = 1}};  // before the endpoint (method.hpp)
  ch::router router;                                      // likewise: nodes behind agents
  detail::follow_peer_streams streams;                    // before the endpoint, which calls it
  std::optional<ch::endpoint> ep;
  std::string name;
  std::mutex routes_m;
  std::map<std::string, std::shared_ptr<ch::route>> open_routes;  // by node, reused while open

  explicit impl(remote_options o) : opt(std::move(o)) {
    if (opt.hub.empty()) throw remote_error(remote_errc::usage, "no hub: give --hub URL or set XGATE_HUB");
    if (opt.as.empty() && !xmpp()) throw remote_error(remote_errc::usage, "who are you: give --as PRINCIPAL or set XGATE_AS (the principal of the secret's credential)");
    std::string token;
    try {
      token = opt.secret.empty() ? detail::read_secret_file(opt.secret_file) : opt.secret;
    } catch (const std::exception& e) {
      throw remote_error(remote_errc::usage, e.what());
    }
    if (xmpp()) {
      // An XMPP server authenticates accounts, not xgate names: the client is the endpoint
      // its account names (XEP-0106 unescaped: the account "alice\2fcli-1" is "alice/cli-1"),
      // and AS must be that name's principal (its first segment). One account per
      // concurrent client (remote.hpp).
      name = ch::xmpp_endpoint_name(xmpp_user(opt.hub));
      if (opt.as.empty()) opt.as = detail::principal_of(name);
      if (detail::principal_of(name) != opt.as)
        throw remote_error(remote_errc::usage, "the XMPP account of " + opt.hub + " is endpoint \"" + name + "\", whose principal is \"" +
                                        detail::principal_of(name) + "\", not --as \"" + opt.as + "\" (use an account AS\\2fNAME)");
    } else {
      // A fresh name per client: the hub keeps one connection per name.
      unsigned char r[6];
      randombytes_buf(r, sizeof r);
      static const char* hex = "0123456789abcdef";
      name = opt.as + "/cli-";
      for (unsigned char c : r) name += {hex[c >> 4], hex[c & 15]};
    }
    ch::endpoint_options eo;
    eo.hub = opt.hub;
    eo.name = name;
    eo.secret = token;
    eo.on_message = streams.wrap(router.on_message(methods.on_message()));
    eo.on_error = methods.on_error();
    try {
      ep.emplace(std::move(eo));
      streams.ep = &*ep;
      methods.bind(*ep);
      router.bind(*ep);
      ep->start();
      if (!ep->wait_connected(opt.connect_timeout))
        throw remote_error(remote_errc::unavailable, "cannot reach the hub " + opt.hub + ": " +
                                              (ep->last_error().empty() ? "no answer" : ep->last_error()));
    } catch (const ch::channel_error& e) {
      throw remote_error(e.code() == ch::channel_errc::bad_auth ? remote_errc::login : remote_errc::unavailable,
                         "the hub " + opt.hub + " refused " + name + ": " + e.what());
    }
    // The presence snapshot follows the login; it holds this endpoint itself.
    auto deadline = std::chrono::steady_clock::now() + opt.connect_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto o = ep->online();
      if (std::find(o.begin(), o.end(), name) != o.end()) break;
      std::this_thread::sleep_for(5ms);
    }
    if (xmpp()) {
      // The buddies' presences come one by one after the login: wait until some node is
      // online and nothing changed for 300 ms (at most presence_grace()), so that `nodes`
      // lists them all. Calls to a named node wait for it on their own (call()).
      auto grace_end = std::chrono::steady_clock::now() + presence_grace();
      auto last_change = std::chrono::steady_clock::now();
      auto seen = nodes();
      while (std::chrono::steady_clock::now() < grace_end &&
             (seen.empty() || std::chrono::steady_clock::now() - last_change < 300ms)) {
        std::this_thread::sleep_for(10ms);
        auto now_seen = nodes();
        if (now_seen != seen) {
          seen = std::move(now_seen);
          last_change = std::chrono::steady_clock::now();
        }
      }
    }
  }

  ~impl() {
    {
      std::lock_guard lock(routes_m);
      for (auto& [node, r] : open_routes)
        if (r) r->close();
    }
    methods.unbind();
    router.unbind();
    if (ep) ep->stop();
  }

  // The agents to a node: none on the client's hub (or unknown), routes[node] otherwise.
  std::vector<std::string> agents_to(const std::string& node) {
    auto it = opt.routes.find(node);
    if (it == opt.routes.end() || online(node)) return {};
    return it->second;
  }
  bool reachable(const std::string& node) { return online(node) || opt.routes.contains(node); }

  static std::string joined(const std::vector<std::string>& names, const char* sep = " > ") {
    std::string s;
    for (auto& n : names) s += (s.empty() ? "" : sep) + n;
    return s;
  }

  std::shared_ptr<ch::route> route_to(const std::string& node, const std::vector<std::string>& agents) {
    std::lock_guard lock(routes_m);
    auto& r = open_routes[node];
    if (r && !r->broken()) return r;
    std::vector<std::string> path = agents;
    path.push_back(endpoint_of(node));
    try {
      r = router.open(path, opt.call_timeout);
    } catch (const ch::channel_error& e) {
      open_routes.erase(node);
      throw remote_error(e.code() == ch::channel_errc::timeout ? std::error_code(remote_errc::unavailable)
                                                               : std::error_code(migrate::migrate_errc::unknown_node),
                         "node \"" + node + "\" cannot be reached through " + joined(agents) + ": " + e.what());
    }
    return r;
  }

  // The agents between the node `from` and the node `to`, both as the client reaches them:
  // back along from's route to where the two routes part, then along to's.
  std::vector<std::string> agents_between(const std::string& from, const std::string& to) {
    std::vector<std::string> a = agents_to(from), b = agents_to(to);
    std::size_t common = 0;
    while (common < a.size() && common < b.size() && a[common] == b[common]) ++common;
    std::vector<std::string> path(a.rbegin(), a.rend() - static_cast<std::ptrdiff_t>(common));
    path.insert(path.end(), b.begin() + static_cast<std::ptrdiff_t>(common), b.end());
    return path;
  }

  std::string endpoint_of(const std::string& node) const { return opt.nodes + "/" + node; }

  bool xmpp() const { return opt.hub.starts_with("xmpp://"); }
  static std::string xmpp_user(const std::string& url) {  // xmpp://USER@DOMAIN...: USER
    std::string rest = url.substr(7, url.find('?') == std::string::npos ? std::string::npos : url.find('?') - 7);
    std::size_t at = rest.rfind('@');
    if (at == std::string::npos || at == 0) throw remote_error(remote_errc::usage, "the hub " + url + " names no XMPP account (xmpp://USER@DOMAIN)");
    return rest.substr(0, at);
  }
  // A hub's presence snapshot at login is complete; an XMPP server's presences of the
  // account's buddies arrive one by one after the login, so give them a moment.
  std::chrono::milliseconds presence_grace() const {
    return xmpp() ? std::min<std::chrono::milliseconds>(opt.connect_timeout, 5s) : 0ms;
  }
  void await_presence(const std::function<bool()>& ready) {
    auto deadline = std::chrono::steady_clock::now() + presence_grace();
    while (!ready() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  }

  std::vector<std::string> nodes() {
    std::vector<std::string> out;
    const std::string prefix = opt.nodes + "/";
    for (const std::string& e : ep->online())
      if (e.starts_with(prefix) && e.find('/', prefix.size()) == std::string::npos) out.push_back(e.substr(prefix.size()));
    return out;
  }
  bool online(const std::string& node) {
    auto n = nodes();
    return std::find(n.begin(), n.end(), node) != n.end();
  }

  template <class Reply, class Args>
  Reply call(const std::string& node, const std::string& method, const Args& args) {
    if (!online(node) && !opt.routes.contains(node)) await_presence([&] { return online(node); });
    std::vector<std::string> agents = agents_to(node);
    if (agents.empty() && !online(node))
      throw remote_error(migrate::migrate_errc::unknown_node, "node \"" + node + "\" is not online (no endpoint " + endpoint_of(node) + " on the hub " + opt.hub + ")");
    Reply r;
    try {
      if (agents.empty()) {
        r = methods.call<Reply>(endpoint_of(node), method, args, opt.call_timeout);
      } else {
        r = methods.call<Reply>(route_to(node, agents), method, args, opt.call_timeout);
      }
    } catch (const ch::channel_error& e) {
      // Refused by the hub or the node: this credential may not call the method.
      if (e.reason() == ch::channel_errc::access_denied)
        throw remote_error("access_denied", "node \"" + node + "\" (" + method + "): " + e.what());
      throw remote_error(remote_errc::unavailable, "node \"" + node + "\" (" + method + "): " + e.what());
    }
    if (!r.code.empty()) throw remote_error(r.code, r.error);
    return r;
  }

  // Any online node: they all read the same records.
  std::string any_node() {
    auto n = nodes();
    if (n.empty()) {
      await_presence([&] { return !nodes().empty(); });
      n = nodes();
    }
    // None here: one reached through agents reads the same records.
    if (n.empty() && !opt.routes.empty()) return opt.routes.begin()->first;
    if (n.empty()) throw remote_error(remote_errc::unavailable, "no node is online on the hub " + opt.hub + " (no endpoint " + opt.nodes + "/NAME)");
    return n.front();
  }

  job_info status(const std::string& id) {
    job_info j = call<status_reply>(any_node(), "status", job_args{id}).job;
    if (j.state == job_state::running && reachable(j.node)) {
      try {
        j = call<status_reply>(j.node, "status", job_args{id}).job;  // live progress
      } catch (const remote_error&) {
      }
    }
    return j;
  }
};

remote::remote(remote_options options) : impl_(std::make_unique<impl>(std::move(options))) {}
remote::~remote() = default;

std::vector<std::string> remote::nodes() { return impl_->nodes(); }
bool remote::online(const std::string& node) { return impl_->online(node); }

bool remote::wait_online(const std::string& node, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!impl_->online(node)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

bool remote::wait_offline(const std::string& node, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (impl_->online(node)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

hosts_reply remote::hosts(const std::string& node, const std::string& type, unsigned version) {
  return impl_->call<hosts_reply>(node, "hosts", hosts_args{type, version});
}

job_info remote::run(const std::string& node, const std::string& type, const std::map<std::string, std::string>& args) {
  return impl_->call<status_reply>(node, "run", run_args{type, args, {}}).job;
}

job_info remote::status(const std::string& id) { return impl_->status(id); }

std::vector<job_info> remote::list() {
  std::vector<job_info> jobs = impl_->call<list_reply>(impl_->any_node(), "list", list_args{}).jobs;
  std::sort(jobs.begin(), jobs.end(), [](const job_info& a, const job_info& b) { return a.submitted < b.submitted; });
  return jobs;
}

job_info remote::suspend(const std::string& id) {
  job_info j = impl_->status(id);
  return impl_->call<status_reply>(j.node, "suspend", job_args{id}).job;
}

job_info remote::resume(const std::string& id, const std::string& on, bool force) {
  std::string where = on;
  if (where.empty()) where = impl_->status(id).node;
  return impl_->call<status_reply>(where, "resume", resume_args{id, force, {}}).job;
}

job_info remote::kill(const std::string& id) {
  job_info j = impl_->status(id);
  // A suspended job is killed by its record: any node will do when its own is gone.
  std::string where = j.state == job_state::running || impl_->reachable(j.node) ? j.node : impl_->any_node();
  return impl_->call<status_reply>(where, "kill", job_args{id}).job;
}

move_reply remote::move(const std::string& id, const std::string& to) {
  job_info j = impl_->status(id);
  if (j.state != job_state::running)
    throw remote_error(migrate::migrate_errc::wrong_state, "migrate: job \"" + id + "\": it is " + to_string(j.state) + " on node \"" + j.node +
                                          "\"; only a running job moves (resume it with --on " + to + ")");
  return impl_->call<move_reply>(j.node, "move", move_args{id, to, impl_->agents_between(j.node, to)});
}

results::result_ref remote::result(const std::string& id) {
  return impl_->call<result_reply>(impl_->any_node(), "result", job_args{id}).ref;
}

std::vector<log_entry> remote::log(const std::string& id) {
  return impl_->call<log_reply>(impl_->any_node(), "log", job_args{id}).entries;
}

const std::string& remote::endpoint_name() const noexcept { return impl_->name; }

}  // namespace xgate::nodes
