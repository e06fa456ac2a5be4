package dev.converge.migration.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.migration.job.BitmapNodeAlias;
import dev.converge.migration.job.MigrationMode;
import dev.converge.migration.job.MigrationParameters;
import dev.converge.migration.job.MultifdCompression;
import dev.converge.migration.job.ZeroPageDetection;
import dev.converge.qmp.Args;
import dev.converge.qmp.schema.AlternateType;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.Member;
import dev.converge.qmp.schema.ObjectType;
import dev.converge.qmp.schema.SchemaType;
import dev.converge.qmp.schema.WireEnum;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * QEMU 10.0's migration parameters as one table: each row is one parameter, its member in
 * {@code MigrationParameters} (query-migrate-parameters) and in {@code MigrateSetParameters}
 * (migrate-set-parameters), its documentation (default and whether converge acts on it), how it
 * is read from and written into the typed {@link MigrationParameters}. The two QMP structs, the
 * reply of query-migrate-parameters and the {@link MigrationParameters.Update} of
 * migrate-set-parameters all derive from the rows, in QEMU's member order.
 */
final class MigrationParameterTable {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;
    /** The defaults the docs quote: declared once, in {@link MigrationParameters#DEFAULTS}. */
    private static final MigrationParameters D = MigrationParameters.DEFAULTS;
    /** "Kept and reported": what the docs say of a parameter converge accepts but does not act on. */
    private static final String KEPT = " Accepted and reported; converge does not act on it";

    static final WireEnum<MultifdCompression> COMPRESSION = WireEnum.of("MultiFDCompression", MultifdCompression.class,
            MultifdCompression::wireName, "multifd compression methods (QEMU's qpl, uadk and qatzip are not built)");
    static final WireEnum<MigrationMode> MODE = WireEnum.of("MigMode", MigrationMode.class, MigrationMode::wireName,
            "Migration modes (converge migrates in normal mode only)");
    static final WireEnum<ZeroPageDetection> ZERO_PAGE = WireEnum.of("ZeroPageDetection", ZeroPageDetection.class,
            ZeroPageDetection::wireName, "Whether and where zero pages are detected");
    /** QEMU's StrOrNull: migrate-set-parameters takes null for tls-* to mean "" (no TLS). */
    static final AlternateType STR_OR_NULL = new AlternateType("StrOrNull", List.of(BuiltinType.STR, BuiltinType.NULL),
            "A string, or null");
    static final ObjectType BITMAP_TRANSFORM = ObjectType.struct("BitmapMigrationBitmapAliasTransform",
            "How a migrated bitmap is changed",
            Member.optional("persistent", BuiltinType.BOOL, "make the bitmap persistent or transient"));
    static final ObjectType BITMAP_ALIAS = ObjectType.struct("BitmapMigrationBitmapAlias", "A bitmap and its alias",
            Member.required("name", BuiltinType.STR, "the bitmap's name"),
            Member.required("alias", BuiltinType.STR, "its name in the migration stream (at most 255 bytes)"),
            Member.optional("transform", BITMAP_TRANSFORM, "how it is changed on the way"));
    static final ObjectType BITMAP_NODE_ALIAS = ObjectType.struct("BitmapMigrationNodeAlias",
            "A block node, its alias and its bitmaps' aliases",
            Member.required("node-name", BuiltinType.STR, "a block node name"),
            Member.required("alias", BuiltinType.STR, "its name in the migration stream (at most 255 bytes)"),
            Member.required("bitmaps", new ArrayType(BITMAP_ALIAS), "its bitmaps"));

    /**
     * One parameter.
     *
     * @param name      the member name
     * @param queryType its type in MigrationParameters
     * @param setType   its type in MigrateSetParameters (differs for tls-*: StrOrNull)
     * @param doc       what it means, its default, whether converge acts on it
     * @param read      its value in a set (empty: not reported, block-bitmap-mapping before it is set)
     * @param write     the set with it replaced by a validated JSON value
     */
    record Parameter(String name, SchemaType queryType, SchemaType setType, String doc,
            Function<MigrationParameters, Optional<JsonNode>> read,
            BiFunction<MigrationParameters, JsonNode, MigrationParameters> write) {
    }

    private static Parameter param(String name, SchemaType type, String doc,
            Function<MigrationParameters, JsonNode> read, BiFunction<MigrationParameters, JsonNode, MigrationParameters> write) {
        return new Parameter(name, type, type, doc, p -> Optional.of(read.apply(p)), write);
    }

    private static Parameter tls(String name, String doc, Function<MigrationParameters.Tls, String> read,
            BiFunction<MigrationParameters.Tls, String, MigrationParameters.Tls> write) {
        return new Parameter(name, BuiltinType.STR, STR_OR_NULL, doc, p -> Optional.of(JSON.textNode(read.apply(p.tls()))),
                (p, v) -> p.withTls(write.apply(p.tls(), v.isNull() ? "" : v.asText())));
    }

    /** An unsigned 64-bit value held in a long, as JSON (QEMU prints -1 as 18446744073709551615). */
    static JsonNode unsigned(long v) {
        return v >= 0 ? JSON.numberNode(v) : JSON.numberNode(new BigInteger(Long.toUnsignedString(v)));
    }

    private static String def(long v) {
        return " (default " + Long.toUnsignedString(v) + ")";
    }

    static final Parameter MAX_BANDWIDTH = param("max-bandwidth", BuiltinType.SIZE,
            "bytes per second the migration may use; 0 = unlimited; the job's speed. QEMU takes -1 as the largest "
                    + "value (2^64-1, unlimited in practice)" + def(D.maxBandwidth()),
            p -> unsigned(p.maxBandwidth()), (p, v) -> p.withMaxBandwidth(v.asLong()));

    /** The rows, in QEMU 10.0's member order. */
    static final List<Parameter> PARAMETERS = List.of(
            param("announce-initial", BuiltinType.SIZE, "initial delay before the first self-announce, ms (0..100000)"
                    + def(D.announce().initialMs()) + "." + KEPT + ": the machine has no network devices",
                    p -> unsigned(p.announce().initialMs()),
                    (p, v) -> p.withAnnounce(new MigrationParameters.Announce(v.asLong(), p.announce().maxMs(),
                            p.announce().rounds(), p.announce().stepMs()))),
            param("announce-max", BuiltinType.SIZE, "longest delay between self-announce packets, ms (0..100000)"
                    + def(D.announce().maxMs()) + "." + KEPT, p -> unsigned(p.announce().maxMs()),
                    (p, v) -> p.withAnnounce(new MigrationParameters.Announce(p.announce().initialMs(), v.asLong(),
                            p.announce().rounds(), p.announce().stepMs()))),
            param("announce-rounds", BuiltinType.SIZE, "self-announce packets after a migration (0..1000)"
                    + def(D.announce().rounds()) + "." + KEPT, p -> unsigned(p.announce().rounds()),
                    (p, v) -> p.withAnnounce(new MigrationParameters.Announce(p.announce().initialMs(),
                            p.announce().maxMs(), v.asLong(), p.announce().stepMs()))),
            param("announce-step", BuiltinType.SIZE, "increase of the delay between self-announce packets, ms "
                    + "(1..10000)" + def(D.announce().stepMs()) + "." + KEPT, p -> unsigned(p.announce().stepMs()),
                    (p, v) -> p.withAnnounce(new MigrationParameters.Announce(p.announce().initialMs(),
                            p.announce().maxMs(), p.announce().rounds(), v.asLong()))),
            param("throttle-trigger-threshold", BuiltinType.UINT8, "auto-converge: a period counts as dirtying too "
                    + "fast when it dirtied more than this % of the bytes it sent; every second such period raises the "
                    + "throttle (1..100)" + def(D.throttle().triggerThreshold()),
                    p -> JSON.numberNode(p.throttle().triggerThreshold()),
                    (p, v) -> p.withThrottle(p.throttle().withTriggerThreshold(v.asLong()))),
            param("cpu-throttle-initial", BuiltinType.UINT8, "auto-converge: the first throttle, % of the vCPUs' time "
                    + "held back (1..99)" + def(D.throttle().initial()), p -> JSON.numberNode(p.throttle().initial()),
                    (p, v) -> p.withThrottle(p.throttle().withInitial(v.asLong()))),
            param("cpu-throttle-increment", BuiltinType.UINT8, "auto-converge: how much each further step adds (1..99)"
                    + def(D.throttle().increment()), p -> JSON.numberNode(p.throttle().increment()),
                    (p, v) -> p.withThrottle(p.throttle().withIncrement(v.asLong()))),
            param("cpu-throttle-tailslow", BuiltinType.BOOL, "auto-converge: near the goal, step only as far as needed "
                    + "to bring the dirty rate to the trigger (at most the increment; default " + D.throttle().tailslow()
                    + ")", p -> JSON.booleanNode(p.throttle().tailslow()),
                    (p, v) -> p.withThrottle(p.throttle().withTailslow(v.asBoolean()))),
            tls("tls-creds", "id of the tls-creds-x509 object securing the migration channels (client endpoint on "
                    + "the source, server on the destination); \"\" or null = no TLS (default \"\")",
                    MigrationParameters.Tls::creds, MigrationParameters.Tls::withCreds),
            tls("tls-hostname", "the name the destination's certificate must carry; \"\" or null = the host of the "
                    + "migration URI (default \"\")", MigrationParameters.Tls::hostname, MigrationParameters.Tls::withHostname),
            tls("tls-authz", "id of the authz object that checks the source's certificate name (destination); \"\" or "
                    + "null = none (default \"\")", MigrationParameters.Tls::authz, MigrationParameters.Tls::withAuthz),
            MAX_BANDWIDTH,
            param("avail-switchover-bandwidth", BuiltinType.SIZE, "bytes per second available for the switchover, "
                    + "used instead of the measured bandwidth for the downtime estimate; 0 = measure"
                    + def(D.availSwitchoverBandwidth()), p -> unsigned(p.availSwitchoverBandwidth()),
                    (p, v) -> p.withAvailSwitchoverBandwidth(v.asLong())),
            param("downtime-limit", BuiltinType.UINT64, "longest the vCPUs may be stopped for the switchover, ms (0.."
                    + MigrationParameters.MAX_DOWNTIME_LIMIT_MS + ")" + def(D.downtimeLimitMs()),
                    p -> unsigned(p.downtimeLimitMs()), (p, v) -> p.withDowntimeLimitMs(v.asLong())),
            param("x-checkpoint-delay", BuiltinType.UINT32, "COLO: the delay between two checkpoints, ms"
                    + def(D.checkpointDelayMs()) + "." + KEPT + " (COLO is not implemented)",
                    p -> JSON.numberNode(p.checkpointDelayMs()), (p, v) -> p.withCheckpointDelayMs(v.asLong())),
            param("multifd-channels", BuiltinType.UINT8, "multifd: the number of channels next to the main one "
                    + "(1..255)" + def(D.multifd().channels()) + "; used with the capability multifd",
                    p -> JSON.numberNode(p.multifd().channels()),
                    (p, v) -> p.withMultifd(p.multifd().withChannels(v.asLong()))),
            param("xbzrle-cache-size", BuiltinType.SIZE, "xbzrle: the cache size, bytes (a power of two, at least "
                    + "4096)" + def(D.xbzrleCacheSize()) + "." + KEPT + " (xbzrle is not implemented)",
                    p -> unsigned(p.xbzrleCacheSize()), (p, v) -> p.withXbzrleCacheSize(v.asLong())),
            param("max-postcopy-bandwidth", BuiltinType.SIZE, "bytes per second of the background transfer during "
                    + "postcopy; 0 = unlimited" + def(D.maxPostcopyBandwidth()) + "; used with the capability postcopy-ram",
                    p -> unsigned(p.maxPostcopyBandwidth()), (p, v) -> p.withMaxPostcopyBandwidth(v.asLong())),
            param("max-cpu-throttle", BuiltinType.UINT8, "auto-converge: the highest throttle (cpu-throttle-initial.."
                    + "99)" + def(D.throttle().max()), p -> JSON.numberNode(p.throttle().max()),
                    (p, v) -> p.withThrottle(p.throttle().withMax(v.asLong()))),
            param("multifd-compression", COMPRESSION.type(), "multifd: how pages are compressed (default "
                    + D.multifd().compression().wireName() + ")", p -> JSON.textNode(p.multifd().compression().wireName()),
                    (p, v) -> p.withMultifd(p.multifd().withCompression(COMPRESSION.fromWire(v.asText())))),
            param("multifd-zlib-level", BuiltinType.UINT8, "multifd: zlib's level, 0 = none, 9 = smallest (0..9)"
                    + def(D.multifd().zlibLevel()), p -> JSON.numberNode(p.multifd().zlibLevel()),
                    (p, v) -> p.withMultifd(p.multifd().withZlibLevel(v.asLong()))),
            param("multifd-qatzip-level", BuiltinType.UINT8, "multifd: QATzip's level (1..9)"
                    + def(D.multifd().qatzipLevel()) + "." + KEPT + " (converge has no QATzip)",
                    p -> JSON.numberNode(p.multifd().qatzipLevel()),
                    (p, v) -> p.withMultifd(p.multifd().withQatzipLevel(v.asLong()))),
            param("multifd-zstd-level", BuiltinType.UINT8, "multifd: zstd's level, 0 = none, 20 = smallest (0..20)"
                    + def(D.multifd().zstdLevel()), p -> JSON.numberNode(p.multifd().zstdLevel()),
                    (p, v) -> p.withMultifd(p.multifd().withZstdLevel(v.asLong()))),
            new Parameter("block-bitmap-mapping", new ArrayType(BITMAP_NODE_ALIAS), new ArrayType(BITMAP_NODE_ALIAS),
                    "block nodes and their dirty bitmaps mapped to the names they migrate under (one-to-one); "
                            + "reported once set." + KEPT + " (dirty-bitmaps is not implemented)",
                    p -> p.blockBitmapMapping().map(MigrationParameterTable::encodeMapping),
                    (p, v) -> p.withBlockBitmapMapping(decodeMapping(v))),
            param("x-vcpu-dirty-limit-period", BuiltinType.UINT64, "dirty-limit: QEMU's period for measuring the "
                    + "vCPUs' dirty rate, ms (1..1000)" + def(D.dirtyLimitPeriodMs()) + "." + KEPT
                    + ": converge paces each vCPU exactly and measures nothing",
                    p -> unsigned(p.dirtyLimitPeriodMs()), (p, v) -> p.withDirtyLimitPeriodMs(v.asLong())),
            param("vcpu-dirty-limit", BuiltinType.UINT64, "dirty-limit: the cap on each vCPU's dirty rate, MB/s as "
                    + "QEMU counts them (MiB/s) (at least 1)" + def(D.vcpuDirtyLimit()),
                    p -> unsigned(p.vcpuDirtyLimit()), (p, v) -> p.withVcpuDirtyLimit(v.asLong())),
            param("mode", MODE.type(), "the migration mode (default " + D.mode().wireName() + "); migrate refuses "
                    + "the others", p -> JSON.textNode(p.mode().wireName()),
                    (p, v) -> p.withMode(MODE.fromWire(v.asText()))),
            param("zero-page-detection", ZERO_PAGE.type(), "whether and where zero pages are detected and sent as "
                    + "markers (default " + D.zeroPageDetection().wireName() + ")",
                    p -> JSON.textNode(p.zeroPageDetection().wireName()),
                    (p, v) -> p.withZeroPageDetection(ZERO_PAGE.fromWire(v.asText()))),
            param("direct-io", BuiltinType.BOOL, "open migration files with O_DIRECT where possible (only with "
                    + "mapped-ram; default " + D.directIo() + ")." + KEPT + ": converge reads and writes the file "
                    + "through the page cache", p -> JSON.booleanNode(p.directIo()), (p, v) -> p.withDirectIo(v.asBoolean())));

    /** query-migrate-parameters' reply type (QEMU: "the optional members aren't actually optional"). */
    static final ObjectType QUERY_TYPE = ObjectType.struct("MigrationParameters", "The migration parameters",
            PARAMETERS.stream().map(r -> Member.optional(r.name(), r.queryType(), r.doc())).toList());
    /** migrate-set-parameters' arguments. */
    static final ObjectType SET_TYPE = ObjectType.struct("MigrateSetParameters", "Parameters to set; absent ones stay",
            PARAMETERS.stream().map(r -> Member.optional(r.name(), r.setType(), r.doc())).toList());

    private MigrationParameterTable() {
    }

    /** query-migrate-parameters' reply for {@code p}. */
    static ObjectNode encode(MigrationParameters p) {
        ObjectNode o = JSON.objectNode();
        for (Parameter r : PARAMETERS) {
            r.read().apply(p).ifPresent(v -> o.set(r.name(), v));
        }
        return o;
    }

    /** The change migrate-set-parameters' validated arguments ask for (checked when merged). */
    static MigrationParameters.Update decode(Args args) {
        MigrationParameters.Update u = MigrationParameters.Update.NONE;
        for (Parameter r : PARAMETERS) {
            JsonNode v = args.raw(r.name());
            if (v == null) {
                continue;
            }
            u = r == MAX_BANDWIDTH ? u.thenMaxBandwidth(v.asLong()) : u.then(p -> r.write().apply(p, v));
        }
        return u;
    }

    private static JsonNode encodeMapping(List<BitmapNodeAlias> mapping) {
        ArrayNode out = JSON.arrayNode();
        for (BitmapNodeAlias n : mapping) {
            ObjectNode o = out.addObject().put("node-name", n.nodeName()).put("alias", n.alias());
            ArrayNode bitmaps = o.putArray("bitmaps");
            for (BitmapNodeAlias.BitmapAlias b : n.bitmaps()) {
                ObjectNode bo = bitmaps.addObject().put("name", b.name()).put("alias", b.alias());
                b.persistent().ifPresent(persistent -> bo.putObject("transform").put("persistent", persistent));
            }
        }
        return out;
    }

    private static List<BitmapNodeAlias> decodeMapping(JsonNode mapping) {
        List<BitmapNodeAlias> nodes = new ArrayList<>();
        for (JsonNode n : mapping) {
            List<BitmapNodeAlias.BitmapAlias> bitmaps = new ArrayList<>();
            for (JsonNode b : n.get("bitmaps")) {
                JsonNode persistent = b.path("transform").get("persistent");
                bitmaps.add(new BitmapNodeAlias.BitmapAlias(b.get("name").asText(), b.get("alias").asText(),
                        persistent == null ? Optional.empty() : Optional.of(persistent.asBoolean())));
            }
            nodes.add(new BitmapNodeAlias(n.get("node-name").asText(), n.get("alias").asText(), bitmaps));
        }
        return nodes;
    }
}
