package dev.converge.daemon.cmdline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * QEMU's key=value option syntax (util/keyval.c) as a JSON object of strings: {@code
 * driver=file,node-name=f,filename=/a,,b} → {@code {"driver": "file", "node-name": "f",
 * "filename": "/a,b"}}. A comma inside a value is written twice; dotted keys nest
 * ({@code server.type=unix} → {@code {"server": {"type": "unix"}}}); the first element may
 * leave out its key, which is then {@code impliedKey} ({@code --blockdev file,...},
 * {@code --export nbd,...}). Values stay strings: {@link KeyvalTyping} gives them the types of
 * the command's schema, as QEMU's keyval input visitor does. Pure.
 */
public final class Keyval {
    private Keyval() {
    }

    /**
     * @param impliedKey key of a first element without '=', or null when every element needs one
     * @throws IllegalArgumentException naming the element that is wrong
     */
    public static ObjectNode parse(String text, String impliedKey) {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        int i = 0;
        boolean first = true;
        while (i < text.length()) {
            // A key runs up to '=' or ','; a value up to a single ','.
            int keyEnd = i;
            while (keyEnd < text.length() && text.charAt(keyEnd) != '=' && text.charAt(keyEnd) != ',') {
                keyEnd++;
            }
            String key;
            StringBuilder value = new StringBuilder();
            int j;
            if (keyEnd < text.length() && text.charAt(keyEnd) == '=') {
                key = text.substring(i, keyEnd);
                j = keyEnd + 1;
            } else if (first && impliedKey != null) {
                key = impliedKey;
                j = i;
            } else {
                throw new IllegalArgumentException("'" + text.substring(i, keyEnd) + "': expected key=value");
            }
            while (j < text.length()) {
                char c = text.charAt(j);
                if (c == ',') {
                    if (j + 1 < text.length() && text.charAt(j + 1) == ',') {
                        value.append(',');
                        j += 2;
                        continue;
                    }
                    break;
                }
                value.append(c);
                j++;
            }
            put(root, key, value.toString());
            first = false;
            i = j + 1;
        }
        return root;
    }

    private static void put(ObjectNode root, String key, String value) {
        if (key.isEmpty()) {
            throw new IllegalArgumentException("empty key in '" + key + "=" + value + "'");
        }
        String[] path = key.split("\\.", -1);
        ObjectNode at = root;
        for (int p = 0; p < path.length - 1; p++) {
            JsonNode next = at.get(path[p]);
            if (next == null) {
                at = at.putObject(path[p]);
            } else if (next.isObject()) {
                at = (ObjectNode) next;
            } else {
                throw new IllegalArgumentException("parameter '" + key + "' conflicts with '" + join(path, p) + "'");
            }
            if (path[p].isEmpty()) {
                throw new IllegalArgumentException("empty key in '" + key + "'");
            }
        }
        String leaf = path[path.length - 1];
        if (leaf.isEmpty()) {
            throw new IllegalArgumentException("empty key in '" + key + "'");
        }
        if (at.has(leaf)) {
            throw new IllegalArgumentException("parameter '" + key + "' given twice or conflicting");
        }
        at.put(leaf, value);
    }

    private static String join(String[] path, int last) {
        return String.join(".", java.util.Arrays.copyOf(path, last + 1));
    }
}
