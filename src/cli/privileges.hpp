// Least privilege. Poshta's data belongs to one unprivileged user (`user`
// in the configuration, "poshta" by default). Started as root, a command
// first does what needs root (the server binds its ports and reads its TLS
// key), then enters data_dir and becomes that user for good, before it
// reads any network input or touches any data. From then on every path is
// relative to data_dir, so the directories above it need not be open to
// that user. Started as another user, a command runs as that user, in
// data_dir as well.
#pragma once

#include <string>

#include "core/config.hpp"

namespace poshta::cli {

// Makes data_dir where missing (when root: hands it to `config.user`,
// everything in it too if it was not that user's yet), chdir()s into it
// and, when root, gives up root: supplementary groups, group and user, for
// good. Then `config.data_dir` is "." . On failure returns what went
// wrong, in a sentence that says what to do; empty on success.
std::string enter_data_dir(core::Config& config);

}  // namespace poshta::cli
