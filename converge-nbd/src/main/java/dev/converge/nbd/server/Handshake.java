package dev.converge.nbd.server;

import dev.converge.nbd.wire.ClientFlags;
import dev.converge.nbd.wire.ExportInfoRequest;
import dev.converge.nbd.wire.ExportNameReply;
import dev.converge.nbd.wire.MetaContextRequest;
import dev.converge.nbd.wire.NbdProtocol;
import dev.converge.nbd.wire.NbdProtocol.ClientFlag;
import dev.converge.nbd.wire.NbdProtocol.InfoType;
import dev.converge.nbd.wire.NbdProtocol.Option;
import dev.converge.nbd.wire.NbdProtocol.OptionReplyType;
import dev.converge.nbd.wire.NbdProtocolException;
import dev.converge.nbd.wire.OptionReply;
import dev.converge.nbd.wire.OptionRequest;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The server side of the fixed newstyle handshake as a pure step function over a sealed state:
 * {@code step(state, option) → (next state, replies, action)}. No I/O happens here; the
 * {@link Connection} writes the replies, performs the action (TLS upgrade) and feeds the next option.
 *
 * <pre>
 *   start(flags) ─▶ Negotiating ──option──▶ Negotiating        (LIST, INFO, STRUCTURED_REPLY, EXTENDED_HEADERS,
 *                                                              *_META_CONTEXT, errors)
 *                       │  ──STARTTLS──▶ Negotiating(tls) + START_TLS action
 *                       │  ──GO / EXPORT_NAME──▶ Transmitting
 *                       └─ ──ABORT / bad EXPORT_NAME──▶ Closed
 * </pre>
 */
public final class Handshake {
    private Handshake() {
    }

    /** What the handshake needs from the server. */
    public record Context(Function<String, NbdExport> exports, Supplier<List<NbdExport>> all, boolean tlsConfigured) {
    }

    /** The session state while options are exchanged. */
    public sealed interface State permits Negotiating, Transmitting, Closed {
    }

    /**
     * Options are being exchanged.
     *
     * @param clientFlags what the client agreed to in its flags
     * @param tls         whether TLS is up
     * @param structured  whether STRUCTURED_REPLY was agreed
     * @param extended    whether EXTENDED_HEADERS was agreed (it implies structured replies)
     * @param metaExport  the export SET_META_CONTEXT was for, or null
     * @param contexts    the selected contexts for {@code metaExport}
     */
    public record Negotiating(Set<ClientFlag> clientFlags, boolean tls, boolean structured, boolean extended,
                              String metaExport, List<MetaContext> contexts) implements State {
        public Negotiating {
            clientFlags = Set.copyOf(clientFlags);
            contexts = List.copyOf(contexts);
        }

        /** TLS is up; what was agreed before it is void and must be negotiated again (spec, STARTTLS). */
        Negotiating withTls() {
            return new Negotiating(clientFlags, true, false, false, null, List.of());
        }

        Negotiating withStructured() {
            return new Negotiating(clientFlags, tls, true, extended, metaExport, contexts);
        }

        Negotiating withExtended() {
            return new Negotiating(clientFlags, tls, structured, true, metaExport, contexts);
        }

        Negotiating withContexts(String export, List<MetaContext> selected) {
            return new Negotiating(clientFlags, tls, structured, extended, export, selected);
        }

        /** Whether replies may be structured (chunks), by STRUCTURED_REPLY or EXTENDED_HEADERS. */
        boolean chunked() {
            return structured || extended;
        }
    }

    /**
     * The handshake chose an export; the transmission phase follows.
     *
     * @param export     the export
     * @param structured whether structured replies were agreed
     * @param extended   whether extended headers were agreed
     * @param contexts   the meta contexts BLOCK_STATUS reports
     */
    public record Transmitting(NbdExport export, boolean structured, boolean extended, List<MetaContext> contexts)
            implements State {
        public Transmitting {
            contexts = List.copyOf(contexts);
        }
    }

    /** The handshake ended without an export; the connection closes. */
    public record Closed(String reason) implements State {
    }

    /** What the connection does after writing the replies. */
    public enum Action {
        /** Read the next option (or start transmission if the state says so). */
        NONE,
        /** Upgrade the connection to TLS before reading the next option. */
        START_TLS
    }

    /** The outcome of one step. */
    public record Step(State next, List<ByteBuffer> replies, Action action) {
        public Step {
            replies = List.copyOf(replies);
        }
    }

    /** The state after the client's flags. */
    public static Negotiating start(ClientFlags flags) {
        return new Negotiating(flags.flags(), false, false, false, null, List.of());
    }

    /** One option in, the next state and the replies out. */
    public static Step step(State state, OptionRequest request, Context ctx) {
        return switch (state) {
            case Negotiating n -> negotiate(n, request, ctx);
            case Transmitting t -> throw new IllegalStateException(
                    "option " + Option.describe(request.code()) + " in state Transmitting");
            case Closed c -> throw new IllegalStateException(
                    "option " + Option.describe(request.code()) + " in state Closed");
        };
    }

    private static Step negotiate(Negotiating s, OptionRequest r, Context ctx) {
        int code = r.code();
        Option opt;
        try {
            opt = r.option();
        } catch (NbdProtocolException.UnknownCode e) {
            return reply(s, err(code, OptionReplyType.ERR_UNSUP, "Unsupported option 0x%x (%s)", code,
                    Option.describe(code)));
        }
        if (ctx.tlsConfigured() && !s.tls()) {
            switch (opt) {
                case STARTTLS, ABORT -> {
                }
                case EXPORT_NAME -> {
                    return new Step(new Closed("option EXPORT_NAME not permitted before TLS"), List.of(), Action.NONE);
                }
                default -> {
                    return reply(s, err(code, OptionReplyType.ERR_TLS_REQD, "Option 0x%x not permitted before TLS",
                            code));
                }
            }
        }
        try {
            return switch (opt) {
                case EXPORT_NAME -> exportName(s, r, ctx);
                case ABORT -> new Step(new Closed("client sent ABORT"), List.of(OptionReply.ack(code).encode()),
                        Action.NONE);
                case LIST -> list(s, r, ctx);
                case STARTTLS -> startTls(s, r, ctx);
                case INFO, GO -> info(s, r, opt, ctx);
                case STRUCTURED_REPLY -> structured(s, r);
                case EXTENDED_HEADERS -> extendedHeaders(s, r);
                case LIST_META_CONTEXT, SET_META_CONTEXT -> metaContext(s, r, opt, ctx);
                case PEEK_EXPORT -> reply(s, err(code, OptionReplyType.ERR_UNSUP,
                        "Unsupported option 0x%x (%s)", code, opt));
            };
        } catch (NbdProtocolException e) {
            // the option payload was read whole, so the stream is still in step: answer and go on
            return reply(s, err(code, OptionReplyType.ERR_INVALID, "option %s: %s", opt, e.getMessage()));
        }
    }

    private static Step exportName(Negotiating s, OptionRequest r, Context ctx) {
        if (s.extended()) {
            // no way to say so but closing: the reply would be in a format the client agreed to drop
            return new Step(new Closed("EXPORT_NAME after EXTENDED_HEADERS (the client must use GO)"), List.of(),
                    Action.NONE);
        }
        String name;
        try {
            byte[] d = r.data();
            if (d.length > NbdProtocol.MAX_STRING_SIZE) {
                return new Step(new Closed("export name length: " + d.length + " (expected: <= "
                        + NbdProtocol.MAX_STRING_SIZE + ")"), List.of(), Action.NONE);
            }
            name = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(d)).toString();
        } catch (CharacterCodingException e) {
            return new Step(new Closed("export name: not valid UTF-8"), List.of(), Action.NONE);
        }
        NbdExport e = ctx.exports().apply(name);
        if (e == null) {
            // EXPORT_NAME has no way to report an error but closing
            return new Step(new Closed("export '" + name + "' not present"), List.of(), Action.NONE);
        }
        ExportNameReply reply = new ExportNameReply(e.backend().size(), e.transmissionFlags(s.chunked()),
                !s.clientFlags().contains(ClientFlag.NO_ZEROES));
        return new Step(new Transmitting(e, s.structured(), s.extended(), contextsFor(s, name)),
                List.of(reply.encode()), Action.NONE);
    }

    private static Step list(Negotiating s, OptionRequest r, Context ctx) {
        int code = r.code();
        if (r.data().length != 0) {
            return reply(s, err(code, OptionReplyType.ERR_INVALID, "LIST with payload of %d bytes (expected: 0)",
                    r.data().length));
        }
        List<ByteBuffer> out = new ArrayList<>();
        for (NbdExport e : ctx.all().get()) {
            out.add(OptionReply.server(e.name(), e.description()).encode());
        }
        out.add(OptionReply.ack(code).encode());
        return new Step(s, out, Action.NONE);
    }

    private static Step startTls(Negotiating s, OptionRequest r, Context ctx) {
        int code = r.code();
        if (r.data().length != 0) {
            return reply(s, err(code, OptionReplyType.ERR_INVALID, "STARTTLS with payload of %d bytes (expected: 0)",
                    r.data().length));
        }
        if (!ctx.tlsConfigured()) {
            return reply(s, err(code, OptionReplyType.ERR_POLICY, "TLS not configured"));
        }
        if (s.tls()) {
            return reply(s, err(code, OptionReplyType.ERR_INVALID, "TLS already enabled"));
        }
        return new Step(s.withTls(), List.of(OptionReply.ack(code).encode()), Action.START_TLS);
    }

    private static Step info(Negotiating s, OptionRequest r, Option opt, Context ctx) throws NbdProtocolException {
        int code = r.code();
        ExportInfoRequest q = ExportInfoRequest.parse(r.payload());
        NbdExport e = ctx.exports().apply(q.name());
        if (e == null) {
            return reply(s, err(code, OptionReplyType.ERR_UNKNOWN, "export '%s' not present", q.name()));
        }
        boolean wantName = q.infos().contains((int) InfoType.NAME.code());
        boolean wantDescription = q.infos().contains((int) InfoType.DESCRIPTION.code());
        boolean wantBlockSize = q.infos().contains((int) InfoType.BLOCK_SIZE.code());
        if (opt == Option.GO && e.minBlockSize() > 1 && !wantBlockSize) {
            return reply(s, err(code, OptionReplyType.ERR_BLOCK_SIZE_REQD,
                    "request NBD_INFO_BLOCK_SIZE to use this export"));
        }
        List<ByteBuffer> out = new ArrayList<>();
        if (wantName) {
            out.add(OptionReply.infoName(code, e.name()).encode());
        }
        if (wantDescription && !e.description().isEmpty()) {
            out.add(OptionReply.infoDescription(code, e.description()).encode());
        }
        // QEMU sends block sizes whether asked or not; clients that did not ask ignore them
        out.add(OptionReply.infoBlockSize(code, e.minBlockSize(), e.preferredBlockSize(), e.maxBlockSize()).encode());
        out.add(OptionReply.infoExport(code, e.backend().size(), e.transmissionFlags(s.chunked())).encode());
        out.add(OptionReply.ack(code).encode());
        State next = opt == Option.GO ? new Transmitting(e, s.structured(), s.extended(), contextsFor(s, e.name()))
                : s;
        return new Step(next, out, Action.NONE);
    }

    private static Step structured(Negotiating s, OptionRequest r) {
        int code = r.code();
        if (r.data().length != 0) {
            return reply(s, err(code, OptionReplyType.ERR_INVALID,
                    "STRUCTURED_REPLY with payload of %d bytes (expected: 0)", r.data().length));
        }
        if (s.extended()) {
            return reply(s, err(code, OptionReplyType.ERR_EXT_HEADER_REQD,
                    "extended headers already negotiated; they take precedence over structured replies"));
        }
        if (s.structured()) {
            return reply(s, err(code, OptionReplyType.ERR_INVALID, "structured reply already negotiated"));
        }
        return new Step(s.withStructured(), List.of(OptionReply.ack(code).encode()), Action.NONE);
    }

    /** EXTENDED_HEADERS: 32-byte headers and 64-bit lengths both ways (structured replies included). */
    private static Step extendedHeaders(Negotiating s, OptionRequest r) {
        int code = r.code();
        if (r.data().length != 0) {
            return reply(s, err(code, OptionReplyType.ERR_INVALID,
                    "EXTENDED_HEADERS with payload of %d bytes (expected: 0)", r.data().length));
        }
        if (s.extended()) {
            return reply(s, err(code, OptionReplyType.ERR_INVALID, "extended headers already negotiated"));
        }
        return new Step(s.withExtended(), List.of(OptionReply.ack(code).encode()), Action.NONE);
    }

    private static Step metaContext(Negotiating s, OptionRequest r, Option opt, Context ctx)
            throws NbdProtocolException {
        int code = r.code();
        if (!s.chunked()) {
            return reply(s, err(code, OptionReplyType.ERR_INVALID,
                    "request option '%s' when structured reply is not negotiated", opt));
        }
        MetaContextRequest q = MetaContextRequest.parse(r.payload());
        NbdExport e = ctx.exports().apply(q.exportName());
        if (e == null) {
            return reply(s, err(code, OptionReplyType.ERR_UNKNOWN, "export '%s' not present", q.exportName()));
        }
        boolean listing = opt == Option.LIST_META_CONTEXT;
        Set<MetaContext> matched = new LinkedHashSet<>();
        if (q.queries().isEmpty()) {
            if (listing) {
                matched.addAll(all(e));
            }
        } else {
            for (String query : q.queries()) {
                matched.addAll(match(e, query, listing));
            }
        }
        List<ByteBuffer> out = new ArrayList<>();
        for (MetaContext c : matched) {
            out.add(OptionReply.metaContext(code, c.id(), c.name()).encode());
        }
        out.add(OptionReply.ack(code).encode());
        Negotiating next = listing ? s : s.withContexts(e.name(), List.copyOf(matched));
        return new Step(next, out, Action.NONE);
    }

    /** Every context the export offers. */
    static List<MetaContext> all(NbdExport e) {
        List<MetaContext> out = new ArrayList<>();
        out.add(MetaContext.BASE_ALLOCATION);
        for (int i = 0; i < e.bitmaps().size(); i++) {
            out.add(MetaContext.dirtyBitmap(i, e.bitmaps().get(i)));
        }
        return out;
    }

    /**
     * Contexts matching one query. A bare namespace ("base:", "qemu:", "qemu:dirty-bitmap:") matches
     * everything in it only when listing, as QEMU: SET must name contexts exactly.
     */
    static List<MetaContext> match(NbdExport e, String query, boolean listing) {
        List<MetaContext> out = new ArrayList<>();
        if (query.equals(NbdProtocol.CONTEXT_BASE_ALLOCATION) || (listing && query.equals("base:"))) {
            out.add(MetaContext.BASE_ALLOCATION);
        }
        List<MetaContext> bitmaps = all(e).subList(1, 1 + e.bitmaps().size());
        if (listing && (query.equals("qemu:") || query.equals(NbdProtocol.CONTEXT_QEMU_DIRTY_BITMAP))) {
            out.addAll(bitmaps);
        } else if (query.startsWith(NbdProtocol.CONTEXT_QEMU_DIRTY_BITMAP)) {
            for (MetaContext c : bitmaps) {
                if (c.name().equals(query)) {
                    out.add(c);
                }
            }
        }
        return out;
    }

    private static List<MetaContext> contextsFor(Negotiating s, String exportName) {
        return exportName.equals(s.metaExport()) ? s.contexts() : List.of();
    }

    private static Step reply(Negotiating s, OptionReply reply) {
        return new Step(s, List.of(reply.encode()), Action.NONE);
    }

    private static OptionReply err(int code, OptionReplyType type, String format, Object... args) {
        return OptionReply.error(code, type, String.format(format, args));
    }
}
