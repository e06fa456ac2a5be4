package dev.converge.qmp.objects;

import static dev.converge.qmp.schema.Member.optional;
import static dev.converge.qmp.schema.Member.required;

import com.fasterxml.jackson.databind.JsonNode;
import dev.converge.qmp.Args;
import dev.converge.qmp.QmpException;
import dev.converge.qmp.QmpRegistry;
import dev.converge.qmp.objects.UserObject.AuthzList;
import dev.converge.qmp.objects.UserObject.AuthzSimple;
import dev.converge.qmp.objects.UserObject.Endpoint;
import dev.converge.qmp.objects.UserObject.Format;
import dev.converge.qmp.objects.UserObject.Policy;
import dev.converge.qmp.objects.UserObject.Rule;
import dev.converge.qmp.objects.UserObject.TlsCredsX509;
import dev.converge.qmp.schema.ArrayType;
import dev.converge.qmp.schema.BuiltinType;
import dev.converge.qmp.schema.CommandSpec;
import dev.converge.qmp.schema.EnumType;
import dev.converge.qmp.schema.ObjectType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The objects made by {@code object-add} and removed by {@code object-del} (QEMU's /objects
 * container), for the types converge has: {@code tls-creds-x509}, {@code authz-simple},
 * {@code authz-list}. NBD uses them for {@code tls-creds} and {@code tls-authz}; migration may use
 * them too, so this class may move to a common module later.
 * <p>
 * Changed by QMP handlers on the main loop; read also by connection threads (an authz object is
 * looked up by id when a client connects, as QEMU does), hence a concurrent map.
 */
public final class UserObjects {
    /** Objects by id. Written on the main loop; read anywhere. */
    private final Map<String, UserObject> objects = new ConcurrentHashMap<>();

    /** QEMU's id_wellformed: a letter, then letters, digits, '-', '.', '_'. */
    public static boolean idWellFormed(String id) {
        return id.matches("[A-Za-z][A-Za-z0-9._-]*");
    }

    /** Adds an object; QEMU's text when the id is taken. */
    public void add(UserObject o) {
        if (!idWellFormed(o.id())) {
            throw QmpException.generic("Parameter 'id' expects an identifier");
        }
        if (objects.putIfAbsent(o.id(), o) != null) {
            throw QmpException.generic("attempt to add duplicate property '%s' to object (type 'container')", o.id());
        }
    }

    /** Removes an object; QEMU's text when there is none. */
    public void remove(String id) {
        if (objects.remove(id) == null) {
            throw QmpException.generic("object '%s' not found", id);
        }
    }

    public Optional<UserObject> find(String id) {
        return Optional.ofNullable(objects.get(id));
    }

    /** TLS credentials by id, with QEMU's texts for a missing object or one of another type. */
    public TlsCredsX509 tlsCreds(String id) {
        UserObject o = objects.get(id);
        if (o == null) {
            throw QmpException.generic("No TLS credentials with id '%s'", id);
        }
        if (!(o instanceof TlsCredsX509 t)) {
            throw QmpException.generic("Object with id '%s' is not TLS credentials", id);
        }
        return t;
    }

    /**
     * Whether the authz object {@code id} allows {@code subject}, looked up now (QEMU resolves
     * tls-authz per connection): a missing object, or one that is not an authz, denies.
     */
    public boolean authorizes(String id, javax.security.auth.x500.X500Principal subject) {
        return objects.get(id) instanceof UserObject.Authz a && a.allows(subject);
    }

    // ---------------------------------------------------------------- QMP

    static final EnumType ENDPOINT = new EnumType("QCryptoTLSCredsEndpoint", List.of("client", "server"),
            "The type of network endpoint that will be using the credentials.");
    static final EnumType POLICY = new EnumType("QAuthZListPolicy", List.of("deny", "allow"),
            "The authorization policy result.");
    static final EnumType FORMAT = new EnumType("QAuthZListFormat", List.of("exact", "glob"),
            "The authorization policy match format.");
    static final ObjectType RULE = ObjectType.struct("QAuthZListRule", "A single authorization rule.",
            required("match", BuiltinType.STR, "a string or glob to match against a user identity"),
            required("policy", POLICY, "the result to return if match evaluates to true"),
            optional("format", FORMAT, "the format of the match rule; default exact"));
    static final ObjectType TLS_CREDS_X509 = ObjectType.struct("TlsCredsX509Properties",
            "Properties for tls-creds-x509 objects.",
            optional("verify-peer", BuiltinType.BOOL, "whether the peer's certificate must be verified; default true"),
            optional("dir", BuiltinType.STR, "directory with ca-cert.pem and the endpoint's cert and key"),
            optional("endpoint", ENDPOINT, "the endpoint the credentials are for; default client"),
            optional("priority", BuiltinType.STR, "GnuTLS priority string (refused: not supported)"),
            optional("sanity-check", BuiltinType.BOOL, "check the certificates when loaded (accepted)"),
            optional("passwordid", BuiltinType.STR, "secret for an encrypted key (refused: not supported)"));
    static final ObjectType AUTHZ_SIMPLE = ObjectType.struct("AuthZSimpleProperties",
            "Properties for authz-simple objects.",
            required("identity", BuiltinType.STR, "the identity (a certificate's distinguished name) allowed"));
    static final ObjectType AUTHZ_LIST = ObjectType.struct("AuthZListProperties",
            "Properties for authz-list objects.",
            optional("policy", POLICY, "the default policy when no rule matches; default deny"),
            optional("rules", new ArrayType(RULE), "the rules, first match decides; default none"));
    static final EnumType QOM_TYPE = new EnumType("ObjectType", List.of("authz-list", "authz-simple",
            "tls-creds-x509"), "The user-creatable object types converge has.");
    static final ObjectType OBJECT_OPTIONS = ObjectType.union("ObjectOptions",
            "Describes the options of a user-creatable QOM object.",
            List.of(required("qom-type", QOM_TYPE, "the class name of the object to create"),
                    required("id", BuiltinType.STR, "the name of the new object")),
            "qom-type", Map.of("tls-creds-x509", TLS_CREDS_X509, "authz-simple", AUTHZ_SIMPLE,
                    "authz-list", AUTHZ_LIST));

    /** Registers object-add and object-del; handlers run on the main loop. */
    public void register(QmpRegistry registry) {
        registry.register(new CommandSpec("object-add", OBJECT_OPTIONS, CommandSpec.EMPTY,
                "Creates a user object: tls-creds-x509 (TLS credentials for NBD), authz-simple or authz-list "
                        + "(allow-lists of client certificate DNs for tls-authz). Errors as QEMU, e.g. "
                        + "Unable to access credentials DIR/ca-cert.pem: No such file or directory.",
                "0.1", args -> {
                    add(parse(args));
                    return null;
                }));
        registry.register(new CommandSpec("object-del",
                CommandSpec.args("object-del", required("id", BuiltinType.STR, "the name of the object to remove")),
                CommandSpec.EMPTY, "Removes a user object.", "0.1", args -> {
                    remove(args.str("id"));
                    return null;
                }));
    }

    /** Turns validated object-add arguments into an object; checks credentials files as QEMU does. */
    static UserObject parse(Args args) {
        String id = args.str("id");
        return switch (args.str("qom-type")) {
            case "tls-creds-x509" -> tlsCreds(id, args);
            case "authz-simple" -> new AuthzSimple(id, args.str("identity"));
            case "authz-list" -> {
                List<Rule> rules = new ArrayList<>();
                JsonNode rs = args.raw("rules");
                if (rs != null) {
                    for (JsonNode r : rs) {
                        rules.add(new Rule(r.get("match").asText(), Policy.valueOf(upper(r.get("policy").asText())),
                                Format.valueOf(upper(r.path("format").asText("exact")))));
                    }
                }
                yield new AuthzList(id, Policy.valueOf(upper(args.str("policy", "deny"))), rules);
            }
            default -> throw new IllegalStateException("qom-type validated but not handled: " + args.str("qom-type"));
        };
    }

    private static TlsCredsX509 tlsCreds(String id, Args args) {
        for (String unsupported : List.of("priority", "passwordid")) {
            if (args.has(unsupported)) {
                throw QmpException.generic("Parameter '%s' is not supported by converge", unsupported);
            }
        }
        Endpoint endpoint = Endpoint.valueOf(upper(args.str("endpoint", "client")));
        Path dir = Path.of(args.optStr("dir").orElseThrow(
                () -> QmpException.generic("Parameter 'dir' is missing")));
        // QEMU loads the files at creation: a server needs all three, a client the CA (its cert is optional)
        List<String> files = endpoint == Endpoint.SERVER ? List.of("ca-cert.pem", "server-cert.pem", "server-key.pem")
                : List.of("ca-cert.pem");
        for (String f : files) {
            Path p = dir.resolve(f);
            if (!Files.isReadable(p)) {
                throw QmpException.generic("Unable to access credentials %s: %s", p,
                        Files.exists(p) ? "Permission denied" : "No such file or directory");
            }
        }
        return new TlsCredsX509(id, dir, endpoint, args.bool("verify-peer", true));
    }

    private static String upper(String s) {
        return s.toUpperCase(java.util.Locale.ROOT);
    }

}
