// The `runnel` command line.
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

#include "admin/admin_server.h"
#include "admin/metrics_text.h"
#include "app/acl_command.h"
#include "app/cluster_command.h"
#include "app/cluster_metrics.h"
#include "app/command_config.h"
#include "app/completion.h"
#include "app/config.h"
#include "app/config_command.h"
#include "app/console_api.h"
#include "app/consume_command.h"
#include "app/crash_report.h"
#include "app/group_admin_command.h"
#include "app/group_command.h"
#include "app/kafka_access.h"
#include "app/log_dirs_command.h"
#include "app/produce_command.h"
#include "app/producers_command.h"
#include "app/progress_line.h"
#include "app/quota_command.h"
#include "app/reassign_command.h"
#include "app/rest_proxy.h"
#include "app/topic_command.h"
#include "app/transactions_command.h"
#include "app/user_command.h"
#include "kafka/broker.h"
#include "security/keystore.h"
#include "security/tls_context.h"
#include "server/listener.h"
#include "server/memory_trimmer.h"
#include "server/tls_reloader.h"
#include "storage/fault_injection_env.h"

namespace {

constexpr const char* kCommandConfigHelp =
    "Kafka client properties: security.protocol (SSL, SASL_PLAINTEXT, SASL_SSL), ssl.truststore.*, "
    "ssl.keystore.*, sasl.mechanism, sasl.jaas.config";

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

// The -s key=value options of a command, or nullopt after saying why they
// do not parse (the command then exits 2: bad usage).
std::optional<std::map<std::string, std::string>> key_values_or_report(const std::vector<std::string>& items) {
  try {
    return runnel::app::parse_key_values(items);
  } catch (const std::invalid_argument& e) {
    std::cerr << "Error: " << e.what() << "\n";
    return std::nullopt;
  }
}

struct ServeFlags {
  std::string config_file, data_dir, listen, advertise, etcd, admin;
  std::vector<std::string> sets;
  int node_id = -1;
  bool fault_injection = false;
};

// Exit code of a broker whose power was cut (SIGUSR2 under --fault-injection).
constexpr int kPowerCutExitCode = 99;

int serve(const ServeFlags& flags) {
  const auto& [config_file, data_dir, listen, advertise, etcd, admin, sets, node_id, fault_injection] = flags;
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
    if (!data_dir.empty()) runnel::set_config(config, "log.dirs", data_dir);
    if (node_id >= 0) config.node_id = node_id;
    if (!etcd.empty()) config.etcd_endpoints = etcd;
    runnel::resolve_listeners(config, listen, advertise);
    if (!admin.empty()) config.admin_listen = admin;
    if (config.admin_listen != "off") (void)runnel::parse_admin_listen(config.admin_listen);
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
  broker.set_known_config_keys(runnel::known_config_keys());
  std::vector<std::unique_ptr<runnel::Listener>> listeners;
  std::unique_ptr<runnel::TlsReloader> tls_reloader;
  runnel::AdminServer admin_server(broker);
  // Every 10 s, once 256 connections closed or 64 MiB of request buffers
  // were freed since the last time.
  runnel::MemoryTrimmer memory_trimmer(std::chrono::seconds(10), 256, 64 << 20);
  try {
    // One TLS context per listener with settings of its own
    // (listener.name.<name>.ssl.*); the others share one.
    std::map<std::string, std::shared_ptr<runnel::security::TlsContextSource>> tls;
    std::vector<runnel::TlsReloader::Watched> watched;
    for (const auto& l : config.listeners) {
      if (!runnel::uses_tls(l.protocol)) continue;
      std::string key = config.listener_tls.count(l.name) ? l.name : std::string();
      if (tls.count(key)) continue;
      tls[key] = std::make_shared<runnel::security::TlsContextSource>(config.tls_of(l.name),
                                                                      runnel::security::TlsSide::kServer);
      watched.push_back({tls[key], key.empty() ? std::string("listener") : "listener " + key});
    }
    // The admin listener over https: its keystore is reloaded like the
    // Kafka listeners' (the certificate each handshake uses).
    std::shared_ptr<runnel::security::TlsContextSource> admin_tls_source;
    if (config.admin_listen != "off" && runnel::parse_admin_listen(config.admin_listen).tls) {
      try {
        admin_tls_source =
            std::make_shared<runnel::security::TlsContextSource>(config.tls, runnel::security::TlsSide::kServer);
        watched.push_back({admin_tls_source, "admin listener"});
      } catch (const std::exception& e) {
        spdlog::warn("admin listener not started: TLS: {} (runnel.admin.listen; 'off' disables it)", e.what());
      }
    }
    broker.start();
    if (auto client = broker.inter_broker_tls()) watched.push_back({client, "inter-broker client"});
    tls_reloader = std::make_unique<runnel::TlsReloader>(std::move(watched),
                                                         std::chrono::milliseconds(config.ssl_reload_interval_ms));
    for (const auto& l : config.listeners) {
      std::shared_ptr<runnel::security::TlsContextSource> source;
      if (runnel::uses_tls(l.protocol)) source = tls.at(config.listener_tls.count(l.name) ? l.name : std::string());
      auto listener = std::make_unique<runnel::Listener>(broker, l, source);
      broker.set_advertised(l, listener->port());
      listeners.push_back(std::move(listener));
    }
    for (auto& listener : listeners) listener->start();
    // Started before joining the cluster, so that the broker's registration
    // carries its address (the other brokers' consoles read its /metrics).
    // The admin listener is a convenience: a port taken (another broker on
    // this machine) is worth a warning, not a broker that does not start.
    if (config.admin_listen != "off" && (admin_tls_source || !runnel::parse_admin_listen(config.admin_listen).tls)) {
      auto [admin_tls, host, port] = runnel::parse_admin_listen(config.admin_listen);
      std::string error;
      // The REST proxy and the console reach this broker in process, as the
      // HTTP user (app/kafka_access.h), through a listener's view of the
      // cluster: a PLAINTEXT one if there is one (the other brokers of a
      // cluster are then reachable over TCP), else the first.
      runnel::Listener* via = nullptr;
      for (const auto& l : listeners)
        if (!via && l->config().protocol == runnel::SecurityProtocol::kPlaintext) via = l.get();
      if (!via && !listeners.empty()) via = listeners.front().get();
      // Every listener secured and no one to act for: serving them would open
      // an anonymous Kafka client to whoever reaches the admin port.
      if (via && via->config().protocol != runnel::SecurityProtocol::kPlaintext && !config.admin_basic_auth) {
        spdlog::info(
            "no PLAINTEXT listener and runnel.admin.authentication=none: the console and the REST proxy are not served "
            "(set runnel.admin.authentication=basic to serve them as each user)");
        via = nullptr;
      }
      std::function<void(httplib::Server&)> rest;
      if (via) {
        auto access = std::make_shared<runnel::app::KafkaAccess>();
        const auto& lc = via->config();
        auto local_host = [](const std::string& h) {
          return h.empty() || h == "0.0.0.0" || h == "::" ? std::string("127.0.0.1") : h;
        };
        access->bootstrap = local_host(lc.host) + ":" + std::to_string(via->port());
        // As Metadata and FindCoordinator name this broker (Broker::set_advertised).
        std::string advertised = local_host(lc.advertised_host.empty() ? lc.host : lc.advertised_host) + ":" +
                                 std::to_string(lc.advertised_port ? lc.advertised_port : via->port());
        access->local_addresses = {access->bootstrap, advertised};
        access->listener_name = lc.name;
        access->other_brokers_by_tcp = lc.protocol == runnel::SecurityProtocol::kPlaintext;
        access->connect_in_process = [via](const std::string& principal, const std::string& peer) {
          return via->connect_in_process(principal, peer);
        };
        // The other brokers on a SASL listener: a login as the request's user.
        access->peer_login.protocol = lc.protocol;
        access->peer_login.mechanisms = config.sasl_enabled_mechanisms;
        if (runnel::uses_tls(lc.protocol)) {
          try {
            access->peer_login.tls = std::make_shared<runnel::security::TlsContextSource>(
                config.tls_of(lc.name), runnel::security::TlsSide::kClient);
          } catch (const std::exception& e) {
            spdlog::warn(
                "the REST proxy and the console cannot reach the other brokers on listener {} (its TLS client "
                "settings do not load: {})",
                lc.name, e.what());
          }
        }
        auto metrics = std::make_shared<runnel::app::ClusterMetricsSource>();
        metrics->self_id = config.node_id;
        metrics->peers = [&broker] {
          std::vector<runnel::app::AdminPeer> out;
          for (const auto& b : broker.admin_endpoints()) {
            runnel::app::AdminPeer peer;
            peer.node_id = b.node_id;
            if (b.admin) peer = {b.node_id, b.admin->scheme, b.admin->host, b.admin->port};
            peer.in_controlled_shutdown = b.in_controlled_shutdown;
            out.push_back(peer);
          }
          return out;
        };
        if (runnel::security::truststore_is_pem(config.tls)) metrics->ca_file = config.tls.truststore_location;
        metrics->local_metrics = [&broker] { return runnel::render_metrics(broker, std::chrono::milliseconds(2000)); };
        rest = [access, metrics](httplib::Server& server) {
          runnel::app::install_console(server, access);
          runnel::app::install_cluster_metrics(server, metrics);
          runnel::app::install_rest_proxy(server, access);
        };
      }
      if (admin_server.start(host, port, admin_tls_source, &error, rest)) {
        broker.set_admin_endpoint(admin_tls ? "https" : "http", host, admin_server.port());
        spdlog::info("admin listener (console, /metrics, /v1/health) on {}://{}:{}/", admin_tls ? "https" : "http",
                     host, admin_server.port());
      } else {
        spdlog::warn("admin listener not started: {} (runnel.admin.listen; 'off' disables it)", error);
      }
    }
    broker.join_cluster();
    tls_reloader->start();
    memory_trimmer.start();
  } catch (const std::exception& e) {
    spdlog::error("start-up failed: {}", e.what());
    admin_server.stop();
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
  broker.controlled_shutdown();
  tls_reloader->stop();
  memory_trimmer.stop();
  admin_server.stop();
  for (auto& listener : listeners) listener->stop();
  broker.stop();
  spdlog::info("clean shutdown complete");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  runnel::app::install_crash_report();
  CLI::App app{"runnel: an event streaming broker that speaks the Apache Kafka protocol"};
  app.require_subcommand(1);

  ServeFlags flags;
  auto* serve_cmd = app.add_subcommand("serve", "Run a broker: a single node, or a cluster member with --etcd");
  serve_cmd->add_option("--config", flags.config_file, "server.properties-style file with Kafka's configuration names");
  serve_cmd->add_option("--set", flags.sets, "Override one configuration key (key=value); repeatable")
      ->type_name("KEY=VALUE");
  serve_cmd->add_option("--data-dir", flags.data_dir,
                        "Data directory, or several separated by commas (log.dirs); default ./data");
  serve_cmd->add_option("--listen", flags.listen,
                        "The PLAINTEXT listener's HOST:PORT (short for listeners=PLAINTEXT://HOST:PORT; added to "
                        "other listeners); default 127.0.0.1:9092");
  serve_cmd->add_option("--advertise", flags.advertise,
                        "HOST:PORT of the inter-broker listener returned in Metadata; default: the listener");
  serve_cmd->add_option("--admin", flags.admin,
                        "Admin HTTP listener HOST:PORT (/metrics, /v1/health), or 'off'; default 127.0.0.1:9644");
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
  std::string without_use;
  for (const auto& k : runnel::kafka_settings_taken_without_use()) without_use += "  " + k + "\n";
  serve_cmd->footer("Configuration keys (--config file or --set):\n" + keys +
                    "Kafka settings taken without effect, with a warning saying why (controller.listener.names: "
                    "those listeners are not opened):\n" +
                    without_use);

  std::string bootstrap = "127.0.0.1:9092", group_id;
  // Every command that reaches a broker: where (--bootstrap) and how, with
  // Kafka's client properties (--command-config, app/command_config.h).
  std::string command_config;
  auto add_connection_options = [&command_config](CLI::App* cmd, std::string& target,
                                                  const std::string& names = "--bootstrap") {
    cmd->add_option(names, target, "Broker HOST:PORT; default 127.0.0.1:9092");
    cmd->add_option("--command-config", command_config, kCommandConfigHelp);
  };
  std::string report_format = "table";  // group list/describe, cluster status
  auto add_report_format = [&](CLI::App* cmd) {
    cmd->add_option("--format", report_format, "table (default) or json")->check(CLI::IsMember({"table", "json"}));
  };
  auto* group_cmd = app.add_subcommand("group", "Inspect consumer groups (like kafka-consumer-groups.sh)");
  group_cmd->require_subcommand(1);
  add_connection_options(group_cmd, bootstrap);
  auto* group_list_cmd = group_cmd->add_subcommand("list", "Groups with their state and protocol type");
  add_connection_options(group_list_cmd, bootstrap);
  add_report_format(group_list_cmd);
  auto* group_describe_cmd = group_cmd->add_subcommand("describe", "Members, committed offsets and lag per partition");
  group_describe_cmd->add_option("GROUP", group_id, "Group id")->required();
  add_connection_options(group_describe_cmd, bootstrap);
  add_report_format(group_describe_cmd);

  std::vector<std::string> group_ids, seek_topics;
  std::string seek_to;
  auto* group_delete_cmd = group_cmd->add_subcommand("delete", "Delete empty groups and their committed offsets");
  group_delete_cmd->add_option("GROUPS", group_ids, "Group ids")->required();
  add_connection_options(group_delete_cmd, bootstrap);
  auto* group_seek_cmd =
      group_cmd->add_subcommand("seek", "Move an empty group's committed offsets (like --reset-offsets --execute)");
  group_seek_cmd->add_option("GROUP", group_id, "Group id")->required();
  group_seek_cmd->add_option("--to", seek_to, "beginning, end, an offset, or @TIMESTAMP_MS")->required();
  group_seek_cmd->add_option("--topic", seek_topics, "Only these topics (all their partitions); repeatable");
  add_connection_options(group_seek_cmd, bootstrap);

  // runnel group describe-config / alter-config: like kafka-configs.sh --entity-type groups.
  std::vector<std::string> group_config_sets, group_config_deletes;
  auto* group_describe_config_cmd =
      group_cmd->add_subcommand("describe-config", "A group's configs and their sources (Kafka 4's group configs)");
  group_describe_config_cmd->add_option("GROUP", group_id, "Group id")->required();
  add_connection_options(group_describe_config_cmd, bootstrap);
  add_report_format(group_describe_config_cmd);
  auto* group_alter_config_cmd = group_cmd->add_subcommand(
      "alter-config", "Set or remove a group's configs (consumer.session.timeout.ms, consumer.heartbeat.interval.ms)");
  group_alter_config_cmd->add_option("GROUP", group_id, "Group id")->required();
  group_alter_config_cmd->add_option("-s,--set", group_config_sets, "key=value to set; repeatable");
  group_alter_config_cmd->add_option("-d,--delete", group_config_deletes, "key to remove; repeatable");
  add_connection_options(group_alter_config_cmd, bootstrap);
  add_report_format(group_alter_config_cmd);

  std::string transactional_id;
  auto* txn_cmd = app.add_subcommand("transactions", "Inspect transactions (like kafka-transactions.sh)");
  txn_cmd->require_subcommand(1);
  add_connection_options(txn_cmd, bootstrap);
  auto* txn_list_cmd = txn_cmd->add_subcommand("list", "Transactional ids with their coordinator and state");
  add_connection_options(txn_list_cmd, bootstrap);
  auto* txn_describe_cmd = txn_cmd->add_subcommand("describe", "One transactional id's producer, state and partitions");
  txn_describe_cmd->add_option("ID", transactional_id, "Transactional id")->required();
  add_connection_options(txn_describe_cmd, bootstrap);

  std::string producers_topic;
  std::optional<int32_t> producers_partition;
  auto* producers_cmd = app.add_subcommand(
      "producers", "Inspect idempotent and transactional producers (like kafka-transactions.sh describe-producers)");
  producers_cmd->require_subcommand(1);
  add_connection_options(producers_cmd, bootstrap);
  auto* producers_list_cmd = producers_cmd->add_subcommand("list", "The active producers of every partition");
  producers_list_cmd->add_option("--topic", producers_topic, "Only this topic's partitions");
  add_connection_options(producers_list_cmd, bootstrap);
  auto* producers_describe_cmd =
      producers_cmd->add_subcommand("describe", "The active producers of one topic's partitions");
  producers_describe_cmd->add_option("TOPIC", producers_topic, "Topic")->required();
  producers_describe_cmd->add_option("--partition", producers_partition, "Only this partition");
  add_connection_options(producers_describe_cmd, bootstrap);

  // runnel topic ...: like rpk topic / kafka-topics.sh.
  runnel::app::TopicCommandOptions topic_opts;
  std::string topic_format = "table";
  std::vector<std::string> topic_names, topic_sets, topic_deletes;
  std::string topic_name;
  int32_t topic_partitions = -1, topic_add = 0;
  int16_t topic_rf = -1;
  bool topic_internal = false, topic_all_configs = false;
  auto* topic_cmd = app.add_subcommand("topic", "Create, inspect, alter and delete topics (like rpk topic)");
  topic_cmd->require_subcommand(1);
  auto common_topic_options = [&](CLI::App* cmd) {
    add_connection_options(cmd, topic_opts.bootstrap);
    cmd->add_option("--format", topic_format, "table (default) or json")->check(CLI::IsMember({"table", "json"}));
  };
  common_topic_options(topic_cmd);
  auto* topic_list_cmd = topic_cmd->add_subcommand("list", "Topics with their partitions and replicas");
  topic_list_cmd->add_flag("--internal", topic_internal, "Include internal topics (__consumer_offsets, ...)");
  common_topic_options(topic_list_cmd);
  auto* topic_describe_cmd =
      topic_cmd->add_subcommand("describe", "A topic's summary, configs and partitions (leaders, ISR, offsets)");
  topic_describe_cmd->add_option("TOPIC", topic_name, "Topic")->required();
  topic_describe_cmd->add_flag("--all-configs", topic_all_configs, "Also the configs left at their defaults");
  common_topic_options(topic_describe_cmd);
  auto* topic_create_cmd = topic_cmd->add_subcommand("create", "Create topics");
  topic_create_cmd->add_option("TOPICS", topic_names, "Topic names")->required();
  topic_create_cmd->add_option("-p,--partitions", topic_partitions, "Partitions (default: num.partitions)");
  topic_create_cmd->add_option("-r,--replicas", topic_rf, "Replication factor (default: default.replication.factor)");
  topic_create_cmd->add_option("-c,--config", topic_sets, "Topic config key=value; repeatable");
  common_topic_options(topic_create_cmd);
  auto* topic_delete_cmd = topic_cmd->add_subcommand("delete", "Delete topics");
  topic_delete_cmd->add_option("TOPICS", topic_names, "Topic names")->required();
  common_topic_options(topic_delete_cmd);
  auto* topic_alter_cmd = topic_cmd->add_subcommand("alter-config", "Set or remove topic configs");
  topic_alter_cmd->add_option("TOPIC", topic_name, "Topic")->required();
  topic_alter_cmd->add_option("-s,--set", topic_sets, "key=value to set; repeatable");
  topic_alter_cmd->add_option("-d,--delete", topic_deletes, "key to reset to its default; repeatable");
  common_topic_options(topic_alter_cmd);
  auto* topic_add_cmd = topic_cmd->add_subcommand("add-partitions", "Add partitions to a topic");
  topic_add_cmd->add_option("TOPIC", topic_name, "Topic")->required();
  topic_add_cmd->add_option("-n,--num", topic_add, "How many partitions to add")->required();
  common_topic_options(topic_add_cmd);

  // runnel broker ...: dynamic broker configs, like kafka-configs.sh --entity-type brokers.
  runnel::app::ConfigCommandOptions broker_opts;
  std::string broker_format = "table";
  std::vector<std::string> broker_sets, broker_deletes;
  bool broker_default = false;
  int32_t broker_id = -1;
  auto* broker_cmd =
      app.add_subcommand("broker", "Dynamic broker configs (like kafka-configs.sh --entity-type brokers)");
  broker_cmd->require_subcommand(1);
  auto common_broker_options = [&](CLI::App* cmd) {
    add_connection_options(cmd, broker_opts.bootstrap);
    cmd->add_option("--format", broker_format, "table (default) or json")->check(CLI::IsMember({"table", "json"}));
    auto* d = cmd->add_flag("--default", broker_default, "The cluster-wide default (--entity-default)");
    auto* b = cmd->add_option("--broker", broker_id, "One broker's own values, through that broker (--entity-name)");
    d->excludes(b);
  };
  auto* broker_describe_cmd = broker_cmd->add_subcommand("describe-config", "A broker's configs and their sources");
  common_broker_options(broker_describe_cmd);
  auto* broker_alter_cmd = broker_cmd->add_subcommand("alter-config", "Set or remove dynamic broker configs");
  broker_alter_cmd->add_option("-s,--set", broker_sets, "key=value to set; repeatable");
  broker_alter_cmd->add_option("-d,--delete", broker_deletes, "key to remove; repeatable");
  common_broker_options(broker_alter_cmd);

  // runnel quota describe / alter: like kafka-configs.sh --entity-type users|clients|ips.
  runnel::app::QuotaOptions quota_opts;
  std::string quota_format = "table", quota_user, quota_client, quota_ip;
  bool quota_user_default = false, quota_client_default = false, quota_ip_default = false;
  std::vector<std::string> quota_sets, quota_deletes;
  auto* quota_cmd =
      app.add_subcommand("quota", "Client quotas (like kafka-configs.sh --entity-type users|clients|ips)");
  quota_cmd->require_subcommand(1);
  auto common_quota_options = [&](CLI::App* cmd) {
    add_connection_options(cmd, quota_opts.bootstrap);
    cmd->add_option("--format", quota_format, "table (default) or json")->check(CLI::IsMember({"table", "json"}));
    auto* u = cmd->add_option("--user", quota_user, "A user (the principal's name)");
    cmd->add_flag("--user-default", quota_user_default, "The default user")->excludes(u);
    auto* c = cmd->add_option("--client", quota_client, "A client id");
    cmd->add_flag("--client-default", quota_client_default, "The default client id")->excludes(c);
    auto* i = cmd->add_option("--ip", quota_ip, "A client address");
    cmd->add_flag("--ip-default", quota_ip_default, "The default address")->excludes(i);
  };
  auto* quota_describe_cmd =
      quota_cmd->add_subcommand("describe", "Every client quota, or those set on exactly one entity");
  common_quota_options(quota_describe_cmd);
  auto* quota_alter_cmd = quota_cmd->add_subcommand("alter", "Set or remove an entity's client quotas");
  quota_alter_cmd->add_option("-s,--set", quota_sets, "key=value to set (producer_byte_rate=1048576); repeatable");
  quota_alter_cmd->add_option("-d,--delete", quota_deletes, "key to remove; repeatable");
  common_quota_options(quota_alter_cmd);

  // runnel produce / consume: like rpk topic produce|consume and kcat -P|-C.
  runnel::app::ProduceOptions produce_opts;
  std::string produce_format = "text", produce_separator;
  std::vector<std::string> produce_headers;
  int32_t produce_partition = -1;
  auto* produce_cmd = app.add_subcommand("produce", "Produce lines from stdin as records (like rpk topic produce)");
  produce_cmd->add_option("TOPIC", produce_opts.topic, "Topic")->required();
  produce_cmd->add_option("-k,--key-separator", produce_separator, "Split each line into KEY<sep>VALUE");
  produce_cmd->add_option("-p,--partition", produce_partition, "Send every record to this partition");
  produce_cmd->add_option("-H,--header", produce_headers, "A header key=value on every record; repeatable");
  std::string produce_compression = "none";
  produce_cmd->add_option("-z,--compression", produce_compression, "none (default), gzip, snappy, lz4 or zstd")
      ->check(CLI::IsMember({"none", "gzip", "snappy", "lz4", "zstd"}));
  produce_cmd->add_option("--acks", produce_opts.acks, "0, 1 or -1 (all; the default)")
      ->check(CLI::IsMember({0, 1, -1}));
  produce_cmd->add_flag("-v,--verbose", produce_opts.verbose, "A line per record (default when stdin is a terminal)");
  produce_cmd->add_option("--format", produce_format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
  add_connection_options(produce_cmd, produce_opts.bootstrap);

  runnel::app::ConsumeOptions consume_opts;
  std::string consume_format = "text", consume_offset, consume_group;
  int32_t consume_partition = -1;
  int64_t consume_count = -1;
  auto* consume_cmd = app.add_subcommand("consume", "Print a topic's records (like rpk topic consume, kcat -C)");
  consume_cmd->add_option("TOPIC", consume_opts.topic, "Topic")->required();
  consume_cmd->add_option("-p,--partition", consume_partition, "Only this partition");
  consume_cmd->add_option("-o,--offset", consume_offset, "beginning (default), end, an offset, or @TIMESTAMP_MS");
  consume_cmd->add_option("-c,--count", consume_count, "Stop after this many records");
  consume_cmd->add_flag("-e,--exit", consume_opts.exit_at_end, "Stop at the end of every partition");
  consume_cmd->add_option("-g,--group", consume_group, "Start from and commit to this group's offsets");
  consume_cmd->add_option("-f,--format-string", consume_opts.format,
                          "kcat format: %s value, %k key, %t topic, %p partition, %o offset, %T timestamp; "
                          "default '%s\\n'");
  consume_cmd->add_flag("--read-committed", consume_opts.read_committed, "Skip aborted transactions' records");
  consume_cmd->add_option("--format", consume_format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
  add_connection_options(consume_cmd, consume_opts.bootstrap);

  auto* cluster_cmd = app.add_subcommand("cluster", "Inspect a cluster");
  cluster_cmd->require_subcommand(1);
  auto* cluster_status_cmd = cluster_cmd->add_subcommand(
      "status", "Brokers, controller, and each partition's leader, epoch, replicas and ISR");
  add_connection_options(cluster_status_cmd, bootstrap);
  add_report_format(cluster_status_cmd);
  std::vector<std::string> elect_partitions;
  bool elect_unclean = false;
  auto* cluster_elect_cmd = cluster_cmd->add_subcommand(
      "elect-leaders", "Preferred (or --unclean) leader election, like kafka-leader-election.sh");
  cluster_elect_cmd->add_option("PARTITIONS", elect_partitions,
                                "TOPIC (all its partitions) or TOPIC:PARTITION; none: every partition");
  cluster_elect_cmd->add_flag("--unclean", elect_unclean,
                              "Elect any live replica for partitions without a leader (may lose records)");
  add_connection_options(cluster_elect_cmd, bootstrap);
  add_report_format(cluster_elect_cmd);
  std::vector<std::string> reassign_specs;
  std::string reassign_file;
  bool reassign_cancel = false;
  bool reassign_keep_factor = false;
  auto* cluster_reassign_cmd = cluster_cmd->add_subcommand(
      "reassign", "Move partitions to other brokers (or --cancel their moves), like kafka-reassign-partitions.sh");
  cluster_reassign_cmd->add_option("PARTITIONS", reassign_specs,
                                   "TOPIC:PARTITION=R1,R2,... (broker ids, the first the preferred leader)");
  cluster_reassign_cmd
      ->add_option("--reassignment-json-file", reassign_file, "A plan in kafka-reassign-partitions.sh's JSON format")
      ->check(CLI::ExistingFile);
  cluster_reassign_cmd->add_flag("--cancel", reassign_cancel, "Cancel the moves in progress of these partitions");
  cluster_reassign_cmd->add_flag("--disallow-replication-factor-change", reassign_keep_factor,
                                 "Refuse a target with another number of replicas (KIP-860)");
  bool reassign_generate = false;
  bool reassign_verify = false;
  int64_t reassign_throttle = -1;
  cluster_reassign_cmd
      ->add_option("--throttle", reassign_throttle,
                   "Limit the moves' replication to this many bytes/s (KIP-73 throttles)")
      ->check(CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max()));
  int64_t reassign_log_dir_throttle = -1;
  cluster_reassign_cmd
      ->add_option("--replica-alter-log-dirs-throttle", reassign_log_dir_throttle,
                   "Limit the copies of replicas moving between log directories to this many bytes/s per broker")
      ->check(CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max()));
  cluster_reassign_cmd->add_flag("--verify", reassign_verify,
                                 "Report whether the plan's moves are done; once they are, remove the throttles");
  bool reassign_ignore_racks = false;
  std::vector<std::string> reassign_topics;
  std::string reassign_topics_file;
  std::vector<int32_t> reassign_brokers;
  cluster_reassign_cmd->add_flag("--generate", reassign_generate,
                                 "Print a plan placing every partition of --topics on --broker-list; move nothing");
  cluster_reassign_cmd->add_option("--topics", reassign_topics, "With --generate: the topics to move")->delimiter(',');
  cluster_reassign_cmd
      ->add_option("--topics-to-move-json-file", reassign_topics_file,
                   "With --generate: the topics to move, in kafka-reassign-partitions.sh's JSON format")
      ->check(CLI::ExistingFile);
  cluster_reassign_cmd->add_option("--broker-list", reassign_brokers, "With --generate: the brokers to place them on")
      ->delimiter(',');
  cluster_reassign_cmd->add_flag("--disable-rack-aware", reassign_ignore_racks, "With --generate: ignore broker.rack");
  add_connection_options(cluster_reassign_cmd, bootstrap);
  add_report_format(cluster_reassign_cmd);
  std::vector<std::string> reassignments_partitions;
  auto* cluster_reassignments_cmd = cluster_cmd->add_subcommand(
      "reassignments", "The partition moves in progress, like kafka-reassign-partitions.sh --list");
  cluster_reassignments_cmd->add_option("PARTITIONS", reassignments_partitions,
                                        "TOPIC (all its partitions) or TOPIC:PARTITION; none: every move");
  add_connection_options(cluster_reassignments_cmd, bootstrap);
  add_report_format(cluster_reassignments_cmd);

  std::vector<int32_t> log_dirs_brokers;
  std::vector<std::string> log_dirs_topics;
  auto* cluster_log_dirs_cmd = cluster_cmd->add_subcommand(
      "log-dirs", "Each broker's log directories and the replicas in them, like kafka-log-dirs.sh --describe");
  cluster_log_dirs_cmd->add_option("--broker-list", log_dirs_brokers, "Only these brokers (default: all)")
      ->delimiter(',');
  cluster_log_dirs_cmd->add_option("--topic-list", log_dirs_topics, "Only these topics' replicas (default: all)")
      ->delimiter(',');
  add_connection_options(cluster_log_dirs_cmd, bootstrap);
  add_report_format(cluster_log_dirs_cmd);

  runnel::app::UserSetOptions user_set;
  runnel::app::UserStore user_store;
  std::string user_name, user_mechanism;
  auto* user_cmd = app.add_subcommand(
      "user", "Manage SCRAM credentials: a data dir's, offline (before start-up), or a cluster's in etcd");
  user_cmd->require_subcommand(1);
  auto user_store_flags = [](CLI::App* c, runnel::app::UserStore& s) {
    c->add_option("--data-dir", s.data_dir, "A single node's data directory (log.dirs)");
    c->add_option("--etcd,--etcd-endpoints", s.etcd,
                  "A cluster's etcd endpoints, comma separated (runnel.etcd.endpoints), instead of --data-dir");
  };
  auto* user_set_cmd = user_cmd->add_subcommand("set", "Add or replace a user's SCRAM credential");
  user_set_cmd->add_option("NAME", user_set.name, "User name")->required();
  user_set_cmd->add_option("--password", user_set.password, "Password (only its salted SCRAM form is stored)")
      ->required();
  user_set_cmd->add_option("--mechanism", user_set.mechanism, "SCRAM-SHA-256 (default) or SCRAM-SHA-512");
  user_set_cmd->add_option("--iterations", user_set.iterations, "PBKDF2 iterations, 4096 (default) to 16384");
  user_store_flags(user_set_cmd, user_set.store);
  auto* user_list_cmd = user_cmd->add_subcommand("list", "Users with their mechanisms and iterations");
  user_store_flags(user_list_cmd, user_store);
  auto* user_delete_cmd = user_cmd->add_subcommand("delete", "Remove a user (or one mechanism's credential)");
  user_delete_cmd->add_option("NAME", user_name, "User name")->required();
  user_delete_cmd->add_option("--mechanism", user_mechanism, "Remove only this mechanism's credential");
  user_store_flags(user_delete_cmd, user_store);

  runnel::app::AclOptions acl;
  auto* acl_cmd = app.add_subcommand("acl", "Manage ACLs through a broker (like kafka-acls.sh)");
  acl_cmd->require_subcommand(1);
  auto acl_flags = [&acl, &add_connection_options](CLI::App* c, bool add) {
    add_connection_options(c, acl.bootstrap, "--bootstrap-server,--bootstrap");
    c->add_option("--topic", acl.topics, "Topic (repeatable)");
    c->add_option("--group", acl.groups, "Consumer group (repeatable)");
    c->add_option("--transactional-id", acl.transactional_ids, "Transactional id (repeatable)");
    c->add_flag("--cluster", acl.cluster, "The cluster resource");
    c->add_option("--resource-pattern-type", acl.pattern_type,
                  add ? "literal (default) or prefixed" : "literal (default), prefixed, match or any");
    c->add_option("--allow-principal", acl.allow_principals, "User:NAME (repeatable)");
    c->add_option("--deny-principal", acl.deny_principals, "User:NAME (repeatable)");
    c->add_option("--allow-host", acl.allow_hosts, "Host (IP) for the allow principals; default *");
    c->add_option("--deny-host", acl.deny_hosts, "Host (IP) for the deny principals; default *");
    c->add_option("--operation", acl.operations, "READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, ... (repeatable)");
  };
  auto* acl_add_cmd = acl_cmd->add_subcommand("add", "Add ACLs (kafka-acls.sh --add)");
  acl_flags(acl_add_cmd, true);
  auto* acl_list_cmd = acl_cmd->add_subcommand("list", "List ACLs, all or those of the named resources (--list)");
  acl_flags(acl_list_cmd, false);
  acl_list_cmd->add_option("--principal", acl.principals, "Only the ACLs of this principal (repeatable)");
  auto* acl_remove_cmd = acl_cmd->add_subcommand("remove", "Remove ACLs (--remove; no prompt, as with --force)");
  acl_flags(acl_remove_cmd, false);
  bool acl_force = false;  // kafka-acls.sh's --force: runnel never prompts
  acl_remove_cmd->add_flag("--force", acl_force, "Accepted for kafka-acls.sh compatibility (never prompts)");

  std::string completion_shell;
  auto* completion_cmd =
      app.add_subcommand("completion", "Print a shell completion script: source <(runnel completion bash)");
  completion_cmd->add_option("SHELL", completion_shell, "bash (zsh: load it after bashcompinit)")
      ->required()
      ->check(CLI::IsMember({"bash"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and exits 0; any usage error is 2, as the README promises
    // scripts (CLI11's own codes are 100 and up).
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (completion_cmd->parsed()) {
    std::cout << runnel::app::bash_completion(app);
    return 0;
  }
  // Every AdminClient of the command dials through this (app/command_config.h).
  std::optional<runnel::app::DialerScope> secured;
  if (!command_config.empty()) {
    try {
      secured.emplace(runnel::app::command_config_dialer(command_config));
    } catch (const std::exception& e) {
      std::cerr << "Error: " << e.what() << "\n";
      return 2;
    }
  }
  if (acl_add_cmd->parsed()) return runnel::app::acl_add(acl, std::cout, std::cerr);
  if (acl_list_cmd->parsed()) return runnel::app::acl_list(acl, std::cout, std::cerr);
  if (acl_remove_cmd->parsed()) return runnel::app::acl_remove(acl, std::cout, std::cerr);
  if (user_set_cmd->parsed()) return runnel::app::user_set(user_set, std::cout, std::cerr);
  if (user_list_cmd->parsed()) return runnel::app::user_list(user_store, std::cout, std::cerr);
  if (user_delete_cmd->parsed())
    return runnel::app::user_delete(user_name, user_mechanism, user_store, std::cout, std::cerr);
  if (serve_cmd->parsed()) return serve(flags);
  const bool report_json = report_format == "json";
  if (cluster_status_cmd->parsed()) return runnel::app::cluster_status(bootstrap, report_json, std::cout, std::cerr);
  if (cluster_elect_cmd->parsed())
    return runnel::app::cluster_elect_leaders(bootstrap, elect_partitions, elect_unclean, report_json, std::cout,
                                              std::cerr);
  // A plan or topics file (CLI checked that it exists).
  auto read_text = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  if (cluster_reassign_cmd->parsed() && reassign_generate) {
    try {
      if (!reassign_topics_file.empty())
        for (auto& t : runnel::app::parse_topics_to_move_json(read_text(reassign_topics_file)))
          reassign_topics.push_back(std::move(t));
    } catch (const std::invalid_argument& e) {
      std::cerr << "Error: " << e.what() << "\n";
      return 2;
    }
    if (reassign_topics.empty() || reassign_brokers.empty()) {
      std::cerr << "Error: --generate needs --topics (or --topics-to-move-json-file) and --broker-list\n";
      return 2;
    }
    return runnel::app::cluster_reassign_generate(bootstrap, reassign_topics, reassign_brokers, reassign_ignore_racks,
                                                  report_json, std::cout, std::cerr);
  }
  if (cluster_reassign_cmd->parsed()) {
    std::vector<runnel::app::ReassignmentSpec> specs;
    try {
      if (!reassign_file.empty()) specs = runnel::app::parse_reassignment_json(read_text(reassign_file));
      for (const auto& spec : reassign_specs) specs.push_back(runnel::app::parse_reassignment_spec(spec));
    } catch (const std::invalid_argument& e) {
      std::cerr << "Error: " << e.what() << "\n";
      return 2;
    }
    if (specs.empty()) {
      std::cerr << "Error: name the partitions (TOPIC:PARTITION=R1,R2,...) or --reassignment-json-file\n";
      return 2;
    }
    if (reassign_verify)
      return runnel::app::cluster_reassign_verify(bootstrap, specs, report_json, std::cout, std::cerr);
    return runnel::app::cluster_reassign(
        bootstrap, specs, reassign_cancel, !reassign_keep_factor,
        {reassign_throttle > 0 ? std::optional<int64_t>(reassign_throttle) : std::nullopt,
         reassign_log_dir_throttle > 0 ? std::optional<int64_t>(reassign_log_dir_throttle) : std::nullopt},
        report_json, std::cout, std::cerr);
  }
  if (cluster_log_dirs_cmd->parsed())
    return runnel::app::cluster_log_dirs(bootstrap, log_dirs_brokers, log_dirs_topics, report_json, std::cout,
                                         std::cerr);
  if (cluster_reassignments_cmd->parsed())
    return runnel::app::cluster_reassignments(bootstrap, reassignments_partitions, report_json, std::cout, std::cerr);
  if (group_list_cmd->parsed()) return runnel::app::group_list(bootstrap, report_json, std::cout, std::cerr);
  if (group_describe_cmd->parsed())
    return runnel::app::group_describe(group_id, bootstrap, report_json, std::cout, std::cerr);
  if (group_delete_cmd->parsed()) return runnel::app::group_delete(group_ids, bootstrap, std::cout, std::cerr);
  if (group_seek_cmd->parsed())
    return runnel::app::group_seek(group_id, seek_to, seek_topics, bootstrap, std::cout, std::cerr);
  if (txn_list_cmd->parsed()) return runnel::app::transactions_list(bootstrap, std::cout, std::cerr);
  if (txn_describe_cmd->parsed())
    return runnel::app::transactions_describe(transactional_id, bootstrap, std::cout, std::cerr);
  if (produce_cmd->parsed()) {
    produce_opts.json = produce_format == "json";
    if (!produce_separator.empty()) produce_opts.key_separator = produce_separator;
    if (produce_partition >= 0) produce_opts.partition = produce_partition;
    produce_opts.compression = produce_compression == "gzip"     ? 1
                               : produce_compression == "snappy" ? 2
                               : produce_compression == "lz4"    ? 3
                               : produce_compression == "zstd"   ? 4
                                                                 : 0;
    for (const auto& h : produce_headers) {
      auto eq = h.find('=');
      if (eq == std::string::npos) {
        std::cerr << "Error: --header takes key=value, got '" << h << "'\n";
        return 2;
      }
      produce_opts.headers.emplace_back(h.substr(0, eq), h.substr(eq + 1));
    }
    if (isatty(STDIN_FILENO)) produce_opts.verbose = true;
    produce_opts.progress = runnel::app::progress_line_wanted(produce_opts.verbose || produce_opts.json);
    return runnel::app::produce_lines(produce_opts, std::cin, std::cout, std::cerr);
  }
  if (consume_cmd->parsed()) {
    consume_opts.json = consume_format == "json";
    if (consume_partition >= 0) consume_opts.partition = consume_partition;
    if (!consume_offset.empty()) consume_opts.offset = consume_offset;
    if (consume_count >= 0) consume_opts.count = static_cast<uint64_t>(consume_count);
    if (!consume_group.empty()) consume_opts.group = consume_group;
    consume_opts.progress = runnel::app::progress_line_wanted(/*prints_per_record=*/true);
    return runnel::app::consume_records(consume_opts, std::cout, std::cerr);
  }
  topic_opts.json = topic_format == "json";
  if (topic_list_cmd->parsed()) return runnel::app::topic_list(topic_opts, topic_internal, std::cout, std::cerr);
  if (topic_describe_cmd->parsed())
    return runnel::app::topic_describe(topic_opts, topic_name, topic_all_configs, std::cout, std::cerr);
  if (topic_delete_cmd->parsed()) return runnel::app::topic_delete(topic_opts, topic_names, std::cout, std::cerr);
  if (topic_add_cmd->parsed())
    return runnel::app::topic_add_partitions(topic_opts, topic_name, topic_add, std::cout, std::cerr);
  if (topic_create_cmd->parsed() || topic_alter_cmd->parsed()) {
    auto kv = key_values_or_report(topic_sets);
    if (!kv) return 2;
    if (topic_create_cmd->parsed())
      return runnel::app::topic_create(topic_opts, topic_names, topic_partitions, topic_rf, *kv, std::cout, std::cerr);
    return runnel::app::topic_alter_config(topic_opts, topic_name, *kv, topic_deletes, std::cout, std::cerr);
  }
  if (broker_describe_cmd->parsed() || broker_alter_cmd->parsed()) {
    if (broker_default == (broker_id >= 0)) {
      std::cerr << "Error: give --default or --broker N\n";
      return 2;
    }
    broker_opts.json = broker_format == "json";
    broker_opts.resource_type = runnel::app::kBrokerConfigResource;
    broker_opts.resource_name = broker_default ? "" : std::to_string(broker_id);
    if (broker_describe_cmd->parsed()) return runnel::app::describe_config(broker_opts, std::cout, std::cerr);
    auto kv = key_values_or_report(broker_sets);
    if (!kv) return 2;
    return runnel::app::alter_config(broker_opts, *kv, broker_deletes, std::cout, std::cerr);
  }
  if (group_describe_config_cmd->parsed() || group_alter_config_cmd->parsed()) {
    runnel::app::ConfigCommandOptions o{.bootstrap = bootstrap,
                                        .json = report_format == "json",
                                        .resource_type = runnel::app::kGroupConfigResource,
                                        .resource_name = group_id};
    if (group_describe_config_cmd->parsed()) return runnel::app::describe_config(o, std::cout, std::cerr);
    auto kv = key_values_or_report(group_config_sets);
    if (!kv) return 2;
    return runnel::app::alter_config(o, *kv, group_config_deletes, std::cout, std::cerr);
  }
  if (quota_describe_cmd->parsed() || quota_alter_cmd->parsed()) {
    quota_opts.json = quota_format == "json";
    if (!quota_user.empty() || quota_user_default)
      quota_opts.entity.emplace_back("user", quota_user_default ? std::nullopt : std::optional(quota_user));
    if (!quota_client.empty() || quota_client_default)
      quota_opts.entity.emplace_back("client-id", quota_client_default ? std::nullopt : std::optional(quota_client));
    if (!quota_ip.empty() || quota_ip_default)
      quota_opts.entity.emplace_back("ip", quota_ip_default ? std::nullopt : std::optional(quota_ip));
    if (quota_describe_cmd->parsed()) return runnel::app::quota_describe(quota_opts, std::cout, std::cerr);
    auto kv = key_values_or_report(quota_sets);
    if (!kv) return 2;
    return runnel::app::quota_alter(quota_opts, *kv, quota_deletes, std::cout, std::cerr);
  }
  if (producers_list_cmd->parsed())
    return runnel::app::producers_list(producers_topic.empty() ? std::nullopt : std::optional(producers_topic),
                                       bootstrap, std::cout, std::cerr);
  if (producers_describe_cmd->parsed())
    return runnel::app::producers_describe(producers_topic, producers_partition, bootstrap, std::cout, std::cerr);
  return 0;
}
