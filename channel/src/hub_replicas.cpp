// Several hubs on one store (replicas: xgated processes on one PostgreSQL database).
// What the hubs share is in the store already: the queues (channel/queue/TO/DOC), the log,
// the credentials. What a hub knew only in memory is made visible here:
//  - presence: an endpoint online at a hub has channel/presence/NAME, leased for
//    hub_options::presence_lease and renewed at a third of it. Other hubs tell their own
//    endpoints; a login at another hub replaces the session here, as a later login does
//    within one hub (the later presence document wins, by revision).
//  - the feed: a thread watching channel/ from the revision load() read. A queue document
//    another hub wrote for an endpoint online here goes into its link as if this hub had
//    committed it. For an endpoint not here, any change by another hub drops what this hub
//    holds of its queue (stale): the queue is read from the store at its next login here,
//    so a hub never hands out what was delivered through another.
// A sender that moves to another hub sends its unacknowledged messages again on a link
// stream that hub numbers afresh; the receiver's inbox drops what it had, by the messages'
// own stream and seq: exactly once, in order, per sender stream.
#include "hub_impl.hpp"

#include <algorithm>

#include <xgate/base/text.hpp>
#include <xgate/base/time.hpp>

namespace xgate::channel {

using namespace hub_detail;
using hub_docs::presence;

namespace {

constexpr std::string_view queue_root = "channel/queue/", presence_root = "channel/presence/";

std::string presence_doc(std::string_view endpoint) { return std::string(presence_root) + std::string(endpoint); }

}  // namespace

void hub::impl::run_feed(std::stop_token stop) {
  const store::caller me(options.principal);
  std::uint64_t after = feed_from;
  const std::string own_suffix = "-" + instance;
  while (!stop.stop_requested()) {
    std::vector<store::change> changes;
    try {
      changes = store_.watch("channel", after, me, std::chrono::seconds(1), stop);
    } catch (const std::exception& e) {
      bool lost = false;
      if (auto* se = dynamic_cast<const store::store_error*>(&e)) lost = se->code() == store::store_errc::history_lost;
      note(std::string("feed of other hubs' changes: ") + e.what() +
               (lost ? ": queues of endpoints not online here are read again at their next login" : ": retrying in 1 s"),
           lost ? log_level::warning : log_level::error);
      if (lost) {
        std::uint64_t now_at = 0;
        try {
          now_at = store_.revision();
        } catch (const std::exception&) {
          continue;  // the store is away: the next watch says so again
        }
        std::lock_guard lock(state_mutex);
        for (auto& [n, s] : endpoints) {
          if (s->connection)
            s->stale = true;
          else
            drop_memory(*s);
        }
        own_removals.clear();
        after = now_at;
        continue;
      }
      std::mutex m;
      std::unique_lock lock(m);
      std::condition_variable_any().wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
      continue;
    }
    for (const store::change& c : changes) {
      after = c.revision;
      if (c.name.starts_with(queue_root)) {
        std::size_t slash = c.name.rfind('/');
        if (slash <= queue_root.size()) continue;
        if (c.kind == store::change_kind::written && c.name.ends_with(own_suffix)) continue;  // committed here
        on_queue_change(c, c.name.substr(queue_root.size(), slash - queue_root.size()));
      } else if (c.name.starts_with(presence_root)) {
        on_presence_change(c, c.name.substr(presence_root.size()));
      }
    }
  }
}

// A change to a queue document that this hub did not make.
void hub::impl::on_queue_change(const store::change& c, const std::string& endpoint) {
  auto already_here = [&](const endpoint_state& s) { return c.revision <= s.loaded_at || s.loaded.contains(c.name); };
  {
    std::lock_guard lock(state_mutex);
    if (c.kind != store::change_kind::written) {
      if (own_removals.erase(c.name)) return;  // acknowledged or expired here
      auto it = endpoints.find(endpoint);
      if (it == endpoints.end()) return;
      // Delivered through another hub (an older session of the name there).
      if (it->second->connection)
        it->second->stale = true;
      else
        drop_memory(*it->second);
      return;
    }
    endpoint_state& s = state_of(endpoint);
    if (!s.connection) return drop_memory(s);
    if (already_here(s)) return;
  }
  const store::caller me(options.principal);
  std::optional<queued_message> m;
  std::string failure;
  try {
    store::document d = store_.read(c.name, me);
    m = decode_queued(c.name, d.xml);
  } catch (const store::store_error& e) {
    if (e.code() == store::store_errc::not_found) return;  // delivered meanwhile
    failure = e.what();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  std::lock_guard lock(state_mutex);
  endpoint_state& s = state_of(endpoint);
  if (!s.connection) return drop_memory(s);
  if (!m) {
    // The message must not be skipped: the endpoint logs in again and gets its queue
    // from the store.
    note("feed: reading " + c.name + " for " + endpoint + " failed: " + failure + "; closing its connection",
         log_level::error);
    s.stale = true;
    return close_conn(*s.connection);
  }
  if (already_here(s)) return;  // a login read it meanwhile
  enqueue(s, c.name, std::move(*m));
  pump(s);
}

void hub::impl::on_presence_change(const store::change& c, const std::string& endpoint) {
  const store::caller me(options.principal);
  if (c.kind == store::change_kind::written) {
    std::optional<presence> p;
    std::uint64_t revision = 0;
    try {
      store::document d = store_.read(c.name, me);
      revision = d.info.revision;
      decode_options o;
      o.principal = options.principal;
      o.document_name = c.name;
      p = from_xml<presence>(d.xml, o);
    } catch (const store::store_error& e) {
      if (e.code() == store::store_errc::not_found) return;  // withdrawn meanwhile: its removal follows
      note("feed: reading " + c.name + ": " + e.what(), log_level::error);
      return;
    } catch (const std::exception& e) {
      note("feed: reading " + c.name + ": " + e.what(), log_level::error);
      return;
    }
    if (p->replica == instance) return;
    std::lock_guard lock(state_mutex);
    auto it = endpoints.find(endpoint);
    if (it != endpoints.end() && it->second->connection) {
      endpoint_state& s = *it->second;
      if (s.presence_revision == 0) {
        s.newer_presence = std::max(s.newer_presence, revision);  // decided when ours commits
      } else if (revision > s.presence_revision) {
        remote_online.insert(endpoint);
        auto old = s.connection;
        note("replacing the connection of " + endpoint + " (" + old->peer + "): it logged in at another hub from " +
             xgate::printable(p->peer));
        send_to(*old, {frames::refused{channel_errc::protocol, "endpoint " + endpoint + ": replaced by a newer session (" +
                                                                   xgate::printable(p->peer) + ", at another hub)"}});
        close_conn(*old);
      }
      return;
    }
    if (remote_online.insert(endpoint).second) broadcast_presence(endpoint, true);
    return;
  }
  std::lock_guard lock(state_mutex);
  auto it = endpoints.find(endpoint);
  if (it != endpoints.end() && it->second->connection) {
    // Ours lapsed (a renewal came too late) while the endpoint is still here: again.
    if (it->second->presence_revision != 0) announce(*it->second->connection);
    return;
  }
  if (remote_online.erase(endpoint)) broadcast_presence(endpoint, false);
}

void hub::impl::forget_queue(endpoint_state& s) {
  stats.queued -= std::min(stats.queued, s.docs.size());
  s.docs.clear();
  s.bytes = 0;
  s.out = link_sender(new_link_stream(), sender_options());
  s.sent_upto = 0;
  s.loaded.clear();
}

void hub::impl::drop_memory(endpoint_state& s) {
  s.stale = true;
  if (!s.docs.empty() || s.out.has_pending()) forget_queue(s);
}

// Under the lock, at a login: store reads while the hub waits, paid only by an endpoint
// whose queue another hub changed.
void hub::impl::reload(endpoint_state& s) {
  std::uint64_t at = 0;
  auto messages = read_queues(std::string(queue_root) + s.name, at);
  forget_queue(s);
  s.loaded_at = at;
  std::size_t n = 0;
  for (auto& [info, m] : messages) {
    if (m.env.to != s.name) continue;  // a deeper name's queue (NAME/worker-1)
    if (info.revision > at) s.loaded.insert(info.name);
    enqueue(s, info.name, std::move(m));
    ++n;
  }
  s.stale = false;
  note("login of " + s.name + ": " + std::to_string(n) + " queued messages read from the store (another hub changed its queue)");
}

void hub::impl::announce(conn& c) {
  endpoint_state& s = *c.state;
  s.presence_revision = s.newer_presence = 0;
  remote_online.erase(s.name);
  presence p{s.name, instance, c.peer, format_utc(std::chrono::system_clock::now(), 6)};
  auto rights = xgate::rights::owned_by(options.principal);
  store_op op{false, presence_doc(s.name), to_xml(p, encode_options{.indent = 0, .rights = rights}), options.presence_lease, {}};
  std::shared_ptr<conn> who = s.connection;
  submit(commit_item{{std::move(op)}, [this, who](bool ok, const std::vector<std::uint64_t>& revisions) {
                       if (!ok || revisions.empty()) return;
                       endpoint_state& s = *who->state;
                       if (s.connection != who) {
                         // Gone or replaced before the document committed: take it back.
                         if (!s.connection)
                           submit(commit_item{{store_op{true, presence_doc(s.name), {}, {}, revisions[0]}}, nullptr});
                         return;
                       }
                       s.presence_revision = revisions[0];
                       if (s.newer_presence > s.presence_revision) {
                         remote_online.insert(s.name);
                         send_to(*who, {frames::refused{channel_errc::protocol, "endpoint " + s.name +
                                                                                   ": replaced by a newer session at another hub"}});
                         close_conn(*who);
                       }
                     }});
}

void hub::impl::withdraw(endpoint_state& s) {
  if (s.presence_revision == 0) return;  // not committed yet: announce's callback takes it back
  submit(commit_item{{store_op{true, presence_doc(s.name), {}, {}, s.presence_revision}}, nullptr});
  s.presence_revision = s.newer_presence = 0;
}

void hub::impl::renew_presence() {
  const store::caller me(options.principal);
  std::vector<std::pair<std::string, std::uint64_t>> here;
  {
    std::lock_guard lock(state_mutex);
    for (auto& [n, s] : endpoints)
      if (s->connection && s->presence_revision) here.emplace_back(n, s->presence_revision);
  }
  for (auto& [name, revision] : here) {
    try {
      store_.renew_lease(presence_doc(name), me, options.presence_lease);
    } catch (const store::store_error& e) {
      if (e.code() != store::store_errc::not_found && e.code() != store::store_errc::no_lease) {
        note("renewing the presence of " + name + ": " + e.what(), log_level::error);
        continue;
      }
      std::lock_guard lock(state_mutex);
      auto it = endpoints.find(name);
      if (it != endpoints.end() && it->second->connection && it->second->presence_revision == revision)
        announce(*it->second->connection);  // it lapsed: write it again
    } catch (const std::exception& e) {
      note("renewing the presence of " + name + ": " + e.what(), log_level::error);
    }
  }
}

bool hub::impl::online_anywhere(const std::string& endpoint) const {
  auto it = endpoints.find(endpoint);
  return (it != endpoints.end() && it->second->connection) || remote_online.contains(endpoint);
}

}  // namespace xgate::channel
