// Child processes for the demo and the tests: started with their stdout piped to us (read
// line by line), stderr to a file; killed (SIGTERM, then SIGKILL) and reaped by the
// destructor. Children die with their parent (PR_SET_PDEATHSIG) and start with no signal
// blocked, whatever the parent blocked.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xgate::process {

class child_process {
 public:
  // argv[0] is the program's path. stderr goes to err ("" = inherited).
  child_process(const std::vector<std::string>& argv, const std::filesystem::path& err);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // The value of the first stdout line starting with prefix ("store: " -> the URL), read
  // until it comes, the pipe closes or timeout (nullopt then).
  std::optional<std::string> wait_line(const std::string& prefix, std::chrono::milliseconds timeout);
  const std::string& output() const noexcept { return output_; }

  void signal(int sig);
  // Waits for the exit; nullopt on timeout. Exit status, or 128 + signal.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // SIGTERM, a grace period, SIGKILL; reaped.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  pid_t pid() const noexcept { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string output_;
  std::optional<int> status_;
};

// Runs argv to its end and returns its stdout (stderr inherited); the exit status in *status.
std::string run_capture(const std::vector<std::string>& argv, int* status = nullptr);

}  // namespace xgate::process
