// delivery::deliver_local: one delivery attempt for every local recipient
// that is due in a batch of messages. They go into their Maildir with
// Return-Path and Delivered-To prepended: every copy of the batch is
// written (unnamed files in tmp/), one GroupSync flush makes their data
// durable, all are linked into new/, and a second flush makes the links
// durable. Two flushes per batch, whatever its size, is what makes the queue
// runner fast. A failure defers the recipient to its next retry. Blocks.
#pragma once

#include <cstdint>
#include <span>

#include "core/group_sync.hpp"
#include "delivery/message.hpp"
#include "queue/schedule.hpp"
#include "store/maildir.hpp"

namespace poshta::delivery {

void deliver_local(store::Maildir& maildir, core::GroupSync& flush, std::span<Message* const> batch,
                   const queue::RetryPolicy& retry, std::int64_t now);

}  // namespace poshta::delivery
