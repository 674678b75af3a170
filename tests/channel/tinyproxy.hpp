// Debian's tinyproxy as an ordinary HTTP forward proxy for tests: started in the
// foreground (-d) with a generated config on 127.0.0.1, stopped with SIGTERM (SIGKILL if it
// lingers). tinyproxy cannot pick a free port itself (Port 0 is refused), so we find one
// by binding port 0, closing it, and retrying on another if tinyproxy fails to listen.
#pragma once

#include "test_util.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace xgate::channel::testing {

class tinyproxy {
 public:
  static constexpr const char* binary = "/usr/bin/tinyproxy";
  static bool available() { return ::access(binary, X_OK) == 0; }

  // dir: where the config and log go. Throws std::runtime_error when it does not come up.
  explicit tinyproxy(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) {
      port_ = free_loopback_port();
      auto conf = dir / "tinyproxy.conf";
      std::ofstream(conf) << "Port " << port_ << "\nListen 127.0.0.1\nTimeout 600\nMaxClients 200\n"
                          << "Allow 127.0.0.1\nLogLevel Connect\nLogFile \"" << (dir / "tinyproxy.log").string()
                          << "\"\nDisableViaHeader Yes\n";
      pid_t pid = ::fork();
      if (pid == 0) {
        ::execl(binary, binary, "-d", "-c", conf.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
      }
      if (pid < 0) break;
      if (wait_listening(pid)) {
        pid_ = pid;
      } else {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
    if (pid_ <= 0) throw std::runtime_error("tinyproxy did not start (see " + (dir / "tinyproxy.log").string() + ")");
  }
  ~tinyproxy() { stop(); }
  tinyproxy(const tinyproxy&) = delete;
  tinyproxy& operator=(const tinyproxy&) = delete;

  unsigned short port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  // Up to 5 s for the port to accept; false when the process died or never listened.
  bool wait_listening(pid_t pid) const { return wait_child_listening(pid, port_, std::chrono::seconds(5)); }

  unsigned short port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace xgate::channel::testing
