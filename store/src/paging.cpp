#include "paging.hpp"

#include <charconv>

#include <xgate/store/names.hpp>

namespace xgate::store::detail {

std::string format_cursor(const cursor& c) { return std::to_string(c.revision) + ":" + c.last; }

cursor parse_cursor(std::string_view operation, std::string_view prefix, std::string_view text) {
  auto refuse = [&](std::string_view why) {
    throw store_error(store_errc::bad_cursor, operation, prefix, "bad cursor \"" + std::string(text.substr(0, 200)) + "\": " + std::string(why));
  };
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) refuse("not REVISION:NAME");
  cursor c;
  auto [end, ec] = std::from_chars(text.data(), text.data() + colon, c.revision);
  if (ec != std::errc{} || end != text.data() + colon || c.revision == 0) refuse("the revision is not a positive number");
  c.last = std::string(text.substr(colon + 1));
  if (c.last.empty() || !is_under(c.last, prefix)) refuse("it does not belong to a listing of this prefix");
  return c;
}

void check_unchanged(const read_transaction& t, std::string_view operation, std::string_view prefix, const cursor& c,
                     const caller& who) {
  std::uint64_t now = t.revision();
  if (now < c.revision)
    throw store_error(store_errc::bad_cursor, operation, prefix,
                      "bad cursor: revision " + std::to_string(c.revision) + " is ahead of the store (" + std::to_string(now) + ")");
  if (now == c.revision) return;
  std::optional<std::uint64_t> oldest = t.oldest_change();
  if (!oldest || *oldest > c.revision + 1)
    throw store_error(store_errc::revision_gone, operation, prefix,
                      "the listing's revision " + std::to_string(c.revision) +
                          " is no longer kept (the change log begins at " + (oldest ? std::to_string(*oldest) : std::string("none")) +
                          "); list again from the first page");
  t.changes_after(c.revision, [&](change_record&& change) {
    if (change.name <= c.last || !is_under(change.name, prefix)) return true;
    bool visible = who.may(change.name, right::read) && change.readers.allows(who.principal(), right::read);
    throw store_error(store_errc::revision_gone, operation, prefix,
                      "the listing's revision " + std::to_string(c.revision) + " is gone: " +
                          (visible ? "\"" + change.name + "\" was " + to_string(change.kind)
                                   : std::string("a document in the rest of the listing changed")) +
                          " at revision " + std::to_string(change.revision) + "; list again from the first page");
  });
}

}  // namespace xgate::store::detail
