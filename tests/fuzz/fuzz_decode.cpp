// libFuzzer target: arbitrary bytes into xgate's decoder.
//
// Each input is decoded into every fuzz type (fuzz_types.hpp) under five sets of options:
// strict and anonymous, lenient, a reading principal, a writing principal (decoding in
// place), and a reading principal who requires fuzz's signature. The decoder may refuse an
// input only by throwing xgate::error; anything else escaping (another exception, a crash,
// a leak, undefined behaviour) is a finding. Invariants, each aborting with a message:
// - a document that decodes re-encodes, the encoding decodes again, and encoding that
//   second value gives the same bytes (the encoder's output is canonical);
// - a failed in-place decode leaves a default-constructed value;
// - lenient mode accepts what strict mode accepts, and decodes it to the same encoding;
// - a document that verifies decodes, unverified, to the same encoding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_types.hpp"

namespace {

[[noreturn]] void finding(const char* what, std::string_view type, const std::string& detail) {
  std::fprintf(stderr, "\nfuzz_decode: %s (type %.*s)\n%s\n", what, static_cast<int>(type.size()), type.data(), detail.c_str());
  std::abort();
}

const xgate::verify_key fuzz_key = fz::verify_key();

xgate::decode_options make_options(bool strict, std::string principal, xgate::access_mode mode,
                                   const xgate::verify_key* verify = nullptr) {
  xgate::decode_options o;
  o.verify = verify;
  o.strict = strict;
  o.principal = std::move(principal);
  o.mode = mode;
  o.limits.max_bytes = std::size_t{1} << 20;
  o.limits.max_depth = 64;
  o.document_name = "fuzz";
  return o;
}

const xgate::decode_options option_sets[] = {
    make_options(true, "", xgate::access_mode::read),
    make_options(false, "", xgate::access_mode::read),
    make_options(true, "alice", xgate::access_mode::read),
    make_options(false, "bob", xgate::access_mode::write),              // decoded in place
    make_options(true, "alice", xgate::access_mode::read, &fuzz_key),  // must carry fuzz's signature
};

// A value decoded by a principal who may not read part of it cannot be written again.
template <class T>
bool holds_withheld(const T&) { return false; }
bool holds_withheld(const fz::Scene& s) { return s.secret.withheld(); }

template <class T>
std::string encode_or_die(const xgate::decoded<T>& got, std::string_view stage) {
  xgate::encode_options eo;
  eo.rights = got.rights;
  try {
    return xgate::to_xml(got.value, eo);
  } catch (const xgate::error& e) {
    finding("a decoded value cannot be encoded", xgate::type_name_v<T>, std::string(stage) + ": " + e.what());
  }
}

// What one decode gave: refused, or decoded (with its canonical encoding, unless part of
// the value was withheld from the principal). Outcomes are compared across option sets.
struct outcome {
  bool decoded = false;
  std::optional<std::string> encoding;
};

template <class T>
outcome check(std::string_view input, const xgate::decode_options& options, bool in_place) {
  xgate::decoded<T> got;
  try {
    if (in_place) {
      // The in-place form: on failure the target must be left default-constructed.
      xgate::from_xml(input, got.value, options);
    } else {
      got = xgate::decode<T>(input, options);
    }
  } catch (const xgate::error&) {
    // Refused, as it may be. In place, the target must hold no half-decoded value.
    if (in_place) {
      static const std::string empty = xgate::to_xml(T{});
      if (xgate::to_xml(got.value) != empty)
        finding("a failed in-place decode left a half-decoded value", xgate::type_name_v<T>, xgate::to_xml(got.value));
    }
    return {};
  }
  outcome result{true, std::nullopt};
  if (!holds_withheld(got.value)) {
    // Output may be larger than the input (indentation), so the second decode gets room.
    xgate::decode_options again = options;
    again.limits.max_bytes = std::size_t{64} << 20;
    again.verify = nullptr;  // re-encoded unsigned
    std::string first = encode_or_die(got, "first encoding");
    xgate::decoded<T> got2;
    try {
      got2 = xgate::decode<T>(first, again);
    } catch (const xgate::error& e) {
      finding("the encoder's output does not decode", xgate::type_name_v<T>, std::string(e.what()) + "\n--- output ---\n" + first);
    }
    std::string second = encode_or_die(got2, "second encoding");
    if (first != second)
      finding("encoding is not canonical", xgate::type_name_v<T>, "--- first ---\n" + first + "\n--- second ---\n" + second);
    fz::break_cycles(got2.value);
    result.encoding = std::move(first);
  }
  fz::break_cycles(got.value);
  return result;
}

template <class T>
void check_all(std::string_view input) {
  outcome outcomes[std::size(option_sets)];
  for (std::size_t i = 0; i < std::size(option_sets); ++i) {
    // The in-place form does not report the document's rights, so its encoding cannot be
    // compared with the others: it is used for the one option set that is not compared.
    outcomes[i] = check<T>(input, option_sets[i], i == 3);
  }
  // Lenient decoding accepts everything strict decoding accepts, and means the same by it.
  const outcome& strict = outcomes[0];
  const outcome& lenient = outcomes[1];
  if (strict.decoded && !lenient.decoded)
    finding("strict mode accepts a document lenient mode refuses", xgate::type_name_v<T>, std::string(input));
  if (strict.encoding && lenient.encoding && *strict.encoding != *lenient.encoding)
    finding("strict and lenient mode decode a document differently", xgate::type_name_v<T>,
            "--- strict ---\n" + *strict.encoding + "\n--- lenient ---\n" + *lenient.encoding);
  // Verifying a signature only ever refuses more; what it accepts reads as without it.
  const outcome& plain = outcomes[2];
  const outcome& verified = outcomes[4];
  if (verified.decoded && !plain.decoded)
    finding("a document that verifies is refused without verification", xgate::type_name_v<T>, std::string(input));
  if (verified.encoding && plain.encoding && *verified.encoding != *plain.encoding)
    finding("verification changes what a document decodes to", xgate::type_name_v<T>,
            "--- verified ---\n" + *verified.encoding + "\n--- unverified ---\n" + *plain.encoding);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  check_all<fz::Scalars>(input);
  check_all<fz::Containers>(input);
  check_all<fz::Graph>(input);
  check_all<fz::Scene>(input);
  return 0;
}
