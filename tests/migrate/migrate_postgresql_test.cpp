// xgated on PostgreSQL as processes: the demo's job moved A→B→A through a store in a real
// cluster, and two xgated on one database serving one store and one hub (stateless
// replicas): what one writes the other reads and watches, also after the first is
// SIGKILLed; endpoints at different replicas exchange messages exactly once in order, and
// those of a SIGKILLed replica go on at the other; a job moves between nodes connected to
// different replicas; and a primary with a synchronous standby SIGKILLed under load and the
// standby promoted, with nothing acknowledged lost.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <iostream>
#include <sstream>
#include <chrono>
#include <map>
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

// The sanitizer tree runs these processes several times slower: fewer messages and megabytes
// there, the full counts in the Release tree (what is tested is the same).
#ifdef XGATE_SANITIZED
constexpr std::size_t shrink = 4;
#else
constexpr std::size_t shrink = 1;
#endif
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

// `migrate ARGS... --hub HUB` as alice (DIR/alice.secret), run to its end.
xgate::migrate_cli::testing::cli_result migrate_as_alice(const std::filesystem::path& dir, const std::string& hub,
                                                         std::vector<std::string> args) {
  args.insert(args.begin(), MIGRATE_PATH);
  args.insert(args.end(), {"--hub", hub, "--secret-file", (dir / "alice.secret").string(), "--as", "alice"});
  static int k = 0;
  return run_to_end(args, dir / ("cli-" + std::to_string(++k) + ".err"));
}

// `migrate node --name NAME` on hub and store with DIR/node.secret; true once it is ready.
bool start_node(std::optional<child_process>& p, const std::filesystem::path& dir, const std::string& name,
                const std::string& hub, const std::string& store) {
  p.emplace(std::vector<std::string>{MIGRATE_PATH, "node", "--name", name, "--hub", hub, "--secret-file",
                                     (dir / "node.secret").string(), "--store", store, "--checkpoint-ms", "100"},
            dir / ("node-" + name + ".log"));
  bool ready = p->wait_line("ready", 30s).has_value();
  if (!ready) ADD_FAILURE() << "node " << name << ": " << xgate::testing::read_file(dir / ("node-" + name + ".log"));
  return ready;
}

// Waits until job is done, checks it ended on node with the uninterrupted word count (its
// result and DIR/out.txt).
template <class Cli>
void expect_counted(xgate::nodes::remote& client, Cli& cli, const std::string& job,
                                                const std::string& node, const std::filesystem::path& dir,
                                                const std::map<std::string, std::uint64_t>& counts) {
  auto done = xgate::migrate_cli::testing::wait_for_status(
      client, job, [](const auto& j) { return j.state == xgate::migrate::job_state::done; }, 120s, 50ms);
  EXPECT_EQ(done.node, node);
  auto result = cli({"result", job});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ((xgate::from_xml<std::map<std::string, std::uint64_t>>(result.out, {.principal = "alice"})), counts);
  EXPECT_EQ(xgate::testing::read_file(dir / "out.txt"), xgate::examples::word_count_text(counts));
}

TEST_F(MigratePostgresql, TheDemosJobMovesThroughAStoreInPostgresql) {
  auto r = run_to_end({MIGRATE_PATH, "demo", "--megabytes", std::to_string(32 / shrink), "--data", uri}, dir / "demo.err");
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

  const std::size_t n = 5000 / shrink;
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
  ASSERT_TRUE(start_node(a, dir, "A", hub1 + "," + hub2, store1));
  ASSERT_TRUE(start_node(b, dir, "B", hub2 + "," + hub1, store2));
  xgate::nodes::remote client(
      xgate::nodes::remote_options{.hub = hub1 + "," + hub2, .secret_file = (dir / "alice.secret").string(), .as = "alice"});
  ASSERT_TRUE(client.wait_online("A", 20s));
  ASSERT_TRUE(client.wait_online("B", 20s));

  const std::size_t words = static_cast<std::size_t>(200000 * xgate::migrate_cli::testing::scale());
  auto counts = xgate::migrate_cli::testing::make_text(dir / "in.txt", words);
  auto cli = [&](std::vector<std::string> args) { return migrate_as_alice(dir, hub2 + "," + hub1, std::move(args)); };
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
  expect_counted(client, cli, id, "A", dir, counts);
  a->signal(SIGTERM);
  b->signal(SIGTERM);
  EXPECT_EQ(a->wait(60s), 0) << xgate::testing::read_file(dir / "node-A.log");
  EXPECT_EQ(b->wait(60s), 0) << xgate::testing::read_file(dir / "node-B.log");
  one->stop();
  two->stop();
}

// ---- failover: a primary with a synchronous standby dies under load ---------------------------
// Writers and two endpoints work through one xgated on a multi-host URI; the primary is
// SIGKILLed mid-traffic and the standby promoted. Every write the store acknowledged is on the
// new primary (synchronous_commit: nothing is acknowledged before the standby has it); a write
// whose answer was lost is retried with compare-and-set, so none is applied twice; every
// message arrives once, in order.
TEST(PostgresqlFailover, AcknowledgedWritesAndMessagesSurviveThePrimarysDeathAndPromotion) {
  std::filesystem::path dir = xgate::store::testing::fresh_dir();
  std::filesystem::create_directories(dir);
  postgresql_cluster primary;
  primary.create_database("xgate");
  postgresql_cluster standby = primary.standby("standby1");
  primary.sql("ALTER SYSTEM SET synchronous_standby_names = 'standby1'");
  primary.sql("SELECT pg_reload_conf()");
  ASSERT_TRUE(eventually(
      [&] { return primary.value("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'") == "sync"; },
      30s));
  const std::string uri = "postgresql://xgate@127.0.0.1:" + std::to_string(primary.port()) + ",127.0.0.1:" +
                          std::to_string(standby.port()) + "/xgate?target_session_attrs=read-write&gssencmode=disable&connect_timeout=5";
  auto adduser = [&](const std::string& who) {
    auto r = run_to_end({XGATED_PATH, "adduser", who, "--data", uri}, dir / ("adduser-" + who + ".err"));
    EXPECT_EQ(r.code, 0) << r.err;
    return xgate::migrate_cli::testing::last_word(r.out);
  };
  std::string alice = adduser("alice"), bob = adduser("bob"), node = adduser("node");
  xgate::testing::write_secret_file(dir / "node.secret", node);
  xgate::testing::write_secret_file(dir / "alice.secret", alice);
  child_process server({XGATED_PATH, "--data", uri, "--listen", "127.0.0.1:0", "--hub", "127.0.0.1:0"}, dir / "xgated.log");
  const std::string store = server.wait_line("store: ", 30s).value_or(""), hub = server.wait_line("hub: ", 30s).value_or("");
  ASSERT_FALSE(store.empty() || hub.empty()) << xgate::testing::read_file(dir / "xgated.log");

  // A word count running on node A while the primary dies; moved to B after the promotion.
  std::optional<child_process> node_a, node_b;
  ASSERT_TRUE(start_node(node_a, dir, "A", hub, store));
  ASSERT_TRUE(start_node(node_b, dir, "B", hub, store));
  xgate::nodes::remote client(
      xgate::nodes::remote_options{.hub = hub, .secret_file = (dir / "alice.secret").string(), .as = "alice"});
  ASSERT_TRUE(client.wait_online("A", 20s));
  ASSERT_TRUE(client.wait_online("B", 20s));
  const std::size_t words = static_cast<std::size_t>(200000 * xgate::migrate_cli::testing::scale());
  auto counts = xgate::migrate_cli::testing::make_text(dir / "in.txt", words);
  auto cli = [&](std::vector<std::string> args) { return migrate_as_alice(dir, hub, std::move(args)); };
  auto run = cli({"run", "word-count", "--on", "A", "--arg", "input=" + (dir / "in.txt").string(), "--arg",
                  "output=" + (dir / "out.txt").string(), "--arg", "every=" + std::to_string(words / 40), "--arg",
                  "throttle_ms=100"});  // ~4 s
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  const std::string job = xgate::migrate_cli::testing::last_word(run.out);

  received got_a, got_b;
  xgate::channel::endpoint a(endpoint_for("alice", alice, hub, got_a)), b(endpoint_for("bob", bob, hub, got_b));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(20s)) << a.last_error();
  ASSERT_TRUE(b.wait_connected(20s)) << b.last_error();

  // Each writer: documents w/T/0.. created with compare-and-set; a failure worth a retry is
  // retried until the write is acknowledged, or found applied by an answer that was lost.
  const int per_writer = 150;
  std::atomic<int> acknowledged{0}, retried{0}, found_applied{0};
  std::vector<std::string> failures;
  std::mutex failures_mutex;
  auto writer = [&](int t) {
    auto s = xgate::client::http_session(store, alice);
    for (int i = 0; i < per_writer; ++i) {
      const std::string name = "w/" + std::to_string(t) + "/" + std::to_string(i), xml = "<w>" + std::to_string(i) + "</w>";
      for (auto until = std::chrono::steady_clock::now() + 90s;;) {
        try {
          s->write(name, xml, {.expected_revision = 0});
          break;
        } catch (const xgate::store::store_error& e) {
          if (e.code() == xgate::store::store_errc::conflict && s->read(name).xml == xml) {
            ++found_applied;  // the earlier attempt's answer was lost, not its write
            break;
          }
          if (!e.retryable() || std::chrono::steady_clock::now() > until) {
            std::lock_guard lock(failures_mutex);
            failures.push_back(name + ": " + e.what());
            return;
          }
        } catch (const xgate::error& e) {
          if (!e.retryable() || std::chrono::steady_clock::now() > until) {
            std::lock_guard lock(failures_mutex);
            failures.push_back(name + ": " + e.what());
            return;
          }
        }
        ++retried;
        std::this_thread::sleep_for(100ms);
      }
      ++acknowledged;
      std::this_thread::sleep_for(5ms);
    }
  };
  const std::size_t n = 1500;
  std::thread killer([&] {
    (void)eventually([&] { return acknowledged >= per_writer / 2 && got_b.size() >= n / 4; }, 120s);
    primary.kill();  // the primary crashes mid-traffic
    standby.promote();
  });

  std::thread w1(writer, 1), w2(writer, 2);
  // Paced (about 3 s each way), so that messages are in flight while the primary is away.
  auto sender = [&](xgate::channel::endpoint& from, const std::string& to) {
    for (std::size_t i = 0; i < n; ++i) {
      from.send(to, "test", "<m>" + std::to_string(i) + "</m>");
      std::this_thread::sleep_for(2ms);
    }
  };
  std::thread ta(sender, std::ref(a), "bob");
  sender(b, "alice");
  ta.join();
  w1.join();
  w2.join();
  killer.join();
  // The job ran on through the failover (its checkpoints waited or were retried); after the
  // promotion it moves to B and finishes there with the uninterrupted result.
  auto moved = cli({"move", job, "--to", "B"});
  EXPECT_EQ(moved.code, 0) << moved.out << moved.err;
  expect_counted(client, cli, job, "B", dir, counts);
  auto log = cli({"log", job});
  EXPECT_EQ(log.code, 0) << log.err;
  // No job on two nodes: A wrote only under epoch 1, B only under epoch 2, one handover.
  std::istringstream lines(log.out);
  std::size_t resumed = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" resumed ") != std::string::npos) ++resumed;
    if (line.find(" moved ") != std::string::npos) continue;  // A hands epoch 2 over
    EXPECT_TRUE(line.find("node A      epoch 1 ") != std::string::npos || line.find("node B      epoch 2 ") != std::string::npos)
        << line;
  }
  EXPECT_EQ(resumed, 1u) << log.out;
  EXPECT_TRUE(failures.empty()) << failures.front();
  EXPECT_EQ(acknowledged, 2 * per_writer);
  EXPECT_GT(retried, 0) << "the writers saw the primary go";
  // Every acknowledged write on the new primary, once.
  EXPECT_EQ(standby.value("SELECT count(*) FROM xgate_documents WHERE convert_from(name, 'UTF8') LIKE 'w/%'", "xgate"),
            std::to_string(2 * per_writer));
  auto s = xgate::client::http_session(store, alice);
  EXPECT_EQ(s->list("w/").size(), static_cast<std::size_t>(2 * per_writer));
  EXPECT_EQ(s->read("w/2/" + std::to_string(per_writer - 1)).xml, "<w>" + std::to_string(per_writer - 1) + "</w>");

  EXPECT_TRUE(eventually([&] { return got_a.size() >= n && got_b.size() >= n; }, 120s))
      << "alice got " << got_a.size() << ", bob " << got_b.size();
  std::this_thread::sleep_for(500ms);
  for (auto* r : {&got_a, &got_b}) {
    std::lock_guard lock(r->m);
    EXPECT_EQ(r->bodies.size(), n);
    for (std::size_t i = 0, bad = 0; i < r->bodies.size() && bad < 5; ++i)
      if (r->bodies[i] != "<m>" + std::to_string(i) + "</m>") {
        ADD_FAILURE() << (r == &got_a ? "alice" : "bob") << ": message " << i << " was " << r->bodies[i];
        ++bad;
      }
  }
  std::cout << "[ failover ] writes retried " << retried << " times, " << found_applied
            << " found applied after a lost answer; reconnects alice " << a.reconnects() << ", bob " << b.reconnects() << "\n";
  a.stop();
  b.stop();
  node_a->signal(SIGTERM);
  node_b->signal(SIGTERM);
  EXPECT_EQ(node_a->wait(60s), 0) << xgate::testing::read_file(dir / "node-A.log");
  EXPECT_EQ(node_b->wait(60s), 0) << xgate::testing::read_file(dir / "node-B.log");
  server.stop();
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir);
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
  EXPECT_EQ(copy.out, "copied 1 documents, 0 credentials, 0 indexes and 1 changes (revision 1) from " + (dir / "lmdb").string() +
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
