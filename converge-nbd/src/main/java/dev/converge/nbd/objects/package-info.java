/**
 * User-creatable objects ({@code object-add}/{@code object-del}): TLS credentials and authorization
 * lists. Kept here for NBD; may move to a common module when migration needs TLS too.
 */
package dev.converge.nbd.objects;
