// The xgate program as a user runs it: every subcommand, every exit code, one "error: " line
// on failure. The program runs as a subprocess with its output captured in files.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <xgate/examples/drawing.hpp>
#include <xgate/xmlcodec.hpp>

namespace fs = std::filesystem;

#include "files.hpp"

namespace {

using xgate::testing::read_file;

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.flush()) << p;
}

struct result {
  int code = -1;  // exit status; -1 when killed by a signal
  std::string out, err;
};

class XgateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "xgate-cli-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // Runs xgate with `args`; standard input comes from `input` (empty: /dev/null).
  result run(const std::vector<std::string>& args, const fs::path& input = {}) {
    int n = runs_++;  // own output files per run: runs may overlap (a watch while another writes)
    fs::path out = dir / ("stdout-" + std::to_string(n) + ".txt"), err = dir / ("stderr-" + std::to_string(n) + ".txt");
    std::vector<std::string> all{XGATE_CLI_PATH};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string in = input.empty() ? std::string("/dev/null") : input.string();
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd0 = ::open(in.c_str(), O_RDONLY);
      int fd1 = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int fd2 = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd0 < 0 || fd1 < 0 || fd2 < 0 || ::dup2(fd0, 0) < 0 || ::dup2(fd1, 1) < 0 || ::dup2(fd2, 2) < 0) ::_exit(127);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    result r;
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_file(out);
    r.err = read_file(err);
    return r;
  }

  // A failure: the expected code, nothing but one "error: " line on stderr.
  static void expect_failure(const result& r, int code, const std::string& mentions = {}) {
    EXPECT_EQ(r.code, code) << "stderr: " << r.err;
    EXPECT_TRUE(r.err.starts_with("error: ")) << r.err;
    EXPECT_TRUE(r.err.ends_with("\n")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    if (!mentions.empty()) {
      EXPECT_NE(r.err.find(mentions), std::string::npos) << r.err;
    }
  }
  static void expect_success(const result& r) {
    EXPECT_EQ(r.code, 0) << "stderr: " << r.err;
    EXPECT_EQ(r.err, "");
  }

  // alice's key pair and a drawing she signed, readable by alice and bob, writable by alice.
  void make_signed_drawing() {
    result k = run({"keygen", "alice", "--dir", (dir / "keys").string()});
    ASSERT_EQ(k.code, 0) << k.err;
    result eve = run({"keygen", "eve", "--dir", (dir / "keys").string()});
    ASSERT_EQ(eve.code, 0) << eve.err;
    result s = run({"sample", "example.Drawing", "--seed", "7", "--count", "12", "--creator", "alice", "--read",
                    "alice,bob", "--copy", "alice bob", "--sign", key("alice.key")});
    ASSERT_EQ(s.code, 0) << s.err;
    write_file(signed_doc(), s.out);
  }
  std::string key(const std::string& name) const { return (dir / "keys" / name).string(); }
  fs::path signed_doc() const { return dir / "signed.xml"; }

  static xgate::rights expected_rights() {
    return xgate::rights::owned_by("alice").readers({"alice", "bob"}).copiers({"alice", "bob"});
  }

  fs::path dir;
  std::atomic<int> runs_{0};
};

// ---- usage --------------------------------------------------------------------------------
// xgate certs: a CA, a node and a client certificate, checked by the openssl program itself;
// every refusal exits with its code and one line.
TEST_F(XgateCli, CertsInitIssueShowAndOpensslVerifiesThem) {
  std::string certs = (dir / "certs").string();
  expect_success(run({"certs", "init", "--dir", certs, "--name", "test cluster"}));
  expect_success(run({"certs", "issue", "node-a", "--dir", certs, "--host", "localhost", "--host", "127.0.0.1"}));
  expect_success(run({"certs", "issue", "alice", "--dir", certs, "--client", "--days", "30"}));
  auto openssl_verify = [&](const std::string& args) {
    std::string cmd = "openssl verify -CAfile " + certs + "/ca.crt " + args + " > " + (dir / "verify.txt").string() + " 2>&1";
    return std::system(cmd.c_str());
  };
  EXPECT_EQ(openssl_verify("-purpose sslserver -verify_hostname localhost " + certs + "/node-a.crt"), 0)
      << read_file(dir / "verify.txt");
  EXPECT_EQ(openssl_verify("-purpose sslserver -verify_ip 127.0.0.1 " + certs + "/node-a.crt"), 0) << read_file(dir / "verify.txt");
  EXPECT_NE(openssl_verify("-purpose sslserver -verify_hostname other.example " + certs + "/node-a.crt"), 0);
  EXPECT_EQ(openssl_verify("-purpose sslclient " + certs + "/alice.crt"), 0) << read_file(dir / "verify.txt");
  EXPECT_NE(openssl_verify("-purpose sslserver " + certs + "/alice.crt"), 0);

  result shown = run({"certs", "show", certs + "/node-a.crt"});
  expect_success(shown);
  EXPECT_TRUE(shown.out.starts_with("subject:    CN=node-a,O=xgate\nissuer:     CN=test cluster,O=xgate\n"
                                    "use:        node (server and client)\nhosts:      localhost, 127.0.0.1\nnot before: "))
      << shown.out;
  EXPECT_NE(run({"certs", "show", certs + "/alice.crt"}).out.find("use:        client\n"), std::string::npos);

  expect_failure(run({"certs", "issue", "node-a", "--dir", certs, "--host", "localhost"}), 6,
                 "tls: issue \"node-a\": " + certs + "/node-a.crt exists (nothing is overwritten)");
  expect_failure(run({"certs", "init", "--dir", certs}), 6, "ca.crt exists");
  expect_failure(run({"certs", "issue", "node-b", "--dir", certs}), 1, "a node certificate needs --host");
  expect_failure(run({"certs", "issue", "node-b", "--dir", (dir / "nowhere").string(), "--host", "localhost"}), 1,
                 "run xgate certs init first");
  write_file(dir / "junk.crt", "not a certificate");
  expect_failure(run({"certs", "show", (dir / "junk.crt").string()}), 2, "holds no PEM certificate");
  expect_failure(run({"certs", "frobnicate"}), 1, "unknown certs subcommand \"frobnicate\" (see xgate certs --help)");
  expect_failure(run({"certs"}), 1, "xgate certs needs a subcommand: init, issue or show");
}

TEST_F(XgateCli, HelpSucceeds) {
  result r = run({"--help"});
  expect_success(r);
  EXPECT_NE(r.out.find("check"), std::string::npos);
  result c = run({"check", "--help"});
  expect_success(c);
  EXPECT_NE(c.out.find("--lenient"), std::string::npos);
}

TEST_F(XgateCli, UsageErrorsExitOne) {
  expect_failure(run({}), 1);
  expect_failure(run({"frobnicate"}), 1, "frobnicate");
  expect_failure(run({"types", "extra"}), 1);
  expect_failure(run({"--no-such-flag"}), 1);
  expect_failure(run({"schema"}), 1);
  expect_failure(run({"sample", "example.Drawing", "--seed", "minus-one"}), 1);
  expect_failure(run({"sample", "example.Drawing", "--read", "a\"b"}), 1);
  expect_failure(run({"check", "x.xml", "--type", "example.Drawing"}), 1, "--as");
}

// ---- types and schema --------------------------------------------------------------------------
TEST_F(XgateCli, TypesListsEveryRegisteredTypeWithItsVersion) {
  result r = run({"types"});
  expect_success(r);
  std::string expected;
  for (const auto& e : xgate::registry::instance().all()) expected += std::string(e.name()) + " " + std::to_string(e.version()) + "\n";
  EXPECT_EQ(r.out, expected);
  EXPECT_NE(r.out.find("example.Drawing 1\n"), std::string::npos);
  EXPECT_NE(r.out.find("example.Circle 1\n"), std::string::npos);
}

TEST_F(XgateCli, SchemaPrintsTheXsd) {
  result r = run({"schema", "example.Drawing"});
  expect_success(r);
  EXPECT_EQ(r.out, xgate::schema("example.Drawing"));
  expect_failure(run({"schema", "example.Nope"}), 1, "example.Nope");
}

// ---- keygen -------------------------------------------------------------------------------------
TEST_F(XgateCli, KeygenWritesAKeyPairAndKeepsExistingKeys) {
  fs::path keys = dir / "keys";
  result r = run({"keygen", "carol", "--dir", keys.string()});
  expect_success(r);
  EXPECT_EQ(r.out, (keys / "carol.key").string() + "\n" + (keys / "carol.pub").string() + "\n");
  auto secret = xgate::signing_key::load((keys / "carol.key").string());
  auto pub = xgate::verify_key::load((keys / "carol.pub").string());
  EXPECT_EQ(secret.name(), "carol");
  EXPECT_EQ(secret.public_key().bytes(), pub.bytes());
  EXPECT_EQ(fs::status(keys / "carol.key").permissions() & fs::perms::others_read, fs::perms::none);

  expect_failure(run({"keygen", "carol", "--dir", keys.string()}), 1, "exists");
  EXPECT_EQ(xgate::signing_key::load((keys / "carol.key").string()).secret(), secret.secret());
  expect_success(run({"keygen", "carol", "--dir", keys.string(), "--force"}));
  EXPECT_NE(xgate::signing_key::load((keys / "carol.key").string()).secret(), secret.secret());

  expect_failure(run({"keygen", "bad name", "--dir", keys.string()}), 1);
  write_file(dir / "plain-file", "x");
  expect_failure(run({"keygen", "dave", "--dir", (dir / "plain-file").string()}), 1);
}

// ---- sample -------------------------------------------------------------------------------------
TEST_F(XgateCli, SamplePrintsTheGeneratorsDocument) {
  result r = run({"sample", "example.Drawing", "--seed", "5", "--count", "30"});
  expect_success(r);
  EXPECT_EQ(r.out, xgate::to_xml(example::make_drawing(5, 30)));
  result d = run({"sample", "example.Drawing"});  // defaults: seed 1, count 10
  expect_success(d);
  EXPECT_EQ(d.out, xgate::to_xml(example::make_drawing(1, 10)));
  expect_failure(run({"sample", "example.Nope"}), 1, "example.Nope");
  expect_failure(run({"sample", "example.Point"}), 1, "sample");  // registered, but no generator
  expect_failure(run({"sample", "example.Drawing", "--sign", (dir / "missing.key").string()}), 1, "missing.key");
}

TEST_F(XgateCli, SampleWritesRightsAndSignature) {
  make_signed_drawing();
  std::string xml = read_file(signed_doc());
  auto pub = xgate::verify_key::load(key("alice.pub"));
  auto doc = xgate::decode<example::Drawing>(xml, {.principal = "bob", .verify = &pub});
  EXPECT_TRUE(doc.is_signed);
  EXPECT_EQ(doc.key_name, "alice");
  ASSERT_TRUE(doc.rights);
  EXPECT_EQ(*doc.rights, expected_rights());  // write and delete defaulted to "creator"
  EXPECT_TRUE(example::same_drawing(doc.value, example::make_drawing(7, 12)));

  // Lists without a creator: the unnamed ones stay empty.
  result r = run({"sample", "example.Drawing", "--count", "2", "--read", "*"});
  expect_success(r);
  auto open = xgate::decode<example::Drawing>(r.out, {.principal = "anyone"});
  ASSERT_TRUE(open.rights);
  EXPECT_EQ(open.rights->creator, "");
  EXPECT_EQ(open.rights->read, xgate::principal_list{"*"});
  EXPECT_TRUE(open.rights->write.empty());
}

// ---- check --------------------------------------------------------------------------------------
TEST_F(XgateCli, CheckPrintsTheReencodedDocument) {
  make_signed_drawing();
  std::string unsigned_xml = xgate::to_xml(example::make_drawing(7, 12), {.rights = expected_rights()});
  result r = run({"check", signed_doc().string(), "--type", "example.Drawing", "--as", "bob", "--pub", key("alice.pub")});
  expect_success(r);
  EXPECT_EQ(r.out, unsigned_xml);  // the same content and rights; the signature is not carried over
  result in = run({"check", "-", "--type", "example.Drawing", "--as", "bob"}, signed_doc());
  expect_success(in);
  EXPECT_EQ(in.out, unsigned_xml);
  expect_success(run({"check", signed_doc().string(), "--type", "example.Drawing", "--as", "alice", "--mode", "write"}));
}

TEST_F(XgateCli, CheckUsageErrorsExitOne) {
  make_signed_drawing();
  std::string doc = signed_doc().string();
  expect_failure(run({"check", (dir / "missing.xml").string(), "--type", "example.Drawing", "--as", "bob"}), 1, "missing.xml");
  expect_failure(run({"check", dir.string(), "--type", "example.Drawing", "--as", "bob"}), 1);
  expect_failure(run({"check", doc, "--type", "example.Nope", "--as", "bob"}), 1, "example.Nope");
  expect_failure(run({"check", doc, "--type", "example.Shape", "--as", "bob"}), 1, "example.Shape");  // abstract
  expect_failure(run({"check", doc, "--type", "example.Drawing", "--as", "bob", "--mode", "admin"}), 1, "admin");
  expect_failure(run({"check", doc, "--type", "example.Drawing", "--as", "bob", "--pub", (dir / "none.pub").string()}), 1,
                 "none.pub");
  write_file(dir / "garbage.pub", "not a key\n");
  expect_failure(run({"check", doc, "--type", "example.Drawing", "--as", "bob", "--pub", (dir / "garbage.pub").string()}), 1);
}

TEST_F(XgateCli, MalformedOrInvalidDocumentsExitTwo) {
  std::string good = xgate::to_xml(example::make_drawing(4, 6));
  auto check = [&](const std::string& name, const std::string& text, std::vector<std::string> extra = {}) {
    write_file(dir / name, text);
    std::vector<std::string> args{"check", (dir / name).string(), "--type", "example.Drawing", "--as", "bob"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  };
  expect_failure(check("truncated.xml", good.substr(0, good.size() / 2)), 2, "truncated.xml");
  expect_failure(check("empty.xml", ""), 2);
  expect_failure(check("foreign.xml", "<html><body/></html>"), 2, "xgate document");
  expect_failure(check("doctype.xml", "<!DOCTYPE x [<!ENTITY e \"boom\">]>\n" + good), 2, "DOCTYPE");
  expect_failure(run({"check", (dir / "truncated.xml").string(), "--type", "example.Point", "--as", "bob"}), 2);

  std::string wrong_root = xgate::to_xml(example::Point{1, 2});
  expect_failure(check("point.xml", wrong_root), 2, "example.Point");

  std::string bad_number = good;
  std::size_t at = bad_number.find("<radius>");
  ASSERT_NE(at, std::string::npos);
  bad_number.insert(at + 8, "x");
  expect_failure(check("number.xml", bad_number), 2, "radius");

  std::string extra_field = good;
  at = extra_field.find("<title>");
  extra_field.insert(at, "<comment>not in the type</comment>");
  expect_failure(check("extra.xml", extra_field), 2, "comment");
  result lenient = check("extra.xml", extra_field, {"--lenient"});
  expect_success(lenient);
  EXPECT_EQ(lenient.out, good);
}

TEST_F(XgateCli, AccessDeniedExitsThree) {
  make_signed_drawing();
  std::string doc = signed_doc().string();
  expect_failure(run({"check", doc, "--type", "example.Drawing", "--as", "mallory"}), 3, "mallory");
  expect_failure(run({"check", doc, "--type", "example.Drawing", "--as", "bob", "--mode", "write"}), 3, "write");
}

TEST_F(XgateCli, BadOrMissingSignatureExitsFour) {
  make_signed_drawing();
  std::string xml = read_file(signed_doc());
  std::string tampered = xml;
  std::size_t at = tampered.find("read=\"alice bob\"");
  ASSERT_NE(at, std::string::npos);
  tampered[at + 12] = 'r';  // bob -> rob
  write_file(dir / "tampered.xml", tampered);
  expect_failure(
      run({"check", (dir / "tampered.xml").string(), "--type", "example.Drawing", "--as", "alice", "--pub", key("alice.pub")}),
      4, "signature");
  // Without a key nothing is verified: the edit goes unnoticed (and rob is now a reader).
  expect_success(run({"check", (dir / "tampered.xml").string(), "--type", "example.Drawing", "--as", "rob"}));

  expect_failure(run({"check", signed_doc().string(), "--type", "example.Drawing", "--as", "bob", "--pub", key("eve.pub")}),
                 4, "eve");

  result plain = run({"sample", "example.Drawing", "--creator", "alice", "--read", "alice bob"});
  ASSERT_EQ(plain.code, 0);
  write_file(dir / "unsigned.xml", plain.out);
  expect_failure(
      run({"check", (dir / "unsigned.xml").string(), "--type", "example.Drawing", "--as", "bob", "--pub", key("alice.pub")}),
      4, "not signed");
}


// ---- store --------------------------------------------------------------------------------------
class XgateStoreCli : public XgateCli {
 protected:
  std::string data() const { return (dir / "store").string(); }
  // xgate store COMMAND ARGS --data DIR --as PRINCIPAL
  result store(const std::string& as, std::vector<std::string> args, const fs::path& input = {}) {
    args.insert(args.begin(), "store");
    args.insert(args.end(), {"--data", data(), "--as", as});
    return run(args, input);
  }
  std::string put(const std::string& as, const std::string& name, const std::string& xml, std::vector<std::string> extra = {}) {
    fs::path f = dir / "in.xml";
    write_file(f, xml);
    std::vector<std::string> args{"put", name, f.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    result r = store(as, args);
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  }
  static std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
};

TEST_F(XgateStoreCli, PutGetInfoLsTakeRm) {
  std::string xml = "<order n=\"1\"><qty>3</qty></order>\n";
  EXPECT_EQ(put("alice", "orders/1", xml), "1\n");
  write_file(dir / "stdin.xml", "<order n=\"2\"/>");
  result in = store("alice", {"put", "orders/2", "-", "--lease", "3600"}, dir / "stdin.xml");
  expect_success(in);
  EXPECT_EQ(in.out, "2\n");

  result get = store("alice", {"get", "orders/1"});
  expect_success(get);
  EXPECT_EQ(get.out, xml);  // byte for byte

  result info = store("alice", {"info", "orders/2"});
  expect_success(info);
  EXPECT_NE(info.out.find("name: orders/2\nrevision: 2\nsize: 14\n"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("creator: alice\n"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("held by alice"), std::string::npos) << info.out;

  result ls = store("alice", {"ls", "orders"});
  expect_success(ls);
  auto rows = lines(ls.out);
  ASSERT_EQ(rows.size(), 3u) << ls.out;
  EXPECT_TRUE(rows[0].starts_with("NAME      REVISION  SIZE  CREATOR  MODIFIED")) << rows[0];
  EXPECT_TRUE(rows[1].starts_with("orders/1  1         34    alice    20")) << rows[1];
  EXPECT_TRUE(rows[1].ends_with("  -")) << rows[1];
  EXPECT_TRUE(rows[2].starts_with("orders/2  2         14    alice    20")) << rows[2];
  EXPECT_TRUE(rows[2].ends_with("Z")) << rows[2];  // the lease's expiry
  EXPECT_EQ(lines(store("bob", {"ls"}).out).size(), 1u);  // bob reads none: the header only

  result take = store("alice", {"take", "orders/1"});
  expect_success(take);
  EXPECT_EQ(take.out, xml);
  expect_failure(store("alice", {"take", "orders/1"}), 5, "orders/1");
  expect_success(store("alice", {"rm", "orders/2", "--if-revision", "2"}));
  expect_failure(store("alice", {"get", "orders/2"}), 5, "no such document");
  EXPECT_EQ(lines(store("alice", {"ls"}).out).size(), 1u);
}

TEST_F(XgateStoreCli, QueryPrintsNameAndValue) {
  put("alice", "q/a", "<o><qty>3</qty><qty>1</qty></o>");
  put("alice", "q/b", "<o><qty>7</qty></o>");
  result r = store("alice", {"query", "q", "//qty[. > 2]/text()"});
  expect_success(r);
  EXPECT_EQ(r.out, "q/a: 3\nq/b: 7\n");
  expect_failure(store("alice", {"query", "q", "//[oops"}), 1, "oops");
}

TEST_F(XgateStoreCli, LsAndQueryPageWithLimitAndCursor) {
  for (int i = 1; i <= 3; ++i) put("alice", "p/" + std::to_string(i), "<v n=\"" + std::to_string(i) + "\"/>");
  result first = store("alice", {"ls", "p", "--limit", "2"});
  EXPECT_EQ(first.code, 0);
  auto rows = lines(first.out);
  ASSERT_EQ(rows.size(), 3u) << first.out;  // the header and two documents
  EXPECT_TRUE(rows[2].starts_with("p/2 ")) << rows[2];
  EXPECT_EQ(first.err, "next page: --cursor '3:p/2'\n");
  result second = store("alice", {"ls", "p", "--limit", "2", "--cursor", "3:p/2"});
  expect_success(second);
  rows = lines(second.out);
  ASSERT_EQ(rows.size(), 2u) << second.out;
  EXPECT_TRUE(rows[1].starts_with("p/3 ")) << rows[1];
  EXPECT_EQ(second.err, "");  // the last page

  result q = store("alice", {"query", "p", "/v/@n", "--limit", "1"});
  EXPECT_EQ(q.code, 0);
  EXPECT_EQ(q.out, "p/1: 1\n");
  EXPECT_EQ(q.err, "next page: --cursor '3:p/1'\n");
  q = store("alice", {"query", "p", "/v/@n", "--limit", "5", "--cursor", "3:p/1"});
  expect_success(q);
  EXPECT_EQ(q.out, "p/2: 2\np/3: 3\n");

  put("alice", "p/3", "<v/>");  // past the cursor: that listing's revision is gone
  expect_failure(store("alice", {"ls", "p", "--limit", "2", "--cursor", "3:p/2"}), 6,
                 "store: list \"p\": the listing's revision 3 is gone: \"p/3\" was written at revision 4; list again "
                 "from the first page");
  expect_failure(store("alice", {"ls", "p", "--limit", "2", "--cursor", "p/2"}), 1, "bad cursor \"p/2\": not REVISION:NAME");
  expect_failure(store("alice", {"ls", "p", "--cursor", "3:p/2"}), 1, "--limit");
  expect_failure(store("alice", {"ls", "p", "--limit", "0"}), 1, "--limit");
}

TEST_F(XgateStoreCli, IndexAddLsRm) {
  put("alice", "o/1", "<o><c>ann</c></o>");
  expect_success(store("alice", {"index", "add", "customer", "o", "/o/c"}));
  result ls = store("bob", {"index", "ls"});
  expect_success(ls);
  EXPECT_EQ(ls.out, "customer o /o/c alice\n");
  EXPECT_EQ(store("alice", {"query", "o", "/o/c[. = 'ann']/text()"}).out, "o/1: ann\n");
  expect_failure(store("alice", {"index", "add", "customer", "o", "/o/c"}), 6,
                 "store: add index \"customer\": an index with this id exists");
  expect_failure(store("alice", {"index", "add", "x", "o", "count(/o)"}), 1, "gives a single value");
  expect_failure(store("bob", {"index", "rm", "customer"}), 3, "\"bob\"");
  expect_failure(store("alice", {"index", "rm"}), 1, "index rm: give the index's ID");
  expect_failure(store("alice", {"index", "drop", "customer"}), 1, "drop");
  expect_success(store("alice", {"index", "rm", "customer"}));
  EXPECT_EQ(store("alice", {"index", "ls"}).out, "");
}

TEST_F(XgateStoreCli, ErrorsHaveTheirExitCodes) {
  put("alice", "doc", "<v>1</v>");
  expect_failure(store("bob", {"get", "doc"}), 3, "\"bob\"");
  expect_failure(store("bob", {"rm", "doc"}), 3, "delete");
  expect_failure(store("alice", {"get", "nope"}), 5, "nope");
  expect_failure(store("alice", {"put", "doc", (dir / "missing.xml").string()}), 1, "missing.xml");
  write_file(dir / "v.xml", "<v>2</v>");
  expect_failure(store("alice", {"put", "doc", (dir / "v.xml").string(), "--if-revision", "7"}), 6, "conflict");
  expect_failure(store("alice", {"put", "doc2", (dir / "v.xml").string(), "--if-revision", "0", "--lease", "x"}), 1);
  write_file(dir / "bad.xml", "<v>");
  expect_failure(store("alice", {"put", "doc", (dir / "bad.xml").string()}), 2, "doc");
  expect_failure(store("alice", {"get", "a//b"}), 1, "a//b");
  expect_failure(store("alice", {"frob"}), 1, "frob");
  expect_failure(run({"store", "get", "doc"}), 1, "--server");
  expect_failure(run({"store", "get", "doc", "--data", data()}), 1, "--as");
  expect_failure(run({"store", "get", "doc", "--data", data(), "--as", "a", "--server", "http://127.0.0.1:1"}), 1);
  expect_failure(run({"store", "get", "doc", "--data", (dir / "nowhere").string(), "--as", "a"}), 1, "nowhere");
  expect_failure(run({"store", "get", "doc", "--data", data(), "--token", "bogus"}), 3, "token");
  expect_failure(run({"store", "get", "doc", "--server", "http://127.0.0.1:1", "--token", "t"}), 7, "127.0.0.1:1");
  EXPECT_EQ(store("alice", {"get", "doc"}).out, "<v>1</v>");  // nothing changed
  result help = run({"store", "--help"});
  expect_success(help);
  EXPECT_NE(help.out.find("6 conflict"), std::string::npos) << help.out;
}

TEST_F(XgateStoreCli, WatchPrintsChangesUntilCountOrTimeout) {
  put("alice", "w/a", "<v/>");
  put("alice", "w/b", "<v/>");
  expect_success(store("alice", {"rm", "w/a"}));
  result all = store("alice", {"watch", "w", "--after", "0", "--count", "3"});
  expect_success(all);
  EXPECT_EQ(all.out, "1 written w/a\n2 written w/b\n3 removed w/a\n");
  result two = store("alice", {"watch", "w", "--after", "1", "--count", "1"});
  EXPECT_EQ(two.out, "2 written w/b\n");
  result now = store("alice", {"watch", "w", "--after", "1", "--timeout", "0"});  // what is there, at once
  expect_success(now);
  EXPECT_EQ(now.out, "2 written w/b\n3 removed w/a\n");

  auto start = std::chrono::steady_clock::now();
  result quiet = store("alice", {"watch", "w", "--timeout", "0.3"});
  expect_success(quiet);
  EXPECT_EQ(quiet.out, "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));

  // A watch waiting for the next change sees another process's write.
  result live;
  std::thread watcher([&] { live = store("alice", {"watch", "w", "--count", "1", "--timeout", "20"}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  put("alice", "w/c", "<v/>");
  watcher.join();
  expect_success(live);
  EXPECT_EQ(live.out, "4 written w/c\n");
}

TEST_F(XgateStoreCli, CredentialTokensActWithinTheirGrant) {
  put("alice", "shared/x", "<v>x</v>");
  put("alice", "private/y", "<v>y</v>");
  result c = store("alice", {"credential", "shared", "--rights", "read", "--ttl", "600", "--label", "readers"});
  expect_success(c);
  ASSERT_EQ(lines(c.out).size(), 1u);
  std::string token = lines(c.out)[0];
  auto as_token = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "store");
    args.insert(args.end(), {"--data", data(), "--token", token});
    return run(args);
  };
  EXPECT_EQ(as_token({"get", "shared/x"}).out, "<v>x</v>");
  expect_failure(as_token({"get", "private/y"}), 3, "private/y");
  expect_failure(as_token({"rm", "shared/x"}), 3);
  expect_failure(store("alice", {"credential", "--rights", "fly"}), 1, "fly");
  expect_failure(store("alice", {"credential", "--methods", "status,move kill"}), 1,
                 "--methods: \"status,move kill\" is not a list of method names");
  result whole = store("alice", {"credential", "shared/x", "--rights", "read,write", "--no-subtree"});
  expect_success(whole);
  EXPECT_NE(lines(whole.out).at(0), token);
}

// ---- store --server, against the real xgated ----------------------------------------------------
class XgateServerCli : public XgateStoreCli {
 protected:
  void SetUp() override {
    XgateStoreCli::SetUp();
    alice = adduser("alice");
    bob = adduser("bob");
    start_server();
  }
  void TearDown() override {
    if (server_pid > 0) {
      ::kill(server_pid, SIGTERM);
      int status = 0;
      // Bounded: SIGKILL if it has not exited within 10 s.
      for (int i = 0; i < 200 && ::waitpid(server_pid, &status, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (::waitpid(server_pid, &status, WNOHANG) == 0) {
        ::kill(server_pid, SIGKILL);
        ::waitpid(server_pid, &status, 0);
      }
    }
    if (server_out >= 0) ::close(server_out);
    XgateStoreCli::TearDown();
  }

  std::string adduser(const std::string& name) {
    fs::path out = dir / ("token-" + name);
    std::string cmd = std::string(XGATED_PATH) + " adduser " + name + " --data " + data() + " > " + out.string() + " 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << read_file(out);
    auto l = lines(read_file(out));
    return l.empty() ? std::string() : l.back();
  }

  void start_server() {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    std::string listen = "127.0.0.1:0", d = data(), path = XGATED_PATH;
    std::vector<char*> argv{path.data(), const_cast<char*>("--data"), d.data(), const_cast<char*>("--listen"), listen.data(), nullptr};
    server_pid = ::fork();
    if (server_pid == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    server_out = fds[0];
    // The first line: "store: http://127.0.0.1:PORT", within 10 s.
    std::string line;
    while (line.find('\n') == std::string::npos) {
      pollfd p{server_out, POLLIN, 0};
      ASSERT_GT(::poll(&p, 1, 10000), 0) << "xgated did not start";
      char c[256];
      ssize_t n = ::read(server_out, c, sizeof c);
      ASSERT_GT(n, 0) << "xgated exited: " << line;
      line.append(c, static_cast<std::size_t>(n));
    }
    const std::string prefix = "store: ";
    ASSERT_TRUE(line.starts_with(prefix)) << line;
    url = line.substr(prefix.size(), line.find('\n') - prefix.size());
  }

  result remote(const std::string& token, std::vector<std::string> args, const fs::path& input = {}) {
    args.insert(args.begin(), "store");
    args.insert(args.end(), {"--server", url, "--token", token});
    return run(args, input);
  }

  std::string alice, bob, url;
  pid_t server_pid = -1;
  int server_out = -1;
};

TEST_F(XgateServerCli, PutGetLsQueryTakeRmOverHttp) {
  ASSERT_FALSE(alice.empty());
  write_file(dir / "doc.xml", "<o><qty>3</qty></o>");
  result p = remote(alice, {"put", "orders/1", (dir / "doc.xml").string()});
  expect_success(p);
  EXPECT_EQ(p.out, "1\n");
  EXPECT_EQ(remote(alice, {"get", "orders/1"}).out, "<o><qty>3</qty></o>");
  auto rows = lines(remote(alice, {"ls"}).out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[1].starts_with("orders/1  1         19    alice")) << rows[1];
  EXPECT_EQ(remote(alice, {"query", "orders", "//qty/text()"}).out, "orders/1: 3\n");
  EXPECT_EQ(remote(alice, {"watch", "orders", "--after", "0", "--count", "1"}).out, "1 written orders/1\n");
  expect_failure(remote(bob, {"get", "orders/1"}), 3, "bob");
  expect_failure(remote(alice, {"put", "orders/1", (dir / "doc.xml").string(), "--if-revision", "0"}), 6);
  expect_failure(remote("not-a-token", {"get", "orders/1"}), 3);
  EXPECT_EQ(remote(alice, {"take", "orders/1"}).out, "<o><qty>3</qty></o>");
  expect_failure(remote(alice, {"rm", "orders/1"}), 5, "orders/1");

  // The token may come from the environment.
  ::setenv("XGATE_TOKEN", alice.c_str(), 1);
  result env = run({"store", "ls", "--server", url});
  ::unsetenv("XGATE_TOKEN");
  expect_success(env);

  // A credential issued over HTTP works over HTTP and on the directory alike.
  result c = remote(alice, {"credential", "orders", "--rights", "read,write"});
  expect_success(c);
  std::string token = lines(c.out).at(0);
  expect_success(remote(token, {"put", "orders/2", (dir / "doc.xml").string()}));
  expect_failure(remote(token, {"put", "other", (dir / "doc.xml").string()}), 3);
  expect_success(run({"store", "get", "orders/2", "--data", data(), "--token", token}));

  // Listed without tokens, and revoked: its token is refused from then on.
  result listed = remote(alice, {"credentials"});
  expect_success(listed);
  EXPECT_EQ(listed.out.find("xgt1_"), std::string::npos) << listed.out;
  std::string id;
  for (const std::string& row : lines(listed.out))
    if (row.find(" scope=orders subtree=1 rights=read,write issued=") != std::string::npos) id = row.substr(0, row.find(' '));
  ASSERT_FALSE(id.empty()) << listed.out;
  expect_failure(remote(bob, {"revoke", id}), 5, id);
  expect_success(remote(alice, {"revoke", id}));
  expect_failure(remote(token, {"get", "orders/2"}), 3);
  EXPECT_EQ(remote(alice, {"credentials"}).out.find(id), std::string::npos);

  // Narrowed to methods over HTTP: listed with them.
  expect_success(remote(alice, {"credential", "--methods", "status,result", "--label", "watcher"}));
  EXPECT_NE(remote(alice, {"credentials"}).out.find(" methods=result,status issued="), std::string::npos);
}

}  // namespace
