// A fresh store directory per test, removed afterwards.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <utility>
#include <filesystem>
#include <string>

#include <xgate/store/error.hpp>
#include <xgate/xmlcodec/error.hpp>

namespace xgate::store::testing {

inline std::filesystem::path fresh_dir() {
  static std::atomic<int> counter{0};
  const ::testing::TestInfo* t = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("xgate-store-" + std::to_string(::getpid()) + "-" + t->test_suite_name() + "-" +
                               t->name() + "-" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  return dir;
}

class StoreTest : public ::testing::Test {
 protected:
  std::filesystem::path dir = fresh_dir();
  ~StoreTest() override { std::filesystem::remove_all(dir); }
};

// An xgate document frame around body, with the given rights attributes.
inline std::string xgate_doc(const std::string& rights_attrs, const std::string& body = "<v>1</v>") {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xg:doc xmlns:xg=\"urn:xgate:1\">\n  <xg:rights " + rights_attrs +
         "/>\n  " + body + "\n</xg:doc>\n";
}

// The store_error f throws (a test failure when it throws none).
template <class F>
store_error catch_store_error(F&& f) {
  try {
    f();
  } catch (const store_error& e) {
    return e;
  }
  ADD_FAILURE() << "no store_error thrown";
  return store_error(store_errc::lmdb, "none", "", "none");
}

template <class F>
store_errc store_errc_of(F&& f) {
  return catch_store_error(std::forward<F>(f)).reason();
}

// "PRINCIPAL RIGHT DOCUMENT" of the xgate::access_denied f throws; "not denied" otherwise.
template <class F>
std::string denied(F&& f) {
  try {
    f();
  } catch (const xgate::access_denied& e) {
    return e.principal() + " " + e.right() + " " + e.document();
  }
  return "not denied";
}

}  // namespace xgate::store::testing
