#include "cli/control.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/read_until.hpp>
#include <asio/redirect_error.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>

#include "queue/envelope.hpp"

namespace poshta::cli {

namespace {

constexpr std::size_t kMaxRequest = 1024;
constexpr std::chrono::seconds kRequestTimeout{10};

// The runner call, on the thread pool.
class AnswerTask : public net::BlockingTask {
 public:
  AnswerTask(delivery::Runner& runner, std::string request) : runner_(runner), request_(std::move(request)) {}
  void run() override { answer = control_answer(runner_, request_); }
  std::string answer;

 private:
  delivery::Runner& runner_;
  std::string request_;
};

std::string change_answer(delivery::Runner::Change c, const std::string& id) {
  using Change = delivery::Runner::Change;
  switch (c) {
    case Change::done: return "ok\n";
    case Change::later: return "ok after the delivery attempt in progress\n";
    case Change::not_found: return "error no message " + id + " in the queue\n";
    case Change::failed: return "error could not record the change for " + id + " (see the server log)\n";
  }
  return "error\n";
}

asio::awaitable<void> handle(net::Server& server, delivery::Runner& runner,
                             asio::local::stream_protocol::socket socket) {
  asio::steady_timer deadline(socket.get_executor(), kRequestTimeout);
  auto alive = std::make_shared<bool>(true);  // the handler may outlive this frame
  deadline.async_wait([&socket, weak = std::weak_ptr<bool>(alive)](std::error_code ec) {
    if (!ec && weak.lock()) socket.close(ec);
  });
  asio::streambuf buffer(kMaxRequest);
  std::error_code ec;
  co_await asio::async_read_until(socket, buffer, '\n', asio::redirect_error(asio::use_awaitable, ec));
  deadline.cancel();
  if (ec) co_return;
  std::string request(asio::buffers_begin(buffer.data()), asio::buffers_end(buffer.data()));
  while (!request.empty() && (request.back() == '\n' || request.back() == '\r')) request.pop_back();
  AnswerTask task(runner, request);
  co_await net::offload(server, task);
  co_await asio::async_write(socket, asio::buffer(task.answer), asio::redirect_error(asio::use_awaitable, ec));
  socket.close(ec);
}

asio::awaitable<void> accept_loop(net::Server& server, delivery::Runner& runner,
                                  std::shared_ptr<asio::local::stream_protocol::acceptor> acceptor) {
  for (;;) {
    std::error_code ec;
    auto socket = co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (server.stopping() || !acceptor->is_open()) co_return;
    if (ec) continue;
    asio::co_spawn(server.context(), handle(server, runner, std::move(socket)), asio::detached);
  }
}

}  // namespace

std::string control_answer(delivery::Runner& runner, std::string_view request) {
  const auto sp = request.find(' ');
  const std::string verb(request.substr(0, sp));
  const std::string id(sp == std::string_view::npos ? std::string_view() : request.substr(sp + 1));
  if (verb == "list" && id.empty()) {
    std::string out = "ok\n";
    for (const auto& env : runner.list()) out += queue::serialize_envelope(env);
    return out;
  }
  if (verb == "flush") return runner.flush(id) ? "ok\n" : "error no message " + id + " in the queue\n";
  if (id.empty()) return "error '" + verb + "' needs a queue id\n";
  if (verb == "show") {
    auto shown = runner.show(id);
    if (!shown) return "error no message " + id + " in the queue\n";
    return "ok\n" + queue::serialize_envelope(shown->first) + shown->second;
  }
  if (verb == "hold") return change_answer(runner.hold(id), id);
  if (verb == "release") return change_answer(runner.release(id), id);
  if (verb == "delete") return change_answer(runner.remove(id), id);
  return "error unknown request '" + verb + "'\n";
}

void serve_control(net::Server& server, delivery::Runner& runner, const std::filesystem::path& path) {
  ::unlink(path.c_str());  // left by a server that did not stop cleanly; the pid lock says we are alone
  auto acceptor = std::make_shared<asio::local::stream_protocol::acceptor>(server.context());
  const asio::local::stream_protocol::endpoint endpoint(path.string());
  acceptor->open(endpoint.protocol());
  std::error_code ec;
  acceptor->bind(endpoint, ec);  // 0600 by main()'s umask: the queue is the operator's business only
  if (ec) throw std::system_error(ec, "cannot listen on " + path.string());
  acceptor->listen();
  server.on_stop([acceptor] {
    std::error_code ignored;
    acceptor->close(ignored);
  });
  asio::co_spawn(server.context(), accept_loop(server, runner, acceptor), asio::detached);
}

}  // namespace poshta::cli
