package dev.converge.migration.postcopy;

import dev.converge.migration.multifd.ChannelAcceptor;
import dev.converge.migration.precopy.MigrationException;
import java.io.IOException;
import java.nio.channels.ByteChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The destination's preempt channel (capability postcopy-preempt), accepted in the background
 * once the main stream declared it (POSTCOPY_PREEMPT), so that the receiving thread goes on
 * reading meanwhile. The listener closes once it is in. The postcopy phase takes it over at
 * POSTCOPY_LISTEN ({@link #await}); a migration that ends in precopy closes it unused.
 * <p>
 * Threads: the accept on its own virtual thread; the rest on the receiving thread (and
 * {@link #close} from whoever ends the migration).
 */
public final class PreemptAcceptor implements AutoCloseable {
    /** How long the switch to postcopy waits for a channel the source opened right after declaring it. */
    static final Duration ACCEPT_WAIT = Duration.ofSeconds(30);

    private final ChannelAcceptor acceptor;
    private final CompletableFuture<ByteChannel> channel = new CompletableFuture<>();

    private PreemptAcceptor(ChannelAcceptor acceptor) {
        this.acceptor = acceptor;
    }

    /** Starts accepting the preempt channel on {@code acceptor}, which it closes once the channel is in. */
    public static PreemptAcceptor start(ChannelAcceptor acceptor, String machineName) {
        PreemptAcceptor a = new PreemptAcceptor(acceptor);
        Thread.ofVirtual().name(machineName + "-migration-preempt-accept").start(() -> {
            try {
                a.channel.complete(acceptor.accept());
            } catch (IOException | RuntimeException e) {
                a.channel.completeExceptionally(e);
            } finally {
                acceptor.close();
            }
        });
        return a;
    }

    /**
     * The channel, once accepted.
     *
     * @throws MigrationException.ChannelFailed when it did not come (in time)
     */
    ByteChannel await() throws MigrationException {
        try {
            return channel.get(ACCEPT_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new MigrationException.ChannelFailed("the postcopy preempt channel was not accepted: "
                    + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new MigrationException.ChannelFailed("the source did not open the postcopy preempt channel it "
                    + "declared within " + ACCEPT_WAIT.toSeconds() + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigrationException.Interrupted(e);
        }
    }

    /** Stops accepting and closes the channel if it came (idempotent; the postcopy phase closes its own too). */
    @Override
    public void close() {
        acceptor.close();
        channel.thenAccept(ch -> {
            try {
                ch.close();
            } catch (IOException e) {
                // only releasing
            }
        });
    }
}
