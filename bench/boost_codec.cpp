// Boost.Serialization: the workload types described with serialize() and name-value pairs,
// written through xml_oarchive and binary_oarchive.
#include <sstream>

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/archive/xml_iarchive.hpp>
#include <boost/archive/xml_oarchive.hpp>
#include <boost/serialization/nvp.hpp>
#include <boost/serialization/shared_ptr.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/unique_ptr.hpp>
#include <boost/serialization/vector.hpp>
#include <boost/serialization/weak_ptr.hpp>

#include "codec_instances.hpp"
#include "codecs.hpp"

// Free serialize() in boost::serialization (found through version_type), so it cannot be
// mistaken for cereal's serialize(Archive&, T&) by argument-dependent lookup on bench::.
namespace boost::serialization {
using boost::serialization::make_nvp;

template <class A>
void serialize(A& ar, bench::Record& r, unsigned) {
  ar& make_nvp("id", r.id) & make_nvp("value", r.value) & make_nvp("flag", r.flag) & make_nvp("color", r.color) &
      make_nvp("name", r.name) & make_nvp("tag", r.tag);
}
template <class A>
void serialize(A& ar, bench::Records& r, unsigned) {
  ar& make_nvp("items", r.items);
}
template <class A>
void serialize(A& ar, bench::TreeNode& n, unsigned) {
  ar& make_nvp("key", n.key) & make_nvp("label", n.label) & make_nvp("children", n.children);
}
template <class A>
void serialize(A& ar, bench::Tree& t, unsigned) {
  ar& make_nvp("root", t.root);
}
template <class A>
void serialize(A& ar, bench::GraphNode& n, unsigned) {
  ar& make_nvp("id", n.id) & make_nvp("weight", n.weight) & make_nvp("children", n.children) &
      make_nvp("parent", n.parent) & make_nvp("links", n.links);
}
template <class A>
void serialize(A& ar, bench::Graph& g, unsigned) {
  ar& make_nvp("nodes", g.nodes);
}
template <class A>
void serialize(A& ar, bench::Strings& s, unsigned) {
  ar& make_nvp("items", s.items);
}
template <class A>
void serialize(A& ar, bench::Doubles& d, unsigned) {
  ar& make_nvp("values", d.values);
}
}  // namespace boost::serialization

namespace bench {

template <class W>
std::string boost_xml_codec::encode(const W& w) {
  std::ostringstream os;
  {
    boost::archive::xml_oarchive oa(os);
    oa << boost::serialization::make_nvp("workload", w);
  }  // the archive closes its root element when destroyed
  return std::move(os).str();
}

template <class W>
void boost_xml_codec::decode(std::string_view in, W& out) {
  memory_buffer buf(in);
  std::istream is(&buf);
  boost::archive::xml_iarchive ia(is);
  ia >> boost::serialization::make_nvp("workload", out);
}

template <class W>
std::string boost_binary_codec::encode(const W& w) {
  std::stringbuf sb;
  {
    boost::archive::binary_oarchive oa(sb);
    oa << w;
  }
  return std::move(sb).str();
}

template <class W>
void boost_binary_codec::decode(std::string_view in, W& out) {
  memory_buffer buf(in);
  boost::archive::binary_iarchive ia(buf);
  ia >> out;
}

BENCH_INSTANTIATE_CODEC(boost_xml_codec)
BENCH_INSTANTIATE_CODEC(boost_binary_codec)

}  // namespace bench
