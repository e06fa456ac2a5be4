package dev.converge.migration.job;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One entry of the parameter {@code block-bitmap-mapping} (QEMU's BitmapMigrationNodeAlias): a
 * block node and its bitmaps under the names they travel with. converge migrates no dirty
 * bitmaps in the migration stream (the capability {@code dirty-bitmaps} is not implemented), so
 * the mapping is checked as QEMU checks it, kept and reported, and used by nothing.
 *
 * @param nodeName a block node name
 * @param alias    the node's name in the migration stream
 * @param bitmaps  the node's bitmaps and their aliases
 */
public record BitmapNodeAlias(String nodeName, String alias, List<BitmapAlias> bitmaps) {
    public BitmapNodeAlias {
        Objects.requireNonNull(nodeName);
        Objects.requireNonNull(alias);
        bitmaps = List.copyOf(bitmaps);
    }

    /**
     * One bitmap of a node (QEMU's BitmapMigrationBitmapAlias).
     *
     * @param name       the bitmap's name
     * @param alias      its name in the migration stream
     * @param persistent the transform's persistent flag (QEMU 6.0), empty when not given
     */
    public record BitmapAlias(String name, String alias, Optional<Boolean> persistent) {
        public BitmapAlias {
            Objects.requireNonNull(name);
            Objects.requireNonNull(alias);
            Objects.requireNonNull(persistent);
        }
    }

    /** QEMU's longest alias: it travels with a one-byte length. */
    static final int MAX_ALIAS_BYTES = 255;

    /**
     * The first problem QEMU's check_dirty_bitmap_mig_alias_map would report for
     * {@code mapping}, without its "Invalid mapping given for block-bitmap-mapping: " prefix, or
     * null when the mapping is one-to-one.
     */
    static String problem(List<BitmapNodeAlias> mapping) {
        java.util.Set<String> nodes = new java.util.HashSet<>();
        java.util.Set<String> nodeAliases = new java.util.HashSet<>();
        for (BitmapNodeAlias n : mapping) {
            if (utf8Length(n.alias()) > MAX_ALIAS_BYTES) {
                return "The node alias '" + n.alias() + "' is longer than 255 bytes";
            }
            if (!nodes.add(n.nodeName())) {
                return "The node name '" + n.nodeName() + "' is mapped twice";
            }
            if (!nodeAliases.add(n.alias())) {
                return "The node alias '" + n.alias() + "' is used twice";
            }
            java.util.Set<String> names = new java.util.HashSet<>();
            java.util.Set<String> aliases = new java.util.HashSet<>();
            for (BitmapAlias b : n.bitmaps()) {
                if (utf8Length(b.alias()) > MAX_ALIAS_BYTES) {
                    return "The bitmap alias '" + n.alias() + "'/'" + b.alias() + "' is longer than 255 bytes";
                }
                if (!names.add(b.name())) {
                    return "The bitmap '" + n.nodeName() + "'/'" + b.name() + "' is mapped twice";
                }
                if (!aliases.add(b.alias())) {
                    return "The bitmap alias '" + n.alias() + "'/'" + b.alias() + "' is used twice";
                }
            }
        }
        return null;
    }

    private static int utf8Length(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    }
}
