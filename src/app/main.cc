// The `runnel` command line.
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "app/cluster_command.h"
#include "app/config.h"
#include "app/group_command.h"
#include "app/transactions_command.h"
#include "app/user_command.h"
#include "kafka/broker.h"
#include "server/listener.h"
#include "server/tls_context.h"
#include "storage/fault_injection_env.h"

namespace {

// Raises the soft RLIMIT_NOFILE to the hard limit: the storage engine sizes
// its descriptor cache and partition limit from it.
void raise_open_file_limit() {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rlim_t before = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      spdlog::warn("cannot raise the open-file limit from {} to {}", before, rl.rlim_max);
      return;
    }
  }
}

struct ServeFlags {
  std::string config_file, data_dir, listen, advertise, etcd;
  std::vector<std::string> sets;
  int node_id = -1;
  bool fault_injection = false;
};

// Exit code of a broker whose power was cut (SIGUSR2 under --fault-injection).
constexpr int kPowerCutExitCode = 99;

int serve(const ServeFlags& flags) {
  const auto& [config_file, data_dir, listen, advertise, etcd, sets, node_id, fault_injection] = flags;
  auto started = std::chrono::steady_clock::now();
  raise_open_file_limit();
  runnel::BrokerConfig config;
  try {
    if (!config_file.empty()) runnel::load_config_file(config, config_file);
    for (const auto& kv : sets) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) throw runnel::ConfigError("--set expects key=value, got '" + kv + "'");
      runnel::set_config(config, kv.substr(0, eq), kv.substr(eq + 1));
    }
    if (!data_dir.empty()) config.data_dir = data_dir;
    if (node_id >= 0) config.node_id = node_id;
    if (!etcd.empty()) config.etcd_endpoints = etcd;
    runnel::resolve_listeners(config, listen, advertise);
    runnel::validate_config(config);
  } catch (const runnel::ConfigError& e) {
    spdlog::error("configuration error: {}", e.what());
    return 2;
  }

  // Signals are blocked in every thread and waited for here, so that no shard
  // thread is interrupted mid-write.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  if (fault_injection) {
    sigaddset(&signals, SIGUSR1);
    sigaddset(&signals, SIGUSR2);
  }
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // Test only: every file goes through an Env that remembers what was
  // synced, so that SIGUSR2 can drop the rest, as a power cut would, and
  // SIGUSR1 can make the syncs under chosen directories fail.
  std::unique_ptr<runnel::storage::FaultInjectionEnv> fault_env;
  if (fault_injection) {
    fault_env = std::make_unique<runnel::storage::FaultInjectionEnv>();
    spdlog::warn(
        "--fault-injection: a test mode. SIGUSR2 drops every unsynced write and exits with code {}; SIGUSR1 makes "
        "every fdatasync under the directories named in {}/fail-syncs (one per line, relative) fail with EIO",
        kPowerCutExitCode, config.data_dir);
  }
  runnel::Broker broker(config, fault_env ? fault_env.get() : runnel::storage::Env::posix());
  std::vector<std::unique_ptr<runnel::Listener>> listeners;
  try {
    std::shared_ptr<asio::ssl::context> tls;
    for (const auto& l : config.listeners)
      if (runnel::uses_tls(l.protocol) && !tls) tls = runnel::make_tls_context(config.tls);
    broker.start();
    for (const auto& l : config.listeners) {
      auto listener = std::make_unique<runnel::Listener>(broker, l, runnel::uses_tls(l.protocol) ? tls : nullptr);
      broker.set_advertised(l, listener->port());
      listeners.push_back(std::move(listener));
    }
    for (auto& listener : listeners) listener->start();
    broker.join_cluster();
  } catch (const std::exception& e) {
    spdlog::error("start-up failed: {}", e.what());
    for (auto& listener : listeners) listener->stop();
    broker.stop();
    return 1;
  }
  auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  std::string addresses;
  for (const auto& l : listeners)
    addresses +=
        (addresses.empty() ? "" : ", ") + l->config().name + "://" + l->config().host + ":" + std::to_string(l->port());
  spdlog::info("runnel listening on {} (data in {}, {} shards), ready in {:.1f} ms", addresses, config.data_dir,
               broker.shards().size(), elapsed);

  int signal_number = 0;
  for (;;) {
    sigwait(&signals, &signal_number);
    if (signal_number == SIGUSR2 && fault_env) {
      spdlog::warn("power cut (SIGUSR2): dropping every unsynced write");
      spdlog::default_logger()->flush();
      fault_env->cut_power_and_exit(kPowerCutExitCode);
    }
    if (signal_number != SIGUSR1 || !fault_env) break;
    std::ifstream list(std::filesystem::path(config.data_dir) / "fail-syncs");
    for (std::string dir; std::getline(list, dir);) {
      if (dir.empty()) continue;
      spdlog::warn("fault injection (SIGUSR1): every fdatasync under {} fails from now on", dir);
      fault_env->fail_syncs_under(std::filesystem::path(config.data_dir) / dir);
    }
  }
  spdlog::info("received signal {}, shutting down", signal_number);
  for (auto& listener : listeners) listener->stop();
  broker.stop();
  spdlog::info("clean shutdown complete");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"runnel: an event streaming broker that speaks the Apache Kafka protocol"};
  app.require_subcommand(1);

  ServeFlags flags;
  auto* serve_cmd = app.add_subcommand("serve", "Run a broker: a single node, or a cluster member with --etcd");
  serve_cmd->add_option("--config", flags.config_file, "server.properties-style file with Kafka's configuration names");
  serve_cmd->add_option("--set", flags.sets, "Override one configuration key (key=value); repeatable")
      ->type_name("KEY=VALUE");
  serve_cmd->add_option("--data-dir", flags.data_dir, "Data directory (log.dirs); default ./data");
  serve_cmd->add_option("--listen", flags.listen,
                        "The PLAINTEXT listener's HOST:PORT (short for listeners=PLAINTEXT://HOST:PORT; added to "
                        "other listeners); default 127.0.0.1:9092");
  serve_cmd->add_option("--advertise", flags.advertise,
                        "HOST:PORT of the inter-broker listener returned in Metadata; default: the listener");
  serve_cmd->add_option("--node-id", flags.node_id, "This broker's id in the cluster (node.id); default 0")
      ->check(CLI::Range(0, INT32_MAX));
  serve_cmd->add_option("--etcd", flags.etcd,
                        "etcd endpoints, comma separated (runnel.etcd.endpoints): run as a cluster member");
  serve_cmd->add_flag("--fault-injection", flags.fault_injection,
                      "TEST ONLY: every file goes through a fault-injecting layer that tracks what is fdatasync'd. "
                      "SIGUSR2 drops every unsynced write and exits (code 99), as a power cut would; SIGUSR1 makes "
                      "the fdatasyncs under the directories listed in DATA_DIR/fail-syncs fail with EIO. Slower; "
                      "never for real data.");
  std::string keys;
  for (const auto& k : runnel::known_config_keys()) keys += "  " + k + "\n";
  serve_cmd->footer("Configuration keys (--config file or --set):\n" + keys);

  std::string bootstrap = "127.0.0.1:9092", group_id;
  auto* group_cmd = app.add_subcommand("group", "Inspect consumer groups (like kafka-consumer-groups.sh)");
  group_cmd->require_subcommand(1);
  group_cmd->add_option("--bootstrap", bootstrap, "Broker HOST:PORT; default 127.0.0.1:9092");
  auto* group_list_cmd = group_cmd->add_subcommand("list", "Groups with their state and protocol type");
  group_list_cmd->add_option("--bootstrap", bootstrap, "Broker HOST:PORT; default 127.0.0.1:9092");
  auto* group_describe_cmd = group_cmd->add_subcommand("describe", "Members, committed offsets and lag per partition");
  group_describe_cmd->add_option("GROUP", group_id, "Group id")->required();
  group_describe_cmd->add_option("--bootstrap", bootstrap, "Broker HOST:PORT; default 127.0.0.1:9092");

  std::string transactional_id;
  auto* txn_cmd = app.add_subcommand("transactions", "Inspect transactions (like kafka-transactions.sh)");
  txn_cmd->require_subcommand(1);
  txn_cmd->add_option("--bootstrap", bootstrap, "Broker HOST:PORT; default 127.0.0.1:9092");
  auto* txn_list_cmd = txn_cmd->add_subcommand("list", "Transactional ids with their coordinator and state");
  txn_list_cmd->add_option("--bootstrap", bootstrap, "Broker HOST:PORT; default 127.0.0.1:9092");
  auto* txn_describe_cmd = txn_cmd->add_subcommand("describe", "One transactional id's producer, state and partitions");
  txn_describe_cmd->add_option("ID", transactional_id, "Transactional id")->required();
  txn_describe_cmd->add_option("--bootstrap", bootstrap, "Broker HOST:PORT; default 127.0.0.1:9092");

  auto* cluster_cmd = app.add_subcommand("cluster", "Inspect a cluster");
  cluster_cmd->require_subcommand(1);
  auto* cluster_status_cmd = cluster_cmd->add_subcommand(
      "status", "Brokers, controller, and each partition's leader, epoch, replicas and ISR");
  cluster_status_cmd->add_option("--bootstrap", bootstrap, "Broker HOST:PORT; default 127.0.0.1:9092");

  runnel::app::UserSetOptions user_set;
  std::string user_data_dir, user_name, user_mechanism;
  auto* user_cmd = app.add_subcommand("user", "Manage SCRAM credentials in a data dir, offline (before start-up)");
  user_cmd->require_subcommand(1);
  auto* user_set_cmd = user_cmd->add_subcommand("set", "Add or replace a user's SCRAM credential");
  user_set_cmd->add_option("NAME", user_set.name, "User name")->required();
  user_set_cmd->add_option("--password", user_set.password, "Password (only its salted SCRAM form is stored)")
      ->required();
  user_set_cmd->add_option("--mechanism", user_set.mechanism, "SCRAM-SHA-256 (default) or SCRAM-SHA-512");
  user_set_cmd->add_option("--iterations", user_set.iterations, "PBKDF2 iterations, 4096 (default) to 16384");
  user_set_cmd->add_option("--data-dir", user_set.data_dir, "The broker's data directory (log.dirs)")->required();
  auto* user_list_cmd = user_cmd->add_subcommand("list", "Users with their mechanisms and iterations");
  user_list_cmd->add_option("--data-dir", user_data_dir, "The broker's data directory (log.dirs)")->required();
  auto* user_delete_cmd = user_cmd->add_subcommand("delete", "Remove a user (or one mechanism's credential)");
  user_delete_cmd->add_option("NAME", user_name, "User name")->required();
  user_delete_cmd->add_option("--mechanism", user_mechanism, "Remove only this mechanism's credential");
  user_delete_cmd->add_option("--data-dir", user_data_dir, "The broker's data directory (log.dirs)")->required();

  CLI11_PARSE(app, argc, argv);
  if (user_set_cmd->parsed()) return runnel::app::user_set(user_set, std::cout, std::cerr);
  if (user_list_cmd->parsed()) return runnel::app::user_list(user_data_dir, std::cout, std::cerr);
  if (user_delete_cmd->parsed())
    return runnel::app::user_delete(user_name, user_mechanism, user_data_dir, std::cout, std::cerr);
  if (serve_cmd->parsed()) return serve(flags);
  if (cluster_status_cmd->parsed()) return runnel::app::cluster_status(bootstrap, std::cout, std::cerr);
  if (group_list_cmd->parsed()) return runnel::app::group_list(bootstrap, std::cout, std::cerr);
  if (group_describe_cmd->parsed()) return runnel::app::group_describe(group_id, bootstrap, std::cout, std::cerr);
  if (txn_list_cmd->parsed()) return runnel::app::transactions_list(bootstrap, std::cout, std::cerr);
  if (txn_describe_cmd->parsed())
    return runnel::app::transactions_describe(transactional_id, bootstrap, std::cout, std::cerr);
  return 0;
}
