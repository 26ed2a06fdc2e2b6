#include "serve/client/client_socket.hpp"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>

#include "serve/tls/openssl_util.hpp"

namespace devops::serve {

ClientSocket::ClientSocket(const core::HttpTarget& t, Clock::time_point deadline) : deadline_(deadline) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const auto port = std::to_string(t.port);
  if (::getaddrinfo(t.host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
    error_ = NetError::Resolve;
    return;
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  error_ = NetError::Connection;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    core::Fd fd(::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) continue;
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        error_ = from_errno(errno);
        continue;
      }
      pollfd p{fd.get(), POLLOUT, 0};
      const int ready = ::poll(&p, 1, ms_left());
      if (ready == 0) {
        error_ = NetError::TimedOut;
        return;
      }
      int err = 0;
      socklen_t len = sizeof err;
      if (ready < 0 || ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        error_ = from_errno(err != 0 ? err : errno);
        continue;
      }
    }
    error_ = NetError::None;
    fd_ = std::move(fd);
    return;
  }
  if (error_ == NetError::Other) error_ = NetError::Connection;
}

ClientSocket::~ClientSocket() {
  SSL_free(ssl_);
  SSL_CTX_free(ctx_);
}

bool ClientSocket::wait_for(bool write) {
  pollfd p{fd_.get(), static_cast<short>(write ? POLLOUT : POLLIN), 0};
  if (Clock::now() < deadline_ && ::poll(&p, 1, ms_left()) > 0) return true;
  error_ = NetError::TimedOut;
  return false;
}

bool ClientSocket::start_tls(const TlsClientOptions& o, const std::string& host, std::string_view alpn) {
  auto fail = [this](std::string why) {
    error_ = NetError::Tls;
    problem_ = std::move(why);
    return false;
  };
  ERR_clear_error();
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx_ == nullptr) return fail(openssl_error("cannot make a TLS context"));
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  if (!o.insecure) {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (!o.cacert.empty()) {
      if (SSL_CTX_load_verify_locations(ctx_, o.cacert.c_str(), nullptr) != 1) {
        return fail(openssl_error("cannot read --cacert " + o.cacert));
      }
    } else {
      SSL_CTX_set_default_verify_paths(ctx_);
    }
  }
  if (!o.cert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx_, o.cert.c_str()) != 1) {
      return fail(openssl_error("cannot read --cert " + o.cert));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx_, (o.key.empty() ? o.cert : o.key).c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx_) != 1) {
      return fail(openssl_error("cannot use --key " + (o.key.empty() ? o.cert : o.key)));
    }
  }
  ssl_ = SSL_new(ctx_);
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_.get()) != 1) return fail(openssl_error("cannot start TLS"));
  if (!expect_server(ssl_, host, !o.insecure)) return fail(openssl_error("cannot verify for " + host));
  if (!alpn.empty()) {
    SSL_set_alpn_protos(ssl_, reinterpret_cast<const unsigned char*>(alpn.data()), static_cast<unsigned>(alpn.size()));
  }
  while (true) {
    ERR_clear_error();
    const int r = SSL_connect(ssl_);
    if (r == 1) return true;
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (!wait_for(e == SSL_ERROR_WANT_WRITE)) return false;
      continue;
    }
    if (const auto v = SSL_get_verify_result(ssl_); v != X509_V_OK) {
      ERR_clear_error();
      return fail(std::string("certificate verify failed: ") + X509_verify_cert_error_string(v));
    }
    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return fail("the server closed the connection");
    return fail(openssl_error("no TLS handshake"));
  }
}

int ClientSocket::ms_left() const {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
  return static_cast<int>(std::clamp<std::int64_t>(left, 0, 60'000));
}

bool ClientSocket::send_all(std::string_view data) {
  while (ssl_ != nullptr && !data.empty()) {
    ERR_clear_error();
    std::size_t n = 0;
    if (SSL_write_ex(ssl_, data.data(), data.size(), &n) == 1) {
      data.remove_prefix(n);
      continue;
    }
    const int e = SSL_get_error(ssl_, 0);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      ERR_clear_error();
      error_ = NetError::Write;
      return false;
    }
    if (!wait_for(e == SSL_ERROR_WANT_WRITE)) return false;
  }
  while (!data.empty()) {
    const auto n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      error_ = NetError::Write;
      return false;
    }
    pollfd p{fd_.get(), POLLOUT, 0};
    if (::poll(&p, 1, ms_left()) <= 0) {
      error_ = NetError::TimedOut;
      return false;
    }
  }
  return true;
}

ssize_t ClientSocket::receive(char* buf, std::size_t size) {
  while (ssl_ != nullptr) {
    ERR_clear_error();
    std::size_t n = 0;
    if (SSL_read_ex(ssl_, buf, size, &n) == 1) return static_cast<ssize_t>(n);
    const int e = SSL_get_error(ssl_, 0);
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
      ERR_clear_error();
      return 0;  // close_notify, or the end of the stream without one
    }
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      ERR_clear_error();
      error_ = NetError::Read;
      return -1;
    }
    if (!wait_for(e == SSL_ERROR_WANT_WRITE)) return -1;
  }
  while (true) {
    const auto n = ::recv(fd_.get(), buf, size, 0);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      error_ = NetError::Read;
      return -1;
    }
    pollfd p{fd_.get(), POLLIN, 0};
    if (Clock::now() >= deadline_ || ::poll(&p, 1, ms_left()) <= 0) {
      error_ = NetError::TimedOut;
      return -1;
    }
  }
}

}  // namespace devops::serve
