package dev.converge.qmp.schema;

import dev.converge.qmp.CommandHandler;
import java.util.Objects;

/**
 * One QMP command, declared once: its name, argument type, return type, documentation and
 * the handler that runs it on the main loop.
 *
 * @param name      the command name, e.g. "job-pause"
 * @param arguments the argument object, or an empty struct when it takes none
 * @param returns   the type of {@code return}; commands returning nothing return an empty object
 * @param doc       what the command does (one paragraph), errors it may give
 * @param since     the converge version that introduced it
 * @param handler   runs the command with validated arguments
 * @param variantResolver when {@code arguments} is a flat union whose discriminator is
 *                  optional: chooses the variant when the client omits it (see
 *                  {@link VariantResolver}); the resolved value is then added to the
 *                  arguments the handler sees. Null for all other commands.
 */
public record CommandSpec(String name, ObjectType arguments, SchemaType returns, String doc, String since,
        CommandHandler handler, VariantResolver variantResolver) {
    public CommandSpec {
        Objects.requireNonNull(name);
        Objects.requireNonNull(arguments);
        Objects.requireNonNull(returns);
        Objects.requireNonNull(handler);
        doc = doc == null ? "" : doc;
    }

    /** A command whose arguments need no variant resolver (nearly all). */
    public CommandSpec(String name, ObjectType arguments, SchemaType returns, String doc, String since,
            CommandHandler handler) {
        this(name, arguments, returns, doc, since, handler, null);
    }

    /** This command with {@code resolver} choosing its argument variant when the discriminator is absent. */
    public CommandSpec withVariantResolver(VariantResolver resolver) {
        return new CommandSpec(name, arguments, returns, doc, since, handler, resolver);
    }

    /** An argument type for a command named {@code name}, as QAPI names implicit types. */
    public static ObjectType args(String commandName, Member... members) {
        return ObjectType.struct("q_obj_" + commandName.replace('-', '_') + "-arg", null, members);
    }

    /** The empty object: the argument type of commands without arguments, and their return type. */
    public static final ObjectType EMPTY = ObjectType.struct("q_empty", "No members");
}
