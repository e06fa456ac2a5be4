package dev.converge.migration.qmp;

import dev.converge.migration.job.MigrationJob;
import dev.converge.testing.TestTimeouts;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketAddress;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Holds a migration job in setup, inside its connect, until the test releases it. Handshake:
 * the job's thread counts {@link #awaitHeld held} down, the test acts (cancels), then
 * {@link #release}s. The real connect runs before the hold ({@link Hold#AFTER_CONNECTING}: the
 * connection exists when the cancel comes) or after it ({@link Hold#BEFORE_CONNECTING}: as a
 * connect blocked in the kernel, it then meets the socket the cancel has closed).
 */
final class HeldConnector implements MigrationJob.Connector {
    /** Where the job waits. */
    enum Hold { BEFORE_CONNECTING, AFTER_CONNECTING }

    private final Hold hold;
    private final CountDownLatch held = new CountDownLatch(1);
    private final CountDownLatch released = new CountDownLatch(1);
    /** Completes with null when the real connect succeeded, or with what it threw. */
    private final CompletableFuture<IOException> outcome = new CompletableFuture<>();

    HeldConnector(Hold hold) {
        this.hold = hold;
    }

    @Override
    public boolean connect(SocketChannel channel, SocketAddress address) throws IOException {
        try {
            if (hold == Hold.AFTER_CONNECTING) {
                channel.connect(address);
            }
            held.countDown();
            if (!released.await(TestTimeouts.LONG.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IOException("the test never released the held connect");
            }
            if (hold == Hold.BEFORE_CONNECTING) {
                channel.connect(address);
            }
            outcome.complete(null);
            return true;
        } catch (IOException e) {
            outcome.complete(e);
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while held");
        }
    }

    /** Waits until the job's thread is held in its connect. */
    void awaitHeld() throws InterruptedException {
        if (!held.await(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("the migration job never reached its connect within " + TestTimeouts.MEDIUM);
        }
    }

    /** Lets the job's thread go on; harmless when called again or before it was held. */
    void release() {
        released.countDown();
    }

    /** What the real connect gave: null when it succeeded, else the exception it threw. */
    IOException outcome() throws Exception {
        return outcome.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS);
    }
}
