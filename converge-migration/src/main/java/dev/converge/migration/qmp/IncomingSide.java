package dev.converge.migration.qmp;

import dev.converge.migration.file.FileHeader;
import dev.converge.migration.file.FileRestorer;
import dev.converge.migration.job.FileTarget;
import dev.converge.migration.job.MigrationEvents;
import dev.converge.migration.job.MigrationStatus;
import dev.converge.migration.job.MigrationTarget;
import dev.converge.migration.job.MigrationUri;
import dev.converge.migration.machine.Machine;
import dev.converge.migration.machine.RunState;
import dev.converge.migration.multifd.ChannelAcceptor;
import dev.converge.migration.postcopy.PostcopyIncoming;
import dev.converge.migration.postcopy.PostcopyPhase;
import dev.converge.migration.wire.StreamDecoder;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import dev.converge.migration.precopy.IncomingMigration;
import dev.converge.migration.precopy.IncomingStats;
import dev.converge.migration.precopy.MigrationException;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.net.ListeningSocket;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The destination of a migration: listens where {@code --incoming} or {@code migrate-incoming}
 * says, takes one connection, and runs {@link IncomingMigration} on a virtual thread. Its status
 * follows QEMU's incoming side: setup while listening, active once connected, then completed or
 * failed (with the error in query-migrate's error-desc). After a failure the machine is still in
 * {@code inmigrate} and a new migrate-incoming is accepted, also on the same UNIX path: the
 * listener's socket file is removed as soon as it stops listening (after the one connection, a
 * failure, or on close), and a stale one that nobody answers on is replaced at bind.
 * <p>
 * {@link #listen} and {@link #close} run on the main loop; the status is volatile because the
 * receiving thread writes it and query-migrate reads it. What the connection brought
 * ({@link Received}) is one immutable record that the receiving thread replaces as a whole,
 * always before the status change it belongs to: a query-migrate that sees active, completed or
 * failed sees the numbers of that moment or later, and after the end the frozen final ones.
 */
final class IncomingSide implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(IncomingSide.class);

    private final Machine machine;
    private final Supplier<MigrationEvents> events;
    /** Written by the main loop (listen) and the receiving thread; read by query-migrate. */
    private volatile MigrationStatus status = MigrationStatus.NONE;
    private volatile String errorDesc;
    /**
     * What the current connection brought; null while listening or when no connection was
     * accepted. Written by the receiving thread (listen clears it before starting that thread).
     */
    private volatile Received received;
    /**
     * The listening socket while in setup (mode 0600, largest backlog, a stale file replaced, its
     * file removed on close while still ours); main loop and the receiving thread.
     */
    private volatile ListeningSocket server;
    private volatile SocketChannel connection;
    private volatile Thread thread;
    private volatile boolean closing;
    /** Whether the capability postcopy-ram is on now (read when the source switches to postcopy). */
    private final java.util.function.BooleanSupplier postcopyEnabled;
    /** Whether the capability postcopy-preempt is on now (read when a migration is accepted). */
    private final java.util.function.BooleanSupplier preemptEnabled;
    /** The postcopy phase of the current migration, null before (or without) one; receiving thread writes. */
    private volatile PostcopyIncoming postcopy;
    /** The listener of a migrate-recover, while it waits for the source; main loop and its accept thread. */
    private volatile ListeningSocket recoveryServer;

    /** Whether the capability multifd is on now (read when the source connects: QEMU's destination decides per channel). */
    private final java.util.function.BooleanSupplier multifdEnabled;

    IncomingSide(Machine machine, Supplier<MigrationEvents> events, java.util.function.BooleanSupplier postcopyEnabled,
            java.util.function.BooleanSupplier multifdEnabled, java.util.function.BooleanSupplier preemptEnabled) {
        this.machine = machine;
        this.events = events;
        this.postcopyEnabled = postcopyEnabled;
        this.multifdEnabled = multifdEnabled;
        this.preemptEnabled = preemptEnabled;
    }

    /** Binds the listening socket of migrate-incoming or migrate-recover. */
    private static ListeningSocket bind(MigrationUri uri) {
        uri.socket().checkListenable();
        try {
            return uri.address() instanceof java.net.UnixDomainSocketAddress u
                    ? ListeningSocket.unix(u.getPath(), ListeningSocket.OWNER_ONLY)
                    : ListeningSocket.tcp((java.net.InetSocketAddress) uri.address());
        } catch (IOException e) {
            throw QmpException.generic("Failed to listen on '%s': %s", uri, e.getMessage());
        }
    }

    /** Where migrate-recover listens, while it waits (a tcp port 0 resolved). */
    Optional<java.net.InetSocketAddress> recoveryAddress() {
        ListeningSocket s = recoveryServer;
        return s != null && s.address() instanceof java.net.InetSocketAddress a ? Optional.of(a) : Optional.empty();
    }

    /** The postcopy phase of the latest migration, once it switched to postcopy. */
    Optional<PostcopyIncoming> postcopy() {
        return Optional.ofNullable(postcopy);
    }

    /**
     * migrate-recover: listens on {@code uri} for the source's recovery connection of a paused
     * postcopy (a repeated one replaces the listener). Main loop.
     *
     * @throws QmpException with QEMU's text unless postcopy-paused
     */
    void recover(MigrationUri uri) {
        PostcopyIncoming pc = postcopy;
        if (status != MigrationStatus.POSTCOPY_PAUSED || pc == null) {
            throw QmpException.generic("Migrate recover can only be run when postcopy is paused.");
        }
        ListeningSocket s = bind(uri);
        ListeningSocket old = recoveryServer;
        recoveryServer = s;
        if (old != null) {
            try {
                old.close(); // QEMU too releases an earlier recovery transport
            } catch (IOException e) {
                // only releasing
            }
        }
        Thread.ofVirtual().name(machine.name() + "-migration-recover").start(() -> {
            try (s) {
                // The main connection, then (postcopy-preempt) the preempt channel: the source opens them in this order.
                for (int i = 0; i < pc.recoveryConnections(); i++) {
                    pc.recover(accept(s), i == 0);
                }
            } catch (IOException e) {
                log.info("incoming migration of '{}': recovery listener ended: {}", machine.name(), e.getMessage());
            }
        });
        log.info("incoming migration of '{}': waiting for the source to recover postcopy on {}", machine.name(), uri);
    }

    /**
     * migrate-pause on the destination: breaks the connection of an active (or recovering)
     * postcopy. Main loop.
     *
     * @return false when not in postcopy-active or postcopy-recover
     */
    boolean pause() {
        PostcopyIncoming pc = postcopy;
        MigrationStatus s = status;
        if (pc == null || (s != MigrationStatus.POSTCOPY_ACTIVE && s != MigrationStatus.POSTCOPY_RECOVER)) {
            return false;
        }
        pc.pause();
        return true;
    }

    /** The postcopy phase's hand-over, with the capabilities of now (postcopy-preempt). */
    private IncomingMigration.PostcopyHandoff postcopyHandoff() {
        boolean preempt = preemptEnabled.getAsBoolean();
        return new IncomingMigration.PostcopyHandoff() {
            @Override
            public IncomingMigration.Completed takeOver(IncomingMigration.Receiving r, ByteChannel ch, StreamDecoder decoder,
                    ByteBuffer buf, dev.converge.migration.postcopy.PreemptAcceptor preemptChannel) throws MigrationException {
                return IncomingSide.this.takeOver(r, ch, decoder, buf, preemptChannel);
            }

            @Override
            public boolean acceptsPreempt() {
                return preempt;
            }
        };
    }

    /** Where the postcopy phase takes over from {@link IncomingMigration} (receiving thread). */
    private IncomingMigration.Completed takeOver(IncomingMigration.Receiving r, ByteChannel ch, StreamDecoder decoder,
            ByteBuffer buf, dev.converge.migration.postcopy.PreemptAcceptor preempt) throws MigrationException {
        PostcopyIncoming pc = new PostcopyIncoming(machine, r.blocks(), r.crcs(), (phase, why) -> {
            if (phase == PostcopyPhase.PAUSED) {
                errorDesc = why;
            }
            setStatus(switch (phase) {
                case ACTIVE -> MigrationStatus.POSTCOPY_ACTIVE;
                case PAUSED -> MigrationStatus.POSTCOPY_PAUSED;
                case RECOVER_SETUP -> MigrationStatus.POSTCOPY_RECOVER_SETUP;
                case RECOVER -> MigrationStatus.POSTCOPY_RECOVER;
            });
        });
        postcopy = pc;
        try {
            return pc.run(ch, decoder, buf, r.pages(), r.passes(), preempt);
        } finally {
            pc.close(); // the last connection; no vCPU waits any more unless the guest was lost
        }
    }

    MigrationStatus status() {
        return status;
    }

    /** Whether an incoming migration listens or runs (QEMU's migration_incoming_started, as its capability check uses it). */
    boolean started() {
        MigrationStatus s = status;
        return s != MigrationStatus.NONE && s != MigrationStatus.COMPLETED && s != MigrationStatus.FAILED;
    }

    Optional<String> errorDesc() {
        return Optional.ofNullable(errorDesc);
    }

    /** What the latest connection brought, once one was accepted. */
    Optional<Received> received() {
        return Optional.ofNullable(received);
    }

    /**
     * What one accepted connection brought, immutable.
     *
     * @param acceptedAtNanos  System.nanoTime() when the connection was accepted
     * @param stats            the latest snapshot from the receiving thread
     * @param elapsedAtEnd     nanoseconds from accept to the end of the stream, or {@link #RECEIVING}
     */
    record Received(long acceptedAtNanos, IncomingStats stats, long elapsedAtEnd) {
        static final long RECEIVING = -1;

        static Received acceptedNow() {
            return new Received(System.nanoTime(), IncomingStats.NONE, RECEIVING);
        }

        /** Since the accept: until now while receiving, frozen once the stream ended. */
        long elapsedNanos() {
            return elapsedAtEnd == RECEIVING ? System.nanoTime() - acceptedAtNanos : elapsedAtEnd;
        }

        Received with(IncomingStats s) {
            return new Received(acceptedAtNanos, s, elapsedAtEnd);
        }

        Received endedNow() {
            return new Received(acceptedAtNanos, stats, System.nanoTime() - acceptedAtNanos);
        }
    }

    /** Where it listens, while it does (query-migrate's socket-address). */
    Optional<SocketAddress> listeningAddress() {
        ListeningSocket s = server;
        if (s == null || status != MigrationStatus.SETUP) {
            return Optional.empty();
        }
        return Optional.of(s.address()); // the path asked for, not the private one bound first
    }

    private void setStatus(MigrationStatus s) {
        status = s;
        logPhase(s);
        // The capability is read at each change, as QEMU's destination does: management often
        // turns events on after starting the destination with -incoming.
        events.get().status(s);
    }

    /**
     * Starts listening (migrate-incoming, or --incoming at start). Main loop.
     *
     * @throws QmpException with QEMU's texts when the machine is not waiting or a listener runs
     */
    /**
     * The destination's TLS (tls-creds with a server endpoint).
     *
     * @param authz tls-authz's check of the source's certificate subject, or null
     */
    record ServerTls(javax.net.ssl.SSLContext context, boolean verifyPeer,
            java.util.function.Predicate<javax.security.auth.x500.X500Principal> authz) {
    }

    void listen(MigrationTarget target) {
        listen(target, null);
    }

    /** As {@link #listen(MigrationTarget)}, with TLS on the connection when {@code tls} is not null (sockets only). */
    void listen(MigrationTarget target, ServerTls tls) {
        // This order: a postcopy destination runs the guest (no longer inmigrate) and is still "started".
        if (started()) {
            throw QmpException.generic("The incoming migration has already been started");
        }
        if (machine.runState() != RunState.INMIGRATE) {
            throw QmpException.generic("'-incoming' was not specified on the command line");
        }
        if (target instanceof FileTarget file) {
            restore(file);
            return;
        }
        ListeningSocket s = bind((MigrationUri) target);
        server = s;
        errorDesc = null;
        received = null;
        postcopy = null;
        setStatus(MigrationStatus.SETUP);
        thread = Thread.ofPlatform().daemon().name(machine.name() + "-migration-incoming").start(() -> receive(s, tls));
    }

    /**
     * Restores from a migration file: opened here (a missing file is the command's error, as
     * QEMU's), read on the incoming thread; setup, active, then completed (the machine runs
     * unless autostart is off or the source was paused) or failed (RAM discarded, a new
     * migrate-incoming is accepted).
     */
    private void restore(FileTarget file) {
        FileChannel ch;
        try {
            ch = FileChannel.open(file.path(), StandardOpenOption.READ);
        } catch (IOException e) {
            throw QmpException.generic("Could not open '%s': %s", file.path(),
                    e instanceof java.nio.file.NoSuchFileException ? "No such file or directory" : e.getMessage());
        }
        errorDesc = null;
        received = null;
        setStatus(MigrationStatus.SETUP);
        thread = Thread.ofPlatform().daemon().name(machine.name() + "-migration-incoming").start(() -> {
            try (ch) {
                received = Received.acceptedNow();
                setStatus(MigrationStatus.ACTIVE);
                FileRestorer.Restored r;
                try {
                    r = FileRestorer.restore(machine, ch, file.offset());
                } finally {
                    received = received.endedNow();
                }
                received = received.with(new IncomingStats(r.bytes(), r.normalPages(), r.zeroPages(), 1));
                machine.incomingCompleted();
                setStatus(MigrationStatus.COMPLETED);
            } catch (IOException | FileHeader.InvalidFileException | RuntimeException e) {
                machine.incomingFailed();
                String why = e instanceof FileHeader.InvalidFileException ? "Migration file '" + file.path() + "' cannot "
                        + "be restored: " + e.getMessage() : "Failed to read '" + file.path() + "': " + e.getMessage();
                fail(why);
            }
        });
    }

    private void receive(ListeningSocket s, ServerTls tls) {
        try (s) {
            SocketChannel ch;
            try {
                ch = accept(s);
            } catch (IOException e) {
                s.close();
                if (!closing) {
                    fail("accepting the incoming migration failed: " + e.getMessage());
                }
                return;
            }
            // The listener stays open for the multifd channels the stream may declare; the incoming
            // migration closes it once they are in, or at its first record without them. Either way the
            // socket file goes before any status change, so a new migrate-incoming after "failed" can bind the path.
            connection = ch;
            boolean multifd = multifdEnabled.getAsBoolean();
            ChannelAcceptor channels = new ChannelAcceptor() {
                /** The connection in its TLS handshake, which close() ends too; accept thread and close(). */
                private volatile SocketChannel handshaking;

                @Override
                public boolean accepting() {
                    return multifd;
                }

                @Override
                public java.nio.channels.ByteChannel accept() throws IOException {
                    SocketChannel c = IncomingSide.this.accept(s);
                    if (tls == null) {
                        return c;
                    }
                    handshaking = c;
                    if (!s.channel().isOpen()) {
                        c.close(); // closed meanwhile: close() may have missed c
                    }
                    try {
                        return secure(c, tls); // every multifd channel gets TLS and the authz check, as the main one
                    } catch (MigrationException e) {
                        c.close();
                        throw new IOException(e.getMessage(), e);
                    } finally {
                        handshaking = null;
                    }
                }

                @Override
                public void close() {
                    try {
                        s.close();
                    } catch (IOException e) {
                        log.warn("closing the incoming listener of '{}' failed: {}", machine.name(), e.getMessage());
                    }
                    SocketChannel c = handshaking;
                    if (c != null) {
                        try {
                            c.close(); // a source that stalls in the handshake must not hold the accept thread
                        } catch (IOException e) {
                            // only releasing
                        }
                    }
                }
            };
            try (ch) {
                received = Received.acceptedNow();
                setStatus(MigrationStatus.ACTIVE);
                try {
                    IncomingMigration.run(machine, tls == null ? ch : secure(ch, tls), channels,
                            stats -> received = received.with(stats),
                            postcopyEnabled.getAsBoolean() ? postcopyHandoff() : null);
                } finally {
                    received = received.endedNow(); // total-time stops here, before completed or failed shows
                }
                setStatus(MigrationStatus.COMPLETED);
            } catch (MigrationException e) {
                fail(e.getMessage());
            }
        } catch (IOException | RuntimeException e) {
            log.error("incoming migration of '{}' failed unexpectedly", machine.name(), e);
            fail(e.toString());
        }
    }

    /**
     * Accepts one connection of this migration: the main stream's and every multifd channel's.
     * The one accept path, so that TLS wraps every incoming connection here.
     */
    private SocketChannel accept(ListeningSocket s) throws IOException {
        SocketChannel ch = s.channel().accept();
        try {
            ch.setOption(java.net.StandardSocketOptions.TCP_NODELAY, true); // PASS_ACK and RESUMED are timed
        } catch (UnsupportedOperationException e) {
            // a UNIX socket has no Nagle
        }
        return ch;
    }

    /**
     * TLS on the accepted connection, and tls-authz's check of the source's certificate (QEMU's
     * texts); a failure discards the connection as a bad stream would (the machine stays inmigrate).
     */
    private static dev.converge.qmp.tls.SecureChannel secure(SocketChannel ch, ServerTls tls) throws MigrationException {
        dev.converge.qmp.tls.SecureChannel secure;
        try {
            secure = dev.converge.qmp.tls.SecureChannel.server(ch, tls.context(), tls.verifyPeer());
        } catch (IOException e) {
            throw new MigrationException.IncomingRejected(e.getMessage(), e);
        }
        if (tls.authz() != null) {
            javax.security.auth.x500.X500Principal subject;
            try {
                subject = (javax.security.auth.x500.X500Principal) secure.session().getPeerPrincipal();
            } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
                throw new MigrationException.IncomingRejected("TLS x509 authz check: no client certificate", e);
            }
            if (!tls.authz().test(subject)) {
                throw new MigrationException.IncomingRejected("TLS x509 authz check for " + subject.getName()
                        + " is denied", null);
            }
        }
        return secure;
    }

    /** One line per phase of the incoming side (a failure is logged with its reason by {@link #fail}). */
    private void logPhase(MigrationStatus s) {
        Received r = received;
        switch (s) {
            case SETUP -> log.info("incoming migration of '{}': listening on {}", machine.name(), listeningAddress()
                    .map(Object::toString).orElse("?"));
            case ACTIVE -> log.info("incoming migration of '{}': receiving", machine.name());
            case COMPLETED -> log.info("incoming migration of '{}': completed, {} bytes in {} pass(es), {} ms; "
                    + "the machine is {}", machine.name(), r == null ? 0 : r.stats().bytes(),
                    r == null ? 0 : r.stats().passes(), r == null ? 0 : r.elapsedNanos() / 1_000_000, machine.runState());
            case FAILED -> {
            }
            default -> log.info("incoming migration of '{}': {}", machine.name(), s.wireName());
        }
    }

    private void fail(String message) {
        errorDesc = message;
        log.info("incoming migration of '{}' failed: {}", machine.name(), message);
        setStatus(MigrationStatus.FAILED);
    }

    /** Stops listening or receiving (daemon shutdown); a migration in flight fails. */
    @Override
    public void close() {
        closing = true;
        PostcopyIncoming pc = postcopy;
        if (pc != null) {
            pc.close(); // vCPUs waiting for a page fail, so the machine can stop
        }
        for (AutoCloseable c : new AutoCloseable[] {server, connection, recoveryServer}) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception e) {
                    // only releasing
                }
            }
        }
        Thread t = thread;
        if (t != null) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
