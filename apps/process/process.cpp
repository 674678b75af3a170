#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace xgate::process {

namespace {
[[noreturn]] void exec_child(const std::vector<std::string>& argv) {
  // The parent may block SIGINT/SIGTERM for its signal thread: the mask survives exec.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  ::_exit(127);
}
}  // namespace

child_process::child_process(const std::vector<std::string>& argv, const std::filesystem::path& err) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  int e = -1;
  if (!err.empty()) {
    e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (e < 0) throw std::runtime_error("cannot open " + err.string() + ": " + std::strerror(errno));
  }
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    if (e >= 0) ::dup2(e, 2);
    exec_child(argv);
  }
  ::close(out[1]);
  if (e >= 0) ::close(e);
  out_ = out[0];
}

child_process::~child_process() {
  stop();
  if (out_ >= 0) ::close(out_);
}

std::optional<std::string> child_process::wait_line(const std::string& prefix, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (std::size_t at = 0; at < output_.size();) {
      std::size_t nl = output_.find('\n', at);
      if (nl == std::string::npos) break;
      std::string line = output_.substr(at, nl - at);
      if (line.starts_with(prefix)) return line.substr(prefix.size());
      at = nl + 1;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0 || out_ < 0) return std::nullopt;
    pollfd p{out_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;
    char buf[4096];
    ssize_t n = ::read(out_, buf, sizeof buf);
    if (n <= 0) {
      ::close(out_);
      out_ = -1;
      continue;  // look at what came before the end once more
    }
    output_.append(buf, static_cast<std::size_t>(n));
  }
}

void child_process::signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!status_ && pid_ > 0) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (r < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status_;
}

void child_process::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0 || status_) return;
  signal(SIGTERM);
  if (!wait(grace)) {
    signal(SIGKILL);
    wait(std::chrono::milliseconds(5000));
  }
}

std::string run_capture(const std::vector<std::string>& argv, int* status) {
  child_process c(argv, {});
  std::optional<std::string> none = c.wait_line("\x01never", std::chrono::minutes(1));  // reads to the end
  (void)none;
  auto st = c.wait(std::chrono::seconds(10));
  if (status) *status = st.value_or(-1);
  return c.output();
}

}  // namespace xgate::process
