// What only the PostgreSQL engine has: an address with hosts and passwords, a schema with a
// version, connections that break, and several engines (xgated replicas) on one database.
// What the store means on it is the conformance suite's (StoreConformance…/postgresql).
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include <xgate/store/lmdb_engine.hpp>
#include <xgate/store/open.hpp>
#include <xgate/store/postgresql_engine.hpp>
#include <xgate/store/store.hpp>

#include "postgresql.hpp"
#include "store_engines.hpp"

namespace xs = xgate::store;
using xgate::testing::postgresql_cluster;
using namespace std::chrono_literals;

namespace {

class PostgresqlEngine : public ::testing::Test {
 protected:
  postgresql_cluster& cluster = postgresql_cluster::shared();
  std::string db = xs::testing::postgresql_database_of(xs::testing::fresh_dir());
  std::string port = std::to_string(cluster.port());
  PostgresqlEngine() { cluster.create_database(db); }
  ~PostgresqlEngine() override { cluster.drop_database(db); }
  xs::store open() const { return xs::store(std::make_unique<xs::postgresql_engine>(cluster.uri(db))); }
};

// What a watch on watcher after revision `after` sees when writer writes name after delay.
std::vector<xs::change> watch_a_later_write(xs::store& watcher, const std::string& prefix, std::uint64_t after,
                                            xs::store& writer, const std::string& name, std::chrono::milliseconds delay) {
  std::thread t([&] {
    std::this_thread::sleep_for(delay);
    writer.write(name, "<x/>", "alice");
  });
  std::vector<xs::change> seen = watcher.watch(prefix, after, "alice", 20s);
  t.join();
  return seen;
}

}  // namespace

TEST_F(PostgresqlEngine, TheAddressShownHasNoPasswordOrOptions) {
  // Trust authentication ignores the password: what matters is that it is never shown.
  xs::store s(std::make_unique<xs::postgresql_engine>("postgresql://xgate:hunter2@127.0.0.1:" + port + "/" + db +
                                                      "?gssencmode=disable&application_name=x"));
  EXPECT_EQ(s.address(), "postgresql://xgate@127.0.0.1:" + port + "/" + db);
  EXPECT_TRUE(xs::postgresql_engine::is_address("postgresql://h/d"));
  EXPECT_TRUE(xs::postgresql_engine::is_address("postgres://h/d"));
  EXPECT_FALSE(xs::postgresql_engine::is_address("/var/lib/xgate"));
}

TEST_F(PostgresqlEngine, SeveralHostsAreShownWithTheirPorts) {
  // The first host answers; libpq would try the second only if it did not.
  xs::store s(std::make_unique<xs::postgresql_engine>("postgresql://xgate@127.0.0.1:" + port + ",127.0.0.1:1/" + db +
                                                      "?gssencmode=disable&target_session_attrs=read-write"));
  EXPECT_EQ(s.address(), "postgresql://xgate@127.0.0.1:" + port + ",127.0.0.1:1/" + db);
  s.write("a", "<a/>", "alice");
  EXPECT_EQ(s.read("a", "alice").xml, "<a/>");
}

TEST_F(PostgresqlEngine, ASchemaNewerThanThisXgateIsRefused) {
  { xs::store s = open(); }
  cluster.sql("UPDATE xgate_schema SET version = 3", db);
  auto e = xs::testing::catch_store_error([&] { (void)open(); });
  EXPECT_EQ(e.code(), xs::store_errc::postgresql);
  EXPECT_EQ(std::string(e.what()), "store: open \"postgresql://xgate@127.0.0.1:" + port + "/" + db +
                                       "\": the database holds xgate schema version 3, newer than this xgate knows (2): "
                                       "use a newer xgate");
}

TEST_F(PostgresqlEngine, AnIndexAddedThroughOneProcessIsKeptByTheWritesOfAnother) {
  xs::store first = open(), second = open();
  first.write("o/1", "<o><c>ann</c></o>", "alice");  // first now holds the declarations: none
  second.add_index("customer", "o", "/o/c", "alice");
  first.write("o/2", "<o><c>ann</c></o>", "alice");
  EXPECT_EQ(second.query("o", "/o/c[. = 'ann']", "alice").size(), 2u);
  std::vector<std::string> names;
  first.engine().read("test", "", [&](const xs::read_transaction& t) {
    t.index_lookup("customer", "ann", "", [&](std::string&& n) {
      names.push_back(std::move(n));
      return true;
    });
  });
  EXPECT_EQ(names, (std::vector<std::string>{"o/1", "o/2"}));
  second.remove_index("customer", "alice");
  first.write("o/3", "<o><c>ann</c></o>", "alice");  // no index to keep any more
  EXPECT_EQ(first.query("o", "/o/c[. = 'ann']", "alice").size(), 3u);
}

TEST_F(PostgresqlEngine, AVersionOneSchemaIsUpgradedInPlace) {
  {
    xs::store s = open();
    s.write("o/1", "<o><c>ann</c></o>", "alice");
  }
  // Back to what version 1 held, with its documents.
  cluster.sql("DROP TABLE xgate_indexes; DROP TABLE xgate_index_entries; ALTER TABLE xgate_revision DROP COLUMN indexes; "
              "ALTER TABLE xgate_changes DROP COLUMN at; "
              "UPDATE xgate_schema SET version = 1",
              db);
  xs::store s = open();
  EXPECT_EQ(cluster.value("SELECT version FROM xgate_schema", db), "2");
  EXPECT_EQ(s.read("o/1", "alice").xml, "<o><c>ann</c></o>");
  s.add_index("customer", "o", "/o/c", "alice");
  EXPECT_EQ(s.query("o", "/o/c[. = 'ann']", "alice").size(), 1u);
}

TEST_F(PostgresqlEngine, ADatabaseNobodyListensForIsUnavailable) {
  std::string free_port = std::to_string(postgresql_cluster::free_port());
  auto e = xs::testing::catch_store_error(
      [&] { xs::postgresql_engine("postgresql://xgate@127.0.0.1:" + free_port + "/x?gssencmode=disable"); });
  EXPECT_EQ(e.code(), xs::store_errc::engine_unavailable);
  EXPECT_TRUE(e.code() == xgate::condition::unavailable);
  EXPECT_TRUE(std::string(e.what()).starts_with("store: open \"postgresql://xgate@127.0.0.1:" + free_port +
                                                "/x\": PostgreSQL: connection to server at \"127.0.0.1\", port " +
                                                free_port + " failed: Connection refused"))
      << e.what();
}

TEST_F(PostgresqlEngine, TwoEnginesOnOneDatabaseWriteInOneRevisionOrder) {
  xs::store a = open(), b = open();  // as two xgated replicas would
  constexpr int writers = 4, each = 40;
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w)
    threads.emplace_back([&, w] {
      xs::store& s = w % 2 ? a : b;
      for (int i = 0; i < each; ++i) s.write("r/" + std::to_string(w) + "/" + std::to_string(i), "<x/>", "alice");
    });
  for (auto& t : threads) t.join();
  std::vector<xs::change> log = b.changes("r", 0, "alice");
  ASSERT_EQ(log.size(), static_cast<std::size_t>(writers * each));
  std::set<std::string> names;
  for (std::size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i].revision, i + 1);  // no gap, no repeat, in order
    names.insert(log[i].name);
  }
  EXPECT_EQ(names.size(), log.size());
  EXPECT_EQ(a.revision(), b.revision());
}

TEST_F(PostgresqlEngine, AWatchOnOneEngineWakesForAWriteThroughTheOther) {
  xs::store a = open(), b = open();
  std::vector<xs::change> seen = watch_a_later_write(b, "w", 0, a, "w/x", 100ms);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].name, "w/x");
}

TEST_F(PostgresqlEngine, BrokenConnectionsAreReplacedAndWatchesStillWake) {
  xs::store a = open(), b = open();
  a.write("c/1", "<x/>", "alice");
  (void)b.read("c/1", "alice");
  // The server ends every session on the database: pooled ones and the listeners.
  cluster.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db +
              "' AND pid <> pg_backend_pid()");
  EXPECT_EQ(a.write("c/2", "<x/>", "alice").revision, 2u);
  EXPECT_EQ(b.read("c/2", "alice").xml, "<x/>");
  // The listener reconnects within about 0.5 s; the write may come before or after.
  std::vector<xs::change> seen = watch_a_later_write(b, "c", 2, a, "c/3", 300ms);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].name, "c/3");
}

// `xgate store copy`'s core: an LMDB store into a new PostgreSQL database, compared record by
// record through both engines.
TEST_F(PostgresqlEngine, CopyMovesAnLmdbStoreIntoPostgresqlWhole) {
  std::filesystem::path from_dir = xs::testing::fresh_dir();
  std::string token;
  {
    xs::store lmdb(from_dir);
    lmdb.write("a/1", "<a>1</a>", "alice");
    lmdb.write("a/2", "<a>2</a>", "alice", {.rights = xgate::rights::owned_by("alice").readers({"bob"})});
    lmdb.write("a/1", "<a>1b</a>", "alice");
    lmdb.write("leased", "<l/>", "bob", {.lease = std::chrono::hours(1)});
    lmdb.remove("a/2", "alice");
    token = lmdb.issue_credential("alice", {.scope = "a/", .label = "copy test", .methods = {"ping"}});
  }
  xs::lmdb_engine from(from_dir);
  xs::postgresql_engine to(cluster.uri(db));
  xs::copy_summary n = xs::copy_store(from, to);
  EXPECT_EQ(n.documents, 2u);
  EXPECT_EQ(n.credentials, 1u);
  EXPECT_EQ(n.changes, 5u);
  EXPECT_EQ(n.revision, 5u);

  auto everything = [](const xs::engine& e) {
    struct all {
      std::vector<xs::document> documents;
      std::vector<xs::credential_record> credentials;
      std::vector<xs::change_record> changes;
      std::uint64_t revision = 0;
    } a;
    e.read("compare", "", [&](const xs::read_transaction& t) {
      t.scan("", "", [&](xs::document_info&& d) {
        std::string bytes = t.bytes(d.name);
        a.documents.push_back({std::move(d), std::move(bytes)});
        return true;
      });
      a.credentials = t.credentials();
      t.changes_after(0, [&](xs::change_record&& c) {
        a.changes.push_back(std::move(c));
        return true;
      });
      a.revision = t.revision();
    });
    return a;
  };
  auto before = everything(from), after = everything(to);
  ASSERT_EQ(after.documents.size(), before.documents.size());
  for (std::size_t i = 0; i < before.documents.size(); ++i) {
    EXPECT_EQ(after.documents[i].info, before.documents[i].info) << before.documents[i].info.name;
    EXPECT_EQ(after.documents[i].xml, before.documents[i].xml);
  }
  EXPECT_EQ(after.credentials, before.credentials);
  EXPECT_EQ(after.changes, before.changes);
  EXPECT_EQ(after.revision, before.revision);
  // The copy is the same store: the token still logs in, the revisions go on.
  {
    xs::store copied = open();
    EXPECT_EQ(copied.authenticate(token).principal(), "alice");
    EXPECT_EQ(copied.write("a/3", "<a/>", "alice").revision, 6u);
    auto next = copied.changes("a", 5, "alice");
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0].name, "a/3");
  }

  // Into a store that is not new: refused, nothing written.
  auto e = xs::testing::catch_store_error([&] { (void)xs::copy_store(from, to); });
  EXPECT_EQ(e.code(), xs::store_errc::conflict);
  EXPECT_STREQ(e.what(), "store: copy: the destination is not a new store (its revision is 6)");
  std::filesystem::remove_all(from_dir);
}
