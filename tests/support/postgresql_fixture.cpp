// The CTest fixture `postgresql`: one PostgreSQL cluster for every test of a run that needs
// one (a test process starting its own would pay initdb each time).
//   xgate_test_postgresql start DIR   initdb and start in DIR; DIR/port says where
//   xgate_test_postgresql stop DIR    stop it and remove DIR
#include <cstdio>
#include <exception>
#include <string_view>

#include "postgresql.hpp"

int main(int argc, char** argv) {
  if (argc != 3 || (std::string_view(argv[1]) != "start" && std::string_view(argv[1]) != "stop")) {
    std::fprintf(stderr, "usage: xgate_test_postgresql start|stop DIR\n");
    return 2;
  }
  try {
    if (std::string_view(argv[1]) == "start") {
      xgate::testing::postgresql_cluster::start_in(argv[2]);
    } else {
      xgate::testing::postgresql_cluster::stop_in(argv[2]);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xgate_test_postgresql: %s\n", e.what());
    return 1;
  }
}
