package dev.converge.daemon.web;

import java.util.Set;

/**
 * The QMP commands the web console's controls may run ({@code --http-control}): the job verbs, a
 * job-change (downtime-limit, max-bandwidth), and switching a migration to postcopy. Nothing that
 * adds, removes or reads data: the console steers jobs that management software started.
 */
public final class ConsoleCommands {
    /** Data, not code: a command is allowed exactly when its name is here. */
    static final Set<String> ALLOWED = Set.of(
            "job-pause", "job-resume", "job-cancel", "job-complete", "job-finalize", "job-dismiss", "job-change",
            "migrate-start-postcopy", "migrate-continue");

    private ConsoleCommands() {
    }

    /** Whether the console may run {@code command}. */
    public static boolean allowed(String command) {
        return ALLOWED.contains(command);
    }
}
