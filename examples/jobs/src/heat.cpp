#include <xgate/examples/jobs.hpp>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace xgate::examples {

void heat(xgate::job_context& ctx, HeatState& s) {
  const std::uint64_t n = ctx.arg_u64("n", 64), steps = ctx.arg_u64("steps", 100);
  const std::uint64_t throttle_ms = ctx.arg_u64("throttle_ms", 0);
  const std::string output = ctx.arg("output", "");
  if (n < 3) throw migrate::migrate_error(migrate::migrate_errc::bad_argument, ctx.id(), "heat: n must be at least 3");
  if (s.n == 0) {
    // First entry: the initial condition. Fixed hot top edge, a hot square in the middle.
    s.n = n;
    s.grid.assign(n * n, 0.0);
    for (std::uint64_t j = 0; j < n; ++j) s.grid[j] = 100.0;
    for (std::uint64_t i = n / 3; i < 2 * n / 3; ++i)
      for (std::uint64_t j = n / 3; j < 2 * n / 3; ++j) s.grid[i * n + j] = 1000.0;
  }
  constexpr double alpha = 0.2;  // below 0.25: the explicit scheme is stable
  std::vector<double> next(s.grid.size());
  while (s.step < steps) {
    const std::vector<double>& g = s.grid;
    for (std::uint64_t i = 0; i < n; ++i)
      for (std::uint64_t j = 0; j < n; ++j) {
        const std::uint64_t k = i * n + j;
        if (i == 0 || j == 0 || i == n - 1 || j == n - 1) next[k] = g[k];  // fixed boundary
        else next[k] = g[k] + alpha * (g[k - n] + g[k + n] + g[k - 1] + g[k + 1] - 4.0 * g[k]);
      }
    s.grid.swap(next);
    ++s.step;
    ctx.progress(s.step, steps);
    if (throttle_ms) std::this_thread::sleep_for(std::chrono::milliseconds(throttle_ms));
    ctx.checkpoint(migrate::save::now);
  }
  if (!output.empty()) {
    std::string text = std::to_string(n) + " " + std::to_string(s.step) + "\n";
    char num[32];
    for (std::uint64_t i = 0; i < n; ++i) {
      for (std::uint64_t j = 0; j < n; ++j) {
        auto r = std::to_chars(num, num + sizeof num, s.grid[i * n + j]);  // shortest exact form
        text.append(num, r.ptr);
        text += j + 1 < n ? ' ' : '\n';
      }
    }
    std::string tmp = output + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << text;
      if (!out.flush()) throw std::runtime_error("heat: cannot write " + tmp);
    }
    std::filesystem::rename(tmp, output);
  }
  ctx.result(s);
}

}  // namespace xgate::examples

XGATE_JOB("heat", 1, xgate::examples::HeatState, xgate::examples::heat)
