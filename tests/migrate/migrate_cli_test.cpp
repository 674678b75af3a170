// The migrate CLI and node daemons as a user runs them: a real `xgated --hub`, three
// `migrate node` processes (A and B host every type, C only heat) and `migrate` commands,
// all on 127.0.0.1 and stopped by the test. The nodes are migrate_test_node: the migrate
// program with one more job type (test-once, once_job.cpp). Every wait is bounded.
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
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <xgate/examples/jobs.hpp>
#include <xgate/nodes/remote.hpp>
#include <xgate/tls/certs.hpp>
#include <xgate/xmlcodec.hpp>

#include "cli_harness.hpp"
#include "ops.hpp"
#include "process.hpp"

namespace {
namespace fs = std::filesystem;
namespace xm = xgate::migrate;
namespace xn = xgate::nodes;
using xgate::process::child_process;
using namespace xgate::migrate_cli::testing;
using namespace std::chrono_literals;

class MigrateCli : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("migrate-cli-test-" + std::to_string(::getpid()));
  std::string store, hub;
  std::unique_ptr<child_process> server;
  std::map<std::string, std::unique_ptr<child_process>> nodes;
  std::unique_ptr<xn::remote> alice;  // the test's own view, for polling
  bool tls = false;  // xgated with a certificate from xgate::tls's CA; everyone trusts it through XGATE_CA

  void SetUp() override {
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::vector<std::string> tls_flags;
    if (tls) {
      xgate::tls::create_ca(dir / "certs");
      xgate::tls::issue(dir / "certs", "node", {.hosts = {"127.0.0.1"}});
      tls_flags = {"--tls-cert", (dir / "certs" / "node.crt").string(), "--tls-key", (dir / "certs" / "node.key").string()};
      ::setenv("XGATE_CA", (dir / "certs" / "ca.crt").c_str(), 1);  // the nodes, the CLI and this process
    }
    for (const char* who : {"node", "alice", "mallory"}) {
      int st = 0;
      std::string token = xgate::process::run_capture({XGATED_PATH, "adduser", who, "--data", (dir / "data").string()}, &st);
      ASSERT_EQ(st, 0);
      xgate::testing::write_secret_file(dir / (std::string(who) + ".secret"), token);
    }
    std::vector<std::string> argv{XGATED_PATH, "--data", (dir / "data").string(), "--listen", "127.0.0.1:0", "--hub", "127.0.0.1:0"};
    argv.insert(argv.end(), tls_flags.begin(), tls_flags.end());
    server = std::make_unique<child_process>(argv, dir / "xgated.log");
    store = server->wait_line("store: ", 10s).value_or("");
    hub = server->wait_line("hub: ", 10s).value_or("");
    ASSERT_FALSE(store.empty() || hub.empty()) << read_file(dir / "xgated.log");
    start_node("A", {"--metrics", "127.0.0.1:0"});
    start_node("B", {"--metrics", "127.0.0.1:0"});
    start_node("C", {"--types", "heat"});
    for (auto& [name, n] : nodes) ASSERT_TRUE(n->wait_line("ready", 30s)) << read_file(dir / ("node-" + name + ".log"));
    ::setenv("XGATE_HUB", hub.c_str(), 1);
    ::setenv("XGATE_SECRET_FILE", (dir / "alice.secret").c_str(), 1);
    ::setenv("XGATE_AS", "alice", 1);
    alice = std::make_unique<xn::remote>(xn::remote_options{.hub = hub, .secret_file = (dir / "alice.secret").string(), .as = "alice"});
    for (const char* n : {"A", "B", "C"}) ASSERT_TRUE(alice->wait_online(n, 10s));
  }

  void TearDown() override {
    alice.reset();
    // SIGTERM: each node suspends its jobs and exits 0 (a sanitizer report would make it 1).
    for (auto& [name, n] : nodes) n->signal(SIGTERM);
    for (auto& [name, n] : nodes) {
      auto st = n->wait(60s);
      if (st != 128 + SIGKILL) {
        EXPECT_EQ(st, 0) << "node " << name << ":\n" << read_file(dir / ("node-" + name + ".log"));
      }
    }
    nodes.clear();
    server->signal(SIGTERM);
    EXPECT_EQ(server->wait(30s), 0) << read_file(dir / "xgated.log");
    server.reset();
    ::unsetenv("XGATE_CA");
    if (!HasFailure()) fs::remove_all(dir);
    else std::cerr << "logs kept in " << dir << "\n";
  }

  void start_node(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{MIGRATE_TEST_NODE_PATH, "node", "--name", name, "--hub", hub, "--secret-file",
                                  (dir / "node.secret").string(), "--store", store, "--checkpoint-ms", "100"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    nodes[name] = std::make_unique<child_process>(argv, dir / ("node-" + name + ".log"));
  }

  // Runs `migrate ARGS...` (the real CLI) to its end.
  cli_result cli(std::vector<std::string> args) {
    args.insert(args.begin(), MIGRATE_PATH);
    static int n = 0;
    fs::path err = dir / ("cli-" + std::to_string(++n) + ".err");
    return run_to_end(args, err);
  }

  template <class Pred>
  xn::protocol::job_info wait_for(const std::string& id, Pred pred, std::chrono::milliseconds timeout = 60s) {
    return wait_for_status(*alice, id, pred, timeout, 20ms);
  }
};

// ---- run, move A→B, watch, result, log, ps ---------------------------------------------
TEST_F(MigrateCli, WordCountMovedFromAToBGivesTheUninterruptedResult) {
  const std::size_t words = static_cast<std::size_t>(200000 * scale());
  auto counts = make_text(dir / "in.txt", words);
  const std::size_t every = words / 10;
  cli_result run = cli({"run", "word-count", "--on", "A", "--arg", "input=" + (dir / "in.txt").string(), "--arg",
                        "output=" + (dir / "out.txt").string(), "--arg", "every=" + std::to_string(every), "--arg",
                        "throttle_ms=250"});  // ~2.5 s: room to move it mid-run on a loaded machine
  EXPECT_CLI(run, 0);
  const std::string id = last_word(run.out);
  ASSERT_TRUE(id.starts_with("j-")) << run.out;
  auto j = wait_for(id, [](const auto& j) { return j.progress > 0; });
  ASSERT_EQ(j.state, xm::job_state::running);

  cli_result move = cli({"move", id, "--to", "B"});
  EXPECT_CLI(move, 0);
  EXPECT_NE(move.out.find("from A to B"), std::string::npos) << move.out;
  EXPECT_NE(move.out.find("downtime"), std::string::npos) << move.out;
  j = alice->status(id);
  EXPECT_TRUE(j.node == "B" && (j.state == xm::job_state::running || j.state == xm::job_state::done)) << j.node;

  cli_result watch = cli({"watch", id, "--interval", "0.05"});
  EXPECT_CLI(watch, 0);
  EXPECT_NE(watch.out.find(id + ": 100% done on B"), std::string::npos) << watch.out;

  // What an operator scrapes from each node (--metrics): the move, counted on both sides.
  const std::string a_ops = nodes["A"]->wait_line("metrics: ", 1s).value_or(""), b_ops = nodes["B"]->wait_line("metrics: ", 1s).value_or("");
  ASSERT_TRUE(a_ops.starts_with("http://127.0.0.1:")) << a_ops;
  auto [a_code, a] = xgate::testing::http_get(a_ops, "/metrics");
  EXPECT_EQ(a_code, 200);
  for (const char* want : {"xgate_node_jobs_started_total 1\n", "xgate_node_jobs_ended_total{how=\"moved\"} 1\n",
                           "xgate_node_move_downtime_seconds_count 1\n", "xgate_node_moves_failed_total 0\n",
                           "xgate_node_jobs_running 0\n", "xgate_node_hub_connected 1\n"})
    EXPECT_NE(a.find(want), std::string::npos) << want << " in\n" << a;
  EXPECT_EQ(a.find("xgate_node_checkpoints_total 0\n"), std::string::npos) << "checkpoints before and for the move\n" << a;
  EXPECT_EQ(a.find(id), std::string::npos) << "no job ids";
  EXPECT_EQ(xgate::testing::promtool_check(a, dir), "") << a;
  // B's job ends (its record says done) a moment before B counts it
  std::pair<int, std::string> b_scrape;
  for (auto until = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(20ms)) {
    b_scrape = xgate::testing::http_get(b_ops, "/metrics");
    if (b_scrape.second.find("xgate_node_jobs_ended_total{how=\"done\"} 1\n") != std::string::npos) break;
  }
  auto& [b_code, b] = b_scrape;
  EXPECT_EQ(b_code, 200);
  for (const char* want : {"xgate_node_jobs_started_total 1\n", "xgate_node_jobs_ended_total{how=\"done\"} 1\n",
                           "xgate_node_move_downtime_seconds_count 0\n"})
    EXPECT_NE(b.find(want), std::string::npos) << want << " in\n" << b;
  EXPECT_EQ(xgate::testing::http_get(a_ops, "/healthz"), std::make_pair(200, std::string("ok\n")));
  EXPECT_EQ(xgate::testing::http_get(a_ops, "/readyz"), std::make_pair(200, std::string("ready\n")));

  cli_result result = cli({"result", id});
  EXPECT_CLI(result, 0);
  auto got = xgate::from_xml<std::map<std::string, std::uint64_t>>(result.out, {.principal = "alice"});
  EXPECT_EQ(got, counts);
  EXPECT_EQ(read_file(dir / "out.txt"), xgate::examples::word_count_text(counts));

  cli_result log = cli({"log", id});
  EXPECT_CLI(log, 0);
  for (const char* what : {"submitted", "checkpoint", "moved", "resumed", "done"})
    EXPECT_NE(log.out.find(what), std::string::npos) << what << " in\n" << log.out;
  cli_result ps = cli({"ps"});
  EXPECT_CLI(ps, 0);
  EXPECT_NE(ps.out.find("ID"), std::string::npos);
  EXPECT_NE(ps.out.find(id), std::string::npos);
  EXPECT_NE(ps.out.find("done"), std::string::npos) << ps.out;
}

// ---- the same across TLS: the store and the hub behind a certificate ------------------------
class MigrateCliTls : public MigrateCli {
 protected:
  MigrateCliTls() { tls = true; }
};

TEST_F(MigrateCliTls, AJobMovesFromAToBWithTheStoreAndTheHubOnTls) {
  EXPECT_TRUE(store.starts_with("https://127.0.0.1:")) << store;
  EXPECT_TRUE(hub.starts_with("tls://127.0.0.1:")) << hub;
  const std::size_t words = static_cast<std::size_t>(50000 * scale());
  auto counts = make_text(dir / "in.txt", words);
  cli_result run = cli({"run", "word-count", "--on", "A", "--arg", "input=" + (dir / "in.txt").string(), "--arg",
                        "output=" + (dir / "out.txt").string(), "--arg", "every=" + std::to_string(words / 10), "--arg",
                        "throttle_ms=250"});
  EXPECT_CLI(run, 0);
  const std::string id = last_word(run.out);
  ASSERT_TRUE(id.starts_with("j-")) << run.out;
  wait_for(id, [](const auto& j) { return j.progress > 0; });
  cli_result move = cli({"move", id, "--to", "B"});
  EXPECT_CLI(move, 0);
  EXPECT_NE(move.out.find("from A to B"), std::string::npos) << move.out;
  auto j = wait_for(id, [](const auto& j) { return j.state == xm::job_state::done; });
  EXPECT_EQ(j.node, "B");
  cli_result result = cli({"result", id});
  EXPECT_CLI(result, 0);
  EXPECT_EQ(xgate::from_xml<decltype(counts)>(result.out, {.principal = "alice"}), counts);
}

// ---- SIGKILL the node; resume elsewhere from the last checkpoint ----------------------------
TEST_F(MigrateCli, AKilledNodesJobResumesOnAnotherNodeWithOnceEffectsExactlyOnce) {
  const fs::path effects = dir / "effects.txt", hold = dir / "hold";
  std::ofstream(hold) << "";
  cli_result run = cli({"run", "test-once", "--on", "A", "--arg", "steps=60", "--arg", "pause_ms=2", "--arg",
                        "effects=" + effects.string(), "--arg", "hold=" + hold.string(), "--arg", "hold_at=35"});
  EXPECT_CLI(run, 0);
  const std::string id = last_word(run.out);
  // Wait until A saved the job while it holds at step 35 (once results of steps 0..30 with it).
  auto deadline = std::chrono::steady_clock::now() + 30s;
  bool saved = false;
  while (!saved && std::chrono::steady_clock::now() < deadline) {
    for (const xm::log_entry& e : alice->log(id)) saved |= e.kind == xm::log_kind::checkpoint && e.steps > 35;
    if (!saved) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(saved);
  nodes["A"]->signal(SIGKILL);
  ASSERT_TRUE(nodes["A"]->wait(10s));
  ASSERT_TRUE(alice->wait_offline("A", 10s));
  fs::remove(hold);

  cli_result resume = cli({"resume", id, "--on", "B"});
  EXPECT_CLI(resume, 0);
  EXPECT_NE(resume.out.find("resumed " + id + " on node B"), std::string::npos) << resume.out;
  cli_result watch = cli({"watch", id, "--interval", "0.05"});
  EXPECT_CLI(watch, 0);
  cli_result result = cli({"result", id});
  EXPECT_CLI(result, 0);
  EXPECT_EQ(xgate::from_xml<std::uint64_t>(result.out, {.principal = "alice"}), 0u + 10 + 20 + 30 + 40 + 50);
  // Each effect once: 0..30 ran on A (recorded with the checkpoint), 40 and 50 on B.
  std::istringstream lines(read_file(effects));
  std::vector<std::string> seen;
  for (std::string l; std::getline(lines, l);) seen.push_back(l);
  std::vector<std::string> expected;
  for (int k = 0; k < 60; k += 10) expected.push_back(id + "/effect-" + std::to_string(k));
  std::sort(seen.begin(), seen.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(seen, expected);
}

// ---- refusals: the job keeps running where it was --------------------------------------------
TEST_F(MigrateCli, MovesToANodeLackingTheTypeOrToAnUnknownNodeFailAndTheJobKeepsRunning) {
  cli_result run = cli({"run", "test-once", "--on", "A", "--arg", "steps=1000000", "--arg", "pause_ms=1"});
  EXPECT_CLI(run, 0);
  const std::string id = last_word(run.out);
  wait_for(id, [](const auto& j) { return j.progress > 0; });

  cli_result to_c = cli({"move", id, "--to", "C"});
  EXPECT_CLI(to_c, 4);
  EXPECT_NE(to_c.err.find("node \"C\" does not host job type \"test-once\""), std::string::npos) << to_c.err;
  EXPECT_NE(to_c.err.find("keeps running on node \"A\""), std::string::npos) << to_c.err;
  EXPECT_EQ(std::count(to_c.err.begin(), to_c.err.end(), '\n'), 1) << to_c.err;  // one line
  auto j = alice->status(id);
  EXPECT_EQ(j.state, xm::job_state::running);
  EXPECT_EQ(j.node, "A");

  cli_result to_z = cli({"move", id, "--to", "Z"});
  EXPECT_CLI(to_z, 3);
  EXPECT_NE(to_z.err.find("node \"Z\" is not online"), std::string::npos) << to_z.err;
  const double before = alice->status(id).progress;
  j = wait_for(id, [&](const auto& j) { return j.progress > before; }, 10s);
  EXPECT_EQ(j.state, xm::job_state::running);
  EXPECT_EQ(j.node, "A");
  EXPECT_GT(j.progress, before);  // still making progress on A

  cli_result resume = cli({"resume", id, "--on", "B"});  // A is alive: no takeover without --force
  EXPECT_CLI(resume, 5);
  EXPECT_NE(resume.err.find("node \"A\" is online and runs the job"), std::string::npos) << resume.err;

  // A principal without rights: refused, named, and nothing changes.
  const std::vector<std::string> as_mallory{"--as", "mallory", "--secret-file", (dir / "mallory.secret").string()};
  for (std::vector<std::string> cmd : std::vector<std::vector<std::string>>{
           {"move", id, "--to", "B"}, {"result", id}, {"log", id}, {"kill", id}, {"suspend", id}}) {
    cmd.insert(cmd.end(), as_mallory.begin(), as_mallory.end());
    cli_result r = cli(cmd);
    EXPECT_CLI(r, 2);
    EXPECT_NE(r.err.find("principal \"mallory\" lacks the"), std::string::npos) << cmd[0] << ": " << r.err;
  }
  cli_result ps = cli({"ps", "--as", "mallory", "--secret-file", (dir / "mallory.secret").string()});
  EXPECT_CLI(ps, 0);
  EXPECT_EQ(ps.out.find(id), std::string::npos) << ps.out;  // mallory does not see alice's job
  j = alice->status(id);
  EXPECT_EQ(j.state, xm::job_state::running);
  EXPECT_EQ(j.node, "A");

  // A credential of alice's narrowed to the reading methods (xgate store credential
  // --methods): ps and log work, move, kill and suspend are refused naming the method.
  std::string alice_token = read_file(dir / "alice.secret");
  alice_token.erase(alice_token.find_last_not_of("\r\n") + 1);
  ::setenv("XGATE_TOKEN", alice_token.c_str(), 1);
  cli_result issued = run_to_end({XGATE_CLI_PATH, "store", "credential", "--server", store, "--methods", "status,list,log,result",
                                  "--label", "read-only"},
                                 dir / "credential.err");
  ::unsetenv("XGATE_TOKEN");
  EXPECT_CLI(issued, 0);
  std::string reader_token = issued.out.substr(0, issued.out.find('\n'));
  xgate::testing::write_secret_file(dir / "reader.secret", reader_token);
  const std::vector<std::string> as_reader{"--secret-file", (dir / "reader.secret").string()};
  for (std::vector<std::string> cmd :
       std::vector<std::vector<std::string>>{{"move", id, "--to", "B"}, {"kill", id}, {"suspend", id}}) {
    cmd.insert(cmd.end(), as_reader.begin(), as_reader.end());
    cli_result r = cli(cmd);
    EXPECT_CLI(r, 2);
    EXPECT_NE(r.err.find(": method \"" + cmd[0] + "\" is not among the methods credential "), std::string::npos)
        << cmd[0] << ": " << r.err;
    EXPECT_NE(r.err.find(" allows (list,log,result,status)"), std::string::npos) << r.err;
  }
  cli_result reader_ps = cli({"ps", "--secret-file", (dir / "reader.secret").string()});
  EXPECT_CLI(reader_ps, 0);
  EXPECT_NE(reader_ps.out.find(id), std::string::npos) << reader_ps.out;
  EXPECT_CLI(cli({"log", id, "--secret-file", (dir / "reader.secret").string()}), 0);
  j = alice->status(id);
  EXPECT_EQ(j.state, xm::job_state::running);
  EXPECT_EQ(j.node, "A");

  EXPECT_CLI(cli({"suspend", id}), 0);
  EXPECT_EQ(alice->status(id).state, xm::job_state::suspended);
  EXPECT_CLI(cli({"move", id, "--to", "B"}), 5);  // only a running job moves
  EXPECT_CLI(cli({"resume", id, "--on", "B"}), 0);
  EXPECT_EQ(alice->status(id).node, "B");
  cli_result kill = cli({"kill", id});
  EXPECT_CLI(kill, 0);
  EXPECT_EQ(alice->status(id).state, xm::job_state::killed);
  EXPECT_CLI(cli({"watch", id}), 6);
  cli_result no_result = cli({"result", id});  // killed: it never will have one
  EXPECT_CLI(no_result, 6);
  EXPECT_NE(no_result.err.find("the job has no result: it was killed"), std::string::npos) << no_result.err;
}

// ---- bad input: exit codes and one-line messages ---------------------------------------------
TEST_F(MigrateCli, BadInputGivesDocumentedExitCodesAndOneLineMessages) {
  auto one_line = [](const cli_result& r) {
    return r.err.starts_with("error: ") && std::count(r.err.begin(), r.err.end(), '\n') == 1;
  };
  cli_result r = cli({});
  EXPECT_CLI(r, 1);
  r = cli({"run", "word-count"});
  EXPECT_CLI(r, 1);
  EXPECT_TRUE(one_line(r)) << r.err;
  r = cli({"run", "word-count", "--on", "A", "--arg", "oops"});
  EXPECT_CLI(r, 1);
  EXPECT_NE(r.err.find("\"oops\" is not key=value"), std::string::npos) << r.err;
  r = cli({"--help"});
  EXPECT_CLI(r, 0);
  EXPECT_NE(r.out.find("7  unavailable"), std::string::npos) << r.out;

  r = cli({"watch", "j-nosuchjob"});
  EXPECT_CLI(r, 3);
  EXPECT_NE(r.err.find("j-nosuchjob"), std::string::npos);
  EXPECT_TRUE(one_line(r)) << r.err;
  r = cli({"run", "no-such-type", "--on", "A"});
  EXPECT_CLI(r, 4);
  EXPECT_NE(r.err.find("does not host job type \"no-such-type\""), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("j-"), std::string::npos) << "no id of a job never made: " << r.err;
  EXPECT_EQ(r.out, "");
  // A bad argument is refused at run (the body reads it before its first safe point): exit 4.
  r = cli({"run", "word-count", "--on", "A", "--arg", "input=" + (dir / "in.txt").string(), "--arg", "output=x", "--arg", "every=abc"});
  EXPECT_CLI(r, 4);
  EXPECT_NE(r.err.find("argument every=abc is not a non-negative integer (the job failed)"), std::string::npos) << r.err;
  EXPECT_TRUE(one_line(r)) << r.err;
  r = cli({"run", "word-count", "--on", "Z"});
  EXPECT_CLI(r, 3);
  EXPECT_NE(r.err.find("node \"Z\" is not online"), std::string::npos) << r.err;
  r = cli({"result", "j-nosuchjob"});
  EXPECT_CLI(r, 3);

  r = cli({"ps", "--secret-file", (dir / "missing.secret").string()});
  EXPECT_CLI(r, 1);
  EXPECT_NE(r.err.find("missing.secret"), std::string::npos) << r.err;
  // a secret file others may read is refused before it is used, naming it and its mode
  std::ofstream(dir / "exposed.secret") << "xgt1_not-a-real-token";
  fs::permissions(dir / "exposed.secret", fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  r = cli({"ps", "--secret-file", (dir / "exposed.secret").string()});
  EXPECT_CLI(r, 1);
  EXPECT_NE(r.err.find("secret file \"" + (dir / "exposed.secret").string() + "\" may be read by others (mode 0604): chmod 600"),
            std::string::npos)
      << r.err;
  xgate::testing::write_secret_file(dir / "wrong.secret", "xgt1_not-a-real-token");
  r = cli({"ps", "--secret-file", (dir / "wrong.secret").string()});
  EXPECT_CLI(r, 2);
  EXPECT_TRUE(one_line(r)) << r.err;
  // A good token with the wrong --as: the client is told why, not only "refused".
  r = cli({"ps", "--as", "bob", "--secret-file", (dir / "alice.secret").string()});
  EXPECT_CLI(r, 2);
  EXPECT_NE(r.err.find("access denied: principal \"alice\" may not take the endpoint name \"bob/cli-"), std::string::npos) << r.err;
  EXPECT_TRUE(one_line(r)) << r.err;
  r = cli({"ps", "--hub", "tcp://127.0.0.1:1", "--timeout", "1"});
  EXPECT_CLI(r, 7);
  EXPECT_NE(r.err.find("tcp://127.0.0.1:1"), std::string::npos) << r.err;
  ::unsetenv("XGATE_HUB");
  r = cli({"ps"});
  EXPECT_CLI(r, 1);
  EXPECT_NE(r.err.find("XGATE_HUB"), std::string::npos) << r.err;
  ::setenv("XGATE_HUB", hub.c_str(), 1);

  // The node daemon's own flags.
  r = cli({"node", "--name", "D", "--hub", hub, "--secret-file", (dir / "node.secret").string()});
  EXPECT_CLI(r, 1);
  EXPECT_NE(r.err.find("--store"), std::string::npos) << r.err;
  r = cli({"node", "--name", "D", "--hub", hub, "--secret-file", (dir / "node.secret").string(), "--store", store, "--types",
           "nope"});
  EXPECT_CLI(r, 1);
  r = cli({"node", "--name", "bad name", "--hub", hub, "--secret-file", (dir / "node.secret").string(), "--store", store});
  EXPECT_CLI(r, 1);
  EXPECT_NE(r.err.find("bad node name"), std::string::npos) << r.err;
  r = cli({"node", "--name", "D", "--hub", hub, "--secret-file", (dir / "wrong.secret").string(), "--store", store});
  EXPECT_CLI(r, 2);
}

// ---- job libraries (--jobs) and declared arguments ------------------------------------------
TEST_F(MigrateCli, NodesLoadingAJobLibraryListItsArgumentsRefuseBadOnesAndMoveItsJob) {
  const std::string library = PI_JOBS_PATH;
  start_node("D", {"--jobs", library});
  start_node("E", {"--jobs", library, "--types", "pi"});
  for (const char* n : {"D", "E"}) {
    ASSERT_TRUE(nodes[n]->wait_line("ready", 30s)) << read_file(dir / ("node-" + std::string(n) + ".log"));
    ASSERT_TRUE(alice->wait_online(n, 10s));
  }
  EXPECT_EQ(nodes["E"]->wait_line("types: ", 1s).value_or(""), "pi 1");
  EXPECT_NE(read_file(dir / "node-D.log").find("loaded job library " + library + ": pi 1"), std::string::npos)
      << read_file(dir / "node-D.log");

  const std::string arguments =
      "--arg samples=UINT       default 100000\n"
      "--arg seed=UINT          default 1\n"
      "--arg method=lcg|halton  default lcg\n"
      "--arg pause_every=UINT   default 0\n"
      "--arg label=STRING       default \"pi\"\n";
  auto indented = [&](const std::string& indent) {
    std::string out;
    std::istringstream in(arguments);
    for (std::string line; std::getline(in, line);) out += indent + line + "\n";
    return out;
  };
  cli_result r = cli({"nodes"});
  EXPECT_CLI(r, 0);
  EXPECT_NE(r.out.find("E  jobs running: 0  types: pi 1\n  pi 1 (from " + library + ")\n" + indented("    ")), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  word-count 1  (arguments not declared)\n"), std::string::npos) << r.out;
  r = cli({"run", "pi", "--help"});
  EXPECT_CLI(r, 0);
  EXPECT_NE(r.out.find("Arguments of pi 1 (from " + library + "), as node "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" hosts it:\n" + indented("  ")), std::string::npos) << r.out;
  r = cli({"run", "--help"});
  EXPECT_CLI(r, 0);
  EXPECT_NE(r.out.find("--arg KEY=VALUE"), std::string::npos) << r.out;
  r = cli({"run", "no-such-type", "--help"});
  EXPECT_CLI(r, 4);
  EXPECT_EQ(r.err, "error: migrate: no node online hosts job type \"no-such-type\"\n");

  // Refused at run, before a job exists: exit 4, one line naming the argument.
  r = cli({"run", "pi", "--on", "D", "--arg", "samples=many"});
  EXPECT_CLI(r, 4);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "error: migrate: argument samples=\"many\" of pi is not an integer from 0 to 18446744073709551615\n");
  r = cli({"run", "pi", "--on", "D", "--arg", "method=sobol"});
  EXPECT_CLI(r, 4);
  EXPECT_EQ(r.err, "error: migrate: argument method=\"sobol\" of pi is not one of lcg|halton\n");
  r = cli({"run", "pi", "--on", "D", "--arg", "colour=red"});
  EXPECT_CLI(r, 4);
  EXPECT_EQ(r.err, "error: migrate: pi takes no argument colour (its arguments: samples, seed, method, pause_every, label)\n");

  // Its job runs on D, moves to E, and ends there.
  // ~2 s (1 ms per 200 samples): room to move it mid-run, also on a sanitizer build.
  r = cli({"run", "pi", "--on", "D", "--arg", "samples=400000", "--arg", "pause_every=200", "--arg", "label=moved"});
  EXPECT_CLI(r, 0);
  const std::string id = last_word(r.out);
  ASSERT_TRUE(id.starts_with("j-")) << r.out;
  wait_for(id, [](const auto& j) { return j.progress > 0; });
  r = cli({"move", id, "--to", "E"});
  EXPECT_CLI(r, 0);
  EXPECT_EQ(wait_for(id, [](const auto& j) { return j.state != xm::job_state::running; }).state, xm::job_state::done);
  r = cli({"result", id});
  EXPECT_CLI(r, 0);
  EXPECT_NE(r.out.find("<label>moved</label>"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<samples>400000</samples>"), std::string::npos) << r.out;
  // A move to a node without the library's type is refused, as for any type.
  r = cli({"run", "pi", "--on", "D", "--arg", "samples=100000000", "--arg", "pause_every=100"});
  const std::string second = last_word(r.out);
  r = cli({"move", second, "--to", "A"});
  EXPECT_CLI(r, 4);
  EXPECT_NE(r.err.find("does not host job type \"pi\""), std::string::npos) << r.err;
  EXPECT_CLI(cli({"kill", second}), 0);

  r = cli({"node", "--name", "F", "--jobs", (dir / "missing.so").string(), "--hub", hub, "--secret-file",
           (dir / "node.secret").string(), "--store", store});
  EXPECT_CLI(r, 1);
  EXPECT_EQ(r.err, "error: migrate node F: --jobs: job library \"" + (dir / "missing.so").string() + "\": cannot be loaded: " +
                       (dir / "missing.so").string() + ": cannot open shared object file: No such file or directory\n");
  r = cli({"node", "--name", "F", "--jobs", library, "--jobs", library, "--hub", hub, "--secret-file",
           (dir / "node.secret").string(), "--store", store});
  EXPECT_CLI(r, 1);
  EXPECT_EQ(r.err, "error: migrate node F: --jobs: job library \"" + library + "\": brings job type \"pi\", which this node has "
                   "already (from \"" + library + "\")\n");
}

}  // namespace

// A code's name from the wire becomes the migrate_errc of that name, else the client's own
// remote_errc; the name comes back unchanged (the CLI's exit codes go by it).
TEST(RemoteError, NamesFromTheWireBecomeTypedCodes) {
  xn::remote_error refused("wrong_state", "migrate: job \"j\": it is suspended");
  EXPECT_EQ(refused.code(), xm::migrate_errc::wrong_state);
  EXPECT_EQ(refused.code(), xgate::condition::failed_precondition);
  EXPECT_EQ(refused.name(), "wrong_state");
  xn::remote_error down("unavailable", "cannot reach the hub tcp://127.0.0.1:1: no answer");
  EXPECT_EQ(down.code(), xn::remote_errc::unavailable);
  EXPECT_TRUE(down.retryable());
  EXPECT_EQ(xn::remote_error("login", "x").code(), xgate::condition::access_denied);
  xn::remote_error odd("no_such_code", "from a newer node");
  EXPECT_EQ(odd.code(), xn::remote_errc::failed);
  EXPECT_EQ(odd.name(), "failed");
  EXPECT_STREQ(odd.what(), "from a newer node");
}
