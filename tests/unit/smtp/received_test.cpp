// smtp/received: the trace field prepended to every accepted message.
#include "smtp/received.hpp"

#include <gtest/gtest.h>

#include "mime/date.hpp"

namespace poshta::smtp {
namespace {

ReceivedInfo info(std::string peer) {
  ReceivedInfo i;
  i.helo = "client.example";
  i.peer_ip = std::move(peer);
  i.hostname = "mx.test";
  i.protocol = "ESMTP";
  i.queue_id = "0123456789abcdef";
  i.when = 1795675669;  // Thu, 26 Nov 2026 ...
  return i;
}

TEST(Received, NamesClientServerProtocolIdAndDate) {
  EXPECT_EQ(received_field(info("192.0.2.7")),
            "Received: from client.example ([192.0.2.7])\r\n"
            "\tby mx.test (Poshta) with ESMTP id 0123456789abcdef; " +
                mime::rfc5322_date(1795675669) + "\r\n");
}

TEST(Received, IPv6ClientIsAnIPv6AddressLiteral) {
  EXPECT_NE(received_field(info("2001:db8::1")).find("from client.example ([IPv6:2001:db8::1])"), std::string::npos);
}

TEST(Received, SingleRecipientIsNamedInAForClause) {
  auto i = info("192.0.2.7");
  i.recipient = "you@example.org";
  EXPECT_NE(received_field(i).find("\r\n\tfor <you@example.org>; "), std::string::npos);
}

TEST(Received, DateIsRfc5322InUtc) {
  EXPECT_EQ(mime::rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(mime::rfc5322_date(1795675669), "Thu, 26 Nov 2026 06:47:49 +0000");
}

}  // namespace
}  // namespace poshta::smtp
