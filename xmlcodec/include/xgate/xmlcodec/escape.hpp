// Escaping text for XML built by hand (a protocol's envelope around documents, a batch of
// documents in one body). Escapes & < > " ' and, as character references, TAB, LF and CR,
// so the result is exact both as element text and as an attribute value: a parser's
// end-of-line handling and attribute normalization cannot change it. Other bytes pass
// unchanged; the caller must not pass bytes XML cannot carry (control characters,
// invalid UTF-8): there is no escape for them in XML 1.0.
#pragma once

#include <string>
#include <string_view>

namespace xgate {

void append_xml_escaped(std::string& out, std::string_view text);
[[nodiscard]] std::string xml_escaped(std::string_view text);

}  // namespace xgate
