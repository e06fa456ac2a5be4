package dev.converge.block.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

import dev.converge.block.BlockBackend;
import dev.converge.block.BlockNode;
import dev.converge.block.IoStats;
import dev.converge.block.WriteRequest;
import dev.converge.qmp.QmpException;
import dev.converge.testing.TestTimeouts;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A mirror between two host files copies its data in the kernel (copy_file_range) and still
 * keeps every guarantee of the buffered copy: raw windows on both sides, holes, a guest writing
 * all along up to the pivot, and a guest write into a range whose kernel copy is held: it never
 * waits for the copy and is never lost. That the kernel path ran is seen in the job's copy
 * buffers (none taken); a source or target the kernel cannot copy between (cache.direct) falls
 * back to them.
 */
class MirrorKernelCopyTest {
    static final int MiB = 1 << 20;
    static final int SIZE = 8 * MiB;

    @TempDir
    Path dir;

    /** A file of {@code fileSize} bytes: data in every other MiB from {@code seed}, holes between. */
    private Path halfData(String name, long fileSize, long seed) throws Exception {
        Path p = dir.resolve(name);
        Random r = new Random(seed);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(fileSize);
            for (long off = 0; off < fileSize; off += 2 * MiB) {
                byte[] d = new byte[MiB];
                r.nextBytes(d);
                f.seek(off);
                f.write(d);
            }
        }
        return p;
    }

    private static Path emptyFile(Path p, long size) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }

    /** Adds raw node {@code name} over a file node of {@code file}, a window [offset, offset + SIZE). */
    private static void rawWindow(MirrorFixture f, String name, Path file, long offset, boolean direct) {
        f.qmp("blockdev-add", "{'driver':'raw','node-name':'" + name + "','offset':" + offset + ",'size':" + SIZE
                + ",'file':{'driver':'file','filename':'" + file + "','cache':{'direct':" + direct + "}}}");
    }

    private static byte[] fileBytes(Path p, long offset, int len) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "r")) {
            byte[] b = new byte[len];
            f.seek(offset);
            f.readFully(b);
            return b;
        }
    }

    /** Writes random ranges through {@code disk} on its own platform thread, keeping {@link #model} exact. */
    static final class GuestWriter implements Runnable {
        final BlockBackend disk;
        final byte[] model;
        final Random rnd = new Random(99);
        final AtomicLong writes = new AtomicLong();
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread thread;

        GuestWriter(BlockBackend disk, byte[] model) {
            this.disk = disk;
            this.model = model;
            this.thread = Thread.ofPlatform().name("guest-writer").start(this);
        }

        @Override
        public void run() {
            try {
                while (!stop.get()) {
                    int len = 1 + rnd.nextInt(rnd.nextBoolean() ? 4096 : 200_000);
                    int off = rnd.nextInt(model.length - len + 1);
                    byte[] d = new byte[len];
                    rnd.nextBytes(d);
                    disk.write(off, MemorySegment.ofArray(d), Set.of());
                    System.arraycopy(d, 0, model, off, len);
                    writes.incrementAndGet();
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        }

        void stopAndJoin() throws InterruptedException {
            stop.set(true);
            assertThat(thread.join(TestTimeouts.MEDIUM)).as("writer ended").isTrue();
            assertThat(failure.get()).as("writer failure").isNull();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"background", "write-blocking"})
    void rawWindowsHolesAndAGuestWritingUpToThePivot(String copyMode) throws Exception {
        Path srcFile = halfData("src.raw", SIZE + 3 * MiB, 1);
        Path tgtFile = emptyFile(dir.resolve("tgt.raw"), SIZE + 2 * MiB);
        try (MirrorFixture f = new MirrorFixture(dir)) {
            rawWindow(f, "src", srcFile, 3 * MiB, false);
            rawWindow(f, "tgt", tgtFile, MiB, false);
            byte[] model = MirrorFixture.readAll(f.node("src"));
            BlockBackend disk = f.attach("disk0", "src");
            f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full','copy-mode':'"
                    + copyMode + "'}");
            MirrorJob job = f.mirror.driver("m").orElseThrow();
            GuestWriter writer = new GuestWriter(disk, model);
            try {
                f.events.await("BLOCK_JOB_READY", "m");
                long atReady = writer.writes.get();
                await().atMost(TestTimeouts.MEDIUM).until(() -> writer.writes.get() > atReady + 20);
            } finally {
                writer.stopAndJoin();
            }
            f.qmp("job-complete", "{'id':'m'}");
            f.events.await("BLOCK_JOB_COMPLETED", "m");
            f.events.awaitStatus("m", "null");

            assertThat(disk.node().nodeName()).as("pivoted").isEqualTo("tgt");
            assertThat(MirrorFixture.readAll(disk.node())).as("the guest's disk after the pivot").isEqualTo(model);
            assertThat(fileBytes(tgtFile, MiB, SIZE)).as("the target file's window").isEqualTo(model);
            assertThat(fileBytes(tgtFile, 0, MiB)).as("before the target's window").isEqualTo(new byte[MiB]);
            assertThat(job.buffers().allocated()).as("data went file to file in the kernel: no copy buffer").isZero();
            assertThat(f.node("tgt").stats().snapshot().bytes(IoStats.Kind.WRITE))
                    .as("the kernel's copies are the target's writes").isGreaterThanOrEqualTo(SIZE / 2);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"background", "write-blocking"})
    void aGuestWriteIntoARangeWhoseKernelCopyIsHeldNeverWaitsAndIsNotLost(String copyMode) throws Exception {
        try (MirrorFixture f = new MirrorFixture(dir)) {
            f.image("src", SIZE);
            f.image("tgt", SIZE);
            byte[] initial = new byte[SIZE];
            new Random(2).nextBytes(initial);
            MirrorFixture.write(f.node("src"), 0, initial);
            BlockNode tgt = f.node("tgt");
            Hold hold = new Hold(true);
            AtomicBoolean heldOnce = new AtomicBoolean();
            // The target's write path runs its notifiers inside the copy, with the source's span in hand.
            AutoCloseable notifier = tgt.addBeforeWriteNotifier(req -> {
                if (req.kind() == WriteRequest.Kind.WRITE && req.data() == null && req.offset() == 0
                        && heldOnce.compareAndSet(false, true)) {
                    hold.pass();
                }
            });
            BlockBackend disk = f.attach("disk0", "src");
            try {
                f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full','copy-mode':'"
                        + copyMode + "'}");
                await().atMost(TestTimeouts.MEDIUM).until(() -> hold.waiting() == 1);

                byte[] mine = new byte[100_000];
                new Random(3).nextBytes(mine);
                CompletableFuture<Void> write = CompletableFuture.runAsync(() -> {
                    try {
                        disk.write(1000, MemorySegment.ofArray(mine), Set.of()); // inside the held copy's granules
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                write.get(TestTimeouts.MEDIUM.toMillis(), TimeUnit.MILLISECONDS);
                assertThat(hold.waiting()).as("the copy is still held: the guest's write did not wait for it")
                        .isEqualTo(1);
                System.arraycopy(mine, 0, initial, 1000, mine.length);
            } finally {
                hold.release();
            }
            f.events.await("BLOCK_JOB_READY", "m");
            f.qmp("job-complete", "{'id':'m'}");
            f.events.awaitStatus("m", "null");
            notifier.close();

            assertThat(disk.node().nodeName()).isEqualTo("tgt");
            assertThat(MirrorFixture.readAll(tgt)).as("the target holds the guest's write").isEqualTo(initial);
            assertThat(MirrorFixture.readAll(f.node("src"))).isEqualTo(initial);
        }
    }

    @Test
    void aCacheDirectSourceOrTargetIsReadAndWrittenWithTheJobsBuffers() throws Exception {
        for (boolean directSource : new boolean[] {true, false}) {
            Path srcFile = halfData("src-" + directSource + ".raw", SIZE, 4);
            Path tgtFile = emptyFile(dir.resolve("tgt-" + directSource + ".raw"), SIZE);
            try (MirrorFixture f = new MirrorFixture(dir)) {
                try {
                    rawWindow(f, "src", srcFile, 0, directSource);
                    rawWindow(f, "tgt", tgtFile, 0, !directSource);
                } catch (QmpException e) {
                    assumeThat(e.desc()).as("O_DIRECT on the temporary directory's filesystem").doesNotContain("Could not open");
                    throw e;
                }
                f.qmp("blockdev-mirror", "{'job-id':'m','device':'src','target':'tgt','sync':'full'}");
                MirrorJob job = f.mirror.driver("m").orElseThrow();
                f.events.await("BLOCK_JOB_READY", "m");
                f.qmp("block-job-cancel", "{'device':'m'}");
                f.events.await("BLOCK_JOB_COMPLETED", "m");
                f.events.awaitStatus("m", "null");

                assertThat(job.buffers().allocated()).as("cache.direct %s: read and written", directSource ? "source"
                        : "target").isPositive();
                assertThat(Files.readAllBytes(tgtFile)).isEqualTo(Files.readAllBytes(srcFile));
            }
        }
    }
}
