package dev.converge.bench.nbd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.converge.bench.Daemons;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * NBD throughput of our server against qemu-nbd, measured in one run with the same peer (nbdcopy)
 * and the same image: read (export → null:) and write (file → export), with nbdcopy's defaults (4
 * connections where the server offers multi-conn) and, as read1/write1, with {@code --connections=1};
 * then 4 KiB random reads at
 * queue depth 16 (fio's nbd engine, when fio is installed). N runs of each, the two servers' runs
 * alternating; best and median reported.
 * <p>
 * Our server is converged as an operator runs it ({@code bin/converged} with {@code --blockdev},
 * {@code --nbd-server} and {@code --export}: the daemon's JVM options and AOT cache), as qemu-nbd is
 * qemu-nbd; until 2026-12-03 it ran inside this benchmark's JVM, with the benchmark's JVM options.
 * qemu-nbd serves the same file, writeback cache, shared by up to 8 connections (nbdcopy opens 4
 * by default).
 * <p>
 * With format {@code qcow2} the image is a qcow2 file (converted from the same random data, so
 * every cluster is allocated) opened by our qcow2 driver and by qemu-nbd's; {@code qemu-img
 * check} runs on it afterwards. {@code randwrite} is 4 KiB random writes at queue depth 16;
 * {@code seqread} and {@code seqwrite} are 1 MiB sequential reads and writes at queue depth 4
 * over one connection, also with fio's nbd engine. With format {@code qcow2-empty} each server
 * gets its own empty qcow2 image of the size, so the first writes allocate (QEMU's and our
 * qcow2 allocation path, not writes in place); reads of it are of unallocated clusters, and only
 * each phase's first run writes into clusters not yet allocated (later runs write in place).
 * <p>
 * Usage: {@code NbdBench [size-MiB (default 1024)] [runs (default 3)] [work-dir (default a temp dir)]
 * [phases (default read,write,read1,write1,randread; also randwrite)] [format raw|qcow2 (default raw)]}
 */
public final class NbdBench {
    private NbdBench() {
    }

    /** Length of one 4 KiB random read run. */
    static final int RANDREAD_SECONDS = 10;

    public static void main(String[] args) throws Exception {
        long sizeMiB = args.length > 0 ? Long.parseLong(args[0]) : 1024;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path work = args.length > 2 ? Files.createDirectories(Path.of(args[2]))
                : Files.createTempDirectory("nbd-bench");
        List<String> all = List.of("read", "write", "read1", "write1", "randread", "randwrite", "seqread", "seqwrite");
        List<String> phases = args.length > 3 ? List.of(args[3].split(","))
                : List.of("read", "write", "read1", "write1", "randread");
        for (String ph : phases) {
            if (!all.contains(ph)) {
                System.err.println("unknown phase '" + ph + "' (expected: " + String.join(", ", all) + ")");
                System.exit(2);
            }
        }
        String format = args.length > 4 ? args[4] : "raw";
        if (!List.of("raw", "qcow2", "qcow2-empty").contains(format)) {
            System.err.println("unknown format '" + format + "' (expected: raw, qcow2, qcow2-empty)");
            System.exit(2);
        }
        long size = sizeMiB << 20;
        for (String tool : List.of("nbdcopy", "qemu-nbd")) {
            if (!Files.isExecutable(Path.of("/usr/bin/" + tool))) {
                System.err.println(tool + " is not installed: cannot run the NBD benchmark");
                System.exit(2);
            }
        }
        Path source = work.resolve("source.raw");
        Path image = work.resolve(format.equals("qcow2-empty") ? "image-converge.qcow2" : "image." + format);
        // qcow2-empty: one image per server (two qcow2 drivers must not allocate in one file)
        Path qemuImage = format.equals("qcow2-empty") ? work.resolve("image-qemu-nbd.qcow2") : image;
        System.out.printf("NBD benchmark: %d MiB %s image, %d runs each, in %s%n", sizeMiB, format, runs, work);
        writeRandom(source, size);
        if (format.equals("qcow2")) {
            Files.deleteIfExists(image);
            run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", source.toString(), image.toString());
        } else if (format.equals("qcow2-empty")) {
            for (Path p : List.of(image, qemuImage)) {
                Files.deleteIfExists(p);
                run("qemu-img", "create", "-q", "-f", "qcow2", p.toString(), Long.toString(size));
            }
        } else {
            Files.copy(source, image, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        String driver = format.startsWith("qcow2") ? "qcow2" : "raw";

        boolean fio = Files.isExecutable(Path.of("/usr/bin/fio"));
        if (!fio) {
            System.out.println("fio is not installed: no 4 KiB random read figures (apt-get install fio)");
        }
        System.out.println("load before: " + loadAverage());
        // direction → server → one figure per run (bytes/s, or operations/s for randread)
        Map<String, Map<String, List<Double>>> samples = new LinkedHashMap<>();
        Path qsock = work.resolve("qemu-nbd.sock");
        Path sock = work.resolve("converge.sock");
        Files.deleteIfExists(qsock);
        Files.deleteIfExists(sock);
        Process qemu = new ProcessBuilder("qemu-nbd", "-k", qsock.toString(), "-f", driver, "-t", "-e", "8",
                "-x", "disk", qemuImage.toString()).redirectErrorStream(true)
                .redirectOutput(work.resolve("qemu-nbd.log").toFile()).start();
        Process ours = startConverged(work, image, driver, sock);
        try {
            waitFor(qsock, qemu, "qemu-nbd");
            waitFor(sock, ours, "converged");
            Map<String, String> urls = Map.of("converge", "nbd+unix:///disk?socket=" + sock,
                    "qemu-nbd", "nbd+unix:///disk?socket=" + qsock);
            // both servers run at once and the runs alternate, so page cache and machine load are shared
            // alike (whoever went first would otherwise pay for the cold cache)
            List<String> dirs = phases.stream().filter(d -> fio || !usesFio(d)).toList();
            for (String dir : dirs) {
                for (int i = 1; i <= runs; i++) {
                    for (String srv : List.of("converge", "qemu-nbd")) {
                        double v = switch (dir) {
                            case "read" -> copy(srv, dir, i, size, "nbdcopy", urls.get(srv), "null:");
                            case "write" -> copy(srv, dir, i, size, "nbdcopy", source.toString(), urls.get(srv));
                            case "read1" -> copy(srv, dir, i, size, "nbdcopy", "--connections=1", urls.get(srv),
                                    "null:");
                            case "write1" -> copy(srv, dir, i, size, "nbdcopy", "--connections=1",
                                    source.toString(), urls.get(srv));
                            case "seqread", "seqwrite" -> sequentialIo(srv, dir, i, size, urls.get(srv));
                            default -> randomIo(srv, dir, i, size, urls.get(srv));
                        };
                        samples.computeIfAbsent(dir, d -> new LinkedHashMap<>())
                                .computeIfAbsent(srv, x -> new ArrayList<>()).add(v);
                    }
                }
            }
        } finally {
            for (Process p : List.of(qemu, ours)) {
                p.destroy();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
        if (driver.equals("qcow2")) {
            for (Path p : new java.util.LinkedHashSet<>(List.of(image, qemuImage))) {
                System.out.println("qemu-img check " + p.getFileName() + ": "
                        + run("qemu-img", "check", p.toString()).strip());
            }
        }
        System.out.println("load after: " + loadAverage());
        System.out.println();
        System.out.printf("%-10s %-9s %12s %12s  %s%n", "server", "dir", "best", "median", "unit");
        samples.forEach((dir, bySrv) -> bySrv.forEach((srv, v) -> System.out.printf("%-10s %-9s %12.1f %12.1f  %s%n",
                srv, dir, best(v) / scale(dir), median(v) / scale(dir), dir.startsWith("rand") ? "ops/s" : "MB/s")));
        samples.forEach((dir, bySrv) -> System.out.printf("ratio converge/qemu-nbd %-8s: best %.2f, median %.2f%n", dir,
                best(bySrv.get("converge")) / best(bySrv.get("qemu-nbd")),
                median(bySrv.get("converge")) / median(bySrv.get("qemu-nbd"))));
    }

    private static boolean usesFio(String dir) {
        return dir.startsWith("rand") || dir.startsWith("seq");
    }

    private static double scale(String dir) {
        return dir.startsWith("rand") ? 1 : 1e6;
    }

    static double best(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
    }

    /** The median; the mean of the middle two for an even count. */
    static double median(List<Double> v) {
        double[] s = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static String loadAverage() throws IOException {
        return Files.readString(Path.of("/proc/loadavg")).trim() + " (" + Runtime.getRuntime().availableProcessors()
                + " CPUs)";
    }

    /** Runs a command that must succeed; returns its output. */
    private static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
        return out;
    }

    /**
     * 4 KiB random reads or writes ({@code rw}: randread, randwrite) at queue depth 16 over one
     * connection for {@link #RANDREAD_SECONDS} (fio's nbd engine, libnbd); returns operations per second.
     */
    private static double randomIo(String server, String rw, int i, long size, String url)
            throws IOException, InterruptedException {
        JsonNode job = fio(url, "--name=" + rw, "--rw=" + rw, "--bs=4k", "--iodepth=16",
                "--runtime=" + RANDREAD_SECONDS, "--time_based", "--size=" + size, "--randseed=" + i);
        double iops = job.path(rw.equals("randread") ? "read" : "write").path("iops").asDouble();
        System.out.printf("  %-9s %-9s run %d: %10.0f ops/s%n", server, rw, i, iops);
        return iops;
    }

    /**
     * 1 MiB sequential reads or writes ({@code seqread}, {@code seqwrite}) at queue depth 4 over
     * one connection through the whole disk once (fio's nbd engine); returns bytes per second.
     */
    private static double sequentialIo(String server, String dir, int i, long size, String url)
            throws IOException, InterruptedException {
        String rw = dir.equals("seqread") ? "read" : "write";
        JsonNode job = fio(url, "--name=" + dir, "--rw=" + rw, "--bs=1M", "--iodepth=4", "--size=" + size);
        double bps = job.path(rw).path("bw_bytes").asDouble();
        System.out.printf("  %-9s %-9s run %d: %8.1f MB/s%n", server, dir, i, bps / 1e6);
        return bps;
    }

    /** One fio run with the nbd engine against {@code url}; returns its job's JSON. */
    private static JsonNode fio(String url, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("fio", "--ioengine=nbd", "--uri=" + url, "--output-format=json"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0 || out.indexOf('{') < 0) {
            throw new IOException("fio against " + url + " failed: " + out);
        }
        // fio prints "fio: connected to NBD server" before its JSON
        JsonNode job = new ObjectMapper().readTree(out.substring(out.indexOf('{'))).path("jobs").path(0);
        if (job.path("error").asInt() != 0) {
            throw new IOException("fio against " + url + " reported error " + job.path("error") + ": " + out);
        }
        return job;
    }

    /** One nbdcopy run; returns bytes per second. */
    private static double copy(String server, String direction, int i, long size, String... command)
            throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
        double bps = size / ((System.nanoTime() - t0) / 1e9);
        System.out.printf("  %-9s %-5s run %d: %8.1f MB/s%n", server, direction, i, bps / 1e6);
        return bps;
    }

    /**
     * converged as an operator starts it (bin/converged: its JVM options and AOT cache, the build
     * check skipped as in the release archive), serving the image as qemu-nbd does: a node, the NBD
     * server on a UNIX socket, a writable export named {@code disk} (multi-conn advertised, as
     * {@code qemu-nbd -e 8} does). Its log goes to DIR/converged.log.
     */
    static Process startConverged(Path work, Path image, String driver, Path sock) throws IOException {
        String node = driver.equals("qcow2")
                ? "{\"driver\":\"qcow2\",\"node-name\":\"disk\",\"file\":{\"driver\":\"file\",\"filename\":\"" + image + "\"}}"
                : "driver=file,node-name=disk,filename=" + image;
        return Daemons.shippedConvergedCommand(List.of(
                "--qmp", "unix:" + work.resolve("converged.qmp"), "--blockdev", node,
                "--nbd-server", "addr.type=unix,addr.path=" + sock,
                "--export", "type=nbd,id=disk,node-name=disk,name=disk,writable=on"))
                .redirectErrorStream(true).redirectOutput(work.resolve("converged.log").toFile()).start();
    }

    static void waitFor(Path sock, Process p, String name) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(sock)) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                throw new IOException(name + " did not start: " + Files.readString(sock.resolveSibling(name + ".log")));
            }
            p.waitFor(20, TimeUnit.MILLISECONDS); // returns early if it exits
        }
    }

    /** Incompressible, non-zero data, so neither side can take a sparse or zero shortcut. */
    static void writeRandom(Path file, long size) throws IOException {
        SplittableRandom rnd = new SplittableRandom(1);
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (long done = 0; done < size; done += buf.capacity()) {
                buf.clear();
                while (buf.remaining() >= 8) {
                    buf.putLong(rnd.nextLong());
                }
                buf.flip();
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
            }
        }
    }

}
