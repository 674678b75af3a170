// Example jobs (registered with XGATE_JOB when this library is linked):
//   word-count  input=FILE output=FILE [every=N] [throttle_ms=N]
//               counts whitespace-separated words; saves every N words (default: when the
//               node's interval says), sleeping throttle_ms at each of those saves; writes
//               output as "word<TAB>count" lines sorted by word (bytewise) and stores the
//               counts (std::map<std::string, std::uint64_t>) as its result.
//   heat        n=N steps=S [output=FILE] [throttle_ms=N]
//               explicit 2-D heat diffusion on an n×n grid for S steps, saving every step;
//               writes the final grid to output (exact decimal doubles) and stores the
//               final HeatState as its result: bit-identical however often the job moved.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <xgate/migrate/job.hpp>

namespace xgate::examples {

struct WordCountState {
  std::uint64_t offset = 0;  // file offset just after the last word counted
  std::uint64_t words = 0;
  std::map<std::string, std::uint64_t> counts;
};
XGATE_TYPE(WordCountState, "example.WordCountState", 1, (), (offset, words, counts))

void word_count(xgate::job_context& ctx, WordCountState& s);

struct HeatState {
  std::uint64_t n = 0;     // grid side; 0 until the first entry sets it from the arguments
  std::uint64_t step = 0;  // steps done
  std::vector<double> grid;  // row-major n×n temperatures
  friend bool operator==(const HeatState&, const HeatState&) = default;
};
XGATE_TYPE(HeatState, "example.HeatState", 1, (), (n, step, grid))

void heat(xgate::job_context& ctx, HeatState& s);

// Writes the word-count output format for counts (used by the job; tests compare with it).
std::string word_count_text(const std::map<std::string, std::uint64_t>& counts);

}  // namespace xgate::examples
