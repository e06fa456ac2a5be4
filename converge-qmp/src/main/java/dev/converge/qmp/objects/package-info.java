/**
 * User-creatable objects as QEMU's {@code object-add}/{@code object-del} make them
 * ({@link dev.converge.qmp.objects.UserObjects}): {@code tls-creds-x509} (a directory of PEM
 * files and an endpoint), {@code authz-simple} and {@code authz-list} (who may connect).
 *
 * <p>Here, in converge-qmp, because every module that speaks TLS resolves these ids: the NBD
 * server ({@code tls-creds}, {@code tls-authz}) and the {@code nbd} driver today, QMP over TLS and
 * migration TLS next; converge-qmp is the one module all of them can reach. The daemon makes one
 * registry, registers its commands and hands it to each user.
 *
 * <p>Must not: open connections or build TLS engines (each protocol does that from the
 * credentials' directory), or know which module uses an object.
 */
package dev.converge.qmp.objects;
