// xgate store SUBCOMMAND: documents in a store, a directory opened in this process (--data
// DIR --as PRINCIPAL) or an xgated server (--server URL --token T).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace xgate::xgate_cli {

// Where the store is: a directory opened in this process, or an xgated server.
struct store_target {
  std::string server, token, data, as;
  std::string ca, cert, key;  // https://: the CA to trust; a client certificate (mutual TLS)
};

struct store_args {
  store_target target;
  std::string name, file = "-", prefix, xpath, rights = "read";
  std::optional<double> lease, ttl, timeout;
  std::optional<std::uint64_t> if_revision, after, count, limit;
  std::string cursor;  // ls: where the page begins (a previous page's "next page" line)
  std::string action, expression;  // index: add, ls or rm; add's expression (with name as the id)
  bool no_subtree = false;
  std::string label;
  std::string methods;  // --methods: comma-separated channel methods
  std::string from, to;  // copy: the stores' directories or PostgreSQL URIs
};

// Runs store subcommand `command` (put, get, take, rm, ls, query, watch, info, credential,
// credentials, revoke, index, copy).
// Store and client failures throw command_failure with the store's exit code.
int run_store(const std::string& command, const store_args& a);

}  // namespace xgate::xgate_cli
