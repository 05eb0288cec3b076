#include "admin/admin_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include "admin/metrics_text.h"
#include "base/thread_name.h"
#include "kafka/broker.h"
#include "security/basic_auth.h"
#include "security/tls_context.h"

namespace runnel {
namespace {

// The authenticated user of the request this HTTP thread serves.
thread_local std::optional<std::string> t_request_user;

constexpr auto kScrapeShardTimeout = std::chrono::milliseconds(2000);
// Scrapes, health checks and REST proxy requests (each blocking on the broker).
constexpr size_t kHttpThreads = 4;

// Live: the process answers. Ready: it serves clients; in a cluster it also
// holds its etcd session (a fenced broker refuses writes until it renews).
nlohmann::json health(Broker& broker) {
  nlohmann::json h;
  h["live"] = true;
  h["ready"] = true;
  if (broker.config().clustered()) {
    const auto* cp = broker.control_plane();
    if (!cp) {
      h["ready"] = false;
      h["reason"] = "not registered in the cluster yet";
    } else if (cp->fenced()) {
      h["ready"] = false;
      h["reason"] = "fenced: its etcd session is not known to be alive";
    }
  }
  h["node_id"] = broker.config().node_id;
  h["cluster_id"] = broker.cluster_id();
  return h;
}

const char* kIndexPage = R"(<!doctype html>
<html><head><meta charset="utf-8"><title>runnel</title></head>
<body style="font-family: sans-serif">
<h1>runnel</h1>
<ul>
<li><a href="/metrics">/metrics</a>: Prometheus text format</li>
<li><a href="/v1/health">/v1/health</a>: live and ready</li>
<li><a href="/topics">/topics</a>: the REST proxy (Confluent REST Proxy v2)</li>
</ul>
</body></html>
)";

// Gives httplib's TLS context what the broker's own server context holds
// (built by security::make_tls_context from ssl.*): the keystore's
// certificate, its chain and key, the protocol range and the cipher suites.
bool copy_server_context(SSL_CTX* from, SSL_CTX& to) {
  X509* cert = SSL_CTX_get0_certificate(from);
  EVP_PKEY* key = SSL_CTX_get0_privatekey(from);
  if (!cert || !key || SSL_CTX_use_certificate(&to, cert) != 1 || SSL_CTX_use_PrivateKey(&to, key) != 1) return false;
  STACK_OF(X509)* chain = nullptr;
  if (SSL_CTX_get0_chain_certs(from, &chain) == 1 && chain && SSL_CTX_set1_chain(&to, chain) != 1) return false;
  if (SSL_CTX_set_min_proto_version(&to, SSL_CTX_get_min_proto_version(from)) != 1 ||
      SSL_CTX_set_max_proto_version(&to, SSL_CTX_get_max_proto_version(from)) != 1)
    return false;
  std::string v13, v12;
  if (STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(from)) {
    for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
      const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
      std::string& list = std::string_view(SSL_CIPHER_get_version(c)) == "TLSv1.3" ? v13 : v12;
      list += (list.empty() ? "" : ":") + std::string(SSL_CIPHER_get_name(c));
    }
  }
  if (!v13.empty() && SSL_CTX_set_ciphersuites(&to, v13.c_str()) != 1) return false;
  if (!v12.empty() && SSL_CTX_set_cipher_list(&to, v12.c_str()) != 1) return false;
  SSL_CTX_set_options(&to, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  return true;
}

// OpenSSL's certificate callback, on every handshake: the certificate,
// chain and key of the source's current context (rebuilt by TlsReloader
// when the keystore changes), so new connections get a renewed certificate
// while open ones keep theirs.
int use_current_certificate(SSL* ssl, void* arg) {
  auto current = static_cast<security::TlsContextSource*>(arg)->current();
  SSL_CTX* from = current->native_handle();
  X509* cert = SSL_CTX_get0_certificate(from);
  EVP_PKEY* key = SSL_CTX_get0_privatekey(from);
  if (!cert || !key || SSL_use_certificate(ssl, cert) != 1 || SSL_use_PrivateKey(ssl, key) != 1) return 0;
  STACK_OF(X509)* chain = nullptr;
  if (SSL_CTX_get0_chain_certs(from, &chain) == 1 && chain && SSL_set1_chain(ssl, chain) != 1) return 0;
  return 1;
}

}  // namespace

std::optional<std::string> admin_request_user() { return t_request_user; }

AdminServer::AdminServer(Broker& broker) : broker_(broker) {}

AdminServer::~AdminServer() { stop(); }

bool AdminServer::start(const std::string& host, uint16_t port, std::shared_ptr<security::TlsContextSource> tls,
                        std::string* error, const std::function<void(httplib::Server&)>& more_routes) {
  if (tls) {
    tls_ = std::move(tls);
    auto built = tls_->current();
    auto server = std::make_unique<httplib::SSLServer>([&built, source = tls_.get()](SSL_CTX& ctx) {
      if (!copy_server_context(built->native_handle(), ctx)) return false;
      SSL_CTX_set_cert_cb(&ctx, use_current_certificate, source);
      return true;
    });
    if (!server->is_valid()) {
      *error = "TLS: the keystore's certificate and key could not be used";
      return false;
    }
    server_ = std::move(server);
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  server_->new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
  // cpp-httplib sets SO_REUSEPORT by default: a second broker on the same
  // host and admin port would then bind too, and the kernel would share the
  // port's connections between the two processes (a console or a scrape
  // answered by either broker at random). SO_REUSEADDR alone still lets a
  // restarted broker bind over its predecessor's TIME_WAIT connections, and
  // makes a port another process holds a failed bind (a warning at start).
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  if (broker_.config().admin_basic_auth) {
    // Before any route: everything but the health checks (probes carry no
    // credentials) needs a SASL user's name and password. The user is kept
    // for the route (admin_request_user()); the password is not.
    server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      t_request_user.reset();
      if (req.path.rfind("/v1/health", 0) == 0) return httplib::Server::HandlerResponse::Unhandled;
      t_request_user = security::basic_auth_user(req.get_header_value("Authorization"), broker_.credentials());
      if (t_request_user) return httplib::Server::HandlerResponse::Unhandled;
      res.status = 401;
      res.set_header("WWW-Authenticate", "Basic realm=\"runnel\", charset=\"UTF-8\"");
      res.set_content(R"({"error_code":40101,"message":"Unauthorized"})", "application/json");
      return httplib::Server::HandlerResponse::Handled;
    });
  }
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_metrics(broker_, kScrapeShardTimeout), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/v1/health", [this](const httplib::Request&, httplib::Response& res) {
    auto h = health(broker_);
    res.status = h["ready"].get<bool>() ? 200 : 503;
    res.set_content(h.dump(), "application/json");
  });
  server_->Get("/v1/health/live", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"live":true})", "application/json");
  });
  server_->Get("/v1/health/ready", [this](const httplib::Request&, httplib::Response& res) {
    auto h = health(broker_);
    res.status = h["ready"].get<bool>() ? 200 : 503;
    res.set_content(h.dump(), "application/json");
  });
  // The layers above (REST proxy, console) first: the first route that
  // matches serves, so the console's / replaces the list below.
  if (more_routes) more_routes(*server_);
  server_->Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(kIndexPage, "text/html"); });
  int bound = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    *error = "cannot bind " + host + ":" + std::to_string(port) + ": " + std::strerror(errno);
    server_.reset();
    return false;
  }
  port_ = static_cast<uint16_t>(bound);
  thread_ = std::thread([this, server = server_.get()] {
    name_this_thread("admin-http");  // its HTTP worker threads, made here, take the name too
    server->listen_after_bind();
    listen_returned_ = true;
  });
  return true;
}

void AdminServer::stop() {
  if (!server_) return;
  // cpp-httplib's stop() only stops a server already running: one made
  // before listen_after_bind() has begun is lost, and the join below then
  // waits forever (a SIGTERM a millisecond after start-up hung the broker's
  // shutdown, bench/many_partitions.py). So wait for it to run first.
  while (!server_->is_running() && !listen_returned_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace runnel
