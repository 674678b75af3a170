// Moving running jobs through relay agents (channel/agent.hpp), as a user runs it:
//
//   xgated (store + hub1) <- agent-a (runs hub2) <- agent-b (runs hub3)
//   node A and the CLI on hub1                      node B on hub3
//
// Every program is a real process on 127.0.0.1: xgated, two `migrate agent`s, the nodes
// (migrate_test_node) and the `migrate` commands, which reach B with --route
// B=agent-a,agent-b (or XGATE_ROUTES). B reaches the store through a fault_proxy with no
// faults, which the tests use to hold B's store requests: that is how a test knows B is
// inside its resume when it kills agent-b in the middle of a move. Every wait is bounded.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <xgate/examples/jobs.hpp>
#include <xgate/nodes/remote.hpp>
#include <xgate/xmlcodec.hpp>

#include "cli.hpp"
#include "cli_harness.hpp"
#include "fault_proxy.hpp"
#include "process.hpp"

namespace {
namespace fs = std::filesystem;
namespace xm = xgate::migrate;
namespace xn = xgate::nodes;
using xgate::channel::testing::fault_proxy;
using xgate::process::child_process;
using namespace xgate::migrate_cli::testing;
using namespace std::chrono_literals;

const std::string route_b = "B=agent-a,agent-b";

bool contains(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// Sets an environment variable for one scope.
struct scoped_env {
  std::string name;
  std::optional<std::string> old;
  scoped_env(std::string n, const std::string& value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~scoped_env() {
    if (old) ::setenv(name.c_str(), old->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

class MigrateAgents : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("migrate-agents-test-" + std::to_string(::getpid()));
  std::string store, hub1;
  std::unique_ptr<child_process> server;
  std::unique_ptr<fault_proxy> proxy;  // in front of xgated's store, for node B
  struct agent {
    std::unique_ptr<child_process> p;
    std::string hub;  // the downstream hub it runs
    bool killed = false;
  };
  std::map<std::string, agent> agents;
  std::map<std::string, std::unique_ptr<child_process>> nodes;
  std::unique_ptr<xn::remote> alice;  // the test's own view, for polling; reaches B through the agents
  int cli_count = 0;

  std::string adduser(const fs::path& data, const std::string& who, const std::string& file) {
    int st = 0;
    std::string token = xgate::process::run_capture({XGATED_PATH, "adduser", who, "--data", data.string()}, &st);
    EXPECT_EQ(st, 0) << "adduser " << who << " --data " << data;
    xgate::testing::write_secret_file(dir / file, token);
    return (dir / file).string();
  }

  void SetUp() override {
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path d1 = dir / "d1", da = dir / "agent-a", db = dir / "agent-b";
    adduser(d1, "node", "node.secret");           // A's hub login and both nodes' store token
    adduser(d1, "alice", "alice.secret");         // the CLI
    adduser(d1, "agent-a", "agent-a.secret");     // agent-a's login on hub1
    adduser(da, "agent-b", "agent-b.secret");     // agent-b's login on agent-a's hub (hub2)
    adduser(db, "node", "node-hub3.secret");      // B's login on agent-b's hub (hub3)
    ASSERT_FALSE(HasFailure());

    server = std::make_unique<child_process>(
        std::vector<std::string>{XGATED_PATH, "--data", d1.string(), "--listen", "127.0.0.1:0", "--hub", "127.0.0.1:0"},
        dir / "xgated.log");
    store = server->wait_line("store: ", 10s).value_or("");
    hub1 = server->wait_line("hub: ", 10s).value_or("");
    ASSERT_TRUE(store.starts_with("http://127.0.0.1:") && !hub1.empty()) << read_file(dir / "xgated.log");
    proxy = std::make_unique<fault_proxy>("127.0.0.1", static_cast<unsigned short>(std::stoi(store.substr(store.rfind(':') + 1))),
                                          xgate::channel::testing::fault_options{});  // every probability 0

    start_agent("agent-a", hub1, "agent-a.secret", da);
    ASSERT_TRUE(agents["agent-a"].hub.starts_with("tcp://127.0.0.1:")) << read_file(dir / "agent-agent-a.log");
    start_agent("agent-b", agents["agent-a"].hub, "agent-b.secret", db);
    ASSERT_TRUE(agents["agent-b"].hub.starts_with("tcp://127.0.0.1:")) << read_file(dir / "agent-agent-b.log");

    start_node("A", {"--hub", hub1, "--secret-file", (dir / "node.secret").string(), "--store", store});
    start_node("B", {"--hub", agents["agent-b"].hub, "--secret-file", (dir / "node-hub3.secret").string(), "--store",
                     "http://" + proxy->address(), "--store-token-file", (dir / "node.secret").string()});
    for (auto& [name, n] : nodes) ASSERT_TRUE(n->wait_line("ready", 30s)) << read_file(dir / ("node-" + name + ".log"));

    ::setenv("XGATE_HUB", hub1.c_str(), 1);
    ::setenv("XGATE_SECRET_FILE", (dir / "alice.secret").c_str(), 1);
    ::setenv("XGATE_AS", "alice", 1);
    ::unsetenv("XGATE_ROUTES");
    xn::remote_options o;
    o.hub = hub1;
    o.secret_file = (dir / "alice.secret").string();
    o.as = "alice";
    o.routes = {{"B", {"agent-a", "agent-b"}}};
    o.call_timeout = 30s;
    alice = std::make_unique<xn::remote>(o);
    ASSERT_TRUE(alice->wait_online("A", 10s));
    // B is ready for routes once agent-b is on agent-a's hub and B on agent-b's.
    cli_result hops;
    for (auto deadline = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < deadline;) {
      hops = cli({"hops", "--via", "agent-a,agent-b", "--timeout", "5"});
      if (hops.code == 0 && contains(hops.out, "node/B")) break;
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(hops.code == 0 && contains(hops.out, "node/B")) << "hops: " << hops.out << hops.err;
  }

  void TearDown() override {
    alice.reset();
    // SIGTERM: each node suspends its jobs and exits 0 (a sanitizer report would make it 1).
    for (auto& [name, n] : nodes) n->signal(SIGTERM);
    for (auto& [name, n] : nodes) EXPECT_EQ(n->wait(60s), 0) << "node " << name << ":\n" << read_file(dir / ("node-" + name + ".log"));
    nodes.clear();
    for (const char* name : {"agent-b", "agent-a"}) {  // downstream first
      auto it = agents.find(name);
      if (it == agents.end() || it->second.killed) continue;
      it->second.p->signal(SIGTERM);
      EXPECT_EQ(it->second.p->wait(20s), 0) << name << ":\n" << read_file(dir / ("agent-" + std::string(name) + ".log"));
    }
    agents.clear();
    if (server) {
      server->signal(SIGTERM);
      EXPECT_EQ(server->wait(30s), 0) << read_file(dir / "xgated.log");
      server.reset();
    }
    proxy.reset();
    if (!HasFailure()) fs::remove_all(dir);
    else std::cerr << "logs kept in " << dir << "\n";
  }

  void start_agent(const std::string& name, const std::string& upstream, const std::string& secret, const fs::path& data) {
    agent& a = agents[name];
    a.p = std::make_unique<child_process>(
        std::vector<std::string>{MIGRATE_PATH, "agent", "--name", name, "--upstream", upstream, "--secret-file",
                                 (dir / secret).string(), "--downstream", "127.0.0.1:0", "--data", data.string(),
                                 "--hop-timeout", "1"},
        dir / ("agent-" + name + ".log"));
    a.hub = a.p->wait_line("hub: ", 20s).value_or("");
  }

  void kill_agent(const std::string& name) {
    agent& a = agents.at(name);
    a.p->signal(SIGKILL);
    a.killed = true;
    EXPECT_EQ(a.p->wait(10s), 128 + SIGKILL);
  }

  void start_node(const std::string& name, std::vector<std::string> where) {
    std::vector<std::string> argv{MIGRATE_TEST_NODE_PATH, "node", "--name", name, "--checkpoint-ms", "100"};
    argv.insert(argv.end(), where.begin(), where.end());
    nodes[name] = std::make_unique<child_process>(argv, dir / ("node-" + name + ".log"));
  }

  fs::path next_err() { return dir / ("cli-" + std::to_string(++cli_count) + ".err"); }

  // Runs `migrate ARGS...` (the real CLI) to its end.
  cli_result cli(std::vector<std::string> args) {
    args.insert(args.begin(), MIGRATE_PATH);
    return run_to_end(args, next_err());
  }

  template <class Pred>
  xn::protocol::job_info wait_for(const std::string& id, Pred pred, std::chrono::milliseconds timeout = 60s) {
    return wait_for_status(*alice, id, pred, timeout, 20ms);
  }
  static bool ended(const xn::protocol::job_info& j) {
    return j.state == xm::job_state::done || j.state == xm::job_state::failed || j.state == xm::job_state::killed;
  }

  // Starts a word count on A, throttled to take about ticks * throttle_ms, and waits until it runs.
  std::string start_word_count(std::size_t ticks, int throttle_ms, std::map<std::string, std::uint64_t>& counts) {
    const std::size_t words = std::max<std::size_t>(static_cast<std::size_t>(200000 * scale()), ticks * 10);
    counts = make_text(dir / "in.txt", words);
    cli_result run = cli({"run", "word-count", "--on", "A", "--arg", "input=" + (dir / "in.txt").string(), "--arg",
                          "output=" + (dir / "out.txt").string(), "--arg", "every=" + std::to_string(words / ticks), "--arg",
                          "throttle_ms=" + std::to_string(throttle_ms)});
    EXPECT_CLI(run, 0);
    const std::string id = last_word(run.out);
    EXPECT_TRUE(id.starts_with("j-")) << run.out;
    auto j = wait_for(id, [](const auto& j) { return j.progress > 0 || ended(j); });
    EXPECT_EQ(j.state, xm::job_state::running);
    EXPECT_EQ(j.node, "A");
    return id;
  }

  // The job's result and output file equal an uninterrupted count.
  void expect_counted(const std::string& id, const std::map<std::string, std::uint64_t>& counts) {
    cli_result result = cli({"result", id});
    EXPECT_CLI(result, 0);
    if (result.code == 0) {
      auto got = xgate::from_xml<std::map<std::string, std::uint64_t>>(result.out, {.principal = "alice"});
      EXPECT_TRUE(got == counts) << got.size() << " distinct words counted, " << counts.size() << " expected";
    }
    EXPECT_EQ(read_file(dir / "out.txt"), xgate::examples::word_count_text(counts));
  }

  // The ps line of a job ("" when it is not listed).
  std::string ps_line(const std::string& id) {
    cli_result ps = cli({"ps"});
    EXPECT_CLI(ps, 0);
    std::size_t at = ps.out.find(id);
    if (at == std::string::npos) return "";
    return ps.out.substr(at, ps.out.find('\n', at) - at);
  }
};

// ---- A -> B through both agents, then back -------------------------------------------------
TEST_F(MigrateAgents, WordCountMovesToANodeBehindTwoAgentsAndBackWithTheUninterruptedResult) {
  std::map<std::string, std::uint64_t> counts;
  const std::string id = start_word_count(40, 250, counts);  // ~10 s: room for two moves on a loaded machine
  ASSERT_TRUE(id.starts_with("j-"));

  cli_result there = cli({"move", id, "--to", "B", "--route", route_b});
  EXPECT_CLI(there, 0);
  EXPECT_TRUE(contains(there.out, "from A to B")) << there.out;
  EXPECT_TRUE(contains(there.out, "downtime")) << there.out;
  // B runs it: its live progress comes over the route and grows.
  auto j = alice->status(id);
  ASSERT_EQ(j.node, "B") << xm::to_string(j.state);
  ASSERT_EQ(j.state, xm::job_state::running);
  const double on_arrival = j.progress;
  j = wait_for(id, [&](const auto& j) { return j.progress > on_arrival || ended(j); }, 30s);
  EXPECT_EQ(j.state, xm::job_state::running) << j.error;
  EXPECT_EQ(j.node, "B");
  EXPECT_GT(j.progress, on_arrival);
  EXPECT_LT(j.progress, 1.0) << "the job ended before it could be moved back: make it slower";
  EXPECT_TRUE(contains(ps_line(id), " B ")) << ps_line(id);

  // Back: the CLI reaches the owner B through the route; B opens one to A the other way.
  cli_result back = cli({"move", id, "--to", "A", "--route", route_b});
  EXPECT_CLI(back, 0);
  EXPECT_TRUE(contains(back.out, "from B to A")) << back.out;

  cli_result watch = cli({"watch", id, "--interval", "0.05"});
  EXPECT_CLI(watch, 0);
  EXPECT_TRUE(contains(watch.out, id + ": 100% done on A")) << watch.out;
  expect_counted(id, counts);

  cli_result log = cli({"log", id});
  EXPECT_CLI(log, 0);
  std::size_t moves = 0, resumed_on_b = 0, resumed_on_a = 0;
  std::istringstream lines(log.out);
  for (std::string l; std::getline(lines, l);) {
    if (contains(l, " moved ")) ++moves;
    if (contains(l, " resumed ") && contains(l, "node B ")) ++resumed_on_b;
    if (contains(l, " resumed ") && contains(l, "node A ")) ++resumed_on_a;
  }
  EXPECT_EQ(moves, 2u) << log.out;
  EXPECT_GE(resumed_on_b, 1u) << log.out;
  EXPECT_GE(resumed_on_a, 1u) << log.out;
  for (const char* what : {"submitted", "checkpoint", "done"}) EXPECT_TRUE(contains(log.out, what)) << what << " in\n" << log.out;
  j = alice->status(id);
  EXPECT_EQ(j.state, xm::job_state::done);
  EXPECT_EQ(j.node, "A");
  std::string line = ps_line(id);
  EXPECT_TRUE(contains(line, " A ") && contains(line, "done")) << line;
}

// ---- agent-b dies while B is inside its resume: A takes the job back --------------------------
TEST_F(MigrateAgents, AHopKilledInTheMiddleOfAMoveLeavesTheJobRunningOnAExactlyOnce) {
  std::map<std::string, std::uint64_t> counts;
  const std::string id = start_word_count(40, 250, counts);
  ASSERT_TRUE(id.starts_with("j-"));

  // B's store requests wait at the proxy: B blocks in its resume, after A handed the job over.
  proxy->hold(true);
  const fs::path move_err = next_err();
  auto move = std::make_unique<child_process>(
      std::vector<std::string>{MIGRATE_PATH, "move", id, "--to", "B", "--route", route_b, "--timeout", "60"}, move_err);
  for (auto deadline = std::chrono::steady_clock::now() + 30s; proxy->held() == 0 && std::chrono::steady_clock::now() < deadline;)
    std::this_thread::sleep_for(5ms);
  if (proxy->held() == 0) {
    proxy->hold(false);
    FAIL() << "B never asked the store for the job: the move did not reach its resume\nmove: " << move->output()
           << read_file(move_err);
  }
  kill_agent("agent-b");
  const auto killed = std::chrono::steady_clock::now();
  (void)move->wait_line("\x01", 60s);  // reads its stdout to the end
  const std::optional<int> code = move->wait(10s);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  const std::string out = move->output(), err = read_file(move_err);
  move.reset();
  // Let A checkpoint the job under its new epoch first: B's late resume then finds a record
  // and a checkpoint that agree, and only the record's node and epoch can stop it.
  auto j = alice->status(id);
  bool saved_again = false;
  for (auto deadline = std::chrono::steady_clock::now() + 20s; !saved_again && std::chrono::steady_clock::now() < deadline;) {
    for (const xm::log_entry& e : alice->log(id))
      saved_again |= e.kind == xm::log_kind::checkpoint && e.node == "A" && e.epoch == j.epoch && j.epoch > 2;
    if (!saved_again) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(saved_again) << "A did not checkpoint the job after taking it back (epoch " << j.epoch << ", "
                           << xm::to_string(j.state) << " on " << j.node << ")";
  proxy->hold(false);

  ASSERT_TRUE(code.has_value()) << "the move did not end within 70 s of agent-b's death";
  EXPECT_EQ(*code, xgate::migrate_cli::exit_unavailable) << "stdout: " << out << "\nstderr: " << err;
  EXPECT_LT(took, 20.0) << "the broken hop should fail the move at once, not at a timeout";
  EXPECT_TRUE(contains(err, "could not resume it:")) << err;
  EXPECT_TRUE(contains(err, "agent-b")) << err;
  EXPECT_TRUE(contains(err, "it runs on node \"A\" again")) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;  // one line

  // B's held resume now goes on, late: it must not take the job from A.
  j = wait_for(id, ended, 90s);
  EXPECT_EQ(j.state, xm::job_state::done) << j.error;
  EXPECT_EQ(j.node, "A");
  expect_counted(id, counts);
  cli_result log = cli({"log", id});
  EXPECT_CLI(log, 0);
  std::istringstream lines(log.out);
  for (std::string l; std::getline(lines, l);)
    EXPECT_FALSE(contains(l, " resumed ") && contains(l, "node B ")) << "B ran the job:\n" << log.out;
  // B's late resume was refused: the job was no longer handed to it under the move's epoch.
  std::string b_log;
  for (auto deadline = std::chrono::steady_clock::now() + 20s;
       !contains(b_log = read_file(dir / "node-B.log"), "is no longer handed to node \"B\"") && std::chrono::steady_clock::now() < deadline;)
    std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(contains(b_log, "resume " + id + " for node/A: stale_epoch")) << b_log;
  EXPECT_TRUE(contains(b_log, "is no longer handed to node \"B\" under epoch")) << b_log;
}

// ---- agent-b already dead: the move is refused naming it, the job keeps running on A -----------
TEST_F(MigrateAgents, AMoveThroughADeadAgentFailsNamingItAndTheJobKeepsRunningOnA) {
  kill_agent("agent-b");
  // Until agent-a's hub has seen it go.
  cli_result hops;
  for (auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;) {
    hops = cli({"hops", "--via", "agent-a", "--timeout", "5"});
    if (hops.code == 0 && !contains(hops.out, "agent-b")) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(hops.code == 0 && !contains(hops.out, "agent-b")) << hops.out << hops.err;

  std::map<std::string, std::uint64_t> counts;
  const std::string id = start_word_count(30, 250, counts);
  ASSERT_TRUE(id.starts_with("j-"));
  const double before = alice->status(id).progress;

  cli_result move;
  {
    scoped_env routes("XGATE_ROUTES", route_b);  // the same as --route
    move = cli({"move", id, "--to", "B"});
  }
  EXPECT_TRUE(move.code == xgate::migrate_cli::exit_not_found || move.code == xgate::migrate_cli::exit_unavailable)
      << "exit " << move.code << "\nstdout: " << move.out << "\nstderr: " << move.err;
  EXPECT_TRUE(contains(move.err, "agent-b")) << move.err;
  EXPECT_TRUE(contains(move.err, "keeps running on node \"A\"")) << move.err;
  EXPECT_EQ(std::count(move.err.begin(), move.err.end(), '\n'), 1) << move.err;

  std::string line = ps_line(id);
  EXPECT_TRUE(contains(line, " A ") && contains(line, "running")) << line;
  auto j = wait_for(id, [&](const auto& j) { return j.progress > before || ended(j); }, 30s);
  EXPECT_EQ(j.node, "A");
  EXPECT_GT(j.progress, before);  // still making progress on A
  cli_result watch = cli({"watch", id, "--interval", "0.05"});
  EXPECT_CLI(watch, 0);
  EXPECT_TRUE(contains(watch.out, id + ": 100% done on A")) << watch.out;
  expect_counted(id, counts);

  // The CLI's own route to B is refused the same way.
  cli_result on_b = cli({"run", "word-count", "--on", "B", "--route", route_b, "--arg", "input=/nonexistent"});
  EXPECT_TRUE(on_b.code == xgate::migrate_cli::exit_not_found || on_b.code == xgate::migrate_cli::exit_unavailable)
      << "exit " << on_b.code << "\nstdout: " << on_b.out << "\nstderr: " << on_b.err;
  EXPECT_TRUE(contains(on_b.err, "agent-b")) << on_b.err;
}

}  // namespace
