// The migrate CLI and node daemons with a real XMPP server as their channel: a
// Prosody (tests/channel/prosody.hpp: TLS with a generated self-signed certificate, c2s on
// 127.0.0.1) carries the calls; an xgated with only its store (--listen, no --hub) keeps
// the jobs' records and checkpoints. Two `migrate node` processes a and b, the real
// `migrate` CLI; a word count moved from a to b mid-run equals an unmoved count.
//
// Accounts (the endpoint name XEP-0106 escaped, channel/xmpp.hpp):
//   node\2fa, node\2fb     the nodes' endpoints node/a, node/b (principal "node", the store
//                          token's); their secret is the XMPP password, --store-token-file
//                          the xgated token of "node"
//   alice\2fcli-1          the CLI's endpoint alice/cli-1 (one account per concurrent CLI;
//                          each command a new process under it)
//   alice\2fcli-t          the test's own view (an xn::remote), polling status
// Not skipped without Prosody: ./x installs it, so its absence is a failure.
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
#include <string>
#include <thread>
#include <vector>

#include <xgate/channel/xmpp.hpp>
#include <xgate/examples/jobs.hpp>
#include <xgate/nodes/remote.hpp>
#include <xgate/xmlcodec.hpp>

#include "cli_harness.hpp"
#include "process.hpp"
#include "prosody.hpp"

namespace {
namespace fs = std::filesystem;
namespace xm = xgate::migrate;
namespace xn = xgate::nodes;
using xgate::channel::testing::prosody;
using xgate::process::child_process;
using namespace xgate::migrate_cli::testing;
using namespace std::chrono_literals;

std::string password_of(const std::string& account) { return "pw-" + std::to_string(std::hash<std::string>{}(account) % 100000) + "-Zq7"; }

class MigrateXmpp : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("migrate-xmpp-test-" + std::to_string(::getpid()));
  std::unique_ptr<prosody> im;
  std::string store;
  std::unique_ptr<child_process> server;
  std::map<std::string, std::unique_ptr<child_process>> nodes;
  std::unique_ptr<xn::remote> view;  // the test's own view, for polling

  // The XMPP account of an endpoint name, and a file holding its password.
  static std::string account(const std::string& endpoint) { return xgate::channel::xmpp_localpart(endpoint); }
  fs::path password_file(const std::string& endpoint) {
    fs::path p = dir / (account(endpoint) + ".password");
    if (!fs::exists(p)) xgate::testing::write_secret_file(p, password_of(account(endpoint)) + "\n");
    return p;
  }
  std::string url(const std::string& endpoint, const std::string& buddies) {
    return im->url(account(endpoint)) + "&buddies=" + buddies;
  }

  void SetUp() override {
    fs::remove_all(dir);
    fs::create_directories(dir);
    im = std::make_unique<prosody>(dir / "prosody");  // throws (a failure, not a skip) without Prosody
    for (const char* e : {"node/a", "node/b", "alice/cli-1", "alice/cli-t"}) im->add_user(account(e), password_of(account(e)));
    im->start();
    for (const char* who : {"node", "alice"}) {
      int st = 0;
      std::string token = xgate::process::run_capture({XGATED_PATH, "adduser", who, "--data", (dir / "data").string()}, &st);
      ASSERT_EQ(st, 0);
      xgate::testing::write_secret_file(dir / (std::string(who) + ".token"), token);
    }
    server = std::make_unique<child_process>(
        std::vector<std::string>{XGATED_PATH, "--data", (dir / "data").string(), "--listen", "127.0.0.1:0"}, dir / "xgated.log");
    store = server->wait_line("store: ", 10s).value_or("");
    ASSERT_FALSE(store.empty()) << read_file(dir / "xgated.log");
    start_node("a", "node/b");
    start_node("b", "node/a");
    for (auto& [name, n] : nodes) ASSERT_TRUE(n->wait_line("ready", 30s)) << read_file(dir / ("node-" + name + ".log"));
    ::setenv("XGATE_AS", "alice", 1);  // hub and secret: per call, cli()
    view = std::make_unique<xn::remote>(xn::remote_options{.hub = url("alice/cli-t", "node/a,node/b"),
                                                           .secret_file = password_file("alice/cli-t").string(),
                                                           .as = "alice"});
    EXPECT_EQ(view->endpoint_name(), "alice/cli-t");
    for (const char* n : {"a", "b"}) ASSERT_TRUE(view->wait_online(n, 20s)) << n;
  }

  void TearDown() override {
    view.reset();
    // SIGTERM: each node suspends its jobs and exits 0 (a sanitizer report would make it 1).
    for (auto& [name, n] : nodes) n->signal(SIGTERM);
    for (auto& [name, n] : nodes) EXPECT_EQ(n->wait(60s), 0) << "node " << name << ":\n" << read_file(dir / ("node-" + name + ".log"));
    nodes.clear();
    if (server) {
      server->signal(SIGTERM);
      EXPECT_EQ(server->wait(30s), 0) << read_file(dir / "xgated.log");
      server.reset();
    }
    im.reset();
    if (!HasFailure()) fs::remove_all(dir);
    else std::cerr << "logs kept in " << dir << "\n";
  }

  void start_node(const std::string& name, const std::string& buddies) {
    const std::string endpoint = "node/" + name;
    std::vector<std::string> argv{MIGRATE_PATH, "node", "--name", name, "--hub", url(endpoint, buddies), "--secret-file",
                                  password_file(endpoint).string(), "--store-token-file", (dir / "node.token").string(),
                                  "--store", store, "--checkpoint-ms", "100"};
    nodes[name] = std::make_unique<child_process>(argv, dir / ("node-" + name + ".log"));
  }

  // Runs `migrate ARGS...` (the real CLI) to its end, as the account alice\2fcli-1: every
  // call a new process under the same endpoint name alice/cli-1 (the nodes follow its new
  // streams, migrate/src/wire.hpp).
  cli_result cli(std::vector<std::string> args) {
    static int n = 0;
    args.insert(args.begin(), {MIGRATE_PATH});
    args.insert(args.end(), {"--hub", url("alice/cli-1", "node/a,node/b"), "--secret-file", password_file("alice/cli-1").string()});
    fs::path err = dir / ("cli-" + std::to_string(++n) + ".err");
    return run_to_end(args, err);
  }

  template <class Pred>
  xn::protocol::job_info wait_for(const std::string& id, Pred pred, std::chrono::milliseconds timeout = 60s) {
    return wait_for_status(*view, id, pred, timeout, 50ms);
  }
};

TEST_F(MigrateXmpp, WordCountMovedFromAToBThroughProsodyGivesTheUnmovedResult) {
  const std::size_t words = static_cast<std::size_t>(200000 * scale());
  auto counts = make_text(dir / "in.txt", words);
  const std::size_t every = std::max<std::size_t>(1, words / 10);

  cli_result nodes_list = cli({"nodes"});
  EXPECT_CLI(nodes_list, 0);
  EXPECT_NE(nodes_list.out.find("a  jobs running"), std::string::npos) << nodes_list.out;
  EXPECT_NE(nodes_list.out.find("b  jobs running"), std::string::npos) << nodes_list.out;

  cli_result run = cli({"run", "word-count", "--on", "a", "--arg", "input=" + (dir / "in.txt").string(), "--arg",
                        "output=" + (dir / "out.txt").string(), "--arg", "every=" + std::to_string(every), "--arg",
                        "throttle_ms=300"});  // ~3 s: room to move it mid-run
  EXPECT_CLI(run, 0);
  const std::string id = last_word(run.out);
  ASSERT_TRUE(id.starts_with("j-")) << run.out;
  auto j = wait_for(id, [](const auto& j) { return j.progress > 0; });
  ASSERT_EQ(j.state, xm::job_state::running);
  ASSERT_EQ(j.node, "a");

  cli_result move = cli({"move", id, "--to", "b"});
  EXPECT_CLI(move, 0);
  EXPECT_NE(move.out.find("from a to b"), std::string::npos) << move.out;
  EXPECT_NE(move.out.find("downtime"), std::string::npos) << move.out;

  cli_result watch = cli({"watch", id, "--interval", "0.1"});
  EXPECT_CLI(watch, 0);
  EXPECT_NE(watch.out.find(id + ": 100% done on b"), std::string::npos) << watch.out;

  cli_result result = cli({"result", id});
  EXPECT_CLI(result, 0);
  auto got = xgate::from_xml<std::map<std::string, std::uint64_t>>(result.out, {.principal = "alice"});
  EXPECT_EQ(got, counts);
  EXPECT_EQ(read_file(dir / "out.txt"), xgate::examples::word_count_text(counts));

  cli_result log = cli({"log", id});
  EXPECT_CLI(log, 0);
  for (const char* what : {"submitted", "moved", "resumed", "done"})
    EXPECT_NE(log.out.find(what), std::string::npos) << what << " in\n" << log.out;
}

// The adaptations' refusals: a node on an xmpp:// hub without a store token; a client whose
// account's principal is not --as.
TEST_F(MigrateXmpp, ANodeWithoutAStoreTokenAndAClientOfAnotherPrincipalAreUsageErrors) {
  child_process n({MIGRATE_PATH, "node", "--name", "c", "--hub", url("node/c", ""), "--secret-file",
                   password_file("node/c").string(), "--store", store},
                  dir / "node-c.log");
  EXPECT_EQ(n.wait(30s), 1) << read_file(dir / "node-c.log");
  EXPECT_NE(read_file(dir / "node-c.log").find("--store-token-file"), std::string::npos) << read_file(dir / "node-c.log");

  cli_result ps = cli({"ps", "--as", "mallory"});
  EXPECT_CLI(ps, 1);
  EXPECT_NE(ps.err.find("not --as \"mallory\""), std::string::npos) << ps.err;
}

}  // namespace
