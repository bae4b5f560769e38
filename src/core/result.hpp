// core::Result<T>: a value or an std::error_code, returned across module
// boundaries on hot paths instead of throwing (C++20 has no std::expected).
#pragma once

#include <system_error>
#include <utility>
#include <variant>

namespace poshta::core {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(std::error_code ec) : v_(ec) {}     // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  std::error_code error() const { return ok() ? std::error_code{} : std::get<1>(v_); }

 private:
  std::variant<T, std::error_code> v_;
};

inline std::error_code errno_code(int e) {
  return {e, std::generic_category()};
}

}  // namespace poshta::core
