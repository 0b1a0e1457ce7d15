// SPDX-License-Identifier: AGPL-3.0-or-later
#include "http/server.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <filesystem>
#include <list>

#include "http/head_rules.h"

namespace focal::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using beast::error_code;

constexpr std::chrono::seconds kLingerTime{2};  // reading what a refused client still sends
constexpr std::size_t kLingerBytes = std::size_t{1} << 20;
constexpr std::chrono::seconds kShutdownGrace{30};

// Lets the process hold as many sockets as the hard limit allows (stalled clients cost a descriptor each).
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

bool is_client_gone(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::operation_aborted || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

// Maps a head-parsing failure to the status we answer with (0: close without answering). A timeout has
// already closed the socket (beast::tcp_stream does so), so slow clients are simply dropped.
int status_for_head_error(const error_code& ec) {
  if (ec == bhttp::error::header_limit) return 431;
  if (ec == beast::error::timeout || is_client_gone(ec)) return 0;
  return 400;
}

std::string describe_head_error(const error_code& ec) {
  if (ec == bhttp::error::header_limit) return "Request header fields too large";
  return "Malformed HTTP request: " + ec.message();
}

class SessionBase;

// State shared by all connections. Everything but the atomics is touched on the I/O thread only.
struct ServerState {
  ServerConfig config;
  Service& service;
  asio::io_context io{1};
  asio::thread_pool workers;
  std::optional<asio::ssl::context> tls;
  tcp::acceptor acceptor{io};
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> buffered_body_bytes{0};
  bool stopping = false;

  // Sessions waiting for a request head (idle keep-alive or slow clients), oldest first: when the
  // connection limit is reached, the front one is dropped for the newcomer.
  std::list<std::weak_ptr<SessionBase>> waiting;

  ServerState(ServerConfig c, Service& s)
      : config(std::move(c)),
        service(s),
        workers(static_cast<std::size_t>(std::max(config.worker_threads, 1))) {}
};

class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  explicit SessionBase(ServerState& state) : state_(state) { ++state_.connections; }
  virtual ~SessionBase() { --state_.connections; }
  SessionBase(const SessionBase&) = delete;
  SessionBase& operator=(const SessionBase&) = delete;
  virtual void start() = 0;
  // Closes the socket now; pending operations complete with operation_aborted (I/O thread).
  virtual void evict() = 0;

 protected:
  void enter_waiting() {
    if (in_waiting_) return;
    waiting_position_ = state_.waiting.insert(state_.waiting.end(), weak_from_this());
    in_waiting_ = true;
  }
  void leave_waiting() {
    if (!in_waiting_) return;
    state_.waiting.erase(waiting_position_);
    in_waiting_ = false;
  }
  ServerState& state_;
  std::list<std::weak_ptr<SessionBase>>::iterator waiting_position_;
  bool in_waiting_ = false;
};

// One connection: heads, bodies and responses in order. Stream is beast::tcp_stream or an SSL stream on it.
template <class Stream>
class Session final : public SessionBase {
 public:
  Session(ServerState& state, Stream stream, std::string address, unsigned short port)
      : SessionBase(state),
        stream_(std::move(stream)),
        address_(std::move(address)),
        remote_(address_ + ":" + std::to_string(port)) {}

  void start() override {
    enter_waiting();
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      read_head();
    } else {
      lowest().expires_after(state_.config.limits.header_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server, [self = shared()](error_code ec) {
        if (ec) return self->close();
        self->read_head();
      });
    }
  }

  void evict() override {
    leave_waiting();
    error_code ignored;
    lowest().socket().close(ignored);
  }

 private:
  std::shared_ptr<Session> shared() { return std::static_pointer_cast<Session>(shared_from_this()); }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  const Limits& limits() const { return state_.config.limits; }

  // --- head ---
  void read_head() {
    enter_waiting();
    if (state_.stopping) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits().max_header_bytes));
    parser_->body_limit(boost::none);  // checked against the route's limit after admission
    if (!first_request_ && buffer_.size() == 0) {
      // Idle keep-alive connection: wait for the next request's first bytes.
      lowest().expires_after(limits().keepalive_timeout);
      stream_.async_read_some(buffer_.prepare(4096), [self = shared()](error_code ec, std::size_t n) {
        if (ec) return self->close();
        self->buffer_.commit(n);
        self->read_head_rest();
      });
      return;
    }
    read_head_rest();
  }

  void read_head_rest() {
    started_ = Clock::now();
    lowest().expires_after(limits().header_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared()](error_code ec, std::size_t) { self->on_head(ec); });
  }

  void on_head(error_code ec) {
    leave_waiting();
    first_request_ = false;
    if (ec) {
      const int status = status_for_head_error(ec);
      if (status == 0) return close();
      return refuse(status, describe_head_error(ec));
    }
    request_ = std::make_shared<Request>();
    auto& head = *request_;
    head.remote_address = address_;
    head.tls = !std::is_same_v<Stream, beast::tcp_stream>;
    keep_alive_ = parser_->get().keep_alive();
    if (auto rejected = detail::build_head(*parser_, limits(), head)) {
      return refuse(rejected->status, std::move(rejected->message));
    }

    if (state_.service.is_inline(head)) {
      admitted(admit_safely(head));
      return;
    }
    asio::post(state_.workers, [self = shared(), guard = asio::make_work_guard(state_.io)] {
      auto admission = self->admit_safely(*self->request_);
      asio::post(self->stream_.get_executor(), [self, admission = std::move(admission)]() mutable {
        self->admitted(std::move(admission));
      });
    });
  }

  Admission admit_safely(RequestHead& head) {
    try {
      return state_.service.admit(head);
    } catch (const std::exception& e) {
      spdlog::error("{}: admitting {} {} threw: {}", state_.config.name, head.method, head.path, e.what());
      return Admission{state_.service.error(500, "Internal Server Error"), 0};
    }
  }

  // --- body ---
  void admitted(Admission admission) {
    auto& head = *request_;
    if (admission.refusal) {
      auto response = std::move(*admission.refusal);
      if (head.has_body()) response.close = true;  // its unread body would be taken for the next request
      return send(std::move(response));
    }
    if (!head.has_body()) return dispatch();
    const std::uint64_t limit = admission.body_limit;
    if (head.content_length && *head.content_length > limit) {
      return refuse(413, "Request body of " + std::to_string(*head.content_length) +
                             " bytes is larger than the limit of " + std::to_string(limit) + " bytes");
    }
    const std::uint64_t reserve = head.content_length.value_or(limit);
    if (state_.buffered_body_bytes.fetch_add(reserve) + reserve > limits().max_buffered_body_bytes) {
      state_.buffered_body_bytes.fetch_sub(reserve);
      auto response = state_.service.error(503, "Server busy: too many request bodies in flight; retry");
      response.headers.emplace_back("Retry-After", "1");
      response.close = true;
      return send(std::move(response));
    }
    reserved_ = reserve;
    parser_->body_limit(limit);
    const auto expect = head.header("expect");
    if (expect && lower_ascii(*expect) == "100-continue" && buffer_.size() == 0) {
      auto interim = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, 11);
      lowest().expires_after(limits().write_timeout);
      bhttp::async_write(stream_, *interim, [self = shared(), interim](error_code ec, std::size_t) {
        if (ec) return self->close();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    const auto expected = request_->content_length.value_or(reserved_);
    const auto allowance = std::chrono::seconds(expected / std::max<std::size_t>(limits().min_body_rate, 1));
    lowest().expires_after(limits().body_timeout + allowance);
    bhttp::async_read(stream_, buffer_, *parser_, [self = shared()](error_code ec, std::size_t) {
      if (ec == bhttp::error::body_limit) return self->refuse(413, "Request body is larger than the limit");
      if (ec) {  // a timeout has closed the socket already
        if (!is_client_gone(ec) && ec != beast::error::timeout)
          return self->refuse(400, "Malformed request body: " + ec.message());
        return self->close();
      }
      self->request_->body = std::move(self->parser_->get().body());
      self->dispatch();
    });
  }

  // --- handler ---
  void dispatch() {
    if (state_.service.is_inline(*request_)) return send(handle_safely());
    asio::post(state_.workers, [self = shared(), guard = asio::make_work_guard(state_.io)] {
      auto response = self->handle_safely();
      asio::post(self->stream_.get_executor(),
                 [self, response = std::move(response)]() mutable { self->send(std::move(response)); });
    });
  }

  Response handle_safely() {
    try {
      return state_.service.handle(*request_);
    } catch (const std::exception& e) {
      spdlog::error("{}: {} {} threw: {}", state_.config.name, request_->method, request_->path, e.what());
    } catch (...) {
      spdlog::error("{}: {} {} threw an unknown exception", state_.config.name, request_->method,
                    request_->path);
    }
    return state_.service.error(500, "Internal Server Error");
  }

  // --- responses ---
  // Answers an error the HTTP layer found itself and closes the connection afterwards.
  void refuse(int status, std::string message) {
    if (!request_) request_ = std::make_shared<Request>();
    auto response = state_.service.error(status, std::move(message));
    response.close = true;
    send(std::move(response));
  }

  template <class Body>
  void prepare(bhttp::response<Body>& message, const Response& response, bool close) {
    message.version(11);
    message.result(static_cast<unsigned>(response.status));
    if (!response.content_type.empty()) message.set(bhttp::field::content_type, response.content_type);
    message.keep_alive(!close);
    message.prepare_payload();
    // The route's own headers come last and win (a test peer announces a longer body to cut a transfer).
    for (const auto& [name, value] : response.headers) message.set(name, value);
  }

  void send(Response response) {
    release_body_reservation();
    const bool close = response.close || !keep_alive_ || state_.stopping;
    status_ = response.status;
    if (request_ && request_->method == "HEAD") {
      // The head of what GET would send, with its length.
      std::uint64_t length = response.body.size();
      if (!response.file.empty()) {
        error_code ec;
        length = std::filesystem::file_size(response.file, ec);
        if (ec) length = 0;
      }
      auto message = std::make_shared<bhttp::response<bhttp::empty_body>>();
      prepare(*message, response, close);
      if (response.status != 204 && response.status >= 200) message->content_length(length);
      return write(message, close);
    }
    if (!response.file.empty()) {
      bhttp::file_body::value_type file;
      error_code ec;
      file.open(response.file.c_str(), beast::file_mode::scan, ec);
      if (!ec) {
        auto message = std::make_shared<bhttp::response<bhttp::file_body>>();
        message->body() = std::move(file);
        prepare(*message, response, close);
        return write(message, close);
      }
      response = state_.service.error(404, "File not found");
      status_ = response.status;
    }
    auto message = std::make_shared<bhttp::response<bhttp::string_body>>();
    message->body() = std::move(response.body);
    prepare(*message, response, close);
    write(message, close);
  }

  template <class Message>
  void write(std::shared_ptr<Message> message, bool close) {
    lowest().expires_after(limits().write_timeout);
    bhttp::async_write(stream_, *message,
                       [self = shared(), message, close](error_code ec, std::size_t bytes) {
                         self->finished(bytes);
                         if (ec || close) return self->close();
                         self->request_.reset();
                         self->read_head();
                       });
  }

  void finished(std::size_t bytes) {
    const double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    const RequestHead& head = *request_;
    try {
      state_.service.observe(head, status_, seconds);
    } catch (const std::exception& e) {
      spdlog::warn("{}: observer failed: {}", state_.config.name, e.what());
    }
    const auto level = state_.config.access_log ? spdlog::level::info : spdlog::level::debug;
    if (spdlog::should_log(level)) {
      spdlog::log(level, "{} {} \"{} {}\" {} {} {:.1f}ms", state_.config.name, remote_,
                  head.method.empty() ? "-" : head.method, head.target.substr(0, 200), status_, bytes,
                  seconds * 1000.0);
    }
  }

  void release_body_reservation() {
    if (reserved_ == 0) return;
    state_.buffered_body_bytes.fetch_sub(reserved_);
    reserved_ = 0;
  }

  // --- closing ---
  void close() {
    leave_waiting();
    release_body_reservation();
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      // Lingering close: stop sending, then read (and drop) what the client still sends for a moment, so the
      // kernel does not answer its unread bytes with a reset that destroys our response before it is read.
      error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return;
      linger_deadline_ = Clock::now() + kLingerTime;
      drain();
    } else {
      lowest().expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = shared()](error_code) {
        error_code ignored;
        self->lowest().socket().close(ignored);
      });
    }
  }

  void drain() {
    if (lingered_ >= kLingerBytes || Clock::now() >= linger_deadline_) return;
    lowest().expires_at(linger_deadline_);
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(64 * 1024), [self = shared()](error_code ec, std::size_t n) {
      if (ec) return;
      self->lingered_ += n;
      self->drain();
    });
  }

  Stream stream_;
  std::string address_;
  std::string remote_;  // address:port, for logs
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<Request> request_;
  Clock::time_point started_ = Clock::now();
  Clock::time_point linger_deadline_;
  std::size_t lingered_ = 0;
  std::size_t reserved_ = 0;
  int status_ = 0;
  bool keep_alive_ = true;
  bool first_request_ = true;
};

}  // namespace

struct Server::Impl {
  ServerState state;
  asio::steady_timer shutdown_timer{state.io};
  Clock::time_point shutdown_deadline;

  Impl(ServerConfig config, Service& service) : state(std::move(config), service) {}

  void accept() {
    state.acceptor.async_accept(asio::make_strand(state.io), [this](error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || state.stopping) return;
      if (!ec) admit_connection(std::move(socket));
      accept();
    });
  }

  void admit_connection(tcp::socket socket) {
    if (state.connections >= state.config.limits.max_connections && !evict_oldest_waiting()) {
      error_code ignored;
      socket.close(ignored);  // every connection is busy with a request: nothing to drop
      return;
    }
    error_code ec;
    const auto endpoint = socket.remote_endpoint(ec);
    std::string address = ec ? "?" : endpoint.address().to_string();
    const unsigned short port = ec ? 0 : endpoint.port();
    socket.set_option(tcp::no_delay(true), ec);  // small answers must not wait for a delayed ACK (Nagle)
    std::shared_ptr<SessionBase> session;
    if (state.tls) {
      session = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
          state, beast::ssl_stream<beast::tcp_stream>(std::move(socket), *state.tls), std::move(address),
          port);
    } else {
      session = std::make_shared<Session<beast::tcp_stream>>(state, beast::tcp_stream(std::move(socket)),
                                                             std::move(address), port);
    }
    session->start();
  }

  bool evict_oldest_waiting() {
    while (!state.waiting.empty()) {
      auto victim = state.waiting.front().lock();
      if (!victim) {
        state.waiting.pop_front();
        continue;
      }
      victim->evict();
      return true;
    }
    return false;
  }

  void begin_shutdown() {
    if (state.stopping) return;
    state.stopping = true;
    error_code ignored;
    state.acceptor.close(ignored);
    while (evict_oldest_waiting()) {
    }
    // Connections still busy finish their request; serve() returns when none is left, or after the grace.
    shutdown_deadline = Clock::now() + kShutdownGrace;
    poll_shutdown();
  }

  void poll_shutdown() {
    if (state.connections == 0 || Clock::now() >= shutdown_deadline) {
      state.io.stop();
      return;
    }
    shutdown_timer.expires_after(std::chrono::milliseconds(20));
    shutdown_timer.async_wait([this](error_code ec) {
      if (!ec) poll_shutdown();
    });
  }
};

Limits limits_from(const HttpFrontConfig& config, std::chrono::seconds keepalive_timeout) {
  Limits limits;
  limits.header_timeout = std::chrono::seconds(config.header_timeout_s);
  limits.body_timeout = std::chrono::seconds(config.body_timeout_s);
  limits.max_connections = static_cast<std::size_t>(config.max_connections);
  limits.keepalive_timeout = keepalive_timeout;
  return limits;
}

TlsConfig tls_from(const HttpFrontConfig& config) { return {config.tls_cert_file, config.tls_key_file}; }

Server::Server(ServerConfig config, Service& service)
    : impl_(std::make_unique<Impl>(std::move(config), service)) {}

Server::~Server() {
  stop();
  impl_->state.workers.join();
}

Expected<int> Server::bind() {
  auto& state = impl_->state;
  const auto& config = state.config;
  raise_descriptor_limit();
  if (config.tls.enabled()) {
    try {
      state.tls.emplace(asio::ssl::context::tls_server);
      state.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                             asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                             asio::ssl::context::no_tlsv1_1);
      state.tls->use_certificate_chain_file(config.tls.cert_file);
      state.tls->use_private_key_file(config.tls.key_file, asio::ssl::context::pem);
    } catch (const std::exception& e) {
      state.tls.reset();
      return Error{ErrorKind::kUnavailable, "Cannot load the TLS certificate '" + config.tls.cert_file +
                                                "' or key '" + config.tls.key_file + "': " + e.what()};
    }
  }
  auto host = config.host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const auto fail = [&](const std::string& why) -> Error {
    return Error{ErrorKind::kUnavailable,
                 "Cannot listen on " + config.host + ":" + std::to_string(config.port) + " (" + why + ")"};
  };
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    // A host name: its first address.
    tcp::resolver resolver(state.io);
    const auto results = resolver.resolve(host, std::to_string(config.port), ec);
    if (ec || results.empty()) return fail("cannot resolve the host name");
    address = results.begin()->endpoint().address();
  }
  auto& acceptor = state.acceptor;
  const auto listen_on = [&](const asio::ip::address& on) -> error_code {
    error_code failed;
    error_code ignored;
    acceptor.close(ignored);
    const tcp::endpoint endpoint(on, static_cast<unsigned short>(config.port));
    if (acceptor.open(endpoint.protocol(), failed); failed) return failed;
    acceptor.set_option(asio::socket_base::reuse_address(true), ignored);
    if (on.is_v6() && on.to_v6().is_unspecified()) {
      acceptor.set_option(asio::ip::v6_only(false), ignored);  // "[::]" serves IPv4 too, as Immich's does
    }
    if (acceptor.bind(endpoint, failed); failed) return failed;
    acceptor.listen(asio::socket_base::max_listen_connections, failed);
    return failed;
  };
  ec = listen_on(address);
  if (ec && address.is_v6() && address.to_v6().is_unspecified()) {
    // A host without IPv6 (some containers): "[::]" falls back to every IPv4 address.
    spdlog::warn("{}: cannot listen on [::] ({}); listening on 0.0.0.0", config.name, ec.message());
    ec = listen_on(asio::ip::address_v4::any());
  }
  if (ec) return fail(ec.message());
  return static_cast<int>(acceptor.local_endpoint().port());
}

void Server::serve() {
  impl_->accept();
  impl_->state.io.run();
  impl_->state.workers.join();
}

void Server::stop() {
  asio::post(impl_->state.io, [impl = impl_.get()] { impl->begin_shutdown(); });
}

}  // namespace focal::http
