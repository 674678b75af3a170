// xgate: the command line over the codec's registry.
//
//   xgate types                              registered types, "NAME VERSION" per line
//   xgate schema TYPE                        the XSD for documents holding a TYPE
//   xgate keygen NAME [--dir DIR]            DIR/NAME.key and DIR/NAME.pub
//   xgate sample TYPE [--seed N] [--count N] [--creator P] [--read L] ... [--sign KEY]
//   xgate check FILE --type TYPE --as P [--mode read|write] [--pub KEY] [--lenient]
//
// Exit codes: 0 ok, 1 usage (bad flags, unknown type, unreadable key or file), 2 malformed
// or invalid document, 3 access denied, 4 signature invalid or missing. A failure prints
// exactly one line, "error: MESSAGE", to stderr.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include <xgate/xmlcodec.hpp>

namespace fs = std::filesystem;

namespace {

enum exit_code : int { exit_ok = 0, exit_usage = 1, exit_invalid = 2, exit_denied = 3, exit_signature = 4 };

// Failures that are the caller's to fix: a name, a path, a flag.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The contract is one line on stderr, whatever the message holds.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

int fail(int code, const std::string& message) {
  std::cout.flush();
  std::cerr << "error: " << one_line(message) << "\n";
  return code;
}

const xgate::detail::type_entry& find_type(const std::string& name) {
  const auto* entry = xgate::registry::instance().find(name);
  if (!entry) throw usage_error("unknown type \"" + name + "\" (xgate types lists the registered types)");
  return *entry;
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

std::string read_input(const std::string& path) {
  std::ostringstream s;
  if (path == "-") {
    s << std::cin.rdbuf();
    if (std::cin.bad()) throw usage_error("cannot read standard input");
    return s.str();
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw usage_error("cannot read \"" + path + "\": it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw usage_error("cannot read \"" + path + "\"");
  s << in.rdbuf();
  if (in.bad()) throw usage_error("cannot read \"" + path + "\"");
  return s.str();
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

void write_stdout(const std::string& text) {
  std::cout << text;
  if (!std::cout.flush()) throw xgate::error(xgate::errc::io_error, "writing to standard output failed");
}

// ---- subcommands ----------------------------------------------------------------------------
int run_types() {
  std::string out;
  for (const auto* e : xgate::registry::instance().all()) out += std::string(e->name) + " " + std::to_string(e->version) + "\n";
  write_stdout(out);
  return exit_ok;
}

int run_schema(const std::string& type) {
  find_type(type);
  write_stdout(xgate::schema(type));
  return exit_ok;
}

struct keygen_args {
  std::string name, dir = ".";
  bool force = false;
};

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

struct sample_args {
  std::string type;
  std::uint64_t seed = 1;
  std::size_t count = 10;
  std::optional<std::string> creator, read, write, del, copy, sign;
};

int run_sample(const sample_args& a) {
  const auto& entry = find_type(a.type);
  if (!entry.sample) throw usage_error("type \"" + a.type + "\" has no sample generator (XGATE_SAMPLE)");
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

struct check_args {
  std::string file, type, principal, mode = "read";
  std::optional<std::string> pub;
  bool lenient = false;
};

int run_check(const check_args& a) {
  const auto& entry = find_type(a.type);
  if (!entry.recode) throw usage_error("type \"" + a.type + "\" cannot be decoded on its own (abstract or not default-constructible)");
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xgate: self-describing XML documents for C++ object graphs"};
  app.require_subcommand(1);

  app.add_subcommand("types", "List the registered types, one \"NAME VERSION\" per line");

  std::string schema_type;
  CLI::App* schema = app.add_subcommand("schema", "Print the XSD for documents holding a TYPE");
  schema->add_option("TYPE", schema_type, "Registered type name")->required();

  keygen_args kg;
  CLI::App* keygen = app.add_subcommand("keygen", "Generate an Ed25519 key pair NAME.key / NAME.pub");
  keygen->add_option("NAME", kg.name, "Key (and signer) name")->required();
  keygen->add_option("--dir", kg.dir, "Directory for the key files (created if missing)")->capture_default_str();
  keygen->add_flag("--force", kg.force, "Replace an existing NAME.key");

  sample_args sa;
  CLI::App* sample = app.add_subcommand("sample", "Print a generated document of a TYPE");
  sample->add_option("TYPE", sa.type, "Registered type name")->required();
  sample->add_option("--seed", sa.seed, "Generator seed")->capture_default_str();
  sample->add_option("--count", sa.count, "Size of the generated value")->capture_default_str();
  sample->add_option("--creator", sa.creator, "Document creator (lists not given default to \"creator\")");
  sample->add_option("--read", sa.read, "Principals who may read (space or comma separated; * for anyone)");
  sample->add_option("--write", sa.write, "Principals who may write");
  sample->add_option("--delete", sa.del, "Principals who may delete");
  sample->add_option("--copy", sa.copy, "Principals who may copy");
  sample->add_option("--sign", sa.sign, "Secret key file (NAME.key) to sign with");

  check_args ca;
  CLI::App* check = app.add_subcommand("check", "Decode a document as a principal and print it re-encoded");
  check->add_option("FILE", ca.file, "Document file, or - for standard input")->required();
  check->add_option("--type", ca.type, "Registered type of the document's root")->required();
  check->add_option("--as", ca.principal, "Principal who decodes")->required();
  check->add_option("--mode", ca.mode, "Access asked for")->check(CLI::IsMember({"read", "write"}))->capture_default_str();
  check->add_option("--pub", ca.pub, "Public key file (NAME.pub): the document must carry a valid signature");
  check->add_flag("--lenient", ca.lenient, "Skip unknown fields instead of refusing the document");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();  // the help of the subcommand given, if any
    return exit_ok;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return exit_ok;
  } catch (const CLI::ParseError& e) {
    // CLI11 reports "xgate frobnicate" as a missing subcommand; name the word instead.
    if (argc > 1 && argv[1][0] != '-' && app.get_subcommands().empty())
      return fail(exit_usage, "unknown subcommand \"" + std::string(argv[1]) + "\" (see xgate --help)");
    return fail(exit_usage, std::string(e.what()) + " (see xgate --help)");
  }

  try {
    if (app.got_subcommand("types")) return run_types();
    if (app.got_subcommand(schema)) return run_schema(schema_type);
    if (app.got_subcommand(keygen)) return run_keygen(kg);
    if (app.got_subcommand(sample)) return run_sample(sa);
    if (app.got_subcommand(check)) return run_check(ca);
    return fail(exit_usage, "no subcommand (see xgate --help)");
  } catch (const usage_error& e) {
    return fail(exit_usage, e.what());
  } catch (const xgate::signature_error& e) {
    return fail(exit_signature, e.what());
  } catch (const xgate::access_denied& e) {
    return fail(exit_denied, e.what());
  } catch (const xgate::error& e) {
    return fail(exit_invalid, e.what());
  } catch (const std::exception& e) {
    return fail(exit_invalid, e.what());
  }
}
