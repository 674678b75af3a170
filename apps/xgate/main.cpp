// xgate: the command line over the codec's registry.
//
//   xgate types                              registered types, "NAME VERSION" per line
//   xgate schema TYPE                        the XSD for documents holding a TYPE
//   xgate keygen NAME [--dir DIR]            DIR/NAME.key and DIR/NAME.pub
//   xgate sample TYPE [--seed N] [--count N] [--creator P] [--read L] ... [--sign KEY]
//   xgate check FILE --type TYPE --as P [--mode read|write] [--pub KEY] [--lenient]
//   xgate store put|get|take|rm|ls|query|watch|info|credential ...   a document store,
//         local (--data DIR --as PRINCIPAL) or on an xgated server (--server URL --token T)
//   xgate chat --hub URL --as NAME --secret-file F [--http-proxy URL]
//         talk through a channel hub (tcp://HOST:PORT, or http://HOST:PORT for long-poll):
//         reads "TO: TEXT" lines from stdin and sends them; prints "FROM: TEXT" for each
//         message and "* NAME is online|offline" for presence; on EOF flushes and exits
//   xgate agent --name X --upstream URL --secret-file F --downstream LISTEN --data DIR
//   xgate agent --name X --upstream URL --secret-file F --downstream URL --downstream-secret-file F2
//         a relay agent (channel/agent.hpp) between the upstream hub and a downstream hub it
//         runs (prints "hub: tcp://ADDRESS:PORT") or joins; runs until SIGINT/SIGTERM
//   xgate hops [--via A,B] --hub URL --as NAME --secret-file F
//         who is online on the hub, or on the far side of the last agent of --via, one per line
//
// Exit codes: 0 ok, 1 usage (bad flags, unknown type, unreadable key or file, bad document
// name or XPath), 2 malformed or invalid document (also one too large for the store), 3
// access denied (also a bad token, a claimed creator or a rights change the store refuses),
// 4 signature invalid or missing, 5 no such document, 6 conflict with the store's state
// (revision conflict, no lease, watch history lost), 7 the store or server failed or cannot
// be reached. A failure prints exactly one line, "error: MESSAGE", to stderr.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include <xgate/channel/agent.hpp>
#include <xgate/channel/endpoint.hpp>
#include <xgate/channel/longpoll.hpp>
#include <xgate/client/http_session.hpp>
#include <xgate/client/open_session.hpp>

#include "agent_commands.hpp"
#include <xgate/store/session.hpp>
#include <xgate/xmlcodec.hpp>

namespace fs = std::filesystem;

namespace {

enum exit_code : int {
  exit_ok = 0,
  exit_usage = 1,
  exit_invalid = 2,
  exit_denied = 3,
  exit_signature = 4,
  exit_not_found = 5,
  exit_conflict = 6,
  exit_unavailable = 7,
};

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
  for (const auto& e : xgate::registry::instance().all()) out += std::string(e.name()) + " " + std::to_string(e.version()) + "\n";
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

struct check_args {
  std::string file, type, principal, mode = "read";
  std::optional<std::string> pub;
  bool lenient = false;
};

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


// ---- xgate store ----------------------------------------------------------------------------
namespace st = xgate::store;

// Where the store is: a directory opened in this process, or an xgated server.
struct store_target {
  std::string server, token, data, as;
};

// A store failure, with the store's address so the one error line says where.
struct store_failure {
  int code;
  std::string message;
};

void add_target_options(CLI::App* cmd, store_target& t) {
  cmd->add_option("--server", t.server, "xgated URL (http://host:port)");
  cmd->add_option("--token", t.token, "Token for the server, or for --data instead of --as (default: $XGATE_TOKEN)");
  cmd->add_option("--data", t.data, "Store directory, opened in this process");
  cmd->add_option("--as", t.as, "Principal to act as on the --data store");
}

std::unique_ptr<st::session> open_target(store_target t, xgate::client::store_cache& cache, bool create) {
  if (t.token.empty())
    if (const char* env = std::getenv("XGATE_TOKEN")) t.token = env;
  if (!t.server.empty() == !t.data.empty()) throw usage_error("give either --server URL or --data DIR");
  if (!t.server.empty()) {
    if (!t.as.empty()) throw usage_error("--as is for --data; on a server the token says who you are");
    if (t.token.empty()) throw usage_error("--server needs --token TOKEN (or XGATE_TOKEN in the environment)");
    if (!t.server.starts_with("http://")) throw usage_error("--server: \"" + t.server + "\" is not an http://host:port URL");
    try {
      return xgate::client::http_session(t.server, t.token);
    } catch (const xgate::client::client_error& e) {
      throw usage_error(std::string("--server: ") + e.what());
    }
  }
  std::error_code ec;
  // A mistyped directory should not silently become a new, empty store: only put creates one.
  if (!create && !fs::is_directory(t.data, ec)) throw usage_error("--data: no store directory \"" + t.data + "\"");
  std::string credential;
  if (!t.as.empty()) {
    if (!xgate::is_valid_principal(t.as)) throw usage_error("--as: invalid principal name \"" + t.as + "\"");
    credential = "principal:" + t.as;
  } else if (!t.token.empty()) {
    credential = t.token;
  } else {
    throw usage_error("--data needs --as PRINCIPAL (or --token TOKEN)");
  }
  return xgate::client::open_session("file:" + fs::absolute(t.data).string(), credential, cache);
}

std::string iso_time(st::clock::time_point t) {
  using namespace std::chrono;
  auto ms = floor<milliseconds>(t);
  auto day = floor<days>(ms);
  year_month_day ymd{day};
  hh_mm_ss hms{ms - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<int>(hms.subseconds().count()));
  return buf;
}

struct store_args {
  store_target target;
  std::string name, file = "-", prefix, xpath, rights = "read";
  std::optional<double> lease, ttl, timeout;
  std::optional<std::uint64_t> if_revision, after, count;
  bool no_subtree = false;
  std::string label;
};

std::chrono::milliseconds to_ms(double seconds, const std::string& flag) {
  if (!(seconds >= 0) || seconds > 1e9) throw usage_error(flag + ": " + std::to_string(seconds) + " is not a number of seconds");
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000 + 0.5));
}

int run_store_put(st::session& s, const store_args& a) {
  std::string xml = read_input(a.file);
  st::write_options o;
  o.expected_revision = a.if_revision;
  if (a.lease) o.lease = to_ms(*a.lease, "--lease");
  write_stdout(std::to_string(s.write(a.name, xml, o).revision) + "\n");
  return exit_ok;
}

int run_store_ls(st::session& s, const store_args& a) {
  std::vector<std::vector<std::string>> rows{{"NAME", "REVISION", "SIZE", "CREATOR", "MODIFIED", "LEASE"}};
  for (const auto& d : s.list(a.prefix))
    rows.push_back({d.name, std::to_string(d.revision), std::to_string(d.size), d.rights.creator.empty() ? "-" : d.rights.creator,
                    iso_time(d.modified), d.lease_expires ? iso_time(*d.lease_expires) : "-"});
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  write_stdout(out);
  return exit_ok;
}

int run_store_info(st::session& s, const store_args& a) {
  auto d = s.info(a.name);
  std::string out = "name: " + d.name + "\nrevision: " + std::to_string(d.revision) + "\nsize: " + std::to_string(d.size) +
                    "\ncreated: " + iso_time(d.created) + "\nmodified: " + iso_time(d.modified) + "\ncreator: " +
                    d.rights.creator + "\nread: " + xgate::join_principals(d.rights.read) +
                    "\nwrite: " + xgate::join_principals(d.rights.write) + "\ndelete: " + xgate::join_principals(d.rights.del) +
                    "\ncopy: " + xgate::join_principals(d.rights.copy) + "\nembedded-rights: " + (d.embedded_rights ? "yes" : "no") +
                    "\nlease: " + (d.lease_expires ? iso_time(*d.lease_expires) + " held by " + d.lease_holder : "-") + "\n";
  write_stdout(out);
  return exit_ok;
}

int run_store_query(st::session& s, const store_args& a) {
  std::string out;
  for (const auto& m : s.query(a.prefix, a.xpath))
    for (const auto& v : m.values) out += m.name + ": " + v + "\n";
  write_stdout(out);
  return exit_ok;
}

// One line per change, flushed at once so that a pipe sees changes as they happen. Ends after
// --count changes or --timeout seconds (0 on both: a timeout is not a failure).
int run_store_watch(st::session& s, const store_args& a) {
  using namespace std::chrono;
  std::uint64_t after = a.after ? *a.after : s.revision();
  std::uint64_t seen = 0;
  auto deadline = a.timeout ? steady_clock::now() + to_ms(*a.timeout, "--timeout") : steady_clock::time_point::max();
  if (a.count && *a.count == 0) return exit_ok;
  for (;;) {
    // At least one look, so that --timeout 0 prints what is there now.
    auto left = a.timeout ? std::max(duration_cast<milliseconds>(deadline - steady_clock::now()), milliseconds(0)) : milliseconds(60000);
    for (const auto& c : s.watch(a.prefix, after, std::min(left, milliseconds(60000)))) {
      after = c.revision;
      write_stdout(std::to_string(c.revision) + " " + st::to_string(c.kind) + " " + c.name + "\n");
      if (a.count && ++seen >= *a.count) return exit_ok;
    }
    if (a.timeout && steady_clock::now() >= deadline) return exit_ok;
  }
}

int run_store_credential(st::session& s, const store_args& a) {
  auto rights = st::right_set::parse(a.rights);
  if (!rights || rights->empty()) throw usage_error("--rights: \"" + a.rights + "\" is not a list of read, write, delete, copy (or all)");
  st::credential_request r;
  r.scope = a.name;
  r.subtree = !a.no_subtree;
  r.rights = *rights;
  if (a.ttl) r.ttl = to_ms(*a.ttl, "--ttl");
  r.label = a.label;
  write_stdout(s.issue_credential(r) + "\n");
  return exit_ok;
}

int run_store(const std::string& command, const store_args& a) {
  xgate::client::store_cache cache;
  std::unique_ptr<st::session> s;
  // Where, for the error line: a bad token already fails while opening a --data store.
  std::string where = !a.target.server.empty() ? a.target.server
                      : a.target.data.empty()  ? std::string("?")
                                               : "file:" + fs::absolute(a.target.data).string();
  try {
    s = open_target(a.target, cache, command == "put");
    if (command == "put") return run_store_put(*s, a);
    if (command == "get") return write_stdout(s->read(a.name).xml), exit_ok;
    if (command == "take") return write_stdout(s->take(a.name).xml), exit_ok;
    if (command == "rm") return s->remove(a.name, a.if_revision), exit_ok;
    if (command == "ls") return run_store_ls(*s, a);
    if (command == "info") return run_store_info(*s, a);
    if (command == "query") return run_store_query(*s, a);
    if (command == "watch") return run_store_watch(*s, a);
    if (command == "credential") return run_store_credential(*s, a);
    throw usage_error("unknown store command \"" + command + "\"");
  } catch (const st::store_error& e) {
    int code = exit_unavailable;
    switch (e.reason()) {
      case st::store_errc::not_found: code = exit_not_found; break;
      case st::store_errc::conflict:
      case st::store_errc::no_lease:
      case st::store_errc::history_lost: code = exit_conflict; break;
      case st::store_errc::bad_name:
      case st::store_errc::bad_xpath: code = exit_usage; break;
      case st::store_errc::bad_document:
      case st::store_errc::too_large: code = exit_invalid; break;
      case st::store_errc::creator_mismatch:
      case st::store_errc::rights_change:
      case st::store_errc::bad_credential: code = exit_denied; break;
      case st::store_errc::lmdb: code = exit_unavailable; break;
    }
    throw store_failure{code, std::string(e.what()) + " (at " + where + ")"};
  } catch (const xgate::access_denied& e) {
    throw store_failure{exit_denied, std::string(e.what()) + " (at " + where + ")"};
  } catch (const xgate::client::client_error& e) {
    throw store_failure{exit_unavailable, e.what()};
  }
}

// ---- chat ---------------------------------------------------------------------------------
// A chat message's body: one line of text (kind "chat").
struct chat_line {
  std::string text;
};
XGATE_TYPE(chat_line, "xgate.ChatLine", 1, (), (text))

struct chat_args {
  std::string hub, name, secret_file, http_proxy;
  double wait = 10;  // seconds to wait for the login and, at EOF, for the hub's acknowledgements
};

int run_chat(const chat_args& a) {
  namespace ch = xgate::channel;
  std::mutex out;  // callbacks run on the endpoint's thread, the prompt loop on this one
  auto say = [&out](const std::string& line) {
    std::lock_guard lock(out);
    std::cout << line << std::endl;  // a line at a time: scripts read it as it comes
  };
  ch::endpoint_options o;
  o.hub = a.hub;
  o.name = a.name;
  o.secret_file = a.secret_file;
  if (a.hub.starts_with("http://")) {
    ch::longpoll_options lp;
    lp.http_proxy = a.http_proxy;  // "" = the http_proxy environment variable
    o.custom_transport = ch::make_http_transport(a.hub, o.transport_settings, lp);
  }
  ch::message_codec<chat_line> gate;
  o.on_message = [&](ch::envelope e) {
    std::string text;
    try {
      text = gate.open(e).text;
    } catch (const std::exception&) {
      text = "[" + e.kind + ", " + std::to_string(e.body.size()) + " bytes]";  // not a chat line
    }
    say(e.from + ": " + one_line(text));
  };
  o.on_presence = [&](const ch::frames::presence& p) {
    for (const auto& entry : p.entries)
      if (entry.endpoint != a.name || !p.snapshot) say("* " + entry.endpoint + " is " + (entry.online ? "online" : "offline"));
  };
  o.on_error = [&](const ch::frames::error& e) {
    std::lock_guard lock(out);
    std::cerr << "error: " << one_line(e.reason) << std::endl;
  };
  ch::endpoint ep(std::move(o));
  ep.start();
  auto wait = std::chrono::milliseconds(static_cast<long long>(a.wait * 1000));
  try {
    if (!ep.wait_connected(wait))
      throw store_failure{exit_unavailable, "cannot log in to " + a.hub + " within " + std::to_string(wait.count()) +
                                                " ms: " + ep.last_error()};
  } catch (const ch::channel_error& e) {
    throw store_failure{exit_denied, e.what()};
  }
  say("* connected to " + a.hub + " as " + a.name);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::size_t colon = line.find(':');
    std::string to = colon == std::string::npos ? "" : line.substr(0, colon);
    std::string text = colon == std::string::npos ? "" : line.substr(colon + 1);
    if (!text.empty() && text.front() == ' ') text.erase(0, 1);
    while (!to.empty() && to.back() == ' ') to.pop_back();
    try {
      if (to.empty()) throw usage_error("lines are \"TO: TEXT\"");
      ep.send(to, chat_line{text}, "chat");
    } catch (const std::exception& e) {  // one bad line does not end the session
      std::lock_guard lock(out);
      std::cerr << "error: " << one_line(e.what()) << std::endl;
    }
  }
  bool flushed = ep.flush(wait);
  ep.stop();
  if (!flushed) throw store_failure{exit_unavailable, "the hub did not acknowledge every message within " +
                                                          std::to_string(wait.count()) + " ms"};
  return exit_ok;
}

// ---- agent, hops (apps/common/agent_commands.hpp, shared with `migrate agent` / `migrate hops`) ----
int run_agent(const xgate::apps::agent_flags& a) {
  xgate::channel::agent_options o;
  try {
    o = xgate::apps::agent_options_from(a);
  } catch (const std::invalid_argument& e) {
    throw usage_error(e.what());
  }
  try {
    xgate::apps::run_agent_until_signal(std::move(o));  // bad options: channel_error, exit 2 like other bad input
  } catch (const xgate::channel::channel_error&) {
    throw;
  } catch (const std::exception& e) {  // the store or the listen address
    throw store_failure{exit_unavailable, "agent " + a.name + ": " + e.what()};
  }
  return exit_ok;
}

struct hops_args {
  std::string hub, name, secret_file, via;
  double wait = 10;
};

int run_hops(const hops_args& a) {
  auto wait = std::chrono::milliseconds(static_cast<long long>(a.wait * 1000));
  std::vector<std::string> names;
  try {
    names = xgate::apps::list_hops(a.hub, a.name, a.secret_file, xgate::apps::split_via(a.via), wait);
  } catch (const xgate::channel::channel_error& e) {
    // A refused login is a denial; a failed query (a hop not there, a timeout) is unavailability.
    throw store_failure{e.code() == xgate::channel::channel_errc::bad_auth ? exit_denied : exit_unavailable, e.what()};
  } catch (const std::runtime_error& e) {
    throw store_failure{exit_unavailable, e.what()};
  }
  for (auto& n : names) std::cout << n << "\n";
  std::cout.flush();
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

  // xgate store SUBCOMMAND: every subcommand takes the same --server/--token or --data/--as.
  store_args st_args;
  CLI::App* store_cmd = app.add_subcommand("store", "Documents in a store: a local directory (--data) or an xgated server (--server)");
  store_cmd->require_subcommand(1);
  store_cmd->footer(
      "Exit codes: 0 ok, 1 usage, 2 invalid or too large document, 3 access denied or bad token, 5 no such document,\n"
      "6 conflict (revision, lease, lost watch history), 7 store or server failure or unreachable.");
  auto store_sub = [&](const char* name, const char* about) {
    CLI::App* c = store_cmd->add_subcommand(name, about);
    add_target_options(c, st_args.target);
    return c;
  };
  CLI::App* st_put = store_sub("put", "Write a document (from FILE or standard input); prints its new revision");
  st_put->add_option("NAME", st_args.name, "Document name")->required();
  st_put->add_option("FILE", st_args.file, "XML file, or - for standard input")->capture_default_str();
  st_put->add_option("--lease", st_args.lease, "The document expires this many seconds after the write");
  st_put->add_option("--if-revision", st_args.if_revision, "Write only if the document is at this revision (0: only if new)");
  CLI::App* st_get = store_sub("get", "Print a document");
  st_get->add_option("NAME", st_args.name, "Document name")->required();
  CLI::App* st_take = store_sub("take", "Print a document and remove it, atomically");
  st_take->add_option("NAME", st_args.name, "Document name")->required();
  CLI::App* st_rm = store_sub("rm", "Remove a document");
  st_rm->add_option("NAME", st_args.name, "Document name")->required();
  st_rm->add_option("--if-revision", st_args.if_revision, "Remove only if the document is at this revision");
  CLI::App* st_ls = store_sub("ls", "List readable documents: name, revision, size, creator, modified, lease");
  st_ls->add_option("PREFIX", st_args.prefix, "Name prefix (whole segments); all documents when absent");
  CLI::App* st_query = store_sub("query", "Evaluate an XPath on the readable documents under PREFIX; prints NAME: VALUE lines");
  st_query->add_option("PREFIX", st_args.prefix, "Name prefix (\"\" for all)")->required();
  st_query->add_option("XPATH", st_args.xpath, "XPath 1.0 expression")->required();
  CLI::App* st_watch = store_sub("watch", "Print changes under PREFIX as they happen, one \"REVISION KIND NAME\" line each");
  st_watch->add_option("PREFIX", st_args.prefix, "Name prefix (\"\" for all)")->required();
  st_watch->add_option("--after", st_args.after, "Changes after this revision (default: the store's current revision)");
  st_watch->add_option("--count", st_args.count, "Stop after this many changes");
  st_watch->add_option("--timeout", st_args.timeout, "Stop after this many seconds (exit 0)");
  CLI::App* st_info = store_sub("info", "Print a document's metadata");
  st_info->add_option("NAME", st_args.name, "Document name")->required();
  CLI::App* st_cred = store_sub("credential", "Issue a credential (prints its token, shown only once)");
  st_cred->add_option("NAME", st_args.name, "Document or subtree the credential covers (all names when absent)");
  st_cred->add_option("--rights", st_args.rights, "Rights granted: read,write,delete,copy or all")->capture_default_str();
  st_cred->add_option("--ttl", st_args.ttl, "Expires after this many seconds");
  st_cred->add_flag("--no-subtree", st_args.no_subtree, "Only the document NAME, not the names under it");
  st_cred->add_option("--label", st_args.label, "Free text shown in credential listings");

  chat_args chat_a;
  CLI::App* chat = app.add_subcommand("chat", "Talk through a channel hub: \"TO: TEXT\" lines in, \"FROM: TEXT\" lines out");
  chat->add_option("--hub", chat_a.hub, "The hub: tcp://HOST:PORT, or http://HOST:PORT for HTTP long-poll")->required();
  chat->add_option("--as", chat_a.name, "Endpoint name to log in as")->required();
  chat->add_option("--secret-file", chat_a.secret_file, "File holding the credential token on its first line")->required();
  chat->add_option("--http-proxy", chat_a.http_proxy,
                   "HTTP forward proxy for an http:// hub (default: the http_proxy environment variable; - for none)");
  chat->add_option("--wait", chat_a.wait, "Seconds to wait for the login, and at the end for acknowledgements")
      ->capture_default_str();

  xgate::apps::agent_flags agent_a;
  CLI::App* agent_cmd = app.add_subcommand("agent", "Relay routes between an upstream hub and a downstream hub (runs until SIGTERM)");
  agent_cmd->add_option("--name", agent_a.name, "The agent's endpoint name on both hubs")->required();
  agent_cmd->add_option("--upstream", agent_a.upstream, "The upstream hub: tcp://HOST:PORT or http://HOST:PORT")->required();
  agent_cmd->add_option("--secret-file", agent_a.secret_file, "File holding the upstream credential token")->required();
  agent_cmd->add_option("--downstream", agent_a.downstream,
                        "ADDRESS:PORT: run the downstream hub there (port 0 picks one; needs --data); or a hub URL to join")
      ->required();
  agent_cmd->add_option("--data", agent_a.data, "The store directory of the downstream hub it runs");
  agent_cmd->add_option("--downstream-secret-file", agent_a.downstream_secret_file,
                        "File holding the credential for a downstream hub it joins");
  agent_cmd->add_option("--hop-timeout", agent_a.hop_timeout, "Seconds a route neighbour may be unreachable before the route breaks")
      ->capture_default_str();

  hops_args hops_a;
  CLI::App* hops_cmd = app.add_subcommand("hops", "List the next hops: who is online on the hub, or behind the agents of --via");
  hops_cmd->add_option("--hub", hops_a.hub, "The hub: tcp://HOST:PORT, or http://HOST:PORT for HTTP long-poll")->required();
  hops_cmd->add_option("--as", hops_a.name, "Endpoint name to log in as")->required();
  hops_cmd->add_option("--secret-file", hops_a.secret_file, "File holding the credential token on its first line")->required();
  hops_cmd->add_option("--via", hops_a.via, "Agents to ask, comma-separated, nearest first (A,B: ask A to ask B)");
  hops_cmd->add_option("--wait", hops_a.wait, "Seconds to wait for the login and the answer")->capture_default_str();

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
    if (store_cmd->parsed() && store_cmd->get_subcommands().empty() && argc > 2 && argv[2][0] != '-')
      return fail(exit_usage, "unknown store subcommand \"" + std::string(argv[2]) + "\" (see xgate store --help)");
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
    if (app.got_subcommand(chat)) return run_chat(chat_a);
    if (app.got_subcommand(agent_cmd)) return run_agent(agent_a);
    if (app.got_subcommand(hops_cmd)) return run_hops(hops_a);
    if (app.got_subcommand(store_cmd))
      for (CLI::App* sub : store_cmd->get_subcommands()) return run_store(sub->get_name(), st_args);
    return fail(exit_usage, "no subcommand (see xgate --help)");
  } catch (const usage_error& e) {
    return fail(exit_usage, e.what());
  } catch (const store_failure& e) {
    return fail(e.code, e.message);
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
