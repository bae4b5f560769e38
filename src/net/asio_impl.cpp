// Asio's implementation, compiled once for the whole program
// (ASIO_SEPARATE_COMPILATION): every other file includes only its headers.
#include <asio/impl/src.hpp>
#include <asio/ssl/impl/src.hpp>
