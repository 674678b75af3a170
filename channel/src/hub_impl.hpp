// The hub's state and the declarations its sources share (hub.hpp describes the hub):
//   hub.cpp              the public API, the state's lookups, stop()
//   hub_login.cpp        handshake, login, connections coming and going, presence
//   hub_routing.cpp      frames after login: messages, acknowledgements, peer errors
//   hub_persistence.cpp  the store's documents: queue reload, log records, the committer
//   hub_housekeeping.cpp silent connections, queue expiry, log retention
//   hub_replicas.cpp     several hubs on one store: the feed of other replicas' changes,
//                        presence documents, reloading a queue another replica touched
// Everything here is guarded by hub::impl::state_mutex unless its comment says otherwise.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include <xgate/base/login_limit.hpp>
#include <xgate/channel/detail/auth.hpp>
#include <xgate/channel/detail/link.hpp>
#include <xgate/channel/envelope.hpp>
#include <xgate/channel/hub.hpp>
#include <xgate/xmlcodec.hpp>

namespace xgate::channel::hub_docs {

// A log document (see hub.hpp). Plain strings: the store's XPath reads them as written.
struct log_record {
  std::string event, from, to, id, kind, time;
  std::uint64_t size = 0;
  std::string digest, code, detail;
};
XGATE_TYPE(log_record, "channel.log", 1, (), (event, from, to, id, kind, time, size, digest, code, detail))

// A presence document, channel/presence/ENDPOINT: the endpoint is logged in at the hub
// `replica` (hub::impl::instance) from `peer`. Leased: it lapses when that hub dies.
struct presence {
  std::string endpoint, replica, peer, since;
};
XGATE_TYPE(presence, "channel.presence", 1, (), (endpoint, replica, peer, since))

}  // namespace xgate::channel::hub_docs

namespace xgate::channel::hub_detail {

using steady = std::chrono::steady_clock;

// One store operation of a commit: write xml to name, or remove name.
struct store_op {
  bool remove = false;
  std::string name, xml;
  std::optional<std::chrono::seconds> lease;  // a write: leased for this long
  // A removal: only while the document is at this revision, and a removal that finds the
  // document gone or changed is no failure (another replica got there first).
  std::optional<std::uint64_t> expected_revision;
};

// What the committer writes in one go, and what to do once it is durable: done(ok,
// revisions) runs under the hub's lock, in submission order; revisions holds the store
// revision of each write of ops, in order (empty when !ok).
struct commit_item {
  std::vector<store_op> ops;
  std::function<void(bool ok, const std::vector<std::uint64_t>& revisions)> done;
};

// A queue document decoded: the envelope and when it was queued.
struct queued_message {
  envelope env;
  std::int64_t queued_ns = 0;
};

// BLAKE2b-256 of the body, in hex: what the log records instead of the body.
std::string body_digest(std::string_view body);

// "log/2024-05-01/120000.123456-INSTANCE-N": sorts by time within a day, unique per hub run.
std::string log_name(std::chrono::system_clock::time_point t, const std::string& instance, std::uint64_t n);
// Whether an authenticated credential may take the endpoint name (the rule in hub.hpp).
bool may_take(const store::store& documents, const std::vector<std::string>& administrators, const store::caller& who,
              std::string_view name);

}  // namespace xgate::channel::hub_detail

namespace xgate::channel {

struct hub::impl : std::enable_shared_from_this<hub::impl> {
  using log_record = hub_docs::log_record;
  using store_op = hub_detail::store_op;
  using commit_item = hub_detail::commit_item;
  using queued_message = hub_detail::queued_message;
  using steady = hub_detail::steady;
  struct conn;

  // What the hub keeps per endpoint name (online or not).
  struct endpoint_state {
    std::string name, principal;
    // hub -> endpoint: every message queued for it, in order, until it acknowledges them.
    link_sender out;
    struct entry {
      std::string doc;  // the queue document
      std::int64_t queued_ns = 0;
      std::string stream_key;  // from + " " + stream: for refusing a broken stream
      std::size_t size = 0;    // body bytes
    };
    std::deque<entry> docs;  // parallel to out's buffer
    std::uint64_t sent_upto = 0;  // highest link seq handed to the current connection
    std::size_t pending = 0, pending_bytes = 0;  // accepted for it, not yet committed
    std::size_t bytes = 0;                       // body bytes in docs
    bool ack_due = false;                        // committed messages from it to acknowledge
    // endpoint -> hub
    std::uint64_t in_stream = 0, accepted = 0, committed = 0, in_gen = 0;
    std::shared_ptr<conn> connection;  // authenticated and current; null when offline
    std::set<std::string> broken;       // sender streams refused (see hub.hpp)
    // Replicas (hub_replicas.cpp). stale: another hub changed this queue while the endpoint
    // was not here; what is in memory was dropped and the queue is read from the store at
    // its next login. Queue documents of revision <= loaded_at, and those in `loaded`, are
    // in memory already: the feed and the committer do not add them twice.
    bool stale = false;
    std::uint64_t loaded_at = 0;
    std::unordered_set<std::string> loaded;
    // While online here: the revision of its presence document (0 until committed), and
    // the newest presence document of another hub seen before ours committed.
    std::uint64_t presence_revision = 0, newer_presence = 0;
    endpoint_state(std::string n, link_options lo) : name(std::move(n)), out(new_link_stream(), lo) {}
  };

  struct conn : hub_connection {
    std::weak_ptr<impl> owner;
    std::string peer;
    send_function send;
    close_function close;
    std::optional<hub_handshake> handshake;  // from hello until login
    endpoint_state* state = nullptr;  // set once authenticated; endpoint states live as long as the hub
    std::string name;
    std::string credential_id;  // what it logged in with: checked again after revocations
    std::vector<std::string> methods;  // what that credential may send (empty: everything)
    bool closed = false;
    steady::time_point opened = steady::now(), last_heard = opened;

    void on_frame(frame f) override {
      if (auto h = owner.lock()) h->on_frame(*this, std::move(f));
    }
    void on_bad_input(const channel_error& e) override {
      if (auto h = owner.lock()) h->on_bad_input(*this, e);
    }
    void on_closed() override {
      if (auto h = owner.lock()) h->on_closed(*this);
    }
    std::string endpoint() const override {
      auto h = owner.lock();
      if (!h) return {};
      std::lock_guard lock(h->state_mutex);
      return state ? name : std::string();
    }
  };

  store::store& store_;
  hub_options options;
  store_verifier verifier;
  std::optional<xgate::login_limiter> logins;  // options.max_failed_logins
  std::string instance;  // random, per run: keeps log document names unique across restarts
  mutable std::mutex state_mutex;  // guards the hub's state: everything below up to the committer
  std::map<std::string, std::unique_ptr<endpoint_state>, std::less<>> endpoints;
  std::set<std::shared_ptr<conn>> connections;
  std::uint64_t queue_counter = 0, log_counter = 0;
  std::vector<endpoint_state*> acks_due;
  hub_stats stats;
  bool stopping = false;
  // Replicas: endpoints online at other hubs on the store (from presence documents), and
  // the queue documents this hub removed whose removal the feed has not seen yet.
  std::set<std::string, std::less<>> remote_online;
  std::unordered_set<std::string> own_removals;
  std::uint64_t feed_from = 0;  // the revision load() read at

  // The committer (hub_persistence.cpp): its own thread and queue, under commit_mutex.
  std::mutex commit_mutex;
  std::condition_variable commit_wake;
  std::deque<commit_item> commit_queue;
  bool committer_stopping = false;
  std::thread committer, housekeeper;
  std::condition_variable housekeeper_wake;  // with state_mutex: wakes the housekeeper at stop
  std::jthread feed;  // hub_replicas.cpp: other hubs' changes to the channel's documents


  impl(store::store& s, hub_options o);

  // hub.cpp
  link_options sender_options() const;
  void note(const std::string& line, log_level level = log_level::info);
  endpoint_state& state_of(const std::string& name);
  std::string principal_of(const std::string& endpoint);
  void stop();

  // hub_persistence.cpp
  void load();
  // The queue documents under prefix, decoded, in the order they were committed, and the
  // revision read before listing them. Store I/O only.
  std::vector<std::pair<store::document_info, queued_message>> read_queues(const std::string& prefix,
                                                                          std::uint64_t& read_at);
  queued_message decode_queued(const std::string& name, const std::string& xml) const;
  // Puts a queued message into s's link (memory only).
  void enqueue(endpoint_state& s, std::string doc, queued_message m);
  void submit(commit_item item);
  void run_committer();
  bool apply_item(commit_item& item, std::vector<std::uint64_t>& revisions);
  void apply_conditional(const store_op& o);
  store_op remove_queued(std::string doc);
  store_op log_op(log_record r, const std::string& reader1, const std::string& reader2);
  void log_event(log_record r, const std::string& reader1 = {}, const std::string& reader2 = {});
  store_op queue_op(const envelope& e, const std::string& doc, std::int64_t queued_ns);
  std::string next_queue_doc(std::string_view endpoint);

  // hub_login.cpp
  void send_to(conn& c, std::vector<frame> fs);
  void close_conn(conn& c);
  // Ends the sessions whose credentials no longer hold (revoked, expired). Housekeeper
  // thread, called with the lock held; checks the store without it.
  void recheck_credentials(std::unique_lock<std::mutex>& lock);
  void detach(conn& c);
  void broadcast_presence(const std::string& name, bool online);
  // Logs detail, sends refused(code, reason) and closes: the peer learns the detail only
  // where it is its own business (a name it may not take), not why authentication failed.
  void refuse(conn& c, channel_errc code, const std::string& detail, const std::string& event,
              const std::string& reason = "refused");
  void protocol_failure(conn& c, const channel_error& e);
  void on_bad_input(conn& c, const channel_error& e);
  void on_closed(conn& c);
  void handshake(conn& c, frame f);
  void login(conn& c, authenticated who);

  // hub_routing.cpp
  void on_frame(conn& c, frame f);
  void pump(endpoint_state& s);
  void on_message(conn& c, frames::message m);
  void committed_in(const std::string& from, std::uint64_t seq, std::uint64_t gen, bool ok);
  void flush_acks();
  void on_ack(conn& c, const frames::ack& k);
  void on_peer_error(conn& c, frames::error err);

  // hub_replicas.cpp
  void run_feed(std::stop_token stop);
  void on_queue_change(const store::change& c, const std::string& endpoint);
  void on_presence_change(const store::change& c, const std::string& endpoint);
  void forget_queue(endpoint_state& s);  // what this hub holds of s's queue (memory only)
  void drop_memory(endpoint_state& s);   // forgets it and marks s stale
  void reload(endpoint_state& s);       // a stale queue from the store (at login)
  void announce(conn& c);               // writes the presence document of c's endpoint
  void withdraw(endpoint_state& s);     // removes it, if still this hub's
  void renew_presence();                // housekeeper, without the lock
  bool online_anywhere(const std::string& endpoint) const;

  // hub_housekeeping.cpp
  void run_housekeeper();
  void prune_log(std::chrono::system_clock::time_point now);
  void expire(std::chrono::system_clock::time_point now);
};

}  // namespace xgate::channel
