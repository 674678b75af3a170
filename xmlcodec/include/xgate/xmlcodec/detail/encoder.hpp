// The streaming writer behind to_xml: appends to one growable buffer (flushed to a sink in
// chunks when there is one), never builds a tree.
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <typeindex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <xgate/xmlcodec/error.hpp>
#include <xgate/xmlcodec/options.hpp>
#include <xgate/xmlcodec/sink.hpp>

namespace xgate::detail {

// An object in the graph: its (most derived) address and dynamic type. A struct and its
// first member share an address, so the type is part of the identity.
struct object_key {
  const void* address;
  std::type_index type;
  friend bool operator==(const object_key&, const object_key&) = default;
};
// type_index::hash_code() hashes the mangled name; the name's address identifies the type
// as well within a program and costs nothing.
struct object_key_hash {
  std::size_t operator()(const object_key& k) const noexcept {
    auto a = reinterpret_cast<std::uintptr_t>(k.address);
    auto t = reinterpret_cast<std::uintptr_t>(k.type.name());
    return static_cast<std::size_t>((a ^ (a >> 17) ^ (t * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull);
  }
};

class encoder;
using erased_encode = void (*)(encoder&, std::string_view tag, const void* object);

class signer;  // ed25519ph state, defined in the implementation

class encoder {
 public:
  encoder(const encode_options& options, xml_sink* sink);
  ~encoder();
  encoder(const encoder&) = delete;
  encoder& operator=(const encoder&) = delete;

  // ---- document frame -------------------------------------------------------------
  void begin_document();
  // Writes the pool of shared objects queued by ref_shared (breadth first).
  void write_pool();
  // Checks every raw pointer found its target, signs, closes; flushes to the sink.
  void end_document();
  std::string take_output();            // the whole output when there is no sink
  void take_output(std::string& out);   // the same, reusing out's capacity

  // ---- elements ---------------------------------------------------------------------
  void open(std::string_view tag) {
    const std::size_t pad_n = padding();
    char* p = reserve(pad_n + tag.size() + 2);
    std::memset(p, ' ', pad_n);
    p[pad_n] = '<';
    std::memcpy(p + pad_n + 1, tag.data(), tag.size());
    size_ += pad_n + 1 + tag.size();
    if (pending_rights_) write_pending_rights();
  }
  // "<tag>" ready for text: the common case of a scalar field, in one step.
  void open_text(std::string_view tag) {
    if (pending_rights_) {
      open(tag);
      return begin_text();
    }
    const std::size_t pad_n = padding();
    char* p = reserve(pad_n + tag.size() + 2);
    std::memset(p, ' ', pad_n);
    p[pad_n] = '<';
    std::memcpy(p + pad_n + 1, tag.data(), tag.size());
    p[pad_n + 1 + tag.size()] = '>';
    size_ += pad_n + 2 + tag.size();
  }
  // The next element opened carries these per-object rights (xg:read, xg:write, ...).
  void set_pending_rights(const rights_override* r) { pending_rights_ = r->empty() ? nullptr : r; }
  void attr(std::string_view name, std::string_view value);  // value is escaped
  void attr_id(std::string_view name, std::uint32_t id);    // name="oN"
  void attr_uint(std::string_view name, std::uint64_t value);
  void empty() {  // "/>"
    put("/>", 2);
    newline();
  }
  void begin_text() { put('>'); }
  void end_text(std::string_view tag) {
    char* p = reserve(tag.size() + 4);
    p[0] = '<';
    p[1] = '/';
    std::memcpy(p + 2, tag.data(), tag.size());
    p[2 + tag.size()] = '>';
    p[3 + tag.size()] = '\n';
    size_ += tag.size() + (indent_ > 0 ? 4 : 3);
  }
  void begin_children() {
    if (depth_ >= max_depth_) throw encode_error("nesting deeper than " + std::to_string(max_depth_) + " elements");
    put('>');
    newline();
    ++depth_;
  }
  void end_children(std::string_view tag) {
    --depth_;
    pad();
    end_text(tag);
  }
  void nil() {  // xsi:nil="true"/>
    put(" xsi:nil=\"true\"/>", 17);
    newline();
  }

  // ---- content ------------------------------------------------------------------------
  void text(std::string_view s);  // escaped; bytes XML cannot carry become <xg:x>HEX</xg:x>
  void base64(const void* data, std::size_t size);
  template <class I>
    requires std::integral<I>
  void integer(I value) {
    char* p = reserve(24);
    size_ += static_cast<std::size_t>(std::to_chars(p, p + 24, value).ptr - p);
  }
  void number(double v);
  void number(float v);
  void raw(std::string_view s) { put(s); }

  // ---- identity ----------------------------------------------------------------------
  // The id the object must carry (pool objects and targets of raw pointers), or 0.
  std::uint32_t object_id(const void* address, std::type_index type);
  // A shared_ptr (strong) or weak_ptr to an object: queues it for the pool the first time,
  // returns its id.
  std::uint32_t ref_shared(const void* address, std::type_index type, erased_encode fn, std::string_view tag, bool strong);
  // A raw pointer: returns the id its target carries (or will carry when written).
  std::uint32_t ref_raw(const void* address, std::type_index type);
  // From the pre-pass: objects that raw pointers aim at.
  void set_targets(std::unordered_set<object_key, object_key_hash> targets) {
    targets_ = std::move(targets);
    track_targets_ = true;
  }

 private:
  void grow(std::size_t n);
  char* reserve(std::size_t n) {
    if (cap_ - size_ < n) grow(n);
    return data() + size_;
  }
  char* data() noexcept { return buffer_.get(); }
  void put(char c) { *reserve(1) = c, ++size_; }
  void put(const char* s, std::size_t n) {
    std::memcpy(reserve(n), s, n);
    size_ += n;
  }
  void put(std::string_view s) { put(s.data(), s.size()); }
  std::size_t padding() const noexcept { return static_cast<std::size_t>(depth_) * static_cast<std::size_t>(indent_); }
  void pad() {
    std::size_t n = padding();
    std::memset(reserve(n), ' ', n);
    size_ += n;
  }
  void newline() {
    if (indent_ > 0) put('\n');
  }
  void text_slow(std::string_view s, std::size_t first);
  template <class F>
  void floating(F v);  // number(double), number(float)
  void write_pending_rights();
  void flush();

  struct pending {
    const void* address;
    erased_encode fn;
    std::string_view tag;
    std::uint32_t id;
  };

  const encode_options& options_;
  xml_sink* sink_;
  struct free_deleter {
    void operator()(char* p) const noexcept { std::free(p); }
  };
  // malloc/realloc rather than std::string: growing neither zero-fills nor copies large
  // blocks (realloc remaps them), which was most of the encode time for big documents.
  std::unique_ptr<char, free_deleter> buffer_;
  std::size_t size_ = 0, cap_ = 0;
  int indent_;
  int depth_ = 0;
  int max_depth_;
  std::unique_ptr<signer> signer_;

  std::unordered_map<object_key, std::uint32_t, object_key_hash> ids_;
  std::unordered_set<object_key, object_key_hash> targets_;
  bool track_targets_ = false;
  enum id_state : std::uint8_t { written = 1, raw_referenced = 2, pooled = 4 };
  std::vector<std::uint8_t> state_;  // by id
  bool has(std::uint32_t id, id_state s) const noexcept { return id < state_.size() && (state_[id] & s); }
  void mark(std::uint32_t id, id_state s) {
    if (id >= state_.size()) state_.resize(std::max<std::size_t>(id + 1, state_.size() * 2), 0);
    state_[id] |= s;
  }
  std::deque<pending> pool_;
  std::uint32_t next_id_ = 1;
  std::uint32_t forced_id_ = 0;   // set while a pool object writes its start tag
  std::uint32_t current_owner_ = 0;  // the pool object being written (0: the root)
  std::vector<std::pair<std::uint32_t, std::uint32_t>> owns_;  // shared_ptr edges between ids
  void check_ownership() const;
  const rights_override* pending_rights_ = nullptr;
};

}  // namespace xgate::detail
