// Registered types: the stable name a polymorphic object travels under, and type-erased
// codec functions so that a name read from a document can become an object. A name is only
// ever resolved against this registry, never loaded from arbitrary input.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <typeindex>
#include <utility>
#include <vector>

#include <xgate/xmlcodec/decoder.hpp>
#include <xgate/xmlcodec/encoder.hpp>
#include <xgate/xmlcodec/options.hpp>

namespace xgate {
class schema_builder;
namespace detail {
class collector;

struct type_entry {
  std::string_view name;
  unsigned version = 1;
  std::type_index type = typeid(void);
  bool polymorphic = false;
  erased_encode encode = nullptr;
  erased_fill decode = nullptr;
  void (*collect)(collector&, const void*) = nullptr;
  std::shared_ptr<void> (*create_shared)() = nullptr;  // nullptr for abstract types
  void* (*create_raw)() = nullptr;
  void (*destroy_raw)(void*) = nullptr;
  erased_reset reset = nullptr;
  std::vector<std::pair<std::type_index, void* (*)(void*)>> upcasts;  // to every described base
  void (*schema)(schema_builder&) = nullptr;
  // For tools (xgate check / sample): decode a document of this type and encode it again.
  std::string (*recode)(std::string_view xml, const decode_options&, const encode_options&) = nullptr;
  std::string (*sample)(std::uint64_t seed, std::size_t count, const encode_options&) = nullptr;
};

}  // namespace detail

class registry {
 public:
  static registry& instance();
  // Adds or completes an entry; a second, different type under the same name is refused
  // (std::logic_error) — two types cannot travel under one name.
  void add(detail::type_entry entry);
  void set_sample(std::type_index type, std::string (*sample)(std::uint64_t, std::size_t, const encode_options&));
  const detail::type_entry* find(std::string_view name) const;
  const detail::type_entry* find(std::type_index type) const;
  std::vector<const detail::type_entry*> all() const;  // sorted by name
  // Registered types that can stand where `base` is expected (itself included), by name.
  std::vector<const detail::type_entry*> derived_from(std::type_index base) const;

 private:
  registry();
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace xgate
