// Following the documents under a prefix through a session, across falling behind: the
// watch goes on from a revision, and when the store no longer keeps the changes after it
// (history_lost), the prefix is listed again, in pages at one revision, and the watch goes on
// from that listing's revision. What a cache, an index or a replica of part of a store needs.
//
//   std::stop_source stop;
//   xgate::store::follow(*session, "orders", last_seen, {
//       .listed = [&](const xgate::store::listing& l) { rebuild(l.documents); },
//       .changed = [&](const std::vector<xgate::store::change>& c) { apply(c); }}, stop.get_token());
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string_view>
#include <vector>

#include <xgate/store/session.hpp>
#include <xgate/store/store.hpp>

namespace xgate::store {

// Every document under the prefix the session's principal may read, at one revision.
struct listing {
  std::vector<document_info> documents;  // in name order
  std::uint64_t revision = 0;            // changes after it follow through `changed`
};

struct follow_options {
  // Called with a whole listing: at the start when `after` is 0, and whenever the watch fell
  // behind the change log. What the caller held from before is replaced by it.
  std::function<void(const listing&)> listed;
  // Called with each group of changes after the last revision seen, oldest first.
  std::function<void(const std::vector<change>&)> changed;
  std::size_t page = 1000;                   // documents per page of a listing
  std::chrono::milliseconds wait{1000};      // one watch's wait: how soon a stop request is seen
  int listing_attempts = 10;                 // listings refused with revision_gone before giving up
};

// Follows until stop is requested, then returns the last revision seen (from which a later
// follow goes on). Throws what the session throws, but history_lost (which lists again), and
// store_error(revision_gone) when `listing_attempts` listings in a row were overtaken by
// writes; whatever a callback throws passes through.
std::uint64_t follow(session& s, std::string_view prefix, std::uint64_t after, const follow_options& options,
                     std::stop_token stop);

// Lists every readable document under prefix in pages of `page` at one revision, starting
// over when a page is refused with revision_gone, at most `attempts` times.
listing list_at_one_revision(session& s, std::string_view prefix, std::size_t page = 1000, int attempts = 10);

}  // namespace xgate::store
