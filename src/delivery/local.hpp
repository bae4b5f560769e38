// delivery::attempt_delivery: one delivery attempt for every recipient of a
// message that is due now. Local recipients go into their Maildir (written
// and fsync'd, linked into new/, then one GroupSync flush for all of them)
// with Return-Path and Delivered-To prepended; a failure defers the
// recipient to its next retry time. Remote recipients wait (relay is not built yet). Used both before
// the 250 (a message whose recipients are all local goes straight to the
// mailboxes, no spool write) and by the queue runner. Blocks on fsync.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/group_sync.hpp"
#include "queue/envelope.hpp"
#include "queue/schedule.hpp"
#include "store/maildir.hpp"

namespace poshta::delivery {

// Returns true if any recipient changed state.
bool attempt_delivery(store::Maildir& maildir, core::GroupSync& sync, queue::Envelope& env, std::string_view content,
                      const queue::RetryPolicy& retry, std::int64_t now);

bool all_local(const queue::Envelope& env);
std::int64_t unix_now();

}  // namespace poshta::delivery
