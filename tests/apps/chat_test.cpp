// `xgate chat`: two chat processes talk through a real `xgated --hub --hub-http`, one over
// TCP and one over HTTP long-poll; they see each other come and go, and exit 0 on EOF
// after their messages were acknowledged. Every wait is bounded.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "files.hpp"

namespace {
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A child with its stdin and stdout piped to us (stderr to a file).
class child {
 public:
  child(const std::vector<std::string>& argv, const fs::path& err) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(e, 2);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    in_ = in[1];
    out_ = out[0];
  }
  ~child() {
    close_stdin();
    if (!status_) {
      ::kill(pid_, SIGKILL);
      wait(5s);
    }
    ::close(out_);
  }
  void write_line(const std::string& line) {
    std::string l = line + "\n";
    ASSERT_EQ(::write(in_, l.data(), l.size()), static_cast<ssize_t>(l.size()));
  }
  void close_stdin() {
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }
  // Waits until stdout holds a line equal to `line`; everything read so far stays in output().
  bool wait_for_line(const std::string& line, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (("\n" + output_).find("\n" + line + "\n") != std::string::npos) return true;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) return false;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
      char buf[4096];
      ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) return false;
      output_.append(buf, static_cast<std::size_t>(n));
    }
  }
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!status_) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) break;
      ::usleep(10000);
    }
    return status_;
  }
  const std::string& output() const { return output_; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::string output_;
  std::optional<int> status_;
};

std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[512];
  while (p && std::fgets(buf, sizeof buf, p)) out += buf;
  if (p) ::pclose(p);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string line_value(const std::string& text, const std::string& prefix) {
  for (std::size_t at = 0; at < text.size();) {
    std::size_t nl = text.find('\n', at);
    std::string line = text.substr(at, nl - at);
    if (line.starts_with(prefix)) return line.substr(prefix.size());
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return {};
}

TEST(XgateChat, TwoChatsTalkThroughXgatedOverTcpAndLongPoll) {
  fs::path dir = fs::temp_directory_path() / ("xgate-chat-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* who : {"alice", "bob"}) {
    std::string token = run_capture(std::string(XGATED_PATH) + " adduser " + who + " --data " + (dir / "data").string());
    ASSERT_FALSE(token.empty());
    xgate::testing::write_secret_file(dir / (std::string(who) + ".secret"), token + "\n");
  }
  child hub({XGATED_PATH, "--data", (dir / "data").string(), "--listen", "127.0.0.1:0", "--hub", "127.0.0.1:0", "--hub-http",
             "127.0.0.1:0"},
            dir / "xgated.err");
  // The startup lines: one per service.
  std::string tcp, http;
  for (int i = 0; i < 100 && http.empty(); ++i) {
    hub.wait_for_line("never", 50ms);
    tcp = line_value(hub.output(), "hub: ");
    http = line_value(hub.output(), "hub-http: ");
  }
  ASSERT_TRUE(tcp.starts_with("tcp://127.0.0.1:")) << hub.output();
  ASSERT_TRUE(http.starts_with("http://127.0.0.1:")) << hub.output();
  EXPECT_FALSE(line_value(hub.output(), "store: ").empty());

  child alice({XGATE_CLI_PATH, "chat", "--hub", tcp, "--as", "alice", "--secret-file", (dir / "alice.secret").string()},
              dir / "alice.err");
  ASSERT_TRUE(alice.wait_for_line("* connected to " + tcp + " as alice", 10s)) << alice.output();
  child bob({XGATE_CLI_PATH, "chat", "--hub", http, "--as", "bob", "--secret-file", (dir / "bob.secret").string(),
             "--http-proxy", "-"},
            dir / "bob.err");
  ASSERT_TRUE(bob.wait_for_line("* connected to " + http + " as bob", 10s)) << bob.output();
  EXPECT_TRUE(bob.wait_for_line("* alice is online", 10s)) << bob.output();
  EXPECT_TRUE(alice.wait_for_line("* bob is online", 10s)) << alice.output();

  alice.write_line("bob: hello over tcp");
  EXPECT_TRUE(bob.wait_for_line("alice: hello over tcp", 10s)) << bob.output();
  bob.write_line("alice: and back over http");
  bob.write_line("not a chat line");  // refused on stderr; the session goes on
  bob.write_line("alice:  two spaces");
  EXPECT_TRUE(alice.wait_for_line("bob: and back over http", 10s)) << alice.output();
  EXPECT_TRUE(alice.wait_for_line("bob:  two spaces", 10s)) << alice.output();

  bob.close_stdin();  // EOF: flush, leave
  EXPECT_EQ(bob.wait(15s), 0);
  EXPECT_TRUE(alice.wait_for_line("* bob is offline", 10s)) << alice.output();
  alice.write_line("bob: you are offline; this waits in the hub's store");
  alice.close_stdin();
  EXPECT_EQ(alice.wait(15s), 0);

  std::ifstream e(dir / "bob.err");
  std::string bob_err((std::istreambuf_iterator<char>(e)), std::istreambuf_iterator<char>());
  EXPECT_NE(bob_err.find("error: lines are \"TO: TEXT\""), std::string::npos) << bob_err;

  ::kill(hub.pid(), SIGTERM);
  EXPECT_EQ(hub.wait(15s), 0);
  fs::remove_all(dir);
}

TEST(XgateChat, AWrongSecretIsRefused) {
  fs::path dir = fs::temp_directory_path() / ("xgate-chat-refused-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  ASSERT_FALSE(run_capture(std::string(XGATED_PATH) + " adduser alice --data " + (dir / "data").string()).empty());
  xgate::testing::write_secret_file(dir / "wrong.secret", "not-the-token\n");
  child hub({XGATED_PATH, "--data", (dir / "data").string(), "--listen", "127.0.0.1:0", "--hub", "127.0.0.1:0"},
            dir / "xgated.err");
  std::string tcp;
  for (int i = 0; i < 100 && tcp.empty(); ++i) {
    hub.wait_for_line("never", 50ms);
    tcp = line_value(hub.output(), "hub: ");
  }
  ASSERT_FALSE(tcp.empty()) << hub.output();
  child alice({XGATE_CLI_PATH, "chat", "--hub", tcp, "--as", "alice", "--secret-file", (dir / "wrong.secret").string(),
               "--wait", "5"},
              dir / "alice.err");
  EXPECT_EQ(alice.wait(15s), 3);  // access denied
  // a secret file others may read is refused before anything is sent
  std::ofstream(dir / "exposed.secret") << "not-the-token\n";
  fs::permissions(dir / "exposed.secret", fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  child exposed({XGATE_CLI_PATH, "chat", "--hub", tcp, "--as", "alice", "--secret-file", (dir / "exposed.secret").string(),
                 "--wait", "5"},
                dir / "exposed.err");
  EXPECT_EQ(exposed.wait(15s), 1);  // usage: the caller's to fix
  EXPECT_NE(xgate::testing::read_file(dir / "exposed.err")
                .find("may be read by others (mode 0640): chmod 600 " + (dir / "exposed.secret").string()),
            std::string::npos)
      << xgate::testing::read_file(dir / "exposed.err");
  ::kill(hub.pid(), SIGTERM);
  EXPECT_EQ(hub.wait(15s), 0);
  fs::remove_all(dir);
}

}  // namespace
