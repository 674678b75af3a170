// A secret file: its first line, from a file only its owner may read.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <xgate/base/secret.hpp>

namespace {

namespace fs = std::filesystem;

class SecretFile : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("xgate-secret-" + std::to_string(::getpid()));
  fs::path file = dir / "alice.secret";
  void SetUp() override { fs::create_directories(dir); }
  ~SecretFile() override { fs::remove_all(dir); }
  void write(const std::string& text, fs::perms mode) {
    fs::remove(file);
    std::ofstream(file) << text;
    fs::permissions(file, mode);
  }
};

constexpr fs::perms owner_rw = fs::perms::owner_read | fs::perms::owner_write;

TEST_F(SecretFile, GivesTheFirstLineWithoutTrailingBlanks) {
  write("xgt1_token \r\nsecond line\n", owner_rw);
  xgate::secret_read_result r = xgate::read_secret_file(file);
  EXPECT_EQ(r.problem, "");
  EXPECT_EQ(r.value, "xgt1_token");
}

TEST_F(SecretFile, RefusesAFileOthersMayReadNamingItsMode) {
  write("xgt1_token\n", owner_rw | fs::perms::group_read | fs::perms::others_read);
  xgate::secret_read_result r = xgate::read_secret_file(file);
  EXPECT_EQ(r.value, "");
  EXPECT_EQ(r.problem, "secret file \"" + file.string() + "\" may be read by others (mode 0644): chmod 600 " + file.string());
  write("xgt1_token\n", owner_rw | fs::perms::group_write);
  EXPECT_EQ(xgate::read_secret_file(file).problem,
            "secret file \"" + file.string() + "\" may be read by others (mode 0620): chmod 600 " + file.string());
}

TEST_F(SecretFile, RefusesAMissingOrEmptyFile) {
  EXPECT_EQ(xgate::read_secret_file(dir / "missing").problem,
            "secret file \"" + (dir / "missing").string() + "\" cannot be read (No such file or directory)");
  write("\nxgt1_token\n", owner_rw);
  EXPECT_EQ(xgate::read_secret_file(file).problem, "secret file \"" + file.string() + "\": the first line is empty");
}

}  // namespace
