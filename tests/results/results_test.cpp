// Results by reference: publish, lazy gates, references as XML, and narrower child
// references (the payroll example: one group may start a run, another may read the
// paychecks it produces).
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <xgate/client/http_session.hpp>
#include <xgate/results/results.hpp>
#include <xgate/server/http_server.hpp>
#include <xgate/store/store.hpp>

#include "test_dir.hpp"

namespace xr = xgate::results;
namespace xs = xgate::store;
using xgate::right;
using xs::testing::store_errc_of;
using xs::testing::denied;

namespace payroll {
struct Request {
  std::string month;
  std::vector<std::string> employees;
};
XGATE_TYPE(Request, "test.payroll.Request", 1, (), (month, employees))

struct Paycheck {
  std::string employee;
  std::int64_t cents = 0;
  friend bool operator==(const Paycheck&, const Paycheck&) = default;
};
XGATE_TYPE(Paycheck, "test.payroll.Paycheck", 1, (), (employee, cents))

struct Summary {
  std::string month;
  std::int64_t total_cents = 0;
  std::vector<xr::result_ref> paychecks;  // references travel inside results
};
XGATE_TYPE(Summary, "test.payroll.Summary", 1, (), (month, total_cents, paychecks))
}  // namespace payroll

namespace {

xr::grant_options grant(xs::right_set rights, bool subtree = false) {
  xr::grant_options g;
  g.rights = rights;
  g.subtree = subtree;
  return g;
}

// The payroll service: reads the request its run received and publishes a paycheck per
// employee and a summary that refers to them.
xr::result_ref run_payroll(xs::session& svc, const std::string& run) {
  auto request = xgate::from_xml<payroll::Request>(svc.read(run + "/request").xml, {.principal = svc.principal()});
  payroll::Summary summary{request.month, 0, {}};
  std::int64_t cents = 100000;
  for (const std::string& e : request.employees) {
    payroll::Paycheck p{e, cents += 1234};
    summary.total_cents += p.cents;
    summary.paychecks.push_back(xr::publish(svc, run + "/paychecks/" + e, p));
  }
  return xr::publish(svc, run + "/summary", summary);
}

// The store fixture (a fresh directory per test) under this suite's own name.
class Results : public xs::testing::StoreTest {};

}  // namespace

TEST_F(Results, AGateFetchesLazilyOnceWithItsCredential) {
  xs::store s(dir);
  auto svc = xs::local_session(s, "payroll");
  xr::result_ref ref = xr::reference(*svc, "r/paycheck", grant({right::read}), "test.payroll.Paycheck");
  xr::results_gate<payroll::Paycheck> gate(ref, xr::opener_for(s));
  EXPECT_FALSE(gate.fetched());  // nothing stored yet, and nothing asked for
  xr::put(*svc, "r/paycheck", payroll::Paycheck{"ann", 4200});
  EXPECT_EQ(gate->cents, 4200);
  EXPECT_TRUE(gate.fetched());
  std::uint64_t fetched_at = gate.revision();
  xr::put(*svc, "r/paycheck", payroll::Paycheck{"ann", 4300});
  EXPECT_EQ(gate->cents, 4200);  // fetched once
  gate.refresh();
  EXPECT_EQ(gate->cents, 4300);
  EXPECT_GT(gate.revision(), fetched_at);
}

TEST_F(Results, AReferenceTravelsAsXml) {
  xs::store s(dir);
  auto svc = xs::local_session(s, "payroll");
  xr::result_ref ref = xr::publish(*svc, "r/p", payroll::Paycheck{"bo", 1});
  EXPECT_EQ(ref.store, svc->address());
  EXPECT_EQ(ref.name, "r/p");
  EXPECT_EQ(ref.type, "test.payroll.Paycheck");
  std::string xml = xgate::to_xml(ref);
  EXPECT_NE(xml.find("xgate.ResultRef"), std::string::npos);
  xr::result_ref back = xgate::from_xml<xr::result_ref>(xml);
  EXPECT_EQ(back, ref);
  xr::results_gate<payroll::Paycheck> gate(back, xr::opener_for(s));
  EXPECT_EQ(*gate, (payroll::Paycheck{"bo", 1}));
}

TEST_F(Results, AGateRefusesAReferenceToAnotherType) {
  xs::store s(dir);
  auto svc = xs::local_session(s, "payroll");
  xr::result_ref ref = xr::publish(*svc, "r/p", payroll::Paycheck{"bo", 1});
  try {
    xr::results_gate<payroll::Summary> gate(ref, xr::opener_for(s));
    FAIL() << "accepted";
  } catch (const xgate::error& e) {
    EXPECT_EQ(e.code(), xgate::errc::wrong_root_type);
    EXPECT_EQ(std::string(e.what()), "result " + ref.store + "/r/p: the reference is to a test.payroll.Paycheck, not a test.payroll.Summary");
  }
}

TEST_F(Results, PayrollStartersAndPaycheckReadersHoldNarrowerChildReferences) {
  xs::store s(dir);
  xr::session_opener open = xr::opener_for(s);
  auto svc = xs::local_session(s, "payroll");
  const std::string run = "payroll/2026-11";

  // The service's reference to the whole run, and two narrower children of it.
  xr::result_ref run_ref = xr::reference(*svc, run, grant({right::read, right::write}, true));
  xr::result_ref start_ref = xr::narrow(run_ref, grant({right::write}), run + "/request", "test.payroll.Request", open);
  xr::result_ref paychecks_ref = xr::narrow(run_ref, grant({right::read}, true), run + "/paychecks", {}, open);

  // HR starts the run: it may deliver the request, and do nothing else.
  auto hr = open(start_ref);
  xr::put(*hr, start_ref.name, payroll::Request{"2026-11", {"ann", "bo", "cy"}});
  EXPECT_EQ(denied([&] { hr->read(start_ref.name); }), "payroll read payroll/2026-11/request");
  EXPECT_EQ(denied([&] { (void)xr::narrow(start_ref, grant({right::read}), {}, {}, open); }),
            "payroll issue credential payroll/2026-11/request");

  xr::result_ref summary_ref = run_payroll(*svc, run);

  // Accounting reads the paychecks, through a child reference per paycheck, and nothing else.
  xr::result_ref bo_ref = xr::narrow(paychecks_ref, grant({right::read}), run + "/paychecks/bo", "test.payroll.Paycheck", open);
  xr::results_gate<payroll::Paycheck> bo(bo_ref, open);
  EXPECT_EQ(bo->employee, "bo");
  EXPECT_EQ(bo->cents, 100000 + 2 * 1234);
  auto accounting = open(paychecks_ref);
  EXPECT_EQ(accounting->list(run).size(), 3u);  // the three paychecks, not the request or summary
  EXPECT_EQ(denied([&] { accounting->read(run + "/request"); }), "payroll read payroll/2026-11/request");
  EXPECT_EQ(denied([&] { accounting->read(run + "/summary"); }), "payroll read payroll/2026-11/summary");
  EXPECT_EQ(denied([&] { xr::put(*accounting, run + "/paychecks/bo", payroll::Paycheck{"bo", 1}); }),
            "payroll write payroll/2026-11/paychecks/bo");
  EXPECT_EQ(denied([&] { (void)xr::narrow(paychecks_ref, grant({right::read, right::del}), {}, {}, open); }),
            "payroll issue credential payroll/2026-11/paychecks");
  EXPECT_EQ(denied([&] { (void)xr::narrow(paychecks_ref, grant({right::read}), run + "/summary", {}, open); }),
            "payroll issue credential payroll/2026-11/summary");
  // HR cannot read what the run produced.
  EXPECT_EQ(denied([&] { hr->read(run + "/paychecks/bo"); }), "payroll read payroll/2026-11/paychecks/bo");

  // The summary refers to the paychecks; whoever holds it can follow the references.
  xr::results_gate<payroll::Summary> summary(summary_ref, open);
  ASSERT_EQ(summary->paychecks.size(), 3u);
  xr::results_gate<payroll::Paycheck> cy(summary->paychecks[2], open);
  EXPECT_EQ(cy->employee, "cy");
  EXPECT_EQ(summary->total_cents, 3 * 100000 + (1 + 2 + 3) * 1234);

  // Revoking the run's credential revokes every reference issued through it.
  s.revoke_credential(s.authenticate(run_ref.credential).credential_id(), "payroll");
  xr::results_gate<payroll::Paycheck> bo_again(bo_ref, open);
  EXPECT_EQ(store_errc_of([&] { (void)bo_again.get(); }), xs::store_errc::bad_credential);
  EXPECT_FALSE(bo_again.fetched());
  EXPECT_EQ(cy->employee, "cy");  // issued through the service's own principal, not the run's credential
}

TEST_F(Results, AFailedFetchLeavesTheGateEmptyAndIsRetried) {
  xs::store s(dir);
  auto svc = xs::local_session(s, "payroll");
  xr::result_ref ref = xr::reference(*svc, "r/late", grant({right::read}), "test.payroll.Paycheck");
  xr::results_gate<payroll::Paycheck> gate(ref, xr::opener_for(s));
  EXPECT_EQ(store_errc_of([&] { (void)gate.get(); }), xs::store_errc::not_found);
  EXPECT_FALSE(gate.fetched());
  s.write("r/late", "<not-xgate/>", "payroll");
  EXPECT_THROW((void)gate.get(), xgate::decode_error);
  EXPECT_FALSE(gate.fetched());
  xr::put(*svc, "r/late", payroll::Paycheck{"di", 7});
  EXPECT_EQ(gate->cents, 7);
}

// The same references across the network: the service publishes through xgated, the
// holders fetch through the default opener, which reaches "http://" stores by HTTP.
TEST_F(Results, ReferencesWorkThroughXgated) {
  xs::store s(dir);
  xgate::server::http_server server(s, {});
  server.start();
  std::string login = s.issue_credential("payroll", xs::credential_request{});
  auto svc = xgate::client::http_session(server.url(), login);
  EXPECT_EQ(svc->principal(), "payroll");

  const std::string run = "payroll/2026-12";
  xr::result_ref run_ref = xr::reference(*svc, run, grant({right::read, right::write}, true));
  EXPECT_EQ(run_ref.store, server.url());
  xr::result_ref start_ref = xr::narrow(run_ref, grant({right::write}), run + "/request", "test.payroll.Request");
  xr::result_ref paychecks_ref = xr::narrow(run_ref, grant({right::read}, true), run + "/paychecks");

  auto hr = xr::default_opener()(start_ref);
  xr::put(*hr, start_ref.name, payroll::Request{"2026-12", {"ann", "bo"}});
  EXPECT_EQ(denied([&] { hr->read(start_ref.name); }), "payroll read payroll/2026-12/request");

  run_payroll(*svc, run);
  xr::result_ref bo_ref = xr::narrow(paychecks_ref, grant({right::read}), run + "/paychecks/bo", "test.payroll.Paycheck");
  xr::results_gate<payroll::Paycheck> bo(xgate::from_xml<xr::result_ref>(xgate::to_xml(bo_ref)));
  EXPECT_FALSE(bo.fetched());
  EXPECT_EQ(bo->employee, "bo");
  EXPECT_EQ(denied([&] { (void)xr::narrow(paychecks_ref, grant({right::write}, true)); }),
            "payroll issue credential payroll/2026-12/paychecks");

  svc.reset();
  hr.reset();
  server.stop();
}
