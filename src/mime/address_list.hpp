// mime::addresses_in: the addr-specs of an RFC 5322 address-list (§3.4) as
// found in To, Cc and Bcc: display names, comments, quoted strings and
// groups are skipped, "Name <a@b>" gives a@b, a bare a@b gives itself.
// Lenient about what it cannot parse (it skips it): sendmail -t uses it on
// whatever a program wrote.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace poshta::mime {

std::vector<std::string> addresses_in(std::string_view value);

}  // namespace poshta::mime
