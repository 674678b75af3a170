// The hub: authenticates endpoints, forwards messages between them, keeps what is not yet
// delivered in the store, logs every message, and tells endpoints who is online.
// Transport-agnostic: a transport (tcp.hpp; the HTTP long-poll transport) opens a
// hub_connection per connection or session, feeds it decoded frames, and puts on the wire
// whatever the hub hands to the connection's send callback.
//
// Endpoint names a credential may take: the credential's principal itself, or any name
// under "PRINCIPAL/" (principal node-a may be "node-a" or "node-a/worker-1"). Any other
// name needs what a user cannot make for themselves: a document an administrator
// (hub_options::administrators, xgated --hub-admin) created at channel/endpoints/NAME or a
// parent of it, whose rights give the credential's principal write. Documents others
// created there are ignored (anyone may create a document under any free name, and issue
// themselves a credential for any scope): the nearest document that an administrator
// created, and the taker or an administrator may read, decides. The credential must also be narrowed to channel names
// (scope not "", so not a login token) and cover "channel/endpoints/NAME" with the write
// right. E.g. with administrator "admin", a document channel/endpoints/job that admin
// created writable by "scheduler", and a credential of scheduler's issued with scope
// "channel/endpoints/job", let its holder be "job/17". Without administrators every
// principal takes only its own names. (The store's copy keeps a document's creator: an
// administrator who gives others both write and copy on one of its documents lets them
// put a copy under channel/endpoints/.) Any other name is refused: refused(bad_auth,
// "access denied: principal "P" may not take the endpoint name "NAME""), and the
// connection closes.
// One connection per endpoint name: a new authenticated connection for a name replaces
// the old one, which is sent refused(protocol, "endpoint NAME: replaced by a newer
// session (PEER)") and closed; an endpoint that is told so stops instead of reconnecting,
// so two live sessions of one name do not knock each other off in turn. The new session
// gets, exactly once and in order, every message the old one had not acknowledged: the
// hub's stream to the name starts afresh (a new link stream id) whenever the new session
// does not stand where the old one left it.
// A session lasts only as long as its credential: after a revocation through the hub's
// store object (xgated's DELETE /credential/ID, store::revoke_credential) the hub checks
// every session's credential at once, and every 30 s for expiries and for revocations by
// other processes; a session whose credential no longer holds is sent refused(bad_auth,
// "endpoint NAME: the credential ID was revoked or has expired") and closed, and its next
// login is refused.
// Before login a connection may send frames of at most hub_options::max_frame_before_login
// bytes (a larger one: error(frame_too_large), and the connection closes), so connections
// that never log in hold little memory.
//
// Delivery: a message is checked (sender = the authenticated endpoint, spoofed: an error
// frame and a "refused" log entry, nothing forwarded; its kind within the methods of the
// credential the sender logged in with, store::grant::methods and kind_permitted, else
// error(access_denied) naming the method, likewise; it goes out stamped with those methods,
// envelope::sender_methods, for the receiver to check again), then its queue document
// (channel/queue/TO/COUNTER-HUB) and its log document (log/DAY/TIME-INSTANCE-N) are written
// in one store batch shared with other messages that arrived within
// hub_options::group_commit (group commit: one fsync for many messages); only after that
// commit does the sender get its acknowledgement, and the message go to the receiver's
// link (at once when it is online, when it returns otherwise). A queue document is removed
// when the receiver acknowledges the message. After a restart the hub reloads the queues
// from the store: nothing it acknowledged is lost; what it sends again the receiver's
// inbox drops as a duplicate.
//
// Queue limits: a message for an endpoint whose queue holds max_queue_messages or
// max_queue_bytes is refused: the sender gets error(buffer_full) naming the message, and
// every later message of the same sender stream to that endpoint is refused the same way
// (the receiver would otherwise wait forever for the missing one). A sender's endpoint
// starts a new stream to that receiver when told (endpoint.hpp). Expiry: messages queued
// longer than queue_expiry are removed (logged "expired") together with the later queued
// messages of their sender stream, and that stream is refused from then on, as above.
// (Refused streams are remembered in memory only: after a hub restart an old stream's
// later messages are accepted again and wait behind the hole in the receiver's inbox.)
//
// Replicas: several hubs (xgated processes) may share one store, e.g. one PostgreSQL
// database, and an endpoint may log in at any of them (endpoint_options::hub lists them,
// "tcp://a:4711,tcp://b:4711"). Queue documents are named channel/queue/TO/COUNTER-HUB and
// read back in commit (revision) order. Each hub follows the others' changes under channel/
// through the store's watch (on PostgreSQL woken by NOTIFY, read from the change log): a
// message another hub queued for an endpoint online here is forwarded from here; a queue
// another hub changed is read again from the store at the endpoint's next login here, so
// nothing delivered through one hub is handed out again by another. Presence: an endpoint
// online at a hub has the document channel/presence/NAME (who, which hub, from where),
// leased for hub_options::presence_lease and renewed while it stays, removed at logout;
// other hubs report it online to their endpoints and count it in online(), and a login at
// another hub replaces the session here (refused(protocol, "endpoint NAME: replaced by a
// newer session (PEER, at another hub)"); of two logins at different hubs the one whose
// presence document commits later wins). A hub that dies leaves its endpoints' presence
// until the lease lapses and the store's reaper (xgated runs one) removes it; its
// endpoints log in elsewhere, send again what it had not acknowledged, and the receivers'
// inboxes drop what they had: exactly once and in order, per sender stream. Limits stay
// per hub: queue limits count what this hub holds of a queue, and refused streams are
// remembered by the hub that refused them.
//
// Log documents (never bodies or secrets), readable by the sender's and receiver's
// principals and the hub's:
//   <channel.log xg:v="1"><event>forwarded</event><from>node-a</from><to>node-b</to>
//     <id>node-a/3f9c0d2e71b4a856/7</id><kind>chat</kind><time>2024-05-01T12:00:00.123456Z</time>
//     <size>1024</size><digest>BLAKE2b-256 hex of the body</digest><code/><detail/></channel.log>
// events: forwarded, refused (spoofed sender, buffer_full, bad frame...), rejected (the
// receiver's type check refused the body), expired, auth_failed, login, logout. A receiver's
// principal is the one it last authenticated with, or the name's first segment if it
// never did since the hub started. Query: store.query("log", "//channel.log[to='node-b']", p).
// Retention: with hub_options::log_days = N the hub removes the log documents of days (UTC)
// before the last N, at start and then hourly; 0 keeps them forever.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <xgate/base/log.hpp>
#include <xgate/channel/error.hpp>
#include <xgate/channel/frame.hpp>
#include <xgate/store/store.hpp>

namespace xgate::channel {

struct hub_options {
  // Bound into every authentication MAC (detail/auth.hpp): names this hub instance.
  std::string context = "xgate hub";
  // The principal the hub acts as in the store (its queue and log documents).
  std::string principal = "xgate-hub";
  std::size_t max_frame = default_max_frame;
  // The frame limit before login (hello and auth are a few hundred bytes).
  std::size_t max_frame_before_login = std::size_t{16} << 10;
  // Failed logins (an unknown, expired or revoked credential) from one address: past
  // max_failed_logins within failed_login_window, from the first failure, the address's
  // logins are refused (bad_auth, "too many failed logins from ADDRESS ...") until the
  // window ends, and the log says when it reached the limit. 0: no limit.
  std::size_t max_failed_logins = 20;
  std::chrono::seconds failed_login_window{60};
  // Principals whose documents under channel/endpoints/ say who may take names outside
  // their own (the rule above). Empty: every principal takes only its own names.
  std::vector<std::string> administrators;
  // Per receiving endpoint: queued messages not yet acknowledged by it.
  std::size_t max_queue_messages = 100000;
  std::size_t max_queue_bytes = std::size_t{256} << 20;
  std::chrono::seconds queue_expiry{7 * 24 * 3600};
  // Group commit: after the first message of a batch, wait this long (or until
  // group_commit_max operations) before committing.
  std::chrono::microseconds group_commit{1000};
  std::size_t group_commit_max = 1024;
  // A connection that sends nothing (not even a ping) for this long is closed.
  std::chrono::milliseconds idle_timeout{30000};
  // A connection not authenticated within this time is closed.
  std::chrono::milliseconds handshake_timeout{10000};
  // Component "hub": logins and logouts (info), refusals and closed connections (warning),
  // failed store commits (error). May be null; must outlive the hub.
  xgate::logger* log = nullptr;
  // Messages the hub sends a connection before it waits for acknowledgements.
  std::size_t window = 4096;
  // Keep the log documents of the last log_days days (UTC, today included); 0 = forever.
  unsigned log_days = 0;
  // Several hubs on one store (replicas): each endpoint online at a hub has a presence
  // document leased for this long and renewed at a third of it, so the endpoints of a hub
  // that died count as offline elsewhere within one lease.
  std::chrono::seconds presence_lease{30};
};

struct hub_stats {
  std::uint64_t messages_forwarded = 0;  // committed and handed to the receiver's link
  std::uint64_t messages_delivered = 0;  // acknowledged by the receiver (and so off its queue)
  std::uint64_t log_documents_pruned = 0;  // removed by log_days
  std::uint64_t messages_refused = 0;
  std::uint64_t commits = 0;             // store batches applied
  std::uint64_t committed_ops = 0;       // documents written or removed by them
  std::chrono::nanoseconds commit_time{0};  // total time spent in store::apply
  std::size_t connections = 0;           // open now
  std::size_t online = 0;                // authenticated endpoints now
  std::size_t queued = 0;                // messages in all queues now
};

class hub;

// The hub's side of one connection (or long-poll session). Made by hub::open; the
// transport calls on_frame for every frame it decoded, on_bad_input when the bytes were
// not frames, and on_closed when the peer went away. All of them are thread-safe and
// may be called after the connection closed (they do nothing then).
class hub_connection {
 public:
  virtual ~hub_connection() = default;
  virtual void on_frame(frame f) = 0;
  // A decoding failure: the hub logs it (event "refused"), sends error(code, reason) and
  // closes the connection.
  virtual void on_bad_input(const channel_error& e) = 0;
  virtual void on_closed() = 0;
  // The endpoint name once authenticated; "" before (while "", a transport decodes frames
  // with hub_options::max_frame_before_login).
  virtual std::string endpoint() const = 0;
};

class hub {
 public:
  // Frames for the peer, in order. Called with the hub's lock held: must not block and must
  // not call back into the hub (buffer and write asynchronously).
  using send_function = std::function<void(std::vector<frame>)>;
  // Closes the connection after what send() was given is written. Same rules as send.
  using close_function = std::function<void()>;

  // Loads the queues left in the store (a restart) and starts the committer and the
  // housekeeping (idle connections, expiry) threads. The store must outlive the hub.
  // Throws what reading the queues throws (store::store_error, xgate::access_denied,
  // xgate::decode_error for a queue document that is not one), channel_error(protocol) when
  // libsodium cannot be initialized, std::system_error when a thread cannot be started.
  hub(store::store& s, hub_options options = {});
  ~hub();  // stop()
  hub(const hub&) = delete;
  hub& operator=(const hub&) = delete;

  // A new connection. peer describes it for the log ("tcp 127.0.0.1:53122").
  [[nodiscard]] std::shared_ptr<hub_connection> open(std::string peer, send_function send, close_function close);

  // Closes every connection, commits what is pending, joins the threads. Idempotent.
  void stop();

  // Who is online now, in name order: here and, from presence documents, at other hubs on the store.
  std::vector<std::string> online() const;
  hub_stats stats() const;
  const hub_options& options() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace xgate::channel
