// The error model (base/error.hpp, docs/errors.md): one exception type, codes in categories,
// conditions that say what a caller does.
#include <gtest/gtest.h>

#include <xgate/base/error.hpp>

namespace xgate {
namespace {

TEST(ErrorModel, NetworkCodesCompareAsCodesAndAsConditions) {
  error e(net_errc::timed_out, "http://h:1/store/a: read response: timed out after 5 ms");
  EXPECT_EQ(e.code(), net_errc::timed_out);
  EXPECT_NE(e.code(), net_errc::unreachable);
  EXPECT_EQ(e.code(), condition::unavailable);
  EXPECT_TRUE(e.retryable());
  EXPECT_EQ(code_name(e.code()), "timed_out");
  EXPECT_EQ(e.code().message(), "no answer within the configured time");
  EXPECT_STREQ(e.code().category().name(), "xgate.net");
  EXPECT_STREQ(e.what(), "http://h:1/store/a: read response: timed out after 5 ms");
}

TEST(ErrorModel, OnlyUnavailableAndConflictAreWorthARetry) {
  EXPECT_FALSE(error(net_errc::bad_address, "x").retryable());
  EXPECT_FALSE(error(net_errc::bad_response, "x").retryable());
  EXPECT_TRUE(error(net_errc::busy, "x").retryable());
  EXPECT_FALSE(retryable(std::make_error_code(std::errc::io_error)));
}

TEST(ErrorModel, CategoriesNameTheirCodesBothWays) {
  const code_category& c = net_category();
  EXPECT_STREQ(c.code_name(static_cast<int>(net_errc::busy)), "busy");
  EXPECT_STREQ(c.code_name(999), "unknown");
  EXPECT_EQ(c.value_as<net_errc>("unreachable"), net_errc::unreachable);
  EXPECT_EQ(c.value_as<net_errc>("nonsense"), std::nullopt);
  EXPECT_EQ(c.message(999), "unknown error 999");
  EXPECT_EQ(std::error_code(999, c), condition::internal);  // an unknown code is nobody's to retry
  EXPECT_STREQ(to_string(condition::failed_precondition), "failed_precondition");
}

}  // namespace
}  // namespace xgate
