package dev.converge.bench.mirror;

import dev.converge.bench.Daemons;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The guest as an operator would play it (issue 13): {@code fio} with its NBD engine writing
 * 64 KiB random blocks, one at a time, paced at a rate, into the source's export over the UNIX
 * socket, logging every write with its Unix completion time, so the benchmark can line the
 * writes up with the mirror's start and end:
 * <pre>
 * fio --name=guest --ioengine=nbd --uri=nbd+unix:///EXPORT?socket=PATH --rw=randwrite --bs=64k
 *     --iodepth=1 --rate=RATE --size=SIZE --time_based --runtime=3600
 *     --write_lat_log=DIR/guest --log_unix_epoch=1 --log_offset=1
 * </pre>
 * It runs until {@link #stop()} ends it (SIGTERM: fio finishes the write in flight and writes its
 * logs).
 */
public final class FioWriter {
    /** The fio binary; the case is unavailable without it. */
    static final String FIO = "fio";

    private final Process process;
    private final Path logDir;

    private FioWriter(Process process, Path logDir) {
        this.process = process;
        this.logDir = logDir;
    }

    /** Whether fio is installed. */
    static boolean available() {
        return Daemons.onPath(FIO);
    }

    /**
     * Starts fio against {@code export} on the NBD server at {@code socket}.
     *
     * @param rate bytes per second
     * @param size bytes of the export to write into
     */
    static FioWriter start(Path socket, String export, long rate, long size, Path logDir) throws IOException {
        Files.createDirectories(logDir);
        List<String> cmd = new ArrayList<>(List.of(FIO, "--name=guest", "--ioengine=nbd",
                "--uri=nbd+unix:///" + export + "?socket=" + socket, "--rw=randwrite", "--bs=64k", "--iodepth=1",
                "--rate=" + rate, "--size=" + size, "--time_based", "--runtime=3600",
                "--write_lat_log=" + logDir.resolve("guest"), "--log_unix_epoch=1", "--log_offset=1", "--output=" + logDir.resolve("fio.out")));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(logDir.resolve("fio.stdout").toFile())
                .start();
        return new FioWriter(p, logDir);
    }

    /** Whether fio is still running (it ends early only on an error, e.g. the export is refused). */
    boolean alive() {
        return process.isAlive();
    }

    /**
     * Ends fio and returns every write it logged.
     *
     * @throws IOException fio failed, or wrote no log (its output is in the message)
     */
    List<WriterLatency.Sample> stop() throws IOException, InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IOException("fio did not stop within 30 s of SIGTERM");
        }
        Path out = logDir.resolve("fio.stdout");
        return readLatencyLogs(logDir, "guest", () -> "exit " + process.exitValue() + ": "
                + (Files.exists(out) ? Files.readString(out).strip() : "no output"));
    }

    /** What fio's output said, for the error when it logged nothing. */
    @FunctionalInterface
    public interface Diagnosis {
        String text() throws IOException;
    }

    /**
     * Every write of the latency logs fio wrote with {@code --write_lat_log=DIR/PREFIX
     * --log_unix_epoch=1 --log_offset=1}.
     *
     * @throws IOException there is no such write (with {@code why}: fio's output)
     */
    public static List<WriterLatency.Sample> readLatencyLogs(Path logDir, String prefix, Diagnosis why)
            throws IOException {
        List<String> lines = new ArrayList<>();
        try (Stream<Path> files = Files.list(logDir)) {
            for (Path f : files.filter(f -> f.getFileName().toString().startsWith(prefix + "_lat.")).sorted().toList()) {
                lines.addAll(Files.readAllLines(f));
            }
        }
        if (lines.isEmpty()) {
            throw new IOException("fio logged no write (" + why.text() + ")");
        }
        return WriterLatency.parseFioLog(lines);
    }
}
