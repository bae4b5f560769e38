// The control socket, <data_dir>/control.sock (mode 0600): how `poshta
// queue ...` reaches a running server. One request line per connection
// ("list", "show ID", "flush [ID]", "hold ID", "release ID", "delete ID");
// the answer is a status line ("ok" or "error <why>") and then, for list
// and show, envelopes in the spool's text format (show: followed by the
// message's header section), until the server closes the connection.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "delivery/runner.hpp"
#include "net/server.hpp"

namespace poshta::cli {

// Listens on `path` (an old socket file there is replaced). Throws on failure.
void serve_control(net::Server& server, delivery::Runner& runner, const std::filesystem::path& path);

// The answer to one request line. Blocks (the runner may write the spool).
std::string control_answer(delivery::Runner& runner, std::string_view request);

}  // namespace poshta::cli
