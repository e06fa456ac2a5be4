package dev.converge.bench.nbd;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.block.BlockBackend;
import dev.converge.block.BlockGraph;
import dev.converge.block.BlockNode;
import dev.converge.nbd.export.BlockNodeExportBackend;
import dev.converge.nbd.server.NbdExport;
import dev.converge.nbd.server.NbdServer;
import dev.converge.nbd.server.NbdServerConfig;
import dev.converge.qmp.MainLoop;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * NBD throughput of our server against qemu-nbd, measured in one run with the same peer (nbdcopy)
 * and the same image: read (export → null:) and write (file → export), each the best of N runs,
 * the two servers' runs alternating.
 * <p>
 * Our server runs in-process the way {@code block-export-add} sets it up: a file node in a block
 * graph, exported through a block backend (the node's one write path). qemu-nbd serves the same
 * file, writeback cache, shared by up to 8 connections (nbdcopy opens 4 by default).
 * <p>
 * Usage: {@code NbdBench [size-MiB (default 1024)] [runs (default 3)] [work-dir (default a temp dir)]}
 */
public final class NbdBench {
    private NbdBench() {
    }

    /** One measurement: which server, which direction, bytes per second. */
    record Figure(String server, String direction, double bytesPerSecond) {
    }

    public static void main(String[] args) throws Exception {
        long sizeMiB = args.length > 0 ? Long.parseLong(args[0]) : 1024;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path work = args.length > 2 ? Files.createDirectories(Path.of(args[2]))
                : Files.createTempDirectory("nbd-bench");
        long size = sizeMiB << 20;
        for (String tool : List.of("nbdcopy", "qemu-nbd")) {
            if (!Files.isExecutable(Path.of("/usr/bin/" + tool))) {
                System.err.println(tool + " is not installed: cannot run the NBD benchmark");
                System.exit(2);
            }
        }
        Path source = work.resolve("source.raw");
        Path image = work.resolve("image.raw");
        System.out.printf("NBD benchmark: %d MiB image, best of %d runs, in %s%n", sizeMiB, runs, work);
        writeRandom(source, size);
        Files.copy(source, image, java.nio.file.StandardCopyOption.REPLACE_EXISTING);

        List<Figure> figures = new ArrayList<>();
        Path qsock = work.resolve("qemu-nbd.sock");
        Path sock = work.resolve("converge.sock");
        Files.deleteIfExists(qsock);
        Files.deleteIfExists(sock);
        Process qemu = new ProcessBuilder("qemu-nbd", "-k", qsock.toString(), "-f", "raw", "-t", "-e", "8",
                "-x", "disk", image.toString()).redirectErrorStream(true)
                .redirectOutput(work.resolve("qemu-nbd.log").toFile()).start();
        try (MainLoop loop = new MainLoop()) {
            waitFor(qsock, qemu);
            BlockGraph graph = new BlockGraph(loop);
            BlockBackend backend = loop.call(() -> {
                ObjectNode o = JsonNodeFactory.instance.objectNode();
                o.put("driver", "file").put("node-name", "disk").put("filename", image.toString());
                BlockNode n = graph.blockdevAdd(o);
                return graph.attachBackend(null, n);
            });
            try (NbdServer server = NbdServer.start(NbdServerConfig.unix(sock))) {
                server.addExport(new NbdExport("disk", "", true,
                        new BlockNodeExportBackend(backend, size, false, false, Map.of()), List.of(), true));
                Map<String, String> urls = Map.of("converge", "nbd+unix:///disk?socket=" + sock,
                        "qemu-nbd", "nbd+unix:///disk?socket=" + qsock);
                // both servers run at once and the runs alternate, so page cache and machine load are shared
                // alike (whoever went first would otherwise pay for the cold cache)
                for (String dir : List.of("read", "write")) {
                    Map<String, Double> best = new java.util.LinkedHashMap<>();
                    for (int i = 1; i <= runs; i++) {
                        for (String srv : List.of("converge", "qemu-nbd")) {
                            String[] cmd = dir.equals("read") ? new String[] {"nbdcopy", urls.get(srv), "null:"}
                                    : new String[] {"nbdcopy", source.toString(), urls.get(srv)};
                            double bps = run(srv, dir, i, size, cmd);
                            best.merge(srv, bps, Math::max);
                        }
                    }
                    best.forEach((srv, bps) -> figures.add(new Figure(srv, dir, bps)));
                }
            }
        } finally {
            qemu.destroy();
            qemu.waitFor(10, TimeUnit.SECONDS);
        }
        System.out.println();
        System.out.printf("%-10s %-6s %10s%n", "server", "dir", "MB/s");
        for (Figure f : figures) {
            System.out.printf("%-10s %-6s %10.1f%n", f.server(), f.direction(), f.bytesPerSecond() / 1e6);
        }
        for (String dir : List.of("read", "write")) {
            double ours = find(figures, "converge", dir);
            double theirs = find(figures, "qemu-nbd", dir);
            System.out.printf("ratio converge/qemu-nbd %-5s: %.2f%n", dir, ours / theirs);
        }
    }

    private static double find(List<Figure> figures, String server, String dir) {
        return figures.stream().filter(f -> f.server().equals(server) && f.direction().equals(dir)).findFirst()
                .orElseThrow().bytesPerSecond();
    }

    /** One nbdcopy run; returns bytes per second. */
    private static double run(String server, String direction, int i, long size, String... command)
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

    private static void waitFor(Path sock, Process p) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(sock)) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                throw new IOException("qemu-nbd did not start: " + Files.readString(sock.resolveSibling("qemu-nbd.log")));
            }
            p.waitFor(20, TimeUnit.MILLISECONDS); // returns early if it exits
        }
    }

    /** Incompressible, non-zero data, so neither side can take a sparse or zero shortcut. */
    private static void writeRandom(Path file, long size) throws IOException {
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
