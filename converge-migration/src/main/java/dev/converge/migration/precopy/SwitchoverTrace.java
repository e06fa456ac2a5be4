package dev.converge.migration.precopy;

import java.util.Locale;

/**
 * Where the downtime of one switchover went: what the policy expected when it said converged,
 * and when each step of the stopped window ended. It is logged once per migration, so an
 * operator whose downtime exceeded the limit can see which step took the time (sending the
 * rest, the destination applying it, or the final round trip).
 *
 * @param expectedMs     the estimate the switchover was started on
 * @param remainingBytes dirty bytes at that estimate
 * @param bandwidth      the bandwidth of that estimate, bytes/s
 * @param fixedCostMs    the fixed cost in that estimate (lag + round trip)
 * @param overlapBytes   bytes sent while the vCPUs were on their way out of the guest
 * @param finalBytes     bytes sent while stopped (the last dirty pages, device state, COMPLETE)
 * @param stopped        System.nanoTime() when the vCPUs were asked to stop (the downtime starts)
 * @param overlapSent    … when the send of {@code overlapBytes} ended (the vCPUs may still have been on their way out)
 * @param parked         … when every vCPU was out of the guest (after the overlapped send)
 * @param drained        … when the owner's stopped-window work (the mirrors) ended
 * @param synced         … when the last dirty log was collected
 * @param pagesSent      … when the last dirty pages were written
 * @param stateSaved     … when the device state (KVM: every vCPU's and the VM's) was saved and queued
 * @param sent           … when the last byte was written (after the digest of the sent pages, in a verified stream)
 * @param acked          … when the destination acknowledged COMPLETE
 * @param decided        … when the job engine committed (START written next); the gap after
 *                       {@code acked} is the engine's hand-over to its main loop
 * @param resumed        … when the destination said RESUMED (0 when it did not)
 */
public record SwitchoverTrace(long expectedMs, long remainingBytes, double bandwidth, long fixedCostMs, long overlapBytes,
        long finalBytes, long stopped, long overlapSent, long parked, long drained, long synced, long pagesSent, long stateSaved,
        long sent, long acked, long decided, long resumed) {

    /** The same trace with the commit's and the destination's RESUMED times. */
    SwitchoverTrace withDecision(long decidedNanos, long resumedNanos) {
        return new SwitchoverTrace(expectedMs, remainingBytes, bandwidth, fixedCostMs, overlapBytes, finalBytes, stopped, overlapSent,
                parked, drained, synced, pagesSent, stateSaved, sent, acked, decidedNanos, resumedNanos);
    }

    /** Stop to RESUMED in ms, -1 when RESUMED did not come. */
    public double downtimeMs() {
        return resumed == 0 ? -1 : (resumed - stopped) / 1e6;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT,
                "expected %d ms (%d bytes at %.0f MB/s + fixed %d ms); actual %.1f ms: stop %.1f (%d bytes sent meanwhile in %.1f),"
                        + " drain %.1f, send %.1f (%d bytes, %.0f MB/s: dirty log %.1f, pages %.1f, device state %.1f, digest and flush %.1f),"
                        + " ack %.1f, commit %.1f, resume %.1f",
                expectedMs, remainingBytes, bandwidth / 1e6, fixedCostMs, downtimeMs(), ms(stopped, parked), overlapBytes,
                ms(stopped, overlapSent), ms(parked, drained),
                ms(drained, sent), finalBytes, finalBytes / Math.max(1e-9, (sent - drained) / 1e9) / 1e6, ms(drained, synced),
                ms(synced, pagesSent), ms(pagesSent, stateSaved), ms(stateSaved, sent), ms(sent, acked),
                ms(acked, decided), resumed == 0 ? -1 : ms(decided, resumed));
    }

    private static double ms(long from, long to) {
        return (to - from) / 1e6;
    }
}
