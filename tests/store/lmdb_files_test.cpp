// The LMDB engine's files: private modes, stores others may write refused, a full disk
// reported as such.
#include <gtest/gtest.h>

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <xgate/store/store.hpp>

#include "store_engines.hpp"

namespace xs = xgate::store;
namespace fs = std::filesystem;
using xs::testing::catch_store_error;
using xs::testing::StoreTest;

namespace {

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

}  // namespace

TEST_F(StoreTest, TheStoreIsCreatedReadableByItsOwnerOnly) {
  { xs::store s(dir); }
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_EQ(mode_of(dir / "data.mdb"), 0600u);
  EXPECT_EQ(mode_of(dir / "lock.mdb"), 0600u);
}

TEST_F(StoreTest, AStoreOthersMayWriteIsRefusedNamingThePathAndMode) {
  { xs::store s(dir); }
  fs::permissions(dir, fs::perms::group_write | fs::perms::others_write, fs::perm_options::add);
  xs::store_error e = catch_store_error([&] { xs::store s(dir); });
  EXPECT_EQ(e.reason(), xs::store_errc::insecure_permissions) << e.what();
  EXPECT_EQ(std::string(e.what()), "store: open \"" + dir.string() + "\": " + dir.string() +
                                       " has mode 0722: users other than its owner may write it (chmod go-w " +
                                       dir.string() + ")");
  fs::permissions(dir, fs::perms::group_write | fs::perms::others_write, fs::perm_options::remove);
  fs::permissions(dir / "data.mdb", fs::perms::group_write, fs::perm_options::add);
  e = catch_store_error([&] { xs::store s(dir); });
  EXPECT_EQ(e.reason(), xs::store_errc::insecure_permissions) << e.what();
  EXPECT_NE(std::string(e.what()).find((dir / "data.mdb").string() + " has mode 0620"), std::string::npos) << e.what();
  fs::permissions(dir / "data.mdb", fs::perms::group_write, fs::perm_options::remove);
  // readable by others (as stores made before were) is not refused
  fs::permissions(dir, fs::perms::group_read | fs::perms::others_read | fs::perms::others_exec, fs::perm_options::add);
  xs::store s(dir);
  EXPECT_EQ(s.revision(), 0u);
}

// A small tmpfs holds the store (mounting needs root: skipped otherwise).
TEST_F(StoreTest, AFullDiskIsNoSpaceNotAnIoError) {
  fs::create_directories(dir);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=8m,mode=0700") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
  struct unmount {
    fs::path d;
    ~unmount() { ::umount2(d.c_str(), MNT_DETACH); }
  } guard{dir};
  xs::store s(dir / "store", {.max_document_size = 64 << 20});
  std::string big(1 << 20, 'x');
  std::optional<xs::store_error> full;
  for (int i = 0; i < 20 && !full; ++i) {
    try {
      s.write("d/" + std::to_string(i), "<d>" + big + "</d>", "alice");
    } catch (const xs::store_error& e) {
      full = e;
    }
  }
  ASSERT_TRUE(full) << "8 MB took 20 MB of documents";
  EXPECT_EQ(full->reason(), xs::store_errc::no_space) << full->what();
  EXPECT_NE(std::string(full->what()).find(": no space left on device (the file system of " + (dir / "store").string() +
                                           " is full)"),
            std::string::npos)
      << full->what();
}
