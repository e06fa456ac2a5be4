package dev.converge.qmp.schema;

import dev.converge.qmp.QmpRegistry;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Renders the registry as a Markdown reference (docs/qmp.md): every command with its
 * arguments, return type and documented errors, every event with its data, and the named
 * types they use. Generated from the same declarations as dispatch and introspection, so it
 * cannot drift from what the server accepts.
 */
public final class SchemaDocs {
    private SchemaDocs() {
    }

    /** The Markdown text for everything registered now. */
    public static String markdown(QmpRegistry registry) {
        StringBuilder md = new StringBuilder();
        md.append("# QMP reference\n\n")
                .append("Generated from the command registry; do not edit by hand. ")
                .append("Error `desc` texts are for humans, not for parsing.\n\n")
                .append("## Commands\n\n");
        for (CommandSpec c : registry.commands()) {
            md.append("### `").append(c.name()).append("`\n\n");
            para(md, c.doc());
            if (!c.since().isEmpty()) {
                md.append("Since: ").append(c.since()).append("\n\n");
            }
            md.append("Arguments");
            if (c.arguments().members().isEmpty() && !c.arguments().isUnion()) {
                md.append(": none\n\n");
            } else {
                md.append(" (`").append(c.arguments().typeName()).append("`):\n\n");
                members(md, c.arguments());
            }
            md.append("Returns: `").append(c.returns().typeName()).append("`\n\n");
        }
        md.append("## Events\n\n");
        for (EventSpec e : registry.events()) {
            md.append("### `").append(e.name()).append("`\n\n");
            para(md, e.doc());
            if (!e.since().isEmpty()) {
                md.append("Since: ").append(e.since()).append("\n\n");
            }
            if (e.data().members().isEmpty()) {
                md.append("Data: none\n\n");
            } else {
                md.append("Data (`").append(e.data().typeName()).append("`):\n\n");
                members(md, e.data());
            }
        }
        md.append("## Types\n\n");
        Map<String, SchemaType> named = new LinkedHashMap<>(SchemaIntrospection.types(registry));
        for (SchemaType t : named.values()) {
            switch (t) {
                case BuiltinType b -> {
                }
                case ArrayType a -> {
                }
                case EnumType en -> {
                    md.append("### `").append(en.typeName()).append("` (enum)\n\n");
                    para(md, en.doc());
                    md.append("Values: ");
                    md.append(String.join(", ", en.values().stream().map(v -> "`" + v + "`").toList()));
                    md.append("\n\n");
                }
                case ObjectType o -> {
                    if (o.typeName().startsWith("q_")) {
                        continue;
                    }
                    md.append("### `").append(o.typeName()).append("` (object)\n\n");
                    para(md, o.doc());
                    members(md, o);
                }
                case AlternateType a -> {
                    md.append("### `").append(a.typeName()).append("` (alternate)\n\n");
                    para(md, a.doc());
                    md.append("One of: ");
                    md.append(String.join(", ", a.alternatives().stream().map(x -> "`" + x.typeName() + "`").toList()));
                    md.append("\n\n");
                }
            }
        }
        return md.toString();
    }

    private static void members(StringBuilder md, ObjectType o) {
        if (o.members().isEmpty()) {
            md.append("(no members)\n\n");
        }
        for (Member m : o.members()) {
            md.append("- `").append(m.name()).append("`: `").append(m.type().typeName()).append('`');
            if (m.optional()) {
                md.append(" (optional)");
            }
            if (!m.doc().isEmpty()) {
                md.append(" — ").append(m.doc().replace('\n', ' '));
            }
            md.append('\n');
        }
        if (o.isUnion()) {
            md.append("\nBy `").append(o.discriminator()).append("`:\n");
            o.variants().forEach((value, variant) -> {
                md.append("- `").append(value).append("`: adds ");
                md.append(variant.members().isEmpty() ? "nothing" : String.join(", ",
                        variant.members().stream().map(m -> "`" + m.name() + "`").toList()));
                md.append(" (`").append(variant.typeName()).append("`)\n");
            });
        }
        md.append('\n');
    }

    private static void para(StringBuilder md, String doc) {
        if (doc != null && !doc.isBlank()) {
            md.append(doc.strip()).append("\n\n");
        }
    }
}
