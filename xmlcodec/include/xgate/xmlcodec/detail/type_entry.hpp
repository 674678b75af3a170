// What the codec keeps for a registered type: its name and type-erased functions, so that a
// name read from a document can become an object. Filled by XGATE_REGISTER
// (registration.hpp); read through registry.hpp's registered_type by everybody else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <vector>

#include <xgate/xmlcodec/detail/decoder.hpp>
#include <xgate/xmlcodec/detail/encoder.hpp>
#include <xgate/xmlcodec/options.hpp>

namespace xgate::detail {

class collector;
class schema_builder;

using erased_recode = std::string (*)(std::string_view xml, const decode_options&, const encode_options&);
using erased_sample = std::string (*)(std::uint64_t seed, std::size_t count, const encode_options&);

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
  erased_recode recode = nullptr;
  erased_sample sample = nullptr;
};

// The table of registered types (registry.cpp), safe to use from any thread.
// Adds an entry, or nothing when the same type comes again from another translation unit;
// a second, different type under the same name, or one type under two names, is refused
// (std::logic_error).
void add_entry(type_entry entry);
// Gives a registered type its sample generator; std::logic_error when `type` is not registered.
void add_sample(std::type_index type, erased_sample sample);
const type_entry* find_entry(std::string_view name);  // nullptr when not registered
const type_entry* find_entry(std::type_index type);
std::vector<const type_entry*> all_entries();  // sorted by name
// Registered types that can be created where `base` is expected (itself included; abstract
// ones left out), by name.
std::vector<const type_entry*> entries_derived_from(std::type_index base);
// The entry of an object's dynamic type; encode_error naming the element `context` if none.
const type_entry& registered_dynamic(const std::type_info& dynamic_type, std::string_view context);

}  // namespace xgate::detail
