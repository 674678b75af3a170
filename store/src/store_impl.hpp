// What the store's rule files share: the store's state around its engine, and the rules
// every operation applies (rights, expiry, readable listing).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include <xgate/store/engine.hpp>
#include <xgate/store/store.hpp>

namespace xgate::store {

struct store::impl {
  // Watches in this process wait here; every committed write bumps the generation.
  std::mutex watch_mutex;
  std::condition_variable_any watch_cv;  // _any: waits can be cut short by a stop_token
  std::uint64_t generation = 0;
  // How often watches look for commits by other processes; nullopt: the engine wakes them.
  std::optional<std::chrono::milliseconds> foreign_poll;
  std::uint64_t kept_changes = 0;
  clock::duration kept_age{};  // zero: no age limit
  std::size_t max_document_size = 0;
  std::atomic<std::uint64_t> revocations{0};  // revoke_credential calls that committed
  // Last: destroyed first, since it may call wake() until then.
  std::unique_ptr<xgate::store::engine> engine;

  // The rules of changing documents (store.cpp).
  // Writes one document inside t. forced: the rights of a copied document (its bytes and
  // rights travel together, creator included).
  document_info put(write_transaction& t, std::string_view operation, std::string_view name, std::string_view xml,
                    const caller& who, const write_options& o,
                    const std::optional<std::pair<xgate::rights, bool>>& forced = std::nullopt) const;
  // Removes d (as read in t), a change of the given kind.
  void erase(write_transaction& t, const document_info& d, change_kind kind = change_kind::removed) const;
  // Takes the next revision for a change to document and records it in the change log,
  // dropping what falls out of the kept window.
  std::uint64_t next_revision(write_transaction& t, std::string_view document, change_kind kind,
                              const xgate::rights& rights) const;

  void wake() {
    {
      std::lock_guard lock(watch_mutex);
      ++generation;
    }
    watch_cv.notify_all();
  }

  // f(const read_transaction&) in a read transaction; returns what f returns.
  template <class F>
  auto read(std::string_view operation, std::string_view document, F&& f) const {
    using R = std::invoke_result_t<F&, const read_transaction&>;
    if constexpr (std::is_void_v<R>) {
      engine->read(operation, document, [&](const read_transaction& t) { f(t); });
    } else {
      std::optional<R> result;
      engine->read(operation, document, [&](const read_transaction& t) { result.emplace(f(t)); });
      return std::move(*result);
    }
  }

  // f(write_transaction&) in a write transaction; returns what f returns once it is
  // durable, and wakes this process's watches. A rerun of f replaces the result.
  template <class F>
  auto write(std::string_view operation, std::string_view document, F&& f) {
    using R = std::invoke_result_t<F&, write_transaction&>;
    if constexpr (std::is_void_v<R>) {
      engine->write(operation, document, [&](write_transaction& t) { f(t); });
      wake();
    } else {
      std::optional<R> result;
      engine->write(operation, document, [&](write_transaction& t) { result.emplace(f(t)); });
      wake();
      return std::move(*result);
    }
  }
};

// A caller may do r on a document when the document's rights allow its principal and its
// credential, if it acts through one, covers r on the name.
inline bool allowed(const caller& who, const xgate::rights& rights, std::string_view name, right r) {
  return who.may(name, r) && rights.allows(who.principal(), r);
}

inline bool expired(const document_info& d, clock::time_point now) { return d.lease_expires && *d.lease_expires <= now; }

// The document as the operations see it: one whose lease expired is gone.
inline std::optional<document_info> live_info(const read_transaction& t, std::string_view name) {
  std::optional<document_info> d = t.info(name);
  if (d && expired(*d, clock::now())) return std::nullopt;
  return d;
}

// Whether a listing or query of prefix gives d to who at time now: under the prefix
// (segment-wise), live, and readable by who.
inline bool listed_for(const document_info& d, std::string_view prefix, const caller& who, clock::time_point now) {
  return is_under(d.name, prefix) && !expired(d, now) && allowed(who, d.rights, d.name, right::read);
}

// Calls each with the metadata of every live document under prefix (segment-wise) that who
// may read, after the name `after` ("": from the first), in name order, until each returns
// false.
template <class F>
void each_readable(const read_transaction& t, std::string_view prefix, const caller& who, F&& each,
                   std::string_view after = {}) {
  clock::time_point now = clock::now();
  // Names sort bytewise, so "a-b" lies between "a" and "a/x": the scan gives every name
  // starting with the prefix, and is_under tests segment boundaries.
  t.scan(prefix, after, [&](document_info&& d) { return !listed_for(d, prefix, who, now) || each(std::move(d)); });
}

// A query sink that gathers values into matches, one per document, in the order they come.
inline store::query_sink gather_matches(std::vector<query_match>& out) {
  return [&out](const std::string& name, std::uint64_t revision, std::string&& value) {
    if (out.empty() || out.back().name != name) out.push_back(query_match{name, revision, {}});
    out.back().values.push_back(std::move(value));
  };
}

}  // namespace xgate::store
