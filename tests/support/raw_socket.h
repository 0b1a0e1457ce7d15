// SPDX-License-Identifier: AGPL-3.0-or-later
// A blocking loopback TCP client for tests that speak raw HTTP to a server (no client-side normalisation of
// paths, pipelining, slow or truncated requests).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace focal::test_support {

class Socket {
 public:
  explicit Socket(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  Socket(Socket&& other) noexcept : fd_(other.fd_), connected_(other.connected_) { other.fd_ = -1; }

  bool connected() const { return connected_; }
  bool send(std::string_view data) const {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Reads until `needle` has been seen `count` times, the peer closes, or the timeout passes.
  std::string read_until(std::string_view needle, int count, std::chrono::milliseconds timeout) const {
    std::string data;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto seen = [&] {
      int n = 0;
      for (auto pos = data.find(needle); pos != std::string::npos; pos = data.find(needle, pos + 1)) ++n;
      return n;
    };
    while (seen() < count && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 1))) <= 0) break;
      char buffer[65536];
      const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      data.append(buffer, static_cast<std::size_t>(n));
    }
    return data;
  }
  // Everything until the peer closes (or the timeout passes).
  std::string read_to_close(std::chrono::milliseconds timeout) const {
    return read_until(std::string_view("\0never\0", 7), 1, timeout);
  }
  // True when the peer has closed (EOF or reset) within the timeout.
  bool closed_within(std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        char buffer[4096];
        const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n <= 0) return true;
      }
    }
    return false;
  }

 private:
  int fd_;
  bool connected_ = false;
};

}  // namespace focal::test_support
