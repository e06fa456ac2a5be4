/** The {@code nbd} block driver: a block node over an {@link dev.converge.nbd.client.NbdClient}. */
package dev.converge.nbd.driver;
