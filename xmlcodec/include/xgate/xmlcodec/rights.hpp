// Access rights carried inside a document: who created it and who may read, write,
// delete and copy it. Rights are enforced by xgate's readers (codec, store, server);
// they are not encryption: anybody holding the bytes can read them with another tool.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xgate {

enum class right { read, write, del, copy };
[[nodiscard]] const char* to_string(right r) noexcept;  // "read", "write", "delete", "copy"

// A principal list: names, "*" for anyone, "creator" for the document's creator.
using principal_list = std::vector<std::string>;

struct rights {
  std::string creator;
  principal_list read, write, del, copy;

  // Everything restricted to the creator.
  [[nodiscard]] static rights owned_by(std::string creator);
  rights& readers(principal_list p) { read = std::move(p); return *this; }
  rights& writers(principal_list p) { write = std::move(p); return *this; }
  rights& deleters(principal_list p) { del = std::move(p); return *this; }
  rights& copiers(principal_list p) { copy = std::move(p); return *this; }

  const principal_list& list(right r) const noexcept;
  principal_list& list(right r) noexcept;
  [[nodiscard]] bool allows(std::string_view principal, right r) const;

  friend bool operator==(const rights&, const rights&) = default;
};

// Per-object overrides: lists present here replace the document's for this object.
struct rights_override {
  std::optional<principal_list> read, write, del, copy;
  bool empty() const noexcept { return !read && !write && !del && !copy; }
  const std::optional<principal_list>& list(right r) const noexcept;
  std::optional<principal_list>& list(right r) noexcept;
  friend bool operator==(const rights_override&, const rights_override&) = default;
};

// "alice bob" <-> {"alice", "bob"}. Names are checked: no spaces, quotes, '<', '&' or controls.
[[nodiscard]] principal_list parse_principals(std::string_view text);  // throws error(errc::bad_value) on an invalid name
std::string join_principals(const principal_list& list);  // throws error(errc::bad_value) on an invalid name
[[nodiscard]] bool is_valid_principal(std::string_view name) noexcept;

// A value whose rights differ from the document's (e.g. the salary in a payslip).
// Decoded by a principal without the read right, it holds no value and withheld() is true;
// decoded in write mode without the write right, it is readable but not writable.
template <class T>
class restricted {
 public:
  using value_type = T;
  restricted() = default;
  restricted(T value, rights_override r = {}) : value_(std::move(value)), rights_(std::move(r)) {}

  bool has_value() const noexcept { return value_.has_value(); }
  bool withheld() const noexcept { return withheld_; }
  bool writable() const noexcept { return writable_; }
  [[nodiscard]] const T& value() const;  // throws access_denied when withheld
  [[nodiscard]] T& mutable_value();      // throws access_denied when withheld or not writable
  const rights_override& overrides() const noexcept { return rights_; }
  rights_override& overrides() noexcept { return rights_; }

  // Used by the codec.
  std::optional<T>& storage() noexcept { return value_; }
  const std::optional<T>& storage() const noexcept { return value_; }
  void set_access(bool withheld, bool writable, std::string principal, std::string where) {
    withheld_ = withheld;
    writable_ = writable;
    principal_ = std::move(principal);
    where_ = std::move(where);
  }

  friend bool operator==(const restricted& a, const restricted& b) {
    return a.value_ == b.value_ && a.rights_ == b.rights_ && a.withheld_ == b.withheld_;
  }

 private:
  std::optional<T> value_;
  rights_override rights_;
  bool withheld_ = false;
  bool writable_ = true;
  std::string principal_, where_;  // who decoded it, and from where: for error messages
};

}  // namespace xgate

#include <xgate/xmlcodec/error.hpp>

namespace xgate {
template <class T>
const T& restricted<T>::value() const {
  if (withheld_ || !value_) throw access_denied(principal_, "read", where_);
  return *value_;
}
template <class T>
T& restricted<T>::mutable_value() {
  if (withheld_ || !value_ || !writable_) throw access_denied(principal_, withheld_ || !value_ ? "read" : "write", where_);
  return *value_;
}
}  // namespace xgate
