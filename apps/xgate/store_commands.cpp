#include "store_commands.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <vector>

#include <xgate/base/text.hpp>
#include <xgate/base/time.hpp>
#include <xgate/store/open.hpp>
#include <xgate/store/postgresql_engine.hpp>
#include <xgate/client/http_session.hpp>
#include <xgate/client/open_session.hpp>
#include <xgate/store/session.hpp>
#include <xgate/xmlcodec.hpp>

#include "cli.hpp"

namespace fs = std::filesystem;

namespace xgate::xgate_cli {

namespace {

namespace st = xgate::store;

std::unique_ptr<st::session> open_target(store_target t, xgate::client::store_cache& cache, bool create) {
  if (t.token.empty())
    if (const char* env = std::getenv("XGATE_TOKEN")) t.token = env;
  if (!t.server.empty() == !t.data.empty()) throw usage_error("give either --server URL or --data DIR");
  if (!t.server.empty()) {
    if (!t.as.empty()) throw usage_error("--as is for --data; on a server the token says who you are");
    if (t.token.empty() && t.cert.empty() && !std::getenv("XGATE_CERT"))
      throw usage_error("--server needs --token TOKEN (or XGATE_TOKEN in the environment), or --cert and --key");
    if (t.cert.empty() != t.key.empty()) throw usage_error("--cert and --key go together");
    if (!t.server.starts_with("http://") && !t.server.starts_with("https://"))
      throw usage_error("--server: \"" + t.server + "\" is not an http://host:port or https://host:port URL");
    try {
      xgate::client::client_options o;
      o.tls = {.ca = t.ca, .certificate = t.cert, .key = t.key};
      return xgate::client::http_session(t.server, t.token, o);
    } catch (const xgate::client::client_error& e) {
      throw usage_error(std::string("--server: ") + e.what());
    }
  }
  const bool database = st::postgresql_engine::is_address(t.data);
  std::error_code ec;
  // A mistyped directory should not silently become a new, empty store: only put creates one.
  if (!database && !create && !fs::is_directory(t.data, ec)) throw usage_error("--data: no store directory \"" + t.data + "\"");
  std::string credential;
  if (!t.as.empty()) {
    if (!xgate::is_valid_principal(t.as)) throw usage_error("--as: invalid principal name \"" + t.as + "\"");
    credential = "principal:" + t.as;
  } else if (!t.token.empty()) {
    credential = t.token;
  } else {
    throw usage_error("--data needs --as PRINCIPAL (or --token TOKEN)");
  }
  return xgate::client::open_session(database ? t.data : "file:" + fs::absolute(t.data).string(), credential, cache);
}

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

// text in single quotes for a POSIX shell: a cursor holds a document name, which may hold
// anything printable.
std::string shell_quoted(std::string_view text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int run_store_ls(st::session& s, const store_args& a) {
  std::vector<std::vector<std::string>> rows{{"NAME", "REVISION", "SIZE", "CREATOR", "MODIFIED", "LEASE"}};
  st::list_page page;
  if (a.limit)
    page = s.list(a.prefix, st::list_options{.limit = *a.limit, .cursor = a.cursor});
  else
    page.documents = s.list(a.prefix);
  for (const auto& d : page.documents)
    rows.push_back({d.name, std::to_string(d.revision), std::to_string(d.size), d.rights.creator.empty() ? "-" : d.rights.creator,
                    xgate::format_utc(d.modified), d.lease_expires ? xgate::format_utc(*d.lease_expires) : "-"});
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
  if (!page.next.empty()) std::cerr << "next page: --cursor " << shell_quoted(page.next) << "\n";
  return exit_ok;
}

int run_store_index(st::session& s, const store_args& a) {
  if (a.action == "ls") {
    if (!a.name.empty()) throw usage_error("index ls takes no ID");
    std::string out;
    for (const st::index_info& i : s.indexes())
      out += i.id + " " + (i.prefix.empty() ? "\"\"" : i.prefix) + " " + i.expression + " " + i.creator + "\n";
    write_stdout(out);
    return exit_ok;
  }
  if (a.name.empty()) throw usage_error("index " + a.action + ": give the index's ID");
  if (a.action == "rm") {
    if (!a.prefix.empty() || !a.expression.empty()) throw usage_error("index rm takes only the ID");
    s.remove_index(a.name);
    return exit_ok;
  }
  if (a.expression.empty()) throw usage_error("index add: give ID PREFIX EXPRESSION");
  s.add_index(a.name, a.prefix, a.expression);
  return exit_ok;
}

int run_store_info(st::session& s, const store_args& a) {
  auto d = s.info(a.name);
  std::string out = "name: " + d.name + "\nrevision: " + std::to_string(d.revision) + "\nsize: " + std::to_string(d.size) +
                    "\ncreated: " + xgate::format_utc(d.created) + "\nmodified: " + xgate::format_utc(d.modified) + "\ncreator: " +
                    d.rights.creator + "\nread: " + xgate::join_principals(d.rights.read) +
                    "\nwrite: " + xgate::join_principals(d.rights.write) + "\ndelete: " + xgate::join_principals(d.rights.del) +
                    "\ncopy: " + xgate::join_principals(d.rights.copy) + "\nembedded-rights: " + (d.embedded_rights ? "yes" : "no") +
                    "\nlease: " + (d.lease_expires ? xgate::format_utc(*d.lease_expires) + " held by " + d.lease_holder : "-") + "\n";
  write_stdout(out);
  return exit_ok;
}

int run_store_query(st::session& s, const store_args& a) {
  st::query_page page;
  if (a.limit)
    page = s.query(a.prefix, a.xpath, *a.limit, a.cursor);
  else
    page.matches = s.query(a.prefix, a.xpath);
  std::string out;
  for (const auto& m : page.matches)
    for (const auto& v : m.values) out += m.name + ": " + v + "\n";
  write_stdout(out);
  if (!page.next.empty()) std::cerr << "next page: --cursor " << shell_quoted(page.next) << "\n";
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
  if (!a.methods.empty()) {
    auto methods = st::parse_methods(a.methods);
    if (!methods)
      throw usage_error("--methods: \"" + a.methods + "\" is not a list of method names (each 1..64 bytes of [A-Za-z0-9._-], comma-separated)");
    r.methods = std::move(*methods);
  }
  write_stdout(s.issue_credential(r) + "\n");
  return exit_ok;
}

// One line a credential: "ID scope=S subtree=1 rights=R [methods=M] issued=T [expires=T] [parent=P] [label=L]".
int run_store_credentials(st::session& s) {
  std::string out;
  for (const st::credential_info& c : s.credentials()) {
    const st::grant& g = c.granted;
    out += c.id + " scope=" + (g.scope.empty() ? "\"\"" : g.scope) + " subtree=" + (g.subtree ? "1" : "0") +
           " rights=" + g.rights.to_string();
    if (!g.methods.empty()) out += " methods=" + st::join_methods(g.methods);
    out += " issued=" + xgate::format_utc(c.issued, 0);
    if (g.expires) out += " expires=" + xgate::format_utc(*g.expires, 0);
    if (!c.parent.empty()) out += " parent=" + c.parent;
    if (!c.label.empty()) out += " label=" + xgate::printable(c.label);
    out += "\n";
  }
  write_stdout(out);
  return exit_ok;
}

}  // namespace

namespace {

// A store's place as shown: a PostgreSQL URI without its password.
std::string shown(const std::string& data) {
  if (!st::postgresql_engine::is_address(data)) return data;
  try {
    return st::postgresql_engine::public_address(data);
  } catch (const st::store_error&) {
    return "postgresql://…";
  }
}

int run_copy(const store_args& a) {
  std::error_code ec;
  if (!st::postgresql_engine::is_address(a.from) && !fs::is_directory(a.from, ec))
    throw usage_error("--from: no store directory \"" + a.from + "\"");
  try {
    std::unique_ptr<st::engine> from = st::open_engine(a.from), to = st::open_engine(a.to);
    st::copy_summary n = st::copy_store(*from, *to);
    std::cout << "copied " << n.documents << " documents, " << n.credentials << " credentials, " << n.indexes
              << " indexes and " << n.changes << " changes (revision " << n.revision << ") from " << shown(a.from) << " to " << shown(a.to) << "\n";
    return exit_ok;
  } catch (const st::store_error& e) {
    throw command_failure{e.code() == st::store_errc::conflict ? exit_conflict : exit_unavailable, e.what()};
  }
}

}  // namespace

int run_store(const std::string& command, const store_args& a) {
  if (command == "copy") return run_copy(a);
  xgate::client::store_cache cache;
  std::unique_ptr<st::session> s;
  // Where, for the error line: a bad token already fails while opening a --data store.
  std::string where = !a.target.server.empty() ? a.target.server
                      : a.target.data.empty()  ? std::string("?")
                                               : "file:" + fs::absolute(a.target.data).string();
  if (st::postgresql_engine::is_address(a.target.data)) where = shown(a.target.data);  // never its password
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
    if (command == "credentials") return run_store_credentials(*s);
    if (command == "index") return run_store_index(*s, a);
    if (command == "revoke") return s->revoke_credential(a.name), exit_ok;
    throw usage_error("unknown store command \"" + command + "\"");
  } catch (const st::store_error& e) {
    int code = exit_unavailable;
    switch (e.reason()) {
      case st::store_errc::not_found: code = exit_not_found; break;
      case st::store_errc::conflict:
      case st::store_errc::no_lease:
      case st::store_errc::history_lost:
      case st::store_errc::revision_gone: code = exit_conflict; break;
      case st::store_errc::bad_name:
      case st::store_errc::bad_xpath:
      case st::store_errc::bad_cursor: code = exit_usage; break;
      case st::store_errc::bad_document:
      case st::store_errc::too_large:
      case st::store_errc::query_too_expensive: code = exit_invalid; break;
      case st::store_errc::creator_mismatch:
      case st::store_errc::rights_change:
      case st::store_errc::bad_credential:
      case st::store_errc::insecure_permissions: code = exit_denied; break;
      case st::store_errc::lmdb:
      case st::store_errc::postgresql:
      case st::store_errc::engine_unavailable:
      case st::store_errc::cancelled:
      case st::store_errc::no_space: code = exit_unavailable; break;
    }
    throw command_failure{code, std::string(e.what()) + " (at " + where + ")"};
  } catch (const xgate::access_denied& e) {
    throw command_failure{exit_denied, std::string(e.what()) + " (at " + where + ")"};
  } catch (const xgate::client::client_error& e) {
    throw command_failure{e.code() == xgate::net_errc::insecure ? exit_denied : exit_unavailable, e.what()};
  }
}

}  // namespace xgate::xgate_cli
