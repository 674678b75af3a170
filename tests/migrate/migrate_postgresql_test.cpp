// xgated on PostgreSQL as processes: the demo's job moved A→B→A through a store in a real
// cluster, and two xgated on one database serving one store and one hub (stateless
// replicas): what one writes the other reads and watches, also after the first is
// SIGKILLed; endpoints at different replicas exchange messages exactly once in order, and
// those of a SIGKILLed replica go on at the other; a job moves between nodes connected to
// different replicas.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <xgate/channel.hpp>
#include <xgate/client/http_session.hpp>
#include <xgate/examples/jobs.hpp>
#include <xgate/nodes/remote.hpp>
#include <xgate/store/error.hpp>
#include <xgate/xmlcodec.hpp>

#include "cli_harness.hpp"
#include "files.hpp"
#include "postgresql.hpp"
#include "store_engines.hpp"
#include "test_dir.hpp"

namespace {

using namespace std::chrono_literals;
using xgate::migrate_cli::testing::child_process;
using xgate::migrate_cli::testing::run_to_end;
using xgate::testing::postgresql_cluster;

class MigratePostgresql : public ::testing::Test {
 protected:
  std::filesystem::path dir = xgate::store::testing::fresh_dir();
  postgresql_cluster& cluster = postgresql_cluster::shared();
  std::string db = xgate::store::testing::postgresql_database_of(dir);
  std::string uri = cluster.uri(db);
  MigratePostgresql() {
    std::filesystem::create_directories(dir);
    cluster.create_database(db);
  }
  ~MigratePostgresql() override {
    cluster.drop_database(db);
    std::filesystem::remove_all(dir);
  }

  // An xgated on the database: its store URL once it serves (and with a hub, its URL in *hub).
  std::string start_xgated(std::optional<child_process>& p, const std::string& name, std::string* hub = nullptr) {
    std::vector<std::string> argv{XGATED_PATH, "--data", uri, "--listen", "127.0.0.1:0"};
    if (hub) argv.insert(argv.end(), {"--hub", "127.0.0.1:0"});
    p.emplace(argv, dir / (name + ".log"));
    auto line = p->wait_line("store: ", 30s);
    if (hub) *hub = p->wait_line("hub: ", 30s).value_or("");
    if (!line || (hub && hub->empty()))
      ADD_FAILURE() << name << " did not start: " << xgate::testing::read_file(dir / (name + ".log"));
    return line ? *line : std::string();  // what follows "store: "
  }
  std::string adduser(const std::string& who) {
    auto r = run_to_end({XGATED_PATH, "adduser", who, "--data", uri}, dir / ("adduser-" + who + ".err"));
    EXPECT_EQ(r.code, 0) << r.err;
    return xgate::migrate_cli::testing::last_word(r.out);
  }
};

// Messages as a user's program sends them: collected in arrival order.
struct received {
  std::mutex m;
  std::vector<std::string> bodies;
  std::size_t size() {
    std::lock_guard lock(m);
    return bodies.size();
  }
};

xgate::channel::endpoint_options endpoint_for(const std::string& name, const std::string& token, const std::string& hubs,
                                              received& r) {
  xgate::channel::endpoint_options o;
  o.hub = hubs;
  o.name = name;
  o.secret = token;
  o.reconnect_min = 10ms;
  o.reconnect_max = 200ms;
  o.heartbeat = 500ms;
  o.dead_after = 3000ms;
  o.send_timeout = 60000ms;
  o.on_message = [&r](xgate::channel::envelope e) {
    std::lock_guard lock(r.m);
    r.bodies.push_back(std::move(e.body));
  };
  return o;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  for (auto until = std::chrono::steady_clock::now() + timeout; !pred(); std::this_thread::sleep_for(5ms))
    if (std::chrono::steady_clock::now() > until) return false;
  return true;
}

TEST_F(MigratePostgresql, TheDemosJobMovesThroughAStoreInPostgresql) {
  auto r = run_to_end({MIGRATE_PATH, "demo", "--megabytes", "30", "--data", uri}, dir / "demo.err");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(", on postgresql://xgate@127.0.0.1:" + std::to_string(cluster.port()) + "/" + db + "\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  check       result equals an uninterrupted count; output file equal"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("migrate demo: ok"), std::string::npos) << r.out;
  // The job's records are in the database.
  EXPECT_NE(cluster.value("SELECT count(*) FROM xgate_documents", db), "0");
}

TEST_F(MigratePostgresql, TwoXgatedOnOneDatabaseServeOneStore) {
  auto adduser = run_to_end({XGATED_PATH, "adduser", "alice", "--data", uri}, dir / "adduser.err");
  ASSERT_EQ(adduser.code, 0) << adduser.err;
  std::string token = xgate::migrate_cli::testing::last_word(adduser.out);
  std::optional<child_process> one, two;
  std::string url1 = start_xgated(one, "one"), url2 = start_xgated(two, "two");
  ASSERT_FALSE(url1.empty() || url2.empty());
  auto s1 = xgate::client::http_session(url1, token), s2 = xgate::client::http_session(url2, token);
  auto both = xgate::client::http_session(url1 + "," + url2, token);  // the first while it answers

  auto w = s1->write("jobs/1", "<job>1</job>");
  EXPECT_EQ(both->read("jobs/1").xml, "<job>1</job>");
  EXPECT_EQ(s2->read("jobs/1").xml, "<job>1</job>");
  EXPECT_EQ(s2->info("jobs/1").revision, w.revision);
  // A watch through two wakes for a write through one (NOTIFY between the processes).
  std::thread writer([&] {
    std::this_thread::sleep_for(200ms);
    s1->write("jobs/2", "<job>2</job>");
  });
  auto seen = s2->watch("jobs/", w.revision, 20s);
  writer.join();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].name, "jobs/2");

  // One dies without a word; the other has every acknowledged write and goes on.
  one->signal(SIGKILL);
  (void)one->wait(10s);
  EXPECT_EQ(s2->list("jobs/").size(), 2u);
  auto w3 = s2->write("jobs/3", "<job>3</job>", {.expected_revision = 0});
  EXPECT_EQ(w3.revision, seen[0].revision + 1);
  auto lost = xgate::store::testing::catch_store_error([&] { s2->write("jobs/3", "<job>x</job>", {.expected_revision = 0}); });
  EXPECT_EQ(lost.code(), xgate::store::store_errc::conflict);
  // A session given both goes on at the second.
  EXPECT_EQ(both->list("jobs/").size(), 3u);
  EXPECT_EQ(both->write("jobs/4", "<job>4</job>", {.expected_revision = 0}).revision, w3.revision + 1);
  EXPECT_EQ(both->address(), url2);
  two->stop();
}

TEST_F(MigratePostgresql, EndpointsAtTwoXgatedExchangeMessagesOnceInOrderAndSurviveASigkilledOne) {
  std::string alice = adduser("alice"), bob = adduser("bob");
  std::optional<child_process> one, two;
  std::string hub1, hub2;
  ASSERT_FALSE(start_xgated(one, "one", &hub1).empty() || start_xgated(two, "two", &hub2).empty());
  received got_a, got_b;
  // Each at its own replica first, the other one next.
  xgate::channel::endpoint a(endpoint_for("alice", alice, hub1 + "," + hub2, got_a));
  xgate::channel::endpoint b(endpoint_for("bob", bob, hub2 + "," + hub1, got_b));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(20s)) << a.last_error();
  ASSERT_TRUE(b.wait_connected(20s)) << b.last_error();
  EXPECT_TRUE(eventually([&] { return a.online() == std::vector<std::string>{"alice", "bob"}; }, 10s))
      << "bob's presence at the other replica";

  const std::size_t n = 5000;
  std::atomic<bool> killed{false};
  std::thread killer([&] {
    eventually([&] { return got_a.size() >= n / 3 || got_b.size() >= n / 3; }, 120s);
    one->signal(SIGKILL);  // alice's replica dies mid-traffic, without a word
    killed = true;
  });
  std::thread ta([&] {
    for (std::size_t i = 0; i < n; ++i) a.send("bob", "test", "<m>" + std::to_string(i) + "</m>");
  });
  for (std::size_t i = 0; i < n; ++i) b.send("alice", "test", "<m>" + std::to_string(i) + "</m>");
  ta.join();
  killer.join();
  EXPECT_TRUE(killed);
  EXPECT_TRUE(eventually([&] { return got_a.size() >= n && got_b.size() >= n; }, 120s))
      << "alice got " << got_a.size() << ", bob " << got_b.size();
  std::this_thread::sleep_for(500ms);  // late duplicates would show up now
  for (auto* r : {&got_a, &got_b}) {
    std::lock_guard lock(r->m);
    EXPECT_EQ(r->bodies.size(), n);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < r->bodies.size() && bad < 5; ++i)
      if (r->bodies[i] != "<m>" + std::to_string(i) + "</m>") {
        ADD_FAILURE() << (r == &got_a ? "alice" : "bob") << ": message " << i << " was " << r->bodies[i];
        ++bad;
      }
  }
  EXPECT_GE(a.reconnects(), 1u) << "alice moved to the second replica";
  a.stop();
  b.stop();
  (void)one->wait(10s);
  two->stop();
}

TEST_F(MigratePostgresql, AJobMovesBetweenNodesAtDifferentXgatedReplicas) {
  std::string node = adduser("node"), alice = adduser("alice");
  xgate::testing::write_secret_file(dir / "node.secret", node);
  xgate::testing::write_secret_file(dir / "alice.secret", alice);
  std::optional<child_process> one, two;
  std::string hub1, hub2;
  std::string store1 = start_xgated(one, "one", &hub1), store2 = start_xgated(two, "two", &hub2);
  ASSERT_FALSE(store1.empty() || store2.empty());
  // A at the first replica (its store and hub), B at the second.
  std::optional<child_process> a, b;
  a.emplace(std::vector<std::string>{MIGRATE_PATH, "node", "--name", "A", "--hub", hub1 + "," + hub2, "--secret-file",
                                     (dir / "node.secret").string(), "--store", store1, "--checkpoint-ms", "100"},
            dir / "node-A.log");
  b.emplace(std::vector<std::string>{MIGRATE_PATH, "node", "--name", "B", "--hub", hub2 + "," + hub1, "--secret-file",
                                     (dir / "node.secret").string(), "--store", store2, "--checkpoint-ms", "100"},
            dir / "node-B.log");
  ASSERT_TRUE(a->wait_line("ready", 30s)) << xgate::testing::read_file(dir / "node-A.log");
  ASSERT_TRUE(b->wait_line("ready", 30s)) << xgate::testing::read_file(dir / "node-B.log");
  xgate::nodes::remote client(
      xgate::nodes::remote_options{.hub = hub1 + "," + hub2, .secret_file = (dir / "alice.secret").string(), .as = "alice"});
  ASSERT_TRUE(client.wait_online("A", 20s));
  ASSERT_TRUE(client.wait_online("B", 20s));

  const std::size_t words = static_cast<std::size_t>(200000 * xgate::migrate_cli::testing::scale());
  auto counts = xgate::migrate_cli::testing::make_text(dir / "in.txt", words);
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), MIGRATE_PATH);
    args.insert(args.end(), {"--hub", hub2 + "," + hub1, "--secret-file", (dir / "alice.secret").string(), "--as", "alice"});
    static int k = 0;
    return run_to_end(args, dir / ("cli-" + std::to_string(++k) + ".err"));
  };
  auto run = cli({"run", "word-count", "--on", "A", "--arg", "input=" + (dir / "in.txt").string(), "--arg",
                  "output=" + (dir / "out.txt").string(), "--arg", "every=" + std::to_string(words / 20), "--arg",
                  "throttle_ms=250"});  // ~5 s: room for two moves on a loaded machine
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  const std::string id = xgate::migrate_cli::testing::last_word(run.out);
  auto running = [](const auto& j) { return j.progress > 0; };
  (void)xgate::migrate_cli::testing::wait_for_status(client, id, running, 60s, 20ms);
  auto there = cli({"move", id, "--to", "B"});
  EXPECT_EQ(there.code, 0) << there.out << there.err;
  EXPECT_NE(there.out.find("from A to B"), std::string::npos) << there.out;
  auto back = cli({"move", id, "--to", "A"});
  EXPECT_EQ(back.code, 0) << back.out << back.err;
  EXPECT_NE(back.out.find("from B to A"), std::string::npos) << back.out;
  auto done = xgate::migrate_cli::testing::wait_for_status(
      client, id, [](const auto& j) { return j.state == xgate::migrate::job_state::done; }, 120s, 50ms);
  EXPECT_EQ(done.node, "A");
  auto result = cli({"result", id});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ((xgate::from_xml<std::map<std::string, std::uint64_t>>(result.out, {.principal = "alice"})), counts);
  EXPECT_EQ(xgate::testing::read_file(dir / "out.txt"), xgate::examples::word_count_text(counts));
  a->signal(SIGTERM);
  b->signal(SIGTERM);
  EXPECT_EQ(a->wait(60s), 0) << xgate::testing::read_file(dir / "node-A.log");
  EXPECT_EQ(b->wait(60s), 0) << xgate::testing::read_file(dir / "node-B.log");
  one->stop();
  two->stop();
}

TEST_F(MigratePostgresql, StoreCopyMovesADirectoryIntoTheDatabase) {
  std::ofstream(dir / "d.xml") << "<d>1</d>";
  auto put = run_to_end(
      {XGATE_CLI_PATH, "store", "put", "d/1", (dir / "d.xml").string(), "--data", (dir / "lmdb").string(), "--as", "alice"},
      dir / "put.err");
  ASSERT_EQ(put.code, 0) << put.err;
  const std::string shown = "postgresql://xgate@127.0.0.1:" + std::to_string(cluster.port()) + "/" + db;
  auto copy = run_to_end({XGATE_CLI_PATH, "store", "copy", "--from", (dir / "lmdb").string(), "--to", uri}, dir / "copy.err");
  EXPECT_EQ(copy.code, 0) << copy.err;
  EXPECT_EQ(copy.out, "copied 1 documents, 0 credentials and 1 changes (revision 1) from " + (dir / "lmdb").string() +
                          " to " + shown + "\n");
  auto get = run_to_end({XGATE_CLI_PATH, "store", "get", "d/1", "--data", uri, "--as", "alice"}, dir / "get.err");
  EXPECT_EQ(get.code, 0) << get.err;
  EXPECT_EQ(get.out, "<d>1</d>");
  // Again into the same database: refused, exit 6 (conflict).
  auto again = run_to_end({XGATE_CLI_PATH, "store", "copy", "--from", (dir / "lmdb").string(), "--to", uri}, dir / "again.err");
  EXPECT_EQ(again.code, 6);
  EXPECT_EQ(again.err, "error: store: copy: the destination is not a new store (its revision is 1)\n");
  auto missing = run_to_end({XGATE_CLI_PATH, "store", "copy", "--from", (dir / "nothing").string(), "--to", uri}, dir / "missing.err");
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.err, "error: --from: no store directory \"" + (dir / "nothing").string() + "\"\n");
}

}  // namespace
