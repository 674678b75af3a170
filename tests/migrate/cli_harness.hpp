// What the tests driving the real `migrate` binary share: running it, sizes, texts.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "files.hpp"
#include "process.hpp"

namespace xgate::migrate_cli::testing {

using xgate::testing::read_file;

using process::child_process;

// Sizes shrink under sanitizers (XGATE_TEST_SCALE=0.2, say) without changing what is tested.
inline double scale() {
  const char* s = std::getenv("XGATE_TEST_SCALE");
  return s ? std::max(0.01, std::atof(s)) : 1.0;
}

// The last word of a command's output (migrate run prints the job id there).
inline std::string last_word(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.substr(s.find_last_of(" \n") + 1);
}

struct cli_result {
  int code = -1;
  std::string out, err;
};

// Runs `args` (the program first) to its end; stderr goes to err_file.
inline cli_result run_to_end(const std::vector<std::string>& args, const std::filesystem::path& err_file) {
  using namespace std::chrono_literals;
  cli_result r;
  {
    child_process c(args, err_file);
    (void)c.wait_line("\x01", 120s);  // reads stdout to its end
    r.code = c.wait(30s).value_or(-1);
    r.out = c.output();
  }
  r.err = read_file(err_file);
  return r;
}

// A deterministic text of `words` words, written to path, and its counts.
inline std::map<std::string, std::uint64_t> make_text(const std::filesystem::path& path, std::size_t words) {
  std::mt19937 gen(7);
  std::map<std::string, std::uint64_t> counts;
  std::ofstream out(path, std::ios::binary);
  for (std::size_t i = 0; i < words; ++i) {
    std::string w = "w" + std::to_string(gen() % 500);
    ++counts[w];
    out << w << (i % 11 == 0 ? "\n" : " ");
  }
  return counts;
}

// Polls client.status(id) every `every` until pred holds or timeout passes; the last status.
template <class Client, class Pred>
auto wait_for_status(Client& client, const std::string& id, Pred pred, std::chrono::milliseconds timeout,
                     std::chrono::milliseconds every) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto j = client.status(id);
    if (pred(j) || std::chrono::steady_clock::now() > deadline) return j;
    std::this_thread::sleep_for(every);
  }
}

}  // namespace xgate::migrate_cli::testing

#define EXPECT_CLI(r, expected_code) \
  EXPECT_EQ((r).code, expected_code) << "stdout: " << (r).out << "\nstderr: " << (r).err
