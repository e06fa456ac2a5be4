package dev.converge.migration.qmp;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.job.qmp.JobQmp;
import dev.converge.migration.job.MigrationCapability;
import dev.converge.migration.job.MigrationEvents;
import dev.converge.migration.job.MigrationJob;
import dev.converge.migration.job.MigrationStatus;
import dev.converge.migration.job.MigrationTarget;
import dev.converge.migration.job.MigrationUri;
import dev.converge.migration.job.MigrationView;
import dev.converge.migration.machine.RamBlock;
import dev.converge.migration.precopy.FrozenRamCheck;
import dev.converge.migration.precopy.IncomingStats;
import dev.converge.qmp.Args;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.EventSpec;
import dev.converge.qmp.schema.ObjectType;
import dev.converge.qmp.schema.WireEnum;
import dev.converge.qmp.sockets.InetSocketAddress;
import dev.converge.qmp.sockets.SocketAddress;
import dev.converge.qmp.sockets.SocketAddressQmp;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The migration QMP commands and events, as QEMU's qapi/migration.json declares them (the
 * members converge implements), plus converge's {@code job-id} and {@code auto-complete} on
 * {@code migrate} and the {@code migration} job type. Handlers run on the main loop and call
 * {@link MigrationModule}.
 */
final class MigrationQmp {
    static final String SINCE = "0.1";
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    static final WireEnum<MigrationStatus> STATUS_ENUM = WireEnum.of("MigrationStatus", MigrationStatus.class,
            MigrationStatus::wireName, "The status of a migration, as QEMU's");
    static final EnumType STATUS = STATUS_ENUM.type();
    static final EnumType CAPABILITY = EnumType.of("MigrationCapability", MigrationCapability.class,
            MigrationCapability::wireName, "QEMU 10.0's migration capabilities and converge's x-converge-verify (on by "
                    + "default: CRC32C on every stream record, the tables of page CRCs compared at the switchover, the "
                    + "source's frozen RAM checked against what it sent after the hand-over). converge "
                    + "implements " + implementedCapabilities() + "; turning on any other is refused, naming it");
    static final EnumType RAM_CHECK_STATUS = EnumType.of("XConvergeRamCheckStatus", FrozenRamCheck.Status.class,
            FrozenRamCheck.Status::wireName, "Where the check of the source's frozen RAM stands");
    static final ObjectType RAM_CHECK = ObjectType.struct("XConvergeRamCheck",
            "The source's RAM, frozen after the hand-over of a verified migration, checked against the CRC32C of "
                    + "every page as it was last sent. A page that differs was written without being dirty-logged, "
                    + "and the destination runs with an older copy of it",
            required("status", RAM_CHECK_STATUS, "running (from completed until the check ends), passed, failed, or "
                    + "skipped (the source ran again before the check ended)"),
            required("mismatched-pages", BuiltinType.INT, "pages that differ (failed)"),
            required("description", BuiltinType.STR, "what the outcome means, naming the first pages that differ"));
    static final ObjectType CAPABILITY_STATUS = ObjectType.struct("MigrationCapabilityStatus",
            "A capability and whether it is on",
            required("capability", CAPABILITY, "the capability"),
            required("state", BuiltinType.BOOL, "whether it is on"));
    static final ObjectType SOCKET_ADDRESS = ObjectType.struct("q_obj_MigrationAddress-socket",
            "A socket address (QEMU's SocketAddress: inet or unix)",
            required("type", new EnumType("SocketAddressType", List.of("inet", "unix", "vsock", "fd"), "Available SocketAddress types."),
                    "inet or unix (vsock and fd are refused)"),
            optional("host", BuiltinType.STR, "inet: host name or address"),
            optional("port", BuiltinType.STR, "inet: port number (a string, as QEMU's)"),
            optional("path", BuiltinType.STR, "unix: socket path"));
    static final ObjectType FILE_ARGS = ObjectType.struct("FileMigrationArgs", "A migration file",
            required("filename", BuiltinType.STR, "the file"),
            required("offset", BuiltinType.UINT64, "where the migration data starts in it"));
    static final ObjectType ADDRESS = ObjectType.union("MigrationAddress", "Where a migration channel goes",
            List.of(required("transport", new EnumType("MigrationAddressType", List.of("socket", "exec", "rdma", "file"),
                    "Migration transport"), "socket or file (exec and rdma are refused)")),
            "transport", Map.of("socket", SOCKET_ADDRESS, "file", FILE_ARGS));
    static final ObjectType CHANNEL = ObjectType.struct("MigrationChannel", "One migration channel",
            required("channel-type", new EnumType("MigrationChannelType", List.of("main", "cpr"), "Channel type"),
                    "main (the only one supported)"),
            required("addr", ADDRESS, "the channel's address"));
    static final ObjectType STATS = ObjectType.struct("MigrationStats", "RAM migration statistics, every member "
                    + "QEMU 10.0 has. The destination fills those it can know from what it received (QEMU's "
                    + "destination shows no ram at all) and 0 for the others",
            required("transferred", BuiltinType.INT, "bytes written to the stream (destination: read from it)"),
            required("remaining", BuiltinType.INT, "bytes of RAM still dirty (destination: 0)"),
            required("total", BuiltinType.INT, "bytes of guest RAM"),
            required("duplicate", BuiltinType.INT, "zero pages: sent (destination: received) as markers, and on the "
                    + "source the pages never written, which the destination holds as zero without a record"),
            required("normal", BuiltinType.INT, "pages sent (destination: received) with their data"),
            required("normal-bytes", BuiltinType.INT, "bytes of the pages counted in normal"),
            required("dirty-pages-rate", BuiltinType.INT, "pages dirtied per second over the last pass (destination: 0)"),
            required("mbps", BuiltinType.NUMBER, "throughput in megabits per second: source, of the last pass; "
                    + "destination, received since the connection was accepted"),
            required("dirty-sync-count", BuiltinType.INT, "passes over RAM (source: dirty log syncs; destination: "
                    + "passes received)"),
            required("postcopy-requests", BuiltinType.INT, "pages the destination asked for in postcopy"),
            required("page-size", BuiltinType.INT, "page size in bytes"),
            required("multifd-bytes", BuiltinType.UINT64, "bytes sent over the multifd channels"),
            required("pages-per-second", BuiltinType.UINT64, "pages per second at the rate of mbps"),
            required("precopy-bytes", BuiltinType.UINT64, "bytes sent while the vCPUs ran (destination: 0)"),
            required("downtime-bytes", BuiltinType.UINT64, "bytes sent while the vCPUs were stopped (destination: 0)"),
            required("postcopy-bytes", BuiltinType.UINT64, "bytes sent in postcopy"),
            required("dirty-sync-missed-zero-copy", BuiltinType.UINT64, "dirty syncs that could not avoid copying "
                    + "pages (zero-copy-send is not implemented: 0)"));
    static final ObjectType INFO = ObjectType.struct("MigrationInfo",
            "The latest migration of this daemon (source or destination side); which members appear depends "
                    + "on the status, as QEMU's. Not reported: vfio (no VFIO devices), xbzrle-cache (xbzrle is not "
                    + "implemented), blocked-reasons (nothing blocks a migration), dirty-limit-throttle-time-per-round "
                    + "and dirty-limit-ring-full-time (converge's dirty limit has no dirty ring)",
            optional("status", STATUS, "absent when no migration has happened"),
            optional("ram", STATS, "RAM statistics (source: active, pre-switchover, device, cancelling, completed; "
                    + "destination: active, completed, failed, once a connection was accepted)"),
            optional("total-time", BuiltinType.INT, "ms since the migration started (destination: since the "
                    + "connection was accepted), frozen when it ended"),
            optional("expected-downtime", BuiltinType.INT, "ms the switchover would take now (source, until completed)"),
            optional("downtime", BuiltinType.INT, "ms the vCPUs were stopped (completed)"),
            optional("setup-time", BuiltinType.INT, "ms the setup took"),
            optional("cpu-throttle-percentage", BuiltinType.INT, "auto-converge's throttle on the vCPUs now, % (only "
                    + "while it holds them back)"),
            optional("error-desc", BuiltinType.STR, "why it failed, or (postcopy-paused) why it paused; "
                    + "human-readable, not for parsing"),
            optional("postcopy-blocktime", BuiltinType.UINT32, "destination in postcopy with the capability "
                    + "postcopy-blocktime: ms during which every vCPU at once waited for a page from the source (the "
                    + "guest made no progress)"),
            optional("postcopy-vcpu-blocktime", new ArrayType(BuiltinType.UINT32), "destination in postcopy with "
                    + "postcopy-blocktime: per vCPU, ms it waited for pages from the source"),
            optional("postcopy-latency", BuiltinType.UINT64, "destination in postcopy with postcopy-blocktime: mean "
                    + "time in ns from an access to a missing page to its arrival, over every such wait (QEMU 10.1's "
                    + "member)"),
            optional("postcopy-latency-dist", new ArrayType(BuiltinType.UINT64), "destination in postcopy with "
                    + "postcopy-blocktime: those waits by latency; element N counts latencies in [2^N, 2^(N+1)) "
                    + "microseconds (QEMU 10.1's member)"),
            optional("postcopy-vcpu-latency", new ArrayType(BuiltinType.UINT64), "destination in postcopy with "
                    + "postcopy-blocktime: per vCPU, its mean wait in ns, 0 when it never waited (QEMU 10.1's member)"),
            optional("postcopy-non-vcpu-latency", BuiltinType.UINT64, "destination in postcopy with postcopy-blocktime: "
                    + "the mean wait in ns of accesses by other threads (a QMP command reading guest RAM), 0 when none "
                    + "(QEMU 10.1's member)"),
            optional("x-postcopy-latency-p50", BuiltinType.UINT64, "(converge) destination in postcopy: median "
                    + "wait in ns for a page from the source, over the last 65536 waits"),
            optional("x-postcopy-latency-p99", BuiltinType.UINT64, "(converge) destination in postcopy: 99th "
                    + "percentile wait in ns for a page from the source, over the last 65536 waits"),
            optional("x-postcopy-requests", BuiltinType.UINT64, "(converge) destination in postcopy: pages its vCPUs "
                    + "requested"),
            optional("x-postcopy-preempt-pages", BuiltinType.UINT64, "(converge) destination in postcopy: pages that "
                    + "came over the preempt channel (postcopy-preempt), 0 without one"),
            optional("socket-address", new ArrayType(SocketAddressQmp.SOCKET_ADDRESS), "destination: where it listens "
                    + "(QEMU's SocketAddress: inet with host, port and ipv4 or ipv6 true as the socket's family; a tcp "
                    + "port 0 shows the port chosen; or unix with path)"),
            optional("x-converge-ram-check", RAM_CHECK, "source, completed, x-converge-verify: the check of the frozen "
                    + "RAM after the hand-over"));

    /** The arguments of migrate; also the data of the {@code migrate} transaction action. */
    static final ObjectType MIGRATE_ARGS = CommandSpec.args("migrate",
            optional("uri", BuiltinType.STR, "tcp:HOST:PORT, unix:PATH or file:PATH[,offset=N] (a file: migration "
                    + "stops the vCPUs, writes RAM and device state, and leaves the source in postmigrate; with "
                    + "mapped-ram pages go to fixed offsets and the file is sparse)"),
            optional("channels", new ArrayType(CHANNEL), "QEMU 9's alternative to uri: one channel of type main"),
            optional("detach", BuiltinType.BOOL, "ignored, as QEMU"),
            optional("resume", BuiltinType.BOOL, "postcopy recovery: continue the paused postcopy migration over "
                    + "this new connection (the destination must be waiting in migrate-recover)"),
            optional("job-id", BuiltinType.STR, "(converge) the migration job's id, default \"migration\""),
            optional("auto-complete", BuiltinType.BOOL, "(converge) switch over by itself once converged, default "
                    + "true; false keeps the job ready until job-complete"));

    private MigrationQmp() {
    }

    static void register(QmpRegistry registry, JobQmp jobQmp, MigrationModule module) {
        jobQmp.registerJobKind(MigrationJob.KIND, STATUS_ENUM);

        registry.register(new CommandSpec("migrate", MIGRATE_ARGS,
                CommandSpec.EMPTY,
                "Migrate the machine: starts a job of type migration; with resume: true, continues its paused "
                        + "postcopy instead. Errors: \"need either 'uri' or 'channels' "
                        + "argument\", \"unknown migration protocol: URI\", \"There's a migration process in progress\", "
                        + "\"Guest is waiting for an incoming migration\", \"Cannot resume if there is no paused "
                        + "migration\", a job id in use.", SINCE, args -> {
                    MigrateRequest request = migrateRequest(args);
                    if (request.resume()) {
                        if (!(request.target() instanceof MigrationUri uri)) {
                            throw QmpException.generic("Postcopy recovery needs a socket URI (tcp: or unix:)");
                        }
                        module.resume(uri);
                    } else {
                        module.migrate(request, null).start();
                    }
                    return null;
                }));
        registry.register(new CommandSpec("migrate-incoming", CommandSpec.args("migrate-incoming",
                optional("uri", BuiltinType.STR, "tcp:HOST:PORT or unix:PATH to listen on, or file:PATH[,offset=N] "
                        + "to restore from (the file's own layout: with or without mapped-ram)"),
                optional("channels", new ArrayType(CHANNEL), "QEMU 9's alternative to uri"),
                optional("exit-on-error", BuiltinType.BOOL, "ignored: converge never exits on a failed incoming migration")),
                CommandSpec.EMPTY,
                "Wait for an incoming migration there (a machine started with --incoming). After a failed one, a new "
                        + "migrate-incoming is accepted. Errors: \"'-incoming' was not specified on the command line\", "
                        + "\"The incoming migration has already been started\".", SINCE, args -> {
                    module.migrateIncoming(address(args));
                    return null;
                }));
        registry.register(new CommandSpec("migrate-start-postcopy", CommandSpec.EMPTY, CommandSpec.EMPTY,
                "Switch the running migration to postcopy after its current pass (needs the capability postcopy-ram "
                        + "on both sides; the same as job-change start-postcopy). The source stops, the destination "
                        + "runs at once and fetches the missing pages. Errors: \"Enable postcopy with "
                        + "migrate_set_capability before the start of migration\", \"Postcopy must be started after "
                        + "migration has been started\".", SINCE, args -> {
                    module.startPostcopy();
                    return null;
                }));
        registry.register(new CommandSpec("migrate-pause", CommandSpec.EMPTY, CommandSpec.EMPTY,
                "Break the connection of a postcopy migration on purpose (either side): both sides go to "
                        + "postcopy-paused and keep every byte. Error: \"migrate-pause is currently only supported "
                        + "during postcopy-active or postcopy-recover state\".", SINCE, args -> {
                    module.pause();
                    return null;
                }));
        registry.register(new CommandSpec("migrate-recover", CommandSpec.args("migrate-recover",
                required("uri", BuiltinType.STR, "tcp:HOST:PORT or unix:PATH to listen on for the source's recovery "
                        + "connection")),
                CommandSpec.EMPTY,
                "Destination of a paused postcopy migration: wait for the source's recovery connection there (the "
                        + "source then runs migrate with resume: true). Error: \"Migrate recover can only be run when "
                        + "postcopy is paused.\"", SINCE, args -> {
                    module.recover(MigrationUri.parse(args.str("uri")));
                    return null;
                }));
        registry.register(new CommandSpec("migrate_cancel", CommandSpec.EMPTY, CommandSpec.EMPTY,
                "Cancel the outgoing migration (job-cancel of the migration job); nothing happens when none runs. "
                        + "Refused once postcopy began: \"Postcopy migration in progress, cannot cancel.\"",
                SINCE, args -> {
                    module.cancel();
                    return null;
                }));
        registry.register(new CommandSpec("migrate-continue", CommandSpec.args("migrate-continue",
                required("state", STATUS, "the state the migration is expected in: pre-switchover")),
                CommandSpec.EMPTY,
                "Continue a migration paused in pre-switchover: the same act as job-finalize of its job. Error: "
                        + "\"Migration not in expected state: STATUS\".", SINCE, args -> {
                    module.migrateContinue(wireStatus(args.str("state")));
                    return null;
                }));
        registry.register(new CommandSpec("migrate-set-capabilities", CommandSpec.args("migrate-set-capabilities",
                required("capabilities", new ArrayType(CAPABILITY_STATUS), "the capabilities to set")),
                CommandSpec.EMPTY,
                "Turn migration capabilities on or off. Errors: \"There's a migration process in progress\", "
                        + "\"Migration capability 'xbzrle' is not supported by converge (...)\" for one converge does "
                        + "not implement, \"dirty-limit conflicts with auto-converge either of then available "
                        + "currently\".", SINCE,
                args -> {
                    Map<MigrationCapability, Boolean> caps = new EnumMap<>(MigrationCapability.class);
                    for (JsonNode c : args.raw("capabilities")) {
                        caps.put(MigrationCapability.fromWire(c.get("capability").asText()), c.get("state").asBoolean());
                    }
                    module.setCapabilities(caps);
                    return null;
                }));
        registry.register(new CommandSpec("query-migrate-capabilities", CommandSpec.EMPTY,
                new ArrayType(CAPABILITY_STATUS), "The migration capabilities and their state.", SINCE, args -> {
                    ArrayNode out = JSON.arrayNode();
                    for (MigrationCapability c : MigrationCapability.values()) {
                        out.addObject().put("capability", c.wireName()).put("state", module.settings().has(c));
                    }
                    return out;
                }));
        registry.register(new CommandSpec("migrate-set-parameters", MigrationParameterTable.SET_TYPE,
                CommandSpec.EMPTY,
                "Set migration parameters (QEMU 10.0's, every one; see MigrationParameters for which converge acts "
                        + "on); all are checked as one set first, then applied; a running migration sees them at once "
                        + "(max-bandwidth is the job's speed). Errors are QEMU's, e.g. \"Parameter 'downtime_limit' "
                        + "expects an integer in the range of 0 to 2000000 ms\", \"Parameter 'multifd_channels' "
                        + "expects a value between 1 and 255\".",
                SINCE, args -> {
                    module.setParameters(MigrationParameterTable.decode(args));
                    return null;
                }));
        registry.register(new CommandSpec("query-migrate-parameters", CommandSpec.EMPTY,
                MigrationParameterTable.QUERY_TYPE, "The migration parameters (every member, as QEMU 10.0 reports them; "
                        + "block-bitmap-mapping once set).", SINCE,
                args -> MigrationParameterTable.encode(module.settings().parameters())));
        registry.register(new CommandSpec("announce-self", ObjectType.struct("AnnounceParameters",
                "Self-announce timing (QEMU 4.0)",
                required("initial", BuiltinType.INT, "initial delay before the first packet, ms"),
                required("max", BuiltinType.INT, "longest delay between packets, ms"),
                required("rounds", BuiltinType.INT, "packets to send"),
                required("step", BuiltinType.INT, "increase of the delay between packets, ms"),
                optional("interfaces", new ArrayType(BuiltinType.STR), "the network interfaces to announce on"),
                optional("id", BuiltinType.STR, "a name for this announce timer")),
                CommandSpec.EMPTY, "Trigger a self-announcement of the guest's network interfaces (QEMU sends "
                        + "RARP/GARP packets so switches learn where the guest now is). A no-op here: converge's "
                        + "machine has no network devices, so there is nothing to announce; accepted so that "
                        + "management software can send it after a migration as it does to QEMU.", SINCE, args -> null));
        registry.register(new CommandSpec("query-migrate", CommandSpec.EMPTY, INFO,
                "The latest migration, source or destination side.", SINCE, args -> queryMigrate(module)));
        registry.register(new EventSpec("MIGRATION", ObjectType.struct("q_obj_MIGRATION-arg", null,
                required("status", STATUS, "the new status")),
                "A migration changed status (both sides; only with the events capability).", SINCE));
        registry.register(new EventSpec("MIGRATION_PASS", ObjectType.struct("q_obj_MIGRATION_PASS-arg", null,
                required("pass", BuiltinType.INT, "passes over RAM so far")),
                "A pass over dirty RAM ended (source; only with the events capability).", SINCE));
        registry.register(new EventSpec("X_CONVERGE_RAM_CHECK", RAM_CHECK,
                "The source's frozen RAM differs from what it sent (x-converge-verify, after the hand-over): pages "
                        + "were written without being dirty-logged and the destination runs with older copies of them. "
                        + "Sent whatever the events capability says; query-migrate shows the same.", SINCE));
    }

    /** migrate's arguments, checked: where to, the job id, auto-complete. */
    record MigrateRequest(MigrationTarget target, String jobId, boolean autoComplete, boolean resume) {
    }

    /** Checks migrate's (or the migrate action's) arguments. */
    static MigrateRequest migrateRequest(Args args) {
        return new MigrateRequest(address(args), args.str("job-id", "migration"), args.bool("auto-complete", true),
                args.bool("resume", false));
    }

    private static String implementedCapabilities() {
        return String.join(", ", java.util.Arrays.stream(MigrationCapability.values())
                .filter(MigrationCapability::implemented).map(MigrationCapability::wireName).toList());
    }

    private static MigrationStatus wireStatus(String s) {
        for (MigrationStatus m : MigrationStatus.values()) {
            if (m.wireName().equals(s)) {
                return m;
            }
        }
        throw new IllegalStateException("schema let an unknown status through: " + s);
    }

    private static MigrationTarget address(Args args) {
        boolean hasUri = args.has("uri");
        boolean hasChannels = args.has("channels");
        if (hasUri == hasChannels) {
            throw QmpException.generic("need either 'uri' or 'channels' argument");
        }
        return hasUri ? MigrationTarget.parse(args.str("uri")) : MigrationTarget.fromChannels(args.raw("channels"));
    }

    static ObjectNode queryMigrate(MigrationModule module) {
        if (module.showIncoming()) {
            IncomingSide in = module.incoming();
            return in == null ? JSON.objectNode() : incomingInfo(in, module.machine().orElseThrow().ram().size(),
                    module.settings().has(dev.converge.migration.job.MigrationCapability.POSTCOPY_BLOCKTIME));
        }
        MigrationJob job = module.outgoing().orElseThrow();
        ObjectNode o = outgoingInfo(job.view());
        job.ramCheck().ifPresent(r -> o.set("x-converge-ram-check", MigrationEvents.ramCheck(r)));
        return o;
    }

    /** The destination's MigrationInfo: status, and once a connection was accepted, what it brought. */
    private static ObjectNode incomingInfo(IncomingSide in, long ramSize, boolean blocktime) {
        ObjectNode o = JSON.objectNode();
        MigrationStatus status = in.status();
        if (status == MigrationStatus.NONE) {
            return o;
        }
        o.put("status", status.wireName());
        // Read after the status: the receiving thread publishes what it received before each status change.
        in.received().filter(r -> status != MigrationStatus.SETUP).ifPresent(r -> {
            long elapsed = r.elapsedNanos();
            o.put("total-time", elapsed / 1_000_000);
            IncomingStats s = r.stats();
            double mbps = elapsed <= 0 ? 0 : s.bytes() * 8 / 1e6 / (elapsed / 1e9);
            putRam(o, new RamStats(s.bytes(), 0, ramSize, s.zeroPages(), s.normalPages(), 0, mbps, s.passes(), 0, 0, 0,
                    0, 0));
        });
        in.errorDesc().filter(e -> status == MigrationStatus.FAILED || status == MigrationStatus.POSTCOPY_PAUSED)
                .ifPresent(e -> o.put("error-desc", e));
        in.postcopy().ifPresent(pc -> {
            dev.converge.migration.postcopy.LatencyRecorder l = pc.states().latency();
            if (blocktime) {
                putBlocktime(o, l, pc.states().blocktime().stats());
            }
            o.put("x-postcopy-latency-p50", l.percentileNanos(0.5));
            o.put("x-postcopy-latency-p99", l.percentileNanos(0.99));
            o.put("x-postcopy-requests", pc.states().requests());
            o.put("x-postcopy-preempt-pages", pc.preemptPages());
        });
        in.listeningAddress().ifPresent(a -> o.putArray("socket-address").add(listening(a)));
        return o;
    }

    /** QEMU's members of the capability postcopy-blocktime (10.0's blocktime, 10.1's latency). */
    private static void putBlocktime(ObjectNode o, dev.converge.migration.postcopy.LatencyRecorder l,
            dev.converge.migration.postcopy.Blocktime.Stats b) {
        o.put("postcopy-blocktime", Math.min(b.allBlockedMs(), 0xffff_ffffL));
        ArrayNode vcpuBlocktime = o.putArray("postcopy-vcpu-blocktime");
        for (long ms : b.vcpuBlockedMs()) {
            vcpuBlocktime.add(Math.min(ms, 0xffff_ffffL));
        }
        o.put("postcopy-latency", l.averageNanos());
        ArrayNode dist = o.putArray("postcopy-latency-dist");
        for (long n : l.distribution()) {
            dist.add(n);
        }
        ArrayNode vcpuLatency = o.putArray("postcopy-vcpu-latency");
        for (long ns : b.vcpuLatencyNs()) {
            vcpuLatency.add(ns);
        }
        o.put("postcopy-non-vcpu-latency", b.nonVcpuLatencyNs());
    }

    /** The source's MigrationInfo. */
    private static ObjectNode outgoingInfo(MigrationView v) {
        ObjectNode o = JSON.objectNode();
        o.put("status", v.status().wireName());
        switch (v.status()) {
            case NONE, SETUP, CANCELLED -> { }
            case FAILED -> {
                if (v.errorDesc() != null) {
                    o.put("error-desc", v.errorDesc());
                }
            }
            default -> {
                o.put("total-time", v.totalTimeMs());
                if (v.status() == MigrationStatus.COMPLETED) {
                    o.put("downtime", v.downtimeMs());
                } else {
                    // QEMU (populate_time_info): every state but completed that shows times
                    o.put("expected-downtime", v.expectedDowntimeMs());
                }
                o.put("setup-time", v.setupTimeMs());
                if (v.throttlePercent() > 0) {
                    o.put("cpu-throttle-percentage", v.throttlePercent());
                }
                putRam(o, new RamStats(v.transferred(), v.remaining(), v.total(), v.duplicate(), v.normal(),
                        v.dirtyPagesRate(), v.mbps(), v.dirtySyncCount(), v.precopyBytes(), v.downtimeBytes(),
                        v.multifdBytes(), v.postcopyBytes(), v.postcopyRequests()));
                if (v.status() == MigrationStatus.POSTCOPY_PAUSED && v.errorDesc() != null) {
                    o.put("error-desc", v.errorDesc());
                }
            }
        }
        return o;
    }

    /** The MigrationStats members; sizes in bytes, page counts in pages of {@link RamBlock#PAGE_SIZE}. */
    record RamStats(long transferred, long remaining, long total, long duplicate, long normal, long dirtyPagesRate,
            double mbps, long dirtySyncCount, long precopyBytes, long downtimeBytes, long multifdBytes,
            long postcopyBytes, long postcopyRequests) {
    }

    /** Adds {@code ram} to {@code info}, every member in QEMU's order. */
    private static void putRam(ObjectNode info, RamStats s) {
        ObjectNode ram = info.putObject("ram");
        ram.put("transferred", s.transferred());
        ram.put("remaining", s.remaining());
        ram.put("total", s.total());
        ram.put("duplicate", s.duplicate());
        ram.put("normal", s.normal());
        ram.put("normal-bytes", s.normal() * RamBlock.PAGE_SIZE);
        ram.put("dirty-pages-rate", s.dirtyPagesRate());
        ram.put("mbps", s.mbps());
        ram.put("dirty-sync-count", s.dirtySyncCount());
        ram.put("postcopy-requests", s.postcopyRequests());
        ram.put("page-size", RamBlock.PAGE_SIZE);
        ram.put("multifd-bytes", s.multifdBytes());
        ram.put("pages-per-second", (long) (s.mbps() * 1e6 / 8 / RamBlock.PAGE_SIZE));
        ram.put("precopy-bytes", s.precopyBytes());
        ram.put("downtime-bytes", s.downtimeBytes());
        ram.put("postcopy-bytes", s.postcopyBytes());
        ram.put("dirty-sync-missed-zero-copy", 0);
    }

    /**
     * A listening address as QEMU reports it (socket_sockaddr_to_address_inet): an inet address
     * says its family with ipv4 or ipv6 true.
     */
    static ObjectNode listening(java.net.SocketAddress a) {
        if (a instanceof java.net.InetSocketAddress i) {
            boolean v6 = i.getAddress() instanceof java.net.Inet6Address;
            return new InetSocketAddress(i.getAddress().getHostAddress(), i.getPort(), java.util.Optional.empty(),
                    java.util.OptionalInt.empty(), v6 ? java.util.Optional.empty() : java.util.Optional.of(true),
                    v6 ? java.util.Optional.of(true) : java.util.Optional.empty(), java.util.Optional.empty()).toQmp();
        }
        return SocketAddress.of(a).toQmp();
    }
}
