#include "certs_commands.hpp"

#include <iostream>

#include <xgate/base/time.hpp>
#include <xgate/tls/certs.hpp>

#include "cli.hpp"

namespace xgate::xgate_cli {

namespace {

// The exit code for what the CA refused (main.cpp's opening comment lists them).
int exit_for(xgate::tls::tls_errc code) {
  using xgate::tls::tls_errc;
  switch (code) {
    case tls_errc::bad_request:
    case tls_errc::no_file: return exit_usage;
    case tls_errc::bad_file: return exit_invalid;
    case tls_errc::exists: return exit_conflict;
    case tls_errc::openssl: break;
  }
  return exit_unavailable;
}

void show(const std::string& file) {
  xgate::tls::certificate_info i = xgate::tls::read_certificate(file);
  std::string hosts;
  for (const std::string& h : i.hosts) hosts += (hosts.empty() ? "" : ", ") + h;
  std::string use = i.is_ca ? "certificate authority" : i.server && i.client ? "node (server and client)" : i.client ? "client" : i.server ? "server" : "other";
  write_stdout("subject:    " + i.subject + "\n" +
               "issuer:     " + i.issuer + "\n" +
               "use:        " + use + "\n" +
               "hosts:      " + (hosts.empty() ? "-" : hosts) + "\n" +
               "not before: " + xgate::format_utc(i.not_before, 0) + "\n" +
               "not after:  " + xgate::format_utc(i.not_after, 0) + "\n" +
               "serial:     " + i.serial + "\n");
}

}  // namespace

int run_certs(const std::string& command, const certs_args& a) {
  try {
    if (command == "init") {
      xgate::tls::ca_options o;
      if (!a.name.empty()) o.name = a.name;
      if (a.days) o.days = a.days;
      xgate::tls::create_ca(a.dir, o);
      write_stdout("created " + (std::filesystem::path(a.dir) / "ca.crt").string() + " and ca.key\n");
    } else if (command == "issue") {
      xgate::tls::issue_options o{.hosts = a.hosts, .client = a.client};
      if (a.days) o.days = a.days;
      xgate::tls::issue(a.dir, a.name, o);
      write_stdout("created " + (std::filesystem::path(a.dir) / (a.name + ".crt")).string() + " and " + a.name + ".key\n");
    } else {
      show(a.file);
    }
    return exit_ok;
  } catch (const xgate::tls::tls_error& e) {
    throw command_failure{exit_for(e.reason()), e.what()};
  }
}

}  // namespace xgate::xgate_cli
