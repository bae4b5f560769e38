// delivery::deliver_batch: one delivery attempt for every recipient that is
// due in a batch of messages. Local recipients go into their Maildir with
// Return-Path and Delivered-To prepended: every copy of the batch is
// written (unnamed files in tmp/), one GroupSync flush makes their data
// durable, all are linked into new/, and a second flush makes the links
// durable. Two flushes per batch, whatever its size, is what makes the queue
// runner fast. A failure defers the recipient to its next retry time;
// remote recipients wait (relay is not built yet). Blocks.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/group_sync.hpp"
#include "queue/envelope.hpp"
#include "queue/schedule.hpp"
#include "store/maildir.hpp"

namespace poshta::delivery {

struct BatchItem {
  queue::Envelope* envelope;
  std::string_view content;
  bool changed = false;  // set when a recipient's state changed
};

void deliver_batch(store::Maildir& maildir, core::GroupSync& flush, std::span<BatchItem> batch,
                   const queue::RetryPolicy& retry, std::int64_t now);

std::int64_t unix_now();

}  // namespace poshta::delivery
