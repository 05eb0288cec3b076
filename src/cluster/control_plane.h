#pragma once
// This broker's membership in a cluster whose control plane is etcd
// (DESIGN.md, "Cluster"): it agrees on the cluster id, registers the broker
// under a lease (the broker's epoch is its key's create revision), keeps a
// metadata cache fed by a watch on the cluster's prefix, and takes part in the
// controller election (a key created under the lease, so that it vanishes
// with the broker).
//
// A supervisor thread keeps the three in place: when the lease is lost (etcd
// unreachable for a whole TTL, or the process paused past it) it stops acting
// as controller at once, grants a new lease and registers again. While etcd is
// unreachable the broker keeps what it has and retries; the log says why.
//
// The elected controller moves leadership when brokers die or return
// (controller/leader_election), each change a transaction that compares the
// partition key's mod revision and the controller key's create revision, so
// that neither a stale view nor a deposed controller overwrites newer state.
//
// Topic admin writes the cluster's topic records in etcd: one transaction per
// request, guarded so that concurrent requests on different brokers cannot
// both succeed (a creation compares that the topic key does not exist; an
// addition compares the key's mod revision). They block on etcd: call them
// off the shard threads.
//
// Thread-safety: join_cluster(), start() and stop() from the owning thread, in
// that order; cache(), is_controller() and the topic admin calls from any
// thread.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/error_code.h"
#include "base/types.h"
#include "cluster/controller/replica_assignment.h"
#include "cluster/etcd/client.h"
#include "cluster/etcd/lease_keeper.h"
#include "cluster/etcd/watch.h"
#include "cluster/metadata/metadata_cache.h"

namespace runnel::cluster {

// One partition of an AlterPartitionReassignments request: move it to
// `target`, or cancel its move in progress (nullopt).
struct ReassignmentRequest {
  std::string topic;
  int32_t partition = 0;
  std::optional<std::vector<int32_t>> target;
};

// Its answer: NONE, or Kafka's error code and message.
struct ReassignmentResult {
  ErrorCode error = ErrorCode::NONE;
  std::string message;
};

struct ControlPlaneOptions {
  etcd::ClientOptions client;
  // Every cluster lives under <root><cluster-id>/; <root>cluster-id names the
  // cluster of this etcd.
  std::string root = "/runnel/";
  int32_t node_id = 0;
  // Called on the watch thread after every change the cache applied.
  std::function<void()> on_metadata_change;
  // The lease's TTL (broker.session.timeout.ms, rounded up to seconds): how
  // long a dead broker keeps its registration and, if it had it, the
  // controller role.
  int64_t session_ttl_seconds = 6;
  // unclean.leader.election.enable: elect a live replica outside the ISR
  // rather than leave a partition offline (losing what only the ISR had).
  // A topic's own setting (its record's configs) wins; else
  // unclean_leader_election_default() when set (the broker's topic default
  // now: its static value under the dynamic ones), else this.
  bool unclean_leader_election = false;
  std::function<bool()> unclean_leader_election_default;
  // controlled.shutdown.enable: a clean stop revokes the lease, so the
  // controller moves leadership at once; false leaves it to the lease's
  // expiry (or to the probes, which see the closed port within ~400 ms).
  bool controlled_shutdown = true;
  // auto.leader.rebalance.enable / leader.imbalance.check.interval.seconds:
  // how often the controller gives partitions back to their preferred
  // (first) replica (0: never).
  std::chrono::milliseconds preferred_leader_interval{300000};
  // How long start-up waits for etcd, and for an earlier incarnation's
  // registration to expire.
  std::chrono::milliseconds startup_timeout{30000};
};

class ControlPlane {
 public:
  explicit ControlPlane(ControlPlaneOptions options);
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Before the data dir is served: the cluster's id as etcd holds it, created
  // from `proposed` when this is the cluster's first broker. Retries while
  // etcd is unreachable, up to the start-up timeout.
  etcd::Status join_cluster(const std::string& proposed, std::string& cluster_id);

  // Once the listener is bound, after a successful join_cluster() (which
  // made the cache and the key prefix this fills): registers `self` and
  // starts the watch and the election. Fails when etcd stays unreachable or
  // another live broker holds this node id past the start-up timeout.
  etcd::Status start(metadata::BrokerRecord self);

  // Kafka's controlled shutdown (controlled.shutdown.enable), before the
  // listeners close: marks the registration in controlled shutdown, so that
  // the controller moves this broker's leaderships to other in-sync replicas
  // and takes it out of the ISRs while it still serves (clients follow the
  // new leaders through NOT_LEADER_OR_FOLLOWER and Metadata), and waits
  // until its cache shows that done, for at most the session timeout (the
  // lease's expiry would have moved them by then). Partitions that no other
  // live replica of the ISR can lead stay led here until stop(). Does
  // nothing when disabled, fenced or not registered. Blocking; call it from
  // the owning thread, then stop().
  void controlled_shutdown();

  // Leaves the cluster: revokes the lease, so that the registration and any
  // controller claim go at once rather than after the TTL.
  void stop();

  // Creates a topic whose partitions are placed by `manual` (validated) or
  // by the replica assignment over the live brokers. Answers once this
  // broker's cache holds the topic. TOPIC_ALREADY_EXISTS,
  // INVALID_REPLICATION_FACTOR, INVALID_REPLICA_ASSIGNMENT, or
  // REQUEST_TIMED_OUT when etcd cannot be reached; `message` says why.
  ErrorCode create_topic(const std::string& name, int32_t partitions, int16_t replication_factor,
                         const controller::Assignment* manual, const std::map<std::string, std::string>& configs,
                         bool internal, std::string* message);
  // Records a topic this broker already holds (its id and replicas as given)
  // unless the cluster has one of that name: how a single node's topics
  // become the cluster's when its data dir founds the cluster.
  ErrorCode import_topic(const std::string& name, const metadata::TopicRecord& record, std::string* message);
  // Whether join_cluster() created the cluster (this data dir founded it).
  bool founded_cluster() const { return founded_; }
  // Deletes the topic's record and partition states everywhere.
  ErrorCode delete_topic(const std::string& name, std::string* message);
  // Raises the partition count to `total`, placing the new partitions like
  // create_topic; fenced on the topic record's mod revision.
  ErrorCode add_partitions(const std::string& name, int32_t total, const controller::Assignment* manual,
                           std::string* message);

  // This broker leads `partition` in `leader_epoch` but its log went offline
  // (Partition::offline()): hands the leadership to the first registered
  // replica of the ISR in replica order and leaves the ISR, in one fenced
  // write, as a controlled shutdown would for one partition (the offline log
  // may miss what it acknowledged, so it may neither lead nor count in the
  // ISR). NOT_ENOUGH_REPLICAS when no other ISR member is registered (it
  // then stays, offline, as the only holder of every committed record).
  ErrorCode resign_offline_leader(const std::string& topic, PartitionId partition, LeaderEpoch leader_epoch);
  // The leader's ISR change (Kafka's AlterPartition): writes `isr` into the
  // partition's state, bumping its partition epoch, while this node still
  // leads it in `leader_epoch`, fenced on the key's mod revision as the
  // cache last saw it. NONE when written; FENCED_LEADER_EPOCH when the state
  // has moved on (another leader or epoch, or a newer write the cache has not
  // seen yet: the caller retries later); REQUEST_TIMED_OUT when etcd cannot be
  // reached. Blocking; not on a shard thread.
  ErrorCode alter_isr(const std::string& topic, PartitionId partition, LeaderEpoch leader_epoch,
                      const std::vector<NodeId>& isr);

  // ElectLeaders, as Kafka's controller answers it (electLeader), for each
  // of `partitions` in order: with
  // `unclean` false, the preferred (first) replica leads again when it is
  // live and in the ISR (a partition whose leader is gone gets the first
  // live ISR member instead); with `unclean` true, a partition without a
  // live leader gets the first live ISR member, else any live replica (what
  // only the ISR had may be lost: the operator asked for it, whatever
  // unclean.leader.election.enable says). One write, fenced on the key's mod
  // revision, decided on a view at least as new as etcd when asked. For
  // each: NONE when elected;
  // ELECTION_NOT_NEEDED when the preferred replica leads already (preferred)
  // or a live leader leads (unclean); PREFERRED_LEADER_NOT_AVAILABLE or
  // ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica may take it;
  // UNKNOWN_TOPIC_OR_PARTITION; REQUEST_TIMED_OUT when etcd cannot be
  // reached. Blocking; not on a shard thread.
  std::vector<ErrorCode> elect_leaders_on_request(const std::vector<std::pair<std::string, int32_t>>& partitions,
                                                  bool unclean);

  // AlterPartitionReassignments (KIP-455; controller/reassignment.h), for
  // each of `requests` in order: starts the move (one that only reorders or
  // removes replicas completes at once, as in Kafka), or cancels it. The
  // moves of one topic are one write of its record and of the partitions'
  // states, fenced on their mod revisions, decided on a view at least as new
  // as etcd when asked. The controller completes a move once the new
  // replicas are in the ISR. Per partition: NONE; UNKNOWN_TOPIC_OR_PARTITION;
  // INVALID_REPLICA_ASSIGNMENT (empty target, a broker twice or not
  // registered, a cancel that needs an unclean election); INVALID_REPLICATION_FACTOR
  // when the target changes the partition's replica count and
  // `allow_replication_factor_change` is false; NO_REASSIGNMENT_IN_PROGRESS
  // (a cancel); REQUEST_TIMED_OUT when etcd cannot be reached. Blocking; not
  // on a shard thread.
  std::vector<ReassignmentResult> alter_reassignments(const std::vector<ReassignmentRequest>& requests,
                                                      bool allow_replication_factor_change);

  // Replaces the topic's config overrides; fenced like add_partitions.
  ErrorCode set_topic_configs(const std::string& name, const std::map<std::string, std::string>& configs,
                              std::string* message);

  // Reserves `size` producer ids for this broker (ProducerIdAllocator):
  // advances `producer-ids` by `size`, fenced on its mod revision, and
  // returns the first id reserved; nullopt when etcd cannot be reached.
  // Blocking; not on a shard thread.
  std::optional<int64_t> reserve_producer_ids(int64_t size);

  // Replaces the cluster's ACLs (key `acls`) by change(current stored text,
  // "" when none), fenced on the key's mod revision (a lost race reads
  // again); nothing is written when change() returns the current text.
  // NONE once this broker's cache holds the new value; REQUEST_TIMED_OUT
  // when etcd cannot be reached. `change` may throw std::invalid_argument (a
  // stored value that does not decode): the answer is then
  // UNKNOWN_SERVER_ERROR with its message. Blocking; not on a shard thread.
  ErrorCode update_acls(const std::function<std::string(const std::string&)>& change, std::string* message);
  // Replaces the dynamic broker configs (key `broker-configs`,
  // config/dynamic_broker_config.h's document) the same way.
  ErrorCode update_broker_configs(const std::function<std::string(const std::string&)>& change, std::string* message);
  // Replaces the SCRAM credentials (key `scram-credentials`,
  // security/credential_store.h's encode_credential_document) the same way.
  ErrorCode update_scram_credentials(const std::function<std::string(const std::string&)>& change,
                                     std::string* message);

  // After join_cluster(), before start(): the cluster's SCRAM credentials
  // (key `scram-credentials`), creating the key from `initial` first when
  // it does not exist yet and `initial` is set (create-if-absent, so that
  // of brokers starting together one uploads its data dir's file and the
  // others see it). `value` is the key's value afterwards ("" when none),
  // `mod_revision` its mod revision (0 when none), `created` whether this
  // call created it. Retries while etcd is unreachable, up to the start-up
  // timeout.
  etcd::Status seed_scram_credentials(const std::optional<std::string>& initial, std::string& value,
                                      int64_t& mod_revision, bool& created);

  // From join_cluster() on (empty until start() has listed etcd).
  const metadata::MetadataCache& cache() const { return *cache_; }
  // Whether this broker must not act as a leader: its lease was lost (etcd
  // said it expired or was revoked, or no renewal got through for a whole
  // TTL: paused past it, found dead by another broker, or cut off from
  // etcd), so the cluster may have moved its partitions and groups; until it
  // has registered again. A broker cannot tell etcd being down for everyone
  // from being cut off alone, so it takes the safe side: with etcd down for
  // longer than the lease every broker stops serving until etcd is back.
  // Also fenced, before that, while no renewal has succeeded recently enough
  // for the lease to be sure to be alive (LeaseKeeper::valid_until_ns): that
  // ends before etcd could expire it and the controller move this broker's
  // partitions, so an old and a new leader never serve at once.
  bool fenced() const {
    if (fenced_) return true;
    auto now = std::chrono::steady_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() >= lease_valid_until_ns_.load();
  }
  bool is_controller() const { return is_controller_.load(); }
  // etcd names this broker leader in `state`, but it may not act as such:
  // it is fenced, or it has registered again since it got that leader epoch
  // (PartitionState::leader_broker_epoch) and waits for the controller to
  // give it a new one. Any thread.
  bool named_leader_but_not_serving(const metadata::PartitionState& state) const {
    return state.leader == options_.node_id && (fenced() || awaits_new_epoch(state));
  }
  // Only the second half of that: the role this replica takes (the fence is
  // applied per request).
  bool awaits_new_epoch(const metadata::PartitionState& state) const {
    if (state.leader != options_.node_id) return false;
    const int64_t mine = broker_epoch(options_.node_id);  // 0 until registered
    return mine == 0 || state.leader_broker_epoch != mine;
  }
  const std::string& cluster_id() const { return cluster_id_; }

 private:
  // Logs at most once per interval: a broker cut off from etcd retries every
  // few hundred milliseconds and must not flood its log while it does. One
  // per message, owned by the thread that logs it.
  class Throttle {
   public:
    bool allow();

   private:
    std::chrono::steady_clock::time_point next_{};
  };

  void supervise();
  // One pass of the supervisor; returns true when everything is in place.
  bool reconcile();
  bool renew_lease();
  bool register_self();
  // Lifts the fence of a registered broker once its metadata cache holds
  // everything up to its registration: until then its view of who leads
  // what may predate what the controller did while it was away.
  void unfence_when_caught_up();
  void campaign();
  // The controller's duty: partitions whose leader died get a new one from
  // the ISR (or go offline), offline ones get their ISR member back.
  void elect_leaders();
  // The crash detector (its own thread): the controller probes every broker,
  // the others the controller. A broker whose registered address refuses
  // connections twice in a row (controller/broker_probe) has its lease
  // revoked at once, so that its partitions (or the controller role) move in
  // well under a second instead of after the session timeout.
  void probe_brokers();
  int64_t relist();
  void wake();
  // Waits (bounded) until the cache reflects `revision`, so that a request
  // answered after a write sees it in this broker's Metadata.
  void await_cache(int64_t revision);
  // Waits until the cache holds everything etcd had when called; the
  // revision, or nullopt when etcd or the watch did not answer in time.
  std::optional<int64_t> catch_up_with_etcd();
  // One topic's share of alter_reassignments: `indexes` into `requests`,
  // answered into `results`; false when the write met a newer record or
  // state (the caller catches up and decides again).
  bool try_alter_reassignments(const std::string& topic, const std::vector<ReassignmentRequest>& requests,
                               const std::vector<size_t>& indexes, bool allow_replication_factor_change,
                               std::vector<ReassignmentResult>& results);
  // The controller's duty for moves in progress: completes each whose ISR
  // allows it (controller/reassignment.h), one fenced write per topic.
  void complete_reassignments(const std::set<int32_t>& live, const std::set<int32_t>& stopping);
  // One partition of elect_leaders_on_request, on the cache as it is;
  // FENCED_LEADER_EPOCH when its write met a newer state.
  ErrorCode elect_one_on_request(const std::string& topic, int32_t partition, bool unclean);
  // A change of a partition's state decided on the cache (alter_isr,
  // resign_offline_leader, elect_one_on_request): `next` replaces `current`,
  // fenced on the key's mod revision as the cache saw it. NONE when written,
  // FENCED_LEADER_EPOCH when the state moved on, REQUEST_TIMED_OUT when etcd
  // cannot be reached.
  ErrorCode write_partition_state(const std::string& topic, int32_t partition, const metadata::PartitionState& current,
                                  const metadata::PartitionState& next);
  // The registered brokers (a broker is live while its lease keeps its
  // registration), as node ids and as slots for the replica assignment.
  // Brokers in controlled shutdown are live, are not among the slots (they
  // get no new replicas) and are also in stopping_brokers().
  std::set<int32_t> live_brokers() const;
  // A live broker's epoch (its registration's create revision); 0 if not live.
  int64_t broker_epoch(int32_t node) const;
  // `next` as it is to be written over `current`: a leader that changed, or
  // got a new epoch, is stamped with its broker epoch now
  // (PartitionState::leader_broker_epoch).
  metadata::PartitionState stamped(const metadata::PartitionState& current, metadata::PartitionState next) const;
  std::set<int32_t> stopping_brokers() const;
  std::vector<controller::BrokerSlot> live_slots() const;
  // controlled_shutdown(): marks the registration (the supervisor's, once
  // asked: it owns the lease).
  void announce_controlled_shutdown();
  // What controlled_shutdown() still waits for, as the cache shows it.
  struct HandOver {
    bool announced = false;  // the cache shows the registration marked
    size_t pending = 0;      // led here, or in an ISR here, with someone else to take over
    size_t kept = 0;         // led here with nobody else in sync to take over
  };
  HandOver hand_over_state() const;
  // Whether `record`'s partitions may have an unclean leader election
  // (ControlPlaneOptions::unclean_leader_election).
  bool unclean_election_enabled(const metadata::TopicRecord& record) const;
  // update_acls / update_broker_configs: one key holding a whole document,
  // replaced by change(current), fenced on its mod revision; `what` names it
  // in errors.
  ErrorCode update_document(const std::string& key, const std::string& what,
                            const std::function<std::string(const std::string&)>& change, std::string* message);
  // One attempt; NOT_CONTROLLER when the fenced write lost a race.
  ErrorCode try_add_partitions(const std::string& name, int32_t total, const controller::Assignment* manual,
                               std::string* message);

  const ControlPlaneOptions options_;
  std::string cluster_id_;
  metadata::Keys keys_;
  metadata::BrokerRecord self_;
  etcd::Client client_;         // the supervisor's
  etcd::Client admin_client_;   // topic admin requests (serialised)
  etcd::Client relist_client_;  // the watch thread's, for re-listing after a compaction
  etcd::Client probe_client_;   // the prober's
  std::unique_ptr<metadata::MetadataCache> cache_;
  std::unique_ptr<etcd::LeaseKeeper> lease_;
  std::unique_ptr<etcd::Watch> watch_;
  std::atomic<bool> is_controller_{false};
  std::atomic<bool> registered_{false};
  std::atomic<bool> fenced_{false};
  // controlled_shutdown() asked for the registration to be marked.
  std::atomic<bool> shutdown_requested_{false};
  // The current lease's valid_until_ns, written by its keeper, read by
  // fenced() on any thread.
  std::atomic<int64_t> lease_valid_until_ns_{0};
  int64_t registered_revision_ = 0;  // etcd's revision of the registration
  // A lease declared lost while etcd was unreachable, which etcd may still
  // hold: renew_lease() takes it over if so (0: none). The supervisor's.
  int64_t resumable_lease_ = 0;
  bool founded_ = false;
  Throttle lease_warnings_;     // the supervisor's
  Throttle register_warnings_;  // the supervisor's
  Throttle watch_warnings_;     // the watch thread's
  int64_t claim_revision_ = 0;  // the controller key's create revision while we hold it
  std::chrono::steady_clock::time_point last_preferred_check_{};  // the supervisor's

  std::mutex mu_;
  std::condition_variable wake_;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread supervisor_;
  std::thread prober_;
};

}  // namespace runnel::cluster
