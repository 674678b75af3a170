// read_xmpp_archive: the account's XEP-0313 archive, paged with RSM, chunks reassembled.
#include <map>

#include <xgate/channel/error.hpp>
#include <xgate/channel/xmpp.hpp>
#include <xgate/base/text.hpp>

#include "xmpp_session.hpp"

namespace xgate::channel {

using namespace xmpp_detail;

std::vector<envelope> read_xmpp_archive(std::string_view url, const xmpp_options& options, std::string_view with,
                                        std::chrono::milliseconds timeout) {
  xmpp_url u = parse_url(url);
  if (options.password.empty())
    throw channel_error(channel_errc::bad_auth, "hub URL \"" + xgate::printable(url) + "\": no password for the XMPP account");
  session s(u, options.password, options.ca_file.empty() ? u.ca : options.ca_file, timeout);
  if (!s.up()) throw channel_error(channel_errc::bad_auth, s.refusal());

  struct item {
    envelope head;
    std::vector<std::optional<std::string>> parts;
    std::size_t got = 0;
  };
  std::vector<item> items;  // in archive order of their first part
  std::map<std::string, std::size_t> by_id;
  const std::string query_id = "xgate-archive";
  std::string iq_id, last, failure;
  bool answered = false, complete = false;

  s.on_message = [&](xmpp_stanza_t* st) {
    xmpp_stanza_t* result = xmpp_stanza_get_child_by_name_and_ns(st, "result", ns_mam);
    if (!result || attr(result, "queryid") != query_id) return;
    xmpp_stanza_t* fwd = xmpp_stanza_get_child_by_name(result, "forwarded");
    xmpp_stanza_t* inner = fwd ? xmpp_stanza_get_child_by_name(fwd, "message") : nullptr;
    xmpp_stanza_t* x = inner ? xmpp_stanza_get_child_by_name_and_ns(inner, "x", ns_xgate) : nullptr;
    if (!x || !xmpp_stanza_get_attribute(x, "lseq")) return;  // acks and other traffic
    std::uint64_t part = 0, parts = 0;
    if (!parse_u64(attr(x, "part"), part) || !parse_u64(attr(x, "parts"), parts) || parts == 0 || part >= parts || parts > 65536)
      return;
    std::string id = attr(x, "id");
    auto [it, fresh] = by_id.emplace(id, items.size());
    if (fresh) items.push_back(item{header_of(x), std::vector<std::optional<std::string>>(parts), 0});
    item& i = items[it->second];
    if (i.parts.size() != parts || i.parts[part]) return;  // a resend of a part we have
    auto t = part_text(s.ctx(), x);
    if (!t) return;
    i.parts[part] = std::move(*t);
    ++i.got;
  };
  s.on_iq = [&](xmpp_stanza_t* st) {
    if (attr(st, "id") != iq_id) return;
    answered = true;
    if (attr(st, "type") == "error") {
      failure = "error";
      if (xmpp_stanza_t* err = xmpp_stanza_get_child_by_name(st, "error"))
        if (xmpp_stanza_t* c = xmpp_stanza_get_children(err))
          if (const char* n = xmpp_stanza_get_name(c)) failure = n;
      return;
    }
    xmpp_stanza_t* fin = xmpp_stanza_get_child_by_name_and_ns(st, "fin", ns_mam);
    if (!fin) {
      failure = "no <fin/> in the answer";
      return;
    }
    complete = attr(fin, "complete") == "true";
    last.clear();
    if (xmpp_stanza_t* set = xmpp_stanza_get_child_by_name(fin, "set"))
      if (xmpp_stanza_t* l = xmpp_stanza_get_child_by_name(set, "last")) last = text_of(s.ctx(), l);
  };

  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int page = 0;; ++page) {
    iq_id = "xgate-archive-" + std::to_string(page);
    answered = false;
    std::string q = "<iq type='set' id='" + iq_id + "'><query xmlns='" + ns_mam + "' queryid='" + query_id +
                    "'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>" + ns_mam +
                    "</value></field>";
    if (!with.empty()) {
      q += "<field var='with'><value>";
      append_xml_escaped(q, xmpp_localpart(with) + "@" + u.domain);
      q += "</value></field>";
    }
    q += "</x><set xmlns='http://jabber.org/protocol/rsm'><max>200</max>";
    if (page > 0) {
      q += "<after>";
      append_xml_escaped(q, last);
      q += "</after>";
    }
    q += "</set></query></iq>";
    s.send(q);
    while (!answered && !s.ended() && std::chrono::steady_clock::now() < deadline) s.run_once(std::chrono::milliseconds(10));
    if (!answered)
      throw std::system_error(std::make_error_code(std::errc::timed_out),
                              u.url + ": no answer to the archive query" + (s.ended() ? " (" + s.end_reason() + ")" : ""));
    if (!failure.empty())
      throw channel_error(channel_errc::protocol, u.url + ": the server refused the archive query (" + failure +
                                                      "; is message archiving, XEP-0313, enabled?)");
    if (complete || last.empty()) break;
  }

  std::vector<envelope> out;
  for (auto& i : items) {
    if (i.got < i.parts.size()) continue;  // a part the archive does not hold (expired)
    envelope e = std::move(i.head);
    for (auto& p : i.parts) e.body += *p;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace xgate::channel
