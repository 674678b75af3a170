// xgate certs init|issue|show: a cluster's certificate authority (tls/certs.hpp does the
// work); these map its failures to xgate's exit codes.
#pragma once

#include <string>
#include <vector>

namespace xgate::xgate_cli {

struct certs_args {
  std::string dir = ".";
  std::string name;                 // issue: the certificate's name; init: the CA's
  std::vector<std::string> hosts;   // issue --host
  bool client = false;              // issue --client
  int days = 0;                     // 0: the default (CA 3650, others 365)
  std::string file;                 // show
};

int run_certs(const std::string& command, const certs_args& a);

}  // namespace xgate::xgate_cli
