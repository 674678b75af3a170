// Cursors of paged listings and queries: where a page ended and at which revision its
// listing shows the store.
//
// A listing's pages are read in separate read transactions (none is held between pages), yet
// show the store at one revision R, the first page's: a later page goes on after the last name
// of the one before, and is what R held there as long as no change after R touched a name past
// that point under the prefix. The change log says whether one did; when one did, or the log
// no longer reaches back to R, the page is refused with revision_gone rather than mixing two
// revisions. (An expired lease removes a document from a listing at once, as everywhere.)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <xgate/store/engine.hpp>

namespace xgate::store::detail {

struct cursor {
  std::uint64_t revision = 0;
  std::string last;  // the last name the previous page covered
};

// "R:NAME". Names are printable and may hold ':', the revision cannot.
std::string format_cursor(const cursor& c);
// The cursor in text, which must belong to a listing of prefix. Throws
// store_error(bad_cursor) naming what is wrong with it.
cursor parse_cursor(std::string_view operation, std::string_view prefix, std::string_view text);
// Throws store_error(revision_gone) unless every document under prefix after c.last is in t
// as it was at c.revision. The message names the changed document only when who could read
// it.
void check_unchanged(const read_transaction& t, std::string_view operation, std::string_view prefix, const cursor& c,
                     const caller& who);

}  // namespace xgate::store::detail
