// Registered types (XGATE_REGISTER): the stable name a polymorphic object travels under, so
// that a name read from a document can become an object, and the types tools (the xgate
// CLI) find by name. A name is only ever resolved against this registry, never loaded from
// arbitrary input. Registrations happen during static initialization and are never removed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <typeindex>
#include <vector>

#include <xgate/xmlcodec/options.hpp>

namespace xgate {

namespace detail {
struct type_entry;
}

// A read-only view of one registered type; small, cheap to copy, valid for the whole program.
// An empty one (what find returns for a name nobody registered) converts to false and answers
// "", 0, false and nothing; its schema, recode and sample throw error(errc::unknown_type).
class registered_type {
 public:
  registered_type() = default;
  explicit operator bool() const noexcept { return entry_ != nullptr; }

  std::string_view name() const noexcept;  // as documents spell it ("example.Circle")
  unsigned version() const noexcept;       // the version this program writes (XGATE_TYPE's)
  std::type_index type() const noexcept;   // typeid(void) when empty
  bool polymorphic() const noexcept;
  // True when xgate cannot create one (an abstract class, or no default constructor): such a
  // type is reached through pointers to its derived types and never decoded on its own.
  bool abstract() const noexcept;
  bool has_sample() const noexcept;  // XGATE_SAMPLE gave it a generator
  // The registered types it derives from, directly or not: each direct base in declaration
  // order, followed by that base's own.
  std::vector<registered_type> bases() const;

  // The XSD for documents whose root is this type (as schema<T>() gives it).
  [[nodiscard]] std::string schema() const;
  // Decodes a document holding this type and encodes it again: the document in canonical
  // form (what `xgate check` prints). It keeps the document's rights unless
  // `encode.rights` is set. Throws what from_xml and to_xml throw (xmlcodec.hpp);
  // error(errc::abstract_type) when abstract().
  [[nodiscard]] std::string recode(std::string_view xml, const decode_options& decode = {},
                                   const encode_options& encode = {}) const;
  // A document of sample data from the type's XGATE_SAMPLE generator: the same seed gives
  // the same document, `count` sizes its collections. Throws what to_xml throws;
  // std::logic_error when !has_sample().
  [[nodiscard]] std::string sample(std::uint64_t seed, std::size_t count, const encode_options& options = {}) const;

  friend bool operator==(const registered_type&, const registered_type&) = default;

 private:
  friend class registry;
  explicit registered_type(const detail::type_entry* entry) noexcept : entry_(entry) {}
  const detail::type_entry& entry() const;  // throws error(errc::unknown_type) when empty
  const detail::type_entry* entry_ = nullptr;
};

// Every registered type, for reading; safe to use from any thread.
class registry {
 public:
  static const registry& instance();
  // An empty registered_type when no type is registered under that name, or for that type.
  [[nodiscard]] registered_type find(std::string_view name) const;
  [[nodiscard]] registered_type find(std::type_index type) const;
  [[nodiscard]] std::vector<registered_type> all() const;  // sorted by name
  // Registered types that can stand where `base` is expected (itself included; abstract ones
  // left out), sorted by name.
  [[nodiscard]] std::vector<registered_type> derived_from(std::type_index base) const;

 private:
  registry() = default;
};

}  // namespace xgate
