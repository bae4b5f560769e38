#include "core/deflate.hpp"

#include <zlib.h>

namespace poshta::core {

namespace {

constexpr int kRawWindowBits = -15;  // negative: raw deflate, as RFC 4978 §4 asks
constexpr std::size_t kChunk = 16384;

}  // namespace

struct Deflater::State {
  z_stream z{};
};

Deflater::Deflater() : state_(std::make_unique<State>()) {
  // memLevel 8 and a full window: about 256 KiB per compressing connection.
  deflateInit2(&state_->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kRawWindowBits, 8, Z_DEFAULT_STRATEGY);
}

Deflater::~Deflater() {
  deflateEnd(&state_->z);
}

std::string Deflater::compress(std::string_view data) {
  std::string out;
  auto& z = state_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  char buf[kChunk];
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    deflate(&z, Z_SYNC_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  } while (z.avail_out == 0);
  return out;
}

struct Inflater::State {
  z_stream z{};
  bool broken = false;
};

Inflater::Inflater() : state_(std::make_unique<State>()) {
  inflateInit2(&state_->z, kRawWindowBits);
}

Inflater::~Inflater() {
  inflateEnd(&state_->z);
}

std::optional<std::string> Inflater::decompress(std::string_view data) {
  if (state_->broken) return std::nullopt;
  std::string out;
  auto& z = state_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  char buf[kChunk];
  int rc = Z_OK;
  do {  // until the input is used up and zlib has nothing more to give
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_SYNC_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) {
      state_->broken = true;
      return std::nullopt;
    }
  } while (rc == Z_OK && (z.avail_out == 0 || z.avail_in > 0));
  return out;
}

}  // namespace poshta::core
