/**
 * qemu-storage-daemon's command line for converged: QEMU's key=value syntax ({@link
 * dev.converge.daemon.cmdline.Keyval}), its typing by the QMP schema of the command an option
 * stands for ({@link dev.converge.daemon.cmdline.KeyvalTyping}), and the options themselves
 * ({@link dev.converge.daemon.cmdline.QsdOptions}: --blockdev, --object, --nbd-server, --export,
 * --chardev, --monitor) turned into start-up QMP calls and QMP addresses. Pure functions; the
 * daemon runs the calls.
 */
package dev.converge.daemon.cmdline;
