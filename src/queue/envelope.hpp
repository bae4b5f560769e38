// queue::Envelope: everything about a queued message except its content:
// sender, DSN parameters, and each recipient with its delivery state. It is
// stored beside the content in the spool, in a small line-based text format
// of Poshta's own (see serialize_envelope), and replaced atomically when a
// recipient's state changes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poshta::queue {

enum class RecipientState : std::uint8_t { pending, deferred, delivered, failed };
const char* state_name(RecipientState s);

struct EnvelopeRecipient {
  std::string address;      // where it goes (after alias expansion), canonical
  bool local = false;       // a mailbox here, else relayed
  std::string original;     // the RCPT TO address that led here
  std::uint8_t notify = 0;  // RFC 3461 NOTIFY bits (smtp::notify)
  std::string orcpt;        // RFC 3461 ORCPT, xtext
  RecipientState state = RecipientState::pending;
  std::uint32_t attempts = 0;
  std::int64_t next_attempt = 0;  // unix seconds
  std::string last_error;
};

struct Envelope {
  std::string id;
  std::int64_t arrived = 0;  // unix seconds
  std::string sender;        // empty for the null reverse-path
  std::uint64_t size = 0;    // content octets
  std::uint32_t crc = 0;     // CRC-32 of the content
  std::string ret;           // "FULL", "HDRS" or empty
  std::string envid;         // xtext or empty
  std::string body;          // "7BIT", "8BITMIME" or empty
  bool smtputf8 = false;
  bool held = false;
  std::vector<EnvelopeRecipient> recipients;

  bool finished() const;  // every recipient delivered or failed
  // Adds a recipient unless one with the same address is there already (one
  // delivery per destination, however many ways lead to it).
  void add_recipient(EnvelopeRecipient r);
};

std::string serialize_envelope(const Envelope& env);
// nullopt if the text is not a complete envelope (e.g. truncated by a crash).
std::optional<Envelope> parse_envelope(std::string_view text);

}  // namespace poshta::queue
