// The archive adapters behind use_boost_serialization (boost_compat.hpp): a type's own
// Boost.Serialization `serialize` runs against them, and each nvp becomes a child element
// named after it, encoded by xgate's own rules.
#pragma once

#include <boost/mpl/bool.hpp>
#include <boost/serialization/nvp.hpp>
#include <boost/serialization/serialization.hpp>
#include <boost/serialization/split_member.hpp>
#include <boost/serialization/version.hpp>

#include <xgate/xmlcodec/detail/decode.hpp>
#include <xgate/xmlcodec/detail/encode.hpp>

namespace xgate::detail {

class boost_oarchive {
 public:
  using is_saving = boost::mpl::true_;
  using is_loading = boost::mpl::false_;
  explicit boost_oarchive(encoder& e) : e_(e) {}
  template <class U>
  boost_oarchive& operator<<(const boost::serialization::nvp<U>& nv) {
    encode_value(e_, nv.name(), nv.const_value());
    return *this;
  }
  template <class U>
  boost_oarchive& operator<<(const U&) {
    static_assert(sizeof(U) == 0, "xgate: wrap every value in BOOST_SERIALIZATION_NVP so it gets an element name");
    return *this;
  }
  template <class U>
  boost_oarchive& operator&(const U& x) {
    return *this << x;
  }
  unsigned get_library_version() const { return 0; }
  template <class U>
  void register_type(const U* = nullptr) {}

 private:
  encoder& e_;
};

class boost_iarchive {
 public:
  using is_saving = boost::mpl::false_;
  using is_loading = boost::mpl::true_;
  boost_iarchive(decoder& d, xnode parent) : d_(d), parent_(parent), cursor_(d.first_element(parent)) {}
  template <class U>
  boost_iarchive& operator>>(const boost::serialization::nvp<U>& nv) {
    if (!cursor_ || !name_is(cursor_, nv.name()))
      d_.fail(errc::missing_field, cursor_ ? cursor_ : parent_, std::string("expected <") + nv.name() + ">");
    decode_value(d_, cursor_, nv.value());
    cursor_ = d_.next_element(cursor_);
    return *this;
  }
  template <class U>
  boost_iarchive& operator>>(const U&) {
    static_assert(sizeof(U) == 0, "xgate: wrap every value in BOOST_SERIALIZATION_NVP so it gets an element name");
    return *this;
  }
  template <class U>
  boost_iarchive& operator&(const U& x) {
    return *this >> x;
  }
  unsigned get_library_version() const { return 0; }
  template <class U>
  void register_type(const U* = nullptr) {}
  xnode rest() const { return cursor_; }

 private:
  decoder& d_;
  xnode parent_, cursor_;
};

class boost_carchive {  // the raw-pointer pre-pass
 public:
  using is_saving = boost::mpl::true_;
  using is_loading = boost::mpl::false_;
  explicit boost_carchive(collector& c) : c_(c) {}
  template <class U>
  boost_carchive& operator<<(const boost::serialization::nvp<U>& nv) {
    collect_value(c_, nv.const_value());
    return *this;
  }
  template <class U>
  boost_carchive& operator&(const U& x) {
    return *this << x;
  }
  unsigned get_library_version() const { return 0; }
  template <class U>
  void register_type(const U* = nullptr) {}

 private:
  collector& c_;
};

template <class T>
void boost_encode(encoder& e, std::string_view tag, const T& v) {
  constexpr unsigned version = boost::serialization::version<T>::value;
  e.open(tag);
  if (std::uint32_t id = e.object_id(&v, typeid(T))) e.attr_id("xg:id", id);
  if constexpr (version != 0) e.attr_uint("xg:v", version);
  e.begin_children();
  boost_oarchive ar(e);
  boost::serialization::serialize_adl(ar, const_cast<T&>(v), version);
  e.end_children(tag);
}

template <class T>
void boost_decode(decoder& d, xnode n, T& v) {
  constexpr unsigned current = boost::serialization::version<T>::value;
  unsigned version = n.has_attribute("xg:v") ? d.version_of(n, type_display_name<T>(), current) : 0;
  if (n.has_attribute("xg:id")) d.register_inline(n, &v, typeid(T));
  boost_iarchive ar(d, n);
  boost::serialization::serialize_adl(ar, v, version);
  if (xnode rest = ar.rest(); rest && d.strict())
    d.fail(errc::unknown_field, rest, "unknown field <" + std::string(rest.name()) + ">");
}

template <class T>
void boost_collect(collector& c, const T& v) {
  boost_carchive ar(c);
  boost::serialization::serialize_adl(ar, const_cast<T&>(v), boost::serialization::version<T>::value);
}

}  // namespace xgate::detail
