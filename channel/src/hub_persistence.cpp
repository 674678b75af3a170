// The hub's documents in the store (hub.hpp): queue documents, log records, the reload of
// the queues after a restart, and the committer that writes them in shared batches.
#include "hub_impl.hpp"
#include "random_hex.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include <sodium.h>

#include <xgate/base/text.hpp>
#include <xgate/base/time.hpp>
#include <xgate/store/credentials.hpp>

namespace xgate::channel::hub_docs {

// A queued message: the envelope as written by its sender, plus when the hub queued it.
struct queued {
  std::string from, to, id, correlation, kind;
  std::uint64_t seq = 0;
  std::int64_t time_ns = 0, queued_ns = 0;
  std::string body;
  std::string sender_methods;  // version 2: envelope::sender_methods, comma-joined
};
XGATE_TYPE(queued, "channel.queued", 2, (), (from, to, id, correlation, kind, seq, time_ns, queued_ns, body, sender_methods))

}  // namespace xgate::channel::hub_docs

namespace xgate::channel::hub_detail {

std::string body_digest(std::string_view body) {
  unsigned char h[32];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(body.data()), body.size(), nullptr, 0);
  return xgate::to_hex({reinterpret_cast<const char*>(h), sizeof h});
}

// "log/2024-05-01/120000.123456-INSTANCE-N": sorts by time within a day, unique per hub run.
std::string log_name(std::chrono::system_clock::time_point t, const std::string& instance, std::uint64_t n) {
  utc_fields f = to_utc(t);
  char buf[96];
  std::snprintf(buf, sizeof buf, "log/%04d-%02u-%02u/%02u%02u%02u.%06u-%s-%llu", f.year, f.month, f.day, f.hour, f.minute,
                f.second, f.microsecond, instance.c_str(), static_cast<unsigned long long>(n));
  return buf;
}

}  // namespace xgate::channel::hub_detail

namespace xgate::channel {

using namespace hub_detail;
using hub_docs::queued;

namespace {

std::string queue_prefix(std::string_view endpoint) { return "channel/queue/" + std::string(endpoint) + "/"; }

std::string counter_text(std::uint64_t n) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(n));
  return buf;
}

// Principal names a rights list may hold; an odd one is left out of the log's readers.
void add_reader(principal_list& l, const std::string& p) {
  if (!p.empty() && is_valid_principal(p) && p != "*" && p != "creator" && std::find(l.begin(), l.end(), p) == l.end())
    l.push_back(p);
}

}  // namespace

queued_message hub::impl::decode_queued(const std::string& name, const std::string& xml) const {
  decode_options o;
  o.principal = options.principal;
  o.document_name = name;
  queued q = from_xml<queued>(xml, o);
  queued_message m;
  envelope& e = m.env;
  e.from = std::move(q.from);
  e.to = std::move(q.to);
  e.seq = q.seq;
  e.id = std::move(q.id);
  e.correlation = std::move(q.correlation);
  e.kind = std::move(q.kind);
  e.time = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(q.time_ns)));
  e.body = std::move(q.body);
  auto methods = store::parse_methods(q.sender_methods);
  if (!methods)
    throw channel_error(channel_errc::bad_envelope, "queue document " + name + ": sender_methods \"" +
                                                        xgate::printable(q.sender_methods) + "\" is not a list of methods");
  e.sender_methods = std::move(*methods);
  m.queued_ns = q.queued_ns;
  return m;
}

// Commit order is the store revision: queue documents of several hubs (replicas) sort by
// name only within one hub.
std::vector<std::pair<store::document_info, queued_message>> hub::impl::read_queues(const std::string& prefix,
                                                                                   std::uint64_t& read_at) {
  const store::caller me(options.principal);
  read_at = store_.revision();
  std::vector<std::pair<store::document_info, queued_message>> out;
  for (store::document_info& info : store_.list(prefix, me)) {
    store::document d;
    try {
      d = store_.read(info.name, me);
    } catch (const store::store_error& e) {
      if (e.code() == store::store_errc::not_found) continue;  // delivered meanwhile
      throw;
    }
    queued_message m = decode_queued(info.name, d.xml);
    out.emplace_back(std::move(d.info), std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first.revision < b.first.revision; });
  return out;
}

void hub::impl::enqueue(endpoint_state& s, std::string doc, queued_message m) {
  std::string key = m.env.from + " " + std::string(stream_of(m.env));
  std::size_t size = m.env.body.size();
  s.bytes += size;
  s.docs.push_back({std::move(doc), m.queued_ns, std::move(key), size});
  s.out.push(std::move(m.env));
  ++stats.queued;
}

// Rebuilds the queues from the store (after a restart): each endpoint's messages in the
// order they were committed.
void hub::impl::load() {
  for (auto& [info, m] : read_queues("channel/queue", feed_from)) {
    endpoint_state& s = state_of(m.env.to);
    s.loaded_at = feed_from;
    if (info.revision > feed_from) s.loaded.insert(info.name);
    enqueue(s, info.name, std::move(m));
  }
  if (stats.queued) note("restart: " + std::to_string(stats.queued) + " queued messages loaded from the store");
  // Endpoints online at other hubs on this store (replicas); the feed follows from here.
  const std::size_t root = std::string_view("channel/presence/").size();
  for (const store::document_info& info : store_.list("channel/presence", store::caller(options.principal)))
    if (info.name.size() > root) remote_online.insert(info.name.substr(root));
}

void hub::impl::submit(commit_item item) {
  {
    std::lock_guard lock(commit_mutex);
    commit_queue.push_back(std::move(item));
  }
  commit_wake.notify_one();
}

// The hub's own committer, beside the store's group commit (store.cpp): the store groups
// writers that wait in store::apply at the same moment, but the hub's callers are the
// transports' few I/O threads (TCP: one by default), which must not wait for an fsync per
// message. Handing messages to this thread and acknowledging them when their batch is
// durable keeps the I/O threads reading. Measured with bench/channel (Release, 2 cores,
// load 11-13 from other builds; XGATE_BENCH_SMOKE, 64 messages): with each message applied
// straight to the store from the I/O thread instead, a burst over TCP ran at 90-105
// messages/s with 1 or 16 pairs and over long-poll at 57-134 (1 pair) and 1.0-1.2k/s (16
// pairs); with this committer, 16k/s, 3.4k/s, 1.5k/s and 1.5k/s.
void hub::impl::run_committer() {
  const store::caller me(options.principal);
  for (;;) {
    std::vector<commit_item> batch_items;
    {
      std::unique_lock lock(commit_mutex);
      commit_wake.wait(lock, [&] { return committer_stopping || !commit_queue.empty(); });
      if (commit_queue.empty() && committer_stopping) return;
      // Gather: a short wait lets messages arriving together share one commit (one fsync).
      if (!committer_stopping && commit_queue.size() < options.group_commit_max && options.group_commit.count() > 0)
        commit_wake.wait_for(lock, options.group_commit, [&] { return committer_stopping || commit_queue.size() >= options.group_commit_max; });
      std::size_t ops = 0;
      while (!commit_queue.empty() && (batch_items.empty() || ops < options.group_commit_max)) {
        ops += commit_queue.front().ops.size();
        batch_items.push_back(std::move(commit_queue.front()));
        commit_queue.pop_front();
      }
    }
    std::size_t ops = 0;
    std::vector<std::vector<std::uint64_t>> revisions(batch_items.size());
    std::vector<char> ok(batch_items.size(), 1);
    auto t0 = steady::now();
    {
      store::batch b;
      for (auto& it : batch_items)
        for (auto& o : it.ops) {
          ++ops;
          if (o.expected_revision) continue;  // conditional: one by one, after the batch
          if (o.remove)
            b.remove(o.name);
          else
            b.write(o.name, o.xml, store::write_options{.lease = o.lease});
        }
      try {
        std::vector<store::document_info> written;
        if (!b.empty()) written = store_.apply(b, me);
        std::size_t w = 0;
        for (std::size_t i = 0; i < batch_items.size(); ++i)
          for (auto& o : batch_items[i].ops)
            if (!o.remove && w < written.size()) revisions[i].push_back(written[w++].revision);
      } catch (const std::exception& e) {
        // One at a time: an item that fails (a removal another replica made first, a store
        // that failed) fails alone.
        if (batch_items.size() == 1 && !std::any_of(batch_items[0].ops.begin(), batch_items[0].ops.end(),
                                                    [](const store_op& o) { return o.remove; })) {
          ok[0] = 0;
          note(std::string("store commit of ") + std::to_string(ops) + " operations failed: " + e.what(), log_level::error);
        } else {
          for (std::size_t i = 0; i < batch_items.size(); ++i) {
            revisions[i].clear();
            ok[i] = apply_item(batch_items[i], revisions[i]);
          }
        }
      }
    }
    // Conditional removals (presence documents) on their own: a failure is logged, and
    // the lease ends the document anyway.
    for (std::size_t i = 0; i < batch_items.size(); ++i)
      for (auto& o : batch_items[i].ops)
        if (o.expected_revision && ok[i]) {
          try {
            apply_conditional(o);
          } catch (const std::exception& e) {
            note("removing " + o.name + ": " + e.what(), log_level::error);
          }
        }
    auto t1 = steady::now();
    std::lock_guard lock(state_mutex);
    ++stats.commits;
    stats.committed_ops += ops;
    stats.commit_time += t1 - t0;
    for (std::size_t i = 0; i < batch_items.size(); ++i)
      if (batch_items[i].done) batch_items[i].done(ok[i] != 0, revisions[i]);
    flush_acks();
  }
}

void hub::impl::apply_conditional(const store_op& o) {
  const store::caller me(options.principal);
  try {
    store_.remove(o.name, me, o.expected_revision);
  } catch (const store::store_error& e) {
    if (e.code() != store::store_errc::not_found && e.code() != store::store_errc::conflict) throw;
  }
}

// An item on its own, after its batch failed. Removals that find their document gone are
// no failure: another replica, or an expiry, removed it first.
bool hub::impl::apply_item(commit_item& item, std::vector<std::uint64_t>& revisions) {
  const store::caller me(options.principal);
  try {
    store::batch b;
    for (auto& o : item.ops)
      if (!o.remove) b.write(o.name, o.xml, store::write_options{.lease = o.lease});
    for (const store::document_info& d : store_.apply(b, me)) revisions.push_back(d.revision);
    for (auto& o : item.ops) {
      if (!o.remove || o.expected_revision) continue;  // conditional removals: run_committer
      try {
        store_.remove(o.name, me);
      } catch (const store::store_error& e) {
        if (e.code() != store::store_errc::not_found) throw;
      }
    }
    return true;
  } catch (const std::exception& e) {
    revisions.clear();
    note(std::string("store commit of ") + std::to_string(item.ops.size()) + " operations failed: " + e.what(),
         log_level::error);
    return false;
  }
}

hub_detail::store_op hub::impl::log_op(log_record r, const std::string& reader1, const std::string& reader2) {
  auto now = std::chrono::system_clock::now();
  if (r.time.empty()) r.time = format_utc(now, 6);
  principal_list readers;
  add_reader(readers, options.principal);
  add_reader(readers, reader1);
  add_reader(readers, reader2);
  auto rights = xgate::rights::owned_by(options.principal).readers(readers);
  return store_op{false, log_name(now, instance, ++log_counter), to_xml(r, encode_options{.indent = 0, .rights = rights}), {}, {}};
}

// Removes an acknowledged or expired message's queue document, noting the removal as this
// hub's own for the feed.
hub_detail::store_op hub::impl::remove_queued(std::string doc) {
  own_removals.insert(doc);
  return store_op{true, std::move(doc), {}, {}, {}};
}

// A log entry on its own (refusals, logins): committed with the next batch.
void hub::impl::log_event(log_record r, const std::string& reader1, const std::string& reader2) {
  submit(commit_item{{log_op(std::move(r), reader1, reader2)}, nullptr});
}

// A queue document for e, queued at queued_ns, owned (and so readable) by the hub only.
store_op hub::impl::queue_op(const envelope& e, const std::string& doc, std::int64_t queued_ns) {
  queued q{e.from, e.to, e.id, e.correlation, e.kind, e.seq,
           std::chrono::duration_cast<std::chrono::nanoseconds>(e.time.time_since_epoch()).count(), queued_ns, e.body,
           store::join_methods(e.sender_methods)};
  auto qr = xgate::rights::owned_by(options.principal);
  return store_op{false, doc, to_xml(q, encode_options{.indent = 0, .rights = qr}), {}, {}};
}

// "channel/queue/TO/COUNTER-INSTANCE": unique across hubs on one store and across restarts;
// the feed tells this hub's own from the suffix (hub_replicas.cpp).
std::string hub::impl::next_queue_doc(std::string_view endpoint) {
  return queue_prefix(endpoint) + counter_text(++queue_counter) + "-" + instance;
}

}  // namespace xgate::channel
