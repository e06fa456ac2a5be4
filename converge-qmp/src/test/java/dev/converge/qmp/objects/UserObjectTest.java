package dev.converge.qmp.objects;

import static org.assertj.core.api.Assertions.assertThat;

import dev.converge.qmp.objects.UserObject.AuthzList;
import dev.converge.qmp.objects.UserObject.AuthzSimple;
import dev.converge.qmp.objects.UserObject.Format;
import dev.converge.qmp.objects.UserObject.Policy;
import dev.converge.qmp.objects.UserObject.Rule;
import java.util.List;
import javax.security.auth.x500.X500Principal;
import org.junit.jupiter.api.Test;

/** Authorization decisions of authz-simple and authz-list, as QEMU's QAuthZSimple and QAuthZList. */
class UserObjectTest {
    private static final X500Principal CLIENT = new X500Principal("CN=client1,O=converge");

    @Test
    void simpleMatchesTheDistinguishedNameNotItsSpelling() {
        assertThat(new AuthzSimple("a", "CN=client1,O=converge").allows(CLIENT)).isTrue();
        assertThat(new AuthzSimple("a", "cn=client1, o=converge").allows(CLIENT)).isTrue();
        assertThat(new AuthzSimple("a", "CN=client2,O=converge").allows(CLIENT)).isFalse();
        assertThat(new AuthzSimple("a", "not a dn").allows(CLIENT)).isFalse();
    }

    @Test
    void listTakesTheFirstMatchingRuleThenTheDefault() {
        AuthzList l = new AuthzList("l", Policy.DENY, List.of(
                new Rule("CN=client1,*", Policy.DENY, Format.GLOB),
                new Rule("CN=client?,O=converge", Policy.ALLOW, Format.GLOB)));
        assertThat(l.allows(CLIENT)).isFalse(); // the first rule wins
        assertThat(l.allows(new X500Principal("CN=client2,O=converge"))).isTrue();
        assertThat(l.allows(new X500Principal("CN=client22,O=converge"))).isFalse(); // ? is one character
        assertThat(new AuthzList("d", Policy.ALLOW, List.of()).allows(CLIENT)).isTrue();
        assertThat(new AuthzList("d", Policy.DENY, List.of()).allows(CLIENT)).isFalse();
    }

    @Test
    void globQuotesEverythingButItsWildcards() {
        assertThat(Rule.glob("CN=a.b*").matcher("CN=a.bcd").matches()).isTrue();
        assertThat(Rule.glob("CN=a.b*").matcher("CN=axbcd").matches()).isFalse();
        assertThat(Rule.glob("(x)+").matcher("(x)+").matches()).isTrue();
    }

    @Test
    void idsAreWellFormedAsQemuWants() {
        assertThat(UserObjects.idWellFormed("tls0")).isTrue();
        assertThat(UserObjects.idWellFormed("a-b.c_d")).isTrue();
        assertThat(UserObjects.idWellFormed("")).isFalse();
        assertThat(UserObjects.idWellFormed("0abc")).isFalse();
        assertThat(UserObjects.idWellFormed("a b")).isFalse();
    }
}
