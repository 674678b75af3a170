#include <xgate/store/follow.hpp>

namespace xgate::store {

listing list_at_one_revision(session& s, std::string_view prefix, std::size_t page, int attempts) {
  for (int attempt = 1;; ++attempt) {
    try {
      listing out;
      list_page p = s.list(prefix, list_options{.limit = page});
      out.revision = p.revision;
      out.documents = std::move(p.documents);
      while (!p.next.empty()) {
        p = s.list(prefix, list_options{.limit = page, .cursor = p.next});
        out.documents.insert(out.documents.end(), std::make_move_iterator(p.documents.begin()),
                             std::make_move_iterator(p.documents.end()));
      }
      return out;
    } catch (const store_error& e) {
      if (e.code() != store_errc::revision_gone || attempt >= attempts) throw;
    }
  }
}

std::uint64_t follow(session& s, std::string_view prefix, std::uint64_t after, const follow_options& options,
                     std::stop_token stop) {
  auto relist = [&] {
    listing l = list_at_one_revision(s, prefix, options.page, options.listing_attempts);
    if (options.listed) options.listed(l);
    after = l.revision;
  };
  if (after == 0) relist();
  while (!stop.stop_requested()) {
    std::vector<change> found;
    try {
      found = s.watch(prefix, after, options.wait);
    } catch (const store_error& e) {
      if (e.code() != store_errc::history_lost) throw;
      relist();
      continue;
    }
    if (found.empty()) continue;
    after = found.back().revision;
    if (options.changed) options.changed(found);
  }
  return after;
}

}  // namespace xgate::store
