// cereal: the workload types described with serialize() and name-value pairs, written
// through XMLOutputArchive (a rapidxml DOM printed when the archive is destroyed).
#include <sstream>

#include <cereal/archives/xml.hpp>
#include <cereal/types/memory.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "codec_instances.hpp"
#include "codecs.hpp"

namespace bench {

template <class A>
void serialize(A& ar, Record& r) {
  ar(cereal::make_nvp("id", r.id), cereal::make_nvp("value", r.value), cereal::make_nvp("flag", r.flag),
     cereal::make_nvp("color", r.color), cereal::make_nvp("name", r.name), cereal::make_nvp("tag", r.tag));
}
template <class A>
void serialize(A& ar, Records& r) {
  ar(cereal::make_nvp("items", r.items));
}
template <class A>
void serialize(A& ar, TreeNode& n) {
  ar(cereal::make_nvp("key", n.key), cereal::make_nvp("label", n.label), cereal::make_nvp("children", n.children));
}
template <class A>
void serialize(A& ar, Tree& t) {
  ar(cereal::make_nvp("root", t.root));
}
template <class A>
void serialize(A& ar, GraphNode& n) {
  ar(cereal::make_nvp("id", n.id), cereal::make_nvp("weight", n.weight), cereal::make_nvp("children", n.children),
     cereal::make_nvp("parent", n.parent), cereal::make_nvp("links", n.links));
}
template <class A>
void serialize(A& ar, Graph& g) {
  ar(cereal::make_nvp("nodes", g.nodes));
}
template <class A>
void serialize(A& ar, Strings& s) {
  ar(cereal::make_nvp("items", s.items));
}
template <class A>
void serialize(A& ar, Doubles& d) {
  ar(cereal::make_nvp("values", d.values));
}

template <class W>
std::string cereal_xml_codec::encode(const W& w) {
  std::ostringstream os;
  {
    cereal::XMLOutputArchive oa(os);
    oa(cereal::make_nvp("workload", w));
  }  // the document is printed when the archive is destroyed
  return std::move(os).str();
}

template <class W>
void cereal_xml_codec::decode(std::string_view in, W& out) {
  memory_buffer buf(in);
  std::istream is(&buf);
  cereal::XMLInputArchive ia(is);
  ia(cereal::make_nvp("workload", out));
}

BENCH_INSTANTIATE_CODEC(cereal_xml_codec)

}  // namespace bench
