package dev.converge.migration.machine.kvm;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * Where the guest's serial port output goes ({@code serial=file:PATH|stdio|none}). Each byte
 * is written through at once (a guest writes rarely; a crash must not lose the last marks).
 */
public interface SerialSink extends AutoCloseable {
    /** One byte from the guest. */
    void write(int b);

    @Override
    void close();

    /** Discards the output. */
    static SerialSink none() {
        return new SerialSink() {
            @Override
            public void write(int b) {
            }

            @Override
            public void close() {
            }
        };
    }

    /** Appends to {@code path} (created if missing). */
    static SerialSink file(Path path) {
        OutputStream out;
        try {
            out = new FileOutputStream(path.toFile(), true);
        } catch (IOException e) {
            throw new UncheckedIOException("serial: cannot open " + path, e);
        }
        return new SerialSink() {
            @Override
            public synchronized void write(int b) {
                try {
                    out.write(b);
                } catch (IOException e) {
                    // the guest must not stop because its console is gone
                }
            }

            @Override
            public synchronized void close() {
                try {
                    out.close();
                } catch (IOException e) {
                    // nothing left to flush
                }
            }
        };
    }

    /** The daemon's standard output. */
    static SerialSink stdio(PrintStream out) {
        return new SerialSink() {
            @Override
            public void write(int b) {
                out.write(b);
                out.flush();
            }

            @Override
            public void close() {
                out.flush();
            }
        };
    }
}
