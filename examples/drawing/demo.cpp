// drawing_demo: a drawing's whole trip through xgate, narrated.
//   1. make a drawing        2. make alice's signing key     3. encode it with rights, signed
//   4. bob decodes it        5. mallory is refused           6. a one-byte edit is caught
// Exits 0 only when every step behaved as described.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <xgate/examples/drawing.hpp>
#include <xgate/xmlcodec.hpp>

namespace fs = std::filesystem;

namespace {

// A private directory for the key pair and the document, removed on every way out.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "xgate-demo-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("cannot create a temporary directory");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return s.str();
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + p.string());
}

int failures = 0;

void expect(bool ok, const std::string& what) {
  std::cout << (ok ? "   ok: " : "   FAILED: ") << what << "\n";
  if (!ok) ++failures;
}

void step(int n, const std::string& title) { std::cout << "\n" << n << ". " << title << "\n"; }

}  // namespace

int main() try {
  temp_dir dir;

  step(1, "Generate a drawing (seed 7, 3 shapes)");
  example::Drawing drawing = example::make_drawing(7, 3);
  std::cout << "   \"" << drawing.title << "\": " << drawing.layers.size() << " layers; layers 0 and 1 share one circle;\n"
            << "   focus and active_layer are raw pointers into the drawing.\n";

  step(2, "Generate an Ed25519 key pair for the creator, alice");
  xgate::signing_key key = xgate::signing_key::generate("alice");
  auto [key_path, pub_path] = xgate::write_keypair(key, dir.path().string());
  std::cout << "   " << key_path << "\n   " << pub_path << "\n";

  step(3, "Encode with rights (read and copy: alice bob; write and delete: alice), signed");
  xgate::rights rights =
      xgate::rights::owned_by("alice").readers({"alice", "bob"}).writers({"alice"}).deleters({"alice"}).copiers({"alice", "bob"});
  fs::path doc_path = dir.path() / "drawing.xml";
  write_file(doc_path, xgate::to_xml(drawing, {.rights = rights, .sign = &key}));
  std::string xml = read_file(doc_path);
  std::cout << "   stored " << xml.size() << " bytes in " << doc_path.string() << ":\n\n" << xml;

  step(4, "bob decodes it, checking alice's signature with her public key");
  xgate::verify_key alice_pub = xgate::verify_key::load(pub_path);
  {
    auto doc = xgate::decode<example::Drawing>(
        xml, {.principal = "bob", .verify = &alice_pub, .document_name = doc_path.filename().string()});
    expect(doc.is_signed && doc.key_name == "alice", "signed by key \"" + doc.key_name + "\"");
    expect(doc.rights == rights, "rights came back as written");
    expect(example::same_drawing(drawing, doc.value), "the decoded drawing equals the original (values, sharing, pointers)");
    expect(xgate::to_xml(doc.value, {.rights = rights, .sign = &key}) == xml, "encoding it again gives the same bytes");
  }

  step(5, "mallory tries to decode it");
  try {
    (void)xgate::from_xml<example::Drawing>(xml, {.principal = "mallory", .document_name = doc_path.filename().string()});
    expect(false, "mallory must be refused");
  } catch (const xgate::access_denied& e) {
    expect(true, std::string("refused: ") + e.what());
  }

  step(6, "Someone edits one byte of the rights: read=\"alice bob\" becomes read=\"alice rob\"");
  std::string tampered = xml;
  std::size_t at = tampered.find("read=\"alice bob\"");
  expect(at != std::string::npos, "found the read list in <xg:rights>");
  if (at != std::string::npos) {
    tampered[at + std::string("read=\"alice ").size()] = 'r';
    write_file(doc_path, tampered);
    try {
      (void)xgate::from_xml<example::Drawing>(read_file(doc_path), {.principal = "bob", .verify = &alice_pub,
                                                                    .document_name = doc_path.filename().string()});
      expect(false, "the edited document must be refused");
    } catch (const xgate::signature_error& e) {
      expect(true, std::string("refused: ") + e.what());
    }
  }

  std::cout << "\n" << (failures == 0 ? "All steps behaved as expected." : "Some steps did NOT behave as expected.") << "\n";
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
} catch (const std::exception& e) {
  std::cerr << "error: " << e.what() << "\n";
  return EXIT_FAILURE;
}
