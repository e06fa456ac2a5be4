package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.converge.block.BlockIOException;
import dev.converge.block.NodeOptions;
import dev.converge.block.driver.NullNode;
import dev.converge.testing.TestTimeouts;
import java.nio.file.Path;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The order in which the mirror's target is written (issue 13): a guest write never waits for a
 * copy, a copy into the page cache writes in pieces and holds each piece back while a guest write
 * is writing, but not for ever. Not timing tests: each waits for a state (a copy counted as
 * waiting, a write that returned), never for a time.
 */
class TargetTurnsTest {
    /** Long enough that a copy never stops yielding during a test. */
    static final Duration FOR_EVER = Duration.ofHours(1);

    /** The guest's and the copies' threads: one each, whatever the common pool's size. */
    private final ExecutorService threads = Executors.newCachedThreadPool();

    @AfterEach
    void tearDown() {
        threads.shutdownNow();
    }

    record Piece(long offset, byte[] bytes) {
    }

    private static MemorySegment pattern(Arena arena, int size) {
        MemorySegment s = arena.allocate(size);
        for (int i = 0; i < size; i++) {
            s.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + 7));
        }
        return s;
    }

    /** A piece of a copy of {@code buf} to {@code base}, as the slice of {@code buf} it covers. */
    @FunctionalInterface
    private interface BufferPiece {
        void write(long at, MemorySegment piece) throws BlockIOException;
    }

    private static TargetTurns.PieceWrite overBuffer(long base, MemorySegment buf, BufferPiece w) {
        return (at, n) -> w.write(at, buf.asSlice(at - base, n));
    }

    @Test
    void aCopyIntoThePageCacheIsWrittenInPiecesThatCoverItsBufferInOrder() throws Exception {
        TargetTurns turns = new TargetTurns(true, 1, FOR_EVER);
        List<Piece> pieces = new CopyOnWriteArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            int size = 3 * TargetTurns.PIECE + 5;
            MemorySegment buf = pattern(arena, size);
            turns.copyWrite(1 << 20, buf.byteSize(), overBuffer(1 << 20, buf, (at, piece) -> pieces.add(new Piece(at, piece.toArray(ValueLayout.JAVA_BYTE)))));

            assertThat(pieces).extracting(Piece::offset).containsExactly(1L << 20, (1L << 20) + TargetTurns.PIECE,
                    (1L << 20) + 2L * TargetTurns.PIECE, (1L << 20) + 3L * TargetTurns.PIECE);
            assertThat(pieces).allSatisfy(p -> assertThat(p.bytes().length).isLessThanOrEqualTo(TargetTurns.PIECE));
            byte[] joined = new byte[size];
            int at = 0;
            for (Piece p : pieces) {
                System.arraycopy(p.bytes(), 0, joined, at, p.bytes().length);
                at += p.bytes().length;
            }
            assertThat(joined).isEqualTo(buf.toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void twoLanesIntoAPageCacheFileOnlyForCopiesInTheKernel(@TempDir Path dir) throws Exception {
        try (MirrorFixture f = new MirrorFixture(dir)) {
            f.image("t", 1 << 20); // raw over a file, buffered
            assertThat(TargetTurns.forTarget(f.node("t"), true, 16).lanes()).as("file to file: copy_file_range")
                    .isEqualTo(TargetTurns.KERNEL_COPY_LANES);
            assertThat(TargetTurns.forTarget(f.node("t"), false, 16).lanes()).as("a source that is no host file")
                    .isEqualTo(1);
        }
        NullNode outside = new NullNode("n", NodeOptions.DEFAULTS, 1 << 20, true, 0);
        assertThat(TargetTurns.forTarget(outside, true, 16).lanes()).as("outside the page cache").isEqualTo(16);
    }

    @Test
    void aCopyIntoATargetOutsideThePageCacheIsWrittenWhole() throws Exception {
        TargetTurns turns = new TargetTurns(false, 16, FOR_EVER);
        List<Piece> pieces = new CopyOnWriteArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = pattern(arena, 1 << 20);
            turns.copyWrite(0, buf.byteSize(), overBuffer(0, buf, (at, piece) -> pieces.add(new Piece(at, piece.toArray(ValueLayout.JAVA_BYTE)))));
            assertThat(pieces).singleElement().satisfies(p -> {
                assertThat(p.offset()).isZero();
                assertThat(p.bytes()).isEqualTo(buf.toArray(ValueLayout.JAVA_BYTE));
            });
        }
    }

    @Test
    void aCopyPieceWaitsWhileAGuestWriteIsWritingTheTarget() throws Exception {
        TargetTurns turns = new TargetTurns(true, 1, FOR_EVER);
        CountDownLatch guestInside = new CountDownLatch(1);
        CountDownLatch guestMayEnd = new CountDownLatch(1);
        CompletableFuture<Void> guest = heldGuestWrite(turns, guestInside, guestMayEnd);
        assertThat(guestInside.await(TestTimeouts.LONG.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        List<Piece> pieces = new CopyOnWriteArrayList<>();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = pattern(arena, 2 * TargetTurns.PIECE);
            CompletableFuture<Void> copy = CompletableFuture.runAsync(() -> {
                try {
                    turns.copyWrite(0, buf.byteSize(), overBuffer(0, buf, (at, piece) -> pieces.add(new Piece(at, piece.toArray(ValueLayout.JAVA_BYTE)))));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, threads);
            // either the copy waits for the guest, or (wrongly) it wrote a piece
            await().atMost(TestTimeouts.LONG).until(() -> turns.copiesWaiting() == 1 || !pieces.isEmpty());
            assertThat(pieces).as("no piece while the guest writes").isEmpty();
            assertThat(turns.copiesWaiting()).isEqualTo(1);
            assertThat(copy).isNotDone();

            guestMayEnd.countDown();
            guest.get(TestTimeouts.LONG.toMillis(), TimeUnit.MILLISECONDS);
            copy.get(TestTimeouts.LONG.toMillis(), TimeUnit.MILLISECONDS);
            assertThat(pieces).hasSize(2);
        }
    }

    @Test
    void aGuestWriteNeverWaitsForACopyThatIsWriting() throws Exception {
        TargetTurns turns = new TargetTurns(true, 1, FOR_EVER);
        CountDownLatch copyInside = new CountDownLatch(1);
        CountDownLatch copyMayEnd = new CountDownLatch(1);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = pattern(arena, TargetTurns.PIECE);
            CompletableFuture<Void> copy = CompletableFuture.runAsync(() -> {
                try {
                    turns.copyWrite(0, buf.byteSize(), (at, n) -> {
                        copyInside.countDown();
                        hold(copyMayEnd);
                    });
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, threads);
            assertThat(copyInside.await(TestTimeouts.LONG.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            boolean[] wrote = new boolean[1];
            turns.guestWrite(() -> wrote[0] = true); // on this thread: it would hang here if it waited
            assertThat(wrote[0]).isTrue();
            assertThat(copy).isNotDone();
            copyMayEnd.countDown();
            copy.get(TestTimeouts.LONG.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    @Test
    void aGuestThatWritesWithoutPauseDoesNotStopTheCopies() throws Exception {
        TargetTurns turns = new TargetTurns(true, 1, Duration.ofMillis(1));
        CountDownLatch guestInside = new CountDownLatch(1);
        CountDownLatch guestMayEnd = new CountDownLatch(1);
        CompletableFuture<Void> guest = heldGuestWrite(turns, guestInside, guestMayEnd);
        try (Arena arena = Arena.ofConfined()) {
            assertThat(guestInside.await(TestTimeouts.LONG.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            List<Piece> pieces = new CopyOnWriteArrayList<>();
            MemorySegment buf = pattern(arena, 4 * TargetTurns.PIECE);
            turns.copyWrite(0, buf.byteSize(), (at, n) -> pieces.add(new Piece(at, new byte[0])));
            assertThat(pieces).hasSize(4);
            assertThat(guest).isNotDone();
        } finally {
            guestMayEnd.countDown();
            guest.get(TestTimeouts.LONG.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /** A guest write to the target, on its own thread, that counts down {@code inside} and holds until {@code mayEnd}. */
    private CompletableFuture<Void> heldGuestWrite(TargetTurns turns, CountDownLatch inside, CountDownLatch mayEnd) {
        return CompletableFuture.runAsync(() -> {
            try {
                turns.guestWrite(() -> {
                    inside.countDown();
                    hold(mayEnd);
                });
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, threads);
    }

    private static void hold(CountDownLatch latch) {
        try {
            if (!latch.await(TestTimeouts.LONG.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("the test never released the write");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
