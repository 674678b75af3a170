// xgate as its users take it in: `cmake --install` gives a prefix that find_package(xgate) and
// pkg-config use, and add_subdirectory builds the libraries alone. examples/consumer is the
// user's project; it is configured, built and run here with real CMake, Ninja and g++.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "files.hpp"
#include "ops.hpp"
#include "process.hpp"

namespace {
namespace fs = std::filesystem;
using xgate::testing::read_file;
using namespace std::chrono_literals;

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

// examples/out-of-tree: a job library and a node program of one's own, built against the
// installed prefix alone, then used as its README says: xgated, a node of its program and one
// of the installed `migrate node --jobs` loading the library, its arguments listed and
// checked, a run, a move from one to the other, the result, the side effect once.
TEST_F(Package, AJobBuiltOutsideTheTreeRunsAndMovesFromItsOwnProgramToANodeLoadingItsLibrary) {
  const fs::path prefix = dir / "prefix", build = dir / "my-jobs";
  ASSERT_TRUE(run("install", cmake() + " --install '" + XGATE_BUILD + "' --prefix '" + prefix.string() + "'"));
  ASSERT_TRUE(run("configure", cmake() + " -S '" + XGATE_SOURCE + "/examples/out-of-tree' -B '" + build.string() +
                                   "' -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH='" + prefix.string() + "'"));
  ASSERT_TRUE(run("build", cmake() + " --build '" + build.string() + "'"));
  const std::string bin = (prefix / "bin").string(), my_node = (build / "my-node").string();

  int status = 0;
  for (const char* who : {"node", "alice"}) {
    const std::string token =
        xgate::process::run_capture({bin + "/xgated", "adduser", who, "--data", (dir / "data").string()}, &status);
    ASSERT_EQ(status, 0);
    xgate::testing::write_secret_file(dir / (std::string(who) + ".secret"), token);
  }
  xgate::process::child_process server({bin + "/xgated", "--data", (dir / "data").string(), "--listen", "127.0.0.1:0", "--hub",
                                        "127.0.0.1:0"},
                                       dir / "xgated.log");
  const std::string store = server.wait_line("store: ", 20s).value_or(""), hub = server.wait_line("hub: ", 20s).value_or("");
  ASSERT_FALSE(store.empty() || hub.empty()) << read_file(dir / "xgated.log");
  const std::string migrate = bin + "/migrate", library = (build / "libmy_jobs.so").string();
  auto node = [&](const std::string& name, std::vector<std::string> program) {
    const std::vector<std::string> flags{"--name", name, "--hub", hub, "--secret-file", (dir / "node.secret").string(),
                                         "--store", store, "--checkpoint-ms", "100"};
    program.insert(program.end(), flags.begin(), flags.end());
    return std::make_unique<xgate::process::child_process>(program, dir / ("node-" + name + ".log"));
  };
  auto a = node("a", {my_node});
  auto b = node("b", {migrate, "node", "--jobs", library, "--types", "sum-squares"});
  ASSERT_TRUE(a->wait_line("ready", 30s)) << read_file(dir / "node-a.log");
  ASSERT_TRUE(b->wait_line("ready", 30s)) << read_file(dir / "node-b.log");
  EXPECT_EQ(a->wait_line("types: ", 1s).value_or(""), "sum-squares 1");
  EXPECT_EQ(b->wait_line("types: ", 1s).value_or(""), "sum-squares 1");
  EXPECT_NE(read_file(dir / "node-b.log").find("loaded job library " + library + ": sum-squares 1"), std::string::npos)
      << read_file(dir / "node-b.log");

  ::setenv("XGATE_HUB", hub.c_str(), 1);
  ::setenv("XGATE_SECRET_FILE", (dir / "alice.secret").c_str(), 1);
  ::setenv("XGATE_AS", "alice", 1);
  auto arguments = [](const std::string& indent) {
    return indent + "--arg n=UINT            default 1000000\n" + indent + "--arg sleep_every=UINT  default 0\n" + indent +
           "--arg log=STRING        default \"\"\n";
  };
  ASSERT_TRUE(run("nodes", "'" + migrate + "' nodes"));
  EXPECT_NE(output("nodes").find("b  jobs running: 0  types: sum-squares 1\n  sum-squares 1 (from " + library + ")\n" + arguments("    ")),
            std::string::npos) << output("nodes");
  ASSERT_TRUE(run("run-help", "'" + migrate + "' run sum-squares --on b --help"));
  EXPECT_NE(output("run-help").find("Arguments of sum-squares 1 (from " + library + "), as node b hosts it:\n" +
                                    arguments("  ")),
            std::string::npos) << output("run-help");
  int refused = std::system(("'" + migrate + "' run sum-squares --on b --arg n=abc >'" + (dir / "bad.out").string() + "' 2>'" +
                             (dir / "bad.err").string() + "'").c_str());
  EXPECT_EQ(WEXITSTATUS(refused), 4);
  EXPECT_EQ(read_file(dir / "bad.out"), "") << "no job id for a job never made";
  EXPECT_EQ(read_file(dir / "bad.err"),
            "error: migrate: argument n=\"abc\" of sum-squares is not an integer from 0 to 18446744073709551615\n");
  const fs::path once_log = dir / "once.log";
  ASSERT_TRUE(run("run", "'" + migrate + "' run sum-squares --on a --arg n=2000000 --arg sleep_every=1000 --arg log='" +
                             once_log.string() + "'"));
  std::string id = output("run");
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  id = id.substr(id.rfind(' ') + 1);
  ASSERT_TRUE(id.starts_with("j-")) << output("run");
  EXPECT_TRUE(run("move", "'" + migrate + "' move " + id + " --to b"));
  EXPECT_NE(output("move").find("from a to b"), std::string::npos) << output("move");
  EXPECT_TRUE(run("watch", "'" + migrate + "' watch " + id + " --interval 0.05"));
  EXPECT_NE(output("watch").find("done on b"), std::string::npos) << output("watch");
  EXPECT_TRUE(run("result", "'" + migrate + "' result " + id));
  EXPECT_NE(output("result").find(">2666664666667000000<"), std::string::npos) << output("result");
  EXPECT_EQ(read_file(once_log), "sum 2666664666667000000\n") << "the side effect ran once";
  ::unsetenv("XGATE_HUB");
  ::unsetenv("XGATE_SECRET_FILE");
  ::unsetenv("XGATE_AS");

  a->signal(SIGTERM);
  b->signal(SIGTERM);
  EXPECT_EQ(a->wait(30s), 0) << read_file(dir / "node-a.log");
  EXPECT_EQ(b->wait(30s), 0) << read_file(dir / "node-b.log");

  // The installed migrate hosts its built-in types; a node program with none refuses to start.
  ASSERT_TRUE(run("empty-build", "printf '#include <xgate/nodes/node_main.hpp>\\nint main(int c, char** v) { return "
                                 "xgate::nodes::node_main(c, v); }\\n' > '" + (dir / "empty.cpp").string() + "'"));
  const fs::path empty_project = dir / "empty-project";
  fs::create_directories(empty_project);
  {
    std::ofstream(empty_project / "CMakeLists.txt")
        << "cmake_minimum_required(VERSION 3.25)\nproject(empty LANGUAGES CXX)\nset(CMAKE_CXX_STANDARD 20)\n"
           "find_package(xgate REQUIRED)\nadd_executable(empty-node " << (dir / "empty.cpp").string()
        << ")\ntarget_link_libraries(empty-node PRIVATE xgate::nodes)\n";
  }
  ASSERT_TRUE(run("empty-configure", cmake() + " -S '" + empty_project.string() + "' -B '" + (dir / "empty-build").string() +
                                         "' -G Ninja -DCMAKE_PREFIX_PATH='" + prefix.string() + "'"));
  ASSERT_TRUE(run("empty-compile", cmake() + " --build '" + (dir / "empty-build").string() + "'"));
  int code = std::system(("'" + (dir / "empty-build" / "empty-node").string() + "' --name e --hub " + hub +
                          " --secret-file '" + (dir / "node.secret").string() + "' --store " + store + " 2>'" +
                          (dir / "empty.err").string() + "'")
                             .c_str());
  EXPECT_EQ(WEXITSTATUS(code), 1);
  EXPECT_EQ(read_file(dir / "empty.err"),
            "error: migrate node e: this program hosts no job type (load a job library with --jobs FILE, link your jobs "
            "into the program with XGATE_JOB in one of its files, or give --allow-empty)\n");
  // A library built against another xgate is refused naming both.
  code = std::system(("'" + migrate + "' node --name e --jobs '" + WRONG_ABI_JOBS_PATH + "' --hub " + hub + " --secret-file '" +
                      (dir / "node.secret").string() + "' --store " + store + " 2>'" + (dir / "abi.err").string() + "'")
                         .c_str());
  EXPECT_EQ(WEXITSTATUS(code), 1);
  EXPECT_NE(read_file(dir / "abi.err").find(std::string("error: migrate node e: --jobs: job library \"") + WRONG_ABI_JOBS_PATH +
                                            "\": was built against xgate 0.0.9 (job library ABI 7,"),
            std::string::npos) << read_file(dir / "abi.err");
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(30s), 0);
}

// Docs that compile: every C++ block of README.md and migrate/README.md is a whole file,
// built against the installed package under strict flags; those that need no server run.
TEST_F(Package, TheCodeInTheReadmesCompilesAgainstTheInstalledPackageAndTheShortOnesRun) {
  const fs::path prefix = dir / "prefix", project = dir / "docs", build = dir / "docs-build", work = dir / "docs-run";
  ASSERT_TRUE(run("install", cmake() + " --install '" + XGATE_BUILD + "' --prefix '" + prefix.string() + "'"));
  fs::create_directories(project);
  fs::create_directories(work);
  std::string lists = "cmake_minimum_required(VERSION 3.25)\nproject(docs LANGUAGES CXX)\nset(CMAKE_CXX_STANDARD 20)\n"
                      "find_package(xgate REQUIRED)\n";
  std::vector<std::string> runnable;
  int blocks = 0;
  for (const char* doc : {"README.md", "migrate/README.md"}) {
    const std::string text = read_file(fs::path(XGATE_SOURCE) / doc);
    for (std::size_t at = text.find("```cpp\n"); at != std::string::npos; at = text.find("```cpp\n", at)) {
      const std::size_t begin = at + 7, end = text.find("```", begin);
      ASSERT_NE(end, std::string::npos) << doc << ": a cpp block without its end";
      const std::string code = text.substr(begin, end - begin);
      at = end + 3;
      const std::string name = "block" + std::to_string(++blocks);
      std::ofstream(project / (name + ".cpp")) << "// " << doc << "\n" << code;
      EXPECT_TRUE(code.starts_with("#include")) << doc << " block " << blocks << " is not a whole file:\n" << code;
      const bool has_main = code.find("int main(") != std::string::npos;
      lists += std::string(has_main ? "add_executable(" : "add_library(") + name + (has_main ? " " : " OBJECT ") + name +
               ".cpp)\ntarget_link_libraries(" + name + " PRIVATE xgate::nodes xgate::results xgate::client)\n" +
               "target_compile_options(" + name + " PRIVATE -Wall -Wextra -Wpedantic -Werror -Wno-missing-field-initializers)\n";
      // Those that need no running server or hub (no client, channel or node header) are run too.
      if (has_main && code.find("#include <xgate/client") == std::string::npos &&
          code.find("#include <xgate/channel") == std::string::npos && code.find("#include <xgate/nodes") == std::string::npos)
        runnable.push_back(name);
    }
  }
  EXPECT_GE(blocks, 8);
  EXPECT_GE(runnable.size(), 4u);
  std::ofstream(project / "CMakeLists.txt") << lists;
  ASSERT_TRUE(run("docs-configure", cmake() + " -S '" + project.string() + "' -B '" + build.string() +
                                        "' -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH='" + prefix.string() + "'"));
  ASSERT_TRUE(run("docs-build", cmake() + " --build '" + build.string() + "' -j 2"));
  for (const std::string& name : runnable)
    EXPECT_TRUE(run("docs-" + name, "cd '" + work.string() + "' && '" + (build / name).string() + "'"));
}

// The .deb an operator installs (cmake/debian.cmake, packaging/): made with cpack from this
// build, checked by lintian, unpacked into a temporary root, and its programs run from there:
// an xgated and a node daemon on it, found ready through the node's metrics port.
TEST_F(Package, TheDebianPackagePassesLintianAndItsProgramsRunFromAnUnpackedRoot) {
  ASSERT_TRUE(run("cpack", std::string("cpack -G DEB --config '") + XGATE_BUILD + "/CPackConfig.cmake' -B '" + (dir / "deb").string() + "'"));
  const fs::path deb = dir / "deb" / (std::string("xgate_") + XGATE_VERSION + "_amd64.deb");
  ASSERT_TRUE(fs::exists(deb)) << output("cpack");
  ASSERT_TRUE(run("control", "dpkg-deb -f '" + deb.string() + "' Package Version Depends Section"));
  const std::string control = output("control");
  EXPECT_NE(control.find(std::string("Version: ") + XGATE_VERSION + "\n"), std::string::npos) << control;
  for (const char* dependency : {"adduser", "libssl3", "liblmdb0", "libsodium23"})
    EXPECT_NE(control.find(dependency), std::string::npos) << dependency << " in\n" << control;

  // lintian fails on errors (its default --fail-on error); warnings are allowed.
  EXPECT_TRUE(run("lintian", "lintian '" + deb.string() + "'"));
  EXPECT_EQ(output("lintian").find("E: "), std::string::npos) << output("lintian");

  const fs::path root = dir / "root";
  ASSERT_TRUE(run("unpack", "dpkg-deb -x '" + deb.string() + "' '" + root.string() + "'"));
  for (const char* file : {"usr/bin/xgate", "usr/bin/xgated", "usr/bin/migrate", "usr/include/xgate/xmlcodec.hpp",
                           "usr/lib/cmake/xgate/xgateConfig.cmake", "usr/share/man/man1/xgated.1.gz",
                           "usr/share/man/man1/migrate.1.gz", "usr/share/man/man1/xgate.1.gz",
                           "usr/share/bash-completion/completions/migrate", "lib/systemd/system/xgated.service",
                           "lib/systemd/system/xgate-node@.service", "etc/xgate/xgated.conf", "etc/xgate/node.conf.example",
                           "usr/share/doc/xgate/copyright", "usr/share/doc/xgate/changelog.gz"})
    EXPECT_TRUE(fs::exists(root / file)) << file;
  ASSERT_TRUE(run("man", "zcat '" + (root / "usr/share/man/man1/xgated.1.gz").string() + "'"));
  EXPECT_NE(output("man").find(std::string(".TH XGATED \"1\"")), std::string::npos) << output("man");
  EXPECT_NE(output("man").find("tls\\-cert"), std::string::npos) << "the options, from --help";
  const std::string bin = (root / "usr" / "bin").string();
  ASSERT_TRUE(run("version", "'" + bin + "/xgated' --version"));
  EXPECT_EQ(output("version"), std::string("xgated ") + XGATE_VERSION + "\n");

  // Completion from the programs' own --help.
  ASSERT_TRUE(run("completion", "bash -c 'source \"" + (root / "usr/share/bash-completion/completions/migrate").string() +
                                    "\"; PATH=\"" + bin + ":$PATH\"; COMP_WORDS=(migrate no); COMP_CWORD=1; _xgate_complete; "
                                    "echo \"${COMPREPLY[*]}\"; COMP_WORDS=(migrate node --met); COMP_CWORD=2; _xgate_complete; "
                                    "echo \"${COMPREPLY[*]}\"'"));
  EXPECT_EQ(output("completion"), "node nodes\n--metrics\n");

  // The units, as systemd reads them (their programs pointed into the unpacked root).
  if (std::system("command -v systemd-analyze >/dev/null 2>&1") == 0) {
    fs::create_directories(dir / "units");
    for (const char* unit : {"xgated.service", "xgate-node@.service"})
      ASSERT_TRUE(run(std::string("sed-") + unit, "sed 's|/usr/bin/|" + bin + "/|' '" + (root / "lib/systemd/system" / unit).string() +
                                                      "' > '" + (dir / "units" / unit).string() + "'"));
    EXPECT_TRUE(run("verify", "systemd-analyze verify --man=no '" + (dir / "units/xgated.service").string() + "' '" +
                                  (dir / "units/xgate-node@.service").string() + "'"));
    EXPECT_EQ(output("verify"), "") << "systemd has a complaint";
  }

  // xgated and a node daemon from the package.
  int status = 0;
  const std::string token = xgate::process::run_capture({bin + "/xgated", "adduser", "node", "--data", (dir / "data").string()}, &status);
  ASSERT_EQ(status, 0);
  xgate::testing::write_secret_file(dir / "node.secret", token);
  xgate::process::child_process server({bin + "/xgated", "--data", (dir / "data").string(), "--listen", "127.0.0.1:0", "--hub",
                                        "127.0.0.1:0"},
                                       dir / "xgated.log");
  const std::string store = server.wait_line("store: ", 20s).value_or(""), hub = server.wait_line("hub: ", 20s).value_or("");
  ASSERT_FALSE(store.empty() || hub.empty()) << read_file(dir / "xgated.log");
  xgate::process::child_process node({bin + "/migrate", "node", "--name", "a", "--hub", hub, "--secret-file",
                                      (dir / "node.secret").string(), "--store", store, "--metrics", "127.0.0.1:0"},
                                     dir / "node.log");
  ASSERT_TRUE(node.wait_line("ready", 30s)) << read_file(dir / "node.log");
  const std::string ops = node.wait_line("metrics: ", 1s).value_or("");
  EXPECT_EQ(xgate::testing::http_get(ops, "/readyz"), std::make_pair(200, std::string("ready\n")));
  EXPECT_EQ(xgate::testing::http_get(store, "/readyz"), std::make_pair(200, std::string("ready\n")));
  node.signal(SIGTERM);
  EXPECT_EQ(node.wait(30s), 0) << read_file(dir / "node.log");
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(30s), 0) << read_file(dir / "xgated.log");
}

}  // namespace
