// What every xgate command shares: the exit codes, the two failures main() turns into them,
// and the input and output helpers. Each command family has its own file:
//   codec_commands   types, schema, keygen, sample, check
//   store_commands   store put|get|take|rm|ls|query|watch|info|credential
//   chat_command     chat
//   relay_commands   agent, hops (apps/relay_cli/relay_cli.hpp does the work)
//   certs_commands   certs init|issue|show (tls/certs.hpp does the work)
#pragma once

#include <stdexcept>
#include <string>
#include <xgate/base/text.hpp>

namespace xgate::xgate_cli {

// The exit codes of the xgate program (main.cpp's opening comment says when each is used).
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

// A failure with its exit code; message is the one error line (for a store, naming where).
struct command_failure {
  int code;
  std::string message;
};

// The contract is one line on stderr, whatever the message holds: xgate::one_line (base).
using xgate::one_line;
// A file's contents, or standard input's for "-". usage_error when it cannot be read.
std::string read_input(const std::string& path);
// xgate::error(io_error) when standard output fails (a closed pipe).
void write_stdout(const std::string& text);

}  // namespace xgate::xgate_cli
