#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <sodium.h>

#include <xgate/xmlcodec/error.hpp>
#include <xgate/xmlcodec/rights.hpp>
#include <xgate/xmlcodec/signing.hpp>

namespace xgate {
namespace detail {
void ensure_sodium() {
  static const int ok = sodium_init();
  if (ok < 0) throw error(errc::key_error, "libsodium could not be initialised");
}
}  // namespace detail

namespace {
constexpr const char* secret_tag = "xgate-ed25519-secret-key";
constexpr const char* public_tag = "xgate-ed25519-public-key";

std::string to_b64(const unsigned char* p, std::size_t n) {
  std::string s(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(s.data(), s.size(), p, n, sodium_base64_VARIANT_ORIGINAL);
  s.resize(s.size() - 1);
  return s;
}

template <std::size_t N>
void read_key_file(const std::string& path, const char* tag, std::string& name, std::array<unsigned char, N>& out) {
  std::ifstream in(path);
  if (!in) throw error(errc::key_error, "cannot open key file \"" + path + "\"");
  std::string line;
  std::getline(in, line);
  std::istringstream fields(line);
  std::string kind, b64;
  fields >> kind >> name >> b64;
  std::size_t len = 0;
  if (kind != tag || name.empty() || !is_valid_principal(name) ||
      sodium_base642bin(out.data(), out.size(), b64.data(), b64.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len != N) {
    sodium_memzero(b64.data(), b64.size());
    sodium_memzero(line.data(), line.size());
    throw error(errc::key_error, "\"" + path + "\" is not an xgate " + (N == 64 ? "secret" : "public") +
                                     " key file (expected one line: " + tag + " NAME BASE64)");
  }
  sodium_memzero(b64.data(), b64.size());
  sodium_memzero(line.data(), line.size());
}

void write_file(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) throw error(errc::key_error, "cannot write key file \"" + path + "\"");
  ::chmod(path.c_str(), mode);
  out << text;
  out.flush();
  if (!out) throw error(errc::key_error, "cannot write key file \"" + path + "\"");
}
}  // namespace

verify_key verify_key::load(const std::string& path) {
  detail::ensure_sodium();
  std::string name;
  std::array<unsigned char, 32> bytes{};
  read_key_file(path, public_tag, name, bytes);
  return verify_key(std::move(name), bytes);
}

void verify_key::save(const std::string& path) const {
  write_file(path, std::string(public_tag) + " " + name_ + " " + to_b64(bytes_.data(), bytes_.size()) + "\n", 0644);
}

signing_key signing_key::generate(std::string name) {
  detail::ensure_sodium();
  if (!is_valid_principal(name)) throw error(errc::key_error, "invalid key name \"" + name + "\"");
  std::array<unsigned char, 32> pk{};
  std::array<unsigned char, 64> sk{};
  crypto_sign_keypair(pk.data(), sk.data());
  signing_key k(std::move(name), sk);
  sodium_memzero(sk.data(), sk.size());
  return k;
}

signing_key signing_key::load(const std::string& path) {
  detail::ensure_sodium();
  std::string name;
  std::array<unsigned char, 64> sk{};
  read_key_file(path, secret_tag, name, sk);
  signing_key k(std::move(name), sk);
  sodium_memzero(sk.data(), sk.size());
  return k;
}

void signing_key::save(const std::string& path) const {
  std::string b64 = to_b64(secret_.data(), secret_.size());
  std::string text = std::string(secret_tag) + " " + name_ + " " + b64 + "\n";
  write_file(path, text, 0600);
  sodium_memzero(b64.data(), b64.size());
  sodium_memzero(text.data(), text.size());
}

signing_key::~signing_key() { sodium_memzero(secret_.data(), secret_.size()); }

verify_key signing_key::public_key() const {
  std::array<unsigned char, 32> pk{};
  crypto_sign_ed25519_sk_to_pk(pk.data(), secret_.data());
  return verify_key(name_, pk);
}

std::pair<std::string, std::string> write_keypair(const signing_key& key, const std::string& directory) {
  std::string base = directory.empty() ? key.name() : directory + "/" + key.name();
  key.save(base + ".key");
  key.public_key().save(base + ".pub");
  return {base + ".key", base + ".pub"};
}

}  // namespace xgate
