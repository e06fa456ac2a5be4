package dev.converge.migration.job;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.qmp.QmpException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A migration to or from a file, QEMU's {@code file:PATH[,offset=N]} URI or the channel
 * {@code {"transport": "file", "filename": PATH, "offset": N}}: the stream starts {@code offset}
 * bytes into the file (what comes before is left alone).
 *
 * @param path   the file
 * @param offset where the migration data starts in it
 */
public record FileTarget(Path path, long offset) implements MigrationTarget {
    public FileTarget {
        Objects.requireNonNull(path);
        if (offset < 0) {
            throw new IllegalArgumentException("offset " + offset);
        }
    }

    /**
     * Parses {@code file:PATH[,offset=N]}; N may carry QEMU's size suffixes (k, M, G, T: binary).
     *
     * @throws QmpException QEMU's "file URI has bad offset N"; an empty path is refused too
     */
    static FileTarget parse(String uri) {
        String spec = uri.substring("file:".length());
        long offset = 0;
        int at = spec.indexOf(",offset=");
        if (at >= 0) {
            String n = spec.substring(at + ",offset=".length());
            spec = spec.substring(0, at);
            offset = parseSize(n);
        }
        if (spec.isEmpty()) {
            throw QmpException.generic("file URI has no file name: %s", uri);
        }
        return new FileTarget(Path.of(spec), offset);
    }

    static FileTarget fromChannel(JsonNode addr) {
        String name = addr.path("filename").asText();
        if (name.isEmpty()) {
            throw QmpException.generic("file URI has no file name: %s", name);
        }
        long offset = addr.path("offset").asLong();
        if (offset < 0) {
            throw QmpException.generic("file URI has bad offset %s", Long.toUnsignedString(offset));
        }
        return new FileTarget(Path.of(name), offset);
    }

    /** QEMU's qemu_strtosz: digits with an optional binary suffix. */
    private static long parseSize(String s) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("([0-9]+)([bBkKmMgGtT]?)").matcher(s);
        if (!m.matches()) {
            throw QmpException.generic("file URI has bad offset %s", s);
        }
        int shift = switch (m.group(2).toLowerCase(java.util.Locale.ROOT)) {
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            case "t" -> 40;
            default -> 0;
        };
        try {
            long v = Long.parseLong(m.group(1));
            if (v > (Long.MAX_VALUE >> shift)) {
                throw QmpException.generic("file URI has bad offset %s", s);
            }
            return v << shift;
        } catch (NumberFormatException e) {
            throw QmpException.generic("file URI has bad offset %s", s);
        }
    }

    @Override
    public String toString() {
        return "file:" + path + (offset == 0 ? "" : ",offset=" + offset);
    }
}
