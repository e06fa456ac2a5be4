package dev.converge.qmp.schema;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.converge.qmp.QmpException;

/**
 * Chooses the variant of a flat-union argument type when the client left the (optional)
 * discriminator out, e.g. {@code job-change} takes the variant from the type of the job named
 * by {@code id}. It runs on the main loop, before validation of the variant's members, and may
 * read main-loop state.
 */
@FunctionalInterface
public interface VariantResolver {
    /**
     * @param arguments the raw arguments (the common members are not validated yet, so the
     *                  resolver must treat them as untrusted: check types before reading)
     * @return the discriminator value to use, or null when it cannot tell (then the validator
     *         reports the discriminator as missing)
     * @throws QmpException when the arguments name something that does not exist (e.g. no
     *                      such job); the command then fails with that error
     */
    String resolve(ObjectNode arguments) throws QmpException;
}
