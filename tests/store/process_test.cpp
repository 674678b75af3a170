// Several processes on one store: stale reader slots of a killed reader, and a map grown
// by another process.
#include <gtest/gtest.h>
#include <lmdb.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xgate/store/store.hpp>

#include "store_engines.hpp"

namespace xs = xgate::store;
using xs::testing::lmdb_of;
using xs::testing::StoreTest;

namespace {

// Forks a process that holds a read transaction (a reader slot) and kills it.
void leave_a_stale_reader(const std::filesystem::path& dir) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    MDB_env* env = nullptr;
    MDB_txn* txn = nullptr;
    if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 8) || mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0664) ||
        mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn))
      ::_exit(1);
    char ready = 1;
    if (::write(fds[1], &ready, 1) != 1) ::_exit(2);
    for (;;) ::pause();
  }
  ::close(fds[1]);
  char ready = 0;
  ASSERT_EQ(::read(fds[0], &ready, 1), 1) << "the reader did not start";
  ::close(fds[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
}

}  // namespace

// LMDB resets the reader table when the first process opens the environment, so stale
// slots matter only while some process keeps it open: this test's process does.
TEST_F(StoreTest, ClearsReaderSlotsOfAKilledProcess) {
  xs::store s(dir);
  EXPECT_EQ(lmdb_of(s).stale_readers_cleared_at_open(), 0);
  leave_a_stale_reader(dir);
  EXPECT_EQ(lmdb_of(s).clear_stale_readers(), 1);
  EXPECT_EQ(lmdb_of(s).clear_stale_readers(), 0);

  leave_a_stale_reader(dir);
  pid_t opener = ::fork();  // a second process opening the store clears it at open
  ASSERT_GE(opener, 0);
  if (opener == 0) {
    try {
      xs::store other(dir);
      ::_exit(lmdb_of(other).stale_readers_cleared_at_open() == 1 ? 0 : 3);
    } catch (...) {
      ::_exit(1);
    }
  }
  int status = 0;
  ::waitpid(opener, &status, 0);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(StoreTest, AdoptsAMapGrownByAnotherProcess) {
  xs::store s(std::make_unique<xs::lmdb_engine>(dir, xs::lmdb_options{.initial_map_size = 256 * 1024}));
  s.write("mine", "<m/>", "alice");
  std::size_t before = lmdb_of(s).map_size();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      // Not the parent's store object: LMDB environments must not cross fork().
      xs::store other(std::make_unique<xs::lmdb_engine>(dir, xs::lmdb_options{.initial_map_size = 256 * 1024}));
      for (int i = 0; i < 100; ++i) other.write("big/" + std::to_string(i), "<b>" + std::string(16384, 'b') + "</b>", "alice");
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(s.read("big/99", "alice").xml, "<b>" + std::string(16384, 'b') + "</b>");
  EXPECT_NO_THROW(s.write("mine", "<m>after</m>", "alice"));
  EXPECT_GT(lmdb_of(s).map_size(), before);
  EXPECT_EQ(s.list("big", "alice").size(), 100u);
}
