// Ed25519 keys (libsodium). Documents are signed with the multi-part Ed25519ph scheme so a
// document of any size is signed while it streams out.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace xgate {

class verify_key {
 public:
  verify_key(std::string name, const std::array<unsigned char, 32>& bytes) : name_(std::move(name)), bytes_(bytes) {}
  [[nodiscard]] static verify_key load(const std::string& path);  // NAME.pub; throws error(key_error)
  void save(const std::string& path) const;                       // throws error(key_error)
  const std::string& name() const noexcept { return name_; }
  const std::array<unsigned char, 32>& bytes() const noexcept { return bytes_; }

 private:
  std::string name_;
  std::array<unsigned char, 32> bytes_;
};

class signing_key {
 public:
  // A new key pair; throws error(key_error) for a name is_valid_principal refuses.
  [[nodiscard]] static signing_key generate(std::string name);
  [[nodiscard]] static signing_key load(const std::string& path);  // NAME.key; throws error(key_error)
  void save(const std::string& path) const;  // written with mode 0600; throws error(key_error)
  ~signing_key();
  signing_key(const signing_key&) = default;
  signing_key& operator=(const signing_key&) = default;

  const std::string& name() const noexcept { return name_; }
  [[nodiscard]] verify_key public_key() const;
  const std::array<unsigned char, 64>& secret() const noexcept { return secret_; }

 private:
  signing_key(std::string name, const std::array<unsigned char, 64>& secret) : name_(std::move(name)), secret_(secret) {}
  std::string name_;
  std::array<unsigned char, 64> secret_;
};

// Writes DIR/NAME.key and DIR/NAME.pub; returns the two paths. Throws error(key_error).
std::pair<std::string, std::string> write_keypair(const signing_key& key, const std::string& directory);

}  // namespace xgate
