// xgated on PostgreSQL as processes: the demo's job moved A→B→A through a store in a real
// cluster, and two xgated on one database serving one store (stateless store replicas):
// what one writes the other reads and watches, also after the first is SIGKILLed.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include <xgate/client/http_session.hpp>
#include <xgate/store/error.hpp>

#include "cli_harness.hpp"
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

  // An xgated on the database: its store URL once it serves.
  std::string start_xgated(std::optional<child_process>& p, const std::string& name) {
    p.emplace(std::vector<std::string>{XGATED_PATH, "--data", uri, "--listen", "127.0.0.1:0"}, dir / (name + ".log"));
    auto line = p->wait_line("store: ", 30s);
    if (!line) ADD_FAILURE() << name << " did not start: " << xgate::testing::read_file(dir / (name + ".log"));
    return line ? *line : std::string();  // what follows "store: "
  }
};

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

  auto w = s1->write("jobs/1", "<job>1</job>");
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
