// xgate as its users take it in: `cmake --install` gives a prefix that find_package(xgate) and
// pkg-config use, and add_subdirectory builds the libraries alone. examples/consumer is the
// user's project; it is configured, built and run here with real CMake, Ninja and g++.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "files.hpp"

namespace {
namespace fs = std::filesystem;
using xgate::testing::read_file;

class Package : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("xgate-package-test-" + std::to_string(::getpid()));
  void SetUp() override {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir);
    else std::cerr << "kept " << dir << "\n";
  }
  // Runs a shell command with its output in dir/NAME.log; the log when it fails.
  ::testing::AssertionResult run(const std::string& name, const std::string& command) {
    fs::path log = dir / (name + ".log");
    int status = std::system(("(" + command + ") >" + log.string() + " 2>&1").c_str());
    if (status == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << name << ": `" << command << "` failed (" << status << "):\n" << read_file(log);
  }
  std::string output(const std::string& name) { return read_file(dir / (name + ".log")); }
  static std::string cmake() { return std::string("'") + CMAKE_PROGRAM + "'"; }
  static std::string consumer_source() { return std::string("'") + XGATE_SOURCE + "/examples/consumer'"; }
};

TEST_F(Package, AnInstalledPrefixServesFindPackagePkgConfigAndThePrograms) {
  const fs::path prefix = dir / "prefix";
  ASSERT_TRUE(run("install", cmake() + " --install '" + XGATE_BUILD + "' --prefix '" + prefix.string() + "'"));
  for (const char* file : {"include/xgate/xmlcodec.hpp", "include/xgate/version.hpp", "include/xgate/store/store.hpp",
                           "lib/libxgate_xmlcodec.a", "lib/cmake/xgate/xgateConfig.cmake",
                           "lib/cmake/xgate/xgateConfigVersion.cmake", "lib/cmake/xgate/xgateTargets.cmake",
                           "lib/pkgconfig/xgate-xmlcodec.pc", "bin/xgate", "bin/xgated", "bin/migrate"})
    EXPECT_TRUE(fs::exists(prefix / file)) << file;
  for (const char* program : {"xgate", "xgated", "migrate"}) {
    ASSERT_TRUE(run(program, "'" + (prefix / "bin" / program).string() + "' --version"));
    EXPECT_EQ(output(program), std::string(program) + " " + XGATE_VERSION + "\n");
  }

  // find_package(xgate)
  const fs::path build = dir / "consumer";
  ASSERT_TRUE(run("configure", cmake() + " -S " + consumer_source() + " -B '" + build.string() +
                                   "' -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH='" + prefix.string() + "'"));
  ASSERT_TRUE(run("build", cmake() + " --build '" + build.string() + "'"));
  ASSERT_TRUE(run("consumer", "'" + (build / "consumer").string() + "'"));
  EXPECT_EQ(output("consumer"), std::string("xgate ") + XGATE_VERSION + ": the item came back whole\n");

  // pkg-config, for the codec alone: the README's quickstart, built by hand.
  const std::string pc = "PKG_CONFIG_PATH='" + (prefix / "lib" / "pkgconfig").string() + "' pkg-config";
  ASSERT_TRUE(run("pkg-config", pc + " --modversion xgate-xmlcodec"));
  EXPECT_EQ(output("pkg-config"), std::string(XGATE_VERSION) + "\n");
  ASSERT_TRUE(run("quickstart-build", "g++ -o '" + (dir / "quickstart").string() + "' '" + XGATE_SOURCE +
                                          "/examples/quickstart/quickstart.cpp' $(" + pc + " --cflags --libs --static xgate-xmlcodec)"));
  EXPECT_TRUE(run("quickstart", "'" + (dir / "quickstart").string() + "'"));
}

TEST_F(Package, AsASubprojectOnlyTheLibrariesItNeedsAreBuilt) {
  const fs::path build = dir / "consumer";
  ASSERT_TRUE(run("configure", cmake() + " -S " + consumer_source() + " -B '" + build.string() +
                                   "' -G Ninja -DCMAKE_BUILD_TYPE=Debug -DXGATE_SOURCE_DIR='" + XGATE_SOURCE + "'"));
  // Not the top-level project: no tests, programs or benchmarks configured.
  EXPECT_FALSE(fs::exists(build / "xgate" / "tests"));
  EXPECT_FALSE(fs::exists(build / "xgate" / "apps"));
  EXPECT_FALSE(fs::exists(build / "xgate" / "bench"));
  ASSERT_TRUE(run("build", cmake() + " --build '" + build.string() + "' -j 2"));
  ASSERT_TRUE(run("consumer", "'" + (build / "consumer").string() + "'"));
  EXPECT_EQ(output("consumer"), std::string("xgate ") + XGATE_VERSION + ": the item came back whole\n");
  EXPECT_FALSE(fs::exists(build / "xgate" / "channel" / "CMakeFiles" / "xgate_channel.dir" / "src" / "hub.cpp.o"))
      << "a library the consumer does not link was built";
}

}  // namespace
