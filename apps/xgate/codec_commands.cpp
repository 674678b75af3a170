#include "codec_commands.hpp"

#include <filesystem>
#include <system_error>

#include <xgate/xmlcodec.hpp>

#include "cli.hpp"

namespace fs = std::filesystem;

namespace xgate::xgate_cli {

namespace {

xgate::registered_type find_type(const std::string& name) {
  xgate::registered_type entry = xgate::registry::instance().find(name);
  if (!entry) throw usage_error("unknown type \"" + name + "\" (xgate types lists the registered types)");
  return entry;
}

// "alice bob" or "alice,bob"
xgate::principal_list split_principals(std::string text, const std::string& flag) {
  for (char& c : text)
    if (c == ',') c = ' ';
  try {
    return xgate::parse_principals(text);
  } catch (const xgate::error& e) {
    throw usage_error(flag + ": " + e.what());
  }
}

// Key files name the caller's inputs: a missing or broken one is a usage error, not a
// property of the document.
template <class Key>
Key load_key(const std::string& path) {
  try {
    return Key::load(path);
  } catch (const xgate::error& e) {
    throw usage_error(e.what());
  }
}

}  // namespace

int run_types() {
  std::string out;
  for (const auto& e : xgate::registry::instance().all()) out += std::string(e.name()) + " " + std::to_string(e.version()) + "\n";
  write_stdout(out);
  return exit_ok;
}

int run_schema(const std::string& type) {
  find_type(type);
  write_stdout(xgate::schema(type));
  return exit_ok;
}

int run_keygen(const keygen_args& a) {
  if (!xgate::is_valid_principal(a.name)) throw usage_error("invalid key name \"" + a.name + "\"");
  std::error_code ec;
  fs::create_directories(a.dir, ec);
  if (ec) throw usage_error("cannot create directory \"" + a.dir + "\": " + ec.message());
  // Overwriting a secret key loses it for good: only on request.
  fs::path secret = fs::path(a.dir) / (a.name + ".key");
  if (!a.force && fs::exists(secret, ec)) throw usage_error("\"" + secret.string() + "\" exists (use --force to replace it)");
  try {
    auto [key_path, pub_path] = xgate::write_keypair(xgate::signing_key::generate(a.name), a.dir);
    write_stdout(key_path + "\n" + pub_path + "\n");
  } catch (const xgate::error& e) {
    if (e.code() != xgate::errc::key_error) throw;
    throw usage_error(e.what());
  }
  return exit_ok;
}

int run_sample(const sample_args& a) {
  const auto& entry = find_type(a.type);
  if (!entry.has_sample()) throw usage_error("type \"" + a.type + "\" has no sample generator (XGATE_SAMPLE)");
  xgate::encode_options options;
  if (a.creator || a.read || a.write || a.del || a.copy) {
    xgate::rights r;
    if (a.creator) {
      if (!xgate::is_valid_principal(*a.creator)) throw usage_error("--creator: invalid principal name \"" + *a.creator + "\"");
      r.creator = *a.creator;
    }
    // With a creator, what is not said stays with the creator; without one, with nobody.
    auto list = [&](const std::optional<std::string>& text, const std::string& flag) {
      if (text) return split_principals(*text, flag);
      return a.creator ? xgate::principal_list{"creator"} : xgate::principal_list{};
    };
    r.read = list(a.read, "--read");
    r.write = list(a.write, "--write");
    r.del = list(a.del, "--delete");
    r.copy = list(a.copy, "--copy");
    options.rights = std::move(r);
  }
  std::optional<xgate::signing_key> key;
  if (a.sign) {
    key = load_key<xgate::signing_key>(*a.sign);
    options.sign = &*key;
  }
  write_stdout(entry.sample(a.seed, a.count, options));
  return exit_ok;
}

int run_check(const check_args& a) {
  const auto& entry = find_type(a.type);
  if (entry.abstract()) throw usage_error("type \"" + a.type + "\" cannot be decoded on its own (abstract or not default-constructible)");
  std::optional<xgate::verify_key> pub;
  if (a.pub) pub = load_key<xgate::verify_key>(*a.pub);
  std::string xml = read_input(a.file);
  xgate::decode_options options;
  options.principal = a.principal;
  options.mode = a.mode == "write" ? xgate::access_mode::write : xgate::access_mode::read;
  options.verify = pub ? &*pub : nullptr;
  options.strict = !a.lenient;
  options.document_name = a.file == "-" ? "<stdin>" : a.file;
  write_stdout(entry.recode(xml, options, {}));
  return exit_ok;
}

}  // namespace xgate::xgate_cli
