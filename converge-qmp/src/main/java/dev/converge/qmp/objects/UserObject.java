package dev.converge.qmp.objects;

import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import javax.security.auth.x500.X500Principal;

/** An object made by {@code object-add} (QEMU's user-creatable QOM objects), for the types converge has. */
public sealed interface UserObject permits UserObject.TlsCredsX509, UserObject.Authz {

    /** The object's id, unique among user objects. */
    String id();

    /** The qom-type as object-add names it. */
    String qomType();

    /** Which end of a TLS session credentials are for (QCryptoTLSCredsEndpoint). */
    enum Endpoint {
        SERVER, CLIENT;

        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * {@code tls-creds-x509}: a directory with ca-cert.pem and {server,client}-{cert,key}.pem.
     *
     * @param verifyPeer servers require a client certificate signed by the CA; clients check the server's
     *                   (QEMU's default: true)
     */
    record TlsCredsX509(String id, Path dir, Endpoint endpoint, boolean verifyPeer) implements UserObject {
        @Override
        public String qomType() {
            return "tls-creds-x509";
        }
    }

    /** An authorization object: decides from an identity (a client certificate's subject DN). */
    sealed interface Authz extends UserObject permits AuthzSimple, AuthzList {
        /** Whether {@code identity} is allowed. */
        boolean allows(X500Principal identity);
    }

    /** {@code authz-simple}: exactly one identity is allowed. */
    record AuthzSimple(String id, String identity) implements Authz {
        @Override
        public String qomType() {
            return "authz-simple";
        }

        @Override
        public boolean allows(X500Principal subject) {
            return sameDn(identity, subject);
        }
    }

    /** Allow or deny (QAuthZListPolicy). */
    enum Policy {
        DENY, ALLOW;

        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** How a rule's {@code match} compares (QAuthZListFormat). */
    enum Format {
        EXACT, GLOB;

        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** One rule of an authz-list: the first rule that matches decides. */
    record Rule(String match, Policy policy, Format format) {
        boolean matches(X500Principal subject) {
            return switch (format) {
                case EXACT -> sameDn(match, subject);
                case GLOB -> glob(match).matcher(subject.getName()).matches();
            };
        }

        /** fnmatch(3) without bracket expressions: {@code *} any run, {@code ?} one character. */
        static Pattern glob(String g) {
            StringBuilder re = new StringBuilder();
            for (char c : g.toCharArray()) {
                switch (c) {
                    case '*' -> re.append(".*");
                    case '?' -> re.append('.');
                    default -> re.append(Pattern.quote(String.valueOf(c)));
                }
            }
            return Pattern.compile(re.toString(), Pattern.DOTALL);
        }
    }

    /** {@code authz-list}: rules in order, then the default {@code policy}. */
    record AuthzList(String id, Policy policy, List<Rule> rules) implements Authz {
        public AuthzList {
            rules = List.copyOf(rules);
        }

        @Override
        public String qomType() {
            return "authz-list";
        }

        @Override
        public boolean allows(X500Principal subject) {
            for (Rule r : rules) {
                if (r.matches(subject)) {
                    return r.policy() == Policy.ALLOW;
                }
            }
            return policy == Policy.ALLOW;
        }
    }

    /**
     * Whether a DN written by a user names {@code subject}: compared as distinguished names when it
     * parses (so spacing and case of attribute names do not matter), else as RFC 2253 text (GnuTLS,
     * which QEMU uses, prints DNs in the same order).
     */
    private static boolean sameDn(String dn, X500Principal subject) {
        try {
            return new X500Principal(dn).equals(subject);
        } catch (IllegalArgumentException notADn) {
            return dn.equals(subject.getName());
        }
    }
}
