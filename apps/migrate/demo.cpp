// `migrate demo`: the whole story on one machine, with the real programs. It starts
// xgated (store + hub on 127.0.0.1, ports chosen by the system, a temporary data dir), adds
// the users "node" (the nodes' principal) and "alice", starts two `migrate node` processes
// A and B, writes a deterministic text, runs word-count on A as alice and moves it A→B→A
// while it runs, then checks its result against a count made here, in one pass, without
// the runtime. Everything it started is stopped and its directory removed on exit, on
// failure and on Ctrl-C.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <xgate/store/postgresql_engine.hpp>
#include <xgate/examples/jobs.hpp>
#include <xgate/nodes/remote.hpp>
#include <xgate/results/results.hpp>

#include "cli.hpp"
#include "process.hpp"

namespace fs = std::filesystem;
namespace xm = xgate::migrate;
namespace xn = xgate::nodes;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using xgate::process::child_process;
using xgate::process::run_capture;

namespace xgate::migrate_cli {

namespace {

// What Ctrl-C must clean up, shared with the signal thread.
struct cleanup {
  std::mutex m;
  fs::path dir;
  bool keep = false;
  std::vector<child_process*> children;
  void stop_all() {
    std::lock_guard lock(m);
    for (child_process* c : children) c->signal(SIGTERM);
    for (child_process* c : children) c->stop(3000ms);
    children.clear();
    if (!dir.empty() && !keep) {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  }
};
cleanup cleaning;

// Registers a child for cleanup for as long as it lives.
struct tracked {
  std::unique_ptr<child_process> p;
  explicit tracked(std::unique_ptr<child_process> c) : p(std::move(c)) {
    std::lock_guard lock(cleaning.m);
    cleaning.children.push_back(p.get());
  }
  ~tracked() {
    {
      std::lock_guard lock(cleaning.m);
      std::erase(cleaning.children, p.get());
    }
    p->stop();
  }
  child_process* operator->() { return p.get(); }
};

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// A deterministic text of about `bytes` bytes: 20,000 made-up words drawn with Zipf's law.
std::uint64_t make_text(const fs::path& path, std::uint64_t bytes) {
  const char* syllables[] = {"ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "en", "dor", "al", "um", "pre", "qui", "zan", "ber"};
  std::vector<std::string> words;
  for (unsigned i = 0; words.size() < 20000; ++i) {
    std::string w;
    unsigned x = i;
    do {
      w += syllables[x % 16];
      x /= 16;
    } while (x);
    words.push_back(w);
  }
  // Zipf: word k has weight 1/(k+1); a 2^20 table maps a uniform draw to a word.
  std::vector<std::uint32_t> table(std::size_t{1} << 20);
  double total = 0;
  for (std::size_t k = 0; k < words.size(); ++k) total += 1.0 / static_cast<double>(k + 1);
  double acc = 0;
  std::size_t at = 0;
  for (std::size_t k = 0; k < words.size(); ++k) {
    acc += 1.0 / static_cast<double>(k + 1) / total;
    std::size_t end = std::min(table.size(), static_cast<std::size_t>(acc * static_cast<double>(table.size())));
    for (; at < end; ++at) table[at] = static_cast<std::uint32_t>(k);
  }
  for (; at < table.size(); ++at) table[at] = static_cast<std::uint32_t>(words.size() - 1);
  std::uint64_t state = 0x9E3779B97F4A7C15ull;  // xorshift64: the same text on every machine
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::string buf;
  buf.reserve(std::size_t{1} << 20);
  std::uint64_t written = 0, count = 0;
  while (written < bytes) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    buf += words[table[state >> 44]];
    buf += ++count % 12 == 0 ? '\n' : ' ';
    if (buf.size() >= (std::size_t{1} << 20)) {
      out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
      written += buf.size();
      buf.clear();
    }
  }
  out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
  return count;
}

// The reference: one uninterrupted pass, no runtime.
std::map<std::string, std::uint64_t> count_words(const fs::path& path) {
  std::map<std::string, std::uint64_t> counts;
  std::ifstream in(path, std::ios::binary);
  std::vector<char> buf(std::size_t{1} << 20);
  std::string word;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    for (std::size_t i = 0; i < got; ++i) {
      if (!is_space(buf[i])) word.push_back(buf[i]);
      else if (!word.empty()) ++counts[word], word.clear();
    }
  }
  if (!word.empty()) ++counts[word];
  return counts;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

double seconds_since(steady::time_point t) { return std::chrono::duration<double>(steady::now() - t).count(); }

std::string bar(double p) {
  int full = static_cast<int>(std::lround(p * 40));
  return "[" + std::string(static_cast<std::size_t>(full), '#') + std::string(static_cast<std::size_t>(40 - full), '-') + "]";
}

int demo(const std::string& argv0, const demo_options& o, steady::time_point t0) {
  const bool tty = ::isatty(1);
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) self = fs::absolute(argv0);
  const fs::path xgated = self.parent_path() / "xgated";
  if (!fs::exists(xgated)) {
    std::cerr << "error: migrate demo: " << xgated.string() << " is missing (build the xgated target)\n";
    return exit_usage;
  }
  std::string tmpl = (fs::temp_directory_path() / "migrate-demo-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary directory in " + fs::temp_directory_path().string());
  const fs::path dir = tmpl;
  {
    std::lock_guard lock(cleaning.m);
    cleaning.dir = dir;
    cleaning.keep = o.keep;
  }
  std::cout << "migrate demo: word-count over " << o.megabytes << " MB, moved A -> B -> A while it runs\n"
            << "  directory   " << dir.string() << (o.keep ? " (kept)" : "") << "\n";

  const std::string data = o.data.empty() ? (dir / "data").string() : o.data;
  // Users first (xgated adduser opens the store itself), then the server.
  for (const char* who : {"node", "alice"}) {
    int st = 0;
    std::string token = run_capture({xgated.string(), "adduser", who, "--data", data}, &st);
    while (!token.empty() && token.back() == '\n') token.pop_back();
    if (st != 0 || token.empty()) throw std::runtime_error(std::string("xgated adduser ") + who + " failed");
    std::ofstream f(dir / (std::string(who) + ".secret"));
    f << token << "\n";
    fs::permissions(dir / (std::string(who) + ".secret"), fs::perms::owner_read | fs::perms::owner_write);
  }
  tracked server(std::make_unique<child_process>(
      std::vector<std::string>{xgated.string(), "--data", data, "--listen", "127.0.0.1:0", "--hub",
                               "127.0.0.1:0"},
      dir / "xgated.log"));
  std::optional<std::string> store = server->wait_line("store: ", 10s);
  std::optional<std::string> hub = server->wait_line("hub: ", 10s);
  if (!store || !hub) throw std::runtime_error("xgated did not start (see " + (dir / "xgated.log").string() + ")");
  std::cout << "  xgated      store " << *store << ", hub " << *hub;
  if (xgate::store::postgresql_engine::is_address(data))
    std::cout << ", on " << xgate::store::postgresql_engine::public_address(data);
  std::cout << "\n";

  std::vector<std::unique_ptr<tracked>> nodes;
  for (const char* name : {"A", "B"}) {
    nodes.push_back(std::make_unique<tracked>(std::make_unique<child_process>(
        std::vector<std::string>{self.string(), "node", "--name", name, "--hub", *hub, "--secret-file",
                                 (dir / "node.secret").string(), "--store", *store, "--checkpoint-ms", "500"},
        dir / ("node-" + std::string(name) + ".log"))));
  }
  // The text while the nodes start.
  const fs::path input = dir / "text.txt", output = dir / "counts.txt";
  auto tg = steady::now();
  const std::uint64_t words = make_text(input, static_cast<std::uint64_t>(o.megabytes * 1e6));
  std::printf("  text        %.1f MB, %llu words, written in %.1f s\n", static_cast<double>(fs::file_size(input)) / 1e6,
              static_cast<unsigned long long>(words), seconds_since(tg));
  for (auto& n : nodes)
    if (!(*n)->wait_line("ready", 20s)) throw std::runtime_error("a node did not start (see " + dir.string() + "/node-*.log)");

  xn::remote r({.hub = *hub, .secret_file = (dir / "alice.secret").string(), .as = "alice"});
  if (!r.wait_online("A", 10s) || !r.wait_online("B", 10s)) throw std::runtime_error("nodes A and B are not both online");
  std::cout << "  nodes       A and B online (endpoints node/A, node/B)\n";

  // The reference count runs beside the job (the machine has two cores: job and reference).
  std::map<std::string, std::uint64_t> reference;
  std::thread ref_thread([&] { reference = count_words(input); });
  struct joiner {
    std::thread& t;
    ~joiner() {
      if (t.joinable()) t.join();
    }
  } join_ref{ref_thread};

  auto tj = steady::now();
  xn::protocol::job_info j = r.run("A", "word-count", {{"input", input.string()}, {"output", output.string()}});
  const std::string id = j.id;
  std::cout << "  run         word-count on A as alice: " << id << "\n";
  std::vector<std::pair<std::string, xn::protocol::move_reply>> moves;
  const double move_at[] = {0.30, 0.60};
  const char* move_to[] = {"B", "A"};
  int last_tenth = -1;
  for (;;) {
    j = r.status(id);
    if (tty) {
      std::cout << "\r  " << bar(j.progress) << " " << static_cast<int>(j.progress * 100) << "% on " << j.node << "  "
                << std::flush;
    } else if (static_cast<int>(j.progress * 10) != last_tenth) {
      last_tenth = static_cast<int>(j.progress * 10);
      std::cout << "  progress    " << static_cast<int>(j.progress * 100) << "% on " << j.node << "\n" << std::flush;
    }
    if (j.state != xm::job_state::running) break;
    if (moves.size() < 2 && j.progress >= move_at[moves.size()]) {
      const std::string from = j.node, to = move_to[moves.size()];
      xn::protocol::move_reply m = r.move(id, to);
      if (tty) std::cout << "\n";
      std::printf("  move        %s -> %s at %d%%: downtime %.1f ms (epoch %llu)\n", from.c_str(), to.c_str(),
                  static_cast<int>(j.progress * 100), std::chrono::duration<double, std::milli>(m.downtime).count(),
                  static_cast<unsigned long long>(m.epoch));
      std::fflush(stdout);
      moves.emplace_back(from, m);
      continue;
    }
    std::this_thread::sleep_for(100ms);
  }
  if (tty) std::cout << "\n";
  const double job_seconds = seconds_since(tj);
  if (j.state != xm::job_state::done) {
    std::cerr << "error: migrate demo: job " << id << " ended " << xm::to_string(j.state) << ": " << j.error << "\n";
    return exit_job_failed;
  }
  std::printf("  done        in %.1f s on node %s, %zu moves\n", job_seconds, j.node.c_str(), moves.size());

  // The result, by reference: fetched from the store with the credential the node issued.
  xgate::results::results_gate<std::map<std::string, std::uint64_t>> result(r.result(id));
  ref_thread.join();
  const bool same_counts = result.get() == reference;
  const bool same_file = slurp(output) == xgate::examples::word_count_text(reference);
  std::uint64_t total = 0;
  for (const auto& [w, n] : result.get()) total += n;
  std::size_t checkpoints = 0, moved = 0;
  for (const xm::log_entry& e : r.log(id)) {
    checkpoints += e.kind == xm::log_kind::checkpoint;
    moved += e.kind == xm::log_kind::moved;
  }
  std::printf("  result      %zu distinct words, %llu in all; %zu checkpoints and %zu moves in the job's log\n",
              result.get().size(), static_cast<unsigned long long>(total), checkpoints, moved);
  std::printf("  check       result %s an uninterrupted count; output file %s\n",
              same_counts ? "equals" : "DIFFERS FROM", same_file ? "equal" : "DIFFERS");
  if (moves.size() < 2) std::printf("  note        the job ended before both moves (a faster machine: try --megabytes 300)\n");
  std::printf("migrate demo: %s in %.1f s\n", same_counts && same_file ? "ok" : "FAILED", seconds_since(t0));
  std::fflush(stdout);
  return same_counts && same_file ? exit_ok : exit_job_failed;
}

}  // namespace

int run_demo(const std::string& argv0, const demo_options& options) {
  const auto t0 = steady::now();
  // Ctrl-C and SIGTERM: a thread takes them, stops the children and removes the directory.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    timespec tick{0, 100 * 1000 * 1000};
    while (!finished) {
      int sig = ::sigtimedwait(&signals, nullptr, &tick);
      if (sig == SIGINT || sig == SIGTERM) {
        std::cerr << "\nmigrate demo: interrupted; stopping xgated and the nodes\n";
        cleaning.stop_all();
        std::_Exit(128 + sig);
      }
    }
  });
  int code = exit_unavailable;
  try {
    code = demo(argv0, options, t0);
  } catch (const xn::remote_error& e) {
    std::cerr << "error: migrate demo: " << e.what() << "\n";
    code = exit_for(e.name());
  } catch (const std::exception& e) {
    std::cerr << "error: migrate demo: " << e.what() << "\n";
    code = exit_unavailable;
  }
  cleaning.stop_all();
  finished = true;
  watcher.join();
  return code;
}

}  // namespace xgate::migrate_cli
