#include "fuzz_types.hpp"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <unordered_set>

#include <sodium.h>

namespace fz {

void break_cycles(Graph& g) {
  std::vector<std::shared_ptr<Node>> keep;  // holds every shared node alive until all edges are cut
  std::unordered_set<const Node*> seen;
  std::vector<Node*> work;
  auto add_shared = [&](const std::shared_ptr<Node>& p) {
    if (p && seen.insert(p.get()).second) {
      keep.push_back(p);
      work.push_back(p.get());
    }
  };
  add_shared(g.root);
  add_shared(g.watch.lock());
  for (Node& n : g.local) work.push_back(&n);
  for (auto& [name, n] : g.by_name) work.push_back(&n);
  while (!work.empty()) {
    Node* n = work.back();
    work.pop_back();
    for (const auto& c : n->children) add_shared(c);
  }
  for (Node& n : g.local) n.children.clear();
  for (auto& [name, n] : g.by_name) n.children.clear();
  for (const auto& p : keep) p->children.clear();
}

void break_cycles(Scene& s) {
  std::vector<std::shared_ptr<Shape>> keep;
  std::unordered_set<const Shape*> seen;
  std::vector<Shape*> work;
  auto add = [&](Shape* p) {
    if (p && seen.insert(p).second) work.push_back(p);
  };
  auto add_shared = [&](const std::shared_ptr<Shape>& p) {
    if (p && !seen.count(p.get())) keep.push_back(p);
    add(p.get());
  };
  for (const auto& p : s.shapes) add(p.get());
  add(s.background.get());
  add_shared(s.focus);
  add_shared(s.hover.lock());
  add_shared(s.circle);
  std::vector<Group*> groups;
  while (!work.empty()) {
    Shape* p = work.back();
    work.pop_back();
    if (auto* g = dynamic_cast<Group*>(p)) {
      groups.push_back(g);
      for (const auto& item : g->items) add(item.get());
      add_shared(g->shared);
    }
  }
  for (Group* g : groups) g->shared.reset();
}

namespace {
struct fixed_keys {
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> pk{};
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> sk{};
  fixed_keys() {
    if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
    std::array<unsigned char, crypto_sign_SEEDBYTES> seed;
    seed.fill(0x42);
    crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
  }
};
const fixed_keys& keys() {
  static const fixed_keys k;
  return k;
}
}  // namespace

xgate::verify_key verify_key() {
  std::array<unsigned char, 32> bytes;
  std::copy(keys().pk.begin(), keys().pk.end(), bytes.begin());
  return xgate::verify_key("fuzz", bytes);
}

xgate::signing_key signing_key() {
  const auto& sk = keys().sk;
  std::string b64(sodium_base64_ENCODED_LEN(sk.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), sk.data(), sk.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.resize(b64.size() - 1);
  char dir[] = "/tmp/xgate-fuzz-key-XXXXXX";
  if (!mkdtemp(dir)) throw std::runtime_error("cannot create a temporary directory for the fuzz key");
  std::string path = std::string(dir) + "/fuzz.key";
  {
    std::ofstream out(path);
    out << "xgate-ed25519-secret-key fuzz " << b64 << "\n";
    if (!out.flush()) throw std::runtime_error("cannot write " + path);
  }
  xgate::signing_key key = xgate::signing_key::load(path);
  std::remove(path.c_str());
  rmdir(dir);
  return key;
}

}  // namespace fz
