/**
 * Sockets shared by the daemon's servers (QMP, NBD): {@link dev.converge.qmp.net.ListeningSocket} binds a
 * listening socket with the largest backlog, private UNIX socket files and safe replacement of stale ones.
 */
package dev.converge.qmp.net;
