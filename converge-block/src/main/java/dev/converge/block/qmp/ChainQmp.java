package dev.converge.block.qmp;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.block.BackingChain;
import dev.converge.block.BlockChild;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockNode;
import dev.converge.block.chain.ChainJobs;
import dev.converge.block.chain.ChainRefusedException;
import dev.converge.block.chain.CommitJob;
import dev.converge.block.chain.StreamJob;
import dev.converge.block.mirror.BlockdevOnError;
import dev.converge.job.JobEngine;
import dev.converge.job.JobOptions;
import dev.converge.job.qmp.JobQmp;
import dev.converge.qmp.Args;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.Member;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * block-stream and block-commit (QEMU's qmp_block_stream and qmp_block_commit): the arguments
 * decoded and checked in QEMU's order with QEMU's texts, then the domain act
 * ({@link ChainJobs}) starts a job of type {@code stream} or {@code commit}; a commit whose top
 * is the active layer is an active commit (a mirror onto the base: READY, then job-complete).
 * Their events are the BLOCK_JOB_* of every block job, their verbs the block-job-* and job-*
 * commands. Main loop.
 */
final class ChainQmp {
    private static final JobOptions JOB_DEFAULTS = JobOptions.defaults();

    private final BlockGraph graph;
    private final ChainJobs chains;

    private ChainQmp(BlockGraph graph, ChainJobs chains) {
        this.graph = Objects.requireNonNull(graph);
        this.chains = Objects.requireNonNull(chains);
    }

    static void register(QmpRegistry registry, JobEngine engine, JobQmp jobQmp, BlockGraph graph, MirrorQmp mirrors) {
        ChainJobs chains = new ChainJobs(engine, graph, mirrors.mirrors(), mirrors.blockEvents()::onError);
        mirrors.blockJobs().addSource(chains::driver);
        engine.addListener(chains);
        jobQmp.registerJobKind(StreamJob.KIND);
        jobQmp.registerJobKind(CommitJob.KIND);
        ChainQmp q = new ChainQmp(graph, chains);
        registry.register(new CommandSpec("block-stream", CommandSpec.args("block-stream", common(
                required("device", BuiltinType.STR, "the device or node name of the top image"),
                optional("base", BuiltinType.STR, "the common backing file name (or node name) of the image below "
                        + "which nothing is streamed; default: stream the whole chain"),
                optional("base-node", BuiltinType.STR, "the node name of the backing image below which nothing is "
                        + "streamed (the new backing node)"),
                optional("backing-file", BuiltinType.STR, "the backing file name to record in the top image; "
                        + "default: the base's file name"),
                optional("backing-mask-protocol", BuiltinType.BOOL, "record a protocol driver's backing format as "
                        + "'raw'; default false"),
                optional("bottom", BuiltinType.STR, "the last node streamed (its backing becomes the new backing)"),
                optional("on-error", MirrorSchema.ON_ERROR, "the action on an I/O error; default report"))),
                CommandSpec.EMPTY,
                "Copies the data of the backing chain below the top image (down to the base, or all of it) into "
                        + "the top image, then makes the base its backing (none without one). The guest may write "
                        + "meanwhile. Emits BLOCK_JOB_COMPLETED when done.",
                MirrorSchema.SINCE, q::blockStream));
        registry.register(new CommandSpec("block-commit", CommandSpec.args("block-commit", common(
                required("device", BuiltinType.STR, "the device or node name of the active layer"),
                optional("base-node", BuiltinType.STR, "the node name of the image committed into; default the "
                        + "bottom of the chain"),
                optional("base", BuiltinType.STR, "the file name (or node name) of that image (deprecated in QEMU)"),
                optional("top-node", BuiltinType.STR, "the node name of the top image committed; default the "
                        + "active layer"),
                optional("top", BuiltinType.STR, "the file name (or node name) of that image (deprecated in QEMU)"),
                optional("backing-file", BuiltinType.STR, "the backing file name to record in the overlay of top; "
                        + "default the base's file name"),
                optional("backing-mask-protocol", BuiltinType.BOOL, "record a protocol driver's backing format as "
                        + "'raw'; default false"),
                optional("on-error", MirrorSchema.ON_ERROR, "the action on an I/O error; default report"))),
                CommandSpec.EMPTY,
                "Commits the images from top down to the base into the base. An intermediate top: the data is "
                        + "copied, then the overlay of top reads through the base (BLOCK_JOB_COMPLETED). The active "
                        + "layer as top: a mirror onto the base that becomes READY (BLOCK_JOB_READY); job-complete "
                        + "then switches the guest to the base.",
                MirrorSchema.SINCE, q::blockCommit));
    }

    private static Member[] common(Member... own) {
        List<Member> all = new ArrayList<>();
        all.add(optional("job-id", BuiltinType.STR, "the job id; default the device name"));
        all.addAll(List.of(own));
        all.add(optional("speed", BuiltinType.INT, "speed limit in bytes per second; default 0 (unlimited)"));
        all.add(optional("filter-node-name", BuiltinType.STR, "the name of the job's filter node; converge inserts "
                + "none for stream and intermediate commit (the name is still checked), active commit names its "
                + "mirror filter with it"));
        all.add(optional("auto-finalize", BuiltinType.BOOL, "default " + JOB_DEFAULTS.autoFinalize()));
        all.add(optional("auto-dismiss", BuiltinType.BOOL, "default " + JOB_DEFAULTS.autoDismiss()));
        return all.toArray(Member[]::new);
    }

    private JsonNode blockStream(Args a) {
        for (String[] pair : new String[][] {{"base", "base-node"}, {"base", "bottom"}, {"bottom", "base-node"}}) {
            if (a.has(pair[0]) && a.has(pair[1])) {
                throw QmpException.generic("'%s' and '%s' cannot be specified at the same time", pair[0], pair[1]);
            }
        }
        String device = a.str("device");
        BlockNode top = graph.lookup(device);
        BlockNode base = null;
        if (a.has("base")) {
            String name = a.str("base");
            base = BackingChain.findBackingImage(top, name).orElseThrow(
                    () -> QmpException.generic("Can't find '%s' in the backing chain", name));
        }
        if (a.has("base-node")) {
            String name = a.str("base-node");
            base = lookupNode(name);
            if (base == top || !BackingChain.contains(top, base)) {
                throw QmpException.generic("Node '%s' is not a backing image of '%s'", name, device);
            }
        }
        if (a.has("bottom")) {
            String name = a.str("bottom");
            BlockNode bottom = lookupNode(name);
            if (!BackingChain.contains(top, bottom)) {
                throw QmpException.generic("Node '%s' is not in a chain starting from '%s'", name, device);
            }
            base = bottom.backing().orElse(null);
        }
        String backingFile = a.optStr("backing-file").orElse(null);
        if (base == null && backingFile != null) {
            throw QmpException.generic("backing file specified, but streaming the entire chain");
        }
        checkFilterName(a);
        String jobId = jobId(a, top);
        BlockNode newBacking = base;
        translated(() -> chains.startStream(jobId, top, newBacking, backingFile, a.bool("backing-mask-protocol", false),
                onError(a), jobOptions(a)));
        return null;
    }

    private JsonNode blockCommit(Args a) {
        String device = a.str("device");
        BlockNode active;
        try {
            active = graph.lookup(device);
        } catch (QmpException e) {
            throw QmpException.generic("Device '%s' not found", device);
        }
        if (a.has("top-node") && a.has("top")) {
            throw QmpException.generic("'top-node' and 'top' are mutually exclusive");
        }
        BlockNode top = active;
        if (a.has("top-node")) {
            String name = a.str("top-node");
            top = lookupNode(name);
            if (!BackingChain.contains(active, top)) {
                throw QmpException.generic("'%s' is not in this backing file chain", name);
            }
        } else if (a.has("top")) {
            String name = a.str("top");
            top = name.equals(active.filename()) ? active : BackingChain.findBackingImage(active, name).orElse(null);
            if (top == null) {
                throw QmpException.generic("Top image file %s not found", name);
            }
        }
        if (a.has("base-node") && a.has("base")) {
            throw QmpException.generic("'base-node' and 'base' are mutually exclusive");
        }
        BlockNode base;
        if (a.has("base-node")) {
            String name = a.str("base-node");
            base = lookupNode(name);
            if (!BackingChain.contains(top, base)) {
                throw QmpException.generic("'%s' is not in this backing file chain", name);
            }
        } else if (a.has("base")) {
            String name = a.str("base");
            base = BackingChain.findBackingImage(top, name).orElseThrow(
                    () -> QmpException.generic("Can't find '%s' in the backing chain", name));
        } else {
            base = BackingChain.bottom(top);
            if (base == top) {
                throw QmpException.generic("There is no backimg image");
            }
        }
        if (top == base) {
            throw QmpException.generic("cannot commit an image into itself");
        }
        String backingFile = a.optStr("backing-file").orElse(null);
        checkFilterName(a);
        String jobId = jobId(a, active);
        BlockNode t = top;
        if (top == active) {
            if (backingFile != null) {
                throw QmpException.generic("'backing-file' specified, but 'top' is the active layer");
            }
            translated(() -> chains.startActiveCommit(jobId, t, base, onError(a), jobOptions(a),
                    a.optStr("filter-node-name").orElse(null)));
            return null;
        }
        BlockNode overlay = BackingChain.overlay(active, top).orElseThrow();
        if (backingFile != null && overlay.parents().stream().anyMatch(e -> e.parentBackend() != null)
                && !overlay.readOnly()) {
            throw QmpException.generic("'backing-file' specified, but 'top' has a writer on it");
        }
        translated(() -> chains.startCommit(jobId, t, base, overlay, backingFile, onError(a), jobOptions(a)));
        return null;
    }

    private BlockNode lookupNode(String name) {
        return graph.find(name).orElseThrow(
                () -> QmpException.generic("Cannot find device='' nor node-name='%s'", name));
    }

    /** filter-node-name, when given, must be a free, well-formed node name (QEMU's checks). */
    private void checkFilterName(Args a) {
        if (a.has("filter-node-name")) {
            String name = a.str("filter-node-name");
            if (!dev.converge.block.NodeNames.wellFormed(name) || name.length() > dev.converge.block.NodeNames.MAX_LENGTH) {
                throw QmpException.generic("Invalid node-name: '%s'", name);
            }
            graph.checkNameFree(name);
        }
    }

    private static BlockdevOnError onError(Args a) {
        return BlockdevOnError.fromWire(a.str("on-error", BlockdevOnError.REPORT.wireName()));
    }

    private static JobOptions jobOptions(Args a) {
        return JOB_DEFAULTS.withAutoFinalize(a.bool("auto-finalize", JOB_DEFAULTS.autoFinalize()))
                .withAutoDismiss(a.bool("auto-dismiss", JOB_DEFAULTS.autoDismiss()))
                .withSpeed(a.integer("speed", JOB_DEFAULTS.speed()));
    }

    /** The job id, or QEMU's default: the device name of the node's user ("" for a node without one). */
    private static String jobId(Args a, BlockNode node) {
        return a.optStr("job-id").orElseGet(() -> {
            for (BlockChild e : node.parents()) {
                if (e.parentBackend() != null && e.parentBackend().name() != null) {
                    return e.parentBackend().name();
                }
            }
            return "";
        });
    }

    private static void translated(Supplier<?> act) {
        try {
            act.get();
        } catch (ChainRefusedException e) {
            throw QmpException.generic(e.getMessage());
        }
    }
}
