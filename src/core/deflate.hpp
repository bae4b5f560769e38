// Raw DEFLATE streams (RFC 1951, zlib without its header) for IMAP
// COMPRESS=DEFLATE (RFC 4978): each direction of a connection is one
// stream; what is written is flushed at once (Z_SYNC_FLUSH) so that every
// response reaches the client without waiting for more.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace poshta::core {

class Deflater {
 public:
  Deflater();
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  std::string compress(std::string_view data);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

class Inflater {
 public:
  Inflater();
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  // nullopt when the input is not a valid stream (the connection ends).
  std::optional<std::string> decompress(std::string_view data);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace poshta::core
