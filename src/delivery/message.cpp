#include "delivery/message.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "smtp/reply_reader.hpp"

namespace poshta::delivery {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool is_due(const queue::EnvelopeRecipient& r, std::int64_t now) {
  return r.state == queue::RecipientState::pending ||
         (r.state == queue::RecipientState::deferred && r.next_attempt <= now);
}

namespace {

std::string status_of(const Attempt& a) {
  if (!a.status.empty()) return a.status;
  // The text starts with the reply code, then perhaps an enhanced code.
  std::string_view text = a.text;
  if (text.size() > 4 && text.substr(0, 3) == std::to_string(a.code)) text.remove_prefix(4);
  if (auto enhanced = smtp::leading_enhanced_code(text); !enhanced.empty() && enhanced[0] == '0' + a.code / 100) {
    return std::string(enhanced);
  }
  return std::to_string(a.code / 100) + ".0.0";
}

void notice(Message& m, const queue::EnvelopeRecipient& r, queue::DsnRecipient::Action action, const Attempt& a,
            std::int64_t now) {
  m.notices.push_back({r.address, r.orcpt, action, status_of(a), a.remote_mta, a.text, now, 0});
}

}  // namespace

void record(Message& m, queue::EnvelopeRecipient& r, const Attempt& a, const queue::RetryPolicy& retry,
            std::int64_t now) {
  using queue::DsnRecipient;
  using queue::RecipientState;
  m.changed = true;
  ++r.attempts;
  const std::string& id = m.env.id;
  if (a.code >= 200 && a.code < 300) {
    r.state = RecipientState::delivered;
    r.last_error.clear();
    spdlog::info("delivery queue_id={} rcpt={} relay={} result=delivered reply=\"{}\"", id, r.address, a.relay, a.text);
    // RFC 3461 §6.2.1: a next hop that took NOTIFY reports success itself.
    const auto action = a.remote_mta.empty() ? DsnRecipient::Action::delivered : DsnRecipient::Action::relayed;
    if (queue::report_wanted(r.notify, action) && !a.dsn_passed_on) notice(m, r, action, a, now);
    return;
  }
  // As Postfix's "host X said:": which host answered matters to whoever reads the queue.
  r.last_error = a.remote_mta.empty() ? a.text : a.relay + " said: " + a.text;
  const bool give_up = a.code >= 500 || queue::expired(retry, m.env.arrived, now);
  if (!give_up) {
    r.state = RecipientState::deferred;
    r.next_attempt = queue::next_attempt(retry, r.attempts, now);
    spdlog::warn("delivery queue_id={} rcpt={} relay={} result=deferred attempts={} next_in={}s error=\"{}\"", id,
                 r.address, a.relay, r.attempts, r.next_attempt - now, r.last_error);
    return;
  }
  r.state = RecipientState::failed;
  if (a.code < 500) r.last_error = "gave up after " + std::to_string(r.attempts) + " attempts: " + r.last_error;
  spdlog::warn("delivery queue_id={} rcpt={} relay={} result=failed attempts={} error=\"{}\"", id, r.address, a.relay,
               r.attempts, r.last_error);
  if (queue::report_wanted(r.notify, DsnRecipient::Action::failed)) {
    Attempt final = a;
    if (a.code < 500) {  // timed out: a permanent status of the same detail
      final.status = "5" + status_of(a).substr(1);
    }
    notice(m, r, DsnRecipient::Action::failed, final, now);
  }
}

}  // namespace poshta::delivery
