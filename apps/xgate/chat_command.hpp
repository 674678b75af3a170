// xgate chat: talk through a channel hub, "TO: TEXT" lines in, "FROM: TEXT" lines out.
#pragma once

#include <string>

namespace xgate::xgate_cli {

struct chat_args {
  std::string hub, name, secret_file, http_proxy;
  std::string ca;  // tls://: the CA the hub's certificate must chain to ("": $XGATE_CA, else the system's)
  double wait = 10;  // seconds to wait for the login and, at EOF, for the hub's acknowledgements
};

// Until EOF on standard input. command_failure when the login fails or the hub does not
// acknowledge every message in time.
int run_chat(const chat_args& a);

}  // namespace xgate::xgate_cli
