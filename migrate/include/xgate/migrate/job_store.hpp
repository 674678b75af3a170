// The runtime's store: a plain store::session (reads, writes, lists, credentials, atomic
// batches with apply) that the node's threads share, so it must be thread-safe. A store
// opened in the process gives one directly (local_session); an xgated server gives
// sessions that are not (client::http_session), so pooled_session keeps one per
// concurrent caller.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <xgate/store/session.hpp>
#include <xgate/store/store.hpp>

namespace xgate::migrate {

using job_store = store::session;

// On a store opened in this process, acting as principal (the runtime's principal: every
// node of a cluster acts as the same one; checkpoints say which node wrote them by their
// signature). The store must outlive it.
std::unique_ptr<job_store> local_job_store(store::store& s, std::string principal = "xgate-migrate");

// A thread-safe session over sessions made by open (e.g. client::http_session on an
// xgated server, all for the same principal): each operation borrows an idle session or
// opens one, and gives it back after (at most max_idle are kept). A session whose call
// failed other than by the store's answer (store_error, access_denied), e.g. a broken
// connection, is dropped rather than reused. principal() and address() come from the
// first session, opened here (so a bad address or token fails now).
std::unique_ptr<store::session> pooled_session(std::function<std::unique_ptr<store::session>()> open,
                                               std::size_t max_idle = 8);

}  // namespace xgate::migrate
